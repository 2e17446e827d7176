"""torchvision.models.regnet: RegNetX and RegNetY (400MF to 128GF) with torchvision's module names, so its
checkpoints load."""
import math
from collections import OrderedDict
from functools import partial

import numpy as np

from ... import nn
from ..ops.misc import Conv2dNormActivation, SqueezeExcitation
from ._api import Weights, WeightsEnum, _kwonly_to_pos_or_kw, _load_weights, _resolve
from ._utils import _make_divisible

__all__ = ["RegNet", "RegNet_Y_400MF_Weights", "RegNet_Y_800MF_Weights", "RegNet_Y_1_6GF_Weights",
           "RegNet_Y_3_2GF_Weights", "RegNet_Y_8GF_Weights", "RegNet_Y_16GF_Weights", "RegNet_Y_32GF_Weights",
           "RegNet_Y_128GF_Weights", "RegNet_X_400MF_Weights", "RegNet_X_800MF_Weights", "RegNet_X_1_6GF_Weights",
           "RegNet_X_3_2GF_Weights", "RegNet_X_8GF_Weights", "RegNet_X_16GF_Weights", "RegNet_X_32GF_Weights",
           "regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf", "regnet_y_3_2gf", "regnet_y_8gf", "regnet_y_16gf",
           "regnet_y_32gf", "regnet_y_128gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf",
           "regnet_x_8gf", "regnet_x_16gf", "regnet_x_32gf"]


class SimpleStemIN(Conv2dNormActivation):
    """The ImageNet stem: stride-2 3x3 conv, norm, activation."""

    def __init__(self, width_in, width_out, norm_layer, activation_layer):
        super().__init__(width_in, width_out, kernel_size=3, stride=2, norm_layer=norm_layer,
                         activation_layer=activation_layer)


