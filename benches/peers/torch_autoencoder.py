#!/usr/bin/env python3
"""The throughput example's workloads in PyTorch on the CPU, eager or compiled, for BENCHMARKS.md.

Same data, same model, same loss, same optimiser and the same timing as
`cargo run --release --example throughput`, and the same output: one `key=value` line per run
with `samples_per_sec`, the median over the timed epochs.

W1 `plain`: 784 -> 256 sigmoid encoder, 256 -> 784 sigmoid decoder (two untied nn.Linear,
Glorot-uniform weights and zero biases as in the crate), per-sample loss the squared error summed
over the 784 pixels, averaged over the batch, torch.optim.SGD with learning rate 0.01.
W2 `contractive`: W1 + (lambda/2) * sum_j (h_j (1 - h_j))^2 * sum_i W_ji^2 per sample, lambda = 0.1,
differentiated by autograd. W3 `denoising`: the encoder sees x + N(0, 0.3^2) noise, drawn fresh
per batch; the loss compares with the clean x. `products`: the five matrix products of a W1
step (torch.mm into preallocated outputs, transposes as views) and nothing else, on the same
batches: the rate of the matrix-product kernel alone (MKL's here), the ceiling for a step.

`deep`: Hinton & Salakhutdinov's shape as a plain fine-tuning step: a 784 -> 1000 -> 500 -> 250
-> 30 encoder and a 30 -> 250 -> 500 -> 1000 -> 784 decoder, eight untied nn.Linear, every layer
sigmoid (the code layer too), Glorot-uniform weights and zero biases; W1's loss and optimiser
(summed squared error averaged over the batch, SGD 0.01). 15.43 MFLOP of matrix products per
sample (forward 5.666e6, backward twice that less the first layer's unneeded input gradient).
`classifier`: a 784 -> 500 -> 500 sigmoid stack under a 500 -> 10 linear head, softmax
cross-entropy on the digits' labels (data/mnist/train-labels-idx1-ubyte.gz) averaged over the
batch, Glorot-uniform weights and zero biases, SGD 0.01; 3.098 MFLOP per sample. `gflops` counts
each workload's own products (2.007 MFLOP per sample for the W1 shapes).

Initial weights: torch seeded with 2024, then every nn.Linear of the model constructed (each
drawing its default initialisation), then each weight, in layer order, overwritten by
xavier_uniform_ and each bias zeroed; jax_autoencoder.py reproduces these numbers.

The 8,000 training digits are read from the crate's data/mnist/train-images-idx3-ubyte.gz with
the gzip module and scaled by 1/255, and visited in file order every epoch (no shuffling): one
warm-up epoch, then --epochs timed ones.

Eager mode by default (`impl=torch`). With --compile the training step (zero_grad, objective,
backward, SGD step) goes through torch.compile with static shapes (`dynamic=False`, so the
trailing partial batch, 64 samples at batch 128, gets its own graph rather than turning the main
one dynamic), compiled during the warm-up epoch (`impl=torch-compile`). Dynamo breaks the step at
zero_grad and at backward (torch 2.15): the objective is one compiled graph, whose backward
AOTAutograd compiles too, and the SGD step another; the partial batch recompiles the objective's
graph once. The loop around the step is the eager one. For `products` it is a
function returning the five products (no `out=`), compiled the same way. --compile MODE passes a
torch.compile mode, e.g. max-autotune-no-cudagraphs (`impl=torch-compile-MODE`).

Run: python3 benches/peers/torch_autoencoder.py --workload plain --batch-size 128 --threads 1
"""

import time

import torch

from peer_common import CLASSES, CLASSIFIER, DATA, DEEP, LABELS, parse, parser, read_labels
from peer_common import read_pixels, timed_epochs
from peer_common import report as print_report


def read_images(path, dtype):
    """The IDX image file as an `n x 784` tensor of values byte / 255."""
    return torch.from_numpy(read_pixels(path).copy()).to(dtype) / 255


class Autoencoder(torch.nn.Module):
    def __init__(self, input_dim, code_dim):
        super().__init__()
        self.encoder = torch.nn.Linear(input_dim, code_dim)
        self.decoder = torch.nn.Linear(code_dim, input_dim)
        for layer in (self.encoder, self.decoder):
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)

    def forward(self, x):
        h = torch.sigmoid(self.encoder(x))
        return h, torch.sigmoid(self.decoder(h))


class Dense(torch.nn.Module):
    """Dense layers of widths `sizes`, each sigmoid but the last unless `sigmoid_last`; Glorot-
    uniform weights and zero biases, drawn once all the layers are constructed, as Autoencoder
    does."""

    def __init__(self, sizes, sigmoid_last):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.sigmoid_last = sigmoid_last
        for layer in self.layers:
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)

    def forward(self, x):
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last or self.sigmoid_last:
                x = torch.sigmoid(x)
        return x


def build_model(workload):
    """The workload's model (in float32, as torch constructs it)."""
    if workload == "deep":
        return Dense(DEEP + DEEP[-2::-1], sigmoid_last=True)
    if workload == "classifier":
        return Dense(CLASSIFIER + [CLASSES], sigmoid_last=False)
    return Autoencoder(784, 256)


