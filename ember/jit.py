"""torch.jit: ember has no TorchScript.  script and trace return what torch's return (a
RecursiveScriptModule / TopLevelTracedModule for a module, a ScriptFunction for a function) but they
run the module's or function's Python code, with the same results; TorchScript archives
(ScriptModule.save, torch.jit.save / load) are not available: use torch.save(model.state_dict(), path)
and load_state_dict instead.
"""
import functools
import os
import warnings

from .nn.modules.module import Module, _addindent, _record_name

__all__ = ["script", "trace", "trace_module", "save", "load", "freeze", "optimize_for_inference", "ignore", "unused",
           "export", "is_scripting", "is_tracing", "annotate", "Final", "ScriptModule", "RecursiveScriptModule",
           "TracedModule", "TopLevelTracedModule", "ScriptFunction", "script_method"]


def _no_torchscript(what):
    from ._backend import namespace
    t = namespace()
    raise RuntimeError(
        f"{what}: ember cannot write or read TorchScript archives (it runs the model's Python code and has no "
        f"TorchScript compiler). Save the weights with {t}.save(model.state_dict(), path) and restore them "
        f"into the model's class with model.load_state_dict({t}.load(path)).")


def _deprecated(name, alternative="`torch.compile` or `torch.export`"):
    # torch 2.13's DeprecationWarning, from the same kind of frame (hidden outside __main__ by default)
    warnings.warn(f"`torch.jit.{name}` is deprecated. Please switch to {alternative}.", DeprecationWarning)


class ScriptModule(Module):
    """torch.jit.ScriptModule: the base of what script and trace return for a module (ember runs its Python)."""

    def save(self, f, **kwargs):
        """Not available: ember writes no TorchScript archives (use torch.save(model.state_dict(), f))."""
        _no_torchscript(f"{type(self).__name__}.save")

    def save_to_buffer(self, _extra_files=None):
        """Not available: ember writes no TorchScript archives (use torch.save(model.state_dict(), buffer))."""
        _no_torchscript(f"{type(self).__name__}.save_to_buffer")

    @property
    def code(self):
        """The TorchScript source of forward: none in ember."""
        _no_torchscript(f"{type(self).__name__}.code")

    @property
    def graph(self):
        """The TorchScript graph of forward: none in ember."""
        _no_torchscript(f"{type(self).__name__}.graph")

    inlined_graph = graph


def _copy_tree(mod, memo=None, parent=None, name=None):
    """mod and its sub-modules as new module objects sharing mod's parameters and buffers (torch's
    scripted copy): the copy's training flag and plain attributes are its own. A module that appears
    twice (tied layers) is copied once."""
    memo = {} if memo is None else memo
    if id(mod) in memo:
        return memo[id(mod)]
    new = memo[id(mod)] = object.__new__(type(mod))
    d = new.__dict__
    d.update(mod.__dict__)
    for key, value in mod.__dict__.items():
        if isinstance(value, (dict, set)):  # parameter/buffer tables and hook registries
            d[key] = value.copy()
    d["_modules"] = {k: None if m is None else _copy_tree(m, memo, new, k) for k, m in mod._modules.items()}
    if parent is not None:
        _record_name(new, parent, name)
    return new


class _Scripted:
    """What script/trace's module wrappers share: a Module around a copy of the user's module whose
    parameter, buffer and sub-module tables it shares, so state_dict keys are the original's."""

    # set on the wrapper itself (a hook's flag included); other attribute writes go to the module
    _wrapper_attributes = {"_ember_orig", "original_name", "_is_full_backward_hook"}

    @classmethod
    def _wrap(cls, mod):
        self = cls()
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules", "_non_persistent_buffers_set"):
            d[key] = mod.__dict__[key]
        d["_ember_orig"] = mod
        d["original_name"] = type(mod).__name__
        return self

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks or self._backward_pre_hooks:
            return Module._call_impl(self, *args, **kwargs)
        return self._ember_orig(*args, **kwargs)

    def forward(self, *args, **kwargs):
        """The module's forward, run as Python."""
        return self._ember_orig(*args, **kwargs)

    @property
    def training(self):
        """The module's training flag."""
        return self._ember_orig.training

    @training.setter
    def training(self, value):
        orig = self.__dict__.get("_ember_orig")
        if orig is not None:  # Module.__init__'s default comes before the module is attached
            orig.training = value

    def __getattr__(self, name):
        d = self.__dict__
        if "_ember_orig" not in d:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        return getattr(d["_ember_orig"], name)

    def __setattr__(self, name, value):
        if hasattr(type(self), name) or name in _Scripted._wrapper_attributes:
            return super().__setattr__(name, value)
        return setattr(self._ember_orig, name, value)

    def __delattr__(self, name):
        if hasattr(type(self), name) or name in _Scripted._wrapper_attributes:
            return super().__delattr__(name)
        return delattr(self._ember_orig, name)

    def __getstate__(self):
        from ._backend import namespace
        raise RuntimeError(
            f"Tried to serialize object __torch__.{self.original_name} which does not have a __getstate__ method "
            f"defined! (a scripted or traced module cannot be pickled; save model.state_dict() with "
            f"{namespace()}.save instead)")

    def __copy__(self):
        return type(self)._wrap(_copy_tree(self._ember_orig))

    def __deepcopy__(self, memo):
        import copy
        return type(self)._wrap(copy.deepcopy(self._ember_orig, memo))

    def __bool__(self):
        return True

    def __dir__(self):
        own = super().__dir__()
        return own + [a for a in self._ember_orig.__dir__() if a not in own]

    def extra_repr(self):
        """original_name=<the module's class>, as torch prints a scripted module."""
        return f"original_name={self.original_name}"

    def __repr__(self):
        return _scripted_repr(self._ember_orig, self._get_name(), self._child_name)


