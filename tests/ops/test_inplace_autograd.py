"""In-place ops on graph tensors and on views of them: gradients to the overwritten values and to every
operand, against torch and float64 central differences; +0.0 (not -0.0) where a gradient is cut."""
import re

import numpy as np
import pytest

import ember
from tests.conftest import numeric_grad, requires_torch, torch

_rng = np.random.default_rng(0)
X = _rng.uniform(0.2, 0.9, 12)
S = _rng.uniform(0.2, 0.9, 4)
W = _rng.standard_normal(12)

# name -> fn(lib, view, s): an in-place op on view (4 elements) with a second operand s (4 elements)
OPS = {
    "add_": lambda L, v, s: v.add_(s, alpha=2),
    # (a same-shape operand: straight into the memory when v is no view, as the residual `out += identity`)
    "add_tensor": lambda L, v, s: v.add_(s),
    "sub_tensor": lambda L, v, s: v.sub_(s * 3),
    "add_itself": lambda L, v, s: v.add_(v),
    "add_constant_tensor": lambda L, v, s: v.add_(s.detach()),
    "relu_": lambda L, v, s: L.nn.functional.relu(v.sub_(0.5), inplace=True),
    "mul_": lambda L, v, s: v.mul_(s),
    "div_": lambda L, v, s: v.div_(s),
    "pow_": lambda L, v, s: v.pow_(s),
    "addcmul_": lambda L, v, s: v.addcmul_(s, s * 2, value=0.5),
    "lerp_tensor_weight": lambda L, v, s: v.lerp_(s, s * 0.5),
    "clamp_": lambda L, v, s: v.clamp_(min=0.4, max=0.8),
    "clamp_tensor_min": lambda L, v, s: v.clamp_(min=s * 0.9),
    "masked_fill_scalar": lambda L, v, s: v.masked_fill_(s > 0.5, 0.1),
    "masked_fill_tensor": lambda L, v, s: v.masked_fill_(s > 0.5, s.sum()),
    "fill_tensor": lambda L, v, s: v.fill_(s.sum()),
    "fill_scalar": lambda L, v, s: v.fill_(0.25),
    "zero_": lambda L, v, s: v.zero_(),
    "copy_": lambda L, v, s: v.copy_(s * s),
    "copy_broadcast": lambda L, v, s: v.copy_(s[:1]),
    "sigmoid_": lambda L, v, s: v.sigmoid_(),
    "mvlgamma_": lambda L, v, s: v.add_(2).mvlgamma_(1),
    "floor_": lambda L, v, s: v.floor_(),
    "index_add_": lambda L, v, s: v.index_add_(0, L.tensor([0, 2]), s[:2]),
    "scatter_": lambda L, v, s: v.scatter_(0, L.tensor([3, 1]), s[:2]),
    "masked_scatter_": lambda L, v, s: v.masked_scatter_(s > 0.5, s * 3),
    "index_put_": lambda L, v, s: v.index_put_((L.tensor([1, 2]),), s[:2]),
    "addmm_": lambda L, v, s: v.view(2, 2).addmm_(s.view(2, 2), s.view(2, 2), beta=0.5),
    "addmv_": lambda L, v, s: v[:2].addmv_(s.view(2, 2), s[:2]),
    "addr_": lambda L, v, s: v.view(2, 2).addr_(s[:2], s[2:]),
    "baddbmm_": lambda L, v, s: v.view(1, 2, 2).baddbmm_(s.view(1, 2, 2), s.view(1, 2, 2)),
    "addbmm_": lambda L, v, s: v.view(2, 2).addbmm_(s.view(1, 2, 2), s.view(1, 2, 2), alpha=2),
    # in-place activations and dropout record their own nodes: on a view, the base must see them
    "leaky_relu_": lambda L, v, s: L.nn.functional.leaky_relu((v.sub_(0.5)), 0.1, inplace=True),
    "hardtanh_": lambda L, v, s: L.nn.functional.hardtanh(v, -0.5, 0.6, inplace=True),
    "elu_": lambda L, v, s: L.nn.functional.elu(v.sub_(0.5), inplace=True),
    "threshold_": lambda L, v, s: L.nn.functional.threshold(v, 0.5, 2.0, inplace=True),
    "silu_": lambda L, v, s: L.nn.functional.silu(v, inplace=True),
    "hardswish_": lambda L, v, s: L.nn.functional.hardswish(v.mul_(4), inplace=True),
    "celu_": lambda L, v, s: L.nn.functional.celu(v.sub_(0.5), inplace=True),
    "selu_": lambda L, v, s: L.nn.functional.selu(v.sub_(0.5), inplace=True),
    "mish_": lambda L, v, s: L.nn.functional.mish(v, inplace=True),
    "hardsigmoid_": lambda L, v, s: L.nn.functional.hardsigmoid(v.mul_(4), inplace=True),
    "rrelu_eval_": lambda L, v, s: L.nn.functional.rrelu(v.sub_(0.5), training=False, inplace=True),
    "dropout_p0_": lambda L, v, s: L.nn.functional.dropout(v, 0.0, True, inplace=True),
}
WHERE = ("whole", "slice", "row")


