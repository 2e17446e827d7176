"""Higher-order gradients (create_graph=True) and torch.autograd.functional.

Every op whose node declares ``_double_backward`` is differentiated twice and three times against
torch (float64), and the gradient-of-a-gradient is also checked against central differences of
ember's own first derivative.  Ops without a Tensor formula must refuse with a message that names
the node, never return a silently wrong second derivative.
"""
import numpy as np
import pytest

import ember
from tests.conftest import numeric_grad, requires_torch

RNG = np.random.default_rng(0)
X = RNG.uniform(0.3, 1.5, (3, 4))
Y = RNG.uniform(0.3, 1.5, (3, 4))
V = RNG.standard_normal((3, 4))
M = RNG.standard_normal((4, 5))


def _sq(t, x, y):
    """A well-conditioned 3x3 matrix of x and y."""
    return x[:, :3] * y[:, 1:] + 2 * t.eye(3, dtype=t.float64)


def _spd(t, x, y):
    """A symmetric positive-definite 3x3 matrix of x and y."""
    m = _sq(t, x, y)
    return m @ m.T


def _conv_in(t, x, y, c):
    return (x * y).reshape(1, 3, 4).repeat(2, c, 2, 2)


# f(lib, x, y) -> tensor, for x, y of shape (3, 4)
CASES = {
    "add": lambda t, x, y: x * x + y * 2,
    "sub_rsub": lambda t, x, y: (x - y) * (2 - x * y),
    "mul": lambda t, x, y: x * y * x,
    "div": lambda t, x, y: x / y,
    "neg": lambda t, x, y: -(x * y),
    "pow": lambda t, x, y: (x * y) ** 2 + (x * y) ** 3.5,
    "exp": lambda t, x, y: (x * y).exp(),
    "log": lambda t, x, y: (x * y).log(),
    "sin_cos": lambda t, x, y: (x * y).sin() * x.cos(),
    "tanh": lambda t, x, y: (x * y).tanh(),
    "sigmoid": lambda t, x, y: (x * y).sigmoid(),
    "sqrt_rsqrt": lambda t, x, y: (x * y).sqrt() + x.rsqrt(),
    "abs": lambda t, x, y: (x - y).abs() * x,
    "relu": lambda t, x, y: t.relu(x - y) * x,
    "log1p_expm1": lambda t, x, y: (x * y).log1p() * x.expm1(),
    "reciprocal": lambda t, x, y: (x * y).reciprocal(),
    "sinh_cosh_atan": lambda t, x, y: (x * y).sinh() + x.cosh() * y.atan(),
    "sum": lambda t, x, y: (x * y).sum() * x + (x * y).sum(1, keepdim=True) * y,
    "mean": lambda t, x, y: (x * y).mean() * x + (x * y).mean(0) * y,
    "norm": lambda t, x, y: (x * y).norm() * x + (x * y).norm(2, dim=1, keepdim=True) * y,
    "vector_norm_p3": lambda t, x, y: t.linalg.vector_norm(x * y, ord=3, dim=1, keepdim=True) * x,
    "vector_norm_dtype": lambda t, x, y: t.linalg.vector_norm(x * y, dim=1, keepdim=True, dtype=t.float64) * x
    + t.linalg.vector_norm(x * y, 3, dtype=t.float64) * y + t.linalg.vector_norm(x, keepdim=True, dtype=t.float64) * x,
    "views": lambda t, x, y: (x * y).view(12).reshape(4, 3).t() * y,
    "permute_transpose": lambda t, x, y: (x * y)[None].permute(2, 0, 1) * x.transpose(0, 1)[:, None, :],
    "unsqueeze_expand": lambda t, x, y: (x * y)[:, :1].expand(3, 4).unsqueeze(0).squeeze(0) * x,
    "clone_slice": lambda t, x, y: (x * y).clone()[1:, ::2] * x[:2, 1:3],
    "mm": lambda t, x, y: (x * y) @ t.tensor(M) @ t.tensor(M).T,
    "matmul_batched": lambda t, x, y: t.matmul((x * y).reshape(3, 2, 2), x.reshape(3, 2, 2)),
    "linear": lambda t, x, y: t.tanh(t.nn.functional.linear(x, y, x[:, 0])) ** 2,
    "where_maximum": lambda t, x, y: t.where(x > y, x * y, y) + t.maximum(x, y * 0.9),
    "leaky_relu": lambda t, x, y: t.nn.functional.leaky_relu(x - y, 0.2) * x,
    "elu": lambda t, x, y: t.nn.functional.elu(x - y) * x,
    "softplus_silu": lambda t, x, y: t.nn.functional.softplus((x - y) * 3, beta=2) * t.nn.functional.silu(x - y),
    "softmax": lambda t, x, y: t.softmax(x * y, 1) * x + t.log_softmax(x * y, 0) * y,
    "mse_loss": lambda t, x, y: t.nn.functional.mse_loss(x * x, y) * x + t.nn.functional.mse_loss(x, y * y, reduction="none"),
    "cross_entropy": lambda t, x, y: t.nn.functional.cross_entropy(x * y, t.tensor([1, 0, 3])) * x
    + t.nn.functional.cross_entropy(x * y, t.tensor([1, 0, 3]), label_smoothing=0.1,
                                    weight=t.tensor([1.0, 2, 3, 4], dtype=t.float64)),
    "cross_entropy_probabilities": lambda t, x, y: t.nn.functional.cross_entropy(x * y, t.softmax(y.detach(), 1)) * x
    + t.nn.functional.cross_entropy(x * y, t.softmax(y.detach(), 0), label_smoothing=0.2, reduction="none",
                                    weight=t.tensor([1.0, 2, 3, 4], dtype=t.float64))[:, None] * y
    + t.nn.functional.cross_entropy((x * y)[0], t.softmax(y.detach()[1], 0), reduction="sum")
    + t.nn.functional.cross_entropy(x, t.softmax(x * y, 1), label_smoothing=0.1, reduction="none")[:, None] * y
    + t.nn.functional.cross_entropy(x * x, y.softmax(1) * 2, weight=t.tensor([1.0, 2, 3, 4], dtype=t.float64)),
    "advanced_index_and_mask": lambda t, x, y: (x * y)[t.tensor([0, 2, 2]), :][:, t.tensor([1, 3])].sum(0)
    * x[0, :2] + (x * x)[x > 1.0].sum(),
    "gather": lambda t, x, y: t.gather(x * y, 1, t.tensor([[0, 2], [1, 1], [3, 0]])) * x[:, :2],
    "cumsum": lambda t, x, y: t.cumsum(x * y, 1) * x,
    "embedding": lambda t, x, y: t.nn.functional.embedding(t.tensor([[0, 2], [2, 1]]), x * y, padding_idx=1)
    + t.nn.functional.embedding(t.tensor([[0, 2], [2, 2]]), x * x, scale_grad_by_freq=True),
    "nll_loss": lambda t, x, y: t.nn.functional.nll_loss(t.log_softmax(x * y, 1), t.tensor([1, 0, 3]), reduction="none"),
    "conv2d": lambda t, x, y: t.nn.functional.conv2d(_conv_in(t, x, y, 2), y[:2, :].reshape(2, 2, 2, 1),
                                                     bias=x[0, :2], stride=2, padding=(1, 0)),
    "conv2d_same_dilated": lambda t, x, y: t.nn.functional.conv2d(_conv_in(t, x, y, 1), x.reshape(1, 3, 2, 2)[:, :1],
                                                                  dilation=(2, 1), padding="same"),
    "conv1d_unbatched": lambda t, x, y: t.nn.functional.conv1d((x * y), y[:2, :3].reshape(2, 3, 1) * x[:2, 0:1, None],
                                                               padding=1),
    "conv_transpose2d": lambda t, x, y: t.nn.functional.conv_transpose2d(_conv_in(t, x, y, 1), x.reshape(1, 3, 2, 2)[:, :2],
                                                                         stride=2, padding=1),
    "hardtanh_relu6_threshold": lambda t, x, y: (t.nn.functional.hardtanh(x - y, -0.3, 0.4)
                                                 + t.nn.functional.relu6((x - y) * 9)
                                                 + t.nn.functional.threshold(x - y, 0.1, -2.0)) * x,
    "hardswish": lambda t, x, y: t.nn.functional.hardswish((x - y) * 4) * y,
    "clamp": lambda t, x, y: (x * y).clamp(0.3, 1.0) * x + (x * y).clamp(min=y * 0.8) * y,
    "floor_sign": lambda t, x, y: (x * 3).floor() * x + (x - y).sign() * y * x,
    "max_min_amax": lambda t, x, y: (x * y).max() * x + (x * y).min(1, keepdim=True)[0] * y
    + (x * y).amax(0) * x + (x * y).max(0)[0],
    "sort_topk_kthvalue_median": lambda t, x, y: (x * y).sort(1)[0] * x + (x * y).topk(2, 0)[0].sum(0) * y[0]
    + (x * y).kthvalue(2, 1)[0][:, None] * x + (x * y).median() * y,
    "cummax": lambda t, x, y: (x * y).cummax(1)[0] * x,
    "var_std_logsumexp": lambda t, x, y: (x * y).var() * x + (x * y).std(1, keepdim=True) * y
    + (x * y).logsumexp(0) * x,
    "l1_smooth_l1": lambda t, x, y: t.nn.functional.l1_loss(x * y, y) * x
    + t.nn.functional.smooth_l1_loss(x * 2, y, beta=0.5, reduction="none") * y,
    "index_select_scatter": lambda t, x, y: (x * y).index_select(1, t.tensor([0, 2, 2])).sum(1, keepdim=True) * x
    + t.zeros(3, 6, dtype=t.float64).scatter(1, t.tensor([[0, 5], [1, 1], [3, 2]]), (x * y)[:, :2])[:, :4] * y
    + t.zeros(3, 6, dtype=t.float64).scatter_add(1, t.tensor([[0, 5], [1, 1], [3, 2]]), (x * x)[:, 1:3])[:, 1:5] * x,
    "masked_fill_select": lambda t, x, y: (x * y).masked_fill(x > y, 0.5) * x
    + (x * y).masked_select(x > y).sum() * y,
    "flip_roll_tril": lambda t, x, y: (x * y).flip(0, 1) * x + (x * y).roll(2, 1) * y + (x * y).roll(5) * x
    + (x * y).tril(1) * y + (x * y).triu() * x,
    "diagonal_trace": lambda t, x, y: (x * y).diagonal(1).sum() * x + (x * y).trace() * y
    + (x * y)[:, :3].diag().sum() * x,
    "pad_modes": lambda t, x, y: t.nn.functional.pad((x * y)[None], (1, 2), mode="reflect")[0, :, :4] * x
    + t.nn.functional.pad((x * y)[None, None], (1, 1, 2, 0), mode="replicate")[0, 0, 1:4, 2:] * y,
    "interpolate": lambda t, x, y: t.nn.functional.interpolate((x * y)[None, None], scale_factor=2)[0, 0, ::2, 1::2] * x
    + t.nn.functional.interpolate((x * y)[None, None], size=(4, 5), mode="bilinear")[0, 0, 1:, :4] * y,
    "pixel_shuffle": lambda t, x, y: t.nn.functional.pixel_shuffle((x * y).reshape(1, 4, 3, 1), 2).reshape(3, 4) * x
    + t.nn.functional.pixel_unshuffle((x * x).reshape(1, 1, 2, 6), 2).reshape(3, 4) * y,
    "prod_cumprod": lambda t, x, y: (x * y).prod() * x + (x * y).prod(1, keepdim=True) * y + (x * y).prod(0) * x
    + (x * y).cumprod(1) * y,
    "einsum_outer_dot": lambda t, x, y: t.einsum("ij,kj->ik", x * y, x).sum(1, keepdim=True) * y
    + t.einsum("ij,j->i", x, y[0])[:, None] * x + t.outer(x[0], y[1])[:3] * x + t.dot(x[1], y[2] * x[1]) * y,
    "linalg_det_inv_cross": lambda t, x, y: t.linalg.det(x[:, :3] + y[:, 1:]) * x
    + t.linalg.inv(x[:, :3] * y[:, 1:] + 2 * t.eye(3, dtype=t.float64)).sum(1, keepdim=True) * y
    + t.linalg.cross(x[:, :3], y[:, 1:] * x[:, :3]).sum(1, keepdim=True) * x,
    "logcumsumexp": lambda t, x, y: (x * y).logcumsumexp(1) * x + (x * 3).logcumsumexp(0) * y,
    "aminmax": lambda t, x, y: (x * y).aminmax()[0] * x + (x * y).aminmax(dim=1, keepdim=True)[1] * y,
    "conv2d_groups": lambda t, x, y: t.nn.functional.conv2d(_conv_in(t, x, y, 4), x.reshape(4, 1, 3, 1)[:, :, :2],
                                                            groups=4, padding=1)[0, :3, :3, :4].sum(0) * x
    + t.nn.functional.conv1d((x * y).reshape(1, 4, 3), y.reshape(2, 2, 3), groups=2)[0, :, 0].sum() * y,
    # an operand's detached alias shares its array but is a constant
    "detached_aliases": lambda t, x, y: x.detach() * x * y + x / x.detach() + t.atan2(x.detach(), x * y)
    + t.nn.functional.linear(x, x.detach()).sum(1, keepdim=True) * y + (x.detach().T @ (x * y)).sum(0),
    # elementwise math
    "log2_log10_tan": lambda t, x, y: (x * y).log2() + x.log10() * (x * y * 0.5).tan(),
    "asin_acos_hyperbolic": lambda t, x, y: (x * y * 0.4).asin() + (x * 0.5).acos() * (x * y).asinh()
    + (x + 1).acosh() * (y * 0.5).atanh(),
    "erf_erfc_erfinv": lambda t, x, y: (x * y).erf() + x.erfc() * (x * y * 0.3).erfinv(),
    "exp2_sinc_frac_deg2rad": lambda t, x, y: (x * y).exp2() + (x * y).sinc() * x + (x * y).frac() * x
    + (x * y).deg2rad() * x + (x * y).rad2deg() * y,
    "lgamma_digamma_polygamma": lambda t, x, y: (x * y).lgamma() + (x * y).digamma() * x + t.polygamma(2, x * y)
    + t.special.multigammaln(x * y + 2, 3),
    "special": lambda t, x, y: t.special.entr(x * y) + t.special.erfcx(x * y) + t.special.ndtri(x * 0.5)
    + t.special.xlog1py(x, y * y) + t.special.xlog1py(x, 2.0) + t.special.log_ndtr(x * y - 1) + t.special.ndtr(x * y),
    "special_bessel": lambda t, x, y: t.special.i0(x * y) + t.special.i0e(x - y) + t.special.i1(x * y - 1)
    + t.special.i1e(x - y),
    # (torch differentiates zeta and gammainc in their second operand only)
    "zeta_gammainc": lambda t, x, y: t.special.zeta(x.detach() + 2, y) + t.special.zeta(3.0, x * y)
    + t.special.gammainc(x.detach() * 2, y) * x + t.special.gammaincc(y.detach(), x * y)
    + t.special.gammainc(t.tensor(2.0, dtype=t.float64), x) + t.special.zeta(x.detach() + 1.5, y[:1]),
    "fmod_remainder": lambda t, x, y: t.fmod(x * 3, y) * x + t.remainder(x * 3, y) * y + t.fmod(x, 0.7) * x
    + t.remainder(x, 0.7) * y,
    "pow_tensor": lambda t, x, y: t.pow(x, y) + 2.0 ** (x * y),
    "atan2_hypot": lambda t, x, y: t.atan2(x, y * y) + t.hypot(x, y) * x,
    "lerp_addcmul_addcdiv": lambda t, x, y: t.lerp(x, y * y, 0.3) + t.lerp(x, y, x * y)
    + t.addcmul(x, x, y, value=0.5) + t.addcdiv(y, x, y * y, value=2),
    "logit": lambda t, x, y: t.logit(x * 0.5) * y + t.logit(y * 0.6, eps=0.2) * x,
    "xlogy_logaddexp2": lambda t, x, y: t.xlogy(x, y * y) + t.xlogy(x, 2.0) * y + t.logaddexp2(x, y) * x,
    "fmax_fmin_clamp_min_max": lambda t, x, y: t.fmax(x, y) * x + t.fmin(x, y) * y + (x * y).clamp_min(0.5) * x
    + (x * y).clamp_max(0.6) * y + t.clamp_min(x * y, y) * x + t.clamp_max(x, y * y) * y,
    "masked_fill_nan_to_num": lambda t, x, y: (x * y).masked_fill(x > 1, 0.) * x + t.nan_to_num(x * y) * y,
    # activations
    "prelu": lambda t, x, y: t.nn.functional.prelu(x - y, t.tensor([0.25], dtype=t.float64))
    + t.nn.functional.prelu((x - y).reshape(1, 3, 4), y[:, 0]).reshape(3, 4),
    "glu": lambda t, x, y: t.nn.functional.glu(x * y) + t.nn.functional.glu(x - y, 1)[:1].sum(),
    "gelu": lambda t, x, y: t.nn.functional.gelu(x - y) * x + t.nn.functional.gelu(x * y - 1, approximate="tanh"),
    "mish_logsigmoid_softsign_tanhshrink": lambda t, x, y: t.nn.functional.mish(x - y)
    + t.nn.functional.logsigmoid(x - y) * y + t.nn.functional.softsign(x - y) * x + t.nn.functional.tanhshrink(x * y),
    "elu_celu_selu_inplace_fix": lambda t, x, y: t.nn.functional.elu((x - y) * 1, inplace=True) * x
    + t.nn.functional.celu((x - y) * 2, alpha=0.5, inplace=True) * y + t.nn.functional.selu((x - y) * 1, inplace=True)
    + t.fix(x * 3) * y,
    "inplace": lambda t, x, y: t.nn.functional.mish(x * y, inplace=True) + t.nn.functional.silu(x - y, inplace=True) * x
    + t.nn.functional.hardswish((x - y) * 4, inplace=True) * y + (x * y).sinc_() + (x * 1).atan2_(y) * y
    + (x * y * 0.3).erfinv_() * x + (x * 1).xlogy_(y) + (x * 1).pow_(y) * y,
    "shrinks_rrelu": lambda t, x, y: t.nn.functional.hardshrink(x - y, 0.2) * x
    + t.nn.functional.softshrink(x - y, 0.2) * y + t.nn.functional.rrelu(x - y, training=False) * x,
    "normalize_cosine_similarity": lambda t, x, y: t.nn.functional.normalize(x * y) * x
    + t.nn.functional.normalize(x - y, p=3, dim=0) + t.nn.functional.cosine_similarity(x * y, y, 1)[:, None] * x
    + t.nn.functional.cosine_similarity(x, y[:1], 1)[:, None] * x,
    "rms_norm": lambda t, x, y: t.nn.functional.rms_norm(x * y, (4,), y[0] * 2) * x
    + t.nn.functional.rms_norm(x - y, (3, 4), eps=0.1),
    "pairwise_distance_triplet": lambda t, x, y: t.nn.functional.pairwise_distance(x, y * y)[:, None] * x
    + t.nn.functional.pairwise_distance(x, y, p=3, keepdim=True) * y
    + t.nn.functional.triplet_margin_loss(x, y, x * y * 0.5),
    # losses
    "huber_soft_margin_bce": lambda t, x, y: t.nn.functional.huber_loss(x * 2, y, delta=0.5) * x
    + t.nn.functional.soft_margin_loss(x - y, t.ones(3, 4, dtype=t.float64))
    + t.nn.functional.binary_cross_entropy((x - y).sigmoid(), y * 0.5)
    + t.nn.functional.binary_cross_entropy_with_logits(x - y, y * 0.5,
                                                       pos_weight=t.tensor([1.0, 2, 3, 4], dtype=t.float64)),
    "kl_div_poisson_nll": lambda t, x, y: t.nn.functional.kl_div(t.log_softmax(x * y, 1), t.softmax(y, 1),
                                                                 reduction="batchmean")
    + t.nn.functional.kl_div(x, y, log_target=True, reduction="sum") + t.nn.functional.poisson_nll_loss(x, y)
    + t.nn.functional.poisson_nll_loss(x, y, log_input=False, full=True, reduction="sum"),
    "margin_ranking_hinge": lambda t, x, y: t.nn.functional.margin_ranking_loss(
        x, y * y, t.tensor([[1.0, -1, 1, 1]], dtype=t.float64)) * x
    + t.nn.functional.hinge_embedding_loss(x - y, t.tensor([1.0, -1, 1, -1], dtype=t.float64)) * x
    + t.nn.functional.soft_margin_loss(x, y.detach()),
    "multilabel_soft_gaussian_nll_cosine_embedding": lambda t, x, y: t.nn.functional.multilabel_soft_margin_loss(
        x - y, (y > 1).double()) + t.nn.functional.gaussian_nll_loss(x, y, x * y)
    + t.nn.functional.gaussian_nll_loss(x, y, y[:, 0] * x[:, 1], full=True, reduction="sum")
    + t.nn.functional.cosine_embedding_loss(x, y, t.tensor([1.0, -1, 1], dtype=t.float64)),
    # fused products and bilinear
    "addmv_addbmm_baddbmm": lambda t, x, y: t.addmv(x[:, 0], x * y, y[0], beta=0.5, alpha=2)[:, None] * x
    + t.addbmm(x[:2, :2], (x * y).reshape(3, 2, 2), x.reshape(3, 2, 2), alpha=0.5).sum() * y
    + t.baddbmm(y.reshape(3, 2, 2), (x * y).reshape(3, 2, 2), x.reshape(3, 2, 2), beta=2).reshape(3, 4) * x,
    "bilinear_square_": lambda t, x, y: t.nn.functional.bilinear(x, y * y, (x * y)[:2, :, None].expand(2, 4, 4),
                                                                 x[0, :2]).sum(1, keepdim=True) * x
    + (x * y).square_() * x,
    "var_mean_std_mean": lambda t, x, y: t.var_mean(x * y, 1, keepdim=True)[0] * x + t.var_mean(x * y)[1] * y
    + t.std_mean(x * y, 0)[0] * x + t.std_mean(x * y, 0, correction=0)[1] * y
    + t.std_mean(x * y)[0] * t.std_mean(x * y)[1] * x,
    # index writes, rotations, windows, strided views, block and diagonal matrices
    "index_add_copy_fill": lambda t, x, y: (x * y).index_add(1, t.tensor([0, 2, 0]), (x * x)[:, :3], alpha=2) * x
    + (x * y).index_copy(0, t.tensor([2, 0]), (y * y)[:2]) * y + (x * y).index_fill(1, t.tensor([1, 3]), -1.0) * x,
    "masked_scatter_put": lambda t, x, y: (x * y).masked_scatter(x > y, (y * y).flip(0)) * x
    + (x * y).masked_scatter((x > 1)[0], y * x) * y
    + (x * y).put(t.tensor([1, 5, 5]), (x * x)[0, :3], accumulate=True) * x
    + (x * y).put(t.tensor([7, 2]), (y * y)[1, :2]) * y,
    "scatter_reduce": lambda t, x, y: (x * y).scatter_reduce(1, t.tensor([[0, 1], [3, 3], [2, 0]]),
                                                                      (x * x)[:, :2], "sum") * x
    + (x * y).scatter_reduce(1, t.tensor([[0, 1], [3, 3], [2, 0]]), (y * y)[:, 1:3], "mean", include_self=False) * y
    + (x * y).scatter_reduce(1, t.tensor([[0, 1], [3, 3], [2, 0]]), (x * x)[:, :2], "amax") * x
    + (x * y).scatter_reduce(1, t.tensor([[0, 1], [3, 3], [2, 0]]), (y * y)[:, 1:3], "amin", include_self=False) * y
    + (x * 0).scatter_reduce(1, t.tensor([[0, 1], [1, 1], [2, 0]]), (y * 0)[:, 1:3], "amax") * y,
    "rot90_unfold_as_strided": lambda t, x, y: (x * y).rot90(1, (0, 1)).T * x + (x * y).rot90(-3, (1, 0)).T * y
    + (x * y).unfold(1, 2, 1).sum(-1)[:, :1] * x + (x * y).unfold(0, 2, 1)[..., 1].sum() * y
    + t.as_strided(x * y, (3, 2), (1, 2), 1).sum(1, keepdim=True) * x,
    "block_diag_diag_embed": lambda t, x, y: t.block_diag(x * y, y[0], (x * x)[:2, :1])[:3, 1:5] * x
    + t.diag(x[0] * y[1], 1)[:3, :4] * y + t.diag_embed(x * y, -1)[:, :3, 1:].sum(1) * x
    + t.diagflat(x[1] * y[0])[:3] * y,
    # complex numbers: built from x and y, taken apart again
    "complex_polar_views": lambda t, x, y: t.view_as_real(t.complex(x, y * y) * t.complex(y, x) * x)[..., 0]
    + t.view_as_real(t.polar(x * y, y * x) * t.complex(x, y))[..., 1] * x
    + t.view_as_real(t.view_as_complex(t.stack([x, y * x], -1)) * t.complex(x * x, y)).sum(-1) * y
    + t.angle(t.complex(x - y, y * x) * t.complex(y, x)) * x + t.angle(x - y) * y,
    "fft": lambda t, x, y: t.view_as_real(t.fft.fft(x * y) * t.fft.ifft(t.complex(x, y), n=5, norm="ortho")[:, :4])[..., 0]
    + t.view_as_real(t.fft.rfft2(x * y, s=(3, 6)) * t.fft.fftn(t.complex(y, x), dim=0)[:, :4])[..., 1] * x
    + t.fft.irfft(t.fft.rfft(x * y) * t.complex(x, y)[:, :3], n=4) * y + t.fft.irfftn(t.complex(x * y, x), s=(3, 5), norm="forward")[:, :4]
    + t.fft.hfft(t.complex(x * y, y)[:, :3], n=4) * x + t.view_as_real(t.fft.ihfft(x * y) * x[:, :3]).sum(-1)[:, :1] * y,
    "affine_grid": lambda t, x, y: t.nn.functional.affine_grid((x * y)[:2, :3].reshape(1, 2, 3), (1, 1, 3, 4),
                                                               align_corners=False).reshape(3, 8)[:, :4] * x
    + t.nn.functional.affine_grid((x * x).reshape(1, 3, 4), (1, 1, 2, 2, 3), align_corners=True).reshape(3, 12)[:, 2:6] * y,
    # linalg: square 3x3 matrices from x and y
    "linalg_slogdet_solve": lambda t, x, y: t.linalg.slogdet(_sq(t, x, y))[1] * x
    + t.linalg.slogdet(-_sq(t, y, x))[1] * t.linalg.slogdet(_sq(t, x, x))[0] * y
    + t.linalg.solve(_sq(t, x, y), x[:, 1:] * y[:, :3]).sum(1, keepdim=True) * x
    + t.linalg.solve_ex(_sq(t, y, x), x[0, :3] * y[1, 1:])[0][:, None] * y
    + t.linalg.solve(_sq(t, x, y)[None].expand(2, 3, 3), (x * y)[:, :3], left=False).sum(0)[:, :1] * x,
    "linalg_solve_triangular": lambda t, x, y: t.linalg.solve_triangular(_sq(t, x, y), x * y, upper=True) * x
    + t.linalg.solve_triangular(_sq(t, y, x), (x * y)[:, :3].T, upper=False, left=False, unitriangular=True)
    .sum(0, keepdim=True).T * y,
    "linalg_cholesky": lambda t, x, y: t.linalg.cholesky(_spd(t, x, y)).sum(1, keepdim=True) * x
    + t.linalg.cholesky_ex(_spd(t, y, x), upper=True)[0].sum(0)[:, None] * y
    + t.cholesky_solve(x * y, t.linalg.cholesky(_spd(t, x, y))) * x
    + t.cholesky_solve((x * y)[:, :1], _sq(t, x, y).triu(), upper=True) * y
    + t.cholesky_inverse(t.linalg.cholesky(_spd(t, y, x))).sum(1, keepdim=True) * x
    + t.cholesky_inverse(_sq(t, x, y), upper=True).sum(0)[:, None] * y,
    "linalg_matrix_exp_eigh": lambda t, x, y: t.linalg.matrix_exp(_sq(t, x, y) * 0.3).sum(1, keepdim=True) * x
    + t.linalg.eigh(_spd(t, x, y))[0][:, None] * y
    + (lambda e: (e[1] * e[1] * e[0]).sum(1, keepdim=True))(t.linalg.eigh(_spd(t, y, x) + _sq(t, x, x))) * x
    + t.linalg.eigvalsh(_spd(t, y, y), UPLO="U")[:, None] * x,
    # (factors up to sign enter squared)
    "linalg_qr_svd": lambda t, x, y: (lambda q: (q[0] * q[0]).sum(1, keepdim=True) * x + (q[1] ** 2).sum(0)[:, None] * y)(
        t.linalg.qr(_sq(t, x, y)))
    + (lambda q: (q[0] ** 2).sum() * x + (q[1] ** 2)[:, :3].sum(0)[:, None] * y)(t.linalg.qr((x * y).T))
    + (lambda q: (q[0] ** 2)[:, :1] * x + (q[1] ** 2).sum() * y)(t.linalg.qr(x * y + 1))
    + (lambda u: (u[0] * u[0] * u[1]).sum(1, keepdim=True) * x + (u[2] * u[2]).sum(0)[:3, None] * y)(
        t.linalg.svd(_sq(t, x, y)))
    + (lambda u: (u[0] ** 2).sum(1, keepdim=True) * x + u[1][:, None] * (u[2] ** 2).sum(1, keepdim=True) * y)(
        t.linalg.svd(x * y, full_matrices=False))
    + t.linalg.svdvals(x * y + y)[:, None] * x
    + (lambda u: (u[0] * u[0]).sum(1, keepdim=True) * x + (u[2] ** 2)[:3, :1] * y + u[1][:, None] * x)(t.svd(x * y)),
    "linalg_lu_pinv_lstsq": lambda t, x, y: (lambda p: p[1].sum(1, keepdim=True) * x + p[2].sum(0)[:, None] * y)(
        t.linalg.lu(_sq(t, x, y)))
    + (lambda p: p[1].sum(1, keepdim=True) * x + p[2].sum() * y)(t.linalg.lu(x * y))
    + (lambda p: p[1][:3].sum(0)[:, None] * x + p[2].sum(1, keepdim=True) * y)(t.linalg.lu((x * y).T))
    + t.linalg.lu_factor_ex(_sq(t, y, x))[0].sum(1, keepdim=True) * x
    + t.linalg.lu_factor(x * y)[0] * y + t.linalg.lu_factor((y * x).T)[0].sum(0)[:, None] * x
    + t.linalg.pinv(x * y).T * x + t.linalg.pinv(_sq(t, x, y)).sum(0)[:, None] * y
    + t.linalg.lstsq(x * y, y * y).solution.sum(0) * x
    + t.linalg.lstsq(_sq(t, x, y), (x * y)[:, 0]).solution[:, None] * y,
}


