"""ember.hub: cache directory, downloads through a real local HTTP server, hubconf entrypoints.

Every download goes to a server on 127.0.0.1 and every cache into tmp_path (hub_home); the
GitHub code path runs against the same server through hub's two base URLs.  Where torch is
installed, torch.hub runs against the same server and ember must agree with it.
"""
import io
import os
import sys
import urllib.error
import http.client

import numpy as np
import pytest

import ember
import ember.hub as hub
from ember.utils import model_zoo
from tests.conftest import torch
from tests.hub_fixture import as_json, hub_home, http_server, sha256, zip_bytes  # noqa: F401 (fixtures)

real_torch = torch if torch is not None and not getattr(torch, "__ember__", False) else None
requires_torch = pytest.mark.skipif(real_torch is None, reason="PyTorch (the test oracle) is not installed")


def _checkpoint(**kwargs):
    """A state_dict checkpoint (bytes, torch's zip format) and the state_dict."""
    ember.manual_seed(0)
    state = {"weight": ember.randn(3, 4), "bias": ember.arange(3, dtype=ember.float32)}
    buf = io.BytesIO()
    ember.save(state, buf, **kwargs)
    return buf.getvalue(), state


def _listing(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# ---- the cache directory -------------------------------------------------------------------------
def test_get_dir_follows_torch_home_xdg_and_default(monkeypatch, tmp_path):
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.delenv("TORCH_HUB", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.get_dir() == str(tmp_path / "th" / "hub")
    monkeypatch.delenv("TORCH_HOME")
    assert hub.get_dir() == str(tmp_path / "xdg" / "torch" / "hub")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # the very folder torch uses, so both share checkpoints
    assert hub.get_dir() == str(tmp_path / "home" / ".cache" / "torch" / "hub")
    monkeypatch.setenv("TORCH_HOME", "~/elsewhere")
    assert hub.get_dir() == str(tmp_path / "home" / "elsewhere" / "hub")
    if real_torch is not None:
        monkeypatch.setattr(real_torch.hub, "_hub_dir", None)
        assert real_torch.hub.get_dir() == hub.get_dir()
    hub.set_dir(tmp_path / "mine")  # PathLike accepted, used as is
    assert hub.get_dir() == str(tmp_path / "mine")
    hub.set_dir("~/x")
    assert hub.get_dir() == str(tmp_path / "home" / "x")
    monkeypatch.setenv("TORCH_HUB", "1")
    with pytest.warns(UserWarning, match="TORCH_HUB is deprecated"):
        hub.get_dir()


def test_lazy_module_names():
    assert ember.hub is hub and model_zoo.load_url is hub.load_state_dict_from_url
    assert model_zoo.tqdm is hub.tqdm
    assert set(hub.__all__) == {"download_url_to_file", "get_dir", "help", "list", "load",
                                "load_state_dict_from_url", "set_dir"}


# ---- download_url_to_file ------------------------------------------------------------------------
def test_download_url_to_file_good_and_hash_prefix(http_server, tmp_path, capsys):
    data = os.urandom(300_000)  # more than one read chunk
    http_server.routes["/f.bin"] = data
    dst = tmp_path / "f.bin"
    hub.download_url_to_file(http_server.url + "/f.bin", str(dst), hash_prefix=sha256(data)[:10], progress=False)
    assert dst.read_bytes() == data and _listing(tmp_path) == ["f.bin"]
    assert capsys.readouterr().err == ""  # progress=False draws nothing
    assert http_server.requests[-1][1]["User-Agent"] == "torch.hub"


def test_download_progress_bar_without_tqdm(http_server, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(hub, "tqdm", hub._Faketqdm)
    http_server.routes["/f.bin"] = b"x" * 1000
    hub.download_url_to_file(http_server.url + "/f.bin", str(tmp_path / "f"), progress=True)
    err = capsys.readouterr().err
    assert err.endswith("\r100.0%\n")


def test_wrong_hash_keeps_nothing_and_spares_the_old_file(http_server, tmp_path):
    data = b"payload" * 100
    http_server.routes["/f.bin"] = data
    dst = tmp_path / "f.bin"
    dst.write_bytes(b"the working copy")
    with pytest.raises(RuntimeError) as e:
        hub.download_url_to_file(http_server.url + "/f.bin", str(dst), hash_prefix="deadbeef", progress=False)
    assert str(e.value) == f'invalid hash value (expected "deadbeef", got "{sha256(data)}")'
    assert dst.read_bytes() == b"the working copy" and _listing(tmp_path) == ["f.bin"]
    if real_torch is not None:
        with pytest.raises(RuntimeError) as te:
            real_torch.hub.download_url_to_file(http_server.url + "/f.bin", str(tmp_path / "t"), "deadbeef",
                                                progress=False)
        assert str(te.value) == str(e.value)
        assert _listing(tmp_path) == ["f.bin"]


@pytest.mark.parametrize("status", [404, 500])
def test_server_error_raises_http_error_and_keeps_nothing(http_server, tmp_path, status):
    http_server.routes["/f.bin"] = (status, b"")
    with pytest.raises(urllib.error.HTTPError) as e:
        hub.download_url_to_file(http_server.url + "/f.bin", str(tmp_path / "f.bin"), progress=False)
    assert e.value.code == status and _listing(tmp_path) == []
    if real_torch is not None:
        with pytest.raises(urllib.error.HTTPError):
            real_torch.hub.download_url_to_file(http_server.url + "/f.bin", str(tmp_path / "t"), progress=False)


def test_truncated_transfer_keeps_nothing(http_server, tmp_path):
    # the server announces 1000 bytes and hangs up after 100 (torch would keep the short file)
    http_server.routes["/f.bin"] = (200, b"x" * 100, {"Content-Length": 1000})
    with pytest.raises((http.client.IncompleteRead, http.client.HTTPException)):
        hub.download_url_to_file(http_server.url + "/f.bin", str(tmp_path / "f.bin"), progress=False)
    assert _listing(tmp_path) == []


def test_unreachable_server_keeps_nothing(tmp_path):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(urllib.error.URLError):
        hub.download_url_to_file(f"http://127.0.0.1:{port}/f.bin", str(tmp_path / "f.bin"), progress=False)
    assert _listing(tmp_path) == []


# ---- load_state_dict_from_url --------------------------------------------------------------------
def test_load_state_dict_from_url_downloads_once_with_hash_check(http_server, hub_home, capsys):
    data, state = _checkpoint()
    name = f"linear-{sha256(data)[:8]}.pth"
    http_server.routes["/models/" + name] = data
    url = http_server.url + "/models/" + name
    got = hub.load_state_dict_from_url(url, check_hash=True, progress=False)
    cached = hub_home / "checkpoints" / name
    assert capsys.readouterr().out == f'Downloading: "{url}" to {cached}\n'
    assert cached.read_bytes() == data and _listing(hub_home / "checkpoints") == [name]
    assert sorted(got) == ["bias", "weight"]
    np.testing.assert_array_equal(got["weight"].numpy(), state["weight"].numpy())
    # the second call is a cache hit: no request, no message
    n = len(http_server.requests)
    again = model_zoo.load_url(url, check_hash=True, weights_only=True)
    assert len(http_server.requests) == n and capsys.readouterr().out == ""
    np.testing.assert_array_equal(again["bias"].numpy(), [0, 1, 2])


def test_load_state_dict_from_url_model_dir_file_name_map_location(http_server, tmp_path, hub_home):
    data, _ = _checkpoint()
    http_server.routes["/w.pth"] = data
    seen = []

    def where(storage, location):
        seen.append(location)
        return storage

    got = hub.load_state_dict_from_url(http_server.url + "/w.pth", model_dir=str(tmp_path / "md"),
                                       file_name="renamed.pth", progress=False, map_location=where)
    assert _listing(tmp_path / "md") == ["renamed.pth"] and not (hub_home / "checkpoints").exists()
    assert seen and set(seen) == {"cpu"} and got["weight"].shape == (3, 4)
    got = hub.load_state_dict_from_url(http_server.url + "/w.pth", model_dir=str(tmp_path / "md"),
                                       file_name="renamed.pth", map_location="cpu")
    assert got["bias"].dtype == ember.float32


def test_check_hash_mismatch_leaves_the_cache_empty(http_server, hub_home):
    data, _ = _checkpoint()
    http_server.routes["/linear-0123abcd.pth"] = data
    with pytest.raises(RuntimeError, match=r'invalid hash value \(expected "0123abcd", got "'):
        hub.load_state_dict_from_url(http_server.url + "/linear-0123abcd.pth", check_hash=True, progress=False)
    assert _listing(hub_home / "checkpoints") == []
    # without check_hash the name's hash is not checked
    assert "weight" in hub.load_state_dict_from_url(http_server.url + "/linear-0123abcd.pth", progress=False)


def test_server_error_from_load_state_dict_from_url(http_server, hub_home):
    with pytest.raises(urllib.error.HTTPError):
        hub.load_state_dict_from_url(http_server.url + "/missing-0123abcd.pth", progress=False)
    assert _listing(hub_home / "checkpoints") == []


def test_legacy_zip_checkpoint_is_extracted_and_loaded(http_server, hub_home):
    legacy, state = _checkpoint(_use_new_zipfile_serialization=False)
    http_server.routes["/old.zip"] = zip_bytes({"old.pth": legacy})
    with pytest.warns(FutureWarning, match="Falling back to the old format < 1.6"):
        got = hub.load_state_dict_from_url(http_server.url + "/old.zip", progress=False)
    np.testing.assert_array_equal(got["weight"].numpy(), state["weight"].numpy())
    assert _listing(hub_home / "checkpoints") == ["old.pth", "old.zip"]
    # a zip of two files is not that format: torch.load's own error, not an extraction
    http_server.routes["/two.zip"] = zip_bytes({"a.pth": legacy, "b.pth": legacy})
    with pytest.raises(Exception):
        hub.load_state_dict_from_url(http_server.url + "/two.zip", progress=False)
    assert "a.pth" not in _listing(hub_home / "checkpoints")


@requires_torch
def test_same_as_torch_hub_on_the_same_server(http_server, hub_home, tmp_path, capsys):
    data, state = _checkpoint()
    name = f"linear-{sha256(data)[:8]}.pth"
    http_server.routes["/" + name] = data
    legacy, _ = _checkpoint(_use_new_zipfile_serialization=False)
    http_server.routes["/old.zip"] = zip_bytes({"old.pth": legacy})
    url = http_server.url + "/" + name
    e = hub.load_state_dict_from_url(url, check_hash=True, progress=False)
    e_out = capsys.readouterr().out
    t = real_torch.hub.load_state_dict_from_url(url, model_dir=str(tmp_path / "t"), check_hash=True, progress=False)
    assert capsys.readouterr().out == e_out.replace(str(hub_home / "checkpoints"), str(tmp_path / "t"))
    assert sorted(e) == sorted(t)
    for k in t:
        np.testing.assert_array_equal(e[k].numpy(), t[k].numpy())
    # torch reads ember's cache and the other way round: one shared folder
    t2 = real_torch.hub.load_state_dict_from_url(url, check_hash=True, progress=False)
    assert capsys.readouterr().out == "" and real_torch.hub.get_dir() == hub.get_dir()
    np.testing.assert_array_equal(t2["weight"].numpy(), state["weight"].numpy())
    with pytest.warns(FutureWarning):
        t3 = real_torch.hub.load_state_dict_from_url(http_server.url + "/old.zip", model_dir=str(tmp_path / "z"),
                                                     progress=False)
    with pytest.warns(FutureWarning):
        e3 = hub.load_state_dict_from_url(http_server.url + "/old.zip", model_dir=str(tmp_path / "ez"),
                                          progress=False)
    assert _listing(tmp_path / "z") == _listing(tmp_path / "ez")
    np.testing.assert_array_equal(e3["bias"].numpy(), t3["bias"].numpy())


# ---- hubconf.py: local folders -------------------------------------------------------------------
HUBCONF = '''
"""A test hub."""
import numpy as _np
dependencies = ["numpy"]
from helper_mod import scale as _scale


def linear(n, bias=True):
    """A Linear(n, n) with weight scale(1)."""
    import ember
    m = ember.nn.Linear(n, n, bias=bias)
    with ember.no_grad():
        m.weight.fill_(_scale(1))
    return m


def _private():
    return 0


CONSTANT = 3
'''


@pytest.fixture(autouse=True)
def _forget_helper_mod():
    # hubconf's own imports stay in sys.modules (as in torch); each test starts without them
    yield
    sys.modules.pop("helper_mod", None)


def _repo(folder, hubconf=HUBCONF):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hubconf.py").write_text(hubconf)
    (folder / "helper_mod.py").write_text("def scale(x):\n    return 2.0 * x\n")
    return folder


def test_local_list_help_load(tmp_path):
    repo = _repo(tmp_path / "repo")
    path_before = list(sys.path)
    assert hub.list(str(repo), source="local") == ["linear"]
    assert hub.help(str(repo), "linear", source="local") == "A Linear(n, n) with weight scale(1)."
    m = hub.load(str(repo), "linear", 4, source="local", bias=False)
    assert isinstance(m, ember.nn.Linear) and m.bias is None and float(m.weight[0, 0]) == 2.0
    assert sys.path == path_before  # the folder is on sys.path only while hubconf runs
    with pytest.raises(RuntimeError, match="Cannot find callable nothing in hubconf"):
        hub.load(str(repo), "nothing", source="local")
    with pytest.raises(RuntimeError, match="Cannot find callable CONSTANT in hubconf"):
        hub.load(str(repo), "CONSTANT", source="local")
    with pytest.raises(ValueError, match="model should be a string"):
        hub.load(str(repo), 3, source="local")
    with pytest.raises(ValueError, match='Unknown source: "svn"'):
        hub.load(str(repo), "linear", source="svn")


def test_local_missing_dependencies(tmp_path):
    repo = _repo(tmp_path / "repo", HUBCONF.replace('["numpy"]', '["numpy", "no_such_pkg_ember", "nor_this"]'))
    with pytest.raises(RuntimeError, match="^Missing dependencies: no_such_pkg_ember, nor_this$"):
        hub.load(str(repo), "linear", 2, source="local")
    # list does not check dependencies (torch's behaviour)
    assert hub.list(str(repo), source="local") == ["linear"]


@requires_torch
def test_local_same_as_torch(tmp_path):
    # an entrypoint returning plain data, so both hubs run the same file
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "hubconf.py").write_text('dependencies = ["numpy"]\nimport os\n\ndef pair(a, b=2):\n    """Docs."""\n'
                                     '    return (a, b)\n\ndef _h():\n    pass\n')
    assert hub.load(str(repo), "pair", 1, source="local", b=5) == real_torch.hub.load(str(repo), "pair", 1,
                                                                                      source="local", b=5)
    assert hub._entrypoints(hub._hubconf(str(repo))) == ["pair"]
    assert hub.help(str(repo), "pair", source="local") == "Docs."


# ---- GitHub sources, through the local server -----------------------------------------------------
@pytest.fixture
def github(http_server, monkeypatch, hub_home):
    """A fake GitHub: owner/repo with branches master and feat/x, tag v1.0; hub's base URLs point at it."""
    monkeypatch.setattr(hub, "_GITHUB_URL", http_server.url)
    monkeypatch.setattr(hub, "_GITHUB_API_URL", http_server.url + "/api")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    # as GitHub's zipball: the top folder's own entry first
    archive = zip_bytes({"owner-repo-abc1234/": b"", "owner-repo-abc1234/hubconf.py": HUBCONF,
                         "owner-repo-abc1234/helper_mod.py": "def scale(x):\n    return 3.0 * x\n"})
    r = http_server.routes
    r["/owner/repo/tree/main/"] = (404, b"")
    r["/api/repos/owner/repo/branches?per_page=100&page=1"] = as_json(
        [{"name": "master", "commit": {"sha": "abc1234ffff"}}, {"name": "feat/x", "commit": {"sha": "0dd"}}])
    r["/api/repos/owner/repo/branches?per_page=100&page=2"] = as_json([])
    r["/api/repos/owner/repo/tags?per_page=100&page=1"] = as_json([{"name": "v1.0", "commit": {"sha": "77e"}}])
    r["/api/repos/owner/repo/tags?per_page=100&page=2"] = as_json([])
    for ref in ("master", "feat/x", "v1.0", "abc1234"):
        r[f"/owner/repo/zipball/{ref}"] = archive
    return http_server


def _answer(monkeypatch, reply):
    asked = []

    def fake_input(prompt=""):
        asked.append(prompt)
        return reply

    monkeypatch.setattr("builtins.input", fake_input)
    return asked


def test_github_load_builds_urls_and_cache_dir(github, hub_home, monkeypatch, capsys):
    asked = _answer(monkeypatch, "y")
    m = hub.load("owner/repo", "linear", 3)
    assert float(m.weight[0, 0]) == 3.0  # the repo's own helper_mod, from the archive
    paths = github.paths()
    assert paths[0] == "/owner/repo/tree/main/"  # no ref: main if it exists, else master
    assert "/api/repos/owner/repo/branches?per_page=100&page=1" in paths  # the fork check
    assert paths[-1] == "/owner/repo/zipball/master"
    assert (hub_home / "owner_repo_master" / "hubconf.py").is_file()
    assert _listing(hub_home) == ["owner_repo_master", "trusted_list"]  # the zip and its folder are gone
    assert asked == ["The repository owner_repo does not belong to the list of trusted repositories and as such "
                     "cannot be downloaded. Do you trust this repository and wish to add it to the trusted list of "
                     "repositories (y/N)?"]
    assert (hub_home / "trusted_list").read_text() == "owner_repo\n"
    out = capsys.readouterr()
    assert f'Downloading: "{github.url}/owner/repo/zipball/master" to {hub_home / "master.zip"}\n' == out.out
    # now trusted and cached: no prompt, no download, the cache message on stderr
    n = len(github.requests)
    assert hub.list("owner/repo:master") == ["linear"]
    assert len(asked) == 1 and len(github.requests) == n
    assert capsys.readouterr().err == f"Using cache found in {hub_home / 'owner_repo_master'}\n"
    assert hub.help("owner/repo:master", "linear").startswith("A Linear")
    # force_reload downloads again
    hub.load("owner/repo:master", "linear", 2, force_reload=True, verbose=False)
    assert github.paths()[-1] == "/owner/repo/zipball/master"


def test_github_ref_with_slash_and_tag(github, hub_home):
    hub.load("owner/repo:feat/x", "linear", 2, trust_repo=True)
    assert (hub_home / "owner_repo_feat_x").is_dir()
    hub.load("owner/repo:v1.0", "linear", 2, trust_repo=True)  # found among the tags
    assert (hub_home / "owner_repo_v1.0").is_dir()
    hub.load("owner/repo:abc1234", "linear", 2, trust_repo=True)  # a commit sha prefix
    assert github.paths()[-1] == "/owner/repo/zipball/abc1234"


def test_github_forked_ref_is_refused_unless_skip_validation(github, hub_home):
    with pytest.raises(ValueError, match="Cannot find nope in https://github.com/owner/repo"):
        hub.load("owner/repo:nope", "linear", 2, trust_repo=True)
    assert not (hub_home / "owner_repo_nope").exists()
    github.routes["/owner/repo/zipball/nope"] = github.routes["/owner/repo/zipball/master"]
    n = len(github.requests)
    hub.load("owner/repo:nope", "linear", 2, trust_repo=True, skip_validation=True)
    assert github.paths()[n:] == ["/owner/repo/zipball/nope"]


def test_github_token_is_sent_to_the_api(github, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "tok123")
    hub.load("owner/repo:master", "linear", 2, trust_repo=True)
    api = [h for p, h in github.requests if p.startswith("/api/")]
    assert api and all(h.get("Authorization") == "token tok123" for h in api)


def test_trust_repo_semantics(github, hub_home, monkeypatch):
    asked = _answer(monkeypatch, "no")
    with pytest.raises(Exception, match="^Untrusted repository.$"):
        hub.load("owner/repo:master", "linear", 2)
    assert not (hub_home / "owner_repo_master").exists() and (hub_home / "trusted_list").read_text() == ""
    _answer(monkeypatch, "maybe")
    with pytest.raises(ValueError, match="Unrecognized response maybe."):
        hub.load("owner/repo:master", "linear", 2, trust_repo="check")
    # trust_repo=True: no question, the repo joins the list
    asked = _answer(monkeypatch, "n")
    hub.load("owner/repo:master", "linear", 2, trust_repo=True)
    assert asked == [] and (hub_home / "trusted_list").read_text() == "owner_repo\n"
    # trust_repo=False asks even for a trusted repo
    with pytest.raises(Exception, match="Untrusted repository"):
        hub.load("owner/repo:master", "linear", 2, trust_repo=False)
    assert len(asked) == 1
    # trusted owners need no answer
    github.routes["/pytorch/vision/zipball/main"] = github.routes["/owner/repo/zipball/master"]
    asked = _answer(monkeypatch, "n")
    hub.load("pytorch/vision:main", "linear", 2, skip_validation=True)
    assert asked == [] and (hub_home / "pytorch_vision_main").is_dir()


def test_github_offline_falls_back_to_the_cache(github, hub_home, monkeypatch):
    hub.load("owner/repo", "linear", 2, trust_repo=True)
    monkeypatch.setattr(hub, "_GITHUB_URL", "http://127.0.0.1:1")  # nothing listens there
    assert hub.list("owner/repo", trust_repo=True, verbose=False) == ["linear"]
    monkeypatch.setattr(hub, "get_dir", lambda: str(hub_home.parent / "empty"))
    with pytest.raises(RuntimeError, match="no internet connection"):
        hub.list("owner/repo", trust_repo=True)


def test_zip_slip_is_refused(github, hub_home):
    github.routes["/owner/repo/zipball/master"] = zip_bytes({"owner-repo-1/": b"", "owner-repo-1/hubconf.py": "",
                                                                    "../evil.py": "x"})
    with pytest.raises(ValueError, match="directory traversal"):
        hub.load("owner/repo:master", "linear", trust_repo=True)
    assert not (hub_home.parent / "evil.py").exists() and not (hub_home / "master.zip").exists()
