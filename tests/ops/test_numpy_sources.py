"""Tensors made from NumPy arrays and other objects, and writes into memory a tensor may not write:
negative strides, torch.asarray's sharing rules, non-writable arrays, expanded tensors, in-place
operators on views; each against torch."""
import array
import warnings

import numpy as np
import pytest

import ember
from ember import _backend
from tests.conftest import requires_torch, torch

NEGATIVE = "At least one stride in the given numpy array is negative"


@pytest.mark.parametrize("make", [
    lambda T, a: T.tensor(a), lambda T, a: T.tensor(a, dtype=T.float32), lambda T, a: T.from_numpy(a),
    lambda T, a: T.as_tensor(a), lambda T, a: T.as_tensor(a, dtype=T.float32), lambda T, a: T.asarray(a),
    lambda T, a: T.asarray(a, copy=True), lambda T, a: T.Tensor(a), lambda T, a: T.FloatTensor(a),
])
@pytest.mark.parametrize("source", [lambda: np.arange(6.)[::-1], lambda: np.arange(6.)[2:3][::-1],
                                    lambda: np.arange(12.).reshape(3, 4)[:, ::-1]])
def test_negative_strides_are_refused_as_torch_refuses_them(make, source):
    with pytest.raises(ValueError, match=NEGATIVE):
        make(ember, source())
    if torch is not None:
        with pytest.raises(ValueError, match=NEGATIVE):
            make(torch, source())


