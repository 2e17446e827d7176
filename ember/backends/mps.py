"""torch.backends.mps: Apple's Metal backend, which ember does not have."""


def is_available():
    """False: ember has no Metal (MPS) backend."""
    return False


def is_built():
    """False: ember has no Metal (MPS) backend."""
    return False
