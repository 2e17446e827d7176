"""torch's *_copy view functions and nonzero_static: values, fresh memory, grad_fn names and gradients."""
import numpy as np
import pytest

import ember

from tests.conftest import requires_torch, torch

CASES = {
    "view_copy": lambda T, x: T.view_copy(x, (3, 2)),
    "transpose_copy": lambda T, x: T.transpose_copy(x, 0, 1),
    "permute_copy": lambda T, x: T.permute_copy(x, (1, 0)),
    "expand_copy": lambda T, x: T.expand_copy(x[:1], (3, 3)),
    "squeeze_copy": lambda T, x: T.squeeze_copy(x.unsqueeze(0), 0),
    "unsqueeze_copy": lambda T, x: T.unsqueeze_copy(x, 1),
    "t_copy": lambda T, x: T.t_copy(x),
    "diagonal_copy": lambda T, x: T.diagonal_copy(x, 1),
    "select_copy": lambda T, x: T.select_copy(x, 1, 2),
    "slice_copy": lambda T, x: T.slice_copy(x, 1, 0, 3, 2),
    "split_copy": lambda T, x: T.split_copy(x, 2, 1),
    "split_with_sizes_copy": lambda T, x: T.split_with_sizes_copy(x, [1, 2], 1),
    "unbind_copy": lambda T, x: T.unbind_copy(x, 1),
    "unfold_copy": lambda T, x: T.unfold_copy(x, 1, 2, 1),
    "alias_copy": lambda T, x: T.alias_copy(x),
    "as_strided_copy": lambda T, x: T.as_strided_copy(x, (2, 2), (1, 2)),
    "narrow_copy": lambda T, x: T.narrow_copy(x, 1, 1, 2),
    "narrow_copy_method": lambda T, x: x.narrow_copy(0, 1, 1),
}


def _run(T, name):
    x = T.arange(6.).reshape(2, 3).requires_grad_()
    outs = CASES[name](T, x)
    outs = outs if isinstance(outs, tuple) else (outs,)
    sum(o.square().sum() for o in outs).backward()
    return ([o.tolist() for o in outs], [o.stride() for o in outs], [type(o.grad_fn).__name__ for o in outs],
            x.grad.tolist(), [o.is_contiguous() for o in outs])


@requires_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_view_copy_matches_torch(name):
    assert _run(ember, name) == _run(torch, name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_view_copy_owns_its_memory(name):
    x = ember.arange(6.).reshape(2, 3)
    outs = CASES[name](ember, x)
    for o in outs if isinstance(outs, tuple) else (outs,):
        assert not np.shares_memory(o.numpy(), x.numpy()) and o._base is None


def test_detach_copy_and_view_as_real_copy():
    x = ember.ones(2, requires_grad=True)
    d = ember.detach_copy(x)
    assert d.grad_fn is None and d.requires_grad and not np.shares_memory(d._data, x._data)
    c = ember.tensor([1 + 2j, 3 - 1j])
    r = ember.view_as_real_copy(c)
    assert r.tolist() == [[1., 2.], [3., -1.]] and not np.shares_memory(r.numpy(), c.numpy())
    assert ember.view_as_complex_copy(r).tolist() == c.tolist()


@requires_torch
@pytest.mark.parametrize("args", [((4,), {}), ((1,), {"fill_value": 7}), ((0,), {}), ((-1,), {})])
def test_nonzero_static_matches_torch(args):
    (size,), kw = args

    def run(T):
        try:
            return T.nonzero_static(T.tensor([[0, 1], [3, 0]]), size=size, **kw).tolist()
        except Exception as e:
            return type(e).__name__, str(e)
    assert run(ember) == run(torch)


def test_nonzero_static_method_and_scalar():
    assert ember.tensor([0, 2, 0, 5]).nonzero_static(size=3).tolist() == [[1], [3], [-1]]
    assert ember.nonzero_static(ember.tensor(5.), size=2).shape == (2, 0)
