"""add_graph's tracer and GraphDef encoder (torch.utils.tensorboard._pytorch_graph and _proto_graph).

torch traces the model with torch.jit and turns the TorchScript graph into a GraphDef: one NodeDef per value,
named by the module scope it was made in ("Net/Conv2d[conv1]/input.1"), with its op ("aten::_convolution"),
its inputs, an "attr" string and its shape (attr "_output_shapes"); the graph's inputs and outputs are
"IO Node"s under input/ and output/, parameters "prim::GetAttr" nodes, scalar arguments "prim::Constant"
and list arguments "prim::ListConstruct" nodes.

ember has no TorchScript, so it traces as jit.trace does: by running the model once and recording the ops
that run. Why not ember.fx or the autograd graph:
* fx traces symbolically: it fails on data-dependent control flow (`if x.sum() > 0`), which jit.trace and
  this recorder follow down the branch taken, and it keeps leaf modules (Conv2d) as one call_module node,
  without the op inside or any shape;
* the autograd graph misses every op whose inputs need no grad (what the model does to its input before
  the first parameter, integer ops, anything under no_grad), has no shapes, and names backward nodes.
The recorder is the profiler's: while the model runs (once, in eval mode, under no_grad) a `sys.setprofile`
callback looks each called code object up in `ember.autograd.profiler._op_table` (ember's public
functions and Tensor methods -> torch's aten names). An op called from inside another op is that op's
business and is not recorded; the arguments of an outermost op are read from its frame when it is called
and its result when it returns, so inputs are wired by tensor identity. `Module.__call__` frames give the
scopes, named from the module call stack as jit's are. Nothing is installed outside add_graph, so
training pays nothing for it.
"""
import inspect
import sys

from ..._backend import dtype as _dtype
from ..._userwarn import warn
from ._proto import f_bytes, f_message, f_varint
from .summary import _shape

