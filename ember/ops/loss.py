"""Loss functions: cross_entropy, nll_loss, mse_loss, l1_loss, binary cross entropy, kl_div, ...

Each loss computes its elementwise terms on raw arrays and reduces them; its
node returns the gradient for the input (and for the target when the target
requires grad).  The top node carries the name torch gives the loss's grad_fn
(``NllLossBackward0``, ``MseLossBackward0``, ...).  ``cross_entropy`` records
``NllLossBackward0`` over ``LogSoftmaxBackward0`` as torch does; its common
case (2-D logits, int64 class indices) runs in one fused pass.
"""
import math

import numpy as np

from .. import _backend as B
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from ..autograd.higher_order import _output_tensor, vjp
from .._tensor import Tensor, _wrap
from . import AUTOCAST, FP32, bf16_vector_part, in_float32, unbroadcast
from .activation import (LogSoftmaxBackward0, _SAVED_OUTPUT, _in_row_blocks, _log_softmax_array, _record,
                         _row_blocks_fit, _row_state, _sigm, bf16_softmax, softplus0)
from .._userwarn import warn as _warn_user

# names torch exposes at top level (torch.kl_div, ...)
__all__ = ["binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss", "margin_ranking_loss",
           "hinge_embedding_loss", "poisson_nll_loss", "triplet_margin_loss"]

# names torch.nn.functional exposes from this module
__functional__ = [
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "soft_margin_loss",
    "cosine_embedding_loss", "margin_ranking_loss", "hinge_embedding_loss", "poisson_nll_loss",
    "gaussian_nll_loss", "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
    "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss",
]

_new = object.__new__
xp_of = B.xp_of
_ARANGE = {}  # n -> read-only arange(n), for gathering one entry per row


# ---- reduction ------------------------------------------------------------------
_ENUM = {0: "none", 1: "mean", 2: "sum"}


def _legacy(size_average, reduce):
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    _warn_user(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.")
    return ret


def _reduction(reduction, size_average=None, reduce=None, extra=None):
    """The reduction as 'none' / 'mean' / 'sum' (legacy size_average/reduce and torch's ints accepted)."""
    if size_average is not None or reduce is not None:
        return _legacy(size_average, reduce)
    if reduction == "mean" or reduction == "sum" or reduction == "none" or reduction == extra:
        return reduction
    if type(reduction) is int and reduction in _ENUM:
        return _ENUM[reduction]
    if reduction == "elementwise_mean":
        _warn_user("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.")
        return "mean"
    valid = "'none', 'mean', 'sum'" + (f" or '{extra}'" if extra else "")
    raise ValueError(f"{reduction} is not a valid value for reduction (expected one of {valid})")


def _cascade_sum(v):
    """The sum of the 1-d array v in the order of torch's nll_loss kernel: its first value alone; the rest
    in runs of 16, each added in order from 0, those sums in runs of 16 again, level by level; what is
    left at each level added in order; then those partial sums, level by level, and the first value.
    (NumPy's pairwise sum gave a batch-4 cross-entropy torch's bits in 64 % of draws, this in all.)"""
    xp = xp_of(v)
    n = v.shape[0]
    if n <= 8:   # (NumPy adds fewer than 8 values in order, from 0)
        return xp.add.reduce(v[1:]) + v[0] if n else xp.add.reduce(v)
    total = v.dtype.type(0)
    level = v[1:]
    while level.shape[0]:
        full = level.shape[0] // 16 * 16
        if full < level.shape[0]:
            total = total + xp.add.accumulate(level[full:])[-1]
        level = xp.add.accumulate(level[:full].reshape(-1, 16), axis=1)[:, -1]
    return total + v[0]


def _reduce(loss, red, denom=None):
    """Reduce an elementwise loss array; 'mean' divides by denom (default: the element count)."""
    xp = xp_of(loss)
    if red == "none":   # (NumPy gives 0-d operands' elementwise results as scalars; tensors hold arrays)
        return B.host_array(loss) if isinstance(loss, np.generic) else loss
    if loss.dtype.kind == "V":   # bfloat16: summed (and divided) in float32, rounded once, as torch's sum and mean
        return B.bf16_round(_reduce(loss.astype(np.float32), red, denom))
    total = loss.sum()
    if red == "sum":
        return xp.asarray(total)
    if denom is None:
        denom = loss.size
    return xp.asarray(total / denom) if denom else xp.asarray(total * np.nan)


_NAMED = {}


def _named(base, name):
    """A subclass of base called name: fused losses take the name of torch's top node."""
    key = (base, name)
    cls = _NAMED.get(key)
    if cls is None:
        cls = _NAMED[key] = type(name, (base,), {"__slots__": ()})
    return cls


# ---- class-index losses: nll_loss / cross_entropy -------------------------------------
class NllLossBackward0(Node):
    """Gradient w.r.t. the log-probabilities; with label smoothing it also spreads over all classes."""

    __slots__ = ("t2", "coef", "red", "lp_shape", "dtype", "smooth", "w", "scoef", "valid")
    _saved_fields = ("t2", "coef", "w", "scoef", "valid")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py); the
    # coefficients come from class weights and counts, which get no gradient in torch either
    _double_backward = True
    _constant_fields = ("coef", "w", "scoef", "valid")

    def apply(self, g):
        t2 = self.t2
        m = t2.shape[0]
        shape = self.lp_shape
        c = shape[1] if len(shape) > 1 else shape[0]
        xp = xp_of(g)
        grad = xp.zeros((m, c), dtype=self.dtype)
        # coef folds in -weight[target], validity (ignore_index) and the mean's 1/denom
        gs = g.reshape(-1) if self.red == "none" else g
        r = gs * self.coef
        valid = self.valid
        if valid is not None:   # ignored targets get +0.0, also when a mean has nothing to divide by
            r = B.where(xp, valid, r, 0)
        smooth = self.smooth
        ar = _ARANGE.get(m) if xp is np else None
        if ar is None:
            ar = xp.arange(m)
        grad[ar, t2] = r * (1 - smooth) if smooth else r
        if smooth:
            # label smoothing spreads smooth/C of each sample's (unweighted) gradient over all classes
            rs = xp.broadcast_to(gs * self.scoef, (m,))
            if valid is not None:
                rs = B.where(xp, valid, rs, 0)
            spread = rs[:, None] * (smooth / c)
            grad += spread if self.w is None else spread * self.w
        return (_unflatten(grad, shape),)


class NllLoss2DBackward0(NllLossBackward0):
    __slots__ = ()


def _nll_bf16_mean_apply(self, g):
    return NllLossBackward0.apply(self, B.bf16_round(g.astype(np.float32) / np.float32(self.scoef)))


_NLL_BF16_MEAN = {cls: type(cls.__name__, (cls,), {"__slots__": (), "_double_backward": False,
                                                   "__qualname__": cls.__qualname__, "apply": _nll_bf16_mean_apply})
                  for cls in (NllLossBackward0, NllLoss2DBackward0)}


class _SmoothedNllBackward(NllLossBackward0):
    __slots__ = ()


def _unflatten(grad2, shape):
    """(M, C) gradient back to the log-probabilities' layout (C,), (N, C) or (N, C, d1, ...)."""
    if len(shape) == 1:
        return grad2.reshape(shape)
    if len(shape) == 2:
        return grad2
    n, c = shape[0], shape[1]
    g = grad2.reshape((n,) + tuple(shape[2:]) + (c,))
    return g.transpose((0, g.ndim - 1) + tuple(range(1, g.ndim - 1)))   # classes back to dim 1


def _flatten(lp):
    """Log-probabilities as an (M, C) array with classes last."""
    if lp.ndim == 1:
        return lp.reshape(1, -1)
    if lp.ndim == 2:
        return lp
    return lp.transpose((0,) + tuple(range(2, lp.ndim)) + (1,)).reshape(-1, lp.shape[1])   # classes last


def _check_target_dtype(name, x_shape, t):
    if t.dtype != np.int64 and t.dtype != np.uint8:
        tn = B.scalar_name(t.dtype)
        if t.dtype.kind == "f":
            hint = (f"a float target is read as class probabilities only when it has the input's shape "
                    f"{list(x_shape)}, and this one has shape {list(t.shape)}. For class indices use "
                    "target.long()")
        else:
            hint = "convert the class indices with target.long()"
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {tn} "
                           f"({name}: expected scalar type Long but found {tn}; {hint})")


def _check_targets(name, x_shape, target):
    """Validate class-index targets against the input's shape; return them as a flat int64 array.
    The checks run in torch's order (nll_loss_nd, then the 1-2-d, 4-d or other kernel's), so that a target
    wrong in several ways gets torch's exception."""
    t = target._data
    nd = len(x_shape)
    if nd == 0:
        raise ValueError(f"Expected 1 or more dimensions (got 0) ({name}: expected input of shape (C,), (N, C) or "
                         "(N, C, d1, ...), got a 0-d tensor)")
    if nd != 1:
        if t.ndim == 0 and x_shape[0] == 0:
            raise IndexError(f"Dimension specified as 0 but tensor has no dimensions ({name}: input "
                             f"{list(x_shape)} needs class indices of shape {[0] + list(x_shape[2:])})")
        if (t.shape[0] if t.ndim else 0) != x_shape[0]:
            raise ValueError(f"Expected input batch_size ({x_shape[0]}) to match target batch_size "
                             f"({t.shape[0] if t.ndim else 0}). ({name}: input {list(x_shape)}, target "
                             f"{list(t.shape)}; the target holds one class index per sample)")
    if nd <= 2:
        if t.ndim > 1:
            raise RuntimeError(
                f"0D or 1D target tensor expected, multi-target not supported ({name}: input "
                f"{list(x_shape)} needs class indices of shape {[x_shape[0]] if nd == 2 else []}, got "
                f"target of shape {list(t.shape)})")
        _check_target_dtype(name, x_shape, t)
        if nd == 1 and t.ndim == 1 and t.shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {t.shape[0]} "
                             f"({name}: input (C,) is one sample, which takes one class index)")
    elif nd == 4:
        want = [x_shape[0]] + list(x_shape[2:])
        if t.ndim != 3:
            raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got targets of "
                               f"dimension: {t.ndim} ({name}: input {list(x_shape)} needs class indices of shape "
                               f"{want})")
        _check_target_dtype(name, x_shape, t)
        if list(t.shape) != want:
            raise RuntimeError(f"size mismatch (got input: {list(x_shape)} , target: {list(t.shape)}) ({name}: "
                               f"input of shape (N, C, H, W) needs class indices of shape (N, H, W) = {want})")
    else:
        want = [x_shape[0]] + list(x_shape[2:])
        if list(t.shape) != want:
            raise RuntimeError(f"Expected target size {want}, got {list(t.shape)} ({name}: input {list(x_shape)} "
                               "of shape (N, C, d1, ...) needs class indices of shape (N, d1, ...))")
        _check_target_dtype(name, x_shape, t)
    return t.reshape(-1).astype(np.int64, copy=False)


