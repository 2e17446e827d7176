"""Higher-order gradients (create_graph=True) and torch.autograd.functional.

Every op whose node declares ``_double_backward`` is differentiated twice and three times against
torch (float64), and the gradient-of-a-gradient is also checked against central differences of
ember's own first derivative.  Ops without a Tensor formula must refuse with a message that names
the node, never return a silently wrong second derivative.
"""
import numpy as np
import pytest

import ember
from tests.conftest import numeric_grad, requires_torch

RNG = np.random.default_rng(0)
X = RNG.uniform(0.3, 1.5, (3, 4))
Y = RNG.uniform(0.3, 1.5, (3, 4))
V = RNG.standard_normal((3, 4))
M = RNG.standard_normal((4, 5))


def _conv_in(t, x, y, c):
    return (x * y).reshape(1, 3, 4).repeat(2, c, 2, 2)


# f(lib, x, y) -> tensor, for x, y of shape (3, 4)
CASES = {
    "add": lambda t, x, y: x * x + y * 2,
    "sub_rsub": lambda t, x, y: (x - y) * (2 - x * y),
    "mul": lambda t, x, y: x * y * x,
    "div": lambda t, x, y: x / y,
    "neg": lambda t, x, y: -(x * y),
    "pow": lambda t, x, y: (x * y) ** 2 + (x * y) ** 3.5,
    "exp": lambda t, x, y: (x * y).exp(),
    "log": lambda t, x, y: (x * y).log(),
    "sin_cos": lambda t, x, y: (x * y).sin() * x.cos(),
    "tanh": lambda t, x, y: (x * y).tanh(),
    "sigmoid": lambda t, x, y: (x * y).sigmoid(),
    "sqrt_rsqrt": lambda t, x, y: (x * y).sqrt() + x.rsqrt(),
    "abs": lambda t, x, y: (x - y).abs() * x,
    "relu": lambda t, x, y: t.relu(x - y) * x,
    "log1p_expm1": lambda t, x, y: (x * y).log1p() * x.expm1(),
    "reciprocal": lambda t, x, y: (x * y).reciprocal(),
    "sinh_cosh_atan": lambda t, x, y: (x * y).sinh() + x.cosh() * y.atan(),
    "sum": lambda t, x, y: (x * y).sum() * x + (x * y).sum(1, keepdim=True) * y,
    "mean": lambda t, x, y: (x * y).mean() * x + (x * y).mean(0) * y,
    "norm": lambda t, x, y: (x * y).norm() * x + (x * y).norm(2, dim=1, keepdim=True) * y,
    "vector_norm_p3": lambda t, x, y: t.linalg.vector_norm(x * y, ord=3, dim=1, keepdim=True) * x,
    "views": lambda t, x, y: (x * y).view(12).reshape(4, 3).t() * y,
    "permute_transpose": lambda t, x, y: (x * y)[None].permute(2, 0, 1) * x.transpose(0, 1)[:, None, :],
    "unsqueeze_expand": lambda t, x, y: (x * y)[:, :1].expand(3, 4).unsqueeze(0).squeeze(0) * x,
    "clone_slice": lambda t, x, y: (x * y).clone()[1:, ::2] * x[:2, 1:3],
    "mm": lambda t, x, y: (x * y) @ t.tensor(M) @ t.tensor(M).T,
    "matmul_batched": lambda t, x, y: t.matmul((x * y).reshape(3, 2, 2), x.reshape(3, 2, 2)),
    "linear": lambda t, x, y: t.tanh(t.nn.functional.linear(x, y, x[:, 0])) ** 2,
    "where_maximum": lambda t, x, y: t.where(x > y, x * y, y) + t.maximum(x, y * 0.9),
    "leaky_relu": lambda t, x, y: t.nn.functional.leaky_relu(x - y, 0.2) * x,
    "elu": lambda t, x, y: t.nn.functional.elu(x - y) * x,
    "softplus_silu": lambda t, x, y: t.nn.functional.softplus((x - y) * 3, beta=2) * t.nn.functional.silu(x - y),
    "softmax": lambda t, x, y: t.softmax(x * y, 1) * x + t.log_softmax(x * y, 0) * y,
    "mse_loss": lambda t, x, y: t.nn.functional.mse_loss(x * x, y) * x + t.nn.functional.mse_loss(x, y * y, reduction="none"),
    "cross_entropy": lambda t, x, y: t.nn.functional.cross_entropy(x * y, t.tensor([1, 0, 3])) * x
    + t.nn.functional.cross_entropy(x * y, t.tensor([1, 0, 3]), label_smoothing=0.1,
                                    weight=t.tensor([1.0, 2, 3, 4], dtype=t.float64)),
    "advanced_index_and_mask": lambda t, x, y: (x * y)[t.tensor([0, 2, 2]), :][:, t.tensor([1, 3])].sum(0)
    * x[0, :2] + (x * x)[x > 1.0].sum(),
    "gather": lambda t, x, y: t.gather(x * y, 1, t.tensor([[0, 2], [1, 1], [3, 0]])) * x[:, :2],
    "cumsum": lambda t, x, y: t.cumsum(x * y, 1) * x,
    "embedding": lambda t, x, y: t.nn.functional.embedding(t.tensor([[0, 2], [2, 1]]), x * y, padding_idx=1)
    + t.nn.functional.embedding(t.tensor([[0, 2], [2, 2]]), x * x, scale_grad_by_freq=True),
    "nll_loss": lambda t, x, y: t.nn.functional.nll_loss(t.log_softmax(x * y, 1), t.tensor([1, 0, 3]), reduction="none"),
    "conv2d": lambda t, x, y: t.nn.functional.conv2d(_conv_in(t, x, y, 2), y[:2, :].reshape(2, 2, 2, 1),
                                                     bias=x[0, :2], stride=2, padding=(1, 0)),
    "conv2d_same_dilated": lambda t, x, y: t.nn.functional.conv2d(_conv_in(t, x, y, 1), x.reshape(1, 3, 2, 2)[:, :1],
                                                                  dilation=(2, 1), padding="same"),
    "conv1d_unbatched": lambda t, x, y: t.nn.functional.conv1d((x * y), y[:2, :3].reshape(2, 3, 1) * x[:2, 0:1, None],
                                                               padding=1),
    "conv_transpose2d": lambda t, x, y: t.nn.functional.conv_transpose2d(_conv_in(t, x, y, 1), x.reshape(1, 3, 2, 2)[:, :2],
                                                                         stride=2, padding=1),
}


