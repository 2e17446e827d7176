"""SparseAdam (torch.optim.SparseAdam): not available, because ember has no sparse tensors."""
from .._tensor import Tensor
from .optimizer import Optimizer

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Present so that torch code finds the name; constructing one raises NotImplementedError.

    torch's SparseAdam updates only the rows a sparse gradient touches (the gradients that
    ``nn.Embedding(..., sparse=True)`` produces) and rejects dense gradients. ember has no sparse
    tensors, so every gradient is dense and the optimizer could never step.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        # torch's argument checks first, so bad hyperparameters report the same errors
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        raise NotImplementedError(
            "SparseAdam needs sparse gradients (from nn.Embedding(..., sparse=True)), but ember has no "
            "sparse tensors: all its gradients are dense, which SparseAdam rejects. Use optim.Adam or "
            "optim.AdamW instead.")

    def step(self, closure=None):  # pragma: no cover - construction already raised
        raise NotImplementedError("SparseAdam is not available in ember (no sparse tensors)")
