"""The primitives of torch.special that ember had no op for: entr, erfcx, log_ndtr, ndtri, i0, i0e, i1,
i1e and xlog1py (the rest of torch.special maps onto existing ops; see ember/special.py).

Kernels run in float64 on the array module of their input (numpy or cupy) and cast back, as the erf
family in elementwise.py does; no SciPy.  Accuracy is about 1e-14 relative in float64.
"""
import math

import numpy as np

from .. import _backend as B
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from . import record as _finish
from .elementwise import _binary, _digamma, _erf, _erfc, _erfc_far_coefs, _lgamma, _trigamma, _unary, _write_out

__all__ = ["entr", "erfcx", "log_ndtr", "ndtri", "i0", "i0e", "i1", "i1e", "xlog1py", "zeta", "polygamma", "gammainc",
           "gammaincc", "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
           "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
           "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "hermite_polynomial_h",
           "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p"]

_SQRT1_2 = 1 / math.sqrt(2)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)
_LOG_2PI = math.log(2 * math.pi)


def _f64(x):
    return x.astype(np.float64)


# ---- entr: -x log x ------------------------------------------------------------------------------
def _entr(xp, x):
    xd = _f64(x)
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        res = xp.where(xd > 0, -xd * xp.log(xp.where(xd > 0, xd, 1.0)), xp.where(xd == 0, 0.0, -np.inf))
        res = xp.where(xp.isnan(xd), np.nan, res)
    return res.astype(x.dtype, copy=False)


def _entr_grad(xp, g, x, y):
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        return (g * -(xp.log(x) + 1)).astype(g.dtype, copy=False)


# ---- erfcx(x) = exp(x^2) erfc(x), log_ndtr, ndtri --------------------------------------------------
def _erfcx64(xp, xd):
    """erfcx on a float64 array, without overflow for x >= 0 (the fits of elementwise._erfc, unscaled)."""
    from .activation import _ERF_COEFS, _erf_coefs, _chebval
    co = (_ERF_COEFS or _erf_coefs())[1]
    a = xp.abs(xd)
    with B.errstate(xp, over="ignore", invalid="ignore", divide="ignore"):
        small = xp.minimum(a, 2.0)
        res = (1 - _erf(xp, small)) * xp.exp(small * small)
        ab = xp.clip(a, 2.0, 6.0)
        res = xp.where(a > 2, _chebval((1 / ab - 1 / 6) * 6 - 1, co) / ab, res)
        af = xp.maximum(a, 6.0)
        res = xp.where(a > 6, _chebval(12 / af - 1, _erfc_far_coefs()) / af, res)
        # erfcx(-a) = 2 exp(a^2) - erfcx(a): overflows to inf as torch's does
        res = xp.where(xd < 0, 2 * xp.exp(a * a) - res, res)
        res = xp.where(xp.isnan(xd), np.nan, res)
    return res


def _erfcx(xp, x):
    return _erfcx64(xp, _f64(x)).astype(x.dtype, copy=False)


def _erfcx_grad(xp, g, x, y):
    return (g * (2 * x * y - 2 / math.sqrt(math.pi))).astype(g.dtype, copy=False)


def _log_ndtr64(xp, xd):
    t = xd * _SQRT1_2
    with B.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        # lower tail: log(erfcx(-t) / 2) - t^2 never underflows; upper: log1p(-erfc(t) / 2) keeps digits
        low = xp.log(_erfcx64(xp, -xp.minimum(t, 0.0)) / 2) - t * t
        high = xp.log1p(-_erfc(xp, xp.maximum(t, -_SQRT1_2)) / 2)
        return xp.where(xd < -1, low, high)


def _log_ndtr(xp, x):
    return _log_ndtr64(xp, _f64(x)).astype(x.dtype, copy=False)


def _log_ndtr_grad(xp, g, x, y):
    # pdf(x) / ndtr(x) = sqrt(2/pi) / erfcx(-x/sqrt 2): no 0/0 in the lower tail
    with B.errstate(xp, divide="ignore", over="ignore"):
        d = _SQRT_2_OVER_PI / _erfcx64(xp, -_f64(x) * _SQRT1_2)
    return (g * d).astype(g.dtype, copy=False)


