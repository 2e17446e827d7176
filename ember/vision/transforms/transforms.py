"""torchvision.transforms: composable image transforms with torchvision's names, behaviour and reprs.

Random transforms draw what torchvision's draw, in the same order and with the same torch calls
(``torch.rand(1)``, ``torch.randint(lo, hi, (1,))``, ``torch.randperm(n)``,
``torch.empty(1).uniform_(a, b)``, ``normal_()``), from ember's default CPU generator, which
reproduces torch's: after ``ember.manual_seed(s)`` a pipeline picks the same flips, crops, angles
and factors as torchvision after ``torch.manual_seed(s)``, and DataLoader's per-worker seeding
makes workers differ as torch's do.  Where torchvision uses Python's ``random`` module
(RandomOrder, RandomChoice), so does ember.  One caveat: torch computes RandomResizedCrop's and
RandomErasing's ``log``/``exp`` of float32 tensors with MKL (or SLEEF), which is not always
correctly rounded; ember rounds correctly, so the float aspect ratio can differ from torch's in the
last bit, which changes the integer crop only when it lands on a rounding boundary.
"""
import math
import numbers
import random
import warnings
from collections.abc import Sequence

import numpy as np

from ... import random as _random
from ..._tensor import Tensor, _wrap
from . import functional as F
from .functional import InterpolationMode, _interpolation_modes_from_int

try:  # torchvision's tensor transforms are nn.Modules (they go into nn.Sequential)
    from ...nn import Module as _Base
except ImportError:  # pragma: no cover - nn not built yet
    _Base = object

__all__ = [
    "Compose", "ToTensor", "PILToTensor", "ConvertImageDtype", "ToPILImage", "Normalize", "Resize",
    "CenterCrop", "Pad", "Lambda", "RandomApply", "RandomChoice", "RandomOrder", "RandomCrop",
    "RandomHorizontalFlip", "RandomVerticalFlip", "RandomResizedCrop", "ColorJitter", "Grayscale",
    "RandomGrayscale", "RandomRotation", "GaussianBlur", "RandomErasing", "InterpolationMode",
    "RandomAffine", "RandomPerspective", "FiveCrop", "TenCrop", "RandomInvert", "RandomPosterize",
    "RandomSolarize", "RandomAdjustSharpness", "RandomAutocontrast", "RandomEqualize", "LinearTransformation",
    "ElasticTransform",
]


class _Transform(_Base):
    """Base of the nn.Module-style transforms: calling one runs forward, with no hook machinery on the hot path."""

    def __init__(self):
        super().__init__()

    def __call__(self, img):
        return self.forward(img)


def _setup_size(size, error_msg):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(error_msg)
    return size


# ---- torchvision's draws, one helper per torch call; all from the default CPU generator ----------
def _gen():
    return _random.default_generator


def _rand1():
    """torch.rand(1)[0]: a float32 in [0, 1).  Compare it with _f32(p): torch compares a float32
    tensor with a Python float in float32."""
    return _gen().random((1,), np.float32)[0]


def _f32(x):
    return np.float32(x)


def _uniform1(low, high):
    """torch.empty(1).uniform_(low, high).item(): a float32 draw (bounds cast to float32), as a
    Python float."""
    if not low <= high:  # torch's check (e.g. RandomRotation(degrees=(30, -30)) fails at the draw)
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={float(low):g} > "
                           f"to={float(high):g}")
    return float(_gen().uniform(low, high, (1,), np.float32)[0])


def _randint1(low, high):
    """torch.randint(low, high, size=(1,)).item()."""
    return int(_gen().integers(low, high, (1,))[0])


def _randperm(n):
    """torch.randperm(n), an int64 Tensor."""
    return _wrap(_gen().permutation(n))


