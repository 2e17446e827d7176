"""Convolutions: values and gradients against torch and float64 central differences, the graph
torch records, the blocked large-batch path, and torch's error messages."""
import inspect
import warnings

import numpy as np
import pytest

import ember
from ember import _threads
from ember.ops import conv as C
from tests.conftest import numeric_grad, record_blocks

RNG = np.random.default_rng(0)


@pytest.fixture(params=["plain", "split", "split forward"])
def mode(request, monkeypatch):
    """Run a test through the im2col layouts: the plain (c, i, j) rows, the split mode that ember
    picks for few output channels (kernel columns moved into the weight rows), and a split forward
    with a plain backward (where the forward's cols are not kept)."""
    monkeypatch.setattr(C, "_SPLIT_MAX_OUT", 1 << 30 if request.param == "split" else 0)
    monkeypatch.setattr(C, "_SPLIT_FORWARD_MAX_OUT", 0 if request.param == "plain" else 1 << 30)
    return request.param


def _run(lib, fn, arrays, flags, kwargs, grad_out):
    ts = [None if a is None else lib.tensor(a, requires_grad=f) for a, f in zip(arrays, flags)]
    out = fn(lib)(*ts, **kwargs)
    out.backward(lib.tensor(grad_out))
    return out, ts


def compare(torch, name, x_shape, w_shape, bias=True, dtype=np.float64, flags=(True, True, True), **kw):
    """Forward and all gradients of ember's op against torch's for one configuration."""
    x = RNG.standard_normal(x_shape).astype(dtype)
    w = RNG.standard_normal(w_shape).astype(dtype)
    b = RNG.standard_normal(w_shape[1] * kw.get("groups", 1) if "transpose" in name else w_shape[0]).astype(dtype) \
        if bias else None

    def fn(lib):
        return getattr(lib.nn.functional, name)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: 'same' padding with an even kernel
        to = fn(torch)(torch.tensor(x), torch.tensor(w), None if b is None else torch.tensor(b), **kw)
    g = RNG.standard_normal(tuple(to.shape)).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to, tt = _run(torch, fn, [x, w, b], flags, kw, g)
    eo, et = _run(ember, fn, [x, w, b], flags, kw, g)
    tol = {np.float64: dict(rtol=1e-9, atol=1e-9), np.float16: dict(rtol=4e-3, atol=4e-3)}.get(
        dtype, dict(rtol=2e-4, atol=2e-4))
    assert tuple(eo.shape) == tuple(to.shape)
    assert eo.dtype.name == str(to.dtype).split(".")[-1]
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), **tol)
    assert eo.grad_fn.name() == to.grad_fn.name()
    for e, t in zip(et, tt):
        if t is not None and t.requires_grad:
            assert e.grad.dtype == e.dtype
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), **tol)
        elif e is not None:
            assert e.grad is None


CONV2D_CASES = [
    # x shape, w shape, kwargs
    ((2, 3, 9, 8), (4, 3, 3, 3), {}),
    ((2, 3, 9, 8), (4, 3, 3, 3), dict(stride=2, padding=1)),
    ((2, 3, 9, 8), (4, 3, 3, 2), dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1))),
    ((1, 4, 7, 7), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((2, 4, 7, 6), (4, 1, 2, 3), dict(groups=4, stride=(2, 1), dilation=2)),
    ((2, 4, 7, 6), (4, 1, 3, 3), dict(groups=4, padding=1)),     # depthwise: a broadcast multiply
    ((2, 6, 16, 12), (6, 1, 3, 3), dict(groups=6, padding=1)),   # (its rows past ROWS_MIN)
    ((2, 3, 8, 8), (6, 1, 3, 3), dict(groups=3, padding=1)),     # two output channels a group
    ((2, 2, 6, 6), (3, 2, 1, 1), {}),
    ((2, 3, 8, 8), (2, 3, 4, 4), dict(padding="same")),
    ((2, 3, 8, 9), (2, 3, 3, 4), dict(padding="same", dilation=(1, 2))),
    ((2, 3, 8, 8), (2, 3, 3, 3), dict(padding="valid", stride=3)),
    ((3, 7, 7), (2, 3, 3, 3), dict(padding=1)),   # unbatched
]


@pytest.mark.parametrize("x_shape,w_shape,kw", CONV2D_CASES)
def test_conv2d_matches_torch(oracle, mode, x_shape, w_shape, kw):
    compare(oracle, "conv2d", x_shape, w_shape, **kw)


@pytest.mark.parametrize("flags", [(False, True, True), (True, False, False), (True, True, False)])
def test_conv2d_partial_requires_grad(oracle, mode, flags):
    compare(oracle, "conv2d", (2, 3, 8, 8), (4, 3, 3, 3), flags=flags, padding=1)


def test_conv2d_float32_lenet_shapes(oracle, mode):
    compare(oracle, "conv2d", (4, 3, 32, 32), (6, 3, 5, 5), dtype=np.float32, flags=(False, True, True))
    compare(oracle, "conv2d", (4, 6, 14, 14), (16, 6, 5, 5), dtype=np.float32)


