"""Helpers shared by torchvision.ops' box functions and box losses."""
from ... import float32, float64, int32, int64, maximum, minimum, where

_REDUCTION_ERROR = "Invalid Value for arg 'reduction': '{} \n Supported reduction modes: 'none', 'mean', 'sum'"


def _upcast(t):
    """float16/bfloat16 -> float32 and small ints (bool, uint8, int16...) -> int32, so products don't overflow."""
    if t.is_floating_point():
        return t if t.dtype in (float32, float64) else t.float()
    return t if t.dtype in (int32, int64) else t.int()


def _upcast_non_float(t):
    """Any dtype but float32/float64 -> float32: the box losses divide and take arctangents."""
    return t if t.dtype in (float32, float64) else t.float()


def _loss_inter_union(boxes1, boxes2):
    """Elementwise (not pairwise) intersection and union areas of two xyxy box sets."""
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    left, top = maximum(x1, x1g), maximum(y1, y1g)
    right, bottom = minimum(x2, x2g), minimum(y2, y2g)
    # where, not a clamp: boxes that merely touch or miss get exactly 0 and no gradient, as torchvision's
    # masked assignment gives
    inter = where((bottom > top) & (right > left), (right - left) * (bottom - top), 0.0)
    union = (x2 - x1) * (y2 - y1) + (x2g - x1g) * (y2g - y1g) - inter
    return inter, union


def _reduce_box_loss(loss, reduction):
    """torchvision's reduction for the box losses: the mean of no boxes is 0 (still attached to the graph)."""
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(_REDUCTION_ERROR.format(reduction))
