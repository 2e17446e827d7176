"""Printing tensors exactly as torch does (a port of torch/_tensor_str.py onto NumPy arrays).

torch's algorithm: one ``_Formatter`` scans the (summarised) values once to choose
integer / fixed / scientific notation and a common width, then the nested lists
are laid out row by row, wrapping at ``linewidth``.  Values are formatted as the
Python floats ``tolist()`` gives, as torch does, so rounding matches digit for digit.
"""
import contextlib
import math
import sys

import numpy as np

__all__ = ["set_printoptions"]


class _PrinterOptions:
    __slots__ = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")

    def __init__(self):
        self.precision = 4
        self.threshold = 1000
        self.edgeitems = 3
        self.linewidth = 80
        self.sci_mode = None


PRINT_OPTS = _PrinterOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    """Set options for printing tensors (torch.set_printoptions)."""
    if profile is not None:
        if profile == "default":
            PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems = 4, 1000, 3
            PRINT_OPTS.linewidth = 80
        elif profile == "short":
            PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems = 2, 1000, 2
            PRINT_OPTS.linewidth = 80
        elif profile == "full":
            PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems = 4, math.inf, 3
            PRINT_OPTS.linewidth = 80
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    # as in torch, sci_mode is reset to automatic unless given
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    """The current print options as a dict that set_printoptions accepts."""
    return {name: getattr(PRINT_OPTS, name) for name in _PrinterOptions.__slots__}


@contextlib.contextmanager
def printoptions(**kwargs):
    """Temporarily change the print options (torch._tensor_str.printoptions)."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """Chooses int/fixed/scientific notation and the common width for a set of values."""

    def __init__(self, array, nan_is_finite=False):
        self.floating_dtype = array.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = array.reshape(-1)
        if not self.floating_dtype:
            for value in flat.tolist():
                self.max_width = max(self.max_width, len(f"{value}"))
            return
        with np.errstate(invalid="ignore", over="ignore"):
            # (float8_e8m0fnu: torch's isfinite holds for its NaN, which then counts as a non-integer)
            vals = flat[(np.isfinite(flat) | (nan_is_finite & np.isnan(flat))) & (flat != 0)]
        if vals.size == 0:
            return
        # torch computes min/max of |x| in double (float16 would overflow the ratio)
        nonzero_abs = np.abs(vals).astype(np.float64)
        vmin = float(np.nanmin(nonzero_abs)) if not np.isnan(nonzero_abs).all() else math.nan
        vmax = float(np.nanmax(nonzero_abs)) if not np.isnan(nonzero_abs).all() else math.nan
        with np.errstate(invalid="ignore"):
            self.int_mode = bool(np.all(vals == np.ceil(vals)))
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = vmax / vmin > 1000.0 or vmax > 1.0e8 or vmin < 1.0e-4
        else:
            self.sci_mode = PRINT_OPTS.sci_mode
        values = vals.tolist()
        precision = PRINT_OPTS.precision
        if self.sci_mode:
            spec = f".{precision}e"
            extra = 0
        elif self.int_mode:
            spec = ".0f"
            extra = 1  # room for the trailing "." that marks a float
        else:
            spec = f".{precision}f"
            extra = 0
        width = max(len(format(v, spec)) for v in values) + extra
        self.max_width = max(self.max_width, width)

    def width(self):
        return self.max_width

    def format(self, value):
        if self.floating_dtype:
            if self.sci_mode:
                ret = format(value, f"{self.max_width}.{PRINT_OPTS.precision}e")
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = format(value, f".{PRINT_OPTS.precision}f")
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _complex_fmt(formatter1, formatter2):
    """torch's _val_formatter for a complex value: real part, then the signed imaginary part and 'j'."""
    def fmt(val):
        real_str = formatter1.format(val.real)
        imag_str = (formatter2.format(val.imag) + "j").lstrip()
        # handles negative numbers, +0.0, -0.0
        if imag_str[0] == "+" or imag_str[0] == "-":
            return real_str + imag_str
        return real_str + "+" + imag_str
    return fmt


