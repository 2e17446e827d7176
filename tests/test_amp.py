"""torch.amp in ember: GradScaler runs torch's loss-scaling algorithm (compared step by step with
torch's own GradScaler on the CPU); autocast checks its arguments and casts as torch's CPU lists do
(float16 here; bfloat16, the CPU default, in tests/test_bfloat16.py); the deprecated torch.cuda.amp /
torch.cpu.amp spellings warn as torch does."""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.amp import GradScaler
from tests.conftest import requires_torch, torch

ROOT = Path(__file__).resolve().parents[1]


# ---- GradScaler --------------------------------------------------------------------------------
def _run_scaler(lib, steps, inf_steps, nan_steps, unscale_steps, growth_interval=3, init_scale=1024.0):
    """Train a Linear with SGD under a GradScaler; inject inf/nan into a gradient at given steps.
    Returns per-step (scale, growth tracker, step skipped?, weights)."""
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    b0 = rng.standard_normal(3).astype(np.float32)
    xs = rng.standard_normal((steps, 5, 4)).astype(np.float32)
    lin = lib.nn.Linear(4, 3)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(w0))
        lin.bias.copy_(lib.tensor(b0))
    opt = lib.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    scaler = lib.amp.GradScaler("cpu", init_scale=init_scale, growth_factor=2.0, backoff_factor=0.5,
                                growth_interval=growth_interval)
    trace = []
    for i in range(steps):
        opt.zero_grad()
        loss = lin(lib.tensor(xs[i])).pow(2).mean()
        scaler.scale(loss).backward()
        if i in inf_steps:
            with lib.no_grad():
                lin.weight.grad[0, 1] = float("inf")
        if i in nan_steps:
            with lib.no_grad():
                lin.bias.grad[2] = float("nan")
        if i in unscale_steps:
            scaler.unscale_(opt)
            lib.nn.utils.clip_grad_norm_(lin.parameters(), 1.0)
        before = lin.weight.detach().clone().numpy()
        scaler.step(opt)
        skipped = np.array_equal(before, lin.weight.detach().numpy())
        scaler.update()
        sd = scaler.state_dict()
        trace.append((scaler.get_scale(), sd["_growth_tracker"], skipped, lin.weight.detach().numpy().copy(),
                      lin.bias.detach().numpy().copy()))
    return trace


@requires_torch
def test_grad_scaler_matches_torch_with_inf_and_nan_injected():
    kw = dict(steps=12, inf_steps={2, 7}, nan_steps={3}, unscale_steps={1, 5, 8})
    ours, theirs = _run_scaler(ember, **kw), _run_scaler(torch, **kw)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a[0] == b[0] and a[1] == b[1] and a[2] == b[2], (i, a[:3], b[:3])
        np.testing.assert_allclose(a[3], b[3], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a[4], b[4], rtol=1e-5, atol=1e-6)
    scales = [t[0] for t in ours]
    # 2 clean steps, inf halves, nan halves, 3 clean steps grow x2, ...
    assert scales[:6] == [1024.0, 1024.0, 512.0, 256.0, 256.0, 256.0] and scales[6] == 512.0
    assert [t[2] for t in ours][:4] == [False, False, True, True]


@requires_torch
def test_grad_scaler_unscales_sparse_embedding_gradients_as_torch():
    # nn.Embedding(sparse=True): the scaler unscales the sparse gradient's values and finds an inf among them
    got = []
    for M in (torch, ember):
        w = M.nn.Parameter(M.tensor(np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)))
        opt = M.optim.SGD([w], lr=0.1, momentum=0.9)
        scaler = M.amp.GradScaler("cpu", init_scale=256.0, growth_interval=1)
        trace = []
        for step, ids in enumerate(([1, 2, 1], [0, 4], [3, 3])):
            opt.zero_grad()
            out = M.nn.functional.embedding(M.tensor(ids), w, sparse=True)
            g = np.ones((len(ids), 3), np.float32)
            g[0, 0] = np.inf if step == 1 else 1.0
            scaler.scale((out * M.tensor(g)).sum()).backward()
            scaler.step(opt)
            scaler.update()
            trace.append((scaler.get_scale(), w.grad.is_sparse, w.grad._indices().tolist(),
                          w.grad._values().numpy().copy(), w.detach().numpy().copy()))
        got.append(trace)
    for e, t in zip(got[1], got[0]):
        assert e[:3] == t[:3]
        np.testing.assert_allclose(e[3], t[3], rtol=1e-6)
        np.testing.assert_allclose(e[4], t[4], rtol=1e-6, atol=1e-7)


