"""Adam (torch.optim.Adam), with optional AMSGrad and decoupled weight decay."""
import numpy as np

from .. import _backend as B
from .._backend import xp_of
from .._fma import fma32
from .._tensor import Tensor, _wrap
from .optimizer import (_CENSUS_EVERY, Optimizer, _check_lr_eps_betas_wd, _check_not_differentiable, _run_closure,
                        _step_tensor, _to_float, bf16_alpha, decayed_grad, run_chunked)

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


def _adam_update(xp, hyper, pd, gd, exp_avg, exp_avg_sq, max_sq=None):
    """One parameter's (or one chunk's) update in place, with torch's single-tensor formulas."""
    lr, one_minus_beta1, beta2, eps, weight_decay, decoupled, maximize, step_size, bias_correction2_sqrt = hyper
    gd = decayed_grad(pd, gd, weight_decay, maximize, lr if decoupled else None)
    _lerp_(exp_avg, gd, one_minus_beta1)
    exp_avg_sq *= beta2
    t = gd * (1 - beta2)  # torch's addcmul: self + (value * t1) * t2
    t *= gd
    exp_avg_sq += t
    if max_sq is not None:
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


def _adam_update_bf16(xp, hyper, pd, gd, exp_avg, exp_avg_sq, max_sq=None):
    """_adam_update for bfloat16 arrays, rounding where torch's kernels do: each of lerp_, mul_, addcmul_,
    sqrt, the division, add_(eps) and addcdiv_ computes in float32 (with the fused multiply-adds torch's
    compiler makes of lerp and addcmul) and rounds once; add_'s number (eps) is rounded to bfloat16 first,
    the other numbers are float32."""
    lr, one_minus_beta1, beta2, eps, weight_decay, decoupled, maximize, step_size, bias_correction2_sqrt = hyper
    f, rnd = np.float32, B.bf16_round
    g = decayed_grad(pd, gd, weight_decay, maximize, lr if decoupled else None).astype(f)
    ea = exp_avg.astype(f)
    w = f(one_minus_beta1)
    # torch's lerp_vec: fma(w, end - start, start), or fma(w - 1, end - start, end) for |w| >= 0.5
    if abs(one_minus_beta1) < 0.5:
        exp_avg[...] = rnd(fma32(w, g - ea, ea))
    else:
        exp_avg[...] = rnd(fma32(w - f(1), g - ea, g))
    sq = rnd(exp_avg_sq.astype(f) * f(beta2)).astype(f)
    exp_avg_sq[...] = rnd(fma32(f(1 - beta2) * g, g, sq))   # (self + value * t1 * t2)
    if max_sq is not None:
        xp.maximum(max_sq, exp_avg_sq, out=max_sq)
    denom = B.bf16_through(xp.sqrt((exp_avg_sq if max_sq is None else max_sq).astype(f)))
    denom = B.bf16_through(denom / f(bias_correction2_sqrt))
    denom = B.bf16_through(denom + bf16_alpha(eps))
    pd[...] = rnd(pd.astype(f) + f(-step_size) * exp_avg.astype(f) / denom)


