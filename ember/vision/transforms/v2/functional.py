"""torchvision.transforms.v2.functional: one function per op, dispatched on the input's type.

As in torchvision, each functional looks up a kernel registered for ``type(inpt)``: pure Tensors,
``tv_tensors.Image`` and PIL images share v1's image code (ember/vision/transforms/functional.py);
``Mask`` gets NEAREST resampling and no colour ops; ``BoundingBoxes`` get coordinate kernels. A
tv_tensor input comes back as the same tv_tensor type; a pure Tensor comes back pure. A type with no
kernel is a TypeError here, and passes through unchanged inside a v2 transform.

torchvision's per-type kernels are public too (``resize_image``, ``resize_mask``,
``resize_bounding_boxes``, ``*_video``, ...): they take and return pure tensors, the box kernels take the
format and canvas size as arguments and, where the canvas changes, return ``(boxes, canvas_size)``.
"""
import math
import numbers
import warnings

import numpy as np

from ... import tv_tensors
from ...tv_tensors import BoundingBoxes, BoundingBoxFormat, Image, Mask, TVTensor, Video
from ...._tensor import Tensor, _wrap
from .... import _backend as B
from .. import functional as _F1
from ..functional import InterpolationMode, _interpolation_modes_from_int

__all__ = [
    "InterpolationMode", "register_kernel", "is_pure_tensor", "get_dimensions", "get_num_channels", "get_size",
    "get_image_size", "get_image_num_channels", "to_image", "pil_to_tensor", "to_pil_image", "to_tensor",
    "to_dtype", "convert_image_dtype", "normalize", "resize", "crop", "center_crop", "resized_crop",
    "horizontal_flip", "vertical_flip", "hflip", "vflip", "pad", "rotate", "gaussian_blur", "erase",
    "adjust_brightness", "adjust_contrast", "adjust_saturation", "adjust_hue", "rgb_to_grayscale",
    "to_grayscale", "convert_bounding_box_format", "clamp_bounding_boxes", "sanitize_bounding_boxes",
    "permute_channels", "affine", "perspective",
    "five_crop", "ten_crop", "invert", "posterize", "solarize", "adjust_sharpness", "autocontrast", "equalize",
    "adjust_gamma", "gaussian_noise", "grayscale_to_rgb", "jpeg", "elastic", "elastic_transform", "get_num_frames",
    "uniform_temporal_subsample",
    # per-type kernels
    "adjust_brightness_image", "adjust_brightness_video", "adjust_contrast_image", "adjust_contrast_video",
    "adjust_gamma_image", "adjust_gamma_video", "adjust_hue_image", "adjust_hue_video", "adjust_saturation_image",
    "adjust_saturation_video", "adjust_sharpness_image", "adjust_sharpness_video", "affine_bounding_boxes",
    "affine_image", "affine_mask", "affine_video", "autocontrast_image", "autocontrast_video",
    "center_crop_bounding_boxes", "center_crop_image", "center_crop_mask", "center_crop_video", "crop_bounding_boxes",
    "crop_image", "crop_mask", "crop_video", "elastic_bounding_boxes", "elastic_image", "elastic_mask",
    "elastic_video", "equalize_image", "equalize_video", "erase_image", "erase_video", "five_crop_image",
    "five_crop_video", "gaussian_blur_image", "gaussian_blur_video", "gaussian_noise_image", "gaussian_noise_video",
    "get_dimensions_image", "get_dimensions_video", "get_num_channels_image", "get_num_channels_video",
    "get_num_frames_video", "get_size_bounding_boxes", "get_size_image", "get_size_mask", "get_size_video",
    "grayscale_to_rgb_image", "horizontal_flip_bounding_boxes", "horizontal_flip_image", "horizontal_flip_mask",
    "horizontal_flip_video", "invert_image", "invert_video", "jpeg_image", "jpeg_video", "normalize_image",
    "normalize_video", "pad_bounding_boxes", "pad_image", "pad_mask", "pad_video", "permute_channels_image",
    "permute_channels_video", "perspective_bounding_boxes", "perspective_image", "perspective_mask",
    "perspective_video", "posterize_image", "posterize_video", "resize_bounding_boxes", "resize_image", "resize_mask",
    "resize_video", "resized_crop_bounding_boxes", "resized_crop_image", "resized_crop_mask", "resized_crop_video",
    "rgb_to_grayscale_image", "rotate_bounding_boxes", "rotate_image", "rotate_mask", "rotate_video",
    "solarize_image", "solarize_video", "ten_crop_image", "ten_crop_video", "to_dtype_image", "to_dtype_video",
    "uniform_temporal_subsample_video", "vertical_flip_bounding_boxes", "vertical_flip_image", "vertical_flip_mask",
    "vertical_flip_video",
]

_KERNELS = {}  # functional -> {input type: kernel}


def is_pure_tensor(inpt):
    """True for a Tensor that is not a tv_tensor."""
    return isinstance(inpt, Tensor) and not isinstance(inpt, TVTensor)


def _pure(t):
    return t if type(t) is Tensor else tv_tensors._rebind(t, Tensor)


def _register(functional, *types, wrapper=True):
    """Register kernel for types; with wrapper, a tv_tensor input is unwrapped and the output re-wrapped."""
    def deco(kernel):
        reg = _KERNELS.setdefault(functional, {})
        for t in types:
            if wrapper and issubclass(t, TVTensor):
                def wrapped(inpt, *args, _k=kernel, **kwargs):
                    return tv_tensors.wrap(_k(_pure(inpt), *args, **kwargs), like=inpt)
                reg[t] = wrapped
            else:
                reg[t] = kernel
        return kernel
    return deco


def register_kernel(functional, tv_tensor_cls):
    """Decorator: register a kernel of functional for a (custom) tv_tensor class, torchvision's API."""
    if not (isinstance(tv_tensor_cls, type) and issubclass(tv_tensor_cls, TVTensor)):
        raise ValueError(f"Kernels can only be registered for subclasses of torchvision.tv_tensors.TVTensor, "
                         f"but got {tv_tensor_cls}.")

    def deco(kernel):
        _KERNELS.setdefault(functional, {})[tv_tensor_cls] = kernel
        return kernel
    return deco


def _noop(inpt, *args, **kwargs):
    return inpt


def _get_kernel(functional, input_type, allow_passthrough=False):
    reg = _KERNELS.get(functional, {})
    for cls in input_type.__mro__:
        if cls in reg:
            return reg[cls]
        if cls is TVTensor:
            break  # a tv_tensor without its own kernel does not fall back to the pure-Tensor one
    if allow_passthrough:
        return _noop
    names = ", ".join(sorted(t.__name__ for t in reg)) or "none"
    raise TypeError(f"Functional F.{functional.__name__} supports inputs of type {names}, "
                    f"but got {input_type} instead.")


def _pil_type():
    return _F1._pil().Image


def _image_types():
    return (Tensor, Image, _pil_type())


# ---- sizes ------------------------------------------------------------------------------------
def get_dimensions(inpt):
    """[channels, height, width] of an image (Tensor, Image, PIL) or video."""
    if isinstance(inpt, (Mask, BoundingBoxes)):
        raise TypeError(f"get_dimensions does not support {type(inpt).__name__} inputs")
    return _F1.get_dimensions(inpt)


def get_num_channels(inpt):
    """The number of channels of an image."""
    return get_dimensions(inpt)[0]


get_image_num_channels = get_num_channels


def get_size(inpt):
    """[height, width] of an image, video, mask or the canvas of bounding boxes."""
    if isinstance(inpt, BoundingBoxes):
        return list(inpt.canvas_size)
    if isinstance(inpt, Tensor):
        if inpt.ndim < 2:
            raise TypeError(f"get_size: expected at least 2 dimensions (..., H, W), got shape {tuple(inpt.shape)}")
        return list(inpt.shape[-2:])
    if _F1._is_pil_image(inpt):
        w, h = inpt.size
        return [h, w]
    raise TypeError(f"get_size: unsupported input type {type(inpt)}")


def get_image_size(inpt):
    """[width, height] (deprecated in torchvision; use get_size)."""
    h, w = get_size(inpt)
    return [w, h]


# ---- conversions ------------------------------------------------------------------------------
def to_image(inpt):
    """ndarray (H, W, C), PIL Image or Tensor -> tv_tensors.Image, without scaling values."""
    if isinstance(inpt, np.ndarray):
        out = _wrap(np.ascontiguousarray(np.atleast_3d(inpt).transpose(2, 0, 1)))
    elif _F1._is_pil_image(inpt):
        out = _F1.pil_to_tensor(inpt)
    elif isinstance(inpt, Tensor):
        out = inpt
    else:
        raise TypeError(f"Input can either be a pure Tensor, a numpy array, or a PIL image, "
                        f"but got {type(inpt)} instead.")
    return Image(out)


pil_to_tensor = _F1.pil_to_tensor
to_pil_image = _F1.to_pil_image


def to_tensor(inpt):
    """[DEPRECATED] v1's to_tensor; use to_image() followed by to_dtype(..., scale=True)."""
    warnings.warn("The function `to_tensor(...)` is deprecated and will be removed in a future release. "
                  "Instead, please use `to_image(...)` followed by `to_dtype(..., dtype=torch.float32, scale=True)`.")
    return _F1.to_tensor(inpt)


_NUM_VALUE_BITS = {np.dtype(np.uint8): 8, np.dtype(np.int8): 7, np.dtype(np.int16): 15, np.dtype(np.uint16): 16,
                   np.dtype(np.int32): 31, np.dtype(np.int64): 63}


def _num_value_bits(dt):
    try:
        return _NUM_VALUE_BITS[np.dtype(dt)]
    except KeyError:
        raise TypeError(f"Number of value bits is only defined for integer dtypes, but got {dt}.") from None


def _max_int(dt):
    return (1 << _num_value_bits(dt)) - 1


def to_dtype(inpt, dtype=None, scale=False):
    """Convert to dtype; with scale, images map ints [0, MAX] <-> floats [0, 1] as torchvision does."""
    dtype = B.float32 if dtype is None else dtype
    return _get_kernel(to_dtype, type(inpt))(inpt, dtype=dtype, scale=scale)


def _to_dtype_image(image, dtype=None, scale=False):
    dtype = B.as_dtype(B.float32 if dtype is None else dtype)
    if image.dtype == dtype:
        return image
    if not scale:
        return image.to(dtype)
    a = _F1._arr(image)
    out = dtype.np
    if a.dtype.kind == "f":
        if out.kind == "f":
            return _wrap(a.astype(out))
        if (a.dtype == np.float32 and out in (np.int32, np.int64)) or (a.dtype == np.float64 and out == np.int64):
            raise RuntimeError(f"The conversion from {image.dtype} to {dtype} cannot be performed safely.")
        # torchvision multiplies by MAX + 1 - eps and truncates (no clamp, no round): 1.0 -> MAX, 0.999 -> MAX
        return _wrap((a * a.dtype.type(_max_int(out) + 1.0 - 1e-3)).astype(out))
    if out.kind == "f":  # bool counts as an integer type with maximum 1, as in torchvision
        return _wrap(a.astype(out) * out.type(1.0 / _F1._max_value(a.dtype)))
    shift = abs(_num_value_bits(a.dtype) - _num_value_bits(out))
    if _num_value_bits(a.dtype) > _num_value_bits(out):
        return _wrap((a >> shift).astype(out))
    return _wrap(a.astype(out) << out.type(shift))


def _to_dtype_other(inpt, dtype=None, scale=False):
    return inpt.to(dtype)  # masks and boxes are never rescaled; TVTensor.to keeps the type


_register(to_dtype, Tensor, Image, Video)(_to_dtype_image)
_register(to_dtype, Mask, BoundingBoxes, wrapper=False)(_to_dtype_other)


