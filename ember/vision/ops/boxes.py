"""torchvision.ops.boxes: box format conversion, areas, IoU variants, clipping, filtering and NMS.

Everything differentiable in torchvision (conversions, areas, the IoU family, clipping) is a composite
of ember ops, so autograd comes for free. NMS is not differentiable: it runs on the host in NumPy and
reproduces torchvision's CPU kernel, including its float arithmetic and its order for equal scores.
"""
import math

import numpy as np

from ... import (atan, bool as bool_, empty, float32, float64, int64, maximum, minimum, no_grad, stack, tensor,
                 unique, where, zeros, zeros_like)
from ..._backend import host_array, scalar_name, xp_of
from ..._tensor import _wrap
from ...ops import reduce as _reduce
from ._box_convert import CONVERSIONS
from ._utils import _upcast

__all__ = ["nms", "batched_nms", "remove_small_boxes", "clip_boxes_to_image", "box_convert", "box_area", "box_iou",
           "generalized_box_iou", "complete_box_iou", "distance_box_iou", "masks_to_boxes"]

_AXIS_ALIGNED = ("xyxy", "xywh", "cxcywh")
_ROTATED = ("cxcywhr", "xywhr", "xyxyxyxy")


# ---- NMS ---------------------------------------------------------------------------------------
def _descending_order(scores):
    """Indices that sort the 1-d array scores descending, as torch's (unstable) CPU sort orders them: equal
    scores come out in the order std::sort leaves them, which torchvision's nms kernel keeps."""
    return _reduce._argsort(scores, 0, True, False)


def _nms_host(boxes, scores, iou_threshold):
    """torchvision's CPU nms kernel on NumPy arrays: greedy suppression in the boxes' own float type."""
    order = _descending_order(scores)
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[order, k]) for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    alive = np.ones(len(order), dtype=bool)
    zero = boxes.dtype.type(0)
    keep = []
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for i in range(len(order)):
            if not alive[i]:
                continue
            keep.append(order[i])
            j = slice(i + 1, None)
            # std::max(a, b) is (a < b ? b : a), std::min(a, b) is (b < a ? b : a): NaN falls to a
            xx1 = np.where(x1[i] < x1[j], x1[j], x1[i])
            yy1 = np.where(y1[i] < y1[j], y1[j], y1[i])
            xx2 = np.where(x2[j] < x2[i], x2[j], x2[i])
            yy2 = np.where(y2[j] < y2[i], y2[j], y2[i])
            w, h = xx2 - xx1, yy2 - yy1
            inter = np.where(zero < w, w, zero) * np.where(zero < h, h, zero)
            ovr = inter / (areas[i] + areas[j] - inter)
            # the kernel compares its float IoU with the double threshold: compare in float64
            alive[j] &= ~(ovr.astype(np.float64) > iou_threshold)
    return np.asarray(keep, dtype=np.int64)


def nms(boxes, scores, iou_threshold):
    """Indices of the boxes kept by non-maximum suppression (IoU > iou_threshold), by decreasing score."""
    if boxes.dim() != 2:
        raise RuntimeError(f"boxes should be a 2d tensor, got {boxes.dim()}D")
    if boxes.shape[1] != 4:
        raise RuntimeError(f"boxes should have 4 elements in dimension 1, got {boxes.shape[1]}")
    if scores.dim() != 1:
        raise RuntimeError(f"scores should be a 1d tensor, got {scores.dim()}D")
    if boxes.shape[0] != scores.shape[0]:
        raise RuntimeError("boxes and scores should have same number of elements in dimension 0, "
                           f"got {boxes.shape[0]} and {scores.shape[0]}")
    if boxes.dtype not in (float32, float64):
        raise NotImplementedError(f"\"nms_kernel\" not implemented for '{scalar_name(boxes.dtype)}'")
    if scores.dtype != boxes.dtype:
        raise RuntimeError("dets should have the same type as scores")
    if boxes.numel() == 0:
        return empty((0,), dtype=int64, device=boxes.device)
    keep = _nms_host(host_array(boxes._data), host_array(scores._data), float(iou_threshold))
    return _wrap(xp_of(boxes._data).asarray(keep))


def batched_nms(boxes, scores, idxs, iou_threshold):
    """nms within each category of idxs: boxes of different categories never suppress each other."""
    # torchvision's switch: past these sizes one nms per category is faster than one big nms
    if boxes.numel() > (4000 if boxes.device.type == "cpu" else 100_000):
        return _batched_nms_vanilla(boxes, scores, idxs, iou_threshold)
    return _batched_nms_coordinate_trick(boxes, scores, idxs, iou_threshold)


