"""pytorch/examples' graph convolutional network (tests/examples/gcn_cora.py: sparse features, a sparse
normalized adjacency, torch.mm / torch.spmm with sparse operands, Adam) under `ember run` on generated
Cora-format files: it runs unchanged, prints what torch prints and learns the generated classes."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("gcn_cora.py")
CLASSES = ["Case_Based", "Neural_Networks", "Theory"]


def make_cora(root, n=160, n_features=40, n_edges=400, seed=0):
    """cora.content (paper id, 0/1 features, class name) and cora.cites (id pairs), as the real files; the
    features and the citations depend on the class, so a GCN can learn it."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.arange(1000, 100000), n, replace=False)
    labels = rng.integers(0, len(CLASSES), n)
    protos = rng.random((len(CLASSES), n_features)) < 0.25
    feats = np.where(rng.random((n, n_features)) < 0.85, protos[labels], rng.random((n, n_features)) < 0.1)
    feats[0] = 0   # a paper without words: its row of the feature scale is 1/0 = inf -> 0
    cora = Path(root) / "cora"
    cora.mkdir(parents=True)
    with open(cora / "cora.content", "w") as f:
        for i in range(n):
            f.write("\t".join([str(ids[i])] + [str(int(v)) for v in feats[i]] + [CLASSES[labels[i]]]) + "\n")
    src = rng.integers(0, n, n_edges)
    same = rng.random(n_edges) < 0.8   # most citations stay within a class
    dst = np.array([rng.choice(np.flatnonzero(labels == labels[s])) if k else rng.integers(0, n)
                    for s, k in zip(src, same)])
    with open(cora / "cora.cites", "w") as f:
        for s, d in zip(src, dst):
            f.write(f"{ids[s]}\t{ids[d]}\n")


def _run(argv, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


LINE = re.compile(r"Epoch: (\d{4}) \(\d+\.\d{4}s\) loss_train: (\d\.\d{4}) acc_train: (\d\.\d{4}) "
                  r"loss_val: (\d\.\d{4}) acc_val: (\d\.\d{4})")


def _parse(stdout):
    lines = stdout.splitlines()
    epochs = [LINE.fullmatch(line) for line in lines[3:-1]]
    assert all(epochs), lines
    test = re.fullmatch(r"Test set results: loss (\d\.\d{4}) accuracy (\d\.\d{4})", lines[-1])
    assert test, lines[-1]
    return lines[:3], [[float(v) for v in m.groups()[1:]] for m in epochs], [float(v) for v in test.groups()]


def test_gcn_runs_unchanged_under_ember_and_prints_what_torch_prints(tmp_path):
    make_cora(tmp_path)
    argv = [str(SCRIPT), "--epochs", "60", "--no-accel", "--include-bias"]
    proc = _run(["-m", "ember", "run", *argv], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # torch's one warning (sparse_coo_tensor without check_invariants), at the script's line
    assert proc.stderr.count("UserWarning: Sparse invariant checks are implicitly disabled.") == 1, proc.stderr
    assert "gcn_cora.py:" in proc.stderr and proc.stderr.count("Warning") == 1
    head, epochs, (loss, acc) = _parse(proc.stdout)
    assert head == ["Using cpu device", "Loading dataset...", "torch.sparse_coo (160, 40) torch.sparse_coo True"]
    assert len(epochs) == 3
    assert epochs[-1][0] < epochs[0][0] and acc >= 0.6, proc.stdout   # it learns the classes
    if torch is None:
        return
    ref = _run(argv, tmp_path)
    assert ref.returncode == 0, ref.stderr
    ref_head, ref_epochs, ref_test = _parse(ref.stdout)
    assert head == ref_head
    # the same seed gives the same initialization, permutation and dropout masks: the same numbers, up to
    # the order of float32 sums
    np.testing.assert_allclose(epochs, ref_epochs, atol=2e-4)
    np.testing.assert_allclose([loss, acc], ref_test, atol=2e-4)
    warning = proc.stderr.split("UserWarning: ")[1].split("\n")[0]
    assert ref.stderr.split("UserWarning: ")[1].startswith(warning)   # (torch adds where its C++ raised it)
