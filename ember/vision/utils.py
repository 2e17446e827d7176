"""torchvision.utils: make_grid, save_image and the drawing helpers, pixel for pixel as torchvision."""
import math
import warnings

import numpy as np

from .. import _backend as B
from .._tensor import Size, Tensor, _wrap

__all__ = ["make_grid", "save_image", "draw_bounding_boxes", "draw_segmentation_masks", "draw_keypoints",
           "flow_to_image"]


def _as_batch(tensor):
    if isinstance(tensor, Tensor):
        return np.asarray(tensor._data) if type(tensor._data) is np.ndarray else np.asarray(tensor)
    if isinstance(tensor, list) and tensor and all(isinstance(t, Tensor) for t in tensor):
        shapes = {tuple(t.shape) for t in tensor}
        if len(shapes) > 1:
            raise RuntimeError(f"make_grid: all images must have the same shape to be stacked, got "
                               f"{sorted(shapes)}; resize or crop them first.")
        return np.stack([np.asarray(t) for t in tensor], 0)
    raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0,
              **kwargs):
    """Tile a batch (B x C x H x W) or list of images into one C x H' x W' image, nrow images per row."""
    a = _as_batch(tensor)
    if "range" in kwargs:
        warnings.warn("range will be deprecated, please use value_range instead.")
        value_range = kwargs["range"]

    if a.ndim == 2:  # single image H x W
        a = a[None]
    if a.ndim == 3:  # single image
        if a.shape[0] == 1:  # single-channel -> 3-channel
            a = np.concatenate((a, a, a), 0)
        a = a[None]
    if a.ndim == 4 and a.shape[1] == 1:  # single-channel images
        a = np.concatenate((a, a, a), 1)
    if a.ndim != 4:
        raise ValueError(f"make_grid: expected a batch B x C x H x W (or a list of C x H x W images), got shape "
                         f"{tuple(a.shape)}")

    if normalize is True:
        if a.dtype.kind != "f":
            raise RuntimeError(f"make_grid(normalize=True): result type Float can't be cast to the desired output "
                               f"type {_torch_name(a.dtype)}; convert the images with .float() first.")
        a = a.copy()  # avoid modifying tensor in-place
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max are numbers")
        t = a.dtype.type

        def norm_ip(img, low, high):
            np.clip(img, t(low), t(high), out=img)
            np.subtract(img, t(low), out=img)
            np.divide(img, t(max(high - low, 1e-5)), out=img)

        def norm_range(img):
            if value_range is not None:
                norm_ip(img, value_range[0], value_range[1])
            else:
                norm_ip(img, float(img.min()), float(img.max()))

        if scale_each is True:
            for img in a:  # each image of the mini-batch
                norm_range(img)
        else:
            norm_range(a)

    if a.shape[0] == 1:
        return _wrap(a[0])

    nmaps = a.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = int(a.shape[2] + padding), int(a.shape[3] + padding)
    num_channels = a.shape[1]
    grid = np.full((num_channels, height * ymaps + padding, width * xmaps + padding), pad_value, dtype=a.dtype)
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= nmaps:
                break
            grid[:, y * height + padding: (y + 1) * height, x * width + padding: (x + 1) * width] = a[k]
            k += 1
    return _wrap(grid)


def _torch_name(dt):
    d = B.FROM_NUMPY.get(np.dtype(dt))
    return d.name.capitalize() if d is not None else str(dt)


def save_image(tensor, fp, format=None, **kwargs):
    """Save a Tensor image (or a batch, through make_grid) to a file or file object with PIL."""
    from PIL import Image
    grid = make_grid(tensor, **kwargs)._data
    if grid.dtype.kind != "f":
        raise RuntimeError(f"save_image: result type Float can't be cast to the desired output type "
                           f"{_torch_name(grid.dtype)}; give a float image in [0, 1] (e.g. tensor.float() / 255).")
    t = grid.dtype.type
    # add 0.5 after unnormalizing to [0, 255] to round to the nearest integer
    nd = np.clip(grid * t(255) + t(0.5), 0, 255).transpose(1, 2, 0).astype(np.uint8)
    im = Image.fromarray(np.ascontiguousarray(nd))
    im.save(fp, format=format)