def test_grad_scaler_skips_the_step_and_backs_off_without_torch():
    p = ember.nn.Parameter(ember.ones(2))
    opt = ember.optim.SGD([p], lr=1.0)
    s = GradScaler("cpu", init_scale=8.0, growth_interval=2)
    (s.scale(p.sum())).backward()
    assert p.grad.tolist() == [8.0, 8.0]
    s.unscale_(opt)
    assert p.grad.tolist() == [1.0, 1.0]
    s.step(opt)
    s.update()
    assert p.tolist() == [0.0, 0.0] and s.get_scale() == 8.0 and s.state_dict()["_growth_tracker"] == 1
    opt.zero_grad()
    with np.errstate(invalid="ignore"):
        (s.scale(p.sum()) * float("inf")).backward()
    assert s.step(opt) is None
    s.update()
    assert p.tolist() == [0.0, 0.0] and s.get_scale() == 4.0 and s.state_dict()["_growth_tracker"] == 0
    s.update(new_scale=100.0)
    assert s.get_scale() == 100.0 and s.state_dict()["_growth_tracker"] == 0


def test_grad_scaler_validation_and_state_dict_match_torch_messages():
    with pytest.raises(AssertionError, match="The growth factor must be > 1.0."):
        GradScaler("cpu", growth_factor=1.0)
    with pytest.raises(AssertionError, match="The backoff factor must be < 1.0."):
        GradScaler("cpu", backoff_factor=1.0)
    s = GradScaler("cpu")
    assert s.is_enabled() and s.get_scale() == 65536.0
    assert s.state_dict() == {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5,
                              "growth_interval": 2000, "_growth_tracker": 0}
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
        s.scale(3)
    out = s.scale([ember.ones(1), (ember.ones(2),)])
    assert isinstance(out, list) and isinstance(out[1], tuple) and out[1][0].tolist() == [65536.0, 65536.0]
    with pytest.raises(AssertionError, match="Attempted update but _scale is None"):
        GradScaler("cpu").update()
    with pytest.raises(RuntimeError, match="The source state dict is empty"):
        GradScaler("cpu").load_state_dict({})
    t = GradScaler("cpu")
    t.load_state_dict({"scale": 4.0, "growth_factor": 3.0, "backoff_factor": 0.25, "growth_interval": 7,
                       "_growth_tracker": 2})
    assert t.get_scale() == 4.0 and t.state_dict()["_growth_tracker"] == 2 and t.get_growth_interval() == 7
    p = ember.nn.Parameter(ember.ones(1))
    opt = ember.optim.SGD([p], lr=0.1)
    t.scale(p.sum()).backward()
    t.unscale_(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        t.unscale_(opt)
    t.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called since the last update"):
        t.step(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step"):
        t.unscale_(opt)
    t.update(new_scale=100.0)
    assert t.get_scale() == 100.0


def test_grad_scaler_step_rejects_closure_and_fp16_grads():
    p = ember.nn.Parameter(ember.ones(1))
    opt = ember.optim.SGD([p], lr=0.1)
    s = GradScaler("cpu")
    s.scale(p.sum()).backward()
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        s.step(opt, closure=lambda: 0)
    h = ember.nn.Parameter(ember.ones(1, dtype=ember.float16))
    h.grad = ember.ones(1, dtype=ember.float16)
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients."):
        s.unscale_(ember.optim.SGD([h], lr=0.1))


def test_cuda_grad_scaler_without_cuda_warns_and_is_disabled():
    if ember.cuda.is_available():
        pytest.skip("a GPU is usable here")
    with pytest.warns(UserWarning, match="torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                                         "Disabling."):
        s = GradScaler()
    assert not s.is_enabled() and s.get_scale() == 1.0 and s.state_dict() == {}
    p = ember.nn.Parameter(ember.ones(2))
    opt = ember.optim.SGD([p], lr=1.0)
    loss = p.sum()
    assert s.scale(loss) is loss
    loss.backward()
    s.unscale_(opt)
    s.step(opt)
    s.update()
    assert p.tolist() == [0.0, 0.0]


def test_deprecated_spellings_warn_as_torch():
    with pytest.warns(FutureWarning, match=r"`torch.cuda.amp.GradScaler\(args...\)` is deprecated. Please use "
                                           r"`torch.amp.GradScaler\('cuda', args...\)` instead."):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ember.cuda.amp.GradScaler()
    with pytest.warns(FutureWarning, match=r"`torch.cpu.amp.autocast\(args...\)` is deprecated. Please use "
                                           r"`torch.amp.autocast\('cpu', args...\)` instead."):
        ember.cpu.amp.autocast()
    with pytest.warns(FutureWarning, match=r"`torch.cuda.amp.autocast\(args...\)` is deprecated"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ember.cuda.amp.autocast()
    with pytest.warns(FutureWarning, match=r"`torch.cpu.amp.GradScaler\(args...\)` is deprecated"):
        assert ember.cpu.amp.GradScaler().is_enabled()


# ---- autocast ----------------------------------------------------------------------------------
def test_autocast_validates_like_torch():
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`, got: `<class 'int'>`"):
        ember.autocast(1)
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda, .* device type at start of device "
                                           "string: tpu"):
        ember.autocast("tpu")
    with pytest.raises(RuntimeError, match="User specified an unsupported autocast device_type 'mps'"):
        ember.autocast("mps")
    with pytest.warns(UserWarning, match="In CPU autocast, but the target dtype is not supported. Disabling "
                                         "autocast.\nCPU Autocast only supports dtypes of torch.bfloat16, "
                                         "torch.float16 currently."):
        a = ember.autocast("cpu", dtype=ember.float32)
    assert a._enabled is False
    with pytest.raises(TypeError, match="autocast\\(\\)\\(func\\) requires a callable, but got int"):
        ember.autocast("cpu")(3)
    with pytest.raises(TypeError, match="argument 'device_type' \\(position 1\\) must be str, not int"):
        ember.get_autocast_dtype(3)
    if not ember.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available or torch_xla is imported. Disabling autocast."):
            c = ember.autocast("cuda")
        assert c._enabled is False


@requires_torch
def test_autocast_state_matches_torch():
    for lib in (ember, torch):
        assert lib.is_autocast_enabled() is False and lib.is_autocast_enabled("cpu") is False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autocast("cpu", dtype=lib.float16):
                assert lib.is_autocast_enabled("cpu") and not lib.is_autocast_enabled()
                assert lib.get_autocast_dtype("cpu") == lib.float16
                with lib.autocast("cpu", enabled=False):
                    assert not lib.is_autocast_enabled("cpu")
                assert lib.is_autocast_enabled("cpu")
            assert not lib.is_autocast_enabled("cpu")
            assert lib.get_autocast_dtype("cuda") == lib.float16
            assert lib.amp.is_autocast_available("cpu") and lib.amp.is_autocast_available("cuda")


def test_autocast_casts_torchs_listed_ops_and_nothing_after():
    # (bfloat16, the CPU default, against torch: tests/test_bfloat16.py)
    from ember import ops
    lin = ember.nn.Linear(4, 3)
    x = ember.randn(5, 4)
    with ember.autocast("cpu", dtype=ember.float16):
        inside = lin(x)
        loss = ember.nn.functional.mse_loss(inside, ember.zeros(5, 3))   # a float32-list op
        kept = ember.nn.functional.linear(x.double(), lin.weight.double())   # float64 is not cast
        assert ember.is_autocast_enabled("cpu") and ops.AUTOCAST[0] is not None
    assert ops.AUTOCAST[0] is None   # (outside autocast the ops pay one list lookup)
    assert inside.dtype == ember.float16 and loss.dtype == ember.float32 and kept.dtype == ember.float64
    assert ember.equal(inside, ember.nn.functional.linear(x.half(), lin.weight.half(), lin.bias.half()))
    loss.backward()
    assert lin.weight.grad.dtype == ember.float32   # the casts are recorded: gradients reach the weights
    assert lin(x).dtype == ember.float32

    @ember.autocast(device_type="cpu")
    def f(a):
        """doc"""
        return ember.is_autocast_enabled("cpu"), a * 2
    on, y = f(ember.ones(1))
    assert on and y.tolist() == [2.0] and f.__doc__ == "doc" and not ember.is_autocast_enabled("cpu")


def test_autocast_restores_state_after_an_exception():
    with pytest.raises(KeyError):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with ember.autocast("cpu"):
                raise KeyError("x")
    assert not ember.is_autocast_enabled("cpu")


# ---- the lines of a modern training script, under `python -m ember run` ------------------------
def test_modern_training_script_runs_under_ember_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import warnings\n"
        "import torch, torch.nn as nn, torch.amp, torch.utils.checkpoint, torch.special, torch.jit\n"
        "import torch.cpu.amp, torch.amp.grad_scaler, torch.amp.autocast_mode\n"
        "from torch.cuda.amp import GradScaler\n"
        "from torch.amp import autocast\n"
        "from torch.utils.checkpoint import checkpoint, checkpoint_sequential\n"
        "torch.manual_seed(0)\n"
        "net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))\n"
        "model = torch.compile(net, mode='max-autotune')\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "scaler = torch.amp.GradScaler('cpu')\n"
        "x, y = torch.randn(16, 4), torch.randn(16, 1)\n"
        "for step in range(3):\n"
        "    opt.zero_grad()\n"
        "    with torch.autocast(device_type='cpu', dtype=torch.float16):\n"
        "        h = checkpoint(net[0], x, use_reentrant=False)\n"
        "        out = net[2](net[1](h))\n"
        "        loss = nn.functional.mse_loss(out, y)\n"
        "    scaler.scale(loss).backward()\n"
        "    scaler.unscale_(opt)\n"
        "    nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
        "    scaler.step(opt)\n"
        "    scaler.update()\n"
        "print('scale', scaler.get_scale(), out.dtype)\n"
        "print('special', torch.special.expit(torch.tensor([0.0])).item(), "
        "round(torch.special.ndtri(torch.tensor([0.975])).item(), 4))\n"
        "seq = checkpoint_sequential(net, 2, x, use_reentrant=False)\n"
        "print('seq', seq.shape)\n"
        "scripted = torch.jit.script(net)\n"
        "print('jit', type(scripted).__name__, torch.equal(scripted(x), model(x)))\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    GradScaler()\n"
        "print('cuda scaler', sorted({c.category.__name__ for c in w}))\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "ember", "run", str(script)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "scale 65536.0 torch.float16"   # (torch's: the autocast region casts the Linear)
    assert lines[1] == "special 0.5 1.96"
    assert lines[2] == "seq torch.Size([16, 1])"
    assert lines[3] == "jit RecursiveScriptModule True"
    expected = "['FutureWarning']" if ember.cuda.is_available() else "['FutureWarning', 'UserWarning']"
    assert lines[4] == "cuda scaler " + expected
