"""torch.bfloat16 in ember (ml_dtypes' NumPy type underneath, an optional dependency): the dtype, creation,
conversion, printing and torch.save / torch.load against torch; ops and their gradients against torch bit
for bit where torch's CPU kernels round once, within a few units in the last place (ulps) where its
autograd formulas round several times; SGD and Adam steps; CPU autocast; and the error without ml_dtypes."""
import os
import pickle
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch

try:
    import ml_dtypes
except ImportError:  # pragma: no cover
    ml_dtypes = None

ROOT = Path(__file__).resolve().parents[1]
needs_ml_dtypes = pytest.mark.skipif(ml_dtypes is None, reason="ml_dtypes (ember's bfloat16 arrays) is not installed")
# the comparisons with torch: both the oracle and ml_dtypes
against_torch = pytest.mark.skipif(ml_dtypes is None or torch is None,
                                   reason="needs ml_dtypes and PyTorch (the test oracle)")


def _run(code):
    """Run code in a fresh interpreter with this checkout first on the path; its CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def _values(t):
    """A tensor's values as a float32 array (bfloat16 widens exactly)."""
    return np.array(t.float().tolist(), np.float32)


def _ulps(a, b):
    """Units in the last bfloat16 place between two float32 arrays of bfloat16 values."""
    ia = np.asarray(a, np.float32).view(np.int32).astype(np.int64)
    ib = np.asarray(b, np.float32).view(np.int32).astype(np.int64)
    # (a sign-magnitude to ordered-integer map, so that -0.0 and +0.0 are 0 apart and ulps cross zero)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia) >> 16
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib) >> 16
    return np.abs(ia - ib)


def _same_repr(t, e):
    assert repr(t).replace("torch.", "") == repr(e).replace("ember.", "")


# ---- the dtype (no ml_dtypes needed) ------------------------------------------------------------
def test_the_dtype_needs_no_ml_dtypes_and_import_stays_light():
    out = _run("import sys, ember\n"
               "b = ember.bfloat16\n"
               "print(b, b.is_floating_point, b.itemsize, b.is_signed, b.is_complex, ember.finfo(b))\n"
               "print(ember.promote_types(b, ember.float16), ember.promote_types(b, ember.int64),\n"
               "      ember.get_autocast_dtype('cpu'), ember.half, b is ember.bfloat16)\n"
               "print('ml_dtypes' in sys.modules)\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "ember.bfloat16 True 2 True False finfo(resolution=0.01, min=-3.38953e+38, max=3.38953e+38, "
        "eps=0.0078125, smallest_normal=1.17549e-38, tiny=1.17549e-38, dtype=bfloat16)",
        "ember.float32 ember.bfloat16 ember.bfloat16 ember.float16 True",
        "False"]


def test_without_ml_dtypes_a_bfloat16_tensor_says_what_to_install():
    out = _run("import sys\n"
               "sys.modules['ml_dtypes'] = None   # as if it were not installed\n"
               "import ember\n"
               "x = ember.ones(3) * 2\n"
               "print(x.sum().item(), ember.bfloat16, ember.finfo(ember.bfloat16).eps)\n"
               "for make in (lambda: ember.zeros(2, dtype=ember.bfloat16), lambda: x.bfloat16(),\n"
               "             lambda: x.to(ember.bfloat16), lambda: ember.nn.Linear(2, 2).bfloat16()):\n"
               "    try:\n"
               "        make()\n"
               "    except RuntimeError as e:\n"
               "        print(type(e).__name__, e)\n"
               "print(ember.tensor([1.5]).half().float().item())\n")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "6.0 ember.bfloat16 0.0078125"
    msg = ("RuntimeError bfloat16 tensors need the ml_dtypes package, which ember uses for NumPy's missing "
           "bfloat16: pip install ml_dtypes (or pip install ember[bf16])")
    assert lines[1:5] == [msg] * 4
    assert lines[5] == "1.5"


@requires_torch
def test_dtype_promotion_and_finfo_match_torch():
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64",
             "complex64", "complex128"]
    for n in names:
        for first in (True, False):
            pair = (getattr(torch, n), torch.bfloat16) if first else (torch.bfloat16, getattr(torch, n))
            ours = (getattr(ember, n), ember.bfloat16) if first else (ember.bfloat16, getattr(ember, n))
            assert str(torch.promote_types(*pair))[6:] == str(ember.promote_types(*ours))[6:], n
    assert repr(torch.finfo(torch.bfloat16)) == repr(ember.finfo(ember.bfloat16))
    tf, ef = torch.finfo(torch.bfloat16), ember.finfo(ember.bfloat16)
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(tf, attr) == getattr(ef, attr), attr
    assert ember.bfloat16.to_complex() is ember.complex64 and ember.bfloat16.to_real() is ember.bfloat16
    assert pickle.loads(pickle.dumps(ember.bfloat16)) is ember.bfloat16
    assert (ember.bfloat16.itemsize, ember.bfloat16.is_floating_point) == (2, True)


@pytest.mark.parametrize("make", [
    lambda L: (L.ones(3, dtype=L.bfloat16), 1.5),
    lambda L: (L.ones(3, dtype=L.bfloat16), 3),
    lambda L: (L.ones(3, dtype=L.bfloat16), L.ones(3)),
    lambda L: (L.ones(3, dtype=L.bfloat16), L.ones(3, dtype=L.float16)),
    lambda L: (L.ones(3, dtype=L.bfloat16), L.ones(3, dtype=L.int64)),
    lambda L: (L.ones(3, dtype=L.bfloat16), L.tensor(2.0)),
    lambda L: (L.tensor(2.0, dtype=L.bfloat16), L.ones(3)),
    lambda L: (L.ones(3, dtype=L.bfloat16), 1j),
], ids=["float", "int", "float32", "float16", "int64", "0d-float32", "0d-bf16-vs-float32", "complex"])
@against_torch
def test_result_type_matches_torch(make):
    (ta, tb), (ea, eb) = make(torch), make(ember)
    assert str(torch.result_type(ta, tb))[6:] == str(ember.result_type(ea, eb))[6:]
    assert str((ta + tb).dtype)[6:] == str((ea + eb).dtype)[6:]


# ---- creation, conversion, printing --------------------------------------------------------------
_CREATE = {
    "zeros": lambda L: L.zeros(2, 3, dtype=L.bfloat16),
    "ones": lambda L: L.ones(3, dtype=L.bfloat16),
    "full": lambda L: L.full((2,), 1.3, dtype=L.bfloat16),
    "full_int": lambda L: L.full((1,), 2 ** 25 + 2 ** 17 + 1, dtype=L.bfloat16),
    "arange": lambda L: L.arange(0, 30, 0.7, dtype=L.bfloat16),
    "linspace": lambda L: L.linspace(-3, 10, 50, dtype=L.bfloat16),
    "tensor": lambda L: L.tensor([1.1, 2.2, 3.3e10, -1e-5, 1e39], dtype=L.bfloat16),
    # values that float32 rounds onto a bfloat16 tie: torch converts through float32
    "double_rounding": lambda L: L.tensor([1 + 2 ** -8 + 2 ** -30, 2 ** 25 + 2 ** 17 + 1], dtype=L.bfloat16),
    "from_float64": lambda L: L.tensor([1 + 2 ** -8 + 2 ** -30], dtype=L.float64).to(L.bfloat16),
    "from_int64": lambda L: L.tensor([2 ** 25 + 2 ** 17 + 1]).bfloat16(),
    "mixed_int": lambda L: L.tensor([2 ** 25 + 2 ** 17 + 1]) + L.zeros(1, dtype=L.bfloat16),
    "scalar_int": lambda L: L.zeros(1, dtype=L.bfloat16) + (2 ** 25 + 2 ** 17 + 1),
    "fill_": lambda L: L.zeros(2, dtype=L.bfloat16).fill_(2 ** 25 + 2 ** 17 + 1),
    "copy_": lambda L: L.zeros(2, dtype=L.bfloat16).copy_(L.tensor([1 + 2 ** -8 + 2 ** -30] * 2, dtype=L.float64)),
    "to": lambda L: L.tensor([1.1, 2.2, 3.3]).to(L.bfloat16),
    "float": lambda L: L.tensor([1.1, 2.2, 3.3]).bfloat16().float(),
    "half": lambda L: L.tensor([1.1, 2.2, 3.3]).bfloat16().half(),
    "long": lambda L: L.tensor([1.1, 2.7, -3.3]).bfloat16().long(),
    "type": lambda L: L.tensor([1.1]).bfloat16().type(),
    "legacy": lambda L: L.BFloat16Tensor([1.5, 2]),
    "rand": lambda L: (L.manual_seed(0), L.rand(5, dtype=L.bfloat16))[1],
    "randn": lambda L: (L.manual_seed(0), L.randn(2, 5, dtype=L.bfloat16))[1],
    "dropout": lambda L: (L.manual_seed(0), L.nn.functional.dropout(L.ones(8, dtype=L.bfloat16), 0.3))[1],
    "linear_module": lambda L: (L.manual_seed(0), L.nn.Linear(3, 2).bfloat16().weight)[1],
    "default_dtype": lambda L: (L.set_default_dtype(L.bfloat16), L.tensor([1.5, 2.1]),
                                L.set_default_dtype(L.float32))[1],
}


