"""torch.linalg (ember/linalg.py) and its top-level aliases: values against torch on well-conditioned
random matrices with several batch shapes, gradients against torch and against float64 central
differences, and torch's errors."""
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
from ember import linalg as LA
from tests.conftest import numeric_grad, torch as _torch

requires_torch = pytest.mark.skipif(_torch is None, reason="PyTorch (the test oracle) is not installed")
RNG = np.random.default_rng(0)
BATCHES = [(), (2,), (2, 3)]


def well(*shape, dtype=np.float64):
    """Random matrices with singular values in [1, 3] (well conditioned, distinct)."""
    *batch, m, n = shape
    k = min(m, n)
    q1 = np.linalg.qr(RNG.standard_normal(tuple(batch) + (m, m)))[0]
    q2 = np.linalg.qr(RNG.standard_normal(tuple(batch) + (n, n)))[0]
    s = np.sort(RNG.uniform(1, 3, tuple(batch) + (k,)))[..., ::-1]
    s = s + np.arange(k)[::-1] * 0.3     # keep them apart
    mid = np.zeros(tuple(batch) + (m, n))
    idx = np.arange(k)
    mid[..., idx, idx] = s
    return (q1 @ mid @ q2).astype(dtype)


def _list(o):
    return list(o) if isinstance(o, tuple) else [o]


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _tol(dtype):
    return dict(rtol=1e-8, atol=1e-8) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-4)


def _weights(outs):
    return [None if o is None or o.dtype.is_floating_point is False else RNG.standard_normal(tuple(o.shape))
            for o in outs]


def _loss(outs, ws, diff, square):
    total = 0
    for i in diff:
        o = outs[i]
        if square and i in square:
            o = o * o
        total = total + (o * ws[i]).sum()
    return total


def check(efn, tfn, arrays, *, diff=(0,), square=(), absval=(), pre=None, grad=True, fd=True, names=None,
          torch_grad=True, skip=()):
    """Values and dtypes of efn vs tfn (torch) on arrays; gradients of a random weighting of the
    outputs numbered diff (squared first for those in square: sign-invariant losses for U, V, Q,
    eigenvectors) against torch and float64 central differences.  pre maps the inputs first (in
    both frameworks, so the graph includes it): symmetrising for eigh, X X^T + n I for cholesky."""
    pre = pre or (lambda *xs: xs)
    dtype = arrays[0].dtype
    et = [ember.tensor(a, requires_grad=grad) for a in arrays]
    eo = _list(efn(*pre(*et)))
    ws = _weights(eo)
    if _torch is not None:
        tt = [_torch.tensor(a, requires_grad=grad) for a in arrays]
        to = _list(tfn(*pre(*tt)))
        assert len(eo) == len(to)
        for i, (e, t) in enumerate(zip(eo, to)):
            assert tuple(e.shape) == tuple(t.shape), (i, e.shape, t.shape)
            assert e.dtype.name == str(t.dtype).split(".")[-1], (i, e.dtype, t.dtype)
            if i in skip:
                continue
            ev, tv = _np(e), _np(t)
            if i in absval:
                ev, tv = np.abs(ev), np.abs(tv)
            np.testing.assert_allclose(ev, tv, **_tol(dtype))
        if names is not None:
            assert eo[diff[0]].grad_fn.name() == names
    if not grad:
        return
    _loss(eo, ws, diff, square).backward()
    if _torch is not None and torch_grad:
        _loss(to, [None if w is None else _torch.tensor(w.astype(dtype)) for w in ws], diff, square).backward()
        for e, t in zip(et, tt):
            assert e.grad.dtype == e.dtype
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), **(_tol(dtype) if dtype == np.float32
                                                                           else dict(rtol=1e-7, atol=1e-7)))
    if fd and dtype == np.float64:
        for k, a in enumerate(arrays):
            def f(x):
                xs = [ember.tensor(x if j == k else arrays[j]) for j in range(len(arrays))]
                with ember.no_grad():
                    outs = _list(efn(*pre(*xs)))
                    return float(_loss(outs, ws, diff, square))
            np.testing.assert_allclose(et[k].grad.numpy(), numeric_grad(f, a), rtol=1e-5, atol=1e-6)


def T():
    return _torch.linalg if _torch is not None else None


def tl(name):
    return lambda *a, **k: getattr(_torch.linalg, name)(*a, **k)


# ---- norms ----------------------------------------------------------------------------------
@pytest.mark.parametrize("ord", [2, 1, 3.5, math.inf, -math.inf, 0.5])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (-1, False), ((0, 2), True), (1, True)])
def test_vector_norm(ord, dim, keepdim):
    x = RNG.standard_normal((2, 3, 4))
    check(lambda a: LA.vector_norm(a, ord, dim, keepdim), lambda a: tl("vector_norm")(a, ord, dim, keepdim), [x],
          names="LinalgVectorNormBackward0")


@pytest.mark.parametrize("ord", ["fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2])
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matrix_norm(ord, batch, dtype):
    a = well(*batch, 4, 3, dtype=dtype)
    check(lambda x: LA.matrix_norm(x, ord), lambda x: tl("matrix_norm")(x, ord), [a])


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -2, math.inf])
def test_matrix_norm_dims_keepdim(ord):
    a = well(3, 2, 4).transpose(1, 0, 2).copy()          # matrices over dims (0, 2)
    check(lambda x: LA.matrix_norm(x, ord, (2, 0), True), lambda x: tl("matrix_norm")(x, ord, (2, 0), True), [a])
    check(lambda x: LA.matrix_norm(x, ord, (0, 2)), lambda x: tl("matrix_norm")(x, ord, (0, 2)), [a])


@pytest.mark.parametrize("args", [dict(), dict(ord=1), dict(ord="fro"), dict(ord="nuc"), dict(ord=2, dim=(0, 1)),
                                  dict(ord=3, dim=1), dict(dim=(1, 0), keepdim=True), dict(ord=-math.inf, dim=0)])
def test_norm_picks_vector_or_matrix(args):
    a = well(4, 3)
    check(lambda x: LA.norm(x, **args), lambda x: tl("norm")(x, **args), [a])


def test_norm_1d_and_dtype_arg():
    v = RNG.standard_normal(5)
    check(lambda x: LA.norm(x, 3), lambda x: tl("norm")(x, 3), [v])
    x32 = ember.tensor(v.astype(np.float32), requires_grad=True)
    out = LA.vector_norm(x32, dtype=ember.float64)
    assert out.dtype == ember.float64
    out.backward()
    assert x32.grad.dtype == ember.float32
    np.testing.assert_allclose(x32.grad.numpy(), v / np.linalg.norm(v), rtol=1e-5)


def test_norm_errors():
    with pytest.raises(RuntimeError, match=r"linalg.vector_norm: Expected a floating point or complex tensor as "
                                           r"input. Got Long"):
        LA.vector_norm(ember.arange(3))
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: Expected a floating point .* Got Long"):
        LA.matrix_norm(ember.eye(3).long())
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: The input tensor A must have at least 2 dim"):
        LA.matrix_norm(ember.randn(3))
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: Order 3 not supported."):
        LA.matrix_norm(ember.randn(3, 3), 3)
    with pytest.raises(RuntimeError, match="linalg.matrix_norm: dim must be a 2-tuple. Got 0"):
        LA.norm(ember.randn(3, 3), "fro", dim=0)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        LA.norm(ember.randn(3), "nuc")
    with pytest.raises(TypeError, match="argument 'ord' .* must be Number, not str"):
        LA.vector_norm(ember.randn(3), "fro")
    with pytest.raises(RuntimeError, match="If dim is not specified but ord is, the input must be 1D or 2D. Got 3D."):
        LA.norm(ember.randn(2, 3, 4), 2)


