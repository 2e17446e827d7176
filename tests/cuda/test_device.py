"""Device bookkeeping on the fake 'cuda' device (NumPy underneath): transfers, mixed-device errors,
Module.to, optimizer state, checkpoints with map_location, printing, creation and random ops, and
the ember.cuda API.  Plus what happens without CuPy, or with CuPy and no usable GPU."""
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember import _threads
from ember import cuda as ecuda
from tests.conftest import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAME_DEVICE = "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"


def host(t):
    return t.detach().cpu().numpy()


# ---- transfers -------------------------------------------------------------------------------
def test_to_cuda_and_back(fake_cuda):
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    y = x.to("cuda")
    assert y.device == ember.device("cuda:0") and y.is_cuda and not y.is_cpu and y.get_device() == 0
    assert str(y.device) == "cuda:0" and y.device.index == 0
    assert x.device == ember.device("cpu")
    assert y.cuda() is y and y.to("cuda") is y and y.to("cuda:0") is y
    for z in (x.cuda(), x.cuda(0), x.to(ember.device("cuda")), x.to("cuda", ember.float64, non_blocking=True),
              x.to(device="cuda:0", dtype=ember.float16), x.to(y)):
        assert z.device == ember.device("cuda:0")
        np.testing.assert_array_equal(host(z), x.numpy())
    assert x.to("cuda", ember.float64).dtype is ember.float64
    back = y.cpu()
    assert back.device.type == "cpu" and type(back._data) is np.ndarray
    np.testing.assert_array_equal(back.numpy(), x.numpy())
    assert y.to("cpu", ember.double).dtype is ember.float64
    assert x.to(y.double()).dtype is ember.float64


def test_transfer_is_differentiable(fake_cuda):
    x = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.to("cuda")
    assert y.grad_fn.name() == "ToCopyBackward0"
    (y * y).sum().backward()
    assert x.grad.device.type == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 6.0])
    w = ember.tensor([1.0, 2.0]).cuda().requires_grad_()
    (w.cpu() * 3).sum().backward()
    assert w.grad.device == ember.device("cuda:0")
    np.testing.assert_allclose(host(w.grad), [3.0, 3.0])


def test_transfer_differentiates_twice(fake_cuda):
    # create_graph=True: the gradient moves back to the input's device, recorded, to any order
    x = ember.tensor([1.0, -2.0, 3.0], dtype=ember.float64, requires_grad=True)
    y = x.to("cuda").float()
    g, = ember.autograd.grad((y ** 3).sum(), x, create_graph=True)
    assert g.device.type == "cpu" and g.dtype is ember.float64 and g.requires_grad
    h, = ember.autograd.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.detach().numpy(), [6.0, -12.0, 18.0])
    np.testing.assert_allclose(ember.autograd.grad(h.sum(), x)[0].numpy(), [6.0, 6.0, 6.0])


def test_numpy_of_a_cuda_tensor_raises_torch_error(fake_cuda):
    y = ember.ones(2, device="cuda")
    with pytest.raises(TypeError, match=r"can't convert cuda:0 device type tensor to numpy\. Use Tensor\.cpu\(\)"):
        y.numpy()
    assert y.tolist() == [1.0, 1.0] and y.sum().item() == 2.0 and float(y[0]) == 1.0


def test_other_gpus_and_the_current_device(fake_cuda):
    assert ecuda.device_count() == 2 and ecuda.current_device() == 0
    x = ember.arange(3.0)
    y = x.to("cuda:1")
    assert y.device == ember.device("cuda:1")
    z = y.to("cuda:0")
    assert z.device == ember.device("cuda:0") and host(z).tolist() == [0.0, 1.0, 2.0]
    with ecuda.device(1):
        assert ecuda.current_device() == 1
        assert ember.zeros(2, device="cuda").device == ember.device("cuda:1")
        assert x.cuda().device == ember.device("cuda:1")
    assert ecuda.current_device() == 0
    ecuda.set_device(1)
    assert ember.ones(1, device="cuda").device == ember.device("cuda:1")
    ecuda.set_device("cuda:0")
    with pytest.raises(RuntimeError, match="CUDA error: invalid device ordinal"):
        x.to("cuda:2")
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        ecuda.set_device(5)


