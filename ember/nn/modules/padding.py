"""Padding layers: zero, constant, reflection, replication and circular (torch.nn.modules.padding)."""
from .. import functional as F
from .module import Module
from .utils import _ntuple, _pair, _quadruple

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d"]

_sextuple = _ntuple(6, "_sextuple")
# (padding parser, accepted input dims) for 1-, 2- and 3-d padding layers
_DIMS = {1: (_pair, (2, 3)), 2: (_quadruple, (3, 4)), 3: (_sextuple, (4, 5))}


def _check_dims(module, input, dims):
    if input.dim() not in dims:
        raise ValueError(f"{type(module).__name__}: expected {dims[0]}D or {dims[1]}D input "
                         f"(got {input.dim()}D input)")


class _ConstantPadNd(Module):
    __constants__ = ["padding", "value"]

    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with a constant value: padding int or (left, right)."""

    def __init__(self, padding, value):
        super().__init__(value)
        self.padding = _pair(padding)


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with a constant: padding int or (left, right, top, bottom)."""

    def __init__(self, padding, value):
        super().__init__(value)
        self.padding = _quadruple(padding)


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with a constant: padding int or a 6-tuple."""

    def __init__(self, padding, value):
        super().__init__(value)
        self.padding = _sextuple(padding)


class ZeroPad1d(ConstantPad1d):
    """Pad the last dim with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dims with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pad the last three dims with zeros."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class _ModePadNd(Module):
    """Padding in a non-constant F.pad mode over nd trailing dims."""

    __constants__ = ["padding"]
    _mode = None
    _nd = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _DIMS[self._nd][0](padding)

    def forward(self, input):
        if self._mode == "circular":  # torch checks the input's rank only for circular padding
            _check_dims(self, input, _DIMS[self._nd][1])
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class ReflectionPad1d(_ModePadNd):
    """Pad the last dim with the reflection of the input (edge not repeated)."""

    _mode, _nd = "reflect", 1


class ReflectionPad2d(_ModePadNd):
    """Pad the last two dims with the reflection of the input."""

    _mode, _nd = "reflect", 2


class ReflectionPad3d(_ModePadNd):
    """Pad the last three dims with the reflection of the input."""

    _mode, _nd = "reflect", 3


class ReplicationPad1d(_ModePadNd):
    """Pad the last dim by repeating the edge value."""

    _mode, _nd = "replicate", 1


class ReplicationPad2d(_ModePadNd):
    """Pad the last two dims by repeating the edge values."""

    _mode, _nd = "replicate", 2


class ReplicationPad3d(_ModePadNd):
    """Pad the last three dims by repeating the edge values."""

    _mode, _nd = "replicate", 3


class CircularPad1d(_ModePadNd):
    """Pad the last dim by wrapping around (periodic)."""

    _mode, _nd = "circular", 1


class CircularPad2d(_ModePadNd):
    """Pad the last two dims by wrapping around."""

    _mode, _nd = "circular", 2


class CircularPad3d(_ModePadNd):
    """Pad the last three dims by wrapping around."""

    _mode, _nd = "circular", 3
