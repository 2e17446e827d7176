"""torchvision.datasets.utils: download, verify and extract dataset archives.

Unlike torchvision, every download is transactional: the file goes to a temporary name inside
root, is checked (length and MD5) before it gets its real name, and archives are extracted into a
temporary folder inside root and then renamed into place. On any failure (HTTP error, dropped
connection, MD5 mismatch, an archive member that would land outside root, Ctrl-C) everything this
call created is removed and anything it replaced is put back, so root is left as it was.
"""
import bz2
import gzip
import hashlib
import http.client
import lzma
import os
import os.path
import pathlib
import shutil
import socket
import stat
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib

__all__ = ["calculate_md5", "check_md5", "check_integrity", "download_url", "list_dir", "list_files",
           "extract_archive", "download_and_extract_archive", "verify_str_arg", "iterable_to_str"]

USER_AGENT = "pytorch/vision"
_TIMEOUT = 60.0  # seconds without data before a download is declared dead


class DownloadError(RuntimeError):
    """A download that could not complete (network, HTTP status, truncated transfer)."""


# ---- checksums ------------------------------------------------------------------------------------
def calculate_md5(fpath, chunk_size=1024 * 1024):
    """The hex MD5 digest of a file."""
    md5 = hashlib.md5(usedforsecurity=False) if sys.version_info >= (3, 9) else hashlib.md5()
    with open(fpath, "rb") as f:
        while chunk := f.read(chunk_size):
            md5.update(chunk)
    return md5.hexdigest()


def check_md5(fpath, md5, **kwargs):
    """True when the file's MD5 is md5."""
    return md5 == calculate_md5(fpath, **kwargs)


def check_integrity(fpath, md5=None):
    """True when fpath is a file and (if md5 is given) its MD5 matches."""
    if not os.path.isfile(fpath):
        return False
    if md5 is None:
        return True
    return check_md5(fpath, md5)


# ---- the transaction: undo what a failed download/extract did ---------------------------------------
class _Journal:
    """Records filesystem changes so they can be undone on failure (or their backups dropped on success)."""

    def __init__(self):
        self._undo = []      # ("remove", path) | ("restore", path, backup) | ("rmdir", path)
        self._scratch = []   # temporary files/folders removed in every case

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            for entry in self._undo:
                if entry[0] == "restore":
                    _remove(entry[2])
        else:
            for entry in reversed(self._undo):
                try:
                    if entry[0] == "remove":
                        _remove(entry[1])
                    elif entry[0] == "restore":
                        _remove(entry[1])
                        os.rename(entry[2], entry[1])
                    elif entry[0] == "rmdir":
                        shutil.rmtree(entry[1], ignore_errors=True)
                except OSError:
                    pass
        for path in reversed(self._scratch):
            _remove(path)
        return False

    def makedirs(self, path):
        """os.makedirs(path, exist_ok=True), remembering the outermost folder it created."""
        path = os.path.abspath(path)
        top = None
        probe = path
        while not os.path.exists(probe):
            top = probe
            parent = os.path.dirname(probe)
            if parent == probe:
                break
            probe = parent
        os.makedirs(path, exist_ok=True)
        if top is not None:
            self._undo.append(("rmdir", top))

    def scratch_file(self, folder, name):
        """A new empty temporary file in folder (same filesystem, so it can be renamed into place)."""
        fd, path = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        os.close(fd)
        self._scratch.append(path)
        return path

    def scratch_dir(self, folder):
        path = tempfile.mkdtemp(prefix=".extract-", dir=folder)
        self._scratch.append(path)
        return path

    def install(self, src, dst):
        """Rename src onto dst, merging folders; anything replaced is kept until the transaction ends."""
        if os.path.isdir(src) and not os.path.islink(src) and os.path.isdir(dst) and not os.path.islink(dst):
            for name in sorted(os.listdir(src)):
                self.install(os.path.join(src, name), os.path.join(dst, name))
            return
        if os.path.lexists(dst):
            backup = tempfile.mkdtemp(prefix=".replaced-", dir=os.path.dirname(dst) or ".")
            self._scratch.append(backup)
            backup = os.path.join(backup, "old")
            os.rename(dst, backup)
            self._undo.append(("restore", dst, backup))
        else:
            self._undo.append(("remove", dst))
        os.rename(src, dst)


