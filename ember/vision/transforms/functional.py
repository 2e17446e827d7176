"""torchvision.transforms.functional: the image operations behind the transform classes.

Every function takes a PIL Image or an ember Tensor image of shape (..., C, H, W) and returns the
same kind, as torchvision does. Tensor paths work on the raw NumPy array (``tensor._data``) and wrap
the result without copying: these functions run once per sample, 50,000 times an epoch.
PIL is imported lazily so that ``import ember.vision`` stays light.
"""
import math
import numbers
import sys
import warnings
from enum import Enum

import numpy as np

from ... import _backend as B
from ..._tensor import Tensor, _wrap
from ...autograd.grad_mode import is_grad_enabled

__all__ = [
    "InterpolationMode", "get_dimensions", "get_image_size", "get_image_num_channels", "to_tensor",
    "pil_to_tensor", "to_pil_image", "convert_image_dtype", "normalize", "resize", "pad", "crop",
    "center_crop", "resized_crop", "hflip", "vflip", "adjust_brightness", "adjust_contrast",
    "adjust_saturation", "adjust_hue", "rgb_to_grayscale", "to_grayscale", "rotate", "gaussian_blur", "erase",
    "affine", "perspective", "five_crop", "ten_crop", "invert", "posterize", "solarize", "adjust_sharpness",
    "autocontrast", "equalize", "adjust_gamma", "elastic_transform",
]


class InterpolationMode(Enum):
    """Interpolation modes, as torchvision.transforms.InterpolationMode."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# PIL's resampling filter numbers (Image.Resampling), without importing PIL
_PIL_FILTERS = {
    InterpolationMode.NEAREST: 0, InterpolationMode.LANCZOS: 1, InterpolationMode.BILINEAR: 2,
    InterpolationMode.BICUBIC: 3, InterpolationMode.BOX: 4, InterpolationMode.HAMMING: 5,
}
_FROM_INT = {v: k for k, v in _PIL_FILTERS.items()}
# torchvision's public table: PIL has no nearest-exact and resamples it as nearest
pil_modes_mapping = {**_PIL_FILTERS, InterpolationMode.NEAREST_EXACT: 0}


def _interpolation_modes_from_int(i):
    """The InterpolationMode for one of PIL's integer filter constants."""
    return _FROM_INT[i]


def _pil():
    from PIL import Image
    return Image


def _is_pil_image(img):
    mod = sys.modules.get("PIL.Image")
    return mod is not None and isinstance(img, mod.Image)


def _arr(t):
    """The host NumPy array of an ember Tensor."""
    a = t._data
    return a if type(a) is np.ndarray else np.asarray(t)


def _tracks_grad(img):
    """True when img's result must join the autograd graph, as torchvision's Tensor ops do: then the
    functions below run on Tensor ops (slower) instead of the raw array."""
    return img.requires_grad and is_grad_enabled()


def _check_img(img, name):
    if isinstance(img, Tensor) or _is_pil_image(img):
        return
    raise TypeError(f"{name}: img should be PIL Image or Tensor. Got {type(img)}")


def _assert_image_tensor(a, name):
    if a.ndim < 2:
        raise TypeError(f"{name}: tensor is not a torch image: expected at least 2 dimensions (..., H, W), "
                        f"got shape {tuple(a.shape)}.")


# ---- sizes ------------------------------------------------------------------------------------
def get_dimensions(img):
    """[channels, height, width] of a PIL Image or Tensor image."""
    if isinstance(img, Tensor):
        s = img._data.shape
        _assert_image_tensor(img._data, "get_dimensions")
        return [1 if len(s) == 2 else s[-3], s[-2], s[-1]]
    if _is_pil_image(img):
        w, h = img.size
        return [len(img.getbands()), h, w]
    raise TypeError(f"Unexpected type {type(img)}")


