"""torchvision.ops.roi_pool: RoI max pooling (Fast R-CNN, arXiv:1504.08083), with torchvision's CPU kernel semantics.

A box is rounded to whole pixels and cut into PH x PW bins of floor/ceil-rounded integer extent.
Every bin of a group of RoIs is gathered at once as a window padded to the group's largest bin; the
maximum is the first strictly largest value in row-major order, as the kernel's scan finds it (NaN
never wins; a bin whose values are all <= -FLT_MAX gives -FLT_MAX and passes no gradient, an empty
bin gives 0).  The backward scatters each bin's gradient to its argmax with one ``bincount``.
"""
import numpy as np

from ... import nn
from ...ops import needs_grad, new_node, record, save_versions
from .roi_align import _BUDGET, _CppNode, _batch_index, _check_inputs, _dev, _host, _pair, _rois_of, xp_of

__all__ = ["roi_pool", "RoIPool"]

_FLT_MAX = float(np.finfo(np.float32).max)


def _round_half_away(x):
    """C's round(): halves away from zero (numpy's round goes to even)."""
    m = np.abs(x)
    f = np.floor(m)
    return np.copysign(f + (m - f >= 0.5), x)


def _int_box(r, spatial_scale, rounding=None):
    """The box corners in whole pixels (start_w, start_h, end_w, end_h), as the kernel's int(round(x * scale))."""
    t = r.dtype.type
    v = r[:, 1:5] * t(spatial_scale)
    if rounding is not None:  # the ps_roi_pool backward rounds through float (roundf)
        v = v.astype(rounding)
    with np.errstate(invalid="ignore"):
        v = np.where(np.isfinite(v), _round_half_away(v), 0)
    v = np.clip(v, -(2 ** 31), 2 ** 31 - 1).astype(np.int64)
    return v[:, 0], v[:, 1], v[:, 2], v[:, 3]


def _bins(start, size, pooled, dt, hi):
    """Per RoI and bin, [first, last) pixel along one axis: floor(p * bin) .. ceil((p + 1) * bin),
    shifted by the box start and clipped to [0, hi]."""
    t = dt.type
    bin_size = size.astype(dt) / t(pooled)
    p = np.arange(pooled + 1).astype(dt)
    edges = p * bin_size[:, None]
    lo = np.floor(edges[:, :-1]).astype(np.int64) + start[:, None]
    up = np.ceil(edges[:, 1:]).astype(np.int64) + start[:, None]
    return np.clip(lo, 0, max(hi, 0)), np.clip(up, 0, max(hi, 0))


