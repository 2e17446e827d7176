"""Matrix products and linear: values and gradients against torch and central differences, the
graph torch records (AddmmBackward0 -> TBackward0 -> AccumulateGrad for linear), and errors."""
import contextlib
import inspect
import warnings

import numpy as np
import pytest

import ember
from ember.ops import linalg as L
from tests.conftest import numeric_grad, torch

RNG = np.random.default_rng(0)


def _names(t):
    f = t.grad_fn
    out = [f.name()]
    for n, _ in f.next_functions:
        out.append(None if n is None else n.name().replace("torch::autograd::", ""))
    return out


def compare(torch, tfn, efn, arrays, flags=None, names=True, **kw):
    """Values, dtypes, gradients and the top two levels of node names against torch."""
    flags = flags or [True] * len(arrays)
    tt = [None if a is None else torch.tensor(a, requires_grad=f) for a, f in zip(arrays, flags)]
    et = [None if a is None else ember.tensor(a, requires_grad=f) for a, f in zip(arrays, flags)]
    to, eo = tfn(*tt, **kw), efn(*et, **kw)
    assert tuple(eo.shape) == tuple(to.shape)
    assert eo.dtype.name == str(to.dtype).split(".")[-1]
    tol = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float16: dict(rtol=4e-3, atol=4e-3)}.get(
        arrays[0].dtype.type, dict(rtol=1e-5, atol=1e-5))
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), **tol)
    if not any(flags):
        return
    if names:
        assert _names(eo) == _names(to)
    g = RNG.standard_normal(tuple(to.shape)).astype(arrays[0].dtype)
    to.backward(torch.tensor(g))
    eo.backward(ember.tensor(g))
    for e, t in zip(et, tt):
        if t is not None and t.requires_grad:
            assert e.grad.dtype == e.dtype and tuple(e.grad.shape) == tuple(e.shape)
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), **tol)


def r(*shape):
    return RNG.standard_normal(shape)


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                 ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((5, 2, 3), (3,)), ((3,), (5, 3, 4)),
                 ((2, 5, 2, 3), (5, 3, 4)), ((2, 1, 2, 3), (1, 5, 3, 4)), ((4, 1, 2, 3), (3,))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
@pytest.mark.parametrize("flags", [[True, True], [False, True], [True, False]])
def test_matmul_matches_torch(oracle, sa, sb, flags):
    compare(oracle, oracle.matmul, L.matmul, [r(*sa), r(*sb)], flags)


def test_matmul_operator_and_float32(oracle):
    a, b = r(4, 5).astype(np.float32), r(5, 3).astype(np.float32)
    compare(oracle, lambda x, y: x @ y, lambda x, y: x @ y, [a, b])
    assert (ember.tensor(a) @ ember.tensor(b)).dtype == ember.float32


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_float16_products_match_torch(oracle, sa, sb):
    # float16 products run in float32 (NumPy has no float16 BLAS: 100x slower) and round once
    compare(oracle, oracle.matmul, L.matmul, [r(*sa).astype(np.float16), r(*sb).astype(np.float16)])
    x, w, b = r(6, 5).astype(np.float16), r(4, 5).astype(np.float16), r(4).astype(np.float16)
    compare(oracle, oracle.nn.functional.linear, ember.nn.functional.linear, [x, w, b])


@pytest.mark.parametrize("name,shapes,kw", [
    ("mm", [(2, 3), (3, 4)], {}),
    ("bmm", [(2, 2, 3), (2, 3, 4)], {}),
    ("mv", [(2, 3), (3,)], {}),
    ("dot", [(3,), (3,)], {}),
    ("vdot", [(3,), (3,)], {}),
    ("outer", [(3,), (2,)], {}),
    ("addmm", [(4,), (2, 3), (3, 4)], {}),
    ("addmm", [(2, 4), (2, 3), (3, 4)], dict(beta=0.5, alpha=2)),
    ("addmv", [(2,), (2, 3), (3,)], dict(beta=0.5, alpha=2)),
    ("baddbmm", [(2, 4), (3, 2, 3), (3, 3, 4)], dict(beta=0.5, alpha=2)),
])
def test_products_match_torch(oracle, name, shapes, kw):
    compare(oracle, getattr(oracle, name), getattr(L, name), [r(*s) for s in shapes], **kw)


