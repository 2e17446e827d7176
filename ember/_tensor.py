"""Tensor: an array plus autograd metadata.

Operators and most methods are attached by the op modules in ``ember/ops``;
this file holds the state, the autograd entry points and conversions.
"""
import functools
import numbers
import types
import weakref

import numpy as np

from . import _backend as B
from .autograd import graph
from .autograd.grad_mode import (InferenceVersion as _InferenceVersion, inference_threads as _inference_threads,
                                 new_version as _new_version, state as _grad_state)
from ._argcheck import varargs_or_keyword
from ._userwarn import warn as _warn_user

_ndarray = np.ndarray


def _refuse_bfloat16_numpy(dtype=None):
    # torch's TypeError: NumPy has no bfloat16 nor float8 (ember's arrays use ml_dtypes' types, which torch would
    # not hand out)
    name = B.SCALAR_NAMES[dtype] if dtype is not None else "BFloat16"
    raise TypeError(f"Got unsupported ScalarType {name} (NumPy has no {dtype.name if dtype is not None else 'bfloat16'}"
                    ": convert first, e.g. x.float().numpy())")


class Size(tuple):
    """A tensor's shape: a tuple that prints as torch.Size([...])."""

    __slots__ = ()

    def __repr__(self):
        return f"{B.namespace()}.Size({list(self)})"

    __str__ = __repr__

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out

    def __add__(self, other):
        return Size(tuple.__add__(self, other))

    def numel(self):
        """The number of elements a tensor of this size holds."""
        n = 1
        for s in self:
            n *= s
        return n

    def __reduce__(self):
        return (Size, (tuple(self),))


_autograd_backward = [None]