class BottleneckTransform(nn.Sequential):
    """1x1 (a), grouped 3x3 carrying the stride (b), squeeze-excitation for RegNetY (se), linear 1x1 (c)."""

    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width, bottleneck_multiplier,
                 se_ratio):
        layers = OrderedDict()
        w_b = int(round(width_out * bottleneck_multiplier))
        g = w_b // group_width
        layers["a"] = Conv2dNormActivation(width_in, w_b, kernel_size=1, stride=1, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        layers["b"] = Conv2dNormActivation(w_b, w_b, kernel_size=3, stride=stride, groups=g, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        if se_ratio:
            # the squeeze width is a fraction of the block's input width, not of w_b
            layers["se"] = SqueezeExcitation(input_channels=w_b, squeeze_channels=int(round(se_ratio * width_in)),
                                             activation=activation_layer)
        layers["c"] = Conv2dNormActivation(w_b, width_out, kernel_size=1, stride=1, norm_layer=norm_layer,
                                           activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    """activation(x + f(x)), x projected by a strided 1x1 conv and norm when the shape changes."""

    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width=1,
                 bottleneck_multiplier=1.0, se_ratio=None):
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = Conv2dNormActivation(width_in, width_out, kernel_size=1, stride=stride, norm_layer=norm_layer,
                                             activation_layer=None)
        self.f = BottleneckTransform(width_in, width_out, stride, norm_layer, activation_layer, group_width,
                                     bottleneck_multiplier, se_ratio)
        self.activation = activation_layer(inplace=True)

    def forward(self, x):
        if self.proj is not None:
            x = self.proj(x) + self.f(x)
        else:
            x = x + self.f(x)
        return self.activation(x)


class AnyStage(nn.Sequential):
    """depth blocks of one width; the first carries the stride (children named block{stage}-{i})."""

    def __init__(self, width_in, width_out, stride, depth, block_constructor, norm_layer, activation_layer,
                 group_width, bottleneck_multiplier, se_ratio=None, stage_index=0):
        super().__init__()
        for i in range(depth):
            block = block_constructor(width_in if i == 0 else width_out, width_out, stride if i == 0 else 1,
                                      norm_layer, activation_layer, group_width, bottleneck_multiplier, se_ratio)
            self.add_module(f"block{stage_index}-{i}", block)


class BlockParams:
    """Per-stage depths, widths, group widths, bottleneck multipliers and strides of a RegNet."""

    def __init__(self, depths, widths, group_widths, bottleneck_multipliers, strides, se_ratio=None):
        self.depths = depths
        self.widths = widths
        self.group_widths = group_widths
        self.bottleneck_multipliers = bottleneck_multipliers
        self.strides = strides
        self.se_ratio = se_ratio

    @classmethod
    def from_init_params(cls, depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1.0, se_ratio=None,
                         **kwargs):
        """The stages of the RegNet design space point (depth, w_0, w_a, w_m): block j's width
        w_0 * w_m ** round(log((w_0 + j * w_a) / w_0) / log(w_m)), rounded to a multiple of 8; a stage is a run of
        equal widths, each halving the resolution."""
        QUANT, STRIDE = 8, 2
        if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
            raise ValueError("Invalid RegNet settings")
        # float32 throughout, as torchvision computes it: the rounding boundaries are then the same
        f32 = np.float32
        widths_cont = np.arange(depth).astype(f32) * f32(w_a) + f32(w_0)
        block_capacity = np.round(np.log(widths_cont / f32(w_0)) / f32(math.log(w_m)))
        block_widths = (np.round(f32(w_0) * np.power(f32(w_m), block_capacity) / f32(QUANT)) * QUANT)
        block_widths = block_widths.astype(np.int32).tolist()
        num_stages = len(set(block_widths))
        # a stage starts where the width changes
        starts = [j for j in range(len(block_widths) + 1)
                  if j == 0 or j == len(block_widths) or block_widths[j] != block_widths[j - 1]]
        stage_widths = [block_widths[j] for j in starts[:-1]]
        stage_depths = np.diff(starts).tolist()
        strides = [STRIDE] * num_stages
        bottleneck_multipliers = [bottleneck_multiplier] * num_stages
        group_widths = [group_width] * num_stages
        stage_widths, group_widths = cls._adjust_widths_groups_compatibilty(stage_widths, bottleneck_multipliers,
                                                                             group_widths)
        return cls(depths=stage_depths, widths=stage_widths, group_widths=group_widths,
                   bottleneck_multipliers=bottleneck_multipliers, strides=strides, se_ratio=se_ratio)

    def _get_expanded_params(self):
        return zip(self.widths, self.strides, self.depths, self.group_widths, self.bottleneck_multipliers)

    @staticmethod
    def _adjust_widths_groups_compatibilty(stage_widths, bottleneck_ratios, group_widths):
        """Stage widths whose bottleneck width is a multiple of the group width (capped at the bottleneck width)."""
        widths = [int(w * b) for w, b in zip(stage_widths, bottleneck_ratios)]
        group_widths_min = [min(g, w_bot) for g, w_bot in zip(group_widths, widths)]
        ws_bot = [_make_divisible(w_bot, g) for w_bot, g in zip(widths, group_widths_min)]
        stage_widths = [int(w_bot / b) for w_bot, b in zip(ws_bot, bottleneck_ratios)]
        return stage_widths, group_widths_min


class RegNet(nn.Module):
    """RegNet (arXiv:2003.13678): stem, one AnyStage per BlockParams stage, global average pool, fc."""

    def __init__(self, block_params, num_classes=1000, stem_width=32, stem_type=None, block_type=None,
                 norm_layer=None, activation=None):
        super().__init__()
        stem_type = SimpleStemIN if stem_type is None else stem_type
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        block_type = ResBottleneckBlock if block_type is None else block_type
        activation = nn.ReLU if activation is None else activation
        self.stem = stem_type(3, stem_width, norm_layer, activation)
        current_width = stem_width
        blocks = []
        for i, (width_out, stride, depth, group_width, bottleneck_multiplier) in enumerate(
                block_params._get_expanded_params()):
            blocks.append((f"block{i + 1}", AnyStage(current_width, width_out, stride, depth, block_type, norm_layer,
                                                     activation, group_width, bottleneck_multiplier,
                                                     block_params.se_ratio, stage_index=i + 1)))
            current_width = width_out
        self.trunk_output = nn.Sequential(OrderedDict(blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_features=current_width, out_features=num_classes)
        for m in self.modules():  # ResNet-style (convs have no bias: norm follows)
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.avgpool(self.trunk_output(self.stem(x)))
        return self.fc(x.flatten(start_dim=1))


_URL = "https://download.pytorch.org/models/"
_META = {"min_size": (1, 1)}
_V2 = dict(_META, resize_size=232)  # torchvision's retrained weights: resize to 232 before the 224 crop
_SWAG_E2E = dict(_META, crop_size=384, resize_size=384, interpolation="bicubic")
_SWAG_LINEAR = dict(_META, crop_size=224, resize_size=224, interpolation="bicubic")


def _v1_v2(name, v1, v2, num_params):
    return Weights(_URL + f"{name}-{v1}.pth", num_params, _META), Weights(_URL + f"{name}-{v2}.pth", num_params, _V2)


class RegNet_Y_400MF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_400mf", "c65dace8", "e6988f5f", 4344144)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_800MF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_800mf", "1b27b58c", "58fc7688", 6432512)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_1_6GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_1_6gf", "b11a554e", "0d7bc02a", 11202430)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_3_2GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_3_2gf", "b5a9779c", "9180c971", 19436338)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_8GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_8gf", "d0d0e4a8", "dc2b1b54", 39381472)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_16GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_16gf", "9e6ed7dd", "3e4a00f9", 83590140)
    # SWAG: end-to-end fine-tuned at 384x384, or a linear head on the frozen trunk
    IMAGENET1K_SWAG_E2E_V1 = Weights(_URL + "regnet_y_16gf_swag-43afe44d.pth", 83590140, _SWAG_E2E)
    IMAGENET1K_SWAG_LINEAR_V1 = Weights(_URL + "regnet_y_16gf_lc_swag-f3ec0043.pth", 83590140, _SWAG_LINEAR)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_32GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_y_32gf", "4dee3f7a", "8db6d4b5", 145046770)
    IMAGENET1K_SWAG_E2E_V1 = Weights(_URL + "regnet_y_32gf_swag-04fdfa75.pth", 145046770, _SWAG_E2E)
    IMAGENET1K_SWAG_LINEAR_V1 = Weights(_URL + "regnet_y_32gf_lc_swag-e1583746.pth", 145046770, _SWAG_LINEAR)
    DEFAULT = IMAGENET1K_V2


