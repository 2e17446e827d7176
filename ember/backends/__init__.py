"""torch.backends: switches for the libraries torch's kernels run on.

ember computes with NumPy on the CPU and CuPy on a GPU, not with cuDNN, oneDNN, MPS or OpenMP, so
these modules answer what is true of ember (``mps.is_available()`` is False, ...) and accept the
usual settings (``cudnn.benchmark = True``) without changing any of ember's kernels.
"""
from . import cuda, cudnn, mkldnn, mps, openmp  # noqa: F401