# ---- inverse, determinants --------------------------------------------------------------------
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_inv_det_slogdet(batch, dtype):
    a = well(*batch, 4, 4, dtype=dtype)
    check(LA.inv, tl("inv"), [a], names="LinalgInvExBackward0")
    check(LA.det, tl("det"), [a], names="LinalgDetBackward0")
    check(LA.slogdet, tl("slogdet"), [a], diff=(1,), names="LinalgSlogdetBackward0")
    check(lambda x: LA.inv_ex(x).inverse, lambda x: tl("inv_ex")(x).inverse, [a])


def test_det_gradient_of_singular_matrix():
    # the adjugate's transpose, nonzero for a rank n-1 matrix (torch 2.x returns zeros here):
    # checked against central differences
    s = np.array([[1., 2, 3], [2, 4, 6], [1, 0, 1]])
    check(LA.det, tl("det"), [s], fd=True, torch_grad=False)


def test_top_level_and_methods():
    a = well(2, 3, 3)
    b = a @ a.transpose(0, 2, 1) + 3 * np.eye(3)
    check(ember.det, lambda x: _torch.det(x), [a])
    check(ember.inverse, lambda x: _torch.inverse(x), [a])
    check(ember.logdet, lambda x: _torch.logdet(x), [b])
    check(lambda x: x.logdet(), lambda x: x.logdet(), [b])
    check(lambda x: ember.slogdet(x), lambda x: _torch.slogdet(x), [a], diff=(1,))
    check(lambda x: x.det(), lambda x: x.det(), [a])
    check(lambda x: x.inverse(), lambda x: x.inverse(), [a])
    check(lambda x: x.matrix_power(3), lambda x: x.matrix_power(3), [a])
    check(lambda x: ember.matrix_power(x, -2), lambda x: _torch.matrix_power(x, -2), [a])
    check(lambda x: x.pinverse(), lambda x: x.pinverse(), [well(2, 4, 3)])
    check(lambda x: ember.pinverse(x), lambda x: _torch.pinverse(x), [well(3, 5)])
    assert type(ember.slogdet(ember.tensor(a))).__name__ == "slogdet"
    assert ember.slogdet(ember.tensor(a)).sign.shape == (2,)


def test_logdet_negative_is_nan():
    a = np.diag([-1.0, 2.0])
    out = ember.logdet(ember.tensor(a))
    assert math.isnan(float(out))
    if _torch is not None:
        assert math.isnan(float(_torch.logdet(_torch.tensor(a))))


def test_inv_errors():
    s = np.array([[1., 2, 3], [2, 4, 6], [1, 0, 1]], dtype=np.float32)
    with pytest.raises(LA.LinAlgError, match=r"^linalg.inv: The diagonal element 3 is zero, the inversion could "
                                             r"not be completed because the input matrix is singular.$"):
        LA.inv(ember.tensor(s))
    with pytest.raises(RuntimeError, match=r"^linalg.inv: \(Batch element 1\): The diagonal element 3 is zero"):
        LA.inv(ember.tensor(np.stack([np.eye(3, dtype=np.float32), s])))
    with pytest.raises(RuntimeError, match="linalg.inv: The diagonal element 1 is zero"):
        ember.inverse(ember.zeros(2, 2))
    with pytest.raises(RuntimeError, match="linalg.inv: The diagonal element 2 is zero"):
        ember.inverse(ember.tensor([[1., 2], [2, 4]]))
    with pytest.raises(RuntimeError, match=r"^linalg.inv: A must be batches of square matrices, but they are 2 by 3 "
                                           r"matrices$"):
        LA.inv(ember.randn(2, 3))
    with pytest.raises(RuntimeError, match=r"^linalg.inv: The input tensor A must have at least 2 dimensions.$"):
        LA.inv(ember.randn(3))
    with pytest.raises(RuntimeError, match=r"^linalg.inv: Expected a floating point or complex tensor as input. "
                                           r"Got Long$"):
        LA.inv(ember.eye(3).long())
    with pytest.raises(RuntimeError, match="linalg.det: A must be batches of square matrices"):
        LA.det(ember.randn(2, 3))
    with pytest.raises(RuntimeError, match="linalg.slogdet: Expected a floating point"):
        LA.slogdet(ember.eye(2).long())
    inv_, info = LA.inv_ex(ember.tensor(np.stack([np.eye(3, dtype=np.float32), s])))
    assert info.tolist() == [0, 3] and info.dtype == ember.int32
    if _torch is not None:
        assert _torch.linalg.inv_ex(_torch.tensor(np.stack([np.eye(3, dtype=np.float32), s]))).info.tolist() == \
            [0, 3]
    assert issubclass(LA.LinAlgError, RuntimeError)


# ---- solve / lstsq -----------------------------------------------------------------------------
@pytest.mark.parametrize("ashape,bshape", [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3)),
                                           ((2, 3, 3), (3, 4)), ((2, 3, 3), (2, 3, 1)), ((3, 3), (4, 3, 2)),
                                           ((4, 1, 3, 3), (2, 3, 2))])
def test_solve(ashape, bshape):
    a = well(*ashape)
    b = RNG.standard_normal(bshape)
    check(LA.solve, tl("solve"), [a, b], names="LinalgSolveExBackward0")


def test_solve_left_false_and_float32():
    a = well(2, 3, 3)
    b = RNG.standard_normal((2, 4, 3))
    check(lambda x, y: LA.solve(x, y, left=False), lambda x, y: tl("solve")(x, y, left=False), [a, b])
    check(LA.solve, tl("solve"), [a.astype(np.float32), b.transpose(0, 2, 1).astype(np.float32).copy()])


def test_solve_errors():
    s = ember.tensor([[1., 2, 3], [2, 4, 6], [1, 0, 1]])
    with pytest.raises(LA.LinAlgError, match=r"^torch.linalg.solve: The solver failed because the input matrix is "
                                             r"singular.$"):
        LA.solve(s, ember.randn(3))
    with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                                           r"\(3x3 and 4x1\)"):
        LA.solve(ember.randn(3, 3), ember.randn(4))
    with pytest.raises(RuntimeError, match="linalg.solve: Expected A and B to have the same dtype, but found A of "
                                           "type Float and B of type Double instead"):
        LA.solve(ember.randn(3, 3), ember.randn(3).double())
    with pytest.raises(RuntimeError, match="linalg.solve: A must be batches of square matrices"):
        LA.solve(ember.randn(2, 3), ember.randn(2))
    with pytest.raises(RuntimeError, match="linalg.solve: Expected a floating point or complex tensor as input. "
                                           "Got Long"):
        LA.solve(ember.eye(3).long(), ember.ones(3).long())


@pytest.mark.parametrize("ashape,bshape", [((5, 3), (5, 2)), ((2, 5, 3), (2, 5, 2)), ((3, 3), (3, 1)),
                                           ((2, 4, 3), (2, 4))])
