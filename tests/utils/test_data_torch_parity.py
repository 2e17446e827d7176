"""Behaviours of ember.utils.data checked against torch.utils.data (skipped without torch)."""
import pytest

import ember
from ember.utils import data


class _Batched:
    """A map-style dataset with a batched __getitems__ (tagged so we can see it was used)."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return i

    def __getitems__(self, indices):
        return [("batched", i) for i in indices]


def _outcome(fn):
    try:
        return "ok", fn()
    except Exception as e:  # noqa: BLE001 - the type and text are what we compare
        return type(e).__name__, str(e)


def test_distributed_submodule_is_an_attribute(oracle):
    sampler_cls = ember.utils.data.distributed.DistributedSampler
    assert sampler_cls is data.DistributedSampler
    for r in range(3):
        got = list(sampler_cls(list(range(10)), num_replicas=3, rank=r))
        want = list(oracle.utils.data.distributed.DistributedSampler(list(range(10)), num_replicas=3, rank=r))
        assert got == want


def test_stack_dataset_getitems_uses_parents_batched_fetch(oracle):
    got_t = data.StackDataset(_Batched(), list("abcd")).__getitems__([0, 3])
    want_t = oracle.utils.data.StackDataset(_Batched(), list("abcd")).__getitems__([0, 3])
    assert got_t == want_t == [(("batched", 0), "a"), (("batched", 3), "d")]
    got_d = data.StackDataset(x=_Batched(), y=list("abcd")).__getitems__([1, 2])
    want_d = oracle.utils.data.StackDataset(x=_Batched(), y=list("abcd")).__getitems__([1, 2])
    assert got_d == want_d
    # and the DataLoader takes that path
    batches = list(data.DataLoader(data.StackDataset(_Batched(), list("abcd")), batch_size=2,
                                   collate_fn=lambda b: b))
    assert batches[0] == [(("batched", 0), "a"), (("batched", 1), "b")]


def test_worker_info_repr_has_torchs_fields(oracle):
    def info_repr(lib):
        def collate(batch):
            return repr(lib.get_worker_info()).split("dataset=")[1].split(", ", 1)[1]
        return list(lib.DataLoader([0], num_workers=1, collate_fn=collate))
    assert info_repr(data) == info_repr(oracle.utils.data) == ["rng=None, worker_method='multiprocessing')"]


def test_tensor_dataset_out_of_range_message(oracle):
    got = _outcome(lambda: data.TensorDataset(ember.arange(3))[5])
    want = _outcome(lambda: oracle.utils.data.TensorDataset(oracle.arange(3))[5])
    assert got == want == ("IndexError", "index 5 is out of bounds for dimension 0 with size 3")


@pytest.mark.parametrize("weights", [[-0.1, 0.2], [float("inf"), 1.0], [float("nan"), 1.0], [0.0, 0.0]])
@pytest.mark.parametrize("num_samples,replacement", [(1, True), (3, True), (1, False)])
def test_weighted_sampler_bad_weights_message(oracle, weights, num_samples, replacement):
    got = _outcome(lambda: list(data.WeightedRandomSampler(weights, num_samples, replacement)))
    want = _outcome(lambda: list(oracle.utils.data.WeightedRandomSampler(weights, num_samples, replacement)))
    assert got == want and got[0] == "RuntimeError"


def test_collate_tensor_then_non_tensor_is_type_error(oracle):
    got = _outcome(lambda: data.default_collate([ember.tensor(1), 2]))
    want = _outcome(lambda: oracle.utils.data.default_collate([oracle.tensor(1), 2]))
    assert got == want == ("TypeError", "expected Tensor as element 1 in argument 0, but got int")


@pytest.mark.parametrize("batch", [[2 ** 70, 1], [2 ** 63, 1]])
def test_collate_ints_past_int64_overflow(oracle, batch):
    got = _outcome(lambda: data.default_collate(batch))
    want = _outcome(lambda: oracle.utils.data.default_collate(batch))
    assert got == want == ("ValueError", "Overflow when unpacking long long")
    assert data.default_collate([2 ** 63 - 1, -2 ** 63]).tolist() == [2 ** 63 - 1, -2 ** 63]


def test_concat_dataset_old_cummulative_sizes_name(oracle):
    for lib in (data, oracle.utils.data):
        with pytest.warns(FutureWarning, match="`cummulative_sizes` attribute is renamed to `cumulative_sizes`"):
            assert lib.ConcatDataset([[1, 2], [3]]).cummulative_sizes == [2, 3]


def test_iterable_dataset_is_abstract(oracle):
    def attempt(lib):
        class NoIter(lib.IterableDataset):
            pass
        return _outcome(lib.IterableDataset), _outcome(NoIter)[0]
    assert attempt(data) == attempt(oracle.utils.data)
    assert attempt(data)[0][0] == "TypeError"
