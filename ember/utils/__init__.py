"""ember.utils."""
import copyreg as _copyreg
import weakref as _weakref


def __getattr__(name):
    # submodules are imported on first use, as torch.utils.data is reached
    if name in ("data", "hooks", "checkpoint", "tensorboard", "dlpack", "model_zoo", "benchmark"):
        import importlib
        module = importlib.import_module(__name__ + "." + name)
        from .. import _show_torch_names
        _show_torch_names()
        return module
    from .. import _backend as B
    ns = B.namespace()
    raise AttributeError(f"module '{ns}.utils' has no attribute '{name}': ember does not implement "
                         f"{ns}.utils.{name} yet")


def _poison(grad_outputs):
    from .. import _backend as B
    ns = B.namespace()
    raise RuntimeError(
        "Trying to execute AccumulateGrad node that was poisoned by swap_tensors this can happen when you try "
        "to run backward on a tensor that was swapped. For a module m with "
        f"`{ns}.__future__.set_swap_module_params_on_conversion(True)` you should not change the device or "
        "dtype of the module (e.g. `m.cpu()` or `m.half()`) between running forward and backward. To resolve "
        "this, please only change the device/dtype before running forward (or after both forward and "
        "backward).")


def _slot(cls, name):
    """The member descriptor of slot name (Tensor.grad's is hidden behind a property)."""
    from .._tensor import Tensor, _grad_slot
    if name == "grad" and issubclass(cls, Tensor):
        return _grad_slot
    for klass in cls.__mro__:
        d = klass.__dict__.get(name)
        if d is not None and type(d).__name__ == "member_descriptor":
            return d
    raise AttributeError(name)


_UNSET = object()


def _get(d, t):
    try:
        return d.__get__(t, None)
    except AttributeError:
        return _UNSET


def _put(d, t, value):
    if value is not _UNSET:
        d.__set__(t, value)
    elif _get(d, t) is not _UNSET:
        d.__delete__(t)


def swap_tensors(t1, t2):
    """Swap the contents of two Tensor objects (data, dtype, shape, grad, requires_grad, graph, hooks,
    version counter, class and __dict__), so that each keeps its identity and takes the other's content."""
    from .._tensor import Tensor
    from ..autograd.graph import _LeafRef
    # (an AccumulateGrad's reference to its leaf is autograd's own, as in torch)
    if any(r.__class__ is not _LeafRef for r in _weakref.getweakrefs(t1)):
        raise RuntimeError("Cannot swap t1 because it has weakref associated with it")
    if any(r.__class__ is not _LeafRef for r in _weakref.getweakrefs(t2)):
        raise RuntimeError("Cannot swap t2 because it has weakref associated with it")
    for name, t in (("t1", t1), ("t2", t2)):
        if not isinstance(t, Tensor):
            raise AttributeError(f"'{type(t).__name__}' object has no attribute '_use_count' (swap_tensors swaps "
                                 f"two Tensors; {name} is of type {type(t).__name__})")
    slots = set(_copyreg._slotnames(t1.__class__))
    if slots != set(_copyreg._slotnames(t2.__class__)):
        raise RuntimeError("Cannot swap t1 and t2 if they have different slots")
    for t in (t1, t2):
        # a graph already built on a leaf accumulates into it through its AccumulateGrad node: after the
        # swap that would reach the other content, so (as torch) backward through that node now raises
        acc = t._accumulator if t.grad_fn is None else None
        if acc is not None:
            acc.register_prehook(_poison)
            t._accumulator = None   # (a later graph makes a node for the swapped content)
    if t1 is t2:
        return
    # the class first: if Python refuses it (different layouts), nothing has changed yet
    t1.__class__, t2.__class__ = t2.__class__, t1.__class__
    t1.__dict__, t2.__dict__ = t2.__dict__, t1.__dict__
    for name in slots:
        d1, d2 = _slot(type(t1), name), _slot(type(t2), name)
        v1, v2 = _get(d1, t1), _get(d2, t2)
        _put(d1, t1, v2)
        _put(d2, t2, v1)
