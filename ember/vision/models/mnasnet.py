"""torchvision.models.mnasnet: MNASNet (the B1 variant) at depth multipliers 0.5, 0.75, 1.0 and 1.3, with
torchvision's module names, so its checkpoints (either version of the stem) load."""
from ... import nn
from ..._userwarn import warn as _warn_user
from ._api import Weights, WeightsEnum, _kwonly_to_pos_or_kw, _load_weights, _resolve

__all__ = ["MNASNet", "MNASNet0_5_Weights", "MNASNet0_75_Weights", "MNASNet1_0_Weights", "MNASNet1_3_Weights",
           "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3"]

# the paper's TensorFlow momentum 0.9997 in PyTorch's convention (1 - TF's)
_BN_MOMENTUM = 1 - 0.9997


class _InvertedResidual(nn.Module):
    """1x1 expand, kxk depthwise (stride here), 1x1 linear project; a shortcut when shapes allow."""

    def __init__(self, in_ch, out_ch, kernel_size, stride, expansion_factor, bn_momentum=0.1):
        super().__init__()
        if stride not in [1, 2]:
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        if kernel_size not in [3, 5]:
            raise ValueError(f"kernel_size should be 3 or 5 instead of {kernel_size}")
        mid_ch = in_ch * expansion_factor
        self.apply_residual = in_ch == out_ch and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(in_ch, mid_ch, 1, bias=False),
            nn.BatchNorm2d(mid_ch, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, mid_ch, kernel_size, padding=kernel_size // 2, stride=stride, groups=mid_ch, bias=False),
            nn.BatchNorm2d(mid_ch, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid_ch, out_ch, 1, bias=False),  # no activation after the projection
            nn.BatchNorm2d(out_ch, momentum=bn_momentum),
        )

    def forward(self, input):
        if self.apply_residual:
            return self.layers(input) + input
        return self.layers(input)


def _stack(in_ch, out_ch, kernel_size, stride, exp_factor, repeats, bn_momentum):
    """repeats inverted residuals; only the first changes width or resolution (so it has no shortcut)."""
    if repeats < 1:
        raise ValueError(f"repeats should be >= 1, instead got {repeats}")
    blocks = [_InvertedResidual(in_ch, out_ch, kernel_size, stride, exp_factor, bn_momentum=bn_momentum)]
    blocks += [_InvertedResidual(out_ch, out_ch, kernel_size, 1, exp_factor, bn_momentum=bn_momentum)
               for _ in range(1, repeats)]
    return nn.Sequential(*blocks)


def _round_to_multiple_of(val, divisor, round_up_bias=0.9):
    """val rounded to a multiple of divisor, rounding up unless that lands at most 10% above the multiple below
    ((83, 8) -> 80, (84, 8) -> 88)."""
    if not 0.0 < round_up_bias < 1.0:
        raise ValueError(f"round_up_bias should be greater than 0.0 and smaller than 1.0 instead of {round_up_bias}")
    new_val = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return new_val if new_val >= round_up_bias * val else new_val + divisor


def _get_depths(alpha):
    """The eight stage widths scaled by alpha (the reference MobileNet rounding, which prefers rounding up)."""
    return [_round_to_multiple_of(depth * alpha, 8) for depth in (32, 16, 24, 40, 80, 96, 192, 320)]


