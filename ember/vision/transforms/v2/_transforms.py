"""The v2 transform classes, following torchvision/transforms/v2/ (semantics, errors and reprs).

A v2 transform takes any structure of tuples, lists and dicts: it flattens it, draws its random
parameters once from the images/masks/boxes it finds (``make_params``), and applies the same
parameters to each of them (``transform``); labels and other values pass through. The random
parameters are drawn as torchvision's v2 draws them (same torch calls, same order) from ember's
default CPU generator, so after ``ember.manual_seed(s)`` they are torchvision's after
``torch.manual_seed(s)`` (see the v1 module's docstring for the one log/exp caveat).
"""
import enum
import math
import numbers
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from ... import tv_tensors
from ...tv_tensors import BoundingBoxes, Image, Mask, TVTensor, Video
from ...._tensor import Tensor, _wrap as _wrap_arr
from .. import functional as _F1
from .. import transforms as _v1
from . import functional as F
from .functional import InterpolationMode, _check_interpolation, is_pure_tensor

try:
    from ....nn import Module as _Base
except ImportError:  # pragma: no cover
    _Base = object


# ---- pytree: tuples, lists and dicts; everything else is a leaf ---------------------------------
def _flatten(obj, leaves):
    if isinstance(obj, (list, tuple)) and not isinstance(obj, Tensor):
        return (type(obj), [_flatten(o, leaves) for o in obj])
    if isinstance(obj, Mapping):
        return (type(obj), {k: _flatten(v, leaves) for k, v in obj.items()})
    leaves.append(obj)
    return None


def _unflatten(spec, it):
    if spec is None:
        return next(it)
    typ, children = spec
    if isinstance(children, dict):
        return typ({k: _unflatten(v, it) for k, v in children.items()}) if typ is not dict else \
            {k: _unflatten(v, it) for k, v in children.items()}
    vals = [_unflatten(c, it) for c in children]
    if typ is list or typ is tuple:
        return typ(vals)
    if hasattr(typ, "_fields"):  # namedtuple
        return typ(*vals)
    return typ(vals)


def tree_flatten(obj):
    leaves = []
    return leaves, _flatten(obj, leaves)


def tree_unflatten(leaves, spec):
    return _unflatten(spec, iter(leaves))


def _pil_cls():
    return _F1._pil().Image


def check_type(obj, types_or_checks):
    """True if obj is an instance of one of the types, or passes one of the check callables."""
    for t in types_or_checks:
        if isinstance(obj, t) if isinstance(t, type) else t(obj):
            return True
    return False


def has_any(flat_inputs, *types_or_checks):
    """True if some input matches one of the types or checks."""
    return any(check_type(i, types_or_checks) for i in flat_inputs)


def has_all(flat_inputs, *types_or_checks):
    """True if every type or check is matched by some input."""
    return all(any(check_type(i, (t,)) for i in flat_inputs) for t in types_or_checks)


def get_bounding_boxes(flat_inputs):
    """The (first) BoundingBoxes of a sample."""
    try:
        return next(i for i in flat_inputs if isinstance(i, BoundingBoxes))
    except StopIteration:
        raise ValueError("No bounding boxes were found in the sample") from None


def _find_labels_default_heuristic(inputs):
    """The labels of a sample: item 1 of a tuple (a tensor, or a dict), or a dict's 'labels' (or '*label*') key."""
    if isinstance(inputs, (tuple, list)):
        inputs = inputs[1]
    if is_pure_tensor(inputs):
        return inputs
    if not isinstance(inputs, Mapping):
        raise ValueError(f"When using the default labels_getter, the input passed to forward must be a dictionary or "
                         f"a two-tuple whose second item is a dictionary or a tensor, but got {inputs} instead.")
    key = next((k for k in inputs.keys() if k.lower() == "labels"), None)
    if key is None:
        key = next((k for k in inputs.keys() if "label" in k.lower()), None)
    if key is None:
        raise ValueError("Could not infer where the labels are in the sample. Try passing a callable as the "
                         "labels_getter parameter?If there are no labels in the sample by design, pass "
                         "labels_getter=None.")
    return inputs[key]


def _parse_labels_getter(labels_getter):
    if labels_getter == "default":
        return _find_labels_default_heuristic
    if callable(labels_getter):
        return labels_getter
    if labels_getter is None:
        return lambda _: None
    raise ValueError(f"labels_getter should either be 'default', a callable, or None, but got {labels_getter}.")


def _fmt_sizes(sizes):
    items = [str(s) for s in sorted(sizes)]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + ", and " + items[-1] if len(items) > 2 \
        else " and ".join(items)


def query_size(flat_inputs):
    """(height, width) shared by the images, masks and boxes of a sample."""
    sizes = {tuple(F.get_size(i)) for i in flat_inputs
             if check_type(i, (is_pure_tensor, Image, _pil_cls(), Video, Mask, BoundingBoxes))}
    if not sizes:
        raise TypeError("No image, video, mask or bounding box was found in the sample")
    if len(sizes) > 1:
        raise ValueError(f"Found multiple HxW dimensions in the sample: {_fmt_sizes(sizes)}")
    return sizes.pop()


def query_chw(flat_inputs):
    """(channels, height, width) shared by the images of a sample."""
    chws = {tuple(F.get_dimensions(i)) for i in flat_inputs
            if check_type(i, (is_pure_tensor, Image, _pil_cls(), Video))}
    if not chws:
        raise TypeError("No image or video was found in the sample")
    if len(chws) > 1:
        raise ValueError(f"Found multiple CxHxW dimensions in the sample: {_fmt_sizes(chws)}")
    return chws.pop()


def _setup_size(size, error_msg):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(error_msg)
    return size


def _check_sequence_input(x, name, req_sizes):
    msg = req_sizes[0] if len(req_sizes) < 2 else " or ".join([str(s) for s in req_sizes])
    if not isinstance(x, Sequence):
        raise TypeError(f"{name} should be a sequence of length {msg}.")
    if len(x) not in req_sizes:
        raise ValueError(f"{name} should be a sequence of length {msg}.")


def _setup_angle(x, name, req_sizes=(2,)):
    if isinstance(x, numbers.Number):
        if x < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        x = [-x, x]
    else:
        _check_sequence_input(x, name, req_sizes)
    return [float(d) for d in x]


def _setup_number_or_seq(arg, name, req_size=2):
    if not isinstance(arg, (int, float, Sequence)):
        raise TypeError(f"{name} should be a number or a sequence of numbers. Got {type(arg)}")
    if isinstance(arg, Sequence) and len(arg) not in (1, req_size):
        raise ValueError(f"If {name} is a sequence its length should be 1 or {req_size}. Got {len(arg)}")
    if isinstance(arg, Sequence):
        for e in arg:
            if not isinstance(e, (int, float)):
                raise ValueError(f"{name} should be a sequence of numbers. Got {type(e)}")
    if isinstance(arg, (int, float)):
        return [float(arg), float(arg)]
    return [float(arg[0]), float(arg[0])] if len(arg) == 1 else [float(arg[0]), float(arg[1])]


def _check_fill_arg(fill):
    if isinstance(fill, dict):
        for v in fill.values():
            _check_fill_arg(v)
    elif fill is not None and not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate fill arg, only Numbers, tuples, lists and dicts are allowed.")


