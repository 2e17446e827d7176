"""torch.backends.cuda: cuBLAS matmul switches, accepted and recorded.

``matmul.allow_tf32`` is tied to torch.set_float32_matmul_precision as in torch (True means
'high'); ember's products stay full float32 whatever it says.
"""
from .. import _settings


def is_built():
    """True when ember's GPU extra (CuPy) is installed; a GPU may still be absent."""
    from .. import cuda
    return cuda._cupy_installed()


class cuBLASModule:
    """torch.backends.cuda.matmul: allow_tf32 and the reduced-precision reduction flags."""

    _flags = {"allow_fp16_reduced_precision_reduction": True,
              "allow_bf16_reduced_precision_reduction": True}

    def __getattr__(self, name):
        if name == "allow_tf32":
            return _settings.get_float32_matmul_precision() != "highest"
        if name in self._flags:
            return self._flags[name]
        raise AttributeError(f"Unknown attribute {name}")

    def __setattr__(self, name, value):
        if name == "allow_tf32":
            if value is not True and value is not False:
                raise RuntimeError(f"set_allow_tf32_cublas expects a bool, but got {type(value).__name__}")
            _settings.set_float32_matmul_precision("high" if value else "highest")
            return
        if name in self._flags:
            if value is not True and value is not False:
                raise RuntimeError(f"set_{name}_cublas expects a bool, but got {type(value).__name__}")
            self._flags[name] = value
            return
        raise AttributeError(f"Unknown attribute {name}")


matmul = cuBLASModule()