class Tensor:
    """A multi-dimensional array that can record operations for autograd."""

    __slots__ = ("_data", "_requires_grad", "grad", "grad_fn", "_vc", "_accumulator",
                 "_hooks", "_retains_grad", "_base", "_view_vc", "_creation_meta", "__weakref__", "__dict__")

    def __new__(cls, *args, **kwargs):
        self = object.__new__(cls)
        if cls is not Tensor and not args:
            return self  # subclasses (Parameter) initialise themselves
        self._init(_tensor_ctor_data(args, kwargs.get("device")), False)
        return self

    def __init__(self, *args, **kwargs):
        pass

    def _init(self, data, requires_grad):
        self._data = data
        self._requires_grad = requires_grad
        _grad_slot.__set__(self, None)
        self.grad_fn = None
        self._vc = _new_version() if _inference_threads[0] else [0]
        self._accumulator = None
        self._hooks = None
        self._retains_grad = False
        self._base = None

    # ---- metadata ---------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        """The shape as an ember.Size, or one dimension's length."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_dim(dim, self._data.ndim, "size")]

    def dim(self):
        """The number of dimensions."""
        return self._data.ndim

    ndimension = dim

    @property
    def ndim(self):
        return self._data.ndim

    def numel(self):
        """The number of elements."""
        return self._data.size

    nelement = numel

    def element_size(self):
        """Bytes per element."""
        return self._data.itemsize

    @property
    def itemsize(self):
        """Bytes per element, as torch's Tensor.itemsize."""
        return self._data.itemsize

    @property
    def nbytes(self):
        """numel() * itemsize: the bytes the elements take (a view counts its own elements)."""
        return self._data.size * self._data.itemsize

    @property
    def dtype(self):
        return B.FROM_NUMPY[self._data.dtype]

    @property
    def device(self):
        data = self._data
        if type(data) is _ndarray:
            return B.CPU
        return B.device_of(data)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def is_cpu(self):
        return self.device.type == "cpu"

    def get_device(self):
        """-1 on the CPU, else the CUDA device index."""
        d = self.device
        return -1 if d.type == "cpu" else d.index

    def is_contiguous(self, memory_format=None):
        """True when the elements are laid out densely in row-major order (or in memory_format's order)."""
        if memory_format is None:
            return bool(self._data.flags.c_contiguous)
        from ._memory_format import is_format
        return is_format(self._data, memory_format)

    def stride(self, dim=None):
        """Strides in elements, as torch reports them."""
        item = self._data.itemsize
        strides = tuple(s // item for s in self._data.strides)
        if self._data.size <= 1 or 0 in self._data.shape:
            strides = _contiguous_strides(self._data.shape)
        return strides if dim is None else strides[_dim(dim, self._data.ndim, "stride")]

    def data_ptr(self):
        """Address of the first element."""
        return B.data_ptr(self._data)

    const_data_ptr = data_ptr

    def is_set_to(self, tensor):
        """True when tensor views exactly this tensor's memory (same start, shape and strides)."""
        a, b = self._data, tensor._data
        return B.data_ptr(a) == B.data_ptr(b) and a.shape == b.shape and a.strides == b.strides \
            and a.dtype == b.dtype

    def resize(self, *sizes):
        """Deprecated: self reshaped to sizes (the same number of elements)."""
        _warn_user("non-inplace resize is deprecated")
        return self.contiguous().view(*sizes)

    def resize_as(self, tensor):
        """Deprecated: self reshaped to tensor's shape."""
        _warn_user("non-inplace resize_as is deprecated")
        return self.contiguous().view(tensor._data.shape)

    def storage_offset(self):
        """Elements between the start of the memory this tensor views and its first element."""
        a = self._data
        base = memory_root(a)
        if base is a or not a.size:
            return 0
        return (B.data_ptr(a) - B.data_ptr(base)) // a.itemsize

    def is_floating_point(self):
        """True for float16/bfloat16/float32/float64 tensors."""
        return self._data.dtype.kind in "fV"   # ('V': bfloat16, ml_dtypes' NumPy dtype)

    def is_complex(self):
        """True for complex64/complex128 tensors."""
        return self._data.dtype.kind == "c"

    # what libraries probe: an ember tensor is dense and strided, on the CPU, a CUDA device or 'meta'
    is_sparse = is_sparse_csr = is_quantized = is_nested = is_mkldnn = False

    @property
    def is_meta(self):
        return self.device.type == "meta"

    is_xpu = is_mps = is_ipu = is_vulkan = is_maia = is_mtia = False

    def to_dense(self, dtype=None, *, masked_grad=None):
        """self (a strided tensor is dense already), or a copy in dtype."""
        return self if dtype is None else self.to(dtype)

    def dim_order(self, *, ambiguity_check=False):
        """The dims from outermost to innermost in memory (largest stride first)."""
        strides = self.stride()
        return tuple(sorted(range(self._data.ndim), key=lambda d: -strides[d]))

    def as_subclass(self, cls):
        """A cls instance over this tensor's data, attached to the graph (gradients flow back to self)."""
        if not (isinstance(cls, type) and issubclass(cls, Tensor)):
            raise TypeError(f"as_subclass(): argument 'cls' must be a subclass of Tensor, not {cls!r}")
        alias = self.view_as(self) if self._requires_grad else _wrap(self._data)
        out = object.__new__(cls)
        for name in ("_data", "_requires_grad", "grad_fn", "_accumulator", "_hooks", "_retains_grad", "_base",
                     "_view_vc", "_creation_meta"):
            setattr(out, name, getattr(alias, name, None))
        out._vc = self._vc
        return out

    def new(self, *args, device=None):
        """The legacy constructor: new(*sizes) uninitialised, new(data), new(tensor), in this tensor's dtype."""
        data = _tensor_ctor_host(args, self.dtype)
        out = _wrap(data)
        dev = self.device if device is None else B.as_device(device)
        return out if dev.type == "cpu" else out.to(dev)

    def resize_(self, *sizes, size=None, memory_format=None):
        """Give this tensor the new shape in place, keeping the elements that fit (new ones uninitialised)."""
        if size is not None or not sizes:
            sizes = varargs_or_keyword(sizes, size, "resize_", "size")
        if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
            sizes = tuple(sizes[0])
        if self._requires_grad:
            raise RuntimeError("cannot resize variables that require grad")
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {list(sizes)}")
        n = 1
        for s in sizes:
            n *= s
        d = self._data
        flat = d.reshape(-1) if d.flags.c_contiguous else d.ravel(order="K")   # torch keeps the storage order
        if n > d.size:
            grown = B.xp_of(d).empty(n, dtype=d.dtype)
            grown[:d.size] = flat
            flat = grown
        self._data = flat[:n].reshape(sizes)
        self._vc[0] += 1
        return self

    def resize_as_(self, the_template, memory_format=None):
        """resize_ to the_template's shape."""
        return self.resize_(tuple(the_template.shape))

    def _host_only(self, name):
        if type(self._data) is not _ndarray:
            raise TypeError(f"{name} is only implemented on CPU tensors (this one is on {self.device})")

    def apply_(self, callable):
        """Replace each element x with callable(x), in place (a Python loop, CPU only, as torch)."""
        self._host_only("apply_")
        d = self._data
        d[...] = np.array([callable(v) for v in d.ravel().tolist()], dtype=d.dtype).reshape(d.shape)
        self._vc[0] += 1
        return self

    def map_(self, tensor, callable):
        """self[i] = callable(self[i], tensor[i]) elementwise, tensor broadcast to self (CPU only)."""
        return self.map2_(tensor, None, lambda a, b, _: callable(a, b))

    def map2_(self, x, y, callable):
        """self[i] = callable(self[i], x[i], y[i]) elementwise, x and y broadcast to self (CPU only)."""
        self._host_only("map_" if y is None else "map2_")
        d = self._data
        xs = np.broadcast_to(x._data, d.shape).ravel().tolist()
        ys = np.broadcast_to(y._data, d.shape).ravel().tolist() if y is not None else xs
        vals = [callable(a, b, c) for a, b, c in zip(d.ravel().tolist(), xs, ys)]
        d[...] = np.array(vals, dtype=d.dtype).reshape(d.shape)
        self._vc[0] += 1
        return self

    def module_load(self, other, assign=False):
        """What load_state_dict swaps into this parameter or buffer when torch.__future__'s swap switch is on:
        other.detach() for assign=True, else self.copy_(other).detach() (a new object either way)."""
        if assign:
            return other.detach()
        return self.copy_(other).detach()

    def register_post_accumulate_grad_hook(self, hook):
        """Call hook(self) after backward has accumulated this leaf's .grad; returns a removable handle."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return graph.add_post_accumulate_hook(self, hook)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def _version(self):
        if self._vc.__class__ is _InferenceVersion:
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._vc[0]

    @property
    def output_nr(self):
        fn = self.grad_fn
        return 0 if fn is None or fn._n_outputs == 1 else fn._output_nrs[id(self)]

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self._set_requires_grad(flag, "floating point and complex")   # torch words the two differently

    def requires_grad_(self, requires_grad=True):
        """Set requires_grad in place (leaves only) and return self."""
        return self._set_requires_grad(requires_grad, "floating point")

    def _set_requires_grad(self, requires_grad, _kinds):
        if requires_grad and self._vc.__class__ is _InferenceVersion and not _grad_state.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.")
        if self.grad_fn is not None:
            if requires_grad:
                return self
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if requires_grad and self._data.dtype.kind not in "fcV":
            raise RuntimeError(
                f"only Tensors of {_kinds} dtype can require gradients (got {self.dtype}); convert first, "
                "e.g. x.float().requires_grad_()")
        if requires_grad and self._base is not None and self._creation_meta is graph.NO_GRAD_VIEW_OF_GRAD_TENSOR:
            self._creation_meta = graph.NO_GRAD_VIEW   # its own flag now: gradients accumulate into it
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def data(self):
        return _wrap(self._data)

    @data.setter
    def data(self, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(value).__name__} (Tensor.data takes a "
                            "Tensor: wrap the values first, e.g. torch.tensor(values))")
        self._data = value._data

    # ---- autograd ---------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute the gradient of this tensor w.r.t. graph leaves."""
        fn = _autograd_backward[0]
        if fn is None:
            # ember.autograd imports this module: bind its backward on first use (an import
            # statement per call cost ~1 us)
            from .autograd import backward as fn
            _autograd_backward[0] = fn
        fn(self, gradient, retain_graph, create_graph, inputs)

    def detach(self):
        """A tensor sharing storage with this one, cut from the graph."""
        out = _wrap(self._data)
        out._vc = self._vc
        return out

    def _is_view(self):
        """True when this tensor is a view of another one (its _base)."""
        return self._base is not None

    def detach_(self):
        """Cut this tensor from the graph in place."""
        if self._base is not None:   # (any view, as in torch, whatever its base)
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel "
                "(DDP) for training, and gradient_as_bucket_view is set as True, gradients are views of DDP "
                "buckets, and hence detach_() cannot be called on these gradients. To fix this error, please "
                "refer to the Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def register_hook(self, hook):
        """Call hook(grad) when this tensor's gradient is computed; it may return a replacement."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = graph._HookList()
            hooks = self._hooks
            # (post-accumulate-grad hooks stay last: graph.add_post_accumulate_hook)
            post = bool(hooks) and hooks[-1].__class__ is graph._PostAccumulateHooks
            hooks.insert(len(hooks) - post, hook)
            graph.hold_leaf(self)
            return graph._handle(hooks, hook)
        return graph.add_pre_hook(self.grad_fn, (self.output_nr, hook))

    def retain_grad(self):
        """Keep .grad for this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        import weakref
        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                t._add_retained_grad(grad)
        keep._retains_grad = True  # runs after the tensor's hooks, whenever they were registered
        keep._tensor = ref   # (an in-place op moves it to the tensor's new grad_fn: graph.move_retained_grad)
        graph.add_pre_hook(self.grad_fn, (self.output_nr, keep))
        self._retains_grad = True

    def _add_retained_grad(self, grad):
        # (a sparse tensor's override keeps COO gradients sparse)
        old = _raw_grad(self)
        self.grad = _wrap(grad._data.copy() if old is None else old._data + grad._data)

    @property
    def retains_grad(self):
        return self._retains_grad

    # ---- conversion to Python / NumPy ------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar; "
                "item() needs exactly one element (index or reduce first)")
        if type(self._data) is _ndarray:
            return self._data.item()
        from ._meta import item
        return item(self._data)

    def tolist(self):
        """The elements as (nested) Python lists."""
        return _host(self._data).tolist()

    def __dlpack__(self, *, stream=-1, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule over this tensor's memory (the array's own: NumPy's or CuPy's)."""
        if self._requires_grad:
            raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
        kwargs = {}
        if max_version is not None:
            kwargs["max_version"] = max_version
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        if copy is not None:
            kwargs["copy"] = copy
        if type(self._data) is not _ndarray and stream != -1:
            kwargs["stream"] = stream
        return self._data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        """(device type, index) as DLPack codes: (kDLCPU, 0) or (kDLCUDA, index)."""
        from .utils.dlpack import DLDeviceType
        kind, index = self._data.__dlpack_device__()
        return DLDeviceType(int(kind)), int(index)

    def numpy(self, force=False):
        """The tensor as a NumPy array sharing its memory."""
        # (under no_grad torch hands out the array: nothing could record a use of it)
        if self._requires_grad and not force and graph.state.enabled:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead.")
        if type(self._data) is not _ndarray:
            if force:
                return _host(self._data)
            raise TypeError(
                f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to "
                "copy the tensor to host memory first.")
        if self._data.dtype.kind == "V" or self._data.itemsize == 1 and self._data.dtype.kind == "f":
            _refuse_bfloat16_numpy(self.dtype)   # (bfloat16 and float8: ml_dtypes' types, which torch would not give)
        return self._data

    # NumPy defers its binary operators to ours (np.float64(2) * x is a tensor with a grad_fn, as in
    # torch), and wraps what its functions return for a tensor (np.exp(x) is a tensor)
    __array_priority__ = 1000

    def __array__(self, dtype=None, copy=None):
        # np.asarray(t), plt.plot(t): torch goes through numpy(), which refuses in grad mode
        if self._requires_grad and graph.state.enabled:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                               "instead.")
        arr = _host(self._data)
        if arr.dtype.kind == "V" or arr.itemsize == 1 and arr.dtype.kind == "f":   # (bfloat16, float8)
            _refuse_bfloat16_numpy(self.dtype)
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        return _wrap(_host(array))

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __contains__(self, element):
        """element in self: whether any element equals it (a number or a tensor), as torch."""
        if not isinstance(element, (Tensor, numbers.Number)):
            raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a "
                               f"{type(element)}.")
        return bool((self == element).any())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {'no values' if not self._data.size else 'more than one value'} is "
                f"ambiguous (shape {list(self._data.shape)}); use .any() or .all()")
        return bool(self._data.item() if type(self._data) is _ndarray else self.item())

    def __float__(self):
        _warn_scalar_of_grad_tensor(self)
        return float(_real_scalar(self._scalar(), "double"))

    def __int__(self):
        return int(_real_scalar(self._scalar(), "int64_t"))

    def _scalar(self):
        # float(t) / int(t) raise ValueError where t.item() raises RuntimeError, as in torch
        if self._data.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars (this one has "
                             f"{self._data.size}; index or reduce it first)")
        return self.item()

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self):
        _warn_scalar_of_grad_tensor(self)
        return complex(self.item())

    def __hash__(self):
        return id(self)

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import _str
        return _str(self, tensor_contents=tensor_contents)

    def __format__(self, spec):
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, proto):
        return (_rebuild, (_host(self._data), self._requires_grad))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment. If you were attempting to deepcopy a module, this may be "
                "because of a torch.nn.utils.weight_norm usage, see "
                "https://github.com/pytorch/pytorch/pull/103001")
        if id(self) in memo:
            return memo[id(self)]
        out = type(self).__new__(type(self))
        Tensor._init(out, self._data.copy(), self._requires_grad)
        if type(self) is not Tensor:
            out.__dict__.update(self.__dict__)
        copy_grad_dtype(self, out)
        if self.grad is not None:
            out.grad = self.grad.__deepcopy__(memo)
        memo[id(self)] = out
        return out

    def type(self, dtype=None, non_blocking=False):
        """Without argument, the type string ('torch.FloatTensor'); else a cast."""
        if dtype is None:
            prefix = B.namespace()
            name = B.TYPE_NAMES[self.dtype]
            if self.device.type == "cuda":
                return f"{prefix}.cuda.{name}"
            return f"{prefix}.{name}"
        if isinstance(dtype, _LegacyTensorType):  # x.type(torch.DoubleTensor)
            dtype = dtype.dtype
        if isinstance(dtype, B.dtype):
            return self.to(dtype)
        if not isinstance(dtype, (str, type)):
            raise TypeError("dtype must be a type, str, or dtype object")
        name = dtype if isinstance(dtype, str) else (
            dtype.__name__ if dtype.__module__ == "builtins" else f"{dtype.__module__}.{dtype.__name__}")
        prefix, _, kind = name.rpartition(".")
        for d, n in B.TYPE_NAMES.items():
            if n == kind and prefix in ("torch", "ember", "torch.cuda", "ember.cuda"):
                return self.to("cuda", d) if prefix.endswith("cuda") else self.to(d)
        raise ValueError(f"invalid type: '{name}' (give a dtype such as torch.float64, or a tensor type "
                         "name such as 'torch.DoubleTensor')")

    def _bump(self):
        self._vc[0] += 1

    def __getattr__(self, name):
        # only reached when normal lookup fails: name the torch API that is missing
        if name == "grad":
            return _unset_grad(self)
        if name.startswith("__") or name in Tensor.__slots__:
            raise AttributeError(name)
        raise AttributeError(f"'Tensor' object has no attribute '{name}': ember does not implement "
                             f"torch.Tensor.{name} yet")


_NON_LEAF_GRAD = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
    "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
    "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf "
    "Tensor by mistake, make sure you access the leaf Tensor instead. See "
    "github.com/pytorch/pytorch/pull/30531 for more information.")

# The `grad` slot's own descriptor: reads .grad without the non-leaf warning, and writes it without
# the checks of an assignment (ember's own writes are gradients it made to fit).
_grad_slot = Tensor.grad


def _shape_text(shape):
    return "[" + ", ".join(map(str, shape)) + "]"


def _assign_grad(t, grad):
    """`t.grad = grad`, with torch's checks: a Tensor (or None) of t's dtype, device type and size."""
    if grad is not None:
        if not isinstance(grad, Tensor):
            raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                            f"{type(grad).__name__}")
        if grad.is_sparse:   # (a sparse gradient of a dense leaf, as embedding(sparse=True) makes)
            from .autograd.graph import sparse_grads
            sparse_grads[0] = True
            gdata = grad._coo.values
            gshape = grad._coo.shape
        else:
            gdata = grad._data
            gshape = gdata.shape
        want = grad_target(t, t._data.dtype) if grad_dtypes else t._data.dtype
        if want is not None and gdata.dtype != want:
            raise RuntimeError(
                f"attempting to assign a gradient with dtype '{B.c_name(gdata.dtype)}' to a tensor with "
                f"grad_dtype '{B.scalar_name(want)}'. The gradient must match the tensor's grad_dtype "
                "(defaults to the tensor's dtype). You can set the tensor's grad_dtype attribute with a "
                "specific dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the "
                "dtypes of a tensor and its gradient may break downstream systems that assume they match.")
        here, there = grad.device, t.device
        if here.type != there.type:
            raise RuntimeError(f"attempting to assign a gradient with device type '{here.type}' to a tensor with "
                               f"device type '{there.type}'. Please ensure that the gradient and the tensor are "
                               "on the same device")
        if here != there:
            raise RuntimeError(f"attempting to assign a gradient located on device with index '{here.index}' to "
                               f"a tensor located on device with index '{there.index}'. Please ensure that the "
                               "gradient and the tensor are on the same device")
        if gshape != t._data.shape:
            raise RuntimeError(f"attempting to assign a gradient of size '{_shape_text(gshape)}' to a "
                               f"tensor of size '{_shape_text(t._data.shape)}'. Please ensure that the gradient "
                               "and the tensor are the same size")
    _grad_slot.__set__(t, grad)


# reads stay a C-level slot read; an unset slot falls through to __getattr__ (_unset_grad)
Tensor.grad = property(_grad_slot.__get__, _assign_grad, lambda t: _grad_slot.__set__(t, None),
                       doc="The gradient accumulated by backward() (None until then).")


# leaves whose grad_dtype was set: id(tensor) -> (weak reference, NumPy dtype or None: any dtype). A
# side table, so that the setting stays out of the tensor's __dict__ (which checkpoints save) and off
# every tensor's slots; keyed by id, as a tensor's == is elementwise. The engine looks a leaf up only
# once some grad_dtype has been set (graph._custom_grad_dtypes).
grad_dtypes = {}


def grad_target(t, default):
    """The dtype t's gradient is kept in: its grad_dtype when set (None: whatever arrives), else default."""
    entry = grad_dtypes.get(id(t))
    if entry is None or entry[0]() is not t:
        return default
    return entry[1]