def _stem(c0, c1, bn_momentum):
    # regular 3x3 conv, then a depthwise-separable conv without shortcut
    return [nn.Conv2d(3, c0, 3, padding=1, stride=2, bias=False), nn.BatchNorm2d(c0, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(c0, c0, 3, padding=1, stride=1, groups=c0, bias=False), nn.BatchNorm2d(c0, momentum=bn_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(c0, c1, 1, padding=0, stride=1, bias=False), nn.BatchNorm2d(c1, momentum=bn_momentum)]


class MNASNet(nn.Module):
    """MNASNet-B1 (arXiv:1807.11626): stem, six stacks of inverted residuals, 1x1 conv to 1280, global mean,
    dropout, linear."""

    # version 2 scales the stem's widths with alpha too (version 1 kept them at 32 and 16)
    _version = 2

    def __init__(self, alpha, num_classes=1000, dropout=0.2):
        super().__init__()
        if alpha <= 0.0:
            raise ValueError(f"alpha should be greater than 0.0 instead of {alpha}")
        self.alpha = alpha
        self.num_classes = num_classes
        d = _get_depths(alpha)
        layers = _stem(d[0], d[1], _BN_MOMENTUM) + [
            # in_ch, out_ch, kernel, stride, expansion, repeats
            _stack(d[1], d[2], 3, 2, 3, 3, _BN_MOMENTUM),
            _stack(d[2], d[3], 5, 2, 3, 3, _BN_MOMENTUM),
            _stack(d[3], d[4], 5, 2, 6, 3, _BN_MOMENTUM),
            _stack(d[4], d[5], 3, 1, 6, 2, _BN_MOMENTUM),
            _stack(d[5], d[6], 5, 2, 6, 4, _BN_MOMENTUM),
            _stack(d[6], d[7], 3, 1, 6, 1, _BN_MOMENTUM),
            nn.Conv2d(d[7], 1280, 1, padding=0, stride=1, bias=False),
            nn.BatchNorm2d(1280, momentum=_BN_MOMENTUM),
            nn.ReLU(inplace=True),
        ]
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(1280, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.kaiming_uniform_(m.weight, mode="fan_out", nonlinearity="sigmoid")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.layers(x).mean([2, 3])  # global average pool
        return self.classifier(x)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        version = local_metadata.get("version", None)
        if version not in [1, 2]:
            raise ValueError(f"version should be set to 1 or 2 instead of {version}")
        if version == 1 and not self.alpha == 1.0:
            # a version-1 checkpoint: give this model that version's fixed-width stem (alpha 1.0 is the same in both)
            d = _get_depths(self.alpha)
            for idx, layer in enumerate(_stem(32, 16, _BN_MOMENTUM) + [_stack(16, d[2], 3, 2, 3, 3, _BN_MOMENTUM)]):
                self.layers[idx] = layer
            self._version = 1  # and it saves as version 1 from now on
            _warn_user("A new version of MNASNet model has been implemented. Your checkpoint was saved using the "
                       "previous version. This checkpoint will load and work as before, but you may want to upgrade "
                       "by training a newer model or transfer learning from an updated ImageNet checkpoint.",
                       UserWarning)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


_URL = "https://download.pytorch.org/models/"
_META = {"min_size": (1, 1)}


class MNASNet0_5_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "mnasnet0.5_top1_67.823-3ffadce67e.pth", 2218512, _META)
    DEFAULT = IMAGENET1K_V1


class MNASNet0_75_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "mnasnet0_75-7090bc5f.pth", 3170208, dict(_META, resize_size=232))
    DEFAULT = IMAGENET1K_V1


class MNASNet1_0_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "mnasnet1.0_top1_73.512-f206786ef8.pth", 4383312, _META)
    DEFAULT = IMAGENET1K_V1


class MNASNet1_3_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "mnasnet1_3-a4c69d6f.pth", 6282256, dict(_META, resize_size=232))
    DEFAULT = IMAGENET1K_V1


def _mnasnet(alpha, weights_enum, weights, progress, kwargs):
    weights = _resolve(weights_enum, weights, kwargs)
    return _load_weights(MNASNet(alpha, **kwargs), weights, progress)


@_kwonly_to_pos_or_kw
def mnasnet0_5(*, weights=None, progress=True, **kwargs):
    """MNASNet with depth multiplier 0.5 from "MnasNet: Platform-Aware Neural Architecture Search for Mobile"."""
    return _mnasnet(0.5, MNASNet0_5_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def mnasnet0_75(*, weights=None, progress=True, **kwargs):
    """MNASNet with depth multiplier 0.75."""
    return _mnasnet(0.75, MNASNet0_75_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def mnasnet1_0(*, weights=None, progress=True, **kwargs):
    """MNASNet with depth multiplier 1.0."""
    return _mnasnet(1.0, MNASNet1_0_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def mnasnet1_3(*, weights=None, progress=True, **kwargs):
    """MNASNet with depth multiplier 1.3."""
    return _mnasnet(1.3, MNASNet1_3_Weights, weights, progress, kwargs)
