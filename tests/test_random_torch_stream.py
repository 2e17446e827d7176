"""After manual_seed, ember's CPU random ops give torch's exact numbers (bit for bit).

ember's CPU Generator is torch's mt19937, and each op turns its words into numbers as ATen's CPU
kernels do; these tests compare with real torch (the oracle), and skip without it. A few checks
of the generator itself (the MT19937 reference words, state layout) run without torch.
"""
import struct

import numpy as np
import pytest

import ember
from ember.random import _CHUNK, Generator

SIZES = (1, 7, 15, 16, 17, 100, 10007)
SEEDS = (0, 42, 2 ** 40 + 7)


def _same(mine, theirs):
    a, b = np.ascontiguousarray(mine.detach().numpy()), np.ascontiguousarray(theirs.detach().numpy())
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a.view(np.uint8), b.view(np.uint8)) if a.dtype.kind == "f" else np.array_equal(a, b), \
        f"first differences at {np.flatnonzero(a.ravel() != b.ravel())[:5]}"


def _both(oracle, seed, fn):
    oracle.manual_seed(seed)
    ember.manual_seed(seed)
    _same(fn(ember), fn(oracle))


def test_the_stream_is_std_mt19937_seeded_with_the_low_32_bits():
    # std::mt19937 with the default seed 5489 gives 3499211612 first (C++ standard); the 10000th
    # word is 4123659995 ([rand.predef])
    g = Generator().manual_seed(5489)
    words = g._u32(10000)
    assert int(words[0]) == 3499211612 and int(words[-1]) == 4123659995
    # torch keeps the low 32 bits of a 64-bit seed, and random64() puts the first word high
    assert np.array_equal(Generator().manual_seed(5489 + (7 << 32))._u32(3), words[:3])
    assert int(Generator().manual_seed(5489)._u64(1)[0]) == (3499211612 << 32) | int(words[1])
    assert ember.initial_seed() is not None and Generator().initial_seed() == 67280421310721


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_float_ops_match_torch(oracle, seed, n, dt):
    d = lambda m: getattr(m, dt)  # noqa: E731
    _both(oracle, seed, lambda m: m.rand(n, dtype=d(m)))
    _both(oracle, seed, lambda m: m.randn(n, dtype=d(m)))
    _both(oracle, seed, lambda m: m.rand_like(m.zeros(n, dtype=d(m))))
    _both(oracle, seed, lambda m: m.randn_like(m.zeros(n, dtype=d(m))))
    _both(oracle, seed, lambda m: m.empty(n, dtype=d(m)).uniform_(-0.37, 1.9))
    _both(oracle, seed, lambda m: m.empty(n, dtype=d(m)).normal_(0.3, 2.7))
    _both(oracle, seed, lambda m: m.empty(n, dtype=d(m)).random_())
    _both(oracle, seed, lambda m: m.empty(n, dtype=d(m)).random_(3, 17))
    _both(oracle, seed, lambda m: m.empty(n, dtype=d(m)).exponential_(1.5))
    _both(oracle, seed, lambda m: m.bernoulli(m.full((n,), 0.3, dtype=d(m))))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_normal_variants_and_the_cached_sample_match_torch(oracle, seed, n):
    # the scalar path (fewer than 16 values) caches the second Box-Muller sample in the generator
    _both(oracle, seed, lambda m: (m.randn(3, dtype=m.float64), m.randn(n), m.randn(5, dtype=m.float64))[2])
    _both(oracle, seed, lambda m: m.normal(m.zeros(n) + 1, m.ones(n) * 2))
    _both(oracle, seed, lambda m: m.normal(2.0, m.ones(n) * 3))
    _both(oracle, seed, lambda m: m.normal(m.ones(n, dtype=m.float64), 3.0))
    _both(oracle, seed, lambda m: m.normal(0.5, 2.0, (n,)))
    # a non-contiguous tensor takes the scalar path too
    _both(oracle, seed, lambda m: m.empty(n, 2).t().normal_())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dt", ["int64", "int32", "int16", "uint8", "bool"])
def test_integer_ops_match_torch(oracle, seed, n, dt):
    d = lambda m: getattr(m, dt)  # noqa: E731
    high = 2 if dt == "bool" else 100
    _both(oracle, seed, lambda m: m.empty(n, dtype=d(m)).random_())
    _both(oracle, seed, lambda m: m.randint(0, high, (n,), dtype=d(m)))
    _both(oracle, seed, lambda m: m.randint(high, (n,), dtype=d(m)))
    _both(oracle, seed, lambda m: m.randint_like(m.zeros(n, dtype=d(m)), high))
    if dt == "int64":  # a range past 2**32 draws 64-bit words
        _both(oracle, seed, lambda m: m.randint(-5, 2 ** 40, (n,)))
        _both(oracle, seed, lambda m: m.empty(n, dtype=m.int64).random_(-(2 ** 62), 2 ** 62))


