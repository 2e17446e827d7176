"""Creation functions against torch: randint's signatures, torch.Tensor(), Python types as dtypes,
NumPy scalars in tensor(), size=, arange/linspace bit for bit, constants, finfo/iinfo, legacy types."""
import math
import warnings
import platform

import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8"]


def _same_bits(e, t):
    """ember and torch tensors hold the same dtype, shape and bytes (so -0. and 0. differ)."""
    a, b = e.numpy(), t.numpy()
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    assert a.shape == b.shape
    assert a.tobytes() == b.tobytes(), (a[a != b][:5], b[a != b][:5])


def _both(fn):
    """fn(ember) and fn(torch): both results, or both exception types."""
    out = []
    for mod in (ember, torch):
        try:
            out.append(fn(mod))
        except Exception as exc:  # noqa: BLE001 - the type is what we compare
            out.append(type(exc))
    return out


# ---- randint -------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda T: T.randint(10, (3,)),
    lambda T: T.randint(2, (5,), dtype=T.float32),
    lambda T: T.randint(high=10, size=(3,)),
    lambda T: T.randint(low=0, high=10, size=(3,)),
    lambda T: T.randint(0, high=10, size=(3,)),
    lambda T: T.randint(10, size=(2, 2)),
    lambda T: T.randint(3, 5, [4]),
    lambda T: T.randint(0, 2, (6,), dtype=T.bool),
])
def test_randint_signatures(call):
    e = call(ember)
    if torch is not None:
        t = call(torch)
        assert e.shape == t.shape and str(e.dtype)[6:] == str(t.dtype)[6:]
    low = 3 if e.shape == (4,) else 0
    assert ((e.numpy() >= low) & (e.numpy() < 10)).all()


@pytest.mark.parametrize("call, exc", [
    (lambda T: T.randint(0, 10, 3), TypeError),
    (lambda T: T.randint(10, 3), TypeError),
    (lambda T: T.randint(10, size=3), TypeError),
    (lambda T: T.randint(10), TypeError),
    (lambda T: T.randint(2.5, (3,)), TypeError),
    (lambda T: T.randint(5, 2, (3,)), RuntimeError),
    (lambda T: T.randint(0, 300, (3,), dtype=T.uint8), RuntimeError),
    (lambda T: T.randint(-1, 3, (3,), dtype=T.uint8), RuntimeError),
])
def test_randint_rejects_like_torch(call, exc):
    with pytest.raises(exc):
        call(ember)
    if torch is not None:
        with pytest.raises(exc):
            call(torch)


def test_randint_like_default_low():
    x = ember.randint_like(ember.ones(50), 5)
    assert x.dtype is ember.float32 and 0 <= x.min().item() and x.max().item() < 5


# ---- torch.Tensor() and the legacy constructors --------------------------------------------------
def test_tensor_constructor_empty_and_size():
    acc = ember.Tensor()
    assert acc.shape == (0,) and acc.dtype is ember.float32 and repr(acc) == "tensor([])"
    assert ember.cat([acc, ember.ones(2)]).tolist() == [1.0, 1.0]
    assert ember.Tensor(ember.Size([2, 3])).shape == (2, 3)
    assert ember.Tensor((2, 3)).tolist() == [2.0, 3.0]  # a plain tuple is data
    assert ember.Tensor([1, 2]).tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="data must be a sequence"):
        ember.Tensor(2.5)
    with pytest.raises(RuntimeError, match="negative dimension"):
        ember.Tensor(-1)


@requires_torch
@pytest.mark.parametrize("name, args", [
    ("FloatTensor", ([1, 2],)), ("FloatTensor", ()), ("DoubleTensor", ([1.5],)), ("LongTensor", ([1.7, -2.7],)),
    ("IntTensor", ([3],)), ("BoolTensor", ([0, 2],)), ("ByteTensor", ([1, 255],)), ("HalfTensor", ([0.1, 2],)),
    ("ShortTensor", ([7],)), ("CharTensor", ([-3],)),
])
def test_legacy_constructors_with_data(name, args):
    _same_bits(getattr(ember, name)(*args), getattr(torch, name)(*args))


