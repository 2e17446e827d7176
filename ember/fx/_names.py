"""ember's public functions as fx sees them: the name torch prints for each, and the `torch` that generated code
runs against.

torch names a function by its own module and __name__ (torch.nn.functional.linear prints as
torch._C._nn.linear); ember's live elsewhere (ember.cat in ember.ops.shape), so fx looks them up here by
identity: EXCEPTIONS (_torch_names.py) holds where torch's names differ from the namespace a function is
reached through.
"""
import builtins
import importlib
import inspect
import types

from .. import _backend
from ._torch_names import EXCEPTIONS, F_CALLS

# (torch namespace, relative to torch; ember module), in the order that names a function two of them hold
NAMESPACES = (("", "ember"), ("nn.functional", "ember.nn.functional"), ("linalg", "ember.linalg"),
              ("fft", "ember.fft"), ("special", "ember.special"), ("ops.profiler", "ember.ops.profiler"))
_DEFAULT_KIND = {"": "method", "nn.functional": "function", "ops.profiler": "function"}
_FUNCTION_TYPES = (types.FunctionType, types.BuiltinFunctionType)


class Entry:
    """One public function: where it is reached (module, attr) and how torch names it."""

    __slots__ = ("fn", "module", "attr", "path", "name", "kind", "records")

    def __init__(self, fn, module, attr, path, name, kind, records):
        self.fn, self.module, self.attr = fn, module, attr
        self.path, self.name, self.kind, self.records = path, name, kind, records


_entries = None   # id(function) -> Entry


def unwrap(fn):
    """The ember function behind a recording wrapper (see _recording.py), else fn."""
    return getattr(fn, "_fx_recorded", fn)


def entries():
    """id(fn) -> Entry for every public function of ember's torch namespaces (built once)."""
    global _entries
    if _entries is None:
        table = {}
        for ns, module_name in NAMESPACES:
            module = importlib.import_module(module_name)
            exceptions = EXCEPTIONS.get(ns, {})
            for attr, value in list(vars(module).items()):
                if attr.startswith("_") and not ns.startswith("ops."):   # (torch.ops' ops are _named)
                    continue
                value = unwrap(value)
                if not isinstance(value, _FUNCTION_TYPES) or id(value) in table:
                    continue
                if ns in _DEFAULT_KIND:
                    path, name, kind = (f"{ns}.{attr}" if ns else attr), attr, _DEFAULT_KIND[ns]
                else:   # torch.linalg.inv is torch._C._linalg.linalg_inv, a built-in
                    path, name, kind = f"_C._{ns}.{ns}_{attr}", f"{ns}_{attr}", "builtin"
                exc = exceptions.get(attr)
                if exc is not None:
                    path, name, kind = exc[0] or path, exc[1] or name, exc[2]
                # torch.is_tensor, torch.manual_seed ...: plain Python functions that a Proxy passes through
                # unrecorded (torch.functional's, einsum and co., do take part in __torch_function__)
                records = ns != "" or kind == "method" or path.startswith("functional.")
                table[id(value)] = Entry(value, module, attr, path, name, kind, records)
        _entries = table
    return _entries


def entry(fn):
    """The Entry of ember public function fn (or of its recording wrapper), else None."""
    fn = unwrap(fn)
    e = entries().get(id(fn))
    return e if e is not None and e.fn is fn else None


