"""The MPI launch environment, read without starting MPI, and the abort-on-exception hook.

An MPI launcher tells each process its rank through environment variables whose names depend
on the MPI family.  ember reads them to export torch's RANK / WORLD_SIZE / LOCAL_RANK /
LOCAL_WORLD_SIZE (scripts read those before init_process_group) and to notice a launcher that
belongs to a different MPI than the library mpi4py uses (each process then sees a world of 1).
"""
import os
import signal
import sys
import time

# (family, size, rank, local rank, local size) variable names of each launcher family
_LAUNCHERS = (
    ("Open MPI", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"),
    ("MPICH / Intel MPI (Hydra)", "PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"),
    ("MVAPICH", "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_LOCAL_RANK",
     "MV2_COMM_WORLD_LOCAL_SIZE"),
)


class LaunchInfo:
    """What the launcher's environment variables say about this process."""

    __slots__ = ("family", "size", "rank", "local_rank", "local_size", "source")

    def __init__(self, family, size, rank, local_rank, local_size, source):
        self.family = family
        self.size = size
        self.rank = rank
        self.local_rank = local_rank
        self.local_size = local_size
        self.source = source  # "PMI_SIZE=2": the variable that said so, for error messages


def _int(name, default=None):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        return default


def launcher_info():
    """The rank and size an MPI launcher (or torchrun's variables) gave this process, or None."""
    for family, size_var, rank_var, lrank_var, lsize_var in _LAUNCHERS:
        size = _int(size_var)
        if size is not None:
            rank = _int(rank_var, 0)
            return LaunchInfo(family, size, rank, _int(lrank_var, rank), _int(lsize_var, size),
                              f"{size_var}={size}")
    size = _int("WORLD_SIZE")
    if size is not None:
        rank = _int("RANK", 0)
        return LaunchInfo("torchrun-style environment", size, rank, _int("LOCAL_RANK", rank),
                          _int("LOCAL_WORLD_SIZE", size), f"WORLD_SIZE={size}")
    return None


def export_torch_env(info=None):
    """Set RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE from the MPI launcher's variables."""
    info = info if info is not None else launcher_info()
    if info is None or info.family == "torchrun-style environment":
        return
    os.environ["RANK"] = str(info.rank)
    os.environ["WORLD_SIZE"] = str(info.size)
    os.environ["LOCAL_RANK"] = str(info.local_rank)
    os.environ["LOCAL_WORLD_SIZE"] = str(info.local_size)


# ---- abort the whole job when one rank fails -------------------------------------------------
_previous_hook = None
_OUTPUT_GRACE_S = 0.3


def install_abort_hook():
    """Make an uncaught exception in this process abort every rank (MPI_Abort) after printing it.

    Under plain ``python`` an MPI job whose rank died of an exception waits forever for it in
    the next collective; aborting turns that hang into a failed job within a second.
    """
    global _previous_hook, _hook_pid
    if sys.excepthook is _abort_on_exception:
        return
    _previous_hook = sys.excepthook
    _hook_pid = os.getpid()
    sys.excepthook = _abort_on_exception


_hook_pid = None


def _abort_on_exception(etype, value, tb):
    try:
        (_previous_hook or sys.__excepthook__)(etype, value, tb)
    except Exception:
        pass
    if os.getpid() != _hook_pid:
        return  # a forked child (a DataLoader worker) is not an MPI rank: never abort from it
    if issubclass(etype, KeyboardInterrupt):
        abort(130, "interrupted (KeyboardInterrupt)")
    abort(1, f"uncaught {etype.__name__}")


def _rank_words():
    MPI = sys.modules.get("mpi4py.MPI")
    if MPI is not None and MPI.Is_initialized() and not MPI.Is_finalized():
        return f"rank {MPI.COMM_WORLD.Get_rank()} of {MPI.COMM_WORLD.Get_size()}"
    info = launcher_info()
    return f"rank {info.rank} of {info.size}" if info is not None else "this process"


def abort(code, why):
    """Print why, then end every rank of the job with exit code ``code``."""
    MPI = sys.modules.get("mpi4py.MPI")
    mpi_up = MPI is not None and MPI.Is_initialized() and not MPI.Is_finalized()
    try:
        print(f"ember.distributed: {_rank_words()}: {why}; aborting every rank of the job "
              f"({'MPI_Abort' if mpi_up else 'MPI not started here: SIGKILL, so that mpiexec ends the job'})",
              file=sys.stderr)
    except Exception:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    # the launcher forwards our output through pipes and stops reading once it kills the job:
    # give it a moment to pass on the traceback before pulling the plug
    time.sleep(_OUTPUT_GRACE_S)
    if mpi_up:
        MPI.COMM_WORLD.Abort(code)
    # MPI never started in this process (it failed before init_process_group): a rank killed by
    # a signal is what every MPI launcher treats as a failed job, and it then kills the others.
    os.kill(os.getpid(), signal.SIGKILL)


def find_mpiexec():
    """The mpiexec of the MPI that mpi4py runs on: next to this Python, else on PATH."""
    import shutil
    import sysconfig
    override = os.environ.get("EMBER_MPIEXEC")
    if override:
        return override
    names = ("mpiexec", "mpirun", "mpiexec.hydra")
    dirs = [os.path.dirname(sys.executable)]
    try:
        dirs.append(sysconfig.get_path("scripts"))
    except KeyError:
        pass
    for d in dirs:
        for name in names:
            path = os.path.join(d, name)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None
