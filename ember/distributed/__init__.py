"""ember.distributed: torch.distributed's API (process groups, collectives) on MPI via mpi4py.

Launch a job with ``mpiexec -n N python train.py`` or ``python -m ember.distributed.run
--nproc-per-node N train.py``.  Importing this package does not start MPI (init_process_group
does), but under an MPI launcher it exports RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE
from the launcher's variables and makes an uncaught exception abort the whole job instead of
leaving the other ranks waiting forever.
"""
from . import _mpi_env
from .distributed_c10d import *  # noqa: F401,F403
from .distributed_c10d import __all__  # noqa: F401


def _setup_launch_env():
    info = _mpi_env.launcher_info()
    if info is None or info.family == "torchrun-style environment":
        return
    _mpi_env.export_torch_env(info)
    if info.size > 1:
        _mpi_env.install_abort_hook()


_setup_launch_env()
