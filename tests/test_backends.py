"""torch.backends, torch.accelerator, torch.version and the top-level switches (deterministic
algorithms, float32 matmul precision): present, validated and reported as torch reports them."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ember
from ember import _settings
from ember.backends import cudnn

from .conftest import torch, requires_torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _restore_switches():
    saved = (dict(cudnn._state), list(_settings._deterministic), list(_settings._matmul_precision))
    if torch is not None:
        t_saved = (torch.backends.cudnn.enabled, torch.backends.cudnn.benchmark,
                   torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32,
                   torch.are_deterministic_algorithms_enabled(),
                   torch.is_deterministic_algorithms_warn_only_enabled(), torch.get_float32_matmul_precision())
    yield
    cudnn._state.clear()
    cudnn._state.update(saved[0])
    _settings._deterministic[:] = saved[1]
    _settings._matmul_precision[:] = saved[2]
    if torch is not None:
        c = torch.backends.cudnn
        c.enabled, c.benchmark, c.deterministic, c.allow_tf32 = t_saved[:4]
        torch.use_deterministic_algorithms(t_saved[4], warn_only=t_saved[5])
        torch.set_float32_matmul_precision(t_saved[6])


# ---- torch.backends -------------------------------------------------------------------------
@requires_torch
def test_cudnn_flags_default_like_torch():
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(ember.backends.cudnn, name) == getattr(torch.backends.cudnn, name), name


@pytest.mark.parametrize("name", ["enabled", "benchmark", "deterministic", "allow_tf32"])
def test_cudnn_flags_are_settable_and_take_only_bools(name):
    mod = ember.backends.cudnn
    setattr(mod, name, False)
    assert getattr(mod, name) is False
    setattr(mod, name, True)
    assert getattr(mod, name) is True
    with pytest.raises(RuntimeError, match="expects a bool, but got int"):
        setattr(mod, name, 1)
    assert getattr(mod, name) is True
    if torch is not None:  # the oracle refuses the same value with the same type
        with pytest.raises(RuntimeError, match="expects a bool, but got int"):
            setattr(torch.backends.cudnn, name, 1)


def test_cudnn_flags_context_restores():
    ember.backends.cudnn.benchmark = True
    with ember.backends.cudnn.flags(enabled=False, deterministic=True):
        assert ember.backends.cudnn.enabled is False and ember.backends.cudnn.deterministic is True
        assert ember.backends.cudnn.benchmark is False
    assert ember.backends.cudnn.enabled is True and ember.backends.cudnn.deterministic is False
    assert ember.backends.cudnn.benchmark is True


def test_cudnn_available_follows_embers_cuda(monkeypatch):
    assert ember.backends.cudnn.is_available() == ember.cuda.is_available()
    monkeypatch.setattr(ember.cuda, "_probe", False)
    assert ember.backends.cudnn.is_available() is False
    assert ember.backends.cudnn.version() is None
    if torch is not None and not torch.cuda.is_available():
        assert torch.backends.cudnn.version() is None


def test_mps_mkldnn_openmp_report_what_ember_has():
    assert ember.backends.mps.is_available() is False and ember.backends.mps.is_built() is False
    assert ember.backends.mkldnn.is_available() is False
    assert ember.backends.openmp.is_available() is False
    if torch is not None and not torch.backends.mps.is_available():
        assert ember.backends.mps.is_available() == torch.backends.mps.is_available()


@pytest.mark.parametrize("fw", ["ember", "torch"])
def test_matmul_allow_tf32_follows_matmul_precision_like_torch(fw):
    fw = ember if fw == "ember" else (torch or pytest.skip("PyTorch (the oracle) is not installed"))
    m = fw.backends.cuda.matmul
    assert m.allow_tf32 is False and fw.get_float32_matmul_precision() == "highest"
    fw.set_float32_matmul_precision("high")
    assert m.allow_tf32 is True
    fw.set_float32_matmul_precision("highest")
    assert m.allow_tf32 is False
    m.allow_tf32 = True
    assert fw.get_float32_matmul_precision() == "high"
    m.allow_tf32 = False
    assert fw.get_float32_matmul_precision() == "highest"
    fw.set_float32_matmul_precision("medium")
    assert m.allow_tf32 is True
    fw.set_float32_matmul_precision("highest")
    with pytest.raises(RuntimeError, match="expects a bool"):
        m.allow_tf32 = "yes"
    with pytest.raises(AttributeError, match="Unknown attribute foo"):
        m.foo = 1
    with pytest.raises(AttributeError, match="Unknown attribute foo"):
        m.foo
    assert m.allow_fp16_reduced_precision_reduction is True


# ---- top-level switches ---------------------------------------------------------------------
@pytest.mark.parametrize("fw", ["ember", "torch"])
def test_float32_matmul_precision_validates_like_torch(fw):
    fw = ember if fw == "ember" else (torch or pytest.skip("PyTorch (the oracle) is not installed"))
    assert fw.get_float32_matmul_precision() == "highest"
    assert fw.set_float32_matmul_precision("medium") is None
    assert fw.get_float32_matmul_precision() == "medium"
    with pytest.raises(RuntimeError, match="expects a str, but got int"):
        fw.set_float32_matmul_precision(3)
    with pytest.warns(UserWarning, match="low is not one of 'highest', 'high', or 'medium'"):
        fw.set_float32_matmul_precision("low")
    with pytest.warns(UserWarning):
        fw.set_float32_matmul_precision("HIGH")
    assert fw.get_float32_matmul_precision() == "medium"


@pytest.mark.parametrize("fw", ["ember", "torch"])
def test_use_deterministic_algorithms_like_torch(fw):
    fw = ember if fw == "ember" else (torch or pytest.skip("PyTorch (the oracle) is not installed"))
    assert fw.are_deterministic_algorithms_enabled() is False
    assert fw.use_deterministic_algorithms(True) is None
    assert fw.are_deterministic_algorithms_enabled() is True
    assert fw.is_deterministic_algorithms_warn_only_enabled() is False
    fw.use_deterministic_algorithms(True, warn_only=True)
    assert fw.is_deterministic_algorithms_warn_only_enabled() is True
    fw.use_deterministic_algorithms(False)
    assert fw.are_deterministic_algorithms_enabled() is False
    for bad in (1, "yes", None):
        with pytest.raises(TypeError, match="must be bool"):
            fw.use_deterministic_algorithms(bad)
    with pytest.raises(TypeError):
        fw.use_deterministic_algorithms(True, True)  # warn_only is keyword-only
    assert fw.are_deterministic_algorithms_enabled() is False


def test_version_module():
    assert ember.version.cuda is None and ember.version.hip is None
    assert ember.version.__version__ == ember.__version__
    if torch is not None and torch.version.cuda is None:
        assert ember.version.cuda == torch.version.cuda


# ---- torch.accelerator ----------------------------------------------------------------------
def _quickstart(fw):
    return fw.accelerator.current_accelerator().type if fw.accelerator.is_available() else "cpu"


def test_accelerator_without_cupy(monkeypatch):
    monkeypatch.setattr(ember.cuda, "_cupy_installed", lambda: False)
    acc = ember.accelerator
    assert acc.current_accelerator() is None and acc.current_accelerator(check_available=True) is None
    assert acc.is_available() is False and acc.device_count() == 0
    assert _quickstart(ember) == "cpu"
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
        acc.current_device_index()
    if torch is not None and not torch.cuda.is_available() and not torch.backends.mps.is_available():
        # a CPU-only build of torch: the same answers
        assert torch.accelerator.current_accelerator() is None
        assert torch.accelerator.is_available() is False and torch.accelerator.device_count() == 0
        assert _quickstart(torch) == "cpu"


def test_accelerator_with_cupy_but_no_gpu(monkeypatch):
    # torch's CUDA build on a machine without a GPU: the accelerator is named but not available
    monkeypatch.setattr(ember.cuda, "_cupy_installed", lambda: True)
    monkeypatch.setattr(ember.cuda, "_probe", False)
    acc = ember.accelerator
    assert acc.current_accelerator() == ember.device("cuda")
    assert acc.current_accelerator(check_available=True) is None
    assert acc.is_available() is False and acc.device_count() == 0
    assert _quickstart(ember) == "cpu"


def test_accelerator_with_a_gpu(monkeypatch):
    monkeypatch.setattr(ember.cuda, "_cupy_installed", lambda: True)
    monkeypatch.setattr(ember.cuda, "_probe", True)
    monkeypatch.setattr(ember.cuda, "device_count", lambda: 2)
    acc = ember.accelerator
    dev = acc.current_accelerator(check_available=True)
    assert dev == ember.device("cuda") and dev.index is None
    assert acc.is_available() is True and acc.device_count() == 2
    assert _quickstart(ember) == "cuda"


def test_accelerator_matches_embers_cuda_here():
    assert ember.accelerator.is_available() == ember.cuda.is_available()
    assert ember.accelerator.device_count() == ember.cuda.device_count()


# ---- under `ember run` ----------------------------------------------------------------------
def test_backends_import_forms_under_ember_run(tmp_path):
    script = tmp_path / "setup.py"
    script.write_text(
        "import torch\n"
        "import torch.backends.cudnn as cudnn\n"
        "from torch.backends import mps\n"
        "import torch.backends.cuda, torch.version, torch.accelerator\n"
        "from torch.autograd import Variable\n"
        "cudnn.benchmark = True\n"
        "torch.backends.cudnn.deterministic = True\n"
        "torch.use_deterministic_algorithms(True)\n"
        "device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else 'cpu'\n"
        "print(cudnn is torch.backends.cudnn, cudnn.benchmark, mps.is_available(), torch.version.cuda)\n"
        "print(device == ('cuda' if torch.cuda.is_available() else 'cpu'))\n"
        "print(torch.are_deterministic_algorithms_enabled(), Variable(torch.ones(1)).is_leaf)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "ember", "run", str(script)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["True True False None", "True", "True True"]
