"""unique, bincount, meshgrid, repeat_interleave, clamp_min/max, broadcast_*, isin, diff, atan2, trace,
searchsorted, nbytes/itemsize and index_add: values, dtypes, printing, node names and errors against
torch; gradients against float64 central differences (and torch)."""
import warnings

import numpy as np
import pytest

import ember
from ember.ops import shape as _shape_ops
from tests.conftest import numeric_grad, requires_torch, torch

RNG = np.random.default_rng(7)


# ---- helpers ------------------------------------------------------------------------------------
def _tree(x, fn):
    if isinstance(x, (tuple, list)):
        return type(x)(_tree(v, fn) for v in x)
    return fn(x)


def _same(e, t):
    """ember result e matches torch result t: structure, shape, dtype, values and printed form."""
    if isinstance(t, (tuple, list)):
        assert isinstance(e, tuple) and len(e) == len(t), (e, t)
        for a, b in zip(e, t):
            _same(a, b)
        return
    if isinstance(t, torch.Size):
        assert isinstance(e, ember.Size) and tuple(e) == tuple(t)
        return
    if not isinstance(t, torch.Tensor):
        assert e == t
        return
    assert isinstance(e, ember.Tensor)
    assert tuple(e.shape) == tuple(t.shape)
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(e.detach().numpy().astype(np.float64), t.detach().numpy().astype(np.float64),
                               rtol=1e-6, atol=1e-6, equal_nan=True)
    assert repr(e).replace("ember.", "torch.") == repr(t)


def both(f):
    """f(M) run with M = ember and M = torch; the results must agree."""
    e, t = f(ember), f(torch)
    _same(e, t)
    return e


I = np.array([3, 1, 2, 3, 1, 5])
M3 = np.array([[1, 2], [1, 2], [0, 5]])
X = RNG.standard_normal((3, 4)).astype(np.float32)
X2 = RNG.standard_normal((2, 3)).astype(np.float32)


def T(M, a, **kw):
    return M.tensor(a, **kw)


