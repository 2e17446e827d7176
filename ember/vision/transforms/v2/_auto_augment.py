"""transforms.v2 AutoAugment, RandAugment and TrivialAugmentWide (torchvision's v2 versions).

v2 shares v1's policies and op tables but draws differently from v1, as torchvision's v2 does:
``torch.randint(n, ())`` for the op, ``torch.rand(()) <= p`` for each sub-policy op,
``torch.rand(()) <= 0.5`` for the sign, and Solarize magnitudes in [0, 1] scaled by the dtype's
maximum. Only the single image (or video) of a sample is transformed; masks and boxes are refused.
"""
import math

import numpy as np

from ... import tv_tensors
from ...tv_tensors import BoundingBoxes, Image, Mask, Video
from ...._tensor import Tensor, _wrap
from .. import autoaugment as _v1aa
from .. import functional as _F1
from ..autoaugment import AutoAugmentPolicy, _linspace, _posterize_bins, _sample_dirichlet
from . import functional as F
from ._transforms import (Transform, _check_interpolation, _get_fill, _pil_cls, _setup_fill_arg, check_type,
                          is_pure_tensor, tree_flatten, tree_unflatten)
from ._transforms import _gen

__all__ = ["AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix"]


def _rand0():
    """torch.rand(()): one float32."""
    return _gen().random((1,), np.float32)[0]


def _randint0(n):
    """int(torch.randint(n, ()))."""
    return int(_gen().integers(0, n, (1,))[0])


class _AutoAugmentBase(Transform):
    def __init__(self, *, interpolation="nearest", fill=None):
        super().__init__()
        _check_interpolation(interpolation)
        self.interpolation = interpolation  # kept as given: the repr shows it so, as torchvision's
        self.fill = fill
        self._fill = _setup_fill_arg(fill)

    def _get_random_item(self, dct):
        keys = tuple(dct.keys())
        key = keys[_randint0(len(keys))]
        return key, dct[key]

    def _flatten_and_extract_image_or_video(self, inputs, unsupported_types=(BoundingBoxes, Mask)):
        flat_inputs, spec = tree_flatten(inputs if len(inputs) > 1 else inputs[0])
        needs_transform_list = self._needs_transform_list(flat_inputs)
        image_or_videos = []
        for idx, (inpt, needs_transform) in enumerate(zip(flat_inputs, needs_transform_list)):
            if needs_transform and check_type(inpt, (Image, _pil_cls(), is_pure_tensor, Video)):
                image_or_videos.append((idx, inpt))
            elif isinstance(inpt, unsupported_types):
                raise TypeError(f"Inputs of type {type(inpt).__name__} are not supported by {type(self).__name__}()")
        if not image_or_videos:
            raise TypeError("Found no image in the sample.")
        if len(image_or_videos) > 1:
            raise TypeError(f"Auto augment transformations are only properly defined for a single image or video, "
                            f"but found {len(image_or_videos)}.")
        idx, image_or_video = image_or_videos[0]
        return (flat_inputs, spec, idx), image_or_video

    def _unflatten_and_insert_image_or_video(self, flat_inputs_with_spec, image_or_video):
        flat_inputs, spec, idx = flat_inputs_with_spec
        flat_inputs[idx] = image_or_video
        return tree_unflatten(flat_inputs, spec)

    def _apply_image_or_video_transform(self, image, transform_id, magnitude, interpolation, fill):
        fill_ = _get_fill(fill, type(image))
        if transform_id == "Identity":
            return image
        if transform_id == "ShearX":
            return F.affine(image, angle=0.0, translate=[0, 0], scale=1.0,
                            shear=[math.degrees(math.atan(magnitude)), 0.0], interpolation=interpolation,
                            fill=fill_, center=[0, 0])
        if transform_id == "ShearY":
            return F.affine(image, angle=0.0, translate=[0, 0], scale=1.0,
                            shear=[0.0, math.degrees(math.atan(magnitude))], interpolation=interpolation,
                            fill=fill_, center=[0, 0])
        if transform_id == "TranslateX":
            return F.affine(image, angle=0.0, translate=[int(magnitude), 0], scale=1.0, interpolation=interpolation,
                            shear=[0.0, 0.0], fill=fill_)
        if transform_id == "TranslateY":
            return F.affine(image, angle=0.0, translate=[0, int(magnitude)], scale=1.0, interpolation=interpolation,
                            shear=[0.0, 0.0], fill=fill_)
        if transform_id == "Rotate":
            return F.rotate(image, angle=magnitude, interpolation=interpolation, fill=fill_)
        if transform_id == "Brightness":
            return F.adjust_brightness(image, brightness_factor=1.0 + magnitude)
        if transform_id == "Color":
            return F.adjust_saturation(image, saturation_factor=1.0 + magnitude)
        if transform_id == "Contrast":
            return F.adjust_contrast(image, contrast_factor=1.0 + magnitude)
        if transform_id == "Sharpness":
            return F.adjust_sharpness(image, sharpness_factor=1.0 + magnitude)
        if transform_id == "Posterize":
            return F.posterize(image, bits=int(magnitude))
        if transform_id == "Solarize":
            bound = _F1._max_value(_F1._arr(image).dtype) if not _F1._is_pil_image(image) else 255.0
            return F.solarize(image, threshold=bound * magnitude)
        if transform_id == "AutoContrast":
            return F.autocontrast(image)
        if transform_id == "Equalize":
            return F.equalize(image)
        if transform_id == "Invert":
            return F.invert(image)
        raise ValueError(f"No transform available for {transform_id}")


