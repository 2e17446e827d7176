"""set_flush_denormal: FTZ/DAZ for the calling thread and ember's helper threads, as torch."""
import threading
import time

import numpy as np
import pytest

import ember
from ember import _settings, _threads
from tests.conftest import torch

switchable = pytest.mark.skipif(_settings._c_library() is None,
                                reason="FTZ/DAZ are switched through glibc on x86-64 only")
TINY = np.array([1e-40], np.float32)   # a float32 denormal


@pytest.fixture
def restore():
    yield
    ember.set_flush_denormal(False)
    if torch is not None:
        torch.set_flush_denormal(False)


@switchable
def test_flush_and_restore(restore):
    assert ember.set_flush_denormal(True) is True
    assert (TINY * np.float32(1))[0] == 0                         # NumPy's arithmetic on this thread
    assert ember.tensor(TINY).mul(2).item() == 0                     # ember's ops
    assert str(ember.tensor([1e-323], dtype=ember.float64)) == "tensor([0.], dtype=ember.float64)"
    assert ember.set_flush_denormal(False) is True
    assert (TINY * np.float32(1))[0] == np.float32(1e-40)
    assert str(ember.tensor([1e-323], dtype=ember.float64)) == "tensor([9.8813e-324], dtype=ember.float64)"


@switchable
def test_helper_threads_follow(restore):
    seen = {}

    def block(s, e):
        if s == 0:
            time.sleep(0.05)   # (releases the GIL: a helper takes the other blocks meanwhile)
        seen[s] = (threading.get_ident(), float((TINY * np.float32(1))[0]))

    for mode in (True, False, True):
        ember.set_flush_denormal(mode)
        seen.clear()
        _threads.run_blocks(block, 4, (1, 2))
        assert len({tid for tid, _ in seen.values()}) == 2       # a helper ran some blocks
        assert all((v == 0) == mode for _, v in seen.values()), (mode, seen)


def test_matches_torch(restore):
    with pytest.raises(RuntimeError, match="flush_denormal expects a bool, but got int"):
        ember.set_flush_denormal(1)
    if torch is None:
        assert isinstance(ember.set_flush_denormal(False), bool)
        return
    with pytest.raises(RuntimeError) as t:
        torch.set_flush_denormal(1)
    with pytest.raises(RuntimeError) as e:
        ember.set_flush_denormal(1)
    assert str(e.value) == str(t.value)
    for mode in (True, False):
        assert ember.set_flush_denormal(mode) == torch.set_flush_denormal(mode)
        assert str(ember.tensor([1e-323], dtype=ember.float64)).replace("ember", "torch") == \
            str(torch.tensor([1e-323], dtype=torch.float64))


def test_unsupported_platform_changes_nothing(monkeypatch):
    monkeypatch.setattr(_settings, "_libc", [None])
    assert ember.set_flush_denormal(True) is False
    assert _settings._flush[0] is False
    assert (TINY * np.float32(1))[0] == np.float32(1e-40)
