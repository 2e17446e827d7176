"""torchvision.io's encoders and the GIF/WebP/AVIF/HEIC decoders. ember encodes with PIL, so the bytes differ
from libpng/libjpeg's: the tests check round trips, the file structure and torchvision's argument checks."""
import importlib.util
import io
import pathlib
import struct

import numpy as np
import pytest

import ember
from ember._tensor import _wrap
from ember.vision import io as vio
from tests.conftest import real_torchvision, torch

Image = pytest.importorskip("PIL.Image")

tvio = real_torchvision("torchvision.io")
tv_ops = tvio is not None and tvio.image._has_image_ops()  # its C decoders/encoders may not load
needs_tv_ops = pytest.mark.skipif(not tv_ops, reason="torchvision's image C extension is not available")

rng = np.random.default_rng(0)


def E(a):
    return _wrap(np.ascontiguousarray(a))


def smooth(c=3, h=32, w=48):
    """A smooth uint8 image (gradients), which JPEG keeps close."""
    y, x = np.mgrid[0:h, 0:w]
    chans = [(x * 255 / w), (y * 255 / h), ((x + y) * 255 / (w + h))][:c]
    return np.stack(chans).astype(np.uint8)


def as_bytes(t):
    assert isinstance(t, ember.Tensor) and t.dtype == ember.uint8 and t.dim() == 1
    return t.numpy().tobytes()


# ---- PNG ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("c", [1, 3])
def test_encode_png_round_trips_exactly_at_every_level(c):
    img = rng.integers(0, 256, (c, 9, 13), dtype=np.uint8)
    for level in range(10):
        data = vio.encode_png(E(img), compression_level=level)
        assert as_bytes(data)[:8] == b"\x89PNG\r\n\x1a\n"
        np.testing.assert_array_equal(vio.decode_png(data).numpy(), img)
        np.testing.assert_array_equal(vio.decode_image(data).numpy(), img)
    # PIL reads it as 8-bit gray / RGB
    assert Image.open(io.BytesIO(as_bytes(vio.encode_png(E(img))))).mode == ("L" if c == 1 else "RGB")


def test_png_compression_level_changes_the_size_not_the_pixels():
    img = np.repeat(smooth(), 4, axis=2)
    stored, best = vio.encode_png(E(img), 0).numel(), vio.encode_png(E(img), 9).numel()
    assert stored > img.size > 4 * best  # level 0 stores the rows (plus headers)


def test_write_png_then_read_image(tmp_path):
    img = rng.integers(0, 256, (3, 5, 7), dtype=np.uint8)
    vio.write_png(E(img), str(tmp_path / "a.png"))
    vio.write_png(E(img[:1]), tmp_path / "g.png", compression_level=1)  # pathlib works too
    np.testing.assert_array_equal(vio.read_image(str(tmp_path / "a.png")).numpy(), img)
    np.testing.assert_array_equal(vio.read_image(tmp_path / "g.png").numpy(), img[:1])


def test_encode_png_checks():
    img = E(np.zeros((3, 4, 4), np.uint8))
    with pytest.raises(RuntimeError, match="Compression level should be between 0 and 9"):
        vio.encode_png(img, compression_level=10)
    with pytest.raises(RuntimeError, match="Compression level should be between 0 and 9"):
        vio.encode_png(E(np.zeros((3, 4, 4), np.float32)), compression_level=-1)  # checked first
    with pytest.raises(RuntimeError, match="Input tensor dtype should be uint8"):
        vio.encode_png(E(np.zeros((3, 4, 4), np.float32)))
    with pytest.raises(RuntimeError, match="Input data should be a 3-dimensional tensor.*unsqueeze"):
        vio.encode_png(E(np.zeros((4, 4), np.uint8)))
    with pytest.raises(RuntimeError, match="The number of channels should be 1 or 3, got: 4"):
        vio.encode_png(E(np.zeros((4, 4, 4), np.uint8)))
    with pytest.raises(TypeError, match="encode_png"):
        vio.encode_png(np.zeros((3, 4, 4), np.uint8))


