"""torch.fx.graph_module: GraphModule, a Module whose forward is generated from a Graph."""
import copy
import itertools
import linecache
import sys
import traceback

from .. import _backend
from ..nn import Module, Parameter
from ..nn.modules.module import _addindent
from .graph import Graph, PythonCode, _custom_builtins  # noqa: F401  (torch.fx.graph_module has PythonCode)

__all__ = ["GraphModule", "reduce_graph_module"]


class _EvalCacheLoader:
    """Keeps each generated source under a fake file name, so tracebacks and linecache show its lines."""

    def __init__(self):
        self.eval_cache = {}
        self.next_id = 0

    def cache(self, src, globals, co_fields=None):
        """Register src; the file name to compile it under."""
        key = f"<eval_with_key>.{self.next_id}"
        self.next_id += 1
        if co_fields and "co_filename" in co_fields:
            key += f" from {co_fields['co_filename']}:{co_fields.get('co_firstlineno')} in {co_fields.get('co_name')}"
        self.eval_cache[key] = src
        globals_copy = dict(globals, __file__=key, __name__=key, __loader__=self)
        linecache.lazycache(key, globals_copy)
        return key

    def get_source(self, module_name):
        """The source registered under module_name (linecache asks)."""
        return self.eval_cache.get(module_name)


_loader = _EvalCacheLoader()


def _exec_with_source(src, globals, co_fields=None):
    key = _loader.cache(src, globals, co_fields)
    exec(compile(src, key, "exec"), globals)


def _forward_from_src(src, globals, co_fields=None):
    globals_copy = dict(globals)
    _exec_with_source(src, globals_copy, co_fields)
    return globals_copy.pop("forward")


def _format_import_block(globals):
    lines = set()
    for name, obj in globals.items():
        if name in ("torch", "ember"):
            lines.add(f"from ember.fx._names import root as _fx_root\n{name} = _fx_root()")
        elif name in _custom_builtins:
            lines.add(_custom_builtins[name][0])
        elif name == "device":
            lines.add("from ember import device")
        else:
            lines.add(f"from {obj.__module__} import {obj.__qualname__} as {name}")
    return "\n".join(sorted(lines))


def reduce_graph_module(body, import_block):
    """Rebuild a pickled GraphModule from its attributes and the imports its code needs."""
    fn_src = body.get("_code") or body["code"]
    forward = _forward_from_src(import_block + fn_src, {})
    return _deserialize_graph_module(forward, body)


class _CodeOnlyModule(Module):
    def __init__(self, body):
        super().__init__()
        self.__dict__ = body


def _deserialize_graph_module(forward, body):
    _CodeOnlyModule.forward = forward
    from ._symbolic_trace import Tracer
    tracer_cls = body.get("_tracer_cls") or Tracer

    class KeepModules(tracer_cls):
        def is_leaf_module(self, _, __):
            return True

    com = _CodeOnlyModule(body)
    graph = KeepModules().trace(com)
    graph._tracer_cls = tracer_cls
    gm = GraphModule(com, graph, class_name=body.get("_graphmodule_cls_name", "GraphModule"))
    for k, v in body.items():
        if not hasattr(gm, k):
            setattr(gm, k, v)
    return gm


def _copy_attr(from_module, to_module, target):
    from .. import Tensor
    *prefix, field = target.split(".")
    for item in prefix:
        f = getattr(from_module, item)
        t = getattr(to_module, item, None)
        if f is t:
            return
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        from_module, to_module = f, t
    orig = getattr(from_module, field)
    # (a plain tensor attribute becomes a buffer: it goes into the state_dict, and moves with .to())
    if isinstance(orig, Tensor) and not isinstance(orig, Parameter):
        to_module.register_buffer(field, orig)
    else:
        setattr(to_module, field, orig)


def _assign_attr(from_obj, to_module, target):
    from .. import Tensor
    *prefix, field = target.split(".")
    for item in prefix:
        t = getattr(to_module, item, None)
        if t is None:
            t = Module()
            setattr(to_module, item, t)
        to_module = t
    if isinstance(from_obj, Tensor) and not isinstance(from_obj, Parameter):
        to_module.register_buffer(field, from_obj)
    else:
        setattr(to_module, field, from_obj)


def _get_attr(model, attr_name):
    t = model
    for item in attr_name.split("."):
        t = getattr(t, item)
    return t


