"""Spatial sampling: affine_grid (torch.affine_grid_generator) and grid_sample (torch.grid_sampler).

affine_grid maps a base grid of normalized output coordinates in [-1, 1] through a batch of
affine matrices: one matrix product, whose backward is another.  grid_sample reads the input
at the (x, y) positions of a grid, as torch's 2-D grid sampler (GridSampler.h): the coordinates
are unnormalized (``align_corners``), then clipped or reflected (``padding_mode``), then
sampled by the nearest pixel or bilinearly from the four neighbours.  The gather is one fancy
index per corner; the backward scatters into the input with a single ``bincount`` (no
``np.add.at``) and differentiates the bilinear weights for the grid, chained through the
unnormalize / clip / reflect steps as torch does.
"""
import math

import numpy as np

from .. import _backend as B
from .. import _fma
from .._userwarn import warn as _warn_user
from ..autograd.graph import Node
from . import Tensor, kernel_for, needs_grad, new_node, record, save_versions
from .creation import _linspace_values

# names torch exposes at top level
__all__ = ["affine_grid_generator", "grid_sampler"]

# names torch.nn.functional exposes from this module
__functional__ = ["affine_grid", "grid_sample"]

xp_of = B.xp_of

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                  "Please specify align_corners=True if the old behavior is desired. See the documentation of "
                  "grid_sample for details.")

_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
_PADDINGS = {"zeros": 0, "border": 1, "reflection": 2}


# ---- affine_grid -------------------------------------------------------------------------------
def _linspace_from_neg_one(xp, n, align_corners, dtype):
    """torch's linspace_from_neg_one: n points over [-1, 1], pulled in to pixel centres unless align_corners."""
    if n <= 1:
        return xp.zeros(1, dtype)
    r = _linspace_values(-1, 1, n, np.dtype(dtype))  # torch's linspace bits (numpy's differ in the last one)
    if xp is not np:
        r = xp.asarray(r)
    if not align_corners:
        r = r * dtype.type(n - 1) / dtype.type(n)
    return r


def _base_grid(xp, spatial, align_corners, dtype):
    """(prod(spatial), k + 1) rows (x, y[, z], 1) of normalized output coordinates, x fastest."""
    k = len(spatial)
    base = xp.ones(tuple(spatial) + (k + 1,), dtype)
    for axis in range(k):  # coordinate axis 0 (x) runs along the last spatial dim
        dim = k - 1 - axis
        shape = [1] * k
        shape[dim] = spatial[dim]
        base[..., axis] = _linspace_from_neg_one(xp, spatial[dim], align_corners, dtype).reshape(shape)
    return base.reshape(-1, k + 1)


class AffineGridGeneratorBackward0(Node):
    """grid = base @ theta^T per batch; d theta = grad^T @ base."""

    __slots__ = ("base",)
    _saved_fields = ("base",)
    # its formula also runs on Tensors (create_graph=True); the base grid is a constant
    _double_backward = True
    _constant_fields = ("base",)

    def apply(self, grad):
        n, m = grad.shape[0], grad.shape[-1]
        return (grad.reshape(n, -1, m).swapaxes(1, 2) @ self.base,)


_blas_fuses = None
_FMA_OF = {np.dtype(np.float32): _fma.fma32, np.dtype(np.float64): _fma.fma64}


def _torch_blas_fuses():
    """Whether torch's CPU BLAS (MKL) fuses multiply-adds here: on Intel CPUs with FMA.  Elsewhere it
    runs generic code: on an AMD EPYC its affine grids were plain sums (benchmarks/NOTES.md)."""
    global _blas_fuses
    if _blas_fuses is None:
        vendor, flags = "", []
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("vendor_id"):
                        vendor = line.split(":", 1)[1].strip()
                    elif line.startswith("flags"):
                        flags = line.split(":", 1)[1].split()
                        break
        except OSError:
            pass
        _blas_fuses = vendor == "GenuineIntel" and "fma" in flags
    return _blas_fuses


