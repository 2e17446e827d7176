"""dtypes, devices, and the array module that serves each device.

This is the only module that knows about numpy versus cupy; ops ask it for
``xp`` and never import an array library themselves.
"""
import re
import sys

import numpy as np


def namespace():
    """Return 'torch' when ember stands in for torch (the alias), else 'ember'."""
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "__ember__", False):
        return "torch"
    return "ember"


class dtype:
    """A tensor element type with torch's name."""

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_category", "cast")

    def __init__(self, name, np_dtype, category, itemsize=None, signed=None):
        self.name = name
        if np_dtype is not None:   # (None: bfloat16 and float8, whose NumPy dtypes come from ml_dtypes on first use)
            self.np = np.dtype(np_dtype)
        self._category = category  # 0 bool, 1 integer, 2 floating, 3 complex
        self.is_floating_point = category == 2
        self.is_complex = category == 3
        self.is_signed = name not in ("uint8", "bool") if signed is None else signed
        self.itemsize = self.np.itemsize if itemsize is None else itemsize
        # how an array becomes this dtype where NumPy's astype is not torch's conversion (None: astype)
        self.cast = None

    def __getattr__(self, name):
        # reached only for an unset slot: bfloat16's or a float8's `np` before ml_dtypes is loaded (the set
        # slots of every other dtype never come here, so their `d.np` costs what it did)
        if name == "np" and self.name == "bfloat16":
            return load_bfloat16()
        if name == "np" and self.name in FLOAT8_NAMES:
            load_float8()
            return self.np
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __repr__(self):
        return f"{namespace()}.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    def to_real(self):
        """The real dtype of a complex one (complex64 -> float32); a real dtype itself."""
        return _TO_REAL.get(self, self)

    def to_complex(self):
        """The complex dtype with this real part (float32 -> complex64); a complex dtype itself."""
        if self._category == 3:
            return self
        try:
            return _TO_COMPLEX[self]
        except KeyError:
            raise RuntimeError(f"to_complex(): {self} has no complex counterpart in ember "
                               "(only float32 and float64 do; convert first)") from None

    @property
    def is_bool(self):
        return self._category == 0

    @property
    def kind(self):
        """NumPy's kind letter ('b', 'i', 'u', 'f', 'c'): backward formulas test ``x.dtype.kind`` on
        arrays and Tensors alike."""
        return self.np.kind


def _dtype_by_name(name):
    return _BY_NAME[name]


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
# NumPy has no bfloat16: its arrays use ml_dtypes' NumPy dtype, an optional dependency imported on the first
# bfloat16 tensor (load_bfloat16), so that `import ember` stays light and works without it.  That dtype's kind
# is 'V' (void), which no other ember dtype has: in ember a kind 'V' array is a bfloat16 one.
bfloat16 = dtype("bfloat16", None, 2, itemsize=2)
complex64 = dtype("complex64", np.complex64, 3)
complex128 = dtype("complex128", np.complex128, 3)
# torch's "barebones" unsigned integers (NumPy's own types) and its float8 family (ml_dtypes' types, kind 'V'
# like bfloat16, loaded on first use by load_float8): dtypes to store and convert, with few ops, as in torch.
# Ops find them in LIMITED (by NumPy dtype) to raise torch's errors; float32 and int64 never look.
uint16 = dtype("uint16", np.uint16, 1, signed=False)
uint32 = dtype("uint32", np.uint32, 1, signed=False)
uint64 = dtype("uint64", np.uint64, 1, signed=False)
FLOAT8_NAMES = ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu")
float8_e4m3fn = dtype("float8_e4m3fn", None, 2, itemsize=1, signed=True)
float8_e5m2 = dtype("float8_e5m2", None, 2, itemsize=1, signed=True)
float8_e4m3fnuz = dtype("float8_e4m3fnuz", None, 2, itemsize=1, signed=True)
float8_e5m2fnuz = dtype("float8_e5m2fnuz", None, 2, itemsize=1, signed=True)
float8_e8m0fnu = dtype("float8_e8m0fnu", None, 2, itemsize=1, signed=False)   # (an exponent only: no sign)
UINTS = (uint16, uint32, uint64)
FLOAT8S = (float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu)
BAREBONES = frozenset(UINTS + FLOAT8S)
_TO_REAL = {complex64: float32, complex128: float64}
_TO_COMPLEX = {float32: complex64, float64: complex128, bfloat16: complex64}

ALL_DTYPES = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64, complex128,
              uint16, uint32, uint64) + FLOAT8S
