"""Torch names ember lacked (the dir() comparison, group 1): in-place comparisons and bitwise ops, shifts,
copysign ... mvlgamma, renorm, the *_scatter ops, index_put / index_reduce, empty_strided, fill, frombuffer,
torch's top-level forms of bilinear / embedding_bag / ctc_loss / max_pool1d_with_indices, and small switches:
values, dtypes, printing, node names and errors against torch; gradients against float64 central differences."""
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch
from tests.ops.test_more_ops import _gradcheck, _grads_vs_torch, both

RNG = np.random.default_rng(23)
X = RNG.standard_normal((3, 4)).astype(np.float32)
Y = RNG.standard_normal((3, 4)).astype(np.float32)
P = RNG.uniform(0.5, 3.0, (3, 4)).astype(np.float32)
I = np.array([[3, -8, 5, 0], [7, 12, -1, 2]])
J = np.array([[1, 2, 0, 3], [6, 4, 5, 1]])
_B2 = np.stack([Y, X]).transpose(0, 2, 1)[:, :, :3].copy()


def T(M, a, **kw):
    return M.tensor(a, **kw)


def _inplace_compares(M):
    outs = []
    for name in ("eq_", "ne_", "lt_", "le_", "gt_", "ge_", "greater_", "greater_equal_", "less_", "less_equal_",
                 "not_equal_", "logical_and_", "logical_or_", "logical_xor_"):
        outs.append(getattr(T(M, X), name)(T(M, Y)))
        outs.append(getattr(T(M, I), name)(T(M, J)))
    outs.append(T(M, X).lt_(0.5))
    return tuple(outs)


def _inplace_bitwise(M):
    outs = []
    for name in ("bitwise_and_", "bitwise_or_", "bitwise_xor_", "bitwise_left_shift_", "bitwise_right_shift_"):
        outs.append(getattr(T(M, I), name)(T(M, J)))
    outs.append(T(M, I).bitwise_not_())
    outs.append(T(M, [True, False]).bitwise_not_())
    a = T(M, I)
    a <<= 2
    b = T(M, I)
    b >>= 1
    return tuple(outs) + (a, b)


