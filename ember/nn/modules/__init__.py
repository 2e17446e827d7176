"""ember.nn.modules: every layer class (torch.nn.modules)."""
from .module import Module  # noqa: F401
from .activation import *  # noqa: F401,F403
from .batchnorm import *  # noqa: F401,F403
from .container import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .distance import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .fold import *  # noqa: F401,F403
from .instancenorm import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .padding import *  # noqa: F401,F403
from .pixelshuffle import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .upsampling import *  # noqa: F401,F403
from . import (activation, batchnorm, container, conv, distance, dropout, flatten, fold, instancenorm, linear, loss,
               normalization, padding, pixelshuffle, pooling, rnn, sparse, upsampling)

__all__ = ["Module"]
for _m in (activation, batchnorm, container, conv, distance, dropout, flatten, fold, instancenorm, linear, loss,
           normalization, padding, pixelshuffle, pooling, rnn, sparse, upsampling):
    __all__ += _m.__all__
del _m
from .attention import *  # noqa: F401,F403,E402
from .transformer import *  # noqa: F401,F403,E402
from . import attention, transformer  # noqa: E402
__all__ += attention.__all__ + transformer.__all__
from .lazy import *  # noqa: F401,F403,E402
from . import lazy  # noqa: E402
__all__ += [n for n in lazy.__all__ if n != "LazyModuleMixin"]
from .adaptive import *  # noqa: F401,F403,E402
from . import adaptive  # noqa: E402
__all__ += adaptive.__all__
from .linear_cross_entropy import *  # noqa: F401,F403,E402
from .linear_cross_entropy_options import *  # noqa: F401,F403,E402
from . import linear_cross_entropy, linear_cross_entropy_options  # noqa: E402
__all__ += linear_cross_entropy.__all__ + linear_cross_entropy_options.__all__
# torch defines LinearCrossEntropyLoss in torch/nn/modules/loss.py: a whole-module checkpoint names it there
loss.LinearCrossEntropyLoss = LinearCrossEntropyLoss  # noqa: F405
