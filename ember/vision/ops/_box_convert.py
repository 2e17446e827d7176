"""Conversions between torchvision's box formats, each a differentiable composite of ember ops.

Axis-aligned: xyxy (corners), xywh (top-left corner, size), cxcywh (centre, size).
Rotated (r in degrees, counter-clockwise): xywhr, cxcywhr, and xyxyxyxy (the four corners, clockwise
from the top-left). The rotated conversions of integer boxes compute in floating point and round back
to the input dtype, as torchvision's do.
"""
import math

from ... import atan2, cos, sin, stack


def _box_cxcywh_to_xyxy(boxes):
    cx, cy, w, h = boxes.unbind(-1)
    return stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


def _box_xyxy_to_cxcywh(boxes):
    x1, y1, x2, y2 = boxes.unbind(-1)
    return stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)


def _box_xywh_to_xyxy(boxes):
    x, y, w, h = boxes.unbind(-1)
    return stack((x, y, x + w, y + h), dim=-1)


def _box_xyxy_to_xywh(boxes):
    x1, y1, x2, y2 = boxes.unbind(-1)
    return stack((x1, y1, x2 - x1, y2 - y1), dim=-1)


def _rounded_like(out, boxes):
    # integer boxes went through floating point (angles); give them back in their own dtype
    if boxes.is_floating_point():
        return out
    return out.round().to(boxes.dtype)


def _cos_sin(r):
    rad = r * math.pi / 180.0
    return cos(rad), sin(rad)


def _box_cxcywhr_to_xywhr(boxes):
    cx, cy, w, h, r = boxes.unbind(-1)
    c, s = _cos_sin(r)
    x1 = cx - w / 2 * c - h / 2 * s
    y1 = cy - h / 2 * c + w / 2 * s
    return _rounded_like(stack((x1, y1, w, h, r), dim=-1), boxes)


def _box_xywhr_to_cxcywhr(boxes):
    x1, y1, w, h, r = boxes.unbind(-1)
    c, s = _cos_sin(r)
    cx = x1 + w / 2 * c + h / 2 * s
    cy = y1 - w / 2 * s + h / 2 * c
    return _rounded_like(stack((cx, cy, w, h, r), dim=-1), boxes)


def _box_xywhr_to_xyxyxyxy(boxes):
    x1, y1, w, h, r = boxes.unbind(-1)
    c, s = _cos_sin(r)
    x2, y2 = x1 + w * c, y1 - w * s  # top-right: along the (rotated) top edge
    x3, y3 = x2 + h * s, y2 + h * c  # bottom-right
    x4, y4 = x1 + h * s, y1 + h * c  # bottom-left
    return _rounded_like(stack((x1, y1, x2, y2, x3, y3, x4, y4), dim=-1), boxes)


def _box_xyxyxyxy_to_xywhr(boxes):
    x1, y1, x2, y2, x3, y3, x4, y4 = boxes.unbind(-1)
    r = atan2(y1 - y2, x2 - x1) * 180 / math.pi
    w = ((x2 - x1) ** 2 + (y1 - y2) ** 2).sqrt()
    h = ((x3 - x2) ** 2 + (y3 - y2) ** 2).sqrt()
    return _rounded_like(stack((x1, y1, w, h, r), dim=-1), boxes)


# (in_fmt, out_fmt) -> the conversions to apply in turn
CONVERSIONS = {
    ("xywh", "xyxy"): (_box_xywh_to_xyxy,),
    ("cxcywh", "xyxy"): (_box_cxcywh_to_xyxy,),
    ("xyxy", "xywh"): (_box_xyxy_to_xywh,),
    ("xyxy", "cxcywh"): (_box_xyxy_to_cxcywh,),
    ("xywh", "cxcywh"): (_box_xywh_to_xyxy, _box_xyxy_to_cxcywh),
    ("cxcywh", "xywh"): (_box_cxcywh_to_xyxy, _box_xyxy_to_xywh),
    ("cxcywhr", "xywhr"): (_box_cxcywhr_to_xywhr,),
    ("xywhr", "cxcywhr"): (_box_xywhr_to_cxcywhr,),
    ("cxcywhr", "xyxyxyxy"): (_box_cxcywhr_to_xywhr, _box_xywhr_to_xyxyxyxy),
    ("xyxyxyxy", "cxcywhr"): (_box_xyxyxyxy_to_xywhr, _box_xywhr_to_cxcywhr),
    ("xywhr", "xyxyxyxy"): (_box_xywhr_to_xyxyxyxy,),
    ("xyxyxyxy", "xywhr"): (_box_xyxyxyxy_to_xywhr,),
}
