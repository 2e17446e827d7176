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
        res = B.where(xp, xd > 0, -xd * xp.log(B.where(xp, xd > 0, xd, 1.0)), B.where(xp, xd == 0, 0.0, -np.inf))
        res = B.where(xp, xp.isnan(xd), np.nan, res)
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
        res = B.where(xp, a > 2, _chebval((1 / ab - 1 / 6) * 6 - 1, co) / ab, res)
        af = xp.maximum(a, 6.0)
        res = B.where(xp, a > 6, _chebval(12 / af - 1, _erfc_far_coefs()) / af, res)
        # erfcx(-a) = 2 exp(a^2) - erfcx(a): overflows to inf as torch's does
        res = B.where(xp, xd < 0, 2 * xp.exp(a * a) - res, res)
        res = B.where(xp, xp.isnan(xd), np.nan, res)
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
        return B.where(xp, xd < -1, low, high)


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
        q = B.where(xp, upper, 1 - pd, pd)            # exact for p in [0.5, 1] (Sterbenz)
        q = xp.clip(B.where(xp, xp.isnan(q), 0.25, q), 1e-320, 0.5)
        # start: erfinv where 2q - 1 keeps digits, the tail asymptote below 1e-10
        s = -2 * xp.log(q)
        tail = -xp.sqrt(s - xp.log(s) - _LOG_2PI)
        x = B.where(xp, q > 1e-10, math.sqrt(2) * _erfinv(xp, xp.maximum(2 * q - 1, -1 + 2e-10)), tail)
        lq = xp.log(q)
        for _ in range(5):  # Newton on log ndtr(x) = log q: quadratic, and relative in the tail
            x = x - (_log_ndtr64(xp, x) - lq) * _erfcx64(xp, -x * _SQRT1_2) / _SQRT_2_OVER_PI
        x = B.where(xp, upper, -x, x)
        x = B.where(xp, pd == 0, -np.inf, B.where(xp, pd == 1, np.inf, x))
        x = B.where(xp, (pd < 0) | (pd > 1) | xp.isnan(pd), np.nan, x)
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
        res = B.where(xp, big, asym, series)
    return res


def _i0e(xp, x):
    return _bessel_scaled(xp, _f64(x), 0).astype(x.dtype, copy=False)


def _i1e(xp, x):
    xd = _f64(x)
    return xp.copysign(_bessel_scaled(xp, xd, 1), xd).astype(x.dtype, copy=False)


def _unscale(xp, xd, scaled):
    with B.errstate(xp, over="ignore", invalid="ignore"):
        a = xp.abs(xd)
        return B.where(xp, xp.isinf(a), np.inf, scaled * xp.exp(a))


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
        return B.where(xp, xd == 0, 0.5, i1x / B.where(xp, xd == 0, 1.0, xd))


def _i0_grad(xp, g, x, y):
    return (g * _i1(xp, x)).astype(g.dtype, copy=False)


def _i0e_grad(xp, g, x, y):
    return (g * (_i1e(xp, x) - xp.sign(x) * y)).astype(g.dtype, copy=False)


def _i1_grad(xp, g, x, y):
    xd = _f64(x)
    d = _i0(xp, xd) - _i1_over_x(xp, xd, _f64(y))
    d = B.where(xp, xd == 0, 0.5, d)
    return (g * d).astype(g.dtype, copy=False)


def _i1e_grad(xp, g, x, y):
    xd, yd = _f64(x), _f64(y)
    d = _i0e(xp, xd) - yd * xp.sign(xd) - _i1_over_x(xp, xd, yd)
    d = B.where(xp, xd == 0, 0.5, d)
    return (g * d).astype(g.dtype, copy=False)


# (torch's kernels have no complex version: kernel= refuses complex input with torch's error)
entr, SpecialEntrBackward0 = _unary("entr", _entr, _entr_grad, node_name="SpecialEntrBackward0",
                                    kernel=("entr_cpu", "fiub"))
erfcx, SpecialErfcxBackward0 = _unary("erfcx", _erfcx, _erfcx_grad, saves="xy",
                                      node_name="SpecialErfcxBackward0", kernel=("erfcx_cpu", "fiub"))