def _derivatives(lib, f, third=True):
    x = lib.tensor(X, requires_grad=True)
    y = lib.tensor(Y, requires_grad=True)
    out = f(lib, x, y)
    w = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
    gx, gy = lib.autograd.grad((out * w).sum(), (x, y), create_graph=True)
    s = (gx * lib.tensor(V)).sum() + (gy ** 2).sum()
    hx, hy = lib.autograd.grad(s, (x, y), create_graph=third, allow_unused=True, materialize_grads=True)
    res = [gx, gy, hx, hy]
    if third and hx.requires_grad:
        res.append(lib.autograd.grad(hx.sum(), x)[0])
    return [r.detach().numpy() for r in res]


@requires_torch
@pytest.mark.parametrize("name", list(CASES))
def test_second_and_third_derivatives_match_torch(oracle, name):
    want = _derivatives(oracle, CASES[name])
    got = _derivatives(ember, CASES[name])
    for w, g, what in zip(want, got, ("grad x", "grad y", "2nd x", "2nd y", "3rd x")):
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-9, err_msg=f"{name}: {what}")


@pytest.mark.parametrize("name", ["pow", "tanh", "norm", "softmax", "cross_entropy", "softplus_silu", "linear",
                                  "conv1d_unbatched"])
def test_gradient_of_gradient_matches_central_differences(name):
    f = CASES[name]

    def first(xv, create_graph):
        x = ember.tensor(xv, requires_grad=True)
        out = f(ember, x, ember.tensor(Y))
        w = ember.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
        return x, ember.autograd.grad((out * w).sum(), x, create_graph=create_graph)[0]
    x, g = first(X, True)
    second = ember.autograd.grad((g * ember.tensor(V)).sum(), x)[0].numpy()
    num = numeric_grad(lambda v: float((first(v, False)[1].numpy() * V).sum()), X)
    np.testing.assert_allclose(second, num, rtol=1e-5, atol=1e-6)


