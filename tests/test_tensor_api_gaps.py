"""Tensor API that libraries probe (the dir() comparison, group 3): is_sparse & co, to_dense, dim_order,
as_subclass, new, resize_, apply_/map_/map2_, register_post_accumulate_grad_hook, storage() /
untyped_storage(), share_memory_() / is_shared() and Module.share_memory(), against torch."""
import os
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch
from tests.ops.test_more_ops import both

PROBES = ("is_meta", "is_sparse", "is_sparse_csr", "is_quantized", "is_nested", "is_mkldnn", "is_xpu", "is_mps",
          "is_ipu", "is_vulkan", "is_maia", "is_mtia")


@requires_torch
def test_probes_and_small_methods_match_torch():
    def f(M):
        x = M.arange(6.0).view(2, 3)
        return (tuple(getattr(x, n) for n in PROBES) + (x.to_dense() is x, x.to_dense(M.float64), x.dim_order(),
                x.t().dim_order(), x.view(1, 2, 3).permute(2, 0, 1).dim_order(), x.new(2, 3).shape, x.new([1, 2]),
                x.new(), M.tensor([1, 2]).new([3.7]), x.new(M.Size([4])).shape))
    both(f)


@requires_torch
def test_resize_apply_map_match_torch():
    def f(M):
        y = M.arange(6.0)
        a = y.resize_(2, 2).clone()
        b = y.resize_(3, 3).shape
        c = M.arange(4).view(2, 2).t().resize_(4)
        d = M.zeros(2, 3).resize_as_(M.ones(3, 2)).shape
        z = M.tensor([1.0, 2])
        e = z.apply_(lambda v: v * 10).clone()
        g = z.map_(M.tensor([1.0, 1]), lambda u, v: u + v).clone()
        h = z.map2_(z, M.tensor(1.0), lambda u, v, w: u + v + w)
        i = M.tensor([[1, 2], [3, 4]]).map_(M.tensor([10, 20]), lambda u, v: u * v)
        return a, b, c, d, e, g, h, i
    both(f)


@requires_torch
def test_resize_of_a_grad_tensor_raises_as_torch():
    for M in (ember, torch):
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            M.ones(2, requires_grad=True).resize_(3)


@requires_torch
def test_as_subclass_shares_data_and_graph():
    for M in (ember, torch):
        class Sub(M.Tensor):
            pass
        w = M.ones(2, requires_grad=True)
        m = w.as_subclass(Sub)
        assert type(m) is Sub and m.requires_grad and not m.is_leaf
        (m * 2).sum().backward()
        assert w.grad.tolist() == [2.0, 2.0]
        x = M.zeros(2)
        s = x.as_subclass(Sub)
        s[0] = 5
        assert x.tolist() == [5.0, 0.0] and s.is_leaf


@requires_torch
def test_post_accumulate_grad_hook_runs_after_accumulation():
    def f(M):
        p = M.ones(2, requires_grad=True)
        seen = []
        h = p.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.clone()))
        p.register_hook(lambda g: g * 3)   # a tensor hook registered later still runs before
        (p * 2).sum().backward()
        (p * 1).sum().backward()
        h.remove()
        (p * 1).sum().backward()
        return tuple(seen) + (p.grad,)
    both(f)
    for M in (ember, torch):
        with pytest.raises(RuntimeError, match="non-leaf"):
            (M.ones(1, requires_grad=True) * 2).register_post_accumulate_grad_hook(print)


@requires_torch
def test_optimizer_step_in_backward_matches_torch():
    # the "optimizer step in backward" tutorial: each parameter's optimizer steps from its hook
    rng = np.random.default_rng(3)
    w1, b1, w2 = (rng.standard_normal(s).astype(np.float32) for s in ((4, 3), (4,), (1, 4)))
    x = rng.standard_normal((5, 3)).astype(np.float32)

    def f(M):
        net = M.nn.Sequential(M.nn.Linear(3, 4), M.nn.Tanh(), M.nn.Linear(4, 1, bias=False))
        with M.no_grad():
            net[0].weight.copy_(M.tensor(w1))
            net[0].bias.copy_(M.tensor(b1))
            net[2].weight.copy_(M.tensor(w2))
        opts = {p: M.optim.Adam([p], lr=0.1, foreach=False) for p in net.parameters()}

        def hook(p):
            opts[p].step()
            opts[p].zero_grad()
        for p in net.parameters():
            p.register_post_accumulate_grad_hook(hook)
        for _ in range(3):
            net(M.tensor(x)).pow(2).mean().backward()
        return tuple(p.detach() for p in net.parameters()) + tuple(p.grad for p in net.parameters())
    both(f)


