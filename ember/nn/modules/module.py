"""Module: the base class of every layer and model (torch.nn.Module's behaviour).

Parameters, buffers and sub-modules live in the ``_parameters``, ``_buffers``
and ``_modules`` dicts and are found by ``__getattr__``; ``__setattr__`` routes
assignments there.  ``__call__`` goes straight to ``forward`` unless a hook is
registered, because a training step at batch 4 calls modules many times.
"""
import functools
import itertools
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

from ..._backend import FP_QUIET as _FP_QUIET, fp_get as _fp_get, fp_reset as _fp_reset, fp_set as _fp_set
from ..._tensor import Tensor, _raw_grad, typename as _typename
from ...ops.convert import parse_to
from ...autograd.grad_mode import state as _grad_state
from ... import __future__ as _future
from ..parameter import Buffer, Parameter
from ...utils.hooks import RemovableHandle
from ..._userwarn import warn as _warn_user

__all__ = [
    "Module", "RemovableHandle", "register_module_forward_pre_hook", "register_module_forward_hook",
    "register_module_full_backward_hook", "register_module_full_backward_pre_hook",
    "register_module_buffer_registration_hook", "register_module_module_registration_hook",
    "register_module_parameter_registration_hook",
]

_EXTRA_STATE_KEY_SUFFIX = "_extra_state"


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(s_, numSpaces):
    s = s_.split("\n")
    if len(s) == 1:
        return s_
    first = s.pop(0)
    s = [(numSpaces * " ") + line if line.strip() else "" for line in s]
    return first + "\n" + "\n".join(s)


# ---- global hooks (torch.nn.modules.module.register_module_*) ----------------
_global_buffer_registration_hooks = OrderedDict()
_global_module_registration_hooks = OrderedDict()
_global_parameter_registration_hooks = OrderedDict()
_global_backward_pre_hooks = OrderedDict()
_global_backward_hooks = OrderedDict()
_global_forward_pre_hooks = OrderedDict()
_global_forward_hooks = OrderedDict()
_global_forward_hooks_always_called = OrderedDict()
_global_forward_hooks_with_kwargs = OrderedDict()


def register_module_buffer_registration_hook(hook):
    """Call hook(module, name, buffer) whenever any module registers a buffer."""
    handle = RemovableHandle(_global_buffer_registration_hooks)
    _global_buffer_registration_hooks[handle.id] = hook
    return handle


def register_module_module_registration_hook(hook):
    """Call hook(module, name, submodule) whenever any module registers a sub-module."""
    handle = RemovableHandle(_global_module_registration_hooks)
    _global_module_registration_hooks[handle.id] = hook
    return handle


def register_module_parameter_registration_hook(hook):
    """Call hook(module, name, param) whenever any module registers a parameter."""
    handle = RemovableHandle(_global_parameter_registration_hooks)
    _global_parameter_registration_hooks[handle.id] = hook
    return handle


def register_module_forward_pre_hook(hook):
    """Call hook(module, input) before every module's forward."""
    handle = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[handle.id] = hook
    return handle


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """Call hook(module, input, output) after every module's forward."""
    handle = RemovableHandle(_global_forward_hooks, extra_dict=[_global_forward_hooks_always_called,
                                                                _global_forward_hooks_with_kwargs])
    _global_forward_hooks[handle.id] = hook
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def register_module_full_backward_pre_hook(hook):
    """Call hook(module, grad_output) for every module before its input gradients are computed."""
    handle = RemovableHandle(_global_backward_pre_hooks)
    _global_backward_pre_hooks[handle.id] = hook
    return handle


def register_module_full_backward_hook(hook):
    """Call hook(module, grad_input, grad_output) for every module after its input gradients are computed."""
    handle = RemovableHandle(_global_backward_hooks)
    _global_backward_hooks[handle.id] = hook
    return handle


# ---- where a module sits in its model, for error messages --------------------
# child -> (weakref to parent, attribute name). Kept outside the instance so state_dict, pickling
# and __dict__ stay exactly torch's; filled by the parent's __setattr__/add_module.
_module_names = weakref.WeakKeyDictionary()


def _record_name(child, parent, name):
    try:
        old = _module_names.get(child)
        if old is None or old[0]() is None:
            _module_names[child] = (weakref.ref(parent), name)
    except TypeError:  # an unhashable or non-weakrefable Module subclass: no name, no harm
        pass


def _module_path(module):
    """The dotted attribute path of module from its root model ('fc1', 'features.0'), or ''."""
    parts = []
    seen = set()
    m = module
    while m is not None and id(m) not in seen:
        seen.add(id(m))
        try:
            entry = _module_names.get(m)
        except TypeError:
            entry = None
        if entry is None:
            break
        parts.append(entry[1])
        m = entry[0]()
    return ".".join(reversed(parts))


def _forward_unimplemented(self, *input):
    raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')


