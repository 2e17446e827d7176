"""torch.fft: discrete Fourier transforms on the array module's fft (numpy.fft, cupy.fft), with gradients.

Every transform is one of three primitives, as in torch: complex-to-complex (FftC2CBackward0),
real-to-complex (FftR2CBackward0, the one-sided rfft or the full fft of a real input) and
complex-to-real (FftC2RBackward0).  Each gradient is the adjoint transform: the inverse transform
with the normalisation scale kept (numpy's norm names swapped), then, for r2c, the real part of the
zero-padded gradient, and for c2r, the one-sided r2c of the gradient with the mirrored bins doubled.
An ``n``/``s`` that pads or trims the input is part of the op: its gradient is trimmed or padded back.
"""
import numpy as np

from . import _backend as B
from .autograd.grad_mode import state
from .autograd.graph import Node, edge
from ._tensor import Tensor, _dim
from .ops import record
from .ops.creation import _finish as _place

__all__ = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn",
           "rfftn", "irfftn", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

xp_of = B.xp_of
_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}
_COMPLEX = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128),
            np.dtype(np.complex64): np.dtype(np.complex64), np.dtype(np.complex128): np.dtype(np.complex128)}
_REAL = {np.dtype(np.complex64): np.dtype(np.float32), np.dtype(np.complex128): np.dtype(np.float64)}


def _norm(norm):
    if norm is None:
        return "backward"
    if norm not in _SWAP:
        raise RuntimeError(f'Invalid normalization mode: "{norm}" (use "backward", "ortho" or "forward")')
    return norm


def _resize(a, axes, sizes):
    """a trimmed or zero-padded along axes to sizes (a itself when nothing changes)."""
    if all(a.shape[ax] == n for ax, n in zip(axes, sizes)):
        return a
    xp = xp_of(a)
    shape = list(a.shape)
    for ax, n in zip(axes, sizes):
        shape[ax] = n
    out = xp.zeros(tuple(shape), dtype=a.dtype)
    key = tuple(slice(0, min(a.shape[i], shape[i])) for i in range(a.ndim))
    out[key] = a[key]
    return out


def _input(input, name, want_real=False):
    """input's array as a floating or complex array torch's fft would take."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fft_{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    a = input._data
    kind = a.dtype.kind
    if kind == "c":
        if want_real:
            raise RuntimeError(f"{name} expects a real input tensor, but got {B.SCALAR_NAMES[input.dtype]}")
        return a
    if a.dtype == np.float16:
        raise RuntimeError("Unsupported dtype Half (ember's fft runs in float32 or float64: call .float() first)")
    if kind != "f":
        a = a.astype(B.get_default_dtype().np)
    return a


class _Fft(Node):
    """The common node: kind 'c2c' | 'r2c' | 'c2r' and what its adjoint needs."""
    __slots__ = ("axes", "norm", "forward", "onesided", "in_shape", "orig_shape", "real_in", "last_n")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the adjoint transform is linear in grad; its adjoint is the transform itself."""
        from .autograd.higher_order import linear_pair
        dtype = grad._data.dtype
        return linear_pair(self, grad, lambda a: self._transform(a).astype(dtype, copy=False))

    def _transform(self, a):
        """The op's own transform of array a (input-shaped, resized as the op resized its input)."""
        xp = xp_of(a)
        axes, norm, kind = self.axes, self.norm, self._kind
        x = _resize(a, axes, [self.in_shape[ax] for ax in axes])
        if kind == "c2r":
            return xp.fft.irfftn(x, s=[self.in_shape[ax] for ax in axes[:-1]] + [self.last_n], axes=axes, norm=norm)
        if kind == "r2c" and self.onesided:
            return xp.fft.rfftn(x, axes=axes, norm=norm)
        return (xp.fft.fftn if self.forward else xp.fft.ifftn)(x, axes=axes, norm=norm)

    def apply(self, g):
        xp = xp_of(g)
        axes, norm = self.axes, _SWAP[self.norm]
        kind = self._kind
        if kind == "c2c":
            gi = (xp.fft.ifftn if self.forward else xp.fft.fftn)(g, axes=axes, norm=norm)
            if self.real_in:
                gi = gi.real
        elif kind == "r2c":
            if self.onesided:
                g = _resize(g, axes[-1:], (self.in_shape[axes[-1]],))
            gi = xp.fft.ifftn(g, axes=axes, norm=norm).real
        else:
            gi = xp.fft.rfftn(g, axes=axes, norm=norm)
            ax = axes[-1]
            double = g.shape[ax] - gi.shape[ax]
            if double > 0:   # the bins irfft mirrored count twice
                key = [slice(None)] * gi.ndim
                key[ax] = slice(1, 1 + double)
                gi[tuple(key)] *= 2
            gi = _resize(gi, (ax,), (self.in_shape[ax],))
        gi = _resize(gi, axes, [self.orig_shape[ax] for ax in axes])
        dtype = self._grad_dtype(g)
        return (gi.astype(dtype, copy=False),)

    def _grad_dtype(self, g):
        kind = self._kind
        if kind == "c2c":
            return _REAL[g.dtype] if self.real_in else g.dtype
        if kind == "r2c":
            return _REAL[g.dtype]
        return _COMPLEX[g.dtype]


