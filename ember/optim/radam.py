"""RAdam (torch.optim.RAdam): Adam with a rectified adaptive learning rate."""
from .._backend import xp_of
from .._tensor import _wrap
from .adam import _lerp_
from .optimizer import (Optimizer, _check_lr_eps_betas_wd, _check_not_differentiable, _run_closure, _step_tensor,
                        _to_float, decayed_grad, run_chunked)

__all__ = ["RAdam"]


def _radam_update(xp, hyper, pd, gd, exp_avg, exp_avg_sq):
    """One parameter's (or one chunk's) update in place, with torch's single-tensor formulas; rect is None
    while the variance is not yet tractable (rho_t <= 5)."""
    (lr, one_minus_beta1, beta2, eps, weight_decay, decoupled, maximize, bias_correction1,
     bias_correction2_sqrt, rect) = hyper
    gd = decayed_grad(pd, gd, weight_decay, maximize, lr if decoupled else None)
    _lerp_(exp_avg, gd, one_minus_beta1)
    exp_avg_sq *= beta2
    t = gd * (1 - beta2)
    t *= gd
    exp_avg_sq += t
    update = exp_avg / bias_correction1
    update *= lr
    if rect is not None:
        # torch's float / Tensor is reciprocal() * float
        adaptive = xp.sqrt(exp_avg_sq)
        adaptive += eps
        adaptive = xp.reciprocal(adaptive)
        adaptive *= bias_correction2_sqrt
        update *= adaptive
        update *= rect
    pd -= update


class RAdam(Optimizer):
    """RAdam, with torch's single-tensor update formulas."""

    _sparse_refusal = "RAdam does not support sparse gradients"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_lr_eps_betas_wd(lr, eps, betas, weight_decay)
        _check_not_differentiable(differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    _group_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                       "decoupled_weight_decay": False, "capturable": False}
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
            decoupled = group["decoupled_weight_decay"]
            maximize = group["maximize"]
            # maximum length of the approximated simple moving average
            rho_inf = 2 / (1 - beta2) - 1
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
                    st["exp_avg_sq"] = _wrap(xp.zeros_like(pd))
                step_arr = st["step"]._data
                step_arr += 1
                step = float(step_arr)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
                rect = None
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                            / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                hyper = (lr, 1 - beta1, beta2, eps, weight_decay, decoupled, maximize, bias_correction1,
                         bias_correction2 ** 0.5, rect)
                jobs.append((_radam_update, (xp, hyper), (pd, gd, st["exp_avg"]._data, st["exp_avg_sq"]._data)))
                p._vc[0] += 1
            run_chunked(jobs)
        return loss