@pytest.mark.parametrize("name,fn_t,fn_e,shapes", [
    ("addbmm", None, None, [(2, 4), (3, 2, 3), (3, 3, 4)]),
    ("inner", None, None, [(2, 3), (4, 3)]),
    ("kron", None, None, [(2, 3), (4, 2)]),
])
def test_other_products_values_and_grads(oracle, name, fn_t, fn_e, shapes):
    compare(oracle, getattr(oracle, name), getattr(L, name), [r(*s) for s in shapes], names=False)


def test_tensordot(oracle):
    dims = ([1, 0], [0, 2])
    compare(oracle, lambda a, b: oracle.tensordot(a, b, dims=dims), lambda a, b: L.tensordot(a, b, dims=dims),
            [r(3, 2, 4), r(2, 5, 3)], names=False)


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->", [(2, 3)]),
    ("i,j->ij", [(2,), (3,)]),
    ("...ij,...jk", [(2, 2, 3), (1, 3, 4)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("iij->j", [(2, 2, 3)]),
])
def test_einsum_matches_torch(oracle, eq, shapes):
    compare(oracle, lambda *a: oracle.einsum(eq, *a), lambda *a: L.einsum(eq, *a),
            [r(*s) for s in shapes], names=False)


# big enough for the one-product path (_einsum_pair); the last two need einsum itself
PAIR_CASES = [
    ("ij,jk->ik", [(40, 50), (50, 30)], True),
    ("bij,bjk->bik", [(4, 20, 16), (4, 16, 24)], True),
    ("bhqd,bhkd->bhqk", [(2, 3, 32, 16), (2, 3, 24, 16)], True),
    ("ij,kj->ki", [(30, 20), (25, 20)], True),              # output in neither operand's order
    ("ijk,jl->li", [(20, 30, 6), (30, 15)], True),          # k summed away first
    ("ij,j->i", [(200, 300), (300,)], True),
    ("i,j->ij", [(300,), (400,)], True),                    # nothing to contract: a product
    ("bi,bj->bji", [(8, 30), (8, 40)], True),
    ("...ij,jk->...ik", [(3, 4, 20, 10), (10, 30)], True),
    ("bij,bjk->bik", [(1, 20, 16), (4, 16, 24)], False),    # b broadcast: einsum
    ("iij,jk->ik", [(20, 20, 30), (30, 40)], False),        # a diagonal: einsum
]


@pytest.mark.parametrize("eq,shapes,paired", PAIR_CASES)
def test_einsum_one_product_matches_torch(oracle, eq, shapes, paired):
    arrays = [r(*s) for s in shapes]
    subs, rhs = L._parse_einsum(eq, shapes)
    assert (L._einsum_pair(arrays[0], subs[0], arrays[1], subs[1], rhs) is not None) == paired
    compare(oracle, lambda *a: oracle.einsum(eq, *a), lambda *a: L.einsum(eq, *a), arrays, names=False)
    compare(oracle, lambda *a: oracle.einsum(eq, *a), lambda *a: L.einsum(eq, *a),
            [a.astype(np.float32) for a in arrays], names=False)


def test_einsum_one_product_complex_and_tensordot(oracle):
    z = [r(30, 40) + 1j * r(30, 40), r(40, 20) + 1j * r(40, 20)]
    assert L._einsum_pair(z[0], "ij", z[1], "jk", "ik") is not None
    compare(oracle, lambda a, b: oracle.einsum("ij,jk->ik", a, b), lambda a, b: L.einsum("ij,jk->ik", a, b), z,
            names=False)
    compare(oracle, lambda a, b: oracle.tensordot(a, b, dims=2), lambda a, b: L.tensordot(a, b, dims=2),
            [r(16, 8, 8), r(8, 8, 12)], names=False)