_BY_NAME = {d.name: d for d in ALL_DTYPES}
# torch's aliases, as attributes of the top-level package
ALIASES = {
    "bool": bool_, "uint8": uint8, "int8": int8, "int16": int16, "short": int16,
    "int32": int32, "int": int32, "int64": int64, "long": int64,
    "float16": float16, "half": float16, "bfloat16": bfloat16, "float32": float32, "float": float32,
    "float64": float64, "double": float64,
    "complex64": complex64, "cfloat": complex64, "complex128": complex128, "cdouble": complex128,
    "uint16": uint16, "uint32": uint32, "uint64": uint64,
}
ALIASES.update({d.name: d for d in FLOAT8S})
# (load_bfloat16 and load_float8 add theirs)
FROM_NUMPY = {d.np: d for d in ALL_DTYPES if d is not bfloat16 and d not in FLOAT8S}
# the NumPy dtypes of torch's barebones dtypes -> their ember dtype (load_float8 adds the float8 ones)
LIMITED = {d.np: d for d in UINTS}
# Tensor.type() strings
TYPE_NAMES = {
    float32: "FloatTensor", float64: "DoubleTensor", float16: "HalfTensor", bfloat16: "BFloat16Tensor",
    int64: "LongTensor", int32: "IntTensor", int16: "ShortTensor", int8: "CharTensor", uint8: "ByteTensor",
    bool_: "BoolTensor",
    complex64: "ComplexFloatTensor", complex128: "ComplexDoubleTensor",
    uint16: "UInt16Tensor", uint32: "UInt32Tensor", uint64: "UInt64Tensor",
}

# torch's ScalarType names, used in its error messages
SCALAR_NAMES = {
    float32: "Float", float64: "Double", float16: "Half", bfloat16: "BFloat16", int64: "Long", int32: "Int",
    int16: "Short", int8: "Char", uint8: "Byte", bool_: "Bool", complex64: "ComplexFloat", complex128: "ComplexDouble",
    uint16: "UInt16", uint32: "UInt32", uint64: "UInt64",
}
SCALAR_NAMES.update({d: "F" + d.name[1:] for d in FLOAT8S})   # Float8_e4m3fn ...
TYPE_NAMES.update({d: SCALAR_NAMES[d] + "Tensor" for d in FLOAT8S})
# torch's C++ type names, used in its other messages ("Input type (float) and bias type (double)")
C_NAMES = {
    float32: "float", float64: "double", float16: "c10::Half", bfloat16: "c10::BFloat16", int64: "long int",
    int32: "int", int16: "short int", int8: "signed char", uint8: "unsigned char", bool_: "bool",
    complex64: "c10::complex<float>", complex128: "c10::complex<double>",
    uint16: "short unsigned int", uint32: "unsigned int", uint64: "long unsigned int",
}
C_NAMES.update({d: "c10::" + SCALAR_NAMES[d] for d in FLOAT8S})


BFLOAT16_MISSING = ("bfloat16 tensors need the ml_dtypes package, which ember uses for NumPy's missing bfloat16: "
                    "pip install ml_dtypes (or pip install ember[bf16])")


def _ml_dtypes(missing):
    """The ml_dtypes module (an optional dependency); RuntimeError(missing) naming the fix without it."""
    try:
        import ml_dtypes
    except ImportError:
        raise RuntimeError(missing) from None
    return ml_dtypes


def load_bfloat16():
    """bfloat16's NumPy dtype (ml_dtypes.bfloat16), imported on first use; a RuntimeError naming the fix
    when ml_dtypes is not installed."""
    npd = np.dtype(_ml_dtypes(BFLOAT16_MISSING).bfloat16)
    bfloat16.np = npd
    FROM_NUMPY[npd] = bfloat16
    _BF16_NP.append(npd)
    for fn in _BF16_HOOKS:
        fn(npd)
    return npd


_BF16_HOOKS = []
_BF16_NP = []   # [ml_dtypes' bfloat16 NumPy dtype] once loaded


def on_bfloat16(fn):
    """Call fn(the bfloat16 NumPy dtype) once bfloat16 is loaded (now if it is): for the ops' tables keyed
    by NumPy dtype, which cannot name ml_dtypes' dtype at import."""
    _BF16_HOOKS.append(fn)
    if _BF16_NP:
        fn(_BF16_NP[0])


def to_bfloat16(a):
    """The NumPy array a as bfloat16, converted as torch converts: float64 and 32/64-bit integers through
    float32 first (torch makes a bfloat16 from a float), where ml_dtypes would round them directly."""
    npd = bfloat16.np
    if a.dtype.itemsize > 2 and a.dtype.kind in "iuf" and a.dtype != np.float32 or a.dtype in LIMITED:
        a = a.astype(np.float32)
    return a.astype(npd)