@pytest.mark.parametrize("dt, bounds", [
    ("uint8", (5, 2)), ("float32", (5, 5)), ("int16", (-1,)), ("bool", (0, 3)), ("uint8", (0, 257)), ("uint8", (-1, 5)),
    ("uint8", (300,)), ("int8", (-129, 0)), ("int8", (0, 129)), ("int64", (0, 2 ** 63)),
])
def test_random_bounds_refused_as_torch(oracle, dt, bounds):
    # ember drew modulo the dtype (uint8 random_(300)) where torch refuses the bounds
    raised = []
    for m in (oracle, ember):
        with pytest.raises((RuntimeError, ValueError)) as err:
            m.zeros(2, dtype=getattr(m, dt)).random_(*bounds)
        raised.append((err.type, str(err.value)))
    assert raised[1][0] is raised[0][0] and raised[1][1].startswith(raised[0][1]), raised


@pytest.mark.parametrize("dt, bounds", [("uint8", (0, 256)), ("uint8", (256,)), ("int8", (-128, 128)), ("bool", (0, 2)),
                                        ("int32", (2 ** 31,)), ("int64", (-2 ** 63, 2 ** 63 - 1))])
def test_random_full_range_bounds_accepted(dt, bounds):
    x = ember.zeros(1000, dtype=getattr(ember, dt)).random_(*bounds)
    lo, hi = (0, bounds[0]) if len(bounds) == 1 else bounds
    assert lo <= int(x.min()) and int(x.max()) < hi


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_half_uniform_matches_torch(oracle, seed, n):
    # torch draws a half uniform as a float one (24 bits), rounded
    _both(oracle, seed, lambda m: m.rand(n, dtype=m.float16))
    _both(oracle, seed, lambda m: m.empty(n, dtype=m.float16).uniform_(-0.37, 1.9))
    _both(oracle, seed, lambda m: m.empty(n, dtype=m.float16).random_(3, 17))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", SIZES)
def test_half_normal_matches_torch(oracle, seed, n):
    # 16 or more: float Box-Muller block by block, rounded; the stream after it agrees too
    _both(oracle, seed, lambda m: (m.randn(n, dtype=m.float16), m.rand(3))[0])
    _both(oracle, seed, lambda m: (m.randn(n, dtype=m.float16), m.rand(3))[1])
    _both(oracle, seed, lambda m: m.empty(n, 3, dtype=m.float16).normal_(0.3, 2.7))
    _both(oracle, seed, lambda m: m.empty(n, 2, dtype=m.float16).t().normal_(-1.5, 0.01))


@pytest.mark.parametrize("n", (_CHUNK, 2 * _CHUNK + 17, 3 * _CHUNK - 5))
@pytest.mark.parametrize("dt", ["float32", "float64", "float16"])
def test_large_fills_drawn_in_chunks_match_torch(oracle, n, dt):
    # large fills are drawn and transformed _CHUNK values at a time; the stream runs on across the
    # cuts, and the last block of 16 (redrawn when n % 16) meets the last chunk
    d = lambda m: getattr(m, dt)  # noqa: E731
    _both(oracle, 5, lambda m: (m.randn(n, dtype=d(m)), m.rand(3))[0])
    _both(oracle, 5, lambda m: (m.randn(n, dtype=d(m)), m.rand(3))[1])
    _both(oracle, 6, lambda m: m.empty(n, dtype=d(m)).normal_(0.3, 2.7))
    _both(oracle, 7, lambda m: m.empty(n, dtype=d(m)).uniform_(-0.37, 1.9))
    _both(oracle, 8, lambda m: m.rand(n, dtype=d(m)))


@pytest.mark.parametrize("fill", ["normal_", "uniform_"])
def test_large_fills_need_no_array_of_their_own_size(fill):
    # a fill writes into the tensor's memory chunk by chunk: filling 16 MB used to allocate the
    # values (and float64 temporaries) at full size first, which made vgg11's initialization take 30 s
    import tracemalloc
    x = ember.empty(1 << 22)
    getattr(x, fill)()   # warm: lazily built state
    tracemalloc.start()
    try:
        getattr(x, fill)()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak
    assert 0.99 < float(x.std()) * (1 if fill == "normal_" else 12 ** 0.5) < 1.01


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("n", (0, 1, 2, 7, 16, 100, 10007))
def test_randperm_matches_torch(oracle, seed, n):
    _both(oracle, seed, lambda m: m.randperm(n))
    _both(oracle, seed, lambda m: (m.randperm(n), m.rand(3))[1])  # and consumes as many words
    _both(oracle, seed, lambda m: m.randperm(n, dtype=m.int32))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dt", ["float32", "float64", "float16"])
