//! One full training step of W1, W2 and W3 (BENCHMARKS.md): `fit` for one epoch over a single
//! batch of digits with plain SGD, so corruption, forward, loss, penalty, backward and update.
//! Each call also checks the batch and allocates its buffers, which `fit` does once per call.
//!
//! Run: `cargo bench --bench step`

mod common;

use autoencoders::{
    Contractive, Corruption, DenseAutoencoder, GaussianNoise, Regularizer, Sgd, TrainingConfig,
};
use common::{BATCH_SIZES, digits, plain_model, rng};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use nalgebra::DMatrix;
use std::hint::black_box;
use std::time::Duration;

fn bench_step<R: Regularizer<f32>, C: Corruption<f32>>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mut model: DenseAutoencoder<f32, R, C>,
    x: &DMatrix<f32>,
) {
    let config = TrainingConfig::default()
        .with_epochs(1)
        .with_batch_size(x.nrows())
        .with_shuffle(false);
    let mut optimizer = Sgd::new(0.01).expect("valid");
    let mut rng = rng();
    group.bench_function(format!("{name}/{}", x.nrows()), |b| {
        b.iter(|| model.fit(black_box(x), &config, &mut optimizer, &mut rng))
    });
}

fn step(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    for batch_size in BATCH_SIZES {
        let x = digits(batch_size);
        group.throughput(Throughput::Elements(batch_size as u64));
        bench_step(&mut group, "plain", plain_model(), &x);
        let contractive = plain_model().with_regularizer(Contractive::new(0.1).expect("valid"));
        bench_step(&mut group, "contractive", contractive, &x);
        let denoising = plain_model().with_corruption(GaussianNoise::new(0.3).expect("valid"));
        bench_step(&mut group, "denoising", denoising, &x);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = step
}
criterion_main!(benches);