def get_image_size(img):
    """[width, height] of a PIL Image or Tensor image."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img):
    """The number of channels of a PIL Image or Tensor image."""
    return get_dimensions(img)[0]


# ---- conversions ------------------------------------------------------------------------------
_MODE_TO_NPTYPE = {"I": np.int32, "I;16" if sys.byteorder == "little" else "I;16B": np.int16, "F": np.float32}
_F32_255 = np.float32(255)


def to_tensor(pic):
    """PIL Image or ndarray (H x W x C) -> float Tensor (C x H x W); uint8 data is scaled to [0, 1]."""
    if isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        if pic.ndim == 2:
            pic = pic[:, :, None]
        chw = pic.transpose(2, 0, 1)
        if pic.dtype == np.uint8:
            return _wrap(_div255(chw))
        return _wrap(np.ascontiguousarray(chw))
    if not _is_pil_image(pic):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    mode = pic.mode
    if mode in ("RGB", "L", "RGBA", "LA", "CMYK", "YCbCr", "HSV", "LAB", "P"):
        a = np.asarray(pic)  # uint8, (H, W) or (H, W, C); PIL hands over a fresh buffer
        chw = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        return _wrap(_div255(chw))
    img = np.array(pic, _MODE_TO_NPTYPE.get(mode, np.uint8), copy=True)
    if mode == "1":
        img = (255 * img).astype(np.uint8)
    w, h = pic.size
    img = img.reshape(h, w, len(pic.getbands())).transpose(2, 0, 1)
    if img.dtype == np.uint8:
        return _wrap(_div255(img))
    return _wrap(np.ascontiguousarray(img))


def _div255(chw_uint8):
    """uint8 (C, H, W) view -> default-float array / 255, computed in that float type as torch does."""
    dt = B.get_default_dtype().np
    out = np.empty(chw_uint8.shape, dt)
    np.divide(chw_uint8, dt.type(255), out=out, dtype=dt)
    return out


def pil_to_tensor(pic):
    """PIL Image -> Tensor (C x H x W) of the same dtype, without scaling."""
    if not _is_pil_image(pic):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    a = np.array(pic, copy=True)
    w, h = pic.size
    a = a.reshape(h, w, len(pic.getbands())).transpose(2, 0, 1)
    if a.dtype not in B.FROM_NUMPY:
        a = a.astype(np.int32)  # uint16 (mode I;16) has no ember dtype
    return _wrap(np.ascontiguousarray(a))


def to_pil_image(pic, mode=None):
    """Tensor (C x H x W) or ndarray (H x W x C) -> PIL Image; float data is scaled by 255."""
    if isinstance(pic, Tensor):
        a = _arr(pic)
        if a.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {a.ndim} dimensions.")
        if a.ndim == 2:
            a = a[None]
        if a.shape[-3] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {a.shape[-3]} channels.")
        if a.dtype.kind == "f" and mode != "F":
            # torch's mul(255).byte(): truncate toward zero, out-of-range values wrap (no numpy cast warning)
            a = (a * a.dtype.type(255)).astype(np.int64).astype(np.uint8)
        npimg = np.transpose(a, (1, 2, 0))
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
        npimg = pic[:, :, None] if pic.ndim == 2 else pic
        if npimg.shape[-1] > 4:
            raise ValueError(f"pic should not have > 4 channels. Got {npimg.shape[-1]} channels.")
        if npimg.dtype.kind == "f" and mode != "F":  # float arrays are scaled by 255 like float tensors
            npimg = (npimg * npimg.dtype.type(255)).astype(np.int64).astype(np.uint8)
    else:
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")

    c = npimg.shape[2]
    if c == 1:
        npimg = npimg[:, :, 0]
        expected = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16" if sys.byteorder == "little" else "I;16B",
                    np.dtype(np.int32): "I", np.dtype(np.float32): "F"}.get(npimg.dtype)
        if mode is not None and mode != expected:
            raise ValueError(f"Incorrect mode ({mode}) supplied for input type {npimg.dtype}. Should be {expected}")
        mode = expected
    else:
        permitted = {2: ["LA"], 3: ["RGB", "YCbCr", "HSV"], 4: ["RGBA", "CMYK", "RGBX"]}[c]
        default = {2: "LA", 3: "RGB", 4: "RGBA"}[c]
        if mode is not None and mode not in permitted:
            raise ValueError(f"Only modes {permitted} are supported for {c}D inputs")
        if mode is None and npimg.dtype == np.uint8:
            mode = default
    if mode is None:
        raise TypeError(f"Input type {npimg.dtype} is not supported")
    Image = _pil()
    if mode in ("I;16", "I;16B"):
        return Image.frombuffer(mode, (npimg.shape[1], npimg.shape[0]), np.ascontiguousarray(npimg).tobytes(),
                                "raw", mode, 0, 1)
    return Image.fromarray(np.ascontiguousarray(npimg), mode=mode)


_MAX_VALUE = {np.dtype(np.uint8): 255, np.dtype(np.int8): 127, np.dtype(np.int16): 32767,
              np.dtype(np.int32): 2147483647, np.dtype(np.int64): 9223372036854775807}


def _max_value(dt):
    return _MAX_VALUE.get(np.dtype(dt), 1.0)


def convert_image_dtype(image, dtype=None):
    """Convert a Tensor image to dtype, rescaling values (floats live in [0, 1], ints in [0, MAX])."""
    if not isinstance(image, Tensor):
        raise TypeError("Input img should be Tensor Image")
    dtype = B.float32 if dtype is None else B.as_dtype(dtype)
    a = _arr(image)
    out = dtype.np
    if a.dtype == out:
        return image
    if a.dtype.kind == "f":
        if out.kind == "f":
            return _wrap(a.astype(out))
        if (a.dtype == np.float32 and out in (np.int32, np.int64)) or (a.dtype == np.float64 and out == np.int64):
            raise RuntimeError(f"The cast from {image.dtype} to {dtype} cannot be performed safely.")
        eps = 1e-3
        m = _max_value(out)
        return _wrap((a * a.dtype.type(m + 1.0 - eps)).astype(out))
    m_in = _max_value(a.dtype)
    if out.kind == "f":
        return _wrap((a.astype(out) / out.type(m_in)).astype(out))
    m_out = _max_value(out)
    if m_in > m_out:
        factor = (m_in + 1) // (m_out + 1)
        return _wrap((a // factor).astype(out))
    factor = (m_out + 1) // (m_in + 1)
    return _wrap(a.astype(out) * out.type(factor))


def normalize(tensor, mean, std, inplace=False):
    """(tensor - mean) / std per channel of a float Tensor image (..., C, H, W)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    a = tensor._data
    if a.dtype.kind != "f":
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if a.ndim < 3:
        raise ValueError("Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = "
                         f"{tensor.size()}")
    m, s = _mean_std(mean, std, a.dtype)
    return _normalize_array(tensor, a, m, s, inplace)


def _mean_std(mean, std, dt):
    m = np.asarray(mean._data if isinstance(mean, Tensor) else mean, dtype=dt)
    s = np.asarray(std._data if isinstance(std, Tensor) else std, dtype=dt)
    if (s == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {B.FROM_NUMPY[np.dtype(dt)]}, leading to "
                         "division by zero.")
    if m.ndim == 1:
        m = m.reshape(-1, 1, 1)
    if s.ndim == 1:
        s = s.reshape(-1, 1, 1)
    return m, s


def _normalize_array(tensor, a, m, s, inplace):
    if m.ndim == 3 and a.shape[-3] != m.shape[0] and m.shape[0] != 1 or \
            s.ndim == 3 and a.shape[-3] != s.shape[0] and s.shape[0] != 1:
        raise RuntimeError(f"Normalize: the image has {a.shape[-3]} channels (shape {tuple(a.shape)}) but mean has "
                           f"{m.shape[0]} and std {s.shape[0]} values; give one mean and std per channel.")
    if _tracks_grad(tensor):
        return (tensor - _wrap(m)) / _wrap(s)
    if inplace:
        np.subtract(a, m, out=a)
        np.divide(a, s, out=a)
        tensor._bump()
        return tensor
    out = np.subtract(a, m)
    np.divide(out, s, out=out)
    return _wrap(out)


