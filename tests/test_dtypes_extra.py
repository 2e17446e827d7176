"""torch's barebones dtypes in ember: uint16, uint32, uint64 (NumPy's types) and the float8 family
(ml_dtypes' types, an optional dependency): the dtypes, conversion bit for bit, creation, printing,
torch.save / torch.load both ways, and which ops work (with torch's result) or raise (torch's error and
its text, plus ember's tail saying what to do), all against torch."""
import io
import os
import subprocess
import sys
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
UINTS = ["uint16", "uint32", "uint64"]
FLOAT8 = ["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu"]
ALL = UINTS + FLOAT8
# each test runs for a dtype only where ember can hold it: the float8 types need ml_dtypes
HELD = UINTS + (FLOAT8 if ml_dtypes is not None else [])


def _run(code):
    """Run code in a fresh interpreter with this checkout first on the path; its CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def _bits(t):
    """A tensor's elements as integers of its width (NaNs compare by pattern)."""
    if t.dtype.itemsize == 1:
        return t.view(ember.uint8 if isinstance(t, ember.Tensor) else torch.uint8).tolist()
    return t.tolist()


def _outcome(fn, L):
    """('ok', dtype name, values) of fn(L) or ('err', exception type name, message)."""
    try:
        r = fn(L)
    except Exception as e:   # noqa: BLE001 - the exception itself is what the tests compare
        return ("err", type(e).__name__, str(e))
    if isinstance(r, (torch.Tensor, ember.Tensor)):
        vals = r.float().tolist() if r.dtype.is_floating_point else r.tolist()
        return ("ok", str(r.dtype).split(".")[-1], vals)
    return ("ok", type(r).__name__, r)


def _same(t, e):
    """ember's outcome is torch's: the same dtype and values, or the same exception type with torch's message
    first (ember adds what to do instead)."""
    assert t[0] == e[0] and t[1] == e[1], (t, e)
    if t[0] == "err":
        assert e[2].startswith(t[2].replace("torch.", "")), (t, e)
    elif t[1] in ("float32", "float64"):   # (a uint16 promoted to float32: its exp within NumPy's ulp of torch's)
        np.testing.assert_allclose(np.array(e[2], dtype=float), np.array(t[2], dtype=float), rtol=3e-7)
    else:
        assert np.array_equal(np.array(t[2], dtype=float), np.array(e[2], dtype=float), equal_nan=True), (t, e)


# ---- the dtypes -------------------------------------------------------------------------------------
def test_the_dtypes_need_no_ml_dtypes_and_a_float8_tensor_says_what_to_install():
    out = _run("import sys\n"
               "sys.modules['ml_dtypes'] = None   # as if it were not installed\n"
               "import ember\n"
               "d = ember.float8_e4m3fn\n"
               "print(d, d.is_floating_point, d.itemsize, ember.finfo(d).max, ember.iinfo(ember.uint16).max)\n"
               "print(ember.tensor([1, 70000], dtype=ember.uint32).tolist())\n"
               "try:\n"
               "    ember.ones(2, dtype=d)\n"
               "except RuntimeError as e:\n"
               "    print(e)\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "ember.float8_e4m3fn True 1 448.0 65535", "[1, 70000]",
        "float8 tensors need the ml_dtypes package, which ember uses for NumPy's missing float8 types: "
        "pip install ml_dtypes (or pip install ember[bf16])"]


@requires_torch
@pytest.mark.parametrize("name", ALL)
def test_dtype_attributes_and_info_match_torch(name):
    t, e = getattr(torch, name), getattr(ember, name)
    for attr in ("is_floating_point", "is_complex", "is_signed", "itemsize"):
        assert getattr(t, attr) == getattr(e, attr), attr
    info_t = (torch.finfo if t.is_floating_point else torch.iinfo)(t)
    info_e = (ember.finfo if e.is_floating_point else ember.iinfo)(e)
    assert repr(info_t) == repr(info_e)


