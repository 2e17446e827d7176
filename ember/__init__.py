"""ember: a deep-learning framework on NumPy whose public API is PyTorch's."""
__version__ = "0.1.0"
__ember__ = True  # lets ember stand in for torch (see _backend.namespace)

from . import _backend
from math import e, inf, nan, pi  # noqa: F401  (torch re-exports these the same way)
from ._backend import (AcceleratorError, OutOfMemoryError, device, dtype, finfo, get_default_dtype, iinfo,  # noqa: F401
                       set_default_dtype)
from ._tensor import Size, Tensor, typename  # noqa: F401
from ._tensor import LEGACY_TYPES as _LEGACY_TYPES
from . import autograd  # noqa: F401
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401
from .random import Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state  # noqa: F401
from . import ops as _ops  # noqa: F401
from .ops import convert as _convert, creation as _creation, elementwise as _elementwise
from .ops import linalg as _linalg, reduce as _reduce, shape as _shape
from .ops import activation as _activation, conv as _conv, fold as _fold, loss as _loss, norm as _norm, pool as _pool
from .ops import sampling as _sampling, conv3d as _conv3d
from .ops import complex as _complex
from .ops import view_copy as _view_copy
from .ops import spectral as _spectral
from . import _tensor_str
from . import storage  # noqa: F401  (Tensor.storage / untyped_storage / share_memory_ / is_shared)
from .storage import TypedStorage, UntypedStorage  # noqa: F401
globals().update(storage.LEGACY_STORAGES)   # torch.FloatStorage, torch.LongStorage, ...
from . import cuda  # noqa: F401
from ._settings import (are_deterministic_algorithms_enabled, get_float32_matmul_precision,  # noqa: F401
                        is_deterministic_algorithms_warn_only_enabled, set_float32_matmul_precision,
                        use_deterministic_algorithms, set_default_tensor_type, set_flush_denormal,
                        set_warn_always, is_warn_always_enabled, set_deterministic_debug_mode,
                        get_deterministic_debug_mode)
from .autograd.grad_mode import is_inference_mode_enabled  # noqa: F401
from .autograd.anomaly_mode import (is_anomaly_check_nan_enabled, is_anomaly_enabled,  # noqa: F401
                                    set_anomaly_enabled)
from ._threads import get_num_interop_threads, get_num_threads, set_num_interop_threads, set_num_threads  # noqa: F401
from . import _malloc, _threads
from ._argcheck import tensor_args as _tensor_args
import functools as _functools
import warnings as _warnings
from types import FunctionType as _FunctionType
# NumPy warns on 1/0, log(0), overflow...; torch computes inf/nan silently.  Only warnings raised
# from ember's own frames are silenced: the user's NumPy code keeps its warnings.  (A
# warnings.catch_warnings() block around `import ember`, as pytest's, drops the filter on exit.)
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ember(\.|$)")
_threads.init()
_malloc.tune()


def _own_name(fn, name):
    """fn as the function `name` when it is an alias (concat of cat): torch's aliases are functions of their
    own, which torch.fx prints by name and tells apart (torch.arctan is not torch.atan).  A copy of the function
    object, not a wrapper: calling it costs the same."""
    if not isinstance(fn, _FunctionType) or fn.__name__ == name:
        return fn
    alias = _FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    alias.__kwdefaults__ = fn.__kwdefaults__
    alias.__dict__.update(fn.__dict__)
    alias.__doc__, alias.__qualname__, alias.__module__ = fn.__doc__, name, __name__   # (pickled as ember.<name>)
    if alias.__dict__.get("_checks_tensors") is fn:
        alias._checks_tensors = alias
    return alias


def _export(module):
    g = globals()
    top_level = getattr(module, "__top_level__", {})  # where torch.x differs from F.x
    for name in module.__all__:
        g[name] = _own_name(_tensor_args(top_level.get(name) or getattr(module, name), __name__), name)


for _m in (_creation, _elementwise, _convert, _reduce, _shape, _linalg, _activation, _conv, _loss, _norm,
           _pool, _fold, _sampling, _tensor_str, _conv3d, _complex, _view_copy, _spectral):
    _export(_m)