# ---- drawing -----------------------------------------------------------------------------------
def _host(t):
    """The host NumPy array of a Tensor (or array-like), without a copy when it already is one."""
    if isinstance(t, Tensor):
        a = t._data
        return a if type(a) is np.ndarray else np.asarray(t.detach())
    return np.asarray(t)


def _scaled(a, s):
    """a * s as torch computes a tensor times a Python float: half precision in float32, rounded once."""
    if a.dtype == np.float16:
        return (a.astype(np.float32) * np.float32(s)).astype(np.float16)
    return a * a.dtype.type(s)


def _float_to_uint8(a):
    # torchvision's to_dtype(scale=True): times 255.999 (so 0.9999 still reaches 255), then the cast
    # truncates toward zero and wraps out-of-range values like torch does
    with np.errstate(invalid="ignore", over="ignore"):
        return _scaled(a, 255 + 1.0 - 1e-3).astype(np.int64).astype(np.uint8)


def _uint8_to_float(a, dt):
    return _scaled(a.astype(dt), 1.0 / 255)


def _check_image(image, name, channels):
    """torchvision's checks on the image argument of the draw_* functions (same order, types, messages)."""
    if not isinstance(image, Tensor):
        raise TypeError(f"Tensor expected, got {type(image)}" if name == "draw_bounding_boxes"
                        else f"The image must be a tensor, got {type(image)}")
    if not (image.dtype.np == np.uint8 or image.is_floating_point()):
        raise ValueError(f"The image dtype must be uint8 or float, got {image.dtype}")
    if image.dim() != 3:
        raise ValueError("Pass individual images, not batches")
    if image.shape[0] not in channels:
        raise ValueError("Only grayscale and RGB images are supported" if len(channels) > 1
                         else "Pass an RGB image. Other Image formats are not supported")


def _generate_color_palette(num_objects):
    """torchvision's default colors: object i gets (i * (2**25-1, 2**15-1, 2**21-1)) % 255."""
    return [tuple(i * p % 255 for p in (2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1)) for i in range(num_objects)]


def _parse_colors(colors, *, num_objects, floating=False):
    """One RGB tuple per object from None (the palette), one color, or a list of colors; a color is
    a PIL name or hex string ("red", "#FF00FF") or an RGB tuple. Floats in [0, 1] when floating."""
    from PIL import ImageColor
    default = colors is None
    if default:
        colors = _generate_color_palette(num_objects)
    elif isinstance(colors, list):
        if len(colors) < num_objects:
            raise ValueError(f"Number of colors must be equal or larger than the number of objects, but got "
                             f"{len(colors)} < {num_objects}.")
    elif not isinstance(colors, (tuple, str)):
        raise ValueError(f"colors must be a tuple or a string, or a list thereof, but got {colors}.")
    elif isinstance(colors, tuple) and len(colors) != 3:
        raise ValueError(f"If passed as tuple, colors should be an RGB triplet, but got {colors}.")
    else:
        colors = [colors] * num_objects
    colors = [ImageColor.getrgb(c) if isinstance(c, str) else tuple(c) if isinstance(c, list) else c
              for c in colors]
    if floating:
        # torchvision's default palette is made of int64 tensors: its / 255 rounds to float32 first
        to_unit = (lambda v: float(np.float32(v) / np.float32(255))) if default else (lambda v: v / 255)
        colors = [tuple(to_unit(v) for v in c) for c in colors]
    return colors


