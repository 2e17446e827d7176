"""Printing tensors exactly as torch does (placeholder until the printing work lands)."""
import numpy as np


def _str(self, tensor_contents=None):
    from . import _backend as B
    body = np.array2string(self._data, separator=", ", precision=4, prefix="tensor(")
    suffix = []
    if self.dtype not in (B.get_default_dtype(), B.int64, B.bool_):
        suffix.append(f"dtype={self.dtype}")
    if self.grad_fn is not None:
        suffix.append(f"grad_fn=<{self.grad_fn.name()}>")
    elif self.requires_grad:
        suffix.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + suffix) + ")"
