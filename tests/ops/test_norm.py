"""Normalization, dropout, embedding, pad, distances, interpolate: vs torch and central differences."""
import inspect
import itertools
import math
import warnings

import numpy as np
import pytest

import ember
from ember.ops import norm as N
from tests.conftest import check_unbuffered_rows, numeric_grad, record_blocks

RNG = np.random.default_rng(2)


def _t(lib, a, grad=False):
    if not isinstance(a, np.ndarray):
        return a
    t = lib.tensor(a)
    return t.requires_grad_(True) if grad else t


def compare(torch, efn, tfn, args, grad_idx=(0,), kwargs=None, atol=1e-5, rtol=1e-4, node=True):
    """Values and gradients (for a random upstream gradient) vs torch; returns both outputs."""
    kwargs = kwargs or {}
    ea = [_t(ember, a, i in grad_idx) for i, a in enumerate(args)]
    ta = [_t(torch, a, i in grad_idx) for i, a in enumerate(args)]
    ekw = {k: _t(ember, v) for k, v in kwargs.items()}
    tkw = {k: _t(torch, v) for k, v in kwargs.items()}
    eo, to = efn(*ea, **ekw), tfn(*ta, **tkw)
    assert tuple(eo.shape) == tuple(to.shape)
    assert eo.dtype.name == str(to.dtype).split(".")[-1]
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=atol, rtol=rtol)
    if grad_idx:
        if node:
            assert eo.grad_fn.name() == to.grad_fn.name()
        w = RNG.standard_normal(tuple(to.shape)).astype(eo.detach().numpy().dtype)
        eo.backward(ember.tensor(w))
        to.backward(torch.tensor(w))
        for i in grad_idx:
            np.testing.assert_allclose(ea[i].grad.numpy(), ta[i].grad.numpy(), atol=atol, rtol=rtol)
    return ea, ta


