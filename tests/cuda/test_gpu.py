"""Training on a GPU: the spec's LeNet, its GPU snippet (section 1.1) and GPU training (section 2.2).

@pytest.mark.gpu tests run only with a usable GPU (tests/cuda/conftest.py skips them otherwise).
The LeNet comparisons also run on the fake device, where they check device bookkeeping.
"""
import re

import numpy as np
import pytest

import ember
from tests.lenet import make_net
import ember.nn as nn
import ember.nn.functional as F

def Net():
    return make_net(ember)


@pytest.fixture(params=["fake", pytest.param("gpu", marks=pytest.mark.gpu)])
def device(request):
    if request.param == "fake":
        request.getfixturevalue("fake_cuda")
    return "cuda"


def _train(net, batches, device, steps):
    opt = ember.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    crit = nn.CrossEntropyLoss()
    losses = []
    for k in range(steps):
        x, t = batches[k % len(batches)]
        opt.zero_grad()
        loss = crit(net(x.to(device)), t.to(device))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def test_lenet_trains_on_cuda_to_the_cpu_loss_from_the_same_weights(device):
    ember.manual_seed(0)
    cpu_net = Net()
    gpu_net = Net()
    gpu_net.load_state_dict(cpu_net.state_dict())
    gpu_net.to(device)
    assert all(p.device.type == "cuda" for p in gpu_net.parameters())
    rng = np.random.default_rng(0)
    batches = [(ember.tensor(rng.standard_normal((4, 3, 32, 32)).astype(np.float32)),
                ember.tensor(rng.integers(0, 10, 4))) for _ in range(5)]
    cpu = _train(cpu_net, batches, "cpu", 30)
    gpu = _train(gpu_net, batches, device, 30)
    assert cpu[-1] < cpu[0]  # it learns
    # float32 sums in another order on the GPU: close, step by step, not identical
    np.testing.assert_allclose(gpu, cpu, rtol=2e-3, atol=2e-4)
    for p, q in zip(cpu_net.parameters(), gpu_net.parameters()):
        assert q.device.type == "cuda"
        np.testing.assert_allclose(q.detach().cpu().numpy(), p.detach().numpy(), rtol=1e-3, atol=1e-4)


def test_lenet_training_step_at_batch_256(device):
    ember.manual_seed(1)
    net = Net().to(device)
    x = ember.randn(256, 3, 32, 32, device=device)
    t = ember.randint(0, 10, (256,), device=device)
    opt = ember.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss = F.cross_entropy(net(x), t)
    loss.backward()
    opt.step()
    assert loss.device.type == "cuda" and np.isfinite(loss.item())
    assert all(opt.state[p]["momentum_buffer"].device.type == "cuda" for p in net.parameters())


@pytest.mark.gpu
def test_spec_section_1_1_gpu_snippet(tmp_path):
    from tests.spec import spec_output as so
    out = so.run_ember("1.1", tmp_path).splitlines()
    recorded = so.load("1.1")  # torch's output on a machine without a GPU: the block is skipped there
    assert len(out) == len(recorded) + 2, out[-4:]
    problems = so.compare(recorded, "\n".join(out[:-2]))
    assert not problems, problems
    # the block prints z = x + ones on the GPU, then z copied to the CPU as float64 (x = randn(1))
    on_gpu = re.fullmatch(r"tensor\(\[(-?\d+\.\d{4})\], device='cuda:0'\)", out[-2])
    on_cpu = re.fullmatch(r"tensor\(\[(-?\d+\.\d{4})\], dtype=torch\.float64\)", out[-1])
    assert on_gpu and on_cpu, out[-2:]
    assert on_gpu.group(1) == on_cpu.group(1)


@pytest.mark.gpu
def test_spec_section_2_2_trains_and_moves_the_net_to_the_gpu(tmp_path):
    from tests.spec import spec_output as so
    from tests.spec.test_spec_classifier import _dataset
    from tests.vision import cifar_fixture
    files = _dataset(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    with cifar_fixture.serve(files.root) as url:
        out = so.run_ember_with_cifar("2.2", work, files.attrs(url))
    lines = out.splitlines()
    assert lines[4] == "Finished Training"
    assert lines[18] == "cuda:0"
    assert len(lines) == 19