def test_multinomial_matches_torch(oracle, seed, dt):
    def draws(m):
        p = m.rand(4, 9).to(getattr(m, dt))
        return m.cat([m.multinomial(p, 5), m.multinomial(p, 1), m.multinomial(p, 30, replacement=True),
                      m.multinomial(p[0], 3).reshape(1, 3).expand(4, 3), m.multinomial(p, 1, True)], 1)
    _both(oracle, seed, draws)


@pytest.mark.parametrize("seed", SEEDS)
def test_multinomial_of_few_from_many_matches_torch(oracle, seed):
    # num_samples <= categories / 8 (of >= 64) takes the top k from a partition, not a full sort
    def draws(m):
        p = m.rand(6, 700)
        p[:, ::7] = 0
        p[2] = 0
        p[2, :70] = 1   # equal weights
        return m.cat([m.multinomial(p, 10), m.multinomial(p, 60), m.multinomial(p[1], 64)[None].expand(6, 64)], 1)
    _both(oracle, seed, draws)


def _torch_bernoulli_uses_the_mt_stream(torch):
    # torch's CPU bernoulli_(p) compares one uniform double per element with p, except in builds
    # with MKL running on an Intel CPU, which draw from MKL's MCG31 stream instead
    torch.manual_seed(0)
    ember.manual_seed(0)
    return torch.equal(torch.empty(256).bernoulli_(0.5).bool(),
                       torch.from_numpy(ember.random.default_generator.bernoulli_mask((256,), 0.5)))


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_masks_match_torch(oracle, seed):
    if not _torch_bernoulli_uses_the_mt_stream(oracle):
        pytest.skip("this torch draws bernoulli_ through MKL (Intel CPU): a stream ember does not reproduce")

    def draws(m):
        F = m.nn.functional
        x = m.ones(4, 6, 3, 3)
        return m.cat([F.dropout(x, 0.3).reshape(-1), F.dropout2d(x, 0.5).reshape(-1),
                      F.alpha_dropout(x, 0.2, True).reshape(-1), F.dropout(x.double(), 0.1).float().reshape(-1),
                      m.nn.Dropout(0.25)(x).reshape(-1), x.bernoulli_(0.7).reshape(-1), m.rand(3)])
    _both(oracle, seed, draws)


@pytest.mark.parametrize("seed", SEEDS)
def test_gamma_draws_match_torch(oracle, seed):
    # torch's CPU sample_gamma, including the alpha < 1 boost computed in float for float32 alphas
    def draws(m):
        a = m.rand(40) * 3
        return m.cat([m.distributions.Gamma(a, m.tensor(1.5)).sample((2,)).reshape(-1),
                      m.distributions.Gamma(a.double(), m.tensor(0.7, dtype=m.float64)).sample().float(),
                      m.rand(2)])
    _both(oracle, seed, draws)


@pytest.mark.parametrize("seed", (0, 7))
def test_random_split_and_weighted_sampler_match_torch(oracle, seed):
    def draws(m):
        data = m.utils.data
        a, b = data.random_split(range(20), [0.7, 0.3], generator=m.Generator().manual_seed(seed))
        picks = list(data.WeightedRandomSampler([0.1, 0.9, 0.5, 2.0], 12))
        unique = list(data.WeightedRandomSampler([0.1, 0.9, 0.5, 2.0], 3, replacement=False))
        return m.tensor(list(a.indices) + list(b.indices) + picks + unique)
    _both(oracle, seed, draws)


@pytest.mark.parametrize("seed", (0, 1, 123))
def test_layers_start_from_torchs_weights(oracle, seed):
    def build(m):
        net = m.nn.Sequential(m.nn.Conv2d(3, 6, 5), m.nn.Conv2d(6, 16, 5), m.nn.Linear(400, 120),
                              m.nn.Linear(120, 84), m.nn.Linear(84, 10))
        return m.cat([p.detach().reshape(-1) for p in net.parameters()])
    _both(oracle, seed, build)


@pytest.mark.parametrize("fn,args", [("uniform_", (-0.5, 2.0)), ("normal_", (0.1, 0.3)), ("xavier_uniform_", ()),
                                     ("sparse_", (0.4,)),
                                     ("xavier_normal_", ()), ("kaiming_uniform_", ()), ("kaiming_normal_", ()),
                                     ("trunc_normal_", ()), ("trunc_normal_", (0.0, 1.0, 1.5, 3.0))])