def _log_ratio(ratio):
    """torch.log(torch.tensor(ratio)): the ratios as float32, their logs rounded to float32."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(ratio, np.float32).astype(np.float64)).astype(np.float32)


def _exp_uniform1(log_ratio):
    """torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1])).item(): exp of a float32
    draw, rounded to float32."""
    u = _gen().uniform(log_ratio[0], log_ratio[1], (1,), np.float32)[0]
    return float(np.float32(math.exp(float(u))))


class Compose:
    """Apply several transforms in order."""

    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        format_string = self.__class__.__name__ + "("
        for t in self.transforms:
            format_string += "\n"
            format_string += f"    {t}"
        format_string += "\n)"
        return format_string


class ToTensor:
    """PIL Image or ndarray (H x W x C, uint8) -> float Tensor (C x H x W) in [0, 1]."""

    def __call__(self, pic):
        return F.to_tensor(pic)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class PILToTensor:
    """PIL Image -> Tensor (C x H x W) of the same dtype (no scaling)."""

    def __call__(self, pic):
        return F.pil_to_tensor(pic)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class ConvertImageDtype(_Transform):
    """Convert a Tensor image to dtype, rescaling its values."""

    def __init__(self, dtype):
        super().__init__()
        self.dtype = dtype

    def forward(self, image):
        return F.convert_image_dtype(image, self.dtype)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class ToPILImage:
    """Tensor (C x H x W) or ndarray (H x W x C) -> PIL Image."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)

    def __repr__(self):
        format_string = self.__class__.__name__ + "("
        if self.mode is not None:
            format_string += f"mode={self.mode}"
        format_string += ")"
        return format_string


class Normalize(_Transform):
    """(input - mean) / std per channel of a float Tensor image."""

    def __init__(self, mean, std, inplace=False):
        super().__init__()
        self.mean = mean
        self.std = std
        self.inplace = inplace
        self._cache = None  # (key, mean array, std array): conversion and the zero-std check run once

    def forward(self, tensor):
        if type(tensor) is Tensor:
            a = tensor._data
            sm, ss = self.mean, self.std
            if type(a) is np.ndarray and a.dtype.kind == "f" and a.ndim >= 3 and type(sm) in _SEQ \
                    and type(ss) in _SEQ:
                key = (tuple(sm), tuple(ss), a.dtype)  # a copy: mutating self.mean invalidates the cache
                c = self._cache
                if c is None or c[0] != key:
                    m, s = F._mean_std(sm, ss, a.dtype)
                    c = self._cache = (key, m, s)
                return F._normalize_array(tensor, a, c[1], c[2], self.inplace)
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self):
        return f"{self.__class__.__name__}(mean={self.mean}, std={self.std})"


_SEQ = (tuple, list)


