"""torch.func (grad, grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, vmap, functional_call) against torch.

Each typical use (per-sample gradients, ensembling with stacked parameters, the Hessian of an MLP
loss, grad of grad) is run in both libraries on the same float64 numbers; errors are checked by type
and message.
"""
import warnings

import numpy as np
import pytest

import ember
import ember.func as efunc
from tests.conftest import requires_torch

RNG = np.random.default_rng(0)


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(a, b, tol=1e-10):
    if isinstance(b, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            _close(x, y, tol)
        return
    if isinstance(b, dict):
        assert isinstance(a, dict) and list(a) == list(b), (a, b)
        for k in b:
            _close(a[k], b[k], tol)
        return
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol)


def _mlp(lib, seed=0, bn=False):
    """The same small MLP in either library, in float64."""
    rng = np.random.default_rng(seed)
    layers = [lib.nn.Linear(4, 5), lib.nn.Tanh(), lib.nn.Linear(5, 3)]
    if bn:
        layers.insert(1, lib.nn.BatchNorm1d(5))
    m = lib.nn.Sequential(*layers).double()
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)) * 0.5))
    return m


def _both(*arrays):
    import torch
    return [ember.tensor(a) for a in arrays], [torch.tensor(a) for a in arrays]


# ---- grad --------------------------------------------------------------------------------------
@requires_torch
def test_grad_values_argnums_and_aux(oracle):
    torch = oracle
    xa, ya = RNG.standard_normal(5), RNG.standard_normal(5)
    (ex, ey), (tx, ty) = _both(xa, ya)

    def f(lib):
        return lambda x, y: ((x.sin() * y) ** 2).sum()
    _close(efunc.grad(f(ember))(ex, ey), torch.func.grad(f(torch))(tx, ty))
    _close(efunc.grad(f(ember), argnums=1)(ex, ey), torch.func.grad(f(torch), argnums=1)(tx, ty))
    _close(efunc.grad(f(ember), argnums=(0, -1))(ex, ey), torch.func.grad(f(torch), argnums=(0, -1))(tx, ty))

    def g(x, y):
        return (x * y).sum(), {"y2": y * 2}
    eg, eaux = efunc.grad(g, has_aux=True)(ex, ey)
    tg, taux = torch.func.grad(g, has_aux=True)(tx, ty)
    _close(eg, tg)
    _close(eaux, taux)
    (eg, ev) = efunc.grad_and_value(f(ember))(ex, ey)
    (tg, tv) = torch.func.grad_and_value(f(torch))(tx, ty)
    _close(eg, tg)
    _close(ev, tv)
    # plain inputs: nothing returned carries a graph
    assert not eg.requires_grad and not ev.requires_grad and eg.grad_fn is None


@requires_torch
def test_grad_over_dict_of_params_and_keeps_outer_graph(oracle):
    torch = oracle
    xa = RNG.standard_normal((6, 4))
    em, tm = _mlp(ember), _mlp(torch)
    (ex,), (tx,) = _both(xa)

    def loss(lib, m):
        return lambda p, x: lib.func.functional_call(m, p, (x,)).pow(2).mean()
    ep = {k: v.detach() for k, v in em.named_parameters()}
    tp = {k: v.detach() for k, v in tm.named_parameters()}
    _close(efunc.grad(loss(ember, em))(ep, ex), torch.func.grad(loss(torch, tm))(tp, tx))
    # the module's own parameters are untouched and get no .grad
    assert all(p.grad is None for p in em.parameters())
    # inputs that require grad: the gradient is itself differentiable, as in torch
    xr_e = ember.tensor(xa[0], requires_grad=True)
    xr_t = torch.tensor(xa[0], requires_grad=True)
    ge = efunc.grad(lambda x: (x ** 3).sum())(xr_e)
    gt = torch.func.grad(lambda x: (x ** 3).sum())(xr_t)
    assert ge.requires_grad == gt.requires_grad is True
    ge.sum().backward()
    gt.sum().backward()
    _close(xr_e.grad, xr_t.grad)
    # a closed-over tensor that requires grad also keeps the graph
    we = ember.tensor(xa[1], requires_grad=True)
    wt = torch.tensor(xa[1], requires_grad=True)
    ge = efunc.grad(lambda x: (we * x ** 2).sum())(ember.tensor(xa[0]))
    gt = torch.func.grad(lambda x: (wt * x ** 2).sum())(torch.tensor(xa[0]))
    assert ge.requires_grad and gt.requires_grad
    ge.sum().backward()
    gt.sum().backward()
    _close(we.grad, wt.grad)


