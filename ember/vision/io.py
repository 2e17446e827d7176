"""torchvision.io (images only): read an image file into a uint8 Tensor (C, H, W), and encode/write one.

torchvision decodes and encodes with libpng/libjpeg/giflib/libwebp; ember does it with PIL (imported
lazily), so encoded bytes differ from torchvision's while the decoded pixels round-trip the same way. The
data tutorial's custom Dataset calls ``decode_image(path)``.
"""
import io as _io
import os
import struct
from enum import Enum

import numpy as np

from .. import _backend as B
from .._tensor import Tensor, _wrap

__all__ = ["ImageReadMode", "read_file", "write_file", "decode_image", "read_image", "decode_png", "encode_png",
           "write_png", "decode_jpeg", "encode_jpeg", "write_jpeg", "decode_gif", "decode_webp", "decode_avif",
           "decode_heic"]


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


# ---- writing -----------------------------------------------------------------------------------
def _host(t):
    a = t._data
    return a if type(a) is np.ndarray else np.asarray(t.detach().cpu()._data)


def _bytes_tensor(data):
    return _wrap(np.frombuffer(data, dtype=np.uint8).copy())


def _check_image_to_encode(input, name):
    """torchvision's checks (RuntimeError) on an image to encode: uint8, (C, H, W), C = 1 or 3."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a uint8 Tensor (C, H, W), got {type(input).__name__}")
    if input.dtype is not B.uint8:
        raise RuntimeError(f"Input tensor dtype should be uint8 (got {input.dtype}); convert a float image in "
                           f"[0, 1] with (img * 255).round().to(torch.uint8)")
    if input.dim() != 3:
        raise RuntimeError(f"Input data should be a 3-dimensional tensor (C, H, W), got shape {tuple(input.shape)}"
                           + ("; add the channel dimension with img.unsqueeze(0)" if input.dim() == 2 else ""))
    channels = input.shape[0]
    if channels not in (1, 3):
        raise RuntimeError(f"The number of channels should be 1 or 3, got: {channels}"
                           + (" (drop the alpha channel with img[:3])" if channels == 4 else ""))


def _to_pil(input):
    from PIL import Image
    a = _host(input)
    if a.shape[0] == 1:
        return Image.fromarray(np.ascontiguousarray(a[0]))  # L, inferred: Pillow 11.3 deprecates mode=
    return Image.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0)))  # RGB, inferred: Pillow 11.3 deprecates mode=


def write_file(filename, data):
    """Write the bytes of a 1-D uint8 Tensor to a file."""
    if not isinstance(data, Tensor):
        raise TypeError(f"write_file: expected a 1-D uint8 Tensor, got {type(data).__name__}")
    if data.device.type != "cpu":
        raise RuntimeError("Input tensor should be on CPU")
    if data.dtype is not B.uint8:
        raise RuntimeError(f"Input tensor dtype should be uint8, got {data.dtype}")
    if data.dim() != 1:
        raise RuntimeError(f"Input data should be a 1-dimensional tensor, got shape {tuple(data.shape)}")
    path = os.fspath(filename)
    try:
        with open(path, "wb") as f:
            f.write(np.ascontiguousarray(_host(data)).tobytes())
    except OSError as e:
        raise RuntimeError(f"Error opening output file '{path}': [Errno {e.errno}] {e.strerror}") from None


def encode_png(input, compression_level=6):
    """The bytes of a PNG file (1-D uint8 Tensor) holding a uint8 (1 or 3, H, W) image; level 0 (none) to 9."""
    if not 0 <= compression_level <= 9:
        raise RuntimeError(f"Compression level should be between 0 and 9, got {compression_level}")
    _check_image_to_encode(input, "encode_png")
    if input.device.type != "cpu":
        raise RuntimeError("Input tensor should be on CPU")
    buf = _io.BytesIO()
    _to_pil(input).save(buf, format="PNG", compress_level=int(compression_level))
    return _bytes_tensor(buf.getvalue())


def write_png(input, filename, compression_level=6):
    """Save a uint8 (1 or 3, H, W) image as a PNG file."""
    write_file(filename, encode_png(input, compression_level))


def encode_jpeg(input, quality=75):
    """The bytes of a JPEG file (1-D uint8 Tensor) for a uint8 (1 or 3, H, W) image, or a list for a list."""
    if quality < 1 or quality > 100:
        raise ValueError("Image quality should be a positive number between 1 and 100")
    if isinstance(input, list):
        if not input:
            raise ValueError("encode_jpeg requires at least one input tensor when a list is passed")
        return [_encode_jpeg_one(img, quality) for img in input]
    return _encode_jpeg_one(input, quality)


def _encode_jpeg_one(input, quality):
    _check_image_to_encode(input, "encode_jpeg")
    buf = _io.BytesIO()
    img = _to_pil(input)
    # libjpeg's defaults, as torchvision's encoder: baseline; 4:2:0 chroma subsampling for color, none for gray
    extra = {"subsampling": "4:2:0"} if img.mode == "RGB" else {}
    img.save(buf, format="JPEG", quality=int(quality), **extra)
    out = _bytes_tensor(buf.getvalue())
    return out if input.device.type == "cpu" else out.to(input.device)  # a CUDA image gets CUDA bytes


def write_jpeg(input, filename, quality=75):
    """Save a uint8 (1 or 3, H, W) image as a JPEG file (quality 1 to 100)."""
    output = encode_jpeg(input, quality)
    if not isinstance(output, Tensor):
        # torchvision: a bare assert, since write_jpeg writes one file
        raise AssertionError("write_jpeg writes one image: pass a Tensor, not a list (call it once per image)")
    write_file(filename, output.cpu())


# ---- GIF, WebP, AVIF, HEIC -----------------------------------------------------------------------
def _encoded_bytes(input, name):
    """The bytes of a 1-D uint8 Tensor of encoded data (torchvision's RuntimeError otherwise)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected the file's bytes as a 1-D uint8 Tensor (e.g. from read_file), "
                        f"got {type(input).__name__}")
    if input.dtype is not B.uint8:
        raise RuntimeError(f"Input tensor must have uint8 data type, got {input.dtype}")
    if input.dim() != 1:
        raise RuntimeError(f"Input tensor must be 1-dimensional, got {input.dim()} dims.")
    return _host(input).tobytes()


