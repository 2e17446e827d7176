"""torchvision.ops.giou_loss: generalized IoU loss (Rezatofighi et al., arXiv:1902.09630)."""
from ... import maximum, minimum
from ._utils import _loss_inter_union, _reduce_box_loss, _upcast_non_float

__all__ = ["generalized_box_iou_loss"]


def generalized_box_iou_loss(boxes1, boxes2, reduction="none", eps=1e-7):
    """1 - GIoU of matching xyxy boxes: still has a gradient when the boxes do not overlap."""
    boxes1, boxes2 = _upcast_non_float(boxes1), _upcast_non_float(boxes2)
    inter, union = _loss_inter_union(boxes1, boxes2)
    iou = inter / (union + eps)
    x1, y1, x2, y2 = boxes1.unbind(dim=-1)
    x1g, y1g, x2g, y2g = boxes2.unbind(dim=-1)
    enclosing = (maximum(x2, x2g) - minimum(x1, x1g)) * (maximum(y2, y2g) - minimum(y1, y1g))
    giou = iou - (enclosing - union) / (enclosing + eps)
    return _reduce_box_loss(1 - giou, reduction)
