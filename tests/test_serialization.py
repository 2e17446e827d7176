"""ember.save / ember.load: PyTorch's checkpoint format, on real files.

Oracle tests (real torch opens ember's files, ember opens torch's) skip without torch; the
committed fixtures (tests/fixtures, written once by real torch.save) keep the reading side
tested without it.
"""
import collections
import io
import os
import pickle
import warnings
import zipfile
import zlib

import numpy as np
import pytest

import ember
from ember import _backend as B
from ember._tensor import _wrap
from ember.nn.parameter import Parameter

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def arr(t):
    return np.asarray(t._data)


def shares_memory(a, b):
    return np.shares_memory(a._data, b._data)


def make_state_dict():
    r = np.random.RandomState(0)
    w = ember.tensor(r.randn(4, 5).astype(np.float32))
    sd = collections.OrderedDict()
    sd["fc.weight"] = w
    sd["fc.weight_t"] = _wrap(w._data.T)          # a transposed view: same storage
    sd["row"] = _wrap(w._data[2])                 # offset view
    sd["col"] = _wrap(w._data[:, 1])              # strided view
    sd["fc.bias"] = ember.tensor(r.randn(4).astype(np.float32))
    sd["half"] = ember.tensor(r.randn(3).astype(np.float16))
    sd["double"] = ember.tensor(r.randn(2, 2))
    sd["mask"] = ember.tensor(np.array([True, False, True]))
    sd["steps"] = ember.tensor(np.array(7, np.int64))
    sd["i32"] = ember.tensor(np.array([-3, 4], np.int32))
    sd["u8"] = ember.tensor(np.array([0, 255], np.uint8))
    sd["i8"] = ember.tensor(np.array([-128, 5], np.int8))
    sd["i16"] = ember.tensor(np.array([300], np.int16))
    sd["empty"] = ember.tensor(np.zeros((0, 3), np.float32))
    sd["flipped"] = _wrap(w._data[::-1])          # negative strides: saved as a copy
    sd["expanded"] = _wrap(np.broadcast_to(np.arange(3, dtype=np.float32), (2, 3)))  # stride 0
    sd["param"] = Parameter(ember.tensor(r.randn(2, 3).astype(np.float32)))
    sd._metadata = collections.OrderedDict([("", {"version": 1}), ("fc", {"version": 2})])
    return sd


def make_optimizer_state(torch_safe=False):
    state = {
        "state": {0: {"step": ember.tensor(3.0), "exp_avg": ember.tensor([0.5, -1.0]),
                      "momentum_buffer": None}},
        "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                          "nesterov": False, "params": [0, 1], "name": "body", "foreach": None}],
        "misc": {"size": ember.Size([2, 3]), "device": ember.device("cpu"), "dtype": ember.float16,
                 "set": {1, 2}, "bytes": b"\x00\xff", "complex": 1 + 2j,
                 "nested": [(1, [2.5, {"deep": ember.tensor([1, 2])}])]},
    }
    if not torch_safe:  # ember's weights_only also allows these; torch's does not
        state["misc"].update(frozen=frozenset({3}), slice=slice(1, 5, 2))
    return state


def assert_same_tensor(a, b):
    assert type(a) is type(b)
    assert a.dtype is b.dtype
    assert a.shape == b.shape
    assert a.stride() == b.stride()
    assert a.requires_grad == b.requires_grad
    np.testing.assert_array_equal(arr(a), arr(b))


# ---- ember -> ember --------------------------------------------------------------------------
def test_round_trip_state_dict(tmp_path):
    sd = make_state_dict()
    path = tmp_path / "model.pt"
    ember.save(sd, path)
    out = ember.load(path)
    assert type(out) is collections.OrderedDict
    assert list(out) == list(sd)  # order kept
    assert out._metadata == sd._metadata
    for k in sd:
        if k == "flipped":
            np.testing.assert_array_equal(arr(out[k]), arr(sd[k]))
            continue
        assert_same_tensor(out[k], sd[k])
    assert type(out["param"]) is Parameter and out["param"].requires_grad


def test_shared_storage_stays_shared(tmp_path):
    sd = make_state_dict()
    path = tmp_path / "shared.pt"
    ember.save(sd, path)
    with zipfile.ZipFile(path) as z:
        storages = [n for n in z.namelist() if "/data/" in n]
    # fc.weight, its three views share one storage; fc.bias, half, ... each have their own
    n_tensors = len(sd)
    assert len(storages) == n_tensors - 3
    out = ember.load(path)
    for k in ("fc.weight_t", "row", "col"):
        assert shares_memory(out["fc.weight"], out[k])
    out["fc.weight"]._data[2, 1] = 100.0
    assert arr(out["row"])[1] == 100.0 and arr(out["col"])[2] == 100.0 and arr(out["fc.weight_t"])[1, 2] == 100.0
    # and a second save of the loaded dict keeps them shared
    ember.save(out, tmp_path / "again.pt")
    again = ember.load(tmp_path / "again.pt")
    assert shares_memory(again["fc.weight"], again["row"])


def test_round_trip_optimizer_state(tmp_path):
    st = make_optimizer_state()
    ember.save(st, tmp_path / "opt.pt")
    out = ember.load(tmp_path / "opt.pt")
    assert out["param_groups"] == st["param_groups"]
    misc = out["misc"]
    assert misc["size"] == (2, 3) and type(misc["size"]) is ember.Size
    assert misc["device"] == ember.device("cpu") and misc["dtype"] is ember.float16
    assert misc["set"] == {1, 2} and misc["frozen"] == frozenset({3}) and misc["bytes"] == b"\x00\xff"
    assert misc["complex"] == 1 + 2j and misc["slice"] == slice(1, 5, 2)
    assert_same_tensor(misc["nested"][0][1][1]["deep"], st["misc"]["nested"][0][1][1]["deep"])
    assert_same_tensor(out["state"][0]["step"], st["state"][0]["step"])
    assert out["state"][0]["momentum_buffer"] is None