def _print_readable(module, module_name, print_output=True):
    src = module.graph.python_code(root_module="self", verbose=True).src.lstrip("\n")
    code = _addindent(f"class {module_name}({_backend.namespace()}.nn.Module):\n" + src, 4)
    subs = [""]
    for name, sub in module.named_children():
        if isinstance(sub, GraphModule):
            subs.append(_print_readable(sub, name, print_output=False))
    output = code + _addindent("\n".join(subs), 4)
    if print_output:
        print(output)
    return output


class _WrappedCall:
    """Calls the GraphModule; an error raised in the generated code also shows the generated lines."""

    def __init__(self, cls, cls_call):
        self.cls = cls
        self.cls_call = cls_call

    @staticmethod
    def _generate_error_message(frame_summary):
        err_lineno = frame_summary.lineno
        all_src_lines = linecache.getlines(frame_summary.filename)
        custom_msg = (f"Call using an FX-traced Module, line {err_lineno} of the traced Module's generated forward "
                      "function:")
        before_err = "".join(all_src_lines[err_lineno - 2:err_lineno])
        marker = "~" * len(frame_summary.line or "") + "~~~ <--- HERE"
        err_and_after_err = "\n".join(all_src_lines[err_lineno:err_lineno + 2])
        return "\n".join([traceback.format_exc(), custom_msg, before_err, marker, err_and_after_err])

    def __call__(self, obj, *args, **kwargs):
        try:
            if self.cls_call is not None:
                return self.cls_call(obj, *args, **kwargs)
            return super(self.cls, obj).__call__(*args, **kwargs)
        except Exception as e:
            # (the innermost line of generated code: ember's ops, unlike torch's, have Python frames below it)
            frames = [f for f in traceback.StackSummary.extract(traceback.walk_tb(e.__traceback__))
                      if "eval_with_key" in f.filename]
            if frames:
                print(_WrappedCall._generate_error_message(frames[-1]), file=sys.stderr)
                raise e.with_traceback(None) from None
            raise


