"""torchvision.tv_tensors: Tensor subclasses that tell the v2 transforms what a tensor holds.

As in torchvision, a TVTensor is a plain Tensor with a type tag (and, for BoundingBoxes, metadata):
ordinary ops on one return a pure ``Tensor`` (ember's ops build plain Tensors), while ``.to``,
``.clone``, ``.detach`` and ``.requires_grad_`` keep the type, and the v2 transforms re-wrap their
outputs with ``wrap(output, like=input)``.
"""
from enum import Enum

import numpy as np

from .._tensor import Tensor

__all__ = ["TVTensor", "Image", "Video", "Mask", "BoundingBoxes", "BoundingBoxFormat", "wrap"]

_SLOTS = ("_data", "_requires_grad", "grad_fn", "_vc", "_accumulator", "_hooks", "_retains_grad", "_base",
          "_view_vc", "_creation_meta")


def _rebind(tensor, cls):
    """A ``cls`` instance over tensor's storage and autograd state (no copy)."""
    out = object.__new__(cls)
    for name in _SLOTS:
        object.__setattr__(out, name, getattr(tensor, name, None))
    return out


def _to_tensor(data, dtype=None, device=None, requires_grad=None):
    if isinstance(data, Tensor):
        t = data if type(data) is Tensor else _rebind(data, Tensor)
        if dtype is not None or device is not None:
            t = t.to(dtype=dtype, device=device)
        rg = data.requires_grad if requires_grad is None else requires_grad
    else:
        from .. import as_tensor
        t = as_tensor(data, dtype=dtype, device=device)
        rg = bool(requires_grad)
    if rg and not t.requires_grad:
        t = t.detach().requires_grad_(True) if t.grad_fn is not None else t.requires_grad_(True)
    return t


class TVTensor(Tensor):
    """Base class of the tv_tensors."""

    @classmethod
    def _wrap(cls, tensor):
        return _rebind(tensor, cls)

    def as_subclass(self, cls):
        """The same storage viewed as cls (ToPureTensor uses cls=Tensor)."""
        return _rebind(self, cls)

    def _meta_like(self, out):
        return wrap(out, like=self)

    def to(self, *args, **kwargs):
        return self._meta_like(Tensor.to(self, *args, **kwargs))

    def clone(self, *args, **kwargs):
        return self._meta_like(Tensor.clone(self, *args, **kwargs))

    def detach(self):
        return self._meta_like(Tensor.detach(self))

    def requires_grad_(self, requires_grad=True):
        Tensor.requires_grad_(self, requires_grad)
        return self

    def _make_repr(self, **kwargs):
        extra = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        return f"{Tensor.__repr__(self)[:-1]}, {extra})"

    def __repr__(self, *, tensor_contents=None):
        return self._make_repr()

    def __reduce_ex__(self, protocol):
        # pickled (DataLoader workers): rebuilt as the same tv_tensor type
        return (_rebuild, (type(self), np.asarray(self._data) if type(self._data) is np.ndarray
                           else self._data, self.__dict__.copy()))


def _pure_result(name):
    base = getattr(Tensor, name)

    def method(self, *args, **kwargs):
        out = base(self, *args, **kwargs)
        return _rebind(out, Tensor) if isinstance(out, TVTensor) else out
    method.__name__ = method.__qualname__ = name
    method.__doc__ = base.__doc__
    return method


# Tensor methods that can hand back ``self`` (a no-op conversion, an in-place op): torchvision unwraps
# every op's output except clone/to/detach/requires_grad_, so these return a pure Tensor too
for _name in ("float", "double", "half", "int", "long", "short", "byte", "char", "bool", "contiguous", "cpu",
              "cuda", "type", "type_as", "add_", "sub_", "mul_", "div_", "clamp_", "clamp_min_", "clamp_max_",
              "round_", "abs_", "neg_", "pow_", "sqrt_", "exp_", "log_", "fill_", "zero_", "copy_",
              "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__", "__ipow__"):
    if hasattr(Tensor, _name):
        setattr(TVTensor, _name, _pure_result(_name))


