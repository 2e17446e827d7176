"""torch.utils.benchmark: Timer, Measurement and Compare (wall-clock timing; no Callgrind, no fuzzers)."""
from .utils.common import *  # noqa: F401,F403
from .utils.timer import *  # noqa: F401,F403
from .utils.compare import *  # noqa: F401,F403