class GraphModule(Module):
    """A Module built from a root module (or a dict of attributes) and a Graph: its forward is Python code
    generated from the graph (see .code), regenerated by recompile() after the graph changes."""

    def __new__(cls, *args, **kwargs):
        # each instance gets its own class: recompile() sets forward and __call__ on it
        for t in cls.__mro__:
            if t.__qualname__.split(".")[-1] != "GraphModuleImpl":
                cls = t
                break

        class GraphModuleImpl(cls):
            pass
        GraphModuleImpl.__module__ = cls.__module__   # (torch.fx.graph_module under the alias)
        return super().__new__(GraphModuleImpl)

    def __init__(self, root, graph, class_name="GraphModule"):
        super().__init__()
        self.__class__.__name__ = class_name
        if isinstance(root, Module):
            if hasattr(root, "training"):
                self.training = root.training
            if isinstance(root, _CodeOnlyModule):
                for k, _ in root.named_children():
                    _copy_attr(root, self, k)
                for k, _ in root.named_buffers():
                    _copy_attr(root, self, k)
                for k, _ in root.named_parameters():
                    _copy_attr(root, self, k)
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    _copy_attr(root, self, node.target)
        elif isinstance(root, dict):
            targets = []
            for node in graph.nodes:
                if node.op in ("get_attr", "call_module"):
                    if node.target not in root:
                        raise RuntimeError(f"Node {node} referenced target {node.target} but that target was not "
                                           "provided in ``root``!")
                    targets.append(node.target)
            targets.sort(key=lambda t: t.count("."))
            for target in targets:
                _assign_attr(root[target], self, target)
        else:
            raise RuntimeError("Unsupported type " + str(root) + " passed for root!")
        self._tracer_cls = None
        if graph._tracer_cls and "<locals>" not in graph._tracer_cls.__qualname__:
            self._tracer_cls = graph._tracer_cls
        self._tracer_extras = graph._tracer_extras or {}
        self.meta = {}
        self._replace_hooks = []
        self._create_node_hooks = []
        self._erase_node_hooks = []
        self._deepcopy_hooks = []
        self.graph = graph

    @property
    def graph(self):
        """The Graph the code is generated from (assigning one recompiles)."""
        return self._graph

    @graph.setter
    def graph(self, g):
        if not isinstance(g, Graph):
            raise AssertionError(f"Expected a Graph instance, but got {type(g)}")
        self._graph = g
        g.owning_module = self
        self.recompile()

    @property
    def code(self):
        """The Python source of forward, generated from the graph."""
        if not hasattr(self, "_code"):
            raise RuntimeError("Code has not been generated! Please report a bug to PyTorch")
        return self._code

    def recompile(self):
        """Regenerate forward from the graph (call after changing the graph)."""
        python_code = self._graph.python_code(root_module="self")
        self._code = python_code.src
        self._lineno_map = python_code._lineno_map
        self._prologue_start = python_code._prologue_start
        cls = type(self)
        co_fields = getattr(self._graph, "_co_fields", {})
        cls.forward = _forward_from_src(self._code, python_code.globals, co_fields)
        cls_call = cls.__call__ if "__call__" in vars(cls) else None
        if "_wrapped_call" not in vars(cls):
            cls._wrapped_call = _WrappedCall(cls, cls_call)

        def call_wrapped(self, *args, **kwargs):
            return self._wrapped_call(self, *args, **kwargs)
        cls.__call__ = call_wrapped
        for _, mod in self.named_children():
            if isinstance(mod, GraphModule):
                mod.recompile()
        return python_code

    def add_submodule(self, target, m):
        """Install module m at the dotted path target (creating empty Modules on the way); False if a
        non-Module is in the way."""
        *prefix, field = target.split(".")
        mod = self
        for item in prefix:
            submod = getattr(mod, item, None)
            if submod is None:
                submod = Module()
                setattr(mod, item, submod)
            if not isinstance(submod, Module):
                return False
            mod = submod
        mod.add_module(field, m)
        return True

    def delete_submodule(self, target):
        """Delete the submodule at the dotted path target; False if there is none."""
        atoms = target.split(".")
        path, last = atoms[:-1], atoms[-1]
        mod = self
        for item in path:
            if not hasattr(mod, item):
                return False
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                return False
        if not hasattr(mod, last) or not isinstance(getattr(mod, last), Module):
            return False
        delattr(mod, last)
        return True

    def delete_all_unused_submodules(self):
        """Delete the submodules no call_module or get_attr node uses."""
        used = []
        for node in self.graph.nodes:
            if node.op in ("call_module", "get_attr") and isinstance(node.target, str):
                used.extend(itertools.accumulate(node.target.split("."), lambda x, y: f"{x}.{y}" if y else x))
                if node.op == "call_module":
                    try:
                        submod = self.get_submodule(node.target)
                    except AttributeError:
                        continue
                    used.extend(f"{node.target}.{n}" for n, _ in submod.named_modules() if n != "")
        for name in [name for name, _ in self.named_modules() if name not in used]:
            self.delete_submodule(name)

    def print_readable(self, print_output=True, include_stride=False, include_device=False, colored=False, **_):
        """The generated code as a class, printed (and returned)."""
        return _print_readable(self, self._get_name(), print_output)

    def __str__(self):
        reminder = "# To see more debug info, please use `graph_module.print_readable()`"
        return "\n".join([super().__str__(), self._code, reminder])

    def __reduce__(self):
        body = self.__dict__.copy()
        python_code = self.recompile()
        del body["_graph"]   # (rebuilt by tracing the code; the copy is named GraphModule, as torch's)
        return (reduce_graph_module, (body, _format_import_block(python_code.globals)))

    def __deepcopy__(self, memo):
        res = type(self).__new__(type(self))
        memo[id(self)] = res
        fake_mod = _CodeOnlyModule(copy.deepcopy(self.__dict__, memo))
        GraphModule.__init__(res, fake_mod, fake_mod.__dict__["_graph"])   # (named GraphModule, as torch's copy)
        for attr in ("_state_dict_hooks", "_load_state_dict_pre_hooks", "_load_state_dict_post_hooks",
                     "_replace_hooks", "_create_node_hooks", "_erase_node_hooks", "_deepcopy_hooks"):
            if attr in self.__dict__:
                setattr(res, attr, copy.deepcopy(self.__dict__[attr], memo))
        res.meta = copy.deepcopy(getattr(self, "meta", {}), memo)
        for hook in getattr(self, "_deepcopy_hooks", ()):
            hook(res)
        return res

    def __copy__(self):
        res = GraphModule(self, self.graph)
        res.meta = getattr(self, "meta", {})
        return res