def _ndtri(xp, p):
    from .elementwise import _erfinv
    pd = _f64(p)
    with B.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        upper = pd > 0.5
        q = xp.where(upper, 1 - pd, pd)            # exact for p in [0.5, 1] (Sterbenz)
        q = xp.clip(xp.where(xp.isnan(q), 0.25, q), 1e-320, 0.5)
        # start: erfinv where 2q - 1 keeps digits, the tail asymptote below 1e-10
        s = -2 * xp.log(q)
        tail = -xp.sqrt(s - xp.log(s) - _LOG_2PI)
        x = xp.where(q > 1e-10, math.sqrt(2) * _erfinv(xp, xp.maximum(2 * q - 1, -1 + 2e-10)), tail)
        lq = xp.log(q)
        for _ in range(5):  # Newton on log ndtr(x) = log q: quadratic, and relative in the tail
            x = x - (_log_ndtr64(xp, x) - lq) * _erfcx64(xp, -x * _SQRT1_2) / _SQRT_2_OVER_PI
        x = xp.where(upper, -x, x)
        x = xp.where(pd == 0, -np.inf, xp.where(pd == 1, np.inf, x))
        x = xp.where((pd < 0) | (pd > 1) | xp.isnan(pd), np.nan, x)
    return x.astype(p.dtype, copy=False)


def _ndtri_grad(xp, g, x, y):
    with B.errstate(xp, over="ignore"):
        return (g * _SQRT_2PI * xp.exp(y * y / 2)).astype(g.dtype, copy=False)


# ---- modified Bessel functions I0, I1 (and exp(-|x|)-scaled forms) --------------------------------
_SERIES_TERMS = 90  # enough for |x| <= 25: the terms peak near k = |x|/2 and fall below 1e-17 by then
_ASYMP_TERMS = 24   # |x| > 25: the asymptotic series' terms fall to ~1e-20 before they turn


def _bessel_scaled(xp, x, order):
    """exp(-|x|) * I_order(|x|) on float64 |x| (order 0 or 1)."""
    a = xp.abs(x)
    big = a > 25
    with B.errstate(xp, over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        s = xp.minimum(a, 25.0)
        q = s * s / 4
        term = xp.ones_like(s) if order == 0 else s / 2
        total = term
        for k in range(1, _SERIES_TERMS):
            term = term * q / (k * (k + order))
            total = total + term
        series = total * xp.exp(-s)
        ab = xp.maximum(a, 25.0)
        mu = 4.0 * order * order
        term = xp.ones_like(ab)
        total = term
        for k in range(1, _ASYMP_TERMS):
            term = -term * (mu - (2 * k - 1) ** 2) / (k * 8 * ab)
            total = total + term
        asym = total / xp.sqrt(2 * math.pi * ab)
        res = xp.where(big, asym, series)
    return res


def _i0e(xp, x):
    return _bessel_scaled(xp, _f64(x), 0).astype(x.dtype, copy=False)


def _i1e(xp, x):
    xd = _f64(x)
    return xp.copysign(_bessel_scaled(xp, xd, 1), xd).astype(x.dtype, copy=False)


def _unscale(xp, xd, scaled):
    with B.errstate(xp, over="ignore", invalid="ignore"):
        a = xp.abs(xd)
        return xp.where(xp.isinf(a), np.inf, scaled * xp.exp(a))


def _i0(xp, x):
    xd = _f64(x)
    with B.errstate(xp, over="ignore"):  # beyond float32's range: inf, as torch
        return _unscale(xp, xd, _bessel_scaled(xp, xd, 0)).astype(x.dtype, copy=False)


def _i1(xp, x):
    xd = _f64(x)
    with B.errstate(xp, over="ignore"):
        return xp.copysign(_unscale(xp, xd, _bessel_scaled(xp, xd, 1)), xd).astype(x.dtype, copy=False)


def _i1_over_x(xp, xd, i1x):
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        return xp.where(xd == 0, 0.5, i1x / xp.where(xd == 0, 1.0, xd))


def _i0_grad(xp, g, x, y):
    return (g * _i1(xp, x)).astype(g.dtype, copy=False)


def _i0e_grad(xp, g, x, y):
    return (g * (_i1e(xp, x) - xp.sign(x) * y)).astype(g.dtype, copy=False)


def _i1_grad(xp, g, x, y):
    xd = _f64(x)
    d = _i0(xp, xd) - _i1_over_x(xp, xd, _f64(y))
    d = xp.where(xd == 0, 0.5, d)
    return (g * d).astype(g.dtype, copy=False)


def _i1e_grad(xp, g, x, y):
    xd, yd = _f64(x), _f64(y)
    d = _i0e(xp, xd) - yd * xp.sign(xd) - _i1_over_x(xp, xd, yd)
    d = xp.where(xd == 0, 0.5, d)
    return (g * d).astype(g.dtype, copy=False)


entr, SpecialEntrBackward0 = _unary("entr", _entr, _entr_grad, node_name="SpecialEntrBackward0")
erfcx, SpecialErfcxBackward0 = _unary("erfcx", _erfcx, _erfcx_grad, saves="xy",
                                      node_name="SpecialErfcxBackward0")
log_ndtr, SpecialLogNdtrBackward0 = _unary("log_ndtr", _log_ndtr, _log_ndtr_grad,
                                           node_name="SpecialLogNdtrBackward0")
ndtri, SpecialNdtriBackward0 = _unary("ndtri", _ndtri, _ndtri_grad, saves="y", node_name="SpecialNdtriBackward0")
i0, I0Backward0 = _unary("i0", _i0, _i0_grad, node_name="I0Backward0")
i0e, SpecialI0EBackward0 = _unary("i0e", _i0e, _i0e_grad, saves="xy", node_name="SpecialI0EBackward0")
i1, SpecialI1Backward0 = _unary("i1", _i1, _i1_grad, saves="xy", node_name="SpecialI1Backward0")
i1e, SpecialI1EBackward0 = _unary("i1e", _i1e, _i1e_grad, saves="xy", node_name="SpecialI1EBackward0")


def _xlog1py(xp, a, b):
    return xp.where(xp.isnan(b), np.nan, xp.where(a == 0, 0, a * xp.log1p(b)))


def _xlog1py_grads(xp, g, a, b, out):
    return g * xp.log1p(b), g * a / (1 + b)  # as torch: log1p(other) also where input is 0


xlog1py, SpecialXlog1PyBackward0 = _binary("xlog1py", _xlog1py, _xlog1py_grads, "SpecialXlog1PyBackward0",
                                           scalar_other_name="SpecialXlog1PyBackward2")

# ---- Hurwitz zeta and polygamma (Cephes' zeta, as torch's Math.h) ---------------------------------
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
           -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15, 1.8152105401943546773e17,
           -7.1661652561756670113e18)


