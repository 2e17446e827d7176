"""SGD: stochastic gradient descent with optional momentum and Nesterov (torch.optim.SGD)."""
import sys

from .._backend import xp_of
from .._tensor import _wrap
from ..autograd.graph import _STEAL
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

    @property
    def _momentum_plans(self):
        # kept out of __getstate__ (pickles and deep copies get none, and make their own): a copied
        # plan would update a copied flat buffer that the copied state tensors no longer view
        plans = self.__dict__.get("_plans")
        if plans is None:
            plans = self.__dict__["_plans"] = {}
        return plans

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
                plans = self._momentum_plans
                plan = plans.get(id(params))
                flat = plan.__class__ is _FlatMomentum
                if flat and plan.step(params, state, lr, momentum):
                    continue
                self._step_momentum(params, state, lr, momentum, consts)
                if flat and plan.params is params and plan.intact(state):
                    continue
                # a failed attempt is retried once the state has changed (new buffers, a load)
                if flat or plan != (id(state), len(state)):
                    plans[id(params)] = _FlatMomentum.make(params, state) or (id(state), len(state))
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


# above this many elements the per-parameter loop's call overhead no longer matters, and the flat
# scratch would cost as much memory as the parameters
_FLAT_MAX = 1 << 22


class _FlatMomentum:
    """A group's momentum buffers as views of one flat array, so that SGD's common step
    (buf = momentum * buf + grad; param -= lr * buf) is two flat ufunc calls and two per-parameter
    ones instead of four per parameter (LeNet's 10 parameters: 22 NumPy calls instead of 40).

    The buffers stay the state's own tensors (only their memory moves, once, when nothing else
    views it), and the arithmetic is the per-parameter loop's, element for element. Any step that
    does not fit (a missing gradient, a replaced buffer or parameter, another dtype) runs the
    per-parameter loop instead, which updates the same views."""

    __slots__ = ("params", "members", "arrays", "views", "flat", "scratch", "scratch_views", "xp",
                 "lr", "momentum", "lr_a", "momentum_a")

    @classmethod
    def make(cls, params, state):
        """A plan for params, or None when their buffers cannot share one array."""
        if not _STEAL or len(params) < 2:
            return None
        first = params[0]._data
        kind, dtype = first.__class__, first.dtype
        buffers, seen, total = [], set(), 0
        for p in params:
            entry = state.get(p)
            buf = entry.get("momentum_buffer") if entry else None
            if buf is None or id(p) in seen:
                return None
            seen.add(id(p))
            b = buf._data
            if b.__class__ is not kind or b.dtype != dtype or p._data.dtype != dtype \
                    or b.shape != p._data.shape or not b.flags.c_contiguous:
                return None
            # 3: the tensor's slot, `b` and the argument; more means a NumPy view or .numpy() of
            # the buffer is alive, which moving the buffer would silently detach
            if sys.getrefcount(b) != 3:
                return None
            buffers.append(buf)
            total += b.size
        if total > _FLAT_MAX:
            return None
        plan = cls()
        plan.xp = xp = xp_of(first)
        plan.flat = xp.empty(total, dtype)
        plan.scratch = xp.empty(total, dtype)
        views, scratch_views, start = [], [], 0
        for buf in buffers:
            shape, end = buf._data.shape, start + buf._data.size
            view = plan.flat[start:end].reshape(shape)
            view[...] = buf._data
            buf._data = view
            views.append(view)
            scratch_views.append(plan.scratch[start:end].reshape(shape))
            start = end
        plan.params = params
        plan.members = tuple(params)
        plan.arrays = tuple(p._data for p in params)
        plan.views = tuple(views)
        plan.scratch_views = tuple(scratch_views)
        plan.lr = plan.momentum = None
        return plan

    def intact(self, state):
        """True while every buffer of the plan is still its parameter's momentum buffer."""
        for p, view in zip(self.members, self.views):
            entry = state.get(p)
            buf = entry.get("momentum_buffer") if entry else None
            if buf is None or buf._data is not view:
                return False
        return True

    def step(self, params, state, lr, momentum):
        """The flat update; False (nothing changed) when this step does not fit the plan."""
        if params is not self.params or len(params) != len(self.members):
            return False
        grads = []
        for p, member, array, view in zip(params, self.members, self.arrays, self.views):
            g = p.grad
            if p is not member or g is None:
                return False
            buf = state[p].get("momentum_buffer")
            if buf is None or buf._data is not view:
                return False
            pd = p._data
            if pd is not array and (pd.__class__ is not view.__class__ or pd.dtype != view.dtype
                                    or pd.shape != view.shape):
                return False
            grads.append(g._data)
        if lr != self.lr or momentum != self.momentum:
            self.lr, self.momentum = lr, momentum
            self.lr_a, self.momentum_a = _scalars(self.flat, lr, momentum)
        flat = self.flat
        flat *= self.momentum_a
        for view, g in zip(self.views, grads):
            view += g
        self.xp.multiply(flat, self.lr_a, out=self.scratch)
        for p, step in zip(params, self.scratch_views):
            p._data -= step
            p._vc[0] += 1
        return True
