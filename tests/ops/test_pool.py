"""Pooling: values, indices and gradients against torch and central differences, torch's
tie and NaN rules, node names, and error messages."""
import inspect
import numpy as np
import pytest

import ember
from ember.ops import pool as P
from tests.conftest import numeric_grad, torch

RNG = np.random.default_rng(0)


def compare(torch, name, x, **kw):
    """Output (and indices), gradient and node name of ember's op against torch's."""
    tx = torch.tensor(x, requires_grad=True)
    ex = ember.tensor(x, requires_grad=True)
    to = getattr(torch.nn.functional, name)(tx, **kw)
    eo = getattr(ember.nn.functional, name)(ex, **kw)
    if isinstance(to, tuple):
        (to, ti), (eo, ei) = to, eo
        np.testing.assert_array_equal(ei.numpy(), ti.numpy())
        assert ei.dtype == ember.int64
    assert tuple(eo.shape) == tuple(to.shape)
    assert eo.dtype.name == str(to.dtype).split(".")[-1]
    tol = dict(rtol=1e-12, atol=1e-12) if x.dtype == np.float64 else dict(rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), **tol)
    assert eo.grad_fn.name() == to.grad_fn.name()
    g = RNG.standard_normal(tuple(to.shape)).astype(x.dtype)
    to.backward(torch.tensor(g))
    eo.backward(ember.tensor(g))
    assert ex.grad.dtype == ex.dtype
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), **tol)


def _data(shape, ties):
    x = RNG.standard_normal(shape)
    # rounded values make ties: torch sends the gradient to the first maximum only
    return np.round(x) if ties else x


MAX_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=(2, 2)),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(2, 3), stride=(1, 2)),
    dict(kernel_size=2, stride=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, dilation=2, padding=1),
    dict(kernel_size=2, ceil_mode=True),
    dict(kernel_size=2, return_indices=True),
    dict(kernel_size=3, stride=1, padding=1, return_indices=True),
]


@pytest.mark.parametrize("kw", MAX_CASES)
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 7, 9), (3, 5, 6)])
@pytest.mark.parametrize("ties", [False, True])
def test_max_pool2d_matches_torch(oracle, kw, shape, ties):
    compare(oracle, "max_pool2d", _data(shape, ties), **kw)


def test_max_pool2d_float32_lenet_shapes(oracle):
    x = np.maximum(RNG.standard_normal((4, 6, 28, 28)), 0).astype(np.float32)   # relu output: many ties at 0
    compare(oracle, "max_pool2d", x, kernel_size=(2, 2))
    compare(oracle, "max_pool2d", x[:, :, :10, :10].copy(), kernel_size=2, return_indices=True)


