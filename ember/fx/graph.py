"""torch.fx.graph: Graph, the list of Nodes of a traced program, and the Python code generated from it."""
import builtins
import contextlib
import copy
import enum
import functools
import inspect
import keyword
import math
import re
import typing
import warnings
from dataclasses import dataclass

from . import _names
from .immutable_collections import immutable_dict
from .node import Node, _get_qualified_name, _type_repr, map_arg

__all__ = ["PythonCode", "CodeGen", "Graph"]

_legal_ops = dict.fromkeys(["call_function", "call_method", "get_attr", "call_module", "placeholder", "output"])

_illegal_names = {k: object() for k in keyword.kwlist}
_illegal_names.update(builtins.__dict__)   # (a name never shadows a builtin)
_custom_builtins = {}   # name -> (import statement, object), in every generated program's globals


def _register_custom_builtin(name, import_str, obj):
    _custom_builtins[name] = (import_str, obj)
    _illegal_names[name] = obj


_register_custom_builtin("inf", "from math import inf", math.inf)
_register_custom_builtin("nan", "from math import nan", math.nan)
_register_custom_builtin("NoneType", "NoneType = type(None)", type(None))
_register_custom_builtin("torch", "import torch", None)    # (the object: _names.root(), made on first use)
_register_custom_builtin("ember", "import ember", None)


def _is_magic(x):
    return x.startswith("__") and x.endswith("__")


_snake_case_sub = functools.partial(re.compile(r"(?<=[a-z])([A-Z])").sub, r"_\1")


def _snake_case(s):
    """mod.pascalCase -> mod.pascal_case, ALL_CAPS -> all_caps."""
    return _snake_case_sub(s).lower()


_illegal_char_regex = re.compile("[^0-9a-zA-Z_]+")
_name_regex = re.compile(r"^([a-zA-Z_][0-9a-zA-Z_]*?)(?:_(\d+))?$")


class _Namespace:
    """Unique names for objects: one name per object, none shadowing a builtin or keyword."""

    def __init__(self):
        self._obj_to_name = {}
        self._used_names = set()
        self._base_count = {}

    def create_name(self, candidate, obj):
        """A unique identifier based on candidate (associated with obj when obj is not None)."""
        if obj is not None and obj in self._obj_to_name:
            return self._obj_to_name[obj]
        match = _name_regex.match(candidate)
        if match is None:
            candidate = _illegal_char_regex.sub("_", candidate)
            if not candidate:
                candidate = "_unnamed"
            if candidate[0].isdigit():
                candidate = f"_{candidate}"
            match = _name_regex.match(candidate)
        base, num = match.group(1, 2)
        if num is None or candidate in self._used_names:
            num = self._base_count.get(base, 0)
            if _illegal_names.get(candidate, obj) is not obj:
                num += 1
                candidate = f"{base}_{num}"
        else:
            num = int(num)
        while candidate in self._used_names:
            num += 1
            candidate = f"{base}_{num}"
        self._used_names.add(candidate)
        self._base_count[base] = num
        if obj is not None:
            self._obj_to_name[obj] = candidate
        return candidate

    def associate_name_with_obj(self, name, obj):
        """Tie an already created name to obj."""
        existing = self._obj_to_name.setdefault(obj, name)
        if existing is not name:
            raise AssertionError("obj is already associated")

    def _rename_object(self, obj, name):
        self._obj_to_name[obj] = name
        self._used_names.add(name)


@dataclass
class PythonCode:
    """Generated source and the globals it needs to run."""
    src: str
    globals: dict
    _lineno_map: dict = None
    _prologue_start: int = 0


def _format_target(base, target):
    r = base
    for e in target.split("."):
        r = f'getattr({r}, "{e}")' if not e.isidentifier() else f"{r}.{e}"
    return r


class _InsertPoint:
    def __init__(self, graph, new_insert):
        self.graph = graph
        self.orig_insert, graph._insert = graph._insert, new_insert

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        self.graph._insert = self.orig_insert