# ---- mixed devices -----------------------------------------------------------------------------
@pytest.mark.parametrize("op,fn", [
    ("add", lambda g, c: g + c),
    ("mul", lambda g, c: c * g),
    ("sub", lambda g, c: ember.sub(g, c)),
    ("eq", lambda g, c: g == c),
    ("maximum", lambda g, c: ember.maximum(g, c)),
    ("cat", lambda g, c: ember.cat([g, c])),
    ("stack", lambda g, c: ember.stack([c, g])),
    ("where", lambda g, c: ember.where(c > 0, g, g)),
    ("masked_fill", lambda g, c: g.masked_fill(c > 0, 1.0)),
    ("mse_loss", lambda g, c: F.mse_loss(g, c)),
    ("add_", lambda g, c: g.add_(c)),
])
def test_mixed_devices_raise_torch_error_naming_the_op(fake_cuda, op, fn):
    g = ember.ones(3, device="cuda")
    c = ember.ones(3)
    with pytest.raises(RuntimeError) as e:
        fn(g, c)
    assert SAME_DEVICE in str(e.value) and op in str(e.value)


def test_layer_on_cuda_fed_a_cpu_batch_names_the_problem(fake_cuda):
    bn = nn.BatchNorm1d(3).cuda()
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        bn(ember.randn(4, 3))
    emb = nn.Embedding(5, 2).cuda()
    with pytest.raises(RuntimeError, match="embedding"):
        emb(ember.tensor([1, 2]))


def test_zero_dim_cpu_tensors_act_as_scalars(fake_cuda):
    # torch lets a 0-d CPU tensor join a GPU op (it is treated like a Python number)
    g = ember.tensor([1.0, 2.0], device="cuda")
    s = ember.tensor(3.0)
    for out in (g * s, s * g, g + s, ember.maximum(g, s), g.masked_fill(g > 1, s)):
        assert out.device == ember.device("cuda:0")
    np.testing.assert_allclose(host(g * s), [3.0, 6.0])
    # and CPU index tensors may index a GPU tensor
    np.testing.assert_allclose(host(g[ember.tensor([1, 0])]), [2.0, 1.0])
    np.testing.assert_allclose(host(g[ember.tensor([True, False])]), [1.0])
    np.testing.assert_allclose(host(g.index_select(0, ember.tensor([1]))), [2.0])


def test_copy_crosses_devices(fake_cuda):
    g = ember.zeros(3, device="cuda")
    g.copy_(ember.tensor([1.0, 2.0, 3.0]))
    assert g.device.type == "cuda" and host(g).tolist() == [1.0, 2.0, 3.0]
    c = ember.zeros(3)
    c.copy_(g * 2)
    assert c.tolist() == [2.0, 4.0, 6.0]
    g[1] = 7.0
    g[ember.tensor([0])] = ember.tensor([5.0])
    g[2:] = [9.0]
    assert host(g).tolist() == [5.0, 7.0, 9.0]


# ---- printing -----------------------------------------------------------------------------------
def test_printing_shows_the_device(fake_cuda):
    x = ember.tensor([1.0, 2.0]).cuda()
    assert repr(x) == "tensor([1., 2.], device='cuda:0')"
    assert repr(x.to("cuda:1")) == "tensor([1., 2.], device='cuda:1')"
    assert repr(ember.tensor([1, 2], device="cuda")) == "tensor([1, 2], device='cuda:0')"
    assert repr(x.double()) == "tensor([1., 2.], device='cuda:0', dtype=ember.float64)"
    w = x.clone().requires_grad_()
    assert repr(w) == "tensor([1., 2.], device='cuda:0', requires_grad=True)"
    assert repr(w * 2) == "tensor([2., 4.], device='cuda:0', grad_fn=<MulBackward0>)"
    assert repr(ember.zeros(0, device="cuda")) == "tensor([], device='cuda:0')"
    assert x.type() == "ember.cuda.FloatTensor"
    assert repr(ember.ones(1000, device="cuda")).endswith("1., 1., 1.], device='cuda:0')")


# ---- modules and optimizers ----------------------------------------------------------------------
class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        return self.fc(x.flatten(1))


