"""torchvision.ops.ps_roi_align: position-sensitive RoI Align (Light-Head R-CNN, arXiv:1711.07264).

roi_align's sampling (always with the half-pixel shift of ``aligned=True``, no 1x1 floor on the box),
except that output channel c, bin (i, j) reads input channel ``(c * PH + i) * PW + j``.  The bin sum
is divided by ``grid_h * grid_w`` as the kernel does, so a bin with an empty grid is 0 / 0 = nan.
"""
import numpy as np

from ... import nn
from ...ops import needs_grad, new_node, record, save_versions
from .roi_align import (_CppNode, _align_backward, _align_forward, _align_layout, _batch_index, _check_inputs,
                        _host, _pair, _rois_of, xp_of)

__all__ = ["ps_roi_align", "PSRoIAlign"]


def _channel_map(c_out, ph, pw):
    """The input channel each (output channel, bin row, bin column) reads, shaped for the corner gather."""
    return np.arange(c_out * ph * pw).reshape(1, c_out, ph, 1, pw, 1)


class PSROIAlignFunction(_CppNode):
    """Gradient of ps_roi_align for the input: each bin's gradient spread over its samples' four corners."""

    __slots__ = ("rois", "shape", "spatial_scale", "ph", "pw", "sampling_ratio")
    _saved_fields = ("rois",)

    def apply(self, grad):
        r = _host(self.rois)
        layout = _align_layout(r, self.spatial_scale, self.ph, self.pw, self.sampling_ratio, True, False, False)
        b = _batch_index(r, self.shape[0], "ps_roi_align")
        channels = _channel_map(grad.shape[1], self.ph, self.pw)
        return _align_backward(grad, self.shape, b, layout, self.ph, self.pw, channels), None


def ps_roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1):
    """Position-sensitive RoI Align; returns Tensor[K, C / (PH * PW), PH, PW]."""
    rois = _rois_of(boxes)
    ph, pw = _pair(output_size)
    a, r = _check_inputs("ps_roi_align", input, rois, "input should have the same type as rois", True)
    ph, pw, sampling_ratio = int(ph), int(pw), int(sampling_ratio)
    N, C = a.shape[:2]
    if ph * pw <= 0 or C % (ph * pw) != 0:
        raise RuntimeError("input channels must be a multiple of pooling height * pooling width"
                           f" (got {C} channels for a {ph}x{pw} output: pass C = C_out * {ph} * {pw})")
    c_out = C // (ph * pw)
    if len(r) == 0 or c_out == 0:
        out = xp_of(a).zeros((len(r), c_out, ph, pw), a.dtype)
    else:
        r = _host(r)
        b = _batch_index(r, N, "ps_roi_align")
        layout = _align_layout(r, spatial_scale, ph, pw, sampling_ratio, True, False, False)
        out = _align_forward(a, b, layout, ph, pw, _channel_map(c_out, ph, pw), c_out)
    node = None
    if needs_grad(input):
        node = new_node(PSROIAlignFunction, (input, rois))
        node.rois, node.shape, node.spatial_scale = r, a.shape, float(spatial_scale)
        node.ph, node.pw, node.sampling_ratio = ph, pw, sampling_ratio
        save_versions(node, rois)
    return record(out, node)


class PSRoIAlign(nn.Module):
    """Module form of ps_roi_align."""

    def __init__(self, output_size, spatial_scale, sampling_ratio):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio

    def forward(self, input, rois):
        return ps_roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio)

    def __repr__(self):
        return (f"{self.__class__.__name__}(output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio})")
