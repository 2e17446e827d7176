"""How a call such as torch.relu(proxy) becomes a graph node: ember has no __torch_function__.

While any Proxy is alive (or a Tracer is tracing), the public functions of ember's torch namespaces
(torch.*, torch.nn.functional.*, torch.linalg.*, torch.fft.*, torch.special.*) are replaced in their modules
by wrappers that record a call_function node when an argument holds a Proxy, and call the function
otherwise; Tensor's binary operators record `tensor.add(proxy)` as torch's do.  When the last Proxy goes
away everything is put back, so ember's ops cost nothing extra outside tracing.
"""
import functools

from . import _names

Proxy = None   # (set by proxy.py: the class is defined there)

_live = 0          # Proxies counted alive outside tracing, plus tracings under way
tracing = 0        # Tracer.trace calls under way (their own Proxies are not counted)
_installed = []    # (namespace dict, name, original, wrapper)
_wrappers = {}     # id(function) -> its recording wrapper


def find_proxy(args, kwargs=None):
    """The first Proxy in args/kwargs (looking into lists, tuples, dicts and slices), else None."""
    for a in args:
        p = _find(a)
        if p is not None:
            return p
    if kwargs:
        for a in kwargs.values():
            p = _find(a)
            if p is not None:
                return p
    return None


def _find(a):
    if isinstance(a, Proxy):
        return a
    if isinstance(a, (list, tuple)):
        for x in a:
            p = _find(x)
            if p is not None:
                return p
    elif isinstance(a, dict):
        for x in a.values():
            p = _find(x)
            if p is not None:
                return p
    elif isinstance(a, slice):
        return _find((a.start, a.stop, a.step))
    return None


def tracer_of(proxy, args, kwargs, what):
    """The one tracer of the Proxies in args/kwargs (torch's RuntimeError when they come from several)."""
    tracers = {}

    def collect(a):
        if isinstance(a, Proxy):
            tracers[a.tracer] = None
        elif isinstance(a, (list, tuple)):
            for x in a:
                collect(x)
        elif isinstance(a, dict):
            for x in a.values():
                collect(x)
    collect(args)
    collect(kwargs)
    if len(tracers) > 1:
        raise RuntimeError(f"Found multiple different tracers {list(tracers)} while trying to trace operations "
                           f"{what}")
    return proxy.tracer


class _Recorder:
    """Stands in for an ember function while recording: calls it, or records a node when an argument holds a
    Proxy.  It equals and hashes as the function, so that `node.target == torch.relu` and dicts keyed by
    torch functions work while it is installed."""

    __slots__ = ("_fx_recorded", "_entry", "_spec", "_as_method", "__dict__")

    def __init__(self, e):
        self._fx_recorded = e.fn
        self._entry = e
        self._spec = _names.call_spec(e)
        # torch's F.sigmoid(x) and F.tanh(x) call x.sigmoid(), x.tanh()
        self._as_method = e.module.__name__ == "ember.nn.functional" and e.attr in ("sigmoid", "tanh")
        functools.update_wrapper(self, e.fn)

    def __call__(self, *args, **kwargs):
        fn = self._fx_recorded
        proxy = find_proxy(args, kwargs)
        if proxy is None:
            return fn(*args, **kwargs)
        e = self._entry
        tracer = tracer_of(proxy, args, kwargs, fn)
        if self._as_method:
            return tracer.create_proxy("call_method", e.attr, args, kwargs)
        target, name = fn, e.name
        if self._spec is not None:
            target, name, args, kwargs = self._spec.normalize(e, args, kwargs)
        return tracer.create_proxy("call_function", target, args, kwargs, name=tracer.graph._target_to_str(name))

    def __eq__(self, other):
        return other is self or other is self._fx_recorded

    def __hash__(self):
        return hash(self._fx_recorded)

    def __repr__(self):
        return repr(self._fx_recorded)

    def __get__(self, obj, objtype=None):   # (a function stored on a class still binds, as the original)
        return self if obj is None else functools.partial(self, obj)


def _recorder(e):
    w = _wrappers.get(id(e.fn))
    if w is None or w._fx_recorded is not e.fn:
        w = _wrappers[id(e.fn)] = _Recorder(e)
    return w


def recorder_for(value):
    """The recording wrapper for `value` when it is an ember public function that records, else None."""
    e = _names.entry(value)
    if e is None or not e.records or _names.unwrap(value) is not value:
        return None
    return _recorder(e)


# Tensor's operators as torch records them when the other operand is a Proxy (tensor + proxy is
# `tensor.add(proxy)`); Python would otherwise fall back to Proxy.__radd__ and record `tensor + proxy`
_TENSOR_OPERATORS = {
    "__add__": "add", "__sub__": "sub", "__mul__": "mul", "__truediv__": "div", "__matmul__": "matmul",
    "__pow__": "pow", "__mod__": "remainder", "__floordiv__": "__floordiv__", "__and__": "__and__",
    "__or__": "__or__", "__xor__": "__xor__", "__lshift__": "__lshift__", "__rshift__": "__rshift__",
    "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge", "__eq__": "eq", "__ne__": "ne",
}


def _operator_recorder(orig, method):
    @functools.wraps(orig)
    def record(self, other):
        if isinstance(other, Proxy):
            return other.tracer.create_proxy("call_method", method, (self, other), {})
        return orig(self, other)
    return record


def _install():
    from .._tensor import Tensor
    for e in _names.entries().values():
        if not e.records:
            continue
        d = vars(e.module)
        if d.get(e.attr) is e.fn:
            w = _recorder(e)
            d[e.attr] = w
            _installed.append((d, e.attr, e.fn, w))
    for dunder, method in _TENSOR_OPERATORS.items():
        orig = Tensor.__dict__.get(dunder)
        if orig is not None:
            w = _operator_recorder(orig, method)
            setattr(Tensor, dunder, w)
            _installed.append((Tensor, dunder, orig, w))


def _uninstall():
    while _installed:
        where, name, orig, w = _installed.pop()
        if isinstance(where, dict):
            if where.get(name) is w:   # (left alone if someone rebound the name meanwhile)
                where[name] = orig
        elif where.__dict__.get(name) is w:
            setattr(where, name, orig)


def acquire():
    """One more reason to keep the recording wrappers installed (installing them on the first)."""
    global _live
    _live += 1
    if _live == 1:
        try:
            _install()
        except BaseException:
            _uninstall()
            _live -= 1
            raise


def release():
    """One reason fewer; the last one puts ember's functions back."""
    global _live
    if _live <= 0:
        return
    _live -= 1
    if _live == 0:
        _uninstall()


def installed():
    """Whether the recording wrappers are in place (for tests)."""
    return bool(_installed)
