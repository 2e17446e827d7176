"""torchvision.io (images only): read an image file into a uint8 Tensor (C, H, W).

torchvision decodes with libpng/libjpeg; ember decodes with PIL (imported lazily). The data
tutorial's custom Dataset calls ``decode_image(path)``.
"""
import io as _io
import os
from enum import Enum

import numpy as np

from .. import _backend as B
from .._tensor import Tensor, _wrap

__all__ = ["ImageReadMode", "read_file", "decode_image", "read_image", "decode_png", "decode_jpeg"]


class ImageReadMode(Enum):
    """The channels to decode into, as torchvision.io.ImageReadMode."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = RGB_ALPHA


# the PIL mode each read mode converts to (UNCHANGED keeps the file's own channels)
_PIL_MODE = {ImageReadMode.GRAY: "L", ImageReadMode.GRAY_ALPHA: "LA", ImageReadMode.RGB: "RGB",
             ImageReadMode.RGB_ALPHA: "RGBA"}


def _read_mode(mode):
    if isinstance(mode, ImageReadMode):
        return mode
    if isinstance(mode, str):
        key = mode.upper()
        if key in ImageReadMode.__members__:
            return ImageReadMode[key]
        # torchvision looks a string up with ImageReadMode[mode.upper()]: KeyError
        raise KeyError(f"decode_image: unknown mode {mode!r}; use a torchvision.io.ImageReadMode "
                       f"({', '.join(ImageReadMode.__members__)}) or its name as a string")
    raise TypeError(f"decode_image: unknown mode {mode!r}; use a torchvision.io.ImageReadMode "
                    f"({', '.join(ImageReadMode.__members__)}) or its name as a string")


def read_file(path):
    """The bytes of a file as a 1-D uint8 Tensor."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise RuntimeError(f"read_file: [Errno {e.errno}] {e.strerror}: '{path}'") from None
    return _wrap(np.frombuffer(data, dtype=np.uint8).copy())


def decode_image(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """Decode a PNG/JPEG/GIF/WEBP/... image (a path, or the file's bytes as a 1-D uint8 Tensor)
    into a uint8 Tensor of shape (C, H, W); ``mode`` converts to GRAY, GRAY_ALPHA, RGB or RGB_ALPHA."""
    mode = _read_mode(mode)
    if isinstance(input, Tensor):
        arr = np.asarray(input.cpu()._data)
        if arr.dtype != np.uint8 or arr.ndim != 1:
            raise RuntimeError(f"decode_image: the input tensor must be 1-D uint8 (the file's bytes, e.g. "
                               f"from read_file), got {tuple(arr.shape)} {input.dtype}")
        source = _io.BytesIO(arr.tobytes())
        name = "the input bytes"
    else:
        path = os.fspath(input)
        if not os.path.isfile(path):
            raise RuntimeError(f"decode_image: [Errno 2] No such file or directory: '{path}'")
        source, name = path, repr(path)
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        img = Image.open(source)
        img.load()
    except UnidentifiedImageError:
        raise RuntimeError(f"decode_image: {name} is not an image format ember can decode "
                           f"(PIL could not identify it)") from None
    if apply_exif_orientation:
        img = ImageOps.exif_transpose(img)
    if mode is ImageReadMode.UNCHANGED:
        # libpng/libjpeg expand palettes and CMYK to RGB (keeping transparency as an alpha channel)
        if img.mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif img.mode in ("CMYK", "YCbCr", "1"):
            img = img.convert("L" if img.mode == "1" else "RGB")
    else:
        img = img.convert(_PIL_MODE[mode])
    a = np.array(img, copy=True)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.dtype not in B.FROM_NUMPY:
        a = a.astype(np.int32)  # 16-bit images: ember has no uint16
    return _wrap(np.ascontiguousarray(a.transpose(2, 0, 1)))


def read_image(path, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """Read an image file into a uint8 Tensor (C, H, W): ``decode_image(read_file(path))``."""
    return decode_image(os.fspath(path), mode=mode, apply_exif_orientation=apply_exif_orientation)


def decode_png(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """Decode PNG bytes (1-D uint8 Tensor) into a Tensor (C, H, W)."""
    return decode_image(input, mode=mode, apply_exif_orientation=apply_exif_orientation)


def decode_jpeg(input, mode=ImageReadMode.UNCHANGED, device="cpu", apply_exif_orientation=False):
    """Decode JPEG bytes (1-D uint8 Tensor) into a Tensor (C, H, W)."""
    return decode_image(input, mode=mode, apply_exif_orientation=apply_exif_orientation)
