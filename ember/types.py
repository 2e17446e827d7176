"""torch.types: the type aliases torch's signatures use (`Number`, `Device`, `_size` ...)."""
import os
from typing import IO, Union

from ._backend import device as _device, dtype as _dtype
from ._tensor import Size, Tensor

_bool, _complex, _float, _int, _str, _bytes = bool, complex, float, int, str, bytes
_size = Union[Size, list[int], tuple[int, ...]]
_symsize = _size
_dispatchkey = str
_layout = object
_qscheme = object
IntLikeType = int
FloatLikeType = float
BoolLikeType = bool
Number = Union[int, float, bool]
_Number = (int, float, bool)
Device = Union[_device, str, int, None]
FileLike = Union[str, os.PathLike, IO[bytes]]
_TensorOrTensors = Union[Tensor, tuple[Tensor, ...], list[Tensor]]
_TensorOrOptionalTensors = Union[Tensor, None, tuple[Union[Tensor, None], ...], list[Union[Tensor, None]]]
__all__ = ["Number", "Device", "FileLike", "Tensor", "Size", "IntLikeType", "FloatLikeType", "BoolLikeType"]
