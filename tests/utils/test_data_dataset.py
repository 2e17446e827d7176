"""ember.utils.data datasets: TensorDataset, Subset, ConcatDataset, StackDataset, ChainDataset, random_split."""
import numpy as np
import pytest

import ember
from ember.utils.data import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,
                              TensorDataset, random_split)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i * i


class Count(IterableDataset):
    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self):
        return self.stop - self.start


def test_dataset_base_requires_getitem():
    with pytest.raises(NotImplementedError, match="Subclasses of Dataset should implement __getitem__"):
        Dataset()[0]
    with pytest.raises(TypeError):
        len(Dataset())


def test_dataset_is_subscriptable_generic():
    class Typed(Dataset[int]):
        def __getitem__(self, i):
            return i
    assert Typed()[3] == 3


def test_tensor_dataset_rows():
    x = ember.tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    y = ember.tensor([0, 1, 2, 3])
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    a, b = ds[2]
    np.testing.assert_array_equal(a.numpy(), [6.0, 7.0, 8.0])
    assert b.item() == 2 and a.dtype == ember.float32 and b.dtype == ember.int64
    a, b = ds[np.int64(-1)]
    assert b.item() == 3


def test_tensor_dataset_size_mismatch():
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(ember.zeros(3, 2), ember.zeros(4))


def test_subset_and_getitems():
    ds = Subset(Squares(10), [9, 2, 5])
    assert len(ds) == 3 and [ds[i] for i in range(3)] == [81, 4, 25]
    assert ds.__getitems__([2, 0]) == [25, 81]


def test_subset_subclass_must_override_getitems_like_torch(oracle):
    def make(base):
        class Doubled(base):
            def __getitem__(self, i):
                return 2 * self.dataset[self.indices[i]]
        return Doubled
    with pytest.raises(NotImplementedError) as mine:
        make(Subset)(Squares(4), [1, 2])
    with pytest.raises(NotImplementedError) as theirs:
        make(oracle.utils.data.Subset)(Squares(4), [1, 2])
    assert str(mine.value) == str(theirs.value)


def test_concat_dataset_indices_and_add():
    ds = ConcatDataset([Squares(3), Squares(2)])
    assert len(ds) == 5 and ds.cumulative_sizes == [3, 5]
    assert [ds[i] for i in range(5)] == [0, 1, 4, 0, 1]
    assert ds[-1] == 1 and ds[-5] == 0
    with pytest.raises(ValueError, match="absolute value of index should not exceed dataset length"):
        ds[-6]
    both = Squares(2) + Squares(3)
    assert isinstance(both, ConcatDataset) and len(both) == 5
    with pytest.raises(AssertionError, match="datasets should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="ConcatDataset does not support IterableDataset"):
        ConcatDataset([Count(0, 2)])


def test_stack_dataset_tuple_and_dict():
    ds = StackDataset(Squares(3), Squares(3))
    assert ds[2] == (4, 4) and len(ds) == 3
    ds = StackDataset(a=Squares(3), b=Squares(3))
    assert ds[1] == {"a": 1, "b": 1}
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(Squares(3), Squares(2))


def test_chain_dataset():
    ch = Count(0, 3) + Count(10, 12)
    assert isinstance(ch, ChainDataset)
    assert list(ch) == [0, 1, 2, 10, 11] and len(ch) == 5


def test_random_split_lengths_are_disjoint_and_cover():
    parts = random_split(range(10), [3, 7], generator=ember.Generator().manual_seed(42))
    assert [len(p) for p in parts] == [3, 7]
    seen = sorted(parts[0][i] for i in range(3)) + sorted(parts[1][i] for i in range(7))
    assert sorted(seen) == list(range(10))
    again = random_split(range(10), [3, 7], generator=ember.Generator().manual_seed(42))
    assert list(again[0].indices) == list(parts[0].indices)
    other = random_split(range(10), [3, 7], generator=ember.Generator().manual_seed(1))
    assert list(other[1].indices) != list(parts[1].indices)


def test_random_split_fractions_match_torch(oracle):
    for n, fracs in [(30, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]), (7, [0.1, 0.2, 0.7])]:
        mine = [len(p) for p in random_split(range(n), fracs)]
        theirs = [len(p) for p in oracle.utils.data.random_split(range(n), fracs)]
        assert mine == theirs


def test_random_split_errors_match_torch(oracle):
    for bad in ([3, 3], [1.2, -0.2]):
        with pytest.raises(ValueError) as mine:
            random_split(range(10), bad)
        with pytest.raises(ValueError) as theirs:
            oracle.utils.data.random_split(range(10), bad)
        assert str(mine.value) == str(theirs.value)


def test_random_split_zero_length_warns():
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [1.0, 0.0])