@pytest.mark.parametrize("ties", [False, True])
def test_max_pool2d_2x2_contiguous_and_strided_inputs(oracle, ties):
    # a C-contiguous input is split into four contiguous offset planes first, any other input
    # is pooled through stride-2 views: both give torch's values and gradients
    oracle.manual_seed(0)
    x = np.maximum(_data((3, 4, 6, 10), ties), 0).astype(np.float32)
    compare(oracle, "max_pool2d", x, kernel_size=2)
    tx = oracle.tensor(x, requires_grad=True)
    ex = ember.tensor(x, requires_grad=True)
    to = oracle.nn.functional.max_pool2d(tx.transpose(2, 3), 2)
    eo = ember.nn.functional.max_pool2d(ex.transpose(2, 3), 2)
    np.testing.assert_array_equal(eo.detach().numpy(), to.detach().numpy())
    g = RNG.standard_normal(tuple(to.shape)).astype(np.float32)
    to.backward(oracle.tensor(g))
    eo.backward(ember.tensor(g))
    np.testing.assert_array_equal(ex.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("ties", [False, True])
def test_max_pool2d_on_threads(oracle, monkeypatch, ties):
    # a large batch is pooled in blocks of images on several threads: same values and gradients
    from ember.ops import conv as C
    monkeypatch.setattr(P, "_PAR_MIN_ELEMENTS", 0)
    monkeypatch.setattr(C, "_workers", lambda: 3)
    x = _data((7, 3, 6, 8), ties)
    compare(oracle, "max_pool2d", x, kernel_size=2)
    compare(oracle, "max_pool2d", np.maximum(x, 0).astype(np.float32), kernel_size=(2, 2), stride=2)


def test_max_pool2d_in_cache_sized_blocks(oracle, monkeypatch):
    # on one thread a large input is pooled in blocks of whole images, at most _POOL_BLOCK
    # elements each: 7 images of 3 x 6 x 8 in blocks of two, then three blocks for the 2x2 path
    monkeypatch.setattr(P, "_POOL_BLOCK", 2 * 3 * 6 * 8)
    assert P._pool_plan(7, 7 * 3 * 6 * 8, np) == (2, 1)
    assert P._pool_plan(7, 7 * 3 * 6 * 8 // 4, np) == (7, 1)
    x = _data((7, 3, 6, 8), True)
    compare(oracle, "max_pool2d", x, kernel_size=2)
    compare(oracle, "max_pool2d", np.maximum(x, 0).astype(np.float32), kernel_size=(2, 2), stride=2)


def _relu_passes(monkeypatch):
    """A list that records, per relu backward, whether the relu passed its gradient on as it is."""
    from ember.ops import elementwise as E
    seen, apply = [], E.ReluBackward0.apply

    def recording(node, g):
        out = apply(node, g)
        seen.append(out[0] is g)
        return out
    monkeypatch.setattr(E.ReluBackward0, "apply", recording)
    return seen


@pytest.mark.parametrize("threads", [False, True])
@pytest.mark.parametrize("use", ["plain", "retain_grad", "used_twice", "autograd_grad"])
def test_max_pool2d_of_relu_masks_once(oracle, monkeypatch, threads, use):
    # pool(relu(x)), the spec's pattern: in a plain backward() the pool's gradient goes out already
    # masked by the relu's y > 0 and the relu passes it on; where the relu's output gradient can be
    # seen or has another term, the relu masks as usual.  Torch's bits in every case, with windows
    # whose maximum is a relu zero (all four inputs negative)
    if threads:
        from ember.ops import conv as C
        monkeypatch.setattr(P, "_PAR_MIN_ELEMENTS", 0)
        monkeypatch.setattr(C, "_workers", lambda: 2)
    x = _data((5, 3, 6, 8), True).astype(np.float32)
    x[:, :, :2, :2] = -1.0
    g = RNG.standard_normal((5, 3, 3, 4)).astype(np.float32)
    seen = _relu_passes(monkeypatch)
    grads = []
    for lib in (ember, oracle):
        t = lib.tensor(x, requires_grad=True)
        y = lib.relu(t * 2)
        if use == "retain_grad":
            y.retain_grad()
        loss = (lib.nn.functional.max_pool2d(y, 2) * lib.tensor(g)).sum()
        if use == "used_twice":
            loss = loss + (y * y).sum()
        if use == "autograd_grad":
            grads.append(lib.autograd.grad(loss, [t, y]))
            continue
        loss.backward()
        grads.append((t.grad, y.grad) if use == "retain_grad" else (t.grad,))
    assert seen == [use == "plain"]
    for e, t in zip(*grads):
        np.testing.assert_array_equal(e.numpy().view(np.int32), t.numpy().view(np.int32))


def test_max_pool2d_of_relu_node_applied_outside_backward():
    # no backward pass is running: the node gives the pool's own gradient, unmasked
    x = ember.tensor(-np.ones((1, 1, 2, 2), np.float32), requires_grad=True)
    y = ember.relu(x)
    node = ember.nn.functional.max_pool2d(y, 2).grad_fn
    (gx,) = node.apply(np.ones((1, 1, 1, 1), np.float32))
    np.testing.assert_array_equal(gx, [[[[1, 0], [0, 0]]]])
    assert getattr(y.grad_fn, "premasked", None) is None


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("threads", [False, True])
def test_max_pool2d_2x2_gradient_bits(monkeypatch, dtype, threads):
    # each output gradient goes to its window's winner; the three losers get +0.0 (not -0.0 under
    # a negative gradient), as torch's; on one thread and in blocks on several
    if threads:
        from ember.ops import conv as C
        monkeypatch.setattr(P, "_PAR_MIN_ELEMENTS", 0)
        monkeypatch.setattr(C, "_workers", lambda: 2)
    x = np.maximum(_data((5, 3, 6, 8), True), 0).astype(dtype)
    g = -np.abs(RNG.standard_normal((5, 3, 3, 4))).astype(dtype)
    ex = ember.tensor(x, requires_grad=True)
    ember.nn.functional.max_pool2d(ex, 2).backward(ember.tensor(g))
    gx = ex.grad.numpy()
    assert gx.dtype == dtype
    assert not (np.signbit(gx) & (gx == 0)).any()
    np.testing.assert_array_equal(np.sort(gx[gx != 0]), np.sort(g.ravel()))
    if torch is not None:
        tx = torch.tensor(x, requires_grad=True)
        torch.nn.functional.max_pool2d(tx, 2).backward(torch.tensor(g))
        bits = f"i{x.itemsize}"
        np.testing.assert_array_equal(gx.view(bits), tx.grad.numpy().view(bits))


def test_2x2_winner_bits_match_where():
    # the winner index is built with bit operations on 0/1 bytes: all 2^4 orderings of ties
    vals = np.array(np.meshgrid(*[[0.0, 1.0]] * 4, indexing="ij")).reshape(4, -1).T   # (16, 4)
    a, b, c, d = (vals[:, k].copy() for k in range(4))
    out, idx = P._tree2x2(np, a, b, c, d, True)
    m1, m2 = np.maximum(a, b), np.maximum(c, d)
    want = np.where(m2 > m1, 2 + (d > c), (b > a).astype(np.uint8))
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_array_equal(out, np.maximum(m1, m2))
    assert idx.dtype == np.uint8


def test_max_pool2d_nan_follows_torch(oracle):
    x = np.array([[[[1.0, np.nan], [3, 4]], [[np.nan, np.nan], [3, 4]], [[1, 2], [3, 4]]]])
    to, ti = oracle.nn.functional.max_pool2d(oracle.tensor(x), 2, return_indices=True)
    eo, ei = P.max_pool2d(ember.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(eo.numpy(), to.numpy())
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())
    to, ti = oracle.nn.functional.max_pool2d(oracle.tensor(x), 2, stride=1, padding=1, return_indices=True)
    eo, ei = P.max_pool2d(ember.tensor(x), 2, stride=1, padding=1, return_indices=True)
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())


def _special_values(kind, shape, dtype):
    x = RNG.standard_normal(shape)
    if kind == "ties":
        x = np.round(x)
    elif kind == "signed zeros":   # a window of -0.0 and +0.0: torch keeps the first
        x = np.where(RNG.random(shape) < 0.5, -0.0, 0.0)
        x.flat[::7] = -1
    elif kind == "nan":
        x[RNG.random(shape) < 0.1] = np.nan
    elif kind == "inf":
        x[RNG.random(shape) < 0.2] = -np.inf
        x[..., :3, :3] = np.inf
    elif kind == "relu":
        x = np.maximum(x, 0)
    return x.astype(dtype)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=3, stride=2, ceil_mode=True), dict(kernel_size=(3, 2), stride=(2, 1)),
                                dict(kernel_size=3, stride=2, dilation=2, padding=1), dict(kernel_size=1, stride=2),
                                dict(kernel_size=4, stride=2, padding=1), dict(kernel_size=3, stride=3)])
