"""torch.autograd.profiler: profile and record_function.

Nothing in ember's ops, autograd engine or optimizers checks for a profiler, so a training step pays
nothing when none runs.  Starting a profiler installs, for the profiling thread only, and removes on
stop (also when the profiled code raises):

* ``sys.setprofile`` with a callback that looks each called code object up in a table built at start:
  ember's public functions (torch.*, torch.nn.functional.*, torch.fft/linalg/special.*), Tensor methods and
  operators become ``aten::<torch's name>`` events, optimizers' step/zero_grad the
  ``Optimizer.step#SGD.step`` regions torch records (nn.Module calls are no events, as in torch);
* the autograd engine's loop (``graph._run_lean`` -> the general loop, ``graph._apply_general`` -> a timed
  one) for the ``autograd::engine::evaluate_function: <Node>`` and ``<Node>`` events;
* ``tracemalloc`` when ``profile_memory`` (NumPy reports its buffers to it): an event's CPU Mem is what
  was allocated and not freed while it ran, as torch's.
"""
import os
import sys
import threading
import time
import tracemalloc
import types

from .profiler_util import EventList, FunctionEvent

__all__ = ["profile", "record_function", "EventList", "FunctionEvent"]

_active = []  # the running _Recorder, if any (one at a time, as torch)

# ember's public names whose aten op is named differently in torch
_ATEN = {"cross_entropy": "cross_entropy_loss", "concat": "cat", "concatenate": "cat", "absolute": "abs",
         "multiply": "mul", "subtract": "sub", "divide": "div", "true_divide": "div", "clip": "clamp",
         "greater": "gt", "greater_equal": "ge", "less": "lt", "less_equal": "le", "not_equal": "ne",
         "negative": "neg", "swapaxes": "transpose", "swapdims": "transpose", "moveaxis": "movedim",
         "arctan2": "atan2", "ger": "outer", "asarray": "as_tensor"}
_DUNDER = {"__add__": "add", "__radd__": "add", "__iadd__": "add_", "__sub__": "sub", "__rsub__": "rsub",
           "__isub__": "sub_", "__mul__": "mul", "__rmul__": "mul", "__imul__": "mul_", "__truediv__": "div",
           "__rtruediv__": "div", "__itruediv__": "div_", "__floordiv__": "floor_divide",
           "__rfloordiv__": "floor_divide", "__mod__": "remainder", "__pow__": "pow", "__rpow__": "pow",
           "__ipow__": "pow_", "__matmul__": "matmul", "__rmatmul__": "matmul", "__neg__": "neg",
           "__abs__": "abs", "__invert__": "bitwise_not", "__and__": "__and__", "__rand__": "__and__",
           "__or__": "__or__", "__ror__": "__or__", "__xor__": "__xor__", "__rxor__": "__xor__",
           "__lshift__": "__lshift__", "__rshift__": "__rshift__", "__eq__": "eq", "__ne__": "ne", "__lt__": "lt",
           "__le__": "le", "__gt__": "gt", "__ge__": "ge", "__setitem__": "copy_"}
# Tensor methods that are no ops in torch's profile (metadata, hooks, conversions to Python)
_NOT_OPS = {"backward", "register_hook", "register_post_accumulate_grad_hook", "retain_grad", "requires_grad_",
            "size", "dim", "ndimension", "numel", "nelement", "stride", "storage_offset", "data_ptr", "element_size",
            "is_contiguous", "is_floating_point", "is_complex", "is_signed", "get_device", "type", "tolist", "numpy",
            "storage", "untyped_storage", "is_shared", "share_memory_", "is_pinned", "pin_memory", "is_set_to",
            "dim_order", "is_inference", "is_conj", "is_neg", "has_names", "refine_names", "rename",
            "type_as", "is_same_size", "is_nonzero", "__len__", "__bool__", "__float__", "__int__", "__index__",
            "__complex__", "__hash__", "__repr__", "__str__", "__format__", "__iter__", "__reversed__",
            "__contains__", "__array__", "__dlpack__", "__dlpack_device__", "__reduce_ex__", "__deepcopy__",
            "__copy__", "__getstate__", "__setstate__", "__init__", "__new__", "__getattr__", "__setattr__",
            "__dir__", "__del__", "__sizeof__", "__array_wrap__", "__array_priority__"}
_OP_MODULES = ("ember.ops", "ember.nn.functional", "ember.fft", "ember.linalg", "ember.special")
# other namespaces' aten prefixes (torch.fft.rfft is aten::fft_rfft)
_PREFIX = {"ember.fft": "fft_", "ember.linalg": "linalg_", "ember.special": "special_"}


def _unwrap(fn):
    while hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
    return fn


