"""torchvision.models.vision_transformer: ViT-B/16, B/32, L/16, L/32, H/14 (and the VisionTransformer class) with
torchvision's names."""
import math
from collections import OrderedDict
from functools import partial
from typing import Callable, NamedTuple

from ... import nn
from ... import cat, empty, zeros
from ..ops.misc import MLP, Conv2dNormActivation
from ._api import Weights, WeightsEnum, _kwonly_to_pos_or_kw, _load_weights, _ovewrite_named_param, _resolve

__all__ = ["VisionTransformer", "ViT_B_16_Weights", "ViT_B_32_Weights", "ViT_L_16_Weights", "ViT_L_32_Weights",
           "ViT_H_14_Weights", "vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"]


class ConvStemConfig(NamedTuple):
    out_channels: int
    kernel_size: int
    stride: int
    norm_layer: Callable = nn.BatchNorm2d
    activation_layer: Callable = nn.ReLU


def _check(cond, message):
    # torch._assert
    if not cond:
        raise AssertionError(message)


class MLPBlock(MLP):
    """Transformer MLP block: Linear, GELU, Dropout, Linear, Dropout."""

    _version = 2

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(in_dim, [mlp_dim, in_dim], activation_layer=nn.GELU, inplace=None, dropout=dropout)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args):
        # checkpoints saved before version 2 name the linear layers linear_1 and linear_2
        version = local_metadata.get("version", None)
        if version is None or version < 2:
            for i in range(2):
                for kind in ["weight", "bias"]:
                    old_key = f"{prefix}linear_{i + 1}.{kind}"
                    if old_key in state_dict:
                        state_dict[f"{prefix}{3 * i}.{kind}"] = state_dict.pop(old_key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args)


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: LayerNorm, self-attention, dropout, shortcut; LayerNorm, MLP, shortcut."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                 norm_layer=partial(nn.LayerNorm, eps=1e-6)):
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads, dropout=attention_dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = norm_layer(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input):
        _check(input.dim() == 3, f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Learned position embedding, dropout, the encoder blocks, a final LayerNorm."""

    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                 norm_layer=partial(nn.LayerNorm, eps=1e-6)):
        super().__init__()
        self.pos_embedding = nn.Parameter(empty(1, seq_length, hidden_dim).normal_(std=0.02))  # from BERT
        self.dropout = nn.Dropout(dropout)
        layers = OrderedDict()
        for i in range(num_layers):
            layers[f"encoder_layer_{i}"] = EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                                                        norm_layer)
        self.layers = nn.Sequential(layers)
        self.ln = norm_layer(hidden_dim)

    def forward(self, input):
        _check(input.dim() == 3, f"Expected (batch_size, seq_length, hidden_dim) got {input.shape}")
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """Vision Transformer (arXiv:2010.11929): patch embedding, class token, encoder, head on the class token."""

    def __init__(self, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim, dropout=0.0,
                 attention_dropout=0.0, num_classes=1000, representation_size=None,
                 norm_layer=partial(nn.LayerNorm, eps=1e-6), conv_stem_configs=None):
        super().__init__()
        _check(image_size % patch_size == 0, "Input shape indivisible by patch size!")
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.mlp_dim = mlp_dim
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.num_classes = num_classes
        self.representation_size = representation_size
        self.norm_layer = norm_layer
        if conv_stem_configs is not None:  # "Early Convolutions Help Transformers See Better"
            seq_proj = nn.Sequential()
            prev_channels = 3
            for i, cfg in enumerate(conv_stem_configs):
                seq_proj.add_module(f"conv_bn_relu_{i}", Conv2dNormActivation(
                    in_channels=prev_channels, out_channels=cfg.out_channels, kernel_size=cfg.kernel_size,
                    stride=cfg.stride, norm_layer=cfg.norm_layer, activation_layer=cfg.activation_layer))
                prev_channels = cfg.out_channels
            seq_proj.add_module("conv_last", nn.Conv2d(in_channels=prev_channels, out_channels=hidden_dim,
                                                       kernel_size=1))
            self.conv_proj = seq_proj
        else:
            self.conv_proj = nn.Conv2d(in_channels=3, out_channels=hidden_dim, kernel_size=patch_size,
                                       stride=patch_size)
        seq_length = (image_size // patch_size) ** 2
        self.class_token = nn.Parameter(zeros(1, 1, hidden_dim))
        seq_length += 1  # the class token
        self.encoder = Encoder(seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                               norm_layer)
        self.seq_length = seq_length
        heads_layers = OrderedDict()
        if representation_size is None:
            heads_layers["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads_layers["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads_layers["act"] = nn.Tanh()
            heads_layers["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads_layers)

        if isinstance(self.conv_proj, nn.Conv2d):
            fan_in = self.conv_proj.in_channels * self.conv_proj.kernel_size[0] * self.conv_proj.kernel_size[1]
            nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
            if self.conv_proj.bias is not None:
                nn.init.zeros_(self.conv_proj.bias)
        elif isinstance(getattr(self.conv_proj, "conv_last", None), nn.Conv2d):
            last = self.conv_proj.conv_last
            nn.init.normal_(last.weight, mean=0.0, std=math.sqrt(2.0 / last.out_channels))
            if last.bias is not None:
                nn.init.zeros_(last.bias)
        if hasattr(self.heads, "pre_logits") and isinstance(self.heads.pre_logits, nn.Linear):
            nn.init.trunc_normal_(self.heads.pre_logits.weight, std=math.sqrt(1 / self.heads.pre_logits.in_features))
            nn.init.zeros_(self.heads.pre_logits.bias)
        if isinstance(self.heads.head, nn.Linear):
            nn.init.zeros_(self.heads.head.weight)
            nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        n, c, h, w = x.shape
        p = self.patch_size
        _check(h == self.image_size, f"Wrong image height! Expected {self.image_size} but got {h}!")
        _check(w == self.image_size, f"Wrong image width! Expected {self.image_size} but got {w}!")
        x = self.conv_proj(x)  # (n, hidden_dim, n_h, n_w)
        return x.reshape(n, self.hidden_dim, (h // p) * (w // p)).permute(0, 2, 1)

    def forward(self, x):
        x = self._process_input(x)
        batch_class_token = self.class_token.expand(x.shape[0], -1, -1)
        x = self.encoder(cat([batch_class_token, x], dim=1))
        return self.heads(x[:, 0])


_URL = "https://download.pytorch.org/models/"


def _swag(crop):
    # SWAG weights: end-to-end fine-tuned at crop x crop (the builder then sets image_size=crop), or a linear
    # head on the frozen trunk at 224
    return {"min_size": (crop, crop), "crop_size": crop, "resize_size": crop, "interpolation": "bicubic"}


class ViT_B_16_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vit_b_16-c867db91.pth", 86567656, {"min_size": (224, 224)})
    IMAGENET1K_SWAG_E2E_V1 = Weights(_URL + "vit_b_16_swag-9ac1b537.pth", 86859496, _swag(384))
    IMAGENET1K_SWAG_LINEAR_V1 = Weights(_URL + "vit_b_16_lc_swag-4e70ced5.pth", 86567656, _swag(224))
    DEFAULT = IMAGENET1K_V1


class ViT_B_32_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vit_b_32-d86f8d99.pth", 88224232, {"min_size": (224, 224)})
    DEFAULT = IMAGENET1K_V1


class ViT_L_16_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vit_l_16-852ce7e3.pth", 304326632, {"min_size": (224, 224), "resize_size": 242})
    IMAGENET1K_SWAG_E2E_V1 = Weights(_URL + "vit_l_16_swag-4f3808c9.pth", 305174504, _swag(512))
    IMAGENET1K_SWAG_LINEAR_V1 = Weights(_URL + "vit_l_16_lc_swag-4d563306.pth", 304326632, _swag(224))
    DEFAULT = IMAGENET1K_V1


class ViT_L_32_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "vit_l_32-c7638314.pth", 306535400, {"min_size": (224, 224)})
    DEFAULT = IMAGENET1K_V1


class ViT_H_14_Weights(WeightsEnum):
    # only SWAG weights: legacy pretrained=True has none to choose
    IMAGENET1K_SWAG_E2E_V1 = Weights(_URL + "vit_h_14_swag-80465313.pth", 633470440, _swag(518))
    IMAGENET1K_SWAG_LINEAR_V1 = Weights(_URL + "vit_h_14_lc_swag-c1eb923e.pth", 632045800, _swag(224))
    DEFAULT = IMAGENET1K_SWAG_E2E_V1


def _vision_transformer(patch_size, num_layers, num_heads, hidden_dim, mlp_dim, weights_enum, weights, progress,
                        kwargs, builder=None):
    weights = _resolve(weights_enum, weights, kwargs, builder=builder)
    if weights is not None:
        # the checkpoint's position embedding fixes the image size
        _ovewrite_named_param(kwargs, "image_size", weights.meta["min_size"][0])
    image_size = kwargs.pop("image_size", 224)
    model = VisionTransformer(image_size=image_size, patch_size=patch_size, num_layers=num_layers,
                              num_heads=num_heads, hidden_dim=hidden_dim, mlp_dim=mlp_dim, **kwargs)
    return _load_weights(model, weights, progress)


@_kwonly_to_pos_or_kw
def vit_b_16(*, weights=None, progress=True, **kwargs):
    """ViT-B/16 from "An Image is Worth 16x16 Words"."""
    return _vision_transformer(16, 12, 12, 768, 3072, ViT_B_16_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def vit_b_32(*, weights=None, progress=True, **kwargs):
    """ViT-B/32: ViT-Base on 32x32 patches."""
    return _vision_transformer(32, 12, 12, 768, 3072, ViT_B_32_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def vit_l_16(*, weights=None, progress=True, **kwargs):
    """ViT-L/16: ViT-Large (24 layers, width 1024) on 16x16 patches."""
    return _vision_transformer(16, 24, 16, 1024, 4096, ViT_L_16_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def vit_l_32(*, weights=None, progress=True, **kwargs):
    """ViT-L/32: ViT-Large on 32x32 patches."""
    return _vision_transformer(32, 24, 16, 1024, 4096, ViT_L_32_Weights, weights, progress, kwargs)


@_kwonly_to_pos_or_kw
def vit_h_14(*, weights=None, progress=True, **kwargs):
    """ViT-H/14: ViT-Huge (32 layers, width 1280) on 14x14 patches."""
    return _vision_transformer(14, 32, 16, 1280, 5120, ViT_H_14_Weights, weights, progress, kwargs,
                               builder="vit_h_14")
