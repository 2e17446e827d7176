"""torchvision.ops.drop_block: DropBlock (arXiv:1810.12890), dropout of contiguous square (cubic) regions.

Block centres are drawn with probability gamma, chosen so that about a fraction p of the elements is
dropped; a stride-1 max pool grows every centre into a block_size block, and the survivors are scaled
by numel / (kept + eps) to keep the expected sum.
"""
from ... import empty, nn
from ...nn import functional as F

__all__ = ["drop_block2d", "drop_block3d", "DropBlock2d", "DropBlock3d"]


def _drop_block(input, p, block_size, inplace, eps, training, nd):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}.")
    if input.ndim != nd + 2:
        raise ValueError(f"input should be {nd + 2} dimensional. Got {input.ndim} dimensions.")
    if not training or p == 0.0:
        return input
    spatial = tuple(input.shape[2:])
    block_size = min(block_size, *spatial)
    if block_size % 2 == 0:
        raise ValueError(f"block size should be odd. Got {block_size} which is even.")
    # centres only where a whole block fits; gamma makes the expected dropped fraction p
    dropped, valid = p, 1
    for s in spatial:  # p * H * W in torchvision's order (the last bit of gamma can move a draw)
        dropped, valid = dropped * s, valid * (s - block_size + 1)
    gamma = dropped / ((block_size ** nd) * valid)
    noise = empty(tuple(input.shape[:2]) + tuple(s - block_size + 1 for s in spatial), dtype=input.dtype,
                  device=input.device)
    noise.bernoulli_(gamma)
    noise = F.pad(noise, [block_size // 2] * (2 * nd), value=0)
    pool = F.max_pool2d if nd == 2 else F.max_pool3d
    noise = pool(noise, stride=(1,) * nd, kernel_size=(block_size,) * nd, padding=block_size // 2)
    noise = 1 - noise
    normalize_scale = noise.numel() / (eps + noise.sum())
    if inplace:
        input.mul_(noise).mul_(normalize_scale)
    else:
        input = input * noise * normalize_scale
    return input


def drop_block2d(input, p, block_size, inplace=False, eps=1e-06, training=True):
    """DropBlock on (N, C, H, W): zero random block_size x block_size squares, rescaling the rest."""
    return _drop_block(input, p, block_size, inplace, eps, training, 2)


def drop_block3d(input, p, block_size, inplace=False, eps=1e-06, training=True):
    """DropBlock on (N, C, D, H, W): zero random block_size cubes, rescaling the rest."""
    return _drop_block(input, p, block_size, inplace, eps, training, 3)


class DropBlock2d(nn.Module):
    """Module form of drop_block2d, active only in training mode."""

    def __init__(self, p, block_size, inplace=False, eps=1e-06):
        super().__init__()
        self.p = p
        self.block_size = block_size
        self.inplace = inplace
        self.eps = eps

    def forward(self, input):
        return drop_block2d(input, self.p, self.block_size, self.inplace, self.eps, self.training)

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p}, block_size={self.block_size}, inplace={self.inplace})"


class DropBlock3d(DropBlock2d):
    """Module form of drop_block3d, active only in training mode."""

    def forward(self, input):
        return drop_block3d(input, self.p, self.block_size, self.inplace, self.eps, self.training)
