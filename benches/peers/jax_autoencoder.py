#!/usr/bin/env python3
"""The throughput example's workloads in JAX on the CPU (XLA), for BENCHMARKS.md.

The JAX counterpart of torch_autoencoder.py: the same data, model, loss, optimiser, batch order,
timing, flags and output (one `key=value` line per run, `samples_per_sec` the median over the
timed epochs), in one of two styles, chosen by --mode:

  jit   (impl=jax-jit)   one jitted function per batch, called from a Python loop: the objective's
                         value and gradient and the SGD update, with the parameters (and the
                         running loss total) donated so that XLA updates them in place.
  scan  (impl=jax-scan)  the whole epoch as one jitted call: `lax.scan` of the same step over the
                         full batches, stacked into one `steps x batch x 784` array beforehand,
                         then one more step on the trailing partial batch, if any.

Workloads, as in torch_autoencoder.py and examples/throughput.rs. W1 `plain`: 784 -> 256 sigmoid
encoder, 256 -> 784 sigmoid decoder, untied, weights stored as torch.nn.Linear stores them
(`out x in`), Glorot-uniform with zero biases; per-sample loss the squared error summed over the
784 pixels, averaged over the batch; SGD with learning rate 0.01, differentiated by
`jax.value_and_grad`. W2 `contractive`: W1 + (lambda/2) * sum_j (h_j (1 - h_j))^2 * sum_i W_ji^2
per sample, lambda = 0.1. W3 `denoising`: the encoder sees x + N(0, 0.3^2) noise, drawn fresh
per batch (key: the run's key folded with the epoch, then with the batch's index, so both modes
draw the same noise); the loss compares with the clean x. `products`: the five matrix products of
a W1 step and nothing else, on the same full batches as the other scripts (the trailing partial
batch is left out there, as in the Rust example and the torch script), jitted as one function
returning all five results: per batch from a Python loop in `jit` mode (the last results donated
as the next call's output buffers, like the torch script's `out=`), a `lax.scan` over the stacked
batches in `scan` mode.

`deep`: Hinton & Salakhutdinov's shape as a plain fine-tuning step: a 784 -> 1000 -> 500 -> 250
-> 30 encoder and a 30 -> 250 -> 500 -> 1000 -> 784 decoder, eight untied dense layers stored
`out x in`, every layer sigmoid (the code layer too), Glorot-uniform weights and zero biases; W1's
loss and optimiser (summed squared error averaged over the batch, SGD 0.01). 15.43 MFLOP of
matrix products per sample (forward 5.666e6, backward twice that less the first layer's unneeded
input gradient). `classifier`: a 784 -> 500 -> 500 sigmoid stack under a 500 -> 10 linear head,
softmax cross-entropy (`jax.nn.log_softmax`) on the digits' labels from
data/mnist/train-labels-idx1-ubyte.gz, averaged over the batch, Glorot-uniform weights and zero
biases, SGD 0.01; 3.098 MFLOP per sample. Each batch's labels travel with its digits (one more
array per batch, or stacked alongside them). `gflops` counts each workload's own products (2.007
MFLOP per sample for the W1 shapes).

Every epoch visits the 8,000 digits of data/mnist/train-images-idx3-ubyte.gz (read with gzip,
scaled by 1/255) in file order, in batches of --batch-size, the last one smaller when the batch
size does not divide 8,000 (8000 % 128 = 64: 62 batches of 128 and one of 64), as the crate's
training loop and the torch script do. One warm-up epoch (it also compiles), then --epochs timed
ones, each ended by blocking on the parameters and on the epoch's loss total. The batches are
placed on the device, one array per batch (or stacked), before the clock starts.

Initial weights: the same numbers as torch_autoencoder.py's, for every workload. That script
seeds torch with 2024, builds the model's nn.Linear layers (two for W1-W3, eight for deep, three
for classifier; each constructor draws its default initialisation, one draw per weight and per
bias), then overwrites the weights, in layer order, with xavier_uniform_ (bound sqrt(3) *
sqrt(2 / (fan_in + fan_out)), computed as torch computes it). Torch's CPU generator is the
standard 32-bit Mersenne twister, seeded as `init_genrand(2024)`, and a float32 uniform draw
keeps the low 24 bits of one output, so NumPy's MT19937 with the legacy seeding reproduces those
weights exactly (checked against torch 2.15, for every workload's layers: identical float32
arrays); f64 runs use the same float32 values widened, as the torch script does with
`.to(torch.float64)`. So W1, W2, deep and classifier start from the same point in both scripts
and their final_loss agrees to rounding; W3 does not share torch's noise.

Threads. XLA's CPU client sizes its thread pool from the environment variable NPROC when set,
otherwise from the CPUs the process may run on (its affinity mask), and it runs independent work
(independent operations of a program, and calls that do not depend on one another) concurrently
on that pool; none of the `--xla_cpu_*` flags of this version sets a thread count. So the script
restricts its own CPU affinity to --threads CPUs (`os.sched_setaffinity`, the lowest-numbered of
the CPUs it was allowed) before it imports jax, as `taskset -c` would: every thread of the process
inherits the mask, so the process cannot use more than --threads cores whatever XLA does. Checked
with jax/jaxlib 0.10.2 on this 2-core machine while it was busy, by `cpu_per_wall` (CPU time per
wall-clock second, as in the torch script) of `products`, f32, batch 128, --mode jit, in a first
version whose calls did not depend on one another (no donated outputs):
  no limit                                              cpu_per_wall 1.10-1.39, 17 threads
  XLA_FLAGS=--xla_cpu_multi_thread_eigen=false          1.54: accepted, no limit
  XLA_FLAGS="... intra_op_parallelism_threads=1"        1.46: silently ignored (it is no XLA
                                                        flag; an unknown `--xla_...` one aborts)
  NPROC=1                                               0.83-0.96, 15 threads
  affinity to one CPU (as this script does)             0.93-0.99, 14 threads
With --threads 2 on a 2-core machine the mask is the whole machine. --threads above the CPUs
available is an error.

Run: python3 benches/peers/jax_autoencoder.py --mode jit --workload plain --batch-size 128
"""