class _node_list:
    """The nodes of a graph, in order (reversed() walks back); safe to mutate while iterating."""

    def __init__(self, graph, direction="_next"):
        self.graph = graph
        self.direction = direction

    def __len__(self):
        return self.graph._len

    def __iter__(self):
        return _walk(self.graph._root, self.direction)

    def __reversed__(self):
        return _walk(self.graph._root, "_prev" if self.direction == "_next" else "_next")


def _walk(root, direction):
    cur = getattr(root, direction)
    while cur is not root:
        if not cur._erased:
            yield cur
        cur = getattr(cur, direction)


reflectable_magic_methods = {
    "add": "{} + {}", "sub": "{} - {}", "mul": "{} * {}", "floordiv": "{} // {}", "truediv": "{} / {}",
    "div": "{} / {}", "mod": "{} % {}", "pow": "{} ** {}", "lshift": "{} << {}", "rshift": "{} >> {}",
    "and_": "{} & {}", "or_": "{} | {}", "xor": "{} ^ {}", "getitem": "{}[{}]", "matmul": "{} @ {}",
}
magic_methods = {
    "eq": "{} == {}", "ne": "{} != {}", "lt": "{} < {}", "gt": "{} > {}", "le": "{} <= {}", "ge": "{} >= {}",
    "pos": "+{}", "neg": "-{}", "invert": "~{}", **reflectable_magic_methods,
}
inplace_methods = {
    "iadd": "{} += {}", "iand": "{} &= {}", "ifloordiv": "{} //= {}", "ilshift": "{} <<= {}", "imod": "{} %= {}",
    "imul": "{} *= {}", "imatmul": "{} @= {}", "ior": "{} |= {}", "ipow": "{} **= {}", "irshift": "{} >>= {}",
    "isub": "{} -= {}", "itruediv": "{} /= {}", "ixor": "{} ^= {}", "setitem": "{}[{}] = {}",
}
_origin_type_map = {list: typing.List, dict: typing.Dict, set: typing.Set, frozenset: typing.FrozenSet,
                    tuple: typing.Tuple}


