"""torch.distributions.exp_family: ExponentialFamily (defined with Distribution)."""
from .distribution import ExponentialFamily

__all__ = ["ExponentialFamily"]
