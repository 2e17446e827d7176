"""The torch alias: make `import torch` / `import torchvision` resolve to ember's modules.

`install()` adds an import hook; afterwards `sys.modules["torch"] is ember`, so printed sizes and
dtypes read `torch.Size(...)` / `torch.float64` (see _backend.namespace), and ember's public classes
carry torch's module names (type(x) is <class 'torch.Tensor'>) until `uninstall()`.
"""
import importlib
import importlib.abc
import importlib.machinery
import sys

# torch module name -> ember module name, exact names only: a torch module missing here is an
# ImportError that says ember lacks it (so each new ember package needs its entries)
ALIASES = {
    "torch": "ember",
    "torch.nn": "ember.nn",
    "torch.nn.functional": "ember.nn.functional",
    "torch.nn.init": "ember.nn.init",
    "torch.nn.modules": "ember.nn.modules",
    "torch.nn.parameter": "ember.nn.parameter",
    "torch.nn.utils": "ember.nn.utils",
    "torch.nn.utils.rnn": "ember.nn.utils.rnn",
    "torch.nn.utils.parametrize": "ember.nn.utils.parametrize",
    "torch.nn.utils.parametrizations": "ember.nn.utils.parametrizations",
    "torch.nn.utils.weight_norm": "ember.nn.utils.weight_norm",
    "torch.nn.utils.spectral_norm": "ember.nn.utils.spectral_norm",
    "torch.nn.utils.prune": "ember.nn.utils.prune",
    "torch.nn.parallel": "ember.nn.parallel",
    "torch.optim": "ember.optim",
    "torch.linalg": "ember.linalg",
    "torch.fft": "ember.fft",
    "torch.distributions": "ember.distributions",
    "torch.distributions.constraints": "ember.distributions.constraints",
    "torch.distributions.kl": "ember.distributions.kl",
    "torch.distributions.utils": "ember.distributions.utils",
    "torch.optim.lr_scheduler": "ember.optim.lr_scheduler",
    "torch.optim.swa_utils": "ember.optim.swa_utils",
    "torch.func": "ember.func",
    "torch.nn.utils.stateless": "ember.nn.utils.stateless",
    "torch.optim.optimizer": "ember.optim.optimizer",
    "torch.utils": "ember.utils",
    "torch.utils.data": "ember.utils.data",
    "torch.utils.hooks": "ember.utils.hooks",
    "torch.utils.data.distributed": "ember.utils.data.distributed",
    "torch.autograd": "ember.autograd",
    "torch.autograd.anomaly_mode": "ember.autograd.anomaly_mode",
    "torch.autograd.function": "ember.autograd.function",
    "torch.autograd.variable": "ember.autograd.variable",
    "torch.autograd.forward_ad": "ember.autograd.forward_ad",
    "torch.autograd.profiler": "ember.autograd.profiler",
    "torch.autograd.profiler_util": "ember.autograd.profiler_util",
    "torch.profiler": "ember.profiler",
    "torch.onnx": "ember.onnx",
    "torch.cuda": "ember.cuda",
    "torch.accelerator": "ember.accelerator",
    "torch.amp": "ember.amp",
    "torch.amp.autocast_mode": "ember.amp.autocast_mode",
    "torch.amp.grad_scaler": "ember.amp.grad_scaler",
    "torch.cuda.amp": "ember.amp.cuda_amp",
    "torch.cpu": "ember.cpu",
    "torch.cpu.amp": "ember.amp.cpu_amp",
    "torch.jit": "ember.jit",
    "torch.compiler": "ember.compiler",
    "torch._dynamo": "ember._dynamo",
    "torch._dynamo.eval_frame": "ember._dynamo.eval_frame",
    "torch._dynamo.config": "ember._dynamo.config",
    "torch.special": "ember.special",
    "torch.utils.checkpoint": "ember.utils.checkpoint",
    "torch.hub": "ember.hub",
    "torch.utils.model_zoo": "ember.utils.model_zoo",
    "torch.utils.benchmark": "ember.utils.benchmark",
    "torch.utils.tensorboard": "ember.utils.tensorboard",
    "torch.utils.tensorboard.writer": "ember.utils.tensorboard.writer",
    "torch.utils.tensorboard.summary": "ember.utils.tensorboard.summary",
    "torch.backends": "ember.backends",
    "torch.backends.cuda": "ember.backends.cuda",
    "torch.backends.cudnn": "ember.backends.cudnn",
    "torch.backends.mkldnn": "ember.backends.mkldnn",
    "torch.backends.mps": "ember.backends.mps",
    "torch.backends.openmp": "ember.backends.openmp",
    "torch.version": "ember.version",
    "torch.random": "ember.random",
    "torch.serialization": "ember.serialization",
    "torch.distributed": "ember.distributed",
    "torchvision": "ember.vision",
    "torchvision.transforms": "ember.vision.transforms",
    "torchvision.transforms.functional": "ember.vision.transforms.functional",
    "torchvision.transforms.v2": "ember.vision.transforms.v2",
    "torchvision.transforms.v2.functional": "ember.vision.transforms.v2.functional",
    "torchvision.tv_tensors": "ember.vision.tv_tensors",
    "torchvision.datasets": "ember.vision.datasets",
    "torchvision.utils": "ember.vision.utils",
    "torchvision.io": "ember.vision.io",
    "torchvision.models": "ember.vision.models",
    "torchvision.models.resnet": "ember.vision.models.resnet",
    "torchvision.models.vgg": "ember.vision.models.vgg",
    **{f"torchvision.models.{m}": f"ember.vision.models.{m}" for m in (
        "alexnet", "squeezenet", "mobilenetv2", "mobilenetv3", "densenet", "shufflenetv2", "efficientnet", "googlenet",
        "convnext", "vision_transformer", "inception", "mnasnet", "regnet", "swin_transformer", "maxvit")},
    "torchvision.ops": "ember.vision.ops",
    **{f"torchvision.ops.{m}": f"ember.vision.ops.{m}" for m in (
        "misc", "stochastic_depth", "boxes", "focal_loss", "giou_loss", "diou_loss", "ciou_loss", "roi_align",
        "roi_pool", "ps_roi_align", "ps_roi_pool", "poolers", "feature_pyramid_network", "deform_conv",
        "drop_block")},
    "torch.sparse": "ember.sparse",
    "torch.signal": "ember.signal",
    "torch.signal.windows": "ember.signal.windows",
    "torch.signal.windows.windows": "ember.signal.windows.windows",
    "torch.nn.attention": "ember.nn.attention",
    "torch.nn.attention.bias": "ember.nn.attention.bias",
    "torch.fx": "ember.fx",
    **{f"torch.fx.{m}": f"ember.fx.{m}" for m in (
        "node", "graph", "proxy", "graph_module", "interpreter", "_symbolic_trace", "subgraph_rewriter",
        "immutable_collections", "passes", "passes.shape_prop", "passes.utils", "passes.utils.matcher_utils")},
}
# submodules that tutorials import from directly (`from torch.utils.data.dataset import random_split`,
# `from torch.nn.modules.loss import _Loss`, `from torchvision.datasets.folder import default_loader`):
# ember keeps the same files under the same names
ALIASES.update({f"torch.utils.data.{m}": f"ember.utils.data.{m}"
                for m in ("dataset", "sampler", "dataloader", "_utils", "_utils.collate", "_utils.worker")})