class Resize(_Transform):
    """Resize to size (h, w), or match the smaller edge to an int size."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
        super().__init__()
        if not isinstance(size, (int, Sequence)):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        if isinstance(size, Sequence) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        self.size = size
        self.max_size = max_size
        if isinstance(interpolation, int):
            interpolation = _interpolation_modes_from_int(interpolation)
        self.interpolation = interpolation
        self.antialias = antialias

    def forward(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self):
        detail = f"(size={self.size}, interpolation={self.interpolation.value}, max_size={self.max_size}, " \
                 f"antialias={self.antialias})"
        return f"{self.__class__.__name__}{detail}"


class CenterCrop(_Transform):
    """Crop the center; pads with zeros when the image is smaller than size."""

    def __init__(self, size):
        super().__init__()
        self.size = _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size.")

    def forward(self, img):
        return F.center_crop(img, self.size)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size})"


class Pad(_Transform):
    """Pad all sides with a constant, or by edge / reflect / symmetric padding."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        super().__init__()
        if not isinstance(padding, (numbers.Number, tuple, list)):
            raise TypeError("Got inappropriate padding arg")
        if not isinstance(fill, (numbers.Number, tuple, list)):
            raise TypeError("Got inappropriate fill arg")
        if padding_mode not in ["constant", "edge", "reflect", "symmetric"]:
            raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
        if isinstance(padding, Sequence) and len(padding) not in [1, 2, 4]:
            raise ValueError(
                f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")
        self.padding = padding
        self.fill = fill
        self.padding_mode = padding_mode

    def forward(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self):
        return f"{self.__class__.__name__}(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


class Lambda:
    """Apply a user function as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {repr(type(lambd).__name__)}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class RandomTransforms:
    """Base for transforms that pick among a list of transforms."""

    def __init__(self, transforms):
        if not isinstance(transforms, Sequence):
            raise TypeError("Argument transforms should be a sequence")
        self.transforms = transforms

    def __call__(self, *args, **kwargs):
        raise NotImplementedError()

    def __repr__(self):
        format_string = self.__class__.__name__ + "("
        for t in self.transforms:
            format_string += "\n"
            format_string += f"    {t}"
        format_string += "\n)"
        return format_string


class RandomApply(_Transform):
    """Apply the list of transforms with probability p."""

    def __init__(self, transforms, p=0.5):
        super().__init__()
        self.transforms = transforms
        self.p = p

    def forward(self, img):
        if _f32(self.p) < _rand1():  # torchvision: if self.p < torch.rand(1)
            return img
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        format_string = self.__class__.__name__ + "("
        format_string += f"\n    p={self.p}"
        for t in self.transforms:
            format_string += "\n"
            format_string += f"    {t}"
        format_string += "\n)"
        return format_string


class RandomOrder(RandomTransforms):
    """Apply the transforms in a random order."""

    def __call__(self, img):
        order = list(range(len(self.transforms)))
        random.shuffle(order)  # Python's random, as torchvision: seed it with random.seed
        for i in order:
            img = self.transforms[i](img)
        return img


class RandomChoice(RandomTransforms):
    """Apply one transform picked at random (weighted by p)."""

    def __init__(self, transforms, p=None):
        super().__init__(transforms)
        if p is not None and not isinstance(p, Sequence):
            raise TypeError("Argument p should be a sequence")
        self.p = p

    def __call__(self, *args):
        t = random.choices(self.transforms, weights=self.p)[0]  # Python's random, as torchvision
        return t(*args)

    def __repr__(self):
        return f"{super().__repr__()}(p={self.p})"


class RandomCrop(_Transform):
    """Crop at a random location, optionally padding first."""

    @staticmethod
    def get_params(img, output_size):
        """(top, left, height, width) of a random crop of output_size."""
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size {(h, w)}")
        if w == tw and h == th:
            return 0, 0, h, w
        i = _randint1(0, h - th + 1)
        j = _randint1(0, w - tw + 1)
        return i, j, th, tw

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        super().__init__()
        self.size = tuple(_setup_size(size, error_msg="Please provide only two dimensions (h, w) for size."))
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode

    def forward(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = F.get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = F.pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = F.pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        i, j, h, w = self.get_params(img, self.size)
        return F.crop(img, i, j, h, w)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(_Transform):
    """Flip left-right with probability p."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, img):
        if _rand1() < _f32(self.p):
            return F.hflip(img)
        return img

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


class RandomVerticalFlip(_Transform):
    """Flip top-bottom with probability p."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, img):
        if _rand1() < _f32(self.p):
            return F.vflip(img)
        return img

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


class RandomResizedCrop(_Transform):
    """Crop a random area and aspect ratio, then resize to size."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        super().__init__()
        self.size = _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size.")
        if not isinstance(scale, Sequence):
            raise TypeError("Scale should be a sequence")
        if not isinstance(ratio, Sequence):
            raise TypeError("Ratio should be a sequence")
        if isinstance(interpolation, int):
            interpolation = _interpolation_modes_from_int(interpolation)
        self.interpolation = interpolation
        self.antialias = antialias
        self.scale = scale
        self.ratio = ratio

    @staticmethod
    def get_params(img, scale, ratio):
        """(top, left, height, width) of a random sized crop."""
        _, height, width = F.get_dimensions(img)
        return _random_resized_crop_params(height, width, scale, ratio)

    def forward(self, img):
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, self.size, self.interpolation, antialias=self.antialias)

    def __repr__(self):
        format_string = self.__class__.__name__ + f"(size={self.size}"
        format_string += f", scale={tuple(round(s, 4) for s in self.scale)}"
        format_string += f", ratio={tuple(round(r, 4) for r in self.ratio)}"
        format_string += f", interpolation={self.interpolation.value}"
        format_string += f", antialias={self.antialias})"
        return format_string