def _setup_fill_arg(fill):
    _check_fill_arg(fill)

    def conv(f):
        return f if f is None or isinstance(f, (int, float)) else [float(v) for v in f]
    if isinstance(fill, dict):
        return {k: conv(v) for k, v in fill.items()}
    return {"others": conv(fill)}


def _get_fill(fill_dict, inpt_type):
    if inpt_type in fill_dict:
        return fill_dict[inpt_type]
    return fill_dict.get("others")


def _check_padding_arg(padding):
    if not isinstance(padding, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if isinstance(padding, (tuple, list)) and len(padding) not in [1, 2, 4]:
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} element tuple")


def _check_padding_mode_arg(padding_mode):
    if padding_mode not in ["constant", "edge", "reflect", "symmetric"]:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")


# torchvision's draws (torch.rand(1), torch.randint, ...): the v1 module's helpers
_rand1, _f32, _uniform1, _randint1, _gen = _v1._rand1, _v1._f32, _v1._uniform1, _v1._randint1, _v1._gen


# ---- base classes -----------------------------------------------------------------------------
class Transform(_Base):
    """Base class of the v2 transforms: override make_params and transform (torchvision's API)."""

    _transformed_types = (Tensor, )  # PIL.Image.Image is added lazily in _types()
    _v1_transform_cls = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        v1 = cls.__dict__.get("_v1_transform_cls")
        if v1 is not None and hasattr(v1, "get_params"):
            cls.get_params = staticmethod(v1.get_params)

    def __init__(self):
        super().__init__()

    def __call__(self, *inputs):
        return self.forward(*inputs)

    def _types(self):
        t = self._transformed_types
        return t + (_pil_cls(),) if t == (Tensor,) else t

    def check_inputs(self, flat_inputs):
        pass

    def make_params(self, flat_inputs):
        return dict()

    def _call_kernel(self, functional, inpt, *args, **kwargs):
        return F._get_kernel(functional, type(inpt), allow_passthrough=True)(inpt, *args, **kwargs)

    def transform(self, inpt, params):
        raise NotImplementedError

    def _needs_transform_list(self, flat_inputs):
        # a pure tensor is treated as the image only when the sample holds no Image/Video/PIL image,
        # and then only the first one (later pure tensors, e.g. labels, pass through)
        out = []
        transform_pure = not has_any(flat_inputs, Image, Video, _pil_cls())
        types = self._types()
        for inpt in flat_inputs:
            needs = True
            if not check_type(inpt, types):
                needs = False
            elif is_pure_tensor(inpt):
                if transform_pure:
                    transform_pure = False
                else:
                    needs = False
            out.append(needs)
        return out

    def _apply(self, flat_inputs, spec):
        needs = self._needs_transform_list(flat_inputs)
        params = self.make_params([i for i, n in zip(flat_inputs, needs) if n])
        outs = [self.transform(i, params) if n else i for i, n in zip(flat_inputs, needs)]
        return tree_unflatten(outs, spec)

    def forward(self, *inputs):
        flat_inputs, spec = tree_flatten(inputs if len(inputs) > 1 else inputs[0])
        self.check_inputs(flat_inputs)
        return self._apply(flat_inputs, spec)

    def extra_repr(self):
        extra = []
        for name, value in self.__dict__.items():
            if name.startswith("_") or name == "training":
                continue
            if not isinstance(value, (bool, int, float, str, tuple, list, enum.Enum)):
                continue
            extra.append(f"{name}={value}")
        return ", ".join(extra)


class _RandomApplyTransform(Transform):
    def __init__(self, p=0.5):
        if not (0.0 <= p <= 1.0):
            raise ValueError("`p` should be a floating point value in the interval [0.0, 1.0].")
        super().__init__()
        self.p = p

    def forward(self, *inputs):
        inputs = inputs if len(inputs) > 1 else inputs[0]
        flat_inputs, spec = tree_flatten(inputs)
        self.check_inputs(flat_inputs)
        if _rand1() >= _f32(self.p):
            return inputs
        return self._apply(flat_inputs, spec)


# ---- containers -------------------------------------------------------------------------------
class Compose(Transform):
    """Apply several transforms in order; each gets (and returns) the whole sample."""

    def __init__(self, transforms):
        super().__init__()
        if not isinstance(transforms, Sequence):
            raise TypeError("Argument transforms should be a sequence of callables")
        if not transforms:
            raise ValueError("Pass at least one transform")
        self.transforms = transforms

    def forward(self, *inputs):
        needs_unpacking = len(inputs) > 1
        for t in self.transforms:
            outputs = t(*inputs)
            inputs = outputs if needs_unpacking else (outputs,)
        return outputs

    def extra_repr(self):
        return "\n".join(f"    {t}" for t in self.transforms)


class RandomApply(Transform):
    """Apply the list of transforms with probability p."""

    _v1_transform_cls = _v1.RandomApply

    def __init__(self, transforms, p=0.5):
        super().__init__()
        if not isinstance(transforms, Sequence):
            raise TypeError("Argument transforms should be a sequence of callables or a `nn.ModuleList`")
        self.transforms = transforms
        if not (0.0 <= p <= 1.0):
            raise ValueError("`p` should be a floating point value in the interval [0.0, 1.0].")
        self.p = p

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        if _rand1() >= _f32(self.p):
            return sample
        for t in self.transforms:
            sample = t(sample)
        return sample

    def extra_repr(self):
        return "\n".join(f"    {t}" for t in self.transforms)


class RandomChoice(Transform):
    """Apply one transform picked at random (weighted by p)."""

    def __init__(self, transforms, p=None):
        if not isinstance(transforms, Sequence):
            raise TypeError("Argument transforms should be a sequence of callables")
        if p is None:
            p = [1] * len(transforms)
        elif len(p) != len(transforms):
            raise ValueError(f"Length of p doesn't match the number of transforms: {len(p)} != {len(transforms)}")
        super().__init__()
        self.transforms = transforms
        total = sum(p)
        self.p = [prob / total for prob in p]

    def forward(self, *inputs):
        # torchvision: int(torch.multinomial(torch.tensor(self.p), 1))
        idx = int(_gen().multinomial(np.asarray(self.p, dtype=np.float32)[None], 1, False)[0, 0])
        return self.transforms[idx](*inputs)


class RandomOrder(Transform):
    """Apply the transforms in a random order."""

    def __init__(self, transforms):
        if not isinstance(transforms, Sequence):
            raise TypeError("Argument transforms should be a sequence of callables")
        super().__init__()
        self.transforms = transforms

    def forward(self, *inputs):
        sample = inputs if len(inputs) > 1 else inputs[0]
        for idx in _gen().permutation(len(self.transforms)).tolist():  # torch.randperm(n)
            sample = self.transforms[idx](sample)
        return sample


# ---- type conversion --------------------------------------------------------------------------
class ToImage(Transform):
    """Tensor, ndarray or PIL Image -> tv_tensors.Image (no scaling)."""

    def _types(self):
        return (is_pure_tensor, _pil_cls(), np.ndarray)

    def transform(self, inpt, params):
        return F.to_image(inpt)


class PILToTensor(Transform):
    """PIL Image -> Tensor of the same dtype (no scaling)."""

    def _types(self):
        return (_pil_cls(),)

    def transform(self, inpt, params):
        return F.pil_to_tensor(inpt)


