"""DistributedSampler: torch's index lists given the same permutation, and its properties."""
import pytest

import ember
from ember.utils.data import TensorDataset
from ember.utils.data.distributed import DistributedSampler

CASES = [(n, replicas, drop_last) for n in (1, 2, 7, 10, 12) for replicas in (1, 2, 3, 4, 5)
         for drop_last in (False, True)]


def _ember_perm(n, seed):
    g = ember.Generator()
    g.manual_seed(seed)
    return ember.randperm(n, generator=g).tolist()


@pytest.mark.parametrize("shuffle", [False, True])
def test_matches_torch_index_lists(oracle, monkeypatch, shuffle):
    torch = oracle
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    # torch shuffles with its own generator (mt19937); hand it ember's permutation for the same
    # seed + epoch, so everything else (padding, drop_last, striding) is compared exactly
    real_randperm = torch.randperm

    def randperm(n, generator=None, **kw):
        return torch.tensor(_ember_perm(n, generator.initial_seed()))

    monkeypatch.setattr(torch, "randperm", randperm)
    for n, replicas, drop_last in CASES:
        for rank in range(replicas):
            for epoch, seed in ((0, 0), (3, 11)):
                ours = DistributedSampler(range(n), num_replicas=replicas, rank=rank, shuffle=shuffle,
                                          seed=seed, drop_last=drop_last)
                theirs = TorchSampler(range(n), num_replicas=replicas, rank=rank, shuffle=shuffle, seed=seed,
                                      drop_last=drop_last)
                ours.set_epoch(epoch)
                theirs.set_epoch(epoch)
                key = (n, replicas, rank, drop_last, epoch, seed)
                assert list(ours) == list(theirs), key
                assert len(ours) == len(theirs) == ours.num_samples == theirs.num_samples, key
                assert ours.total_size == theirs.total_size, key
    monkeypatch.setattr(torch, "randperm", real_randperm)


def test_ranks_partition_the_dataset():
    n, replicas = 10, 3
    parts = [list(DistributedSampler(range(n), num_replicas=replicas, rank=r, seed=5)) for r in range(replicas)]
    assert all(len(p) == 4 for p in parts)                       # ceil(10 / 3), padded
    flat = [i for p in parts for i in p]
    assert sorted(set(flat)) == list(range(n))                   # every sample is visited
    assert len(flat) - len(set(flat)) == 2                       # the 2 padding indices repeat


def test_drop_last_drops_the_tail():
    parts = [list(DistributedSampler(range(10), num_replicas=3, rank=r, drop_last=True)) for r in range(3)]
    assert all(len(p) == 3 for p in parts)
    flat = [i for p in parts for i in p]
    assert len(set(flat)) == 9


def test_shuffle_depends_on_seed_and_epoch_only():
    def order(epoch, seed=0, rank=0):
        s = DistributedSampler(range(50), num_replicas=2, rank=rank, seed=seed)
        s.set_epoch(epoch)
        return list(s)
    assert order(0) == order(0)                       # deterministic: the same on every rank
    ember.manual_seed(123)                            # the global generator does not matter
    assert order(0) == order(0)
    assert order(0) != order(1)                       # set_epoch reshuffles
    assert order(0, seed=1) != order(0)
    assert order(2) == order(1, seed=1)               # seeded by seed + epoch, as torch
    assert not set(order(4, rank=0)) & set(order(4, rank=1))
    assert list(DistributedSampler(range(6), num_replicas=2, rank=1, shuffle=False)) == [1, 3, 5]


def test_invalid_rank_and_dataloader_integration():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    ds = TensorDataset(ember.arange(8))
    sampler = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    loader = ember.utils.data.DataLoader(ds, batch_size=2, sampler=sampler)
    assert [b[0].tolist() for b in loader] == [[1, 3], [5, 7]]


def test_needs_a_process_group_without_num_replicas():
    import ember.distributed as dist
    if dist.is_initialized():
        pytest.skip("a process group is initialized in this process")
    if dist.is_available():
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            DistributedSampler(range(4))
    else:
        with pytest.raises(RuntimeError, match="Requires distributed package to be available"):
            DistributedSampler(range(4))