def _derivatives(lib, f, third=True):
    x = lib.tensor(X, requires_grad=True)
    y = lib.tensor(Y, requires_grad=True)
    out = f(lib, x, y)
    w = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
    gx, gy = lib.autograd.grad((out * w).sum(), (x, y), create_graph=True)
    s = (gx * lib.tensor(V)).sum() + (gy ** 2).sum()
    hx, hy = lib.autograd.grad(s, (x, y), create_graph=third, allow_unused=True, materialize_grads=True)
    res = [gx, gy, hx, hy]
    if third and hx.requires_grad:
        res.append(lib.autograd.grad(hx.sum(), x)[0])
    return [r.detach().numpy() for r in res]


@requires_torch
@pytest.mark.parametrize("name", list(CASES))
def test_second_and_third_derivatives_match_torch(oracle, name):
    want = _derivatives(oracle, CASES[name], third=name not in TORCH_THIRD_WRONG)
    got = _derivatives(ember, CASES[name], third=name not in TORCH_THIRD_WRONG)
    for w, g, what in zip(want, got, ("grad x", "grad y", "2nd x", "2nd y", "3rd x")):
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-9, err_msg=f"{name}: {what}")


# torch's own third derivative is off here (NaN for most elements, and ~1% off for the others)
TORCH_THIRD_WRONG = {"logcumsumexp"}


