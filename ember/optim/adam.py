"""Adam (torch.optim.Adam), with optional AMSGrad and decoupled weight decay."""
from .._backend import xp_of
from .._tensor import Tensor, _wrap
from .optimizer import (Optimizer, _check_lr_eps_betas_wd, _check_not_differentiable, _run_closure,
                        _step_tensor, _to_float)

__all__ = ["Adam"]


def _lerp_(start, end, weight):
    """start.lerp_(end, weight) with torch's two formulas (chosen by |weight| < 0.5)."""
    diff = end - start
    if abs(weight) < 0.5:
        diff *= weight
        start += diff
    else:
        diff *= 1 - weight
        xp_of(start).subtract(end, diff, out=start)


class Adam(Optimizer):
    """Adam, with torch's single-tensor update formulas."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_lr_eps_betas_wd(lr, eps, betas, weight_decay)
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            raise ValueError("betas must be either both floats or both Tensors")
        _check_not_differentiable(differentiable)
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    _group_defaults = {"amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                       "differentiable": False, "decoupled_weight_decay": False, "fused": None}
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
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            one_minus_beta1 = 1 - beta1
            one_minus_beta2 = 1 - beta2
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                pd = p._data
                gd = g._data
                xp = xp_of(pd)  # state lives with its parameter: numpy or cupy
                st = state[p]
                if len(st) == 0:
                    st["step"] = _step_tensor()
                    st["exp_avg"] = _wrap(xp.zeros_like(pd))
                    st["exp_avg_sq"] = _wrap(xp.zeros_like(pd))
                    if amsgrad:
                        st["max_exp_avg_sq"] = _wrap(xp.zeros_like(pd))
                step_arr = st["step"]._data
                step_arr += 1
                if maximize:
                    gd = -gd
                if weight_decay != 0:
                    if decoupled:
                        pd *= 1 - lr * weight_decay
                    else:
                        t = pd * weight_decay
                        t += gd
                        gd = t
                exp_avg = st["exp_avg"]._data
                exp_avg_sq = st["exp_avg_sq"]._data
                _lerp_(exp_avg, gd, one_minus_beta1)
                exp_avg_sq *= beta2
                t = gd * one_minus_beta2  # torch's addcmul: self + (value * t1) * t2
                t *= gd
                exp_avg_sq += t

                step = float(step_arr)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2 ** 0.5
                if amsgrad:
                    max_sq = st["max_exp_avg_sq"]._data
                    xp.maximum(max_sq, exp_avg_sq, out=max_sq)
                    denom = xp.sqrt(max_sq)
                else:
                    denom = xp.sqrt(exp_avg_sq)
                denom /= bias_correction2_sqrt
                denom += eps
                # torch's addcdiv_(exp_avg, denom, value=-step_size): p + (value * t1) / t2
                t = exp_avg * step_size
                t /= denom
                pd -= t
                p._vc[0] += 1
        return loss