def copy_grad_dtype(src, dst):
    """Give dst src's grad_dtype setting, if any (deep copies keep it, so their .grad fits)."""
    entry = grad_dtypes.get(id(src))
    if entry is not None and entry[0]() is src:
        grad_dtypes[id(dst)] = (weakref.ref(dst, functools.partial(_forget_grad_dtype, key=id(dst))), entry[1])


def _forget_grad_dtype(ref, key):
    entry = grad_dtypes.get(key)
    if entry is not None and entry[0] is ref:
        del grad_dtypes[key]


def _leaf_only(t, what):
    if t.grad_fn is not None:
        raise RuntimeError(f"grad_dtype can only be {what} on leaf tensors.")


def _get_grad_dtype(t):
    _leaf_only(t, "accessed")
    want = grad_target(t, t._data.dtype)
    return None if want is None else B.FROM_NUMPY[want]


def _set_grad_dtype(t, dtype):
    _leaf_only(t, "set")
    if dtype is not None and not isinstance(dtype, B.dtype):
        raise RuntimeError(f"grad_dtype must be a {B.namespace()}.dtype or None, but got {type(dtype).__name__}")
    want = None if dtype is None else dtype.np
    grad = _raw_grad(t)
    if want is not None and grad is not None and grad._data.dtype != want:
        raise RuntimeError(
            f"Cannot set grad_dtype to '{B.scalar_name(want)}' because there is already a gradient with dtype "
            f"'{B.c_name(grad._data.dtype)}'. Please clear the gradient (.grad = None) before changing "
            "grad_dtype, or ensure the new grad_dtype matches the existing gradient's dtype.")
    grad_dtypes[id(t)] = (weakref.ref(t, functools.partial(_forget_grad_dtype, key=id(t))), want)
    graph._custom_grad_dtypes[0] = True