class ToPILImage(Transform):
    """Tensor, Image or ndarray -> PIL Image."""

    def __init__(self, mode=None):
        super().__init__()
        self.mode = mode

    def _types(self):
        return (is_pure_tensor, Image, np.ndarray)

    def transform(self, inpt, params):
        return F.to_pil_image(inpt, mode=self.mode)


class ToPureTensor(Transform):
    """tv_tensors -> plain Tensors (values and dtype unchanged)."""

    _transformed_types = (TVTensor,)

    def transform(self, inpt, params):
        return inpt.as_subclass(Tensor)


class ToTensor(Transform):
    """[DEPRECATED] Use v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]) instead."""

    def __init__(self):
        warnings.warn("The transform `ToTensor()` is deprecated and will be removed in a future release. "
                      "Instead, please use `v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])`."
                      "Output is equivalent up to float precision.")
        super().__init__()

    def _types(self):
        return (_pil_cls(), np.ndarray)

    def transform(self, inpt, params):
        return _F1.to_tensor(inpt)


class ToDtype(Transform):
    """Convert to dtype; scale=True rescales images (uint8 [0, 255] <-> float [0, 1]); masks are never scaled."""

    _transformed_types = (Tensor,)

    def __init__(self, dtype, scale=False):
        super().__init__()
        from .... import _backend as B
        if not isinstance(dtype, (dict, B.dtype)):
            raise ValueError(f"dtype must be a dict or a torch.dtype, got {type(dtype)} instead")
        if isinstance(dtype, dict) and Tensor in dtype and any(c in dtype for c in (Image, Video)):
            warnings.warn(
                "Got `dtype` values for `torch.Tensor` and either `tv_tensors.Image` or `tv_tensors.Video`. "
                "Note that a plain `torch.Tensor` will *not* be transformed by this (or any other transformation) "
                "in case a `tv_tensors.Image` or `tv_tensors.Video` is present in the input.")
        self.dtype = dtype
        self.scale = scale

    def _types(self):
        return (Tensor,)

    def transform(self, inpt, params):
        if not isinstance(self.dtype, dict):
            if not is_pure_tensor(inpt) and not isinstance(inpt, (Image, Video)):
                return inpt
            dtype = self.dtype
        elif type(inpt) in self.dtype:
            dtype = self.dtype[type(inpt)]
        elif "others" in self.dtype:
            dtype = self.dtype["others"]
        else:
            raise ValueError(
                f"No dtype was specified for type {type(inpt)}. "
                "If you only need to convert the dtype of images or videos, you can just pass e.g. "
                "dtype=torch.float32. If you're passing a dict as dtype, "
                'you can use "others" as a catch-all key '
                'e.g. dtype={tv_tensors.Mask: torch.int64, "others": None} to pass-through the rest of the inputs.')
        supports_scaling = is_pure_tensor(inpt) or isinstance(inpt, (Image, Video))
        if dtype is None:
            if self.scale and supports_scaling:
                warnings.warn("scale was set to True but no dtype was specified for images or videos: "
                              "no scaling will be done.")
            return inpt
        return self._call_kernel(F.to_dtype, inpt, dtype=dtype, scale=self.scale)


class ConvertImageDtype(Transform):
    """[DEPRECATED] Use v2.ToDtype(dtype, scale=True) instead."""

    _v1_transform_cls = _v1.ConvertImageDtype

    def __init__(self, dtype=None):
        super().__init__()
        from .... import _backend as B
        self.dtype = B.float32 if dtype is None else dtype

    def transform(self, inpt, params):
        return self._call_kernel(F.to_dtype, inpt, dtype=self.dtype, scale=True)


# ---- misc ---------------------------------------------------------------------------------------
class Identity(Transform):
    def transform(self, inpt, params):
        return inpt


class Lambda(Transform):
    """Apply a user function to the inputs of the given types (all by default)."""

    _transformed_types = (object,)

    def __init__(self, lambd, *types):
        super().__init__()
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {repr(type(lambd).__name__)}")
        self.lambd = lambd
        self.types = types or self._transformed_types

    def _types(self):
        return (object,)

    def transform(self, inpt, params):
        return self.lambd(inpt) if isinstance(inpt, self.types) else inpt

    def extra_repr(self):
        extras = []
        name = getattr(self.lambd, "__name__", None)
        if name:
            extras.append(name)
        extras.append(f"types={[t.__name__ for t in self.types]}")
        return ", ".join(extras)


class Normalize(Transform):
    """(image - mean) / std per channel of a float image; masks and boxes pass through."""

    _v1_transform_cls = _v1.Normalize

    def __init__(self, mean, std, inplace=False):
        super().__init__()
        self.mean = list(mean)
        self.std = list(std)
        self.inplace = inplace

    def check_inputs(self, flat_inputs):
        if has_any(flat_inputs, _pil_cls()):
            raise TypeError(f"{type(self).__name__}() does not support PIL images.")

    def transform(self, inpt, params):
        return self._call_kernel(F.normalize, inpt, mean=self.mean, std=self.std, inplace=self.inplace)


