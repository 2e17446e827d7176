"""torch._dynamo.config: the compiler settings scripts set (suppress_errors, cache_size_limit, ...).

ember compiles nothing, so the values are only recorded; as in torch, a name that is not a setting
is an AttributeError on read and on write, so a typo does not pass silently.
"""
import contextlib
import sys
import types

from .._backend import namespace

# the settings user scripts and tutorials touch, with torch 2.13's defaults
_DEFAULTS = {
    "suppress_errors": False, "verbose": False, "recompile_limit": 8, "cache_size_limit": 8,
    "accumulated_recompile_limit": 256, "accumulated_cache_size_limit": 256, "fail_on_recompile_limit_hit": False,
    "error_on_recompile": False, "capture_scalar_outputs": False, "capture_dynamic_output_shape_ops": False,
    "optimize_ddp": True, "automatic_dynamic_shapes": True, "assume_static_by_default": True,
    "dynamic_shapes": True, "specialize_int": False, "specialize_float": False, "force_parameter_static_shapes": True,
    "guard_nn_modules": True, "inline_inbuilt_nn_modules": True, "skip_nnmodule_hook_guards": True,
    "allow_unspec_int_on_nn_module": False, "compiled_autograd": False, "log_compilation_metrics": True,
    "raise_on_ctx_manager_usage": True, "replay_record_enabled": False, "disable": False, "trace_numpy": True,
    "allow_rnn": False, "prefer_deferred_runtime_asserts_over_guards": False, "wrap_top_frame": False,
    "enable_aot_compile": True, "minimum_call_count": 1, "use_graph_deduplication": False,
}


def _missing(name):
    return AttributeError(f"{namespace()}._dynamo.config.{name} does not exist")


def get_config_copy():
    """A dict of every setting and its current value."""
    return {name: getattr(_self, name) for name in _DEFAULTS}


def patch(arg1=None, arg2=None, **kwargs):
    """Settings for a with-block or decorated function: patch('name', value), patch({...}), patch(name=value)."""
    if isinstance(arg1, str):
        changes = {arg1: arg2}
    elif isinstance(arg1, dict):
        changes = dict(arg1)
    elif arg1 is None:
        changes = {}
    else:
        raise ValueError(f"Unexpected type: {type(arg1)}")
    changes.update(kwargs)
    for name in changes:
        if name not in _DEFAULTS:
            raise _missing(name)

    class _Patch(contextlib.ContextDecorator):
        def __enter__(self):
            self.prior = {name: getattr(_self, name) for name in changes}
            for name, value in changes.items():
                setattr(_self, name, value)
            return self

        def __exit__(self, *exc):
            for name, value in self.prior.items():
                setattr(_self, name, value)
            return False
    return _Patch()


class _ConfigModule(types.ModuleType):
    def __getattr__(self, name):
        raise _missing(name)

    def __setattr__(self, name, value):
        if name not in _DEFAULTS and not name.startswith("_") and name not in self.__dict__:
            raise _missing(name)
        super().__setattr__(name, value)

    def __delattr__(self, name):
        if name in _DEFAULTS:  # torch's del restores the default
            super().__setattr__(name, _DEFAULTS[name])
        else:
            super().__delattr__(name)


globals().update(_DEFAULTS)
_self = sys.modules[__name__]
_self.__class__ = _ConfigModule