@pytest.mark.parametrize("eq,shapes,dtypes", [
    ("ij,jk->ik", [(2, 3), (4, 5)], None), ("ij,jk", [(2, 3), (4, 5)], None),
    ("ij,jk,kl->il", [(2, 3), (3, 5), (4, 2)], None), ("ii->i", [(2, 3)], None),
    ("ij,ij->ij", [(2, 3), (3, 3)], None), ("bij,bjk->bik", [(2, 3, 4), (3, 4, 5)], None),
    ("...ij,...jk->...ik", [(2, 3, 4), (3, 4, 5)], None), ("ij,jk->ik", [(300, 300), (400, 5)], None),
    ("ij,jk->ik", [(2, 3), (4, 5)], ("float32", "float64")),   # torch checks sizes before dtypes
    ("ij,jk->ik", [(2, 1), (4, 5)], None), ("bij,bjk->bik", [(1, 3, 4), (3, 4, 5)], None),   # size 1 broadcasts
])
def test_einsum_size_errors_match_torch(oracle, eq, shapes, dtypes):
    dtypes = dtypes or ("float32",) * len(shapes)
    arrays = [np.ones(s, dtype=d) for s, d in zip(shapes, dtypes)]
    outcomes = []
    for lib in (oracle, ember):
        try:
            outcomes.append(lib.einsum(eq, *[lib.tensor(a) for a in arrays]))
        except Exception as e:  # noqa: BLE001 (the exception itself is compared)
            outcomes.append(e)
    theirs, ours = outcomes
    if isinstance(theirs, Exception):
        assert type(ours) is type(theirs)
        assert str(ours).startswith(str(theirs)), (str(ours), str(theirs))
    else:
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_einsum_one_product_central_differences():
    a, b = r(20, 30, 6), r(30, 15)
    w = r(15, 20)

    def loss(lib_a, lib_b):
        return float((L.einsum("ijk,jl->li", ember.tensor(lib_a), ember.tensor(lib_b)).numpy() * w).sum())

    ta, tb = ember.tensor(a, requires_grad=True), ember.tensor(b, requires_grad=True)
    (L.einsum("ijk,jl->li", ta, tb) * ember.tensor(w)).sum().backward()
    np.testing.assert_allclose(ta.grad.numpy(), numeric_grad(lambda x: loss(x, b), a), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(tb.grad.numpy(), numeric_grad(lambda x: loss(a, x), b), rtol=1e-6, atol=1e-6)


def test_large_products_run_in_blocks_on_threads(monkeypatch):
    """A product of >= PARALLEL_MACS multiply-adds is cut into blocks shared among get_num_threads()
    threads (rows, columns or batch entries), with the same values; a small one never is (waking a
    thread costs more than it)."""
    from ember import _threads
    plans = []
    run_blocks = _threads.run_blocks

    def recording(fn, n, plan, flops=0):
        plans.append((n, plan))
        return run_blocks(fn, n, plan, flops)

    monkeypatch.setattr(_threads, "run_blocks", recording)
    monkeypatch.setattr(_threads, "get_num_threads", lambda: 2)
    monkeypatch.setattr(_threads, "_active", 1)
    small = ember.tensor(r(4, 400), requires_grad=True)
    w = ember.tensor(r(120, 400), requires_grad=True)
    ember.nn.functional.linear(small, w).sum().backward()
    assert plans == []
    big = ember.tensor(r(300, 310), requires_grad=True)     # 2.9e7 multiply-adds
    other = ember.tensor(r(310, 290), requires_grad=True)
    out = big @ other
    assert plans == [(300, (150, 2))]                        # rows: one block a thread
    a, b = big.detach().numpy(), other.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), a @ b, rtol=1e-10, atol=1e-10)
    out.backward(ember.ones_like(out))
    assert [n for n, _ in plans[1:]] == [310, 310]          # grad @ other.T, big.T @ grad
    np.testing.assert_allclose(big.grad.numpy(), np.ones((300, 290)) @ b.T, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(other.grad.numpy(), a.T @ np.ones((300, 290)), rtol=1e-10, atol=1e-10)
    plans.clear()
    x, y = r(30, 100, 100), r(30, 100, 100)
    got = L.einsum("bij,bjk->bik", ember.tensor(x), ember.tensor(y)).numpy()
    assert plans == [(30, (8, 2))]                           # batch entries
    np.testing.assert_allclose(got, x @ y, rtol=1e-10, atol=1e-10)
    plans.clear()
    wide = ember.tensor(r(8, 2000)) @ ember.tensor(r(2000, 2000))
    assert plans == [(2000, (1000, 2))]                       # few rows: columns
    assert wide.shape == (8, 2000)
    plans.clear()
    x, y = r(1, 300, 310), r(1, 310, 290)                    # one batch entry (conv3d's groups): rows
    np.testing.assert_allclose(L.matmul(ember.tensor(x), ember.tensor(y)).numpy(), x @ y, rtol=1e-10, atol=1e-10)
    assert plans == [(300, (150, 2))]


@pytest.mark.parametrize("x_shape", [(4, 400), (400,), (2, 3, 400)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("flags", [[True, True, True], [False, True, True], [True, False, True]])
def test_linear_matches_torch(oracle, x_shape, bias, flags):
    compare(oracle, oracle.nn.functional.linear, L.linear, [r(*x_shape), r(120, 400), r(120) if bias else None],
            flags)


@pytest.mark.parametrize("n_in", [185, 1])
def test_batch_of_one_linear_matches_torch(oracle, n_in):
    # one row: the weight gradient grad.T @ x is an outer product (K = 1), which NumPy's @ computes
    # without BLAS (10x slower); ember takes np.dot there
    compare(oracle, oracle.nn.functional.linear, L.linear, [r(1, n_in), r(128, n_in), r(128)])
    x = ember.tensor(r(1, n_in), requires_grad=True)
    w = ember.tensor(r(7, n_in), requires_grad=True)
    tx, tw = oracle.tensor(x.detach().numpy(), requires_grad=True), oracle.tensor(w.detach().numpy(), requires_grad=True)
    g = r(1, 7)
    L.linear(x, w).backward(ember.tensor(g))
    oracle.nn.functional.linear(tx, tw).backward(oracle.tensor(g))
    assert np.array_equal(w.grad.numpy(), tw.grad.numpy())   # each entry one product: the same bits


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64])
def test_products_take_the_same_bits_as_numpys_matmul(dtype):
    from ember._threads import matmul
    rng = np.random.default_rng(3)
    for m, k, n in [(1, 1, 1), (1, 7, 1), (9, 1, 13), (1, 33, 20), (17, 3, 1), (40, 64, 30)]:
        for ta, tb in [(False, False), (True, False), (False, True), (True, True)]:
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
            a, b = (a.T if ta else a), (b.T if tb else b)
            out = matmul(a, b)
            assert out.dtype == (a @ b).dtype and np.array_equal(out, a @ b)
    a, b = rng.standard_normal((3, 5, 1)).astype(dtype), rng.standard_normal((3, 1, 4)).astype(dtype)
    assert np.array_equal(matmul(a, b), a @ b)                 # batched outer products
    assert np.array_equal(matmul(a, b[0]), a @ b[0])


@pytest.mark.parametrize("shape", [(4,), (2, 4), (3, 2, 4), (2, 3, 2, 4)])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_records_torchs_graph(oracle, shape, layout, bias):
    # addmm for 2-d input with a bias and for a contiguous one (flattened by views); else matmul,
    # its input a view (or a clone when not contiguous), then add_(bias)
    from tests.nn.test_rnn import _graph
    a = r(*shape[::-1]).T                                     # (transposed: not contiguous past 1-d)
    if layout == "contiguous":
        a = np.ascontiguousarray(a)
    elif layout == "strided":
        a = np.concatenate([a, a], -1)[..., ::2]              # every other element
    w, b = r(5, 4), r(5)
    tx, ex = oracle.from_numpy(a).requires_grad_(), ember.from_numpy(a).requires_grad_()
    tw, ew = oracle.tensor(w, requires_grad=True), ember.tensor(w, requires_grad=True)
    tb, eb = (oracle.tensor(b, requires_grad=True), ember.tensor(b, requires_grad=True)) if bias else (None, None)
    to, eo = oracle.nn.functional.linear(tx, tw, tb), L.linear(ex, ew, eb)
    assert _graph(eo.grad_fn) == _graph(to.grad_fn)
    g = r(*to.shape)
    to.backward(oracle.tensor(g))
    eo.backward(ember.tensor(g))
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-10)
    for e, t in ((ex, tx), (ew, tw), (eb, tb)):
        if t is not None:
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)
    # and twice: what the product saved is traced back through those nodes
    second = []
    for lib, x, w, b, lin in ((oracle, tx, tw, tb, oracle.nn.functional.linear), (ember, ex, ew, eb, L.linear)):
        gx, = lib.autograd.grad((lin(x, w, b) ** 2).sum(), x, create_graph=True)
        second.append([t.detach().numpy() for t in lib.autograd.grad((gx * gx).sum(), [x, w])])
    for t, e in zip(*second):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


