"""Graph nodes and the backward engine.

A node's ``apply`` takes the gradient of its output as a raw array and returns
one raw array (or None) per entry of ``next_functions``.  Tensors appear only
at the edges: in ``AccumulateGrad`` and in user hooks.
"""
import sys
import weakref

import numpy as _np

from .grad_mode import state
from .anomaly_mode import state as _anomaly, check_nan as _check_nan
from .._backend import xp_of, fp_set as _fp_set, fp_reset as _fp_reset, FP_QUIET as _FP_QUIET
from .. import _memory_format as _mf

_ndarray = _np.ndarray
_new = object.__new__
_refcount = sys.getrefcount
# from 3.14 the interpreter may hold borrowed references that getrefcount does not count: a
# gradient would look unshared when it is not, so the engine copies every leaf gradient there
_STEAL = sys.version_info < (3, 14)

# Hooks are rare: keep them off the node so creating a node stays cheap.
_pre_hooks = weakref.WeakKeyDictionary()   # node -> [fn(grad_tensor) -> tensor | None]
_post_hooks = weakref.WeakKeyDictionary()  # node -> [fn(grad_inputs, grad_outputs)]


class Node:
    """A step of the backward graph; subclasses are named as torch's (AddBackward0, ...)."""

    __slots__ = ("next_functions", "_saved_versions", "__weakref__")
    # names of slots holding saved arrays, dropped after backward unless retain_graph
    _saved_fields = ()
    # multi-output nodes (custom Functions) override this with a slot
    _n_outputs = 1

    def name(self):
        """The node's name, as torch's Node.name()."""
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def apply(self, grad):
        raise NotImplementedError

    def register_hook(self, fn):
        """Call fn(grad_inputs, grad_outputs) after this node has run."""
        hooks = _post_hooks.setdefault(self, _HookList())
        hooks.append(fn)
        return _handle(hooks, fn)

    def register_prehook(self, fn):
        """Call fn(grad_outputs) before this node runs; it may return replacements."""
        return add_pre_hook(self, (None, fn))

    @property
    def metadata(self):
        return {}

    # torch's names for what a node saved (grad_fn._saved_self, ...), as the slots that hold them here;
    # a class names its own where they differ (MmBackward0: mat2)
    _torch_saved = {"self": ("x", "a"), "other": ("b",), "result": ("y", "out"), "input": ("x",),
                    "weight": ("w",), "mat1": ("m1",), "mat2": ("m2",), "exponent": ("exponent",)}

    def __getattr__(self, name):
        # (only for names the slots don't have: the saved values torch exposes as grad_fn._saved_<name>)
        if name.startswith("_saved_") and name != "_saved_versions":
            field = next((f for f in self._torch_saved.get(name[7:], ()) if hasattr(type(self), f)), None)
            if field is not None:
                return _saved_value(self, field)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __call__(self, *grads):
        """The node's backward on gradients of its outputs (Tensors): the gradients of its inputs, one
        Tensor (or None) for a node with one input, else a tuple, as torch's grad_fn(...)."""
        from .._tensor import Tensor, _wrap
        arrays = [g._data if isinstance(g, Tensor) else g for g in grads]
        if self._saved_versions is None:
            raise RuntimeError(_FREED + f" (node: {self.name()})")
        out = self.apply(arrays[0] if len(arrays) == 1 else arrays)
        out = tuple(None if g is None else _wrap(g) for g in (out if isinstance(out, (tuple, list)) else (out,)))
        return out[0] if len(self.next_functions) == 1 else out

    def _release(self):
        for field in self._saved_fields:
            setattr(self, field, None)
        self._saved_versions = None


def _saved_value(node, field):
    """grad_fn._saved_<name>: the input Tensor itself where the node keeps one (torch's `x is
    y.grad_fn._saved_self`), its output as a new Tensor of this node, a number as a 0-d Tensor, or None
    where no gradient to be computed reads it (torch did not save it)."""
    from .._tensor import _wrap
    saved = node._saved_versions
    if saved is None:
        raise RuntimeError(_FREED + f" (node: {node.name()})")
    value = getattr(node, field)
    if value is None:
        return None
    if not hasattr(value, "shape"):   # a Python number: as is, or wrapped where torch's op wraps it (x * 3)
        if field not in getattr(type(node), "_wrapped_numbers", ()):
            return value
        import numpy as np
        return _wrap(np.asarray(value))
    for t, version in saved:
        if getattr(t, "_data", None) is value:
            if t.__class__.__name__ == "_SavedOutput":
                out = _wrap(value)
                out._requires_grad, out.grad_fn = True, node
                return out
            return None if version is UNCHECKED else t
    return _wrap(value)