def affine_grid_generator(theta, size, align_corners):
    """torch.affine_grid_generator: the sampling grid (N, *spatial, k) of the affine matrices theta (N, k, k+1)."""
    a = theta._data
    xp = xp_of(a)
    size = [int(s) for s in size]
    spatial = size[2:]
    base = _base_grid(xp, spatial, bool(align_corners), a.dtype)
    # torch's bmm sums base[k] * theta[k] in order from a zero accumulator: in a plain loop below 400
    # multiply-adds a matrix, else in its BLAS, which fuses them on Intel CPUs.  One ulp off can move
    # a grid point across a pixel edge, where grid_sample's gradient jumps
    fused = xp is np and a.dtype in _FMA_OF and base.size * a.shape[1] >= 400 and _torch_blas_fuses()
    fma = _FMA_OF.get(a.dtype)
    out = xp.zeros((a.shape[0], base.shape[0], a.shape[1]), a.dtype)
    for k in range(base.shape[1]):
        if fused:
            out = fma(base[None, :, k:k + 1], a[:, None, :, k], out).astype(a.dtype, copy=False)
        else:
            out = out + base[None, :, k:k + 1] * a[:, None, :, k]
    out = out.reshape([size[0]] + spatial + [len(spatial)])
    node = None
    if needs_grad(theta):
        node = new_node(AffineGridGeneratorBackward0, (theta,))
        node.base = base
    return record(out, node)


def affine_grid(theta, size, align_corners=None):
    """The flow field (N, H, W, 2) (or (N, D, H, W, 3)) that samples the affine transforms theta with grid_sample."""
    if align_corners is None:
        _warn_user(_ALIGN_WARNING)
        align_corners = False
    if not isinstance(theta, Tensor):
        raise TypeError(f"affine_grid(): argument 'theta' (position 1) must be Tensor, not {type(theta).__name__}")
    if theta._data.dtype.kind not in "fcV":
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    shown, size = size, list(size)
    if len(size) == 4:
        if theta.dim() != 3 or theta.shape[-2] != 2 or theta.shape[-1] != 3:
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{shown}. Got {theta.shape}.")
        spatial_size = size[-2:]
    elif len(size) == 5:
        if theta.dim() != 3 or theta.shape[-2] != 3 or theta.shape[-1] != 4:
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{shown}. Got {theta.shape}.")
        spatial_size = size[-3:]
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {shown}.")
    if align_corners and min(spatial_size) == 1:
        _warn_user("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                   "align_corners=True. This is not an intended use case of affine_grid. See the documentation "
                   "of affine_grid for details.")
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {shown}")
    if theta.shape[0] != size[0]:
        raise RuntimeError(f"affine_grid: theta holds {theta.shape[0]} matrices but size asks for a batch of "
                           f"{size[0]}; pass x.size() of the batch theta was computed from.")
    return affine_grid_generator(theta, size, align_corners)


# ---- grid_sample -------------------------------------------------------------------------------
def _clip(xp, x, size):
    """Clamp to [0, size - 1]; the derivative is 1 strictly inside, 0 where clamped."""
    hi = size - 1
    g = ((x > 0) & (x < hi)).astype(x.dtype)
    return xp.clip(x, 0, hi), g


def _reflect(xp, x, twice_low, twice_high):
    """Reflect x off the borders twice_low / 2 and twice_high / 2 until it falls between them."""
    if twice_low == twice_high:
        return xp.zeros_like(x), xp.zeros_like(x)
    t = x.dtype.type
    lo = t(twice_low / 2)
    span = t((twice_high - twice_low) / 2)
    x = x - lo
    sign = B.where(xp, x < 0, t(-1), t(1))
    x = xp.abs(x)
    extra = xp.fmod(x, span)
    odd = (xp.floor(x / span) % 2) == 1
    return B.where(xp, odd, span - extra + lo, extra + lo), B.where(xp, odd, -sign, sign)


