"""Adadelta (torch.optim.Adadelta)."""
from .._backend import xp_of
from .._tensor import Tensor, _wrap
from .optimizer import (Optimizer, _check_not_differentiable, _run_closure, _step_tensor, _to_float,
                        decayed_grad, run_chunked)

__all__ = ["Adadelta"]


def _adadelta_update(xp, hyper, pd, gd, square_avg, acc_delta):
    """One parameter's (or one chunk's) update in place, with torch's single-tensor formulas."""
    lr, rho, eps, weight_decay, maximize = hyper
    gd = decayed_grad(pd, gd, weight_decay, maximize)
    square_avg *= rho
    t = gd * (1 - rho)  # addcmul: self + (value * t1) * t2
    t *= gd
    square_avg += t
    std = xp.sqrt(square_avg + eps)  # no out=: a 0-d parameter gives NumPy scalars
    delta = xp.sqrt(acc_delta + eps)
    delta /= std
    delta *= gd
    acc_delta *= rho
    t = delta * (1 - rho)
    t *= delta
    acc_delta += t
    delta *= -lr  # add_(delta, alpha=-lr)
    pd += delta


class Adadelta(Optimizer):
    """Adadelta, with torch's single-tensor update formulas."""

    _sparse_refusal = "Adadelta does not support sparse gradients"

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_not_differentiable(differentiable)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
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
            rho = _to_float(group["rho"])
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
                    st["square_avg"] = _wrap(xp.zeros_like(pd))
                    st["acc_delta"] = _wrap(xp.zeros_like(pd))
                step_arr = st["step"]._data
                step_arr += 1
                hyper = (lr, rho, eps, weight_decay, maximize)
                jobs.append((_adadelta_update, (xp, hyper), (pd, gd, st["square_avg"]._data, st["acc_delta"]._data)))
                p._vc[0] += 1
            run_chunked(jobs)
        return loss