def _random_resized_crop_params(height, width, scale, ratio):
    """RandomResizedCrop's draw for an image of height x width (shared with transforms.v2)."""
    area = height * width
    log_ratio = _log_ratio(ratio)
    for _ in range(10):
        target_area = area * _uniform1(scale[0], scale[1])
        aspect_ratio = _exp_uniform1(log_ratio)
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            i = _randint1(0, height - h + 1)
            j = _randint1(0, width - w + 1)
            return i, j, h, w
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w = width
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = height
        w = int(round(h * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


class ColorJitter(_Transform):
    """Randomly change brightness, contrast, saturation and hue, in a random order."""

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        super().__init__()
        self.brightness = self._check_input(brightness, "brightness")
        self.contrast = self._check_input(contrast, "contrast")
        self.saturation = self._check_input(saturation, "saturation")
        self.hue = self._check_input(hue, "hue", center=0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    def _check_input(self, value, name, center=1, bound=(0, float("inf")), clip_first_on_zero=True):
        if isinstance(value, numbers.Number):
            if value < 0:
                raise ValueError(f"If {name} is a single number, it must be non negative.")
            value = [center - float(value), center + float(value)]
            if clip_first_on_zero:
                value[0] = max(value[0], 0.0)
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            value = [float(value[0]), float(value[1])]
        else:
            raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
        if not bound[0] <= value[0] <= value[1] <= bound[1]:
            raise ValueError(f"{name} values should be between {bound}, but got {value}.")
        if value[0] == value[1] == center:
            return None
        return tuple(value)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """(order, brightness, contrast, saturation, hue factors); a factor is None when its range is None."""
        fn_idx = _randperm(4)
        b = None if brightness is None else _uniform1(brightness[0], brightness[1])
        c = None if contrast is None else _uniform1(contrast[0], contrast[1])
        s = None if saturation is None else _uniform1(saturation[0], saturation[1])
        h = None if hue is None else _uniform1(hue[0], hue[1])
        return fn_idx, b, c, s, h

    def forward(self, img):
        fn_idx, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        for fn_id in fn_idx.tolist():
            if fn_id == 0 and b is not None:
                img = F.adjust_brightness(img, b)
            elif fn_id == 1 and c is not None:
                img = F.adjust_contrast(img, c)
            elif fn_id == 2 and s is not None:
                img = F.adjust_saturation(img, s)
            elif fn_id == 3 and h is not None:
                img = F.adjust_hue(img, h)
        return img

    def __repr__(self):
        return (f"{self.__class__.__name__}(brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue})")


class Grayscale(_Transform):
    """Convert to grayscale with 1 or 3 output channels."""

    def __init__(self, num_output_channels=1):
        super().__init__()
        self.num_output_channels = num_output_channels

    def forward(self, img):
        return F.rgb_to_grayscale(img, num_output_channels=self.num_output_channels)

    def __repr__(self):
        return f"{self.__class__.__name__}(num_output_channels={self.num_output_channels})"


class RandomGrayscale(_Transform):
    """Convert to grayscale (keeping the channel count) with probability p."""

    def __init__(self, p=0.1):
        super().__init__()
        self.p = p

    def forward(self, img):
        num_output_channels, _, _ = F.get_dimensions(img)
        if _rand1() < _f32(self.p):
            return F.rgb_to_grayscale(img, num_output_channels=num_output_channels)
        return img

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


def _setup_angle(x, name, req_sizes=(2,)):
    if isinstance(x, numbers.Number):
        if x < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        x = [-x, x]
    else:
        _check_sequence_input(x, name, req_sizes)
    return [float(d) for d in x]


def _check_sequence_input(x, name, req_sizes):
    msg = req_sizes[0] if len(req_sizes) < 2 else " or ".join([str(s) for s in req_sizes])
    if not isinstance(x, Sequence):
        raise TypeError(f"{name} should be a sequence of length {msg}.")
    if len(x) not in req_sizes:
        raise ValueError(f"{name} should be a sequence of length {msg}.")


class RandomRotation(_Transform):
    """Rotate by an angle drawn uniformly from degrees (a number d means [-d, d])."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=0):
        super().__init__()
        if isinstance(interpolation, int):
            interpolation = _interpolation_modes_from_int(interpolation)
        self.degrees = _setup_angle(degrees, name="degrees", req_sizes=(2,))
        if center is not None:
            _check_sequence_input(center, "center", req_sizes=(2,))
        self.center = center
        self.interpolation = interpolation
        self.expand = expand
        if fill is None:
            fill = 0
        elif not isinstance(fill, (Sequence, numbers.Number)):
            raise TypeError("Fill should be either a sequence or a number.")
        self.fill = fill

    @staticmethod
    def get_params(degrees):
        return _uniform1(float(degrees[0]), float(degrees[1]))

    def forward(self, img):
        fill = self.fill
        channels, _, _ = F.get_dimensions(img)
        if isinstance(img, Tensor):
            fill = [float(fill)] * channels if isinstance(fill, (int, float)) else [float(f) for f in fill]
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, fill)

    def __repr__(self):
        format_string = self.__class__.__name__ + f"(degrees={self.degrees}"
        format_string += f", interpolation={self.interpolation.value}"
        format_string += f", expand={self.expand}"
        if self.center is not None:
            format_string += f", center={self.center}"
        if self.fill is not None:
            format_string += f", fill={self.fill}"
        return format_string + ")"


class GaussianBlur(_Transform):
    """Blur with a Gaussian of sigma drawn uniformly from sigma=(min, max)."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        super().__init__()
        self.kernel_size = _setup_size(kernel_size, "Kernel size should be a tuple/list of two integers")
        for ks in self.kernel_size:
            if ks <= 0 or ks % 2 == 0:
                raise ValueError("Kernel size value should be an odd and positive number.")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError("If sigma is a single number, it must be positive.")
            sigma = (sigma, sigma)
        elif isinstance(sigma, Sequence) and len(sigma) == 2:
            if not 0.0 < sigma[0] <= sigma[1]:
                raise ValueError("sigma values should be positive and of the form (min, max).")
        else:
            raise ValueError("sigma should be a single number or a list/tuple with length 2.")
        self.sigma = sigma

    @staticmethod
    def get_params(sigma_min, sigma_max):
        return _uniform1(sigma_min, sigma_max)

    def forward(self, img):
        sigma = self.get_params(self.sigma[0], self.sigma[1])
        return F.gaussian_blur(img, self.kernel_size, [sigma, sigma])

    def __repr__(self):
        return f"{self.__class__.__name__}(kernel_size={self.kernel_size}, sigma={self.sigma})"


def _check_erasing(value, scale, ratio):
    """RandomErasing's argument checks (v1 and v2 make the same ones)."""
    if not isinstance(value, (numbers.Number, str, tuple, list)):
        raise TypeError("Argument value should be either a number or str or a sequence")
    if isinstance(value, str) and value != "random":
        raise ValueError("If value is str, it should be 'random'")
    if not isinstance(scale, Sequence):
        raise TypeError("Scale should be a sequence")
    if not isinstance(ratio, Sequence):
        raise TypeError("Ratio should be a sequence")
    if (scale[0] > scale[1]) or (ratio[0] > ratio[1]):
        warnings.warn("Scale and ratio should be of kind (min, max)")
    if scale[0] < 0 or scale[1] > 1:
        raise ValueError("Scale should be between 0 and 1")


class RandomErasing(_Transform):
    """With probability p, erase a random rectangle of a Tensor image (value 'random': normal noise)."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        super().__init__()
        _check_erasing(value, scale, ratio)
        if p < 0 or p > 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        self.p = p
        self.scale = scale
        self.ratio = ratio
        self.value = value
        self.inplace = inplace

    @staticmethod
    def get_params(img, scale, ratio, value=None):
        """(i, j, h, w, v) of the rectangle to erase; the whole image (and v=img) after 10 misses."""
        img_c, img_h, img_w = img.shape[-3], img.shape[-2], img.shape[-1]
        area = img_h * img_w
        log_ratio = _log_ratio(ratio)
        for _ in range(10):
            erase_area = area * _uniform1(scale[0], scale[1])
            aspect_ratio = _exp_uniform1(log_ratio)
            h = int(round(math.sqrt(erase_area * aspect_ratio)))
            w = int(round(math.sqrt(erase_area / aspect_ratio)))
            if not (h < img_h and w < img_w):
                continue
            v = _erase_value(img_c, h, w, value)
            i = _randint1(0, img_h - h + 1)
            j = _randint1(0, img_w - w + 1)
            return i, j, h, w, v
        return 0, 0, img_h, img_w, img

    def forward(self, img):
        if _rand1() < _f32(self.p):
            if isinstance(self.value, (int, float)):
                value = [float(self.value)]
            elif isinstance(self.value, str):
                value = None
            else:
                value = [float(v) for v in self.value]
            if value is not None and len(value) not in (1, img.shape[-3]):
                raise ValueError("If value is a sequence, it should have either a single value or "
                                 f"{img.shape[-3]} (number of input channels)")
            x, y, h, w, v = self.get_params(img, scale=self.scale, ratio=self.ratio, value=value)
            return F.erase(img, x, y, h, w, v, self.inplace)
        return img

    def __repr__(self):
        return (f"{self.__class__.__name__}(p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value}, "
                f"inplace={self.inplace})")


def _erase_value(c, h, w, value):
    """RandomErasing's fill: torch.empty([c, h, w]).normal_() for value None, else
    torch.tensor(value)[:, None, None] (shared with transforms.v2)."""
    if value is None:
        return _wrap(_gen().normal(0.0, 1.0, (c, h, w), np.float32))
    return _wrap(np.asarray(value, dtype=np.float32)[:, None, None])


def _tensor_fill(img, fill):
    """A number fill becomes one float per channel for tensors, as torchvision's geometric transforms do."""
    if isinstance(img, Tensor):
        channels = F.get_dimensions(img)[0]
        return [float(fill)] * channels if isinstance(fill, (int, float)) else [float(f) for f in fill]
    return fill


class RandomAffine(_Transform):
    """Random rotation, translation, scale and shear, keeping the image center fixed."""

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation=InterpolationMode.NEAREST,
                 fill=0, center=None):
        super().__init__()
        if isinstance(interpolation, int):
            interpolation = _interpolation_modes_from_int(interpolation)
        self.degrees = _setup_angle(degrees, name="degrees", req_sizes=(2,))
        if translate is not None:
            _check_sequence_input(translate, "translate", req_sizes=(2,))
            for t in translate:
                if not (0.0 <= t <= 1.0):
                    raise ValueError("translation values should be between 0 and 1")
        self.translate = translate
        if scale is not None:
            _check_sequence_input(scale, "scale", req_sizes=(2,))
            for s in scale:
                if s <= 0:
                    raise ValueError("scale values should be positive")
        self.scale = scale
        self.shear = _setup_angle(shear, name="shear", req_sizes=(2, 4)) if shear is not None else shear
        self.interpolation = interpolation
        if fill is None:
            fill = 0
        elif not isinstance(fill, (Sequence, numbers.Number)):
            raise TypeError("Fill should be either a sequence or a number.")
        self.fill = fill
        if center is not None:
            _check_sequence_input(center, "center", req_sizes=(2,))
        self.center = center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        """(angle, (tx, ty), scale, (shear_x, shear_y)); img_size is [width, height]."""
        angle = _uniform1(float(degrees[0]), float(degrees[1]))
        if translate is not None:
            max_dx = float(translate[0] * img_size[0])
            max_dy = float(translate[1] * img_size[1])
            tx = int(round(_uniform1(-max_dx, max_dx)))
            ty = int(round(_uniform1(-max_dy, max_dy)))
            translations = (tx, ty)
        else:
            translations = (0, 0)
        scale = _uniform1(scale_ranges[0], scale_ranges[1]) if scale_ranges is not None else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = _uniform1(shears[0], shears[1])
            if len(shears) == 4:
                shear_y = _uniform1(shears[2], shears[3])
        return angle, translations, scale, (shear_x, shear_y)

    def forward(self, img):
        fill = _tensor_fill(img, self.fill)
        _, height, width = F.get_dimensions(img)
        ret = self.get_params(self.degrees, self.translate, self.scale, self.shear, [width, height])
        return F.affine(img, *ret, interpolation=self.interpolation, fill=fill, center=self.center)

    def __repr__(self):
        s = f"{self.__class__.__name__}(degrees={self.degrees}"
        s += f", translate={self.translate}" if self.translate is not None else ""
        s += f", scale={self.scale}" if self.scale is not None else ""
        s += f", shear={self.shear}" if self.shear is not None else ""
        s += f", interpolation={self.interpolation.value}" if self.interpolation != InterpolationMode.NEAREST else ""
        s += f", fill={self.fill}" if self.fill != 0 else ""
        s += f", center={self.center}" if self.center is not None else ""
        return s + ")"


class RandomPerspective(_Transform):
    """With probability p, warp the four corners inwards by up to distortion_scale of half the image."""

    def __init__(self, distortion_scale=0.5, p=0.5, interpolation=InterpolationMode.BILINEAR, fill=0):
        super().__init__()
        self.p = p
        if isinstance(interpolation, int):
            interpolation = _interpolation_modes_from_int(interpolation)
        self.interpolation = interpolation
        self.distortion_scale = distortion_scale
        if fill is None:
            fill = 0
        elif not isinstance(fill, (Sequence, numbers.Number)):
            raise TypeError("Fill should be either a sequence or a number.")
        self.fill = fill

    def forward(self, img):
        fill = _tensor_fill(img, self.fill)
        _, height, width = F.get_dimensions(img)
        if _rand1() < _f32(self.p):  # torchvision: torch.rand(1) < self.p, a float32 comparison
            startpoints, endpoints = self.get_params(width, height, self.distortion_scale)
            return F.perspective(img, startpoints, endpoints, self.interpolation, fill)
        return img

    @staticmethod
    def get_params(width, height, distortion_scale):
        """(startpoints, endpoints): the four corners and where they move (tl, tr, br, bl)."""
        half_height = height // 2
        half_width = width // 2
        dw = int(distortion_scale * half_width)
        dh = int(distortion_scale * half_height)
        topleft = [_randint1(0, dw + 1), _randint1(0, dh + 1)]
        topright = [_randint1(width - dw - 1, width), _randint1(0, dh + 1)]
        botright = [_randint1(width - dw - 1, width), _randint1(height - dh - 1, height)]
        botleft = [_randint1(0, dw + 1), _randint1(height - dh - 1, height)]
        startpoints = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        return startpoints, [topleft, topright, botright, botleft]

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


class FiveCrop(_Transform):
    """The four corner crops and the center crop, as a tuple."""

    def __init__(self, size):
        super().__init__()
        self.size = _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size.")

    def forward(self, img):
        return F.five_crop(img, self.size)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size})"