@pytest.mark.parametrize("name", sorted(_CREATE))
@against_torch
def test_creation_and_conversion_match_torch(name):
    t, e = _CREATE[name](torch), _CREATE[name](ember)
    if isinstance(t, str):
        assert t.replace("torch.", "") == e.replace("ember.", "")
    else:
        _same_repr(t, e)
        assert t.dtype.is_floating_point == e.dtype.is_floating_point


@against_torch
def test_values_item_tolist_and_numpy_as_torch():
    for L in (torch, ember):
        x = L.tensor([[1.1, -2.2], [3.3, 1e-3]], dtype=L.bfloat16)
        assert x.tolist() == [[1.1015625, -2.203125], [3.296875, 0.00099945068359375]]
        assert x[0, 0].item() == 1.1015625 and type(x[0, 0].item()) is float
        assert (x.element_size(), x.itemsize, x.nbytes, x.is_floating_point()) == (2, 2, 8, True)
        with pytest.raises(TypeError, match="^Got unsupported ScalarType BFloat16"):
            x.numpy()
        with pytest.raises(TypeError, match="^Got unsupported ScalarType BFloat16"):
            np.asarray(x)
    assert ember.ones(2, dtype=ember.bfloat16)._data.dtype == np.dtype(ml_dtypes.bfloat16)


@against_torch
def test_printing_matches_torch():
    rs = np.random.RandomState(0)
    cases = [[1.0, 2.0, 3.0], [0.0, -0.0], [float("nan"), float("inf"), -float("inf"), 1.5], [1e39, -1e39],
             [1e-40, 1.0], [[1, 2], [3, 4]], [0.1, 0.2, 0.3], [255.0, 256.0, 257.0, 1024.5], 3.25, []]
    for shape in [(1,), (5,), (3, 4), (2, 3, 4), (2000,), (40, 40), (2, 0)]:
        for scale in [1e-6, 1e-3, 1, 7, 1e3, 1e8, 1e30]:
            cases.append((rs.randn(*shape) * scale).tolist())
    for c in cases:
        for grad in (False, True):
            t = torch.tensor(c, dtype=torch.bfloat16, requires_grad=grad)
            e = ember.tensor(c, dtype=ember.bfloat16, requires_grad=grad)
            _same_repr(t, e)
            if grad:
                _same_repr(t * 2, e * 2)
    x = rs.randn(4, 7).tolist()
    for opts in (dict(precision=2), dict(sci_mode=True), dict(threshold=5, edgeitems=2)):
        torch.set_printoptions(**opts)
        ember.set_printoptions(**opts)
        try:
            _same_repr(torch.tensor(x, dtype=torch.bfloat16), ember.tensor(x, dtype=ember.bfloat16))
        finally:
            torch.set_printoptions(profile="default")
            ember.set_printoptions(profile="default")
    _same_repr(torch.nn.Parameter(torch.tensor([1.5, 2.1], dtype=torch.bfloat16)),
               ember.nn.Parameter(ember.tensor([1.5, 2.1], dtype=ember.bfloat16)))


# ---- torch.save / torch.load -------------------------------------------------------------------
@against_torch
def test_save_and_load_interoperate_with_torch(tmp_path):
    x = torch.tensor([[1.1, 2.2, -3.3], [1e30, -1e-30, 0.5]]).bfloat16()
    torch.manual_seed(0)
    sd = torch.nn.Linear(3, 2).bfloat16().state_dict()
    torch.save({"x": x, "col": x[:, 1], "f": x.float(), "sd": sd}, tmp_path / "t.pt")
    for weights_only in (True, False):
        d = ember.load(tmp_path / "t.pt", weights_only=weights_only)
        assert d["x"].dtype is ember.bfloat16 and d["f"].dtype is ember.float32
        np.testing.assert_array_equal(_values(d["x"]), _values(x))
        np.testing.assert_array_equal(_values(d["col"]), _values(x[:, 1]))
        assert d["col"].data_ptr() == d["x"].data_ptr() + 2   # (the view shares the storage, as saved)
        np.testing.assert_array_equal(_values(d["sd"]["weight"]), _values(sd["weight"]))
    ember.save(d, tmp_path / "e.pt")
    back = torch.load(tmp_path / "e.pt")
    assert back["x"].dtype == torch.bfloat16 and torch.equal(back["x"], x) and torch.equal(back["col"], x[:, 1])
    assert torch.equal(back["sd"]["bias"], sd["bias"])
    # the legacy (pre-1.6) format, both ways
    ember.save(ember.tensor([1.5, -2.25], dtype=ember.bfloat16), tmp_path / "legacy.pt",
               _use_new_zipfile_serialization=False)
    assert torch.equal(torch.load(tmp_path / "legacy.pt"), torch.tensor([1.5, -2.25], dtype=torch.bfloat16))
    torch.save(x, tmp_path / "tl.pt", _use_new_zipfile_serialization=False)
    np.testing.assert_array_equal(_values(ember.load(tmp_path / "tl.pt")), _values(x))


# ---- ops and gradients against torch -----------------------------------------------------------
def _F(L):
    return L.nn.functional


