"""The spec's CIFAR-10 classifier (section 2.2) as a finished program.

Written against PyTorch's API; ember runs it unchanged:

    ember run examples/cifar10_classifier.py [--epochs 2 --batch-size 4 ...]
    ember distributed-run --nproc-per-node 2 examples/cifar10_classifier.py [...]   # data-parallel

It downloads CIFAR-10 when missing, trains the spec's LeNet with SGD, prints the spec's running-loss
lines, saves a checkpoint in PyTorch's format, reports accuracy and per-class accuracy on the test
set, and writes PNGs (sample grid, loss curve, per-class accuracy, confusion matrix) to --out.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision
import torchvision.transforms as transforms

CLASSES = ('plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')


class Net(nn.Module):
    """The spec's network: two conv/pool stages and three linear layers."""

    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--data", default="./data", help="dataset root (CIFAR-10 is downloaded here if missing)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    p.add_argument("--out", default="./out", help="folder for the checkpoint and the PNGs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", default=None, help="checkpoint to continue from")
    p.add_argument("--log-every", type=int, default=2000, help="mini-batches per running-loss line")
    p.add_argument("--limit", type=int, default=0, help="use only the first N training images (0: all)")
    p.add_argument("--url", default=None, help="download the CIFAR-10 archive from this mirror instead")
    p.add_argument("--no-verify", action="store_true",
                   help="accept CIFAR-10 files whose MD5 differs from the official ones (a rebuilt copy)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


class Progress:
    """A per-epoch progress bar on stderr (tqdm when installed)."""

    def __init__(self, total, desc, enabled):
        self.bar = None
        self.total, self.desc, self.enabled, self.n, self.last = total, desc, enabled, 0, 0.0
        if enabled:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, desc=desc, unit="batch", leave=False, file=sys.stderr)
            except ImportError:
                pass

    def update(self, loss):
        self.n += 1
        if self.bar is not None:
            self.bar.update(1)
            if self.n % 50 == 0:
                self.bar.set_postfix(loss=f"{loss:.3f}")
        elif self.enabled and time.time() - self.last > 1.0:
            self.last = time.time()
            done = int(30 * self.n / max(self.total, 1))
            sys.stderr.write(f"\r{self.desc} [{'#' * done}{'.' * (30 - done)}] {self.n}/{self.total}")
            sys.stderr.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            sys.stderr.write("\r" + " " * 70 + "\r")


def evaluate(net, loader, device):
    """Accuracy, per-class accuracy and the confusion matrix on a loader."""
    confusion = np.zeros((10, 10), dtype=np.int64)
    with torch.no_grad():
        for images, labels in loader:
            outputs = net(images.to(device))
            _, predicted = torch.max(outputs, 1)
            np.add.at(confusion, (labels.numpy(), predicted.cpu().numpy()), 1)
    total = confusion.sum()
    accuracy = 100.0 * np.trace(confusion) / max(total, 1)
    per_class = 100.0 * np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    return accuracy, per_class, confusion


