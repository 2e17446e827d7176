"""torch.signal.windows' functions, built as torch's are: a linspace of the window's angles or offsets, then
elementwise ops.  (torch.hann_window & co in ops/creation.py use torch's ATen kernels' formulas instead; these
follow torch/signal/windows/windows.py step for step, so that the values round as torch's do and the result
carries torch's grad_fn when requires_grad=True.)"""
import math
from collections.abc import Iterable

from ... import _backend as B
from ...ops import creation as _c
from ...ops import elementwise as _e

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
           "hamming", "hann", "kaiser", "nuttall"]


def _window_function_checks(function_name, M, dtype, layout):
    """torch's checks, in torch's order: the length, the layout, then the dtype."""
    if M < 0:
        raise ValueError(f"{function_name} requires non-negative window length, got M={M}")
    if layout is not B.strided:
        raise ValueError(f"{function_name} is implemented for strided tensors only, got: {layout}")
    if dtype not in (B.float32, B.float64):
        raise ValueError(f"{function_name} expects float32 or float64 dtypes, got: {dtype}")


def _start(name, M, dtype, layout):
    """The default dtype filled in and torch's checks done: the dtype to build the window in."""
    dtype = B.get_default_dtype() if dtype is None else dtype
    _window_function_checks(name, M, dtype, layout)
    return dtype


def _filled(M, dtype, device, requires_grad):
    """The window of length 0 (empty) or 1 (a one), a leaf as torch's."""
    make = _c.ones if M else _c.empty
    return make((M,), dtype=dtype, device=device, requires_grad=requires_grad)


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=B.strided, device=None,
                requires_grad=False):
    """The exponential (Poisson) window exp(-|n - center| / tau)."""
    dtype = _start("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if M == 0:
        return _filled(M, dtype, device, requires_grad)
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    constant = 1 / tau
    k = _c.linspace(-center * constant, (-center + (M - 1)) * constant, M, dtype=dtype, device=device,
                    requires_grad=requires_grad)
    return _e.exp(-_e.abs(k))


def cosine(M, *, sym=True, dtype=None, layout=B.strided, device=None, requires_grad=False):
    """The cosine (sine) window sin(pi (n + 0.5) / M), as SciPy's."""
    dtype = _start("cosine", M, dtype, layout)
    if M == 0:
        return _filled(M, dtype, device, requires_grad)
    start = 0.5
    constant = math.pi / (M + 1 if not sym and M > 1 else M)
    k = _c.linspace(start * constant, (start + (M - 1)) * constant, M, dtype=dtype, device=device,
                    requires_grad=requires_grad)
    return _e.sin(k)


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=B.strided, device=None, requires_grad=False):
    """The gaussian window exp(-(n / (2 std)) ** 2) about the window's middle."""
    dtype = _start("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    if M == 0:
        return _filled(M, dtype, device, requires_grad)
    start = -(M if not sym and M > 1 else M - 1) / 2.0
    constant = 1 / (std * math.sqrt(2))
    k = _c.linspace(start * constant, (start + (M - 1)) * constant, M, dtype=dtype, device=device,
                    requires_grad=requires_grad)
    return _e.exp(-(k ** 2))


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=B.strided, device=None, requires_grad=False):
    """The Kaiser window i0(beta sqrt(1 - ((n - N/2) / (N/2)) ** 2)) / i0(beta)."""
    from ...ops.special import i0
    dtype = _start("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    if M <= 1:
        return _filled(M, dtype, device, requires_grad)
    # beta as a tensor of the window's dtype: sqrt(beta^2 - k^2) then never goes negative (NaN) by rounding
    beta = _c.tensor(beta, dtype=dtype, device=device)
    start = -beta
    constant = 2.0 * beta / (M if not sym else M - 1)
    end = _e.minimum(beta, start + (M - 1) * constant)
    k = _c.linspace(start, end, M, dtype=dtype, device=device, requires_grad=requires_grad)
    return i0(_e.sqrt(beta * beta - _e.pow(k, 2))) / i0(beta)


def hamming(M, *, sym=True, dtype=None, layout=B.strided, device=None, requires_grad=False):
    """The Hamming window 0.54 - 0.46 cos(2 pi n / (M - 1))."""
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=B.strided, device=None, requires_grad=False):
    """The Hann window 0.5 - 0.5 cos(2 pi n / (M - 1))."""
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=B.strided, device=None, requires_grad=False):
    """The Blackman window 0.42 - 0.5 cos(2 pi n / (M - 1)) + 0.08 cos(4 pi n / (M - 1))."""
    dtype = _start("blackman", M, dtype, layout)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=B.strided, device=None, requires_grad=False):
    """The Bartlett (triangular) window 1 - |2 n / (M - 1) - 1|."""
    dtype = _start("bartlett", M, dtype, layout)
    if M <= 1:
        return _filled(M, dtype, device, requires_grad)
    start = -1
    constant = 2 / (M if not sym else M - 1)
    k = _c.linspace(start, start + (M - 1) * constant, M, dtype=dtype, device=device, requires_grad=requires_grad)
    return 1 - _e.abs(k)


def general_cosine(M, *, a, sym=True, dtype=None, layout=B.strided, device=None, requires_grad=False):
    """The general cosine window sum_i (-1) ** i a_i cos(2 pi i n / (M - 1))."""
    from ...ops.reduce import sum as _sum
    dtype = _start("general_cosine", M, dtype, layout)
    if M <= 1:
        return _filled(M, dtype, device, requires_grad)
    if not isinstance(a, Iterable):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    constant = 2 * math.pi / (M if not sym else M - 1)
    k = _c.linspace(0, (M - 1) * constant, M, dtype=dtype, device=device, requires_grad=requires_grad)
    a_i = _c.tensor([(-1) ** i * w for i, w in enumerate(a)], device=device, dtype=dtype,
                    requires_grad=requires_grad)
    i = _c.arange(a_i.shape[0], dtype=a_i.dtype, device=a_i.device, requires_grad=a_i.requires_grad)
    return _sum(a_i.unsqueeze(-1) * _e.cos(i.unsqueeze(-1) * k), 0)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=B.strided, device=None, requires_grad=False):
    """The general Hamming window alpha - (1 - alpha) cos(2 pi n / (M - 1))."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def nuttall(M, *, sym=True, dtype=None, layout=B.strided, device=None, requires_grad=False):
    """Nuttall's minimum 4-term Blackman-Harris window."""
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dtype, layout=layout,
                          device=device, requires_grad=requires_grad)
