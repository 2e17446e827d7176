"""Every op, forward and backward, on a device against the CPU: the cases and the runner.

A case is (id, fn, inputs): inputs are specs of host arrays made from a seeded generator,
('f', shape) floats, ('p', shape) positive floats, ('u', shape) floats in (0.05, 0.95),
('s', shape) signs (+1/-1), ('i', shape, n) int64 indices below n, ('b', shape) bools.
Float inputs require grad.  The runner computes fn on CPU tensors and on the same values moved to
the device, checks every output lives on the device and matches the CPU, then backpropagates the
same upstream gradient and checks every input's gradient lives on the device and matches too.
"""
import numpy as np

import ember
import ember.nn.functional as F
from ember.autograd.graph import NoDerivative

# ---- cases ---------------------------------------------------------------------------------
X = ("f", (3, 4))
P = ("p", (3, 4))
U = ("u", (3, 4))
IMG = ("f", (2, 3, 6, 6))

UNARY = ["abs", "acos", "asin", "atan", "ceil", "cos", "cosh", "erf", "exp", "expm1", "floor", "frac", "log",
         "log10", "log1p", "log2", "neg", "reciprocal", "relu", "round", "rsqrt", "sigmoid", "sign", "sin", "sinh",
         "sqrt", "square", "tan", "tanh", "trunc"]
_UNARY_INPUT = {"acos": U, "asin": U, "log": P, "log10": P, "log2": P, "log1p": P, "rsqrt": P, "sqrt": P,
                "reciprocal": P}
BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "fmod", "remainder", "floor_divide", "rsub",
          "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "isclose"]
_BINARY_INPUTS = {"pow": (P, X), "div": (X, P), "fmod": (X, P), "remainder": (X, P), "floor_divide": (X, P)}
ACTIVATIONS = ["celu", "elu", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu",
               "logsigmoid", "mish", "relu6", "selu", "silu", "softplus", "softshrink", "softsign", "tanhshrink"]


