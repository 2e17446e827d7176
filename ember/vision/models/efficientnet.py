"""torchvision.models.efficientnet: EfficientNet B0-B7 and EfficientNetV2 S/M/L with torchvision's module names."""
import copy
import math
from functools import partial

from ... import nn
from ... import flatten
from ..ops.misc import Conv2dNormActivation, SqueezeExcitation
from ..ops.stochastic_depth import StochasticDepth
from ._api import Weights, WeightsEnum, _kwonly_to_pos_or_kw, _load_weights, _resolve
from ._utils import _make_divisible

__all__ = ["EfficientNet", "EfficientNet_B0_Weights", "EfficientNet_B1_Weights", "EfficientNet_B2_Weights",
           "EfficientNet_B3_Weights", "EfficientNet_B4_Weights", "EfficientNet_B5_Weights", "EfficientNet_B6_Weights",
           "EfficientNet_B7_Weights", "EfficientNet_V2_S_Weights", "EfficientNet_V2_M_Weights",
           "EfficientNet_V2_L_Weights", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
           "efficientnet_b4", "efficientnet_b5", "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_s",
           "efficientnet_v2_m", "efficientnet_v2_l"]


class _MBConvConfig:
    """One stage of an EfficientNet table: block kind, expansion, kernel, stride, widths, repeats."""

    _fields = ("expand_ratio", "kernel", "stride", "input_channels", "out_channels", "num_layers", "block")

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers, block):
        self.expand_ratio = expand_ratio
        self.kernel = kernel
        self.stride = stride
        self.input_channels = input_channels
        self.out_channels = out_channels
        self.num_layers = num_layers
        self.block = block

    @staticmethod
    def adjust_channels(channels, width_mult, min_value=None):
        """channels * width_mult, rounded to a multiple of 8."""
        return _make_divisible(channels * width_mult, 8, min_value)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)!r}' for k in self._fields)})"


class MBConvConfig(_MBConvConfig):
    """An MBConv stage of the EfficientNet (V1) table: channels scaled by width_mult, repeats by depth_mult."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers, width_mult=1.0,
                 depth_mult=1.0, block=None):
        super().__init__(expand_ratio, kernel, stride, self.adjust_channels(input_channels, width_mult),
                         self.adjust_channels(out_channels, width_mult), self.adjust_depth(num_layers, depth_mult),
                         MBConv if block is None else block)

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


class FusedMBConvConfig(_MBConvConfig):
    """A FusedMBConv stage of an EfficientNetV2 table (widths and repeats as given)."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers, block=None):
        super().__init__(expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                         FusedMBConv if block is None else block)


class FusedMBConv(nn.Module):
    """EfficientNetV2's early block: one full kxk conv (expanding, SiLU) then a 1x1 projection, or a single kxk
    conv when nothing expands; shortcut with stochastic depth."""

    def __init__(self, cnf, stochastic_depth_prob, norm_layer):
        super().__init__()
        if not (1 <= cnf.stride <= 2):
            raise ValueError("illegal stride value")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded_channels = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        if expanded_channels != cnf.input_channels:
            layers = [Conv2dNormActivation(cnf.input_channels, expanded_channels, kernel_size=cnf.kernel,
                                           stride=cnf.stride, norm_layer=norm_layer, activation_layer=nn.SiLU),
                      Conv2dNormActivation(expanded_channels, cnf.out_channels, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=None)]
        else:
            layers = [Conv2dNormActivation(cnf.input_channels, cnf.out_channels, kernel_size=cnf.kernel,
                                           stride=cnf.stride, norm_layer=norm_layer, activation_layer=nn.SiLU)]
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
        if not all(isinstance(s, _MBConvConfig) for s in inverted_residual_setting):
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