def test_legacy_constructors_sizes_and_isinstance():
    x = ember.FloatTensor(2, 3)
    assert x.shape == (2, 3) and x.dtype is ember.float32
    assert ember.LongTensor(ember.Size([4])).dtype is ember.int64
    assert isinstance(ember.ones(2), ember.FloatTensor)
    assert not isinstance(ember.ones(2), ember.DoubleTensor)
    assert isinstance(ember.ones(2, dtype=ember.long), ember.LongTensor)
    assert not isinstance(np.ones(2), ember.FloatTensor)
    assert type(ember.FloatTensor([1])) is ember.Tensor
    assert ember.FloatTensor.dtype is ember.float32
    assert repr(ember.FloatTensor) == "<class 'ember.FloatTensor'>"
    assert ember.ones(2).type(ember.DoubleTensor).dtype is ember.float64
    a = ember.ones(2)
    assert ember.FloatTensor(a).data_ptr() == a.data_ptr()  # torch aliases a tensor of its own dtype
    with pytest.raises(TypeError):
        ember.FloatTensor(ember.tensor([1, 2]))


@requires_torch
@pytest.mark.parametrize("name, data", [
    ("ByteTensor", [300]), ("ByteTensor", [255.9]), ("CharTensor", [200]), ("ShortTensor", [[1], [70000]]),
    ("IntTensor", [2 ** 40]), ("LongTensor", [2 ** 63]),
])
def test_legacy_constructors_out_of_range(name, data):
    # torch's RuntimeError (ValueError beyond int64), not NumPy's OverflowError
    raised = _both(lambda T: getattr(T, name)(data))
    assert raised[0] is raised[1] and raised[0] in (RuntimeError, ValueError)
    if raised[0] is RuntimeError:
        with pytest.raises(RuntimeError, match="without overflow"):
            getattr(ember, name)(data)


@requires_torch
@pytest.mark.parametrize("name, data", [("ByteTensor", [-1, 255]), ("ByteTensor", [1.7, True]),
                                        ("CharTensor", [-128, 127])])
def test_legacy_constructors_in_range_edges(name, data):
    _same_bits(getattr(ember, name)(data), getattr(torch, name)(data))
    _same_bits(getattr(ember, name)(np.array([300, -1])), getattr(torch, name)(np.array([300, -1])))


@requires_torch
def test_legacy_isinstance_matches_torch():
    for name in ("FloatTensor", "DoubleTensor", "LongTensor", "BoolTensor"):
        for make in (lambda T: T.ones(2), lambda T: T.ones(2, dtype=T.float64), lambda T: T.tensor([1]),
                     lambda T: T.tensor([True])):
            assert isinstance(make(ember), getattr(ember, name)) == isinstance(make(torch), getattr(torch, name))
    assert issubclass(ember.FloatTensor, ember.Tensor) == issubclass(torch.FloatTensor, torch.Tensor)


# ---- Python types as dtypes ------------------------------------------------------------------------
@pytest.mark.parametrize("pytype, expected", [(float, "float64"), (int, "int64"), (bool, "bool")])
def test_python_types_as_dtype(pytype, expected):
    want = getattr(ember, expected)
    assert ember.zeros(2, dtype=pytype).dtype is want
    assert ember.ones(2, dtype=pytype).dtype is want
    assert ember.full((2,), 1, dtype=pytype).dtype is want
    assert ember.tensor([1, 0], dtype=pytype).dtype is want
    assert ember.ones(2).to(pytype).dtype is want
    assert ember.arange(3, dtype=pytype).dtype is want if pytype is not bool else True
    if torch is not None:
        assert str(torch.zeros(2, dtype=pytype).dtype) == f"torch.{expected}"


def test_python_float_is_float64_even_with_another_default():
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.zeros(1, dtype=float).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    assert ember.zeros(1, dtype=float).dtype is ember.float64
    with pytest.raises(TypeError):
        ember.set_default_dtype(float)  # torch takes only dtypes there


_DTYPE_CALLS = [
    "T.tensor([1, 2], dtype=d)", "T.as_tensor([1, 2], dtype=d)", "T.zeros(2, dtype=d)", "T.ones(2, dtype=d)",
    "T.empty(2, dtype=d)", "T.full((2,), 1., dtype=d)", "T.zeros_like(T.ones(2), dtype=d)",
    "T.ones(2).new_zeros(2, dtype=d)", "T.ones(2).new_tensor([1], dtype=d)", "T.arange(3, dtype=d)",
    "T.randn(2, dtype=d)", "T.rand(2, dtype=d)", "T.eye(2, dtype=d)", "T.linspace(0, 1, 3, dtype=d)",
    "T.ones(2).cumsum(0, dtype=d)", "T.ones(2).sum(dtype=d)", "T.ones(2).to(dtype=d)", "T.ones(2).to(d)",
]


