"""model(weights=...) and WeightsEnum.get_state_dict: torchvision's checkpoints downloaded through ember.hub.

The checkpoints are written here in torchvision's state_dict layout and served by a real HTTP server on
127.0.0.1 (the weights' URL is pointed at it); the hub cache is tmp_path (hub_home).  With torchvision
importable (EMBER_TORCHVISION_PATH), torchvision downloads the same file and must build the same model.
"""
import io
import os
import urllib.error

import numpy as np
import pytest

import ember
from ember.vision import models
from tests.conftest import real_torchvision
from tests.hub_fixture import hub_home, http_server, sha256  # noqa: F401 (fixtures)

tvm = real_torchvision("torchvision.models")
requires_torchvision = pytest.mark.skipif(tvm is None, reason="torchvision is not importable")


def _bytes(state):
    buf = io.BytesIO()
    ember.save(state, buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def squeeze():
    """A seeded squeezenet1_1, its checkpoint bytes and torchvision-style name (name-<sha256 prefix>.pth)."""
    ember.manual_seed(1)
    m = models.squeezenet1_1()
    data = _bytes(m.state_dict())
    return m, data, f"squeezenet1_1-{sha256(data)[:8]}.pth"


def _point(monkeypatch, weights, url):
    monkeypatch.setattr(weights.value, "url", url)


def _same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k].numpy(), sb[k].numpy(), err_msg=k)


def test_weights_download_once_and_load(squeeze, http_server, hub_home, monkeypatch, capsys):
    ref, data, name = squeeze
    http_server.routes["/models/" + name] = data
    url = http_server.url + "/models/" + name
    _point(monkeypatch, models.SqueezeNet1_1_Weights.IMAGENET1K_V1, url)
    m = models.squeezenet1_1(weights="DEFAULT", progress=False)
    _same_state(m, ref)
    cached = hub_home / "checkpoints" / name
    assert capsys.readouterr().out == f'Downloading: "{url}" to {cached}\n' and cached.read_bytes() == data
    n = len(http_server.requests)
    state = models.SqueezeNet1_1_Weights.DEFAULT.get_state_dict(progress=False, check_hash=True)
    m2 = models.get_model("squeezenet1_1", weights=models.SqueezeNet1_1_Weights.IMAGENET1K_V1)
    assert len(http_server.requests) == n  # both from the cache
    assert list(state) == list(ref.state_dict())
    _same_state(m2, ref)


def test_wrong_hash_leaves_no_checkpoint(squeeze, http_server, hub_home, monkeypatch):
    _, data, _ = squeeze
    # torchvision's file name, whose hash prefix these bytes do not have
    real_name = os.path.basename(models.SqueezeNet1_1_Weights.IMAGENET1K_V1.url)
    http_server.routes["/" + real_name] = data
    _point(monkeypatch, models.SqueezeNet1_1_Weights.IMAGENET1K_V1, http_server.url + "/" + real_name)
    prefix = real_name.rsplit("-", 1)[1].split(".")[0]
    with pytest.raises(RuntimeError, match=f'invalid hash value \\(expected "{prefix}", got "{sha256(data)}"\\)'):
        models.squeezenet1_1(weights="DEFAULT", progress=False)
    assert os.listdir(hub_home / "checkpoints") == []
    # get_state_dict checks only when asked, as torchvision's
    assert "features.0.weight" in models.SqueezeNet1_1_Weights.DEFAULT.get_state_dict(progress=False)


def test_server_error_and_legacy_pretrained(http_server, hub_home, monkeypatch):
    _point(monkeypatch, models.ResNet34_Weights.IMAGENET1K_V1, http_server.url + "/resnet34-b627a593.pth")
    with pytest.warns(UserWarning, match="'pretrained' is deprecated"), \
            pytest.warns(UserWarning, match="IMAGENET1K_V1"), pytest.raises(urllib.error.HTTPError, match="404"):
        models.resnet34(pretrained=True, progress=False)
    assert http_server.paths() == ["/resnet34-b627a593.pth"] and os.listdir(hub_home / "checkpoints") == []