import math
import os
import sys
import time

import numpy as np

from peer_common import CLASSES, CLASSIFIER, DATA, DEEP, LABELS, parse, parser, read_labels
from peer_common import read_pixels, timed_epochs
from peer_common import report as print_report

INPUT, CODE = 784, 256
LEARNING_RATE = 0.01
CONTRACTIVE_WEIGHT = 0.1
NOISE_STD_DEV = 0.3
SEED = 2024


def parse_args():
    p = parser(__doc__)
    p.add_argument("--mode", choices=["jit", "scan"], default="jit")
    return parse(p)


def limit_threads(threads):
    """Restricts the process to `threads` CPUs; to be called before jax is imported."""
    allowed = sorted(os.sched_getaffinity(0))
    if threads > len(allowed):
        sys.exit(f"jax_autoencoder.py: --threads {threads}, but only {len(allowed)} CPUs available")
    os.sched_setaffinity(0, allowed[:threads])


def read_images(path):
    """The IDX image file as an `n x 784` float64 array of values byte / 255."""
    return read_pixels(path).astype(np.float64) / 255


def layer_sizes(workload):
    """The widths of the workload's dense layers, input first."""
    if workload == "deep":
        return DEEP + DEEP[-2::-1]
    if workload == "classifier":
        return CLASSIFIER + [CLASSES]
    return [INPUT, CODE, INPUT]


def torch_initial_weights(sizes):
    """The float32 weights torch_autoencoder.py starts from (see the header) for dense layers
    of widths `sizes`, each `out x in`: for W1, w1 `256 x 784` and w2 `784 x 256`."""
    generator = np.random.MT19937(0)
    generator._legacy_seeding(SEED)  # init_genrand(2024), as torch.manual_seed(2024)

    def uniform(count, bound):
        raw = generator.random_raw(count).astype(np.uint64)
        unit = (raw & ((1 << 24) - 1)).astype(np.float64) * 2.0**-24
        low, high = np.float32(-bound), np.float32(bound)
        return (unit * np.float64(high - low) + np.float64(low)).astype(np.float32)

    shapes = list(zip(sizes[1:], sizes))  # (out, in) of each layer
    # The nn.Linear constructors' own draws (weight, then bias, for each layer), overwritten.
    generator.random_raw(sum(out * in_ + out for out, in_ in shapes))
    weights = []
    for out, in_ in shapes:
        glorot = math.sqrt(3.0) * math.sqrt(2.0 / float(in_ + out))  # as xavier_uniform_
        weights.append(uniform(out * in_, glorot).reshape(out, in_))
    return weights