def gradcheck(fn, args, idx=0, **kwargs):
    """d(sum(out * w))/d(args[idx]) in float64 vs central differences."""
    args = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
    ea = [ember.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    ea[idx].requires_grad_(True)
    out = fn(*ea, **kwargs)
    w = RNG.standard_normal(tuple(out.shape))
    out.backward(ember.tensor(w))

    def f(v):
        ea2 = list(ea)
        ea2[idx] = ember.tensor(v)
        with ember.no_grad():
            return float((fn(*ea2, **kwargs).numpy() * w).sum())
    np.testing.assert_allclose(ea[idx].grad.numpy(), numeric_grad(f, args[idx]), atol=1e-6, rtol=1e-5)


def _x(*shape, dtype=np.float32):
    return (RNG.standard_normal(shape) * 2 + 0.5).astype(dtype)


# ---- batch_norm --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 4, 4),
                                   # short planes: per-channel constants spread over the plane, sums
                                   # of products from einsum, and planes of one element
                                   (32, 64, 2, 2), (8, 128, 10), (16, 512, 1, 1), (4, 32, 8, 8)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm(oracle, shape, training, affine):
    import torch.nn.functional as TF
    c = shape[1]
    x = _x(*shape)
    rm, rv = RNG.standard_normal(c).astype(np.float32), RNG.uniform(0.5, 2, c).astype(np.float32)
    w, b = RNG.standard_normal(c).astype(np.float32), RNG.standard_normal(c).astype(np.float32)
    args = [x, rm.copy(), rv.copy()] + ([w, b] if affine else [None, None])
    grads = (0, 3, 4) if affine else (0,)
    ea, ta = compare(oracle, lambda *a: N.batch_norm(*a, training=training, momentum=0.2, eps=1e-4),
                     lambda *a: TF.batch_norm(*a, training=training, momentum=0.2, eps=1e-4), args, grads)
    np.testing.assert_allclose(ea[1].numpy(), ta[1].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ea[2].numpy(), ta[2].numpy(), rtol=1e-5, atol=1e-6)


def test_batch_norm_running_stats_track_torch_over_steps(oracle):
    import torch.nn.functional as TF
    em, ev = ember.zeros(3), ember.ones(3)
    tm, tv = oracle.zeros(3), oracle.ones(3)
    for step in range(5):
        x = _x(4, 3, 2, 2) * (step + 1)
        v0 = em._version
        N.batch_norm(ember.tensor(x), em, ev, training=True)
        TF.batch_norm(oracle.tensor(x), tm, tv, training=True)
        assert em._version == v0 + 1
    np.testing.assert_allclose(em.numpy(), tm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ev.numpy(), tv.numpy(), rtol=1e-5, atol=1e-6)
    # unbiased variance: a batch with var 1 (biased) moves running_var towards n / (n - 1)
    x = np.array([[-1.0], [1.0]], np.float32)
    rv = ember.zeros(1)
    N.batch_norm(ember.tensor(x), None, rv, training=True, momentum=1.0)
    np.testing.assert_allclose(rv.numpy(), [2.0])


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_per_channel_products_match_torch(oracle, layout, training):
    # C-contiguous inputs reduce per channel with BLAS products; channels_last ones take NumPy's
    # reductions: both must give torch's values, running statistics and three gradients
    import torch.nn.functional as TF
    x = _x(8, 5, 12, 12)
    if layout == "channels_last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    rm, rv = RNG.standard_normal(5).astype(np.float32), RNG.uniform(0.5, 2, 5).astype(np.float32)
    w, b = RNG.standard_normal(5).astype(np.float32), RNG.standard_normal(5).astype(np.float32)
    ea, ta = compare(oracle, lambda *a: N.batch_norm(*a, training=training),
                     lambda *a: TF.batch_norm(*a, training=training), [x, rm.copy(), rv.copy(), w, b], (0, 3, 4))
    for i in (1, 2):
        np.testing.assert_allclose(ea[i].numpy(), ta[i].numpy(), rtol=1e-5, atol=1e-6)


def _batch_norm_run(lib, x, g, affine, training, w=None, b=None):
    """(output, input, weight and bias gradients, running stats) of lib's BatchNorm2d over x; w and b:
    the affine weight and bias (by default drawn from ember's generator), in the last two places."""
    if affine and w is None:
        ember.manual_seed(0)
        w, b = ember.randn(x.shape[1]).numpy(), ember.randn(x.shape[1]).numpy()
    bn = lib.nn.BatchNorm2d(x.shape[1], affine=affine)
    if affine:
        with lib.no_grad():
            bn.weight.copy_(lib.tensor(w))
            bn.bias.copy_(lib.tensor(b))
    bn.train(training)
    t = lib.tensor(x, requires_grad=True)
    y = bn(t)
    y.backward(lib.tensor(g))
    out = [y.detach().numpy(), t.grad.numpy(), bn.running_mean.numpy(), bn.running_var.numpy()]
    return out + ([bn.weight.grad.numpy(), bn.bias.grad.numpy(), w, b] if affine else [])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_on_threads_gives_the_one_pass_bits(oracle, monkeypatch, affine, training):
    # a large batch norm shares its passes between the threads, one block of whole (sample, channel)
    # rows a thread: every value, gradient and running statistic as from the one pass, and torch's
    x = _x(5, 6, 16, 16)
    g = RNG.standard_normal(x.shape).astype(np.float32)
    one_pass = _batch_norm_run(ember, x, g, affine, training)
    monkeypatch.setattr(N, "_BN_PAR_MIN", 0)
    blocks = record_blocks(monkeypatch, 2, "row_blocks")
    shared = _batch_norm_run(ember, x, g, affine, training)
    # training: three passes forward, two backward; evaluation: two backward
    assert len(blocks) == (5 if training else 2) and all(b[3] == -(-x.size // 2) for b in blocks)
    for a, b in zip(one_pass, shared):
        assert np.array_equal(a, b)
    theirs = _batch_norm_run(oracle, x, g, affine, training, *shared[-2:] if affine else ())
    for a, b in zip(shared[:-2] if affine else shared, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_evaluation_is_torchs_multiply_add(oracle, affine):
    # torch's evaluation kernel: x * alpha + beta, alpha = invstd * w, beta = b - mean * alpha (with
    # the multiply-add fused: NumPy rounds it twice, so within an ulp); with and without grad alike
    import torch.nn.functional as TF
    x = _x(4, 6, 5, 7)
    rm, rv = RNG.standard_normal(6).astype(np.float32), RNG.uniform(0.5, 2, 6).astype(np.float32)
    w, b = (RNG.standard_normal(6).astype(np.float32), RNG.standard_normal(6).astype(np.float32)) if affine \
        else (None, None)
    t = TF.batch_norm(*[None if a is None else oracle.tensor(a) for a in (x, rm, rv, w, b)]).numpy()
    ew = ember.tensor(w, requires_grad=True) if affine else None
    eb = ember.tensor(b) if affine else None
    plain = N.batch_norm(ember.tensor(x), ember.tensor(rm), ember.tensor(rv), ew, eb)
    with ember.no_grad():
        quiet = N.batch_norm(ember.tensor(x), ember.tensor(rm), ember.tensor(rv), ew, eb)
    assert np.array_equal(plain.detach().numpy(), quiet.numpy())
    e = quiet.numpy()
    # each within a few roundings of torch's (the fused one it saves), most of them its bits
    np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-6)
    assert (e == t).mean() > 0.6


@pytest.mark.parametrize("op", ["batch_norm_train", "batch_norm_eval", "layer_norm", "group_norm",
                                "group_norm_no_weight", "instance_norm", "instance_norm_no_weight"])
def test_norms_over_long_rows_unbuffered_same_bits_and_state_restored(oracle, op, monkeypatch):
    # rows of >= 128 elements run with a short ufunc buffer (_backend.rows_state): same bits as NumPy's
    # buffered loops, torch's values, and NumPy's own buffer size and error state back afterwards
    import torch.nn.functional as TF
    x, w, b = _x(4, 3, 16, 20), _x(3), _x(3)
    rm, rv = RNG.standard_normal(3).astype(np.float32), RNG.uniform(0.5, 2, 3).astype(np.float32)
    g = _x(4, 3, 16, 20)
    if op == "layer_norm":
        w, b = _x(16, 20), _x(16, 20)

    def run(lib, F):
        xt, wt, bt = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        if op == "layer_norm":
            y = F.layer_norm(xt, (16, 20), wt, bt)
        elif op.startswith("instance_norm"):   # (the same rows as group norm's, a group a channel)
            if op.endswith("no_weight"):
                y = F.instance_norm(xt)
                y.backward(lib.tensor(g))
                return [y.detach().numpy().copy(), xt.grad.numpy().copy()]
            y = F.instance_norm(xt, weight=wt, bias=bt)
        elif op.startswith("group_norm"):   # (per (sample, group) rows: products, then per-channel passes)
            xt, wt, bt = (lib.tensor(np.concatenate([a, a * 3 + 1], axis=a.ndim - 3 if a.ndim > 1 else 0),
                                     requires_grad=True) for a in (x, w, b))
            if op.endswith("no_weight"):   # (torch 2.13's backward fails with a bias and no weight)
                wt = bt = None
            y = F.group_norm(xt, 2, wt, bt)
            y.backward(lib.tensor(np.concatenate([g, -g], axis=1)))
            return [a.detach().numpy().copy() for a in (y, xt.grad) + ((wt.grad, bt.grad) if wt is not None else ())]
        else:
            y = F.batch_norm(xt, lib.tensor(rm), lib.tensor(rv), wt, bt, training=op == "batch_norm_train")
        y.backward(lib.tensor(g))
        return [a.detach().numpy().copy() for a in (y, xt.grad, wt.grad, bt.grad)]

    # (the op itself: F's argument check would restore NumPy's state on its own)
    check_unbuffered_rows(run, N, TF, oracle, monkeypatch, rtol=1e-4, atol=1e-4)


def test_rows_state_is_quiet_with_a_buffer_no_longer_than_the_rows():
    from ember import _backend
    for n, size in ((128, 128), (200, 128), (4344, 4096), (100000, 8192)):
        token = _backend.fp_set(_backend.rows_state(n))
        try:
            assert np.getbufsize() == size
            assert set(np.geterr().values()) == {"ignore"}
        finally:
            _backend.fp_reset(token)


def test_batch_norm_gradcheck():
    x = _x(3, 2, 2)
    w, b = _x(2), _x(2)
    for idx in (0, 3, 4):
        gradcheck(lambda *a: N.batch_norm(*a, training=True), [x, None, None, w, b], idx)
    gradcheck(lambda *a: N.batch_norm(*a, training=False), [x, _x(2), np.array([1.5, 0.7]), w, b], 0)
    # 4-d and 5-d inputs (the per-channel products over the spatial rows)
    for shape in ((2, 3, 3, 2), (2, 2, 2, 3, 2)):
        x, w, b = _x(*shape), _x(shape[1]), _x(shape[1])
        for idx in (0, 3, 4):
            gradcheck(lambda *a: N.batch_norm(*a, training=True), [x, None, None, w, b], idx)


def test_batch_norm_node_and_torch_order(oracle):
    x = ember.tensor(_x(2, 3), requires_grad=True)
    w = ember.ones(3, requires_grad=True)
    y = N.batch_norm(x, None, None, w, ember.zeros(3, requires_grad=True), True)
    assert y.grad_fn.name() == "NativeBatchNormBackward0"
    assert len(y.grad_fn.next_functions) == 3
    # torch.batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn)
    rm, rv = ember.zeros(3), ember.ones(3)
    a = ember.batch_norm(x, w, None, rm, rv, True, 0.1, 1e-5, True)
    b = N.batch_norm(x, ember.zeros(3), ember.ones(3), w, None, True)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy())
    assert rm.abs().sum().item() > 0


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        N.batch_norm(ember.randn(1, 3), ember.zeros(3), ember.ones(3), training=True)
    with pytest.raises(RuntimeError, match="running_mean should contain 3 elements not 4"):
        N.batch_norm(ember.randn(2, 3), ember.zeros(4), ember.ones(4), training=True)
    with pytest.raises(RuntimeError, match="weight should contain 3 elements not 4"):
        N.batch_norm(ember.randn(2, 3), None, None, ember.ones(4), training=True)
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        N.batch_norm(ember.randn(2, 3), None, None, training=False)


# ---- layer / group / instance norm ------------------------------------------------------
@pytest.mark.parametrize("shape,ns", [((4, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(oracle, shape, ns, affine):
    import torch.nn.functional as TF
    x = _x(*shape)
    args = [x, ns] + ([_x(*ns), _x(*ns)] if affine else [])
    compare(oracle, N.layer_norm, TF.layer_norm, args, (0, 2, 3) if affine else (0,))
    for idx in ((0, 2, 3) if affine else (0,)):
        gradcheck(N.layer_norm, [x[..., :2, :], ns] + args[2:], idx) if x.ndim == 3 and len(ns) == 1 else None
    gradcheck(N.layer_norm, args, 0)


@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_rows_and_general_paths_match_torch(oracle, affine, layout, dtype):
    # C-contiguous inputs take the (rows, D) products; others NumPy's reductions over the trailing axes
    import torch.nn.functional as TF
    x = _x(3, 2, 7, 5).astype(dtype)
    w = _x(2, 5).astype(dtype) if affine in ("both", "weight") else None
    b = _x(2, 5).astype(dtype) if affine in ("both", "bias") else None
    idx = (0,) + ((2,) if w is not None else ()) + ((3,) if b is not None else ())
    tol = dict(atol=1e-12, rtol=1e-10) if dtype == np.float64 else dict(atol=2e-5, rtol=1e-4)
    if layout == "transposed":
        def arrange(x):
            return x.transpose(1, 2)
    else:
        def arrange(x):
            return x.reshape(3, 7, 2, 5)
    compare(oracle, lambda x, ns, w, b: N.layer_norm(arrange(x), ns, w, b),
            lambda x, ns, w, b: TF.layer_norm(arrange(x), ns, w, b), [x, (2, 5), w, b], idx, node=False, **tol)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("affine", [True, False])
def test_large_layer_norm_in_blocks_of_rows(oracle, monkeypatch, workers, affine):
    # large inputs: forward and backward in blocks of whole rows, xhat recomputed from the kept input;
    # each row's values as from one pass over the whole array (the weight's and bias's gradients summed
    # block by block), and torch's values
    from ember import _threads
    monkeypatch.setattr(_threads, "ROW_BLOCK", 3000)
    monkeypatch.setattr(_threads, "ROWS_PAR_MIN", 20000)
    blocks = record_blocks(monkeypatch, workers, "row_blocks")
    x = (RNG.standard_normal((5, 67, 96)) * 3 + 1).astype(np.float32)
    g = RNG.standard_normal(x.shape).astype(np.float32)
    w = (RNG.standard_normal(96) if affine else np.ones(96)).astype(np.float32)
    out = {}
    for lib in (ember, oracle):
        xt = lib.tensor(x, requires_grad=True)
        ln = lib.nn.LayerNorm(96, elementwise_affine=affine)
        if affine:
            with lib.no_grad():
                ln.weight.copy_(lib.tensor(w))
                ln.bias.fill_(0.5)
        y = ln(xt)
        y.backward(lib.tensor(g))
        out[lib] = [y.detach().numpy(), xt.grad.numpy()]
        if affine:
            out[lib] += [ln.weight.grad.numpy(), ln.bias.grad.numpy()]
    assert [c[0] for c in blocks] == [335, 335]   # forward and backward
    x2, g2 = x.reshape(-1, 96), g.reshape(-1, 96)
    b = np.float32(0.5) if affine else None
    want, xhat, invstd = N._layer_norm_rows(np, x2, 96, w if affine else None, b, 1e-5)
    np.testing.assert_array_equal(out[ember][0].reshape(-1, 96), want)
    # (what backward recomputes, block by block)
    np.testing.assert_array_equal(N._xhat_rows(np, x2, np.dot(x2, np.ones(96, np.float32)) / 96, invstd), xhat)
    gx, gw, gb = N._layer_norm_grad_rows(np, g2, xhat, invstd, w if affine else None, 96, (True, affine, affine))
    np.testing.assert_array_equal(out[ember][1].reshape(-1, 96), gx)
    for mine, theirs in zip(out[ember], out[oracle]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=2e-5)
    if affine:
        np.testing.assert_allclose(out[ember][2], gw, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(out[ember][3], gb, rtol=1e-5, atol=1e-4)


def test_large_layer_norm_keeps_its_input_not_xhat(oracle, monkeypatch):
    # the node of a large layer norm keeps the input and its row statistics; its gradients through a
    # gradient of another layout (the general path), create_graph, and an in-place change of the input
    from ember import _threads
    monkeypatch.setattr(_threads, "ROW_BLOCK", 500)
    x = RNG.standard_normal((40, 30)).astype(np.float32)
    g = RNG.standard_normal((30, 40)).astype(np.float32)
    out = {}
    for lib in (ember, oracle):
        xt = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.layer_norm(xt, (30,))
        if lib is ember:
            node = y.grad_fn
            assert node.xhat is None and node.x is xt._data and node.mean.shape == (40,)
        (gx,) = lib.autograd.grad(y, xt, lib.tensor(g).t(), create_graph=True)
        (gx * gx).sum().backward()
        out[lib] = (gx.detach().numpy(), xt.grad.numpy())
        x2 = xt * 1
        z = lib.nn.functional.layer_norm(x2, (30,))
        x2.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()
    for mine, theirs in zip(out[ember], out[oracle]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rows", [3, 3000])   # (the whole array / blocks of rows)
def test_layer_norm_gives_torchs_sign_of_zero(oracle, rows):
    # without weight and bias, a -0.0 that is its row's mean comes out +0.0, as from torch's kernel
    x = np.tile(np.float32([-0.0, 0.0, 2.0, -2.0]), (rows, 16))
    mine = N.layer_norm(ember.tensor(x), (64,)).numpy()
    theirs = oracle.nn.functional.layer_norm(oracle.tensor(x), (64,)).numpy()
    assert np.array_equal(np.signbit(mine), np.signbit(theirs)) and not np.signbit(mine[:, 0]).any()
    np.testing.assert_allclose(mine, theirs, rtol=1e-6)


def test_layer_norm_errors():
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], "
                                           r"but got input of size\[2, 3\]"):
        N.layer_norm(ember.randn(2, 3), (4,))


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_group_norm(oracle, groups):
    import torch.nn.functional as TF
    x = _x(2, 4, 3, 3)
    compare(oracle, N.group_norm, TF.group_norm, [x, groups, _x(4), _x(4)], (0, 2, 3))
    compare(oracle, N.group_norm, TF.group_norm, [x[:, :, 0], groups], (0,))
    for idx in (0, 2, 3):
        gradcheck(N.group_norm, [_x(2, 4, 3), groups, _x(4), _x(4)], idx)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        N.group_norm(ember.randn(2, 3, 4), 2)


@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm(oracle, use_input_stats):
    import torch.nn.functional as TF
    x = _x(2, 3, 4, 4)
    rm, rv = _x(3), RNG.uniform(0.5, 2, 3).astype(np.float32)
    ea, ta = compare(oracle, lambda *a: N.instance_norm(*a, use_input_stats=use_input_stats, momentum=0.3),
                     lambda *a: TF.instance_norm(*a, use_input_stats=use_input_stats, momentum=0.3),
                     [x, rm, rv, _x(3), _x(3)], (0, 3, 4), node=False)
    np.testing.assert_allclose(ea[1].numpy(), ta[1].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ea[2].numpy(), ta[2].numpy(), rtol=1e-5, atol=1e-6)
    gradcheck(N.instance_norm, [_x(2, 2, 3)], 0)
    with pytest.raises(ValueError, match="Expected more than 1 spatial element"):
        N.instance_norm(ember.randn(2, 3, 1))


# ---- dropout ------------------------------------------------------------------------------
def test_dropout_statistics_and_gradient():
    ember.manual_seed(0)
    x = ember.ones(200, 100, requires_grad=True)
    y = N.dropout(x, p=0.3)
    d = y.detach().numpy()
    kept = d != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(d[kept], 1 / 0.7, rtol=1e-6)
    assert y.grad_fn.name() == "MulBackward0"
    y.backward(ember.ones(200, 100))
    np.testing.assert_allclose(x.grad.numpy(), d)  # the same mask scales the gradient
    assert y.dtype is ember.float32


def test_dropout_eval_and_edge_probabilities():
    x = ember.randn(5, requires_grad=True)
    assert N.dropout(x, 0.5, training=False) is x
    assert N.dropout(x, 0.0) is x
    y = N.dropout(x, 1.0)
    assert (y.detach().numpy() == 0).all() and y.grad_fn is not None
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        N.dropout(x, 1.5)


def test_dropout_uses_default_generator():
    ember.manual_seed(123)
    a = N.dropout(ember.ones(50)).numpy()
    ember.manual_seed(123)
    b = N.dropout(ember.ones(50)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, N.dropout(ember.ones(50)).numpy())


def test_dropout_inplace():
    x = ember.ones(1000)
    y = N.dropout(x, 0.5, inplace=True)
    assert y is x and x._version == 1
    assert 0.4 < (x.numpy() == 0).mean() < 0.6
    leaf = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        N.dropout(leaf, 0.5, inplace=True)
    z = N.dropout(leaf * 1, 0.5, inplace=True)
    assert z.grad_fn.name() == "MulBackward0" and z.grad_fn.next_functions[0][0].name() == "MulBackward0"


@pytest.mark.parametrize("fn,shape,slices", [("dropout1d", (4, 8, 5), 32), ("dropout1d", (8, 5), 8),
                                             ("dropout2d", (4, 8, 3, 3), 32), ("dropout3d", (2, 8, 2, 2, 2), 16),
                                             ("dropout3d", (8, 2, 2, 2), 8)])
def test_channel_dropout_zeroes_whole_channels(fn, shape, slices):
    x = ember.ones(*shape, requires_grad=True)
    y = getattr(N, fn)(x, 0.5)
    rows = y.detach().numpy().reshape(slices, -1)
    for row in rows:
        assert (row == 0).all() or np.allclose(row, 2.0)
    assert 0 < sum((row == 0).all() for row in rows) < slices
    y.backward(ember.ones(*shape))
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    assert getattr(N, fn)(x, 0.5, training=False) is x
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        N.dropout2d(ember.ones(2, 3, 4))


def test_alpha_dropout_keeps_selu_statistics(oracle):
    ember.manual_seed(0)
    x = ember.randn(400, 250, requires_grad=True)
    y = N.alpha_dropout(x, 0.2, training=True)
    d = y.detach().numpy()
    assert abs(d.mean()) < 0.02 and abs(d.std() - 1) < 0.02
    assert y.grad_fn.name() == "AddBackward0"
    assert y.grad_fn.next_functions[0][0].name() == "MulBackward0"
    assert N.alpha_dropout(x, 0.2) is x  # training defaults to False
    y.backward(ember.ones(400, 250))
    a = 1 / math.sqrt((1.7580993408473766 ** 2 * 0.2 + 1) * 0.8)
    g = x.grad.numpy()
    assert np.all(np.isclose(g, 0) | np.isclose(g, a))


# ---- embedding / one_hot ----------------------------------------------------------------
def test_embedding(oracle):
    import torch.nn.functional as TF
    w = _x(10, 3)
    idx = np.array([[1, 2, 4, 1], [9, 4, 1, 0]])
    compare(oracle, N.embedding, TF.embedding, [idx, w], (1,))
    compare(oracle, lambda i, ww: N.embedding(i, ww, padding_idx=1), lambda i, ww: TF.embedding(i, ww, padding_idx=1),
            [idx, w], (1,))
    compare(oracle, lambda i, ww: N.embedding(i, ww, scale_grad_by_freq=True),
            lambda i, ww: TF.embedding(i, ww, scale_grad_by_freq=True), [idx, w], (1,))
    compare(oracle, N.embedding, TF.embedding, [np.array(3), w], (1,))
    # max_norm renormalizes the referenced rows of the weight in place
    ew, tw = ember.tensor(w * 3), oracle.tensor(w * 3)
    N.embedding(ember.tensor(idx), ew, max_norm=1.0)
    TF.embedding(oracle.tensor(idx), tw, max_norm=1.0)
    np.testing.assert_allclose(ew.numpy(), tw.numpy(), rtol=1e-5)
    # torch.embedding(weight, indices)
    np.testing.assert_allclose(ember.embedding(ember.tensor(w), ember.tensor(idx)).numpy(), w[idx])


@pytest.mark.parametrize("num,n", [(500, 300), (12, 400), (7, 7)], ids=["few-repeats", "many-repeats", "unique"])
def test_embedding_weight_gradient_sums_rows_as_torch(oracle, num, n):
    # a table's row gets the sum of its indices' gradient rows, added in their order as torch's
    # index_add: the same bits, by rounds over sorted runs or (an index repeated often) add.at
    rng = np.random.default_rng(5)
    idx = rng.permutation(n) % num if n == num else rng.integers(0, num, n)
    g = rng.standard_normal((n, 16)).astype(np.float32)
    grads = []
    for lib in (ember, oracle):
        w = lib.zeros(num, 16, requires_grad=True)
        lib.nn.functional.embedding(lib.tensor(idx), w).backward(lib.tensor(g))
        grads.append(w.grad.numpy())
    expect = np.zeros((num, 16))
    np.add.at(expect, idx, g.astype(np.float64))
    np.testing.assert_allclose(grads[0], expect, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(grads[0], grads[1])


def test_embedding_errors():
    w = ember.randn(10, 3)
    with pytest.raises(IndexError, match=r"index out of range in self.*index 12.*10 rows \(valid: 0..9\)"):
        N.embedding(ember.tensor([1, 12]), w)
    with pytest.raises(RuntimeError, match="'indices' to have one of the following scalar types: Long, Int"):
        N.embedding(ember.tensor([1.0]), w)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        N.embedding(ember.tensor([1]), w, padding_idx=10)


def test_one_hot(oracle):
    import torch.nn.functional as TF
    t = np.array([[0, 2], [1, 3]])
    for k in (-1, 5):
        got = N.one_hot(ember.tensor(t), k)
        ref = TF.one_hot(oracle.tensor(t), k)
        assert got.dtype is ember.int64
        np.testing.assert_array_equal(got.numpy(), ref.numpy())
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        N.one_hot(ember.tensor([1, 5]), 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative"):
        N.one_hot(ember.tensor([-1, 0]), 3)
    with pytest.raises(RuntimeError, match="only applicable to index tensor of type LongTensor"):
        N.one_hot(ember.tensor([1.0]), 3)


# ---- pad -------------------------------------------------------------------------------
@pytest.mark.parametrize("pad,mode", [((1, 2), "constant"), ((1, 1, 2, 0), "constant"), ((-1, 2, 1, -1), "constant"),
                                      ((1, 2, 0, 1, 1, 1), "constant"),
                                      ((1, 2), "reflect"), ((2, 1, 1, 2), "reflect"), ((1, 2), "replicate"),
                                      ((3, 1, 2, 2), "replicate"), ((1, 2), "circular"), ((2, 1, 1, 3), "circular")])
def test_pad(oracle, pad, mode):
    import torch.nn.functional as TF
    x = _x(2, 3, 4, 4)
    if len(pad) == 2 and mode != "constant":
        x = x[0]
    compare(oracle, lambda a: N.pad(a, pad, mode=mode), lambda a: TF.pad(a, pad, mode=mode), [x],
            node=mode != "circular")
    gradcheck(lambda a: N.pad(a, pad, mode=mode), [x[:1, :2]])


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("shape,pad", [((2, 3, 17), (5, 7)), ((2, 3, 9, 11), (3, 4, 2, 5)), ((3, 4, 4), (3, 3, 3, 3)),
                                       ((1, 2, 5, 6, 7), (2, 3, 1, 2, 3, 4)), ((2, 1, 2, 2), (1, 1, 1, 1)),
                                       ((2, 3, 9, 11), (-3, 4, 2, -5)), ((2, 3, 17), (-9, 7)), ((2, 3, 17), (5, -20))])
def test_pad_gradients_have_torchs_bits(oracle, mode, shape, pad):
    # each input element sums the outputs that read it in torch's loop order (row-major over the
    # outputs), replicate's edges one output after another
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    ex, tx = ember.tensor(x, requires_grad=True), oracle.tensor(x, requires_grad=True)
    eo, to = N.pad(ex, pad, mode=mode), oracle.nn.functional.pad(tx, pad, mode=mode)
    g = rng.standard_normal(tuple(to.shape)).astype(np.float32)
    eo.backward(ember.tensor(g))
    to.backward(oracle.tensor(g))
    np.testing.assert_array_equal(ex.grad.numpy().view(np.int32), tx.grad.numpy().view(np.int32))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((2, 3, 6), (-1, 2)), ((2, 3, 6), (2, -1)), ((2, 3, 6), (-2, -1)),
                                       ((2, 3, 6), (-3, 3)), ((2, 3, 6), (-5, -0)), ((3, 6), (3, -3)),
                                       ((2, 3, 5, 6), (1, -1, -2, 1)), ((2, 3, 5, 6), (-1, -1, -1, -1)),
                                       ((1, 2, 3, 4, 5), (-1, 1, 1, -1, -1, 2)), ((2, 5, 6), (-6, 0, 1, 1))])
def test_pad_negative_crops(oracle, mode, shape, pad):
    # torch crops with negative pads in every mode: reflect and replicate read input j - pad_before reflected
    # or clamped into range, circular wraps the cropped part
    import torch.nn.functional as TF
    x = _x(*shape)
    compare(oracle, lambda a: N.pad(a, pad, mode=mode), lambda a: TF.pad(a, pad, mode=mode), [x],
            node=mode != "circular")
    if 0 not in N.pad(ember.tensor(x), pad, mode=mode).shape:
        gradcheck(lambda a: N.pad(a, pad, mode=mode), [x])


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("shape,pad", [((1, 1, 6), (-7, 2)), ((1, 1, 6), (-6, 1)), ((1, 1, 6), (3, -5)),
                                       ((1, 1, 6), (-1, 5)), ((2, 4, 5), (4, -5, 3, -5))])
def test_pad_crops_past_the_input(oracle, mode, shape, pad):
    # a crop larger than a side still reads the reflected (clamped) positions, as torch's kernels do
    import torch.nn.functional as TF
    compare(oracle, lambda a: N.pad(a, pad, mode=mode), lambda a: TF.pad(a, pad, mode=mode), [_x(*shape)])


def test_pad_negative_errors(oracle):
    import torch.nn.functional as TF
    cases = [((1, 1, 6), (-6, 0), "reflect"), ((1, 1, 6), (-7, 0), "replicate"), ((1, 5, 6), (-6, 0, -5, 0), "reflect"),
             ((1, 5, 6), (-6, 0, -5, 0), "replicate"), ((1, 3, 4, 5), (-5, 0, -4, 0, -3, 0), "reflect"),
             ((1, 3, 4, 5), (-6, 0, 0, 0, 0, 0), "replicate"), ((1, 1, 6), (-4, -3), "circular"),
             ((1, 1, 6), (-3, 4), "circular"), ((1, 1, 6), (3, -5), "circular"), ((1, 1, 6), (-1, 7), "circular"),
             ((1, 1, 6), (6, -1), "reflect")]
    for shape, pad, mode in cases:
        with pytest.raises(RuntimeError) as want:
            TF.pad(oracle.zeros(shape), pad, mode=mode)
        with pytest.raises(RuntimeError) as got:
            N.pad(ember.zeros(shape), pad, mode=mode)
        first = str(want.value).split(":")[0]
        if first != "numel":   # (torch's reflect names an overflow where the size is negative)
            assert str(got.value).startswith(str(want.value)[:40]), (shape, pad, mode, got.value, want.value)
    # where the cropped part is shorter than a circular pad torch raises or returns uninitialized memory
    with pytest.raises(RuntimeError, match="keeps 1 elements after cropping, fewer than the 3"):
        N.pad(ember.zeros(2, 3, 6), (3, -5), mode="circular")
    assert N.pad(ember.zeros(1, 1, 6), (-3, -3), mode="circular").shape == (1, 1, 0)


def test_reflect_pad_of_a_long_signal_stays_small():
    # the backward keeps index tables, not an (outputs, inputs) matrix per axis (20,000 samples: 1.6 GB)
    import tracemalloc
    x = ember.randn(1, 1, 20000, requires_grad=True)
    tracemalloc.start()
    try:
        N.pad(x, (256, 256), mode="reflect").sum().backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20, peak


def test_pad_value_and_errors(oracle):
    import torch.nn.functional as TF
    x = _x(2, 3)
    compare(oracle, lambda a: N.pad(a, (1, 1), value=2.5), lambda a: TF.pad(a, (1, 1), value=2.5), [x])
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        N.pad(ember.tensor(x), (1, 1, 1))
    with pytest.raises(RuntimeError, match="Padding mode \"reflect\" doesn't take in value argument"):
        N.pad(ember.tensor(x), (1, 1), mode="reflect", value=2)
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 4D input tensor"):
        N.pad(ember.randn(1, 1, 3, 3), (1, 1), mode="reflect")
    with pytest.raises(RuntimeError, match="resulted in a negative output size"):
        N.pad(ember.tensor(x), (-2, -2))
    with pytest.raises(RuntimeError, match="Padding size should be less than the corresponding input dimension"):
        N.pad(ember.tensor(x), (3, 3), mode="reflect")


# ---- normalize / cosine_similarity / pairwise_distance -------------------------------------
@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1), (math.inf, 1)])
def test_normalize(oracle, p, dim):
    import torch.nn.functional as TF
    x = _x(3, 4)
    compare(oracle, lambda a: N.normalize(a, p, dim), lambda a: TF.normalize(a, p, dim), [x])
    gradcheck(lambda a: N.normalize(a, p, dim), [x])
    z = np.zeros((2, 3), np.float32)
    compare(oracle, lambda a: N.normalize(a, p, dim), lambda a: TF.normalize(a, p, dim), [z])


@pytest.mark.parametrize("s1,s2,dim", [((3, 4), (3, 4), 1), ((2, 3, 4), (1, 3, 4), 2), ((5,), (5,), 0)])
def test_cosine_similarity(oracle, s1, s2, dim):
    import torch.nn.functional as TF
    a, b = _x(*s1), _x(*s2)
    compare(oracle, lambda x, y: N.cosine_similarity(x, y, dim), lambda x, y: TF.cosine_similarity(x, y, dim),
            [a, b], (0, 1), node=False)
    gradcheck(lambda x, y: N.cosine_similarity(x, y, dim), [a, b], 0)
    gradcheck(lambda x, y: N.cosine_similarity(x, y, dim), [a, b], 1)


@pytest.mark.parametrize("p,keepdim", [(2.0, False), (1.0, True), (3.0, False)])
def test_pairwise_distance(oracle, p, keepdim):
    import torch.nn.functional as TF
    a, b = _x(4, 5), _x(4, 5)
    compare(oracle, lambda x, y: N.pairwise_distance(x, y, p, keepdim=keepdim),
            lambda x, y: TF.pairwise_distance(x, y, p, keepdim=keepdim), [a, b], (0, 1), node=False)
    gradcheck(lambda x, y: N.pairwise_distance(x, y, p, keepdim=keepdim), [a, b], 1)


# p-norms at zero entries: below p = 1, |x| ** (p - 1) is infinite at 0, where torch's gradient is 0 (ember gave
# NaN, also for 1 < p < 2, from x * |x| ** (p - 2)); p = 0 sends no gradient (torch's is undefined: grad None)
_NORM_PS = [0, 0.3, 0.5, 1, 1.5, 2, 3, math.inf, -math.inf, -1]
_ZERO_ENTRIES = np.array([[1.5, 0.0, -0.7, 2.0], [0.0, -1.2, 0.0, 0.4], [0.9, 0.3, -2.2, 0.0]])


def _norm_ops(lib):
    F = lib.nn.functional
    shifted = lib.tensor(_ZERO_ENTRIES[::-1].copy())
    return {
        "vector_norm": lambda x, p: lib.linalg.vector_norm(x, p),
        "vector_norm_dim": lambda x, p: lib.linalg.vector_norm(x, p, dim=1, keepdim=True),
        "norm": lambda x, p: lib.norm(x, p),
        "norm_dim": lambda x, p: lib.norm(x, p, dim=0),
        "normalize": lambda x, p: F.normalize(x, p, dim=1),
        "pairwise_distance": lambda x, p: F.pairwise_distance(x, x * 0 + shifted, p, eps=0),
        "pairwise_distance_eps": lambda x, p: F.pairwise_distance(x, x * 0, p),
        "pdist": lambda x, p: F.pdist(lib.cat([x, x[:1], x[1:] * 0 + x[:1]]), p),
        "cdist": lambda x, p: lib.cdist(x, lib.cat([x[:1] * 0, x[1:2] * 2, x[2:] * 0 + x[:1]]), p=p),
    }


@pytest.mark.parametrize("op", list(_norm_ops(ember)))
@pytest.mark.parametrize("p", _NORM_PS)
@pytest.mark.parametrize("zeros", [False, True], ids=["some_zeros", "all_zeros"])
def test_p_norm_gradients_at_zero_entries_match_torch(oracle, op, p, zeros):
    if op in ("pdist", "cdist") and p < 0:
        pytest.skip("pdist and cdist take p >= 0")
    x0 = _ZERO_ENTRIES * (not zeros)
    got = []
    for lib in (oracle, ember):
        x = lib.tensor(x0, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # (ember's 1 / 0 and 0 * inf stay quiet, as torch's)
            out = _norm_ops(lib)[op](x, p)
            out.backward(lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape))))
        got.append((out.detach().numpy(), None if x.grad is None else x.grad.numpy()))
    (to, tg), (eo, eg) = got
    np.testing.assert_allclose(eo, to, rtol=1e-12, atol=1e-12)
    assert (eg is None) == (tg is None)
    if tg is not None:
        assert not np.isnan(eg).any()
        np.testing.assert_allclose(eg, tg, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("p", [0.5, 1.5, 3.0, -math.inf])
def test_p_norms_below_2_gradcheck(p):
    x = _x(3, 4).astype(np.float64)
    gradcheck(lambda a: ember.linalg.vector_norm(a, p, dim=1), [x])
    gradcheck(lambda a: N.normalize(a, p, 1), [x])
    gradcheck(lambda a, b: N.pairwise_distance(a, b, p), [x, _x(3, 4).astype(np.float64)])


# ---- interpolate ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"scale_factor": 2}, {"size": (5, 3)}, {"scale_factor": 0.5}, {"scale_factor": 1.7},
    {"scale_factor": 2, "mode": "bilinear"}, {"size": (7, 3), "mode": "bilinear"},
    {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True},
    {"size": (2, 2), "mode": "bilinear"}, {"scale_factor": 3, "mode": "nearest-exact"},
    {"size": (3, 2), "mode": "area"}, {"scale_factor": 1.3, "mode": "bilinear", "recompute_scale_factor": True},
])
def test_interpolate_2d(oracle, kwargs):
    import torch.nn.functional as TF
    x = _x(2, 3, 4, 4)
    compare(oracle, lambda a: N.interpolate(a, **kwargs), lambda a: TF.interpolate(a, **kwargs), [x])
    gradcheck(lambda a: N.interpolate(a, **kwargs), [x[:1, :1]])