_TARGET = [1, 0, 3, 9, 2, 2, 7, 5]
# name -> (op, input shapes, ulps allowed in the output, in the gradients). 0: bit for bit (torch's kernel
# computes in float32 and rounds once, and so does ember's). More: torch's autograd formula is a chain of
# bfloat16 ops, each rounding, where ember's rounds once (1 / x, std), or its float32 sums
# run in another order (softmax over dim 0: an ulp, rarely)
_OPS = {
    "add": (lambda L, a, b: a + b, [(8, 33), (8, 33)], 0, 0),
    "add_broadcast": (lambda L, a, b: a + b, [(8, 33), (33,)], 0, 0),
    "add_number": (lambda L, a: a + 0.37, [(300,)], 0, 0),
    "add_alpha": (lambda L, a, b: a.add(b, alpha=0.3), [(320,), (320,)], 0, 0),
    "sub": (lambda L, a, b: a - b, [(8, 33), (8, 1)], 0, 0),
    "rsub_number": (lambda L, a: 0.37 - a, [(300,)], 0, 0),
    "mul": (lambda L, a, b: a * b, [(8, 33), (8, 33)], 0, 0),
    "mul_broadcast": (lambda L, a, b: a * b, [(8, 33), (1, 33)], 0, 0),
    "mul_number": (lambda L, a: a * 0.1, [(300,)], 0, 0),
    "mul_function": (lambda L, a: L.mul(a, 0.1), [(300,)], 0, 0),
    "div": (lambda L, a, b: a / b, [(8, 33), (8, 33)], 0, 0),
    "div_number": (lambda L, a: a / 3.3, [(300,)], 0, 0),
    "rdiv_number": (lambda L, a: 3.3 / a, [(300,)], 0, 1),
    "pow": (lambda L, a: a.abs() ** 2.5, [(300,)], 0, 0),
    "exp": (lambda L, a: a.exp(), [(300,)], 0, 0),
    "log": (lambda L, a: a.abs().log(), [(300,)], 0, 0),
    "sqrt": (lambda L, a: a.abs().sqrt(), [(300,)], 0, 0),
    "tanh": (lambda L, a: a.tanh(), [(300,)], 0, 0),
    "sigmoid": (lambda L, a: a.sigmoid(), [(300,)], 0, 0),
    "relu": (lambda L, a: _F(L).relu(a), [(4, 300)], 0, 0),
    "clamp": (lambda L, a: a.clamp(-0.5, 0.5), [(300,)], 0, 0),
    "where": (lambda L, a, b: L.where(a > 0, a, b), [(300,), (300,)], 0, 0),
    "sum": (lambda L, a: a.sum(), [(1000,)], 0, 0),
    "sum_dim0": (lambda L, a: a.sum(0), [(64, 70)], 0, 0),
    "sum_dim1": (lambda L, a: a.sum(1), [(64, 70)], 0, 0),
    "mean": (lambda L, a: a.mean(), [(1000,)], 0, 0),
    "mean_dim": (lambda L, a: a.mean(1), [(64, 70)], 0, 0),
    "cumsum": (lambda L, a: a.cumsum(0), [(300,)], 0, 0),
    "max_dim": (lambda L, a: a.max(1).values, [(8, 10)], 0, 0),
    "std": (lambda L, a: a.std(), [(300,)], 0, 4),
    "norm": (lambda L, a: a.norm(), [(300,)], 0, 0),
    "matmul": (lambda L, a, b: a @ b, [(16, 64), (64, 24)], 0, 0),
    "matmul_large": (lambda L, a, b: a @ b, [(64, 512), (512, 48)], 0, 0),
    "bmm": (lambda L, a, b: a @ b, [(3, 16, 64), (3, 64, 24)], 0, 0),
    "addmm": (lambda L, c, a, b: L.addmm(c, a, b), [(16, 24), (16, 64), (64, 24)], 0, 0),
    "linear": (lambda L, x, w, b: _F(L).linear(x, w, b), [(16, 64), (24, 64), (24,)], 0, 0),
    "conv2d": (lambda L, x, w, b: _F(L).conv2d(x, w, b), [(2, 3, 12, 12), (6, 3, 5, 5), (6,)], 0, 0),
    "conv2d_padded": (lambda L, x, w: _F(L).conv2d(x, w, padding=1, stride=2), [(2, 4, 9, 9), (5, 4, 3, 3)], 0, 0),
    "max_pool2d": (lambda L, x: _F(L).max_pool2d(x, 2), [(2, 3, 8, 8)], 0, 0),
    "max_pool2d_3x3": (lambda L, x: _F(L).max_pool2d(x, 3, 2), [(2, 3, 9, 9)], 0, 0),
    "avg_pool2d": (lambda L, x: _F(L).avg_pool2d(x, 2), [(2, 3, 8, 8)], 0, 0),
    "softmax": (lambda L, x: _F(L).softmax(x, 1), [(8, 10)], 0, 0),
    "softmax_dim0": (lambda L, x: _F(L).softmax(x, 0), [(8, 10)], 0, 1),
    "log_softmax": (lambda L, x: _F(L).log_softmax(x, 1), [(8, 10)], 0, 0),
    "log_softmax_dim0": (lambda L, x: _F(L).log_softmax(x, 0), [(8, 10)], 0, 0),
    "cross_entropy": (lambda L, x: _F(L).cross_entropy(x, L.tensor(_TARGET)), [(8, 10)], 0, 0),
    "cross_entropy_sum": (lambda L, x: _F(L).cross_entropy(x, L.tensor(_TARGET), reduction="sum"), [(8, 10)], 0, 0),
    "mse_loss": (lambda L, x, y: _F(L).mse_loss(x, y), [(8, 10), (8, 10)], 0, 0),
    "views": (lambda L, a: a.t().reshape(-1)[3:40] * 2, [(8, 10)], 0, 0),
    "cat": (lambda L, a, b: L.cat([a, b]) * 2, [(8, 10), (2, 10)], 0, 0),
}


@pytest.mark.parametrize("name", sorted(_OPS))
@against_torch
def test_op_and_gradients_match_torch(name):
    fn, shapes, out_ulps, grad_ulps = _OPS[name]
    rs = np.random.RandomState(sorted(_OPS).index(name))
    arrays = [rs.randn(*s).astype(np.float32) for s in shapes]
    g = None
    results = []
    for L in (torch, ember):
        ts = [L.tensor(a).to(L.bfloat16).requires_grad_() for a in arrays]
        out = fn(L, *ts)
        if g is None:
            g = np.asarray(rs.randn(*out.shape), np.float32)
        out.backward(L.tensor(g).to(L.bfloat16))
        assert str(out.dtype)[6:] == "bfloat16" and all(str(t.grad.dtype)[6:] == "bfloat16" for t in ts)
        results.append([_values(out)] + [_values(t.grad) for t in ts])
    (out_t, *grads_t), (out_e, *grads_e) = results
    assert _ulps(out_t, out_e).max(initial=0) <= out_ulps, name
    for i, (a, b) in enumerate(zip(grads_t, grads_e)):
        assert _ulps(a, b).max(initial=0) <= grad_ulps, (name, i)


def _spread_values(rs, shape, clip=None):
    """Values over many scales (0.01 to 30, both signs): the branches and tails of an activation."""
    x = rs.randn(*shape) * rs.choice([0.01, 0.3, 1.0, 3.0, 30.0], size=shape)
    return (x if clip is None else np.clip(x, -clip, clip)).astype(np.float32)


