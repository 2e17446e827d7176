"""Shape ops: views (memory, version counter, _base), values, node names and gradients."""
import numpy as np
import pytest

import ember
from tests.conftest import numeric_grad, requires_torch, torch

rng = np.random.default_rng(2)


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def _to_torch(arg):
    if isinstance(arg, ember.Tensor):
        return torch.tensor(arg.numpy())
    if isinstance(arg, (list, tuple)):
        return type(arg)(_to_torch(a) for a in arg)
    return arg


def check_torch(fn, x0, *args, method=True, view=None, **kwargs):
    """Tensor.<fn> (or ember.<fn>) vs torch: values, dtype, node name, gradient, and view-ness."""
    x = ember.tensor(x0, requires_grad=True)
    tx = torch.tensor(x0, requires_grad=True)
    if method:
        out = getattr(x, fn)(*args, **kwargs)
        tout = getattr(tx, fn)(*_to_torch(args), **kwargs)
    else:
        out = getattr(ember, fn)(x, *args, **kwargs)
        tout = getattr(torch, fn)(tx, *_to_torch(args), **kwargs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    touts = tout if isinstance(tout, (tuple, list)) else (tout,)
    assert len(outs) == len(touts)
    for o, t in zip(outs, touts):
        assert tuple(o.shape) == tuple(t.shape), (fn, args)
        np.testing.assert_array_equal(o.detach().numpy(), t.detach().numpy())
        assert o.grad_fn.name() == t.grad_fn.name().replace("torch::autograd::", ""), fn
        assert (o._base is not None) == (t._base is not None), (fn, "view-ness differs from torch")
        if t._base is not None:
            assert np.shares_memory(o._data, x._data)
            assert o._vc is x._vc
    ws = [rng.standard_normal(tuple(t.shape)).astype(np.float32) for t in touts]
    ember.autograd.backward(list(outs), [ember.tensor(w) for w in ws])
    torch.autograd.backward(list(touts), [torch.tensor(w) for w in ws])
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    return out


X34 = rng.standard_normal((3, 4)).astype(np.float32)
X234 = rng.standard_normal((2, 3, 4)).astype(np.float32)

CASES = [
    ("view", X234, (-1, 4)), ("view", X234, (24,)), ("view", X234, ((6, 4),)), ("reshape", X234, (4, 6)),
    ("flatten", X234, ()), ("flatten", X234, (1,)), ("unflatten", X234, (2, (2, 2))),
    ("squeeze", X234[:1], ()), ("squeeze", X234[:1], (0,)), ("squeeze", X234[:1], ((0, 1),)),
    ("unsqueeze", X234, (1,)), ("unsqueeze", X234, (-1,)), ("transpose", X234, (0, 2)),
    ("swapaxes", X234, (1, 2)), ("t", X34, ()), ("permute", X234, (2, 0, 1)),
    ("permute", X234, ((1, 2, 0),)), ("movedim", X234, (0, 2)), ("expand", X234[:, :1], (2, 3, -1)),
    ("expand", X34[:1], (2, -1, 4)), ("repeat", X34, (2, 1, 3)), ("tile", X34, ((2,),)),
    ("split", X234, (2, 2)), ("split", X234, ([1, 3], -1)), ("chunk", X234, (2, 1)), ("unbind", X234, (1,)),
    ("narrow", X234, (2, 1, 2)), ("select", X234, (1, -1)), ("flip", X234, ((0, 2),)),
    ("roll", X234, (1, 1)), ("roll", X234, (2,)), ("tril", X34, ()), ("triu", X34, (1,)),
    ("diag", X34, ()), ("diag", X34[0], (1,)), ("diagonal", X234, (0, 1, 2)),
]


@requires_torch
@pytest.mark.parametrize("case", range(len(CASES)), ids=lambda i: CASES[i][0])
def test_shape_ops_match_torch(case):
    name, x0, args = CASES[case]
    check_torch(name, np.ascontiguousarray(x0), *args)


def test_contiguous_copies_only_when_needed():
    x = ember.tensor(X34, requires_grad=True)
    assert x.contiguous() is x
    c = x.t().contiguous()
    assert c.is_contiguous() and not np.shares_memory(c._data, x._data)
    assert c.grad_fn.name() == "CloneBackward0" and c.grad_fn.next_functions[0][0].name() == "TBackward0"
    c.backward(ember.ones(4, 3))
    assert x.grad.tolist() == np.ones((3, 4)).tolist()


@requires_torch
def test_reshape_copies_when_the_layout_needs_it():
    x = ember.tensor(X34, requires_grad=True)
    tx = torch.tensor(X34, requires_grad=True)
    y, ty = x.t().reshape(12), tx.t().reshape(12)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    assert y.grad_fn.name() == ty.grad_fn.name() == "UnsafeViewBackward0"
    assert y.grad_fn.next_functions[0][0].name() == "CloneBackward0"
    assert not np.shares_memory(y._data, x._data)
    y2 = x.t().reshape(4, 3)  # transposing back again is still a view
    assert np.shares_memory(y2._data, x._data) and y2.grad_fn.name() == "ViewBackward0"
    w = rng.standard_normal(12).astype(np.float32)
    y.backward(ember.tensor(w))
    ty.backward(torch.tensor(w))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


@requires_torch
def test_cat_and_stack_match_torch():
    a0, b0 = X34, rng.standard_normal((2, 4)).astype(np.float32)
    a, b = ember.tensor(a0, requires_grad=True), ember.tensor(b0, requires_grad=True)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    for fn in ("cat", "concat", "concatenate"):
        y, ty = getattr(ember, fn)([a, b]), getattr(torch, fn)([ta, tb])
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    assert y.grad_fn.name() == ty.grad_fn.name() == "CatBackward0"
    assert len(y.grad_fn.next_functions) == 2
    w = rng.standard_normal((5, 4)).astype(np.float32)
    y.backward(ember.tensor(w))
    ty.backward(torch.tensor(w))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy())
    s, ts = ember.stack([a, a], 1), torch.stack([ta, ta], 1)
    assert s.shape == ts.shape and s.grad_fn.name() == "StackBackward0"
    np.testing.assert_array_equal(s.detach().numpy(), ts.detach().numpy())
    y = ember.cat([a, ember.tensor(np.ones((3, 2), np.float64))], 1)
    assert y.dtype == ember.float64 and y.shape == (3, 6)  # promoted like torch
    assert ember.cat([ember.zeros(0), a]).shape == (3, 4)  # legacy empty 1-d is skipped
    assert ember.hstack([ember.zeros(2), ember.ones(3)]).tolist() == [0, 0, 1, 1, 1]
    assert ember.vstack([ember.zeros(2), ember.ones(2)]).shape == (2, 2)