def test_module_to_moves_parameters_and_buffers(fake_cuda):
    ember.manual_seed(0)
    net = _Net()
    params = list(net.parameters())
    out = net.to("cuda")
    assert out is net and list(net.parameters()) == params  # same Parameter objects, as torch
    for name, t in list(net.named_parameters()) + list(net.named_buffers()):
        assert t.device == ember.device("cuda:0"), name
    x = ember.randn(2, 1, 6, 6)
    with pytest.raises(RuntimeError, match="same device|should be the same"):  # conv2d: torch's conv message
        net(x)
    y = net(x.cuda())
    assert y.device.type == "cuda"
    y.sum().backward()
    assert all(p.grad.device.type == "cuda" for p in net.parameters())
    assert net.bn.num_batches_tracked.device.type == "cuda"
    sd = net.state_dict()
    assert all(v.device.type == "cuda" for v in sd.values())
    net.cpu()
    assert all(p.device.type == "cpu" for p in net.parameters()) and all(p.grad.device.type == "cpu"
                                                                        for p in net.parameters())
    net.cuda()
    net.load_state_dict({k: v.cpu() for k, v in sd.items()})  # values copied into the cuda params
    assert all(p.device.type == "cuda" for p in net.parameters())


@pytest.mark.parametrize("make", [
    lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: ember.optim.Adam(ps, lr=0.01, amsgrad=True),
    lambda ps: ember.optim.AdamW(ps, lr=0.01),
    lambda ps: ember.optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: ember.optim.Adagrad(ps, lr=0.1),
])
def test_optimizer_state_lives_with_its_parameters(fake_cuda, make, monkeypatch):
    # both models must round alike: the conv bias before batch norm has a gradient of rounding noise
    # (~1e-8), which Adam, RMSprop and Adagrad scale up to a full step, and on OpenBLAS's AVX-512
    # kernels the host's convolution arranges its products for them (other sums, other noise)
    monkeypatch.setattr(_threads, "_small_gemm", False)
    ember.manual_seed(1)
    ref = _Net()
    gpu = _Net()
    gpu.load_state_dict(ref.state_dict())
    gpu.cuda()
    x = ember.randn(4, 1, 6, 6)
    opts = make(ref.parameters()), make(gpu.parameters())
    for _ in range(3):
        for net, opt, inp in ((ref, opts[0], x), (gpu, opts[1], x.cuda())):
            opt.zero_grad()
            net(inp).pow(2).mean().backward()
            opt.step()
    for p, q in zip(ref.parameters(), gpu.parameters()):
        assert q.device.type == "cuda"
        np.testing.assert_allclose(host(q), host(p), rtol=1e-5, atol=1e-6)
    for st in opts[1].state.values():
        for k, v in st.items():
            if isinstance(v, ember.Tensor) and k != "step":
                assert v.device.type == "cuda", k
    # a CPU checkpoint of the optimizer loads into the GPU model's optimizer on the GPU
    fresh = make(gpu.parameters())
    fresh.load_state_dict(opts[0].state_dict())
    for st in fresh.state.values():
        for k, v in st.items():
            if isinstance(v, ember.Tensor) and k != "step":
                assert v.device.type == "cuda", k


# ---- checkpoints --------------------------------------------------------------------------------------
def test_save_records_the_device_and_load_honours_map_location(fake_cuda, tmp_path):
    import zipfile
    path = tmp_path / "t.pt"
    x = ember.tensor([1.0, 2.0, 3.0])
    ember.save({"g": x.cuda(), "g1": x.to("cuda:1"), "c": x}, path)
    pkl = zipfile.ZipFile(path).read("t/data.pkl")
    assert b"cuda:0" in pkl and b"cuda:1" in pkl
    out = ember.load(path)
    assert out["g"].device == ember.device("cuda:0") and out["g1"].device == ember.device("cuda:1")
    assert out["c"].device.type == "cpu"
    assert host(out["g"]).tolist() == [1.0, 2.0, 3.0]
    for ml in ("cpu", ember.device("cpu"), {"cuda:0": "cpu", "cuda:1": "cpu"}, lambda s, loc: s.cpu()):
        out = ember.load(path, map_location=ml)
        assert all(v.device.type == "cpu" for v in out.values())
    out = ember.load(path, map_location="cuda:1")
    assert all(v.device == ember.device("cuda:1") for v in out.values())
    out = ember.load(path, map_location={"cuda:1": "cuda:0"})
    assert out["g1"].device == ember.device("cuda:0") and out["c"].device.type == "cpu"
    out = ember.load(path, map_location=lambda s, loc: s.cuda(1))
    assert out["c"].device == ember.device("cuda:1")