def test_requires_grad_tensor_and_same_object_twice(tmp_path):
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    ember.save({"a": x, "b": x, "l": [x]}, tmp_path / "x.pt")
    out = ember.load(tmp_path / "x.pt")
    assert out["a"] is out["b"] is out["l"][0]
    assert out["a"].requires_grad and out["a"].is_leaf


def test_file_like_objects():
    sd = make_state_dict()
    buf = io.BytesIO()
    ember.save(sd, buf)
    assert zipfile.ZipFile(io.BytesIO(buf.getvalue())).namelist()[0] == "archive/data.pkl"
    buf.seek(0)
    out = ember.load(buf)
    assert_same_tensor(out["fc.bias"], sd["fc.bias"])


def test_zip_layout_matches_torch(tmp_path):
    ember.save(make_state_dict(), tmp_path / "my.model.pt")
    with zipfile.ZipFile(tmp_path / "my.model.pt") as z:
        names = z.namelist()
        assert names[:4] == ["my.model/data.pkl", "my.model/.format_version",
                             "my.model/.storage_alignment", "my.model/byteorder"]
        assert names[-2:] == ["my.model/version", "my.model/.data/serialization_id"]
        assert z.read("my.model/version") == b"3\n"
        assert z.read("my.model/byteorder") == b"little"
        raw = open(tmp_path / "my.model.pt", "rb").read()
        for info in z.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            # data start = header + name + extra: torch aligns every record to 64 bytes
            name_len, extra_len = np.frombuffer(raw[info.header_offset + 26:info.header_offset + 30], "<u2")
            start = info.header_offset + 30 + name_len + extra_len
            assert start % 64 == 0, info.filename
            assert raw[start:start + info.file_size] == z.read(info)
        pkl = z.read("my.model/data.pkl")
    assert b"ctorch._utils\n_rebuild_tensor_v2\n" in pkl and b"ctorch\nFloatStorage\n" in pkl
    assert b"ccollections\nOrderedDict\n" in pkl and b"ember" not in pkl


def test_unicode_name_uses_archive_prefix(tmp_path):
    ember.save({"x": ember.tensor([1.0])}, tmp_path / "modèle.pt")
    assert zipfile.ZipFile(tmp_path / "modèle.pt").namelist()[0] == "archive/data.pkl"
    assert arr(ember.load(tmp_path / "modèle.pt")["x"]).tolist() == [1.0]


# ---- files written by real torch (committed fixtures; no torch needed) -----------------------
@pytest.fixture(scope="module")
def expected():
    with np.load(os.path.join(FIXTURES, "expected.npz")) as f:
        return {k: f[k] for k in f.files}


def test_fixture_state_dict(expected):
    sd = ember.load(os.path.join(FIXTURES, "torch_state_dict.pt"))
    assert list(sd) == ["fc.weight", "fc.bias", "fc.weight_t", "row", "bn.num_batches_tracked", "half",
                        "double", "mask", "int32", "scalar", "empty", "param"]
    assert sd._metadata == collections.OrderedDict([("", {"version": 1}), ("fc", {"version": 2})])
    np.testing.assert_array_equal(arr(sd["fc.weight"]), expected["weight"])
    np.testing.assert_array_equal(arr(sd["fc.weight_t"]), expected["weight"].T)
    np.testing.assert_array_equal(arr(sd["row"]), expected["weight"][1])
    assert sd["fc.weight_t"].stride() == (1, 4) and sd["row"].shape == (4,)
    assert shares_memory(sd["fc.weight"], sd["fc.weight_t"]) and shares_memory(sd["fc.weight"], sd["row"])
    assert sd["bn.num_batches_tracked"].dtype is ember.int64 and sd["bn.num_batches_tracked"].item() == 5
    for key, name, dtype in [("half", "half", ember.float16), ("double", "double", ember.float64),
                             ("mask", "mask", ember.bool), ("int32", "int32", ember.int32),
                             ("fc.bias", "bias", ember.float32)]:
        assert sd[key].dtype is dtype
        np.testing.assert_array_equal(arr(sd[key]), expected[name])
    assert sd["scalar"].shape == () and sd["scalar"].item() == 2.5
    assert sd["empty"].shape == (0, 2)
    assert type(sd["param"]) is Parameter and sd["param"].requires_grad
    np.testing.assert_array_equal(arr(sd["param"]), expected["param"])
    assert not sd["fc.weight"].requires_grad


def test_fixture_optimizer(expected):
    st = ember.load(os.path.join(FIXTURES, "torch_optimizer.pt"))
    assert st["param_groups"] == [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0,
                                   "amsgrad": False, "maximize": False, "foreach": None,
                                   "params": [0, 1]}]
    assert st["state"][0]["step"].item() == 3.0
    np.testing.assert_array_equal(arr(st["state"][0]["exp_avg"]), expected["exp_avg"])
    misc = st["misc"]
    assert misc["size"] == ember.Size([2, 3]) and misc["device"] == ember.device("cpu")
    assert misc["dtype"] is ember.float16 and misc["set"] == {1, 2} and misc["bytes"] == b"\x00\xff"
    assert misc["complex"] == 1 + 2j and misc["none"] is None


def test_fixture_legacy_format(expected):
    sd = ember.load(os.path.join(FIXTURES, "torch_legacy.pt"))
    np.testing.assert_array_equal(arr(sd["weight"]), expected["weight"])
    np.testing.assert_array_equal(arr(sd["weight_t"]), expected["weight"].T)
    assert shares_memory(sd["weight"], sd["weight_t"])
    assert arr(sd["steps"]).tolist() == [1, 2, 3] and sd["steps"].dtype is ember.int64


# ---- map_location ----------------------------------------------------------------------------
class _OnCuda(np.ndarray):
    """A host array tagged as living on cuda:0: lets a test write a 'cuda:0' checkpoint without a GPU."""
    _ember_device = B.device("cuda", 0)


def _cuda_checkpoint(path):
    t = ember.Tensor.__new__(ember.Tensor)
    ember.Tensor._init(t, np.array([1.0, 2.0], np.float32).view(_OnCuda), False)
    ember.save({"w": t}, path)


