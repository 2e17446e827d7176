"""Training steps of small models beyond the spec's LeNet, ember against torch in one process.

    python benchmarks/small_models.py [--models mlp lstm ...] [--rounds 7] [--seconds 0.3] [--threads 1]

Where each op works on a few thousand numbers, a step costs what its calls cost: the models here
(an MLP with Adam, batch and layer norms, an LSTM and a GRU over short sequences, a transformer
encoder layer, an EmbeddingBag classifier, the name-classification tutorial's character RNN at
batch 1, small CNNs with batch norm, residual blocks and transposed convolutions, the PyTorch
examples' VAE) show where ember's per-call costs stand against torch's.  Each round
times ember then torch on the same data (interleaved, so machine noise hits both); medians of
microseconds a step and the ratio ember / torch (below 1: ember is faster).  torch runs on one
thread unless --threads says otherwise; ember chooses its own threads by the size of the work.

Before each model is timed, everything alive (the imports, both models and their data) is frozen
out of Python's cyclic collector (gc.freeze): ember's graph nodes are Python objects, so the
collector runs during its steps, and each full pass walks the whole heap.  With torch's ~140,000
import-time objects in the same process, the GRU's rounds swung between 5.6 and 8.8 ms; frozen, or
with no torch imported, they hold at ~5.7-6.0.  (The collector's own share of ember's GRU step in
an ember-only process is ~5-10 %: 6.0 ms against 5.3-5.7 with it disabled.)
"""
import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

import ember  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def _train_step(opt, loss_of):
    """A training step: one optimizer step on the loss that loss_of() computes."""
    def step():
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def _classifier_step(lib, net, opt, x, y, **loss_kw):
    return _train_step(opt, lambda: lib.nn.functional.cross_entropy(net(x), y, **loss_kw))


def _data(lib, seed, *shape, classes=None):
    rng = np.random.default_rng(seed)
    if classes is not None:
        return lib.from_numpy(rng.integers(0, classes, shape).astype(np.int64))
    return lib.from_numpy(rng.standard_normal(shape).astype(np.float32))


def mlp(lib):
    """784-256-10 MLP, Adam, batch 64."""
    nn = lib.nn
    net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    return _classifier_step(lib, net, lib.optim.Adam(net.parameters(), 1e-3), _data(lib, 0, 64, 784),
                            _data(lib, 1, 64, classes=10))


def mlp_bn(lib):
    """MLP with BatchNorm1d and Dropout, Adam, batch 64."""
    nn = lib.nn
    net = nn.Sequential(nn.Linear(100, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.2),
                        nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10))
    return _classifier_step(lib, net, lib.optim.Adam(net.parameters(), 1e-3), _data(lib, 0, 64, 100),
                            _data(lib, 1, 64, classes=10))


def mlp_ln(lib):
    """MLP with LayerNorm and GELU, MSE loss, Adam, batch 32."""
    nn = lib.nn
    net = nn.Sequential(nn.Linear(128, 256), nn.LayerNorm(256), nn.GELU(), nn.Linear(256, 256), nn.LayerNorm(256),
                        nn.GELU(), nn.Linear(256, 1))
    opt = lib.optim.Adam(net.parameters(), 1e-3)
    x, y = _data(lib, 0, 32, 128), _data(lib, 1, 32, 1)
    return _train_step(opt, lambda: lib.nn.functional.mse_loss(net(x), y))


def cnn_bn(lib):
    """Conv-BN-ReLU-pool x2, Dropout, Linear; SGD with momentum and weight decay; batch 16 of 3x32x32."""
    nn = lib.nn
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Dropout(0.5), nn.Linear(32 * 8 * 8, 10))
    opt = lib.optim.SGD(net.parameters(), 0.01, momentum=0.9, weight_decay=5e-4)
    return _classifier_step(lib, net, opt, _data(lib, 0, 16, 3, 32, 32), _data(lib, 1, 16, classes=10))


