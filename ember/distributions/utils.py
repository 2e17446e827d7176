"""Helpers shared by the distributions (torch.distributions.utils)."""
import functools

import numpy as np

import ember
from .. import _backend as B
from ..ops import new_node, record, needs_grad, Node
from ..ops.elementwise import _digamma
from ..random import generator_for

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits", "lazy_property",
           "euler_constant", "tril_matrix_to_vec", "vec_to_tril_matrix"]

euler_constant = 0.57721566490153286060
_Number = (int, float)


def broadcast_all(*values):
    """Broadcast tensors and numbers together; numbers become tensors of the first tensor's dtype
    and device (the default dtype when there is none)."""
    if not all(isinstance(v, (ember.Tensor, int, float)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, torch.Tensor or objects "
                         "implementing __torch_function__.")
    if not all(isinstance(v, ember.Tensor) for v in values):
        opts = {"dtype": ember.get_default_dtype()}
        for v in values:
            if isinstance(v, ember.Tensor):
                opts = {"dtype": v.dtype, "device": v.device}
                break
        values = [v if isinstance(v, ember.Tensor) else ember.tensor(v, **opts) for v in values]
    return ember.broadcast_tensors(*values)


def _standard_normal(shape, dtype, device):
    return ember.empty(shape, dtype=dtype, device=device).normal_()


def _sum_rightmost(value, dim):
    """Sum out the rightmost dim dimensions."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary=False):
    if is_binary:
        return ember.sigmoid(logits)
    return ember.nn.functional.softmax(logits, dim=-1)


def clamp_probs(probs):
    eps = ember.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    ps = clamp_probs(probs)
    if is_binary:
        return ember.log(ps) - ember.log1p(-ps)
    return ember.log(ps)


def _tril_mask(n, diag, device):
    arange = ember.arange(n, device=device)
    return arange < arange.view(-1, 1) + (diag + 1)


def tril_matrix_to_vec(mat, diag=0):
    """The lower triangle (below diagonal diag) of a batch of D x D matrices, as vectors in row order."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    return mat[..., _tril_mask(n, diag, mat.device)]


def vec_to_tril_matrix(vec, diag=0):
    """A batch of D x D lower-triangular matrices filled from vectors in row order."""
    # the positive root of D**2 + (1+2*diag)*D - |diag| * (diag+1) - 2*vec.shape[-1] = 0
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * vec.shape[-1] + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if round(n) - n > ember.finfo(vec.dtype).eps:
        raise ValueError(f"The size of last dimension is {vec.shape[-1]} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    n = round(n)
    mat = vec.new_zeros(tuple(vec.shape[:-1]) + (n, n))
    mat[..., _tril_mask(n, diag, vec.device)] = vec
    return mat


class lazy_property:
    """Computed on first access (with grad enabled), then cached on the instance."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        functools.update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _lazy_property_and_property(self.wrapped)
        with ember.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


class _lazy_property_and_property(lazy_property, property):
    def __init__(self, wrapped):
        property.__init__(self, wrapped)


# ---- gamma draws with implicit reparameterization ----------------------------------------------
# x = G(alpha) has dx/dalpha = -(dF/dalpha)(x; alpha) / f(x; alpha) for the gamma CDF F and density
# f.  The three regimes and their constants are PyTorch's (ATen/native/Distributions.h,
# standard_gamma_grad_one): a series for small x, Rice's saddle point for large alpha, a fitted
# rational function in between, so gradients agree with torch's for the same x and alpha.
_GAMMA_UV = np.array([
    [0.16009398, -0.094634809, 0.025146376, -0.0030648343, 1, 0.32668115, 0.10406089, 0.0014179084],
    [0.53487893, 0.1298071, 0.065735949, -0.0015649758, 0.16639465, 0.020070113, -0.0035938915,
     -0.00058392623],
    [0.040121004, -0.0065914022, -0.0026286047, -0.0013441777, 0.017050642, -0.0021309326,
     0.00085092367, -1.5247877e-07]])


def _standard_gamma_grad(xp, alpha, x):
    a = alpha.astype(np.float64)
    x = x.astype(np.float64)
    with B.errstate(xp, all="ignore"):
        # small x: Taylor series of the CDF
        numer = xp.ones_like(x)
        denom = a.copy()
        s1 = numer / denom
        s2 = numer / (denom * denom)
        for i in range(1, 6):
            numer = numer * (-x / i)
            denom = denom + 1
            s1 = s1 + numer / denom
            s2 = s2 + numer / (denom * denom)
        pow_xa = x ** a
        pdf = x ** (a - 1) * xp.exp(-x)
        cdf = pow_xa * s1
        cdf_a = (xp.log(x) - _digamma(xp, a)) * cdf - pow_xa * s2
        small = -cdf_a / pdf
        small = xp.where(xp.isnan(small), 0.0, small)
        # large alpha: Rice saddle point expansion
        near = (0.9 * a <= x) & (x <= 1.1 * a)
        n1 = 1 + 24 * a * (1 + 12 * a)
        n2 = 1440 * a * a + 6 * x * (53 - 120 * x) - 65 * x * x / a + a * (107 + 3600 * x)
        near_val = n1 * n2 / (1244160 * a * a * a * a)
        den = xp.sqrt(8 * a)
        term2 = den / (a - x)
        term3 = (x - a - a * xp.log(x / a)) ** -1.5
        term23 = xp.where(x < a, term2 - term3, term2 + term3)
        term1 = xp.log(x / a) * term23 - xp.sqrt(2 / a) * (a + x) / ((a - x) * (a - x))
        stirling = 1 + 1 / (12 * a) * (1 + 1 / (24 * a))
        far_val = -stirling * (x * term1) / den
        large = xp.where(near, near_val, far_val)
        # in between: bivariate rational approximation in u = log(x / alpha), v = log(alpha)
        u = xp.log(x / a)
        v = xp.log(a)
        c = [xp.asarray(_GAMMA_UV[0, i]) + u * (_GAMMA_UV[1, i] + u * _GAMMA_UV[2, i]) for i in range(8)]
        p = c[0] + v * (c[1] + v * (c[2] + v * c[3]))
        q = c[4] + v * (c[5] + v * (c[6] + v * c[7]))
        mid = xp.exp(p / q)
        out = xp.where(x < 0.8, small, xp.where(a > 8.0, large, mid))
    return out.astype(alpha.dtype, copy=False)


class StandardGammaBackward0(Node):
    __slots__ = ("alpha", "x")
    _saved_fields = ("alpha", "x")

    def apply(self, g):
        return (g * _standard_gamma_grad(B.xp_of(g), self.alpha, self.x),)


_EXACT_GAMMA_LIMIT = 1 << 16


def _standard_gamma(alpha, generator=None):
    """Gamma(alpha, 1) draws shaped as alpha, differentiable in alpha (torch._standard_gamma)."""
    gen = generator_for(alpha.device, generator)
    a = alpha._data
    if gen._xp is np and a.size <= _EXACT_GAMMA_LIMIT:
        # torch's own draws (a Python loop: kept to the sizes distributions are sampled at)
        x = gen.gamma_doubles(a)
    else:
        with gen._on_device():
            x = gen._xp.asarray(gen._rng.standard_gamma(a.astype(np.float64)))   # a 0-d alpha gives a float
    tiny = np.finfo(a.dtype).tiny
    x = gen._xp.maximum(x.astype(a.dtype, copy=False), tiny)  # torch clamps to tiny as well
    node = None
    if needs_grad(alpha):
        node = new_node(StandardGammaBackward0, (alpha,))
        node.alpha, node.x = a, x
    return record(x, node)
