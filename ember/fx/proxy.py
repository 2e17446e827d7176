"""torch.fx.proxy: Proxy, the stand-in value that records what a traced program does with it."""
import collections
import copy
import dis
import enum
import inspect
import operator
import sys
from dataclasses import fields, is_dataclass

from . import _recording
from .graph import Graph, magic_methods, reflectable_magic_methods
from .immutable_collections import immutable_dict, immutable_list  # noqa: F401  (torch.fx.proxy has them)
from .node import map_arg

__all__ = ["TracerBase", "GraphAppendingTracer", "TraceError", "Proxy", "Attribute", "ParameterProxy", "Scope",
           "ScopeContextManager"]


class Scope:
    """The module (path and type) whose forward is being traced."""

    def __init__(self, module_path, module_type):
        super().__init__()
        self.module_path = module_path
        self.module_type = module_type


class ScopeContextManager:
    """Enter a module's Scope for the time of its forward, and restore the previous one after."""

    def __init__(self, scope, current_scope):
        super().__init__()
        self._prev_scope = copy.copy(scope)
        scope.module_path = current_scope.module_path
        scope.module_type = current_scope.module_type
        self._scope = scope

    def __enter__(self):
        return self._scope

    def __exit__(self, *args):
        self._scope.module_path = self._prev_scope.module_path
        self._scope.module_type = self._prev_scope.module_type


def _base_types():
    from .. import Tensor, device, dtype, layout, memory_format
    return (str, int, float, bool, complex, dtype, Tensor, device, memory_format, layout)


class TracerBase:
    """What records nodes into self.graph: create_node, create_proxy, create_arg."""

    graph: Graph
    record_stack_traces = False
    check_mutable_operations = False
    trace_asserts = False
    proxy_buffer_attributes = False
    traced_func_name = "forward"
    scope: Scope
    module_stack: collections.OrderedDict
    node_name_to_scope: dict

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):
        """Insert a node into the graph (override to check or change what is recorded)."""
        node = self.graph.create_node(kind, target, args, kwargs, name, type_expr)
        self.node_name_to_scope[node.name] = (self.scope.module_path, self.scope.module_type)
        if self.module_stack:
            node.meta["nn_module_stack"] = copy.copy(self.module_stack)
        if self.record_stack_traces and not node.stack_trace:
            node.stack_trace = _user_stack()
        return node

    def proxy(self, node):
        """The Proxy of a node."""
        return Proxy(node, self)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        """Record a node for these (Proxy-holding) arguments and return its Proxy."""
        args_ = self.create_arg(args)
        kwargs_ = self.create_arg(kwargs)
        if not isinstance(args_, tuple):
            raise AssertionError(f"Expected args_ to be tuple, got {type(args_)}")
        if not isinstance(kwargs_, dict):
            raise AssertionError(f"Expected kwargs_ to be dict, got {type(kwargs_)}")
        node = self.create_node(kind, target, args_, kwargs_, name, type_expr)
        return self.proxy(node) if not proxy_factory_fn else proxy_factory_fn(node)

    def create_arg(self, a):
        """Lower a value seen as an argument into what a node can hold (Proxies become their nodes)."""
        if isinstance(a, Proxy):
            return a.node
        if hasattr(a, "__fx_create_arg__"):
            return a.__fx_create_arg__(self)
        if isinstance(a, tuple):
            if hasattr(a, "_fields"):
                return type(a)(*[self.create_arg(elem) for elem in a])
            return type(a)([self.create_arg(elem) for elem in a])
        if isinstance(a, list):
            return [self.create_arg(elem) for elem in a]
        if isinstance(a, dict):
            r = {}
            for k, v in a.items():
                if not isinstance(k, str):
                    k = self.create_arg(k)

                    def no_node(arg):
                        raise RuntimeError(f"Keys for dictionaries used as an argument cannot contain a Node. "
                                           f"Got key: {k}")
                    map_arg(k, no_node)
                r[k] = self.create_arg(v)
            return r
        if isinstance(a, slice):
            return slice(self.create_arg(a.start), self.create_arg(a.stop), self.create_arg(a.step))
        if isinstance(a, range):
            return range(self.create_arg(a.start), self.create_arg(a.stop), self.create_arg(a.step))
        if is_dataclass(a) and not isinstance(a, type):
            kwargs = {f.name: self.create_arg(getattr(a, f.name)) for f in fields(a)}
            return self.create_node("call_function", a.__class__, (), kwargs)
        if isinstance(a, (*_base_types(), enum.Enum)) or a is None or a is ...:
            return a
        raise NotImplementedError(f"argument of type: {type(a)}")

    def to_bool(self, obj):
        """A Proxy used as a condition: torch's TraceError (a custom tracer may return a value)."""
        raise TraceError("symbolically traced variables cannot be used as inputs to control flow")

    def iter(self, obj):
        """A Proxy iterated: torch's TraceError (a custom tracer may return an iterator)."""
        raise TraceError("Proxy object cannot be iterated. This can be attempted when the Proxy is used in a loop "
                         "or as a *args or **kwargs function argument. See the torch.fx docs on pytorch.org for a "
                         "more detailed explanation of what types of control flow can be traced, and check out "
                         "the Proxy docstring for help troubleshooting Proxy iteration errors")

    def keys(self, obj):
        """`**proxy`: a recorded keys() call."""
        return Attribute(obj, "keys")()


def _user_stack():
    import traceback
    frames = [f for f in traceback.extract_stack()[:-2] if "/ember/" not in f.filename.replace("\\", "/")]
    return "".join(traceback.format_list(frames)).strip()


