"""The weights API of torchvision.models (``weights=`` enums) and its download.

``model(weights=...)`` and ``weights.get_state_dict()`` fetch torchvision's own checkpoint through
``ember.hub.load_state_dict_from_url`` into ``<hub dir>/checkpoints`` (the folder torch uses, so
both share the files) and verify its SHA256 prefix; ember's module names are torchvision's, so
the file loads as is.
"""
import enum
import functools

from ..._userwarn import warn as _warn_user
from ._meta import _IMAGENET_CATEGORIES


class Weights:
    """One pretrained checkpoint: where torchvision downloads it from, and what it is."""

    def __init__(self, url, num_params, meta=None):
        self.url = url
        # every classification checkpoint here has ImageNet-1k's head unless its meta says otherwise
        self.meta = dict({"categories": _IMAGENET_CATEGORIES}, **(meta or {}), num_params=num_params)

    def __repr__(self):
        return f"Weights(url={self.url!r}, meta={self.meta!r})"


class WeightsEnum(enum.Enum):
    """Base of ResNet18_Weights, VGG16_Weights, ...: members are Weights; DEFAULT names the best one."""

    @classmethod
    def verify(cls, obj):
        """obj (None, a member, or its name as a string such as "DEFAULT") as a member of cls."""
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            name = obj.replace(cls.__name__ + ".", "")
            try:
                return cls[name]
            except KeyError:  # torchvision's lookup raises KeyError too
                raise KeyError(f"Failed to find Weights {obj!r} in {cls.__name__}. Try one of "
                               f"{[m for m in cls.__members__]}") from None
        if isinstance(obj, WeightsEnum):
            raise TypeError(f"Invalid Weights class provided; expected {cls.__name__} but received "
                            f"{type(obj).__name__}.")
        raise TypeError(f"Invalid Weights class provided; expected {cls.__name__} but received {obj!r}.")

    @property
    def url(self):
        return self.value.url

    @property
    def meta(self):
        return self.value.meta

    def get_state_dict(self, *args, **kwargs):
        """The checkpoint's state_dict, downloaded once into <hub dir>/checkpoints (load_state_dict_from_url's args)."""
        from ...hub import load_state_dict_from_url
        return load_state_dict_from_url(self.url, *args, **kwargs)

    def transforms(self):
        """The evaluation preprocessing of these weights (torchvision's ImageClassification preset): resize,
        center-crop (224 unless the weights say otherwise), scale to float, normalize; takes PIL images and uint8
        or float Tensor images."""
        from ..transforms._presets import ImageClassification
        from ..transforms.functional import InterpolationMode
        m = self.meta
        return ImageClassification(crop_size=m.get("crop_size", 224), resize_size=m.get("resize_size", 256),
                                   mean=m.get("mean", (0.485, 0.456, 0.406)), std=m.get("std", (0.229, 0.224, 0.225)),
                                   interpolation=InterpolationMode(m.get("interpolation", "bilinear")))

    def __repr__(self):
        return f"{type(self).__name__}.{self.name}"


def _ovewrite_named_param(kwargs, param, new_value):
    """kwargs[param] = new_value, unless the caller passed a different value (torchvision's check)."""
    if param in kwargs:
        if kwargs[param] != new_value:
            raise ValueError(f"The parameter '{param}' expected value {new_value} but got {kwargs[param]} instead.")
    else:
        kwargs[param] = new_value


def _kwonly_to_pos_or_kw(fn):
    """torchvision's model builders still take weights (and progress) positionally, with a deprecation warning."""
    names = ("weights", "progress")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if args:
            if len(args) > len(names):
                raise TypeError(f"{fn.__name__}() takes at most {len(names)} positional arguments "
                                f"({', '.join(names)}) but {len(args)} were given")
            given = names[:len(args)]
            _warn_user(f"Using {' and '.join(repr(n) for n in given)} as positional parameter(s) is deprecated since "
                       f"0.13 and may be removed in the future. Please use keyword parameter(s) instead.")
            kwargs.update(zip(given, args))
        return fn(**kwargs)
    return wrapper


def _resolve(weights_enum, weights, kwargs, builder=None):
    """torchvision's legacy `pretrained=` and `weights=` handling; returns the verified weights (or None) and sets
    kwargs["num_classes"] to the checkpoint's. builder names the model for the error when pretrained=True has no
    IMAGENET1K_V1 weights to mean (regnet_y_128gf, vit_h_14)."""
    if "pretrained" in kwargs:
        if kwargs["pretrained"] and "IMAGENET1K_V1" not in weights_enum.__members__:
            raise ValueError(f"No weights available for model {builder or weights_enum.__name__}; pass one of "
                             f"{[f'{weights_enum.__name__}.{m}' for m in weights_enum.__members__]} as weights=")
        pretrained = kwargs.pop("pretrained")
        _warn_user("The parameter 'pretrained' is deprecated since 0.13 and may be removed in the future, "
                      "please use 'weights' instead.")
        if pretrained:
            _warn_user(f"Arguments other than a weight enum or `None` for 'weights' are deprecated since 0.13 "
                          f"and may be removed in the future. The current behavior is equivalent to passing "
                          f"`weights={weights_enum.__name__}.IMAGENET1K_V1`. You can also use "
                          f"`weights={weights_enum.__name__}.DEFAULT` to get the most up-to-date weights.")
            weights = weights_enum.IMAGENET1K_V1
    weights = weights_enum.verify(weights)
    if weights is not None and weights.meta["categories"] is not None:
        # the checkpoint's head fixes the class count
        _ovewrite_named_param(kwargs, "num_classes", len(weights.meta["categories"]))
    return weights


def _load_weights(model, weights, progress):
    """model with the checkpoint of weights loaded (downloaded, hash-checked); model itself for weights=None."""
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model