Tensor.grad_dtype = property(
    _get_grad_dtype, _set_grad_dtype,
    doc="The dtype backward() keeps this leaf's .grad in (its own dtype unless set; None: any).")


def _unset_grad(t):
    """.grad of a tensor whose slot was never set (_wrap leaves it unset so that this check costs
    leaves nothing): torch's warning on a non-leaf not retaining grad; else fill the slot with None,
    so that later reads are plain slot reads."""
    if t.grad_fn is not None and not t._retains_grad:
        _warn_user(_NON_LEAF_GRAD, UserWarning)
        return None
    _grad_slot.__set__(t, None)
    return None


def _raw_grad(t):
    """t.grad without the non-leaf warning: None when unset."""
    try:
        return _grad_slot.__get__(t, Tensor)
    except AttributeError:
        return None


def typename(obj):
    """torch.typename: 'torch.FloatTensor' for tensors, 'module.QualName' otherwise."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = obj.__class__.__module__ or ""
        qualname = obj.__class__.__qualname__
    if module in ("", "builtins"):
        return qualname
    return f"{module}.{qualname}"


def _real_scalar(v, ctype):
    """float(t) / int(t) of a complex tensor: its real part when the imaginary part is 0, else torch's error."""
    if type(v) is complex:
        if v.imag:
            raise RuntimeError(f"value cannot be converted to type {ctype} without overflow (take .real or .abs() "
                               "of a complex tensor first)")
        return v.real
    return v


