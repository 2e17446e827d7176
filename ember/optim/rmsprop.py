"""RMSprop (torch.optim.RMSprop), with optional momentum and centering."""
from .._backend import xp_of

from .._tensor import Tensor, _wrap
from .adam import _lerp_
from .optimizer import (Optimizer, _check_not_differentiable, _run_closure, _step_tensor, _to_float,
                        decayed_grad, run_chunked)

__all__ = ["RMSprop"]


def _rmsprop_update(xp, hyper, pd, gd, square_avg, *buffers):
    """One parameter's (or one chunk's) update in place, with torch's single-tensor formulas; buffers: grad_avg
    when centered, then the momentum buffer when momentum > 0."""
    lr, alpha, eps, weight_decay, momentum, centered, maximize = hyper
    gd = decayed_grad(pd, gd, weight_decay, maximize)
    square_avg *= alpha
    t = gd * (1 - alpha)  # addcmul: self + (value * t1) * t2
    t *= gd
    square_avg += t
    if centered:
        grad_avg = buffers[0]
        _lerp_(grad_avg, gd, 1 - alpha)
        avg = grad_avg * -1.0
        avg *= grad_avg
        avg += square_avg
        avg = xp.sqrt(avg)
    else:
        avg = xp.sqrt(square_avg)
    avg += eps
    if momentum > 0:
        buf = buffers[-1]
        buf *= momentum
        buf += gd / avg  # addcdiv value=1
        pd -= buf * lr
    else:
        t = gd * lr  # addcdiv value=-lr: p + (value * t1) / t2
        t /= avg
        pd -= t


class RMSprop(Optimizer):
    """RMSprop, with torch's single-tensor update formulas."""

    _sparse_refusal = "RMSprop does not support sparse gradients"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        _check_not_differentiable(differentiable)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    _group_defaults = {"momentum": 0, "centered": False, "foreach": None, "maximize": False,
                       "differentiable": False, "capturable": False}
    _scalar_state_keys = ("step",)

    def step(self, closure=None):
        """Perform a single optimization step; returns closure()'s loss when given."""
        loss = _run_closure(closure)

        state = self.state
        for group in self.param_groups:
            lr = _to_float(group["lr"])
            alpha = _to_float(group["alpha"])
            eps = _to_float(group["eps"])
            weight_decay = _to_float(group["weight_decay"])
            momentum = _to_float(group["momentum"])
            centered = group["centered"]
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
                    st["square_avg"] = _wrap(xp.zeros_like(pd))
                    if momentum > 0:
                        st["momentum_buffer"] = _wrap(xp.zeros_like(pd))
                    if centered:
                        st["grad_avg"] = _wrap(xp.zeros_like(pd))
                step_arr = st["step"]._data
                step_arr += 1
                arrays = (pd, gd, st["square_avg"]._data)
                if centered:
                    arrays += (st["grad_avg"]._data,)
                if momentum > 0:
                    arrays += (st["momentum_buffer"]._data,)
                hyper = (lr, alpha, eps, weight_decay, momentum, centered, maximize)
                jobs.append((_rmsprop_update, (xp, hyper), arrays))
                p._vc[0] += 1
            run_chunked(jobs)
        return loss
