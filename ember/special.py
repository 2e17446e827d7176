"""torch.special: the functions ember can compute, differentiable where torch's are.

Most are torch's aliases of existing ops (expit is sigmoid, gammaln is lgamma, psi is digamma ...);
entr, erfcx, log_ndtr, ndtri, i0/i0e/i1/i1e, xlog1py, zeta, polygamma and gammainc/gammaincc are
primitives in ember/ops/special.py, as are the orthogonal polynomials and the Bessel J/Y/I/K, spherical
Bessel and Airy functions (values only, as torch's).
"""
import math as _math

from . import _backend
from ._argcheck import tensor_args as _tensor_args
from ._tensor import Tensor as _Tensor
from .ops import activation as _act, elementwise as _ew, reduce as _red
from .ops import special as _sp

__all__ = ["digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln", "i0", "i0e",
           "i1", "i1e", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri",
           "polygamma", "psi", "round", "sinc", "softmax", "xlog1py", "xlogy", "zeta", "chebyshev_polynomial_t",
           "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
           "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
           "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
           "legendre_polynomial_p", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0",
           "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0",
           "scaled_modified_bessel_k1", "spherical_bessel_j0", "airy_ai"]


def _alias(fn, name, doc):
    def op(*args, **kwargs):
        return fn(*args, **kwargs)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    op.__wrapped__ = fn
    return op


expit = _alias(_ew.sigmoid, "expit", "expit(input, *, out=None): the logistic sigmoid 1 / (1 + exp(-x)) "
               "(torch.sigmoid).")
gammaln = _alias(_ew.lgamma, "gammaln", "gammaln(input, *, out=None): log|Gamma(x)| (torch.lgamma).")
psi = _alias(_ew.digamma, "psi", "psi(input, *, out=None): the digamma function (torch.digamma).")
digamma = _alias(_ew.digamma, "digamma", "digamma(input, *, out=None): d/dx log Gamma(x) (torch.digamma).")
erf = _alias(_ew.erf, "erf", "erf(input, *, out=None): the error function (torch.erf).")
erfc = _alias(_ew.erfc, "erfc", "erfc(input, *, out=None): 1 - erf(x), accurate in the tail (torch.erfc).")
erfinv = _alias(_ew.erfinv, "erfinv", "erfinv(input, *, out=None): inverse of erf on [-1, 1] (torch.erfinv).")
exp2 = _alias(_ew.exp2, "exp2", "exp2(input, *, out=None): 2 ** x (torch.exp2).")
expm1 = _alias(_ew.expm1, "expm1", "expm1(input, *, out=None): exp(x) - 1, accurate near 0 (torch.expm1).")
log1p = _alias(_ew.log1p, "log1p", "log1p(input, *, out=None): log(1 + x), accurate near 0 (torch.log1p).")
logit = _alias(_ew.logit, "logit", "logit(input, eps=None, *, out=None): log(p / (1 - p)) (torch.logit).")
sinc = _alias(_ew.sinc, "sinc", "sinc(input, *, out=None): sin(pi x) / (pi x), 1 at 0 (torch.sinc).")
round = _alias(_ew.round, "round", "round(input, *, decimals=0, out=None): round half to even (torch.round).")
xlogy = _alias(_ew.xlogy, "xlogy", "xlogy(input, other, *, out=None): input * log(other), 0 where input is 0 "
               "(torch.xlogy).")
entr, erfcx, log_ndtr, ndtri = _sp.entr, _sp.erfcx, _sp.log_ndtr, _sp.ndtri
i0, i0e, i1, i1e, xlog1py = _sp.i0, _sp.i0e, _sp.i1, _sp.i1e, _sp.xlog1py
polygamma, zeta, gammainc, gammaincc = _sp.polygamma, _sp.zeta, _sp.gammainc, _sp.gammaincc
chebyshev_polynomial_t, chebyshev_polynomial_u = _sp.chebyshev_polynomial_t, _sp.chebyshev_polynomial_u
chebyshev_polynomial_v, chebyshev_polynomial_w = _sp.chebyshev_polynomial_v, _sp.chebyshev_polynomial_w
shifted_chebyshev_polynomial_t, shifted_chebyshev_polynomial_u = (_sp.shifted_chebyshev_polynomial_t,
                                                                  _sp.shifted_chebyshev_polynomial_u)
shifted_chebyshev_polynomial_v, shifted_chebyshev_polynomial_w = (_sp.shifted_chebyshev_polynomial_v,
                                                                  _sp.shifted_chebyshev_polynomial_w)
hermite_polynomial_h, hermite_polynomial_he = _sp.hermite_polynomial_h, _sp.hermite_polynomial_he
laguerre_polynomial_l, legendre_polynomial_p = _sp.laguerre_polynomial_l, _sp.legendre_polynomial_p


def logsumexp(input, dim, keepdim=False, *, out=None):
    """log(sum(exp(input))) over dim, computed stably (torch.logsumexp)."""
    res = _red.logsumexp(input, dim, keepdim)
    if out is None:
        return res
    return _ew._write_out(out, res._data, "logsumexp", input)


def softmax(input, dim, *, dtype=None):
    """exp(x) / sum(exp(x)) along dim; with dtype, input is cast first (torch.softmax)."""
    return _act.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """log(softmax(x)) along dim, computed stably; with dtype, input is cast first (torch.log_softmax)."""
    return _act.log_softmax(input, dim, dtype=dtype)


_SQRT1_2 = 1 / _math.sqrt(2)

for _n in _sp._BESSEL_DOCS:   # bessel_j0 ... airy_ai
    globals()[_n] = getattr(_sp, _n)

def ndtr(input, *, out=None):
    """The standard normal CDF, (1 + erf(x / sqrt 2)) / 2: torch's formula, so its tail below x = -8
    rounds to 0 as torch's does (use log_ndtr there)."""
    res = (1 + _ew.erf(input * _SQRT1_2)) * 0.5
    if out is None:
        return res
    return _ew._write_out(out, res._data, "ndtr", input)


def multigammaln(input, p, *, out=None):
    """Multivariate log-gamma of dimension p: p(p-1)/4 log(pi) + sum_j lgamma(x - j/2), j < p."""
    if not isinstance(p, int) or isinstance(p, bool):
        raise TypeError(f"multigammaln(): argument 'p' (position 2) must be int, not {type(p).__name__}")
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    if input.dtype.is_floating_point is False:
        raise RuntimeError(f"mvlgamma is not implemented for {input.dtype} (convert the input with .float())")
    res = _ew.lgamma(input)
    for j in range(1, p):
        res = res + _ew.lgamma(input - j / 2)
    res = res + p * (p - 1) / 4 * _math.log(_math.pi)
    if out is None:
        return res
    return _ew._write_out(out, res._data, "multigammaln", input)


for _n in __all__:
    _f = globals()[_n]
    _w = _tensor_args(_f, __name__)
    if _w is not _f:
        globals()[_n] = _w
del _n, _f, _w


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"module '{_backend.namespace()}.special' has no attribute '{name}': ember does not "
                         f"implement torch.special.{name} yet")