@requires_torch
@pytest.mark.parametrize("name", ALL)
def test_promotion_matches_torch(name):
    others = ALL + ["bool", "uint8", "int8", "int32", "int64", "float16", "bfloat16", "float32", "float64",
                    "complex64"]
    for other in others:
        for pair in ((name, other), (other, name)):
            try:
                want = str(torch.promote_types(*(getattr(torch, n) for n in pair))).split(".")[-1]
            except RuntimeError as err:
                want = str(err)
            try:
                got = str(ember.promote_types(*(getattr(ember, n) for n in pair))).split(".")[-1]
            except RuntimeError as err:
                got = str(err)
            assert got.startswith(want), (pair, got, want)


# ---- conversion ---------------------------------------------------------------------------------------
def _samples():
    rng = np.random.default_rng(0)
    with np.errstate(over="ignore"):
        x = rng.standard_normal(3000).astype(np.float32) * (10.0 ** rng.integers(-45, 40, 3000))
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 448, 449, 464, 465, 475.6, 480, 1000, 57344, 61440, 65536,
               1e30, -1e30, 240, 247, 248, 1e-10, -1e-45, 2.0 ** -127, 1.5, 3.0, 0.75]
    with np.errstate(over="ignore"):   # (some of x overflow float32: infinities, deliberately)
        return np.concatenate([x, np.array(special, np.float32)]).astype(np.float32)


# (ember's float32 -> float16 conversion warns of its infinities, as NumPy does; not this file's subject)
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@requires_torch
@pytest.mark.parametrize("name", HELD)
@pytest.mark.parametrize("src", ["float32", "float64", "float16", "bfloat16", "int64", "int32", "bool"])
def test_conversion_into_matches_torch_bit_for_bit(name, src):
    v = _samples()
    if name in UINTS:   # (torch's float -> unsigned cast is undefined out of range: only what it defines)
        v = v[np.isfinite(v) & (np.abs(v) < (6e4 if src == "float16" else 2e9))]
    if src in ("int64", "int32"):
        v = np.clip(np.nan_to_num(v), -1e9, 1e9)
    t = torch.from_numpy(v).to(getattr(torch, src)).to(getattr(torch, name))
    e = ember.from_numpy(v).to(getattr(ember, src)).to(getattr(ember, name))
    nan = np.isnan(np.array(t.float().tolist()))   # (NaNs compare as NaNs: bfloat16's own NaN bits differ)
    assert np.array_equal(nan, np.isnan(np.array(e.float().tolist())))
    assert np.array_equal(np.array(_bits(e))[~nan], np.array(_bits(t))[~nan])


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")   # (as above: float16)
@requires_torch
@pytest.mark.parametrize("name", HELD)
def test_conversion_out_of_matches_torch(name):
    if name in UINTS:
        raw = np.arange(0, 65535, 7, dtype=np.int64)
        t, e = torch.from_numpy(raw).to(getattr(torch, name)), ember.from_numpy(raw).to(getattr(ember, name))
    else:   # every float8 value
        raw = np.arange(256, dtype=np.uint8)
        t, e = torch.from_numpy(raw).view(getattr(torch, name)), ember.from_numpy(raw).view(getattr(ember, name))
    for target in ["float32", "float64", "float16", "bfloat16", "int32"] + HELD:
        tt, ee = t.to(getattr(torch, target)), e.to(getattr(ember, target))
        a = np.array(tt.float().tolist() if tt.dtype.is_floating_point else tt.tolist(), dtype=float)
        b = np.array(ee.float().tolist() if ee.dtype.is_floating_point else ee.tolist(), dtype=float)
        keep = np.isfinite(a) & (np.abs(a) < 2 ** 31) | ~np.isfinite(a) & (target not in ("int32",))
        if target == "int32" or target in UINTS:   # (torch's cast of NaN, inf and overflow is undefined)
            finite = np.isfinite(np.array(t.float().tolist(), dtype=float))
            keep = finite & (np.abs(np.array(t.float().tolist(), dtype=float)) < 2 ** 31)
            keep &= np.array(t.float().tolist(), dtype=float) >= (0 if target in UINTS else -2 ** 31)
        assert np.array_equal(a[keep], b[keep], equal_nan=True), target