class _Shared:
    """The names of several functions made from one code object (a factory's closures), told apart by
    their closure cells' contents, visible in the frame's locals; a closure of the same code that is no
    public function (a private helper from the same factory) records nothing."""
    __slots__ = ("by_cells", "default")

    def __init__(self, default):
        self.by_cells = {}
        self.default = default

    def __call__(self, frame):
        loc = frame.f_locals
        key = tuple(id(loc.get(v)) for v in frame.f_code.co_freevars)
        return self.by_cells.get(key, self.default)


def _cells_key(fn):
    return tuple(id(c.cell_contents) if _has_contents(c) else id(None) for c in (fn.__closure__ or ()))


def _has_contents(cell):
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def _getitem_name(frame):
    code = frame.f_code
    key = frame.f_locals.get(code.co_varnames[1]) if code.co_argcount > 1 else None
    keys = key if isinstance(key, tuple) else (key,)
    names = []
    for k in keys:
        if isinstance(k, bool) or hasattr(k, "_data") or isinstance(k, list):
            return "aten::index"
        names.append("aten::select" if isinstance(k, int) else "aten::slice" if isinstance(k, slice)
                     else "aten::unsqueeze" if k is None else "aten::alias")
    return names[0] if len(set(names)) == 1 else "aten::slice"


def _optimizer_namer(method):
    def name(frame):
        self = frame.f_locals.get("self")
        return None if self is None else f"Optimizer.{method}#{type(self).__name__}.{method}"
    return name


def _op_table():
    """code object -> event name, or a callable(frame) -> name, for everything a profile records."""
    import importlib
    import ember
    from .._tensor import Tensor
    # the lazily imported namespaces too: one first used inside the profile must already be in the table
    for name in ("ember.nn.functional", "ember.fft", "ember.linalg", "ember.special", "ember.optim"):
        importlib.import_module(name)
    table = {}

    def add(fn, name):
        fn = _unwrap(fn)
        code = getattr(fn, "__code__", None)
        if code is None:
            return
        have = table.get(code)
        if have is None:
            if code.co_freevars:
                have = table[code] = _Shared(None)
                have.by_cells[_cells_key(fn)] = name
            else:
                table[code] = name
        elif have.__class__ is _Shared:
            have.by_cells.setdefault(_cells_key(fn), name)

    spaces = [(ember, ""), (sys.modules.get("ember.nn.functional"), "")]
    spaces += [(sys.modules.get(m), p) for m, p in _PREFIX.items()]
    for module, prefix in spaces:
        if module is None:
            continue
        # a prefixed namespace's public names are its __all__: ember.fft also holds helpers it
        # imported (ember.ops.record), which must not turn into "aten::fft_record" events
        names = module.__all__ if prefix else sorted(vars(module))
        for name in names:
            fn = vars(module).get(name)
            if name[0] == "_" or not isinstance(fn, types.FunctionType):
                continue
            if not getattr(_unwrap(fn), "__module__", "").startswith(_OP_MODULES):
                continue
            add(fn, "aten::" + prefix + _ATEN.get(name, name))
    for name in sorted(vars(Tensor)):
        fn = vars(Tensor)[name]
        if not isinstance(fn, types.FunctionType) or name in _NOT_OPS:
            continue
        if name == "__getitem__":
            table[_unwrap(fn).__code__] = _getitem_name
        elif name in _DUNDER:
            add(fn, "aten::" + _DUNDER[name])
        elif name[0] != "_":
            add(fn, "aten::" + _ATEN.get(name, name))
    optim = sys.modules.get("ember.optim.optimizer")
    if optim is not None:
        todo, seen = [optim.Optimizer], set()
        while todo:
            cls = todo.pop()
            if cls in seen:
                continue
            seen.add(cls)
            todo += cls.__subclasses__()
            for method in ("step", "zero_grad"):
                fn = vars(cls).get(method)
                if isinstance(fn, types.FunctionType):
                    table[_unwrap(fn).__code__] = _optimizer_namer(method)
    return table


def _shape(value):
    if hasattr(value, "_data") and hasattr(value, "shape"):
        return list(value.shape)
    if isinstance(value, (list, tuple)) and value and all(hasattr(v, "_data") for v in value):
        return [list(v.shape) for v in value]
    return []


def _input_shapes(frame):
    code = frame.f_code
    loc = frame.f_locals
    n = code.co_argcount + code.co_kwonlyargcount
    shapes = [_shape(loc.get(v)) for v in code.co_varnames[:n]]
    if code.co_flags & 0x04:   # *args
        shapes += [_shape(v) for v in loc.get(code.co_varnames[n], ())]
    return shapes


_HERE = os.path.dirname(os.path.abspath(__file__))


def _stack(frame):
    """The Python call stack above frame, innermost first, as torch's with_stack entries."""
    out = []
    while frame is not None and len(out) < 64:
        code = frame.f_code
        if not code.co_filename.startswith(_HERE + os.sep + "profiler"):
            out.append(f"{code.co_filename}({frame.f_lineno}): {code.co_name}")
        frame = frame.f_back
    return out


