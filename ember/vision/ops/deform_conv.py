"""torchvision.ops.deform_conv2d: deformable convolution (arXiv:1703.06211), modulated by a mask (v2, arXiv:1811.11168).

Each kernel tap of each output position reads the input bilinearly at its regular position plus a
learned (dy, dx) offset (zero outside the image), optionally scaled by a mask; the resulting columns
(C_in * kh * kw rows, as im2col's) meet the weight in one grouped matrix product.  The columns are one
gather of four corners for the whole batch; the backward scatters the input gradient with one
``bincount`` and gives the offsets the bilinear weights' derivatives and the mask the sampled values,
as torchvision's CPU kernel (deformable_col2im / col2im_coord) does.
"""
import math

import numpy as np

from ... import _backend as B
from ... import empty, nn, zeros
from ...nn import init
from ...ops import needs_grad, new_node, record, save_versions
from .roi_align import _CppNode, _pair

__all__ = ["deform_conv2d", "DeformConv2d"]

xp_of = B.xp_of


def _check(ok, msg):
    if not ok:
        raise RuntimeError(msg)


def _expected(cond):
    return (f"Expected {cond} to be true, but got false.  (Could this error message be improved?  If so, please "
            "report an enhancement request to PyTorch.)")


def _cdiv(a, b):
    """C's integer division (toward zero): the kernel's output size for a window larger than the input."""
    q = abs(a) // b
    return q if a >= 0 else -q