def resnet(lib):
    """A stem and two residual blocks of 16 channels (conv-BN-ReLU), average pool; nesterov SGD, label
    smoothing; batch 8 of 3x32x32."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
            self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

        def forward(self, x):
            return lib.relu(x + self.b2(self.c2(lib.relu(self.b1(self.c1(x))))))

    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), Block(16), Block(16), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(16, 10))
    opt = lib.optim.SGD(net.parameters(), 0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    return _classifier_step(lib, net, opt, _data(lib, 0, 8, 3, 32, 32), _data(lib, 1, 8, classes=10),
                            label_smoothing=0.1)


def autoencoder(lib):
    """Strided convolutions down, transposed convolutions up, BCE; Adam; batch 16 of 1x28x28."""
    nn = lib.nn
    net = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1),
                        nn.ReLU(), nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
                        nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())
    opt = lib.optim.Adam(net.parameters(), 1e-3)
    x = lib.from_numpy(np.random.default_rng(0).random((16, 1, 28, 28), dtype=np.float32))
    return _train_step(opt, lambda: lib.nn.functional.binary_cross_entropy(net(x), x))


def vae(lib):
    """The PyTorch examples' VAE on MNIST-sized inputs (784-400-20, reparameterized with randn_like):
    BCE plus KL, Adam (650K parameters); batch 128."""
    nn, F = lib.nn, lib.nn.functional

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
            self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

        def forward(self, x):
            h = F.relu(self.fc1(x))
            mu, logvar = self.fc21(h), self.fc22(h)
            z = mu + lib.randn_like(mu) * lib.exp(0.5 * logvar)
            return lib.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar

    net = VAE()
    x = lib.from_numpy(np.random.default_rng(0).random((128, 784), dtype=np.float32))

    def loss_of():
        recon, mu, logvar = net(x)
        kld = -0.5 * lib.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return F.binary_cross_entropy(recon, x, reduction="sum") + kld
    return _train_step(lib.optim.Adam(net.parameters(), 1e-3), loss_of)


def lstm(lib):
    """Embedding(1000, 32) -> LSTM(32, 64) -> Linear on the last state; Adam; batch 8 of 20 tokens."""
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.rnn, self.fc = nn.Embedding(1000, 32), nn.LSTM(32, 64, batch_first=True), nn.Linear(64, 5)

        def forward(self, tokens):
            _, (h, _) = self.rnn(self.emb(tokens))
            return self.fc(h[-1])

    net = Net()
    return _classifier_step(lib, net, lib.optim.Adam(net.parameters(), 1e-3), _data(lib, 0, 8, 20, classes=1000),
                            _data(lib, 1, 8, classes=5))


def gru(lib):
    """2-layer GRU(16, 32) over 30 steps, smooth L1 on the last output; RMSprop; batch 16."""
    nn = lib.nn
    rnn, fc = nn.GRU(16, 32, num_layers=2, batch_first=True), nn.Linear(32, 1)
    opt = lib.optim.RMSprop(list(rnn.parameters()) + list(fc.parameters()), 1e-3)
    x, y = _data(lib, 0, 16, 30, 16), _data(lib, 1, 16, 1)
    return _train_step(opt, lambda: lib.nn.functional.smooth_l1_loss(fc(rnn(x)[0][:, -1]), y))


def transformer(lib):
    """TransformerEncoderLayer(64, 4 heads, 128), mean over 16 tokens, Linear; AdamW; batch 8."""
    nn = lib.nn
    layer, head = nn.TransformerEncoderLayer(64, 4, 128, batch_first=True, dropout=0.1), nn.Linear(64, 10)
    opt = lib.optim.AdamW(list(layer.parameters()) + list(head.parameters()), 1e-3)
    return _classifier_step(lib, lambda x: head(layer(x).mean(1)), opt, _data(lib, 0, 8, 16, 64),
                            _data(lib, 1, 8, classes=10))


def embedding_bag(lib):
    """EmbeddingBag(5000, 64, mean) over 32 bags of 30 tokens, Linear; SGD."""
    nn = lib.nn
    emb, fc = nn.EmbeddingBag(5000, 64, mode="mean"), nn.Linear(64, 4)
    opt = lib.optim.SGD(list(emb.parameters()) + list(fc.parameters()), 0.5)
    text = _data(lib, 0, 32 * 30, classes=5000)
    offsets = lib.arange(0, 32 * 30, 30)
    return _classifier_step(lib, lambda t: fc(emb(t, offsets)), opt, text, _data(lib, 1, 32, classes=4))


def char_rnn(lib):
    """The name-classification tutorial's RNN (i2h and i2o Linears on cat(letter, hidden), LogSoftmax),
    one 8-letter name at a time (batch 1), NLLLoss, the tutorial's update p.data.add_(p.grad.data,
    alpha=-lr)."""
    nn = lib.nn

    class RNN(nn.Module):
        def __init__(self, n_in, n_hidden, n_out):
            super().__init__()
            self.hidden_size = n_hidden
            self.i2h = nn.Linear(n_in + n_hidden, n_hidden)
            self.i2o = nn.Linear(n_in + n_hidden, n_out)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, letter, hidden):
            combined = lib.cat((letter, hidden), 1)
            return self.softmax(self.i2o(combined)), self.i2h(combined)

    rnn, criterion = RNN(57, 128, 18), nn.NLLLoss()
    rng = np.random.default_rng(0)
    letters = np.zeros((8, 1, 57), np.float32)
    letters[np.arange(8), 0, rng.integers(0, 57, 8)] = 1
    line, category = lib.from_numpy(letters), lib.tensor([3])

    def step():
        hidden = lib.zeros(1, rnn.hidden_size)
        rnn.zero_grad()
        for i in range(line.size()[0]):
            output, hidden = rnn(line[i], hidden)
        loss = criterion(output, category)
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-0.005)
        return loss.item()
    return step


MODELS = [mlp, mlp_bn, mlp_ln, cnn_bn, resnet, autoencoder, vae, lstm, gru, transformer, embedding_bag, char_rnn]


def _us_per_step(step, seconds):
    step()
    n, start = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return elapsed / n * 1e6


def compare(make, rounds, seconds):
    """Median microseconds a step for ember and torch (None without torch), in interleaved rounds."""
    ember.manual_seed(0)
    e = make(ember)
    t = None
    if torch is not None:
        torch.manual_seed(0)
        t = make(torch)
    gc.collect()
    gc.freeze()
    er, tr = [], []
    for _ in range(rounds):
        er.append(_us_per_step(e, seconds))
        if t is not None:
            tr.append(_us_per_step(t, seconds))
    return statistics.median(er), (statistics.median(tr) if tr else None)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--models", nargs="+", default=[m.__name__ for m in MODELS],
                   choices=[m.__name__ for m in MODELS])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--seconds", type=float, default=0.3)
    p.add_argument("--threads", type=int, default=1, help="torch's threads (0: its default)")
    a = p.parse_args(argv)
    if torch is not None and a.threads:
        torch.set_num_threads(a.threads)
    print(f"{'model':14s} {'ember us':>10s} {'torch us':>10s} {'ember/torch':>12s}   what")
    for make in MODELS:
        if make.__name__ not in a.models:
            continue
        em, tm = compare(make, a.rounds, a.seconds)
        ratio = f"{em / tm:12.2f}" if tm else "           -"
        print(f"{make.__name__:14s} {em:10.0f} {tm or 0:10.0f} {ratio}   {make.__doc__.splitlines()[0][:72]}", flush=True)


if __name__ == "__main__":
    main()