class CodeGen:
    """Turns a graph's nodes into the source of a `forward` method."""

    def __init__(self):
        self._body_transformer = None
        self._func_name = "forward"

    def gen_fn_def(self, free_vars, maybe_return_annotation):
        """The `def forward(self, ...):` line."""
        if len(free_vars) == 0 or free_vars[0] != "self":
            free_vars.insert(0, "self")
        return f"def {self._func_name}({', '.join(free_vars)}){maybe_return_annotation}:"

    def generate_output(self, output_args, repr_fn=repr):
        """The return statement."""
        return f"return {repr_fn(output_args)}"

    def process_inputs(self, *args):
        """The arguments the graph takes, from those the generated function takes."""
        return args

    def process_outputs(self, outputs):
        """What the generated function returns, from the graph's output."""
        return outputs

    def additional_globals(self):
        """(name, object) pairs the generated code needs beyond the graph's own."""
        return []

    def _gen_python_code(self, nodes, root_module, namespace, *, verbose=False):
        free_vars = []
        body = []
        globals_ = {}
        wrapped_fns = {}
        maybe_return_annotation = [""]

        def add_global(name_hint, obj):
            if _names.from_ember(obj):
                return _get_qualified_name(obj)
            global_name = namespace.create_name(name_hint, obj)
            if global_name in globals_:
                if globals_[global_name] is not obj:
                    raise AssertionError(f"Global name {global_name} already assigned to different object")
                return global_name
            globals_[global_name] = obj
            return global_name

        root = _names.root()
        for name, (_, obj) in {**_custom_builtins, "device": (None, _device())}.items():
            if obj is None:   # torch and ember both name the root: reserved, not tied to the object
                namespace._used_names.add(name)
                globals_[name] = root
                continue
            globals_[namespace.create_name(name, obj)] = obj

        def type_repr(o):
            if o == ():
                return "()"
            typename = _type_repr(o)
            origin_type = getattr(o, "__origin__", None)
            if origin_type:
                if isinstance(o, typing._GenericAlias):
                    origin_type = _origin_type_map.get(origin_type, origin_type)
                origin_typename = add_global(_type_repr(origin_type), origin_type)
                args = typing.get_args(o)
                if args:
                    return f"{origin_typename}[{','.join(type_repr(a) for a in args)}]"
                return origin_typename
            return add_global(typename, o)

        def _get_repr(arg):
            from .._tensor import Tensor
            if isinstance(arg, Node):
                return repr(arg)
            if isinstance(arg, tuple) and hasattr(arg, "_fields"):
                global_name = add_global(_get_qualified_name(type(arg)), type(arg))
                return f"{global_name}{repr(tuple(arg))}"
            if isinstance(arg, enum.Enum):
                cls = arg.__class__
                return f"{add_global(cls.__name__, cls)}.{arg.name}"
            if isinstance(arg, Tensor):
                from .._backend import namespace as prefix
                return f"{prefix()}.Tensor(size={list(arg.size())}, dtype={str(arg.dtype).split('.')[-1]})"
            if isinstance(arg, tuple):
                if len(arg) == 1:
                    return f"({_get_repr(arg[0])},)"
                return "(" + ", ".join(_get_repr(a) for a in arg) + ")"
            if isinstance(arg, list):
                return "[" + ", ".join(_get_repr(a) for a in arg) + "]"
            if isinstance(arg, slice):
                return f"slice({_get_repr(arg.start)}, {_get_repr(arg.stop)}, {_get_repr(arg.step)})"
            return repr(arg)

        def _format_args(args, kwargs):
            res = [_get_repr(a) for a in args]
            res.extend(f"{k} = {_get_repr(v)}" for k, v in kwargs.items())
            return ", ".join(res)

        # free each value after its last use, as torch's code does (`x = None`)
        node_to_last_use = {}
        user_to_last_uses = {}
        for node in reversed(nodes):
            for input_node in node._input_nodes:
                if input_node not in node_to_last_use:
                    node_to_last_use[input_node] = node
                    user_to_last_uses.setdefault(node, []).append(input_node)

        def delete_unused_values(user):
            if user.op == "placeholder":
                return
            if user.op == "output":
                body.append("\n")
                return
            to_delete = list(user_to_last_uses.get(user, []))
            if len(user.users) == 0:
                to_delete.append(user)
            if to_delete:
                body.append(f";  {' = '.join([repr(n) for n in to_delete] + ['None'])}\n")
            else:
                body.append("\n")

        def emit_node(node):
            annotation = "" if node.type is None else f" : {type_repr(node.type)}"
            if verbose:   # (print_readable: the dtype and shape ShapeProp & co noted, as `x: "f32[4, 4]"`)
                annotation = _meta_annotation(node) or annotation
            if node.op == "placeholder":
                default = "" if not node.args else f" = {_get_repr(node.args[0])}"
                free_vars.append(f"{node.target}{annotation}{default}")
                raw_name = node.target.replace("*", "")
                if raw_name != repr(node):
                    body.append(f"{repr(node)} = {raw_name}\n")
                return
            if node.op == "call_method":
                body.append(f"{repr(node)}{annotation} = {_format_target(_get_repr(node.args[0]), node.target)}"
                            f"({_format_args(node.args[1:], node.kwargs)})")
                return
            if node.op == "call_function":
                target = node.target
                if getattr(target, "__module__", "") == "_operator" and target.__name__ in magic_methods:
                    body.append(f"{repr(node)}{annotation} = "
                                f"{magic_methods[target.__name__].format(*(_get_repr(a) for a in node.args))}")
                    return
                if getattr(target, "__module__", "") == "_operator" and target.__name__ in inplace_methods:
                    body.append(f"{inplace_methods[target.__name__].format(*(_get_repr(a) for a in node.args))};  "
                                f"{repr(node)}{annotation} = {_get_repr(node.args[0])}")
                    return
                global_name = add_global(_get_qualified_name(target), target)
                if (global_name == "getattr" and isinstance(node.args, tuple) and isinstance(node.args[1], str)
                        and node.args[1].isidentifier() and len(node.args) == 2):
                    body.append(f"{repr(node)}{annotation} = {_format_target(_get_repr(node.args[0]), node.args[1])}")
                    return
                body.append(f"{repr(node)}{annotation} = {global_name}({_format_args(node.args, node.kwargs)})")
                if node.meta.get("is_wrapped", False):
                    wrapped_fns.setdefault(global_name)
                return
            if node.op == "call_module":
                body.append(f"{repr(node)}{annotation} = "
                            f"{_format_target(root_module, node.target)}({_format_args(node.args, node.kwargs)})")
                return
            if node.op == "get_attr":
                body.append(f"{repr(node)}{annotation} = {_format_target(root_module, node.target)}")
                return
            if node.op == "output":
                if node.type is not None:
                    maybe_return_annotation[0] = f" -> {type_repr(node.type)}"
                body.append(self.generate_output(node.args[0], repr_fn=_get_repr)
                            if "repr_fn" in inspect.signature(self.generate_output).parameters
                            else self.generate_output(node.args[0]))
                return
            raise NotImplementedError(f"node: {node.op} {node.target}")

        prev_summary = None
        for node in nodes:
            if verbose and node.op not in ("placeholder", "output"):
                summary = f"\n# {_summarize_stack_trace(node.stack_trace)}\n"
                if summary != prev_summary:
                    prev_summary = summary
                    body.append(summary)
            emit_node(node)
            delete_unused_values(node)

        if len(body) == 0:
            body.append("pass\n")
        if wrapped_fns:
            from ._symbolic_trace import wrap
            wrap_name = add_global("wrap", wrap)
            wrap_stmts = "\n".join(f'{wrap_name}("{name}")' for name in wrapped_fns)
        else:
            wrap_stmts = ""
        if self._body_transformer:
            body = self._body_transformer(body)
        for name, value in self.additional_globals():
            add_global(name, value)
        prologue = self.gen_fn_def(free_vars, maybe_return_annotation[0])
        code = "".join(body).lstrip("\n")
        code = "\n".join("    " + line for line in code.split("\n"))
        fn_code = f"\n{wrap_stmts}\n\n{prologue}\n{code}"
        return PythonCode(fn_code, globals_, _prologue_start=wrap_stmts.count("\n") + 4)


