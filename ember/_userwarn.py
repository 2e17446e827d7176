"""Warnings that point at the user's line, as torch's do.

ember's public functions reach an op through a varying number of its own frames (a method, the
type-check wrapper of torch.*/F.*, a module's forward), so a fixed stacklevel would point into
ember in some paths; this one walks out of the package instead.
"""
import sys
import warnings


def warn(message, category=UserWarning):
    """warnings.warn attributed to the first caller outside ember."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "ember":
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level - 1 if frame is None else level)
