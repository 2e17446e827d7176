"""ember.vision.models: torchvision's architectures. Parameter counts as torchvision documents them,
and against an independent transcription of torchvision's resnet.py / vgg.py in real torch: the
printed repr, the state_dict keys and shapes, a torch-saved checkpoint loading, the same logits."""
import warnings

import numpy as np
import pytest

import ember
from ember.vision import models
from tests.conftest import requires_torch, torch as _torch

# torchvision's documented num_params; state_dict lengths (parameters + BatchNorm buffers)
EXPECTED = {"resnet18": (11689512, 122), "resnet34": (21797672, 218), "resnet50": (25557032, 320),
            "vgg11": (132863336, 22), "vgg16": (138357544, 32)}

_cache = {}


def _model(name):
    if name not in _cache:
        ember.manual_seed(0)
        _cache[name] = getattr(models, name)()
    return _cache[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parameter_count_and_state_dict_size(name):
    m = _model(name)
    params, entries = EXPECTED[name]
    assert sum(p.numel() for p in m.parameters()) == params
    assert len(m.state_dict()) == entries


def test_more_architectures_have_torchvisions_sizes(monkeypatch):
    # the neural-style-transfer tutorial builds vgg19; sizes only, so skip drawing 100M+ initial weights
    for fn in ("kaiming_uniform_", "kaiming_normal_", "normal_", "uniform_", "constant_"):
        monkeypatch.setattr(ember.nn.init, fn, lambda t, *args, **kwargs: t)
    expected = {"vgg11_bn": (132868840, 62), "vgg13": (133047848, 26), "vgg13_bn": (133053736, 76),
                "vgg16_bn": (138365992, 97), "vgg19": (143667240, 38), "vgg19_bn": (143678248, 118),
                "resnet101": (44549160, 626), "resnet152": (60192808, 932)}
    for name, (params, entries) in expected.items():
        m = models.get_model(name)
        assert sum(p.numel() for p in m.parameters()) == params, name
        assert len(m.state_dict()) == entries, name
        assert models.get_model_weights(name).DEFAULT.meta["num_params"] == params


def test_known_keys_and_shapes():
    sd = _model("resnet18").state_dict()
    assert list(sd)[:7] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                            "bn1.num_batches_tracked", "layer1.0.conv1.weight"]
    assert tuple(sd["conv1.weight"].shape) == (64, 3, 7, 7)
    assert tuple(sd["layer2.0.downsample.0.weight"].shape) == (128, 64, 1, 1)
    assert tuple(sd["layer4.1.bn2.running_var"].shape) == (512,)
    assert list(sd)[-2:] == ["fc.weight", "fc.bias"] and tuple(sd["fc.weight"].shape) == (1000, 512)
    sd = _model("resnet50").state_dict()
    assert tuple(sd["layer1.0.conv3.weight"].shape) == (256, 64, 1, 1)
    assert tuple(sd["layer3.0.conv2.weight"].shape) == (256, 256, 3, 3)  # stride sits in the 3x3 (V1.5)
    assert tuple(sd["fc.weight"].shape) == (1000, 2048)
    sd = _model("vgg16").state_dict()
    assert [k for k in sd if k.endswith("weight")][-3:] == ["classifier.0.weight", "classifier.3.weight",
                                                           "classifier.6.weight"]
    assert tuple(sd["features.28.weight"].shape) == (512, 512, 3, 3)
    assert tuple(sd["classifier.0.weight"].shape) == (4096, 25088)


def test_forward_shapes():
    m = _model("resnet34").eval()
    with ember.no_grad():
        assert tuple(m(ember.randn(2, 3, 64, 64)).shape) == (2, 1000)
    m = models.resnet50(num_classes=10)
    assert tuple(m(ember.randn(2, 3, 32, 32)).shape) == (2, 10)
    m = _model("vgg11").eval()  # (a new VGG costs seconds: 133M parameters to draw)
    with ember.no_grad():
        assert tuple(m(ember.randn(1, 3, 32, 32)).shape) == (1, 1000)


def test_weights_arguments():
    # the checkpoint's class count is checked before anything is built or downloaded (downloads:
    # test_models_weights.py, against a local server)
    for call in (lambda: models.resnet18(weights="DEFAULT", num_classes=10),
                 lambda: models.resnet50(weights=models.ResNet50_Weights.IMAGENET1K_V2, num_classes=10),
                 lambda: models.vgg16(weights="IMAGENET1K_V1", num_classes=10),
                 lambda: models.vgg19(weights=models.VGG19_Weights.DEFAULT, num_classes=10)):
        with pytest.raises(ValueError, match="The parameter 'num_classes' expected value 1000 but got 10 instead."):
            call()
    with pytest.warns(UserWarning, match="'pretrained' is deprecated"), pytest.warns(UserWarning, match="IMAGENET1K_V1"):
        with pytest.raises(ValueError, match="'num_classes' expected value 1000"):
            models.resnet34(pretrained=True, num_classes=3)
    with pytest.warns(UserWarning, match="'pretrained' is deprecated"):
        assert isinstance(models.resnet18(pretrained=False), models.ResNet)
    with pytest.raises(KeyError, match="Failed to find Weights"):  # torchvision's enum lookup raises KeyError
        models.resnet18(weights="IMAGENET1K_V9")
    assert models.ResNet50_Weights.DEFAULT is models.ResNet50_Weights.IMAGENET1K_V2
    assert models.get_model_weights("vgg11") is models.VGG11_Weights