# ---- geometry ---------------------------------------------------------------------------------
def _compute_resized_output_size(image_size, size, max_size=None):
    h, w = image_size
    short, long = (w, h) if w <= h else (h, w)
    if size is None:
        if max_size is None:
            raise ValueError("resize: size is None, so max_size must be given (the longer edge's target).")
        new_short, new_long = int(max_size * short / long), max_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        return [new_h, new_w]
    if len(size) == 1:  # the smaller edge
        requested_new_short = size if isinstance(size, int) else size[0]
        new_short, new_long = requested_new_short, int(requested_new_short * long / short)
        if max_size is not None:
            if max_size <= requested_new_short:
                raise ValueError(
                    f"max_size = {max_size} must be strictly greater than the requested size for the smaller edge "
                    f"size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        return [new_h, new_w]
    return [size[0], size[1]]


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to size (h, w), or match the smaller edge to an int size keeping the aspect ratio."""
    if isinstance(interpolation, int):
        interpolation = _interpolation_modes_from_int(interpolation)
    elif not isinstance(interpolation, InterpolationMode):
        raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding Pillow integer "
                        "constant")
    if isinstance(size, (list, tuple)):
        if len(size) not in (1, 2):
            raise ValueError(f"Size must be an int or a 1 or 2 element tuple/list, not a {len(size)} element "
                             "tuple/list")
        if max_size is not None and len(size) != 1:
            raise ValueError("max_size should only be passed if size specifies the length of the smaller edge, "
                             "i.e. size should be an int or a sequence of length 1 in torchscript mode.")
    elif isinstance(size, int):
        size = [size]
    elif size is not None:
        raise TypeError(f"Size should be int or sequence. Got {type(size)}")
    _check_img(img, "resize")
    _, h, w = get_dimensions(img)
    out_h, out_w = _compute_resized_output_size((h, w), size, max_size)
    if [h, w] == [out_h, out_w]:
        return img
    if _is_pil_image(img):
        if interpolation not in _PIL_FILTERS:
            raise ValueError(f"Interpolation mode {interpolation} is unsupported with PIL images")
        return img.resize((out_w, out_h), _PIL_FILTERS[interpolation])
    if _tracks_grad(img) and img.is_floating_point():
        return _resize_array(img, out_h, out_w, interpolation, antialias)
    return _wrap(_resize_array(_arr(img), out_h, out_w, interpolation, antialias))


def _resize_array(a, out_h, out_w, mode, antialias, v2=False):
    """Resize the last two axes of a; bilinear/bicubic follow torch's (antialiased) interpolate.

    a is an array, or a float Tensor that requires grad (the same weights applied with Tensor matmuls);
    v2 selects transforms.v2's kernels (native uint8 bicubic/lanczos, lanczos allowed)."""
    squeeze = a.ndim == 2
    if squeeze:
        a = a[None]
    if isinstance(a, Tensor):
        dt = a._data.dtype
        x = a
    else:
        dt = a.dtype
        x = a if dt.kind == "f" else a.astype(np.float32)
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        in_h, in_w = a.shape[-2:]
        if mode is InterpolationMode.NEAREST:  # torch's legacy 'nearest': floor(dst * scale)
            ri = np.minimum((np.arange(out_h) * (in_h / out_h)).astype(np.int64), in_h - 1)
            ci = np.minimum((np.arange(out_w) * (in_w / out_w)).astype(np.int64), in_w - 1)
        else:
            ri = np.minimum(((np.arange(out_h) + 0.5) * (in_h / out_h)).astype(np.int64), in_h - 1)
            ci = np.minimum(((np.arange(out_w) + 0.5) * (in_w / out_w)).astype(np.int64), in_w - 1)
        out = a[..., ri[:, None], ci[None, :]]
        return out[0] if squeeze else out
    if mode is InterpolationMode.BILINEAR:
        kernel = _triangle
    elif mode is InterpolationMode.BICUBIC:
        kernel = _cubic_aa if antialias else _cubic
    elif mode is InterpolationMode.LANCZOS:  # torch's interpolate; v1 turns antialias off for it, so it fails
        if not (antialias and v2):
            raise ValueError("Lanczos mode requires antialias=True")
        kernel = _lanczos
    else:  # torch's interpolate raises NotImplementedError for these modes
        raise NotImplementedError(f"Interpolation mode {mode} is unsupported with Tensor images; use BILINEAR, "
                                  "BICUBIC, NEAREST or (with antialias=True) LANCZOS, or a PIL image.")
    if not isinstance(x, Tensor) and kernel is not _lanczos and (antialias or (v2 and dt == np.uint8)):
        # torch's own separable kernel (F.interpolate): antialiased float, and v2's native uint8 (int16 fixed
        # point, rounded between the passes), as torchvision resizes tensors
        from ...nn import functional as NF
        src = a if v2 and dt == np.uint8 else x
        out = NF.interpolate(_wrap(np.ascontiguousarray(src.reshape((-1, 1) + src.shape[-2:]))), size=(out_h, out_w),
                             mode="bilinear" if kernel is _triangle else "bicubic", align_corners=False,
                             antialias=bool(antialias))._data.reshape(src.shape[:-2] + (out_h, out_w))
        if out.dtype != dt:
            out = np.clip(np.round(out), 0, _max_value(dt)).astype(dt)
        return out[0] if squeeze else out
    ft = dt if dt.kind == "f" else np.dtype(np.float32)
    wh = _resample_weights(a.shape[-2], out_h, kernel, antialias).astype(ft)
    ww = _resample_weights(a.shape[-1], out_w, kernel, antialias).astype(ft)
    if isinstance(x, Tensor):
        out = _wrap(wh).matmul(x).matmul(_wrap(np.ascontiguousarray(ww.T)))
        return out[0] if squeeze else out
    if v2 and dt == np.uint8:
        # torch's native uint8 kernel (transforms.v2 on the CPU): int16 fixed-point weights, and the horizontal
        # pass rounded and clamped to uint8 before the vertical one (bicubic overshoots change by up to ~16)
        out = a.astype(np.float64)
        if out_w != a.shape[-1]:
            out = _fixed_point_pass(np.matmul, out, ww.T)
        if out_h != a.shape[-2]:
            out = _fixed_point_pass(lambda w, v: np.matmul(v, w), out, wh)
        out = out.astype(np.uint8)
        return out[0] if squeeze else out
    out = np.matmul(np.matmul(wh, x), ww.T)
    if dt.kind != "f":
        out = np.clip(np.round(out), 0, _max_value(dt)).astype(dt)
    return out[0] if squeeze else out


def _fixed_point_pass(mul, values, weights):
    """One pass of torch's uint8 resampling: weights scaled to int16 at the largest precision that fits,
    products summed exactly (float64 holds them), rounded half up, clamped to 0..255."""
    w = weights.astype(np.float64)
    top, prec = w.max(), 0
    while prec < 22 and int(0.5 + top * (1 << (prec + 1))) < (1 << 15):
        prec += 1
    w = w * (1 << prec)
    w = np.where(w < 0, np.trunc(w - 0.5), np.trunc(w + 0.5))
    return np.clip(np.floor((mul(values, w) + (1 << (prec - 1))) / (1 << prec)), 0, 255)


def _triangle(x):
    return np.maximum(0.0, 1.0 - np.abs(x))


def _cubic(x, a=-0.75):
    """Keys' cubic kernel; torch's plain bicubic uses a = -0.75, its antialiased one (like PIL) -0.5."""
    x = np.abs(x)
    return np.where(x < 1.0, ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0,
                    np.where(x < 2.0, (((x - 5.0) * x + 8.0) * x - 4.0) * a, 0.0))


def _cubic_aa(x):
    return _cubic(x, -0.5)


def _lanczos(x):
    """Lanczos-3 (PIL's, and torch's antialiased 'lanczos' interpolate)."""
    return np.where(np.abs(x) < 3.0, np.sinc(x) * np.sinc(x / 3.0), 0.0)


def _resample_weights(in_size, out_size, kernel, antialias):
    """(out_size, in_size) matrix of interpolation weights (PIL / torch antialias formulation)."""
    scale = in_size / out_size
    fscale = max(scale, 1.0) if antialias else 1.0
    centers = (np.arange(out_size) + 0.5) * scale
    src = np.arange(in_size) + 0.5
    w = kernel((src[None, :] - centers[:, None]) / fscale)
    if kernel is _cubic and not antialias:
        # torch's non-antialiased bicubic clamps source indices at the border instead of renormalising
        pos = centers - 0.5
        i0 = np.floor(pos).astype(np.int64)
        t = pos - i0
        w = np.zeros((out_size, in_size))
        for k in range(-1, 3):
            idx = np.clip(i0 + k, 0, in_size - 1)
            np.add.at(w, (np.arange(out_size), idx), kernel(t - k))
        return w
    total = w.sum(axis=1, keepdims=True)
    return w / np.where(total == 0, 1.0, total)


def _parse_padding(padding):
    if isinstance(padding, numbers.Number):
        p = int(padding)
        return p, p, p, p
    if isinstance(padding, (list, tuple)):
        if len(padding) == 1:
            p = padding[0]
            return p, p, p, p
        if len(padding) == 2:
            return padding[0], padding[1], padding[0], padding[1]
        if len(padding) == 4:
            return tuple(padding)
    raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad all sides: padding is int, (left/right, top/bottom) or (left, top, right, bottom)."""
    if not isinstance(padding, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if fill is not None and not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate fill arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, (tuple, list)) and len(padding) not in (1, 2, 4):
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    _check_img(img, "pad")
    left, top, right, bottom = _parse_padding(padding)
    if _is_pil_image(img):
        return _pad_pil(img, left, top, right, bottom, fill, padding_mode)
    if not isinstance(padding, (int, tuple, list)):  # torchvision's tensor pad takes no float padding
        raise TypeError("Got inappropriate padding arg")
    if padding_mode == "reflect":  # torch's reflection pad (not numpy's) needs padding < the side's size
        h, w = img.shape[-2:]
        for (p0, p1), size, dim in (((left, right), w, img.ndim - 1), ((top, bottom), h, img.ndim - 2)):
            if max(p0, p1) >= size:
                raise RuntimeError(f"pad: padding_mode='reflect' needs padding smaller than the image side it "
                                   f"reflects, but got padding ({p0}, {p1}) at dimension {dim} of input "
                                   f"{list(img.shape)}; use padding_mode='symmetric' or 'edge', or pad less")
    if _tracks_grad(img):
        return _pad_tensor(img, left, top, right, bottom, fill, padding_mode)
    a = _arr(img)
    return _wrap(_pad_array(a, left, top, right, bottom, fill, padding_mode))


def _pad_array(a, left, top, right, bottom, fill, padding_mode, channels_last=False):
    """Pad (..., H, W) (or (H, W, C) when channels_last); negative padding crops."""
    hax = a.ndim - 3 if channels_last else a.ndim - 2
    sl = [slice(None)] * a.ndim
    sl[hax] = slice(max(-top, 0), a.shape[hax] - max(-bottom, 0))
    sl[hax + 1] = slice(max(-left, 0), a.shape[hax + 1] - max(-right, 0))
    a = a[tuple(sl)]
    widths = [(0, 0)] * a.ndim
    widths[hax] = (max(top, 0), max(bottom, 0))
    widths[hax + 1] = (max(left, 0), max(right, 0))
    if padding_mode == "constant":
        fill = 0 if fill is None else fill
        if isinstance(fill, (list, tuple)):
            cax = a.ndim - 1 if channels_last else a.ndim - 3
            nc = a.shape[cax] if cax >= 0 else 1
            vals = list(fill) * nc if len(fill) == 1 else list(fill)
            if len(vals) != nc:
                raise ValueError("The number of elements in 'fill' does not match the number of channels of the "
                                 f"image ({len(vals)} != {nc})")
            out = np.empty(tuple(s + w0 + w1 for s, (w0, w1) in zip(a.shape, widths)), a.dtype)
            shape = [1] * a.ndim
            if cax >= 0:
                shape[cax] = nc
            out[...] = np.asarray(vals).astype(a.dtype).reshape(shape)
            inner = tuple(slice(w0, w0 + s) for s, (w0, _) in zip(a.shape, widths))
            out[inner] = a
            return out
        return np.pad(a, widths, mode="constant", constant_values=np.asarray(fill).astype(a.dtype))
    return np.pad(a, widths, mode=padding_mode)


def _pad_tensor(img, left, top, right, bottom, fill, padding_mode):
    """pad on Tensor ops, so that the result stays in the autograd graph (torchvision's tensor pad)."""
    from ...nn import functional as NF
    h, w = img.shape[-2:]
    img = img[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    p = [max(left, 0), max(right, 0), max(top, 0), max(bottom, 0)]
    if padding_mode == "symmetric":
        hi = np.pad(np.arange(img.shape[-2]), (p[2], p[3]), mode="symmetric")
        wi = np.pad(np.arange(img.shape[-1]), (p[0], p[1]), mode="symmetric")
        return img[..., _wrap(hi), :][..., _wrap(wi)]
    squeeze = img.ndim == 2
    if squeeze:
        img = img.unsqueeze(0)
    if padding_mode == "constant":
        out = NF.pad(img, p, mode="constant", value=0.0 if fill is None else float(fill))
    else:
        out = NF.pad(img, p, mode="replicate" if padding_mode == "edge" else "reflect")
    return out[0] if squeeze else out


def _pad_pil(img, left, top, right, bottom, fill, padding_mode):
    Image = _pil()
    if padding_mode == "constant" and min(left, top, right, bottom) >= 0:
        from PIL import ImageOps
        opts = _parse_fill(fill, img, "fill")
        if img.mode == "P":
            palette = img.getpalette()
            out = ImageOps.expand(img, border=(left, top, right, bottom), **opts)
            out.putpalette(palette)
            return out
        return ImageOps.expand(img, border=(left, top, right, bottom), **opts)
    a = np.asarray(img)
    out = _pad_array(a, left, top, right, bottom, fill, padding_mode, channels_last=a.ndim == 3)
    res = Image.fromarray(out, mode=img.mode if img.mode in ("L", "RGB", "RGBA", "LA", "I", "F", "1") else None)
    if img.mode == "P":
        res.putpalette(img.getpalette())
    return res


def _parse_fill(fill, img, name="fillcolor"):
    """PIL's fill argument for img (a number per channel)."""
    num_channels = get_image_num_channels(img)
    if fill is None:
        fill = 0
    if isinstance(fill, (int, float)) and num_channels > 1:
        fill = tuple([fill] * num_channels)
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = fill * num_channels
        elif len(fill) != num_channels:
            raise ValueError("The number of elements in 'fill' does not match the number of channels of the image "
                             f"({len(fill)} != {num_channels})")
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(x) for x in fill) if isinstance(fill, tuple) else int(fill)
    return {name: fill}


def crop(img, top, left, height, width):
    """The region (top, left, height, width); areas outside the image are zero-filled."""
    _check_img(img, "crop")
    if _is_pil_image(img):
        return img.crop((left, top, left + width, top + height))
    a = _arr(img)
    h, w = a.shape[-2:]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        padding = [max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
                   max(right - max(w, left), 0), max(bottom - max(h, top), 0)]
        if _tracks_grad(img):
            sub = img[..., max(top, 0):bottom, max(left, 0):right]
            return _pad_tensor(sub, padding[0], padding[1], padding[2], padding[3], 0, "constant")
        sub = a[..., max(top, 0):bottom, max(left, 0):right]
        return _wrap(_pad_array(sub, padding[0], padding[1], padding[2], padding[3], 0, "constant"))
    if _tracks_grad(img):
        return img[..., top:bottom, left:right]
    return _wrap(a[..., top:bottom, left:right])


def center_crop(img, output_size):
    """Crop the center (h, w); pads with zeros first when the image is smaller."""
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = output_size
    if crop_width > image_width or crop_height > image_height:
        padding_ltrb = [
            (crop_width - image_width) // 2 if crop_width > image_width else 0,
            (crop_height - image_height) // 2 if crop_height > image_height else 0,
            (crop_width - image_width + 1) // 2 if crop_width > image_width else 0,
            (crop_height - image_height + 1) // 2 if crop_height > image_height else 0,
        ]
        img = pad(img, padding_ltrb, fill=0)
        _, image_height, image_width = get_dimensions(img)
        if crop_width == image_width and crop_height == image_height:
            return img
    crop_top = int(round((image_height - crop_height) / 2.0))
    crop_left = int(round((image_width - crop_width) / 2.0))
    return crop(img, crop_top, crop_left, crop_height, crop_width)


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR, antialias=True):
    """Crop then resize to size."""
    img = crop(img, top, left, height, width)
    return resize(img, size, interpolation, antialias=antialias)


def hflip(img):
    """Flip left-right."""
    _check_img(img, "hflip")
    if _is_pil_image(img):
        return img.transpose(0)  # Image.Transpose.FLIP_LEFT_RIGHT
    if _tracks_grad(img):
        return img.flip(-1)
    return _wrap(np.ascontiguousarray(_arr(img)[..., ::-1]))


def vflip(img):
    """Flip top-bottom."""
    _check_img(img, "vflip")
    if _is_pil_image(img):
        return img.transpose(1)  # Image.Transpose.FLIP_TOP_BOTTOM
    if _tracks_grad(img):
        return img.flip(-2)
    return _wrap(np.ascontiguousarray(_arr(img)[..., ::-1, :]))


# ---- colour -----------------------------------------------------------------------------------
def _blend(a, b, ratio):
    """(ratio * a + (1 - ratio) * b) clamped to the dtype's range, in a's dtype (torchvision's _blend)."""
    ratio = float(ratio)
    dt = a.dtype
    ft = dt if dt.kind == "f" else np.dtype(np.float32)
    r = ft.type(ratio)
    out = r * a.astype(ft, copy=False) + ft.type(1.0 - ratio) * np.asarray(b).astype(ft, copy=False)
    np.clip(out, 0, _max_value(dt), out=out)
    return out.astype(dt, copy=False)


def _blend_tensor(img, other, ratio):
    """_blend on Tensor ops (a float image that requires grad): torchvision's (r*img + (1-r)*other).clamp(0, 1)."""
    ratio = float(ratio)
    return (ratio * img + (1.0 - ratio) * other).clamp(0, 1.0)


def _gray_tensor(img):
    """_gray_array on Tensor ops, keeping the channel axis."""
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    return (0.2989 * r + 0.587 * g + 0.114 * b).unsqueeze(-3)


def _gray_array(a):
    """torchvision's rgb_to_grayscale on (..., 3, H, W), keeping the channel axis and dtype."""
    dt = a.dtype
    ft = dt if dt.kind == "f" else np.dtype(np.float32)
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    l_img = ft.type(0.2989) * r + ft.type(0.587) * g + ft.type(0.114) * b
    return l_img.astype(dt, copy=False)[..., None, :, :]


def _assert_channels(a, permitted, name):
    c = 1 if a.ndim == 2 else a.shape[-3]
    if c not in permitted:
        raise TypeError(f"{name}: input image tensor permitted channel values are {permitted}, but found {c}")
    return c


def rgb_to_grayscale(img, num_output_channels=1):
    """RGB -> grayscale with weights (0.2989, 0.587, 0.114); num_output_channels 1 or 3."""
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if _is_pil_image(img):
        return to_grayscale(img, num_output_channels)
    if not isinstance(img, Tensor):
        raise TypeError(f"Input should be PIL Image or Tensor. Got {type(img)}")
    a = _arr(img)
    if a.ndim < 3:
        raise TypeError(f"Input image tensor should have at least 3 dimensions, but found {a.ndim}")
    c = _assert_channels(a, [1, 3], "rgb_to_grayscale")
    if _tracks_grad(img):
        l_t = _gray_tensor(img) if c == 3 else img.clone()
        return l_t.expand(*l_t.shape[:-3], 3, *l_t.shape[-2:]).contiguous() if num_output_channels == 3 else l_t
    l_img = _gray_array(a) if c == 3 else a.copy()
    if num_output_channels == 3:
        l_img = np.broadcast_to(l_img, l_img.shape[:-3] + (3,) + l_img.shape[-2:]).copy()
    return _wrap(l_img)


def to_grayscale(img, num_output_channels=1):
    """PIL image -> grayscale PIL image with 1 or 3 channels."""
    if not _is_pil_image(img):
        if isinstance(img, Tensor):
            return rgb_to_grayscale(img, num_output_channels)
        raise TypeError(f"img should be PIL Image. Got {type(img)}")
    if num_output_channels == 1:
        return img.convert("L")
    if num_output_channels == 3:
        g = np.asarray(img.convert("L"), dtype=np.uint8)
        return _pil().fromarray(np.dstack([g, g, g]), "RGB")
    raise ValueError("num_output_channels should be either 1 or 3")


def adjust_brightness(img, brightness_factor):
    """Scale brightness: 0 gives black, 1 the original."""
    if brightness_factor < 0:
        raise ValueError(f"brightness_factor ({brightness_factor}) is not non-negative.")
    _check_img(img, "adjust_brightness")
    if _is_pil_image(img):
        from PIL import ImageEnhance
        return ImageEnhance.Brightness(img).enhance(brightness_factor)
    a = _arr(img)
    _assert_channels(a, [1, 3], "adjust_brightness")
    if _tracks_grad(img):
        return _blend_tensor(img, 0.0, brightness_factor)
    return _wrap(_blend(a, np.zeros((), a.dtype), brightness_factor))


def adjust_contrast(img, contrast_factor):
    """Scale contrast: 0 gives a solid gray image (the mean), 1 the original."""
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    _check_img(img, "adjust_contrast")
    if _is_pil_image(img):
        from PIL import ImageEnhance
        return ImageEnhance.Contrast(img).enhance(contrast_factor)
    a = _arr(img)
    c = _assert_channels(a, [1, 3], "adjust_contrast")
    if _tracks_grad(img):
        src = _gray_tensor(img) if c == 3 else img
        return _blend_tensor(img, src.mean(dim=(-3, -2, -1), keepdim=True), contrast_factor)
    ft = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    src = _gray_array(a) if c == 3 else a
    mean = np.mean(src.astype(ft), axis=(-3, -2, -1), keepdims=True, dtype=ft)
    return _wrap(_blend(a, mean, contrast_factor))


def adjust_saturation(img, saturation_factor):
    """Scale saturation: 0 gives grayscale, 1 the original."""
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    _check_img(img, "adjust_saturation")
    if _is_pil_image(img):
        from PIL import ImageEnhance
        return ImageEnhance.Color(img).enhance(saturation_factor)
    a = _arr(img)
    c = _assert_channels(a, [1, 3], "adjust_saturation")
    if c == 1:
        return img
    if _tracks_grad(img):
        return _blend_tensor(img, _gray_tensor(img), saturation_factor)
    return _wrap(_blend(a, _gray_array(a), saturation_factor))


def adjust_hue(img, hue_factor):
    """Shift hue by hue_factor in [-0.5, 0.5] (a fraction of the hue circle)."""
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    _check_img(img, "adjust_hue")
    if _is_pil_image(img):
        mode = img.mode
        if mode in ("L", "1", "I", "F"):
            return img
        Image = _pil()
        h, s, v = img.convert("HSV").split()
        np_h = np.array(h, dtype=np.uint8)
        # wraps around, as torchvision's uint8 addition does
        np_h += np.uint8(int(hue_factor * 255) % 256)
        return Image.merge("HSV", (Image.fromarray(np_h, "L"), s, v)).convert(mode)
    a = _arr(img)
    c = _assert_channels(a, [1, 3], "adjust_hue")
    if c == 1:
        return img
    dt = a.dtype
    x = a if dt.kind == "f" else _arr(convert_image_dtype(img, B.float32))
    h, s, v = np.moveaxis(_rgb2hsv(x), -3, 0)
    h = np.mod(h + h.dtype.type(hue_factor), h.dtype.type(1.0))
    out = _hsv2rgb(np.stack((h, s, v), axis=-3))
    if dt.kind != "f":
        return convert_image_dtype(_wrap(out), B.FROM_NUMPY[dt])
    return _wrap(out)


def _rgb2hsv(img):
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc = img.max(axis=-3)
    minc = img.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    one = img.dtype.type(1)
    s = cr / np.where(eqc, one, maxc)
    cr_divisor = np.where(eqc, one, cr)
    rc = (maxc - r) / cr_divisor
    gc = (maxc - g) / cr_divisor
    bc = (maxc - b) / cr_divisor
    t = img.dtype.type
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (t(2.0) + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (t(4.0) + gc - rc)
    h = hr + hg + hb
    h = np.fmod(h / t(6.0) + t(1.0), t(1.0))
    return np.stack((h, s, maxc), axis=-3)


def _hsv2rgb(img):
    h, s, v = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    t = img.dtype.type
    i = np.floor(h * t(6.0))
    f = h * t(6.0) - i
    i = i.astype(np.int32) % 6
    p = np.clip(v * (t(1.0) - s), 0.0, 1.0)
    q = np.clip(v * (t(1.0) - s * f), 0.0, 1.0)
    tt = np.clip(v * (t(1.0) - s * (t(1.0) - f)), 0.0, 1.0)
    conds = [i == k for k in range(6)]
    r = np.select(conds, [v, q, p, p, tt, v])
    g = np.select(conds, [tt, v, v, q, p, p])
    b = np.select(conds, [p, p, tt, v, v, q])
    return np.stack((r, g, b), axis=-3).astype(img.dtype, copy=False)


def adjust_gamma(img, gamma, gain=1):
    """Gamma correction: gain * img ** gamma, on values scaled to [0, 1], clamped there."""
    if not isinstance(img, Tensor):
        _check_pil(img)
        if gamma < 0:
            raise ValueError("Gamma should be a non-negative real number")
        input_mode = img.mode
        # PIL's point() takes a lookup table; RGB covers L and P as well, the mode is restored after
        table = [int((255 + 1 - 1e-3) * gain * pow(v / 255.0, gamma)) for v in range(256)] * 3
        return img.convert("RGB").point(table).convert(input_mode)
    _assert_channels(_arr(img), [1, 3], "adjust_gamma")
    if gamma < 0:
        raise ValueError("Gamma should be a non-negative real number")
    dtype = img.dtype
    result = img if img.is_floating_point() else convert_image_dtype(img, B.float32)
    # Tensor ops: a float image that requires grad stays in the graph
    result = (gain * result.pow(gamma)).clamp(0, 1)
    return convert_image_dtype(result, dtype)


# ---- rotate / blur / erase: the same kernels as transforms.v2 (imported late: v2 imports this module) ----
def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=None):
    """Rotate counter-clockwise by angle degrees about center (default: the image center)."""
    from .v2 import functional as F2
    if isinstance(interpolation, int):
        interpolation = _interpolation_modes_from_int(interpolation)
    elif not isinstance(interpolation, InterpolationMode):
        raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding Pillow integer "
                        "constant")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    _check_img(img, "rotate")
    return F2._rotate_image(img, angle, interpolation, expand, center, fill)


