"""torch.utils.dlpack: zero-copy exchange with NumPy, CuPy and any library speaking DLPack.

A tensor exports its array's own DLPack capsule (NumPy's on the CPU, CuPy's on a GPU), so the
consumer shares ember's memory, as it shares torch's; from_dlpack wraps the producer's memory
without copying.
"""
import ctypes
import enum

from .. import _backend as B

__all__ = ["DLDeviceType", "from_dlpack", "to_dlpack"]


class DLDeviceType(enum.IntEnum):
    """DLPack's device codes, as torch names them."""
    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLROCMHost = 11
    kDLExtDev = 12
    kDLCUDAManaged = 13
    kDLOneAPI = 14
    kDLWebGPU = 15
    kDLHexagon = 16
    kDLMAIA = 17


def to_dlpack(tensor):
    """A DLPack capsule over tensor's memory (consumable once, by from_dlpack of any library)."""
    from .._tensor import Tensor
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dlpack(): argument 'data' (position 1) must be Tensor, not {type(tensor).__name__} "
                        "(a NumPy array or other DLPack producer exports itself: call its __dlpack__())")
    return tensor._data.__dlpack__()


_INVALID_CAPSULE = ("from_dlpack received an invalid capsule. Note that DLTensor capsules can be consumed only "
                    "once, so you might have already constructed a tensor from it once.")


def _capsule_device(capsule):
    """The (device_type, device_id) a 'dltensor' capsule's DLTensor lives on."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    valid = ctypes.pythonapi.PyCapsule_IsValid
    valid.restype, valid.argtypes = ctypes.c_int, [ctypes.py_object, ctypes.c_char_p]
    if valid(capsule, b"dltensor"):
        base = get(capsule, b"dltensor")           # DLManagedTensor: the DLTensor comes first
    elif valid(capsule, b"dltensor_versioned"):
        base = get(capsule, b"dltensor_versioned") + 32   # after version, manager_ctx, deleter, flags
    else:
        raise RuntimeError(_INVALID_CAPSULE)
    dev = (ctypes.c_int32 * 2).from_address(base + ctypes.sizeof(ctypes.c_void_p))
    return int(dev[0]), int(dev[1])


class _Capsule:
    """An object with __dlpack__ over a bare capsule, for the array libraries that accept only those."""

    def __init__(self, capsule, device):
        self.capsule, self.device = capsule, device

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return self.device


class _WritableAlias:
    """A legacy ('dltensor') capsule's array presented writable: that DLPack version cannot mark memory
    read-only, so producers (torch, NumPy) export only writable memory, yet NumPy reads such an array as
    read-only.  Keeps that array (and the producer's memory) alive."""

    def __init__(self, array):
        self.array = array
        self.__array_interface__ = dict(array.__array_interface__, data=(array.__array_interface__["data"][0], False))


def from_dlpack(ext_tensor, *, device=None, copy=None):
    """A tensor over the memory of ext_tensor (an object with __dlpack__, or a DLPack capsule), shared as torch does."""
    from .._tensor import Tensor, _wrap
    if isinstance(ext_tensor, Tensor):
        out = _wrap(ext_tensor._data if not copy else ext_tensor._data.copy())
    else:
        if hasattr(ext_tensor, "__dlpack__"):
            kind, index = ext_tensor.__dlpack_device__()
            source = ext_tensor
        elif type(ext_tensor).__name__ == "PyCapsule":
            kind, index = _capsule_device(ext_tensor)
            source = _Capsule(ext_tensor, (kind, index))
        else:
            raise RuntimeError(_INVALID_CAPSULE)
        if kind in (DLDeviceType.kDLCPU, DLDeviceType.kDLCUDAHost):
            import numpy as np
            data = np.from_dlpack(source, copy=copy) if copy is not None else np.from_dlpack(source)
            if isinstance(source, _Capsule) and not data.flags.writeable and not copy:
                data = np.asarray(_WritableAlias(data))   # (torch writes through such a capsule's memory)
        elif kind == DLDeviceType.kDLCUDA:
            xp = B.array_module(B.device("cuda", int(index)))  # CuPy, on the producer's GPU
            with xp.cuda.Device(int(index)):
                data = xp.from_dlpack(source)
                if copy:
                    data = data.copy()
        else:
            raise RuntimeError(f"from_dlpack: unsupported device type {DLDeviceType(kind).name} (ember holds "
                               "tensors on the CPU and CUDA devices only)")
        B.dtype_of(data)  # an unsupported dtype fails here, naming it
        out = _wrap(data)
    if device is not None:
        out = out.to(device)
    return out