@pytest.mark.parametrize("kw", [{}, dict(stride=2, padding=1), dict(groups=2, dilation=2, padding=2)])
def test_conv2d_blocked_path(oracle, mode, monkeypatch, kw):
    # a tiny block size forces the large-batch path: blocks of images, cols recomputed in backward
    monkeypatch.setattr(C, "_BLOCK", 300)
    monkeypatch.setattr(C, "_MIN_COLUMNS", 1)   # (an image a block, however narrow its plane)
    compare(oracle, "conv2d", (7, 4, 9, 8), (6, 2 if kw.get("groups") else 4, 3, 3), **kw)
    compare(oracle, "conv_transpose2d", (5, 4, 5, 4), (4, 3 if not kw.get("groups") else 2, 3, 3), **kw)


@pytest.mark.parametrize("workers", [1, 2])
def test_conv2d_narrow_planes_share_a_block(oracle, mode, monkeypatch, workers):
    # images whose products would be thin share a block even past _BLOCK's budget
    monkeypatch.setattr(C, "_BLOCK", 300)
    monkeypatch.setattr(C, "_SHARED_BLOCK", 300)
    monkeypatch.setattr(C, "_PAR_MIN_FLOPS", 0)
    monkeypatch.setattr(C, "_workers", lambda: workers)
    g = C._Geom(7, 4, 9, 9, 3, 3, 1, 1, 1, 1, 1, 6)
    assert g.K * g.Lw > C._BLOCK and g.Lw < C._MIN_COLUMNS
    assert g.nb == g.nb_shared == -(-C._MIN_COLUMNS // g.Lw) and (g.nb - 1) * g.Lw < C._MIN_COLUMNS
    compare(oracle, "conv2d", (7, 4, 7, 7), (6, 4, 3, 3), padding=1)
    compare(oracle, "conv2d", (9, 4, 7, 7), (6, 4, 3, 3), dtype=np.float32, padding=1)


@pytest.mark.parametrize("name,x_shape,w_shape,kw", [
    ("conv2d", (2, 3, 9, 8), (4, 3, 3, 3), dict(stride=2, padding=1)),
    ("conv2d", (4, 6, 14, 14), (16, 6, 5, 5), {}),                     # (LeNet's conv2: split mode off)
    ("conv2d", (4, 3, 12, 12), (6, 3, 5, 5), {}),                      # split mode
    ("conv2d", (2, 4, 7, 6), (4, 1, 3, 3), dict(groups=4, padding=1)),
    ("conv1d", (2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, groups=2)),
    ("conv_transpose2d", (2, 3, 4, 4), (3, 2, 3, 2), dict(stride=2, padding=1, output_padding=1)),
])
def test_float16_matches_torch(oracle, name, x_shape, w_shape, kw):
    """float16 is computed in float32 (NumPy has no float16 BLAS) and rounded once: within a rounding of
    the float64 result. torch's float16 kernels depend on the CPU (on Intel with AMX they round once too;
    on an AMD EPYC its input gradients were 2-4x further from float64's), so torch is the looser check."""
    def fn(lib):
        return getattr(lib.nn.functional, name)

    x = RNG.standard_normal(x_shape).astype(np.float16)
    w = RNG.standard_normal(w_shape).astype(np.float16)
    b = RNG.standard_normal(w_shape[1] * kw.get("groups", 1) if "transpose" in name else w_shape[0]).astype(np.float16)
    out_shape = fn(ember)(*(ember.tensor(a, dtype=ember.float64) for a in (x, w, b)), **kw).shape
    g = RNG.standard_normal(tuple(out_shape)).astype(np.float16)
    results = {}
    for lib, dtype in ((oracle, np.float64), (oracle, np.float16), (ember, np.float16)):
        out, ts = _run(lib, fn, [a.astype(dtype) for a in (x, w, b)], (True, True, True), kw, g.astype(dtype))
        results[lib, dtype] = [out.detach().numpy()] + [t.grad.numpy() for t in ts]
    for e, t, r in zip(results[ember, np.float16], results[oracle, np.float16], results[oracle, np.float64]):
        assert e.dtype == np.float16
        scale = np.abs(r).max()
        np.testing.assert_allclose(e, r, rtol=5e-4, atol=5e-4 * scale)   # one rounding (2^-12) past float32
        np.testing.assert_allclose(e, t, rtol=2e-2, atol=2e-2 * scale)


@pytest.mark.parametrize("x_shape,w_shape,kw", [
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, groups=2)),
    ((2, 3, 9), (4, 3, 2), dict(padding="same", dilation=2)),
    ((3, 9), (4, 3, 3), dict(padding=2)),
])
def test_conv1d_matches_torch(oracle, mode, x_shape, w_shape, kw):
    compare(oracle, "conv1d", x_shape, w_shape, **kw)


@pytest.mark.parametrize("x_shape,w_shape,kw", [
    ((2, 3, 4, 5), (3, 2, 3, 3), {}),
    ((2, 3, 4, 4), (3, 2, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 3, 4), (4, 3, 2, 3), dict(stride=(2, 3), groups=2, dilation=(1, 2))),
    ((2, 2, 3, 3), (2, 2, 3, 3), dict(dilation=2, output_padding=1)),   # output_padding < dilation
    ((3, 4, 4), (3, 2, 3, 3), dict(stride=2)),   # unbatched
])
def test_conv_transpose2d_matches_torch(oracle, mode, x_shape, w_shape, kw):
    compare(oracle, "conv_transpose2d", x_shape, w_shape, **kw)


def test_conv_transpose1d_matches_torch(oracle):
    compare(oracle, "conv_transpose1d", (2, 3, 6), (3, 4, 3), stride=2, padding=1, output_padding=1)