_DTYPE_ABBRS = {"uint8": "u8", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64", "float16": "f16",
                "float32": "f32", "float64": "f64", "complex32": "c32", "complex64": "c64", "complex128": "c128",
                "bool": "b8", "bfloat16": "bf16", "uint16": "u16", "uint32": "u32", "uint64": "u64"}


def _meta_annotation(node):
    from .._tensor import Tensor
    meta = node.meta.get("val", node.meta.get("tensor_meta", node.meta.get("example_value", None)))
    if not isinstance(meta, Tensor) and not (isinstance(meta, tuple) and hasattr(meta, "_fields")
                                             and "shape" in meta._fields and "dtype" in meta._fields):
        return None
    dtype = _DTYPE_ABBRS.get(str(meta.dtype).rpartition(".")[2], str(meta.dtype))
    return f': "{dtype}[{", ".join(str(d) for d in meta.shape)}]"'


def _summarize_stack_trace(stack_trace):
    """The innermost frame of a recorded stack trace, as print_readable shows it."""
    lines = (stack_trace or "").strip().split("\n")
    pattern = re.compile(r'^File "(.+)", line (\d+), in (.+)$')
    for idx in range(len(lines) - 2, -1, -1):
        m = pattern.match(lines[idx].strip())
        if m:
            return f"File: {m.group(1)}:{m.group(2)} in {m.group(3)}, code: {lines[idx + 1].strip()}"
    return "No stacktrace found for following nodes"


def _device():
    from .. import device
    return device