def _rebuild(cls, array, meta):
    from .._tensor import _wrap
    out = cls._wrap(_wrap(array))
    out.__dict__.update(meta)
    return out


class Image(TVTensor):
    """A (..., C, H, W) image; a 2-D input gets a channel axis; PIL images are converted without scaling."""

    def __new__(cls, data, *, dtype=None, device=None, requires_grad=None):
        from .transforms import functional as _F1
        if _F1._is_pil_image(data):
            data = _F1.pil_to_tensor(data)
        t = _to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        if t.ndim < 2:
            raise ValueError(f"tv_tensors.Image expects a tensor of at least 2 dimensions (..., H, W), "
                             f"got shape {tuple(t.shape)}")
        if t.ndim == 2:
            t = t.unsqueeze(0)
        return cls._wrap(t)


class Video(TVTensor):
    """A (..., T, C, H, W) video."""

    def __new__(cls, data, *, dtype=None, device=None, requires_grad=None):
        t = _to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        if t.ndim < 4:
            raise ValueError(f"tv_tensors.Video expects a tensor of at least 4 dimensions (..., T, C, H, W), "
                             f"got shape {tuple(t.shape)}")
        return cls._wrap(t)


class Mask(TVTensor):
    """A segmentation or detection mask (..., H, W); transforms resize it with NEAREST and never rescale it."""

    def __new__(cls, data, *, dtype=None, device=None, requires_grad=None):
        from .transforms import functional as _F1
        if _F1._is_pil_image(data):
            data = _F1.pil_to_tensor(data)
        t = _to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        return cls._wrap(t)

    def __repr__(self, *, tensor_contents=None):
        return Tensor.__repr__(self)  # torchvision's Mask prints as a plain tensor: Mask([[0, 1]])


class BoundingBoxFormat(Enum):
    """Coordinate format of BoundingBoxes."""
    XYXY = "XYXY"
    XYWH = "XYWH"
    CXCYWH = "CXCYWH"


class BoundingBoxes(TVTensor):
    """Boxes (N, 4) in ``format`` on an image of ``canvas_size`` (height, width)."""

    def __new__(cls, data, *, format, canvas_size, clamping_mode="soft", dtype=None, device=None,
                requires_grad=None):
        t = _to_tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        if t.ndim == 1:
            t = t.unsqueeze(0)
        elif t.ndim != 2:
            raise ValueError(f"Expected a 1D or 2D tensor, got {t.ndim}D")
        return cls._wrap_meta(t, format=format, canvas_size=canvas_size, clamping_mode=clamping_mode)

    @classmethod
    def _wrap_meta(cls, tensor, *, format, canvas_size, clamping_mode="soft"):
        if isinstance(format, str):
            format = BoundingBoxFormat[format.upper()]
        if not isinstance(format, BoundingBoxFormat):
            raise TypeError(f"format should be a BoundingBoxFormat or its name, got {format!r}")
        if clamping_mode is not None and clamping_mode not in ("hard", "soft"):
            raise ValueError(f"clamping_mode must be None, hard or soft, got {clamping_mode}.")
        out = _rebind(tensor, cls)
        out.format = format
        out.canvas_size = tuple(int(s) for s in canvas_size)
        out.clamping_mode = clamping_mode
        return out

    def __repr__(self, *, tensor_contents=None):
        return self._make_repr(format=self.format, canvas_size=self.canvas_size, clamping_mode=self.clamping_mode)


def wrap(wrappee, *, like, **kwargs):
    """wrappee (a Tensor) as the tv_tensor type of ``like``, with like's metadata unless overridden."""
    if isinstance(like, BoundingBoxes):
        return BoundingBoxes._wrap_meta(wrappee, format=kwargs.get("format", like.format),
                                        canvas_size=kwargs.get("canvas_size", like.canvas_size),
                                        clamping_mode=kwargs.get("clamping_mode", like.clamping_mode))
    return type(like)._wrap(wrappee)