def test_bilinear_matches_torch(oracle):
    compare(oracle, oracle.nn.functional.bilinear, L.bilinear, [r(4, 3), r(4, 5), r(6, 3, 5), r(6)], names=False)


def test_linear_graph_is_torchs():
    """The tutorial walks loss.grad_fn.next_functions[0][0]...: Addmm -> (bias, input, T -> weight)."""
    x = ember.randn(4, 400, requires_grad=True)
    w = ember.randn(120, 400, requires_grad=True)
    b = ember.randn(120, requires_grad=True)
    y = L.linear(x, w, b)
    node = y.grad_fn
    assert node.name() == "AddmmBackward0"
    (nb, _), (nx, _), (nt, _) = node.next_functions
    assert nb.name() == "torch::autograd::AccumulateGrad" and nb.variable is b
    assert nx.name() == "torch::autograd::AccumulateGrad" and nx.variable is x
    assert nt.name() == "TBackward0"
    assert len(nt.next_functions) == 1 and nt.next_functions[0][0].variable is w
    # an input that needs no gradient: (None, 0) in the middle, as torch
    y = L.linear(x.detach(), w, b)
    assert y.grad_fn.next_functions[1] == (None, 0)
    # no bias: MmBackward0 -> (input, TBackward0)
    y = L.linear(x, w)
    assert [n.name() for n, _ in y.grad_fn.next_functions] == ["torch::autograd::AccumulateGrad", "TBackward0"]
    assert y.grad_fn.name() == "MmBackward0"