def _source_index(xp, coord, size, padding, align_corners):
    """Pixel coordinate of normalized coord along a side of `size` pixels, and d(pixel)/d(coord)."""
    t = coord.dtype.type
    if align_corners:
        x = (coord + 1) / 2 * t(size - 1)
        mult = t((size - 1) / 2)
    else:
        x = ((coord + 1) * t(size) - 1) / 2
        mult = t(size / 2)
    mult = xp.full(coord.shape, mult, coord.dtype)
    if padding == 1:
        x, g = _clip(xp, x, size)
        mult *= g
    elif padding == 2:
        if align_corners:
            x, g = _reflect(xp, x, 0, 2 * (size - 1))
        else:
            x, g = _reflect(xp, x, -1, 2 * size - 1)
        x, g2 = _clip(xp, x, size)
        mult *= g * g2
    # torch's safe_downgrade_to_int_range: non-finite or huge coordinates read nothing
    bad = ~xp.isfinite(x) | (xp.abs(x) > 2.0 ** 30)
    if bad.any():
        x = B.where(xp, bad, t(-100), x)
    return x, mult


def _dims(ndim):
    return f"{ndim}D" if ndim in (4, 5) else "4D or 5D"


class _Sampler:
    """The gather / scatter geometry of one grid_sample call, 2-D or volumetric: per corner (in torch's order,
    x fastest: nw, ne, sw, se, then the same one depth further), flat pixel index and validity."""

    __slots__ = ("corners", "coords", "mults")

    def __init__(self, xp, grid, sizes, mode, padding, align_corners):
        # sizes (W, H[, D]): the input's extent along grid coordinates x, y[, z]
        self.coords, self.mults = [], []
        for axis, size in enumerate(sizes):
            c, m = _source_index(xp, grid[..., axis], size, padding, align_corners)
            self.coords.append(c)
            self.mults.append(m)
        if mode == 1:
            bases = [xp.rint(c) for c in self.coords]  # nearbyint: half to even
            offsets = [(0,) * len(sizes)]
        else:
            bases = [xp.floor(c) for c in self.coords]
            offsets = [tuple(int(b) for b in reversed(f"{k:0{len(sizes)}b}")) for k in range(2 ** len(sizes))]
        n = grid.shape[0]
        self.corners = []
        for off in offsets:
            cs = [b + o for b, o in zip(bases, off)]
            valid = flat = None
            stride = 1
            for c, size in zip(cs, sizes):
                inside = (c >= 0) & (c <= size - 1)
                term = xp.clip(c, 0, size - 1).astype(np.int64) * stride
                valid = inside if valid is None else valid & inside
                flat = term if flat is None else flat + term
                stride *= size
            self.corners.append((off, cs, flat.reshape(n, -1), valid.reshape(n, -1)))

    def factors(self, off, cs, skip=None):
        """This corner's bilinear factors along each axis (but skip), shaped (N, P), x first."""
        n = self.coords[0].shape[0]
        out = []
        for axis, (o, c, ic) in enumerate(zip(off, cs, self.coords)):
            if axis != skip:
                c, ic = c.reshape(n, -1), ic.reshape(n, -1)
                out.append(ic - c + 1 if o else c + 1 - ic)   # the far corner: ic - c0; the near one: c1 - ic
        return out

    def weights(self):
        """Bilinear (or nearest: None, a weight of 1) weight of each corner, shaped (N, P)."""
        if len(self.corners) == 1:
            return [None]
        out = []
        for off, cs, _, _ in self.corners:
            f = self.factors(off, cs)
            w = f[0]
            for x in f[1:]:
                w = w * x
            out.append(w)
        return out


_A = -0.75  # torch's cubic convolution constant (grid_sample and non-antialiased bicubic interpolate)


def _cubic_coefficients(tx):
    """torch's get_cubic_coefficients (GridSamplerKernel.cpp) at the taps -1, 0, 1, 2 of fraction tx."""
    t = tx.dtype.type
    A = t(_A)
    out = []
    for k, x in enumerate((tx + t(1), tx, t(1) - tx, t(2) - tx)):
        if k in (0, 3):
            out.append(((A * x - t(5) * A) * x + t(8) * A) * x - t(4) * A)
        else:
            out.append(((A + t(2)) * x - (A + t(3))) * x * x + t(1))
    return out