def _none(num_bins, height, width):
    return None


_SHEAR_3 = (lambda n, h, w: _linspace(0.0, 0.3, n), True)
_BASE_SPACE = {
    "ShearX": _SHEAR_3,
    "ShearY": _SHEAR_3,
    "TranslateX": (lambda n, h, w: _linspace(0.0, 150.0 / 331.0 * w, n), True),
    "TranslateY": (lambda n, h, w: _linspace(0.0, 150.0 / 331.0 * h, n), True),
    "Rotate": (lambda n, h, w: _linspace(0.0, 30.0, n), True),
    "Brightness": (lambda n, h, w: _linspace(0.0, 0.9, n), True),
    "Color": (lambda n, h, w: _linspace(0.0, 0.9, n), True),
    "Contrast": (lambda n, h, w: _linspace(0.0, 0.9, n), True),
    "Sharpness": (lambda n, h, w: _linspace(0.0, 0.9, n), True),
    "Posterize": (lambda n, h, w: _posterize_bins(n, 8, 4), False),
    "Solarize": (lambda n, h, w: _linspace(1.0, 0.0, n), False),
    "AutoContrast": (_none, False),
    "Equalize": (_none, False),
}


class AutoAugment(_AutoAugmentBase):
    """Apply one of the policy's sub-policies, chosen at random, to the sample's image."""

    _v1_transform_cls = _v1aa.AutoAugment
    _AUGMENTATION_SPACE = dict(_BASE_SPACE, Invert=(_none, False))

    def __init__(self, policy=AutoAugmentPolicy.IMAGENET, interpolation="nearest", fill=None):
        super().__init__(interpolation=interpolation, fill=fill)
        self.policy = policy
        self._policies = _v1aa._get_policies(policy)

    def forward(self, *inputs):
        flat_inputs_with_spec, image_or_video = self._flatten_and_extract_image_or_video(inputs)
        height, width = F.get_size(image_or_video)
        policy = self._policies[_randint0(len(self._policies))]
        for transform_id, probability, magnitude_idx in policy:
            if not _rand0() <= np.float32(probability):
                continue
            magnitudes_fn, signed = self._AUGMENTATION_SPACE[transform_id]
            magnitudes = magnitudes_fn(10, height, width)
            if magnitudes is not None:
                magnitude = float(magnitudes[magnitude_idx])
                if signed and _rand0() <= np.float32(0.5):
                    magnitude *= -1
            else:
                magnitude = 0.0
            image_or_video = self._apply_image_or_video_transform(image_or_video, transform_id, magnitude,
                                                                  interpolation=self.interpolation, fill=self._fill)
        return self._unflatten_and_insert_image_or_video(flat_inputs_with_spec, image_or_video)


