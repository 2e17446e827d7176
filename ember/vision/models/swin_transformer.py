"""torchvision.models.swin_transformer: Swin Transformer T/S/B and Swin V2 T/S/B with torchvision's module names,
so its checkpoints load.

Windows are padded to a multiple of the window size and, every other block, cyclically shifted by half a window;
the attention mask (-100 between tokens that come from different regions of the shifted image) and the relative
position tables are torchvision's, built once per shape in NumPy.
"""
import functools
import math
from functools import partial

import numpy as np

from ... import nn
from ... import cat, clamp, log, no_grad, ones, roll, sigmoid, tensor, zeros, zeros_like
from ...nn import functional as F
from ..ops.misc import MLP, Permute
from ..ops.stochastic_depth import StochasticDepth
from ._api import Weights, WeightsEnum, _kwonly_to_pos_or_kw, _load_weights, _resolve

__all__ = ["SwinTransformer", "Swin_T_Weights", "Swin_S_Weights", "Swin_B_Weights", "Swin_V2_T_Weights",
           "Swin_V2_S_Weights", "Swin_V2_B_Weights", "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s",
           "swin_v2_b"]


def _patch_merging_pad(x):
    """[..., H, W, C] -> [..., ceil(H/2), ceil(W/2), 4C]: each 2x2 neighbourhood's four tokens side by side
    (odd sizes padded with zeros)."""
    H, W = x.shape[-3], x.shape[-2]
    x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))
    # torchvision's order: (even row, even col), (odd, even), (even, odd), (odd, odd)
    return cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)


def _get_relative_position_bias(relative_position_bias_table, relative_position_index, window_size):
    """The (1, heads, N, N) bias of a window of N tokens, gathered from the table by the pairwise index."""
    N = window_size[0] * window_size[1]
    bias = relative_position_bias_table[relative_position_index].reshape(N, N, -1)
    return bias.permute(2, 0, 1).contiguous().unsqueeze(0)


def _relative_position_index(window_size):
    """Flat (N*N,) int64 index of every token pair's offset (dy, dx) into a (2Wh-1)(2Ww-1)-row table."""
    wh, ww = window_size
    coords = np.stack(np.meshgrid(np.arange(wh), np.arange(ww), indexing="ij")).reshape(2, -1)
    rel = coords[:, :, None] - coords[:, None, :]  # 2, N, N
    return ((rel[0] + wh - 1) * (2 * ww - 1) + (rel[1] + ww - 1)).reshape(-1).astype(np.int64)


