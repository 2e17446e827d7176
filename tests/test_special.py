"""torch.special: values and gradients against torch (float64 and float32), against float64 central
differences without torch, and the names ember does not implement."""
import math

import numpy as np
import pytest

import ember
import ember.special as S
from tests.conftest import numeric_grad, requires_torch, torch

X = np.array([-30.0, -9.0, -3.3, -1.2, -1.0, -0.5, 0.0, 1e-8, 0.3, 1.0, 2.5, 5.9, 6.1, 20.0, 24.9, 25.1, 40.0,
              700.0, 720.0])
POS = np.array([1e-6, 0.01, 0.3, 0.7, 1.0, 2.5, 7.0, 30.0])
UNIT = np.array([0.0, 1e-300, 1e-20, 1e-11, 1e-9, 1e-3, 0.2, 0.5, 0.7, 0.999, 1 - 1e-12, 1.0, 1.2, -0.1])
OPEN_UNIT = np.array([1e-12, 1e-3, 0.1, 0.3, 0.5, 0.8, 0.99])
SMALL = np.array([-2.7, -1.3, -0.4, 0.2, 0.9, 1.7, 3.1])

UNARY = {  # name: (values for the value check, values for the gradient check)
    "expit": (X, SMALL), "erf": (X, SMALL), "erfc": (X, SMALL), "erfcx": (X[X > -26], SMALL),
    "erfinv": (np.array([-1, -0.999, -0.3, 0, 0.5, 0.9999, 1, 1.5]), np.array([-0.9, -0.3, 0.1, 0.6, 0.95])),
    "exp2": (X[np.abs(X) < 100], SMALL), "expm1": (X[np.abs(X) < 100], SMALL), "log1p": (POS, POS),
    "gammaln": (np.concatenate([POS, [-2.5, -0.5]]), np.concatenate([POS, [-2.5, -0.5]])),
    "digamma": (np.concatenate([POS, [-2.5, -0.5]]), np.concatenate([POS, [-2.5, -0.5]])),
    "psi": (POS, POS), "sinc": (np.concatenate([X[np.abs(X) < 100], [0.5, 2.0]]), SMALL),
    "entr": (np.concatenate([POS, [0.0, -1.0]]), POS), "ndtr": (X, SMALL), "log_ndtr": (X, np.concatenate([SMALL, [-30.0, 9.0]])),
    "ndtri": (UNIT, OPEN_UNIT), "i0": (X, SMALL), "i0e": (X, SMALL * 10), "i1": (X, SMALL), "i1e": (X, SMALL * 10),
    "logit": (OPEN_UNIT, OPEN_UNIT), "round": (np.array([-2.5, -0.5, 0.5, 1.5, 2.4, 3.7]), SMALL),
}


def _close(a, b, rtol):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    with np.errstate(invalid="ignore"):
        ok = same | (np.abs(a - b) <= rtol * np.abs(b) + 1e-300)
    assert ok.all(), (a[~ok], b[~ok])


@requires_torch
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_and_grads_match_torch(name):
    values, grad_at = UNARY[name]
    ours, theirs = getattr(S, name), getattr(torch.special, name)
    _close(ours(ember.tensor(values)).numpy(), theirs(torch.tensor(values)).numpy(), 1e-12)
    v32 = values.astype(np.float32)
    a = ours(ember.tensor(v32)).numpy()
    assert a.dtype == np.float32
    b = theirs(torch.tensor(v32)).numpy()
    # float32: a few ulps (torch's float32 kernels are themselves a few ulps from the exact value)
    finite = np.isfinite(b) & (np.abs(b) > 1e-30)
    np.testing.assert_allclose(a[finite], b[finite], rtol=2e-5 if name != "log_ndtr" else 3e-6)
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    x = ember.tensor(grad_at, requires_grad=True)
    tx = torch.tensor(grad_at, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    assert type(y.grad_fn).__name__ == type(ty.grad_fn).__name__ or name in ("ndtr", "round")
    y.sum().backward()
    ty.sum().backward()
    _close(x.grad.numpy(), tx.grad.numpy(), 1e-8)  # trigamma (digamma's gradient) is good to ~1e-9


@pytest.mark.parametrize("name", ["erfcx", "log_ndtr", "ndtri", "i0", "i0e", "i1", "i1e", "entr", "ndtr"])
def test_new_primitives_gradcheck_without_torch(name):
    fn = getattr(S, name)
    at = {"ndtri": OPEN_UNIT[1:-1], "entr": POS[1:]}.get(name, SMALL)
    x = ember.tensor(at, requires_grad=True)
    fn(x).sum().backward()
    num = numeric_grad(lambda v: float(fn(ember.tensor(v)).sum().item()), at)
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-6, atol=1e-8)


