"""Key-value stores (torch.distributed's Store API): HashStore in one process, FileStore in a
file shared by the processes of one machine, TCPStore served over TCP, PrefixStore on top of any.

Keys are str, values bytes (a str value is stored UTF-8 encoded).  ``get`` and ``wait`` block
until the keys exist, raising DistStoreError past the store's timeout.  init_process_group still
runs on MPI: a store passed to it is accepted and not needed.
"""
import errno
import os
import socket
import socketserver
import struct
import threading
import time
from datetime import timedelta

_DEFAULT_TIMEOUT = timedelta(seconds=300)
_POLL_S = 0.002


def _errors():
    from .distributed_c10d import DistNetworkError, DistStoreError
    return DistStoreError, DistNetworkError


def _key(key, what):
    if not isinstance(key, str):
        raise TypeError(f"{what}: key must be a str, got {type(key).__name__}")
    return key


def _keys(keys, what):
    if isinstance(keys, str) or not isinstance(keys, (list, tuple)):
        raise TypeError(f"{what}: keys must be a list of str, got {type(keys).__name__} (wrap one key in a list)")
    return [_key(k, what) for k in keys]


def _value(value, what):
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return bytes(value)  # torch accepts a list of byte values too
    raise TypeError(f"{what}: value must be str or bytes, got {type(value).__name__} (str(value) stores it "
                    "as text)")


def _as_int(current, key, what):
    try:
        return int(current.decode())
    except (UnicodeDecodeError, ValueError):
        raise ValueError(f"{what}: the value of key {key!r} is {current[:40]!r}, not an integer: add() "
                         "needs a key holding a decimal integer (or a new key)") from None


def _compare_set(current, expected, desired):
    """torch's compare_set rule: (new value or None to leave it, the value to return)."""
    if current is None:
        return (desired, desired) if expected == b"" else (None, expected)
    return (desired, desired) if current == expected else (None, current)


def _timeout_s(timeout, what):
    if not isinstance(timeout, timedelta):
        raise TypeError(f"{what}: timeout must be a datetime.timedelta, got {type(timeout).__name__}")
    return timeout.total_seconds()


class Store:
    """The key-value store interface every store implements."""

    def __init__(self, timeout=_DEFAULT_TIMEOUT):
        self._timeout = timeout

    @property
    def timeout(self):
        """How long get() and wait() block before raising DistStoreError."""
        return self._timeout

    def set_timeout(self, timeout):
        """Set the timeout of get() and wait()."""
        _timeout_s(timeout, f"{type(self).__name__}.set_timeout")
        self._timeout = timeout

    def has_extended_api(self):
        """True: append, multi_get and multi_set are available."""
        return True

    def append(self, key, value):
        """Append value to key's value (creating the key)."""
        what = f"{type(self).__name__}.append"
        self._append(_key(key, what), _value(value, what))

    def multi_get(self, keys):
        """The values of several keys (waiting for all of them)."""
        keys = _keys(keys, f"{type(self).__name__}.multi_get")
        self.wait(keys)
        return [self.get(k) for k in keys]

    def multi_set(self, keys, values):
        """Set several keys."""
        what = f"{type(self).__name__}.multi_set"
        keys = _keys(keys, what)
        if len(keys) != len(values):
            raise ValueError(f"{what}: {len(keys)} keys but {len(values)} values")
        for k, v in zip(keys, values):
            self.set(k, v)

    def _wait_timeout(self, keys, seconds, what):
        DistStoreError, _ = _errors()
        return DistStoreError(
            f"Wait timeout after {int(round(seconds * 1000))}ms, keys: {keys} ({what}: no process set "
            f"{'this key' if len(keys) == 1 else 'these keys'} in time; check that the process meant to "
            "set them runs and uses the same store and key names, or raise the store's timeout)")