FORWARD = {
    "inplace_compare": _inplace_compares,
    "inplace_bitwise": _inplace_bitwise,
    "shifts": lambda M: (M.bitwise_left_shift(T(M, I), T(M, J)), T(M, I).bitwise_right_shift(2), T(M, I) << 3,
                         T(M, I) >> T(M, J), M.bitwise_left_shift(T(M, [3], dtype=M.uint8), 7),
                         M.bitwise_right_shift(T(M, I, dtype=M.int32), 1)),
    "absolute_cumprod_swap": lambda M: (T(M, X).absolute_(), T(M, X).cumprod_(1), T(M, X).swapaxes_(0, 1),
                                        T(M, X).swapdims_(1, 0), T(M, I).absolute_()),
    "addmv_addbmm_addr": lambda M: (T(M, X[0, :3]).addmv_(T(M, X), T(M, Y[0]), beta=0.5, alpha=2),
                                    M.addmv_(T(M, X[0, :3]), T(M, X), T(M, Y[0])),
                                    T(M, X[:, :3]).addbmm_(T(M, np.stack([X, Y])), T(M, _B2)),
                                    M.addr(T(M, X), T(M, Y[:, 0]), T(M, Y[0]), beta=2, alpha=0.5),
                                    T(M, X).addr(T(M, Y[:, 0]), T(M, Y[0])), T(M, X).addr_(T(M, Y[:, 0]), T(M, Y[0])),
                                    M.addr(T(M, [[1, 2], [3, 4]]), T(M, [1, 2]), T(M, [3, 4]), beta=2)),
    "copysign": lambda M: (M.copysign(T(M, X), T(M, Y)), T(M, X).copysign(-1.0), M.copysign(T(M, [1, -2]), 3),
                           T(M, X).copysign_(T(M, Y[0])), M.copysign(T(M, [0.0, -0.0]), T(M, [-1.0, 1.0]))),
    "frexp": lambda M: (M.frexp(T(M, X * 100)), T(M, [0.0, 1.0, -0.75, 1e-40, float("inf")]).frexp(),
                        M.frexp(T(M, X, dtype=M.float64))),
    "gcd_lcm": lambda M: (M.gcd(T(M, I), T(M, J)), T(M, I).lcm(T(M, J)), T(M, I).gcd_(T(M, J)),
                          M.lcm_(T(M, I), T(M, J)),
                          M.gcd_(T(M, I), T(M, J))),
    "ldexp": lambda M: (M.ldexp(T(M, X), T(M, J[0])), T(M, X).ldexp(T(M, [3])), M.ldexp(T(M, [1, 2]), T(M, [2, 3])),
                        T(M, X).ldexp_(T(M, J[0])), M.ldexp_(T(M, X), T(M, [1]))),
    "nextafter": lambda M: (M.nextafter(T(M, X), T(M, Y)), T(M, [1.0, 0.0], dtype=M.float64).nextafter(
        T(M, [2.0, -1.0], dtype=M.float64)), T(M, X).nextafter_(T(M, Y))),
    "i0_igamma_mvlgamma": lambda M: (M.i0(T(M, X)), T(M, X).i0(), T(M, X).i0_(), M.i0_(T(M, X)),
                                     M.igamma(T(M, P), T(M, P[::-1].copy())), T(M, P).igammac(T(M, Y ** 2)),
                                     T(M, P).igamma_(T(M, P)), T(M, P).igammac_(T(M, P)),
                                     M.mvlgamma(T(M, P + 1), 2), T(M, P + 1).mvlgamma(3), T(M, P + 2).mvlgamma_(2),
                                     M.special.i0(T(M, X))),
    "renorm": lambda M: (M.renorm(T(M, X), 2, 0, 1.0), T(M, X).renorm(1, 1, 1.5), T(M, X).renorm_(3, 0, 0.5),
                         M.renorm(T(M, X), float("inf"), 1, 0.7)),
    "predicates": lambda M: (T(M, [3]).is_nonzero(), M.is_same_size(T(M, X), T(M, Y)), T(M, X).is_same_size(T(M, I)),
                             T(M, X).is_signed(), M.is_signed(T(M, [1], dtype=M.uint8)), T(M, [True]).is_signed(),
                             M.isreal(T(M, X)), T(M, I).isreal(), M.is_inference(T(M, X)), T(M, X).is_inference(),
                             M.is_inference_mode_enabled(), M.get_device(T(M, X)), T(M, X).get_device()),
    "split_stack": lambda M: (M.row_stack([T(M, X), T(M, Y)]), M.split_with_sizes(T(M, X), [1, 3], 1),
                              T(M, X).split_with_sizes([2, 1]), M.unsafe_chunk(T(M, X), 2, 1),
                              T(M, X).unsafe_split(2), M.unsafe_split_with_sizes(T(M, X), [3, 1], 1),
                              T(M, X).unsafe_chunk(3)),
    "scatters": lambda M: (M.slice_scatter(T(M, X), T(M, Y[:, :2]), 1, 0, 4, 2),
                           T(M, X).slice_scatter(T(M, Y[1:]), 0, 1),
                           M.select_scatter(T(M, X), T(M, Y[0]), 0, -1), T(M, X).select_scatter(T(M, Y[:, 0]), 1, 2),
                           M.diagonal_scatter(T(M, X), T(M, Y[0, :3])), T(M, X).diagonal_scatter(T(M, Y[0, :2]), 2),
                           M.diagonal_scatter(T(M, X), T(M, Y[0, :2]), -1),
                           M.diagonal_scatter(T(M, np.stack([X, Y])), T(M, X[:, :2]), 0, 0, 2)),
    "index_put": lambda M: (M.index_put(T(M, X), (T(M, [0, 2, 0]), T(M, [1, 1, 1])), T(M, 5.0)),
                            M.index_put(T(M, X), (T(M, [0, 2, 0]), T(M, [1, 1, 1])), T(M, [1.0, 2, 3]), True),
                            T(M, X).index_put((T(M, X) > 0,), T(M, 0.0)), T(M, X).index_put_((T(M, [1]),), T(M, Y[0])),
                            M.index_put_(T(M, I), (T(M, [0, 0]), T(M, [3, 3])), T(M, [1, 2]), accumulate=True),
                            T(M, X).index_put((T(M, [2, 0]),), T(M, Y[:2]))),
    "index_reduce": lambda M: tuple(
        M.index_reduce(T(M, X), 1, T(M, [0, 2, 0]), T(M, Y[:, :3]), r, include_self=inc)
        for r in ("prod", "mean", "amax", "amin") for inc in (True, False)) + (
        T(M, X).index_reduce_(0, T(M, [2, 2]), T(M, Y[:2]), "amax"),
        T(M, I).index_reduce(0, T(M, [1]), T(M, J[:1]), "mean")),
    "fill_detach": lambda M: (M.fill(T(M, X), 2.5), M.fill(T(M, I), T(M, 3)), M.detach(T(M, X)),
                              M.fill(T(M, [True, False]), 0)),
    "empty_strided": lambda M: tuple(
        (t.shape, t.stride(), str(t.dtype).split(".")[1], t.is_contiguous()) for t in (
            M.empty_strided((2, 3), (1, 2)), M.empty_strided((2, 3), (3, 1), dtype=M.float64),
            T(M, I).new_empty_strided((4,), (2,)), M.empty_strided((0, 3), (3, 1)))),
}
_W3 = np.random.default_rng(1).standard_normal((2, 4, 4)).astype(np.float32)
_LP = np.log(np.random.default_rng(2).dirichlet(np.ones(5), (6, 2))).astype(np.float32)
FORWARD["top_level_nn"] = lambda M: (
    M.bilinear(T(M, X), T(M, Y), T(M, _W3), T(M, _W3[:, 0, 0].copy())),
    M.max_pool1d_with_indices(T(M, X[None]), 2), M.max_pool1d_with_indices(T(M, X[None]), 3, 1, 1),
    M.ctc_loss(T(M, _LP), T(M, [[1, 2], [3, 3]]), [6, 5], [2, 2], 0, 0, False),
    M.ctc_loss(T(M, _LP), T(M, [[1, 2], [3, 3]]), [6, 5], [2, 2]),
    M.ctc_loss(T(M, _LP), T(M, [[1, 2], [3, 3]]), [6, 5], [2, 2], 0, 2, True)) + tuple(
    M.embedding_bag(T(M, P), T(M, [0, 1, 2, 2]), T(M, [0, 1]), False, mode) for mode in (0, 1, 2))