class FftC2CBackward0(_Fft):
    __slots__ = ()
    _kind = "c2c"


class FftR2CBackward0(_Fft):
    __slots__ = ()
    _kind = "r2c"


class FftC2RBackward0(_Fft):
    __slots__ = ()
    _kind = "c2r"


def _axes_sizes(a, s, dim, name, c2r=False):
    """torch's fftn argument rules: the dims transformed and the signal size along each."""
    nd = a.ndim
    if dim is None:
        if s is None:
            axes = tuple(range(nd))
        else:
            if len(s) > nd:
                raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has {nd} dimensions.")
            axes = tuple(range(nd - len(s), nd))
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        axes = tuple(_dim(d, nd) for d in dims)
        if len(set(axes)) != len(axes):
            raise RuntimeError(f"{name} dims must be unique")
        if s is not None and len(s) != len(axes):
            raise RuntimeError(f"When given, dim and shape arguments must have the same length (got s of length "
                               f"{len(s)} and dim of length {len(axes)})")
    if s is None:
        sizes = [a.shape[ax] for ax in axes]
        if c2r and axes:
            sizes[-1] = 2 * (a.shape[axes[-1]] - 1)
    else:
        sizes = [int(n) for n in s]
        for i, n in enumerate(sizes):
            if n == -1:
                sizes[i] = a.shape[axes[i]] if not (c2r and i == len(sizes) - 1) else 2 * (a.shape[axes[i]] - 1)
    for n in sizes:
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return axes, sizes


