"""Adafactor (torch.optim.Adafactor): Adam-like steps from a factored second moment (a row and a column
statistic per matrix instead of a full one), with torch's algorithm, defaults and state layout."""
from .._backend import finfo
from ..autograd.grad_mode import no_grad
from .._tensor import Tensor
from ..ops import creation as _creation
from .optimizer import Optimizer, _run_closure, _step_tensor, _to_float

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor with torch's single-tensor update; state: step, and row_var / col_var (>= 2-d params) or
    variance (vectors), created at the first step."""

    _sparse_refusal = "Adafactor does not support sparse gradients"

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize}
        super().__init__(params, defaults)

    _group_defaults = {"foreach": None}
    _scalar_state_keys = ("step",)

    def _init_state(self, st, p):
        st["step"] = _step_tensor()
        g = p.grad
        if g.dim() > 1:
            # the factors of the variance: g*g averaged over the last dim (rows) and the one before (cols)
            row_shape, col_shape = list(g.shape), list(g.shape)
            row_shape[-1] = 1
            col_shape[-2] = 1
            st["row_var"] = g.new_zeros(row_shape)
            st["col_var"] = g.new_zeros(col_shape)
        else:
            st["variance"] = _creation.zeros_like(g)

    @no_grad()
    def step(self, closure=None):
        """Perform a single optimization step; returns closure()'s loss when given."""
        loss = _run_closure(closure)
        for group in self.param_groups:
            eps1, eps2 = group["eps"]
            lr = _to_float(group["lr"])
            beta2_decay, d, weight_decay = group["beta2_decay"], group["d"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad if not group["maximize"] else -p.grad
                st = self.state[p]
                if len(st) == 0:
                    self._init_state(st, p)
                e1 = eps1 if eps1 is not None else finfo(p.dtype).eps
                st["step"] += 1
                step = st["step"].item()
                one_minus_beta2_t = step ** beta2_decay
                rho_t = min(lr, 1 / (step ** 0.5))
                alpha = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * rho_t
                if weight_decay != 0:
                    p.mul_(1 - lr * weight_decay)
                if grad.dim() > 1:
                    row_var, col_var = st["row_var"], st["col_var"]
                    row_var.lerp_(grad.norm(dim=-1, keepdim=True).square_().div_(grad.size(-1)), one_minus_beta2_t)
                    col_var.lerp_(grad.norm(dim=-2, keepdim=True).square_().div_(grad.size(-2)), one_minus_beta2_t)
                    var_estimate = row_var @ col_var
                    var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=e1))
                else:
                    variance = st["variance"]
                    variance.lerp_(grad * grad, one_minus_beta2_t)
                    var_estimate = variance.clone()
                update = var_estimate.clamp_(min=e1 * e1).rsqrt_()
                update.mul_(grad)
                denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
                p.add_(update, alpha=-alpha / denom)
        return loss