@requires_torch
def test_grad_of_grad(oracle):
    torch = oracle
    xa = RNG.uniform(0.5, 1.5, 4)
    (ex,), (tx,) = _both(xa)

    def f(x):
        return (x.sin() * x ** 3).sum()
    _close(efunc.grad(lambda x: efunc.grad(f)(x).sum())(ex),
           torch.func.grad(lambda x: torch.func.grad(f)(x).sum())(tx))
    # third order, scalar input
    es, ts = ember.tensor(0.7, dtype=ember.float64), torch.tensor(0.7, dtype=torch.float64)
    g = lambda x: x.sin() * x ** 3  # noqa: E731
    e3 = efunc.grad(efunc.grad(efunc.grad(g)))(es)
    t3 = torch.func.grad(torch.func.grad(torch.func.grad(g)))(ts)
    _close(e3, t3)
    assert e3.grad_fn is None


# ---- vmap --------------------------------------------------------------------------------------
@requires_torch
def test_per_sample_gradients(oracle):
    """The torch.func tutorial's per-sample gradients: vmap(grad(loss), in_dims=(None, 0, 0))."""
    torch = oracle
    xa, ya = RNG.standard_normal((7, 4)), RNG.standard_normal((7, 3))
    em, tm = _mlp(ember, 1), _mlp(torch, 1)
    (ex, ey), (tx, ty) = _both(xa, ya)

    def per_sample(lib, m):
        def loss(p, x, y):
            out = lib.func.functional_call(m, p, (x.unsqueeze(0),))
            return lib.nn.functional.mse_loss(out, y.unsqueeze(0))
        return lib.func.vmap(lib.func.grad(loss), in_dims=(None, 0, 0))
    ep = {k: v.detach() for k, v in em.named_parameters()}
    tp = {k: v.detach() for k, v in tm.named_parameters()}
    eg, tg = per_sample(ember, em)(ep, ex, ey), per_sample(torch, tm)(tp, tx, ty)
    _close(eg, tg)
    assert tuple(eg["0.weight"].shape) == (7, 5, 4)
    # the mean of per-sample gradients is the batch gradient
    full = ember.nn.functional.mse_loss(em(ex), ey, reduction="none").mean(1).mean()
    full.backward()
    _close(eg["0.weight"].mean(0), em[0].weight.grad)


@requires_torch
def test_ensembling_with_stacked_params(oracle):
    torch = oracle
    xa = RNG.standard_normal((5, 4))
    ems = [_mlp(ember, s) for s in range(3)]
    tms = [_mlp(torch, s) for s in range(3)]
    (ex,), (tx,) = _both(xa)
    ep, eb = efunc.stack_module_state(ems)
    tp, tb = torch.func.stack_module_state(tms)
    assert list(ep) == list(tp) and ep["0.weight"].requires_grad and ep["0.weight"].is_leaf
    _close(ep, tp)

    def run(lib, base):
        return lambda p, b, x: lib.func.functional_call(base, (p, b), (x,))
    eo = efunc.vmap(run(ember, ems[0]), in_dims=(0, 0, None))(ep, eb, ex)
    to = torch.func.vmap(run(torch, tms[0]), in_dims=(0, 0, None))(tp, tb, tx)
    _close(eo, to)
    assert tuple(eo.shape) == (3, 5, 3)
    # gradients flow to the stacked leaves
    eo.pow(2).sum().backward()
    to.pow(2).sum().backward()
    _close(ep["2.bias"].grad, tp["2.bias"].grad)
    # each ensemble member alone
    _close(eo[1], ems[1](ex))


