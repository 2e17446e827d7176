"""ember.utils.data: datasets, samplers and DataLoader (torch.utils.data's API)."""
from . import _utils  # noqa: F401
from ._utils.collate import default_collate, default_convert
from ._utils.worker import get_worker_info
from .dataloader import DataLoader, _DatasetKind  # noqa: F401
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
                      random_split)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset", "IterableDataset",
           "RandomSampler", "Sampler", "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler",
           "TensorDataset", "WeightedRandomSampler", "default_collate", "default_convert", "get_worker_info",
           "random_split"]


def __getattr__(name):
    # DistributedSampler lives in distributed.py (torch exports it here too); imported on first use
    if name == "DistributedSampler":
        from .distributed import DistributedSampler
        return DistributedSampler
    if name == "distributed":  # torch.utils.data.distributed is reachable without importing it
        import importlib  # not "from . import": that would call this __getattr__ again
        return importlib.import_module(__name__ + ".distributed")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