@functools.lru_cache(maxsize=64)
def _shift_mask(pad_H, pad_W, window_size, shift_size):
    """(windows, N, N) float32 mask: -100 between two tokens of one window that the cyclic shift brought from
    different regions of the image, 0 otherwise."""
    wh, ww = window_size
    sh, sw = shift_size
    labels = np.zeros((pad_H, pad_W), np.float32)
    # the three bands on each axis, as Python slices (a zero shift leaves torchvision's (0, None) band)
    h_bands = (slice(0, -wh), slice(-wh, -sh), slice(-sh, None))
    w_bands = (slice(0, -ww), slice(-ww, -sw), slice(-sw, None))
    for i, hb in enumerate(h_bands):
        for j, wb in enumerate(w_bands):
            labels[hb, wb] = 3 * i + j
    windows = labels.reshape(pad_H // wh, wh, pad_W // ww, ww).transpose(0, 2, 1, 3).reshape(-1, wh * ww)
    mask = np.where(windows[:, None, :] != windows[:, :, None], np.float32(-100.0), np.float32(0.0))
    mask.flags.writeable = False
    return mask


def shifted_window_attention(input, qkv_weight, proj_weight, relative_position_bias, window_size, num_heads,
                             shift_size, attention_dropout=0.0, dropout=0.0, qkv_bias=None, proj_bias=None,
                             logit_scale=None, training=True):
    """Multi-head self-attention inside (shifted) windows of a [B, H, W, C] input, with relative position bias;
    cosine attention scaled by exp(logit_scale) when logit_scale is given (Swin V2). Returns [B, H, W, C]."""
    B, H, W, C = input.shape
    wh, ww = window_size
    pad_r = (ww - W % ww) % ww
    pad_b = (wh - H % wh) % wh
    x = F.pad(input, (0, 0, 0, pad_r, 0, pad_b))
    _, pad_H, pad_W, _ = x.shape
    # a window covering the whole (padded) axis has nothing to shift across
    shift_size = [0 if wh >= pad_H else shift_size[0], 0 if ww >= pad_W else shift_size[1]]
    shifted = sum(shift_size) > 0
    if shifted:
        x = roll(x, shifts=(-shift_size[0], -shift_size[1]), dims=(1, 2))
    num_windows = (pad_H // wh) * (pad_W // ww)
    x = x.reshape(B, pad_H // wh, wh, pad_W // ww, ww, C).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(B * num_windows, wh * ww, C)  # B*nW, N, C

    if logit_scale is not None and qkv_bias is not None:
        # Swin V2 has no key bias: its middle third is held at zero
        length = qkv_bias.numel() // 3
        qkv_bias = cat([qkv_bias[:length], zeros_like(qkv_bias[length:2 * length]), qkv_bias[2 * length:]])
    qkv = F.linear(x, qkv_weight, qkv_bias)
    qkv = qkv.reshape(x.size(0), x.size(1), 3, num_heads, C // num_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    if logit_scale is not None:
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        attn = attn * clamp(logit_scale, max=math.log(100.0)).exp()
    else:
        attn = (q * (C // num_heads) ** -0.5).matmul(k.transpose(-2, -1))
    attn = attn + relative_position_bias

    if shifted:
        mask = attn.new_tensor(_shift_mask(pad_H, pad_W, (wh, ww), tuple(shift_size)))
        n = x.size(1)
        attn = attn.reshape(x.size(0) // num_windows, num_windows, num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
        attn = attn.reshape(-1, num_heads, n, n)
    attn = F.dropout(F.softmax(attn, dim=-1), p=attention_dropout, training=training)
    x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), x.size(1), C)
    x = F.dropout(F.linear(x, proj_weight, proj_bias), p=dropout, training=training)

    x = x.reshape(B, pad_H // wh, pad_W // ww, wh, ww, C).permute(0, 1, 3, 2, 4, 5).reshape(B, pad_H, pad_W, C)
    if shifted:
        x = roll(x, shifts=(shift_size[0], shift_size[1]), dims=(1, 2))
    return x[:, :H, :W, :].contiguous()


class PatchMerging(nn.Module):
    """Downsampling between stages: concatenate each 2x2 patch ([..., H/2, W/2, 4C]), LayerNorm, linear to 2C."""

    def __init__(self, dim, norm_layer=nn.LayerNorm):
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(4 * dim)

    def forward(self, x):
        return self.reduction(self.norm(_patch_merging_pad(x)))


class PatchMergingV2(nn.Module):
    """Swin V2's patch merging: the norm comes after the linear reduction (on 2C)."""

    def __init__(self, dim, norm_layer=nn.LayerNorm):
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(2 * dim)

    def forward(self, x):
        return self.norm(self.reduction(_patch_merging_pad(x)))


class ShiftedWindowAttention(nn.Module):
    """Window attention with a learned relative position bias table (see shifted_window_attention)."""

    def __init__(self, dim, window_size, shift_size, num_heads, qkv_bias=True, proj_bias=True,
                 attention_dropout=0.0, dropout=0.0):
        super().__init__()
        if len(window_size) != 2 or len(shift_size) != 2:
            raise ValueError("window_size and shift_size must be of length 2")
        self.window_size = window_size
        self.shift_size = shift_size
        self.num_heads = num_heads
        self.attention_dropout = attention_dropout
        self.dropout = dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.define_relative_position_bias_table()
        self.define_relative_position_index()

    def define_relative_position_bias_table(self):
        """A (2Wh-1)(2Ww-1) x heads table of learned biases, one row per relative offset."""
        rows = (2 * self.window_size[0] - 1) * (2 * self.window_size[1] - 1)
        self.relative_position_bias_table = nn.Parameter(zeros(rows, self.num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def define_relative_position_index(self):
        """The buffer mapping each token pair of a window to its row of the table."""
        self.register_buffer("relative_position_index", tensor(_relative_position_index(self.window_size)))

    def get_relative_position_bias(self):
        """The (1, heads, N, N) bias added to the attention logits."""
        return _get_relative_position_bias(self.relative_position_bias_table, self.relative_position_index,
                                           self.window_size)

    def forward(self, x):
        return shifted_window_attention(x, self.qkv.weight, self.proj.weight, self.get_relative_position_bias(),
                                        self.window_size, self.num_heads, shift_size=self.shift_size,
                                        attention_dropout=self.attention_dropout, dropout=self.dropout,
                                        qkv_bias=self.qkv.bias, proj_bias=self.proj.bias, training=self.training)


class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """Swin V2's window attention: cosine similarity scaled by a learned per-head temperature, and a bias that a
    small MLP computes from log-spaced relative coordinates (16 * sigmoid of it)."""

    def __init__(self, dim, window_size, shift_size, num_heads, qkv_bias=True, proj_bias=True,
                 attention_dropout=0.0, dropout=0.0):
        super().__init__(dim, window_size, shift_size, num_heads, qkv_bias=qkv_bias, proj_bias=proj_bias,
                         attention_dropout=attention_dropout, dropout=dropout)
        self.logit_scale = nn.Parameter(log(10 * ones((num_heads, 1, 1))))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 512, bias=True), nn.ReLU(inplace=True),
                                     nn.Linear(512, num_heads, bias=False))
        if qkv_bias:
            length = self.qkv.bias.numel() // 3
            with no_grad():
                self.qkv.bias[length:2 * length].zero_()

    def define_relative_position_bias_table(self):
        """The buffer of relative coordinates, scaled to [-8, 8] and log-spaced, that cpb_mlp maps to biases."""
        wh, ww = self.window_size
        coords = np.stack(np.meshgrid(np.arange(-(wh - 1), wh, dtype=np.float32),
                                      np.arange(-(ww - 1), ww, dtype=np.float32), indexing="ij"))
        table = coords.transpose(1, 2, 0)[None].copy()  # 1, 2Wh-1, 2Ww-1, 2
        with np.errstate(divide="ignore", invalid="ignore"):  # a 1-wide window divides by zero, as torchvision's
            table[..., 0] /= np.float32(wh - 1)
            table[..., 1] /= np.float32(ww - 1)
        table *= np.float32(8)
        table = np.sign(table) * np.log2(np.abs(table) + np.float32(1.0)) / np.float32(3.0)
        self.register_buffer("relative_coords_table", tensor(table.astype(np.float32)))

    def get_relative_position_bias(self):
        """16 * sigmoid of the MLP's bias for each token pair: (1, heads, N, N)."""
        table = self.cpb_mlp(self.relative_coords_table).reshape(-1, self.num_heads)
        return 16 * sigmoid(_get_relative_position_bias(table, self.relative_position_index, self.window_size))

    def forward(self, x):
        return shifted_window_attention(x, self.qkv.weight, self.proj.weight, self.get_relative_position_bias(),
                                        self.window_size, self.num_heads, shift_size=self.shift_size,
                                        attention_dropout=self.attention_dropout, dropout=self.dropout,
                                        qkv_bias=self.qkv.bias, proj_bias=self.proj.bias,
                                        logit_scale=self.logit_scale, training=self.training)


class SwinTransformerBlock(nn.Module):
    """Pre-norm block: x + drop(attn(norm1(x))), then x + drop(mlp(norm2(x))) (GELU MLP, stochastic depth)."""

    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio=4.0, dropout=0.0, attention_dropout=0.0,
                 stochastic_depth_prob=0.0, norm_layer=nn.LayerNorm, attn_layer=ShiftedWindowAttention):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = attn_layer(dim, window_size, shift_size, num_heads, attention_dropout=attention_dropout,
                               dropout=dropout)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.norm2 = norm_layer(dim)
        self.mlp = MLP(dim, [int(dim * mlp_ratio), dim], activation_layer=nn.GELU, inplace=None, dropout=dropout)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x):
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class SwinTransformerBlockV2(SwinTransformerBlock):
    """Swin V2's block: post-norm residual branches, x + drop(norm1(attn(x))), x + drop(norm2(mlp(x)))."""

    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio=4.0, dropout=0.0, attention_dropout=0.0,
                 stochastic_depth_prob=0.0, norm_layer=nn.LayerNorm, attn_layer=ShiftedWindowAttentionV2):
        super().__init__(dim, num_heads, window_size, shift_size, mlp_ratio=mlp_ratio, dropout=dropout,
                         attention_dropout=attention_dropout, stochastic_depth_prob=stochastic_depth_prob,
                         norm_layer=norm_layer, attn_layer=attn_layer)

    def forward(self, x):
        x = x + self.stochastic_depth(self.norm1(self.attn(x)))
        return x + self.stochastic_depth(self.norm2(self.mlp(x)))


class SwinTransformer(nn.Module):
    """Swin Transformer (arXiv:2103.14030): patch embedding, stages of (shifted) window blocks with patch merging
    between, LayerNorm, global average pool, linear head. Works channels-last ([B, H, W, C]) inside."""

    def __init__(self, patch_size, embed_dim, depths, num_heads, window_size, mlp_ratio=4.0, dropout=0.0,
                 attention_dropout=0.0, stochastic_depth_prob=0.1, num_classes=1000, norm_layer=None, block=None,
                 downsample_layer=PatchMerging):
        super().__init__()
        self.num_classes = num_classes
        if block is None:
            block = SwinTransformerBlock
        if norm_layer is None:
            norm_layer = partial(nn.LayerNorm, eps=1e-5)
        layers = [nn.Sequential(
            nn.Conv2d(3, embed_dim, kernel_size=(patch_size[0], patch_size[1]),
                      stride=(patch_size[0], patch_size[1])),
            Permute([0, 2, 3, 1]),
            norm_layer(embed_dim),
        )]
        total_stage_blocks = sum(depths)
        stage_block_id = 0
        for i_stage, depth in enumerate(depths):
            dim = embed_dim * 2 ** i_stage
            stage = []
            for i_layer in range(depth):
                # stochastic depth grows linearly over all blocks; every other block shifts its windows
                sd_prob = stochastic_depth_prob * float(stage_block_id) / (total_stage_blocks - 1)
                stage.append(block(dim, num_heads[i_stage], window_size=window_size,
                                   shift_size=[0 if i_layer % 2 == 0 else w // 2 for w in window_size],
                                   mlp_ratio=mlp_ratio, dropout=dropout, attention_dropout=attention_dropout,
                                   stochastic_depth_prob=sd_prob, norm_layer=norm_layer))
                stage_block_id += 1
            layers.append(nn.Sequential(*stage))
            if i_stage < len(depths) - 1:
                layers.append(downsample_layer(dim, norm_layer))
        self.features = nn.Sequential(*layers)
        num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = norm_layer(num_features)
        self.permute = Permute([0, 3, 1, 2])  # B H W C -> B C H W
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.head = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.norm(self.features(x))
        return self.head(self.flatten(self.avgpool(self.permute(x))))


_URL = "https://download.pytorch.org/models/"


def _meta(side, crop, resize):
    return {"min_size": (side, side), "crop_size": crop, "resize_size": resize, "interpolation": "bicubic"}


class Swin_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "swin_t-704ceda3.pth", 28288354, _meta(224, 224, 232))
    DEFAULT = IMAGENET1K_V1


class Swin_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "swin_s-5e29d889.pth", 49606258, _meta(224, 224, 246))
    DEFAULT = IMAGENET1K_V1


class Swin_B_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "swin_b-68c6b09e.pth", 87768224, _meta(224, 224, 238))
    DEFAULT = IMAGENET1K_V1


class Swin_V2_T_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "swin_v2_t-b137f0e2.pth", 28351570, _meta(256, 256, 260))
    DEFAULT = IMAGENET1K_V1