def _numeric_check(fn, x, w, b, **kw):
    """All three gradients of sum(fn(x, w, b) * r) against central differences (float64)."""
    r = RNG.standard_normal(fn(ember.tensor(x), ember.tensor(w), ember.tensor(b), **kw).shape)
    tx, tw, tb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
    (fn(tx, tw, tb, **kw) * ember.tensor(r)).sum().backward()

    def f(x_, w_, b_):
        return float((fn(ember.tensor(x_), ember.tensor(w_), ember.tensor(b_), **kw).numpy() * r).sum())

    grads = [numeric_grad(lambda v: f(v, w, b), x), numeric_grad(lambda v: f(x, v, b), w),
             numeric_grad(lambda v: f(x, w, v), b)]
    for t, g in zip((tx, tw, tb), grads):
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw", [{}, dict(stride=2, padding=1), dict(dilation=2, groups=2, padding=1)])
def test_conv2d_central_differences(mode, kw):
    x = RNG.standard_normal((2, 2, 5, 5))
    w = RNG.standard_normal((2, 1 if kw.get("groups") else 2, 3, 2))
    b = RNG.standard_normal(2)
    _numeric_check(C.conv2d, x, w, b, **kw)


def test_conv_transpose2d_central_differences(mode):
    x = RNG.standard_normal((1, 2, 3, 3))
    w = RNG.standard_normal((2, 2, 2, 3))
    b = RNG.standard_normal(2)
    _numeric_check(C.conv_transpose2d, x, w, b, stride=2, padding=1, output_padding=1)


def test_graph_structure():
    x = ember.randn(2, 3, 8, 8, requires_grad=True)
    w = ember.randn(4, 3, 3, 3, requires_grad=True)
    b = ember.randn(4, requires_grad=True)
    y = C.conv2d(x, w, b)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    nf = y.grad_fn.next_functions
    assert [type(n).__name__ for n, _ in nf] == ["AccumulateGrad"] * 3
    assert nf[0][0].variable is x and nf[1][0].variable is w and nf[2][0].variable is b
    # the first conv's input needs no gradient: its edge is empty, and no bias gives (None, 0)
    y = C.conv2d(x.detach(), w)
    assert y.grad_fn.next_functions[0] == (None, 0) and y.grad_fn.next_functions[2] == (None, 0)
    # unbatched input: SqueezeBackward1 -> ConvolutionBackward0 -> UnsqueezeBackward0 -> x
    y = C.conv2d(ember.randn(3, 8, 8, requires_grad=True), w, b)
    assert y.grad_fn.name() == "SqueezeBackward1"
    inner = y.grad_fn.next_functions[0][0]
    assert inner.name() == "ConvolutionBackward0"
    assert inner.next_functions[0][0].name() == "UnsqueezeBackward0"


def test_no_grad_records_nothing_and_float32_stays_float32():
    x = ember.randn(4, 3, 32, 32)
    w = ember.randn(6, 3, 5, 5, requires_grad=True)
    with ember.no_grad():
        y = C.conv2d(x, w)
    assert y.grad_fn is None and not y.requires_grad
    y = C.conv2d(x, w, ember.randn(6))
    assert y.dtype == ember.float32 and y.is_contiguous()
    y.sum().backward()
    assert w.grad.dtype == ember.float32


def test_backward_releases_saved_arrays():
    x = ember.randn(2, 3, 6, 6, requires_grad=True)
    w = ember.randn(2, 3, 3, 3, requires_grad=True)
    y = C.conv2d(x, w)
    node = y.grad_fn
    y.sum().backward()
    assert node.cols is None and node.w is None
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()


