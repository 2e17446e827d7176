"""Helpers shared by the distributions (torch.distributions.utils)."""
import functools
import math

import numpy as np

import ember
from .. import _backend as B
from ..ops import new_node, record, needs_grad, Node
from .._tensor import _host
from ..autograd.graph import no_derivative
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
        small = B.where(xp, xp.isnan(small), 0.0, small)
        # large alpha: Rice saddle point expansion
        near = (0.9 * a <= x) & (x <= 1.1 * a)
        n1 = 1 + 24 * a * (1 + 12 * a)
        n2 = 1440 * a * a + 6 * x * (53 - 120 * x) - 65 * x * x / a + a * (107 + 3600 * x)
        near_val = n1 * n2 / (1244160 * a * a * a * a)
        den = xp.sqrt(8 * a)
        term2 = den / (a - x)
        term3 = (x - a - a * xp.log(x / a)) ** -1.5
        term23 = B.where(xp, x < a, term2 - term3, term2 + term3)
        term1 = xp.log(x / a) * term23 - xp.sqrt(2 / a) * (a + x) / ((a - x) * (a - x))
        stirling = 1 + 1 / (12 * a) * (1 + 1 / (24 * a))
        far_val = -stirling * (x * term1) / den
        large = B.where(xp, near, near_val, far_val)
        # in between: bivariate rational approximation in u = log(x / alpha), v = log(alpha)
        u = xp.log(x / a)
        v = xp.log(a)
        c = [xp.asarray(_GAMMA_UV[0, i]) + u * (_GAMMA_UV[1, i] + u * _GAMMA_UV[2, i]) for i in range(8)]
        p = c[0] + v * (c[1] + v * (c[2] + v * c[3]))
        q = c[4] + v * (c[5] + v * (c[6] + v * c[7]))
        mid = xp.exp(p / q)
        out = B.where(xp, x < 0.8, small, B.where(xp, a > 8.0, large, mid))
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


# ---- Dirichlet draws and their reparameterized gradient (torch._sample_dirichlet, _dirichlet_grad) ---
# Both follow ATen's CPU kernels (Distributions.cpp, Distributions.h) operation by operation, in the
# same types, so that a seeded draw is torch's bit for bit and the gradient agrees to rounding.
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_GRAIN_SIZE = 32768   # at::internal::GRAIN_SIZE: a reduction over fewer elements runs on one thread


def _added_in_order(block, axis, start):
    """start + block[0] + block[1] + ... along axis, one addition after another (cumsum adds in order)."""
    block = np.concatenate([np.expand_dims(start, axis), block], axis=axis)
    return np.take(np.cumsum(block, axis=axis), -1, axis=axis)