_SF_MODES = [(1, "nearest"), (1, "nearest-exact"), (1, "linear"), (1, "area"), (2, "nearest"), (2, "nearest-exact"),
             (2, "bilinear"), (2, "bicubic"), (2, "area"), (3, "nearest"), (3, "nearest-exact"), (3, "trilinear"),
             (3, "area")]


@pytest.mark.parametrize("nd,mode", _SF_MODES)
def test_interpolate_by_scale_factor_reads_torchs_sources(oracle, nd, mode):
    # torch reads each output's source from 1 / scale_factor, also where the output is the input's size or
    # twice it; there its backward copies (nearest: halves) in the 1-d and 3-d nearest and same-size bicubic
    # cases, and its linear kernels copy a same-size axis in both directions, antialias only forward
    import torch.nn.functional as TF
    interp = mode not in ("nearest", "nearest-exact", "area")
    # (torch's bicubic backward sums its float32 terms one by one, up to 90 of them an input here)
    atol = 1e-5 if mode == "bicubic" else 2e-6
    for n, sf in [(5, 1.0), (7, 2.0), (5, 1.5), (7, 0.5), (5, 0.7), (7, 2.3), (5, 1.1), (7, 1.1), (5, 2.1),
                  (7, 2.01)]:
        for ac, rsf, aa in itertools.product([False, True] if interp else [None], [None, False, True],
                                             [False, True] if mode in ("bilinear", "bicubic") else [False]):
            kw = dict(scale_factor=sf, mode=mode, align_corners=ac, recompute_scale_factor=rsf, antialias=aa)
            x = _x(*(2, 3, n, n + 1, n - 1)[:nd + 2])
            compare(oracle, lambda a: N.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), [x], atol=atol,
                    rtol=1e-6)