class HashStore(Store):
    """An in-memory store shared by the threads of one process."""

    def __init__(self):
        super().__init__()
        self._data = {}
        self._cond = threading.Condition()

    def set(self, key, value):
        """Set key to value."""
        key, value = _key(key, "HashStore.set"), _value(value, "HashStore.set")
        with self._cond:
            self._data[key] = value
            self._cond.notify_all()

    def get(self, key):
        """key's value (bytes), waiting up to the timeout for it to be set."""
        key = _key(key, "HashStore.get")
        self._wait([key], self._timeout, "HashStore.get")
        with self._cond:
            return self._data[key]

    def add(self, key, amount):
        """Add amount to key's integer value (0 when new); returns the new value."""
        key = _key(key, "HashStore.add")
        with self._cond:
            current = self._data.get(key)
            value = (0 if current is None else _as_int(current, key, "HashStore.add")) + int(amount)
            self._data[key] = str(value).encode()
            self._cond.notify_all()
            return value

    def compare_set(self, key, expected_value, desired_value):
        """Set key to desired_value if its value is expected_value (or it is new and expected is
        empty); returns the key's value afterwards (expected_value when the key is missing)."""
        what = "HashStore.compare_set"
        key, expected, desired = _key(key, what), _value(expected_value, what), _value(desired_value, what)
        with self._cond:
            new, result = _compare_set(self._data.get(key), expected, desired)
            if new is not None:
                self._data[key] = new
                self._cond.notify_all()
            return result

    def _append(self, key, value):
        with self._cond:
            self._data[key] = self._data.get(key, b"") + value
            self._cond.notify_all()

    def check(self, keys):
        """True when every key is set (never waits)."""
        keys = _keys(keys, "HashStore.check")
        with self._cond:
            return all(k in self._data for k in keys)

    def wait(self, keys, timeout=None):
        """Block until every key is set (raising DistStoreError past the timeout)."""
        self._wait(_keys(keys, "HashStore.wait"), self._timeout if timeout is None else timeout, "HashStore.wait")

    def _wait(self, keys, timeout, what):
        seconds = _timeout_s(timeout, what)
        deadline = time.monotonic() + seconds
        with self._cond:
            while not all(k in self._data for k in keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._wait_timeout([k for k in keys if k not in self._data], seconds, what)
                self._cond.wait(left)

    def delete_key(self, key):
        """Remove key; True when it existed."""
        key = _key(key, "HashStore.delete_key")
        with self._cond:
            return self._data.pop(key, None) is not None

    def num_keys(self):
        """The number of keys set."""
        with self._cond:
            return len(self._data)

    def list_keys(self):
        """Every key set."""
        with self._cond:
            return list(self._data)


class PrefixStore(Store):
    """A view of another store whose keys all start with ``prefix + '/'``."""

    def __init__(self, prefix, store):
        if not isinstance(store, Store):
            raise TypeError(f"PrefixStore: store must be a Store (HashStore, FileStore, TCPStore, "
                            f"PrefixStore), got {type(store).__name__}")
        super().__init__(store.timeout)
        self._prefix = str(prefix)
        self._store = store

    @property
    def underlying_store(self):
        """The store this one prefixes."""
        return self._store

    @property
    def timeout(self):
        """The underlying store's timeout."""
        return self._store.timeout

    def set_timeout(self, timeout):
        """Set the underlying store's timeout."""
        self._store.set_timeout(timeout)

    def _k(self, key, what):
        return f"{self._prefix}/{_key(key, what)}"

    def set(self, key, value):
        """Set prefix/key."""
        self._store.set(self._k(key, "PrefixStore.set"), value)

    def get(self, key):
        """prefix/key's value."""
        return self._store.get(self._k(key, "PrefixStore.get"))

    def add(self, key, amount):
        """Add to prefix/key's integer value."""
        return self._store.add(self._k(key, "PrefixStore.add"), amount)

    def compare_set(self, key, expected_value, desired_value):
        """compare_set on prefix/key."""
        return self._store.compare_set(self._k(key, "PrefixStore.compare_set"), expected_value, desired_value)

    def _append(self, key, value):
        self._store.append(self._k(key, "PrefixStore.append"), value)

    def append(self, key, value):
        """Append to prefix/key's value."""
        self._store.append(self._k(key, "PrefixStore.append"), value)

    def check(self, keys):
        """True when every prefix/key is set."""
        return self._store.check([self._k(k, "PrefixStore.check") for k in _keys(keys, "PrefixStore.check")])

    def wait(self, keys, timeout=None):
        """Block until every prefix/key is set."""
        keys = [self._k(k, "PrefixStore.wait") for k in _keys(keys, "PrefixStore.wait")]
        self._store.wait(keys) if timeout is None else self._store.wait(keys, timeout)

    def delete_key(self, key):
        """Remove prefix/key; True when it existed."""
        return self._store.delete_key(self._k(key, "PrefixStore.delete_key"))

    def num_keys(self):
        """The underlying store's number of keys (as torch: not only this prefix's)."""
        return self._store.num_keys()


# ---- FileStore ---------------------------------------------------------------------------------
# The file is an append-only log of records: u32 key length, key, i64 value length (-1: the key
# was deleted), value.  Writers append under an exclusive flock; every process replays the records
# it has not seen yet, so all processes on the machine see one consistent store.
_REC = struct.Struct("<Iq")


class FileStore(Store):
    """A store kept in a file that the processes of one machine share (by path)."""

    def __init__(self, file_name, world_size=-1):
        super().__init__()
        import fcntl
        self._fcntl = fcntl
        self.path = os.fspath(file_name)
        self._world_size = world_size
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise RuntimeError(f"FileStore: cannot open {self.path!r}: {e.strerror}; pass a path in a "
                               "writable folder (the folder must exist)") from None
        self._pos = 0
        self._data = {}
        self._tail = b""

    def __del__(self):
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def _refresh(self):
        """Replay the records other processes appended since the last look."""
        size = os.fstat(self._fd).st_size
        if size <= self._pos:
            return
        chunk = self._tail + os.pread(self._fd, size - self._pos, self._pos)
        self._pos = size
        i = 0
        while i + _REC.size <= len(chunk):
            klen, vlen = _REC.unpack_from(chunk, i)
            end = i + _REC.size + klen + max(vlen, 0)
            if end > len(chunk):
                break
            key = chunk[i + _REC.size:i + _REC.size + klen].decode()
            if vlen < 0:
                self._data.pop(key, None)
            else:
                self._data[key] = chunk[i + _REC.size + klen:end]
            i = end
        self._tail = chunk[i:]

    def _locked(self, exclusive):
        store = self

        class _Lock:
            def __enter__(self):
                store._fcntl.flock(store._fd, store._fcntl.LOCK_EX if exclusive else store._fcntl.LOCK_SH)
                store._refresh()

            def __exit__(self, *exc):
                store._fcntl.flock(store._fd, store._fcntl.LOCK_UN)
        return _Lock()

    def _write(self, key, value):
        kb = key.encode()
        rec = _REC.pack(len(kb), -1 if value is None else len(value)) + kb + (value or b"")
        os.lseek(self._fd, 0, os.SEEK_END)
        view = memoryview(rec)
        while view:
            view = view[os.write(self._fd, view):]
        # our own record is replayed by the next _refresh; apply it now too
        self._refresh()

    def set(self, key, value):
        """Set key to value."""
        key, value = _key(key, "FileStore.set"), _value(value, "FileStore.set")
        with self._locked(True):
            self._write(key, value)

    def get(self, key):
        """key's value (bytes), waiting up to the timeout for any process to set it."""
        key = _key(key, "FileStore.get")
        seconds = _timeout_s(self._timeout, "FileStore.get")
        if not self._poll([key], seconds):
            DistStoreError, _ = _errors()
            raise DistStoreError(
                f"Timeout waiting for key: {key} after {int(round(seconds * 1000))} ms (FileStore.get on "
                f"{self.path!r}: no process set it; check that they all use this file and key, or raise "
                "the store's timeout)")
        return self._data[key]

    def add(self, key, amount):
        """Add amount to key's integer value (0 when new), atomically across processes."""
        key = _key(key, "FileStore.add")
        with self._locked(True):
            current = self._data.get(key)
            value = (0 if current is None else _as_int(current, key, "FileStore.add")) + int(amount)
            self._write(key, str(value).encode())
        return value

    def compare_set(self, key, expected_value, desired_value):
        """torch's compare_set, atomically across processes."""
        what = "FileStore.compare_set"
        key, expected, desired = _key(key, what), _value(expected_value, what), _value(desired_value, what)
        with self._locked(True):
            new, result = _compare_set(self._data.get(key), expected, desired)
            if new is not None:
                self._write(key, new)
        return result

    def _append(self, key, value):
        with self._locked(True):
            self._write(key, self._data.get(key, b"") + value)

    def check(self, keys):
        """True when every key is set."""
        keys = _keys(keys, "FileStore.check")
        with self._locked(False):
            return all(k in self._data for k in keys)

    def _poll(self, keys, seconds):
        deadline = time.monotonic() + seconds
        while True:
            with self._locked(False):
                if all(k in self._data for k in keys):
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(_POLL_S)

    def wait(self, keys, timeout=None):
        """Block until every key is set by some process (DistStoreError past the timeout)."""
        keys = _keys(keys, "FileStore.wait")
        seconds = _timeout_s(self._timeout if timeout is None else timeout, "FileStore.wait")
        if not self._poll(keys, seconds):
            raise self._wait_timeout([k for k in keys if k not in self._data], seconds,
                                     f"FileStore.wait on {self.path!r}")

    def delete_key(self, key):
        """Remove key; True when it existed."""
        key = _key(key, "FileStore.delete_key")
        with self._locked(True):
            existed = key in self._data
            if existed:
                self._write(key, None)
        return existed

    def num_keys(self):
        """The number of keys set."""
        with self._locked(False):
            return len(self._data)

    def list_keys(self):
        """Every key set."""
        with self._locked(False):
            return list(self._data)


# ---- TCPStore ----------------------------------------------------------------------------------
# A message is a u32 field count, then each field as u32 length + bytes; a request's first field
# is the command, a reply's is b"ok" or b"error" (then a message).  No pickle: any local process
# can connect, and must not be able to run code in the server.
_HEAD = struct.Struct("<I")


def _send_msg(sock, fields):
    parts = [_HEAD.pack(len(fields))]
    for f in fields:
        parts += [_HEAD.pack(len(f)), f]
    sock.sendall(b"".join(parts))


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise ConnectionError("the other end closed the connection")
        buf += part
    return bytes(buf)


def _recv_msg(sock):
    (count,) = _HEAD.unpack(_recv_exact(sock, 4))
    fields = []
    for _ in range(count):
        (n,) = _HEAD.unpack(_recv_exact(sock, 4))
        fields.append(_recv_exact(sock, n))
    return fields


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        store = self.server.store
        while True:
            try:
                fields = _recv_msg(self.request)
            except (ConnectionError, OSError, struct.error):
                return
            cmd, args = fields[0].decode(), fields[1:]
            try:
                reply = [b"ok"] + self._run(store, cmd, args)
            except Exception as e:   # the client raises it; the server keeps serving
                reply = [b"error", type(e).__name__.encode(), str(e).encode()]
            try:
                _send_msg(self.request, reply)
            except OSError:
                return

    @staticmethod
    def _run(store, cmd, args):
        key = args[0].decode() if args else None
        if cmd == "set":
            store.set(key, args[1])
            return []
        if cmd == "get":
            return [store._data[key]] if key in store._data else []
        if cmd == "add":
            return [str(store.add(key, int(args[1]))).encode()]
        if cmd == "compare_set":
            return [store.compare_set(key, args[1], args[2])]
        if cmd == "append":
            store._append(key, args[1])
            return []
        if cmd == "wait":   # keys..., then the timeout in ms: b"1" when all are set in time
            keys = [a.decode() for a in args[:-1]]
            try:
                store._wait(keys, timedelta(milliseconds=int(args[-1])), "TCPStore.wait")
                return [b"1"]
            except Exception:
                return [b"0"]
        if cmd == "check":
            return [b"1" if store.check([a.decode() for a in args]) else b"0"]
        if cmd == "delete_key":
            return [b"1" if store.delete_key(key) else b"0"]
        if cmd == "num_keys":
            return [str(sum(not k.startswith(_INTERNAL) for k in store.list_keys())).encode()]
        if cmd == "list_keys":
            return [k.encode() for k in store.list_keys() if not k.startswith(_INTERNAL)]
        raise ValueError(f"unknown TCPStore command {cmd!r}")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = False


def _serve(server):
    """The master's accept loop; ends once the TCPStore is gone."""
    while not server.stopped:
        try:
            server.handle_request()
        except (OSError, ValueError):
            return


_INTERNAL = "\x00ember/"   # keys the store keeps for itself (not counted by num_keys)


class TCPStore(Store):
    """A store served over TCP by the process with is_master=True; the others connect to host:port."""

    def __init__(self, host_name, port, world_size=None, is_master=False, timeout=_DEFAULT_TIMEOUT,
                 wait_for_workers=True, multi_tenant=False, master_listen_fd=None, use_libuv=True):
        super().__init__(timeout)
        seconds = _timeout_s(timeout, "TCPStore")
        _, DistNetworkError = _errors()
        self.host = host_name
        self._server = None
        self._lock = threading.Lock()
        if is_master:
            try:
                self._server = _Server((host_name, int(port)), _Handler)
            except OSError as e:
                name = errno.errorcode.get(e.errno, "?")
                raise DistNetworkError(
                    f"The server socket has failed to listen on any local network address. port: {port}, "
                    f"useIpv6: false, code: {-(e.errno or 0)}, name: {name}, message: {e.strerror.lower()} "
                    "(TCPStore: another process already serves on this port; pick another port, or 0 for a "
                    "free one)") from None
            self._server.store = HashStore()
            self._server.timeout = 0.1
            self._server.stopped = False
            threading.Thread(target=_serve, args=(self._server,), daemon=True,
                             name=f"ember TCPStore :{self._server.server_address[1]}").start()
            port = self._server.server_address[1]
        self.port = int(port)
        self._sock = self._connect(seconds, DistNetworkError)
        self._call("add", _INTERNAL + "workers", b"1")
        if is_master and wait_for_workers and world_size:
            if not self._wait_keys_ms([_INTERNAL + "workers"], seconds, count=int(world_size)):
                DistStoreError, _ = _errors()
                joined = int(self._call("get", _INTERNAL + "workers")[0])
                raise DistStoreError(
                    f"Timed out after {int(round(seconds * 1000))}ms waiting for clients. {joined}/"
                    f"{world_size} clients joined. (TCPStore on {host_name}:{self.port}: start the other "
                    f"processes with TCPStore('{host_name}', {self.port}), or pass wait_for_workers=False)")

    @property
    def libuvBackend(self):
        """False: ember's server is Python's socketserver, not libuv."""
        return False

    def _connect(self, seconds, DistNetworkError):
        deadline = time.monotonic() + seconds
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=max(0.05, deadline - time.monotonic()))
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            except OSError:
                if time.monotonic() > deadline:
                    raise DistNetworkError(
                        f"The client socket has timed out after {int(round(seconds * 1000))}ms while trying "
                        f"to connect to ({self.host}, {self.port}). (TCPStore: no server there; start the "
                        "is_master=True process first, check host and port, or raise timeout)") from None
                time.sleep(0.05)

    def _call(self, cmd, *args):
        fields = [cmd.encode()] + [a.encode() if isinstance(a, str) else a for a in args]
        with self._lock:
            try:
                _send_msg(self._sock, fields)
                reply = _recv_msg(self._sock)
            except (ConnectionError, OSError) as e:
                _, DistNetworkError = _errors()
                raise DistNetworkError(f"TCPStore.{cmd}: lost the connection to the server at "
                                       f"{self.host}:{self.port} ({e}); did the is_master process exit?") from None
        if reply[0] == b"error":
            kind, msg = reply[1].decode(), reply[2].decode()
            raise {"ValueError": ValueError, "TypeError": TypeError}.get(kind, RuntimeError)(
                msg.replace("HashStore.", "TCPStore."))
        return reply[1:]

    def _wait_keys_ms(self, keys, seconds, count=None):
        if count is None:
            return self._call("wait", *keys, str(int(seconds * 1000)).encode())[0] == b"1"
        deadline = time.monotonic() + seconds
        while True:
            got = self._call("get", keys[0])
            if got and int(got[0]) >= count:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    def set(self, key, value):
        """Set key to value."""
        self._call("set", _key(key, "TCPStore.set"), _value(value, "TCPStore.set"))

    def get(self, key):
        """key's value (bytes), waiting up to the timeout for any client to set it."""
        key = _key(key, "TCPStore.get")
        self._wait([key], self._timeout, "TCPStore.get")
        return self._call("get", key)[0]

    def add(self, key, amount):
        """Add amount to key's integer value (0 when new), atomically on the server."""
        return int(self._call("add", _key(key, "TCPStore.add"), str(int(amount)))[0])

    def compare_set(self, key, expected_value, desired_value):
        """torch's compare_set, atomically on the server."""
        what = "TCPStore.compare_set"
        return self._call("compare_set", _key(key, what), _value(expected_value, what), _value(desired_value, what))[0]

    def _append(self, key, value):
        self._call("append", key, value)

    def check(self, keys):
        """True when every key is set."""
        return self._call("check", *_keys(keys, "TCPStore.check"))[0] == b"1"

    def wait(self, keys, timeout=None):
        """Block until every key is set (DistStoreError past the timeout)."""
        self._wait(_keys(keys, "TCPStore.wait"), self._timeout if timeout is None else timeout, "TCPStore.wait")

    def _wait(self, keys, timeout, what):
        seconds = _timeout_s(timeout, what)
        if not self._wait_keys_ms(keys, seconds):
            DistStoreError, _ = _errors()
            missing = [k for k in keys if not self.check([k])]
            raise DistStoreError(
                f"wait timeout after {int(round(seconds * 1000))}ms, keys: {', '.join('/' + k for k in keys)} "
                f"({what}: no client set {', '.join(missing)} in time; check that the process meant to set "
                f"{'it' if len(missing) == 1 else 'them'} runs against this server and key, or raise the "
                "store's timeout)")

    def delete_key(self, key):
        """Remove key; True when it existed."""
        return self._call("delete_key", _key(key, "TCPStore.delete_key"))[0] == b"1"

    def num_keys(self):
        """The number of keys set."""
        return int(self._call("num_keys")[0])

    def list_keys(self):
        """Every key set."""
        return [k.decode() for k in self._call("list_keys")]

    def __del__(self):
        sock = getattr(self, "_sock", None)
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        server = getattr(self, "_server", None)
        if server is not None:
            # the master's server goes with it (as torch's).  No server.shutdown(): it waits for the
            # serving thread, which can hang when this runs at interpreter exit.
            server.stopped = True
            try:
                server.server_close()
            except OSError:
                pass
