"""torch.linalg.ldl_factor_ex / ldl_factor / ldl_solve (ember/linalg.py, Bunch-Kaufman as LAPACK's
sytrf / hetrf and sytrs / hetrs): factors rebuilt into A from the pivots alone (P L D L^T P^T = A),
solves checked by A X = B in float64, LAPACK's pivots on hand-made matrices, and values, pivots,
info, strides, named tuples and errors against torch."""
import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch

RNG = np.random.default_rng(0)
LA = ember.linalg


def sym(shape, dtype=np.float64, hermitian=False, zero_diagonal=False):
    """Random symmetric (or Hermitian) matrices; a zero diagonal forces 2x2 pivots."""
    *batch, n = shape
    a = RNG.standard_normal(tuple(batch) + (n, n))
    if np.dtype(dtype).kind == "c":
        a = a + 1j * RNG.standard_normal(a.shape)
    if zero_diagonal:
        a[..., np.arange(n), np.arange(n)] = 0
    other = a.swapaxes(-1, -2)
    return (a + (other.conj() if hermitian else other)).astype(dtype)


def rebuild(LD, piv, hermitian=False):
    """A from sytrf's compact form, read as LAPACK documents it: A = P1 L1 ... D ... L1^T P1^T, applying
    each step's interchange and unit-lower block from the last one back to the first."""
    LD = np.asarray(LD)
    n = LD.shape[0]
    blocks = []
    k = 0
    while k < n:
        s = 1 if piv[k] > 0 else 2
        blocks.append((k, s, abs(int(piv[k])) - 1))
        k += s
    D = np.zeros_like(LD)
    for k, s, _ in blocks:
        D[k:k + s, k:k + s] = np.tril(LD[k:k + s, k:k + s])
        if s == 2:
            D[k, k + 1] = np.conj(LD[k + 1, k]) if hermitian else LD[k + 1, k]
    M = D
    for k, s, p in reversed(blocks):
        L = np.eye(n, dtype=LD.dtype)
        L[k + s:, k:k + s] = LD[k + s:, k:k + s]
        P = np.eye(n, dtype=LD.dtype)
        P[[k + s - 1, p]] = P[[p, k + s - 1]]
        T = P @ L
        M = T @ M @ (T.conj().T if hermitian else T.T)
    return M


@pytest.mark.parametrize("dtype, hermitian", [(np.float64, False), (np.complex128, False), (np.complex128, True)])
@pytest.mark.parametrize("zero_diagonal", [False, True])
def test_factors_rebuild_A_and_solve(dtype, hermitian, zero_diagonal):
    A = sym((3, 6), dtype, hermitian, zero_diagonal)
    LD, piv, info = LA.ldl_factor_ex(ember.from_numpy(A), hermitian=hermitian)
    assert LD.dtype == ember.from_numpy(A).dtype and piv.dtype == ember.int32 and info.dtype == ember.int32
    assert tuple(piv.shape) == (3, 6) and tuple(info.shape) == (3,) and (info.numpy() == 0).all()
    if zero_diagonal:
        assert (piv.numpy() < 0).any()      # a zero diagonal needs 2x2 blocks
    for i in range(3):
        assert np.allclose(np.triu(LD.numpy()[i], 1), 0)
        np.testing.assert_allclose(rebuild(LD.numpy()[i], piv.numpy()[i], hermitian), A[i], atol=1e-12)
    B = RNG.standard_normal((3, 6, 2)).astype(dtype)
    X = LA.ldl_solve(LD, piv, ember.from_numpy(B), hermitian=hermitian).numpy()
    np.testing.assert_allclose(A @ X, B, atol=1e-10)


