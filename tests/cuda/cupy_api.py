"""CuPy's public API as the fake device records names: what ember may call on a GPU.

``api()`` maps each name to the keyword arguments it accepts (a frozenset, or None when any may
be given or they can't be read).  Names are recorded as the fake device records them:
``zeros`` (a function), ``add`` / ``add.reduce`` (a ufunc and its methods), ``ndarray.sum``,
``random.Generator.random``, ``linalg.norm``, ``lib.stride_tricks.as_strided``.

It reads an installed cupy (which imports without a GPU); without one it reads the committed
snapshot ``cupy_api.txt``, made from CuPy 14.2 by ``python -m tests.cuda.cupy_api``.
"""
import inspect
import pathlib
import re

SNAPSHOT = pathlib.Path(__file__).with_name("cupy_api.txt")
_UFUNC_CALL_KWARGS = frozenset({"out", "dtype", "casting"})
_SUBMODULES = ("linalg", "random", "lib.stride_tricks", "fft")


def _params(fn, doc_first_line=False):
    """Keyword names fn accepts, or None when it takes **kwargs or its signature can't be read."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            return None
        return frozenset(n for n, p in sig.parameters.items()
                         if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self")
    doc = (getattr(fn, "__doc__", None) or "").strip().splitlines()
    m = re.match(r"[\w.]+\((.*)\)", doc[0]) if doc else None
    if not m or "**" in m.group(1):
        return None
    names = [p.split("=")[0].strip() for p in m.group(1).split(",")]
    return frozenset(n for n in names if n and n not in ("self", "*", "/") and not n.startswith("*"))


def from_cupy(cupy):
    """The API table of an imported cupy module."""
    table = {}
    for name in dir(cupy):
        if name.startswith("_"):
            continue
        obj = getattr(cupy, name)
        if isinstance(obj, cupy.ufunc):
            table[name] = _UFUNC_CALL_KWARGS
            for method in ("reduce", "accumulate", "reduceat", "outer", "at"):
                if hasattr(obj, method):
                    table[f"{name}.{method}"] = _params(getattr(obj, method), True)
        elif isinstance(obj, type):
            table[name] = None
        elif callable(obj):
            table[name] = _params(obj)
        else:
            table[name] = None
    for sub in _SUBMODULES:
        mod = cupy
        for part in sub.split("."):
            mod = getattr(mod, part)
        table[sub] = None
        for name in dir(mod):
            if not name.startswith("_"):
                obj = getattr(mod, name)
                table[f"{sub}.{name}"] = _params(obj) if callable(obj) and not isinstance(obj, type) else None
    for name in dir(cupy.ndarray):
        if not name.startswith("_"):
            table[f"ndarray.{name}"] = None
    for name in dir(cupy.random.Generator):
        if not name.startswith("_"):
            table[f"random.Generator.{name}"] = _params(getattr(cupy.random.Generator, name), True)
    table["random.Generator"] = None  # (cupy.random loads it lazily: dir() may not list it yet)
    table["cuda.Device.synchronize"] = None
    table["get_default_memory_pool.free_all_blocks"] = None
    return table


def load(path=SNAPSHOT):
    table = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, params = line.partition("\t")
        table[name] = None if params == "*" else frozenset(p for p in params.split(",") if p)
    return table


def api():
    """(table, source): the installed cupy's API when it imports, else the committed snapshot."""
    try:
        import cupy
    except ImportError:
        return load(), f"the committed snapshot {SNAPSHOT.name} (cupy is not installed)"
    return from_cupy(cupy), f"the installed cupy {cupy.__version__}"


def write(path=SNAPSHOT):
    import cupy
    table = from_cupy(cupy)
    lines = [f"# CuPy {cupy.__version__} public API: name<TAB>keyword arguments ('*': any); "
             "made by python -m tests.cuda.cupy_api"]
    for name in sorted(table):
        params = table[name]
        lines.append(f"{name}\t{'*' if params is None else ','.join(sorted(params))}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(table)} names to {path}")


if __name__ == "__main__":
    write()