def _cases():
    c = []
    for n in UNARY:
        c.append((n, getattr(ember, n), [_UNARY_INPUT.get(n, X)]))
    for n in BINARY:
        c.append((n, getattr(ember, n), list(_BINARY_INPUTS.get(n, (X, ("f", (4,)))))))
    for n in ACTIVATIONS:
        c.append((n, getattr(F, n), [X]))
    c += [
        ("add_scalar_alpha", lambda a, b: ember.add(a, b, alpha=2.5) * 3 - 1.5, [X, X]),
        ("div_trunc", lambda a, b: ember.div(a, b, rounding_mode="trunc"), [X, P]),
        ("pow_scalar", lambda a: a ** 2 + 2 ** a, [X]),
        ("clamp", lambda a: ember.clamp(a, -0.5, 0.5) + a.clip(min=0.1), [X]),
        ("where", lambda a, b, m: ember.where(m, a, b) + ember.where(m, a, 0.0), [X, X, ("b", (3, 4))]),
        ("masked_fill", lambda a, m: a.masked_fill(m, 2.0), [X, ("b", (3, 4))]),
        ("lerp_addcmul_addcdiv", lambda a, b, c: ember.lerp(a, b, 0.3) + ember.addcmul(a, b, c, value=0.5)
         + ember.addcdiv(a, b, c), [X, X, P]),
        ("nan_to_num", lambda a: ember.nan_to_num(a.log()), [X]),
        ("logical_bitwise", lambda m, k: (ember.logical_not(m), ember.bitwise_and(m, k), ember.bitwise_or(m, k),
                                           ember.bitwise_xor(m, k), ember.bitwise_not(m), ~m),
         [("b", (3, 4)), ("b", (3, 4))]),
        ("isnan_isinf_isfinite", lambda a: (ember.isnan(a.log()), ember.isinf(a / 0), ember.isfinite(a.log())),
         [X]),
        ("equal_allclose", lambda a, b: ember.tensor([ember.equal(a, a), ember.equal(a, b), ember.allclose(a, a)],
                                                     device=a.device), [X, X]),
        ("scalar_first", lambda a: (1 - a, 2 / a, 3 * a, 2 ** a, 7 // a, 7 % a), [P]),
        ("zero_dim_host_operand", lambda a: a * ember.tensor(2.0) + ember.tensor(1.0), [X]),
        # reductions
        ("sum_mean", lambda a: (a.sum(), a.sum(1), a.mean(), a.mean((0, 1), keepdim=True), a.sum(0, dtype=ember.float64)),
         [X]),
        ("prod", lambda a: (a.prod(), a.prod(1)), [X]),
        ("max_min", lambda a: (a.max(), a.min(), a.max(1), a.min(0, keepdim=True)), [X]),
        ("amax_amin", lambda a: (a.amax(1), a.amin((0, 1))), [X]),
        ("argmax_argmin", lambda a: (a.argmax(), a.argmin(1), a.argmax(0, keepdim=True)), [X]),
        ("std_var", lambda a: (a.std(), a.var(1), ember.std_mean(a, 0)[0], ember.var_mean(a)[1]), [X]),
        ("norm", lambda a: (a.norm(), a.norm(1, dim=1), a.norm(float("inf")), a.norm(3, dim=0)), [X]),
        ("dist", lambda a, b: (ember.dist(a, b), a.dist(b, 1)), [X, X]),
        ("all_any_count", lambda m: (m.all(), m.any(1), ember.count_nonzero(m), ember.count_nonzero(m, 1)),
         [("b", (3, 4))]),
        ("logsumexp", lambda a: (a.logsumexp(1), ember.logsumexp(a, (0, 1))), [X]),
        ("cumsum_cumprod", lambda a: (a.cumsum(1), a.cumprod(0)), [X]),
        ("sort_argsort_topk", lambda a: (a.sort(1)[0], a.sort(0, descending=True)[1], a.argsort(1),
                                         a.topk(2, 1)[0], a.topk(2, 0, largest=False)[1]), [X]),
        ("median", lambda a: (a.median(), a.median(1)[0], a.median(1)[1]), [X]),
        ("nansum", lambda a: ember.nansum(a.log()), [X]),
        # shapes and indexing
        ("views", lambda a: (a.view(4, 3), a.reshape(-1), a.t(), a.permute(1, 0), a.transpose(0, 1),
                             a.unsqueeze(0).squeeze(0), a.flatten(), a.unflatten(1, (2, 2)), a.narrow(1, 1, 2),
                             a.select(0, 1), ember.movedim(a, 0, 1), a.swapaxes(0, 1), a.expand(2, 3, 4),
                             a.T.contiguous()), [X]),
        ("repeat_tile", lambda a: (a.repeat(2, 1), a.tile((1, 2))), [X]),
        ("cat_stack", lambda a, b: (ember.cat([a, b], 1), ember.stack([a, b]), ember.hstack([a, b]),
                                    ember.vstack([a, b])), [X, X]),
        ("split_chunk_unbind", lambda a: a.split(2, 1) + a.chunk(3, 0) + a.unbind(1) + a.split([1, 3], 1), [X]),
        ("getitem", lambda a, i, m: (a[1], a[:, 1:3], a[None, ..., ::2], a[i], a[m], a[:, [0, 2]], a[1, 2],
                                     a[ember.tensor([0, 2])], a[[1, 0], [2, 3]]),
         [X, ("i", (5,), 3), ("b", (3, 4))]),
        ("setitem", lambda a, b: _setitem(a, b), [X, ("f", (4,))]),
        ("index_select_gather", lambda a, i, j: (a.index_select(1, i), a.gather(1, j), ember.take(a, i)),
         [X, ("i", (3,), 4), ("i", (3, 2), 4)]),
        ("scatter", lambda a, j, s: (a.scatter(1, j, s), a.scatter_add(1, j, s), a.scatter(1, j, 0.5)),
         [X, ("i", (3, 2), 4), ("f", (3, 2))]),
        ("masked_select_nonzero", lambda a, m: (a.masked_select(m), m.nonzero(), ember.argwhere(m),
                                                ember.nonzero(m, as_tuple=True)[1]), [X, ("b", (3, 4))]),
        ("flip_roll", lambda a: (a.flip(0), a.flip((0, 1)), a.fliplr(), a.flipud(), a.roll(1, 1),
                                 a.roll(2), a.roll((1, 1), (0, 1))), [X]),
        ("tril_triu_diag", lambda a, v: (a.tril(), a.triu(1), ember.diag(v), ember.diag(a), a.diagonal(),
                                         a.diagonal(1)), [X, ("f", (3,))]),
        ("clone_to_dtype", lambda a: (a.clone(), a.double() * 2, a.to(ember.float64).float(), a.half().float()),
         [X]),
        # activations with arguments, softmax family
        ("softmax_family", lambda a: (F.softmax(a, 1), F.log_softmax(a, 0), F.softmin(a, 1),
                                      ember.softmax(a, -1, dtype=ember.float64)), [X]),
        ("threshold_prelu", lambda a, w: (F.threshold(a, 0.1, -1.0), F.prelu(a, w), F.rrelu(a)),
         [X, ("f", (4,))]),
        ("inplace_activations", lambda a: _inplace(a), [X]),
        # normalization, dropout (eval), embedding, padding, distances, interpolation
        ("batch_norm_train", lambda x, w, b: _batch_norm(x, w, b, True), [IMG, ("p", (3,)), ("f", (3,))]),
        ("batch_norm_eval", lambda x, w, b: _batch_norm(x, w, b, False), [IMG, ("p", (3,)), ("f", (3,))]),
        ("layer_group_instance_rms", lambda x, w, b: (F.layer_norm(x, (6, 6)), F.group_norm(x, 1, w, b),
                                                      F.instance_norm(x), F.rms_norm(x, (6,))),
         [IMG, ("p", (3,)), ("f", (3,))]),
        ("dropout_eval", lambda x: (F.dropout(x, 0.5, training=False), F.alpha_dropout(x, 0.5, False),
                                    F.dropout2d(x, 0.5, training=False)), [IMG]),
        ("embedding_one_hot", lambda w, i: (F.embedding(i, w), F.embedding(i, w, padding_idx=0),
                                            F.embedding(i, w, scale_grad_by_freq=True), F.one_hot(i, 5)),
         [("f", (5, 3)), ("i", (2, 4), 5)]),
        ("pad", lambda x: (F.pad(x, (1, 2)), F.pad(x, (1, 1, 2, 0), value=0.5), F.pad(x, (1, 1, 1, 1), "reflect"),
                           F.pad(x, (2, 1, 1, 2), "replicate"), F.pad(x, (1, 1, 2, 1), "circular"),
                           ember.constant_pad_nd(x, (1, 1))), [IMG]),
        ("distances", lambda a, b: (F.normalize(a), F.normalize(a, p=1, dim=0), F.cosine_similarity(a, b),
                                    F.pairwise_distance(a, b)), [X, X]),
        ("weight_norm", lambda v, g, g1, g3: (ember._weight_norm(v, g, 0), ember._weight_norm(v, g1, 1),
                                              ember._weight_norm(v.view(3, 2, 2), g3, 1),
                                              ember.norm_except_dim(v, 2, -1)),
         [X, ("p", (3, 1)), ("p", (1, 4)), ("p", (1, 2, 1))]),
        ("interpolate", lambda x: (F.interpolate(x, scale_factor=2), F.interpolate(x, size=(4, 5), mode="bilinear"),
                                   F.interpolate(x, size=(3, 4), mode="bilinear", align_corners=True),
                                   F.interpolate(x, size=(3, 3), mode="area"),
                                   F.interpolate(x, scale_factor=1.5, mode="nearest-exact"),
                                   F.interpolate(x, size=(2, 3), mode="bilinear", antialias=True),
                                   F.interpolate(x, size=(5, 2), mode="bicubic", antialias=True)), [IMG]),
        ("grid_sample", lambda x, g: tuple(F.grid_sample(x, g, m, p, ac) for m in ("bilinear", "nearest", "bicubic")
                                           for p in ("zeros", "border", "reflection") for ac in (False, True)),
         [IMG, ("p", (2, 4, 5, 2))]),
        # linear algebra, convolution, pooling
        ("matmul_family", lambda a, b, v: (a @ b, ember.mm(a, b), ember.mv(a, v), a.matmul(v),
                                           ember.outer(v, v), ember.addmm(a @ b, a, b),
                                           ), [X, ("f", (4, 2)), ("f", (4,))]),
        ("einsum", lambda a, b, v: (ember.einsum("ij,jk->ik", a, b), ember.einsum("ij,ij->i", a, a),
                                    ember.tensordot(a, b, 1), ember.kron(v, v)), [X, ("f", (4, 2)), ("f", (4,))]),
        ("dot_products", lambda v, w: (ember.dot(v, w), ember.inner(v, w), ember.vdot(v, w), v @ w),
         [("f", (4,)), ("f", (4,))]),
        ("batched_matmul", lambda a, b: (ember.bmm(a, b), ember.baddbmm(ember.bmm(a, b), a, b),
                                         ember.addbmm(ember.bmm(a, b)[0], a, b)), [("f", (2, 3, 4)), ("f", (2, 4, 2))]),
        ("linear_bilinear", lambda x, w, b, w2: (F.linear(x, w, b), F.bilinear(x, x, w2, None)),
         [X, ("f", (5, 4)), ("f", (5,)), ("f", (2, 4, 4))]),
        ("conv", lambda x, w, b, w1: (F.conv2d(x, w, b, padding=1), F.conv2d(x, w, None, stride=2),
                                      F.conv_transpose2d(x, w.transpose(0, 1), None, stride=2),
                                      F.conv1d(x[:, :, 0], w1), F.conv_transpose1d(x[:, :, 0], w1.transpose(0, 1))),
         [IMG, ("f", (4, 3, 3, 3)), ("f", (4,)), ("f", (4, 3, 2))]),
        ("pool", lambda x: (F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 1, 1), F.adaptive_avg_pool2d(x, (2, 3)),
                            F.adaptive_max_pool2d(x, 2), F.max_pool1d(x[:, :, 0], 2), F.avg_pool1d(x[:, :, 0], 2),
                            F.adaptive_avg_pool1d(x[:, :, 0], 3), F.adaptive_max_pool1d(x[:, :, 0], 3),
                            F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2)), [IMG]),
        ("conv3d", lambda x, w, b: (F.conv3d(x, w, b, padding=1), F.conv3d(x, w, None, stride=2, groups=1),
                                    F.conv_transpose3d(x, w.transpose(0, 1), b, stride=2, output_padding=1)),
         [("f", (2, 3, 4, 5, 4)), ("f", (4, 3, 2, 3, 2)), ("f", (4,))]),
        ("pool3d", lambda x: (F.max_pool3d(x, 2), F.max_pool3d(x, 3, 1, 1, ceil_mode=True),
                              F.avg_pool3d(x, 3, 2, 1, count_include_pad=False), F.adaptive_avg_pool3d(x, (2, 3, 1)),
                              F.adaptive_avg_pool3d(x, 1), F.adaptive_max_pool3d(x, 2),
                              F.max_unpool3d(*F.max_pool3d(x, 2, return_indices=True), 2),
                              F.max_pool3d_with_indices(x, 2)[1], F.adaptive_max_pool3d_with_indices(x, 2)[1]),
         [("f", (2, 3, 4, 6, 4))]),
        # losses
        ("class_losses", lambda x, t, w: (F.cross_entropy(x, t), F.cross_entropy(x, t, w, label_smoothing=0.1),
                                          F.nll_loss(F.log_softmax(x, 1), t, reduction="sum"),
                                          F.cross_entropy(x, F.softmax(x.detach() * 2, 1)),
                                          F.multi_margin_loss(x, t)), [X, ("i", (3,), 4), ("p", (4,))]),
        ("regression_losses", lambda x, y: (F.mse_loss(x, y), F.l1_loss(x, y, reduction="none"),
                                            F.smooth_l1_loss(x, y), F.huber_loss(x, y, delta=0.5),
                                            F.soft_margin_loss(x, y.detach().sign()), F.kl_div(x, y.softmax(1), reduction="batchmean"),
                                            F.poisson_nll_loss(x, y.abs()), F.gaussian_nll_loss(x, y, y.abs() + 0.1)),
         [X, X]),
        ("probability_losses", lambda p, t, x: (F.binary_cross_entropy(p, t), F.binary_cross_entropy_with_logits(x, t),
                                                F.binary_cross_entropy_with_logits(x, t, pos_weight=t[0].detach() + 1),
                                                F.multilabel_soft_margin_loss(x, t)), [U, U, X]),
        ("pair_losses", lambda a, b, s: (F.cosine_embedding_loss(a, b, s[:, 0]), F.margin_ranking_loss(a, b, s),
                                         F.hinge_embedding_loss(a, s), F.triplet_margin_loss(a, b, a * 0.5),
                                         F.triplet_margin_with_distance_loss(a, b, a * 0.5)), [X, X, ("s", (3, 4))]),
        ("multilabel_margin", lambda x, t: F.multilabel_margin_loss(x, t), [X, ("i", (3, 4), 4)]),
    ]
    return c


