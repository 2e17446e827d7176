"""Tensor.__getitem__ / __setitem__: numpy-style indexing with torch's views, errors and autograd."""
import numpy as np
import pytest

import ember
from tests.conftest import numeric_grad, requires_torch, torch

rng = np.random.default_rng(3)
X0 = rng.standard_normal((3, 4, 5)).astype(np.float32)


def _keys(lib):
    t = lib.tensor
    return [
        1, -1, (1, 2), (1, 2, 3), slice(1, None), slice(None, None, 2), (slice(None), 1),
        (Ellipsis, 2), (None, 1), (1, None, slice(1, 3)), (slice(0, 2), slice(1, None, 2), -2),
        [0, 2], [[0, 1], [2, 2]], (slice(None), [3, 0, 3]), ([0, 2], [1, 3]), ([0, 2], slice(None), [1, 4]),
        (1, [0, 2]), t([2, 0]), t([True, False, True]), t([[True, False, True, False]] * 3),
        (Ellipsis, t([1, 1, 4])), t(1), (t(2), slice(None), t(0)), (slice(None), None, [1, 2]),
        slice(-2, None), (slice(None), slice(None), slice(10, 20)),
        # an int beside advanced indices selects first, as in torch (numpy would put the list's dim first)
        (0, slice(None), [1, 2]), (1, slice(None), t([0, 4])), (0, Ellipsis, [1, 2]), (0, None, [1, 2]),
        ([0, 1], 0, [1, 2]), (slice(None), 1, [0, 2]), (1, [[0, 1], [2, 0]], slice(1, 3)), (0, True),
        (0, slice(None), t([True, False, True, False, True])),
        # select or slice, then a new dim: UnsqueezeBackward0 over a part of the input
        (0, None), (slice(1, 2), None),
        # a range is a sequence index, as in "What is torch.nn really?": input[range(n), target]
        range(2), (range(3), [1, 0, 3]), (slice(None), range(0, 4, 2)),
    ]


N_KEYS = len(_keys(ember))


@requires_torch
@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
@pytest.mark.parametrize("i", range(N_KEYS), ids=str)
def test_getitem_matches_torch(i):
    key, tkey = _keys(ember)[i], _keys(torch)[i]
    x = ember.tensor(X0, requires_grad=True)
    tx = torch.tensor(X0, requires_grad=True)
    y, ty = x[key], tx[tkey]
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    assert y.grad_fn.name() == ty.grad_fn.name()
    assert (y._base is x) == (ty._base is tx)
    if y.numel():
        assert np.shares_memory(y._data, x._data) == (ty._base is not None)
    w = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    y.backward(ember.tensor(w))
    ty.backward(torch.tensor(w))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_nested_list_index_is_read_as_a_tuple_with_torchs_warning():
    x = ember.arange(12).view(3, 4)
    with pytest.warns(UserWarning, match="non-tuple sequence for multidimensional indexing"):
        y = x[[[0, 1], [2, 3]]]
    assert y.tolist() == [2, 7]


def test_duplicate_advanced_indices_accumulate_grad():
    x0 = rng.standard_normal((4, 3))
    x = ember.tensor(x0, requires_grad=True)
    idx = [0, 2, 2, 0, 3]
    w = rng.standard_normal((5, 3))
    x[idx].backward(ember.tensor(w))
    np.testing.assert_allclose(x.grad.numpy(), numeric_grad(lambda a: float((a[idx] * w).sum()), x0),
                               rtol=1e-6, atol=1e-8)


def test_int_index_gives_a_zero_dim_view_not_a_number():
    x = ember.arange(6.0).view(2, 3)
    s = x[1, 2]
    assert s.shape == () and type(s._data) is np.ndarray and s.item() == 5.0
    assert np.shares_memory(s._data, x._data)
    v = ember.arange(3)[1]
    assert v.shape == () and v.dtype == ember.int64


def test_index_errors_match_torch_text():
    x = ember.zeros(4, 4)
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[:, ::-2]
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 4"):
        x[5]
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 1 with size 4"):
        x[:, 5]
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 4"):
        x[[0, 5]]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool tensors"):
        x[ember.tensor([1.0])]
    with pytest.raises(IndexError, match=r"The shape of the mask \[2\] at index 0 does not match the shape "
                                         r"of the indexed tensor \[4, 4\] at index 0"):
        x[ember.tensor([True, False])]
    with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
        ember.tensor(1.0)[0]