class TenCrop(_Transform):
    """FiveCrop of the image and of its flip (horizontal unless vertical_flip), as a tuple of 10."""

    def __init__(self, size, vertical_flip=False):
        super().__init__()
        self.size = _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size.")
        self.vertical_flip = vertical_flip

    def forward(self, img):
        return F.ten_crop(img, self.size, self.vertical_flip)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size}, vertical_flip={self.vertical_flip})"


class _RandomColorOp(_Transform):
    """Apply an image op with probability p; torchvision draws torch.rand(1).item() and compares it with p
    as Python floats (float64), not in float32 as the flips do."""

    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def _apply(self, img):
        raise NotImplementedError

    def forward(self, img):
        if float(_rand1()) < self.p:
            return self._apply(img)
        return img

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


class RandomInvert(_RandomColorOp):
    """Invert the colours with probability p."""

    def _apply(self, img):
        return F.invert(img)


class RandomPosterize(_RandomColorOp):
    """Keep only the top `bits` bits of each channel with probability p."""

    def __init__(self, bits, p=0.5):
        super().__init__(p)
        self.bits = bits

    def _apply(self, img):
        return F.posterize(img, self.bits)

    def __repr__(self):
        return f"{self.__class__.__name__}(bits={self.bits},p={self.p})"


class RandomSolarize(_RandomColorOp):
    """Invert the values at or above threshold with probability p."""

    def __init__(self, threshold, p=0.5):
        super().__init__(p)
        self.threshold = threshold

    def _apply(self, img):
        return F.solarize(img, self.threshold)

    def __repr__(self):
        return f"{self.__class__.__name__}(threshold={self.threshold},p={self.p})"