ALIASES.update({f"torch.nn.modules.{m}": f"ember.nn.modules.{m}"
                for m in ("activation", "batchnorm", "container", "conv", "distance", "dropout", "flatten", "fold",
                          "instancenorm", "lazy", "linear", "loss", "module", "normalization", "padding",
                          "pixelshuffle", "pooling", "rnn", "sparse", "transformer", "upsampling", "utils",
                          "linear_cross_entropy", "linear_cross_entropy_options")})
ALIASES.update({f"torchvision.datasets.{m}": f"ember.vision.datasets.{m}"
                for m in ("cifar", "fakedata", "folder", "mnist", "utils", "vision", "svhn", "stl10", "usps",
                          "semeion")})
ALIASES.update({f"torch.autograd.{m}": f"ember.autograd.{m}"
                for m in ("functional", "grad_mode", "gradcheck", "graph")})
# modules ember has under torch's names that scripts import directly (`import torch.multiprocessing as mp`,
# `from torch.testing import assert_close`)
ALIASES.update({f"torch.{m}": f"ember.{m}" for m in (
    "testing", "multiprocessing", "storage", "types", "__future__", "nn.common_types", "utils._pytree", "utils.dlpack",
    "nn.modules.adaptive",
    "nn.parallel.distributed", "nn.utils.fusion", "nn.utils.init", "nn.utils.memory_format",
    "utils.benchmark.utils", "utils.benchmark.utils.common", "utils.benchmark.utils.compare",
    "utils.benchmark.utils.timer", "distributed.distributed_c10d", "distributed.run")})
