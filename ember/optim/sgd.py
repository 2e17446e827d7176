"""SGD: stochastic gradient descent with optional momentum and Nesterov (torch.optim.SGD)."""
import numpy as np

from .. import _backend as B
from .._backend import xp_of
from .._tensor import _wrap
from ..autograd import graph
from .optimizer import (_CENSUS_EVERY, Optimizer, _check_not_differentiable, _clone_array, _run_closure,
                        _to_float, bf16_alpha, decayed_grad, run_chunked, split_sparse)

__all__ = ["SGD"]


def _scalars(like, lr, momentum, damp=None):
    """lr, momentum (and damp, 1 - dampening) as 0-d arrays of like's dtype, in like's array module.  For
    bfloat16, float32 numbers as torch's kernels take them (the updates then compute in float32 and round
    once): lr and damp, alphas of add_, rounded to bfloat16; momentum, mul_'s factor, not."""
    values = (lr, momentum) if damp is None else (lr, momentum, damp)
    if like.dtype.kind == "V":
        return tuple(bf16_alpha(v) if i != 1 else np.float32(v) for i, v in enumerate(values))
    xp = xp_of(like)
    return tuple(xp.asarray(v, dtype=like.dtype) for v in values)


def _sgd_update(hyper, pd, gd, b=None):
    """One parameter's (or one chunk's) update in place, b its momentum buffer (None without momentum),
    with torch's single-tensor formulas."""
    lr_a, mom_a, damp_a, weight_decay, dampening, nesterov, maximize, first = hyper
    owned = maximize or weight_decay != 0  # gd is then a temporary of ours that may be scaled in place
    gd = decayed_grad(pd, gd, weight_decay, maximize)
    if b is not None:
        if first:
            b[...] = gd
        else:
            b *= mom_a
            if dampening != 0:
                b += gd * damp_a
            else:
                b += gd
        if nesterov:
            # torch: grad.add(buf, alpha=momentum)
            if b.dtype.kind == "V":   # (bfloat16: its kernel's rounded alpha, one rounding)
                gd = B.bf16_round(gd + bf16_alpha(float(mom_a)) * b)
            else:
                t = b * mom_a
                t += gd
                gd = t
            owned = True
        else:
            gd = b
            owned = False
    if owned and gd.dtype.kind != "V":   # (bfloat16: lr_a is float32, the product must stay unrounded)
        gd *= lr_a
        pd -= gd
    else:
        pd -= gd * lr_a


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
            params = group["params"]
            sparse = ()
            if graph.sparse_grads[0]:   # (once a sparse .grad exists: the parameters that have one step apart)
                sparse, params = split_sparse(params)
                if sparse:
                    _sparse_sgd(sparse, state, lr, momentum, dampening, weight_decay, nesterov, maximize)
            if plain and momentum != 0 and dampening == 0 and not nesterov and not sparse:
                # the common case (the tutorial's SGD(lr, momentum)) without the per-parameter
                # branches: buf = momentum * buf + grad; param -= lr * buf
                plan = self._flat_plan(params)
                grads = plan.grads(params, state) if plan is not None else None
                if grads is not None:
                    _flat_momentum_step(plan, grads, params, lr, momentum)
                    continue
                self._step_momentum(params, state, lr, momentum, consts)
                self._replan(params, ("momentum_buffer",))
                continue
            jobs = []
            for p in params:
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
                b = None
                first = False
                if momentum != 0:
                    st = state[p]
                    buf = st.get("momentum_buffer")
                    if buf is None:   # (filled with the first step's gradient: torch's clone)
                        b = xp_of(pd).empty_like(pd, dtype=gd.dtype)
                        st["momentum_buffer"] = _wrap(b)
                        first = True
                    else:
                        b = buf._data
                hyper = (lr_a, mom_a, damp_a, weight_decay, dampening, nesterov, maximize, first)
                jobs.append((_sgd_update, (hyper,), (pd, gd) if b is None else (pd, gd, b)))
                p._vc[0] += 1
            run_chunked(jobs)
        return loss

    @staticmethod
    def _step_momentum(params, state, lr, momentum, consts):
        jobs = []
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
                jobs.append((_momentum_update, (lr_a, mom_a), (pd, buf._data, gd)))
            p._vc[0] += 1
        run_chunked(jobs)