bfloat16.cast = to_bfloat16


FLOAT8_MISSING = ("float8 tensors need the ml_dtypes package, which ember uses for NumPy's missing float8 types: "
                  "pip install ml_dtypes (or pip install ember[bf16])")


def load_float8():
    """Give the float8 dtypes ml_dtypes' NumPy dtypes (imported on first use); a RuntimeError naming the fix
    when ml_dtypes is not installed."""
    ml_dtypes = _ml_dtypes(FLOAT8_MISSING)
    for d in FLOAT8S:
        npd = np.dtype(getattr(ml_dtypes, d.name))
        d.np = npd
        FROM_NUMPY[npd] = d
        LIMITED[npd] = d


def _as_float32(a):
    """a (any real dtype) as float32: torch converts to a float8 from a float, as to bfloat16."""
    if a.dtype.kind == "c":
        a = a.real
    return a if a.dtype == np.float32 else a.astype(np.float32)


def _float8_cast(d):
    """The array -> float8 dtype d conversion torch's c10 types make from a float32 (rounding to nearest
    even as ml_dtypes, but e4m3fn saturating past its max and e8m0fnu keeping only the exponent)."""
    def cast(a):
        with quiet():   # (torch converts silently)
            return _to_float8(a)

    def _to_float8(a):
        f = _as_float32(a)
        if d is float8_e8m0fnu:   # c10's fp8e8m0fnu_from_fp32_value: the exponent, rounded by the mantissa
            bits = f.view(np.uint32)
            exp = (bits >> 23) & 0xFF
            up = (bits & 0x400000 != 0) & ((bits & 0x3FFFFF != 0) | (exp > 0)) & (exp != 0xFF)
            return (exp + up).astype(np.uint8).view(d.np)
        out = f.astype(d.np)
        if d is float8_e4m3fn or d is float8_e5m2:
            bits = out.view(np.uint8)
            sign = (f.view(np.uint32) >> 24).astype(np.uint8) & 0x80
            nan = f != f
            if d is float8_e4m3fn:   # what rounds past 448 (to NaN in ml_dtypes), inf too, saturates to +-448
                bits = np.where((bits & 0x7F == 0x7F) & ~nan, sign | 0x7E, bits)
            bits = np.where(nan, sign | 0x7F, bits)   # (torch's one NaN pattern; ml_dtypes' differs for e5m2)
            out = bits.astype(np.uint8).view(d.np)
        return out
    cast.__name__ = f"to_{d.name}"
    return cast


def _uint_cast(d):
    """The array -> uint16/32/64 conversion as torch's static_cast: a float through int64 (so -2.0 wraps to
    2**bits - 2 as on torch's CPUs; NumPy's float -> unsigned cast is undefined there)."""
    def cast(a):
        if a.dtype.kind == "c":
            a = a.real
        with quiet():   # (torch converts silently)
            if a.dtype.kind in "fV":
                a = _as_float32(a).astype(np.int64) if a.dtype.kind == "V" or a.itemsize == 1 else a.astype(np.int64)
            return a.astype(d.np)
    cast.__name__ = f"to_{d.name}"
    return cast


for _d in FLOAT8S:
    _d.cast = _float8_cast(_d)
for _d in UINTS:
    _d.cast = _uint_cast(_d)


def cast(a, d):
    """The array a converted to ember dtype d as torch converts (astype, or d's own conversion; a float8
    array through float32, as torch's c10 types convert)."""
    if d.cast is not None:
        return d.cast(a)
    if a.dtype.itemsize == 1 and a.dtype.kind in "Vf":   # (float8: its NaN and range cast silently, as torch)
        with quiet():
            return a.astype(np.float32).astype(d.np)
    return a.astype(d.np)


def cast_number(x, d):
    """The Python number x as a 0-d host array of ember dtype d, converted as torch converts a number (a float8
    from its float32, an unsigned integer from its int64: a Python int, which a GPU array takes too)."""
    if not d.is_floating_point:
        return int(cast(np.asarray(x, np.int64), d))
    return cast(np.asarray(x, np.float32), d)


def bf16_number(x):
    """The number x rounded to bfloat16 as torch rounds a number (through float32), as a float32 scalar:
    an array times it computes in float32, exactly."""
    return np.float32(np.array(x, np.float32).astype(_BF16_NP[0]))


def bf16_round(a):
    """A float32 result rounded (to nearest even) to bfloat16."""
    return a.astype(_BF16_NP[0])