def test_values_without_torch():
    # closed forms: i0(0) = 1, erfcx(0) = 1, ndtri(0.975) = 1.959963984540054, log_ndtr far tail
    assert S.i0(ember.tensor([0.0])).item() == 1.0
    assert S.erfcx(ember.tensor([0.0], dtype=ember.float64)).item() == pytest.approx(1.0, rel=1e-15)
    assert S.ndtri(ember.tensor([0.975], dtype=ember.float64)).item() == pytest.approx(1.959963984540054, rel=1e-14)
    x = -40.0  # log Phi(x) ~ -x^2/2 - log(-x sqrt(2 pi)) - 1/x^2 + ...
    approx = -x * x / 2 - math.log(-x * math.sqrt(2 * math.pi)) + math.log1p(-1 / x ** 2 + 3 / x ** 4)
    assert S.log_ndtr(ember.tensor([x], dtype=ember.float64)).item() == pytest.approx(approx, rel=1e-9)
    assert S.gammaln is not ember.lgamma and S.gammaln(ember.tensor([5.0])).item() == pytest.approx(math.log(24))


@requires_torch
def test_binary_and_reductions_match_torch():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.random((3, 4)) + 0.1
    a[0, 0] = 0.0
    for name in ("xlogy", "xlog1py"):
        x, y = ember.tensor(a, requires_grad=True), ember.tensor(b, requires_grad=True)
        tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        out, tout = getattr(S, name)(x, y), getattr(torch.special, name)(tx, ty)
        _close(out.detach().numpy(), tout.detach().numpy(), 1e-13)
        assert type(out.grad_fn).__name__ == type(tout.grad_fn).__name__
        out.sum().backward()
        tout.sum().backward()
        _close(x.grad.numpy(), tx.grad.numpy(), 1e-12)
        _close(y.grad.numpy(), ty.grad.numpy(), 1e-12)
        _close(getattr(S, name)(ember.tensor(a), 2.0).numpy(), getattr(torch.special, name)(torch.tensor(a), 2.0).numpy(),
               1e-13)
    for name, args in (("logsumexp", (1,)), ("softmax", (0,)), ("log_softmax", (1,))):
        x, tx = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        out, tout = getattr(S, name)(x, *args), getattr(torch.special, name)(tx, *args)
        _close(out.detach().numpy(), tout.detach().numpy(), 1e-13)
        w = b[:, 0] if out.ndim == 1 else b
        (out * ember.tensor(w)).sum().backward()
        (tout * torch.tensor(w)).sum().backward()
        _close(x.grad.numpy(), tx.grad.numpy(), 1e-12)
    assert S.softmax(ember.tensor(a), 0, dtype=ember.float32).dtype == ember.float32
    x, tx = ember.tensor(b + 2, requires_grad=True), torch.tensor(b + 2, requires_grad=True)
    out, tout = S.multigammaln(x, 3), torch.special.multigammaln(tx, 3)
    _close(out.detach().numpy(), tout.detach().numpy(), 1e-13)
    out.sum().backward()
    tout.sum().backward()
    _close(x.grad.numpy(), tx.grad.numpy(), 1e-12)
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        S.multigammaln(x, 0)
    out = ember.empty(3, dtype=ember.float64)
    S.logsumexp(ember.tensor(a), 1, out=out)
    _close(out.numpy(), torch.special.logsumexp(torch.tensor(a), 1).numpy(), 1e-13)


def test_errors_name_the_function():
    with pytest.raises(TypeError, match="i0\\(\\): argument 'input' \\(position 1\\) must be Tensor, not list"):
        S.i0([1.0])
    with pytest.raises(TypeError, match="expit\\(\\): argument 'input' \\(position 1\\) must be Tensor, not float"):
        S.expit(1.0)
    # (every public torch.special function exists now: an unknown name still gets the plain message)
    with pytest.raises(AttributeError, match="ember does not implement torch.special.bessel_j2"):
        S.bessel_j2
    assert S.i0(ember.tensor([1, 2])).dtype == ember.float32  # integers promote to the default dtype, as torch


@requires_torch
def test_digamma_signed_zero():
    """digamma(+-0) is copysign(inf, -x) in torch: +inf at -0.0 (ember gave -inf for both)."""
    x = [0.0, -0.0, -1.0, -2.5, 1.0]
    for f in ("digamma", "psi"):
        e = getattr(S, f)(ember.tensor(x)).numpy()
        t = getattr(torch.special, f)(torch.tensor(x)).numpy()
        assert e[1] == np.inf and e[0] == -np.inf      # _close would take inf and -inf as close
        _close(e, t, 1e-6)


