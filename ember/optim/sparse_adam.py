"""SparseAdam (torch.optim.SparseAdam): Adam on the rows a sparse gradient touches."""
import math

from .._backend import xp_of
from .._tensor import Tensor, _wrap
from .optimizer import Optimizer, _run_closure, _to_float

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Adam masked to the rows of sparse gradients (those of nn.Embedding(..., sparse=True)), as torch's.

    The moments and the parameter change only where the coalesced gradient has entries; a dense gradient is
    refused. The state keeps torch's layout: ``step`` a Python int, ``exp_avg`` and ``exp_avg_sq`` dense.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
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
        defaults = {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)
        sparse_params, complex_params = [], []
        for index, group in enumerate(self.param_groups):
            for d_index, p in enumerate(group["params"]):
                if p.is_sparse:
                    sparse_params.append([index, d_index])
                if p.is_complex():
                    complex_params.append([index, d_index])
        if sparse_params:
            raise ValueError(f"Sparse params at indices {sparse_params}: SparseAdam requires dense parameter tensors")
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not support complex "
                             "parameters")

    def step(self, closure=None):
        """Perform a single optimization step; returns closure()'s loss when given."""
        loss = _run_closure(closure)
        for group in self.param_groups:
            # torch checks every gradient of a group before it updates any
            todo = []
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if not g.is_sparse:
                    raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
                todo.append((p, g))
            beta1, beta2 = group["betas"]
            lr = _to_float(group["lr"])
            for p, g in todo:
                st = self.state[p]
                if len(st) == 0:
                    st["step"] = 0
                    xp = xp_of(p._data)
                    st["exp_avg"] = _wrap(xp.zeros_like(p._data))
                    st["exp_avg_sq"] = _wrap(xp.zeros_like(p._data))
                st["step"] += 1
                _sparse_adam(p, g._coo, st, lr, beta1, beta2, group["eps"], group.get("maximize", False))
        return loss


def _sparse_adam(p, c, st, lr, beta1, beta2, eps, maximize):
    """torch's F.sparse_adam for one parameter: the moments and the parameter updated at the coalesced
    gradient's coordinates, with its operation order (old += (1 - b) * (new - old))."""
    from ..ops.sparse import coalesce_raw
    c = coalesce_raw(-c if maximize else c)   # the update is non-linear so indices must be unique
    if not c.values.size:
        return
    at = tuple(c.indices)
    v = c.values
    exp_avg, exp_avg_sq = st["exp_avg"]._data, st["exp_avg_sq"]._data
    old_avg = exp_avg[at]
    avg_update = (v - old_avg) * (1 - beta1)
    exp_avg[at] += avg_update
    old_sq = exp_avg_sq[at]
    sq_update = (v * v - old_sq) * (1 - beta2)
    exp_avg_sq[at] += sq_update
    numer = avg_update + old_avg
    denom = xp_of(v).sqrt(sq_update + old_sq)
    denom += eps
    step = st["step"]
    step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
    pd = p._data
    pd[at] += (numer / denom) * (-step_size)
    st["exp_avg"]._vc[0] += 1
    st["exp_avg_sq"]._vc[0] += 1
    p._vc[0] += 1
