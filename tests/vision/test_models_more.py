"""The classification models added after the first zoo: the rest of the ConvNeXt, EfficientNet (B2-B7, V2), ResNeXt /
Wide ResNet-101, ShuffleNetV2 and ViT families, and Inception v3, MNASNet, RegNet, Swin (V1, V2) and MaxViT.

Without torchvision: every builder's parameter and state_dict entry counts (torchvision's published figures, which
its weights' meta also carries), forward shapes and backward of each family's smallest member, the Swin shift
mask, relative position index and window attention against a loop-by-loop NumPy reference (and float64
central differences), MaxViT's partitions, RegNet's stage tables, MNASNet's version-1 checkpoints, and a
weights= download. With torchvision (EMBER_TORCHVISION_PATH): the same repr, state_dict keys, shapes and
computed buffers, and, after loading torchvision's randomly drawn weights, the same eval-mode logits (and
gradients where new ops are involved).
"""
import contextlib
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember.vision import models
from tests.conftest import numeric_grad, real_torchvision, torch
from tests.hub_fixture import hub_home, http_server, sha256  # noqa: F401 (fixtures)

tvm = real_torchvision("torchvision.models")
requires_torchvision = pytest.mark.skipif(tvm is None, reason="torchvision is not importable")

# name: (torchvision's num_params, state_dict entries)
NEW = {
    "convnext_small": (50223688, 344), "convnext_base": (88591464, 344), "convnext_large": (197767336, 344),
    "efficientnet_b2": (9109994, 508), "efficientnet_b3": (12233232, 574), "efficientnet_b4": (19341616, 706),
    "efficientnet_b5": (30389784, 854), "efficientnet_b6": (43040704, 986), "efficientnet_b7": (66347960, 1200),
    "efficientnet_v2_s": (21458488, 782), "efficientnet_v2_m": (54139356, 1120),
    "efficientnet_v2_l": (118515272, 1548),
    "resnext101_32x8d": (88791336, 626), "resnext101_64x4d": (83455272, 626), "wide_resnet101_2": (126886696, 626),
    "shufflenet_v2_x1_5": (3503624, 338), "shufflenet_v2_x2_0": (7393996, 338),
    "vit_b_32": (88224232, 152), "vit_l_16": (304326632, 296), "vit_l_32": (306535400, 296),
    "vit_h_14": (632045800, 392),
    "inception_v3": (27161264, 580),
    "mnasnet0_5": (2218512, 314), "mnasnet0_75": (3170208, 314), "mnasnet1_0": (4383312, 314),
    "mnasnet1_3": (6282256, 314),
    "regnet_x_400mf": (5495976, 428), "regnet_x_800mf": (7259656, 320), "regnet_x_1_6gf": (9190136, 356),
    "regnet_x_3_2gf": (15296552, 482), "regnet_x_8gf": (39572648, 446), "regnet_x_16gf": (54278536, 428),
    "regnet_x_32gf": (107811560, 446),
    "regnet_y_400mf": (4344144, 384), "regnet_y_800mf": (6432512, 340), "regnet_y_1_6gf": (11202430, 626),
    "regnet_y_3_2gf": (19436338, 494), "regnet_y_8gf": (39381472, 406), "regnet_y_16gf": (83590140, 428),
    "regnet_y_32gf": (145046770, 472), "regnet_y_128gf": (644812894, 626),
    "swin_t": (28288354, 185), "swin_s": (49606258, 353), "swin_b": (87768224, 353),
    "swin_v2_t": (28351570, 233), "swin_v2_s": (49737442, 449), "swin_v2_b": (87930848, 449),
    "maxvit_t": (30919624, 582),
}
# over 150 M parameters: building one fills 0.8-2.6 GB
BIG = {"convnext_large", "vit_l_16", "vit_l_32", "vit_h_14", "regnet_y_128gf"}


def _names(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in names]


@contextlib.contextmanager
def _zero_init():
    """Build without drawing random numbers: ember draws torch's own sequence (about 1 s per 20 M values), which
    checks of names, shapes and counts, and models about to receive torchvision's weights, do not need."""
    from ember.ops import creation
    real = creation._random_fill

    def zero_fill(self, draw, node_cls, p=None, in_memory_order=True):
        self._data[...] = 0
        return self
    creation._random_fill = zero_fill
    try:
        yield
    finally:
        creation._random_fill = real