class GaussianBlur(Transform):
    """Blur images with a Gaussian of random sigma in [sigma[0], sigma[1]]."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        super().__init__()
        self.kernel_size = _setup_size(kernel_size, "Kernel size should be a tuple/list of two integers")
        for ks in self.kernel_size:
            if ks <= 0 or ks % 2 == 0:
                raise ValueError("Kernel size value should be an odd and positive number.")
        self.sigma = _setup_number_or_seq(sigma, "sigma")
        if not 0.0 < self.sigma[0] <= self.sigma[1]:
            raise ValueError(f"sigma values should be positive and of the form (min, max). Got {self.sigma}")

    @staticmethod
    def get_params(sigma_min, sigma_max):
        return _uniform1(sigma_min, sigma_max)

    def make_params(self, flat_inputs):
        s = self.get_params(self.sigma[0], self.sigma[1])
        return dict(sigma=[s, s])

    def transform(self, inpt, params):
        return self._call_kernel(F.gaussian_blur, inpt, self.kernel_size, **params)


# ---- geometry -----------------------------------------------------------------------------------
class RandomHorizontalFlip(_RandomApplyTransform):
    """Flip images, masks and boxes left-right together with probability p."""

    _v1_transform_cls = _v1.RandomHorizontalFlip

    def transform(self, inpt, params):
        return self._call_kernel(F.horizontal_flip, inpt)


class RandomVerticalFlip(_RandomApplyTransform):
    """Flip images, masks and boxes top-bottom together with probability p."""

    _v1_transform_cls = _v1.RandomVerticalFlip

    def transform(self, inpt, params):
        return self._call_kernel(F.vertical_flip, inpt)


class Resize(Transform):
    """Resize to size (h, w), or match the smaller edge to an int size; masks use NEAREST."""

    _v1_transform_cls = _v1.Resize

    def __init__(self, size, interpolation="bilinear", max_size=None, antialias=True):
        super().__init__()
        if isinstance(size, int):
            size = [size]
        elif isinstance(size, Sequence) and len(size) in {1, 2}:
            size = list(size)
        elif size is None:
            if not isinstance(max_size, int):
                raise ValueError(f"max_size must be an integer when size is None, but got {max_size} instead.")
        else:
            raise ValueError(f"size can be an integer, a sequence of one or two integers, or None, "
                             f"but got {size} instead.")
        self.size = size
        _check_interpolation(interpolation)
        self.interpolation = interpolation  # kept as given: the repr shows it so, as torchvision's
        self.max_size = max_size
        self.antialias = antialias

    def transform(self, inpt, params):
        return self._call_kernel(F.resize, inpt, self.size, interpolation=self.interpolation,
                                 max_size=self.max_size, antialias=self.antialias)


class CenterCrop(Transform):
    """Crop the center of images, masks and boxes."""

    _v1_transform_cls = _v1.CenterCrop

    def __init__(self, size):
        super().__init__()
        self.size = _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size.")

    def transform(self, inpt, params):
        return self._call_kernel(F.center_crop, inpt, output_size=self.size)


class RandomResizedCrop(Transform):
    """Crop a random area and aspect ratio (the same for every image/mask of a sample), then resize."""

    _v1_transform_cls = _v1.RandomResizedCrop

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation="bilinear", antialias=True):
        super().__init__()
        self.size = _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size.")
        if not isinstance(scale, Sequence):
            raise TypeError("Scale should be a sequence")
        if not isinstance(ratio, Sequence):
            raise TypeError("Ratio should be a sequence")
        if (scale[0] > scale[1]) or (ratio[0] > ratio[1]):
            warnings.warn("Scale and ratio should be of kind (min, max)")
        self.scale = scale
        self.ratio = ratio
        _check_interpolation(interpolation)
        self.interpolation = interpolation  # kept as given: the repr shows it so, as torchvision's
        self.antialias = antialias

    def make_params(self, flat_inputs):
        height, width = query_size(flat_inputs)
        i, j, h, w = _v1._random_resized_crop_params(height, width, self.scale, self.ratio)
        return dict(top=i, left=j, height=h, width=w)

    def transform(self, inpt, params):
        return self._call_kernel(F.resized_crop, inpt, **params, size=self.size, interpolation=self.interpolation,
                                 antialias=self.antialias)


class Pad(Transform):
    """Pad images, masks and boxes on all sides."""

    _v1_transform_cls = _v1.Pad

    def __init__(self, padding, fill=0, padding_mode="constant"):
        super().__init__()
        _check_padding_arg(padding)
        _check_padding_mode_arg(padding_mode)
        if not isinstance(padding, int):
            padding = list(padding)
        self.padding = padding
        self.fill = fill
        self._fill = _setup_fill_arg(fill)
        self.padding_mode = padding_mode

    def transform(self, inpt, params):
        fill = _get_fill(self._fill, type(inpt))
        return self._call_kernel(F.pad, inpt, padding=self.padding, fill=fill, padding_mode=self.padding_mode)


class RandomCrop(Transform):
    """Crop images, masks and boxes at one random location, optionally padding first."""

    _v1_transform_cls = _v1.RandomCrop

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        super().__init__()
        self.size = _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size.")
        if pad_if_needed or padding is not None:
            if padding is not None:
                _check_padding_arg(padding)
            _check_padding_mode_arg(padding_mode)
        self.padding = F._parse_pad_padding(padding) if padding else None
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self._fill = _setup_fill_arg(fill)
        self.padding_mode = padding_mode

    def make_params(self, flat_inputs):
        padded_height, padded_width = query_size(flat_inputs)
        if self.padding is not None:
            pad_left, pad_right, pad_top, pad_bottom = self.padding
            padded_height += pad_top + pad_bottom
            padded_width += pad_left + pad_right
        else:
            pad_left = pad_right = pad_top = pad_bottom = 0
        cropped_height, cropped_width = self.size
        if self.pad_if_needed:
            if padded_height < cropped_height:
                diff = cropped_height - padded_height
                pad_top += diff
                pad_bottom += diff
                padded_height += 2 * diff
            if padded_width < cropped_width:
                diff = cropped_width - padded_width
                pad_left += diff
                pad_right += diff
                padded_width += 2 * diff
        if padded_height < cropped_height or padded_width < cropped_width:
            raise ValueError(
                f"Required crop size {(cropped_height, cropped_width)} is larger than "
                f"{'padded ' if self.padding is not None else ''}input image size {(padded_height, padded_width)}.")
        padding = [pad_left, pad_top, pad_right, pad_bottom]
        top = _randint1(0, padded_height - cropped_height + 1) if padded_height > cropped_height else 0
        left = _randint1(0, padded_width - cropped_width + 1) if padded_width > cropped_width else 0
        return dict(needs_crop=padded_height > cropped_height or padded_width > cropped_width, top=top, left=left,
                    height=cropped_height, width=cropped_width, needs_pad=any(padding), padding=padding)

    def transform(self, inpt, params):
        if params["needs_pad"]:
            fill = _get_fill(self._fill, type(inpt))
            inpt = self._call_kernel(F.pad, inpt, padding=params["padding"], fill=fill,
                                     padding_mode=self.padding_mode)
        if params["needs_crop"]:
            inpt = self._call_kernel(F.crop, inpt, top=params["top"], left=params["left"],
                                     height=params["height"], width=params["width"])
        return inpt


class RandomRotation(Transform):
    """Rotate images and masks by one random angle in degrees (counter-clockwise for positive angles)."""

    def __init__(self, degrees, interpolation="nearest", expand=False, center=None, fill=0):
        super().__init__()
        self.degrees = _setup_angle(degrees, name="degrees", req_sizes=(2,))
        _check_interpolation(interpolation)
        self.interpolation = interpolation  # kept as given: the repr shows it so, as torchvision's
        self.expand = expand
        self.fill = fill
        self._fill = _setup_fill_arg(fill)
        if center is not None:
            _check_sequence_input(center, "center", req_sizes=(2,))
        self.center = center

    @staticmethod
    def get_params(degrees):
        return _uniform1(float(degrees[0]), float(degrees[1]))

    def make_params(self, flat_inputs):
        return dict(angle=self.get_params(self.degrees))

    def transform(self, inpt, params):
        fill = _get_fill(self._fill, type(inpt))
        return self._call_kernel(F.rotate, inpt, **params, interpolation=self.interpolation, expand=self.expand,
                                 center=self.center, fill=fill)


# ---- colour -----------------------------------------------------------------------------------
class Grayscale(Transform):
    """Convert images to grayscale with 1 or 3 channels."""

    _v1_transform_cls = _v1.Grayscale

    def __init__(self, num_output_channels=1):
        super().__init__()
        if num_output_channels not in (1, 3):
            raise ValueError(f"num_output_channels must be 1 or 3, got {num_output_channels}.")
        self.num_output_channels = num_output_channels

    def transform(self, inpt, params):
        return self._call_kernel(F.rgb_to_grayscale, inpt, num_output_channels=self.num_output_channels)


class RandomGrayscale(_RandomApplyTransform):
    """Convert images to grayscale (keeping the channel count) with probability p."""

    _v1_transform_cls = _v1.RandomGrayscale

    def __init__(self, p=0.1):
        super().__init__(p=p)

    def make_params(self, flat_inputs):
        num_input_channels, *_ = query_chw(flat_inputs)
        return dict(num_input_channels=num_input_channels)

    def transform(self, inpt, params):
        return self._call_kernel(F.rgb_to_grayscale, inpt, num_output_channels=params["num_input_channels"])


class ColorJitter(Transform):
    """Randomly change brightness, contrast, saturation and hue (in a random order) of images."""

    _v1_transform_cls = _v1.ColorJitter

    def __init__(self, brightness=None, contrast=None, saturation=None, hue=None):
        super().__init__()
        self.brightness = self._check_input(brightness, "brightness")
        self.contrast = self._check_input(contrast, "contrast")
        self.saturation = self._check_input(saturation, "saturation")
        self.hue = self._check_input(hue, "hue", center=0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    def _check_input(self, value, name, center=1.0, bound=(0, float("inf")), clip_first_on_zero=True):
        if value is None:
            return None
        if isinstance(value, (int, float)):
            if value < 0:
                raise ValueError(f"If {name} is a single number, it must be non negative.")
            value = [center - value, center + value]
            if clip_first_on_zero:
                value[0] = max(value[0], 0.0)
        elif isinstance(value, Sequence) and len(value) == 2:
            value = [float(v) for v in value]
        else:
            raise TypeError(f"{name}={value} should be a single number or a sequence with length 2.")
        if not bound[0] <= value[0] <= value[1] <= bound[1]:
            raise ValueError(f"{name} values should be between {bound} and increasing, but got {value}.")
        return None if value[0] == value[1] == center else (float(value[0]), float(value[1]))

    def make_params(self, flat_inputs):
        fn_idx, b, c, s, h = _v1.ColorJitter.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        return dict(fn_idx=fn_idx, brightness_factor=b, contrast_factor=c, saturation_factor=s, hue_factor=h)

    def transform(self, inpt, params):
        output = inpt
        for fn_id in params["fn_idx"].tolist():
            if fn_id == 0 and params["brightness_factor"] is not None:
                output = self._call_kernel(F.adjust_brightness, output, params["brightness_factor"])
            elif fn_id == 1 and params["contrast_factor"] is not None:
                output = self._call_kernel(F.adjust_contrast, output, params["contrast_factor"])
            elif fn_id == 2 and params["saturation_factor"] is not None:
                output = self._call_kernel(F.adjust_saturation, output, params["saturation_factor"])
            elif fn_id == 3 and params["hue_factor"] is not None:
                output = self._call_kernel(F.adjust_hue, output, params["hue_factor"])
        return output


# ---- augment ----------------------------------------------------------------------------------
class RandomErasing(_RandomApplyTransform):
    """Erase one random rectangle of the images of a sample with probability p (value 'random': noise)."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0, inplace=False):
        super().__init__(p=p)
        _v1._check_erasing(value, scale, ratio)
        self.scale = scale
        self.ratio = ratio
        if isinstance(value, (int, float)):
            self.value = [float(value)]
        elif isinstance(value, str):
            self.value = None
        else:
            self.value = [float(v) for v in value]
        self.inplace = inplace
        self._log_ratio = _v1._log_ratio(ratio)  # torch.log(torch.tensor(ratio)), float32

    def _call_kernel(self, functional, inpt, *args, **kwargs):
        if isinstance(inpt, (BoundingBoxes, Mask)):
            warnings.warn(f"{type(self).__name__}() is currently passing through inputs of type "
                          f"tv_tensors.{type(inpt).__name__}. This will likely change in the future.")
        return super()._call_kernel(functional, inpt, *args, **kwargs)

    def make_params(self, flat_inputs):
        img_c, img_h, img_w = query_chw(flat_inputs)
        if self.value is not None and len(self.value) not in (1, img_c):
            raise ValueError(f"If value is a sequence, it should have either a single value or {img_c} "
                             f"(number of inpt channels)")
        area = img_h * img_w
        for _ in range(10):
            erase_area = area * _uniform1(self.scale[0], self.scale[1])
            aspect_ratio = _v1._exp_uniform1(self._log_ratio)
            h = int(round(math.sqrt(erase_area * aspect_ratio)))
            w = int(round(math.sqrt(erase_area / aspect_ratio)))
            if not (h < img_h and w < img_w):
                continue
            v = _v1._erase_value(img_c, h, w, self.value)
            i = _randint1(0, img_h - h + 1)
            j = _randint1(0, img_w - w + 1)
            break
        else:
            i, j, h, w, v = 0, 0, img_h, img_w, None
        return dict(i=i, j=j, h=h, w=w, v=v)

    def transform(self, inpt, params):
        if params["v"] is not None:
            inpt = self._call_kernel(F.erase, inpt, **params, inplace=self.inplace)
        return inpt