def _batched_nms_coordinate_trick(boxes, scores, idxs, iou_threshold):
    # shift each category's boxes by category * (largest coordinate + 1), in the boxes' dtype, so boxes
    # of different categories cannot overlap; then one nms does them all
    if boxes.numel() == 0:
        return empty((0,), dtype=int64, device=boxes.device)
    with no_grad():
        offsets = idxs.to(boxes.dtype) * (boxes.max() + 1)
        return nms(boxes + offsets[:, None], scores, iou_threshold)


def _batched_nms_vanilla(boxes, scores, idxs, iou_threshold):
    keep_mask = zeros_like(scores, dtype=bool_)
    for class_id in unique(idxs):
        members = where(idxs == class_id)[0]
        keep_mask[members[nms(boxes[members], scores[members], iou_threshold)]] = True
    kept = where(keep_mask)[0]
    # torchvision orders the survivors with torch's unstable sort: replay it for equal scores too
    order = _descending_order(host_array(scores[kept]._data))
    return kept[tensor(order, device=kept.device)]


# ---- filtering and clipping --------------------------------------------------------------------
def remove_small_boxes(boxes, min_size):
    """Indices of the xyxy boxes whose width and height are both at least min_size."""
    ws, hs = boxes[..., 2] - boxes[..., 0], boxes[..., 3] - boxes[..., 1]
    return where((ws >= min_size) & (hs >= min_size))[0]


def clip_boxes_to_image(boxes, size):
    """xyxy boxes clamped into an image of size (height, width)."""
    height, width = size
    xs = boxes[..., 0::2].clamp(min=0, max=width)
    ys = boxes[..., 1::2].clamp(min=0, max=height)
    return stack((xs, ys), dim=boxes.dim()).reshape(boxes.shape)


# ---- formats and areas -------------------------------------------------------------------------
def box_convert(boxes, in_fmt, out_fmt):
    """boxes converted from in_fmt to out_fmt (xyxy, xywh, cxcywh; xywhr, cxcywhr, xyxyxyxy rotated)."""
    fmts = _AXIS_ALIGNED + _ROTATED
    if in_fmt not in fmts or out_fmt not in fmts:
        raise ValueError(f"Unsupported Bounding Box Conversions for given in_fmt {in_fmt} and out_fmt {out_fmt}")
    if in_fmt == out_fmt:
        return boxes.clone()
    steps = CONVERSIONS.get((in_fmt, out_fmt))
    if steps is None:  # between an axis-aligned and a rotated format
        raise NotImplementedError(f"Unsupported Bounding Box Conversions for given in_fmt {in_fmt} and "
                                  f"out_fmt {out_fmt}")
    for step in steps:
        boxes = step(boxes)
    return boxes


def box_area(boxes, fmt="xyxy"):
    """Area of each box (fmt xyxy, xywh or cxcywh); small integer and half dtypes are upcast first."""
    if fmt not in _AXIS_ALIGNED:
        raise ValueError(f"Unsupported Bounding Box area for given format {fmt}")
    boxes = _upcast(boxes)
    if fmt == "xyxy":
        return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])
    return boxes[..., 2] * boxes[..., 3]


# ---- the IoU family ----------------------------------------------------------------------------
def _pairs(boxes1, boxes2):
    # [..., N, 1, K] against [..., 1, M, K]: every box of the first set with every box of the second
    return boxes1[..., :, None, :], boxes2[..., None, :, :]