# torch's out= for the functions whose own code has none (or ignored it)
from .ops.elementwise import out_variant as _out_variant
for _name in ("where", "max", "min", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor",
              "logical_not", "logical_and", "logical_or", "logical_xor", "nonzero", "chain_matmul", "histogram",
              "polar", "sort", "topk", "argmax", "argmin", "std", "var",
              "index_select", "gather", "logsumexp", "kthvalue", "median", "mode", "histc", "diff", "tril",
              "triu", "msort", "nanmedian", "amax", "amin", "aminmax", "cummax", "cummin", "take",
              "masked_select", "diag", "kron", "cross"):   # (torch's flip, roll, rot90 and trace take no out=)
    if _name in globals():
        globals()[_name] = _out_variant(globals()[_name], _name)
        globals()[_name].__module__ = __name__   # (pickled by name, as ember.<name>)
for _name in ("sum", "prod", "cumsum", "cumprod"):   # these compute in out's dtype, as torch's
    globals()[_name] = _out_variant(globals()[_name], _name, dtype_from_out=True)
    globals()[_name].__module__ = __name__

from ._memory_format import (memory_format, contiguous_format, channels_last, channels_last_3d,  # noqa: F401
                             preserve_format)
newaxis = None  # torch.newaxis, as numpy's: x[:, newaxis] adds a dim


def is_storage(obj, /):
    """True for a TypedStorage or UntypedStorage."""
    return type(obj) in (TypedStorage, UntypedStorage)


@_functools.cache   # (as torch's: the answer for None is the accelerator at the first call)
def get_device_module(device=None):
    """The module of a device type (ember.cpu, ember.cuda): of the current accelerator, or the CPU, for None."""
    if isinstance(device, _backend.device):
        name = device.type
    elif isinstance(device, str):
        name = _backend.device(device).type
    elif device is None:
        from .accelerator import current_accelerator
        name = (current_accelerator() or _backend.device("cpu")).type
    else:
        raise RuntimeError(f"Invalid value of device '{device}', expect {_backend.namespace()}.device, str, or None")
    import sys
    module = getattr(sys.modules[__name__], name, None)   # (cpu and the like are imported on first use)
    if module is None:
        prefix = _backend.namespace()
        raise RuntimeError(f"Device '{name}' does not have a corresponding module registered as '{prefix}.{name}'.")
    return module


def _assert(condition, message):
    """torch._assert: an assert that symbolic tracing records (a call, where a statement would need a bool)."""
    assert condition, message


def detach_(input):
    """input.detach_()."""
    return input.detach_()


def resize_as_(input, the_template, *, memory_format=None):
    """input.resize_as_(the_template)."""
    return input.resize_as_(the_template, memory_format=memory_format)


# torch's dtype names: ember.float32, ember.long, ember.bool, ...
# torch.i0, torch.igamma, torch.mvlgamma ...: the special functions torch also keeps at its top level
from .ops import special as _special_ops
for _n in _special_ops.TOP_LEVEL:
    globals()[_n] = _tensor_args(getattr(_special_ops, _n), __name__)
globals().update(_backend.ALIASES)
# the legacy constructors: ember.FloatTensor, ember.LongTensor, ...
globals().update(_LEGACY_TYPES)
del _m, _n
# (after every op module has attached its in-place methods)
from ._tensor import guard_writes as _guard_writes
_guard_writes(Tensor)

# Imported on first use, so `import ember` stays light (a tenth of `import torch`).
_LAZY_MODULES = ("nn", "optim", "utils", "distributed", "serialization", "vision", "compat", "backends",
                 "accelerator", "version", "linalg")