def test_cuda_tagged_checkpoint_and_map_location(tmp_path):
    path = tmp_path / "gpu.pt"
    _cuda_checkpoint(path)
    pkl = zipfile.ZipFile(path).read("gpu/data.pkl")
    assert b"cuda:0" in pkl
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location"):
            ember.load(path)
    for ml in ("cpu", b"cpu", ember.device("cpu"), {"cuda:0": "cpu"}, lambda storage, loc: storage,
               lambda storage, loc: storage.cpu()):
        w = ember.load(path, map_location=ml)["w"]
        assert w.device == ember.device("cpu") and arr(w).tolist() == [1.0, 2.0]
    seen = []
    ember.load(path, map_location=lambda storage, loc: seen.append(loc) or storage.cpu())
    assert seen == ["cuda:0"]
    with pytest.raises(TypeError, match="map_location"):
        ember.load(path, map_location=3.5)


def test_map_location_dict_leaves_other_locations(tmp_path):
    ember.save({"w": ember.tensor([1.0])}, tmp_path / "c.pt")
    out = ember.load(tmp_path / "c.pt", map_location={"cuda:1": "cuda:0"})
    assert out["w"].device == ember.device("cpu")


# ---- safety ----------------------------------------------------------------------------------
def _zip_checkpoint(path, pkl, prefix="archive"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", pkl)
        z.writestr(f"{prefix}/byteorder", "little")
        z.writestr(f"{prefix}/version", "3\n")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_malicious_pickle_is_refused(tmp_path, protocol):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    _zip_checkpoint(path, pickle.dumps({"w": [1, _Evil(marker)]}, protocol=protocol))
    with pytest.raises(pickle.UnpicklingError) as info:
        ember.load(path)
    msg = str(info.value)
    assert "system" in msg and "weights_only" in msg and "not an allowed global" in msg
    assert not marker.exists()
    # the payload was real: an unrestricted unpickler runs it
    with zipfile.ZipFile(path) as z:
        pickle.loads(z.read("archive/data.pkl"))
    assert marker.exists()


def test_weights_only_refuses_builtins_eval_and_unknown_classes(tmp_path):
    path = tmp_path / "eval.pt"
    # GLOBAL builtins.eval then REDUCE: the classic payload, hand-written
    payload = b"\x80\x02c__builtin__\neval\nq\x00X\x07\x00\x00\x001+1==2 q\x01\x85q\x02Rq\x03."
    _zip_checkpoint(path, payload)
    with pytest.raises(pickle.UnpicklingError, match="eval"):
        ember.load(path)
    import datetime
    _zip_checkpoint(path, pickle.dumps({"t": datetime.timedelta(days=1)}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="datetime.timedelta was not an allowed global"):
        ember.load(path)


def test_add_safe_globals(tmp_path):
    from ember import serialization
    path = tmp_path / "frac.pt"
    import fractions
    ember.save({"f": fractions.Fraction(1, 3)}, path)
    with pytest.raises(pickle.UnpicklingError):
        ember.load(path)
    serialization.add_safe_globals([fractions.Fraction])
    try:
        assert ember.load(path)["f"] == fractions.Fraction(1, 3)
    finally:
        serialization.clear_safe_globals()
    assert ember.load(path, weights_only=False)["f"] == fractions.Fraction(1, 3)


def test_out_of_bounds_tensor_is_refused(tmp_path):
    # a hand-made pickle whose tensor claims more elements than its 2-element storage holds
    ember.save({"w": ember.tensor([1.0, 2.0])}, tmp_path / "ok.pt")
    with zipfile.ZipFile(tmp_path / "ok.pt") as z:
        records = {n: z.read(n) for n in z.namelist()}
    pkl = records["ok/data.pkl"]
    assert b"K\x02\x85" in pkl  # size (2,)
    records["ok/data.pkl"] = pkl.replace(b"K\x02\x85", b"K\x63\x85", 1)  # size (99,)
    with zipfile.ZipFile(tmp_path / "bad.pt", "w") as z:
        for n, data in records.items():
            z.writestr(n, data)
    with pytest.raises(pickle.UnpicklingError, match="does not fit its storage"):
        ember.load(tmp_path / "bad.pt")


# ---- corrupt files ---------------------------------------------------------------------------
def test_truncated_file(tmp_path):
    path = tmp_path / "trunc.pt"
    ember.save(make_state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match="PytorchStreamReader failed reading zip archive") as info:
        ember.load(path)
    assert str(path) in str(info.value) and "truncated" in str(info.value)


def test_torch_checkpoint_without_crc32s_loads():
    # torch.save under serialization.config.save.compute_crc32 = False writes a CRC of 0 for every
    # record; torch.load checks none, and ember must not call such a file corrupt
    path = os.path.join(FIXTURES, "torch_no_crc32.pt")
    assert {i.CRC for i in zipfile.ZipFile(path).infolist()} == {0}
    sd = ember.load(path)
    np.testing.assert_array_equal(arr(sd["weight"]), np.load(os.path.join(FIXTURES, "expected.npz"))["weight"])
    assert sd["step"].item() == 7


def test_corrupted_storage_bytes(tmp_path):
    path = tmp_path / "crc.pt"
    ember.save({"w": ember.tensor(np.arange(16, dtype=np.float32))}, path)
    data = bytearray(path.read_bytes())
    i = bytes(data).find(np.arange(16, dtype=np.float32).tobytes())
    data[i + 5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="CRC") as info:
        ember.load(path)
    assert str(path) in str(info.value)


def test_large_records_check_their_crc_alongside_the_read(tmp_path, monkeypatch):
    # a large record's CRC-32 is computed on a helper thread chunk by chunk behind the reads: the
    # same value (a good file loads), and a flipped byte in any chunk still fails
    from ember import serialization as S
    monkeypatch.setattr(S, "_CRC_ALONGSIDE_MIN", 1000)
    monkeypatch.setattr(S, "_CRC_CHUNK", 384)
    reads = []
    real = S._read_with_crc
    monkeypatch.setattr(S, "_read_with_crc", lambda fp, raw: reads.append(raw.size) or real(fp, raw))
    values = np.arange(1000, dtype=np.float32)
    path = tmp_path / "big.pt"
    ember.save({"w": ember.tensor(values), "small": ember.tensor([1.0, 2.0])}, path)
    np.testing.assert_array_equal(arr(ember.load(path)["w"]), values)
    assert reads == [4000]
    data = bytearray(path.read_bytes())
    data[bytes(data).find(values.tobytes()) + 2000] ^= 0x01   # (in the sixth of eleven chunks)
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="CRC") as info:
        ember.load(path)
    assert str(path) in str(info.value)
    # a file that ends early: what was read, and the CRC of just that
    raw = np.empty(4000, np.uint8)
    short = bytes(range(256)) * 10
    assert real(io.BytesIO(short), raw) == (2560, zlib.crc32(short))
    assert raw[:2560].tobytes() == short


@pytest.mark.parametrize("content,error", [(b"", EOFError), (b"hello world, not a checkpoint", pickle.UnpicklingError)])
def test_empty_or_foreign_file(tmp_path, content, error):
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    with pytest.raises(error, match="junk.pt"):  # EOFError for an empty file, as torch
        ember.load(path)


def _not_checkpoints():
    buf = io.BytesIO()
    ember.save({"w": ember.ones(3)}, buf)
    whole = buf.getvalue()
    magic = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)   # a legacy checkpoint's first pickle
    return {"text": b"hello world", "newline": b"\n", "empty": b"",
            "random": np.random.RandomState(0).randint(0, 256, 1000).astype(np.uint8).tobytes(),
            "bad_pickle": b"\x80\x02garbage", "bad_opcode": b"\x80\x02\xff\xfe", "magic_then_junk": magic + b"zz",
            "truncated_legacy": magic, "truncated_zip": whole[:len(whole) // 2], "pk_junk": b"PK\x03\x04" + bytes(50)}


@pytest.mark.parametrize("weights_only", [True, False])
@pytest.mark.parametrize("kind", sorted(_not_checkpoints()))
def test_not_a_checkpoint_raises_torch_s_exception_type(oracle, tmp_path, kind, weights_only):
    path = tmp_path / f"{kind}.pt"
    path.write_bytes(_not_checkpoints()[kind])
    with pytest.raises(Exception) as want:
        oracle.load(path, weights_only=weights_only)
    with pytest.raises(Exception) as got:
        ember.load(path, weights_only=weights_only)
    expected = want.type
    if weights_only and expected in (KeyError, IndexError):
        # torch's weights-only unpickler (Python) lets these out for some first bytes ("hello world" reads as
        # BINGET 101: KeyError) and wraps every other failure in UnpicklingError, which ember raises throughout
        expected = pickle.UnpicklingError
    assert got.type is expected, (got.value, want.value)
    if kind != "empty" and not kind.startswith("magic"):
        assert kind in str(got.value)   # ember's message names the file


def test_missing_file_and_parent(tmp_path):
    with pytest.raises(FileNotFoundError):
        ember.load(tmp_path / "nope.pt")
    with pytest.raises(RuntimeError, match="Parent directory"):
        ember.save({}, tmp_path / "no_dir" / "x.pt")


# ---- atomic save -----------------------------------------------------------------------------
class _Unpicklable:
    def __reduce__(self):
        raise RuntimeError("boom while pickling")


def test_failed_save_leaves_previous_file_intact(tmp_path):
    path = tmp_path / "ckpt.pt"
    ember.save({"epoch": 1, "w": ember.tensor([1.0, 2.0])}, path)
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match="boom"):
        ember.save({"epoch": 2, "w": ember.tensor([3.0]), "bad": _Unpicklable()}, path)
    assert path.read_bytes() == before
    assert ember.load(path)["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]  # no temporary file left behind


def test_failure_mid_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    ember.save({"epoch": 1}, path)
    before = path.read_bytes()
    from ember import serialization
    real = serialization._ZipWriter.write_record

    def failing(self, name, data):
        if name.startswith("data/"):
            raise OSError(28, "No space left on device")
        return real(self, name, data)

    monkeypatch.setattr(serialization._ZipWriter, "write_record", failing)
    with pytest.raises(OSError, match="No space"):
        ember.save({"epoch": 2, "w": ember.tensor([3.0])}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]


def test_saved_file_permissions_are_normal(tmp_path):
    path = tmp_path / "perm.pt"
    ember.save({}, path)
    mode = os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


# ---- against real torch ----------------------------------------------------------------------
def test_torch_loads_ember_files(oracle, tmp_path):
    sd = make_state_dict()
    path = tmp_path / "for_torch.pt"
    ember.save({"model": sd, "opt": make_optimizer_state(torch_safe=True)}, path)
    loaded = oracle.load(path, weights_only=True)
    tsd = loaded["model"]
    assert list(tsd) == list(sd) and tsd._metadata == sd._metadata
    for k, e in sd.items():
        t = tsd[k]
        assert str(t.dtype).split(".")[1] == e.dtype.name
        assert tuple(t.shape) == e.shape
        np.testing.assert_array_equal(t.detach().numpy(), arr(e))
        if k != "flipped":
            assert t.stride() == e.stride(), k
    assert type(tsd["param"]) is oracle.nn.Parameter and tsd["param"].requires_grad
    assert tsd["row"].untyped_storage().data_ptr() == tsd["fc.weight"].untyped_storage().data_ptr()
    misc = loaded["opt"]["misc"]
    assert misc["size"] == oracle.Size([2, 3]) and misc["dtype"] is oracle.float16
    assert misc["device"] == oracle.device("cpu")
    assert loaded["opt"]["param_groups"] == make_optimizer_state()["param_groups"]


def test_ember_data_pkl_is_byte_identical_to_torch(oracle, tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    e = collections.OrderedDict(a=ember.tensor(a), b=ember.tensor(np.ones(3, np.int64)))
    e["c"] = _wrap(e["a"]._data[1])
    t = collections.OrderedDict(a=oracle.tensor(a), b=oracle.ones(3, dtype=oracle.int64))
    t["c"] = t["a"][1]
    (tmp_path / "e").mkdir()
    (tmp_path / "t").mkdir()
    ember.save(e, tmp_path / "e" / "ck.pt")
    oracle.save(t, tmp_path / "t" / "ck.pt")
    ze, zt = zipfile.ZipFile(tmp_path / "e" / "ck.pt"), zipfile.ZipFile(tmp_path / "t" / "ck.pt")
    assert ze.namelist() == zt.namelist()
    for name in ze.namelist():
        if not name.endswith("serialization_id"):
            assert ze.read(name) == zt.read(name), name
    assert [i.header_offset for i in ze.infolist()] == [i.header_offset for i in zt.infolist()]


def test_ember_loads_torch_files(oracle, tmp_path):
    r = np.random.RandomState(5)
    w = oracle.from_numpy(r.randn(3, 4).astype(np.float32))
    obj = {"sd": collections.OrderedDict([("w", w), ("wt", w.t()), ("col", w[:, 2]),
                                          ("p", oracle.nn.Parameter(oracle.ones(2))),
                                          ("h", oracle.tensor([1.5], dtype=oracle.float16)),
                                          ("i", oracle.arange(4)), ("b", oracle.tensor([True]))]),
           "opt": {"lr": 0.1, "betas": (0.9, 0.99), "size": oracle.Size([1]), "dt": oracle.int32}}
    path = tmp_path / "t.pt"
    oracle.save(obj, path)
    out = ember.load(path)
    for k, t in obj["sd"].items():
        e = out["sd"][k]
        assert e.dtype.name == str(t.dtype).split(".")[1] and e.shape == tuple(t.shape)
        assert e.stride() == t.stride()
        np.testing.assert_array_equal(arr(e), t.detach().numpy())
    assert shares_memory(out["sd"]["w"], out["sd"]["col"])
    assert type(out["sd"]["p"]) is Parameter
    assert out["opt"] == {"lr": 0.1, "betas": (0.9, 0.99), "size": (1,), "dt": ember.int32}
    # legacy format too
    oracle.save(obj["sd"], tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    leg = ember.load(tmp_path / "legacy.pt")
    np.testing.assert_array_equal(arr(leg["wt"]), w.t().numpy())


def test_torch_dtype_ember_lacks_is_named_in_the_error(oracle, tmp_path):
    # (bfloat16 loads: tests/test_bfloat16.py; uint16 and float8: tests/test_dtypes_extra.py)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # (torch: ComplexHalf support is experimental)
        oracle.save({"x": oracle.ones(2, dtype=oracle.complex32)}, tmp_path / "c32.pt")
    with pytest.raises(pickle.UnpicklingError, match="complex32"):
        ember.load(tmp_path / "c32.pt")


def test_torch_refuses_what_ember_refuses(oracle, tmp_path):
    # sanity check of the malicious fixture: real torch's weights_only refuses it too
    marker = tmp_path / "pwned"
    _zip_checkpoint(tmp_path / "evil.pt", pickle.dumps(_Evil(marker), protocol=2))
    with pytest.raises(pickle.UnpicklingError):
        oracle.load(tmp_path / "evil.pt", weights_only=True)
    assert not marker.exists()


def test_non_seekable_reader(tmp_path):
    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self._src = io.BytesIO(data)

        def readable(self):
            return True

        def seekable(self):
            return False

        def readinto(self, b):
            chunk = self._src.read(len(b))
            b[:len(chunk)] = chunk
            return len(chunk)

    buf = io.BytesIO()
    ember.save({"w": ember.tensor([1.0, 2.0])}, buf)
    out = ember.load(io.BufferedReader(Pipe(buf.getvalue())))
    assert arr(out["w"]).tolist() == [1.0, 2.0]


# ---- parity with torch's observable behaviour ------------------------------------------------
class _Point:
    def __init__(self, x):
        self.x = x


def test_tensor_python_attributes_travel(oracle, tmp_path):
    t = ember.tensor([1.0, 2.0])
    t.note = "kept"
    buf = io.BytesIO()
    ember.save({"t": t}, buf)
    buf.seek(0)
    assert ember.load(buf)["t"].note == "kept"
    buf.seek(0)
    assert oracle.load(buf)["t"].note == "kept"
    tt = oracle.tensor([1.0, 2.0])
    tt.note = "kept"
    tbuf = io.BytesIO()
    oracle.save({"t": tt}, tbuf)
    with zipfile.ZipFile(buf) as a, zipfile.ZipFile(tbuf) as b:
        assert a.read("archive/data.pkl") == b.read("archive/data.pkl")
    tbuf.seek(0)
    assert ember.load(tbuf)["t"].note == "kept"


def test_safe_globals_context_manager_and_refusal_text(oracle):
    from ember import serialization
    buf = io.BytesIO()
    ember.save(_Point(3), buf)
    name = f"{_Point.__module__}._Point"
    for lib, ns in ((ember, "ember"), (oracle, "torch")):
        buf.seek(0)
        with pytest.raises(pickle.UnpicklingError) as info:
            lib.load(buf)
        text = str(info.value)
        assert f"`{ns}.serialization.add_safe_globals([{name}])` or the `{ns}.serialization.safe_globals([{name}])` " \
               "context manager" in text
        assert text.endswith("https://pytorch.org/docs/stable/generated/torch.load.html.")
    with serialization.safe_globals([_Point]):
        buf.seek(0)
        assert ember.load(buf).x == 3
    assert serialization.get_safe_globals() == []
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        ember.load(buf)


@pytest.mark.parametrize("protocol", [2, 4])
def test_legacy_format_save(oracle, tmp_path, protocol):
    base = ember.arange(6.0)
    sd = collections.OrderedDict(a=base, b=base[2:], c=ember.arange(4)[1:], p=Parameter(ember.ones(2)),
                                 e=ember.zeros(0), h=ember.tensor([1.5], dtype=ember.float16))
    path = tmp_path / "legacy.pt"
    ember.save(sd, path, _use_new_zipfile_serialization=False, pickle_protocol=protocol)
    with open(path, "rb") as fh:
        assert not zipfile.is_zipfile(fh)
    for lib in (ember, oracle):
        out = lib.load(path, weights_only=protocol == 2)
        assert list(out) == list(sd)
        for k in sd:
            assert out[k].tolist() == sd[k].tolist()
            assert str(out[k].dtype).split(".")[-1] == str(sd[k].dtype).split(".")[-1]
        assert out["b"].storage_offset() == 2 and out["c"].storage_offset() == 1
        assert type(out["p"]).__name__ == "Parameter" and out["p"].requires_grad
        out["a"][3] = 100.0  # views still share their storage
        assert out["b"][1].item() == 100.0


def test_load_errors_and_pickle_module_rules(oracle, tmp_path):
    import warnings
    for lib in (ember, oracle):
        with pytest.raises(EOFError):
            lib.load(io.BytesIO(b""))
        with pytest.raises(RuntimeError):
            lib.save(lib.ones(1), tmp_path)  # a directory
        buf = io.BytesIO()
        lib.save(_Point(4), buf)
        buf.seek(0)
        assert lib.load(buf, pickle_module=pickle).x == 4  # an explicit pickle_module means a full load
        buf.seek(0)
        with pytest.raises(RuntimeError, match="Can not safely load weights when explicit pickle_module"):
            lib.load(buf, pickle_module=pickle, weights_only=True)
        lib.save({"w": lib.ones(1)}, buf)
        buf.seek(0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.load(buf, encoding="latin1")
        assert any("pickle_load_args only works if `weights_only=False`." in str(w.message) for w in caught)


def test_local_objects_fail_with_torchs_exception_type(oracle):
    def make():
        class Local:
            pass
        return Local
    for obj in (make(), make()()):
        errors = []
        for lib in (ember, oracle):
            with pytest.raises(Exception) as info:
                lib.save({"x": obj}, io.BytesIO())
            errors.append((type(info.value), str(info.value)))
        assert errors[0] == errors[1]


# ---- whole objects (torch.save(model)): torch's names in the pickle -------------------------------------------
def _whole_models(lib):
    """The same small models built by ember or torch (torch.save(model) pickles each whole)."""
    lib.manual_seed(0)
    nn = lib.nn
    return {
        "mlp": nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3)),
        "cnn": nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 2)),
        "lstm": nn.LSTM(4, 5, num_layers=2, batch_first=True),
        "encoder": nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0),   # activation: F.relu, a function
    }