def test_linear_float32_grads_are_contiguous_float32():
    x = ember.randn(4, 400, requires_grad=True)
    w = ember.randn(120, 400, requires_grad=True)
    b = ember.randn(120, requires_grad=True)
    y = L.linear(x, w, b)
    assert y.dtype == ember.float32
    y.sum().backward()
    for t in (x, w, b):
        assert t.grad.dtype == ember.float32 and tuple(t.grad.shape) == tuple(t.shape)
    assert w.grad.is_contiguous()


def test_central_differences():
    x, w, c = r(2, 3), r(4, 3), r(4)
    rr = r(2, 4)

    def f(x_, w_, c_):
        return float((L.linear(ember.tensor(x_), ember.tensor(w_), ember.tensor(c_)).numpy() * rr).sum())

    tx, tw, tc = (ember.tensor(v, requires_grad=True) for v in (x, w, c))
    (L.linear(tx, tw, tc) * ember.tensor(rr)).sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), numeric_grad(lambda v: f(v, w, c), x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tw.grad.numpy(), numeric_grad(lambda v: f(x, v, c), w), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tc.grad.numpy(), numeric_grad(lambda v: f(x, w, v), c), rtol=1e-6, atol=1e-7)
    # a batched broadcasting matmul
    x, y = r(2, 1, 2, 3), r(1, 2, 3, 2)
    w = r(2, 2, 2, 2)
    tx = ember.tensor(x, requires_grad=True)
    ty = ember.tensor(y, requires_grad=True)
    (L.matmul(tx, ty) * ember.tensor(w)).sum().backward()
    np.testing.assert_allclose(tx.grad.numpy(), numeric_grad(lambda v: float((v @ y * w).sum()), x), rtol=1e-6)
    np.testing.assert_allclose(ty.grad.numpy(), numeric_grad(lambda v: float((x @ v * w).sum()), y), rtol=1e-6)