def _dashed_line(draw, start, end, fill, width, dash_length=5, space_length=5):
    """A dashed segment from start to end, dashes first; the same float steps as torchvision's, so the
    same pixels."""
    (x1, y1), (x2, y2) = start, end
    left = ((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5
    dash = True
    while left > 0:
        step = min(left, dash_length if dash else space_length)
        angle = math.atan2(y2 - y1, x2 - x1)
        ex, ey = x1 + math.cos(angle) * step, y1 + math.sin(angle) * step
        if dash:
            draw.line([(x1, y1), (ex, ey)], fill, width, None)
        left -= step
        x1, y1 = ex, ey
        dash = not dash


def _oriented_rectangle(draw, xy, fill, outline, width):
    """A rotated box (x1, y1, ..., x4, y4): the first edge dashed to show its orientation, then the fill."""
    _dashed_line(draw, (xy[0], xy[1]), (xy[2], xy[3]), outline, width)
    n = len(xy)
    for i in range(2, n, 2):
        draw.line(((xy[i], xy[i + 1]), (xy[(i + 2) % n], xy[(i + 3) % n])), width=width, fill=outline)
    draw.polygon(xy, fill=fill, outline=None, width=0)


def draw_bounding_boxes(image, boxes, labels=None, colors=None, fill=False, width=1, font=None, font_size=None,
                        label_colors=None, label_background_colors=None, fill_labels=False):
    """Draw (N, 4) xyxy or (N, 8) rotated boxes, with optional labels, on a (C, H, W) uint8 or float image."""
    from PIL import Image, ImageDraw, ImageFont
    _check_image(image, "draw_bounding_boxes", (1, 3))
    b = _host(boxes)
    if b.shape[-1] == 4 and ((b[:, 0] > b[:, 2]).any() or (b[:, 1] > b[:, 3]).any()):
        raise ValueError("Boxes need to be in (xmin, ymin, xmax, ymax) format. Use torchvision.ops.box_convert to "
                         "convert them")
    num_boxes = b.shape[0]
    if num_boxes == 0:
        warnings.warn("boxes doesn't contain any box. No box was drawn")
        return image
    if labels is None:
        labels = [None] * num_boxes
    elif len(labels) != num_boxes:
        raise ValueError(f"Number of boxes ({num_boxes}) and labels ({len(labels)}) mismatch. Please specify "
                         f"labels for each box.")

    colors = _parse_colors(colors, num_objects=num_boxes)
    if label_colors or fill_labels:  # filled label boxes default to black text
        label_colors = _parse_colors(label_colors if label_colors else "black", num_objects=num_boxes)
    else:
        label_colors = list(colors)
    if fill_labels and label_background_colors:
        label_background_colors = _parse_colors(label_background_colors, num_objects=num_boxes)
    else:
        label_background_colors = list(colors)

    if font is None:
        if font_size is not None:
            warnings.warn("Argument 'font_size' will be ignored since 'font' is not set.")
        txt_font = ImageFont.load_default()
    else:
        txt_font = ImageFont.truetype(font=font, size=font_size or 10)

    a = _host(image)
    if a.shape[0] == 1:
        a = np.concatenate((a, a, a), 0)
    floating = a.dtype.kind == "f"
    if floating:
        a = _float_to_uint8(a)
    img = Image.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0)))  # RGB, inferred: Pillow 11.3 deprecates mode=
    draw = ImageDraw.Draw(img, "RGBA") if fill else ImageDraw.Draw(img)
    int_boxes = b.astype(np.int64).tolist()  # truncation toward zero, as torch's .to(torch.int64)

    for bbox, color, label, label_color, label_bg in zip(int_boxes, colors, labels, label_colors,
                                                          label_background_colors):
        fill_color = tuple(color) + (100,) if fill else None  # translucent fill
        if len(bbox) > 4:
            _oriented_rectangle(draw, bbox, fill=fill_color, outline=color, width=width)
        else:
            draw.rectangle(bbox, width=width, outline=color, fill=fill_color)
        if label is not None:
            box_margin = 1
            margin = width + box_margin
            at = (bbox[0] + margin, bbox[1] + margin)
            if fill_labels:
                left, top, right, bottom = draw.textbbox(at, label, font=txt_font)
                draw.rectangle((left - box_margin, top - box_margin, right + box_margin, bottom + box_margin),
                               fill=label_bg)
            draw.text(at, label, fill=label_color, font=txt_font)

    out = np.array(img).transpose(2, 0, 1)
    if floating:
        out = _uint8_to_float(out, image.dtype.np)
    return _wrap(np.ascontiguousarray(out))