# ---- __setitem__ ---------------------------------------------------------------------------------------------
@requires_torch
@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence")
@pytest.mark.parametrize("i", range(N_KEYS), ids=str)
def test_setitem_matches_torch(i):
    key, tkey = _keys(ember)[i], _keys(torch)[i]
    x, tx = ember.tensor(X0), torch.tensor(X0)
    region = tuple(tx[tkey].shape)
    v0 = rng.standard_normal(region[1:] if region else ()).astype(np.float32)  # broadcast along dim 0
    x[key] = ember.tensor(v0)
    tx[tkey] = torch.tensor(v0)
    np.testing.assert_array_equal(x.numpy(), tx.numpy())
    assert x._version == tx._version == 1
    x[key] = 2.5
    tx[tkey] = 2.5
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_setitem_casts_and_reports_shape_mismatch():
    x = ember.zeros(2, 3, dtype=ember.int64)
    x[0] = ember.tensor([1.7, 2.2, -3.9])
    assert x[0].tolist() == [1, 2, -3]
    x[x > 1] = 0
    assert x.tolist() == [[1, 0, -3], [0, 0, 0]]
    with pytest.raises(RuntimeError, match=r"expanded size of the tensor \(3\) must match the existing size \(2\)"):
        x[0] = ember.ones(2)   # (a basic index writes with copy_, which expands the value)
    with pytest.raises(RuntimeError, match="shape mismatch: value tensor of shape"):
        x[[0, 1]] = ember.ones(2, dtype=ember.int64)


# name -> fn(lib, t) on a float64 (2, 3) tensor of zeros: torch's dtype and shape rules for writes through
# an index (index_put_ takes only its own dtype, except a bool mask alone with a 0-d value, which casts)
WRITES = {
    "mask_0d_float32": lambda L, t: t.__setitem__(t == 0, L.tensor(2.0)),
    "mask_0d_int": lambda L, t: t.__setitem__(t == 0, L.tensor(2)),
    "mask_1d_int": lambda L, t: t.__setitem__(t == 0, L.arange(6)),
    "list_float32": lambda L, t: t.__setitem__([0, 1], L.ones(3)),
    "list_0d_float32": lambda L, t: t.__setitem__([0, 1], L.tensor(4.0)),
    "int_then_list_float32": lambda L, t: t.__setitem__((0, [1, 2]), L.ones(2)),
    "basic_float32": lambda L, t: t.__setitem__(0, L.ones(3)),
    "basic_int": lambda L, t: t.__setitem__(0, L.arange(3)),
    "basic_too_many_dims": lambda L, t: t.__setitem__(0, L.ones(2, 2)),
    "basic_wrong_size": lambda L, t: t.__setitem__(slice(None), L.ones(4)),
    "index_put_dtype": lambda L, t: t.index_put_((L.tensor([0, 0]),), L.ones(2, 3), accumulate=True),
    "index_put_shape_first": lambda L, t: t.index_put_((L.tensor([0, 0]),), L.ones(2), accumulate=True),
    "str_key": lambda L, t: t["a"],
    # leading size-1 dims of the value are dropped before copy_ expands it
    "basic_leading_ones": lambda L, t: t.__setitem__(0, L.ones(1, 1, 3, dtype=L.float64)),
    "slice_leading_ones": lambda L, t: t.__setitem__(slice(0, 1), L.ones(1, 1, 3)),
    "ellipsis_leading_one": lambda L, t: t.__setitem__(Ellipsis, L.ones(1, 2, 3)),
    "basic_two_rows": lambda L, t: t.__setitem__(0, L.ones(2, 3)),
}


def _write(L, name):
    t = L.zeros(2, 3, dtype=L.float64)
    try:
        WRITES[name](L, t)
        return t.tolist()
    except Exception as e:
        return type(e).__name__, str(e).split(" (Convert")[0].replace("ember.", "torch.")


@requires_torch
@pytest.mark.parametrize("name", sorted(WRITES))
def test_index_writes_follow_torch_dtype_and_shape_rules(name):
    mine, theirs = _write(ember, name), _write(torch, name)
    if name == "str_key":   # (torch fails making a tensor of the str; ember names the index types)
        assert mine[0] == theirs[0] == "TypeError"
        return
    assert mine == theirs