def _bin_groups(hs, he, ws, we, per_window):
    """RoIs with the same largest bin, chunked to the budget, as (indices, (first, last) window row,
    (first, last) window column).  A RoI whose windows alone overflow the budget comes in blocks of
    window rows (of single rows split into columns if need be): blocks in row-major order, as the
    kernel's scan."""
    mh = np.maximum(he - hs, 0).max(1) if he.size else np.zeros(len(hs), np.int64)
    mw = np.maximum(we - ws, 0).max(1) if we.size else np.zeros(len(ws), np.int64)
    live = np.nonzero((mh > 0) & (mw > 0))[0]
    if not len(live):
        return
    uniq, inv = np.unique(np.stack([mh[live], mw[live]], 1), axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    for g, (h, w) in enumerate(uniq):
        h, w = int(h), int(w)
        members = live[inv == g]
        cost = per_window * h * w
        if cost <= _BUDGET:
            step = _BUDGET // cost
            for i in range(0, len(members), step):
                yield members[i:i + step], (0, h), (0, w)
            continue
        cols = max(1, min(w, _BUDGET // per_window))
        rows = max(1, _BUDGET // (per_window * w))  # 1 whenever a row is split
        for k in range(len(members)):
            for i in range(0, h, rows):
                for j in range(0, w, cols):
                    yield members[k:k + 1], (i, min(i + rows, h)), (j, min(j + cols, w))


def _windows(hs, he, ws, we, rsel, csel):
    """Rows (k, PH, h) and columns (k, PW, w) of the bins' windows (the rsel / csel part), and their masks."""
    rows = hs[:, :, None] + np.arange(*rsel)
    cols = ws[:, :, None] + np.arange(*csel)
    return rows, rows < he[:, :, None], cols, cols < we[:, :, None]


def _gather_index(b, channels, rows, cols, H, W):
    """Index arrays broadcasting to (k, C, PH, PW, h, w): the pixels of each bin's window."""
    rows = np.minimum(rows, max(H - 1, 0))
    cols = np.minimum(cols, max(W - 1, 0))
    return (b[:, None, None, None, None, None], channels, rows[:, None, :, None, :, None],
            cols[:, None, None, :, None, :])


def _roi_pool_forward(a, r, b, spatial_scale, ph, pw):
    """Output and argmax (flat h * W + w in the image, -1 when nothing was pooled) of every bin."""
    xp = xp_of(a)
    K, (_, C, H, W) = len(r), a.shape
    sw, sh, ew, eh = _int_box(r, spatial_scale)
    hs, he = _bins(sh, np.maximum(eh - sh + 1, 1), ph, a.dtype, H)
    ws, we = _bins(sw, np.maximum(ew - sw + 1, 1), pw, a.dtype, W)
    empty = (he <= hs)[:, :, None] | (we <= ws)[:, None, :]
    fill = np.where(empty, 0.0, -_FLT_MAX).astype(a.dtype)
    out = xp.broadcast_to(_dev(xp, fill)[0][:, None], (K, C, ph, pw)).copy()
    arg = xp.full((K, C, ph, pw), -1, np.int64)
    found = xp.zeros((K, C, ph, pw), bool)
    channels = np.arange(C).reshape(1, -1, 1, 1, 1, 1)
    floor = a.dtype.type(-_FLT_MAX)
    for idx, rsel, csel in _bin_groups(hs, he, ws, we, C * ph * pw):
        rows, rok, cols, cok = _windows(hs[idx], he[idx], ws[idx], we[idx], rsel, csel)
        ok = rok[:, None, :, None, :, None] & cok[:, None, None, :, None, :]
        bi, ci, yi, xi, ok, sel = _dev(xp, *_gather_index(b[idx], channels, rows, cols, H, W), ok, idx)
        v = a[bi, ci, yi, xi]
        cand = ok & (v > floor)  # the kernel's scan starts at -FLT_MAX and takes only strictly larger values
        n = (rsel[1] - rsel[0]) * (csel[1] - csel[0])
        v = xp.where(cand, v, -xp.inf).reshape(len(idx), C, ph, pw, n)
        best = xp.argmax(v, -1)[..., None]  # the first maximum in row-major order
        top = xp.take_along_axis(v, best, -1)[..., 0]
        pix = xp.broadcast_to((yi * W + xi).reshape(len(idx), 1, ph, pw, n), v.shape)
        pix = xp.take_along_axis(pix, best, -1)[..., 0]
        hit = cand.reshape(v.shape).any(-1)
        seen = found[sel]
        better = hit & (~seen | (top > out[sel]))  # an earlier block keeps a tie
        out[sel] = xp.where(better, top, out[sel])
        arg[sel] = xp.where(better, pix, arg[sel])
        found[sel] = seen | hit
    return out, arg


class ROIPoolFunction(_CppNode):
    """Gradient of roi_pool for the input: each bin's gradient goes to the pixel that held its maximum."""

    __slots__ = ("rois", "argmax", "shape")
    _saved_fields = ("rois", "argmax")

    def apply(self, grad):
        xp = xp_of(grad)
        N, C, H, W = self.shape
        b = _batch_index(_host(self.rois), N, "roi_pool")
        arg = self.argmax
        base = (_dev(xp, b)[0][:, None, None, None] * C + xp.arange(C)[None, :, None, None]) * (H * W)
        hit = arg >= 0
        gi = xp.bincount((base + arg)[hit], weights=grad[hit], minlength=N * C * H * W)
        return gi.astype(grad.dtype).reshape(self.shape), None


def roi_pool(input, boxes, output_size, spatial_scale=1.0):
    """RoI max pooling (Fast R-CNN); returns Tensor[K, C, *output_size]."""
    rois = _rois_of(boxes)
    ph, pw = _pair(output_size)
    a, r = _check_inputs("roi_pool", input, rois, "input and rois must have the same dtype", False)
    ph, pw = int(ph), int(pw)
    xp = xp_of(a)
    N, C = a.shape[:2]
    if len(r) == 0 or C == 0 or ph <= 0 or pw <= 0:
        shape = (len(r), C, max(ph, 0), max(pw, 0))
        out, arg = xp.zeros(shape, a.dtype), xp.full(shape, -1, np.int64)
    else:
        r = _host(r)
        out, arg = _roi_pool_forward(a, r, _batch_index(r, N, "roi_pool"), spatial_scale, ph, pw)
    node = None
    if needs_grad(input):
        node = new_node(ROIPoolFunction, (input, rois))
        node.rois, node.argmax, node.shape = r, arg, a.shape
        save_versions(node, rois)
    return record(out, node)


class RoIPool(nn.Module):
    """Module form of roi_pool."""

    def __init__(self, output_size, spatial_scale):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input, rois):
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def __repr__(self):
        return f"{self.__class__.__name__}(output_size={self.output_size}, spatial_scale={self.spatial_scale})"

