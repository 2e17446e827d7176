"""Module attributes that validate what is assigned to them, as torch's backend modules do."""
import sys
import types


class PropModule(types.ModuleType):
    """A module type whose class-level properties act as checked, settable module attributes."""


def bool_flag(state, name, setter_name):
    """A property over state[name] that accepts only real bools (torch's RuntimeError otherwise)."""
    def get(module):
        return state[name]

    def set_(module, value):
        if value is not True and value is not False:
            raise RuntimeError(f"{setter_name} expects a bool, but got {type(value).__name__}")
        state[name] = value
    return property(get, set_, doc=f"torch.backends flag {name!r} (recorded; no effect on ember's kernels)")


def install(module_name, cls):
    """Give an already-imported module the class cls, so its properties take effect."""
    sys.modules[module_name].__class__ = cls