def _skip_sub_blocks(buf, pos):
    """The position after a chain of GIF data sub-blocks (each a length byte then data; 0 ends it)."""
    while True:
        if pos >= len(buf):
            raise RuntimeError("DGifSlurp() failed - 102: the GIF data ends early (truncated file?)")
        n = buf[pos]
        pos += 1 + n
        if n == 0:
            return pos


def _gif_frames(buf):
    """Split a GIF into frames: (width, height, color table, interlace flag, LZW data) each."""
    if buf[:6] not in (b"GIF87a", b"GIF89a") or len(buf) < 13:
        raise RuntimeError("DGifOpenFileName() failed - 103: the input is not a GIF file (no GIF87a/GIF89a header)")
    flags = buf[10]
    pos = 13
    global_table = None
    if flags & 0x80:
        size = 3 << ((flags & 7) + 1)
        global_table, pos = buf[pos:pos + size], pos + size
    frames = []
    while pos < len(buf) and buf[pos] != 0x3B:  # 0x3B: trailer
        kind = buf[pos]
        if kind == 0x21:  # extension: label, then sub-blocks
            pos = _skip_sub_blocks(buf, pos + 2)
        elif kind == 0x2C:  # image descriptor
            if pos + 10 > len(buf):
                raise RuntimeError("DGifSlurp() failed - 102: the GIF data ends early (truncated file?)")
            _, _, w, h, fflags = struct.unpack("<HHHHB", buf[pos + 1:pos + 10])
            pos += 10
            table = global_table
            if fflags & 0x80:
                size = 3 << ((fflags & 7) + 1)
                table, pos = buf[pos:pos + size], pos + size
            start = pos
            pos = _skip_sub_blocks(buf, pos + 1)  # LZW minimum code size, then the data
            frames.append((w, h, table, fflags & 0x40, buf[start:pos]))
        else:
            raise RuntimeError(f"DGifSlurp() failed - 107: unexpected GIF record type 0x{kind:02x}")
    if not frames:
        raise RuntimeError("DGifSlurp() failed - 105: the GIF holds no image")
    return frames


def _decode_gif_frame(w, h, table, interlace, data):
    """One frame's raw pixels through its color table: a one-frame GIF without transparency, decoded by PIL."""
    from PIL import Image
    bits = max(len(table) // 3 - 1, 1).bit_length() - 1  # the table holds 2 ** (bits + 1) colors
    single = (b"GIF89a" + struct.pack("<HHBBB", w, h, 0xF0 | bits, 0, 0) + table
              + b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, interlace) + data + b"\x3b")
    try:
        img = Image.open(_io.BytesIO(single))
        img.load()
    except Exception as e:
        raise RuntimeError(f"DGifSlurp() failed - 112: the GIF image data is corrupt ({e})") from None
    return np.asarray(img.convert("RGB")).transpose(2, 0, 1)