ALIASES.update({f"torch.distributions.{m}": f"ember.distributions.{m}"
                for m in ("binomial", "chi2", "continuous_bernoulli", "exp_family", "fishersnedecor",
                          "generalized_pareto", "geometric", "lkj_cholesky", "lowrank_multivariate_normal",
                          "mixture_same_family", "multinomial", "negative_binomial", "studentT", "von_mises",
                          "wishart")})
ALIASES.update({f"torch.nn.utils.{m}": f"ember.nn.utils.{m}" for m in ("clip_grad", "convert_parameters")})
ALIASES.update({f"torch.optim.{m}": f"ember.optim.{m}"
                for m in ("adadelta", "adagrad", "adam", "adamax", "adamw", "asgd", "lbfgs", "nadam", "radam",
                          "rmsprop", "rprop", "sgd", "sparse_adam")})
ALIASES.update({f"torch.distributions.{m}": f"ember.distributions.{m}"
                for m in ("bernoulli", "beta", "categorical", "dirichlet", "distribution", "exponential", "gamma",
                          "independent", "laplace", "multivariate_normal", "normal", "one_hot_categorical",
                          "poisson", "uniform")})
ALIASES.update({f"torch.distributions.{m}": f"ember.distributions.{m}"
                for m in ("cauchy", "constraint_registry", "gumbel", "half_cauchy", "half_normal", "inverse_gamma",
                          "kumaraswamy", "log_normal", "logistic_normal", "pareto", "relaxed_bernoulli",
                          "relaxed_categorical", "transformed_distribution", "transforms", "weibull")})
_ROOTS = ("torch", "torchvision")


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target, name=None):
        self.target = target
        self.name = name

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        _register_imported()   # (the modules it imported, and their classes)
        if self.name is not None:
            _register_children(self.name, module)


def _missing_module_message(fullname):
    """One line: what is missing, and the modules ember has beside it (the full list is ALIASES)."""
    parent = fullname.rpartition(".")[0]
    siblings = sorted(n for n in ALIASES if n.rpartition(".")[0] == parent)
    beside = ""
    if siblings:
        shown = siblings[:8] + (["..."] if len(siblings) > 8 else [])
        beside = f"; beside it in {parent}: {', '.join(shown)}"
    return (f"ember does not implement {fullname} yet (ember stands in for torch/torchvision in this script: "
            f"ember.compat.ALIASES lists the {len(ALIASES)} modules it has{beside})")


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        root = fullname.partition(".")[0]
        if root not in _ROOTS:
            return None
        target_name = ALIASES.get(fullname)
        if target_name is None:
            raise ImportError(_missing_module_message(fullname), name=fullname)
        try:
            importlib.import_module(target_name)
        except ModuleNotFoundError as e:
            raise ImportError(f"ember does not implement {fullname} yet ({e})", name=fullname) from None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(target_name, fullname))


_finder = _AliasFinder()


class _InstallInChild:
    """Unpickled in a spawned or forkserver child before it re-runs the parent's __main__: installs the
    alias there first, so that the script's `import torch` means ember in worker processes too."""

    def __reduce__(self):
        return install, ()