def _setitem(a, b):
    c = a.clone()
    c[0] = b
    c[1, 1:3] = 7.0
    c[c > 1] = 0.5
    c[:, 0] = b[:3]
    c[ember.tensor([2])] = b * 2
    return c


def _inplace(a):
    b = a * 1
    F.relu_(b)
    c = a * 1
    F.leaky_relu_(c, 0.2)
    d = a * 1
    F.elu_(d)
    e = a * 1
    e.add_(1.5).mul_(a).sub_(0.5).div_(2.0).clamp_(-1, 1).exp_()
    f = a * 1
    f[0] += a[1]
    return b, c, d, e, f


def _batch_norm(x, w, b, training):
    dev = x.device
    rm = ember.zeros(3, device=dev)
    rv = ember.ones(3, device=dev)
    out = F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.3)
    return out, rm, rv


CASES = _cases()

# unique, bincount, meshgrid, repeat_interleave, clamp_min/max, broadcast_*, isin, diff, atan2, trace,
# searchsorted, index_add (tests/ops/test_more_ops.py)
CASES += [
    ("unique_bincount_isin", lambda a, i: (
        ember.unique(i, return_inverse=True, return_counts=True), a.detach().round().unique(dim=0),
        i.unique_consecutive(return_inverse=True, return_counts=True), ember.bincount(i.reshape(-1), minlength=6),
        ember.bincount(i[0], weights=a.detach()[0]), ember.isin(i, i[0]), ember.isin(i, 2, invert=True)),
     [X, ("i", (3, 4), 4)]),
    ("searchsorted", lambda a, v: (ember.searchsorted(a.detach().sort(1)[0], v), ember.searchsorted(
        a.detach()[0].sort()[0], v[0], right=True), ember.searchsorted(a.detach()[0], v[1], sorter=a.detach()[0].argsort())),
     [X, ("f", (3, 5))]),
    ("repeat_interleave", lambda a, r: (a.repeat_interleave(2, dim=1), ember.repeat_interleave(a, 3),
                                        a.repeat_interleave(r, dim=0), ember.repeat_interleave(r)),
     [X, ("i", (3,), 3)]),
    ("clamp_min_max_atan2", lambda a, b: (a.clamp_min(0.1), ember.clamp_max(a, -0.2), a.clamp_min(b[0]),
                                          a.clamp_max(b), ember.atan2(a, b), ember.arctan2(b, a),
                                          a.atan2(b[:, :1])), [X, X]),
    ("broadcast_meshgrid", lambda a, v, w: (ember.broadcast_to(a[:1], (2, 3, 4)), ember.broadcast_tensors(a, v),
                                            ember.tensor(list(ember.broadcast_shapes(a.shape, (2, 1, 1))),
                                                         device=a.device),
                                            ember.meshgrid(v, w, indexing="ij"), ember.meshgrid(v, w, indexing="xy")),
     [X, ("f", (4,)), ("f", (3,))]),
    ("diff_trace", lambda a, p: (ember.diff(a), a.diff(n=2, dim=0, prepend=p, append=a[:1]), ember.trace(a),
                                 a.t().trace()), [X, ("f", (2, 4))]),
    ("index_add", lambda a, s, j: (a.index_add(1, j, s, alpha=1.5), ember.index_add(a, 1, j, s),
                                   a.clone().index_add_(1, j, s)), [X, ("f", (3, 5)), ("i", (5,), 4)]),
]

