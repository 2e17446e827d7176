"""Rprop (torch.optim.Rprop): resilient backpropagation, per-element step sizes from gradient signs."""
from .._backend import xp_of
from .._tensor import Tensor, _wrap
from .optimizer import (Optimizer, _check_not_differentiable, _run_closure, _step_tensor, _to_float,
                        run_chunked)

__all__ = ["Rprop"]


def _rprop_update(xp, hyper, pd, gd, prev, step_size):
    """One parameter's (or one chunk's) update in place, with torch's single-tensor formulas."""
    etaminus, etaplus, step_size_min, step_size_max, maximize = hyper
    if maximize:
        gd = -gd
    sign = xp.asarray(gd * prev)  # an array even for a 0-d parameter: masks assign into it
    xp.sign(sign, out=sign)
    sign[sign > 0] = etaplus
    sign[sign < 0] = etaminus
    sign[sign == 0] = 1
    # update the step sizes, then step against the sign of the gradient
    step_size *= sign
    xp.clip(step_size, step_size_min, step_size_max, out=step_size)
    grad = xp.array(gd)
    grad[sign == etaminus] = 0  # the sign flipped: no step, and forget this gradient
    t = xp.sign(grad)  # addcmul_(grad.sign(), step_size, value=-1)
    t *= step_size
    pd -= t
    prev[...] = grad


class Rprop(Optimizer):
    """Rprop, with torch's single-tensor update formulas.

    State per parameter: 'step', 'prev' (the last gradient used) and 'step_size' (starts at lr).
    """

    _sparse_refusal = "Rprop does not support sparse gradients"

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False,
                 foreach=None, maximize=False, differentiable=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_not_differentiable(differentiable)
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
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
            etaminus, etaplus = (_to_float(e) for e in group["etas"])
            step_size_min, step_size_max = (_to_float(s) for s in group["step_sizes"])
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
                    st["prev"] = _wrap(xp.zeros_like(pd))
                    st["step_size"] = _wrap(xp.full_like(gd, _to_float(group["lr"])))
                step_arr = st["step"]._data
                step_arr += 1
                hyper = (etaminus, etaplus, step_size_min, step_size_max, maximize)
                jobs.append((_rprop_update, (xp, hyper), (pd, gd, st["prev"]._data, st["step_size"]._data)))
                p._vc[0] += 1
            run_chunked(jobs)
        return loss