def bf16_through(a):
    """A float32 array rounded to bfloat16 and back: what torch's bfloat16 kernels store on the way."""
    return a.astype(_BF16_NP[0]).astype(np.float32)


def scalar_name(dt):
    """torch's ScalarType name ('Float') of an ember or NumPy dtype; NumPy's name for one ember lacks."""
    d = _BY_NAME.get(dt.name)
    return dt.name if d is None else SCALAR_NAMES[d]


def c_name(dt):
    """torch's C++ type name ('float', 'long int') of an ember or NumPy dtype."""
    return C_NAMES[_BY_NAME[dt.name]]

_default_float = [float32]


def get_default_dtype():
    """Return the default floating point dtype (float32 unless changed)."""
    return _default_float[0]


def set_default_dtype(d):
    """Set the default floating point dtype, as torch.set_default_dtype."""
    if d is float or d is int or d is bool:  # torch takes only dtypes here, not Python types
        raise TypeError("invalid dtype object: only floating-point types are supported as the default type")
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float[0] = d


def as_dtype(d):
    """Turn an ember dtype, numpy dtype, python type or name into an ember dtype."""
    if type(d) is dtype:
        return d
    # torch maps Python's float to float64 whatever the default dtype is (it is C's double)
    if d is float:
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if d is complex:
        return complex128
    if isinstance(d, str):
        name = d[6:] if d.startswith("torch.") else d[6:] if d.startswith("ember.") else d
        if name in ALIASES:
            return ALIASES[name]
        raise TypeError(f"unknown dtype {d!r}; expected one of {', '.join(sorted(ALIASES))}")
    try:
        return FROM_NUMPY[np.dtype(d)]
    except (TypeError, KeyError):
        raise TypeError(
            f"unsupported dtype {d!r}: ember supports {', '.join(x.name for x in ALL_DTYPES)}") from None


def dtype_arg(d, op=None):
    """A public function's dtype argument as an ember dtype (None stays None), with torch's TypeError for
    what torch refuses there: a name ('float32') or a NumPy type (np.float32); it takes its dtypes and
    Python's float, int, bool and complex. (as_dtype, for ember's own use, takes them all.)"""
    if type(d) is dtype:
        return d
    if d is None or d is float or d is int or d is bool or d is complex:
        return None if d is None else as_dtype(d)
    ns = namespace()
    try:
        hint = f"; use {ns}.{as_dtype(d).name}"
    except TypeError:
        hint = f"; the dtypes are {ns}.float32, {ns}.int64 and the like"
    raise TypeError(f"{op + '(): ' if op else ''}argument 'dtype' must be {ns}.dtype, not {type(d).__name__} "
                    f"(got {d!r}{hint})")


def _info_dtype(d, fn):
    if d is None:
        return get_default_dtype()
    if type(d) is dtype or d is float or d is int or d is bool or d is complex:
        return as_dtype(d)
    raise TypeError(f"{fn}(): argument 'type' (position 1) must be {namespace()}.dtype, not {type(d).__name__}")


class finfo:
    """Machine limits of a floating dtype, as torch.finfo (the default dtype when none is given)."""

    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, type=None):
        d = _info_dtype(type, "finfo").to_real()  # a complex dtype: its real part's limits, as torch
        if not d.is_floating_point:
            ns = namespace()
            raise TypeError(f"{ns}.finfo() requires a floating point input type. Use {ns}.iinfo to handle "
                            f"'{ns}.finfo'")
        if d is bfloat16:   # (NumPy's finfo does not know ml_dtypes' type; the limits need no import)
            self.bits, self.eps, self.tiny, self.resolution = 16, 2.0 ** -7, 2.0 ** -126, 0.01
            self.max = float.fromhex("0x1.fep127")   # (1 + 127/128) * 2**127
            self.min, self.smallest_normal, self.dtype = -self.max, self.tiny, d.name
            return
        if d in FLOAT8S:   # (torch's values: no ml_dtypes import needed)
            (self.eps, self.max, self.min, self.tiny) = _FLOAT8_INFO[d.name]
            self.bits, self.resolution, self.smallest_normal, self.dtype = 8, 1.0, self.tiny, d.name
            return
        info = np.finfo(d.np)
        self.bits = info.bits
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -info.precision  # exact, as torch: NumPy rounds it to the dtype
        self.dtype = d.name

    def __eq__(self, other):
        return isinstance(other, finfo) and self.dtype == other.dtype

    __hash__ = None  # torch's finfo is unhashable too

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