_WHOLE_INPUTS = {"mlp": (6, 4), "cnn": (2, 1, 8, 8), "lstm": (2, 3, 4), "encoder": (3, 2, 8)}


def _forward(lib, model, name):
    """model's outputs (an LSTM's output, h and c) on a fixed input, as float64 arrays."""
    x = lib.tensor(np.random.RandomState(1).randn(*_WHOLE_INPUTS[name]).astype(np.float32))
    out = model(x)
    outs = [out[0], *out[1]] if isinstance(out, tuple) else [out]
    return [o.detach().numpy().astype(np.float64) for o in outs]


def _pickle_globals(path):
    """The module of every GLOBAL in the checkpoint's data.pkl (pickletools' view of it)."""
    import pickletools
    with zipfile.ZipFile(path) as zf:
        data = zf.read(next(n for n in zf.namelist() if n.endswith("/data.pkl")))
    return {arg.split(" ")[0] for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


def _saved_eval_model(name, path):
    model = _whole_models(ember)[name]
    if name == "mlp":
        model(ember.randn(6, 4))   # running statistics that are not the initial ones
    model.eval()
    ember.save(model, path)
    return model


@pytest.mark.parametrize("name", sorted(_WHOLE_INPUTS))
def test_whole_model_saved_by_ember_names_torch_s_classes(tmp_path, name):
    path = tmp_path / f"{name}.pt"
    model = _saved_eval_model(name, path)
    modules = _pickle_globals(path)
    assert not [m for m in modules if m.split(".")[0] == "ember"], modules
    assert "torch.nn.modules.linear" in modules or "torch.nn.modules.rnn" in modules  # torch's own file names
    back = ember.load(path, weights_only=False)   # and ember reads them back as its own classes
    assert type(back) is type(model) and not back.training
    assert [type(m) for m in back.modules()] == [type(m) for m in model.modules()]
    for got, want in zip(_forward(ember, back, name), _forward(ember, model, name)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", sorted(_WHOLE_INPUTS))
def test_whole_model_saved_by_ember_runs_in_torch(oracle, tmp_path, name):
    path = tmp_path / f"{name}.pt"
    model = _saved_eval_model(name, path)
    loaded = oracle.load(path, weights_only=False)
    assert [type(m).__module__.split(".")[0] for m in loaded.modules()] == ["torch"] * len(list(model.modules()))
    assert [type(m).__name__ for m in loaded.modules()] == [type(m).__name__ for m in model.modules()]
    if name == "encoder":
        assert loaded.activation is oracle.nn.functional.relu
    assert not loaded.training
    want = _forward(ember, model, name)
    got = _forward(oracle, loaded, name)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)


def test_whole_model_saved_by_torch_runs_in_ember(oracle, tmp_path):
    for name in sorted(_WHOLE_INPUTS):
        model = _whole_models(oracle)[name].eval()
        oracle.save(model, tmp_path / f"{name}.pt")
        loaded = ember.load(tmp_path / f"{name}.pt", weights_only=False)
        assert type(loaded).__module__.split(".")[0] == "ember" and not loaded.training
        for g, w in zip(_forward(ember, loaded, name), _forward(oracle, model, name)):
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)


