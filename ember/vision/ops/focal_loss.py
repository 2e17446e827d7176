"""torchvision.ops.focal_loss: the RetinaNet classification loss (Lin et al., arXiv:1708.02002)."""
from ... import sigmoid
from ...nn import functional as F
from ._utils import _REDUCTION_ERROR

__all__ = ["sigmoid_focal_loss"]


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """Binary cross-entropy on logits, scaled down by (1 - p_t)**gamma where the prediction is already right."""
    if not (0 <= alpha <= 1) and alpha != -1:
        raise ValueError(f"Invalid alpha value: {alpha}. alpha must be in the range [0,1] or -1 for ignore.")
    p = sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)  # the probability given to the true class
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:  # alpha == -1: no class weighting
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(_REDUCTION_ERROR.format(reduction))