@requires_torch
@pytest.mark.parametrize("call", _DTYPE_CALLS)
@pytest.mark.parametrize("name", ["'float32'", "np.float32", "float", "None"])
def test_dtype_names_and_numpy_types_are_refused_as_torch(call, name):
    # torch takes its dtypes and Python's float, int, bool, complex; a name or a NumPy type is a TypeError
    # (Tensor.to('float32') reads the string as a device, a RuntimeError in both)
    outcomes = []
    for T in (torch, ember):
        try:
            r = eval(call, {"T": T, "d": eval(name)})
            outcomes.append(str(r.dtype).split(".")[1])
        except (TypeError, RuntimeError) as e:
            outcomes.append((type(e), str(e).replace("torch.", "ember.")))
    theirs, ours = outcomes
    if isinstance(theirs, str):
        assert ours == theirs
    else:
        assert ours[0] is theirs[0], (ours, theirs)
        if "argument 'dtype' must be" in theirs[1]:
            assert ours[1].startswith(theirs[1]), (ours, theirs)


# Python numbers into an integer dtype, as torch converts each (c10::checked_convert): an unsigned type
# takes -max..-1 as two's complement, a signed one only its range; a float must lie in the range (it is
# truncated), so 255.9 and -0.5 are refused for uint8; an int past int64 can't be read at all
_INT_CONVERSIONS = [
    "T.tensor([-1], dtype=T.uint8)", "T.tensor(-1, dtype=T.uint8)", "T.tensor([-255, 255], dtype=T.uint8)",
    "T.tensor([-256], dtype=T.uint8)", "T.tensor(300, dtype=T.uint8)", "T.tensor([200], dtype=T.int8)",
    "T.tensor([-129], dtype=T.int8)", "T.tensor([40000], dtype=T.int16)", "T.tensor([2**31], dtype=T.int32)",
    "T.tensor([2**63], dtype=T.int64)", "T.tensor([2**64], dtype=T.uint8)", "T.tensor([2**63 - 1], dtype=T.int64)",
    "T.tensor([1.5, -1.7], dtype=T.int8)", "T.tensor([255.9], dtype=T.uint8)", "T.tensor([-0.5], dtype=T.uint8)",
    "T.tensor([-0.5], dtype=T.int8)", "T.tensor([1e10], dtype=T.int32)", "T.tensor([float('nan')], dtype=T.int32)",
    "T.tensor([float('inf')], dtype=T.int64)", "T.tensor([[1, -1], [300, 2]], dtype=T.uint8)",
    "T.tensor([-1, 2.5], dtype=T.uint8)", "T.tensor([[-1], [2.5]], dtype=T.uint8)",
    "T.tensor([True, -1], dtype=T.uint8)",
    "T.tensor([2**63, 1.5], dtype=T.int64)", "T.tensor((-1, 2), dtype=T.uint8)", "T.tensor([], dtype=T.uint8)",
    "T.as_tensor([-1], dtype=T.uint8)", "T.ones(2).new_tensor([-1], dtype=T.uint8)",
    "T.tensor(np.array([-1]), dtype=T.uint8)",
    "T.full((2,), -1, dtype=T.uint8)", "T.full((2,), -256, dtype=T.uint8)", "T.full((2,), 300, dtype=T.uint8)",
    "T.full((2,), 200, dtype=T.int8)", "T.full((2,), 1.5, dtype=T.uint8)", "T.full((2,), -0.5, dtype=T.uint8)",
    "T.full((2,), 2**63, dtype=T.uint8)", "T.full((2,), True, dtype=T.uint8)",
    "T.ones(2, dtype=T.uint8).fill_(-1)", "T.ones(2, dtype=T.uint8).fill_(300)", "T.ones(2, dtype=T.int8).fill_(200)",
    "T.ones(2, dtype=T.int32).fill_(2**31)", "T.ones(2, dtype=T.int64).fill_(2**63)",
    "T.ones(2, dtype=T.uint8).fill_(255.5)", "T.ones(2, dtype=T.uint8).fill_(T.tensor(300))",
    "T.ones(2, dtype=T.int8).fill_(T.tensor(200))",
    "T.scalar_tensor(300, dtype=T.uint8)", "T.scalar_tensor(-1, dtype=T.uint8)", "T.scalar_tensor(3.7, dtype=T.int8)",
    "T.zeros(2, dtype=T.int8).index_fill_(0, T.tensor([0]), 200)",
    "T.zeros(2, dtype=T.uint8).index_fill(0, T.tensor([0]), -1)",
    "T.zeros(2, dtype=T.int8).index_fill_(0, T.tensor([0]), T.tensor(200))",
    "S(T, 0, 300)", "S(T, 0, -1)", "S(T, slice(0, 1), 300)", "S(T, T.tensor([0]), 255.9)", "S(T, 0, -0.5)",
    "S(T, T.tensor([True, False]), 2**70)", "S(T, 1, 7.9)",
    "T.zeros(2, dtype=T.uint8).masked_fill(T.tensor([True, False]), 300)",
    "T.zeros(2, dtype=T.uint8).masked_fill_(T.tensor([True, False]), -1)",
    "T.zeros(2, dtype=T.int8).masked_fill(T.tensor([True, False]), 127.5)",
    "T.full_like(T.zeros(2, dtype=T.uint8), 300)", "T.full_like(T.zeros(2, dtype=T.uint8), -1)",
    "T.full_like(T.zeros(2), 300, dtype=T.int8)",
    "T.zeros(2, dtype=T.uint8).scatter_(0, T.tensor([0]), 300)", "T.zeros(2, dtype=T.uint8).scatter(0, T.tensor([0]), -1)",
    "T.zeros(2, 2, dtype=T.uint8).fill_diagonal_(300)", "T.zeros(2, 2, dtype=T.uint8).fill_diagonal_(-1)",
    "T.where(T.tensor([True, False]), T.zeros(2, dtype=T.uint8), 300)",
    "T.where(T.tensor([True, False]), -129, T.zeros(2, dtype=T.int8))",
    "T.where(T.tensor([True, False]), T.zeros(2, dtype=T.uint8), -1)",
]


