"""torchvision.models.vgg: VGG-11/13/16/19 (plain and _bn) with torchvision's module names, so its checkpoints load."""
from ... import nn
from ... import flatten
from ._api import Weights, WeightsEnum, _kwonly_to_pos_or_kw, _load_weights, _resolve

__all__ = ["VGG", "VGG11_Weights", "VGG11_BN_Weights", "VGG13_Weights", "VGG13_BN_Weights", "VGG16_Weights",
           "VGG16_BN_Weights", "VGG19_Weights", "VGG19_BN_Weights", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
           "vgg16_bn", "vgg19", "vgg19_bn", "make_layers", "cfgs"]


class VGG(nn.Module):
    """features (conv stacks), a 7x7 adaptive average pool, and a 3-layer classifier with dropout."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = flatten(x, 1)
        return self.classifier(x)


def make_layers(cfg, batch_norm=False):
    """The conv stack of a configuration: ints are 3x3 conv widths, "M" a 2x2 max pool."""
    layers = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            conv2d = nn.Conv2d(in_channels, int(v), kernel_size=3, padding=1)
            if batch_norm:
                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            else:
                layers += [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}

_URL = "https://download.pytorch.org/models/"


class VGG11_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vgg11-8a719046.pth", 132863336, {"min_size": (32, 32)})
    DEFAULT = IMAGENET1K_V1


class VGG11_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vgg11_bn-6002323d.pth", 132868840, {"min_size": (32, 32)})
    DEFAULT = IMAGENET1K_V1


class VGG13_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vgg13-19584684.pth", 133047848, {"min_size": (32, 32)})
    DEFAULT = IMAGENET1K_V1


class VGG13_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vgg13_bn-abd245e5.pth", 133053736, {"min_size": (32, 32)})
    DEFAULT = IMAGENET1K_V1


class VGG16_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vgg16-397923af.pth", 138357544, {"min_size": (32, 32)})
    # ported from amdegroot/ssd.pytorch: no classifier head (categories None), its own normalization
    IMAGENET1K_FEATURES = Weights(_URL + "vgg16_features-amdegroot-88682ab5.pth", 138357544,
                                  {"min_size": (32, 32), "categories": None, "mean": (0.48235, 0.45882, 0.40784),
                                   "std": (1.0 / 255.0, 1.0 / 255.0, 1.0 / 255.0)})
    DEFAULT = IMAGENET1K_V1


class VGG16_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vgg16_bn-6c64b313.pth", 138365992, {"min_size": (32, 32)})
    DEFAULT = IMAGENET1K_V1


class VGG19_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vgg19-dcbb9e9d.pth", 143667240, {"min_size": (32, 32)})
    DEFAULT = IMAGENET1K_V1


class VGG19_BN_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vgg19_bn-c79401a0.pth", 143678248, {"min_size": (32, 32)})
    DEFAULT = IMAGENET1K_V1


def _vgg(cfg, batch_norm, weights_enum, weights, progress, kwargs):
    weights = _resolve(weights_enum, weights, kwargs)
    if weights is not None:
        kwargs["init_weights"] = False  # the checkpoint overwrites every parameter
    return _load_weights(VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs), weights, progress)


@_kwonly_to_pos_or_kw
def vgg11(*, weights=None, progress=True, **kwargs):
    """VGG 11-layer model (configuration "A")."""
    return _vgg("A", False, VGG11_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def vgg16(*, weights=None, progress=True, **kwargs):
    """VGG 16-layer model (configuration "D")."""
    return _vgg("D", False, VGG16_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def vgg11_bn(*, weights=None, progress=True, **kwargs):
    """VGG 11-layer model with batch normalization."""
    return _vgg("A", True, VGG11_BN_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def vgg13(*, weights=None, progress=True, **kwargs):
    """VGG 13-layer model (configuration "B")."""
    return _vgg("B", False, VGG13_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def vgg13_bn(*, weights=None, progress=True, **kwargs):
    """VGG 13-layer model with batch normalization."""
    return _vgg("B", True, VGG13_BN_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def vgg16_bn(*, weights=None, progress=True, **kwargs):
    """VGG 16-layer model with batch normalization."""
    return _vgg("D", True, VGG16_BN_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def vgg19(*, weights=None, progress=True, **kwargs):
    """VGG 19-layer model (configuration "E")."""
    return _vgg("E", False, VGG19_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def vgg19_bn(*, weights=None, progress=True, **kwargs):
    """VGG 19-layer model with batch normalization."""
    return _vgg("E", True, VGG19_BN_Weights, weights, progress, kwargs)
