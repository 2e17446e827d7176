"""The `ember` command: `ember run SCRIPT [ARGS...]` and `ember info`."""
import argparse
import os
import runpy
import sys
import traceback


def _run(script, args):
    if not os.path.isfile(script):
        print(f"ember run: can't open file '{script}': no such file", file=sys.stderr)
        return 2
    with open(script, "rb") as f:
        source = f.read()
    try:
        compile(source, script, "exec")
    except SyntaxError as e:
        print(f"ember run: {script}, line {e.lineno}: SyntaxError: {e.msg}", file=sys.stderr)
        return 1
    from . import compat
    compat.install()
    sys.argv = [script] + list(args)
    script_dir = os.path.dirname(os.path.abspath(script))
    sys.path.insert(0, script_dir)
    try:
        # an absolute path, as `python script.py` gives __file__ and warning/traceback locations
        # (joined to the working directory, not normalised: python keeps "..")
        runpy.run_path(os.path.join(os.getcwd(), script), run_name="__main__")
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)  # sys.exit("message"), as python itself reports it
        return 1
    except ImportError as e:
        if "ember does not implement" in str(e):
            print(f"ember run: {script}: {e}", file=sys.stderr)
            return 1
        _print_user_traceback(script)
        return 1
    except KeyboardInterrupt:
        return 130
    except BaseException:
        _print_user_traceback(script)
        return 1
    return 0


def _print_user_traceback(script):
    """Print the traceback from the user's script down, hiding ember's runner frames."""
    etype, value, tb = sys.exc_info()
    frames = traceback.extract_tb(tb)
    here = os.path.abspath(__file__)
    start = 0
    for i, fr in enumerate(frames):
        if os.path.abspath(fr.filename) == os.path.abspath(script):
            start = i
            break
    skip = start
    while skip and tb is not None:
        tb = tb.tb_next
        skip -= 1
    del here
    traceback.print_exception(etype, value, tb)


def _info():
    import platform
    import numpy as np
    import ember
    print(f"ember {ember.__version__}")
    print(f"python {platform.python_version()} ({sys.executable})")
    print(f"numpy {np.__version__}")
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            print(f"  {pool.get('user_api')}: {pool.get('internal_api')} {pool.get('version')}, "
                  f"{pool.get('num_threads')} threads ({pool.get('filepath')})")
    except ImportError:
        cfg = np.show_config(mode="dicts") if hasattr(np, "show_config") else {}
        blas = cfg.get("Build Dependencies", {}).get("blas", {}) if isinstance(cfg, dict) else {}
        print(f"  BLAS: {blas.get('name', '?')} {blas.get('version', '')}")
    from . import _threads
    if _threads._load() and _threads._core:
        print(f"  BLAS kernels: {_threads._core}" + (" (small-matrix products)" if _threads._small_gemm else ""))
    print(f"threads: {ember.get_num_threads() if hasattr(ember, 'get_num_threads') else os.cpu_count()}")
    from . import cuda
    if cuda.is_available():
        print(f"GPU: available ({cuda.device_count()} device(s), CuPy)")
    else:
        import importlib.util
        why = "CuPy not installed" if importlib.util.find_spec("cupy") is None else "no usable GPU"
        print(f"GPU: not available ({why})")
    return 0


def main(argv=None):
    """Entry point of the `ember` console command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["distributed-run"]:  # its own parser: options pass through untouched
        from .distributed.run import main as distributed_run
        return distributed_run(argv[1:], prog="ember distributed-run")
    parser = argparse.ArgumentParser(prog="ember", description="ember: PyTorch's API on NumPy")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run a PyTorch script with torch/torchvision mapped to ember")
    run.add_argument("script")
    run.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser("info", help="versions, array backend, BLAS threads, GPU")
    sub.add_parser("distributed-run", help="train on N MPI ranks (mpiexec); see --help")
    ns = parser.parse_args(argv)
    if ns.command == "run":
        return _run(ns.script, ns.args)
    if ns.command == "info":
        return _info()
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