def _train_step(lib, bundle, x):
    model, opt, sched = bundle["model"], bundle["opt"], bundle["sched"]
    opt.zero_grad()
    model(lib.tensor(x)).pow(2).sum().backward()
    opt.step()
    sched.step()


def test_optimizer_and_scheduler_saved_whole_keep_training_in_torch_and_ember(oracle, tmp_path):
    ember.manual_seed(0)
    nn = ember.nn
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = ember.optim.Adam(model.parameters(), lr=0.01)
    bundle = {"model": model, "opt": opt, "sched": ember.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)}
    x = np.random.RandomState(0).randn(5, 4).astype(np.float32)
    _train_step(ember, bundle, x)
    path = tmp_path / "bundle.pt"
    ember.save(bundle, path)
    assert {"torch.optim.adam", "torch.optim.lr_scheduler"} <= _pickle_globals(path)
    assert not [m for m in _pickle_globals(path) if m.startswith("ember")]
    in_torch = oracle.load(path, weights_only=False)
    in_ember = ember.load(path, weights_only=False)
    for lib, other in ((oracle, in_torch), (ember, in_ember)):
        assert type(other["opt"]) is lib.optim.Adam and type(other["sched"]) is lib.optim.lr_scheduler.StepLR
        # one pickle: the optimizer steps the loaded model's parameters, the scheduler drives that optimizer
        assert other["opt"].param_groups[0]["params"][0] is next(other["model"].parameters())
        assert other["sched"].optimizer is other["opt"]
        _train_step(lib, other, x)
    _train_step(ember, bundle, x)
    for other in (in_torch, in_ember):
        assert other["sched"].get_last_lr() == bundle["sched"].get_last_lr() == [0.0025]
        for p, q in zip(other["model"].parameters(), model.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=0, atol=1e-6)


