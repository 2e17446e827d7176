"""torchvision.ops.ps_roi_pool: position-sensitive RoI average pooling (R-FCN, arXiv:1605.06409).

Output channel c, bin (i, j) averages input channel ``(c * PH + i) * PW + j`` over the bin's whole
pixels.  As in torchvision's CPU kernel, the forward clips bins to ``[0, H - 1]`` x ``[0, W - 1]`` (so
the last row and column are never read) while the backward clips them to ``[0, H]`` x ``[0, W]`` and
rounds the box through float32: a bin that touches the bottom or right edge gets torchvision's
gradient, which is not the forward's derivative there.  Elsewhere the two agree.
"""
import numpy as np

from ... import nn
from ...ops import needs_grad, new_node, record, save_versions
from .roi_align import _CppNode, _batch_index, _check_inputs, _dev, _host, _pair, _rois_of, xp_of
from .roi_pool import _bin_groups, _bins, _gather_index, _int_box, _windows

__all__ = ["ps_roi_pool", "PSRoIPool"]


def _layout(r, spatial_scale, ph, pw, dt, H, W, backward):
    """Per RoI and bin: the window rows [hs, he) and columns [ws, we), its area and whether it is empty."""
    if backward:  # roundf and the [0, H] clip of the backward kernel
        sw, sh, ew, eh = _int_box(r, spatial_scale, np.float32)
        hi_h, hi_w = H, W
    else:
        sw, sh, ew, eh = _int_box(r, spatial_scale)
        hi_h, hi_w = H - 1, W - 1
    hs, he = _bins(sh, np.maximum(eh - sh, 1), ph, dt, hi_h)
    ws, we = _bins(sw, np.maximum(ew - sw, 1), pw, dt, hi_w)
    area = ((he - hs)[:, :, None] * (we - ws)[:, None, :]).astype(dt)
    empty = (he <= hs)[:, :, None] | (we <= ws)[:, None, :]
    return hs, he, ws, we, area, empty


def _channel_map(c_out, ph, pw):
    """The input channel each (output channel, bin row, bin column) averages, shaped for the window gather."""
    return np.arange(c_out * ph * pw).reshape(1, c_out, ph, pw, 1, 1)


class PSROIPoolFunction(_CppNode):
    """Gradient of ps_roi_pool for the input: each bin's gradient spread evenly over its pixels."""

    __slots__ = ("rois", "shape", "spatial_scale", "ph", "pw")
    _saved_fields = ("rois",)

    def apply(self, grad):
        xp = xp_of(grad)
        N, C, H, W = self.shape
        ph, pw = self.ph, self.pw
        r = _host(self.rois)
        b = _batch_index(r, N, "ps_roi_pool")
        hs, he, ws, we, area, empty = _layout(r, self.spatial_scale, ph, pw, grad.dtype, H, W, True)
        c_out = grad.shape[1]
        channels = _channel_map(c_out, ph, pw)
        gi = xp.zeros(N * C * H * W, np.float64)
        area = np.where(empty, 1, area).astype(grad.dtype)  # an empty bin passes nothing back
        for idx, rsel, csel in _bin_groups(hs, he, ws, we, c_out * ph * pw):
            rows, rok, cols, cok = _windows(hs[idx], he[idx], ws[idx], we[idx], rsel, csel)
            ok = rok[:, None, :, None, :, None] & cok[:, None, None, :, None, :]
            bi, ci, yi, xi = _gather_index(b[idx], channels, rows, cols, H, W)
            flat, ok, ar, em, sel = _dev(xp, ((bi * C + ci) * H + yi) * W + xi, ok, area[idx], empty[idx], idx)
            vals = xp.where(em[:, None], 0, grad[sel] / ar[:, None])[..., None, None] * ok
            flat, vals = xp.broadcast_arrays(flat, vals)
            gi += xp.bincount(flat.ravel(), weights=vals.ravel(), minlength=gi.size)
        return gi.astype(grad.dtype).reshape(self.shape), None


def _forward(a, r, b, spatial_scale, ph, pw, c_out):
    """Each bin's window sum over its area (0 for an empty bin)."""
    xp = xp_of(a)
    N, C, H, W = a.shape
    hs, he, ws, we, area, empty = _layout(r, spatial_scale, ph, pw, a.dtype, H, W, False)
    out = xp.zeros((len(r), c_out, ph, pw), a.dtype)
    channels = _channel_map(c_out, ph, pw)
    for idx, rsel, csel in _bin_groups(hs, he, ws, we, c_out * ph * pw):
        rows, rok, cols, cok = _windows(hs[idx], he[idx], ws[idx], we[idx], rsel, csel)
        ok = rok[:, None, :, None, :, None] & cok[:, None, None, :, None, :]
        bi, ci, yi, xi, ok, sel = _dev(xp, *_gather_index(b[idx], channels, rows, cols, H, W), ok, idx)
        out[sel] += xp.where(ok, a[bi, ci, yi, xi], 0).sum((-2, -1))
    area, empty = _dev(xp, np.where(empty, 1, area).astype(a.dtype), empty)
    return xp.where(empty[:, None], 0, out / area[:, None]).astype(a.dtype)


def ps_roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """Position-sensitive RoI average pooling; returns Tensor[K, C / (PH * PW), PH, PW]."""
    rois = _rois_of(boxes)
    ph, pw = _pair(output_size)
    a, r = _check_inputs("ps_roi_pool", input, rois, "input and rois must have the same dtype", False)
    ph, pw = int(ph), int(pw)
    N, C = a.shape[:2]
    if ph * pw <= 0 or C % (ph * pw) != 0:
        raise RuntimeError("input channels must be a multiple of pooling height * pooling width"
                           f" (got {C} channels for a {ph}x{pw} output: pass C = C_out * {ph} * {pw})")
    c_out = C // (ph * pw)
    if len(r) == 0 or c_out == 0:
        out = xp_of(a).zeros((len(r), c_out, ph, pw), a.dtype)
    else:
        r = _host(r)
        out = _forward(a, r, _batch_index(r, N, "ps_roi_pool"), spatial_scale, ph, pw, c_out)
    node = None
    if needs_grad(input):
        node = new_node(PSROIPoolFunction, (input, rois))
        node.rois, node.shape, node.spatial_scale, node.ph, node.pw = r, a.shape, float(spatial_scale), ph, pw
        save_versions(node, rois)
    return record(out, node)


class PSRoIPool(nn.Module):
    """Module form of ps_roi_pool."""

    def __init__(self, output_size, spatial_scale):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input, rois):
        return ps_roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self):
        return f"{self.__class__.__name__}(output_size={self.output_size}, spatial_scale={self.spatial_scale})"
