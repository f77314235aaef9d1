#!/usr/bin/env python3
"""The `experiments vae` table in PyTorch (CPU, eager), the peer it is compared with.

Same data, models, objective, optimiser, budget and estimators as
`cargo run --release --example experiments -- vae`:

- the crate's bundled split: the 8,000 training and 2,000 test digits of data/mnist/, scaled by
  1/255 (not binarised);
- encoder: hidden nn.Linear layers with the activation, two affine heads for the mean and the
  log-variance of q(z|x); decoder: the hidden sizes mirrored, ending in Bernoulli logits;
  Glorot-uniform weights and zero biases, as the crate initialises them;
- the ELBO with the KL in closed form summed over the latent units, BCE from the logits summed
  over the pixels, averaged over the batch; or the IWAE bound with k samples;
- Adam (learning rate 1e-3), batches of 100, a fresh permutation every epoch, 30 epochs;
- test ELBO with one draw of z, the IWAE bound with k = 5, and log p(x) by importance sampling
  with K = 5000 draws, log-sum-exp in float64 by chunks.

It prints one line per model and seed (`model=... seed=... elbo=... iwae=... log_likelihood=...
seconds_per_epoch=...`), then the table with mean +- population standard deviation over seeds.

Run: python3 benches/peers/torch_vae.py [--seeds 3] [--first-seed 0] [--epochs 30] [--threads 1] [--quick]
     [--rows 0,1,2,3,4] [--ll-samples 5000]
"""

import argparse
import gzip
import math
import os
import struct
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "data", "mnist")

# (hidden sizes, latent, activation, k of the training objective; 1 is the ELBO)
SETTINGS = [
    ((400,), 2, "relu", 1),
    ((400,), 10, "relu", 1),
    ((400,), 20, "relu", 1),
    ((200, 200), 50, "tanh", 1),
    ((200, 200), 50, "tanh", 5),
]


def read_images(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x00000803:
        raise ValueError(f"{name}: not an IDX file of unsigned bytes in 3 dimensions")
    pixels = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols)
    return torch.from_numpy(pixels.copy()).float() / 255


def linear(n_in, n_out):
    layer = torch.nn.Linear(n_in, n_out)
    torch.nn.init.xavier_uniform_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    return layer


class Vae(torch.nn.Module):
    def __init__(self, hidden, latent, activation):
        super().__init__()
        act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid}[activation]
        sizes = [784, *hidden]
        layers = []
        for a, b in zip(sizes, sizes[1:]):
            layers += [linear(a, b), act()]
        self.encoder = torch.nn.Sequential(*layers)
        self.mean = linear(sizes[-1], latent)
        self.log_var = linear(sizes[-1], latent)
        back = [latent, *reversed(hidden)]
        layers = []
        for a, b in zip(back, back[1:]):
            layers += [linear(a, b), act()]
        layers.append(linear(back[-1], 784))
        self.decoder = torch.nn.Sequential(*layers)

    def log_weights(self, x, k):
        """log p(x|z) + log p(z) - log q(z|x) for k draws per row: (n, k), and the closed KL (n)."""
        h = self.encoder(x)
        mean, log_var = self.mean(h), self.log_var(h)
        eps = torch.randn(x.shape[0], k, mean.shape[1], dtype=x.dtype)
        sigma = torch.exp(0.5 * log_var)
        z = mean[:, None, :] + sigma[:, None, :] * eps
        logits = self.decoder(z)
        log_px = -torch.nn.functional.binary_cross_entropy_with_logits(
            logits, x[:, None, :].expand_as(logits), reduction="none"
        ).sum(-1)
        log_ratio = 0.5 * (eps**2 + log_var[:, None, :] - z**2).sum(-1)
        kl = 0.5 * (mean**2 + log_var.exp() - log_var - 1).sum(-1)
        return log_px, log_ratio, kl


def objective(model, x, k):
    log_px, log_ratio, kl = model.log_weights(x, k)
    if k == 1:
        return -(log_px[:, 0] - kl).mean()
    bound = torch.logsumexp(log_px + log_ratio, dim=1) - math.log(k)
    return -bound.mean()


