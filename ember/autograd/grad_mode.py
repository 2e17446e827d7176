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


state = _State()


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
    """Like no_grad (ember keeps no separate inference tensors)."""

    def __init__(self, mode=True):
        self.mode = not mode

    def __enter__(self):
        self._prev = state.enabled, state.inference
        state.enabled, state.inference = self.mode, not self.mode

    def __exit__(self, *exc):
        state.enabled, state.inference = self._prev
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.enabled, state.inference
            state.enabled, state.inference = mode, not mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled, state.inference = prev
        return wrapper


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