@pytest.mark.parametrize("kind", ["plain", "ties", "signed zeros", "nan", "inf", "relu"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("blocks", ["one", "threads"])
def test_max_pool2d_general_windows_have_torchs_bits(oracle, monkeypatch, kw, kind, dtype, blocks):
    # windows other than 2x2 (strided ones through contiguous phase planes): values, indices,
    # no-grad values and gradients bit for bit, with the gradients added in torch's order; also in
    # blocks of a few planes shared between threads
    if blocks == "threads":
        from ember.ops import conv as C
        monkeypatch.setattr(P, "_PAR_MIN_ELEMENTS", 0)
        monkeypatch.setattr(P, "_POOL_BLOCK", 300)
        monkeypatch.setattr(C, "_workers", lambda: 3)
    x = _special_values(kind, (2, 3, 11, 12), dtype)
    tx, ex = oracle.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    to, ti = oracle.nn.functional.max_pool2d(tx, return_indices=True, **kw)
    eo, ei = P.max_pool2d(ex, return_indices=True, **kw)
    _same_bits(eo.detach().numpy(), to.detach().numpy())
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())
    with ember.no_grad():
        _same_bits(P.max_pool2d(ember.tensor(x), **kw).numpy(), to.detach().numpy())
    g = RNG.standard_normal(tuple(to.shape)).astype(dtype)
    if kind == "signed zeros":
        g[...] = -0.0   # each winner's +0.0 + -0.0 is +0.0
        g.flat[::5] = 1.5
    if kind == "inf":
        g.flat[0] = np.inf   # inf * 0 would be NaN: the losers still get +0.0
    to.backward(oracle.tensor(g))
    eo.backward(ember.tensor(g))
    _same_bits(ex.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1, padding=1),
                                dict(kernel_size=3, stride=1, padding=1, dilation=2)])
