"""Everything ember's ops call through the array module exists in CuPy, with the keywords used.

The fake device records each function, ufunc method, array method and generator method ember
reaches while every op of the battery runs forward and backward, a small network trains with
each optimizer, and the creation and random ops run; each must be in CuPy's API (the installed
cupy, which imports without a GPU, or the committed snapshot of CuPy 14.2).
"""
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.cuda import cupy_api, fake_cupy
from tests.cuda import ops_battery as ob


def _exercise():
    for name, fn, specs in ob.CASES:
        if name in ob.PENDING_ON_FAKE:
            continue
        ob.run_case(fn, specs, "cuda")
    ember.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Dropout(0.2), nn.Flatten(),
                        nn.Linear(2 * 4 * 4, 3)).cuda()
    x, t = ember.randn(4, 1, 6, 6).cuda(), ember.tensor([0, 1, 2, 1]).cuda()
    for opt in (ember.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4),
                ember.optim.Adam(net.parameters(), amsgrad=True), ember.optim.AdamW(net.parameters()),
                ember.optim.RMSprop(net.parameters(), momentum=0.1, centered=True),
                ember.optim.Adagrad(net.parameters())):
        opt.zero_grad()
        F.cross_entropy(net(x), t.cpu().cuda()).backward()
        opt.step()
    nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    e = ember.empty(5, device="cuda")
    for fn in (lambda: e.uniform_(), lambda: e.normal_(), lambda: e.random_(0, 3), lambda: e.bernoulli_(),
               lambda: e.exponential_(), lambda: ember.randperm(7, device="cuda"),
               lambda: ember.multinomial(ember.ones(2, 4, device="cuda"), 3),
               lambda: ember.multinomial(ember.ones(4, device="cuda"), 6, True),
               lambda: ember.normal(ember.zeros(3, device="cuda"), 2.0), lambda: ember.randint(0, 4, (2,), device="cuda"),
               lambda: ember.randn(3, device="cuda", dtype=ember.float16), lambda: ember.rand(2, device="cuda"),
               lambda: ember.linspace(0, 1, 3, device="cuda"), lambda: ember.eye(2, device="cuda"),
               lambda: ember.tril_indices(3, 3, device="cuda"), lambda: ember.arange(4, device="cuda"),
               lambda: e.cauchy_(), lambda: e.log_normal_(), lambda: e.geometric_(0.3),
               lambda: ember.poisson(ember.ones(3, device="cuda")),
               lambda: ember.binomial(ember.full((3,), 5.0, device="cuda"), ember.full((3,), 0.5, device="cuda")),
               lambda: F.gumbel_softmax(ember.ones(2, 3, device="cuda"), hard=True),
               lambda: F.fractional_max_pool2d(ember.ones(1, 1, 5, 5, device="cuda"), 2, output_size=2)):
        fn()
    ember.cuda.synchronize()
    ember.cuda.empty_cache()


@pytest.fixture(scope="module")
def recorded():
    # the fake device, installed by hand: the recording spans several operations of this module
    mp = pytest.MonkeyPatch()
    from ember import cuda as ecuda, random as erandom
    mod = fake_cupy.make_module()
    mod.__dict__["_ember_fake"] = True
    for name, value in (("_cupy_module", mod), ("_probe", True), ("_usable", None), ("_peak", {}),
                        ("_seed", [1])):
        mp.setattr(ecuda, name, value)
    mp.setattr(erandom, "_cuda_generators", {})
    fake_cupy.RECORD.clear()
    fake_cupy.RECORD_KW.clear()
    try:
        _exercise()
        yield set(fake_cupy.RECORD), {k: set(v) for k, v in fake_cupy.RECORD_KW.items()}
    finally:
        mp.undo()


def test_the_recording_sees_what_ember_calls(recorded):
    names, _ = recorded
    # a sample of what the ops must reach through the array module: the recording works
    for n in ("zeros", "where", "exp", "add.at", "broadcast_to", "ndarray.sum", "random.Generator.random",
              "random.default_rng", "concatenate", "take_along_axis", "lib.stride_tricks.as_strided", "matmul"):
        assert n in names, n


def test_cupy_has_every_function_ember_calls(recorded):
    names, _ = recorded
    table, source = cupy_api.api()
    missing = sorted(n for n in names if n not in table)
    assert not missing, f"ember calls array-module functions that CuPy lacks ({source}): {missing}"


def test_cupy_accepts_every_keyword_ember_passes(recorded):
    _, kwargs = recorded
    table, source = cupy_api.api()
    bad = {n: sorted(set(kw) - table[n]) for n, kw in kwargs.items()
           if table.get(n) is not None and set(kw) - table[n]}
    assert not bad, f"keyword arguments CuPy's functions don't take ({source}): {bad}"


def test_the_check_can_fail():
    table, _ = cupy_api.api()
    # what CuPy lacks and ember must not use on a GPU
    for n in ("errstate", "vectorize.excluded", "random.Generator.normal", "random.Generator.permutation",
              "random.Generator.choice"):
        assert n not in table, n
    assert "where" not in table["add"] and table["add"] == {"out", "dtype", "casting"}  # no ufunc where=
    assert {"zeros", "ndarray.astype", "random.Generator.standard_normal"} <= set(table)


def test_snapshot_matches_the_installed_cupy_names():
    cupy = pytest.importorskip("cupy")
    if not cupy.__version__.startswith("14."):
        pytest.skip(f"the snapshot is of CuPy 14, this is {cupy.__version__}")
    assert set(cupy_api.load()) == set(cupy_api.from_cupy(cupy))
