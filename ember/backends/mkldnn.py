"""torch.backends.mkldnn: oneDNN, which ember does not use (its CPU kernels are NumPy's)."""


def is_available():
    """False: ember's CPU kernels are NumPy calls, not oneDNN."""
    return False
