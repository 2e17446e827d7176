"""torchvision.ops: the building blocks torchvision's classification models are made of."""
from .misc import MLP, Conv2dNormActivation, Permute, SqueezeExcitation  # noqa: F401
from .stochastic_depth import StochasticDepth, stochastic_depth  # noqa: F401

__all__ = ["Conv2dNormActivation", "SqueezeExcitation", "MLP", "Permute", "StochasticDepth", "stochastic_depth"]