def convert_image_dtype(image, dtype=None):
    """[DEPRECATED] to_dtype(image, dtype, scale=True)."""
    return _to_dtype_image(image, dtype=dtype, scale=True)


# ---- normalize / blur / erase -----------------------------------------------------------------
def normalize(inpt, mean, std, inplace=False):
    """(image - mean) / std per channel of a float image."""
    return _get_kernel(normalize, type(inpt))(inpt, mean=mean, std=std, inplace=inplace)


@_register(normalize, Tensor, Image, Video)
def _normalize_image(image, mean, std, inplace=False):
    if not image.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {image.dtype}.")
    if image.ndim < 3:
        raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got {tuple(image.shape)}.")
    return _F1.normalize(image, mean, std, inplace)


def gaussian_blur(inpt, kernel_size, sigma=None):
    """Blur with a Gaussian kernel (reflect padding), torchvision's kernel weights."""
    return _get_kernel(gaussian_blur, type(inpt))(inpt, kernel_size=kernel_size, sigma=sigma)


def _gaussian_kernel1d(ksize, sigma, dt):
    lim = (ksize - 1) / (2.0 * math.sqrt(2.0))
    x = np.linspace(-lim, lim, ksize).astype(dt)
    e = -((x / dt.type(sigma)) ** 2)
    e = np.exp(e - e.max())
    return (e / e.sum()).astype(dt)


def _check_reflect_padding(shape, px, py):
    """torch's reflection pad (which torchvision blurs with) needs padding < the side it reflects; NumPy's
    would reflect again and again, so without this check a small image gives a result where torch fails."""
    if len(shape) < 3:
        return
    n = int(np.prod(shape[:-3], dtype=np.int64)) if len(shape) > 3 else 1
    shape4 = [n] + list(shape[-3:])
    for p, dim, arg in ((px, 3, 4), (py, 2, 6)):
        if p >= shape4[dim]:
            raise RuntimeError(f"Argument #{arg}: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({p}, {p}) at dimension {dim} of input {shape4}; the blur's "
                               f"kernel_size (here {2 * p + 1}) must be smaller than twice the image side")


@_register(gaussian_blur, Tensor, Image, Video)
def _gaussian_blur_image(image, kernel_size, sigma=None):
    if isinstance(kernel_size, int):
        kernel_size = [kernel_size, kernel_size]
    elif len(kernel_size) != 2:
        raise ValueError(f"If kernel_size is a sequence its length should be 2. Got {len(kernel_size)}")
    for k in kernel_size:
        if k % 2 == 0 or k < 0:
            raise ValueError(f"kernel_size should have odd and positive integers. Got {kernel_size}")
    if sigma is None:
        sigma = [k * 0.15 + 0.35 for k in kernel_size]
    elif isinstance(sigma, (list, tuple)):
        if len(sigma) == 1:
            sigma = [sigma[0], sigma[0]]
        elif len(sigma) != 2:
            raise ValueError(f"If sigma is a sequence, its length should be 2. Got {len(sigma)}")
    elif isinstance(sigma, (int, float)):
        sigma = [float(sigma), float(sigma)]
    else:
        raise TypeError(f"sigma should be either float or sequence of floats. Got {type(sigma)}")
    for s in sigma:
        if s <= 0.0:
            raise ValueError(f"sigma should have positive values. Got {sigma}")
    a = _F1._arr(image)
    if a.size == 0:
        return image
    _check_reflect_padding(a.shape, kernel_size[0] // 2, kernel_size[1] // 2)
    fp = a.dtype.kind == "f"
    dt = a.dtype if fp else np.dtype(np.float32)
    kx = _gaussian_kernel1d(kernel_size[0], sigma[0], dt)
    ky = _gaussian_kernel1d(kernel_size[1], sigma[1], dt)
    px, py = kernel_size[0] // 2, kernel_size[1] // 2
    x = a.astype(dt)
    pad = [(0, 0)] * (x.ndim - 2) + [(py, py), (px, px)]
    x = np.pad(x, pad, mode="reflect")
    h, w = a.shape[-2:]
    rows = sum(ky[i] * x[..., i:i + h, :] for i in range(len(ky)))  # vertical pass
    out = sum(kx[j] * rows[..., :, j:j + w] for j in range(len(kx)))  # horizontal pass
    out = np.asarray(out, dtype=dt)
    if not fp:
        out = np.round(out).astype(a.dtype)
    return _wrap(np.ascontiguousarray(out))


@_register(gaussian_blur, _F1._pil().Image)
def _gaussian_blur_pil(image, kernel_size, sigma=None):
    out = _gaussian_blur_image(_F1.pil_to_tensor(image), kernel_size, sigma)
    return _F1.to_pil_image(out, mode=image.mode)


def erase(inpt, i, j, h, w, v, inplace=False):
    """Set the (i, j, h, w) region of an image to v (a tensor broadcastable to (C, h, w))."""
    return _get_kernel(erase, type(inpt))(inpt, i=i, j=j, h=h, w=w, v=v, inplace=inplace)


@_register(erase, Tensor, Image, Video)
def _erase_image(image, i, j, h, w, v, inplace=False):
    a = _F1._arr(image)
    out = a if inplace else a.copy()
    vv = _F1._arr(v) if isinstance(v, Tensor) else np.asarray(v)
    out[..., i:i + h, j:j + w] = vv.astype(out.dtype)
    if inplace:
        image._bump()
        return image
    return _wrap(out)


@_register(erase, _F1._pil().Image)
def _erase_pil(image, i, j, h, w, v, inplace=False):
    out = _erase_image(_F1.pil_to_tensor(image), i, j, h, w, v)
    return _F1.to_pil_image(out, mode=image.mode)


# ---- colour: images only (masks and boxes have no kernel and pass through the transforms) ----
def _color(name, v1fn):
    def functional(inpt, *args, **kwargs):
        return _get_kernel(functional, type(inpt))(inpt, *args, **kwargs)
    functional.__name__ = functional.__qualname__ = name
    functional.__doc__ = v1fn.__doc__
    _register(functional, Tensor, Image, Video, _F1._pil().Image)(v1fn)
    return functional


def _fma_f(a, b, c):
    """torch's a + alpha * b (add_ with alpha) for float arrays: one fused multiply-add in float32."""
    if a.dtype == np.float32:
        return _fma32(b, np.asarray(c, np.float32), a)
    return a + b * c


def _blend_v2(a, b, ratio):
    """torchvision v2's _blend: image1.mul(ratio).add_(image2, alpha=1 - ratio), clamped, truncated for ints."""
    ratio = float(ratio)
    fp = a.dtype.kind == "f"
    dt = a.dtype if fp else np.dtype(np.float32)
    out = a.astype(dt, copy=False) * dt.type(ratio)
    out = _fma_f(out, np.asarray(b).astype(dt, copy=False), dt.type(1.0 - ratio))
    out = np.clip(out, 0, _F1._max_value(a.dtype))
    return out if fp else out.astype(a.dtype)


def _gray_v2(a):
    """r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114) in float, keeping the channel axis."""
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    r, g, b = (a[..., k, :, :].astype(dt, copy=False) for k in range(3))
    out = _fma_f(_fma_f(r * dt.type(0.2989), g, dt.type(0.587)), b, dt.type(0.114))
    return out[..., None, :, :]


def _v2_colour_args(image, factor, name):
    if factor < 0:
        raise ValueError(f"{name}_factor ({factor}) is not non-negative.")
    a = _F1._arr(image)
    c = a.shape[-3]
    if c not in (1, 3):
        raise TypeError(f"Input image tensor permitted channel values are 1 or 3, but found {c}")
    return a, c


def _adjust_brightness_v2(image, brightness_factor):
    if _F1._is_pil_image(image) or _F1._tracks_grad(image):
        return _F1.adjust_brightness(image, brightness_factor)
    a, _ = _v2_colour_args(image, brightness_factor, "brightness")
    fp = a.dtype.kind == "f"
    dt = a.dtype if fp else np.dtype(np.float32)
    out = np.clip(a.astype(dt, copy=False) * dt.type(brightness_factor), 0, _F1._max_value(a.dtype))
    return _wrap(out if fp else out.astype(a.dtype))


def _adjust_saturation_v2(image, saturation_factor):
    if _F1._is_pil_image(image) or _F1._tracks_grad(image):
        return _F1.adjust_saturation(image, saturation_factor)
    a, c = _v2_colour_args(image, saturation_factor, "saturation")
    if c == 1:
        return image
    gray = _gray_v2(a)
    if a.dtype.kind != "f":
        gray = np.floor(gray)
    return _wrap(_blend_v2(a, gray, saturation_factor))


def _adjust_contrast_v2(image, contrast_factor):
    if _F1._is_pil_image(image) or _F1._tracks_grad(image):
        return _F1.adjust_contrast(image, contrast_factor)
    a, c = _v2_colour_args(image, contrast_factor, "contrast")
    fp = a.dtype.kind == "f"
    if c == 3:
        gray = _gray_v2(a)
        if not fp:
            gray = np.floor(gray)
    else:
        gray = a if fp else a.astype(np.float32)
    mean = np.mean(gray, axis=(-3, -2, -1), keepdims=True, dtype=gray.dtype)
    return _wrap(_blend_v2(a, mean, contrast_factor))


def _rgb_to_hsv_v2(img):
    """torchvision v2's _rgb_to_hsv in float32, its operations in its order (h * (1/6), not h / 6)."""
    f = np.float32
    r, g = img[..., 0, :, :], img[..., 1, :, :]
    maxc, minc = img.max(axis=-3), img.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    s = cr / np.where(eqc, f(1), maxc)
    rc, gc, bc = np.moveaxis((maxc[..., None, :, :] - img) / np.where(eqc, f(1), cr)[..., None, :, :], -3, 0)
    neq_r, eq_g = maxc != r, maxc == g
    hg = (rc + f(2) - bc) * (eq_g & neq_r)
    hr = (bc - gc) * ~neq_r
    hb = (gc + f(4) - rc) * (neq_r & ~eq_g)
    h = np.fmod((hr + hg + hb) * f(1.0 / 6.0) + f(1), f(1))
    return h, s, maxc


def _hsv_to_rgb_v2(h, s, v):
    f = np.float32
    h6 = h * f(6)
    i = np.floor(h6)
    fr = h6 - i
    i = i.astype(np.int32) % 6
    sxf = s * fr
    one_minus_s = f(1) - s
    q = np.clip((f(1) - sxf) * v, 0, 1)
    t = np.clip((sxf + one_minus_s) * v, 0, 1)
    p = np.clip(one_minus_s * v, 0, 1)
    conds = [i == k for k in range(6)]
    return np.stack((np.select(conds, [v, q, p, p, t, v]), np.select(conds, [t, v, v, q, p, p]),
                     np.select(conds, [p, p, t, v, v, q])), axis=-3)


def _adjust_hue_v2(image, hue_factor):
    if _F1._is_pil_image(image) or _F1._tracks_grad(image):
        return _F1.adjust_hue(image, hue_factor)
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    a = _F1._arr(image)
    c = a.shape[-3]
    if c not in (1, 3):
        raise TypeError(f"Input image tensor permitted channel values are 1 or 3, but found {c}")
    if c == 1 or a.size == 0:
        return image
    # v2 works in float32 whatever the input dtype, and converts back with to_dtype(scale=True)
    x = _F1._arr(_to_dtype_image(_wrap(a), B.float32, scale=True))
    h, s, v = _rgb_to_hsv_v2(x)
    h = np.mod(h + np.float32(hue_factor), np.float32(1))
    out = _wrap(np.ascontiguousarray(_hsv_to_rgb_v2(h, s, v)))
    return _to_dtype_image(out, B.FROM_NUMPY[a.dtype], scale=True)


# v2 has its own tensor kernels for these (fused multiply-adds, floored grayscale): they differ from
# v1's by one grey level now and then, so each version follows its own torchvision
adjust_brightness = _color("adjust_brightness", _adjust_brightness_v2)
adjust_brightness.__doc__ = _F1.adjust_brightness.__doc__
adjust_contrast = _color("adjust_contrast", _adjust_contrast_v2)
adjust_contrast.__doc__ = _F1.adjust_contrast.__doc__
adjust_saturation = _color("adjust_saturation", _adjust_saturation_v2)
adjust_saturation.__doc__ = _F1.adjust_saturation.__doc__
adjust_hue = _color("adjust_hue", _adjust_hue_v2)
adjust_hue.__doc__ = _F1.adjust_hue.__doc__
rgb_to_grayscale = _color("rgb_to_grayscale", _F1.rgb_to_grayscale)
to_grayscale = rgb_to_grayscale


def permute_channels(inpt, permutation):
    """The channels reordered: output channel i is input channel permutation[i]."""
    return _get_kernel(permute_channels, type(inpt))(inpt, permutation=permutation)


@_register(permute_channels, Tensor, Image, Video)
def _permute_channels_image(image, permutation):
    shape = tuple(image.shape)
    c, h, w = shape[-3:]
    if len(permutation) != c:
        raise ValueError(f"Length of permutation does not match number of channels: {len(permutation)} != {c}")
    if image.numel() == 0:
        return image
    perm = [int(i) for i in (permutation.tolist() if isinstance(permutation, Tensor) else permutation)]
    return image.reshape(-1, c, h, w)[:, perm, :, :].reshape(shape)


@_register(permute_channels, _pil_type())
def _permute_channels_pil(image, permutation):
    return _F1.to_pil_image(_permute_channels_image(_F1.pil_to_tensor(image), permutation), mode=image.mode)


# ---- bounding boxes -------------------------------------------------------------------------
def _xyxy(a, fmt, dt=np.float64):
    """XYXY coordinates of boxes a in fmt, computed in float type dt in torchvision's order
    (x1 = cx - w / 2, then x2 = x1 + w)."""
    a = a.astype(dt)
    if fmt is BoundingBoxFormat.XYWH:
        return np.concatenate([a[..., :2], a[..., :2] + a[..., 2:]], -1)
    if fmt is BoundingBoxFormat.CXCYWH:
        lo = a[..., :2] - a[..., 2:] / 2
        return np.concatenate([lo, lo + a[..., 2:]], -1)
    return a


def _from_xyxy(a, fmt, dt):
    """XYXY coordinates a as boxes of fmt (cx = (2 * x1 + w) / 2, as torchvision), rounded for integer dt."""
    if fmt is BoundingBoxFormat.XYWH:
        a = np.concatenate([a[..., :2], a[..., 2:] - a[..., :2]], -1)
    elif fmt is BoundingBoxFormat.CXCYWH:
        wh = a[..., 2:] - a[..., :2]
        a = np.concatenate([(a[..., :2] * 2 + wh) / 2, wh], -1)
    if dt.kind != "f":
        a = np.round(a)
    return a.astype(dt)


def _xyxy_native(a, fmt):
    """_xyxy as torchvision's convert_bounding_box_format computes it in the boxes' own dtype: integer
    CXCYWH corners in float32, truncated (x1 = int(cx - w / 2), x2 = int(cx - w / 2 + w))."""
    if fmt is BoundingBoxFormat.CXCYWH and a.dtype.kind in "iu":
        f = a.astype(np.float32)
        lo = f[..., :2] - f[..., 2:] / np.float32(2)
        return np.trunc(np.concatenate([lo, lo + f[..., 2:]], -1)).astype(np.float64)
    return _xyxy(a, fmt, a.dtype if a.dtype.kind == "f" else np.float64).astype(np.float64, copy=False)


def _box_float_dtype(a):
    return a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)