# name -> (op, input shape, clip of the inputs, ulps allowed in the output, in the input's gradient).  Each of
# torch's kernels computes bfloat16 in float32 and rounds once, and so does ember (0: bit for bit), with the
# roundings torch's keep on the way (logsigmoid's buffer, glu's sigmoid, prelu's per-element weight gradient,
# the bounds of hardshrink rounded, hardtanh's and threshold's not).  gelu: torch's vectorized erf and tanh
# (Sleef) and ember's differ by a float32 unit in 1 +- erf, an ulp here and more in the far negative tail
_ACTIVATIONS = {
    "gelu": (lambda L, x: _F(L).gelu(x), (64, 50), 2.5, 0, 1),
    "gelu_tanh": (lambda L, x: _F(L).gelu(x, approximate="tanh"), (64, 50), 2.5, 0, 0),
    "silu": (lambda L, x: _F(L).silu(x), (64, 50), None, 0, 0),
    "silu_": (lambda L, x: _F(L).silu(x * 1, inplace=True), (64, 50), None, 0, 0),
    "elu": (lambda L, x: _F(L).elu(x, 0.7), (64, 50), None, 0, 0),
    "elu_": (lambda L, x: _F(L).elu(x * 1, 0.7, inplace=True), (64, 50), None, 0, 0),
    "selu": (lambda L, x: _F(L).selu(x), (64, 50), None, 0, 0),
    "celu_": (lambda L, x: _F(L).celu(x * 1, 1.3, inplace=True), (64, 50), None, 0, 0),
    "softplus": (lambda L, x: _F(L).softplus(x, 1.5, 4.0), (64, 50), None, 0, 0),
    "mish": (lambda L, x: _F(L).mish(x), (64, 50), None, 0, 0),
    "hardswish_": (lambda L, x: _F(L).hardswish(x * 1, inplace=True), (64, 50), None, 0, 0),
    "hardsigmoid": (lambda L, x: _F(L).hardsigmoid(x), (64, 50), None, 0, 0),
    "leaky_relu": (lambda L, x: _F(L).leaky_relu(x, 0.013), (64, 50), None, 0, 0),
    "leaky_relu_": (lambda L, x: _F(L).leaky_relu(x * 1, 0.013, inplace=True), (64, 50), None, 0, 0),
    "logsigmoid": (lambda L, x: _F(L).logsigmoid(x), (64, 50), None, 0, 0),
    "softshrink": (lambda L, x: _F(L).softshrink(x, 0.3), (64, 50), None, 0, 0),
    "hardshrink": (lambda L, x: _F(L).hardshrink(x, 0.3), (64, 50), None, 0, 0),
    "hardtanh": (lambda L, x: _F(L).hardtanh(x, -0.7, 1.3), (64, 50), None, 0, 0),
    "relu6": (lambda L, x: _F(L).relu6(x), (64, 50), None, 0, 0),
    "threshold": (lambda L, x: _F(L).threshold(x, 0.2, -3.0), (64, 50), None, 0, 0),
    "softsign": (lambda L, x: _F(L).softsign(x), (64, 50), None, 0, 0),
    "tanhshrink": (lambda L, x: _F(L).tanhshrink(x), (64, 50), None, 0, 0),
    "glu": (lambda L, x: _F(L).glu(x, 0), (64, 50), None, 0, 0),
    "prelu": (lambda L, x: _F(L).prelu(x, L.tensor([0.25, -0.3, 0.7], dtype=L.bfloat16)), (30, 3, 7), None, 0, 0),
    "prelu_shared": (lambda L, x: _F(L).prelu(x, L.tensor([0.2], dtype=L.bfloat16)), (64, 50), None, 0, 0),
    "rrelu": (lambda L, x: _F(L).rrelu(x), (64, 50), None, 0, 0),
    "rrelu_train_": (lambda L, x: (L.manual_seed(3), _F(L).rrelu(x * 1, training=True, inplace=True))[1], (64, 50),
                     None, 0, 0),
    "softmin": (lambda L, x: _F(L).softmin(x, 1), (8, 10), None, 0, 0),
    # torch's composites, each op rounding in bfloat16 (the norm's gradient as torch's formula chains it)
    "normalize": (lambda L, x: _F(L).normalize(x), (16, 64), None, 0, 0),
    "normalize_p3": (lambda L, x: _F(L).normalize(x, 3.0, 0), (16, 64), None, 0, 0),
    "normalize_inf": (lambda L, x: _F(L).normalize(x, float("inf"), 1), (16, 64), None, 0, 0),
    "local_response_norm": (lambda L, x: _F(L).local_response_norm(x.reshape(4, 16, 16), 3), (16, 64), None, 0, 0),
    "alpha_dropout": (lambda L, x: (L.manual_seed(5), _F(L).alpha_dropout(x, 0.3, True))[1], (64, 50), None, 0, 0),
    "feature_alpha_dropout_": (lambda L, x: (L.manual_seed(5), _F(L).feature_alpha_dropout(
        x.reshape(8, 8, 50) * 1, 0.3, True, inplace=True))[1], (64, 50), None, 0, 0),
}


@pytest.mark.parametrize("name", sorted(_ACTIVATIONS))
@against_torch
def test_activations_and_gradients_match_torch(name):
    fn, shape, clip, out_ulps, grad_ulps = _ACTIVATIONS[name]
    rs = np.random.RandomState(zlib.crc32(name.encode()))
    x = _spread_values(rs, shape, clip)
    g = None
    seen = []
    for L in (torch, ember):
        xt = L.tensor(x).to(L.bfloat16).requires_grad_()
        out = fn(L, xt)
        if g is None:
            g = rs.randn(*out.shape).astype(np.float32)
        out.backward(L.tensor(g).to(L.bfloat16))
        seen.append((str(out.dtype)[6:], str(xt.grad.dtype)[6:], out.grad_fn.name(), _values(out), _values(xt.grad)))
    (*meta_t, out_t, grad_t), (*meta_e, out_e, grad_e) = seen
    assert meta_t == meta_e and meta_t[:2] == ["bfloat16", "bfloat16"]
    assert _ulps(out_t, out_e).max() <= out_ulps
    assert _ulps(grad_t, grad_e).max() <= grad_ulps


def _compare(t_vals, e_vals, what, ulps=0):
    """bfloat16 values bit for bit (ulps: within that many units); float32 ones (a float32 module's
    statistics and gradients, whose float32 sums torch adds in another order) to float32 rounding."""
    for i, (a, b, dtype) in enumerate(zip(t_vals, e_vals, what)):
        if dtype == "bfloat16":
            assert _ulps(a, b).max(initial=0) <= ulps, f"value {i}"
        else:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * np.abs(a).max(initial=0), err_msg=f"value {i}")


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("params", ["bfloat16", "float32", "none"])
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "channels_last_row_major_grad", "sum"])
@against_torch
def test_batch_norm_matches_torch(training, params, layout):
    # params float32: torch's mixed kernels (nn.BatchNorm2d(3) on a bfloat16 input), statistics in float32;
    # layouts whose gradient torch's kernel cannot take (a channels_last input's row-major gradient, the
    # expanded gradient of out.sum()) run its fallback, in bfloat16 arithmetic
    rs = np.random.RandomState(["contiguous", "channels_last", "channels_last_row_major_grad", "sum"].index(layout))
    shape = (6, 5, 7, 9)
    x, g = rs.randn(*shape).astype(np.float32) * 2 + 0.5, rs.randn(*shape).astype(np.float32)
    w, b = rs.randn(5).astype(np.float32), rs.randn(5).astype(np.float32)
    rm, rv = (rs.randn(5) * 0.1).astype(np.float32), (rs.rand(5) + 0.5).astype(np.float32)
    seen = []
    for L in (torch, ember):
        pd = L.float32 if params == "float32" else L.bfloat16
        xt = L.tensor(x).to(L.bfloat16)
        if layout != "contiguous" and layout != "sum":
            xt = xt.contiguous(memory_format=L.channels_last)
        xt.requires_grad_()
        wt, bt = ((L.tensor(w).to(pd).requires_grad_(), L.tensor(b).to(pd).requires_grad_()) if params != "none"
                  else (None, None))
        rmt, rvt = L.tensor(rm).to(pd), L.tensor(rv).to(pd)
        out = _F(L).batch_norm(xt, rmt, rvt, wt, bt, training=training, momentum=0.3)
        gt = L.tensor(g).to(L.bfloat16)
        if layout == "channels_last":
            gt = gt.contiguous(memory_format=L.channels_last)
        out.sum().backward() if layout == "sum" else out.backward(gt)
        ts = [out, rmt, rvt, xt.grad] + ([wt.grad, bt.grad] if wt is not None else [])
        seen.append(([str(t.dtype)[6:] for t in ts], out.grad_fn.name(), [_values(t) for t in ts]))
    (dt, nt, vt), (de, ne, ve) = seen
    assert (dt, nt) == (de, ne) and dt[0] == dt[3] == "bfloat16"
    # (float32 statistics: those float32 sums now and then move an output by an ulp)
    _compare(vt, ve, dt, ulps=1 if params == "float32" else 0)