@pytest.mark.parametrize("sf", [(1.1, 2.1), (2.1, 1.3), (1.0, 2.05), (1.1, 1.1)])
@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "trilinear"])
def test_interpolate_per_axis_scale_factors(oracle, mode, sf, monkeypatch):
    # each axis decides on its own (bicubic's backward copies only where every axis keeps its size), through
    # the dense matrices and through the taps
    import torch.nn.functional as TF
    x = _x(2, 3, 5, 6)
    if mode == "trilinear":
        x, sf = _x(1, 2, 4, 5, 6), sf + (1.1,)
    for taps_min in (N._TAPS_MIN, 0):
        monkeypatch.setattr(N, "_TAPS_MIN", taps_min)
        compare(oracle, lambda a: N.interpolate(a, scale_factor=sf, mode=mode),
                lambda a: TF.interpolate(a, scale_factor=sf, mode=mode), [x], atol=1e-5 if mode == "bicubic" else 2e-6,
                rtol=1e-6)


def test_interpolate_nearest_1d_by_scale_factor_is_torchs_not_its_adjoint():
    # torch's 1-d nearest forward reads floor(dst / 1.1) = [0, 0, 1, 2, 3]; its backward copies (nearest_idx)
    x = ember.arange(5.0).reshape(1, 1, 5).requires_grad_()
    y = N.interpolate(x, scale_factor=1.1)
    assert y.tolist() == [[[0.0, 0.0, 1.0, 2.0, 3.0]]]
    y.backward(ember.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]))
    assert x.grad.tolist() == [[[1.0, 2.0, 3.0, 4.0, 5.0]]]
    assert N.interpolate(x.reshape(1, 1, 1, 5), scale_factor=1.1).tolist() == [[[[0.0, 1.0, 2.0, 3.0, 4.0]]]]


