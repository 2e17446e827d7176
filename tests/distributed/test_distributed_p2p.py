"""Point to point (send/recv/isend/irecv/batch_isend_irecv, object lists), all_to_all(_single),
reduce_scatter, gather_object/scatter_object_list, monitored_barrier and subgroups on 3 real MPI
ranks; the same program under real torch's gloo (when torch is installed) must give the same
results and raise the same errors."""
import importlib.util

import pytest

from mpijob import mpirun, requires_mpi, torch_gloo

pytestmark = requires_mpi
N = 3
HAVE_TORCH = importlib.util.find_spec("torch") is not None
# ember-only entries: gloo refuses all_to_all tensors of different sizes (NCCL and ember allow them)
EMBER_ONLY = {"all_to_all_sizes"}


@pytest.fixture(scope="module")
def results():
    job = mpirun("p2p_job.py", "ember", n=N, timeout=120)
    assert job.returncode == 0 and not job.timed_out, job
    res = job.results()
    assert sorted(res) == list(range(N)), job
    return res


@pytest.fixture(scope="module")
def torch_results():
    if not HAVE_TORCH:
        pytest.skip("PyTorch (the gloo oracle) is not installed")
    job = torch_gloo("p2p_job.py", "torch", n=N, timeout=180)
    if job.returncode or job.timed_out:
        # the oracle's own gloo mesh (TCP on 127.0.0.1) can fail to form on a busy box: one more try,
        # the failed attempt's output stays printed beside the test
        job = torch_gloo("p2p_job.py", "torch", n=N, timeout=180)
    assert job.returncode == 0 and not job.timed_out, job
    return job.results()


def test_send_recv(results):
    for r, res in results.items():
        prv = (r - 1) % N
        assert res["ring"] == [prv, [10.0 * prv, 10.0 * prv + 1, 10.0 * prv + 2]]
        assert res["batch"] == [[True, True], [float(prv)] * 2]
        assert res["p2pop_repr"] == (f"P2POp(isend pg=0, group_src={r}, group_dst={(r + 1) % N},  "
                                     "ember.Size([2]), ember.float32)")
    assert results[0]["any_source"] == [[1, [7, 7]], [2, [14, 14]]]
    assert results[0]["isend_wait"] == [True, True]
    assert results[1]["irecv_wait"] == [True, True, True]
    assert results[1]["tagged"] == [[1.5, 2.5], [3.5, 4.5]]
    assert results[1]["dtypes"] == [[1 / 3, -2e300], [-1, 2 ** 31 - 1, 0]]
    assert results[N - 1]["objects"] == [0, repr([{"lr": 0.5}, "two", [3, (4,)]])]


def test_all_to_all(results):
    for r, res in results.items():
        assert res["all_to_all"] == [[10.0 * i + r] * 2 for i in range(N)]
        assert res["all_to_all_sizes"] == [[10.0 * i + r] * (r + 1) for i in range(N)]
        assert res["a2a_even"] == [v for i in range(N) for v in (100.0 * i + 2 * r, 100.0 * i + 2 * r + 1)]
        assert res["a2a_async"] == [v for i in range(N) for v in (2 * r * (i + 1), (2 * r + 1) * (i + 1))]
        want = []
        for i in range(N):   # rank i's rows for rank r start after the rows it sends to ranks < r
            splits = [(i + j) % 2 + 1 for j in range(N)]
            first = sum(splits[:r])
            want += [[100.0 * i + 2 * k, 100.0 * i + 2 * k + 1] for k in range(first, first + splits[r])]
        assert res["a2a_splits"] == want


def test_reduce_scatter_and_object_collectives(results):
    for r, res in results.items():
        assert res["reduce_scatter"] == [10.0 * sum(range(N)) + N * r] * 2
        assert res["reduce_scatter_max"] == [float(N + r)] * 2
        assert res["scatter_object_list"] == [f"item{r}"]
        assert res["gather_object"] == ([{"rank": i, "sq": i * i} for i in range(N)] if r == N - 1 else None)
        assert res["monitored_barrier"] is True


def test_subgroups_and_helpers(results):
    for r, res in results.items():
        assert res["new_subgroups"] == [N, 0, 1, [i != r for i in range(N)]]
        assert res["by_enumeration"] == ([[0, N - 1], [1.0 + N]] if r in (0, N - 1) else [[1], [2.0]])
        assert res["pg_count_init"] == 1 and res["pg_count"] == 1 + N + 2
        assert res["misc"] == ["gloo", True, False, True, False, "DebugLevel.OFF"]
        e = res["errors"]
        assert e["send_self"] == ["ValueError", "Invalid destination rank: destination rank should not be the "
                                                "same as the rank of the current process."]
        assert e["send_no_dst"] == ["ValueError", "Must specify global_rank or group_rank"]
        assert e["subgroups_overlap"] == ["ValueError", "Rank 1 has appeared in both subgroup [0, 1] and [1]"]
        assert e["a2a_split_sum"][1].startswith("Split sizes doesn't match total dim 0 size")