class Module:
    """Base class for all neural network modules; subclass it and define forward()."""

    dump_patches = False
    _version = 1
    training: bool
    call_super_init = False
    _compiled_call_impl = None

    def __init__(self, *args, **kwargs):
        if self.call_super_init is False and bool(kwargs):
            raise TypeError(
                f"{type(self).__name__}.__init__() got an unexpected keyword argument '{next(iter(kwargs))}'")
        if self.call_super_init is False and bool(args):
            raise TypeError(
                f"{type(self).__name__}.__init__() takes 1 positional argument but {len(args) + 1} were given")
        setattr_ = object.__setattr__
        setattr_(self, "training", True)
        setattr_(self, "_parameters", {})
        setattr_(self, "_buffers", {})
        setattr_(self, "_non_persistent_buffers_set", set())
        setattr_(self, "_backward_pre_hooks", OrderedDict())
        setattr_(self, "_backward_hooks", OrderedDict())
        setattr_(self, "_is_full_backward_hook", None)
        setattr_(self, "_forward_hooks", OrderedDict())
        setattr_(self, "_forward_hooks_with_kwargs", OrderedDict())
        setattr_(self, "_forward_hooks_always_called", OrderedDict())
        setattr_(self, "_forward_pre_hooks", OrderedDict())
        setattr_(self, "_forward_pre_hooks_with_kwargs", OrderedDict())
        setattr_(self, "_state_dict_hooks", OrderedDict())
        setattr_(self, "_state_dict_pre_hooks", OrderedDict())
        setattr_(self, "_load_state_dict_pre_hooks", OrderedDict())
        setattr_(self, "_load_state_dict_post_hooks", OrderedDict())
        setattr_(self, "_modules", {})
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    forward = _forward_unimplemented

    # ---- registration -----------------------------------------------------
    def register_buffer(self, name, tensor, persistent=True):
        """Add a buffer (state that is not a parameter, e.g. BatchNorm's running_mean)."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        elif not isinstance(name, str):
            raise TypeError(f"buffer name should be a string. Got {_typename(name)}")
        elif "." in name:
            raise KeyError('buffer name can\'t contain "."')
        elif name == "":
            raise KeyError('buffer name can\'t be empty string ""')
        elif hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        elif tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                "(torch Tensor or None required)")
        else:
            for hook in _global_buffer_registration_hooks.values():
                output = hook(self, name, tensor)
                if output is not None:
                    tensor = output
            self._buffers[name] = tensor
            if persistent:
                self._non_persistent_buffers_set.discard(name)
            else:
                self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name, param):
        """Add a parameter, accessible as an attribute under name."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        elif not isinstance(name, str):
            raise TypeError(f"parameter name should be a string. Got {_typename(name)}")
        elif "." in name:
            raise KeyError('parameter name can\'t contain "."')
        elif name == "":
            raise KeyError('parameter name can\'t be empty string ""')
        elif hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")

        if param is None:
            self._parameters[name] = None
        elif not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                "(torch.nn.Parameter or None required)")
        elif param.grad_fn:
            raise ValueError(
                f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                f"parameters must be created explicitly. To express '{name}' "
                "as a function of another Tensor, compute the value in "
                "the forward() method.")
        else:
            for hook in _global_parameter_registration_hooks.values():
                output = hook(self, name, param)
                if output is not None:
                    param = output
            self._parameters[name] = param

    def add_module(self, name, module):
        """Add a child module, accessible as an attribute under name."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        elif not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        elif hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        elif "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        elif name == "":
            raise KeyError('module name can\'t be empty string ""')
        for hook in _global_module_registration_hooks.values():
            output = hook(self, name, module)
            if output is not None:
                module = output
        self._modules[name] = module
        if module is not None:
            _record_name(module, self, name)

    def register_module(self, name, module):
        """Alias for add_module."""
        self.add_module(name, module)

    def get_submodule(self, target):
        """The sub-module at the dotted path target ('' is self)."""
        if target == "":
            return self
        atoms = target.split(".")
        mod = self
        for item in atoms:
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def set_submodule(self, target, module, strict=False):
        """Replace (or with strict=False, add) the sub-module at the dotted path target."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        atoms = target.split(".")
        if not isinstance(module, Module):
            raise ValueError("`" + "module" + f"` is not an nn.Module, found {type(module)}")
        if len(atoms) == 1:
            parent = self
        else:
            parent = self.get_submodule(".".join(atoms[:-1]))
        if strict and not hasattr(parent, atoms[-1]):
            raise AttributeError(parent._get_name() + " has no attribute `" + atoms[-1] + "`")
        if hasattr(parent, atoms[-1]):
            mod = getattr(parent, atoms[-1])
            if not isinstance(mod, Module):
                raise AttributeError("`" + atoms[-1] + "` is not an nn.Module")
        setattr(parent, atoms[-1], module)

    def get_parameter(self, target):
        """The parameter at the dotted path target."""
        module_path, _, param_name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, param_name):
            raise AttributeError(mod._get_name() + " has no attribute `" + param_name + "`")
        param = getattr(mod, param_name)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + param_name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target):
        """The buffer at the dotted path target."""
        module_path, _, buffer_name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, buffer_name):
            raise AttributeError(mod._get_name() + " has no attribute `" + buffer_name + "`")
        buffer = getattr(mod, buffer_name)
        if buffer_name not in mod._buffers:
            raise AttributeError("`" + buffer_name + "` is not a buffer")
        return buffer

    def get_extra_state(self):
        """Extra state for state_dict; override together with set_extra_state."""
        raise RuntimeError(
            "Reached a code path in Module.get_extra_state() that should never be called. "
            "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template=bug-report.yml "
            "to report this bug.")

    def set_extra_state(self, state):
        """Restore extra state saved by get_extra_state."""
        raise RuntimeError(
            "Reached a code path in Module.set_extra_state() that should never be called. "
            "Please file an issue at https://github.com/pytorch/pytorch/issues/new?template=bug-report.yml "
            "to report this bug.")

    # ---- conversion -------------------------------------------------------
    def _apply(self, fn, recurse=True):
        if recurse:
            for module in self.children():
                module._apply(fn)
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            swap, overwrite = _future._swap_module_params_on_conversion, \
                _future._overwrite_module_params_on_conversion
            for key, param in self._parameters.items():
                if param is None:
                    continue
                param_applied = fn(param)
                param_grad = param.grad
                if swap or overwrite:
                    self._apply_replacing(key, param, param_applied, param_grad, fn, swap)
                    continue
                # like torch's `param.data = param_applied`: the Parameter object (which optimizers
                # hold) stays the same, only its array changes
                param._data = param_applied._data
                if param_grad is not None:
                    grad_applied = fn(param_grad)
                    param_grad._data = grad_applied._data
            for key, buf in self._buffers.items():
                if buf is not None:
                    self._buffers[key] = fn(buf)
        finally:
            _grad_state.enabled = prev
        return self

    def _apply_replacing(self, key, param, param_applied, param_grad, fn, swap):
        """_apply under torch.__future__'s switches: swap the converted contents into the Parameter (and its
        .grad) object with swap_tensors, or register a new Parameter in its place."""
        from ...utils import swap_tensors
        if not swap:
            out_param = self._parameters[key] = Parameter(param_applied, param.requires_grad)
            if param_grad is not None:
                out_param.grad = fn(param_grad).requires_grad_(param_grad.requires_grad)
            return
        try:
            if param_grad is not None:
                param.grad = None
            swap_tensors(param, Parameter(param_applied, requires_grad=param.requires_grad))
        except Exception as e:
            if param_grad is not None:
                param.grad = param_grad
            raise RuntimeError(f"_apply(): Couldn't swap {self._get_name()}.{key}") from e
        if param_grad is not None:
            grad_applied = fn(param_grad)
            grad_applied.requires_grad_(param_grad.requires_grad)
            try:
                swap_tensors(param_grad, grad_applied)
            except Exception as e:
                raise RuntimeError(f"_apply(): Couldn't swap {self._get_name()}.{key}.grad") from e
            param.grad = param_grad

    def apply(self, fn):
        """Call fn on every sub-module (children first) and then on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def cuda(self, device=None):
        """Move all parameters and buffers to a CUDA device."""
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = f"cuda:{device}"
        return self._apply(lambda t: t.cuda(device))

    def cpu(self):
        """Move all parameters and buffers to the CPU."""
        return self._apply(lambda t: t.cpu())

    def type(self, dst_type):
        """Cast all parameters and buffers to dst_type."""
        return self._apply(lambda t: t.type(dst_type))

    def float(self):
        """Cast floating point parameters and buffers to float32."""
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self):
        """Cast floating point parameters and buffers to float64."""
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self):
        """Cast floating point parameters and buffers to float16."""
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def bfloat16(self):
        """Cast floating point parameters and buffers to bfloat16 (needs the ml_dtypes package)."""
        return self._apply(lambda t: t.bfloat16() if t.is_floating_point() else t)

    def to_empty(self, *, device=None, recurse=True):
        """Move parameters and buffers to device without copying their values."""
        from ...ops.creation import empty_like
        return self._apply(lambda t: empty_like(t, device=device), recurse=recurse)

    def to(self, *args, **kwargs):
        """Move and/or cast parameters and buffers: to(device), to(dtype), to(tensor), to(device, dtype)."""
        device, dtype, non_blocking, copy, memory_format = parse_to(args, kwargs)
        if copy:
            raise RuntimeError(".to() does not accept copy argument (a Module's tensors are converted in place; "
                               "copy.deepcopy(module) first for a copy)")
        if dtype is not None:
            if not (dtype.is_floating_point or dtype.is_complex):
                raise TypeError(
                    "nn.Module.to only accepts floating point or complex "
                    f"dtypes, but got desired dtype={dtype}")
            if dtype.is_complex:
                _warn_user(
                    "Complex modules are a new feature under active development whose design may change, and some "
                    "modules might not work as expected when using complex tensors as parameters or buffers. Please "
                    "file an issue at https://github.com/pytorch/pytorch/issues/new?template=bug-report.yml if a "
                    "complex module does not work as expected.")

        def convert(t):
            cast = dtype if t.is_floating_point() or t.is_complex() else None
            if memory_format is not None and t.dim() in (4, 5):  # as torch: only conv-shaped tensors
                return t.to(device=device, dtype=cast, memory_format=memory_format)
            return t.to(device=device, dtype=cast)

        return self._apply(convert)

    def share_memory(self):
        """Move parameters, their gradients and buffers into shared memory (Tensor.share_memory_), so that
        processes forked afterwards, or handed the model (spawn, a Queue), update one model (Hogwild training)."""
        for t in itertools.chain(self.parameters(), self.buffers()):
            t.share_memory_()
            grad = _raw_grad(t)
            if grad is not None:
                grad.share_memory_()
        return self

    # ---- hooks ------------------------------------------------------------
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call hook(module, args) before forward; it may return replacement args."""
        handle = RemovableHandle(self._forward_pre_hooks, extra_dict=self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False, always_call=False):
        """Call hook(module, args, output) after forward; it may return a replacement output."""
        handle = RemovableHandle(self._forward_hooks, extra_dict=[self._forward_hooks_with_kwargs,
                                                                  self._forward_hooks_always_called])
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Call hook(module, grad_output) before the module's input gradients are computed."""
        handle = RemovableHandle(self._backward_pre_hooks)
        self._backward_pre_hooks[handle.id] = hook
        if prepend:
            self._backward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """Call hook(module, grad_input, grad_output) once the module's input gradients are computed."""
        if self._is_full_backward_hook is False:
            raise RuntimeError(
                "Cannot use both regular backward hooks and full backward hooks on a "
                "single Module. Please use only one of them.")
        self._is_full_backward_hook = True
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        if prepend:
            self._backward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_backward_hook(self, hook):
        """Deprecated in torch; ember runs it as a full backward hook."""
        return self.register_full_backward_hook(hook)

    def _call_impl(self, *args, **kwargs):
        # the fast path: eight truth tests, then forward. The outermost module makes NumPy's
        # floating-point warnings (inf - inf, exp overflow) silent for everything forward runs, as
        # torch's kernels are, whatever warnings filters are set
        quiet = None if _fp_get() is _FP_QUIET else _fp_set(_FP_QUIET)
        try:
            if (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                    or self._backward_pre_hooks or _global_forward_pre_hooks or _global_forward_hooks
                    or _global_backward_hooks or _global_backward_pre_hooks):
                return self._call_with_hooks(args, kwargs)
            return self.forward(*args, **kwargs)
        finally:
            if quiet is not None:
                _fp_reset(quiet)

    __call__ = _call_impl

    def _call_with_hooks(self, args, kwargs):
        result = None
        called_always = set()
        try:
            for hook_id, hook in (*_global_forward_pre_hooks.items(), *self._forward_pre_hooks.items()):
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    res = hook(self, args, kwargs)
                    if res is not None:
                        if isinstance(res, tuple) and len(res) == 2:
                            args, kwargs = res
                        else:
                            raise RuntimeError(
                                "forward pre-hook must return None or a tuple "
                                f"of (new_args, new_kwargs), but got {res}.")
                else:
                    res = hook(self, args)
                    if res is not None:
                        args = res if isinstance(res, tuple) else (res,)

            bw = None
            if self._backward_hooks or self._backward_pre_hooks or _global_backward_hooks \
                    or _global_backward_pre_hooks:
                bw = _BackwardHook(self)
                args = bw.setup_input(args)

            result = self.forward(*args, **kwargs)

            for hook_id, hook in (*_global_forward_hooks.items(), *self._forward_hooks.items()):
                if hook_id in self._forward_hooks_always_called or hook_id in _global_forward_hooks_always_called:
                    called_always.add(hook_id)
                if hook_id in self._forward_hooks_with_kwargs or hook_id in _global_forward_hooks_with_kwargs:
                    res = hook(self, args, kwargs, result)
                else:
                    res = hook(self, args, result)
                if res is not None:
                    result = res

            if bw is not None:
                result = bw.setup_output(result)
            return result
        except Exception:
            for hook_id, hook in (*_global_forward_hooks.items(), *self._forward_hooks.items()):
                if hook_id in called_always:
                    continue
                if hook_id in self._forward_hooks_always_called or hook_id in _global_forward_hooks_always_called:
                    try:
                        if hook_id in self._forward_hooks_with_kwargs:
                            res = hook(self, args, kwargs, result)
                        else:
                            res = hook(self, args, result)
                        if res is not None:
                            result = res
                    except Exception as e:
                        _warn_user("module forward hook with ``always_call=True`` raised an exception "
                                   f"that was silenced as another error was raised in forward: {str(e)}")
            raise

    # ---- pickling ---------------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_compiled_call_impl", None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        defaults = (
            ("_forward_pre_hooks", OrderedDict), ("_forward_pre_hooks_with_kwargs", OrderedDict),
            ("_forward_hooks_with_kwargs", OrderedDict), ("_forward_hooks_always_called", OrderedDict),
            ("_state_dict_hooks", OrderedDict), ("_state_dict_pre_hooks", OrderedDict),
            ("_load_state_dict_pre_hooks", OrderedDict), ("_load_state_dict_post_hooks", OrderedDict),
            ("_non_persistent_buffers_set", set), ("_backward_pre_hooks", OrderedDict),
        )
        for name, factory in defaults:
            if name not in self.__dict__:
                self.__dict__[name] = factory()
        if "_is_full_backward_hook" not in self.__dict__:
            self._is_full_backward_hook = None
        for name, child in self.__dict__.get("_modules", {}).items():
            if child is not None:
                _record_name(child, self, name)

    # ---- attributes -------------------------------------------------------
    def __getattr__(self, name):
        d = self.__dict__
        if "_parameters" in d:
            p = d["_parameters"]
            if name in p:
                return p[name]
        if "_buffers" in d:
            b = d["_buffers"]
            if name in b:
                return b[name]
        if "_modules" in d:
            m = d["_modules"]
            if name in m:
                return m[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        def remove_from(*dicts_or_sets):
            for d in dicts_or_sets:
                if name in d:
                    if isinstance(d, dict):
                        del d[name]
                    else:
                        d.discard(name)

        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            remove_from(self.__dict__, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{_typename(value)}' as parameter '{name}' "
                    "(torch.nn.Parameter or None expected)")
            self.register_parameter(name, value)
        else:
            modules = self.__dict__.get("_modules")
            if isinstance(value, Module):
                if modules is None:
                    raise AttributeError("cannot assign module before Module.__init__() call")
                remove_from(self.__dict__, self._parameters, self._buffers, self._non_persistent_buffers_set)
                for hook in _global_module_registration_hooks.values():
                    output = hook(self, name, value)
                    if output is not None:
                        value = output
                modules[name] = value
                _record_name(value, self, name)
            elif modules is not None and name in modules:
                if value is not None:
                    raise TypeError(
                        f"cannot assign '{_typename(value)}' as child module '{name}' "
                        "(torch.nn.Module or None expected)")
                for hook in _global_module_registration_hooks.values():
                    output = hook(self, name, value)
                    if output is not None:
                        value = output
                modules[name] = value
            else:
                buffers = self.__dict__.get("_buffers")
                if isinstance(value, Buffer) or (buffers is not None and name in buffers):
                    if value is not None and not isinstance(value, Tensor):
                        raise TypeError(
                            f"cannot assign '{_typename(value)}' as buffer '{name}' "
                            "(torch.nn.Buffer, torch.Tensor or None expected)")
                    if isinstance(value, Buffer):
                        persistent = value.persistent
                    else:
                        persistent = name not in self._non_persistent_buffers_set
                    self.register_buffer(name, value, persistent)
                else:
                    object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    # ---- state_dict -------------------------------------------------------
    def _register_state_dict_hook(self, hook):
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    def register_state_dict_post_hook(self, hook):
        """Call hook(module, state_dict, prefix, local_metadata) after state_dict; edit in place."""
        hook._from_public_api = True
        handle = RemovableHandle(self._state_dict_hooks)
        self._state_dict_hooks[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook):
        """Call hook(module, prefix, keep_vars) before state_dict."""
        handle = RemovableHandle(self._state_dict_pre_hooks)
        self._state_dict_pre_hooks[handle.id] = hook
        return handle

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        extra_state_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if getattr(self.__class__, "get_extra_state", Module.get_extra_state) is not Module.get_extra_state:
            destination[extra_state_key] = self.get_extra_state()

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """An OrderedDict of every parameter and persistent buffer, keyed by dotted name."""
        if len(args) > 0:
            if destination is None:
                destination = args[0]
            if len(args) > 1 and prefix == "":
                prefix = args[1]
            if len(args) > 2 and keep_vars is False:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = dict(version=self._version)
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            hook_result = hook(self, destination, prefix, local_metadata)
            if not getattr(hook, "_from_public_api", False):
                if hook_result is not None:
                    destination = hook_result
            elif hook_result is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return destination

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        handle = RemovableHandle(self._load_state_dict_pre_hooks)
        self._load_state_dict_pre_hooks[handle.id] = _WrappedHook(hook, self if with_module else None)
        return handle

    def register_load_state_dict_pre_hook(self, hook):
        """Call hook(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors)."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def register_load_state_dict_post_hook(self, hook):
        """Call hook(module, incompatible_keys) after load_state_dict."""
        handle = RemovableHandle(self._load_state_dict_post_hooks)
        self._load_state_dict_post_hooks[handle.id] = hook
        return handle

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        for hook in self._load_state_dict_pre_hooks.values():
            hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

        persistent_buffers = {k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set}
        local_name_params = itertools.chain(self._parameters.items(), persistent_buffers.items())
        local_state = {k: v for k, v in local_name_params if v is not None}
        assign = local_metadata.get("assign_to_params_buffers", False)
        pending = _pending_loads[-1] if _pending_loads else None

        for name, param in local_state.items():
            key = prefix + name
            if key in state_dict:
                input_param = state_dict[key]
                if not isinstance(input_param, Tensor):
                    error_msgs.append(
                        f'While copying the parameter named "{key}", '
                        "expected torch.Tensor or Tensor-like object from checkpoint but "
                        f"received {type(input_param)}")
                    continue
                # backward compatibility: a 1-element 1-d tensor loads into a 0-d one
                if param.ndim == 0 and input_param.ndim == 1 and input_param.shape[0] == 1:
                    input_param = input_param[0]
                if input_param.shape != param.shape:
                    error_msgs.append(
                        f"size mismatch for {key}: copying a param with shape {input_param.shape} from checkpoint, "
                        f"the shape in current model is {param.shape}.")
                    continue
                if not assign and param.is_meta and not input_param.is_meta:
                    _warn_user(f"for {key}: copying from a non-meta parameter in the checkpoint to a meta parameter in "
                               "the current model, which is a no-op. (Did you mean to pass `assign=True` to assign "
                               "items in the state dictionary to their corresponding key in the module instead of "
                               "copying them in place?)")
                if pending is not None:
                    # load_state_dict validates the whole model first and copies afterwards
                    pending.append((self, name, param, input_param, key, assign))
                else:
                    try:
                        _copy_into(self, name, param, input_param, assign)
                    except Exception as ex:
                        action = "swapping" if _future._swap_module_params_on_conversion else "copying"
                        error_msgs.append(
                            f'While {action} the parameter named "{key}", '
                            f"whose dimensions in the model are {param.size()} and "
                            f"whose dimensions in the checkpoint are {input_param.size()}, "
                            f"an exception occurred : {ex.args}.")
            elif strict:
                missing_keys.append(key)

        extra_state_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if getattr(self.__class__, "set_extra_state", Module.set_extra_state) is not Module.set_extra_state:
            if extra_state_key in state_dict:
                if pending is not None:
                    pending.append((self, None, None, state_dict[extra_state_key], extra_state_key, False))
                else:
                    self.set_extra_state(state_dict[extra_state_key])
            elif strict:
                missing_keys.append(extra_state_key)
        elif strict and (extra_state_key in state_dict):
            unexpected_keys.append(extra_state_key)

        if strict:
            for key in state_dict:
                if key.startswith(prefix) and key != extra_state_key:
                    input_name = key[len(prefix):].split(".", 1)
                    if len(input_name) > 1:
                        if input_name[0] not in self._modules:
                            unexpected_keys.append(key)
                    elif input_name[0] not in local_state:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy parameters and buffers from state_dict; all-or-nothing (a failed load changes nothing)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")

        missing_keys = []
        unexpected_keys = []
        error_msgs = []

        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)
        if metadata is not None:
            state_dict._metadata = metadata

        def load(module, local_state_dict, prefix=""):
            local_metadata = {} if metadata is None else dict(metadata.get(prefix[:-1], {}))
            if assign:
                local_metadata["assign_to_params_buffers"] = assign
            module._load_from_state_dict(local_state_dict, prefix, local_metadata, True, missing_keys,
                                         unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    child_state_dict = {k: v for k, v in local_state_dict.items() if k.startswith(child_prefix)}
                    load(child, child_state_dict, child_prefix)

        pending = []
        _pending_loads.append(pending)
        try:
            load(self, state_dict)
        finally:
            _pending_loads.pop()

        if strict:
            if len(unexpected_keys) > 0:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if len(missing_keys) > 0:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
            hint = _orig_mod_hint(missing_keys, unexpected_keys)
            if hint:
                error_msgs.insert(2, hint)

        if not error_msgs:
            # convert every incoming tensor before touching the model, so a failure here
            # (a device that is not available, say) still leaves the model as it was
            prepared = []
            for module, name, param, value, key, assign_ in pending:
                if name is None:
                    prepared.append((module, None, None, value, key, assign_))
                    continue
                try:
                    prepared.append((module, name, param, _prepare_value(param, value, assign_), key, assign_))
                except Exception as ex:
                    error_msgs.append(
                        f'While copying the parameter named "{key}", '
                        f"whose dimensions in the model are {param.size()} and "
                        f"whose dimensions in the checkpoint are {value.size()}, "
                        f"an exception occurred : {ex.args}.")
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                self.__class__.__name__, "\n\t".join(error_msgs)))

        for module, name, param, value, key, assign_ in prepared:
            if name is None:
                module.set_extra_state(value)
            elif _future._swap_module_params_on_conversion:
                try:   # (module_load may fail late, as in torch: the parameters before it are loaded)
                    _commit_value(module, name, param, value, assign_)
                except Exception as ex:
                    error_msgs.append(
                        f'While swapping the parameter named "{key}", whose dimensions in the model are '
                        f"{param.size()} and whose dimensions in the checkpoint are {value.size()}, an exception "
                        f"occurred : {ex.args}.")
            else:
                _commit_value(module, name, param, value, assign_)
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                self.__class__.__name__, "\n\t".join(error_msgs)))

        incompatible_keys = _IncompatibleKeys(missing_keys, unexpected_keys)
        for module in self.modules():
            for hook in module._load_state_dict_post_hooks.values():
                out = hook(module, incompatible_keys)
                if out is not None:
                    raise AssertionError(
                        "Hooks registered with ``register_load_state_dict_post_hook`` are not "
                        "expected to return new values, if incompatible_keys need to be modified, "
                        "it should be done inplace.")
        return incompatible_keys

    # ---- iteration --------------------------------------------------------
    def _named_members(self, get_members_fn, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            members = get_members_fn(module)
            for k, v in members:
                if v is None or v in memo:
                    continue
                if remove_duplicate:
                    memo.add(v)
                name = module_prefix + ("." if module_prefix else "") + k
                yield name, v

    def parameters(self, recurse=True):
        """Iterate over the parameters (each once), e.g. to hand them to an optimizer."""
        for _name, param in self.named_parameters(recurse=recurse):
            yield param

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Iterate over (dotted name, parameter) pairs."""
        yield from self._named_members(lambda module: module._parameters.items(), prefix=prefix,
                                       recurse=recurse, remove_duplicate=remove_duplicate)

    def buffers(self, recurse=True):
        """Iterate over the buffers."""
        for _, buf in self.named_buffers(recurse=recurse):
            yield buf

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """Iterate over (dotted name, buffer) pairs."""
        yield from self._named_members(lambda module: module._buffers.items(), prefix=prefix,
                                       recurse=recurse, remove_duplicate=remove_duplicate)

    def children(self):
        """Iterate over the immediate sub-modules."""
        for _name, module in self.named_children():
            yield module

    def named_children(self):
        """Iterate over (name, immediate sub-module) pairs."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and module not in memo:
                memo.add(module)
                yield name, module

    def modules(self, remove_duplicate=True):
        """Iterate over self and every sub-module, depth first."""
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Iterate over (dotted name, module) for self ('') and every sub-module."""
        if memo is None:
            memo = set()
        if self not in memo:
            if remove_duplicate:
                memo.add(self)
            yield prefix, self
            for name, module in self._modules.items():
                if module is None:
                    continue
                submodule_prefix = prefix + ("." if prefix else "") + name
                yield from module.named_modules(memo, submodule_prefix, remove_duplicate)

    # ---- modes and gradients ----------------------------------------------
    def train(self, mode=True):
        """Set training mode (Dropout and BatchNorm behave differently); returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """Set evaluation mode; same as train(False)."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad on every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters (to None by default)."""
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad.detach_()
                    else:
                        p.grad.requires_grad_(False)
                    p.grad.zero_()

    # ---- printing -----------------------------------------------------------
    def _get_name(self):
        return self.__class__.__name__

    def extra_repr(self):
        """The module-specific part of repr(); override in subclasses."""
        return ""

    def __repr__(self):
        extra_lines = []
        extra_repr = self.extra_repr()
        if extra_repr:
            extra_lines = extra_repr.split("\n")
        child_lines = []
        for key, module in self._modules.items():
            mod_str = repr(module)
            mod_str = _addindent(mod_str, 2)
            child_lines.append("(" + key + "): " + mod_str)
        lines = extra_lines + child_lines
        main_str = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main_str += extra_lines[0]
            else:
                main_str += "\n  " + "\n  ".join(lines) + "\n"
        main_str += ")"
        return main_str

    def __dir__(self):
        module_attrs = dir(self.__class__)
        attrs = list(self.__dict__.keys())
        parameters = list(self._parameters.keys())
        modules = list(self._modules.keys())
        buffers = list(self._buffers.keys())
        keys = module_attrs + attrs + parameters + modules + buffers
        keys = [key for key in keys if not key[0].isdigit()]
        return sorted(keys)

    def _replicate_for_data_parallel(self):
        replica = self.__new__(type(self))
        replica.__dict__ = self.__dict__.copy()
        replica._parameters = {}
        replica._buffers = replica._buffers.copy()
        replica._modules = replica._modules.copy()
        replica._is_replica = True
        return replica

    def compile(self, *args, **kwargs):
        """Compile in place, as torch does (same class, same state_dict keys); ember's calls stay eager."""
        from ..._compile import compile
        # torch keeps the compiled _call_impl here and calls it; ember records it (arguments checked
        # as torch checks them) and its __call__ goes on running forward directly
        self._compiled_call_impl = compile(self._call_impl, *args, **kwargs)


# ---- helpers ------------------------------------------------------------------
def _orig_mod_hint(missing, unexpected):
    """The fix when keys differ only by torch.compile's `_orig_mod.` prefix, else ''."""
    pre = "_orig_mod."
    missing_set = set(missing)
    if any(k.startswith(pre) and k[len(pre):] in missing_set for k in unexpected):
        return ("(the checkpoint was saved from a torch.compile'd model, whose keys start with '_orig_mod.': "
                "load it into the compiled model, or strip the prefix: "
                "{k.removeprefix('_orig_mod.'): v for k, v in state_dict.items()})")
    unexpected_set = set(unexpected)
    if any(k.startswith(pre) and k[len(pre):] in unexpected_set for k in missing):
        return ("(the model is a torch.compile'd wrapper, whose keys start with '_orig_mod.', and the checkpoint "
                "is not: load it into the original module, compiled._orig_mod.load_state_dict(state_dict))")
    return ""


_pending_loads = []


def _prepare_value(param, value, assign):
    """The tensor that will replace param's contents: cast and moved, not yet written."""
    if assign or _future._swap_module_params_on_conversion:   # (param.module_load converts it when swapping)
        return value
    data = value._data
    if value.device != param.device:
        from ...ops.convert import _move
        data = _move(data, param.device)
    if data.dtype != param._data.dtype:
        data = data.astype(param._data.dtype)
    elif data is param._data or _shares_memory(data, param._data):
        data = data.copy()  # loading a model's own state_dict into itself
    return data


def _swap_in_loaded(param, value, assign):
    """load_state_dict under torch.__future__.set_swap_module_params_on_conversion(True): param.module_load(value)
    swapped into the param object with swap_tensors, as torch."""
    from ...utils import swap_tensors
    prev = _grad_state.enabled
    _grad_state.enabled = False
    try:
        new = param.module_load(value, assign=assign)
        if new is value or new is param:
            raise RuntimeError("module_load returned one of self or other, please .detach() the result if "
                               "returning one of the inputs in module_load")
        if isinstance(param, Parameter):
            if not isinstance(new, Parameter):
                new = Parameter(new, requires_grad=param.requires_grad)
            else:
                new.requires_grad_(param.requires_grad)
        swap_tensors(param, new)
    finally:
        _grad_state.enabled = prev


def _shares_memory(a, b):
    import numpy as np
    if type(a) is np.ndarray and type(b) is np.ndarray:
        return np.may_share_memory(a, b)
    return False


def _commit_value(module, name, param, data, assign):
    if _future._swap_module_params_on_conversion:
        _swap_in_loaded(param, data, assign)
        return
    if assign:
        value = data
        if isinstance(param, Parameter):
            if not isinstance(value, Parameter):
                value = Parameter(value, requires_grad=param.requires_grad)
            else:
                value.requires_grad_(param.requires_grad)
        setattr(module, name, value)
        return
    if data.shape != param._data.shape:  # the 0-d <- [1] compatibility case
        data = data.reshape(param._data.shape)
    param._data[...] = data
    param._vc[0] += 1


def _copy_into(module, name, param, value, assign):
    _commit_value(module, name, param, _prepare_value(param, value, assign), assign)


class _WrappedHook:
    def __init__(self, hook, module=None):
        self.hook = hook
        functools.update_wrapper(self, hook)
        self.with_module = False
        if module is not None:
            self.module = weakref.ref(module)
            self.with_module = True

    def __call__(self, *args, **kwargs):
        if self.with_module:
            module = self.module()
            if module is None:
                raise RuntimeError("You are trying to call the hook of a dead Module!")
            return self.hook(module, *args, **kwargs)
        return self.hook(*args, **kwargs)

    def __getstate__(self):
        result = {"hook": self.hook, "with_module": self.with_module}
        if self.with_module:
            result["module"] = self.module()
        return result

    def __setstate__(self, state):
        self.hook = state["hook"]
        self.with_module = state["with_module"]
        if self.with_module:
            if state["module"] is None:
                raise RuntimeError("You are trying to revive the hook of a dead Module!")
            self.module = weakref.ref(state["module"])


class _BackwardHook:
    """Full backward (pre-)hooks: identity autograd Functions around a module's inputs and outputs.

    The output identity sees grad_output (pre-hooks run there); the input identity sees
    grad_input and runs the full backward hooks with both.
    """

    def __init__(self, module):
        self.module = module
        self.grad_output = None
        self.n_inputs = 0
        self.input_requires_grad = False

    def _hooks(self):
        m = self.module
        return (*_global_backward_hooks.values(), *m._backward_hooks.values())

    def _pre_hooks(self):
        m = self.module
        return (*_global_backward_pre_hooks.values(), *m._backward_pre_hooks.values())

    def setup_input(self, args):
        from ...autograd.function import Function
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        self.n_inputs = len(idx)
        if not idx or not _grad_state.enabled:
            return args
        self.input_requires_grad = True
        state = self

        class BackwardHookFunctionBackward(Function):
            @staticmethod
            def forward(ctx, *xs):
                return tuple(x.detach() for x in xs) if len(xs) > 1 else xs[0].detach()

            @staticmethod
            def backward(ctx, *grads):
                grad_input = tuple(grads)
                for hook in state._hooks():
                    res = hook(state.module, grad_input, state.grad_output)
                    if res is not None:
                        res = res if isinstance(res, tuple) else (res,)
                        if len(res) != len(grad_input):
                            raise RuntimeError(
                                f"Backward hook returned an invalid number of grad_input, got {len(res)}, "
                                f"but expected {len(grad_input)}")
                        grad_input = res
                return grad_input if len(grad_input) > 1 else grad_input[0]

        outs = BackwardHookFunctionBackward.apply(*[args[i] for i in idx])
        if not isinstance(outs, tuple):
            outs = (outs,)
        args = list(args)
        for i, o in zip(idx, outs):
            args[i] = o
        return tuple(args)

    def setup_output(self, result):
        from ...autograd.function import Function
        single = isinstance(result, Tensor)
        outs = (result,) if single else result
        if not isinstance(outs, tuple):
            return result
        idx = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not idx or not _grad_state.enabled:
            return result
        state = self

        class BackwardHookFunctionBackward(Function):
            @staticmethod
            def forward(ctx, *xs):
                return tuple(x.detach() for x in xs) if len(xs) > 1 else xs[0].detach()

            @staticmethod
            def backward(ctx, *grads):
                grad_output = tuple(grads)
                for hook in state._pre_hooks():
                    res = hook(state.module, grad_output)
                    if res is not None:
                        grad_output = res if isinstance(res, tuple) else (res,)
                state.grad_output = grad_output
                if not state.input_requires_grad:
                    # no input needs a gradient: torch calls the hooks now with grad_input=(None,)
                    _warn_user("Full backward hook is firing when gradients are computed with respect to "
                               "module outputs since no inputs require gradients. See "
                               "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html#torch.nn."
                               "Module.register_full_backward_hook for more details.")
                    for hook in state._hooks():
                        hook(state.module, (None,) * max(state.n_inputs, 1), grad_output)
                return grad_output if len(grad_output) > 1 else grad_output[0]

        new = BackwardHookFunctionBackward.apply(*[outs[i] for i in idx])
        if not isinstance(new, tuple):
            new = (new,)
        outs = list(outs)
        for i, o in zip(idx, new):
            outs[i] = o
        return outs[0] if single else tuple(outs)