def _rebuild(array, requires_grad):
    t = _wrap(array)
    t._requires_grad = requires_grad
    return t


def _host(array):
    if type(array) is _ndarray:
        return array
    get = getattr(array, "get", None)
    return get() if get is not None else np.asarray(array)


def memory_root(a):
    """The array owning the memory a views: the outermost array of its .base chain, followed through the
    non-array wrappers (NumPy's as_strided leaves one) that sit in it."""
    root, obj = a, a.base
    while obj is not None:
        if type(obj) is type(a):
            root = obj
        obj = getattr(obj, "base", None)
    return root


def _contiguous_strides(shape):
    strides = []
    acc = 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(strides))


def _dim(dim, ndim, op=None):
    """Wrap a possibly negative dimension, with torch's IndexError when out of range (and its TypeError
    for a dim that is no integer, which NumPy would refuse with a message about '<=' or indices)."""
    n = ndim if ndim > 0 else 1
    try:
        if -n <= dim < n and type(dim) is not float:
            return dim + n if dim < 0 else dim
    except TypeError:
        pass
    if type(dim) is bool or not hasattr(dim, "__index__"):
        raise TypeError(f"{f'{op}(): ' if op else ''}argument 'dim' must be int, not {type(dim).__name__}")
    raise IndexError(
        f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")


_new = object.__new__
_SCALAR_WARNED = [False]


def _warn_scalar_of_grad_tensor(t):
    """float()/complex() of a tensor that requires grad, in grad mode: torch warns, once a process."""
    if t._requires_grad and not _SCALAR_WARNED[0] and graph.state.enabled:
        _SCALAR_WARNED[0] = True
        _warn_user("Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\n"
                   "Consider using tensor.detach() first.")


def refused_write(array, op):
    """torch's RuntimeError for a write into a read-only array, None for a writable one: an expanded
    tensor's elements share memory (torch refuses that too); any other read-only array is a
    non-writable NumPy array the tensor shares (torch would write into it)."""
    if array.flags.writeable:
        return None
    if any(step == 0 and n > 1 for step, n in zip(array.strides, array.shape)):
        return RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to a single memory "
            f"location ({op} into an expanded tensor of shape {list(array.shape)}). Please clone() the tensor "
            "before performing the operation.")
    return RuntimeError(
        f"{op}: this tensor shares the memory of a read-only NumPy array (made by from_numpy, as_tensor or "
        "asarray of a non-writable array), which ember can't write into. Copy the array first "
        "(torch.from_numpy(a.copy())), or clone() the tensor.")


