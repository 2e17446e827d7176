"""torch.cuda.amp (deprecated in torch): autocast, GradScaler, custom_fwd, custom_bwd."""
from ._deprecated import CudaAutocast as autocast, CudaGradScaler as GradScaler, _deprecated_fn
from .autocast_mode import custom_bwd as _custom_bwd, custom_fwd as _custom_fwd

custom_fwd = _deprecated_fn("custom_fwd", "cuda")(_custom_fwd)
custom_bwd = _deprecated_fn("custom_bwd", "cuda")(_custom_bwd)

__all__ = ["autocast", "custom_bwd", "custom_fwd", "GradScaler"]
