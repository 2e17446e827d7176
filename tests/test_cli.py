"""The `ember` command and the torch alias, run as a user would: in a subprocess."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ember(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "ember", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_run_maps_torch_and_torchvision_and_passes_argv(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import sys\n"
        "import torch, torch.nn as nn, torch.nn.functional as F, torch.optim as optim\n"
        "import torch.optim.lr_scheduler, torch.utils.data, torch.autograd, torch.cuda\n"
        "import torchvision, torchvision.transforms as T, torchvision.datasets, torchvision.utils\n"
        "from torch.utils.data import DataLoader\n"
        "print(torch.__name__, nn.Linear.__module__.split('.')[0], torchvision.__name__)\n"
        "print(torch.zeros(2, 3).size(), torch.ones(1, dtype=torch.float64).dtype)\n"
        "print(torch.tensor([1.5], dtype=torch.float64))\n"
        "print(sys.argv[1:], __name__)\n")
    proc = ember("run", str(script), "--flag", "x")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "ember torch ember.vision",
        "torch.Size([2, 3]) torch.float64",
        "tensor([1.5000], dtype=torch.float64)",
        "['--flag', 'x'] __main__",
    ]


def test_traceback_points_at_the_users_file(tmp_path):
    script = tmp_path / "bad.py"
    script.write_text("import torch\nx = torch.ones(2)\nx.view(3)\n")
    proc = ember("run", str(script))
    assert proc.returncode == 1
    assert f'File "{script}", line 3' in proc.stderr
    assert "shape '[3]' is invalid for input of size 2" in proc.stderr
    assert "runpy" not in proc.stderr and "cli.py" not in proc.stderr


def test_relative_script_gets_python_s_file_and_warning_paths(tmp_path):
    # python gives __file__ (and so warning and traceback locations) as cwd joined to the path
    (tmp_path / "sub").mkdir()
    script = tmp_path / "w.py"
    script.write_text("import warnings\nprint(__file__)\nwarnings.warn('hi')\n")
    want = subprocess.run([sys.executable, "../w.py"], cwd=tmp_path / "sub", capture_output=True, text=True)
    proc = ember("run", "../w.py", cwd=tmp_path / "sub")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == want.stdout == str(tmp_path / "sub" / ".." / "w.py") + "\n"
    assert proc.stderr == want.stderr


def test_missing_file_is_one_line_and_nonzero(tmp_path):
    proc = ember("run", str(tmp_path / "nope.py"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such file" in proc.stderr


def test_syntax_error_is_one_line(tmp_path):
    script = tmp_path / "syn.py"
    script.write_text("import torch\nx = (\n")
    proc = ember("run", str(script))
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "SyntaxError" in proc.stderr and "line" in proc.stderr


@pytest.mark.parametrize("name, missing, beside", [
    ("torch.ao.quantization", "torch.ao", "beside it in torch: torch.__future__, torch._dynamo, "),
    ("torch.optim.no_such_optimizer", "torch.optim.no_such_optimizer", "beside it in torch.optim: torch.optim.adadelta"),
    ("torchvision.no_such_module", "torchvision.no_such_module", "beside it in torchvision: ")])
def test_unsupported_torch_module_is_explained(tmp_path, name, missing, beside):
    script = tmp_path / "missing.py"
    script.write_text(f"import {name}\n")   # (torch.fft, then torch.sparse, were the example until ember had them)
    proc = ember("run", str(script))
    assert proc.returncode == 1
    assert f"ember does not implement {missing} yet" in proc.stderr and "ember.compat.ALIASES lists the" in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and len(proc.stderr) < 500   # (it once listed all 200 modules)
    assert beside in proc.stderr


def test_torch_onnx_imports_and_export_refuses(tmp_path):
    # pytorch/examples import torch.onnx at the top and export only on request: the import must work
    script = tmp_path / "onnx_user.py"
    script.write_text(
        "import torch\nimport torch.onnx\n"
        "print(torch.onnx.is_in_onnx_export())\n"
        "try:\n"
        "    torch.onnx.export(torch.nn.Linear(2, 2), (torch.ones(1, 2),), 'm.onnx')\n"
        "except NotImplementedError as e:\n"
        "    print('refused:', e)\n")
    proc = ember("run", str(script), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("False\nrefused: torch.onnx.export: ember cannot export models to ONNX")
    assert not (tmp_path / "m.onnx").exists()


def test_missing_torch_attribute_names_the_api(tmp_path):
    script = tmp_path / "attr.py"
    script.write_text("import torch\ntorch.fft_magic(1)\n")
    proc = ember("run", str(script))
    assert proc.returncode == 1
    assert "module 'torch' has no attribute 'fft_magic': ember does not implement torch.fft_magic yet" \
        in proc.stderr


def test_sys_exit_code_is_kept(tmp_path):
    script = tmp_path / "exit.py"
    script.write_text("import sys\nsys.exit(3)\n")
    assert ember("run", str(script)).returncode == 3
    script.write_text("import sys\nsys.exit('no data here')\n")
    proc = ember("run", str(script))
    assert proc.returncode == 1 and proc.stderr.strip() == "no data here"


def test_info_reports_versions_backend_threads_gpu():
    proc = ember("info")
    assert proc.returncode == 0
    out = proc.stdout
    assert out.startswith("ember ") and "numpy " in out and "threads: " in out and "GPU: " in out
    from ember import _threads
    if _threads._load() and _threads._core:   # OpenBLAS names its kernel family
        assert f"  BLAS kernels: {_threads._core}" in out
        assert ("(small-matrix products)" in out) == _threads._small_gemm


def test_compat_install_inside_a_process():
    code = ("import ember.compat; ember.compat.install(); import torch, torchvision; "
            "print(torch.Size([1]), torchvision.transforms.ToTensor.__module__.split('.')[0]); "
            "ember.compat.uninstall(); import ember; print(ember.Size([1]), type(ember.zeros(1)))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["torch.Size([1]) torchvision", "ember.Size([1]) <class 'ember._tensor.Tensor'>"]


def test_run_maps_torchvision_models(tmp_path):
    # `import torchvision.models as models` was refused by the alias before ember.vision.models existed
    script = tmp_path / "models.py"
    script.write_text(
        "import torchvision.models as models\n"
        "from torchvision.models import resnet18, ResNet18_Weights\n"
        "from torchvision.models.vgg import VGG\n"
        "import torch.nn.functional as F\n"
        "print(models.__name__, type(resnet18()).__name__, VGG.__name__, F.grid_sample.__name__)\n")
    proc = ember("run", str(script))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ember.vision.models", "ResNet", "VGG", "grid_sample"]


def test_run_maps_the_submodules_tutorials_import_from(tmp_path):
    # the text-classification tutorial's `from torch.utils.data.dataset import random_split` was refused
    script = tmp_path / "subs.py"
    script.write_text(
        "from torch.utils.data.dataset import random_split, Subset, TensorDataset\n"
        "from torch.utils.data.sampler import RandomSampler, BatchSampler\n"
        "from torch.utils.data.dataloader import DataLoader, default_collate\n"
        "from torch.utils.data._utils.collate import default_collate as dc\n"
        "from torch.nn.modules.loss import _Loss, _WeightedLoss\n"
        "from torch.nn.modules.module import Module\n"
        "from torch.nn.modules.conv import Conv2d\n"
        "from torchvision.datasets.folder import default_loader, IMG_EXTENSIONS, DatasetFolder\n"
        "from torchvision.datasets.vision import VisionDataset\n"
        "import torch\n"
        "a, b = random_split(range(10), [8, 2], generator=torch.Generator().manual_seed(0))\n"
        "print(len(a), len(b), dc is default_collate, issubclass(_WeightedLoss, Module), '.png' in IMG_EXTENSIONS)\n")
    proc = ember("run", str(script))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["8", "2", "True", "True", "True"]


def test_every_aliased_torch_module_is_a_real_torch_module():
    # an alias must name a module torch has, or a typo would quietly map a name torch lacks
    import importlib

    from ember import compat
    from tests.conftest import torch
    if torch is None:
        pytest.skip("PyTorch (the test oracle) is not installed")
    missing = []
    for name in compat.ALIASES:
        if name.startswith("torch.") and not name.startswith("torch.utils.tensorboard"):  # needs tensorboard
            try:
                importlib.import_module(name)
            except ImportError:
                missing.append(name)
    assert missing == []
    assert {"torch.utils.data.dataset", "torch.optim.sgd", "torch.autograd.functional"} <= set(compat.ALIASES)


def test_run_maps_optimizer_and_autograd_submodules(tmp_path):
    script = tmp_path / "subs2.py"
    script.write_text(
        "from torch.optim.sgd import SGD\n"
        "from torch.optim.adam import Adam\n"
        "from torch.autograd.functional import jacobian\n"
        "from torch.nn.utils.clip_grad import clip_grad_norm_\n"
        "from torch.distributions.normal import Normal\n"
        "import torch\n"
        "print(jacobian(lambda x: x * 2, torch.ones(2)).tolist(), SGD.__name__, Normal(0., 1.).mean.item())\n")
    proc = ember("run", str(script))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[0] == "[[2.0, 0.0], [0.0, 2.0]] SGD 0.0"


def test_run_maps_torch_utils_hooks_and_tensor_hooks_return_its_handle(tmp_path):
    # `import torch.utils.hooks` was refused although ember has the module
    script = tmp_path / "hooks.py"
    script.write_text(
        "import torch\n"
        "import torch.utils.hooks\n"
        "from torch.utils.hooks import RemovableHandle\n"
        "x = torch.ones(2, requires_grad=True)\n"
        "h = x.register_hook(lambda g: g * 3)\n"
        "m = torch.nn.Linear(2, 2).register_forward_hook(lambda *a: None)\n"
        "print(isinstance(h, torch.utils.hooks.RemovableHandle), type(m) is RemovableHandle, h.id < m.id)\n"
        "x.sum().backward(); h.remove(); x.sum().backward()\n"
        "print(x.grad.tolist())\n")
    proc = ember("run", str(script))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["True True True", "[4.0, 4.0]"]


def test_run_maps_torch_dynamo_and_torch_compiler(tmp_path):
    # `import torch._dynamo` (for reset() and config) and `import torch.compiler` were refused although ember
    # has both; torch.compile's wrapper is found where torch keeps it
    script = tmp_path / "dyn.py"
    script.write_text(
        "import torch, torch.nn as nn\n"
        "import torch._dynamo\n"
        "import torch.compiler\n"
        "from torch._dynamo.eval_frame import OptimizedModule\n"
        "torch._dynamo.reset(); torch.compiler.reset()\n"
        "torch._dynamo.config.suppress_errors = True\n"
        "torch._dynamo.config.cache_size_limit = 64\n"
        "m = torch.compile(nn.Linear(2, 2))\n"
        "print(isinstance(m, OptimizedModule), type(m).__name__, list(m.state_dict()))\n"
        "try:\n"
        "    torch._dynamo.config.not_a_setting = 1\n"
        "except AttributeError as e:\n"
        "    print(e)\n")
    proc = ember("run", str(script))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "True OptimizedModule ['_orig_mod.weight', '_orig_mod.bias']",
        "torch._dynamo.config.not_a_setting does not exist",
    ]


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_run_maps_torch_in_spawned_dataloader_workers(tmp_path, method):
    # spawn and forkserver children re-run the script's imports: they must get ember, not the real torch
    script = tmp_path / "loader.py"
    script.write_text(
        "import sys, torch\n"
        "from torch.utils.data import DataLoader, Dataset\n"
        "class DS(Dataset):\n"
        "    def __len__(self): return 4\n"
        "    def __getitem__(self, i): return torch.tensor([float(i)])\n"
        "def init(worker_id):\n"
        # (one write: two workers' prints of several pieces interleave)
        "    sys.stdout.write(f\"worker {worker_id} {getattr(sys.modules['torch'], '__ember__', False)}\\n\")\n"
        "    sys.stdout.flush()\n"
        "if __name__ == '__main__':\n"
        "    loader = DataLoader(DS(), batch_size=2, num_workers=2, multiprocessing_context=sys.argv[1],\n"
        "                        worker_init_fn=init)\n"
        "    batches = list(loader)\n"
        "    print([b.tolist() for b in batches], type(batches[0]).__module__)\n")
    proc = ember("run", str(script), method)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sorted(line for line in lines if line.startswith("worker")) == ["worker 0 True", "worker 1 True"]
    assert "[[[0.0], [1.0]], [[2.0], [3.0]]] torch" in lines   # (torch.Tensor's module, as torch prints it)


def test_run_maps_testing_multiprocessing_and_autograd_graph(tmp_path):
    # modules ember has that scripts import by torch's name; mp.spawn's children re-import the script
    script = tmp_path / "mods.py"
    script.write_text(
        "import sys, torch\n"
        "import torch.multiprocessing as mp\n"
        "from torch.testing import assert_close\n"
        "from torch.autograd.graph import Node\n"
        "from torch.utils._pytree import tree_flatten\n"
        "import torch.storage, torch.utils.dlpack\n"
        "def work(rank, q):\n"
        "    q.put((rank, getattr(sys.modules['torch'], '__ember__', False)))\n"
        "if __name__ == '__main__':\n"
        "    q = mp.get_context('spawn').SimpleQueue()\n"
        "    mp.spawn(work, args=(q,), nprocs=2)\n"
        "    print(sorted([q.get(), q.get()]), tree_flatten([1, (2, 3)])[0])\n"
        "    assert_close(torch.ones(2), torch.ones(2))\n"
        "    print(mp.__name__, isinstance((torch.ones(1, requires_grad=True) * 2).grad_fn, Node))\n")
    proc = ember("run", str(script))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[(0, True), (1, True)] [1, 2, 3]", "ember.multiprocessing True"]


TYPE_NAMES_SCRIPT = """\
import copy, io, pickle, sys, multiprocessing as mp
import torch, torch.nn as nn
def weight_sum(m):
    return float(m[0].weight.sum())