def decode_gif(input):
    """Decode GIF bytes into a uint8 RGB Tensor: (3, H, W) for one image, (N, 3, H, W) for N frames.

    As torchvision (giflib), each frame is its own raster through its color table: no transparency, no
    frame offsets or disposal, and all frames must have the first one's size."""
    frames = _gif_frames(_encoded_bytes(input, "decode_gif"))
    h0, w0 = frames[0][1], frames[0][0]
    out = np.empty((len(frames), 3, h0, w0), np.uint8)
    for i, (w, h, table, interlace, data) in enumerate(frames):
        if (w, h) != (w0, h0):
            raise RuntimeError(f"All images in the gif should have the same dimensions. (frame {i} is {w}x{h}, "
                               f"frame 0 is {w0}x{h0})")
        if table is None:
            raise RuntimeError("Global and local color maps are missing. This should never happen!")
        out[i] = _decode_gif_frame(w, h, table, interlace, data)
    return _wrap(out[0] if len(frames) == 1 else out)


def _open_pil(data, kind):
    from PIL import Image
    try:
        img = Image.open(_io.BytesIO(data))
        img.load()
    except Exception as e:
        raise RuntimeError(f"decode_{kind}: could not decode the input as {kind.upper()} ({e})") from None
    return img


def _rgb_or_rgba(img, mode):
    """torchvision's WebP/AVIF/HEIC channels: RGB, RGB_ALPHA, or (any other mode) RGBA when the file has alpha."""
    if mode is ImageReadMode.RGB:
        want = "RGB"
    elif mode is ImageReadMode.RGB_ALPHA:
        want = "RGBA"
    else:
        want = "RGBA" if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info else "RGB"
    return _wrap(np.ascontiguousarray(np.asarray(img.convert(want)).transpose(2, 0, 1)))


def decode_webp(input, mode=ImageReadMode.UNCHANGED):
    """Decode (still) WebP bytes into a uint8 Tensor (3 or 4, H, W); GRAY modes decode as UNCHANGED, as in
    torchvision."""
    mode = _read_mode(mode)
    data = _encoded_bytes(input, "decode_webp")
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise RuntimeError("WebPGetFeatures failed with error code 3 (the input is not a WebP file)")
    img = _open_pil(data, "webp")
    if getattr(img, "n_frames", 1) > 1:
        raise RuntimeError("Animated webp files are not supported.")
    return _rgb_or_rgba(img, mode)


def _extra_decoder(kind):
    """Raise as torchvision does without torchvision-extra-decoders when PIL cannot read `kind`."""
    from PIL import Image, features
    Image.init()
    if kind == "avif":
        available = features.check_module("avif") if "avif" in features.modules else "AVIF" in Image.OPEN
        fix = "a Pillow built with AVIF support (Pillow >= 11.3 wheels, or `pip install pillow-avif-plugin`)"
    else:
        available = "HEIF" in Image.OPEN
        fix = "the pillow-heif plugin (`pip install pillow-heif`, then `pillow_heif.register_heif_opener()`)"
    if not available:
        raise RuntimeError(f"In order to enable the {kind.upper()} decoding capabilities of ember.vision, you need "
                           f"{fix}: ember decodes {kind.upper()} through PIL, where torchvision needs "
                           f"`pip install torchvision-extra-decoders`.")


def decode_avif(input, mode=ImageReadMode.UNCHANGED):
    """Decode AVIF bytes into a uint8 Tensor (3 or 4, H, W), through PIL's AVIF support."""
    _extra_decoder("avif")
    mode = _read_mode(mode)
    return _rgb_or_rgba(_open_pil(_encoded_bytes(input, "decode_avif"), "avif"), mode)


def decode_heic(input, mode=ImageReadMode.UNCHANGED):
    """Decode HEIC bytes into a uint8 Tensor (3 or 4, H, W), through the pillow-heif plugin."""
    _extra_decoder("heic")
    mode = _read_mode(mode)
    return _rgb_or_rgba(_open_pil(_encoded_bytes(input, "decode_heic"), "heic"), mode)
