"""What the peer scripts (torch_autoencoder.py, jax_autoencoder.py) share: the data, the
command line and the result line, so that every peer reads the same digits, takes the same
flags and prints what compare.sh parses, as examples/throughput.rs does."""

import argparse
import gzip
import os
import struct
import time

import numpy as np

# Matrix-product floating-point operations per W1 training sample (as in the Rust example).
FLOP_PER_SAMPLE = 5.0 * 2.0 * 784.0 * 256.0
DATA = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "..",
    "data",
    "mnist",
    "train-images-idx3-ubyte.gz",
)


def parser(doc):
    """The flags every peer takes; a script adds its own before parsing."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument(
        "--workload",
        choices=["plain", "contractive", "denoising", "products"],
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


def report(name, args, n, epoch_seconds, final_loss, cpu_per_wall):
    """Prints the run's line, as the Rust example does."""
    samples_per_sec = n / float(np.median(epoch_seconds))
    per_epoch = ",".join(f"{n / s:.0f}" for s in epoch_seconds)
    print(
        f"impl={name} workload={args.workload} dtype={args.dtype} "
        f"batch_size={args.batch_size} threads={args.threads} epochs={args.epochs} "
        f"samples_per_sec={samples_per_sec:.0f} "
        f"gflops={samples_per_sec * FLOP_PER_SAMPLE / 1e9:.1f} final_loss={final_loss} "
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
