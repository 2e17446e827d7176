"""The spec's LeNet trained with DistributedDataParallel, data split by DistributedSampler."""
import numpy as np

import ember
import ember.distributed as dist
import ember.nn as nn
from ember.nn.parallel import DistributedDataParallel as DDP
from _lenet import STEPS, dataset, loader, make_net, optimizer
from _report import out_path

dist.init_process_group("mpi")
rank, size = dist.get_rank(), dist.get_world_size()
ds = dataset()
net = make_net(seed=1 if rank == 0 else 99)   # rank 0's initial weights are broadcast
model = DDP(net)
opt = optimizer(model)
criterion = nn.CrossEntropyLoss()
it = iter(loader(ds, rank, size))
for _ in range(STEPS):
    x, y = next(it)
    opt.zero_grad()
    criterion(model(x), y).backward()
    opt.step()
np.savez(out_path(f"lenet_rank{rank}.npz"), **{k: v.numpy() for k, v in net.state_dict().items()})
dist.destroy_process_group()
