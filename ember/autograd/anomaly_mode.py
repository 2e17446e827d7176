"""Anomaly mode: make backward raise as soon as a node returns NaN gradients.

As in torch, ``detect_anomaly()`` / ``set_detect_anomaly(True)`` make the engine check each
node's output gradients and raise ``RuntimeError: Function 'MulBackward0' returned nan values in
its 0th output.``. Unlike torch, ember does not record the forward call's traceback, which would
cost every op a stack walk.
"""
from .._userwarn import warn as _warn_user

# [enabled, check_nan]; read by the engine once per backward
state = [False, True]


def is_anomaly_enabled():
    """True while anomaly detection is on."""
    return state[0]


def is_anomaly_check_nan_enabled():
    """True when anomaly detection checks backward outputs for NaN (the default)."""
    return state[1]


def set_anomaly_enabled(enabled, check_nan=True):
    """Turn anomaly detection on or off."""
    state[0] = bool(enabled)
    state[1] = bool(check_nan)


class detect_anomaly:
    """Context manager that turns anomaly detection on inside its block."""

    def __init__(self, check_nan=True):
        self.prev = state[0]
        self.check_nan = check_nan
        self.prev_check_nan = state[1]
        _warn_user("Anomaly Detection has been enabled. This mode will increase the runtime and "
                   "should only be enabled for debugging.")

    def __enter__(self):
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *args):
        set_anomaly_enabled(self.prev, self.prev_check_nan)


class set_detect_anomaly:
    """Turn anomaly detection on or off, as a call or as a context manager restoring it after."""

    def __init__(self, mode, check_nan=True):
        self.prev = state[0]
        self.prev_check_nan = state[1]
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self):
        pass

    def __exit__(self, *args):
        set_anomaly_enabled(self.prev, self.prev_check_nan)


def check_nan(node, outs):
    """Raise torch's error when a backward node produced NaN in one of its outputs."""
    from .._backend import xp_of
    for i, g in enumerate(outs):
        if getattr(g, "dtype", None) is not None and g.dtype.kind == "f" and bool(xp_of(g).isnan(g).any()):
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")
