"""torch's barebones dtypes (uint16, uint32, uint64 and the float8 family): which ops refuse them, as torch's CPU
kernels do.  torch stores, converts, views, indexes, concatenates and compares (==, !=) them; its other
kernels each take a few (uint16 * uint16 works, uint16 + uint16 does not).  The ops look a barebones
input up here, on the paths that float32 and int64 never take, and raise torch's NotImplementedError with
what to do instead."""
import math

from .. import _backend as B

# op -> (torch's kernel, what it refuses: 'u' uint16/32/64, 'f' the five float8s, 'e' float8_e8m0fnu alone),
# as torch 2.13's CPU build answers (each op run on each dtype)
KERNELS = {
    "abs": ("abs_cpu", "ue"), "neg": ("neg_cpu", "uf"), "negative": ("neg_cpu", "uf"), "sign": ("sign_cpu", "uf"),
    "sgn": ("sign_cpu", "uf"), "sqrt": ("sqrt_vml_cpu", "f"), "rsqrt": ("rsqrt_cpu", "f"), "exp": ("exp_vml_cpu", "f"),
    "exp2": ("exp2", "f"), "expm1": ("expm1_vml_cpu", "f"), "log": ("log_vml_cpu", "f"), "log2": ("log2_vml_cpu", "f"),
    "log10": ("log10_vml_cpu", "f"), "log1p": ("log1p_vml_cpu", "f"), "sin": ("sin_vml_cpu", "f"),
    "cos": ("cos_vml_cpu", "f"), "tan": ("tan_vml_cpu", "f"), "asin": ("asin_vml_cpu", "f"),
    "acos": ("acos_vml_cpu", "f"), "atan": ("atan_vml_cpu", "f"), "sinh": ("sinh_cpu", "f"), "cosh": ("cosh_cpu", "f"),
    "tanh": ("tanh_vml_cpu", "f"), "asinh": ("asinh_cpu", "f"), "acosh": ("acosh_cpu", "f"),
    "atanh": ("atanh_cpu", "f"), "sigmoid": ("sigmoid_cpu_reduced_float", "f"), "erf": ("erf_vml_cpu", "f"),
    "erfc": ("erfc_vml_cpu", "f"), "erfinv": ("erfinv_vml_cpu", "f"), "reciprocal": ("reciprocal_cpu", "f"),
    "square": ("pow", "uf"), "floor": ("floor_vml_cpu", "f"), "ceil": ("ceil_vml_cpu", "f"),
    "round": ("round_vml_cpu", "f"), "trunc": ("trunc_vml_cpu", "f"), "fix": ("trunc_vml_cpu", "f"),
    "frac": ("frac_cpu", "uf"), "relu": ("clamp_min_scalar_cpu", "uf"), "logical_not": ("logical_not_cpu", "uf"),
    "isposinf": ("isposinf_cpu", "f"), "isneginf": ("isneginf_cpu", "f"), "signbit": ("signbit_cpu", "f"),
    "nan_to_num": ("nan_to_num", "f"), "bitwise_not": ("bitwise_not_cpu", "uf"), "lgamma": ("lgamma_vml_cpu", "f"),
    "digamma": ("digamma", "f"), "sinc": ("sinc_cpu", "f"), "deg2rad": ("mul_cpu_reduced_float", "f"),
    "rad2deg": ("mul_cpu_reduced_float", "f"), "angle": ("angle_cpu", "f"),
    "sum": ("sum_cpu", "f"), "prod": ("prod_out_cpu", "f"), "mean": ("sum_cpu", "f"), "nansum": ("nansum_cpu", "f"),
    "nanmean": ("nansum_cpu", "f"), "max": ("max_all", "uf"), "min": ("min_all", "uf"),
    "max_dim": ("max_cpu", "uf"), "min_dim": ("min_cpu", "uf"),
    "amax": ("max_values_cpu", "uf"), "amin": ("min_values_cpu", "uf"), "argmax": ("argmax_cpu", "uf"),
    "argmin": ("argmin_cpu", "uf"), "aminmax": ("aminmax_cpu", "uf"), "median": ("median_cpu", "uf"),
    "nanmedian": ("median_cpu", "uf"), "mode": ("mode_cpu", "uf"), "logsumexp": ("max_values_cpu", "f"),
    "norm": ("norm_cpu", "f"), "count_nonzero": ("nonzero_count_cpu", "uf"), "cumsum": ("cumsum_out_cpu", "f"),
    "cumprod": ("cumprod_out_cpu", "f"), "cummax": ("cummax_cpu", "uf"), "cummin": ("cummin_cpu", "uf"),
    "logcumsumexp": ("logcumsumexp_out_cpu", "uf"), "sort": ("sorting_kernel_method_name", "f"),
    "argsort": ("sorting_kernel_method_name", "f"), "msort": ("sorting_kernel_method_name", "f"),
    "unique": ("unique", "f"), "flip": ("flip_cpu", "uf"), "nonzero": ("nonzero_count_cpu", "uf"),
    "tril": ("tril", "uf"), "triu": ("triu", "uf"), "trace": ("trace", "uf"),
    "softmax": ("softmax_kernel_impl", "uf"), "log_softmax": ("log_softmax_kernel_impl", "uf"),
    "add": ("add_stub", "uf"), "sub": ("add_stub", "uf"), "div": ("div_cpu", "f"),
    "floor_divide": ("div_floor_cpu", "uf"), "remainder": ("remainder_cpu", "uf"), "fmod": ("fmod_cpu", "uf"),
    "pow": ("pow", "uf"), "maximum": ("maximum_cpu", "uf"), "minimum": ("minimum_cpu", "uf"),
    "fmax": ("fmax_cpu", "uf"), "fmin": ("fmin_cpu", "uf"),
    "lt": ("lt_cpu", "uf"), "le": ("le_cpu", "uf"), "gt": ("gt_cpu", "uf"), "ge": ("ge_cpu", "uf"),
    "bitwise_and": ("bitwise_and_cpu", "f"), "bitwise_or": ("bitwise_or_cpu", "f"),
    "bitwise_xor": ("bitwise_xor_cpu", "f"), "bitwise_left_shift": ("lshift_cpu", "uf"),
    "bitwise_right_shift": ("rshift_cpu", "uf"), "logical_and": ("logical_and_cpu", "uf"),
    "logical_or": ("logical_or_cpu", "uf"), "logical_xor": ("logical_xor_cpu", "uf"), "atan2": ("atan2_cpu", "f"),
    "hypot": ("hypot_cpu", "uf"), "copysign": ("copysign_cpu", "f"), "nextafter": ("nextafter_cpu", "uf"),
    "xlogy": ("xlogy_cpu", "f"), "isclose": ("mul_cpu_reduced_float", "f"), "matmul": ("addmm_impl_cpu_", "ue"),
    "mm": ("addmm_impl_cpu_", "ue"), "linear": ("addmm_impl_cpu_", "ue"),
    "mul_number": ("mul_cpu_reduced_float", "f"), "div_number": ("div_cpu_reduced_float", "f"),
    "masked_fill": ("masked_fill", "uf"), "index_put": ("index_put", "ue"),
    "scatter": ("scatter_gather_tensor_cpu", "uf"), "gather": ("scatter_gather_tensor_cpu", "uf"),
    "gather_1d": ("scatter_gather_tensor_cpu|gather_expanded_index", "uf"), "equal": ("equal_notnan_cpu", "f"),
    "index_select": ("index_select", "u"),
    "masked_select": ("masked_select", "u"), "isin": ("isin_default_cpu", "uf"), "bincount": ("bincount_cpu", "uf"),
    "topk": ("topk_cpu", "uf"), "clamp": ("clamp_scalar_cpu", "uf"), "lerp": ("lerp_kernel_scalar", "uf"),
    "addcmul": ("addcmul_cpu_out", "uf"), "addcdiv": ("addcdiv_cpu_out", "uf"),
    "arange": ("arange_cpu", "uf"), "linspace": ("linspace_cpu", "uf"), "eye": ("eye", "u"),
    "rand": ("check_uniform_bounds", "uf"), "uniform_": ("check_uniform_bounds", "uf"),
    "randn": ("normal_kernel_cpu", "uf"), "normal_": ("normal_kernel_cpu", "uf"),
    "randint": ("random_update_from_to", "f"), "random_": ("random_update_from_to", "f"),
    "bernoulli": ("bernoulli_tensor_cpu_self_", "uf"), "dot": ("dot", "uf"),
    "clamp_min": ("clamp_min_scalar_cpu", "uf"), "clamp_max": ("clamp_max_scalar_cpu", "uf"),
    "isinf": ("isinf", "ne"), "isfinite": ("isfinite", "n"),
}
# 'n': the float8 types without an infinity whose isinf / isfinite kernels torch leaves out
_NO_INF = ("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2fnuz")
# the same by torch's kernel name, for ops that name theirs (kernel_for): the first op's families
_BY_KERNEL = {}
for _op, (_kernel, _fam) in KERNELS.items():
    _BY_KERNEL.setdefault(_kernel, _op)
