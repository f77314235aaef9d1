#!/usr/bin/env bash
# Compares the crate's training throughput with PyTorch and JAX on this machine's CPU.
#
# For every configuration (W1 plain, W2 contractive, W3 denoising in f32, and W1 in f64; batches
# of 32 and 128; 1 and 2 threads; `products`, the five matrix products of a W1 step alone, the
# kernels' ceiling, in f32 and f64; and `deep`, the eight-layer 784-1000-500-250-30 autoencoder,
# and `classifier`, a 784-500-500 sigmoid stack with a softmax head, in f32) it runs
# `examples/throughput.rs` (ours) and the peers: `benches/peers/torch_autoencoder.py` eager
# (torch) and with --compile (torch-compile), and `benches/peers/jax_autoencoder.py` with
# --mode jit (jax-jit) and --mode scan (jax-scan), one after the other, never two at the same
# time, for ROUNDS rounds, in the order ours, torch, torch-compile, jax-jit, jax-scan in odd
# rounds and the reverse in even ones. Then it prints a
# Markdown table of the median samples/s of each, ours over the fastest peer's, the matrix-product
# GFLOP/s of ours and of that peer (per sample 2.01 MFLOP for the W1 shapes, 15.43 for deep, 3.10
# for classifier), and the median CPU time per wall-clock second of each (near 1 for one busy
# thread, near 2 for two).
#
# The machine may be shared, and a busy neighbour slows even a one-thread run (virtual CPUs may
# share a physical core), so before each run the script waits (up to QUIET_WAIT seconds) until
# the other processes use less than QUIET of all cores over one second. It logs with each result
# that share just before the run (`busy_before`) and during it (`others_during`). The table takes
# its medians over the uncontended runs, those with `others_during` at most CONTENDED, when there
# are any, and says how many runs that was.
#
# Usage: PYTHON=/path/to/python-with-torch-and-jax benches/peers/compare.sh
# Settings (environment): PYTHON (the Python of the torch peers and of the table, default
# python3), JAX_PYTHON (the Python of the JAX peers, default PYTHON), PEERS (default "torch
# torch-compile jax-jit jax-scan"; a peer whose Python cannot import torch or jax is left out with
# a message), ROUNDS (default 3), EPOCHS timed per run (default 3), ONLY (a regular expression:
# only the configurations "workload dtype batch threads" that match it, e.g. ONLY='plain f32 128'
# or ONLY='^(deep|classifier) f32'),
# LOG (raw result lines, default target/peers/compare.log; appended to, so a rerun with the same
# LOG adds rounds, and ROUNDS=0 only prints the table of an existing LOG, older two-column logs
# included), QUIET (default 0.10), QUIET_WAIT (default 60), CONTENDED (default 0.10) and FEATURES
# (the crate's cargo features for our side, default none; e.g. FEATURES="threading gemm").
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
JAX_PYTHON=${JAX_PYTHON:-$PYTHON}
PEERS=${PEERS:-torch torch-compile jax-jit jax-scan}
ROUNDS=${ROUNDS:-3}
ONLY=${ONLY:-}
QUIET=${QUIET:-0.10}
QUIET_WAIT=${QUIET_WAIT:-60}
CONTENDED=${CONTENDED:-0.10}
EPOCHS=${EPOCHS:-3}
FEATURES=${FEATURES:-}
LOG=${LOG:-target/peers/compare.log}
mkdir -p "$(dirname "$LOG")"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

impls=(ours)
if ((ROUNDS > 0)); then
    torch_ok=0 jax_ok=0
    "$PYTHON" -c 'import torch' 2>/dev/null && torch_ok=1
    "$JAX_PYTHON" -c 'import jax' 2>/dev/null && jax_ok=1
    for peer in $PEERS; do
        case $peer in
        torch | torch-compile)
            if ((torch_ok)); then impls+=("$peer"); else
                echo "compare.sh: $PYTHON cannot import torch; skipping $peer (set PYTHON)" >&2
            fi
            ;;
        jax-jit | jax-scan)
            if ((jax_ok)); then impls+=("$peer"); else
                echo "compare.sh: $JAX_PYTHON cannot import jax; skipping $peer" \
                    "(set JAX_PYTHON)" >&2
            fi
            ;;
        *)
            echo "compare.sh: unknown peer '$peer' in PEERS" >&2
            exit 1
            ;;
        esac
    done
    cargo build --release --quiet ${FEATURES:+--features "$FEATURES"} --example throughput
