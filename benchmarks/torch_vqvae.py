"""PyTorch peer of `kv.VQVAE`'s default network on MNIST, eager CPU training, for
`benchmarks/throughput.py`'s VQ-VAE row.

Usage: python benchmarks/torch_vqvae.py MNIST_NPZ EPOCHS [BATCH, default 128]

The same network, layer for layer: encoder conv 4x4/2 to 32 and to 64 channels (ReLU), two
residual blocks (ReLU, 3x3 conv to 32, ReLU, 1x1 conv to 64, added), ReLU, a 1x1 conv to the
16-dimensional codes of a 7x7 grid; 128 codes updated by exponential moving averages (decay
0.99, epsilon 1e-5; commitment cost 0.25); decoder 3x3 conv to 64, the same residual stack,
ReLU, transposed convs 4x4/2 to 32 (ReLU) and to 1 channel of logits. Loss per example: the
Bernoulli negative log-likelihood plus 0.25 times the commitment loss, both summed over the
example; Adam 1e-3. Written the plain way a course would (no compilation, no fusing); it
leaves out keras_vae's re-seeding of unused codes, which runs every 50 steps.
Prints one JSON line: samples/s over the timed epochs (after 50 warm-up steps), the last
batch's loss and the thread count.
"""

import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Residual(nn.Module):
    def __init__(self, channels=64, hidden=32):
        super().__init__()
        self.conv3 = nn.Conv2d(channels, hidden, 3, padding=1)
        self.conv1 = nn.Conv2d(hidden, channels, 1)

    def forward(self, h):
        return h + self.conv1(F.relu(self.conv3(F.relu(h))))


class VQVAE(nn.Module):
    def __init__(self, codes=128, dim=16, decay=0.99, eps=1e-5, beta=0.25):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1),
                                 nn.ReLU(), Residual(), Residual(), nn.ReLU(),
                                 nn.Conv2d(64, dim, 1))
        # 7 -> 14 -> 28, as keras_vae's transposed convolutions cropped to the encoder's sizes.
        self.dec = nn.Sequential(nn.Conv2d(dim, 64, 3, padding=1), Residual(), Residual(),
                                 nn.ReLU(), nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ReLU(),
                                 nn.ConvTranspose2d(32, 1, 4, 2, 1))
        embeddings = torch.randn(codes, dim) * 0.1
        self.register_buffer("embeddings", embeddings)
        self.register_buffer("ema_counts", torch.ones(codes))
        self.register_buffer("ema_sums", embeddings.clone())
        self.decay, self.eps, self.beta = decay, eps, beta

    def quantize(self, z_e):
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1])
        distances = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.embeddings.t()
                     + self.embeddings.pow(2).sum(1)[None])
        codes = distances.argmin(1)
        one_hot = F.one_hot(codes, self.embeddings.shape[0]).float()
        e = (one_hot @ self.embeddings).view(z_e.shape[0], z_e.shape[2], z_e.shape[3], -1)
        e = e.permute(0, 3, 1, 2)
        if self.training:
            with torch.no_grad():
                self.ema_counts.mul_(self.decay).add_(one_hot.sum(0), alpha=1 - self.decay)
                self.ema_sums.mul_(self.decay).add_(one_hot.t() @ flat, alpha=1 - self.decay)
                n = self.ema_counts.sum()
                counts = (self.ema_counts + self.eps) / (n + self.eps * len(self.ema_counts)) * n
                self.embeddings.copy_(self.ema_sums / counts[:, None])
        commitment = (z_e - e.detach()).pow(2).flatten(1).sum(1)
        return z_e + (e - z_e).detach(), commitment

    def forward(self, x):
        z_q, commitment = self.quantize(self.enc(x))
        return self.dec(z_q), commitment


def main():
    path, epochs = sys.argv[1], int(sys.argv[2])
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 128
    torch.manual_seed(0)
    data = np.load(path)
    x = torch.tensor(data["x_train"][:, None].astype(np.float32) / 255.0)
    model = VQVAE()
    optimizer = torch.optim.Adam(model.parameters(), 1e-3)

    def step(b):
        logits, commitment = model(b)
        nll = F.binary_cross_entropy_with_logits(logits, b, reduction="none").flatten(1).sum(1)
        loss = (nll + model.beta * commitment).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    perm = torch.randperm(len(x))
    for i in range(50):
        step(x[perm[i * batch:(i + 1) * batch]])
    start, n = time.perf_counter(), 0
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x) - batch + 1, batch):
            loss = step(x[perm[i:i + batch]])
            n += batch
    seconds = time.perf_counter() - start
    print(json.dumps({"peer": "torch-vqvae", "samples_per_sec": n / seconds, "seconds": seconds,
                      "last_loss": loss, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
