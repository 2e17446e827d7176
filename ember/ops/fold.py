"""Sliding blocks and sub-pixel rearrangement: unfold / fold, pixel_(un)shuffle, local_response_norm.

unfold (im2col) copies each of the kh * kw kernel offsets as one strided slice of the zero-padded
input; fold (col2im) adds them back, one slice per offset (slices of one offset never overlap, so
``+=`` accumulates exactly, no ``np.add.at``).  Each is the other's backward.  pixel_shuffle and
pixel_unshuffle are one reshape-transpose-reshape each, and each other's backward.
local_response_norm is composite (pad + avg_pool2d + elementwise), as torch writes it.
"""
import numpy as np

from .. import _backend as B
from .. import _memory_format as _mf
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from .._tensor import Tensor
from .norm import pad as _pad
from .pool import avg_pool2d as _avg_pool2d
from . import record as _record

# names torch exposes at top level
__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle"]

# names torch.nn.functional exposes from this module
__functional__ = ["unfold", "fold", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle",
                  "local_response_norm"]

_new = object.__new__
xp_of = B.xp_of


def _node(cls, input):
    node = _new(cls)
    node.next_functions = (edge(input),)
    node._saved_versions = ()
    return node


# ---- unfold / fold ----------------------------------------------------------------------------
def _pair(v, name, op):
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v), int(v)
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise RuntimeError(f"{op}: It is expected {name} equals to 2, but got size {len(v)}")
        return int(v[0]), int(v[1])
    raise TypeError(f"{op}(): argument '{name}' must be an int or a tuple of two ints, not {type(v).__name__}")


class _Blocks:
    """Geometry of the sliding blocks over an (H, W) image."""

    __slots__ = ("H", "W", "kh", "kw", "dh", "dw", "ph", "pw", "sh", "sw", "OH", "OW")

    def __init__(self, op, H, W, kernel_size, dilation, padding, stride):
        kh, kw = _pair(kernel_size, "kernel_size", op)
        dh, dw = _pair(dilation, "dilation", op)
        ph, pw = _pair(padding, "padding", op)
        sh, sw = _pair(stride, "stride", op)
        if kh <= 0 or kw <= 0:
            raise RuntimeError(f"{op}: kernel size should be greater than zero, but got kernel_height: {kh} "
                               f"kernel_width: {kw}")
        if dh <= 0 or dw <= 0:
            raise RuntimeError(f"{op}: dilation should be greater than zero, but got dilation_height: {dh} "
                               f"dilation_width: {dw}")
        if ph < 0 or pw < 0:
            raise RuntimeError(f"{op}: padding should be non-negative, but got pad_height: {ph} pad_width: {pw}")
        if sh <= 0 or sw <= 0:
            raise RuntimeError(f"{op}: stride should be greater than zero, but got stride_height: {sh} "
                               f"stride_width: {sw}")
        self.H, self.W, self.kh, self.kw, self.dh, self.dw = H, W, kh, kw, dh, dw
        self.ph, self.pw, self.sh, self.sw = ph, pw, sh, sw
        self.OH = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        self.OW = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1

    def describe(self):
        return (f"kernel_size={(self.kh, self.kw)}, dilation={(self.dh, self.dw)}, "
                f"padding={(self.ph, self.pw)}")

    def window(self, a, i, j):
        """The view of padded image a read by kernel offset (i, j) at every block."""
        r, c = i * self.dh, j * self.dw
        return a[..., r:r + self.sh * (self.OH - 1) + 1:self.sh, c:c + self.sw * (self.OW - 1) + 1:self.sw]

    def im2col(self, x):
        """(N, C, H, W) -> (N, C * kh * kw, OH * OW)."""
        xp = xp_of(x)
        lead = x.shape[:-2]
        if self.ph or self.pw:
            xpad = xp.zeros(lead + (self.H + 2 * self.ph, self.W + 2 * self.pw), x.dtype)
            xpad[..., self.ph:self.ph + self.H, self.pw:self.pw + self.W] = x
        else:
            xpad = x
        cols = xp.empty(lead + (self.kh, self.kw, self.OH, self.OW), x.dtype)
        for i in range(self.kh):
            for j in range(self.kw):
                cols[..., i, j, :, :] = self.window(xpad, i, j)
        return cols.reshape(lead[:-1] + (lead[-1] * self.kh * self.kw, self.OH * self.OW))

    def col2im(self, cols):
        """(N, C * kh * kw, OH * OW) -> (N, C, H, W), summing overlapping blocks."""
        xp = xp_of(cols)
        n, ck = cols.shape[0], cols.shape[1]
        c = ck // (self.kh * self.kw)
        cols = cols.reshape(n, c, self.kh, self.kw, self.OH, self.OW)
        out = xp.zeros((n, c, self.H + 2 * self.ph, self.W + 2 * self.pw), cols.dtype)
        for i in range(self.kh):
            for j in range(self.kw):
                v = self.window(out, i, j)
                v += cols[:, :, i, j]
        if self.ph or self.pw:
            out = xp.ascontiguousarray(out[..., self.ph:self.ph + self.H, self.pw:self.pw + self.W])
        return out


