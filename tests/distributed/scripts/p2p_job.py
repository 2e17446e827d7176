"""Point-to-point calls and the newer collectives, one program for ember (under mpiexec) and for
real torch's gloo (FRAMEWORK=torch, started as N processes with RANK/WORLD_SIZE and a file://
init): the test compares the two results.

usage: p2p_job.py FRAMEWORK   (ember or torch)
"""
import datetime
import os
import sys

framework = sys.argv[1]
if framework == "torch":
    import torch as T
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=os.environ["EMBER_TEST_INIT"], rank=int(os.environ["RANK"]),
                            world_size=int(os.environ["WORLD_SIZE"]), timeout=datetime.timedelta(seconds=120))
else:
    import ember as T
    import ember.distributed as dist
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=120))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import report  # noqa: E402

rank, n = dist.get_rank(), dist.get_world_size()
nxt, prv = (rank + 1) % n, (rank - 1) % n
res = {"pg_count_init": dist.get_pg_count()}


def err(call):
    try:
        call()
        return None
    except Exception as e:
        return [type(e).__name__, str(e).split("\n")[0]]


# blocking send/recv around the ring (rank 0 sends first so nobody waits on a cycle)
got = T.zeros(3)
if rank == 0:
    dist.send(T.arange(3, dtype=T.float32) + 10 * rank, dst=nxt)
    src = dist.recv(got, src=prv)
else:
    src = dist.recv(got, src=prv)
    dist.send(T.arange(3, dtype=T.float32) + 10 * rank, dst=nxt)
res["ring"] = [src, got.tolist()]

# recv from any source: rank 0 hears from every other rank, in whatever order they arrive. Its own tag
# keeps the batch_isend_irecv message below (rank n-1 sends it to rank 0 without waiting) out of these.
if rank == 0:
    heard = []
    for _ in range(n - 1):
        t = T.zeros(2, dtype=T.int64)
        s = dist.recv(t, tag=7)
        heard.append([s, t.tolist()])
    res["any_source"] = sorted(heard)
else:
    dist.send(T.full((2,), rank * 7, dtype=T.int64), dst=0, tag=7)

# isend / irecv with tags, received in the other order
if rank == 0:
    works = [dist.isend(T.tensor([1.5, 2.5]), dst=1, tag=1), dist.isend(T.tensor([3.5, 4.5]), dst=1, tag=2)]
    res["isend_wait"] = [w.wait() for w in works]
elif rank == 1:
    a, b = T.zeros(2), T.zeros(2)
    wb = dist.irecv(b, src=0, tag=2)
    wa = dist.irecv(a, src=0, tag=1)
    res["irecv_wait"] = [wb.wait(), wa.wait(), wa.is_completed()]
    res["tagged"] = [a.tolist(), b.tolist()]

# other dtypes travel bit-exact
got = T.zeros(2, dtype=T.float64)
i = T.zeros(3, dtype=T.int32)
if rank == 0:
    dist.send(T.tensor([1 / 3, -2e300], dtype=T.float64), dst=1)
    dist.send(T.tensor([-1, 2 ** 31 - 1, 0], dtype=T.int32), dst=1)
elif rank == 1:
    dist.recv(got, src=0)
    dist.recv(i, src=0)
    res["dtypes"] = [got.tolist(), i.tolist()]

# batch_isend_irecv around the ring
out = T.zeros(2)
ops = [dist.P2POp(dist.isend, T.full((2,), float(rank)), nxt), dist.P2POp(dist.irecv, out, prv)]
res["p2pop_repr"] = repr(ops[0])
res["batch"] = [[w.wait() for w in dist.batch_isend_irecv(ops)], out.tolist()]

# objects
if rank == 0:
    dist.send_object_list([{"lr": 0.5}, "two", [3, (4,)]], dst=n - 1)
elif rank == n - 1:
    objs = [None] * 3
    s = dist.recv_object_list(objs, src=0)
    res["objects"] = [s, repr(objs)]

# all_to_all: rank r's i-th tensor goes to rank i
out = [T.zeros(2) for _ in range(n)]
dist.all_to_all(out, [T.full((2,), float(10 * rank + i)) for i in range(n)])
res["all_to_all"] = [o.tolist() for o in out]
if framework == "ember":
    # tensors of different sizes (as NCCL allows; gloo wants one size): rank r sends i+1 elements to rank i
    out = [T.zeros(rank + 1) for _ in range(n)]
    dist.all_to_all(out, [T.full((i + 1,), float(10 * rank + i)) for i in range(n)])
    res["all_to_all_sizes"] = [o.tolist() for o in out]

