"""torch.backends.openmp: ember runs no OpenMP code of its own."""


def is_available():
    """False: ember's own code is not built with OpenMP (NumPy's BLAS keeps its own threads)."""
    return False