# ---- creation and printing -----------------------------------------------------------------------------
_MAKE = {
    "tensor": lambda L, d: L.tensor([[1, 2], [3, 250]], dtype=d),
    "tensor_floats": lambda L, d: L.tensor([1.5, 2.25, 300.0, 0.001], dtype=d),
    "zeros": lambda L, d: L.zeros(2, 3, dtype=d),
    "ones": lambda L, d: L.ones(3, dtype=d),
    "full": lambda L, d: L.full((2,), 7, dtype=d),
    "full_big": lambda L, d: L.full((2,), 1000, dtype=d),
    "empty": lambda L, d: L.empty(2, 3, dtype=d).shape,
    "zeros_like": lambda L, d: L.zeros_like(L.tensor([1, 2], dtype=d)),
    "fill_": lambda L, d: L.zeros(3, dtype=d).fill_(1000),
    "fill_in_range": lambda L, d: L.zeros(3, dtype=d).fill_(3.3),
    "zero_": lambda L, d: L.ones(3, dtype=d).zero_(),
    "eye": lambda L, d: L.eye(2, dtype=d),
    "arange": lambda L, d: L.arange(4, dtype=d),
    "linspace": lambda L, d: L.linspace(0, 3, 4, dtype=d),
    "rand": lambda L, d: L.rand(3, dtype=d),
    "randn": lambda L, d: L.randn(3, dtype=d),
    "randint_dtype": lambda L, d: L.randint(0, 5, (3,), dtype=d).dtype,
    "type": lambda L, d: L.ones(2, dtype=d).type(),
    "item": lambda L, d: L.tensor([3], dtype=d).item(),
}


@requires_torch
@pytest.mark.parametrize("name", HELD)
@pytest.mark.parametrize("case", sorted(_MAKE))
def test_creation_matches_torch(name, case):
    t = _outcome(lambda L: _MAKE[case](L, getattr(L, name)), torch)
    e = _outcome(lambda L: _MAKE[case](L, getattr(L, name)), ember)
    if case in ("type", "randint_dtype") and t[0] == "ok":
        assert str(t[2]).replace("torch.", "") == str(e[2]).replace("ember.", "").replace("torch.", "")
        return
    _same(t, e)


@requires_torch
@pytest.mark.parametrize("name", UINTS)
@pytest.mark.parametrize("data", [[2 ** 64 - 1], [2 ** 63], [-1], [70000], [-70000], 5, [1.5, 2.25, 300.0],
                                  [[1, 2], [3, 4]], [], [True, False]], ids=str)
def test_unsigned_tensors_from_python_numbers_as_torch(name, data):
    _same(_outcome(lambda L: L.tensor(data, dtype=getattr(L, name)), torch),
          _outcome(lambda L: L.tensor(data, dtype=getattr(L, name)), ember))


@requires_torch
@pytest.mark.parametrize("name", HELD)
def test_printing_matches_torch(name):
    datas = [[[1, 2], [3, 250]], [1.5, -2.25, 448, 0.001], 5, [], [[0.5, 1e-3, 200.0]],
             [float("nan"), float("inf"), 1.0], [0.5, 2.0, 1024.0, 1e30]]
    for data in datas:
        try:
            t = torch.tensor(data, dtype=getattr(torch, name))
        except (TypeError, RuntimeError):
            continue
        e = ember.tensor(data, dtype=getattr(ember, name))
        assert repr(e).replace("ember.", "torch.") == repr(t), data


# ---- ops: torch's result, or torch's error ----------------------------------------------------------
def _set(x, key, value):
    """x after x[key] = value."""
    x[key] = value
    return x