def save_plots(out, images, labels, predicted, losses, per_class, confusion):
    """Write the PNGs: sample grid, loss curve, per-class accuracy, confusion matrix."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # a grid of test images, each titled with its true label and the network's prediction
    cols = 8
    rows = (len(images) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.75 * rows + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= len(images):
            continue
        ax.imshow(np.transpose((images[k] / 2 + 0.5).numpy(), (1, 2, 0)), interpolation="nearest")
        right = int(labels[k]) == int(predicted[k])
        ax.set_title(f"{CLASSES[int(labels[k])]}\n→ {CLASSES[int(predicted[k])]}", fontsize=9,
                     color="green" if right else "red")
    fig.suptitle("Test images: true label → prediction (green right, red wrong)")
    fig.savefig(os.path.join(out, "samples.png"), bbox_inches="tight", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    steps, values = zip(*losses) if losses else ((), ())
    ax.plot(steps, values, marker="o")
    ax.set_xlabel("mini-batches")
    ax.set_ylabel("running loss")
    ax.set_title("Training loss")
    ax.grid(alpha=0.3)
    fig.savefig(os.path.join(out, "loss.png"), bbox_inches="tight", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(CLASSES, per_class, color="tab:blue")
    ax.axhline(10, color="grey", linestyle="--", label="chance")
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Per-class accuracy on the test set")
    for i, v in enumerate(per_class):
        ax.text(i, v + 1, f"{v:.0f}", ha="center", fontsize=8)
    ax.legend()
    fig.savefig(os.path.join(out, "per_class_accuracy.png"), bbox_inches="tight", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 5))
    im = ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(10), CLASSES, rotation=45)
    ax.set_yticks(range(10), CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, int(confusion[i, j]), ha="center", va="center", fontsize=6,
                    color="white" if confusion[i, j] > confusion.max() / 2 else "black")
    fig.colorbar(im)
    ax.set_title("Confusion matrix")
    fig.savefig(os.path.join(out, "confusion_matrix.png"), bbox_inches="tight", dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    # launched by `ember distributed-run` / mpiexec: one process per rank, each training on its
    # share of every epoch (DistributedSampler); rank 0 downloads, prints, saves and evaluates
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = 0
    if distributed:
        dist.init_process_group("gloo")
        rank = dist.get_rank()
    if rank != 0:
        global print
        print = lambda *a, **k: None  # noqa: E731  (only rank 0 reports)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if args.device == "auto":
        device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    os.makedirs(args.out, exist_ok=True)

    dataset_class = torchvision.datasets.CIFAR10
    if args.url or args.no_verify:
        overrides = {}
        if args.url:
            overrides["url"] = args.url
        if args.no_verify:
            overrides.update(tgz_md5=None,
                             train_list=[[name, None] for name, _ in dataset_class.train_list],
                             test_list=[[name, None] for name, _ in dataset_class.test_list],
                             meta=dict(dataset_class.meta, md5=None))
        dataset_class = type("CIFAR10", (dataset_class,), overrides)

    transform = transforms.Compose(
        [transforms.ToTensor(),
         transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    if distributed and rank != 0:
        dist.barrier()  # let rank 0 download first
    try:
        trainset = dataset_class(root=args.data, train=True, download=True, transform=transform)
        testset = dataset_class(root=args.data, train=False, download=True, transform=transform)
    except RuntimeError as e:  # the download failed, or the files are missing or corrupted
        sys.exit(f"cifar10_classifier: {e}\n(A CIFAR-10 rebuilt from other files has other MD5 sums: "
                 "pass --data ROOT --no-verify.)")
    if distributed and rank == 0:
        dist.barrier()
    if args.limit:
        trainset = torch.utils.data.Subset(trainset, range(min(args.limit, len(trainset))))
    generator = torch.Generator().manual_seed(args.seed)
    sampler = torch.utils.data.DistributedSampler(trainset, seed=args.seed) if distributed else None
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=args.batch_size, shuffle=sampler is None,
                                              sampler=sampler, num_workers=args.workers, generator=generator)
    testloader = torch.utils.data.DataLoader(testset, batch_size=args.batch_size, shuffle=False,
                                             num_workers=args.workers)

    net = Net().to(device)
    model = nn.parallel.DistributedDataParallel(net) if distributed else net
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
    start_epoch = 0
    losses = []
    if args.resume:
        checkpoint = torch.load(args.resume, map_location=device)
        net.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        start_epoch = checkpoint["epoch"]
        losses = [tuple(x) for x in checkpoint.get("losses", [])]
        print(f"Resumed from {args.resume} at epoch {start_epoch}")

    started = time.time()
    step = start_epoch * len(trainloader)
    for epoch in range(start_epoch, args.epochs):  # loop over the dataset multiple times
        if sampler is not None:
            sampler.set_epoch(epoch)
        running_loss = 0.0
        bar = Progress(len(trainloader), f"epoch {epoch + 1}/{args.epochs}", not args.no_progress and rank == 0)
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data[0].to(device), data[1].to(device)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            value = loss.item()
            running_loss += value
            step += 1
            bar.update(value)
            if (i + 1) % args.log_every == 0:
                bar.close() if bar.bar is None else None
                print('[%d, %5d] loss: %.3f' % (epoch + 1, i + 1, running_loss / args.log_every))
                losses.append((step, running_loss / args.log_every))
                running_loss = 0.0
        bar.close()
        if rank == 0:
            checkpoint = {"model": net.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch + 1,
                          "losses": [list(x) for x in losses]}
            torch.save(checkpoint, os.path.join(args.out, "checkpoint.pth"))
    train_seconds = time.time() - started
    print('Finished Training')
    if distributed:
        dist.destroy_process_group()
        if rank != 0:
            return

    PATH = os.path.join(args.out, 'cifar_net.pth')
    torch.save(net.state_dict(), PATH)

    net = Net()
    net.load_state_dict(torch.load(PATH))
    net.to(device)
    accuracy, per_class, confusion = evaluate(net, testloader, device)
    print('Accuracy of the network on the %d test images: %d %%' % (confusion.sum(), accuracy))
    for i in range(10):
        print('Accuracy of %5s : %2d %%' % (CLASSES[i], per_class[i]))

    summary = {"accuracy": accuracy, "per_class": dict(zip(CLASSES, per_class.tolist())),
               "train_seconds": train_seconds, "epochs": args.epochs, "batch_size": args.batch_size,
               "images": len(trainset)}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    if not args.no_plots:
        # 16 test images spread over the set (it may be ordered by class)
        picks = np.random.RandomState(args.seed).choice(len(testset), 16, replace=False)
        images = torch.stack([testset[int(i)][0] for i in picks])
        labels = torch.tensor([testset[int(i)][1] for i in picks])
        with torch.no_grad():
            _, predicted = torch.max(net(images.to(device)), 1)
        save_plots(args.out, images, labels, predicted.cpu(), losses, per_class, confusion)
        print(f"Wrote {args.out}/samples.png, loss.png, per_class_accuracy.png, confusion_matrix.png")
    print(f"Training took {train_seconds:.1f} s; checkpoint: {PATH}")


if __name__ == "__main__":
    main()