# ---- JPEG --------------------------------------------------------------------------------------------
def _jpeg_frame(data):
    """(marker, [(component id, sampling byte), ...]) of the JPEG's start-of-frame segment."""
    pos = 2
    while pos < len(data):
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if 0xC0 <= marker <= 0xC2:
            n = data[pos + 9]
            comps = [(data[pos + 10 + 3 * i], data[pos + 11 + 3 * i]) for i in range(n)]
            return marker, comps
        pos += 2 + length
    raise AssertionError("no SOF segment")


@pytest.mark.parametrize("c", [1, 3])
def test_encode_jpeg_round_trips_within_tolerance(c):
    img = smooth(c)
    data = vio.encode_jpeg(E(img), quality=95)
    raw = as_bytes(data)
    assert raw[:2] == b"\xff\xd8" and raw[-2:] == b"\xff\xd9"
    back = vio.decode_jpeg(data).numpy()
    assert back.shape == img.shape
    err = np.abs(back.astype(int) - img)
    assert err.mean() < 1.5 and err.max() <= 12
    # libjpeg's defaults, as torchvision's encoder: baseline, and for color 2x2 luma / 1x1 chroma (4:2:0)
    marker, comps = _jpeg_frame(raw)
    assert marker == 0xC0
    assert [s for _, s in comps] == ([0x11] if c == 1 else [0x22, 0x11, 0x11])


def test_jpeg_quality_trades_size_for_error():
    img = smooth()
    sizes, errors = [], []
    for q in (5, 50, 100):
        data = vio.encode_jpeg(E(img), quality=q)
        sizes.append(data.numel())
        errors.append(np.abs(vio.decode_image(data).numpy().astype(int) - img).mean())
    assert sizes[0] < sizes[1] < sizes[2] and errors[0] > errors[1] > errors[2]
    assert vio.encode_jpeg(E(img)).numel() == vio.encode_jpeg(E(img), quality=75).numel()  # default 75


def test_encode_jpeg_list_returns_a_list_and_write_jpeg(tmp_path):
    imgs = [smooth(3), smooth(1, 10, 12)]
    out = vio.encode_jpeg([E(i) for i in imgs], quality=90)
    assert isinstance(out, list) and len(out) == 2
    for data, img in zip(out, imgs):
        assert as_bytes(data) == as_bytes(vio.encode_jpeg(E(img), quality=90))
    vio.write_jpeg(E(imgs[0]), str(tmp_path / "a.jpg"), quality=90)
    assert (tmp_path / "a.jpg").read_bytes() == as_bytes(out[0])
    assert tuple(vio.read_image(tmp_path / "a.jpg").shape) == (3, 32, 48)
    with pytest.raises(AssertionError, match="one image"):
        vio.write_jpeg([E(imgs[0])], str(tmp_path / "b.jpg"))
    assert not (tmp_path / "b.jpg").exists()


def test_encode_jpeg_checks():
    img = E(smooth())
    for q in (0, 101):
        with pytest.raises(ValueError, match="Image quality should be a positive number between 1 and 100"):
            vio.encode_jpeg(E(np.zeros((3, 4, 4), np.float32)), quality=q)  # before the dtype check
    with pytest.raises(ValueError, match="Image quality should be a positive number between 1 and 100"):
        vio.write_jpeg(img, "never.jpg", quality=0)
    with pytest.raises(ValueError, match="encode_jpeg requires at least one input tensor when a list is passed"):
        vio.encode_jpeg([])
    with pytest.raises(RuntimeError, match="Input tensor dtype should be uint8"):
        vio.encode_jpeg(E(np.zeros((3, 4, 4), np.int64)))
    with pytest.raises(RuntimeError, match="Input data should be a 3-dimensional tensor"):
        vio.encode_jpeg([img, E(np.zeros((1, 3, 4, 4), np.uint8))])
    with pytest.raises(RuntimeError, match="The number of channels should be 1 or 3, got: 2"):
        vio.encode_jpeg(E(np.zeros((2, 4, 4), np.uint8)))


