"""torch.fx._symbolic_trace: Tracer, symbolic_trace and wrap."""
import builtins
import collections
import functools
import inspect
import math
import warnings
from itertools import chain
from types import FunctionType

from . import _recording
from .graph import Graph
from .graph_module import GraphModule
from .node import map_aggregate
from .proxy import ParameterProxy, Proxy, Scope, ScopeContextManager, TracerBase

__all__ = ["Tracer", "symbolic_trace", "wrap", "PH", "PHBase", "PHWithMeta", "is_fx_tracing"]

HAS_VARSTUFF = inspect.CO_VARARGS | inspect.CO_VARKEYWORDS


def is_fx_tracing():
    """Whether a symbolic trace is under way."""
    return _recording.tracing > 0


is_fx_symbolic_tracing = is_fx_tracing


def _patch_function(fn, nargs):
    """fn taking *args/**kwargs as nargs plain positional arguments (the tracer passes Proxies so)."""
    co = fn.__code__
    new_code = co.replace(co_argcount=nargs, co_posonlyargcount=0, co_kwonlyargcount=0,
                          co_flags=co.co_flags & ~HAS_VARSTUFF)
    return FunctionType(new_code, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)


class PHBase:
    """An object representing an input placeholder to `concrete_args`."""

    def __repr__(self):
        return "PH"


PH = PHBase()


class PHWithMeta(PHBase):
    """A placeholder for concrete_args whose attributes go onto the placeholder node."""

    def __init__(self, ph_key=None):
        super().__init__()
        self.ph_key = ph_key


def _transfer_attrs(fr, to):
    for attr_name in dir(fr):
        attr_val = getattr(fr, attr_name)
        if not callable(attr_val) and not attr_name.startswith("__") and not hasattr(to, attr_name):
            setattr(to, attr_name, attr_val)


def _module_classes():
    from ..nn import Module, Parameter, Sequential
    return Module, Parameter, Sequential