def test_init_functions_match_torch(oracle, fn, args):
    _both(oracle, 5, lambda m: getattr(m.nn.init, fn)(m.empty(40, 30), *args))


def test_orthogonal_init_draws_torchs_normals(oracle):
    # the draws are torch's; the QR factorisation (LAPACK) may differ in the last bits
    oracle.manual_seed(3)
    ember.manual_seed(3)
    a = ember.nn.init.orthogonal_(ember.empty(30, 20)).numpy()
    b = oracle.nn.init.orthogonal_(oracle.empty(30, 20)).numpy()
    assert np.allclose(a, b, atol=1e-5)
    assert ember.rand(4).tolist() == oracle.rand(4).tolist()


@pytest.mark.parametrize("seed", (0, 7))
def test_dataloader_shuffle_order_matches_torch(oracle, seed):
    data = list(range(50))

    def epochs(m, **kw):
        loader = m.utils.data.DataLoader(data, batch_size=4, shuffle=True, **kw)
        return [[b.tolist() for b in loader] for _ in range(2)] + [m.rand(2).tolist()]

    oracle.manual_seed(seed)
    ember.manual_seed(seed)
    assert epochs(ember) == epochs(oracle)
    assert epochs(ember, generator=ember.Generator().manual_seed(3)) == \
        epochs(oracle, generator=oracle.Generator().manual_seed(3))
    oracle.manual_seed(seed)
    ember.manual_seed(seed)
    mine = list(ember.utils.data.RandomSampler(data, replacement=True, num_samples=70))
    assert mine == list(oracle.utils.data.RandomSampler(data, replacement=True, num_samples=70))
    assert list(ember.utils.data.SubsetRandomSampler(data)) == list(oracle.utils.data.SubsetRandomSampler(data))


def test_generator_objects_match_torch(oracle):
    g, tg = ember.Generator().manual_seed(11), oracle.Generator().manual_seed(11)
    _same(ember.randn(20, generator=g), oracle.randn(20, generator=tg))
    _same(ember.randint(0, 9, (5,), generator=g), oracle.randint(0, 9, (5,), generator=tg))
    _same(ember.randperm(9, generator=g), oracle.randperm(9, generator=tg))
    _same(ember.empty(5).uniform_(generator=g), oracle.empty(5).uniform_(generator=tg))
    assert g.initial_seed() == tg.initial_seed() == 11
    assert ember.Generator().initial_seed() == oracle.Generator().initial_seed() == 67280421310721
    # negative seeds wrap to uint64 as in torch
    assert ember.Generator().manual_seed(-1).initial_seed() == oracle.Generator().manual_seed(-1).initial_seed()


@pytest.mark.parametrize("warmup", ["none", "odd_double_normal", "uniform"])
def test_rng_state_is_torchs_layout_and_round_trips(oracle, warmup):
    def warm(m):
        if warmup == "odd_double_normal":
            m.randn(3, dtype=m.float64)  # leaves a cached sample in the state
        elif warmup == "uniform":
            m.rand(700)  # past one twist of the 624-word state
    oracle.manual_seed(9)
    ember.manual_seed(9)
    warm(oracle)
    warm(ember)
    mine, theirs = ember.get_rng_state(), oracle.get_rng_state()
    assert mine.dtype == ember.uint8 and tuple(mine.shape) == (5056,)
    assert np.array_equal(mine.numpy(), theirs.numpy())
    after = oracle.randn(7, dtype=oracle.float64)
    _same(ember.randn(7, dtype=ember.float64), after)
    # restore each from the other's state
    ember.set_rng_state(ember.tensor(theirs.numpy()))
    oracle.set_rng_state(oracle.tensor(mine.numpy()))
    _same(ember.randn(7, dtype=ember.float64), after)
    _same(oracle.randn(7, dtype=oracle.float64), after)


def test_state_round_trip_without_torch():
    g = Generator().manual_seed(4)
    g.normal(0, 1, (3,), np.float64)
    state = g.get_state()
    assert state.numpy().size == 5056
    seed, left, seeded, nxt = struct.unpack_from("<QiiQ", state.numpy().tobytes(), 0)
    assert (seed, left, seeded, nxt) == (4, 625 - 8, 1, 8)
    a = g.normal(0, 1, (5,), np.float64)
    g.manual_seed(0)
    g.set_state(state)
    assert np.array_equal(g.normal(0, 1, (5,), np.float64), a)
    with pytest.raises(RuntimeError, match="size"):
        g.set_state(ember.zeros(10, dtype=ember.uint8))