def _run(L, name, where, x0=X, s0=S):
    x = L.tensor(x0 if where != "whole" else x0[:4], requires_grad=True)
    s = L.tensor(s0, requires_grad=True)
    y = x.clone() * 1
    view = y if where == "whole" else y[1:9:2] if where == "slice" else y.view(3, 4)[1]
    OPS[name](L, view, s)
    loss = (y * L.tensor(W[:y.numel()])).sum()
    loss.backward()
    return loss.item(), x.grad.numpy().copy(), None if s.grad is None else s.grad.numpy().copy()


@requires_torch
@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name", sorted(OPS))
def test_inplace_op_gradients_match_torch(name, where):
    mine, theirs = _run(ember, name, where), _run(torch, name, where)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-10, atol=1e-12)
    assert np.array_equal(np.signbit(mine[1]), np.signbit(theirs[1]))   # +0.0 where torch has +0.0
    assert (mine[2] is None) == (theirs[2] is None)
    if mine[2] is not None:
        np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name", ["masked_fill_tensor", "fill_tensor", "zero_", "copy_", "mvlgamma_",
                                  "clamp_tensor_min", "index_put_", "elu_", "silu_", "hardswish_", "add_tensor",
                                  "sub_tensor", "add_itself", "relu_"])
def test_inplace_op_gradients_against_central_differences(name, where):
    _, gx, gs = _run(ember, name, where)
    x0 = X if where != "whole" else X[:4]
    nx = numeric_grad(lambda a: _run(ember, name, where, a, S)[0], x0)
    np.testing.assert_allclose(gx, nx, atol=1e-6)
    if gs is not None:
        ns = numeric_grad(lambda a: _run(ember, name, where, X if where != "whole" else X, a)[0], S)
        np.testing.assert_allclose(gs, ns, atol=1e-6)


def _cut_gradients(L):
    x = L.tensor([-1., 2., -3., 0.5, 4., -0.5, 1.5, -2., 1., 0., 3., -1.5], requires_grad=True)
    F = L.nn.functional
    out = []
    for f in (lambda t: t.relu(), lambda t: t.clamp(min=0), lambda t: F.relu(t),
              lambda t: L.maximum(t, L.zeros(12)), lambda t: (t * 1).zero_(), lambda t: t.clamp_min(0),
              lambda t: t.max(), lambda t: L.fmax(t, L.zeros(12)), lambda t: F.max_pool2d(t.view(1, 2, 6), 2),
              lambda t: F.max_pool2d(t.view(1, 1, 3, 4), 3, 1), lambda t: F.hardswish(t * 3)):
        x.grad = None
        (-f(x)).sum().backward()
        out.append(str(x.grad))
    return out


def test_cut_gradients_are_positive_zero():
    # relu, clamp, maximum, zero_, max, fmax and max pooling under a negative upstream gradient: torch
    # prints 0., not -0. (and hardswish's gradient is 0 at x = -3 itself, as torch's kernel)
    for printed in _cut_gradients(ember)[:-1]:   # (hardswish's (x / 3 + 0.5) * g is -0.0 at x = -1.5 in torch too)
        assert not re.search(r"-0\.0*[,\]]", printed), printed
    x = ember.tensor([-1., 2., 0.], dtype=ember.float64, requires_grad=True)
    (-x.relu()).sum().backward()
    assert not np.signbit(x.grad.numpy()[[0, 2]]).any() and x.grad.tolist() == [0., -1., 0.]


@requires_torch
def test_cut_gradients_print_as_torch():
    assert _cut_gradients(ember) == [p.replace("torch", "ember") for p in _cut_gradients(torch)]


def test_fill_and_masked_fill_value_errors():
    with pytest.raises(RuntimeError, match="0-dimension value tensor"):
        ember.zeros(3).fill_(ember.ones(2))
    with pytest.raises(RuntimeError, match="0-dimensional value tensor"):
        ember.zeros(3).masked_fill(ember.tensor([True, False, True]), ember.ones(1))


def test_masked_fill_tensor_value_double_backward():
    s = ember.tensor(0.5, dtype=ember.float64, requires_grad=True)
    x = ember.tensor([1., 2., 3.], dtype=ember.float64, requires_grad=True)
    y = x.masked_fill(ember.tensor([True, False, True]), s ** 2)
    (g,) = ember.autograd.grad((y * ember.tensor([1., 2., 3.], dtype=ember.float64)).sum(), s, create_graph=True)
    assert g.item() == pytest.approx(4 * 0.5 * 2)
    (h,) = ember.autograd.grad(g, s)
    assert h.item() == pytest.approx(8.0)


