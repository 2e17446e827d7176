"""torch._dynamo.eval_frame.OptimizedModule: what torch.compile(module) returns.

ember compiles nothing, so the wrapper only mirrors torch's: the original module is its child
``_orig_mod`` (state_dict keys and printed form gain that prefix, as in torch), attribute reads and
writes and ``training`` go through to it, and a call runs it directly.
"""
import warnings

from ..nn.modules import module as _module
from ..nn.modules.module import Module

__all__ = ["OptimizedModule", "DisableContext"]

# the module-wide hook registries (filled and emptied in place, never rebound)
_gfp, _gf = _module._global_forward_pre_hooks, _module._global_forward_hooks
_gb, _gbp = _module._global_backward_hooks, _module._global_backward_pre_hooks


class DisableContext:
    """The compile context of ember's OptimizedModule: compilation off, so wrapping a function returns it.

    A whole model saved with torch.save(compiled) names it torch._dynamo.eval_frame.DisableContext, so
    that real torch rebuilds the OptimizedModule around it and runs the module eagerly, as ember did.
    """

    def __init__(self, msg=None, wrapping=True):
        self.msg = msg
        self.wrapping = wrapping

    def __call__(self, fn):
        return fn

    def __reduce__(self):
        return (self.__class__, ())


class OptimizedModule(Module):
    """A compiled module: wraps the original (``_orig_mod``) and runs it unchanged (ember has no compiler)."""

    # names set on the wrapper itself; any other attribute write goes to the original module, as in torch
    _opt_mod_attributes = {"_orig_mod", "dynamo_ctx", "_torchdynamo_orig_callable", "_torchdynamo_wrapper_id",
                           "get_compiler_config", "forward", "_forward", "__dict__", "named_children_walk",
                           "_super_module_initialized"}

    def __init__(self, mod, dynamo_ctx=None):
        setattr_ = object.__setattr__
        # first, because Module.__init__ sets `training`, which this class forwards to the original
        setattr_(self, "_orig_mod", mod)
        setattr_(self, "_super_module_initialized", False)
        super().__init__()
        d = self.__dict__
        d["_super_module_initialized"] = True
        # a child in _modules (the `_orig_mod.` prefix) and also an instance attribute, so that forwarded
        # reads find it without a second __getattr__; not given a name for error messages: layers keep
        # their own paths ("fc1", not "_orig_mod.fc1")
        self._modules["_orig_mod"] = mod
        if dynamo_ctx is None:
            dynamo_ctx = DisableContext()
        d["dynamo_ctx"] = dynamo_ctx
        d["forward"] = dynamo_ctx(mod.__call__)
        d["_torchdynamo_orig_callable"] = mod.forward

    def __call__(self, *args, **kwargs):
        # hooks on the wrapper run as torch runs them; otherwise one call into the original module (read
        # from __dict__ directly: attribute lookups on a Module subclass cost as much as the call itself)
        d = self.__dict__
        if (d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"] or d["_backward_pre_hooks"]
                or _gfp or _gf or _gb or _gbp):
            if _gfp or _gf or _gb or _gbp:
                warnings.warn(
                    "Using `torch.compile(module)` when there are global hooks on modules (e.g., from "
                    "`register_module_forward_hook`); this will cause the hooks to fire an extra time for the "
                    "`OptimizedModule` created by `torch.compile(module)`. If this causes undesired behavior, "
                    "please try using `module.compile()`, or use the per-module hooks instead", stacklevel=2)
            return Module._call_impl(self, *args, **kwargs)
        return d["forward"](*args, **kwargs)

    def __len__(self):
        mod = self._orig_mod
        if hasattr(type(mod), "__len__"):
            return len(mod)
        raise TypeError(f"{type(mod).__name__} does not support len()")

    def __reduce__(self):
        return (self.__class__, (self._orig_mod, self.dynamo_ctx))

    @property
    def training(self):
        """The original module's training flag."""
        return self._orig_mod.training

    @training.setter
    def training(self, value):
        # Module.__init__ sets the default before the wrapper is complete: the original keeps its own
        if self.__dict__.get("_super_module_initialized"):
            self._orig_mod.training = value

    def __getattr__(self, name):
        d = self.__dict__
        if "_modules" not in d:  # half-built (copy, unpickling): no original to ask yet
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")
        if name == "_orig_mod":
            return d["_modules"]["_orig_mod"]
        return getattr(self._orig_mod, name)

    def __setattr__(self, name, value):
        if hasattr(type(self), name) or name in OptimizedModule._opt_mod_attributes:
            return super().__setattr__(name, value)
        return setattr(self._orig_mod, name, value)

    def __delattr__(self, name):
        if hasattr(type(self), name) or name in OptimizedModule._opt_mod_attributes:
            return super().__delattr__(name)
        return delattr(self._orig_mod, name)

    def __dir__(self):
        orig_mod_attrs = self._orig_mod.__dir__()
        return orig_mod_attrs + [attr for attr in super().__dir__() if attr not in orig_mod_attrs]