def _expanded(array):
    return any(step == 0 and n > 1 for step, n in zip(array.strides, array.shape))


def writable_alias(array):
    """A writable array over the memory of the read-only expanded view `array` (np.broadcast_to's), when
    the memory's owner is a writable NumPy array; else None."""
    owner = memory_root(array)   # (through as_strided's wrapper too)
    if owner is array or not owner.flags.writeable or not (owner.flags.c_contiguous or owner.flags.f_contiguous):
        return None
    start = (array.__array_interface__["data"][0] - owner.__array_interface__["data"][0]) // array.itemsize
    flat = owner.reshape(-1, order="A")
    return np.lib.stride_tricks.as_strided(flat[start:], array.shape, array.strides)


def _masked_write(alias, mask, value):
    np.copyto(alias, np.asarray(value.item() if isinstance(value, Tensor) else value, alias.dtype),
              where=np.broadcast_to(mask._data, alias.shape))


def _index_write(alias, dim, index, value):
    key = [slice(None)] * alias.ndim
    key[dim % alias.ndim] = index._data
    alias[tuple(key)] = value.item() if isinstance(value, Tensor) else value


# In-place ops torch still runs on an expanded tensor (they write memory locations, whatever elements
# share them): op -> (the deprecation warning torch gives, if any; a writer of only the selected
# elements, where the op's own code writes a whole result)
_EXPANDED_WRITES = {"fill_": (False, None), "zero_": (False, None), "index_put_": (True, None),
                    "masked_fill_": (True, _masked_write), "index_fill_": (True, _index_write)}