def _sparse_sgd(params, state, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """torch's SGD step of parameters with sparse gradients, in its sparse arithmetic: the momentum buffer is a
    sparse tensor (the first gradient cloned, then buf * momentum + (1 - dampening) * grad merged or
    concatenated as torch's add_), and the update adds the entries into the parameter; weight decay would add
    a dense tensor to a sparse one, which torch refuses."""
    from ..ops import sparse as S
    if weight_decay != 0:
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead. (SGD's "
                           "weight_decay adds the parameter to its sparse gradient: use weight_decay=0 with "
                           "sparse gradients)")
    for p in params:
        c = p.grad._coo
        if maximize:
            c = -c
        if momentum != 0:
            st = state[p]
            buf = st.get("momentum_buffer")
            if buf is None:
                b = c.copy()
                st["momentum_buffer"] = S._sparse(b)
            elif buf.is_sparse:
                b = S._add_coo(buf._coo * buf._coo.dtype.type(momentum), c, 1 - dampening)
                buf._coo = b
                buf._vc[0] += 1
            else:   # (a dense buffer from dense gradients: the sparse one adds into it)
                bd = buf._data
                bd *= momentum
                S._scatter_add(bd, c, 1 - dampening)
                b = bd
            if nesterov:
                c = S._add_coo(c, b, momentum) if type(b) is S.COO else S._add_dense(b * momentum, c)
            else:
                c = b
        pd = p._data
        if type(c) is S.COO:
            S._scatter_add(pd, c, -lr)
        else:
            pd -= c * pd.dtype.type(lr)
        p._vc[0] += 1


def _momentum_update(lr_a, mom_a, pd, bd, gd):
    """buf = momentum * buf + grad; param -= lr * buf, in place."""
    bd *= mom_a
    bd += gd
    pd -= bd * lr_a


# Entries of a momentum buffer that a step leaves as they are. Once a unit is dead (its gradient is
# exactly 0, step after step), buf = momentum * buf decays into the subnormals and stops, for good,
# at the few units of the last place that momentum * buf rounds back to (+-1..4 units for 0.9). Each
# subnormal costs the multiplies a microcode assist: in the benchmark's LeNet at batch 4, 5,800 of
# its 62,000 entries made this function take 142 us instead of 65 (torch pays the same). Every _CENSUS_EVERY
# steps a census lists them; the steps between zero them before the multiplies and put them back
# after, for the same bits.
_STUCK_MIN = 1024     # fewer cost less than the gathers that skip them


def _census(flat, lr_a, momentum_a):
    """The step's subnormal fixed points in flat (momentum * v == v, lr * v == 0): their indices, their
    values' bits, a buffer for them and the indices of the negative ones; None if too few."""
    # the magnitudes' bits: subnormals are the nonzero ones below the smallest normal's
    ints = f"i{flat.itemsize}"
    magnitude = flat.view(ints) & np.iinfo(ints).max
    smallest_normal = np.array(np.finfo(flat.dtype).smallest_normal, flat.dtype).view(ints)
    subnormal = (magnitude < smallest_normal) & (magnitude > 0)
    if np.count_nonzero(subnormal) < _STUCK_MIN:
        return None
    index = np.flatnonzero(subnormal)
    values = flat[index]
    fixed = (values * momentum_a == values) & (values * lr_a == 0)
    if np.count_nonzero(fixed) < _STUCK_MIN:
        return None
    index, values = index[fixed], values[fixed]
    return index, values.view(f"i{values.itemsize}"), np.empty_like(values), index[values < 0]


def _flat_momentum_step(plan, grads, params, lr, momentum):
    """SGD's common step on a FlatState of momentum buffers: buf = momentum * buf + grad over the
    flat array, param -= lr * buf per parameter (the per-parameter loop's arithmetic)."""
    c = plan.consts.get((lr, momentum))
    if c is None:
        plan.consts.clear()
        c = plan.consts[(lr, momentum)] = _scalars(plan.flats[0], lr, momentum)
    lr_a, momentum_a = c
    flat = plan.flats[0]
    stuck = plan.stuck
    if stuck is not None:
        consts, index, bits, taken, negative = stuck
        # (a new lr or momentum, or a user's write into the buffers, ends the census's word; the
        # values are compared as integers: a float comparison of subnormals takes assists too)
        flat.take(index, out=taken)
        if consts is not c or not (taken.view(bits.dtype) == bits).all():
            stuck = plan.stuck = None
        else:
            flat[index] = 0
    flat *= momentum_a
    for view, g in zip(plan.views[0], grads):
        view += g
    if stuck is not None:
        flat.take(index, out=taken)   # their gradients: 0 * momentum + g, never -0.0
        if taken.view(bits.dtype).any():
            # momentum * v rounds to v (the census), so the buffer's new value is v + g
            taken += bits.view(taken.dtype)
            flat[index] = taken
            stuck = plan.stuck = None
    plan.xp.multiply(flat, lr_a, out=plan.scratch)
    if stuck is not None:
        plan.scratch[negative] = -0.0   # lr * v for v < 0: p - (-0.0) turns a -0.0 weight into +0.0
        flat[index] = bits.view(flat.dtype)
    for p, step in zip(params, plan.scratch_views):
        p._data -= step
        p._vc[0] += 1
    plan.census_in -= 1
    if plan.census_in <= 0:
        plan.census_in = _CENSUS_EVERY
        if plan.xp is np and flat.dtype in (np.float32, np.float64):
            found = _census(flat, lr_a, momentum_a)
            plan.stuck = None if found is None else (c,) + found