def _multi_row_sum(y):
    """ATen's multi_row_sum over y (R, size, nrows, lanes) -> (R, nrows, lanes): chunks of 2**power
    rows summed in order, each chunk sum carried up through four levels of partial sums."""
    r, size, nrows, lanes = y.shape
    power = max(4, (size - 1).bit_length() // 4) if size > 2 else 4   # max(4, CeilLog2(size) / 4)
    step = 1 << power
    acc = np.zeros((4, r, nrows, lanes), y.dtype)
    full = size // step
    if full:
        chunks = _added_in_order(y[:, :full * step].reshape(r, full, step, nrows, lanes), 2,
                                 np.zeros((r, full, nrows, lanes), y.dtype))
        i = 0
        for c in range(full):
            acc[0] = chunks[:, c]   # (level 0 is emptied after every chunk)
            i += step
            for j in range(1, 4):
                acc[j] += acc[j - 1]
                acc[j - 1] = 0
                if i & ((step - 1) << (j * power)):
                    break
    if full * step < size:
        acc[0] = _added_in_order(y[:, full * step:], 1, acc[0])
    for j in range(1, 4):
        acc[0] = acc[0] + acc[j]
    return acc[0]


def _row_sum(x):
    """ATen's row_sum over x (R, n, lanes) -> (R, lanes): four interleaved multi_row_sum partials, the
    leftover rows added to the first, then the other three."""
    r, n, lanes = x.shape
    s = n // 4
    part = _multi_row_sum(x[:, :4 * s].reshape(r, s, 4, lanes))
    total = part[:, 0]
    if 4 * s < n:
        total = _added_in_order(x[:, 4 * s:], 1, total)
    for m in range(1, 4):
        total = total + part[:, m]
    return total


def _cascade_rows(a):
    """ATen's cascade_sum of each row of a (R, k), in a's type: vectors of 32 bytes (torch runs its sum
    kernel at AVX2 width, also on AVX-512 CPUs) summed by row_sum, the tail after them added in order,
    then the vector's lanes."""
    r, k = a.shape
    lanes = 32 // a.itemsize
    if k < lanes:
        return _row_sum(a[:, :, None])[:, 0]
    nv = k // lanes
    vec = _row_sum(a[:, :nv * lanes].reshape(r, nv, lanes))
    tail = np.zeros(r, a.dtype)
    if nv * lanes < k:
        tail = _added_in_order(a[:, nv * lanes:], 1, tail)
    return _added_in_order(vec, 1, tail)


def _sum_last(xp, a):
    """a.sum(-1, keepdim=True) with torch's CPU rounding (a float32 or float64 array; on a GPU, xp's sum)."""
    if xp is not np:
        return a.sum(-1, keepdims=True)
    shape = a.shape[:-1] + (1,) if a.ndim else (1,)
    k = a.shape[-1] if a.ndim else 1
    if a.size == 0:
        return np.zeros(shape, a.dtype)
    rows = np.ascontiguousarray(a).reshape(-1, k)
    threads = ember.get_num_threads()
    if rows.shape[0] == 1 and k >= _GRAIN_SIZE and threads > 1:
        # one output: torch's two-pass reduction, each thread summing its share into its own slot
        used = min(threads, -(-k // _GRAIN_SIZE))
        chunk = -(-k // used)
        slots = np.zeros((1, threads), a.dtype)
        for t in range(used):
            part = rows[:, t * chunk:(t + 1) * chunk]
            if part.shape[1]:
                slots[:, t] = _cascade_rows(part)
        out = _cascade_rows(slots)
    else:
        out = _cascade_rows(rows)   # (several outputs: threads split the rows, each row summed whole)
    return out.reshape(shape)


def _in_type(fn, *args):
    """A libm function in the arrays' type: float32 through double, as glibc's float functions round."""
    if args[0].dtype == _F32:
        return fn(*(v.astype(np.float64) for v in args)).astype(np.float32)
    return fn(*args)


_PSI_10 = 2.25175258906672110764
_DIGAMMA_A = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
              -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
              8.33333333333333333333E-2)
_BIG = float(np.float32(1.0e17))


def _digamma_one(x):
    """ATen's digamma_one<scalar_t, double> of a float32 or float64 array: the shifts 1/x, the log and
    0.5/x in x's type, their sum in double, rounded back to x's type (ember.digamma, torch.digamma's
    kernel, differs from it in the last bits, and those bits matter in the small-x series)."""
    st = x.dtype.type
    at_pole = (x == 0) | ((x < 0) & (x == np.floor(x)))
    extra = np.zeros(x.shape)
    neg = x < 0
    if neg.any():
        pi = st(math.pi)
        extra = np.where(neg, -pi / _in_type(np.tan, pi * x), 0.0)
        x = np.where(neg, st(1) - x, x)
    result = np.zeros(x.shape)
    todo = x < 10
    while todo.any():
        result = np.where(todo, result - st(1) / x, result)
        x = np.where(todo, x + st(1), x)
        todo = x < 10
    z = 1.0 / (x * x).astype(np.float64)
    poly = _DIGAMMA_A[0]
    for c in _DIGAMMA_A[1:]:
        poly = poly * z + c
    y = np.where(x < _BIG, z * poly, 0.0)
    out = result + _in_type(np.log, x) - st(0.5) / x - y + extra
    out = np.where(x == 10, result + _PSI_10 + extra, out)
    return np.where(at_pole, np.inf, out).astype(st)


def _beta_grad_alpha_small(x, alpha, beta):
    """Beta(alpha, beta)'s reparameterized d x / d alpha by a Taylor series for x near 0 (x's type)."""
    st = x.dtype.type
    factor = _digamma_one(alpha) - _digamma_one(alpha + beta) - _in_type(np.log, x)
    numer = np.ones_like(x)
    series = numer / alpha * (factor + st(1) / alpha)
    for i in range(1, 11):
        ci = st(i)
        numer = numer * ((ci - beta) * x / ci)
        denom = alpha + ci
        series = series + numer / denom * (factor + st(1) / denom)
    result = x * _in_type(np.power, st(1) - x, -beta) * series
    return np.where(np.isnan(result), st(0), result)


def _beta_grad_beta_small(x, alpha, beta):
    """Beta(alpha, beta)'s reparameterized d x / d beta by a Taylor series for x near 0 (x's type)."""
    st = x.dtype.type
    factor = _digamma_one(alpha + beta) - _digamma_one(beta)
    numer, betas, dbetas = np.ones_like(x), np.ones_like(x), np.zeros_like(x)
    series = factor / alpha
    for i in range(1, 9):
        ci = st(i)
        numer = numer * (-x / ci)
        dbetas = dbetas * (beta - ci) + betas
        betas = betas * (beta - ci)
        series = series + numer / (alpha + ci) * (dbetas + factor * betas)
    result = -_in_type(np.power, st(1) - x, st(1) - beta) * series
    return np.where(np.isnan(result), st(0), result)


def _beta_grad_alpha_mid(x, alpha, beta):
    """Beta's d x / d alpha by Rice's saddle point expansion when alpha and beta are both large (double)."""
    total = alpha + beta
    mean = alpha / total
    std = np.sqrt(alpha * beta / (total + 1)) / total
    bb = beta * beta
    # near the mean: the expansion's series, free of its singularity at x = mean
    poly = 47 * x * bb * bb + alpha * (
        (43 + 20 * (16 + 27 * beta) * x) * bb * beta + alpha * (
            3 * (59 + 180 * beta - 90 * x) * bb + alpha * (
                (453 + 1620 * beta * (1 - x) - 455 * x) * beta + alpha * (
                    8 * (1 - x) * (135 * beta - 11)))))
    pre_num = (1 + 12 * alpha) * (1 + 12 * beta) / (total * total)
    pre_den = 12960 * alpha * alpha * alpha * beta * beta * (1 + 12 * total)
    near = pre_num / (1 - x) * poly / pre_den
    prefactor = -x / np.sqrt(2 * alpha * beta / total)
    stirling = ((1 + 1 / (12 * alpha) + 1 / (288 * alpha * alpha)) * (1 + 1 / (12 * beta) + 1 / (288 * beta * beta))
                / (1 + 1 / (12 * total) + 1 / (288 * total * total)))
    term1_num = 2 * (alpha * alpha) * (x - 1) + alpha * beta * (x - 1) - x * bb
    axbx = alpha * (x - 1) + beta * x
    term1 = term1_num / (np.sqrt(2 * alpha / beta) * np.power(total, 1.5) * axbx * axbx)
    term2 = 0.5 * np.log(alpha / (total * x))
    term3 = np.sqrt(8 * alpha * beta / total) / (beta * x + alpha * (x - 1))
    term4 = np.power(beta * np.log(beta / (total * (1 - x))) + alpha * np.log(alpha / (total * x)), -1.5)
    far = stirling * prefactor * (term1 + term2 * (term3 + np.where(x < mean, term4, -term4)))
    return np.where((mean - 0.1 * std <= x) & (x <= mean + 0.1 * std), near, far)


# ATen's fitted rational correction: p / q in u = log x, a = log alpha - u, b = log total - a
_DIRICHLET_PQ = np.array([
    [[[1.003668233, -0.01061107488, -0.0657888334, 0.01201642863],
      [0.6336835991, -0.3557432599, 0.05486251648, -0.001465281033],
      [-0.03276231906, 0.004474107445, 0.002429354597, -0.0001557569013]],
     [[0.221950385, -0.3187676331, 0.01799915743, 0.01074823814],
      [-0.2951249643, 0.06219954479, 0.01535556598, 0.001550077057],
      [0.02155310298, 0.004170831599, 0.001292462449, 6.976601077e-05]],
     [[-0.05980841433, 0.008441916499, 0.01085618172, 0.002319392565],
      [0.02911413504, 0.01400243777, -0.002721828457, 0.000751041181],
      [0.005900514878, -0.001936558688, -9.495446725e-06, 5.385558597e-05]]],
    [[[1, -0.02924021934, -0.04438342661, 0.007285809825],
      [0.6357567472, -0.3473456711, 0.05454656494, -0.002407477521],
      [-0.03301322327, 0.004845219414, 0.00231480583, -0.0002307248149]],
     [[0.5925320577, -0.1757678135, 0.01505928619, 0.000564515273],
      [0.1014815858, -0.06589186703, 0.01272886114, -0.0007316646956],
      [-0.007258481865, 0.001096195486, 0.0003934994223, -4.12701925e-05]],
     [[0.06469649321, -0.0236701437, 0.002902096474, -5.896963079e-05],
      [0.001925008108, -0.002869809258, 0.0008000589141, -6.063713228e-05],
      [-0.0003477407336, 6.959756487e-05, 1.097287507e-05, -1.650964693e-06]]]])


def _dirichlet_grad_rational(x, alpha, total, dtype):
    """The rational correction to the analytic approximation x (psi(total) - psi(alpha)) / beta
    (inputs in double; the digammas in dtype, as ATen calls them)."""
    u = np.log(x)
    a = np.log(alpha) - u
    b = np.log(total) - a
    pow_u, pow_a = (1.0, u, u * u), (1.0, a, a * a)
    p = q = 0.0
    for i in range(3):
        for j in range(3):
            ua = pow_u[i] * pow_a[j]
            cp, cq = _DIRICHLET_PQ[0, i, j], _DIRICHLET_PQ[1, i, j]
            p = p + ua * (cp[0] + b * (cp[1] + b * (cp[2] + b * cp[3])))
            q = q + ua * (cq[0] + b * (cq[1] + b * (cq[2] + b * cq[3])))
    psi = _digamma_one(total.astype(dtype)) - _digamma_one(alpha.astype(dtype))
    return p / q * (x * psi / (total - alpha))


def _dirichlet_grad_array(x, alpha, total):
    """ATen's dirichlet_grad_one elementwise on same-shaped NumPy arrays of one floating dtype: the
    scaled reparameterized gradient -(d/d alpha) cdf / pdf / (1 - x) of x ~ Beta(alpha, total - alpha)."""
    st = x.dtype.type
    beta = total - alpha
    boundary = total * x * (st(1) - x)
    small = (x <= 0.5) & (boundary < 2.5)
    near_one = ~small & (x >= 0.5) & (boundary < 0.75)
    mid = ~(small | near_one) & (alpha > 6) & (beta > 6)
    rational = ~(small | near_one | mid)
    out = np.empty(x.shape, x.dtype)
    with np.errstate(all="ignore"):
        if small.any():
            out[small] = _beta_grad_alpha_small(x[small], alpha[small], beta[small])
        if near_one.any():
            out[near_one] = -_beta_grad_beta_small(st(1) - x[near_one], beta[near_one], alpha[near_one])
        xd, ad, td = x.astype(np.float64), alpha.astype(np.float64), total.astype(np.float64)
        if mid.any():
            out[mid] = _beta_grad_alpha_mid(xd[mid], ad[mid], td[mid] - ad[mid])
        if rational.any():
            out[rational] = _dirichlet_grad_rational(xd[rational], ad[rational], td[rational], x.dtype)
    return out


_SampleDirichletBackward = no_derivative("NotImplemented", "derivative for aten::_sample_dirichlet is not implemented",
                                         RuntimeError)
_DirichletGradBackward = no_derivative("NotImplemented", "derivative for aten::_dirichlet_grad is not implemented",
                                       RuntimeError)


def _float_kernel(array, kernel):
    if array.dtype != _F32 and array.dtype != _F64:
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{B.scalar_name(array.dtype)}'")


def _sample_dirichlet(concentration, generator=None):
    """Dirichlet draws along the last dim (torch._sample_dirichlet): Gamma(alpha) draws in double,
    normalised by their sum, rounded to the concentration's dtype and kept inside (0, 1)."""
    a = concentration._data
    _float_kernel(a, "dirichlet")
    gen = generator_for(concentration.device, generator)
    xp = gen._xp
    a64 = a.astype(np.float64)   # (torch draws with the alpha in double, unlike _standard_gamma)
    if xp is np and a.size <= _EXACT_GAMMA_LIMIT:
        g = gen.gamma_doubles(a64)
    else:
        with gen._on_device():
            g = xp.asarray(gen._rng.standard_gamma(a64))
    g = xp.maximum(g, np.finfo(np.float64).tiny)
    total = _sum_last(xp, g)
    with B.errstate(xp, invalid="ignore"):
        x = (g / (total if g.ndim else total[0])).astype(a.dtype)
    # std::min(1 - ulp, std::max(tiny, x)): a NaN ends at tiny, as there
    lo, hi = a.dtype.type(np.finfo(a.dtype).tiny), np.nextafter(a.dtype.type(1), a.dtype.type(0))
    x = B.where(xp, lo < x, x, lo)
    x = B.where(xp, x < hi, x, hi)
    node = new_node(_SampleDirichletBackward, (concentration,)) if needs_grad(concentration) else None
    return record(x, node)


def _dirichlet_grad(x, alpha, total):
    """d x / d alpha of Dirichlet draws x, as a Beta(alpha, total - alpha) marginal's reparameterized
    gradient scaled by 1 / (1 - x) (torch._dirichlet_grad; total is alpha's sum, expanded)."""
    xa = x._data
    for other in (alpha, total):
        if other._data.dtype != xa.dtype:
            raise RuntimeError(f"Found dtype {B.scalar_name(other._data.dtype)} but expected "
                               f"{B.scalar_name(xa.dtype)}")
    _float_kernel(xa, "_dirichlet_grad_cpu")
    B.check_same_device("_dirichlet_grad", xa, alpha._data, total._data)
    xt, at, tt = ember.broadcast_tensors(x.detach(), alpha.detach(), total.detach())
    xp = B.xp_of(xa)
    out = _dirichlet_grad_array(*(_host(t._data) for t in (xt, at, tt)))
    if xp is not np:
        out = xp.asarray(out)
    node = new_node(_DirichletGradBackward, (x, alpha, total)) if needs_grad(x, alpha, total) else None
    return record(out, node)
