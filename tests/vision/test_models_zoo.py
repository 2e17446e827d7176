"""ember.vision.models beyond ResNet/VGG: parameter counts and state_dict sizes as torchvision's (recorded
here), and, when torchvision can be imported (EMBER_TORCHVISION_PATH names a folder holding it), the same
repr, state_dict keys and shapes, and eval-mode logits after loading torchvision's randomly drawn weights."""

import numpy as np
import pytest

import ember
from ember.vision import models
from tests.conftest import real_torchvision, torch

# name: (torchvision's num_params, state_dict entries, smallest convenient input side[, builder kwargs])
EXPECTED = {
    "alexnet": (61100840, 16, 64),
    "squeezenet1_0": (1248424, 52, 64),
    "squeezenet1_1": (1235496, 52, 64),
    "mobilenet_v2": (3504872, 314, 32),
    "mobilenet_v3_small": (2542856, 244, 32),
    "mobilenet_v3_large": (5483032, 312, 32),
    "densenet121": (7978856, 727, 32),
    "densenet161": (28681000, 967, 32),
    "densenet169": (14149480, 1015, 32),
    "densenet201": (20013928, 1207, 32),
    "shufflenet_v2_x0_5": (1366792, 338, 32),
    "shufflenet_v2_x1_0": (2278604, 338, 32),
    "efficientnet_b0": (5288548, 360, 32),
    "efficientnet_b1": (7794184, 508, 32),
    "googlenet": (6624904, 344, 64, {"aux_logits": False, "init_weights": True}),  # num_params counts no aux
    "resnet101": (44549160, 626, 32),
    "resnet152": (60192808, 932, 32),
    "resnext50_32x4d": (25028904, 320, 32),
    "wide_resnet50_2": (68883240, 320, 32),
    "convnext_tiny": (28589128, 182, 32),
    "vit_b_16": (86567656, 152, 224),  # (its head starts at zero: test_small_vit_as_torchvision checks logits)
    "vgg11_bn": (132868840, 62, 32),  # (a VGG costs ~20 s to build: the others are checked by their features)
}
# VGG variants: (num_params, state_dict entries); the classifier is the same 123,642,856 parameters in all
VGG = {"vgg11_bn": (132868840, 62), "vgg13": (133047848, 26), "vgg13_bn": (133053736, 76),
       "vgg16_bn": (138365992, 97), "vgg19": (143667240, 38), "vgg19_bn": (143678248, 118)}


def _kwargs(name):
    return EXPECTED[name][3] if len(EXPECTED[name]) > 3 else {}


tvm = real_torchvision("torchvision.models")
requires_torchvision = pytest.mark.skipif(tvm is None, reason="torchvision is not importable")


def _weights_enum(name):
    return models.get_model_weights(name)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_shape_and_weights_enum(name):
    params, entries, side = EXPECTED[name][:3]
    ember.manual_seed(0)
    m = models.get_model(name, **_kwargs(name))
    assert sum(p.numel() for p in m.parameters()) == params
    assert len(m.state_dict()) == entries
    w = _weights_enum(name)
    assert w.DEFAULT.meta["num_params"] == params and w.DEFAULT.url.startswith("https://download.pytorch.org/")
    assert w.DEFAULT.transforms().crop_size[0] in (224, 240)
    # the checkpoint's head is checked before anything is built or downloaded
    with pytest.raises(ValueError, match="The parameter 'num_classes' expected value 1000 but got 7 instead."):
        getattr(models, name)(weights="DEFAULT", num_classes=7)
    m.eval()
    with ember.no_grad():
        assert tuple(m(ember.randn(1, 3, side, side)).shape) == (1, 1000)


