"""torchvision.models: ResNet-18/34/50/101/152 and VGG-11/13/16/19 (and _bn) architectures, randomly initialized.

Module names and shapes are torchvision's, so a torchvision checkpoint (downloaded elsewhere)
loads with ``model.load_state_dict(torch.load(path))``; ember itself downloads no weights.
"""
from ._api import Weights, WeightsEnum  # noqa: F401
from .resnet import (BasicBlock, Bottleneck, ResNet, ResNet18_Weights, ResNet34_Weights,  # noqa: F401
                     ResNet50_Weights, ResNet101_Weights, ResNet152_Weights, resnet18, resnet34, resnet50,
                     resnet101, resnet152)
from .vgg import (VGG, VGG11_Weights, VGG11_BN_Weights, VGG13_Weights, VGG13_BN_Weights,  # noqa: F401
                  VGG16_Weights, VGG16_BN_Weights, VGG19_Weights, VGG19_BN_Weights, vgg11, vgg11_bn, vgg13,
                  vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn)

_MODELS = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50, "resnet101": resnet101,
           "resnet152": resnet152, "vgg11": vgg11, "vgg11_bn": vgg11_bn, "vgg13": vgg13, "vgg13_bn": vgg13_bn,
           "vgg16": vgg16, "vgg16_bn": vgg16_bn, "vgg19": vgg19, "vgg19_bn": vgg19_bn}


def list_models(module=None, include=None, exclude=None):
    """The names of the models get_model can build."""
    return sorted(_MODELS)


def get_model(name, **config):
    """Build the model called name (as list_models), passing config to its builder."""
    try:
        fn = _MODELS[name.lower()]
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
    weights = {"resnet18": ResNet18_Weights, "resnet34": ResNet34_Weights, "resnet50": ResNet50_Weights,
               "resnet101": ResNet101_Weights, "resnet152": ResNet152_Weights, "vgg11": VGG11_Weights,
               "vgg11_bn": VGG11_BN_Weights, "vgg13": VGG13_Weights, "vgg13_bn": VGG13_BN_Weights,
               "vgg16": VGG16_Weights, "vgg16_bn": VGG16_BN_Weights, "vgg19": VGG19_Weights,
               "vgg19_bn": VGG19_BN_Weights}
    name = name if isinstance(name, str) else name.__name__
    try:
        return weights[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None