def objective(model, x, workload, contractive_weight, noise_std_dev, labels=None):
    """The batch objective: mean over samples of the summed squared error, plus the penalty;
    for `deep` the squared error alone, for `classifier` the mean cross-entropy on `labels`."""
    if workload == "deep":
        return ((model(x) - x) ** 2).sum(dim=1).mean()
    if workload == "classifier":
        return torch.nn.functional.cross_entropy(model(x), labels)
    encoder_input = x
    if workload == "denoising":
        encoder_input = x + noise_std_dev * torch.randn_like(x)
    h, x_hat = model(encoder_input)
    loss = ((x_hat - x) ** 2).sum(dim=1).mean()
    if workload == "contractive":
        slope_squares = (h * (1 - h)) ** 2  # n x code_dim
        row_norms = (model.encoder.weight**2).sum(dim=1)  # code_dim
        loss = loss + 0.5 * contractive_weight * (slope_squares @ row_norms).mean()
    return loss


def products(x, batch_size, epochs, dtype, compile_options=None):
    """Times the five matrix products of W1 steps; returns the timed epochs' seconds. With
    `compile_options` (torch.compile's keyword arguments), a compiled function returning the
    five products replaces the `torch.mm(..., out=...)` calls."""
    n = x.shape[0]
    steps = n // batch_size
    batches = [x[s * batch_size : (s + 1) * batch_size].contiguous() for s in range(steps)]
    w1 = torch.rand(256, 784, dtype=dtype) - 0.5  # encoder weight, code x input
    w2 = torch.rand(784, 256, dtype=dtype) - 0.5  # decoder weight, input x code
    h = torch.rand(batch_size, 256, dtype=dtype)
    d2 = torch.rand(batch_size, 784, dtype=dtype) - 0.5
    d1 = torch.rand(batch_size, 256, dtype=dtype) - 0.5
    z1 = torch.empty(batch_size, 256, dtype=dtype)
    z2 = torch.empty(batch_size, 784, dtype=dtype)
    g2 = torch.empty(784, 256, dtype=dtype)
    dh = torch.empty(batch_size, 256, dtype=dtype)
    g1 = torch.empty(256, 784, dtype=dtype)
    epoch_seconds = []
    if compile_options is not None:
        five = torch.compile(
            lambda xb: (xb @ w1.t(), h @ w2.t(), d2.t() @ h, d2 @ w2, d1.t() @ xb),
            **compile_options,
        )
    with torch.no_grad():
        for epoch in range(1 + epochs):
            start = time.perf_counter()
            if compile_options is not None:
                for xb in batches:
                    z1, z2, g2, dh, g1 = five(xb)
            else:
                for xb in batches:
                    torch.mm(xb, w1.t(), out=z1)
                    torch.mm(h, w2.t(), out=z2)
                    torch.mm(d2.t(), h, out=g2)
                    torch.mm(d2, w2, out=dh)
                    torch.mm(d1.t(), xb, out=g1)
            if epoch > 0:
                epoch_seconds.append(time.perf_counter() - start)
    return steps * batch_size, epoch_seconds


def main():
    p = parser(__doc__)
    p.add_argument(
        "--compile",
        nargs="?",
        const="default",
        default=None,
        metavar="MODE",
        help="run the training step through torch.compile (MODE: a torch.compile mode)",
    )
    args = parse(p)
    compile_options = None
    if args.compile is not None:
        compile_options = {"dynamic": False}
        if args.compile != "default":
            compile_options["mode"] = args.compile

    torch.set_num_threads(args.threads)
    torch.manual_seed(2024)
    dtype = torch.float32 if args.dtype == "f32" else torch.float64
    x = read_images(DATA, dtype)
    if args.workload == "products":
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        n, epoch_seconds = products(x, args.batch_size, args.epochs, dtype, compile_options)
        cpu_per_wall = (time.process_time() - cpu_start) / (time.perf_counter() - wall_start)
        report(args, n, epoch_seconds, "none", cpu_per_wall)
        return
    n = x.shape[0]
    labels = None
    if args.workload == "classifier":
        labels = torch.from_numpy(read_labels(LABELS).astype("int64"))
        assert labels.shape[0] == n, "as many labels as images"
    model = build_model(args.workload).to(dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    def train_step(batch, batch_labels):
        optimizer.zero_grad(set_to_none=True)
        loss = objective(model, batch, args.workload, 0.1, 0.3, batch_labels)
        loss.backward()
        optimizer.step()
        return loss.detach()

    step = train_step if compile_options is None else torch.compile(train_step, **compile_options)

    def one_epoch(_):
        total = torch.zeros((), dtype=dtype)
        for first in range(0, n, args.batch_size):
            batch = x[first : first + args.batch_size]
            batch_labels = None if labels is None else labels[first : first + args.batch_size]
            total += step(batch, batch_labels) * batch.shape[0]
        return total.item()

    epoch_seconds, total, cpu_per_wall = timed_epochs(args.epochs, one_epoch)
    final_loss = total / n
    report(args, n, epoch_seconds, f"{final_loss:.4f}", cpu_per_wall)


def report(args, n, epoch_seconds, final_loss, cpu_per_wall):
    """Prints the run's line under this peer's name."""
    name = "torch"
    if args.compile is not None:
        name = "torch-compile" if args.compile == "default" else f"torch-compile-{args.compile}"
    print_report(name, args, n, epoch_seconds, final_loss, cpu_per_wall)


if __name__ == "__main__":
    main()
