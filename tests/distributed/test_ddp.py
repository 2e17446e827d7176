"""DistributedDataParallel on 2 MPI ranks: broadcast at construction, averaged gradients, no_sync,
buckets, unused parameters, buffers; and the spec's LeNet trained on 2 ranks against 1 process."""
import importlib.util
import os

import numpy as np
import pytest

import ember
from mpijob import SCRIPTS, mpirun, requires_mpi


@pytest.fixture(scope="module")
def results():
    job = mpirun("ddp_job.py", n=2, timeout=90)
    assert job.returncode == 0 and not job.timed_out, job
    res = job.results()
    assert sorted(res) == [0, 1], job
    return res


@requires_mpi
def test_construction_broadcasts_rank0_and_wraps(results):
    for r in results.values():
        assert r["params_after_init_equal_rank0"]
        assert r["module_is_model"]
        assert r["state_dict_keys"] == ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias"]
        assert r["repr_first_line"] == "DistributedDataParallel("


@requires_mpi
def test_gradients_are_averaged(results):
    for r in results.values():
        assert r["grad_max_diff"] < 1e-5
        assert r["grads_identical_across_ranks"]


@requires_mpi
def test_no_sync_accumulates_then_averages(results):
    for r in results.values():
        assert r["no_sync_grads_differ"]          # inside no_sync each rank keeps its own sum
        assert r["no_sync_max_diff"] < 1e-5


@requires_mpi
def test_buckets_and_bucket_views(results):
    for r in results.values():
        assert r["small_buckets_nbuckets"] == 4     # one per parameter at a tiny bucket_cap_mb
        assert r["small_buckets_max_diff"] < 1e-5
        assert r["bucket_view_nbuckets"] == 1
        assert r["bucket_view_max_diff"] < 1e-5


@requires_mpi
def test_unused_parameters(results):
    for rank, r in results.items():
        err = r["unused_error"]
        assert err.startswith("Expected to have finished reduction in the prior iteration")
        assert f"did not receive grad for rank {rank}: 2 3 4 5" in err and "b.weight" in err
        # with find_unused_parameters=True: b (used on rank 1 only) gets the average, never stays None
        assert r["find_unused_b_grads_equal"]
        assert np.allclose(r["find_unused_b_grad"], r["find_unused_b_expected"], atol=1e-6)
        assert r["find_unused_never_grad_is_none"]
        assert r["find_unused_a_equal"]


@requires_mpi
def test_buffers_follow_rank0(results):
    for rank, r in results.items():
        assert r["buffer_after_init"] == [10.0] * 3
        # each forward adds 1 + rank; rank 0's buffer (11) is re-broadcast before the second one
        # (without that, rank 1 would hold 10 + 2 + 2 = 14)
        assert r["buffer_after_two_forwards"] == [12.0 + rank] * 3


@requires_mpi
def test_model_mismatch_is_refused(results):
    for r in results.values():
        err = r["model_mismatch_error"]
        assert err.startswith("DDP expects same model across all ranks")
        assert "[8, 4] on rank 0" in err and "[9, 4] on rank 1" in err


@requires_mpi
def test_dropped_ddp_releases_its_hooks(results):
    for r in results.values():
        before, during, after = r["hooks_before_during_after"]
        assert during == before + 4 and after == before


def test_needs_a_process_group():
    import ember.distributed as dist
    if dist.is_initialized():
        pytest.skip("a process group is initialized in this process")
    from ember.nn.parallel import DistributedDataParallel
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedDataParallel(ember.nn.Linear(2, 2))


def _lenet_module():
    spec = importlib.util.spec_from_file_location("_lenet", os.path.join(SCRIPTS, "_lenet.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@requires_mpi
def test_lenet_two_ranks_match_one_process_on_combined_batches():
    lenet = _lenet_module()
    job = mpirun("lenet_job.py", n=2, timeout=120)
    assert job.returncode == 0 and not job.timed_out, job
    ranks = [dict(np.load(job.path(f"lenet_rank{r}.npz"))) for r in range(2)]
    for k in ranks[0]:
        assert np.array_equal(ranks[0][k], ranks[1][k]), k   # the replicas never drift apart
    ref = lenet.train_single_process(world_size=2)
    worst = max(float(np.abs(ranks[0][k] - ref[k]).max()) for k in ref)
    assert worst < 1e-5, worst
    moved = max(float(np.abs(ref[k] - lenet.initial_state()[k]).max()) for k in ref)
    assert moved > 1e-3  # training changed the parameters, so the comparison means something