def _pre_hook_rank(entry):
    # torch's order before a node runs: its outputs' tensor hooks, then retain_grad's recording
    # (so .grad sees what the hooks returned), then the node's own pre-hooks
    nr, fn = entry
    if nr is None:
        return 2
    return 1 if getattr(fn, "_retains_grad", False) else 0


def add_pre_hook(node, entry):
    """Register an (output_nr, fn) pre-hook of node in torch's run order; return its handle."""
    hooks = _pre_hooks.setdefault(node, _HookList())
    rank = _pre_hook_rank(entry)
    i = len(hooks)
    while i and _pre_hook_rank(hooks[i - 1]) > rank:
        i -= 1
    hooks.insert(i, entry)
    return _handle(hooks, entry)


def move_retained_grad(tensor, old_fn):
    """torch's rule when an in-place op gives tensor a new grad_fn: its retain_grad() recording moves to
    the new node (so .grad is the gradient of the new value); its other hooks stay with the old one."""
    hooks = _pre_hooks.get(old_fn) if old_fn is not None else None
    for entry in hooks or ():
        fn = entry[1]
        if getattr(fn, "_retains_grad", False) and fn._tensor() is tensor:
            hooks.remove(entry)
            add_pre_hook(tensor.grad_fn, (tensor.output_nr, fn))
            return


class _HookList(list):
    """A list of hooks that a handle can reference weakly (as torch's handle holds its hooks dict)."""
    __slots__ = ("__weakref__",)


def _handle(hooks, entry):
    """torch.utils.hooks.RemovableHandle for entry of hooks (a _HookList), as torch's registrations return."""
    from ..utils.hooks import RemovableHandle  # registering a hook is rare: keep utils out of import ember
    return RemovableHandle._in_list(hooks, entry)


class _PostAccumulateHooks(_HookList):
    """A leaf's post-accumulate-grad hooks: one entry, always last, in its list of tensor hooks."""
    __slots__ = ()


def add_post_accumulate_hook(tensor, hook):
    """Register hook(tensor), called after tensor.grad has been accumulated; returns a handle."""
    hooks = tensor._hooks
    if hooks is None:
        hooks = tensor._hooks = _HookList()
    if not hooks or hooks[-1].__class__ is not _PostAccumulateHooks:
        hooks.append(_PostAccumulateHooks())
    hooks[-1].append(hook)
    hold_leaf(tensor)
    return _handle(hooks[-1], hook)