# ---- forward values, dtypes and printing against torch ---------------------------------------------
FORWARD = {
    "unique": lambda M: M.unique(T(M, I)),
    "unique_all": lambda M: M.unique(T(M, I), return_inverse=True, return_counts=True),
    "unique_unsorted": lambda M: M.unique(T(M, I), sorted=False, return_inverse=True),
    "unique_method_pos": lambda M: T(M, I).unique(True, True),
    "unique_2d_flat": lambda M: M.unique(T(M, [[1.0, 2], [2, 4]]), return_inverse=True),
    "unique_dim0": lambda M: M.unique(T(M, M3), dim=0, return_inverse=True, return_counts=True),
    "unique_dim1": lambda M: M.unique(T(M, [[3.0, 1], [1, 2], [3, 1]]), dim=1, return_inverse=True),
    "unique_dim_neg": lambda M: M.unique(T(M, [[[3, 1], [3, 1]]]), dim=-1, return_counts=True),
    "unique_nan": lambda M: M.unique(T(M, [float("nan"), 1.0, float("nan")]), return_inverse=True,
                                     return_counts=True),
    "unique_bool": lambda M: M.unique(T(M, [True, False, True]), return_counts=True),
    "unique_empty": lambda M: M.unique(T(M, []), return_inverse=True, return_counts=True),
    "unique_empty_dim": lambda M: M.unique(M.zeros(0, 3), dim=0, return_inverse=True, return_counts=True),
    "unique_0d": lambda M: M.unique(T(M, 3)),
    "unique_consecutive": lambda M: M.unique_consecutive(T(M, [1, 1, 2, 2, 3, 1, 1, 2]), return_inverse=True,
                                                         return_counts=True),
    "unique_consecutive_dim": lambda M: T(M, M3).unique_consecutive(dim=0, return_counts=True),
    "unique_consecutive_dim_inverse": lambda M: T(M, [[1, 2], [1, 2], [0, 2], [1, 2]]).unique_consecutive(
        dim=0, return_inverse=True),
    "unique_consecutive_2d_inverse": lambda M: M.unique_consecutive(
        T(M, [[1.0, 1.0, float("nan")], [float("nan"), 2.0, 2.0]]), return_inverse=True, return_counts=True),
    "bincount": lambda M: M.bincount(T(M, [0, 1, 1, 3])),
    "bincount_w": lambda M: M.bincount(T(M, [0, 1, 1, 3]), weights=T(M, [0.5, 1, 1, 2]), minlength=6),
    "bincount_w64": lambda M: T(M, [0, 1, 1, 3]).bincount(T(M, [0.5, 1, 1, 2], dtype=M.float64)),
    "bincount_wint": lambda M: M.bincount(T(M, [0, 1, 1, 3]), weights=T(M, [1, 1, 1, 2])),
    "bincount_w16": lambda M: M.bincount(T(M, [0, 1]), weights=T(M, [1.0, 2], dtype=M.float16)),
    "bincount_empty": lambda M: M.bincount(T(M, [], dtype=M.long)),
    "bincount_uint8": lambda M: M.bincount(T(M, [0, 2], dtype=M.uint8)),
    "meshgrid_ij": lambda M: M.meshgrid(T(M, [1, 2]), T(M, [3, 4, 5]), indexing="ij"),
    "meshgrid_xy": lambda M: M.meshgrid([T(M, [1, 2]), T(M, [3, 4, 5])], indexing="xy"),
    "meshgrid_xy3": lambda M: M.meshgrid(T(M, [1, 2, 3]), T(M, [1, 2]), T(M, [4]), indexing="xy"),
    "meshgrid_0d": lambda M: M.meshgrid(T(M, 1), T(M, [1, 2]), indexing="xy"),
    "meshgrid_one": lambda M: M.meshgrid(T(M, [1, 2, 3]), indexing="ij"),
    "repeat_interleave_counts": lambda M: M.repeat_interleave(T(M, [2, 1, 3])),
    "repeat_interleave_flat": lambda M: M.repeat_interleave(T(M, [[1, 2], [3, 4]]), 2),
    "repeat_interleave_dim": lambda M: T(M, M3).repeat_interleave(3, dim=1),
    "repeat_interleave_tensor": lambda M: T(M, M3).repeat_interleave(T(M, [1, 0, 2]), dim=0),
    "repeat_interleave_one": lambda M: T(M, M3).repeat_interleave(T(M, [2]), dim=-1),
    "repeat_interleave_0d": lambda M: T(M, 5.0).repeat_interleave(3),
    "repeat_interleave_empty": lambda M: M.ones(0).repeat_interleave(2),
    "repeat_interleave_out_size": lambda M: T(M, M3).repeat_interleave(2, dim=0, output_size=6),
    "clamp_min": lambda M: T(M, X).clamp_min(0.1),
    "clamp_max_t": lambda M: M.clamp_max(T(M, X), T(M, X[0])),
    "clamp_min_int_float": lambda M: T(M, [1, 2]).clamp_min(1.5),
    "clamp_min_int": lambda M: T(M, [1, 2]).clamp_min(2),
    "broadcast_to": lambda M: M.broadcast_to(T(M, X[:1]), (2, 3, 4)),
    "broadcast_to_m1": lambda M: T(M, X[:, :1]).broadcast_to([3, -1]),
    "broadcast_tensors": lambda M: M.broadcast_tensors(T(M, X), T(M, [1.0, 2, 3]).reshape(3, 1), T(M, 2.0)),
    "broadcast_shapes": lambda M: M.broadcast_shapes((2, 1), (3,), [1, 1, 1]),
    "broadcast_shapes_int": lambda M: M.broadcast_shapes(2, (3, 1)),
    "broadcast_shapes_size": lambda M: M.broadcast_shapes(M.Size([2, 1]), [3]),
    "broadcast_shapes_none": lambda M: M.broadcast_shapes(),
    "isin": lambda M: M.isin(T(M, [[1, 2], [3, 4]]), T(M, [2, 4])),
    "isin_invert": lambda M: M.isin(T(M, [1, 2, 3, 4]), T(M, [2, 4]), invert=True),
    "isin_scalar_test": lambda M: M.isin(T(M, [1, 2, 3, 4]), 2),
    "isin_scalar_elem": lambda M: M.isin(3, T(M, [2, 3])),
    "isin_mixed": lambda M: M.isin(T(M, [1.0, 2.5]), T(M, [2, 1]), assume_unique=True),
    "diff": lambda M: M.diff(T(M, X)),
    "diff_n2_dim0": lambda M: T(M, X).diff(n=2, dim=0),
    "diff_big_n": lambda M: M.diff(T(M, X), n=7),
    "diff_pre_app": lambda M: M.diff(T(M, X2), prepend=M.zeros(2, 1), append=M.ones(2, 2)),
    "diff_bool": lambda M: M.diff(T(M, [True, False, False])),
    "diff_int": lambda M: M.diff(T(M, [1, 5, 2])),
    "diff_promote": lambda M: M.diff(T(M, [1, 5, 2]), prepend=T(M, [1.5])),
    "diff_uint8": lambda M: M.diff(T(M, [1, 5, 2], dtype=M.uint8)),
    "atan2": lambda M: M.atan2(T(M, X), T(M, X[1])),
    "atan2_int": lambda M: M.atan2(T(M, [1, 2]), T(M, [0, 1])),
    "atan2_promote": lambda M: T(M, [1.0, 2], dtype=M.float64).atan2(T(M, [1.0, -2])),
    "arctan2": lambda M: M.arctan2(T(M, [1.0, -2]), T(M, [-1.0, -2])),
    "trace": lambda M: M.trace(T(M, X)),
    "trace_int32": lambda M: T(M, [[1, 2], [3, 4]], dtype=M.int32).trace(),
    "trace_tall": lambda M: T(M, X.T.copy()).trace(),
    "searchsorted": lambda M: M.searchsorted(T(M, [1, 3, 5, 7, 9]), T(M, [3, 6, 9])),
    "searchsorted_right": lambda M: M.searchsorted(T(M, [1, 3, 5, 7, 9]), T(M, [3, 6, 9]), right=True),
    "searchsorted_side": lambda M: M.searchsorted(T(M, [1, 3, 5, 7, 9]), T(M, [3, 6, 9]), side="right"),
    "searchsorted_int32": lambda M: M.searchsorted(T(M, [1, 3, 5, 7, 9]), T(M, [3, 6]), out_int32=True),
    "searchsorted_scalar": lambda M: M.searchsorted(T(M, [1, 3, 5, 7, 9]), 5),
    "searchsorted_0d": lambda M: M.searchsorted(T(M, [1, 3, 5, 7, 9]), T(M, 5)),
    "searchsorted_nd": lambda M: M.searchsorted(T(M, [[1, 3, 5], [2, 4, 6]]), T(M, [[3, 6], [1, 7]])),
    "searchsorted_sorter": lambda M: M.searchsorted(T(M, [5, 1, 3]), T(M, [3, 4]), sorter=T(M, [1, 2, 0])),
    "searchsorted_mixed": lambda M: M.searchsorted(T(M, [1.0, 2.0]), T(M, [1.5, 2.0], dtype=M.float64)),
    "nbytes": lambda M: (M.ones(3, 4).nbytes, M.ones(3, 4).itemsize, M.ones(2, dtype=M.float64).itemsize,
                         M.ones(3, dtype=M.bool).nbytes, M.ones(3, 4)[:, :2].nbytes,
                         M.ones(3, 4).expand(2, 3, 4).nbytes),
    "index_add": lambda M: M.ones(5, 3).index_add(0, T(M, [0, 4, 2, 0]), M.arange(12.0).reshape(4, 3), alpha=2),
    "index_add_dim1": lambda M: M.index_add(M.ones(5, 3), 1, T(M, [0, 0]), M.ones(5, 2)),
    "index_add_int32_idx": lambda M: M.ones(5, 3).index_add(0, T(M, [0, 1], dtype=M.int32), M.ones(2, 3)),
    "index_add_long_alpha": lambda M: M.ones(3, dtype=M.long).index_add(0, T(M, [0, 1]), M.ones(2, dtype=M.long),
                                                                         alpha=0.5),
    "index_add_0d": lambda M: T(M, 1.0).index_add(0, T(M, [0]), T(M, 2.0)),
}


