"""The launcher: python -m ember.distributed.run --nproc-per-node N script.py."""
import sys

import pytest

from mpijob import launch, requires_mpi, run_cmd

pytestmark = requires_mpi


def test_launcher_sets_rank_variables_and_one_blas_thread():
    job = launch("fail_job.py", "ok", timeout=60, env={"OMP_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": None})
    assert job.returncode == 0, job
    res = job.results()
    assert sorted(res) == [0, 1], job
    for rank, r in res.items():
        assert r["sum"] == [2.0] * 3
        env = r["env"]
        assert env["RANK"] == str(rank) and env["WORLD_SIZE"] == "2"
        assert env["LOCAL_RANK"] == str(rank) and env["LOCAL_WORLD_SIZE"] == "2"
        assert env["OMP_NUM_THREADS"] == "1" and env["OPENBLAS_NUM_THREADS"] == "1"


def test_launcher_keeps_an_explicit_thread_count():
    job = launch("alias_job.py", timeout=60, env={"OMP_NUM_THREADS": "2"})
    assert job.returncode == 0, job
    assert {r["omp"] for r in job.results().values()} == {"2"}


def test_launcher_maps_torch_to_ember_and_passes_arguments():
    job = launch("alias_job.py", "--lr", "0.1", timeout=60)
    assert job.returncode == 0, job
    res = job.results()
    for rank, r in res.items():
        assert r["is_ember"] is True
        assert r["sum"] == 3.0
        assert r["argv"] == ["--lr", "0.1"]
        assert r["local_rank"] == str(rank)


def test_launcher_reports_a_missing_script():
    job = run_cmd([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2", "no_such.py"],
                  timeout=60)
    assert job.returncode != 0
    assert "can't open file 'no_such.py'" in job.err


@pytest.mark.parametrize("bad", ["0", "x"])
def test_launcher_rejects_bad_nproc(bad):
    job = run_cmd([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", bad, "s.py"], timeout=60)
    assert job.returncode == 2 and "--nproc-per-node" in job.err