def gaussian_blur(img, kernel_size, sigma=None):
    """Blur with a Gaussian kernel (reflect padding); kernel_size odd ints, sigma defaults from kernel_size."""
    from .v2 import functional as F2
    _check_img(img, "gaussian_blur")
    return F2.gaussian_blur(img, kernel_size, sigma)


def erase(img, i, j, h, w, v, inplace=False):
    """Set the (i, j, h, w) region of a Tensor image to v."""
    from .v2 import functional as F2
    if not isinstance(img, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    return F2._erase_image(img, i, j, h, w, v, inplace=inplace)


# ---- affine / perspective: PIL through Image.transform, tensors through v2's grid sampler ----------
def _get_inverse_affine_matrix(center, angle, translate, scale, shear, inverted=True):
    """torchvision's affine matrix M = T * C * RotateScaleShear * C^-1 (or its inverse, which PIL wants)."""
    rot = math.radians(angle)
    sx = math.radians(shear[0])
    sy = math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    if inverted:
        matrix = [d, -b, 0.0, -c, a, 0.0]
        matrix = [x / scale for x in matrix]
        matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
        matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
        matrix[2] += cx
        matrix[5] += cy
    else:
        matrix = [a, b, 0.0, c, d, 0.0]
        matrix = [x * scale for x in matrix]
        matrix[2] += matrix[0] * (-cx) + matrix[1] * (-cy)
        matrix[5] += matrix[3] * (-cx) + matrix[4] * (-cy)
        matrix[2] += cx + tx
        matrix[5] += cy + ty
    return matrix


def _check_interp_v1(interpolation):
    if isinstance(interpolation, int):
        return _interpolation_modes_from_int(interpolation)
    if not isinstance(interpolation, InterpolationMode):
        raise TypeError("Argument interpolation should be a InterpolationMode or a corresponding Pillow integer "
                        "constant")
    return interpolation


def _pil_filter(interpolation):
    if interpolation not in _PIL_FILTERS:
        raise KeyError(interpolation)  # torchvision's pil_modes_mapping lookup
    return _PIL_FILTERS[interpolation]


def affine(img, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """Rotate (clockwise angle in degrees), translate, scale and shear about center (default: the image center)."""
    interpolation = _check_interp_v1(interpolation)
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
    if isinstance(angle, int):
        angle = float(angle)
    translate = list(translate)
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")
    _check_img(img, "affine")
    _, height, width = get_dimensions(img)
    if _is_pil_image(img):
        # PIL's center is (w/2, h/2), without the half-pixel offset, so that a 90-degree turn lines up
        # with torch.rot90 and the tensor path
        if center is None:
            center = [width * 0.5, height * 0.5]
        matrix = _get_inverse_affine_matrix(center, angle, translate, scale, shear)
        return img.transform(img.size, _pil().AFFINE, matrix, _pil_filter(interpolation), **_parse_fill(fill, img))
    center_f = [0.0, 0.0]
    if center is not None:
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [width, height])]
    matrix = _get_inverse_affine_matrix(center_f, angle, [1.0 * t for t in translate], scale, shear)
    return _wrap(_affine_array(_arr(img), matrix, interpolation, fill))