class RandomAdjustSharpness(_RandomColorOp):
    """Adjust the sharpness by sharpness_factor with probability p."""

    def __init__(self, sharpness_factor, p=0.5):
        super().__init__(p)
        self.sharpness_factor = sharpness_factor

    def _apply(self, img):
        return F.adjust_sharpness(img, self.sharpness_factor)

    def __repr__(self):
        return f"{self.__class__.__name__}(sharpness_factor={self.sharpness_factor},p={self.p})"


class RandomAutocontrast(_RandomColorOp):
    """Autocontrast each channel with probability p."""

    def _apply(self, img):
        return F.autocontrast(img)


class RandomEqualize(_RandomColorOp):
    """Equalize the histogram with probability p."""

    def _apply(self, img):
        return F.equalize(img)


def _check_linear_transformation(transformation_matrix, mean_vector):
    """LinearTransformation's argument checks (v1 and v2 make the same ones)."""
    if transformation_matrix.size(0) != transformation_matrix.size(1):
        raise ValueError("transformation_matrix should be square. Got "
                         f"{tuple(transformation_matrix.size())} rectangular matrix.")
    if mean_vector.size(0) != transformation_matrix.size(0):
        raise ValueError(f"mean_vector should have the same length {mean_vector.size(0)}"
                         f" as any one of the dimensions of the transformation_matrix "
                         f"[{tuple(transformation_matrix.size())}]")
    if transformation_matrix.device != mean_vector.device:
        raise ValueError(f"Input tensors should be on the same device. Got {transformation_matrix.device} and "
                         f"{mean_vector.device}")
    if transformation_matrix.dtype != mean_vector.dtype:
        raise ValueError(f"Input tensors should have the same dtype. Got {transformation_matrix.dtype} and "
                         f"{mean_vector.dtype}")