@torch.no_grad()
def estimate(model, x, k, chunk=256, rows=16):
    """log (1/k) sum_s w_s per row, by chunks of draws and rows, accumulated in float64."""
    out = []
    for start in range(0, x.shape[0], rows):
        xb = x[start : start + rows]
        parts = []
        done = 0
        while done < k:
            m = min(chunk, k - done)
            log_px, log_ratio, _ = model.log_weights(xb, m)
            parts.append((log_px + log_ratio).double())
            done += m
        out.append(torch.logsumexp(torch.cat(parts, dim=1), dim=1) - math.log(k))
    return torch.cat(out)


@torch.no_grad()
def elbo(model, x):
    log_px, _, kl = model.log_weights(x, 1)
    return (log_px[:, 0] - kl).double()


def run(setting, seed, train, test, epochs, ll_samples):
    hidden, latent, activation, k = setting
    torch.manual_seed(1000 + seed)
    model = Vae(hidden, latent, activation)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = train.shape[0]
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n)
        for b in range(0, n, 100):
            x = train[order[b : b + 100]]
            optimizer.zero_grad()
            loss = objective(model, x, k)
            loss.backward()
            optimizer.step()
    seconds_per_epoch = (time.perf_counter() - start) / epochs
    return (
        -elbo(model, test).mean().item(),
        -estimate(model, test, 5).mean().item(),
        -estimate(model, test, ll_samples).mean().item(),
        seconds_per_epoch,
    )


def describe(setting):
    hidden, latent, activation, k = setting
    sizes = "-".join(str(s) for s in (784, *hidden, latent))
    objective = "VAE" if k == 1 else f"IWAE, k = {k}"
    return f"{sizes} ({activation}, {objective})"


def summary(values):
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    return f"{mean:.2f} ± {std:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--ll-samples", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--rows",
        default="0,1,2,3,4",
        metavar="ROW[,ROW...]",
        help="train only these rows (0-4) of the table",
    )
    parser.add_argument(
        "--time-only",
        type=int,
        metavar="ROW",
        help="only train row ROW (0-4) of the table for --epochs and print seconds_per_epoch",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.time_only is not None:
        train = read_images("train-images-idx3-ubyte.gz")[:8000]
        setting = SETTINGS[args.time_only]
        hidden, latent, activation, k = setting
        torch.manual_seed(0)
        model = Vae(hidden, latent, activation)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        for _ in range(args.epochs):
            order = torch.randperm(train.shape[0])
            for b in range(0, train.shape[0], 100):
                x = train[order[b : b + 100]]
                optimizer.zero_grad()
                objective(model, x, k).backward()
                optimizer.step()
        seconds = (time.perf_counter() - start) / args.epochs
        print(f"model={describe(setting)!r} seconds_per_epoch={seconds:.4f}")
        return
    epochs, ll_samples = (1, 50) if args.quick else (args.epochs, args.ll_samples)
    train = read_images("train-images-idx3-ubyte.gz")[:8000]
    test = read_images("test-images-idx3-ubyte.gz")[:2000]
    results = {}
    rows = [SETTINGS[int(r)] for r in args.rows.split(",")]
    for setting in rows:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            r = run(setting, seed, train, test, epochs, ll_samples)
            results.setdefault(describe(setting), []).append(r)
            print(
                f"model={describe(setting)!r} seed={seed} elbo={-r[0]:.4f} iwae={-r[1]:.4f} "
                f"log_likelihood={-r[2]:.4f} seconds_per_epoch={r[3]:.3f}",
                flush=True,
            )
    print()
    print(
        f"| model (PyTorch {torch.__version__}, {args.threads} thread(s), {epochs} epochs) | "
        f"test −ELBO | test −IWAE (k = 5) | test −log p(x) (K = {ll_samples}) | s per epoch | seeds |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, rows in results.items():
        columns = list(zip(*rows))
        print(f"| {name} | " + " | ".join(summary(c) for c in columns) + f" | {len(rows)} |")


if __name__ == "__main__":
    main()
