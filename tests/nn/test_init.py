"""nn.init and the default initialisation of layers: bounds and statistics, gains and fans vs torch."""
import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn import init
from tests.conftest import requires_torch


def _np(t):
    return t.detach().numpy()


@requires_torch
def test_calculate_gain_and_fans_match_torch(oracle):
    ti = oracle.nn.init
    for nl, p in (("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                  ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)):
        assert init.calculate_gain(nl, p) == ti.calculate_gain(nl, p)
    for bad in (("foo", None), ("leaky_relu", "x"), ("leaky_relu", True)):
        with pytest.raises(ValueError) as te:
            ti.calculate_gain(*bad)
        with pytest.raises(ValueError) as ee:
            init.calculate_gain(*bad)
        assert str(ee.value) == str(te.value)
    for shape in ((3, 4), (6, 1, 3, 3), (16, 6, 5, 5), (2, 3, 4, 5, 6)):
        assert init._calculate_fan_in_and_fan_out(ember.empty(*shape)) == \
            ti._calculate_fan_in_and_fan_out(oracle.empty(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(ember.empty(3))


def test_fillers_in_place_and_return_tensor():
    p = nn.Parameter(ember.empty(4, 5))
    v = p._version
    for fn, args in ((init.uniform_, (-1, 1)), (init.normal_, (0, 1)), (init.constant_, (0.5,)),
                     (init.ones_, ()), (init.zeros_, ()), (init.eye_, ()), (init.xavier_uniform_, ()),
                     (init.xavier_normal_, ()), (init.kaiming_uniform_, ()), (init.kaiming_normal_, ()),
                     (init.trunc_normal_, ()), (init.orthogonal_, ()), (init.sparse_, (0.5,))):
        data = p._data
        out = fn(p, *args)  # a leaf that requires grad: init must run under no_grad
        assert out is p and p._data is data and p.requires_grad and p.is_leaf and p.grad_fn is None
        assert p.dtype == ember.float32
    assert p._version > v
    np.testing.assert_array_equal(_np(init.constant_(p, 0.5)), np.full((4, 5), 0.5))
    np.testing.assert_array_equal(_np(init.eye_(p)), np.eye(4, 5))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        init.eye_(ember.empty(2, 2, 2))


def test_uniform_normal_statistics():
    ember.manual_seed(0)
    t = ember.empty(200, 100)
    a = _np(init.uniform_(t, -0.3, 0.7))
    assert a.min() >= -0.3 and a.max() <= 0.7 and abs(a.mean() - 0.2) < 0.01
    a = _np(init.normal_(t, 1.0, 2.0))
    assert abs(a.mean() - 1.0) < 0.05 and abs(a.std() - 2.0) < 0.05


def test_xavier_and_kaiming_statistics():
    ember.manual_seed(0)
    t = ember.empty(300, 200)
    fan_in, fan_out = 200, 300
    a = _np(init.xavier_uniform_(t, gain=2.0))
    bound = 2.0 * math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.98 * bound
    a = _np(init.xavier_normal_(t))
    assert abs(a.std() - math.sqrt(2.0 / (fan_in + fan_out))) < 0.003
    a = _np(init.kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="relu"))
    bound = math.sqrt(2.0) * math.sqrt(3.0 / fan_in)
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.98 * bound
    a = _np(init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"))
    assert abs(a.std() - math.sqrt(2.0 / fan_out)) < 0.003
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(t, mode="fan_avg")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        z = ember.empty(0, 3)
        assert init.kaiming_uniform_(z) is z
    assert "zero-element" in str(w[0].message)


def test_trunc_normal_orthogonal_dirac_sparse():
    ember.manual_seed(1)
    a = _np(init.trunc_normal_(ember.empty(100, 100), mean=0.5, std=1.0, a=-0.5, b=1.0))
    assert a.min() >= -0.5 and a.max() <= 1.0 and a.std() > 0.2
    for shape in ((6, 4), (4, 6), (3, 2, 2, 2)):
        q = _np(init.orthogonal_(ember.empty(*shape), gain=2.0)).reshape(shape[0], -1)
        small = min(q.shape)
        gram = q @ q.T if q.shape[0] == small else q.T @ q
        np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-5)
    d = _np(init.dirac_(ember.empty(4, 2, 3, 3), groups=2))
    assert d.sum() == 4 and d[0, 0, 1, 1] == 1 and d[1, 1, 1, 1] == 1 and d[2, 0, 1, 1] == 1
    s = _np(init.sparse_(ember.empty(10, 4), sparsity=0.3, std=0.01))
    assert ((s == 0).sum(axis=0) >= 3).all()


@requires_torch
def test_dirac_matches_torch(oracle):
    for shape, groups in (((4, 2, 3), 1), ((4, 2, 3, 3), 2), ((2, 2, 3, 3, 3), 1)):
        np.testing.assert_array_equal(_np(init.dirac_(ember.empty(*shape), groups)),
                                      oracle.nn.init.dirac_(oracle.empty(*shape), groups).numpy())


def test_generator_argument_reproducible():
    g1, g2 = ember.Generator(), ember.Generator()
    g1.manual_seed(3)
    g2.manual_seed(3)
    a = _np(init.kaiming_uniform_(ember.empty(5, 5), generator=g1))
    b = _np(init.kaiming_uniform_(ember.empty(5, 5), generator=g2))
    np.testing.assert_array_equal(a, b)


def test_deprecated_aliases_warn():
    with pytest.warns(FutureWarning, match="nn.init.uniform` is now deprecated"):
        init.uniform(ember.empty(2))


# ---- default initialisation of layers (torch's reset_parameters) -------------
def _check_uniform(a, bound):
    assert np.abs(a).max() <= bound + 1e-7
    if a.size >= 100:  # the draws spread over the whole interval, not a corner of it
        assert np.abs(a).max() > 0.9 * bound and abs(a.mean()) < 0.15 * bound
        assert abs(a.std() - bound / math.sqrt(3)) < 0.1 * bound


def test_linear_and_conv_default_init_bounds():
    ember.manual_seed(0)
    for layer, fan_in in ((nn.Linear(576, 120), 576), (nn.Linear(84, 10), 84), (nn.Conv2d(3, 6, 5), 75),
                          (nn.Conv2d(6, 16, 3, groups=2), 27), (nn.Conv1d(4, 8, 3), 12),
                          (nn.ConvTranspose2d(4, 6, 3), 54)):
        bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) has this bound too
        _check_uniform(_np(layer.weight), bound)
        _check_uniform(_np(layer.bias), bound)
        assert layer.weight.dtype == ember.float32 and layer.weight.requires_grad


@requires_torch
def test_default_init_statistics_close_to_torch(oracle):
    oracle.manual_seed(0)
    ember.manual_seed(0)
    for make in (lambda m: m.Linear(400, 120), lambda m: m.Conv2d(3, 16, 5), lambda m: m.Bilinear(5, 6, 7)):
        e, t = make(nn), make(oracle.nn)
        for (ne, pe), (nt, pt) in zip(e.named_parameters(), t.named_parameters()):
            assert ne == nt and tuple(pe.shape) == tuple(pt.shape)
            a, b = _np(pe), pt.detach().numpy()
            if a.size < 500:  # too few draws to compare spreads
                continue
            assert abs(np.abs(a).max() - np.abs(b).max()) < 0.05 * np.abs(b).max() + 1e-3
            assert abs(a.std() - b.std()) < 0.15 * b.std()


def test_norm_and_embedding_default_init():
    bn = nn.BatchNorm2d(5)
    np.testing.assert_array_equal(_np(bn.weight), np.ones(5))
    np.testing.assert_array_equal(_np(bn.bias), np.zeros(5))
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(5))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(5))
    assert bn.num_batches_tracked.item() == 0 and bn.num_batches_tracked.dtype == ember.int64
    ln = nn.LayerNorm((2, 3))
    np.testing.assert_array_equal(_np(ln.weight), np.ones((2, 3)))
    ember.manual_seed(0)
    emb = nn.Embedding(200, 50, padding_idx=-1)
    assert emb.padding_idx == 199
    w = _np(emb.weight)
    np.testing.assert_array_equal(w[199], np.zeros(50))
    assert abs(w[:199].std() - 1.0) < 0.03
    p = nn.PReLU(3, init=0.1)
    np.testing.assert_allclose(_np(p.weight), [0.1, 0.1, 0.1])
