"""torchvision.ops.diou_loss: distance IoU loss (Zheng et al., arXiv:1911.08287)."""
from ... import maximum, minimum
from ._utils import _loss_inter_union, _reduce_box_loss, _upcast_non_float

__all__ = ["distance_box_iou_loss"]


def distance_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """1 - IoU plus the squared centre distance over the enclosing box's squared diagonal, per box pair."""
    boxes1, boxes2 = _upcast_non_float(boxes1), _upcast_non_float(boxes2)
    loss, _ = _diou_iou_loss(boxes1, boxes2, eps)
    return _reduce_box_loss(loss, reduction)


def _diou_iou_loss(boxes1, boxes2, eps=1e-7):
    """(distance IoU loss, IoU) of matching xyxy boxes, unreduced."""
    inter, union = _loss_inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    diagonal_squared = (maximum(x2, x2g) - minimum(x1, x1g)) ** 2 + (maximum(y2, y2g) - minimum(y1, y1g)) ** 2 + eps
    centers_squared = ((x2 + x1) / 2 - (x1g + x2g) / 2) ** 2 + ((y2 + y1) / 2 - (y1g + y2g) / 2) ** 2
    return 1 - iou + centers_squared / diagonal_squared, iou