# ---- affine / perspective / five and ten crop ------------------------------------------------------
class RandomAffine(Transform):
    """Random rotation, translation, scale and shear of images and masks, the same for the whole sample."""

    _v1_transform_cls = _v1.RandomAffine

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation="nearest", fill=0,
                 center=None):
        super().__init__()
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
        _check_interpolation(interpolation)
        self.interpolation = interpolation  # kept as given: the repr shows it so, as torchvision's
        self.fill = fill
        self._fill = _setup_fill_arg(fill)
        if center is not None:
            _check_sequence_input(center, "center", req_sizes=(2,))
        self.center = center

    def make_params(self, flat_inputs):
        height, width = query_size(flat_inputs)
        angle = _uniform1(self.degrees[0], self.degrees[1])
        if self.translate is not None:
            max_dx = float(self.translate[0] * width)
            max_dy = float(self.translate[1] * height)
            translate = (int(round(_uniform1(-max_dx, max_dx))), int(round(_uniform1(-max_dy, max_dy))))
        else:
            translate = (0, 0)
        scale = _uniform1(self.scale[0], self.scale[1]) if self.scale is not None else 1.0
        shear_x = shear_y = 0.0
        if self.shear is not None:
            shear_x = _uniform1(self.shear[0], self.shear[1])
            if len(self.shear) == 4:
                shear_y = _uniform1(self.shear[2], self.shear[3])
        return dict(angle=angle, translate=translate, scale=scale, shear=(shear_x, shear_y))

    def transform(self, inpt, params):
        fill = _get_fill(self._fill, type(inpt))
        return self._call_kernel(F.affine, inpt, **params, interpolation=self.interpolation, fill=fill,
                                 center=self.center)


class RandomPerspective(_RandomApplyTransform):
    """With probability p, warp images and masks by moving the four corners inwards at random."""

    _v1_transform_cls = _v1.RandomPerspective

    def __init__(self, distortion_scale=0.5, p=0.5, interpolation="bilinear", fill=0):
        super().__init__(p=p)
        if not (0 <= distortion_scale <= 1):
            raise ValueError("Argument distortion_scale value should be between 0 and 1")
        self.distortion_scale = distortion_scale
        _check_interpolation(interpolation)
        self.interpolation = interpolation
        self.fill = fill
        self._fill = _setup_fill_arg(fill)

    def make_params(self, flat_inputs):
        height, width = query_size(flat_inputs)
        half_height = height // 2
        half_width = width // 2
        bound_height = int(self.distortion_scale * half_height) + 1
        bound_width = int(self.distortion_scale * half_width) + 1
        topleft = [_randint1(0, bound_width), _randint1(0, bound_height)]
        topright = [_randint1(width - bound_width, width), _randint1(0, bound_height)]
        botright = [_randint1(width - bound_width, width), _randint1(height - bound_height, height)]
        botleft = [_randint1(0, bound_width), _randint1(height - bound_height, height)]
        startpoints = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        endpoints = [topleft, topright, botright, botleft]
        return dict(coefficients=_F1._get_perspective_coeffs(startpoints, endpoints))

    def transform(self, inpt, params):
        fill = _get_fill(self._fill, type(inpt))
        return self._call_kernel(F.perspective, inpt, startpoints=None, endpoints=None, fill=fill,
                                 interpolation=self.interpolation, **params)


