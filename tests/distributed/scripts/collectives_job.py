"""Every collective on 2+ ranks; each rank prints one RESULT line of JSON for the test to check."""
import os

import ember
import ember.distributed as dist
from _report import report

dist.init_process_group(backend="gloo")  # the alias of 'mpi'
rank, size = dist.get_rank(), dist.get_world_size()
res = {"rank": rank, "size": size, "is_initialized": dist.is_initialized(), "backend": dist.get_backend(),
       "env": [os.environ["RANK"], os.environ["WORLD_SIZE"], os.environ["LOCAL_RANK"]]}


def base():
    return ember.arange(4, dtype=ember.float32) + rank


for name in ("SUM", "AVG", "MAX", "MIN", "PRODUCT"):
    t = base()
    v0 = t._version
    assert dist.all_reduce(t, op=getattr(dist.ReduceOp, name)) is None
    res["all_reduce_" + name] = t.tolist()
    res["version_bumped"] = t._version > v0

t = ember.arange(6, dtype=ember.float64).reshape(2, 3) + rank   # a non-contiguous view
view = t.t()
dist.all_reduce(view)
res["all_reduce_noncontig"] = t.tolist()

t = ember.tensor([rank + 1, 10 * rank], dtype=ember.int64)
dist.all_reduce(t, op=dist.ReduceOp.BXOR)
res["all_reduce_int_bxor"] = t.tolist()

t = ember.tensor([rank == 0, False, True])
dist.all_reduce(t)                     # bools reduce as logical or
res["all_reduce_bool"] = t.tolist()

t = ember.tensor([0.5 + rank, 2.0], dtype=ember.float16)
dist.all_reduce(t, op=dist.ReduceOp.SUM)
res["all_reduce_f16"] = t.tolist()

t = base()
work = dist.all_reduce(t, async_op=True)
res["async_wait"] = work.wait()
res["async_done"] = [work.is_completed(), work.is_success(), work.exception() is None]
res["async_value"] = t.tolist()
res["async_result_is_tensor"] = work.result()[0] is t

t = ember.full((3,), float(rank))
dist.broadcast(t, src=size - 1)
res["broadcast"] = t.tolist()
t = ember.full((3,), float(rank))
dist.broadcast(t, src=0, async_op=True).wait()
res["broadcast_async"] = t.tolist()

t = ember.full((2,), float(rank + 1))
dist.reduce(t, dst=0, op=dist.ReduceOp.SUM)
res["reduce"] = t.tolist()

out = [ember.zeros(2, 2) for _ in range(size)]
dist.all_gather(out, ember.full((2, 2), float(rank)))
res["all_gather"] = [o.tolist() for o in out]

out = [ember.zeros(2, dtype=ember.int32) for _ in range(size)]
dist.all_gather(out, ember.full((2,), rank, dtype=ember.int32), async_op=True).wait()
res["all_gather_async"] = [o.tolist() for o in out]

big = ember.zeros(size * 2)
dist.all_gather_into_tensor(big, ember.full((2,), float(rank)))
res["all_gather_into_tensor"] = big.tolist()

out = ember.zeros(2)
dist.reduce_scatter_tensor(out, ember.arange(2 * size, dtype=ember.float32) * (rank + 1))
res["reduce_scatter_tensor"] = out.tolist()

glist = [ember.zeros(3) for _ in range(size)] if rank == 0 else None
dist.gather(ember.full((3,), float(rank * 10)), glist, dst=0)
res["gather"] = None if glist is None else [g.tolist() for g in glist]

t = ember.zeros(2)
slist = [ember.full((2,), 100.0 + i) for i in range(size)] if rank == 0 else None
dist.scatter(t, slist, src=0)
res["scatter"] = t.tolist()

objs = [None] * size
dist.all_gather_object(objs, {"rank": rank, "name": f"r{rank}", "t": ember.ones(2) * rank})
res["all_gather_object"] = [[o["rank"], o["name"], o["t"].tolist()] for o in objs]

lst = [{"lr": 0.1}, "hello", 7] if rank == 0 else [None, None, None]
dist.broadcast_object_list(lst, src=0)
res["broadcast_object_list"] = lst

dist.barrier()
res["barrier_async"] = dist.barrier(async_op=True).wait()

# mismatched calls raise on every rank (and leave the group usable: no data moved)
try:
    dist.all_reduce(ember.ones(3 + rank))
    res["mismatch_shape"] = "no error"
except dist.DistBackendError as e:
    res["mismatch_shape"] = str(e)
try:
    if rank == 0:
        dist.all_reduce(ember.ones(3))
    else:
        dist.broadcast(ember.ones(3), src=0)
    res["mismatch_op"] = "no error"
except RuntimeError as e:
    res["mismatch_op"] = str(e)
t = ember.ones(2)
dist.all_reduce(t)
res["after_mismatch"] = t.tolist()

# a sub-group of the last rank only
g = dist.new_group([size - 1])
res["new_group_rank"] = dist.get_rank(g)
res["new_group_size"] = dist.get_world_size(g)
if rank == size - 1:
    t = ember.ones(1) * 5
    dist.all_reduce(t, group=g)
    res["new_group_all_reduce"] = t.tolist()

# errors raised before any communication
errors = {}
for key, call in {
    "band_float": lambda: dist.all_reduce(ember.ones(2), op=dist.ReduceOp.BAND),
    "not_tensor": lambda: dist.all_reduce([1, 2]),
    "no_src": lambda: dist.broadcast(ember.ones(2)),
    "bad_root": lambda: dist.broadcast(ember.ones(2), src=size),
    "twice": lambda: dist.init_process_group("mpi"),
    "gather_list_nonroot": lambda: dist.gather(ember.ones(1), [ember.ones(1)] * size, dst=size - 1)
    if rank != size - 1 else (_ for _ in ()).throw(ValueError("skip")),
    "dtypes": lambda: dist.all_gather([ember.zeros(2, dtype=ember.float64)] * size, ember.zeros(2)),
}.items():
    try:
        call()
        errors[key] = None
    except Exception as e:
        errors[key] = [type(e).__name__, str(e)]
res["errors"] = errors

dist.destroy_process_group()
res["after_destroy"] = dist.is_initialized()
try:
    dist.get_rank()
except ValueError as e:
    res["not_initialized"] = str(e)
try:
    dist.init_process_group("nccl")
except RuntimeError as e:
    res["nccl"] = str(e)
report(rank, res)