def expanded_write_warning(op):
    """torch's deprecation warning for op (masked_fill_, index_fill_, index_put_) on an expanded tensor."""
    example = "tensor[indices] = tensor" if op == "index_put_" else "tensor[mask] = scalar"
    _warn_user(f"Use of {op} on expanded tensors is deprecated. Please clone() the tensor before performing this "
               f"operation. This also applies to advanced indexing e.g. {example}")


def guard_writes(cls):
    """Wrap cls's in-place methods (name_) so that NumPy's ValueError for a read-only array becomes
    refused_write's RuntimeError, or, for the writes torch allows into an expanded tensor, runs them
    on a writable alias of its memory."""
    def guarded(fn, name):
        @functools.wraps(fn)
        def method(self, *args, **kwargs):
            try:
                return fn(self, *args, **kwargs)
            except ValueError as e:
                err = refused_write(self._data, name) if "read-only" in str(e) else None
                if err is None:
                    raise
                a = self._data
                alias = writable_alias(a) if name in _EXPANDED_WRITES and _expanded(a) and \
                    not self._requires_grad else None
                if alias is None:
                    raise err from None
            warns, writer = _EXPANDED_WRITES[name]
            if warns:
                expanded_write_warning(name)
            if writer is not None:
                writer(alias, *args, **kwargs)
                self._vc[0] += 1
                return self
            self._data = alias
            try:
                return fn(self, *args, **kwargs)
            finally:
                self._data = a
        return method
    for name, fn in list(vars(cls).items()):
        if name.endswith("_") and not name.startswith("_") and isinstance(fn, types.FunctionType):
            setattr(cls, name, guarded(fn, name))


