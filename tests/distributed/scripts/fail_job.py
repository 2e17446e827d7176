"""Ways a rank can fail; the test checks that the whole job ends quickly and says why.

usage: fail_job.py MODE   (MODE: ok, raise, sleep, kill, early, exit)
"""
import datetime
import os
import signal
import sys
import time

import ember
import ember.distributed as dist
from _report import report

mode = sys.argv[1]
if mode == "early" and os.environ.get("RANK") == "1":
    # before init_process_group: MPI has not started in this rank
    raise ValueError("boom before init_process_group")
timeout = datetime.timedelta(seconds=1) if mode == "sleep" else None
dist.init_process_group("mpi", timeout=timeout)  # None: torch's default, 30 minutes
rank = dist.get_rank()
if rank == 1:
    if mode == "raise":
        raise ValueError("boom in rank 1")
    if mode == "sleep":
        time.sleep(3600)           # never reaches the collective below
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "exit":
        sys.exit(3)
t = ember.ones(3)
dist.all_reduce(t)                 # rank 0 waits here for rank 1
report(rank, {"sum": t.tolist(), "env": {k: os.environ.get(k) for k in (
    "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")},
    "torch_alias": "torch" in sys.modules and sys.modules["torch"] is ember})
dist.destroy_process_group()