def _affine_array(a, matrix, interpolation, fill, v2=False, name="affine"):
    """The tensor kernel of affine for an inverse matrix (torchvision's F_t.affine)."""
    from .v2 import functional as F2
    _assert_image_tensor(a, name)
    F2._check_grid_fill(a, fill)
    if interpolation not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        raise ValueError(f"Interpolation mode '{interpolation.value}' is unsupported with Tensor input")
    h, w = a.shape[-2:]
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    px, py = F2._affine_coords(matrix, w, h, w, h, dt)
    return F2._grid_sample(a, px, py, interpolation, fill, v2=v2, name=name)


def _get_perspective_coeffs(startpoints, endpoints):
    """(a, b, c, d, e, f, g, h) mapping endpoints to startpoints, solved in float64 and rounded to float32
    as torchvision's least-squares call returns them."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(f"Please provide exactly four corners, got {len(startpoints)} startpoints and "
                         f"{len(endpoints)} endpoints.")
    a_matrix = np.zeros((8, 8), dtype=np.float64)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a_matrix[2 * i, :] = [p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]]
        a_matrix[2 * i + 1, :] = [0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]]
    b_matrix = np.asarray(startpoints, dtype=np.float64).reshape(8)
    res = np.linalg.lstsq(a_matrix, b_matrix, rcond=None)[0].astype(np.float32)
    return [float(v) for v in res]


def perspective(img, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Warp so that the four startpoints (tl, tr, br, bl) land on the four endpoints."""
    coeffs = _get_perspective_coeffs(startpoints, endpoints)
    interpolation = _check_interp_v1(interpolation)
    _check_img(img, "perspective")
    if _is_pil_image(img):
        return img.transform(img.size, _pil().PERSPECTIVE, coeffs, _pil_filter(interpolation),
                             **_parse_fill(fill, img))
    return _wrap(_perspective_array(_arr(img), coeffs, interpolation, fill))