_OPS = {
    "add": lambda x, L: x + x, "add_number": lambda x, L: x + 1, "sub": lambda x, L: x - x,
    "add_": lambda x, L: x.clone().add_(x), "mul": lambda x, L: x * x, "mul_number": lambda x, L: x * 2,
    "mul_float": lambda x, L: x * 2.5, "mul_": lambda x, L: x.clone().mul_(x), "div": lambda x, L: x / x,
    "div_number": lambda x, L: x / 2, "floordiv": lambda x, L: x // x, "neg": lambda x, L: -x,
    "abs": lambda x, L: x.abs(), "pow": lambda x, L: x ** 2, "remainder": lambda x, L: x % 2,
    "eq": lambda x, L: x == x, "ne_number": lambda x, L: x != 2, "lt": lambda x, L: x < x,
    "ge": lambda x, L: x >= 1, "and": lambda x, L: x & x, "xor": lambda x, L: x ^ x, "invert": lambda x, L: ~x,
    "shift": lambda x, L: x << 1, "logical_not": lambda x, L: x.logical_not(),
    "exp": lambda x, L: x.exp(), "sqrt": lambda x, L: x.sqrt(), "sigmoid": lambda x, L: x.sigmoid(),
    "floor": lambda x, L: x.floor(), "relu": lambda x, L: x.relu(), "clamp": lambda x, L: x.clamp(0, 2),
    "isnan": lambda x, L: x.isnan(), "isinf": lambda x, L: x.isinf(), "isfinite": lambda x, L: x.isfinite(),
    "sum": lambda x, L: x.sum(), "sum_dim": lambda x, L: x.sum(0), "prod": lambda x, L: x.prod(),
    "mean": lambda x, L: x.mean(), "cumsum": lambda x, L: x.cumsum(0), "max": lambda x, L: x.max(),
    "max_dim": lambda x, L: x.max(0)[0], "amax": lambda x, L: x.amax(), "argmax": lambda x, L: x.argmax(),
    "std": lambda x, L: x.std(), "norm": lambda x, L: x.norm(), "any": lambda x, L: x.any(),
    "sort": lambda x, L: x.sort()[0], "unique": lambda x, L: L.unique(x), "topk": lambda x, L: x.flatten().topk(2)[0],
    "flip": lambda x, L: x.flip(0), "flip_last": lambda x, L: x.flip(-1), "flip_1d": lambda x, L: x[0].flip(0),
    "nonzero": lambda x, L: x.nonzero(), "tril": lambda x, L: x.tril(),
    "matmul": lambda x, L: x @ x, "dot": lambda x, L: x[0] @ x[0], "softmax": lambda x, L: x.softmax(0),
    "where": lambda x, L: L.where(L.tensor([[True, False], [False, True]]), x, x),
    "masked_fill": lambda x, L: x.masked_fill(L.tensor([[True, False], [False, True]]), 0),
    "mask_index": lambda x, L: x[L.tensor([[True, False], [False, True]])],
    "mask_setitem": lambda x, L: x.clone().__setitem__(L.tensor([[True, False], [False, True]]), 0),
    "index_select": lambda x, L: x.index_select(0, L.tensor([1, 0])),
    "index_select_1d": lambda x, L: x[0].index_select(0, L.tensor([1, 0])),
    "gather_1d": lambda x, L: x[0].gather(0, L.tensor([1, 0])),
    "gather": lambda x, L: x.gather(0, L.tensor([[0, 1]])), "isin": lambda x, L: L.isin(x, x),
    "cat": lambda x, L: L.cat([x, x]), "stack": lambda x, L: L.stack([x, x]), "view": lambda x, L: x.view(4),
    "t_contiguous": lambda x, L: x.t().contiguous(), "clone": lambda x, L: x.clone(),
    "getitem": lambda x, L: x[1], "setitem_big": lambda x, L: _set(x.clone(), (0, 0), 1000),
    "setitem_zero": lambda x, L: _set(x.clone(), (0, 0), 0), "setitem_float": lambda x, L: _set(x.clone(), 0, 3.3),
    "setitem_tensor": lambda x, L: _set(x.clone(), 1, L.tensor(500.0)), "equal": lambda x, L: L.equal(x, x),
    "allclose": lambda x, L: L.allclose(x, x),
    "with_float32": lambda x, L: x + L.ones(2), "with_int64": lambda x, L: x + L.ones(2, dtype=L.int64),
    "copy_into_float": lambda x, L: L.zeros(2, 2).copy_(x), "numpy": lambda x, L: x.numpy().dtype.name,
}