@pytest.mark.parametrize("mode,shape", [("nearest", (1, 2, 5)), ("linear", (1, 2, 5)), ("trilinear", (1, 1, 2, 3, 3)),
                                        ("nearest", (1, 1, 2, 3, 3))])
def test_interpolate_1d_3d(oracle, mode, shape):
    import torch.nn.functional as TF
    compare(oracle, lambda a: N.interpolate(a, scale_factor=2, mode=mode),
            lambda a: TF.interpolate(a, scale_factor=2, mode=mode), [_x(*shape)])


@pytest.mark.parametrize("kwargs", [{"scale_factor": 2, "mode": "bilinear"}, {"size": (7, 3), "mode": "bicubic"},
                                    {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True},
                                    {"scale_factor": 3, "mode": "nearest"}, {"size": (5, 9), "mode": "nearest-exact"}])
def test_interpolate_by_taps_matches_torch(oracle, kwargs, monkeypatch):
    # long axes keep each output's taps instead of a dense (outputs, inputs) matrix (here every axis)
    import torch.nn.functional as TF
    monkeypatch.setattr(N, "_TAPS_MIN", 0)
    x = _x(2, 3, 4, 4)
    compare(oracle, lambda a: N.interpolate(a, **kwargs), lambda a: TF.interpolate(a, **kwargs), [x])
    gradcheck(lambda a: N.interpolate(a, **kwargs), [x[:1, :1]])