def test_inplace_modification_of_input_is_detected():
    x = ember.randn(2, 3, 6, 6)
    w = ember.randn(2, 3, 3, 3, requires_grad=True)
    y = C.conv2d(x, w)
    x.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("call,message", [
    (lambda: C.conv2d(ember.randn(4, 1, 32, 32), ember.randn(6, 3, 5, 5)),
     r"Given groups=1, weight of size \[6, 3, 5, 5\], expected input\[4, 1, 32, 32\] to have 3 channels, "
     r"but got 1 channels instead"),
    (lambda: C.conv2d(ember.randn(32, 32), ember.randn(6, 3, 5, 5)),
     r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: \[32, 32\]"),
    (lambda: C.conv2d(ember.randn(4, 3, 3, 3), ember.randn(6, 3, 5, 5)),
     r"Calculated padded input size per channel: \(3 x 3\). Kernel size: \(5 x 5\). Kernel size can't be "
     r"greater than actual input size"),
    (lambda: C.conv2d(ember.randn(4, 3, 8, 8), ember.randn(6, 3, 5, 5), ember.randn(5)),
     r"Given weight of size \[6, 3, 5, 5\], expected bias to be 1-dimensional with 6 elements, but got bias "
     r"of size \[5\] instead"),
    (lambda: C.conv2d(ember.randn(1, 3, 8, 8), ember.randn(6, 3, 3, 3).double()),
     "expected scalar type Float but found Double"),
    (lambda: C.conv2d(ember.randn(1, 3, 8, 8), ember.randn(6, 3, 3, 3), ember.randn(6).double()),
     r"Input type \(float\) and bias type \(double\) should be the same"),
    # input of another dtype than weight and bias (an nn.Conv2d fed float64 or uint8-turned-long data)
    (lambda: C.conv2d(ember.randn(1, 3, 8, 8).double(), ember.randn(6, 3, 3, 3), ember.randn(6)),
     r"Input type \(double\) and bias type \(float\) should be the same"),
    (lambda: C.conv2d(ember.randn(1, 3, 8, 8).long(), ember.randn(6, 3, 3, 3), ember.randn(6)),
     r"Input type \(long int\) and bias type \(float\) should be the same"),
    (lambda: C.conv2d(ember.randn(4, 4, 8, 8), ember.randn(6, 2, 3, 3), groups=3),
     r"Given groups=3, weight of size \[6, 2, 3, 3\], expected input\[4, 4, 8, 8\] to have 6 channels"),
    (lambda: C.conv2d(ember.randn(1, 3, 8, 8), ember.randn(6, 3, 3, 3), stride=0),
     "non-positive stride is not supported"),
    (lambda: C.conv2d(ember.randn(1, 3, 8, 8), ember.randn(6, 3, 3, 3), padding=-1),
     "negative padding is not supported"),
    (lambda: C.conv2d(ember.randn(1, 3, 8, 8), ember.randn(6, 3, 3, 3), stride=2, padding="same"),
     "padding='same' is not supported for strided convolutions"),
    (lambda: C.conv2d(ember.randn(1, 3, 8, 8), ember.randn(6, 3, 3, 3), padding="foo"),
     "Invalid padding string: 'foo'"),
    (lambda: C.conv_transpose2d(ember.randn(4, 4, 8, 8), ember.randn(3, 6, 5, 5)),
     r"Given transposed=1, weight of size \[3, 6, 5, 5\], expected input\[4, 4, 8, 8\] to have 3 channels, "
     r"but got 4 channels instead"),
    (lambda: C.conv_transpose2d(ember.randn(1, 3, 4, 4), ember.randn(3, 6, 3, 3), stride=2, output_padding=2),
     "output padding must be smaller than either stride or dilation"),
])
def test_errors_match_torch(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


def test_error_texts_equal_torch(oracle):
    F = oracle.nn.functional
    for args in [((4, 1, 32, 32), (6, 3, 5, 5)), ((4, 3, 3, 3), (6, 3, 5, 5)), ((32, 32), (6, 3, 5, 5))]:
        with pytest.raises(RuntimeError) as te:
            F.conv2d(oracle.randn(*args[0]), oracle.randn(*args[1]))
        with pytest.raises(RuntimeError) as ee:
            C.conv2d(ember.randn(*args[0]), ember.randn(*args[1]))
        assert str(ee.value) == str(te.value)


def test_conv_transpose_rejects_string_padding():
    with pytest.raises(TypeError, match="must be tuple of ints, not str"):
        C.conv_transpose2d(ember.randn(1, 3, 4, 4), ember.randn(3, 2, 3, 3), padding="same")


def test_exported_names():
    import ember.nn.functional as F
    for name in C.__functional__:
        assert inspect.unwrap(getattr(F, name)) is getattr(C, name)  # under the type check
    assert inspect.unwrap(ember.conv2d) is C.conv2d


# ---- blocks on threads, padded products, bias gradient -------------------------------------
@pytest.fixture
def threaded(monkeypatch):
    """Force the block-parallel path: tiny blocks, every op large enough, two threads."""
    monkeypatch.setattr(C, "_BLOCK", 300)
    monkeypatch.setattr(C, "_SHARED_BLOCK", 300)
    monkeypatch.setattr(C, "_MIN_COLUMNS", 1)
    monkeypatch.setattr(C, "_PAR_MIN_FLOPS", 0)
    monkeypatch.setattr(C, "_workers", lambda: 2)


@pytest.mark.parametrize("kw", [{}, dict(stride=2, padding=1), dict(groups=2, dilation=2, padding=2)])
def test_conv2d_blocks_on_threads(oracle, mode, threaded, kw):
    compare(oracle, "conv2d", (9, 4, 9, 8), (6, 2 if kw.get("groups") else 4, 3, 3), **kw)
    compare(oracle, "conv_transpose2d", (5, 4, 5, 4), (4, 3 if not kw.get("groups") else 2, 3, 3), **kw)


def test_lenet_shapes_on_threads(oracle, mode, threaded):
    compare(oracle, "conv2d", (6, 3, 32, 32), (6, 3, 5, 5), dtype=np.float32)
    compare(oracle, "conv2d", (7, 6, 14, 14), (16, 6, 5, 5), dtype=np.float32)


def test_run_blocks_order_and_errors(monkeypatch):
    monkeypatch.setattr(C, "_workers", lambda: 3)
    plan = C._plan(10, 4, True)
    assert plan == (2, 3)   # about two blocks a thread, equal in size
    assert C._run_blocks(lambda s, e: (s, e), 10, plan) == [(s, min(s + plan[0], 10)) for s in range(0, 10, plan[0])]

    def boom(s, e):
        if s:
            raise ValueError(f"block {s}")
        return s

    with pytest.raises(ValueError, match="block"):
        C._run_blocks(boom, 10, plan)
    # the helpers survive a failed block
    assert C._run_blocks(lambda s, e: e - s, 10, plan) == [min(plan[0], 10 - s) for s in range(0, 10, plan[0])]
    assert C._plan(10, 4, False) == (4, 1)
    # one thread: equal blocks too (a short last block would clear the scratch claims)
    assert C._plan(32, 25, False) == (16, 1)
    assert C._plan(20, 25, False) == (20, 1)
    assert C._plan(0, 25, False) == (25, 1)


def test_conv_plan_block_sizes(monkeypatch):
    # one thread: blocks whose cols fit the cache; shared between threads: larger blocks
    g = C._Geom(256, 6, 14, 14, 5, 5, 1, 1, 1, 1, 1, 16)
    assert g.K * g.Lw * g.nb <= C._BLOCK < g.K * g.Lw * (g.nb + 1)
    assert g.K * g.Lw * g.nb_shared <= C._SHARED_BLOCK < g.K * g.Lw * (g.nb_shared + 1)
    assert g.nb < g.nb_shared
    flops = 2 * 256 * 16 * 100 * 150
    monkeypatch.setattr(C, "_workers", lambda: 2)
    assert C._conv_plan(g, flops, np) == C._plan(256, g.nb_shared, True, 1)
    # a batch of fewer blocks than threads: one block a thread (two for the pools' plan)
    g32 = C._Geom(32, 6, 14, 14, 5, 5, 1, 1, 1, 1, 1, 16)
    assert C._conv_plan(g32, flops, np) == (16, 2)
    assert C._plan(32, g32.nb_shared, True) == (8, 2)
    assert C._conv_plan(g, C._PAR_MIN_FLOPS / 2, np) == C._plan(256, g.nb, False)
    monkeypatch.setattr(C, "_workers", lambda: 1)
    size, threads = C._conv_plan(g, flops, np)
    assert threads == 1 and size <= g.nb


@pytest.fixture
def pieces(monkeypatch):
    """Products as on OpenBLAS's AVX-512 cores (any machine): in pieces under the small-matrix limit."""
    monkeypatch.setattr(_threads, "_small_gemm", True)


def test_products_in_runs_of_columns(pieces, monkeypatch):
    calls = []
    real = np.matmul

    def spy(a, b, out=None):
        calls.append(b.shape)
        return real(a, b, out=out)

    rng = np.random.default_rng(2)
    monkeypatch.setattr(_threads, "_SMALL_GEMM_MACS", 2000)
    monkeypatch.setattr(_threads, "_MIN_PIECE_COLS", 8)
    monkeypatch.setattr(_threads, "_runs_of", {})
    for (m, k, n), tb, want in [((6, 15, 72), False, (4, 15, 18)),      # 6480 multiply-adds: 4 runs
                                ((6, 15, 70), False, (5, 15, 14)),      # 4 does not divide 70: 5
                                ((3, 4, 10), False, (4, 10)),           # under the limit: whole
                                ((6, 15, 40), True, (15, 40)),          # transposed b: whole
                                ((20, 100, 70), False, (100, 70))]:     # runs under 8 columns: whole
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((n, k)).astype(np.float32).T if tb else rng.standard_normal((k, n)).astype(np.float32)
        out = np.full((m, n), np.nan, np.float32)
        calls.clear()
        monkeypatch.setattr(_threads.np, "matmul", spy)
        got = _threads.product_into(a, b, out)
        monkeypatch.setattr(_threads.np, "matmul", real)
        assert calls == [want] and got is out
        np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)
    calls.clear()
    monkeypatch.setattr(_threads.np, "matmul", spy)
    _threads.product_into(rng.standard_normal((6, 15)), rng.standard_normal((15, 72)), np.empty((6, 72)))   # float64
    _threads.product_into(rng.standard_normal((6, 15)).astype(np.float32), rng.standard_normal((15, 72)).astype(np.float32),
                          np.empty((6, 144), np.float32)[:, ::2])                                     # strided out
    monkeypatch.setattr(_threads.np, "matmul", real)
    assert calls == [(15, 72), (15, 72)]


def test_products_in_runs_of_rows(pieces, monkeypatch):
    calls = []
    real = np.matmul

    def spy(a, b, out=None):
        calls.append((a.shape, b.flags.c_contiguous))
        return real(a, b, out=out)

    rng = np.random.default_rng(3)
    monkeypatch.setattr(_threads, "_SMALL_GEMM_MACS", 2000)
    monkeypatch.setattr(_threads, "_MIN_PIECE_COLS", 8)
    monkeypatch.setattr(_threads, "_runs_of", {})
    for (m, k, n), want in [((32, 20, 6), (2, 16, 20)),       # 3840 multiply-adds: 2 runs of 16 rows
                            ((30, 20, 7), (3, 10, 20)),       # 4200: 3 runs of 10 rows
                            ((10, 20, 6), (10, 20)),          # under the limit: whole
                            ((20, 100, 7), (20, 100))]:       # runs under 8 rows: whole
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((n, k)).astype(np.float32).T   # transposed, as a gradient's T.T
        calls.clear()
        monkeypatch.setattr(_threads.np, "matmul", spy)
        got = _threads.rows_product(a, b)
        monkeypatch.setattr(_threads.np, "matmul", real)
        assert calls == [(want, len(want) == 3)] and got.shape == (m, n)
        np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)
    calls.clear()
    monkeypatch.setattr(_threads.np, "matmul", spy)
    _threads.rows_product(rng.standard_normal((32, 20)), rng.standard_normal((20, 6)))              # float64
    _threads.rows_product(rng.standard_normal((20, 32)).astype(np.float32).T,                       # a transposed
                          rng.standard_normal((20, 6)).astype(np.float32))
    monkeypatch.setattr(_threads.np, "matmul", real)
    assert [shape for shape, _ in calls] == [(32, 20), (32, 20)]