def test_lstsq(ashape, bshape):
    a = well(*ashape)
    b = RNG.standard_normal(bshape)
    check(lambda x, y: LA.lstsq(x, y).solution, lambda x, y: tl("lstsq")(x, y).solution, [a, b])
    res = LA.lstsq(ember.tensor(a), ember.tensor(b))
    if _torch is not None:
        tres = _torch.linalg.lstsq(_torch.tensor(a), _torch.tensor(b))
        assert res.rank.tolist() == tres.rank.tolist()
        assert tuple(res.residuals.shape) == tuple(tres.residuals.shape)
        assert tuple(res.singular_values.shape) == tuple(tres.singular_values.shape)


# ---- pinv / rank / cond ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 5), (2, 4, 3), (2, 2, 3, 4)])
def test_pinv(shape):
    check(LA.pinv, tl("pinv"), [well(*shape)], names="LinalgPinvBackward0")


def test_pinv_rank_deficient_and_tolerances():
    a = RNG.standard_normal((4, 2)) @ RNG.standard_normal((2, 5))
    check(LA.pinv, tl("pinv"), [a], grad=False)
    check(lambda x: LA.pinv(x, atol=0.5), lambda x: tl("pinv")(x, atol=0.5), [well(4, 4)], grad=False)
    check(lambda x: LA.pinv(x, rtol=0.6), lambda x: tl("pinv")(x, rtol=0.6), [well(4, 4)], grad=False)
    x = ember.tensor(a)
    assert LA.matrix_rank(x).item() == 2 and LA.matrix_rank(x).dtype == ember.int64
    w = well(2, 3, 4, 4)
    check(lambda x: LA.matrix_rank(x, atol=1.5), lambda x: tl("matrix_rank")(x, atol=1.5), [w], grad=False)
    check(lambda x: LA.matrix_rank(x, rtol=0.5), lambda x: tl("matrix_rank")(x, rtol=0.5), [w], grad=False)
    sym = w @ w.swapaxes(-1, -2)
    check(lambda x: LA.matrix_rank(x, hermitian=True), lambda x: tl("matrix_rank")(x, hermitian=True), [sym],
          grad=False)


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf])
def test_cond(p):
    # torch cannot differentiate cond for the orders computed through inv (its own in-place error)
    check(lambda x: LA.cond(x, p), lambda x: tl("cond")(x, p), [well(2, 3, 3)], torch_grad=p in (None, 2, -2))


def test_cond_singular_is_inf():
    s = ember.tensor([[1., 2, 3], [2, 4, 6], [1, 0, 1]])
    assert LA.cond(s, 1).item() == math.inf
    assert LA.cond(ember.stack([ember.eye(3), s]), "fro").tolist()[1] == math.inf


# ---- products -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -3])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_matrix_power(n, batch):
    a = well(*batch, 3, 3) / 2
    check(lambda x: LA.matrix_power(x, n), lambda x: tl("matrix_power")(x, n), [a], grad=n != 0)


def test_matrix_power_int_and_errors():
    x = ember.tensor([[1, 1], [0, 1]])
    assert LA.matrix_power(x, 3).tolist() == [[1, 3], [0, 1]]
    with pytest.raises(RuntimeError, match="linalg.inv: Expected a floating point"):
        LA.matrix_power(x, -1)
    with pytest.raises(RuntimeError, match="linalg.matrix_power: A must be batches of square matrices, but they are "
                                           "2 by 3 matrices"):
        LA.matrix_power(ember.randn(2, 3), 2)
    with pytest.raises(RuntimeError, match="linalg.inv: The diagonal element"):
        LA.matrix_power(ember.zeros(2, 2), -1)


@pytest.mark.parametrize("ashape,bshape,dim", [((3,), (3,), -1), ((4, 3), (4, 3), -1), ((3, 4), (3, 1), 0),
                                               ((2, 4, 3), (1, 4, 3), -1), ((5, 3, 2), (1, 3, 2), 1)])
def test_cross(ashape, bshape, dim):
    a, b = RNG.standard_normal(ashape), RNG.standard_normal(bshape)
    check(lambda x, y: LA.cross(x, y, dim=dim), lambda x, y: tl("cross")(x, y, dim=dim), [a, b],
          names="LinalgCrossBackward0")
    check(lambda x, y: ember.cross(x, y, dim=dim), lambda x, y: _torch.cross(x, y, dim=dim), [a, b])
    check(lambda x, y: x.cross(y, dim=dim), lambda x, y: x.cross(y, dim=dim), [a, b])


def test_torch_cross_default_dim_warns():
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))
    with pytest.warns(UserWarning, match="torch.cross without specifying the dim arg is deprecated"):
        out = ember.cross(ember.tensor(a), ember.tensor(b))
    np.testing.assert_allclose(out.numpy(), np.cross(a, b, axis=0))
    with pytest.raises(RuntimeError, match="linalg.cross: inputs dimension -1 must have length 3. Got 4 and 4"):
        LA.cross(ember.randn(4), ember.randn(4))
    with pytest.raises(RuntimeError, match="linalg.cross: inputs must have the same number of dimensions."):
        LA.cross(ember.randn(2, 3), ember.randn(3))


def test_vecdot_multi_dot_diagonal_matmul():
    x, y = RNG.standard_normal((2, 5, 4)), RNG.standard_normal((5, 4))
    check(LA.vecdot, tl("vecdot"), [x, y])
    check(lambda a, b: LA.vecdot(a, b, dim=1), lambda a, b: tl("vecdot")(a, b, dim=1), [x, y])
    ms = [RNG.standard_normal(s) for s in [(4,), (4, 3), (3, 5), (5, 2)]]
    check(lambda *t: LA.multi_dot(t), lambda *t: tl("multi_dot")(t), ms)
    ms = [RNG.standard_normal(s) for s in [(2, 4), (4, 3), (3,)]]
    check(lambda *t: LA.multi_dot(t), lambda *t: tl("multi_dot")(t), ms)
    ms = [RNG.standard_normal(s) for s in [(4,), (4,)]]
    check(lambda *t: LA.multi_dot(t), lambda *t: tl("multi_dot")(t), ms)
    d = RNG.standard_normal((2, 3, 4))
    check(lambda a: LA.diagonal(a, offset=1), lambda a: tl("diagonal")(a, offset=1), [d])
    check(lambda a: LA.diagonal(a, dim1=0, dim2=2), lambda a: tl("diagonal")(a, dim1=0, dim2=2), [d])
    check(LA.matmul, tl("matmul"), [x, y.T.copy()])
    with pytest.raises(RuntimeError, match=r"multi_dot\(\): expected at least 2 tensors but got 1"):
        LA.multi_dot([ember.randn(3, 3)])
    with pytest.raises(RuntimeError, match="linalg.vecdot: Expected a floating point"):
        LA.vecdot(ember.arange(3), ember.arange(3))


# ---- decompositions --------------------------------------------------------------------------------
def _spd(x):
    return (x @ x.transpose(-1, -2) + 4 * _eye_like(x),)


def _eye_like(x):
    n = x.shape[-1]
    if isinstance(x, ember.Tensor):
        return ember.eye(n, dtype=x.dtype)
    return _torch.eye(n, dtype=x.dtype)


def _sym(x):
    return ((x + x.transpose(-1, -2)) / 2,)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(batch, upper):
    a = RNG.standard_normal(batch + (4, 4))
    check(lambda x: LA.cholesky(x, upper=upper), lambda x: tl("cholesky")(x, upper=upper), [a], pre=_spd,
          names="LinalgCholeskyExBackward0")
    check(lambda x: LA.cholesky_ex(x, upper=upper).L, lambda x: tl("cholesky_ex")(x, upper=upper).L, [a],
          pre=_spd)