def _setitem_uint8(T, key, value):
    """uint8 zeros(2) after x[key] = value."""
    x = T.zeros(2, dtype=T.uint8)
    x[key] = value
    return x


@requires_torch
@pytest.mark.parametrize("call", _INT_CONVERSIONS)
def test_python_numbers_into_integer_dtypes_as_torch(call):
    outcomes = []
    for T in (torch, ember):
        try:
            r = eval(call, {"T": T, "np": np, "S": _setitem_uint8})
            outcomes.append((str(r.dtype).split(".")[1], r.tolist()))
        except (RuntimeError, ValueError) as e:
            outcomes.append((type(e), str(e)))
    theirs, ours = outcomes
    if isinstance(theirs[0], str):
        assert ours == theirs
    else:
        assert ours[0] is theirs[0] and ours[1].startswith(theirs[1]), (ours, theirs)


# ---- NumPy scalars in tensor() ----------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: [np.float64(0.5), np.float64(1.5)], lambda: [np.float64(0.5), 1.5], lambda: [np.float16(1), 2.0],
    lambda: [np.float16(1), np.float64(2)], lambda: [np.float32(1), 2.0], lambda: [np.int32(1), np.int32(2)],
    lambda: [np.int16(1)], lambda: [np.uint8(1)], lambda: [np.uint8(1), 2], lambda: [np.uint8(1), np.int8(2)],
    lambda: [np.int32(1), 2.5], lambda: [1, np.float64(2)], lambda: [1, np.float16(2)],
    lambda: [[np.float64(1)], [2.0]], lambda: [np.float64(1), True], lambda: [1, 2], lambda: [1.0, 2],
    lambda: [True, False], lambda: [],
])
def test_tensor_infers_numpy_scalar_dtypes(make):
    e = ember.tensor(make())
    if torch is not None:
        _same_bits(e, torch.tensor(make()))
    elif any(isinstance(x, np.float64) for x in make()):
        assert e.dtype is ember.float64


def test_numpy_scalars_with_explicit_dtype():
    assert ember.tensor([np.float64(1.0)], dtype=ember.float32).dtype is ember.float32
    assert ember.tensor([ember.tensor(1.0, dtype=ember.float64), 2.0]).dtype is ember.float64