def test_model_checkpoint_round_trip_through_the_gpu(fake_cuda, tmp_path):
    ember.manual_seed(2)
    net = _Net().cuda()
    ember.save(net.state_dict(), tmp_path / "net.pt")
    cpu_net = _Net()
    cpu_net.load_state_dict(ember.load(tmp_path / "net.pt", map_location="cpu"))
    x = ember.randn(2, 1, 6, 6)
    net.eval()
    cpu_net.eval()
    np.testing.assert_allclose(host(net(x.cuda())), host(cpu_net(x)), rtol=1e-5, atol=1e-6)


# ---- creation and random ops ---------------------------------------------------------------------------
def test_creation_ops_make_tensors_on_the_device(fake_cuda):
    x = ember.tensor([[1.0, 2.0]], device="cuda")
    made = [ember.zeros(2, 3, device="cuda"), ember.ones((2,), device="cuda", dtype=ember.int64),
            ember.full((2,), 7, device="cuda"), ember.empty(3, device="cuda"), ember.eye(3, device="cuda"),
            ember.arange(5, device="cuda"), ember.arange(0.0, 1.0, 0.25, device="cuda"),
            ember.linspace(0, 1, 5, device="cuda"), ember.logspace(0, 2, 3, device="cuda"),
            ember.tensor([1, 2], device="cuda"), ember.as_tensor(np.ones(2), device="cuda"),
            ember.scalar_tensor(3.0, device="cuda"), ember.tril_indices(3, 3, device="cuda"),
            ember.triu_indices(3, 3, 1, device="cuda"), ember.zeros_like(x), ember.ones_like(x),
            ember.full_like(x, 2.0), ember.empty_like(x), ember.rand_like(x), ember.randn_like(x),
            ember.randint_like(x, 5), x.new_zeros(2), x.new_ones(2), x.new_full((2,), 1.5), x.new_tensor([1.0]),
            ember.rand(2, device="cuda"), ember.randn(2, device="cuda"), ember.randint(0, 5, (3,), device="cuda"),
            ember.randperm(6, device="cuda"), ember.normal(x, 1.0), ember.bernoulli(ember.rand_like(x)),
            ember.multinomial(ember.tensor([0.2, 0.8], device="cuda"), 3, True),
            ember.tensor(x), ember.zeros(2, device=0)]
    for i, t in enumerate(made):
        assert t.device == ember.device("cuda:0"), i
    cpu = [ember.zeros(2, 3), ember.ones((2,), dtype=ember.int64), ember.full((2,), 7), None, ember.eye(3),
           ember.arange(5), ember.arange(0.0, 1.0, 0.25), ember.linspace(0, 1, 5), ember.logspace(0, 2, 3)]
    for c, g in zip(cpu, made):
        if c is not None:
            assert c.dtype == g.dtype
            np.testing.assert_allclose(host(g), c.numpy(), rtol=1e-6)
    assert sorted(host(made[28]).tolist()) == list(range(6))
    assert ember.tensor(x, device="cpu").device.type == "cpu"
    assert ember.zeros(2, device="cuda", requires_grad=True).requires_grad