def _efficientnet_conf(arch, width_mult=1.0, depth_mult=1.0):
    """The stage table of arch and its last conv's width (None: four times the last stage's)."""
    if arch.startswith("efficientnet_b"):
        b = partial(MBConvConfig, width_mult=width_mult, depth_mult=depth_mult)
        # expand_ratio, kernel, stride, input_channels, out_channels, num_layers
        return [b(1, 3, 1, 32, 16, 1), b(6, 3, 2, 16, 24, 2), b(6, 5, 2, 24, 40, 2), b(6, 3, 2, 40, 80, 3),
                b(6, 5, 1, 80, 112, 3), b(6, 5, 2, 112, 192, 4), b(6, 3, 1, 192, 320, 1)], None
    f, m = FusedMBConvConfig, MBConvConfig
    if arch.startswith("efficientnet_v2_s"):
        return [f(1, 3, 1, 24, 24, 2), f(4, 3, 2, 24, 48, 4), f(4, 3, 2, 48, 64, 4), m(4, 3, 2, 64, 128, 6),
                m(6, 3, 1, 128, 160, 9), m(6, 3, 2, 160, 256, 15)], 1280
    if arch.startswith("efficientnet_v2_m"):
        return [f(1, 3, 1, 24, 24, 3), f(4, 3, 2, 24, 48, 5), f(4, 3, 2, 48, 80, 5), m(4, 3, 2, 80, 160, 7),
                m(6, 3, 1, 160, 176, 14), m(6, 3, 2, 176, 304, 18), m(6, 3, 1, 304, 512, 5)], 1280
    if arch.startswith("efficientnet_v2_l"):
        return [f(1, 3, 1, 32, 32, 4), f(4, 3, 2, 32, 64, 7), f(4, 3, 2, 64, 96, 7), m(4, 3, 2, 96, 192, 10),
                m(6, 3, 1, 192, 224, 19), m(6, 3, 2, 224, 384, 25), m(6, 3, 1, 384, 640, 7)], 1280
    raise ValueError(f"Unsupported model type {arch}")


_URL = "https://download.pytorch.org/models/"
_META = {"min_size": (1, 1)}
_META_V2 = {"min_size": (33, 33)}


def _bicubic(crop, resize):
    return dict(_META, crop_size=crop, resize_size=resize, interpolation="bicubic")


class EfficientNet_B0_Weights(WeightsEnum):
    # ported from rwightman's timm: bicubic resize
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_b0_rwightman-7f5810bc.pth", 5288548, _bicubic(224, 256))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B1_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_b1_rwightman-bac287d4.pth", 7794184, _bicubic(240, 256))
    IMAGENET1K_V2 = Weights(_URL + "efficientnet_b1-c27df63c.pth", 7794184,
                            dict(_META, crop_size=240, resize_size=255, interpolation="bilinear"))
    DEFAULT = IMAGENET1K_V2


class EfficientNet_B2_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_b2_rwightman-c35c1473.pth", 9109994, _bicubic(288, 288))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B3_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_b3_rwightman-b3899882.pth", 12233232, _bicubic(300, 320))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B4_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_b4_rwightman-23ab8bcd.pth", 19341616, _bicubic(380, 384))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B5_Weights(WeightsEnum):
    # ported from lukemelas' EfficientNet-PyTorch (TensorFlow's BatchNorm eps and momentum)
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_b5_lukemelas-1a07897c.pth", 30389784, _bicubic(456, 456))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B6_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_b6_lukemelas-24a108a5.pth", 43040704, _bicubic(528, 528))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_B7_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_b7_lukemelas-c5b4e57e.pth", 66347960, _bicubic(600, 600))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_v2_s-dd5fe13b.pth", 21458488,
                            dict(_META_V2, crop_size=384, resize_size=384, interpolation="bilinear"))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_M_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_v2_m-dc08266a.pth", 54139356,
                            dict(_META_V2, crop_size=480, resize_size=480, interpolation="bilinear"))
    DEFAULT = IMAGENET1K_V1


class EfficientNet_V2_L_Weights(WeightsEnum):
    # ported from Google's TF2 checkpoint: inputs scaled to [-1, 1]
    IMAGENET1K_V1 = Weights(_URL + "efficientnet_v2_l-59c71312.pth", 118515272,
                            dict(_META_V2, crop_size=480, resize_size=480, interpolation="bicubic",
                                 mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))
    DEFAULT = IMAGENET1K_V1


