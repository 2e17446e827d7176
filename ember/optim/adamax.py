"""Adamax (torch.optim.Adamax): Adam with the infinity norm."""
from .._backend import xp_of
from .._tensor import _wrap
from .adam import _lerp_
from .optimizer import (Optimizer, _check_lr_eps_betas_wd, _check_not_differentiable, _run_closure, _step_tensor,
                        _to_float, decayed_grad, run_chunked)

__all__ = ["Adamax"]


def _adamax_update(xp, hyper, pd, gd, exp_avg, exp_inf):
    """One parameter's (or one chunk's) update in place, with torch's single-tensor formulas."""
    clr, one_minus_beta1, beta2, eps, weight_decay, maximize = hyper
    gd = decayed_grad(pd, gd, weight_decay, maximize)
    _lerp_(exp_avg, gd, one_minus_beta1)
    # the exponentially weighted infinity norm
    exp_inf *= beta2
    norm = xp.abs(gd)
    norm += eps
    xp.maximum(exp_inf, norm, out=exp_inf)
    t = exp_avg * -clr  # addcdiv value=-clr: p + (value * t1) / t2
    t /= exp_inf
    pd += t


class Adamax(Optimizer):
    """Adamax, with torch's single-tensor update formulas."""

    _sparse_refusal = "Adamax does not support sparse gradients"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr_eps_betas_wd(lr, eps, betas, weight_decay)
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

    _group_defaults = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}
    _scalar_state_keys = ("step",)

    def step(self, closure=None):
        """Perform a single optimization step; returns closure()'s loss when given."""
        loss = _run_closure(closure)

        state = self.state
        for group in self.param_groups:
            lr = _to_float(group["lr"])
            beta1, beta2 = group["betas"]
            beta1 = _to_float(beta1)
            beta2 = _to_float(beta2)
            eps = _to_float(group["eps"])
            weight_decay = _to_float(group["weight_decay"])
            maximize = group["maximize"]
            jobs = []
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
                step_arr = st["step"]._data
                step_arr += 1
                clr = lr / (1 - beta1 ** float(step_arr))
                hyper = (clr, 1 - beta1, beta2, eps, weight_decay, maximize)
                jobs.append((_adamax_update, (xp, hyper), (pd, gd, st["exp_avg"]._data, st["exp_inf"]._data)))
                p._vc[0] += 1
            run_chunked(jobs)
        return loss
