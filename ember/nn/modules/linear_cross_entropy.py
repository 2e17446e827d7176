"""torch.nn.LinearCrossEntropyLoss, and the chunked path of linear_cross_entropy.

linear_cross_entropy(input, W, target) is cross_entropy(linear(input, W), target).  With options, the
batch is processed in chunks of rows, so the (N, C) logits are never held whole: each chunk's
(chunk, C) block gives its part of the loss and, in the same pass, of the gradients.

As in torch, the two reductions to a scalar ('mean', 'sum') compute the gradients during the forward
pass and their backward only scales them by the incoming gradient, consuming them (a second backward
raises unless LinearCrossEntropyOptions(allow_retain_graph=True)); reduction='none' computes nothing
ahead and its backward runs the chunks again with the per-row incoming gradient folded in.  The nodes
carry the names torch gives its custom ops' backward nodes.
"""
import math

import numpy as np

from ... import _backend as B
from ..._backend import xp_of
from ..._tensor import _wrap
from ...autograd.grad_mode import state
from ...autograd.graph import Node, edge
from .. import functional as F
from .linear import Linear
from .loss import _WeightedLoss

__all__ = ["LinearCrossEntropyLoss"]
# torch's is in loss.py: a whole pickled module names it by torch.nn
_TORCH_DEFINES_ELSEWHERE = ("LinearCrossEntropyLoss",)

_TWICE = ("linear_cross_entropy chunked backward called twice; retain_graph=True / double backward are not "
          "supported.")


def _row_weights(xp, t, cw, ignore_index, num_classes, acc):
    """Per-row class index (ignored rows pointed at class 0) and loss weight (0 for ignored rows)."""
    ignored = t == ignore_index
    if ignore_index < 0 or ignore_index >= num_classes:
        t = B.where(xp, ignored, 0, t)
    bad = (t < 0) | (t >= num_classes)
    if bad.any():
        if cw is not None:  # torch looks the class weights up first (index_select)
            raise IndexError("index out of range in self")
        raise RuntimeError(f"index {int(t[bad][0])} is out of bounds for dimension 1 with size {num_classes}")
    if cw is None:
        w = (~ignored).astype(acc)
    else:
        w = B.where(xp, ignored, 0, cw[t].astype(acc))
    return t, w


def _chunk_pass(x, w, b, t, coef, chunk, acc, need_x, need_w, need_b, per_row=False):
    """One pass over the row chunks: sum_n coef_n * CE_n (or, per_row, each coef_n * CE_n) and the
    gradients of that weighted sum for input (need_x), W (need_w) and bias (need_b), in dtype acc."""
    xp = xp_of(x)
    n, f = x.shape
    c = w.shape[0]
    wa = w.astype(acc, copy=False)
    ba = None if b is None else b.astype(acc, copy=False)
    loss = xp.empty(n, acc) if per_row else xp.zeros((), acc)
    gx = xp.empty((n, f), acc) if need_x else None
    gw = xp.zeros((c, f), acc) if need_w else None
    gb = xp.zeros(c, acc) if need_b else None
    grads = need_x or need_w or need_b
    for s in range(0, n, chunk):
        e = min(s + chunk, n)
        xc = x[s:e].astype(acc, copy=False)
        rows = xp.arange(e - s)
        tc, cc = t[s:e], coef[s:e]
        z = xc @ wa.T  # this chunk's logits: the only (rows, C) block alive at a time
        if ba is not None:
            z += ba
        z -= z.max(1, keepdims=True)
        zt = z[rows, tc]
        xp.exp(z, out=z)
        total = z.sum(1)
        ce = xp.log(total) - zt
        if per_row:
            loss[s:e] = cc * ce
        else:
            loss += cc @ ce
        if grads:
            # d(sum coef * CE)/dlogits = coef * (softmax - onehot(target))
            z *= (cc / total)[:, None]
            z[rows, tc] -= cc
            if need_b:
                gb += z.sum(0)
            if need_x:
                gx[s:e] = z @ wa
            if need_w:
                gw += z.T @ xc
    return loss, gx, gw, gb


def _resolve(input, linear_weight, options):
    """The chunk size and accumulation dtype for this call; torch's error for an unsupported pair."""
    n, f = input.shape
    opts = options._adjust(num_batches=n, in_features=f, num_classes=linear_weight.shape[0], dtype=input.dtype,
                           device=input.device)
    dtype, acc = input.dtype, opts.acc_dtype
    if dtype != acc and not (dtype in (B.float16, getattr(B, "bfloat16", None)) and acc == B.float32):
        raise RuntimeError("linear_cross_entropy supports float32 acc_dtype with float16/bfloat16 inputs, but got "
                           f"{acc} acc_dtype and {dtype} inputs.")
    if input.dtype != linear_weight.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {B.c_name(input.dtype)} != "
                           f"{B.c_name(linear_weight.dtype)}")
    return opts, acc.np


def _inputs(input, linear_weight, target, linear_bias, weight):
    """The tensor arguments torch's custom op records as its inputs (None ones left out)."""
    return tuple(a for a in (input, linear_weight, target, linear_bias, weight) if a is not None)


class GeneratedBackwardFor_torch_nn__linear_cross_entropy_batch_chunked_defaultBackward(Node):
    """Backward of the scalar reductions: the gradients computed in forward, times the incoming one."""

    __slots__ = ("grads", "allow_retain_graph")

    def apply(self, g):
        outs = []
        for i, grad in enumerate(self.grads):
            if grad is None:
                outs.append(None)
            elif self.allow_retain_graph:
                outs.append(grad * g)
            elif grad is False:
                raise RuntimeError(_TWICE)
            else:
                self.grads[i] = False  # consumed: torch scales its stashed gradients in place
                grad *= g
                outs.append(grad)
        return tuple(outs)


