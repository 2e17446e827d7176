"""torch.version: build information, as torch reports it."""
from . import __version__  # noqa: F401

# ember is pure Python, built against no CUDA or ROCm toolkit (CuPy brings its own on a GPU)
cuda = None
hip = None
debug = False