def test_torch_cholesky_deprecated_alias():
    a = RNG.standard_normal((2, 3, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda x: ember.cholesky(x, upper=True), lambda x: _torch.cholesky(x, upper=True), [a], pre=_spd,
              names="CholeskyBackward0")
        check(lambda x: x.cholesky(), lambda x: x.cholesky(), [a], pre=_spd)


def test_cholesky_errors():
    with pytest.raises(LA.LinAlgError, match=r"^linalg.cholesky: The factorization could not be completed because "
                                             r"the input is not positive-definite \(the leading minor of order 1 is "
                                             r"not positive-definite\).$"):
        LA.cholesky(-ember.eye(3))
    m = ember.tensor([[1., 2], [2, 1]])
    with pytest.raises(RuntimeError, match=r"\(Batch element 1\): .* leading minor of order 2 is not"):
        LA.cholesky(ember.stack([ember.eye(2), m]))
    L, info = LA.cholesky_ex(ember.stack([ember.eye(2), m]))
    assert info.tolist() == [0, 2]
    with pytest.raises(RuntimeError, match="linalg.cholesky: Expected a floating point or complex tensor as input. "
                                           "Got Long"):
        LA.cholesky(ember.eye(3).long())
    with pytest.raises(RuntimeError, match="linalg.cholesky: A must be batches of square matrices"):
        LA.cholesky(ember.randn(2, 3))


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (2, 5, 3), (2, 3, 3, 3), (3, 5), (2, 2, 4)])
def test_qr_reduced(shape):
    a = well(*shape)
    check(LA.qr, tl("qr"), [a], diff=(0, 1), absval=(0, 1), square=(0, 1), names="LinalgQrBackward0")
    # a sign-dependent loss: checked against central differences only (LAPACKs may pick other signs)
    x = ember.tensor(a, requires_grad=True)
    q, r = LA.qr(x)
    w1, w2 = RNG.standard_normal(q.shape), RNG.standard_normal(r.shape)
    ((q * ember.tensor(w1)).sum() + (r * ember.tensor(w2)).sum()).backward()

    def f(v):
        with ember.no_grad():
            q_, r_ = LA.qr(ember.tensor(v))
            return float((q_.numpy() * w1).sum() + (r_.numpy() * w2).sum())
    np.testing.assert_allclose(x.grad.numpy(), numeric_grad(f, a), rtol=1e-5, atol=1e-6)


def test_qr_modes_and_errors():
    a = well(5, 3)
    check(lambda x: LA.qr(x, "complete"), lambda x: tl("qr")(x, "complete"), [a], absval=(0, 1), grad=False)
    q, r = LA.qr(ember.tensor(a), "r")
    assert tuple(q.shape) == (0,) and tuple(r.shape) == (3, 3)
    x = ember.tensor(a, requires_grad=True)
    with pytest.raises(RuntimeError, match="The QR decomposition is not differentiable when mode='complete' and "
                                           "nrows > ncols."):
        LA.qr(x, "complete")[0].sum().backward()
    with pytest.raises(RuntimeError, match="depends on Q, which is not computed when mode='r'"):
        LA.qr(x, "r")[1].sum().backward()
    with pytest.raises(RuntimeError, match="qr received unrecognized mode 'x'"):
        LA.qr(x, "x")
    with pytest.raises(RuntimeError, match="linalg.qr: Expected a floating point"):
        LA.qr(ember.eye(3).long())


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_eigh(batch, dtype):
    a = well(*batch, 4, 4, dtype=dtype)
    check(LA.eigh, tl("eigh"), [a], pre=_sym, diff=(0, 1), square=(1,), absval=(1,), names="LinalgEighBackward0")
    check(LA.eigvalsh, tl("eigvalsh"), [a], pre=_sym)
    # without symmetrising, only the upper triangle is read: torch's gradient is the symmetric one
    check(lambda x: LA.eigvalsh(x, "U"), lambda x: tl("eigvalsh")(x, "U"), [a], fd=False)


def test_eigh_uplo_reads_one_triangle():
    a = RNG.standard_normal((4, 4))
    lo = LA.eigvalsh(ember.tensor(a)).numpy()
    np.testing.assert_allclose(lo, np.linalg.eigvalsh(np.tril(a) + np.tril(a, -1).T))


@pytest.mark.parametrize("batch", [(), (2,)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_eig_values_vectors_and_gradients(batch, dtype, oracle):
    rng = np.random.default_rng(len(batch))   # (its own: the shared RNG feeds the other tests' inputs)
    a = rng.standard_normal(batch + (4, 4)).astype(dtype)
    L, V = LA.eig(ember.tensor(a))
    assert (L.dtype, V.dtype) == ((ember.complex64,) * 2 if dtype == np.float32 else (ember.complex128,) * 2)
    assert type(LA.eig(ember.tensor(a))).__name__ == "linalg_eig"
    tol = 1e-4 if dtype == np.float32 else 1e-10
    # A V = V diag(L), unit columns; LAPACK leaves each real eigenvector's sign free (ember's may differ)
    np.testing.assert_allclose(a @ V.numpy(), V.numpy() * L.numpy()[..., None, :], atol=tol)
    np.testing.assert_allclose(np.linalg.norm(V.numpy(), axis=-2), 1, rtol=tol)
    np.testing.assert_allclose(L.numpy(), oracle.linalg.eigvals(oracle.tensor(a)).numpy(), rtol=tol, atol=tol)
    # gradients of losses that ignore the eigenvectors' phase: torch's and central differences
    w = rng.standard_normal(batch + (4, 4))

    def loss(lib, x):
        L, V = lib.linalg.eig(x)
        return (L * L).real.sum() + (V.abs() ** 2 * lib.tensor(w)).sum()
    grads = []
    for lib in (ember, oracle):
        x = lib.tensor(a.astype(np.float64), requires_grad=True)
        loss(lib, x).backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-7, atol=1e-9)

    def f(v):
        with ember.no_grad():
            return float(loss(ember, ember.tensor(v)))
    np.testing.assert_allclose(grads[0], numeric_grad(f, a.astype(np.float64)), rtol=1e-5, atol=1e-6)
    x = ember.tensor(a.astype(np.float64), requires_grad=True)
    assert type(LA.eigvals(x).grad_fn).__name__ == "LinalgEigBackward0"
    LA.eigvals(x).real.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(np.eye(4), a.shape), atol=1e-9)   # d trace / dA


def test_eig_refuses_a_phase_dependent_loss_and_non_square_input():
    # complex eigenvalues, so complex eigenvectors whose phase is arbitrary
    x = ember.tensor([[0.3, -1.2, 0.5], [0.8, 0.1, -0.4], [1.5, 0.2, 0.9]], requires_grad=True)
    L, V = LA.eig(x)
    assert (L.imag.abs() > 0.1).any()
    with pytest.raises(RuntimeError, match="linalg_eig_backward: The eigenvectors in the complex case are "
                                           "specified up to multiplication by e\\^\\{i phi\\}"):
        V.real.sum().backward()
    with pytest.raises(RuntimeError, match="linalg.eig: A must be batches of square matrices"):
        LA.eig(ember.ones(2, 3))


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5), (2, 4, 3), (2, 2, 3, 4)])
@pytest.mark.parametrize("full", [False, True])
def test_svd(shape, full):
    a = well(*shape)
    # U and Vh up to the signs of their columns / rows: a loss in U**2, S, Vh**2 is sign-invariant
    check(lambda x: LA.svd(x, full_matrices=full), lambda x: tl("svd")(x, full_matrices=full), [a],
          diff=(0, 1, 2) if not full or shape[-1] == shape[-2] else (1,), square=(0, 2), absval=(0, 2),
          names="LinalgSvdBackward0", skip=(0, 2) if full and shape[-1] != shape[-2] else ())
    check(LA.svdvals, tl("svdvals"), [a], names="LinalgSvdBackward0")