class _LeafRef(weakref.ref):
    """An AccumulateGrad's reference to its leaf (swap_tensors tells these from the user's)."""
    __slots__ = ()


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds the incoming gradient into ``variable.grad``.

    The leaf holds its node for good and the node holds the leaf weakly, so that an op on a leaf
    finds its edge made: torch makes it again for each graph once the last one has gone, which cost
    ~200 ns a leaf here (`a + b` of two 2x2 leaves: 1.98 -> 1.57 us). The node holds its leaf
    strongly (``_held``) only once the leaf has hooks: torch runs them even when only a graph still
    references the leaf."""

    __slots__ = ("_leaf", "_held")
    # a sink has no edges and saves nothing
    next_functions = ()
    _saved_versions = ()

    @property
    def variable(self):
        """The leaf tensor (None once it is gone: nothing is left to accumulate into)."""
        return self._leaf()

    def name(self):
        """torch's C++ name for this node."""
        return "torch::autograd::AccumulateGrad"

    def apply(self, grad):
        self._take(grad, False)
        return ()

    def _take(self, grad, owned):
        """Store or add grad; owned: the engine holds the only reference to grad and its memory,
        so it may become ``.grad`` without a copy (torch steals such gradients too)."""
        var = self._leaf()
        if var is None:
            return
        if _creating_graph[0]:
            self._take_tensor(grad)
            return
        if var._hooks:
            if var._hooks[-1].__class__ is _PostAccumulateHooks:
                self._take_with_post_hooks(grad, False)
                return
            grad = _run_tensor_hooks([(0, h) for h in var._hooks], grad, False)
            owned = False
        data = var._data
        want = _grad_target(var, data.dtype) if _custom_grad_dtypes[0] else data.dtype
        if want is not None and grad.dtype != want:
            # a real leaf whose gradient came through complex ops keeps its real part, as torch
            grad = (grad.real if grad.dtype.kind == "c" and want.kind != "c" else grad).astype(want)
        old = var.grad
        if old is None:
            if grad.shape != data.shape:
                grad = _xp_broadcast(grad, data.shape)
                owned = False
            if (not data.flags.c_contiguous and not (owned and not state.grad_layout)
                    and grad.__class__ is data.__class__):
                # torch's layout contract: .grad takes a dense leaf's strides (channels_last, a
                # transposed leaf), row-major otherwise; enforce_grad_layout_policy(False) lets a
                # gradient the engine owns be kept in its own layout instead
                grad = _mf.relayout(grad, _mf.dense_order(data))
            elif not owned:   # the incoming array may be shared with other branches: own a copy
                grad = grad.copy()
            if grad.__class__ is not data.__class__:  # numpy turns 0-d results into scalars
                if hasattr(grad, "_as_tensor"):   # (a sparse gradient: embedding(sparse=True))
                    sparse_accumulate[0](var, None, grad)
                    return
                grad = _xp_asarray(grad)
            _set_grad(var, _wrap(grad))
        else:
            try:
                old._data += grad
            except (TypeError, NotImplementedError):
                # (a sparse .grad, or a sparse gradient; nothing is checked for them before the failure,
                # so that the dense accumulation costs no more for their existence)
                if not (old.is_sparse or hasattr(grad, "_as_tensor")):
                    raise
                sparse_accumulate[0](var, old, grad)
                return
            old._vc[0] += 1


    def _take_with_post_hooks(self, grad, tensor):
        """Accumulate as usual (the tensor's own hooks first), then call the post-accumulate-grad hooks
        with the tensor (register_post_accumulate_grad_hook; kept last in var._hooks, so that the hot
        path pays nothing when there are none)."""
        var = self._leaf()
        hooks = var._hooks
        var._hooks = _HookList(hooks[:-1])
        try:
            if tensor:
                self._take_tensor(grad)
            else:
                self._take(grad, False)
        finally:
            var._hooks = hooks
        for hook in list(hooks[-1]):
            hook(var)

    def _take_tensor(self, grad):
        # create_graph: .grad is the (recorded) gradient tensor itself, and a second gradient
        # makes a new sum rather than writing into the first, so both stay differentiable
        var = self._leaf()
        if var is None:
            return
        if grad.is_sparse and not var.is_sparse:   # (embedding(sparse=True)'s, recorded as torch's)
            sparse_grads[0] = True
            old = var.grad
            _set_grad(var, grad if old is None else old + grad)
            return
        if var._hooks:
            if var._hooks[-1].__class__ is _PostAccumulateHooks:
                self._take_with_post_hooks(grad, True)
                return
            grad = _run_tensor_hooks([(0, h) for h in var._hooks], grad, False)
        want = _grad_target(var, var._data.dtype) if _custom_grad_dtypes[0] else var._data.dtype
        if want is not None and grad._data.dtype != want:
            grad = grad.to(_as_dtype(want))
        if grad._data.shape != var._data.shape:
            grad = grad.expand(*var._data.shape)
        old = var.grad
        _set_grad(var, grad if old is None else old + grad)


# ops/sparse.py's accumulation of a sparse gradient into a dense leaf's .grad (or any gradient into a sparse
# .grad): sparse_accumulate[0](leaf, its .grad or None, the gradient)
sparse_accumulate = [None]

# set once any dense leaf has had a sparse .grad: until then optimizers look at no gradient's layout
sparse_grads = [False]

# set once any leaf's grad_dtype is set (Tensor.grad_dtype): until then no leaf is looked up
_custom_grad_dtypes = [False]


def _grad_target(var, default):
    """The dtype var's gradient is kept in (None: as it arrives); refuses a dtype autograd cannot
    differentiate, which torch only catches with an internal assert."""
    from .._tensor import grad_target
    want = grad_target(var, default)
    if want is not None and want.kind not in "fcV":
        raise RuntimeError(
            f"a gradient cannot be kept in {_as_dtype(want)}: this leaf's grad_dtype must be a floating "
            "point or complex dtype, or None (set x.grad_dtype = None to keep the gradient's own dtype)")
    return want


def grad_dtype_of(t):
    """The NumPy dtype autograd hands t's gradient in: t's dtype, or a leaf's grad_dtype when set
    (None: the gradient's own dtype)."""
    if _custom_grad_dtypes[0] and t.grad_fn is None:
        return _grad_target(t, t._data.dtype)
    return t._data.dtype


def _as_dtype(np_dtype):
    from .._backend import FROM_NUMPY
    return FROM_NUMPY[np_dtype]