@pytest.mark.parametrize("small", [True, False])
@pytest.mark.parametrize("x_shape,w_shape,kw", [c for c in CONV2D_CASES if len(c[0]) == 4])
def test_conv2d_with_and_without_small_matrix_kernels(oracle, mode, monkeypatch, small, x_shape, w_shape, kw):
    # the products ember arranges for OpenBLAS's AVX-512 small-matrix kernels, and the others
    monkeypatch.setattr(_threads, "_small_gemm", small)
    monkeypatch.setattr(_threads, "_SMALL_GEMM_MACS", 3000)
    monkeypatch.setattr(_threads, "_MIN_PIECE_COLS", 2)
    monkeypatch.setattr(_threads, "_runs_of", {})
    compare(oracle, "conv2d", x_shape, w_shape, dtype=np.float32, **kw)
    monkeypatch.setattr(C, "_BLOCK", 300)   # blocks of images: backward recomputes what forward kept
    monkeypatch.setattr(C, "_MIN_COLUMNS", 1)
    compare(oracle, "conv2d", x_shape, w_shape, dtype=np.float32, **kw)


@pytest.fixture
def large_weight_paths(monkeypatch):
    """Force, on small shapes, the paths for large weights over small planes: the input gradient as
    one product over all images, the weight gradient computed untransposed."""
    monkeypatch.setattr(C, "_DX_LW", 1 << 30)
    monkeypatch.setattr(C, "_TRANSPOSED_GW_MAX", 0)


