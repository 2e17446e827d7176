"""torchvision.models.efficientnet: EfficientNet-B0 and B1 with torchvision's module names."""
import copy
import math
from functools import partial

from ... import nn
from ... import flatten
from ..ops.misc import Conv2dNormActivation, SqueezeExcitation
from ..ops.stochastic_depth import StochasticDepth
from ._api import Weights, WeightsEnum, _kwonly_to_pos_or_kw, _load_weights, _resolve
from ._utils import _make_divisible

__all__ = ["EfficientNet", "EfficientNet_B0_Weights", "EfficientNet_B1_Weights", "efficientnet_b0", "efficientnet_b1"]


class MBConvConfig:
    """One stage of the EfficientNet table: channels scaled by width_mult, repeats by depth_mult."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers, width_mult=1.0,
                 depth_mult=1.0, block=None):
        self.expand_ratio = expand_ratio
        self.kernel = kernel
        self.stride = stride
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.num_layers = self.adjust_depth(num_layers, depth_mult)
        self.block = MBConv if block is None else block

    @staticmethod
    def adjust_channels(channels, width_mult, min_value=None):
        """channels * width_mult, rounded to a multiple of 8."""
        return _make_divisible(channels * width_mult, 8, min_value)

    @staticmethod
    def adjust_depth(num_layers, depth_mult):
        """num_layers * depth_mult, rounded up."""
        return int(math.ceil(num_layers * depth_mult))


class MBConv(nn.Module):
    """Expand (SiLU), depthwise conv, squeeze-excitation, linear project; shortcut with stochastic depth."""

    def __init__(self, cnf, stochastic_depth_prob, norm_layer, se_layer=SqueezeExcitation):
        super().__init__()
        if not (1 <= cnf.stride <= 2):
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        layers = []
        activation_layer = nn.SiLU
        expanded_channels = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        if expanded_channels != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded_channels, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=activation_layer))
        layers.append(Conv2dNormActivation(expanded_channels, expanded_channels, kernel_size=cnf.kernel,
                                           stride=cnf.stride, groups=expanded_channels, norm_layer=norm_layer,
                                           activation_layer=activation_layer))
        squeeze_channels = max(1, cnf.input_channels // 4)
        layers.append(se_layer(expanded_channels, squeeze_channels, activation=partial(nn.SiLU, inplace=True)))
        layers.append(Conv2dNormActivation(expanded_channels, cnf.out_channels, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result)
            result += input
        return result


class EfficientNet(nn.Module):
    """SiLU stem, MBConv stages (stochastic depth growing linearly with depth), 1x1 conv, pool, dropout, linear."""

    def __init__(self, inverted_residual_setting, dropout, stochastic_depth_prob=0.2, num_classes=1000,
                 norm_layer=None, last_channel=None):
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("The inverted_residual_setting should not be empty")
        if not all(isinstance(s, MBConvConfig) for s in inverted_residual_setting):
            raise TypeError("The inverted_residual_setting should be List[MBConvConfig]")
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        first = inverted_residual_setting[0].input_channels
        layers = [Conv2dNormActivation(3, first, kernel_size=3, stride=2, norm_layer=norm_layer,
                                       activation_layer=nn.SiLU)]
        total_stage_blocks = sum(cnf.num_layers for cnf in inverted_residual_setting)
        stage_block_id = 0
        for cnf in inverted_residual_setting:
            stage = []
            for _ in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)
                if stage:  # only a stage's first block changes channels or stride
                    block_cnf.input_channels = block_cnf.out_channels
                    block_cnf.stride = 1
                sd_prob = stochastic_depth_prob * float(stage_block_id) / total_stage_blocks
                stage.append(block_cnf.block(block_cnf, sd_prob, norm_layer))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
        last_in = inverted_residual_setting[-1].out_channels
        last_out = last_channel if last_channel is not None else 4 * last_in
        layers.append(Conv2dNormActivation(last_in, last_out, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(last_out, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                init_range = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -init_range, init_range)
                nn.init.zeros_(m.bias)

    def _forward_impl(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(flatten(x, 1))

    def forward(self, x):
        return self._forward_impl(x)


def _efficientnet_conf(arch, width_mult, depth_mult):
    b = partial(MBConvConfig, width_mult=width_mult, depth_mult=depth_mult)
    # expand_ratio, kernel, stride, input_channels, out_channels, num_layers
    return [b(1, 3, 1, 32, 16, 1), b(6, 3, 2, 16, 24, 2), b(6, 5, 2, 24, 40, 2), b(6, 3, 2, 40, 80, 3),
            b(6, 5, 1, 80, 112, 3), b(6, 5, 2, 112, 192, 4), b(6, 3, 1, 192, 320, 1)], None


_URL = "https://download.pytorch.org/models/"
_META = {"min_size": (1, 1)}


class EfficientNet_B0_Weights(WeightsEnum):
    # ported from rwightman's timm: bicubic resize
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_b0_rwightman-7f5810bc.pth", 5288548,
                            dict(_META, crop_size=224, resize_size=256, interpolation="bicubic"))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B1_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_b1_rwightman-bac287d4.pth", 7794184,
                            dict(_META, crop_size=240, resize_size=256, interpolation="bicubic"))
    IMAGENET1K_V2 = Weights(_URL + "efficientnet_b1-c27df63c.pth", 7794184,
                            dict(_META, crop_size=240, resize_size=255, interpolation="bilinear"))
    DEFAULT = IMAGENET1K_V2


def _efficientnet(arch, width_mult, depth_mult, weights_enum, weights, progress, kwargs):
    weights = _resolve(weights_enum, weights, kwargs)
    setting, last_channel = _efficientnet_conf(arch, width_mult, depth_mult)
    model = EfficientNet(setting, kwargs.pop("dropout", 0.2), last_channel=last_channel, **kwargs)
    return _load_weights(model, weights, progress)


@_kwonly_to_pos_or_kw
def efficientnet_b0(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B0 from "EfficientNet: Rethinking Model Scaling for CNNs"."""
    return _efficientnet("efficientnet_b0", 1.0, 1.0, EfficientNet_B0_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def efficientnet_b1(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B1 (depth x1.1)."""
    return _efficientnet("efficientnet_b1", 1.0, 1.1, EfficientNet_B1_Weights, weights, progress, kwargs)
