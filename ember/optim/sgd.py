"""SGD: stochastic gradient descent with optional momentum and Nesterov (torch.optim.SGD)."""
from .._backend import xp_of
from .._tensor import _wrap
from .optimizer import Optimizer, _check_not_differentiable, _clone_array, _run_closure, _to_float

__all__ = ["SGD"]


def _scalars(like, *values):
    """values as 0-d arrays of like's dtype, in like's array module."""
    xp = xp_of(like)
    return tuple(xp.asarray(v, dtype=like.dtype) for v in values)


class SGD(Optimizer):
    """Stochastic gradient descent, with torch's single-tensor update formulas."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_not_differentiable(differentiable)
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def step(self, closure=None):
        """Perform a single optimization step; returns closure()'s loss when given."""
        loss = _run_closure(closure)

        state = self.state
        for group in self.param_groups:
            lr = _to_float(group["lr"])
            momentum = _to_float(group["momentum"])
            dampening = _to_float(group["dampening"])
            weight_decay = group["weight_decay"]
            nesterov = group["nesterov"]
            maximize = group["maximize"]
            if weight_decay != 0:
                weight_decay = _to_float(weight_decay)
            # plain: the gradient is used as given (no copy, no temporaries before the update)
            plain = not (maximize or weight_decay != 0)
            # the hyperparameters as 0-d arrays of each gradient dtype (the parameter's, unless its
            # grad_dtype differs: torch then computes in the gradient's): the same values a Python
            # float gives (NumPy casts it to the array's dtype), but an in-place update of a
            # small array takes half the time (0.25 vs 0.55 us)
            consts = {}
            if plain and momentum != 0 and dampening == 0 and not nesterov:
                # the common case (the tutorial's SGD(lr, momentum)) without the per-parameter
                # branches: buf = momentum * buf + grad; param -= lr * buf
                params = group["params"]
                plan = self._flat_plan(params)
                grads = plan.grads(params, state) if plan is not None else None
                if grads is not None:
                    _flat_momentum_step(plan, grads, params, lr, momentum)
                    continue
                self._step_momentum(params, state, lr, momentum, consts)
                self._replan(params, ("momentum_buffer",))
                continue
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                pd = p._data
                gd = g._data
                key = (pd.__class__, gd.dtype)
                c = consts.get(key)
                if c is None:
                    c = consts[key] = _scalars(gd, lr, momentum, 1 - dampening)
                lr_a, mom_a, damp_a = c
                owned = False  # gd is a temporary of ours that may be scaled in place
                if not plain:
                    if maximize:
                        gd = -gd
                        owned = True
                    if weight_decay != 0:
                        # torch: grad.add(param, alpha=weight_decay)
                        t = pd * weight_decay
                        t += gd
                        gd = t
                        owned = True
                if momentum != 0:
                    st = state[p]
                    buf = st.get("momentum_buffer")
                    if buf is None:
                        b = _clone_array(gd, pd)
                        st["momentum_buffer"] = _wrap(b)
                    else:
                        b = buf._data
                        b *= mom_a
                        if dampening != 0:
                            b += gd * damp_a
                        else:
                            b += gd
                    if nesterov:
                        # torch: grad.add(buf, alpha=momentum)
                        t = b * mom_a
                        t += gd
                        gd = t
                        owned = True
                    else:
                        gd = b
                        owned = False
                if owned:
                    gd *= lr_a
                    pd -= gd
                else:
                    pd -= gd * lr_a
                p._vc[0] += 1
        return loss

    @staticmethod
    def _step_momentum(params, state, lr, momentum, consts):
        cls = dt = None
        for p in params:
            g = p.grad
            if g is None:
                continue
            pd = p._data
            gd = g._data
            if gd.dtype is not dt or pd.__class__ is not cls:
                cls, dt = pd.__class__, gd.dtype
                key = (cls, dt)
                c = consts.get(key)
                if c is None:
                    c = consts[key] = _scalars(gd, lr, momentum)
                lr_a, mom_a = c
            st = state[p]
            buf = st.get("momentum_buffer")
            if buf is None:
                st["momentum_buffer"] = _wrap(_clone_array(gd, pd))
                pd -= gd * lr_a
            else:
                b = buf._data
                b *= mom_a
                b += gd
                pd -= b * lr_a
            p._vc[0] += 1


def _flat_momentum_step(plan, grads, params, lr, momentum):
    """SGD's common step on a FlatState of momentum buffers: buf = momentum * buf + grad over the
    flat array, param -= lr * buf per parameter (the per-parameter loop's arithmetic)."""
    c = plan.consts.get((lr, momentum))
    if c is None:
        plan.consts.clear()
        c = plan.consts[(lr, momentum)] = _scalars(plan.flats[0], lr, momentum)
    lr_a, momentum_a = c
    flat = plan.flats[0]
    flat *= momentum_a
    for view, g in zip(plan.views[0], grads):
        view += g
    plan.xp.multiply(flat, lr_a, out=plan.scratch)
    for p, step in zip(params, plan.scratch_views):
        p._data -= step
        p._vc[0] += 1