def test_cat_stack_errors_like_torch():
    x = ember.zeros(4, 4)
    with pytest.raises(RuntimeError, match=r"Sizes of tensors must match except in dimension 0. Expected "
                                           r"size 4 but got size 3 for tensor number 1 in the list."):
        ember.cat([x, ember.ones(3, 3)])
    with pytest.raises(ValueError, match=r"cat\(\): expected a non-empty list of Tensors"):
        ember.cat([])
    with pytest.raises(RuntimeError, match="Tensors must have same number of dimensions: got 2 and 1"):
        ember.cat([x, ember.ones(4)])
    with pytest.raises(RuntimeError, match=r"stack expects each tensor to be equal size, but got \[4, 4\] "
                                           r"at entry 0 and \[4, 3\] at entry 1"):
        ember.stack([x, ember.ones(4, 3)])


@pytest.mark.parametrize("fn", [
    lambda x: x.view(6, 4), lambda x: x.permute(2, 0, 1).reshape(4, 6), lambda x: x.transpose(0, 1),
    lambda x: x[:, 1:, ::2], lambda x: x[1, :, None, 2], lambda x: x[..., [0, 2, 2]],
    lambda x: x[x > 0], lambda x: x[[0, 1, 1], [2, 0, 0]], lambda x: x.expand(3, 2, 3, 4),
    lambda x: x.repeat(1, 2, 2), lambda x: ember.cat([x, x * 2], 1), lambda x: ember.stack([x, x], 3),
    lambda x: x.split(1, 1)[1], lambda x: x.chunk(2, 2)[0], lambda x: x.unbind(0)[1],
    lambda x: x.index_select(2, ember.tensor([3, 0, 3])), lambda x: x.gather(2, ember.tensor(
        [[[0, 0], [1, 3], [2, 2]], [[3, 1], [0, 0], [1, 2]]])), lambda x: x.masked_select(x > 0),
    lambda x: x.flip(1), lambda x: x.roll((1, 2), (1, 2)), lambda x: x.tril(), lambda x: x.diagonal(1, 1, 2),
    lambda x: x.movedim((0, 1), (2, 0)), lambda x: x.narrow(-1, 1, 2),
    lambda x: x.scatter(2, ember.tensor([[[1], [0], [3]], [[2], [2], [0]]]), 0.5),
], ids=lambda f: None)
def test_grads_match_central_differences(fn):
    x0 = rng.standard_normal((2, 3, 4))
    x = ember.tensor(x0, requires_grad=True)
    out = _first(fn(x))
    w = rng.standard_normal(tuple(out.shape))
    out.backward(ember.tensor(w))

    def f(a):
        return float((_first(fn(ember.tensor(a))).numpy() * w).sum())
    np.testing.assert_allclose(x.grad.numpy(), numeric_grad(f, x0), rtol=1e-5, atol=1e-7)


def test_scatter_src_grads_match_central_differences():
    x0, s0 = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))
    idx = ember.tensor([[0, 1, 2], [2, 0, 1]])
    for name in ("scatter", "scatter_add"):
        x = ember.tensor(x0, requires_grad=True)
        s = ember.tensor(s0, requires_grad=True)
        w = rng.standard_normal((3, 4))
        getattr(ember, name)(x, 0, idx, s).backward(ember.tensor(w))

        def fx(a):
            return float((getattr(ember, name)(ember.tensor(a), 0, idx, ember.tensor(s0)).numpy() * w).sum())

        def fs(b):
            return float((getattr(ember, name)(ember.tensor(x0), 0, idx, ember.tensor(b)).numpy() * w).sum())
        np.testing.assert_allclose(x.grad.numpy(), numeric_grad(fx, x0), atol=1e-7)
        np.testing.assert_allclose(s.grad.numpy(), numeric_grad(fs, s0), atol=1e-7)


@requires_torch
def test_scatter_gather_values_match_torch():
    x0 = rng.standard_normal((3, 4)).astype(np.float32)
    idx0 = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])
    src0 = rng.standard_normal((2, 4)).astype(np.float32)
    e, t = ember.tensor(x0), torch.tensor(x0)
    ei, ti = ember.tensor(idx0), torch.tensor(idx0)
    np.testing.assert_array_equal(e.gather(0, ei).numpy(), t.gather(0, ti).numpy())
    np.testing.assert_array_equal(e.scatter(0, ei, ember.tensor(src0)).numpy(),
                                  t.scatter(0, ti, torch.tensor(src0)).numpy())
    np.testing.assert_allclose(e.scatter_add(0, ei, ember.tensor(src0)).numpy(),
                               t.scatter_add(0, ti, torch.tensor(src0)).numpy(), rtol=1e-6)
    z = ember.zeros(2, 3)
    assert z.scatter_(1, ember.tensor([[0, 1], [2, 0]]), 5.0) is z and z._version == 1
    assert z.tolist() == [[5, 5, 0], [5, 0, 5]]
    with pytest.raises(RuntimeError, match="index 5 is out of bounds for dimension 1 with size 4"):
        e.gather(1, ember.tensor([[5]]))


