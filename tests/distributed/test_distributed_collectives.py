"""ember.distributed's collectives on 2 real MPI ranks (mpiexec -n 2), values checked here."""
import pytest

from mpijob import mpirun, requires_mpi

pytestmark = requires_mpi


@pytest.fixture(scope="module")
def results():
    job = mpirun("collectives_job.py", n=2, timeout=90)
    assert job.returncode == 0 and not job.timed_out, job
    res = job.results()
    assert sorted(res) == [0, 1], job
    return res


def test_setup_and_environment(results):
    for rank, r in results.items():
        assert r["size"] == 2 and r["is_initialized"] and r["backend"] == "mpi"
        assert r["env"] == [str(rank), "2", str(rank)]  # RANK, WORLD_SIZE, LOCAL_RANK (one host)


def test_all_reduce_ops(results):
    # rank r holds [0, 1, 2, 3] + r
    expected = {"SUM": [1, 3, 5, 7], "AVG": [0.5, 1.5, 2.5, 3.5], "MAX": [1, 2, 3, 4], "MIN": [0, 1, 2, 3],
                "PRODUCT": [0, 2, 6, 12]}
    for r in results.values():
        for op, want in expected.items():
            assert r["all_reduce_" + op] == want, op
        assert r["version_bumped"]
        assert r["all_reduce_noncontig"] == [[1, 3, 5], [7, 9, 11]]
        assert r["all_reduce_int_bxor"] == [1 ^ 2, 0 ^ 10]
        assert r["all_reduce_bool"] == [True, False, True]
        assert r["all_reduce_f16"] == [2.0, 4.0]


def test_async_all_reduce_returns_work(results):
    for r in results.values():
        assert r["async_wait"] is True
        assert r["async_done"] == [True, True, True]
        assert r["async_value"] == [1, 3, 5, 7]
        assert r["async_result_is_tensor"]


def test_broadcast_reduce_gather_scatter(results):
    for rank, r in results.items():
        assert r["broadcast"] == [1.0] * 3          # from the last rank
        assert r["broadcast_async"] == [0.0] * 3
        assert r["reduce"] == ([3.0, 3.0] if rank == 0 else [2.0, 2.0])  # others keep their input
        assert r["all_gather"] == [[[0.0] * 2] * 2, [[1.0] * 2] * 2]
        assert r["all_gather_async"] == [[0, 0], [1, 1]]
        assert r["all_gather_into_tensor"] == [0, 0, 1, 1]
        # sum over ranks of arange(4) * (rank + 1) = arange(4) * 3, split in halves
        assert r["reduce_scatter_tensor"] == ([0.0, 3.0] if rank == 0 else [6.0, 9.0])
        assert r["gather"] == ([[0.0] * 3, [10.0] * 3] if rank == 0 else None)
        assert r["scatter"] == [100.0 + rank] * 2


def test_object_collectives(results):
    for r in results.values():
        assert r["all_gather_object"] == [[0, "r0", [0.0, 0.0]], [1, "r1", [1.0, 1.0]]]
        assert r["broadcast_object_list"] == [{"lr": 0.1}, "hello", 7]
        assert r["barrier_async"] is True


def test_mismatched_collectives_raise_on_every_rank(results):
    for r in results.values():
        assert "element count differs across ranks (from 3 to 4)" in r["mismatch_shape"]
        assert "different collectives (all_reduce and broadcast" in r["mismatch_op"]
        assert r["after_mismatch"] == [2.0, 2.0]


def test_new_group(results):
    assert results[0]["new_group_rank"] == -1 and results[0]["new_group_size"] == -1
    assert results[1]["new_group_rank"] == 0 and results[1]["new_group_size"] == 1
    assert results[1]["new_group_all_reduce"] == [5.0]


def test_errors_match_torch(results):
    e = results[0]["errors"]
    assert e["band_float"] == ["RuntimeError", "Cannot use ReduceOp.BAND with non-integral dtype"]
    assert e["not_tensor"][0] == "TypeError"
    assert e["no_src"] == ["ValueError", "Must specify global_rank or group_rank"]
    assert e["bad_root"][0] == "RuntimeError"
    assert e["twice"] == ["ValueError", "trying to initialize the default process group twice!"]
    assert e["gather_list_nonroot"] == [
        "ValueError", "Argument ``gather_list`` must NOT be specified on non-destination ranks."]
    assert e["dtypes"][0] == "ValueError" and "different dtypes" in e["dtypes"][1]
    for r in results.values():
        assert r["after_destroy"] is False
        assert r["not_initialized"].startswith("Default process group has not been initialized")
        assert "backend 'nccl' is not available" in r["nccl"]


def test_single_process_world():
    # plain `python script.py` (no launcher) is a world of one: collectives are identities
    from mpijob import SCRIPTS, run_cmd
    import os
    import sys
    job = run_cmd([sys.executable, os.path.join(SCRIPTS, "collectives_job.py")], timeout=60)
    assert job.returncode == 0, job
    r = job.results()[0]
    assert r["size"] == 1 and r["all_reduce_SUM"] == [0, 1, 2, 3] and r["all_reduce_AVG"] == [0, 1, 2, 3]
    assert r["all_gather_object"] == [[0, "r0", [0.0, 0.0]]]