class _MultiCrop(Transform):
    def _call_kernel(self, functional, inpt, *args, **kwargs):
        if isinstance(inpt, (BoundingBoxes, Mask)):
            warnings.warn(f"{type(self).__name__}() is currently passing through inputs of type "
                          f"tv_tensors.{type(inpt).__name__}. This will likely change in the future.")
        return super()._call_kernel(functional, inpt, *args, **kwargs)

    def check_inputs(self, flat_inputs):
        if has_any(flat_inputs, BoundingBoxes, Mask):
            raise TypeError(f"BoundingBoxes'es and Mask's are not supported by {type(self).__name__}()")


class FiveCrop(_MultiCrop):
    """The four corner crops and the center crop of each image, as a tuple."""

    _v1_transform_cls = _v1.FiveCrop

    def __init__(self, size):
        super().__init__()
        self.size = _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size.")

    def transform(self, inpt, params):
        return self._call_kernel(F.five_crop, inpt, self.size)


class TenCrop(_MultiCrop):
    """FiveCrop of each image and of its flip (horizontal unless vertical_flip), as a tuple of 10."""

    _v1_transform_cls = _v1.TenCrop

    def __init__(self, size, vertical_flip=False):
        super().__init__()
        self.size = _setup_size(size, error_msg="Please provide only two dimensions (h, w) for size.")
        self.vertical_flip = vertical_flip

    def transform(self, inpt, params):
        return self._call_kernel(F.ten_crop, inpt, self.size, vertical_flip=self.vertical_flip)


# ---- random colour ops: a torch.rand(1) >= p coin, then the op on every image ----------------------
class RandomInvert(_RandomApplyTransform):
    """Invert the colours of the images with probability p."""

    _v1_transform_cls = _v1.RandomInvert

    def transform(self, inpt, params):
        return self._call_kernel(F.invert, inpt)


class RandomPosterize(_RandomApplyTransform):
    """Keep only the top `bits` bits of each channel with probability p."""

    _v1_transform_cls = _v1.RandomPosterize

    def __init__(self, bits, p=0.5):
        super().__init__(p=p)
        self.bits = bits

    def transform(self, inpt, params):
        return self._call_kernel(F.posterize, inpt, bits=self.bits)


class RandomSolarize(_RandomApplyTransform):
    """Invert the values at or above threshold with probability p."""

    _v1_transform_cls = _v1.RandomSolarize

    def __init__(self, threshold, p=0.5):
        super().__init__(p=p)
        self.threshold = threshold

    def transform(self, inpt, params):
        return self._call_kernel(F.solarize, inpt, threshold=self.threshold)


class RandomAutocontrast(_RandomApplyTransform):
    """Autocontrast the images with probability p."""

    _v1_transform_cls = _v1.RandomAutocontrast

    def transform(self, inpt, params):
        return self._call_kernel(F.autocontrast, inpt)


class RandomAdjustSharpness(_RandomApplyTransform):
    """Adjust the sharpness of the images by sharpness_factor with probability p."""

    _v1_transform_cls = _v1.RandomAdjustSharpness

    def __init__(self, sharpness_factor, p=0.5):
        super().__init__(p=p)
        self.sharpness_factor = sharpness_factor

    def transform(self, inpt, params):
        return self._call_kernel(F.adjust_sharpness, inpt, sharpness_factor=self.sharpness_factor)


class RandomEqualize(_RandomApplyTransform):
    """Equalize the histogram of the images with probability p."""

    _v1_transform_cls = _v1.RandomEqualize

    def transform(self, inpt, params):
        return self._call_kernel(F.equalize, inpt)


# ---- detection (SSD-style augmentation, box housekeeping) ---------------------------------------
class ConvertBoundingBoxFormat(Transform):
    """Convert the boxes of a sample to ``format`` (XYXY, XYWH, CXCYWH)."""

    _transformed_types = (BoundingBoxes,)

    def __init__(self, format):
        super().__init__()
        self.format = format

    def transform(self, inpt, params):
        return F.convert_bounding_box_format(inpt, new_format=self.format)


class ClampBoundingBoxes(Transform):
    """Clamp the boxes of a sample to their canvas ('auto': each box's own clamping_mode)."""

    _transformed_types = (BoundingBoxes,)

    def __init__(self, clamping_mode="auto"):
        super().__init__()
        self.clamping_mode = clamping_mode

    def transform(self, inpt, params):
        return F.clamp_bounding_boxes(inpt, clamping_mode=self.clamping_mode)


class SanitizeBoundingBoxes(Transform):
    """Drop degenerate or out-of-canvas boxes, and the labels and masks that go with them."""

    def __init__(self, min_size=1.0, min_area=1.0, labels_getter="default"):
        super().__init__()
        if min_size < 1:
            raise ValueError(f"min_size must be >= 1, got {min_size}.")
        self.min_size = min_size
        if min_area < 1:
            raise ValueError(f"min_area must be >= 1, got {min_area}.")
        self.min_area = min_area
        self.labels_getter = labels_getter
        self._labels_getter = _parse_labels_getter(labels_getter)

    def forward(self, *inputs):
        inputs = inputs if len(inputs) > 1 else inputs[0]
        labels = self._labels_getter(inputs)
        if labels is not None:
            msg = "The labels in the input to forward() must be a tensor or None, got {type} instead."
            if isinstance(labels, Tensor):
                labels = (labels,)
            elif isinstance(labels, (tuple, list)):
                for entry in labels:
                    if not isinstance(entry, Tensor):
                        raise ValueError(msg.format(type=type(entry)))
            else:
                raise ValueError(msg.format(type=type(labels)))
        flat_inputs, spec = tree_flatten(inputs)
        boxes = get_bounding_boxes(flat_inputs)
        if labels is not None:
            for label in labels:
                if boxes.shape[0] != label.shape[0]:
                    raise ValueError(f"Number of boxes (shape={boxes.shape}) and must match the number of labels."
                                     f"Found labels with shape={label.shape}).")
        valid = F._sanitize_mask(_F1._arr(boxes), boxes.format, boxes.canvas_size, self.min_size, self.min_area)
        params = dict(valid=_wrap_arr(valid), labels=labels)
        return tree_unflatten([self.transform(i, params) for i in flat_inputs], spec)

    def transform(self, inpt, params):
        is_label = params["labels"] is not None and any(inpt is label for label in params["labels"])
        is_boxes = isinstance(inpt, BoundingBoxes)
        is_mask = isinstance(inpt, Mask)
        if not (is_label or is_boxes or is_mask):
            return inpt
        try:
            output = F._pure(inpt)[params["valid"]] if isinstance(inpt, TVTensor) else inpt[params["valid"]]
        except IndexError:  # a mask or label that is not per-box passes through, as torchvision's
            return inpt
        return output if is_label else tv_tensors.wrap(output, like=inpt)