def _out_of_bounds(name, t2, c, ignore_index):
    bad = t2[(t2 < 0) | (t2 >= c)]
    bad = bad[bad != ignore_index]
    v = int(bad[0])
    hint = ("the class indices must be 0..C-1: check that the last layer's out_features equals the number "
            "of classes")
    if v < 0:
        hint = f"negative targets are only allowed as ignore_index (currently {ignore_index})"
    return IndexError(f"Target {v} is out of bounds. ({name}: target {v} is out of bounds for {c} classes "
                      f"(valid: 0..{c - 1}); {hint})")


def _nll(name, lp, lp_tensor_edge, target, weight, ignore_index, red, smooth=0.0):
    """NLL (optionally label-smoothed) of log-probabilities lp; returns (loss array, node or None)."""
    shape = lp.shape
    t2 = _check_targets(name, shape, target)
    c = shape[1] if lp.ndim > 1 else shape[0]
    lp2 = _flatten(lp)
    valid = None
    if ignore_index is not None and ignore_index in t2:
        valid = t2 != ignore_index
        t2 = xp_of(t2).where(valid, t2, 0)
    if t2.size and (t2.min() < 0 or t2.max() >= c):
        raise _out_of_bounds(name, target.detach().cpu().numpy().reshape(-1).astype(np.int64), c, ignore_index)
    w = None
    if weight is not None:
        w = weight._data
        if w.size != c or w.ndim != 1:
            raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but "
                               f"got weight tensor of shape: {list(w.shape)} ({name}: input has {c} classes "
                               f"along dim {1 if lp.ndim > 1 else 0})")
        if w.dtype != lp.dtype:
            w = w.astype(lp.dtype)
    m = t2.shape[0]
    picked = lp2[xp_of(lp2).arange(m), t2]
    # per-sample weight: class weight times validity
    wi = None
    if w is not None:
        wi = w[t2]
        if valid is not None:
            wi = wi * valid
    elif valid is not None:
        wi = valid.astype(lp.dtype)
    loss = -picked if wi is None else -(picked * wi)
    if smooth:
        sl = -(lp2.sum(axis=1) if w is None else (lp2 * w).sum(axis=1))
        if valid is not None:
            sl = sl * valid
        loss = loss * (1 - smooth) + sl * (smooth / c)
    denom = None
    if red == "mean":
        denom = m if wi is None else wi.sum()
    if red == "none":
        out = loss.reshape(target._data.shape if lp.ndim > 1 else ())   # (a 1-d input's size-1 target too)
    elif lp.ndim <= 2 and not smooth:
        # torch's (N, C) kernel adds the losses, and the class weights it divides by, in its cascade order
        if red == "mean" and w is not None:
            denom = _cascade_sum(wi)
        total = _cascade_sum(loss)
        xp = xp_of(loss)
        out = xp.asarray(total) if red == "sum" else xp.asarray(total / denom) if denom else \
            xp.asarray(total * np.nan)
    else:
        out = _reduce(loss, red, denom)
    node = None
    if lp_tensor_edge is not None:
        if smooth:  # torch's top node is the add of the nll and smoothing terms
            cls = _named(_SmoothedNllBackward, "AddBackward0")
        else:
            cls = NllLoss2DBackward0 if lp.ndim >= 3 else NllLossBackward0
        node = _new(cls)
        node.next_functions = (lp_tensor_edge,)
        node._saved_versions = _SAVED_OUTPUT
        coef = -1.0 if wi is None else -wi
        scoef = -1.0 if valid is None else -valid.astype(lp.dtype)
        if red == "mean":
            if wi is not None and lp.dtype.kind == "V" and not smooth and denom:
                # bfloat16 class weights: torch's kernel divides the gradient by their total before weighting
                # it, each rounding (_NllBf16MeanBackward, which takes the total from scoef)
                node.__class__ = _NLL_BF16_MEAN[cls]
                scoef = denom
            else:
                coef = coef / denom if denom else coef * np.nan
                scoef = scoef / denom if denom else scoef * np.nan
        node.t2, node.coef, node.red, node.lp_shape, node.dtype = t2, coef, red, shape, lp.dtype
        node.smooth, node.w, node.scoef, node.valid = smooth, w, scoef, valid
    return out, node


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of class indices given log-probabilities (N, C) or (N, C, d1, ...)."""
    if AUTOCAST[0] is not None:
        input, weight = AUTOCAST[0](FP32, input, weight)
    red = _reduction(reduction, size_average, reduce)
    x = input._data
    if x.dtype.kind != "f" and x.dtype.kind != "V":   # ('V': bfloat16)
        raise NotImplementedError(f"\"nll_loss_out_frame\" not implemented for '{B.scalar_name(x.dtype)}' (nll_loss "
                                  "needs floating point log-probabilities, e.g. from log_softmax)")
    grad = state.enabled and input._requires_grad
    out, node = _nll("nll_loss", x, edge(input) if grad else None, target, weight, ignore_index, red)
    return _record(out, node)


def _ce_prob(input, target, weight, red, smooth):
    """cross_entropy with class-probability targets (same shape as the input)."""
    x = input._data
    t = target._data
    if t.dtype.kind != "f":
        raise RuntimeError(f"Expected floating point type for target with class probabilities, got "
                           f"{B.scalar_name(t.dtype)} (cross_entropy: a target with the input's shape "
                           f"{list(x.shape)} is read as class probabilities; class indices have shape (N,))")
    if x.ndim == 0:
        raise IndexError("Dimension specified as 1 but tensor has no dimensions (cross_entropy: expected input of "
                         "shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor)")
    dim = 1 if x.ndim > 1 else 0
    c = x.shape[dim]
    lp = _log_softmax_array(x, dim)
    if t.dtype != x.dtype:
        t = t.astype(x.dtype)
    teff = t * (1 - smooth) + smooth / c if smooth else t
    wb = None
    if weight is not None:
        w = weight._data
        if w.size != c:
            raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no classes but "
                               f"got weight tensor of shape: {list(w.shape)}")
        wb = w.astype(x.dtype, copy=False).reshape((c,) + (1,) * (x.ndim - dim - 1))
        teff = teff * wb
    terms = lp * teff
    denom = x.size / c if x.size else 0
    xp = xp_of(x)
    if red == "none":
        out = xp.asarray(-terms.sum(axis=dim))
    elif red == "sum":
        out = xp.asarray(-terms.sum())
    else:
        out = xp.asarray(-terms.sum() / denom) if denom else xp.asarray(np.nan, dtype=x.dtype)
    node = None
    if state.enabled and (input._requires_grad or target._requires_grad):
        ls_node = None
        if input._requires_grad:
            ls_node = _new(LogSoftmaxBackward0)
            ls_node.next_functions = (edge(input),)
            ls_node._saved_versions = _SAVED_OUTPUT
            ls_node.y, ls_node.dim = lp, dim
        node = _new(_named(_CEProbBackward, "DivBackward1" if red == "mean" else "NegBackward0"))
        node.next_functions = ((ls_node, 0) if ls_node is not None else (None, 0), edge(target))
        node._saved_versions = ((target, target._vc[0]),)   # (as torch's composite saves it)
        node.teff, node.lp, node.red, node.denom, node.dim = teff, lp, red, denom, dim
        node.smooth, node.wb = smooth, wb
        node.tscale = (1 - smooth) if wb is None else wb * (1 - smooth)
        node.t_dtype = target._data.dtype
    return _record(out, node)


class _CEProbBackward(Node):
    __slots__ = ("teff", "lp", "red", "denom", "dim", "tscale", "t_dtype", "smooth", "wb")
    _saved_fields = ("teff", "lp", "tscale")
    # its formula also runs on Tensors (create_graph=True)
    _double_backward = True
    _constant_fields = ("tscale",)

    def _tensor_field(self, field, saved):
        # lp is the log-softmax node's output (that node leads to the input); teff, the smoothed and
        # weighted target, is recomputed from the target
        if field == "lp":
            ls = self.next_functions[0][0]
            return _output_tensor(self.lp, ls) if ls is not None else _wrap(self.lp)
        t, = saved
        if field != "teff" or t._data.dtype != self.lp.dtype:
            return None   # (a cast target is not traced)
        if self.smooth:
            t = t * (1 - self.smooth) + self.smooth / self.lp.shape[self.dim]
        return t if self.wb is None else t * _wrap(self.wb)

    def apply(self, g):
        if self.red == "none":
            s = xp_of(g).expand_dims(g, self.dim) if g.ndim or self.lp.ndim > 1 else g
        elif self.red == "sum":
            s = g
        else:
            s = g / self.denom
        glp = gt = None
        if self.next_functions[0][0] is not None:
            glp = -(self.teff * s)
        if self.next_functions[1][0] is not None:
            gt = (-(self.lp * self.tscale) * s).astype(self.t_dtype, copy=False)
        return glp, gt


def _log_softmax_of_rows(x):
    """cross_entropy's log-softmax over the rows of (N, C) logits (each row's bits the same in a block
    of rows as in the whole array: NumPy reduces each row alike)."""
    xp = xp_of(x)
    z = x - xp.maximum.reduce(x, axis=1, keepdims=True)
    z -= xp.log(xp.add.reduce(xp.exp(z), axis=1, keepdims=True))
    return z


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy between logits and class indices (or class probabilities): log_softmax + nll_loss."""
    if AUTOCAST[0] is not None:
        input, target, weight = AUTOCAST[0](FP32, input, target, weight)
    x = input._data
    t = target._data
    # the training hot path: (N, C) float logits, (N,) int64 targets, nothing else
    if (reduction == "mean" and weight is None and not label_smoothing and size_average is None
            and reduce is None and x.ndim == 2 and t.ndim == 1 and t.dtype == np.int64
            and x.dtype.kind == "f" and ignore_index < 0 and t.shape[0] == x.shape[0] and t.shape[0]):
        n, c = x.shape
        xp = xp_of(x)
        if _row_blocks_fit(x, 1):   # (a language model's logits: in blocks of rows, on threads)
            z = _in_row_blocks(_log_softmax_of_rows, x)
        else:
            quiet = B.fp_set(_row_state(x, 1))   # inf logits give nan silently, as in torch
            try:
                z = _log_softmax_of_rows(x)
            finally:
                B.fp_reset(quiet)
        ar = _ARANGE.get(n) if xp is np else None
        if ar is None:
            ar = xp.arange(n)
            if xp is np:
                ar.flags.writeable = False
                if len(_ARANGE) < 64:
                    _ARANGE[n] = ar
        # as uint64, negative targets are huge: one reduction checks both bounds (out-of-range
        # targets fall through to the general path, which explains the error)
        if xp.maximum.reduce(t.view(np.uint64)) < c:
            out = xp.asarray(_cascade_sum(z[ar, t]) / -n)
            if state.enabled and input._requires_grad:
                ls = _new(LogSoftmaxBackward0)
                ls.next_functions = (edge(input),)
                ls._saved_versions = _SAVED_OUTPUT
                ls.y, ls.dim = z, 1
                node = _new(NllLossBackward0)
                node.next_functions = ((ls, 0),)
                node._saved_versions = _SAVED_OUTPUT
                node.t2, node.coef, node.red, node.lp_shape, node.dtype = t, -1.0 / n, "mean", (n, c), z.dtype
                node.smooth, node.w, node.scoef, node.valid = 0.0, None, None, None
                r = _wrap(out)
                r._requires_grad = True
                r.grad_fn = node
                return r
            return _wrap(out)
    red = _reduction(reduction, size_average, reduce)
    if x.dtype.kind != "f" and x.dtype.kind != "V":   # ('V': bfloat16)
        raise NotImplementedError(
            f"\"log_softmax_lastdim_kernel_impl\" not implemented for '{B.scalar_name(x.dtype)}' (cross_entropy needs "
            f"floating point logits, got {input.dtype}; convert with .float())")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if x.ndim == 0 and t.shape != x.shape:   # torch's log_softmax over dim 1 fails first
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1) (cross_entropy: "
                         "expected input of shape (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor)")
    if t.shape == x.shape:
        if ignore_index >= 0 and t.dtype.kind == "f":
            raise RuntimeError("ignore_index is not supported for floating point target (cross_entropy with "
                               "class-probability targets)")
        return _ce_prob(input, target, weight, red, float(label_smoothing))
    dim = 1 if x.ndim > 1 else 0
    bf16 = x.dtype.kind == "V"
    lp = _log_softmax_array(x, dim) if not bf16 else bf16_softmax(x, dim, True)
    ls = None
    if state.enabled and input._requires_grad:
        ls = _new(LogSoftmaxBackward0)
        ls.next_functions = (edge(input),)
        ls._saved_versions = _SAVED_OUTPUT
        ls.y, ls.dim = lp, dim
        if bf16:
            in_float32(ls)
    out, node = _nll("cross_entropy", lp, (ls, 0) if ls is not None else None, target, weight, ignore_index,
                     red, float(label_smoothing))
    if label_smoothing and x.ndim == 1 and t.ndim == 1:
        # torch's smoothing term keeps the target's shape [1], which its 0-d nll term can't take
        raise RuntimeError("output with shape [] doesn't match the broadcast shape [1] (cross_entropy with "
                           "label_smoothing: give a 1-D input (one sample) a 0-d class index, e.g. target[0])")
    return _record(out, node)


