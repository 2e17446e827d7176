"""torchvision.models.convnext: ConvNeXt Tiny, Small, Base and Large with torchvision's module names."""
from functools import partial

from ... import nn
from ... import ones
from ...nn import functional as F
from ..ops.misc import Conv2dNormActivation, Permute
from ..ops.stochastic_depth import StochasticDepth
from ._api import Weights, WeightsEnum, _kwonly_to_pos_or_kw, _load_weights, _resolve

__all__ = ["ConvNeXt", "ConvNeXt_Tiny_Weights", "ConvNeXt_Small_Weights", "ConvNeXt_Base_Weights",
           "ConvNeXt_Large_Weights", "convnext_tiny", "convnext_small", "convnext_base", "convnext_large"]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """7x7 depthwise conv, LayerNorm, 4x MLP with GELU (channels last), layer scale, stochastic depth, shortcut."""

    def __init__(self, dim, layer_scale, stochastic_depth_prob, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = partial(nn.LayerNorm, eps=1e-6)
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            norm_layer(dim),
            nn.Linear(in_features=dim, out_features=4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(in_features=4 * dim, out_features=dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input):
        result = self.stochastic_depth(self.layer_scale * self.block(input))
        result += input
        return result


class CNBlockConfig:
    """One stage: its width, the width its downsampling layer leads to (None for the last), its depth."""

    def __init__(self, input_channels, out_channels, num_layers):
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers

    def __repr__(self):
        return (f"{self.__class__.__name__}(input_channels={self.input_channels}, "
                f"out_channels={self.out_channels}, num_layers={self.num_layers})")


class ConvNeXt(nn.Module):
    """4x4 patchify stem, CNBlock stages with LayerNorm + 2x2 conv downsampling between, pool, LayerNorm, linear."""

    def __init__(self, block_setting, stochastic_depth_prob=0.0, layer_scale=1e-6, num_classes=1000, block=None,
                 norm_layer=None, **kwargs):
        super().__init__()
        if not block_setting:
            raise ValueError("The block_setting should not be empty")
        if not all(isinstance(s, CNBlockConfig) for s in block_setting):
            raise TypeError("The block_setting should be List[CNBlockConfig]")
        if block is None:
            block = CNBlock
        if norm_layer is None:
            norm_layer = partial(LayerNorm2d, eps=1e-6)
        layers = [Conv2dNormActivation(3, block_setting[0].input_channels, kernel_size=4, stride=4, padding=0,
                                       norm_layer=norm_layer, activation_layer=None, bias=True)]
        total_stage_blocks = sum(cnf.num_layers for cnf in block_setting)
        stage_block_id = 0
        for cnf in block_setting:
            stage = []
            for _ in range(cnf.num_layers):
                sd_prob = stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0)
                stage.append(block(cnf.input_channels, layer_scale, sd_prob))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
            if cnf.out_channels is not None:
                layers.append(nn.Sequential(norm_layer(cnf.input_channels),
                                            nn.Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = block_setting[-1]
        last_channels = last.out_channels if last.out_channels is not None else last.input_channels
        self.classifier = nn.Sequential(norm_layer(last_channels), nn.Flatten(1), nn.Linear(last_channels, num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _forward_impl(self, x):
        return self.classifier(self.avgpool(self.features(x)))

    def forward(self, x):
        return self._forward_impl(x)


_URL = "https://download.pytorch.org/models/"
_META = {"min_size": (32, 32)}


class ConvNeXt_Tiny_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "convnext_tiny-983f1562.pth", 28589128, dict(_META, resize_size=236))
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Small_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "convnext_small-0c510722.pth", 50223688, dict(_META, resize_size=230))
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Base_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "convnext_base-6075fbad.pth", 88591464, dict(_META, resize_size=232))
    DEFAULT = IMAGENET1K_V1


class ConvNeXt_Large_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "convnext_large-ea097f82.pth", 197767336, dict(_META, resize_size=232))
    DEFAULT = IMAGENET1K_V1


def _convnext(widths, depths, sd_prob, weights_enum, weights, progress, kwargs):
    # widths[i] is stage i's width, the next stage's the width its downsampling layer leads to
    weights = _resolve(weights_enum, weights, kwargs)
    block_setting = [CNBlockConfig(w, widths[i + 1] if i + 1 < len(widths) else None, d)
                     for i, (w, d) in enumerate(zip(widths, depths))]
    model = ConvNeXt(block_setting, stochastic_depth_prob=kwargs.pop("stochastic_depth_prob", sd_prob), **kwargs)
    return _load_weights(model, weights, progress)


@_kwonly_to_pos_or_kw
def convnext_tiny(*, weights=None, progress=True, **kwargs):
    """ConvNeXt Tiny from "A ConvNet for the 2020s"."""
    return _convnext([96, 192, 384, 768], [3, 3, 9, 3], 0.1, ConvNeXt_Tiny_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def convnext_small(*, weights=None, progress=True, **kwargs):
    """ConvNeXt Small (Tiny's widths, 27 blocks in the third stage)."""
    return _convnext([96, 192, 384, 768], [3, 3, 27, 3], 0.4, ConvNeXt_Small_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def convnext_base(*, weights=None, progress=True, **kwargs):
    """ConvNeXt Base (widths 128 to 1024)."""
    return _convnext([128, 256, 512, 1024], [3, 3, 27, 3], 0.5, ConvNeXt_Base_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def convnext_large(*, weights=None, progress=True, **kwargs):
    """ConvNeXt Large (widths 192 to 1536)."""
    return _convnext([192, 384, 768, 1536], [3, 3, 27, 3], 0.5, ConvNeXt_Large_Weights, weights, progress, kwargs)
