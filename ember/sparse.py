"""torch.sparse: products and sums of sparse COO, CSR and CSC tensors (the tensors themselves: ops/sparse.py,
ops/sparse_compressed.py)."""
from . import _backend
from .ops import sparse as _sparse

__all__ = ["mm", "addmm", "sum", "check_sparse_tensor_invariants"]


def mm(mat1, mat2):
    """mat1 @ mat2 with a sparse mat1 (or mat2): dense for a dense operand; mat1's gradient stays on its
    stored coordinates (sparse), unlike torch.mm's."""
    if _compressed(mat1, mat2):
        from .ops.sparse_compressed import sparse_mm
        return sparse_mm(mat1, mat2)
    return _sparse.sparse_mm(mat1, mat2)


def addmm(mat, mat1, mat2, *, beta=1.0, alpha=1.0):
    """beta * mat + alpha * (mat1 @ mat2) for a sparse mat1 and dense mat and mat2."""
    if _compressed(mat, mat1, mat2):
        from .ops.sparse_compressed import addmm as compressed_addmm
        return compressed_addmm(mat, mat1, mat2, beta=beta, alpha=alpha)
    return _sparse.addmm(mat, mat1, mat2, beta=beta, alpha=alpha)


def sum(input, dim=None, dtype=None):
    """The sum of a sparse tensor's elements (a dense 0-d tensor) or over dims (sparse while sparse dims
    remain); the gradient is sparse, on the stored coordinates."""
    if _compressed(input):
        raise RuntimeError(f"coalesce expected sparse coordinate tensor layout but got "
                           f"{'SparseCsr' if input.layout is _backend.sparse_csr else 'SparseCsc'} (torch.sparse.sum "
                           "takes a COO tensor: x.to_sparse_coo(), or use x.sum())")
    return _sparse.sparse_sum(input, dim, dtype)


def _compressed(*ts):
    """Whether a sparse CSR/CSC tensor is among ts (their kernels: ops/sparse_compressed.py)."""
    return any(t is not None and t.layout in (_backend.sparse_csr, _backend.sparse_csc) for t in ts)


class check_sparse_tensor_invariants:
    """Whether sparse tensor constructors check their invariants (a context manager and decorator too).

    ember always checks that indices are within the size (an index past it would make later ops read out of
    bounds); the switch adds the check of an is_coalesced=True claim, as torch's does."""

    @staticmethod
    def is_enabled():
        """True when the checks are enabled."""
        return _sparse._CHECK[0]

    @staticmethod
    def enable():
        """Enable the checks in sparse tensor constructors."""
        _sparse._CHECK[0] = True

    @staticmethod
    def disable():
        """Disable the checks in sparse tensor constructors."""
        _sparse._CHECK[0] = False

    def __init__(self, enable=True):
        self.state = enable
        self.saved_state = None

    def __enter__(self):
        if self.saved_state is not None:
            raise RuntimeError("This context manager instance is already activated. Use a different context manager "
                               "instance for context nesting.")
        self.saved_state = self.is_enabled()
        _sparse._CHECK[0] = self.state

    def __exit__(self, type, value, traceback):
        _sparse._CHECK[0] = self.saved_state
        self.saved_state = None

    def __call__(self, mth):
        def test_mth(*args, **kwargs):
            with type(self)(self.state):
                return mth(*args, **kwargs)
        return test_mth


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"module '{_backend.namespace()}.sparse' has no attribute '{name}': ember does not "
                         f"implement torch.sparse.{name} yet")
