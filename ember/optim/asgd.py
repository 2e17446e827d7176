"""ASGD (torch.optim.ASGD): averaged stochastic gradient descent."""
from .._backend import xp_of
from .._tensor import Tensor, _wrap
from .optimizer import (Optimizer, _check_not_differentiable, _run_closure, _scalar_dtype, _step_tensor, _to_float,
                        chunks, decayed_grad)

__all__ = ["ASGD"]


def _asgd_update(hyper, pd, gd, ax):
    """One parameter's (or one chunk's) update in place, with torch's single-tensor formulas; mu is the 0-d
    state as this step reads it, None while it is 1 (ax then copies the parameter)."""
    lambd, eta, mu, weight_decay, maximize = hyper
    gd = decayed_grad(pd, gd, weight_decay, maximize)
    pd *= 1 - lambd * eta  # decay term
    pd += gd * -eta  # add_(grad, alpha=-eta)
    # averaging
    if mu is not None:
        t = pd - ax
        t *= t.dtype.type(mu)  # torch casts the 0-d 'mu' to the parameter's dtype
        ax += t
    else:
        ax[...] = pd


class ASGD(Optimizer):
    """ASGD, with torch's single-tensor update formulas.

    State per parameter: 'step', 'eta' (the current step size) and 'mu' (the averaging weight) as
    0-d tensors of the scalar dtype, and 'ax' (the running average of the parameter).
    """

    _sparse_refusal = "ASGD does not support sparse gradients"

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_not_differentiable(differentiable)
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    _group_defaults = {"foreach": None, "maximize": False, "differentiable": False, "capturable": False}
    _scalar_state_keys = ("step", "eta", "mu")

    def step(self, closure=None):
        """Perform a single optimization step; returns closure()'s loss when given."""
        loss = _run_closure(closure)

        state = self.state
        scalar_dtype = _scalar_dtype()
        for group in self.param_groups:
            lr = _to_float(group["lr"])
            lambd = _to_float(group["lambd"])
            alpha = _to_float(group["alpha"])
            t0 = _to_float(group["t0"])
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
                    st["eta"] = _step_tensor(lr)
                    st["mu"] = _step_tensor(1.0)
                    st["ax"] = _wrap(xp.zeros_like(pd))
                step_arr = st["step"]._data
                step_arr += 1
                eta_arr = st["eta"]._data
                mu_arr = st["mu"]._data
                hyper = (lambd, float(eta_arr), mu_arr if float(mu_arr) != 1 else None, weight_decay, maximize)
                for pieces in chunks(pd, gd, st["ax"]._data):
                    _asgd_update(hyper, *pieces)
                step = float(step_arr)
                # torch builds each new value as a default-dtype tensor before copying it into the
                # state: round through that dtype too (it matters once a load made the state float64)
                eta_arr[...] = scalar_dtype(lr / ((1 + lambd * lr * step) ** alpha))
                mu_arr[...] = scalar_dtype(1 / max(1, step - t0))
                p._vc[0] += 1
        return loss
