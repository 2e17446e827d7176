"""Which views may be modified in place with grad mode on (torch's CreationMeta): views returned
together by one function (split, chunk, unbind) and views made in no_grad mode refuse it, with
torch's messages; views made in no_grad mode of a tensor that requires grad are leaves that require
grad; tensor_split/hsplit views and unsafe_split pieces may be modified."""
import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch


def _base(L):
    return L.arange(6.0, requires_grad=True).clone()


def _nograd_view(L):
    a = _base(L)
    with L.no_grad():
        v = a[:2]
    return a, v


def _nograd_piece_sliced(L):
    a = _base(L)
    with L.no_grad():
        p = a.split(2)[0]
    return p[0:1]


def _piece_used_after_base_changed(L):
    x, _ = (b := _base(L)).split(3)
    b.mul_(2)
    return x * 1


def _nograd_view_used_after_base_changed(L):
    a, v = _nograd_view(L)
    a.mul_(2)
    return v * 1


def _piece_changed_in_no_grad_then_used(L):
    p = _base(L).split(2)[0]
    with L.no_grad():
        p.mul_(2)
    return p * 1


# name -> fn(lib): each raises in torch
REFUSED = {
    "split_mul_": lambda L: _base(L).split(2)[0].mul_(2),
    "chunk_add_": lambda L: _base(L).chunk(3)[1].add_(1),
    "unbind_zero_": lambda L: _base(L).view(2, 3).unbind()[0].zero_(),
    "unbind_dim1": lambda L: _base(L).view(3, 2).unbind(1)[0].mul_(2),
    "split_sizes_fill_": lambda L: _base(L).split([2, 4])[1].fill_(3),
    "split_setitem": lambda L: _base(L).split(2)[0].__setitem__(0, 5.0),
    "split_copy_": lambda L: _base(L).split(2)[0].copy_(L.ones(2)),
    "relu_": lambda L: L.relu_(_base(L).split(2)[0]),
    "F_relu_inplace": lambda L: L.nn.functional.relu(_base(L).split(2)[0], inplace=True),
    "view_of_piece": lambda L: _base(L).split(2)[0].view(2).mul_(2),
    "slice_of_piece": lambda L: _base(L).split(2)[0][0:1].mul_(2),
    "leaf_split": lambda L: L.arange(6.0, requires_grad=True).split(2)[0].mul_(2),
    "piece_of_plain_tensor_grad_value": lambda L: L.arange(6.0).split(2)[0].add_(L.ones(2, requires_grad=True)),
    "nograd_view_add_": lambda L: _nograd_view(L)[1].add_(1),
    "nograd_view_of_plain_tensor": lambda L: _nograd_view_plain(L),
    "nograd_piece_sliced": lambda L: _nograd_piece_sliced(L).mul_(2),
    "piece_used_after_base_changed": _piece_used_after_base_changed,
    "nograd_view_used_after_base_changed": _nograd_view_used_after_base_changed,
    "piece_changed_in_no_grad_then_used": _piece_changed_in_no_grad_then_used,
}


def _nograd_view_plain(L):
    a = L.zeros(4)
    with L.no_grad():
        v = a[:2]
    return v.add_(L.ones(2, requires_grad=True))


def _message(L, fn):
    with pytest.raises(RuntimeError) as info:
        fn(L)
    return str(info.value)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_inplace_changes_say_why(name):
    msg = _message(ember, REFUSED[name])
    assert "modified inplace" in msg
    assert ("returns multiple views" in msg) or ("no_grad" in msg)


@requires_torch
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_inplace_changes_match_torch(name):
    assert _message(ember, REFUSED[name]) == _message(torch, REFUSED[name])


def _allowed(L):
    """Values and gradients of views torch lets one modify in place."""
    out = []
    w = L.tensor(np.linspace(-1, 1, 6), requires_grad=True)
    for make in (lambda a: a.tensor_split(3)[1], lambda a: a.hsplit(3)[2], lambda a: a.unsafe_split(2)[0],
                 lambda a: a.unsafe_chunk(3)[1], lambda a: a.unsafe_split_with_sizes([2, 4])[1]):
        w.grad = None
        a = w * 2
        p = make(a)
        p.mul_(3)
        ((a + p.sum()) * L.arange(6.0, dtype=L.float64)).sum().backward()
        out.append((type(p.grad_fn).__name__, p._is_view(), a.tolist(), w.grad.tolist()))
    # no input requires grad, or grad mode is off: nothing to refuse
    plain = L.arange(4.0)
    plain.split(2)[0].add_(1)
    piece = L.arange(6.0, requires_grad=True).clone().split(2)[0]
    with L.no_grad():
        piece.mul_(2)
    out.append((plain.tolist(), piece.tolist()))
    return out