class _TwoLayer(ember.nn.Module):
    """A model class of the user's own (here: of this test file), pickled by name as torch does."""

    def __init__(self):
        super().__init__()
        self.body = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.GELU())
        self.head = ember.nn.Linear(4, 1)

    def forward(self, x):
        return self.head(ember.nn.functional.relu(self.body(x)))


def test_user_module_class_round_trips_with_torch_names_for_ember_s_parts(tmp_path):
    model = _TwoLayer()
    ember.save(model, tmp_path / "user.pt")
    modules = _pickle_globals(tmp_path / "user.pt")
    assert __name__ in modules   # the user's class under its own module, as torch writes it
    assert not [m for m in modules if m.startswith("ember")], modules
    back = ember.load(tmp_path / "user.pt", weights_only=False)
    x = ember.randn(2, 3)
    assert type(back) is _TwoLayer and back(x).tolist() == model(x).tolist()


def test_user_model_saved_under_ember_run_loads_in_torch(oracle, tmp_path, monkeypatch):
    # the user's module-level class: saved by a script that `python -m ember run` runs (torch is ember there),
    # loaded by real torch, which imports the same file with its own torch
    import json
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (tmp_path / "usernet_serial.py").write_text(
        "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv2d(1, 2, 3)\n"
        "        self.fc = nn.Linear(2 * 4 * 4, 3)\n\n"
        "    def forward(self, x):\n"
        "        return self.fc(torch.flatten(F.relu(self.conv(x)), 1))\n")
    (tmp_path / "save_it.py").write_text(
        "import json, sys\nimport torch\nfrom usernet_serial import Net\n"
        "torch.manual_seed(0)\nnet = Net()\ntorch.save(net, sys.argv[1])\n"
        "x = torch.arange(72, dtype=torch.float32).reshape(2, 1, 6, 6) / 72\n"
        "print(json.dumps(net(x).tolist()))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, str(tmp_path)]))
    cmd = [sys.executable, "-m", "ember", "run", str(tmp_path / "save_it.py"), str(tmp_path / "net.pt")]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not [m for m in _pickle_globals(tmp_path / "net.pt") if m.startswith("ember")]
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "usernet_serial", raising=False)
    try:
        net = oracle.load(tmp_path / "net.pt", weights_only=False)
        assert isinstance(net, oracle.nn.Module) and type(net.fc) is oracle.nn.Linear
        x = oracle.arange(72, dtype=oracle.float32).reshape(2, 1, 6, 6) / 72
        np.testing.assert_allclose(net(x).detach().numpy(), json.loads(proc.stdout), rtol=0, atol=1e-6)
    finally:
        sys.modules.pop("usernet_serial", None)


