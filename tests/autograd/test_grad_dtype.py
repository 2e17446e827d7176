"""Tensor.grad_dtype (torch 2.10+): the dtype a leaf's gradient is kept in, checked against torch."""
import copy
import gc
import io

import numpy as np
import pytest

import ember
from ember import _tensor
from tests.conftest import requires_torch, torch


def _scenarios(lib):
    """Each scenario returns what it observed (dtypes as names, values as lists) or the error."""
    def name(d):
        return None if d is None else str(d).split(".")[-1]

    def default_is_own_dtype():
        a = lib.ones(3)
        b = lib.ones(3, dtype=lib.float64, requires_grad=True)
        return name(a.grad_dtype), name(b.grad_dtype), name(lib.nn.Parameter(lib.ones(2)).grad_dtype)

    def backward_casts_to_it():
        x = lib.ones(3, requires_grad=True)
        x.grad_dtype = lib.float64
        (x * 3).sum().backward()
        (x * 2).sum().backward()   # accumulates in float64
        return name(x.grad.dtype), x.grad.tolist()

    def half_gradient():
        x = lib.ones(3, requires_grad=True)
        x.grad_dtype = lib.float16
        (x * 3).sum().backward()
        return name(x.grad.dtype), x.grad.tolist()

    def none_keeps_what_arrives():
        x = lib.ones(3, requires_grad=True)
        x.grad_dtype = None
        x.grad = lib.ones(3, dtype=lib.float16)
        y = lib.ones(3, requires_grad=True)
        y.grad_dtype = None
        (y.double() * 3).sum().backward()   # the cast's backward hands float32 back
        return name(x.grad_dtype), name(x.grad.dtype), name(y.grad.dtype)

    def assignment_checks_it():
        x = lib.ones(3, requires_grad=True)
        x.grad_dtype = lib.float64
        x.grad = lib.ones(3, dtype=lib.float64)
        x.grad = lib.ones(3)
        return None

    def cannot_change_under_a_gradient():
        x = lib.ones(3, requires_grad=True)
        x.grad_dtype = None
        x.grad = lib.ones(3, dtype=lib.float16)
        x.grad_dtype = lib.float32
        return None

    def same_dtype_as_the_gradient_is_fine():
        x = lib.ones(3, requires_grad=True)
        x.grad = lib.ones(3)
        x.grad_dtype = lib.float32
        return name(x.grad_dtype)

    def bad_value():
        x = lib.ones(3, requires_grad=True)
        x.grad_dtype = "float"
        return None

    def non_leaf_get():
        return lib.ones(3, requires_grad=True)[:2].grad_dtype

    def non_leaf_set():
        v = lib.ones(3, requires_grad=True) * 2
        v.grad_dtype = None
        return None

    def kept_across_changes():
        x = lib.ones(3, requires_grad=True)
        x.grad_dtype = lib.float64
        x.requires_grad_(False)
        a = name(x.grad_dtype)
        x.data = lib.ones(3, dtype=lib.float16)
        return a, name(x.grad_dtype), name(x.detach().grad_dtype)

    def autograd_grad_returns_it():
        x = lib.ones(3, dtype=lib.float64, requires_grad=True)
        x.grad_dtype = lib.float32
        g, = lib.autograd.grad((x * 2).sum(), x)
        return name(g.dtype), g.tolist()

    def create_graph():
        x = lib.ones(3, requires_grad=True)
        x.grad_dtype = lib.float64
        (x * x).sum().backward(create_graph=True)
        return name(x.grad.dtype), x.grad.requires_grad, x.grad.tolist()

    def sgd_momentum_buffer_takes_the_gradient_dtype():
        x = lib.ones(3, requires_grad=True)
        x.grad_dtype = lib.float64
        y = lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([x, y], lr=0.1, momentum=0.9)
        for _ in range(3):
            opt.zero_grad()
            ((x * x).sum() + (y * y * 3).sum()).backward()
            opt.step()
        return (x.tolist(), y.tolist(), name(x.dtype), name(opt.state[x]["momentum_buffer"].dtype),
                name(opt.state[y]["momentum_buffer"].dtype))

    return {f.__name__: f for f in (
        default_is_own_dtype, backward_casts_to_it, half_gradient, none_keeps_what_arrives,
        assignment_checks_it, cannot_change_under_a_gradient, same_dtype_as_the_gradient_is_fine,
        bad_value, non_leaf_get, non_leaf_set, kept_across_changes, autograd_grad_returns_it,
        create_graph, sgd_momentum_buffer_takes_the_gradient_dtype)}


def _observe(lib, scenario):
    try:
        return "ok", _scenarios(lib)[scenario]()
    except Exception as e:   # noqa: BLE001 - the exception is what is compared
        return type(e).__name__, str(e).replace("torch.", "ember.")


SCENARIOS = list(_scenarios(ember))


def _assert_same(a, b):
    """Equal structure and names; floats within float32 rounding (torch fuses SGD's multiply-add)."""
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-6), (a, b)
    else:
        assert a == b


@requires_torch
@pytest.mark.filterwarnings("ignore::UserWarning")   # torch's own (create_graph's cycle, a non-leaf's .grad)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_matches_torch(scenario):
    mine, theirs = _observe(ember, scenario), _observe(torch, scenario)
    assert mine[0] == theirs[0], (mine, theirs)
    if mine[0] == "ok":
        _assert_same(mine[1], theirs[1])
    else:
        assert mine[1] == theirs[1]


def test_errors_without_torch():
    assert _observe(ember, "non_leaf_get") == ("RuntimeError", "grad_dtype can only be accessed on leaf tensors.")
    kind, message = _observe(ember, "assignment_checks_it")
    assert kind == "RuntimeError" and "with dtype 'float' to a tensor with grad_dtype 'Double'" in message
    kind, message = _observe(ember, "cannot_change_under_a_gradient")
    assert kind == "RuntimeError" and "Cannot set grad_dtype to 'Float'" in message
    assert _observe(ember, "backward_casts_to_it") == ("ok", ("float64", [5.0, 5.0, 5.0]))


def test_integer_grad_dtype_fails_with_a_clear_error():
    # torch stops at an internal assert here
    x = ember.ones(3, requires_grad=True)
    x.grad_dtype = ember.int64
    with pytest.raises(RuntimeError, match="grad_dtype must be a floating point or complex dtype"):
        (x * 2).sum().backward()
    assert x.grad is None


def test_deep_copies_keep_it_and_checkpoints_do_not_carry_it():
    x = ember.ones(3, requires_grad=True)
    x.grad_dtype = ember.float64
    (x * 3).sum().backward()
    y = copy.deepcopy(x)   # torch's own deepcopy raises here: its copy's .grad no longer fits
    assert y.grad_dtype == ember.float64 and y.grad.dtype == ember.float64
    m = ember.nn.Linear(2, 2)
    m.weight.grad_dtype = None
    m.weight.grad = ember.ones(2, 2, dtype=ember.float16)
    c = copy.deepcopy(m)
    assert c.weight.grad_dtype is None and c.weight.grad.dtype == ember.float16
    buf = io.BytesIO()
    ember.save(m.state_dict(), buf)
    buf.seek(0)
    assert ember.load(buf)["weight"].grad_dtype == ember.float32


def test_the_setting_dies_with_the_tensor():
    x = ember.ones(3, requires_grad=True)
    x.grad_dtype = None
    key = id(x)
    assert key in _tensor.grad_dtypes
    del x
    gc.collect()
    assert key not in _tensor.grad_dtypes