def main():
    args = parse_args()
    limit_threads(args.threads)

    import jax  # after limit_threads: XLA's threads start with the import's client

    if args.dtype == "f64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    dtype = jnp.float32 if args.dtype == "f32" else jnp.float64
    x = read_images(DATA).astype(dtype)
    if args.workload == "products":
        run = products_scan if args.mode == "scan" else products_jit
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        n, epoch_seconds = run(jax, jnp, x, args.batch_size, args.epochs, dtype)
        cpu_per_wall = (time.process_time() - cpu_start) / (time.perf_counter() - wall_start)
        report(args, n, epoch_seconds, "none", cpu_per_wall)
        return

    weights = torch_initial_weights(layer_sizes(args.workload))
    if args.workload in ("deep", "classifier"):
        # One (weight, bias) pair per layer.
        params = tuple(
            (jnp.asarray(w, dtype=dtype), jnp.zeros(w.shape[0], dtype=dtype)) for w in weights
        )
    else:
        w1, w2 = weights
        params = (
            jnp.asarray(w1, dtype=dtype),
            jnp.zeros(CODE, dtype=dtype),
            jnp.asarray(w2, dtype=dtype),
            jnp.zeros(INPUT, dtype=dtype),
        )
    objective = make_objective(jax, jnp, args.workload)
    value_and_grad = jax.value_and_grad(objective)
    root_key = jax.random.key(SEED)

    def step(params, total, batch, epoch_key, index):
        """One SGD step on `batch` (the digits `xb`, or `(xb, labels)` for the classifier); adds
        the batch's loss times its size to `total`."""
        loss, grads = value_and_grad(params, batch, jax.random.fold_in(epoch_key, index))
        params = jax.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads)
        return params, total + loss * jax.tree_util.tree_leaves(batch)[0].shape[0]

    n = x.shape[0]
    data = x
    if args.workload == "classifier":
        labels = read_labels(LABELS).astype(np.int32)
        assert labels.shape[0] == n, "as many labels as images"
        data = (x, labels)
    steps, tail = divmod(n, args.batch_size)
    if args.mode == "jit":
        run_epoch = jit_epoch(jax, jnp, step, data, n, args.batch_size, dtype)
    else:
        run_epoch = scan_epoch(jax, jnp, step, data, steps, tail, args.batch_size, dtype)

    state = {"params": params}

    def one_epoch(epoch):
        state["params"], total = run_epoch(state["params"], jax.random.fold_in(root_key, epoch))
        jax.block_until_ready(state["params"])
        return float(total)

    epoch_seconds, total, cpu_per_wall = timed_epochs(args.epochs, one_epoch)
    final_loss = total / n
    report(args, n, epoch_seconds, f"{final_loss:.4f}", cpu_per_wall)


def make_objective(jax, jnp, workload):
    """The batch objective: mean over samples of the summed squared error, plus the penalty;
    for `deep` the squared error alone, for `classifier` the mean cross-entropy."""

    if workload == "deep":

        def deep(params, x, key):
            del key
            out = x
            for w, b in params:
                out = jax.nn.sigmoid(out @ w.T + b)
            return jnp.mean(jnp.sum((out - x) ** 2, axis=1))

        return deep

    if workload == "classifier":

        def classifier(params, batch, key):
            del key
            x, labels = batch
            out = x
            for w, b in params[:-1]:
                out = jax.nn.sigmoid(out @ w.T + b)
            w, b = params[-1]
            log_p = jax.nn.log_softmax(out @ w.T + b, axis=1)
            return -jnp.mean(jnp.take_along_axis(log_p, labels[:, None], axis=1))

        return classifier

    def objective(params, x, key):
        w1, b1, w2, b2 = params
        encoder_input = x
        if workload == "denoising":
            encoder_input = x + NOISE_STD_DEV * jax.random.normal(key, x.shape, x.dtype)
        h = jax.nn.sigmoid(encoder_input @ w1.T + b1)
        x_hat = jax.nn.sigmoid(h @ w2.T + b2)
        loss = jnp.mean(jnp.sum((x_hat - x) ** 2, axis=1))
        if workload == "contractive":
            slope_squares = (h * (1 - h)) ** 2  # n x code
            row_norms = jnp.sum(w1**2, axis=1)  # code
            loss = loss + 0.5 * CONTRACTIVE_WEIGHT * jnp.mean(slope_squares @ row_norms)
        return loss

    return objective


def jit_epoch(jax, jnp, step, data, n, batch_size, dtype):
    """An epoch as one call per batch of `step` jitted, the parameters and total donated.
    `data`: the `n` digits, or a tuple of arrays of `n` rows each (digits and labels)."""
    jitted = jax.jit(step, donate_argnums=(0, 1))
    firsts = range(0, n, batch_size)
    batches = [
        jax.device_put(jax.tree_util.tree_map(lambda a: a[first : first + batch_size], data))
        for first in firsts
    ]
    indices = [jnp.asarray(i, dtype=jnp.int32) for i in range(len(batches))]

    def run_epoch(params, epoch_key):
        total = jnp.zeros((), dtype=dtype)
        for xb, index in zip(batches, indices):
            params, total = jitted(params, total, xb, epoch_key, index)
        return params, total

    return run_epoch


