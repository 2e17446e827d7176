"""The fake 'cuda' device (NumPy underneath) for device tests, and the gpu marker's skip hook."""
import pytest

from ember import cuda as _cuda
from ember import random as _random


def _real_gpu():
    # asked before any fake device is installed (the answer is cached by ember.cuda)
    return _cuda.is_available() and not getattr(_cuda._cupy_module, "_ember_fake", False)


_HAVE_GPU = None


def pytest_runtest_setup(item):
    """Skip @pytest.mark.gpu tests on machines without a usable GPU."""
    global _HAVE_GPU
    if item.get_closest_marker("gpu") is not None:
        if _HAVE_GPU is None:
            _HAVE_GPU = _real_gpu()
        if not _HAVE_GPU:
            pytest.skip("needs a usable NVIDIA GPU with CuPy (ember.cuda.is_available() is False)")


@pytest.fixture
def fake_cuda(monkeypatch):
    """Install the NumPy-backed fake 'cuda' device (2 devices) for one test; returns its module."""
    from tests.cuda import fake_cupy
    mod = fake_cupy.make_module()
    mod.__dict__["_ember_fake"] = True
    monkeypatch.setattr(_cuda, "_cupy_module", mod)
    monkeypatch.setattr(_cuda, "_probe", True)
    monkeypatch.setattr(_cuda, "_usable", None)
    monkeypatch.setattr(_cuda, "_peak", {})
    monkeypatch.setattr(_cuda, "_seed", [67280421310721])
    monkeypatch.setattr(_random, "_cuda_generators", {})
    yield mod