def test_torch_names_ember_writes_are_torch_s(oracle):
    # every module class, optimizer, scheduler and functional ember would pickle by torch's name resolves in
    # torch to a namesake (a name ember chose wrongly would fail there, in real torch's load)
    import importlib

    from ember import serialization
    from ember.compat import ALIASES
    bases = (ember.nn.Module, ember.optim.Optimizer, ember.optim.lr_scheduler.LRScheduler)
    objs = [o for ns in (ember.nn, ember.optim, ember.optim.lr_scheduler) for o in vars(ns).values()
            if isinstance(o, type) and issubclass(o, bases)]
    objs += [o for ns in (ember.nn.functional, ember.nn.init) for k, o in vars(ns).items()
             if not k.startswith("_") and callable(o) and getattr(o, "__module__", "") == ns.__name__]
    objs.append(ember.nn.modules.linear.NonDynamicallyQuantizableLinear)
    serialization._torch_global(ember.nn.Linear, scan=True)   # (ember.optim is imported on first use)
    wrong = []
    for obj in objs:
        where = serialization._torch_global(obj, scan=False)
        assert where is not None and where[0] in ALIASES, obj
        found = getattr(importlib.import_module(where[0]), where[1], None)
        if found is None or isinstance(obj, type) and found.__name__ != obj.__name__:
            wrong.append(where)
    assert len(objs) > 150 and wrong == []
    assert serialization._torch_global(ember.nn.Linear, scan=False) == ("torch.nn.modules.linear", "Linear")
    assert serialization._torch_global(ember.nn.LazyLinear, scan=False) == ("torch.nn", "LazyLinear")
    # ember's internals keep ember's names: torch has nothing to build them as
    from ember.optim.optimizer import FlatState
    assert serialization._torch_global(FlatState, scan=False) is None