@requires_torch
@pytest.mark.parametrize("name", list(FORWARD))
def test_forward_matches_torch(name):
    both(FORWARD[name])


def test_forward_values_without_torch():
    """A few results spelled out, so the file checks something when torch is absent."""
    u, inv, cnt = ember.unique(ember.tensor(I), return_inverse=True, return_counts=True)
    assert u.tolist() == [1, 2, 3, 5] and inv.tolist() == [2, 0, 1, 2, 0, 3] and cnt.tolist() == [2, 1, 2, 1]
    u, inv, cnt = ember.unique(ember.tensor(M3), dim=0, return_inverse=True, return_counts=True)
    assert u.tolist() == [[0, 5], [1, 2]] and inv.tolist() == [1, 1, 0] and cnt.tolist() == [1, 2]
    assert ember.bincount(ember.tensor([0, 1, 1, 3]), minlength=5).tolist() == [1, 2, 0, 1, 0]
    assert ember.repeat_interleave(ember.tensor([2, 1, 3])).tolist() == [0, 0, 1, 2, 2, 2]
    g = ember.meshgrid(ember.tensor([1, 2]), ember.tensor([3, 4, 5]), indexing="xy")
    assert g[0].tolist() == [[1, 2]] * 3 and g[1].tolist() == [[3, 3], [4, 4], [5, 5]]
    assert ember.diff(ember.tensor([1, 5, 2])).tolist() == [4, -3]
    assert ember.searchsorted(ember.tensor([1, 3, 5]), ember.tensor([3, 4]), right=True).tolist() == [2, 2]
    assert ember.isin(ember.tensor([1, 2, 3]), ember.tensor([3, 1])).tolist() == [True, False, True]
    assert ember.trace(ember.tensor([[1, 2], [3, 4]])).item() == 5
    assert ember.broadcast_shapes((2, 1), (3,)) == ember.Size([2, 3])
    assert ember.ones(3, 4).nbytes == 48 and ember.ones(3, 4).itemsize == 4


