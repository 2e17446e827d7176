"""Torch names ember lacked (the dir() comparison, group 2): trapezoid / cumulative_trapezoid, vander, gradient,
histogram / histogramdd, pdist, window functions, and the samplers poisson, binomial, cauchy_, log_normal_,
geometric_ (torch's CPU numbers after manual_seed): values, dtypes and printing against torch, gradients against
float64 central differences and torch."""
import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch
from tests.ops.test_more_ops import _gradcheck, _grads_vs_torch, both

RNG = np.random.default_rng(29)
X = RNG.standard_normal((3, 4)).astype(np.float32)
Y = RNG.standard_normal((5, 3)).astype(np.float64)
Y[3] = Y[1]   # a zero distance: pdist's gradient is 0 there, as torch's


def T(M, a, **kw):
    return M.tensor(a, **kw)


_W = [[1.0, 2, 4, 7], [2, 5, 9, 1], [0, 0, 1, 3]]
FORWARD = {
    "trapezoid": lambda M: (M.trapezoid(T(M, [1.0, 2, 4]), dx=0.5), M.trapezoid(T(M, [1, 2, 4])),
                            M.trapz(T(M, [1.0, 2, 4]), T(M, [0.0, 1, 3])), M.trapezoid(T(M, X)),
                            M.trapezoid(T(M, X), T(M, [0.0, 1, 3, 3.5])), M.trapezoid(T(M, X), dim=0),
                            M.trapz(T(M, X), dx=2.0), M.trapezoid(T(M, X), T(M, X)), M.trapezoid(T(M, X[:, :0]))),
    "cumulative_trapezoid": lambda M: (M.cumulative_trapezoid(T(M, [1, 2, 4])), M.cumulative_trapezoid(T(M, X), dx=2),
                                       M.cumulative_trapezoid(T(M, X), T(M, [0.0, 1, 3, 3.5])),
                                       M.cumulative_trapezoid(T(M, X), dim=0)),
    "vander": lambda M: (M.vander(T(M, [1, 2, 3])), M.vander(T(M, [1.0, 2, 3]), 2, True), M.vander(T(M, X[0]), 0),
                         M.vander(T(M, X[0]), 1), M.vander(T(M, X[0], dtype=M.float64), 5)),
    "gradient": lambda M: (M.gradient(T(M, [1, 2, 4, 8])), M.gradient(T(M, [[1.0, 2, 4], [2, 5, 9]]), spacing=2.0),
                           M.gradient(T(M, [1.0, 2, 4, 8]), spacing=(T(M, [0.0, 1, 1.5, 3]),), edge_order=2),
                           M.gradient(T(M, _W), spacing=[T(M, [0.0, 1, 1.5]), T(M, [0.0, 1, 1.5, 3])]),
                           M.gradient(T(M, _W), dim=1, edge_order=2), M.gradient(T(M, X), spacing=[0.5, 2.0]),
                           M.gradient(T(M, X), dim=[1], spacing=[3.0])),
    "histogram": lambda M: (M.histogram(T(M, [1.0, 2, 1, 4]), 3),
                            M.histogram(T(M, [1.0, 2, 1]), T(M, [0.0, 1.5, 3]), density=True),
                            M.histogram(T(M, [1.0, 2, 1, 5, -1]), 4, range=(0.0, 4.0), weight=T(M, [1.0, 2, 3, 4, 5])),
                            T(M, X).histogram(5), M.histogram(T(M, [2.0, 2.0]), 2)),
    "histogramdd": lambda M: (M.histogramdd(T(M, [[0.0, 1], [1, 0], [2, 2]]), bins=[2, 2]),
                              M.histogramdd(T(M, [[0.0, 1], [1, 0], [2, 2]]), bins=2, density=True),
                              M.histogramdd(T(M, X[:, :2]), bins=[T(M, [-2.0, 0, 2]), T(M, [-1.0, 0, 0.5, 1])])),
    "pdist": lambda M: (M.pdist(T(M, Y)), M.pdist(T(M, Y), 1), M.pdist(T(M, Y), 0), M.pdist(T(M, Y), float("inf")),
                        M.nn.functional.pdist(T(M, X), 3.5), M.pdist(T(M, X[:1]))),
    "windows": lambda M: tuple(getattr(M, f)(n, p, dtype=dt) for f in (
        "hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window")
        for n in (0, 1, 2, 7) for p in (True, False) for dt in (M.float32, M.float64)) + (
        M.hamming_window(6, False, 0.5, 0.4), M.kaiser_window(6, True, 5.0), M.hann_window(4, requires_grad=True)),
}


