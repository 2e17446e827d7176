"""Optimizer base class: construction errors, param groups, repr, hooks — as torch."""
import warnings

import numpy as np
import pytest

import ember
from ember import optim
from tests.conftest import requires_torch, torch


def _param(n=2):
    return ember.tensor(np.ones(n, dtype=np.float32), requires_grad=True)


def _message(fn):
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value), str(info.value)


@requires_torch
@pytest.mark.parametrize("case", [
    "empty", "empty_group_list", "tensor", "set_in_group", "non_tensor", "non_leaf", "overlap",
    "sgd_lr", "sgd_momentum", "sgd_wd", "sgd_nesterov", "adam_lr", "adam_eps", "adam_beta0", "adam_beta1",
    "adam_wd", "adamw_lr", "rmsprop_alpha", "rmsprop_momentum", "adagrad_lr_decay", "adagrad_init",
    "group_not_dict", "names_mixed",
])
def test_errors_match_torch(case):
    def build(lib):
        p = lib.tensor([1.0, 2.0], requires_grad=True)
        q = lib.tensor([3.0], requires_grad=True)
        o = lib.optim
        return {
            "empty": lambda: o.SGD([]),
            "empty_group_list": lambda: o.SGD(iter([])),
            "tensor": lambda: o.SGD(p),
            "set_in_group": lambda: o.SGD([{"params": {p}}]),
            "non_tensor": lambda: o.SGD([p, 3]),
            "non_leaf": lambda: o.SGD([p * 2]),
            "overlap": lambda: o.SGD([{"params": [p]}, {"params": [p, q]}]),
            "sgd_lr": lambda: o.SGD([p], lr=-1),
            "sgd_momentum": lambda: o.SGD([p], momentum=-0.5),
            "sgd_wd": lambda: o.SGD([p], weight_decay=-1e-3),
            "sgd_nesterov": lambda: o.SGD([p], nesterov=True),
            "adam_lr": lambda: o.Adam([p], lr=-0.1),
            "adam_eps": lambda: o.Adam([p], eps=-1.0),
            "adam_beta0": lambda: o.Adam([p], betas=(1.0, 0.9)),
            "adam_beta1": lambda: o.Adam([p], betas=(0.9, -0.1)),
            "adam_wd": lambda: o.Adam([p], weight_decay=-1),
            "adamw_lr": lambda: o.AdamW([p], lr=-2),
            "rmsprop_alpha": lambda: o.RMSprop([p], alpha=-1),
            "rmsprop_momentum": lambda: o.RMSprop([p], momentum=-1),
            "adagrad_lr_decay": lambda: o.Adagrad([p], lr_decay=-1),
            "adagrad_init": lambda: o.Adagrad([p], initial_accumulator_value=-1),
            "group_not_dict": lambda: o.SGD([p]).add_param_group([q]),
            "names_mixed": lambda: o.SGD([("a", p), q]),
        }[case]

    e_type, e_msg = _message(build(ember))
    t_type, t_msg = _message(build(torch))
    assert e_type is t_type
    if case == "group_not_dict":
        assert e_msg == t_msg
    else:
        assert e_msg.replace("ember", "torch") == t_msg


def test_invalid_learning_rate_message():
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -1$"):
        optim.SGD([_param()], lr=-1)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([_param() * 2])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD([{"params": {_param()}}])


def test_duplicate_parameters_warn():
    p = _param()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optim.SGD([p, p])
    assert any("duplicate parameters" in str(w.message) for w in caught)


@requires_torch
@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(momentum=0.9)), ("SGD", {}), ("Adam", {}), ("AdamW", dict(amsgrad=True)),
    ("RMSprop", dict(centered=True)), ("Adagrad", dict(lr_decay=0.5)),
])
def test_repr_matches_torch(name, kwargs):
    e = [{"params": [_param()]}, {"params": [_param()], "lr": 0.5}]
    t = [{"params": [torch.ones(2, requires_grad=True)]}, {"params": [torch.ones(2, requires_grad=True)], "lr": 0.5}]
    assert repr(getattr(optim, name)(e, **kwargs)) == repr(getattr(torch.optim, name)(t, **kwargs))


