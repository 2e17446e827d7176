"""Helpers for the distributed tests: run a script on N MPI ranks with a hard timeout.

Every job runs in its own session and is killed as a process group when the timeout expires,
so a hang fails the test instead of blocking the suite.
"""
import atexit
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import ember
from ember.distributed import _mpi_env

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "scripts")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))

MPIEXEC = _mpi_env.find_mpiexec()
HAVE_MPI = importlib.util.find_spec("mpi4py") is not None and MPIEXEC is not None

# every job's output folder lives under one folder per test process, removed when it exits,
# so a run leaves nothing in the system's temporary folder
_JOBS_DIR = tempfile.mkdtemp(prefix="ember-dist-")
atexit.register(shutil.rmtree, _JOBS_DIR, ignore_errors=True)

requires_mpi = pytest.mark.skipif(not HAVE_MPI, reason="mpi4py and mpiexec are not installed "
                                                        "(pip install mpi4py mpich)")


class Job:
    """The outcome of a finished (or killed) job."""

    def __init__(self, returncode, out, err, elapsed, timed_out, outdir):
        self.outdir = outdir
        self.returncode = returncode
        self.out = out
        self.err = err
        self.elapsed = elapsed
        self.timed_out = timed_out

    def results(self):
        """{rank: the JSON object that rank wrote with scripts/_report.report()}."""
        found = {}
        for name in sorted(os.listdir(self.outdir)):
            if name.startswith("rank") and name.endswith(".json"):
                with open(os.path.join(self.outdir, name)) as f:
                    found[int(name[4:-5])] = json.load(f)
        return found

    def path(self, name):
        """A file a rank wrote into the job's output folder."""
        return os.path.join(self.outdir, name)

    def __repr__(self):
        return (f"Job(rc={self.returncode}, {self.elapsed:.1f}s, timed_out={self.timed_out})\n"
                f"--- stdout ---\n{self.out[-4000:]}\n--- stderr ---\n{self.err[-4000:]}")


def _env(extra):
    env = dict(os.environ)
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "OMPI_COMM_WORLD_SIZE",
                "PMI_SIZE", "PMI_RANK", "MV2_COMM_WORLD_SIZE"):
        env.pop(var, None)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    env["TMPDIR"] = _JOBS_DIR  # whatever temporary files the ranks make go with the jobs folder
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_cmd(cmd, timeout=60, env=None):
    """Run cmd in a new session; on timeout kill its whole process group."""
    outdir = tempfile.mkdtemp(prefix="job-", dir=_JOBS_DIR)
    env = dict(env or {}, EMBER_TEST_OUT=outdir)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(env), cwd=SCRIPTS, start_new_session=True)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return _shown(Job(proc.returncode, out, err, time.monotonic() - start, timed_out, outdir))


def _shown(job):
    # pytest cuts an assertion message's repr to 240 characters, which hides a rank's traceback;
    # captured stdout is printed whole beside a failed test
    print(repr(job))
    return job


def mpirun(script, *args, n=2, timeout=60, env=None):
    """Run tests/distributed/scripts/<script> on n ranks with `mpiexec -n n python`."""
    return run_cmd([MPIEXEC, "-n", str(n), sys.executable, os.path.join(SCRIPTS, script), *map(str, args)],
                   timeout=timeout, env=env)


def launch(script, *args, n=2, timeout=60, env=None, launcher_args=()):
    """Run a script through `python -m ember.distributed.run --nproc-per-node n`."""
    return run_cmd([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", str(n), *launcher_args,
                    os.path.join(SCRIPTS, script), *map(str, args)], timeout=timeout, env=env)


def torch_gloo(script, *args, n=2, timeout=120):
    """Run tests/distributed/scripts/<script> as n plain processes under real torch's gloo backend
    (RANK / WORLD_SIZE and EMBER_TEST_INIT, a file:// init method, in the environment): the oracle
    the MPI jobs' results are compared with."""
    outdir = tempfile.mkdtemp(prefix="torch-gloo-", dir=_JOBS_DIR)
    init = "file://" + os.path.join(outdir, "init")
    start = time.monotonic()
    procs = []
    for rank in range(n):
        env = _env({"EMBER_TEST_OUT": outdir, "EMBER_TEST_INIT": init, "RANK": str(rank),
                    "WORLD_SIZE": str(n)})
        procs.append(subprocess.Popen([sys.executable, os.path.join(SCRIPTS, script), *map(str, args)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                      cwd=SCRIPTS, start_new_session=True))
    outs, errs, codes, timed_out = [], [], [], False
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - start)))
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        outs.append(out)
        errs.append(err)
        codes.append(proc.returncode)
    code = next((c for c in codes if c), 0)
    return _shown(Job(code, "".join(outs), "".join(errs), time.monotonic() - start, timed_out, outdir))