class GeneratedBackwardFor_torch_nn__linear_cross_entropy_batch_chunked_no_reduction_defaultBackward(Node):
    """Backward of reduction='none': the chunks run again, each row weighted by its incoming gradient."""

    __slots__ = ("x", "w", "t", "b", "cw", "ignore_index", "chunk", "acc", "slots")
    _saved_fields = ("x", "w", "t", "b", "cw")

    def apply(self, g):
        x, w, b = self.x, self.w, self.b
        xp = xp_of(x)
        need = [self.next_functions[i][0] is not None if i is not None else False for i in self.slots]
        outs = [None] * len(self.next_functions)
        if not any(need):
            return tuple(outs)
        t, rw = _row_weights(xp, self.t, self.cw, self.ignore_index, w.shape[0], self.acc)
        _, gx, gw, gb = _chunk_pass(x, w, b, t, rw * g.astype(self.acc, copy=False), self.chunk, self.acc, *need)
        for i, grad, like in zip(self.slots, (gx, gw, gb), (x, w, b)):
            if grad is not None:
                outs[i] = grad.astype(like.dtype, copy=False)
        return tuple(outs)


def _chunked(input, linear_weight, target, linear_bias, weight, reduction, ignore_index, options):
    """linear_cross_entropy over chunks of rows; input (N, F), target (N,) int64, linear_weight (C, F)."""
    opts, acc = _resolve(input, linear_weight, options)
    x, w, t = input._data, linear_weight._data, target._data
    b = None if linear_bias is None else linear_bias._data
    cw = None if weight is None else weight._data
    xp = xp_of(x)
    n, c = x.shape[0], w.shape[0]
    if t.shape != (n,):
        raise RuntimeError(f"linear_cross_entropy: expected target of shape ({n},) for input of shape "
                           f"{tuple(x.shape)}, got {tuple(t.shape)}")
    ins = _inputs(input, linear_weight, target, linear_bias, weight)
    record = state.enabled and any(a._requires_grad for a in ins)
    # positions of input, linear_weight and linear_bias among the recorded inputs
    slots = (0, 1, 3 if linear_bias is not None else None)
    t, rw = _row_weights(xp, t, cw, ignore_index, c, acc)
    if reduction == "none":
        loss, _, _, _ = _chunk_pass(x, w, b, t, rw, opts.batch_chunk_size, acc, False, False, False, per_row=True)
        result = _wrap(loss.astype(x.dtype, copy=False))
        if record:
            node = GeneratedBackwardFor_torch_nn__linear_cross_entropy_batch_chunked_no_reduction_defaultBackward()
            node.next_functions = tuple(edge(a) for a in ins)
            node._saved_versions = tuple((a, a._vc[0]) for a in ins)
            node.x, node.w, node.t, node.b, node.cw = x, w, target._data, b, cw
            node.ignore_index, node.chunk, node.acc, node.slots = ignore_index, opts.batch_chunk_size, acc, slots
            result._requires_grad = True
            result.grad_fn = node
        return result
    if reduction == "mean":
        total = rw.sum()
        coef = rw / total if total != 0 else rw * np.nan
    else:
        coef = rw
    need = (record and input._requires_grad, record and linear_weight._requires_grad,
            record and linear_bias is not None and linear_bias._requires_grad)
    loss, gx, gw, gb = _chunk_pass(x, w, b, t, coef, opts.batch_chunk_size, acc, *need)
    if reduction == "mean" and n == 0:
        loss = xp.asarray(np.nan, acc)
    result = _wrap(xp.asarray(loss.astype(x.dtype)))
    if record:
        grads = [None] * len(ins)
        for i, grad, like in zip(slots, (gx, gw, gb), (x, w, b)):
            if grad is not None:
                grads[i] = grad.astype(like.dtype, copy=False)
        node = GeneratedBackwardFor_torch_nn__linear_cross_entropy_batch_chunked_defaultBackward()
        node.next_functions = tuple(edge(a) for a in ins)
        node._saved_versions = ()  # nothing saved: the engine never frees it; apply guards a second call
        node.grads, node.allow_retain_graph = grads, opts.allow_retain_graph
        result._requires_grad = True
        result.grad_fn = node
    return result


class LinearCrossEntropyLoss(_WeightedLoss):
    """Cross entropy of a learnable linear map of the input: linear_cross_entropy with its own Linear."""

    __constants__ = ["num_classes", "out_features", "reduction", "ignore_index", "label_smoothing"]

    def __init__(self, in_features, num_classes, *, out_features=(), bias=False, device=None, dtype=None,
                 reduction="mean", weight=None, ignore_index=None, label_smoothing=0.0, options=None):
        if weight is not None and weight.shape != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got {tuple(weight.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got {label_smoothing}")
        super().__init__(weight=weight, size_average=None, reduce=None, reduction=reduction)
        self.num_classes = num_classes
        self.out_features = out_features
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        # Linear holds a 2-D weight: the (C, *out_features, in_features) one is a reshape of it in forward
        self.linear = Linear(in_features, math.prod(out_features, start=num_classes), bias=bias, device=device,
                             dtype=dtype)
        self.options = options

    def forward(self, input, target):
        """The loss of input (N, in_features) or (in_features,) against target."""
        linear_weight = self.linear.weight.reshape((self.num_classes, *self.out_features, self.linear.in_features))
        linear_bias = (self.linear.bias.reshape((self.num_classes, *self.out_features))
                       if self.linear.bias is not None else None)
        return F.linear_cross_entropy(input, linear_weight, target, linear_bias=linear_bias, weight=self.weight,
                                      reduction=self.reduction, ignore_index=self.ignore_index,
                                      label_smoothing=self.label_smoothing, options=self.options)

    def extra_repr(self):
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")