@pytest.mark.parametrize("mode", ["linear", "bilinear", "bicubic"])
def test_interpolate_keeps_inf_and_nan_where_torch_does(oracle, mode):
    # a dense product turned one inf into NaN along its whole axis (0 * inf)
    x = _x(1, 2, 6) if mode == "linear" else _x(1, 2, 6, 7)
    x.flat[3] = np.inf
    x.flat[-5] = np.nan
    e = N.interpolate(ember.tensor(x), scale_factor=2, mode=mode).numpy()
    t = oracle.nn.functional.interpolate(oracle.tensor(x), scale_factor=2, mode=mode).numpy()
    np.testing.assert_array_equal(np.isnan(e), np.isnan(t))
    np.testing.assert_array_equal(np.isinf(e), np.isinf(t))
    np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,size", [((1, 2, 12), 5), ((1, 2, 12), 4), ((1, 2, 12, 12), 5), ((1, 2, 6, 6, 6), 4)])
def test_interpolate_area_is_adaptive_average_pooling(oracle, shape, size):
    # as in torch, node names included (1-d: SqueezeBackward1 over AdaptiveAvgPool2DBackward0)
    import torch.nn.functional as TF
    compare(oracle, lambda a: N.interpolate(a, size=size, mode="area"),
            lambda a: TF.interpolate(a, size=size, mode="area"), [_x(*shape)])
    e = N.interpolate(ember.randn(*shape, requires_grad=True), size=size, mode="area")
    t = TF.interpolate(oracle.randn(*shape, requires_grad=True), size=size, mode="area")
    assert [n.name() for n, _ in e.grad_fn.next_functions] == [n.name() for n, _ in t.grad_fn.next_functions]


