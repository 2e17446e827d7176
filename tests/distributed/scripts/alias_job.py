"""A PyTorch script, run by ember's launcher with torch mapped to ember."""
import os
import sys

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import report  # noqa: E402

dist.init_process_group(backend="gloo")
t = torch.tensor([float(dist.get_rank() + 1)])
dist.all_reduce(t, op=dist.ReduceOp.SUM)
report(dist.get_rank(), {"sum": t.item(), "is_ember": getattr(torch, "__ember__", False), "argv": sys.argv[1:],
                         "omp": os.environ.get("OMP_NUM_THREADS"), "local_rank": os.environ.get("LOCAL_RANK")})
dist.destroy_process_group()