def _efficientnet(arch, width_mult, depth_mult, dropout, weights_enum, weights, progress, kwargs, norm_layer=None):
    weights = _resolve(weights_enum, weights, kwargs)
    setting, last_channel = _efficientnet_conf(arch, width_mult, depth_mult)
    if norm_layer is not None:  # the builder fixes it, as torchvision's (passing norm_layer too is a TypeError)
        kwargs = dict(kwargs)
        if "norm_layer" in kwargs:
            raise TypeError(f"{arch}() got multiple values for keyword argument 'norm_layer' (this builder fixes "
                            f"it; build EfficientNet(...) directly to choose another)")
        kwargs["norm_layer"] = norm_layer
    model = EfficientNet(setting, kwargs.pop("dropout", dropout), last_channel=last_channel, **kwargs)
    return _load_weights(model, weights, progress)


# TensorFlow's BatchNorm defaults, which the ported B5-B7 and the V2 checkpoints were trained with
_TF_BN = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
_V2_BN = partial(nn.BatchNorm2d, eps=1e-03)


@_kwonly_to_pos_or_kw
def efficientnet_b0(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B0 from "EfficientNet: Rethinking Model Scaling for CNNs"."""
    return _efficientnet("efficientnet_b0", 1.0, 1.0, 0.2, EfficientNet_B0_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def efficientnet_b1(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B1 (depth x1.1)."""
    return _efficientnet("efficientnet_b1", 1.0, 1.1, 0.2, EfficientNet_B1_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def efficientnet_b2(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B2 (width x1.1, depth x1.2)."""
    return _efficientnet("efficientnet_b2", 1.1, 1.2, 0.3, EfficientNet_B2_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def efficientnet_b3(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B3 (width x1.2, depth x1.4)."""
    return _efficientnet("efficientnet_b3", 1.2, 1.4, 0.3, EfficientNet_B3_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def efficientnet_b4(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B4 (width x1.4, depth x1.8)."""
    return _efficientnet("efficientnet_b4", 1.4, 1.8, 0.4, EfficientNet_B4_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def efficientnet_b5(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B5 (width x1.6, depth x2.2; BatchNorm eps 1e-3, momentum 0.01)."""
    return _efficientnet("efficientnet_b5", 1.6, 2.2, 0.4, EfficientNet_B5_Weights, weights, progress, kwargs,
                         norm_layer=_TF_BN)


@_kwonly_to_pos_or_kw
def efficientnet_b6(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B6 (width x1.8, depth x2.6; BatchNorm eps 1e-3, momentum 0.01)."""
    return _efficientnet("efficientnet_b6", 1.8, 2.6, 0.5, EfficientNet_B6_Weights, weights, progress, kwargs,
                         norm_layer=_TF_BN)


@_kwonly_to_pos_or_kw
def efficientnet_b7(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B7 (width x2.0, depth x3.1; BatchNorm eps 1e-3, momentum 0.01)."""
    return _efficientnet("efficientnet_b7", 2.0, 3.1, 0.5, EfficientNet_B7_Weights, weights, progress, kwargs,
                         norm_layer=_TF_BN)


@_kwonly_to_pos_or_kw
def efficientnet_v2_s(*, weights=None, progress=True, **kwargs):
    """EfficientNetV2-S from "EfficientNetV2: Smaller Models and Faster Training"."""
    return _efficientnet("efficientnet_v2_s", 1.0, 1.0, 0.2, EfficientNet_V2_S_Weights, weights, progress, kwargs,
                         norm_layer=_V2_BN)


@_kwonly_to_pos_or_kw
def efficientnet_v2_m(*, weights=None, progress=True, **kwargs):
    """EfficientNetV2-M."""
    return _efficientnet("efficientnet_v2_m", 1.0, 1.0, 0.3, EfficientNet_V2_M_Weights, weights, progress, kwargs,
                         norm_layer=_V2_BN)


@_kwonly_to_pos_or_kw
def efficientnet_v2_l(*, weights=None, progress=True, **kwargs):
    """EfficientNetV2-L."""
    return _efficientnet("efficientnet_v2_l", 1.0, 1.0, 0.4, EfficientNet_V2_L_Weights, weights, progress, kwargs,
                         norm_layer=_V2_BN)
