"""torch.fx.node: Node, one operation of a Graph, and map_arg / map_aggregate over its arguments."""
import types
import typing

from . import _names
from .immutable_collections import immutable_dict, immutable_list

__all__ = ["Node", "map_arg", "map_aggregate", "has_side_effect"]

# (the types torch.fx.node names in annotations: Target, Argument, and what an argument may be)
Target = typing.Union[typing.Callable[..., typing.Any], str]
Argument = typing.Optional[typing.Any]
base_types = (str, int, float, bool, complex)

_legal_ops = dict.fromkeys(["placeholder", "call_method", "call_module", "call_function", "get_attr", "output",
                            "root"])

_side_effectful_functions = set()


def has_side_effect(fn):
    """Register fn as a function that eliminate_dead_code must keep."""
    _side_effectful_functions.add(fn)
    return fn


def _side_effectful():
    import operator
    from .. import _assert
    from ..ops import profiler
    from ._symbolic_trace import _assert_is_none
    return _side_effectful_functions | {operator.setitem, _assert, _assert_is_none, profiler._record_function_enter,
                                        profiler._record_function_exit}


def _type_repr(obj):
    """repr() of obj, types shortened to module.qualname (builtins bare)."""
    if isinstance(obj, type) and not isinstance(obj, types.GenericAlias):
        if obj.__module__ == "builtins":
            return obj.__qualname__
        return f"{_names.class_module(obj)}.{obj.__qualname__}"
    if obj is ...:
        return "..."
    if isinstance(obj, types.FunctionType):
        return obj.__name__
    return repr(obj)


def _get_qualified_name(func):
    """The dotted name torch prints for a function (torch.relu, operator.add, __main__.f)."""
    return _names.qualified_name(func)


def _format_arg(arg, max_list_len=float("inf")):
    if hasattr(arg, "_custom_fx_repr_fn"):
        return arg._custom_fx_repr_fn()
    if isinstance(arg, list):
        items = ", ".join(_format_arg(a) for i, a in enumerate(arg) if i < max_list_len)
        more = "" if len(arg) < max_list_len + 1 else f", ...[total_len={len(arg)}]"
        return f"[{items}{more}]"
    if isinstance(arg, tuple):
        items = ", ".join(_format_arg(a) for i, a in enumerate(arg) if i < max_list_len)
        more = "" if len(arg) < max_list_len + 1 else f", ...[total_len={len(arg)}]"
        comma = "," if len(arg) == 1 else ""
        return f"({items}{comma}{more})"
    if isinstance(arg, dict):
        items = ", ".join(f"{k}: {_format_arg(v)}" for k, v in arg.items())
        return f"{{{items}}}"
    if isinstance(arg, Node):
        return "%" + str(arg)
    return str(arg)


def _map_aggregate(a, fn):
    t = type(a)
    if t is tuple or (isinstance(a, tuple) and not hasattr(a, "_fields")):
        return tuple(_map_aggregate(x, fn) for x in a)
    if isinstance(a, tuple):   # a namedtuple keeps its type
        return t(*(_map_aggregate(x, fn) for x in a))
    if isinstance(a, list):
        return immutable_list(_map_aggregate(x, fn) for x in a)
    if isinstance(a, dict):
        return immutable_dict((k, _map_aggregate(v, fn)) for k, v in a.items())
    if isinstance(a, slice):
        return slice(_map_aggregate(a.start, fn), _map_aggregate(a.stop, fn), _map_aggregate(a.step, fn))
    return fn(a)


def map_aggregate(a, fn):
    """Apply fn to each object in a (looking into lists, tuples, dicts and slices); same structure back."""
    return _map_aggregate(a, fn)


def map_arg(a, fn):
    """Apply fn to each Node in a (looking into lists, tuples, dicts and slices); same structure back."""
    if not callable(fn):
        raise AssertionError("torch.fx.map_arg(a, fn): fn must be a callable")
    return _map_aggregate(a, lambda x: fn(x) if isinstance(x, Node) else x)