if __name__ == "__main__":
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for obj in (torch.zeros(1), net[0], net[0].weight, opt, torch.Size([1]), torch.float32, torch.device("cpu"),
                torch.utils.data.DataLoader([1]), nn.CrossEntropyLoss()):
        print(type(obj))
    print(nn.Linear.__module__, torch.Tensor.__module__)
    def check(m):   # a copy is the same class, with the same weights
        return type(m) is nn.Sequential and torch.equal(m[0].weight, net[0].weight)
    buf = io.BytesIO()
    torch.save(net, buf)
    buf.seek(0)
    print(check(copy.deepcopy(net)), check(pickle.loads(pickle.dumps(net))),
          check(torch.load(buf, weights_only=False)))
    with mp.get_context(sys.argv[1]).Pool(1) as pool:   # the model and its classes pickled to a worker
        print(pool.apply(weight_sum, (net,)) == weight_sum(net), pool.apply(type, (net[0],)) is nn.Linear)
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_run_prints_torch_class_names_and_still_pickles(tmp_path, method):
    # type(x) under the alias reads as torch's; pickle looks classes up by that name, through the alias
    script = tmp_path / "types.py"
    script.write_text(TYPE_NAMES_SCRIPT)
    proc = ember("run", str(script), method)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "<class 'torch.Tensor'>", "<class 'torch.nn.modules.linear.Linear'>",
        "<class 'torch.nn.parameter.Parameter'>", "<class 'torch.optim.sgd.SGD'>", "<class 'torch.Size'>",
        "<class 'torch.dtype'>", "<class 'torch.device'>", "<class 'torch.utils.data.dataloader.DataLoader'>",
        "<class 'torch.nn.modules.loss.CrossEntropyLoss'>", "torch.nn.modules.linear torch",
        "True True True", "True True"]


def test_uninstall_gives_classes_their_ember_names_back():
    code = ("import io, ember, ember.compat, ember.nn as nn; ember.compat.install(); import torch\n"
            "print(type(torch.zeros(1)), torch.nn.Linear.__module__)\n"
            "ember.compat.uninstall()\n"
            "print(type(ember.zeros(1)), nn.Linear.__module__)\n"
            "buf = io.BytesIO(); ember.save(nn.Linear(2, 2), buf)\n"
            "print(b'torch.nn.modules.linear' in buf.getvalue(), b'ember.nn' in buf.getvalue())\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["<class 'torch.Tensor'> torch.nn.modules.linear",
                                        "<class 'ember._tensor.Tensor'> ember.nn.modules.linear", "True False"]