def test_arrays_without_negative_strides_still_convert():
    a = np.arange(6.)
    assert ember.tensor(a[:0][::-1]).shape == (0,)          # NumPy gives an empty array stride +8
    with pytest.warns(UserWarning, match="list of numpy.ndarrays is extremely slow"):
        assert ember.tensor([a[::-1], a]).tolist()[0] == [5, 4, 3, 2, 1, 0]   # elements, not one array
    assert ember.tensor(a[::-1].copy()).tolist() == [5, 4, 3, 2, 1, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (torch warns too: broadcast_to's result is not writable)
        assert ember.from_numpy(np.broadcast_to(np.arange(3.), (2, 3))).tolist() == [[0, 1, 2]] * 2


def _describe(T, make):
    """What torch.asarray gives: the exception type and message, or the values, dtype, requires_grad,
    grad_fn and whether the result shares the source's memory."""
    source = np.arange(4.)
    leaf = T.arange(4.)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = make(T, source, leaf)
    except Exception as exc:  # noqa: BLE001 - compared with torch's
        return type(exc).__name__, str(exc)
    shares = np.shares_memory(out.detach().numpy(), source) or out.data_ptr() == leaf.data_ptr()
    return (out.detach().numpy().tolist(), str(out.dtype).split(".")[1], out.requires_grad,
            type(out.grad_fn).__name__ if out.grad_fn is not None else None, bool(shares), out is leaf)


ASARRAY = {
    "list": lambda T, a, t: T.asarray([1, 2]),
    "float": lambda T, a, t: T.asarray(1.5),
    "nested": lambda T, a, t: T.asarray([[1., 2.], [3., 4.]]),
    "tuple": lambda T, a, t: T.asarray((1, 2.5)),
    "empty list": lambda T, a, t: T.asarray([]),
    "list dtype": lambda T, a, t: T.asarray([1, 2], dtype=T.float64),
    "list copy=False": lambda T, a, t: T.asarray([1, 2], copy=False),
    "list requires_grad": lambda T, a, t: T.asarray([1., 2.], requires_grad=True),
    "list int requires_grad": lambda T, a, t: T.asarray([1, 2], requires_grad=True),
    "array": lambda T, a, t: T.asarray(a),
    "array copy": lambda T, a, t: T.asarray(a, copy=True),
    "array copy=False": lambda T, a, t: T.asarray(a, copy=False),
    "array dtype": lambda T, a, t: T.asarray(a, dtype=T.float32),
    "array dtype copy=False": lambda T, a, t: T.asarray(a, dtype=T.float32, copy=False),
    "numpy scalar": lambda T, a, t: T.asarray(np.float32(2.5)),
    "numpy scalar copy=False": lambda T, a, t: T.asarray(np.float32(2.5), copy=False),
    "0-d array copy=False": lambda T, a, t: T.asarray(np.array(3.), copy=False),
    "tensor": lambda T, a, t: T.asarray(t),
    "tensor copy": lambda T, a, t: T.asarray(t, copy=True),
    "tensor dtype": lambda T, a, t: T.asarray(t, dtype=T.int32),
    "tensor dtype copy=False": lambda T, a, t: T.asarray(t, dtype=T.int32, copy=False),
    "tensor requires_grad": lambda T, a, t: T.asarray(t, requires_grad=True),
    "int tensor requires_grad": lambda T, a, t: T.asarray(T.arange(3), requires_grad=True),
    "graph tensor": lambda T, a, t: T.asarray(T.ones(2, requires_grad=True) * 2),
    "graph tensor requires_grad=False": lambda T, a, t: T.asarray(T.ones(2, requires_grad=True) * 2,
                                                                  requires_grad=False),
    "graph tensor copy": lambda T, a, t: T.asarray(T.ones(2, requires_grad=True) * 2, copy=True),
    "grad leaf": lambda T, a, t: T.asarray(t.requires_grad_()),
    "grad leaf to int": lambda T, a, t: T.asarray(t.requires_grad_(), dtype=T.int32),
    "bytearray": lambda T, a, t: T.asarray(bytearray(b"\x00\x00\x80\x3f"), dtype=T.float32),
    "memoryview": lambda T, a, t: T.asarray(memoryview(bytearray(8)), dtype=T.int32),
    "array.array": lambda T, a, t: T.asarray(array.array("f", [1, 2])),
    "device": lambda T, a, t: T.asarray([1, 2], device="cpu"),
}


@requires_torch
@pytest.mark.parametrize("name", list(ASARRAY))
def test_asarray_matches_torch(name):
    got, want = _describe(ember, ASARRAY[name]), _describe(torch, ASARRAY[name])
    if isinstance(want[0], str):   # an error: the type, and torch's message at the start of ember's
        assert got[0] == want[0] and got[1].startswith(want[1].strip().rstrip(".")), (got, want)
    else:
        assert got == want


def test_asarray_errors_without_torch():
    with pytest.raises(ValueError, match="can't alias arbitrary sequence"):
        ember.asarray([1, 2], copy=False)
    with pytest.raises(ValueError, match="can't alias tensor with dtype 'Double' into dtype 'Float'"):
        ember.asarray(np.arange(2.), dtype=ember.float32, copy=False)
    with pytest.raises(TypeError, match="invalid data type 'str'"):
        ember.asarray("ab")
    t = ember.arange(2.).requires_grad_()
    with pytest.warns(UserWarning, match="unspecified requires_grad now defaults to obj.requires_grad") \
            if not ember.ops.creation._asarray_grad_warned[0] else warnings.catch_warnings():
        assert ember.asarray(t) is t and t.requires_grad


@pytest.fixture
def fresh_warning():
    """The non-writable warning comes once per process, as torch's: let this test see it again."""
    before = _backend._not_writable_warned[0]
    _backend._not_writable_warned[0] = False
    yield
    _backend._not_writable_warned[0] = before


def _read_only():
    a = np.arange(3.)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("share", [ember.from_numpy, ember.as_tensor, ember.asarray, ember.Tensor])
def test_sharing_a_non_writable_array_warns_once(share, fresh_warning):
    with pytest.warns(UserWarning, match="The given NumPy array is not writable"):
        share(_read_only())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        share(_read_only())


def test_copying_a_non_writable_array_does_not_warn(fresh_warning):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = ember.tensor(_read_only())
        ember.asarray(_read_only(), copy=True)
    t.add_(1)   # a copy: writable
    assert t.tolist() == [1, 2, 3]


@pytest.mark.parametrize("write", [
    lambda t: t.add_(1), lambda t: t.zero_(), lambda t: t.exp_(), lambda t: t.__setitem__(0, 5.),
    lambda t: t.copy_(ember.ones(3, dtype=ember.float64)), lambda t: ember.exp(t, out=t),
    lambda t: ember.nn.functional.relu(t, inplace=True), lambda t: t.masked_fill_(t > 0, 0.),
])
def test_writing_into_a_read_only_array_says_why(write):
    a = _read_only()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = ember.from_numpy(a)
    with pytest.raises(RuntimeError, match="read-only NumPy array") as info:
        write(t)
    assert "clone()" in str(info.value)
    assert a.tolist() == [0, 1, 2]


REFUSED_ON_EXPANDED = {
    "mul_": lambda t: t.mul_(2), "add_": lambda t: t.add_(t), "copy_": lambda t: t.copy_(t.new_ones(3)),
    "relu_": lambda t: t.relu_(), "clamp_": lambda t: t.clamp_(0, 1), "uniform_": lambda t: t.uniform_(),
    "sqrt_": lambda t: t.sqrt_(), "div_": lambda t: t.div_(2), "pow_": lambda t: t.pow_(2),
    "exp_": lambda t: t.exp_(), "scatter_": lambda t: t.scatter_(0, t.new_zeros(1).long(), 1.),
    "addcmul_": lambda t: t.addcmul_(t, t), "lerp_": lambda t: t.lerp_(t, 0.5), "round_": lambda t: t.round_(),
    "out=": lambda t: (ember if hasattr(t, "_data") else torch).add(t, 1, out=t),
    "bernoulli_": lambda t: t.bernoulli_(0.5),
    "index_add_": lambda t: t.index_add_(0, t.new_zeros(1).long(), t.new_ones(1)),
    "put_": lambda t: t.put_(t.new_zeros(1).long(), t.new_ones(1)),
    "masked_scatter_": lambda t: t.masked_scatter_(t >= 0, t.new_ones(3)),
    "dropout": lambda t: ember.nn.functional.dropout(t, 0.5, inplace=True) if hasattr(t, "_data")
    else torch.nn.functional.dropout(t, 0.5, inplace=True),
    "iadd": lambda t: t.__iadd__(1), "itruediv": lambda t: t.__itruediv__(2),
}


@pytest.mark.parametrize("name", list(REFUSED_ON_EXPANDED))
def test_expanded_tensors_refuse_writes_with_torchs_error(name):
    write = REFUSED_ON_EXPANDED[name]
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor refers to a single "
                                           "memory location"):
        write(ember.zeros(1).expand(3))
    if torch is not None:
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            write(torch.zeros(1).expand(3))


@requires_torch
@pytest.mark.parametrize("make", [lambda T: T.zeros(2, 3).expand(2, 3), lambda T: T.zeros(3).expand(1, 1, 3),
                                  lambda T: T.zeros(2, 3).expand_as(T.ones(2, 3)),
                                  lambda T: T.zeros(2, 3).broadcast_to((1, 2, 3)), lambda T: T.zeros(3).expand(-1)])
def test_expand_that_repeats_nothing_is_an_ordinary_writable_view(make):
    for T in (ember, torch):
        view = make(T)
        view.add_(1)
        view.view(-1)[1] = 5
        assert view._base.tolist() == (torch.ones(6) if view._base.numel() == 6 else torch.ones(3)).index_fill(
            0, torch.tensor([1]), 5).view(view._base.shape).tolist()


def test_method_broadcast_to_takes_sizes_one_by_one():
    t = ember.ones(3)
    assert t.broadcast_to(2, 3).shape == t.broadcast_to((2, 3)).shape == t.broadcast_to([2, 3]).shape == (2, 3)
    with pytest.raises(TypeError, match="must be tuple of ints"):
        ember.broadcast_to(t, 3)


def test_cdist_result_is_writable():
    d = ember.cdist(ember.ones(2, 3), ember.zeros(4, 3))
    d.zero_()
    assert d.sum().item() == 0


@requires_torch
@pytest.mark.parametrize("op", ["//=", "%=", "^=", "/=", "*=", "|=", "&=", "<<=", ">>="])
def test_inplace_operators_write_through_a_view_into_its_base(op):
    results = []
    for T in (ember, torch):
        base = T.arange(1, 7) if op in ("^=", "|=", "&=", "<<=", ">>=") else T.arange(1., 7.)
        view = base[1:4]
        ns = {"view": view}
        exec(f"view {op} 2", ns)
        assert ns["view"] is view   # changed in place, not rebound
        results.append(base.tolist())
    assert results[0] == results[1]


EXPANDED_WRITES = {
    "fill_": lambda T, x: x.fill_(1), "zero_": lambda T, x: x.zero_(),
    "masked_fill_": lambda T, x: x.masked_fill_(T.tensor([True, False, False]), 3.0),
    "index_fill_": lambda T, x: x.index_fill_(0, T.tensor([1]), 6.0),
    "index_put_": lambda T, x: x.index_put_((T.tensor([2]),), T.tensor(7.0)),
    "x[0] = 5": lambda T, x: x.__setitem__(0, 5.0), "x[1] = 0-d tensor": lambda T, x: x.__setitem__(1, T.tensor(9.0)),
    "x[mask] = tensor": lambda T, x: x.__setitem__(T.tensor([True, False, True]), T.tensor([7.0, 8.0])),
    "x[idx] = 4": lambda T, x: x.__setitem__(T.tensor([0, 2]), 4.0),
    "x[0:2] = 5": lambda T, x: x.__setitem__(slice(0, 2), 5.0), "x[...] = 3": lambda T, x: x.__setitem__(Ellipsis, 3.0),
    "copy_": lambda T, x: x.copy_(T.tensor(2.0)),
}


@requires_torch
@pytest.mark.parametrize("name", list(EXPANDED_WRITES))
def test_writes_into_expanded_tensors_as_torch(name):
    # torch still writes fill_, zero_, index ops and int-indexed assignment into the shared memory
    # (some with a deprecation warning), and refuses the rest
    def run(T):
        base = T.zeros(1)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                EXPANDED_WRITES[name](T, base.expand(3))
            except RuntimeError as e:
                return str(e).split(" (")[0].split(". Please")[0]
        return base.tolist(), [str(w.message).split(" (Triggered")[0] for w in seen]
    assert run(ember) == run(torch)


def test_expanded_writes_reach_a_2d_base():
    base = ember.zeros(2, 1)
    base.expand(2, 3).fill_(4.0)
    assert base.tolist() == [[4.0], [4.0]]
    view = ember.arange(6.0).reshape(2, 3)[:, :1].expand(2, 4)   # the owner is the arange
    view.zero_()
    assert view.tolist() == [[0.0] * 4] * 2