@requires_torchvision
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_same_as_torchvision(name):
    side = EXPECTED[name][2]
    torch.manual_seed(0)
    ref = getattr(tvm, name)(**_kwargs(name))
    with torch.no_grad():  # non-trivial BatchNorm statistics, as a trained checkpoint has
        for mod in ref.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
    ember.manual_seed(0)
    m = getattr(models, name)(**_kwargs(name))
    assert repr(m) == repr(ref)
    ours = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert list(ours) == list(theirs) and ours == theirs
    result = m.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(0).standard_normal((2, 3, side, side)).astype(np.float32)
    ref.eval()
    m.eval()
    with torch.no_grad(), ember.no_grad():
        want = ref(torch.tensor(x)).numpy()
        got = m(ember.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * max(1.0, np.abs(want).max()))
    m.train()
    out = m(ember.tensor(x))
    (out[0] if isinstance(out, tuple) else out).sum().backward()
    assert all(p.grad is not None for p in m.parameters())


@requires_torchvision
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_weights_enums_as_torchvision(name):
    ours, theirs = _weights_enum(name), tvm.get_model_weights(name)
    assert ours.__name__ == theirs.__name__ and list(ours.__members__) == list(theirs.__members__)
    assert ours.DEFAULT.name == theirs.DEFAULT.name
    for key in ours.__members__:
        a, b = ours[key], theirs[key]
        assert a.url == b.url and repr(a) == repr(b)
        assert a.meta["num_params"] == b.meta["num_params"] and a.meta["min_size"] == b.meta["min_size"]
        assert repr(a.transforms()) == repr(b.transforms())


def test_densenet_loads_torchvision_checkpoint_key_names(tmp_path):
    # the published densenet*.pth files name "denselayer1.norm1" as "denselayer1.norm.1" (pre-0.4 torch)
    ember.manual_seed(0)
    m = models.densenet121(num_classes=10)
    sd = m.state_dict()
    legacy = {k.replace(".norm1.", ".norm.1.").replace(".conv2.", ".conv.2."): v.clone() + 1 for k, v in sd.items()
              if not k.endswith("num_batches_tracked")}  # saved before BatchNorm counted batches
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    path = tmp_path / "densenet.pth"
    ember.save(legacy, path)
    result = m.load_state_dict(ember.load(path))
    assert not result.missing_keys and not result.unexpected_keys
    got = m.state_dict()
    np.testing.assert_array_equal(got["features.denseblock2.denselayer3.conv2.weight"].numpy(),
                                  legacy["features.denseblock2.denselayer3.conv.2.weight"].numpy())
    np.testing.assert_array_equal(got["features.denseblock4.denselayer1.norm1.running_var"].numpy(),
                                  legacy["features.denseblock4.denselayer1.norm.1.running_var"].numpy())


def _randomized_bn(ref):
    with torch.no_grad():  # non-trivial BatchNorm statistics, as a trained checkpoint has
        for mod in ref.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
    return ref


def test_googlenet_aux_logits_and_init_warning():
    with pytest.warns(FutureWarning, match="default weight initialization of GoogleNet"):
        m = models.googlenet()
    assert sum(p.numel() for p in m.parameters()) == 13004888  # with both auxiliary classifiers
    out = m(ember.randn(2, 3, 64, 64))
    assert isinstance(out, models.GoogLeNetOutputs) and out._fields == ("logits", "aux_logits2", "aux_logits1")
    assert all(tuple(o.shape) == (2, 1000) for o in out)
    (out.logits.sum() + 0.3 * (out.aux_logits1.sum() + out.aux_logits2.sum())).backward()
    assert all(p.grad is not None for p in m.parameters())
    m.eval()
    with ember.no_grad():
        assert tuple(m(ember.randn(1, 3, 64, 64)).shape) == (1, 1000)


