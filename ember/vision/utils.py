"""torchvision.utils: make_grid and save_image, pixel for pixel as torchvision."""
import math
import warnings

import numpy as np

from .._tensor import Tensor, _wrap

__all__ = ["make_grid", "save_image"]


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
    from .. import _backend as B
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