# ---- pointwise regression / classification losses ----------------------------------
def _size_warning(input, target):
    if input._data.shape != target._data.shape:
        _warn_user(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
            "This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.")


def _pair(name, input, target):
    """Input and target arrays in a common float dtype, with torch's broadcasting error."""
    xp = xp_of(input._data)
    x = input._data
    t = target._data if isinstance(target, Tensor) else xp.asarray(target)
    if type(t) is not type(x):
        B.check_same_device(name, x, t)
    if x.dtype != t.dtype:
        dt = B.promote_types(B.dtype_of(x), B.dtype_of(t)).np
        x = x.astype(dt, copy=False)
        t = t.astype(dt, copy=False)
    if x.dtype.kind != "f" and x.dtype.kind != "V":   # ('V': bfloat16)
        raise NotImplementedError(f"\"{name}\" not implemented for '{B.scalar_name(x.dtype)}' ({name} needs floating "
                                  "point input; convert with .float())")
    if x.shape != t.shape:
        try:
            np.broadcast_shapes(x.shape, t.shape)
        except ValueError:
            raise _size_mismatch(x.shape, t.shape, f"{name}: input {list(x.shape)} and target {list(t.shape)} "
                                 "can't be broadcast; give the target the input's shape") from None
    return x, t


def _size_mismatch(a, b, context):
    """torch's RuntimeError for operand shapes a and b that don't broadcast, with context."""
    k = next(i for i in range(1, max(len(a), len(b)) + 1)
             if i <= len(a) and i <= len(b) and a[-i] != b[-i] and a[-i] != 1 and b[-i] != 1)
    return RuntimeError(f"The size of tensor a ({a[-k]}) must match the size of tensor b ({b[-k]}) at non-singleton "
                        f"dimension {max(len(a), len(b)) - k} ({context})")


def _check_onto(shape, a, b, context):
    """torch's errors for a product of operand shapes a and b written in place into a result of shape."""
    try:
        full = np.broadcast_shapes(a, b)
    except ValueError:
        raise _size_mismatch(a, b, context) from None
    if full != tuple(shape):
        raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape {list(full)} "
                           f"({context})")


def _not_differentiable(name, arg, tensor):
    """torch's error for a tensor that takes a gradient where its kernel has no derivative for it."""
    if tensor is not None and tensor._requires_grad and state.enabled:
        raise RuntimeError(f"The function '{name}' is not differentiable with respect to argument '{arg}'. This "
                           "input cannot have requires_grad True.")


class _PointwiseLoss(Node):
    """Base for fused pointwise losses: subclasses give d(loss)/d(input) and d(loss)/d(target)."""

    __slots__ = ("a", "b", "w", "red", "denom", "x_shape", "t_shape", "x_dtype", "t_dtype")
    _saved_fields = ("a", "b", "w")
    _constant_fields = ("w",)

    def _tensor_field(self, field, saved):
        # create_graph=True: a = input - target, recomputed from the two tensors
        return saved[0] - saved[1] if field == "a" and len(saved) == 2 else None

    def _scale(self, g):
        if self.red == "mean":
            return g / self.denom if self.denom else g * np.nan
        return g

    def apply(self, g):
        s = self._scale(g)
        if self.w is not None:
            s = s * self.w
        dx, dt = self.derivs(s)
        gx = gt = None
        if self.next_functions[0][0] is not None:
            gx = unbroadcast(dx, self.x_shape)
            if gx.dtype != self.x_dtype:
                gx = gx.astype(self.x_dtype)
        if len(self.next_functions) > 1 and self.next_functions[1][0] is not None:
            gt = unbroadcast(dt() if callable(dt) else dt, self.t_shape)
            if gt.dtype != self.t_dtype:
                gt = gt.astype(self.t_dtype)
        return gx, gt


class _InputTargetLoss(_PointwiseLoss):
    """A pointwise loss that saves input and target themselves (a, b), not their difference; its
    formula also runs on Tensors (create_graph=True)."""

    __slots__ = ()
    _double_backward = True
    _saved_inputs = {"a": 0, "b": 1}
    _promoted_inputs = True   # (a, b: input and target, cast to a common dtype)

    def _tensor_field(self, field, saved):
        return None   # (a cast input is not traced back)


def _pointwise(cls, input, target, loss, red, a, b=None, w=None, denom=None):
    """Reduce the elementwise loss and record cls with its saved arrays a, b (and weight w)."""
    out = _reduce(loss, red, denom)
    if not state.enabled:
        return _wrap(out)
    t_req = isinstance(target, Tensor) and target._requires_grad
    if not (input._requires_grad or t_req):
        return _wrap(out)
    node = _new(cls)
    node.next_functions = (edge(input), edge(target) if isinstance(target, Tensor) else (None, 0))
    vs = [(input, input._vc[0])]
    if isinstance(target, Tensor):
        vs.append((target, target._vc[0]))
    node._saved_versions = tuple(vs)
    node.a, node.b, node.w, node.red = a, b, w, red
    node.denom = loss.size if denom is None else denom
    node.x_shape, node.t_shape = input._data.shape, target._data.shape if isinstance(target, Tensor) else ()
    node.x_dtype = input._data.dtype
    node.t_dtype = target._data.dtype if isinstance(target, Tensor) else None
    return _record(out, node)


def _weighted(name, unweighted, weight, input, red, by_weight):
    """torch's weighted loss on Tensors, unweighted * weight reduced (a mean divides by the weights' sum when
    by_weight, else by the element count): taken when the weight itself takes a gradient."""
    _weight(name, weight, input)
    loss = unweighted * weight
    if red == "none":
        return loss
    return loss.sum() / weight.sum() if red == "mean" and by_weight else _reduced(loss, red)


def _weight(name, weight, input):
    if weight is None:
        return None, None
    w = weight._data
    if w.shape != input._data.shape:
        raise ValueError(f"Weights and input must have the same size. ({name}: weight {list(w.shape)}, input "
                         f"{list(input._data.shape)})")
    w = w.astype(input._data.dtype, copy=False)
    return w, w.sum()


class MseLossBackward0(_PointwiseLoss):
    __slots__ = ()
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def derivs(self, s):
        d = self.a * (s * 2)
        return d, lambda: -d


class _Bf16PointwiseLoss(_PointwiseLoss):
    """A bfloat16 pointwise loss's node: grads(g, d, norm) gives torch's kernel's gradients for the input and
    the target (float32 arrays of bfloat16 values), from g (the output's gradient, as float32, broadcast)
    and d (the saved difference); norm is the mean's 1 / n (else 1)."""
    __slots__ = ()
    _double_backward = False

    def apply(self, g):
        g = g.astype(np.float32)
        d = self.a
        g = xp_of(d).broadcast_to(g, d.shape) if g.shape != d.shape else g
        gx, gt = self.grads(g, d, 1.0 / self.denom if self.red == "mean" else 1.0)
        nf = self.next_functions
        return (unbroadcast(B.bf16_round(gx), self.x_shape) if nf[0][0] is not None else None,
                unbroadcast(B.bf16_round(gt), self.t_shape) if len(nf) > 1 and nf[1][0] is not None else None)


