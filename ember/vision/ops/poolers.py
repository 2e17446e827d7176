"""torchvision.ops.poolers: MultiScaleRoIAlign, RoI Align over a feature pyramid (FPN, arXiv:1612.03144).

Each box is pooled from the pyramid level its size selects (eq. 1 of the FPN paper):
``floor(canonical_level + log2(sqrt(area) / canonical_scale) + eps)``, clamped to the levels present.
The levels' scales are inferred once, from the feature maps' sizes relative to the largest image.
"""
import numpy as np

from ... import cat, clamp, floor, int64, log2, nn, sqrt, tensor, where, zeros
from .boxes import box_area
from .roi_align import _convert_boxes_to_roi_format, roi_align

__all__ = ["MultiScaleRoIAlign", "LevelMapper", "initLevelMapper"]


def initLevelMapper(k_min, k_max, canonical_scale=224, canonical_level=4, eps=1e-6):
    """A LevelMapper for pyramid levels k_min..k_max."""
    return LevelMapper(k_min, k_max, canonical_scale, canonical_level, eps)


class LevelMapper:
    """Maps each box to the FPN level its size selects (eq. 1 of the FPN paper), as an index from k_min."""

    def __init__(self, k_min, k_max, canonical_scale=224, canonical_level=4, eps=1e-6):
        self.k_min = k_min
        self.k_max = k_max
        self.s0 = canonical_scale
        self.lvl0 = canonical_level
        self.eps = eps

    def __call__(self, boxlists):
        """Level index (int64, 0 for k_min) of every box of every image, in order."""
        s = sqrt(cat([box_area(b) for b in boxlists]))
        target_lvls = floor(self.lvl0 + log2(s / self.s0) + tensor(self.eps, dtype=s.dtype))
        target_lvls = clamp(target_lvls, min=self.k_min, max=self.k_max)
        return target_lvls.to(int64) - self.k_min


def _infer_scale(feature, original_size):
    """The power of two nearest to the feature map's size over the image's (the first axis decides)."""
    possible_scales = []
    for s1, s2 in zip(feature.shape[-2:], original_size):
        approx_scale = float(s1) / float(s2)
        possible_scales.append(2 ** float(np.round(np.log2(np.float32(approx_scale)))))
    return possible_scales[0]


def _setup_scales(features, image_shapes, canonical_scale, canonical_level):
    if not image_shapes:
        raise ValueError("images list should not be empty")
    max_x = max([0] + [s[0] for s in image_shapes])
    max_y = max([0] + [s[1] for s in image_shapes])
    scales = [_infer_scale(feat, (max_x, max_y)) for feat in features]
    # each level halves the one before it: the first and last scales give the level range
    lvl_min = -float(np.log2(np.float32(scales[0])))
    lvl_max = -float(np.log2(np.float32(scales[-1])))
    return scales, initLevelMapper(int(lvl_min), int(lvl_max), canonical_scale=canonical_scale,
                                   canonical_level=canonical_level)


def _filter_input(x, featmap_names):
    return [v for k, v in x.items() if k in featmap_names]


def _multiscale_roi_align(x_filtered, boxes, output_size, sampling_ratio, scales, mapper):
    """RoI Align of every box on the level the mapper picks for it; returns Tensor[K, C, *output_size]."""
    if scales is None or mapper is None:
        raise ValueError("scales and mapper should not be None")
    rois = _convert_boxes_to_roi_format(boxes)
    if len(x_filtered) == 1:
        return roi_align(x_filtered[0], rois, output_size=output_size, spatial_scale=scales[0],
                         sampling_ratio=sampling_ratio)
    levels = mapper(boxes)
    first = x_filtered[0]
    result = zeros((len(rois), first.shape[1]) + tuple(output_size), dtype=first.dtype, device=first.device)
    for level, (per_level_feature, scale) in enumerate(zip(x_filtered, scales)):
        idx_in_level = where(levels == level)[0]
        rois_per_level = rois[idx_in_level]
        result_idx_in_level = roi_align(per_level_feature, rois_per_level, output_size=output_size,
                                        spatial_scale=scale, sampling_ratio=sampling_ratio)
        # levels may differ in dtype (autocast): match the result's before the in-place copy
        result[idx_in_level] = result_idx_in_level.to(result.dtype)
    return result


class MultiScaleRoIAlign(nn.Module):
    """RoI Align over a feature pyramid: each box pooled from the level its size selects (FPN eq. 1)."""

    def __init__(self, featmap_names, output_size, sampling_ratio, *, canonical_scale=224, canonical_level=4):
        super().__init__()
        if isinstance(output_size, int):
            output_size = (output_size, output_size)
        self.featmap_names = featmap_names
        self.sampling_ratio = sampling_ratio
        self.output_size = tuple(output_size)
        self.scales = None
        self.map_levels = None
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level

    def forward(self, x, boxes, image_shapes):
        """Pool boxes (a list of Tensor[L, 4] in image coordinates) from the named maps of x."""
        x_filtered = _filter_input(x, self.featmap_names)
        if self.scales is None or self.map_levels is None:
            self.scales, self.map_levels = _setup_scales(x_filtered, image_shapes, self.canonical_scale,
                                                         self.canonical_level)
        return _multiscale_roi_align(x_filtered, boxes, self.output_size, self.sampling_ratio, self.scales,
                                     self.map_levels)

    def __repr__(self):
        return (f"{self.__class__.__name__}(featmap_names={self.featmap_names}, "
                f"output_size={self.output_size}, sampling_ratio={self.sampling_ratio})")