# Cases known to fail on the fake device, name -> why (strict xfail: a case that starts passing
# fails too, so its entry gets removed).  None at present.
PENDING_ON_FAKE = {}

# op names that need no case of their own, and why (the coverage test below checks every op name
# exported by ember/ops is a case, appears in one, or is listed here)
NOT_DEVICE_OPS = {
    "creation and random ops (tests/cuda/test_device.py)": [
        "arange", "as_tensor", "asarray", "bernoulli", "empty", "empty_like", "eye", "from_numpy", "full",
        "full_like", "linspace", "logspace", "multinomial", "normal", "ones", "ones_like", "rand", "rand_like",
        "randint", "randint_like", "randn", "randn_like", "randperm", "range", "scalar_tensor", "tensor",
        "tril_indices", "triu_indices", "zeros", "zeros_like", "dropout", "dropout1d", "dropout3d",
        "feature_dropout", "feature_alpha_dropout", "native_dropout", "rrelu_"],
    "no tensor computation": ["is_floating_point", "is_tensor", "numel", "promote_types", "result_type",
                              "return_types"],
    "aliases of ops in the cases": [
        "absolute", "clip", "concat", "concatenate", "divide", "greater", "greater_equal", "less", "less_equal",
        "multiply", "negative", "not_equal", "subtract", "swapdims", "true_divide", "moveaxis", "upsample",
        "upsample_bilinear", "upsample_nearest", "native_batch_norm", "native_layer_norm", "chain_matmul",
        "addmv", "ger", "celu_", "elu_", "hardtanh_", "leaky_relu_", "relu_", "selu_", "threshold_",
        "max_pool1d_with_indices", "max_pool2d_with_indices", "adaptive_max_pool1d_with_indices",
        "adaptive_max_pool2d_with_indices", "max_unpool1d", "softmax", "log_softmax"],
}