def _cubic_coefficients_grad(tx):
    """d(coefficient)/d(tap offset) as torch's get_cubic_coefficients_grad (its sign convention)."""
    t = tx.dtype.type
    A = t(_A)
    x0, x1, x2, x3 = t(-1) - tx, t(0) - tx, t(1) - tx, t(2) - tx
    return [(t(-3) * A * x0 - t(10) * A) * x0 - t(8) * A, (t(-3) * (A + t(2)) * x1 - t(2) * (A + t(3))) * x1,
            (t(3) * (A + t(2)) * x2 - t(2) * (A + t(3))) * x2, (t(3) * A * x3 - t(10) * A) * x3 + t(8) * A]


class _BicubicTaps:
    """grid_sample's bicubic geometry: the 4x4 neighbourhood of each point, read through padding_mode
    (torch's get_value_bounded: integer tap coordinates clipped or reflected, zero outside)."""

    __slots__ = ("flat", "valid", "cx", "cy", "tx", "ty", "gx_mult", "gy_mult")

    def __init__(self, xp, grid, H, W, padding, align_corners):
        n = grid.shape[0]
        gx, gy = grid[..., 0].reshape(n, -1), grid[..., 1].reshape(n, -1)
        x, self.gx_mult = _unnormalize(gx, W, align_corners)
        y, self.gy_mult = _unnormalize(gy, H, align_corners)
        x0, y0 = xp.floor(x), xp.floor(y)
        self.tx, self.ty = x - x0, y - y0
        self.cx, self.cy = _cubic_coefficients(self.tx), _cubic_coefficients(self.ty)
        xs = [_bounded(xp, x0 + x0.dtype.type(k - 1), W, padding, align_corners) for k in range(4)]
        ys = [_bounded(xp, y0 + y0.dtype.type(k - 1), H, padding, align_corners) for k in range(4)]
        self.flat, self.valid = {}, {}
        for j, (yi, yv) in enumerate(ys):
            for i, (xi, xv) in enumerate(xs):
                self.valid[i, j] = xv & yv
                self.flat[i, j] = xp.clip(yi, 0, H - 1) * W + xp.clip(xi, 0, W - 1)


def _unnormalize(coord, size, align_corners):
    """Pixel coordinate of coord (grid_sampler_unnormalize) and its slope d(pixel)/d(coord)."""
    t = coord.dtype.type
    if align_corners:
        return (coord + t(1)) * t((size - 1) / 2), t((size - 1) / 2)
    return ((coord + t(1)) * t(size) - t(1)) / t(2), t(size / 2)


def _bounded(xp, c, size, padding, align_corners):
    """Integer tap coordinates after padding_mode, as int64, and whether they fall inside."""
    if padding == 1:
        c = xp.clip(c, 0, size - 1)
    elif padding == 2:
        c = _reflect(xp, c, 0, 2 * (size - 1))[0] if align_corners else _reflect(xp, c, -1, 2 * size - 1)[0]
        c = xp.clip(c, 0, size - 1)
    ok = xp.isfinite(c) & (xp.abs(c) < 2.0 ** 30)
    ci = B.where(xp, ok, c, -1).astype(np.int64)  # torch truncates toward zero; a huge or NaN tap reads nothing
    return ci, ok & (ci >= 0) & (ci <= size - 1)


def _bicubic_forward(xp, a, taps):
    N, C = a.shape[:2]
    af = a.reshape(N, C, -1)
    rows = []
    for j in range(4):  # four horizontal interpolations, then one vertical, in torch's order
        row = None
        for i in range(4):
            v = _gather(xp, af, taps.flat[i, j], taps.cx[i] * taps.valid[i, j])
            row = v if row is None else row + v
        rows.append(row)
    out = rows[0] * taps.cy[0][:, None, :]
    for j in range(1, 4):
        out = out + rows[j] * taps.cy[j][:, None, :]
    return out


