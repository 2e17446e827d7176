"""torch.signal: signal-processing helpers (today, as in torch, only the window functions)."""
from . import windows

__all__ = ["windows"]