# ---- write_file ---------------------------------------------------------------------------------------
def test_write_file_round_trips_with_read_file(tmp_path):
    data = rng.integers(0, 256, 1000, dtype=np.uint8)
    vio.write_file(str(tmp_path / "blob.bin"), E(data))
    assert (tmp_path / "blob.bin").read_bytes() == data.tobytes()
    np.testing.assert_array_equal(vio.read_file(pathlib.Path(tmp_path / "blob.bin")).numpy(), data)
    with pytest.raises(RuntimeError, match="Input tensor dtype should be uint8"):
        vio.write_file(str(tmp_path / "x"), E(data.astype(np.int32)))
    with pytest.raises(RuntimeError, match="Input data should be a 1-dimensional tensor"):
        vio.write_file(str(tmp_path / "x"), E(data.reshape(10, 100)))
    with pytest.raises(RuntimeError, match="Error opening output file"):
        vio.write_file(str(tmp_path / "no" / "such" / "dir"), E(data))
    assert not (tmp_path / "x").exists()


# ---- GIF ---------------------------------------------------------------------------------------------
def lzw_uncompressed(indices, min_code_size=2):
    """GIF image data for the indices with no compression: a clear code before each pixel keeps the code
    table (and the code width, min_code_size + 1 bits) from growing."""
    clear, eoi, width = 1 << min_code_size, (1 << min_code_size) + 1, min_code_size + 1
    codes = [c for i in np.asarray(indices).ravel() for c in (clear, int(i))] + [eoi]
    bits = sum(c << (k * width) for k, c in enumerate(codes))
    stream = bits.to_bytes((len(codes) * width + 7) // 8, "little")
    blocks = b"".join(bytes([len(stream[i:i + 255])]) + stream[i:i + 255] for i in range(0, len(stream), 255))
    return bytes([min_code_size]) + blocks + b"\x00"


def gif(frames, size, global_table=None):
    """A GIF89a from frames: dicts of indices (H x W), and optional table, transparent index, offset,
    interlace; the indices are given in display order (interlaced frames are stored reordered)."""
    w, h = size
    out = b"GIF89a" + struct.pack("<HHBBB", w, h, (0xF1 if global_table else 0x70), 0, 0)
    if global_table:
        out += bytes(np.asarray(global_table, np.uint8).ravel())
    for f in frames:
        idx = np.asarray(f["indices"])
        if "transparent" in f:  # graphic control extension
            out += b"\x21\xf9\x04" + bytes([0x01 | (2 << 2), 0, 0, f["transparent"]]) + b"\x00"
        flags = 0
        table = b""
        if "table" in f:
            flags |= 0x81
            table = bytes(np.asarray(f["table"], np.uint8).ravel())
        if f.get("interlace"):
            flags |= 0x40
            hh = idx.shape[0]
            order = list(range(0, hh, 8)) + list(range(4, hh, 8)) + list(range(2, hh, 4)) + list(range(1, hh, 2))
            idx = idx[order]
        x0, y0 = f.get("offset", (0, 0))
        out += b"\x2c" + struct.pack("<HHHHB", x0, y0, idx.shape[1], idx.shape[0], flags) + table
        out += lzw_uncompressed(idx)
    return out + b"\x3b"


PAL = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]
LOCAL = [(10, 20, 30), (40, 50, 60), (70, 80, 90), (100, 110, 120)]


def colors_of(indices, table):
    return np.asarray(table, np.uint8)[np.asarray(indices)].transpose(2, 0, 1)


def test_decode_gif_single_frame_is_chw_through_the_palette():
    idx = rng.integers(0, 4, (5, 7))
    out = vio.decode_gif(E(np.frombuffer(gif([{"indices": idx}], (7, 5), PAL), np.uint8)))
    assert out.dtype == ember.uint8 and tuple(out.shape) == (3, 5, 7)
    np.testing.assert_array_equal(out.numpy(), colors_of(idx, PAL))


def test_decode_gif_frames_are_raw_rasters_as_giflib():
    # frame 2 has its own table and a transparent index: torchvision ignores transparency (no compositing)
    a, b = rng.integers(0, 4, (10, 6)), rng.integers(0, 4, (10, 6))
    c = rng.integers(0, 4, (10, 6))
    data = gif([{"indices": a}, {"indices": b, "table": LOCAL, "transparent": 0},
                {"indices": c, "interlace": True}], (6, 10), PAL)
    out = vio.decode_gif(E(np.frombuffer(data, np.uint8)))
    assert tuple(out.shape) == (3, 3, 10, 6)
    np.testing.assert_array_equal(out.numpy()[0], colors_of(a, PAL))
    np.testing.assert_array_equal(out.numpy()[1], colors_of(b, LOCAL))
    np.testing.assert_array_equal(out.numpy()[2], colors_of(c, PAL))