@requires_torch
def test_wgan_gradient_penalty_matches_torch(oracle):
    def run(lib):
        lib.manual_seed(0)
        n = lib.nn
        critic = n.Sequential(n.Conv2d(3, 4, 3, stride=2, padding=1), n.LeakyReLU(0.2), n.Flatten(),
                              n.Linear(4 * 4 * 4, 8), n.LeakyReLU(0.2), n.Linear(8, 1))
        real, fake = lib.randn(5, 3, 8, 8), lib.randn(5, 3, 8, 8)
        alpha = lib.rand(5, 1, 1, 1)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        score = critic(mixed)
        grads = lib.autograd.grad(score, mixed, grad_outputs=lib.ones_like(score), create_graph=True,
                                  retain_graph=True)[0]
        penalty = ((grads.reshape(5, -1).norm(2, dim=1) - 1) ** 2).mean()
        loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
        loss.backward()
        return [penalty.detach().numpy()] + [p.grad.numpy() for p in critic.parameters()]
    for w, g in zip(run(oracle), run(ember)):
        np.testing.assert_allclose(g, w, rtol=2e-4, atol=1e-6)


@requires_torch
def test_maml_inner_step_matches_torch(oracle):
    def run(lib):
        lib.manual_seed(1)
        net = lib.nn.Sequential(lib.nn.Linear(3, 6), lib.nn.ReLU(), lib.nn.Linear(6, 2))
        x, y = lib.randn(8, 3), lib.tensor([0, 1] * 4)
        params = list(net.parameters())
        loss = lib.nn.functional.cross_entropy(net(x), y)
        grads = lib.autograd.grad(loss, params, create_graph=True)
        fast = [p - 0.1 * g for p, g in zip(params, grads)]
        h = lib.relu(lib.nn.functional.linear(x, fast[0], fast[1]))
        meta = lib.nn.functional.cross_entropy(lib.nn.functional.linear(h, fast[2], fast[3]), y)
        meta.backward()
        return [meta.detach().numpy()] + [p.grad.numpy() for p in params]
    for w, g in zip(run(oracle), run(ember)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


def test_backward_with_create_graph_leaves_a_differentiable_grad():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.detach().numpy(), [3.0, 12.0, 27.0])
    g = x.grad
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0, 18.0])


def test_custom_function_backward_is_differentiated_again():
    class Cube(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return 3 * x * x * g

    x = ember.tensor([1.0, 2.0], requires_grad=True)
    g, = ember.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    h, = ember.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [6.0, 12.0])


