#!/usr/bin/env bash
# The two matrix-product kernels, interleaved: the default build (matrixmultiply, whose kernel
# is chosen at run time: AVX-512, else AVX2/FMA) against `--features gemm` (the gemm crate), on
# the throughput example's products, plain and contractive workloads, batches 32 and 128, 1 and
# 2 threads, ROUNDS rounds (default 3) alternating which goes first. Prints the raw lines, each
# prefixed with `kernel=mm|gm round=R`; BENCHMARKS.md's table is their medians.
# Usage: benches/peers/compare_kernels.sh > kernels.log
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
cargo build --release --quiet --example throughput
CARGO_TARGET_DIR=target/gemm cargo build --release --quiet --features gemm --example throughput
mm=target/release/examples/throughput
gm=target/gemm/release/examples/throughput
for round in $(seq 1 "$ROUNDS"); do
    for workload in products plain contractive; do
        for batch in 32 128; do
            for threads in 1 2; do
                if [ $((round % 2)) = 1 ]; then order="mm gm"; else order="gm mm"; fi
                for kernel in $order; do
                    bin=$mm
                    [ "$kernel" = gm ] && bin=$gm
                    echo "kernel=$kernel round=$round $($bin --workload $workload --batch-size $batch --threads $threads)"
                done
            done
        done
    done
done