def _build(name, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # inception_v3's init_weights notice
        return getattr(models, name)(**kwargs)


def _tv_meta(name):
    """torchvision's model on the meta device (no memory, no draws); RegNet's stage table needs real numbers."""
    from torchvision.models import regnet as tv_regnet
    real = tv_regnet.BlockParams.from_init_params.__func__

    def on_cpu(cls, *a, **k):
        with torch.device("cpu"):
            return real(cls, *a, **k)
    tv_regnet.BlockParams.from_init_params = classmethod(on_cpu)
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return getattr(tvm, name)()
    finally:
        tv_regnet.BlockParams.from_init_params = classmethod(real)


@pytest.mark.parametrize("name", _names(NEW))
def test_builder_counts_and_structure(name):
    params, entries = NEW[name]
    with _zero_init():
        m = _build(name)
    assert sum(p.numel() for p in m.parameters()) == params
    sd = m.state_dict()
    assert len(sd) == entries
    enum = models.get_model_weights(name)
    assert models.get_model_builder(name) is getattr(models, name)
    # the weights' meta carries torchvision's count (ViT-H/14's default E2E weights are for 518x518 inputs)
    assert params in {w.meta["num_params"] for w in enum}
    if name != "vit_h_14":
        assert enum.DEFAULT.meta["num_params"] == params
    if tvm is not None:
        ref = _tv_meta(name)
        assert repr(m) == repr(ref)
        theirs = ref.state_dict()
        assert [(k, tuple(v.shape)) for k, v in sd.items()] == [(k, tuple(v.shape)) for k, v in theirs.items()]


def _weights_enums():
    return sorted({models.get_model_weights(n).__name__ for n in NEW})


@pytest.mark.parametrize("enum_name", _weights_enums())
def test_weights_enums(enum_name):
    ours = getattr(models, enum_name)
    default = ours.DEFAULT
    assert all(w.url.startswith("https://download.pytorch.org/models/") and w.url.endswith(".pth") for w in ours)
    assert len(default.meta["categories"]) == 1000
    t = default.transforms()
    assert t.crop_size == [default.meta.get("crop_size", 224)]
    assert t.resize_size == [default.meta.get("resize_size", 256)]
    builder = next(n for n in NEW if models.get_model_weights(n) is ours)
    # the checkpoint's head is checked before anything is built or downloaded
    with pytest.raises(ValueError, match="The parameter 'num_classes' expected value 1000 but got 7 instead."):
        getattr(models, builder)(weights="DEFAULT", num_classes=7)
    if tvm is not None:
        theirs = getattr(tvm, enum_name)
        assert list(ours.__members__) == list(theirs.__members__) and default.name == theirs.DEFAULT.name
        for key in ours.__members__:
            a, b = ours[key], theirs[key]
            assert a.url == b.url and repr(a) == repr(b)
            assert a.meta["num_params"] == b.meta["num_params"] and a.meta["min_size"] == b.meta["min_size"]
            assert a.meta["categories"] == b.meta["categories"]
            assert repr(a.transforms()) == repr(b.transforms())


def test_registry_and_builders():
    names = models.list_models()
    assert set(NEW) <= set(names)
    for name in NEW:
        assert models.get_model_builder(name.upper()) is getattr(models, name)
    with pytest.raises(ValueError, match="Unknown model resnet9"):
        models.get_model_builder("resnet9")
    from ember.vision.models import regnet, swin_transformer
    assert len(models.list_models(module=regnet)) == 15
    assert models.list_models(module=swin_transformer) == ["swin_b", "swin_s", "swin_t", "swin_v2_b", "swin_v2_s",
                                                           "swin_v2_t"]
    assert models.list_models(include="efficientnet_v2*") == ["efficientnet_v2_l", "efficientnet_v2_m",
                                                              "efficientnet_v2_s"]
    assert isinstance(models.get_model("MNASNet0_5", num_classes=3), models.MNASNet)
    assert models.get_weight("Swin_V2_T_Weights.DEFAULT").transforms().crop_size == [256]
    # the only weights of these two are SWAG ones: legacy pretrained=True has nothing to mean
    for name in ("regnet_y_128gf", "vit_h_14"):
        with pytest.raises(ValueError, match=f"No weights available for model {name}"):
            getattr(models, name)(pretrained=True)
    with pytest.raises(ValueError, match="The parameter 'groups' expected value 64 but got 32 instead."):
        models.resnext101_64x4d(groups=32)
    with pytest.raises(TypeError, match="efficientnet_v2_s\\(\\) got multiple values for keyword argument"):
        models.efficientnet_v2_s(norm_layer=ember.nn.BatchNorm2d)


# ---- each family's smallest member: forward, backward, and torchvision's logits ----------------------------------

_SMALL_MAXVIT = dict(input_size=(64, 64), stem_channels=16, partition_size=2, block_channels=[16, 32, 64, 64],
                     block_layers=[1, 2, 1, 1], head_dim=8, stochastic_depth_prob=0.2)
# name: (builder kwargs, input side, compare gradients too)
CASES = {
    "shufflenet_v2_x1_5": ({}, 32, False),
    "mnasnet0_5": ({}, 32, False),
    "regnet_x_400mf": ({}, 32, False),
    "regnet_y_400mf": ({}, 32, False),
    "efficientnet_b2": ({}, 32, False),
    "efficientnet_v2_s": ({}, 32, False),  # FusedMBConv
    "vit_b_32": ({"image_size": 64}, 64, False),
    "inception_v3": ({"aux_logits": False, "init_weights": True}, 75, False),  # its smallest input
    "swin_t": ({}, 64, True),  # 16x16 tokens: padded to 21x21 windows of 7, shifted; 8x8 padded to 14, shifted
    "swin_v2_t": ({}, 96, True),  # 24x24 tokens in 8x8 windows, shifted; 12x12 padded to 16
    "maxvit": (_SMALL_MAXVIT, 64, True),  # maxvit_t's layers at partition size 2 (maxvit_t needs 224x224)
}


def _ember_model(name, kwargs):
    if name == "maxvit":
        from ember.vision.models.maxvit import MaxVit
        return MaxVit(**kwargs)
    return _build(name, **kwargs)


def _tv_model(name, kwargs):
    if name == "maxvit":
        from torchvision.models.maxvit import MaxVit
        return MaxVit(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return getattr(tvm, name)(**kwargs)


def _to_ember(state_dict):
    out = OrderedDict((k, ember.tensor(v.numpy())) for k, v in state_dict.items())
    out._metadata = state_dict._metadata  # MNASNet reads its version from it
    return out


def _randomized(ref):
    with torch.no_grad():  # a trained checkpoint's BatchNorm statistics, and no head that starts at zero
        for mod in ref.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
        for name, p in ref.named_parameters():
            if name.endswith("heads.head.weight") or name == "class_token":
                p.normal_(std=0.02)
    return ref


def _input(side, batch=2):
    return np.random.default_rng(0).standard_normal((batch, 3, side, side)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(CASES))
def test_smallest_member_forward_backward(name):
    kwargs, side, _ = CASES[name]
    ember.manual_seed(0)
    m = _ember_model(name, kwargs)  # ember's own initialization
    x = ember.tensor(_input(side))
    m.eval()
    with ember.no_grad():
        out = m(x)
    assert tuple(out.shape) == (2, 1000) and np.isfinite(out.numpy()).all()
    m.train()
    out = m(x)
    assert tuple(out.shape) == (2, 1000)
    out.square().mean().backward()
    missing = [k for k, p in m.named_parameters() if p.grad is None]
    assert not missing
    # the head's bias receives the batch sum of d(mean(out**2))/d(out) = 2 * out / out.numel()
    head = [mod for mod in m.modules() if isinstance(mod, ember.nn.Linear)][-1]
    if head.bias is not None:
        want = 2 * out.detach().numpy().sum(0) / out.numel()
        np.testing.assert_allclose(head.bias.grad.numpy(), want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


@requires_torchvision
@pytest.mark.parametrize("name", sorted(CASES))
def test_smallest_member_as_torchvision(name):
    kwargs, side, grads = CASES[name]
    torch.manual_seed(0)
    ref = _randomized(_tv_model(name, kwargs))
    with _zero_init():
        m = _ember_model(name, kwargs)
    ours, theirs = m.state_dict(), ref.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.items()] == [(k, tuple(v.shape)) for k, v in theirs.items()]
    # the buffers ember computes itself (relative position tables) before torchvision's overwrite them
    for k, v in theirs.items():
        if "relative_position_index" in k or "relative_coords_table" in k:
            np.testing.assert_allclose(ours[k].numpy(), v.numpy(), rtol=1e-6, atol=0, err_msg=k)
    result = m.load_state_dict(_to_ember(theirs))
    assert not result.missing_keys and not result.unexpected_keys
    x = _input(side)
    ref.eval()
    m.eval()
    want = ref(torch.tensor(x))
    got = m(ember.tensor(x))
    w = want.detach().numpy()
    np.testing.assert_allclose(got.detach().numpy(), w, rtol=1e-4, atol=1e-4 * np.abs(w).max())
    if grads:  # eval-mode backward: no random draws, so the gradients must agree too
        want.square().sum().backward()
        got.square().sum().backward()
        scale = max(q.grad.abs().max().item() for q in ref.parameters())
        for (k, p), q in zip(m.named_parameters(), ref.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-3, atol=1e-4 * scale, err_msg=k)
        # training: ember draws torch's numbers, so stochastic depth drops the same rows in the same blocks
        ref.train()
        m.train()
        x = _input(side, batch=4)
        torch.manual_seed(5)
        ember.manual_seed(5)
        with torch.no_grad(), ember.no_grad():
            w = ref(torch.tensor(x)).numpy()
            np.testing.assert_allclose(m(ember.tensor(x)).numpy(), w, rtol=1e-4, atol=1e-4 * np.abs(w).max())


@pytest.mark.slow
@requires_torchvision
def test_maxvit_t_at_224_as_torchvision():
    torch.manual_seed(0)
    ref = _randomized(tvm.maxvit_t())
    with _zero_init():
        m = models.maxvit_t()
    m.load_state_dict(_to_ember(ref.state_dict()))
    x = _input(224, batch=1)
    ref.eval()
    m.eval()
    with torch.no_grad(), ember.no_grad():
        want = ref(torch.tensor(x)).numpy()
        got = m(ember.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


# ---- Inception v3 -----------------------------------------------------------------------------------------------

def test_inception_aux_logits_in_training():
    with pytest.warns(FutureWarning, match="default weight initialization of inception_v3"):
        m = models.inception_v3()
    assert m.transform_input is False and isinstance(m.AuxLogits, ember.nn.Module)
    x = ember.tensor(_input(299))  # the auxiliary head needs the 17x17 grid of a 299x299 input
    out = m(x)
    assert isinstance(out, models.InceptionOutputs) and out._fields == ("logits", "aux_logits")
    assert tuple(out.logits.shape) == tuple(out.aux_logits.shape) == (2, 1000)
    (out.logits.sum() + 0.4 * out.aux_logits.sum()).backward()
    assert all(p.grad is not None for p in m.parameters())
    m.eval()
    with ember.no_grad():
        assert tuple(m(x[:1]).shape) == (1, 1000)  # the logits alone
    with pytest.raises(ValueError, match="length of inception_blocks should be 7 instead of 2"):
        models.Inception3(inception_blocks=[1, 2], init_weights=False)


@requires_torchvision
def test_inception_training_outputs_and_transform_input_as_torchvision():
    torch.manual_seed(0)
    ref = _randomized(tvm.inception_v3(init_weights=True, transform_input=True))
    with _zero_init():
        m = models.inception_v3(init_weights=True, transform_input=True)
    m.load_state_dict(_to_ember(ref.state_dict()))
    for mod in list(ref.modules()) + list(m.modules()):
        if type(mod).__name__ == "Dropout":
            mod.p = 0.0
    x = _input(299)
    with torch.no_grad(), ember.no_grad():
        want, got = ref(torch.tensor(x)), m(ember.tensor(x))
    for a, b in zip(got, want):  # training-mode BatchNorm over 2 images
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-3 * np.abs(b.numpy()).max())


def test_inception_weights_download(http_server, hub_home, monkeypatch):
    ember.manual_seed(3)
    with _zero_init():
        src = models.inception_v3(init_weights=False)
    with ember.no_grad():
        for p in src.parameters():
            p.copy_(ember.randn(p.shape) * 0.01)
    import io
    buf = io.BytesIO()
    ember.save(src.state_dict(), buf)
    data = buf.getvalue()
    name = f"inception_v3_google-{sha256(data)[:8]}.pth"
    http_server.routes["/" + name] = data
    monkeypatch.setattr(models.Inception_V3_Weights.IMAGENET1K_V1.value, "url", http_server.url + "/" + name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # weights= sets init_weights=False: no notice
        m = models.inception_v3(weights="DEFAULT", progress=False)
    # the checkpoint was trained on [-1, 1] inputs and holds the auxiliary head
    assert m.transform_input is True and m.aux_logits is True and m.AuxLogits is not None
    np.testing.assert_array_equal(m.fc.weight.detach().numpy(), src.fc.weight.detach().numpy())
    with pytest.raises(ValueError, match="The parameter 'aux_logits' expected value True but got False instead."):
        models.inception_v3(weights="DEFAULT", aux_logits=False)  # as torchvision's


# ---- MNASNet ----------------------------------------------------------------------------------------------------

def _v1_checkpoint(alpha):
    """A version-1 MNASNet state_dict (fixed 32/16 stem) for alpha, as the original mnasnet0_5 file has."""
    from ember.vision.models.mnasnet import _BN_MOMENTUM, _get_depths, _stack, _stem
    m = models.MNASNet(alpha)
    for idx, layer in enumerate(_stem(32, 16, _BN_MOMENTUM) + [_stack(16, _get_depths(alpha)[2], 3, 2, 3, 3,
                                                                      _BN_MOMENTUM)]):
        m.layers[idx] = layer
    m._version = 1
    sd = m.state_dict()
    assert sd._metadata[""]["version"] == 1
    return sd


def test_mnasnet_version_1_checkpoint_patches_the_stem():
    ember.manual_seed(0)
    sd = _v1_checkpoint(0.5)
    m = models.mnasnet0_5()
    assert tuple(m.layers[0].weight.shape) == (16, 3, 3, 3)  # version 2 scales the stem
    with pytest.warns(UserWarning, match="A new version of MNASNet model has been implemented"):
        result = m.load_state_dict(sd)
    assert not result.missing_keys and not result.unexpected_keys
    assert tuple(m.layers[0].weight.shape) == (32, 3, 3, 3) and m.state_dict()._metadata[""]["version"] == 1
    np.testing.assert_array_equal(m.layers[8][0].layers[0].weight.detach().numpy(),
                                  sd["layers.8.0.layers.0.weight"].numpy())
    m.eval()
    with ember.no_grad():
        assert tuple(m(ember.randn(1, 3, 32, 32)).shape) == (1, 1000)
    plain = dict(models.mnasnet1_0().state_dict())  # no _metadata: the version is unknown
    with pytest.raises(ValueError, match="version should be set to 1 or 2 instead of None"):
        models.mnasnet1_0().load_state_dict(plain)


@requires_torchvision
def test_mnasnet_version_1_checkpoint_as_torchvision():
    ember.manual_seed(0)
    sd = _v1_checkpoint(0.75)
    theirs = OrderedDict((k, torch.tensor(v.numpy())) for k, v in sd.items())
    theirs._metadata = sd._metadata
    ref = tvm.mnasnet0_75()
    m = models.mnasnet0_75()
    with pytest.warns(UserWarning):
        ref.load_state_dict(theirs)
    with pytest.warns(UserWarning):
        m.load_state_dict(sd)
    assert repr(m) == repr(ref)
    x = _input(32)
    ref.eval()
    m.eval()
    with torch.no_grad(), ember.no_grad():
        np.testing.assert_allclose(m(ember.tensor(x)).numpy(), ref(torch.tensor(x)).numpy(), rtol=1e-4, atol=1e-5)


# ---- RegNet -----------------------------------------------------------------------------------------------------

# torchvision's (and the paper's) stage depths and widths
REGNET_STAGES = {
    "regnet_x_400mf": ([1, 2, 7, 12], [32, 64, 160, 400]), "regnet_x_800mf": ([1, 3, 7, 5], [64, 128, 288, 672]),
    "regnet_x_8gf": ([2, 5, 15, 1], [80, 240, 720, 1920]), "regnet_y_400mf": ([1, 3, 6, 6], [48, 104, 208, 440]),
    "regnet_y_1_6gf": ([2, 6, 17, 2], [48, 120, 336, 888]),
    "regnet_y_128gf": ([2, 7, 17, 1], [528, 1056, 2904, 7392]),
}


def test_regnet_stage_tables():
    with _zero_init():
        for name, (depths, widths) in REGNET_STAGES.items():
            if name in BIG:
                continue
            m = _build(name)
            stages = list(m.trunk_output.children())
            assert [len(s) for s in stages] == depths, name
            assert [s[0].f.c[0].out_channels for s in stages] == widths, name
    from ember.vision.models.regnet import BlockParams
    p = BlockParams.from_init_params(depth=27, w_0=456, w_a=160.83, w_m=2.52, group_width=264, se_ratio=0.25)
    assert (p.depths, p.widths) == REGNET_STAGES["regnet_y_128gf"] and p.group_widths == [264] * 4
    # RegNetX-8GF: the first stage's bottleneck (80) caps its group width (120)
    p = BlockParams.from_init_params(depth=23, w_0=80, w_a=49.56, w_m=2.88, group_width=120)
    assert p.group_widths == [80, 120, 120, 120]
    with pytest.raises(ValueError, match="Invalid RegNet settings"):
        BlockParams.from_init_params(depth=10, w_0=20, w_a=10.0, w_m=2.0, group_width=8)
    m = models.regnet_y_400mf()
    se = m.trunk_output.block2[0].f.se  # the squeeze width is a quarter of the block's input width
    assert (se.fc1.in_channels, se.fc1.out_channels) == (104, 12)
    assert "block3-5" in dict(m.trunk_output.block3.named_children())


@requires_torchvision
def test_regnet_block_params_as_torchvision():
    import inspect
    import re
    from torchvision.models import regnet as tv_regnet
    from ember.vision.models.regnet import BlockParams
    src = inspect.getsource(tv_regnet)
    found = re.findall(r"def (regnet_\w+)\(.*?from_init_params\(\s*(.*?)\*\*kwargs", src, re.S)
    assert len(found) == 15
    for name, args in found:
        design = eval(f"dict({args})")  # noqa: S307 - torchvision's own source text
        a, b = tv_regnet.BlockParams.from_init_params(**design), BlockParams.from_init_params(**design)
        assert (a.depths, a.widths, a.group_widths, a.strides) == (b.depths, b.widths, b.group_widths, b.strides)


# ---- Swin: shifted windows ----------------------------------------------------------------------------------------

def test_swin_relative_position_index_and_shift_mask_by_hand():
    from ember.vision.models.swin_transformer import ShiftedWindowAttention, _shift_mask
    attn = ShiftedWindowAttention(8, [2, 2], [1, 1], num_heads=2)
    # tokens (0,0) (0,1) (1,0) (1,1); row of offset (dy, dx) = (dy + 1) * 3 + (dx + 1)
    np.testing.assert_array_equal(attn.relative_position_index.numpy().reshape(4, 4),
                                  [[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]])
    assert attn.relative_position_index.dtype == ember.int64
    assert tuple(attn.relative_position_bias_table.shape) == (9, 2)
    # a 4x4 map shifted by 1 in windows of 2: bands [0, 2), [2, 3), [3, 4) on each axis
    mask = _shift_mask(4, 4, (2, 2), (1, 1))
    assert mask.shape == (4, 4, 4)
    np.testing.assert_array_equal(mask[0], np.zeros((4, 4)))
    # window (0, 1): columns 2 and 3 come from different bands
    np.testing.assert_array_equal(mask[1] / -100, [[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0]])
    # window (1, 1): all four tokens from different bands
    np.testing.assert_array_equal(mask[3] / -100, 1 - np.eye(4))


def test_swin_v2_relative_coordinates_by_hand():
    from ember.vision.models.swin_transformer import ShiftedWindowAttentionV2
    attn = ShiftedWindowAttentionV2(8, [2, 2], [0, 0], num_heads=2)
    table = attn.relative_coords_table.numpy()
    assert table.shape == (1, 3, 3, 2)
    v = np.log2(9.0) / 3  # offsets -1, 0, 1 scaled to -8, 0, 8, then sign * log2(|x| + 1) / 3
    np.testing.assert_allclose(table[0, :, 0, 0], [-v, 0, v], rtol=1e-6)
    np.testing.assert_allclose(table[0, 0, :, 1], [-v, 0, v], rtol=1e-6)
    np.testing.assert_allclose(attn.logit_scale.detach().numpy().ravel(), [np.log(10)] * 2, rtol=1e-6)
    assert not attn.qkv.bias.detach().numpy()[8:16].any()  # no key bias
    state = attn.state_dict()
    assert list(state)[:3] == ["logit_scale", "relative_coords_table", "relative_position_index"]


def _reference_window_attention(x, w_qkv, b_qkv, w_proj, b_proj, table, window, heads, shift):
    """Swin window attention, one window and one token pair at a time (float64)."""
    B, H, W, C = x.shape
    wh, ww = window
    ph, pw = -(-H // wh) * wh, -(-W // ww) * ww
    xp = np.zeros((B, ph, pw, C))
    xp[:, :H, :W] = x
    sh, sw = (0 if wh >= ph else shift[0]), (0 if ww >= pw else shift[1])
    xs = np.roll(xp, (-sh, -sw), axis=(1, 2))
    out = np.zeros_like(xs)
    d = C // heads
    for b in range(B):
        for wy in range(0, ph, wh):
            for wx in range(0, pw, ww):
                pos = [(wy + i, wx + j) for i in range(wh) for j in range(ww)]
                tok = np.array([xs[b, p, q] for p, q in pos])
                qkv = tok @ w_qkv.T + b_qkv
                o = np.zeros((len(pos), C))
                for h in range(heads):
                    q, k, v = (qkv[:, s * C + h * d: s * C + (h + 1) * d] for s in range(3))
                    logits = q @ k.T * d ** -0.5
                    for i, (yi, xi) in enumerate(pos):
                        for j, (yj, xj) in enumerate(pos):
                            dy, dx = yi - yj, xi - xj
                            logits[i, j] += table[(dy + wh - 1) * (2 * ww - 1) + dx + ww - 1, h]
                            # a rolled-in token (from the far edge) must not see one that was not
                            wrapped_i = (yi >= ph - sh if sh else False, xi >= pw - sw if sw else False)
                            wrapped_j = (yj >= ph - sh if sh else False, xj >= pw - sw if sw else False)
                            if wrapped_i != wrapped_j:
                                logits[i, j] -= 100.0
                    e = np.exp(logits - logits.max(1, keepdims=True))
                    o[:, h * d:(h + 1) * d] = (e / e.sum(1, keepdims=True)) @ v
                o = o @ w_proj.T + b_proj
                for t, (p, q) in enumerate(pos):
                    out[b, p, q] = o[t]
    return np.roll(out, (sh, sw), axis=(1, 2))[:, :H, :W]


@pytest.mark.parametrize("hw,window,shift", [((5, 6), (3, 3), (1, 1)), ((4, 4), (2, 2), (1, 1)),
                                             ((3, 7), (4, 3), (2, 1)), ((4, 6), (2, 3), (0, 1))])
def test_shifted_window_attention_against_loops(hw, window, shift):
    from ember.vision.models.swin_transformer import _get_relative_position_bias, _relative_position_index
    from ember.vision.models.swin_transformer import shifted_window_attention
    rng = np.random.default_rng(1)
    C, heads = 4, 2
    x = rng.standard_normal((2,) + hw + (C,))
    w_qkv, b_qkv = rng.standard_normal((3 * C, C)) * 0.5, rng.standard_normal(3 * C) * 0.1
    w_proj, b_proj = rng.standard_normal((C, C)) * 0.5, rng.standard_normal(C) * 0.1
    table = rng.standard_normal(((2 * window[0] - 1) * (2 * window[1] - 1), heads))
    want = _reference_window_attention(x, w_qkv, b_qkv, w_proj, b_proj, table, window, heads, shift)
    T = ember.tensor
    index = T(_relative_position_index(window))

    def run(xv):
        bias = _get_relative_position_bias(T(table), index, list(window))
        return shifted_window_attention(T(xv), T(w_qkv), T(w_proj), bias, list(window), heads, list(shift),
                                        qkv_bias=T(b_qkv), proj_bias=T(b_proj), training=False)
    got = run(x)
    assert got.dtype == ember.float64 and tuple(got.shape) == x.shape
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-12)
    # gradient through pad, roll, window partition and the gathered bias: float64 central differences
    xs = x[:1, :, :, :2].copy()
    w_sum = rng.standard_normal(xs.shape[:3] + (C,))

    def loss(xv):
        full = x[:1].copy()
        full[..., :2] = xv
        return float((run(full).numpy() * w_sum).sum())
    xt = ember.tensor(np.concatenate([xs, x[:1, :, :, 2:]], -1), requires_grad=True)
    bias = _get_relative_position_bias(T(table), index, list(window))
    out = shifted_window_attention(xt, T(w_qkv), T(w_proj), bias, list(window), heads, list(shift),
                                   qkv_bias=T(b_qkv), proj_bias=T(b_proj), training=False)
    (out * T(w_sum)).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy()[..., :2], numeric_grad(loss, xs), rtol=1e-5, atol=1e-7)


def test_swin_patch_merging_and_blocks():
    from ember.vision.models.swin_transformer import PatchMerging, PatchMergingV2, _patch_merging_pad
    x = ember.arange(2 * 3 * 3 * 1, dtype=ember.float32).reshape(2, 3, 3, 1)
    merged = _patch_merging_pad(x)  # odd sides padded with zeros
    assert tuple(merged.shape) == (2, 2, 2, 4)
    # (even row, even col), (odd, even), (even, odd), (odd, odd) of each 2x2 neighbourhood
    np.testing.assert_array_equal(merged.numpy()[0, 0, 0], [0, 3, 1, 4])
    np.testing.assert_array_equal(merged.numpy()[0, 1, 1], [8, 0, 0, 0])
    assert tuple(PatchMerging(1)(x).shape) == (2, 2, 2, 2)
    with _zero_init():
        m, m2 = models.swin_t(), models.swin_v2_t()
    blocks = m.features[5]
    assert [b.attn.shift_size for b in blocks] == [[0, 0], [3, 3]] * 3  # every other block shifts by half
    sd_probs = [b.stochastic_depth.p for stage in (1, 3, 5, 7) for b in m.features[stage]]
    np.testing.assert_allclose(sd_probs, np.linspace(0, 0.2, 12))
    assert isinstance(m2.features[2], PatchMergingV2) and isinstance(m.features[2], PatchMerging)
    assert [b.attn.window_size for b in m2.features[3]] == [[8, 8]] * 2


# ---- MaxViT -------------------------------------------------------------------------------------------------------

def test_maxvit_partitions_and_input_check():
    from ember.vision.models.maxvit import MaxVit, PartitionAttentionLayer, WindowDepartition, WindowPartition
    # channel 0 holds 10 * row + col of a 4x4 map
    rows, cols = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    x = ember.tensor((10 * rows + cols)[None, None].astype(np.float32))
    win = WindowPartition()(x, 2)
    assert tuple(win.shape) == (1, 4, 4, 1)
    np.testing.assert_array_equal(win.numpy()[0, 1, :, 0], [2, 3, 12, 13])  # window 1: rows 0-1, columns 2-3
    grid = ember.swapaxes(win, -2, -3)  # grid attention's groups: tokens two apart across the whole map
    np.testing.assert_array_equal(grid.numpy()[0, 0, :, 0], [0, 2, 20, 22])
    np.testing.assert_array_equal(WindowDepartition()(win, 2, 2, 2).numpy(), x.numpy())
    args = (2, ember.nn.GELU, ember.nn.LayerNorm, 0.0, 0.0, 0.0)
    grid = PartitionAttentionLayer(8, 4, 2, "grid", (8, 8), *args)
    window = PartitionAttentionLayer(8, 4, 2, "window", (8, 8), *args)
    assert (grid.p, grid.g, window.p, window.g) == (4, 2, 2, 4)  # 4x4 windows of 2x2 tokens each
    x8 = ember.randn(1, 8, 8, 8)
    assert tuple(grid(x8).shape) == tuple(window(x8).shape) == (1, 8, 8, 8)
    with pytest.raises(ValueError, match="partition_type must be either 'grid' or 'window'"):
        PartitionAttentionLayer(8, 4, 2, "rows", (8, 8), *args)
    with pytest.raises(ValueError, match=r"Input size \(25, 25\) of block 0 is not divisible by partition size 7"):
        MaxVit(input_size=(100, 100), stem_channels=8, partition_size=7, block_channels=[8], block_layers=[1],
               head_dim=4, stochastic_depth_prob=0.0)
    with _zero_init():
        m = models.maxvit_t()
    ps = [layer.layers.MBconv.stochastic_depth for block in m.blocks for layer in block.layers]
    assert isinstance(ps[0], ember.nn.Identity) and ps[-1].p == pytest.approx(0.2)


# ---- the largest: parameter counts of the E2E weights' image sizes -------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name,enum,member", [("vit_l_16", "ViT_L_16_Weights", "IMAGENET1K_SWAG_E2E_V1"),
                                              ("vit_h_14", "ViT_H_14_Weights", "IMAGENET1K_SWAG_E2E_V1")])
def test_vit_swag_e2e_counts(name, enum, member):
    w = getattr(models, enum)[member]
    with _zero_init():
        m = _build(name, image_size=w.meta["min_size"][0])
    assert sum(p.numel() for p in m.parameters()) == w.meta["num_params"]
