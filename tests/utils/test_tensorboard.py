"""torch.utils.tensorboard.SummaryWriter: event files read back by ember's own reader (framing,
CRCs, decoded values), by tensorboard's EventAccumulator when tensorboard is installed, and a
tutorial-style script run through `python -m ember run`."""
import glob
import os
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.utils.tensorboard import SummaryWriter
from ember.utils.tensorboard import summary as es
from ember.utils.tensorboard._crc32c import crc32c, masked_crc32c
from tests.lenet import make_net
from ember.utils.tensorboard._proto import HPARAMS_PLUGIN_DATA, decode, frame_record, read_events, read_records

ROOT = Path(__file__).resolve().parents[2]


def event_files(logdir):
    return sorted(glob.glob(os.path.join(str(logdir), "events.out.tfevents.*")))


def summaries(logdir):
    """[(step, value dict)] of every summary value in logdir's (single) event file."""
    (path,) = event_files(logdir)
    return [(e.get("step", 0), v) for e in read_events(path) if "summary" in e for v in e["summary"]["value"]]


def test_crc32c_known_vectors():
    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4 test vectors
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(b"6789", crc32c(b"12345")) == 0xE3069283
    crc = crc32c(b"abc")
    assert masked_crc32c(b"abc") == ((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def test_record_framing_and_crc_checks(tmp_path):
    data = b"hello tensorboard"
    rec = frame_record(data)
    assert struct.unpack("<Q", rec[:8])[0] == len(data)
    assert struct.unpack("<I", rec[8:12])[0] == masked_crc32c(rec[:8])
    assert rec[12:-4] == data and struct.unpack("<I", rec[-4:])[0] == masked_crc32c(data)
    assert read_records(rec + frame_record(b"")) == [data, b""]
    bad = bytearray(rec)
    bad[14] ^= 1
    with pytest.raises(ValueError, match="data CRC"):
        read_records(bytes(bad))
    with pytest.raises(ValueError, match="truncated"):
        read_records(rec[:-2])


def test_file_name_header_event_and_scalars(tmp_path):
    with SummaryWriter(tmp_path, filename_suffix=".v2") as w:
        for i in range(3):
            w.add_scalar("Loss/train", 1.0 / (i + 1), i)
        w.add_scalar("acc", ember.tensor(0.75), 10, walltime=123.5)
        w.add_scalar("acc", np.float64(0.5), 11, new_style=True, double_precision=True)
    (path,) = event_files(tmp_path)
    name = os.path.basename(path)
    parts = name.split(".")
    assert name.startswith("events.out.tfevents.") and name.endswith(".v2")
    assert len(parts[3]) == 10 and parts[3].isdigit() and str(os.getpid()) in parts
    events = read_events(path)
    assert events[0]["file_version"] == "brain.Event:2" and events[0]["wall_time"] > 1e9
    vals = [(e.get("step", 0), e["summary"]["value"][0]) for e in events[1:]]
    assert [(s, v["tag"], v["simple_value"]) for s, v in vals[:4]] == [
        (0, "Loss/train", 1.0), (1, "Loss/train", np.float32(0.5)), (2, "Loss/train", np.float32(1 / 3)),
        (10, "acc", 0.75)]
    assert events[4]["wall_time"] == 123.5
    step, v = vals[4]
    assert step == 11 and v["tensor"]["dtype"] == 2 and v["tensor"]["double_val"] == [0.5]
    assert v["metadata"]["plugin_data"]["plugin_name"] == "scalars"


def test_scalar_rejects_more_than_one_element(tmp_path):
    with SummaryWriter(tmp_path) as w, pytest.raises(AssertionError, match="one element"):
        w.add_scalar("x", ember.ones(3))


def test_default_log_dir_and_comment(tmp_path, monkeypatch):
    import socket
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.close()
    (run,) = os.listdir(tmp_path / "runs")
    assert run.endswith("_" + socket.gethostname() + "_lr0.1") and w.get_logdir() == os.path.join("runs", run)
    assert len(event_files(tmp_path / "runs" / run)) == 1


def test_events_wait_for_max_queue_or_flush(tmp_path):
    w = SummaryWriter(tmp_path, max_queue=3)
    (path,) = event_files(tmp_path)
    header = len(read_records(path))
    assert header == 1  # the file_version event is written at once
    w.add_scalar("a", 1.0, 1)
    w.add_scalar("a", 2.0, 2)
    assert len(read_records(path)) == 1
    w.add_scalar("a", 3.0, 3)  # the queue is full: all three are written
    assert len(read_records(path)) == 4
    w.add_scalar("a", 4.0, 4)
    w.flush()
    assert len(read_records(path)) == 5
    w.close()
    w.close()  # a second close does nothing


def test_pending_events_are_flushed_after_flush_secs(tmp_path):
    import time
    w = SummaryWriter(tmp_path, flush_secs=1)
    w.add_scalar("a", 1.0, 1)
    (path,) = event_files(tmp_path)
    assert len(read_records(path)) == 1
    deadline = time.monotonic() + 10
    while len(read_records(path)) == 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(read_records(path)) == 2  # written by the background flush, no call from the user
    w.close()


def test_unclosed_writer_is_flushed_at_exit(tmp_path):
    code = ("from ember.utils.tensorboard import SummaryWriter\n"
            f"w = SummaryWriter({str(tmp_path)!r})\nw.add_scalar('a', 2.5, 7)\n")
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert [(s, v["simple_value"]) for s, v in summaries(tmp_path)] == [(7, 2.5)]


def test_writing_after_close_opens_a_new_file(tmp_path):
    w = SummaryWriter(tmp_path)
    w.add_scalar("a", 1.0, 1)
    w.close()
    w.add_scalar("a", 2.0, 2)
    w.close()
    assert len(event_files(tmp_path)) == 2


def test_purge_step_writes_session_start(tmp_path):
    with SummaryWriter(tmp_path, purge_step=5) as w:
        w.add_scalar("a", 1.0, 5)
    events = read_events(event_files(tmp_path)[0])
    assert events[1] == {"wall_time": events[1]["wall_time"], "step": 5, "file_version": "brain.Event:2"}
    assert events[2]["step"] == 5 and events[2]["session_log"] == {"status": 1}


def test_add_scalars_writes_one_run_per_key(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for i in range(2):
            w.add_scalars("run/loss", {"train": 1.0 + i, "val": 2.0 + i}, i)
    for key, base in (("train", 1.0), ("val", 2.0)):
        sub = tmp_path / f"run_loss_{key}"
        assert [(s, v["tag"], v["simple_value"]) for s, v in summaries(sub)] == [
            (0, "run/loss", base), (1, "run/loss", base + 1)]


def test_histogram_values(tmp_path):
    x = ember.randn(1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("w", x, 3)
        w.add_histogram("w2", np.arange(10.0), 4, bins=10, max_bins=5)
    (s1, v1), (s2, v2) = summaries(tmp_path)
    a = x.numpy().astype(np.float64)
    h = v1["histo"]
    assert s1 == 3 and h["num"] == 1000 and h["min"] == a.min() and h["max"] == a.max()
    assert h["sum"] == pytest.approx(a.sum()) and h["sum_squares"] == pytest.approx((a * a).sum())
    assert sum(h["bucket"]) == 1000 and len(h["bucket"]) == len(h["bucket_limit"])
    assert h["bucket_limit"] == sorted(h["bucket_limit"]) and h["bucket_limit"][-1] >= a.max()
    h2 = v2["histo"]
    # 10 bins merged pairwise into 5, plus the empty bin that carries the leftmost limit
    assert s2 == 4 and h2["bucket"] == [0, 2, 2, 2, 2, 2] and h2["bucket_limit"] == [0, 1.8, 3.6, 5.4, 7.2, 9]


def _png(value):
    from PIL import Image
    import io
    return np.asarray(Image.open(io.BytesIO(value["image"]["encoded_image_string"])))


def test_images_chw_hwc_and_grid(tmp_path):
    pytest.importorskip("PIL")
    chw = np.zeros((3, 4, 5), np.float32)
    chw[0] = 1.0  # red, floats in [0, 1]
    hwc = np.full((4, 5, 1), 128, np.uint8)  # grey, uint8 as is
    batch = ember.rand(10, 1, 6, 7)
    with SummaryWriter(tmp_path) as w:
        w.add_image("red", ember.tensor(chw), 1)
        w.add_image("grey", hwc, 2, dataformats="HWC")
        w.add_images("batch", batch, 3)
    (_, red), (_, grey), (_, grid) = summaries(tmp_path)
    assert (red["image"]["height"], red["image"]["width"], red["image"]["colorspace"]) == (4, 5, 3)
    img = _png(red)
    assert img.shape == (4, 5, 3) and (img[..., 0] == 255).all() and (img[..., 1:] == 0).all()
    assert (_png(grey) == 128).all()
    g = _png(grid)  # 10 images, 8 per row: 2 rows of 8 columns
    assert g.shape == (12, 56, 3)
    want = (batch.numpy()[9, 0] * 255).clip(0, 255).astype(np.uint8)
    assert (g[6:12, 7:14, 0] == want).all() and (g[6:12, 14:, :] == 0).all()


def test_image_bad_dataformats(tmp_path):
    with SummaryWriter(tmp_path) as w, pytest.raises(AssertionError, match="input format are different"):
        w.add_image("x", np.zeros((3, 4, 5, 6)), dataformats="CHW")


def test_images_without_pillow_raise_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    with SummaryWriter(tmp_path) as w, pytest.raises(ImportError, match="needs Pillow.*pip install pillow"):
        w.add_image("x", np.zeros((3, 4, 4)))


def test_add_figure(tmp_path):
    pytest.importorskip("PIL")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(2, 1), dpi=50)
    plt.plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as w:
        w.add_figure("fig", fig, 5)
    assert not plt.fignum_exists(fig.number)  # closed by default
    ((step, v),) = summaries(tmp_path)
    assert step == 5 and _png(v).shape == (50, 100, 3)


def test_text_and_pr_curve(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("note", "héllo **md**", 1)
        w.add_pr_curve("cls", np.array([1, 0, 1, 1]), ember.tensor([0.9, 0.2, 0.6, 0.3]), 2, num_thresholds=5)
    (s1, t), (s2, p) = summaries(tmp_path)
    assert t["tag"] == "note/text_summary" and t["metadata"]["plugin_data"] == {"plugin_name": "text"}
    assert t["tensor"]["dtype"] == 7 and t["tensor"]["string_val"] == ["héllo **md**".encode()]
    assert p["metadata"]["plugin_data"]["plugin_name"] == "pr_curves"
    assert decode(p["metadata"]["plugin_data"]["content"], {2: ("n", "uint32", False)}) == {"n": 5}
    data = np.array(p["tensor"]["float_val"]).reshape(6, 5)
    assert [d["size"] for d in p["tensor"]["tensor_shape"]["dim"]] == [6, 5]
    assert data[0, 0] == 3 and data[1, 0] == 1  # at threshold 0 every prediction is positive


def test_hparams(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_hparams({"lr": 0.1, "bsize": 4, "opt": "sgd", "skip": None}, {"hparam/accuracy": 0.5},
                      hparam_domain_discrete={"opt": ["sgd", "adam"]}, run_name="r1")
        with pytest.raises(TypeError, match="should be dictionary"):
            w.add_hparams([("lr", 1)], {})
    vals = [v for _, v in summaries(tmp_path / "r1")]
    assert [v["tag"] for v in vals] == ["_hparams_/experiment", "_hparams_/session_start_info",
                                        "_hparams_/session_end_info", "hparam/accuracy"]
    pd = [decode(v["metadata"]["plugin_data"]["content"], HPARAMS_PLUGIN_DATA) for v in vals[:3]]
    exp = pd[0]["experiment"]
    assert [(h["name"], h["type"]) for h in exp["hparam_infos"]] == [("lr", 3), ("bsize", 3), ("opt", 1)]
    assert exp["hparam_infos"][2]["domain_discrete"]["values"] == [{"string_value": "sgd"}, {"string_value": "adam"}]
    assert exp["metric_infos"] == [{"name": {"tag": "hparam/accuracy"}}]
    assert {e["key"]: e["value"] for e in pd[1]["session_start_info"]["hparams"]} == {
        "lr": {"number_value": 0.1}, "bsize": {"number_value": 4.0}, "opt": {"string_value": "sgd"}}
    assert pd[2]["session_end_info"] == {"status": 1} and vals[3]["simple_value"] == 0.5


def test_add_embedding_writes_projector_files(tmp_path):
    pytest.importorskip("PIL")
    mat = ember.tensor([[1.0, 2.5], [3.0, -4.0], [0.5, 0.0]])
    imgs = ember.ones(3, 1, 4, 4)
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(mat, metadata=["a", "b", "c"], label_img=imgs, tag="feat/x")
        w.add_embedding(mat, global_step=7)
        with pytest.raises(AssertionError, match="#labels"):
            w.add_embedding(mat, metadata=["a"], global_step=8)
    sub = tmp_path / "00000" / "feat%2fx"
    assert (sub / "tensors.tsv").read_text() == "1.0\t2.5\n3.0\t-4.0\n0.5\t0.0\n"
    assert (sub / "metadata.tsv").read_text() == "a\nb\nc\n"
    from PIL import Image
    sprite = np.asarray(Image.open(sub / "sprite.png"))
    assert sprite.shape == (8, 8, 3) and (sprite[:4] == 255).all() and (sprite[4:, 4:] == 0).all()
    assert (tmp_path / "00007" / "default" / "tensors.tsv").exists()
    assert (tmp_path / "projector_config.pbtxt").read_text() == (
        'embeddings {\n  tensor_name: "feat/x:00000"\n  metadata_path: "00000/feat%2fx/metadata.tsv"\n'
        '  sprite {\n    image_path: "00000/feat%2fx/sprite.png"\n    single_image_dim: 4\n    single_image_dim: 4\n'
        '  }\n  tensor_path: "00000/feat%2fx/tensors.tsv"\n}\n'
        'embeddings {\n  tensor_name: "default:00007"\n  tensor_path: "00007/default/tensors.tsv"\n}\n')


def graph_nodes(logdir, wired=True):
    """{name: (op, inputs, shapes or None, attr)} of the one graph in logdir's event file, with the events;
    wired: check that every edge ends at a node (torch's GetAttr nodes read a module node it leaves out)."""
    from ember.utils.tensorboard._proto import GRAPH_DEF
    events = read_events(event_files(logdir)[0])
    (g,) = [decode(e["graph_def"], GRAPH_DEF) for e in events if "graph_def" in e]
    assert g["versions"] == {"producer": 22}
    nodes = {}
    for n in g["node"]:
        attr = {a["key"]: a["value"] for a in n.get("attr", [])}
        shapes = attr.get("_output_shapes")
        shapes = None if shapes is None else [[d.get("size", 0) for d in s.get("dim", [])]
                                              for s in shapes["list"]["shape"]]
        assert n["name"] not in nodes
        nodes[n["name"]] = (n["op"], n.get("input", []), shapes, attr["attr"]["s"].decode())
    for name, (_, inputs, _, _) in nodes.items():
        assert not wired or all(i in nodes for i in inputs), (name, inputs)
    return nodes, events


def tensor_edges(nodes):
    """[(name, op, shapes, [inputs that carry tensors])] of the op nodes (constants and lists left out)."""
    skip = ("prim::Constant", "prim::ListConstruct", "prim::GetAttr", "IO Node")
    return [(name, op, shapes, [i for i in inputs if nodes[i][0] not in ("prim::Constant", "prim::ListConstruct")])
            for name, (op, inputs, shapes, _) in nodes.items() if op not in skip]


def test_add_graph_lenet_nodes_scopes_edges_shapes(tmp_path):
    from ember.utils.tensorboard._proto import RUN_METADATA
    net = make_net(ember)
    net.train()
    with SummaryWriter(tmp_path) as w:
        w.add_graph(net, ember.rand(4, 3, 32, 32))
    assert net.training  # traced in eval mode, then put back
    nodes, events = graph_nodes(tmp_path)
    (meta,) = [e["tagged_run_metadata"] for e in events if "tagged_run_metadata" in e]
    assert meta["tag"] == "step1"
    assert decode(meta["run_metadata"], RUN_METADATA) == {"step_stats": {"dev_stats": [{"device": "/device:CPU:0"}]}}
    assert list(nodes)[:2] == ["input/x", "output/output.1"]
    assert nodes["input/x"] == ("IO Node", [], [[4, 3, 32, 32]], "")
    conv1, relu1, pool1, conv2, relu2, pool2, view, fc1, relu3, fc2, relu4, fc3 = tensor_edges(nodes)
    assert nodes["output/output.1"] == ("IO Node", [fc3[0]], [[4, 10]], "")
    want = [(conv1, "Net/Conv2d[conv1]", "aten::_convolution", [4, 6, 28, 28]),
            (relu1, "Net", "aten::relu", [4, 6, 28, 28]),
            (pool1, "Net/MaxPool2d[pool]", "aten::max_pool2d", [4, 6, 14, 14]),
            (conv2, "Net/Conv2d[conv2]", "aten::_convolution", [4, 16, 10, 10]),
            (relu2, "Net", "aten::relu", [4, 16, 10, 10]),
            (pool2, "Net/MaxPool2d[pool]", "aten::max_pool2d", [4, 16, 5, 5]),
            (view, "Net", "aten::view", [4, 400]), (fc1, "Net/Linear[fc1]", "aten::linear", [4, 120]),
            (relu3, "Net", "aten::relu", [4, 120]), (fc2, "Net/Linear[fc2]", "aten::linear", [4, 84]),
            (relu4, "Net", "aten::relu", [4, 84]), (fc3, "Net/Linear[fc3]", "aten::linear", [4, 10])]
    for (name, op, shapes, _), scope, want_op, shape in want:
        assert name.rsplit("/", 1)[0] == scope and op == want_op and shapes == [shape], name
    # edges: each op reads the one before it; layers read their own parameters
    for (node, *_), (prev, *_) in zip(want[1:], want):
        assert node[3][0] == prev[0]
    assert conv1[3][0] == "input/x"
    for layer, node in (("conv1", conv1), ("conv2", conv2), ("fc1", fc1), ("fc2", fc2), ("fc3", fc3)):
        param = getattr(net, layer).weight
        weight, bias = node[3][1:]
        assert nodes[weight] == ("prim::GetAttr", [], [list(param.shape)], "{ name :  weight }")
        assert weight.rsplit("/", 1)[0] == bias.rsplit("/", 1)[0] == node[0].rsplit("/", 1)[0]
        assert nodes[bias][2] == [[param.shape[0]]]
    # the view's size and the convolution's stride come in as a list of constants
    (size,) = [i for i in nodes[view[0]][1] if nodes[i][0] == "prim::ListConstruct"]
    assert [nodes[c][3] for c in nodes[size][1]] == ["{ value : -1}", "{ value : 400}"]
    assert sum(op == "prim::GetAttr" for op, *_ in nodes.values()) == 10


class TwoHeads(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = ember.nn.Linear(3, 2)
        self.seq = ember.nn.Sequential(ember.nn.Linear(2, 2), ember.nn.ReLU())

    def forward(self, a, b, unused=None):
        h = self.seq(self.lin(a)) * 2
        if h.sum() > -1e9:  # data-dependent: the branch taken is traced, as jit.trace does
            h = h - 1
        h[0] = 0
        return h + b, h.max(1)


def test_add_graph_several_inputs_tuple_output_and_control_flow(tmp_path, capsys):
    with SummaryWriter(tmp_path) as w:
        w.add_graph(TwoHeads(), (ember.rand(4, 3), ember.rand(4, 2), ember.rand(1)), verbose=True)
    assert "aten::linear" in capsys.readouterr().out
    nodes, _ = graph_nodes(tmp_path)
    assert [n for n, (op, *_) in nodes.items() if op == "IO Node"] == ["input/a", "input/b", "output/output.1"]
    ops = [(name.rsplit("/", 1)[0], op, shapes) for name, op, shapes, _ in tensor_edges(nodes)]
    assert ops == [("TwoHeads/Linear[lin]", "aten::linear", [[4, 2]]),
                   ("TwoHeads/Sequential[seq]/Linear[0]", "aten::linear", [[4, 2]]),
                   ("TwoHeads/Sequential[seq]/ReLU[1]", "aten::relu", [[4, 2]]),
                   ("TwoHeads", "aten::mul", [[4, 2]]), ("TwoHeads", "aten::sum", [[]]),
                   ("TwoHeads", "aten::gt", [[]]), ("TwoHeads", "aten::sub", [[4, 2]]),
                   ("TwoHeads", "aten::copy_", [[4, 2]]), ("TwoHeads", "aten::add", [[4, 2]]),
                   ("TwoHeads", "aten::max", [[4]]), ("TwoHeads", "aten::max", [[4]]),
                   ("TwoHeads", "prim::TupleConstruct", None), ("TwoHeads", "prim::TupleConstruct", None)]
    edges = {name: inputs for name, _, _, inputs in tensor_edges(nodes)}
    (add,) = [n for n in edges if nodes[n][0] == "aten::add"]
    copy, = [n for n in edges if nodes[n][0] == "aten::copy_"]
    assert edges[add] == [copy, "input/b"]  # the add reads h after the in-place write
    (src,) = nodes["output/output.1"][1]
    assert nodes[src][0] == "prim::TupleConstruct" and nodes[src][1][0] == add
    assert nodes[nodes[src][1][1]][0] == "prim::TupleConstruct"  # (values, indices) of max


class ResidualBlock(ember.nn.Module):
    """torchvision's BasicBlock: the skip connection joins the second batch norm in place."""

    def __init__(self, c=4):
        super().__init__()
        nn = ember.nn
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        out += x
        return self.relu(out)


def test_add_graph_residual_block_and_lstm(tmp_path):
    lstm = ember.nn.Sequential(ember.nn.LSTM(3, 4, batch_first=True))
    with SummaryWriter(tmp_path) as w:
        w.add_graph(ResidualBlock(), ember.rand(1, 4, 5, 5))
    nodes, _ = graph_nodes(tmp_path)
    edges = {name: inputs for name, _, _, inputs in tensor_edges(nodes)}
    assert [nodes[n][0] for n in edges] == ["aten::_convolution", "aten::batch_norm", "aten::relu",
                                            "aten::_convolution", "aten::batch_norm", "aten::add_", "aten::relu"]
    (add,) = [n for n in edges if n == "ResidualBlock/add_"]
    assert edges[add] == ["ResidualBlock/BatchNorm2d[bn2]/batch_norm", "input/x"]  # the skip connection
    assert edges["ResidualBlock/ReLU[relu]/relu.1"] == [add]  # one ReLU module, called twice
    bn = nodes["ResidualBlock/BatchNorm2d[bn1]/batch_norm"][1]
    assert [nodes[i][3] for i in bn[1:5]] == [f"{{ name :  {a} }}" for a in ("running_mean", "running_var",
                                                                            "weight", "bias")]
    with SummaryWriter(tmp_path / "lstm") as w:
        w.add_graph(lstm, ember.rand(2, 5, 3))
    nodes, _ = graph_nodes(tmp_path / "lstm")
    # the recurrence runs in rnn.py's private kernel: it is the aten::lstm node, reading the weights as a list
    run = [(n, inputs, shapes) for n, (op, inputs, shapes, _) in nodes.items() if op == "aten::lstm"]
    assert [shapes for *_, shapes in run] == [[[5, 2, 4]], [[2, 4]], [[2, 4]]]  # output, h_n, c_n of the layer
    params, x = run[0][1][:2]
    assert nodes[params][0] == "prim::ListConstruct" and len(nodes[params][1]) == 4
    assert all(nodes[p][0] == "prim::GetAttr" and p.startswith("Sequential/LSTM[0]/") for p in nodes[params][1])
    assert nodes[x][0] == "aten::transpose" and nodes[x][1][0] == "input/input"  # batch_first


def test_add_graph_input_forms_and_what_cannot_be_traced(tmp_path, capsys):
    class DictOut(ember.nn.Module):
        def forward(self, x):
            return {"y": x + 1}

    class NoneOut(ember.nn.Module):
        def forward(self, x):
            return x + 1, None

    lin = ember.nn.Linear(3, 2)
    with SummaryWriter(tmp_path / "list") as w:
        w.add_graph(lin, [ember.rand(1, 3)])  # a list holds the positional inputs, as jit.trace's
    assert "input/input" in graph_nodes(tmp_path / "list")[0]
    with SummaryWriter(tmp_path / "dict") as w:
        with pytest.raises(RuntimeError, match="Encountering a dict at the output of the tracer"):
            w.add_graph(DictOut(), ember.rand(2))
        assert capsys.readouterr().out.endswith("Error occurs, No graph saved\n")
        with pytest.raises(RuntimeError, match="input_to_model is None"):
            w.add_graph(lin)
        with pytest.raises(RuntimeError, match="Only tensors.*returned a NoneType"):
            w.add_graph(NoneOut(), ember.rand(2))
        w.add_graph(DictOut(), ember.rand(2), use_strict_trace=False)
    nodes, _ = graph_nodes(tmp_path / "dict")
    assert nodes[nodes["output/output.1"][1][0]][0] == "prim::DictConstruct"

    class Opaque(ember.nn.Module):
        def forward(self, x):
            import concurrent.futures
            with concurrent.futures.ThreadPoolExecutor(1) as pool:  # ops on another thread are not seen
                return pool.submit(ember.relu, x).result()

    class Custom(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class UsesCustom(ember.nn.Module):
        def forward(self, x):
            return Custom.apply(x).relu()

    with SummaryWriter(tmp_path / "custom") as w:
        w.add_graph(UsesCustom(), ember.rand(2))
    with SummaryWriter(tmp_path / "opaque") as w, pytest.warns(UserWarning, match="could not trace Opaque"):
        w.add_graph(Opaque(), ember.rand(2))
    nodes, _ = graph_nodes(tmp_path / "custom")
    python_op, relu = tensor_edges(nodes)
    assert python_op[1] == "prim::PythonOp" and nodes[python_op[0]][3] == "{ name :  Custom }"
    assert relu[3] == [python_op[0]]  # the op inside the Function is no node of its own


# --- oracles: real torch's summary builders and tensorboard's reader (skip without tensorboard) -----

def _tensorboard():
    return pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def test_summaries_match_torch_byte_for_byte(oracle):
    _tensorboard()
    pytest.importorskip("PIL")
    from torch.utils.tensorboard import summary as ts
    from ember.utils.tensorboard.writer import _default_bins
    rng = np.random.default_rng(0)
    x = rng.standard_normal(500).astype(np.float32)
    img = rng.random((3, 6, 9)).astype(np.float32)
    imgs = (rng.random((5, 1, 4, 3)) * 255).astype(np.uint8)
    labels, preds = rng.integers(0, 2, 50), rng.random(50)
    pairs = [
        (ts.scalar("a", 0.3), es.scalar("a", 0.3)),
        (ts.scalar("a", 0.3, new_style=True), es.scalar("a", 0.3, new_style=True)),
        (ts.histogram("h", x, _default_bins()), es.histogram("h", x, _default_bins())),
        (ts.histogram("h", x, "auto", max_bins=4), es.histogram("h", x, "auto", max_bins=4)),
        (ts.image("i", img, dataformats="CHW"), es.image("i", img, dataformats="CHW")),
        (ts.image("i", imgs, dataformats="NCHW"), es.image("i", imgs, dataformats="NCHW")),
        (ts.text("t", "héllo"), es.text("t", "héllo")),
        (ts.pr_curve("p", labels, preds, 20), es.pr_curve("p", labels, preds, 20)),
        (ts.tensor_proto("t", oracle.arange(6.0).reshape(2, 3)),
         es.tensor_proto("t", np.arange(6.0, dtype=np.float32).reshape(2, 3))),
    ]
    for i, (want, got) in enumerate(pairs):
        assert want.SerializeToString() == got, i
    # protobuf writes map entries (the session's hparams) in hash order: compare the parsed messages
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
    hp = ({"lr": 0.1, "opt": "sgd", "n": 0, "on": True}, {"acc": 0.5}, {"opt": ["sgd", "adam"]})
    for want, got in zip(ts.hparams(*hp), es.hparams(*hp)):
        parsed = Summary()
        parsed.ParseFromString(got)
        assert parsed.value[0].tag == want.value[0].tag
        data = [HParamsPluginData(), HParamsPluginData()]
        data[0].ParseFromString(want.value[0].metadata.plugin_data.content)
        data[1].ParseFromString(parsed.value[0].metadata.plugin_data.content)
        assert data[0] == data[1] and data[0].WhichOneof("data") == data[1].WhichOneof("data")


def test_tensorboard_event_accumulator_reads_ember_files(tmp_path):
    ea_mod = _tensorboard()
    pytest.importorskip("PIL")
    with SummaryWriter(tmp_path) as w:
        for i in range(4):
            w.add_scalar("loss", 1.0 / (i + 1), i)
        w.add_histogram("w", np.arange(100.0), 2)
        w.add_image("img", np.ones((3, 4, 6), np.float32), 3)
        w.add_text("note", "hi", 1)
    acc = ea_mod.EventAccumulator(str(tmp_path), size_guidance={ea_mod.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    assert tags["scalars"] == ["loss"] and tags["histograms"] == ["w"] and tags["images"] == ["img"]
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(0, 1.0), (1, 0.5), (2, np.float32(1 / 3)),
                                                                (3, 0.25)]
    (h,) = acc.Histograms("w")
    assert h.step == 2 and h.histogram_value.num == 100 and h.histogram_value.max == 99
    (im,) = acc.Images("img")
    assert (im.step, im.width, im.height) == (3, 6, 4) and im.encoded_image_string.startswith(b"\x89PNG")
    (t,) = acc.Tensors("note/text_summary")
    assert t.tensor_proto.string_val == [b"hi"]


def test_tensorboard_reads_the_graph_as_torch_writes_it(tmp_path, oracle):
    ea_mod = _tensorboard()
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.graph import graphs_plugin
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    with SummaryWriter(tmp_path / "ember") as w:
        w.add_graph(make_net(ember), ember.rand(4, 3, 32, 32))
    acc = ea_mod.EventAccumulator(str(tmp_path / "ember"))
    acc.Reload()
    assert acc.Tags()["graph"] and acc.Tags()["run_metadata"] == ["step1"]
    assert acc.RunMetadata("step1").step_stats.dev_stats[0].device == "/device:CPU:0"
    assert [n.name for n in acc.Graph().node] == list(graph_nodes(tmp_path / "ember")[0])
    # the Graphs tab's own route: it finds the run's graph and serves it
    mux = plugin_event_multiplexer.EventMultiplexer()
    mux.AddRunsFromDirectory(str(tmp_path / "ember"))
    mux.Reload()
    provider = data_provider.MultiplexerDataProvider(mux, str(tmp_path / "ember"))
    plugin = graphs_plugin.GraphsPlugin(base_plugin.TBContext(data_provider=provider))
    ctx = context.RequestContext()
    assert plugin.info_impl(ctx, "")["."]["run_graph"]
    body, mime = plugin.graph_impl(ctx, ".", None, False, "")
    assert mime == "text/x-protobuf" and 'op: "aten::_convolution"' in body

    with TorchWriter(str(tmp_path / "torch")) as tw:
        tw.add_graph(make_net(oracle), oracle.rand(4, 3, 32, 32))
    ours, theirs = graph_nodes(tmp_path / "ember")[0], graph_nodes(tmp_path / "torch", wired=False)[0]

    def picture(nodes, param_depth):
        """The ops with their scopes, shapes and the ops feeding them; the parameters with their modules
        (torch puts each GetAttr node one group deeper: Net/Conv2d[conv1]/weight/weight.5)."""
        ops = [(name.rsplit("/", 1)[0], op, shapes, [nodes[i][0] for i in inputs])
               for name, op, shapes, inputs in tensor_edges(nodes)]
        params = sorted((name.rsplit("/", param_depth)[0], attr)
                        for name, (op, _, _, attr) in nodes.items() if op == "prim::GetAttr")
        io = [(op, shapes) for op, _, shapes, _ in nodes.values() if op == "IO Node"]
        return ops, params, io

    assert picture(ours, 1) == picture(theirs, 2)
    constants = ("prim::Constant", "prim::ListConstruct")
    assert (sum(op not in constants for op, *_ in ours.values())
            == sum(op not in constants for op, *_ in theirs.values()) == 24)


def test_projector_config_parses_as_protobuf_text(tmp_path):
    _tensorboard()
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(np.eye(3), metadata=[1, 2, 3], label_img=np.zeros((3, 1, 2, 5)), tag='we"ird')
    cfg = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(), ProjectorConfig())
    assert cfg.embeddings[0].tensor_name == 'we"ird:00000'
    assert cfg.embeddings[0].metadata_path == '00000/we"ird/metadata.tsv'
    assert text_format.MessageToString(cfg) == (tmp_path / "projector_config.pbtxt").read_text()


# --- the tutorial, through the torch alias --------------------------------------------------------

def test_tutorial_style_script_under_ember_run(tmp_path):
    pytest.importorskip("PIL")
    script = tmp_path / "tb.py"
    script.write_text(
        "import torch, torch.nn as nn, torch.nn.functional as F, torch.optim as optim\n"
        "import torchvision\n"
        "from torch.utils.tensorboard import SummaryWriter\n"
        "torch.manual_seed(0)\n"
        "writer = SummaryWriter('runs/fashion_mnist_experiment_1')\n"
        "images = torch.rand(4, 1, 28, 28)\n"
        "img_grid = torchvision.utils.make_grid(images)\n"
        "writer.add_image('four_fashion_mnist_images', img_grid)\n"
        "net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))\n"
        "opt = optim.SGD(net.parameters(), lr=0.1)\n"
        "running_loss = 0.0\n"
        "for i in range(6):\n"
        "    opt.zero_grad()\n"
        "    loss = F.cross_entropy(net(images), torch.tensor([0, 1, 2, 3]))\n"
        "    loss.backward(); opt.step()\n"
        "    running_loss += loss.item()\n"
        "    if i % 2 == 1:\n"
        "        writer.add_scalar('training loss', running_loss / 2, i)\n"
        "        running_loss = 0.0\n"
        "writer.add_histogram('fc.weight', net[1].weight, 5)\n"
        "writer.add_embedding(images.view(-1, 28 * 28), metadata=['a', 'b', 'c', 'd'], label_img=images)\n"
        "writer.add_graph(net, images)\n"
        "writer.close()\n"
        "print('ok')\n")
    proc = subprocess.run([sys.executable, "-m", "ember", "run", str(script)], cwd=tmp_path,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"
    run = tmp_path / "runs" / "fashion_mnist_experiment_1"
    vals = summaries(run)
    assert [v["tag"] for _, v in vals] == ["four_fashion_mnist_images", "training loss", "training loss",
                                          "training loss", "fc.weight"]
    (_, grid) = vals[0]
    assert (grid["image"]["height"], grid["image"]["width"]) == (32, 122)  # make_grid pads by 2
    losses = [v["simple_value"] for _, v in vals[1:4]]
    assert losses[0] > losses[-1] > 0
    assert vals[4][1]["histo"]["num"] == 7840
    assert (run / "projector_config.pbtxt").exists() and (run / "00000" / "default" / "sprite.png").exists()
    ops = [(name, op) for name, (op, *_) in graph_nodes(run)[0].items() if op.startswith("aten::")]
    assert ops == [("Sequential/Flatten[0]/flatten", "aten::flatten"), ("Sequential/Linear[1]/linear", "aten::linear")]