class _MseBf16Backward(_Bf16PointwiseLoss, MseLossBackward0):
    # torch's kernel: alpha * (a - b) * grad with alpha = 2 * norm rounded, each operation in bfloat16
    __slots__ = ()

    def grads(self, g, d, norm):
        r, alpha = B.bf16_through, B.bf16_number(2 * norm)
        return r(alpha * d) * g, r(alpha * -d) * g


_MseBf16Backward.__name__ = _MseBf16Backward.__qualname__ = "MseLossBackward0"


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error: (input - target) ** 2, reduced."""
    if AUTOCAST[0] is not None:
        input, target = AUTOCAST[0](FP32, input, target)
    if weight is not None and weight._requires_grad and state.enabled:
        return _weighted("mse_loss", mse_loss(input, target, reduction="none"), weight, input,
                         _reduction(reduction, size_average, reduce), True)
    _size_warning(input, target)
    red = _reduction(reduction, size_average, reduce)
    x, t = _pair("mse_loss", input, target)
    bf16 = x.dtype.kind == "V"   # torch's kernel squares the difference in bfloat16: two roundings
    d = x - t if not bf16 else B.bf16_through(x.astype(np.float32) - t.astype(np.float32))
    loss = d * d if not bf16 else B.bf16_round(d * d)
    w, wsum = _weight("mse_loss", weight, input)
    cls = MseLossBackward0 if not bf16 or weight is not None else _MseBf16Backward
    if w is not None:
        loss = loss * w
        cls = _named(MseLossBackward0, {"mean": "DivBackward0", "sum": "SumBackward0"}.get(red, "MulBackward0"))
    out = _pointwise(cls, input, target, loss, red, d, w=w, denom=wsum)
    if bf16 and w is not None and out.grad_fn is not None:
        in_float32(out.grad_fn)
    return out


class _L1Backward(_PointwiseLoss):
    __slots__ = ()
    # its formula also runs on Tensors (create_graph=True); as torch's (through abs), the second
    # derivative reaches input and target as zeros
    _double_backward = True
    _zero_edges = True

    def derivs(self, s):
        xp = xp_of(self.a)
        d = xp.sign(self.a) * s
        return d, lambda: -d


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error: |input - target|, reduced."""
    if AUTOCAST[0] is not None:
        input, target = AUTOCAST[0](FP32, input, target)
    xp = xp_of(input._data)
    if weight is not None and weight._requires_grad and state.enabled:
        return _weighted("l1_loss", l1_loss(input, target, reduction="none"), weight, input,
                         _reduction(reduction, size_average, reduce), True)
    _size_warning(input, target)
    red = _reduction(reduction, size_average, reduce)
    x, t = _pair("l1_loss", input, target)
    d = x - t
    loss = xp.abs(d)
    w, wsum = _weight("l1_loss", weight, input)
    if w is not None:
        loss = loss * w
        name = {"mean": "DivBackward0", "sum": "SumBackward0"}.get(red, "MulBackward0")
    else:
        name = {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(red, "AbsBackward0")
    return _pointwise(_named(_L1Backward, name), input, target, loss, red, d, w=w, denom=wsum)


class SmoothL1LossBackward0(_PointwiseLoss):
    __slots__ = ("beta",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def derivs(self, s):
        xp = xp_of(self.a)
        a, beta = self.a, self.beta
        d = B.where(xp, xp.abs(a) < beta, a / beta, xp.sign(a)) * s
        return d, lambda: -d


class _SmoothL1Bf16Backward(_Bf16PointwiseLoss, SmoothL1LossBackward0):
    # torch's kernel for bfloat16, in float32: norm * (d / beta) * grad over its vectors, norm * d * grad / beta
    # in the scalar tail of each chunk
    __slots__ = ()

    def grads(self, g, d, norm):
        xp, f = xp_of(d), np.float32
        beta, norm = f(self.beta), f(norm)
        vec = B.where(xp, bf16_vector_part(d.shape), norm * (d / beta) * g, norm * d * g / beta)
        gx = B.where(xp, d <= -beta, -norm * g, B.where(xp, d >= beta, norm * g, vec))
        return gx, -gx


_SmoothL1Bf16Backward.__name__ = _SmoothL1Bf16Backward.__qualname__ = "SmoothL1LossBackward0"


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 * d**2 / beta where |d| < beta, else |d| - 0.5 * beta (d = input - target)."""
    if AUTOCAST[0] is not None:
        input, target = AUTOCAST[0](FP32, input, target)
    xp = xp_of(input._data)
    beta = float(beta)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta (got {beta}).")
    if beta == 0.0:
        return l1_loss(input, target, size_average, reduce, reduction)
    _size_warning(input, target)
    red = _reduction(reduction, size_average, reduce)
    x, t = _pair("smooth_l1_loss", input, target)
    if x.dtype.kind == "V":   # bfloat16: torch's kernel for it computes in float32 and rounds once
        f = np.float32
        d = x.astype(f) - t.astype(f)
        ad = xp.abs(d)
        loss = B.bf16_round(B.where(xp, ad < f(beta), f(0.5) * ad * ad / f(beta), ad - f(0.5) * f(beta)))
        out = _pointwise(_SmoothL1Bf16Backward, input, target, loss, red, d)
        if out.grad_fn is not None:
            out.grad_fn.beta = beta
        return out
    d = x - t
    ad = xp.abs(d)
    loss = B.where(xp, ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta)
    out = _pointwise(SmoothL1LossBackward0, input, target, loss, red, d)
    if out.grad_fn is not None:
        out.grad_fn.beta = beta
    return out


class HuberLossBackward0(_PointwiseLoss):
    __slots__ = ("delta",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def derivs(self, s):
        xp = xp_of(self.a)
        a, delta = self.a, self.delta
        d = xp.clip(a, -delta, delta) * s
        return d, lambda: -d


class _HuberBf16Backward(_Bf16PointwiseLoss, HuberLossBackward0):
    # torch's kernel in bfloat16 arithmetic, each operation rounding: norm * d * grad where |d| < delta, else
    # norm * (+-delta) * grad over its vectors and (-+norm * grad) * delta in each chunk's scalar tail
    __slots__ = ()

    def grads(self, g, d, norm):
        xp, r = xp_of(d), B.bf16_through
        delta, norm = B.bf16_number(self.delta), B.bf16_number(norm)
        side = B.where(xp, d > 0, delta, -delta)
        vec = r(r(norm * side) * g)
        tail = r(r(B.where(xp, d > 0, norm, -norm) * g) * delta)
        out = B.where(xp, xp.abs(d) >= delta, B.where(xp, bf16_vector_part(d.shape), vec, tail), r(r(norm * d) * g))
        return out, -out


_HuberBf16Backward.__name__ = _HuberBf16Backward.__qualname__ = "HuberLossBackward0"


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 * d**2 where |d| < delta, else delta * (|d| - 0.5 * delta)."""
    if AUTOCAST[0] is not None:
        input, target = AUTOCAST[0](FP32, input, target)
    xp = xp_of(input._data)
    delta = float(delta)
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta (got {delta}).")
    if weight is not None and weight._requires_grad and state.enabled:
        return _weighted("huber_loss", huber_loss(input, target, "none", delta), weight, input,
                         _reduction(reduction), False)
    _size_warning(input, target)
    red = _reduction(reduction)
    x, t = _pair("huber_loss", input, target)
    w, _ = _weight("huber_loss", weight, input)
    if x.dtype.kind == "V" and w is None:   # bfloat16: torch's kernel rounds at each operation
        r, f = B.bf16_through, np.float32
        d = r(x.astype(f) - t.astype(f))
        ad, dl = xp.abs(d), B.bf16_number(delta)
        loss = B.bf16_round(B.where(xp, ad < dl, r(f(0.5) * ad) * ad, dl * r(ad - r(f(0.5) * dl))))
        out = _pointwise(_HuberBf16Backward, input, target, loss, red, d)
        if out.grad_fn is not None:
            out.grad_fn.delta = delta
        return out
    d = x - t
    ad = xp.abs(d)
    loss = B.where(xp, ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    cls = HuberLossBackward0
    if w is not None:
        # unlike mse_loss / l1_loss, torch's weighted huber 'mean' divides by the element count
        loss = loss * w
        cls = _named(HuberLossBackward0, {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(red, "MulBackward0"))
    out = _pointwise(cls, input, target, loss, red, d, w=w)
    if out.grad_fn is not None:
        out.grad_fn.delta = delta
    return out


class SoftMarginLossBackward0(_InputTargetLoss):
    __slots__ = ()

    def derivs(self, s):
        xp = xp_of(self.a)
        x, t = self.a, self.b
        e = _sigm(-t * x)
        return -t * e * s, lambda: -x * e * s


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)), reduced (targets are +1 / -1)."""
    xp = xp_of(input._data)
    red = _reduction(reduction, size_average, reduce)
    _not_differentiable("soft_margin_loss", "target", target)
    x, t = _pair("soft_margin_loss", input, target)
    loss = softplus0(-t * x)
    return _pointwise(SoftMarginLossBackward0, input, target, loss, red, x, t)


def _bce_shapes(input, target):
    if input._data.shape != target._data.shape:
        raise ValueError(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) is "
            "deprecated. Please ensure they have the same size.")


class BinaryCrossEntropyBackward0(_InputTargetLoss):
    __slots__ = ()

    def derivs(self, s):
        xp = xp_of(self.a)
        x, t = self.a, self.b
        dx = (x - t) / xp.maximum((1 - x) * x, 1e-12) * s

        def dt():
            with B.errstate(xp, divide="ignore"):
                return (xp.maximum(xp.log1p(-x), -100) - xp.maximum(xp.log(x), -100)) * s
        return dx, dt


def _bf16_operands(node, g):
    # a bfloat16 loss node's input, target, gradient (broadcast) and weight in float32, and the element count
    f = np.float32
    x = node.a.astype(f)
    w = None if node.w is None else node.w.astype(f)
    return x, node.b.astype(f), xp_of(x).broadcast_to(g.astype(f), x.shape), w, f(x.size)


def _bf16_weighted(v, w, n, reduction):
    # torch's tail of a bfloat16 loss gradient: times the weight (rounding), over the count for a mean, rounded
    v = v if w is None else B.bf16_through(v * w)
    return B.bf16_round(v / n if reduction == "mean" else v)


class _BceBf16Backward(BinaryCrossEntropyBackward0):
    # torch's kernels in bfloat16 arithmetic, each operation rounding: the input's g * (x - t) / max((1 - x) * x,
    # 1e-12), then times the weight, then divided by the count (a float32 number) for a mean; the target's
    # -logit(x) * g (times the weight, over the count)
    __slots__ = ()
    _double_backward = False

    def apply(self, g):
        xp, r = xp_of(self.a), B.bf16_through
        x, t, g, w, n = _bf16_operands(self, g)
        gx = gt = None
        if self.next_functions[0][0] is not None:
            gx = r(r(g * r(x - t)) / r(xp.maximum(r(r(1 - x) * x), B.bf16_number(1e-12))))
            gx = _bf16_weighted(gx, w, n, self.red)
        if self.next_functions[1][0] is not None:
            with B.errstate(xp, divide="ignore", invalid="ignore"):
                gt = r(-r(xp.log(r(x / r(1 - x)))) * g)   # (torch's bfloat16 logit: each op rounding)
            gt = _bf16_weighted(gt, w, n, self.red)
        return gx, gt


_BceBf16Backward.__name__ = _BceBf16Backward.__qualname__ = "BinaryCrossEntropyBackward0"


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(target * log(input) + (1 - target) * log(1 - input)), logs clamped at -100."""
    if AUTOCAST[0] is not None:
        input, target, weight = AUTOCAST[0](FP32, input, target, weight)
    xp = xp_of(input._data)
    red = _reduction(reduction, size_average, reduce)
    _bce_shapes(input, target)
    if weight is not None:   # (torch broadcasts the weight to the target's shape first)
        from .shape import broadcast_shapes
        ws = weight._data.shape
        hint = (f"binary_cross_entropy: weight {list(ws)} must broadcast to the input's shape "
                f"{list(input._data.shape)}")
        try:
            broadcast_shapes(target._data.shape, ws)
        except RuntimeError as e:
            raise RuntimeError(f"{e} ({hint})") from None
        _check_onto(input._data.shape, input._data.shape, ws, hint)
    _not_differentiable("binary_cross_entropy", "weight", weight)
    xd, td = input._data.dtype, target._data.dtype
    if xd != td:   # torch's kernel takes input and target in one dtype, with no promotion
        raise RuntimeError(f"Found dtype {B.scalar_name(td)} but expected {B.scalar_name(xd)} (binary_cross_entropy: "
                           f"the target must have the input's dtype {input.dtype}: convert it with "
                           f"target.to(input.dtype))")
    x, t = _pair("binary_cross_entropy", input, target)
    if x.size and (x.min() < 0 or x.max() > 1 or xp.isnan(x).any()):
        raise RuntimeError("all elements of input should be between 0 and 1 (binary_cross_entropy takes "
                           "probabilities: apply sigmoid first, or use binary_cross_entropy_with_logits on "
                           "the raw scores)")
    if x.dtype.kind == "V":   # bfloat16: torch's kernel, (t - 1) * log(1 - x) - t * log(x), each op rounding
        r, f = B.bf16_through, np.float32
        xf, tf = x.astype(f), t.astype(f)
        with B.errstate(xp, divide="ignore"):
            loss = r(r(tf - 1) * xp.maximum(r(xp.log1p(-xf)), f(-100))) - r(tf * xp.maximum(r(xp.log(xf)), f(-100)))
        loss = B.bf16_round(loss)
        cls = _BceBf16Backward
    else:
        with B.errstate(xp, divide="ignore"):
            loss = -(t * xp.maximum(xp.log(x), -100) + (1 - t) * xp.maximum(xp.log1p(-x), -100))
        cls = BinaryCrossEntropyBackward0
    w = None
    if weight is not None:
        w = xp.broadcast_to(weight._data.astype(x.dtype, copy=False), t.shape)
        loss = loss * w
    return _pointwise(cls, input, target, loss, red, x, t, w=w)


class BinaryCrossEntropyWithLogitsBackward0(_InputTargetLoss):
    __slots__ = ("pw",)

    def derivs(self, s):
        xp = xp_of(self.a)
        x, t, pw = self.a, self.b, self.pw
        sig = _sigm(x)
        if pw is None:
            return (sig - t) * s, lambda: -x * s
        lw = (pw - 1) * t + 1
        return (lw * sig - pw * t) * s, lambda: (-x + (pw - 1) * softplus0(-x)) * s


class _BceLogitsBf16Backward(BinaryCrossEntropyWithLogitsBackward0):
    # torch's formulas as chains of bfloat16 ops, each rounding: the input's (sigmoid(x) - t) * g (with
    # pos_weight: ((pw * t + 1 - t) * sigmoid(x) - pw * t) * g), the target's -x * g (with pos_weight:
    # (log_sigmoid(-x) - log_sigmoid(x) * pw) * g); then times the weight, then over the count for a mean
    __slots__ = ()
    _double_backward = False

    def apply(self, g):
        xp, r = xp_of(self.a), B.bf16_through
        x, t, g, w, n = _bf16_operands(self, g)
        pw = None if self.pw is None else self.pw.astype(np.float32)
        rt = r if self.b.dtype.kind == "V" else (lambda v: v)   # (a float32 target: float32 tensors there)
        mixed = self.b.dtype.kind != "V"

        def finish(v, to_input=True):
            v = v if w is None else rt(v * w)
            v = rt(v / n) if self.red == "mean" else v
            return B.bf16_round(v) if to_input or not mixed else rt(v).astype(self.b.dtype)
        gx = gt = None
        if self.next_functions[0][0] is not None:   # (rounding at each op, a float32 target's too: measured)
            sig = r(_sigm(x))
            if pw is None:
                gx = r(r(sig - t) * g)
            else:
                pt = r(pw * t)
                gx = r(r(r(r(r(pt + 1) - t) * sig) - pt) * g)
            gx = _bf16_weighted(gx, w, n, self.red)
        if self.next_functions[1][0] is not None:
            if mixed and self.red != "none":   # (-x times a 0-d gradient stays bfloat16 there, rounding)
                rt = r
            if pw is None:
                gt = rt(-x * g)
            else:
                ls = lambda v: r(xp.minimum(v, 0) - xp.log1p(xp.exp(-xp.abs(v))))
                gt = rt(rt(ls(-x) - rt(ls(x) * pw)) * g)
            gt = finish(gt, to_input=False)
        return gx, gt


_BceLogitsBf16Backward.__name__ = _BceLogitsBf16Backward.__qualname__ = "BinaryCrossEntropyWithLogitsBackward0"


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """Sigmoid + binary cross entropy in one numerically stable step."""
    if AUTOCAST[0] is not None:
        input, target, weight, pos_weight = AUTOCAST[0](FP32, input, target, weight, pos_weight)
    xp = xp_of(input._data)
    if isinstance(size_average, Tensor) and pos_weight is None:  # torch.binary_cross_entropy_with_logits order
        pos_weight, size_average = size_average, None
    red = _reduction(reduction, size_average, reduce)
    if input._data.shape != target._data.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    xd, td = input._data.dtype, target._data.dtype
    # torch computes (1 - target).mul_(input)...: the loss takes the target's dtype, which must be floating
    if xd.kind != "f" and not (xd.kind == "V" and td.kind in "fV"):
        raise NotImplementedError(f"\"log_sigmoid_cpu\" not implemented for '{B.scalar_name(xd)}' "
                                  "(binary_cross_entropy_with_logits needs floating point logits; convert with .float())")
    if td == np.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead. (binary_cross_entropy_with_logits: the target must be "
                           "floating point; convert it with target.float())")
    if td.kind != "f" and td.kind != "V":
        common = B.promote_types(B.dtype_of(input._data), B.dtype_of(target._data)).np
        raise RuntimeError(f"result type {B.scalar_name(common)} can't be cast to the desired output type "
                           f"{B.scalar_name(td)} (binary_cross_entropy_with_logits: the target must be floating point; convert it with "
                           "target.float())")
    name = "binary_cross_entropy_with_logits"
    for arg, v in (("weight", weight), ("pos_weight", pos_weight)):
        _not_differentiable(name, arg, v)
    x, t = _pair(name, input, target)
    # torch's kernel: log_sigmoid(input) *= (pos_weight - 1) * target + 1; loss *= weight, both in place
    if pos_weight is not None:
        _check_onto(x.shape, pos_weight._data.shape, t.shape,
                    f"{name}: pos_weight {list(pos_weight._data.shape)} must broadcast to the input's shape "
                    f"{list(x.shape)}; it holds one weight per class, along the last dim")
    if weight is not None:
        _check_onto(x.shape, x.shape, weight._data.shape,
                    f"{name}: weight {list(weight._data.shape)} must broadcast to the input's shape {list(x.shape)}")
    if xd.kind == "V":
        return _bf16_bce_with_logits(input, target, x, t, weight, pos_weight, red)
    if td.kind == "V":   # (float logits, bfloat16 target: torch's composite promotes to the logits' type)
        t = t.astype(xd)
    sp = softplus0(-x)  # softplus(-x) = -log(sigmoid(x))
    pw = None
    if pos_weight is not None:
        pw = pos_weight._data.astype(x.dtype, copy=False)
        loss = (1 - t) * x + ((pw - 1) * t + 1) * sp
    else:
        loss = (1 - t) * x + sp
    w = None
    if weight is not None:
        w = weight._data.astype(x.dtype, copy=False)
        loss = loss * w
    if loss.dtype != td:
        loss = loss.astype(td)
    out = _pointwise(BinaryCrossEntropyWithLogitsBackward0, input, target, loss, red, x, t, w=w)
    if out.grad_fn is not None:
        out.grad_fn.pw = pw
    return out


def _bf16_bce_with_logits(input, target, x, t, weight, pos_weight, red):
    """binary_cross_entropy_with_logits of bfloat16 input and target as torch composes it, each op rounding:
    (1 - t) * x - log_sigmoid(x) (times (pw - 1) * t + 1), times the weight, reduced in float32."""
    xp, r, f = xp_of(x), B.bf16_through, np.float32
    # (a float32 target makes torch's loss float32: only the log_sigmoid, a bfloat16 tensor, rounds then)
    rt = r if t.dtype.kind == "V" else (lambda v: v)
    xf, tf = x.astype(f), t.astype(f)
    ls = r(xp.minimum(xf, 0) - xp.log1p(xp.exp(-xp.abs(xf))))
    pw = w = None
    if pos_weight is not None:
        pw = pos_weight._data
        ls = r(ls * rt(rt(rt(pw.astype(f) - 1) * tf) + 1))
    loss = rt(rt(rt(1 - tf) * xf) - ls)
    if weight is not None:
        w = weight._data
        loss = rt(loss * w.astype(f))
    loss = B.bf16_round(loss) if t.dtype.kind == "V" else loss.astype(t.dtype)
    out = _pointwise(_BceLogitsBf16Backward, input, target, loss, red, x, t, w=w)
    if out.grad_fn is not None:
        out.grad_fn.pw = pw
    return out


class _KLDivBackward(_InputTargetLoss):
    __slots__ = ("log_target",)

    def derivs(self, s):
        xp = xp_of(self.a)
        x, t = self.a, self.b
        if self.log_target:
            et = xp.exp(t)
            return -et * s, lambda: et * (t - x + 1) * s
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            return -t * s, lambda: B.where(xp, t > 0, xp.log(B.where(xp, t > 0, t, 1)) + 1 - x, 0) * s


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence of target from input (input holds log-probabilities)."""
    if AUTOCAST[0] is not None:
        input, target = AUTOCAST[0](FP32, input, target)
    xp = xp_of(input._data)
    if size_average is None and reduce is None and reduction == "mean":
        _warn_user(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.")
    red = _reduction(reduction, size_average, reduce, extra="batchmean")
    x, t = _pair("kl_div", input, target)
    if x.dtype.kind == "V":   # bfloat16: torch's composite on Tensors, each op rounding as there
        from .elementwise import xlogy
        loss = target.exp() * (target - input) if log_target else xlogy(target, target) - target * input
        if red == "batchmean":
            return loss.sum() / input.shape[0] if x.ndim else loss.sum()
        return loss.mean() if red == "mean" else loss.sum() if red == "sum" else loss
    if log_target:
        loss = xp.exp(t) * (t - x)
    else:
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            loss = B.where(xp, t > 0, t * xp.log(B.where(xp, t > 0, t, 1)), B.where(xp, t == 0, 0, np.nan)).astype(
                x.dtype, copy=False) - t * x
    denom = None
    if red == "batchmean":
        red, denom = ("mean", x.shape[0]) if x.ndim else ("sum", None)
        name = "DivBackward0"
    else:
        name = {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(
            red, "MulBackward0" if log_target else "SubBackward0")
    out = _pointwise(_named(_KLDivBackward, name), input, target, loss, red, x, t, denom=denom)
    if out.grad_fn is not None:
        out.grad_fn.log_target = log_target
    return out


class _PoissonNllBackward(_InputTargetLoss):
    __slots__ = ("log_input", "eps", "full")

    def derivs(self, s):
        xp = xp_of(self.a)
        x, t = self.a, self.b
        if self.log_input:
            dx = xp.exp(x) - t
            dt = -x
        else:
            dx = 1 - t / (x + self.eps)
            dt = -xp.log(x + self.eps)
        if self.full:
            def dt_full():
                st = B.where(xp, t > 1, xp.log(B.where(xp, t > 1, t, 1)) + 0.5 / B.where(xp, t > 1, t, 1), 0)
                return (dt + st) * s
            return dx * s, dt_full
        return dx * s, lambda: dt * s


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Negative log-likelihood of a Poisson target: exp(input) - target * input (log_input=True)."""
    xp = xp_of(input._data)
    red = _reduction(reduction, size_average, reduce)
    x, t = _pair("poisson_nll_loss", input, target)
    if log_input:
        loss = xp.exp(x) - t * x
    else:
        loss = x - t * xp.log(x + eps)
    if full:
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            tt = B.where(xp, t > 1, t, 1)
            loss = loss + B.where(xp, t > 1, tt * xp.log(tt) - tt + 0.5 * xp.log(2 * np.pi * tt), 0)
    name = {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(red, "AddBackward0" if full else "SubBackward0")
    out = _pointwise(_named(_PoissonNllBackward, name), input, target, loss, red, x, t)
    if out.grad_fn is not None:
        out.grad_fn.log_input, out.grad_fn.eps, out.grad_fn.full = log_input, eps, full
    return out


# ---- pair losses: cosine_embedding, margin_ranking, hinge_embedding ----------------------
class _PairLossBackward(Node):
    __slots__ = ("dl", "red", "denom", "a_shape", "b_shape", "fn", "tensor_fn")
    _saved_fields = ("dl", "fn")
    # create_graph=True: dl (d loss / d tensor_fn) is piecewise constant, and tensor_fn(a, b), what the
    # loss is built on, written with ember's ops, gives the gradient on Tensors
    _double_backward = True

    def _apply_tensors(self, grad, saved):
        s = grad / self.denom if self.red == "mean" else grad
        return vjp(self.tensor_fn, saved, s * _wrap(self.dl))

    def apply(self, g):
        s = g / self.denom if self.red == "mean" else g
        ga, gb = self.fn(self.dl * s)
        return (unbroadcast(ga, self.a_shape) if ga is not None and self.next_functions[0][0] is not None else None,
                unbroadcast(gb, self.b_shape) if gb is not None and self.next_functions[1][0] is not None else None)


def _pair_record(name, out, red, loss, dl, fn, a, b, tensor_fn):
    if not (state.enabled and (a._requires_grad or b._requires_grad)):
        return _wrap(out)
    node = _new(_named(_PairLossBackward, name))
    node.next_functions = (edge(a), edge(b))
    node._saved_versions = ((a, a._vc[0]), (b, b._vc[0]))
    node.dl, node.red, node.denom, node.fn, node.tensor_fn = dl, red, loss.size, fn, tensor_fn
    node.a_shape, node.b_shape = a._data.shape, b._data.shape
    return _record(out, node)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) for target 1, max(0, cos(x1, x2) - margin) for target -1."""
    xp = xp_of(input1._data)
    red = _reduction(reduction, size_average, reduce)
    a, b = _pair("cosine_embedding_loss", input1, input2)
    t = target._data
    if a.ndim not in (1, 2) or a.shape != b.shape:
        raise RuntimeError(f"cosine_embedding_loss: expected 1D or 2D inputs of the same shape, got {list(a.shape)} "
                           f"and {list(b.shape)}")
    if t.ndim != a.ndim - 1:
        raise RuntimeError(f"{a.ndim - 1}D target tensor expected, multi-target not supported "
                           f"(cosine_embedding_loss: inputs {list(a.shape)}, target {list(t.shape)})")
    dim = a.ndim - 1
    eps = 1e-12
    prod = (a * b).sum(axis=dim)
    m1 = (a * a).sum(axis=dim) + eps
    m2 = (b * b).sum(axis=dim) + eps
    denom = xp.sqrt(m1 * m2)
    cos = prod / denom
    pos = t == 1
    neg = (t == -1) & (cos - margin > 0)
    loss = B.where(xp, pos, 1 - cos, B.where(xp, t == -1, xp.maximum(cos - margin, 0), 0)).astype(a.dtype, copy=False)
    dl = (neg.astype(a.dtype) - pos.astype(a.dtype))  # d loss / d cos

    def fn(dcos):
        dc = xp.expand_dims(dcos, dim)
        ex_d, ex_c = xp.expand_dims(denom, dim), xp.expand_dims(cos, dim)
        ga = dc * (b / ex_d - ex_c * a / xp.expand_dims(m1, dim))
        gb = dc * (a / ex_d - ex_c * b / xp.expand_dims(m2, dim))
        return ga, gb

    def cos_of(a, b):
        """cos as above, on Tensors."""
        return (a * b).sum(dim) / (((a * a).sum(dim) + eps) * ((b * b).sum(dim) + eps)).sqrt()
    out = _reduce(loss, red)
    name = {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(red, "AddBackward0")
    return _pair_record(name, out, red, loss, dl, fn, input1, input2, cos_of)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target * (x1 - x2) + margin)."""
    xp = xp_of(input1._data)
    red = _reduction(reduction, size_average, reduce)
    a, b = _pair("margin_ranking_loss", input1, input2)
    t = target._data.astype(a.dtype, copy=False)
    if not (a.ndim == b.ndim == t.ndim):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    diff = a - b
    z = -t * diff + margin
    loss = xp.maximum(z, 0)
    out = _reduce(loss, red)
    scale = _reduced_scale(red, loss.size)
    ends = [(x._data.shape, x._data.dtype, x._requires_grad) for x in (input1, input2, target)]

    def fn(g):
        # torch's clamp_min passes the gradient where z >= 0, the target's too (torch differentiates it)
        dz = B.where(xp, z >= 0, scale(g), 0)
        grads = (-t * dz, t * dz, -diff * dz)
        return tuple(unbroadcast(d, shape).astype(dtype, copy=False) if need else None
                     for d, (shape, dtype, need) in zip(grads, ends))

    def loss_of(a, b, t):
        """The loss on Tensors, as torch's composite."""
        return _reduced((-t * (a - b) + margin).clamp(min=0), red)
    name = {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(red, "ClampMinBackward0")
    return _closure_record(name, out, (input1, input2, target), fn, loss_of)


class _HingeBackward(Node):
    __slots__ = ("dl", "red", "denom", "x_shape")
    _saved_fields = ("dl",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True); dl is piecewise constant
    _constant_fields = ("dl",)

    def apply(self, g):
        s = g / self.denom if self.red == "mean" else g
        return (unbroadcast(self.dl * s, self.x_shape),)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """x for target 1, max(0, margin - x) for target -1 (any other target: their sum, as torch's)."""
    xp = xp_of(input._data)
    red = _reduction(reduction, size_average, reduce)
    x, t = _pair("hinge_embedding_loss", input, target)
    margin_part = B.where(xp, t != 1, xp.maximum(margin - x, 0), 0)
    self_part = B.where(xp, t != -1, x, 0)
    loss = (margin_part + self_part).astype(x.dtype, copy=False)
    out = _reduce(loss, red)
    if not (state.enabled and input._requires_grad):
        return _wrap(out)
    # (torch's clamp_min passes the gradient at margin - x = 0 too)
    dl = (B.where(xp, t != -1, 1, 0) - B.where(xp, (t != 1) & (margin - x >= 0), 1, 0)).astype(x.dtype)
    node = _new(_named(_HingeBackward, {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(red, "AddBackward0")))
    node.next_functions = (edge(input),)
    node._saved_versions = ((input, input._vc[0]),)
    node.dl, node.red, node.denom, node.x_shape = dl, red, loss.size, x.shape
    return _record(out, node)


# ---- losses torch builds from other ops: gaussian_nll, multilabel, multi_margin, triplet ---------
class _ClosureBackward(Node):
    """A fused loss whose gradients come from a closure over its saved arrays (one per edge)."""

    __slots__ = ("fn", "tensor_fn")
    _saved_fields = ("fn",)
    _double_backward = True   # through tensor_fn, where the loss gives one

    def apply(self, g):
        return self.fn(g)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the gradient of tensor_fn, the loss written with ember's ops, on Tensors."""
        if self.tensor_fn is None:
            raise NotImplementedError(f"create_graph=True: ember cannot differentiate the backward of {self.name()} "
                                      "yet; higher-order gradients of this loss are not supported")
        return vjp(self.tensor_fn, saved, grad)


def _closure_record(name, out, inputs, fn, tensor_fn=None):
    if not (state.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in inputs)):
        return _wrap(out)
    node = _new(_named(_ClosureBackward, name))
    node.next_functions = tuple(edge(t) if isinstance(t, Tensor) else (None, 0) for t in inputs)
    node._saved_versions = tuple((t, t._vc[0]) for t in inputs if isinstance(t, Tensor))
    node.fn, node.tensor_fn = fn, tensor_fn
    return _record(out, node)


def _reduced(loss, red):
    """A loss Tensor reduced as reduction red says."""
    return loss.mean() if red == "mean" else loss.sum() if red == "sum" else loss


def _reduced_scale(red, n):
    """The per-element gradient scale of a reduction, as a function of the incoming gradient."""
    if red == "mean":
        return lambda g: g / n if n else g * np.nan
    return lambda g: g


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 * (log(var) + (input - target) ** 2 / var), var clamped at eps (without blocking its gradient)."""
    xp = xp_of(input._data)
    x, t = _pair("gaussian_nll_loss", input, target)
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = _wrap(xp.full(x.shape, float(var), x.dtype))
    v = var._data.astype(x.dtype, copy=False)
    if v.size and v.min() < 0:
        raise ValueError("var has negative entry/entries")
    if v.shape != x.shape:
        if x.shape[:-1] == v.shape:
            v = v[..., None]
        elif not (x.ndim == v.ndim and sum(b for a, b in zip(x.shape, v.shape) if a != b) == 1):
            raise ValueError(f"var is of incorrect size (gaussian_nll_loss: input {list(x.shape)}, var "
                             f"{list(var.shape)}; var needs the input's shape, or it without the last dim)")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    vc = xp.maximum(v, eps)
    d = x - t
    loss = 0.5 * (xp.log(vc) + d * d / vc)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    out = _reduce(loss, reduction)
    scale = _reduced_scale(reduction, loss.size)
    x_shape, t_shape, v_shape = input._data.shape, target._data.shape, var._data.shape

    def fn(g):
        s = scale(g)
        gd = d / vc * s
        gv = (0.5 / vc - 0.5 * d * d / (vc * vc)) * s
        return unbroadcast(gd, x_shape), unbroadcast(-gd, t_shape), unbroadcast(gv, v.shape).reshape(v_shape)

    def loss_of(x, t, var):
        """The loss on Tensors: var clamped in value only, as torch clamps it under no_grad."""
        var = var.reshape(v.shape)
        var = var + (var.clamp(min=eps) - var).detach()
        loss = 0.5 * (var.log() + (x - t) ** 2 / var)
        return _reduced(loss + 0.5 * math.log(2 * math.pi) if full else loss, reduction)
    name = {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(reduction, "MulBackward0")
    return _closure_record(name, out, (input, target, var), fn, loss_of)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Mean over classes of binary logistic losses, for multi-label targets in {0, 1}."""
    xp = xp_of(input._data)
    red = _reduction(reduction, size_average, reduce)
    x, t = _pair("multilabel_soft_margin_loss", input, target)
    if x.ndim == 0:   # torch's composite reads the class count as input.size(-1)
        raise IndexError("Dimension specified as -1 but tensor has no dimensions (multilabel_soft_margin_loss: "
                         "expected input of shape (C,) or (N, C), got a 0-d tensor)")
    c = x.shape[-1]
    w = weight._data.astype(x.dtype, copy=False) if weight is not None else None
    terms = t * softplus0(-x) + (1 - t) * softplus0(x)
    if w is not None:
        terms = terms * w
    per = terms.sum(axis=-1) / c
    out = _reduce(xp.asarray(per), red)
    scale = _reduced_scale(red, xp.size(per))
    x_shape, t_shape = input._data.shape, target._data.shape

    def fn(g):
        s = scale(g)
        s = s[..., None] if red == "none" else s
        k = s / c if w is None else s * w / c
        sig = _sigm(x)
        return unbroadcast((sig - t) * k, x_shape), unbroadcast(-x * k, t_shape)

    def loss_of(x, t):
        """The loss on Tensors, as torch's composite."""
        from .activation import logsigmoid
        terms = -(t * logsigmoid(x) + (1 - t) * logsigmoid(-x))
        if w is not None:
            terms = terms * _wrap(w)
        return _reduced(terms.sum(-1) / c, red)
    name = {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(red, "DivBackward0")
    return _closure_record(name, out, (input, target), fn, loss_of)


def _multi_margin_targets(x, t, weight):
    """multi_margin_loss's checks in torch's order and with its exception types; the targets as a flat array."""
    shape = list(x.shape)
    if not ((x.ndim == 2 and x.shape[1]) or (x.ndim == 1 and x.shape[0]) or x.ndim == 0):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: {shape} "
                           "(multi_margin_loss: input of shape (C,) or (N, C) with C > 0)")
    n = x.shape[0] if x.ndim == 2 else 1
    c = x.shape[-1] if x.ndim else 1
    if t.ndim > 1 or t.size != n:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                           f"samples (batch size). Expected target size [{n}], but got {list(t.shape)}. Input has "
                           f"shape {shape}.")
    w = weight._data if weight is not None else None
    if w is not None and w.size != c:
        raise RuntimeError(f"inconsistent weight size, expected {c} but got {list(w.shape)} (multi_margin_loss: "
                           f"one weight per class of input {shape})")
    if x.dtype != np.float32 and x.dtype != np.float64:
        raise NotImplementedError(f"\"multi_margin_loss_cpu_kernel\" not implemented for '{B.scalar_name(x.dtype)}' "
                                  "(multi_margin_loss needs float32 or float64 input; convert with .float())")
    if t.dtype != np.int64:
        raise RuntimeError(f"expected scalar type Long but found {B.scalar_name(t.dtype)} (multi_margin_loss: the "
                           "target holds class indices; convert it with target.long())")
    if w is not None and w.dtype != x.dtype:
        raise RuntimeError(f"expected scalar type {B.scalar_name(x.dtype)} but found {B.scalar_name(w.dtype)} "
                           f"(multi_margin_loss: the weight needs the input's dtype; convert it with "
                           f"weight.to(input.dtype))")
    t = t.reshape(-1)
    if t.size and (t.min() < 0 or t.max() >= c):
        bad = int(t[(t < 0) | (t >= c)][0])
        raise RuntimeError(f"target out of range (multi_margin_loss: target {bad} for input {shape} with {c} "
                           f"classes; the targets must lie in 0..{c - 1})")
    return t


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss: sum over j != y of max(0, margin - x[y] + x[j]) ** p / C."""
    xp = xp_of(input._data)
    red = _reduction(reduction, size_average, reduce)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    x = input._data
    t2 = _multi_margin_targets(x, target._data, weight)
    x2 = x.reshape(1, -1) if x.ndim <= 1 else x
    n, c = x2.shape
    ar = xp.arange(n)
    z = margin - x2[ar, t2][:, None] + x2
    z[ar, t2] = 0
    hinge = xp.maximum(z, 0)
    wy = weight._data.astype(x.dtype, copy=False)[t2][:, None] if weight is not None else None
    terms = hinge if p == 1 else hinge * hinge
    if wy is not None:
        terms = terms * wy
    per = terms.sum(axis=1) / c
    per_out = per.reshape(()) if target._data.ndim == 0 else per   # (torch: one loss per target entry)
    out = _reduce(per_out, red)
    scale = _reduced_scale(red, per.size)

    def fn(g):
        s = xp.reshape(scale(g), (-1, 1)) if red == "none" else scale(g)
        dz = (z > 0).astype(x.dtype) if p == 1 else 2 * hinge
        if wy is not None:
            dz = dz * wy
        dz = dz * (s / c)
        gx = dz.copy()
        gx[ar, t2] = -dz.sum(axis=1)
        return (gx.reshape(x.shape),)
    return _closure_record("MultiMarginLossBackward0", out, (input,), fn)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Hinge loss between each target class (listed until the first -1) and each non-target class."""
    xp = xp_of(input._data)
    red = _reduction(reduction, size_average, reduce)
    x = input._data
    if x.dtype.kind != "f":
        raise NotImplementedError(f"multilabel_margin_loss needs floating point input, got {input.dtype}")
    x2 = x.reshape(1, -1) if x.ndim <= 1 else x
    n, c = x2.shape
    t2 = target._data.reshape(n, c).astype(np.int64)
    # the listed targets end at the first -1
    listed = xp.cumprod(t2 >= 0, axis=1).astype(bool)
    if (t2[listed] >= c).any():
        raise IndexError(f"multilabel_margin_loss: target class out of range for {c} classes (valid: 0..{c - 1})")
    count = xp.zeros((n, c), x.dtype)
    rows = xp.nonzero(listed)[0]
    xp.add.at(count, (rows, t2[listed]), 1)  # at most N*C entries
    is_t = count > 0
    z = 1 - x2[:, :, None] + x2[:, None, :]  # z[i, j, k]: j a target, k a non-target
    mask = count[:, :, None] * (~is_t)[:, None, :]
    hinge = xp.maximum(z, 0) * mask
    per = hinge.sum(axis=(1, 2)) / c
    out = _reduce(per.reshape(()) if x.ndim <= 1 else per, red)
    scale = _reduced_scale(red, n)

    def fn(g):
        s = xp.reshape(scale(g), (-1, 1, 1)) if red == "none" else scale(g)
        dz = (z > 0) * mask * (s / c)
        gx = dz.sum(axis=1) - dz.sum(axis=2)
        return (gx.astype(x.dtype, copy=False).reshape(x.shape),)
    return _closure_record("MultilabelMarginLossBackward0", out, (input,), fn)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0,
                                      swap=False, reduction="mean"):
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), reduced; d defaults to pairwise_distance."""
    from .norm import pairwise_distance
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor.dim(), positive.dim(), negative.dim())
    if len(set(dims)) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and negative {dims[2]}D "
                           "inputs")
    dist = distance_function or pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    loss = (d_pos - d_neg + margin).clamp(min=0)
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """Triplet loss with the p-norm pairwise distance."""
    from .norm import pairwise_distance
    red = _reduction(reduction, size_average, reduce)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    return triplet_margin_with_distance_loss(
        anchor, positive, negative, margin=margin, swap=swap, reduction=red,
        distance_function=lambda a, b: pairwise_distance(a, b, p, eps))


# ---- ctc_loss ----------------------------------------------------------------------------
def _logsumexp3(a, b, c):
    m = np.maximum(np.maximum(a, b), c)
    safe = np.where(np.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(a - safe) + np.exp(b - safe) + np.exp(c - safe)) + safe


class CtcLossBackward0(Node):
    """Gradient of the per-sample CTC negative log-likelihoods, from the forward (alpha) and backward
    (beta) variables, in torch's form: exp(lp) - exp(log(sum alpha*beta) + nll - lp) for t < T_b."""

    __slots__ = ("lp", "ext", "in_len", "tg_len", "nll", "log_alpha", "zero_infinity", "device")
    _saved_fields = ("lp", "log_alpha")

    def apply(self, g):
        lp, ext, in_len, nll = self.lp, self.ext, self.in_len, self.nll   # lp: (T, N, C) float64
        T, N, C = lp.shape
        L = ext.shape[1]
        la = self.log_alpha
        lab = np.take_along_axis(lp, np.broadcast_to(ext[None], (T, N, L)), axis=2)   # lp at each l'
        allowed2 = np.zeros((N, L), bool)   # s -> s + 2: l'_{s+2} differs from l'_s
        allowed2[:, :L - 2] = ext[:, 2:] != ext[:, :L - 2]
        lengths = 2 * self.tg_len + 1
        pos = np.arange(L)
        beta = np.full((N, L), -np.inf)
        log_beta = np.full((T, N, L), -np.inf)
        for t in range(T - 1, -1, -1):
            nxt = beta
            s1 = np.concatenate([nxt[:, 1:], np.full((N, 1), -np.inf)], axis=1)
            # ([:, :L]: with empty targets, L = 1)
            s2 = np.where(allowed2, np.concatenate([nxt[:, 2:], np.full((N, 2), -np.inf)], axis=1)[:, :L], -np.inf)
            rec = lab[t] + _logsumexp3(nxt, s1, s2)
            last = t == in_len - 1
            init = np.where((pos[None] == lengths[:, None] - 1) | (pos[None] == lengths[:, None] - 2), lab[t], -np.inf)
            init = np.where(pos[None] < lengths[:, None], init, -np.inf)
            beta = np.where(last[:, None], init, np.where((t < in_len - 1)[:, None], rec, -np.inf))
            log_beta[t] = beta
        lcab = la + log_beta   # (T, N, L)
        acc = np.full((T, N, C), -np.inf)
        for s in range(L):
            idx = ext[:, s]
            cur = np.take_along_axis(acc, idx[None, :, None].repeat(T, 0), axis=2)[..., 0]
            np.put_along_axis(acc, idx[None, :, None].repeat(T, 0), np.logaddexp(cur, lcab[:, :, s])[..., None], axis=2)
        from .convert import _move
        dtype = g.dtype
        gn = _move(g, B.as_device("cpu")).astype(np.float64).reshape(-1)
        with np.errstate(over="ignore", invalid="ignore"):
            grad = (np.exp(lp) - np.exp(acc + nll[None, :, None] - lp)) * gn[None, :, None]
        grad[np.arange(T)[:, None] >= in_len[None, :]] = 0
        if self.zero_infinity:
            grad[:, ~np.isfinite(nll)] = 0
        grad = _move(grad.astype(dtype), self.device)
        return (grad,)