def test_vision_model_saved_whole_names_torchvision(tmp_path):
    from ember.vision.models import resnet
    from tests.conftest import real_torchvision
    block = resnet.BasicBlock(4, 4).eval()
    ember.save(block, tmp_path / "block.pt")
    modules = _pickle_globals(tmp_path / "block.pt")
    assert "torchvision.models.resnet" in modules and not [m for m in modules if m.startswith("ember")]
    back = ember.load(tmp_path / "block.pt", weights_only=False)   # torchvision's names read as ember.vision's
    x = ember.randn(1, 4, 5, 5)
    assert type(back) is resnet.BasicBlock and back(x).tolist() == block(x).tolist()
    tv_resnet = real_torchvision("torchvision.models.resnet")
    if tv_resnet is not None:
        from tests.conftest import torch
        loaded = torch.load(tmp_path / "block.pt", weights_only=False)
        assert type(loaded) is tv_resnet.BasicBlock
        np.testing.assert_allclose(loaded(torch.tensor(x.numpy())).detach().numpy(), block(x).detach().numpy(),
                                   rtol=0, atol=1e-6)


def test_whole_module_allowlisted_by_class_loads_weights_only(oracle, tmp_path):
    # torch's weights_only allowlist matches the pickle's name with the class's own (torch.nn.modules.linear)
    ember.save(ember.nn.Linear(2, 3), tmp_path / "ember.pt")
    oracle.save(oracle.nn.Linear(2, 3), tmp_path / "torch.pt")
    for lib in (ember, oracle):
        for path in (tmp_path / "ember.pt", tmp_path / "torch.pt"):
            with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.linear.Linear"):
                lib.load(path)
            with lib.serialization.safe_globals([lib.nn.Linear]):
                assert type(lib.load(path)) is lib.nn.Linear


def test_multihead_attention_pickles_under_torch_s_activation_file(oracle, tmp_path):
    # torch defines MultiheadAttention in nn/modules/activation.py (ember in attention.py): scripts allowlist it
    # by that name (pytorch/examples' word_language_model/generate.py), which must match the pickle's
    assert ember.nn.modules.activation.MultiheadAttention is ember.nn.MultiheadAttention
    ember.save(ember.nn.MultiheadAttention(4, 2), tmp_path / "ember.pt")
    oracle.save(oracle.nn.MultiheadAttention(4, 2), tmp_path / "torch.pt")
    assert "torch.nn.modules.activation" in _pickle_globals(tmp_path / "ember.pt")
    for lib in (ember, oracle):
        allowed = [lib.nn.modules.activation.MultiheadAttention, lib.nn.modules.linear.NonDynamicallyQuantizableLinear]
        for path in (tmp_path / "ember.pt", tmp_path / "torch.pt"):
            with lib.serialization.safe_globals(allowed):
                assert type(lib.load(path)) is lib.nn.MultiheadAttention


def test_torch_s_lazy_module_loads_though_ember_keeps_it_in_another_file(oracle, tmp_path):
    # torch names torch.nn.modules.linear.LazyLinear (and torch.utils.hooks.RemovableHandle for its hook)
    oracle.save(oracle.nn.LazyLinear(3), tmp_path / "lazy.pt")
    assert "torch.nn.modules.linear" in _pickle_globals(tmp_path / "lazy.pt")
    lazy = ember.load(tmp_path / "lazy.pt", weights_only=False)
    assert type(lazy) is ember.nn.LazyLinear
    assert lazy(ember.ones(2, 5)).shape == (2, 3) and type(lazy) is ember.nn.Linear and lazy.weight.shape == (3, 5)


def _mapping_of(array):
    """The mmap.mmap object an array's memory comes from, or None."""
    import mmap
    while array is not None and not isinstance(array, mmap.mmap):
        array = getattr(array, "base", None) if not isinstance(array, memoryview) else array.obj
    return array


def test_load_mmap_maps_storages_and_keeps_writes_private(tmp_path):
    path = tmp_path / "m.pt"
    w = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    ember.save({"w": ember.tensor(w), "v": ember.arange(6.0)[::2], "i": ember.arange(4)}, path)
    before = path.read_bytes()
    d = ember.load(path, mmap=True)
    assert _mapping_of(d["w"].numpy()) is not None and _mapping_of(d["v"].numpy()) is not None
    assert type(d["w"].numpy()) is np.ndarray   # (a plain array: the tensor's fast paths apply)
    np.testing.assert_array_equal(arr(d["w"]), w)
    assert arr(d["v"]).tolist() == [0.0, 2.0, 4.0] and d["i"].tolist() == [0, 1, 2, 3]
    d["w"].add_(1)
    assert path.read_bytes() == before   # MAP_PRIVATE: copy on write
    assert _mapping_of(ember.load(path)["w"].numpy()) is None


def test_load_mmap_shared_writes_reach_the_file_which_still_loads(tmp_path):
    import mmap
    path = tmp_path / "m.pt"
    ember.save({"w": ember.arange(6.0).reshape(2, 3)}, path)
    assert ember.serialization.get_default_mmap_options() == mmap.MAP_PRIVATE
    with ember.serialization.set_default_mmap_options(mmap.MAP_SHARED):
        assert ember.serialization.get_default_mmap_options() == mmap.MAP_SHARED
        d = ember.load(path, mmap=True)
        d["w"].mul_(10)
        del d
    assert ember.serialization.get_default_mmap_options() == mmap.MAP_PRIVATE
    # the storage's CRC-32 is cleared (the value no reader checks), so the changed file loads
    assert {i.CRC for i in zipfile.ZipFile(path).infolist() if "/data/" in i.filename} == {0}
    assert arr(ember.load(path)["w"]).ravel().tolist() == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]
    from tests.conftest import torch
    if torch is not None:
        assert torch.load(path)["w"].flatten().tolist() == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]


def test_load_mmap_refusals_as_torch(tmp_path):
    legacy = tmp_path / "legacy.pt"
    ember.save({"a": ember.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="mmap can only be used with files saved with .*legacy format"):
        ember.load(legacy, mmap=True)
    with open(legacy, "rb") as fh, pytest.raises(ValueError, match="f must be a file path in order to use"):
        ember.load(fh, mmap=True)
    with pytest.raises(ValueError, match="expected mmap.MAP_PRIVATE or mmap.MAP_SHARED, but got 5"):
        ember.serialization.set_default_mmap_options(5)
    assert arr(ember.load(legacy)["a"]).tolist() == [1.0, 1.0]