def _clamp_xyxy(x, canvas_size):
    h, w = canvas_size
    x = x.copy()
    x[..., 0::2] = x[..., 0::2].clip(0, w)
    x[..., 1::2] = x[..., 1::2].clip(0, h)
    return x


def _clamp_array(a, fmt, canvas_size, clamping_mode):
    """torchvision's _clamp_bounding_boxes: through XYXY in float (float32 for integer boxes), then cast back
    (truncating integers); hard and soft clamp alike for axis-aligned boxes; None gives a copy."""
    if clamping_mode is None:
        return a.copy()
    ft = _box_float_dtype(a)
    x = _clamp_xyxy(_xyxy(a, fmt, ft), canvas_size)
    return np.ascontiguousarray(_from_xyxy(x, fmt, ft).astype(a.dtype, copy=False))


def _translate_array(a, fmt, dx, dy):
    """Boxes moved by (dx, dy) in their own format and dtype: corners move, widths and heights do not."""
    shift = [dx, dy, dx, dy] if fmt is BoundingBoxFormat.XYXY else [dx, dy, 0, 0]
    return a + np.array(shift, dtype=a.dtype)


def convert_bounding_box_format(inpt, old_format=None, new_format=None, inplace=False):
    """BoundingBoxes in another format (XYXY, XYWH, CXCYWH)."""
    if new_format is None:
        raise TypeError("convert_bounding_box_format() missing 1 required argument: 'new_format'")
    if isinstance(new_format, str):
        new_format = BoundingBoxFormat[new_format.upper()]
    if isinstance(inpt, BoundingBoxes):
        out = _convert_format(_F1._arr(inpt), inpt.format, new_format)
        return BoundingBoxes._wrap_meta(_wrap(out), format=new_format, canvas_size=inpt.canvas_size,
                                        clamping_mode=inpt.clamping_mode)
    if old_format is None:
        raise ValueError("For pure tensor inputs, `old_format` has to be passed.")
    if isinstance(old_format, str):
        old_format = BoundingBoxFormat[old_format.upper()]
    return _wrap(_convert_format(_F1._arr(inpt), old_format, new_format))


def _convert_format(a, old, new):
    if old is new:
        return a.copy()
    x = _xyxy_native(a, old)
    if a.dtype.kind in "iu" and new is BoundingBoxFormat.CXCYWH:  # integer centres are floored
        wh = x[..., 2:] - x[..., :2]
        return np.concatenate([np.floor((2 * x[..., :2] + wh) / 2), wh], -1).astype(a.dtype)
    return _from_xyxy(x, new, a.dtype)


def clamp_bounding_boxes(inpt, format=None, canvas_size=None, clamping_mode="auto"):
    """Clamp box coordinates to the canvas (clamping_mode None: a copy; 'auto': the boxes' own mode)."""
    if clamping_mode is not None and clamping_mode not in ("soft", "hard", "auto"):
        raise ValueError(f"clamping_mode must be soft, hard, auto or None, got {clamping_mode}")
    if is_pure_tensor(inpt):
        if format is None or canvas_size is None or clamping_mode == "auto":
            raise ValueError("For pure tensor inputs, `format`, `canvas_size` and `clamping_mode` have to be passed.")
        return _wrap(_clamp_array(_F1._arr(inpt), _format(format), canvas_size, clamping_mode))
    if not isinstance(inpt, BoundingBoxes):
        raise TypeError(f"clamp_bounding_boxes() supports BoundingBoxes and pure tensors, got {type(inpt)}")
    if format is not None or canvas_size is not None:
        raise ValueError("For bounding box tv_tensor inputs, `format` and `canvas_size` must not be passed.")
    if clamping_mode == "auto":
        clamping_mode = inpt.clamping_mode
    if clamping_mode is None:
        return inpt.clone()
    return tv_tensors.wrap(_wrap(_clamp_array(_F1._arr(inpt), inpt.format, inpt.canvas_size, clamping_mode)),
                           like=inpt)


def _sanitize_mask(a, fmt, canvas_size, min_size=1.0, min_area=1.0):
    """torchvision's _get_sanitize_bounding_boxes_mask on an (N, 4) array: the boxes to keep."""
    x = _xyxy(a, fmt)
    ws, hs = x[:, 2] - x[:, 0], x[:, 3] - x[:, 1]
    h, w = canvas_size
    valid = (ws >= min_size) & (hs >= min_size) & (x >= 0).all(-1) & (ws * hs >= min_area)
    valid &= (x[:, 0] <= w) & (x[:, 2] <= w) & (x[:, 1] <= h) & (x[:, 3] <= h)
    return valid


def sanitize_bounding_boxes(bounding_boxes, format=None, canvas_size=None, min_size=1.0, min_area=1.0):
    """(valid boxes, bool mask): drops boxes smaller than min_size/min_area or outside the canvas."""
    if is_pure_tensor(bounding_boxes):
        if format is None or canvas_size is None:
            raise ValueError(
                "format and canvas_size cannot be None if bounding_boxes is a pure tensor. "
                f"Got format={format} and canvas_size={canvas_size}."
                "Set those to appropriate values or pass bounding_boxes as a tv_tensors.BoundingBoxes object.")
        if isinstance(format, str):
            format = BoundingBoxFormat[format.upper()]
        valid = _sanitize_mask(_F1._arr(bounding_boxes), format, canvas_size, min_size, min_area)
        return bounding_boxes[_wrap(valid)], _wrap(valid)
    if not isinstance(bounding_boxes, BoundingBoxes):
        raise ValueError("bounding_boxes must be a tv_tensors.BoundingBoxes instance or a pure tensor.")
    if format is not None or canvas_size is not None:
        raise ValueError(
            "format and canvas_size must be None when bounding_boxes is a tv_tensors.BoundingBoxes instance. "
            f"Got format={format} and canvas_size={canvas_size}. "
            "Leave those to None or pass bounding_boxes as a pure tensor.")
    valid = _sanitize_mask(_F1._arr(bounding_boxes), bounding_boxes.format, bounding_boxes.canvas_size,
                           min_size, min_area)
    return tv_tensors.wrap(_pure(bounding_boxes)[_wrap(valid)], like=bounding_boxes), _wrap(valid)


# ---- geometry ---------------------------------------------------------------------------------
_INTERPOLATION_STRING_TO_MODE = {m.value: m for m in InterpolationMode}


def _check_interpolation(interpolation):
    if isinstance(interpolation, str):  # torchvision >= 0.24 takes the mode's value ("bilinear", ...) too
        if interpolation not in _INTERPOLATION_STRING_TO_MODE:
            raise ValueError(f"Invalid interpolation mode: '{interpolation}'. "
                             f"Supported string values are: {list(_INTERPOLATION_STRING_TO_MODE.keys())}.")
        return _INTERPOLATION_STRING_TO_MODE[interpolation]
    if isinstance(interpolation, int):
        interpolation = _interpolation_modes_from_int(interpolation)
    elif not isinstance(interpolation, InterpolationMode):
        raise ValueError(f"Argument interpolation should be an `InterpolationMode` or a corresponding Pillow "
                         f"integer constant, but got {interpolation}.")
    return interpolation


def _mask_op(fn):
    """Run an image kernel on a mask, adding a channel axis to a (H, W) mask for the call."""
    def kernel(mask, *args, **kwargs):
        m = _pure(mask)
        flat = m.ndim == 2
        out = fn(m.unsqueeze(0) if flat else m, *args, **kwargs)
        return Mask._wrap(out.squeeze(0) if flat else out)
    return kernel