def _with_alias(get_preparation_data):
    def wrapped(name):
        data = get_preparation_data(name)
        if _finder in sys.meta_path:
            data["ember_compat"] = _InstallInChild()  # multiprocessing's prepare() ignores unknown keys
        return data
    wrapped.ember_alias = True
    return wrapped


def _alias_child_processes():
    """Carry the alias into multiprocessing's spawn and forkserver children (fork inherits it)."""
    import multiprocessing.forkserver
    import multiprocessing.spawn
    if not getattr(multiprocessing.spawn.get_preparation_data, "ember_alias", False):
        multiprocessing.spawn.get_preparation_data = _with_alias(multiprocessing.spawn.get_preparation_data)
    # The fork server would import __main__ (so the real torch) before any child could install the
    # alias; without that preload each child imports __main__ itself, after the alias is in place.
    server = multiprocessing.forkserver._forkserver
    server._preload_modules = ["ember" if m == "__main__" else m for m in server._preload_modules]


_OWN_MODULES = {}   # class -> its ember __module__, while the alias shows it under torch's


def _attribute(module, qualname):
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj


def _show_torch_class_names():
    """Give ember's public classes the __module__ of torch's, so that type(x) prints <class 'torch.Tensor'> and
    type(nn.Linear(2, 2)) <class 'torch.nn.modules.linear.Linear'>: the names torch.save writes for them.  Only
    where pickle, which looks a class up by its __module__ and __qualname__, finds the class itself under the
    new name through the alias (multiprocessing pickles classes so; deepcopy and torch.save don't look)."""
    from .serialization import torch_class_names
    for cls, (module, name) in torch_class_names().items():
        if cls in _OWN_MODULES or name != cls.__qualname__:
            continue
        # (pickle imports `module` through the alias, which gives this ember module)
        home = sys.modules.get(ALIASES.get(module, ""))
        if home is None or _attribute(home, name) is not cls:
            continue
        _OWN_MODULES[cls] = cls.__module__
        cls.__module__ = module


def _restore_class_names():
    for cls, module in _OWN_MODULES.items():
        cls.__module__ = module
    _OWN_MODULES.clear()


def _register_imported():
    """Put each aliased module ember has imported into sys.modules under its torch name, and name its classes
    as torch's.  Registered, `import torch.nn.utils.weight_norm` finds the module there, as in torch, instead
    of importing it anew and binding it over the function of that name in ember.nn.utils."""
    modules = sys.modules
    for name, target in ALIASES.items():
        if name not in modules and target in modules:
            module = modules[target]
            if getattr(getattr(module, "__spec__", None), "_initializing", False):
                continue   # (still being imported: the import of its torch name goes through the finder)
            modules[name] = module
            _register_children(name, module)
    _show_torch_class_names()


def _register_children(name, module):
    """A plain module with aliased children (torch.cpu -> ember.cpu, with torch.cpu.amp): Python looks a
    child up only under a package, so the children go into sys.modules with it."""
    if hasattr(module, "__path__"):
        return
    for child, target in ALIASES.items():
        if child.rpartition(".")[0] == name and child not in sys.modules:
            sys.modules[child] = importlib.import_module(target)


def install():
    """Make torch and torchvision imports resolve to ember (idempotent)."""
    for name in _ROOTS:
        mod = sys.modules.get(name)
        if mod is not None and not getattr(mod, "__ember__", False) and name == "torch":
            raise RuntimeError(
                "the real torch is already imported in this process; ember.compat.install() must run "
                "before any `import torch`")
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    _alias_child_processes()
    # the modules ember has imported so far go under their torch names now; the others are imported (and
    # named) by the finder when the script asks: importing all of them here took ~0.3 s of every run
    _register_imported()


def uninstall():
    """Remove the alias (for tests and notebooks)."""
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    _restore_class_names()
    for name in list(sys.modules):
        if name.partition(".")[0] in _ROOTS and getattr(sys.modules[name], "__name__", "").startswith("ember"):
            del sys.modules[name]


def is_installed():
    """True when `torch` currently means ember."""
    return getattr(sys.modules.get("torch"), "__ember__", False)
