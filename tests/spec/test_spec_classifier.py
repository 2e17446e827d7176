"""Section 2.2 of the spec, verbatim, on a small CIFAR-10 in the official format.

`download=True` fetches the archive from a real HTTP server on 127.0.0.1 (the dataset class's url
and md5s point at it), the script trains 2 epochs with 2 worker processes, saves and reloads the
model and prints accuracy and per-class accuracy.
"""
import re

from tests.spec import spec_output as so
from tests.vision import cifar_fixture

CLASSES = ('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')


def _dataset(tmp_path):
    # every class must appear in the test set, or the spec's per-class loop divides by zero
    for seed in range(100):
        files = cifar_fixture.make_cifar10(tmp_path / f"server{seed}", n_train=48, n_test=40, seed=seed)
        if len(set(files.test_labels)) == 10:
            return files
    raise AssertionError("no seed gave a test set with all 10 classes")


def test_section_2_2_runs_verbatim_and_prints_what_torch_would(tmp_path):
    files = _dataset(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    with cifar_fixture.serve(files.root) as url:
        out = so.run_ember_with_cifar("2.2", work, files.attrs(url))
    lines = out.splitlines()
    archive = "./data/cifar-10-python.tar.gz"
    assert lines[0] == f"Downloading {url}cifar-10-python.tar.gz to {archive}"
    assert lines[1] == f"Extracting {archive} to ./data"
    assert lines[2] == "Files already downloaded and verified"
    assert re.fullmatch(r"( *\w+){4}", lines[3]) and all(w in CLASSES for w in lines[3].split())
    assert lines[4] == "Finished Training"
    truth = " ".join("%5s" % CLASSES[files.test_labels[j]] for j in range(4))
    assert lines[5] == "GroundTruth:  " + truth
    assert re.fullmatch(r"Predicted:  ( *\w+){4}", lines[6])
    assert re.fullmatch(r"Accuracy of the network on the 10000 test images: \d+ %", lines[7])
    for i, name in enumerate(CLASSES):
        assert re.fullmatch(r"Accuracy of %5s : +\d+ %%" % name, lines[8 + i]), lines[8 + i]
    assert lines[18] == "cpu"
    assert len(lines) == 19
    assert (work / "cifar_net.pth").exists()
    assert (work / "data" / "cifar-10-batches-py" / "data_batch_1").exists()