class RandAugment(_AutoAugmentBase):
    """Apply num_ops ops drawn uniformly from the table, at the fixed magnitude bin."""

    _v1_transform_cls = _v1aa.RandAugment
    _AUGMENTATION_SPACE = dict({"Identity": (_none, False)}, **_BASE_SPACE)

    def __init__(self, num_ops=2, magnitude=9, num_magnitude_bins=31, interpolation="nearest", fill=None):
        super().__init__(interpolation=interpolation, fill=fill)
        if not isinstance(num_ops, int) or (num_ops < 0):
            raise ValueError(f"num_ops should be a non-negative integer, but got {num_ops} instead.")
        self.num_ops = num_ops
        self.magnitude = magnitude
        self.num_magnitude_bins = num_magnitude_bins

    def forward(self, *inputs):
        flat_inputs_with_spec, image_or_video = self._flatten_and_extract_image_or_video(inputs)
        height, width = F.get_size(image_or_video)
        for _ in range(self.num_ops):
            transform_id, (magnitudes_fn, signed) = self._get_random_item(self._AUGMENTATION_SPACE)
            magnitudes = magnitudes_fn(self.num_magnitude_bins, height, width)
            if magnitudes is not None:
                magnitude = float(magnitudes[self.magnitude])
                if signed and _rand0() <= np.float32(0.5):
                    magnitude *= -1
            else:
                magnitude = 0.0
            image_or_video = self._apply_image_or_video_transform(image_or_video, transform_id, magnitude,
                                                                  interpolation=self.interpolation, fill=self._fill)
        return self._unflatten_and_insert_image_or_video(flat_inputs_with_spec, image_or_video)


_WIDE = 0.99


class TrivialAugmentWide(_AutoAugmentBase):
    """Apply one op drawn uniformly from the wide table, at a magnitude bin drawn uniformly."""

    _v1_transform_cls = _v1aa.TrivialAugmentWide
    _AUGMENTATION_SPACE = {
        "Identity": (_none, False),
        "ShearX": (lambda n, h, w: _linspace(0.0, _WIDE, n), True),
        "ShearY": (lambda n, h, w: _linspace(0.0, _WIDE, n), True),
        "TranslateX": (lambda n, h, w: _linspace(0.0, 32.0, n), True),
        "TranslateY": (lambda n, h, w: _linspace(0.0, 32.0, n), True),
        "Rotate": (lambda n, h, w: _linspace(0.0, 135.0, n), True),
        "Brightness": (lambda n, h, w: _linspace(0.0, _WIDE, n), True),
        "Color": (lambda n, h, w: _linspace(0.0, _WIDE, n), True),
        "Contrast": (lambda n, h, w: _linspace(0.0, _WIDE, n), True),
        "Sharpness": (lambda n, h, w: _linspace(0.0, _WIDE, n), True),
        "Posterize": (lambda n, h, w: _posterize_bins(n, 8, 6), False),
        "Solarize": (lambda n, h, w: _linspace(1.0, 0.0, n), False),
        "AutoContrast": (_none, False),
        "Equalize": (_none, False),
    }

    def __init__(self, num_magnitude_bins=31, interpolation="nearest", fill=None):
        super().__init__(interpolation=interpolation, fill=fill)
        self.num_magnitude_bins = num_magnitude_bins

    def forward(self, *inputs):
        flat_inputs_with_spec, image_or_video = self._flatten_and_extract_image_or_video(inputs)
        height, width = F.get_size(image_or_video)
        transform_id, (magnitudes_fn, signed) = self._get_random_item(self._AUGMENTATION_SPACE)
        magnitudes = magnitudes_fn(self.num_magnitude_bins, height, width)
        if magnitudes is not None:
            magnitude = float(magnitudes[_randint0(self.num_magnitude_bins)])
            if signed and _rand0() <= np.float32(0.5):
                magnitude *= -1
        else:
            magnitude = 0.0
        image_or_video = self._apply_image_or_video_transform(image_or_video, transform_id, magnitude,
                                                              interpolation=self.interpolation, fill=self._fill)
        return self._unflatten_and_insert_image_or_video(flat_inputs_with_spec, image_or_video)