@requires_torch
def test_vmap_in_dims_out_dims_and_pytrees(oracle):
    torch = oracle
    a, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 3))
    (ea, eb), (ta, tb) = _both(a, b)

    def f(lib):
        const = lib.ones(2)
        return lambda d, y: {"s": d["x"] * y, "t": (d["x"].sum(), const)}
    kw = dict(in_dims=({"x": 1}, 0), out_dims=({"s": 1, "t": (0, None)}))
    eo = efunc.vmap(f(ember), **kw)({"x": ea}, eb)
    to = torch.func.vmap(f(torch), **kw)({"x": ta}, tb)
    _close(eo["s"], to["s"])
    _close(eo["t"], to["t"])
    _close(efunc.vmap(lambda x: x.sum(0), in_dims=1)(ea), torch.func.vmap(lambda x: x.sum(0), in_dims=1)(ta))
    _close(efunc.vmap(lambda x, y: x @ y, in_dims=(0, None), out_dims=-1)(ea, eb),
           torch.func.vmap(lambda x, y: x @ y, in_dims=(0, None), out_dims=-1)(ta, tb))
    # nested vmap: an outer product
    _close(efunc.vmap(efunc.vmap(lambda x, y: x * y, (None, 0)), (0, None))(ea[0], eb[0]),
           torch.func.vmap(torch.func.vmap(lambda x, y: x * y, (None, 0)), (0, None))(ta[0], tb[0]))
    _close(efunc.vmap(lambda x: x * 2, chunk_size=2)(ea), torch.func.vmap(lambda x: x * 2, chunk_size=2)(ta))
    # an empty batch
    _close(efunc.vmap(lambda x: (x.sum(), x * 2), out_dims=(0, 1))(ea[:0]),
           torch.func.vmap(lambda x: (x.sum(), x * 2), out_dims=(0, 1))(ta[:0]))


def _err(fn):
    with pytest.raises(Exception) as info:
        fn()
    # dtypes print with their library's name (ember.int64 / torch.int64)
    return type(info.value), str(info.value).replace("ember.", "torch.")


@requires_torch
def test_vmap_errors_match_torch(oracle):
    torch = oracle
    (ea, eb), (ta, tb) = _both(RNG.standard_normal((2, 3)), RNG.standard_normal((3, 3)))

    def add(x, y):
        return x + y
    cases = [
        lambda lib, a, b: lib.func.vmap(add)(a, b),
        lambda lib, a, b: lib.func.vmap(add, in_dims=(0, 0, 0))(a, b),
        lambda lib, a, b: lib.func.vmap(add, in_dims=[0])(a, b),
        lambda lib, a, b: lib.func.vmap(add, in_dims=None)(a, b),
        lambda lib, a, b: lib.func.vmap(add, in_dims=(0, 2))(a, b),
        lambda lib, a, b: lib.func.vmap(add, in_dims=(0, 0))(a, 2.0),
        lambda lib, a, b: lib.func.vmap(add, in_dims=(None, None))(a, b),
        lambda lib, a, b: lib.func.vmap(add)(),
        lambda lib, a, b: lib.func.vmap(add, randomness="x"),
        lambda lib, a, b: lib.func.vmap(add, chunk_size=0),
        lambda lib, a, b: lib.func.vmap(lambda x: (x, 3))(a),
        lambda lib, a, b: lib.func.vmap(lambda x: x, out_dims="a")(a),
        lambda lib, a, b: lib.func.vmap(lambda x: (x, x), out_dims=(0, 0, 0))(a),
        lambda lib, a, b: lib.func.vmap(lambda x: (x, x), out_dims=(0, None))(a),
        lambda lib, a, b: lib.func.vmap(lambda x: x + lib.randn(3))(a),
        lambda lib, a, b: lib.func.vmap(lambda x: lib.nn.functional.dropout(x, 0.5))(a),
    ]
    for case in cases:
        assert _err(lambda: case(ember, ea, eb)) == _err(lambda: case(torch, ta, tb))