def _zeta64(xp, x, q):
    """sum_k (q + k)^-x on float64 arrays: the first terms summed until q + k > 9 (at least 9 of them),
    then the Euler-Maclaurin tail; torch's inf/nan rules for x <= 1 and q <= 0."""
    x, q = xp.broadcast_arrays(x, q)
    with B.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        # the number of direct terms: torch's loop runs while i < 9 or q + i <= 9
        n_terms = xp.maximum(9, xp.floor(9 - xp.where(xp.isfinite(q), q, 0)) + 1)
        s = q ** -x
        a = q.copy()
        b = xp.zeros_like(s)
        for i in range(1, int(n_terms.max()) + 1 if n_terms.size else 1):
            on = i <= n_terms
            a = xp.where(on, a + 1, a)
            b = xp.where(on, a ** -x, b)
            s = xp.where(on, s + b, s)
        w = a
        s = s + b * w / (x - 1) - 0.5 * b
        fac, k = xp.ones_like(s), 0.0
        for coef in _ZETA_A:
            fac = fac * (x + k)
            b = b / w
            s = s + fac * b / coef
            k += 1
            fac = fac * (x + k)
            b = b / w
            k += 1
        s = xp.where(q <= 0, xp.where(q == xp.floor(q), np.inf, xp.where(x != xp.floor(x), np.nan, s)), s)
        s = xp.where(x == 1, np.inf, xp.where(x < 1, np.nan, s))
        s = xp.where(xp.isnan(x) | xp.isnan(q), np.nan, s)
    return s


def _zeta(xp, x, q):
    return _zeta64(xp, _f64(x), _f64(q)).astype(x.dtype, copy=False)


def _zeta_grads(xp, g, x, q, out):
    # torch: d/dq zeta(x, q) = -x zeta(x + 1, q); no derivative in x
    return None, g * -x * _zeta(xp, x + 1, q)