def test_allowed_inplace_changes():
    got = _allowed(ember)
    assert [g[:2] for g in got[:5]] == [("AsStridedBackward0", True), ("AsStridedBackward0", True),
                                         ("MulBackward0", False), ("MulBackward0", False), ("MulBackward0", False)]
    # tensor_split's second piece is a tracked view: a sees the * 3 on positions 2, 3
    assert got[0][2] == pytest.approx([-2.0, -1.2, -1.2, 1.2, 1.2, 2.0])
    assert got[5] == ([1.0, 2.0, 2.0, 3.0], [0.0, 2.0])


@requires_torch
def test_allowed_inplace_changes_match_torch():
    assert _allowed(ember) == _allowed(torch)


def _nograd_views(L):
    a = L.arange(6.0, requires_grad=True).clone()
    w = L.arange(3.0, requires_grad=True)
    with L.no_grad():
        views = [a[:2], w[:2], w.view(3), w.t(), a.split(2)[1], a * 2, w.detach()]
        arrays = [w.numpy().tolist(), np.asarray(w).tolist()]   # allowed under no_grad
    flags = [(v.requires_grad, v.is_leaf, v.grad_fn is None, repr(v)) for v in views]
    q = views[0]
    y = q * 2
    y.sum().backward()   # q requires grad, but as in torch its edge leads nowhere: nothing accumulates
    return flags, arrays, y.grad_fn.next_functions[0][0], q.grad, w.grad


def test_nograd_views_of_grad_tensors_are_leaves_that_require_grad():
    flags, arrays, edge, qgrad, wgrad = _nograd_views(ember)
    assert [f[:3] for f in flags] == [(True, True, True)] * 5 + [(False, True, True)] * 2
    assert flags[0][3] == "tensor([0., 1.], requires_grad=True)"
    assert arrays == [[0.0, 1.0, 2.0]] * 2
    assert edge is None and qgrad is None and wgrad is None
    with pytest.raises(RuntimeError, match="Can't call numpy"):
        ember.ones(2, requires_grad=True).numpy()


@requires_torch
def test_nograd_views_match_torch():
    mine, theirs = _nograd_views(ember), _nograd_views(torch)
    assert mine[0] == [tuple(x.replace("torch", "ember") if isinstance(x, str) else x for x in f) for f in theirs[0]]
    assert mine[1:] == theirs[1:]


def test_detach_of_a_view_in_place_is_refused():
    p = _base(ember)[:2]
    with pytest.raises(RuntimeError, match="Can't detach views in-place. Use detach"):
        p.detach_()


def _own_flag(L):
    with L.no_grad():
        w = L.arange(10.0).view(2, 5)   # (made in no_grad mode of a tensor without grad)
    w.requires_grad_()
    (w * 2).sum().backward()
    a = L.arange(3.0, requires_grad=True)
    with L.no_grad():
        q = a[:2]
    q.requires_grad_()   # its own flag now: gradients accumulate into it
    (q * 3).sum().backward()
    return w.grad.tolist(), q.grad.tolist(), a.grad


def test_requires_grad_on_a_nograd_view_accumulates_into_it():
    assert _own_flag(ember) == ([[2.0] * 5] * 2, [3.0, 3.0], None)


@requires_torch
def test_requires_grad_on_a_nograd_view_matches_torch():
    assert _own_flag(ember) == _own_flag(torch)


# name -> fn(lib, t): which results are autograd views of t's base (torch's _is_view), and their nodes
VIEW_KINDS = {
    "reshape": lambda L, t: t.reshape(6, 4), "reshape_copy": lambda L, t: t.transpose(0, 1).reshape(-1),
    "flatten_copy": lambda L, t: t.mT.flatten(), "contiguous_copy": lambda L, t: t.mT.contiguous(),
    "expand": lambda L, t: t[:, :1].expand(2, 3, 4), "diagonal": lambda L, t: t.diagonal(0, 1, 2),
    "unfold": lambda L, t: t.unfold(2, 2, 1), "advanced_index": lambda L, t: t[[0, 1]], "detach": lambda L, t: t.detach(),
    "split": lambda L, t: t.split(1)[0], "unbind": lambda L, t: t.unbind(1)[2], "view_dtype": lambda L, t: t.view(L.int32),
    "ravel_copy": lambda L, t: t.mT.ravel(), "data": lambda L, t: t.data, "alias": lambda L, t: t[...],
    "as_strided": lambda L, t: t.as_strided((2, 2), (1, 2)), "view_as_real": lambda L, t: L.view_as_real(L.complex(t, t)),
}