def _shape_inplace(L):
    x = L.tensor([[1.], [2.]], requires_grad=True)
    y = x * 2
    y.squeeze_()
    shapes = [tuple(y.shape)]
    y.unsqueeze_(0)
    y.t_()
    y.transpose_(0, 1)
    shapes.append(tuple(y.shape))
    (y * L.tensor([[3., 5.]])).sum().backward()
    return shapes, x.grad.tolist()


def test_inplace_view_ops_on_graph_tensors():
    # squeeze_/unsqueeze_/t_/transpose_ record their view node on the tensor (torch allows them)
    assert _shape_inplace(ember) == ([(2,), (1, 2)], [[6.], [10.]])
    leaf = ember.ones(2, 1, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.squeeze_(1)
    assert leaf.shape == (2, 1)


@requires_torch
def test_inplace_view_ops_match_torch():
    assert _shape_inplace(ember) == _shape_inplace(torch)


# ---- views whose base changes in place after they were made (torch's view replay) ----------------
def _stale_view_cases(L):
    """(name, fn(a)): each uses a view made before its base (or a sibling view) was modified in place."""
    def base_scaled(a):
        x = a * 1
        v = x[0]
        x.mul_(2)
        return v * 3

    def transposed_base_shifted(a):
        x = a * 1
        v = x.t()
        x.add_(1)
        return v.exp()

    def reshaped_base_scaled(a):
        x = a * 1
        v = x.view(3, 2)
        x.mul_(3)
        return v.sum(0)

    def sibling_view_written(a):
        x = a * 1
        row, col = x[1], x[:, 2]
        row.mul_(L.tensor([1.5, 2.0, 2.5], dtype=a.dtype))
        return col * col

    def transposed_view_written(a):
        x = a * 1
        v = x.t()
        v[0, 1] = 7.0
        return v.exp()

    # (not replayed: a view of a tensor outside any graph when its base later joins one, e.g. by
    # copy_: ember's ops read the view's requires_grad flag before anything could replay it)
    return [base_scaled, transposed_base_shifted, reshaped_base_scaled, sibling_view_written,
            transposed_view_written]


A0 = np.array([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])


@requires_torch
@pytest.mark.parametrize("index", range(5))
def test_stale_views_are_replayed_as_torch(index):
    got = []
    for L in (ember, torch):
        a = L.tensor(A0, requires_grad=True)
        out = _stale_view_cases(L)[index](a)
        out.sum().backward()
        got.append((out.detach().numpy(), a.grad.numpy()))
    np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-12)
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-12)


@pytest.mark.parametrize("index", range(5))
def test_stale_views_against_central_differences(index):
    fn = _stale_view_cases(ember)[index]
    a = ember.tensor(A0, requires_grad=True)
    fn(a).sum().backward()
    expect = numeric_grad(lambda x: fn(ember.tensor(x)).sum().item(), A0)
    np.testing.assert_allclose(a.grad.numpy(), expect, atol=1e-6)


# ---- random fills on graph tensors: recorded (zero gradients), refused on leaves -----------------------------
FILLS = {
    "uniform_": lambda v: v.uniform_(), "normal_": lambda v: v.normal_(2.0, 0.5), "bernoulli_": lambda v: v.bernoulli_(0.3),
    "exponential_": lambda v: v.exponential_(), "random_": lambda v: v.random_(), "random_to": lambda v: v.random_(5),
    "random_from_to": lambda v: v.random_(1, 5), "cauchy_": lambda v: v.cauchy_(), "log_normal_": lambda v: v.log_normal_(),
    "geometric_": lambda v: v.geometric_(0.5),
}


def _fill_run(L, name, where):
    L.manual_seed(0)
    x = L.tensor(X[:8], requires_grad=True)
    y = x * 1.5
    v = y if where == "whole" else y[1:5] if where == "slice" else y.view(2, 4)[1]
    FILLS[name](v)
    (y * L.tensor(W[:8])).sum().backward()
    leaf = L.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        FILLS[name](leaf)
    return y.detach().numpy().tolist(), x.grad.numpy().tolist(), type(v.grad_fn).__name__, leaf.tolist()


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name", sorted(FILLS))
def test_random_fills_cut_the_gradient(name, where):
    values, grad, _, leaf = _fill_run(ember, name, where)
    overwritten = {"whole": range(8), "slice": range(1, 5), "row": range(4, 8)}[where]
    assert [grad[i] for i in overwritten] == [0.0] * len(overwritten)
    assert all(grad[i] == pytest.approx(1.5 * W[i]) for i in range(8) if i not in overwritten)
    assert leaf == [1.0, 1.0]   # refused before anything was written