@requires_torch
def test_vmap_randomness_same_and_different(oracle):
    torch = oracle
    ember.manual_seed(0)
    same = efunc.vmap(lambda x: x + ember.rand(3), randomness="same")(ember.zeros(4, 3))
    assert np.allclose(_np(same), _np(same[0])[None])
    ember.manual_seed(0)
    diff = efunc.vmap(lambda x: x + ember.rand(3), randomness="different")(ember.zeros(4, 3))
    assert not np.allclose(_np(diff[0]), _np(diff[1]))
    assert tuple(diff.shape) == tuple(torch.func.vmap(lambda x: x + torch.rand(3), randomness="different")(
        torch.zeros(4, 3)).shape)


# ---- vjp / jvp / jacobians / hessian ----------------------------------------------------------
@requires_torch
def test_vjp_jvp(oracle):
    torch = oracle
    xa, ya, ca, ta_ = (RNG.standard_normal(4) for _ in range(4))
    (ex, ey, ec, et), (tx, ty, tc, tt) = _both(xa, ya, ca, ta_)

    def f(x, y):
        return x.tanh() * y, (x * y).sum()
    eo, efn = efunc.vjp(f, ex, ey)
    to, tfn = torch.func.vjp(f, tx, ty)
    _close(eo, to)
    _close(efn((ec, ember.tensor(1.5, dtype=ember.float64))), tfn((tc, torch.tensor(1.5, dtype=torch.float64))))
    # called twice: the graph is kept
    _close(efn((ec, ember.tensor(0.5, dtype=ember.float64))), tfn((tc, torch.tensor(0.5, dtype=torch.float64))))
    assert _err(lambda: efn(ec)) == _err(lambda: tfn(tc))
    eo, ej = efunc.jvp(f, (ex, ey), (ec, et))
    to, tj = torch.func.jvp(f, (tx, ty), (tc, tt))
    _close(eo, to)
    _close(ej, tj)
    eo, ej, eaux = efunc.jvp(lambda x: (x.exp(), x * 2), (ex,), (ec,), has_aux=True)
    to, tj, taux = torch.func.jvp(lambda x: (x.exp(), x * 2), (tx,), (tc,), has_aux=True)
    _close([eo, ej, eaux], [to, tj, taux])
    for case in (lambda lib, x, c: lib.func.jvp(f, x, (c,)),
                 lambda lib, x, c: lib.func.jvp(lambda x: x * 2, (x,), (c, c)),
                 lambda lib, x, c: lib.func.vjp(lambda x: (x * 2).long(), x),
                 lambda lib, x, c: lib.func.grad(lambda x: x * 2)(x),
                 lambda lib, x, c: lib.func.grad(lambda x: x.sum(), has_aux=True)(x),
                 lambda lib, x, c: lib.func.grad(lambda x: x.sum())(3.0),
                 lambda lib, x, c: lib.func.grad(lambda x: x.sum(), argnums=2)(x),
                 lambda lib, x, c: lib.func.grad(lambda x: x.sum(), argnums=())(x),
                 lambda lib, x, c: lib.func.grad(lambda x: x.sum(), argnums=(0, 0))(x),
                 lambda lib, x, c: lib.func.grad(lambda x: x.sum(), argnums=1.0)(x),
                 lambda lib, x, c: lib.func.jacrev(lambda x: x, chunk_size=0)):
        assert _err(lambda: case(ember, ex, ec)) == _err(lambda: case(torch, tx, tc))