class _Taps:
    """Where every (image, offset group, kernel tap, output position) samples, and its four corners."""

    __slots__ = ("y", "x", "inside", "corners", "ly", "lx")

    def __init__(self, off, H, W, kh, kw, stride, pad, dil, OH, OW):
        Bn, G = off.shape[0], off.shape[1] // (2 * kh * kw)
        xp = xp_of(off)
        dt = off.dtype
        off = off.reshape(Bn, G, kh * kw, 2, OH * OW)
        # the regular grid in ints, then one rounding when the offset is added (the kernel's order)
        gy = (np.arange(OH) * stride[0] - pad[0])[None, None, :, None] + (np.arange(kh) * dil[0])[:, None, None, None]
        gx = (np.arange(OW) * stride[1] - pad[1])[None, None, None, :] + (np.arange(kw) * dil[1])[None, :, None, None]
        gy = np.broadcast_to(gy, (kh, kw, OH, OW)).reshape(kh * kw, OH * OW).astype(dt)
        gx = np.broadcast_to(gx, (kh, kw, OH, OW)).reshape(kh * kw, OH * OW).astype(dt)
        if xp is not np:
            gy, gx = xp.asarray(gy), xp.asarray(gx)
        y = gy + off[:, :, :, 0]
        x = gx + off[:, :, :, 1]
        self.y, self.x = y, x
        self.inside = (y > -1) & (y < H) & (x > -1) & (x < W)  # NaN: outside
        fin = xp.isfinite(y) & xp.isfinite(x) & (xp.abs(y) < 2.0 ** 30) & (xp.abs(x) < 2.0 ** 30)
        y0 = xp.floor(B.where(xp, fin, y, -2)).astype(np.int64)
        x0 = xp.floor(B.where(xp, fin, x, -2)).astype(np.int64)
        self.ly = y - y0.astype(dt)
        self.lx = x - x0.astype(dt)
        self.corners = []
        for dy in (0, 1):
            for dx in (0, 1):
                cy, cx = y0 + dy, x0 + dx
                ok = (cy >= 0) & (cy < H) & (cx >= 0) & (cx < W)
                flat = xp.clip(cy, 0, H - 1) * W + xp.clip(cx, 0, W - 1)
                self.corners.append((dy, dx, flat, ok))

    def weights(self):
        """The bilinear weight of each corner: hh * hw, hh * lw, lh * hw, lh * lw."""
        one = self.ly.dtype.type(1)
        hy, hx = one - self.ly, one - self.lx
        return [(self.ly if dy else hy) * (self.lx if dx else hx) for dy, dx, _, _ in self.corners]

    def values(self, a):
        """Each corner's pixel (zero outside the image) for every channel: (B, G, C/G, K, P) each."""
        xp = xp_of(a)
        Bn, C, H, W = a.shape
        G = self.y.shape[1]
        ar = a.reshape(Bn, G, C // G, H * W)
        bi = xp.arange(Bn)[:, None, None, None]
        gi = xp.arange(G)[None, :, None, None]
        out = []
        for _, _, flat, ok in self.corners:
            v = ar[bi, gi, :, flat]  # advanced axes first: (B, G, K, P, C/G)
            v = xp.moveaxis(v, -1, 2)
            out.append(B.where(xp, ok[:, :, None], v, 0))
        return out


def _sample(a, taps):
    """The unmasked bilinear value of every tap for every channel, (B, G, C/G, K, P), and the corners."""
    vals = taps.values(a)
    ws = taps.weights()
    s = None
    for w, v in zip(ws, vals):
        t = w[:, :, None] * v
        s = t if s is None else s + t
    return xp_of(a).where(taps.inside[:, :, None], s, 0), vals


class DeformConv2dFunction(_CppNode):
    """Gradients of deform_conv2d for input, weight, offset, mask and bias (torchvision's CPU formulas)."""

    __slots__ = ("input", "weight", "offset", "mask", "geom")
    _saved_fields = ("input", "weight", "offset", "mask")

    def apply(self, grad):
        a, wt, off, mk = self.input, self.weight, self.offset, self.mask
        stride, pad, dil, groups = self.geom
        xp = xp_of(a)
        Bn, C, H, W = a.shape
        Co, _, kh, kw = wt.shape
        OH, OW = grad.shape[2], grad.shape[3]
        K, P = kh * kw, OH * OW
        want = [f[0] is not None for f in self.next_functions]
        taps = _Taps(off, H, W, kh, kw, stride, pad, dil, OH, OW)
        G = taps.y.shape[1]
        cpg = C // G
        val, corner_vals = _sample(a, taps)
        m = None if mk is None else mk.reshape(Bn, G, 1, K, P)
        go = grad.reshape(Bn, groups, Co // groups, P)
        gw = gb = gi = goff = gm = None
        if want[1]:
            cols = val if m is None else val * m
            cols = cols.reshape(Bn, groups, (C // groups) * K, P)
            gw = (go @ cols.swapaxes(-1, -2)).sum(0).reshape(wt.shape)
        if want[4]:
            gb = grad.sum((0, 2, 3))
        if want[0] or want[2] or want[3]:
            wg = wt.reshape(groups, Co // groups, (C // groups) * K)
            gcols = (wg.swapaxes(-1, -2)[None] @ go).reshape(Bn, G, cpg, K, P)
            if want[3]:
                gm = (gcols * val).sum(2).reshape(mk.shape)
            gc = gcols if m is None else gcols * m
            if want[2]:
                # d(bilinear)/dy and /dx from the four floor corners, as col2im_coord's coordinate weight
                v00, v01, v10, v11 = corner_vals
                lx, ly = taps.lx[:, :, None], taps.ly[:, :, None]
                one = lx.dtype.type(1)
                dy = lx * (v11 - v01) + (one - lx) * (v10 - v00)
                dx = ly * (v11 - v10) + (one - ly) * (v01 - v00)
                goff = xp.stack([(gc * dy).sum(2), (gc * dx).sum(2)], 3).reshape(off.shape)
            if want[0]:
                base = ((xp.arange(Bn)[:, None] * G + xp.arange(G)[None, :]) * cpg)[:, :, None, None, None]
                chan = (base + xp.arange(cpg)[None, None, :, None, None]) * (H * W)
                idx, vals = [], []
                for (_, _, flat, ok), w in zip(taps.corners, taps.weights()):
                    keep = (ok & taps.inside)[:, :, None]
                    idx.append(xp.broadcast_to(chan + flat[:, :, None], gc.shape).ravel())
                    vals.append(B.where(xp, keep, gc * w[:, :, None], 0).ravel())
                gi = xp.bincount(xp.concatenate(idx), weights=xp.concatenate(vals), minlength=a.size)
                gi = gi.astype(a.dtype).reshape(a.shape)
        return gi, gw, goff, gm, gb


def _deform_conv2d(input, weight, offset, mask, bias, stride, pad, dil, groups, use_mask):
    """torchvision::deform_conv2d on arrays, with the kernel's shape checks."""
    a, wt, off = input._data, weight._data, offset._data
    mk = mask._data if use_mask else None
    for name, t in (("input", a), ("offset", off)):
        _check(t.ndim == 4, _expected(f"{name}_c.ndimension() == 4") + f" ({name} has shape {list(t.shape)})")
    _check(mk is None or mk.ndim == 4, _expected("!use_mask || mask_c.ndimension() == 4"))
    _check(wt.ndim == 4, _expected("weight_c.ndimension() == 4"))
    for name, t in (("offset", off), ("weight", wt), ("mask", mk), ("bias", None if bias is None else bias._data)):
        if t is not None and t.dtype != a.dtype:
            raise RuntimeError(f"expected scalar type {B.SCALAR_NAMES[B.dtype_of(a)]} but found "
                               f"{B.SCALAR_NAMES[B.dtype_of(t)]} (deform_conv2d's {name}: give every tensor the "
                               "input's dtype)")
    if a.dtype.name not in ("float16", "float32", "float64"):
        raise NotImplementedError(f"\"deformable_im2col\" not implemented for '{B.SCALAR_NAMES[B.dtype_of(a)]}'")
    Bn, C, H, W = a.shape
    Co, _, kh, kw = wt.shape
    og = off.shape[1] // (2 * kh * kw)
    OH = _cdiv(H + 2 * pad[0] - (dil[0] * (kh - 1) + 1), stride[0]) + 1
    OW = _cdiv(W + 2 * pad[1] - (dil[1] * (kw - 1) + 1), stride[1]) + 1
    _check(kh > 0 and kw > 0, f"weight_h: {kh} weight_w: {kw}")
    _check(stride[0] > 0 and stride[1] > 0, f"stride_h: {stride[0]} stride_w: {stride[1]}")
    _check(pad[0] >= 0 and pad[1] >= 0, f"pad_h: {pad[0]} pad_w: {pad[1]}")
    _check(dil[0] > 0 and dil[1] > 0, f"dilation_h: {dil[0]} dilation_w: {dil[1]}")
    _check(wt.shape[1] * groups == C, _expected("weight_c.size(1) * n_weight_grps == input_c.size(1)")
           + f" (weight {list(wt.shape)} for {C} input channels)")
    _check(Co % groups == 0, _expected("weight_c.size(0) % n_weight_grps == 0"))
    _check(off.shape[1] == og * 2 * kh * kw,
           f"offset.shape[1] is not valid: got: {off.shape[1]} expected: {og * 2 * kh * kw}")
    _check(mk is None or mk.shape[1] == og * kh * kw,
           f"mask.shape[1] is not valid: got: {mk.shape[1] if mk is not None else 0} expected: {og * kh * kw}")
    _check(C % og == 0, _expected("input_c.size(1) % n_offset_grps == 0"))
    _check(off.shape[0] == Bn, "invalid batch size of offset")
    _check(off.shape[2] == OH and off.shape[3] == OW,
           f"offset output dims: ({off.shape[2]}, {off.shape[3]}) - computed output dims: ({OH}, {OW})")
    _check(mask.shape[0] == Bn, "invalid batch size of mask")
    _check(mk is None or (mk.shape[2] == OH and mk.shape[3] == OW),
           f"mask output dims: ({mk.shape[2] if mk is not None else 0}, {mk.shape[3] if mk is not None else 0}) - "
           f"computed output dims: ({OH}, {OW})")
    _check(OH > 0 and OW > 0, f"Calculated output size too small - out_h: {OH} out_w: {OW}")
    xp = xp_of(a)
    if Bn == 0:
        out = xp.zeros((0, Co, OH, OW), a.dtype)
    else:
        taps = _Taps(off, H, W, kh, kw, stride, pad, dil, OH, OW)
        cols, _ = _sample(a, taps)
        if mk is not None:
            cols = cols * mk.reshape(Bn, og, 1, kh * kw, OH * OW)
        cols = cols.reshape(Bn, groups, (C // groups) * kh * kw, OH * OW)
        out = wt.reshape(groups, Co // groups, -1)[None] @ cols
        out = out.reshape(Bn, Co, OH, OW)
    if bias is not None:
        out = out + bias._data.reshape(1, Co, 1, 1)
    node = None
    if needs_grad(input, weight, offset, mask if use_mask else None, bias):
        node = new_node(DeformConv2dFunction, (input, weight, offset, mask if use_mask else None, bias))
        node.input, node.weight, node.offset, node.mask = a, wt, off, mk
        node.geom = (stride, pad, dil, groups)
        save_versions(node, *[t for t in (input, weight, offset, mask if use_mask else None) if t is not None])
    return record(out, node)


def deform_conv2d(input, offset, weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), mask=None):
    """Deformable convolution (v2 when a mask is given); returns Tensor[B, C_out, out_h, out_w]."""
    out_channels = weight.shape[0]
    use_mask = mask is not None
    if mask is None:  # torchvision passes a (B, 1) placeholder the kernel never reads
        mask = zeros((input.shape[0], 1), dtype=input.dtype, device=input.device)
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    weights_h, weights_w = weight.shape[-2:]
    _, n_in_channels, _, _ = input.shape
    n_offset_grps = offset.shape[1] // (2 * weights_h * weights_w)
    n_weight_grps = n_in_channels // weight.shape[1]
    if n_offset_grps == 0:
        raise RuntimeError("the shape of the offset tensor at dimension 1 is not valid. It should be a multiple of "
                           "2 * weight.size[2] * weight.size[3].\n"
                           f"Got offset.shape[1]={offset.shape[1]}, while 2 * weight.size[2] * weight.size[3]="
                           f"{2 * weights_h * weights_w}")
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise RuntimeError(f"deform_conv2d: bias has shape {list(bias.shape)}, expected [{out_channels}] "
                           "(one value per output channel)")
    return _deform_conv2d(input, weight, offset, mask, bias, stride, padding, dilation, n_weight_grps, use_mask)


class DeformConv2d(nn.Module):
    """Module form of deform_conv2d: holds the weight (and bias); offset and mask come with each call."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True):
        super().__init__()
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        self.padding = _pair(padding)
        self.dilation = _pair(dilation)
        self.groups = groups
        self.weight = nn.Parameter(empty(out_channels, in_channels // groups, self.kernel_size[0],
                                         self.kernel_size[1]))
        if bias:
            self.bias = nn.Parameter(empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Kaiming-uniform weight and uniform bias, as Conv2d's."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input, offset, mask=None):
        return deform_conv2d(input, offset, self.weight, self.bias, stride=self.stride, padding=self.padding,
                             dilation=self.dilation, mask=mask)

    def __repr__(self):
        s = (f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        s += f", padding={self.padding}" if self.padding != (0, 0) else ""
        s += f", dilation={self.dilation}" if self.dilation != (1, 1) else ""
        s += f", groups={self.groups}" if self.groups != 1 else ""
        s += ", bias=False" if self.bias is None else ""
        return s + ")"