def test_same_results_and_errors_as_torch_gloo(results, torch_results):
    assert sorted(torch_results) == list(range(N))
    for r in range(N):
        mine, theirs = results[r], torch_results[r]
        assert set(mine) - EMBER_ONLY == set(theirs), r
        for key, want in theirs.items():
            got = mine[key]
            if key == "p2pop_repr":
                got = got.replace("ember.", "torch.")
            if key == "errors":
                for name, t_err in want.items():
                    e_err = got[name]
                    if t_err is not None and t_err[0] == "RuntimeError" and "Connection closed by peer" in t_err[1]:
                        # torch's gloo lost a connection to a peer that had already raised (seen once, on
                        # rank 1 of subgroups_overlap, on a busy 2-core machine): torch's race, nothing to
                        # compare; test_subgroups_and_helpers checks ember's error on its own
                        continue
                    # same type; ember's message starts with torch's and may add the fix
                    assert (e_err is None) == (t_err is None), (r, name, e_err, t_err)
                    if t_err is not None:
                        assert e_err[0] == t_err[0] and e_err[1].startswith(t_err[1]), (r, name, e_err, t_err)
                continue
            assert got == want, (r, key, got, want)


@pytest.mark.parametrize("mode", ["recv_timeout", "send_timeout", "sizes", "a2a_mismatch"])
def test_failures_raise_and_leave_the_group_usable(mode):
    job = mpirun("p2p_fail_job.py", mode, n=2, timeout=60)
    assert job.returncode == 0 and not job.timed_out, job
    res = job.results()
    assert [res[r]["after"] for r in (0, 1)] == [[2.0, 2.0]] * 2   # an all_reduce still works afterwards
    if mode == "recv_timeout":
        r = res[0]
        assert r["error"][0] == "DistBackendError"
        assert r["error"][1].startswith("ember.distributed: recv from rank 1 timed out after 0:00:01 on rank 0")
        assert "tag 5 from rank 1" in r["error"][1] and "(3,) float32" in r["error"][1]
        assert "recv from any rank timed out" in r["any_error"][1]
        assert r["elapsed"] < 10
        assert r["work_error"][0] == "DistBackendError"
        assert r["work_state"] == [True, False, "DistBackendError"]
    elif mode == "send_timeout":
        assert res[0]["error"][0] == "DistBackendError"
        assert "send to rank 1 timed out after 0:00:01" in res[0]["error"][1]
        assert "recv/irecv(src=0, tag=3)" in res[0]["error"][1]
    elif mode == "sizes":
        assert res[1]["short"] == ["DistBackendError", "ember.distributed: recv from rank 0: rank 0 sent 8 bytes "
                                   "but the tensor to receive into holds 12 ((3,) float32); send and recv tensors "
                                   "must have the same number of elements and the same dtype"]
        assert res[1]["long"][0] == "DistBackendError"
        assert "rank 0 sent more than the 12 bytes" in res[1]["long"][1]
    else:
        for r in (0, 1):   # every rank raises the same error, before any data moved
            assert res[r]["error"][0] == "DistBackendError"
            assert "all_to_all_single: rank 1 sends 1 elements to rank 0, but rank 0 expects 2" in res[r]["error"][1]
            assert "all_to_all: rank 1 sends 2 elements to rank 0, but rank 0 expects 1" in res[r]["list_error"][1]
            assert res[r]["op_error"][0] == "DistBackendError"
            assert "different collectives (all_reduce and all_to_all_single" in res[r]["op_error"][1]


def test_monitored_barrier_names_the_missing_ranks():
    job = mpirun("p2p_fail_job.py", "monitored", n=3, timeout=60)
    assert job.returncode == 0 and not job.timed_out, job
    res = job.results()
    # torch's own words (ProcessGroupGloo), then ember's hint
    assert res[0]["fail_fast"][0] == "RuntimeError"
    assert res[0]["fail_fast"][1].startswith("[Rank 0]: Rank 1 failed to pass monitoredBarrier in 1000 ms")
    assert res[0]["all_ranks"][1].startswith("[Rank 0]: Ranks 1, 2 failed to pass monitoredBarrier in 1000 ms")
    assert res[0]["again"][0] == "DistBackendError"
    assert res[0]["again"][1].startswith("monitored_barrier: an earlier monitored_barrier on this group timed out")
    assert [res[r]["fresh"] for r in range(3)] == [None] * 3   # a new group's monitored barrier works
    assert res[1]["released"][0] == "DistBackendError"
    assert "group rank 0 did not release this rank within 1000 ms" in res[1]["released"][1]
    assert [res[r]["after"] for r in range(3)] == [[3.0, 3.0]] * 3