class Im2ColBackward0(Node):
    """Gradient of unfold: fold the column gradient back onto the image."""

    __slots__ = ("geom", "unbatched")

    def apply(self, grad):
        if self.unbatched:
            return (self.geom.col2im(grad[None])[0],)
        return (self.geom.col2im(grad),)

    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the same col2im as the differentiable fold."""
        g = self.geom
        return (fold(grad, (g.H, g.W), (g.kh, g.kw), (g.dh, g.dw), (g.ph, g.pw), (g.sh, g.sw)),)


class Col2ImBackward0(Node):
    """Gradient of fold: unfold the image gradient into columns."""

    __slots__ = ("geom", "unbatched")

    def apply(self, grad):
        if self.unbatched:
            return (self.geom.im2col(grad[None])[0],)
        return (self.geom.im2col(grad),)

    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the same im2col as the differentiable unfold."""
        g = self.geom
        return (unfold(grad, (g.kh, g.kw), (g.dh, g.dw), (g.ph, g.pw), (g.sh, g.sw)),)


def _float_input(input, op, kernel):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    a = input._data
    if a.dtype.kind != "f":
        raise NotImplementedError(f"{op}: \"{kernel}\" not implemented for '{input.dtype}'; "
                                  "convert the input with .float() first")
    return a


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extract sliding local blocks: (N, C, H, W) -> (N, C * prod(kernel_size), L) (im2col)."""
    a = _float_input(input, "unfold", "im2col")
    if a.ndim < 3:
        raise IndexError(f"unfold: expected a 3D (C, H, W) or 4D (N, C, H, W) input, but got a {a.ndim}D input "
                         f"of size {list(a.shape)}")
    if a.ndim > 4 or 0 in a.shape[-3:]:
        raise RuntimeError(f"unfold: Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other "
                           f"non-zero dimensions for input, but got: {list(a.shape)}")
    g = _Blocks("unfold", a.shape[-2], a.shape[-1], kernel_size, dilation, padding, stride)
    if g.OH < 1 or g.OW < 1:
        raise RuntimeError(f"unfold: Given input with spatial size {(g.H, g.W)}, {g.describe()}, calculated shape "
                           f"of the array of sliding blocks as {(g.OH, g.OW)}, but its components must be at "
                           "least one. Use a smaller kernel_size or dilation, or more padding.")
    unbatched = a.ndim == 3
    out = g.im2col(a[None] if unbatched else a)
    if unbatched:
        out = out[0]
    node = None
    if state.enabled and input._requires_grad:
        node = _node(Im2ColBackward0, input)
        node.geom, node.unbatched = g, unbatched
    return _record(out, node)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combine sliding local blocks into an image, summing overlaps: (N, C * prod(k), L) -> (N, C, *output_size)."""
    a = _float_input(input, "fold", "col2im")
    if a.ndim not in (2, 3) or 0 in a.shape[-2:]:
        raise RuntimeError(f"fold: Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and "
                           f"non-zero dimensions for input, but got: {list(a.shape)}")
    H, W = _pair(output_size, "output_size", "fold")
    g = _Blocks("fold", H, W, kernel_size, dilation, padding, stride)
    k = g.kh * g.kw
    if a.shape[-2] % k:
        raise RuntimeError(f"fold: Expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size, but got input.size(1)={a.shape[-2]} and kernel_size={(g.kh, g.kw)}.")
    if a.shape[-1] != g.OH * g.OW:
        raise RuntimeError(f"fold: Given output_size={(H, W)}, {g.describe()}, stride={(g.sh, g.sw)}, expected "
                           f"size of input's dimension 2 to match the calculated number of sliding blocks "
                           f"{g.OH} * {g.OW} = {g.OH * g.OW}, but got input.size(2)={a.shape[-1]}.")
    unbatched = a.ndim == 2
    out = g.col2im(a[None] if unbatched else a)
    if unbatched:
        out = out[0]
    node = None
    if state.enabled and input._requires_grad:
        node = _node(Col2ImBackward0, input)
        node.geom, node.unbatched = g, unbatched
    return _record(out, node)


# ---- pixel_shuffle / pixel_unshuffle ----------------------------------------------------------
def _shuffle(x, r):
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r)."""
    lead, (c, h, w) = x.shape[:-3], x.shape[-3:]
    oc = c // (r * r)
    n = len(lead)
    y = x.reshape(lead + (oc, r, r, h, w)).transpose(tuple(range(n)) + (n, n + 3, n + 1, n + 4, n + 2))
    return y.reshape(lead + (oc, h * r, w * r))


def _unshuffle(x, r):
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W)."""
    lead, (c, h, w) = x.shape[:-3], x.shape[-3:]
    oh, ow = h // r, w // r
    n = len(lead)
    y = x.reshape(lead + (c, oh, r, ow, r)).transpose(tuple(range(n)) + (n, n + 2, n + 4, n + 1, n + 3))
    return y.reshape(lead + (c * r * r, oh, ow))


