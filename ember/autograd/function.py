"""autograd.Function: user-defined ops with their own forward and backward."""
from .grad_mode import state
from .graph import Node, edge
from . import forward_ad as _fwad


class FunctionCtx:
    """The ctx object passed to forward/backward: saved tensors and flags."""

    def save_for_backward(self, *tensors):
        """Keep tensors for backward (checked against in-place changes)."""
        from .._tensor import Tensor
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {i} is of type "
                                f"{type(t).__name__} (keep other values as attributes of ctx: ctx.name = value)")
        self._to_save = tensors

    @property
    def saved_tensors(self):
        saved = getattr(self, "_saved", None)
        if saved is None:
            raise RuntimeError("Trying to backward through the graph a second time (saved tensors "
                               "were freed); specify retain_graph=True.")
        return saved

    def mark_dirty(self, *tensors):
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_diff = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        self.materialize_grads = value


class _FunctionNode(Node, FunctionCtx):
    __slots__ = ("_fn_cls", "_n_outputs", "_output_nrs", "_to_save", "_saved", "needs_input_grad",
                 "_input_index", "__dict__", "_shapes", "_dtypes", "_n_inputs")

    def name(self):
        return self._fn_cls.__name__ + "Backward"

    def __repr__(self):
        return f"<torch.autograd.function.{self.name()} object at {hex(id(self))}>"

    def apply(self, grad):
        import numpy as np
        from .._tensor import _wrap
        grads = grad if isinstance(grad, list) else [grad]
        if self.__dict__.get("materialize_grads", True):
            gts = tuple(_wrap(g if g is not None else np.zeros(s, dtype=d))
                        for g, s, d in zip(grads, self._shapes, self._dtypes))
        else:   # ctx.set_materialize_grads(False): an output that got no gradient gives backward None
            gts = tuple(None if g is None else _wrap(g) for g in grads)
        out = self._fn_cls.backward(self, *gts)
        if not isinstance(out, tuple):
            out = (out,)
        # one gradient per forward input, as torch checks (trailing Nones beyond them are dropped)
        if len(out) < self._n_inputs or any(g is not None for g in out[self._n_inputs:]):
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients (expected "
                               f"{self._n_inputs}, got {len(out)})")
        res = []
        for idx in self._input_index:
            g = out[idx] if idx < len(out) else None
            res.append(None if g is None else g._data)
        return tuple(res)

    def _release(self):
        self._saved = None
        self._saved_versions = None


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        # as torch's FunctionMeta: each Function gets its node class, named <Function>Backward
        cls._backward_cls = type(name + "Backward", (_FunctionNode,), {"__slots__": ()})
        super().__init__(name, bases, attrs)


class Function(metaclass=_FunctionMeta):
    """Subclass with static forward(ctx, *args) (or forward(*args) plus setup_context(ctx, inputs,
    output)) and backward(ctx, *grads); call .apply(*args)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Override (with a forward taking no ctx) to fill ctx from forward's inputs and output."""
        raise NotImplementedError("setup_context is not implemented.")

    def __init__(self, *args, **kwargs):
        import warnings
        warnings.warn(f"{self.__class__} should not be instantiated. Methods on autograd functions are all static, "
                      "so you should invoke them on the class itself. Instantiating an autograd function will raise "
                      "an error in a future version of PyTorch.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is deprecated. Please use "
                           "new-style autograd function with static forward method. (Example: "
                           "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward and, when inputs require grad, record the backward node."""
        from .._tensor import Tensor
        separate = cls.setup_context is not _BASE_SETUP_CONTEXT
        if separate or kwargs:
            # as torch: inputs bound to forward's signature (after ctx), defaults filled in, so a tensor
            # passed by keyword is an input too; setup_context gets them so
            sig = cls.__dict__.get("_forward_signature")
            if sig is None:
                import inspect
                sig = inspect.signature(cls.forward)
                if not separate:
                    sig = sig.replace(parameters=list(sig.parameters.values())[1:])
                cls._forward_signature = sig
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            args, kwargs = bound.args, bound.kwargs
        tensor_args = [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor)]
        record = state.enabled and any(a._requires_grad for _, a in tensor_args)
        node = cls._backward_cls.__new__(cls._backward_cls)
        node._fn_cls = cls
        node._to_save = ()
        node.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        prev = state.enabled
        state.enabled = False
        try:
            if separate:
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(node, args, outputs)
            else:
                outputs = cls.forward(node, *args, **kwargs)
            dirty = getattr(node, "_dirty", ())
            for t in dirty:
                t._vc[0] += 1   # (torch counts a marked tensor's change once more)
            inputs = [a for _, a in tensor_args]
            if isinstance(outputs, Tensor):
                outputs = _fresh_view(outputs, inputs, dirty)
            elif isinstance(outputs, tuple):
                outputs = tuple(_fresh_view(o, inputs, dirty) for o in outputs)
        finally:
            state.enabled = prev
        if _fwad._duals and getattr(cls, "jvp", None) is not None:
            # inside a forward AD level a Function with its own jvp rule gets its tangents from it
            return _fwad._custom_function_jvp(cls, node, args, outputs)
        if not record:
            return outputs
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        for t in getattr(node, "_dirty", ()):
            if t._requires_grad and t.grad_fn is None:   # (torch checks a dirty leaf once forward returns)
                raise RuntimeError("a leaf Variable that requires grad has been used in an in-place operation.")
        node.next_functions = tuple(edge(a) for _, a in tensor_args)
        node._input_index = tuple(i for i, _ in tensor_args)
        node._n_inputs = len(args)
        node._saved = tuple(node._to_save)
        node._saved_versions = tuple((t, t._vc[0]) for t in node._saved if isinstance(t, Tensor)) or \
            ((outs[0], outs[0]._vc[0]),)
        node._n_outputs = len(outs)
        node._output_nrs = {}
        node._shapes = tuple(o._data.shape for o in outs)
        node._dtypes = tuple(o._data.dtype for o in outs)
        non_diff = getattr(node, "_non_diff", set())
        for i, o in enumerate(outs):
            # floating and complex outputs are differentiable, as in torch
            if isinstance(o, Tensor) and id(o) not in non_diff and (o.is_floating_point() or o.is_complex()):
                o.grad_fn = node
                o._requires_grad = True
                node._output_nrs[id(o)] = i
        return outputs


_BASE_SETUP_CONTEXT = Function.setup_context


def _fresh_view(output, inputs, dirty):
    """An input that forward returns unchanged comes back as a new view of it, as in torch, so that the
    input keeps its own grad_fn (a leaf stays a leaf); one marked dirty comes back itself."""
    if any(output is a for a in inputs) and not any(output is t for t in dirty):
        return output.view_as(output)
    return output


def once_differentiable(fn):
    """Decorator for a Function's backward that is not differentiable itself, as torch's: backward runs
    without recording, so its result carries no graph (a second derivative through it fails)."""
    import functools

    from .grad_mode import no_grad

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    return wrapper
