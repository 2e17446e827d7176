"""Extract the spec's Python code blocks, verbatim, into one script per section.

    python tests/spec/extract.py [SPEC]    # rewrites tests/spec/section_*.py

A fenced block is code when it compiles as Python and is not an output block
(the text just before it says 输出结果, "output").
"""
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SPEC = HERE.parents[2] / "shared" / "spec" / "000_476057700161b3ba.txt"
SECTION = re.compile(r"^## (\d+\.\d+) ")
# "> - 输出结果:" (output), 输出图片结果 / 输出标签结果 (image / label output)
OUTPUT_MARK = re.compile(r"输出(图片|标签)?结果")


def blocks(text):
    """Yield (section, code) for each code block of the spec, in order."""
    section = None
    lines = text.splitlines()
    i = 0
    last_text = ""
    while i < len(lines):
        line = lines[i]
        m = SECTION.match(line)
        if m:
            section = m.group(1)
        if line.startswith("```"):
            j = i + 1
            while not lines[j].startswith("```"):
                j += 1
            body = "\n".join(lines[i + 1:j]) + "\n"
            is_output = OUTPUT_MARK.search(last_text) is not None
            if not is_output and _compiles(body):
                yield section, body
            i = j + 1
            continue
        if line.strip() and not set(line.strip()) <= {"-"}:
            last_text = line
        i += 1


def _compiles(body):
    try:
        compile(body, "<block>", "exec")
        return True
    except SyntaxError:
        return False


def extract(spec_path=DEFAULT_SPEC):
    """Map section number -> the concatenated code of its blocks."""
    sections = {}
    for section, body in blocks(Path(spec_path).read_text(encoding="utf-8")):
        sections.setdefault(section, []).append(body)
    return {s: "\n".join(parts) for s, parts in sections.items()}


def script_path(section):
    return HERE / f"section_{section.replace('.', '_')}.py"


def header(section, code):
    text = (f"# Section {section} of the spec, extracted verbatim by tests/spec/extract.py.\n"
            "# Do not edit: rerun the extractor.\n")
    if not re.search(r"^import torch$", code, re.M):
        # the spec imports torch once, in section 1.1; later sections rely on it
        text += "import torch  # added: the spec imports torch in section 1.1\n"
    return text


def main(argv):
    spec = Path(argv[1]) if len(argv) > 1 else DEFAULT_SPEC
    for section, code in extract(spec).items():
        script_path(section).write_text(header(section, code) + code, encoding="utf-8")
        print(f"wrote {script_path(section)}")


if __name__ == "__main__":
    main(sys.argv)