@requires_torch
@pytest.mark.parametrize("name", list(FORWARD))
def test_forward_matches_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch: index_reduce is in beta
        both(FORWARD[name])


GRADS = {
    "copysign": (lambda M, x, y: (M.copysign(x, y), x.copysign(-2.0)), [X, Y]),
    "ldexp": (lambda M, x: M.ldexp(x, M.tensor([1, 3, 0, 2])), [X]),
    "addr": (lambda M, i, a, b: M.addr(i, a, b, beta=0.5, alpha=2), [X, Y[:, 0], Y[0]]),
    "renorm": (lambda M, x: (M.renorm(x, 2, 0, 1.0), x.renorm(1, 1, 1.5), x.renorm(3, 0, 0.5)), [X]),
    "renorm_inf": (lambda M, x: M.renorm(x, float("inf"), 1, 0.7), [X]),
    "scatters": (lambda M, x, y: (M.slice_scatter(x, y[:, :2], 1, 0, 4, 2), M.select_scatter(x, y[0], 0, 1),
                                  M.diagonal_scatter(x, y[0, :2], 2), x.diagonal_scatter(y[1, :3])), [X, Y]),
    "index_put": (lambda M, x, v: (M.index_put(x, (M.tensor([0, 2, 0]), M.tensor([1, 1, 1])), v[0, :3], True),
                                   x.index_put((M.tensor([1, 2]),), v[:1])), [X, Y]),
    "index_reduce": (lambda M, x, s: M.index_reduce(x, 1, M.tensor([0, 2, 1]), s[:, :3], "prod"), [P, P]),
    "i0_mvlgamma": (lambda M, x, p: (M.i0(x), M.mvlgamma(p + 1, 2)), [X, P]),
}
_NAMES_DIFFER = {"index_reduce": "torch's IndexReduceBackward0 is ember's ScatterReduceBackward0 (the same formula)",
                 "i0_mvlgamma": "ember's mvlgamma is a sum of lgammas (AddBackward0), torch's one MvlgammaBackward0"}


@pytest.mark.parametrize("name", list(GRADS))
def test_gradcheck(name):
    f, arrays = GRADS[name]
    _gradcheck(lambda *xs: f(ember, *xs), *arrays)


def test_igamma_gradient_in_x():
    # torch differentiates igamma / igammac in their second argument only
    _gradcheck(lambda a, x: (ember.igamma(a, x), a.igammac(x)), P, P[::-1].copy(), diff=[1])


@requires_torch
@pytest.mark.parametrize("name", [n for n in GRADS if n not in _NAMES_DIFFER])
def test_gradients_and_nodes_match_torch(name):
    f, arrays = GRADS[name]
    _grads_vs_torch(f, [np.ascontiguousarray(a, dtype=np.float32) for a in arrays])


@requires_torch
def test_fill_and_inplace_graphs_match_torch():
    for M in (ember, torch):
        x = M.tensor(X, requires_grad=True)
        y = x * 2
        f = M.fill(y, 3.0)
        assert f.grad_fn.name() == "FillBackward0"
        f.sum().backward()
        assert np.all(x.grad.numpy() == 0)
        z = x * 1
        z.index_put_((M.tensor([0]),), M.tensor(1.0))
        z.sum().backward()


ERRORS = {
    "shift_float": (lambda M: M.bitwise_left_shift(T(M, X), 1), NotImplementedError, "not implemented for 'Float'"),
    "gcd_float": (lambda M: M.gcd(T(M, X), T(M, X)), NotImplementedError, "not implemented for 'Float'"),
    "frexp_int": (lambda M: M.frexp(T(M, [1, 2])), RuntimeError, "frexp() only supports floating-point"),
    "split_sizes": (lambda M: M.split_with_sizes(T(M, X), [1, 1]), RuntimeError, "split_with_sizes expects"),
    "slice_scatter_shape": (lambda M: M.slice_scatter(T(M, X), T(M, Y), 1, 0, 2), RuntimeError,
                            "expected src to have a size equal to the slice of self"),
    "index_put_dtype": (lambda M: M.index_put(T(M, X), (T(M, [0]),), T(M, [1])), RuntimeError,
                        "Index put requires the source and destination dtypes match"),
    "index_reduce_mode": (lambda M: M.index_reduce(T(M, X), 0, T(M, [0]), T(M, X[:1]), "sum"), RuntimeError,
                          "reduce"),
    "is_nonzero": (lambda M: T(M, X).is_nonzero(), RuntimeError, "more than one value is ambiguous"),
    "renorm_p": (lambda M: M.renorm(T(M, X), 0, 0, 1.0), RuntimeError, "renorm"),
    "frombuffer_size": (lambda M: M.frombuffer(bytearray(b"abc"), dtype=M.int32), ValueError, "buffer length"),
}


@requires_torch
@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    f, exc, text = ERRORS[name]
    for M in (ember, torch):
        with pytest.raises(exc) as info:
            f(M)
        assert text in str(info.value), (M.__name__, str(info.value))


def test_frombuffer_shares_memory():
    buf = bytearray(np.arange(4, dtype=np.float32).tobytes())
    t = ember.frombuffer(buf, dtype=ember.float32, count=2, offset=4)
    assert t.tolist() == [1.0, 2.0]
    t[0] = 7
    assert np.frombuffer(buf, dtype=np.float32)[1] == 7
    with pytest.warns(UserWarning, match="not writable"):
        r = ember.frombuffer(b"\x01\x00", dtype=ember.int16)
    assert r.tolist() == [1]