# torch.finfo's eps, max, min, tiny of the float8 types
_FLOAT8_INFO = {
    "float8_e4m3fn": (0.125, 448.0, -448.0, 2.0 ** -6), "float8_e5m2": (0.25, 57344.0, -57344.0, 2.0 ** -14),
    "float8_e4m3fnuz": (0.125, 240.0, -240.0, 2.0 ** -7), "float8_e5m2fnuz": (0.125, 57344.0, -57344.0, 2.0 ** -15),
    "float8_e8m0fnu": (1.0, 2.0 ** 127, 2.0 ** -127, 2.0 ** -127),
}


class iinfo:
    """Machine limits of an integer dtype, as torch.iinfo."""

    __slots__ = ("bits", "max", "min", "dtype")

    def __init__(self, type):
        d = _info_dtype(type, "iinfo")
        ns = namespace()
        if d is bool_:
            raise TypeError(f"{ns}.bool is not supported by {ns}.iinfo")
        if d.is_floating_point or d.is_complex:
            raise TypeError(f"{ns}.iinfo() requires an integer input type. Use {ns}.finfo to handle "
                            f"'{ns}.iinfo'")
        info = np.iinfo(d.np)
        self.bits = info.bits
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = d.name

    def __eq__(self, other):
        return isinstance(other, iinfo) and self.dtype == other.dtype

    __hash__ = None

    def __repr__(self):
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"


def dtype_of(array):
    """The ember dtype of an array."""
    try:
        return FROM_NUMPY[array.dtype]
    except KeyError:
        raise TypeError(f"can't convert an array of dtype {array.dtype}: ember supports "
                        f"{', '.join(x.name for x in ALL_DTYPES)}") from None


class OutOfMemoryError(RuntimeError):
    """A device ran out of memory (torch.OutOfMemoryError, also torch.cuda.OutOfMemoryError)."""


class AcceleratorError(RuntimeError):
    """An accelerator (GPU) reported an error (torch.AcceleratorError)."""


OutOfMemoryError.__module__ = AcceleratorError.__module__ = "ember"


_CAST_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2, "c": 3}


def can_cast_np(src, dst):
    """torch's canCast for NumPy dtypes: a result may be written into any dtype of its kind or a higher
    one (bool < integers < floating < complex), integers into any integer dtype (wrapping)."""
    return _CAST_CATEGORY[src.kind] <= _CAST_CATEGORY[dst.kind]


_not_writable_warned = [False]


def numpy_source(array, shared):
    """A NumPy array a tensor is about to be made from, checked as torch checks it: torch's
    ValueError for a negative stride and, when the tensor will share a non-writable array, torch's
    warning (once per process)."""
    if any(s < 0 for s in array.strides):
        raise ValueError(
            "At least one stride in the given numpy array is negative, and tensors with negative strides "
            "are not currently supported. (You can probably work around this by making a copy of your "
            "array  with array.copy().) ")
    dtype_of(array)
    if shared and not array.flags.writeable and not _not_writable_warned[0]:
        _not_writable_warned[0] = True
        from . import _userwarn
        _userwarn.warn(
            "The given NumPy array is not writable, and ember does not support non-writable "
            "tensors: an in-place operation on this tensor will raise an error. You may want to copy the array "
            "to protect its data or make it writable before converting it to a tensor. This type of warning "
            "will be suppressed for the rest of this program.")
    return array


def promote_types(a, b):
    """torch.promote_types: integers never outrank floats, floats keep their width, complex
    outranks both and takes the wider real part (float64 with complex64 is complex128)."""
    if a is b:
        return a
    if a in BAREBONES or b in BAREBONES:
        return _limited_promotion(a, b)
    ca, cb = a._category, b._category
    if ca == 3 or cb == 3:
        ra, rb = a.to_real(), b.to_real()
        wide = float64 if float64 in (ra, rb) else float32
        return _TO_COMPLEX[wide]
    if ca != cb:
        return a if ca > cb else b
    if ca == 2:
        if a.itemsize == b.itemsize:   # float16 and bfloat16 (two floats of one width): torch meets in float32
            return float32
        return a if a.itemsize > b.itemsize else b
    return FROM_NUMPY[np.promote_types(a.np, b.np)]


def _limited_promotion(a, b):
    """torch.promote_types for a barebones dtype: a uint16/32/64 goes only to a float of 16 or more bits,
    a float8 nowhere (torch's RuntimeError, with what to do)."""
    ns = namespace()
    if a in FLOAT8S or b in FLOAT8S:
        raise RuntimeError(f"Promotion for Float8 Types is not supported, attempted to promote {SCALAR_NAMES[a]} and "
                           f"{SCALAR_NAMES[b]} (convert the float8 tensor with .to({ns}.float32) first)")
    other = b if a in UINTS else a
    if other._category == 2:
        return other
    raise RuntimeError(f"Promotion for uint16, uint32, uint64 types is not supported, attempted to promote "
                       f"{SCALAR_NAMES[a]} and {SCALAR_NAMES[b]} (convert with .to({ns}.int64) first)")