def _xp_asarray(grad):
    return _np.asarray(grad)


def _replay_view(view):
    global _replay_view
    from ..ops.shape import replay_view as _replay_view
    _replay_view(view)


def _xp_broadcast(grad, shape):
    xp = _np if isinstance(grad, _np.generic) else xp_of(grad)
    return xp.broadcast_to(grad, shape)


def _wrap(array):
    # _tensor imports this module: bind its constructor on first use (an import statement per
    # call cost ~1 us per parameter per step)
    global _wrap
    from .._tensor import _wrap
    return _wrap(array)


def _set_grad(var, grad):
    # var.grad = grad without the assignment's checks (the gradient was made to fit); bound on
    # first use, as _wrap
    global _set_grad
    from .._tensor import _grad_slot
    _set_grad = _grad_slot.__set__
    _set_grad(var, grad)


def accumulator(tensor):
    """The AccumulateGrad node of a leaf that requires grad (kept on the tensor)."""
    return edge(tensor)[0]


class NoDerivative(Node):
    """The node torch records for an op it cannot differentiate: backward through it raises."""
    __slots__ = ()
    _message = ""
    _error = NotImplementedError

    def name(self):
        """torch's name: its C++ NotImplemented node is torch::autograd::NotImplemented."""
        name = type(self).__name__
        return "torch::autograd::NotImplemented" if name == "NotImplemented" else name

    def apply(self, g):
        raise self._error(self._message)


def no_derivative(name, message, error=NotImplementedError):
    """A NoDerivative node class named as torch names it, whose backward raises error(message)."""
    return type(name, (NoDerivative,), {"__slots__": (), "_message": message, "_error": error})


# torch's CreationMeta of a view, which decides whether it may be modified in place with grad mode on
# (None: it may; see ops/shape.py check_view_inplace)
MULTI_OUTPUT_VIEW = "multi_output"   # one of several views a function returned (split, chunk, unbind)
NO_GRAD_VIEW = "no_grad"             # made in no_grad mode (or a view of such a view)
# made in no_grad mode of a tensor that requires grad: it requires grad through its base alone
NO_GRAD_VIEW_OF_GRAD_TENSOR = "no_grad, of a tensor that requires grad"


def edge(tensor):
    """The (node, output_nr) pair through which gradient flows into tensor."""
    if tensor._base is not None:
        made_at = getattr(tensor, "_view_vc", None)   # (the version its grad_fn describes)
        if made_at is not None and made_at != tensor._vc[0]:
            _replay_view(tensor)   # its base changed in place since the view's grad_fn was recorded
        if tensor.grad_fn is None and tensor._creation_meta is NO_GRAD_VIEW_OF_GRAD_TENSOR:
            return (None, 0)   # it requires grad only through its base: as in torch, nothing accumulates
    fn = tensor.grad_fn
    if fn is not None:
        if fn._n_outputs == 1:
            return (fn, 0)
        return (fn, fn._output_nrs[id(tensor)])
    if tensor._requires_grad:
        acc = tensor._accumulator
        if acc is None:
            acc = tensor._accumulator = _new(AccumulateGrad)
            acc._leaf = _LeafRef(tensor)
            acc._held = tensor if tensor._hooks else None
        return (acc, 0)
    return (None, 0)


def hold_leaf(tensor):
    """A hook was registered on leaf tensor: its node (if made) now keeps it alive (see AccumulateGrad)."""
    acc = tensor._accumulator
    if acc is not None:
        acc._held = tensor


class _AnyVersion:
    """A saved version that every version equals: an operand a node keeps (create_graph traces its
    saved arrays through _saved_versions) but that no gradient to be computed reads, so changing it in
    place before backward is no error (torch saves only what the needed gradients use).  An int
    compared with it defers to its __ne__."""

    __slots__ = ()

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __repr__(self):
        return "UNCHECKED"


UNCHECKED = _AnyVersion()

_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors "
          "after they have already been freed). Saved intermediate values of the graph are freed "
          "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
          "backward through the graph a second time or if you need to access saved tensors after "
          "calling backward.")


