"""Helpers for DataLoader: collation, fetching, worker processes, cross-process exceptions."""
import atexit
import sys
import traceback

# How long the main process waits on a result pipe before checking that every worker is
# still alive: short, so a killed worker is reported within a fraction of a second.
MP_STATUS_CHECK_INTERVAL = 0.1
# How long an idle worker waits on its index queue before checking that its parent still lives.
WORKER_STATUS_CHECK_INTERVAL = 1.0

IS_WINDOWS = sys.platform == "win32"

python_exit_status = False
"""True once the interpreter is shutting down: iterators then leave daemon workers to multiprocessing."""


def _set_python_exit_flag():
    global python_exit_status
    python_exit_status = True


atexit.register(_set_python_exit_flag)


class KeyErrorMessage(str):
    """A str whose repr is itself, so a re-raised KeyError shows a readable traceback."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception and its formatted traceback, to re-raise in another process."""

    def __init__(self, exc_info=None, where="in background"):
        # keep only the type and text: a traceback object would pin frames (and can't be pickled)
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        """Raise the wrapped exception type here, its message carrying the original traceback."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            # the type needs other constructor arguments: fall back to RuntimeError
            raise RuntimeError(msg) from None
        raise exception


from . import collate, fetch, worker  # noqa: E402,F401