def test_inference_mode_state():
    assert not ember.is_inference_mode_enabled()
    with ember.inference_mode():
        assert ember.is_inference_mode_enabled() and not ember.is_grad_enabled()
        with ember.inference_mode(False):
            assert not ember.is_inference_mode_enabled()
        assert ember.is_inference_mode_enabled()

    @ember.inference_mode()
    def f():
        return ember.is_inference_mode_enabled()
    assert f() and not ember.is_inference_mode_enabled()


_INFERENCE_USES = {
    "version": lambda L, z, w: z._version,
    "add (saves nothing)": lambda L, z, w: (z + w).sum().backward(),
    "mul (saves z)": lambda L, z, w: z * w,
    "linear (saves z)": lambda L, z, w: L.nn.functional.linear(z[None], L.ones(3, 2, requires_grad=True)),
    "add_": lambda L, z, w: z.add_(1), "mul_": lambda L, z, w: z.mul_(2), "copy_": lambda L, z, w: z.copy_(w),
    "fill_": lambda L, z, w: z.fill_(3), "zero_": lambda L, z, w: z.zero_(), "normal_": lambda L, z, w: z.normal_(),
    "relu_": lambda L, z, w: z.relu_(), "setitem": lambda L, z, w: z.__setitem__(0, 5.0),
    "view add_": lambda L, z, w: z[:1].add_(1), "requires_grad_": lambda L, z, w: z.requires_grad_(),
    "clone": lambda L, z, w: (z.clone() * w).sum().backward(),
    "no_grad add_": lambda L, z, w: _under(L.no_grad(), lambda: z.add_(1)),
    "no_grad mul": lambda L, z, w: _under(L.no_grad(), lambda: z * w),
    "inside add_": lambda L, z, w: _under(L.inference_mode(), lambda: z.add_(1)),
}


def _under(mode, fn):
    with mode:
        return fn()


@requires_torch
@pytest.mark.parametrize("use", sorted(_INFERENCE_USES))
def test_inference_tensors_match_torch(use):
    # a tensor made in inference_mode is an inference tensor: outside the mode it can be neither saved for
    # backward nor changed in place (ember refuses before writing anything)
    outcomes = []
    for L in (ember, torch):
        with L.inference_mode():
            z = L.ones(2)
            assert z.is_inference() and L.is_inference(z) and z[:1].is_inference() and z.detach().is_inference()
            assert not (z * 2).requires_grad
        assert not z.clone().is_inference() and not (z + 1).is_inference()
        w = L.ones(2, requires_grad=True)
        try:
            _INFERENCE_USES[use](L, z, w)
            outcomes.append("ok")
        except RuntimeError as e:
            outcomes.append(str(e).split(".")[0])
            if L is ember:
                assert z.tolist() == [1.0, 1.0]   # nothing written
    assert outcomes[0] == outcomes[1]
    # a tensor made outside the mode stays a normal tensor, its views made inside the mode too
    x = ember.ones(2)
    with ember.inference_mode():
        assert not x[:1].is_inference()
        x.add_(1)
    assert x.tolist() == [2.0, 2.0] and x._version == 1


def test_switches():
    assert ember.vmap is ember.func.vmap
    # (True where the switch exists: tests/test_flush_denormal.py)
    assert isinstance(ember.set_flush_denormal(False), bool)
    prev = ember.get_default_dtype()
    try:
        with pytest.warns(UserWarning, match="set_default_tensor_type\\(\\) is deprecated"):
            ember.set_default_tensor_type(ember.DoubleTensor)
        assert ember.ones(1).dtype is ember.float64
        with pytest.warns(UserWarning):
            ember.set_default_tensor_type("torch.FloatTensor")
        assert ember.ones(1).dtype is ember.float32
        with pytest.warns(UserWarning), pytest.raises(TypeError):
            ember.set_default_tensor_type(ember.LongTensor)
    finally:
        ember.set_default_dtype(prev)
