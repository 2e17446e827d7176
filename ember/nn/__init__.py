"""ember.nn: modules, parameters, functional and init (torch.nn's API)."""
import importlib.util as _ilu

from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter  # noqa: F401
from . import functional  # noqa: F401
from . import init  # noqa: F401
from . import modules  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules.module import Module  # noqa: F401
from . import utils  # noqa: F401
from . import attention  # noqa: F401  (torch.nn.attention: sdpa_kernel, SDPBackend)

# DataParallel / DistributedDataParallel live in ember.nn.parallel (written separately)
if _ilu.find_spec(__name__ + ".parallel") is not None:
    from . import parallel  # noqa: F401
    if hasattr(parallel, "DataParallel"):
        DataParallel = parallel.DataParallel
del _ilu


def __getattr__(name):
    # a torch.nn name ember lacks: say so plainly
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"module 'torch.nn' has no attribute '{name}': ember does not implement "
                         f"torch.nn.{name} yet")
