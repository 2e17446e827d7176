"""torchvision.models: torchvision's classification architectures and their pretrained weights.

Module names and shapes are torchvision's: ``resnet18(weights="DEFAULT")`` downloads torchvision's
own checkpoint through ember.hub (into torch's cache, ``~/.cache/torch/hub/checkpoints``) and loads it.
"""
import fnmatch

from ._api import Weights, WeightsEnum  # noqa: F401
from .resnet import (BasicBlock, Bottleneck, ResNet, ResNet18_Weights, ResNet34_Weights,  # noqa: F401
                     ResNet50_Weights, ResNet101_Weights, ResNet152_Weights, ResNeXt50_32X4D_Weights,
                     ResNeXt101_32X8D_Weights, ResNeXt101_64X4D_Weights, Wide_ResNet50_2_Weights,
                     Wide_ResNet101_2_Weights, resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d,
                     resnext101_32x8d, resnext101_64x4d, wide_resnet50_2, wide_resnet101_2)
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
                           ShuffleNet_V2_X1_5_Weights, ShuffleNet_V2_X2_0_Weights, shufflenet_v2_x0_5,
                           shufflenet_v2_x1_0, shufflenet_v2_x1_5, shufflenet_v2_x2_0)
from .efficientnet import (EfficientNet, EfficientNet_B0_Weights, EfficientNet_B1_Weights,  # noqa: F401
                           EfficientNet_B2_Weights, EfficientNet_B3_Weights, EfficientNet_B4_Weights,
                           EfficientNet_B5_Weights, EfficientNet_B6_Weights, EfficientNet_B7_Weights,
                           EfficientNet_V2_S_Weights, EfficientNet_V2_M_Weights, EfficientNet_V2_L_Weights,
                           efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3, efficientnet_b4,
                           efficientnet_b5, efficientnet_b6, efficientnet_b7, efficientnet_v2_s, efficientnet_v2_m,
                           efficientnet_v2_l)
from .googlenet import GoogLeNet, GoogLeNetOutputs, GoogLeNet_Weights, googlenet  # noqa: F401
from .inception import Inception3, InceptionOutputs, Inception_V3_Weights, inception_v3  # noqa: F401
from .mnasnet import (MNASNet, MNASNet0_5_Weights, MNASNet0_75_Weights, MNASNet1_0_Weights,  # noqa: F401
                      MNASNet1_3_Weights, mnasnet0_5, mnasnet0_75, mnasnet1_0, mnasnet1_3)
from .convnext import (ConvNeXt, ConvNeXt_Tiny_Weights, ConvNeXt_Small_Weights, ConvNeXt_Base_Weights,  # noqa: F401
                       ConvNeXt_Large_Weights, convnext_tiny, convnext_small, convnext_base, convnext_large)
from .regnet import (RegNet, RegNet_Y_400MF_Weights, RegNet_Y_800MF_Weights, RegNet_Y_1_6GF_Weights,  # noqa: F401
                     RegNet_Y_3_2GF_Weights, RegNet_Y_8GF_Weights, RegNet_Y_16GF_Weights, RegNet_Y_32GF_Weights,
                     RegNet_Y_128GF_Weights, RegNet_X_400MF_Weights, RegNet_X_800MF_Weights, RegNet_X_1_6GF_Weights,
                     RegNet_X_3_2GF_Weights, RegNet_X_8GF_Weights, RegNet_X_16GF_Weights, RegNet_X_32GF_Weights,
                     regnet_y_400mf, regnet_y_800mf, regnet_y_1_6gf, regnet_y_3_2gf, regnet_y_8gf, regnet_y_16gf,
                     regnet_y_32gf, regnet_y_128gf, regnet_x_400mf, regnet_x_800mf, regnet_x_1_6gf, regnet_x_3_2gf,
                     regnet_x_8gf, regnet_x_16gf, regnet_x_32gf)
from .vision_transformer import (VisionTransformer, ViT_B_16_Weights, ViT_B_32_Weights,  # noqa: F401
                                 ViT_L_16_Weights, ViT_L_32_Weights, ViT_H_14_Weights, vit_b_16, vit_b_32, vit_l_16,
                                 vit_l_32, vit_h_14)