def scan_epoch(jax, jnp, step, data, steps, tail, batch_size, dtype):
    """An epoch as one jitted call: `lax.scan` over the full batches, then the partial one.
    `data`: the digits, or a tuple of arrays with as many rows each (digits and labels)."""
    full = steps * batch_size
    stacked = jax.device_put(
        jax.tree_util.tree_map(
            lambda a: a[:full].reshape((steps, batch_size) + a.shape[1:]), data
        )
    )
    remainder = (
        jax.device_put(jax.tree_util.tree_map(lambda a: a[full:], data)) if tail else None
    )

    def epoch(params, stacked, remainder, epoch_key):
        def body(carry, inputs):
            batch, index = inputs
            return step(*carry, batch, epoch_key, index), None

        carry = (params, jnp.zeros((), dtype=dtype))
        carry, _ = jax.lax.scan(body, carry, (stacked, jnp.arange(steps, dtype=jnp.int32)))
        if remainder is not None:
            carry = step(*carry, remainder, epoch_key, jnp.int32(steps))
        return carry

    jitted = jax.jit(epoch, donate_argnums=(0,))
    return lambda params, epoch_key: jitted(params, stacked, remainder, epoch_key)


def product_operands(jnp, batch_size, dtype):
    """The products' fixed operands, as in the torch script: w1 `256 x 784`, w2 `784 x 256`,
    h `b x 256`, d2 `b x 784`, d1 `b x 256`."""
    rng = np.random.default_rng(SEED)
    b = batch_size
    shapes = [(CODE, INPUT), (INPUT, CODE), (b, CODE), (b, INPUT), (b, CODE)]
    offsets = [0.5, 0.5, 0.0, 0.5, 0.5]
    return [jnp.asarray(rng.random(s) - o, dtype=dtype) for s, o in zip(shapes, offsets)]


def five_products(xb, w1, w2, h, d2, d1):
    """z1 = x W1^T, z2 = h W2^T (forward); dW2 = d2^T h, dh = d2 W2, dW1 = d1^T x (backward)."""
    return xb @ w1.T, h @ w2.T, d2.T @ h, d2 @ w2, d1.T @ xb


def products_jit(jax, jnp, x, batch_size, epochs, dtype):
    """Times the five products jitted as one function, called per batch; returns the samples per
    epoch and the timed epochs' seconds. Each call gets the last call's results donated, for XLA
    to write the new ones into (the torch script's `out=`): without that every call allocated
    five fresh outputs and an epoch's worth of them piled up ahead of the computation."""
    steps = len(x) // batch_size
    batches = [jax.device_put(x[s * batch_size : (s + 1) * batch_size]) for s in range(steps)]
    operands = product_operands(jnp, batch_size, dtype)
    jitted = jax.jit(
        lambda outputs, xb, *operands: five_products(xb, *operands),
        donate_argnums=(0,),
        keep_unused=True,
    )
    shapes = jax.eval_shape(five_products, batches[0], *operands)
    outputs = tuple(jnp.zeros(r.shape, r.dtype) for r in shapes)
    epoch_seconds = []
    for epoch in range(1 + epochs):
        start = time.perf_counter()
        for xb in batches:
            outputs = jitted(outputs, xb, *operands)
        jax.block_until_ready(outputs)
        if epoch > 0:
            epoch_seconds.append(time.perf_counter() - start)
    return steps * batch_size, epoch_seconds


def products_scan(jax, jnp, x, batch_size, epochs, dtype):
    """As products_jit, with the epoch one `lax.scan` over the stacked batches; each batch's
    results overwrite the last in the carry, which is returned, and an optimisation barrier
    keeps the products that do not read the batch inside the loop."""
    steps = len(x) // batch_size
    stacked = jax.device_put(x[: steps * batch_size].reshape(steps, batch_size, x.shape[1]))
    operands = product_operands(jnp, batch_size, dtype)

    def epoch(stacked, operands):
        def body(carry, xb):
            # Without the barrier XLA hoists the three products that do not read xb out of the
            # loop (measured: 2.5x the rate of the jit mode on one thread); tied to xb, all five
            # run every iteration.
            xb, *tied = jax.lax.optimization_barrier((xb, *operands))
            return five_products(xb, *tied), None

        shapes = jax.eval_shape(five_products, stacked[0], *operands)
        carry = tuple(jnp.zeros(r.shape, r.dtype) for r in shapes)
        carry, _ = jax.lax.scan(body, carry, stacked)
        return carry

    jitted = jax.jit(epoch)
    epoch_seconds = []
    for epoch_index in range(1 + epochs):
        start = time.perf_counter()
        jax.block_until_ready(jitted(stacked, operands))
        if epoch_index > 0:
            epoch_seconds.append(time.perf_counter() - start)
    return steps * batch_size, epoch_seconds


def report(args, n, epoch_seconds, final_loss, cpu_per_wall):
    """Prints the run's line under this peer's name."""
    print_report(f"jax-{args.mode}", args, n, epoch_seconds, final_loss, cpu_per_wall)


if __name__ == "__main__":
    main()