def _linear_transformation(tensor, transformation_matrix, mean_vector, flatten):
    """(tensor.flatten(C, H, W) - mean_vector) @ transformation_matrix, back in tensor's shape."""
    shape = tensor.shape
    n = shape[-3] * shape[-2] * shape[-1]
    if n != transformation_matrix.shape[0]:
        raise ValueError("Input tensor and transformation matrix have incompatible shape."
                         f"[{shape[-3]} x {shape[-2]} x {shape[-1]}] != {transformation_matrix.shape[0]}")
    if tensor.device.type != mean_vector.device.type:
        raise ValueError("Input tensor should be on the same device as transformation matrix and mean vector. "
                         f"Got {tensor.device} vs {mean_vector.device}")
    flat = flatten(tensor, n) - mean_vector
    return flat.mm(transformation_matrix.to(flat.dtype)).view(shape)


class LinearTransformation(_Transform):
    """Whitening and the like: (flattened image - mean_vector) @ transformation_matrix (D x D, D = C*H*W)."""

    def __init__(self, transformation_matrix, mean_vector):
        super().__init__()
        _check_linear_transformation(transformation_matrix, mean_vector)
        self.transformation_matrix = transformation_matrix
        self.mean_vector = mean_vector

    def forward(self, tensor):
        # v1 flattens with view, so a non-contiguous tensor fails as torchvision's does
        return _linear_transformation(tensor, self.transformation_matrix, self.mean_vector,
                                      lambda t, n: t.view(-1, n))

    def __repr__(self):
        return (f"{self.__class__.__name__}(transformation_matrix={self.transformation_matrix.tolist()}"
                f", mean_vector={self.mean_vector.tolist()})")