class CallSpec:
    """How torch records a call of a Python function of torch.nn.functional: which of its parameters go as
    positional arguments and which as keywords, defaults filled in (see F_CALLS)."""

    def __init__(self, params, positional, keywords, alternative):
        namespace = {}
        exec(f"def f({params}): pass", namespace)
        self.signature = inspect.signature(namespace["f"])
        self.positional = positional.split()
        self.keywords = keywords.split()
        self.alternative = alternative

    def normalize(self, e, args, kwargs):
        """(function, node name, args, kwargs) as torch records e.fn(*args, **kwargs)."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{e.attr}(): {err}") from None
        bound.apply_defaults()
        values = bound.arguments
        fn, name = e.fn, e.name
        if self.alternative and values.get("return_indices") is True:   # (F.max_pool2d's boolean dispatch)
            alt = getattr(e.module, self.alternative, None)
            if alt is not None:
                fn, name = unwrap(alt), self.alternative
                spec = call_spec(entry(fn))
                if spec is not None and spec is not self:
                    return spec.normalize(entry(fn), args, kwargs)
        return fn, name, tuple(values[p] for p in self.positional), {k: values[k] for k in self.keywords}


_specs = {}


def call_spec(e):
    """The CallSpec of a torch.nn.functional entry, else None."""
    if e is None or e.module.__name__ != "ember.nn.functional" or e.attr not in F_CALLS:
        return None
    spec = _specs.get(e.attr)
    if spec is None:
        params, positional, keywords, *alternative = F_CALLS[e.attr]
        spec = _specs[e.attr] = CallSpec(params, positional, keywords, alternative[0] if alternative else None)
    return spec


def from_ember(obj):
    """torch's _is_from_torch: whether generated code names obj through the `torch` global."""
    if entry(obj) is not None:
        return True
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        return False
    top, _, rest = module.partition(".")
    return top in ("ember", "torch") and not rest.startswith(("_dynamo", "_inductor"))


def class_module(cls):
    """The module torch keeps class cls in, torch prefix as ember prints it (ember._tensor.Tensor is
    torch.Tensor), else cls.__module__."""
    module = cls.__module__
    if module.partition(".")[0] in ("ember", "torch"):
        from ..serialization import _torch_global
        where = _torch_global(cls, scan=True)
        if where is not None and where[1] == cls.__qualname__:
            module = where[0]
        top, dot, rest = module.partition(".")
        module = _backend.namespace() + dot + rest
    return module


def qualified_name(fn):
    """The dotted name torch prints for fn: torch.relu, torch.nn.functional.relu, operator.add ..."""
    name = fn.__name__
    if getattr(builtins, name, None) is fn:
        return name
    prefix = _backend.namespace()
    e = entry(fn)
    if e is not None:
        return f"{prefix}.{e.path}"
    from .._tensor import Tensor
    if getattr(Tensor, name, None) is fn:
        return f"{prefix}.Tensor.{name}"
    if name == "<lambda>":
        try:
            name = inspect.getsource(fn).split("=")[0].strip()
        except Exception as e:
            raise RuntimeError("Unable to represent lambda") from e
    module = class_module(fn) if isinstance(fn, type) else fn.__module__
    if module is None:
        raise RuntimeError(f"cannot find module for {fn}")
    top, dot, rest = module.partition(".")
    if top in ("ember", "torch"):
        module = prefix + dot + rest
    return f"{module}.{name}"


def torch_repr(fn):
    """repr() of fn as torch's own function prints (print_tabular shows it)."""
    e = entry(fn)
    if e is None or e.kind == "function":
        return str(fn)
    if e.kind == "builtin":
        return f"<built-in function {e.name}>"
    return f"<built-in method {e.name} of type object at {hex(id(e.fn))}>"


class _Path:
    """A dotted name under torch that ember keeps elsewhere (torch._C._nn.linear is
    ember.nn.functional.linear): children by name, then the ember object of the same path."""

    def __init__(self, fallback):
        self._children = {}
        self._fallback = fallback

    def __getattr__(self, name):
        child = self.__dict__["_children"].get(name)
        if isinstance(child, Entry):
            return getattr(child.module, child.attr)   # (a recording wrapper while one is installed)
        if child is not None:
            return child
        if self._fallback is not None:
            return getattr(self._fallback, name)
        raise AttributeError(f"fx: ember has no counterpart of torch name {name!r}")


_root = None


def _resolve(parts):
    obj = importlib.import_module("ember")
    for part in parts:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            return None
    return obj


def root():
    """The object bound to `torch` (and `ember`) in generated code: ember, plus the names torch prints that
    ember keeps elsewhere."""
    global _root
    if _root is None:
        top = _Path(importlib.import_module("ember"))
        for e in entries().values():
            parts = e.path.split(".")
            if _resolve(parts) is e.fn:
                continue
            node = top
            for i, part in enumerate(parts[:-1]):
                child = node._children.get(part)
                if child is None:
                    child = node._children[part] = _Path(_resolve(parts[:i + 1]))
                node = child
            node._children[parts[-1]] = e
        _root = top
    return _root
