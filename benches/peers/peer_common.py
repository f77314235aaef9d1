"""What the peer scripts (torch_autoencoder.py, jax_autoencoder.py) share: the data, the
command line and the result line, so that every peer reads the same digits, takes the same
flags and prints what compare.sh parses, as examples/throughput.rs does."""

import argparse
import gzip
import os
import struct
import time

import numpy as np

# Layer sizes of the `deep` autoencoder's encoder (the decoder mirrors them) and of the
# `classifier`'s sigmoid stack (a 10-way linear head on top).
DEEP = [784, 1000, 500, 250, 30]
CLASSIFIER = [784, 500, 500]
CLASSES = 10


def _forward_flop(sizes):
    """Matrix-product operations of a forward pass through dense layers of these widths."""
    return sum(2.0 * a * b for a, b in zip(sizes, sizes[1:]))


def _training_flop(sizes):
    """Forward, then the weight gradients (as many) and the input gradients (as many, but for
    the first layer's, which is not needed)."""
    return 3.0 * _forward_flop(sizes) - 2.0 * sizes[0] * sizes[1]


# Matrix-product floating-point operations per training sample, by workload (as in the Rust
# example): W1's five products of 784 x 256 for plain, contractive, denoising and products,
# 15.43e6 for deep, 3.098e6 for classifier.
W1_FLOP_PER_SAMPLE = 5.0 * 2.0 * 784.0 * 256.0
FLOP_PER_SAMPLE = {
    "plain": W1_FLOP_PER_SAMPLE,
    "contractive": W1_FLOP_PER_SAMPLE,
    "denoising": W1_FLOP_PER_SAMPLE,
    "products": W1_FLOP_PER_SAMPLE,
    "deep": _training_flop(DEEP + DEEP[-2::-1]),
    "classifier": _training_flop(CLASSIFIER + [CLASSES]),
}
_MNIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "mnist")
DATA = os.path.join(_MNIST, "train-images-idx3-ubyte.gz")
LABELS = os.path.join(_MNIST, "train-labels-idx1-ubyte.gz")


def parser(doc):
    """The flags every peer takes; a script adds its own before parsing."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument(
        "--workload",
        choices=list(FLOP_PER_SAMPLE),
        default="plain",
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    p.add_argument("--epochs", type=int, default=3)
    return p


def parse(p):
    """Parses the command line, refusing counts below 1."""
    args = p.parse_args()
    if args.batch_size < 1 or args.threads < 1 or args.epochs < 1:
        p.error("--batch-size, --threads and --epochs must be at least 1")
    return args


def read_pixels(path):
    """The IDX image file as an `n x 784` uint8 array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x00000803:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes in 3 dimensions")
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, rows * cols)


def read_labels(path):
    """The IDX label file as a length-`n` uint8 array of digits."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n = struct.unpack(">II", raw[:8])
    if magic != 0x00000801:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes in 1 dimension")
    labels = np.frombuffer(raw, dtype=np.uint8, offset=8)
    if labels.shape[0] != n:
        raise ValueError(f"{path}: {labels.shape[0]} labels, the header says {n}")
    return labels


def report(name, args, n, epoch_seconds, final_loss, cpu_per_wall):
    """Prints the run's line, as the Rust example does."""
    samples_per_sec = n / float(np.median(epoch_seconds))
    per_epoch = ",".join(f"{n / s:.0f}" for s in epoch_seconds)
    gflops = samples_per_sec * FLOP_PER_SAMPLE[args.workload] / 1e9
    print(
        f"impl={name} workload={args.workload} dtype={args.dtype} "
        f"batch_size={args.batch_size} threads={args.threads} epochs={args.epochs} "
        f"samples_per_sec={samples_per_sec:.0f} "
        f"gflops={gflops:.1f} final_loss={final_loss} "
        f"cpu_per_wall={cpu_per_wall:.2f} epoch_samples_per_sec={per_epoch}"
    )


def timed_epochs(epochs, run_epoch):
    """One warm-up epoch and `epochs` timed ones, each `run_epoch(index)`, which must return
    only once the epoch's work is done, with the epoch's loss total as a float. Returns the
    timed epochs' wall-clock seconds, the last epoch's total, and the CPU time per wall-clock
    second over the timed epochs."""
    epoch_seconds = []
    total = float("nan")
    cpu_start = wall_start = None
    for epoch in range(1 + epochs):
        start = time.perf_counter()
        if epoch == 1:
            cpu_start, wall_start = time.process_time(), start
        total = run_epoch(epoch)
        if epoch > 0:
            epoch_seconds.append(time.perf_counter() - start)
    cpu_per_wall = (time.process_time() - cpu_start) / (time.perf_counter() - wall_start)
    return epoch_seconds, total, cpu_per_wall