def test_decode_gif_of_a_pil_animation():
    frames = [Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).quantize(16) for _ in range(3)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = vio.decode_gif(E(np.frombuffer(buf.getvalue(), np.uint8))).numpy()
    assert out.shape == (3, 3, 20, 24)
    for got, f in zip(out, frames):
        np.testing.assert_array_equal(got, np.asarray(f.convert("RGB")).transpose(2, 0, 1))


def test_decode_gif_errors():
    small = {"indices": np.zeros((2, 2), int), "offset": (1, 1)}
    with pytest.raises(RuntimeError, match="All images in the gif should have the same dimensions"):
        vio.decode_gif(E(np.frombuffer(gif([{"indices": np.zeros((4, 4), int)}, small], (4, 4), PAL), np.uint8)))
    with pytest.raises(RuntimeError, match="Global and local color maps are missing"):
        vio.decode_gif(E(np.frombuffer(gif([{"indices": np.zeros((4, 4), int)}], (4, 4)), np.uint8)))
    with pytest.raises(RuntimeError, match="DGifOpenFileName"):
        vio.decode_gif(E(np.frombuffer(b"\x89PNG not a gif", np.uint8)))
    whole = gif([{"indices": np.zeros((4, 4), int)}], (4, 4), PAL)
    with pytest.raises(RuntimeError, match="DGifSlurp"):
        vio.decode_gif(E(np.frombuffer(whole[:-8], np.uint8)))
    with pytest.raises(RuntimeError, match="uint8 data type"):
        vio.decode_gif(E(np.zeros(10, np.float32)))


# ---- WebP / AVIF / HEIC -----------------------------------------------------------------------------------
def webp_bytes(arr, **kw):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="WEBP", **kw)
    return E(np.frombuffer(buf.getvalue(), np.uint8))


def test_decode_webp_channels_and_modes():
    rgb = rng.integers(0, 256, (6, 9, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, rng.integers(1, 256, (6, 9, 1), dtype=np.uint8)], 2)
    x = vio.decode_webp(webp_bytes(rgb, lossless=True))
    assert x.dtype == ember.uint8
    np.testing.assert_array_equal(x.numpy(), rgb.transpose(2, 0, 1))
    np.testing.assert_array_equal(vio.decode_webp(webp_bytes(rgba, lossless=True, exact=True)).numpy(),
                                  rgba.transpose(2, 0, 1))
    with_alpha = webp_bytes(rgba, lossless=True, exact=True)
    np.testing.assert_array_equal(vio.decode_webp(with_alpha, mode=vio.ImageReadMode.RGB).numpy(),
                                  rgb.transpose(2, 0, 1))
    opaque = vio.decode_webp(webp_bytes(rgb, lossless=True), mode="rgb_alpha").numpy()
    assert opaque.shape == (4, 6, 9) and (opaque[3] == 255).all()
    # torchvision's WebP decoder treats GRAY modes as UNCHANGED
    assert tuple(vio.decode_webp(webp_bytes(rgb, lossless=True), mode="GRAY").shape) == (3, 6, 9)
    lossy = vio.decode_webp(webp_bytes(np.ascontiguousarray(smooth().transpose(1, 2, 0)), quality=95)).numpy()
    assert np.abs(lossy.astype(int) - smooth()).mean() < 3


def test_decode_webp_errors():
    with pytest.raises(RuntimeError, match="WebPGetFeatures failed"):
        vio.decode_webp(E(np.frombuffer(b"GIF89a not a webp file", np.uint8)))
    with pytest.raises(RuntimeError, match="must be 1-dimensional, got 2 dims"):
        vio.decode_webp(E(np.zeros((2, 5), np.uint8)))
    frames = [Image.fromarray(np.full((4, 4, 3), v, np.uint8)) for v in (0, 255)]
    buf = io.BytesIO()
    try:
        frames[0].save(buf, format="WEBP", save_all=True, append_images=frames[1:], lossless=True)
    except Exception:  # a PIL without animated WebP
        return
    with pytest.raises(RuntimeError, match="Animated webp files are not supported."):
        vio.decode_webp(E(np.frombuffer(buf.getvalue(), np.uint8)))