class Adam(Optimizer):
    """Adam, with torch's single-tensor update formulas."""

    _sparse_refusal = "Adam does not support sparse gradients, please consider SparseAdam instead"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_lr_eps_betas_wd(lr, eps, betas, weight_decay)
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

    _group_defaults = {"amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                       "differentiable": False, "decoupled_weight_decay": False, "fused": None}
    _scalar_state_keys = ("step",)

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
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            one_minus_beta1 = 1 - beta1
            params = group["params"]
            # the common configurations (Adam, AdamW) on a FlatState of the two averages
            flat_ok = not (amsgrad or maximize or (weight_decay != 0 and not decoupled))
            if flat_ok:
                plan = self._flat_plan(params)
                grads = plan.grads(params, state) if plan is not None else None
                if grads is not None and _flat_adam_step(plan, grads, params, state, lr, beta1, beta2, eps,
                                                         weight_decay):
                    continue
            jobs = []
            for p in params:
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
                step = float(step_arr)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                step_size = lr / bias_correction1
                bias_correction2_sqrt = bias_correction2 ** 0.5
                arrays = (pd, gd, st["exp_avg"]._data, st["exp_avg_sq"]._data)
                if amsgrad:
                    arrays += (st["max_exp_avg_sq"]._data,)
                hyper = (lr, one_minus_beta1, beta2, eps, weight_decay, decoupled, maximize, step_size,
                         bias_correction2_sqrt)
                jobs.append((_adam_update if pd.dtype.kind != "V" else _adam_update_bf16, (xp, hyper), arrays))
                p._vc[0] += 1
            run_chunked(jobs)
            if flat_ok:
                arrays = jobs = None   # (a live reference would read as a view someone keeps)
                self._replan(params, ("exp_avg", "exp_avg_sq"))
        return loss


_ADAM_CHUNK = 1 << 15
_STUCK_MIN = 4096
_STUCK_RUN = 64   # the least mean length of the stuck and live runs


# Entries of exp_avg that a step leaves as they are. A dead unit's gradient is exactly 0, step after
# step, and exp_avg.lerp_(0, 1 - beta1) decays into the subnormals and stops, for good, at the few
# units of the last place that the lerp rounds back to (+-1..5 units for beta1 = 0.9). Each one costs
# the multiplies reading it a microcode assist: in the PyTorch examples' VAE (benchmarks/
# small_models.py) 37 % of exp_avg was stuck after 1,500 steps, and Adam's update took 3.9 ms
# instead of 1.8 (torch pays the same). Every _CENSUS_EVERY steps a census marks them; the steps
# between leave them out of the multiplies (ufuncs' where=), for the same bits.
def _adam_census(exp_avg, weight, step_size, key):
    """(key, the stuck and live masks, the stuck entries' indices and bits) when enough is stuck:
    subnormals of at most K units, K the largest count the lerp towards 0 keeps and step_size * v
    rounds to 0 for (both hold for smaller counts, and for the smaller step sizes to come)."""
    ints = f"i{exp_avg.itemsize}"
    units = np.arange(1, 1024, dtype=ints).view(exp_avg.dtype)
    kept = units.copy()
    _lerp_(kept, np.zeros_like(units), weight)
    fixed = (kept == units) & (units * step_size == 0)
    top = int(np.argmin(fixed)) if not fixed.all() else fixed.size
    magnitude = exp_avg.view(ints) & np.iinfo(ints).max
    stuck = (magnitude > 0) & (magnitude <= top)
    # the checks and masked passes cost about two passes over the arrays, and a masked pass over
    # short runs much more (650K entries in runs of 4: 770 us, of 64: 320, unmasked: 210)
    n = exp_avg.size
    if (np.count_nonzero(stuck) < max(_STUCK_MIN, n // 5)
            or np.count_nonzero(stuck[1:] != stuck[:-1]) * _STUCK_RUN > n):
        return None
    index = np.flatnonzero(stuck)
    # (the update already holds their step_size * v / denom, +-0, which the steps leave in place)
    return key, stuck, ~stuck, index, exp_avg.view(ints)[index]


def _stuck_live(plan, grads, key):
    """The mask of exp_avg's entries this step updates, or None for all: the census's stuck entries
    are left out while their gradients are 0 and nobody wrote into them."""
    if plan.stuck is None:
        return None
    held, stuck, live, index, bits = plan.stuck
    ints = bits.dtype
    # (-0.0 gradients count as 0: the lerp towards them keeps the entries too)
    if (held != key or np.bitwise_or.reduce(grads.view(ints), where=stuck, initial=0) & np.iinfo(ints).max
            or not np.array_equal(plan.flats[0].view(ints).take(index), bits)):
        plan.stuck = None
        return None
    return live


def _flat_adam_step(plan, grads, params, state, lr, beta1, beta2, eps, weight_decay):
    """The per-parameter loop's update (no amsgrad or maximize; weight decay decoupled, if any) with
    one ufunc call per operation over the flat averages; False, with nothing changed, when the
    parameters' step counts differ (their bias corrections would)."""
    steps = [state[p]["step"]._data for p in params]
    first = float(steps[0])
    for s in steps:
        if float(s) != first:
            return False
    for s in steps:
        s += 1
    step = float(steps[0])
    exp_avg, exp_avg_sq = plan.flats
    g = plan.consts.get("grads")
    if g is None:   # the gradients gathered into one array, laid out as the averages
        g = plan.consts["grads"] = plan.xp.empty_like(exp_avg)
        views, start = [], 0
        for v in plan.views[0]:
            views.append(g[start:start + v.size].reshape(v.shape))
            start += v.size
        plan.consts["grad_views"] = tuple(views)
    for view, gd in zip(plan.consts["grad_views"], grads):
        view[...] = gd
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2 ** 0.5
    upd = plan.scratch
    xp = plan.xp
    n = exp_avg.size
    weight = 1 - beta1
    # the update's ten passes run over chunks of the arrays that stay in cache together, each
    # element's arithmetic unchanged (Adam over 650K parameters: 2.16 -> 1.26 ms; 2M: 6.4 -> 3.8)
    chunk = _ADAM_CHUNK if xp is np and n > 4 * _ADAM_CHUNK else n
    live = _stuck_live(plan, g, (lr, beta1))
    for lo in range(0, n, chunk):
        hi = lo + chunk
        ea, es, gc, uc = exp_avg[lo:hi], exp_avg_sq[lo:hi], g[lo:hi], upd[lo:hi]
        if live is None:
            _lerp_(ea, gc, weight)
        else:   # exp_avg.lerp_(grad, weight) off the stuck entries (weight < 0.5: start + weight * diff)
            lv = live[lo:hi]
            diff = gc - ea
            np.multiply(diff, weight, out=diff, where=lv)
            np.add(ea, diff, out=ea, where=lv)
        es *= beta2
        t = gc * (1 - beta2)   # torch's addcmul: self + (value * t1) * t2
        t *= gc
        es += t
        denom = xp.sqrt(es)
        denom /= bias_correction2_sqrt
        denom += eps
        # torch's addcdiv_(exp_avg, denom, value=-step_size): p + (value * t1) / t2
        if live is None:
            xp.multiply(ea, step_size, out=uc)
        else:   # (the stuck entries of uc hold the signed zeros of step_size * exp_avg)
            np.multiply(ea, step_size, out=uc, where=live[lo:hi])
        uc /= denom
    decay = 1 - lr * weight_decay
    for p, u in zip(params, plan.scratch_views):
        pd = p._data
        if weight_decay != 0:
            pd *= decay   # (decoupled: torch scales the parameter before the averages; they don't read it)
        pd -= u
        p._vc[0] += 1
    plan.census_in -= 1
    if plan.census_in <= 0:
        plan.census_in = _CENSUS_EVERY
        plan.stuck = None
        if xp is np and exp_avg.dtype in (np.float32, np.float64) and weight < 0.5 and eps > 0:
            plan.stuck = _adam_census(exp_avg, weight, step_size, (lr, beta1))
    return True
