"""torchvision.ops.roi_align: RoIAlign (Mask R-CNN, arXiv:1703.06870), with torchvision's CPU kernel semantics.

Each output bin averages ``grid_h x grid_w`` bilinear samples of the input.  Bilinear sampling is
separable: a sample reads two rows and two columns, so one axis at a time gives, per RoI, bin and
sample, two pixel indices and two weights; the four corner weights of a sample are their products.
The forward is then one gather of the corners for a whole group of RoIs and one weighted sum, the
backward one ``bincount`` scatter of the same weights.  RoIs are grouped by their sampling grid
(all alike when ``sampling_ratio > 0``) and gathered in chunks, so memory stays bounded when there
are many or large RoIs.  The coordinates are computed in the input's dtype in the kernel's order of
operations, so the sample points, and the pixels they read, are the kernel's.
"""
from collections.abc import Iterable

import numpy as np

from ... import _backend as B
from ... import cat, full_like, nn
from ..._tensor import Tensor
from ...autograd.graph import Node
from ...ops import needs_grad, new_node, record, save_versions

__all__ = ["roi_align", "RoIAlign"]

xp_of = B.xp_of

# elements one gather may hold (corner values of a chunk of RoIs): about 32 MB of float64
_BUDGET = 1 << 22


# ---- shared by the RoI ops ---------------------------------------------------------------------
def _pair(v):
    """torch.nn.modules.utils._pair: an iterable as a tuple, anything else repeated twice."""
    return tuple(v) if isinstance(v, Iterable) else (v, v)


def _check_roi_boxes_shape(boxes):
    """torchvision's check_roi_boxes_shape: a Tensor[K, 5] or a list of Tensor[L, 4]."""
    if isinstance(boxes, (list, tuple)):
        for t in boxes:
            if t.size(1) != 4:
                raise AssertionError("The shape of the tensor in the boxes list is not correct as List[Tensor[L, 4]]"
                                     f" (got a tensor of shape {list(t.shape)}: one (x1, y1, x2, y2) row per box)")
    elif isinstance(boxes, Tensor):
        if boxes.size(1) != 5:
            raise AssertionError("The boxes tensor shape is not correct as Tensor[K, 5]"
                                 f" (got {list(boxes.shape)}: one (batch_index, x1, y1, x2, y2) row per box, or pass "
                                 "a list with one Tensor[L, 4] per image)")
    else:
        raise AssertionError("boxes is expected to be a Tensor[L, 5] or a List[Tensor[K, 4]]"
                             f", not {type(boxes).__name__}")


def _convert_boxes_to_roi_format(boxes):
    """A list of per-image Tensor[L, 4] as one Tensor[K, 5] whose first column is the image index."""
    concat = boxes[0] if len(boxes) == 1 else cat(list(boxes), 0)
    ids = [full_like(b[:, :1], i) for i, b in enumerate(boxes)]
    ids = ids[0] if len(ids) == 1 else cat(ids, 0)
    return cat([ids, concat], 1)


def _rois_of(boxes):
    _check_roi_boxes_shape(boxes)
    return boxes if isinstance(boxes, Tensor) else _convert_boxes_to_roi_format(boxes)