def _without(monkeypatch, fmt):
    """Make PIL look as if it could not read fmt (AVIF or HEIF)."""
    from PIL import Image as PILImage, features
    PILImage.init()
    monkeypatch.setattr(PILImage, "OPEN", {k: v for k, v in PILImage.OPEN.items() if k != fmt})
    monkeypatch.setattr(features, "modules", {k: v for k, v in features.modules.items() if k != fmt.lower()})


def test_decode_avif_via_pil_or_raises(monkeypatch):
    from PIL import features
    img = np.ascontiguousarray(smooth().transpose(1, 2, 0))
    if "avif" in features.modules and features.check_module("avif"):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="AVIF", quality=95)
        data = E(np.frombuffer(buf.getvalue(), np.uint8))
        out = vio.decode_avif(data)
        assert out.dtype == ember.uint8 and tuple(out.shape) == (3, 32, 48)
        assert np.abs(out.numpy().astype(int) - smooth()).mean() < 4
        assert tuple(vio.decode_avif(data, mode=vio.ImageReadMode.RGB_ALPHA).shape) == (4, 32, 48)
        with pytest.raises(RuntimeError, match="uint8 data type, got ember.int64"):
            vio.decode_avif(E(np.zeros(5, np.int64)))
    _without(monkeypatch, "AVIF")
    with pytest.raises(RuntimeError, match="In order to enable the AVIF decoding capabilities"):
        vio.decode_avif(E(np.zeros(5, np.uint8)))


def test_decode_heic_raises_without_a_heif_plugin(monkeypatch):
    _without(monkeypatch, "HEIF")
    with pytest.raises(RuntimeError, match="In order to enable the HEIC decoding capabilities.*pillow-heif"):
        vio.decode_heic(E(np.zeros(5, np.uint8)))


# ---- against torchvision -------------------------------------------------------------------------------------
@pytest.mark.skipif(tvio is None, reason="the real torchvision (EMBER_TORCHVISION_PATH) is not available")
def test_avif_heic_raise_runtimeerror_like_torchvision(monkeypatch):
    if importlib.util.find_spec("torchvision_extra_decoders") is not None:
        pytest.skip("torchvision-extra-decoders is installed")
    _without(monkeypatch, "AVIF")
    _without(monkeypatch, "HEIF")
    data = np.zeros(5, np.uint8)
    for name in ("decode_avif", "decode_heic"):
        with pytest.raises(RuntimeError, match="In order to enable the AVIF and HEIC decoding capabilities"):
            getattr(tvio, name)(torch.from_numpy(data))
        with pytest.raises(RuntimeError, match="In order to enable the .* decoding capabilities"):
            getattr(vio, name)(E(data))


@needs_tv_ops
def test_encoders_interoperate_with_torchvision():
    img = smooth()
    np.testing.assert_array_equal(tvio.decode_png(torch.from_numpy(vio.encode_png(E(img)).numpy())).numpy(), img)
    np.testing.assert_array_equal(vio.decode_png(E(tvio.encode_png(torch.from_numpy(img)).numpy())).numpy(), img)
    ours = vio.decode_jpeg(vio.encode_jpeg(E(img), quality=90)).numpy().astype(int)
    theirs = tvio.decode_jpeg(tvio.encode_jpeg(torch.from_numpy(img), quality=90)).numpy().astype(int)
    assert np.abs(ours - theirs).max() <= 2
    data = gif([{"indices": rng.integers(0, 4, (5, 7))}, {"indices": rng.integers(0, 4, (5, 7)), "table": LOCAL,
                                                         "transparent": 1}], (7, 5), PAL)
    np.testing.assert_array_equal(vio.decode_gif(E(np.frombuffer(data, np.uint8))).numpy(),
                                  tvio.decode_gif(torch.frombuffer(bytearray(data), dtype=torch.uint8)).numpy())
    for bad in (np.zeros((4, 4, 4), np.uint8), np.zeros((3, 4, 4), np.float32)):
        with pytest.raises(RuntimeError) as theirs:
            tvio.encode_png(torch.from_numpy(bad))
        with pytest.raises(RuntimeError, match=str(theirs.value).split("\n")[0][:30]):
            vio.encode_png(E(bad))