def test_svd_float32_and_reconstruction_gradient():
    a = well(2, 4, 3, dtype=np.float32)
    check(lambda x: LA.svd(x, full_matrices=False), lambda x: tl("svd")(x, full_matrices=False), [a],
          diff=(0, 1, 2), square=(0, 2), absval=(0, 2))
    # U diag(S) Vh is A itself: its gradient is the weight
    x = ember.tensor(well(4, 3), requires_grad=True)
    u, s, vh = LA.svd(x, full_matrices=False)
    w = RNG.standard_normal((4, 3))
    ((u * s.unsqueeze(-2)) @ vh * ember.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), w, atol=1e-10)


@pytest.mark.parametrize("some", [True, False])
def test_torch_svd_returns_v(some):
    a = well(2, 4, 3)
    check(lambda x: ember.svd(x, some=some), lambda x: _torch.svd(x, some=some), [a],
          diff=(0, 1, 2) if some else (1,), square=(0, 2), absval=(0, 2), skip=() if some else (0,))
    check(lambda x: x.svd(), lambda x: x.svd(), [a], diff=(2,), square=(2,), absval=(0, 2))
    u, s, v = ember.svd(ember.tensor(a), compute_uv=False)
    assert float(u.abs().sum()) == 0 and tuple(v.shape) == (2, 3, 3)


@pytest.mark.parametrize("fn", ["svd", "eigh", "pinv", "det", "slogdet", "qr"])
def test_integer_inputs_raise(fn):
    with pytest.raises((RuntimeError, NotImplementedError)):
        getattr(LA, fn)(ember.eye(3).long())


# ---- namespace plumbing ---------------------------------------------------------------------------
def test_torch_alias_imports_linalg():
    code = ("import ember.compat as c; c.install()\n"
            "import torch.linalg\n"
            "from torch.linalg import norm, inv\n"
            "import torch\n"
            "x = torch.eye(2) * 2\n"
            "print(norm(x).item(), inv(x).tolist(), torch.linalg.det(x).item())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["2.8284270763397217", "[[0.5,", "0.0],", "[0.0,", "0.5]]", "4.0"]


def test_import_ember_does_not_import_linalg():
    code = "import sys, ember; print('ember.linalg' in sys.modules); ember.tensor([[1.]]).det(); " \
           "print('ember.linalg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_return_types_repr():
    r = LA.slogdet(ember.eye(2))
    assert repr(r).startswith("ember.return_types.linalg_slogdet(\nsign=tensor(1.)")
    sign, logabs = r
    assert r.logabsdet is logabs


# ---- fixes from the review against torch --------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("fn", ["inv", "inv_ex", "det", "slogdet", "cholesky", "qr", "eigh", "eigvalsh", "svd", "cond",
                                "svdvals", "pinv", "matrix_rank", "solve", "lstsq"])
@pytest.mark.parametrize("dtype", ["float16", "int64"])
def test_dtype_errors_match_torch(fn, dtype):
    """torch's exception types for half and integer inputs (numpy.linalg would raise a TypeError for
    half): NotImplementedError from the kernels without that dtype, RuntimeError from the checks."""
    def err(lib):
        x = lib.eye(3, dtype=getattr(lib, dtype))
        f = getattr(lib.linalg, fn)
        try:
            f(x, x) if fn in ("solve", "lstsq") else f(x)
        except Exception as e:      # noqa: BLE001 - the type is what is compared
            return type(e), str(e)
        return None, None
    (te, tm), (ee, em) = err(_torch), err(ember)
    assert ee is te, (em, tm)
    if te is NotImplementedError:
        assert em == tm


@requires_torch
@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("vec", [False, True])
def test_lstsq_fields_match_torch(driver, vec):
    """rank is a tensor (was a NumPy scalar that could not be printed or converted), residuals are
    filled as torch fills them for each driver (empty for rank-deficient input with gelsd/gelss)."""
    a = well(2, 5, 3)
    b = RNG.standard_normal((2, 5) if vec else (2, 5, 2))
    check(lambda x, y: tuple(LA.lstsq(x, y, driver=driver)), lambda x, y: tuple(_torch.linalg.lstsq(x, y, driver=driver)),
          [a, b], diff=(0, 1) if driver not in (None, "gelsy") else (0,))
    r = LA.lstsq(ember.tensor(a[0]), ember.tensor(b[0]), driver=driver)
    assert repr(r).startswith("ember.return_types.linalg_lstsq(")
    assert r.rank.numpy().dtype == np.int64
    if driver != "gels":    # gels: whether LAPACK notices the rank deficiency depends on rounding
        d = a[0].copy()
        d[:, 2] = d[:, 1]
        e, t = LA.lstsq(ember.tensor(d), ember.tensor(b[0]), driver=driver), \
            _torch.linalg.lstsq(_torch.tensor(d), _torch.tensor(b[0]), driver=driver)
        assert tuple(e.rank.shape) == tuple(t.rank.shape)
        # the true rank: in one full run torch's own answer here came out 1 (state left by another test
        # or LAPACK threads; it gives 2 for this input on its own), so torch is compared only when right
        assert int(e.rank.sum()) == np.linalg.matrix_rank(d) == 2
        if int(t.rank.sum()) == 2:
            assert tuple(e.residuals.shape) == tuple(t.residuals.shape)


@requires_torch
@pytest.mark.parametrize("some", [True, False])
def test_torch_svd_compute_uv_false(some):
    """U and V are zero-filled (m, m) and (n, n) matrices outside the graph; S keeps its gradient
    (it was zero: the node differentiated through the zero-filled U and V)."""
    a = well(2, 4, 3)
    check(lambda x: ember.svd(x, some=some, compute_uv=False), lambda x: _torch.svd(x, some=some, compute_uv=False),
          [a], diff=(1,))
    e = ember.svd(ember.tensor(a, requires_grad=True), compute_uv=False)
    assert not e.U.requires_grad and not e.V.requires_grad and e.S.grad_fn.name() == "LinalgSvdBackward0"


@requires_torch
@pytest.mark.filterwarnings("ignore:torch.qr is deprecated")
@pytest.mark.parametrize("some", [True, False])
def test_torch_qr(some):
    a = well(2, 4, 3)
    check(lambda x: ember.qr(x, some), lambda x: _torch.qr(x, some), [a], diff=(1,) if some else (), absval=(0, 1),
          grad=some)
    r = ember.tensor(a).qr()
    assert type(r).__name__ == "qr" and repr(r).startswith("ember.return_types.qr(\nQ=")


