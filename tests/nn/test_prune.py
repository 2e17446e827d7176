"""nn.utils.prune against torch: masks (seeded random ones too), reparametrization, containers, remove, errors."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.utils.prune as prune
from tests.conftest import requires_torch, torch


def _net(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Conv2d(1, 6, 3), lib.nn.ReLU(), lib.nn.Flatten(), lib.nn.Linear(6 * 4 * 4, 10))


def _same_state(em, tm):
    esd, tsd = em.state_dict(), tm.state_dict()
    assert list(esd) == list(tsd)
    for k in tsd:
        np.testing.assert_allclose(esd[k].numpy(), tsd[k].detach().numpy(), atol=1e-6, err_msg=k)


def _apply_both(fn):
    """Run fn(lib, prune_module, net) on a seeded net in ember and in torch; return both nets."""
    import torch.nn.utils.prune as tprune
    em, tm = _net(ember), _net(torch)
    ember.manual_seed(1)
    torch.manual_seed(1)
    fn(ember, prune, em)
    fn(torch, tprune, tm)
    return em, tm


@requires_torch
@pytest.mark.parametrize("case", [
    lambda lib, P, m: P.random_unstructured(m[0], "weight", amount=0.3),
    lambda lib, P, m: P.l1_unstructured(m[3], "weight", amount=50),
    lambda lib, P, m: P.random_structured(m[0], "weight", amount=2, dim=0),
    lambda lib, P, m: P.ln_structured(m[3], "weight", amount=0.5, n=2, dim=1),
    lambda lib, P, m: P.ln_structured(m[0], "weight", amount=3, n=float("inf"), dim=-1),
    lambda lib, P, m: P.identity(m[0], "bias"),
    lambda lib, P, m: P.custom_from_mask(m[0], "bias", lib.tensor([0., 1., 0., 1., 1., 0.])),
    lambda lib, P, m: P.l1_unstructured(m[0], "weight", 5, importance_scores=m[0].weight.detach() ** 3 - 0.01),
    # iterative pruning goes through a PruningContainer: the second mask prunes only what the first kept
    lambda lib, P, m: (P.random_unstructured(m[0], "weight", 0.3), P.ln_structured(m[0], "weight", 0.5, 2, 0),
                       P.l1_unstructured(m[0], "weight", 4), P.random_structured(m[0], "weight", 1, 1)),
    lambda lib, P, m: P.global_unstructured([(m[0], "weight"), (m[3], "weight"), (m[3], "bias")],
                                            pruning_method=P.L1Unstructured, amount=0.4),
    lambda lib, P, m: (P.l1_unstructured(m[0], "weight", 0.2),
                       P.global_unstructured(((m[0], "weight"), (m[3], "weight")), P.RandomUnstructured, amount=30)),
])
def test_masks_state_dict_and_forward_match_torch(case):
    em, tm = _apply_both(case)
    _same_state(em, tm)
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in em.named_buffers()] == [n for n, _ in tm.named_buffers()]
    for e, t in zip(em.modules(), tm.modules()):
        assert [type(h).__name__ for h in e._forward_pre_hooks.values()] == \
            [type(h).__name__ for h in t._forward_pre_hooks.values()]
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(), atol=1e-5)


@requires_torch
def test_reparametrization_and_remove_match_torch():
    def go(lib, P, m):
        P.random_unstructured(m[0], "weight", amount=0.3)
        P.l1_unstructured(m[0], "bias", amount=3)
        P.ln_structured(m[0], "weight", amount=0.5, n=2, dim=0)
    em, tm = _apply_both(go)
    conv = em[0]
    assert [n for n, _ in conv.named_parameters()] == ["weight_orig", "bias_orig"]
    assert [n for n, _ in conv.named_buffers()] == ["weight_mask", "bias_mask"]
    # the weight hook was re-registered (as a container) after the bias one, as in torch
    hook = list(conv._forward_pre_hooks.values())[-1]
    assert isinstance(hook, prune.PruningContainer) and len(hook) == 2
    assert [type(h).__name__ for h in hook] == ["RandomUnstructured", "LnStructured"]
    assert conv.weight.grad_fn.name() == "MulBackward0" and not isinstance(conv.weight, nn.Parameter)
    # the pre-hook recomputes weight from weight_orig after an in-place change
    with ember.no_grad():
        conv.weight_orig.mul_(2)
    em(ember.zeros(1, 1, 6, 6))
    np.testing.assert_allclose(conv.weight.detach().numpy(),
                               (conv.weight_orig * conv.weight_mask).detach().numpy())
    with ember.no_grad():
        conv.weight_orig.div_(2)
    assert prune.is_pruned(em) and not prune.is_pruned(_net(ember))
    prune.remove(em[0], "weight")
    torch.nn.utils.prune.remove(tm[0], "weight")
    assert isinstance(em[0].weight, nn.Parameter)
    assert [n for n, _ in em[0].named_parameters()] == ["bias_orig", "weight"]
    _same_state(em, tm)
    # gradients reach only the kept entries
    em[0].bias.sum().backward()
    np.testing.assert_array_equal(em[0].bias_orig.grad.numpy(), em[0].bias_mask.numpy())


def test_prune_method_without_module_and_container_errors():
    t = ember.tensor([[1., -3.], [0.5, 2.]])
    np.testing.assert_array_equal(prune.L1Unstructured(amount=2).prune(t).numpy(), [[0., -3.], [0., 2.]])
    np.testing.assert_array_equal(prune.LnStructured(1, n=1, dim=0).prune(t).numpy(), [[1., -3.], [0., 0.]])
    a, b = prune.Identity(), prune.Identity()
    a._tensor_name, b._tensor_name = "weight", "bias"
    c = prune.PruningContainer(a)
    with pytest.raises(ValueError, match="parameter named 'weight'"):
        c.add_pruning_method(b)
    with pytest.raises(TypeError, match="not a BasePruningMethod subclass"):
        c.add_pruning_method(3)
    with pytest.raises(TypeError):
        prune.BasePruningMethod()


@pytest.mark.parametrize("bad, exc, msg", [
    (lambda m: prune.L1Unstructured(amount=1.5), ValueError, r"amount=1.5 should either be a float in the range"),
    (lambda m: prune.RandomUnstructured(amount=-1), ValueError, r"non-negative integer"),
    (lambda m: prune.L1Unstructured(amount="a"), TypeError, r"Invalid type for amount: a\. Must be int or float\."),
    (lambda m: prune.l1_unstructured(m, "weight", amount=9), ValueError,
     r"amount=9 should be smaller than the number of parameters to prune=4"),
    (lambda m: prune.remove(m, "weight"), ValueError, r"Parameter 'weight' of module Linear\(.*has to be pruned"),
    (lambda m: prune.ln_structured(m, "bias", 1, 2, 0), ValueError,
     r"Structured pruning can only be applied to multidimensional tensors\. Found tensor of shape "
     r"\w+\.Size\(\[2\]\) with 1 dims"),
    (lambda m: prune.ln_structured(m, "weight", 1, 2, 3), IndexError, r"Invalid index 3 for tensor of size"),
    (lambda m: prune.global_unstructured([(m, "weight")], prune.RandomStructured, amount=1), TypeError,
     r'Only "unstructured" PRUNING_TYPE supported'),
    (lambda m: prune.global_unstructured(3, prune.L1Unstructured, amount=1), TypeError, "not an Iterable"),
    (lambda m: prune.l1_unstructured(m, "weight", 1, importance_scores=ember.ones(3)), AssertionError,
     "importance_scores should have the same shape"),
])
def test_errors_leave_module_unchanged(bad, exc, msg):
    m = nn.Linear(2, 2)
    with pytest.raises(exc, match=msg):
        bad(m)
    # a failed first pruning re-registers weight last (torch does the same), so compare as a set
    assert {n for n, _ in m.named_parameters()} == {"weight", "bias"}
    assert list(m.named_buffers()) == [] and not m._forward_pre_hooks


def test_torch_alias_imports_prune():
    import subprocess
    import sys
    code = ("import ember.compat; ember.compat.install()\n"
            "import torch.nn.utils.prune as p; import ember.nn.utils.prune as q; assert p is q")
    subprocess.run([sys.executable, "-c", code], check=True)