def test_scatter_gather_take_a_0dim_index_on_a_1dim_input():
    # the transforms tutorial's one-hot target: zeros(10).scatter_(0, tensor(y), value=1)
    assert ember.zeros(10).scatter_(0, ember.tensor(3), value=1).tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert ember.zeros(10).scatter_(dim=0, index=ember.tensor(7), value=1)[7].item() == 1
    assert ember.zeros(4).scatter(0, ember.tensor(2), ember.tensor(5.0)).tolist() == [0, 0, 5, 0]
    assert ember.zeros(4).scatter_add(0, ember.tensor(1), ember.tensor(2.0)).tolist() == [0, 2, 0, 0]
    g = ember.arange(5.0).gather(0, ember.tensor(2))
    assert g.shape == () and g.item() == 2
    with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions as self tensor"):
        ember.zeros(2, 3).scatter_(0, ember.tensor(1), value=1)
    with pytest.raises(RuntimeError, match="Index tensor must have the same number of dimensions as input tensor"):
        ember.zeros(2, 3).gather(0, ember.tensor(1))
    # gradients flow to input and to a 0-dim src
    for name in ("scatter", "scatter_add"):
        x = ember.zeros(4, requires_grad=True)
        s = ember.tensor(5.0, requires_grad=True)
        (getattr(x, name)(0, ember.tensor(1), s) * ember.arange(4.0)).sum().backward()
        assert s.grad.shape == () and s.grad.item() == 1
        assert x.grad.tolist() == ([0, 0, 2, 3] if name == "scatter" else [0, 1, 2, 3])
    x = ember.arange(5.0, requires_grad=True)
    x.gather(0, ember.tensor(2)).backward()
    assert x.grad.tolist() == [0, 0, 1, 0, 0]


@requires_torch
def test_scatter_gather_0dim_index_match_torch():
    for name in ("scatter", "scatter_add"):
        res = []
        for lib in (ember, torch):
            x = lib.zeros(4, requires_grad=True)
            s = lib.tensor(5.0, requires_grad=True)
            out = getattr(x, name)(0, lib.tensor(1), s)
            (out * lib.arange(4.0)).sum().backward()
            res.append((out.tolist(), x.grad.tolist(), s.grad.tolist(), out.grad_fn.name()))
        assert res[0] == res[1]
    e = ember.zeros(10).scatter_(0, ember.tensor(3), value=1)
    t = torch.zeros(10).scatter_(0, torch.tensor(3), value=1)
    assert e.tolist() == t.tolist()
    assert ember.arange(5.0).gather(0, ember.tensor(2)).tolist() == torch.arange(5.0).gather(0, torch.tensor(2)).tolist()


@requires_torch
@pytest.mark.parametrize("rows,n", [(1000, 512), (50, 400), (10, 1000), (6, 6)],
                         ids=["few-repeats", "repeats", "many-repeats", "small"])
@requires_torch
def test_row_scatters_add_in_torchs_order(rows, n):
    # x[idx] and index_select backward, index_add and embedding backward add each target row's
    # contributions one after another in index order, as torch's kernels: the same bits
    rng = np.random.default_rng(7)
    x = rng.standard_normal((rows, 5)).astype(np.float32)
    idx = rng.integers(-rows, rows, n)
    g = rng.standard_normal((n, 5)).astype(np.float32)
    g[::3, 0] = -0.0   # (a row of zeros starts from +0.0, as the kernels' first add)
    out = []
    for lib in (ember, torch):
        a, b = lib.tensor(x, requires_grad=True), lib.tensor(x, requires_grad=True)
        a[lib.tensor(idx)].backward(lib.tensor(g))
        b.index_select(0, lib.tensor(idx % rows)).backward(lib.tensor(g))
        added = lib.tensor(x).index_add(0, lib.tensor(idx % rows), lib.tensor(g), alpha=0.5)
        out.append([a.grad.numpy().tobytes(), b.grad.numpy().tobytes(), added.numpy().tobytes()])
    assert out[0] == out[1]


@requires_torch
def test_nonzero_masked_select_index_select_match_torch():
    x0 = np.array([[0, 1.5, 0], [2, 0, -1]], dtype=np.float32)
    e, t = ember.tensor(x0), torch.tensor(x0)
    assert e.nonzero().tolist() == t.nonzero().tolist() and e.nonzero().dtype == ember.int64
    assert [a.tolist() for a in e.nonzero(as_tuple=True)] == [a.tolist() for a in t.nonzero(as_tuple=True)]
    assert [a.tolist() for a in ember.where(e > 0)] == [a.tolist() for a in torch.where(t > 0)]
    assert e.masked_select(e != 0).tolist() == t.masked_select(t != 0).tolist()
    assert e.index_select(1, ember.tensor([2, 0])).tolist() == t.index_select(1, torch.tensor([2, 0])).tolist()
    with pytest.raises(RuntimeError, match="masked_select: expected BoolTensor for mask"):
        e.masked_select(ember.tensor([1, 0, 1]))
    with pytest.raises(IndexError, match="index out of range in self"):
        e.index_select(0, ember.tensor([7]))
    # a negative index is out of range too (torch refuses it rather than counting from the end); over
    # a matrix's columns torch's kernel raises a RuntimeError of its own
    for lib, a in ((ember, e), (torch, t)):
        with pytest.raises(IndexError, match="index out of range in self"):
            a.index_select(0, lib.tensor([0, -1]))
        with pytest.raises(IndexError, match="index out of range in self"):
            a.reshape(1, 2, 3).index_select(2, lib.tensor([-1]))
        with pytest.raises(RuntimeError, match="INDICES element is out of DATA bounds, id=-1 axis_dim=3"):
            a.index_select(1, lib.tensor([0, -1]))
        with pytest.raises(RuntimeError, match="INDICES element is out of DATA bounds, id=9 axis_dim=3"):
            a.index_select(1, lib.tensor([0, 9]))