# F.conv*d run aten::_convolution in torch's traces (the aten op that carries the weights)
_JIT_NAMES = {"aten::" + n: "aten::_convolution" for n in
              ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")}
_DICT_OUTPUT = ("Encountering a dict at the output of the tracer might cause the trace to be incorrect, this is "
                "only valid if the container structure does not change based on the module's inputs. Consider "
                "using a constant container instead (e.g. for `list`, use a `tuple` instead. for `dict`, use a "
                "`NamedTuple` instead). If you absolutely need this and know the side effects, pass strict=False "
                "to trace() to allow this behavior.")


def _private_kernels():
    """code object -> aten name (or callable(frame) -> name) of the kernels that are ops without being public
    functions: the RNN family runs its recurrence on raw arrays in private functions of rnn.py, called with
    the module (its parameters become the op's list input, as aten::lstm's params) or the weights."""
    from ...nn.modules import rnn
    return {rnn.RNNBase._layers.__code__: lambda frame: "aten::" + frame.f_locals["self"].mode.lower(),
            rnn._lstm_step.__code__: "aten::lstm_cell", rnn._gru_step.__code__: "aten::gru_cell",
            rnn._rnn_step.__code__: lambda frame: "aten::rnn_%s_cell" % getattr(frame.f_locals.get("act"),
                                                                                  "__name__", "tanh")}


class _Op:
    """One recorded op: its aten name, module scope, arguments, result and "attr" string."""
    __slots__ = ("name", "scope", "args", "result", "attr")

    def __init__(self, name, scope, args, attr="{}"):
        self.name, self.scope, self.args, self.attr = name, scope, args, attr
        self.result = None


def _frame_args(frame):
    """The arguments a frame was called with, in order (*args and **kwargs values flattened one level
    into a tuple and a list); private parameters (_stacklevel) are left out."""
    code = frame.f_code
    loc = frame.f_locals
    n = code.co_argcount + code.co_kwonlyargcount
    names = code.co_varnames
    out = [loc.get(v) for v in names[:n] if not v.startswith("_")]
    if code.co_flags & 0x04:   # *args: one list argument, as aten's int[] size of view(-1, 400)
        var = loc.get(names[n], ())
        out += list(var) if len(var) == 1 or any(hasattr(v, "_data") for v in var) else [var]
        n += 1
    if code.co_flags & 0x08:   # **kwargs
        out += list(loc.get(names[n], {}).values())
    return out


class _Recorder:
    """Records the outermost ops a model runs, with their module scope, arguments and results."""

    def __init__(self, root):
        from ...autograd.function import Function
        from ...autograd.profiler import _op_table
        from ...nn.modules.module import Module
        self.table = _op_table()
        self.table.update(_private_kernels())
        self.call_code = Module._call_impl.__code__
        self.apply_code = Function.apply.__func__.__code__
        self.names = {}   # id(module) -> its name in its parent, the last part of its qualified name
        if isinstance(root, Module):
            for qual, mod in root.named_modules():
                self.names.setdefault(id(mod), qual.rsplit(".", 1)[-1])
        self.root = root
        self.ops = []
        self.scopes = []    # (frame, scope) of the modules being called
        self.open = None    # (frame, _Op) of the outermost op running

    def scope(self):
        """The scope ops are made in now: the module call stack, as jit names it."""
        if self.scopes:
            return self.scopes[-1][1]
        return getattr(self.root, "__name__", type(self.root).__name__)

    def callback(self, chained):
        table, call_code, apply_code = self.table, self.call_code, self.apply_code

        def on_event(frame, event, arg):
            if chained is not None:
                chained(frame, event, arg)
            if event == "call":
                if self.open is not None:
                    return   # inside an op: its own calls are no nodes
                code = frame.f_code
                if code is call_code:
                    mod = frame.f_locals.get("self")
                    kind = type(mod).__name__
                    if not self.scopes:
                        scope = kind
                    else:
                        attr = self.names.get(id(mod))
                        scope = self.scopes[-1][1] + "/" + (f"{kind}[{attr}]" if attr else kind)
                    self.scopes.append((frame, scope))
                    return
                if code is apply_code:   # a custom autograd Function: jit's prim::PythonOp
                    cls = frame.f_locals.get("cls")
                    op = _Op("prim::PythonOp", self.scope(), list(frame.f_locals.get("args", ())),
                             str({"name": getattr(cls, "__name__", "")}).replace("'", " "))
                    self.open = (frame, op)
                    return
                name = table.get(code)
                if name is None:
                    return
                if name.__class__ is not str:
                    name = name(frame)
                if name is None or not name.startswith("aten::"):
                    return
                self.open = (frame, _Op(_JIT_NAMES.get(name, name), self.scope(), _frame_args(frame)))
            elif event == "return":
                if self.open is not None:
                    if self.open[0] is frame:
                        op = self.open[1]
                        op.result = arg
                        self.ops.append(op)
                        self.open = None
                elif self.scopes and self.scopes[-1][0] is frame:
                    self.scopes.pop()
        return on_event

    def run(self, args, kwargs):
        """Runs root(*args, **kwargs) once with the recorder installed; returns its output."""
        from ...autograd.grad_mode import no_grad
        chained = sys.getprofile()
        sys.setprofile(self.callback(chained))
        try:
            with no_grad():
                return self.root(*args, **kwargs)
        finally:
            sys.setprofile(chained)
            self.open = None
            self.scopes = []


def _constant_repr(v):
    """The "attr" string of a prim::Constant node, as torch writes it (str of the dict, quotes blanked)."""
    return str({"value": v}).replace("'", " ")


def _is_constant(v):
    return isinstance(v, (bool, int, float, complex, str, _dtype))


class _Builder:
    """The NodeDefs (as tuples) of a recorded run: name, op, inputs, shapes (None: no _output_shapes), attr."""

    def __init__(self, root):
        from ..._tensor import Tensor
        from ...nn.modules.module import Module
        self.Tensor, self.Module = Tensor, Module
        self.nodes = []
        self.taken = set()
        self.values = {}      # id(tensor) -> the name of the node that made it
        self.inputs = {}      # id(tensor) -> the name of its IO node, made at first use (unused inputs have none)
        self.params = {}      # id(tensor) -> (owner scope, attribute name)
        self.keep = []        # tensors whose ids are keys above: kept alive so no id is reused
        self.counter = 0
        self.unknown = set()  # constant nodes made for tensors of unknown origin
        if isinstance(root, Module):
            scopes = {id(root): type(root).__name__}
            for qual, mod in root.named_modules():
                if id(mod) not in scopes:
                    parent = qual.rsplit(".", 1)[0] if "." in qual else ""
                    pscope = scopes[id(root.get_submodule(parent))] if parent else scopes[id(root)]
                    scopes[id(mod)] = f"{pscope}/{type(mod).__name__}[{qual.rsplit('.', 1)[-1]}]"
                for tensors in (mod._parameters, mod._buffers):
                    for attr, t in tensors.items():
                        if t is not None and id(t) not in self.params:
                            self.params[id(t)] = (scopes[id(mod)], attr)
                            self.keep.append(t)

    def unique(self, name):
        """name, or name.1, name.2 ... when taken (as jit uniquifies its value names)."""
        base, k = name, 0
        while name in self.taken:
            k += 1
            name = f"{base}.{k}"
        self.taken.add(name)
        return name

    def add(self, name, op, inputs=(), shape=None, attr="{}"):
        """Appends a node; returns its (unique) name."""
        name = self.unique(name)
        self.nodes.append((name, op, list(inputs), shape, attr))
        return name

    def number(self, scope):
        """A fresh numbered value name in scope, as jit's unnamed values ("Net/Conv2d[conv1]/146")."""
        self.counter += 1
        return f"{scope}/{self.counter}"

    def ref(self, v, scope):
        """The node name feeding value v to an op in scope (making GetAttr, input, constant and list nodes
        as needed), or None for what becomes no node (None, slices, functions, generators...)."""
        if isinstance(v, self.Tensor):
            key = id(v)
            name = self.values.get(key)
            if name is not None:
                return name
            shape = [list(v.shape)]
            if key in self.inputs:
                name = self.add(self.inputs[key], "IO Node", shape=shape, attr="")
            elif key in self.params:
                owner, attr = self.params[key]
                name = self.add(f"{owner}/{attr}", "prim::GetAttr", shape=shape,
                                attr=str({"name": attr}).replace("'", " "))
            else:   # a tensor made outside the recorded ops (a plain attribute, a global): jit's constant
                name = self.add(self.number(scope), "prim::Constant", shape=shape, attr="{ value : <Tensor>}")
                self.unknown.add(name)
            self.values[key] = name
            self.keep.append(v)
            return name
        if isinstance(v, self.Module):   # the module an RNN kernel is called with: its parameters, as a list
            v = list(v.parameters())
        if isinstance(v, (list, tuple)):
            refs = [self.ref(x, scope) for x in v]
            if any(r is None for r in refs):
                return None
            return self.add(self.number(scope), "prim::ListConstruct", refs)
        if _is_constant(v):
            return self.add(self.number(scope), "prim::Constant", attr=_constant_repr(v))
        return None

    def op(self, op):
        """The node(s) of one recorded op: one per tensor it returned, as jit's one value per output."""
        inputs = [r for r in (self.ref(a, op.scope) for a in op.args) if r is not None]
        result = op.result
        if result is None and op.args and isinstance(op.args[0], self.Tensor):
            result = op.args[0]   # in place, returning nothing (x[i] = v is aten::copy_ on x)
        outs = list(_tensors(result, self.Tensor))
        short = op.name.split("::", 1)[1]
        if not outs:
            self.add(f"{op.scope}/{short}", op.name, inputs, attr=op.attr)
        for t in outs:
            self.values[id(t)] = self.add(f"{op.scope}/{short}", op.name, inputs, [list(t.shape)], op.attr)
            self.keep.append(t)

    def output(self, out, scope, strict):
        """The node name the graph's output comes from (tuples, lists and dicts built as jit builds them)."""
        if isinstance(out, self.Tensor):
            return self.ref(out, scope)
        if isinstance(out, (list, tuple)):
            op = "prim::ListConstruct" if isinstance(out, list) else "prim::TupleConstruct"
            return self.add(self.number(scope), op, [self.output(o, scope, strict) for o in out])
        if isinstance(out, dict):
            if strict:
                raise RuntimeError(_DICT_OUTPUT)
            inputs = []
            for k, o in out.items():
                inputs += [self.ref(k, scope), self.output(o, scope, strict)]
            return self.add(self.number(scope), "prim::DictConstruct", [i for i in inputs if i is not None])
        raise RuntimeError(f"Only tensors, lists, tuples of tensors, or dictionary of tensors can be output from "
                           f"traced functions (add_graph: the model returned a {type(out).__name__} among its "
                           f"outputs); return only tensors from forward to draw its graph")


def _tensors(value, Tensor):
    """The tensors in an op's result: itself, or those in its (nested) tuples and lists."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _tensors(v, Tensor)


def _as_args(input_to_model):
    """(args, kwargs) from add_graph's input_to_model: a tensor, a tuple or list of inputs, or a dict of
    keyword inputs (jit.trace's example_inputs / example_kwarg_inputs)."""
    from ..._tensor import Tensor
    if input_to_model is None:
        raise RuntimeError("add_graph: input_to_model is None; pass the example input(s) the model is run on to "
                           "trace it, e.g. writer.add_graph(net, images)")
    if isinstance(input_to_model, Tensor):
        return (input_to_model,), {}
    if isinstance(input_to_model, dict):
        return (), dict(input_to_model)
    return tuple(input_to_model), {}


def _input_names(model, args, kwargs):
    """IO node names of the model's input tensors, "input/<forward's parameter name>"."""
    from ..._tensor import Tensor
    try:
        params = [p.name for p in inspect.signature(getattr(model, "forward", model)).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    named = [(params[i] if i < len(params) else f"input.{i + 1}", a) for i, a in enumerate(args)]
    named += list(kwargs.items())
    out = []

    def walk(name, v):
        if isinstance(v, Tensor):
            out.append((v, "input/" + name))
        elif isinstance(v, (list, tuple)):
            for j, x in enumerate(v):
                walk(f"{name}.{j}", x)
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(f"{name}.{k}", x)
    for name, v in named:
        walk(name, v)
    return out


def trace(model, input_to_model, use_strict_trace=True):
    """[(name, op, inputs, shapes, attr)]: the nodes of model's graph, run once on input_to_model."""
    args, kwargs = _as_args(input_to_model)
    training = getattr(model, "training", None)
    if training is not None:
        model.train(False)   # traced in eval mode, as torch's _set_model_to_eval
    try:
        recorder = _Recorder(model)
        out = recorder.run(args, kwargs)
    finally:
        if training is not None:
            model.train(training)
    b = _Builder(model)
    names = _input_names(model, args, kwargs)
    for t, name in names:
        b.inputs.setdefault(id(t), name)
        b.keep.append(t)
    for op in recorder.ops:
        b.op(op)
    src = b.output(out, recorder.scope(), use_strict_trace)
    if src in b.unknown:
        warn(f"SummaryWriter.add_graph: ember could not trace {type(model).__name__}: no op it recorded made the "
             f"output, which is drawn as a constant (ops run on another thread, or by code outside ember's "
             f"functions and Tensor methods, are not seen)")
    b.add("output/output.1", "IO Node", [src], [list(out.shape)] if isinstance(out, b.Tensor) else None, attr="")
    # the IO nodes first, inputs in the model's argument order, as torch lists them
    order = {name: i for i, (_, name) in enumerate(names)}
    io = sorted((n for n in b.nodes if n[1] == "IO Node"), key=lambda n: order.get(n[0], len(order)))
    return io + [n for n in b.nodes if n[1] != "IO Node"]


# --- encoding -------------------------------------------------------------------------------------


def _attr_entry(key, value):
    return f_message(5, f_bytes(1, key) + f_message(2, value))


def node_def(name, op, inputs, shapes, attr):
    """NodeDef bytes: name 1, op 2, input 3, attr 5 (map: "attr" as AttrValue.s, "_output_shapes" as
    AttrValue.list.shape)."""
    body = f_bytes(1, name) + f_bytes(2, op) + b"".join(f_bytes(3, i) for i in inputs)
    body += _attr_entry("attr", f_bytes(2, attr))   # s sits in AttrValue's oneof: written even when empty
    if shapes is not None:
        body += _attr_entry("_output_shapes", f_message(1, b"".join(f_message(7, _shape(s)) for s in shapes)))
    return body


def graph(model, input_to_model, verbose=False, use_strict_trace=True):
    """(GraphDef bytes, RunMetadata bytes) for add_graph, as torch's _pytorch_graph.graph."""
    try:
        nodes = trace(model, input_to_model, use_strict_trace)
    except RuntimeError as e:
        print(e)   # as torch reports a failed trace, before raising
        print("Error occurs, No graph saved")
        raise
    if verbose:
        for name, op, inputs, shapes, attr in nodes:
            shape = f" : {shapes[0]}" if shapes else ""
            print(f"{name} = {op}({', '.join(inputs)}){shape}" + (f" {attr}" if attr not in ("", "{}") else ""))
    # versions: VersionDef.producer 22, as torch writes (reverse engineered from TensorFlow's files)
    graph_def = b"".join(f_message(1, node_def(*n)) for n in nodes) + f_message(4, f_varint(1, 22))
    # RunMetadata.step_stats.dev_stats[0].device: torch claims the CPU whatever ran the model
    run_metadata = f_message(1, f_message(1, f_bytes(1, "/device:CPU:0")))
    return graph_def, run_metadata