@pytest.mark.parametrize("x_shape,w_shape,kw", CONV2D_CASES)
def test_conv2d_large_weight_paths(oracle, mode, large_weight_paths, x_shape, w_shape, kw):
    compare(oracle, "conv2d", x_shape, w_shape, **kw)
    compare(oracle, "conv2d", x_shape, w_shape, dtype=np.float32, **kw)


@pytest.mark.parametrize("kw", [{}, dict(stride=2, padding=1), dict(dilation=2, groups=2, padding=1)])
def test_conv2d_large_weight_paths_central_differences(mode, large_weight_paths, kw):
    x = RNG.standard_normal((3, 2, 5, 5))
    w = RNG.standard_normal((2, 1 if kw.get("groups") else 2, 3, 2))
    _numeric_check(C.conv2d, x, w, RNG.standard_normal(2), **kw)


@pytest.mark.parametrize("small", [True, False])
@pytest.mark.parametrize("hw", [1, 2, 3])
def test_conv2d_many_channels_over_small_planes(oracle, monkeypatch, small, hw):
    # ResNet's last stages on CIFAR: planes narrower than the channels (the weight gradient not
    # from per-image window products), the input gradient as one product, the weight's untransposed
    monkeypatch.setattr(_threads, "_small_gemm", small)
    compare(oracle, "conv2d", (6, 64, hw, hw), (64, 64, 3, 3), dtype=np.float32, padding=1)
    compare(oracle, "conv2d", (6, 64, hw, hw), (48, 64, 3, 3), padding=1)


@pytest.mark.parametrize("x_shape,w_shape,kw", [
    ((4, 16, 2, 2), (24, 16, 3, 3), dict(padding=1)),             # stride 1: wide layout, 6 columns an image
    ((4, 16, 4, 4), (24, 16, 3, 3), dict(stride=2, padding=1)),   # stride 2: one column per output position
    ((3, 8, 1, 1), (32, 8, 3, 3), dict(padding=1)),
    ((5, 40, 2, 2), (16, 40, 1, 1), {}),
])
def test_conv2d_threads_share_the_products_of_narrow_planes(oracle, monkeypatch, x_shape, w_shape, kw):
    # too few columns a thread: one block of the whole batch, each product shared out among the threads
    monkeypatch.setattr(C, "_PAR_MIN_FLOPS", 0)
    monkeypatch.setattr(C, "_workers", lambda: 2)
    blocks = record_blocks(monkeypatch, 2)
    shared = []
    real = _threads.shared_product
    monkeypatch.setattr(_threads, "shared_product", lambda a, b, out: shared.append(a.shape) or real(a, b, out))
    for dtype in (np.float64, np.float32):
        compare(oracle, "conv2d", x_shape, w_shape, dtype=dtype, **kw)
    # forward, weight gradient, input gradient: each a product of the whole batch, split in two
    assert len(shared) == 6
    assert all(plan == (x_shape[0], 1) or plan[1] == 2 for _, plan in blocks)
    assert sum(plan[1] == 2 for _, plan in blocks) == 6
    # a transposed convolution's gradients are such convolutions too
    shared.clear()
    compare(oracle, "conv_transpose2d", x_shape[:1] + w_shape[:1] + x_shape[2:], w_shape, **kw)
    assert shared
    # a wider batch splits its images instead
    shared.clear()
    compare(oracle, "conv2d", (2 * C._SHARE_COLUMNS + 1,) + x_shape[1:], w_shape, dtype=np.float32, **kw)
    assert not shared


def test_split_forward_where_the_cols_are_not_kept(oracle, monkeypatch):
    # LeNet's conv2 (16 output channels): a forward whose cols backward keeps (one block with grad) is
    # plain; without grad, or in blocks of images, the forward takes the split layout and backward
    # stays plain
    split = []
    real = C._forward_split
    monkeypatch.setattr(C, "_forward_split", lambda *a, **k: split.append(a[2].shape) or real(*a, **k))
    x = RNG.standard_normal((4, 6, 14, 14)).astype(np.float32)
    w = RNG.standard_normal((16, 6, 5, 5)).astype(np.float32)
    compare(oracle, "conv2d", x.shape, w.shape, dtype=np.float32)
    assert split == []
    with ember.no_grad():
        y = ember.nn.functional.conv2d(ember.tensor(x), ember.tensor(w))
    assert split == [(16, 150)]
    np.testing.assert_allclose(y.numpy(), oracle.nn.functional.conv2d(oracle.tensor(x), oracle.tensor(w)).numpy(),
                               rtol=2e-4, atol=2e-4)
    monkeypatch.setattr(C, "_BLOCK", 300)   # blocks of images: backward recomputes the cols
    monkeypatch.setattr(C, "_MIN_COLUMNS", 1)
    split.clear()
    compare(oracle, "conv2d", x.shape, w.shape, dtype=np.float32)
    assert split == [(16, 150)]