# ---- views: errors, memory, version counter, _base ----------------------------------------------------
def test_view_errors_match_torch():
    x = ember.zeros(4, 4)
    with pytest.raises(RuntimeError) as info:
        x.t().view(16)
    assert str(info.value) == ("view size is not compatible with input tensor's size and stride (at least "
                               "one dimension spans across two contiguous subspaces). Use .reshape(...) "
                               "instead.")
    for shape, text in [((3, 5), "[3, 5]"), ((2, 9), "[2, 9]"), ((-1, 3), "[-1, 3]")]:
        with pytest.raises(RuntimeError) as info:
            x.view(*shape)
        assert str(info.value) == f"shape '{text}' is invalid for input of size 16"
    with pytest.raises(RuntimeError, match="shape '\\[2, 9\\]' is invalid for input of size 16"):
        x.reshape(ember.Size([2, 9]))
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        x.view(-1, -1)
    # a bad shape is reported before a bad layout, as torch does
    with pytest.raises(RuntimeError, match="is invalid for input of size 16"):
        x.t().view(3, 5)


def test_view_sizes_in_every_form():
    x = ember.arange(16.0)
    for args in [(4, 4), ((4, 4),), ([4, 4],), (ember.Size([4, 4]),), (-1, 4), (ember.tensor(4), 4)]:
        assert x.view(*args).shape == (4, 4)
        assert x.reshape(*args).shape == (4, 4)
    assert x.view(-1, 8).size() == ember.Size([2, 8])


def test_views_share_memory_version_counter_and_base():
    x = ember.zeros(4, 4)
    views = [x.view(16), x.reshape(2, 8), x[1], x[:, 1], x[1:3], x[None], x[..., 0], x.t(), x.transpose(0, 1),
             x.permute(1, 0), x.unsqueeze(0), x[None].squeeze(0), x[:1].expand(3, 4), x.narrow(0, 1, 2),
             x.select(1, 2), x.split(2)[1], x.chunk(2, 1)[0], x.unbind()[3], x.flatten(), x.unflatten(1, (2, 2)),
             x.diagonal(), x.movedim(0, 1), x.view(2, 8).view(16)]
    for v in views:
        assert np.shares_memory(v._data, x._data)
        assert v._vc is x._vc
        assert v._base is x  # the root base, also for views of views
    copies = [x[[0, 1]], x[x > 0], x.flip(0), x.t().reshape(16), x.repeat(1, 1), x.t().flatten(),
              x.index_select(0, ember.tensor([0]))]
    for c in copies:
        assert not np.shares_memory(c._data, x._data) and c._base is None and c._vc is not x._vc


def test_writing_through_a_view_changes_the_base():
    x = ember.zeros(3, 4)
    x.view(12)[5] = 7.0
    assert x[1, 1].item() == 7.0
    x[:, 2] = 1.0
    assert x.tolist()[0] == [0, 0, 1, 0]
    col = x[:, 3]
    col.fill_(2.0)
    assert x[:, 3].tolist() == [2, 2, 2]
    x.t()[0, 1] = 9.0
    assert x[1, 0].item() == 9.0
    before = x._version
    x.view(12).mul_(2)
    assert x._version == before + 1 and x[1, 0].item() == 18.0


def test_modifying_a_view_after_it_was_saved_raises_at_backward():
    a = ember.randn(3, 4, requires_grad=True)
    b = a * 1
    v = b.view(12)
    y = (v * v).sum()  # MulBackward saved v
    b[0, 0] = 5.0  # writes into b, so v's shared version moves
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    c = a * 1
    y = (c * c).sum()
    c.view(12).add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_expand_is_a_view_that_refuses_overlapping_writes():
    x = ember.zeros(1, 3)
    e = x.expand(4, 3)
    assert e.stride() == (0, 1) and np.shares_memory(e._data, x._data)
    e[0] = 1.0   # a row of distinct elements: written into x, as torch does
    assert x.tolist() == [[1.0, 1.0, 1.0]]
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        e[:2] = 2.0
    with pytest.raises(RuntimeError, match=r"The expanded size of the tensor \(2\) must match the existing "
                                           r"size \(3\) at non-singleton dimension 1.  Target sizes: \[4, 2\]"):
        x.expand(4, 2)
    with pytest.raises(RuntimeError, match="the number of sizes provided \\(1\\) must be greater or equal"):
        x.expand(3)


@pytest.mark.parametrize("shape,target", [((3, 1, 2), (4, 3, 5, 2)), ((1,), (7,)), ((1, 1), (5, 1)),
                                          ((2, 1), (-1, 3)), ((1, 4), (2, 3, 4))])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
@requires_torch
def test_expand_strides_and_values_match_torch(shape, target, layout):
    # contiguous inputs are broadcast on their buffer, the others through np.broadcast_to: both as torch
    base = np.arange(2 * int(np.prod(shape)), dtype=np.float32)
    if layout == "contiguous":
        a = base[:int(np.prod(shape))].reshape(shape)
    elif layout == "transposed":
        a = base[:int(np.prod(shape))].reshape(shape[::-1]).T
    else:
        a = base[::2].reshape(shape)
    e, t = ember.tensor(a).expand(*target), torch.tensor(a).expand(*target)
    ee = ember.from_numpy(a).expand(*target)
    assert tuple(e.shape) == tuple(t.shape) and e.stride() == t.stride()
    assert np.array_equal(ee.numpy(), t.numpy()) and np.shares_memory(ee._data, a)
    assert ee.stride() == torch.from_numpy(a).expand(*target).stride()
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        ee.add_(1)


@requires_torch
def test_shape_errors_match_torch():
    x, tx = ember.zeros(4, 4), torch.zeros(4, 4)
    calls = [lambda t: t.squeeze(5), lambda t: t.transpose(0, 3), lambda t: t.permute(0, 0),
             lambda t: t.narrow(0, 3, 2), lambda t: t.select(0, 4), lambda t: t.repeat(2),
             lambda t: t.split(0), lambda t: t.chunk(0), lambda t: t.unflatten(1, (3, 2)),
             lambda t: t.flip(0, 0), lambda t: t.split([1, 2]), lambda t: t.t().view(-1),
             lambda t: t[None].t()]
    for call in calls:
        with pytest.raises(Exception) as want:
            call(tx)
        with pytest.raises(type(want.value)) as got:
            call(x)
        assert str(got.value) == str(want.value)