def _perspective_array(a, coeffs, interpolation, fill, v2=False):
    from .v2 import functional as F2
    _assert_image_tensor(a, "perspective")
    if len(coeffs) != 8:
        raise ValueError("Argument coeffs should have 8 float values")
    F2._check_grid_fill(a, fill)
    if interpolation not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        raise ValueError(f"Interpolation mode '{interpolation.value}' is unsupported with Tensor input")
    h, w = a.shape[-2:]
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    px, py = F2._perspective_coords(coeffs, w, h, dt)
    return F2._grid_sample(a, px, py, interpolation, fill, v2=v2, name="perspective")


# ---- five / ten crop ------------------------------------------------------------------------------
def five_crop(img, size):
    """(top-left, top-right, bottom-left, bottom-right, center) crops of size."""
    if isinstance(size, numbers.Number):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = size
    if crop_width > image_width or crop_height > image_height:
        raise ValueError(f"Requested crop size {size} is bigger than input size {(image_height, image_width)}")
    tl = crop(img, 0, 0, crop_height, crop_width)
    tr = crop(img, 0, image_width - crop_width, crop_height, crop_width)
    bl = crop(img, image_height - crop_height, 0, crop_height, crop_width)
    br = crop(img, image_height - crop_height, image_width - crop_width, crop_height, crop_width)
    center = center_crop(img, [crop_height, crop_width])
    return tl, tr, bl, br, center


