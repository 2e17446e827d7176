"""torch.cpu.amp (deprecated in torch): autocast and GradScaler."""
from ._deprecated import CpuAutocast as autocast, CpuGradScaler as GradScaler  # noqa: F401

__all__ = ["autocast", "GradScaler"]