class AugMix(_AutoAugmentBase):
    """Mix the sample's image with mixture_width chains of random ops, Dirichlet-weighted (AugMix)."""

    _v1_transform_cls = _v1aa.AugMix
    _PARTIAL_AUGMENTATION_SPACE = {
        "ShearX": _SHEAR_3,
        "ShearY": _SHEAR_3,
        "TranslateX": (lambda n, h, w: _linspace(0.0, w / 3.0, n), True),
        "TranslateY": (lambda n, h, w: _linspace(0.0, h / 3.0, n), True),
        "Rotate": (lambda n, h, w: _linspace(0.0, 30.0, n), True),
        "Posterize": (lambda n, h, w: _posterize_bins(n, 4, 4), False),
        "Solarize": (lambda n, h, w: _linspace(1.0, 0.0, n), False),
        "AutoContrast": (_none, False),
        "Equalize": (_none, False),
    }
    _AUGMENTATION_SPACE = dict(_PARTIAL_AUGMENTATION_SPACE, **{k: _BASE_SPACE[k] for k in (
        "Brightness", "Color", "Contrast", "Sharpness")})

    def __init__(self, severity=3, mixture_width=3, chain_depth=-1, alpha=1.0, all_ops=True,
                 interpolation="bilinear", fill=None):
        super().__init__(interpolation=interpolation, fill=fill)
        self._PARAMETER_MAX = 10
        if not (1 <= severity <= self._PARAMETER_MAX):
            raise ValueError(f"The severity must be between [1, {self._PARAMETER_MAX}]. Got {severity} instead.")
        self.severity = severity
        self.mixture_width = mixture_width
        self.chain_depth = chain_depth
        self.alpha = alpha
        self.all_ops = all_ops

    def forward(self, *inputs):
        flat_inputs_with_spec, orig = self._flatten_and_extract_image_or_video(inputs)
        height, width = F.get_size(orig)
        image = orig if isinstance(orig, Tensor) else F.pil_to_tensor(orig)
        space = self._AUGMENTATION_SPACE if self.all_ops else self._PARTIAL_AUGMENTATION_SPACE
        a = _F1._arr(image)
        expected_ndim = 5 if isinstance(orig, Video) else 4
        batch = a.reshape((1,) * max(expected_ndim - a.ndim, 0) + a.shape)
        bshape = (batch.shape[0],) + (1,) * (batch.ndim - 1)
        m = _sample_dirichlet([self.alpha, self.alpha])
        combined_weights = _sample_dirichlet([self.alpha] * self.mixture_width) * m[:, 1].reshape(1, -1)
        mix = m[:, 0].reshape(bshape) * batch
        for i in range(self.mixture_width):
            aug = _wrap(batch)
            depth = self.chain_depth if self.chain_depth > 0 else int(_gen().integers(1, 4, (1,))[0])
            for _ in range(depth):
                transform_id, (magnitudes_fn, signed) = self._get_random_item(space)
                magnitudes = magnitudes_fn(self._PARAMETER_MAX, height, width)
                if magnitudes is not None:
                    magnitude = float(magnitudes[_randint0(self.severity)])
                    if signed and _rand0() <= np.float32(0.5):
                        magnitude *= -1
                else:
                    magnitude = 0.0
                aug = self._apply_image_or_video_transform(aug, transform_id, magnitude,
                                                           interpolation=self.interpolation, fill=self._fill)
            mix += combined_weights[:, i].reshape(bshape) * _F1._arr(aug)
        out = _wrap(mix.reshape(a.shape).astype(a.dtype))
        if isinstance(orig, (Image, Video)):
            out = tv_tensors.wrap(out, like=orig)
        elif _F1._is_pil_image(orig):
            out = _F1.to_pil_image(out)
        return self._unflatten_and_insert_image_or_video(flat_inputs_with_spec, out)