def test_views_share_memory():
    x = ember.tensor(X[:1], requires_grad=True)
    b = ember.broadcast_to(x, (3, 3, 4))
    assert b._base is x and np.shares_memory(b._data, x._data)
    a, c = ember.broadcast_tensors(x, ember.ones(2, 1, 1))
    assert a._base is x and c.shape == (2, 1, 4)
    same = ember.broadcast_tensors(x, x)
    assert same[0] is x
    g = ember.meshgrid(ember.tensor([1.0, 2]), ember.tensor([3.0, 4, 5]), indexing="ij")
    assert all(t._base is not None for t in g)


def test_index_add_leaves_input_and_inplace_writes():
    x = ember.ones(4, 2)
    before = x._vc[0]
    y = x.index_add(0, ember.tensor([1, 1]), ember.ones(2, 2))
    assert x.tolist() == [[1.0, 1.0]] * 4 and y[1].tolist() == [3.0, 3.0]
    out = x.index_add_(0, ember.tensor([3]), ember.full((1, 2), 5.0), alpha=2)
    assert out is x and x[3].tolist() == [11.0, 11.0] and x._vc[0] == before + 1
    z = ember.tensor([1.0, 5.0])
    z.clamp_min_(2).clamp_max_(3)
    assert z.tolist() == [2.0, 3.0]
    w = ember.tensor([1.0, -1.0])
    w.atan2_(ember.tensor([1.0, 1.0]))
    np.testing.assert_allclose(w.numpy(), [np.pi / 4, -np.pi / 4], rtol=1e-6)


def test_meshgrid_warns_once_without_indexing():
    _shape_ops._MESHGRID_WARNED[0] = False
    a, b = ember.tensor([1, 2]), ember.tensor([3, 4, 5])
    with pytest.warns(UserWarning, match="it will be required to pass the indexing argument"):
        g = ember.meshgrid(a, b)
    assert g[0].shape == (2, 3)   # torch's default: 'ij'
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.meshgrid(a, b)
        ember.meshgrid(a, b, indexing="ij")