def _gather(xp, a, flat, factor):
    """a (N, C, H*W) at the pixels flat (N, P), times factor (N, P) -> (N, C, P). factor carries the
    taps' validity (0 where outside), and may carry their weights too: v * (w * valid) has the bits
    of v * valid * w (valid is 0 or 1) and saves a pass over (N, C, P)."""
    n = a.shape[0]
    v = a[xp.arange(n)[:, None], :, flat]  # (N, P, C): the advanced axes come first
    v *= factor[:, :, None]
    return v.swapaxes(1, 2)


class GridSampler2DBackward0(Node):
    """Gradient of grid_sample for the input (scattered by bincount) and for the grid (bilinear only)."""

    __slots__ = ("input", "grid", "mode", "padding", "align_corners")
    _saved_fields = ("input", "grid")

    def apply(self, grad):
        if self.mode == 2:
            return self._bicubic(grad)
        a, grid = self.input, self.grid
        xp = xp_of(a)
        N, C = a.shape[:2]
        sizes = a.shape[:1:-1]   # (W, H[, D])
        npix = math.prod(sizes)
        s = _Sampler(xp, grid, sizes, self.mode, self.padding, self.align_corners)
        g = grad.reshape(N, C, -1)
        P = g.shape[2]
        weights = s.weights()
        gi = gg = None
        want_input, want_grid = self.next_functions[0][0] is not None, self.next_functions[1][0] is not None
        if want_input:
            base = (xp.arange(N * C, dtype=np.int64) * npix).reshape(N, C, 1)
            idx, vals = [], []
            for (_, _, flat, valid), w in zip(s.corners, weights):
                wv = valid.astype(a.dtype) if w is None else w * valid
                idx.append((base + flat[:, None, :]).ravel())
                vals.append((g * wv[:, None, :]).ravel())
            gi = xp.bincount(xp.concatenate(idx), weights=xp.concatenate(vals), minlength=N * C * npix)
            gi = gi.astype(a.dtype).reshape(a.shape)
        if want_grid:
            if self.mode == 1:
                gg = xp.zeros_like(grid)
            else:
                af = a.reshape(N, C, npix)
                gc = [xp.zeros((N, P), a.dtype) for _ in sizes]
                for off, cs, flat, valid in s.corners:
                    v = _gather(xp, af, flat, valid.astype(a.dtype)) * g  # (N, C, P)
                    for axis in range(len(sizes)):
                        # d(weight)/d(coordinate) of this corner: the other axes' factors, signed
                        t = v
                        for f in s.factors(off, cs, skip=axis):
                            t = t * f[:, None, :]
                        gc[axis] += t.sum(1) if off[axis] else -t.sum(1)
                gg = xp.stack([gc[k].reshape(s.coords[k].shape) * s.mults[k] for k in range(len(sizes))], -1)
        return gi, gg

    def _bicubic(self, grad):
        """torch's bicubic backward: each of the 16 taps scatters gOut * cx[i] * cy[j] into the input; the grid
        gets -sum(value * gOut * dcx[i] * cy[j]) (and likewise for y), times the unnormalize slope."""
        a, grid = self.input, self.grid
        xp = xp_of(a)
        N, C, H, W = a.shape
        taps = _BicubicTaps(xp, grid, H, W, self.padding, self.align_corners)
        g = grad.reshape(N, C, -1)
        gi = gg = None
        if self.next_functions[0][0] is not None:
            base = (xp.arange(N * C, dtype=np.int64) * (H * W)).reshape(N, C, 1)
            idx, vals = [], []
            for (i, j), flat in taps.flat.items():
                w = taps.cx[i] * taps.cy[j] * taps.valid[i, j]
                idx.append((base + flat[:, None, :]).ravel())
                vals.append((g * w[:, None, :]).ravel())
            gi = xp.bincount(xp.concatenate(idx), weights=xp.concatenate(vals), minlength=N * C * H * W)
            gi = gi.astype(a.dtype).reshape(a.shape)
        if self.next_functions[1][0] is not None:
            af = a.reshape(N, C, H * W)
            dx, dy = _cubic_coefficients_grad(taps.tx), _cubic_coefficients_grad(taps.ty)
            gx = xp.zeros(taps.tx.shape, a.dtype)
            gy = xp.zeros(taps.tx.shape, a.dtype)
            for i in range(4):
                for j in range(4):
                    v = (_gather(xp, af, taps.flat[i, j], taps.valid[i, j].astype(a.dtype)) * g).sum(1)
                    gx = gx - v * dx[i] * taps.cy[j]
                    gy = gy - v * dy[j] * taps.cx[i]
            gg = xp.stack([gx * taps.gx_mult, gy * taps.gy_mult], -1).reshape(grid.shape)
        return gi, gg


