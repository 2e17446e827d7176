"""The main job, examples/cifar10_classifier.py, end to end on a small generated CIFAR-10."""
import json
import os
import subprocess
import sys
from pathlib import Path

import ember
from tests.vision import cifar_fixture

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "cifar10_classifier.py"


def _run(args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "ember", "run", str(SCRIPT)] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_trains_saves_reports_and_plots_then_resumes(tmp_path):
    files = cifar_fixture.make_cifar10(tmp_path / "server", n_train=40, n_test=20, seed=1)
    out = tmp_path / "out"
    with cifar_fixture.serve(files.root) as url:
        proc = _run(["--data", str(tmp_path / "data"), "--out", str(out), "--epochs", "1", "--log-every", "4",
                     "--workers", "2", "--url", url + files.filename, "--no-verify", "--no-progress"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert "[1,     4] loss: " in proc.stdout
    assert "Finished Training" in lines
    assert any(line.startswith("Accuracy of the network on the 20 test images:") for line in lines)
    assert sum(line.startswith("Accuracy of ") for line in lines) == 11
    for name in ("samples.png", "loss.png", "per_class_accuracy.png", "confusion_matrix.png"):
        assert (out / name).stat().st_size > 1000
    state = ember.load(out / "cifar_net.pth")
    assert list(state) == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight",
                           "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"] == 40 and 0 <= summary["accuracy"] <= 100

    # resume from the checkpoint for a second epoch, offline now: the data is already there
    proc = _run(["--data", str(tmp_path / "data"), "--out", str(out), "--epochs", "2", "--log-every", "4",
                 "--workers", "0", "--no-verify", "--no-plots", "--resume", str(out / "checkpoint.pth"),
                 "--no-progress"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Resumed from" in proc.stdout and "[2,     4] loss: " in proc.stdout
    assert "[1,     4]" not in proc.stdout


def test_checkpoint_opens_in_real_torch(tmp_path, oracle):
    files = cifar_fixture.make_cifar10(tmp_path / "server", n_train=8, n_test=4, seed=2)
    with cifar_fixture.serve(files.root) as url:
        proc = _run(["--data", str(tmp_path / "data"), "--out", str(tmp_path / "o"), "--epochs", "1",
                     "--workers", "0", "--url", url + files.filename, "--no-verify", "--no-plots",
                     "--no-progress"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ckpt = oracle.load(tmp_path / "o" / "checkpoint.pth", weights_only=True)
    assert ckpt["epoch"] == 1 and ckpt["model"]["fc3.weight"].shape == (10, 84)
    assert set(ckpt["optimizer"]["state"]) == set(range(10))


def test_data_parallel_over_two_mpi_ranks(tmp_path):
    import importlib.util
    import pytest
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py (the distributed extra) is not installed")
    files = cifar_fixture.make_cifar10(tmp_path / "data", n_train=32, n_test=8, seed=3, tarball=False)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "ember", "distributed-run", "--nproc-per-node", "2", str(SCRIPT),
           "--data", files.root, "--out", str(tmp_path / "out"), "--epochs", "1", "--workers", "0",
           "--log-every", "2", "--no-verify", "--no-plots", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        raise
    assert proc.returncode == 0, out + err
    lines = out.splitlines()
    assert lines.count("Finished Training") == 1  # only rank 0 reports
    # 32 images over 2 ranks at batch 4: 4 steps per rank, a loss line every 2
    assert sum(line.startswith("[1, ") for line in lines) == 2
    assert any(line.startswith("Accuracy of the network on the 8 test images") for line in lines)
    state = ember.load(tmp_path / "out" / "cifar_net.pth")
    assert "fc3.weight" in state and not any(k.startswith("module.") for k in state)
