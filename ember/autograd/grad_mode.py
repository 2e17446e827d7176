"""Grad modes: no_grad, enable_grad, set_grad_enabled, inference_mode."""
import functools
import threading


class _State(threading.local):
    # Thread-local, as torch's grad mode: one thread's no_grad (or the backward pass, which
    # runs with recording off) must not switch recording off for a thread building a graph
    # at the same time.  A new thread starts with recording on, whatever its parent's mode.
    __slots__ = ()
    enabled = True
    inference = False   # inside inference_mode() (torch.is_inference_mode_enabled)
    task = None         # the running backward pass's {node: pending count} (graph.run_backward)
    multithreading = True   # set_multithreading_enabled: reported only (backward runs on the calling thread)
    grad_layout = True      # enforce_grad_layout_policy: .grad takes its leaf's strides (graph.AccumulateGrad)
    view_replay = False     # ember regenerates a view changed through its base with as_strided, as torch does
                            # with view replay off (ops/shape.replay_view)


state = _State()

_INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode in "
    "computation tracked by autograd. To work around this, you can make a clone to get a normal tensor and "
    "use it in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`.")
_INFERENCE_INPLACE = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a "
    "normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details.")


class InferenceVersion(list):
    """The version counter of an inference tensor (one made in inference_mode, and its views): torch keeps
    none for them, so outside inference mode they can be neither saved for backward (an op that records
    a node reads the version it saves: refused here) nor changed in place (refused before the write by
    check_inplace; here too, as a last guard)."""

    __slots__ = ()

    def __getitem__(self, i):
        if state.enabled and not state.inference:
            raise RuntimeError(_INFERENCE_SAVED)
        return list.__getitem__(self, i)

    def __setitem__(self, i, value):
        if not state.inference:
            raise RuntimeError(_INFERENCE_INPLACE)
        list.__setitem__(self, i, value)


def new_version():
    """A fresh tensor's version counter: an inference tensor's inside inference_mode (callers check
    inference_threads first)."""
    return InferenceVersion((0,)) if state.inference else [0]


def check_inplace(t):
    """Refuse, before anything is written, an in-place change of an inference tensor outside inference
    mode, as torch does."""
    if t._vc.__class__ is InferenceVersion and not state.inference:
        raise RuntimeError(_INFERENCE_INPLACE)


def is_grad_enabled():
    """True when operations record the autograd graph."""
    return state.enabled


class _GradMode:
    """A context manager that is also a decorator; subclasses choose the mode."""

    mode = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self.mode

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return type(self)()


class no_grad(_GradMode):
    """Disable gradient recording inside the block or decorated function."""

    mode = False

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if callable(fn):  # used as @no_grad without parentheses
            return self(fn)
        return self

    def __init__(self, fn=None):
        pass


class enable_grad(no_grad):
    """Enable gradient recording inside the block or decorated function."""

    mode = True


class inference_mode(_GradMode):
    """no_grad whose tensors are inference tensors: outside the mode they can be neither saved for
    backward nor changed in place (see InferenceVersion)."""

    def __init__(self, mode=True):
        self.mode = not mode

    def __enter__(self):
        self._prev = state.enabled, state.inference
        state.enabled = self.mode
        _set_inference(not self.mode)

    def __exit__(self, *exc):
        state.enabled = self._prev[0]
        _set_inference(self._prev[1])
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.enabled, state.inference
            state.enabled = mode
            _set_inference(not mode)
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled = prev[0]
                _set_inference(prev[1])
        return wrapper


# Threads inside inference_mode, so that a tensor's constructor (the hot path) reads one list item, not
# the thread-local flag, to know that it makes a normal tensor (a + b on 2 x 2: +60 ns against +10)
inference_threads = [0]
_inference_lock = threading.Lock()


def _set_inference(flag):
    if flag != state.inference:
        with _inference_lock:
            inference_threads[0] += 1 if flag else -1
        state.inference = flag


def is_inference_mode_enabled():
    """True inside inference_mode()."""
    return state.inference


class set_grad_enabled(_GradMode):
    """Set gradient recording on or off, as a call, context manager or decorator."""

    def __init__(self, mode):
        self._prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        state.enabled = self._prev
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


def is_multithreading_enabled():
    """True unless set_multithreading_enabled(False) is in effect in this thread."""
    return state.multithreading


def is_view_replay_enabled():
    """Whether view replay is forced on (torch's _force_original_view_tracking); off by default."""
    return state.view_replay


class _FlagMode:
    """A thread-local flag set when constructed and restored on exit; usable as a function, a context
    manager or a decorator (torch's _DecoratorContextManager pattern)."""

    _flag = _setter = ""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"{self._setter}(): argument 'enabled' (position 1) must be bool, not "
                            f"{type(mode).__name__}")
        self.prev = getattr(state, self._flag)
        setattr(state, self._flag, mode)
        self.mode = mode

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        setattr(state, self._flag, self.prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        """A new instance with the same mode (it sets the flag again)."""
        return self.__class__(self.mode)


class set_multithreading_enabled(_FlagMode):
    """Enable or disable multithreaded backward, as a call or a context manager (ember's backward runs on
    the calling thread either way; the flag is kept and reported as torch's)."""

    _flag, _setter = "multithreading", "set_multithreading_enabled"

    def __init__(self, mode):
        super().__init__(mode)


class enforce_grad_layout_policy(_FlagMode):
    """Enforce (True) or relax (False) the layout contract: a new .grad takes its leaf's strides; relaxed,
    a gradient the engine owns is kept in its own layout."""

    _flag, _setter = "grad_layout", "set_grad_layout_enforcement_enabled"

    def __init__(self, enable=True):
        super().__init__(enable)

    def __call__(self, fn):
        # as torch: decorating restores the flag now and sets it only while fn runs
        setattr(state, self._flag, self.prev)
        return super().__call__(fn)