class Node:
    """One operation of a Graph: op (placeholder, get_attr, call_function, call_method, call_module, output),
    target, args and kwargs, its users, and a name unique in the graph."""

    def __init__(self, graph, name, op, target, args, kwargs, return_type=None):
        if op == "call_function":
            if not callable(target):
                raise ValueError(f"Node [graph = {graph}, name = '{name}'] target {target} has type "
                                 f"{_typename(target)} but a Callable is expected")
        else:
            if op not in _legal_ops:
                raise AssertionError(f"op '{op}' is not in _legal_ops")
            if not isinstance(target, str):
                raise ValueError(f"Node [graph = {graph}, name = '{name}'] target {target} has type "
                                 f"{_typename(target)} but a str is expected")
        self.graph = graph
        self.name = name
        self.op = op
        self.target = target
        self._input_nodes = {}
        self.users = {}
        self.type = return_type
        self._prev = self
        self._next = self
        self._erased = False
        self._repr_fn = None
        self.meta = {}
        self._args = ()
        self._kwargs = immutable_dict()
        self._update_args_kwargs(args, kwargs)

    # ---- the linked list --------------------------------------------------
    @property
    def next(self):
        """The next Node in the graph's list."""
        return self._next

    @property
    def prev(self):
        """The previous Node in the graph's list."""
        return self._prev

    def prepend(self, x):
        """Move x just before this node (x must belong to the same graph)."""
        if self.graph is not x.graph:
            raise AssertionError("Attempting to move a Node into a different Graph")
        if self is x:
            return
        x._remove_from_list()
        p = self._prev
        p._next, x._prev = x, p
        x._next, self._prev = self, x

    def append(self, x):
        """Move x just after this node."""
        self._next.prepend(x)

    def _remove_from_list(self):
        p, n = self._prev, self._next
        p._next, n._prev = n, p
        self._prev = self._next = self

    # ---- arguments ----------------------------------------------------------
    @property
    def args(self):
        """The positional arguments; assigning them updates the users of the nodes involved."""
        return self._args

    @args.setter
    def args(self, a):
        self._update_args_kwargs(a, self._kwargs)

    @property
    def kwargs(self):
        """The keyword arguments; assigning them updates the users of the nodes involved."""
        return self._kwargs

    @kwargs.setter
    def kwargs(self, k):
        self._update_args_kwargs(self._args, k)

    @property
    def all_input_nodes(self):
        """The Nodes among args and kwargs, in order, each once."""
        return list(self._input_nodes)

    def _update_args_kwargs(self, new_args, new_kwargs):
        for old in self._input_nodes:
            old.users.pop(self, None)
        inputs = {}

        def collect(x):
            if isinstance(x, Node):
                inputs.setdefault(x)
            return x
        self._args = _map_aggregate(new_args, collect)
        self._kwargs = _map_aggregate(new_kwargs, collect)
        self._input_nodes = inputs
        for new in inputs:
            new.users.setdefault(self)

    def update_arg(self, idx, arg):
        """Set args[idx] to arg."""
        args = list(self.args)
        args[idx] = arg
        self.args = tuple(args)

    def insert_arg(self, idx, arg):
        """Insert arg into args before index idx."""
        if not 0 <= idx <= len(self.args):
            raise AssertionError(f"insert_args index must be between 0 and len(self.args), got {idx}")
        self.args = self.args[:idx] + (arg,) + self.args[idx:]

    def update_kwarg(self, key, arg):
        """Set kwargs[key] to arg."""
        self.kwargs = {**self.kwargs, key: arg}

    @property
    def stack_trace(self):
        """The stack trace recorded when the node was traced, if any."""
        return self.meta.get("stack_trace", None)

    @stack_trace.setter
    def stack_trace(self, trace):
        self.meta["stack_trace"] = trace

    def __repr__(self):
        if self._repr_fn:
            return self._repr_fn(self)
        return self.name

    @staticmethod
    def _pretty_print_target(target):
        if isinstance(target, str):
            return target
        if hasattr(target, "__module__"):
            name = getattr(target, "__name__", None)
            if name is None:
                return _get_qualified_name(target)
            if target.__module__ == "builtins":
                return f"builtins.{name}"
            if target.__module__ == "_operator":
                return f"operator.{name}"
        return _get_qualified_name(target)

    def format_node(self, placeholder_names=None, maybe_return_typename=None, *, include_tensor_metadata=False):
        """A one-line description of this node, as Graph.__str__ prints it."""
        if self.op == "placeholder":
            arg_str = self.target
            arg_str += arg_str + f": {_type_repr(self.type)}" if self.type else ""
            if placeholder_names:
                placeholder_names.append(arg_str)
                return None
            typename = f"{_type_repr(self.type)} " if self.type else ""
            default = "(default=" + str(self.args[0]) + ")" if self.args else ""
            return (f"%{self.name} : {typename}[num_users={len(self.users)}] = "
                    f"{self.op}[target={self.target}]{default}")
        if self.op == "get_attr":
            typename = f"{_type_repr(self.type)} " if self.type is not None else ""
            return (f"%{self.name} : {typename}[num_users={len(self.users)}] = "
                    f"{self.op}[target={self._pretty_print_target(self.target)}]")
        if self.op == "output":
            if self.type and maybe_return_typename:
                maybe_return_typename[0] = f" -> {_type_repr(self.type)}"
            return f"return {self.args[0]}"
        typename = f"{_type_repr(self.type)} " if self.type is not None else ""
        return (f"%{self.name} : {typename}[num_users={len(self.users)}] = "
                f"{self.op}[target={self._pretty_print_target(self.target)}]("
                f"args = {_format_arg(self.args)}, kwargs = {_format_arg(self.kwargs)})")

    # ---- rewiring ---------------------------------------------------------------
    def replace_all_uses_with(self, replace_with, delete_user_cb=None, *, propagate_meta=False):
        """Make every user of this node use replace_with instead; the users changed."""
        if propagate_meta:
            if len(replace_with.meta) != 0:
                raise AssertionError("Called node.replace_all_uses_with(replace_with, propagate_meta=True), "
                                     "but replace_with already has .meta keys")
            replace_with.meta.update(self.meta)
        hooks = getattr(self.graph.owning_module, "_replace_hooks", None)
        result = []
        for user in list(self.users):
            if delete_user_cb is not None and not delete_user_cb(user):
                continue
            result.append(user)
            for hook in hooks or ():
                hook(old=self, new=replace_with.name, user=user)
            user._replace_input_with(self, replace_with)
        return result

    def replace_input_with(self, old_input, new_input):
        """Use new_input wherever this node's arguments use old_input."""
        for hook in getattr(self.graph.owning_module, "_replace_hooks", None) or ():
            hook(old=old_input, new=new_input.name, user=self)
        self._replace_input_with(old_input, new_input)

    def _replace_input_with(self, old_input, new_input):
        def swap(n):
            return new_input if n is old_input else n
        self._update_args_kwargs(map_arg(self._args, swap), map_arg(self._kwargs, swap))

    def is_impure(self, impure_random=True):
        """Whether dead-code elimination must keep this node (inputs, outputs, side effects)."""
        if self.op in ("placeholder", "output"):
            return True
        if self.op == "call_module":
            if self.graph.owning_module is None:
                raise AssertionError("self.graph.owning_module not set for purity check")
            return getattr(self.graph.owning_module.get_submodule(self.target), "_is_impure", False)
        if self.op == "call_function":
            # (as torch's: in-place calls and methods are not told apart; a custom is_impure_node can)
            return self.target in _side_effectful()
        return False

    def _rename(self, candidate):
        if candidate == self.name:
            return
        name = self.graph._graph_namespace.create_name(candidate, None)
        self.name = name
        self.graph._graph_namespace._rename_object(self, name)

    # (sorted() of nodes is their order in the graph)
    def __lt__(self, other):
        return self.graph._position(self) < self.graph._position(other)

    def __gt__(self, other):
        return self.graph._position(self) > self.graph._position(other)


def _typename(obj):
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"