# what works instead, by family
_INSTEAD = {"u": "convert with .to({ns}.int64) first (or .to({ns}.float32))",
            "f": "convert with .to({ns}.float32) first, compute, then convert back"}


def kernel_error(op, d):
    """torch's NotImplementedError for op's kernel on the barebones dtype d, with what to do instead."""
    kernel = KERNELS[op][0]
    family = "u" if d in B.UINTS else "f"
    if "|" in kernel:   # (torch's uint and float8 kernels differ: 'uint kernel|float8 kernel')
        kernel = kernel.split("|")[family == "f"]
    name = B.SCALAR_NAMES[d]
    return NotImplementedError(f"\"{kernel}\" not implemented for '{name}' ({name} tensors store values but torch "
                               f"has few kernels for them: {_INSTEAD[family].format(ns=B.namespace())})")


def refuses(op, d):
    """Whether torch's kernel for op refuses the (barebones) ember dtype d."""
    entry = KERNELS.get(op)
    if entry is None:
        return False
    fam = entry[1]
    return ("u" in fam and d in B.UINTS) or ("f" in fam and d in B.FLOAT8S) or ("e" in fam and d is B.float8_e8m0fnu) \
        or ("n" in fam and d.name in _NO_INF)


def check(op, *arrays):
    """Raise torch's error when one of the arrays (NumPy dtypes) is of a barebones dtype op's kernel refuses;
    the cost for any other dtype: one dict lookup an array."""
    for a in arrays:
        d = B.LIMITED.get(getattr(a, "dtype", None))
        if d is not None and refuses(op, d):
            raise kernel_error(op, d)