@requires_torchvision
def test_googlenet_transform_input_and_aux_heads_as_torchvision():
    torch.manual_seed(0)
    ref = _randomized_bn(tvm.googlenet(transform_input=True, init_weights=True))
    m = models.googlenet(transform_input=True, init_weights=True)
    assert repr(m) == repr(ref)
    m.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    ref.eval()
    m.eval()
    with torch.no_grad(), ember.no_grad():
        np.testing.assert_allclose(m(ember.tensor(x)).numpy(), ref(torch.tensor(x)).numpy(), rtol=1e-3, atol=1e-5)
    ref.train()
    m.train()
    for mod in list(ref.modules()) + list(m.modules()):  # the aux heads' dropout draws differ in count
        if type(mod).__name__ == "Dropout":
            mod.p = 0.0
    with torch.no_grad(), ember.no_grad():
        got, want = m(ember.tensor(x)), ref(torch.tensor(x))
    for a, b in zip(got, want):  # batch statistics of 2 images at 2x2 amplify float32 rounding
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-2 * np.abs(b.numpy()).max())


@pytest.mark.parametrize("name", sorted(VGG))
def test_vgg_variants_features(name):
    from ember.vision.models import vgg
    params, entries = VGG[name]
    cfg = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}[name[:5]]
    features = vgg.make_layers(vgg.cfgs[cfg], batch_norm=name.endswith("_bn"))
    assert sum(p.numel() for p in features.parameters()) == params - 123642856
    assert len(features.state_dict()) == entries - 6
    w = models.get_model_weights(name)
    assert w.DEFAULT.meta["num_params"] == params and w.DEFAULT.url.endswith(".pth")
    # the checkpoint's head is checked before anything is built or downloaded
    with pytest.raises(ValueError, match="The parameter 'num_classes' expected value 1000 but got 7 instead."):
        getattr(models, name)(weights="DEFAULT", num_classes=7)
    if tvm is not None:
        from torchvision.models import vgg as tvgg
        assert repr(features) == repr(tvgg.make_layers(tvgg.cfgs[cfg], batch_norm=name.endswith("_bn")))
        assert list(w.__members__) == list(tvm.get_model_weights(name).__members__)
        assert w.DEFAULT.url == tvm.get_model_weights(name).DEFAULT.url


def test_resnext_and_wide_resnet_fix_their_widths():
    with pytest.raises(ValueError, match="'groups' expected value 32 but got 8"):
        models.resnext50_32x4d(groups=8)
    m = models.wide_resnet50_2(num_classes=10)
    assert tuple(m.layer1[0].conv2.weight.shape) == (128, 128, 3, 3)
    assert tuple(models.resnext50_32x4d(num_classes=10).layer1[0].conv2.weight.shape) == (128, 4, 3, 3)


@requires_torchvision
@pytest.mark.parametrize("name", ["convnext_tiny", "efficientnet_b0"])
def test_stochastic_depth_in_training_draws_as_torchvision(name):
    torch.manual_seed(0)
    ref = getattr(tvm, name)(stochastic_depth_prob=0.5)
    m = getattr(models, name)(stochastic_depth_prob=0.5)
    m.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32)
    torch.manual_seed(5)
    ember.manual_seed(5)  # ember draws torch's numbers: the same rows dropped, the same dropout masks
    want = ref(torch.tensor(x)).detach().numpy()
    got = m(ember.tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())
    def probabilities(model):
        return [repr(mod) for mod in model.modules() if type(mod).__name__ == "StochasticDepth"]
    assert probabilities(m) == probabilities(ref) and len(set(probabilities(m))) > 2  # growing with depth


_SMALL_VIT = dict(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128)


def test_small_vit_shapes_and_checks():
    from ember.vision.models.vision_transformer import VisionTransformer
    m = VisionTransformer(**_SMALL_VIT, num_classes=10)
    sd = m.state_dict()
    assert list(sd)[:4] == ["class_token", "conv_proj.weight", "conv_proj.bias", "encoder.pos_embedding"]
    assert tuple(sd["encoder.pos_embedding"].shape) == (1, 17, 64)  # 4x4 patches and the class token
    assert tuple(sd["encoder.layers.encoder_layer_1.self_attention.in_proj_weight"].shape) == (192, 64)
    assert tuple(sd["encoder.layers.encoder_layer_0.mlp.3.weight"].shape) == (64, 128)
    out = m(ember.randn(2, 3, 32, 32))
    assert tuple(out.shape) == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    with pytest.raises(AssertionError, match="Wrong image height! Expected 32 but got 64!"):
        m(ember.randn(1, 3, 64, 32))
    # checkpoints from before MLPBlock's version 2 name its layers linear_1 / linear_2
    old = {k.replace("mlp.0.", "mlp.linear_1.").replace("mlp.3.", "mlp.linear_2."): v for k, v in sd.items()}
    result = m.load_state_dict(old)
    assert not result.missing_keys and not result.unexpected_keys