class GraphAppendingTracer(TracerBase):
    """A tracer that appends to an existing graph (to record with Proxies outside symbolic tracing)."""

    def __init__(self, graph):
        super().__init__()
        self.graph = graph
        self.scope = Scope("", None)
        self.module_stack = collections.OrderedDict()
        self.node_name_to_scope = {}


class TraceError(ValueError):
    """A traced program did what symbolic tracing cannot record (control flow on a Proxy, iterating one)."""


class Proxy:
    """A Node standing in for a value while a program is traced: what the program does with it (operators,
    method calls, torch functions) is recorded as new nodes.  Proxies cannot be iterated nor used as
    conditions (TraceError)."""

    def __init__(self, node, tracer=None):
        if tracer is None:
            tracer = GraphAppendingTracer(node.graph)
        self.tracer = tracer
        self.node = node
        _count(self)

    def __repr__(self):
        return f"Proxy({self.node.name})"

    def __getattr__(self, k):
        if k in _tensor_internals():
            # ember's own modules peek at a tensor's array (getattr(input, "_data", None)) to check shapes
            # cheaply; a Proxy has none, so they skip the check, as for any non-tensor
            raise AttributeError(f"'Proxy' object has no attribute '{k}'")
        return Attribute(self, k)

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, d):
        self.__dict__ = {k: v for k, v in d.items() if k != "_fx_counted"}
        _count(self)

    def __deepcopy__(self, memo):
        new = Proxy.__new__(Proxy)
        for k, v in self.__dict__.items():
            if k == "_fx_counted":
                continue
            try:
                new.__dict__[k] = copy.deepcopy(v, memo)
            except Exception:
                new.__dict__[k] = copy.copy(v)
        _count(new)
        return new

    def __del__(self):
        if self.__dict__.get("_fx_counted"):
            try:
                _recording.release()
            except Exception:   # (interpreter shutdown)
                pass

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", "__call__", (self,) + args, kwargs)

    def __iter__(self):
        frame = inspect.currentframe().f_back
        insts = list(dis.get_instructions(frame.f_code))
        if sys.version_info >= (3, 11):
            from bisect import bisect_left
            idx = bisect_left(insts, frame.f_lasti, key=lambda x: x.offset)
        else:
            idx = frame.f_lasti // 2
        inst = insts[idx]
        if inst.opname == "UNPACK_SEQUENCE":   # `a, b = proxy`: as many items as the unpacking takes
            return (self[i] for i in range(inst.argval))
        return self.tracer.iter(self)

    def __abs__(self):
        return self.tracer.create_proxy("call_function", operator.abs, (self,), {})

    def __bool__(self):
        return self.tracer.to_bool(self)

    def keys(self):
        """`**proxy` calls this."""
        return self.tracer.keys(self)

    def __len__(self):
        raise RuntimeError("'len' is not supported in symbolic tracing by default. If you want this call to be "
                           "recorded, please call torch.fx.wrap('len') at module scope")


_internals = None


def _tensor_internals():
    global _internals
    if _internals is None:
        from .._tensor import Tensor
        _internals = frozenset(n for n in Tensor.__slots__ if n.startswith("_"))
    return _internals


def _count(proxy):
    """A Proxy made outside symbolic tracing keeps ember's functions recording while it lives."""
    if _recording.tracing:
        return
    _recording.acquire()
    proxy.__dict__["_fx_counted"] = True


class Attribute(Proxy):
    """proxy.attr: a method about to be called (call_method), or an attribute read (getattr) once used."""

    def __init__(self, root, attr):
        self.root = root
        self.attr = attr
        self.tracer = root.tracer
        self._node = None
        _count(self)

    @property
    def node(self):
        """The getattr node, recorded when the attribute is used as a value."""
        if self._node is None:
            self._node = self.tracer.create_proxy("call_function", getattr, (self.root, self.attr), {}).node
        return self._node

    def __call__(self, *args, **kwargs):
        return self.tracer.create_proxy("call_method", self.attr, (self.root,) + args, kwargs)


class ParameterProxy(Proxy):
    """A parameter's Proxy whose shape, size(), dim() ... are the parameter's own (with param_shapes_constant)."""

    def __init__(self, tracer, node, name, param):
        super().__init__(node, tracer)
        self.param = param
        self.name = name

    def __repr__(self):
        return f"ParameterProxy({self.name})"

    @property
    def shape(self):
        """The parameter's shape."""
        return self.param.shape

    def size(self):
        """The parameter's size."""
        return self.param.size()

    def dim(self):
        """The parameter's number of dimensions."""
        return self.param.dim()

    @property
    def ndim(self):
        """The parameter's number of dimensions."""
        return self.param.ndim

    def numel(self):
        """The parameter's number of elements."""
        return self.param.numel()

    def nelement(self):
        """The parameter's number of elements."""
        return self.param.nelement()


def _define_magic(method):
    def impl(*args, **kwargs):
        return args[0].tracer.create_proxy("call_function", getattr(operator, method), args, kwargs)
    impl.__name__ = method
    setattr(Proxy, f"__{method.strip('_')}__", impl)


def _define_reflectable(method):
    name = f"__r{method.strip('_')}__"

    def impl(self, rhs):
        return self.tracer.create_proxy("call_function", getattr(operator, method), (rhs, self), {})
    impl.__name__ = impl.__qualname__ = name
    setattr(Proxy, name, impl)


for _method in magic_methods:
    _define_magic(_method)
for _method in reflectable_magic_methods:
    _define_reflectable(_method)
del _method

_recording.Proxy = Proxy
