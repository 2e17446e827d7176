"""torchvision.transforms.v2: transforms that handle images, masks, boxes and labels of a sample jointly.

The classes live in ._transforms and the per-type kernels in .functional; both reuse the v1 image
code in ember/vision/transforms/functional.py, so a v2 transform on a plain image gives the same
pixels as its v1 counterpart.
"""
from . import functional  # noqa: F401
from .functional import InterpolationMode  # noqa: F401
from ..autoaugment import AutoAugmentPolicy  # noqa: F401
from ._auto_augment import AugMix, AutoAugment, RandAugment, TrivialAugmentWide  # noqa: F401
from ._transforms import (  # noqa: F401
    CenterCrop, ColorJitter, Compose, ConvertImageDtype, GaussianBlur, Grayscale, Identity, Lambda, Normalize,
    Pad, PILToTensor, RandomApply, RandomChoice, RandomCrop, RandomErasing, RandomGrayscale,
    RandomHorizontalFlip, RandomOrder, RandomResizedCrop, RandomRotation, RandomVerticalFlip, Resize, ToDtype,
    ToImage, ToPILImage, ToPureTensor, ToTensor, Transform, RandomAffine, RandomPerspective, FiveCrop, TenCrop,
    RandomInvert, RandomPosterize, RandomSolarize, RandomAutocontrast, RandomAdjustSharpness, RandomEqualize,
    RandomPhotometricDistort, RandomZoomOut, RandomIoUCrop, SanitizeBoundingBoxes, ClampBoundingBoxes,
    ConvertBoundingBoxFormat, RandomChannelPermutation, RGB, GaussianNoise, LinearTransformation, ElasticTransform,
    ScaleJitter, RandomShortestSize, RandomResize, SetClampingMode, UniformTemporalSubsample,
    check_type, get_bounding_boxes, has_all, has_any, query_chw, query_size,
)
from ._augment import CutMix, JPEG, MixUp  # noqa: F401

__all__ = [
    "Transform", "Compose", "RandomApply", "RandomChoice", "RandomOrder", "ToImage", "PILToTensor", "ToPILImage",
    "ToPureTensor", "ToTensor", "ToDtype", "ConvertImageDtype", "Identity", "Lambda", "Normalize", "GaussianBlur",
    "RandomHorizontalFlip", "RandomVerticalFlip", "Resize", "CenterCrop", "RandomResizedCrop", "Pad",
    "RandomCrop", "RandomRotation", "Grayscale", "RandomGrayscale", "ColorJitter", "RandomErasing",
    "InterpolationMode", "RandomAffine", "RandomPerspective", "FiveCrop", "TenCrop", "RandomInvert",
    "RandomPosterize", "RandomSolarize", "RandomAutocontrast", "RandomAdjustSharpness", "RandomEqualize",
    "AutoAugmentPolicy", "AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix",
    "RandomPhotometricDistort", "RandomZoomOut", "RandomIoUCrop", "SanitizeBoundingBoxes", "ClampBoundingBoxes",
    "ConvertBoundingBoxFormat", "CutMix", "MixUp", "JPEG", "RandomChannelPermutation", "RGB", "GaussianNoise",
    "LinearTransformation", "ElasticTransform", "ScaleJitter", "RandomShortestSize", "RandomResize",
    "SetClampingMode", "UniformTemporalSubsample", "check_type", "get_bounding_boxes", "has_all", "has_any",
    "query_chw", "query_size",
]
