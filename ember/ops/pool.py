"""Pooling: max/avg pooling (1-d, 2-d), adaptive pooling and max unpooling.

Every window position is a strided view of the (padded) input, one view per kernel offset:
max pooling is a running maximum over those kh*kw views (a two-level tree for the common
2x2 kernel) that also records which offset won, as a small uint8 array; backward writes
``where(winner == t, grad, 0)`` into each offset's view (plain stores when the windows tile
the input, adds when they overlap).  No ``add.at``, no (N, C, OH, OW, kh*kw) copy.

Kernels call the array module of their input (``xp = xp_of(array)``: numpy or cupy), never
numpy directly, so the same code runs on a GPU.
"""
import math

import numpy as np

from .. import _backend as B
from .. import _memory_format as _mf

from .._backend import xp_of

from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from .._tensor import Tensor, _wrap
from . import kernel_for
from .conv import SqueezeBackward1, _block, _plan, _run_blocks, _strided, _workers
from .elementwise import ReluBackward0

# inputs of at least this many elements are pooled on several threads (batch halves): at batch 256
# the LeNet's first pool took 0.86 ms forward, 0.6 ms backward on one thread, and two threads
# made the step 8 % faster; at batch 32 (150K elements) it did not pay
_PAR_MIN_ELEMENTS = 1 << 19

__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d"]
__functional__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
                  "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "max_unpool1d",
                  "max_unpool2d", "max_pool1d_with_indices", "max_pool2d_with_indices",
                  "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "lp_pool1d", "lp_pool2d",
                  "lp_pool3d"]


# ---- argument handling -----------------------------------------------------------------------
def _pair(v, name, op):
    if type(v) is int:
        return v, v
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return int(v[0]), int(v[0])
        if len(v) == 2:
            return int(v[0]), int(v[1])
    elif isinstance(v, np.integer):
        return int(v), int(v)
    raise RuntimeError(f"{op}: {name} must either be a single int, or a tuple of two ints")


def _single(v, name, op):
    if type(v) is int:
        return v
    if isinstance(v, (tuple, list)) and len(v) == 1:
        return int(v[0])
    if isinstance(v, np.integer):
        return int(v)
    raise RuntimeError(f"{op}: {name} must be a single int, or a tuple of one int")


def _out_size(size, k, s, p, d, ceil_mode):
    # torch's pooling_output_shape
    num = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _check_input(x, op, nd=2):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    a = x._data
    if a.ndim not in (nd + 1, nd + 2) or 0 in a.shape[-nd - 1:]:
        what = "2D or 3D" if nd == 1 else "3D or 4D"
        raise RuntimeError(f"{op}: non-empty {what} (batch mode) tensor expected for input, "
                           f"but got input of size {list(a.shape)}")
    return a


def _geometry(op, a, kernel_size, stride, padding, dilation, ceil_mode, max_pool):
    kh, kw = _pair(kernel_size, "kernel_size", op)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        sh, sw = kh, kw
    else:
        sh, sw = _pair(stride, "stride", op)
    ph, pw = _pair(padding, "padding", op)
    dh, dw = _pair(dilation, "dilation", op) if max_pool else (1, 1)
    if kh <= 0 or kw <= 0:
        if sh == 0 or sw == 0:
            raise RuntimeError("stride should not be zero")
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {kh} kW: {kw}")
    if sh <= 0 or sw <= 0:
        raise RuntimeError("stride should not be zero" if sh == 0 or sw == 0
                           else f"stride should be greater than zero, but got dH: {sh} dW: {sw}")
    if dh <= 0 or dw <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: {dh} dilationW: {dw}")
    if ph < 0 or pw < 0 or ph > ((kh - 1) * dh + 1) // 2 or pw > ((kw - 1) * dw + 1) // 2:
        bad, k, d = (ph, kh, dh) if ph < 0 or ph > ((kh - 1) * dh + 1) // 2 else (pw, kw, dw)
        if max_pool:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={bad}, "
                               f"kernel_size={k} and dilation={d}")
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={bad}, "
                           f"kernel_size={k} and dilation=1")
    H, W = a.shape[-2], a.shape[-1]
    OH = _out_size(H, kh, sh, ph, dh, ceil_mode)
    OW = _out_size(W, kw, sw, pw, dw, ceil_mode)
    if OH < 1 or OW < 1:
        C = a.shape[-3]
        raise RuntimeError(f"Given input size: ({C}x{H}x{W}). Calculated output size: ({C}x{OH}x{OW}). "
                           "Output size is too small")
    return kh, kw, sh, sw, ph, pw, dh, dw, OH, OW


class _PoolGeom:
    """Where each kernel offset's strided view sits in the padded input."""

    __slots__ = ("H", "W", "kh", "kw", "sh", "sw", "ph", "pw", "dh", "dw", "OH", "OW",
                 "Hp", "Wp", "padded", "tiles", "disjoint")

    def __init__(self, H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW):
        self.H, self.W, self.kh, self.kw, self.sh, self.sw = H, W, kh, kw, sh, sw
        self.ph, self.pw, self.dh, self.dw, self.OH, self.OW = ph, pw, dh, dw, OH, OW
        # rows/cols the windows reach, counted from the top/left padding
        need_h = (OH - 1) * sh + dh * (kh - 1) + 1
        need_w = (OW - 1) * sw + dw * (kw - 1) + 1
        self.Hp = max(need_h, H + ph)
        self.Wp = max(need_w, W + pw)
        self.padded = ph > 0 or pw > 0 or need_h > H or need_w > W
        # windows never overlap: backward stores instead of adding
        self.disjoint = (kh - 1) * dh < sh and (kw - 1) * dw < sw
        # ... and cover every input element exactly once: no zero fill either
        self.tiles = (self.disjoint and not self.padded and dh * (kh - 1) + 1 == sh
                      and dw * (kw - 1) + 1 == sw and OH * sh == H and OW * sw == W and dh == 1 and dw == 1)

    def view(self, a, i, j):
        r = i * self.dh
        c = j * self.dw
        return a[..., r:r + self.sh * (self.OH - 1) + 1:self.sh, c:c + self.sw * (self.OW - 1) + 1:self.sw]

    def pad(self, xp, a, fill):
        if not self.padded:
            return a
        out = xp.full(a.shape[:-2] + (self.Hp, self.Wp), fill, a.dtype)
        out[..., self.ph:self.ph + self.H, self.pw:self.pw + self.W] = a
        return out

    def crop(self, a):
        if not self.padded:
            return a
        return a[..., self.ph:self.ph + self.H, self.pw:self.pw + self.W]


# a pooling on one thread runs in blocks of at most this many input elements, whose temporaries
# stay in cache (LeNet at batch 256 on one thread, 7.4K -> 7.9K img/s against one block)
_POOL_BLOCK = 1 << 18