class _Recorder:
    """Events of one profiling session, and the hooks that record them while installed.

    A closed event is kept as nine flat entries (numbers, strings, tuples of them) of one list, and
    the FunctionEvents are made at stop: the collector tracks none of those entries, while tens of
    thousands of live FunctionEvents (12 tracked objects each) made its full passes slow and landed
    them inside whichever op was running (the LeNet at batch 4, 300 steps: aten::linear 33 -> 162
    us on average, all of it in a few collections)."""

    def __init__(self, record_shapes=False, profile_memory=False, with_stack=False):
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.records = []        # closed events, nine entries each: id, name, start, end, parent id, shapes,
        #                          annotation, stack, memory
        self.stack = []          # open entries: (frame or None, event, opened-here); event is a _Open
        self.thread = None
        self._saved = None
        self._next_id = 0

    # ---- events -------------------------------------------------------------------------------
    def open(self, name, frame=None, shapes=None, annotation=False):
        """Start an event (child of the innermost open one); returns it."""
        stack = self.stack
        evt = _Open()
        evt.id = self._next_id
        self._next_id += 1
        evt.name = name
        evt.parent = stack[-1][1].id if stack else -1
        evt.shapes = _frozen(shapes) if shapes else ()
        evt.annotation = annotation
        evt.stack = tuple(_stack(frame.f_back if frame is not None else sys._getframe(2))) if self.with_stack else ()
        if self.profile_memory:
            evt.mem0 = tracemalloc.get_traced_memory()[0]
        stack.append((frame, evt, True))
        evt.start = time.perf_counter_ns() / 1000.0
        return evt

    def close_top(self):
        end = time.perf_counter_ns() / 1000.0
        _, evt, opened = self.stack.pop()
        if opened:
            mem = tracemalloc.get_traced_memory()[0] - evt.mem0 if self.profile_memory else 0
            # nine flat entries: no tuple that the collector would count until its first pass
            self.records += (evt.id, evt.name, evt.start, end, evt.parent, evt.shapes, evt.annotation, evt.stack, mem)

    def close(self, evt):
        """End evt and whatever is still open inside it."""
        stack = self.stack
        while stack:
            top = stack[-1][1]
            self.close_top()
            if top is evt:
                return

    def _callback(self):
        table = self.table
        stack = self.stack
        open_, close_top = self.open, self.close_top
        shapes = self.record_shapes
        marker = stack.append

        def on_event(frame, event, arg):
            if event == "call":
                name = table.get(frame.f_code)
                if name is None:
                    return
                if name.__class__ is not str:
                    name = name(frame)
                    if name is None:
                        return
                top = stack[-1][1] if stack else None
                if top is not None and top.name == name:
                    # the same op entered again through its method form or a wrapper: one event
                    marker((frame, top, False))
                    return
                open_(name, frame, _input_shapes(frame) if shapes and name.startswith("aten::") else [])
            elif event == "return":
                if stack and stack[-1][0] is frame:
                    close_top()
        return on_event

    # ---- installation -------------------------------------------------------------------------
    def install(self):
        """Start recording on this thread: the profile callback, the engine's timed loop, tracemalloc."""
        from . import graph
        self.thread = threading.get_ident()
        self.thread_id = threading.get_native_id()
        self.table = _op_table()
        started_tracemalloc = False
        if self.profile_memory and not tracemalloc.is_tracing():
            tracemalloc.start()
            started_tracemalloc = True
        self._saved = (sys.getprofile(), graph._run_lean, graph._apply_general, started_tracemalloc)
        graph._run_lean = _run_through_general
        graph._apply_general = self._timed_apply(graph._apply_general)
        _active.append(self)
        sys.setprofile(self._callback())

    def uninstall(self):
        """Stop recording: close what is open and put everything back as it was."""
        from . import graph
        if self._saved is None:
            return
        old_profile, run_lean, apply_general, started_tracemalloc = self._saved
        sys.setprofile(old_profile)
        graph._run_lean = run_lean
        graph._apply_general = apply_general
        while self.stack:
            self.close_top()
        if started_tracemalloc:
            tracemalloc.stop()
        if self in _active:
            _active.remove(self)
        self._saved = None

    def clear(self):
        """Forget the events recorded so far (warmup steps); open regions stay open."""
        self.records = []

    def _timed_apply(self, apply_general):
        from .graph import AccumulateGrad
        rec = self

        def timed(node, grad, captured, retain_graph, deps, owned=False):
            if grad is None or threading.get_ident() != rec.thread:
                return apply_general(node, grad, captured, retain_graph, deps, owned)
            name = "torch::autograd::AccumulateGrad" if node.__class__ is AccumulateGrad else node.name()
            outer = rec.open("autograd::engine::evaluate_function: " + name, None, [])
            rec.open(name, None, [])
            try:
                return apply_general(node, grad, captured, retain_graph, deps, owned)
            finally:
                rec.close(outer)
        return timed

    def function_events(self):
        """The recorded events as FunctionEvents, children linked to their parents (whose events
        cleared with the warmup are left out, as torch's)."""
        made = {}
        r = self.records
        for id_, name, start, end, parent, shapes, annotation, stack, mem in sorted(zip(*(r[i::9] for i in range(9)))):
            evt = made[id_] = FunctionEvent(id_, name, self.thread_id, start, end,
                                            input_shapes=_listed(shapes),
                                            stack=list(stack), cpu_memory_usage=mem, is_user_annotation=annotation)
            up = made.get(parent)
            if up is not None:
                up.append_cpu_child(evt)
                evt.set_cpu_parent(up)
        return EventList(sorted(made.values(), key=lambda e: (e.time_range.start, e.id)),
                         profile_memory=self.profile_memory)