# ---- size= -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["zeros", "ones", "empty", "rand", "randn"])
def test_size_keyword(name):
    fn = getattr(ember, name)
    assert fn(size=(2, 3)).shape == (2, 3)
    assert fn(size=[4]).shape == (4,)
    assert fn(size=ember.Size([1, 2])).shape == (1, 2)
    with pytest.raises(TypeError):
        fn(size=3)
    with pytest.raises(TypeError):
        fn(2, size=(3,))
    if torch is not None:
        with pytest.raises(TypeError):
            getattr(torch, name)(size=3)


@pytest.mark.parametrize("call, exc", [
    (lambda T: T.full(3, 1.0), TypeError),
    (lambda T: T.rand(3, dtype=T.int64), NotImplementedError),
    (lambda T: T.randn(2, dtype=T.int64), NotImplementedError),
    (lambda T: T.rand_like(T.ones(2, dtype=T.long)), NotImplementedError),
    (lambda T: T.arange(5, 0), RuntimeError),
    (lambda T: T.arange(0, 5, -1), RuntimeError),
    (lambda T: T.arange(0, 5, 0), RuntimeError),
    (lambda T: T.arange(0, float("inf")), RuntimeError),
    (lambda T: T.arange(0, 5, 0.5, dtype=T.int64), ValueError),
    (lambda T: T.arange(3, dtype=T.bool), NotImplementedError),
    (lambda T: T.arange(start=2), TypeError),
    (lambda T: T.linspace(0, 1, -1), RuntimeError),
    (lambda T: T.linspace(0, 1, 2.0), TypeError),
    # no size at all is an error, not a 0-dim tensor (T.zeros(()) is the scalar)
    (lambda T: T.zeros(), TypeError),
    (lambda T: T.ones(dtype=T.int64), TypeError),
    (lambda T: T.empty(), TypeError),
    (lambda T: T.rand(), TypeError),
    (lambda T: T.randn(), TypeError),
    # string labels (a custom Dataset's): torch's famous ValueError "too many dimensions 'str'"
    (lambda T: T.tensor(["cat", "dog"]), ValueError),
    (lambda T: T.tensor([["cat"], ["dog"]]), ValueError),
    (lambda T: T.tensor([1, "dog"]), TypeError),
    (lambda T: T.tensor([object()]), RuntimeError),
])
def test_creation_errors_like_torch(call, exc):
    with pytest.raises(exc):
        call(ember)
    if torch is not None:
        with pytest.raises(exc):
            call(torch)


def test_arange_inconsistent_message():
    with pytest.raises(RuntimeError, match="upper bound and lower bound inconsistent with step sign"):
        ember.arange(5, 0)
    with pytest.raises(RuntimeError, match="upper bound and lower bound inconsistent with step sign"):
        ember.arange(-3)


# ---- arange / linspace bit for bit ------------------------------------------------------------------
def test_arange_keeps_torchs_residue():
    # torch's kernel computes -1 + 0.2*5 as one fused multiply-add, leaving 2**-54 in place of 0
    x = ember.arange(-1, 1, 0.2)
    assert x.numpy()[5] == np.float32(5.551115123125783e-17)
    assert "5.5511e-17" in str(x)
    assert ember.linspace(-1, 1, 11).numpy()[5] == np.float32(-1.4901161e-08)
    assert ember.linspace(-10, 10, 15).numpy()[7] == np.float32(-2.3841858e-07)


@pytest.mark.parametrize("args", [(5,), (0,), (2, 9), (3, 3), (-4, 2), (0, 10, 3), (10, 0, -3), (0.5, 5), (0, 5, 0.5), (-1, 1, 0.2),
                                  (1, 2.5, 0.25), (0, 5.5, 1), (0, 5, 1.5)])
@requires_torch
def test_arange_default_dtype_matches_torch(args):
    _same_bits(ember.arange(*args), torch.arange(*args))
    assert ember.arange(end=3).tolist() == torch.arange(end=3).tolist()


_X86 = platform.machine().lower() in ("x86_64", "amd64")


