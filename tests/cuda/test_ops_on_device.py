"""Every op on a 'cuda' device against the CPU, forward and backward.

On the fake device (NumPy underneath, always run) this checks device bookkeeping: each op builds
its results with its inputs' array module, so outputs and gradients stay on the device, and the
values match.  With @pytest.mark.gpu it runs the same cases on a real GPU through CuPy.
"""
import importlib
import inspect
import re

import pytest

from tests.cuda import ops_battery as ob


@pytest.fixture(params=["fake", pytest.param("gpu", marks=pytest.mark.gpu)])
def device(request):
    if request.param == "fake":
        request.getfixturevalue("fake_cuda")
    return "cuda"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the CPU side of log(negative) cases
@pytest.mark.parametrize("name,fn,specs", ob.CASES, ids=[c[0] for c in ob.CASES])
def test_op_on_device_matches_cpu(device, name, fn, specs, request):
    if name in ob.PENDING_ON_FAKE and "fake" in request.node.callspec.id:
        request.applymarker(pytest.mark.xfail(reason=ob.PENDING_ON_FAKE[name], strict=True))
    ob.run_case(fn, specs, device)


def test_every_op_has_a_device_case():
    names = set()
    for m in ("activation", "conv", "convert", "creation", "elementwise", "fold", "linalg", "loss", "norm", "pool",
              "reduce", "shape", "conv3d", "complex", "view_copy", "spectral"):
        mod = importlib.import_module("ember.ops." + m)
        names |= set(getattr(mod, "__all__", ())) | set(getattr(mod, "__functional__", ()))
    source = inspect.getsource(ob)
    covered = {c[0] for c in ob.CASES} | {n for group in ob.NOT_DEVICE_OPS.values() for n in group}
    missing = sorted(n for n in names - covered
                     if not re.search(r"[.(]" + re.escape(n) + r"\(|\"" + re.escape(n) + "\"", source))
    assert not missing, f"ops without a device case in tests/cuda/ops_battery.py: {missing}"