class RandomPhotometricDistort(Transform):
    """SSD's photometric distortion: brightness, contrast (before or after), saturation, hue, channel shuffle,
    each with probability p."""

    def __init__(self, brightness=(0.875, 1.125), contrast=(0.5, 1.5), saturation=(0.5, 1.5),
                 hue=(-0.05, 0.05), p=0.5):
        super().__init__()
        self.brightness = brightness
        self.contrast = contrast
        self.hue = hue
        self.saturation = saturation
        self.p = p

    def make_params(self, flat_inputs):
        num_channels = query_chw(flat_inputs)[0]
        params = {}
        for key, rng in (("brightness_factor", self.brightness), ("contrast_factor", self.contrast),
                         ("saturation_factor", self.saturation), ("hue_factor", self.hue)):
            params[key] = _uniform1(rng[0], rng[1]) if _rand1() < _f32(self.p) else None
        params["contrast_before"] = bool(_rand1() < np.float32(0.5))
        params["channel_permutation"] = _v1._randperm(num_channels) if _rand1() < _f32(self.p) else None
        return params

    def transform(self, inpt, params):
        if params["brightness_factor"] is not None:
            inpt = self._call_kernel(F.adjust_brightness, inpt, brightness_factor=params["brightness_factor"])
        if params["contrast_factor"] is not None and params["contrast_before"]:
            inpt = self._call_kernel(F.adjust_contrast, inpt, contrast_factor=params["contrast_factor"])
        if params["saturation_factor"] is not None:
            inpt = self._call_kernel(F.adjust_saturation, inpt, saturation_factor=params["saturation_factor"])
        if params["hue_factor"] is not None:
            inpt = self._call_kernel(F.adjust_hue, inpt, hue_factor=params["hue_factor"])
        if params["contrast_factor"] is not None and not params["contrast_before"]:
            inpt = self._call_kernel(F.adjust_contrast, inpt, contrast_factor=params["contrast_factor"])
        if params["channel_permutation"] is not None:
            inpt = self._call_kernel(F.permute_channels, inpt, permutation=params["channel_permutation"])
        return inpt


class RandomZoomOut(_RandomApplyTransform):
    """SSD's zoom out: pad the sample onto a canvas side_range times larger, at a random place, with probability p."""

    def __init__(self, fill=0, side_range=(1.0, 4.0), p=0.5):
        super().__init__(p=p)
        self.fill = fill
        self._fill = _setup_fill_arg(fill)
        _check_sequence_input(side_range, "side_range", req_sizes=(2,))
        self.side_range = side_range
        if side_range[0] < 1.0 or side_range[0] > side_range[1]:
            raise ValueError(f"Invalid side range provided {side_range}.")

    def make_params(self, flat_inputs):
        orig_h, orig_w = query_size(flat_inputs)
        # torch: float32 tensor arithmetic, the Python floats cast to float32
        lo, hi = self.side_range
        r = np.float32(lo) + _gen().random((1,), np.float32)[0] * np.float32(hi - lo)
        canvas_width = int(np.float32(orig_w) * r)
        canvas_height = int(np.float32(orig_h) * r)
        r = _gen().random((2,), np.float32)
        left = int(np.float32(canvas_width - orig_w) * r[0])
        top = int(np.float32(canvas_height - orig_h) * r[1])
        right = canvas_width - (left + orig_w)
        bottom = canvas_height - (top + orig_h)
        return dict(padding=[left, top, right, bottom])

    def transform(self, inpt, params):
        fill = _get_fill(self._fill, type(inpt))
        return self._call_kernel(F.pad, inpt, **params, fill=fill)


def _box_iou_max(xyxy, box):
    """max IoU of the boxes xyxy (N, 4, in torchvision's dtype) with one box, computed in that dtype."""
    area1 = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    area2 = (box[2] - box[0]) * (box[3] - box[1])
    lt = np.maximum(xyxy[:, :2], box[:2])
    rb = np.minimum(xyxy[:, 2:], box[2:])
    wh = (rb - lt).clip(0)
    inter = wh[:, 0] * wh[:, 1]
    union = area1 + area2 - inter
    if inter.dtype.kind != "f":  # torch's true division of integer tensors: float32
        inter, union = inter.astype(np.float32), union.astype(np.float32)
    return (inter / union).max()


class RandomIoUCrop(Transform):
    """SSD's IoU crop: a random crop whose IoU with some box reaches a randomly chosen threshold; boxes whose
    centre falls outside are zeroed (follow it with SanitizeBoundingBoxes)."""

    def __init__(self, min_scale=0.3, max_scale=1.0, min_aspect_ratio=0.5, max_aspect_ratio=2.0,
                 sampler_options=None, trials=40):
        super().__init__()
        self.min_scale = min_scale
        self.max_scale = max_scale
        self.min_aspect_ratio = min_aspect_ratio
        self.max_aspect_ratio = max_aspect_ratio
        if sampler_options is None:
            sampler_options = [0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0]
        self.options = sampler_options
        self.trials = trials

    def check_inputs(self, flat_inputs):
        if not (has_all(flat_inputs, BoundingBoxes)
                and has_any(flat_inputs, _pil_cls(), Image, is_pure_tensor)):
            raise TypeError(f"{type(self).__name__}() requires input sample to contain tensor or PIL images "
                            "and bounding boxes. Sample can also contain masks.")

    def make_params(self, flat_inputs):
        orig_h, orig_w = query_size(flat_inputs)
        bboxes = get_bounding_boxes(flat_inputs)
        a = _F1._arr(bboxes)
        # torchvision converts to XYXY in the boxes' dtype; ember converts through float64 then back
        xyxy = F._from_xyxy(F._xyxy(a, bboxes.format), F.BoundingBoxFormat.XYXY, a.dtype)
        half = np.asarray(0.5, xyxy.dtype if xyxy.dtype.kind == "f" else np.float32)
        cx = half * (xyxy[..., 0] + xyxy[..., 2])
        cy = half * (xyxy[..., 1] + xyxy[..., 3])
        lo, span = np.float32(self.min_scale), np.float32(self.max_scale - self.min_scale)
        while True:
            min_jaccard_overlap = self.options[_randint1(0, len(self.options))]
            if min_jaccard_overlap >= 1.0:  # the leave-as-is option
                return dict()
            for _ in range(self.trials):
                r = lo + span * _gen().random((2,), np.float32)
                new_w = int(np.float32(orig_w) * r[0])
                new_h = int(np.float32(orig_h) * r[1])
                aspect_ratio = new_w / new_h
                if not (self.min_aspect_ratio <= aspect_ratio <= self.max_aspect_ratio):
                    continue
                r = _gen().random((2,), np.float32)
                left = int(np.float32(orig_w - new_w) * r[0])
                top = int(np.float32(orig_h - new_h) * r[1])
                right = left + new_w
                bottom = top + new_h
                if left == right or top == bottom:
                    continue
                within = (left < cx) & (cx < right) & (top < cy) & (cy < bottom)
                if not within.any():
                    continue
                iou = _box_iou_max(xyxy[within], np.array([left, top, right, bottom], xyxy.dtype))
                if iou < np.asarray(min_jaccard_overlap, iou.dtype):
                    continue
                return dict(top=top, left=left, height=new_h, width=new_w, is_within_crop_area=within)

    def transform(self, inpt, params):
        if len(params) < 1:
            return inpt
        output = self._call_kernel(F.crop, inpt, top=params["top"], left=params["left"], height=params["height"],
                                   width=params["width"])
        if isinstance(output, BoundingBoxes):
            # the boxes whose centre left the crop become degenerate, for SanitizeBoundingBoxes to drop
            arr = _F1._arr(output).copy()
            arr[~params["is_within_crop_area"]] = 0
            output = tv_tensors.wrap(_wrap_arr(arr), like=output)
        return output