# ---- gradients ---------------------------------------------------------------------------------------
def _gradcheck(f, *arrays, diff=None):
    """f's gradient (of sum(out * w)) for every float input against float64 central differences."""
    diff = range(len(arrays)) if diff is None else diff
    # numeric_grad perturbs a reshape(-1) of its copy, which must be C-ordered to be a view
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in arrays]
    xs = [ember.tensor(np.asarray(a, dtype=np.float64), requires_grad=i in diff) for i, a in enumerate(arrays)]
    out = f(*xs)
    outs = out if isinstance(out, tuple) else (out,)
    ws = [RNG.standard_normal(tuple(o.shape)) for o in outs]
    ember.autograd.backward(list(outs), [ember.tensor(w) for w in ws])
    for i in diff:
        def scalar(v, i=i):
            args = [ember.tensor(v) if k == i else ember.tensor(np.asarray(a, dtype=np.float64))
                    for k, a in enumerate(arrays)]
            with ember.no_grad():
                res = f(*args)
            res = res if isinstance(res, tuple) else (res,)
            return float(sum((r.numpy() * w).sum() for r, w in zip(res, ws)))
        np.testing.assert_allclose(xs[i].grad.numpy(), numeric_grad(scalar, arrays[i]), atol=1e-6, rtol=1e-5)


IDX = ember.tensor([0, 2, 0])
GRADS = {
    "repeat_interleave_int": (lambda x: x.repeat_interleave(2, dim=1), [X]),
    "repeat_interleave_flat": (lambda x: ember.repeat_interleave(x, 3), [X2]),
    "repeat_interleave_tensor": (lambda x: x.repeat_interleave(ember.tensor([2, 0, 1]), dim=0), [X]),
    "clamp_min": (lambda x: x.clamp_min(0.2), [X]),
    "clamp_max": (lambda x: ember.clamp_max(x, -0.1), [X]),
    "clamp_min_t": (lambda x, m: x.clamp_min(m), [X, X[1] + 0.01]),
    "clamp_max_t": (lambda x, m: ember.clamp_max(x, m), [X, X[:, :1] + 0.01]),
    "broadcast_to": (lambda x: ember.broadcast_to(x, (2, 3, 4)), [X[:, :1]]),
    "broadcast_tensors": (lambda x, y: ember.broadcast_tensors(x, y), [X[:1], X[:, :1]]),
    "meshgrid": (lambda x, y: ember.meshgrid(x, y, indexing="xy"), [X[0], X2[0]]),
    "diff": (lambda x: ember.diff(x), [X]),
    "diff_n2_dim0_pre_app": (lambda x, p, a: x.diff(n=2, dim=0, prepend=p, append=a), [X, X[:1], X[:2]]),
    "atan2": (lambda x, y: ember.atan2(x, y), [X, X2[:1, :1] + 1.5]),
    "atan2_broadcast": (lambda x, y: x.atan2(y), [X[:1], X[:, :1]]),
    "trace": (lambda x: ember.trace(x), [X]),
    "trace_tall": (lambda x: x.trace(), [X.T]),
    "index_add": (lambda x, s: x.index_add(1, IDX, s, alpha=1.5), [X, X[:, :3]]),
    "index_add_func": (lambda x, s: ember.index_add(x, 0, ember.tensor([2, 2]), s), [X, X[:2]]),
}


@pytest.mark.parametrize("name", list(GRADS))
def test_gradcheck(name):
    f, arrays = GRADS[name]
    _gradcheck(f, *arrays)


def test_autograd_gradcheck_helper():
    x = ember.tensor(X.astype(np.float64), requires_grad=True)
    y = ember.tensor(X[1].astype(np.float64) + 2, requires_grad=True)
    assert ember.autograd.gradcheck(lambda a, b: ember.atan2(a, b), (x, y))
    assert ember.autograd.gradcheck(lambda a: a.repeat_interleave(ember.tensor([1, 2, 0]), dim=0), (x,))


