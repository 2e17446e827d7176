"""The spec's CIFAR-10 LeNet trains in lockstep with torch from the same weights and batches."""
import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch
from tests.lenet import make_net as _net


@requires_torch
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_lenet_100_steps_in_lockstep_with_torch(optimizer):
    torch.manual_seed(0)
    tnet, enet = _net(torch), _net(ember)
    # the same starting weights: torch's, through NumPy
    enet.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy()) for k, v in tnet.state_dict().items()})
    if optimizer == "sgd":
        topt = torch.optim.SGD(tnet.parameters(), lr=0.001, momentum=0.9)
        eopt = ember.optim.SGD(enet.parameters(), lr=0.001, momentum=0.9)
    else:
        topt = torch.optim.Adam(tnet.parameters(), lr=0.001)
        eopt = ember.optim.Adam(enet.parameters(), lr=0.001)
    tcrit, ecrit = torch.nn.CrossEntropyLoss(), ember.nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    for _ in range(100):
        # images as the spec's Normalize((0.5,)*3, (0.5,)*3) leaves them: in [-1, 1]
        x = rng.uniform(-1, 1, (4, 3, 32, 32)).astype(np.float32)
        y = rng.integers(0, 10, 4)
        for net, opt, crit, lib in ((tnet, topt, tcrit, torch), (enet, eopt, ecrit, ember)):
            opt.zero_grad()
            loss = crit(net(lib.from_numpy(x)), lib.from_numpy(y))
            loss.backward()
            opt.step()
    worst = max(float(np.abs(p.detach().numpy() - q.detach().numpy()).max())
                for p, q in zip(tnet.parameters(), enet.parameters()))
    assert worst < 1e-4, f"parameters drifted apart by {worst}"
    moved = max(float(np.abs(p.detach().numpy() - v.numpy()).max())
                for p, v in zip(enet.parameters(), (ember.from_numpy(w.detach().numpy()) for w in _net(torch).parameters())))
    assert moved > 1e-3  # the test would be vacuous if training did nothing