# torch's device types: each names a device (torch.device('mps') is valid anywhere); ember's tensors
# live on 'cpu', 'cuda' and 'meta' only (refuse_backend)
DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia", "xla",
                "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


_DEVICE_STRING = re.compile(r"[a-zA-Z_]+(?::(?:[1-9]\d*|0))?")


class device:
    """A device: 'cpu', 'cuda' or 'cuda:N' (and torch's other device names, which hold no tensor here)."""

    __slots__ = ("type", "index")

    def __new__(cls, type_or_str="cpu", index=None):
        if isinstance(type_or_str, device):
            return type_or_str
        if isinstance(type_or_str, int) and index is None:
            type_or_str, index = "cuda", type_or_str
        text = str(type_or_str)
        if _DEVICE_STRING.fullmatch(text) is None:   # checked first, as torch does ('float32' is invalid)
            raise RuntimeError(f"Invalid device string: '{text}'")
        kind, sep, num = text.partition(":")
        if kind not in DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device "
                               f"string: {text}")
        if sep:
            if index is not None:
                raise RuntimeError(f"device string {text!r} already has an index; don't pass index={index}")
            index = int(num)
        if kind == "cpu" and index is None and not sep and _CPU is not None:
            return _CPU
        self = object.__new__(cls)
        self.type = kind
        self.index = index
        return self

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        # as torch's: equal only to a device (device("cpu") == "cpu" is False: compare d.type, or
        # d == torch.device("cpu"))
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))

    def __enter__(self):
        """`with torch.device('meta'):` factories called inside make their tensors on this device."""
        # (no check here: as in torch, a device ember can't use fails at the first factory inside)
        _DEVICE_CONTEXTS.append(DEFAULT_DEVICE[0])
        DEFAULT_DEVICE[0] = None if self.type == "cpu" else self
        return self

    def __exit__(self, *exc):
        DEFAULT_DEVICE[0] = _DEVICE_CONTEXTS.pop()


_DEVICE_CONTEXTS = []   # the default devices that `with device:` blocks replaced, innermost last


_CPU = None
_CPU = device("cpu")
CPU = _CPU


def as_device(d):
    """Turn a device, string or index into a device object."""
    if d is None or d is _CPU:
        return _CPU
    if type(d) is device:
        return d
    return device(d)


_ndarray = np.ndarray


def xp_of(array):
    """The array module (numpy or cupy) that computes on this array: ops call it once per call."""
    if type(array) is _ndarray:  # the CPU fast path: one type check
        return np
    return _xp_other(array)


def _xp_other(array):
    ns = getattr(type(array), "_array_namespace", None)
    if ns is not None:   # a Tensor standing in for an array in a create_graph backward
        return ns
    if isinstance(array, (np.ndarray, np.generic)):
        # host arrays, numpy scalars, ndarray subclasses; a test-only device backed by NumPy
        # tags its arrays with the module that stands in for cupy
        return getattr(array, "_ember_xp", np)
    from . import cuda
    return cuda._cupy()


_SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}
_SELECT_MIN = 16384


def where(xp, cond, a, b):
    """xp.where(cond, a, b).  On NumPy arrays of 16384 or more elements and one float dtype (or a
    float array and a Python number) it selects by bit masks, the same bits: NumPy's where slows
    to ~3.5 ns an element past 65,536 elements when the condition is unpredictable (data-dependent,
    as x > 0), 9x the masks' cost."""
    if xp is np and type(cond) is _ndarray and cond.size >= _SELECT_MIN and cond.dtype == bool:
        ta, tb = type(a), type(b)
        if ta is _ndarray and (tb is _ndarray and b.dtype == a.dtype or tb is float or tb is int):
            dt = a.dtype
        elif tb is _ndarray and (ta is float or ta is int):
            dt = b.dtype
        else:
            dt = None
        if dt is not None and dt.kind == "f" and dt.itemsize in _SAME_SIZE_INT:
            bits = _SAME_SIZE_INT[dt.itemsize]
            ai = np.asarray(a, dt).view(bits)
            bi = np.asarray(b, dt).view(bits)
            mask = np.subtract(0, cond, dtype=bits)    # all ones where cond holds
            r = np.bitwise_xor(ai, bi)
            r = np.bitwise_and(r, mask, out=r if r.shape == mask.shape else None)
            np.bitwise_xor(r, bi, out=r)               # b ^ ((a ^ b) & mask)
            return r.view(dt)
    return xp.where(cond, a, b)


