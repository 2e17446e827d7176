"""A tiny CIFAR-10 / CIFAR-100 in the official python format, and a real HTTP server to download it from.

Reusable by any test (the spec run too):

    files = make_cifar10(tmp_path / "srv", n_train=20, n_test=8)
    with serve(tmp_path / "srv") as base_url:
        for name, value in files.attrs(base_url).items():
            monkeypatch.setattr(torchvision.datasets.CIFAR10, name, value)
        torchvision.datasets.CIFAR10(root=..., download=True)

The batch files are Python 2 pickles like the real ones: keys and strings are py2 ``str`` (they load
as ``str`` with ``encoding='latin1'`` and as ``bytes`` -- b'data', b'labels', b'batch_label',
b'filenames' -- with ``encoding='bytes'``), and ``data`` is a uint8 array (N, 3072), rows of
1024 red, 1024 green, 1024 blue values.
"""
import contextlib
import hashlib
import http.server
import os
import pickle
import socket
import struct
import tarfile
import threading
from types import SimpleNamespace

import numpy as np

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# ---- Python 2 style pickles ----------------------------------------------------------------------
def _py2_str(s):
    b = s.encode("latin1") if isinstance(s, str) else bytes(s)
    if len(b) < 256:
        return b"U" + bytes([len(b)]) + b            # SHORT_BINSTRING
    return b"T" + struct.pack("<I", len(b)) + b        # BINSTRING


def _py2_value(v):
    if isinstance(v, (str, bytes)):
        return _py2_str(v)
    if isinstance(v, bool) or v is None:
        raise TypeError("not needed for CIFAR")
    if isinstance(v, (int, np.integer)):
        return b"J" + struct.pack("<i", int(v))       # BININT
    if isinstance(v, list):
        if not v:
            return b"]"                                # EMPTY_LIST
        return b"](" + b"".join(_py2_value(x) for x in v) + b"e"   # EMPTY_LIST MARK ... APPENDS
    if isinstance(v, np.ndarray):
        body = pickle.dumps(v, protocol=2)
        assert body[:2] == b"\x80\x02" and body[-1:] == b"."
        return body[2:-1]  # its memo indices are its own; the outer pickle uses no memo
    raise TypeError(type(v))


def py2_pickle(d):
    """Bytes of a protocol-2 pickle of dict d as Python 2's cPickle writes it (py2 str keys/strings)."""
    out = [b"\x80\x02", b"}", b"("]                      # PROTO 2, EMPTY_DICT, MARK
    for k, v in d.items():
        out.append(_py2_str(k))
        out.append(_py2_value(v))
    out.append(b"u.")                                    # SETITEMS, STOP
    return b"".join(out)


def md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def _write(path, payload):
    with open(path, "wb") as f:
        f.write(payload)
    return md5(path)


def _images(rng, n):
    """n random HWC uint8 images and their rows in CIFAR's CHW-flattened layout."""
    hwc = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    rows = np.ascontiguousarray(hwc.transpose(0, 3, 1, 2).reshape(n, 3072))
    return hwc, rows


def _tar(root, folder_name, archive_name):
    path = os.path.join(root, archive_name)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(os.path.join(root, folder_name), arcname=folder_name)
    return path


def make_cifar10(root, n_train=20, n_test=8, seed=0, tarball=True):
    """Write root/cifar-10-batches-py (5 train batches sharing n_train images, 1 test batch) and, with
    tarball, root/cifar-10-python.tar.gz. Returns a namespace of paths, md5s, the images (HWC) and labels."""
    root = os.fspath(root)
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    train_hwc, train_rows = _images(rng, n_train)
    test_hwc, test_rows = _images(rng, n_test)
    train_labels = [int(x) for x in rng.integers(0, 10, n_train)]
    test_labels = [int(x) for x in rng.integers(0, 10, n_test)]

    train_list = []
    for b, idx in enumerate(np.array_split(np.arange(n_train), 5), start=1):
        entry = {"batch_label": f"training batch {b} of 5", "labels": [train_labels[i] for i in idx],
                 "data": train_rows[idx], "filenames": [f"img_{i:05d}.png" for i in idx]}
        name = f"data_batch_{b}"
        train_list.append([name, _write(os.path.join(folder, name), py2_pickle(entry))])
    entry = {"batch_label": "testing batch 1 of 1", "labels": test_labels, "data": test_rows,
             "filenames": [f"test_{i:05d}.png" for i in range(n_test)]}
    test_list = [["test_batch", _write(os.path.join(folder, "test_batch"), py2_pickle(entry))]]
    meta_payload = {"num_cases_per_batch": max(len(a) for a in np.array_split(np.arange(n_train), 5)),
                    "label_names": list(CIFAR10_CLASSES), "num_vis": 3072}
    meta = {"filename": "batches.meta", "key": "label_names",
            "md5": _write(os.path.join(folder, "batches.meta"), py2_pickle(meta_payload))}
    with open(os.path.join(folder, "readme.html"), "w") as f:
        f.write("<meta HTTP-EQUIV='REFRESH' content='0; url=http://www.cs.toronto.edu/~kriz/cifar.html'>\n")

    archive = tgz_md5 = None
    if tarball:
        archive = _tar(root, "cifar-10-batches-py", "cifar-10-python.tar.gz")
        tgz_md5 = md5(archive)
    return _Files(root=root, folder=folder, tarball=archive, filename="cifar-10-python.tar.gz",
                  base_folder="cifar-10-batches-py", tgz_md5=tgz_md5, train_list=train_list, test_list=test_list,
                  meta=meta, train_data=train_hwc, train_labels=train_labels, test_data=test_hwc,
                  test_labels=test_labels, classes=list(CIFAR10_CLASSES))