class Swin_V2_S_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "swin_v2_s-637d8ceb.pth", 49737442, _meta(256, 256, 260))
    DEFAULT = IMAGENET1K_V1


class Swin_V2_B_Weights(WeightsEnum):
    IMAGENET1K_V1 = Weights(_URL + "swin_v2_b-781e5279.pth", 87930848, _meta(256, 256, 272))
    DEFAULT = IMAGENET1K_V1


def _swin_transformer(patch_size, embed_dim, depths, num_heads, window_size, stochastic_depth_prob, weights_enum,
                      weights, progress, kwargs, **extra):
    weights = _resolve(weights_enum, weights, kwargs)
    model = SwinTransformer(patch_size=patch_size, embed_dim=embed_dim, depths=depths, num_heads=num_heads,
                            window_size=window_size, stochastic_depth_prob=stochastic_depth_prob, **extra, **kwargs)
    return _load_weights(model, weights, progress)


_V2 = dict(block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2)


@_kwonly_to_pos_or_kw
def swin_t(*, weights=None, progress=True, **kwargs):
    """Swin-T from "Swin Transformer: Hierarchical Vision Transformer using Shifted Windows"."""
    return _swin_transformer([4, 4], 96, [2, 2, 6, 2], [3, 6, 12, 24], [7, 7], 0.2, Swin_T_Weights, weights,
                             progress, kwargs)