@pytest.mark.parametrize("name", sorted(TORCH_THIRD_WRONG))
def test_third_derivative_matches_central_differences(name):
    f = CASES[name]

    def second(xv):
        x, y = ember.tensor(xv, requires_grad=True), ember.tensor(Y, requires_grad=True)
        out = f(ember, x, y)
        w = ember.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
        gx, gy = ember.autograd.grad((out * w).sum(), (x, y), create_graph=True)
        return x, ember.autograd.grad((gx * ember.tensor(V)).sum() + (gy ** 2).sum(), x, create_graph=True)[0]
    x, hx = second(X)
    third = ember.autograd.grad(hx.sum(), x)[0].numpy()
    num = numeric_grad(lambda v: float(second(v)[1].detach().numpy().sum()), X)
    np.testing.assert_allclose(third, num, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["pow", "tanh", "norm", "softmax", "cross_entropy", "softplus_silu", "linear",
                                  "conv1d_unbatched", "lgamma_digamma_polygamma", "gelu", "glu",
                                  "normalize_cosine_similarity", "multilabel_soft_gaussian_nll_cosine_embedding"])
def test_gradient_of_gradient_matches_central_differences(name):
    f = CASES[name]

    def first(xv, create_graph):
        x = ember.tensor(xv, requires_grad=True)
        out = f(ember, x, ember.tensor(Y))
        w = ember.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
        return x, ember.autograd.grad((out * w).sum(), x, create_graph=create_graph)[0]
    x, g = first(X, True)
    second = ember.autograd.grad((g * ember.tensor(V)).sum(), x)[0].numpy()
    num = numeric_grad(lambda v: float((first(v, False)[1].numpy() * V).sum()), X)
    np.testing.assert_allclose(second, num, rtol=1e-5, atol=1e-6)