def _geometric(name, image_kernel, mask_kernel, boxes_kernel):
    def functional(inpt, *args, **kwargs):
        return _get_kernel(functional, type(inpt))(inpt, *args, **kwargs)
    functional.__name__ = functional.__qualname__ = name
    _register(functional, Tensor, Image, Video, _F1._pil().Image)(image_kernel)
    if mask_kernel is not None:
        _register(functional, Mask, wrapper=False)(_mask_op(mask_kernel))
    if boxes_kernel is not None:
        _register(functional, BoundingBoxes, wrapper=False)(boxes_kernel)
    return functional


def _resize_image(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    interpolation = _check_interpolation(interpolation)
    if isinstance(img, Tensor) and img.ndim >= 2 and isinstance(size, (int, list, tuple)) and (
            interpolation is InterpolationMode.LANCZOS
            or interpolation in (InterpolationMode.BICUBIC, InterpolationMode.BILINEAR) and img.dtype == B.uint8):
        # v2 resizes uint8 bilinear/bicubic natively on the CPU (int16 fixed point, rounded between the passes;
        # v1 goes through float) and has lanczos for tensors (v1 has not)
        _, h, w = _F1.get_dimensions(img)
        out_h, out_w = _F1._compute_resized_output_size((h, w), [size] if isinstance(size, int) else size, max_size)
        if [out_h, out_w] == [h, w]:
            return img
        if _F1._tracks_grad(img):
            return _F1._resize_array(img, out_h, out_w, interpolation, bool(antialias), True)
        return _wrap(_F1._resize_array(_F1._arr(img), out_h, out_w, interpolation, bool(antialias), True))
    return _F1.resize(img, size, interpolation, max_size, bool(antialias))


def _resize_mask(mask, size, interpolation=None, max_size=None, antialias=True):
    # masks keep their labels: nearest-exact when asked for, nearest for every other mode
    mode = InterpolationMode.NEAREST
    if interpolation is not None and _check_interpolation(interpolation) is InterpolationMode.NEAREST_EXACT:
        mode = InterpolationMode.NEAREST_EXACT
    return _F1.resize(mask, size, mode, max_size, False)


def _resize_boxes(boxes, size, interpolation=None, max_size=None, antialias=True):
    out, canvas_size = resize_bounding_boxes(_pure(boxes), boxes.canvas_size, size, max_size=max_size,
                                             format=boxes.format, clamping_mode=boxes.clamping_mode)
    return tv_tensors.wrap(out, like=boxes, canvas_size=canvas_size)


resize = _geometric("resize", _resize_image, _resize_mask, _resize_boxes)
resize.__doc__ = "Resize to size (h, w) or match the smaller edge to an int; masks use NEAREST."


def _crop_boxes(boxes, top, left, height, width):
    out, canvas_size = crop_bounding_boxes(_pure(boxes), boxes.format, top, left, height, width,
                                           clamping_mode=boxes.clamping_mode)
    return tv_tensors.wrap(out, like=boxes, canvas_size=canvas_size)


crop = _geometric("crop", _F1.crop, _F1.crop, _crop_boxes)
crop.__doc__ = "The region (top, left, height, width)."


def _center_crop_params(canvas_size, output_size):
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    h, w = canvas_size
    ch, cw = output_size
    return int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0)), ch, cw


def _center_crop_boxes(boxes, output_size):
    return _crop_boxes(boxes, *_center_crop_params(boxes.canvas_size, output_size))


center_crop = _geometric("center_crop", _F1.center_crop, _F1.center_crop, _center_crop_boxes)
center_crop.__doc__ = "Crop the center (pads with zeros when the input is smaller)."


def _resized_crop_image(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR,
                        antialias=True):
    if isinstance(img, Tensor):  # as torchvision's v2: crop, then v2's resize (native uint8 kernels)
        return _resize_image(_F1.crop(img, top, left, height, width), size, interpolation, antialias=antialias)
    return _F1.resized_crop(img, top, left, height, width, size, _check_interpolation(interpolation),
                            antialias=bool(antialias))


def _resized_crop_mask(mask, top, left, height, width, size, interpolation=None, antialias=True):
    return _F1.resized_crop(mask, top, left, height, width, size, InterpolationMode.NEAREST, antialias=False)


def _resized_crop_boxes(boxes, top, left, height, width, size, interpolation=None, antialias=True):
    out, canvas_size = resized_crop_bounding_boxes(_pure(boxes), boxes.format, top, left, height, width, size,
                                                   clamping_mode=boxes.clamping_mode)
    return tv_tensors.wrap(out, like=boxes, canvas_size=canvas_size)


resized_crop = _geometric("resized_crop", _resized_crop_image, _resized_crop_mask, _resized_crop_boxes)
resized_crop.__doc__ = "Crop then resize."


def _hflip_boxes(boxes):
    return tv_tensors.wrap(horizontal_flip_bounding_boxes(_pure(boxes), boxes.format, boxes.canvas_size), like=boxes)


def _vflip_boxes(boxes):
    return tv_tensors.wrap(vertical_flip_bounding_boxes(_pure(boxes), boxes.format, boxes.canvas_size), like=boxes)


horizontal_flip = _geometric("horizontal_flip", _F1.hflip, _F1.hflip, _hflip_boxes)
horizontal_flip.__doc__ = "Flip left-right."
vertical_flip = _geometric("vertical_flip", _F1.vflip, _F1.vflip, _vflip_boxes)
vertical_flip.__doc__ = "Flip top-bottom."
hflip = horizontal_flip
vflip = vertical_flip


def _parse_pad_padding(padding):
    """[left, right, top, bottom] from an int or a 1-, 2- or 4-sequence (left, top, right, bottom)."""
    if isinstance(padding, int):
        return [padding] * 4
    if isinstance(padding, (tuple, list)):
        if len(padding) == 1:
            return [padding[0]] * 4
        if len(padding) == 2:
            return [padding[0], padding[0], padding[1], padding[1]]
        if len(padding) == 4:
            return [padding[0], padding[2], padding[1], padding[3]]
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element "
                         f"tuple")
    raise TypeError(f"`padding` should be an integer or tuple or list of integers, but got {padding}")


def _pad_image(img, padding, fill=None, padding_mode="constant"):
    return _F1.pad(img, padding, 0 if fill is None else fill, padding_mode)


def _pad_boxes(boxes, padding, fill=None, padding_mode="constant"):
    out, canvas_size = pad_bounding_boxes(_pure(boxes), boxes.format, boxes.canvas_size, padding,
                                          padding_mode=padding_mode, clamping_mode=boxes.clamping_mode)
    return tv_tensors.wrap(out, like=boxes, canvas_size=canvas_size)


def _pad_mask(mask, padding, fill=None, padding_mode="constant"):
    if isinstance(fill, (tuple, list)):  # a mask has no colour channels to fill one by one
        raise ValueError("Non-scalar fill value is not supported")
    return _pad_image(mask, padding, fill, padding_mode)


pad = _geometric("pad", _pad_image, _pad_mask, _pad_boxes)
pad.__doc__ = "Pad all sides: int, (left/right, top/bottom) or (left, top, right, bottom)."


def _inverse_rotation_matrix(center, angle):
    """torchvision's _get_inverse_affine_matrix(center, -angle, [0, 0], 1, [0, 0])."""
    rot = math.radians(-angle)
    cx, cy = center
    a, b, c, d = math.cos(rot), -math.sin(rot), math.sin(rot), math.cos(rot)
    m = [d, -b, 0.0, -c, a, 0.0]
    m[2] += m[0] * (-cx) + m[1] * (-cy) + cx
    m[5] += m[3] * (-cx) + m[4] * (-cy) + cy
    return m