# backends a CPU build of torch knows as dispatch keys: a tensor made there directly (a factory, or a copy
# to an indexed device) fails at dispatch with NotImplementedError, where a copy to the bare device type
# asks for the current device first and raises RuntimeError. Each: (torch's backend name, the kernel an
# indexed copy fails in).
_DISPATCH = {"mps": ("MPS", "aten::empty_strided"), "hip": ("HIP", "aten::empty_strided"),
             "vulkan": ("Vulkan", "aten::empty_strided"), "ve": ("VE", "aten::empty_strided"),
             "fpga": ("FPGA", "aten::empty_strided"), "maia": ("MAIA", "aten::empty_strided"),
             "xla": ("XLA", "aten::empty.memory_format"), "ipu": ("IPU", "aten::empty.memory_format"),
             "lazy": ("Lazy", "aten::empty.memory_format")}


def refuse_backend(kind, op=None):
    """ember's error for a device type other than 'cpu' and 'cuda', which it has no arrays for; op names
    torch's kernel that would make the tensor there (torch.ones(2, device='mps'): 'aten::empty.memory_format')
    where torch fails at dispatch."""
    why = (f"ember is not linked with support for {kind} devices: its tensors live on the CPU (NumPy), a "
           "CUDA GPU (CuPy) or 'meta' (shapes without data); use device='cpu' (or 'cuda')")
    if kind == "xpu" or kind == "mtia":   # (torch's lazy init asserts, as its CUDA one does)
        raise AssertionError(f"Torch not compiled with {kind.upper()} enabled: {why}")
    if kind == "lazy" and op is None:   # (its copies make the tensor there directly too)
        op = "aten::empty.memory_format"
    if op is not None and kind in _DISPATCH:
        raise NotImplementedError(f"Could not run '{op}' with arguments from the '{_DISPATCH[kind][0]}' backend. "
                                  f"({why})")
    raise RuntimeError(why)


def array_module(dev):
    """numpy for the CPU, cupy for CUDA (imported only when asked for)."""
    if dev.type == "cpu":
        return np
    if dev.type == "meta":
        from ._meta import xp
        return xp
    if dev.type != "cuda":
        refuse_backend(dev.type, _DISPATCH[dev.type][1] if dev.index is not None and dev.type in _DISPATCH else None)
    from . import cuda
    return cuda._cupy()


def device_of(array):
    """The device an array lives on."""
    if type(array) is _ndarray:
        return _CPU
    dev = getattr(array, "_ember_device", None)
    if dev is not None:
        return dev
    if isinstance(array, (np.ndarray, np.generic)):
        return _CPU
    idx = array.device.id
    d = _CUDA_DEVICES.get(idx)
    if d is None:
        d = _CUDA_DEVICES[idx] = device("cuda", idx)
    return d


_CUDA_DEVICES = {}


def check_same_device(op, *arrays):
    """Raise torch's mixed-device error when the arrays of one op live on different devices."""
    first = device_of(arrays[0])
    for a in arrays[1:]:
        other = device_of(a)
        if other != first:
            cuda_dev, other_dev = (first, other) if first.type == "cuda" else (other, first)
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at least two devices, "
                f"{cuda_dev} and {other_dev}! (when checking arguments for {op}; move them with "
                f".to({str(cuda_dev)!r}) or .cpu() first)")


def host_array(x):
    """A host (NumPy) array of Python data or of a NumPy scalar: NumPy reductions return scalars,
    tensors hold arrays (CuPy never returns scalars, so only host results come here)."""
    return np.asarray(x)


def data_ptr(array):
    """The address of an array's first element (host or device); 0 on 'meta', which has no memory to show."""
    if getattr(array, "_ember_device", None) is not None and array._ember_device.type == "meta":
        return 0
    if isinstance(array, np.ndarray):
        return array.__array_interface__["data"][0]
    return array.data.ptr


class _NullContext:
    __slots__ = ()

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


_NULL = _NullContext()


try:   # NumPy 2 keeps its floating-point error state in a context variable: setting it directly costs
    # ~0.1 us where np.errstate costs ~0.7, cheap enough for ops that users call on small tensors
    from numpy._core._ufunc_config import _extobj_contextvar as _fp_state
    with np.errstate(all="ignore"):
        FP_QUIET = _fp_state.get()
    fp_get, fp_set, fp_reset = _fp_state.get, _fp_state.set, _fp_state.reset
