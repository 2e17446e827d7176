"""Launch a training script on N ranks: ``python -m ember.distributed.run --nproc-per-node N train.py``.

It runs ``mpiexec -n N`` of the MPI that mpi4py uses (the one next to this Python, from the
``mpich`` wheel), with one BLAS thread per rank, and each rank runs the script under a hook
that aborts the whole job as soon as any rank fails (an uncaught exception, or sys.exit with a
non-zero status), so a failed job ends within seconds instead of hanging.  Each rank sees
RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE in its environment, as under torchrun; the
script calls ``torch.distributed.init_process_group()`` (torch mapped to ember) as usual.
"""
import argparse
import os
import sys

from . import _mpi_env

# BLAS libraries read these at load time: one thread per rank, or N ranks x cores threads
# fight over the cores (torchrun sets OMP_NUM_THREADS=1 for the same reason)
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _nproc(value):
    if value in ("auto", "cpu"):
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:
            return os.cpu_count() or 1
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--nproc-per-node expects a positive integer or 'auto', got '{value}'")
    if n < 1:
        raise argparse.ArgumentTypeError(f"--nproc-per-node expects a positive integer, got {n}")
    return n


def _parser(prog):
    p = argparse.ArgumentParser(
        prog=prog, description="Run a training script on N MPI ranks (ember.distributed's launcher).",
        epilog="Multi-node jobs: call mpiexec directly (mpiexec -f hostfile -n N python train.py).")
    p.add_argument("--nproc-per-node", "--nproc_per_node", dest="nproc", type=_nproc, default=1,
                   metavar="N", help="number of ranks to start (default 1; 'auto': one per CPU)")
    p.add_argument("--mpiexec", default=None,
                   help="the mpiexec to use (default: the one next to this Python, or $EMBER_MPIEXEC)")
    p.add_argument("--mpiexec-arg", action="append", default=[], metavar="ARG",
                   help="extra argument passed to mpiexec before the program (repeatable)")
    p.add_argument("--no-torch-alias", action="store_true",
                   help="do not map `import torch` / `import torchvision` to ember in the script")
    p.add_argument("--standalone", action="store_true", help="accepted for torchrun compatibility")
    p.add_argument("-m", "--module", action="store_true", help="run the target as a module (python -m)")
    p.add_argument("script", help="the training script (or module with -m)")
    p.add_argument("script_args", nargs=argparse.REMAINDER, help="arguments for the script")
    return p


def build_command(args):
    """The mpiexec command line and environment for parsed arguments."""
    mpiexec = args.mpiexec or _mpi_env.find_mpiexec()
    if mpiexec is None:
        raise SystemExit(
            "ember distributed-run: no mpiexec found next to this Python or on PATH. Install the MPI "
            "the ranks use: pip install 'ember[distributed]' (or: pip install mpi4py mpich), or point "
            "EMBER_MPIEXEC at the mpiexec of the MPI that mpi4py was built with.")
    if not args.module and not os.path.isfile(args.script):
        raise SystemExit(f"ember distributed-run: can't open file '{args.script}': no such file")
    env = dict(os.environ)
    for var in _THREAD_VARS:
        env.setdefault(var, "1")  # an explicit setting wins, as with torchrun
    env.setdefault("PYTHONUNBUFFERED", "1")  # see each rank's output as it happens
    # the ranks must import this same ember, installed or not
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    worker = [sys.executable, "-m", "ember.distributed._worker"]
    if args.no_torch_alias:
        worker.append("--no-torch-alias")
    if args.module:
        worker.append("-m")
    cmd = [mpiexec, "-n", str(args.nproc), *args.mpiexec_arg, *worker, args.script, *args.script_args]
    return cmd, env


def main(argv=None, prog="python -m ember.distributed.run"):
    """Parse the launcher's arguments and replace this process by mpiexec running the ranks."""
    args = _parser(prog).parse_args(argv)
    cmd, env = build_command(args)
    sys.stdout.flush()
    sys.stderr.flush()
    # exec: mpiexec takes this process's place, so Ctrl-C and kill reach it directly and the
    # job's exit status is this command's
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
