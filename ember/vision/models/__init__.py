"""torchvision.models: torchvision's classification architectures and their pretrained weights.

Module names and shapes are torchvision's: ``resnet18(weights="DEFAULT")`` downloads torchvision's
own checkpoint through ember.hub (into torch's cache, ``~/.cache/torch/hub/checkpoints``) and loads it.
"""
import fnmatch

from ._api import Weights, WeightsEnum  # noqa: F401
from .resnet import (BasicBlock, Bottleneck, ResNet, ResNet18_Weights, ResNet34_Weights,  # noqa: F401
                     ResNet50_Weights, ResNet101_Weights, ResNet152_Weights, ResNeXt50_32X4D_Weights,
                     Wide_ResNet50_2_Weights, resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d,
                     wide_resnet50_2)
from .vgg import (VGG, VGG11_Weights, VGG11_BN_Weights, VGG13_Weights, VGG13_BN_Weights, VGG16_Weights,  # noqa: F401
                  VGG16_BN_Weights, VGG19_Weights, VGG19_BN_Weights, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16,
                  vgg16_bn, vgg19, vgg19_bn)
from .alexnet import AlexNet, AlexNet_Weights, alexnet  # noqa: F401
from .squeezenet import (SqueezeNet, SqueezeNet1_0_Weights, SqueezeNet1_1_Weights, squeezenet1_0,  # noqa: F401
                         squeezenet1_1)
from .mobilenetv2 import MobileNetV2, MobileNet_V2_Weights, mobilenet_v2  # noqa: F401
from .mobilenetv3 import (MobileNetV3, MobileNet_V3_Large_Weights, MobileNet_V3_Small_Weights,  # noqa: F401
                          mobilenet_v3_large, mobilenet_v3_small)
from .densenet import (DenseNet, DenseNet121_Weights, DenseNet161_Weights, DenseNet169_Weights,  # noqa: F401
                       DenseNet201_Weights, densenet121, densenet161, densenet169, densenet201)
from .shufflenetv2 import (ShuffleNetV2, ShuffleNet_V2_X0_5_Weights, ShuffleNet_V2_X1_0_Weights,  # noqa: F401
                           shufflenet_v2_x0_5, shufflenet_v2_x1_0)
from .efficientnet import (EfficientNet, EfficientNet_B0_Weights, EfficientNet_B1_Weights,  # noqa: F401
                           efficientnet_b0, efficientnet_b1)
from .googlenet import GoogLeNet, GoogLeNetOutputs, GoogLeNet_Weights, googlenet  # noqa: F401
from .convnext import ConvNeXt, ConvNeXt_Tiny_Weights, convnext_tiny  # noqa: F401
from .vision_transformer import VisionTransformer, ViT_B_16_Weights, vit_b_16  # noqa: F401

# builder name -> (builder, its weights enum)
_MODELS = {fn.__name__: (fn, w) for fn, w in [
    (resnet18, ResNet18_Weights), (resnet34, ResNet34_Weights), (resnet50, ResNet50_Weights),
    (vgg11, VGG11_Weights), (vgg16, VGG16_Weights), (alexnet, AlexNet_Weights),
    (squeezenet1_0, SqueezeNet1_0_Weights), (squeezenet1_1, SqueezeNet1_1_Weights),
    (mobilenet_v2, MobileNet_V2_Weights), (mobilenet_v3_small, MobileNet_V3_Small_Weights),
    (mobilenet_v3_large, MobileNet_V3_Large_Weights), (densenet121, DenseNet121_Weights),
    (densenet161, DenseNet161_Weights), (densenet169, DenseNet169_Weights), (densenet201, DenseNet201_Weights),
    (shufflenet_v2_x0_5, ShuffleNet_V2_X0_5_Weights), (shufflenet_v2_x1_0, ShuffleNet_V2_X1_0_Weights),
    (efficientnet_b0, EfficientNet_B0_Weights), (efficientnet_b1, EfficientNet_B1_Weights),
    (googlenet, GoogLeNet_Weights), (resnet101, ResNet101_Weights), (resnet152, ResNet152_Weights),
    (resnext50_32x4d, ResNeXt50_32X4D_Weights), (wide_resnet50_2, Wide_ResNet50_2_Weights),
    (vgg11_bn, VGG11_BN_Weights), (vgg13, VGG13_Weights), (vgg13_bn, VGG13_BN_Weights),
    (vgg16_bn, VGG16_BN_Weights), (vgg19, VGG19_Weights), (vgg19_bn, VGG19_BN_Weights),
    (convnext_tiny, ConvNeXt_Tiny_Weights), (vit_b_16, ViT_B_16_Weights),
]}


def list_models(module=None, include=None, exclude=None):
    """The names of the models get_model can build (in module, matching include and not exclude patterns)."""
    names = [n for n, (fn, _) in _MODELS.items()
             if module is None or module.__name__ in (fn.__module__, fn.__module__.rsplit(".", 1)[0])]
    for patterns, keep in ((include, True), (exclude, False)):
        if patterns is not None:
            patterns = [patterns] if isinstance(patterns, str) else patterns
            names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns) == keep]
    return sorted(names)


def get_model(name, **config):
    """Build the model called name (as list_models), passing config to its builder."""
    try:
        fn = _MODELS[name.lower()][0]
    except KeyError:
        raise ValueError(f"Unknown model {name}; ember.vision.models has {sorted(_MODELS)}") from None
    return fn(**config)


def get_weight(name):
    """The weights enum member called name, e.g. "ResNet50_Weights.IMAGENET1K_V2" (torchvision's get_weight)."""
    try:
        enum_name, value_name = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'.") from None
    weights_enum = globals().get(enum_name)
    if not (isinstance(weights_enum, type) and issubclass(weights_enum, WeightsEnum)):
        raise ValueError(f"The weight enum '{enum_name}' for the specific method couldn't be retrieved.")
    return weights_enum[value_name]


def get_model_weights(name):
    """The weights enum class of a model (its members cannot be downloaded by ember)."""
    name = name if isinstance(name, str) else name.__name__
    try:
        return _MODELS[name.lower()][1]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None