def _tabulate(rows, headers):
    """The table tabulate's default format prints (columns of text left-aligned, two spaces apart)."""
    cells = [[str(c).strip() for c in row] for row in rows]
    widths = [max([len(h) + 2] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip(),
             "  ".join("-" * w for w in widths).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


class Graph:
    """The nodes of a program, in order: placeholders (its inputs), calls, and an output."""

    def __init__(self, owning_module=None, tracer_cls=None, tracer_extras=None):
        self._root = Node(self, "", "root", "", (), {})
        self._used_names = {}
        self._insert = self._root.prepend
        self._len = 0
        self._graph_namespace = _Namespace()
        self._owning_module = owning_module
        self._tracer_cls = tracer_cls
        self._tracer_extras = tracer_extras
        self._codegen = CodeGen()
        self._co_fields = {}

    @property
    def owning_module(self):
        """The GraphModule this graph belongs to, if any."""
        return self._owning_module

    @owning_module.setter
    def owning_module(self, mod):
        self._owning_module = mod

    @property
    def nodes(self):
        """The nodes, in order; reversed() walks them back; mutating during iteration is safe."""
        return _node_list(self)

    def output_node(self):
        """The output node (the last one)."""
        output_node = next(iter(reversed(self.nodes)))
        if output_node.op != "output":
            raise AssertionError(f"Expected output node, got op={output_node.op}")
        return output_node

    def _position(self, node):
        for i, n in enumerate(self.nodes):
            if n is node:
                return i
        return -1

    def find_nodes(self, *, op, target=None, sort=True):
        """The nodes with this op (and target)."""
        return [n for n in self.nodes if n.op == op and (target is None or n.target == target)]

    def graph_copy(self, g, val_map, return_output_node=False):
        """Copy g's nodes into this graph (val_map: g's node -> this graph's); the value of g's output."""
        for node in g.nodes:
            if node in val_map:
                continue
            if node.op == "output":
                rv = map_arg(node.args[0], lambda n: val_map[n])
                return rv if not return_output_node else (rv, node)
            val_map[node] = self.node_copy(node, lambda n: val_map[n])
        return None

    def __deepcopy__(self, memo=None):
        memo = memo if memo else {}
        g = Graph(tracer_cls=self._tracer_cls)
        output_vals = g.graph_copy(self, val_map=memo, return_output_node=True)
        g._codegen = copy.deepcopy(self._codegen)
        if output_vals is not None:
            output_val, old_output_node = output_vals
            new_output_node = g.output(output_val, type_expr=getattr(old_output_node, "type", None))
            new_output_node.meta = copy.copy(old_output_node.meta)
        return g

    def create_node(self, op, target, args=None, kwargs=None, name=None, type_expr=None):
        """Create a Node and insert it at the current insert point."""
        if op not in _legal_ops and op != "root":
            raise AssertionError(f"op '{op}' is not in _legal_ops")
        if not args:
            args = ()
        elif not isinstance(args, tuple):
            raise AssertionError(f"args must be a tuple, got {type(args)}")
        if not kwargs:
            kwargs = immutable_dict()
        elif not isinstance(kwargs, dict):
            raise AssertionError(f"kwargs must be a dict, got {type(kwargs)}")
        candidate = name if name is not None else self._target_to_str(target)
        name = self._graph_namespace.create_name(candidate, None)
        n = Node(self, name, op, target, args, kwargs, type_expr)
        if self.owning_module is not None:
            for f in getattr(self.owning_module, "_create_node_hooks", None) or ():
                f(n)
        self._graph_namespace.associate_name_with_obj(name, n)
        self._insert(n)
        self._len += 1
        return n

    def process_inputs(self, *args):
        """The codegen's process_inputs."""
        return self._codegen.process_inputs(*args)

    def process_outputs(self, out):
        """The codegen's process_outputs."""
        return self._codegen.process_outputs(out)

    def erase_node(self, to_erase):
        """Remove a node that has no users."""
        if len(to_erase.users) > 0:
            raise RuntimeError(f"Tried to erase Node {to_erase} but it still had {len(to_erase.users)} "
                               f"users in the graph: {to_erase.users}!")
        if to_erase.graph is not self:
            raise RuntimeError(f"Attempting to remove {to_erase} from wrong graph!")
        if to_erase._erased:
            warnings.warn(f"erase_node({to_erase}) on an already erased node")
            return
        if self.owning_module is not None:
            for f in getattr(self.owning_module, "_erase_node_hooks", None) or ():
                f(to_erase)
        # (the node keeps its neighbours: an iterator standing on it still finds the next one)
        p, n = to_erase._prev, to_erase._next
        p._next, n._prev = n, p
        to_erase._erased = True
        self._len -= 1
        to_erase._update_args_kwargs(map_arg(to_erase._args, lambda n: None),
                                     map_arg(to_erase._kwargs, lambda n: None))

    def inserting_before(self, n=None):
        """Insert new nodes before n (the start of the graph for None); a context manager restores."""
        if n is None:
            return self.inserting_after(self._root)
        if n.graph is not self:
            raise AssertionError("Node to insert before is not in graph.")
        return _InsertPoint(self, n.prepend)

    def inserting_after(self, n=None):
        """Insert new nodes after n (the end of the graph for None); a context manager restores."""
        if n is None:
            return self.inserting_before(self._root)
        if n.graph is not self:
            raise AssertionError("Node to insert after is not in graph.")
        return _InsertPoint(self, n.append)

    def placeholder(self, name, type_expr=None, default_value=inspect.Signature.empty):
        """An input of the program."""
        args = () if default_value is inspect.Signature.empty else (default_value,)
        return self.create_node("placeholder", name, args=args, type_expr=type_expr)

    def get_attr(self, qualified_name, type_expr=None):
        """Fetch an attribute (parameter, buffer, submodule) of the module hierarchy."""
        mod = self.owning_module
        if mod is not None and not _attr_reference_exists(mod, qualified_name):
            warnings.warn("Attempted to insert a get_attr Node with no underlying reference in the owning "
                          "GraphModule! Call GraphModule.add_submodule to add the necessary submodule, "
                          "GraphModule.add_parameter to add the necessary Parameter, or "
                          "nn.Module.register_buffer to add the necessary buffer", stacklevel=2)
        return self.create_node("get_attr", qualified_name, type_expr=type_expr)

    def call_module(self, module_name, args=None, kwargs=None, type_expr=None):
        """Call a submodule's forward (args exclude self)."""
        if self.owning_module is not None and self.owning_module.get_submodule(module_name) is None:
            warnings.warn("Attempted to insert a call_module Node with no underlying reference in the owning "
                          "GraphModule! Call GraphModule.add_submodule to add the necessary submodule")
        return self.create_node("call_module", module_name, args, kwargs, type_expr=type_expr)

    def call_method(self, method_name, args=None, kwargs=None, type_expr=None):
        """Call a method of args[0]."""
        return self.create_node("call_method", method_name, args, kwargs, type_expr=type_expr)

    def call_function(self, the_function, args=None, kwargs=None, type_expr=None, name=None):
        """Call a free function."""
        return self.create_node("call_function", the_function, args, kwargs, name=name, type_expr=type_expr)

    def node_copy(self, node, arg_transform=lambda x: x):
        """Copy node (of another graph) into this one, its Node arguments mapped by arg_transform."""
        args = map_arg(node.args, arg_transform)
        kwargs = map_arg(node.kwargs, arg_transform)
        result_node = self.create_node(node.op, node.target, args, kwargs, node.name, node.type)
        result_node.meta = copy.copy(node.meta)
        return result_node

    def output(self, result, type_expr=None):
        """The return value of the program."""
        return self.create_node(op="output", target="output", args=(result,), type_expr=type_expr)

    def _target_to_str(self, target):
        if callable(target):
            op = target.__name__
        else:
            op = target
            if _is_magic(op):
                op = op[2:-2]
        return _snake_case(op)

    def python_code(self, root_module, *, verbose=False, **_ignored):
        """The source of this graph as a forward() method, and the globals it runs with."""
        namespace = _Namespace()

        def node_repr(n):
            return namespace.create_name(n.name, n)

        saved = {}
        for node in self.nodes:
            saved[node] = node._repr_fn
            node._repr_fn = node_repr
        try:
            return self._codegen._gen_python_code(self.nodes, root_module, namespace, verbose=verbose)
        finally:
            for node, fn in saved.items():
                node._repr_fn = fn

    def __str__(self):
        placeholder_names = []
        maybe_return_typename = [""]
        node_strs = [node.format_node(placeholder_names) for node in self.nodes]
        s = f"graph({', '.join(placeholder_names)}){maybe_return_typename[0]}:"
        for node_str in node_strs:
            if node_str:
                s += "\n    " + node_str
        return s

    def print_tabular(self):
        """Print the nodes as a table: opcode, name, target, args, kwargs."""
        rows = [[n.op, n.name, _names.torch_repr(n.target) if callable(n.target) else n.target, n.args, n.kwargs]
                for n in self.nodes]
        print(_tabulate(rows, ["opcode", "name", "target", "args", "kwargs"]))

    def lint(self):
        """Check the graph is well formed: nodes owned by it, in topological order, targets that exist."""
        seen_names = set()
        seen_values = set()
        for node in self.nodes:
            if node.op not in _legal_ops:
                raise RuntimeError(f"Node {node} had unknown opcode {node.op}!")
            if node.graph is not self:
                raise RuntimeError(f"Node '{node}' does not belong to this Graph!")
            for arg in node._input_nodes:
                if arg.graph is not self:
                    raise RuntimeError(
                        f"Argument '{arg}' of Node '{node}' does not belong to this Graph, but was used as an "
                        f"argument! If you are copying nodes from another graph, make sure to use "
                        f"``arg_transform`` on node_copy() to remap values\n{self}")
                if arg not in seen_values:
                    raise RuntimeError(
                        f"Argument '{arg}' of Node '{node}' was used before it has been defined! Please check "
                        f"that Nodes in the graph are topologically ordered\n{self}")
            seen_values.add(node)
            if node.name in seen_names:
                raise RuntimeError(f"Node redefined name {node.name}!")
            seen_names.add(node.name)
        if self.owning_module:
            from ..nn import Module
            for node in self.nodes:
                if node.op == "call_function":
                    if not callable(node.target):
                        raise ValueError(f"Node {node} target {node.target} has type {type(node.target).__name__} "
                                         "but a Callable is expected")
                elif not isinstance(node.target, str):
                    raise ValueError(f"Node {node} target {node.target} has type {type(node.target).__name__} "
                                     "but a str is expected")
                if node.op in ("get_attr", "call_module"):
                    atoms = node.target.split(".")
                    m_itr = self.owning_module
                    for i, atom in enumerate(atoms):
                        new_m_itr = getattr(m_itr, atom, None)
                        seen_qualname = ".".join(atoms[:i])
                        if new_m_itr is None:
                            raise RuntimeError(f"Node {node} target {node.target} references nonexistent attribute "
                                               f"{atom} of {seen_qualname}")
                        if node.op == "call_module" and not isinstance(new_m_itr, Module):
                            raise RuntimeError(f"Node {node} target {node.target} {atom} of {seen_qualname} does "
                                               "not reference an nn.Module")
                        m_itr = new_m_itr

    def eliminate_dead_code(self, is_impure_node=None):
        """Remove nodes without users or side effects; whether anything was removed."""
        self.lint()
        changed = False
        for node in reversed(self.nodes):
            impure = is_impure_node(node) if is_impure_node is not None else node.is_impure()
            if not impure and len(node.users) == 0:
                self.erase_node(node)
                changed = True
        if self.owning_module is not None:
            from .graph_module import GraphModule
            names = {n.target for n in self.nodes if n.op == "get_attr"}
            for child_name, child in self.owning_module.named_children():
                if child_name in names and isinstance(child, GraphModule):
                    changed |= child.graph.eliminate_dead_code()
                    child.recompile()
        return changed

    def set_codegen(self, codegen):
        """Generate code with codegen."""
        self._codegen = codegen

    def on_generate_code(self, make_transformer):
        """Register a transformer of the generated body lines (a context manager restores the previous)."""
        old = self._codegen._body_transformer
        self._codegen._body_transformer = make_transformer(old)

        @contextlib.contextmanager
        def restore():
            try:
                yield
            finally:
                self._codegen._body_transformer = old
        return restore()


def _attr_reference_exists(mod, qualified_name):
    from ..nn import Module, Parameter
    module_path, _, name = qualified_name.rpartition(".")
    try:
        submod = mod.get_submodule(module_path)
    except AttributeError:
        warnings.warn(f"Failed to fetch module {module_path}!")
        return False
    if not hasattr(submod, name):
        return False
    res = getattr(submod, name)
    return isinstance(res, (Module, Parameter)) or name in submod._buffers

