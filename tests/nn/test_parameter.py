"""nn.Parameter and nn.Buffer."""
import copy
import pickle

import numpy as np
import pytest

import ember
import ember.nn as nn
from tests.conftest import requires_torch


def test_parameter_shares_data_and_is_leaf():
    t = ember.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert isinstance(p, ember.Tensor) and isinstance(p, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    assert p._data is t._data and p._vc is t._vc  # same memory and version counter, like torch
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert tuple(nn.Parameter().shape) == (0,)
    q = p * 2
    assert type(q) is ember.Tensor and q.grad_fn is not None
    assert type(p.detach()) is ember.Tensor and type(p.data) is ember.Tensor
    x = ember.tensor([3.0], requires_grad=True)
    assert nn.Parameter(x * 2).is_leaf  # built from a non-leaf: detached


def test_parameter_repr():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\n" + ember.Tensor.__repr__(p)
    assert repr(p).endswith("requires_grad=True)")


@requires_torch
def test_parameter_repr_matches_torch(oracle):
    e = repr(nn.Parameter(ember.tensor([[1.0, 2.5], [3.0, -4.0]])))
    t = repr(oracle.nn.Parameter(oracle.tensor([[1.0, 2.5], [3.0, -4.0]])))
    assert e == t


@requires_torch
def test_integer_parameter_error_matches_torch_type(oracle):
    with pytest.raises(RuntimeError) as te:
        oracle.nn.Parameter(oracle.tensor([1, 2]))
    with pytest.raises(RuntimeError) as ee:
        nn.Parameter(ember.tensor([1, 2]))
    assert "floating point" in str(te.value) and "floating point" in str(ee.value)
    assert not nn.Parameter(ember.tensor([1, 2]), requires_grad=False).requires_grad


def test_parameter_backward_accumulates():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    (p * p).backward(ember.tensor([1.0, 1.0]))
    np.testing.assert_allclose(p.grad.numpy(), [2.0, 4.0])


def test_parameter_copy_and_pickle():
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    p.grad = ember.tensor([0.5, 0.5])
    p.note = "hi"
    c = copy.deepcopy(p)
    assert type(c) is nn.Parameter and c.requires_grad and c._data is not p._data
    np.testing.assert_array_equal(c.detach().numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(c.grad.numpy(), [0.5, 0.5])
    assert c.note == "hi"
    u = pickle.loads(pickle.dumps(p))
    assert type(u) is nn.Parameter and u.requires_grad and u.note == "hi"
    np.testing.assert_array_equal(u.detach().numpy(), [1.0, 2.0])
    f = nn.Parameter(ember.tensor([1.0]), requires_grad=False)
    assert not pickle.loads(pickle.dumps(f)).requires_grad


def test_buffer_registration():
    m = nn.Module()
    m.steps = nn.Buffer(ember.zeros(2))
    m.tmp = nn.Buffer(ember.ones(1), persistent=False)
    assert "steps" in m._buffers and "tmp" in m._buffers
    assert list(m.state_dict()) == ["steps"]
    assert isinstance(m.steps, nn.Buffer) and not isinstance(ember.zeros(1), nn.Buffer)