class RegNet_Y_128GF_Weights(WeightsEnum):
    # only SWAG weights: legacy pretrained=True has none to choose
    IMAGENET1K_SWAG_E2E_V1 = Weights(_URL + "regnet_y_128gf_swag-c8ce3e52.pth", 644812894, _SWAG_E2E)
    IMAGENET1K_SWAG_LINEAR_V1 = Weights(_URL + "regnet_y_128gf_lc_swag-cbe8ce12.pth", 644812894, _SWAG_LINEAR)
    DEFAULT = IMAGENET1K_SWAG_E2E_V1


class RegNet_X_400MF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_400mf", "adf1edd5", "62229a5f", 5495976)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_800MF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_800mf", "ad17e45c", "94a99ebd", 7259656)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_1_6GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_1_6gf", "e3633e7f", "a12f2b72", 9190136)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_3_2GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_3_2gf", "f342aeae", "7071aa85", 15296552)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_8GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_8gf", "03ceed89", "2b70d774", 39572648)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_16GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_16gf", "2007eb11", "ba3796d7", 54278536)
    DEFAULT = IMAGENET1K_V2


class RegNet_X_32GF_Weights(WeightsEnum):
    IMAGENET1K_V1, IMAGENET1K_V2 = _v1_v2("regnet_x_32gf", "9d47f8d0", "6eb8fdc6", 107811560)
    DEFAULT = IMAGENET1K_V2


def _regnet(weights_enum, weights, progress, kwargs, builder=None, **design):
    weights = _resolve(weights_enum, weights, kwargs, builder=builder)
    # as torchvision, the builder's kwargs reach both BlockParams.from_init_params and RegNet
    params = BlockParams.from_init_params(**design, **kwargs)
    norm_layer = kwargs.pop("norm_layer", partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1))
    return _load_weights(RegNet(params, norm_layer=norm_layer, **kwargs), weights, progress)


@_kwonly_to_pos_or_kw
def regnet_y_400mf(*, weights=None, progress=True, **kwargs):
    """RegNetY-400MF from "Designing Network Design Spaces"."""
    return _regnet(RegNet_Y_400MF_Weights, weights, progress, kwargs, depth=16, w_0=48, w_a=27.89, w_m=2.09,
                   group_width=8, se_ratio=0.25)


@_kwonly_to_pos_or_kw
def regnet_y_800mf(*, weights=None, progress=True, **kwargs):
    """RegNetY-800MF."""
    return _regnet(RegNet_Y_800MF_Weights, weights, progress, kwargs, depth=14, w_0=56, w_a=38.84, w_m=2.4,
                   group_width=16, se_ratio=0.25)


