"""Real PyTorch on the same CIFAR-10 files and settings as examples/cifar10_classifier.py.

torchvision is not needed: the official python batches are read with pickle, and ToTensor +
Normalize are done the way torchvision does them. Used for the back-to-back comparison:

    python benchmarks/cifar10_torch_reference.py --data ROOT [--epochs 2 --batch-size 4]
"""
import argparse
import os
import pickle
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
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
        return self.fc3(x)


class Cifar(torch.utils.data.Dataset):
    def __init__(self, root, train):
        folder = os.path.join(root, "cifar-10-batches-py")
        names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
        data, labels = [], []
        for name in names:
            with open(os.path.join(folder, name), "rb") as f:
                entry = pickle.load(f, encoding="latin1")
            data.append(entry["data"])
            labels.extend(entry["labels"])
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.targets = labels

    def __len__(self):
        return len(self.data)

    def __getitem__(self, i):
        img = torch.from_numpy(self.data[i].transpose(2, 0, 1).astype(np.float32) / 255.0)
        return (img - 0.5) / 0.5, self.targets[i]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    if a.threads:
        torch.set_num_threads(a.threads)
    train = torch.utils.data.DataLoader(Cifar(a.data, True), batch_size=a.batch_size, shuffle=True,
                                        num_workers=a.workers)
    test = torch.utils.data.DataLoader(Cifar(a.data, False), batch_size=a.batch_size, shuffle=False,
                                       num_workers=a.workers)
    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    start = time.time()
    for epoch in range(a.epochs):
        running = 0.0
        for i, (x, y) in enumerate(train):
            optimizer.zero_grad()
            loss = criterion(net(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item()
            if (i + 1) % 2000 == 0:
                print('[%d, %5d] loss: %.3f' % (epoch + 1, i + 1, running / 2000), flush=True)
                running = 0.0
    train_s = time.time() - start
    correct = total = 0
    with torch.no_grad():
        for x, y in test:
            _, pred = torch.max(net(x), 1)
            total += y.size(0)
            correct += (pred == y).sum().item()
    print('Accuracy of the network on the %d test images: %d %%' % (total, 100 * correct / total))
    print(f"torch: train {train_s:.1f} s, total {time.time() - start:.1f} s, accuracy {100 * correct / total:.2f} %")


if __name__ == "__main__":
    main()
