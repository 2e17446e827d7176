"""Run spec sections under ember or real torch, and compare printed output with the recording.

Recorded files (tests/spec/expected/section_X_Y.txt) hold torch's output, one line each, prefixed
'= ' when the line is deterministic (identical under two seeds) or '~ ' when it depends on random
numbers and is compared by format only (numbers masked, spacing removed).

    python tests/spec/spec_output.py record     # needs real torch; rewrites expected/
"""
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXPECTED = HERE / "expected"
TORCH_SECTIONS = ("1.1", "1.2", "2.1")

_ADDR = re.compile(r"0x[0-9a-fA-F]+")
_NUM = re.compile(r"-?(\d+(\.\d*)?(e[+-]?\d+)?|nan|inf)")


def script(section):
    return HERE / f"section_{section.replace('.', '_')}.py"


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    env["PYTHONHASHSEED"] = "0"
    return env


def run_ember(section, cwd, seed=None, timeout=600):
    """stdout of `ember run` on the section script (optionally seeding ember first)."""
    code = ("import sys, ember.cli, ember.compat; ember.compat.install();"
            + (f"import ember; ember.manual_seed({seed});" if seed is not None else "")
            + f"sys.exit(ember.cli.main(['run', {str(script(section))!r}]))")
    return _run([sys.executable, "-c", code], cwd, timeout)


def run_torch(section, cwd, seed, timeout=600):
    """stdout of the section script under real torch, seeded."""
    code = (f"import torch, runpy; torch.manual_seed({seed}); "
            f"runpy.run_path({str(script(section))!r}, run_name='__main__')")
    return _run([sys.executable, "-c", code], cwd, timeout)


def _run(cmd, cwd, timeout):
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd[:2])} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def shape_of(line):
    """A line with numbers masked and spacing removed: its format, not its values.

    Spacing goes too because torch pads columns by the widest value (a minus sign moves it).
    """
    return "".join(_NUM.sub("#", _ADDR.sub("0x#", line)).split())


def mark(out_a, out_b):
    """Torch outputs under two seeds -> recorded lines with '= ' / '~ ' prefixes."""
    a, b = out_a.splitlines(), out_b.splitlines()
    if len(a) != len(b):
        raise AssertionError("torch printed a different number of lines under two seeds")
    return [("= " if _ADDR.sub("0x#", x) == _ADDR.sub("0x#", y) else "~ ") + x for x, y in zip(a, b)]


def compare(recorded, actual):
    """List of mismatch descriptions between recorded lines and actual output."""
    got = actual.splitlines()
    problems = []
    if len(got) != len(recorded):
        problems.append(f"expected {len(recorded)} lines, got {len(got)}")
    for i, (rec, line) in enumerate(zip(recorded, got)):
        kind, want = rec[:2], rec[2:]
        if kind == "= ":
            if _ADDR.sub("0x#", want) != _ADDR.sub("0x#", line):
                problems.append(f"line {i + 1}: expected {want!r}, got {line!r}")
        elif shape_of(want) != shape_of(line):
            problems.append(f"line {i + 1} (format only): expected like {want!r}, got {line!r}")
    return problems


def load(section):
    path = EXPECTED / f"section_{section.replace('.', '_')}.txt"
    return path.read_text(encoding="utf-8").splitlines()


def record(cwd):
    EXPECTED.mkdir(exist_ok=True)
    for section in TORCH_SECTIONS:
        lines = mark(run_torch(section, cwd, 0), run_torch(section, cwd, 1))
        (EXPECTED / f"section_{section.replace('.', '_')}.txt").write_text("\n".join(lines) + "\n",
                                                                           encoding="utf-8")
        print(f"recorded section {section}: {len(lines)} lines")


if __name__ == "__main__":
    import tempfile
    if sys.argv[1:] == ["record"]:
        with tempfile.TemporaryDirectory() as d:
            record(d)


def run_ember_with_cifar(section, cwd, cifar_attrs, timeout=600):
    """Like run_ember, with ember.vision's CIFAR10 pointed at a local copy (url and md5s)."""
    import json
    code = ("import json, os, sys, ember.cli, ember.compat; ember.compat.install();"
            "import ember.vision.datasets as d;"
            "[setattr(d.CIFAR10, k, v) for k, v in json.loads(os.environ['EMBER_TEST_CIFAR']).items()];"
            f"sys.exit(ember.cli.main(['run', {str(script(section))!r}]))")
    env = _env()
    env["EMBER_TEST_CIFAR"] = json.dumps(cifar_attrs)
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"ember run {section} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout
