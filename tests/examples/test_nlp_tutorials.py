"""PyTorch's NLP tutorials (char-RNN classification and generation, seq2seq translation with attention,
word embeddings, LSTM tagger), their code unchanged, under `python -m ember run` on small synthetic data
that each script writes into its working directory: they complete and their losses fall."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "nlp"


def _run(name, cwd, **env):
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED="0", **env)
    proc = subprocess.run([sys.executable, "-m", "ember", "run", str(SCRIPTS / name)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _losses(out, tag):
    first, last = re.search(rf"^{tag} (\S+) (\S+)$", out, re.M).groups()
    return float(first), float(last)


def test_char_rnn_classifier_trains_and_predicts(tmp_path):
    out = _run("char_rnn_classification.py", tmp_path, TUT_EPOCHS="10", TUT_ITERS="1000")
    assert "converting 'Ślusàrski' to Slusarski" in out
    assert "train examples = 43, validation examples = 7" in out
    assert "  (rnn): RNN(58, 128)\n" in out and "grad_fn=<LogSoftmaxBackward0>" in out
    first, last = _losses(out, "LOSSES")
    assert last < first / 2
    first, last = _losses(out, "LOSSES2")   # the hand-written i2h/h2h/h2o RNN
    assert last < first
    assert "torch.Size([5, 1, 57])" in out and "(5, 5) " in out
    assert out.count("\n> ") == 3 and "\n> Satoshi\n(-" in out


def test_seq2seq_translation_with_attention_trains(tmp_path):
    out = _run("seq2seq_translation.py", tmp_path, TUT_EPOCHS="40")
    assert "Trimmed to 12 sentence pairs" in out and "fra 28\neng 22\n" in out
    assert "(attention): BahdanauAttention(" in out and "(gru): GRU(256, 128, batch_first=True)" in out
    first, last = _losses(out, "LOSSES")
    assert last < first / 2
    assert out.count("input = ") == 3 and "torch.Size([" in out


@pytest.mark.parametrize("name,check", [
    ("char_rnn_generation.py", "# categories: 4 ['Chinese', 'German', 'Russian', 'Spanish']"),
    ("sequence_models.py", "grad_fn=<MkldnnRnnLayerBackward0>)"),
    ("word_embeddings.py", "grad_fn=<SelectBackward0>)"),
])
def test_other_nlp_tutorials_complete(tmp_path, name, check):
    out = _run(name, tmp_path, TUT_ITERS="600")
    assert check in out
    if name == "char_rnn_generation.py":
        losses = [float(v) for v in re.search(r"^LOSSES \[(.*)\]$", out, re.M).group(1).split(", ")]
        assert losses[-1] < losses[0]
        assert "tensor([0.5000, 0.5000])" in out
    if name == "word_embeddings.py":
        for line in re.findall(r"^\[(\d[^\]]*)\]$", out, re.M):   # N-gram and CBOW loss per epoch
            losses = [float(v) for v in line.split(", ")]
            assert len(losses) == 10 and losses[-1] < losses[0]
    if name == "sequence_models.py":
        assert out.rstrip().endswith("tensor([0, 1, 2, 0, 1])")
