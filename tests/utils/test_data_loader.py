"""DataLoader in the main process: batching, len, argument validation (torch's errors), .next()."""
import warnings

import numpy as np
import pytest

import ember
from ember.utils.data import DataLoader, Dataset, IterableDataset, SequentialSampler, TensorDataset


class Pairs(Dataset):
    """Sample i: (float32 vector filled with i, int label i)."""

    def __init__(self, n, lib=np):
        self.n, self.lib = n, lib

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(3, i, dtype=np.float32), i


def _stream_class(base):
    class Stream(base):
        def __init__(self, n, with_len=True):
            self.n, self.with_len = n, with_len

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            if not self.with_len:
                raise TypeError("no len")
            return self.n
    return Stream


Stream = _stream_class(IterableDataset)


def _batches(loader):
    return [(x.numpy().tolist(), y.tolist()) for x, y in loader]


@pytest.mark.parametrize("bs,drop_last", [(1, False), (3, False), (3, True), (4, True), (11, False)])
def test_batches_and_len_match_torch(oracle, bs, drop_last):
    mine = DataLoader(Pairs(10), batch_size=bs, drop_last=drop_last)
    theirs = oracle.utils.data.DataLoader(Pairs(10), batch_size=bs, drop_last=drop_last)
    assert len(mine) == len(theirs)
    assert _batches(mine) == _batches(theirs)
    x, y = next(iter(mine))
    assert x.dtype == ember.float32 and y.dtype == ember.int64


def test_spec_pattern_dataiter_next():
    x = ember.tensor(np.arange(8, dtype=np.float32).reshape(4, 2))
    y = ember.tensor([0, 1, 0, 1])
    loader = DataLoader(TensorDataset(x, y), batch_size=2, shuffle=False)
    dataiter = iter(loader)
    images, labels = dataiter.next()
    assert images.numpy().tolist() == [[0.0, 1.0], [2.0, 3.0]] and labels.tolist() == [0, 1]
    images, labels = next(dataiter)
    assert labels.tolist() == [0, 1]
    with pytest.raises(StopIteration):
        dataiter.next()


def test_shuffle_is_a_permutation_reproducible_with_manual_seed():
    ember.manual_seed(0)
    a = [y.tolist() for _, y in DataLoader(Pairs(12), batch_size=4, shuffle=True)]
    ember.manual_seed(0)
    b = [y.tolist() for _, y in DataLoader(Pairs(12), batch_size=4, shuffle=True)]
    assert a == b
    assert sorted(sum(a, [])) == list(range(12)) and sum(a, []) != list(range(12))


def test_batch_size_none_converts_without_batching(oracle):
    mine = list(DataLoader(Pairs(3), batch_size=None))
    theirs = list(oracle.utils.data.DataLoader(Pairs(3), batch_size=None))
    assert len(mine) == len(theirs) == 3
    # default_convert: the numpy array becomes a tensor, the tuple a list, the int stays an int
    assert isinstance(mine[1], list) and isinstance(mine[1][0], ember.Tensor) and mine[1][1] == 1
    assert type(theirs[1]) is list and theirs[1][1] == 1


def test_custom_collate_and_batch_sampler():
    loader = DataLoader(Pairs(6), batch_sampler=[[5, 0], [3]], collate_fn=lambda b: [y for _, y in b])
    assert list(loader) == [[5, 0], [3]] and len(loader) == 2


def test_iterable_dataset_batches_and_len(oracle):
    TStream = _stream_class(oracle.utils.data.IterableDataset)
    for bs, drop_last in [(2, False), (2, True), (None, False)]:
        mine = DataLoader(Stream(5), batch_size=bs, drop_last=drop_last)
        theirs = oracle.utils.data.DataLoader(TStream(5), batch_size=bs, drop_last=drop_last)
        assert len(mine) == len(theirs)
        got = [b.tolist() if isinstance(b, ember.Tensor) else b for b in mine]
        want = [b.tolist() if isinstance(b, oracle.Tensor) else b for b in theirs]
        assert got == want
    with pytest.raises(TypeError):
        len(DataLoader(Stream(5, with_len=False)))


def test_iterable_dataset_longer_than_reported_warns():
    class Liar(Stream):
        def __len__(self):
            return 2
    loader = DataLoader(Liar(4), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        list(loader)


def _bad_args(Dl, Seq, ds, stream):
    return [
        (lambda: Dl(ds, num_workers=-1), ValueError),
        (lambda: Dl(ds, timeout=-1), ValueError),
        (lambda: Dl(ds, prefetch_factor=2), ValueError),
        (lambda: Dl(ds, num_workers=1, prefetch_factor=-1), ValueError),
        (lambda: Dl(ds, persistent_workers=True), ValueError),
        (lambda: Dl(ds, sampler=Seq(ds), shuffle=True), ValueError),
        (lambda: Dl(ds, batch_sampler=[[0]], batch_size=2), ValueError),
        (lambda: Dl(ds, batch_sampler=[[0]], drop_last=True), ValueError),
        (lambda: Dl(ds, batch_size=None, drop_last=True), ValueError),
        (lambda: Dl(stream, shuffle=True), ValueError),
        (lambda: Dl(stream, batch_sampler=[[0]]), ValueError),
        (lambda: Dl(ds, multiprocessing_context="fork"), ValueError),
        (lambda: Dl(ds, num_workers=1, multiprocessing_context="nonsense"), ValueError),
        (lambda: Dl(ds, num_workers=1, multiprocessing_context=3), TypeError),
        (lambda: Dl(ds, batch_size=0), ValueError),
    ]


def test_argument_errors_match_torch(oracle):
    td = oracle.utils.data
    mine_cases = _bad_args(DataLoader, SequentialSampler, Pairs(4), Stream(3))
    torch_cases = _bad_args(td.DataLoader, td.SequentialSampler, Pairs(4), _stream_class(td.IterableDataset)(3))
    for (mine, exc), (theirs, _) in zip(mine_cases, torch_cases):
        with pytest.raises(exc) as e_mine:
            mine()
        with pytest.raises(exc) as e_theirs:
            theirs()
        assert str(e_mine.value) == str(e_theirs.value)


def test_iterable_dataset_with_sampler_names_the_sampler():
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(Stream(3), sampler=[0, 1])


def test_attributes_are_frozen_after_init(oracle):
    loader = DataLoader(Pairs(4), batch_size=2)
    with pytest.raises(ValueError) as mine:
        loader.batch_size = 3
    with pytest.raises(ValueError) as theirs:
        oracle.utils.data.DataLoader(Pairs(4), batch_size=2).batch_size = 3
    assert str(mine.value) == str(theirs.value)
    loader.num_workers = 0  # other attributes may change


def test_pin_memory_accepted_on_cpu():
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        out = list(DataLoader(Pairs(4), batch_size=2, pin_memory=True))
    assert len(out) == 2 and out[1][1].tolist() == [2, 3]


def test_timeout_without_workers_is_refused_like_torch():
    with pytest.raises(AssertionError, match="timeout == 0"):
        iter(DataLoader(Pairs(2), timeout=1))


def test_iterator_len_and_not_picklable():
    import pickle
    it = iter(DataLoader(Pairs(10), batch_size=4))
    assert len(it) == 3
    with pytest.raises(NotImplementedError):
        pickle.dumps(it)