class Tracer(TracerBase):
    """Symbolic tracing: runs a module's forward (or a function) on Proxies and records what it does into a
    Graph.  Override is_leaf_module, call_module, create_proxy, create_node, create_arg or getattr to change
    what is recorded."""

    def __init__(self, autowrap_modules=(math,), autowrap_functions=(), param_shapes_constant=False):
        super().__init__()
        self._autowrap_function_ids = {
            id(value) for name, value in chain.from_iterable(m.__dict__.items() for m in autowrap_modules)
            if not name.startswith("_") and callable(value)}
        self._autowrap_function_ids.update(id(f) for f in autowrap_functions)
        self._autowrap_search = list(autowrap_modules)
        self.param_shapes_constant = param_shapes_constant
        self.submodule_paths = None
        self.root_module_name = ""
        self.scope = Scope("", None)
        self.module_stack = collections.OrderedDict()
        self.num_calls = {}
        self.node_name_to_scope = {}

    _qualname_counter = collections.defaultdict(int)

    def get_fresh_qualname(self, prefix):
        """A name `prefix<N>` that the root module does not have yet."""
        qualname = f"{prefix}0"
        if not hasattr(self.root, qualname):
            self._qualname_counter[prefix] = 0
            return qualname
        i = self._qualname_counter[prefix]
        while True:
            qualname = f"{prefix}{i}"
            i += 1
            if not hasattr(self.root, qualname):
                break
        self._qualname_counter[prefix] = i
        return qualname

    def create_arg(self, a):
        """Parameters, buffers and submodules of the root become get_attr nodes; other tensors become
        constants (`_tensor_constant0`) on the root."""
        from .. import Tensor
        Module, Parameter, _ = _module_classes()
        if isinstance(a, Parameter):
            for n, p in self.root.named_parameters():
                if a is p:
                    # ember's modules read their parameters from the dict, not through __getattr__ as torch's:
                    # the trace's get_attr node for the parameter, as if they had (one node per parameter)
                    cache = getattr(self, "_parameter_proxy_cache", None)
                    if cache is not None:
                        proxy = self.getattr(n.rpartition(".")[2], a, cache)
                        if isinstance(proxy, Proxy):
                            return proxy.node
                    return self.create_node("get_attr", n, (), {})
            raise NameError("parameter is not a member of this module")
        if isinstance(a, Tensor):
            for n_, p_ in self.root.named_buffers():
                if a is p_:
                    return self.create_node("get_attr", n_, (), {})
        elif isinstance(a, Module):
            for n_, p_ in self.root.named_modules():
                if a is p_:
                    return self.create_node("get_attr", n_, (), {})
        if isinstance(a, tuple) and hasattr(a, "_fields"):
            args = tuple(self.create_arg(elem) for elem in a)
            return self.create_node("call_function", a.__class__, args, {})
        if isinstance(a, Tensor):
            qualname = self.tensor_attrs.get(a)
            if not qualname:
                qualname = self.get_fresh_qualname("_tensor_constant")
                self.tensor_attrs[a] = qualname
                setattr(self.root, qualname, a)
            return self.create_node("get_attr", qualname, (), {})
        return super().create_arg(a)

    def is_leaf_module(self, m, module_qualified_name):
        """Whether m is recorded as one call_module node (torch.nn's modules but Sequential) or traced
        through."""
        _, _, Sequential = _module_classes()
        return (m.__module__.startswith(("torch.nn", "torch.ao.nn", "ember.nn"))
                and not isinstance(m, Sequential))

    def path_of_module(self, mod):
        """The qualified name of submodule mod in the root (NameError if it is not one)."""
        if self.submodule_paths:
            path = self.submodule_paths.get(mod)
            if path is None:
                raise NameError("module is not installed as a submodule")
            return path
        for n, p in self.root.named_modules():
            if mod is p:
                return n
        raise NameError("module is not installed as a submodule")

    def call_module(self, m, forward, args, kwargs):
        """A submodule called during tracing: a call_module node for a leaf, its forward traced otherwise."""
        module_qualified_name = self.path_of_module(m)
        with ScopeContextManager(self.scope, Scope(module_qualified_name, type(m))) as _scope:
            num_calls = self.num_calls.get(module_qualified_name, 0)
            module_key = f"{_scope.module_path}@{num_calls}" if num_calls > 0 else _scope.module_path
            self.module_stack[module_key] = (module_qualified_name, _scope.module_type)
            self.num_calls[module_qualified_name] = num_calls + 1
            if not self.is_leaf_module(m, module_qualified_name):
                ret_val = forward(*args, **kwargs)
            else:
                ret_val = self.create_proxy("call_module", module_qualified_name, args, kwargs)
            self.module_stack.popitem(last=True)
        return ret_val

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        """A module attribute read during tracing: a get_attr Proxy for a parameter of the root (and for a buffer
        with proxy_buffer_attributes), the value itself otherwise."""
        from .. import Tensor
        _, Parameter, _ = _module_classes()

        def proxy_for(collection):
            for n, p in collection:
                if attr_val is p:
                    if n not in parameter_proxy_cache:
                        kwargs = {}
                        if "proxy_factory_fn" in inspect.signature(self.create_proxy).parameters:
                            kwargs["proxy_factory_fn"] = (
                                None if not self.param_shapes_constant
                                else lambda node: ParameterProxy(self, node, n, attr_val))
                        parameter_proxy_cache[n] = self.create_proxy("get_attr", n, (), {}, **kwargs)
                    return parameter_proxy_cache[n]
            return None

        if isinstance(attr_val, Parameter):
            proxy = proxy_for(self.root.named_parameters())
            if proxy is not None:
                return proxy
        if self.proxy_buffer_attributes and isinstance(attr_val, Tensor):
            proxy = proxy_for(self.root.named_buffers())
            if proxy is not None:
                return proxy
        return attr_val

    def create_args_for_root(self, root_fn, is_module, concrete_args=None):
        """The Proxies (and concrete values) the root function is called with, and the function to call."""
        fn_for_analysis = inspect.unwrap(root_fn)
        co = fn_for_analysis.__code__
        total_args = co.co_argcount + co.co_kwonlyargcount
        names_iter = iter(co.co_varnames)
        args = []
        skip_arg_idx = 0
        if is_module:
            if total_args == 0:
                raise RuntimeError("``self`` argument cannot be part of *args expansion!")
            skip_arg_idx = 1
            next(names_iter)
            args.append(self.root)
        sig = inspect.signature(fn_for_analysis)
        if (isinstance(concrete_args, tuple) and len(concrete_args) > 0 and (co.co_flags & HAS_VARSTUFF)
                and total_args == 1):
            for i, concrete_arg in enumerate(concrete_args):
                out = self.create_proxy("placeholder", f"input_{i}", (), {})
                if isinstance(concrete_arg, PHBase) and concrete_arg != PH:
                    _transfer_attrs(fr=concrete_arg, to=out.node)
                args.append(out)
            return root_fn, args
        arg_names = [next(names_iter) for _ in range(skip_arg_idx, total_args)]
        if isinstance(concrete_args, tuple):
            if len(arg_names) != len(concrete_args):
                raise RuntimeError(f"Tracing expected {len(arg_names)} arguments but got {len(concrete_args)} "
                                   "concrete arguments")
            concrete_args = dict(zip(arg_names, concrete_args))
        args.extend(self._proxy_placeholder(name, concrete_args, sig, fn_for_analysis) for name in arg_names)
        if co.co_kwonlyargcount > 0 or co.co_flags & HAS_VARSTUFF:
            if co.co_flags & inspect.CO_VARARGS:
                args.append(self._proxy_placeholder("*" + next(names_iter), concrete_args, sig, fn_for_analysis))
            if co.co_flags & inspect.CO_VARKEYWORDS:
                args.append(self._proxy_placeholder("**" + next(names_iter), concrete_args, sig, fn_for_analysis))
            root_fn = _patch_function(root_fn, len(args))
        return root_fn, args

    def _proxy_placeholder(self, name, concrete_args, sig, fn_for_analysis):
        if concrete_args is not None and name in concrete_args:
            from .. import Tensor, _assert
            cnt = 0

            def replace_ph(x):
                nonlocal cnt
                cnt += 1
                param = sig.parameters[name]
                default = () if param.default is inspect.Parameter.empty else (param.default,)
                out = self.create_proxy("placeholder", f"{name}_{cnt}", default, {})
                if isinstance(x, PHBase):
                    if x != PH:
                        _transfer_attrs(fr=x, to=out.node)
                    return out
                if type(x) in (bool, int, float, str, complex):
                    self.create_proxy("call_function", _assert, (
                        out == x, f"{name} has been specialized to have value {x} but got another value"), {})
                elif x is None:
                    self.create_proxy("call_function", _assert_is_none, (
                        out, f"{name} has been specialized to have value None but got another value"), {})
                elif not isinstance(x, Tensor):
                    warnings.warn(f"Was not able to add assertion to guarantee correct input {name} to specialized "
                                  "function. It is up to the user to make sure that your inputs match the inputs "
                                  "you specialized the function with.")
                return x
            return map_aggregate(concrete_args[name], replace_ph)
        if name[0] == "*":
            default = ()
        else:
            param = sig.parameters[name]
            default = () if param.default is inspect.Parameter.empty else (param.default,)
        return self.create_proxy("placeholder", name, default, {},
                                 type_expr=fn_for_analysis.__annotations__.get(name, None))

    def trace(self, root, concrete_args=None):
        """Trace root (a Module's forward, or a function) into a Graph."""
        Module, _, _ = _module_classes()
        from .. import Tensor
        _recording.tracing += 1
        _recording.acquire()
        try:
            if isinstance(root, Module):
                self.root = root
                if not hasattr(type(root), self.traced_func_name):
                    raise AssertionError(f"traced_func_name={self.traced_func_name} doesn't exist in "
                                         f"{type(root).__name__}")
                fn = getattr(type(root), self.traced_func_name)
                self.root_module_name = root._get_name()
                self.submodule_paths = {mod: name for name, mod in root.named_modules()}
            else:
                self.root = Module()
                fn = root
            self.graph = Graph(tracer_cls=getattr(self, "__class__", None))
            if hasattr(fn, "__code__"):
                code = fn.__code__
                self.graph._co_fields = {"co_name": code.co_name, "co_filename": code.co_filename,
                                         "co_firstlineno": code.co_firstlineno}
            self.tensor_attrs = {}

            def collect_tensor_attrs(m, prefix_atoms):
                for k, v in m.__dict__.items():
                    if isinstance(v, Tensor):
                        self.tensor_attrs[v] = ".".join(prefix_atoms + [k])
                for k, v in m.named_children():
                    collect_tensor_attrs(v, prefix_atoms + [k])
            collect_tensor_attrs(self.root, [])

            if not isinstance(fn, FunctionType):
                raise TypeError(f"symbolic_trace: can only trace a Python function or a Module's "
                                f"{self.traced_func_name}(), got {type(fn).__name__}")
            fn_globals = fn.__globals__
            fn, args = self.create_args_for_root(fn, isinstance(root, Module), concrete_args)
            parameter_proxy_cache = self._parameter_proxy_cache = {}
            orig_getattr = Module.__getattr__
            orig_call = Module.__call__

            @functools.wraps(orig_getattr)
            def module_getattr_wrapper(mod, attr):
                return self.getattr(attr, orig_getattr(mod, attr), parameter_proxy_cache)

            @functools.wraps(orig_call)
            def module_call_wrapper(mod, *args, **kwargs):
                def forward(*args, **kwargs):
                    return orig_call(mod, *args, **kwargs)
                _autowrap_check(patcher, getattr(getattr(mod, "forward", mod), "__globals__", {}),
                                self._autowrap_function_ids)
                return self.call_module(mod, forward, args, kwargs)

            with _Patcher() as patcher:
                patcher.patch_method(Module, "__getattr__", module_getattr_wrapper, deduplicate=False)
                patcher.patch_method(Module, "__call__", module_call_wrapper, deduplicate=False)
                _patch_wrapped_functions(patcher)
                _autowrap_check(patcher, fn_globals, self._autowrap_function_ids)
                for module in self._autowrap_search:
                    _autowrap_check(patcher, module.__dict__, self._autowrap_function_ids)
                ann = inspect.get_annotations(inspect.unwrap(fn))
                self.create_node("output", "output", (self.create_arg(fn(*args)),), {},
                                 type_expr=ann.get("return", None))
            self.submodule_paths = None
        finally:
            self._parameter_proxy_cache = None
            _recording.release()
            _recording.tracing -= 1
        return self.graph


