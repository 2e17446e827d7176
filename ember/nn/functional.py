"""ember.nn.functional: torch.nn.functional's namespace.

The functions live with their op families in ``ember/ops``; each family lists
the names torch.nn.functional exposes in ``__functional__`` and this module
collects them.  Only the wrappers whose signature differs from the op's
(``relu(input, inplace=False)``) are defined here.
"""
import math as _math

from ..ops import activation as _activation, elementwise as _elementwise, loss as _loss, norm as _norm
from ..ops import attention as _attention, conv as _conv, fold as _fold, linalg as _linalg, pool as _pool
from ..ops import sampling as _sampling, conv3d as _conv3d
from .._argcheck import tensor_args as _tensor_args
from .._backend import int64 as _int64


def _collect():
    g = globals()
    for module in (_elementwise, _activation, _loss, _norm, _linalg, _conv, _pool, _fold, _attention, _sampling,
                   _conv3d):
        for name in getattr(module, "__functional__", ()):
            fn = getattr(module, name, None)
            if fn is None:  # a family still being written must not break `import ember`
                continue
            # private helpers torch's layers call through F (_canonical_mask) take no user input
            g[name] = fn if name[0] == "_" else _tensor_args(fn, __name__)


_collect()

_relu = _elementwise.relu
sigmoid = _tensor_args(_elementwise.sigmoid, __name__)
tanh = _tensor_args(_elementwise.tanh, __name__)


def relu(input, inplace=False):
    """max(0, input), elementwise; in place when inplace=True."""
    if inplace:
        return input.relu_()
    return _relu(input)


relu._fp_safe = True
relu = _tensor_args(relu, __name__)


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0, options=None):
    """cross_entropy(linear(input, linear_weight, linear_bias), target); with options, over chunks of the
    batch so that the (N, C) logits are never held whole."""
    if input.dim() < 1 or input.dim() > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.dim()}")
    if linear_weight.dim() < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got {linear_weight.dim()}")
    num_batches = tuple(input.shape[:-1])
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError("expected equal input and linear_weight last dimensions (in_features), "
                           f"got {input.shape[-1]} and {linear_weight.shape[-1]}, respectively")
    num_classes = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(num_classes, *out_features)}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and not num_batches:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} requires"
                           f" batched input, (N, {in_features}), got unbatched input with shape {tuple(input.shape)}")
    logits_shape = (*num_batches, num_classes, *out_features)
    # cross_entropy takes a target of the logits' shape as class probabilities
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore_index = ignore_index if ignore_index is not None else -100
    from .. import jit as _jit
    tracing = _jit.is_tracing()
    chunkable = (not out_features and reduction in {"mean", "sum", "none"} and label_smoothing == 0.0
                 and target.dtype is _int64 and not tracing)
    if options is not None and not chunkable:
        from .._userwarn import warn as _warn_user
        _warn_user("linear_cross_entropy: ``options`` ignored; chunked path needs reduction in {'mean','sum','none'}"
                   ", label_smoothing == 0, target.dtype == int64, out_features == (). Got "
                   f"reduction={reduction!r}, label_smoothing={label_smoothing}, target.dtype={target.dtype}, "
                   f"out_features={out_features}, tracing={tracing}, linear_bias.shape="
                   f"{tuple(linear_bias.shape) if linear_bias is not None else None}.")
    elif options is not None:
        from .modules.linear_cross_entropy import _chunked
        batched = input.dim() == 2
        if not batched:
            input, target = input.unsqueeze(0), target.unsqueeze(0)
        result = _chunked(input, linear_weight, target, linear_bias, weight, reduction, ignore_index, options)
        return result if batched else result.squeeze(0)
    if out_features:
        rows = _math.prod(out_features, start=num_classes)
        linear_weight = linear_weight.reshape((rows, in_features))
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(rows)
    logits = _linalg.linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return _loss.cross_entropy(logits, target, weight=weight, reduction=reduction, ignore_index=ignore_index,
                               label_smoothing=label_smoothing)


linear_cross_entropy = _tensor_args(linear_cross_entropy, __name__)