def test_random_ops_on_the_device_are_seeded(fake_cuda):
    def draw():
        x = ember.empty(4, device="cuda")
        return [host(ember.rand(3, device="cuda")), host(ember.randn(3, device="cuda")),
                host(ember.randint(0, 10, (3,), device="cuda")), host(ember.randperm(5, device="cuda")),
                host(x.uniform_(-1, 1)), host(x.normal_(2, 3)), host(x.bernoulli_(0.5)), host(x.exponential_()),
                host(x.random_(0, 4)), host(F.dropout(ember.ones(8, device="cuda"), 0.5)),
                host(ember.multinomial(ember.tensor([[0.1, 0.9, 0.0], [1.0, 1.0, 1.0]], device="cuda"), 2))]
    ember.manual_seed(5)
    a = draw()
    ember.manual_seed(5)
    b = draw()
    ember.cuda.manual_seed(6)
    c = draw()
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert any(not np.array_equal(u, v) for u, v in zip(a, c))
    assert set(np.unique(a[9])) <= {0.0, 2.0}
    assert (a[10][0] != 2).all() and a[10][1][0] != a[10][1][1]  # without replacement, p=0 never drawn
    g = ember.Generator(device="cuda")
    g.manual_seed(3)
    r1 = host(ember.rand(4, device="cuda", generator=g))
    g.manual_seed(3)
    assert np.array_equal(r1, host(ember.rand(4, device="cuda", generator=g)))
    assert g.device == ember.device("cuda:0") and g.initial_seed() == 3
    with pytest.raises(RuntimeError, match="Expected a 'cuda' device type for generator but found 'cpu'"):
        ember.rand(2, device="cuda", generator=ember.Generator())
    with pytest.raises(RuntimeError, match="manual_seed"):
        g.get_state()


def test_dropout_masks_are_drawn_on_the_device(fake_cuda):
    x = ember.ones(2, 4, 3, 3, device="cuda", requires_grad=True)
    for y in (F.dropout(x, 0.5), F.dropout2d(x, 0.5), F.alpha_dropout(x, 0.5, True), F.rrelu(x - 2, training=True),
              F.dropout(x, 1.0), nn.Dropout(0.3)(x)):
        assert y.device.type == "cuda"
        y.sum().backward()
        assert x.grad.device.type == "cuda"


# ---- the ember.cuda API ----------------------------------------------------------------------------------
def test_cuda_api(fake_cuda):
    assert ecuda.is_available() and ecuda.device_count() == 2
    assert ecuda.get_device_name() == "Fake CUDA device (NumPy)" == ecuda.get_device_name(0)
    assert ecuda.get_device_capability() == (9, 0)
    ecuda.synchronize()
    ecuda.synchronize("cuda:1")
    before = ecuda.memory_allocated()
    t = ember.zeros(1000, device="cuda")
    assert ecuda.memory_allocated() >= before + 4000
    assert ecuda.max_memory_allocated() >= ecuda.memory_allocated()
    assert ecuda.memory_reserved() >= ecuda.memory_allocated()
    del t
    ecuda.empty_cache()
    ecuda.reset_peak_memory_stats()
    assert ecuda.max_memory_allocated() == ecuda.memory_allocated()
    ecuda.manual_seed_all(11)
    assert ecuda.initial_seed() == 11
    ecuda.manual_seed(12)
    assert ecuda.initial_seed() == 12
    with ecuda.device_of(ember.ones(1, device="cuda:1")):
        assert ecuda.current_device() == 1
    with ecuda.device(None):
        assert ecuda.current_device() == 0
    assert ecuda.is_initialized()


def test_spec_gpu_snippet_on_the_fake_device(fake_cuda):
    # the spec's section 1.1 GPU block, with torch -> ember
    x = ember.tensor([1.0, 2.0])
    if ember.cuda.is_available():
        device = ember.device("cuda")
        y = ember.ones_like(x, device=device)
        x = x.to(device)
        z = x + y
        assert repr(z) == "tensor([2., 3.], device='cuda:0')"
        assert repr(z.to("cpu", ember.double)) == "tensor([2., 3.], dtype=ember.float64)"
    device = ember.device("cuda:0" if ember.cuda.is_available() else "cpu")
    assert str(device) == "cuda:0"


# ---- without CuPy, and with CuPy but no GPU ---------------------------------------------------------------
def _python(code):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


_BLOCK_CUPY = (
    "import sys, importlib.abc\n"
    "class Block(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path, target=None):\n"
    "        if name == 'cupy' or name.startswith('cupy.') or name.startswith('cupyx'):\n"
    "            raise ImportError('no cupy here')\n"
    "sys.meta_path.insert(0, Block())\n")


def test_without_cupy_is_available_is_false_and_to_cuda_raises_torch_error():
    out = _python(_BLOCK_CUPY + (
        "import ember\n"
        "assert ember.cuda.is_available() is False and ember.cuda.device_count() == 0\n"
        "ember.cuda.manual_seed(1); ember.manual_seed(1)\n"
        "try:\n"
        "    ember.ones(2).to('cuda')\n"
        "except AssertionError as e:\n"
        "    print(e)\n"))
    assert "Torch not compiled with CUDA enabled" in out and "pip install 'ember[gpu]'" in out