from .swin_transformer import (SwinTransformer, Swin_T_Weights, Swin_S_Weights, Swin_B_Weights,  # noqa: F401
                               Swin_V2_T_Weights, Swin_V2_S_Weights, Swin_V2_B_Weights, swin_t, swin_s, swin_b,
                               swin_v2_t, swin_v2_s, swin_v2_b)
from .maxvit import MaxVit, MaxVit_T_Weights, maxvit_t  # noqa: F401

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
    (convnext_small, ConvNeXt_Small_Weights), (convnext_base, ConvNeXt_Base_Weights),
    (convnext_large, ConvNeXt_Large_Weights),
    (efficientnet_b2, EfficientNet_B2_Weights), (efficientnet_b3, EfficientNet_B3_Weights),
    (efficientnet_b4, EfficientNet_B4_Weights), (efficientnet_b5, EfficientNet_B5_Weights),
    (efficientnet_b6, EfficientNet_B6_Weights), (efficientnet_b7, EfficientNet_B7_Weights),
    (efficientnet_v2_s, EfficientNet_V2_S_Weights), (efficientnet_v2_m, EfficientNet_V2_M_Weights),
    (efficientnet_v2_l, EfficientNet_V2_L_Weights),
    (resnext101_32x8d, ResNeXt101_32X8D_Weights), (resnext101_64x4d, ResNeXt101_64X4D_Weights),
    (wide_resnet101_2, Wide_ResNet101_2_Weights),
    (shufflenet_v2_x1_5, ShuffleNet_V2_X1_5_Weights), (shufflenet_v2_x2_0, ShuffleNet_V2_X2_0_Weights),
    (vit_b_32, ViT_B_32_Weights), (vit_l_16, ViT_L_16_Weights), (vit_l_32, ViT_L_32_Weights),
    (vit_h_14, ViT_H_14_Weights),
    (inception_v3, Inception_V3_Weights),
    (mnasnet0_5, MNASNet0_5_Weights), (mnasnet0_75, MNASNet0_75_Weights), (mnasnet1_0, MNASNet1_0_Weights),
    (mnasnet1_3, MNASNet1_3_Weights),
    (regnet_y_400mf, RegNet_Y_400MF_Weights), (regnet_y_800mf, RegNet_Y_800MF_Weights),
    (regnet_y_1_6gf, RegNet_Y_1_6GF_Weights), (regnet_y_3_2gf, RegNet_Y_3_2GF_Weights),
    (regnet_y_8gf, RegNet_Y_8GF_Weights), (regnet_y_16gf, RegNet_Y_16GF_Weights),
    (regnet_y_32gf, RegNet_Y_32GF_Weights), (regnet_y_128gf, RegNet_Y_128GF_Weights),
    (regnet_x_400mf, RegNet_X_400MF_Weights), (regnet_x_800mf, RegNet_X_800MF_Weights),
    (regnet_x_1_6gf, RegNet_X_1_6GF_Weights), (regnet_x_3_2gf, RegNet_X_3_2GF_Weights),
    (regnet_x_8gf, RegNet_X_8GF_Weights), (regnet_x_16gf, RegNet_X_16GF_Weights),
    (regnet_x_32gf, RegNet_X_32GF_Weights),
    (swin_t, Swin_T_Weights), (swin_s, Swin_S_Weights), (swin_b, Swin_B_Weights),
    (swin_v2_t, Swin_V2_T_Weights), (swin_v2_s, Swin_V2_S_Weights), (swin_v2_b, Swin_V2_B_Weights),
    (maxvit_t, MaxVit_T_Weights),
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


def get_model_builder(name):
    """The builder function of the model called name (as list_models), e.g. resnet50."""
    name = name.lower()
    try:
        return _MODELS[name][0]
    except KeyError:
        raise ValueError(f"Unknown model {name}; ember.vision.models has {sorted(_MODELS)}") from None


def get_model(name, **config):
    """Build the model called name (as list_models), passing config to its builder."""
    return get_model_builder(name)(**config)


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