@requires_torch
def test_slogdet_sign_is_an_output_of_the_node():
    a = well(2, 3, 3)
    for lib in (ember, _torch):
        x = lib.tensor(a, requires_grad=True)
        sign, logabs = lib.linalg.slogdet(x)
        assert sign.requires_grad and sign.grad_fn is logabs.grad_fn
        assert sign.grad_fn.name() == "LinalgSlogdetBackward0"
        sign.sum().backward()
        assert x.grad is None
    check(lambda x: tuple(LA.slogdet(x)), lambda x: tuple(_torch.linalg.slogdet(x)), [a], diff=(0, 1))


@requires_torch
def test_matrix_power_zero_keeps_the_graph():
    a = well(2, 3, 3)
    check(lambda x: LA.matrix_power(x, 0), lambda x: _torch.linalg.matrix_power(x, 0), [a])
    y = LA.matrix_power(ember.tensor(a, requires_grad=True), 0)
    assert y.requires_grad and y.grad_fn.name() == "CopyBackwards"


@requires_torch
@pytest.mark.parametrize("upper", [True, False])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular(upper, left, unit):
    a = well(2, 1, 3, 3) + 2 * np.eye(3)
    b = RNG.standard_normal((3, 3, 4) if left else (3, 4, 3))
    check(lambda x, y: LA.solve_triangular(x, y, upper=upper, left=left, unitriangular=unit),
          lambda x, y: _torch.linalg.solve_triangular(x, y, upper=upper, left=left, unitriangular=unit), [a, b],
          names="LinalgSolveTriangularBackward0")


@requires_torch
@pytest.mark.parametrize("args", [((3, 3), (3,)), ((3, 4), (3, 2)), ((3, 3), (4, 2))])
def test_solve_triangular_errors(args):
    sa, sb = args
    with pytest.raises(RuntimeError) as t:
        _torch.linalg.solve_triangular(_torch.ones(sa), _torch.ones(sb), upper=True)
    with pytest.raises(RuntimeError) as e:
        LA.solve_triangular(ember.ones(sa), ember.ones(sb), upper=True)
    assert str(e.value) == str(t.value)
    assert LA.solve_triangular(ember.eye(2), ember.ones(2, 1).double(), upper=True).dtype == ember.float32


@requires_torch
def test_solve_ex():
    a, b = well(2, 3, 3), RNG.standard_normal((2, 3))
    check(lambda x, y: tuple(LA.solve_ex(x, y)), lambda x, y: tuple(_torch.linalg.solve_ex(x, y)), [a, b],
          names="LinalgSolveExBackward0")
    sing = np.stack([np.eye(2), [[1., 2.], [2., 4.]]])
    e, t = LA.solve_ex(ember.tensor(sing), ember.ones(2).double()), _torch.linalg.solve_ex(_torch.tensor(sing), _torch.ones(2,
                                                                                   dtype=_torch.float64))
    assert e.info.tolist() == t.info.tolist() == [0, 2] and e.info.dtype == ember.int32
    assert e.result[0].tolist() == t.result[0].tolist()
    assert repr(e).startswith("ember.return_types.linalg_solve_ex(\nresult=")
    with pytest.raises(LA.LinAlgError, match="singular"):
        LA.solve_ex(ember.tensor(sing), ember.ones(2).double(), check_errors=True)


@requires_torch
@pytest.mark.parametrize("kw", [dict(dim=(1, 2)), dict(dim=(0, 2), keepdim=True)])
def test_torch_norm_nuc(kw):
    """torch.norm(p='nuc') is the nuclear matrix norm (it raised NotImplementedError)."""
    check(lambda x: ember.norm(x, p="nuc", **kw), lambda x: _torch.norm(x, p="nuc", **kw), [well(2, 4, 3)])
    check(lambda x: x.norm(p="nuc"), lambda x: x.norm(p="nuc"), [well(4, 3)])
    for shape, dim in [((2, 3, 4), None), ((3,), None), ((2, 3), 1)]:
        with pytest.raises(RuntimeError) as t:
            _torch.norm(_torch.ones(shape), p="nuc", dim=dim)
        with pytest.raises(RuntimeError) as e:
            ember.norm(ember.ones(shape), p="nuc", dim=dim)
        assert str(e.value) == str(t.value)


_INPLACE = {  # op: torch's (error when the input is modified in place?, ... when the output is)
    "inv": (lambda L, y: L.linalg.inv(y), False, True),
    "cholesky": (lambda L, y: L.linalg.cholesky(y), False, True),
    "eigh": (lambda L, y: L.linalg.eigh(y)[0], False, True),
    "eigvalsh": (lambda L, y: L.linalg.eigvalsh(y), False, True),
    "svd": (lambda L, y: L.linalg.svd(y)[1], False, True),
    "svdvals": (lambda L, y: L.linalg.svdvals(y), False, True),
    "qr_wide": (lambda L, y: L.linalg.qr(y[:2])[1], False, True),
    "solve_B": (lambda L, y: L.linalg.solve(L.eye(3, dtype=y.dtype) * 2, y), False, True),
    "solve_A": (lambda L, y: L.linalg.solve(y, L.ones(3, dtype=y.dtype)), True, True),
    "det": (lambda L, y: L.linalg.det(y), True, True),
    "pinv": (lambda L, y: L.linalg.pinv(y), True, True),
    "solve_triangular_B": (lambda L, y: L.linalg.solve_triangular(L.eye(3, dtype=y.dtype), y, upper=True), False,
                           True),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(_INPLACE))
def test_inplace_modification_checks_match_torch(name):
    """Backward refuses to run after an in-place change of what the node saved, and only then: inv,
    cholesky, eigh, svd, qr keep their outputs, not their input (ember refused a modified input)."""
    f, input_err, output_err = _INPLACE[name]
    a = well(3, 3)
    a = a @ a.T + 3 * np.eye(3)
    for lib in (ember, _torch):
        for modify_output, expect in ((False, input_err), (True, output_err)):
            x = lib.tensor(a, requires_grad=True)
            y = x * 1
            z = f(lib, y)
            if modify_output:
                with lib.no_grad():
                    z.add_(1)
            else:
                y.add_(1)
            if expect:
                with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                    z.sum().backward()
            else:
                z.sum().backward()