def test_import_and_is_available_do_not_import_cupy():
    out = _python("import sys, ember\nassert 'cupy' not in sys.modules\nember.cuda.is_available()\n"
                  "ember.manual_seed(0); ember.randn(2)\nprint('cupy' in sys.modules, ember.cuda.is_available())")
    imported, available = out.split()
    if available == "False":  # with a GPU, is_available may load cupy to ask it
        assert imported == "False"


def test_cupy_without_a_usable_gpu_raises_runtime_error_quoting_cuda(monkeypatch):
    class CUDARuntimeError(RuntimeError):
        pass

    def no_gpu():
        raise CUDARuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")
    stub = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_gpu)))
    monkeypatch.setattr(ecuda, "_cupy_module", stub)
    monkeypatch.setattr(ecuda, "_probe", None)
    monkeypatch.setattr(ecuda, "_usable", None)
    assert ecuda.is_available() is False
    with pytest.raises(RuntimeError, match="CUDA error: cudaErrorNoDevice: no CUDA-capable device is detected"):
        ember.ones(2).cuda()
    with pytest.raises(RuntimeError, match="cudaErrorNoDevice"):
        nn.Linear(2, 2).to("cuda")
    with pytest.raises(RuntimeError, match="cudaErrorNoDevice"):
        ember.zeros(2, device="cuda")


def test_meta_device_makes_meta_tensors_not_cuda_ones():
    # 'meta' used to blame a missing CUDA; its tensors are tests/test_meta.py's
    for make in (lambda: ember.zeros(2, device="meta"), lambda: ember.ones(2).to("meta"),
                 lambda: ember.nn.Linear(2, 2).to(ember.device("meta")).weight):
        assert make().device == ember.device("meta")
    assert str(ember.device("meta")) == "meta"


@pytest.mark.parametrize("kind", ["mps", "xpu", "hip", "xla"])
def test_other_torch_device_types_name_devices_but_hold_no_tensors(kind):
    # torch.device('mps') is valid on any build (a script may build it before checking availability);
    # making a tensor there is refused with the reason, as torch refuses what it was not built for
    dev = ember.device(kind, 0)
    assert (dev.type, dev.index, str(dev), repr(dev)) == (kind, 0, f"{kind}:0", f"device(type='{kind}', index=0)")
    assert ember.device(f"{kind}:1") == ember.device(kind, 1)
    # torch (a CPU build): a tensor made there directly (a factory, or a copy to an indexed device) fails at
    # dispatch, a copy to the bare device type asks for its runtime first; XPU's lazy init asserts
    copy_error = AssertionError if kind == "xpu" else RuntimeError
    made_error = AssertionError if kind == "xpu" else NotImplementedError
    for make, error in ((lambda T: T.zeros(2, device=kind), made_error),
                        (lambda T: T.arange(3, device=kind), made_error),
                        (lambda T: T.zeros_like(T.ones(2), device=kind), made_error),
                        (lambda T: T.ones(2).to(f"{kind}:0"), made_error), (lambda T: T.ones(2).to(kind), copy_error),
                        (lambda T: T.nn.Linear(2, 2).to(T.device(kind)), copy_error),
                        (lambda T: T.tensor([1.0], device=kind), copy_error)):
        with pytest.raises(error, match=f"not linked with support for {kind} devices"):
            make(ember)
        if torch is not None:
            with pytest.raises(error):
                make(torch)


@pytest.mark.parametrize("text, message", [
    ("cuda:x", "Invalid device string: 'cuda:x'"), ("cuda:", "Invalid device string: 'cuda:'"),
    ("cuda:1:2", "Invalid device string: 'cuda:1:2'"),
    ("tpu", "Expected one of cpu, cuda, ipu, xpu, .*privateuseone device type at start of device string: tpu"),
    ("CUDA", "device type at start of device string: CUDA")])
def test_bad_device_strings_raise_torchs_errors(text, message):
    with pytest.raises(RuntimeError, match=message):
        ember.device(text)
