#!/usr/bin/env bash
# Compares the crate's training throughput with PyTorch eager on this machine's CPU.
#
# For every configuration (W1 plain, W2 contractive, W3 denoising in f32, and W1 in f64; batches
# of 32 and 128; 1 and 2 threads; and `products`, the five matrix products of a W1 step alone,
# the kernels' ceiling, in f32 and f64) it runs `examples/throughput.rs` and
# `benches/peers/torch_autoencoder.py` one after the other, never at the same time, for ROUNDS
# rounds, alternating which goes first, then prints a Markdown table of the median samples/s of
# each, their ratio, the matrix-product GFLOP/s (2.01 MFLOP per sample), and the median CPU time
# per wall-clock second (near 1 for one busy thread, near 2 for two).
#
# The machine may be shared, and a busy neighbour slows even a one-thread run (virtual CPUs may
# share a physical core), so before each run the script waits (up to QUIET_WAIT seconds) until
# the other processes use less than QUIET of all cores over one second. It logs with each result
# that share just before the run (`busy_before`) and during it (`others_during`). The table takes
# its medians over the uncontended runs, those with `others_during` at most CONTENDED, when there
# are any, and says how many runs that was.
#
# Usage: PYTHON=/path/to/python-with-torch benches/peers/compare.sh
# Settings (environment): PYTHON (default python3), ROUNDS (default 3), EPOCHS timed per run
# (default 3), ONLY (a regular expression: only the configurations "workload dtype batch threads"
# that match it, e.g. ONLY='plain f32 128'), LOG (raw result lines, default
# target/peers/compare.log; appended to, so a rerun with the same LOG adds rounds, and ROUNDS=0
# only prints the table of an existing LOG), QUIET (default 0.10), QUIET_WAIT (default 60),
# CONTENDED (default 0.10) and FEATURES (the crate's cargo features for our side, default
# "threading"; e.g. FEATURES="threading gemm").
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
ROUNDS=${ROUNDS:-3}
ONLY=${ONLY:-}
QUIET=${QUIET:-0.10}
QUIET_WAIT=${QUIET_WAIT:-60}
CONTENDED=${CONTENDED:-0.10}
EPOCHS=${EPOCHS:-3}
LOG=${LOG:-target/peers/compare.log}
mkdir -p "$(dirname "$LOG")"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$PYTHON" -c 'import torch' || {
    echo "compare.sh: $PYTHON cannot import torch; set PYTHON to a Python with torch" >&2
    exit 1
}
FEATURES=${FEATURES:-threading}
cargo build --release --quiet --features "$FEATURES" --example throughput
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
    local command=("$ours" "${args[@]}")
    if [[ $1 == torch ]]; then command=("$PYTHON" benches/peers/torch_autoencoder.py "${args[@]}"); fi
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
    echo "$(cat "$scratch/out") busy_before=$before others_during=$others" | tee -a "$LOG" >&2
}

if ((ROUNDS > 0)); then echo "# $(date -u +%FT%TZ) rounds=$ROUNDS epochs=$EPOCHS features=$FEATURES" >>"$LOG"; fi
for ((round = 1; round <= ROUNDS; round++)); do
    echo "== round $round of $ROUNDS" >&2
    for config in "${configs[@]}"; do
        read -r workload dtype batch threads <<<"$config"
        if ((round % 2)); then order=(ours torch); else order=(torch ours); fi
        for impl in "${order[@]}"; do run "$impl" "$workload" "$dtype" "$batch" "$threads"; done
    done
done

"$PYTHON" - "$LOG" "$CONTENDED" <<'EOF'
import statistics
import sys

FLOP_PER_SAMPLE = 5 * 2 * 784 * 256
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


order = {"plain": 0, "contractive": 1, "denoising": 2, "products": 3}
keys = sorted({key for _, key in runs}, key=lambda k: (k[1], order.get(k[0], 9), k[2], k[3]))
print("| workload | dtype | batch | threads | ours samples/s (min–max) | PyTorch samples/s (min–max) "
      "| ours / PyTorch | ours GFLOP/s | PyTorch GFLOP/s | CPU/wall ours, PyTorch "
      "| uncontended runs ours, PyTorch |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for key in keys:
    ours, torch = summary("ours", key), summary("torch", key)
    if ours is None or torch is None:
        continue
    print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} "
          f"| {ours[0]:,.0f} ({ours[1]:,.0f}–{ours[2]:,.0f}) "
          f"| {torch[0]:,.0f} ({torch[1]:,.0f}–{torch[2]:,.0f}) "
          f"| {ours[0] / torch[0]:.2f} "
          f"| {ours[0] * FLOP_PER_SAMPLE / 1e9:.1f} | {torch[0] * FLOP_PER_SAMPLE / 1e9:.1f} "
          f"| {ours[3]:.2f}, {torch[3]:.2f} "
          f"| {ours[4]}/{ours[5]}, {torch[4]}/{torch[5]} |")
EOF