@requires_torch
@pytest.mark.parametrize("name", HELD)
@pytest.mark.parametrize("op", sorted(_OPS))
def test_op_matches_torch(name, op):
    def run(L):
        return _OPS[op](L.tensor([[1, 2], [3, 4]], dtype=getattr(L, name)), L)
    if name == "float8_e5m2" and op in ("relu", "softmax"):
        # ml_dtypes gives float8_e5m2 NumPy's kind 'f', so these float32 hot paths (which test only the
        # kind) compute where torch refuses: left so, as a check there would cost float32 every call
        pytest.xfail("float8_e5m2 takes the float32 fast path of relu and softmax")
    t, e = _outcome(run, torch), _outcome(run, ember)
    if op == "numpy" and t[0] == "ok":   # (ember's float8 arrays are ml_dtypes' own: torch refuses them)
        assert e == t
        return
    _same(t, e)


@pytest.mark.skipif(ml_dtypes is None, reason="ml_dtypes (ember's float8 arrays) is not installed")
@requires_torch
def test_float8_mul_rounds_and_saturates_as_torch():
    v = torch.tensor([300.0, -300.0, 1.5, 0.01, 20.0, 448.0])
    for name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"):
        t = v.to(getattr(torch, name))
        e = ember.tensor(v.tolist()).to(getattr(ember, name))
        assert _bits(e * e) == _bits(t * t), name


@requires_torch
def test_an_error_says_what_to_do():
    x = ember.ones(2, dtype=ember.uint16)
    with pytest.raises(NotImplementedError, match=r"\"add_stub\" not implemented for 'UInt16' .*\.to\(ember\.int64\)"):
        x + x
    with pytest.raises(RuntimeError, match=r"Promotion for uint16, uint32, uint64 types is not supported, attempted "
                                           r"to promote UInt16 and Long \(convert with"):
        x + ember.ones(2, dtype=ember.int64)


# ---- torch.save / torch.load --------------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("name", HELD)
def test_checkpoints_round_trip_with_torch(name):
    t = torch.tensor([[1, 2, 3], [4, 0, 64]], dtype=getattr(torch, name))
    buf = io.BytesIO()
    torch.save({"a": t, "b": t[:, 1:], "c": torch.ones(2)}, buf)
    buf.seek(0)
    e = ember.load(buf)
    assert e["a"].dtype is getattr(ember, name)
    assert _bits(e["a"]) == _bits(t) and _bits(e["b"]) == _bits(t[:, 1:].contiguous())
    back = io.BytesIO()
    ember.save(e, back)
    back.seek(0)
    t2 = torch.load(back)
    assert t2["a"].dtype is t.dtype and _bits(t2["a"]) == _bits(t) and _bits(t2["b"]) == _bits(t[:, 1:].contiguous())
    assert t2["c"].tolist() == [1.0, 1.0]


@pytest.mark.skipif(ml_dtypes is None, reason="ml_dtypes (ember's float8 arrays) is not installed")
@pytest.mark.parametrize("name", FLOAT8)
def test_a_float8_tensor_refuses_the_gpu_clearly(name):
    # (CuPy has no float8; the check comes before any CuPy call, so it runs without a GPU too)
    from ember.ops.convert import _move
    with pytest.raises(RuntimeError, match=rf"{name} tensors on the CPU only .* x\.float\(\)\.to\('cuda'\)"):
        _move(ember.ones(2, dtype=getattr(ember, name))._data, ember.device("cuda"))