def test_repr_sgd_exact():
    assert repr(optim.SGD([_param()], lr=0.001, momentum=0.9)) == (
        "SGD (\nParameter Group 0\n    dampening: 0\n    differentiable: False\n    foreach: None\n"
        "    fused: None\n    lr: 0.001\n    maximize: False\n    momentum: 0.9\n    nesterov: False\n"
        "    weight_decay: 0\n)")


def test_param_groups_defaults_and_add_param_group():
    a, b, c = _param(), _param(), _param()
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["params"] == [b]  # a lone tensor becomes a list
    assert opt.param_groups[1]["momentum"] == 0.9
    opt.add_param_group({"params": [c], "momentum": 0.0})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["lr"] == 0.1
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    assert opt.defaults["lr"] == 0.1


def test_named_parameters_keep_names():
    a, b = _param(), _param()
    opt = optim.Adam([("w", a), ("b", b)])
    assert opt.param_groups[0]["params"] == [a, b]
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


def test_step_hooks_run_and_can_be_removed():
    p = _param()
    opt = optim.SGD([p], lr=0.1)
    calls = []
    pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o is opt)))
    post = opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o is opt)))
    p.grad = ember.tensor(np.ones(2, dtype=np.float32))
    opt.step()
    assert calls == [("pre", True), ("post", True)]
    pre.remove()
    post.remove()
    opt.step()
    assert len(calls) == 2


@requires_torch
def test_step_hook_args_start_with_the_optimizer_as_torch():
    # torch passes hooks the args of step() including the optimizer itself, and a pre-hook's
    # returned (new_args, new_kwargs) replace them whole: step(*new_args, **new_kwargs)
    def run(lib):
        p = lib.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
        opt = lib.optim.SGD([p], lr=0.1)
        seen = []
        opt.register_step_pre_hook(lambda o, args, kwargs: seen.append((len(args), args[0] is o, dict(kwargs))))
        opt.register_step_post_hook(lambda o, args, kwargs: seen.append(("post", len(args), args[0] is o)))
        p.grad = lib.ones(2)
        opt.step()
        opt.step(None)
        opt.step(closure=None)
        h = opt.register_step_pre_hook(lambda o, args, kwargs: ((o, lambda: 7.0), {}))
        loss = opt.step()
        h.remove()
        return seen, loss

    assert run(ember) == run(torch)
    assert run(ember)[1] == 7.0


def test_state_dict_hooks():
    p = _param()
    opt = optim.SGD([p], lr=0.1)
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    assert opt.state_dict()["extra"] == 1
    seen = []
    opt.register_load_state_dict_post_hook(lambda o: seen.append(o.param_groups[0]["lr"]))
    sd = optim.SGD([_param()], lr=0.7).state_dict()
    opt.load_state_dict(sd)
    assert seen == [0.7]


def test_required_parameter_and_base_step():
    from ember.optim.optimizer import required
    p = _param()
    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        optim.Optimizer([p], {"lr": required})
    with pytest.raises(NotImplementedError):
        optim.Optimizer([p], {"lr": 0.1}).step()


def test_tensor_lr_is_accepted():
    p = ember.tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([p], lr=ember.tensor(0.5))
    p.grad = ember.tensor(np.ones(2))
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.5, 0.5])


def test_differentiable_is_refused_clearly():
    with pytest.raises(NotImplementedError, match="differentiable=False"):
        optim.SGD([_param()], differentiable=True)


@requires_torch
def test_custom_optimizer_written_against_torch_optim_optimizer_module():
    # custom optimizers import the ParamsT alias from torch.optim.optimizer for their signatures
    import importlib

    def run(lib):
        mod = importlib.import_module(lib.__name__ + ".optim.optimizer")

        class SignSGD(mod.Optimizer):
            def __init__(self, params: mod.ParamsT, lr: float = 0.1):
                super().__init__(params, {"lr": lr})

            @lib.no_grad()
            def step(self, closure=None):
                for group in self.param_groups:
                    for p in group["params"]:
                        if p.grad is not None:
                            p.add_(p.grad.sign(), alpha=-group["lr"])

        p = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        opt = SignSGD([p])
        p.grad = lib.tensor([0.5, -0.5, 0.0])
        opt.step()
        sd: mod.StateDict = opt.state_dict()
        return p.detach().numpy().tolist(), sd["param_groups"]

    assert run(ember) == run(torch)