@pytest.mark.parametrize("module", ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm2d"])
@pytest.mark.parametrize("converted", [False, True], ids=["float32-module", "bfloat16-module"])
@pytest.mark.parametrize("momentum", [0.1, None])
@against_torch
def test_norm_modules_train_and_evaluate_bfloat16_inputs_as_torch(module, converted, momentum):
    shape = {"BatchNorm1d": (5, 3), "BatchNorm2d": (4, 3, 6, 5), "BatchNorm3d": (2, 3, 3, 4, 2),
             "InstanceNorm2d": (4, 3, 6, 5)}[module]
    seen = []
    for L in (torch, ember):
        rs = np.random.RandomState(0)
        kw = dict(affine=True, track_running_stats=True) if module.startswith("Instance") else {}
        m = getattr(L.nn, module)(3, momentum=momentum, **kw)
        if converted:
            m = m.bfloat16()
        vals = []
        for _ in range(3):
            x = L.tensor(rs.randn(*shape).astype(np.float32) * 2 + 1).bfloat16().requires_grad_()
            y = m(x)
            (y * L.tensor(rs.randn(*shape).astype(np.float32)).bfloat16()).sum().backward()
            vals += [y, x.grad, m.running_mean, m.running_var, m.weight.grad]
        m.eval()
        vals.append(m(x))
        seen.append(([str(t.dtype)[6:] for t in vals], [_values(t) for t in vals]))
    assert seen[0][0] == seen[1][0] and seen[0][0][2] == ("bfloat16" if converted else "float32")
    _compare(seen[0][1], seen[1][1], seen[0][0])


@pytest.mark.parametrize("use_input_stats", [True, False])
@pytest.mark.parametrize("params", ["bfloat16", "float32", "stats-only-float32"])
@against_torch
def test_instance_norm_matches_torch(use_input_stats, params):
    # (torch's composite takes the running statistics in the weight's dtype, else the input's)
    rs = np.random.RandomState(3)
    x, g = rs.randn(3, 4, 5, 6).astype(np.float32) * 2 + 0.5, rs.randn(3, 4, 5, 6).astype(np.float32)
    w, b = rs.randn(4).astype(np.float32), rs.randn(4).astype(np.float32)
    rm, rv = (rs.randn(4) * 0.1).astype(np.float32), (rs.rand(4) + 0.5).astype(np.float32)
    seen = []
    for L in (torch, ember):
        pd = L.bfloat16 if params == "bfloat16" else L.float32
        xt = L.tensor(x).to(L.bfloat16).requires_grad_()
        wt, bt = ((L.tensor(w).to(pd).requires_grad_(), L.tensor(b).to(pd).requires_grad_())
                  if params != "stats-only-float32" else (None, None))
        rmt, rvt = L.tensor(rm).to(pd), L.tensor(rv).to(pd)
        out = _F(L).instance_norm(xt, rmt, rvt, wt, bt, use_input_stats=use_input_stats, momentum=0.3)
        out.backward(L.tensor(g).to(L.bfloat16))
        ts = [out, rmt, rvt, xt.grad] + ([wt.grad, bt.grad] if wt is not None else [])
        seen.append(([str(t.dtype)[6:] for t in ts], out.grad_fn.name(), [_values(t) for t in ts]))
    (dt, nt, vt), (de, ne, ve) = seen
    assert (dt, nt) == (de, ne)
    _compare(vt, ve, dt)


@pytest.mark.parametrize("op", ["layer_norm", "group_norm", "rms_norm"])
@pytest.mark.parametrize("params", ["bfloat16", "float32", "weight-only", "none"])
@pytest.mark.parametrize("shape", [(16, 4, 96), (3, 8, 5, 7)], ids=["3d", "4d"])
@against_torch
def test_layer_group_rms_norm_match_torch(op, params, shape):
    # layer_norm: torch's backward adds each thread's rows of the weight's gradient in a bfloat16 buffer, a
    # row at a time (reproduced); rms_norm is torch's float32 composite (ToCopyBackward0 at the top).  The
    # float32 statistics come from torch's own float32 moments (Welford's, in its order): where the output
    # or the input's gradient cancels to near zero they move it by an ulp or two, and a group norm's input
    # gradient, with float32 parameters, by more
    rs = np.random.RandomState(len(op) + len(params) + len(shape))
    x, g = rs.randn(*shape).astype(np.float32) * 2 + 0.3, rs.randn(*shape).astype(np.float32)
    pshape = (shape[1],) if op == "group_norm" else shape[-1:]
    w, b = rs.randn(*pshape).astype(np.float32), rs.randn(*pshape).astype(np.float32)
    seen = []
    for L in (torch, ember):
        pd = L.float32 if params == "float32" else L.bfloat16
        xt = L.tensor(x).to(L.bfloat16).requires_grad_()
        wt = L.tensor(w).to(pd).requires_grad_() if params != "none" else None
        bt = L.tensor(b).to(pd).requires_grad_() if params in ("bfloat16", "float32") and op != "rms_norm" else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (rms_norm's warning on mixed dtypes; torch gives it once)
            out = (_F(L).layer_norm(xt, pshape, wt, bt) if op == "layer_norm" else
                   _F(L).group_norm(xt, 2, wt, bt) if op == "group_norm" else _F(L).rms_norm(xt, pshape, wt))
        out.backward(L.tensor(g).to(L.bfloat16))
        ts = [out, xt.grad] + [t.grad for t in (wt, bt) if t is not None]
        seen.append(([str(t.dtype)[6:] for t in ts], out.grad_fn.name(), [_values(t) for t in ts]))
    (dt, nt, vt), (de, ne, ve) = seen
    assert (dt, nt) == (de, ne) and dt[:2] == ["bfloat16", "bfloat16"]
    _compare(vt[:1], ve[:1], dt[:1], ulps=2)
    if params == "float32" and op == "group_norm":
        np.testing.assert_allclose(vt[1], ve[1], atol=2e-3 * np.abs(vt[1]).max())
    else:
        _compare(vt[1:2], ve[1:2], dt[1:2], ulps=2)
    _compare(vt[2:], ve[2:], dt[2:], ulps=1 if op == "rms_norm" else 0)   # (rms_norm's: a float32 sum, cast)


@against_torch
def test_native_layer_norm_statistics_take_the_parameters_dtype():
    x = np.random.RandomState(0).randn(4, 6).astype(np.float32)
    for weight in (None, "bfloat16", "float32"):
        seen = []
        for L in (torch, ember):
            w = None if weight is None else L.ones(6, dtype=getattr(L, weight))
            out, mean, rstd = L.native_layer_norm(L.tensor(x).bfloat16(), (6,), w, None, 1e-5)
            seen.append([(str(t.dtype)[6:], tuple(t.shape)) for t in (out, mean, rstd)] + [_values(mean)])
        assert seen[0][:3] == seen[1][:3]
        np.testing.assert_allclose(seen[0][3], seen[1][3], rtol=1e-6)


_RESAMPLINGS = {
    "bilinear_small": ((2, 3, 9, 8), dict(size=(17, 13), mode="bilinear")),
    "bilinear_large": ((1, 2, 80, 90), dict(size=(160, 170), mode="bilinear")),
    "bilinear_corners": ((2, 3, 9, 8), dict(size=(17, 13), mode="bilinear", align_corners=True)),
    "bilinear_down": ((2, 3, 40, 30), dict(scale_factor=0.37, mode="bilinear")),
    "bicubic": ((2, 3, 9, 8), dict(size=(17, 13), mode="bicubic")),
    "bicubic_corners": ((2, 3, 9, 8), dict(size=(17, 13), mode="bicubic", align_corners=True)),
    "linear": ((2, 3, 50), dict(size=77, mode="linear")),
    "trilinear": ((1, 2, 5, 6, 7), dict(size=(9, 11, 4), mode="trilinear")),
    "nearest": ((2, 3, 9, 8), dict(scale_factor=2.5, mode="nearest")),
    "nearest_exact": ((2, 3, 9, 8), dict(size=(13, 5), mode="nearest-exact")),
    "area": ((2, 3, 13, 11), dict(size=(4, 5), mode="area")),
}


@pytest.mark.parametrize("name", sorted(_RESAMPLINGS))
@against_torch
def test_interpolate_matches_torch(name):
    # torch's generic kernel keeps a bfloat16 input's weights in bfloat16 (bilinear's channels_last kernel,
    # which it also takes for small outputs, and the backward keep float32 ones; reproduced); its float32
    # products and sums, in their order: an ulp, now and then
    shape, kw = _RESAMPLINGS[name]
    rs = np.random.RandomState(zlib.crc32(name.encode()))
    x = rs.randn(*shape).astype(np.float32)
    seen = []
    for L in (torch, ember):
        xt = L.tensor(x).to(L.bfloat16).requires_grad_()
        out = _F(L).interpolate(xt, **kw)
        out.backward(L.tensor(np.linspace(-2, 2, out.numel(), dtype=np.float32).reshape(out.shape)).bfloat16())
        seen.append((str(out.dtype)[6:], out.grad_fn.name(), _values(out), _values(xt.grad)))
    (dt, nt, ot, gt), (de, ne, oe, ge) = seen
    assert (dt, nt) == (de, ne) and dt == "bfloat16"
    assert _ulps(ot, oe).max() <= 1 and (_ulps(ot, oe) > 0).mean() < 0.01
    assert _ulps(gt, ge).max() <= 1 and (_ulps(gt, ge) > 0).mean() < 0.01


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("output", [1, 7, (4, 3)])
@against_torch
def test_adaptive_average_pooling_matches_torch(layout, output):
    # torch's backward divides each bin's share by kh and by kw in bfloat16 (by kh * kw over a channels_last
    # gradient's vectors of 32 channels) and adds shares in bfloat16; to 1 x 1 it is a mean
    x = np.random.RandomState(1).randn(2, 40, 16, 13).astype(np.float32)
    seen = []
    for L in (torch, ember):
        xt = L.tensor(x).to(L.bfloat16)
        if layout == "channels_last":
            xt = xt.contiguous(memory_format=L.channels_last)
        xt.requires_grad_()
        out = _F(L).adaptive_avg_pool2d(xt, output)
        g = L.tensor(np.linspace(-3, 3, out.numel(), dtype=np.float32).reshape(out.shape)).bfloat16()
        out.backward(g.contiguous(memory_format=L.channels_last) if layout == "channels_last" else g)
        seen.append((out.grad_fn.name(), _values(out), _values(xt.grad)))
    # (torch restrides a channels_last mean to 1 x 1, an AsStridedBackward1 on top)
    assert seen[0][0] == seen[1][0] or (layout, output) == ("channels_last", 1)
    np.testing.assert_array_equal(seen[0][1], seen[1][1])
    np.testing.assert_array_equal(seen[0][2], seen[1][2])


@against_torch
def test_antialiased_interpolation_refuses_bfloat16_as_torch():
    for L in (torch, ember):
        with pytest.raises(NotImplementedError, match="\"compute_index_ranges_weights\" not implemented for"):
            _F(L).interpolate(L.ones(1, 1, 8, 8, dtype=L.bfloat16), size=(3, 3), mode="bilinear", antialias=True)


@against_torch
def test_3d_average_pooling_refuses_bfloat16_as_torch():
    x = np.random.RandomState(0).randn(1, 2, 3, 4, 4).astype(np.float32)
    for L in (torch, ember):
        for fn in (lambda t: _F(L).avg_pool3d(t, 2), lambda t: _F(L).local_response_norm(t, 2)):
            with pytest.raises(NotImplementedError, match="\"avg_pool3d_out_frame\" not implemented for 'BFloat16'"):
                fn(L.tensor(x).bfloat16())


@against_torch
def test_norm_parameters_that_cannot_mix_raise_as_torch():
    x = np.random.RandomState(0).randn(4, 6, 5).astype(np.float32)
    cases = [
        lambda L, x: _F(L).batch_norm(x.bfloat16(), None, None, L.ones(6).bfloat16(), L.zeros(6), training=True),
        lambda L, x: _F(L).batch_norm(x.bfloat16(), L.zeros(6).double(), L.ones(6).double(), training=True),
        lambda L, x: _F(L).batch_norm(x, None, None, L.ones(6).bfloat16(), training=True),
        lambda L, x: _F(L).batch_norm(x.bfloat16(), L.zeros(6), L.ones(6), L.ones(6).bfloat16(), training=True),
        lambda L, x: L.nn.BatchNorm1d(6).bfloat16()(x),
        lambda L, x: _F(L).layer_norm(x, (5,), L.ones(5).bfloat16()),
        lambda L, x: _F(L).layer_norm(x.bfloat16(), (5,), L.ones(5).bfloat16(), L.zeros(5)),
        lambda L, x: _F(L).layer_norm(x.bfloat16(), (5,), L.ones(5).double()),
        lambda L, x: _F(L).group_norm(x, 2, L.ones(6).bfloat16()),
        lambda L, x: _F(L).group_norm(x.bfloat16(), 2, L.ones(6), L.zeros(6).bfloat16()),
    ]
    for i, case in enumerate(cases):
        msgs = []
        for L in (torch, ember):
            with pytest.raises(RuntimeError) as info:
                case(L, L.tensor(x))
            msgs.append(str(info.value))
        # ember's message is torch's, with a hint after it
        assert msgs[1].startswith(msgs[0].split(" (")[0]), (i, msgs)


# (as _OPS, in a table of their own so that _OPS's seeds stay put) torch's norm gradient is a chain of
# bfloat16 ops, each rounding; pow's special cases round at each operation in its bfloat16 kernel (x * x * x,
# 1 / (x * x)) and its exponent is rounded to bfloat16; average pooling's backward adds in bfloat16
_NORMS_POWERS_POOLS = {
    "norm_dim": (lambda L, a: a.norm(2, 1, keepdim=True), [(8, 30)], 0, 0),
    "norm_p3": (lambda L, a: a.norm(3, 0), [(8, 30)], 0, 0),
    "norm_p1.5": (lambda L, a: a.norm(1.5, 1), [(8, 30)], 0, 0),
    "norm_inf": (lambda L, a: a.norm(float("inf"), 1), [(8, 30)], 0, 0),
    "pow3": (lambda L, a: a ** 3, [(256,)], 0, 0),
    "pow_m2": (lambda L, a: a.abs() ** -2, [(256,)], 0, 0),
    "pow_0.3": (lambda L, a: a.abs() ** 0.3, [(256,)], 0, 0),
    "pow_m0.5": (lambda L, a: a.abs() ** -0.5, [(256,)], 0, 0),
    "pow_m1": (lambda L, a: a.abs() ** -1, [(256,)], 0, 0),
    # overlapping windows: torch's backward adds each window's share to a shared input in bfloat16
    "avg_pool2d_3x3_stride1": (lambda L, a: _F(L).avg_pool2d(a, 3, stride=1), [(2, 3, 9, 8)], 0, 0),
    "avg_pool2d_3x3_padded": (lambda L, a: _F(L).avg_pool2d(a, 3, 2, 1, count_include_pad=False), [(2, 3, 9, 8)],
                              0, 0),
    "avg_pool1d_overlapping": (lambda L, a: _F(L).avg_pool1d(a, 4, stride=2), [(2, 3, 20)], 0, 0),
}


@pytest.mark.parametrize("name", sorted(_NORMS_POWERS_POOLS))
@against_torch
def test_norms_powers_and_pools_match_torch(name):
    fn, shapes, out_ulps, grad_ulps = _NORMS_POWERS_POOLS[name]
    rs = np.random.RandomState(zlib.crc32(name.encode()))
    arrays = [rs.randn(*s).astype(np.float32) for s in shapes]
    results = []
    for L in (torch, ember):
        ts = [L.tensor(a).to(L.bfloat16).requires_grad_() for a in arrays]
        out = fn(L, *ts)
        out.backward(L.tensor(np.linspace(-2, 2, out.numel(), dtype=np.float32).reshape(out.shape)).to(L.bfloat16))
        results.append([_values(out)] + [_values(t.grad) for t in ts])
    (out_t, *grads_t), (out_e, *grads_e) = results
    assert _ulps(out_t, out_e).max(initial=0) <= out_ulps
    for a, b in zip(grads_t, grads_e):
        assert _ulps(a, b).max(initial=0) <= grad_ulps


_T8 = [1, 0, 3, 9, 2, 2, 7, 5]
# name -> (loss of (input, target), ulps allowed in the loss, in the input's gradient, in the target's).  torch's
# kernels round where this reproduces: mse squares the bfloat16 difference and its gradient is
# (2 / n) * (x - t) * g in bfloat16 arithmetic; huber rounds at each operation; smooth_l1 computes in
# float32 (its gradient differently over its vectors and their tail); binary_cross_entropy in bfloat16
# arithmetic, its target's gradient through -logit(x); binary_cross_entropy_with_logits and kl_div are
# torch's composites, op by op
_LOSSES = {
    "mse": (lambda L, x, y: _F(L).mse_loss(x, y), 0, 0, 0),
    "mse_none": (lambda L, x, y: _F(L).mse_loss(x, y, reduction="none"), 0, 0, 0),
    "l1": (lambda L, x, y: _F(L).l1_loss(x, y), 0, 0, 0),
    "smooth_l1": (lambda L, x, y: _F(L).smooth_l1_loss(x, y), 0, 0, 0),
    "smooth_l1_beta_sum": (lambda L, x, y: _F(L).smooth_l1_loss(x, y, beta=0.3, reduction="sum"), 0, 1, 1),
    "huber": (lambda L, x, y: _F(L).huber_loss(x, y), 0, 0, 0),
    "huber_none": (lambda L, x, y: _F(L).huber_loss(x, y, delta=0.4, reduction="none"), 0, 1, 1),
    "bce": (lambda L, x, y: _F(L).binary_cross_entropy(x.sigmoid(), y.sigmoid()), 0, 0, 0),
    "bce_weight_sum": (lambda L, x, y: _F(L).binary_cross_entropy(
        x.sigmoid(), y.sigmoid(), weight=L.linspace(0.1, 2, 10).to(L.bfloat16), reduction="sum"), 0, 0, 0),
    "bce_logits": (lambda L, x, y: _F(L).binary_cross_entropy_with_logits(x, y.sigmoid()), 0, 0, 0),
    "bce_logits_pos_weight": (lambda L, x, y: _F(L).binary_cross_entropy_with_logits(
        x, y.sigmoid(), pos_weight=L.linspace(0.5, 2, 10).to(L.bfloat16)), 0, 0, 0),
    "bce_logits_none": (lambda L, x, y: _F(L).binary_cross_entropy_with_logits(x, y.sigmoid(), reduction="none"),
                        0, 0, 0),
    "nll": (lambda L, x, y: _F(L).nll_loss(x.log_softmax(1), L.tensor(_T8)), 0, 0, 0),
    "nll_weight": (lambda L, x, y: _F(L).nll_loss(x.log_softmax(1), L.tensor(_T8),
                                                  weight=L.linspace(0.1, 2, 10).to(L.bfloat16)), 0, 0, 0),
    # (the target's gradient adds three bfloat16 terms, ulps where ember's engine adds them in another order)
    "kl_div": (lambda L, x, y: _F(L).kl_div(x.log_softmax(1), y.softmax(1), reduction="batchmean"), 0, 0, 2),
    "kl_div_log_target": (lambda L, x, y: _F(L).kl_div(x.log_softmax(1), y.log_softmax(1), reduction="sum",
                                                       log_target=True), 0, 0, 0),
}


@pytest.mark.parametrize("name", sorted(_LOSSES))
@against_torch
def test_losses_match_torch(name):
    fn, out_ulps, x_ulps, t_ulps = _LOSSES[name]
    seen = []
    for L in (torch, ember):
        rs = np.random.RandomState(zlib.crc32(name.encode()))
        xt, yt = (L.tensor((rs.randn(8, 10) * 2).astype(np.float32)).bfloat16().requires_grad_() for _ in range(2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (kl_div's reduction warning)
            out = fn(L, xt, yt)
        out.backward(L.tensor(np.linspace(-1.5, 1.5, out.numel(), dtype=np.float32).reshape(out.shape)).bfloat16())
        seen.append((str(out.dtype)[6:], out.grad_fn.name(), _values(out), _values(xt.grad),
                     _values(yt.grad) if yt.grad is not None else np.zeros(1, np.float32)))
    (dt, nt, *vt), (de, ne, *ve) = seen
    assert (dt, nt) == (de, ne) and dt == "bfloat16"
    for i, (a, b, tol) in enumerate(zip(vt, ve, (out_ulps, x_ulps, t_ulps))):
        assert _ulps(a, b).max(initial=0) <= tol, i


@against_torch
def test_bce_with_logits_of_bfloat16_logits_and_a_float32_target_is_float32_as_torch():
    rs = np.random.RandomState(0)
    x, y = rs.randn(6, 5).astype(np.float32), rs.rand(6, 5).astype(np.float32)
    seen = []
    for L in (torch, ember):
        xt, yt = L.tensor(x).bfloat16().requires_grad_(), L.tensor(y).requires_grad_()
        out = _F(L).binary_cross_entropy_with_logits(xt, yt, reduction="none")
        out.backward(L.full_like(out, 0.7))
        seen.append((str(out.dtype)[6:], str(xt.grad.dtype)[6:], _values(out), _values(xt.grad), _values(yt.grad)))
    assert seen[0][:2] == seen[1][:2] == ("float32", "bfloat16")
    for a, b in zip(seen[0][2:], seen[1][2:]):
        np.testing.assert_array_equal(a, b)


# name -> (query shape, key/value shape, keyword arguments; mask: "bool" or "float32").  4-D inputs run
# torch's CPU flash kernel, emulated step for step (its blocks of 32 queries and 512 keys, its fast exp
# and lane-wise sums, its bfloat16 roundings); 3-D ones (and a mask that needs a gradient) its math kernel,
# in float32 rounded once.  The outputs are torch's bit for bit; a gradient element may differ where the
# two order a float32 sum inside a matrix product differently (rarely: an ulp, or torch's rounding noise
# where the exact gradient is 0, as a causal first row's)
_ATTENTION = {
    "plain": ((2, 3, 5, 8), (2, 3, 6, 8), {}),
    "causal": ((2, 3, 9, 8), (2, 3, 9, 8), dict(is_causal=True)),
    "vector_loop": ((1, 2, 20, 16), (1, 2, 37, 16), {}),
    "query_blocks": ((1, 2, 40, 64), (1, 2, 300, 64), dict(is_causal=True)),
    "key_blocks": ((1, 2, 40, 16), (1, 2, 530, 16), {}),
    "bool_mask": ((2, 2, 7, 8), (2, 2, 33, 8), dict(mask="bool")),
    "float32_mask": ((2, 2, 7, 8), (2, 2, 33, 8), dict(mask="float32")),
    "gqa": ((2, 4, 9, 8), (2, 2, 20, 8), dict(enable_gqa=True)),
    "scale": ((2, 3, 5, 8), (2, 3, 6, 8), dict(scale=0.3)),
    "math_3d": ((3, 5, 8), (3, 6, 8), {}),
    "math_mask_grad": ((2, 3, 5, 8), (2, 3, 6, 8), dict(mask="grad")),
}


@pytest.mark.parametrize("name", sorted(_ATTENTION))
@against_torch
def test_scaled_dot_product_attention_matches_torch(name):
    qs, ks, kw = _ATTENTION[name]
    kw = dict(kw)
    mask = kw.pop("mask", None)
    rs = np.random.RandomState(zlib.crc32(name.encode()))
    q, k, v = (rs.randn(*s).astype(np.float32) for s in (qs, ks, ks))
    g = rs.randn(*qs).astype(np.float32)
    m = {"bool": rs.rand(qs[-2], ks[-2]) > 0.3, None: None}.get(mask, rs.randn(qs[-2], ks[-2]).astype(np.float32))
    seen = []
    for L in (torch, ember):
        ts = [L.tensor(a).bfloat16().requires_grad_() for a in (q, k, v)]
        if m is not None:
            kw["attn_mask"] = L.tensor(m).bfloat16().requires_grad_() if mask == "grad" else L.tensor(m)
        out = _F(L).scaled_dot_product_attention(*ts, **kw)
        out.backward(L.tensor(g).bfloat16())
        seen.append((str(out.dtype)[6:], out.grad_fn.name(), [_values(out)] + [_values(t.grad) for t in ts]))
    (dt, nt, vt), (de, ne, ve) = seen
    assert (dt, nt) == (de, ne) and dt == "bfloat16"
    assert _ulps(vt[0], ve[0]).max() == 0
    for i, (a, b) in enumerate(zip(vt[1:], ve[1:])):
        assert (_ulps(a, b) > 0).mean() <= 0.03, i
        assert np.abs(a - b).max() <= 0.01 * np.abs(a).max(), i


@against_torch
def test_bfloat16_multihead_attention_without_weights_matches_torch():
    # need_weights=False runs scaled_dot_product_attention's flash kernel on the heads
    rs = np.random.RandomState(0)
    x, g = rs.randn(2, 7, 16).astype(np.float32), rs.randn(2, 7, 16).astype(np.float32)
    seen = []
    for L in (torch, ember):
        L.manual_seed(0)
        mha = L.nn.MultiheadAttention(16, 4, batch_first=True).bfloat16()
        xt = L.tensor(x).bfloat16().requires_grad_()
        out = mha(xt, xt, xt, need_weights=False)[0]
        out.backward(L.tensor(g).bfloat16())
        seen.append([_values(out), _values(xt.grad), _values(mha.in_proj_weight.grad)])
    for a, b in zip(*seen):
        assert _ulps(a, b).max() == 0


@against_torch
def test_cross_entropy_options_match_torch():
    rs = np.random.RandomState(0)
    for n, c, kw in [(1, 10, {}), (4, 10, {}), (33, 37, {}), (300, 10, {}), (17, 10, dict(reduction="none")),
                     (33, 10, dict(ignore_index=1)), (16, 2, dict(reduction="sum"))]:
        x = (rs.randn(n, c) * 3).astype(np.float32)
        t = rs.randint(0, c, n)
        res = []
        for L in (torch, ember):
            xt = L.tensor(x).to(L.bfloat16).requires_grad_()
            loss = _F(L).cross_entropy(xt, L.tensor(t), **kw)
            loss.sum().backward()
            res.append((_values(loss), _values(xt.grad)))
        np.testing.assert_array_equal(res[0][0], res[1][0], err_msg=str((n, c, kw)))
        np.testing.assert_array_equal(res[0][1], res[1][1], err_msg=str((n, c, kw)))


def _train(L, opt_name, kw, steps=5, width=32):
    """A bfloat16 MLP (8 -> width -> width classes) trained by opt_name: the losses and the parameters."""
    rs = np.random.RandomState(0)
    w1 = rs.randn(width, 8).astype(np.float32) * 0.3
    w2 = rs.randn(width, width).astype(np.float32) * 0.3
    m = L.nn.Sequential(L.nn.Linear(8, width), L.nn.ReLU(), L.nn.Linear(width, width))
    with L.no_grad():
        m[0].weight.copy_(L.tensor(w1))
        m[2].weight.copy_(L.tensor(w2))
        m[0].bias.fill_(0.01)
        m[2].bias.fill_(0.1)
    m = m.bfloat16()
    opt = getattr(L.optim, opt_name)(m.parameters(), **kw)
    losses = []
    for _ in range(steps):
        x, t = rs.randn(5, 8).astype(np.float32), rs.randint(0, width, 5)
        opt.zero_grad()
        loss = _F(L).cross_entropy(m(L.tensor(x).bfloat16()), L.tensor(t))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(p.dtype == L.bfloat16 for p in m.parameters())
    return losses, [_values(p) for p in m.parameters()]


@pytest.mark.parametrize("opt_name,kw", [
    ("Adam", dict(lr=1e-2)), ("Adam", dict(lr=1e-2, weight_decay=1e-2)), ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("AdamW", dict(lr=1e-2)),
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9)), ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=1e-2)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1)), ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
])
@against_torch
def test_optimizer_steps_on_bfloat16_parameters_match_torch(opt_name, kw):
    (lt, pt), (le, pe) = _train(torch, opt_name, kw), _train(ember, opt_name, kw)
    assert lt == le
    # bit for bit: torch's kernels round once, in float32, as ember's updates do.  (Every parameter here
    # has a multiple of 32 elements: torch's add_(alpha=) rounds lr * grad first in its scalar tail loop,
    # the last numel % 32 elements on AVX-512 (% 16 on AVX2), where its vector loop and ember round once.)
    for i, (a, b) in enumerate(zip(pt, pe)):
        np.testing.assert_array_equal(a, b, err_msg=f"parameter {i}")