@pytest.mark.parametrize("mode,scale", [("linear", 2), ("nearest", 2), ("area", 0.5)])
def test_interpolate_of_a_long_signal_stays_small(mode, scale):
    # 20,000 samples upsampled by 2 made a 3.2 GB matrix (pooled to 10,000 by area, 1.6 GB of them)
    import tracemalloc
    x = ember.randn(1, 1, 20000, requires_grad=True)
    tracemalloc.start()
    try:
        N.interpolate(x, scale_factor=scale, mode=mode).sum().backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("size,align_corners", [((5, 7), False), ((23, 4), True), ((3, 30), False)])
def test_interpolate_antialias(oracle, mode, size, align_corners):
    # torch's separable antialiased kernel: same weights (fused multiply-adds included); the sums can
    # differ from torch's in the last bit for large downscales
    import torch.nn.functional as TF
    x = _x(2, 3, 9, 11)
    kw = dict(size=size, mode=mode, antialias=True, align_corners=align_corners)
    compare(oracle, lambda a: N.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), [x], atol=1e-6, rtol=1e-6)
    gradcheck(lambda a: N.interpolate(a, **kw), [x[:1, :1]])


@pytest.mark.parametrize("mode,antialias", [("nearest", False), ("nearest-exact", False), ("bilinear", False),
                                            ("bilinear", True), ("bicubic", False), ("bicubic", True)])