def _check_versions(node):
    saved = node._saved_versions
    if saved is None:
        raise RuntimeError(_FREED + f" (node: {node.name()})")
    for tensor, version in saved:
        if tensor._vc[0] != version:
            t = tensor
            # torch names the op that made the tensor: for a saved output (ops' _SavedOutput) the node itself
            fn = getattr(t, "grad_fn", node)
            made_by = ""
            if fn is not None:
                name = fn.name()
                cut = name.rfind("Backward")
                nr = 0 if fn._n_outputs == 1 or fn is node else fn._output_nrs.get(id(t), 0)
                made_by = f", which is output {nr} of {name[:cut] if cut > 0 else name},"
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{t.type()} {list(t.shape)}]{made_by} is at version {t._vc[0]}; "
                f"expected version {version} instead. It was saved by {node.name()}. Hint: use an "
                "out-of-place op (e.g. x = x + 1 instead of x += 1) or .clone() the tensor before "
                "modifying it.")


# create_graph=True while a backward pass runs: grads are Tensors, nodes run on them recorded
_creating_graph = [False]


class _Task:
    """The running backward pass: the nodes it will run (``deps``) and whether it runs lean
    (``lean``: no hook, no captured input, nothing can observe a non-leaf's gradient); weakly
    referenceable."""
    __slots__ = ("deps", "lean", "__weakref__")


def run_backward(roots, grads, retain_graph=False, inputs=None, create_graph=False):
    """Propagate grads (raw arrays) from the root edges down the graph.

    With ``inputs`` (a list of edges), nothing is accumulated into leaves;
    the gradients reaching those edges are returned instead.  With ``create_graph``, grads are
    Tensors and every step is recorded (see higher_order.py).
    """
    deps = {}
    stack = []
    for node, _ in roots:
        if node is not None and node not in deps:
            deps[node] = 0
            stack.append(node)
    pop = stack.pop
    push = stack.append
    get = deps.get
    while stack:
        for child, _ in pop().next_functions:
            if child is not None:
                n = get(child)
                if n is None:
                    deps[child] = 1
                    # a leaf's AccumulateGrad has no edges: no need to visit it
                    if child.next_functions:
                        push(child)
                else:
                    deps[child] = n + 1

    captured = None
    if inputs is not None:
        captured = {id(node): None for node, _ in inputs if node is not None}
        # only the nodes on a path to an input run (as torch marks what it needs): the rest of the
        # graph is neither computed nor, with create_graph, required to support double backward
        needed = _leading_to(roots, captured)
        deps = {node: 0 for node in needed}
        for node in needed:
            for child, _ in node.next_functions:
                if child in deps:
                    deps[child] += 1

    buffers = {}
    for (node, nr), g in zip(roots, grads):
        if node is not None:
            _accumulate(buffers, node, nr, g)
    if len(roots) == 1:
        node = roots[0][0]
        ready = [node] if node is not None and deps.get(node) == 0 else []
    else:
        ready = [node for node, _ in roots if node is not None and deps.get(node) == 0]
        ready = list(dict.fromkeys(ready))
    # hooks, anomaly mode and autograd.grad take the general path; plain backward() the lean one
    general = (create_graph or captured is not None or len(_pre_hooks) > 0 or len(_post_hooks) > 0
               or _anomaly[0])
    prev_enabled, prev_creating, prev_task = state.enabled, _creating_graph[0], state.task
    # creating a graph: the formulas and the sums of gradients from several branches are recorded
    state.enabled = bool(create_graph)
    _creating_graph[0] = bool(create_graph)
    # the nodes this pass will run, for register_multi_grad_hook (torch's graph task)
    task = state.task = _new(_Task)
    task.deps = deps
    task.lean = not general
    quiet = _fp_set(_FP_QUIET)   # the formulas' inf and nan (g / x at x = 0) pass silently, as in torch
    try:
        if general:
            _run_general(ready, buffers, deps, captured, retain_graph)
        else:
            _run_lean(ready, buffers, deps, retain_graph)
    finally:
        _fp_reset(quiet)
        state.enabled = prev_enabled
        _creating_graph[0] = prev_creating
        state.task = prev_task
    if captured is not None:
        return [captured.get(id(node)) if node is not None else None for node, _ in inputs]
    return None


def _leading_to(roots, captured):
    """The nodes reachable from roots from which a captured node is reachable (children first)."""
    needed, seen = set(), set()
    for root, _ in roots:
        if root is None or root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, children = stack[-1]
            for child, _ in children:
                if child is not None and child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child.next_functions)))
                    break
            else:
                stack.pop()
                if id(node) in captured or any(c in needed for c, _ in node.next_functions):
                    needed.add(node)
    return needed