@_kwonly_to_pos_or_kw
def regnet_y_1_6gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-1.6GF."""
    return _regnet(RegNet_Y_1_6GF_Weights, weights, progress, kwargs, depth=27, w_0=48, w_a=20.71, w_m=2.65,
                   group_width=24, se_ratio=0.25)


@_kwonly_to_pos_or_kw
def regnet_y_3_2gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-3.2GF."""
    return _regnet(RegNet_Y_3_2GF_Weights, weights, progress, kwargs, depth=21, w_0=80, w_a=42.63, w_m=2.66,
                   group_width=24, se_ratio=0.25)


@_kwonly_to_pos_or_kw
def regnet_y_8gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-8GF."""
    return _regnet(RegNet_Y_8GF_Weights, weights, progress, kwargs, depth=17, w_0=192, w_a=76.82, w_m=2.19,
                   group_width=56, se_ratio=0.25)


@_kwonly_to_pos_or_kw
def regnet_y_16gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-16GF."""
    return _regnet(RegNet_Y_16GF_Weights, weights, progress, kwargs, depth=18, w_0=200, w_a=106.23, w_m=2.48,
                   group_width=112, se_ratio=0.25)


@_kwonly_to_pos_or_kw
def regnet_y_32gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-32GF."""
    return _regnet(RegNet_Y_32GF_Weights, weights, progress, kwargs, depth=20, w_0=232, w_a=115.89, w_m=2.53,
                   group_width=232, se_ratio=0.25)


@_kwonly_to_pos_or_kw
def regnet_y_128gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-128GF (SWAG weights only)."""
    return _regnet(RegNet_Y_128GF_Weights, weights, progress, kwargs, builder="regnet_y_128gf", depth=27, w_0=456,
                   w_a=160.83, w_m=2.52, group_width=264, se_ratio=0.25)


@_kwonly_to_pos_or_kw
def regnet_x_400mf(*, weights=None, progress=True, **kwargs):
    """RegNetX-400MF from "Designing Network Design Spaces" (no squeeze-excitation)."""
    return _regnet(RegNet_X_400MF_Weights, weights, progress, kwargs, depth=22, w_0=24, w_a=24.48, w_m=2.54,
                   group_width=16)


@_kwonly_to_pos_or_kw
def regnet_x_800mf(*, weights=None, progress=True, **kwargs):
    """RegNetX-800MF."""
    return _regnet(RegNet_X_800MF_Weights, weights, progress, kwargs, depth=16, w_0=56, w_a=35.73, w_m=2.28,
                   group_width=16)


@_kwonly_to_pos_or_kw
def regnet_x_1_6gf(*, weights=None, progress=True, **kwargs):
    """RegNetX-1.6GF."""
    return _regnet(RegNet_X_1_6GF_Weights, weights, progress, kwargs, depth=18, w_0=80, w_a=34.01, w_m=2.25,
                   group_width=24)


@_kwonly_to_pos_or_kw
def regnet_x_3_2gf(*, weights=None, progress=True, **kwargs):
    """RegNetX-3.2GF."""
    return _regnet(RegNet_X_3_2GF_Weights, weights, progress, kwargs, depth=25, w_0=88, w_a=26.31, w_m=2.25,
                   group_width=48)


@_kwonly_to_pos_or_kw
def regnet_x_8gf(*, weights=None, progress=True, **kwargs):
    """RegNetX-8GF."""
    return _regnet(RegNet_X_8GF_Weights, weights, progress, kwargs, depth=23, w_0=80, w_a=49.56, w_m=2.88,
                   group_width=120)


@_kwonly_to_pos_or_kw
def regnet_x_16gf(*, weights=None, progress=True, **kwargs):
    """RegNetX-16GF."""
    return _regnet(RegNet_X_16GF_Weights, weights, progress, kwargs, depth=22, w_0=216, w_a=55.59, w_m=2.1,
                   group_width=128)


@_kwonly_to_pos_or_kw
def regnet_x_32gf(*, weights=None, progress=True, **kwargs):
    """RegNetX-32GF."""
    return _regnet(RegNet_X_32GF_Weights, weights, progress, kwargs, depth=23, w_0=320, w_a=69.86, w_m=2.0,
                   group_width=168)