def _box_inter_union(boxes1, boxes2, fmt="xyxy"):
    area1 = box_area(boxes1, fmt=fmt)
    area2 = box_area(boxes2, fmt=fmt)
    a, b = _pairs(boxes1, boxes2)
    if fmt == "xyxy":
        lt = maximum(a[..., :2], b[..., :2])
        rb = minimum(a[..., 2:], b[..., 2:])
    elif fmt == "xywh":
        lt = maximum(a[..., :2], b[..., :2])
        rb = minimum(a[..., :2] + a[..., 2:], b[..., :2] + b[..., 2:])
    else:  # cxcywh
        lt = maximum(a[..., :2] - a[..., 2:] / 2, b[..., :2] - b[..., 2:] / 2)
        rb = minimum(a[..., :2] + a[..., 2:] / 2, b[..., :2] + b[..., 2:] / 2)
    wh = _upcast(rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    return inter, area1[..., None] + area2[..., None, :] - inter


def _enclosing_wh(boxes1, boxes2):
    # width and height of the smallest box enclosing each pair
    a, b = _pairs(boxes1, boxes2)
    return _upcast(maximum(a[..., 2:], b[..., 2:]) - minimum(a[..., :2], b[..., :2])).clamp(min=0)


def box_iou(boxes1, boxes2, fmt="xyxy"):
    """[..., N, M] intersection-over-union of every box in boxes1 with every box in boxes2."""
    if fmt in _AXIS_ALIGNED:
        inter, union = _box_inter_union(boxes1, boxes2, fmt=fmt)
        return inter / union
    if fmt in _ROTATED:
        raise NotImplementedError(
            f"box_iou(fmt='{fmt}'): the IoU of rotated boxes needs torchvision's box_iou_rotated C++ kernel, "
            "which ember does not have; use an axis-aligned format ('xyxy', 'xywh', 'cxcywh')")
    raise ValueError(f"Unsupported format '{fmt}'. Supported axis-aligned formats: {_AXIS_ALIGNED}. "
                     f"Supported rotated formats: {_ROTATED}.")


def generalized_box_iou(boxes1, boxes2):
    """[..., N, M] generalized IoU of xyxy boxes: IoU minus the enclosing box's share not in the union."""
    inter, union = _box_inter_union(boxes1, boxes2)
    whi = _enclosing_wh(boxes1, boxes2)
    areai = whi[..., 0] * whi[..., 1]
    return inter / union - (areai - union) / areai


def _box_diou_iou(boxes1, boxes2, eps=1e-7):
    iou = box_iou(boxes1, boxes2)
    whi = _enclosing_wh(boxes1, boxes2)
    diagonal_squared = whi[..., 0] ** 2 + whi[..., 1] ** 2 + eps
    xp = (boxes1[..., 0] + boxes1[..., 2]) / 2
    yp = (boxes1[..., 1] + boxes1[..., 3]) / 2
    xg = (boxes2[..., 0] + boxes2[..., 2]) / 2
    yg = (boxes2[..., 1] + boxes2[..., 3]) / 2
    centers_squared = _upcast(xp[..., None] - xg[..., None, :]) ** 2 + _upcast(yp[..., None] - yg[..., None, :]) ** 2
    return iou - centers_squared / diagonal_squared, iou


def distance_box_iou(boxes1, boxes2, eps=1e-7):
    """[..., N, M] distance IoU of xyxy boxes: IoU minus squared centre distance over enclosing diagonal."""
    return _box_diou_iou(_upcast(boxes1), _upcast(boxes2), eps=eps)[0]


def complete_box_iou(boxes1, boxes2, eps=1e-7):
    """[..., N, M] complete IoU of xyxy boxes: distance IoU minus an aspect-ratio penalty."""
    boxes1, boxes2 = _upcast(boxes1), _upcast(boxes2)
    diou, iou = _box_diou_iou(boxes1, boxes2, eps)
    w_pred = boxes1[..., None, 2] - boxes1[..., None, 0]
    h_pred = boxes1[..., None, 3] - boxes1[..., None, 1]
    w_gt = boxes2[..., None, :, 2] - boxes2[..., None, :, 0]
    h_gt = boxes2[..., None, :, 3] - boxes2[..., None, :, 1]
    v = (4 / (math.pi ** 2)) * (atan(w_pred / h_pred) - atan(w_gt / h_gt)) ** 2
    with no_grad():  # the trade-off weight is a constant for the gradient (Zheng et al.)
        alpha = v / (1 - iou + v + eps)
    return diou - alpha * v


def masks_to_boxes(masks):
    """[N, 4] float xyxy boxes tightly around the nonzero pixels of [N, H, W] masks ([0, 0, 0, 0] if empty)."""
    if masks.numel() == 0:
        return zeros((0, 4), device=masks.device, dtype=float32)
    n, h, w = masks.shape
    m = masks.bool()._data
    xp = xp_of(m)
    rows, cols = m.any(axis=2), m.any(axis=1)
    # argmax finds the first True: from the front for x1/y1, from the back for x2/y2
    y1, x1 = rows.argmax(axis=1), cols.argmax(axis=1)
    y2, x2 = (h - 1) - rows[:, ::-1].argmax(axis=1), (w - 1) - cols[:, ::-1].argmax(axis=1)
    out = xp.stack([x1, y1, x2, y2], axis=1).astype(xp.float32)
    out[~rows.any(axis=1)] = 0
    return _wrap(out)