def test_checkpoint_fixes_num_classes_and_image_size(http_server, monkeypatch):
    # checked before anything is built or fetched, as torchvision's _ovewrite_named_param
    _point(monkeypatch, models.ResNet18_Weights.IMAGENET1K_V1, http_server.url + "/r.pth")
    with pytest.raises(ValueError, match="The parameter 'num_classes' expected value 1000 but got 10 instead."):
        models.resnet18(weights="DEFAULT", num_classes=10)
    with pytest.raises(ValueError, match="The parameter 'image_size' expected value 384 but got 224 instead."):
        models.vit_b_16(weights="IMAGENET1K_SWAG_E2E_V1", image_size=224)
    assert http_server.requests == []
    assert len(models.ResNet18_Weights.DEFAULT.meta["categories"]) == 1000
    assert models.VGG16_Weights.IMAGENET1K_FEATURES.meta["categories"] is None  # no head: num_classes is free


def test_googlenet_drops_the_untrained_aux_heads(hub_home):
    # torchvision's checkpoint holds the aux heads; the cached file is used as is (no download)
    ember.manual_seed(2)
    full = models.GoogLeNet(aux_logits=True, transform_input=True, init_weights=False)
    (hub_home / "checkpoints").mkdir(parents=True)
    ember.save(full.state_dict(), hub_home / "checkpoints" / os.path.basename(models.GoogLeNet_Weights.DEFAULT.url))
    m = models.googlenet(weights="DEFAULT")
    assert m.transform_input and m.aux_logits is False and m.aux1 is None and m.aux2 is None
    np.testing.assert_array_equal(m.fc.weight.detach().numpy(), full.fc.weight.detach().numpy())
    with pytest.warns(UserWarning, match="auxiliary heads in the pretrained googlenet model are NOT pretrained"):
        m = models.googlenet(weights="DEFAULT", aux_logits=True, transform_input=False)
    assert m.aux1 is not None and not m.transform_input


def test_densenet_checkpoint_with_torchvision_legacy_keys(http_server, hub_home, monkeypatch):
    # torchvision's published DenseNet files name "denselayer1.norm.1.weight" what the module calls norm1
    ember.manual_seed(3)
    ref = models.densenet121()
    legacy = {}
    for k, v in ref.state_dict().items():
        for part in ("norm", "relu", "conv"):
            for i in ("1", "2"):
                k = k.replace(f".{part}{i}.", f".{part}.{i}.") if "denselayer" in k else k
        legacy[k] = v
    assert "features.denseblock1.denselayer1.norm.1.weight" in legacy
    data = _bytes(legacy)
    name = f"densenet121-{sha256(data)[:8]}.pth"
    http_server.routes["/" + name] = data
    _point(monkeypatch, models.DenseNet121_Weights.IMAGENET1K_V1, http_server.url + "/" + name)
    _same_state(models.densenet121(weights="DEFAULT", progress=False), ref)


@requires_torchvision
def test_same_model_as_torchvision_from_the_same_server(squeeze, http_server, hub_home, monkeypatch, capsys):
    import torch
    ref, data, name = squeeze
    http_server.routes["/" + name] = data
    url = http_server.url + "/" + name
    _point(monkeypatch, models.SqueezeNet1_1_Weights.IMAGENET1K_V1, url)
    _point(monkeypatch, tvm.SqueezeNet1_1_Weights.IMAGENET1K_V1, url)
    t = tvm.squeezenet1_1(weights="DEFAULT", progress=False).eval()
    t_out = capsys.readouterr().out
    assert t_out == f'Downloading: "{url}" to {hub_home / "checkpoints" / name}\n'
    n = len(http_server.requests)
    e = models.squeezenet1_1(weights="DEFAULT", progress=False).eval()  # torch's download, ember's cache hit
    assert len(http_server.requests) == n
    assert list(e.state_dict()) == list(t.state_dict())
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with torch.no_grad(), ember.no_grad():
        np.testing.assert_allclose(e(ember.tensor(x)).numpy(), t(torch.tensor(x)).numpy(), rtol=1e-4, atol=1e-5)
    assert models.ResNet50_Weights.DEFAULT.meta["categories"] == tvm.ResNet50_Weights.DEFAULT.meta["categories"]