def _transform(input, a, kind, axes, sizes, norm, forward=True, onesided=True):
    """Run one primitive on array a (input's data, maybe cast) and record its node."""
    xp = xp_of(a)
    real_in = a.dtype.kind != "c"
    if kind == "c2r":
        in_sizes = list(sizes[:-1]) + [sizes[-1] // 2 + 1]
        x = _resize(a, axes, in_sizes)
        out_dtype = _REAL[_COMPLEX[a.dtype]]
        res = xp.fft.irfftn(x, s=sizes, axes=axes, norm=norm)
    else:
        x = _resize(a, axes, sizes)
        out_dtype = _COMPLEX[a.dtype]
        if kind == "r2c" and onesided:
            res = xp.fft.rfftn(x, axes=axes, norm=norm)
        else:
            res = (xp.fft.fftn if forward else xp.fft.ifftn)(x, axes=axes, norm=norm)
    res = res.astype(out_dtype, copy=False)
    node = None
    if state.enabled and input._requires_grad:
        cls = FftC2CBackward0 if kind == "c2c" else FftR2CBackward0 if kind == "r2c" else FftC2RBackward0
        node = cls.__new__(cls)
        node.next_functions = (edge(input),)
        node._saved_versions = ()
        node.axes, node.norm, node.forward, node.onesided = axes, norm, forward, onesided
        node.in_shape, node.orig_shape, node.real_in = x.shape, a.shape, real_in and kind == "c2c"
        node.last_n = sizes[-1]
    return record(res, node)


def _as_complex(a):
    return a if a.dtype.kind == "c" else a.astype(_COMPLEX[a.dtype])


def _c2c(input, s, dim, norm, forward, name):
    a = _input(input, name)
    axes, sizes = _axes_sizes(a, s, dim, name)
    norm = _norm(norm)
    if a.dtype.kind != "c" and forward:   # torch: a real input takes the r2c path, both halves filled
        return _transform(input, a, "r2c", axes, sizes, norm, onesided=False)
    return _transform(input, _as_complex(a), "c2c", axes, sizes, norm, forward)


def _r2c(input, s, dim, norm, name):
    a = _input(input, name, want_real=True)
    axes, sizes = _axes_sizes(a, s, dim, name)
    return _transform(input, a, "r2c", axes, sizes, _norm(norm))


def _c2r(input, s, dim, norm, name):
    a = _as_complex(_input(input, name))
    axes, sizes = _axes_sizes(a, s, dim, name, c2r=True)
    return _transform(input, a, "c2r", axes, sizes, _norm(norm))


def _one(n, dim):
    return (None if n is None else (n,)), (dim,)


def fft(input, n=None, dim=-1, norm=None, *, out=None):
    """The 1-d discrete Fourier transform along dim."""
    s, d = _one(n, dim)
    return _out(_c2c(input, s, d, norm, True, "fft"), out)


def ifft(input, n=None, dim=-1, norm=None, *, out=None):
    """The 1-d inverse discrete Fourier transform along dim."""
    s, d = _one(n, dim)
    return _out(_c2c(input, s, d, norm, False, "ifft"), out)


def rfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The 1-d Fourier transform of a real signal: the n // 2 + 1 non-negative frequencies."""
    s, d = _one(n, dim)
    return _out(_r2c(input, s, d, norm, "rfft"), out)


def irfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of rfft: a real signal of length n (2 * (m - 1) by default) from one-sided frequencies."""
    s, d = _one(n, dim)
    return _out(_c2r(input, s, d, norm, "irfft"), out)


def hfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The Fourier transform of a Hermitian-symmetric signal given by its first half: a real result."""
    from .ops.complex import conj
    _input(input, "hfft")
    s, d = _one(n, dim)
    x = conj(input) if input.is_complex() else input
    return _out(_c2r(x, s, d, _SWAP[_norm(norm)], "hfft"), out)


def ihfft(input, n=None, dim=-1, norm=None, *, out=None):
    """The inverse of hfft: the one-sided Hermitian spectrum of a real signal."""
    from .ops.complex import conj
    s, d = _one(n, dim)
    res = _r2c(input, s, d, _SWAP[_norm(norm)], "ihfft")
    return _out(conj(res), out)


def fftn(input, s=None, dim=None, norm=None, *, out=None):
    """The N-d discrete Fourier transform over dim (all dims, or the last len(s), by default)."""
    return _out(_c2c(input, s, dim, norm, True, "fftn"), out)


def ifftn(input, s=None, dim=None, norm=None, *, out=None):
    """The N-d inverse discrete Fourier transform."""
    return _out(_c2c(input, s, dim, norm, False, "ifftn"), out)


def rfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The N-d Fourier transform of a real signal, one-sided in the last dim."""
    return _out(_r2c(input, s, dim, norm, "rfftn"), out)


def irfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of rfftn: a real signal from its one-sided N-d spectrum."""
    return _out(_c2r(input, s, dim, norm, "irfftn"), out)


def fft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-d discrete Fourier transform (over the last two dims by default)."""
    return fftn(input, s, dim, norm, out=out)


def ifft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-d inverse discrete Fourier transform."""
    return ifftn(input, s, dim, norm, out=out)


def rfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-d Fourier transform of a real signal."""
    return rfftn(input, s, dim, norm, out=out)


def irfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The inverse of rfft2."""
    return irfftn(input, s, dim, norm, out=out)


def hfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The N-d Fourier transform of a Hermitian-symmetric signal given by its one-sided last dim: real."""
    from .ops.complex import conj
    _input(input, "hfftn")
    x = conj(input) if input.is_complex() else input
    # the forward transform of a Hermitian signal is the inverse real transform of its conjugate
    return _out(_c2r(x, s, dim, _SWAP[_norm(norm)], "hfftn"), out)


def ihfftn(input, s=None, dim=None, norm=None, *, out=None):
    """The inverse of hfftn: the one-sided N-d Hermitian spectrum of a real signal."""
    from .ops.complex import conj
    if isinstance(input, Tensor) and input.is_complex():
        raise RuntimeError(f"Only supports floating-point dtypes, but found: {B.SCALAR_NAMES[input.dtype]} "
                           "(ihfftn transforms a real signal; pass its real part or use ifftn)")
    res = _r2c(input, s, dim, _SWAP[_norm(norm)], "ihfftn")
    return _out(conj(res), out)


def hfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-d hfftn (over the last two dims by default)."""
    return hfftn(input, s, dim, norm, out=out)


def ihfft2(input, s=None, dim=(-2, -1), norm=None, *, out=None):
    """The 2-d ihfftn (over the last two dims by default)."""
    return ihfftn(input, s, dim, norm, out=out)


def _out(res, out):
    if out is None:
        return res
    if out._data.shape != res._data.shape:
        out._data = res._data.astype(out._data.dtype, copy=True)
    else:
        out._data[...] = res._data
    out._vc[0] += 1
    return out


def _freq(ks, n, d, dtype, device, requires_grad):
    # torch's kernel: integer bins in the result dtype times (1 / (n * d)) rounded to that dtype
    dt = (B.get_default_dtype() if dtype is None else B.as_dtype(dtype)).np
    return _place(ks.astype(dt) * dt.type(1.0 / (n * d)), device, requires_grad)


def fftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The sample frequencies of an n-point fft with sample spacing d: [0, 1, ..., -1] / (d * n)."""
    ks = np.concatenate([np.arange((n + 1) // 2), np.arange(-(n // 2), 0)])
    return _freq(ks, n, d, dtype, device, requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The non-negative sample frequencies of an n-point rfft: [0, 1, ..., n // 2] / (d * n)."""
    return _freq(np.arange(n // 2 + 1), n, d, dtype, device, requires_grad)


def _shift(input, dim, sign):
    from .ops.shape import roll
    nd = input._data.ndim
    dims = tuple(range(nd)) if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
    shape = input._data.shape
    shifts = [sign * (shape[_dim(d, nd)] // 2) if sign > 0 else -(shape[_dim(d, nd)] // 2) for d in dims]
    return roll(input, shifts, dims)


def fftshift(input, dim=None):
    """Move the zero frequency to the centre (a roll by n // 2 along dim, all dims by default)."""
    return _shift(input, dim, 1)


def ifftshift(input, dim=None):
    """The inverse of fftshift (a roll by -(n // 2))."""
    return _shift(input, dim, -1)