def _x86_torch():
    # the float arange emulation follows torch's x86 kernels (256-bit vectors); other CPUs' builds differ
    if not _X86 or torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
        pytest.skip("torch's float arange is emulated for its x86 AVX2/AVX512 builds")


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_arange_bitwise_random_cases(dtype):
    if dtype.startswith("float"):
        _x86_torch()
    rng = np.random.default_rng(DTYPES.index(dtype))
    for _ in range(60):
        start = float(np.round(rng.standard_normal() * 10.0 ** rng.integers(-2, 3), rng.integers(0, 4)))
        step = float(np.round(rng.standard_normal() * 10.0 ** rng.integers(-2, 1), rng.integers(1, 5))) or 0.1
        end = start + step * int(rng.integers(0, 300)) + float(rng.random() * step)
        res = _both(lambda T: T.arange(start, end, step, dtype=getattr(T, dtype)))
        if isinstance(res[1], type):
            assert res[0] is res[1], (start, end, step)
        else:
            _same_bits(*res)


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("n, step", [(100000, 0.1), (32769, 0.37)])
def test_arange_bitwise_large(dtype, n, step):
    # past torch's grain size the range is split over threads, each with its own vector/tail split
    if dtype.startswith("float"):
        _x86_torch()
    else:
        step *= 30  # an integer step once truncated
    before = torch.get_num_threads()
    try:
        for threads in (1, 3):
            torch.set_num_threads(threads)
            ember.set_num_threads(threads)
            _same_bits(ember.arange(0.3, 0.3 + n * step, step, dtype=getattr(ember, dtype)),
                       torch.arange(0.3, 0.3 + n * step, step, dtype=getattr(torch, dtype)))
    finally:
        torch.set_num_threads(before)
        ember.set_num_threads(before)


@requires_torch
@pytest.mark.parametrize("args", [(-1, 1, 11), (-10, 10, 15), (0, 1, 7), (-5, 5, 100), (0, 1, 1), (0, 1, 0),
                                  (3, 3, 4), (0, 10, 5), (0, 2 * math.pi, 64), (-0.0, -0.3, 416), (1e-3, 7e5, 333)])
def test_linspace_default_dtype_matches_torch(args):
    _same_bits(ember.linspace(*args), torch.linspace(*args))


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_linspace_bitwise_random_cases(dtype):
    rng = np.random.default_rng(100 + DTYPES.index(dtype))
    for _ in range(60):
        start = float(np.round(rng.standard_normal() * 10.0 ** rng.integers(-2, 3), rng.integers(0, 4)))
        end = float(np.round(rng.standard_normal() * 10.0 ** rng.integers(-2, 3), rng.integers(0, 4)))
        if dtype in ("uint8", "int8"):
            start, end = abs(start) % 127, abs(end) % 127
        steps = int(rng.integers(0, 500))
        _same_bits(ember.linspace(start, end, steps, dtype=getattr(ember, dtype)),
                   torch.linspace(start, end, steps, dtype=getattr(torch, dtype)))


# ---- constants, finfo, iinfo ------------------------------------------------------------------------
def test_constants():
    assert ember.pi == math.pi and ember.e == math.e and ember.inf == math.inf and math.isnan(ember.nan)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_finfo(dtype):
    fi = ember.finfo(getattr(ember, dtype))
    assert fi.dtype == dtype and fi == ember.finfo(getattr(ember, dtype))
    assert fi.eps == float(np.finfo(dtype).eps) and fi.max == -fi.min
    if torch is not None:
        ti = torch.finfo(getattr(torch, dtype))
        for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
            assert getattr(fi, attr) == getattr(ti, attr), attr
            assert type(getattr(fi, attr)) is type(getattr(ti, attr)), attr
        assert repr(fi) == repr(ti)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64"])
def test_iinfo(dtype):
    ii = ember.iinfo(getattr(ember, dtype))
    assert (ii.min, ii.max, ii.bits, ii.dtype) == (int(np.iinfo(dtype).min), int(np.iinfo(dtype).max),
                                                   np.iinfo(dtype).bits, dtype)
    if torch is not None:
        ti = torch.iinfo(getattr(torch, dtype))
        assert (ii.min, ii.max, ii.bits, ii.dtype) == (ti.min, ti.max, ti.bits, ti.dtype)
        assert repr(ii) == repr(ti)


def test_finfo_iinfo_defaults_and_errors():
    assert ember.finfo().dtype == "float32"
    assert ember.finfo(float).dtype == "float64"
    for bad in (lambda M: M.finfo(M.int32), lambda M: M.iinfo(M.float32), lambda M: M.iinfo(M.bool),
                lambda M: M.finfo("float32")):
        with pytest.raises(TypeError):
            bad(ember)
        if torch is not None:
            with pytest.raises(TypeError):
                bad(torch)