@pytest.mark.parametrize("x_shape,w_shape,grad,folded", [
    ((4, 3, 32, 32), (6, 3, 5, 5), True, True),     # conv1: the ones row in the kept rows' zero padding
    ((4, 3, 32, 32), (6, 3, 5, 5), False, True),    # no grad: scratch rows
    ((2, 4, 9, 9), (5, 4, 4, 3), True, False),      # 16 kept rows, no padding to hold it: the bias pass
    ((2, 4, 9, 9), (5, 4, 4, 3), False, True),
])
def test_split_forward_adds_the_bias_in_its_product(oracle, monkeypatch, x_shape, w_shape, grad, folded):
    widths = []
    real = _threads.product_operands
    monkeypatch.setattr(_threads, "product_operands", lambda w2, cols, out: widths.append(w2.shape[-1]) or real(
        w2, cols, out))
    x = RNG.standard_normal(x_shape).astype(np.float32)
    w = RNG.standard_normal(w_shape).astype(np.float32)
    b = RNG.standard_normal(w_shape[0]).astype(np.float32)
    with ember.set_grad_enabled(grad):
        y = ember.nn.functional.conv2d(ember.tensor(x), ember.tensor(w, requires_grad=grad), ember.tensor(b))
    k2 = w_shape[1] * w_shape[2]
    assert widths == [k2 + folded]
    want = oracle.nn.functional.conv2d(oracle.tensor(x), oracle.tensor(w), oracle.tensor(b)).numpy()
    np.testing.assert_allclose(y.detach().numpy(), want, rtol=2e-4, atol=2e-4)
    if grad:   # the ones row of kept rows stays out of the weight gradient
        compare(oracle, "conv2d", x_shape, w_shape, dtype=np.float32, flags=(False, True, True))


def test_lenet_shapes_in_product_pieces(oracle, mode, pieces):
    # at batch 4 both forward products run in pieces and conv1's weight gradient image by image
    compare(oracle, "conv2d", (4, 3, 32, 32), (6, 3, 5, 5), dtype=np.float32, flags=(False, True, True))
    compare(oracle, "conv2d", (4, 6, 14, 14), (16, 6, 5, 5), dtype=np.float32)
    compare(oracle, "conv2d", (1, 3, 32, 32), (6, 3, 5, 5), dtype=np.float32)


@pytest.mark.parametrize("n,want", [(15, 16), (30, 32), (6, 8), (3, 8), (8, 8), (9, 9), (17, 17), (150, 152),
                                    (12, 16), (75, 75)])
def test_padded_product_widths(n, want):
    assert C._padded(n) == want


def test_bias_gradient_matches_sum():
    g = RNG.standard_normal((3, 5, 4, 6)).astype(np.float32)
    np.testing.assert_allclose(C._channel_sum(np, g), g.sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-5)
    assert C._channel_sum(np, g).dtype == np.float32
    gt = g.transpose(0, 1, 3, 2)   # not contiguous: the plain sum
    np.testing.assert_allclose(C._channel_sum(np, gt), gt.sum(axis=(0, 2, 3)), rtol=1e-5, atol=1e-5)
    assert C._channel_sum(np, np.zeros((0, 5, 2, 2))).shape == (5,)


def test_empty_batch():
    for out_ch in (4, 16):   # split and plain layouts
        x = ember.zeros(0, 3, 8, 8, requires_grad=True)
        conv = ember.nn.Conv2d(3, out_ch, 3)
        y = conv(x)
        y.sum().backward()
        assert tuple(y.shape) == (0, out_ch, 6, 6)
        assert float(conv.weight.grad.abs().sum()) == 0.0


