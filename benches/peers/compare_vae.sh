#!/usr/bin/env bash
# Seconds per training epoch of the `experiments vae` models, ours against PyTorch eager, on one
# core: for each of the five models, ROUNDS rounds of `examples/vae.rs` (no test set, so no
# validation pass) and `benches/peers/torch_vae.py --time-only`, alternating which goes first,
# EPOCHS epochs each, both pinned to CPU 1 with one thread; prints a Markdown table of the
# medians and their ratio.
#
# Usage: PYTHON=/path/to/python-with-torch benches/peers/compare_vae.sh
# Settings (environment): PYTHON (default python3), ROUNDS (default 5), EPOCHS (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
ROUNDS=${ROUNDS:-5}
EPOCHS=${EPOCHS:-3}
"$PYTHON" -c 'import torch' || { echo "compare_vae.sh: $PYTHON cannot import torch" >&2; exit 1; }
cargo build --release --quiet --example vae
ours=target/release/examples/vae
rows=(
    "--hidden 400 --latent 2 --activation relu"
    "--hidden 400 --latent 10 --activation relu"
    "--hidden 400 --latent 20 --activation relu"
    "--hidden 200,200 --latent 50 --activation tanh"
    "--hidden 200,200 --latent 50 --activation tanh --objective iwae --k 5"
)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for round in $(seq 1 "$ROUNDS"); do
    for row in 0 1 2 3 4; do
        order="ours torch"
        [ $(((round + row) % 2)) = 0 ] && order="torch ours"
        for which in $order; do
            if [ "$which" = ours ]; then
                # shellcheck disable=SC2086
                line=$(taskset -c 1 "$ours" --train-images data/mnist/train-images-idx3-ubyte.gz \
                    --epochs "$EPOCHS" --ll-samples 1 ${rows[$row]} | grep '^time:')
                seconds=$(echo "$line" | sed -E 's/.*wall_seconds=([0-9.]+).*/\1/')
                seconds=$(python3 -c "print($seconds / $EPOCHS)")
            else
                line=$(taskset -c 1 "$PYTHON" benches/peers/torch_vae.py --threads 1 \
                    --epochs "$EPOCHS" --time-only "$row")
                seconds=$(echo "$line" | sed -E 's/.*seconds_per_epoch=([0-9.]+).*/\1/')
            fi
            echo "$row $which $seconds" >> "$out"
        done
    done
done
python3 - "$out" "$ROUNDS" "$EPOCHS" <<'PY'
import statistics, sys
names = ["784-400-2 (relu, VAE)", "784-400-10 (relu, VAE)", "784-400-20 (relu, VAE)",
         "784-200-200-50 (tanh, VAE)", "784-200-200-50 (tanh, IWAE, k = 5)"]
runs = {}
for line in open(sys.argv[1]):
    row, which, seconds = line.split()
    runs.setdefault((int(row), which), []).append(float(seconds))
print(f"| model | ours, s per epoch | PyTorch, s per epoch | PyTorch / ours | rounds of {sys.argv[3]} epochs |")
print("| --- | ---: | ---: | ---: | ---: |")
for row, name in enumerate(names):
    ours, torch = statistics.median(runs[(row, "ours")]), statistics.median(runs[(row, "torch")])
    print(f"| {name} | {ours:.3f} | {torch:.3f} | {torch / ours:.2f} | {len(runs[(row, 'ours')])} |")
PY