def _grads_vs_torch(f, arrays):
    """Node names and gradients of f(M, *leaves) agree between ember and torch."""
    res = []
    ws = None
    for M in (ember, torch):
        xs = [M.tensor(a, requires_grad=True) for a in arrays]
        out = f(M, *xs)
        outs = out if isinstance(out, tuple) else (out,)
        names = [o.grad_fn.name().replace("torch::autograd::", "") for o in outs]
        if ws is None:
            ws = [RNG.standard_normal(tuple(o.shape)).astype(np.float32) for o in outs]
        M.autograd.backward(list(outs), [M.tensor(w) for w in ws])
        res.append((names, [x.grad.numpy() if x.grad is not None else None for x in xs]))
    (en, eg), (tn, tg) = res
    assert en == tn
    for a, b in zip(eg, tg):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _torch_twin(name):
    # the same calls spelled against torch
    tidx = torch.tensor([0, 2, 0]) if torch is not None else None
    return {
        "repeat_interleave_int": lambda x: x.repeat_interleave(2, dim=1),
        "repeat_interleave_flat": lambda x: torch.repeat_interleave(x, 3),
        "repeat_interleave_tensor": lambda x: x.repeat_interleave(torch.tensor([2, 0, 1]), dim=0),
        "clamp_min": lambda x: x.clamp_min(0.2),
        "clamp_max": lambda x: torch.clamp_max(x, -0.1),
        "clamp_min_t": lambda x, m: x.clamp_min(m),
        "clamp_max_t": lambda x, m: torch.clamp_max(x, m),
        "broadcast_to": lambda x: torch.broadcast_to(x, (2, 3, 4)),
        "broadcast_tensors": lambda x, y: torch.broadcast_tensors(x, y),
        "meshgrid": lambda x, y: torch.meshgrid(x, y, indexing="xy"),
        "diff": lambda x: torch.diff(x),
        "diff_n2_dim0_pre_app": lambda x, p, a: x.diff(n=2, dim=0, prepend=p, append=a),
        "atan2": lambda x, y: torch.atan2(x, y),
        "atan2_broadcast": lambda x, y: x.atan2(y),
        "trace": lambda x: torch.trace(x),
        "trace_tall": lambda x: x.trace(),
        "index_add": lambda x, s: x.index_add(1, tidx, s, alpha=1.5),
        "index_add_func": lambda x, s: torch.index_add(x, 0, torch.tensor([2, 2]), s),
    }[name]


@requires_torch
@pytest.mark.parametrize("name", list(GRADS))
def test_gradients_and_nodes_match_torch(name):
    f, arrays = GRADS[name]
    twin = _torch_twin(name)
    _grads_vs_torch(lambda M, *xs: f(*xs) if M is ember else twin(*xs),
                    [np.ascontiguousarray(a, dtype=np.float32) for a in arrays])


@requires_torch
def test_inplace_gradients_match_torch():
    def f(M, x, s):
        y = x * 1
        y.index_add_(0, M.tensor([1, 1]), s, alpha=2)
        y.clamp_min_(-0.5)
        return y.atan2_(M.ones(4))
    _grads_vs_torch(f, [X, X[:2]])


@requires_torch
def test_repeat_interleave_graph_matches_torch():
    def chain(t):
        names, fn = [], t.grad_fn
        while fn is not None:
            names.append(fn.name().replace("torch::autograd::", ""))
            fn = fn.next_functions[0][0] if fn.next_functions else None
        return names
    e = chain(ember.tensor(X, requires_grad=True).repeat_interleave(2))
    t = chain(torch.tensor(X, requires_grad=True).repeat_interleave(2))
    assert e == t


# ---- ops torch does not differentiate --------------------------------------------------------------------
NO_GRAD = {
    "unique": lambda M, x: M.unique(x).sum(),
    "unique_dim": lambda M, x: M.unique(x, dim=0).sum(),
    "unique_consecutive": lambda M, x: M.unique_consecutive(x).sum(),
    "bincount": lambda M, x: M.bincount(M.tensor([0, 1, 1]), weights=x[0, :3]).sum(),
}


@pytest.mark.parametrize("name", list(NO_GRAD))
def test_non_differentiable_ops_raise_on_backward(name):
    errors = []
    for M in (ember, torch) if torch is not None else (ember,):
        x = M.tensor(X, requires_grad=True)
        out = NO_GRAD[name](M, x)
        assert out.requires_grad
        with pytest.raises((NotImplementedError, RuntimeError)) as info:
            out.backward()
        errors.append((info.type, str(info.value)))
    if len(errors) == 2:
        assert errors[0] == errors[1]


def test_unique_side_outputs_do_not_require_grad():
    x = ember.tensor(X, requires_grad=True)
    u, inv, cnt = x.unique(return_inverse=True, return_counts=True)
    assert u.requires_grad and not inv.requires_grad and not cnt.requires_grad
    with ember.no_grad():
        assert not x.unique().requires_grad


