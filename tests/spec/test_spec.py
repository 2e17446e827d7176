"""The tutorial itself as a test: each section runs verbatim through `ember run`.

Deterministic lines must equal what torch prints (recorded in expected/); lines that depend on
random numbers are compared by format.
"""
import pytest

from tests.spec import extract, spec_output as so

try:
    import torch  # noqa: F401
except ImportError:
    torch = None


@pytest.mark.parametrize("section", so.TORCH_SECTIONS)
def test_section_prints_what_torch_prints(section, tmp_path):
    out = so.run_ember(section, tmp_path)
    problems = so.compare(so.load(section), out)
    assert not problems, "\n".join(problems) + "\n--- ember printed ---\n" + out


@pytest.mark.skipif(torch is None, reason="PyTorch (the test oracle) is not installed")
@pytest.mark.parametrize("section", so.TORCH_SECTIONS)
def test_recording_matches_current_torch(section, tmp_path):
    # the committed recording must still be what the installed torch prints
    problems = so.compare(so.load(section), so.run_torch(section, tmp_path, 0))
    assert not problems, "\n".join(problems)


def test_extracted_scripts_are_verbatim_and_current():
    spec = extract.DEFAULT_SPEC
    if not spec.exists():
        pytest.skip("the spec is not beside this checkout")
    for section, code in extract.extract(spec).items():
        text = extract.script_path(section).read_text(encoding="utf-8")
        assert text == extract.header(section, code) + code, f"rerun tests/spec/extract.py ({section})"


def test_compare_catches_a_wrong_line():
    recorded = ["= tensor([1., 1.])", "~ tensor([0.1234, 0.5678])"]
    assert so.compare(recorded, "tensor([1., 1.])\ntensor([0.9, 0.1], dtype=torch.float64)\n")
    assert so.compare(recorded, "tensor([1., 1.])\ntensor([0.9, 0.1, 0.3])\n")
    assert not so.compare(recorded, "tensor([1., 1.])\ntensor([0.9999, 0.1111])\n")
    assert so.compare(recorded, "tensor([1., 2.])\ntensor([0.9999, 0.1111])\n")
