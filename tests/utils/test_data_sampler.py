"""Samplers: deterministic ones equal torch's output; random ones have the right distribution."""
import numpy as np
import pytest

import ember
from ember.utils.data import (BatchSampler, RandomSampler, SequentialSampler, SubsetRandomSampler,
                              WeightedRandomSampler)


def test_sequential_sampler_matches_torch(oracle):
    for n in (0, 1, 7):
        assert list(SequentialSampler(range(n))) == list(oracle.utils.data.SequentialSampler(range(n)))
        assert len(SequentialSampler(range(n))) == n


@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False),
                                            (2, 5, True), (0, 2, False)])
def test_batch_sampler_matches_torch(oracle, n, bs, drop_last):
    mine = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
    theirs = oracle.utils.data.BatchSampler(oracle.utils.data.SequentialSampler(range(n)), bs, drop_last)
    assert list(mine) == list(theirs)
    assert len(mine) == len(theirs)


@pytest.mark.parametrize("bs,drop_last", [(0, False), (-1, False), (True, False), (2.0, False), (2, 1)])
def test_batch_sampler_errors_match_torch(oracle, bs, drop_last):
    with pytest.raises(ValueError) as mine:
        BatchSampler(range(4), bs, drop_last)
    with pytest.raises(ValueError) as theirs:
        oracle.utils.data.BatchSampler(range(4), bs, drop_last)
    assert str(mine.value) == str(theirs.value)


def test_random_sampler_is_a_permutation_and_reproducible():
    g = ember.Generator().manual_seed(3)
    first = list(RandomSampler(range(50), generator=g))
    assert sorted(first) == list(range(50)) and first != list(range(50))
    again = list(RandomSampler(range(50), generator=ember.Generator().manual_seed(3)))
    assert again == first
    # without a generator, ember.manual_seed makes it reproducible
    ember.manual_seed(7)
    a = list(RandomSampler(range(50)))
    ember.manual_seed(7)
    b = list(RandomSampler(range(50)))
    assert a == b and sorted(a) == list(range(50))


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(range(4), num_samples=10)
    out = list(s)
    assert len(s) == 10 and len(out) == 10
    # more than n without replacement: whole permutations, then part of one
    assert sorted(out[:4]) == [0, 1, 2, 3] and sorted(out[4:8]) == [0, 1, 2, 3]
    s = RandomSampler(range(3), replacement=True, num_samples=70)
    out = list(s)
    assert len(out) == 70 and set(out) <= {0, 1, 2} and set(out) == {0, 1, 2}


def test_random_sampler_errors_match_torch(oracle):
    for kwargs, exc in [({"replacement": 1}, TypeError), ({"num_samples": 0}, ValueError),
                        ({"num_samples": 2.5}, ValueError)]:
        with pytest.raises(exc) as mine:
            RandomSampler(range(3), **kwargs)
        with pytest.raises(exc) as theirs:
            oracle.utils.data.RandomSampler(range(3), **kwargs)
        assert str(mine.value) == str(theirs.value)
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler([])


def test_subset_random_sampler():
    idx = [10, 20, 30, 40, 50]
    s = SubsetRandomSampler(idx, generator=ember.Generator().manual_seed(0))
    out = list(s)
    assert sorted(out) == idx and len(s) == 5


def test_weighted_random_sampler_distribution():
    w = [1.0, 2.0, 7.0, 0.0]
    s = WeightedRandomSampler(w, 20000, generator=ember.Generator().manual_seed(0))
    counts = np.bincount(list(s), minlength=4) / 20000
    np.testing.assert_allclose(counts, [0.1, 0.2, 0.7, 0.0], atol=0.02)
    assert counts[3] == 0 and len(s) == 20000
    assert s.weights.dtype == ember.float64


def test_weighted_random_sampler_without_replacement():
    s = WeightedRandomSampler(ember.tensor([0.9, 0.4, 0.05, 0.2, 0.3, 0.1]), 6, replacement=False)
    assert sorted(s) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(RuntimeError, match="without replacement"):
        list(WeightedRandomSampler([1.0, 0.0], 2, replacement=False))


def test_weighted_random_sampler_errors_match_torch(oracle):
    for args, kwargs in [(([1.0, 2.0], 0), {}), (([1.0, 2.0], True), {}), (([1.0, 2.0], 2), {"replacement": 0}),
                         (([[1.0, 2.0]], 2), {})]:
        with pytest.raises(ValueError) as mine:
            WeightedRandomSampler(*args, **kwargs)
        with pytest.raises(ValueError) as theirs:
            oracle.utils.data.WeightedRandomSampler(*args, **kwargs)
        assert str(mine.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match="probability entry < 0"):
        list(WeightedRandomSampler([1.0, -1.0], 2))