@requires_torch
def test_setitem_autograd_matches_torch():
    a0 = rng.standard_normal((3, 4)).astype(np.float32)
    v0 = rng.standard_normal(4).astype(np.float32)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    grads = []
    for lib in (ember, torch):
        a = lib.tensor(a0, requires_grad=True)
        v = lib.tensor(v0, requires_grad=True)
        y = a * 2
        y[1] = v
        y[[0, 2]] = y[[0, 2]] * v
        y[[0, 2], 1:3] = 0.0
        names = [y.grad_fn.name(), y.grad_fn.next_functions[0][0].name(),
                 y.grad_fn.next_functions[0][0].next_functions[0][0].name()]
        assert [n.replace("torch::autograd::", "") for n in names] == [
            "CopySlices", "IndexPutBackward0", "CopySlices"]
        y.backward(lib.tensor(w))
        grads.append((a.grad.numpy().copy(), v.grad.numpy().copy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1])


@requires_torch
def test_setitem_into_a_plain_tensor_makes_it_part_of_the_graph():
    x0 = rng.standard_normal(3).astype(np.float32)
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(x0, requires_grad=True)
        out = lib.zeros(2, 3)
        out[1] = x * 3
        assert out.requires_grad and not out.is_leaf
        out.backward(lib.ones(2, 3))
        grads.append(x.grad.numpy().copy())
    np.testing.assert_allclose(grads[0], grads[1])


@requires_torch
def test_setitem_through_a_view_rebases_the_base_like_torch():
    a0 = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    grads = []
    for lib in (ember, torch):
        a = lib.tensor(a0, requires_grad=True)
        s = lib.tensor([1.5], requires_grad=True)
        y = a * 2
        v = y[1]  # a view of y
        v[2] = (s * 2)[0]
        assert v.grad_fn.name() == "AsStridedBackward0"
        assert y.grad_fn.name().endswith("CopySlices")
        t = y.t()[1:]  # a transposed view of y
        t[0, 0] = 0.0
        y.backward(lib.tensor(w))
        grads.append((a.grad.numpy().copy(), s.grad.numpy().copy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1])


def test_setitem_on_leaf_requiring_grad_raises_unless_no_grad():
    x = ember.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is being used in "
                                           "an in-place operation"):
        x[0] = 1.0
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        x[[0, 1]] = 1.0
    with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
        x[1:][0] = 1.0
    assert x._version == 0
    with ember.no_grad():
        x[0] = 1.0
        x[1:][0] = 2.0
    assert x.tolist() == [1.0, 2.0, 0.0] and x._version == 2 and x.grad_fn is None


def test_setitem_bumps_the_shared_version_and_breaks_saved_tensors():
    a = ember.randn(4, requires_grad=True)
    y = a * 1
    z = (y * y).sum()
    y[0] = 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
    b = ember.zeros(4)
    v = b[1:]
    b[0] = 1.0
    assert v._version == b._version == 1


@requires_torch
def test_rebase_inplace_view_routes_grads_like_torchs_copyslices():
    """The helper in-place ops on views use: base gets CopySlices(fn), the view AsStrided."""
    from ember.ops.shape import rebase_inplace_view
    x0, b0 = rng.standard_normal((3, 4)), rng.standard_normal((2, 4))
    w = rng.standard_normal((3, 4))
    x, b = ember.tensor(x0, requires_grad=True), ember.tensor(b0, requires_grad=True)
    y = x * 2
    v = y[1:3]
    out = v + b * 3  # what v.add_(b * 3) records
    v._data[...] = out._data
    v._vc[0] += 1
    rebase_inplace_view(v, out.grad_fn)
    assert y.grad_fn.name() == "torch::autograd::CopySlices" and v.grad_fn.name() == "AsStridedBackward0"
    (y * ember.tensor(w)).sum().backward()

    tx, tb = torch.tensor(x0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    ty = tx * 2
    ty[1:3].add_(tb * 3)
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy())