# ---- runner ------------------------------------------------------------------------------------
def make_inputs(specs, seed):
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in specs:
        kind, shape = spec[0], spec[1]
        if kind == "f":
            a = rng.standard_normal(shape).astype(np.float32)
        elif kind == "p":
            a = (np.abs(rng.standard_normal(shape)) + 0.5).astype(np.float32)
        elif kind == "u":
            a = rng.uniform(0.05, 0.95, shape).astype(np.float32)
        elif kind == "s":
            a = np.where(rng.random(shape) < 0.5, -1.0, 1.0).astype(np.float32)
        elif kind == "i":
            a = rng.integers(0, spec[2], shape).astype(np.int64)
        elif kind == "b":
            a = rng.random(shape) < 0.5
        else:
            raise ValueError(kind)
        arrays.append(a)
    return arrays


def _leaves(arrays, device):
    out = []
    for a in arrays:
        t = ember.tensor(a)
        if device is not None:
            t = t.to(device)
        if a.dtype.kind == "f":
            t.requires_grad_(True)
        out.append(t)
    return out


def _flat(out):
    if isinstance(out, ember.Tensor):
        return [out]
    res = []
    for o in out:
        res += _flat(o)
    return res


def _host(t):
    return t.detach().cpu().numpy()


def run_case(fn, specs, device, seed=0, rtol=1e-4, atol=1e-5):
    """Compare fn on the CPU and on device, forward and backward; return the device outputs."""
    arrays = make_inputs(specs, seed)
    cpu_in, dev_in = _leaves(arrays, None), _leaves(arrays, device)
    ember.manual_seed(seed)
    cpu_out = _flat(fn(*cpu_in))
    ember.manual_seed(seed)
    dev_out = _flat(fn(*dev_in))
    want = ember.device(device)
    assert len(cpu_out) == len(dev_out)
    for k, (c, d) in enumerate(zip(cpu_out, dev_out)):
        assert d.device.type == want.type, f"output {k} is on {d.device}, not {device}"
        assert d.dtype == c.dtype and d.shape == c.shape, f"output {k}: {d.dtype}{list(d.shape)} vs {c.dtype}{list(c.shape)}"
        np.testing.assert_allclose(_host(d), _host(c), rtol=rtol, atol=atol, err_msg=f"output {k}")
        assert (d.grad_fn is None) == (c.grad_fn is None)
        if c.grad_fn is not None:
            assert d.grad_fn.name() == c.grad_fn.name()
    rng = np.random.default_rng(seed + 1)
    # (outputs torch records but cannot differentiate, such as floor_divide's, are compared forward only)
    pairs = [(c, d) for c, d in zip(cpu_out, dev_out) if c.requires_grad and c.dtype.is_floating_point
             and not isinstance(c.grad_fn, NoDerivative)]
    if not pairs:
        return dev_out
    total_c = total_d = 0
    for c, d in pairs:
        w = rng.standard_normal(c.shape).astype(np.float32)
        total_c = total_c + (c * ember.tensor(w, dtype=c.dtype)).sum()
        total_d = total_d + (d * ember.tensor(w, dtype=d.dtype).to(device)).sum()
    total_c.backward()
    total_d.backward()
    for k, (c, d) in enumerate(zip(cpu_in, dev_in)):
        if c.grad is None:
            assert d.grad is None, f"input {k} got a gradient only on {device}"
            continue
        assert d.grad is not None, f"input {k} got no gradient on {device}"
        assert d.grad.device.type == want.type, f"the gradient of input {k} is on {d.grad.device}"
        np.testing.assert_allclose(_host(d.grad), _host(c.grad), rtol=rtol, atol=atol, err_msg=f"grad of input {k}")
    return dev_out


# unfold / fold, pixel_shuffle / pixel_unshuffle, local_response_norm (ember/ops/fold.py;
# tests/nn/test_more_layers.py)
CASES += [
    ("unfold_fold", lambda x, c: (F.unfold(x, 3, padding=1, stride=2), F.unfold(x[0], (2, 3), dilation=(2, 1)),
                                  F.fold(c, (6, 6), 2, stride=2), F.fold(c[0], (4, 4), 2)),
     [IMG, ("f", (2, 12, 9))]),
    ("pixel_shuffle_lrn", lambda x, y: (F.pixel_shuffle(y, 2), ember.pixel_unshuffle(x, 3),
                                        F.pixel_unshuffle(y[0], 1), F.local_response_norm(x, 2),
                                        F.local_response_norm(x[:, :, 0], 3, alpha=0.1)),
     [IMG, ("f", (2, 8, 3, 3))]),
    ("channel_shuffle", lambda x: (F.channel_shuffle(x, 3), ember.native_channel_shuffle(x[:, :, 0], 3)), [IMG]),
    ("lp_pool", lambda x: (F.lp_pool1d(x[:, :, 0], 2, 2), F.lp_pool2d(x, 3, 2, ceil_mode=True),
                           F.lp_pool3d(x[None], 2, 2)), [("p", (2, 3, 6, 6))]),
    ("ctc_loss", lambda x: (F.ctc_loss(x.log_softmax(2), ember.tensor([[1, 2], [3, 3]]), (6, 5), (2, 2),
                                       reduction="none"),
                            F.ctc_loss(x.log_softmax(2), ember.tensor([1, 2, 3, 3]), (6, 5), (2, 2))),
     [("f", (6, 2, 4))]),
    ("embedding_bag", lambda w, i: (F.embedding_bag(i, w, ember.tensor([0, 2, 2], device=i.device)),
                                    F.embedding_bag(i.reshape(2, 3), w, mode="sum", padding_idx=1),
                                    F.embedding_bag(i, w, ember.tensor([0, 4], device=i.device), mode="max")),
     [("f", (5, 3)), ("i", (6,), 5)]),
]