@requires_torch
def test_wgan_gradient_penalty_matches_torch(oracle):
    def run(lib):
        lib.manual_seed(0)
        n = lib.nn
        critic = n.Sequential(n.Conv2d(3, 4, 3, stride=2, padding=1), n.LeakyReLU(0.2), n.Flatten(),
                              n.Linear(4 * 4 * 4, 8), n.LeakyReLU(0.2), n.Linear(8, 1))
        real, fake = lib.randn(5, 3, 8, 8), lib.randn(5, 3, 8, 8)
        alpha = lib.rand(5, 1, 1, 1)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        score = critic(mixed)
        grads = lib.autograd.grad(score, mixed, grad_outputs=lib.ones_like(score), create_graph=True,
                                  retain_graph=True)[0]
        penalty = ((grads.reshape(5, -1).norm(2, dim=1) - 1) ** 2).mean()
        loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
        loss.backward()
        return [penalty.detach().numpy()] + [p.grad.numpy() for p in critic.parameters()]
    for w, g in zip(run(oracle), run(ember)):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=1e-6)


@requires_torch
def test_maml_inner_step_matches_torch(oracle):
    def run(lib):
        lib.manual_seed(1)
        net = lib.nn.Sequential(lib.nn.Linear(3, 6), lib.nn.ReLU(), lib.nn.Linear(6, 2))
        x, y = lib.randn(8, 3), lib.tensor([0, 1] * 4)
        params = list(net.parameters())
        loss = lib.nn.functional.cross_entropy(net(x), y)
        grads = lib.autograd.grad(loss, params, create_graph=True)
        fast = [p - 0.1 * g for p, g in zip(params, grads)]
        h = lib.relu(lib.nn.functional.linear(x, fast[0], fast[1]))
        meta = lib.nn.functional.cross_entropy(lib.nn.functional.linear(h, fast[2], fast[3]), y)
        meta.backward()
        return [meta.detach().numpy()] + [p.grad.numpy() for p in params]
    for w, g in zip(run(oracle), run(ember)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


def test_backward_with_create_graph_leaves_a_differentiable_grad():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.detach().numpy(), [3.0, 12.0, 27.0])
    g = x.grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0, 18.0])