@requires_torch
@pytest.mark.parametrize("name", list(FORWARD))
def test_forward_matches_torch(name):
    both(FORWARD[name])


@requires_torch
def test_samplers_replay_torch_cpu_stream():
    def draw(M):
        M.manual_seed(9)
        return (M.poisson(T(M, [[0.5, 3.0, 12.0], [40.0, 0.0, 150.0]])),
                M.binomial(T(M, [10.0, 100, 5, 50, 1000, 0, 20, 7]), T(M, [0.3, 0.2, 0.9, 0.7, 0.5, 0.5, 1.0, 0.05])),
                M.binomial(T(M, [30.0, 8.0], dtype=M.float64), T(M, [0.6, 0.1], dtype=M.float64)),
                M.empty(3, 4).cauchy_(), M.empty(5).log_normal_(), M.empty(2, 3, dtype=M.float64).geometric_(0.2),
                M.empty(4, 3).t().cauchy_(1.0, 0.5), M.empty(7, dtype=M.float64).log_normal_(0.5, 0.3),
                M.poisson(T(M, [2.0, 25.0], dtype=M.float64)), M.rand(2))
    both(draw)


GRADS = {
    "trapezoid": (lambda M, y, x: (M.trapezoid(y), M.trapezoid(y, x[0]), M.cumulative_trapezoid(y, dx=0.5),
                                   M.cumulative_trapezoid(y, x[0])), [X, np.sort(X, 1)]),
    "gradient": (lambda M, y: M.gradient(y, spacing=[0.5, 2.0], edge_order=2), [X]),
    "pdist": (lambda M, y: (M.pdist(y), M.pdist(y, 1), M.pdist(y, 3.0)), [Y[[0, 1, 2, 4]]]),
    "vander": (lambda M, x: ember.vander(x[0], 4, True) if M is ember else M.vander(x[0], 4, True), [X]),
}


@pytest.mark.parametrize("name", list(GRADS))
def test_gradcheck(name):
    f, arrays = GRADS[name]
    _gradcheck(lambda *xs: f(ember, *xs), *arrays)


@requires_torch
@pytest.mark.parametrize("name", ["pdist"])   # (torch's trapezoid graph has MulBackward1 / DivBackward1 nodes)
def test_gradients_and_nodes_match_torch(name):
    f, arrays = GRADS[name]
    _grads_vs_torch(f, [np.ascontiguousarray(a, dtype=np.float32) for a in arrays])


def test_pdist_zero_distance_gradient_is_zero():
    x = ember.tensor([[1.0, 2.0], [1.0, 2.0]], requires_grad=True)
    ember.pdist(x).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]


ERRORS = {
    "pdist_3d": (lambda M: M.pdist(T(M, [[[1.0]]])), RuntimeError, "pdist only supports 2D tensors"),
    "gradient_short": (lambda M: M.gradient(T(M, [1.0, 2.0]), edge_order=2), RuntimeError,
                       "torch.gradient expected each dimension size to be at least edge_order+1"),
    "vander_2d": (lambda M: M.vander(T(M, X)), RuntimeError, "x must be a one-dimensional tensor"),
    "window_int": (lambda M: M.hann_window(4, dtype=M.int64), RuntimeError, "expects floating point dtypes"),
}


@requires_torch
@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    f, exc, text = ERRORS[name]
    for M in (ember, torch):
        with pytest.raises(exc) as info:
            f(M)
        assert text in str(info.value), (M.__name__, str(info.value))