def _inplace_batch2(a, s):
    y = a * 1
    y.index_fill_(1, ember.tensor([0], device=a.device), 2.0)
    y.index_copy_(0, ember.tensor([2], device=a.device), s[:1, :4])
    y.masked_scatter_(y > 0.5, s.reshape(-1).repeat(2))
    y.put_(ember.tensor([1, 3], device=a.device), s[1, :2])
    y.scatter_reduce_(1, ember.tensor([[0, 0]], device=a.device), s[:1, :2], "amax")
    w = a * 1
    ember.exp_(w)
    ember.abs_(w)
    ember.sigmoid_(w)
    ember.tanh_(w)
    ember.clamp_(w, 0.1, 0.9)
    z = a * 1
    z.fill_diagonal_(0.5)
    q = a.detach().clone()
    ember.zero_(q)
    ember.fill_(q, 3.0)
    return y, w, z, q


# the second batch of torch functions (tests/ops/test_more_ops2.py)
CASES += [
    ("math_batch2", lambda x, p, y: (
        x.sgn(), ember.exp2(x), ember.erfc(x), ember.erfinv(p * 2 - 1), ember.logit(p), p.logit(eps=0.2),
        ember.sinc(x), ember.deg2rad(x), x.rad2deg(), ember.fix(x * 3), ember.positive(x), ember.signbit(x),
        ember.isposinf(x / 0), ember.isneginf(x / 0), ember.xlogy(x, p), ember.xlogy(x, 2.0), ember.hypot(x, y),
        ember.logaddexp(x, y), ember.logaddexp2(x, y), ember.fmax(x, y), ember.fmin(x, y[:1]),
        ember.heaviside(x.detach(), y.detach()), ember.float_power(p, 2), ember.float_power(p, y),
        ember.lgamma(p * 3), ember.digamma(p * 3), ember.arcsin(p), ember.arccos(p), ember.arctan(x)),
     [X, U, X]),
    ("reduce_batch2", lambda x: (
        ember.aminmax(x), x.aminmax(dim=1), ember.cummax(x, 1), x.cummin(0), ember.logcumsumexp(x, 1),
        ember.kthvalue(x, 2), ember.mode(x.detach().round(), 0), ember.nanmean(x, 1), ember.nanmedian(x),
        ember.nanmedian(x, 1), ember.quantile(x, 0.3), ember.nanquantile(x, 0.6, dim=1), ember.msort(x),
        ember.histc(x.detach(), 5), ember.cov(x), ember.corrcoef(x)), [X]),
    ("shape_batch2", lambda x, s, i: (
        ember.ravel(x), ember.tensor_split(x, 3, dim=1), ember.hsplit(x, 2), ember.vsplit(x, [1]),
        ember.dsplit(x.reshape(3, 2, 2), 2), ember.atleast_1d(x[0, 0]), ember.atleast_2d(x[0]), ember.atleast_3d(x),
        ember.dstack([x, x]), ember.column_stack([x[:, 0], x]), ember.rot90(x), ember.diag_embed(x, 1),
        ember.diagflat(x[0]), ember.block_diag(x, s), ember.cartesian_prod(x[0], x[1]), ember.combinations(x[2]),
        ember.take_along_dim(x, i, 1), ember.unravel_index(i, (2, 3)), x.unfold(1, 2, 1),
        x.index_fill(1, i[0], -1.0), ember.index_copy(x, 1, i[0, :1], s[:, :1].repeat(2, 1)[:3]),
        ember.masked_scatter(x, x > 0, s.repeat(2, 1)), ember.put(x, i[0], s[0, :1]),
        ember.scatter_reduce(x, 0, i, s[:, :1].repeat(2, 1)[:3], "mean"), x.sum_to_size(1, 4),
        ember.as_strided(x, (2, 2), (1, 4)), x.H, x.mH, ember.adjoint(x), x.real),
     [X, ("f", (2, 4)), ("i", (3, 1), 2)]),
    ("scatter_reduce_all", lambda x, s: tuple(
        x.scatter_reduce(0, ember.tensor([[0, 1, 0, 1], [2, 2, 0, 0]], device=x.device), s, r, include_self=inc)
        for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)), [X, ("f", (2, 4))]),
    ("inplace_batch2", _inplace_batch2, [X, ("f", (2, 4))]),
]

# the ops sweep's additions (tests/ops/test_ops_parity.py)
CASES += [
    ("hyperbolic_inverse", lambda x, p: (ember.asinh(x), ember.acosh(p + 1), ember.atanh(p * 0.9),
                                         ember.arcsinh(x), ember.arccosh(p + 1.5), ember.arctanh(p * 0.5),
                                         (p + 1).acosh_(), (x * 1).asinh_(), (p * 0.5).atanh_(),
                                         (p + 1).arccosh_(), (x * 1).arcsinh_(), (p * 0.5).arctanh_()),
     [X, U]),
    ("cdist_polygamma_bucketize", lambda x, y, p: (
        ember.cdist(x, y), ember.cdist(x, y, p=1.0), ember.polygamma(1, p * 3),
        ember.bucketize(x.detach(), ember.tensor([-1.0, 0.0, 1.0], device=x.device))),
     [X, ("f", (5, 4)), P]),
]

