"""3-d convolution and pooling: conv3d, conv_transpose3d, max/avg/adaptive pooling, max unpooling.

A module of its own so the tuned 2-d fast paths in conv.py and pool.py stay untouched; it shares
only their argument checks and graph wiring.

Convolution is im2col + one (batched per group) matrix product:

* cols ``(C*kd*kh*kw, N*OD*OH*OW)`` is one copy of a strided window view of the padded input,
* forward ``W (G, O/G, C/G*K) @ cols``; weight gradient ``g @ cols.T`` with the cols kept,
* the input gradient ``W.T @ g`` is summed back ("col2im") with one strided add per kernel
  offset into a zero array: no ``add.at``.

The transposed convolution is the input gradient of a convolution (col2im of ``W.T @ x``), and its
backward the matching convolution of the padded output gradient.  Pooling works on every plane
(N*C of them) at once: windows are strided views, backward adds into one strided slice of the
padded gradient per kernel offset.  All kernels use the input's array module (numpy or cupy).
"""
import math

import numpy as np

from .. import _backend as B
from .. import _memory_format as _mf
from .._backend import xp_of
from .._threads import matmul as _mm
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from .._tensor import Tensor, _wrap
from .conv import (_prepare, _tuple, _wire, _needs, _strided, _warn_asymmetric_same, _empty_input,
                   _no_empty_output)
from .pool import _out_size, _lowest, _bins, _avg_matrix, _nan_first_argmax, _saved_marker, _nonempty_grad

__all__ = ["conv3d", "conv_transpose3d", "max_pool3d"]
__functional__ = ["conv3d", "conv_transpose3d", "max_pool3d", "max_pool3d_with_indices", "avg_pool3d",
                  "adaptive_avg_pool3d", "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices",
                  "max_unpool3d"]


# ---- im2col / col2im -------------------------------------------------------------------------
def _im2col(xp, xpad, k, s, d, o):
    """(C*kd*kh*kw, N*OD*OH*OW) copy of the windows of the C-contiguous padded input (N, C, Dp, Hp, Wp)."""
    N, C, Dp, Hp, Wp = xpad.shape
    it = xpad.itemsize
    sW, sH, sD = it, Wp * it, Hp * Wp * it
    sC = Dp * sD
    v = _strided(xpad, (C, k[0], k[1], k[2], N, o[0], o[1], o[2]),
                 (sC, d[0] * sD, d[1] * sH, d[2] * sW, C * sC, s[0] * sD, s[1] * sH, s[2] * sW))
    cols = xp.empty(v.shape, xpad.dtype)
    cols[...] = v
    return cols.reshape(C * k[0] * k[1] * k[2], N * o[0] * o[1] * o[2])


def _col2im(xp, cols, N, C, padded, k, s, d, o):
    """Sum of cols (C*K, N*L) back onto the padded input positions: (N, C, Dp, Hp, Wp)."""
    cols = cols.reshape(C, k[0], k[1], k[2], N, o[0], o[1], o[2])
    acc = xp.zeros((C, N) + tuple(padded), cols.dtype)
    for a in range(k[0]):
        da = slice(a * d[0], a * d[0] + s[0] * (o[0] - 1) + 1, s[0])
        for b in range(k[1]):
            hb = slice(b * d[1], b * d[1] + s[1] * (o[1] - 1) + 1, s[1])
            for c in range(k[2]):
                wc = slice(c * d[2], c * d[2] + s[2] * (o[2] - 1) + 1, s[2])
                acc[:, :, da, hb, wc] += cols[:, a, b, c]
    return acc.transpose(1, 0, 2, 3, 4)


def _pad5(xp, x, pads):
    """x (N, C, D, H, W) zero-padded by pads (front, back) per spatial dim, C-contiguous."""
    if any(pads):
        N, C = x.shape[:2]
        shape = (N, C) + tuple(n + pads[2 * i] + pads[2 * i + 1] for i, n in enumerate(x.shape[2:]))
        out = xp.zeros(shape, x.dtype)
        out[:, :, pads[0]:pads[0] + x.shape[2], pads[2]:pads[2] + x.shape[3], pads[4]:pads[4] + x.shape[4]] = x
        return out
    return x if x.flags.c_contiguous else xp.ascontiguousarray(x)


def _crop(a, pads):
    if not any(pads):
        return a
    D, H, W = a.shape[2:]
    return a[:, :, pads[0]:D - pads[1], pads[2]:H - pads[3], pads[4]:W - pads[5]]