# ---- against torchvision's structure, transcribed independently in real torch -------------------
def _torch_models(torch):
    nn = torch.nn

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet(nn.Module):
        def __init__(self, block, layers):
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
                stride = 1 if i == 0 else 2
                down = None
                if stride != 1 or self.inplanes != planes * block.expansion:
                    down = nn.Sequential(nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                         nn.BatchNorm2d(planes * block.expansion))
                blocks = [block(self.inplanes, planes, stride, down)]
                self.inplanes = planes * block.expansion
                blocks += [block(self.inplanes, planes) for _ in range(1, n)]
                setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * block.expansion, 1000)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    class VGG(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            layers, c = [], 3
            for v in cfg:
                if v == "M":
                    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                else:
                    layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                    c = v
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=0.5),
                                            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=0.5),
                                            nn.Linear(4096, 1000))

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return {"resnet18": lambda: ResNet(BasicBlock, [2, 2, 2, 2]),
            "resnet34": lambda: ResNet(BasicBlock, [3, 4, 6, 3]),
            "resnet50": lambda: ResNet(Bottleneck, [3, 4, 6, 3]),
            "vgg11": lambda: VGG([64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"])}


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "vgg11"])
def test_repr_and_state_dict_match_torchvision_structure(oracle, name):
    ref = _torch_models(oracle)[name]()
    m = _model(name)
    assert repr(m) == repr(ref).replace("ResNet(", "ResNet(").replace("VGG(", "VGG(")
    ours = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert list(ours) == list(theirs)
    assert ours == theirs


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_torch_saved_checkpoint_loads_and_gives_same_logits(oracle, name, tmp_path):
    ref = _torch_models(oracle)[name]()
    oracle.manual_seed(0)
    with oracle.no_grad():  # non-trivial BatchNorm statistics, as a trained checkpoint has
        for mod in ref.modules():
            if isinstance(mod, oracle.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
    path = tmp_path / f"{name}.pth"
    oracle.save(ref.state_dict(), path)
    m = getattr(models, name)()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = m.load_state_dict(ember.load(path, weights_only=True))
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    ref.eval()
    m.eval()
    with oracle.no_grad(), ember.no_grad():
        np.testing.assert_allclose(m(ember.tensor(x)).numpy(), ref(oracle.tensor(x)).numpy(), rtol=1e-3, atol=1e-4)


def test_weights_positional_and_enum_members_as_torchvision():
    with pytest.warns(UserWarning, match="Using 'weights' as positional parameter"):
        m = models.resnet18(None)
    assert isinstance(m, models.ResNet)
    with pytest.warns(UserWarning, match="'weights' and 'progress'"):
        assert isinstance(models.vgg11(None, False), models.VGG)
    assert list(models.VGG16_Weights.__members__) == ["IMAGENET1K_V1", "IMAGENET1K_FEATURES", "DEFAULT"]
    assert models.VGG16_Weights.DEFAULT is models.VGG16_Weights.IMAGENET1K_V1


@requires_torch
def test_weights_transforms_is_the_image_classification_preset():
    torch = _torch
    from PIL import Image
    pre = models.ResNet18_Weights.DEFAULT.transforms()
    assert repr(pre) == ("ImageClassification(\n    crop_size=[224]\n    resize_size=[256]\n"
                         "    mean=[0.485, 0.456, 0.406]\n    std=[0.229, 0.224, 0.225]\n"
                         "    interpolation=InterpolationMode.BILINEAR\n)")
    assert models.ResNet50_Weights.DEFAULT.transforms().resize_size == [232]
    a = np.random.default_rng(0).integers(0, 256, (3, 240, 300), dtype=np.uint8)
    out = pre(ember.tensor(a))  # read_image's uint8 tensor, as in torchvision's docs
    assert out.dtype == ember.float32 and tuple(out.shape) == (3, 224, 224)
    t = torch.nn.functional.interpolate(torch.tensor(a)[None].float(), size=[256, 320], mode="bilinear",
                                        antialias=True)[0].round().clamp(0, 255).to(torch.uint8)
    t = t[:, 16:240, 48:272].float() / 255
    ref = (t - torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-4)
    batch = pre(ember.tensor(a).unsqueeze(0))
    assert tuple(batch.shape) == (1, 3, 224, 224)
    pil = pre(Image.fromarray(a.transpose(1, 2, 0)))
    assert pil.dtype == ember.float32 and tuple(pil.shape) == (3, 224, 224)


def test_get_weight_by_full_name():
    assert models.get_weight("ResNet50_Weights.IMAGENET1K_V2") is models.ResNet50_Weights.IMAGENET1K_V2
    assert models.get_weight("VGG16_Weights.DEFAULT") is models.VGG16_Weights.IMAGENET1K_V1
    with pytest.raises(ValueError, match="Invalid weight name"):
        models.get_weight("resnet50")
    with pytest.raises(ValueError, match="couldn't be retrieved"):
        models.get_weight("Foo_Weights.DEFAULT")
    with pytest.raises(KeyError):
        models.get_weight("ResNet50_Weights.IMAGENET1K_V9")