NOT_DEVICE_OPS["no tensor computation (batch 2)"] = [
    "can_cast", "get_default_device", "set_default_device", "is_complex", "is_nonzero", "strided", "layout",
    "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc"]   # (layout names)
NOT_DEVICE_OPS["torch's top-level in-place functions: Tensor methods the cases call, same code"] = [
    "abs_", "acos_", "arccos_", "arcsin_", "arctan_", "asin_", "atan_", "ceil_", "clamp_max_", "clamp_min_", "clip_",
    "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "erfinv_", "exp2_", "expm1_", "fix_", "floor_", "frac_", "log10_",
    "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "round_",
    "rsqrt_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "trunc_", "xlogy_"]


# complex numbers (ember/ops/complex.py) and torch.fft (ember/fft.py): complex results are compared
# through view_as_real, a float view, so the runner backpropagates through them too
def _ri(*zs):
    return tuple(ember.view_as_real(z) for z in zs)


def _complex_views(a, b):
    z = ember.complex(a, b)
    return _ri(z, ember.polar(a.abs() + 0.1, b), z.conj(), ember.conj_physical(z), z.sgn(), ember.resolve_conj(z)) + (
        ember.view_as_complex(ember.stack([a, b], -1)).abs(), ember.real(z), ember.imag(z), z.real * z.imag, z.angle(), ember.angle(a),
        ember.resolve_neg(a), ember.tensor([ember.is_conj(z), ember.is_neg(a)], device=a.device))


def _complex_math(a, b):
    z, w = ember.complex(a, b), ember.complex(b, a)
    return _ri(z * w, z / w, z.exp(), z.log(), z.sqrt(), z.sin(), z.tanh(), z.reciprocal(), z @ w.mT, z.sum(),
               z.mean(1), z.prod(0), z ** 2, z * (1 - 2j), a * 1j, z + a, ember.einsum("ij,kj->ik", z, w))


def _fft(a):
    fft = ember.fft
    z = ember.complex(a, a.flip(1))
    return _ri(fft.fft(a), fft.ifft(z, n=8), fft.rfft(a, norm="ortho"), fft.fft2(z), fft.ifft2(a, s=(3, 3)),
               fft.rfft2(a), fft.fftn(z, dim=(0,)), fft.ifftn(z, norm="forward"), fft.rfftn(a, s=(2, 4)),
               fft.ihfft(a)) + (fft.irfft(z), fft.hfft(z, n=7), fft.irfft2(z), fft.irfftn(z, s=(4, 5)),
                                fft.fftshift(a), fft.ifftshift(a, dim=1),
                                fft.fftfreq(5, device=a.device), fft.rfftfreq(6, 0.5, device=a.device))


CASES += [
    ("complex_views", _complex_views, [X, X]),
    ("complex_math", _complex_math, [P, X]),
    ("fft", _fft, [("f", (4, 6))]),
]


# torch.stft / torch.istft (ember/ops/spectral.py): frames, window, fft and overlap-add on the device
def _stft(x, w):
    spec = ember.stft(x, 8, hop_length=2, window=w, return_complex=True)
    return _ri(spec, x.stft(8, window=w.abs() + 0.5, onesided=False, center=False, return_complex=True)) + (
        ember.istft(spec, 8, hop_length=2, window=w.abs() + 0.5),)


CASES += [("stft", _stft, [("f", (2, 24)), ("f", (8,))])]
# the dir() comparison's additions, group 1 (tests/ops/test_api_gaps.py)
CASES += [
    ("api_gaps_math", lambda x, y, i, j: (
        ember.bitwise_left_shift(i, j % 4), ember.bitwise_right_shift(i, 1), i << 2, ember.copysign(x, y),
        ember.nextafter(x.detach(), y.detach()), ember.gcd(i, j), ember.lcm(i, j), ember.ldexp(x, j % 3),
        ember.frexp(x.detach()), ember.isreal(x), ember.gcd_(i.clone(), j), ember.lcm_(i.clone(), j),
        ember.ldexp_(x.detach().clone(), j % 3), x.clone().eq_(y), i.clone().bitwise_xor_(j),
        ember.addr(x, y[:, 0], y[0], beta=0.5), ember.addmv_(x[0, :3].detach().clone(), x.detach(), y[0].detach()),
        ember.renorm(x, 2, 0, 1.0), x.renorm(1, 1, 0.5), ember.i0(x), ember.igamma(x.abs() + 1, y.abs() + 0.5),
        ember.mvlgamma(x.abs() + 2, 2)),
     [X, X, ("i", (3, 4), 9), ("i", (3, 4), 9)]),
    ("api_gaps_shape", lambda x, y, i: (
        ember.row_stack([x, y]), ember.split_with_sizes(x, [1, 3], 1), ember.unsafe_chunk(x, 2, 1),
        ember.unsafe_split(x, 2), ember.unsafe_split_with_sizes(x, [2, 2], 1),
        ember.slice_scatter(x, y[:, :2], 1, 0, 4, 2), ember.select_scatter(x, y[0], 0, 1),
        ember.diagonal_scatter(x, y[0, :2], 2), ember.index_put(x, (i[:, 0], i[:, 1]), y[0, :3], True),
        ember.as_strided_scatter(x, y[:2, :2], (2, 2), (1, 4), 1), ember.as_strided_(x * 1, (2, 2), (1, 4), 1),
        x.index_put((i[:, 0],), y[:1]), ember.index_put_(x.detach().clone(), (i[:, 0],), y[0].detach()),
        ember.index_reduce(x, 1, i[:, 0], y[:, :3], "amax"), ember.fill(x, 2.0), ember.detach(x),
        ember.empty_strided((2, 3), (1, 2), device=x.device).fill_(1.0),
        ember.tensor([ember.is_same_size(x, y), ember.is_signed(x), ember.is_inference(x),
                      ember.get_device(x) >= -1], device=x.device)),
     [X, X, ("i", (3, 2), 3)]),
]
NOT_DEVICE_OPS["host memory by definition (tests/ops/test_api_gaps.py)"] = ["frombuffer"]

# group 2 (tests/ops/test_api_gaps_numerics.py)
CASES += [
    ("api_gaps_numerics", lambda x, y: (
        ember.trapezoid(x), ember.trapz(x, dx=0.5), ember.trapezoid(x, y[0]), ember.cumulative_trapezoid(x, dim=0),
        ember.cumulative_trapezoid(x, y[0]), ember.gradient(x, spacing=[0.5, 2.0]), ember.gradient(x, edge_order=2),
        ember.vander(x[0], 3), ember.pdist(x), ember.pdist(y, 1), F.pdist(x, 3.0),
        ember.histogram(x.detach(), 4), ember.histogramdd(x.detach()[:, :2], bins=[2, 3]),
        ember.hann_window(5, device=x.device), ember.hamming_window(6, False, device=x.device),
        ember.blackman_window(4, device=x.device), ember.bartlett_window(7, device=x.device),
        ember.kaiser_window(5, True, 4.0, device=x.device)),
     [X, ("f", (2, 4))]),
]
NOT_DEVICE_OPS["random (each device has its own stream; tests/ops/test_api_gaps_numerics.py)"] = ["poisson", "binomial"]

# group 5 (tests/nn/test_api_gaps_layers.py)
CASES += [
    ("fractional_max_pool2d", lambda x: (
        F.fractional_max_pool2d(x, 2, output_size=(3, 4), _random_samples=ember.tensor(
            [[[0.3, 0.7]] * 3] * 2, device=x.device)),
        F.fractional_max_pool2d_with_indices(x, 3, output_ratio=(0.5, 0.5), _random_samples=ember.tensor(
            [[[0.9, 0.1]] * 3] * 2, device=x.device))), [IMG]),
]
NOT_DEVICE_OPS["random (each device has its own stream; tests/nn/test_api_gaps_layers.py)"] = ["gumbel_softmax"]

# the API-gap additions (tests/ops/test_view_copy.py, tests/test_memory_format.py,
# tests/nn/test_fusion_fracpool3d.py, tests/test_fft.py)
CASES += [
    ("view_copies", lambda x: (
        ember.view_copy(x, (4, 3)), ember.transpose_copy(x, 0, 1), ember.permute_copy(x, (1, 0)),
        ember.expand_copy(x[:1], (2, 4)), ember.squeeze_copy(x[None], 0), ember.unsqueeze_copy(x, 1), ember.t_copy(x),
        ember.diagonal_copy(x, 1), ember.select_copy(x, 1, 2), ember.slice_copy(x, 1, 0, 3, 2),
        ember.split_copy(x, 2, 1), ember.split_with_sizes_copy(x, [1, 3], 1), ember.unbind_copy(x, 0),
        ember.unfold_copy(x, 1, 2, 1), ember.alias_copy(x), ember.as_strided_copy(x, (2, 2), (1, 2)),
        ember.narrow_copy(x, 1, 1, 2), ember.detach_copy(x), ember.nonzero_static(x > 0, size=5)), [X]),
    ("channels_last", lambda x, w: (
        x.contiguous(memory_format=ember.channels_last), F.conv2d(x.to(memory_format=ember.channels_last), w),
        F.max_pool2d(x.contiguous(memory_format=ember.channels_last), 2),
        ember.empty_like(x.contiguous(memory_format=ember.channels_last)).fill_(1.0),
        ember.empty_permuted(tuple(x.shape), (0, 2, 3, 1), device=x.device).fill_(1.0),
        x.contiguous(memory_format=ember.channels_last).clone() * 2), [IMG, ("f", (4, 3, 3, 3))]),
    ("fractional_max_pool3d", lambda x: (
        F.fractional_max_pool3d(x, 2, output_size=(2, 3, 2), _random_samples=ember.tensor(
            [[[0.3, 0.7, 0.5]] * 2], device=x.device)),
        F.fractional_max_pool3d_with_indices(x, (2, 1, 2), output_ratio=0.5, _random_samples=ember.tensor(
            [[[0.9, 0.1, 0.4]] * 2], device=x.device))), [("f", (1, 2, 4, 5, 4))]),
    ("hfftn", lambda a: _ri(ember.fft.ihfft2(a), ember.fft.ihfftn(a, s=(3, 4))) + (
        ember.fft.hfft2(ember.complex(a, a.flip(1))), ember.fft.hfftn(ember.complex(a, a), s=(4, 6))),
     [("f", (4, 6))]),
]
NOT_DEVICE_OPS["view copies covered by the view_copies case"] = ["view_as_real_copy", "view_as_complex_copy"]