def test_tensor_from_a_tensor_warns_at_the_callers_line_like_torch():
    # the transforms tutorial's Lambda(lambda y: ... torch.tensor(y) ...) meets this when y is a tensor
    src = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning) as record:
        out = ember.tensor(src)
    assert len(record) == 1 and record[0].filename == __file__
    assert str(record[0].message) == (
        "To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or "
        "sourceTensor.detach().clone().requires_grad_(True), rather than torch.tensor(sourceTensor).")
    assert out.tolist() == [1.0, 2.0] and not out.requires_grad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.tensor([1.0, 2.0])  # no warning from data that is not a tensor
        ember.as_tensor(src)


@requires_torch
def test_tensor_from_a_tensor_warning_matches_torch():
    with pytest.warns(UserWarning) as t:
        torch.tensor(torch.ones(2))
    with pytest.warns(UserWarning) as e:
        ember.tensor(ember.ones(2))
    assert str(e[0].message) == str(t[0].message)


# random fills of dtypes torch has no kernel for: refused before anything is drawn (ember filled ints
# with truncated floats)
RANDOM_KERNELS = {
    "normal_": lambda T, d: T.zeros(3, dtype=d).normal_(),
    "uniform_": lambda T, d: T.zeros(3, dtype=d).uniform_(),
    "exponential_": lambda T, d: T.zeros(3, dtype=d).exponential_(),
    "cauchy_": lambda T, d: T.zeros(3, dtype=d).cauchy_(),
    "log_normal_": lambda T, d: T.zeros(3, dtype=d).log_normal_(),
    "geometric_": lambda T, d: T.zeros(3, dtype=d).geometric_(0.5),
    "bernoulli_": lambda T, d: T.zeros(3, dtype=d).bernoulli_(0.5),
    "random_": lambda T, d: T.zeros(3, dtype=d).random_(),
    "random_ bounds": lambda T, d: T.zeros(3, dtype=d).random_(0, 2), "randperm": lambda T, d: T.randperm(3, dtype=d),
    "normal": lambda T, d: T.normal(0.0, 1.0, (3,), dtype=d),
    "normal tensor": lambda T, d: T.normal(T.zeros(3, dtype=d), 1.0),
    "poisson": lambda T, d: T.poisson(T.ones(3, dtype=d)), "bernoulli": lambda T, d: T.bernoulli(T.zeros(3, dtype=d)),
    "bernoulli_ tensor p": lambda T, d: T.zeros(3).bernoulli_(T.zeros(3, dtype=d)),
    "init.kaiming_uniform_": lambda T, d: T.nn.init.kaiming_uniform_(T.zeros(2, 2, dtype=d)),
    "multinomial": lambda T, d: T.multinomial(T.ones(3, dtype=d), 2),
}


@requires_torch
@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool", "float16", "complex64"])
@pytest.mark.parametrize("name", sorted(RANDOM_KERNELS))
def test_random_kernels_refuse_dtypes_as_torch(name, dtype):
    def run(T):
        T.manual_seed(0)
        try:
            out = RANDOM_KERNELS[name](T, getattr(T, dtype))
            return "ok", str(out.dtype).split(".")[1], T.rand(1).item()   # nothing drawn on refusal
        except Exception as e:  # noqa: BLE001 - compared with torch's
            return type(e).__name__, str(e).split(" (")[0], T.rand(1).item()
    e, t = run(ember), run(torch)
    if t[0] == "RuntimeError" and "Cauchy" in t[1]:   # torch names the C++ type there ('long int')
        assert e[0] == t[0] and e[1].startswith("Cauchy distribution is a continuous probability distribution.")
    else:
        assert e == t


def test_requires_grad_must_be_a_bool():
    # torch's TypeError for requires_grad=1 (or a NumPy bool), in tensor() and the factories
    for make in (lambda v: ember.tensor([1.0], requires_grad=v), lambda v: ember.zeros(2, requires_grad=v),
                 lambda v: ember.full((2,), 1.0, requires_grad=v)):
        for value, name in ((1, "int"), (np.bool_(True), "numpy.bool")):
            with pytest.raises(TypeError, match=f"argument 'requires_grad' must be bool, not {name}"):
                make(value)
        assert make(True).requires_grad and not make(False).requires_grad
