"""torchvision.models.densenet: DenseNet-121/161/169/201 with torchvision's module names."""
import re
from collections import OrderedDict

from ... import nn
from ... import cat, flatten
from ...nn import functional as F
from ._api import Weights, WeightsEnum, _kwonly_to_pos_or_kw, _load_weights, _resolve

__all__ = ["DenseNet", "DenseNet121_Weights", "DenseNet161_Weights", "DenseNet169_Weights", "DenseNet201_Weights",
           "densenet121", "densenet161", "densenet169", "densenet201"]

# torchvision's published DenseNet checkpoints predate the ban on '.' in module names: their keys read
# "denselayer1.norm.1.weight" where the module is "norm1" (torchvision renames them in its download path)
_LEGACY_KEY = re.compile(r"^(norm|relu|conv)\.([12])\.(weight|bias|running_mean|running_var|num_batches_tracked)$")


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (bottleneck) then BN-ReLU-3x3 conv over the concatenation of all earlier features."""

    def __init__(self, num_input_features, growth_rate, bn_size, drop_rate, memory_efficient=False):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient  # a flag only: ember's checkpointing saves no memory

    def bn_function(self, inputs):
        """The bottleneck output of the concatenated inputs."""
        return self.conv1(self.relu1(self.norm1(cat(inputs, 1))))

    def forward(self, input):
        prev_features = list(input) if isinstance(input, (list, tuple)) else [input]
        new_features = self.conv2(self.relu2(self.norm2(self.bn_function(prev_features))))
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
        return new_features

    def _load_from_state_dict(self, state_dict, prefix, *args):
        for key in [k for k in state_dict if k.startswith(prefix)]:
            old = _LEGACY_KEY.match(key[len(prefix):])
            if old:
                state_dict[f"{prefix}{old.group(1)}{old.group(2)}.{old.group(3)}"] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args)


class _DenseBlock(nn.ModuleDict):
    """num_layers dense layers, each fed every earlier output; returns them all concatenated."""

    _version = 2

    def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate, memory_efficient=False):
        super().__init__()
        for i in range(num_layers):
            layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate=growth_rate, bn_size=bn_size,
                                drop_rate=drop_rate, memory_efficient=memory_efficient)
            self.add_module("denselayer%d" % (i + 1), layer)

    def forward(self, init_features):
        features = [init_features]
        for name, layer in self.items():
            features.append(layer(features))
        return cat(features, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-1x1 conv halving the channels, then 2x2 average pooling."""

    def __init__(self, num_input_features, num_output_features):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


class DenseNet(nn.Module):
    """Densenet-BC ("Densely Connected Convolutional Networks"): stem, dense blocks and transitions, BN, linear."""

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4, drop_rate=0,
                 num_classes=1000, memory_efficient=False):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers=num_layers, num_input_features=num_features, bn_size=bn_size,
                                growth_rate=growth_rate, drop_rate=drop_rate, memory_efficient=memory_efficient)
            self.features.add_module("denseblock%d" % (i + 1), block)
            num_features = num_features + num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module("transition%d" % (i + 1), _Transition(num_features, num_features // 2))
                num_features = num_features // 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        out = F.relu(self.features(x), inplace=True)
        out = flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1)
        return self.classifier(out)


_URL = "https://download.pytorch.org/models/"
_META = {"min_size": (29, 29)}


class DenseNet121_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "densenet121-a639ec97.pth", 7978856, _META)
    DEFAULT = IMAGENET1K_V1


class DenseNet161_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "densenet161-8d451a50.pth", 28681000, _META)
    DEFAULT = IMAGENET1K_V1


class DenseNet169_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "densenet169-b2777c0a.pth", 14149480, _META)
    DEFAULT = IMAGENET1K_V1


class DenseNet201_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "densenet201-c1103571.pth", 20013928, _META)
    DEFAULT = IMAGENET1K_V1


def _densenet(growth_rate, block_config, num_init_features, weights_enum, weights, progress, kwargs):
    weights = _resolve(weights_enum, weights, kwargs)
    return _load_weights(DenseNet(growth_rate, block_config, num_init_features, **kwargs), weights, progress)


@_kwonly_to_pos_or_kw
def densenet121(*, weights=None, progress=True, **kwargs):
    """Densenet-121 from "Densely Connected Convolutional Networks"."""
    return _densenet(32, (6, 12, 24, 16), 64, DenseNet121_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def densenet161(*, weights=None, progress=True, **kwargs):
    """Densenet-161 (growth rate 48)."""
    return _densenet(48, (6, 12, 36, 24), 96, DenseNet161_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def densenet169(*, weights=None, progress=True, **kwargs):
    """Densenet-169."""
    return _densenet(32, (6, 12, 32, 32), 64, DenseNet169_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def densenet201(*, weights=None, progress=True, **kwargs):
    """Densenet-201."""
    return _densenet(32, (6, 12, 48, 32), 64, DenseNet201_Weights, weights, progress, kwargs)