def ten_crop(img, size, vertical_flip=False):
    """five_crop of the image, then of its horizontal (or vertical) flip: 10 crops."""
    if isinstance(size, numbers.Number):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    first_five = five_crop(img, size)
    img = vflip(img) if vertical_flip else hflip(img)
    return first_five + five_crop(img, size)


# ---- invert / posterize / solarize / sharpness / autocontrast / equalize --------------------------
def _check_color_tensor(img, name, ndims_ok=None):
    a = _arr(img)
    _assert_image_tensor(a, name)
    if a.ndim < 3:
        raise TypeError(f"Input image tensor should have at least 3 dimensions, but found {a.ndim}")
    _assert_channels(a, [1, 3], name)
    return a


def invert(img):
    """Invert colours: max - x (255 - x for uint8, 1 - x for floats)."""
    if not isinstance(img, Tensor):
        from PIL import ImageOps
        _check_pil(img)
        return ImageOps.invert(img)
    a = _check_color_tensor(img, "invert")
    return _wrap(_invert_array(a))


def _invert_array(a):
    if a.dtype == np.bool_:
        return ~a
    return (a.dtype.type(_max_value(a.dtype)) - a).astype(a.dtype, copy=False)


def _check_pil(img):
    if not _is_pil_image(img):
        raise TypeError(f"img should be PIL Image. Got {type(img)}")