GridSampler3DBackward0 = type("GridSampler3DBackward0", (GridSampler2DBackward0,), {"__slots__": ()})


def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    """torch.grid_sampler: sample input (N, C, H, W) at grid (N, H_out, W_out, 2), or (N, C, D, H, W) at
    (N, D_out, H_out, W_out, 3); the modes as integer codes."""
    a, gr = input._data, grid._data
    if a.dtype != gr.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but input has "
                           f"{input.dtype} and grid has {grid.dtype}")
    if a.ndim not in (4, 5) or a.ndim != gr.ndim:
        raise RuntimeError(f"grid_sampler(): expected {_dims(a.ndim)} input and grid with same number of dimensions, but "
                           f"got input with sizes {list(a.shape)} and grid with sizes {list(gr.shape)}")
    if a.shape[0] != gr.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got input with "
                           f"sizes {list(a.shape)} and grid with sizes {list(gr.shape)}")
    if gr.shape[-1] != a.ndim - 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {a.ndim - 2} in last dimension, but got "
                           f"grid with sizes {list(gr.shape)}")
    for i in range(2, a.ndim):
        if a.shape[i] <= 0:
            raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial dimensions, but input "
                               f"has sizes {list(a.shape)} with dimension {i} being empty")
    if a.ndim == 5 and interpolation_mode == 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input (sample volumes with "
                           "mode='bilinear' or 'nearest')")
    kernel_for(a.dtype, "grid_sampler_2d_cpu_kernel_impl" if a.ndim == 4 else "grid_sampler3d_cpu", "f")
    xp = xp_of(a)
    if interpolation_mode == 2:
        N, C, H, W = a.shape
        out = _bicubic_forward(xp, a, _BicubicTaps(xp, gr, H, W, padding_mode, bool(align_corners)))
        out = out.reshape(N, C, gr.shape[1], gr.shape[2])
    else:
        out = _sample(xp, a, gr, interpolation_mode, padding_mode, align_corners)
    node = None
    if needs_grad(input, grid):
        node = new_node(GridSampler2DBackward0 if a.ndim == 4 else GridSampler3DBackward0, (input, grid))
        node.input, node.grid = a, gr
        node.mode, node.padding, node.align_corners = interpolation_mode, padding_mode, bool(align_corners)
        save_versions(node, input, grid)
    return record(out, node)


def _sample(xp, a, gr, interpolation_mode, padding_mode, align_corners):
    N, C = a.shape[:2]
    s = _Sampler(xp, gr, a.shape[:1:-1], interpolation_mode, padding_mode, bool(align_corners))
    af = a.reshape(N, C, -1)
    out = None
    for (_, _, flat, valid), w in zip(s.corners, s.weights()):
        v = _gather(xp, af, flat, valid.astype(a.dtype) if w is None else w * valid)
        if out is None:
            out = v
        else:
            out += v
    return out.reshape((N, C) + gr.shape[1:-1])


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample input (N, C, H, W) at the normalized (x, y) positions of grid (N, H_out, W_out, 2)."""
    if mode not in _MODES:
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', "
                         f"but got: '{mode}'")
    if padding_mode not in _PADDINGS:
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        _warn_user(_ALIGN_WARNING)
        align_corners = False
    return grid_sampler(input, grid, _MODES[mode], _PADDINGS[padding_mode], align_corners)