@requires_torch
def test_jacrev_jacfwd_structures(oracle):
    torch = oracle
    xa, ya = RNG.standard_normal(3), RNG.standard_normal((2, 3))
    (ex, ey), (tx, ty) = _both(xa, ya)

    def f(x, y):
        return (y @ x).sin(), (x ** 2).sum()
    for name in ("jacrev", "jacfwd"):
        ej, tj = getattr(efunc, name), getattr(torch.func, name)
        _close(ej(f)(ex, ey), tj(f)(tx, ty))
        _close(ej(f, argnums=(0, 1))(ex, ey), tj(f, argnums=(0, 1))(tx, ty))
        _close(ej(lambda d: d["a"].exp() * 2)({"a": ex}), tj(lambda d: d["a"].exp() * 2)({"a": tx}))
        er, eaux = ej(lambda x: (x.exp(), x.sum()), has_aux=True)(ex)
        tr, taux = tj(lambda x: (x.exp(), x.sum()), has_aux=True)(tx)
        _close([er, eaux], [tr, taux])


@requires_torch
def test_hessian_of_mlp_loss(oracle):
    torch = oracle
    xa, ya = RNG.standard_normal((6, 4)), RNG.standard_normal((6, 3))
    em, tm = _mlp(ember, 2), _mlp(torch, 2)
    (ex, ey), (tx, ty) = _both(xa, ya)

    def loss(lib, m):
        return lambda p, x, y: lib.nn.functional.mse_loss(lib.func.functional_call(m, p, (x,)), y)
    ep = {k: v.detach() for k, v in em.named_parameters() if k.startswith("2.")}
    tp = {k: v.detach() for k, v in tm.named_parameters() if k.startswith("2.")}
    eh, th = efunc.hessian(loss(ember, em))(ep, ex, ey), torch.func.hessian(loss(torch, tm))(tp, tx, ty)
    _close(eh, th)
    assert tuple(eh["2.weight"]["2.weight"].shape) == (3, 5, 3, 5)
    # w.r.t. the input: a tanh layer makes it non-trivial
    _close(efunc.hessian(loss(ember, em), argnums=1)(ep, ex[:2], ey[:2]),
           torch.func.hessian(loss(torch, tm), argnums=1)(tp, tx[:2], ty[:2]))


# ---- functional_call ---------------------------------------------------------------------------
@requires_torch
def test_functional_call_restores_and_routes_gradients(oracle):
    torch = oracle
    xa = RNG.standard_normal((2, 4))
    for lib in (ember, torch):
        m = _mlp(lib, 3, bn=True)
        before = {k: v.clone() for k, v in m.state_dict().items()}
        new_w = lib.zeros(5, 4, dtype=lib.float64, requires_grad=True)
        out = lib.func.functional_call(m, {"0.weight": new_w}, lib.tensor(xa))
        out.sum().backward()
        assert new_w.grad is not None and m[0].weight.grad is None
        assert m[0].weight is dict(m.named_parameters())["0.weight"]
        assert all(np.array_equal(_np(before[k]), _np(v)) for k, v in m.state_dict().items()
                   if "running" not in k and "num_batches" not in k)
    e_out = efunc.functional_call(_mlp(ember, 3), ({"0.bias": ember.ones(5, dtype=ember.float64)}, {}),
                                  (ember.tensor(xa),))
    t_out = torch.func.functional_call(_mlp(torch, 3), ({"0.bias": torch.ones(5, dtype=torch.float64)}, {}),
                                       (torch.tensor(xa),))
    _close(e_out, t_out)
    # buffers: a training-mode BatchNorm updates the running stats it was given, not its own
    for lib in (ember, torch):
        m = _mlp(lib, 3, bn=True)
        rm = lib.zeros(5, dtype=lib.float64)
        lib.func.functional_call(m, {"1.running_mean": rm}, (lib.tensor(xa),))
        assert float(rm.abs().sum()) > 0 and float(m[1].running_mean.abs().sum()) == 0
    # deprecated alias
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = ember.nn.utils.stateless.functional_call(_mlp(ember, 3), {}, (ember.tensor(xa),))
    assert any(issubclass(x.category, FutureWarning) for x in w)
    _close(out, _mlp(torch, 3)(torch.tensor(xa)))