def test_unsupported_node_refuses_with_its_name():
    x = ember.tensor([0.5, 1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="cannot differentiate the backward of CumprodBackward0"):
        ember.autograd.grad(ember.cumprod(x * x, 0).sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="max_pool2d with 2x2 windows tiling the input only"):
        ember.autograd.grad(ember.nn.functional.max_pool2d(x.reshape(1, 1, 1, 3) ** 2, (1, 2)).sum(), x,
                            create_graph=True)
    # a plain first-order pass through the same op is unaffected
    g, = ember.autograd.grad(ember.cumprod(x * x, 0).sum(), x)
    assert g.shape == (3,)


@requires_torch
def test_tensor_hooks_see_graph_gradients(oracle):
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        seen = []
        y.register_hook(lambda g: seen.append(g.requires_grad) or g * 2)
        g, = lib.autograd.grad((y * x).sum(), x, create_graph=True)
        h, = lib.autograd.grad(g.sum(), x)
        return seen, g.detach().numpy(), h.numpy()
    (ts, tg, th), (es, eg, eh) = run(oracle), run(ember)
    assert es == ts == [True, False]   # the hook runs again in the second pass, as in torch
    np.testing.assert_allclose(eg, tg)
    np.testing.assert_allclose(eh, th)


# ---- torch.autograd.functional -----------------------------------------------------------------
def _functional(lib):
    F = lib.autograd.functional
    x = lib.tensor([[1.0, 2.0], [3.0, 0.5]], dtype=lib.float64)
    v = lib.tensor([[0.3, -1.0], [2.0, 0.1]], dtype=lib.float64)

    def f(x):
        return (x ** 2).sum(0) * x[0]

    def s(x):
        return (x ** 3).sum() + (x[0] * x[1]).sum()
    return [F.jacobian(f, x), F.jacobian(lambda a, b: (a * b, a.sum()), (x, x * 2)), F.hessian(s, x),
            F.hessian(lambda a, b: (a * b.exp()).sum(), (x, x.T.contiguous())),
            F.vjp(f, x, lib.tensor([1.0, -1.0], dtype=lib.float64)), F.jvp(f, x, v), F.vhp(s, x, v), F.hvp(s, x, v),
            F.jacobian(lambda x: lib.tanh(x @ x), x, create_graph=True)]


def _flat(o, acc):
    if isinstance(o, (tuple, list)):
        for i in o:
            _flat(i, acc)
    else:
        acc.append(o)
    return acc


@requires_torch
def test_autograd_functional_matches_torch(oracle):
    want, got = _flat(_functional(oracle), []), _flat(_functional(ember), [])
    assert len(got) == len(want)
    for w, g in zip(want, got):
        assert tuple(g.shape) == tuple(w.shape) and g.requires_grad == w.requires_grad
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_autograd_functional_bad_input():
    F = ember.autograd.functional
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        F.jacobian(lambda x: x, [1.0])
    with pytest.raises(RuntimeError, match="single Tensor with a single element"):
        F.vjp(lambda x: x * 2, ember.ones(3))
    with pytest.raises(RuntimeError, match="should contain a single element"):
        F.hessian(lambda x: x * 2, ember.ones(3))


def test_grad_runs_only_the_part_of_the_graph_leading_to_its_inputs():
    # max_pool2d has no double backward, but the gradient w.r.t. its output never needs it
    x = ember.randn(1, 1, 4, 4, requires_grad=True)
    pooled = ember.nn.functional.max_pool2d(x, 2)
    g, = ember.autograd.grad((pooled * pooled).sin().sum(), pooled, create_graph=True)
    assert g.requires_grad
    g.sum().backward()   # first order through max_pool2d, as usual
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    # and a plain grad() leaves hooks of nodes upstream of its inputs alone, as torch does
    calls = []
    x.register_hook(lambda grad: calls.append(1))
    ember.autograd.grad((pooled * 2).sum(), pooled)
    assert calls == []


# ---- images: normalization and pooling layers ------------------------------------------------------
IMG = np.random.default_rng(4).standard_normal((2, 3, 6, 6))
IMAGE_CASES = {
    "batch_norm_train": lambda t, x: t.nn.functional.batch_norm(
        x * x, None, None, t.tensor([1.0, 2, 3], dtype=t.float64), t.tensor([0.5, 0, 1], dtype=t.float64),
        training=True),
    "batch_norm_eval": lambda t, x: t.nn.functional.batch_norm(
        x * x, t.tensor([0.1, 0.2, 0.3], dtype=t.float64), t.tensor([1.0, 2, 3], dtype=t.float64), training=False),
    "layer_norm": lambda t, x: t.nn.functional.layer_norm(
        x.exp(), x.shape[-2:], t.ones(x.shape[-2:], dtype=t.float64) * 1.5, None, 1e-3),
    "group_norm": lambda t, x: t.nn.functional.group_norm(x * x, 3, t.tensor([1.0, 2, 3], dtype=t.float64)),
    "instance_norm": lambda t, x: t.nn.functional.instance_norm(x.sin()),
    "avg_pool2d": lambda t, x: t.nn.functional.avg_pool2d(x.sin(), 3, stride=2, padding=1, count_include_pad=False)
    + t.nn.functional.avg_pool2d(x * x, 4, stride=3, ceil_mode=True)[..., :1, :1],
    "avg_pool_divisor_1d": lambda t, x: t.nn.functional.avg_pool2d(x * x, 2, divisor_override=3)
    + t.nn.functional.avg_pool1d((x * x)[:, :, 0], 2)[:, :, None, :1],
    "adaptive_avg_pool2d": lambda t, x: t.nn.functional.adaptive_avg_pool2d(x * x, (4, 5)).sum((2, 3))
    + t.nn.functional.adaptive_avg_pool2d(x.sin(), 1)[..., 0, 0],
    "max_pool2d": lambda t, x: t.nn.functional.max_pool2d(x * x.sin(), 2),
}


def _image_orders(lib, name, xv, third):
    x = lib.tensor(xv, requires_grad=True)
    out = IMAGE_CASES[name](lib, x)
    w = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
    g, = lib.autograd.grad((out * w).sum(), x, create_graph=True)
    h, = lib.autograd.grad((g * g * x).sum(), x, create_graph=True)
    if not third:
        return g.detach().numpy(), h.detach().numpy()
    return lib.autograd.grad(h.sum(), x)[0].numpy()


@requires_torch
@pytest.mark.parametrize("name", list(IMAGE_CASES))
def test_layers_differentiate_twice_as_torch(oracle, name):
    for w, g in zip(_image_orders(oracle, name, IMG, False), _image_orders(ember, name, IMG, False)):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", list(IMAGE_CASES))
def test_layers_third_derivative_matches_central_differences(name):
    # (against the numbers, not torch: torch's layer/batch/instance norm third derivatives are off here)
    x = IMG[:1, :, :4, :4].copy()
    third = _image_orders(ember, name, x, True)
    num = numeric_grad(lambda v: float(_image_orders(ember, name, v, False)[1].sum()), x)
    np.testing.assert_allclose(third, num, rtol=1e-5, atol=1e-6)


def test_batch_norm_refuses_backward_after_its_input_changed_in_place():
    x = ember.randn(4, 3, requires_grad=True)
    h = x * 2
    out = ember.nn.functional.batch_norm(h, None, None, training=True)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def _square_fn(lib):
    class Square(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 2

        @staticmethod
        def backward(ctx, grad_out):
            x, = ctx.saved_tensors
            return grad_out * 2 * x
    return Square


def _detached_backward_fn(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad_out):
            x, = ctx.saved_tensors
            return grad_out * (3 * x ** 2).detach()  # first derivative right, second one lost
    return Cube


@requires_torch
@pytest.mark.parametrize("case", ["sin", "mul", "square_function", "detached_backward"])
def test_gradgradcheck_matches_torch(case):
    # the "Double Backward with Custom Functions" tutorial calls gradgradcheck; ember raised NotImplementedError
    from tests.conftest import torch

    def run(lib):
        x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
        y = lib.tensor(Y, dtype=lib.float64, requires_grad=True)
        go = lib.tensor(V, dtype=lib.float64, requires_grad=True)
        if case == "sin":
            return lib.autograd.gradgradcheck(lambda a: a.sin(), (x,))
        if case == "mul":
            return lib.autograd.gradgradcheck(lambda a, b: a * b.exp(), (x, y), (go,))
        fn = _square_fn(lib) if case == "square_function" else _detached_backward_fn(lib)
        return lib.autograd.gradgradcheck(fn.apply, (x,), raise_exception=False)
    assert run(ember) == run(torch) == (case != "detached_backward")
