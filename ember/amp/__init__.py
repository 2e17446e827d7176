"""torch.amp: autocast (casting the ops of torch's autocast lists: see autocast_mode) and GradScaler (torch's
dynamic loss-scaling algorithm, exact)."""
from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available  # noqa: F401
from .grad_scaler import GradScaler  # noqa: F401
from . import autocast_mode, grad_scaler  # noqa: F401

__all__ = ["autocast", "custom_bwd", "custom_fwd", "is_autocast_available", "GradScaler"]
