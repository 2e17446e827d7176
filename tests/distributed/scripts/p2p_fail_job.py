"""Point-to-point and all-to-all failures under a 1 s group timeout: each raises, names the peer or
the mismatch, and leaves the group usable (a barrier and an all_reduce afterwards succeed).

usage: p2p_fail_job.py MODE   (MODE: recv_timeout, send_timeout, sizes, a2a_mismatch, monitored)
"""
import datetime
import sys
import time

import ember
import ember.distributed as dist
from _report import report

mode = sys.argv[1]
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=1))
rank, n = dist.get_rank(), dist.get_world_size()
res = {}


def err(call):
    try:
        call()
        return None
    except Exception as e:
        return [type(e).__name__, str(e)]


if mode == "recv_timeout":
    if rank == 0:
        t = ember.zeros(3)
        start = time.monotonic()
        res["error"] = err(lambda: dist.recv(t, src=1, tag=5))
        res["any_error"] = err(lambda: dist.recv(t))
        res["elapsed"] = time.monotonic() - start
        w = dist.irecv(t, src=1)
        res["work_error"] = err(w.wait)
        res["work_state"] = [w.is_completed(), w.is_success(), type(w.exception()).__name__]
elif mode == "send_timeout":
    if rank == 0:   # 8 MB: beyond MPI's eager limit, so the send waits for a matching recv
        res["error"] = err(lambda: dist.send(ember.zeros(2 ** 21), dst=1, tag=3))
elif mode == "sizes":
    if rank == 0:
        dist.send(ember.ones(2), dst=1)
        dist.send(ember.ones(4), dst=1)
    elif rank == 1:
        res["short"] = err(lambda: dist.recv(ember.zeros(3), src=0))
        res["long"] = err(lambda: dist.recv(ember.zeros(3), src=0))
elif mode == "a2a_mismatch":
    # rank 0 says it expects 2 rows from rank 1, rank 1 sends it 1
    out_splits = [1, 2] if rank == 0 else [1, 1]
    res["error"] = err(lambda: dist.all_to_all_single(ember.zeros(sum(out_splits)), ember.zeros(2),
                                                      output_split_sizes=out_splits, input_split_sizes=[1, 1]))
    res["list_error"] = err(lambda: dist.all_to_all([ember.zeros(2), ember.zeros(1 + rank)],
                                                    [ember.zeros(2), ember.zeros(2)]))
    # one rank in all_to_all_single, the other in all_reduce: named, not a hang or a crash
    res["op_error"] = err(lambda: dist.all_to_all_single(ember.zeros(2), ember.zeros(2)) if rank == 0
                          else dist.all_reduce(ember.zeros(2)))
elif mode == "monitored":
    one_s = datetime.timedelta(seconds=1)
    g1, g2 = dist.new_group(), dist.new_group()
    if rank == 0:
        res["fail_fast"] = err(lambda: dist.monitored_barrier(timeout=one_s))
        res["all_ranks"] = err(lambda: dist.monitored_barrier(g1, timeout=one_s, wait_all_ranks=True))
        res["again"] = err(lambda: dist.monitored_barrier(timeout=one_s))   # this group is spent
    else:
        time.sleep(2.5)   # never reaches rank 0's monitored barriers in time
    long = datetime.timedelta(seconds=20)
    dist.barrier(timeout=long)
    if rank == 1:
        res["released"] = err(lambda: dist.monitored_barrier(g2, timeout=one_s))
    elif rank == 0:
        time.sleep(1.5)
    dist.barrier(timeout=long)
    g3 = dist.new_group()
    res["fresh"] = err(lambda: dist.monitored_barrier(g3, timeout=datetime.timedelta(seconds=10)))

dist.barrier(timeout=datetime.timedelta(seconds=20))
t = ember.ones(2)
dist.all_reduce(t)
res["after"] = t.tolist()
report(rank, res)
dist.destroy_process_group()