# ---- autocast ------------------------------------------------------------------------------------
@against_torch
def test_cpu_autocast_casts_as_torch():
    from ember import ops
    rs = np.random.RandomState(0)
    x, w, b = (rs.randn(*s).astype(np.float32) for s in ((4, 8), (3, 8), (3,)))
    img, k = rs.randn(1, 3, 6, 6).astype(np.float32), rs.randn(2, 3, 3, 3).astype(np.float32)
    seen = []
    for L in (torch, ember):
        F = _F(L)
        X, W, B = (L.tensor(a, requires_grad=True) for a in (x, w, b))
        assert L.get_autocast_dtype("cpu") == L.bfloat16 and L.get_autocast_dtype("cuda") == L.float16
        with L.autocast("cpu"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                state = (L.is_autocast_enabled("cpu"), L.is_autocast_cpu_enabled(), L.is_autocast_enabled())
            y = F.linear(X, W, B)
            dtypes = [y.dtype, F.conv2d(L.tensor(img), L.tensor(k)).dtype, (L.tensor(x) @ L.tensor(w).t()).dtype,
                      L.mm(L.tensor(x), L.tensor(w).t()).dtype, L.bmm(L.tensor(x)[None], L.tensor(w).t()[None]).dtype,
                      F.linear(L.tensor(x, dtype=L.float64), L.tensor(w, dtype=L.float64)).dtype,
                      F.relu(y).dtype, F.softmax(y, 1).dtype, F.mse_loss(y, L.zeros(4, 3, dtype=L.bfloat16)).dtype]
            loss = F.cross_entropy(y, L.tensor([0, 1, 2, 0]))
            with L.autocast("cpu", enabled=False):
                dtypes.append(F.linear(L.tensor(x), L.tensor(w)).dtype)
            with L.autocast("cpu", dtype=L.float16):
                dtypes.append(F.linear(L.tensor(x), L.tensor(w)).dtype)
        loss.backward()
        dtypes += [loss.dtype, X.grad.dtype, W.grad.dtype, F.linear(L.tensor(x), L.tensor(w)).dtype]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            dtypes.append(L.cpu.amp.autocast().fast_dtype)
        seen.append((state, [str(d)[6:] for d in dtypes], y.grad_fn.name(), _values(y), loss.item(),
                     _values(X.grad), _values(W.grad), _values(B.grad)))
    (st, dt, name, *vals_t), (se, de, ne, *vals_e) = seen
    assert (st, dt, name) == (se, de, ne)
    assert dt[:10] == ["bfloat16"] * 5 + ["float64", "bfloat16", "bfloat16", "float32", "float32"]
    for a, b in zip(vals_t, vals_e):
        np.testing.assert_array_equal(a, b)
    assert ops.AUTOCAST[0] is None and not ember.is_autocast_enabled("cpu")
    with pytest.warns(DeprecationWarning, match=r"torch.is_autocast_cpu_enabled\(\) is deprecated"):
        assert ember.is_autocast_cpu_enabled() is False


@needs_ml_dtypes
def test_custom_fwd_casts_its_inputs_inside_autocast():
    class Double(ember.autograd.Function):
        @staticmethod
        @ember.amp.custom_fwd(device_type="cpu", cast_inputs=ember.float32)
        def forward(ctx, a):
            ctx.inside = (a.dtype, ember.is_autocast_enabled("cpu"))
            return a * 2

        @staticmethod
        @ember.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            return g * 2

    a = ember.ones(3, dtype=ember.bfloat16, requires_grad=True)
    with ember.autocast("cpu"):
        out = Double.apply(a)
    assert out.dtype is ember.float32
    out.sum().backward()
    assert a.grad.dtype is ember.bfloat16 and a.grad.tolist() == [2.0, 2.0, 2.0]


@needs_ml_dtypes
def test_a_bfloat16_tensor_refuses_the_gpu_clearly():
    # (CuPy has no bfloat16; the check comes before any CuPy call, so it runs without a GPU too)
    from ember.ops.convert import _move
    with pytest.raises(RuntimeError, match=r"bfloat16 tensors on the CPU only .* x\.float\(\)\.to\('cuda'\)"):
        _move(ember.ones(2, dtype=ember.bfloat16)._data, ember.device("cuda"))