def test_setitem_into_a_view_of_a_column_major_base():
    x = ember.randn(3, 4, requires_grad=True)
    y = x.t() * 2  # numpy keeps the transposed (F-ordered) layout for the result
    assert y._data.flags.f_contiguous and not y._data.flags.c_contiguous
    y[1][0] = 0.0
    w = rng.standard_normal((4, 3)).astype(np.float32)
    y.backward(ember.tensor(w))
    expected = (w * 2).T.copy()
    expected[0, 1] = 0.0
    np.testing.assert_allclose(x.grad.numpy(), expected)


def _copy_into_views(lib, x0, s0, w0):
    """copy_ into a clone, into slices, an as_strided view and a transposed view; both inputs' gradients."""
    out = []
    for how in ("whole", "broadcast", "slice", "as_strided", "transposed", "cast"):
        x = lib.tensor(x0, requires_grad=True)
        s = lib.tensor(s0, requires_grad=True)
        y = x.clone() * 1
        if how == "whole":
            y.copy_(s.repeat(3))
        elif how == "broadcast":
            y.copy_(s[:1])
        elif how == "slice":
            y[1:5:2].copy_(s)
        elif how == "as_strided":
            y.as_strided((2,), (2,), 1).copy_(s * s)
        elif how == "transposed":
            y.view(3, 2).t()[1].copy_(s[0] * s[1])
        else:
            y[:2].copy_(s.double())
        names = y.grad_fn.name().replace("torch::autograd::", "")
        (y * lib.tensor(w0)).sum().backward()
        out.append((how, names, x.grad.tolist(), s.grad.tolist()))
    return out


@requires_torch
def test_copy_into_a_view_sends_gradient_to_src_like_torch():
    # copy_ into a view of a graph tensor used to lose src's gradient and keep the overwritten part's
    x0, w0 = rng.standard_normal(6), rng.standard_normal(6)
    s0 = rng.standard_normal(2)
    mine = _copy_into_views(ember, x0, s0, w0)
    theirs = _copy_into_views(torch, x0, s0, w0)
    assert [m[:2] for m in mine] == [t[:2] for t in theirs]
    for m, t in zip(mine, theirs):
        np.testing.assert_allclose(m[2], t[2], rtol=1e-6, atol=1e-7, err_msg=m[0])
        np.testing.assert_allclose(m[3], t[3], rtol=1e-6, atol=1e-7, err_msg=m[0])


def test_copy_into_a_slice_gradients_against_central_differences():
    x0, s0, w0 = rng.standard_normal(6), rng.standard_normal(2), rng.standard_normal(6)

    def f(x, s):
        y = x.clone() * 1
        y[1:5:2].copy_(s * s)
        return (y * ember.tensor(w0)).sum()

    x = ember.tensor(x0, requires_grad=True)
    s = ember.tensor(s0, requires_grad=True)
    f(x, s).backward()
    nx = numeric_grad(lambda a: f(ember.tensor(a), ember.tensor(s0)).item(), x0)
    ns = numeric_grad(lambda a: f(ember.tensor(x0), ember.tensor(a)).item(), s0)
    np.testing.assert_allclose(x.grad.numpy(), nx, atol=1e-6)
    np.testing.assert_allclose(s.grad.numpy(), ns, atol=1e-6)
    # create_graph through copy_: the second derivative wrt s is 2 * w at the written positions
    s2 = ember.tensor(s0, requires_grad=True)
    y = ember.zeros(6, dtype=ember.float64)
    y.copy_(s2.repeat(3) ** 2)
    (g,) = ember.autograd.grad((y * ember.tensor(w0)).sum(), s2, create_graph=True)
    (h,) = ember.autograd.grad(g.sum(), s2)
    np.testing.assert_allclose(h.numpy(), [2 * w0[0::2].sum(), 2 * w0[1::2].sum()])


@pytest.mark.parametrize("key, exc, message", [
    (slice(None, None, 0), ValueError, "slice step cannot be zero"),
    (slice(None, None, -1), ValueError, "step must be greater than zero"),
    ({}, IndexError, "only integers, slices"), ({0}, IndexError, "only integers, slices"),
    (1.0, IndexError, "only integers, slices"), ("a", TypeError, "")])
def test_bad_keys_raise_torchs_exception_types(key, exc, message):
    with pytest.raises(exc, match=message):
        ember.arange(5)[key]