def _wrap(array, requires_grad=False, grad_fn=None):
    """A Tensor over an existing array, without copying; the hot-path constructor."""
    t = _new(Tensor)
    t._data = array
    t._requires_grad = requires_grad
    # .grad stays unset: outputs of ops become non-leaves, whose .grad read must warn (_unset_grad)
    t.grad_fn = grad_fn
    t._vc = _new_version() if _inference_threads[0] else [0]
    t._accumulator = None
    t._hooks = None
    t._retains_grad = False
    t._base = None
    return t


def _tensor_ctor_data(args, device, dtype=None):
    """torch.Tensor(*sizes) or Tensor(Size) gives uninitialised float; torch.Tensor(data) converts data."""
    data = _tensor_ctor_host(args, dtype)
    if device is not None and B.as_device(device).type != "cpu":
        from .ops.convert import _move
        from . import cuda
        dev = B.as_device(device)
        cuda._check_usable(dev)
        data = _move(data, dev)
    return data


def _is_size(a):
    return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))


def _tensor_ctor_host(args, dtype=None):
    dt = B.get_default_dtype() if dtype is None else dtype
    if len(args) == 1 and not _is_size(args[0]) and not isinstance(args[0], Size):
        arg = args[0]
        if isinstance(arg, Tensor):
            # torch aliases the tensor; a legacy type (FloatTensor) refuses another dtype
            if dtype is not None and arg.dtype is not dtype:
                raise TypeError(f"expected {dtype} tensor (got {arg.dtype} tensor)")
            return arg._data
        if not hasattr(arg, "__len__"):
            kind = type(arg)
            name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
            raise TypeError(f"new(): data must be a sequence (got {name})")
        if isinstance(arg, np.ndarray):
            B.numpy_source(arg, shared=True)
        elif dt.np.kind in "iu" and isinstance(arg, (list, tuple)):
            # Python numbers convert as in torch.tensor: out of range is torch's RuntimeError, not NumPy's
            # OverflowError (an array casts with wrap-around in both)
            from .ops.creation import _data_to_array
            return _data_to_array(arg, dt)
        return np.array(arg, dtype=dt.np)
    sizes = tuple(args[0]) if len(args) == 1 and isinstance(args[0], Size) else args
    if all(_is_size(a) for a in sizes):
        if any(a < 0 for a in sizes):
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {list(sizes)}")
        # torch.Tensor() with no sizes is empty 1-d (tensor([])), not 0-d
        return np.empty(sizes if sizes else (0,), dtype=dt.np)
    raise TypeError(f"Tensor(): invalid arguments {args!r}; pass sizes as ints or a sequence of data")


class _LegacyTensorType(type):
    """The metaclass of torch's legacy types (FloatTensor, LongTensor, ...): calling one makes a CPU
    Tensor of its dtype, and isinstance checks the dtype, as in torch, where they are not subclasses."""

    def __call__(cls, *args, device=None):
        if device is not None and B.as_device(device).type != "cpu":
            raise TypeError(f"{cls.__name__}: expected a cpu device (got {device}); use "
                            f"{B.namespace()}.tensor(..., device=...) for other devices")
        return _wrap(_tensor_ctor_host(args, cls.dtype))

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and obj.device.type == "cpu"

    def __repr__(cls):
        return f"<class '{B.namespace()}.{cls.__name__}'>"


LEGACY_TYPES = {
    name: _LegacyTensorType(name, (), {"dtype": d, "is_cuda": False, "is_sparse": False,
                                       "__doc__": f"torch.{name}: a constructor of {d.name} CPU tensors."})
    # torch has no torch.ComplexFloatTensor, nor a legacy type for uint16 and float8 (only their type() names)
    for d, name in B.TYPE_NAMES.items() if not d.is_complex and d not in B.BAREBONES
}