def _remove(path):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.lexists(path):
            os.remove(path)
    except OSError:
        pass


# ---- downloading ----------------------------------------------------------------------------------
class _Progress:
    """tqdm when it is installed, else a one-line percentage bar on stderr."""

    def __init__(self, total):
        self.total = total
        self.n = 0
        self._bar = None
        try:
            from tqdm import tqdm
            self._bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024)
        except ImportError:
            self._last = 0.0

    def update(self, n):
        self.n += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= 0.1:
            self._last = now
            self._draw()

    def _draw(self):
        if self.total:
            frac = min(self.n / self.total, 1.0)
            filled = int(frac * 30)
            sys.stderr.write(f"\r{100 * frac:5.1f}% |{'#' * filled}{' ' * (30 - filled)}| "
                             f"{self.n / 1e6:.1f}/{self.total / 1e6:.1f} MB")
        else:
            sys.stderr.write(f"\r{self.n / 1e6:.1f} MB")
        sys.stderr.flush()

    def close(self):
        if self._bar is not None:
            self._bar.close()
        else:
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()


def _reason(e):
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP Error {e.code}: {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return f"{e.reason}"
    if isinstance(e, http.client.IncompleteRead):
        return f"the connection closed after {len(e.partial)} bytes, {e.expected} more were expected"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def _by_hand(fpath, md5, hint="archive"):
    sum_note = f" (MD5 {md5})" if md5 else ""
    return (f"If this machine cannot download it, fetch the {hint} elsewhere and place it at\n    {fpath}\n"
            f"then run again with download=True: it will be verified{sum_note} and extracted from there.")


def _fetch(url, dest, md5):
    """Stream url into the existing file dest; return its MD5. Raises DownloadError on network trouble."""
    digest = hashlib.md5(usedforsecurity=False) if sys.version_info >= (3, 9) else hashlib.md5()
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response, open(dest, "wb") as fh:
            length = response.length
            bar = _Progress(length)
            try:
                while True:
                    chunk = response.read(1024 * 32)
                    if not chunk:
                        break
                    fh.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
            # http.client returns a short body without complaint when the server hangs up early
            if length is not None and bar.n < length:
                raise http.client.IncompleteRead(b"\0" * bar.n, length - bar.n)
    except (urllib.error.URLError, http.client.HTTPException, OSError, socket.timeout, ValueError) as e:
        raise DownloadError(f"Downloading {url} failed: {_reason(e)}.") from e
    return digest.hexdigest()


def download_url(url, root, filename=None, md5=None, max_redirect_hops=3):
    """Download url into root/filename (verifying md5 when given); keeps nothing on failure."""
    root = os.path.expanduser(root)
    if not filename:
        filename = os.path.basename(url)
    with _Journal() as journal:
        _download(url, root, filename, md5, journal)


def _download(url, root, filename, md5, journal, hint=True):
    """Download url to root/filename inside journal's transaction (hint: add the by-hand advice to errors)."""
    fpath = os.path.join(root, filename)
    journal.makedirs(root)
    if check_integrity(fpath, md5):
        print("Using downloaded and verified file: " + fpath)
        return
    part = journal.scratch_file(root, filename)
    print("Downloading " + url + " to " + fpath)
    try:
        got = _fetch(url, part, md5)
    except DownloadError as e:
        if not hint:
            raise
        raise DownloadError(f"{e}\n{_by_hand(fpath, md5)}") from e.__cause__
    if md5 is not None and got != md5:
        raise RuntimeError(
            f"The file downloaded from {url} is corrupted: its MD5 is {got}, expected {md5}. Nothing was kept.\n"
            + _by_hand(fpath, md5))
    journal.install(part, fpath)


def list_dir(root, prefix=False):
    """Names (or paths, with prefix) of the folders in root."""
    root = os.path.expanduser(root)
    directories = [p for p in os.listdir(root) if os.path.isdir(os.path.join(root, p))]
    if prefix is True:
        directories = [os.path.join(root, d) for d in directories]
    return directories


def list_files(root, suffix, prefix=False):
    """Names (or paths, with prefix) of the files in root ending with suffix."""
    root = os.path.expanduser(root)
    files = [p for p in os.listdir(root) if os.path.isfile(os.path.join(root, p)) and p.endswith(suffix)]
    if prefix is True:
        files = [os.path.join(root, d) for d in files]
    return files


# ---- extraction -----------------------------------------------------------------------------------
_ARCHIVE_TYPES = (".tar", ".zip")
_COMPRESSED_FILE_OPENERS = {".bz2": bz2.open, ".gz": gzip.open, ".xz": lzma.open}
_FILE_TYPE_ALIASES = {".tbz": (".tar", ".bz2"), ".tbz2": (".tar", ".bz2"), ".tgz": (".tar", ".gz")}


def _detect_file_type(file):
    """(suffix, archive type, compression) from a file name."""
    suffixes = pathlib.Path(file).suffixes
    if not suffixes:
        raise RuntimeError(
            f"File '{file}' has no suffixes that could be used to detect the archive type and compression.")
    suffix = suffixes[-1]
    if suffix in _FILE_TYPE_ALIASES:
        return (suffix, *_FILE_TYPE_ALIASES[suffix])
    if suffix in _ARCHIVE_TYPES:
        return suffix, suffix, None
    if suffix in _COMPRESSED_FILE_OPENERS:
        if len(suffixes) > 1 and suffixes[-2] in _ARCHIVE_TYPES:
            return suffixes[-2] + suffix, suffixes[-2], suffix
        return suffix, None, suffix
    valid = sorted(set(_FILE_TYPE_ALIASES) | set(_ARCHIVE_TYPES) | set(_COMPRESSED_FILE_OPENERS))
    raise RuntimeError(f"Unknown compression or archive type: '{suffix}'.\nKnown suffixes are: '{valid}'.")


class UnsafeArchiveError(RuntimeError):
    """An archive member that would be written outside the extraction folder."""


def _refuse(archive, to_path, name, why):
    raise UnsafeArchiveError(
        f"Refusing to extract {archive}: member '{name}' {why}, outside {to_path}. The archive may be "
        "malicious or damaged; nothing was extracted.")


def _inside(base, path):
    base = os.path.realpath(base)
    path = os.path.realpath(path)
    return path == base or path.startswith(base.rstrip(os.sep) + os.sep)


def _check_member_name(archive, to_path, name, dest):
    norm = name.replace("\\", "/")
    if norm.startswith("/") or os.path.isabs(name) or (len(norm) > 1 and norm[1] == ":"):
        _refuse(archive, to_path, name, "has an absolute path")
    if ".." in norm.split("/"):
        _refuse(archive, to_path, name, "climbs out with '..'")
    if not _inside(dest, os.path.join(dest, name)):
        _refuse(archive, to_path, name, "would be written")


def _extract_tar(archive, dest, compression, to_path):
    with tarfile.open(archive, f"r:{compression[1:]}" if compression else "r") as tar:
        members = tar.getmembers()
        for m in members:
            _check_member_name(archive, to_path, m.name, dest)
            if m.issym():
                if os.path.isabs(m.linkname) or m.linkname.startswith(("/", "\\")):
                    _refuse(archive, to_path, m.name, f"is a symlink to the absolute path '{m.linkname}'")
                target = os.path.join(os.path.dirname(os.path.join(dest, m.name)), m.linkname)
                if not _inside(dest, target):
                    _refuse(archive, to_path, m.name, f"is a symlink pointing to '{m.linkname}'")
            elif m.islnk():
                if not _inside(dest, os.path.join(dest, m.linkname)):
                    _refuse(archive, to_path, m.name, f"is a hard link to '{m.linkname}'")
            elif not (m.isfile() or m.isdir()):
                _refuse(archive, to_path, m.name, "is a device or fifo, which would be created")
        if hasattr(tarfile, "data_filter"):  # Python's own check as a second line of defence
            tar.extractall(dest, members=members, filter="data")
        else:  # pragma: no cover - Python < 3.11.4
            tar.extractall(dest, members=members)


def _extract_zip(archive, dest, compression, to_path):
    with zipfile.ZipFile(archive, "r") as zf:
        for info in zf.infolist():
            _check_member_name(archive, to_path, info.filename, dest)
            if stat.S_ISLNK(info.external_attr >> 16):
                _refuse(archive, to_path, info.filename, "is a symlink")
        zf.extractall(dest)


_ARCHIVE_EXTRACTORS = {".tar": _extract_tar, ".zip": _extract_zip}


def extract_archive(from_path, to_path=None, remove_finished=False):
    """Extract a tar/zip archive (or decompress a .gz/.bz2/.xz file) into to_path; returns to_path."""
    with _Journal() as journal:
        return _extract(from_path, to_path, remove_finished, journal)


def _extract(from_path, to_path, remove_finished, journal):
    from_path = os.fspath(from_path)
    if to_path is None:
        to_path = os.path.dirname(from_path)
    to_path = os.fspath(to_path)
    suffix, archive_type, compression = _detect_file_type(from_path)
    journal.makedirs(to_path)
    if not archive_type:  # a single compressed file
        out_name = os.path.basename(from_path).replace(suffix, "")
        part = journal.scratch_file(to_path, out_name)
        try:
            with _COMPRESSED_FILE_OPENERS[compression](from_path, "rb") as rfh, open(part, "wb") as wfh:
                shutil.copyfileobj(rfh, wfh, 1024 * 1024)
        except (EOFError, OSError, lzma.LZMAError, zlib.error) as e:
            raise RuntimeError(f"Decompressing {from_path} failed: {type(e).__name__}: {e}. The file is damaged; "
                               "nothing was extracted.") from e
        journal.install(part, os.path.join(to_path, out_name))
    else:
        tmp = journal.scratch_dir(to_path)
        try:
            _ARCHIVE_EXTRACTORS[archive_type](from_path, tmp, compression, to_path)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as e:
            raise RuntimeError(f"Extracting {from_path} failed: {type(e).__name__}: {e}. The archive is damaged; "
                               "nothing was extracted.") from e
        for name in sorted(os.listdir(tmp)):
            journal.install(os.path.join(tmp, name), os.path.join(to_path, name))
    if remove_finished and os.path.exists(from_path):
        os.remove(from_path)
    return to_path


def download_and_extract_archive(url, download_root, extract_root=None, filename=None, md5=None,
                                 remove_finished=False):
    """Download url into download_root (verifying md5), then extract it into extract_root; all or nothing."""
    download_root = os.path.expanduser(download_root)
    if extract_root is None:
        extract_root = download_root
    if not filename:
        filename = os.path.basename(url)
    archive = os.path.join(download_root, filename)
    with _Journal() as journal:
        _download(url, download_root, filename, md5, journal)
        print(f"Extracting {archive} to {extract_root}")
        _extract(archive, extract_root, remove_finished, journal)


def iterable_to_str(iterable):
    """'a', 'b', 'c' as one string."""
    return "'" + "', '".join([str(item) for item in iterable]) + "'"


def verify_str_arg(value, arg=None, valid_values=None, custom_msg=None):
    """Check that value is a str among valid_values; raises ValueError naming the choices."""
    if not isinstance(value, str):
        if arg is None:
            msg = "Expected type str, but got type {type}."
        else:
            msg = "Expected type str for argument {arg}, but got type {type}."
        raise ValueError(msg.format(type=type(value), arg=arg))
    if valid_values is None:
        return value
    if value not in valid_values:
        if custom_msg is not None:
            msg = custom_msg
        else:
            msg = "Unknown value '{value}' for argument {arg}. Valid values are {{{valid_values}}}."
            msg = msg.format(value=value, arg=arg, valid_values=iterable_to_str(valid_values))
        raise ValueError(msg)
    return value
