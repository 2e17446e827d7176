"""torch.svd_lowrank and torch.pca_lowrank: randomized SVD (Halko, Martinsson and Tropp 2009, algorithm 5.1).

Built from public ops, so they differentiate and run on any device; the random basis is drawn with randn
as torch draws it, so a seeded call gives torch's factors.
"""
from . import linalg
from .ops.creation import ones, randn


def _floating(A):
    return A.dtype if A.dtype.is_floating_point or A.dtype.is_complex else _float32()


def _float32():
    from ._backend import float32
    return float32


def _matmul(a, b):
    """a @ b, where a may be a sparse COO matrix."""
    if a.is_sparse:
        from . import sparse
        return sparse.mm(a, b)
    return a.matmul(b)


def _adjoint(X):
    """X^H (a sparse matrix's too: its transpose, conjugated when complex)."""
    if not X.is_sparse:
        return X.mH
    X = X.transpose(-2, -1)
    return X.conj() if X.is_complex() else X


def _times(A, M, X, adjoint=False):
    """(A - M) @ X, or its adjoint's product (A - M)^H @ X; no M: A alone."""
    if adjoint:
        A, M = _adjoint(A), (None if M is None else M.mH)
    Y = _matmul(A, X)
    return Y if M is None else Y - _matmul(M, X)


def _approximate_basis(A, q, niter, M):
    """Q with q orthonormal columns whose span approximates the range of A - M."""
    R = randn(A.shape[-1], q, dtype=_floating(A), device=A.device)
    Q = linalg.qr(_times(A, M, R)).Q
    for _ in range(2 if niter is None else niter):
        Q = linalg.qr(_times(A, M, Q, adjoint=True)).Q
        Q = linalg.qr(_times(A, M, Q)).Q
    return Q


def _svd_lowrank(A, q, niter, M):
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.size())
    if m < n:   # (the algorithm wants a tall matrix: factor the adjoint and swap U and V back)
        A = _adjoint(A)
        M = None if M is None else M.mH
    Q = _approximate_basis(A, q, niter, M)
    B = Q.mH.matmul(A)
    if M is not None:
        B = B - Q.mH.matmul(M)
    U, S, Vh = linalg.svd(B, full_matrices=False)
    U, V = Q.matmul(U), Vh.mH
    return (V, S, U) if m < n else (U, S, V)


def svd_lowrank(A, q=6, niter=2, M=None):
    """Approximate (U, S, V) of rank q of A (or of A - M), with A ≈ U diag(S) V^H; niter subspace iterations."""
    return _svd_lowrank(A, q, niter, M)


def pca_lowrank(A, q=None, center=True, niter=2):
    """(U, S, V) of a low-rank PCA of A's rows: the SVD of A less its column means (center=True)."""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not 0 <= q <= min(m, n):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return _svd_lowrank(A, q, niter, None)
    if A.is_sparse:
        if A.dim() != 2:
            raise ValueError("pca_lowrank input is expected to be 2-dimensional tensor")
        from . import sparse
        # the centring term as M = 1 c^T, so A itself stays sparse
        c = sparse.sum(A, dim=(-2,)).to_dense() / m
        M = ones(m, 1, dtype=_floating(A), device=A.device).matmul(c.reshape(1, n).to(_floating(A)))
        return _svd_lowrank(A, q, niter, M)
    return _svd_lowrank(A - A.mean(dim=(-2,), keepdim=True), q, niter, None)