fi
ours=target/release/examples/throughput

configs=()
for workload in plain contractive denoising; do
    for batch in 32 128; do
        for threads in 1 2; do configs+=("$workload f32 $batch $threads"); done
    done
done
for batch in 32 128; do
    for threads in 1 2; do configs+=("plain f64 $batch $threads"); done
done
for dtype in f32 f64; do
    for batch in 32 128; do
        for threads in 1 2; do configs+=("products $dtype $batch $threads"); done
    done
done
for workload in deep classifier; do
    for batch in 32 128; do
        for threads in 1 2; do configs+=("$workload f32 $batch $threads"); done
    done
done
if [[ -n $ONLY ]]; then
    selected=()
    for config in "${configs[@]}"; do
        if [[ $config =~ $ONLY ]]; then selected+=("$config"); fi
    done
    configs=("${selected[@]}")
fi

cpu_jiffies() { # busy and total jiffies of all cores, from /proc/stat
    awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat
}

busy_fraction() { # busy0 total0 busy1 total1
    awk -v b0="$1" -v t0="$2" -v b1="$3" -v t1="$4" \
        'BEGIN{printf "%.2f", (t1 > t0) ? (b1 - b0) / (t1 - t0) : 0}'
}

wait_quiet() { # prints how busy the machine was in the last second before returning
    local waited=0 b0 t0 b1 t1 busy
    while :; do
        read -r b0 t0 < <(cpu_jiffies)
        sleep 1
        read -r b1 t1 < <(cpu_jiffies)
        busy=$(busy_fraction "$b0" "$t0" "$b1" "$t1")
        if awk -v b="$busy" -v q="$QUIET" 'BEGIN{exit !(b < q)}' || ((waited >= QUIET_WAIT)); then
            echo "$busy"
            return
        fi
        waited=$((waited + 1))
    done
}

run() { # impl workload dtype batch threads
    local args=(--workload "$2" --dtype "$3" --batch-size "$4" --threads "$5" --epochs "$EPOCHS")
    local command
    case $1 in
    ours) command=("$ours" "${args[@]}") ;;
    torch) command=("$PYTHON" benches/peers/torch_autoencoder.py "${args[@]}") ;;
    torch-compile) command=("$PYTHON" benches/peers/torch_autoencoder.py --compile "${args[@]}") ;;
    jax-jit) command=("$JAX_PYTHON" benches/peers/jax_autoencoder.py --mode jit "${args[@]}") ;;
    jax-scan) command=("$JAX_PYTHON" benches/peers/jax_autoencoder.py --mode scan "${args[@]}") ;;
    esac
    local before b0 t0 b1 t1 real user system others
    before=$(wait_quiet)
    read -r b0 t0 < <(cpu_jiffies)
    local TIMEFORMAT='%R %U %S'
    if ! { time "${command[@]}" >"$scratch/out" 2>"$scratch/err"; } 2>"$scratch/time"; then
        cat "$scratch/err" >&2
        return 1
    fi
    read -r b1 t1 < <(cpu_jiffies)
    read -r real user system <"$scratch/time"
    # The other processes' share of all cores during the run: the machine's busy time less the
    # run's own CPU time (user + system, in seconds = 100 jiffies).
    others=$(awk -v b0="$b0" -v t0="$t0" -v b1="$b1" -v t1="$t1" -v u="$user" -v s="$system" \
        'BEGIN{o = (t1 > t0) ? (b1 - b0 - 100 * (u + s)) / (t1 - t0) : 0; printf "%.2f", (o > 0) ? o : 0}')
    echo "$(grep '^impl=' "$scratch/out") busy_before=$before others_during=$others" | tee -a "$LOG" >&2
}

if ((ROUNDS > 0)); then
    echo "# $(date -u +%FT%TZ) rounds=$ROUNDS epochs=$EPOCHS features=$FEATURES" \
        "impls=${impls[*]}" >>"$LOG"