def test_custom_function_backward_is_differentiated_again():
    class Cube(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x * x * g

    x = ember.tensor([1.0, 2.0], requires_grad=True)
    g, = ember.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    h, = ember.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0])


def test_unsupported_node_refuses_with_its_name():
    x = ember.tensor([0.5, 1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="cannot differentiate the backward of CdistBackward0"):
        ember.autograd.grad(ember.cdist((x * x)[None, :, None], x[None, :2, None]).sum(), x, create_graph=True)
    # a plain first-order pass through the same op is unaffected
    g, = ember.autograd.grad(ember.cdist((x * x)[None, :, None], x[None, :2, None]).sum(), x)
    assert g.shape == (3,)


@requires_torch
def test_mixed_dtype_operands_differentiate_twice_as_torch(oracle):
    def run(lib):
        x = lib.tensor([0.5, 1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = lib.tensor([1.5, 0.7, 1.2], dtype=lib.float32, requires_grad=True)
        out = ((x.float() ** 3).double().sum() + (x * y).sum() + lib.atan2(x, y).sum() + (x.to(lib.float32) / y).sum()
               + lib.xlogy(y, x).sum() + lib.maximum(x, y * y).sum())
        gx, gy = lib.autograd.grad(out, (x, y), create_graph=True)
        return [gx, gy] + list(lib.autograd.grad((gx * gx).sum() + (gy * gy).sum(), (x, y)))
    for w, g in zip(run(oracle), run(ember)):
        assert g.dtype == ember.float64 if w.dtype == oracle.float64 else g.dtype == ember.float32
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-5)


def test_losses_without_a_tensor_formula_refuse_with_their_name():
    # torch has no double backward for multi_margin_loss either; ember must not return a wrong one
    x = ember.tensor([[0.5, 1.0, 2.0]], requires_grad=True)
    loss = ember.nn.functional.multi_margin_loss(x * x, ember.tensor([1]))
    with pytest.raises(NotImplementedError, match="MultiMarginLossBackward0"):
        ember.autograd.grad(loss, x, create_graph=True)


@requires_torch
def test_tensor_hooks_see_graph_gradients(oracle):
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        seen = []
        y.register_hook(lambda g: seen.append(g.requires_grad) or g * 2)
        g, = lib.autograd.grad((y * x).sum(), x, create_graph=True)
        h, = lib.autograd.grad(g.sum(), x)
        return seen, g.detach().numpy(), h.numpy()
    (ts, tg, th), (es, eg, eh) = run(oracle), run(ember)
    assert es == ts == [True, False]   # the hook runs again in the second pass, as in torch
    np.testing.assert_allclose(eg, tg)
    np.testing.assert_allclose(eh, th)


# ---- torch.autograd.functional -----------------------------------------------------------------
def _functional(lib):
    F = lib.autograd.functional
    x = lib.tensor([[1.0, 2.0], [3.0, 0.5]], dtype=lib.float64)
    v = lib.tensor([[0.3, -1.0], [2.0, 0.1]], dtype=lib.float64)

    def f(x):
        return (x ** 2).sum(0) * x[0]

    def s(x):
        return (x ** 3).sum() + (x[0] * x[1]).sum()
    return [F.jacobian(f, x), F.jacobian(lambda a, b: (a * b, a.sum()), (x, x * 2)), F.hessian(s, x),
            F.hessian(lambda a, b: (a * b.exp()).sum(), (x, x.T.contiguous())),
            F.vjp(f, x, lib.tensor([1.0, -1.0], dtype=lib.float64)), F.jvp(f, x, v), F.vhp(s, x, v), F.hvp(s, x, v),
            F.jacobian(lambda x: lib.tanh(x @ x), x, create_graph=True)]


def _flat(o, acc):
    if isinstance(o, (tuple, list)):
        for i in o:
            _flat(i, acc)
    else:
        acc.append(o)
    return acc


def _structure(o):
    """The nesting of tuples around the tensors (a lone input gives a tensor, not a 1-tuple)."""
    return [_structure(i) for i in o] if isinstance(o, (tuple, list)) else "T"


@requires_torch
def test_autograd_functional_matches_torch(oracle):
    want, got = _functional(oracle), _functional(ember)
    assert _structure(got) == _structure(want)
    want, got = _flat(want, []), _flat(got, [])
    assert len(got) == len(want)
    for w, g in zip(want, got):
        assert tuple(g.shape) == tuple(w.shape) and g.requires_grad == w.requires_grad
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_autograd_functional_bad_input():
    F = ember.autograd.functional
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        F.jacobian(lambda x: x, [1.0])
    with pytest.raises(RuntimeError, match="single Tensor with a single element"):
        F.vjp(lambda x: x * 2, ember.ones(3))
    with pytest.raises(RuntimeError, match="should contain a single element"):
        F.hessian(lambda x: x * 2, ember.ones(3))


def _strict_cases(lib):
    """name -> call: torch refuses each (strict=True, or a strategy it does not support that way)."""
    F = lib.autograd.functional
    x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64)
    y = lib.tensor([1.5, 0.3], dtype=lib.float64)
    v2, v3 = lib.ones(2, dtype=lib.float64), lib.ones(3, dtype=lib.float64)

    def const(a):
        return lib.ones(2, dtype=lib.float64)

    def lin(a):
        return (a * 2).sum()

    def partial(a, b):
        return (a ** 2).sum()
    return {
        "vjp_const": lambda: F.vjp(const, x, v2, strict=True),
        "vjp_partial": lambda: F.vjp(partial, (x, y), strict=True),
        "jvp_const": lambda: F.jvp(const, x, v3, strict=True),
        "jvp_const_tuple": lambda: F.jvp(lambda a, b: (a * 2, const(b)), (x, y), (v3, v2), strict=True),
        "jacobian_const": lambda: F.jacobian(const, x, strict=True),
        "jacobian_partial": lambda: F.jacobian(partial, (x, y), strict=True),
        "jacobian_linear_create_graph": lambda: F.jacobian(lambda a: a * 2, x, strict=True, create_graph=True),
        "hessian_linear": lambda: F.hessian(lin, x, strict=True),
        "hessian_partial": lambda: F.hessian(partial, (x, y), strict=True),
        "vhp_linear": lambda: F.vhp(lin, x, v3, strict=True),
        "forward_mode_create_graph": lambda: F.jacobian(lin, x, strategy="forward-mode", vectorize=True,
                                                        create_graph=True),
        "bad_strategy": lambda: F.jacobian(lin, x, strategy="sideways"),
        "vectorize_and_strict": lambda: F.jacobian(lin, x, vectorize=True, strict=True),
    }


def _refusals(lib):
    out = {}
    for name, call in _strict_cases(lib).items():
        try:
            call()
            out[name] = None
        except Exception as e:
            out[name] = (type(e).__name__, str(e))
    return out


def test_autograd_functional_strict_mode_refuses_independent_outputs():
    got = _refusals(ember)
    assert all(v is not None for v in got.values()), got
    assert got["jacobian_partial"] == ("RuntimeError", "Output 0 of the user-provided function is independent of "
                                                       "input 1. This is not allowed in strict mode.")
    F = ember.autograd.functional
    x = ember.tensor([0.5, -1.0, 2.0], dtype=ember.float64)
    # forward-mode gives the reverse-mode numbers; a lone input's Hessian is a tensor
    np.testing.assert_allclose(F.jacobian(lambda a: a ** 2, x, strategy="forward-mode", vectorize=True).numpy(),
                               np.diag([1.0, -2.0, 4.0]))
    assert isinstance(F.hessian(lambda a: (a ** 3).sum(), x), ember.Tensor)


@requires_torch
def test_autograd_functional_strict_mode_matches_torch(oracle):
    assert _refusals(ember) == _refusals(oracle)


def test_grad_runs_only_the_part_of_the_graph_leading_to_its_inputs():
    # max_pool2d has no double backward, but the gradient w.r.t. its output never needs it
    x = ember.randn(1, 1, 4, 4, requires_grad=True)
    pooled = ember.nn.functional.max_pool2d(x, 2)
    g, = ember.autograd.grad((pooled * pooled).sin().sum(), pooled, create_graph=True)
    assert g.requires_grad
    g.sum().backward()   # first order through max_pool2d, as usual
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    # and a plain grad() leaves hooks of nodes upstream of its inputs alone, as torch does
    calls = []
    x.register_hook(lambda grad: calls.append(1))
    ember.autograd.grad((pooled * 2).sum(), pooled)
    assert calls == []


# ---- images: normalization and pooling layers ------------------------------------------------------
IMG = np.random.default_rng(4).standard_normal((2, 3, 6, 6))


def _vol(t, x):
    """(N, C, 2, H, W): x and x flipped, a volume for the 3-d ops."""
    return t.stack([x, x.flip(-1)], 2)


def _flat10(out):
    """out's first ten elements, so that ops with different output shapes add up."""
    return out.reshape(1, -1)[:, :10]


IMAGE_CASES = {
    "batch_norm_train": lambda t, x: t.nn.functional.batch_norm(
        x * x, None, None, t.tensor([1.0, 2, 3], dtype=t.float64), t.tensor([0.5, 0, 1], dtype=t.float64),
        training=True),
    "batch_norm_eval": lambda t, x: t.nn.functional.batch_norm(
        x * x, t.tensor([0.1, 0.2, 0.3], dtype=t.float64), t.tensor([1.0, 2, 3], dtype=t.float64), training=False),
    "layer_norm": lambda t, x: t.nn.functional.layer_norm(
        x.exp(), x.shape[-2:], t.ones(x.shape[-2:], dtype=t.float64) * 1.5, None, 1e-3),
    "group_norm": lambda t, x: t.nn.functional.group_norm(x * x, 3, t.tensor([1.0, 2, 3], dtype=t.float64)),
    "instance_norm": lambda t, x: t.nn.functional.instance_norm(x.sin()),
    "avg_pool2d": lambda t, x: t.nn.functional.avg_pool2d(x.sin(), 3, stride=2, padding=1, count_include_pad=False)
    + t.nn.functional.avg_pool2d(x * x, 4, stride=3, ceil_mode=True)[..., :1, :1],
    "avg_pool_divisor_1d": lambda t, x: t.nn.functional.avg_pool2d(x * x, 2, divisor_override=3)
    + t.nn.functional.avg_pool1d((x * x)[:, :, 0], 2)[:, :, None, :1],
    "adaptive_avg_pool2d": lambda t, x: t.nn.functional.adaptive_avg_pool2d(x * x, (4, 5)).sum((2, 3))
    + t.nn.functional.adaptive_avg_pool2d(x.sin(), 1)[..., 0, 0],
    "max_pool2d": lambda t, x: t.nn.functional.max_pool2d(x * x.sin(), 2),
    "max_pool2d_overlapping": lambda t, x: t.nn.functional.max_pool2d(x * x.sin(), 3, stride=2, padding=1)
    + t.nn.functional.max_pool1d((x * x)[:, :, 0], 2)[:, :, None, :1],
    "adaptive_max_pool2d": lambda t, x: t.nn.functional.adaptive_max_pool2d(x * x.sin(), (3, 2)).sum((2, 3)),
    "max_unpool_channel_shuffle": lambda t, x: t.nn.functional.max_unpool2d(
        *t.nn.functional.max_pool2d(x * x.sin(), 2, return_indices=True), 2)
    + t.nn.functional.max_unpool1d(*t.nn.functional.max_pool1d((x * x)[:, :, 0], 2, return_indices=True), 2)[
        :, :, None, :] + t.nn.functional.channel_shuffle((x * x).repeat(1, 2, 1, 1), 3)[:, :3],
    # the 3-d family, on volumes of two planes: x and x flipped
    "conv3d": lambda t, x: _flat10(t.nn.functional.conv3d(
        _vol(t, x).sin(), x[0, :, :2, :4].reshape(2, 3, 2, 2, 1), x[0, 0, 0, :2], stride=(1, 2, 1), padding=(1, 0, 1),
        dilation=(1, 1, 2)))
    + _flat10(t.nn.functional.conv3d(_vol(t, x)[0] ** 2, x[0, :, 0, :3].reshape(3, 1, 1, 3, 1), groups=3,
                                     padding="same")),
    "conv_transpose3d": lambda t, x: _flat10(t.nn.functional.conv_transpose3d(
        _vol(t, x).sin(), x[0, :, :2, :2].reshape(3, 2, 1, 2, 1), x[0, 0, 0, :2], stride=(1, 2, 2), padding=(0, 1, 0),
        output_padding=(0, 1, 0)))
    + _flat10(t.nn.functional.conv_transpose3d(_vol(t, x)[0] ** 2, x[0, :, 0, :2].reshape(3, 1, 1, 1, 2), groups=3,
                                               dilation=2)),
    "pool3d": lambda t, x: _flat10(t.nn.functional.max_pool3d(_vol(t, x) * _vol(t, x).sin(), 2, padding=(1, 0, 1),
                                                              stride=(1, 2, 2)))
    + _flat10(t.nn.functional.avg_pool3d(_vol(t, x) ** 2, (1, 3, 2), stride=2, padding=(0, 1, 1),
                                         count_include_pad=False, ceil_mode=True))
    + _flat10(t.nn.functional.adaptive_avg_pool3d(_vol(t, x) ** 2, (1, 3, 2)))
    + t.nn.functional.adaptive_avg_pool3d(_vol(t, x).sin(), 1).sum()
    + _flat10(t.nn.functional.adaptive_max_pool3d((_vol(t, x) * _vol(t, x).sin())[0], (2, 3, 2))),
    "max_unpool3d": lambda t, x: _flat10(t.nn.functional.max_unpool3d(
        *t.nn.functional.max_pool3d(_vol(t, x) * _vol(t, x).sin(), (1, 2, 2), return_indices=True), (1, 2, 2)).sum(2)),
}


def _image_orders(lib, name, xv, third):
    x = lib.tensor(xv, requires_grad=True)
    out = IMAGE_CASES[name](lib, x)
    w = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
    g, = lib.autograd.grad((out * w).sum(), x, create_graph=True)
    h, = lib.autograd.grad((g * g * x).sum(), x, create_graph=True)
    if not third:
        return g.detach().numpy(), h.detach().numpy()
    return lib.autograd.grad(h.sum(), x)[0].numpy()


@requires_torch
@pytest.mark.parametrize("name", list(IMAGE_CASES))
def test_layers_differentiate_twice_as_torch(oracle, name):
    for w, g in zip(_image_orders(oracle, name, IMG, False), _image_orders(ember, name, IMG, False)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", list(IMAGE_CASES))
def test_layers_third_derivative_matches_central_differences(name):
    # (against the numbers, not torch: torch's layer/batch/instance norm third derivatives are off here)
    x = IMG[:1, :, :4, :4].copy()
    third = _image_orders(ember, name, x, True)
    num = numeric_grad(lambda v: float(_image_orders(ember, name, v, False)[1].sum()), x)
    np.testing.assert_allclose(third, num, rtol=1e-5, atol=1e-6)


# torch keeps an edge with a zero derivative from these ops' gradients to their input, so a second
# autograd.grad gives zeros; through the others the first gradient does not depend on the input at all
STRUCTURE_CASES = {
    "relu": lambda t, x: t.relu(x), "leaky_relu": lambda t, x: t.nn.functional.leaky_relu(x, 0.1),
    "hardtanh": lambda t, x: t.nn.functional.hardtanh(x), "threshold": lambda t, x: t.nn.functional.threshold(x, 0.1, 0.0),
    "abs": lambda t, x: x.abs(), "sign_times_x": lambda t, x: x.sign() * x,
    "l1_loss": lambda t, x: t.nn.functional.l1_loss(x, t.zeros(16, dtype=t.float64)),
    "max_pool2d": lambda t, x: t.nn.functional.max_pool2d(x.reshape(1, 1, 4, 4), 2),
    "max_pool2d_k3": lambda t, x: t.nn.functional.max_pool2d(x.reshape(1, 1, 4, 4), 3, 2, 1),
    "avg_pool2d": lambda t, x: t.nn.functional.avg_pool2d(x.reshape(1, 1, 4, 4), 2),
    "adaptive_max_pool2d": lambda t, x: t.nn.functional.adaptive_max_pool2d(x.reshape(1, 1, 4, 4), 2),
    "clamp": lambda t, x: x.clamp(-0.5, 0.5), "max": lambda t, x: x.max(), "max_dim": lambda t, x: x.reshape(4, 4).max(1)[0],
    "sort": lambda t, x: x.sort()[0], "floor_plus_x": lambda t, x: x.floor() + x, "add": lambda t, x: x + 1,
    "adaptive_avg_pool2d": lambda t, x: t.nn.functional.adaptive_avg_pool2d(x.reshape(1, 1, 4, 4), 3),
    "masked_fill": lambda t, x: x.masked_fill(x > 0, 0.0), "flip": lambda t, x: x.flip(0),
    "hardshrink": lambda t, x: t.nn.functional.hardshrink(x), "softshrink": lambda t, x: t.nn.functional.softshrink(x),
    "rrelu": lambda t, x: t.nn.functional.rrelu(x), "rrelu_train": lambda t, x: t.nn.functional.rrelu(x, training=True),
    "prelu": lambda t, x: t.nn.functional.prelu(x, t.tensor([0.25], dtype=t.float64)),
    "clamp_min": lambda t, x: x.clamp_min(0.1),
    "clamp_max_tensor": lambda t, x: x.clamp_max(t.zeros(16, dtype=t.float64)),
    "fmax": lambda t, x: t.fmax(x, t.zeros(16, dtype=t.float64)), "fmod": lambda t, x: t.fmod(x, 0.7),
    "remainder_tensor": lambda t, x: t.remainder(x, t.full((16,), 0.7, dtype=t.float64)), "frac": lambda t, x: x.frac(),
    "fmod_by_x": lambda t, x: t.fmod(t.full((16,), 0.7, dtype=t.float64), x) * 0.1,
    "margin_ranking": lambda t, x: t.nn.functional.margin_ranking_loss(x, t.zeros(16, dtype=t.float64),
                                                                      t.ones(16, dtype=t.float64)),
    "hinge_embedding": lambda t, x: t.nn.functional.hinge_embedding_loss(x, t.ones(16, dtype=t.float64)),
    "lerp": lambda t, x: t.lerp(x, t.zeros(16, dtype=t.float64), 0.3),
    "max_pool3d": lambda t, x: t.nn.functional.max_pool3d(x.reshape(1, 1, 1, 4, 4), (1, 2, 2)),
    "avg_pool3d": lambda t, x: t.nn.functional.avg_pool3d(x.reshape(1, 1, 1, 4, 4), (1, 2, 2)),
    "adaptive_avg_pool3d": lambda t, x: t.nn.functional.adaptive_avg_pool3d(x.reshape(1, 1, 1, 4, 4), (1, 3, 3)),
    "adaptive_avg_pool3d_1": lambda t, x: t.nn.functional.adaptive_avg_pool3d(x.reshape(1, 1, 1, 4, 4), 1),
    "adaptive_max_pool3d": lambda t, x: t.nn.functional.adaptive_max_pool3d(x.reshape(1, 1, 1, 4, 4), (1, 2, 2)),
    "max_unpool2d": lambda t, x: t.nn.functional.max_unpool2d(x.reshape(1, 1, 4, 4), t.arange(16).reshape(1, 1, 4, 4), 2),
    "max_unpool3d": lambda t, x: t.nn.functional.max_unpool3d(x.reshape(1, 1, 1, 4, 4),
                                                              t.arange(16).reshape(1, 1, 1, 4, 4), (1, 2, 2)),
    "rot90_unfold": lambda t, x: x.reshape(4, 4).rot90() * 2 + x.reshape(4, 4).unfold(0, 2, 2).sum(-1).repeat(2, 1),
}


def _second_structure(lib, f):
    x = lib.tensor(np.linspace(-2, 2, 16) ** 3, requires_grad=True)
    g, = lib.autograd.grad(f(lib, x).sum(), x, create_graph=True)
    if not g.requires_grad:
        return "constant"
    try:
        h, = lib.autograd.grad(g.sum(), x)
    except RuntimeError:
        return "not used"
    return "zeros" if not h.abs().sum().item() else "nonzero"


@requires_torch
@pytest.mark.parametrize("name", list(STRUCTURE_CASES))
def test_second_gradient_of_piecewise_linear_ops_is_zeros_as_torch(oracle, name):
    assert _second_structure(ember, STRUCTURE_CASES[name]) == _second_structure(oracle, STRUCTURE_CASES[name])


def test_batch_norm_refuses_backward_after_its_input_changed_in_place():
    x = ember.randn(4, 3, requires_grad=True)
    h = x * 2
    out = ember.nn.functional.batch_norm(h, None, None, training=True)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def _square_fn(lib):
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        def backward(ctx, grad_out):
            x, = ctx.saved_tensors
            return grad_out * 2 * x
    return Square


def _detached_backward_fn(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad_out):
            x, = ctx.saved_tensors
            return grad_out * (3 * x ** 2).detach()  # first derivative right, second one lost
    return Cube


@requires_torch
@pytest.mark.parametrize("case", ["sin", "mul", "square_function", "detached_backward"])
def test_gradgradcheck_matches_torch(case):
    # the "Double Backward with Custom Functions" tutorial calls gradgradcheck; ember raised NotImplementedError
    from tests.conftest import torch

    def run(lib):
        x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(Y, dtype=lib.float64, requires_grad=True)
        go = lib.tensor(V, dtype=lib.float64, requires_grad=True)
        if case == "sin":
            return lib.autograd.gradgradcheck(lambda a: a.sin(), (x,))
        if case == "mul":
            return lib.autograd.gradgradcheck(lambda a, b: a * b.exp(), (x, y), (go,))
        fn = _square_fn(lib) if case == "square_function" else _detached_backward_fn(lib)
        return lib.autograd.gradgradcheck(fn.apply, (x,), raise_exception=False)
    assert run(ember) == run(torch) == (case != "detached_backward")


@requires_torch
def test_float32_lstm_and_packed_sequences_differentiate_twice_as_torch(oracle):
    # float32 LSTM layers run as one fused op (MkldnnRnnLayerBackward0), as in torch
    def run(lib):
        lib.manual_seed(0)
        lstm = lib.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        x = lib.tensor(IMG[0, :, :5, :2].transpose(1, 2, 0).astype(np.float32), requires_grad=True)   # (5, 2, 3)
        out, (h, c) = lstm(x * x)
        loss = (out * out.sin()).sum() + (h * c).sum() + c.sum()
        g, = lib.autograd.grad(loss, x, create_graph=True)
        packed = lib.nn.utils.rnn.pack_padded_sequence(x * x, [5, 3])
        padded, _ = lib.nn.utils.rnn.pad_packed_sequence(packed)
        assert type(out.grad_fn).__name__ == "CatBackward0" and "CopySlices" in str(padded.grad_fn)
        gp, = lib.autograd.grad((padded.sin() ** 3).sum() + (packed.data ** 3).sum(), x, create_graph=True)
        h2 = lib.autograd.grad((g * g).sum() + (gp * gp).sum(), [x] + list(lstm.parameters()))
        return [g, gp] + list(h2)
    for w, g in zip(run(oracle), run(ember)):
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=2e-4, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("kind", ["GRU", "RNN", "GRUCell", "RNNCell", "LSTMCell"])
def test_recurrent_steps_differentiate_twice_as_torch(oracle, kind):
    # the layers' and cells' per-step graphs (torch's nodes) through create_graph=True
    def run(lib):
        lib.manual_seed(0)
        x = lib.tensor(IMG[0, :, :4, :2].transpose(1, 2, 0).astype(np.float64), requires_grad=True)   # (4, 2, 3)
        if kind.endswith("Cell"):
            cell = getattr(lib.nn, kind)(3, 4).double()
            h = lib.zeros(2, 4, dtype=lib.float64, requires_grad=True)
            state = (h, h * 1) if kind == "LSTMCell" else h
            outs = []
            for t in range(x.shape[0]):
                state = cell(x[t] * x[t], state)
                outs.append(state[0] if kind == "LSTMCell" else state)
            out, params = lib.stack(outs), [x, h] + list(cell.parameters())
        else:
            layer = getattr(lib.nn, kind)(3, 4, num_layers=2).double()
            out, _ = layer(x * x)
            params = [x] + list(layer.parameters())
        g = lib.autograd.grad((out * out.sin()).sum(), x, create_graph=True)[0]
        return [g] + list(lib.autograd.grad((g * g).sum(), params, allow_unused=True))
    for w, g in zip(run(oracle), run(ember)):
        if w is None:
            assert g is None or not g.detach().numpy().any()
            continue
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-9, atol=1e-10)


def test_piecewise_constant_steps_keep_the_first_gradient_differentiable():
    # |x|, L1 and max norms, floor: their first gradient requires grad (sign and floor are recorded with a
    # zero gradient, as torch's), so a second backward through it gives zeros instead of failing
    def facts(lib):
        x = lib.tensor([1.0, -2.0, 0.5], requires_grad=True)
        out = []
        for f in (lambda t: t.abs().sum(), lambda t: lib.linalg.vector_norm(t, 1),
                  lambda t: lib.linalg.vector_norm(t, float("inf")), lambda t: (t.floor() * t).sum()):
            g, = lib.autograd.grad(f(x), x, create_graph=True)
            g2, = lib.autograd.grad(g.sum(), x, allow_unused=True)
            # (torch gives some as a ZeroTensor, which refuses tolist: adding it to zeros reads it)
            out.append((g.requires_grad, g.tolist(), None if g2 is None else lib.zeros(3).add(g2).tolist()))
        return out
    ours = facts(ember)
    assert [r[0] for r in ours] == [True] * 4
    assert ours[0][2] == [0.0, 0.0, 0.0]
    from tests.conftest import torch
    if torch is not None:
        assert ours == facts(torch)