@pytest.mark.parametrize("name,shape,w_shape,kw", [
    ("conv_transpose1d", (2, 3, 2), (3, 2, 1), dict(padding=1)),          # output length 0
    ("conv_transpose1d", (0, 3, 2), (3, 2, 1), dict(padding=1)),          # and an empty batch
    ("conv_transpose1d", (0, 3, 5), (3, 2, 3), dict(stride=2, output_padding=1)),
    ("conv_transpose1d", (2, 3, 1), (3, 2, 1), dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose2d", (2, 3, 2, 3), (3, 2, 1, 1), dict(padding=(1, 0))),
    ("conv_transpose3d", (2, 3, 2, 3, 3), (3, 2, 1, 1, 1), dict(padding=(1, 0, 0))),
    ("conv1d", (0, 3, 0), (2, 3, 3), dict(padding=2)),
    ("conv_transpose2d", (0, 3, 0, 4), (3, 2, 3, 3), {}),
])
def test_empty_outputs_and_batches_match_torch(oracle, name, shape, w_shape, kw):
    # where a transposed convolution's size comes to 0 torch gives an empty batch an empty output, and (through
    # oneDNN) a float32 batch too; in float64 it calls a batch's empty output too small
    compare(oracle, name, shape, w_shape, dtype=np.float32, **kw)
    if shape[0]:
        for lib in (oracle, ember):
            with pytest.raises(RuntimeError, match="Output size is too small"):
                getattr(lib.nn.functional, name)(lib.zeros(shape, dtype=lib.float64),
                                                 lib.zeros(w_shape, dtype=lib.float64), **kw)
    else:
        compare(oracle, name, shape, w_shape, **kw)


@pytest.mark.parametrize("name,shape,w_shape,kw", [
    ("conv_transpose1d", (2, 3, 0), (3, 2, 3), {}),        # an empty length with a batch: nothing to convolve
    ("conv_transpose1d", (3, 0), (3, 2, 3), {}),
    ("conv1d", (2, 3, 0), (2, 3, 3), dict(padding=2)),
    ("conv2d", (2, 3, 0, 4), (2, 3, 3, 3), dict(padding=2)),
    ("conv_transpose2d", (2, 3, 4, 0), (3, 2, 3, 3), {}),
    ("conv3d", (2, 3, 0, 4, 4), (2, 3, 3, 3, 3), dict(padding=2)),
    ("conv_transpose3d", (2, 3, 0, 4, 4), (3, 2, 3, 3, 3), {}),
    ("conv_transpose1d", (3, 2), (3, 2, 1), dict(padding=1)),     # unbatched: an empty output is too small
    ("conv_transpose2d", (3, 2, 3), (3, 2, 1, 1), dict(padding=(1, 0))),
    ("conv_transpose1d", (2, 3, 4), (0, 2, 3), {}),
])
def test_empty_input_errors_match_torch(oracle, name, shape, w_shape, kw):
    for lib in (oracle, ember):
        with pytest.raises(RuntimeError) as e:
            getattr(lib.nn.functional, name)(lib.zeros(shape), lib.zeros(w_shape), **kw)
        if lib is oracle:
            want = str(e.value)
    assert str(e.value).startswith(want)


def test_claim_reports_whether_the_slot_kept_its_layout():
    g1, g2 = object(), object()
    dt = np.dtype(np.float32)
    C._tls.views = {}
    assert C._claim(np, "T", 3, 5, dt, g1)[1] is False      # first use: the caller writes its zeros
    assert C._claim(np, "T", 3, 5, dt, g1)[1] is True
    assert C._claim(np, "T", 3, 5, dt, g2)[1] is False      # another layout, same shape
    assert C._claim(np, "T", 3, 5, dt, g1)[1] is False
    C._block(np, "T", 3, 5, dt)                              # a plain user may write anywhere
    assert C._claim(np, "T", 3, 5, dt, g1)[1] is False
    assert C._claim(np, "T", 3, 4, dt, g1)[1] is False      # another shape


def test_scratch_zeros_survive_reuse(mode):
    # scratch blocks keep their zero padding from call to call (_claim): other geometries in
    # between, and another user overwriting every claimed block, must not change any result
    rng = np.random.default_rng(1)
    cases = [(x, w, kw) for x, w, kw in CONV2D_CASES if len(x) == 4] + [
        ((4, 3, 32, 32), (6, 3, 5, 5), {}), ((4, 6, 14, 14), (16, 6, 5, 5), {})]
    arrays = [(rng.standard_normal(x), rng.standard_normal(w), rng.standard_normal(w[0])) for x, w, _ in cases]

    def run(order):
        out = {}
        for i in order:
            ts = [ember.tensor(a, requires_grad=True) for a in arrays[i]]
            y = ember.nn.functional.conv2d(*ts, **cases[i][2])
            (y * y).sum().backward()
            out[i] = [y.detach().numpy()] + [t.grad.numpy() for t in ts]
        return out

    first = run(range(len(cases)))
    again = run(reversed(range(len(cases))))
    for slot, tag in list(C._tls.views.items()):
        if isinstance(slot, str) and tag is not None and len(tag) == 2:
            _, rows, m, dt, xp = tag[0]
            C._block(xp, slot, rows, m, dt).fill(np.nan)
    poisoned = run(range(len(cases)))
    for i in range(len(cases)):
        for a, b, c in zip(first[i], again[i], poisoned[i]):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("call, warns", [
    (lambda: C.conv2d(ember.ones(1, 3, 5, 5), ember.ones(2, 3, 4, 3), padding="same"), True),   # 3 + 2 rows
    (lambda: C.conv1d(ember.ones(1, 3, 5), ember.ones(2, 3, 2), padding="same"), True),
    (lambda: ember.conv3d(ember.ones(1, 1, 4, 4, 4), ember.ones(1, 1, 2, 1, 1), padding="same"), True),
    (lambda: C.conv2d(ember.ones(1, 3, 5, 5), ember.ones(2, 3, 3, 3), padding="same", dilation=2), False),
    (lambda: C.conv2d(ember.ones(1, 3, 5, 5), ember.ones(2, 3, 4, 4), padding="same", dilation=2), False),
])
def test_asymmetric_same_padding_warns_once_as_torch(call, warns, monkeypatch):
    monkeypatch.setattr(C, "_same_warned", [False])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        call()
        call()   # (torch warns once per process)
    messages = [str(w.message) for w in seen]
    assert messages == (["Using padding='same' with even kernel lengths and odd dilation may require a zero-padded "
                         "copy of the input be created"] if warns else [])
    assert not seen or seen[0].filename == __file__   # at the caller's line