def test_size_and_flatten_shortcuts():
    x = ember.zeros(2, 3, 4)
    assert x.size() == (2, 3, 4) and x.size(-1) == 4 and x.size()[1:] == ember.Size([3, 4])
    one = ember.zeros(5)
    assert one.flatten() is one and one.contiguous() is one
    assert ember.tensor(3.0).flatten().shape == (1,)
    assert x.permute(2, 1, 0).shape == (4, 3, 2)


@requires_torch
def test_T_reverses_dims_and_warns_once_where_torch_does(monkeypatch):
    # a matrix's transpose silently; other ranks reversed with torch's deprecation warnings, each once
    # per process (TORCH_WARN_ONCE); PermuteBackward0 and its gradient either way
    import warnings
    from ember.ops import shape as shape_ops
    monkeypatch.setattr(shape_ops, "_T_WARNED", set())
    warned = set()
    for shape in [(2, 3), (), (3,), (2, 3, 4), (), (4,)]:
        x0 = np.arange(float(np.prod(shape))).reshape(shape)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            x = ember.tensor(x0, requires_grad=True)
            y = x.T
        tx = torch.tensor(x0, requires_grad=True)
        ty = tx.T
        np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
        assert y.grad_fn.name() == ty.grad_fn.name() == "PermuteBackward0"
        g = np.arange(float(y.numel())).reshape(tuple(y.shape))
        y.backward(ember.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
        messages = [str(w.message) for w in caught]
        kind = len(shape) == 0
        if len(shape) == 2 or kind in warned:
            assert messages == []
        elif shape == ():
            assert messages == ["Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases."]
        else:
            assert len(messages) == 1 and messages[0].startswith("The use of `x.T` on tensors of dimension other "
                                                                 "than 2 to reverse their shape is deprecated")
            assert "x.permute(*ember.arange(x.ndim - 1, -1, -1))" in messages[0]
        if len(shape) != 2:
            warned.add(kind)


@requires_torch
@pytest.mark.parametrize("name", ["mT", "mH", "adjoint()"])
def test_batch_transposes_reject_vectors_and_pass_scalars_through(monkeypatch, name):
    # a 1-d tensor is refused with torch's RuntimeError; a 0-d one comes back (conjugated by mH and adjoint)
    # with torch's deprecation warning, once per process and name
    import warnings
    from ember.ops import shape as shape_ops
    monkeypatch.setattr(shape_ops, "_BATCH_T_WARNED", set())
    get = (lambda lib_x: lib_x.adjoint()) if name == "adjoint()" else (lambda lib_x: getattr(lib_x, name))
    with pytest.raises(RuntimeError) as theirs:
        get(torch.ones(3))
    with pytest.raises(RuntimeError) as ours:
        get(ember.ones(3))
    assert str(theirs.value) == f"tensor.{name} is only supported on matrices or batches of matrices. Got 1-D tensor."
    assert str(ours.value).startswith(str(theirs.value))
    if name == "adjoint()":
        with pytest.raises(RuntimeError, match=r"tensor.adjoint\(\) is only supported"):
            ember.adjoint(ember.ones(3))
    want = ("Tensor.mT is deprecated on 0-D tensors. This function is the identity in these cases." if name == "mT"
            else f"{'Tensor.mH' if name == 'mH' else name} is deprecated on 0-D tensors. Consider using x.conj().")
    for i in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = get(ember.tensor(1 + 2j))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (torch's own, checked above by text)
            assert y.item() == get(torch.tensor(1 + 2j)).item()
        assert [str(w.message) for w in caught] == ([want] if i == 0 else [])
    for shape in [(2, 3), (2, 3, 4)]:
        x0 = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        np.testing.assert_array_equal(get(ember.tensor(x0)).numpy(), get(torch.tensor(x0)).resolve_conj().numpy())


def test_in_place_shape_methods():
    x = ember.zeros(2, 1, 3)
    assert x.squeeze_(1) is x and x.shape == (2, 3)
    assert x.unsqueeze_(0).shape == (1, 2, 3)
    y = ember.ones(3, 3)
    y.tril_()
    assert y.tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]] and y._version == 1


@requires_torch
def test_unsqueeze_strides_match_torch():
    # the new dim's stride is the next dim's extent (NumPy's a[:, None] gives 0), as torch reports it
    cases = [lambda L: L.ones(2, 3).unsqueeze(1), lambda L: L.ones(2, 3).unsqueeze(0),
             lambda L: L.ones(2, 3).unsqueeze(-1), lambda L: L.ones(2, 3).t().unsqueeze(1),
             lambda L: L.ones(1, 3).expand(4, 3).unsqueeze(1), lambda L: L.tensor(5.0).unsqueeze(0)]
    for case in cases:
        assert case(ember).stride() == case(torch).stride()
    x = ember.ones(2, 3)
    x.unsqueeze(1)[1, 0, 2] = 7.0   # still a view
    assert x[1, 2].item() == 7.0


# ---- argument forms: varargs, one sequence, keywords, as torch's parser takes them -----------------------------
def argument_outcome(M, f):
    """("ok", f(M, x)) on a fresh 2x3x4 tensor x, or the name of the exception f raises."""
    x = M.arange(24.0).reshape(2, 3, 4)
    try:
        return "ok", f(M, x)
    except Exception as e:
        return type(e).__name__


def check_argument_forms(f):
    """f(M, x) succeeds with equal results under ember and torch, or raises the same exception type in both."""
    from tests.ops.test_more_ops import _same
    e, t = argument_outcome(ember, f), argument_outcome(torch, f)
    if t[0] == "ok":
        assert e[0] == "ok", f"torch accepts it, ember raises {e}"
        _same(e[1], t[1])
    else:
        assert e == t, f"torch raises {t}, ember gives {e if isinstance(e, str) else 'a result'}"


def _i(M, *v):
    return M.tensor(v, dtype=M.long)