@requires_torch
def test_storages_match_torch():
    def f(M):
        x = M.arange(6.0).view(2, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = x[1].storage()
        u = x[1].untyped_storage()
        return (s.size(), len(s), s.nbytes(), s.element_size(), str(s.dtype).split(".")[1], tuple(s.tolist()),
                str(s.device),
                s.data_ptr() == x.data_ptr(), u.size(), u.nbytes(), u.element_size(), tuple(u.tolist()),
                u.data_ptr() == x.data_ptr(), tuple(M.tensor([1, 2], dtype=M.int16).untyped_storage().tolist()))
    both(f)


@requires_torch
def test_as_strided_view_knows_its_storage():
    def f(M):
        x = M.arange(8.0)
        v = x.as_strided((2, 2), (1, 3), 2)
        return (v.storage_offset(), v.as_strided((2,), (2,)).storage_offset(), v.untyped_storage().nbytes(),
                v.untyped_storage().data_ptr() == x.data_ptr())
    both(f)


def test_storage_shares_memory_and_warns():
    x = ember.zeros(3)
    with pytest.warns(UserWarning, match="TypedStorage is deprecated"):
        s = x.storage()
    s[1] = 4.0
    s.untyped()[0] = 1    # the low byte of element 0
    assert x[1].item() == 4.0 and x[0].item() != 0
    assert s.fill_(2.0).tolist() == x.tolist() == [2.0, 2.0, 2.0]


def test_share_memory_survives_fork():
    x = ember.zeros(3)
    assert not x.is_shared() and not x.untyped_storage().is_shared()
    assert x.share_memory_() is x and x.is_shared() and x.untyped_storage().is_shared()
    x += 1    # in-place ops keep the shared memory
    net = ember.nn.Linear(2, 2)
    net.weight.grad = ember.zeros(2, 2)
    net.share_memory()
    assert all(p.is_shared() for p in net.parameters()) and net.weight.grad.is_shared()
    if not hasattr(os, "fork"):
        pytest.skip("needs fork")
    before = net.weight.detach().clone()
    pid = os.fork()
    if pid == 0:   # the child writes; the parent must see it
        x[0] = 7.0
        with ember.no_grad():
            net.weight.add_(1.0)
        os._exit(0)
    os.waitpid(pid, 0)
    assert x.tolist() == [7.0, 1.0, 1.0]
    np.testing.assert_allclose(net.weight.detach().numpy(), before.numpy() + 1)


@requires_torch
def test_share_memory_flag_matches_torch():
    def f(M):
        x = M.ones(2)
        a = x.is_shared()
        x.share_memory_()
        return a, x.is_shared(), x.clone().is_shared(), (x + 1).is_shared(), tuple(x.tolist())
    both(f)


# keyword names torch's parser takes (and refuses) outside the shape ops: tests/ops/test_shape.py has those
KEYWORD_NAMES = {
    "max_other": lambda M, x: x.max(other=x.flip(0)), "min_other": lambda M, x: x.min(other=x.flip(0)),
    "torch_max_other": lambda M, x: M.max(input=x, other=x.flip(0)), "torch_min_other": lambda M, x:
    M.min(x, other=x.flip(0)), "max_other_number": lambda M, x: x.max(other=1), "max_other_and_dim": lambda M, x:
    x.max(1, other=x), "max_dim_kw": lambda M, x: x.max(dim=1, keepdim=True),
    "new_zeros_size_kw": lambda M, x: x.new_zeros(size=(2, 3), dtype=M.int32), "new_ones_size_kw": lambda M, x:
    x.new_ones(size=[2]), "new_empty_size_kw": lambda M, x: x.new_empty(size=(2,)).shape, "new_zeros_size_int":
    lambda M, x: x.new_zeros(size=2), "new_zeros_both": lambda M, x: x.new_zeros(2, size=(3,)), "new_zeros_none":
    lambda M, x: x.new_zeros(), "new_ones_varargs": lambda M, x: x.new_ones(2, 3),
    "copy_other_kw": lambda M, x: x.clone().copy_(other=x * 2, non_blocking=False), "copy_src_kw": lambda M, x:
    x.clone().copy_(src=x * 2),
    "one_hot_input_kw": lambda M, x: M.nn.functional.one_hot(input=M.tensor([0, 2]), num_classes=3),
    "one_hot_tensor_kw": lambda M, x: M.nn.functional.one_hot(tensor=M.tensor([0, 2]), num_classes=3),
    "is_tensor_obj_kw": lambda M, x: M.is_tensor(obj=x), "is_storage_obj_kw": lambda M, x: M.is_storage(obj=x),
    "resize__size_kw": lambda M, x: x.clone().resize_(size=(6,)).shape, "resize__both": lambda M, x:
    x.clone().resize_(6, size=(6,)),
}


@requires_torch
@pytest.mark.parametrize("name", list(KEYWORD_NAMES))
def test_keyword_names_match_torch(name):
    from tests.ops.test_shape import check_argument_forms
    check_argument_forms(KEYWORD_NAMES[name])


# ---- set_: a tensor made to view another tensor's or a storage's memory --------------------------------------
def _outcome(M, f):
    """f(M)'s result, or its exception's (type name, message) with the module's name taken out."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return f(M)
    except Exception as e:   # noqa: BLE001  (the comparison is the point)
        return type(e).__name__, str(e).replace("torch.", "M.").replace("ember.", "M.")


def _set_case(M, source, *args, dtype=None):
    t = M.zeros(1, dtype=dtype or M.float32)
    v = t._version
    src = source(M)
    out = t.set_(src, *args) if src is not None else t.set_()
    return out is t, out, out.shape, out.stride(), out.storage_offset(), t._version - v


SET_CASES = {
    "tensor": lambda M: _set_case(M, lambda M: M.arange(6.0)),
    "tensor_view": lambda M: _set_case(M, lambda M: M.arange(6.0)[2:].view(2, 2)),
    "tensor_strided": lambda M: _set_case(M, lambda M: M.arange(6.0)[::2]),
    "tensor_geometry": lambda M: _set_case(M, lambda M: M.arange(6.0)[1:], 1, (2,), (2,)),
    "tensor_size_list": lambda M: _set_case(M, lambda M: M.arange(6.0), 0, [2, 3]),
    "untyped": lambda M: _set_case(M, lambda M: M.arange(6.0).untyped_storage()),
    "untyped_geometry": lambda M: _set_case(M, lambda M: M.arange(6.0).untyped_storage(), 2, (2, 2), (1, 2)),
    "untyped_size_obj": lambda M: _set_case(M, lambda M: M.arange(6.0).untyped_storage(), 0, M.Size([2])),
    "untyped_zero_stride": lambda M: _set_case(M, lambda M: M.arange(6.0).untyped_storage(), 1, (3,), (0,)),
    "untyped_reinterpreted": lambda M: _set_case(M, lambda M: M.arange(6.0).untyped_storage(), dtype=M.int32),
    "untyped_short": lambda M: _set_case(M, lambda M: M.arange(3.0).untyped_storage(), dtype=M.float64),
    "typed": lambda M: _set_case(M, lambda M: M.arange(6.0).storage()),
    "empty": lambda M: _set_case(M, lambda M: None),
    "keywords": lambda M: M.zeros(1).set_(source=M.arange(6.0).untyped_storage(), storage_offset=1, size=(2,),
                                          stride=(2,)),
    "source_keyword": lambda M: M.zeros(1).set_(source=M.arange(3)),
    "parameter_no_grad": lambda M: _set_param_no_grad(M),
    "leaf_requires_grad": lambda M: M.zeros(2, requires_grad=True).set_(M.ones(2)),
    "non_leaf": lambda M: _set_non_leaf(M),
    "grad_source": lambda M: (lambda y: (y.requires_grad, y.grad_fn.name(), y.is_leaf))(
        M.zeros(3).set_(M.ones(2, requires_grad=True))),
    "grad_source_no_grad": lambda M: _no_grad(M, lambda: M.zeros(3).set_(M.ones(2, requires_grad=True))).requires_grad,
    "dtype_mismatch": lambda M: M.zeros(3, dtype=M.int64).set_(M.arange(6.0)),
    "typed_dtype_mismatch": lambda M: M.zeros(3, dtype=M.int64).set_(M.arange(6.0).storage()),
    "negative_offset": lambda M: M.zeros(1).set_(M.arange(6.0).untyped_storage(), -1, (1,)),
    "negative_stride": lambda M: M.zeros(1).set_(M.arange(6.0).untyped_storage(), 0, (2,), (-1,)),
    "size_stride_lengths": lambda M: M.zeros(1).set_(M.arange(6.0), 0, (2, 3), (3, 1, 1)),
    "offset_without_size": lambda M: M.zeros(1).set_(M.arange(6.0), 1),
    "not_a_source": lambda M: M.zeros(1).set_(3),
    "none_source": lambda M: M.zeros(1).set_(None),
    "none_source_keyword": lambda M: M.zeros(1).set_(source=None),
    "view_stays_view": lambda M: _set_on_view(M),
    "inference_tensor": lambda M: _inference_zeros(M).set_(M.ones(2)),
    "inference_source": lambda M: M.zeros(2).set_(_inference_zeros(M)),
}


def _set_on_view(M):
    base = M.arange(4.0)
    x = base[1:]
    x.set_(M.arange(10.0, 15.0))
    x.add_(1)
    # as_strided reads the new memory, not the old base's
    strided = x.as_strided((2,), (1,), 1).tolist() + M.as_strided_scatter(x, M.zeros(1), (1,), (1,), 2).tolist()
    return (x._is_view(), x._base is base, base._version, x._version, tuple(x.tolist()), tuple(base.tolist()),
            tuple(strided))


def _no_grad(M, f):
    with M.no_grad():
        return f()


def _inference_zeros(M):
    with M.inference_mode():
        return M.zeros(2)


def _set_param_no_grad(M):
    p = M.nn.Parameter(M.zeros(2))
    q = M.arange(3.0)
    with M.no_grad():
        out = p.set_(q)
    (p * 2).sum().backward()
    return (type(out).__name__, out is p, p.requires_grad, p.is_leaf, p.grad_fn, p.grad, p.data_ptr() == q.data_ptr())


def _set_non_leaf(M):
    x = M.zeros(2, requires_grad=True)
    y = (x * 2).set_(M.ones(3))
    names = (y.grad_fn.name(), type(y.grad_fn.next_functions[0][0]).__name__, y.grad_fn.next_functions[1])
    return names + (_outcome(M, lambda M: y.sum().backward()),)


@requires_torch
@pytest.mark.parametrize("name", list(SET_CASES))
def test_set_matches_torch(name):
    e, t = _outcome(ember, SET_CASES[name]), _outcome(torch, SET_CASES[name])
    if isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) and t[0].endswith("Error"):
        assert isinstance(e, tuple) and e[0] == t[0], (e, t)
        if t[0] == "RuntimeError":   # ember's message is torch's, with a tail saying what to do
            assert e[1].startswith(t[1].rstrip(".")), (e[1], t[1])
        return
    both(lambda M: _outcome(M, SET_CASES[name]))


def test_set_shares_memory_both_ways():
    a = ember.arange(6.0)
    b = ember.zeros(2).set_(a)
    assert b.data_ptr() == a.data_ptr() and b.is_set_to(a)
    b[0] = 100
    a[1] = -1
    assert a.tolist()[:2] == b.tolist()[:2] == [100.0, -1.0]
    b.unsqueeze_(0)    # an in-place reshape of b leaves a's shape alone
    assert a.shape == (6,) and b.shape == (1, 6)
    c = ember.zeros(1).set_(a.untyped_storage(), 2, (2, 2), (1, 2))
    c[1, 1] = 50
    assert a[5].item() == 50 and c.untyped_storage().data_ptr() == a.data_ptr()
    v = ember.zeros(4)[1:]
    v.set_(ember.ones(2))
    v.add_(1)     # still a view (as in torch), but not of its old base's memory: that keeps its zeros
    assert v.tolist() == [2.0, 2.0] and v._is_view() and v._base.tolist() == [0.0] * 4


def test_set_refuses_bad_size_with_a_clear_message():
    with pytest.raises(RuntimeError, match="ember can't grow memory"):    # (torch grows the storage)
        ember.zeros(1).set_(ember.arange(6.0), 0, (10,))
    with pytest.raises(RuntimeError, match="storage offset 5"):    # offset counts from the source's own
        ember.zeros(1).set_(ember.arange(6.0)[3:], 2, (2,))
    with pytest.raises(TypeError, match="need size"):
        ember.zeros(1).set_(ember.arange(6.0), stride=(1,))
    with pytest.raises(TypeError, match=r"set_\(\) received an invalid combination.*got size='ab'"):
        ember.zeros(1).set_(ember.arange(6.0), 0, "ab")


# ---- storage_type() and the legacy storage classes (torch.FloatStorage, ...) -----------------------------------
LEGACY_STORAGE_CASES = {
    "storage_types": lambda M: tuple(repr(M.ones(2, dtype=d).storage_type()).replace("torch.", "M.").replace(
        "ember.", "M.") for d in (M.float32, M.float64, M.int64, M.bool, M.uint8, M.float16, M.complex64)),
    "meta_storage_type": lambda M: M.ones(2, device="meta").storage_type(),
    "names": lambda M: tuple(sorted(n for n in dir(M) if n.endswith("Storage") and n[0] != "Q" and n != "Storage")),
    "default_storage": lambda M: M.Storage.__name__,
    "subclass": lambda M: (issubclass(M.FloatStorage, M.TypedStorage), M.FloatStorage.__name__),
    "sized": lambda M: (lambda s: (type(s).__name__, len(s), str(s.dtype)[6:], str(s.device)))(M.FloatStorage(3)),
    "empty": lambda M: repr(M.DoubleStorage()).replace("torch.", "M.").replace("ember.", "M."),
    "data": lambda M: (lambda s: (tuple(s.tolist()), repr(s).replace("torch.", "M.").replace("ember.", "M.")))(
        M.LongStorage([1.5, 2])),
    "isinstance": lambda M: (isinstance(M.ones(2).storage(), M.FloatStorage),
                             isinstance(M.ones(2).storage(), M.DoubleStorage),
                             isinstance(M.ones(2).untyped_storage(), M.FloatStorage),
                             isinstance(M.IntStorage(2), M.IntStorage), isinstance(M.IntStorage(2), M.TypedStorage),
                             M.is_storage(M.IntStorage(2))),
    "wrap_storage": lambda M: tuple(M.FloatStorage(wrap_storage=M.tensor([1.0, 2.0]).untyped_storage()).tolist()),
    "tensor_of_storage": lambda M: M.tensor(M.FloatStorage([1, 2])),
    "set_to_storage": lambda M: M.zeros(0).set_(M.FloatStorage([1, 2])),
    "dtype_keyword": lambda M: M.FloatStorage(2, dtype=M.float64),
    "device_keyword": lambda M: M.FloatStorage(2, device="cpu"),
    "two_positionals": lambda M: M.FloatStorage(2, 3),
    "float_size": lambda M: M.FloatStorage(2.5),
    "tensor_arg": lambda M: M.FloatStorage(M.ones(2)),
    "string": lambda M: M.FloatStorage("ab"),
    "overflow": lambda M: M.ByteStorage([300]),
    "wrap_not_untyped": lambda M: M.FloatStorage(wrap_storage=M.ones(2)),
    "wrap_and_positional": lambda M: M.FloatStorage(2, wrap_storage=M.ones(2).untyped_storage()),
}


@requires_torch
@pytest.mark.parametrize("name", list(LEGACY_STORAGE_CASES))
def test_legacy_storages_match_torch(name):
    e, t = _outcome(ember, LEGACY_STORAGE_CASES[name]), _outcome(torch, LEGACY_STORAGE_CASES[name])
    if isinstance(t, tuple) and len(t) == 2 and isinstance(t[0], str) and t[0].endswith("Error"):
        assert isinstance(e, tuple) and e[0] == t[0], (e, t)
        assert e[1].startswith(t[1].split("\n")[0].split(" (")[0][:40]), (e[1], t[1])
        return
    both(lambda M: _outcome(M, LEGACY_STORAGE_CASES[name]))


def test_legacy_storage_classes_warn_and_share_memory():
    with pytest.warns(UserWarning, match="TypedStorage is deprecated"):
        assert ember.ones(2).storage_type() is ember.FloatStorage
    with pytest.warns(UserWarning, match="TypedStorage is deprecated"):
        s = ember.FloatStorage([1, 2, 3])
    t = ember.zeros(0).set_(s)
    t[0] = 10
    assert s[0] == 10.0
    u = ember.arange(2.0).untyped_storage()
    with pytest.warns(UserWarning):
        w = ember.FloatStorage(wrap_storage=u)
    w[1] = 7
    assert u.data_ptr() == w.data_ptr() and w.tolist() == [0.0, 7.0]
    assert repr(ember.cuda.FloatStorage) == "<class 'ember.cuda.FloatStorage'>"
    assert ember.Storage is ember.FloatStorage
    with pytest.raises(RuntimeError, match="negative size -1"), pytest.warns(UserWarning):
        ember.FloatStorage(-1)
