"""The spec's CIFAR-10 LeNet, synthetic CIFAR-shaped data, and the single-process reference run."""
import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.utils.data import DataLoader, TensorDataset
from ember.utils.data.distributed import DistributedSampler

STEPS = 50
BATCH = 4          # per rank, as in the spec
N_SAMPLES = 400    # 2 ranks x 50 steps x 4


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def dataset():
    ember.manual_seed(0)
    images = ember.randn(N_SAMPLES, 3, 32, 32)
    labels = ember.randint(0, 10, (N_SAMPLES,))
    return TensorDataset(images, labels)


def make_net(seed=1):
    ember.manual_seed(seed)
    return Net()


def initial_state():
    return {k: v.numpy().copy() for k, v in make_net().state_dict().items()}


def optimizer(net):
    return ember.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)


def loader(ds, rank, world_size):
    sampler = DistributedSampler(ds, num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    sampler.set_epoch(0)
    return DataLoader(ds, batch_size=BATCH, sampler=sampler)


def train_single_process(world_size):
    """One process, each step on the union of the ranks' batches of that step."""
    ds = dataset()
    net = make_net()
    opt = optimizer(net)
    criterion = nn.CrossEntropyLoss()
    iters = [iter(loader(ds, r, world_size)) for r in range(world_size)]
    for _ in range(STEPS):
        batches = [next(it) for it in iters]
        x = ember.cat([b[0] for b in batches])
        y = ember.cat([b[1] for b in batches])
        opt.zero_grad()
        criterion(net(x), y).backward()
        opt.step()
    return {k: v.numpy().copy() for k, v in net.state_dict().items()}
