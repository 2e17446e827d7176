"""PyTorch's "Learn the Basics" quickstart, unchanged, under `ember run` on a small fake FashionMNIST.

The files sit in the official raw layout (root/FashionMNIST/raw/*-ubyte, as torchvision leaves them
after a download), so the tutorial's download=True finds them and downloads nothing.
"""
import gzip
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

import ember
from tests.conftest import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("quickstart_tutorial.py")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def make_fashion_mnist(root, n_train=200, n_test=100, seed=0):
    """Class-dependent 28x28 uint8 images and labels, written as idx files (plain and .gz)."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    protos = rng.integers(0, 256, (10, 28, 28))
    labels_of = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.clip(protos[labels] + rng.integers(-60, 60, (n, 28, 28)), 0, 255).astype(np.uint8)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            data = struct.pack(">I", (8 << 8) | arr.ndim) + b"".join(struct.pack(">I", s) for s in arr.shape)
            data += arr.tobytes()
            (raw / f"{prefix}-{kind}-ubyte").write_bytes(data)
            (raw / f"{prefix}-{kind}-ubyte.gz").write_bytes(gzip.compress(data))
        labels_of[prefix] = labels
    return labels_of


def test_quickstart_runs_unchanged_and_prints_what_torch_prints(tmp_path):
    labels = make_fashion_mnist(tmp_path / "data")
    before = sorted(p.name for p in (tmp_path / "data" / "FashionMNIST" / "raw").iterdir())
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "ember", "run", str(SCRIPT)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    device = "cuda" if ember.accelerator.is_available() else "cpu"
    assert lines[:15] == [
        "Shape of X [N, C, H, W]: torch.Size([64, 1, 28, 28])",
        "Shape of y: torch.Size([64]) torch.int64",
        f"Using {device} device",
        "NeuralNetwork(",
        "  (flatten): Flatten(start_dim=1, end_dim=-1)",
        "  (linear_relu_stack): Sequential(",
        "    (0): Linear(in_features=784, out_features=512, bias=True)",
        "    (1): ReLU()",
        "    (2): Linear(in_features=512, out_features=512, bias=True)",
        "    (3): ReLU()",
        "    (4): Linear(in_features=512, out_features=10, bias=True)",
        "  )",
        ")",
        "Epoch 1",
        "-------------------------------",
    ]
    epochs = lines[13:13 + 5 * 6]
    losses, test_losses = [], []
    for t in range(5):
        block = epochs[6 * t: 6 * t + 6]
        assert block[:2] == [f"Epoch {t + 1}", "-------------------------------"]
        m = re.fullmatch(r"loss: (\d\.\d{6})  \[   64/  200\]", block[2])
        assert m, block[2]
        losses.append(float(m.group(1)))
        assert block[3] == "Test Error: "
        m = re.fullmatch(r" Accuracy: (\d+\.\d)%, Avg loss: (\d\.\d{6}) ", block[4])
        assert m, block[4]
        test_losses.append(float(m.group(2)))
        assert block[5] == ""
    assert 2.0 < losses[0] < 2.6 and test_losses == sorted(test_losses, reverse=True)  # SGD lowers the loss
    m = re.fullmatch(r'Predicted: "(.+)", Actual: "(.+)"', lines[-1])
    assert lines[-3:-1] == ["Done!", "Saved PyTorch Model State to model.pth"] and m, lines[-3:]
    assert m.group(1) in CLASSES and m.group(2) == CLASSES[labels["t10k"][0]]
    # nothing was downloaded or removed; the checkpoint is torch's format
    assert sorted(p.name for p in (tmp_path / "data" / "FashionMNIST" / "raw").iterdir()) == before
    state = ember.load(tmp_path / "model.pth", weights_only=True)
    assert list(state) == [f"linear_relu_stack.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")]
    if torch is not None:
        ref = torch.load(tmp_path / "model.pth", weights_only=True)
        assert list(ref) == list(state) and tuple(ref["linear_relu_stack.0.weight"].shape) == (512, 784)
        np.testing.assert_array_equal(ref["linear_relu_stack.4.bias"].numpy(), state["linear_relu_stack.4.bias"].numpy())