def test_interpolate_uint8_is_torchs_bit_for_bit(oracle, mode, antialias):
    x = np.random.default_rng(5).integers(0, 256, (2, 3, 13, 10)).astype(np.uint8)
    for size in ((5, 7), (29, 21), (13, 4)):
        kw = dict(size=size, mode=mode, antialias=antialias)
        if mode in ("bilinear", "bicubic"):
            kw["align_corners"] = size[0] == 29
        got = N.interpolate(ember.tensor(x), **kw)
        want = oracle.nn.functional.interpolate(oracle.tensor(x), **kw)
        assert got.dtype == ember.uint8
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_interpolate_antialias_without_torch():
    # a constant image stays constant (the weights are normalised), uint8 and float; 4-D bilinear/bicubic only
    for dt in (ember.uint8, ember.float32):
        x = ember.full((1, 2, 17, 9), 77, dtype=dt)
        for mode in ("bilinear", "bicubic"):
            out = N.interpolate(x, size=(4, 5), mode=mode, antialias=True)
            assert out.dtype == dt and np.allclose(out.numpy(), 77)
    with pytest.raises(ValueError, match="Anti-alias option is restricted"):
        N.interpolate(ember.randn(1, 2, 5), size=3, mode="linear", antialias=True)
    with pytest.raises(NotImplementedError, match="\"adaptive_avg_pool2d\" not implemented for 'Byte'"):
        N.interpolate(ember.zeros(1, 1, 4, 4, dtype=ember.uint8), size=2, mode="area")
    y = N.interpolate(ember.randn(1, 1, 8, 8, requires_grad=True), size=(3, 3), mode="bicubic", antialias=True)
    assert type(y.grad_fn).__name__ == "UpsampleBicubic2DAaBackward0"


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 5, 6), (1, 2, 3, 4, 5)])
def test_interpolate_to_size_zero(oracle, shape):
    # area is adaptive average pooling: an empty output (whose backward torch refuses); the other modes
    # refuse it with torch's message, as they do an empty input
    import torch.nn.functional as TF
    nd = len(shape) - 2
    size = (0,) + (2,) * (nd - 1)
    x = _x(*shape)
    t = TF.interpolate(oracle.tensor(x), size=size, mode="area")
    e = N.interpolate(ember.tensor(x), size=size, mode="area")
    assert tuple(e.shape) == tuple(t.shape) == shape[:2] + size
    e = N.interpolate(ember.tensor(x), scale_factor=0.1, mode="area")
    assert tuple(e.shape) == tuple(TF.interpolate(oracle.tensor(x), scale_factor=0.1, mode="area").shape)
    with pytest.raises(RuntimeError, match="adaptive_avg_pool[23]d_backward"):
        N.interpolate(ember.tensor(x, requires_grad=True), size=size, mode="area").sum().backward()
    modes = ["nearest", "nearest-exact", {1: "linear", 2: "bilinear", 3: "trilinear"}[nd]] + ["bicubic"] * (nd == 2)
    for mode in modes:
        for xs, sz in ((x, size), (x[..., :0], (2,) * nd)):
            with pytest.raises(RuntimeError) as want:
                TF.interpolate(oracle.tensor(xs), size=sz, mode=mode)
            with pytest.raises(RuntimeError) as got:
                N.interpolate(ember.tensor(xs), size=sz, mode=mode)
            assert str(got.value).startswith(str(want.value)), (got.value, want.value)


def test_interpolate_errors():
    x = ember.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        N.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        N.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set with the interpolating modes"):
        N.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="Got 4D input, but linear mode needs 3D input"):
        N.interpolate(x, scale_factor=2, mode="linear")


def test_top_level_exports():
    top_level = getattr(N, "__top_level__", {})   # torch.x where it differs from F.x (torch's enum arguments)
    for name in N.__all__:
        assert inspect.unwrap(getattr(ember, name)) is inspect.unwrap(top_level.get(name) or getattr(N, name))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ember.dropout(ember.ones(3), 0.5, False).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("ns,affine", [((4,), True), ((3, 4), False), ((4,), False)])
def test_rms_norm(oracle, ns, affine):
    import torch.nn.functional as TF
    x = _x(2, 3, 4)
    args = [x, ns] + ([_x(*ns)] if affine else [])
    compare(oracle, N.rms_norm, TF.rms_norm, args, (0, 2) if affine else (0,))
    compare(oracle, lambda *a: N.rms_norm(*a, eps=1e-3), lambda *a: TF.rms_norm(*a, eps=1e-3), args,
            (0, 2) if affine else (0,))
    gradcheck(N.rms_norm, args, 0)


def test_deprecated_upsample(oracle):
    import torch.nn.functional as TF
    x = _x(1, 2, 3, 3)
    with pytest.warns(UserWarning, match=r"^`nn\.functional\.upsample_bilinear` is deprecated\. Use "
                                         r"`nn\.functional\.interpolate` instead\.$"):   # (torch's words)
        got = N.upsample_bilinear(ember.tensor(x), scale_factor=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = TF.upsample_bilinear(oracle.tensor(x), scale_factor=2)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.warns(UserWarning, match=r"^`nn\.functional\.upsample` is deprecated"):
        assert N.upsample(ember.tensor(x), size=5).shape == (1, 2, 5, 5)


def test_output_does_not_alias_saved_normalized_input(oracle):
    import torch.nn.functional as TF
    x = _x(4, 3)
    e = ember.tensor(x, requires_grad=True)
    t = oracle.tensor(x, requires_grad=True)
    ey = N.batch_norm(e * 1, None, None, training=True)
    ty = TF.batch_norm(t * 1, None, None, training=True)
    ey.relu_()  # in place on the output, as F.relu(bn(x), inplace=True) does
    ty.relu_()
    w = RNG.standard_normal((4, 3)).astype(np.float32)
    ey.backward(ember.tensor(w))
    ty.backward(oracle.tensor(w))
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5)
