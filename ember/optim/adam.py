"""Adam (torch.optim.Adam), with optional AMSGrad and decoupled weight decay."""
from .._backend import xp_of
from .._tensor import Tensor, _wrap
from ..autograd.grad_mode import enable_grad
from .optimizer import Optimizer, _check_not_differentiable, _convert_steps, _step_tensor, _to_float

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

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)
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