@pytest.mark.parametrize("call,message", [
    (lambda: L.linear(ember.randn(1, 400), ember.randn(120, 576), ember.randn(120)),
     r"mat1 and mat2 shapes cannot be multiplied \(1x400 and 576x120\)"),
    (lambda: L.linear(ember.randn(2, 3, 400), ember.randn(120, 576)),
     r"mat1 and mat2 shapes cannot be multiplied \(6x400 and 576x120\)"),
    (lambda: L.linear(ember.randn(1, 400).long(), ember.randn(120, 400)),
     "expected m1 and m2 to have the same dtype, but got: long int != float"),
    # with a bias torch's addmm words it differently: an nn.Linear fed float64 data says this
    (lambda: L.linear(ember.randn(2, 3).double(), ember.randn(4, 3), ember.randn(4)),
     "mat1 and mat2 must have the same dtype, but got Double and Float"),
    (lambda: L.matmul(ember.randn(2, 3), ember.randn(3, 5).long()),
     "expected m1 and m2 to have the same dtype, but got: float != long int"),
    (lambda: ember.randn(2, 3) @ ember.randn(4, 5), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (lambda: ember.randn(3) @ ember.randn(4), r"inconsistent tensor size, expected tensor \[3\] and src \[4\]"),
    (lambda: ember.randn(3, 2) @ ember.randn(4), r"size mismatch, got input \(3\), mat \(3x2\), vec \(4\)"),
    (lambda: ember.randn(2, 3, 2) @ ember.randn(4, 3, 2),
     r"The size of tensor a \(2\) must match the size of tensor b \(4\) at non-singleton dimension 0"),
    (lambda: L.matmul(ember.tensor(1.0), ember.randn(3)),
     "both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
    (lambda: L.mm(ember.randn(3), ember.randn(3, 2)), "self must be a matrix"),
    (lambda: L.bmm(ember.randn(2, 3), ember.randn(4, 2)), "batch1 must be a 3D tensor"),
    (lambda: L.dot(ember.randn(2), ember.randn(2).double()),
     "dot : expected both vectors to have same dtype, but found Float and Double"),
])
def test_errors_match_torch(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


def test_tensor_methods():
    a = ember.randn(2, 3)
    b = ember.randn(3, 4)
    np.testing.assert_allclose(a.mm(b).numpy(), a.numpy() @ b.numpy(), rtol=1e-6)
    np.testing.assert_allclose(a.matmul(b).numpy(), a.numpy() @ b.numpy(), rtol=1e-6)
    v = ember.randn(3)
    np.testing.assert_allclose(a.mv(v).numpy(), a.numpy() @ v.numpy(), rtol=1e-6)
    np.testing.assert_allclose(v.dot(v).numpy(), v.numpy() @ v.numpy(), rtol=1e-6)
    c = ember.zeros(2, 4)
    c.addmm_(a, b)
    np.testing.assert_allclose(c.numpy(), a.numpy() @ b.numpy(), rtol=1e-6)
    assert inspect.unwrap(ember.matmul) is L.matmul  # under the type check
    import ember.nn.functional as F
    assert inspect.unwrap(F.linear) is L.linear


# ---- leaf gradients handed over without a copy (autograd engine) ----------------------------
def _owned_flags(monkeypatch):
    """The list that each AccumulateGrad's `owned` (its gradient taken as .grad without a copy) goes to."""
    from ember.autograd import graph
    seen = []
    orig = graph.AccumulateGrad._take

    def take(self, grad, owned):
        seen.append(owned)
        return orig(self, grad, owned)

    monkeypatch.setattr(graph.AccumulateGrad, "_take", take)
    return seen


def test_owned_gradients_are_not_copied(monkeypatch):
    # linear's weight and bias gradients are fresh arrays nobody else holds: the engine gives
    # them to AccumulateGrad as .grad without a copy
    from ember.autograd import graph
    seen = _owned_flags(monkeypatch)
    lin = ember.nn.Linear(5, 3)
    x = ember.tensor(RNG.standard_normal((4, 5)).astype(np.float32))
    lin(x).sum().backward()
    if graph._STEAL:
        assert seen and all(seen)
    w = lin.weight._data
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.ones((4, 3), np.float32).T @ x.numpy(), rtol=1e-6)
    assert lin.weight.grad._data.flags.c_contiguous and lin.weight.grad.dtype == ember.float32
    assert w is lin.weight._data


def test_gradients_from_products_on_threads_are_not_copied(monkeypatch):
    # a weight gradient computed in blocks on helper threads: no helper may still reach the product
    # (through the blocks it ran, or a job it never woke for) when the engine counts its references
    from ember import _threads
    from ember.autograd import graph
    seen = _owned_flags(monkeypatch)
    monkeypatch.setattr(_threads, "PARALLEL_MACS", 0)
    blocks = []
    real = _threads.run_blocks

    def counted(fn, n, plan, flops=0):
        blocks.append(plan)
        return real(fn, n, plan, flops)

    monkeypatch.setattr(_threads, "run_blocks", counted)
    threads = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        lin = ember.nn.Linear(64, 48)
        x = ember.tensor(RNG.standard_normal((32, 64)).astype(np.float32))
        for _ in range(3):
            lin.weight.grad = lin.bias.grad = None
            lin(x).sum().backward()
            if graph._STEAL:
                assert seen and all(seen)
            seen.clear()
    finally:
        ember.set_num_threads(threads)
    assert blocks and all(nw == 2 for _, nw in blocks)
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.ones((32, 48), np.float32).T @ x.numpy(), rtol=1e-5)


@pytest.mark.parametrize("profiled", [False, True], ids=["plain", "profiled"])
def test_shared_gradients_are_copied(profiled):
    # one array reaching two leaves (AddBackward0 hands g to both) must not be shared by their .grad
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([3.0, 4.0], requires_grad=True)
    with ember.autograd.profiler.profile() if profiled else contextlib.nullcontext():
        (a + b).sum().backward()
    a.grad.add_(10.0)
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_profiled_backward_takes_gradients_uncopied_too(monkeypatch):
    # a profile runs backward through the engine's general loop: the same leaf gradients are handed
    # over without a copy there (a copy per parameter made AccumulateGrad a tenth of a resnet step)
    from ember.autograd import graph
    seen = _owned_flags(monkeypatch)
    net = ember.nn.Sequential(ember.nn.Linear(5, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    x = ember.tensor(RNG.standard_normal((4, 5)).astype(np.float32))
    net(x).sum().backward()
    plain = list(seen)
    seen.clear()
    grads = [p.grad.numpy().copy() for p in net.parameters()]
    net.zero_grad()
    with ember.autograd.profiler.profile() as prof:
        net(x).sum().backward()
    assert any(e.key == "torch::autograd::AccumulateGrad" for e in prof.key_averages())
    assert seen == plain and (all(seen) or not graph._STEAL)
    for p, g in zip(net.parameters(), grads):
        np.testing.assert_array_equal(p.grad.numpy(), g)
    # a hook on a leaf still sees, and may keep, its own gradient: that one is copied
    kept = []
    net[0].weight.register_hook(lambda g: kept.append(g))
    net.zero_grad()
    seen.clear()
    with ember.autograd.profiler.profile():
        net(x).sum().backward()
    kept[0].add_(1.0)
    np.testing.assert_array_equal(net[0].weight.grad.numpy(), grads[0])
    # the gradient given to backward() belongs to the caller
    c = ember.tensor([1.0, 2.0], requires_grad=True)
    g = ember.tensor([5.0, 6.0])
    c.backward(g)
    g.add_(1.0)
    np.testing.assert_array_equal(c.grad.numpy(), [5.0, 6.0])
    # ... also through shape-only nodes that pass it on as a view
    d = ember.tensor([[1.0, 2.0]], requires_grad=True)
    g2 = ember.tensor([7.0, 8.0])
    d.view(2).backward(g2)
    g2.add_(1.0)
    np.testing.assert_array_equal(d.grad.numpy(), [[7.0, 8.0]])


def test_gradients_accumulate_across_backwards():
    lin = ember.nn.Linear(3, 2)
    x = ember.tensor(RNG.standard_normal((4, 3)).astype(np.float32))
    lin(x).sum().backward()
    first = lin.weight.grad.numpy().copy()
    lin(x).sum().backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), 2 * first)


@pytest.mark.parametrize("args", [
    ((5, 2), (5, 3), (4, 2, 4), None), ((5, 2), (5, 3), (2, 3), None), ((5, 2), (5, 3), (4, 2, 3), (3,)),
    ((5, 3), (5, 2), (4, 2, 3), None), ((5, 2), (4, 3), (4, 2, 3), None), ((5, 2), (3,), (4, 2, 3), None)])
def test_bilinear_checks_shapes_in_torchs_order(args):
    def run(T):
        x1, x2, w, b = (None if s is None else T.ones(*s) for s in args)
        with pytest.raises(RuntimeError) as info:
            T.nn.functional.bilinear(x1, x2, w, b)
        return str(info.value)
    got = run(ember)
    assert got.startswith("bilinear(): ")
    if torch is not None:
        assert got == run(torch)


def test_a_blocked_product_inside_a_block_runs_on_its_own_thread(monkeypatch):
    # a helper that shared out blocks itself would wait on its own busy lock forever
    import threading
    from ember import _threads
    monkeypatch.setattr(_threads, "get_num_threads", lambda: 2)
    monkeypatch.setattr(_threads, "_active", 1)
    a = r(300, 310).astype(np.float32)
    b = r(310, 290).astype(np.float32)
    results = []

    def block(s, e):
        return _threads.matmul(a, b)[s:e]

    runner = threading.Thread(target=lambda: results.append(_threads.run_blocks(block, 300, (75, 2))), daemon=True)
    runner.start()
    runner.join(60)
    assert results, "run_blocks inside a helper's block did not return"
    np.testing.assert_allclose(np.concatenate(results[0]), a @ b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("lead,bias", [((6,), True), ((2, 5), False), ((), True)])
def test_bilinear_as_products_matches_torch(lead, bias):
    # x1^T A_o x2 through two products (and its gradients through three), not einsum's one loop over
    # every (b, o, i, j); values and all four gradients against torch, or central differences
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(lead + (4,)), rng.standard_normal(lead + (3,)), rng.standard_normal((5, 4, 3)),
              rng.standard_normal(5) if bias else None]
    g = rng.standard_normal(lead + (5,))
    runs = []
    for M in (ember, torch) if torch is not None else (ember,):
        ts = [None if a is None else M.tensor(a, requires_grad=True) for a in arrays]
        out = M.nn.functional.bilinear(*ts)
        out.backward(M.tensor(g))
        runs.append([out.detach().numpy()] + [t.grad.numpy() for t in ts if t is not None])
    if torch is not None:
        for e, t in zip(*runs):
            np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)
    x1, x2, w = arrays[:3]
    f = lambda a: (ember.nn.functional.bilinear(ember.tensor(a), ember.tensor(x2), ember.tensor(w)).numpy() * g).sum()
    np.testing.assert_allclose(runs[0][1], numeric_grad(f, x1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("equation,shapes", [("bi,ij,bj->b", [(6, 5), (5, 5), (6, 5)]),
                                             ("bi,oij,bj->bo", [(4, 3), (2, 3, 5), (4, 5)]),
                                             ("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)])])
def test_einsum_of_three_operands_differentiates_as_torch(equation, shapes):
    # the backward's three-operand einsums contract pairwise through BLAS, as the forward (unoptimized,
    # NumPy loops over every label: x^T W x over (256, 512) took 139 ms)
    rng = np.random.default_rng(9)
    arrays = [rng.standard_normal(s) for s in shapes]
    g = None
    runs = []
    for M in (ember, torch) if torch is not None else (ember,):
        ts = [M.tensor(a, requires_grad=True) for a in arrays]
        out = M.einsum(equation, *ts)
        if g is None:
            g = rng.standard_normal(tuple(out.shape))
        out.backward(M.tensor(g))
        runs.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    if torch is not None:
        for e, t in zip(*runs):
            np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)
    f = lambda a: (ember.einsum(equation, ember.tensor(a), *[ember.tensor(x) for x in arrays[1:]]).numpy() * g).sum()
    np.testing.assert_allclose(runs[0][1], numeric_grad(f, arrays[0]), rtol=1e-6, atol=1e-6)


def _column_signs(u):
    """u with each column's sign fixed (its largest entry positive): LAPACKs differ in the signs they pick."""
    idx = np.abs(u).argmax(axis=-2)
    return u * np.sign(np.take_along_axis(u, idx[..., None, :], axis=-2))


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("case", ["svd_tall", "svd_wide_batched", "pca", "pca_float32_nocenter", "pca_sparse"])
def test_lowrank_factors_match_torch_seeded(case):
    def run(M):
        M.manual_seed(0)
        A = M.randn(50, 20, dtype=M.float64)
        if case == "svd_tall":
            return M.svd_lowrank(A, q=5)
        if case == "svd_wide_batched":
            return M.svd_lowrank(M.randn(3, 10, 16, dtype=M.float64), q=2, niter=1)
        if case == "pca":
            return M.pca_lowrank(A, q=4)
        if case == "pca_float32_nocenter":
            return M.pca_lowrank(A.T.float(), center=False)
        return M.pca_lowrank(M.randn(8, 30, dtype=M.float64).relu().to_sparse(), q=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # (torch's sparse-invariants notice)
        got, want = run(ember), run(torch)   # (the same draws: randn is torch's stream)
    tol = 1e-4 if got[1].dtype == ember.float32 else 1e-10
    np.testing.assert_allclose(got[1].numpy(), want[1].numpy(), rtol=tol, atol=tol)
    for g, w in (got[0], want[0]), (got[2], want[2]):
        np.testing.assert_allclose(_column_signs(g.numpy()), _column_signs(w.numpy()), rtol=tol, atol=tol)


def test_lowrank_recovers_a_low_rank_matrix_and_differentiates():
    rng = np.random.default_rng(3)
    A = ember.tensor(rng.standard_normal((40, 3)) @ rng.standard_normal((3, 25)))
    U, S, V = ember.svd_lowrank(A, q=3)
    np.testing.assert_allclose((U * S) @ V.mT, A.numpy(), atol=1e-10)
    np.testing.assert_allclose(S.numpy(), np.linalg.svd(A.numpy(), compute_uv=False)[:3], rtol=1e-10)
    x0 = rng.standard_normal((12, 5))

    def top(a):   # the 2 leading singular values, for a q=5 (complete) factorization
        ember.manual_seed(1)
        return ember.svd_lowrank(a, q=5)[1][:2].sum()
    x = ember.tensor(x0, requires_grad=True)
    top(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), numeric_grad(lambda a: float(top(ember.tensor(a))), x0),
                               rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=r"q\(=30\) must be non-negative integer and not greater than"):
        ember.pca_lowrank(A, q=30)
    with pytest.raises(ValueError, match=r"niter\(=-1\) must be non-negative integer"):
        ember.pca_lowrank(A, niter=-1)
