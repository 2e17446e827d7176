"""Argument handling shared by the public functions: torch's TypeError for a non-tensor where an
op expects a tensor, and NumPy's keyword names.

Ops read `input._data`; given a list, a NumPy array or a float they would fail with an
AttributeError about that private name.  The public functions (torch.*, torch.nn.functional.*)
are wrapped so that the error names the function, the argument and the type, as torch does.
"""
import functools
import inspect
import types

from ._backend import FP_QUIET as _FP_QUIET, fp_get as _fp_get, fp_reset as _fp_reset, fp_set as _fp_set

_MISSING = "' object has no attribute '_data'"


class SparseOperand(NotImplementedError):
    """Raised by a sparse tensor's ``_data`` (ops/sparse.py): a dense kernel was handed a sparse tensor.  The
    public functions' wrapper below catches it and runs the function's sparse kernel, if torch has one."""


def _on_sparse(fn, args, kwargs):
    from .ops.sparse import dispatch
    try:
        return dispatch(fn, args, kwargs)
    except Exception as e:
        e.__suppress_context__ = True   # (the SparseOperand that led here is ember's signal, not the user's error)
        raise


def _explain(fn, e, args, kwargs):
    """The TypeError for AttributeError e, or None when it isn't about a non-tensor argument."""
    msg = str(e)
    if not msg.endswith(_MISSING):
        return None
    type_name = msg[1:-len(_MISSING)]
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    named = [(i, params[i] if i < len(params) else f"#{i + 1}", a) for i, a in enumerate(args)]
    named += [(None, k, a) for k, a in kwargs.items()]
    for i, name, a in named:
        t = type(a)
        if type_name in (t.__name__, f"{t.__module__}.{t.__qualname__}") and not hasattr(a, "_data"):
            where = f" (position {i + 1})" if i is not None else ""
            return TypeError(f"{fn.__name__}(): argument '{name}'{where} must be Tensor, not {type_name}"
                             f" (convert it with torch.tensor(...) first)")
    return None


def _torch_error(fn, e, args, kwargs):
    """torch's error for e, raised by fn(*args, **kwargs), or None to re-raise e: an AttributeError
    about a non-tensor argument, or NumPy refusing to write into a read-only out= or inplace=True
    input."""
    if isinstance(e, AttributeError):
        return _explain(fn, e, args, kwargs)
    if "read-only" not in str(e):
        return None
    from ._tensor import refused_write
    for t in (kwargs.get("out"), args[0] if args else None):
        error = refused_write(t._data, fn.__name__) if hasattr(t, "_data") else None
        if error is not None:
            return error
    return None


_wrappers = {}


def tensor_args(fn, module):
    """fn, raising torch's TypeError when an argument that must be a tensor is not one; the wrapper
    belongs to `module` (the namespace exporting it), where pickle looks it up by name."""
    # (the mark names the wrapper itself: functools.wraps copies it onto wrappers of the wrapper, which
    # do not check, and whose __module__ is not where pickle would find them)
    if not isinstance(fn, types.FunctionType) or getattr(fn, "_checks_tensors", None) is fn:
        return fn
    key = (fn, module)
    if key in _wrappers:  # one wrapper per function and namespace: aliases (concat = cat) pickle too
        return _wrappers[key]

    # an op marked _fp_safe keeps NumPy's fp state itself or computes nothing that could warn: the
    # wrapper then leaves the state alone (~0.13 us a call)
    fp_safe = getattr(fn, "_fp_safe", False)

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        quiet = None if fp_safe or _fp_get() is _FP_QUIET else _fp_set(_FP_QUIET)
        try:
            return fn(*args, **kwargs)
        except SparseOperand:   # (a try costs nothing until it catches: dense calls pay nothing for this)
            return _on_sparse(fn, args, kwargs)
        except (AttributeError, ValueError) as e:
            error = _torch_error(fn, e, args, kwargs)
            if error is None:
                raise
            raise error from None
        finally:
            # NumPy's floating-point warnings stay silent inside the op (torch's kernels compute inf
            # and nan silently), whatever warnings filters the user or pytest has set
            if quiet is not None:
                _fp_reset(quiet)
    checked._checks_tensors = checked
    checked.__module__ = module
    _wrappers[key] = checked
    return checked


def numpy_names(fn):
    """fn, also taking NumPy's axis= and keepdims= for dim= and keepdim=, as torch's parser does, with
    tensor_args' errors (so that namespaces export it as it is)."""
    if fn in _wrappers:  # aliases (concat = cat) share one wrapper
        return _wrappers[fn]

    @functools.wraps(fn)
    def aliased(*args, **kwargs):
        if kwargs:
            if "axis" in kwargs:
                kwargs["dim"] = kwargs.pop("axis")
            if "keepdims" in kwargs:
                kwargs["keepdim"] = kwargs.pop("keepdims")
        quiet = None if _fp_get() is _FP_QUIET else _fp_set(_FP_QUIET)   # (inf - inf is nan silently)
        try:
            return fn(*args, **kwargs)
        except SparseOperand:   # (a try costs nothing until it catches: dense calls pay nothing for this)
            return _on_sparse(fn, args, kwargs)
        except (AttributeError, ValueError) as e:   # (tensor_args' errors: one wrapper, not two)
            error = _torch_error(fn, e, args, kwargs)
            if error is None:
                raise
            raise error from None
        finally:
            if quiet is not None:
                _fp_reset(quiet)
    aliased._checks_tensors = aliased
    _wrappers[fn] = aliased
    return aliased


class _Required:
    """The default of an argument that must be given, so that its absence gets torch's own words."""

    def __repr__(self):
        return "<required>"


REQUIRED = _Required()


def int_sequence(value, op, name, position=None):
    """value, op's `tuple of ints` argument `name` (a tuple, list or Size), as a tuple; torch's TypeError for
    anything else, an int or a tensor included: only a method's one-by-one form (x.view(4, 6)) takes those."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    if value is REQUIRED:
        raise TypeError(f'{op}() missing 1 required positional arguments: "{name}"')
    where = f" (position {position})" if position else ""
    hint = f" (write ({value},) for a single one)" if type(value) is int else ""
    raise TypeError(f"{op}(): argument '{name}'{where} must be tuple of ints, not {type(value).__name__}{hint}")


def varargs_or_keyword(args, value, op, name):
    """The ints of a method that takes them one by one, as one sequence or by keyword, as torch's parser reads
    them (x.permute(2, 0, 1), x.permute((2, 0, 1)), x.permute(dims=(2, 0, 1))): args when the keyword `name`
    was not given (value None), else (value,); torch's TypeError for neither, both, or a keyword value that is
    no sequence."""
    if value is None:
        if not args:
            raise TypeError(f'{op}() missing 1 required positional arguments: "{name}"')
        return args
    if args:
        raise TypeError(f"{op}() got multiple values for argument '{name}'")
    return (int_sequence(value, op, name),)


def invalid_combination(op, args, kwargs, forms):
    """torch's TypeError for arguments that match none of op's overloads (forms: their signatures, as torch
    prints them)."""
    got = [type(v).__name__ for v in args] + [f"{k}={type(v).__name__}" for k, v in kwargs.items()]
    text = ", ".join(got) + (", " if kwargs and not args else "")   # (torch's: "got (size=int, )")
    listed = "".join(f" * ({f})\n" for f in forms)
    return TypeError(f"{op}() received an invalid combination of arguments - got ({text}), but expected one of:\n"
                     f"{listed}")