@requires_torch
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_polygamma_matches_torch(n, dtype):
    """torch.polygamma / torch.special.polygamma (they were missing): values, PolygammaBackward0 and its
    gradient polygamma(n + 1, x), at reflections and poles too."""
    x = np.array([1e-3, 0.5, 1.0, 2.5, 7.3, 40.0, 1e4, -1.5, -0.25, 0.0])
    e = ember.tensor(x, dtype=getattr(ember, dtype), requires_grad=True)
    t = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    ye, yt = S.polygamma(n, e), torch.special.polygamma(n, t)
    assert ye.dtype.name == dtype and ye.grad_fn.name() == "PolygammaBackward0"
    rtol = 1e-8 if dtype == "float64" else 1e-5     # torch's trigamma itself is ~1e-9 off (ember's is closer)
    _close(ye.detach().numpy(), yt.detach().numpy(), rtol)
    ok = np.abs(x) > 0
    ye.sum().backward()
    yt.sum().backward()
    _close(e.grad.numpy()[ok], t.grad.numpy()[ok], rtol)
    _close(ember.polygamma(n, ember.tensor([1, 2])).numpy(), torch.polygamma(n, torch.tensor([1, 2])).numpy(), 1e-6)


def test_polygamma_errors():
    with pytest.raises(RuntimeError, match="does not support negative n"):
        S.polygamma(-1, ember.ones(2))
    with pytest.raises(TypeError, match="must be int, not float"):
        S.polygamma(1.0, ember.ones(2))


@requires_torch
def test_zeta_matches_torch():
    """torch.special.zeta (Hurwitz), broadcasting, with torch's inf/nan rules and its gradient in q."""
    x = np.array([2.0, 3.0, 1.5, 2.0, 2.0, 2.0, 4.0, 1.0, 0.5, 3.0, 11.0])
    q = np.array([0.5, 1.0, 2.5, -1.5, 0.0, -2.0, 1e-3, 30.0, 1.0, -3.5, 200.0])
    qe, qt = ember.tensor(q, requires_grad=True), torch.tensor(q, requires_grad=True)
    ze, zt = S.zeta(ember.tensor(x), qe), torch.special.zeta(torch.tensor(x), qt)
    assert ze.grad_fn.name() == "SpecialZetaBackward0"
    _close(ze.detach().numpy(), zt.detach().numpy(), 1e-12)
    ze.sum().backward()
    zt.sum().backward()
    _close(qe.grad.numpy(), qt.grad.numpy(), 1e-12)
    _close(S.zeta(ember.tensor([2.0, 4.0]), 1.0).numpy(), torch.special.zeta(torch.tensor([2.0, 4.0]), 1.0).numpy(),
           1e-6)
    _close(S.zeta(2.0, ember.tensor([[1.0], [3.0]])).numpy(),
           torch.special.zeta(2.0, torch.tensor([[1.0], [3.0]])).numpy(), 1e-6)


def test_zeta_gradient_without_torch():
    q = np.array([0.7, 2.5, 11.0])
    qe = ember.tensor(q, requires_grad=True)
    S.zeta(ember.tensor([3.0, 2.0, 4.0], dtype=ember.float64), qe).sum().backward()
    num = numeric_grad(lambda v: float(S.zeta(ember.tensor([3.0, 2.0, 4.0], dtype=ember.float64),
                                              ember.tensor(v)).sum()), q)
    np.testing.assert_allclose(qe.grad.numpy(), num, rtol=1e-6)


