"""One rank of a job started by ember.distributed.run: run the script, abort the job if it fails.

``python -m ember.distributed._worker [--no-torch-alias] [-m] SCRIPT [ARGS...]`` (mpiexec runs
this on every rank).
"""
import os
import runpy
import sys
import traceback

from . import _mpi_env


def _print_traceback(target):
    """Print the failure from the user's code down, without this runner's frames."""
    etype, value, tb = sys.exc_info()
    here = os.path.abspath(__file__)
    runpy_file = os.path.abspath(runpy.__file__)
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if not (name.startswith("<frozen runpy") or os.path.abspath(name) in (here, runpy_file)):
            break
        tb = tb.tb_next
    traceback.print_exception(etype, value, tb)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    alias = True
    as_module = False
    while argv and argv[0] in ("--no-torch-alias", "-m"):
        flag = argv.pop(0)
        if flag == "-m":
            as_module = True
        else:
            alias = False
    if not argv:
        print("usage: python -m ember.distributed._worker [--no-torch-alias] [-m] SCRIPT [ARGS...]",
              file=sys.stderr)
        return 2
    target, script_args = argv[0], argv[1:]
    info = _mpi_env.launcher_info()
    _mpi_env.export_torch_env(info)
    try:
        from mpi4py import MPI  # start MPI now, so that a failure anywhere can MPI_Abort the job
    except ImportError as e:
        # every rank fails the same way and exits: nothing waits, so no abort is needed
        print(f"ember distributed-run: mpi4py is not installed ({e}): pip install 'ember[distributed]' "
              "(or: pip install mpi4py mpich)", file=sys.stderr)
        return 1
    _mpi_env.install_abort_hook()
    size = MPI.COMM_WORLD.Get_size()
    if info is not None and info.size != size:
        library = " ".join(MPI.Get_library_version().splitlines()[0].split())
        print(f"ember distributed-run: mpiexec started {info.size} processes ({info.source}) but MPI in "
              f"each sees a world of {size}: this mpiexec belongs to a different MPI than the one "
              f"mpi4py uses ({library}). Pass "
              f"--mpiexec {_mpi_env.find_mpiexec() or 'PATH/TO/mpiexec'} (the one installed with "
              "mpi4py's MPI).", file=sys.stderr)
        return 1
    if alias:
        from .. import compat
        compat.install()
    try:
        if as_module:
            sys.argv = [target] + script_args
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.argv = [target] + script_args
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code is None or code == 0:
            return 0
        if not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        # the other ranks would wait for this one forever in their next collective
        _mpi_env.abort(code, f"the script exited with status {code}")
    except BaseException as e:  # noqa: B902 -- KeyboardInterrupt too: end every rank
        _print_traceback(target)
        _mpi_env.abort(130 if isinstance(e, KeyboardInterrupt) else 1, f"uncaught {type(e).__name__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
