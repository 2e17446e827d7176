"""Optimizer: the base class of every optimizer (torch.optim.Optimizer).

Parameter groups, per-parameter state, ``zero_grad``, ``state_dict`` /
``load_state_dict`` in PyTorch's layout, step/state-dict hooks and ``__repr__``
behave as in PyTorch. Subclasses update ``p._data`` in place with NumPy (or
CuPy, through NumPy's dispatch) on raw arrays: no autograd graph is recorded,
so ``step`` needs no ``no_grad`` block.
"""
import functools
import itertools
import sys
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from copy import deepcopy
from typing import Any, Dict, Tuple, Union

import numpy as np

from .. import _backend as B
from .. import _threads
from .._tensor import Tensor, _grad_slot, _wrap, typename as _typename
from ..autograd import graph
from ..utils.hooks import RemovableHandle
from .._userwarn import warn as _warn_user
from ..autograd.grad_mode import enable_grad

__all__ = ["Optimizer", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]

# the type aliases torch exports here, which custom optimizers import for their signatures
# (``from torch.optim.optimizer import ParamsT``)
ParamsT = Union[Iterable[Tensor], Iterable[Dict[str, Any]], Iterable[Tuple[str, Tensor]]]
StateDict = Dict[str, Any]

_global_optimizer_pre_hooks = OrderedDict()
_global_optimizer_post_hooks = OrderedDict()