def _view_kinds(L):
    x = L.arange(24.0, requires_grad=True).clone().view(2, 3, 4)
    out = {}
    for name, fn in VIEW_KINDS.items():
        y = fn(L, x)
        out[name] = (y._is_view(), y._base is x._base if y._base is not None else None, y.requires_grad,
                     type(y.grad_fn).__name__ if y.grad_fn is not None else None, y.is_contiguous())
    return out


def test_view_dtype_of_a_grad_tensor_is_an_untracked_alias():
    x = ember.arange(4.0, requires_grad=True).clone()
    y = x.view(ember.int32)
    assert not y.requires_grad and not y._is_view() and y.grad_fn is None
    with ember.no_grad():
        x.add_(1)
    assert y._version == x._version == 1   # (one memory, one version counter)


@requires_torch
def test_view_kinds_match_torch():
    assert _view_kinds(ember) == _view_kinds(torch)


# in-place ops on a view of a leaf that requires grad: torch refuses them as it refuses the leaf
_LEAF_VIEW_CASES = [
    lambda L, x: x[:2].mul_(2), lambda L, x: x.view(3).add_(1), lambda L, x: x[0].zero_(),
    lambda L, x: x.reshape(3).add_(1), lambda L, x: x[:2].relu_(), lambda L, x: x[:2].unsqueeze_(0),
    lambda L, x: x[:2].copy_(L.zeros(2)), lambda L, x: x[:2].clamp_(0, 1), lambda L, x: x[:2].fill_(1),
    lambda L, x: x[:2].__setitem__(0, 5.0), lambda L, x: x[:2].detach_(),
]


@requires_torch
@pytest.mark.parametrize("case", range(len(_LEAF_VIEW_CASES)))
def test_inplace_on_a_view_of_a_leaf_matches_torch(case):
    fn = _LEAF_VIEW_CASES[case]
    got = []
    for L in (ember, torch):
        x = L.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            fn(L, x)
        got.append(str(info.value).split(".")[0])
        assert x.is_leaf and x.grad_fn is None
        with L.no_grad():   # allowed there
            x[:2].mul_(2)
        assert x.tolist() == [2.0, 2.0, 1.0]
    assert got[0] == got[1]


# a product saves an operand only for the other operands' gradients (torch's derivatives): an operand whose
# partners need no gradient may change in place before backward
_PRODUCTS = {
    "mul": lambda L, a, b: a * b, "div": lambda L, a, b: a / b, "mul_number": lambda L, a, b: a * 2.0,
    "matmul": lambda L, a, b: a @ b, "mm": lambda L, a, b: L.mm(a, b), "bmm": lambda L, a, b: L.bmm(a[None], b[None]),
    "linear": lambda L, a, b: L.nn.functional.linear(b, a, L.ones(2)),
    "addmm": lambda L, a, b: L.addmm(L.ones(2, 2), b, a), "einsum": lambda L, a, b: L.einsum("ij,jk->ik", a, b),
    "mv": lambda L, a, b: L.mv(a, b[0]), "dot": lambda L, a, b: L.dot(a[0], b[0]),
    "outer": lambda L, a, b: L.outer(a[0], b[0]), "bilinear": lambda L, a, b: L.nn.functional.bilinear(b, b, a[None]),
    "addcmul": lambda L, a, b: L.addcmul(L.ones(2, 2), a, b), "addcdiv": lambda L, a, b: L.addcdiv(L.ones(2, 2), a, b),
    "conv2d": lambda L, a, b: L.nn.functional.conv2d(b[None, None], a[None, None]),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(_PRODUCTS))
@pytest.mark.parametrize("changed", ["grad_operand", "other_operand"])
def test_saved_operands_match_torch(name, changed):
    fn = _PRODUCTS[name]
    outcomes = []
    for L in (ember, torch):
        a = L.tensor([[1.5, 2.0], [3.0, 4.0]], requires_grad=True)
        b = L.tensor([[0.5, 1.0], [2.0, 3.0]])
        out = fn(L, a, b).sum()
        with L.no_grad():
            (a if changed == "grad_operand" else b).add_(1)
        try:
            out.backward()
            outcomes.append(np.round(a.grad.numpy(), 5).tolist())
        except RuntimeError as e:
            assert "modified by an inplace operation" in str(e)
            outcomes.append("refused")
    assert outcomes[0] == outcomes[1]