@requires_torch
def test_functional_call_errors_and_tied_weights(oracle):
    torch = oracle

    def tied(lib):
        m = lib.nn.Sequential(lib.nn.Linear(2, 2, bias=False), lib.nn.Linear(2, 2, bias=False),
                              lib.nn.Linear(2, 2, bias=False)).double()
        with lib.no_grad():
            m[0].weight.copy_(lib.tensor([[1.0, 2.0], [3.0, 4.0]]))
            m[2].weight.copy_(lib.tensor([[0.5, -1.0], [2.0, 1.5]]))
        m[1].weight = m[0].weight
        return m
    cases = [
        lambda lib: lib.func.functional_call(_mlp(lib), {"0.weight": lib.zeros(5, 4)}, (lib.zeros(1, 4),),
                                             strict=True),
        lambda lib: lib.func.functional_call(_mlp(lib), {"nope": lib.zeros(1)}, (lib.zeros(1, 4),), strict=True),
        lambda lib: lib.func.functional_call(_mlp(lib), [{"0.bias": lib.zeros(5)}, {"0.bias": lib.zeros(5)}],
                                             (lib.zeros(1, 4),)),
        lambda lib: lib.func.functional_call(_mlp(lib), [{"0.bias": lib.zeros(5)}, 3], (lib.zeros(1, 4),)),
        lambda lib: lib.func.functional_call(_mlp(lib), 3, (lib.zeros(1, 4),)),
        lambda lib: lib.func.functional_call(tied(lib), {"0.weight": lib.eye(2, dtype=lib.float64),
                                                         "1.weight": lib.zeros(2, 2, dtype=lib.float64)},
                                             (lib.ones(1, 2, dtype=lib.float64),)),
    ]
    for case in cases:
        assert _err(lambda: case(ember)) == _err(lambda: case(torch))
    # tie_weights: one value given for a tied pair stands for both
    for tie in (True, False):
        eo = efunc.functional_call(tied(ember), {"0.weight": 2 * ember.eye(2, dtype=ember.float64)},
                                   (ember.ones(1, 2, dtype=ember.float64),), tie_weights=tie)
        to = torch.func.functional_call(tied(torch), {"0.weight": 2 * torch.eye(2, dtype=torch.float64)},
                                        (torch.ones(1, 2, dtype=torch.float64),), tie_weights=tie)
        _close(eo, to)
    assert not np.allclose(_np(eo), _np(efunc.functional_call(
        tied(ember), {"0.weight": 2 * ember.eye(2, dtype=ember.float64)}, (ember.ones(1, 2, dtype=ember.float64),))))
    # a failed strict call leaves the module as it was
    m = _mlp(ember)
    w = m[0].weight
    with pytest.raises(RuntimeError):
        efunc.functional_call(m, {"0.weight": ember.zeros(5, 4)}, (ember.zeros(1, 4),), strict=True)
    assert m[0].weight is w


def test_func_is_reachable_as_torch_func():
    """ember.func lazily, and torch.func / torch.nn.utils.stateless / torch.optim.swa_utils through the alias."""
    import os
    import subprocess
    import sys
    assert ember.func.grad is efunc.grad
    code = ("import sys; sys.modules.pop('torch', None)\n"
            "import ember.compat; ember.compat.install()\n"
            "import torch, torch.func\n"
            "from torch.nn.utils.stateless import functional_call\n"
            "from torch.optim.swa_utils import AveragedModel\n"
            "assert torch.__name__ == 'ember' and torch.func.vmap.__module__ == 'ember._functorch.vmap'\n"
            "print(torch.func.grad(lambda x: (x * x).sum())(torch.ones(2)))\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "tensor([2., 2.])"