def _scripted_repr(mod, name, child_name):
    lines = [f"original_name={type(mod).__name__}"]
    for key, child in mod._modules.items():
        if child is not None:
            lines.append(f"({key}): " + _addindent(_scripted_repr(child, child_name(child), child_name), 2))
    if len(lines) == 1:
        return f"{name}({lines[0]})"
    return name + "(\n  " + "\n  ".join(lines) + "\n)"


class RecursiveScriptModule(_Scripted, ScriptModule):
    """What torch.jit.script(module) returns: runs the module's Python forward (ember has no TorchScript)."""

    @staticmethod
    def _child_name(child):
        return "RecursiveScriptModule"

    # a scripted Sequential / ModuleList / ModuleDict is still indexed, iterated and measured
    def __len__(self):
        return len(self._ember_orig)

    def __iter__(self):
        return iter(self._ember_orig)

    def __getitem__(self, idx):
        return self._ember_orig[idx]

    def __contains__(self, key):
        return key in self._ember_orig


# nn.Module methods torch's scripted modules refuse
def _make_fail(name):
    def fail(self, *args, **kwargs):
        raise RuntimeError(name + " is not supported on ScriptModules")
    fail.__name__ = name
    fail.__doc__ = f"Not supported on ScriptModules (torch raises RuntimeError): {name}."
    return fail


for _name in ("bfloat16", "compile", "get_buffer", "get_parameter", "get_submodule", "register_backward_hook",
              "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
              "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
              "register_load_state_dict_pre_hook", "register_state_dict_post_hook", "register_state_dict_pre_hook",
              "requires_grad_", "set_submodule", "to_empty"):
    setattr(RecursiveScriptModule, _name, _make_fail(_name))


class TracedModule(_Scripted, ScriptModule):
    """A traced module: runs the module's Python forward (ember records no trace)."""

    def _get_name(self):
        return self.original_name

    @staticmethod
    def _child_name(child):
        return type(child).__name__


class TopLevelTracedModule(TracedModule):
    """What torch.jit.trace(module, example) returns: runs the module's Python forward."""


class ScriptFunction:
    """What torch.jit.script / trace return for a function: calls the Python function (ember has no TorchScript)."""

    def __init__(self, fn):
        functools.update_wrapper(self, fn)
        self._fn = fn

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)

    @property
    def name(self):
        """The function's name."""
        return self._fn.__name__

    @property
    def qualified_name(self):
        """The function's TorchScript name, __torch__.<name>."""
        return f"__torch__.{self._fn.__name__}"

    def save(self, f, **kwargs):
        """Not available: ember writes no TorchScript archives."""
        _no_torchscript("ScriptFunction.save")

    def save_to_buffer(self, _extra_files=None):
        """Not available: ember writes no TorchScript archives."""
        _no_torchscript("ScriptFunction.save_to_buffer")

    @property
    def code(self):
        """The function's TorchScript source: none in ember."""
        _no_torchscript("ScriptFunction.code")

    @property
    def graph(self):
        """The function's TorchScript graph: none in ember."""
        _no_torchscript("ScriptFunction.graph")

    inlined_graph = graph

    def __repr__(self):
        from ._backend import namespace
        return f"<{namespace()}.jit.ScriptFunction object at {hex(id(self))}>"


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """A RecursiveScriptModule for a module, a ScriptFunction for a function (a class comes back as is):
    they run obj's Python code, as ember has no TorchScript compiler."""
    _deprecated("script")
    if isinstance(obj, (ScriptModule, ScriptFunction)):
        return obj
    if isinstance(obj, Module):
        return RecursiveScriptModule._wrap(_copy_tree(obj))
    if isinstance(obj, type):
        return obj
    if not callable(obj):
        raise RuntimeError(f"Could not get name of python class object (torch.jit.script got "
                           f"{type(obj).__name__}: ember's script takes a module, function or class)")
    return ScriptFunction(obj)