def test_max_pool2d_window_of_minus_inf_picks_its_first_element_inside(oracle, kw):
    # torch's winner of a window holding only -inf is its first element inside the input (the padding
    # before it is no candidate), so that element gets the gradient
    x = np.full((1, 2, 5, 6), -np.inf, np.float32)
    x[0, 1, 3, 4] = 2.0
    tx, ex = oracle.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    to, ti = oracle.nn.functional.max_pool2d(tx, return_indices=True, **kw)
    eo, ei = P.max_pool2d(ex, return_indices=True, **kw)
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())
    to.sum().backward()
    eo.sum().backward()
    _same_bits(ex.grad.numpy(), tx.grad.numpy())
    assert ex.grad.numpy()[0, 0].sum() == to.shape[-1] * to.shape[-2]   # every window's 1 arrived


def _same_bits(a, b):
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8)), \
        np.argwhere(a != b)[:5]


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("contiguous", [False, True])
def test_max_pool2d_2x2_gradient_goes_to_the_last_nan(oracle, relu, contiguous):
    # the 2x2 path's winner masks come from comparisons that pass NaNs over: where a window holds
    # a NaN, its gradient still goes to the window's last NaN, as torch's
    x = RNG.standard_normal((2, 3, 4, 6)).astype(np.float32)
    x[0, 0, 0, 1] = x[0, 1, 1, 0] = x[0, 1, 1, 1] = x[1, 2, 2, 2] = x[1, 2, 3, 3] = np.nan
    grads = []
    for lib in (ember, oracle):
        # (a transposed leaf: the pool then sees stride-2 views of a non-contiguous array)
        t = lib.tensor(x if contiguous else x.transpose(0, 1, 3, 2).copy(), requires_grad=True)
        z = t if contiguous else t.transpose(2, 3)
        y = lib.relu(z) if relu else z * 1
        assert y.is_contiguous() == contiguous
        lib.nn.functional.max_pool2d(y, 2).sum().backward()
        grads.append(t.grad.numpy() if contiguous else t.grad.numpy().transpose(0, 1, 3, 2))
    np.testing.assert_array_equal(*grads)
    assert grads[0][0, 1, 1, 1] == 1 and grads[0][0, 1, 1, 0] == 0


AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, divisor_override=5),
]


@pytest.mark.parametrize("kw", AVG_CASES)
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 7, 9), (3, 5, 6)])
def test_avg_pool2d_matches_torch(oracle, kw, shape):
    compare(oracle, "avg_pool2d", RNG.standard_normal(shape), **kw)