def check_kernel(kernel, npdtype):
    """check for an op that names torch's kernel (ops.kernel_for) rather than itself, by NumPy dtype."""
    op, d = _BY_KERNEL.get(kernel), B.LIMITED.get(npdtype)
    if op is not None and d is not None and refuses(op, d):
        raise kernel_error(op, d)


def check_var(a):
    """torch's RuntimeError for var / std of a float8 array (its uint16 & co. error is the integers' one)."""
    d = B.LIMITED.get(a.dtype)
    if d is not None and d in B.FLOAT8S:
        raise RuntimeError(f"std_var_all: Unsupported dtype {B.SCALAR_NAMES[d]} (convert with "
                           f".to({B.namespace()}.float32) first)")


def checked_number(value, d):
    """torch's checked conversion of a fill value to the float8 dtype d: a finite number past its range is a
    RuntimeError (a tensor's data saturates instead)."""
    if d in B.FLOAT8S and isinstance(value, (int, float)) and math.isfinite(value):
        info = B.finfo(d)
        if not info.min <= value <= info.max:
            raise RuntimeError(f"value cannot be converted to type {B.C_NAMES[d]} without overflow (the "
                               f"{d.name} range is [{info.min:g}, {info.max:g}])")


def check_dtype(op, d):
    """check for an op that makes a tensor of the ember dtype d (arange, rand, ...)."""
    if d in B.BAREBONES and refuses(op, d):
        raise kernel_error(op, d)
