"""ember.nn.parallel: DistributedDataParallel (over ember.distributed) and DataParallel."""
from ..modules.module import Module
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]


class DataParallel(Module):
    """torch's single-process DataParallel: ember runs one device per process, so this just runs
    the wrapped module (as torch does without several GPUs); use DistributedDataParallel to
    train on several processes."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        """Run the wrapped module."""
        return self.module(*inputs, **kwargs)
