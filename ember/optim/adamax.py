"""Adamax (torch.optim.Adamax): Adam with the infinity norm."""
from .._backend import xp_of
from .._tensor import Tensor, _wrap
from ..autograd.grad_mode import enable_grad
from .adam import _lerp_
from .optimizer import Optimizer, _check_not_differentiable, _convert_steps, _step_tensor, _to_float

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax, with torch's single-tensor update formulas."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_not_differentiable(differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)
            group.setdefault("maximize", False)
            group.setdefault("differentiable", False)
            group.setdefault("capturable", False)
        _convert_steps(self)

    def step(self, closure=None):
        """Perform a single optimization step; returns closure()'s loss when given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()

        state = self.state
        for group in self.param_groups:
            lr = _to_float(group["lr"])
            beta1, beta2 = group["betas"]
            beta1 = _to_float(beta1)
            beta2 = _to_float(beta2)
            eps = _to_float(group["eps"])
            weight_decay = _to_float(group["weight_decay"])
            maximize = group["maximize"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                pd = p._data
                gd = g._data
                xp = xp_of(pd)
                st = state[p]
                if len(st) == 0:
                    st["step"] = _step_tensor()
                    st["exp_avg"] = _wrap(xp.zeros_like(pd))
                    st["exp_inf"] = _wrap(xp.zeros_like(pd))
                if maximize:
                    gd = -gd
                step_arr = st["step"]._data
                step_arr += 1
                if weight_decay != 0:
                    t = pd * weight_decay
                    t += gd
                    gd = t
                exp_avg = st["exp_avg"]._data
                exp_inf = st["exp_inf"]._data
                _lerp_(exp_avg, gd, 1 - beta1)
                # the exponentially weighted infinity norm
                exp_inf *= beta2
                norm = xp.abs(gd)
                norm += eps
                xp.maximum(exp_inf, norm, out=exp_inf)
                clr = lr / (1 - beta1 ** float(step_arr))
                t = exp_avg * -clr  # addcdiv value=-clr: p + (value * t1) / t2
                t /= exp_inf
                pd += t
                p._vc[0] += 1
        return loss