@requires_torch
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("scale", [0.1, 1.0, 20.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matrix_exp(batch, scale, dtype):
    """linalg.matrix_exp / torch.matrix_exp / Tensor.matrix_exp (they were missing): values and the
    gradient (LinalgMatrixExpBackward0) against torch and central differences."""
    a = (RNG.standard_normal(tuple(batch) + (4, 4)) * scale).astype(dtype)
    fd = scale < 10
    check(LA.matrix_exp, tl("matrix_exp"), [a], names="LinalgMatrixExpBackward0", fd=fd)
    check(ember.matrix_exp, _torch.matrix_exp, [a], fd=False)
    check(lambda x: x.matrix_exp(), lambda x: x.matrix_exp(), [a], fd=False)


@requires_torch
@pytest.mark.parametrize("shape,dtype", [((3,), "float32"), ((3, 4), "float32"), ((3, 3), "int64")])
def test_matrix_exp_errors(shape, dtype):
    with pytest.raises(RuntimeError) as t:
        _torch.linalg.matrix_exp(_torch.ones(shape, dtype=getattr(_torch, dtype)))
    with pytest.raises(RuntimeError) as e:
        LA.matrix_exp(ember.ones(shape, dtype=getattr(ember, dtype)))
    assert str(e.value) == str(t.value)
    assert tuple(LA.matrix_exp(ember.zeros(0, 0)).shape) == (0, 0)


@requires_torch
@pytest.mark.parametrize("N", [None, 2, 5])
def test_vander(N):
    x = RNG.standard_normal((2, 4))
    check(lambda t: LA.vander(t, N=N), lambda t: _torch.linalg.vander(t, N=N), [x], names="CatBackward0")
    assert LA.vander(ember.tensor([2, 3])).tolist() == _torch.linalg.vander(_torch.tensor([2, 3])).tolist()
    with pytest.raises(RuntimeError, match="N must be greater than 1"):
        LA.vander(ember.ones(3), N=1)


@requires_torch
def test_tensorinv_tensorsolve():
    a = well(24, 24).reshape(4, 6, 8, 3)
    check(lambda t: LA.tensorinv(t, ind=2), lambda t: _torch.linalg.tensorinv(t, ind=2), [a])
    b = RNG.standard_normal((2, 3))
    A = well(6, 6).reshape(2, 3, 6)
    check(LA.tensorsolve, _torch.linalg.tensorsolve, [A, b])
    A2 = well(6, 6).reshape(6, 2, 3)
    check(lambda t, u: LA.tensorsolve(t, u, dims=(0,)), lambda t, u: _torch.linalg.tensorsolve(t, u, dims=(0,)),
          [A2, RNG.standard_normal((2, 3))])
    for f, args in [(lambda L: L.linalg.tensorinv(L.ones(4, 6, 8, 2), 2), None),
                    (lambda L: L.linalg.tensorinv(L.ones(4, 6), 0), None),
                    (lambda L: L.linalg.tensorsolve(L.ones(6, 4, 2, 3), L.ones(6, 4), dims=(0, 2)), None)]:
        with pytest.raises(RuntimeError) as t:
            f(_torch)
        with pytest.raises(RuntimeError) as e:
            f(ember)
        assert str(e.value) == str(t.value)
    with pytest.raises(LA.LinAlgError, match="singular"):
        LA.tensorinv(ember.zeros(2, 2, 4), 2)


@requires_torch
@pytest.mark.parametrize("p", [None, -2, "fro", "nuc", 1, -math.inf])
@pytest.mark.parametrize("shape", [(2, 0, 0), (0, 3), (3, 0), (3, 4)])
def test_cond_empty_and_nonsquare_match_torch(p, shape):
    """cond of empty matrices is 0 (ember returned an empty tensor or raised IndexError), the square
    check names the order as torch's does, and the 2-norm's graph ends in SqueezeBackward1."""
    # a full-rank matrix: the 2-norm condition number of a rank-1 one (ones) is the ratio to a
    # rounding error, 1.6e22 in torch and inf in NumPy on one machine
    data = well(*shape).astype(np.float32) if 0 not in shape else np.ones(shape, np.float32)

    def run(lib):
        try:
            return lib.linalg.cond(lib.tensor(data), p).tolist()
        except RuntimeError as e:
            return str(e)
    assert run(ember) == pytest.approx(run(_torch)) if not isinstance(run(_torch), str) else run(ember) == run(_torch)
    if p in (None, -2):
        assert LA.cond(ember.tensor(well(3, 3), requires_grad=True), p).grad_fn.name() == "SqueezeBackward1"


@requires_torch
@pytest.mark.filterwarnings("ignore:torch.cholesky is deprecated")
@pytest.mark.parametrize("fn", ["linalg", "ex", "top"])
def test_cholesky_upper_reads_the_upper_triangle(fn):
    """torch (LAPACK uplo='U') factors the upper triangle when upper=True: for a matrix that is not
    exactly symmetric U is not linalg.cholesky(A).mT (ember factored the lower triangle)."""
    a = well(2, 3, 3)
    a = a @ np.swapaxes(a, -1, -2) + 3 * np.eye(3) + np.triu(np.ones((3, 3)), 1) * 0.3
    f = {"linalg": lambda L, x: L.linalg.cholesky(x, upper=True),
         "ex": lambda L, x: L.linalg.cholesky_ex(x, upper=True).L,
         "top": lambda L, x: L.cholesky(x, upper=True)}[fn]
    check(lambda x: f(ember, x), lambda x: f(_torch, x), [a], fd=False)
    b = a.copy()
    b[1, 0, 1] = -1e3       # the upper triangle's leading minor of order 2 is not positive-definite
    assert LA.cholesky_ex(ember.tensor(b), upper=True).info.tolist() == [0, 2]


@requires_torch
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (2, 3, 5), (5, 3), (1, 4, 2)])
def test_lu_and_lu_factor(shape):
    """linalg.lu / lu_factor / lu_factor_ex (they were missing): LAPACK's pivots, the packed factors,
    torch's LinalgLuBackward0 / LinalgLuFactorExBackward0 for square, wide and tall matrices."""
    a = RNG.standard_normal(shape)
    check(lambda x: tuple(LA.lu(x)), lambda x: tuple(_torch.linalg.lu(x)), [a], diff=(1, 2),
          names="LinalgLuBackward0")
    check(lambda x: tuple(LA.lu_factor(x)), lambda x: tuple(_torch.linalg.lu_factor(x)), [a],
          names="LinalgLuFactorExBackward0")
    e, t = LA.lu_factor_ex(ember.tensor(a)), _torch.linalg.lu_factor_ex(_torch.tensor(a))
    assert e.pivots.tolist() == t.pivots.tolist() and e.info.tolist() == t.info.tolist()
    assert e.pivots.dtype == ember.int32 and LA.lu(ember.tensor(a, requires_grad=True)).P.grad_fn is None


@requires_torch
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("adjoint", [False, True])
def test_lu_solve(left, adjoint):
    a = well(2, 3, 3)
    b = RNG.standard_normal((2, 3, 4) if left else (2, 4, 3))

    def f(lib):
        return lambda x, y: lib.linalg.lu_solve(*lib.linalg.lu_factor(x), y, left=left, adjoint=adjoint)
    check(f(ember), f(_torch), [a, b])


@requires_torch
@pytest.mark.parametrize("case", range(6))
def test_lu_errors_match_torch(case):
    def run(L):
        A = L.ones(2, 3, 3)
        return [lambda: L.linalg.lu_factor(L.ones(3)), lambda: L.linalg.lu(L.ones(3)),
                lambda: L.linalg.lu_factor(L.stack([L.eye(2), L.zeros(2, 2)])),
                lambda: L.linalg.lu_factor_ex(L.zeros(2, 2), check_errors=True),
                lambda: L.linalg.lu_solve(L.eye(3), L.ones(3, dtype=L.int32), L.ones(4, 1)),
                lambda: L.linalg.lu_solve(L.eye(2), L.ones(2, dtype=L.int32), L.ones(2, 1).double())][case]()
    with pytest.raises(RuntimeError) as t:
        run(_torch)
    with pytest.raises(RuntimeError) as e:
        run(ember)
    assert str(e.value) == str(t.value)
    assert LA.lu_factor_ex(ember.zeros(2, 2)).info.item() == 1


def _spd_batch(*batch):
    a = well(*batch, 3, 3)
    return a @ np.swapaxes(a, -1, -2) + 3 * np.eye(3)