zeta, SpecialZetaBackward0 = _binary("zeta", _zeta, _zeta_grads, "SpecialZetaBackward0",
                                     scalar_other_name="SpecialZetaBackward2")


def _polygamma_arr(xp, n, x):
    if n == 0:
        return _digamma(xp, x)
    if n == 1:
        return _trigamma(xp, x)
    xd = _f64(x)
    res = (1.0 if n % 2 else -1.0) * math.exp(math.lgamma(n + 1.0)) * _zeta64(xp, xp.full_like(xd, n + 1.0), xd)
    return res.astype(x.dtype, copy=False)


class PolygammaBackward0(Node):
    """d/dx polygamma(n, x) = polygamma(n + 1, x)."""

    __slots__ = ("n", "x")
    _saved_fields = ("n", "x")

    def apply(self, g):
        xp = B.xp_of(g)
        return ((g * _polygamma_arr(xp, self.n + 1, self.x)).astype(g.dtype, copy=False),)


def polygamma(n, input, *, out=None):
    """The n-th derivative of digamma, as torch.polygamma: digamma and trigamma for n = 0 and 1, then
    (-1)^(n+1) n! zeta(n + 1, x).  Integer input is computed in the default float dtype."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    d = input._data
    if d.dtype.kind != "f":
        d = d.astype(B.get_default_dtype().np)
    xp = B.xp_of(d)
    res = _polygamma_arr(xp, n, d)
    if out is not None:
        return _write_out(out, res, "polygamma", input)
    node = None
    if state.enabled and input._requires_grad:
        node = PolygammaBackward0.__new__(PolygammaBackward0)
        node.next_functions = (edge(input),)
        node._saved_versions = ((input, input._vc[0]),)
        node.n, node.x = n, d
    return _finish(res, node)


# ---- create_graph=True: the derivatives above on Tensors (autograd/higher_order.py) -------------------
for _cls in (SpecialEntrBackward0, SpecialErfcxBackward0, SpecialNdtriBackward0, SpecialXlog1PyBackward0):
    _cls._double_backward = True   # their formulas run on Tensors as they are


def _tiny_safe(x):
    """(|x| > eps, x with its tiny elements replaced by eps): torch's guard for i1's x = 0 limit."""
    from .elementwise import where
    eps = float(np.finfo(x._data.dtype).eps)
    big = x.abs() > eps
    return big, where(big, x, eps)


def _i1_tensors(self, grad, saved):
    """d i1 / dx = i0(x) - i1(x) / x, 0.5 at 0 (torch's i1_backward)."""
    from .elementwise import where
    x, y = saved
    big, safe = _tiny_safe(x)
    return (grad * where(big, i0(safe) - y / safe, 0.5),)


def _i1e_tensors(self, grad, saved):
    """d i1e / dx = i0e(x) - i1e(x) (sgn(x) + 1 / x), 0.5 at 0 (torch's i1e_backward)."""
    from .elementwise import sign, where
    x, y = saved
    big, safe = _tiny_safe(x)
    return (grad * where(big, i0e(safe) - y * (sign(safe) + 1 / safe), 0.5),)


def _log_ndtr_tensors(self, grad, saved):
    """d log_ndtr / dx = pdf(x) / ndtr(x) = exp(-(log_ndtr(x) + x^2 / 2)) / sqrt(2 pi), as torch."""
    x, = saved
    return (grad * (-(log_ndtr(x) + x * x / 2)).exp() / math.sqrt(2 * math.pi),)


PolygammaBackward0._apply_tensors = lambda self, grad, saved: (grad * polygamma(self.n + 1, saved[0]),)
I0Backward0._apply_tensors = lambda self, grad, saved: (grad * i1(saved[0]),)
SpecialI0EBackward0._apply_tensors = lambda self, grad, saved: (grad * (i1e(saved[0]) - saved[0].sign() * saved[1]),)
SpecialI1Backward0._apply_tensors = _i1_tensors
SpecialI1EBackward0._apply_tensors = _i1e_tensors
SpecialLogNdtrBackward0._apply_tensors = _log_ndtr_tensors
for _cls in (PolygammaBackward0, I0Backward0, SpecialI0EBackward0, SpecialI1Backward0, SpecialI1EBackward0,
             SpecialLogNdtrBackward0):
    _cls._double_backward = True


# ---- regularized incomplete gamma functions (Cephes' igam / igamc) ---------------------------------
_MACHEP = 1.11022302462515654042e-16


def _igam_series(xp, a, x, log_pref):
    """P(a, x) by its power series (converges fast for x < a + 1)."""
    ans, c, r = xp.ones_like(x), xp.ones_like(x), a.copy()
    for _ in range(2000):
        r = r + 1
        c = c * x / r
        ans = ans + c
        if not bool(xp.any(c > _MACHEP * ans)):
            break
    return ans * xp.exp(log_pref) / a


def _igamc_fraction(xp, a, x, log_pref):
    """Q(a, x) by its continued fraction (for x >= a + 1)."""
    big, biginv = 4.503599627370496e15, 2.22044604925031308085e-16
    y = 1 - a
    z = x + y + 1
    c = xp.zeros_like(x)
    pkm2, qkm2, pkm1, qkm1 = xp.ones_like(x), x.copy(), x + 1, z * x
    ans = pkm1 / qkm1
    for _ in range(2000):
        c, y, z = c + 1, y + 1, z + 2
        yc = y * c
        pk = pkm1 * z - pkm2 * yc
        qk = qkm1 * z - qkm2 * yc
        nz = qk != 0
        r = pk / xp.where(nz, qk, 1)
        t = xp.where(nz, xp.abs((ans - r) / xp.where(r != 0, r, 1)), 1.0)
        ans = xp.where(nz, r, ans)
        pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
        scale = xp.where(xp.abs(pk) > big, biginv, 1.0)
        pkm2, pkm1, qkm2, qkm1 = pkm2 * scale, pkm1 * scale, qkm2 * scale, qkm1 * scale
        if not bool(xp.any(t > _MACHEP)):
            break
    return ans * xp.exp(log_pref)


def _igamma64(xp, a, x, upper):
    """P(a, x) (or Q = 1 - P when upper) on float64 arrays, with torch's values at the edges."""
    a, x = xp.broadcast_arrays(a, x)
    with B.errstate(xp, divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        inner = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
        a_, x_ = xp.where(inner, a, 1.0), xp.where(inner, x, 1.0)
        log_pref = a_ * xp.log(x_) - x_ - _lgamma(xp, a_)
        use_cf = (x_ > 1) & (x_ > a_)
        p = xp.where(use_cf, 0.0, 1.0)
        if bool(xp.any(~use_cf & inner)):
            p = xp.where(use_cf, p, _igam_series(xp, xp.where(use_cf, 1.0, a_), xp.where(use_cf, 0.5, x_),
                                                 xp.where(use_cf, 0.0, log_pref)))
        q = 1 - p
        if bool(xp.any(use_cf & inner)):
            q = xp.where(use_cf, _igamc_fraction(xp, xp.where(use_cf, a_, 1.0), xp.where(use_cf, x_, 2.0),
                                                 xp.where(use_cf, log_pref, 0.0)), q)
            p = xp.where(use_cf, 1 - q, p)
        res = q if upper else p
        lo, hi = (1.0, 0.0) if upper else (0.0, 1.0)      # the values at x = 0 and x = inf
        res = xp.where(x == 0, lo, res)
        res = xp.where(xp.isinf(x), hi, res)
        res = xp.where(xp.isinf(a), xp.where(xp.isinf(x), np.nan, lo), res)
        res = xp.where(a == 0, xp.where(x > 0, hi, np.nan), res)
        res = xp.where((a < 0) | (x < 0) | xp.isnan(a) | xp.isnan(x), np.nan, res)
    return res


def _gammainc(xp, a, x):
    return _igamma64(xp, _f64(a), _f64(x), False).astype(a.dtype, copy=False)


def _gammaincc(xp, a, x):
    return _igamma64(xp, _f64(a), _f64(x), True).astype(a.dtype, copy=False)


def _igamma_dx(xp, a, x):
    """d/dx P(a, x) = x^(a-1) e^-x / Gamma(a) (torch's: no derivative in a)."""
    with B.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        ad, xd = _f64(a), _f64(x)
        return xp.exp((ad - 1) * xp.log(xd) - xd - _lgamma(xp, ad)).astype(a.dtype, copy=False)


gammainc, IgammaBackward0 = _binary("gammainc", _gammainc, lambda xp, g, a, x, out: (None, g * _igamma_dx(xp, a, x)),
                                    "IgammaBackward0", int_error=True)
gammaincc, IgammacBackward0 = _binary("gammaincc", _gammaincc,
                                      lambda xp, g, a, x, out: (None, -g * _igamma_dx(xp, a, x)), "IgammacBackward0",
                                      int_error=True)



def _second_operand_tensors(derivative):
    """create_graph=True for a binary function differentiable only in its second operand (as torch's):
    grad * derivative(a, x) on Tensors, summed to x's shape."""
    def apply_tensors(self, grad, saved):
        if len(self.next_functions) == 1 or self.next_functions[1][0] is None:
            return (None,) * len(self.next_functions)
        return None, (grad * derivative(*saved)).sum_to_size(*self.b_shape)
    return apply_tensors


def _igamma_dx_tensors(a, x):
    """d/dx P(a, x) = exp((a - 1) log x - x - lgamma(a)), on Tensors."""
    from .elementwise import lgamma
    return ((a - 1) * x.log() - x - lgamma(a)).exp()


SpecialZetaBackward0._apply_tensors = _second_operand_tensors(lambda x, q: -x * zeta(x + 1, q))
IgammaBackward0._apply_tensors = _second_operand_tensors(_igamma_dx_tensors)
IgammacBackward0._apply_tensors = _second_operand_tensors(lambda a, x: -_igamma_dx_tensors(a, x))
SpecialZetaBackward0._double_backward = IgammaBackward0._double_backward = IgammacBackward0._double_backward = True

# ---- orthogonal polynomials (torch.special.*_polynomial_*): values only, as torch (no derivative) ----
def _poly_operands(name, input, n):
    """(xp, x as float64, n as int64, result dtype) broadcast; n truncated toward zero as torch's int cast."""
    from .._tensor import Tensor
    ts = [v for v in (input, n) if isinstance(v, Tensor)]
    if not ts:
        raise TypeError(f"{name}(): expected at least one Tensor argument")
    floats = [t._data.dtype for t in ts if t._data.dtype.kind == "f"]
    dt = np.result_type(*floats) if floats else B.get_default_dtype().np
    xp = B.xp_of(ts[0]._data)
    x = xp.asarray(input._data if isinstance(input, Tensor) else input, dtype=np.float64)
    k = xp.asarray(n._data if isinstance(n, Tensor) else n)
    k = xp.trunc(k).astype(np.int64) if k.dtype.kind == "f" else k.astype(np.int64)
    x, k = xp.broadcast_arrays(x, k)
    return xp, x, k, dt


def _recurrence(xp, x, n, p0, p1, step):
    """P_n(x) from P_0, P_1 and P_{k+1} = step(k, P_k, P_{k-1}), per element's own n (0 for n < 0)."""
    res = xp.where(n == 0, p0, xp.where(n == 1, p1, 0.0))
    p, q = p0 + 0 * x, p1 + 0 * x
    top = int(n.max()) if n.size else 0
    for k in range(1, top):
        p, q = q, step(k, q, p)
        res = xp.where(n == k + 1, q, res)
    return res


def _chebyshev(kind, xp, x, n):
    """T, U, V or W with torch's values at x = +-1 (the recurrence elsewhere: T_{k+1} = 2x T_k - T_{k-1})."""
    p1 = {"t": x, "u": 2 * x, "v": 2 * x - 1, "w": 2 * x + 1}[kind]
    res = _recurrence(xp, x, n, 1.0, p1, lambda k, q, p: 2 * x * q - p)
    odd = (n % 2) == 1
    nf = n.astype(np.float64)
    at_one = {"t": 1.0, "u": nf + 1, "v": 1.0, "w": 2 * nf + 1}[kind]
    at_minus_one = {"t": xp.where(odd, -1.0, 1.0), "u": xp.where(odd, -(nf + 1), nf + 1),
                    "v": xp.where(odd, -(2 * nf + 1), 2 * nf + 1), "w": xp.where(odd, -1.0, 1.0)}[kind]
    res = xp.where(x == 1, at_one, xp.where(x == -1, at_minus_one, res))
    return xp.where(n < 0, 0.0, res)


def _make_poly(name, compute):
    def op(input, n, *, out=None):
        xp, x, k, dt = _poly_operands(name, input, n)
        with B.errstate(xp, all="ignore"):
            res = compute(xp, x, k).astype(dt, copy=False)
        if out is not None:
            return _write_out(out, res, name, input)
        return _finish(xp.ascontiguousarray(res), None)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"{name}(input, n, *, out=None): the degree-n polynomial at input, as torch.special.{name} " \
                 "(n truncated to an integer, 0 for n < 0; no gradient, as torch)."
    return op


chebyshev_polynomial_t = _make_poly("chebyshev_polynomial_t", lambda xp, x, n: _chebyshev("t", xp, x, n))
chebyshev_polynomial_u = _make_poly("chebyshev_polynomial_u", lambda xp, x, n: _chebyshev("u", xp, x, n))
chebyshev_polynomial_v = _make_poly("chebyshev_polynomial_v", lambda xp, x, n: _chebyshev("v", xp, x, n))
chebyshev_polynomial_w = _make_poly("chebyshev_polynomial_w", lambda xp, x, n: _chebyshev("w", xp, x, n))
shifted_chebyshev_polynomial_t = _make_poly("shifted_chebyshev_polynomial_t",
                                            lambda xp, x, n: _chebyshev("t", xp, 2 * x - 1, n))
shifted_chebyshev_polynomial_u = _make_poly("shifted_chebyshev_polynomial_u",
                                            lambda xp, x, n: _chebyshev("u", xp, 2 * x - 1, n))
shifted_chebyshev_polynomial_v = _make_poly("shifted_chebyshev_polynomial_v",
                                            lambda xp, x, n: _chebyshev("v", xp, 2 * x - 1, n))
shifted_chebyshev_polynomial_w = _make_poly("shifted_chebyshev_polynomial_w",
                                            lambda xp, x, n: _chebyshev("w", xp, 2 * x - 1, n))
hermite_polynomial_h = _make_poly("hermite_polynomial_h", lambda xp, x, n: xp.where(
    n < 0, 0.0, _recurrence(xp, x, n, 1.0, 2 * x, lambda k, q, p: 2 * x * q - 2 * k * p)))
hermite_polynomial_he = _make_poly("hermite_polynomial_he", lambda xp, x, n: xp.where(
    n < 0, 0.0, _recurrence(xp, x, n, 1.0, x, lambda k, q, p: x * q - k * p)))
laguerre_polynomial_l = _make_poly("laguerre_polynomial_l", lambda xp, x, n: xp.where(
    n < 0, 0.0, xp.where(x == 0, 1.0, _recurrence(xp, x, n, 1.0, 1 - x,
                                                   lambda k, q, p: ((2 * k + 1 - x) * q - k * p) / (k + 1)))))
legendre_polynomial_p = _make_poly("legendre_polynomial_p", lambda xp, x, n: xp.where(
    n < 0, 0.0, xp.where(x == 1, 1.0, xp.where(x == -1, xp.where(n % 2 == 1, -1.0, 1.0), _recurrence(
        xp, x, n, 1.0, x, lambda k, q, p: ((2 * k + 1) * x * q - k * p) / (k + 1))))))

_DOCS = {
    "entr": "Elementwise entropy term: -x * log(x) for x > 0, 0 at 0, -inf for x < 0.",
    "erfcx": "Scaled complementary error function exp(x**2) * erfc(x), without overflow for x >= 0.",
    "log_ndtr": "log of the standard normal CDF, accurate far into both tails.",
    "ndtri": "Inverse of the standard normal CDF (the quantile function) for p in [0, 1]; nan outside.",
    "i0": "Modified Bessel function of the first kind, order 0.",
    "i0e": "Exponentially scaled modified Bessel function of order 0: exp(-|x|) * i0(x).",
    "i1": "Modified Bessel function of the first kind, order 1.",
    "i1e": "Exponentially scaled modified Bessel function of order 1: exp(-|x|) * i1(x).",
    "xlog1py": "input * log1p(other), 0 where input == 0 (unless other is nan), broadcasting as torch.",
    "gammainc": "Regularized lower incomplete gamma function P(input, other) (gradient in other only).",
    "gammaincc": "Regularized upper incomplete gamma function Q(input, other) = 1 - P (gradient in other only).",
    "zeta": "Hurwitz zeta function sum_k (other + k) ** -input, broadcasting as torch (gradient in other only).",
}
for _n, _d in _DOCS.items():
    globals()[_n].__doc__ = _d
del _n, _d