_LAZY_MODULES += ("distributions",)  # torch.distributions
_LAZY_MODULES += ("func",)  # torch.func
_LAZY_MODULES += ("fft",)  # torch.fft
_LAZY_MODULES += ("multiprocessing",)  # torch.multiprocessing
_LAZY_MODULES += ("hub",)  # torch.hub
_LAZY_MODULES += ("profiler",)  # torch.profiler
_LAZY_MODULES += ("onnx",)  # torch.onnx (export refuses: ember has no ONNX exporter)
_LAZY_MODULES += ("fx",)  # torch.fx
_LAZY_MODULES += ("signal",)  # torch.signal (its windows)
_LAZY_NAMES = {"save": "serialization", "load": "serialization", "add_safe_globals": "serialization"}
_LAZY_NAMES["polygamma"] = "special"    # torch.polygamma is torch.special.polygamma
_LAZY_NAMES["from_dlpack"] = "utils.dlpack"  # torch.from_dlpack is torch.utils.dlpack.from_dlpack
_LAZY_NAMES["to_dlpack"] = "utils.dlpack"    # and torch.to_dlpack is torch.utils.dlpack.to_dlpack
_LAZY_NAMES["vmap"] = "func"            # torch.vmap is torch.func.vmap
# torch.amp, torch.special, torch.jit, torch.cpu; torch.compile; torch.autocast and its state functions
_LAZY_MODULES += ("amp", "special", "jit", "cpu", "compiler", "testing")
_LAZY_MODULES += ("_dynamo",)  # torch._dynamo (torch imports it lazily too)
_LAZY_MODULES += ("__future__",)  # torch.__future__ (module conversion switches)
_LAZY_MODULES += ("sparse",)  # torch.sparse; sparse tensors themselves live in ops/sparse.py
_LAZY_NAMES.update(dict.fromkeys(("sparse_coo_tensor", "spmm"), "ops.sparse"))
_LAZY_NAMES.update(dict.fromkeys(("sparse_csr_tensor", "sparse_csc_tensor", "sparse_compressed_tensor"),
                                 "ops.sparse_compressed"))
_LAZY_NAMES.update({"compile": "_compile"})
_LAZY_NAMES.update(dict.fromkeys(
    ("autocast", "is_autocast_enabled", "set_autocast_enabled", "get_autocast_dtype", "set_autocast_dtype",
     "is_autocast_cache_enabled", "set_autocast_cache_enabled", "clear_autocast_cache",
     "autocast_increment_nesting", "autocast_decrement_nesting", "is_autocast_cpu_enabled", "set_autocast_cpu_enabled",
     "get_autocast_cpu_dtype", "set_autocast_cpu_dtype"), "amp.autocast_mode"))
_LAZY_NAMES.update(dict.fromkeys(
    ("cond", "while_loop", "sym_int", "sym_float", "sym_max", "sym_min", "sym_not", "sym_sqrt", "sym_sum", "sym_ite"),
    "_higher_order_ops"))
_LAZY_NAMES["GradScaler"] = "amp"       # torch.GradScaler is torch.amp.GradScaler
_LAZY_NAMES.update(dict.fromkeys(("svd_lowrank", "pca_lowrank"), "_lowrank"))   # randomized SVD / PCA
# torch._sample_dirichlet, torch._dirichlet_grad: the Dirichlet kernels (distributions/utils.py)
_LAZY_NAMES.update(dict.fromkeys(("_sample_dirichlet", "_dirichlet_grad"), "distributions.utils"))
# torch.dropout_ & co: the in-place functional dropouts (ops/norm.py)
_LAZY_NAMES.update(dict.fromkeys(("dropout_", "alpha_dropout_", "feature_dropout_", "feature_alpha_dropout_"),
                                 "ops.norm"))
# torch.det, torch.svd, ...: their torch-level forms live with torch.linalg (ember/linalg.py, TOP_LEVEL)
_LAZY_LINALG = ("det", "inverse", "pinverse", "logdet", "slogdet", "matrix_power", "cholesky", "svd", "cross",
                "qr", "matrix_exp", "cholesky_inverse", "cholesky_solve", "triangular_solve", "lu_unpack", "lu",
                "lu_solve", "frobenius_norm", "nuclear_norm", "matrix_rank", "solve", "lstsq", "symeig", "eig")


def _show_torch_names():
    """Under the torch alias, give the classes of a module just imported on first use torch's names."""
    import sys
    compat = sys.modules.get(f"{__name__}.compat")
    if compat is not None and compat.is_installed():
        compat._register_imported()


def __getattr__(name):
    import importlib
    if name in _LAZY_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        _show_torch_names()
        return module
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
        globals()[name] = value
        return value
    if name in _LAZY_LINALG:
        value = importlib.import_module(f"{__name__}.linalg").TOP_LEVEL[name]
        globals()[name] = value
        return value
    if name == "Storage":   # torch.Storage: the legacy storage class of the default dtype
        return storage.legacy_storage_class(_backend.get_default_dtype(), "cpu")
    # A torch name ember lacks: say so plainly instead of a bare AttributeError.
    if name.startswith("__"):
        raise AttributeError(name)
    prefix = _backend.namespace()
    raise AttributeError(f"module '{prefix}' has no attribute '{name}': ember does not implement "
                         f"torch.{name} yet")