class _RequiredParameter:
    """Singleton class representing a required parameter for an Optimizer."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _scalar_dtype():
    """The dtype of 'step' state tensors: float64 under a float64 default dtype, else float32."""
    return np.float64 if B.get_default_dtype() is B.float64 else np.float32


def _step_tensor(value=0.0):
    """A CPU 0-d tensor holding a step count, as torch stores 'step'."""
    return _wrap(np.array(value, dtype=_scalar_dtype()))


def _clone_array(x, like):
    """A fresh array of x's dtype in ``like``'s shape and layout holding ``x`` (x may be a NumPy
    scalar for 0-d params; a gradient kept in another dtype, grad_dtype, keeps it, as torch's clone)."""
    out = B.xp_of(like).empty_like(like, dtype=x.dtype)
    out[...] = x
    return out


def _to_float(x):
    """A hyperparameter as a Python float (1-element Tensors too), so float32 math stays float32."""
    return x if type(x) is float else float(x)


def _run_closure(closure):
    """closure() with grad enabled (step(closure) re-evaluates the loss), or None without one."""
    if closure is None:
        return None
    with enable_grad():
        return closure()


def _check_lr_eps_betas_wd(lr, eps, betas, weight_decay):
    """torch's ValueErrors for the hyperparameters Adam-like optimizers share."""
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


def _convert_steps(optimizer, scalar_key="step"):
    """Turn Python-number 'step' entries (old checkpoints) into 0-d tensors, as torch's __setstate__."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            p_state = optimizer.state.get(p, None)
            if p_state and scalar_key in p_state and not isinstance(p_state[scalar_key], Tensor):
                p_state[scalar_key] = _step_tensor(float(p_state[scalar_key]))


def _refuse_sparse_grads(opt):
    """torch's RuntimeError when an optimizer without a sparse update meets a sparse gradient."""
    for group in opt.param_groups:
        for p in group["params"]:
            g = p.grad
            if g is not None and g.is_sparse:
                raise RuntimeError(opt._sparse_refusal)


def split_sparse(params):
    """The parameters whose .grad is sparse (embedding(sparse=True)'s), and the others (params itself when none
    is); optimizers with a sparse update ask only once a sparse .grad has been made (graph.sparse_grads)."""
    sparse = [p for p in params if p.grad is not None and p.grad.is_sparse]
    if not sparse:
        return sparse, params
    ids = {id(p) for p in sparse}
    return sparse, [p for p in params if id(p) not in ids]


def _hook_step(step):
    """Wrap a class's step so step pre/post hooks (global and per optimizer) run around it."""

    @functools.wraps(step)
    def wrapper(*args, **kwargs):
        # as torch, the hooks see args with the optimizer first: hook(opt, (opt, *step_args), kwargs),
        # and (new_args, new_kwargs) returned by a pre-hook are passed to step as step(*new_args)
        self = args[0]
        if graph.sparse_grads[0] and self._sparse_refusal is not None:
            # (only once some parameter has had a sparse .grad: the dense steps look at no layout)
            _refuse_sparse_grads(self)
        if self._optimizer_step_pre_hooks or _global_optimizer_pre_hooks:
            for pre_hook in itertools.chain(_global_optimizer_pre_hooks.values(),
                                            self._optimizer_step_pre_hooks.values()):
                result = pre_hook(self, args, kwargs)
                if result is not None:
                    if isinstance(result, tuple) and len(result) == 2:
                        args, kwargs = result
                    else:
                        raise RuntimeError(
                            f"{step} must return None or a tuple of (new_args, new_kwargs), but got "
                            f"{result}.")
        out = step(*args, **kwargs)
        if self._optimizer_step_post_hooks or _global_optimizer_post_hooks:
            for post_hook in itertools.chain(self._optimizer_step_post_hooks.values(),
                                             _global_optimizer_post_hooks.values()):
                post_hook(self, args, kwargs)
        return out

    wrapper.hooked = True
    return wrapper


# above this many elements per key the per-parameter loop's call overhead no longer matters, and a
# flat scratch array would cost as much memory as the parameters
_FLAT_MAX = 1 << 22


# A large parameter's update runs over chunks of this many elements that stay in cache together:
# each of its passes then reads and writes the cache, not memory, and no temporary as large as the
# parameter is made (a fresh one per step is mapped and faulted in anew)
_CHUNK = 1 << 16


def chunks(*arrays):
    """Matching 1-d pieces of _CHUNK elements of equally shaped arrays, for an elementwise update run
    piece by piece; the arrays themselves (one piece) unless they are large C-contiguous ndarrays."""
    first = arrays[0]
    if first.size <= 4 * _CHUNK or first.__class__ is not np.ndarray \
            or not all(a.__class__ is np.ndarray and a.flags.c_contiguous and a.shape == first.shape
                       for a in arrays):
        return (arrays,)
    flat = [a.reshape(-1) for a in arrays]
    return (tuple(a[lo:lo + _CHUNK] for a in flat) for lo in range(0, first.size, _CHUNK))


# A step over at least this many elements shares its chunks out among the threads (run_chunked): the
# passes are bound by one core's memory bandwidth, and each core brings its own (SGD with momentum
# and weight decay over resnet18's 11M parameters, two cores: 23 -> 14 ms; torch 14.6)
_PAR_MIN = 1 << 20


def run_chunked(jobs):
    """fn(*args, *pieces) for the matching pieces (chunks) of each job's arrays, jobs being
    (fn, args, arrays) tuples: on this thread, or, for a step over _PAR_MIN elements or more of host
    arrays, in runs of consecutive pieces shared among the threads (each piece is updated once,
    elementwise, so the bits are the same either way)."""
    work = [(fn, args, pieces) for fn, args, arrays in jobs for pieces in chunks(*arrays)]
    nw = 1
    if sum(arrays[0].size for _, _, arrays in jobs) >= _PAR_MIN \
            and all(arrays[0].__class__ is np.ndarray for _, _, arrays in jobs):
        nw = min(_threads.get_num_threads(), len(work))
    if nw <= 1:
        for fn, args, pieces in work:
            fn(*args, *pieces)
        return

    def run(s, e):
        for fn, args, pieces in work[s:e]:
            fn(*args, *pieces)
    # four runs a thread: the caller takes those a helper slow to wake has not started
    n = len(work)
    _threads.run_blocks(run, n, (-(-n // (4 * nw)), nw))


def decayed_grad(pd, gd, weight_decay, maximize, lr=None):
    """The gradient an update uses: negated under maximize, plus weight_decay * param (torch's
    grad.add(param, alpha=weight_decay)); with lr, the decay is decoupled instead: the parameter is
    scaled in place by 1 - lr * weight_decay (AdamW's)."""
    if maximize:
        gd = -gd
    if weight_decay != 0:
        if pd.dtype.kind == "V":   # bfloat16, as torch's kernels: mul_ by a float32 number, add_ with a rounded alpha
            if lr is not None:
                pd *= np.float32(1 - lr * weight_decay)
            else:
                gd = B.bf16_round(gd + bf16_alpha(weight_decay) * pd)
        elif lr is not None:
            pd *= 1 - lr * weight_decay
        else:
            t = pd * weight_decay
            t += gd
            gd = t
    return gd


def bf16_alpha(x):
    """The number x as torch's bfloat16 kernels take an alpha= (add_(t, alpha=x)): rounded to bfloat16, as
    a float32 scalar (so that x * array computes in float32, exactly)."""
    return B.bf16_number(x)


# Steps between two censuses of the flat state's subnormal fixed points (sgd._census, adam._adam_census);
# a census of LeNet's 62,000 momentum entries takes ~150 us
_CENSUS_EVERY = 128


class FlatState:
    """Per-parameter state tensors of a group (SGD's momentum buffers, Adam's averages) as views of
    one flat array per state key, so that an optimizer step updates every parameter with one ufunc
    call per operation instead of one per parameter (LeNet's 10 parameters: SGD makes 22 NumPy calls
    instead of 40, Adam 42 instead of 140).

    The state tensors stay the same objects (only their memory moves, once, when nothing else views
    it), and the arithmetic is the per-parameter loop's, element for element. A step that does not fit
    (a missing gradient, a replaced state tensor or parameter) runs the per-parameter loop instead,
    which updates the same views."""

    __slots__ = ("params", "members", "arrays", "keys", "flats", "views", "scratch", "scratch_views", "xp",
                 "consts", "stuck", "census_in")

    @classmethod
    def make(cls, params, state, keys):
        """The plan for params' state tensors under keys, or None when they cannot share arrays."""
        if not graph._STEAL or len(params) < 2:
            return None
        first = params[0]._data
        kind, dtype = first.__class__, first.dtype
        if dtype.kind == "V":   # bfloat16: the per-parameter updates round as torch's kernels, the flat ones don't
            return None
        tensors, seen, total = [], set(), 0
        for p in params:
            entry = state.get(p)
            if not entry or id(p) in seen:
                return None
            seen.add(id(p))
            pd = p._data
            if pd.__class__ is not kind or pd.dtype != dtype:
                return None
            row = []
            for key in keys:
                t = entry.get(key)
                if t is None or t.is_sparse:   # (a sparse momentum buffer: SGD's of sparse gradients)
                    return None
                a = t._data
                if a.__class__ is not kind or a.dtype != dtype or a.shape != pd.shape or not a.flags.c_contiguous:
                    return None
                # 3: the tensor's slot, `a` and the argument; more means a NumPy view or .numpy() of
                # the state is alive, which moving it would silently detach
                if sys.getrefcount(a) != 3:
                    return None
                row.append(t)
            tensors.append(row)
            total += pd.size
        if total > _FLAT_MAX:
            return None
        plan = cls()
        plan.xp = xp = B.xp_of(first)
        plan.keys = tuple(keys)
        plan.flats = tuple(xp.empty(total, dtype) for _ in keys)
        plan.scratch = xp.empty(total, dtype)
        views = [[] for _ in keys]
        scratch_views, start = [], 0
        for row in tensors:
            shape = row[0]._data.shape
            end = start + row[0]._data.size
            for k, t in enumerate(row):
                view = plan.flats[k][start:end].reshape(shape)
                view[...] = t._data
                t._data = view
                views[k].append(view)
            scratch_views.append(plan.scratch[start:end].reshape(shape))
            start = end
        plan.params = params
        plan.members = tuple(params)
        plan.arrays = tuple(p._data for p in params)
        plan.views = tuple(tuple(v) for v in views)
        plan.scratch_views = tuple(scratch_views)
        plan.consts = {}
        plan.stuck = None     # the state's subnormal fixed points (sgd._census, adam._adam_census)
        plan.census_in = 1
        return plan

    def intact(self, state):
        """True while every state tensor of the plan is still its parameter's."""
        for i, p in enumerate(self.members):
            entry = state.get(p)
            if not entry:
                return False
            for key, views in zip(self.keys, self.views):
                t = entry.get(key)
                if t is None or t._data is not views[i]:
                    return False
        return True

    def grads(self, params, state):
        """The gradients' arrays when this step fits the plan (every parameter has one, nothing was
        replaced), else None."""
        if params is not self.params or len(params) != len(self.members):
            return None
        grads = []
        first = self.views[0]
        keyed = tuple(zip(self.keys, self.views))
        for i, p in enumerate(params):
            g = p.grad
            if p is not self.members[i] or g is None:
                return None
            entry = state[p]
            for key, views in keyed:   # (each one: a user may replace any state tensor)
                t = entry.get(key)
                if t is None or t._data is not views[i]:
                    return None
            pd = p._data
            if pd is not self.arrays[i]:
                view = first[i]
                if pd.__class__ is not view.__class__ or pd.dtype != view.dtype or pd.shape != view.shape:
                    return None
            grads.append(g._data)
        return grads


class Optimizer:
    """Base class for all optimizers.

    params: an iterable of Tensors, of (name, Tensor) pairs, or of dicts (parameter
    groups); defaults: the default value of each optimization option.
    """

    # torch's error for a sparse gradient (None: the class updates sparse gradients, or leaves them to its
    # own code, as a user's optimizer built on Tensor ops)
    _sparse_refusal = None

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        self._patch_step_function()

        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                "but got " + _typename(params))

        self.state = defaultdict(dict)
        self.param_groups = []

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # group flags a checkpoint may lack (filled in by __setstate__) and the per-parameter state entries
    # stored as 0-d tensors, per subclass
    _group_defaults = {}
    _scalar_state_keys = ()

    # ---- flat state (see FlatState) -----------------------------------------
    def _flat_plan(self, params):
        """This group's FlatState, or None."""
        plans = self.__dict__.get("_flat_plans")
        plan = plans.get(id(params)) if plans else None
        return plan if plan.__class__ is FlatState else None

    def _replan(self, params, keys):
        """After a per-parameter step: keep the group's plan, or make one; a failed attempt is
        retried once the state has changed (new state tensors, a load). The plans stay out of
        __getstate__: a copy's plan would update arrays the copy's state tensors no longer view."""
        plans = self.__dict__.get("_flat_plans")
        if plans is None:
            plans = self.__dict__["_flat_plans"] = {}
        plan = plans.get(id(params))
        state = self.state
        if plan.__class__ is FlatState:
            if plan.params is params and plan.intact(state):
                return
        elif plan == (id(state), len(state)):
            return
        plans[id(params)] = FlatState.make(params, state, keys) or (id(state), len(state))

    # ---- pickling / printing ---------------------------------------------
    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        self._patch_step_function()
        self.defaults.setdefault("differentiable", False)
        # groups from older checkpoints lack newer flags; scalar state entries were Python numbers
        for group in self.param_groups:
            for key, value in self._group_defaults.items():
                group.setdefault(key, value)
        for key in self._scalar_state_keys:
            _convert_steps(self, key)

    def __repr__(self):
        format_string = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            format_string += "\n"
            format_string += f"Parameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    format_string += f"    {key}: {group[key]}\n"
        format_string += ")"
        return format_string

    def _patch_step_function(self):
        cls = self.__class__
        if not getattr(cls.step, "hooked", None):
            cls.step = _hook_step(cls.step)

    # ---- hooks --------------------------------------------------------------
    def register_step_pre_hook(self, hook):
        """Call hook(optimizer, args, kwargs) before each step; it may return new (args, kwargs)."""
        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook):
        """Call hook(optimizer, args, kwargs) after each step."""
        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    @staticmethod
    def _register(hooks_dict, hook, prepend):
        handle = RemovableHandle(hooks_dict)
        hooks_dict[handle.id] = hook
        if prepend:
            hooks_dict.move_to_end(handle.id, last=False)
        return handle

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """Call hook(optimizer) before state_dict() builds its result."""
        return self._register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """Call hook(optimizer, state_dict) after state_dict(); it may return a replacement."""
        return self._register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """Call hook(optimizer, state_dict) before load_state_dict(); it may return a replacement."""
        return self._register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """Call hook(optimizer) after load_state_dict()."""
        return self._register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ---- state dicts --------------------------------------------------------
    def state_dict(self):
        """The optimizer state: {'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}."""
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)

        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start_index):
                if id(p) not in param_mappings:
                    param_mappings[id(p)] = i
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}

        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    @staticmethod
    def _process_value_according_to_param_policy(param, value, param_id, param_groups, key=None):
        """Cast a loaded state tensor as torch does: 'step' as is, others to the param's dtype/device."""
        fused = capturable = False
        for pg in param_groups:
            if param_id in pg["params"]:
                fused = pg.get("fused", False)
                capturable = pg.get("capturable", False)
                break
        if key == "step":
            if capturable or fused:
                return value.to(dtype=B.float32, device=param.device)
            return value
        if param.is_floating_point():
            return value.to(dtype=param.dtype, device=param.device)
        return value.to(device=param.device)

    def load_state_dict(self, state_dict):
        """Load state from a dict made by state_dict(); group counts and sizes must match."""
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result

        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group")

        id_map = dict(zip(itertools.chain.from_iterable(g["params"] for g in saved_groups),
                          itertools.chain.from_iterable(g["params"] for g in groups)))

        def _cast(param, value, param_id=None, param_groups=None, key=None):
            """A deep copy of value with every tensor cast for param."""
            if isinstance(value, Tensor):
                return Optimizer._process_value_according_to_param_policy(
                    param, value, param_id, param_groups, key)
            if isinstance(value, dict):
                return {k: _cast(param, v, param_id=param_id, param_groups=param_groups, key=k)
                        for k, v in value.items()}
            if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
                return type(value)(_cast(param, v, param_id=param_id, param_groups=param_groups)
                                   for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v, param_id=k, param_groups=state_dict["param_groups"])
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})

        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    # ---- gradients and steps ----------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors (to None by default, else to zeros)."""
        if set_to_none:
            clear = _grad_slot.__set__   # the checks of `p.grad = ...` are moot for None
            for group in self.param_groups:
                for p in group["params"]:
                    clear(p, None)
            return
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is not None:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g._requires_grad = False
                    if g.is_sparse:   # (torch's zero_ of a sparse tensor: no entries left)
                        g.zero_()
                        continue
                    g._data.fill(0)
                    g._vc[0] += 1

    def step(self, closure=None):
        """Perform a single optimization step; subclasses implement it."""
        raise NotImplementedError

    def add_param_group(self, param_group):
        """Add a parameter group (a dict with 'params' and optional option overrides)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")

        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering "
                "of tensors in sets will change between runs. Please use a list instead.")
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) == len(tensors):
                param_group["param_names"] = names
            else:
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are missing")

        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is " + _typename(param))
            if not self.defaults.get("differentiable", None) and not (
                    param.grad_fn is None or param._retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)

        params = param_group["params"]
        if len(params) != len({id(p) for p in params}):
            _warn_user(
                "optimizer contains a parameter group with duplicate parameters; in future, this will "
                "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information")

        param_set = set()
        for group in self.param_groups:
            param_set.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                current = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {current} to the optimizer")
        if not param_set.isdisjoint(id(p) for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")

        self.param_groups.append(param_group)


def register_optimizer_step_pre_hook(hook):
    """Register a pre-step hook common to all optimizers: hook(optimizer, args, kwargs)."""
    handle = RemovableHandle(_global_optimizer_pre_hooks)
    _global_optimizer_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    """Register a post-step hook common to all optimizers: hook(optimizer, args, kwargs)."""
    handle = RemovableHandle(_global_optimizer_post_hooks)
    _global_optimizer_post_hooks[handle.id] = hook
    return handle


def _check_not_differentiable(differentiable):
    if differentiable:
        raise NotImplementedError(
            "ember optimizers do not support differentiable=True (autograd through the step); "
            "pass differentiable=False")