def _pool_plan(N, size, xp):
    """_plan for a pooling of N images and size elements: shared between threads from
    _PAR_MIN_ELEMENTS on (host arrays only), else on this thread in cache-sized blocks."""
    shared = size >= _PAR_MIN_ELEMENTS and xp is np and _workers() > 1
    return _plan(N, N if shared else max(1, _POOL_BLOCK // max(size // N, 1)), shared)


def _lowest(dtype):
    if dtype.kind == "f" or dtype.kind == "V":   # ('V': bfloat16)
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


# ---- max pooling ------------------------------------------------------------------------------
def _tree2x2(xp, a, b, c, d, need_idx, out=None, idx=None):
    """Max of four same-shaped views (the offsets of a 2x2 window in row-major order) and,
    when asked, the winning offset as uint8; ties go to the first offset, as in torch.
    out and idx: arrays to write into (else new ones)."""
    m1 = xp.maximum(a, b)
    m2 = xp.maximum(c, d)
    out = xp.maximum(m1, m2, out=out)
    if not need_idx:
        return out, None
    i1 = xp.greater(b, a).view(np.uint8)
    idx = xp.greater(d, c, out=None if idx is None else idx.view(np.bool_)).view(np.uint8)
    lower = xp.greater(m2, m1).view(np.uint8)
    # idx = lower ? 2 + i2 : i1, in bit operations on the 0/1 bytes: where() on uint8 took
    # 1 ms at batch 256 (3 ns an element), these 25 us
    xp.bitwise_xor(idx, i1, out=idx)
    xp.bitwise_and(idx, lower, out=idx)
    xp.bitwise_xor(idx, i1, out=idx)
    idx += lower
    idx += lower
    return out, idx


def _tree2x2_masks(xp, a, b, c, d, out, masks):
    """Max of four same-shaped views into out, and masks[k] = offset k won (the winners of
    _tree2x2: ties to the first offset), with no temporaries but the two partial maxima."""
    m1 = xp.maximum(a, b)
    m2 = xp.maximum(c, d)
    xp.maximum(m1, m2, out=out)
    w0, w1, w2, w3 = masks[0], masks[1], masks[2], masks[3]
    xp.greater(m2, m1, out=w2)        # lower pair wins
    xp.greater(d, c, out=w3)
    xp.logical_and(w3, w2, out=w3)    # lower and d > c
    xp.logical_not(w2, out=w0)        # upper pair wins
    xp.greater(b, a, out=w1)
    xp.logical_and(w1, w0, out=w1)    # upper and b > a
    xp.logical_xor(w0, w1, out=w0)    # upper and not b > a
    xp.logical_xor(w2, w3, out=w2)    # lower and not d > c


def _last_nan_wins(xp, v, masks):
    """torch's rule where a window holds a NaN: its last NaN wins (the masks of _tree2x2_masks,
    whose comparisons pass NaNs over)."""
    nans = [xp.isnan(v[k]) for k in range(4)]
    held = nans[0] | nans[1] | nans[2] | nans[3]
    later = xp.zeros_like(held)
    for k in (3, 2, 1, 0):
        masks[k] = B.where(xp, held, nans[k] & ~later, masks[k])
        later |= nans[k]


def _phase_span(a, s, p, n):
    """Phase a of a stride-s axis padded by p before its n elements: (k0, k1, y0), plane rows k0:k1
    (padded positions a + s*k) hold the elements y0, y0 + s, ... of the unpadded axis."""
    k0 = max(0, -(-(p - a) // s))
    y0 = a + s * k0 - p
    return k0, k0 + len(range(y0, n, s)), y0


def _phase_plane(xp, a, g, key, fill):
    """The contiguous phase plane padded[..., key[0]::sh, key[1]::sw] of the input a, made without the
    padded input: its padding rows and columns are filled with fill."""
    ra, cb = key
    H, W = a.shape[-2], a.shape[-1]
    plane = xp.empty(a.shape[:-2] + (len(range(ra, g.Hp, g.sh)), len(range(cb, g.Wp, g.sw))), a.dtype)
    k0, k1, y0 = _phase_span(ra, g.sh, g.ph, H)
    l0, l1, x0 = _phase_span(cb, g.sw, g.pw, W)
    plane[..., :k0, :] = fill
    plane[..., k1:, :] = fill
    plane[..., k0:k1, :l0] = fill
    plane[..., k0:k1, l1:] = fill
    plane[..., k0:k1, l0:l1] = a[..., y0::g.sh, x0::g.sw]
    return plane


def _offset_views(xp, a, g):
    """The window elements at each kernel offset (row-major) of the input a (padded with its dtype's
    lowest value), as views with a unit stride along the last axis: of the padded input when the
    pool's column stride is 1, else of contiguous phase planes padded[..., a::sh, b::sw] (NumPy's
    loops over stride-2 views ran 5-8x slower than over these)."""
    kh, kw, sh, sw, dh, dw = g.kh, g.kw, g.sh, g.sw, g.dh, g.dw
    if sw == 1:
        x = g.pad(xp, a, _lowest(a.dtype))
        return [g.view(x, i, j) for i in range(kh) for j in range(kw)]
    fill = _lowest(a.dtype)
    planes = {}
    views = []
    for i in range(kh):
        r = i * dh
        for j in range(kw):
            c = j * dw
            key = (r % sh, c % sw)
            plane = planes.get(key)
            if plane is None:
                plane = planes[key] = _phase_plane(xp, a, g, key, fill)
            views.append(plane[..., r // sh:r // sh + g.OH, c // sw:c // sw + g.OW])
    return views


def _max_forward(xp, a, g, need_idx=True):
    """(max over each window of the input a, uint8/int32 winner offset or None)."""
    kk = g.kh * g.kw
    if g.kh == 2 and g.kw == 2:
        x = g.pad(xp, a, _lowest(a.dtype))
        out, idx = _tree2x2(xp, g.view(x, 0, 0), g.view(x, 0, 1), g.view(x, 1, 0), g.view(x, 1, 1), need_idx)
        if idx is not None and (g.ph or g.pw):
            _first_inside(xp, out, idx, g)
        return out, idx
    lead, H, W = a.shape[:-2], a.shape[-2], a.shape[-1]
    planes = a.reshape((-1, H, W))
    R = planes.shape[0]
    out = xp.empty((R, g.OH, g.OW), a.dtype)
    idx = xp.empty(out.shape, np.uint8 if kk <= 256 else np.int32) if need_idx else None

    def block(s, e):
        _max_block(xp, planes[s:e], g, out[s:e], None if idx is None else idx[s:e])

    # blocks of planes whose temporaries stay in cache (a 3x3 stride-2 pool over 8 x 64 planes of
    # 112 x 112, training forward: 28 -> 20 ms against the whole batch at once), shared between
    # threads when large
    _run_blocks(block, R, _general_plan(xp, R, planes.size))
    shape = lead + (g.OH, g.OW)
    return out.reshape(shape), (None if idx is None else idx.reshape(shape))


def _general_plan(xp, R, size):
    """_plan over R planes of a pooling's input (size elements): blocks of at most _POOL_BLOCK elements,
    on threads from _PAR_MIN_ELEMENTS on (host arrays only); one block on a GPU."""
    if xp is not np:
        return R, 1
    return _plan(R, max(1, _POOL_BLOCK // max(size // max(R, 1), 1)),
                 size >= _PAR_MIN_ELEMENTS and _workers() > 1)


def _max_block(xp, a, g, out, idx):
    """The windows' maxima of the planes a (R, H, W) into out, their winners into idx (or None)."""
    kk = g.kh * g.kw
    views = _offset_views(xp, a, g)
    # np.maximum keeps its second operand where both are equal, and propagates NaN: the earlier
    # offset's value stays, as torch's strictly-greater scan keeps the first.  Two cases where equal
    # values differ in their bits go through the exact scan instead: a NaN (torch's last NaN wins,
    # with its payload) and a -0.0 in the input (a tie with +0.0 would rest on NumPy's choice)
    if kk == 1:
        out[...] = views[0]
    else:
        xp.maximum(views[1], views[0], out=out)
    for v in views[2:]:
        xp.maximum(v, out, out=out)
    if (a.dtype.kind in "fV" and (_has_nan(xp, out) or (not bool(out.all()) and _has_negative_zero(xp, a)))) \
            or (idx is not None and kk > 256):
        _max_scan(xp, views, out, idx)
    elif idx is not None:
        _first_winners(xp, views, out, idx)
    if idx is not None and (g.ph or g.pw):
        _first_inside(xp, out, idx, g)


def _first_winners(xp, views, out, idx):
    """idx = the first offset whose value equals out (the window's maximum)."""
    kk = len(views)
    # the winner: the first offset holding the maximum, as the last write of a descending pass
    # (a bit blend: np.copyto(where=) ran ~1 ms over 200K elements, these five passes ~60 us)
    eq = xp.empty(out.shape, np.bool_)
    mask = eq.view(np.uint8)
    d = xp.empty(out.shape, np.uint8)
    for t in range(kk - 1, -1, -1):
        xp.equal(views[t], out, out=eq)
        xp.negative(mask, out=mask)   # 0xff where equal
        if t == kk - 1:
            xp.bitwise_and(mask, t, out=idx)
            continue
        xp.bitwise_xor(idx, t, out=d)
        xp.bitwise_and(d, mask, out=d)
        xp.bitwise_xor(idx, d, out=idx)


def _first_inside(xp, out, idx, g):
    """torch's winner of a window whose elements inside the input are all the lowest value (-inf):
    the first of them, not an offset in the padding before it."""
    low = out == _lowest(out.dtype)
    if not bool(low.any()):
        return
    first_row = xp.maximum(-(-(g.ph - xp.arange(g.OH) * g.sh) // g.dh), 0)
    first_col = xp.maximum(-(-(g.pw - xp.arange(g.OW) * g.sw) // g.dw), 0)
    first = (first_row[:, None] * g.kw + first_col).astype(idx.dtype)
    xp.copyto(idx, xp.broadcast_to(first, idx.shape), where=low)


def _has_negative_zero(xp, x):
    bits = B._SAME_SIZE_INT[x.itemsize]
    return bool(xp.equal(x.view(bits), np.iinfo(bits).min).any())


def _max_scan(xp, views, out, idx):
    """torch's scan over the offsets into out and idx (or None): a strictly greater value or a NaN
    takes over."""
    out[...] = views[0]
    if idx is not None:
        idx[...] = 0
    isfloat = out.dtype.kind in "fV"
    for t in range(1, len(views)):
        v = views[t]
        m = xp.greater(v, out)
        if isfloat:
            m |= xp.isnan(v)  # torch: a NaN always takes over (and propagates)
        xp.copyto(out, v, where=m)
        if idx is not None:
            xp.copyto(idx, t, where=m)


def _exact_nan_winners(xp, x, g, idx):
    """torch's rule where NaNs occur: the last NaN of a window wins."""
    t = 0
    for i in range(g.kh):
        for j in range(g.kw):
            xp.copyto(idx, t, where=xp.isnan(g.view(x, i, j)))
            t += 1


def _max_backward(xp, grad, idx, g, shape, dtype):
    """Each window's gradient added at its winner into +0.0, as torch's kernel adds: for one input
    element the windows covering it come in descending offset order (torch's order, by output
    position).  In cache-sized blocks of planes, as forward."""
    H, W = shape[-2], shape[-1]
    grad = xp.ascontiguousarray(grad).reshape((-1, g.OH, g.OW))
    idx = idx.reshape(grad.shape)
    R = grad.shape[0]
    gx = xp.empty((R, H, W), dtype)
    if xp is np:
        # one ufunc.at a block: each window's gradient added at its winner's flat position, in
        # the order of the outputs, which is torch's kernel's loop (a 3x3 stride-2 pool over 4 x 64
        # planes of 112 x 112: 9.6 -> 3.0-3.2 ms on one thread; a pass a kernel offset made 27 passes)
        def block(s, e):
            corner, offset = _window_positions(xp, g, e - s, H, W)
            where = xp.take(offset, idx[s:e])
            where += corner
            out = gx[s:e]
            out.fill(0)
            xp.add.at(out.reshape(-1), where.reshape(-1), grad[s:e].reshape(-1))
        # on this thread: ufunc.at holds the GIL, and two threads ran slower (32 x 64 planes of 16 x 16:
        # 0.49-0.52 ms on one, 0.59-0.65 on two)
        plan = _plan(R, max(1, _POOL_BLOCK // max(H * W, 1)), False)
    else:
        # a finite gradient times the 0/1 mask is exact (a loser's -0.0 adds as +0.0 would); where the
        # gradient holds inf or NaN (inf * 0 is NaN) its bits are ANDed with 0 / all ones instead
        finite = _all_finite(xp, grad)

        def block(s, e):
            _max_backward_block(xp, grad[s:e], idx[s:e], g, gx[s:e], finite)
        plan = _general_plan(xp, R, R * H * W)
    _run_blocks(block, R, plan)
    return gx.reshape(shape)


_WINDOW_POSITIONS = {}


def _window_positions(xp, g, R, H, W):
    """(flat position of each window's top-left corner in R planes of H x W, padding counted as
    outside; each kernel offset's distance from it), cached per geometry."""
    key = (g.OH, g.OW, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, H, W, R, xp)
    found = _WINDOW_POSITIONS.get(key)
    if found is None:
        rows = xp.arange(g.OH, dtype=np.intp) * g.sh - g.ph
        cols = xp.arange(g.OW, dtype=np.intp) * g.sw - g.pw
        corner = (rows[:, None] * W + cols) + (xp.arange(R, dtype=np.intp) * (H * W))[:, None, None]
        t = xp.arange(g.kh * g.kw, dtype=np.intp)
        offset = (t // g.kw) * (g.dh * W) + (t % g.kw) * g.dw
        if len(_WINDOW_POSITIONS) >= 16:
            _WINDOW_POSITIONS.clear()
        found = _WINDOW_POSITIONS[key] = (corner, offset)
    return found


def _max_backward_block(xp, grad, idx, g, gx, finite):
    """_max_backward of the planes grad / idx (R, OH, OW) into gx (R, H, W) off NumPy (a pass a kernel
    offset, no scatter).  Strided pools add into contiguous phase planes, copied into their places at
    the end."""
    kk = g.kh * g.kw
    R, H, W = gx.shape
    eq = xp.empty(idx.shape, np.bool_)
    part = xp.empty(idx.shape, grad.dtype)
    if not finite:
        bits = B._SAME_SIZE_INT[grad.dtype.itemsize]
        gb, mask = grad.view(bits), xp.empty(idx.shape, bits)
    phased = g.sw > 1
    planes = {}
    padded = None
    if not phased:   # the offsets' views of the padded gradient, or of gx itself
        padded = xp.zeros((R, g.Hp, g.Wp), gx.dtype) if g.padded else gx
        if not g.padded:
            gx[...] = 0
    for t in range(kk - 1, -1, -1):
        i, j = divmod(t, g.kw)
        if phased:
            r, c = i * g.dh, j * g.dw
            key = (r % g.sh, c % g.sw)
            plane = planes.get(key)
            if plane is None:
                plane = planes[key] = xp.zeros((R, len(range(key[0], g.Hp, g.sh)), len(range(key[1], g.Wp, g.sw))),
                                               gx.dtype)
            target = plane[:, r // g.sh:r // g.sh + g.OH, c // g.sw:c // g.sw + g.OW]
        else:
            target = g.view(padded, i, j)
        # the gradient where this offset won, zero elsewhere
        xp.equal(idx, t, out=eq)
        if finite:
            xp.multiply(grad, eq, out=part)
        else:
            xp.negative(eq.view(np.int8), out=mask, casting="unsafe")
            xp.bitwise_and(gb, mask, out=part.view(bits))
        target += part
    if not phased:
        if padded is not gx:
            gx[...] = g.crop(padded)
        return
    # every input element lies in one phase plane; those of phases no offset reaches get no gradient
    if len(planes) < g.sh * g.sw:
        gx[...] = 0
    for (ra, cb), plane in planes.items():
        k0, k1, y0 = _phase_span(ra, g.sh, g.ph, H)
        l0, l1, x0 = _phase_span(cb, g.sw, g.pw, W)
        gx[:, y0::g.sh, x0::g.sw] = plane[:, k0:k1, l0:l1]


def _self_dot(xp, a):
    """a's flat dot product with itself where a is a float32/64 array (NaN exactly where a holds a
    NaN, inf where it holds an inf or its squares overflow: 0.7 us for pool1's output at batch 4,
    against a pass of isnan and one of any), else None."""
    if a.dtype.itemsize >= 4 and a.dtype.kind == "f":
        flat = a.reshape(-1)
        return xp.dot(flat, flat)
    return None


def _has_nan(xp, a):
    """A NaN in the float array a."""
    s = _self_dot(xp, a)
    return bool(s != s) if s is not None else bool(xp.isnan(a).any())


def _all_finite(xp, a):
    """No inf or NaN in a (false on an overflow too, where the caller's exact path costs only time)."""
    s = _self_dot(xp, a)
    return bool(s - s == 0) if s is not None else bool(xp.isfinite(a).all())


def _flat_indices(xp, idx, g):
    """torch's indices: the flat h * W + w position in the (unpadded) input."""
    kw = g.kw
    i = idx // kw if kw > 1 else idx
    j = idx % kw if kw > 1 else 0
    rows = xp.arange(g.OH, dtype=np.int64)[:, None] * g.sh - g.ph + i.astype(np.int64) * g.dh
    cols = xp.arange(g.OW, dtype=np.int64) * g.sw - g.pw + xp.asarray(j, dtype=np.int64) * g.dw
    return rows * g.W + cols


class MaxPool2DWithIndicesBackward0(Node):
    """Gradient of max_pool2d: the output gradient goes to each window's winner."""

    __slots__ = ("idx", "geom", "shape", "squeeze")
    _saved_fields = ("idx",)
    _double_backward = True   # through _apply_tensors (create_graph=True)
    _zero_edges = "input"     # as torch's: the second derivative reaches the input, as zeros

    def _apply_tensors(self, grad, saved):
        """create_graph=True: linear in grad (the winners are fixed); its derivative picks each
        window's winner out of the incoming tensor."""
        from ..autograd.higher_order import linear_adjoint
        from .norm import pad
        idx, g = self.idx, self.geom
        if g is None:   # 2x2 tiles: idx holds the four winner masks
            def pick(t):
                views = (t[:, :, 0::2, 0::2], t[:, :, 0::2, 1::2], t[:, :, 1::2, 0::2], t[:, :, 1::2, 1::2])
                return sum(v * _wrap(m) for v, m in zip(views, idx[:4]))
            return linear_adjoint(self, grad, pick)
        masks = [_wrap((idx == k).astype(grad._data.dtype)) for k in range(g.kh * g.kw)]

        def pick(t):
            if self.squeeze:
                t = t.unsqueeze(-2)
            tp = pad(t, (g.pw, g.Wp - g.W - g.pw, g.ph, g.Hp - g.H - g.ph)) if g.padded else t
            return sum(g.view(tp, k // g.kw, k % g.kw) * m for k, m in enumerate(masks))
        return linear_adjoint(self, grad, pick)

    def apply(self, grad):
        idx = self.idx
        xp = xp_of(grad)
        if self.geom is None:
            # 2x2 windows tiling the input: four strided stores, every element written once
            gx = xp.empty(self.shape, grad.dtype)

            # idx: the four winner masks (4, N, C, OH, OW), one per window offset (see _tree2x2_masks),
            # and under a relu a fifth plane (see max_pool2d)
            # (ember's float gradients are 2, 4 or 8 bytes wide: each has an integer twin)
            bits = B._SAME_SIZE_INT[grad.dtype.itemsize]
            # a pooled relu output (see max_pool2d): in a plain backward() nothing but the relu
            # sees this gradient, so it goes out already masked by the relu's y > 0 (applied here
            # at a quarter of the size, idx's fifth plane) and the relu node passes it on as it is
            task = state.task   # (None where the node is called outside a backward pass)
            relu = self.next_functions[0][0] if len(idx) == 5 and task is not None and task.lean else None

            def block(s, e):
                # the gradient's bits ANDed with the mask as 0 / -1 (all ones): a loser gets +0.0,
                # as torch's, in one pass (a multiply gives -0.0 under a negative gradient and needed
                # a second pass adding 0.0; pool1 at batch 32: 105-112 -> 88-92 us)
                m = xp.negative(idx[:, s:e].view(np.int8))
                g, x = grad[s:e].view(bits), gx[s:e].view(bits)
                if relu is not None:
                    g = xp.bitwise_and(g, m[4])
                xp.bitwise_and(g, m[0], out=x[:, :, 0::2, 0::2])
                xp.bitwise_and(g, m[1], out=x[:, :, 0::2, 1::2])
                xp.bitwise_and(g, m[2], out=x[:, :, 1::2, 0::2])
                xp.bitwise_and(g, m[3], out=x[:, :, 1::2, 1::2])

            N = gx.shape[0]
            _run_blocks(block, N, _pool_plan(N, gx.size, xp))
            if relu is not None:
                relu.premasked = gx
            return (gx,)
        # 1-d pooling: the SqueezeBackward1 above already restored the unit H axis
        gx = _max_backward(xp, grad, self.idx, self.geom, self.shape, grad.dtype)
        if self.squeeze:
            gx = gx[..., 0, :]
        return (gx,)


# nodes whose saved arrays don't alias the input still need a non-empty version list, so the
# engine refuses a second backward after the arrays were freed (a host sentinel, made once)
_OUT_ONLY = ((_wrap(np.zeros(0)), 0),)


def _saved_marker():
    return _OUT_ONLY


def _record_pooled(out, node, squeeze):
    """Wrap a pooling result; 1-d pooling runs as 2-d, so its node sits under a SqueezeBackward1."""
    if node is not None and squeeze:
        sq = SqueezeBackward1.__new__(SqueezeBackward1)
        sq.next_functions = ((node, 0),)
        sq._saved_versions = ()
        sq.dim = -2
        node = sq
    t = _wrap(out)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    a = _check_input(input, op, nd)
    # torch's 1-d kernel takes floats only, the 2-d one also integers
    if nd == 1:
        kernel_for(a.dtype, "max_pool1d_impl", "f")
    else:
        kernel_for(a.dtype, "max_pool2d", "fiu")
    if nd == 1:
        a = a[..., None, :]
        kernel_size = (1, _single(kernel_size, "kernel_size", op))
        stride = None if stride is None or stride == () else (1, _single(stride, "stride", op))
        padding = (0, _single(padding, "padding", op))
        dilation = (1, _single(dilation, "dilation", op))
    kh, kw, sh, sw, ph, pw, dh, dw, OH, OW = _geometry(op, a, kernel_size, stride, padding, dilation,
                                                        ceil_mode, True)
    g = _PoolGeom(a.shape[-2], a.shape[-1], kh, kw, sh, sw, ph, pw, dh, dw, OH, OW)
    xp = xp_of(a)
    need = state.enabled and input._requires_grad
    out, idx = _max_forward(xp, a, g, need or return_indices)
    indices = None
    if return_indices:
        if a.dtype.kind in "fV" and g.kh == 2 and g.kw == 2 and _has_nan(xp, out):
            _exact_nan_winners(xp, g.pad(xp, a, _lowest(a.dtype)), g, idx)
        indices = _flat_indices(xp, idx, g)
    if nd == 1:
        out = out[..., 0, :]
        if indices is not None:
            indices = indices[..., 0, :]
    node = None
    if need:
        node = MaxPool2DWithIndicesBackward0.__new__(MaxPool2DWithIndicesBackward0)
        node.next_functions = (edge(input),)
        node._saved_versions = _saved_marker()
        node.idx = idx
        node.geom = g
        node.shape = a.shape
        node.squeeze = nd == 1
    t = _record_pooled(out, node, nd == 1)
    if return_indices:
        return t, _wrap(indices)
    return t


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-d max pooling over (N, C, H, W) or (C, H, W) input, as torch.nn.functional.max_pool2d."""
    # the tutorial's case (2x2 windows tiling an even-sized input) skips the general machinery
    if ((kernel_size == 2 or kernel_size == (2, 2)) and (stride is None or stride == 2 or stride == (2, 2))
            and padding == 0 and dilation == 1 and not return_indices and type(input) is Tensor):
        a = input._data
        if a.ndim == 4 and a.size and not (a.shape[2] & 1 or a.shape[3] & 1) and a.dtype.kind != "b":
            need = state.enabled and input._requires_grad
            xp = xp_of(a)
            N, C, H, W = a.shape
            out = xp.empty((N, C, H // 2, W // 2), a.dtype)
            # backward's winner masks, one per window offset: the same 11 ufunc calls as the uint8
            # winner index, all into preallocated outputs, and backward multiplies by them
            # directly instead of comparing the index four times (pool1 at batch 4: 15.8 -> 13.3 us)
            # pooling a relu's output (the spec's pool(relu(conv(x)))): a fifth plane keeps out > 0,
            # the relu's mask at each window's winner, so that a plain backward() hands the relu an
            # already masked gradient and skips its pass over the full-size activation
            fn = input.grad_fn
            premask = need and fn.__class__ is ReluBackward0 and fn.y is a and xp is np
            idx = xp.empty((5 if premask else 4,) + out.shape, np.bool_) if need else None

            OH, OW = H // 2, W // 2
            deint = idx is not None and a.flags.c_contiguous

            floats = a.dtype.kind in "fV"
            # typed: against a Python 0 NumPy converts the scalar on each call (0.84 us, not 0.68, at pool2's
            # batch-4 size)
            zero = a.dtype.type(0) if premask else None

            def block(s, e):
                if idx is None:
                    x = a[s:e]
                    _tree2x2(xp, x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2],
                             False, out[s:e])
                    return
                if deint:
                    # one copy splits the four window offsets into contiguous planes, then the
                    # 11 ufunc calls of _tree2x2_masks run on contiguous operands instead of
                    # stride-2 views (pool1 at batch 4: 19.3 -> 12.1 us, pool2 12.9 -> 8.5 us)
                    it = a.itemsize
                    Q = _block(xp, "pool4", 4, (e - s) * C * OH * OW, a.dtype)
                    xp.copyto(Q.reshape(2, 2, e - s, C, OH, OW),
                              _strided(a, (2, 2, e - s, C, OH, OW),
                                       (W * it, it, C * H * W * it, H * W * it, 2 * W * it, 2 * it), s * C * H * W * it))
                    v = Q.reshape(4, e - s, C, OH, OW)
                else:
                    x = a[s:e]
                    v = (x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2], x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2])
                o, masks = out[s:e], idx[:, s:e]
                _tree2x2_masks(xp, v[0], v[1], v[2], v[3], o, masks)
                if floats and _has_nan(xp, o):
                    _last_nan_wins(xp, v, masks)
                if premask:
                    # torch's relu passes the gradient where its output is not <= 0: not +-0.0
                    xp.not_equal(o, zero, out=masks[4])

            # a large batch is split between threads (see conv._run_blocks)
            _run_blocks(block, N, _pool_plan(N, a.size, xp))
            t = _wrap(out)
            if need:
                node = MaxPool2DWithIndicesBackward0.__new__(MaxPool2DWithIndicesBackward0)
                node.next_functions = (edge(input),)
                node._saved_versions = _saved_marker()
                node.idx = idx
                node.geom = None   # 2x2 tiles: see apply
                node.shape = a.shape
                node.squeeze = False
                t._requires_grad = True
                t.grad_fn = node
            return t if a.flags.c_contiguous else _mf.settle(t, a, "suggest")
    out = _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    return out if input._data.flags.c_contiguous else _mf.settle(out, input._data, "suggest")


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-d max pooling over (N, C, L) or (C, L) input, as torch.nn.functional.max_pool1d."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """max_pool2d returning (output, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """max_pool1d returning (output, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---- average pooling --------------------------------------------------------------------------
def _avg_divisor(xp, g, count_include_pad, divisor_override, dtype):
    """The (OH, OW) divisor of each window, as torch's avg_pool2d computes it."""
    if divisor_override is not None:
        return None
    hs = xp.arange(g.OH) * g.sh - g.ph
    ws = xp.arange(g.OW) * g.sw - g.pw
    he = xp.minimum(hs + g.kh, g.H + g.ph)
    we = xp.minimum(ws + g.kw, g.W + g.pw)
    if count_include_pad:
        dh_, dw_ = he - hs, we - ws
    else:
        dh_ = xp.minimum(he, g.H) - xp.maximum(hs, 0)
        dw_ = xp.minimum(we, g.W) - xp.maximum(ws, 0)
    return (dh_[:, None] * dw_[None, :]).astype(dtype)


class AvgPool2DBackward0(Node):
    """Gradient of avg_pool2d: each window's share of the output gradient."""

    __slots__ = ("geom", "shape", "div", "squeeze")
    _double_backward = True   # through _apply_tensors (create_graph=True)
    _zero_edges = "input"     # as torch's: the second derivative reaches the input, as zeros

    def _apply_tensors(self, grad, saved):
        """create_graph=True: this backward is linear in grad; its own derivative is the pooling."""
        from ..autograd.higher_order import linear_adjoint
        from .norm import pad
        g = self.geom

        def pool(t):
            if self.squeeze:
                t = t.unsqueeze(-2)
            tp = pad(t, (g.pw, g.Wp - g.W - g.pw, g.ph, g.Hp - g.H - g.ph)) if g.padded else t
            total = sum(g.view(tp, i, j) for i in range(g.kh) for j in range(g.kw))
            out = total / _wrap(self.div)
            return out.squeeze(-2) if self.squeeze else out
        return linear_adjoint(self, grad, pool)

    def apply(self, grad):
        g = self.geom
        gs = grad / self.div   # (torch divides each share, by divisor_override too)
        if gs.dtype != grad.dtype:
            gs = gs.astype(grad.dtype)
        if g.tiles:
            # every input element lies in exactly one window: each share repeated over its window
            # (two np.repeat calls: a third of a broadcast-and-reshape copy's time)
            gx = gs.repeat(g.kw, axis=-1).repeat(g.kh, axis=-2)
        else:
            gx = xp_of(grad).zeros(grad.shape[:-2] + (g.Hp, g.Wp), grad.dtype)
            # offsets in reverse: an element shared by windows gets their shares in the windows'
            # order, as torch's backward adds them
            for i in reversed(range(g.kh)):
                for j in reversed(range(g.kw)):
                    v = g.view(gx, i, j)
                    v += gs
            gx = g.crop(gx)
        if self.squeeze:
            gx = gx[..., 0, :]
        return (gx,)


_SUM_IN_ORDER = (np.dtype(np.float32), np.dtype(np.float64))


def _window_sum(g, xpad):
    """Each window's sum as torch's kernel adds it, from 0 through the window's rows in order: the
    kernel offsets' strided views added one after another (a reduction over a 6-d strided view of
    the windows costs ~13x more, and adds in another order)."""
    offsets = [(i, j) for i in range(g.kh) for j in range(g.kw)]
    total = g.view(xpad, *offsets[0]) + 0.0   # (torch's sum starts at +0.0: a window of -0.0 sums to +0.0)
    for i, j in offsets[1:]:
        total += g.view(xpad, i, j)
    return total


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    a = _check_input(input, op, nd)
    kernel_for(a.dtype, "avg_pool2d", "fi")   # (not uint8 either)
    bf16 = a.dtype.kind == "V"
    if bf16:   # in float32, rounded once, as torch's kernel
        a = a.astype(np.float32)
    if nd == 1:
        a = a[..., None, :]
        kernel_size = (1, _single(kernel_size, "kernel_size", op))
        stride = None if stride is None or stride == () else (1, _single(stride, "stride", op))
        padding = (0, _single(padding, "padding", op))
    kh, kw, sh, sw, ph, pw, _, _, OH, OW = _geometry(op, a, kernel_size, stride, padding, 1, ceil_mode, False)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    g = _PoolGeom(a.shape[-2], a.shape[-1], kh, kw, sh, sw, ph, pw, 1, 1, OH, OW)
    fdt = a.dtype if a.dtype.kind == "f" else np.float64
    xp = xp_of(a)
    xpad = g.pad(xp, a, 0)
    if a.dtype in _SUM_IN_ORDER:
        total = _window_sum(g, xpad)
    else:
        st = xpad.strides
        # all windows as one strided view, summed over the two kernel axes in a single call
        win = _strided(xpad, xpad.shape[:-2] + (OH, OW, kh, kw),
                       st[:-2] + (st[-2] * sh, st[-1] * sw, st[-2], st[-1])) if xpad.flags.c_contiguous else None
        if win is None:
            total = sum(g.view(xpad, i, j) for i in range(kh) for j in range(kw))
        else:
            total = win.sum(axis=(-2, -1), dtype=xpad.dtype if a.dtype.kind == "f" else np.int64)
    div = _avg_divisor(xp, g, count_include_pad, divisor_override, fdt)
    if a.dtype.kind == "f":
        if div is None:
            out = total / xp.asarray(divisor_override, dtype=a.dtype)
        else:
            out = total / div
        out = out.astype(a.dtype, copy=False)
    else:
        # integer inputs: torch divides and truncates toward zero
        d = divisor_override if div is None else div
        out = xp.trunc(total / d).astype(a.dtype)
    if nd == 1:
        out = out[..., 0, :]
    node = None
    if state.enabled and input._requires_grad:
        node = AvgPool2DBackward0.__new__(AvgPool2DBackward0)
        node.next_functions = (edge(input),)
        node._saved_versions = ()
        node.geom = g
        node.shape = a.shape
        node.div = div if div is not None else xp.asarray(divisor_override, dtype=a.dtype)
        node.squeeze = nd == 1
        # (bfloat16: its apply runs on the bfloat16 gradient as torch's kernel does, each share rounded and
        # each addition of a share to an input shared by windows rounding)
    t = _record_pooled(B.bf16_round(out) if bf16 else out, node, nd == 1)
    return t


@_mf.settles("suggest")
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-d average pooling, as torch.nn.functional.avg_pool2d."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-d average pooling, as torch.nn.functional.avg_pool1d."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


# ---- adaptive pooling -------------------------------------------------------------------------
def _adaptive_size(output_size, in_size, nd, op):
    if nd == 1:
        o = output_size[0] if isinstance(output_size, (tuple, list)) else output_size
        return (int(o),)
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise RuntimeError(f"{op}: output_size must be 2")
        return tuple(in_size[i] if o is None else int(o) for i, o in enumerate(output_size))
    return int(output_size), int(output_size)


def _bins(n_in, n_out):
    """Start and end (exclusive) of each adaptive bin, as lists of Python ints."""
    start = [(i * n_in) // n_out for i in range(n_out)]
    end = [-((-(i + 1) * n_in) // n_out) for i in range(n_out)]   # ceil
    return start, end


def _avg_matrix(xp, n_in, n_out, dtype):
    """The (n_out, n_in) matrix averaging each adaptive bin."""
    start, end = _bins(n_in, n_out)
    start, end = xp.asarray(start)[:, None], xp.asarray(end)[:, None]
    cols = xp.arange(n_in)
    m = (cols >= start) & (cols < end)
    return (m / (end - start)).astype(dtype)


def _nonempty_grad(grad, op):
    """torch's adaptive pooling backward refuses an empty output (pooled to a size of 0)."""
    for i in range(1, grad.ndim):
        if grad.shape[i] == 0:
            raise RuntimeError(f"{op}_backward(): Expected grad_output to have non-zero size for non-batch "
                               f"dimensions, but grad_output has sizes {list(grad.shape)} with dimension {i} being "
                               "empty (the forward pooled to a size of 0: its output has nothing to differentiate)")


class AdaptiveAvgPool2DBackward0(Node):
    """Gradient of adaptive_avg_pool2d: the transposed averaging matrices, or, where the bins tile the
    input exactly (kh, kw set), each bin's gradient spread over it: the matrices' values without
    building them (16,000 samples pooled to 8,000 made 1.6 GB of them and took 4.4 s)."""

    __slots__ = ("ah", "aw", "squeeze", "kh", "kw", "shape")
    _double_backward = True   # through _apply_tensors (create_graph=True)
    _zero_edges = "input"     # as torch's: the second derivative reaches the input, as zeros

    def _matrices(self, xp, dtype):
        """The averaging matrices (built on demand where the bins tile the input)."""
        if self.ah is None:
            H, W = self.shape[-2:]
            self.ah = _avg_matrix(xp, H, H // self.kh, dtype)
            self.aw = _avg_matrix(xp, W, W // self.kw, dtype)
        return self.ah, self.aw

    def _apply_tensors(self, grad, saved):
        """create_graph=True: linear in grad; its derivative is the averaging itself."""
        from ..autograd.higher_order import linear_adjoint
        ah, aw = self._matrices(xp_of(grad._data), grad._data.dtype)

        def pool(t):
            t = t.unsqueeze(-2) if self.squeeze else t
            out = _wrap(ah) @ t @ _wrap(aw.T)
            return out.squeeze(-2) if self.squeeze else out
        return linear_adjoint(self, grad, pool)

    def apply(self, grad):
        xp = xp_of(grad)
        if not grad.size:
            _nonempty_grad(grad, "adaptive_avg_pool2d")
        if self.ah is None:
            # what the matrices give: grad * (1 / kh), then * (1 / kw), on every element of the bin
            t = grad * grad.dtype.type(1 / self.kh)
            t *= grad.dtype.type(1 / self.kw)
            lead = self.shape[:-2]
            H, W = self.shape[-2:]
            gx = xp.broadcast_to(t[..., :, None, :, None], lead + (H // self.kh, self.kh, W // self.kw, self.kw))
            gx = gx.reshape(lead + (H, W))
        else:
            gx = xp.matmul(xp.matmul(self.ah.T, grad), self.aw)
        if self.squeeze:
            gx = gx[..., 0, :]
        return (gx,)


def _bf16_adaptive_avg(xp, x, a, OH, OW):
    """adaptive average pooling of a bfloat16 array a (..., H, W) as torch's kernel: each bin's float32 sum
    divided by kh then kw (by kh * kw over the vectors of 32 channels of a channels_last input x),
    rounded once."""
    H, W = a.shape[-2:]
    (hs, he), (ws, we) = _bins(H, OH), _bins(W, OW)
    ones = lambda st, en, n: ((xp.arange(n) >= xp.asarray(st)[:, None]) & (xp.arange(n) < xp.asarray(en)[:, None]))
    f32 = np.float32
    sums = xp.matmul(xp.matmul(ones(hs, he, H).astype(f32), a.astype(f32)), ones(ws, we, W).astype(f32).T)
    kh = xp.asarray([e - s for s, e in zip(hs, he)], f32)[:, None]
    kw = xp.asarray([e - s for s, e in zip(ws, we)], f32)
    out = sums / kh / kw
    if x is not None and x.ndim == 4 and _mf._suggest(x) is _mf.channels_last:
        c = x.shape[1] - x.shape[1] % 32
        out[:, :c] = sums[:, :c] / (kh * kw)
    return B.bf16_round(out)


class _AdaptiveAvgPoolBf16Backward(AdaptiveAvgPool2DBackward0):
    """A bfloat16 input's: torch's kernel, each bin's share g / kh / kw divided twice in bfloat16 (once by
    kh * kw over the vectors of a channels_last gradient, twice in their tail), added bin by bin in order
    into an input shared by bins, each addition rounding."""
    __slots__ = ()
    _double_backward = False

    def apply(self, grad):
        xp = xp_of(grad)
        if not grad.size:
            _nonempty_grad(grad, "adaptive_avg_pool2d")
        r, f32 = B.bf16_through, np.float32
        g = grad.astype(f32)   # ((N, C, 1, OW) for adaptive_avg_pool1d: squeezed below)
        H, W = self.shape[-2:]
        OH, OW = g.shape[-2:]
        hs, ws = _bins(H, OH), _bins(W, OW)
        twice = xp.ones(g.shape, bool)
        if g.ndim == 4 and _mf._suggest(grad) is _mf.channels_last:
            c = g.shape[1]
            twice[:, :c - c % 32] = False   # (torch's vectors of 32 channels divide once)
        gx = xp.zeros(g.shape[:-2] + (H, W), f32)
        for oh in range(OH):
            h0, h1 = int(hs[0][oh]), int(hs[1][oh])
            for ow in range(OW):
                w0, w1 = int(ws[0][ow]), int(ws[1][ow])
                go = g[..., oh, ow]
                delta = B.where(xp, twice[..., oh, ow], r(r(go / f32(h1 - h0)) / f32(w1 - w0)),
                                r(go / r(f32((h1 - h0) * (w1 - w0)))))
                gx[..., h0:h1, w0:w1] = r(gx[..., h0:h1, w0:w1] + delta[..., None, None])
        if self.squeeze:
            gx = gx[..., 0, :]
        return (B.bf16_round(gx),)


_AdaptiveAvgPoolBf16Backward.__name__ = _AdaptiveAvgPoolBf16Backward.__qualname__ = "AdaptiveAvgPool2DBackward0"


class MeanBackward1(Node):
    """Gradient of a mean over the last two dims (adaptive_avg_pool2d to 1x1)."""

    __slots__ = ("shape",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, grad):
        n = self.shape[-1] * self.shape[-2]
        xp = xp_of(grad)
        if grad.dtype.kind == "V":   # bfloat16: torch divides by the count as a float32 number, rounding once
            return (xp.broadcast_to(B.bf16_round(grad.astype(np.float32) / np.float32(n)), self.shape),)
        return (xp.broadcast_to(grad / xp.asarray(n, dtype=grad.dtype), self.shape),)


def _adaptive_avg(op, nd, input, output_size):
    a = _check_input(input, op, nd)
    if a.dtype.kind not in "fcV":   # torch's kernel is a mean
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {B.SCALAR_NAMES[B.dtype_of(a)]}")
    if nd == 1:
        a = a[..., None, :]
    H, W = a.shape[-2], a.shape[-1]
    if nd == 1:
        OH, OW = 1, _adaptive_size(output_size, (W,), 1, op)[0]
    else:
        OH, OW = _adaptive_size(output_size, (H, W), 2, op)
    if OH < 0 or OW < 0:
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 but got "
                           f"{[OH, OW] if nd == 2 else [OW]}")
    dt = a.dtype if a.dtype.kind == "f" else np.float32 if a.dtype.kind == "V" else np.float64
    node = None
    need = state.enabled and input._requires_grad
    if nd == 2 and OH == 1 and OW == 1:
        out = a.mean(axis=(-2, -1), keepdims=True, dtype=dt).astype(a.dtype, copy=False)
        if need:
            node = MeanBackward1.__new__(MeanBackward1)
            node.next_functions = (edge(input),)
            node._saved_versions = ()
            node.shape = a.shape
    else:
        xp = xp_of(a)
        ah = aw = kh = kw = None
        if a.dtype.kind == "V":
            out = _bf16_adaptive_avg(xp, input._data if nd == 2 else None, a, OH, OW)
        elif H % max(OH, 1) == 0 and W % max(OW, 1) == 0 and OH and OW:
            kh, kw = H // OH, W // OW
            out = a.reshape(a.shape[:-2] + (OH, kh, OW, kw)).mean(axis=(-3, -1), dtype=dt)
        else:
            ah = _avg_matrix(xp, H, OH, dt)
            aw = _avg_matrix(xp, W, OW, dt)
            out = xp.matmul(xp.matmul(ah, a.astype(dt, copy=False)), aw.T)
        out = out.astype(a.dtype, copy=False)
        if need:
            cls = AdaptiveAvgPool2DBackward0 if a.dtype.kind != "V" else _AdaptiveAvgPoolBf16Backward
            node = cls.__new__(cls)
            node.next_functions = (edge(input),)
            node._saved_versions = ()
            node.ah, node.aw, node.kh, node.kw, node.shape = ah, aw, kh, kw, a.shape
            node.squeeze = nd == 1
    if nd == 1:
        out = out[..., 0, :]
    t = _record_pooled(out, node, nd == 1)
    return t


def adaptive_avg_pool2d(input, output_size):
    """2-d adaptive average pooling to output_size, as torch.nn.functional.adaptive_avg_pool2d."""
    out = _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)
    return out if input._data.flags.c_contiguous else _mf.settle(out, input._data, "suggest")


def adaptive_avg_pool1d(input, output_size):
    """1-d adaptive average pooling, as torch.nn.functional.adaptive_avg_pool1d."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


class AdaptiveMaxPool2DBackward0(Node):
    """Gradient of adaptive_max_pool2d: scatter to the recorded flat indices."""

    __slots__ = ("indices", "shape", "squeeze")
    _saved_fields = ("indices",)
    _double_backward = True   # through _apply_tensors (create_graph=True)
    _zero_edges = "input"     # as torch's: the second derivative reaches the input, as zeros

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the scatter is linear in grad; its transpose gathers at the indices."""
        from ..autograd.higher_order import linear_pair
        shape, ind = self.shape, self.indices
        planes = math.prod(shape[:-2])

        def gather(a):
            if self.squeeze:
                a = a[..., None, :]
            picked = xp_of(a).take_along_axis(a.reshape(planes, math.prod(a.shape[-2:])),
                                              ind.reshape(planes, math.prod(ind.shape[-2:])), 1)
            return picked.reshape(ind.shape)
        return linear_pair(self, grad, gather)

    def apply(self, grad):
        if not grad.size:
            _nonempty_grad(grad, "adaptive_max_pool2d")
        return (_scatter_flat(grad, self.indices, self.shape, self.squeeze),)


def _scatter_flat(grad, indices, shape, squeeze):
    """Sum grad into a zero array of shape at the flat per-plane indices (bins may overlap)."""
    H, W = shape[-2], shape[-1]
    xp = xp_of(grad)
    planes = math.prod(shape[:-2])
    # (explicit sizes: -1 can't be inferred for an empty batch)
    ind = indices.reshape(planes, math.prod(indices.shape[-2:]))
    ind = ind + (xp.arange(planes, dtype=np.int64) * (H * W))[:, None]
    gx = xp.bincount(ind.ravel(), weights=grad.reshape(-1), minlength=planes * H * W)
    gx = gx.astype(grad.dtype, copy=False).reshape(shape)
    if squeeze:
        gx = gx[..., 0, :]
    return gx


def _adaptive_max(op, nd, input, output_size, return_indices):
    a = _check_input(input, op, nd)
    kernel_for(a.dtype, "adaptive_max_pool2d", "f")
    if nd == 1:
        a = a[..., None, :]
    H, W = a.shape[-2], a.shape[-1]
    if nd == 1:
        OH, OW = 1, _adaptive_size(output_size, (W,), 1, op)[0]
    else:
        OH, OW = _adaptive_size(output_size, (H, W), 2, op)
    if OH < 0 or OW < 0:
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 but got "
                           f"{[OH, OW] if nd == 2 else [OW]}")
    lead = a.shape[:-2]
    isfloat = a.dtype.kind in "fV"
    xp = xp_of(a)
    kh, kw = H // max(OH, 1), W // max(OW, 1)
    if not OH or not OW:   # pooled to nothing (torch's backward then refuses)
        out, ind = xp.empty(lead + (OH, OW), a.dtype), xp.empty(lead + (OH, OW), np.int64)
    elif kh * OH == H and kw * OW == W:
        out, ind = _equal_windows_max(xp, a, OH, OW, kh, kw, isfloat)
    else:
        out, ind = _binned_max(xp, a, OH, OW, isfloat)
    if nd == 1:
        out = out[..., 0, :]
        ind_ret = ind[..., 0, :]
    else:
        ind_ret = ind
    node = None
    if state.enabled and input._requires_grad:
        node = AdaptiveMaxPool2DBackward0.__new__(AdaptiveMaxPool2DBackward0)
        node.next_functions = (edge(input),)
        node._saved_versions = _saved_marker()
        node.indices = ind
        node.shape = a.shape
        node.squeeze = nd == 1
    t = _record_pooled(out, node, nd == 1)
    if return_indices:
        return t, _wrap(ind_ret)
    return t


def _equal_windows_max(xp, a, OH, OW, kh, kw, isfloat):
    """(values, flat indices) of the max over a's (kh, kw) windows tiling it exactly: each window's
    elements in one row, then one argmax a row (first max, torch's NaN rule), against the binned
    scan's argmax over 8-element slices ((4, 64, 56, 56) -> 7: 6.0 -> 1.6 ms; torch 1.3)."""
    lead = a.shape[:-2]
    win = a.reshape(lead + (OH, kh, OW, kw)).swapaxes(-3, -2)
    win = xp.ascontiguousarray(win).reshape(lead + (OH, OW, kh * kw))
    k = _nan_first_argmax(xp, win, isfloat)
    out = xp.take_along_axis(win, k[..., None], -1)[..., 0]
    rows = xp.arange(OH).reshape(OH, 1) * kh + k // kw
    ind = rows * a.shape[-1] + (xp.arange(OW) * kw + k % kw)
    return out, ind.astype(np.int64, copy=False)


def _binned_max(xp, a, OH, OW, isfloat):
    """(values, flat indices) of the max over adaptive pooling's bins of a's last two axes."""
    H, W = a.shape[-2], a.shape[-1]
    hs, he = _bins(H, OH)
    ws, we = _bins(W, OW)
    lead = a.shape[:-2]
    # columns first (value and column of the max per row and column bin), then rows
    colmax = xp.empty(lead + (H, OW), a.dtype)
    colarg = xp.empty(lead + (H, OW), np.int64)
    for j in range(OW):
        seg = a[..., ws[j]:we[j]]
        k = _nan_first_argmax(xp, seg, isfloat)
        colarg[..., j] = k + ws[j]
        colmax[..., j] = xp.take_along_axis(seg, k[..., None], -1)[..., 0]
    out = xp.empty(lead + (OH, OW), a.dtype)
    ind = xp.empty(lead + (OH, OW), np.int64)
    for i in range(OH):
        seg = colmax[..., hs[i]:he[i], :]
        k = _nan_first_argmax(xp, seg.swapaxes(-1, -2), isfloat)   # (..., OW)
        out[..., i, :] = xp.take_along_axis(seg, k[..., None, :], -2)[..., 0, :]
        rows = k + hs[i]
        ind[..., i, :] = rows * W + xp.take_along_axis(colarg, rows[..., None, :], -2)[..., 0, :]
    return out, ind


def _nan_first_argmax(xp, seg, isfloat):
    """argmax over the last axis; torch's rule for NaN (the last NaN wins) when NaNs occur."""
    k = seg.argmax(axis=-1)
    if isfloat:
        nan = xp.isnan(seg)
        if nan.any():
            last = seg.shape[-1] - 1 - nan[..., ::-1].argmax(axis=-1)
            k = B.where(xp, nan.any(axis=-1), last, k)
    return k


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """2-d adaptive max pooling, as torch.nn.functional.adaptive_max_pool2d."""
    out = _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)
    return out if input._data.flags.c_contiguous else _mf.settle(out, input._data, "suggest")


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """1-d adaptive max pooling, as torch.nn.functional.adaptive_max_pool1d."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool2d returning (output, indices)."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool1d returning (output, indices)."""
    return adaptive_max_pool1d(input, output_size, True)


# ---- max unpooling ------------------------------------------------------------------------------
class MaxUnpool2DBackward0(Node):
    """Gradient of max_unpool2d: gather at the indices."""

    __slots__ = ("indices", "squeeze")
    _saved_fields = ("indices",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the gather is linear in grad; its transpose is the unpooling itself."""
        from ..autograd.higher_order import linear_pair
        ind, shape = self.indices, grad.shape

        def unpool(b):
            xp = xp_of(b)
            lead = ind.shape[:-2]
            z = xp.zeros(lead + (math.prod(shape[len(lead):]),), b.dtype)
            xp.put_along_axis(z, ind.reshape(lead + (-1,)).astype(np.int64, copy=False), b.reshape(lead + (-1,)), -1)
            return z.reshape(shape)
        return linear_pair(self, grad, unpool)

    def apply(self, grad):
        if self.squeeze:
            grad = grad[..., None, :]
        ind = self.indices
        lead = grad.shape[:-2]
        flat = grad.reshape(lead + (-1,))
        g = xp_of(grad).take_along_axis(flat, ind.reshape(lead + (-1,)), -1).reshape(ind.shape)
        if self.squeeze:
            g = g[..., 0, :]
        return (g,)


def _max_unpool(op, nd, input, indices, kernel_size, stride, padding, output_size):
    a = _check_input(input, op, nd)
    if not isinstance(indices, Tensor):
        raise TypeError(f"{op}(): argument 'indices' must be Tensor, not {type(indices).__name__}")
    ind = indices._data
    if ind.shape != a.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(a.shape)}) "
                           f"but got indices tensor with shape: {list(ind.shape)}")
    if ind.dtype.kind not in "iu":
        raise RuntimeError(f"elements in indices should be type int64 but got: {ind.dtype}")
    if nd == 1:
        a = a[..., None, :]
        ind = ind[..., None, :]
        kh, kw = 1, _single(kernel_size, "kernel_size", op)
        sh, sw = 1, _single(kw if stride is None else stride, "stride", op)
        ph, pw = 0, _single(padding, "padding", op)
    else:
        kh, kw = _pair(kernel_size, "kernel_size", op)
        sh, sw = (kh, kw) if stride is None else _pair(stride, "stride", op)
        ph, pw = _pair(padding, "padding", op)
    H, W = a.shape[-2], a.shape[-1]
    if output_size is None:
        OH = (H - 1) * sh - 2 * ph + kh
        OW = (W - 1) * sw - 2 * pw + kw
    else:
        # torch's _unpool_output_size: (spatial) or (N, C, spatial), each within a stride of the default
        size = tuple(int(s) for s in output_size)
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ValueError(f"{op}: output_size should be a sequence containing {nd} or {nd + 2} elements, but "
                             f"it has a length of '{len(size)}'")
        dw_ = (W - 1) * sw - 2 * pw + kw
        default = (dw_,) if nd == 1 else ((H - 1) * sh - 2 * ph + kh, dw_)
        strides = (sw,) if nd == 1 else (sh, sw)
        for d in range(nd):
            lo, hi = default[d] - strides[d], default[d] + strides[d]
            if not lo < size[d] < hi:
                raise ValueError(f'{op}: invalid output_size "{output_size}" (dim {d} must be between {lo} and '
                                 f'{hi}); the default for this input is {list(default)}')
        OH, OW = (1, size[0]) if nd == 1 else size
    lead = a.shape[:-2]
    xp = xp_of(a)
    flat = ind.reshape(lead + (-1,)).astype(np.int64, copy=False)
    if flat.size and (flat.min() < 0 or flat.max() >= OH * OW):
        bad = int(flat.max() if flat.max() >= OH * OW else flat.min())
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size {OH}x{OW}")
    out = xp.zeros(lead + (OH * OW,), a.dtype)
    xp.put_along_axis(out, flat, a.reshape(lead + (-1,)), -1)
    out = out.reshape(lead + (OH, OW))
    if nd == 1:
        out = out[..., 0, :]
    node = None
    if state.enabled and input._requires_grad:
        node = MaxUnpool2DBackward0.__new__(MaxUnpool2DBackward0)
        node.next_functions = (edge(input),)
        node._saved_versions = _saved_marker()
        node.indices = ind
        node.squeeze = nd == 1
    t = _wrap(out)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool2d: put values back at their indices, zeros elsewhere."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool1d."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


# ---- power-average pooling -------------------------------------------------------------------
def _lp_pool(nd, avg, maxp, input, norm_type, kernel_size, stride, ceil_mode):
    """torch's composite: (sum over the window of x^p)^(1/p), as k * avg_pool(x^p) (a window
    whose sum is zero gets a zero gradient through the relu); +-inf norms are max pools of |x|."""
    if norm_type == float("inf"):
        return maxp(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -float("inf"):
        return -maxp(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    k = (kernel_size,) * nd if isinstance(kernel_size, int) else tuple(kernel_size)
    out = avg(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(math.prod(k)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """1-d power-average pooling, as torch.nn.functional.lp_pool1d."""
    return _lp_pool(1, avg_pool1d, max_pool1d, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2-d power-average pooling, as torch.nn.functional.lp_pool2d."""
    return _lp_pool(2, avg_pool2d, max_pool2d, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """3-d power-average pooling, as torch.nn.functional.lp_pool3d."""
    from .conv3d import avg_pool3d, max_pool3d
    return _lp_pool(3, avg_pool3d, max_pool3d, input, norm_type, kernel_size, stride, ceil_mode)


def _top_max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """torch.max_pool1d_with_indices: (output, indices); an empty stride means the kernel size, as torch."""
    return max_pool1d_with_indices(input, kernel_size, stride or None, padding, dilation, ceil_mode)


# pickles as ember.max_pool1d_with_indices
_top_max_pool1d_with_indices.__name__ = _top_max_pool1d_with_indices.__qualname__ = "max_pool1d_with_indices"
__all__ += ["max_pool1d_with_indices"]
__top_level__ = {"max_pool1d_with_indices": _top_max_pool1d_with_indices}


# ---- fractional_max_pool2d ---------------------------------------------------------------------------------
def _fractional_starts(sample, in_size, out_size, pool, f):
    """torch's generate_intervals: window starts from one uniform sample, in the input's scalar type f."""
    seq = [0] * out_size
    if out_size > 1:
        alpha = f(in_size - pool) / f(out_size - 1)
        for i in range(out_size - 1):
            seq[i] = int(f((f(i) + sample) * alpha)) - int(f(sample * alpha))
    if out_size > 0:
        seq[out_size - 1] = in_size - pool
    return seq


class FractionalMaxPool2DBackward0(Node):
    __slots__ = ("idx", "shape")
    _saved_fields = ("idx",)

    def apply(self, grad):
        xp = xp_of(grad)
        n, c, h, w = self.shape
        out = xp.zeros((n * c, h * w), dtype=grad.dtype)
        rows = xp.arange(n * c)[:, None]
        xp.add.at(out, (rows, self.idx.reshape(n * c, -1)), grad.reshape(n * c, -1))
        return (out.reshape(self.shape),)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Max pooling over pseudo-random, overlapping windows that shrink (N, C, H, W) to output_size (or
    output_ratio of it); the windows come from _random_samples, by default ember.rand(N, C, 2) as torch."""
    from .creation import rand
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    a = input._data
    if a.ndim not in (3, 4):
        raise RuntimeError(f"fractional_max_pool2d(): Expected 3D or 4D tensor, but got: {list(a.shape)}")
    h, w = a.shape[-2:]
    if output_size is None:
        if output_ratio is None:
            raise ValueError("fractional_max_pool2d requires specifying either an output_size or an output_ratio")
        rh, rw = (output_ratio, output_ratio) if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
        output_size = (int(h * rh), int(w * rw))
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if oh + kh - 1 > h or ow + kw - 1 > w:
        raise RuntimeError(f"fractional_max_pool2d(): pool height {kh} too large relative to input height {h} "
                           f"and output height {oh} (or the widths {kw}, {w}, {ow}); output + pool - 1 must fit")
    squeeze = a.ndim == 3
    x = a[None] if squeeze else a
    n, c = x.shape[:2]
    if _random_samples is None:
        _random_samples = rand(n, c, 2, dtype=input.dtype, device=input.device)
    samples = _random_samples._data.reshape(n * c, 2).tolist()
    xp = xp_of(a)
    f = a.dtype.type
    # one (oh, kh) row table and one (ow, kw) column table per plane, then a gather of every window
    hs = [_fractional_starts(f(s[1]), h, oh, kh, f) for s in samples]
    ws = [_fractional_starts(f(s[0]), w, ow, kw, f) for s in samples]
    rows = xp.asarray(hs, dtype=np.int64)[:, :, None, None, None] + xp.arange(kh)[:, None]
    cols = xp.asarray(ws, dtype=np.int64)[:, None, :, None, None] + xp.arange(kw)
    flat = (rows * w + cols).reshape(n * c, oh, ow, kh * kw)
    vals = x.reshape(n * c, h * w)[xp.arange(n * c)[:, None, None, None], flat]
    # NaN wins, as torch's `val > max || isnan(val)`
    pick = xp.argmax(B.where(xp, xp.isnan(vals), np.inf, vals), axis=-1)[..., None]
    out = xp.take_along_axis(vals, pick, -1)[..., 0].reshape(n, c, oh, ow)
    idx = xp.take_along_axis(flat, pick, -1)[..., 0].reshape(n, c, oh, ow)
    return _fractional_result(FractionalMaxPool2DBackward0, input, out, idx, (n, c, h, w), squeeze, return_indices)


def _fractional_result(node_cls, input, out, idx, batched_shape, squeeze, return_indices):
    """Wrap a fractional max pool's (batched) out and idx, with its node when input needs a gradient."""
    node = None
    if state.enabled and input._requires_grad:
        node = node_cls.__new__(node_cls)
        node.next_functions = (edge(input),)
        node._saved_versions = ()
        node.idx, node.shape = idx, batched_shape
        if squeeze:
            node = _squeeze_node(node, input)
    if squeeze:
        out, idx = out[0], idx[0]
    res = _wrap(out)
    if node is not None:
        res._requires_grad, res.grad_fn = True, node
    return (res, _wrap(idx)) if return_indices else res


def _squeeze_node(node, input):
    # an unbatched input: the batched node's gradient loses its batch dim again
    class _Squeezed(Node):
        __slots__ = ("inner",)

        def apply(self, grad):
            return (self.inner.apply(grad[None])[0][0],)
    _Squeezed.__name__ = _Squeezed.__qualname__ = type(node).__name__
    wrapped = _Squeezed.__new__(_Squeezed)
    wrapped.next_functions = (edge(input),)
    wrapped._saved_versions = ()
    wrapped.inner = node
    return wrapped


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """fractional_max_pool2d returning (output, indices)."""
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True, _random_samples)


__functional__ += ["fractional_max_pool2d", "fractional_max_pool2d_with_indices"]


class FractionalMaxPool3DBackward0(Node):
    __slots__ = ("idx", "shape")
    _saved_fields = ("idx",)

    def apply(self, grad):
        xp = xp_of(grad)
        n, c = self.shape[:2]
        out = xp.zeros((n * c, math.prod(self.shape[2:])), dtype=grad.dtype)
        rows = xp.arange(n * c)[:, None]
        xp.add.at(out, (rows, self.idx.reshape(n * c, -1)), grad.reshape(n * c, -1))
        return (out.reshape(self.shape),)


def _triple(v):
    return (v, v, v) if isinstance(v, (int, float)) else tuple(v)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Max pooling over pseudo-random, overlapping windows that shrink (N, C, T, H, W) to output_size (or
    output_ratio of it); the windows come from _random_samples, by default ember.rand(N, C, 3) as torch."""
    from .creation import rand
    if output_size is None and output_ratio is None:
        raise ValueError("fractional_max_pool3d requires specifying either an output_size or an output_ratio")
    if output_size is None:
        r = _triple(output_ratio)
        output_size = [int(input.size(-3) * r[0]), int(input.size(-2) * r[1]), int(input.size(-1) * r[2])]
    if _random_samples is None:
        n_batch = 1 if input.dim() == 4 else input.size(0)
        _random_samples = rand(n_batch, input.size(-4), 3, dtype=input.dtype, device=input.device)
    kt, kh, kw = _triple(kernel_size)
    ot, oh, ow = _triple(output_size)
    a = input._data
    if a.ndim not in (4, 5):
        raise RuntimeError(f"fractional_max_pool3d_out(): Expected 4D or 5D tensor, but got: {list(a.shape)}")
    t, h, w = a.shape[-3:]
    for what, o, k, i in (("time", ot, kt, t), ("height", oh, kh, h), ("width", ow, kw, w)):
        if o + k - 1 > i:
            raise RuntimeError(f"fractional_max_pool3d_out(): pool {what} {k} too large relative to input {what} "
                               f"{i} (output {what} {o} + pool {what} - 1 must not exceed the input's)")
    squeeze = a.ndim == 4
    x = a[None] if squeeze else a
    n, c = x.shape[:2]
    samples = _random_samples._data.reshape(n * c, 3).tolist()
    xp = xp_of(a)
    f = a.dtype.type
    # torch's sample order per plane: [0] for time, [1] for height, [2] for width
    ts = xp.asarray([_fractional_starts(f(s[0]), t, ot, kt, f) for s in samples], dtype=np.int64)
    hs = xp.asarray([_fractional_starts(f(s[1]), h, oh, kh, f) for s in samples], dtype=np.int64)
    ws = xp.asarray([_fractional_starts(f(s[2]), w, ow, kw, f) for s in samples], dtype=np.int64)
    tt = ts[:, :, None, None, None, None, None] + xp.arange(kt)[:, None, None]
    hh = hs[:, None, :, None, None, None, None] + xp.arange(kh)[:, None]
    ww = ws[:, None, None, :, None, None, None] + xp.arange(kw)
    flat = ((tt * h + hh) * w + ww).reshape(n * c, ot, oh, ow, kt * kh * kw)
    vals = x.reshape(n * c, t * h * w)[xp.arange(n * c)[:, None, None, None, None], flat]
    pick = xp.argmax(B.where(xp, xp.isnan(vals), np.inf, vals), axis=-1)[..., None]  # NaN wins, as torch's
    out = xp.take_along_axis(vals, pick, -1)[..., 0].reshape(n, c, ot, oh, ow)
    idx = xp.take_along_axis(flat, pick, -1)[..., 0].reshape(n, c, ot, oh, ow)
    return _fractional_result(FractionalMaxPool3DBackward0, input, out, idx, (n, c, t, h, w), squeeze,
                              return_indices)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """fractional_max_pool3d returning (output, indices)."""
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True, _random_samples)


__functional__ += ["fractional_max_pool3d", "fractional_max_pool3d_with_indices"]