# (id of a module's globals, function name) -> those globals: the functions fx.wrap() named
_wrapped_fns_to_patch = {}


def _create_wrapped_func(orig_fn):
    @functools.wraps(orig_fn)
    def wrapped(*args, **kwargs):
        proxy = _recording.find_proxy(args, kwargs)
        if proxy is not None:
            return_proxy = proxy.tracer.create_proxy("call_function", orig_fn, args, kwargs)
            return_proxy.node.meta["is_wrapped"] = True
            return return_proxy
        return orig_fn(*args, **kwargs)
    return wrapped


class _Patcher:
    """Replaces names in module dicts and classes for the time of a trace, and puts them back after (even
    when tracing fails)."""

    def __init__(self):
        self.patches_made = []   # (kind, where, name, original)
        self.visited = set()

    def patch(self, frame_dict, name, new_fn, deduplicate=True):
        """frame_dict[name] = new_fn until the end of the trace."""
        new_fn.__fx_already_patched = deduplicate
        if name not in frame_dict and hasattr(builtins, name):
            self.patches_made.append(("del", frame_dict, name, None))
        elif getattr(frame_dict[name], "__fx_already_patched", False):
            return
        else:
            self.patches_made.append(("item", frame_dict, name, frame_dict[name]))
        frame_dict[name] = new_fn

    def patch_method(self, cls, name, new_fn, deduplicate=True):
        """cls.name = new_fn until the end of the trace."""
        new_fn.__fx_already_patched = deduplicate
        orig_fn = getattr(cls, name)
        if getattr(orig_fn, "__fx_already_patched", False):
            return
        self.patches_made.append(("attr", cls, name, cls.__dict__.get(name, _ABSENT)))
        setattr(cls, name, new_fn)

    def visit_once(self, thing):
        """True the first time thing is seen."""
        idx = id(thing)
        if idx in self.visited:
            return False
        self.visited.add(idx)
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        while self.patches_made:
            kind, where, name, orig = self.patches_made.pop()
            if kind == "del":
                del where[name]
            elif kind == "item":
                where[name] = orig
            elif orig is _ABSENT:
                delattr(where, name)
            else:
                setattr(where, name, orig)
        self.visited.clear()


