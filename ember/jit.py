"""torch.jit: ember has no TorchScript.  script and trace return the module or function unchanged,
so scripts that call them run eagerly with the same results; save and load of TorchScript archives
are not available (use torch.save(model.state_dict(), path) and load_state_dict instead).
"""
__all__ = ["script", "trace", "trace_module", "save", "load", "ignore", "unused", "export", "is_scripting",
           "is_tracing", "annotate", "Final"]


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Return obj unchanged: ember does not compile to TorchScript (torch would return a
    ScriptModule / ScriptFunction with the same behaviour).  obj must be a module, a function or a class."""
    if not callable(obj):
        raise RuntimeError(f"Could not get name of python class object (torch.jit.script got "
                           f"{type(obj).__name__}: ember's script takes a module, function or class)")
    return obj


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs=True):
    """Run func once on example_inputs (as torch's tracer does, so a shape error shows here) and return
    func unchanged: ember records no graph, so later calls run eagerly, including any Python control
    flow that torch's trace would have frozen."""
    if not callable(func):
        raise RuntimeError(f"torch.jit.trace expects a module or a function, got {type(func).__name__}")
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
    return func


def trace_module(mod, inputs, **kwargs):
    """Run each named method of mod on its example inputs once and return mod unchanged (see trace)."""
    for method, args in inputs.items():
        trace(getattr(mod, method), args)
    return mod


def _no_torchscript(what):
    raise NotImplementedError(
        f"torch.jit.{what}: ember has no TorchScript archives. Save the weights with "
        "torch.save(model.state_dict(), path) and restore them with model.load_state_dict(torch.load(path)); "
        "torch.save / torch.load also store whole objects.")


def save(m, f, _extra_files=None):
    """Not available: ember writes no TorchScript archives (use torch.save(model.state_dict(), f))."""
    _no_torchscript("save")


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    """Not available: ember reads no TorchScript archives (use model.load_state_dict(torch.load(f)))."""
    _no_torchscript("load")


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