@requires_torchvision
@pytest.mark.parametrize("extra", [{}, {"representation_size": 32},
                                   {"conv_stem_configs": "stem", "dropout": 0.1, "attention_dropout": 0.1}])
def test_small_vit_as_torchvision(extra):
    from torchvision.models import vision_transformer as tvit
    from ember.vision.models import vision_transformer as evit
    kw = dict(_SMALL_VIT, **extra)
    tkw, ekw = dict(kw), dict(kw)
    if "conv_stem_configs" in kw:
        tkw["conv_stem_configs"] = [tvit.ConvStemConfig(16, 3, 2), tvit.ConvStemConfig(32, 3, 4)]
        ekw["conv_stem_configs"] = [evit.ConvStemConfig(16, 3, 2), evit.ConvStemConfig(32, 3, 4)]
    torch.manual_seed(0)
    ref = _randomized_bn(tvit.VisionTransformer(**tkw))
    with torch.no_grad():
        ref.heads.head.weight.normal_()  # zero at initialization
        ref.class_token.normal_()
    m = evit.VisionTransformer(**ekw)
    assert repr(m) == repr(ref)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    m.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    ref.eval()
    m.eval()
    with torch.no_grad(), ember.no_grad():
        want = ref(torch.tensor(x)).numpy()
        got = m(ember.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-5 * np.abs(want).max())


def test_registry_lists_and_builds_every_model():
    names = models.list_models()
    assert set(EXPECTED) | set(VGG) <= set(names) and len(names) == 80   # torchvision's 80 classifiers
    assert models.list_models(include="resnet*") == ["resnet101", "resnet152", "resnet18", "resnet34", "resnet50"]
    assert "vgg19_bn" not in models.list_models(exclude=["vgg*"])
    from ember.vision.models import densenet
    assert models.list_models(module=densenet) == ["densenet121", "densenet161", "densenet169", "densenet201"]
    assert models.get_weight("ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1").transforms().crop_size == [384]
    assert models.get_weight("EfficientNet_B1_Weights.DEFAULT").meta["num_params"] == 7794184
    assert isinstance(models.get_model("squeezenet1_1", num_classes=5), models.SqueezeNet)
    with pytest.raises(ValueError, match="Unknown model"):
        models.get_model("resnet9")


@requires_torchvision
@pytest.mark.parametrize("name", ["mobilenet_v3_small", "squeezenet1_0"])
def test_training_step_as_torchvision(name):
    # dropout masks drawn from torch's generator, in-place Hardswish then in-place Dropout (MobileNetV3)
    torch.manual_seed(0)
    ref = getattr(tvm, name)()
    m = getattr(models, name)()
    m.load_state_dict({k: ember.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3, 64, 64)).astype(np.float32)
    torch.manual_seed(5)
    ember.manual_seed(5)
    want, got = ref(torch.tensor(x)), m(ember.tensor(x))
    want.square().sum().backward()
    got.square().sum().backward()
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-3,
                               atol=1e-4 * np.abs(want.detach().numpy()).max())
    # a bias followed by training-mode BatchNorm has zero gradient up to rounding: scale atol by the largest
    scale = max(np.abs(q.grad.numpy()).max() for q in ref.parameters())
    for (k, p), q in zip(m.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-2, atol=1e-4 * scale, err_msg=k)