def _to_groups(a, G):
    """(N, C, D, H, W) -> (G, C/G, N*D*H*W) (a copy)."""
    N, C = a.shape[:2]
    return a.transpose(1, 0, 2, 3, 4).reshape(G, C // G, N * math.prod(a.shape[2:]))


def _from_groups(xp, m, N, o):
    """(G, C/G, N*L) -> C-contiguous (N, C, OD, OH, OW)."""
    C = m.shape[0] * m.shape[1]
    return xp.ascontiguousarray(m.reshape((C, N) + tuple(o)).transpose(1, 0, 2, 3, 4))


class ConvolutionBackward0(Node):
    """Gradient of conv3d / conv_transpose3d for (input, weight, bias)."""

    __slots__ = ("x", "w", "cols", "G", "k", "s", "d", "o", "pads", "padded", "transposed")
    _saved_fields = ("x", "w", "cols")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """The same gradients written with differentiable ops on Tensors, for create_graph=True: the
        input's is the transposed convolution of grad (or the convolution, for a transposed one), the
        weight's a contraction of grad with the windows of the padded input."""
        from .norm import pad
        x, w = saved
        if x.ndim == 4:   # unbatched: the node sits between an Unsqueeze and a Squeeze
            x = x.unsqueeze(0)
        nf, G, k, s, d, pads, padded = self.next_functions, self.G, self.k, self.s, self.d, self.pads, self.padded
        torch_pads = (pads[4], pads[5], pads[2], pads[3], pads[0], pads[1])   # (last dim first)
        gx = gw = gb = None
        if nf[2][0] is not None:
            gb = grad.sum((0, 2, 3, 4))
        if self.transposed:
            gp = pad(grad, torch_pads)
            if nf[0][0] is not None:
                gx = conv3d(gp, w, None, s, 0, d, G)
            if nf[1][0] is not None:
                gw = _weight_grad(gp, x, G, k, s, d).reshape(w.shape)
            return gx, gw, gb
        if nf[0][0] is not None:
            full = conv_transpose3d(grad, w, None, s, 0, 0, G, d)
            # planes no window reached get no gradient; then drop the zero padding
            full = pad(full, (0, padded[2] - full.shape[4], 0, padded[1] - full.shape[3], 0, padded[0] - full.shape[2]))
            gx = full[:, :, pads[0]:padded[0] - pads[1], pads[2]:padded[1] - pads[3], pads[4]:padded[2] - pads[5]]
        if nf[1][0] is not None:
            gw = _weight_grad(pad(x, torch_pads), grad, G, k, s, d).reshape(w.shape)
        return gx, gw, gb

    def apply(self, grad):
        nf = self.next_functions
        need_x, need_w, need_b = nf[0][0] is not None, nf[1][0] is not None, nf[2][0] is not None
        xp = xp_of(grad)
        w, G, k, s, d, o = self.w, self.G, self.k, self.s, self.d, self.o
        gx = gw = gb = None
        if need_b:
            gb = grad.sum(axis=(0, 2, 3, 4))
        N = grad.shape[0]
        if not self.transposed:
            # forward: y = W (G, O/G, Cg*K) @ cols
            O = w.shape[0]
            g2 = _to_groups(grad, G)
            w2 = w.reshape(G, O // G, -1)
            if need_w:
                cols = self.cols.reshape(G, self.cols.shape[0] // G, self.cols.shape[-1])
                gw = _mm(g2, cols.transpose(0, 2, 1)).reshape(w.shape)
            if need_x:
                gcols = _mm(w2.transpose(0, 2, 1), g2)
                gx = xp.ascontiguousarray(_crop(_col2im(xp, gcols, N, w.shape[1] * G, self.padded, k, s, d, o),
                                                self.pads))
        else:
            # forward: y = crop(col2im(W.T @ x)); backward: the convolution of the padded grad
            Cin = w.shape[0]
            gpad = _pad5(xp, grad, self.pads)
            cols = _im2col(xp, gpad, k, s, d, o)
            cols = cols.reshape(G, cols.shape[0] // G, cols.shape[1])
            if need_x:
                gx = _from_groups(xp, _mm(w.reshape(G, Cin // G, -1), cols), N, o)
            if need_w:
                gw = _mm(_to_groups(self.x, G), cols.transpose(0, 2, 1)).reshape(w.shape)
        return gx, gw, gb


def _weight_grad(src, other, G, k, s, d):
    """(G, other's channels per group, src's channels per group, *k): other (N, C', *o) contracted with
    the windows (kernel k, stride s, dilation d) of src (N, C, ...), per group, as Tensor ops."""
    from .linalg import einsum
    o = other.shape[2:]
    win = src
    for i in range(3):
        win = win.unfold(2 + i, d[i] * (k[i] - 1) + 1, s[i])
    win = win[:, :, :o[0], :o[1], :o[2], ::d[0], ::d[1], ::d[2]]
    N, C = src.shape[:2]
    win = win.reshape((N, G, C // G) + tuple(o) + tuple(k))
    return einsum("ngodhw,ngcdhwijk->gocijk", other.reshape((N, G, other.shape[1] // G) + tuple(o)), win)


# ---- argument handling -----------------------------------------------------------------------
def _prepare3(op, input, weight, bias, transposed, groups, stride):
    if isinstance(weight, Tensor) and weight._data.ndim != 5 and isinstance(input, Tensor):
        n = weight._data.ndim - 2
        st = list(stride) if isinstance(stride, (tuple, list)) else [stride] * 3
        raise RuntimeError(f"expected stride to be a single integer value or a list of {n} values to match the "
                           f"convolution dimensions, but got stride={st}")
    return _prepare(op, input, weight, bias, 3, transposed, groups)


def _by_plane(a):
    """a as (planes, volume): its last three dims flattened, the rest the rows (-1 can't be inferred
    for an empty batch)."""
    return a.reshape(math.prod(a.shape[:-3]), math.prod(a.shape[-3:]))


def _positive(vals, what):
    for v in vals:
        if v <= 0:
            raise RuntimeError(f"non-positive {what} is not supported")


@_mf.settles("suggest", weight=True)
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d convolution over (N, C, D, H, W) or unbatched (C, D, H, W) input, as torch.nn.functional.conv3d."""
    op = "conv3d"
    x, w, b, unbatched, G = _prepare3(op, input, weight, bias, False, groups, stride)
    s = _tuple(stride, 3, "stride")
    d = _tuple(dilation, 3, "dilation")
    _positive(s, "stride")
    _positive(d, "dilation")
    k = w.shape[2:]
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0,) * 6
        elif padding == "same":
            if any(v != 1 for v in s):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = ()
            for i in range(3):
                t = d[i] * (k[i] - 1)
                pads += (t // 2, t - t // 2)
            _warn_asymmetric_same(*(d[i] * (k[i] - 1) for i in range(3)))
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = _tuple(padding, 3, "padding")
        if min(p) < 0:
            raise RuntimeError("negative padding is not supported")
        pads = (p[0], p[0], p[1], p[1], p[2], p[2])
    N, C = x.shape[:2]
    padded = tuple(x.shape[2 + i] + pads[2 * i] + pads[2 * i + 1] for i in range(3))
    ek = tuple(d[i] * (k[i] - 1) + 1 for i in range(3))
    if any(padded[i] < ek[i] for i in range(3)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel size: "
            f"({' x '.join(map(str, ek))}). Kernel size can't be greater than actual input size")
    _empty_input(x)
    o = tuple((padded[i] - ek[i]) // s[i] + 1 for i in range(3))
    xp = xp_of(x)
    xpad = _pad5(xp, x, pads)
    cols = _im2col(xp, xpad, k, s, d, o)
    O = w.shape[0]
    y = _mm(w.reshape(G, O // G, -1), cols.reshape(G, cols.shape[0] // G, cols.shape[1]))
    out = _from_groups(xp, y, N, o)
    if b is not None:
        out += b.reshape(1, O, 1, 1, 1)
    if not _needs(input, weight, bias):
        return _wrap(out[0] if unbatched else out)
    node = ConvolutionBackward0.__new__(ConvolutionBackward0)
    node.x = None
    node.w = w
    node.cols = cols if weight._requires_grad else None
    node.G, node.k, node.s, node.d, node.o = G, k, s, d, o
    node.pads, node.padded, node.transposed = pads, padded, False
    return _wire(node, input, weight, bias, unbatched, out)


@_mf.settles("suggest", weight=True)
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """3-d transposed convolution, as torch.nn.functional.conv_transpose3d."""
    op = "conv_transpose3d"
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    x, w, b, unbatched, G = _prepare3(op, input, weight, bias, True, groups, stride)
    s = _tuple(stride, 3, "stride")
    p = _tuple(padding, 3, "padding")
    op_ = _tuple(output_padding, 3, "output_padding")
    d = _tuple(dilation, 3, "dilation")
    _positive(s, "stride")
    _positive(d, "dilation")
    if min(p) < 0:
        raise RuntimeError("negative padding is not supported")
    if min(op_) < 0 or any(op_[i] >= s[i] and op_[i] >= d[i] for i in range(3)):
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            f"output_padding_depth: {op_[0]} output_padding_height: {op_[1]} output_padding_width: {op_[2]} "
            f"stride_depth: {s[0]} stride_height: {s[1]} stride_width: {s[2]} dilation_depth: {d[0]} "
            f"dilation_height: {d[1]} dilation_width: {d[2]}")
    N, Cin = x.shape[:2]
    _empty_input(x)
    k = w.shape[2:]
    Cout = w.shape[1] * G
    o = x.shape[2:]
    y_size = tuple((o[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op_[i] + 1 for i in range(3))
    if min(y_size) < 0 or min(y_size) == 0 and _no_empty_output(x, unbatched):
        raise RuntimeError(
            f"Given input size per channel: ({' x '.join(map(str, o))}). Calculated output size per channel: "
            f"({' x '.join(map(str, y_size))}). Output size is too small")
    padded = tuple(y_size[i] + 2 * p[i] for i in range(3))
    pads = (p[0], p[0], p[1], p[1], p[2], p[2])
    xp = xp_of(x)
    x2 = _to_groups(x, G)
    gcols = _mm(w.reshape(G, Cin // G, -1).transpose(0, 2, 1), x2)
    out = xp.ascontiguousarray(_crop(_col2im(xp, gcols, N, Cout, padded, k, s, d, o), pads))
    if b is not None:
        out += b.reshape(1, Cout, 1, 1, 1)
    if not _needs(input, weight, bias):
        return _wrap(out[0] if unbatched else out)
    node = ConvolutionBackward0.__new__(ConvolutionBackward0)
    node.x = x if weight._requires_grad else None
    node.w = w
    node.cols = None
    node.G, node.k, node.s, node.d, node.o = G, k, s, d, o
    node.pads, node.padded, node.transposed = pads, padded, True
    return _wire(node, input, weight, bias, unbatched, out)


# ---- pooling: arguments ----------------------------------------------------------------------
def _triple(v, what, op, msg):
    if type(v) is int:
        return (v,) * 3
    if isinstance(v, np.integer):
        return (int(v),) * 3
    if isinstance(v, (tuple, list)) and len(v) in (1, 3):
        v = tuple(int(a) for a in v)
        return v * 3 if len(v) == 1 else v
    raise RuntimeError(f"{op}: {what} {msg}")


def _planes(input, op):
    """The input as (P, D, H, W) planes, and its leading shape."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    a = input._data
    if a.ndim not in (4, 5) or 0 in a.shape[1:]:
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    return a.reshape((-1,) + a.shape[-3:]), a.shape[:-3]


def _pool_geometry(op, a, kernel_size, stride, padding, dilation, ceil_mode, is_max, nslices):
    either = "either " if is_max else ""
    k = _triple(kernel_size, "kernel_size", op, f"must {either}be a single int, or a tuple of three ints")
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        s = k
    else:
        s = _triple(stride, "stride", op, f"must {either}be omitted, a single int, or a tuple of three ints")
    p = _triple(padding, "padding", op, f"must {either}be a single int, or a tuple of three ints")
    d = _triple(dilation, "dilation", op, "must be either a single int, or a tuple of three ints") if is_max \
        else (1, 1, 1)
    if 0 in s:
        raise RuntimeError("stride should not be zero")
    if min(k) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kT: {k[0]} kH: {k[1]} kW: {k[2]}")
    if min(s) < 0:
        raise RuntimeError(f"stride should be greater than zero, but got dT: {s[0]} dH: {s[1]} dW: {s[2]}")
    if min(d) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationT: {d[0]} dilationH: {d[1]} "
                           f"dilationW: {d[2]}")
    size = a.shape[1:]
    if not is_max and any(size[i] < k[i] for i in range(3)):
        raise RuntimeError(f"input image (T: {size[0]} H: {size[1]} W: {size[2]}) smaller than kernel size "
                           f"(kT: {k[0]} kH: {k[1]} kW: {k[2]})")
    for i in range(3):
        if p[i] < 0 or p[i] > ((k[i] - 1) * d[i] + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={p[i]}, "
                               f"kernel_size={k[i]} and dilation={d[i]}")
    o = tuple(_out_size(size[i], k[i], s[i], p[i], d[i], ceil_mode) for i in range(3))
    if min(o) < 1:
        C = nslices
        raise RuntimeError(f"Given input size: ({C}x{size[0]}x{size[1]}x{size[2]}). Calculated output size: "
                           f"({C}x{o[0]}x{o[1]}x{o[2]}). Output size is too small")
    return k, s, p, d, o


def _pool_padded(xp, a, k, s, p, d, o, fill):
    """The planes (P, D, H, W) inside a C-contiguous array filled with fill, front padding p, and long
    enough for every window (ceil_mode windows may reach past the back padding)."""
    size = a.shape[1:]
    ext = tuple(max((o[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1, size[i] + p[i]) for i in range(3))
    out = xp.full((a.shape[0],) + ext, fill, a.dtype)
    out[:, p[0]:p[0] + size[0], p[1]:p[1] + size[1], p[2]:p[2] + size[2]] = a
    return out


def _windows(xpad, k, s, d, o):
    """(P, OD, OH, OW, kd, kh, kw) strided view of the windows."""
    P, Dp, Hp, Wp = xpad.shape
    it = xpad.itemsize
    sW, sH, sD = it, Wp * it, Hp * Wp * it
    return _strided(xpad, (P,) + tuple(o) + tuple(k),
                    (Dp * sD, s[0] * sD, s[1] * sH, s[2] * sW, d[0] * sD, d[1] * sH, d[2] * sW))


def _offsets(k, s, d, o):
    """(slices into the padded planes, offset number) for each kernel offset."""
    t = 0
    for a in range(k[0]):
        da = slice(a * d[0], a * d[0] + s[0] * (o[0] - 1) + 1, s[0])
        for b in range(k[1]):
            hb = slice(b * d[1], b * d[1] + s[1] * (o[1] - 1) + 1, s[1])
            for c in range(k[2]):
                yield (slice(None), da, hb, slice(c * d[2], c * d[2] + s[2] * (o[2] - 1) + 1, s[2])), t
                t += 1


def _record(out, node, input):
    t = _wrap(out)
    if node is not None:
        node.next_functions = (edge(input),)
        node._saved_versions = _saved_marker()
        t._requires_grad = True
        t.grad_fn = node
    return t


# ---- max pooling -----------------------------------------------------------------------------
class MaxPool3DWithIndicesBackward0(Node):
    """Gradient of max_pool3d: each window's output gradient goes to its winner."""

    __slots__ = ("idx", "geom", "shape", "ext")
    _saved_fields = ("idx",)
    _double_backward = True   # through _apply_tensors (create_graph=True)
    _zero_edges = "input"     # as torch's: the second derivative reaches the input, as zeros

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the scatter to the winners is linear in grad; its transpose picks them."""
        from ..autograd.higher_order import linear_pair
        idx, (k, s, p, d, o), ext, gshape = self.idx, self.geom, self.ext, grad.shape

        def pick(b):
            xp = xp_of(b)
            bpad = _pool_padded(xp, b.reshape((-1,) + b.shape[-3:]), k, s, p, d, o, 0)
            out = xp.zeros(idx.shape, b.dtype)
            for sl, t in _offsets(k, s, d, o):
                out += B.where(xp, idx == t, bpad[sl], 0)
            return out.reshape(gshape)
        return linear_pair(self, grad, pick)

    def apply(self, grad):
        xp = xp_of(grad)
        k, s, p, d, o = self.geom
        g = grad.reshape(self.idx.shape)
        gx = xp.zeros(self.ext, grad.dtype)
        idx = self.idx
        for sl, t in _offsets(k, s, d, o):
            gx[sl] += B.where(xp, idx == t, g, 0)
        D, H, W = self.shape[-3:]
        return (gx[:, p[0]:p[0] + D, p[1]:p[1] + H, p[2]:p[2] + W].reshape(self.shape),)


@_mf.settles("suggest")
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """3-d max pooling over (N, C, D, H, W) or (C, D, H, W) input, as torch.nn.functional.max_pool3d."""
    op = "max_pool3d"
    a, lead = _planes(input, op)
    k, s, p, d, o = _pool_geometry(op, a, kernel_size, stride, padding, dilation, ceil_mode, True,
                                    input._data.shape[-4])
    xp = xp_of(a)
    xpad = _pool_padded(xp, a, k, s, p, d, o, _lowest(a.dtype))
    win = _windows(xpad, k, s, d, o).reshape(a.shape[:1] + tuple(o) + (math.prod(k),))   # a copy
    idx = _nan_first_argmax(xp, win, a.dtype.kind == "f")
    out = xp.take_along_axis(win, idx[..., None], -1)[..., 0]
    shape = lead + tuple(o)
    node = None
    if state.enabled and input._requires_grad:
        node = MaxPool3DWithIndicesBackward0.__new__(MaxPool3DWithIndicesBackward0)
        node.idx = idx.astype(np.int32 if k[0] * k[1] * k[2] > 255 else np.uint8)
        node.geom = (k, s, p, d, o)
        node.shape = input._data.shape
        node.ext = xpad.shape
    t = _record(out.reshape(shape), node, input)
    if not return_indices:
        return t
    # torch's indices: the flat (d * H + h) * W + w position in the unpadded input
    i, r = idx // (k[1] * k[2]), idx % (k[1] * k[2])
    j, l = r // k[2], r % k[2]
    D, H, W = a.shape[1:]
    ar = lambda n: xp.arange(n, dtype=np.int64)   # noqa: E731
    pd = ar(o[0])[:, None, None] * s[0] - p[0] + i * d[0]
    ph = ar(o[1])[:, None] * s[1] - p[1] + j * d[1]
    pw = ar(o[2]) * s[2] - p[2] + l * d[2]
    return t, _wrap(((pd * H + ph) * W + pw).reshape(shape))


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    """max_pool3d returning (output, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ---- average pooling -------------------------------------------------------------------------
def _avg_counts(n, k, s, p, o, include_pad):
    """Per-output window sizes along one dim (torch's avg_pool rule)."""
    c = []
    for i in range(o):
        start = i * s - p
        end = min(start + k, n + p)
        pool = end - start
        start, end = max(start, 0), min(end, n)
        c.append(pool if include_pad else end - start)
    return c


class AvgPool3DBackward0(Node):
    """Gradient of avg_pool3d: each output gradient spread evenly (by its divisor) over its window."""

    __slots__ = ("div", "geom", "shape", "ext")
    _double_backward = True   # through _apply_tensors (create_graph=True)
    _zero_edges = "input"     # as torch's: the second derivative reaches the input, as zeros

    def _apply_tensors(self, grad, saved):
        """create_graph=True: spreading over the windows is linear in grad; its transpose averages them."""
        from ..autograd.higher_order import linear_pair
        div, (k, s, p, d, o), gshape = self.div, self.geom, grad.shape

        def pool(b):
            xp = xp_of(b)
            bpad = _pool_padded(xp, b.reshape((-1,) + b.shape[-3:]), k, s, p, d, o, 0)
            out = xp.zeros(bpad.shape[:1] + tuple(o), b.dtype)
            for sl, _ in _offsets(k, s, d, o):
                out += bpad[sl]
            return (out / div).astype(b.dtype, copy=False).reshape(gshape)
        return linear_pair(self, grad, pool)

    def apply(self, grad):
        xp = xp_of(grad)
        k, s, p, d, o = self.geom
        g = grad.reshape((-1,) + tuple(o)) / self.div
        D, H, W = self.shape[-3:]
        if tuple(k) == tuple(s) and not any(p) and tuple(d) == (1, 1, 1) and (o[0] * k[0], o[1] * k[1], o[2] * k[2]) \
                == (D, H, W) and g.dtype == grad.dtype:
            # the windows tile the input: each share repeated over its window
            return (g.repeat(k[2], axis=-1).repeat(k[1], axis=-2).repeat(k[0], axis=-3).reshape(self.shape),)
        gx = xp.zeros(self.ext, grad.dtype)
        # offsets in reverse: an element shared by windows gets their shares in the windows' order, as in torch
        for sl, _ in reversed(list(_offsets(k, s, d, o))):
            gx[sl] += g
        return (gx[:, p[0]:p[0] + D, p[1]:p[1] + H, p[2]:p[2] + W].reshape(self.shape),)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """3-d average pooling, as torch.nn.functional.avg_pool3d."""
    op = "avg_pool3d"
    a, lead = _planes(input, op)
    if a.dtype.kind == "V":   # (torch's CPU kernel has no bfloat16 version)
        raise NotImplementedError("\"avg_pool3d_out_frame\" not implemented for 'BFloat16' (avg_pool3d: convert the "
                                  "input with .float())")
    if divisor_override is not None and int(divisor_override) == 0:
        raise RuntimeError("divisor must be not zero")
    k, s, p, d, o = _pool_geometry(op, a, kernel_size, stride, padding, 1, ceil_mode, False,
                                    input._data.shape[-4])
    xp = xp_of(a)
    xpad = _pool_padded(xp, a, k, s, p, d, o, 0)
    if a.dtype == np.float32 or a.dtype == np.float64:
        # as torch's kernel adds: from 0 through each window in order (see pool._window_sum)
        offsets = [sl for sl, _ in _offsets(k, s, d, o)]
        total = xpad[offsets[0]] + 0.0
        for sl in offsets[1:]:
            total += xpad[sl]
    else:
        total = _windows(xpad, k, s, d, o).sum(axis=(-3, -2, -1))
    if divisor_override is not None:
        div = xp.asarray(float(divisor_override), dtype=a.dtype)
    else:
        cs = [xp.asarray(_avg_counts(a.shape[1 + i], k[i], s[i], p[i], o[i], count_include_pad), dtype=a.dtype)
              for i in range(3)]
        div = cs[0][:, None, None] * cs[1][:, None] * cs[2]
    out = (total / div).astype(a.dtype, copy=False)
    node = None
    if state.enabled and input._requires_grad:
        node = AvgPool3DBackward0.__new__(AvgPool3DBackward0)
        node.div = div
        node.geom = (k, s, p, d, o)
        node.shape = input._data.shape
        node.ext = xpad.shape
    return _record(out.reshape(lead + tuple(o)), node, input)


# ---- adaptive pooling ------------------------------------------------------------------------
def _adaptive_planes(input, op, output_size, sep):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    a = input._data
    if a.ndim not in (4, 5):
        raise RuntimeError(f"{op}(): Expected 4D or 5D tensor, but got{sep} {list(a.shape)}")
    size = a.shape[-3:]
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 3:
            raise RuntimeError(f"{op}: output_size must be 3" if op == "adaptive_avg_pool3d"
                               else f"{op}(): internal error: output_size.size() must be 3")
        o = tuple(size[i] if v is None else int(v) for i, v in enumerate(output_size))
    else:
        o = (int(output_size),) * 3
    if min(o) < 0:
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 but got {list(o)}")
    for i in range(1, a.ndim):
        if a.shape[i] == 0 and not (o == (1, 1, 1) and op == "adaptive_avg_pool3d"):
            # (torch averages an empty volume to 1x1x1 as a mean: NaN)
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch dimensions, but input "
                               f"has sizes {list(a.shape)} with dimension {i} being empty")
    return a.reshape((math.prod(a.shape[:-3]),) + size), a.shape[:-3], o


class AdaptiveAvgPool3DBackward0(Node):
    """Gradient of adaptive_avg_pool3d: the transposed averaging matrices."""

    __slots__ = ("m", "shape")
    _double_backward = True   # through _apply_tensors (create_graph=True)
    _zero_edges = "input"     # as torch's: the second derivative reaches the input, as zeros

    def _apply_tensors(self, grad, saved):
        """create_graph=True: linear in grad; its transpose is the pooling (the averaging matrices)."""
        from ..autograd.higher_order import linear_pair
        (md, mh, mw), gshape = self.m, grad.shape

        def pool(b):
            xp = xp_of(b)
            D = b.shape[-3]
            t = xp.matmul(mh, xp.matmul(b.reshape((-1,) + b.shape[-3:]), mw.T))
            return xp.matmul(md, t.reshape(t.shape[0], D, t.shape[-2] * t.shape[-1])).reshape(gshape)
        return linear_pair(self, grad, pool)

    def apply(self, grad):
        xp = xp_of(grad)
        if not grad.size:
            _nonempty_grad(grad, "adaptive_avg_pool3d")
        md, mh, mw = self.m
        P = math.prod(self.shape[:-3])
        D, H, W = self.shape[-3:]
        g = grad.reshape(P, md.shape[0], mh.shape[0] * mw.shape[0])
        g = xp.matmul(md.T, g).reshape(P, D, mh.shape[0], mw.shape[0])
        g = xp.matmul(xp.matmul(mh.T, g), mw)
        return (g.reshape(self.shape),)


class MeanBackward1(Node):
    """Gradient of a mean over the last three dims (adaptive_avg_pool3d to 1x1x1, as torch runs it)."""

    __slots__ = ("shape",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, grad):
        n = self.shape[-1] * self.shape[-2] * self.shape[-3]
        xp = xp_of(grad)
        return (xp.broadcast_to(grad / xp.asarray(n, dtype=grad.dtype), self.shape),)


def adaptive_avg_pool3d(input, output_size):
    """3-d adaptive average pooling, as torch.nn.functional.adaptive_avg_pool3d."""
    a, lead, o = _adaptive_planes(input, "adaptive_avg_pool3d", output_size, "")
    xp = xp_of(a)
    P, D, H, W = a.shape
    if o == (1, 1, 1):
        x = input._data
        if x.size or not x.shape[-3:].count(0):
            out = x.mean(axis=(-3, -2, -1), keepdims=True)
        else:   # the mean of nothing (without NumPy's warning)
            out = xp.full(x.shape[:-3] + (1, 1, 1), np.nan, x.dtype)
        node = None
        if state.enabled and input._requires_grad:
            node = MeanBackward1.__new__(MeanBackward1)
            node.shape = input._data.shape
        return _record(out, node, input)
    m = tuple(_avg_matrix(xp, n, on, a.dtype) for n, on in zip((D, H, W), o))
    t = xp.matmul(m[1], xp.matmul(a, m[2].T))                       # (P, D, OH, OW)
    out = xp.matmul(m[0], t.reshape(P, D, o[1] * o[2])).reshape(lead + o)
    node = None
    if state.enabled and input._requires_grad:
        node = AdaptiveAvgPool3DBackward0.__new__(AdaptiveAvgPool3DBackward0)
        node.m = m
        node.shape = input._data.shape
    return _record(out, node, input)


class AdaptiveMaxPool3DBackward0(Node):
    """Gradient of adaptive_max_pool3d: summed into the winners (bins may overlap)."""

    __slots__ = ("indices", "shape")
    _saved_fields = ("indices",)
    _double_backward = True   # through _apply_tensors (create_graph=True)
    _zero_edges = "input"     # as torch's: the second derivative reaches the input, as zeros

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the scatter is linear in grad; its transpose gathers at the winners."""
        from ..autograd.higher_order import linear_pair
        ind, gshape = self.indices, grad.shape

        def gather(b):
            P = ind.reshape(-1, ind.shape[-3] * ind.shape[-2] * ind.shape[-1]).shape[0]
            return xp_of(b).take_along_axis(_by_plane(b), _by_plane(ind), -1).reshape(gshape)
        return linear_pair(self, grad, gather)

    def apply(self, grad):
        if not grad.size:
            _nonempty_grad(grad, "adaptive_max_pool3d")
        return (_scatter3(grad, self.indices, self.shape),)


def _scatter3(grad, indices, shape):
    """Sum grad into zeros of shape at the flat per-volume indices."""
    xp = xp_of(grad)
    vol = shape[-3] * shape[-2] * shape[-1]
    planes = math.prod(shape[:-3])
    ind = _by_plane(indices) + (xp.arange(planes, dtype=np.int64) * vol)[:, None]
    gx = xp.bincount(ind.ravel(), weights=grad.reshape(-1), minlength=planes * vol)
    return gx.astype(grad.dtype, copy=False).reshape(shape)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """3-d adaptive max pooling, as torch.nn.functional.adaptive_max_pool3d."""
    a, lead, o = _adaptive_planes(input, "adaptive_max_pool3d", output_size, ":")
    xp = xp_of(a)
    P, D, H, W = a.shape
    isfloat = a.dtype.kind == "f"
    out = xp.empty((P,) + o, a.dtype)
    ind = xp.empty((P,) + o, np.int64)
    bins = [_bins(n, on) for n, on in zip((D, H, W), o)]
    for i in range(o[0]):
        d0, d1 = bins[0][0][i], bins[0][1][i]
        for j in range(o[1]):
            h0, h1 = bins[1][0][j], bins[1][1][j]
            for l in range(o[2]):
                w0, w1 = bins[2][0][l], bins[2][1][l]
                seg = _by_plane(a[:, d0:d1, h0:h1, w0:w1])
                kk = _nan_first_argmax(xp, seg, isfloat)
                out[:, i, j, l] = xp.take_along_axis(seg, kk[:, None], -1)[:, 0]
                bh, bw = h1 - h0, w1 - w0
                ind[:, i, j, l] = ((kk // (bh * bw) + d0) * H + (kk // bw) % bh + h0) * W + kk % bw + w0
    shape = lead + o
    node = None
    if state.enabled and input._requires_grad:
        node = AdaptiveMaxPool3DBackward0.__new__(AdaptiveMaxPool3DBackward0)
        node.indices = ind
        node.shape = input._data.shape
    t = _record(out.reshape(shape), node, input)
    if return_indices:
        return t, _wrap(ind.reshape(shape))
    return t


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool3d returning (output, indices)."""
    return adaptive_max_pool3d(input, output_size, True)


# ---- max unpooling ---------------------------------------------------------------------------
class MaxUnpool3DBackward0(Node):
    """Gradient of max_unpool3d: gather at the indices."""

    __slots__ = ("indices", "shape_in")
    _saved_fields = ("indices",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the gather is linear in grad; its transpose is the unpooling itself."""
        from ..autograd.higher_order import linear_pair
        ind, gshape = self.indices, grad.shape

        def unpool(b):
            xp = xp_of(b)
            out = xp.zeros((ind.shape[0], math.prod(gshape[-3:])), b.dtype)
            xp.put_along_axis(out, ind, _by_plane(b), -1)
            return out.reshape(gshape)
        return linear_pair(self, grad, unpool)

    def apply(self, grad):
        ind = self.indices   # (planes, volume) already
        g = xp_of(grad).take_along_axis(_by_plane(grad), ind, -1)
        return (g.reshape(self.shape_in),)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool3d: values back at their indices, zeros elsewhere."""
    op = "max_unpool3d"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if not isinstance(indices, Tensor):
        raise TypeError(f"{op}(): argument 'indices' must be Tensor, not {type(indices).__name__}")
    a, ind = input._data, indices._data
    if a.ndim not in (4, 5):
        raise RuntimeError(f"Input to max_unpooling3d should be a 4d or 5d Tensor, but got a tensor with "
                           f"{a.ndim} dimensions.")
    if ind.shape != a.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(a.shape)}) "
                           f"but got indices tensor with shape: {list(ind.shape)}")
    if ind.dtype != np.int64:
        raise RuntimeError("elements in indices should be type int64")
    k = _triple(kernel_size, "kernel_size", op, "must be a single int, or a tuple of three ints")
    s = k if stride is None else _triple(stride, "stride", op, "must be a single int, or a tuple of three ints")
    p = _triple(padding, "padding", op, "must be a single int, or a tuple of three ints")
    size = a.shape[-3:]
    default = tuple((size[i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(3))
    if output_size is None:
        o = default
    else:
        o = tuple(int(v) for v in output_size)
        if len(o) == 5 or (len(o) == a.ndim and len(o) != 3):
            o = o[-3:]
        if len(o) != 3:
            raise ValueError(f"output_size should be a sequence containing 3 or 5 elements, but it has a length "
                             f"of '{len(o)}'")
        for i in range(3):
            lo, hi = default[i] - s[i], default[i] + s[i]
            if not lo < o[i] < hi:
                raise ValueError(f'invalid output_size "{tuple(output_size)}" (dim {i} must be between {lo} and '
                                 f'{hi})')
    xp = xp_of(a)
    P = math.prod(a.shape[:-3])
    vol = o[0] * o[1] * o[2]
    flat = _by_plane(ind)
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= vol):
        bad = int(flat.max()) if int(flat.max()) >= vol else int(flat.min())
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{o[0]}x{o[1]}x{o[2]})")
    out = xp.zeros((P, vol), a.dtype)
    xp.put_along_axis(out, flat, _by_plane(a), -1)
    node = None
    if state.enabled and input._requires_grad:
        node = MaxUnpool3DBackward0.__new__(MaxUnpool3DBackward0)
        node.indices = flat
        node.shape_in = a.shape
    return _record(out.reshape(a.shape[:-3] + o), node, input)