@_kwonly_to_pos_or_kw
def swin_s(*, weights=None, progress=True, **kwargs):
    """Swin-S (18 blocks in the third stage)."""
    return _swin_transformer([4, 4], 96, [2, 2, 18, 2], [3, 6, 12, 24], [7, 7], 0.3, Swin_S_Weights, weights,
                             progress, kwargs)


@_kwonly_to_pos_or_kw
def swin_b(*, weights=None, progress=True, **kwargs):
    """Swin-B (embedding width 128)."""
    return _swin_transformer([4, 4], 128, [2, 2, 18, 2], [4, 8, 16, 32], [7, 7], 0.5, Swin_B_Weights, weights,
                             progress, kwargs)


@_kwonly_to_pos_or_kw
def swin_v2_t(*, weights=None, progress=True, **kwargs):
    """Swin V2-T from "Swin Transformer V2: Scaling Up Capacity and Resolution" (8x8 windows)."""
    return _swin_transformer([4, 4], 96, [2, 2, 6, 2], [3, 6, 12, 24], [8, 8], 0.2, Swin_V2_T_Weights, weights,
                             progress, kwargs, **_V2)


@_kwonly_to_pos_or_kw
def swin_v2_s(*, weights=None, progress=True, **kwargs):
    """Swin V2-S."""
    return _swin_transformer([4, 4], 96, [2, 2, 18, 2], [3, 6, 12, 24], [8, 8], 0.3, Swin_V2_S_Weights, weights,
                             progress, kwargs, **_V2)


@_kwonly_to_pos_or_kw
def swin_v2_b(*, weights=None, progress=True, **kwargs):
    """Swin V2-B."""
    return _swin_transformer([4, 4], 128, [2, 2, 18, 2], [4, 8, 16, 32], [8, 8], 0.5, Swin_V2_B_Weights, weights,
                             progress, kwargs, **_V2)