ARGUMENT_FORMS = {
    # Tensor methods take sizes/dims one by one, as one sequence, or by torch's keyword
    "view_varargs": lambda M, x: x.view(4, -1), "view_tuple": lambda M, x: x.view((4, -1)),
    "view_list": lambda M, x: x.view([4, -1]), "view_size_kw": lambda M, x: x.view(size=(4, -1)),
    "view_size_kw_list": lambda M, x: x.view(size=[24]), "view_size_kw_int": lambda M, x: x.view(size=24),
    "view_shape_kw": lambda M, x: x.view(shape=(4, -1)), "view_both": lambda M, x: x.view(4, size=(6,)),
    "view_dtype_kw": lambda M, x: x.view(dtype=M.int32), "view_dtype_pos": lambda M, x: x.view(M.int32),
    "view_python_type": lambda M, x: x.view(float), "view_dtype_and_size": lambda M, x: x.view(size=(24,),
                                                                                              dtype=M.int32),
    "view_none": lambda M, x: x.view(), "view_none_1elt": lambda M, x: x[0, 0, :1].view(),
    "view_size_none": lambda M, x: x.view(size=None),
    "reshape_varargs": lambda M, x: x.reshape(4, -1), "reshape_shape_kw": lambda M, x: x.reshape(shape=(4, -1)),
    "reshape_shape_kw_list": lambda M, x: x.reshape(shape=[4, 6]), "reshape_shape_kw_int": lambda M, x:
    x.reshape(shape=24), "reshape_size_kw": lambda M, x: x.reshape(size=(24,)), "reshape_both": lambda M, x:
    x.reshape(-1, shape=(24,)), "reshape_none": lambda M, x: x.reshape(), "reshape_none_1elt": lambda M, x:
    x[0, 0, :1].reshape(), "reshape_noncontig_kw": lambda M, x: x.transpose(0, 2).reshape(shape=(4, 6)),
    "permute_varargs": lambda M, x: x.permute(2, 0, 1), "permute_tuple": lambda M, x: x.permute((2, 0, 1)),
    "permute_dims_kw": lambda M, x: x.permute(dims=(2, 0, 1)), "permute_dims_kw_list": lambda M, x:
    x.permute(dims=[2, 0, 1]), "permute_dims_kw_int": lambda M, x: x[0, 0].permute(dims=0),
    "permute_both": lambda M, x: x.permute(2, dims=(0, 1)), "permute_none": lambda M, x: x.permute(),
    "permute_seq_then_int": lambda M, x: x.permute((2, 0), 1), "permute_None": lambda M, x: x.permute(None),
    "permute_float": lambda M, x: x.permute(2.0, 0, 1), "permute_0d_tensor": lambda M, x: x.permute(_i(M, 2)[0], 0, 1),
    "flip_varargs": lambda M, x: x.flip(0, 2), "flip_tuple": lambda M, x: x.flip((0, 2)),
    "flip_dims_kw": lambda M, x: x.flip(dims=(0,)), "flip_dims_kw_list": lambda M, x: x.flip(dims=[0, 2]),
    "flip_dims_kw_int": lambda M, x: x.flip(dims=0), "flip_dim_kw": lambda M, x: x.flip(dim=(0,)),
    "flip_both": lambda M, x: x.flip(0, dims=(1,)), "flip_none": lambda M, x: x.flip(),
    "flip_repeated": lambda M, x: x.flip(0, 0), "flip_out_of_range": lambda M, x: x.flip(5),
    "expand_varargs": lambda M, x: x[:, :1].expand(2, 5, 4), "expand_size_kw": lambda M, x:
    x[:, :1].expand(size=(2, 5, 4)), "expand_size_kw_int": lambda M, x: x[0, 0, :1].expand(size=4),
    "expand_implicit": lambda M, x: x[:, :1].expand(2, 5, 4, implicit=True), "expand_kw_implicit": lambda M, x:
    x[:, :1].expand(size=(2, 5, 4), implicit=False), "expand_both": lambda M, x: x[0, 0, :1].expand(4, size=(4,)),
    "expand_none": lambda M, x: x.expand(), "expand_sizes_kw": lambda M, x: x.expand(sizes=(2, 3, 4)),
    "repeat_varargs": lambda M, x: x.repeat(1, 2, 1), "repeat_list": lambda M, x: x.repeat([1, 1, 2]),
    "repeat_repeats_kw": lambda M, x: x.repeat(repeats=(1, 2, 1)), "repeat_repeats_kw_int": lambda M, x:
    x.repeat(repeats=2), "repeat_sizes_kw": lambda M, x: x.repeat(sizes=(1, 2, 1)), "repeat_both": lambda M, x:
    x.repeat(2, repeats=(2,)), "repeat_none": lambda M, x: x.repeat(),
    "tile_int": lambda M, x: x.tile(2), "tile_varargs": lambda M, x: x.tile(2, 1), "tile_dims_kw": lambda M, x:
    x.tile(dims=(2,)), "tile_dims_kw_int": lambda M, x: x.tile(dims=2), "tile_none": lambda M, x: x.tile(),
    "squeeze_varargs": lambda M, x: x[:1, :1].squeeze(0, 1), "squeeze_dim_kw_tuple": lambda M, x:
    x[:1].squeeze(dim=(0, 1)), "squeeze_axis": lambda M, x: x[:1].squeeze(axis=0), "squeeze_both": lambda M, x:
    x[:1].squeeze(0, dim=1), "squeeze__varargs": lambda M, x: x[:1, :1].clone().squeeze_(0, 1),
    "squeeze__dim_kw": lambda M, x: x[:1, :1].clone().squeeze_(dim=(0, 1)),
    "unsqueeze_dim_kw": lambda M, x: x.unsqueeze(dim=1), "unsqueeze_two": lambda M, x: x.unsqueeze(0, 1),
    "transpose_kw": lambda M, x: x.transpose(dim0=0, dim1=2), "transpose__kw": lambda M, x:
    x.clone().transpose_(dim0=0, dim1=2), "swapaxes_kw": lambda M, x: x.swapaxes(axis0=0, axis1=2),
    "swapaxes_dim_kw": lambda M, x: x.swapaxes(dim0=0, dim1=2), "swapaxes_mixed": lambda M, x:
    x.swapaxes(0, axis1=1), "swapdims_kw": lambda M, x: x.swapdims(dim0=0, dim1=2), "swapdims_axis_kw":
    lambda M, x: x.swapdims(axis0=0, axis1=2), "swapaxes__kw": lambda M, x: x.clone().swapaxes_(axis0=0, axis1=1),
    "swapdims__kw": lambda M, x: x.clone().swapdims_(dim0=0, dim1=1),
    "movedim_kw": lambda M, x: x.movedim(source=0, destination=2), "moveaxis_kw": lambda M, x:
    x.moveaxis(source=(0, 1), destination=(2, 0)), "broadcast_to_size_kw": lambda M, x:
    x[:, :1].broadcast_to(size=(2, 3, 4)), "broadcast_to_varargs": lambda M, x: x[:, :1].broadcast_to(2, 3, 4),
    "broadcast_to_size_kw_int": lambda M, x: x[0, 0, :1].broadcast_to(size=4),
    "sum_kw": lambda M, x: x.sum(dim=(0, 1), keepdim=True), "sum_axis": lambda M, x: x.sum(axis=1),
    "narrow_kw": lambda M, x: x.narrow(dim=1, start=1, length=2), "select_kw": lambda M, x: x.select(dim=1, index=2),
    "split_kw": lambda M, x: x.split(split_size=2, dim=2), "chunk_kw": lambda M, x: x.chunk(chunks=2, dim=2),
    "unbind_kw": lambda M, x: x.unbind(dim=1), "roll_kw": lambda M, x: x.roll(shifts=(1, 2), dims=(1, 2)),
    "rot90_kw": lambda M, x: x.rot90(k=1, dims=(1, 2)), "gather_kw": lambda M, x:
    x.gather(dim=2, index=M.zeros(2, 3, 1, dtype=M.long)), "index_select_kw": lambda M, x:
    x.index_select(dim=1, index=_i(M, 0, 2)), "scatter_kw": lambda M, x:
    x.scatter(dim=2, index=M.zeros(2, 3, 1, dtype=M.long), src=M.ones(2, 3, 1)), "scatter_value_kw":
    lambda M, x: x.scatter(dim=2, index=M.zeros(2, 3, 1, dtype=M.long), value=5.0),
    "unflatten_kw": lambda M, x: x.unflatten(dim=2, sizes=(2, 2)), "flatten_kw": lambda M, x:
    x.flatten(start_dim=1, end_dim=2),
    "tensor_split_sections_kw": lambda M, x: x.tensor_split(sections=3, dim=2), "tensor_split_indices_kw":
    lambda M, x: x.tensor_split(indices=(1, 3), dim=2), "tensor_split_tensor_kw": lambda M, x:
    x.tensor_split(tensor_indices_or_sections=_i(M, 1, 3), dim=2), "tensor_split_positional": lambda M, x:
    x.tensor_split(3, 2), "tensor_split_old_name": lambda M, x: x.tensor_split(indices_or_sections=3, dim=2),
    "tensor_split_sections_list": lambda M, x: x.tensor_split(sections=[3]), "tensor_split_both": lambda M, x:
    x.tensor_split(3, sections=3), "hsplit_varargs": lambda M, x: x.hsplit(1, 2), "hsplit_indices_kw":
    lambda M, x: x.hsplit(indices=[1, 2]), "hsplit_sections_kw": lambda M, x: x.hsplit(sections=3),
    "vsplit_sections_kw": lambda M, x: x.vsplit(sections=2), "dsplit_varargs": lambda M, x: x.dsplit(2, 3),
    # the torch.* functions take the sequence whole, and only the keywords torch names
    "torch_flip_dims_kw": lambda M, x: M.flip(x, dims=(0,)), "torch_flip_input_kw": lambda M, x:
    M.flip(input=x, dims=[0, 2]), "torch_flip_tuple": lambda M, x: M.flip(x, (0,)), "torch_flip_int": lambda M, x:
    M.flip(x, 0), "torch_flip_varargs": lambda M, x: M.flip(x, 0, 1), "torch_flip_tensor": lambda M, x:
    M.flip(x, _i(M, 0)), "torch_flip_none": lambda M, x: M.flip(x), "torch_flip_out": lambda M, x:
    M.flip(x, (0,), out=M.empty(2, 3, 4)), "torch_roll_out": lambda M, x: M.roll(x, 1, out=M.empty(2, 3, 4)),
    "torch_rot90_out": lambda M, x: M.rot90(x, out=M.empty(3, 2, 4)), "torch_trace_out": lambda M, x:
    M.trace(x[0], out=M.empty(())),
    "torch_permute_dims_kw": lambda M, x: M.permute(x, dims=(2, 0, 1)), "torch_permute_tuple": lambda M, x:
    M.permute(x, (2, 0, 1)), "torch_permute_varargs": lambda M, x: M.permute(x, 2, 0, 1), "torch_permute_size":
    lambda M, x: M.permute(x, M.Size([2, 0, 1])),
    "torch_reshape_shape_kw": lambda M, x: M.reshape(x, shape=(4, -1)), "torch_reshape_tuple": lambda M, x:
    M.reshape(x, (4, -1)), "torch_reshape_list": lambda M, x: M.reshape(x, [-1]), "torch_reshape_int":
    lambda M, x: M.reshape(x, -1), "torch_reshape_varargs": lambda M, x: M.reshape(x, 4, -1),
    "torch_reshape_none": lambda M, x: M.reshape(x), "torch_reshape_tensor": lambda M, x: M.reshape(x, _i(M, 24)),
    "torch_reshape_0d_in_tuple": lambda M, x: M.reshape(x, (_i(M, 4)[0], 6)),
    "torch_tile_dims_kw": lambda M, x: M.tile(x, dims=(2,)), "torch_tile_list": lambda M, x: M.tile(x, [2]),
    "torch_tile_int": lambda M, x: M.tile(x, 2), "torch_tile_dims_kw_int": lambda M, x: M.tile(x, dims=2),
    "torch_squeeze_dim_kw": lambda M, x: M.squeeze(x[:1], dim=0), "torch_squeeze_tuple": lambda M, x:
    M.squeeze(x[:1, :1], (0, 1)), "torch_squeeze_varargs": lambda M, x: M.squeeze(x[:1, :1], 0, 1),
    "torch_unsqueeze_kw": lambda M, x: M.unsqueeze(input=x, dim=0), "torch_transpose_kw": lambda M, x:
    M.transpose(x, dim0=0, dim1=2), "torch_swapaxes_kw": lambda M, x: M.swapaxes(x, axis0=0, axis1=2),
    "torch_swapaxes_dim_kw": lambda M, x: M.swapaxes(x, dim0=0, dim1=2), "torch_swapdims_kw": lambda M, x:
    M.swapdims(x, dim0=0, dim1=2), "torch_movedim_kw": lambda M, x: M.movedim(x, source=0, destination=2),
    "torch_narrow_kw": lambda M, x: M.narrow(x, dim=1, start=1, length=2), "torch_split_kw": lambda M, x:
    M.split(x, split_size_or_sections=2, dim=2), "torch_chunk_kw": lambda M, x: M.chunk(input=x, chunks=2),
    "torch_tensor_split_sections_kw": lambda M, x: M.tensor_split(x, sections=3, dim=2),
    "torch_tensor_split_old_name": lambda M, x: M.tensor_split(x, indices_or_sections=3, dim=2),
    "torch_hsplit_indices_kw": lambda M, x: M.hsplit(x, indices=(1,)), "torch_hsplit_varargs": lambda M, x:
    M.hsplit(x, [1], 2), "torch_dsplit_varargs": lambda M, x: M.dsplit(x, 2, 1), "torch_vsplit_indices_kw":
    lambda M, x: M.vsplit(x, indices=[1]), "torch_broadcast_to_kw": lambda M, x:
    M.broadcast_to(input=x[:, :1], size=(2, 3, 4)), "torch_broadcast_to_varargs": lambda M, x:
    M.broadcast_to(x[:, :1], 2, 3, 4), "torch_cat_kw": lambda M, x: M.cat(tensors=[x, x], dim=1),
    "torch_stack_kw": lambda M, x: M.stack(tensors=[x, x], dim=1), "torch_cat_axis": lambda M, x:
    M.cat([x, x], axis=1), "torch_roll_kw": lambda M, x: M.roll(x, shifts=(1, 2), dims=(1, 2)),
    "torch_rot90_kw": lambda M, x: M.rot90(x, k=1, dims=[1, 2]), "torch_gather_kw": lambda M, x:
    M.gather(x, dim=2, index=M.zeros(2, 3, 1, dtype=M.long), sparse_grad=False),
    # dim=None is no dim; a positional dim and dim= together are refused
    "squeeze_none": lambda M, x: x[:1].squeeze(None), "squeeze_dim_none": lambda M, x: x[:1].squeeze(dim=None),
    "torch_squeeze_none": lambda M, x: M.squeeze(x[:1], None), "squeeze_no_dim": lambda M, x: x[:1, :1].squeeze(),
    "tensor_split_dim_twice": lambda M, x: x.tensor_split(3, 2, dim=1),
    "torch_tensor_split_dim_twice": lambda M, x: M.tensor_split(x, 3, 2, dim=1),
    # keepdim (and var's unbiased) must be bools, positional or keyword
    **{f"{op}_keepdim_{how}": (lambda op, f: lambda M, x: f(getattr(x, op)))(op, f)
       for op in ("sum", "mean", "prod", "amax", "amin", "max", "argmax", "logsumexp", "median", "nanmean",
                  "nansum", "all", "any", "mode", "nanmedian")
       for how, f in (("int", lambda m: m(1, 1)), ("kw_int", lambda m: m(1, keepdim=1)),
                      ("none", lambda m: m(1, keepdim=None)), ("bool", lambda m: m(1, True)))},
    "var_unbiased_int": lambda M, x: x.var(0, 1), "std_keepdim_int": lambda M, x: x.std(0, True, 1),
    "var_legacy_bool": lambda M, x: x.var(False), "std_bools": lambda M, x: x.std(1, False, True),
    "torch_var_mean_int": lambda M, x: M.var_mean(x, 0, 1), "norm_keepdim_int": lambda M, x: x.norm(2, 0, 1),
    "vector_norm_keepdim_int": lambda M, x: M.linalg.vector_norm(x, 2, 0, 1),
    "kthvalue_keepdim_int": lambda M, x: x.kthvalue(1, 0, 1), "torch_sum_keepdim_int": lambda M, x: M.sum(x, 0, 1),
    "aminmax_keepdim_int": lambda M, x: M.aminmax(x, dim=0, keepdim=1),
}


@requires_torch
@pytest.mark.parametrize("name", list(ARGUMENT_FORMS))
def test_argument_forms_match_torch(name):
    check_argument_forms(ARGUMENT_FORMS[name])


def test_view_reshape_permute_keyword_forms_keep_autograd():
    x = ember.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    outs = (x.view(size=(4, 6)), x.reshape(shape=(6, 4)), x.permute(dims=(2, 0, 1)), x.flip(dims=(1,)),
            x[:, :1].expand(size=(2, 3, 4)))
    assert [o.grad_fn.name() for o in outs] == ["ViewBackward0", "ViewBackward0", "PermuteBackward0",
                                                 "FlipBackward0", "ExpandBackward0"]
    assert all(o._base is x for o in outs if o.grad_fn.name() != "FlipBackward0")
    sum(o.sum() for o in outs).backward()
    expect = np.full((2, 3, 4), 4.0)
    expect[:, 0] += 3.0
    np.testing.assert_array_equal(x.grad.numpy(), expect)