# ---- transforms torchvision added in v2: channels, noise, whitening, elastic, scale augmentation -------
class RandomChannelPermutation(Transform):
    """Shuffle the channels of images and videos (one torch.randperm per sample)."""

    def make_params(self, flat_inputs):
        num_channels, *_ = query_chw(flat_inputs)
        return dict(permutation=_v1._randperm(num_channels))

    def transform(self, inpt, params):
        return self._call_kernel(F.permute_channels, inpt, params["permutation"])


class RGB(Transform):
    """Make images 3-channel RGB: 1-channel images get their channel repeated, RGB ones pass unchanged."""

    def transform(self, inpt, params):
        return self._call_kernel(F.grayscale_to_rgb, inpt)


class GaussianNoise(Transform):
    """Add N(mean, sigma) noise to images and videos (float in [0, 1] or uint8), clipped unless clip=False."""

    def __init__(self, mean=0.0, sigma=0.1, clip=True):
        super().__init__()
        self.mean = mean
        self.sigma = sigma
        self.clip = clip

    def transform(self, inpt, params):
        return self._call_kernel(F.gaussian_noise, inpt, mean=self.mean, sigma=self.sigma, clip=self.clip)


class LinearTransformation(Transform):
    """(flattened image - mean_vector) @ transformation_matrix (D x D, D = C*H*W), e.g. ZCA whitening."""

    _v1_transform_cls = _v1.LinearTransformation
    _transformed_types = (is_pure_tensor, Image, Video)

    def __init__(self, transformation_matrix, mean_vector):
        super().__init__()
        _v1._check_linear_transformation(transformation_matrix, mean_vector)
        self.transformation_matrix = transformation_matrix
        self.mean_vector = mean_vector

    def check_inputs(self, flat_inputs):
        if has_any(flat_inputs, _pil_cls()):
            raise TypeError(f"{type(self).__name__}() does not support PIL images.")

    def transform(self, inpt, params):
        output = _v1._linear_transformation(F._pure(inpt), self.transformation_matrix, self.mean_vector,
                                            lambda t, n: t.reshape(-1, n))
        return tv_tensors.wrap(output, like=inpt) if isinstance(inpt, (Image, Video)) else output


class ElasticTransform(Transform):
    """Displace images, masks and boxes by one smooth random field (alpha: strength, sigma: smoothness)."""

    _v1_transform_cls = _v1.ElasticTransform

    def __init__(self, alpha=50.0, sigma=5.0, interpolation="bilinear", fill=0):
        super().__init__()
        self.alpha = _setup_number_or_seq(alpha, "alpha")
        self.sigma = _setup_number_or_seq(sigma, "sigma")
        self.interpolation = interpolation  # kept as given (checked by the kernel), as torchvision's
        self.fill = fill
        self._fill = _setup_fill_arg(fill)

    def make_params(self, flat_inputs):
        height, width = query_size(flat_inputs)
        return dict(displacement=_v1._elastic_displacement(self.alpha, self.sigma, [height, width]))

    def transform(self, inpt, params):
        fill = _get_fill(self._fill, type(inpt))
        return self._call_kernel(F.elastic, inpt, **params, fill=fill, interpolation=self.interpolation)


class ScaleJitter(Transform):
    """Large scale jitter (Copy-Paste): resize by a random factor in scale_range of the fit into target_size."""

    def __init__(self, target_size, scale_range=(0.1, 2.0), interpolation="bilinear", antialias=True):
        super().__init__()
        self.target_size = target_size
        self.scale_range = scale_range
        self.interpolation = interpolation
        self.antialias = antialias

    def make_params(self, flat_inputs):
        orig_height, orig_width = query_size(flat_inputs)
        # torch: float32 tensor arithmetic, the Python numbers cast to float32
        lo, hi = self.scale_range
        scale = np.float32(lo) + _rand1() * np.float32(hi - lo)
        r = np.float32(min(self.target_size[1] / orig_height, self.target_size[0] / orig_width)) * scale
        return dict(size=(int(np.float32(orig_height) * r), int(np.float32(orig_width) * r)))

    def transform(self, inpt, params):
        return self._call_kernel(F.resize, inpt, size=params["size"], interpolation=self.interpolation,
                                 antialias=self.antialias)


class RandomShortestSize(Transform):
    """Resize so that the shorter side is one of min_size (picked at random), the longer at most max_size."""

    def __init__(self, min_size, max_size=None, interpolation="bilinear", antialias=True):
        super().__init__()
        self.min_size = [min_size] if isinstance(min_size, int) else list(min_size)
        self.max_size = max_size
        self.interpolation = interpolation
        self.antialias = antialias

    def make_params(self, flat_inputs):
        orig_height, orig_width = query_size(flat_inputs)
        min_size = self.min_size[_randint1(0, len(self.min_size))]
        r = min_size / min(orig_height, orig_width)
        if self.max_size is not None:
            r = min(r, self.max_size / max(orig_height, orig_width))
        return dict(size=(int(orig_height * r), int(orig_width * r)))

    def transform(self, inpt, params):
        return self._call_kernel(F.resize, inpt, size=params["size"], interpolation=self.interpolation,
                                 antialias=self.antialias)


class RandomResize(Transform):
    """Resize the shorter side to a size drawn uniformly from [min_size, max_size) (segmentation training)."""

    def __init__(self, min_size, max_size, interpolation="bilinear", antialias=True):
        super().__init__()
        self.min_size = min_size
        self.max_size = max_size
        self.interpolation = interpolation
        self.antialias = antialias

    def make_params(self, flat_inputs):
        return dict(size=[_randint1(self.min_size, self.max_size)])

    def transform(self, inpt, params):
        return self._call_kernel(F.resize, inpt, params["size"], interpolation=self.interpolation,
                                 antialias=self.antialias)


class SetClampingMode(Transform):
    """Set the clamping_mode ('soft', 'hard' or None) of the boxes of a sample, for the transforms after it."""

    _transformed_types = (BoundingBoxes,)

    def __init__(self, clamping_mode):
        super().__init__()
        self.clamping_mode = clamping_mode
        if self.clamping_mode not in (None, "soft", "hard"):
            raise ValueError(f"clamping_mode must be soft, hard or None, got {clamping_mode}")

    def transform(self, inpt, params):
        out = inpt.clone()
        out.clamping_mode = self.clamping_mode
        return out


class UniformTemporalSubsample(Transform):
    """Keep num_samples equally spaced frames of videos (..., T, C, H, W)."""

    _transformed_types = (Tensor,)

    def __init__(self, num_samples):
        super().__init__()
        self.num_samples = num_samples

    def _types(self):
        return (Tensor,)  # no PIL images: a still picture has no frames

    def transform(self, inpt, params):
        return self._call_kernel(F.uniform_temporal_subsample, inpt, self.num_samples)