def draw_segmentation_masks(image, masks, alpha=0.8, colors=None):
    """Blend (N, H, W) or (H, W) boolean masks onto a (3, H, W) image: alpha 0 is transparent, 1 opaque."""
    _check_image(image, "draw_segmentation_masks", (3,))
    m = _host(masks)
    if m.ndim == 2:
        m = m[None]
    if m.ndim != 3:
        raise ValueError("masks must be of shape (H, W) or (batch_size, H, W)")
    if m.dtype != np.bool_:
        raise ValueError(f"The masks must be of dtype bool. Got {B.FROM_NUMPY.get(m.dtype, m.dtype)}")
    if m.shape[-2:] != tuple(image.shape[-2:]):
        raise ValueError("The image and the masks must have the same height and width")
    num_masks = m.shape[0]
    if num_masks == 0:
        warnings.warn("masks doesn't contain any mask. No mask was drawn")
        return image

    a = _host(image)
    dt = a.dtype
    colors = _parse_colors(colors, num_objects=num_masks, floating=dt.kind == "f")
    drawn = a.copy()
    for mask, color in zip(m, colors):
        drawn[:, mask] = np.array(color, dtype=dt)[:, None]
    drawn[:, m.sum(0) > 1] = 0  # pixels under several masks go black

    if isinstance(alpha, (bool, int, np.integer)):
        out = a * dt.type(1 - alpha) + drawn * dt.type(alpha)  # torch keeps integer arithmetic here
    else:
        if dt.kind != "f":  # uint8 * Python float promotes to float32
            a, drawn = a.astype(np.float32), drawn.astype(np.float32)
        out = _scaled(a, 1 - alpha) + _scaled(drawn, alpha)
    if dt.kind != "f":
        with np.errstate(invalid="ignore"):
            out = out.astype(np.int64)
    out = _wrap(np.ascontiguousarray(out.astype(dt)))
    return out if image.device.type == "cpu" else out.to(image.device)


def draw_keypoints(image, keypoints, connectivity=None, colors=None, radius=2, width=3, visibility=None):
    """Draw (N, K, 2) keypoints as discs (and the connectivity pairs as lines) on a (3, H, W) image."""
    from PIL import Image, ImageDraw
    _check_image(image, "draw_keypoints", (3,))
    k = _host(keypoints)
    if k.ndim != 3:
        raise ValueError("keypoints must be of shape (num_instances, K, 2)")
    if visibility is None:
        vis = np.ones(k.shape[:-1], dtype=bool)
        vshape = tuple(k.shape[:-1])
    else:
        vis = _host(visibility)
        if vis.ndim == 3 and vis.shape[-1] == 1:  # e.g. pred.split([2, 1], dim=-1)[1]
            vis = vis[..., 0]
        vshape = vis.shape
    if vis.ndim != 2:
        raise ValueError(f"visibility must be of shape (num_instances, K). Got ndim={vis.ndim}")
    if tuple(vshape) != tuple(k.shape[:-1]):
        raise ValueError(f"keypoints and visibility must have the same dimensionality for num_instances and K. "
                         f"Got visibility.shape={Size(vshape)} and keypoints.shape={Size(k.shape)}")

    a = _host(image)
    floating = a.dtype.kind == "f"
    if floating:
        a = _float_to_uint8(a)
    img = Image.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0)))
    draw = ImageDraw.Draw(img)
    pts = k.astype(np.int64).tolist()
    vis = vis.astype(bool).tolist()

    for inst, inst_vis in zip(pts, vis):
        for (x, y), visible in zip(inst, inst_vis):
            if visible:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colors, outline=None, width=0)
        for i, j in connectivity or ():
            if inst_vis[i] and inst_vis[j]:  # an edge to a hidden point is not drawn
                draw.line(((inst[i][0], inst[i][1]), (inst[j][0], inst[j][1])), width=width)

    out = np.array(img).transpose(2, 0, 1)
    if floating:
        out = _uint8_to_float(out, image.dtype.np)
    return _wrap(np.ascontiguousarray(out))