except (ImportError, AttributeError):   # another NumPy: the ops stay unguarded (ember's warnings filter remains)
    _fp_state = FP_QUIET = None

    def fp_get():
        return None

    def fp_set(value):
        return None

    def fp_reset(token):
        return None


class _Quiet:
    __slots__ = ("token",)

    def __enter__(self):
        self.token = _fp_state.set(FP_QUIET)

    def __exit__(self, *exc):
        _fp_state.reset(self.token)
        return False


def quiet():
    """A block where NumPy's floating-point errors (1/0, log(0), overflow) pass silently, as torch's
    kernels compute inf and nan silently: whatever warnings filters the user (or pytest) has set."""
    return _Quiet() if _fp_state is not None else np.errstate(all="ignore")


# NumPy 2's ufuncs copy an operand that broadcasts along contiguous rows (a per-channel (1, C, 1, 1)
# against (N, C, H, W), a per-row (R, 1) against (R, L)) through a buffer whenever the rows are
# shorter than the buffer (8192 elements): 2-3x slower than its loop over each row, which it takes
# once the buffer is no longer than a row ((128, 1024) + (128, 1): 44 -> 17 us; scalar: 14).
# Shorter buffers lose below ~128 elements a row, and for casts.  (A buffer no longer than the rows
# is all it takes: a power of two, as NumPy wants a multiple of 16.)
_ROW_STATES = {}
ROWS_MIN = 128
_NUMPY_BUFFER = 8192   # NumPy's default ufunc buffer, in elements


def rows_state(n):
    """FP_QUIET with a ufunc buffer of at most n elements: for fp_set around ops that broadcast one
    operand along contiguous rows of n >= ROWS_MIN elements, so that NumPy loops over them unbuffered."""
    size = 1 << (min(n, _NUMPY_BUFFER).bit_length() - 1)
    state = _ROW_STATES.get(size)
    if state is None and _fp_state is not None:
        token = _fp_state.set(FP_QUIET)
        try:
            np.setbufsize(size)
            state = _ROW_STATES[size] = _fp_state.get()
        finally:
            _fp_state.reset(token)
    return state


def set_rows(n):
    """fp_set(rows_state(n)) where rows of n elements are long enough (ROWS_MIN), else None: the
    token for fp_reset around ops that broadcast along such rows."""
    return fp_set(rows_state(n)) if n >= ROWS_MIN else None


def broadcast_state(a, b):
    """rows_state for an elementwise op of NumPy arrays a and b where the smaller repeats along the
    larger's contiguous rows of 128-8191 elements (the trailing dims where it has 1: a per-channel
    (C, 1, 1) against (N, C, H, W)); else FP_QUIET (also when both broadcast, as (N, 1) + (1, M))."""
    big, small = (a, b) if a.size >= b.size else (b, a)
    big, small = big.shape, small.shape
    if len(small) > len(big) or any(s != 1 and s != t for s, t in zip(small[::-1], big[::-1])):
        return FP_QUIET
    n = 1
    for i in range(1, len(small) + 1):
        if small[-i] != 1:
            break
        n *= big[-i]
    return rows_state(n) if ROWS_MIN <= n < _NUMPY_BUFFER else FP_QUIET


def errstate(xp, **kwargs):
    """numpy.errstate on the CPU; nothing on a GPU, where floating-point errors never warn."""
    if xp is not np:
        return _NULL
    if _fp_state is not None and all(v == "ignore" for v in kwargs.values()):
        return _Quiet()   # (silencing the other kinds too: torch warns of none)
    return np.errstate(**kwargs)


class layout:
    """A tensor memory layout (torch.layout): torch.strided (dense) or torch.sparse_coo (ops/sparse.py); the
    other sparse layouts exist as names only."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"{namespace()}.{self.name}"

    def __reduce__(self):
        return (_layout_named, (self.name,))


def _layout_named(name):
    """The layout called name ('strided', 'sparse_coo', or with torch's prefix: 'torch.sparse_coo')."""
    name = name.rpartition(".")[2]
    return LAYOUTS.get(name) or layout(name)


strided = layout("strided")
sparse_coo = layout("sparse_coo")
LAYOUTS = {"strided": strided, "sparse_coo": sparse_coo}
LAYOUTS.update({n: layout(n) for n in ("sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "_mkldnn")})
sparse_csr, sparse_csc = LAYOUTS["sparse_csr"], LAYOUTS["sparse_csc"]   # (ops/sparse_compressed.py)

# the device factory functions use when given none (torch.set_default_device)
DEFAULT_DEVICE = [None]