@pytest.mark.parametrize("kw", AVG_CASES + [dict(kernel_size=(3, 2), stride=(1, 2), padding=1),
                                            dict(kernel_size=1, stride=2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_avg_pool2d_has_torchs_bits(oracle, kw, dtype):
    # torch adds each window's elements from 0 in row order and divides (by divisor_override too);
    # in backward an element shared by windows gets their shares in the windows' order
    x = RNG.standard_normal((2, 3, 9, 10)).astype(dtype)
    x[:, 0] = -0.0   # windows of negative zeros sum to +0.0
    tx, ex = oracle.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    to, eo = oracle.nn.functional.avg_pool2d(tx, **kw), ember.nn.functional.avg_pool2d(ex, **kw)
    assert eo.detach().numpy().tobytes() == to.detach().numpy().tobytes()
    g = RNG.standard_normal(tuple(to.shape)).astype(dtype)
    to.backward(oracle.tensor(g))
    eo.backward(ember.tensor(g))
    assert ex.grad.numpy().tobytes() == tx.grad.numpy().tobytes()


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                dict(kernel_size=2, stride=1, return_indices=True)])
@pytest.mark.parametrize("shape", [(2, 3, 9), (3, 8)])
def test_pool1d_matches_torch(oracle, kw, shape):
    compare(oracle, "max_pool1d", RNG.standard_normal(shape), **kw)
    kw.pop("return_indices", None)
    compare(oracle, "avg_pool1d", RNG.standard_normal(shape), **kw)


@pytest.mark.parametrize("size", [1, 2, 3, (2, 4), (None, 3), (5, 7), (10, 11)])
@pytest.mark.parametrize("shape", [(2, 3, 8, 8), (1, 2, 7, 9), (3, 5, 6)])
def test_adaptive_pool2d_matches_torch(oracle, size, shape):
    compare(oracle, "adaptive_avg_pool2d", RNG.standard_normal(shape), output_size=size)
    compare(oracle, "adaptive_max_pool2d", _data(shape, ties=True), output_size=size, return_indices=True)


@pytest.mark.parametrize("size,shape", [((4, 3), (2, 3, 12, 12)), (2, (1, 2, 4, 6)), (1, (2, 2, 5, 7)),
                                        ((3, 12), (2, 2, 9, 12)), (6, (3, 18, 12))])
@pytest.mark.parametrize("kind", ["plain", "ties", "signed zeros", "nan", "inf", "relu"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adaptive_max_pool2d_of_equal_windows_has_torchs_bits(oracle, size, shape, kind, dtype):
    # sizes that divide the input tile it with equal windows, each one argmax over its elements
    # (_equal_windows_max): torch's first maximum and last NaN, values, indices and gradients bit for bit
    x = _special_values(kind, shape, dtype)
    tx, ex = oracle.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    to, ti = oracle.nn.functional.adaptive_max_pool2d(tx, size, return_indices=True)
    eo, ei = P.adaptive_max_pool2d(ex, size, return_indices=True)
    _same_bits(eo.detach().numpy(), to.detach().numpy())
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())
    assert eo.grad_fn.name() == to.grad_fn.name()
    g = RNG.standard_normal(tuple(to.shape)).astype(dtype)
    to.backward(oracle.tensor(g))
    eo.backward(ember.tensor(g))
    _same_bits(ex.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("size", [1, 3, 5, 12])
def test_adaptive_pool1d_matches_torch(oracle, size):
    compare(oracle, "adaptive_avg_pool1d", RNG.standard_normal((2, 3, 9)), output_size=size)
    compare(oracle, "adaptive_max_pool1d", RNG.standard_normal((2, 3, 9)), output_size=size, return_indices=True)


@pytest.mark.parametrize("name,shape,size", [("adaptive_avg_pool1d", (2, 3, 5), 0),
                                             ("adaptive_max_pool1d", (2, 3, 5), 0),
                                             ("adaptive_avg_pool2d", (2, 3, 5, 6), (0, 2)),
                                             ("adaptive_max_pool2d", (2, 3, 5, 6), (2, 0)),
                                             ("adaptive_avg_pool2d", (3, 5, 6), (1, 0)),
                                             ("adaptive_avg_pool3d", (1, 2, 3, 4, 5), (0, 1, 1)),
                                             ("adaptive_max_pool3d", (1, 2, 3, 4, 5), (2, 0, 1))])
def test_adaptive_pool_to_size_zero(oracle, name, shape, size):
    # torch pools to an empty output, and its backward refuses it: the same RuntimeError, word for word
    x = RNG.standard_normal(shape)
    outs = []
    for lib, fn in ((oracle, getattr(oracle.nn.functional, name)), (ember, getattr(ember.nn.functional, name))):
        y = fn(lib.tensor(x, requires_grad=True), size)
        with pytest.raises(RuntimeError) as e:
            y.sum().backward()
        outs.append((tuple(y.shape), y.grad_fn.name(), str(e.value)))
    (tshape, tnode, tmsg), (eshape, enode, emsg) = outs
    assert eshape == tshape and 0 in eshape and enode == tnode
    assert emsg.startswith(tmsg)
    if len(shape) > {"1": 2, "2": 3, "3": 4}[name[-2]]:   # an empty batch pools (and differentiates) as torch
        compare(oracle, name, RNG.standard_normal((0,) + shape[1:]), output_size=2)


def test_max_unpool2d_matches_torch(oracle):
    x = RNG.standard_normal((2, 3, 8, 8))
    to, ti = oracle.nn.functional.max_pool2d(oracle.tensor(x), 2, return_indices=True)
    eo, ei = P.max_pool2d(ember.tensor(x), 2, return_indices=True)
    to.requires_grad_()
    eo.requires_grad_()
    tu = oracle.nn.functional.max_unpool2d(to, ti, 2)
    eu = P.max_unpool2d(eo, ei, 2)
    np.testing.assert_array_equal(eu.detach().numpy(), tu.detach().numpy())
    assert eu.grad_fn.name() == tu.grad_fn.name()
    g = RNG.standard_normal(tuple(tu.shape))
    tu.backward(oracle.tensor(g))
    eu.backward(ember.tensor(g))
    np.testing.assert_array_equal(eo.grad.numpy(), to.grad.numpy())


@pytest.mark.parametrize("fn,kw", [
    (P.max_pool2d, dict(kernel_size=3, stride=2, padding=1)),
    (P.max_pool2d, dict(kernel_size=2, dilation=2)),
    (P.avg_pool2d, dict(kernel_size=3, stride=2, padding=1, count_include_pad=False, ceil_mode=True)),
    (P.adaptive_avg_pool2d, dict(output_size=(2, 3))),
    (P.adaptive_max_pool2d, dict(output_size=(2, 3))),
])
def test_central_differences(fn, kw):
    x = RNG.standard_normal((1, 2, 5, 6))
    r = RNG.standard_normal(fn(ember.tensor(x), **kw).shape)
    t = ember.tensor(x, requires_grad=True)
    (fn(t, **kw) * ember.tensor(r)).sum().backward()
    num = numeric_grad(lambda v: float((fn(ember.tensor(v), **kw).numpy() * r).sum()), x)
    np.testing.assert_allclose(t.grad.numpy(), num, rtol=1e-6, atol=1e-7)


def test_2x2_tree_picks_first_maximum():
    # the 2x2 tree must pick the same winners as a sequential scan (ties included)
    x = np.round(RNG.standard_normal((2, 3, 6, 8)))
    g = P._PoolGeom(6, 8, 2, 2, 2, 2, 0, 0, 1, 1, 3, 4)
    out, idx = P._max_forward(np, x, g)
    # reference: torch's scan, offsets in row-major order, strict '>' keeps the first maximum
    loop_out = x[..., 0::2, 0::2].copy()
    loop_idx = np.zeros(loop_out.shape, np.uint8)
    for t, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        v = x[..., i::2, j::2]
        m = v > loop_out
        loop_out[m] = v[m]
        loop_idx[m] = t
    np.testing.assert_array_equal(out, loop_out)
    np.testing.assert_array_equal(idx, loop_idx)


def test_node_structure_and_dtype():
    x = ember.randn(4, 6, 28, 28, requires_grad=True)
    y = P.max_pool2d(x, (2, 2))
    assert y.grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    assert y.grad_fn.next_functions[0][0].variable is x
    assert y.dtype == ember.float32 and tuple(y.shape) == (4, 6, 14, 14)
    y.sum().backward()
    assert x.grad.dtype == ember.float32
    with ember.no_grad():
        assert P.max_pool2d(x, 2).grad_fn is None
    assert P.adaptive_avg_pool2d(x, 1).grad_fn.name() == "MeanBackward1"
    assert P.avg_pool1d(ember.randn(2, 3, 8, requires_grad=True), 2).grad_fn.name() == "SqueezeBackward1"


@pytest.mark.parametrize("call,message", [
    (lambda: P.max_pool2d(ember.randn(2, 3, 1, 1), 2),
     r"Given input size: \(3x1x1\). Calculated output size: \(3x0x0\). Output size is too small"),
    (lambda: P.max_pool2d(ember.randn(2, 3, 8, 8), 2, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and dilation=1"),
    (lambda: P.max_pool2d(ember.randn(2, 3, 8, 8), 2, stride=0), "stride should not be zero"),
    (lambda: P.max_pool2d(ember.randn(2, 3, 8, 8), (2, 2, 2)),
     "max_pool2d: kernel_size must either be a single int, or a tuple of two ints"),
    (lambda: P.max_pool2d(ember.randn(2, 3, 8, 8), 2, dilation=0),
     "dilation should be greater than zero, but got dilationH: 0 dilationW: 0"),
    (lambda: P.max_pool2d(ember.randn(8), 2), "non-empty 3D or 4D"),
    (lambda: P.avg_pool2d(ember.randn(2, 3, 1, 1), 2), "Output size is too small"),
])
def test_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


def test_integer_input(oracle):
    x = RNG.integers(-5, 5, (2, 3, 6, 6))
    np.testing.assert_array_equal(P.max_pool2d(ember.tensor(x), 2).numpy(),
                                  oracle.nn.functional.max_pool2d(oracle.tensor(x), 2).numpy())


def test_exported_names():
    import ember.nn.functional as F
    for name in P.__functional__:
        assert inspect.unwrap(getattr(F, name)) is inspect.unwrap(getattr(P, name))  # under the type check
    assert inspect.unwrap(ember.max_pool2d) is P.max_pool2d