def _check_inputs(op, input, rois, same_dtype_msg, with_half):
    """The kernel's checks: a 4-d input, rois (K, 5) of the input's dtype, a dtype the kernel has (float32,
    float64, and float16 when with_half)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    a, r = input._data, rois._data
    if a.ndim < 4:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-a.ndim}, {a.ndim - 1}], but got 3)"
                         f" ({op} expects an input of shape (N, C, H, W), got {list(a.shape)})")
    if a.ndim > 4:
        raise RuntimeError(f"{op}: expected an input of shape (N, C, H, W), got {list(a.shape)}")
    if r.ndim != 2 or r.shape[1] != 5:
        raise RuntimeError("rois must have shape as Tensor[K, 5]" if op == "roi_align"
                           else "Tensor rois should have shape as Tensor[K, 5]")
    if a.dtype != r.dtype:
        raise RuntimeError(f"{same_dtype_msg} (input is {B.scalar_name(a.dtype)}, rois are {B.scalar_name(r.dtype)}: "
                           f"convert the boxes with .to(input.dtype))")
    if a.dtype.name not in (("float16", "float32", "float64") if with_half else ("float32", "float64")):
        if not with_half:
            raise RuntimeError(f"{op} only supports float and double types (got {B.scalar_name(a.dtype)})")
        raise NotImplementedError(f"\"{op}_forward_kernel\" not implemented for '{B.scalar_name(a.dtype)}'")
    return a, r


def _batch_index(r, n, op):
    """Column 0 of rois as image indices (truncated, as the kernel's int cast); out of range is refused."""
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(r[:, 0])
        b = np.where(ok, r[:, 0], -1).astype(np.int64)
    if b.size and (b.min() < 0 or b.max() >= n):
        bad = r[:, 0][(b < 0) | (b >= n)][0]
        raise IndexError(f"{op}: a box has batch index {bad!r}, but the input holds {n} image(s); column 0 of the "
                         f"rois must be in [0, {n - 1}]")
    return b


class _CppNode(Node):
    """A torchvision C++ autograd function: torch names such a node CppNode<...> after its C++ class."""

    __slots__ = ()

    def name(self):
        """The node's name, as torch's Node.name()."""
        return f"torch::autograd::CppNode<vision::ops::(anonymous namespace)::{type(self).__name__}>"


# ---- bilinear sampling -------------------------------------------------------------------------
def _align_layout(r, spatial_scale, ph, pw, sampling_ratio, aligned, clamp_to_one, at_least_one):
    """Per RoI: start, bin size and sampling grid along y and x, and the divisor of each bin's sum."""
    dt = r.dtype
    t = dt.type
    off = t(0.5) if aligned else t(0)
    s = t(spatial_scale)
    start_w, start_h = r[:, 1] * s - off, r[:, 2] * s - off
    roi_w, roi_h = (r[:, 3] * s - off) - start_w, (r[:, 4] * s - off) - start_h
    if clamp_to_one:  # the legacy (not aligned) kernel forces malformed RoIs to 1x1
        roi_w, roi_h = np.maximum(roi_w, t(1)), np.maximum(roi_h, t(1))
    bin_h, bin_w = roi_h / t(ph), roi_w / t(pw)
    if sampling_ratio > 0:
        gh = gw = np.full(len(r), sampling_ratio, np.int64)
    else:  # adaptive: ceil(roi_size / pooled_size) samples per bin and axis
        with np.errstate(invalid="ignore"):
            gh = np.where(np.isfinite(bin_h), np.ceil(bin_h), 0).astype(np.int64)
            gw = np.where(np.isfinite(bin_w), np.ceil(bin_w), 0).astype(np.int64)
    count = gh * gw
    if at_least_one:
        count = np.maximum(count, 1)
    return (start_h, bin_h, gh), (start_w, bin_w, gw), count.astype(dt)


def _axis(start, bin_size, pooled, size, grid, first=0, last=None):
    """The two pixels (low, high) that sample points first..last-1 of every bin read along one axis, and
    their weights (high-side, low-side fraction); points outside [-1, size] read nothing.
    Shapes (k, pooled, 2 * (last - first))."""
    last = grid if last is None else last
    dt = start.dtype
    t = dt.type
    p = np.arange(pooled).astype(dt)
    frac = (np.arange(first, last) + 0.5).astype(np.float32).astype(dt)
    b = bin_size[:, None, None]
    c = (start[:, None, None] + p[:, None] * b) + frac * b / t(grid)
    inside = (c >= -1) & (c <= size)  # NaN coordinates compare False: outside
    c = np.maximum(np.where(inside, c, t(0)), t(0))
    low = c.astype(np.int64)
    top = low >= size - 1
    low = np.where(top, size - 1, low)
    high = np.where(top, size - 1, low + 1)
    c = np.where(top, low.astype(dt), c)
    lfrac = c - low.astype(dt)
    hfrac = t(1) - lfrac
    n = 2 * (last - first)
    idx = np.stack([low, high], -1).reshape(len(start), pooled, n)
    w = np.stack([np.where(inside, hfrac, t(0)), np.where(inside, lfrac, t(0))], -1)
    return np.maximum(idx, 0), w.reshape(len(start), pooled, n)


def _groups(gh, gw, per_sample):
    """RoIs with the same sampling grid, in chunks whose gathers fit the budget, as (indices, ys, xs) with
    ys = (grid_h, first, last) the sample rows to take (xs likewise).  A RoI whose samples alone overflow
    the budget is summed in blocks of sample rows and columns."""
    live = np.nonzero((gh > 0) & (gw > 0))[0]
    if not len(live):
        return
    uniq, inv = np.unique(np.stack([gh[live], gw[live]], 1), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for g, (h, w) in enumerate(uniq):
        h, w = int(h), int(w)
        members = live[inv == g]
        cost = per_sample * 4 * h * w
        if cost <= _BUDGET:
            step = _BUDGET // cost
            for i in range(0, len(members), step):
                yield members[i:i + step], (h, 0, h), (w, 0, w)
            continue
        cols = max(1, min(w, _BUDGET // (per_sample * 4)))
        rows = max(1, min(h, _BUDGET // (per_sample * 4 * cols)))
        for k in range(len(members)):
            for i in range(0, h, rows):
                for j in range(0, w, cols):
                    yield members[k:k + 1], (h, i, min(i + rows, h)), (w, j, min(j + cols, w))


def _host(x):
    """A NumPy copy of a small device array (the per-RoI geometry is computed on the host)."""
    return x if xp_of(x) is np else x.get()


def _dev(xp, *arrays):
    return arrays if xp is np else tuple(xp.asarray(x) for x in arrays)


def _corners(b, ys, xs, channels):
    """Index arrays (batch, channel, row, col) broadcasting to (k, C, PH, 2gh, PW, 2gw).  channels is
    (1, C, 1, 1, 1, 1) for roi_align, or the position-sensitive map (1, C_out, PH, 1, PW, 1)."""
    return (b[:, None, None, None, None, None], channels, ys[:, None, :, :, None, None], xs[:, None, None, None, :, :])


def _weights(wy, wx):
    """The corner weights of every sample: (k, PH, 2gh, PW, 2gw), the kernel's hy * hx products."""
    return wy[:, :, :, None, None] * wx[:, None, None, :, :]


def _align_forward(a, b, layout, ph, pw, channels, out_c):
    """roi_align / ps_roi_align forward: per bin, the sum of its samples' bilinear values over count."""
    (sh, bh, gh), (sw, bw, gw), count = layout
    xp = xp_of(a)
    H, W = a.shape[2], a.shape[3]
    out = xp.zeros((len(b), out_c, ph, pw), a.dtype)
    if H == 0 or W == 0:
        return out
    for idx, ysel, xsel in _groups(gh, gw, out_c * ph * pw):
        ys, wy = _axis(sh[idx], bh[idx], ph, H, *ysel)
        xs, wx = _axis(sw[idx], bw[idx], pw, W, *xsel)
        bi, ci, yi, xi, wts, sel = _dev(xp, *_corners(b[idx], ys, xs, channels), _weights(wy, wx), idx)
        out[sel] += xp.einsum("kcpiqj,kpiqj->kcpq", a[bi, ci, yi, xi], wts)
    with B.errstate(xp, invalid="ignore", divide="ignore"):
        return out / _dev(xp, count)[0][:, None, None, None]


def _align_backward(grad, shape, b, layout, ph, pw, channels):
    """The forward's adjoint: each bin's gradient over count, times each corner weight, scattered."""
    (sh, bh, gh), (sw, bw, gw), count = layout
    xp = xp_of(grad)
    N, C, H, W = shape
    gi = xp.zeros(N * C * H * W, np.float64)
    if H == 0 or W == 0:
        return gi.astype(grad.dtype).reshape(shape)
    for idx, ysel, xsel in _groups(gh, gw, grad.shape[1] * ph * pw):
        ys, wy = _axis(sh[idx], bh[idx], ph, H, *ysel)
        xs, wx = _axis(sw[idx], bw[idx], pw, W, *xsel)
        bi, ci, yi, xi = _corners(b[idx], ys, xs, channels)
        flat, wts, sel, cnt = _dev(xp, ((bi * C + ci) * H + yi) * W + xi, _weights(wy, wx), idx, count[idx])
        vals = (grad[sel] / cnt[:, None, None, None])[:, :, :, None, :, None] * wts[:, None]
        flat, vals = xp.broadcast_arrays(flat, vals)
        gi += xp.bincount(flat.ravel(), weights=vals.ravel(), minlength=gi.size)
    return gi.astype(grad.dtype).reshape(shape)


class ROIAlignFunction(_CppNode):
    """Gradient of roi_align for the input: each bin's gradient spread over its samples' four corners."""

    __slots__ = ("rois", "shape", "spatial_scale", "ph", "pw", "sampling_ratio", "aligned")
    _saved_fields = ("rois",)

    def apply(self, grad):
        r = _host(self.rois)
        layout = _align_layout(r, self.spatial_scale, self.ph, self.pw, self.sampling_ratio, self.aligned,
                               not self.aligned, True)
        b = _batch_index(r, self.shape[0], "roi_align")
        channels = np.arange(self.shape[1]).reshape(1, -1, 1, 1, 1, 1)
        return _align_backward(grad, self.shape, b, layout, self.ph, self.pw, channels), None


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1, aligned=False):
    """RoI Align (Mask R-CNN): average of bilinear samples per output bin; returns Tensor[K, C, *output_size]."""
    rois = _rois_of(boxes)
    ph, pw = _pair(output_size)
    a, r = _check_inputs("roi_align", input, rois, "input should have the same type as rois", True)
    ph, pw, sampling_ratio, aligned = int(ph), int(pw), int(sampling_ratio), bool(aligned)
    N, C = a.shape[:2]
    if len(r) == 0 or C == 0 or ph <= 0 or pw <= 0:
        out = xp_of(a).zeros((len(r), C, max(ph, 0), max(pw, 0)), a.dtype)
    else:
        r = _host(r)
        b = _batch_index(r, N, "roi_align")
        layout = _align_layout(r, spatial_scale, ph, pw, sampling_ratio, aligned, not aligned, True)
        out = _align_forward(a, b, layout, ph, pw, np.arange(C).reshape(1, -1, 1, 1, 1, 1), C)
    node = None
    if needs_grad(input):
        node = new_node(ROIAlignFunction, (input, rois))
        node.rois, node.shape, node.spatial_scale = r, a.shape, float(spatial_scale)
        node.ph, node.pw, node.sampling_ratio, node.aligned = ph, pw, sampling_ratio, aligned
        save_versions(node, rois)
    return record(out, node)


class RoIAlign(nn.Module):
    """Module form of roi_align."""

    def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, input, rois):
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def __repr__(self):
        return (f"{self.__class__.__name__}(output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned})")