log_ndtr, SpecialLogNdtrBackward0 = _unary("log_ndtr", _log_ndtr, _log_ndtr_grad,
                                           node_name="SpecialLogNdtrBackward0", kernel=("log_ndtr_cpu", "fiub"))
ndtri, SpecialNdtriBackward0 = _unary("ndtri", _ndtri, _ndtri_grad, saves="y", node_name="SpecialNdtriBackward0",
                                      kernel=("ndtri_cpu", "fiub"))
i0, I0Backward0 = _unary("i0", _i0, _i0_grad, node_name="I0Backward0", kernel=("i0_vml_cpu", "fiub"))
i0e, SpecialI0EBackward0 = _unary("i0e", _i0e, _i0e_grad, saves="xy", node_name="SpecialI0EBackward0",
                                  kernel=("i0e_cpu", "fiub"))
i1, SpecialI1Backward0 = _unary("i1", _i1, _i1_grad, saves="xy", node_name="SpecialI1Backward0",
                                kernel=("i1_cpu", "fiub"))
i1e, SpecialI1EBackward0 = _unary("i1e", _i1e, _i1e_grad, saves="xy", node_name="SpecialI1EBackward0",
                                  kernel=("i1e_cpu", "fiub"))


def _xlog1py(xp, a, b):
    return B.where(xp, xp.isnan(b), np.nan, B.where(xp, a == 0, 0, a * xp.log1p(b)))


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
        n_terms = xp.maximum(9, xp.floor(9 - B.where(xp, xp.isfinite(q), q, 0)) + 1)
        s = q ** -x
        a = q.copy()
        b = xp.zeros_like(s)
        for i in range(1, int(n_terms.max()) + 1 if n_terms.size else 1):
            on = i <= n_terms
            a = B.where(xp, on, a + 1, a)
            b = B.where(xp, on, a ** -x, b)
            s = B.where(xp, on, s + b, s)
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
        s = B.where(xp, q <= 0, B.where(xp, q == xp.floor(q), np.inf, B.where(xp, x != xp.floor(x), np.nan, s)), s)
        s = B.where(xp, x == 1, np.inf, B.where(xp, x < 1, np.nan, s))
        s = B.where(xp, xp.isnan(x) | xp.isnan(q), np.nan, s)
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
    if d.dtype.kind == "c":   # (torch's kernels: digamma, trigamma, then polygamma)
        raise NotImplementedError(f"\"{('digamma', 'trigamma')[n] if n < 2 else 'polygamma'}\" not implemented for "
                                  f"'{B.SCALAR_NAMES[B.dtype_of(d)]}'")
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
        r = pk / B.where(xp, nz, qk, 1)
        t = B.where(xp, nz, xp.abs((ans - r) / B.where(xp, r != 0, r, 1)), 1.0)
        ans = B.where(xp, nz, r, ans)
        pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
        scale = B.where(xp, xp.abs(pk) > big, biginv, 1.0)
        pkm2, pkm1, qkm2, qkm1 = pkm2 * scale, pkm1 * scale, qkm2 * scale, qkm1 * scale
        if not bool(xp.any(t > _MACHEP)):
            break
    return ans * xp.exp(log_pref)