def test_lapack_pivots_by_hand():
    # |a11| = 0 < alpha * colmax: rows 1 and 3 hold the largest off-diagonal entries of column 1 and
    # row 3, and a33 = 0 is too small for a 1x1 pivot, so rows 2 and 3 swap into a 2x2 block
    A = np.array([[0., 1., 2.], [1., 0., 3.], [2., 3., 0.]])
    LD, piv = LA.ldl_factor(ember.tensor(A))
    assert piv.tolist() == [-3, -3, 3]
    np.testing.assert_allclose(LD.numpy(), [[0, 0, 0], [2, 0, 0], [1.5, 0.5, -3]], atol=1e-15)
    # diagonally dominant: no interchange, 1x1 pivots, LD = [d1; l21 d2]
    LD, piv = LA.ldl_factor(ember.tensor([[4., 2.], [2., 3.]]))
    assert piv.tolist() == [1, 2]
    np.testing.assert_allclose(LD.numpy(), [[4, 0], [0.5, 2]])
    # a zero column: info names it (1-based), LAPACK goes on, ldl_factor raises
    r = LA.ldl_factor_ex(ember.tensor([[1., 1.], [1., 1.]]))
    assert r.info.item() == 2 and r.pivots.tolist() == [1, 2]
    with pytest.raises(RuntimeError, match=r"D\[2,2\] is zero"):
        LA.ldl_factor(ember.tensor([[1., 1.], [1., 1.]]))
    batch = ember.stack([ember.eye(2), ember.zeros(2, 2)])
    assert LA.ldl_factor_ex(batch).info.tolist() == [0, 1]
    with pytest.raises(RuntimeError, match=r"\(Batch element 1\)"):
        LA.ldl_factor_ex(batch, check_errors=True)


def test_only_the_lower_triangle_is_read_and_results_are_column_major():
    A = sym((4,))
    junk = A + np.triu(RNG.standard_normal((4, 4)), 1)
    a, b = LA.ldl_factor(ember.from_numpy(A)), LA.ldl_factor(ember.from_numpy(junk))
    assert np.array_equal(a.LD.numpy(), b.LD.numpy()) and a.pivots.tolist() == b.pivots.tolist()
    assert a.LD.stride() == (1, 4) and LA.ldl_factor(ember.from_numpy(sym((2, 3)))).LD.stride() == (9, 1, 3)
    X = LA.ldl_solve(a.LD, a.pivots, ember.ones(4, 2, dtype=ember.float64))
    assert X.stride() == (1, 4)


def test_batch_broadcast_empty_and_out():
    A = sym((2, 4))
    LD, piv = LA.ldl_factor(ember.from_numpy(A))
    B = RNG.standard_normal((5, 1, 4, 3))
    X = LA.ldl_solve(LD, piv, ember.from_numpy(B)).numpy()
    assert X.shape == (5, 2, 4, 3)
    np.testing.assert_allclose(A @ X, np.broadcast_to(B, X.shape), atol=1e-10)
    e = LA.ldl_factor_ex(ember.zeros(2, 0, 0))
    assert tuple(e.LD.shape) == (2, 0, 0) and tuple(e.pivots.shape) == (2, 0) and e.info.tolist() == [0, 0]
    assert tuple(LA.ldl_factor(ember.zeros(0, 3, 3)).pivots.shape) == (0, 3)
    outs = (ember.empty(0, dtype=ember.float64), ember.empty(0, dtype=ember.int32))
    r = LA.ldl_factor(ember.from_numpy(A), out=outs)
    assert type(r).__name__ == "linalg_ldl_factor_out" and r.LD is outs[0] and r.pivots is outs[1]
    assert np.array_equal(outs[0].numpy(), LD.numpy())
    with pytest.raises(RuntimeError, match="Expected out tensor to have dtype int, but got long int instead"):
        LA.ldl_factor(ember.from_numpy(A), out=(ember.empty(0, dtype=ember.float64), ember.empty(0, dtype=ember.int64)))
    o = ember.empty(0, dtype=ember.float64)
    assert LA.ldl_solve(LD, piv, ember.from_numpy(B[0, 0]), out=o) is o and tuple(o.shape) == (2, 4, 3)


def test_no_derivative():
    x = ember.tensor(sym((3,)), requires_grad=True)
    LD, piv = LA.ldl_factor(x)
    assert LD.requires_grad and not piv.requires_grad
    assert type(LD.grad_fn).__name__ == "NotImplemented" and LD.grad_fn.name() == "torch::autograd::NotImplemented"
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not implemented"):
        LD.sum().backward()
    b = ember.ones(3, 1, dtype=ember.float64, requires_grad=True)
    X = LA.ldl_solve(LD.detach(), piv, b)
    assert len(X.grad_fn.next_functions) == 1
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_solve is not implemented"):
        X.sum().backward()
    with ember.no_grad():
        assert not LA.ldl_factor(x).LD.requires_grad


