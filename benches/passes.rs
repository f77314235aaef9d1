//! The forward and backward passes of W1 (BENCHMARKS.md) on one batch of digits, through the
//! public API: `reconstruct` (forward), `objective` (forward and loss), `gradient` (forward,
//! loss and backward). The backward pass costs about `gradient − objective`.
//!
//! Run: `cargo bench --bench passes`

mod common;

use common::{BATCH_SIZES, digits, plain_model};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

fn passes(c: &mut Criterion) {
    let model = plain_model();
    let mut group = c.benchmark_group("passes");
    for batch_size in BATCH_SIZES {
        let x = digits(batch_size);
        group.throughput(Throughput::Elements(batch_size as u64));
        group.bench_function(format!("forward/{batch_size}"), |b| {
            b.iter(|| model.reconstruct(black_box(&x)))
        });
        group.bench_function(format!("objective/{batch_size}"), |b| {
            b.iter(|| model.objective(black_box(&x)))
        });
        group.bench_function(format!("gradient/{batch_size}"), |b| {
            b.iter(|| model.gradient(black_box(&x), black_box(&x)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = passes
}
criterion_main!(benches);