fi
reversed=()
for ((i = ${#impls[@]} - 1; i >= 0; i--)); do reversed+=("${impls[i]}"); done
for ((round = 1; round <= ROUNDS; round++)); do
    echo "== round $round of $ROUNDS" >&2
    for config in "${configs[@]}"; do
        read -r workload dtype batch threads <<<"$config"
        if ((round % 2)); then order=("${impls[@]}"); else order=("${reversed[@]}"); fi
        for impl in "${order[@]}"; do run "$impl" "$workload" "$dtype" "$batch" "$threads"; done
    done
done

"$PYTHON" - "$LOG" "$CONTENDED" <<'EOF'
import statistics
import sys

W1_FLOP_PER_SAMPLE = 5 * 2 * 784 * 256
# Matrix-product operations per sample by workload, as in examples/throughput.rs and
# peer_common.py.
FLOP_PER_SAMPLE = {"deep": 15.43e6, "classifier": 3.098e6}
NAMES = {"ours": "ours", "torch": "PyTorch", "torch-compile": "torch.compile",
         "jax-jit": "JAX jit", "jax-scan": "JAX scan"}
contended = float(sys.argv[2])
runs = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or "samples_per_sec=" not in line:
        continue
    fields = dict(part.split("=", 1) for part in line.split())
    key = (fields["workload"], fields["dtype"], int(fields["batch_size"]), int(fields["threads"]))
    runs.setdefault((fields["impl"], key), []).append(fields)


def summary(impl, key):
    """Median, min and max samples/s and median CPU/wall over the uncontended runs (all runs
    when none is), then the number of uncontended runs and of all runs."""
    found = runs.get((impl, key), [])
    clean = [f for f in found if float(f.get("others_during", "0")) <= contended]
    used = clean or found
    rates = [float(f["samples_per_sec"]) for f in used]
    cpu = [float(f["cpu_per_wall"]) for f in used if f["cpu_per_wall"] != "unknown"]
    if not rates:
        return None
    cpu_median = statistics.median(cpu) if cpu else float("nan")
    return statistics.median(rates), min(rates), max(rates), cpu_median, len(clean), len(found)


if not runs:
    sys.exit(f"compare.sh: no results in {sys.argv[1]}")
seen = {impl for impl, _ in runs}
impls = [i for i in NAMES if i in seen] + sorted(seen - set(NAMES))
peers = [i for i in impls if i != "ours"]
order = {"plain": 0, "contractive": 1, "denoising": 2, "products": 3, "deep": 4,
         "classifier": 5}
keys = sorted({key for _, key in runs}, key=lambda k: (k[1], order.get(k[0], 9), k[2], k[3]))
names = [NAMES.get(i, i) for i in impls]
print("| workload | dtype | batch | threads | "
      + " | ".join(f"{n} samples/s (min–max)" for n in names)
      + " | ours / best peer | ours GFLOP/s | best peer GFLOP/s | CPU/wall " + ", ".join(names)
      + " | uncontended runs " + ", ".join(names) + " |")
print("| --- | --- | ---: | ---: | " + "---: | " * len(impls) + "--- | ---: | ---: | ---: | ---: |")
for key in keys:
    found = {i: summary(i, key) for i in impls}
    ours = found["ours"] if "ours" in found else None
    if ours is None:
        continue
    flop = FLOP_PER_SAMPLE.get(key[0], W1_FLOP_PER_SAMPLE)
    rated = [(found[p][0], p) for p in peers if found[p] is not None]
    rates = " | ".join(
        f"{s[0]:,.0f} ({s[1]:,.0f}–{s[2]:,.0f})" if s else "–" for s in found.values()
    )
    cpu = ", ".join(f"{s[3]:.2f}" if s else "–" for s in found.values())
    counts = ", ".join(f"{s[4]}/{s[5]}" if s else "–" for s in found.values())
    if rated:
        best, peer = max(rated)
        ratio = f"{ours[0] / best:.2f} ({NAMES.get(peer, peer)})"
        best_gflops = f"{best * flop / 1e9:.1f}"
    else:
        ratio = best_gflops = "–"
    print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {rates} | {ratio} "
          f"| {ours[0] * flop / 1e9:.1f} | {best_gflops} | {cpu} | {counts} |")
EOF