def _vector_str(array, indent, summarize, formatter, formatter2=None):
    # length includes spaces and comma between elements
    element_length = formatter.width() + 2
    if formatter2 is not None:
        # width for the imaginary part + an extra j
        element_length += formatter2.width() + 1
    elements_per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
    fmt = formatter.format if formatter2 is None else _complex_fmt(formatter, formatter2)
    edge = PRINT_OPTS.edgeitems
    if summarize and not edge:
        data = ["..."]
    elif summarize and array.shape[0] > 2 * edge:
        data = ([fmt(v) for v in array[:edge].tolist()] + [" ..."]
                + [fmt(v) for v in array[-edge:].tolist()])
    else:
        data = [fmt(v) for v in array.tolist()]
    lines = [", ".join(data[i:i + elements_per_line]) for i in range(0, len(data), elements_per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _tensor_str_with_formatter(array, indent, summarize, formatter, formatter2=None):
    dim = array.ndim
    if dim == 0:
        if formatter2 is not None:
            return _complex_fmt(formatter, formatter2)(array.item())
        return formatter.format(array.item())
    if dim == 1:
        return _vector_str(array, indent, summarize, formatter, formatter2)
    edge = PRINT_OPTS.edgeitems
    n = array.shape[0]
    if summarize and n > 2 * edge:
        slices = ([_tensor_str_with_formatter(array[i], indent + 1, summarize, formatter, formatter2)
                   for i in range(edge)]
                  + ["..."]
                  + [_tensor_str_with_formatter(array[i], indent + 1, summarize, formatter, formatter2)
                     for i in range(n - edge, n)])
    else:
        slices = [_tensor_str_with_formatter(array[i], indent + 1, summarize, formatter, formatter2)
                  for i in range(n)]
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices) + "]"


def _summarized_data(array):
    """The elements a summarised print shows (torch's get_summarized_data)."""
    dim = array.ndim
    edge = PRINT_OPTS.edgeitems
    if dim == 0:
        return array
    if dim == 1:
        if array.shape[0] > 2 * edge:
            return np.concatenate((array[:edge], array[-edge:]))
        return array
    if not edge:
        return array[(slice(0, 0),) * dim]
    if array.shape[0] > 2 * edge:
        rows = [array[i] for i in range(edge)] + [array[i] for i in range(array.shape[0] - edge, array.shape[0])]
    else:
        rows = list(array)
    return np.stack([_summarized_data(r) for r in rows])


def _tensor_str(array, indent):
    """The bracketed body of a tensor's repr (no prefix, no suffixes)."""
    if array.size == 0:
        return "[]"
    summarize = array.size > PRINT_OPTS.threshold
    e8m0 = array.dtype.name == "float8_e8m0fnu"
    if array.dtype.kind == "V" or array.itemsize == 1 and array.dtype.kind == "f":
        array = array.astype(np.float32)   # bfloat16, float8: printed from their (exact) float32 values, as torch
    if array.dtype.kind == "c":
        # one formatter for the real parts, one for the imaginary parts (torch's _tensor_str)
        shown = _summarized_data(array) if summarize else array
        return _tensor_str_with_formatter(array, indent, summarize, _Formatter(shown.real), _Formatter(shown.imag))
    formatter = _Formatter(_summarized_data(array) if summarize else array, e8m0)
    return _tensor_str_with_formatter(array, indent, summarize, formatter)


def _str_compressed(self):
    """repr of a sparse CSR/CSC tensor, as torch prints it: its compressed and plain indices and values, then size,
    nnz and layout."""
    cs = self._cs
    names = ("crow_indices", "col_indices") if cs.row_major else ("ccol_indices", "row_indices")
    return _str_layout(self, ((names[0], cs.compressed), (names[1], cs.plain), ("values", cs.values)), False)


def _str_layout(self, labelled, force_newline):
    """repr of a sparse tensor from its (label, array) parts: each as label=tensor(...), then size, nnz, dtype,
    layout and autograd, as torch prints them."""
    from . import _backend as B
    from ._tensor import _host
    indent = len("tensor(")
    suffixes = []
    dev = self.device
    if dev.type != "cpu":
        suffixes.append("device='" + str(dev) + "'")
    dtype, default = self.dtype, B.get_default_dtype()
    named = dtype is not default and dtype is not B.int64 and dtype is not B.bool_ \
        and not (dtype.is_complex and dtype.to_real() is default)
    suffixes.append("size=" + str(tuple(self.shape)))
    suffixes.append("nnz=" + str(self._nnz()))
    if named:
        suffixes.append("dtype=" + str(dtype))
    parts = []
    for label, array in labelled:
        array = _host(array)
        prefix = label + "=tensor("
        text = _tensor_str(array, indent + len(prefix))
        if array.size == 0:
            text += ", size=" + str(tuple(array.shape))
        parts.append(prefix + text + ")")
    suffixes.append("layout=" + str(self.layout))
    grad_fn = self.grad_fn
    if grad_fn is not None:
        suffixes.append(f"grad_fn=<{grad_fn.name().rsplit('::', 1)[-1]}>")
    elif self.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes("tensor(" + (",\n" + " " * indent).join(parts), suffixes, indent, force_newline)


def _add_suffixes(tensor_str, suffixes, indent, force_newline):
    tensor_strs = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        suffix_len = len(suffix)
        if force_newline or last_line_len + suffix_len + 2 > PRINT_OPTS.linewidth:
            tensor_strs.append(",\n" + " " * indent + suffix)
            last_line_len = indent + suffix_len
            force_newline = False
        else:
            tensor_strs.append(", " + suffix)
            last_line_len += suffix_len + 2
    tensor_strs.append(")")
    return "".join(tensor_strs)


def _host(array):
    if type(array) is np.ndarray:
        return array
    get = getattr(array, "get", None)
    return get() if get is not None else np.asarray(array)


def _is_plain(cls):
    from ._tensor import Tensor
    if cls is Tensor:
        return True
    # torch prints Parameter with the plain "tensor(" prefix (Parameter's repr adds its header)
    mod = sys.modules.get("ember.nn.parameter")
    param = getattr(mod, "Parameter", None) if mod is not None else None
    return param is not None and cls is param


def _str(self, tensor_contents=None):
    """repr(tensor), character for character as torch prints it."""
    from . import _backend as B
    prefix = "tensor(" if _is_plain(type(self)) else f"{type(self).__name__}("
    indent = len(prefix)
    suffixes = []
    dev = self.device
    if dev.type != "cpu":
        suffixes.append("device='" + str(dev) + "'")
    dtype = self.dtype
    default = B.get_default_dtype()
    array = self._data
    if tensor_contents is not None:
        tensor_str = tensor_contents
    if dev.type == "meta":   # no values: the shape, and the dtype unless it is the default
        tensor_str = "..."
        suffixes.append("size=" + str(tuple(array.shape)))
        if dtype is not default:
            suffixes.append("dtype=" + str(dtype))
    elif array.size == 0:
        # Explicitly print the shape if it is not (0,), to match NumPy behavior
        if array.ndim != 1:
            suffixes.append("size=" + str(tuple(array.shape)))
        # no elements to infer the dtype from, so even int64 is named
        if dtype is not default:
            suffixes.append("dtype=" + str(dtype))
        if tensor_contents is None:
            tensor_str = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append("size=" + str(tuple(array.shape)))
        if dtype is not default and dtype is not B.int64 and dtype is not B.bool_ \
                and not (dtype.is_complex and dtype.to_real() is default):   # nor the default complex dtype
            suffixes.append("dtype=" + str(dtype))
        if tensor_contents is None:
            tensor_str = _tensor_str(_host(array), indent)
    grad_fn = self.grad_fn
    if grad_fn is not None:
        # torch prints a C++ node's short name: CopySlices, not torch::autograd::CopySlices
        suffixes.append(f"grad_fn=<{grad_fn.name().rsplit('::', 1)[-1]}>")
    elif self.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + tensor_str, suffixes, indent, force_newline=False)


def _str_sparse(self):
    """repr of a sparse COO tensor, as torch prints it: its indices and values, then size, nnz and layout."""
    return _str_layout(self, (("indices", self._coo.indices), ("values", self._coo.values)), True)