def make_cifar100(root, n_train=10, n_test=4, seed=0, tarball=True):
    """Like make_cifar10 for CIFAR-100's layout (files train/test/meta, fine and coarse labels)."""
    root = os.fspath(root)
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-100-python")
    os.makedirs(folder, exist_ok=True)
    fine_names = [f"fine{i:02d}" for i in range(100)]
    coarse_names = [f"coarse{i:02d}" for i in range(20)]
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        hwc, rows = _images(rng, n)
        fine = [int(x) for x in rng.integers(0, 100, n)]
        entry = {"filenames": [f"{split}_{i}.png" for i in range(n)], "batch_label": f"{split}ing batch 1 of 1",
                 "fine_labels": fine, "coarse_labels": [f // 5 for f in fine], "data": rows}
        out[split] = (hwc, fine, _write(os.path.join(folder, split), py2_pickle(entry)))
    meta = {"filename": "meta", "key": "fine_label_names",
            "md5": _write(os.path.join(folder, "meta"),
                          py2_pickle({"fine_label_names": fine_names, "coarse_label_names": coarse_names}))}
    archive = tgz_md5 = None
    if tarball:
        archive = _tar(root, "cifar-100-python", "cifar-100-python.tar.gz")
        tgz_md5 = md5(archive)
    return _Files(root=root, folder=folder, tarball=archive, filename="cifar-100-python.tar.gz",
                  base_folder="cifar-100-python", tgz_md5=tgz_md5, train_list=[["train", out["train"][2]]],
                  test_list=[["test", out["test"][2]]], meta=meta, train_data=out["train"][0],
                  train_labels=out["train"][1], test_data=out["test"][0], test_labels=out["test"][1],
                  classes=fine_names)


class _Files(SimpleNamespace):
    def attrs(self, base_url):
        """Class attributes that point a CIFAR class at this data served under base_url."""
        return {"url": f"{base_url.rstrip('/')}/{self.filename}", "tgz_md5": self.tgz_md5,
                "train_list": self.train_list, "test_list": self.test_list, "meta": self.meta}

    def dataset_class(self, cls, base_url):
        """A subclass of cls (CIFAR10/CIFAR100) with attrs(base_url) set."""
        return type(cls.__name__, (cls,), self.attrs(base_url))


# ---- a real HTTP server on 127.0.0.1 ------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's name
        srv = self.server
        srv.requests.append(self.path)
        path = os.path.join(srv.directory, self.path.split("?")[0].lstrip("/"))
        if not os.path.isfile(path):
            self.send_error(404, "Not Found")
            return
        with open(path, "rb") as f:
            data = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if srv.drop_after is not None:
            # announce the whole file, send part of it, then hang up
            self.wfile.write(data[:srv.drop_after])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(data)
        self.close_connection = True

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory, drop_after=None):
    """Serve directory's files over HTTP on 127.0.0.1 (an ephemeral port) in a thread; yields the base URL.
    With drop_after=N every response announces the full length but the connection closes after N bytes.
    The server object is available as the yielded string's .server (requests seen: .server.requests)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.directory = os.fspath(directory)
    server.drop_after = drop_after
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = _URL(f"http://127.0.0.1:{server.server_address[1]}/")
    url.server = server
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _URL(str):
    server = None


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens (connection refused), for offline tests."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


def snapshot(root):
    """{relative path: bytes or 'dir'} of everything under root (None when root does not exist)."""
    root = os.fspath(root)
    if not os.path.exists(root):
        return None
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        out[rel] = "dir"
        for name in filenames:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as f:
                out[os.path.join(rel, name)] = f.read()
    return out