_ABSENT = object()


def _patch_wrapped_functions(patcher):
    for (_, name), frame_dict in _wrapped_fns_to_patch.copy().items():
        if name not in frame_dict and hasattr(builtins, name):
            orig_fn = getattr(builtins, name)
        else:
            orig_fn = frame_dict[name]
        patcher.patch(frame_dict, name, _create_wrapped_func(orig_fn))


def _autowrap_check(patcher, frame_dict, function_ids):
    """Patch, in a module's globals, the autowrapped functions (math's) and ember's functions imported by name
    (`from torch import flatten`), which the namespace wrappers do not reach."""
    if patcher.visit_once(frame_dict):
        for name, value in list(frame_dict.items()):
            if name.startswith("_") or not callable(value):
                continue
            if id(value) in function_ids:
                patcher.patch(frame_dict, name, _create_wrapped_func(value))
            else:
                recorder = _recording.recorder_for(value)
                if recorder is not None and frame_dict.get(name) is not recorder:
                    patcher.patch(frame_dict, name, recorder)


def wrap(fn_or_name):
    """Record calls to this module-level function as call_function nodes instead of tracing through it
    (call at module scope, with the function or its name)."""
    if not callable(fn_or_name) and not isinstance(fn_or_name, str):
        raise RuntimeError("Unsupported type for global function! Must be either a callable or string name")
    fn_name = fn_or_name if isinstance(fn_or_name, str) else fn_or_name.__name__
    f = inspect.currentframe().f_back
    if f.f_code.co_name != "<module>":
        raise NotImplementedError("wrap must be called at the top level of a module")
    _wrapped_fns_to_patch[(id(f.f_globals), fn_name)] = f.f_globals
    return fn_or_name


def symbolic_trace(root, concrete_args=None):
    """Trace a Module or function into a GraphModule."""
    tracer = Tracer()
    graph = tracer.trace(root, concrete_args)
    Module, _, _ = _module_classes()
    name = root.__class__.__name__ if isinstance(root, Module) else root.__name__
    return GraphModule(tracer.root, graph, name)


def _assert_is_none(value, msg):
    if value is not None:
        raise AssertionError(msg)

