"""Small top-level torch names: warn_always, deterministic debug mode, newaxis, is_storage, resize_as_,
the deprecated norms, the removed linalg functions, torch.compiler and torch.random.fork_rng."""
import warnings

import pytest

import ember
from ember import _settings

from .conftest import requires_torch, torch


@pytest.fixture(autouse=True)
def _restore():
    saved = list(_settings._deterministic), list(_settings._warn_always)
    t_saved = None
    if torch is not None:
        t_saved = (torch.get_deterministic_debug_mode(), torch.is_warn_always_enabled())
    yield
    _settings._deterministic[:], _settings._warn_always[:] = saved
    if t_saved is not None:
        torch.set_deterministic_debug_mode(t_saved[0])
        torch.set_warn_always(t_saved[1])


def _outcome(T, fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            r = fn(T)
            return r.tolist() if isinstance(r, (ember.Tensor,) + ((torch.Tensor,) if torch else ())) else r
        except Exception as e:
            return type(e).__name__, str(e).replace("torch.", "X.").replace("ember.", "X.")


CASES = {
    "debug_mode_str": lambda T: (T.set_deterministic_debug_mode("warn"), T.get_deterministic_debug_mode(),
                                 T.are_deterministic_algorithms_enabled(),
                                 T.is_deterministic_algorithms_warn_only_enabled()),
    "debug_mode_int": lambda T: (T.set_deterministic_debug_mode(2), T.get_deterministic_debug_mode(),
                                 T.is_deterministic_algorithms_warn_only_enabled()),
    "debug_mode_via_use": lambda T: (T.use_deterministic_algorithms(True, warn_only=True),
                                     T.get_deterministic_debug_mode()),
    "debug_mode_bad_str": lambda T: T.set_deterministic_debug_mode("loud"),
    "debug_mode_bad_int": lambda T: T.set_deterministic_debug_mode(5),
    "debug_mode_bad_type": lambda T: T.set_deterministic_debug_mode(1.5),
    "warn_always": lambda T: (T.set_warn_always(True), T.is_warn_always_enabled()),
    "warn_always_bad": lambda T: T.set_warn_always(1),
    "newaxis": lambda T: T.zeros(2, 3)[:, T.newaxis].shape == (2, 1, 3),
    "is_storage": lambda T: (T.is_storage(T.zeros(2).untyped_storage()), T.is_storage(T.zeros(2))),
    "resize_as_": lambda T: list(T.resize_as_(T.zeros(2, 3), T.zeros(6)).shape),
    "frobenius": lambda T: round(float(T.frobenius_norm(T.arange(6.).reshape(2, 3), (0, 1))), 4),
    "frobenius_keepdim": lambda T: list(T.frobenius_norm(T.arange(6.).reshape(2, 3), (0, 1), True).shape),
    "frobenius_3dims": lambda T: T.frobenius_norm(T.zeros(2, 2, 2), (0, 1, 2)),
    "nuclear": lambda T: round(float(T.nuclear_norm(T.arange(6.).reshape(2, 3))), 4),
    "nuclear_dims": lambda T: [round(v, 3) for v in T.nuclear_norm(T.arange(24.).reshape(2, 3, 4), (0, 1))
                               .tolist()],
    "nuclear_keepdim": lambda T: list(T.nuclear_norm(T.eye(3), True).shape),
    "matrix_rank": lambda T: T.matrix_rank(T.eye(2)),
    "solve": lambda T: T.solve(T.eye(2), T.eye(2)),
    "lstsq": lambda T: T.lstsq(T.eye(2), T.eye(2)),
    "eig": lambda T: T.eig(T.eye(2)),
    "symeig": lambda T: T.symeig(T.eye(2)),
    "solve_one_arg": lambda T: T.solve(T.eye(2)),
    "eig_method": lambda T: T.eye(2).eig(),
    "symeig_method": lambda T: T.eye(2).symeig(eigenvectors=True),
    "lstsq_method": lambda T: T.eye(2).lstsq(T.eye(2)),
    "solve_method": lambda T: T.eye(2).solve(T.eye(2)),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    assert _outcome(ember, CASES[name]) == _outcome(torch, CASES[name])


def test_deprecated_norms_warn():
    ember.linalg._deprecation_warned.clear()
    with pytest.warns(UserWarning, match="frobenius_norm is deprecated"):
        ember.frobenius_norm(ember.ones(2, 2), (0, 1))


COMPILER = {
    "disable_call": lambda T: T.compiler.disable(lambda x: x + 1)(1),
    "disable_wraps": lambda T: (lambda f: T.compiler.disable(f).__wrapped__ is f)(lambda x: x),
    "disable_nonrecursive": lambda T: T.compiler.disable(recursive=False)(lambda x: 2 * x)(3),
    "is_compiling": lambda T: (T.compiler.is_compiling(), T.compiler.is_dynamo_compiling(),
                               T.compiler.is_exporting()),
    "reset": lambda T: T.compiler.reset(),
    "allow_in_graph": lambda T: (lambda f: T.compiler.allow_in_graph(f) is f)(lambda x: x),
    "allow_in_graph_bad": lambda T: T.compiler.allow_in_graph(3),
    "assume_constant": lambda T: (lambda f: (T.compiler.assume_constant_result(f) is f,
                                             f._dynamo_marked_constant))(lambda x: x),
    "list_backends": lambda T: T.compiler.list_backends(),
    "default_backend": lambda T: T.compiler.get_default_backend(),
    "stance_force_backend": lambda T: T.compiler.set_stance("force_eager", force_backend="eager"),
    "wrap_numpy": lambda T: [round(v, 4) for v in T.compiler.wrap_numpy(lambda x: x * 2 + 1)(T.tensor([0., 1.]))
                             .tolist()],
}


@requires_torch
@pytest.mark.parametrize("name", sorted(COMPILER))
def test_compiler_matches_torch(name):
    assert _outcome(ember, COMPILER[name]) == _outcome(torch, COMPILER[name])


def test_compiler_disable_as_context_manager_and_stance():
    with ember.compiler.disable():
        pass
    with ember.compiler.set_stance("force_eager"):
        assert ember.compiler._stance[0] == "force_eager"
    assert ember.compiler._stance[0] == "default"
    assert ember.compiler.compile is ember.compile


def test_fork_rng_restores_cpu_state():
    ember.manual_seed(1)
    with ember.random.fork_rng():
        inside = ember.rand(3).tolist()
    after = ember.rand(3).tolist()
    assert inside == after
    with ember.random.fork_rng(devices=[], enabled=False):
        ember.rand(1)
    assert ember.random.thread_safe_generator() is None


@requires_torch
def test_fork_rng_same_numbers_as_torch():
    def run(T):
        T.manual_seed(5)
        with T.random.fork_rng(devices=[]):
            T.randn(4)
        return [round(v, 6) for v in T.randn(2).tolist()]
    assert run(ember) == run(torch)


def test_error_classes_scaler_and_permuted_empty():
    assert ember.OutOfMemoryError is ember.cuda.OutOfMemoryError and issubclass(ember.OutOfMemoryError, RuntimeError)
    assert issubclass(ember.AcceleratorError, RuntimeError)
    try:   # an except clause naming torch.cuda.OutOfMemoryError must not hide the real error
        try:
            raise ValueError("the real error")
        except ember.cuda.OutOfMemoryError:
            pass
    except ValueError as e:
        assert str(e) == "the real error"
    assert ember.GradScaler is ember.amp.GradScaler
    t = ember.empty_permuted((2, 3, 4), (0, 2, 1), dtype=ember.float64)
    assert t.shape == (2, 3, 4) and t.stride() == (12, 1, 3) and t.dtype is ember.float64
    with pytest.raises(RuntimeError, match="Duplicate dim not allowed"):
        ember.empty_permuted((2, 3), (0, 0))
    x = ember.ones(2, requires_grad=True) * 2
    y = x.detach()
    assert ember.detach_(y) is y and not y.requires_grad


@pytest.mark.parametrize("alias,name", [("arctan", "atan"), ("concat", "cat"), ("clip", "clamp"),
                                        ("true_divide", "div"), ("negative", "neg")])
def test_aliases_are_functions_of_their_own(alias, name):
    import pickle
    f, g = getattr(ember, alias), getattr(ember, name)
    assert f is not g and f.__name__ == alias and g.__name__ == name
    assert pickle.loads(pickle.dumps(f)) is f
    x = ember.tensor([[0.5, -2.0]])
    args = ([x, x],) if name == "cat" else (x, x) if name == "div" else (x, 0.0) if name == "clamp" else (x,)
    assert f(*args).tolist() == g(*args).tolist()
    if torch is not None:
        assert getattr(torch, alias).__name__ == alias   # (as torch's own)


def _device_module(T, device):
    try:
        return T.get_device_module(device).__name__.replace("ember.", "torch.")
    except Exception as e:
        return type(e).__name__, str(e).replace("ember.", "torch.")


@requires_torch
@pytest.mark.parametrize("device", ["cpu", "cpu:0", "cuda", "cuda:1", "meta", "3", "foo"])
def test_get_device_module_matches_torch(device):
    dev = 3 if device == "3" else device
    assert _device_module(ember, dev) == _device_module(torch, dev)
    if device in ("cpu", "meta"):
        assert _device_module(ember, ember.device(device)) == _device_module(torch, torch.device(device))


def test_get_device_module():
    assert ember.get_device_module("cpu") is ember.cpu
    assert ember.get_device_module(ember.device("cuda", 0)) is ember.cuda
    # None: the accelerator ember was installed for (CUDA through CuPy), else the CPU, as torch's
    accelerator = ember.accelerator.current_accelerator()
    assert ember.get_device_module() is (ember.cuda if accelerator is not None else ember.cpu)
    with pytest.raises(RuntimeError, match="Device 'mps' does not have a corresponding module registered as"):
        ember.get_device_module("mps")
    with pytest.raises(RuntimeError, match="Invalid value of device '1.5', expect"):
        ember.get_device_module(1.5)