def _lengths(v, n, what):
    if isinstance(v, Tensor):
        v = v._data
    arr = np.asarray(v, dtype=np.int64).reshape(-1)
    if arr.shape[0] != n:
        raise RuntimeError(f"ctc_loss: expected {what} to have {n} entries (one per batch element), got "
                           f"{arr.shape[0]}")
    return arr


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss over (T, N, C) log-probabilities, as torch's."""
    from .convert import _move
    from .shape import unsqueeze
    lp_t = log_probs
    if lp_t._data.dtype.kind != "f":
        raise RuntimeError(f"ctc_loss: log_probs must be a floating-point tensor (got {lp_t.dtype})")
    unbatched = lp_t._data.ndim == 2
    if unbatched:   # a batch of one, as torch: unsqueezed here, its loss squeezed at the end
        lp_t = unsqueeze(lp_t, 1)
    dev = B.device_of(lp_t._data)
    # a dynamic program over time steps, run on the host; results go back to the input's device
    lp = _move(lp_t._data, B.as_device("cpu"))
    if lp.ndim != 3:
        raise RuntimeError(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got shape {list(lp_t.shape)}")
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    in_len = _lengths(input_lengths, N, "input_lengths")
    tg_len = _lengths(target_lengths, N, "target_lengths")
    tg = _move(targets._data, B.as_device("cpu")) if isinstance(targets, Tensor) else np.asarray(targets)
    if unbatched and tg.ndim == 1 and tg.shape[0] >= tg_len[0]:
        tg = tg[None]
    S = int(tg_len.max()) if N else 0
    if tg.ndim == 2:
        if tg.shape[1] < S:
            raise RuntimeError(f"Expected tensor to have size at least {S} at dimension 1, but got size "
                               f"{tg.shape[1]} for argument #2 'targets' (while checking arguments for "
                               "ctc_loss_allocate_outputs)")
        padded = np.asarray(tg[:, :S], dtype=np.int64)
    else:   # concatenated targets
        if tg.shape[0] != tg_len.sum():
            raise RuntimeError(f"ctc_loss: 1-D targets must hold sum(target_lengths) = {int(tg_len.sum())} labels, "
                               f"got {tg.shape[0]}")
        padded = np.zeros((N, S), np.int64)
        offs = np.concatenate([[0], np.cumsum(tg_len)])
        for b in range(N):
            padded[b, :tg_len[b]] = tg[offs[b]:offs[b + 1]]
    if (in_len > T).any():
        raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {int(in_len.max())} "
                           "(while checking arguments for ctc_loss_allocate_outputs)")
    L = 2 * S + 1
    ext = np.full((N, L), blank, np.int64)   # l': blank, l1, blank, l2, ..., blank
    ext[:, 1::2] = padded
    lp64 = lp.astype(np.float64)
    lab = np.take_along_axis(lp64, np.broadcast_to(ext[None], (T, N, L)), axis=2)
    allowed2 = np.zeros((N, L), bool)   # s - 2 -> s: l'_s is a label differing from l'_{s-2}
    allowed2[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :L - 2])
    lengths = 2 * tg_len + 1
    pos = np.arange(L)
    alpha = np.where((pos[None] == 0) | ((pos[None] == 1) & (lengths[:, None] > 1)), lab[0], -np.inf)
    log_alpha = np.empty((T, N, L))
    log_alpha[0] = alpha
    for t in range(1, T):
        s1 = np.concatenate([np.full((N, 1), -np.inf), alpha[:, :-1]], axis=1)
        # ([:, :L]: with empty targets, L = 1)
        s2 = np.where(allowed2, np.concatenate([np.full((N, 2), -np.inf), alpha[:, :-2]], axis=1)[:, :L], -np.inf)
        alpha = np.where(pos[None] < lengths[:, None], lab[t] + _logsumexp3(alpha, s1, s2), -np.inf)
        log_alpha[t] = alpha
    last = log_alpha[np.maximum(in_len - 1, 0), np.arange(N)]   # (N, L) at each sample's last step
    end1 = np.take_along_axis(last, (lengths - 1)[:, None], axis=1)[:, 0]
    end2 = np.where(lengths > 1, np.take_along_axis(last, np.maximum(lengths - 2, 0)[:, None], axis=1)[:, 0], -np.inf)
    nll = -np.logaddexp(end1, end2)
    nll = np.where(in_len == 0, np.where(tg_len == 0, 0.0, np.inf), nll)
    out = _move(nll.astype(lp.dtype), dev)
    node = None
    if state.enabled and lp_t._requires_grad:
        node = _new(CtcLossBackward0)
        node.next_functions = (edge(lp_t),)
        node._saved_versions = ((lp_t, lp_t._vc[0]),)
        node.lp, node.ext, node.in_len, node.nll, node.log_alpha = lp64, ext, in_len, nll, log_alpha
        node.zero_infinity, node.tg_len = bool(zero_infinity), tg_len
        node.device = dev
    res = _record(out, node)
    xp = B.xp_of(out)
    from .elementwise import where
    from .reduce import mean, sum as _sum
    if zero_infinity:
        res = where(_wrap(xp.isinf(res._data)), _wrap(xp.zeros((), res._data.dtype)), res)
    red = _reduction(reduction)
    if red == "mean":
        denom = _move(np.maximum(tg_len, 1).astype(res._data.dtype), dev)
        return mean(res / _wrap(denom))
    if red == "sum":
        return _sum(res)
    return res.squeeze(0) if unbatched else res


_REDUCTIONS = ("none", "mean", "sum")   # torch's at::Reduction enum, which the top-level forms take


def _top_ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0, zero_infinity=False):
    """torch.ctc_loss: F.ctc_loss with the reduction as torch's enum (0 none, 1 mean, 2 sum); torch's top-level
    form defaults to none."""
    if isinstance(reduction, int):
        reduction = _REDUCTIONS[reduction]
    return ctc_loss(log_probs, targets, input_lengths, target_lengths, blank, reduction, zero_infinity)


_top_ctc_loss.__name__ = _top_ctc_loss.__qualname__ = "ctc_loss"   # pickles as ember.ctc_loss
__all__ += ["ctc_loss"]
__top_level__ = dict(globals().get("__top_level__", {}), ctc_loss=_top_ctc_loss)
