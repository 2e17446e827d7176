"""Never hang: a failing, sleeping or killed rank ends the whole 2-rank job, with a clear message.

Each job runs under a hard timeout (the process group is killed on expiry); without ember's
abort handling these jobs would hang far beyond it (torch's default collective timeout is 30
minutes), so a job that reaches the timeout fails the test.
"""
import sys
import os

from mpijob import SCRIPTS, launch, mpirun, requires_mpi, run_cmd

pytestmark = requires_mpi
HARD_TIMEOUT = 40


def _ended_with_failure(job):
    assert not job.timed_out, job
    assert job.returncode != 0, job


def test_healthy_job_completes():
    job = mpirun("fail_job.py", "ok", timeout=HARD_TIMEOUT)
    assert job.returncode == 0, job
    assert [r["sum"] for r in job.results().values()] == [[2.0] * 3] * 2


def test_exception_in_one_rank_aborts_the_job():
    job = mpirun("fail_job.py", "raise", timeout=HARD_TIMEOUT)
    _ended_with_failure(job)
    assert "ValueError: boom in rank 1" in job.err, job
    assert "rank 1 of 2: uncaught ValueError; aborting every rank of the job" in job.err, job
    assert job.results() == {}  # rank 0 never completed its all_reduce


def test_exception_before_init_process_group_aborts_the_job():
    job = mpirun("fail_job.py", "early", timeout=HARD_TIMEOUT)
    _ended_with_failure(job)
    assert "ValueError: boom before init_process_group" in job.err, job


def test_rank_that_never_arrives_hits_the_collective_timeout():
    job = mpirun("fail_job.py", "sleep", timeout=HARD_TIMEOUT)
    _ended_with_failure(job)
    assert "DistBackendError" in job.err, job
    assert "all_reduce timed out after 0:00:01 on rank 0 of 2" in job.err, job


def test_killed_rank_ends_the_job():
    job = mpirun("fail_job.py", "kill", timeout=HARD_TIMEOUT)
    _ended_with_failure(job)


def test_launcher_aborts_on_nonzero_exit():
    # under plain mpiexec a rank's sys.exit(3) leaves the others waiting (until the collective
    # timeout); the launcher turns it into an immediate abort with the same status
    job = launch("fail_job.py", "exit", timeout=HARD_TIMEOUT)
    _ended_with_failure(job)
    assert job.returncode == 3, job
    assert "the script exited with status 3" in job.err, job


def test_launcher_aborts_on_exception():
    job = launch("fail_job.py", "raise", timeout=HARD_TIMEOUT)
    _ended_with_failure(job)
    assert "ValueError: boom in rank 1" in job.err, job


def test_mismatched_launcher_is_detected():
    # an Open MPI launcher's variables around the MPICH library: each process sees a world of 1
    job = run_cmd([sys.executable, os.path.join(SCRIPTS, "fail_job.py"), "ok"], timeout=HARD_TIMEOUT,
                  env={"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0"})
    _ended_with_failure(job)
    assert "the launcher started 2 processes (OMPI_COMM_WORLD_SIZE=2, Open MPI) but MPI in this " \
           "process sees a world of 1" in job.err, job
    # torchrun's variables without an MPI launcher
    job = run_cmd([sys.executable, os.path.join(SCRIPTS, "fail_job.py"), "ok"], timeout=HARD_TIMEOUT,
                  env={"WORLD_SIZE": "2", "RANK": "0"})
    _ended_with_failure(job)
    assert "started 2 processes (WORLD_SIZE=2" in job.err, job
