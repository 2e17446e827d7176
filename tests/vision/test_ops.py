"""ember.vision.ops: torchvision.ops' model building blocks."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.vision import ops
from tests.vision.test_models_zoo import requires_torchvision, torch


def test_stochastic_depth_drops_whole_rows_and_rescales():
    x = ember.ones(64, 3, 2, 2)
    ember.manual_seed(0)
    y = ops.stochastic_depth(x, 0.25, "row").numpy()
    per_row = y.reshape(64, -1)
    assert set(np.unique(per_row).tolist()) <= {0.0, np.float32(1 / 0.75).item()}
    assert (per_row.min(1) == per_row.max(1)).all()  # a row is kept or dropped as a whole
    assert 0 < (per_row[:, 0] == 0).sum() < 64
    y = ops.stochastic_depth(x, 0.5, "batch").numpy()
    assert len(np.unique(y)) == 1
    assert ops.stochastic_depth(x, 0.5, "row", training=False) is x
    assert (ops.stochastic_depth(x, 1.0, "row").numpy() == 0).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        ops.stochastic_depth(x, 1.5, "row")
    with pytest.raises(ValueError, match="'batch' or 'row'"):
        ops.stochastic_depth(x, 0.5, "col")
    m = ops.StochasticDepth(0.2, "row")
    assert repr(m) == "StochasticDepth(p=0.2, mode=row)"
    assert m.eval()(x) is x


def test_stochastic_depth_gradient_follows_the_mask():
    x = ember.randn(8, 4, requires_grad=True)
    ember.manual_seed(1)
    y = ops.stochastic_depth(x, 0.5, "row")
    y.sum().backward()
    kept = (y.detach().numpy() != 0).all(1)
    np.testing.assert_allclose(x.grad.numpy()[:, 0], np.where(kept, 2.0, 0.0))


def test_conv_norm_activation_and_squeeze_excitation():
    c = ops.Conv2dNormActivation(4, 8, kernel_size=3, stride=2, activation_layer=nn.Hardswish)
    assert [type(m).__name__ for m in c] == ["Conv2d", "BatchNorm2d", "Hardswish"]
    assert c[0].padding == (1, 1) and c[0].bias is None and c.out_channels == 8
    c = ops.Conv2dNormActivation(4, 8, kernel_size=5, norm_layer=None, activation_layer=None)
    assert len(c) == 1 and c[0].padding == (2, 2) and c[0].bias is not None
    se = ops.SqueezeExcitation(8, 2)
    x = ember.randn(2, 8, 5, 5)
    with ember.no_grad():
        s = se._scale(x)
        assert tuple(s.shape) == (2, 8, 1, 1) and ((s.numpy() > 0) & (s.numpy() < 1)).all()
        np.testing.assert_allclose(se(x).numpy(), (x * s).numpy(), rtol=1e-6)
    assert list(dict(ops.MLP(4, [8, 3]).named_children())) == ["0", "1", "2", "3", "4"]
    assert tuple(ops.Permute([0, 2, 3, 1])(x).shape) == (2, 5, 5, 8)


@requires_torchvision
def test_same_as_torchvision_ops():
    import torchvision.ops as tops
    x = np.random.default_rng(0).standard_normal((8, 3, 2, 2)).astype(np.float32)
    torch.manual_seed(3)
    want = tops.stochastic_depth(torch.tensor(x), 0.5, "row").numpy()
    ember.manual_seed(3)  # ember draws torch's numbers
    np.testing.assert_allclose(ops.stochastic_depth(ember.tensor(x), 0.5, "row").numpy(), want)
    pairs = [(ops.Conv2dNormActivation(3, 8, 3, 2, groups=1, activation_layer=nn.SiLU),
              tops.Conv2dNormActivation(3, 8, 3, 2, groups=1, activation_layer=torch.nn.SiLU)),
             (ops.SqueezeExcitation(8, 2), tops.SqueezeExcitation(8, 2)),
             (ops.MLP(8, [16, 4], norm_layer=nn.LayerNorm, activation_layer=nn.GELU, dropout=0.1),
              tops.MLP(8, [16, 4], norm_layer=torch.nn.LayerNorm, activation_layer=torch.nn.GELU, dropout=0.1)),
             (ops.Permute([0, 2, 3, 1]), tops.Permute([0, 2, 3, 1]))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
               {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