def _igamma64(xp, a, x, upper):
    """P(a, x) (or Q = 1 - P when upper) on float64 arrays, with torch's values at the edges."""
    a, x = xp.broadcast_arrays(a, x)
    with B.errstate(xp, divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        inner = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
        a_, x_ = B.where(xp, inner, a, 1.0), B.where(xp, inner, x, 1.0)
        log_pref = a_ * xp.log(x_) - x_ - _lgamma(xp, a_)
        use_cf = (x_ > 1) & (x_ > a_)
        p = B.where(xp, use_cf, 0.0, 1.0)
        if bool(xp.any(~use_cf & inner)):
            p = B.where(xp, use_cf, p, _igam_series(xp, B.where(xp, use_cf, 1.0, a_), B.where(xp, use_cf, 0.5, x_),
                                                 B.where(xp, use_cf, 0.0, log_pref)))
        q = 1 - p
        if bool(xp.any(use_cf & inner)):
            q = B.where(xp, use_cf, _igamc_fraction(xp, B.where(xp, use_cf, a_, 1.0), B.where(xp, use_cf, x_, 2.0),
                                                 B.where(xp, use_cf, log_pref, 0.0)), q)
            p = B.where(xp, use_cf, 1 - q, p)
        res = q if upper else p
        lo, hi = (1.0, 0.0) if upper else (0.0, 1.0)      # the values at x = 0 and x = inf
        res = B.where(xp, x == 0, lo, res)
        res = B.where(xp, xp.isinf(x), hi, res)
        res = B.where(xp, xp.isinf(a), B.where(xp, xp.isinf(x), np.nan, lo), res)
        res = B.where(xp, a == 0, B.where(xp, x > 0, hi, np.nan), res)
        res = B.where(xp, (a < 0) | (x < 0) | xp.isnan(a) | xp.isnan(x), np.nan, res)
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
    res = B.where(xp, n == 0, p0, B.where(xp, n == 1, p1, 0.0))
    p, q = p0 + 0 * x, p1 + 0 * x
    top = int(n.max()) if n.size else 0
    for k in range(1, top):
        p, q = q, step(k, q, p)
        res = B.where(xp, n == k + 1, q, res)
    return res


def _chebyshev(kind, xp, x, n):
    """T, U, V or W with torch's values at x = +-1 (the recurrence elsewhere: T_{k+1} = 2x T_k - T_{k-1})."""
    p1 = {"t": x, "u": 2 * x, "v": 2 * x - 1, "w": 2 * x + 1}[kind]
    res = _recurrence(xp, x, n, 1.0, p1, lambda k, q, p: 2 * x * q - p)
    odd = (n % 2) == 1
    nf = n.astype(np.float64)
    at_one = {"t": 1.0, "u": nf + 1, "v": 1.0, "w": 2 * nf + 1}[kind]
    at_minus_one = {"t": B.where(xp, odd, -1.0, 1.0), "u": B.where(xp, odd, -(nf + 1), nf + 1),
                    "v": B.where(xp, odd, -(2 * nf + 1), 2 * nf + 1), "w": B.where(xp, odd, -1.0, 1.0)}[kind]
    res = B.where(xp, x == 1, at_one, B.where(xp, x == -1, at_minus_one, res))
    return B.where(xp, n < 0, 0.0, res)


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
hermite_polynomial_h = _make_poly("hermite_polynomial_h", lambda xp, x, n: B.where(xp, 
    n < 0, 0.0, _recurrence(xp, x, n, 1.0, 2 * x, lambda k, q, p: 2 * x * q - 2 * k * p)))
hermite_polynomial_he = _make_poly("hermite_polynomial_he", lambda xp, x, n: B.where(xp, 
    n < 0, 0.0, _recurrence(xp, x, n, 1.0, x, lambda k, q, p: x * q - k * p)))
laguerre_polynomial_l = _make_poly("laguerre_polynomial_l", lambda xp, x, n: B.where(xp, 
    n < 0, 0.0, B.where(xp, x == 0, 1.0, _recurrence(xp, x, n, 1.0, 1 - x,
                                                   lambda k, q, p: ((2 * k + 1 - x) * q - k * p) / (k + 1)))))
legendre_polynomial_p = _make_poly("legendre_polynomial_p", lambda xp, x, n: B.where(xp, 
    n < 0, 0.0, B.where(xp, x == 1, 1.0, B.where(xp, x == -1, B.where(xp, n % 2 == 1, -1.0, 1.0), _recurrence(
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


# ---- torch's top-level and Tensor forms: torch.i0, igamma / igammac, mvlgamma (and their in-place methods) ------
def igamma(input, other, *, out=None):
    """torch.igamma: the regularized lower incomplete gamma function (torch.special.gammainc)."""
    return gammainc(input, other, out=out)


def igammac(input, other, *, out=None):
    """torch.igammac: the regularized upper incomplete gamma function (torch.special.gammaincc)."""
    return gammaincc(input, other, out=out)


def mvlgamma(input, p, *, out=None):
    """torch.mvlgamma: the multivariate log-gamma function (torch.special.multigammaln)."""
    from ..special import multigammaln   # (ember.special builds on this module)
    return multigammaln(input, p, out=out)


def _register_methods():
    from .elementwise import _make_inplace, _top_inplace
    from .._tensor import Tensor as T
    for fn in (i0, igamma, igammac, mvlgamma):
        setattr(T, fn.__name__, fn)
        setattr(T, fn.__name__ + "_", _make_inplace(fn, fn.__name__ + "_"))
    return _top_inplace("i0_")


i0_ = _register_methods()
TOP_LEVEL = ["i0", "i0_", "igamma", "igammac", "mvlgamma"]   # exported at ember's top level (ember/__init__.py)


# ---- Bessel J/Y/I/K, spherical j0, Airy Ai (torch.special.*): values only, as torch (no derivative) ----------
# The rational and Chebyshev approximations of the Cephes Math Library (Stephen L. Moshier; BSD-licensed),
# with the coefficients and breakpoints torch's kernels use, evaluated in float64 on the input's array module.
_J0_PP = (7.96936729297347051624e-04, 8.28352392107440799803e-02, 1.23953371646414299388e+00,
          5.44725003058768775090e+00, 8.74716500199817011941e+00, 5.30324038235394892183e+00,
          9.99999999999999997821e-01)
_J0_PQ = (9.24408810558863637013e-04, 8.56288474354474431428e-02, 1.25352743901058953537e+00,
          5.47097740330417105182e+00, 8.76190883237069594232e+00, 5.30605288235394617618e+00,
          1.00000000000000000218e+00)
_J0_QP = (-1.13663838898469149931e-02, -1.28252718670509318512e+00, -1.95539544257735972385e+01,
          -9.32060152123768231369e+01, -1.77681167980488050595e+02, -1.47077505154951170175e+02,
          -5.14105326766599330220e+01, -6.05014350600728481186e+00)
_J0_QQ = (6.43178256118178023184e+01, 8.56430025976980587198e+02, 3.88240183605401609683e+03,
          7.24046774195652478189e+03, 5.93072701187316984827e+03, 2.06209331660327847417e+03,
          2.42005740240291393179e+02)
_J0_RP = (-4.79443220978201773821e+09, 1.95617491946556577543e+12, -2.49248344360967716204e+14,
          9.70862251047306323952e+15)
_J0_RQ = (4.99563147152651017219e+02, 1.73785401676374683123e+05, 4.84409658339962045305e+07,
          1.11855537045356834862e+10, 2.11277520115489217587e+12, 3.10518229857422583814e+14,
          3.18121955943204943306e+16, 1.71086294081043136091e+18)
_Y0_YP = (1.55924367855235737965e+04, -1.46639295903971606143e+07, 5.43526477051876500413e+09,
          -9.82136065717911466409e+11, 8.75906394395366999549e+13, -3.46628303384729719441e+15,
          4.42733268572569800351e+16, -1.84950800436986690637e+16)
_Y0_YQ = (1.04128353664259848412e+03, 6.26107330137134956842e+05, 2.68919633393814121987e+08,
          8.64002487103935000337e+10, 2.02979612750105546709e+13, 3.17157752842975028269e+15,
          2.50596256172653059228e+17)
_J1_PP = (7.62125616208173112003e-04, 7.31397056940917570436e-02, 1.12719608129684925192e+00,
          5.11207951146807644818e+00, 8.42404590141772420927e+00, 5.21451598682361504063e+00,
          1.00000000000000000254e+00)
_J1_PQ = (5.71323128072548699714e-04, 6.88455908754495404082e-02, 1.10514232634061696926e+00,
          5.07386386128601488557e+00, 8.39985554327604159757e+00, 5.20982848682361821619e+00,
          9.99999999999999997461e-01)
_J1_QP = (5.10862594750176621635e-02, 4.98213872951233449420e+00, 7.58238284132545283818e+01,
          3.66779609360150777800e+02, 7.10856304998926107277e+02, 5.97489612400613639965e+02,
          2.11688757100572135698e+02, 2.52070205858023719784e+01)
_J1_QQ = (7.42373277035675149943e+01, 1.05644886038262816351e+03, 4.98641058337653607651e+03,
          9.56231892404756170795e+03, 7.99704160447350683650e+03, 2.82619278517639096600e+03,
          3.36093607810698293419e+02)
_J1_RP = (-8.99971225705559398224e+08, 4.52228297998194034323e+11, -7.27494245221818276015e+13,
          3.68295732863852883286e+15)
_J1_RQ = (6.20836478118054335476e+02, 2.56987256757748830383e+05, 8.35146791431949253037e+07,
          2.21511595479792499675e+10, 4.74914122079991414898e+12, 7.84369607876235854894e+14,
          8.95222336184627338078e+16, 5.32278620332680085395e+18)
_Y1_YP = (1.26320474790178026440e+09, -6.47355876379160291031e+11, 1.14509511541823727583e+14,
          -8.12770255501325109621e+15, 2.02439475713594898196e+17, -7.78877196265950026825e+17)
_Y1_YQ = (5.94301592346128195359e+02, 2.35564092943068577943e+05, 7.34811944459721705660e+07,
          1.87601316108706159478e+10, 3.88231277496238566008e+12, 6.20557727146953693363e+14,
          6.87141087355300489866e+16, 3.97270608116560655612e+18)
_K0_A = (1.37446543561352307156e-16, 4.25981614279661018399e-14, 1.03496952576338420167e-11,
         1.90451637722020886025e-09, 2.53479107902614945675e-07, 2.28621210311945178607e-05,
         1.26461541144692592338e-03, 3.59799365153615016266e-02, 3.44289899924628486886e-01,
         -5.35327393233902768720e-01)
_K0_B = (5.30043377268626276149e-18, -1.64758043015242134646e-17, 5.21039150503902756861e-17,
         -1.67823109680541210385e-16, 5.51205597852431940784e-16, -1.84859337734377901440e-15,
         6.34007647740507060557e-15, -2.22751332699166985548e-14, 8.03289077536357521100e-14,
         -2.98009692317273043925e-13, 1.14034058820847496303e-12, -4.51459788337394416547e-12,
         1.85594911495471785253e-11, -7.95748924447710747776e-11, 3.57739728140030116597e-10,
         -1.69753450938905987466e-09, 8.57403401741422608519e-09, -4.66048989768794782956e-08,
         2.76681363944501510342e-07, -1.83175552271911948767e-06, 1.39498137188764993662e-05,
         -1.28495495816278026384e-04, 1.56988388573005337491e-03, -3.14481013119645005427e-02,
         2.44030308206595545468e+00)
_K1_A = (-7.02386347938628759343e-18, -2.42744985051936593393e-15, -6.66690169419932900609e-13,
         -1.41148839263352776110e-10, -2.21338763073472585583e-08, -2.43340614156596823496e-06,
         -1.73028895751305206302e-04, -6.97572385963986435018e-03, -1.22611180822657148235e-01,
         -3.53155960776544875667e-01, 1.52530022733894777053e+00)
_K1_B = (-5.75674448366501715755e-18, 1.79405087314755922667e-17, -5.68946255844285935196e-17,
         1.83809354436663880070e-16, -6.05704724837331885336e-16, 2.03870316562433424052e-15,
         -7.01983709041831346144e-15, 2.47715442448130437068e-14, -8.97670518232499435011e-14,
         3.34841966607842919884e-13, -1.28917396095102890680e-12, 5.13963967348173025100e-12,
         -2.12996783842756842877e-11, 9.21831518760500529508e-11, -4.19035475934189648750e-10,
         2.01504975519703286596e-09, -1.03457624656780970260e-08, 5.74108412545004946722e-08,
         -3.50196060308781257119e-07, 2.40648494783721712015e-06, -1.93619797416608296024e-05,
         1.95215518471351631108e-04, -2.85781685962277938680e-03, 1.03923736576817238437e-01,
         2.72062619048444266945e+00)
_AI_AN = (3.46538101525629032477e-01, 1.20075952739645805542e+01, 7.62796053615234516538e+01,
          1.68089224934630576269e+02, 1.59756391350164413639e+02, 7.05360906840444183113e+01,
          1.40264691163389668864e+01, 9.99999999999999995305e-01)
_AI_AD = (5.67594532638770212846e-01, 1.47562562584847203173e+01, 8.45138970141474626562e+01,
          1.77318088145400459522e+02, 1.64234692871529701831e+02, 7.14778400825575695274e+01,
          1.40959135607834029598e+01, 1.00000000000000000470e+00)
_AI_AFN = (-1.31696323418331795333e-01, -6.26456544431912369773e-01, -6.93158036036933542233e-01,
           -2.79779981545119124951e-01, -4.91900132609500318020e-02, -4.06265923594885404393e-03,
           -1.59276496239262096340e-04, -2.77649108155232920844e-06, -1.67787698489114633780e-08)
_AI_AFD = (1.33560420706553243746e+01, 3.26825032795224613948e+01, 2.67367040941499554804e+01,
           9.18707402907259625840e+00, 1.47529146771666414581e+00, 1.15687173795188044134e-01,
           4.40291641615211203805e-03, 7.54720348287414296618e-05, 4.51850092970580378464e-07)
_AI_AGN = (1.97339932091685679179e-02, 3.91103029615688277255e-01, 1.06579897599595591108e+00,
           9.39169229816650230044e-01, 3.51465656105547619242e-01, 6.33888919628925490927e-02,
           5.85804113048388458567e-03, 2.82851600836737019778e-04, 6.98793669997260967291e-06,
           8.11789239554389293311e-08, 3.41551784765923618484e-10)
_AI_AGD = (9.30892908077441974853e+00, 1.98352928718312140417e+01, 1.55646628932864612953e+01,
           5.47686069422975497931e+00, 9.54293611618961883998e-01, 8.64580826352392193095e-02,
           4.12656523824222607191e-03, 1.01259085116509135510e-04, 1.17166733214413521882e-06,
           4.91834570062930015649e-09)
_SQRT_2_PI = 0.797884560802865355879892119868763737   # sqrt(2 / pi)
_TWO_OVER_PI = 0.636619772367581343075535053490057448


def _polevl(w, coefs):
    """Horner: coefs[0] * w**(n-1) + ... + coefs[-1]."""
    acc = 0.0
    for c in coefs:
        acc = acc * w + c
    return acc


def _chbevl(y, coefs):
    """Clenshaw's sum of a Chebyshev series (Cephes chbevl): 0.5 * (b0 - b2)."""
    b0, b1, b2 = coefs[0], 0.0, 0.0
    for c in coefs[1:]:
        b2, b1 = b1, b0
        b0 = y * b1 - b2 + c
    return 0.5 * (b0 - b2)


def _safe(xp, cond, x, fill):
    # x where cond holds, fill elsewhere: branches never see values outside their domain (no warnings)
    return B.where(xp, cond, x, fill)


def _bessel_far(xp, x, pp, pq, qp, qq, shift, sign):
    """The large-x form (x > 5) of J0 / J1 (sign -1) and Y0 / Y1 (sign +1)."""
    w = 25.0 / (x * x)
    p = _polevl(w, pp) / _polevl(w, pq)
    q = _polevl(w, qp) / _polevl(w, qq)
    a = x - shift
    if sign < 0:
        return (p * xp.cos(a) - 5.0 / x * q * xp.sin(a)) * _SQRT_2_PI / xp.sqrt(x)
    return (p * xp.sin(a) + 5.0 / x * q * xp.cos(a)) * _SQRT_2_PI / xp.sqrt(x)


def _j0_64(xp, x):
    x = xp.abs(x)
    near = x <= 5.0
    xn = _safe(xp, near, x, 1.0)
    z = xn * xn
    small = (z - 5.78318596294678452118e+00) * (z - 3.04712623436620863991e+01) * _polevl(z, _J0_RP) / \
        _polevl(z, _J0_RQ)
    small = B.where(xp, xn < 1e-5, 1.0 - z / 4.0, small)
    xf = _safe(xp, near, 6.0, x)
    far = _bessel_far(xp, xf, _J0_PP, _J0_PQ, _J0_QP, _J0_QQ, math.pi / 4, -1)
    return B.where(xp, near, small, far)


def _j1_64(xp, x):
    ax = xp.abs(x)
    near = ax <= 5.0
    xn = _safe(xp, near, ax, 1.0)
    z = xn * xn
    small = _polevl(z, _J1_RP) / _polevl(z, _J1_RQ) * xn * (z - 1.46819706421238932572e+01) * \
        (z - 4.92184563216946036703e+01)
    xf = _safe(xp, near, 6.0, ax)
    far = _bessel_far(xp, xf, _J1_PP, _J1_PQ, _J1_QP, _J1_QQ, 3 * math.pi / 4, -1)
    res = B.where(xp, near, small, far)
    return B.where(xp, x < 0, -res, res)   # odd


def _y0_64(xp, x):
    near = x <= 5.0
    xn = _safe(xp, near & (x > 0), x, 1.0)
    z = xn * xn
    small = _polevl(z, _Y0_YP) / _polevl(z, _Y0_YQ) + _TWO_OVER_PI * xp.log(xn) * _j0_64(xp, xn)
    small = B.where(xp, x == 0, -np.inf, B.where(xp, x < 0, np.nan, small))
    xf = _safe(xp, near, 6.0, x)
    far = _bessel_far(xp, xf, _J0_PP, _J0_PQ, _J0_QP, _J0_QQ, math.pi / 4, 1)
    return B.where(xp, near, small, far)


def _y1_64(xp, x):
    near = x <= 5.0
    xn = _safe(xp, near & (x > 0), x, 1.0)
    z = xn * xn
    small = xn * (_polevl(z, _Y1_YP) / _polevl(z, _Y1_YQ)) + \
        _TWO_OVER_PI * (_j1_64(xp, xn) * xp.log(xn) - 1.0 / xn)
    small = B.where(xp, x == 0, -np.inf, B.where(xp, x < 0, np.nan, small))
    xf = _safe(xp, near, 6.0, x)
    far = _bessel_far(xp, xf, _J1_PP, _J1_PQ, _J1_QP, _J1_QQ, 3 * math.pi / 4, 1)
    return B.where(xp, near, small, far)


def _i0_64(xp, x):
    return _unscale(xp, x, _bessel_scaled(xp, x, 0))


def _i1_64(xp, x):
    return xp.copysign(_unscale(xp, x, _bessel_scaled(xp, x, 1)), x)


def _modified_i(order):
    # torch's Cephes form gives nan at +-inf (exp(inf) / sqrt(inf)), where special.i0 gives inf
    def kernel(xp, x):
        return B.where(xp, xp.isinf(x), np.nan, (_i0_64 if order == 0 else _i1_64)(xp, x))
    return kernel


def _k_64(xp, x, order, scaled):
    """K0 / K1 (times exp(x) when scaled): a series in x*x - 2 up to 2, one in 8/x - 2 beyond."""
    near = x <= 2.0
    xn = _safe(xp, near & (x > 0), x, 1.0)
    if order == 0:
        small = _chbevl(xn * xn - 2.0, _K0_A) - xp.log(0.5 * xn) * _i0_64(xp, xn)
    else:
        small = xp.log(0.5 * xn) * _i1_64(xp, xn) + _chbevl(xn * xn - 2.0, _K1_A) / xn
    if scaled:
        small = small * xp.exp(xn)
    xf = _safe(xp, near, 3.0, x)
    far = _chbevl(8.0 / xf - 2.0, _K0_B if order == 0 else _K1_B) / xp.sqrt(xf)
    if not scaled:
        far = far * xp.exp(-xf)
    res = B.where(xp, near, small, far)
    return B.where(xp, x == 0, np.inf, B.where(xp, x < 0, np.nan, res))


def _spherical_j0_64(xp, x):
    z = x * x
    series = 1.0 + z * (-1.0 / 6.0 + z * (1.0 / 120.0 + z * (-1.0 / 5040.0 + z * (1.0 / 362880.0 + z * (
        -1.0 / 39916800.0 + z * (1.0 / 6227020800.0))))))
    xs = _safe(xp, xp.abs(x) < 0.5, 1.0, x)
    res = B.where(xp, xp.abs(x) < 0.5, series, xp.sin(xs) / xs)
    return B.where(xp, xp.isinf(x), 0.0, res)


def _airy_ai_64(xp, x):
    # x < -2.09: the oscillating asymptotic form
    neg = x < -2.09
    xn = _safe(xp, neg, x, -3.0)
    zeta = -2.0 * xn * xp.sqrt(-xn) / 3.0
    z = 1.0 / zeta
    zz = z * z
    t = zeta + 0.25 * math.pi
    osc = 5.64189583547756286948e-01 / xp.sqrt(xp.sqrt(-xn)) * (
        xp.sin(t) * (1.0 + zz * _polevl(zz, _AI_AFN) / _polevl(zz, _AI_AFD))
        - xp.cos(t) * (z * _polevl(zz, _AI_AGN) / _polevl(zz, _AI_AGD)))
    # x >= 2.09: the decaying asymptotic form
    pos = x >= 2.09
    xp_ = _safe(xp, pos, x, 3.0)
    zeta = 2.0 * xp_ * xp.sqrt(xp_) / 3.0
    w = 1.0 / zeta
    decay = 5.64189583547756286948e-01 * (_polevl(w, _AI_AN) / _polevl(w, _AI_AD)) / (
        2.0 * xp.sqrt(xp.sqrt(xp_)) * xp.exp(zeta))
    # in between: the Maclaurin series f(x), g(x) (30 terms reach double precision for |x| < 2.09)
    xm = _safe(xp, ~neg & ~pos, x, 0.0)
    zc = xm * xm * xm
    f, g, m, n, k = 1.0, xm, 1.0, xm, 1.0
    for _ in range(30):
        m = m * zc
        k += 1.0
        m = m / k
        n = n * zc
        k += 1.0
        n = n / k
        m = m / k
        f = f + m
        k += 1.0
        n = n / k
        g = g + n
    series = 0.355028053887817239260 * f - 0.258819403792806798405 * g
    res = B.where(xp, neg, osc, B.where(xp, pos, decay, series))
    res = B.where(xp, x > 103.892, 0.0, res)
    return B.where(xp, xp.isinf(x), np.nan, res)


def _values_only(name, kernel):
    def op(input, *, out=None):
        d = input._data
        xp = xp_of(d)
        dt = d.dtype if d.dtype.kind == "f" else B.get_default_dtype().np
        with B.errstate(xp, all="ignore"):
            res = kernel(xp, d.astype(np.float64)).astype(dt, copy=False)
        res = xp.ascontiguousarray(res)
        if out is not None:
            return _write_out(out, res, name, input)
        return _finish(res, None)
    op.__name__ = op.__qualname__ = name
    return op


xp_of = B.xp_of
bessel_j0 = _values_only("bessel_j0", _j0_64)
bessel_j1 = _values_only("bessel_j1", _j1_64)
bessel_y0 = _values_only("bessel_y0", _y0_64)
bessel_y1 = _values_only("bessel_y1", _y1_64)
modified_bessel_i0 = _values_only("modified_bessel_i0", _modified_i(0))
modified_bessel_i1 = _values_only("modified_bessel_i1", _modified_i(1))
modified_bessel_k0 = _values_only("modified_bessel_k0", lambda xp, x: _k_64(xp, x, 0, False))
modified_bessel_k1 = _values_only("modified_bessel_k1", lambda xp, x: _k_64(xp, x, 1, False))
scaled_modified_bessel_k0 = _values_only("scaled_modified_bessel_k0", lambda xp, x: _k_64(xp, x, 0, True))
scaled_modified_bessel_k1 = _values_only("scaled_modified_bessel_k1", lambda xp, x: _k_64(xp, x, 1, True))
spherical_bessel_j0 = _values_only("spherical_bessel_j0", _spherical_j0_64)
airy_ai = _values_only("airy_ai", _airy_ai_64)
_BESSEL_DOCS = {
    "bessel_j0": "Bessel function of the first kind of order 0.",
    "bessel_j1": "Bessel function of the first kind of order 1.",
    "bessel_y0": "Bessel function of the second kind of order 0 (-inf at 0, nan below).",
    "bessel_y1": "Bessel function of the second kind of order 1 (-inf at 0, nan below).",
    "modified_bessel_i0": "Modified Bessel function of the first kind of order 0.",
    "modified_bessel_i1": "Modified Bessel function of the first kind of order 1.",
    "modified_bessel_k0": "Modified Bessel function of the second kind of order 0 (inf at 0, nan below).",
    "modified_bessel_k1": "Modified Bessel function of the second kind of order 1 (inf at 0, nan below).",
    "scaled_modified_bessel_k0": "exp(x) * modified_bessel_k0(x), without overflow for large x.",
    "scaled_modified_bessel_k1": "exp(x) * modified_bessel_k1(x), without overflow for large x.",
    "spherical_bessel_j0": "Spherical Bessel function of the first kind of order 0: sin(x) / x.",
    "airy_ai": "Airy function Ai.",
}
for _n, _d in _BESSEL_DOCS.items():
    globals()[_n].__doc__ = f"{_n}(input, *, out=None): {_d} (Values only: no gradient, as torch.)"
del _n, _d
__all__ += list(_BESSEL_DOCS)
