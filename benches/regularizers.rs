//! Each regularizer on W1 (BENCHMARKS.md): the objective and gradient of one batch of digits
//! with the penalty added. A penalty costs about its time minus that of `none`.
//!
//! Run: `cargo bench --bench regularizers`

mod common;

use autoencoders::{
    Contractive, DenseAutoencoder, KlSparsity, L1Sparsity, L2Sparsity, Regularizer, WeightDecay,
};
use common::{BATCH_SIZES, digits, plain_model};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use nalgebra::DMatrix;
use std::hint::black_box;
use std::time::Duration;

fn bench_gradient<R: Regularizer<f32>>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    model: &DenseAutoencoder<f32, R>,
    x: &DMatrix<f32>,
) {
    group.bench_function(format!("{name}/{}", x.nrows()), |b| {
        b.iter(|| model.gradient(black_box(x), black_box(x)))
    });
}

fn regularizers(c: &mut Criterion) {
    let mut group = c.benchmark_group("regularizers");
    for batch_size in BATCH_SIZES {
        let x = digits(batch_size);
        group.throughput(Throughput::Elements(batch_size as u64));
        bench_gradient(&mut group, "none", &plain_model(), &x);
        let contractive = plain_model().with_regularizer(Contractive::new(0.1).expect("valid"));
        bench_gradient(&mut group, "contractive", &contractive, &x);
        let l1 = plain_model().with_regularizer(L1Sparsity::new(1e-3).expect("valid"));
        bench_gradient(&mut group, "l1-sparsity", &l1, &x);
        let l2 = plain_model().with_regularizer(L2Sparsity::new(1e-3).expect("valid"));
        bench_gradient(&mut group, "l2-sparsity", &l2, &x);
        let kl = plain_model().with_regularizer(KlSparsity::new(0.05, 0.1).expect("valid"));
        bench_gradient(&mut group, "kl-sparsity", &kl, &x);
        let decay = plain_model().with_regularizer(WeightDecay::new(1e-4).expect("valid"));
        bench_gradient(&mut group, "weight-decay", &decay, &x);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = regularizers
}
criterion_main!(benches);
