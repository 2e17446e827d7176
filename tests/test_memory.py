"""No leaks in training: saved activations are freed by backward, RSS stays flat."""
import gc
import weakref

import numpy as np

import ember
import ember.nn.functional as F
from tests.lenet import make_net


def Net():
    return make_net(ember)


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _graph_nodes(root):
    seen, stack = [], [root]
    while stack:
        node = stack.pop()
        if node is None or any(node is s for s in seen):
            continue
        seen.append(node)
        stack.extend(child for child, _ in node.next_functions)
    return seen


def test_backward_frees_every_saved_array():
    ember.manual_seed(0)
    net = Net()
    loss = F.cross_entropy(net(ember.randn(4, 3, 32, 32)), ember.tensor([1, 2, 3, 4]))
    nodes = _graph_nodes(loss.grad_fn)
    assert any(n.name() == "ConvolutionBackward0" for n in nodes)
    loss.backward()
    for node in nodes:
        for field in type(node)._saved_fields:
            assert getattr(node, field, None) is None, f"{node.name()}.{field} still holds its array"


def test_running_loss_keeps_no_graph_alive():
    net = Net()
    x, y = ember.randn(4, 3, 32, 32), ember.tensor([0, 1, 2, 3])
    running_loss = 0.0
    refs = []
    for _ in range(3):
        loss = F.cross_entropy(net(x), y)
        refs.append(weakref.ref(loss.grad_fn))
        running_loss += loss.item()
    del loss
    gc.collect()
    assert all(r() is None for r in refs)
    assert isinstance(running_loss, float)


def test_rss_is_flat_over_many_training_steps():
    ember.manual_seed(0)
    net = Net()
    opt = ember.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    rng = np.random.default_rng(0)
    batches = [(ember.from_numpy(rng.standard_normal((4, 3, 32, 32)).astype(np.float32)),
                ember.from_numpy(rng.integers(0, 10, 4))) for _ in range(8)]

    def train(steps):
        for i in range(steps):
            x, y = batches[i % len(batches)]
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
    train(300)  # warm-up: allocator pools, optimizer state
    before = _rss_bytes()
    train(2000)
    grown = _rss_bytes() - before
    assert grown < 4 * 2 ** 20, f"RSS grew by {grown / 2 ** 20:.1f} MiB over 2000 steps"