def _sole_owner(grad):
    """Whether the engine's caller holds the only reference to grad (its local, this argument and
    getrefcount's) and to the memory under it: AccumulateGrad may then keep it as .grad uncopied."""
    if grad.__class__ is not _ndarray or not _STEAL or _refcount(grad) != 3:
        return False
    base = grad.base
    # 3: grad's base pointer, `base` and the argument; grad must span all of it
    return (base is None or (base.__class__ is _ndarray and base.base is None and base.size == grad.size
                             and _refcount(base) == 3)) and grad.flags.c_contiguous and grad.flags.writeable


def _run_general(ready, buffers, deps, captured, retain_graph):
    while ready:
        node = ready.pop()
        grad = buffers.pop(node, None)
        # a leaf's gradient that nothing else holds becomes its .grad uncopied, as in _run_lean (a
        # profiled backward takes this loop: a copy per parameter made AccumulateGrad read 9 % of a
        # resnet18 step instead of 1)
        owned = node.__class__ is AccumulateGrad and captured is None and grad is not None \
            and node not in _pre_hooks and node not in _post_hooks and _sole_owner(grad)
        outs = _apply_general(node, grad, captured, retain_graph, deps, owned)
        grad = None
        if outs is _SKIP:
            continue
        _distribute(node, outs, buffers, deps, ready)
        outs = None   # (a gradient it holds would look shared to the next node)


def _distribute(node, outs, buffers, deps, ready):
    """Hand a node's input gradients to its children; queue the children now complete."""
    if outs is None:
        for child, _ in node.next_functions:
            if child is not None and child in deps:
                left = deps[child] - 1
                deps[child] = left
                if not left:
                    ready.append(child)
        return
    for (child, nr), g in zip(node.next_functions, outs):
        if child is None or child not in deps:   # (not on a path to autograd.grad's inputs)
            continue
        if g is not None:
            _accumulate(buffers, child, nr, g)
        left = deps[child] - 1
        deps[child] = left
        if not left:
            ready.append(child)


def _run_lean(ready, buffers, deps, retain_graph):
    """The engine's loop for plain backward(): no hooks, nothing captured.

    Leaves' gradients are handed to AccumulateGrad without a copy when this loop holds the only
    reference to the array and to the memory under it (sys.getrefcount, as torch counts uses):
    so every reference the loop keeps to a gradient is dropped before the next node runs."""
    pop = ready.pop
    push = ready.append
    bpop = buffers.pop
    bget = buffers.get
    acc_cls = AccumulateGrad
    outs = g = old = None
    while ready:
        node = pop()
        grad = bpop(node, None)
        if grad is None:
            for child, _ in node.next_functions:
                if child is not None:
                    left = deps[child] - 1
                    deps[child] = left
                    if not left:
                        push(child)
            continue
        if node.__class__ is acc_cls:
            owned = _sole_owner(grad)   # (before the call: its argument list would hold grad too)
            node._take(grad, owned)
            continue
        saved = node._saved_versions
        if saved:
            for tensor, version in saved:
                if tensor._vc[0] != version:
                    _check_versions(node)
            outs = node.apply(grad)
            if not retain_graph:
                node._release()
        elif saved is None:
            raise RuntimeError(_FREED + f" (node: {node.name()})")
        else:
            outs = node.apply(grad)
        grad = None
        if outs is None:   # a node with nothing to pass on
            for child, _ in node.next_functions:
                if child is not None:
                    left = deps[child] - 1
                    deps[child] = left
                    if not left:
                        push(child)
            continue
        for (child, nr), g in zip(node.next_functions, outs):
            if child is None:
                continue
            if g is not None:
                if child._n_outputs == 1:
                    old = bget(child)
                    buffers[child] = g if old is None else old + g
                else:
                    _accumulate(buffers, child, nr, g)
            left = deps[child] - 1
            deps[child] = left
            if not left:
                push(child)
        outs = g = old = None


_SKIP = object()


def _apply_general(node, grad, captured, retain_graph, deps, owned=False):
    """One node's step with hooks and autograd.grad's captured inputs; _SKIP ends the branch; owned: see
    _run_general."""
    if grad is not None and node in _pre_hooks:
        grad = _run_pre_hooks(node, grad)
    if captured is not None and id(node) in captured:
        leaf = node._leaf() if type(node) is AccumulateGrad else None
        if grad is not None and leaf is not None and leaf._hooks:
            # a leaf's own hooks shape what autograd.grad returns for it, as in torch (its
            # post-accumulate hooks do not run: nothing is accumulated)
            grad = _run_tensor_hooks([(0, h) for h in leaf._hooks
                                      if h.__class__ is not _PostAccumulateHooks], grad, False)
        captured[id(node)] = grad
        if type(node) is AccumulateGrad or not any(c in deps for c, _ in node.next_functions):
            return _SKIP
    if grad is None or (captured is not None and type(node) is AccumulateGrad):
        return None
    if node._saved_versions:
        _check_versions(node)
    elif node._saved_versions is None:
        raise RuntimeError(_FREED + f" (node: {node.name()})")
    if _creating_graph[0] and node.__class__ is not AccumulateGrad:
        from .higher_order import apply_on_tensors
        outs = apply_on_tensors(node, grad)
    elif owned:
        node._take(grad, True)
        outs = ()
    else:
        outs = node.apply(grad)
    if _anomaly[0] and _anomaly[1] and outs is not None:
        _check_nan(node, outs)
    if node in _post_hooks:
        for hook in _post_hooks[node]:
            hook(_tensors(outs), _tensors((grad,)))
    if not retain_graph and node._saved_versions:
        node._release()
    return outs