@requires_torch
@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("name", sorted(FILLS))
def test_random_fills_match_torch(name, where):
    mine, theirs = _fill_run(ember, name, where), _fill_run(torch, name, where)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-12)
    assert mine[1:] == theirs[1:]


def _bernoulli_tensor_p(L):
    p = L.tensor([0.2, 0.7, 0.5], requires_grad=True)
    z = L.zeros(3)
    z.bernoulli_(p)
    z.sum().backward()
    return z.requires_grad, type(z.grad_fn).__name__, p.grad.tolist()


def test_bernoulli_with_a_tensor_p_is_recorded():
    assert _bernoulli_tensor_p(ember) == (True, "BernoulliBackward1", [0.0, 0.0, 0.0])


# ---- rounding divisions, logit outside (0, 1), index_fill with a tensor value --------------------------------
def _rounded(L):
    x = L.tensor([1.5, -2.5, 3.0], requires_grad=True)
    s = L.tensor([0.5, 2.0, 4.0], requires_grad=True)
    out = []
    for mode in ("floor", "trunc"):
        x.grad = s.grad = None
        y = L.div(x, s, rounding_mode=mode)
        y.sum().backward()
        out.append((y.tolist(), type(y.grad_fn).__name__, x.grad.tolist(), s.grad.tolist()))
    y = x // 2
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not implemented"):
        y.sum().backward()
    out.append((y.tolist(), y.grad_fn.name()))
    x.grad = None
    L.logit(L.tensor([-0.5, 0.25, 1.5], requires_grad=True)).sum().backward()
    lg = L.tensor([-0.5, 0.25, 1.5], requires_grad=True)
    L.logit(lg).sum().backward()
    out.append(str(lg.grad))
    s.grad = x.grad = None
    L.nextafter(x, s).sum().backward()   # torch: the gradient passes to input, other gets zeros
    out.append((x.grad.tolist(), s.grad.tolist()))
    return out


def test_rounding_divisions_and_logit_gradients():
    got = _rounded(ember)
    assert got[0] == ([3.0, -2.0, 0.0], "DivBackward2", [0.0] * 3, [0.0] * 3)
    assert got[1] == ([3.0, -1.0, 0.0], "DivBackward2", [0.0] * 3, [0.0] * 3)
    assert got[2] == ([0.0, -2.0, 1.0], "torch::autograd::NotImplemented")
    assert got[3] == "tensor([   nan, 5.3333,    nan])"
    assert got[4] == ([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])


@requires_torch
def test_rounding_divisions_and_logit_gradients_match_torch():
    assert _rounded(ember) == _rounded(torch)


def _index_fill_value(L, v0=2.0):
    x = L.tensor(X[:6], requires_grad=True)
    v = L.tensor(v0, dtype=L.float64, requires_grad=True)
    y = x.view(2, 3).index_fill(1, L.tensor([0, 2, 0]), v * v)
    loss = (y * L.tensor(W[:6]).view(2, 3)).sum()
    loss.backward()
    return loss.item(), x.grad.tolist(), v.grad.item(), type(y.grad_fn).__name__


def test_index_fill_tensor_value_gradient_against_central_differences():
    _, _, gv, name = _index_fill_value(ember)
    nv = numeric_grad(lambda a: _index_fill_value(ember, float(a[0]))[0], np.array([2.0]))
    assert name == "IndexFillBackward1" and gv == pytest.approx(nv[0], abs=1e-6)


@requires_torch
def test_index_fill_tensor_value_matches_torch():
    mine, theirs = _index_fill_value(ember), _index_fill_value(torch)
    assert mine[3] == theirs[3]
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-12)
    assert mine[2] == pytest.approx(theirs[2], rel=1e-12)


def test_graph_add_sub_relu_write_in_place_without_a_copy(monkeypatch):
    # same-shape add_/sub_ and relu_ on a graph tensor (no view) skip the general path's copy of the
    # overwritten values: their nodes need none
    from ember.ops import elementwise as E

    def general(*a):
        raise AssertionError("took the general in-place path")
    monkeypatch.setattr(E, "_inplace", general)
    monkeypatch.setattr(E, "_relu_inplace_general", general)
    x = ember.tensor(X[:4], requires_grad=True)
    s = ember.tensor(S, requires_grad=True)
    y = x * 2
    data = y._data
    y.add_(s).sub_(s * 3).relu_()
    assert y._data is data and y._version == 3
    assert [y.grad_fn.name(), y.grad_fn.next_functions[0][0].name()] == ["ReluBackward0", "SubBackward0"]
    y.sum().backward()
    mask = (2 * X[:4] - 2 * S) > 0
    np.testing.assert_array_equal(x.grad.numpy(), 2.0 * mask)
    np.testing.assert_array_equal(s.grad.numpy(), -2.0 * mask)
