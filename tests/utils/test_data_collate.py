"""default_collate / default_convert against torch's on the same inputs."""
from collections import namedtuple

import numpy as np
import pytest

import ember
from ember.utils.data import default_collate, default_convert

Point = namedtuple("Point", ["x", "y"])


def _same(mine, theirs, torch):
    """Structure, container types, dtypes and values agree (ember tensors vs torch tensors)."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(mine, ember.Tensor), f"expected a tensor, got {type(mine)}"
        assert mine.dtype.name == str(theirs.dtype).split(".")[-1]
        assert tuple(mine.shape) == tuple(theirs.shape)
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert type(mine) is type(theirs) and list(mine) == list(theirs)
        for k in theirs:
            _same(mine[k], theirs[k], torch)
    elif isinstance(theirs, (list, tuple)):
        assert type(mine).__name__ == type(theirs).__name__ and len(mine) == len(theirs)
        for a, b in zip(mine, theirs):
            _same(a, b, torch)
    elif isinstance(theirs, np.ndarray):
        np.testing.assert_array_equal(mine, theirs)
    else:
        assert mine == theirs and type(mine) is type(theirs)


def _samples(lib):
    f = np.arange(6, dtype=np.float32).reshape(2, 3)
    return [
        [lib.tensor(f + i) for i in range(3)],
        [1, 2, 3],
        [1.5, 2.5],
        [True, False, True],
        ["cat", "dog"],
        [b"a", b"b"],
        [np.arange(3, dtype=np.int32) + i for i in range(2)],
        [np.float32(1.5), np.float32(2.5)],
        [np.int64(3), np.int64(4)],
        [np.bool_(True), np.bool_(False)],
        [{"img": lib.tensor(f), "label": 1, "name": "a"}, {"img": lib.tensor(f * 2), "label": 2, "name": "b"}],
        [Point(1, 2.0), Point(3, 4.0)],
        [(lib.tensor([1.0]), 0), (lib.tensor([2.0]), 1)],
        [[1, 2], [3, 4]],
        [{"a": [np.float64(1.0), (2, "x")]}, {"a": [np.float64(3.0), (4, "y")]}],
    ]


@pytest.mark.parametrize("case", range(len(_samples(ember))))
def test_default_collate_matches_torch(oracle, case):
    mine = default_collate(_samples(ember)[case])
    theirs = oracle.utils.data.default_collate(_samples(oracle)[case])
    _same(mine, theirs, oracle)


def test_collate_of_tensors_is_a_new_stacked_tensor():
    a, b = ember.ones(2, 2), ember.zeros(2, 2)
    out = default_collate([a, b])
    assert tuple(out.shape) == (2, 2, 2) and out.dtype == ember.float32
    out.numpy()[0, 0, 0] = 5.0
    assert a.numpy()[0, 0] == 1.0


def test_collate_keeps_autograd_for_tensors_that_require_grad():
    a = ember.ones(2, requires_grad=True)
    out = default_collate([a, a * 3.0])
    assert out.requires_grad and tuple(out.shape) == (2, 2)
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [4.0, 4.0])


def test_collate_mixed_dtypes_promote_like_torch(oracle):
    mine = default_collate([ember.tensor([1, 2]), ember.tensor([1.5, 2.5])])
    theirs = oracle.utils.data.default_collate([oracle.tensor([1, 2]), oracle.tensor([1.5, 2.5])])
    _same(mine, theirs, oracle)


def test_collate_size_mismatch_error_matches_torch(oracle):
    with pytest.raises(RuntimeError) as mine:
        default_collate([ember.zeros(3), ember.zeros(4)])
    with pytest.raises(RuntimeError) as theirs:
        oracle.utils.data.default_collate([oracle.zeros(3), oracle.zeros(4)])
    assert str(mine.value) == str(theirs.value)
    assert "stack expects each tensor to be equal size" in str(mine.value)
    with pytest.raises(RuntimeError, match=r"but got \[2\] at entry 0 and \[3\] at entry 2"):
        default_collate([np.zeros(2), np.zeros(2), np.zeros(3)])


def test_collate_other_errors_match_torch(oracle):
    for batch in ([[1, 2], [3]], [object(), object()], [np.array(["a"]), np.array(["b"])]):
        with pytest.raises((RuntimeError, TypeError)) as mine:
            default_collate(batch)
        with pytest.raises((RuntimeError, TypeError)) as theirs:
            oracle.utils.data.default_collate(batch)
        assert type(mine.value) is type(theirs.value)
        assert str(mine.value) == str(theirs.value)


def test_default_convert_matches_torch(oracle):
    cases = [np.array([0, 1]), 0, "s", Point(np.array(0), np.array(1.0)), (np.array([1.5]), 2),
             [np.array([1, 2]), np.array([3, 4])], {"a": np.float32(1.0), "b": "x"}, np.array(["a", "b"])]
    for data in cases:
        _same(default_convert(data), oracle.utils.data.default_convert(data), oracle)
    t = ember.ones(2)
    assert default_convert(t) is t