def _accumulate(buffers, node, nr, g):
    n_out = getattr(node, "_n_outputs", 1)
    if n_out == 1:
        old = buffers.get(node)
        buffers[node] = g if old is None else old + g
    else:
        slots = buffers.get(node)
        if slots is None:
            slots = buffers[node] = [None] * n_out
        slots[nr] = g if slots[nr] is None else slots[nr] + g


def _tensors(arrays):
    return tuple(None if a is None else a if _creating_graph[0] else _grad_tensor(a) for a in arrays)


def _grad_tensor(a):
    """A raw gradient as the Tensor hooks see: dense, or sparse for a COO (ops/sparse.py's raw sparse form)."""
    if a.__class__ is not _ndarray:
        as_tensor = getattr(a, "_as_tensor", None)
        if as_tensor is not None:
            return as_tensor()
    return _wrap(a)


def _raw(t):
    """A Tensor's raw form (what the engine passes): its array, or a sparse tensor's COO."""
    return t._coo if t.is_sparse else t._data


def _run_pre_hooks(node, grad):
    return _run_tensor_hooks(_pre_hooks[node], grad, node._n_outputs != 1)


def _run_tensor_hooks(hooks, grad, multi):
    """Run (output_nr, hook) pairs; output_nr None marks a node-level hook taking all grads."""
    for nr, hook in list(hooks):
        if nr is None:
            grads = tuple(grad) if multi else (grad,)
            out = hook(_tensors(grads))
            if out is not None:
                new = [None if o is None else o if _creating_graph[0] else _raw(o) for o in out]
                grad = new if multi else new[0]
            continue
        g = grad[nr] if multi else grad
        if g is None:
            continue
        new = hook(g if _creating_graph[0] else _grad_tensor(g))
        if new is not None:
            new = new if _creating_graph[0] else _raw(new)
            if multi:
                grad[nr] = new
            else:
                grad = new
    return grad


# ---- torch.autograd.graph's public helpers -------------------------------------------------

from collections import namedtuple as _namedtuple
import contextlib as _contextlib
import threading as _threading


class GradientEdge(_namedtuple("GradientEdge", ("node", "output_nr", "ownership_token"),
                               defaults=(None,))):
    """Where a tensor's gradient is computed in the graph: (node, output_nr)."""
    __slots__ = ()


def get_gradient_edge(tensor):
    """The GradientEdge through which tensor's gradient flows (usable as autograd.grad's input)."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does not "
                           "require gradients. Set requires_grad=True on it (or on what it is "
                           "computed from) first.")
    node, nr = edge(tensor)
    return GradientEdge(node, nr)


def increment_version(tensor):
    """Mark tensor (or each tensor of an iterable) as modified in place, for autograd's checks."""
    for t in ((tensor,) if hasattr(tensor, "_vc") else tensor):
        t._vc[0] += 1


class _MultiHandle:
    """Removes several hooks at once (register_multi_grad_hook's handle)."""

    def __init__(self, handles):
        self.handles = tuple(handles)

    def remove(self):
        for handle in self.handles:
            handle.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """Call fn once per backward pass: with all of tensors' gradients ("all") or the first ("any")."""
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = tuple(tensors)
    lock = _threading.Lock()
    if mode == "any":
        fired = weakref.WeakKeyDictionary()   # backward pass (its node table) -> already called

        def call_once(grad):
            with lock:
                task = _current_task()
                if task in fired:
                    return
                fired[task] = True
            fn(grad)

        return _MultiHandle(t.register_hook(call_once) for t in tensors if t.requires_grad)

    nodes = [edge(t)[0] for t in tensors]   # held, so a leaf's accumulator stays the same node
    pending = weakref.WeakKeyDictionary()   # backward pass -> [calls left, gradients]

    def inner(index):
        def hook(grad):
            with lock:
                task = _current_task()
                entry = pending.get(task)
                if entry is None:
                    # the tensors whose gradient this pass computes (the rest are ignored, as torch)
                    deps = task.deps
                    entry = pending[task] = [sum(n is not None and n in deps for n in nodes),
                                             [None] * len(tensors)]
                entry[1][index] = grad
                entry[0] -= 1
                done = entry[0] == 0
            if done:
                del pending[task]
                fn(entry[1])
        return hook

    return _MultiHandle(t.register_hook(inner(i)) for i, t in enumerate(tensors) if t.requires_grad)


