#!/usr/bin/env bash
# Interleaved A/B of training throughput: two builds of the `throughput` example, run in
# alternating order on one core, nine rounds of W1 (`plain`) and W2 (`contractive`) at batch
# sizes 32 and 128; prints the median new/base ratio per configuration and whether the final
# losses are bit-identical. Usage:
#   scripts/throughput-ab.sh BASE_BINARY NEW_BINARY [ROUNDS]
# Build each binary with `cargo build --release --example throughput` in its own checkout.
set -euo pipefail
base=$1 new=$2 rounds=${3:-9}
out=$(mktemp)
for round in $(seq 1 "$rounds"); do
  for cfg in "plain 32" "plain 128" "contractive 32" "contractive 128"; do
    set -- $cfg
    if [ $((round % 2)) = 0 ]; then order="base new"; else order="new base"; fi
    for which in $order; do
      binary=$base; [ "$which" = new ] && binary=$new
      line=$(taskset -c 1 "$binary" --workload "$1" --batch-size "$2" --threads 1)
      echo "$round,$1,$2,$which,$line" >> "$out"
    done
  done
done
python3 - "$out" <<'PY'
import collections, re, statistics, sys
runs = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    round_, workload, batch, which, rest = line.strip().split(",", 4)
    speed = int(re.search(r"samples_per_sec=(\d+)", rest).group(1))
    loss = re.search(r"final_loss=(\S+)", rest).group(1)
    runs[(workload, batch, round_)][which] = (speed, loss)
by = collections.defaultdict(list)
for (workload, batch, _), pair in runs.items():
    by[(workload, batch)].append((pair["new"][0] / pair["base"][0], pair["new"][1] == pair["base"][1]))
for (workload, batch), ratios in sorted(by.items()):
    values = sorted(r for r, _ in ratios)
    print(f"{workload} batch {batch}: median new/base {statistics.median(values):.3f} "
          f"(range {values[0]:.3f}-{values[-1]:.3f}, {len(values)} rounds), "
          f"same final loss: {all(same for _, same in ratios)}")
PY
rm -f "$out"