@requires_torch
@pytest.mark.parametrize("name", ["gammainc", "gammaincc"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_incomplete_gamma_matches_torch(name, dtype):
    """torch.special.gammainc / gammaincc (they were missing): series and continued-fraction regimes,
    torch's values at a = 0, x = 0, infinities and negative arguments, the gradient in x."""
    a = np.array([0.5, 2.0, 10.0, 0.0, -1.0, np.inf, 3.0, 1e3, 1e-3, 2.0, 50.0, 0.1, 200.0, 7.0])
    x = np.array([1.0, 0.5, 12.0, 1.0, 1.0, 2.0, np.inf, 1010.0, 1e-3, 0.0, 45.0, 30.0, 260.0, 7.0])
    ea, ex = ember.tensor(a, dtype=getattr(ember, dtype)), ember.tensor(x, dtype=getattr(ember, dtype),
                                                                        requires_grad=True)
    ta, tx = torch.tensor(a, dtype=getattr(torch, dtype)), torch.tensor(x, dtype=getattr(torch, dtype),
                                                                        requires_grad=True)
    ye, yt = getattr(S, name)(ea, ex), getattr(torch.special, name)(ta, tx)
    assert ye.grad_fn.name() == yt.grad_fn.name() and ye.dtype.name == dtype
    rtol = 1e-8 if dtype == "float64" else 2e-5     # torch's own error reaches 1e-9 for a >= 30
    _close(ye.detach().numpy(), yt.detach().numpy(), rtol)
    ye.sum().backward()
    yt.sum().backward()
    _close(ex.grad.numpy(), tx.grad.numpy(), 1e-8 if dtype == "float64" else 2e-4)
    with pytest.raises(NotImplementedError):
        getattr(S, name)(ember.tensor([1, 2]), ember.tensor([1, 2]))


def test_gammainc_gradient_without_torch():
    a, x = np.array([0.7, 3.0, 20.0]), np.array([0.4, 5.0, 18.0])
    xe = ember.tensor(x, requires_grad=True)
    S.gammainc(ember.tensor(a), xe).sum().backward()
    num = numeric_grad(lambda v: float(S.gammainc(ember.tensor(a), ember.tensor(v)).sum()), x)
    np.testing.assert_allclose(xe.grad.numpy(), num, rtol=1e-6)
    # P + Q = 1
    np.testing.assert_allclose((S.gammainc(ember.tensor(a), ember.tensor(x)) +
                                S.gammaincc(ember.tensor(a), ember.tensor(x))).numpy(), 1.0, rtol=1e-14)


def test_xlogy_backward_is_silent_for_negative_other():
    """torch returns nan there without a warning; NumPy's RuntimeWarning leaked through the backward."""
    import warnings
    x, y = ember.tensor([1.0, 2.0], requires_grad=True), ember.tensor([-1.0, 0.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        S.xlogy(x, y).sum().backward()
    assert np.isnan(x.grad.numpy()[0]) and np.isinf(x.grad.numpy()[1])


_POLYS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
          "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
          "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
          "legendre_polynomial_p"]


@requires_torch
@pytest.mark.parametrize("name", _POLYS)
def test_orthogonal_polynomials_match_torch(name):
    """The torch.special polynomials (they were missing): values on a grid of x and n (negative n,
    x = 0, +-1, beyond [-1, 1], n past the trigonometric switch), broadcasting, dtypes, no gradient."""
    xs = np.array([-1.5, -1.0, -0.7, -0.2, 0.0, 0.25, 0.3, 0.5, 0.75, 0.9, 1.0, 1.3, 2.5])
    ns = np.array([-2, -1, 0, 1, 2, 3, 5, 7, 9, 12, 20])
    X, N = np.meshgrid(xs, ns)
    e = getattr(S, name)(ember.tensor(X), ember.tensor(N)).numpy()
    t = getattr(torch.special, name)(torch.tensor(X), torch.tensor(N)).numpy()
    np.testing.assert_allclose(e, t, rtol=1e-9, atol=1e-9)
    for args in [(0.3, [1, 2, 3]), ([0.5, 1.0], 2.7), ([[0.3]], [[1], [2]])]:
        ea = [ember.tensor(a) if isinstance(a, list) else a for a in args]
        ta = [torch.tensor(a) if isinstance(a, list) else a for a in args]
        e, t = getattr(S, name)(*ea), getattr(torch.special, name)(*ta)
        assert e.dtype.name == str(t.dtype).split(".")[-1] and tuple(e.shape) == tuple(t.shape)
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)   # torch works in float32
    assert not getattr(S, name)(ember.tensor([0.5], requires_grad=True), 3).requires_grad


@requires_torch
def test_float32_erfinv_is_within_half_an_ulp_of_torchs_float64():
    # one Newton step after Giles' approximation for float32 (two for float64), into the tails
    y = np.concatenate([np.linspace(-1, 1, 20001, dtype=np.float32), (1 - np.logspace(-7.2, -1, 500)).astype(np.float32),
                        np.float32([0.99999994, -0.99999994, 1e-30, -1e-38])])
    ref = torch.special.erfinv(torch.tensor(y, dtype=torch.float64)).numpy()
    got = S.erfinv(ember.tensor(y)).numpy()
    assert got.dtype == np.float32
    fin = np.isfinite(ref)
    np.testing.assert_array_equal(got[~fin], ref[~fin].astype(np.float32))   # +-1: +-inf
    ulp = np.spacing(np.maximum(np.abs(ref[fin].astype(np.float32)), np.float32(1e-38))).astype(np.float64)
    assert np.max(np.abs(got[fin] - ref[fin]) / ulp) < 0.51