def _elastic_float_pair(value, name):
    """alpha / sigma of v1's ElasticTransform: a float or a sequence of 1 or 2 floats (ints are refused)."""
    if not isinstance(value, (float, Sequence)):
        raise TypeError(f"{name} should be float or a sequence of floats. Got {type(value)}")
    if isinstance(value, Sequence) and len(value) != 2:
        raise ValueError(f"If {name} is a sequence its length should be 2. Got {len(value)}")
    if isinstance(value, Sequence):
        for element in value:
            if not isinstance(element, float):
                raise TypeError(f"{name} should be a sequence of floats. Got {type(element)}")
    if isinstance(value, float):
        value = [float(value), float(value)]
    return value


def _elastic_displacement(alpha, sigma, size):
    """torchvision's ElasticTransform.get_params: two torch.rand fields in [-1, 1), each blurred with a
    kernel of about 8 sigma and scaled by alpha / side; a (1, H, W, 2) float32 displacement."""
    from ... import cat, rand
    fields = []
    for k, side in ((0, size[1]), (1, size[0])):
        d = rand([1, 1] + list(size)) * 2 - 1
        if sigma[k] > 0.0:
            ks = int(8 * sigma[k] + 1)
            if ks % 2 == 0:  # the kernel must be odd
                ks += 1
            d = F.gaussian_blur(d, [ks, ks], sigma)
        fields.append(d * alpha[k] / side)
    return cat(fields, 1).permute([0, 2, 3, 1])


class ElasticTransform(_Transform):
    """Displace every pixel by a smooth random field (alpha: strength, sigma: smoothness), as through water."""

    def __init__(self, alpha=50.0, sigma=5.0, interpolation=InterpolationMode.BILINEAR, fill=0):
        super().__init__()
        self.alpha = _elastic_float_pair(alpha, "alpha")
        self.sigma = _elastic_float_pair(sigma, "sigma")
        if isinstance(interpolation, int):
            interpolation = _interpolation_modes_from_int(interpolation)
        self.interpolation = interpolation
        if isinstance(fill, (int, float)):
            fill = [float(fill)]
        elif isinstance(fill, (list, tuple)):
            fill = [float(f) for f in fill]
        else:
            raise TypeError(f"fill should be int or float or a list or tuple of them. Got {type(fill)}")
        self.fill = fill

    @staticmethod
    def get_params(alpha, sigma, size):
        return _elastic_displacement(alpha, sigma, size)

    def forward(self, tensor):
        _, height, width = F.get_dimensions(tensor)
        displacement = self.get_params(self.alpha, self.sigma, [height, width])
        return F.elastic_transform(tensor, displacement, self.interpolation, self.fill)

    def __repr__(self):
        return (f"{self.__class__.__name__}(alpha={self.alpha}, sigma={self.sigma}, "
                f"interpolation={self.interpolation}, fill={self.fill})")