class _Open:
    """An event still running (see _Recorder.open)."""
    __slots__ = ("id", "name", "parent", "shapes", "annotation", "stack", "mem0", "start")


def _frozen(shapes):
    """Input shapes (each a list of sizes, or a list of such lists) as nested tuples."""
    # inner tuples before outer ones (lists first): the collector's pass untracks a tuple of untracked
    # items, visiting them in the order they were made, so these leave its lists in one pass
    return tuple([tuple([tuple(x) if x.__class__ is list else x for x in s]) for s in shapes])


def _listed(shapes):
    """_frozen's shapes as lists again."""
    return [[list(x) if x.__class__ is tuple else x for x in s] for s in shapes]


def _run_through_general(ready, buffers, deps, retain_graph):
    """The engine's plain loop while profiling: the general one, whose per-node step is timed."""
    from . import graph
    graph._run_general(ready, buffers, deps, None, retain_graph)


class record_function:
    """Mark a region with a name in the running profile (a context manager or a decorator); nothing
    happens when no profiler is running."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self._event = None
        self._recorder = None

    def __enter__(self):
        if _active:
            rec = _active[-1]
            if threading.get_ident() == rec.thread:
                self._recorder = rec
                self._event = rec.open(self.name, None, [], annotation=True)
        return self

    def __exit__(self, *exc):
        rec, evt = self._recorder, self._event
        self._recorder = self._event = None
        if rec is not None and rec._saved is not None and any(e is evt for _, e, _ in rec.stack):
            rec.close(evt)
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)
        return wrapper


class profile:
    """torch.autograd.profiler.profile: record ember's ops, autograd nodes and record_function regions
    of the code run inside ``with profile() as prof:`` (this thread; CPU times)."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False, with_flops=False,
                 profile_memory=False, with_stack=False, with_modules=False, use_kineto=False, use_cpu=True,
                 experimental_config=None, acc_events=False, custom_trace_id_callback=None):
        self.enabled = enabled
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.use_device = use_device
        self.entered = False
        self.function_events = None
        self._recorder = None

    def _start(self):
        if _active:
            raise RuntimeError("Profiler is already enabled on this thread (nested profilers are not supported: "
                               "exit the running one first)")
        self._recorder = _Recorder(self.record_shapes, self.profile_memory, self.with_stack)
        self._recorder.install()

    def _stop(self):
        rec = self._recorder
        if rec is not None:
            rec.uninstall()
            self.function_events = rec.function_events()

    def __enter__(self):
        if not self.enabled:
            return self
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self.entered = True
        self._start()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if self.enabled:
            self._stop()
            self.entered = False
        return False

    def _check_finish(self):
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False):
        """The events' table (see EventList.table)."""
        self._check_finish()
        return self.function_events.table(sort_by=sort_by, row_limit=row_limit,
                                          max_src_column_width=max_src_column_width,
                                          max_name_column_width=max_name_column_width,
                                          max_shapes_column_width=max_shapes_column_width, header=header,
                                          top_level_events_only=top_level_events_only)

    def export_chrome_trace(self, path):
        """Write the events as a Chrome trace JSON file."""
        self._check_finish()
        return self.function_events.export_chrome_trace(path)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        """The events averaged per name (and input shapes / stack when asked)."""
        self._check_finish()
        return self.function_events.key_averages(group_by_input_shape, group_by_stack_n, group_by_overload_name)

    def total_average(self):
        """All events summed."""
        self._check_finish()
        return self.function_events.total_average()

    @property
    def self_cpu_time_total(self):
        """The sum of the events' self CPU times (us)."""
        self._check_finish()
        return self.function_events.self_cpu_time_total

    def __str__(self):
        self._check_finish()
        return str(self.function_events)

    __repr__ = __str__