@pytest.mark.parametrize("call, error, message", [
    (lambda: LA.ldl_factor(ember.ones(3)), RuntimeError, "must have at least 2 dimensions"),
    (lambda: LA.ldl_factor(ember.ones(3, 4)), RuntimeError, "A must be batches of square matrices, but they are 3 by"),
    (lambda: LA.ldl_factor(ember.ones(3, 3, dtype=ember.int64)), RuntimeError, "Expected a floating point or complex"),
    (lambda: LA.ldl_factor(ember.ones(3, 3, dtype=ember.float16)), NotImplementedError, "ldl_factor_kernel_cpu"),
    (lambda: LA.ldl_factor([[1.]]), TypeError, "argument 'input' \\(position 1\\) must be Tensor, not list"),
    (lambda: LA.ldl_factor(ember.eye(2), hermitian=1), TypeError, "argument 'hermitian' must be bool, not int"),
    (lambda: LA.ldl_solve(ember.eye(3), ember.tensor([1, 2, 3], dtype=ember.int32), ember.ones(2, 1)),
     RuntimeError, "each A matrix is 3 by 3 but each b matrix is 2 by 1"),
    (lambda: LA.ldl_solve(ember.eye(3), ember.tensor([1, 2]), ember.ones(3, 1)),
     RuntimeError, "Expected LD.shape\\[:-1\\] and pivots.shape to be the same"),
    (lambda: LA.ldl_solve(ember.eye(3), ember.ones(3), ember.ones(3, 1)), RuntimeError, "Expected pivots to be"),
    (lambda: LA.ldl_solve(ember.eye(3), ember.zeros(3, dtype=ember.int32), ember.ones(3, 1)),
     RuntimeError, "\\|pivot\\| >= 1"),
    (lambda: LA.ldl_solve(ember.eye(3), ember.full((3,), 4, dtype=ember.int32), ember.ones(3, 1)),
     RuntimeError, "\\|pivot\\| <= LD.size\\(-2\\)"),
    (lambda: LA.ldl_solve(ember.eye(3), ember.tensor([1, 2, 3]), ember.ones(3, 1, dtype=ember.float64)),
     RuntimeError, "Expected b and A to have the same dtype"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("hermitian", [False, True])
def test_against_torch(dtype, hermitian):
    tol = 1e-4 if dtype in (np.float32, np.complex64) else 1e-10
    for shape, zero_diag in (((5,), False), ((2, 3, 7), True), ((4, 12), False)):
        A = sym(shape, dtype, hermitian, zero_diag)
        t = torch.linalg.ldl_factor_ex(_t(A), hermitian=hermitian)
        e = LA.ldl_factor_ex(ember.from_numpy(A), hermitian=hermitian)
        assert np.array_equal(e.pivots.numpy(), t.pivots.numpy()) and np.array_equal(e.info.numpy(), t.info.numpy())
        np.testing.assert_allclose(e.LD.numpy(), t.LD.numpy(), rtol=tol, atol=tol)
        assert e.LD.stride() == t.LD.stride()
        B = RNG.standard_normal(shape + (3,)).astype(dtype)
        xt = torch.linalg.ldl_solve(t.LD, t.pivots, _t(B), hermitian=hermitian).numpy()
        xe = LA.ldl_solve(e.LD, e.pivots, ember.from_numpy(B), hermitian=hermitian).numpy()
        np.testing.assert_allclose(xe, xt, rtol=100 * tol, atol=100 * tol)


@requires_torch
def test_singular_pivots_and_repr_against_torch():
    for A in (np.ones((3, 3)), np.zeros((4, 4)), np.diag([1., 0., 2.]), [[1., 2, 0], [2, 4, 0], [0, 0, 0]],
              [[0., 0, 1], [0, 0, 0], [1, 0, 0]]):
        A = np.asarray(A)
        t, e = torch.linalg.ldl_factor_ex(_t(A)), LA.ldl_factor_ex(ember.from_numpy(A))
        assert e.pivots.tolist() == t.pivots.tolist() and e.info.item() == t.info.item()
        np.testing.assert_allclose(e.LD.numpy(), t.LD.numpy(), atol=1e-15)
    A = np.array([[4., 2., 1.], [2., 0., 3.], [1., 3., -2.]])
    assert repr(LA.ldl_factor_ex(ember.from_numpy(A))).replace("ember", "torch") == \
        repr(torch.linalg.ldl_factor_ex(_t(A)))
    assert repr(LA.ldl_factor(ember.from_numpy(A))).replace("ember", "torch") == repr(torch.linalg.ldl_factor(_t(A)))
