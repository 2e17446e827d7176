"""A real HTTP server on 127.0.0.1 for hub downloads, and an isolated hub cache.

`serve()` answers from a dict of routes (path with query -> bytes, or (status, bytes[, headers]));
every request is recorded, so a test can tell a cache hit from a download.  `hub_home` points
TORCH_HOME (and any set_dir) at tmp_path for ember and, when installed, torch: no test touches
the user's real ~/.cache/torch.
"""
import contextlib
import hashlib
import http.server
import io
import json
import socket
import threading
import zipfile

import pytest


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's name
        srv = self.server
        srv.requests.append((self.path, dict(self.headers)))
        route = srv.routes.get(self.path, srv.routes.get(self.path.split("?")[0]))
        if route is None:
            self.send_error(404, "Not Found")
            return
        status, body, headers = (200, route, {}) if isinstance(route, bytes) else (route + ({},))[:3]
        headers = dict(headers)  # the route is reused: pop from a copy
        if status >= 400:
            self.send_error(status)
            return
        announced = headers.pop("Content-Length", len(body))
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", "application/octet-stream"))
        self.send_header("Content-Length", str(announced))
        self.send_header("Connection", "close")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True
        if announced != len(body):  # a truncated transfer: hang up early
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def log_message(self, *args):
        pass


class _Server:
    def __init__(self, server):
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.routes = server.routes
        self.requests = server.requests

    def paths(self):
        """The request paths seen so far."""
        return [p for p, _ in self.requests]


@contextlib.contextmanager
def serve(routes=None):
    """Serve routes over HTTP on an ephemeral 127.0.0.1 port in a thread; yields the server (.url, .routes,
    .requests)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.routes = dict(routes or {})
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield _Server(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def http_server():
    """A running server (see serve); tests add routes to .routes."""
    with serve() as srv:
        yield srv


@pytest.fixture
def hub_home(tmp_path, monkeypatch):
    """TORCH_HOME = tmp_path/torch_home for ember (and torch), with set_dir undone; yields the hub dir."""
    import ember.hub
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("TORCH_HUB", raising=False)
    monkeypatch.delenv("TORCH_MODEL_ZOO", raising=False)
    monkeypatch.setattr(ember.hub, "_hub_dir", None)
    try:
        import torch.hub
        if not getattr(torch, "__ember__", False):
            monkeypatch.setattr(torch.hub, "_hub_dir", None)
    except ImportError:
        pass
    return home / "hub"


def sha256(data):
    """Hex SHA256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def zip_bytes(files):
    """A zip archive (bytes) holding files: {name: bytes}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def as_json(obj):
    """A JSON route."""
    return (200, json.dumps(obj).encode(), {"Content-Type": "application/json; charset=utf-8"})