def flow_to_image(flow):
    """Optical flow (2, H, W) or (N, 2, H, W) float32 -> uint8 RGB image(s): hue is direction, saturation is
    the magnitude relative to the largest one."""
    if flow.dtype.np != np.float32:
        raise ValueError(f"Flow should be of dtype torch.float, got {flow.dtype}.")
    orig_shape = flow.shape
    f = _host(flow)
    if f.ndim == 3:
        f = f[None]
    if f.ndim != 4 or f.shape[1] != 2:
        raise ValueError(f"Input flow should have shape (2, H, W) or (N, 2, H, W), got {orig_shape}.")
    max_norm = np.sqrt(f[:, 0] * f[:, 0] + f[:, 1] * f[:, 1]).max()
    img = _normalized_flow_to_image(f / (max_norm + np.finfo(np.float32).eps))
    out = _wrap(img[0] if len(orig_shape) == 3 else img)
    return out if flow.device.type == "cpu" else out.to(flow.device)


def _normalized_flow_to_image(nf):
    """(N, 2, H, W) flow of norm <= 1 -> (N, 3, H, W) uint8 through the Middlebury color wheel."""
    wheel = _make_colorwheel()
    ncols = wheel.shape[0]
    norm = np.sqrt(nf[:, 0] * nf[:, 0] + nf[:, 1] * nf[:, 1])
    # float64 then rounded: torch's vectorized float32 atan2 (SLEEF, 1 ulp) is nearer the correctly
    # rounded angle than NumPy's float32 one; a last-bit difference can still move a pixel by 1
    angle = np.arctan2(-nf[:, 1], -nf[:, 0], dtype=np.float64).astype(np.float32) / np.float32(math.pi)
    fk = (angle + np.float32(1)) / np.float32(2) * np.float32(ncols - 1)
    k0 = np.floor(fk).astype(np.int64)
    k1 = k0 + 1
    k1[k1 == ncols] = 0
    frac = fk - k0.astype(np.float32)
    out = np.empty((nf.shape[0], 3, nf.shape[2], nf.shape[3]), np.uint8)
    one, c255 = np.float32(1), np.float32(255)
    for c in range(3):
        col0, col1 = wheel[k0, c] / c255, wheel[k1, c] / c255
        col = (one - frac) * col0 + frac * col1
        col = one - norm * (one - col)  # desaturate small motions towards white
        out[:, c] = np.floor(c255 * col)
    return out


def _make_colorwheel():
    """The 55 x 3 float32 color wheel of Baker et al., "A Database and Evaluation Methodology for Optical Flow"
    (ICCV 2007): red-yellow-green-cyan-blue-magenta segments of 15, 6, 4, 11, 13, 6 hues."""
    segments = (15, 6, 4, 11, 13, 6)
    # per segment: (channel held at 255, channel that changes, whether it ramps up or down)
    ramps = ((0, 1, True), (1, 0, False), (1, 2, True), (2, 1, False), (2, 0, True), (0, 2, False))
    wheel = np.zeros((sum(segments), 3), np.float32)
    start = 0
    for n, (full, moving, up) in zip(segments, ramps):
        ramp = np.floor(255 * np.arange(n) / n)
        wheel[start:start + n, full] = 255
        wheel[start:start + n, moving] = ramp if up else 255 - ramp
        start += n
    return wheel