def _affine_output_size(m, w, h):
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0], [0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, -0.5 * h, 1.0]], dtype=np.float32)
    new = pts @ np.array(m, dtype=np.float32).reshape(2, 3).T
    halfs = np.array([0.5 * w, 0.5 * h], dtype=np.float32)  # shifted to [0, w] x [0, h], as PIL and torchvision
    tol = 1e-4
    cmax = np.ceil(np.trunc((new.max(0) + halfs) / tol) * tol)
    cmin = np.floor(np.trunc((new.min(0) + halfs) / tol) * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _affine_coords(m, w, h, ow, oh, dt):
    """Source pixel coordinates (px, py) of each output pixel for the inverse affine matrix m, computed as
    torchvision's _affine_grid + grid_sample(align_corners=False) do, in the image's float type, so that
    nearest sampling rounds the same coordinates the same way."""
    t = dt.type
    theta = np.array(m, dtype=dt).reshape(2, 3).T / np.array([0.5 * w, 0.5 * h], dtype=dt)
    X, Y = np.meshgrid(np.arange(ow, dtype=dt) - t((ow - 1) * 0.5), np.arange(oh, dtype=dt) - t((oh - 1) * 0.5))
    gx = X * theta[0, 0] + Y * theta[1, 0] + theta[2, 0]
    gy = X * theta[0, 1] + Y * theta[1, 1] + theta[2, 1]
    return _unnormalize(gx, gy, w, h, t)


def _unnormalize(gx, gy, w, h, t):
    """grid_sample's align_corners=False mapping from [-1, 1] to pixel coordinates, as torch's vectorized
    CPU kernel computes it: one fused multiply-add, fma(g + 1, size / 2, -0.5), emulated in float64 (the
    product of two float32 values is exact there) and rounded once."""
    if t is np.float32:
        return (_fma32(gx + t(1), w / 2, -0.5), _fma32(gy + t(1), h / 2, -0.5))
    return (gx + t(1)) * t(w / 2) - t(0.5), (gy + t(1)) * t(h / 2) - t(0.5)


def _fma32(a, b, c):
    """float32 fused multiply-add a * b + c with one rounding: the float64 product of two float32 values is
    exact, and its sum with c rounds (almost always) as the fused operation does."""
    return (np.asarray(a, np.float64) * np.asarray(b, np.float32).astype(np.float64)
            + np.asarray(c, np.float32).astype(np.float64)).astype(np.float32)


def _perspective_coords(coeffs, w, h, dt):
    """Source pixel coordinates of each output pixel for PIL-style perspective coefficients (a..h),
    as torchvision's _perspective_grid computes them."""
    t = dt.type
    c = [t(v) for v in coeffs]
    X, Y = np.meshgrid(np.arange(w, dtype=dt) + t(0.5), np.arange(h, dtype=dt) + t(0.5))
    hw, hh = t(0.5 * w), t(0.5 * h)
    g1x = X * (c[0] / hw) + Y * (c[1] / hw) + c[2] / hw
    g1y = X * (c[3] / hh) + Y * (c[4] / hh) + c[5] / hh
    g2 = X * c[6] + Y * c[7] + t(1.0)
    return _unnormalize(g1x / g2 - t(1.0), g1y / g2 - t(1.0), w, h, t)


def _grid_sample(a, px, py, interpolation, fill, v2=False, name="rotate"):
    """Sample the last two axes of a at pixel coordinates (px, py) with zero padding, then paint fill
    where the sample fell outside (torchvision's _apply_grid_transform: v1 and v2 blend fill slightly
    differently, hence v2)."""
    h, w = a.shape[-2:]
    fp = a.dtype.kind == "f"
    x = a if fp else a.astype(np.float32)
    dt = x.dtype
    if interpolation is InterpolationMode.NEAREST:
        ix, iy = np.rint(px).astype(np.int64), np.rint(py).astype(np.int64)
        valid = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        out = x[..., iy.clip(0, h - 1), ix.clip(0, w - 1)] * valid.astype(dt)
        mask = valid.astype(dt)
    elif interpolation is InterpolationMode.BILINEAR:
        # torch's CPU kernel, in the image's float type: weights from the fractional parts, the four
        # corners summed nw, ne, sw, se; out-of-range corners contribute zero
        t = dt.type
        x0, y0 = np.floor(px), np.floor(py)
        we, ns = px - x0, py - y0
        ww, nn = t(1) - we, t(1) - ns
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        out = None
        mask = None
        for xi, yi, wgt in ((x0, y0, nn * ww), (x0 + 1, y0, nn * we), (x0, y0 + 1, ns * ww), (x0 + 1, y0 + 1, ns * we)):
            valid = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            v = x[..., yi.clip(0, h - 1), xi.clip(0, w - 1)] * valid.astype(dt)
            mv = valid.astype(dt)
            # torch accumulates the four products with fused multiply-adds (float32: emulated exactly in float64)
            if out is None:
                out, mask = v * wgt, mv * wgt
            elif dt == np.float32:
                out = _fma32(v, wgt, out)
                mask = _fma32(mv, wgt, mask)
            else:
                out, mask = out + v * wgt, mask + mv * wgt
    else:
        raise ValueError(f"{name}: interpolation {interpolation} is not supported for tensors; "
                         "use NEAREST or BILINEAR")
    if fill is not None:
        c = x.shape[-3] if x.ndim >= 3 else 1
        fv = np.array([fill] * c if isinstance(fill, numbers.Number) else (list(fill) * c if len(fill) == 1
                                                                           else list(fill)), dtype=dt)
        fv = fv.reshape((c, 1, 1)) if x.ndim >= 3 else fv.reshape(1, 1)
        if interpolation is InterpolationMode.NEAREST:
            out = np.where(mask < 0.5, fv, out)
        elif v2:
            out = (out - fv) * mask + fv
        else:
            out = out * mask + (dt.type(1.0) - mask) * fv
    out = np.asarray(out, dtype=dt)
    if not fp:
        out = np.round(out).astype(a.dtype)
    return np.ascontiguousarray(out)


def _check_grid_fill(a, fill):
    """torchvision's _assert_grid_transform_inputs check of fill against the channel count."""
    c = 1 if a.ndim == 2 else a.shape[-3]
    if fill is not None and isinstance(fill, (tuple, list)) and len(fill) > 1 and len(fill) != c:
        raise ValueError("The number of elements in 'fill' cannot broadcast to match the number of channels of "
                         f"the image ({len(fill)} != {c})")


def _rotate_array(a, angle, interpolation, expand, center, fill):
    """Rotate the last two axes counter-clockwise by angle degrees, sampling as torch's grid_sample does."""
    h, w = a.shape[-2:]
    center_f = [0.0, 0.0] if center is None else [c - s * 0.5 for c, s in zip(center, [w, h])]
    m = _inverse_rotation_matrix(center_f, angle)
    ow, oh = _affine_output_size(m, w, h) if expand else (w, h)
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    px, py = _affine_coords(m, w, h, ow, oh, dt)
    return _grid_sample(a, px, py, interpolation, fill)


def _rotate_image(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None):
    interpolation = _check_interpolation(interpolation)
    if not _F1._is_pil_image(img) and center is None:  # torchvision's exact fast paths
        angle = angle % 360
        a = _F1._arr(img)
        if angle == 0:
            return _wrap(a.copy())
        if angle == 180:
            return _wrap(np.ascontiguousarray(np.rot90(a, 2, axes=(-2, -1))))
        if (expand or a.shape[-1] == a.shape[-2]) and angle in (90, 270):
            return _wrap(np.ascontiguousarray(np.rot90(a, 1 if angle == 90 else 3, axes=(-2, -1))))
    if _F1._is_pil_image(img):
        PIL = _F1._pil()
        filt = {InterpolationMode.NEAREST: PIL.NEAREST, InterpolationMode.BILINEAR: PIL.BILINEAR,
                InterpolationMode.BICUBIC: PIL.BICUBIC}[interpolation]
        opts = _F1._parse_fill(fill, img) if fill is not None else {}
        return img.rotate(angle, filt, expand, center, **opts)
    return _wrap(_rotate_array(_F1._arr(img), angle, interpolation, expand, center, fill))


def _rotate_mask(mask, angle, interpolation=None, expand=False, center=None, fill=None):
    return _wrap(_rotate_array(_F1._arr(mask), angle, InterpolationMode.NEAREST, expand, center, fill))


def _rotate_boxes(boxes, angle, interpolation=None, expand=False, center=None, fill=None):
    out, canvas_size = rotate_bounding_boxes(_pure(boxes), boxes.format, boxes.canvas_size, angle, expand=expand,
                                             center=center, clamping_mode=boxes.clamping_mode)
    return tv_tensors.wrap(out, like=boxes, canvas_size=canvas_size)


rotate = _geometric("rotate", _rotate_image, _rotate_mask, _rotate_boxes)
rotate.__doc__ = "Rotate counter-clockwise by angle degrees (around the center unless given)."



# ---- affine / perspective ------------------------------------------------------------------------
def _affine_parse_args(angle, translate, scale, shear, interpolation, center):
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if not isinstance(translate, (list, tuple)):
        raise TypeError("Argument translate should be a sequence")
    if len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    if not isinstance(shear, (numbers.Number, (list, tuple))):
        raise TypeError("Shear should be either a single value or a sequence of two values")
    if not isinstance(interpolation, InterpolationMode):
        raise TypeError("Argument interpolation should be a InterpolationMode")
    angle = float(angle)
    translate = list(translate)
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    if center is not None:
        if not isinstance(center, (list, tuple)):
            raise TypeError("Argument center should be a sequence")
        center = [float(c) for c in center]
    return angle, translate, shear, center


def _affine_image(image, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST, fill=None,
                  center=None):
    interpolation = _check_interpolation(interpolation)
    angle, translate, shear, center = _affine_parse_args(angle, translate, scale, shear, interpolation, center)
    if _F1._is_pil_image(image):
        if center is None:
            w, h = image.size
            center = [w * 0.5, h * 0.5]
        matrix = _F1._get_inverse_affine_matrix(center, angle, translate, scale, shear)
        return image.transform(image.size, _F1._pil().AFFINE, matrix, _F1._pil_filter(interpolation),
                               **_F1._parse_fill(fill, image))
    height, width = image.shape[-2:]
    center_f = [0.0, 0.0] if center is None else [(c - s * 0.5) for c, s in zip(center, [width, height])]
    matrix = _F1._get_inverse_affine_matrix(center_f, angle, [float(t) for t in translate], scale, shear)
    return _wrap(_F1._affine_array(_F1._arr(image), matrix, interpolation, fill, v2=True))


def _affine_mask(mask, angle, translate, scale, shear, interpolation=None, fill=None, center=None):
    return _affine_image(mask, angle, translate, scale, shear, InterpolationMode.NEAREST, fill, center)


def _affine_boxes(boxes, angle, translate, scale, shear, interpolation=None, fill=None, center=None):
    out = affine_bounding_boxes(_pure(boxes), boxes.format, boxes.canvas_size, angle, translate, scale, shear,
                                center=center, clamping_mode=boxes.clamping_mode)
    return tv_tensors.wrap(out, like=boxes)


affine = _geometric("affine", _affine_image, _affine_mask, _affine_boxes)
affine.__doc__ = "Rotate (clockwise degrees), translate, scale and shear about the center."


def _perspective_coefficients(startpoints, endpoints, coefficients):
    if coefficients is not None:
        if startpoints is not None and endpoints is not None:
            raise ValueError("The startpoints/endpoints and the coefficients shouldn't be defined concurrently.")
        if len(coefficients) != 8:
            raise ValueError("Argument coefficients should have 8 float values")
        return coefficients
    if startpoints is not None and endpoints is not None:
        return _F1._get_perspective_coeffs(startpoints, endpoints)
    raise ValueError("Either the startpoints/endpoints or the coefficients must have non `None` values.")


def _perspective_image(image, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR, fill=None,
                       coefficients=None):
    coeffs = _perspective_coefficients(startpoints, endpoints, coefficients)
    interpolation = _check_interpolation(interpolation)
    if _F1._is_pil_image(image):
        return image.transform(image.size, _F1._pil().PERSPECTIVE, coeffs, _F1._pil_filter(interpolation),
                               **_F1._parse_fill(fill, image))
    return _wrap(_F1._perspective_array(_F1._arr(image), coeffs, interpolation, fill, v2=True))


def _perspective_mask(mask, startpoints, endpoints, interpolation=None, fill=None, coefficients=None):
    return _perspective_image(mask, startpoints, endpoints, InterpolationMode.NEAREST, fill, coefficients)


def _perspective_boxes(boxes, startpoints, endpoints, interpolation=None, fill=None, coefficients=None):
    out = perspective_bounding_boxes(_pure(boxes), boxes.format, boxes.canvas_size, startpoints, endpoints,
                                     coefficients=coefficients, clamping_mode=boxes.clamping_mode)
    return tv_tensors.wrap(out, like=boxes)


perspective = _geometric("perspective", _perspective_image, _perspective_mask, _perspective_boxes)
perspective.__doc__ = "Warp the four corners (startpoints) onto endpoints, or by 8 coefficients."


# ---- five / ten crop: images only ------------------------------------------------------------------
def _parse_five_crop_size(size):
    if isinstance(size, numbers.Number):
        size = [int(size), int(size)]
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = [size[0], size[0]]
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    return size


def _five_crop_image(image, size):
    crop_height, crop_width = _parse_five_crop_size(size)
    image_height, image_width = get_size(image)
    if crop_width > image_width or crop_height > image_height:
        raise ValueError(f"Requested crop size {size} is bigger than input size {(image_height, image_width)}")
    return _F1.five_crop(image, [crop_height, crop_width])


def _ten_crop_image(image, size, vertical_flip=False):
    non_flipped = _five_crop_image(image, size)
    image = _F1.vflip(image) if vertical_flip else _F1.hflip(image)
    return non_flipped + _five_crop_image(image, size)


def _tuple_wrap(kernel):
    """A crop-list kernel for tv_tensors: each crop comes back as the input's tv_tensor type."""
    def wrapped(inpt, *args, **kwargs):
        return tuple(tv_tensors.wrap(o, like=inpt) for o in kernel(_pure(inpt), *args, **kwargs))
    return wrapped


def five_crop(inpt, size):
    """(top-left, top-right, bottom-left, bottom-right, center) crops of size."""
    return _get_kernel(five_crop, type(inpt))(inpt, size)


def ten_crop(inpt, size, vertical_flip=False):
    """five_crop of the image and of its horizontal (or vertical) flip."""
    return _get_kernel(ten_crop, type(inpt))(inpt, size, vertical_flip=vertical_flip)


_register(five_crop, Tensor, _F1._pil().Image)(_five_crop_image)
_register(five_crop, Image, Video, wrapper=False)(_tuple_wrap(_five_crop_image))
_register(ten_crop, Tensor, _F1._pil().Image)(_ten_crop_image)
_register(ten_crop, Image, Video, wrapper=False)(_tuple_wrap(_ten_crop_image))


# ---- colour ops with v2's tensor kernels (PIL images use v1's, i.e. ImageOps) ------------------------
def _invert_v2(a):
    if a.dtype.kind == "f":
        return (a.dtype.type(1.0) - a).astype(a.dtype, copy=False)
    if a.dtype == np.uint8:
        return ~a
    if a.dtype == np.bool_:
        return ~a
    return a ^ a.dtype.type(_max_int(a.dtype))  # keeps the sign bit of signed types, as torchvision's xor


def _invert_image(image):
    if _F1._is_pil_image(image):
        return _F1.invert(image)
    return _wrap(_invert_v2(_F1._arr(image)))


def _posterize_image(image, bits):
    if _F1._is_pil_image(image):
        return _F1.posterize(image, bits)
    if not isinstance(bits, int) or not 0 <= bits <= 8:
        raise TypeError(f"bits must be a positive integer in the range [0, 8], got {bits} instead.")
    a = _F1._arr(image)
    if a.dtype.kind == "f":
        levels = 1 << bits
        t = a.dtype.type
        out = np.clip(np.floor(a * t(levels)), 0, levels - 1) * t(1.0 / levels)
        return _wrap(out.astype(a.dtype, copy=False))
    nbits = _num_value_bits(a.dtype)
    if bits >= nbits:
        return image
    mask = ((1 << bits) - 1) << (nbits - bits)
    return _wrap(a & a.dtype.type(mask))


def _solarize_image(image, threshold):
    if _F1._is_pil_image(image):
        return _F1.solarize(image, threshold)
    a = _F1._arr(image)
    if threshold > _F1._max_value(a.dtype):
        raise TypeError(f"Threshold should be less or equal the maximum value of the dtype, but got {threshold}")
    return _wrap(np.where(_F1._ge_threshold(a, threshold), _invert_v2(a), a))


def _autocontrast_image(image):
    if _F1._is_pil_image(image):
        return _F1.autocontrast(image)
    a = _F1._arr(image)
    c = a.shape[-3]
    if c not in (1, 3):
        raise TypeError(f"Input image tensor permitted channel values are 1 or 3, but found {c}")
    if a.size == 0:
        return image
    bound = _F1._max_value(a.dtype)
    fp = a.dtype.kind == "f"
    x = a if fp else a.astype(np.float32)
    t = x.dtype.type
    minimum = x.min(axis=(-2, -1), keepdims=True)
    maximum = x.max(axis=(-2, -1), keepdims=True)
    eq = maximum == minimum
    inv_scale = (maximum - minimum) * t(1.0 / bound)
    minimum = np.where(eq, t(0.0), minimum)
    inv_scale = np.where(eq, t(1.0), inv_scale)
    out = np.clip((x - minimum) / inv_scale, 0, bound)
    return _wrap(out.astype(a.dtype))


def _equalize_image(image):
    if _F1._is_pil_image(image):
        return _F1.equalize(image)
    a = _F1._arr(image)
    if a.size == 0:
        return image
    u8 = _F1._arr(_to_dtype_image(image, B.uint8, scale=True))
    flat = u8.reshape((-1, u8.shape[-2] * u8.shape[-1])).astype(np.int64)
    out = np.empty_like(flat, dtype=np.uint8)
    for k, row in enumerate(flat):
        hist = np.bincount(row, minlength=256)
        cum = np.cumsum(hist)
        step = (row.size - hist[int(np.argmax(cum))]) // 255  # all pixels but those of the largest value
        if step == 0:
            out[k] = row
            continue
        lut = np.clip((cum[:-1] + step // 2) // step, 0, 255)
        out[k] = np.concatenate([[0], lut]).astype(np.uint8)[row]
    res = _wrap(out.reshape(u8.shape))
    return _to_dtype_image(res, B.FROM_NUMPY[a.dtype], scale=True)


def _adjust_sharpness_image(image, sharpness_factor):
    if _F1._is_pil_image(image):
        return _F1.adjust_sharpness(image, sharpness_factor)
    a = _F1._arr(image)
    num_channels, height, width = a.shape[-3:]
    if num_channels not in (1, 3):
        raise TypeError(f"Input image tensor can have 1 or 3 channels, but found {num_channels}")
    if sharpness_factor < 0:
        raise ValueError(f"sharpness_factor ({sharpness_factor}) is not non-negative.")
    if a.size == 0 or height <= 2 or width <= 2:
        return image
    fp = a.dtype.kind == "f"
    dt = a.dtype if fp else np.dtype(np.float32)
    output = a.astype(dt, copy=True)
    blurred = _F1._sharpen_blur(a, dt, not fp)
    view = output[..., 1:-1, 1:-1]
    view[...] = _fma_f(view, blurred - view, dt.type(1.0 - sharpness_factor))  # view.add_(x, alpha=1 - r)
    np.clip(output, 0, _F1._max_value(a.dtype), out=output)
    return _wrap(output if fp else output.astype(a.dtype))


invert = _color("invert", _invert_image)
invert.__doc__ = "Invert colours: 1 - x for floats, bitwise not for uint8."
posterize = _color("posterize", _posterize_image)
posterize.__doc__ = "Keep only the top bits of each channel (floats: quantise to 2**bits levels)."
solarize = _color("solarize", _solarize_image)
solarize.__doc__ = "Invert the values at or above threshold."
autocontrast = _color("autocontrast", _autocontrast_image)
autocontrast.__doc__ = "Stretch each channel to the full value range."
equalize = _color("equalize", _equalize_image)
equalize.__doc__ = "Equalize each channel's histogram (computed on the uint8 image, as torchvision)."
adjust_sharpness = _color("adjust_sharpness", _adjust_sharpness_image)
adjust_sharpness.__doc__ = "Sharpen (factor > 1) or blur (factor < 1); 1 gives the original."


# ---- gamma, noise, RGB, JPEG: functionals torchvision added in v2 ------------------------------------
def adjust_gamma(inpt, gamma, gain=1):
    """Gamma correction: gain * inpt ** gamma on values scaled to [0, 1]."""
    return _get_kernel(adjust_gamma, type(inpt))(inpt, gamma=gamma, gain=gain)


@_register(adjust_gamma, Tensor, Image, Video)
def adjust_gamma_image(image, gamma, gain=1.0):
    """adjust_gamma's kernel for image tensors (and videos); clamped only when gain != 1, as torchvision's."""
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    if not image.is_floating_point():
        output = _to_dtype_image(image, B.float32, scale=True).pow(gamma)
    else:
        output = image.pow(gamma)  # Tensor ops: a float image that requires grad stays in the graph
    if gain != 1.0:
        output = (output * gain).clamp(0.0, 1.0)
    return _to_dtype_image(output, image.dtype, scale=True)


_register(adjust_gamma, _pil_type())(_F1.adjust_gamma)


def gaussian_noise(inpt, mean=0.0, sigma=0.1, clip=True):
    """Add N(mean, sigma) noise, on the [0, 1] scale for floats and the [0, 255] scale for uint8."""
    return _get_kernel(gaussian_noise, type(inpt))(inpt, mean=mean, sigma=sigma, clip=clip)


@_register(gaussian_noise, Tensor, Image, Video)
def gaussian_noise_image(image, mean=0.0, sigma=0.1, clip=True):
    """gaussian_noise's kernel for float or uint8 image tensors (and videos): one torch.randn_like draw."""
    from .... import randn
    if sigma < 0:
        raise ValueError(f"sigma shouldn't be negative. Got {sigma}")
    if image.is_floating_point():
        noise = mean + randn(tuple(image.shape), dtype=image.dtype, device=image.device) * sigma
        out = image + noise
        return out.clamp(0, 1) if clip else out
    if image.dtype == B.uint8:
        # torchvision adds the noise in int16 (truncated toward zero), so uint8 needs no float round trip
        n = _F1._arr(randn(tuple(image.shape), dtype=B.float32, device=image.device))
        noise = (np.float32(mean * 255) + n * np.float32(sigma * 255)).astype(np.int16)
        out = _F1._arr(image).astype(np.int16) + noise
        if clip:
            out = np.clip(out, 0, 255)
        return _wrap(out.astype(np.uint8))
    raise ValueError(f"Input tensor is expected to be in uint8 or float dtype, got dtype={image.dtype}")


@_register(gaussian_noise, _pil_type())
def _gaussian_noise_pil(image, mean=0.0, sigma=0.1, clip=True):
    raise ValueError("Gaussian Noise is not implemented for PIL images.")


def grayscale_to_rgb(inpt):
    """1-channel images become 3-channel ones (the channel repeated); 3-channel images pass unchanged."""
    return _get_kernel(grayscale_to_rgb, type(inpt))(inpt)


@_register(grayscale_to_rgb, Tensor, Image)
def grayscale_to_rgb_image(image):
    """grayscale_to_rgb's kernel for image tensors (..., 1 or 3, H, W)."""
    c = image.shape[-3]
    if c >= 3:
        return image
    if c != 1:
        raise ValueError(f"grayscale_to_rgb expects 1 or 3 channels (..., C, H, W), got {c} in shape "
                         f"{tuple(image.shape)}")
    reps = [1] * image.ndim
    reps[-3] = 3
    return image.repeat(*reps)


@_register(grayscale_to_rgb, _pil_type())
def _grayscale_to_rgb_pil(image):
    return image.convert(mode="RGB")


def jpeg(image, quality):
    """JPEG-compress and decompress at quality 1..100 (Pillow's libjpeg)."""
    return _get_kernel(jpeg, type(image))(image, quality=quality)


@_register(jpeg, Tensor, Image, Video)
def jpeg_image(image, quality):
    """jpeg's kernel for uint8 image tensors (..., 1 or 3, H, W) and videos, one image at a time."""
    import io
    a = _F1._arr(image)
    flat = a.reshape((-1,) + a.shape[-3:])
    if flat.shape[0] == 0:
        return _wrap(a.copy())
    if quality < 1 or quality > 100:
        raise ValueError("Image quality should be a positive number between 1 and 100")
    if a.dtype != np.uint8:
        raise RuntimeError(f"Input tensor dtype should be uint8, got {image.dtype}; convert it with "
                           "v2.functional.to_dtype(image, torch.uint8, scale=True)")
    c = a.shape[-3]
    if c not in (1, 3):
        raise RuntimeError(f"The number of channels should be 1 or 3, got: {c}")
    PIL = _F1._pil()
    out = np.empty_like(flat)
    for k, img in enumerate(flat):
        buf = io.BytesIO()
        PIL.fromarray(img[0] if c == 1 else np.ascontiguousarray(img.transpose(1, 2, 0))).save(
            buf, format="JPEG", quality=quality)
        dec = np.asarray(PIL.open(buf))
        out[k] = dec[None] if c == 1 else dec.transpose(2, 0, 1)
    return _wrap(out.reshape(a.shape))


@_register(jpeg, _pil_type())
def _jpeg_pil(image, quality):
    import io
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return _F1._pil().open(buf).copy()  # a plain Image, not the JpegImageFile that open() returns


# ---- elastic ------------------------------------------------------------------------------------------
def elastic(inpt, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Sample at the identity grid plus displacement (1, H, W, 2), in grid_sample's [-1, 1] units."""
    return _get_kernel(elastic, type(inpt))(inpt, displacement=displacement, interpolation=interpolation, fill=fill)


elastic_transform = elastic


def _identity_grid(h, w, dt):
    """torchvision's _create_identity_grid as two (h, w) arrays (x, y): the pixel centres in [-1, 1]
    (align_corners=False), from torch's own linspace, whose rounding numpy's does not share."""
    from .... import linspace
    edt = B.FROM_NUMPY[np.dtype(dt)]
    xs = _F1._arr(linspace((-w + 1) / w, (w - 1) / w, w, dtype=edt))
    ys = _F1._arr(linspace((-h + 1) / h, (h - 1) / h, h, dtype=edt))
    return np.broadcast_to(xs[None, :], (h, w)), np.broadcast_to(ys[:, None], (h, w))


def _displacement(displacement, expected):
    if not isinstance(displacement, Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    if tuple(displacement.shape) != tuple(expected):
        raise ValueError(f"Argument displacement shape should be {tuple(expected)}, but given "
                         f"{displacement.shape}")
    return _F1._arr(displacement)


def _elastic_sample(image, displacement, interpolation, fill, v2=True):
    """grid_sample of image (..., C, H, W) at identity + displacement, with torchvision's fill.

    v2 samples in the image's float type (float32 for integers); v1 in the grid's type (float32, or
    float64 for a float64 displacement) and casts back, as torchvision's two versions do."""
    a = _F1._arr(image)
    h, w = a.shape[-2:]
    d = _F1._arr(displacement)
    if v2:
        gdt = a.dtype if a.dtype.kind == "f" and a.dtype != np.float16 else np.dtype(np.float32)
        gx, gy = _identity_grid(h, w, gdt)
        gx, gy = gx + d[0, :, :, 0].astype(gdt), gy + d[0, :, :, 1].astype(gdt)
    else:  # torch.linspace in the default dtype, promoted with the displacement's
        gdt = np.result_type(np.float32, d.dtype)
        gx, gy = _identity_grid(h, w, np.float32)
        gx, gy = gx.astype(gdt) + d[0, :, :, 0], gy.astype(gdt) + d[0, :, :, 1]
    if a.size == 0:
        return image
    if interpolation in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR) and not _F1._tracks_grad(image):
        px, py = _unnormalize(gx, gy, w, h, gdt.type)
        out = _grid_sample(a.astype(gdt, copy=False), px, py, interpolation, fill, v2=v2, name="elastic")
        if a.dtype.kind != "f":
            return _wrap(np.round(out).astype(a.dtype))
        return _wrap(out.astype(a.dtype, copy=False))
    return _elastic_grid_sample(image, np.stack([gx, gy], -1).astype(gdt), interpolation, fill, v2)


def _elastic_grid_sample(image, grid, interpolation, fill, v2):
    """_elastic_sample through nn.functional.grid_sample: bicubic, and images that require grad."""
    from .... import cat, ones, tensor
    from ....nn import functional as NF
    shape = tuple(image.shape)
    c, h, w = shape[-3:]
    x = _pure(image).reshape(-1, c, h, w)
    if x.dtype != B.FROM_NUMPY[grid.dtype]:
        x = x.to(B.FROM_NUMPY[grid.dtype])
    n = x.shape[0]
    g = _wrap(np.ascontiguousarray(np.broadcast_to(grid[None], (n,) + grid.shape)))
    if fill is not None:
        x = cat([x, ones((n, 1, h, w), dtype=x.dtype)], 1)
    out = NF.grid_sample(x, g, mode=interpolation.value, padding_mode="zeros", align_corners=False)
    if fill is not None:
        out, mask = out[:, :-1], out[:, -1:]
        fv = tensor(list(fill) if isinstance(fill, (tuple, list)) else [float(fill)], dtype=out.dtype).view(1, -1, 1, 1)
        if interpolation is InterpolationMode.NEAREST:
            from .... import where
            out = where(mask < 0.5, fv.expand_as(out), out)
        elif v2:
            out = (out - fv) * mask + fv
        else:
            out = out * mask + (1.0 - mask) * fv
    out = out.reshape(shape)
    if not image.is_floating_point():
        return out.round().to(image.dtype)
    return out if out.dtype == image.dtype else out.to(image.dtype)


@_register(elastic, Tensor, Image, Video)
def elastic_image(image, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    """elastic's kernel for image tensors (..., C, H, W) and videos."""
    if not isinstance(displacement, Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    interpolation = _check_interpolation(interpolation)
    _displacement(displacement, (1,) + tuple(image.shape[-2:]) + (2,))
    return _elastic_sample(image, displacement, interpolation, fill, v2=True)


@_register(elastic, _pil_type())
def _elastic_pil(image, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    out = elastic_image(_F1.pil_to_tensor(image), displacement, interpolation=interpolation, fill=fill)
    return _F1.to_pil_image(out, mode=image.mode)


def _elastic_mask_dispatch(mask, displacement, interpolation=None, fill=None):
    return Mask._wrap(elastic_mask(_pure(mask), displacement, fill=fill))


def _elastic_boxes_dispatch(boxes, displacement, interpolation=None, fill=None):
    out = elastic_bounding_boxes(_pure(boxes), boxes.format, boxes.canvas_size, displacement,
                                 clamping_mode=boxes.clamping_mode)
    return tv_tensors.wrap(out, like=boxes)


_register(elastic, Mask, wrapper=False)(_elastic_mask_dispatch)
_register(elastic, BoundingBoxes, wrapper=False)(_elastic_boxes_dispatch)


# ---- video ------------------------------------------------------------------------------------------
def get_num_frames(inpt):
    """The number of frames T of a video (..., T, C, H, W)."""
    return _get_kernel(get_num_frames, type(inpt))(inpt)


@_register(get_num_frames, Tensor, Video, wrapper=False)
def get_num_frames_video(video):
    """get_num_frames' kernel: video.shape[-4]."""
    return video.shape[-4]


def uniform_temporal_subsample(inpt, num_samples):
    """num_samples equally spaced frames of a video (..., T, C, H, W); frames repeat when T < num_samples."""
    return _get_kernel(uniform_temporal_subsample, type(inpt))(inpt, num_samples=num_samples)


@_register(uniform_temporal_subsample, Tensor, Video)
def uniform_temporal_subsample_video(video, num_samples):
    """uniform_temporal_subsample's kernel for video tensors."""
    from .... import linspace
    t_max = video.shape[-4] - 1
    indices = linspace(0, t_max, num_samples).long()  # torch's float32 linspace, truncated
    return video.index_select(-4, indices)


# ---- bounding boxes: the geometry torchvision transforms corner by corner ------------------------------
def _finish_boxes(xyxy, fmt, canvas_size, clamping_mode, shape, dtype):
    """Clamp (unless clamping_mode is None), convert XYXY back to fmt and cast to dtype as torch's .to()
    does (truncating toward zero for integer boxes)."""
    if clamping_mode is not None:
        xyxy = _clamp_xyxy(xyxy, canvas_size)
    out = _from_xyxy(xyxy, fmt, xyxy.dtype).reshape(shape)
    return _wrap(np.ascontiguousarray(out.astype(dtype, copy=False)))


def _corners(xyxy):
    """(N * 4, 2) corners (x1, y1), (x2, y1), (x2, y2), (x1, y2) of XYXY boxes (N, 4)."""
    return xyxy[:, [[0, 1], [2, 1], [2, 3], [0, 3]]].reshape(-1, 2)


def _hull(points):
    """XYXY boxes (N, 4) around each box's four transformed corners (N * 4, 2)."""
    p = points.reshape(-1, 4, 2)
    return np.concatenate([p.min(1), p.max(1)], 1)


def _format(fmt):
    return BoundingBoxFormat[fmt.upper()] if isinstance(fmt, str) else fmt


def _affine_bounding_boxes_with_expand(bounding_boxes, format, canvas_size, angle, translate, scale, shear,
                                       center=None, expand=False, clamping_mode="soft"):
    a = _F1._arr(bounding_boxes)
    if a.size == 0:
        return bounding_boxes, canvas_size
    format = _format(format)
    dt = _box_float_dtype(a)
    xyxy = _xyxy(a, format, dt).reshape(-1, 4)
    angle, translate, shear, center = _affine_parse_args(angle, translate, scale, shear, InterpolationMode.NEAREST,
                                                         center)
    height, width = canvas_size
    if center is None:
        center = [width * 0.5, height * 0.5]
    m = np.array(_F1._get_inverse_affine_matrix(center, angle, translate, scale, shear, inverted=False),
                 dtype=dt).reshape(2, 3)
    pts = _corners(xyxy)
    out = _hull(np.concatenate([pts, np.ones((len(pts), 1), dt)], 1) @ m.T)
    if expand:
        frame = np.array([[0.0, 0.0, 1.0], [0.0, height, 1.0], [width, height, 1.0], [width, 0.0, 1.0]], dt) @ m.T
        out = out - np.tile(frame.min(0), 2)
        new_w, new_h = _affine_output_size(_F1._get_inverse_affine_matrix(center, angle, translate, scale, shear),
                                           width, height)
        canvas_size = (new_h, new_w)
    return _finish_boxes(out, format, canvas_size, clamping_mode, a.shape, a.dtype), canvas_size


def affine_bounding_boxes(bounding_boxes, format, canvas_size, angle, translate, scale, shear, center=None,
                          clamping_mode="soft"):
    """affine's kernel for boxes (pure tensor): the box around each box's four transformed corners."""
    return _affine_bounding_boxes_with_expand(bounding_boxes, format, canvas_size, angle, translate, scale, shear,
                                              center=center, expand=False, clamping_mode=clamping_mode)[0]


def rotate_bounding_boxes(bounding_boxes, format, canvas_size, angle, expand=False, center=None,
                          clamping_mode="soft"):
    """rotate's kernel for boxes (pure tensor): (boxes, canvas_size), the canvas grown when expand."""
    return _affine_bounding_boxes_with_expand(bounding_boxes, format, canvas_size, -angle, [0.0, 0.0], 1.0,
                                              [0.0, 0.0], center=center, expand=expand, clamping_mode=clamping_mode)


def perspective_bounding_boxes(bounding_boxes, format, canvas_size, startpoints, endpoints, coefficients=None,
                               clamping_mode="soft"):
    """perspective's kernel for boxes (pure tensor): corners mapped by the inverse of the image's warp."""
    a = _F1._arr(bounding_boxes)
    if a.size == 0:
        return bounding_boxes
    c = _perspective_coefficients(startpoints, endpoints, coefficients)
    format = _format(format)
    dt = _box_float_dtype(a)
    xyxy = _xyxy_native(a, format).astype(dt).reshape(-1, 4)  # converted before the cast to float, as torchvision
    # the image's coefficients map output to input pixels; boxes need the inverse map
    denom = c[0] * c[4] - c[1] * c[3]
    if denom == 0:
        raise RuntimeError(f"Provided perspective_coeffs {c} can not be inverted to transform bounding boxes. "
                           f"Denominator is zero, denom={denom}")
    inv = [(c[4] - c[5] * c[7]) / denom, (-c[1] + c[2] * c[7]) / denom, (c[1] * c[5] - c[2] * c[4]) / denom,
           (-c[3] + c[5] * c[6]) / denom, (c[0] - c[2] * c[6]) / denom, (-c[0] * c[5] + c[2] * c[3]) / denom,
           (-c[4] * c[6] + c[3] * c[7]) / denom, (-c[0] * c[7] + c[1] * c[6]) / denom]
    theta1 = np.array([inv[0:3], inv[3:6]], dt)
    theta2 = np.array([[inv[6], inv[7], 1.0], [inv[6], inv[7], 1.0]], dt)
    pts = _corners(xyxy)
    pts = np.concatenate([pts, np.ones((len(pts), 1), dt)], 1)
    out = _hull((pts @ theta1.T) / (pts @ theta2.T))
    return _finish_boxes(out, format, canvas_size, clamping_mode, a.shape, a.dtype)


def elastic_bounding_boxes(bounding_boxes, format, canvas_size, displacement, clamping_mode="soft"):
    """elastic's kernel for boxes (pure tensor): corners moved by the approximate inverse identity - displacement."""
    d = _displacement(displacement, (1,) + tuple(canvas_size) + (2,))
    a = _F1._arr(bounding_boxes)
    if a.size == 0:
        return bounding_boxes
    format = _format(format)
    dt = _box_float_dtype(a)
    xyxy = _convert_format(a, format, BoundingBoxFormat.XYXY).reshape(-1, 4)
    h, w = canvas_size
    gx, gy = _identity_grid(h, w, dt)
    d = d.astype(dt, copy=False)
    inv_x, inv_y = gx - d[0, :, :, 0], gy - d[0, :, :, 1]
    pts = _corners(xyxy)
    if pts.dtype.kind == "f":
        pts = np.ceil(pts)
    ix = pts[:, 0].astype(np.int64).clip(0, w - 1)
    iy = pts[:, 1].astype(np.int64).clip(0, h - 1)
    half = np.array([0.5 * w, 0.5 * h], dt)
    moved = (np.stack([inv_x[iy, ix], inv_y[iy, ix]], -1) + dt.type(1)) * half - dt.type(0.5)
    out = _hull(moved).astype(a.dtype, copy=False).astype(dt)  # torch casts to the boxes' dtype, then clamps
    return _finish_boxes(out, format, canvas_size, clamping_mode, a.shape, a.dtype)


def elastic_mask(mask, displacement, fill=None):
    """elastic's kernel for masks (..., H, W): nearest sampling, so labels stay labels."""
    return _on_mask(elastic_image, mask, displacement, interpolation=InterpolationMode.NEAREST, fill=fill)


# ---- per-type kernels under torchvision's public names (pure tensors in, pure tensors out) ----------------
def _on_mask(kernel, mask, *args, **kwargs):
    """Run an image kernel on a mask, adding a channel axis to a (H, W) mask for the call."""
    m = _pure(mask)
    flat = m.ndim < 3
    out = kernel(m.unsqueeze(0) if flat else m, *args, **kwargs)
    return out.squeeze(0) if flat else out


def _with_kernel_doc(kernel, doc):
    if not kernel.__doc__:
        kernel.__doc__ = doc
    return kernel


# the image kernels each functional dispatches pure tensors to; a video is a batch of images
adjust_brightness_image = adjust_brightness_video = _with_kernel_doc(
    _adjust_brightness_v2, "adjust_brightness's kernel for image tensors (and videos).")
adjust_contrast_image = adjust_contrast_video = _with_kernel_doc(
    _adjust_contrast_v2, "adjust_contrast's kernel for image tensors (and videos).")
adjust_saturation_image = adjust_saturation_video = _with_kernel_doc(
    _adjust_saturation_v2, "adjust_saturation's kernel for image tensors (and videos).")
adjust_hue_image = adjust_hue_video = _with_kernel_doc(
    _adjust_hue_v2, "adjust_hue's kernel for image tensors (and videos).")
adjust_sharpness_image = adjust_sharpness_video = _with_kernel_doc(
    _adjust_sharpness_image, "adjust_sharpness's kernel for image tensors (and videos).")
adjust_gamma_video = adjust_gamma_image
autocontrast_image = autocontrast_video = _with_kernel_doc(
    _autocontrast_image, "autocontrast's kernel for image tensors (and videos).")
equalize_image = equalize_video = _with_kernel_doc(
    _equalize_image, "equalize's kernel for image tensors (and videos).")
invert_image = invert_video = _with_kernel_doc(_invert_image, "invert's kernel for image tensors (and videos).")
posterize_image = posterize_video = _with_kernel_doc(
    _posterize_image, "posterize's kernel for image tensors (and videos).")
solarize_image = solarize_video = _with_kernel_doc(
    _solarize_image, "solarize's kernel for image tensors (and videos).")
rgb_to_grayscale_image = _KERNELS[rgb_to_grayscale][Tensor]
permute_channels_image = permute_channels_video = _with_kernel_doc(
    _permute_channels_image, "permute_channels' kernel for image tensors (and videos).")
gaussian_noise_video = gaussian_noise_image
jpeg_video = jpeg_image
elastic_video = elastic_image
normalize_image = normalize_video = _with_kernel_doc(
    _normalize_image, "normalize's kernel for float image tensors (and videos).")
gaussian_blur_image = gaussian_blur_video = _with_kernel_doc(
    _gaussian_blur_image, "gaussian_blur's kernel for image tensors (and videos).")
erase_image = erase_video = _with_kernel_doc(_erase_image, "erase's kernel for image tensors (and videos).")
to_dtype_image = to_dtype_video = _with_kernel_doc(
    _to_dtype_image, "to_dtype's kernel for image tensors (and videos): scale maps int ranges and [0, 1].")
five_crop_image = five_crop_video = _with_kernel_doc(
    _five_crop_image, "five_crop's kernel for image tensors (and videos).")
ten_crop_image = ten_crop_video = _with_kernel_doc(
    _ten_crop_image, "ten_crop's kernel for image tensors (and videos).")
resize_image = resize_video = _with_kernel_doc(_resize_image, "resize's kernel for image tensors (and videos).")
resized_crop_image = resized_crop_video = _with_kernel_doc(
    _resized_crop_image, "resized_crop's kernel for image tensors (and videos).")
rotate_image = rotate_video = _with_kernel_doc(_rotate_image, "rotate's kernel for image tensors (and videos).")
affine_image = affine_video = _with_kernel_doc(_affine_image, "affine's kernel for image tensors (and videos).")
perspective_image = perspective_video = _with_kernel_doc(
    _perspective_image, "perspective's kernel for image tensors (and videos).")
pad_image = pad_video = _with_kernel_doc(_pad_image, "pad's kernel for image tensors (and videos).")
crop_image = crop_video = _F1.crop
center_crop_image = center_crop_video = _F1.center_crop
horizontal_flip_image = horizontal_flip_video = _F1.hflip
vertical_flip_image = vertical_flip_video = _F1.vflip


def get_dimensions_image(image):
    """[C, H, W] of an image tensor (C = 1 for a (H, W) tensor)."""
    chw = list(image.shape[-3:])
    if len(chw) == 3:
        return chw
    if len(chw) == 2:
        return [1] + chw
    raise TypeError(f"Input tensor should have at least two dimensions, but got {len(chw)}")


get_dimensions_video = get_dimensions_image


def get_num_channels_image(image):
    """The number of channels of an image tensor."""
    return get_dimensions_image(image)[0]


get_num_channels_video = get_num_channels_image


def get_size_image(image):
    """[H, W] of an image tensor."""
    hw = list(image.shape[-2:])
    if len(hw) != 2:
        raise TypeError(f"Input tensor should have at least two dimensions, but got {len(hw)}")
    return hw


get_size_video = get_size_mask = get_size_image


def get_size_bounding_boxes(bounding_box):
    """[H, W] of the canvas of BoundingBoxes."""
    return list(bounding_box.canvas_size)


# masks: the image kernels with nearest sampling and a channel axis added to (H, W) masks
horizontal_flip_mask = _F1.hflip
vertical_flip_mask = _F1.vflip
crop_mask = _F1.crop
center_crop_mask = _F1.center_crop
pad_mask = _with_kernel_doc(_pad_mask, "pad's kernel for masks: scalar fill only.")


def resize_mask(mask, size, interpolation=InterpolationMode.BILINEAR, max_size=None):
    """resize's kernel for masks: nearest (or nearest-exact when asked), whatever the mode."""
    return _on_mask(_resize_mask, mask, size, interpolation=interpolation, max_size=max_size)


def resized_crop_mask(mask, top, left, height, width, size):
    """resized_crop's kernel for masks: crop, then nearest resize."""
    return resize_mask(_F1.crop(_pure(mask), top, left, height, width), size)


def rotate_mask(mask, angle, expand=False, center=None, fill=None):
    """rotate's kernel for masks (nearest sampling)."""
    return _on_mask(_rotate_mask, mask, angle, expand=expand, center=center, fill=fill)


def affine_mask(mask, angle, translate, scale, shear, fill=None, center=None):
    """affine's kernel for masks (nearest sampling)."""
    return _on_mask(_affine_mask, mask, angle, translate, scale, shear, fill=fill, center=center)


def perspective_mask(mask, startpoints, endpoints, fill=None, coefficients=None):
    """perspective's kernel for masks (nearest sampling)."""
    return _on_mask(_perspective_mask, mask, startpoints, endpoints, fill=fill, coefficients=coefficients)


# boxes: a pure (..., 4) tensor with its format and canvas; kernels that change the canvas return it too.
# Translations and flips work in the boxes' own format and dtype, as torchvision's do.
def _flip_boxes(bounding_boxes, format, extent, lo):
    """Mirror boxes along one axis of length extent: lo is the column of their low coordinate (0 for x,
    1 for y); the high corner (XYXY) or the size (XYWH) sits two columns further."""
    a = _F1._arr(bounding_boxes)
    out = a.reshape(-1, 4).copy()
    hi = lo + 2
    fmt = _format(format)
    if fmt is BoundingBoxFormat.XYXY:
        out[:, [hi, lo]] = -(out[:, [lo, hi]] - extent)
    elif fmt is BoundingBoxFormat.XYWH:
        out[:, lo] = -((out[:, lo] + out[:, hi]) - extent)
    else:
        out[:, lo] = -(out[:, lo] - extent)
    return _wrap(out.reshape(a.shape))


def horizontal_flip_bounding_boxes(bounding_boxes, format, canvas_size):
    """horizontal_flip's kernel for boxes (pure tensor)."""
    return _flip_boxes(bounding_boxes, format, canvas_size[1], 0)


def vertical_flip_bounding_boxes(bounding_boxes, format, canvas_size):
    """vertical_flip's kernel for boxes (pure tensor)."""
    return _flip_boxes(bounding_boxes, format, canvas_size[0], 1)


def crop_bounding_boxes(bounding_boxes, format, top, left, height, width, clamping_mode="soft"):
    """crop's kernel for boxes (pure tensor): (boxes, (height, width))."""
    fmt = _format(format)
    out = _translate_array(_F1._arr(bounding_boxes), fmt, -left, -top)
    return _wrap(_clamp_array(out, fmt, (height, width), clamping_mode)), (height, width)


def center_crop_bounding_boxes(bounding_boxes, format, canvas_size, output_size, clamping_mode="soft"):
    """center_crop's kernel for boxes (pure tensor): (boxes, new canvas_size)."""
    top, left, height, width = _center_crop_params(canvas_size, output_size)
    return crop_bounding_boxes(bounding_boxes, format, top, left, height, width, clamping_mode=clamping_mode)


def pad_bounding_boxes(bounding_boxes, format, canvas_size, padding, padding_mode="constant", clamping_mode="soft"):
    """pad's kernel for boxes (pure tensor): (boxes, new canvas_size)."""
    if padding_mode not in ["constant"]:
        raise ValueError(f"Padding mode '{padding_mode}' is not supported with bounding boxes")
    left, right, top, bottom = _parse_pad_padding(padding)
    fmt = _format(format)
    out = _translate_array(_F1._arr(bounding_boxes), fmt, left, top)
    height, width = canvas_size
    canvas_size = (height + top + bottom, width + left + right)
    return _wrap(_clamp_array(out, fmt, canvas_size, clamping_mode)), canvas_size


def resize_bounding_boxes(bounding_boxes, canvas_size, size, max_size=None, format=BoundingBoxFormat.XYXY,
                          clamping_mode="soft"):
    """resize's kernel for boxes (pure tensor): (boxes, new canvas_size); integer boxes are truncated."""
    old_height, old_width = canvas_size
    size = [size] if isinstance(size, int) else (None if size is None else list(size))
    new_height, new_width = _F1._compute_resized_output_size(tuple(canvas_size), size, max_size)
    if (new_height, new_width) == (old_height, old_width):
        return bounding_boxes, tuple(canvas_size)
    a = _F1._arr(bounding_boxes)
    ft = _box_float_dtype(a)
    # torchvision multiplies by a float32 tensor of ratios, in the product's dtype
    ratios = np.array([new_width / old_width, new_height / old_height] * 2, np.float32).astype(ft)
    return _wrap((a.astype(ft, copy=False) * ratios).astype(a.dtype)), (new_height, new_width)


def resized_crop_bounding_boxes(bounding_boxes, format, top, left, height, width, size, clamping_mode="soft"):
    """resized_crop's kernel for boxes (pure tensor): (boxes, new canvas_size)."""
    out, canvas_size = crop_bounding_boxes(bounding_boxes, format, top, left, height, width,
                                           clamping_mode=clamping_mode)
    return resize_bounding_boxes(out, canvas_size, size, format=_format(format), clamping_mode=clamping_mode)