def _current_task():
    task = state.task
    if task is None:
        raise RuntimeError("expected this hook to be called inside a backward call")
    return task


_saved_hooks_disabled = _threading.local()


class saved_tensors_hooks:
    """Pack/unpack hooks for saved tensors: not supported by ember (raises on entry)."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        message = getattr(_saved_hooks_disabled, "message", None)
        if message is not None:
            raise RuntimeError(message)
        raise NotImplementedError(
            "torch.autograd.graph.saved_tensors_hooks: ember's nodes keep what backward needs as raw "
            "arrays inside each op, so pack/unpack hooks cannot be applied to them. Run the code "
            "without the hooks (for memory, torch.utils.checkpoint recomputes activations instead).")

    def __exit__(self, *exc):
        return False


class save_on_cpu(saved_tensors_hooks):
    """Keep saved tensors on the CPU: on the CPU there is nothing to move (GPU: not supported)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        self.pin_memory = pin_memory
        self.device_type = device_type

    def __enter__(self):
        message = getattr(_saved_hooks_disabled, "message", None)
        if message is not None:
            raise RuntimeError(message)
        from .. import cuda
        if cuda.is_available():
            raise NotImplementedError(
                "torch.autograd.graph.save_on_cpu: ember cannot move the arrays its nodes save; on a "
                "GPU they would stay in GPU memory. Use torch.utils.checkpoint to save GPU memory.")
        return self


@_contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Inside, entering saved_tensors_hooks raises RuntimeError(error_message)."""
    prev = getattr(_saved_hooks_disabled, "message", None)
    _saved_hooks_disabled.message = error_message
    try:
        yield
    finally:
        _saved_hooks_disabled.message = prev


@_contextlib.contextmanager
def allow_mutation_on_saved_tensors():
    """torch clones a saved tensor when it is modified in place inside this block; ember cannot (raises)."""
    raise NotImplementedError(
        "torch.autograd.graph.allow_mutation_on_saved_tensors: ember's nodes keep what backward needs as raw "
        "arrays inside each op, so a tensor saved for backward cannot be cloned when it is modified in place. "
        "Clone it yourself before modifying it (b = b.clone(); b.sin_()), or modify it after backward.")
    yield   # (unreachable: makes this a generator, as torch's context manager)


def region_activation_memory_budget(budget):
    """The activation memory budget of a torch.compile region; ember never compiles, so it raises as torch
    does outside a compiled region (after torch's argument checks)."""
    if isinstance(budget, bool) or not isinstance(budget, (int, float)):
        raise TypeError(f"torch.autograd.graph.region_activation_memory_budget: expects a float, got "
                        f"{type(budget).__name__}")
    if not 0.0 <= budget <= 1.0:
        raise ValueError(f"torch.autograd.graph.region_activation_memory_budget: must be in [0, 1], got {budget}")
    raise RuntimeError("torch.autograd.graph.region_activation_memory_budget can only be used inside a "
                       "torch.compile region; it has no effect in eager mode.")


_stream_flags = {"warn_on_accumulate_grad_stream_mismatch": True, "override_stale_capture_stream": False}


def _set_stream_flag(name, enabled):
    if not isinstance(enabled, bool):
        raise RuntimeError(f"enabled must be a bool, but got {type(enabled).__name__}")
    _stream_flags[name] = enabled


def set_warn_on_accumulate_grad_stream_mismatch(enabled):
    """Whether to warn when AccumulateGrad's stream differs from its producer's (kept; ember's backward
    runs on one stream, so there is nothing to warn about)."""
    _set_stream_flag("warn_on_accumulate_grad_stream_mismatch", enabled)


def set_override_stale_capture_stream(enabled):
    """How autograd treats a stale stream during CUDA graph capture (kept; ember captures no CUDA graphs)."""
    _set_stream_flag("override_stale_capture_stream", enabled)