@requires_torch
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("factor", [True, False])
def test_cholesky_inverse_and_solve(upper, factor):
    """torch.cholesky_inverse / cholesky_solve (they were missing), with torch's gradients, which use
    the whole second argument (not only the triangle the solves read)."""
    spd = _spd_batch(2)
    L = np.linalg.cholesky(spd)
    L = np.swapaxes(L, -1, -2) if upper else L
    arg = L if factor else spd
    check(lambda x: ember.cholesky_inverse(x, upper=upper), lambda x: _torch.cholesky_inverse(x, upper=upper), [arg],
          names="CholeskyInverseBackward0", fd=False)
    b = RNG.standard_normal((2, 3, 2))
    check(lambda x, y: ember.cholesky_solve(x, y, upper=upper), lambda x, y: _torch.cholesky_solve(x, y, upper=upper),
          [b, arg], names="CholeskySolveBackward0", fd=False)
    check(lambda x, y: x.cholesky_solve(y, upper=upper), lambda x, y: x.cholesky_solve(y, upper=upper), [b[0], arg],
          fd=False)


@requires_torch
@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated", "ignore:torch.lu")
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("transpose", [False, True])
def test_deprecated_torch_forms(upper, transpose):
    """torch.triangular_solve, torch.lu, torch.lu_solve, torch.lu_unpack (deprecated in torch, present)."""
    a, b = well(2, 3, 3) + 2 * np.eye(3), RNG.standard_normal((2, 3, 2))
    check(lambda x, y: tuple(ember.triangular_solve(x, y, upper=upper, transpose=transpose)),
          lambda x, y: tuple(_torch.triangular_solve(x, y, upper=upper, transpose=transpose)), [b, a], diff=(0, 1))
    check(lambda x: tuple(ember.lu_unpack(*LA.lu_factor(x)))[1:],
          lambda x: tuple(_torch.lu_unpack(*_torch.linalg.lu_factor(x)))[1:], [a], diff=(0, 1))
    check(lambda x, y: ember.lu_solve(y, *ember.lu(x)), lambda x, y: _torch.lu_solve(y, *_torch.lu(x)), [a, b])
    check(lambda x: x.lu()[0], lambda x: x.lu()[0], [a])
    e, t = ember.lu(ember.tensor(a), get_infos=True), _torch.lu(_torch.tensor(a), get_infos=True)
    assert e[1].tolist() == t[1].tolist() and e[2].tolist() == t[2].tolist()
    assert type(ember.lu(ember.tensor(a))) is tuple


@requires_torch
@pytest.mark.parametrize("case", range(5))
def test_cholesky_solve_errors(case):
    def run(L):
        return [lambda: L.cholesky_solve(L.ones(3), L.eye(3)), lambda: L.cholesky_solve(L.ones(4, 1), L.eye(3)),
                lambda: L.cholesky_solve(L.ones(3, 1).double(), L.eye(3)), lambda: L.cholesky_inverse(L.ones(3)),
                lambda: L.cholesky_inverse(L.ones(2, 3))][case]()
    with pytest.raises(RuntimeError) as t:
        run(_torch)
    with pytest.raises(RuntimeError) as e:
        run(ember)
    assert str(e.value) == str(t.value)


@requires_torch
@pytest.mark.parametrize("shape,k", [((4, 3), 2), ((2, 5, 3), 3), ((3, 3), 3)])
def test_householder_product(shape, k):
    """linalg.householder_product (missing): values and gradients in A and tau; with geqrf's output it
    gives qr's Q."""
    a, tau = RNG.standard_normal(shape), RNG.standard_normal(shape[:-2] + (k,))
    check(LA.householder_product, _torch.linalg.householder_product, [a, tau])
    h, t = _torch.geqrf(_torch.tensor(a))
    np.testing.assert_allclose(LA.householder_product(ember.tensor(h.numpy()), ember.tensor(t.numpy())).numpy(),
                               _torch.linalg.qr(_torch.tensor(a)).Q.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(RuntimeError, match="tau dtype Float does not match input dtype Double"):
        LA.householder_product(ember.tensor(a), ember.tensor(tau).float())


_OUT_CASES = {
    "eigh": lambda L, a, o: L.linalg.eigh(a @ a.mT + 3 * L.eye(3, dtype=a.dtype), out=o),
    "svd": lambda L, a, o: L.linalg.svd(a, out=o),
    "qr": lambda L, a, o: L.linalg.qr(a, out=o),
    "slogdet": lambda L, a, o: L.linalg.slogdet(a, out=o),
    "slogdet_top": lambda L, a, o: L.slogdet(a, out=o),
    "inv_ex": lambda L, a, o: L.linalg.inv_ex(a, out=o),
    "cholesky_ex": lambda L, a, o: L.linalg.cholesky_ex(a @ a.mT + 3 * L.eye(3, dtype=a.dtype), out=o),
    "lu_factor": lambda L, a, o: L.linalg.lu_factor(a, out=o),
    "lu_factor_ex": lambda L, a, o: L.linalg.lu_factor_ex(a, out=o),
    "lu": lambda L, a, o: L.linalg.lu(a, out=o),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(_OUT_CASES))
def test_multi_output_out_is_filled(name):
    """out=(...) of the multi-output ops was accepted and ignored; it is filled (resized) and returned."""
    a = well(3, 3)
    f = _OUT_CASES[name]
    for lib in (ember, _torch):
        ref = f(lib, lib.tensor(a), None)
        outs = tuple(lib.empty(0, dtype=r.dtype) for r in ref)
        res = f(lib, lib.tensor(a), outs)
        assert all(x is y for x, y in zip(res, outs))
        for o, r in zip(outs, ref):
            np.testing.assert_allclose(o.numpy(), r.numpy())
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        f(ember, ember.tensor(a, requires_grad=True),
          tuple(ember.empty(0, dtype=r.dtype) for r in f(ember, ember.tensor(a), None)))


@requires_torch
@pytest.mark.parametrize("p", ["fro", 1, "nuc"])
def test_cond_half_errors_match_torch(p):
    with pytest.raises((RuntimeError, NotImplementedError)) as t:
        _torch.linalg.cond(_torch.eye(3, dtype=_torch.float16), p)
    with pytest.raises((RuntimeError, NotImplementedError)) as e:
        LA.cond(ember.eye(3, dtype=ember.float16), p)
    assert (type(e.value), str(e.value)) == (type(t.value), str(t.value))


def test_large_matrices_run_lapack_on_blas_threads(monkeypatch):
    """A decomposition of a matrix with >= PARALLEL_MACS multiply-adds (m * n * min(m, n)) runs on
    get_num_threads() BLAS threads, then BLAS goes back to one, once per call however many entries
    it goes through (matrix_norm -> svdvals); a small one never switches."""
    from ember import _threads
    calls = []

    def for_work(flops):   # records the switch, and what BLAS would then run with (two threads)
        calls.append(flops)
        _threads._active = 2 if flops >= _threads.PARALLEL_FLOPS else 1

    monkeypatch.setattr(_threads, "for_work", for_work)
    monkeypatch.setattr(_threads, "_active", 1)
    ember.linalg.inv(ember.eye(50) * 2)
    assert calls == []
    a = ember.randn(300, 300, dtype=ember.float64) + 30 * ember.eye(300, dtype=ember.float64)
    inv = ember.linalg.inv(a)
    assert calls == [_threads.PARALLEL_FLOPS, 0]
    np.testing.assert_allclose((inv @ a).numpy(), np.eye(300), atol=1e-10)
    calls.clear()
    ember.linalg.matrix_norm(a, "nuc")
    assert calls == [_threads.PARALLEL_FLOPS, 0]