# all_to_all_single, even and with split sizes ((i + j) % 2 + 1 rows from rank i to rank j)
out = T.zeros(2 * n)
dist.all_to_all_single(out, T.arange(2 * n, dtype=T.float32) + 100 * rank)
res["a2a_even"] = out.tolist()
splits = [(rank + j) % 2 + 1 for j in range(n)]
inp = (T.arange(2 * sum(splits), dtype=T.float32) + 100 * rank).reshape(sum(splits), 2)
out = T.zeros(sum(splits), 2)
dist.all_to_all_single(out, inp, output_split_sizes=splits, input_split_sizes=splits)
res["a2a_splits"] = out.tolist()
out = T.zeros(2 * n, dtype=T.int64)
dist.all_to_all_single(out, T.arange(2 * n) * (rank + 1), async_op=True).wait()
res["a2a_async"] = out.tolist()

# reduce_scatter (list form)
out = T.zeros(2)
dist.reduce_scatter(out, [T.full((2,), float(10 * rank + i)) for i in range(n)])
res["reduce_scatter"] = out.tolist()
out = T.zeros(2)
dist.reduce_scatter(out, [T.full((2,), float(rank + i + 1)) for i in range(n)], op=dist.ReduceOp.MAX)
res["reduce_scatter_max"] = out.tolist()

# gather_object / scatter_object_list rooted at the last rank
lst = [None] * n if rank == n - 1 else None
dist.gather_object({"rank": rank, "sq": rank * rank}, lst, dst=n - 1)
res["gather_object"] = lst
outl = [None]
dist.scatter_object_list(outl, [f"item{i}" for i in range(n)] if rank == n - 1 else None, src=n - 1)
res["scatter_object_list"] = outl

dist.monitored_barrier(timeout=datetime.timedelta(seconds=60))
res["monitored_barrier"] = True

# subgroups
mine, subs = dist.new_subgroups(group_size=1)
res["new_subgroups"] = [len(subs), dist.get_rank(mine), dist.get_world_size(mine),
                        [s == dist.GroupMember.NON_GROUP_MEMBER for s in subs]]
lists = [[0, n - 1], list(range(1, n - 1))] if n > 2 else [[0], [1]]
mine, subs = dist.new_subgroups_by_enumeration(lists)
t = T.tensor([float(rank + 1)])
dist.all_reduce(t, group=mine)
res["by_enumeration"] = [dist.get_process_group_ranks(mine), t.tolist()]
res["pg_count"] = dist.get_pg_count()

res["misc"] = [dist.get_default_backend_for_device("cpu"), dist.is_backend_available("gloo"),
               dist.is_backend_available("nccl"), dist.supports_complex(dist.ReduceOp.SUM),
               dist.supports_complex(dist.ReduceOp.MAX), str(dist.get_debug_level())]
res["errors"] = {
    "send_self": err(lambda: dist.send(T.ones(2), dst=rank)),
    "send_no_dst": err(lambda: dist.send(T.ones(2))),
    "recv_object_no_src": err(lambda: dist.recv_object_list([None])),
    "recv_object_self": err(lambda: dist.recv_object_list([None], src=rank)),
    "p2pop_op": err(lambda: dist.P2POp(dist.send, T.ones(2), nxt)),
    "batch_not_ops": err(lambda: dist.batch_isend_irecv([1])),
    "batch_empty": err(lambda: dist.batch_isend_irecv([])),
    "subgroups_zero": err(lambda: dist.new_subgroups(group_size=0)),
    "subgroups_big": err(lambda: dist.new_subgroups(group_size=n + 1)),
    "subgroups_overlap": err(lambda: dist.new_subgroups_by_enumeration([[0, 1], [1]])),
    "subgroups_empty": err(lambda: dist.new_subgroups_by_enumeration([])),
    "backend_meta": err(lambda: dist.get_default_backend_for_device("meta")),
    "a2a_split_sum": err(lambda: dist.all_to_all_single(T.zeros(n), T.zeros(n), [1] * n, [2] * n)),
    "scatter_object_out": err(lambda: dist.scatter_object_list([], None, src=0)),
    "gather_object_nonroot": err(lambda: dist.gather_object(1, [None] * n, dst=(rank + 1) % n)),
    "monitored_timeout_type": err(lambda: dist.monitored_barrier(timeout=5)),
}
report(rank, res)
dist.destroy_process_group()