# ---- errors ----------------------------------------------------------------------------------------------
ERRORS = {
    "unique_0d_dim": (lambda M: M.unique(T(M, 3), dim=0), IndexError, "no dimensions"),
    "unique_dim_range": (lambda M: M.unique(T(M, [[1, 2]]), dim=2), IndexError, "Dimension out of range"),
    "unique_zero_sized": (lambda M: M.unique(M.zeros(2, 0), dim=0), RuntimeError, "0 sized dimensions"),
    "bincount_negative": (lambda M: M.bincount(T(M, [-1, 2])), RuntimeError, "non-negative"),
    "bincount_2d": (lambda M: M.bincount(T(M, [[1]])), RuntimeError, "1-d"),
    "bincount_float": (lambda M: M.bincount(T(M, [1.0, 2])), NotImplementedError, "bincount"),
    "bincount_bool": (lambda M: M.bincount(T(M, [True])), NotImplementedError, "Bool"),
    "bincount_weights": (lambda M: M.bincount(T(M, [1, 2]), weights=T(M, [1.0])), RuntimeError, "weights"),
    "bincount_minlength": (lambda M: M.bincount(T(M, [1, 2]), minlength=-1), RuntimeError, "minlength"),
    "meshgrid_indexing": (lambda M: M.meshgrid(T(M, [1]), indexing="foo"), RuntimeError, "indexing"),
    "meshgrid_2d": (lambda M: M.meshgrid(T(M, [[1, 2]]), T(M, [1]), indexing="ij"), RuntimeError, "0D or 1D"),
    "meshgrid_empty": (lambda M: M.meshgrid(indexing="ij"), RuntimeError, "non-empty"),
    "meshgrid_dtypes": (lambda M: M.meshgrid(T(M, [1]), T(M, [1.0]), indexing="ij"), RuntimeError, "dtype"),
    "ri_size": (lambda M: T(M, M3).repeat_interleave(T(M, [1, 2]), dim=0), RuntimeError, "repeats"),
    "ri_negative_t": (lambda M: T(M, M3).repeat_interleave(T(M, [1, -1, 1]), dim=0), RuntimeError, "negative"),
    "ri_negative": (lambda M: T(M, M3).repeat_interleave(-1), RuntimeError, "non-negative"),
    "ri_2d": (lambda M: T(M, M3).repeat_interleave(T(M, [[1, 2]]), dim=1), RuntimeError, "0-dim or 1-dim"),
    "ri_float": (lambda M: T(M, M3).repeat_interleave(T(M, [1.0, 2.0]), dim=1), NotImplementedError,
                 "repeat_interleave"),
    "ri_counts_2d": (lambda M: M.repeat_interleave(T(M, [[1, 2]])), RuntimeError, "1D"),
    "ri_output_size": (lambda M: T(M, M3).repeat_interleave(2, dim=0, output_size=5), RuntimeError,
                       "output_size"),
    "ri_dim": (lambda M: T(M, M3).repeat_interleave(2, dim=5), IndexError, "Dimension out of range"),
    "ri_0d_dim": (lambda M: T(M, 5.0).repeat_interleave(3, dim=0), IndexError, "Dimension out of range"),
    "broadcast_to_fewer": (lambda M: M.broadcast_to(M.ones(2, 2), (3,)), RuntimeError, "expand"),
    "broadcast_to_mismatch": (lambda M: M.broadcast_to(M.ones(2, 2), (3, 3)), RuntimeError, "expanded size"),
    "broadcast_to_int": (lambda M: M.broadcast_to(M.ones(2), 2), TypeError, "size"),
    "broadcast_shapes": (lambda M: M.broadcast_shapes((2, 1), (3, 2)), RuntimeError, "broadcast"),
    "broadcast_shapes_neg": (lambda M: M.broadcast_shapes((-1,), (2,)), ValueError, "negative"),
    "broadcast_shapes_float": (lambda M: M.broadcast_shapes((2.0,)), TypeError, "int"),
    "broadcast_tensors": (lambda M: M.broadcast_tensors(M.ones(2, 2), M.ones(3)), RuntimeError,
                          "must match the size"),
    "broadcast_tensors_list": (lambda M: M.broadcast_tensors([M.ones(2)]), TypeError, "Tensor"),
    "isin_bool": (lambda M: M.isin(T(M, [1, 2]), T(M, [True])), RuntimeError, "Bool"),
    "isin_numbers": (lambda M: M.isin(1, 2), TypeError, "isin()"),
    "diff_0d": (lambda M: M.diff(T(M, 3.0)), RuntimeError, "one-dimensional"),
    "diff_order": (lambda M: M.diff(T(M, [1.0, 2]), n=-1), RuntimeError, "non-negative"),
    "diff_prepend_ndim": (lambda M: M.diff(M.ones(2, 2), prepend=M.zeros(2)), RuntimeError, "same dimension"),
    "diff_prepend_shape": (lambda M: M.diff(M.ones(2, 2), prepend=M.zeros(3, 1)), RuntimeError,
                           "except along the differencing dimension"),
    "diff_prepend_number": (lambda M: M.diff(M.ones(2), prepend=1.0), TypeError, "prepend"),
    "atan2_number": (lambda M: M.atan2(M.ones(2), 1.0), TypeError, "atan2"),
    "atan2_shapes": (lambda M: M.atan2(M.ones(2), M.ones(3)), RuntimeError, "must match the size"),
    "trace_1d": (lambda M: M.trace(M.ones(3)), RuntimeError, "expected a matrix"),
    "trace_3d": (lambda M: M.ones(2, 2, 2).trace(), RuntimeError, "expected a matrix"),
    "trace_bool": (lambda M: M.trace(T(M, [[True]])), NotImplementedError, "Bool"),
    "searchsorted_0d": (lambda M: M.searchsorted(T(M, 1.0), T(M, [3.0])), RuntimeError, "positive dimension"),
    "searchsorted_side": (lambda M: M.searchsorted(T(M, [1]), T(M, [1]), side="foo"), RuntimeError, "side"),
    "searchsorted_opposite": (lambda M: M.searchsorted(T(M, [1]), T(M, [1]), side="left", right=True),
                              RuntimeError, "opposites"),
    "searchsorted_shape": (lambda M: M.searchsorted(T(M, [[1, 3], [2, 4]]), T(M, [3, 6])), RuntimeError,
                           "first N-1 dimensions"),
    "index_add_oob": (lambda M: M.ones(5, 3).index_add(0, T(M, [0, 5]), M.ones(2, 3)), RuntimeError,
                      "out of bounds"),
    "index_add_neg": (lambda M: M.ones(5, 3).index_add(0, T(M, [0, -1]), M.ones(2, 3)), RuntimeError,
                      "out of bounds"),
    "index_add_count": (lambda M: M.ones(5, 3).index_add(0, T(M, [0, 1]), M.ones(3, 3)), RuntimeError,
                        "Number of indices"),
    "index_add_shape": (lambda M: M.ones(5, 3).index_add(0, T(M, [0, 1]), M.ones(2, 4)), RuntimeError,
                        "source tensor shape"),
    "index_add_0d_src": (lambda M: M.ones(3).index_add(0, T(M, [1]), T(M, 2.0)), RuntimeError,
                         "source tensor shape"),
    "index_add_float_idx": (lambda M: M.ones(5, 3).index_add(0, T(M, [0.0, 1]), M.ones(2, 3)), RuntimeError,
                            "int32/int64"),
    "index_add_2d_idx": (lambda M: M.ones(5, 3).index_add(0, T(M, [[0, 1]]), M.ones(2, 3)), IndexError,
                         "vector"),
    "index_add_dtype": (lambda M: M.ones(5, 3).index_add(0, T(M, [0, 1]), M.ones(2, 3, dtype=M.float64)),
                        RuntimeError, "same scalar type"),
    "index_add_dim": (lambda M: M.ones(5, 3).index_add(2, T(M, [0, 1]), M.ones(2, 3)), IndexError,
                      "Dimension out of range"),
    "index_add_leaf_inplace": (lambda M: M.ones(2, requires_grad=True).index_add_(0, T(M, [0]), M.ones(1)),
                               RuntimeError, "leaf Variable"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors(name):
    f, exc, words = ERRORS[name]
    with pytest.raises(exc) as info:
        f(ember)
    assert type(info.value) is exc
    assert words in str(info.value), str(info.value)
    if torch is not None:
        with pytest.raises(Exception) as tinfo:
            f(torch)
        assert tinfo.type is exc, (tinfo.type, exc)   # torch raises the same type
