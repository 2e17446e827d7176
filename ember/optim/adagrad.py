"""Adagrad (torch.optim.Adagrad)."""
from .._backend import xp_of

from .._tensor import Tensor, _wrap
from ..autograd import graph
from .optimizer import (Optimizer, _check_not_differentiable, _run_closure, _step_tensor, _to_float,
                        decayed_grad, run_chunked, split_sparse)

__all__ = ["Adagrad"]


def _adagrad_update(xp, hyper, pd, gd, state_sum):
    """One parameter's (or one chunk's) update in place, with torch's single-tensor formulas."""
    clr, eps, weight_decay, maximize = hyper
    gd = decayed_grad(pd, gd, weight_decay, maximize)
    state_sum += gd * gd  # addcmul value=1
    std = xp.sqrt(state_sum)
    std += eps
    t = gd * clr  # addcdiv value=-clr: p + (value * t1) / t2
    t /= std
    pd -= t


def _sparse_adagrad(p, st, lr, lr_decay, eps, weight_decay, maximize):
    """torch's Adagrad step of a parameter with a sparse gradient: on the coalesced gradient's rows only, the
    squared values added into the sum there, the parameter moved by clr * grad / (sqrt(sum) + eps) there."""
    from ..ops import sparse as S
    step_arr = st["step"]._data
    step_arr += 1
    if weight_decay != 0:
        raise RuntimeError("weight_decay option is not compatible with sparse gradients (Adagrad: use "
                           "weight_decay=0 with sparse gradients)")
    step = float(step_arr)
    clr = lr / (1 + (step - 1) * lr_decay)
    c = p.grad._coo
    c = S.coalesce_raw(-c if maximize else c)   # (the update is not linear: one entry per row)
    at = tuple(c.indices)
    v = c.values
    state_sum = st["sum"]._data
    state_sum[at] += v * v
    std = xp_of(v).sqrt(state_sum[at])
    std += eps
    pd = p._data
    pd[at] += (v / std) * pd.dtype.type(-clr)
    p._vc[0] += 1


class Adagrad(Optimizer):
    """Adagrad, with torch's single-tensor update formulas; state exists from construction."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_not_differentiable(differentiable)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(self.state[p], p)

    def _init_state(self, st, p):
        st["step"] = _step_tensor()
        st["sum"] = _wrap(xp_of(p._data).full_like(p._data, self.defaults["initial_accumulator_value"]))

    _group_defaults = {"foreach": None, "maximize": False, "differentiable": False, "fused": None}
    _scalar_state_keys = ("step",)

    def share_memory(self):
        """Move the accumulated squared gradients into shared memory (Tensor.share_memory_), for Hogwild."""
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if st is None:
                    st = self.state[p] = {}
                    self._init_state(st, p)
                st["sum"].share_memory_()

    def step(self, closure=None):
        """Perform a single optimization step; returns closure()'s loss when given."""
        loss = _run_closure(closure)

        state = self.state
        for group in self.param_groups:
            lr = _to_float(group["lr"])
            lr_decay = _to_float(group["lr_decay"])
            eps = _to_float(group["eps"])
            weight_decay = _to_float(group["weight_decay"])
            maximize = group["maximize"]
            params = group["params"]
            if graph.sparse_grads[0]:   # (once a sparse .grad exists: the parameters that have one step apart)
                sparse, params = split_sparse(params)
                for p in sparse:
                    st = state[p]
                    if len(st) == 0:
                        self._init_state(st, p)
                    _sparse_adagrad(p, st, lr, lr_decay, eps, weight_decay, maximize)
            jobs = []
            for p in params:
                g = p.grad
                if g is None:
                    continue
                pd = p._data
                gd = g._data
                st = state[p]
                if len(st) == 0:
                    self._init_state(st, p)
                step_arr = st["step"]._data
                step_arr += 1
                step = float(step_arr)
                clr = lr / (1 + (step - 1) * lr_decay)
                hyper = (clr, eps, weight_decay, maximize)
                xp = xp_of(pd)
                jobs.append((_adagrad_update, (xp, hyper), (pd, gd, st["sum"]._data)))
                p._vc[0] += 1
            run_chunked(jobs)
        return loss