class PixelShuffleBackward0(Node):
    """Gradient of pixel_shuffle: pixel_unshuffle."""

    __slots__ = ("r",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: a permutation of grad; its transpose is the shuffle."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: _shuffle(a, self.r).copy())

    def apply(self, grad):
        return (_unshuffle(grad, self.r),)


class PixelUnshuffleBackward0(Node):
    """Gradient of pixel_unshuffle: pixel_shuffle."""

    __slots__ = ("r",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: a permutation of grad; its transpose is the unshuffle."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: _unshuffle(a, self.r).copy())

    def apply(self, grad):
        return (_shuffle(grad, self.r),)


def _factor(op, name, r, a):
    if not isinstance(r, (int, np.integer)) or isinstance(r, bool):
        raise TypeError(f"{op}(): argument '{name}' (position 2) must be int, not {type(r).__name__}")
    r = int(r)
    if r <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {r}")
    if a.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input with {a.ndim} "
                           "dimension(s)")
    return r


def pixel_shuffle(input, upscale_factor):
    """Rearrange (*, C * r^2, H, W) into (*, C, H * r, W * r), r = upscale_factor."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pixel_shuffle(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    a = input._data
    r = _factor("pixel_shuffle", "upscale_factor", upscale_factor, a)
    if a.shape[-3] % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
                           f"of upscale_factor, but input.size(-3)={a.shape[-3]} is not divisible by {r * r}")
    out = _shuffle(a, r)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(PixelShuffleBackward0, input)
        node.r = r
    return _record(out, node)


@_mf.settles("suggest", grads=False)
def pixel_unshuffle(input, downscale_factor):
    """Rearrange (*, C, H * r, W * r) into (*, C * r^2, H, W), r = downscale_factor."""
    if not isinstance(input, Tensor):
        raise TypeError(f"pixel_unshuffle(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    a = input._data
    r = _factor("pixel_unshuffle", "downscale_factor", downscale_factor, a)
    if a.shape[-2] % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by downscale_factor, but "
                           f"input.size(-2)={a.shape[-2]} is not divisible by {r}")
    if a.shape[-1] % r:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, but "
                           f"input.size(-1)={a.shape[-1]} is not divisible by {r}")
    out = _unshuffle(a, r)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(PixelUnshuffleBackward0, input)
        node.r = r
    return _record(out, node)


# ---- local_response_norm ----------------------------------------------------------------------
@_mf.settles("preserve")
def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """input / (k + alpha * mean of input^2 over `size` neighbouring channels) ** beta."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"local_response_norm: expected 3D or higher dimensionality input (N, C, ...), got "
                         f"{dim} dimensions (size {list(input.shape)})")
    if input.numel() == 0:
        return input
    if dim > 3 and input._data.dtype.kind == "V":   # (torch pools those through avg_pool3d, which has none)
        raise NotImplementedError("\"avg_pool3d_out_frame\" not implemented for 'BFloat16' (local_response_norm "
                                  f"pools a {dim}-d input with avg_pool3d: convert it with .float())")
    sizes = input.shape
    div = input.mul(input)
    # channels become the pooled height of an (N, 1, C, rest) image, zero-padded as torch pads them
    div = div.reshape(sizes[0], 1, sizes[1], -1)
    div = _pad(div, (0, 0, size // 2, (size - 1) // 2))
    div = _avg_pool2d(div, (size, 1), stride=1).reshape(sizes)
    div = div.mul(alpha).add(k).pow(beta)
    return input / div


# ---- channel_shuffle ---------------------------------------------------------------------------
def _channel_shuffle(x, g):
    """(N, g * k, *) -> (N, k * g, *): channel i * k + j moves to j * g + i."""
    n, c = x.shape[0], x.shape[1]
    rest = x.shape[2:]
    return x.reshape((n, g, c // g) + rest).swapaxes(1, 2).reshape(x.shape)


class ChannelShuffleBackward0(Node):
    """Gradient of channel_shuffle: the inverse shuffle, in C // groups groups."""

    __slots__ = ("groups",)
    _double_backward = True   # its formula (reshapes and a transpose) also runs on Tensors

    def apply(self, grad):
        return (_channel_shuffle(grad, grad.shape[1] // self.groups),)


def channel_shuffle(input, groups):
    """Interleave the channels of (N, C, *) from `groups` groups, as torch.nn.functional.channel_shuffle."""
    if not isinstance(input, Tensor):
        raise TypeError(f"channel_shuffle(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    a = input._data
    g = _factor("channel_shuffle", "groups", groups, a)
    if a.shape[1] % g:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {a.shape[1]} channels and {g} "
                           "groups.")
    out = _channel_shuffle(a, g)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(ChannelShuffleBackward0, input)
        node.groups = g
    return _record(out, node)


native_channel_shuffle = channel_shuffle
