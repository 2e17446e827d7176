"""NAdam (torch.optim.NAdam): Adam with Nesterov momentum, optional decoupled weight decay (NAdamW)."""
from .._backend import xp_of
from .._tensor import _wrap
from .adam import _lerp_
from .optimizer import (Optimizer, _check_lr_eps_betas_wd, _check_not_differentiable, _run_closure, _step_tensor,
                        _to_float, decayed_grad, run_chunked)

__all__ = ["NAdam"]


def _nadam_update(xp, hyper, pd, gd, exp_avg, exp_avg_sq):
    """One parameter's (or one chunk's) update in place, with torch's single-tensor formulas."""
    (lr, one_minus_beta1, beta2, eps, weight_decay, decoupled, maximize, bias_correction2, grad_coef,
     avg_coef) = hyper
    gd = decayed_grad(pd, gd, weight_decay, maximize, lr if decoupled else None)
    _lerp_(exp_avg, gd, one_minus_beta1)
    exp_avg_sq *= beta2
    t = gd * (1 - beta2)  # addcmul: self + (value * t1) * t2
    t *= gd
    exp_avg_sq += t
    denom = exp_avg_sq / bias_correction2
    denom = xp.sqrt(denom)  # no out=: a 0-d parameter gives NumPy scalars
    denom += eps
    # two addcdiv_ calls: p + (value * t1) / t2
    t = gd * grad_coef
    t /= denom
    pd += t
    t = exp_avg * avg_coef
    t /= denom
    pd += t


class NAdam(Optimizer):
    """NAdam, with torch's single-tensor update formulas.

    State per parameter, as torch keeps it: 'step' and 'mu_product' (0-d CPU tensors of the
    scalar dtype: float32, or float64 under a float64 default dtype), 'exp_avg', 'exp_avg_sq'.
    """

    _sparse_refusal = "NAdam does not support sparse gradients"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_lr_eps_betas_wd(lr, eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        _check_not_differentiable(differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    _group_defaults = {"maximize": False, "foreach": None, "capturable": False, "differentiable": False,
                       "decoupled_weight_decay": False}
    _scalar_state_keys = ("step", "mu_product")

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
            momentum_decay = _to_float(group["momentum_decay"])
            decoupled = group["decoupled_weight_decay"]
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
                    st["step"] = _step_tensor(0.0)
                    st["mu_product"] = _step_tensor(1.0)
                    st["exp_avg"] = _wrap(xp.zeros_like(pd))
                    st["exp_avg_sq"] = _wrap(xp.zeros_like(pd))
                step_arr = st["step"]._data
                step_arr += 1
                step = float(step_arr)
                bias_correction2 = 1 - beta2 ** step
                # the momentum cache mu_t and mu_{t+1}
                mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
                mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
                mu_product_arr = st["mu_product"]._data
                mu_product_arr *= mu  # rounded to the state's dtype, as torch's 0-d tensor
                mu_product = float(mu_product_arr)
                mu_product_next = mu_product * mu_next
                hyper = (lr, 1 - beta1, beta2, eps, weight_decay, decoupled, maximize, bias_correction2,
                         -lr * (1.0 - mu) / (1.0 - mu_product), (-lr * mu_next) / (1.0 - mu_product_next))
                jobs.append((_nadam_update, (xp, hyper), (pd, gd, st["exp_avg"]._data, st["exp_avg_sq"]._data)))
                p._vc[0] += 1
            run_chunked(jobs)
        return loss