def posterize(img, bits):
    """Keep only the top bits (0-8) of each uint8 channel value."""
    if not (0 <= bits <= 8):
        raise ValueError(f"The number if bits should be between 0 and 8. Got {bits}")
    if not isinstance(img, Tensor):
        from PIL import ImageOps
        _check_pil(img)
        return ImageOps.posterize(img, bits)
    a = _arr(img)
    _assert_image_tensor(a, "posterize")
    if a.ndim < 3:
        raise TypeError(f"Input image tensor should have at least 3 dimensions, but found {a.ndim}")
    if a.dtype != np.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {img.dtype}")
    _assert_channels(a, [1, 3], "posterize")
    return _wrap(a & np.uint8((-int(2 ** (8 - bits))) & 0xFF))


def _ge_threshold(a, threshold):
    """a >= threshold as torch compares a tensor with a Python number: in a's float type, or float32 for
    integer tensors against a float threshold."""
    if a.dtype.kind == "f":
        return a >= a.dtype.type(threshold)
    if isinstance(threshold, float):
        return a.astype(np.float32) >= np.float32(threshold)
    return a >= threshold


def solarize(img, threshold):
    """Invert the values at or above threshold."""
    if not isinstance(img, Tensor):
        from PIL import ImageOps
        _check_pil(img)
        return ImageOps.solarize(img, threshold)
    a = _check_color_tensor(img, "solarize")
    if threshold > _max_value(a.dtype):
        raise TypeError("Threshold should be less than bound of img.")
    return _wrap(np.where(_ge_threshold(a, threshold), _invert_array(a), a))


def _sharpen_blur(a, dt, round_int):
    """The 3x3 [1 1 1; 1 5 1; 1 1 1]/13 smoothing of the interior (no padding), in float type dt."""
    k = np.ones((3, 3), dtype=dt)
    k[1, 1] = 5.0
    k /= k.sum(dtype=dt)
    x = a.astype(dt, copy=False)
    h, w = a.shape[-2:]
    out = np.zeros(a.shape[:-2] + (h - 2, w - 2), dtype=dt)
    for i in range(3):
        for j in range(3):
            out += k[i, j] * x[..., i:i + h - 2, j:j + w - 2]
    if round_int:
        out = np.round(out)
    return out


def adjust_sharpness(img, sharpness_factor):
    """Sharpen (factor > 1) or blur (factor < 1): 1 gives the original image."""
    if not isinstance(img, Tensor):
        from PIL import ImageEnhance
        _check_pil(img)
        return ImageEnhance.Sharpness(img).enhance(sharpness_factor)
    if sharpness_factor < 0:
        raise ValueError(f"sharpness_factor ({sharpness_factor}) is not non-negative.")
    a = _arr(img)
    _assert_image_tensor(a, "adjust_sharpness")
    _assert_channels(a, [1, 3], "adjust_sharpness")
    if a.shape[-1] <= 2 or a.shape[-2] <= 2:
        return img
    fp = a.dtype.kind == "f"
    dt = a.dtype if fp else np.dtype(np.float32)
    blurred = a.copy()
    blurred[..., 1:-1, 1:-1] = _sharpen_blur(a, dt, not fp).astype(a.dtype)
    return _wrap(_blend(a, blurred, sharpness_factor))


def autocontrast(img):
    """Stretch each channel so that its darkest value becomes 0 and its lightest the maximum."""
    if not isinstance(img, Tensor):
        from PIL import ImageOps
        _check_pil(img)
        return ImageOps.autocontrast(img)
    a = _check_color_tensor(img, "autocontrast")
    bound = _max_value(a.dtype)
    dt = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    minimum = a.min(axis=(-2, -1), keepdims=True).astype(dt)
    maximum = a.max(axis=(-2, -1), keepdims=True).astype(dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        # torch evaluates `bound / tensor` as tensor.reciprocal() * bound: two roundings, not one
        scale = (dt.type(1) / (maximum - minimum)) * dt.type(bound)
    eq = ~np.isfinite(scale)
    minimum[eq] = 0
    scale[eq] = 1
    out = np.clip((a - minimum) * scale, 0, bound)
    return _wrap(out.astype(a.dtype))


def _equalize_channel(c):
    """torchvision's v1 _scale_channel: PIL's equalize lookup table for one uint8 channel."""
    hist = np.bincount(c.reshape(-1), minlength=256)
    nonzero = hist[hist != 0]
    step = int(nonzero[:-1].sum()) // 255
    if step == 0:
        return c
    lut = (np.cumsum(hist) + step // 2) // step
    lut = np.clip(np.concatenate([[0], lut[:-1]]), 0, 255)
    return lut[c].astype(np.uint8)


def equalize(img):
    """Equalize the histogram of each uint8 channel (PIL's lookup table)."""
    if not isinstance(img, Tensor):
        from PIL import ImageOps
        _check_pil(img)
        return ImageOps.equalize(img)
    a = _arr(img)
    _assert_image_tensor(a, "equalize")
    if not 3 <= a.ndim <= 4:
        raise TypeError(f"Input image tensor should have 3 or 4 dimensions, but found {a.ndim}")
    if a.dtype != np.uint8:
        raise TypeError(f"Only torch.uint8 image tensors are supported, but found {img.dtype}")
    _assert_channels(a, [1, 3], "equalize")
    flat = a.reshape((-1,) + a.shape[-2:])
    return _wrap(np.stack([_equalize_channel(ch) for ch in flat]).reshape(a.shape))


# ---- elastic ----------------------------------------------------------------------------------------
def elastic_transform(img, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Sample img at the identity grid plus displacement (1, H, W, 2), in grid_sample's [-1, 1] units."""
    from .v2 import functional as F2
    if isinstance(interpolation, int):
        warnings.warn("Argument interpolation should be of type InterpolationMode instead of int. "
                      "Please, use InterpolationMode enum.")
        interpolation = _interpolation_modes_from_int(interpolation)
    if not isinstance(displacement, Tensor):
        raise TypeError("Argument displacement should be a Tensor")
    t_img = img
    if not isinstance(img, Tensor):
        if not _is_pil_image(img):
            raise TypeError(f"img should be PIL Image or Tensor. Got {type(img)}")
        t_img = pil_to_tensor(img)
    shape = (1,) + tuple(t_img.shape[-2:]) + (2,)
    if shape != tuple(displacement.shape):
        raise ValueError(f"Argument displacement shape should be {shape}, but given {displacement.shape}")
    output = F2._elastic_sample(t_img, displacement, F2._check_interpolation(interpolation), fill, v2=False)
    if not isinstance(img, Tensor):
        output = to_pil_image(output, mode=img.mode)
    return output