def _run_example(func, example_inputs, example_kwarg_inputs):
    from .autograd import no_grad
    from ._tensor import Tensor
    with no_grad():
        if example_kwarg_inputs is not None:
            if not isinstance(example_kwarg_inputs, dict):
                raise RuntimeError("example_kwarg_inputs should be a dict")
            func(**example_kwarg_inputs)
        elif example_inputs is not None:
            func(*((example_inputs,) if isinstance(example_inputs, Tensor) else tuple(example_inputs)))
        else:
            raise RuntimeError("example_kwarg_inputs or example_inputs must be specified")


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs=True):
    """Run func once on example_inputs (as torch's tracer does, so a shape error shows here) and return a
    TopLevelTracedModule (module) or ScriptFunction (function) that runs func's Python: ember records no
    graph, so later calls run eagerly, including any control flow that torch's trace would have frozen."""
    _deprecated("trace")
    if isinstance(func, ScriptModule):
        warnings.warn("The input to trace is already a ScriptModule, tracing it is a no-op. Returning the object "
                      "as is.", stacklevel=2)
        return func
    if not callable(func):
        raise RuntimeError(f"torch.jit.trace expects a module or a function, got {type(func).__name__}")
    _run_example(func, example_inputs, example_kwarg_inputs)
    if isinstance(func, Module):
        return TopLevelTracedModule._wrap(_copy_tree(func))
    return ScriptFunction(func)


def trace_module(mod, inputs, **kwargs):
    """Run each named method of mod on its example inputs once and return a TopLevelTracedModule (see trace)."""
    _deprecated("trace_method")
    for method, args in inputs.items():
        _run_example(getattr(mod, method), args, None)
    return TopLevelTracedModule._wrap(_copy_tree(mod))


def script_method(fn):
    """Decorator for a method of a ScriptModule subclass (old TorchScript API): fn, run as Python."""
    _deprecated("script_method")
    return fn


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    """mod itself (ember has nothing to inline): checked as torch checks it, a ScriptModule in eval mode."""
    warnings.warn("`torch.jit.freeze` is deprecated. Please use `torch.compile` instead.", DeprecationWarning)
    if not isinstance(mod, ScriptModule):
        raise RuntimeError("Freezing expects a ScriptModule as input. "
                           "Please use torch.jit.script or torch.jit.trace to script your 'nn.Module'.")
    if mod.training:
        raise RuntimeError("Freezing is currently only implemented for modules in eval mode. "
                           "Please call .eval() on your module before freezing.")
    return mod


def optimize_for_inference(mod, other_methods=None):
    """mod in eval mode (torch freezes and optimizes it; ember has nothing to optimize)."""
    warnings.warn("`torch.jit.optimize_for_inference` is deprecated. Please use `torch.compile` instead.",
                  DeprecationWarning)
    if not isinstance(mod, ScriptModule):
        raise RuntimeError("optimize_for_inference expects a ScriptModule as input. "
                           "Please use torch.jit.script or torch.jit.trace to script your 'nn.Module'.")
    return freeze(mod.eval())


def save(m, f, _extra_files=None):
    """Not available: ember writes no TorchScript archives (use torch.save(model.state_dict(), f))."""
    _deprecated("save", "`torch.export`")
    _no_torchscript("torch.jit.save")


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    """Not available: ember reads no TorchScript archives (use model.load_state_dict(torch.load(f)))."""
    _deprecated("load", "`torch.export`")
    if isinstance(f, (str, os.PathLike)):
        if not os.path.exists(f):
            raise ValueError(f"The provided filename {f} does not exist")
        if os.path.isdir(f):
            raise ValueError(f"The provided filename {f} is a directory")
    _no_torchscript("torch.jit.load")


def ignore(drop=False, **kwargs):
    """Decorator marking a function for TorchScript to leave as Python: nothing to do in ember."""
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn):
    """Decorator marking a method TorchScript should not compile: nothing to do in ember."""
    return fn


def export(fn):
    """Decorator marking a method TorchScript should compile: nothing to do in ember."""
    return fn


def is_scripting():
    """False: ember code never runs under TorchScript."""
    return False


def is_tracing():
    """False: ember's trace records nothing."""
    return False


def annotate(the_type, the_value):
    """the_value (TorchScript's type hint has no effect in Python)."""
    return the_value


class _FinalMeta(type):
    def __getitem__(cls, item):
        return item


class Final(metaclass=_FinalMeta):
    """torch.jit.Final[T]: T (a TorchScript annotation)."""


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    from ._backend import namespace
    raise AttributeError(f"module '{namespace()}.jit' has no attribute '{name}': ember does not implement "
                         f"torch.jit.{name} (ember has no TorchScript)")
