//! Each corruption drawing a corrupted copy of one batch of digits with `corrupt_into`, into a
//! buffer allocated outside the timed closure. `none` is the plain copy.
//!
//! Run: `cargo bench --bench corruptions`

mod common;

use autoencoders::{Corruption, GaussianNoise, Masking, NoCorruption, SaltAndPepper};
use common::{BATCH_SIZES, digits, rng};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use nalgebra::DMatrix;
use std::hint::black_box;
use std::time::Duration;

fn bench_corruption<C: Corruption<f32>>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    corruption: &C,
    x: &DMatrix<f32>,
) {
    let mut out = DMatrix::zeros(x.nrows(), x.ncols());
    let mut rng = rng();
    group.bench_function(format!("{name}/{}", x.nrows()), |b| {
        b.iter(|| corruption.corrupt_into(black_box(x), &mut out, &mut rng))
    });
}

fn corruptions(c: &mut Criterion) {
    let mut group = c.benchmark_group("corruptions");
    for batch_size in BATCH_SIZES {
        let x = digits(batch_size);
        group.throughput(Throughput::Elements(batch_size as u64));
        bench_corruption(&mut group, "none", &NoCorruption, &x);
        let gaussian = GaussianNoise::new(0.3).expect("valid");
        bench_corruption(&mut group, "gaussian-noise", &gaussian, &x);
        let masking = Masking::new(0.25).expect("valid");
        bench_corruption(&mut group, "masking", &masking, &x);
        let salt_and_pepper = SaltAndPepper::new(0.25).expect("valid");
        bench_corruption(&mut group, "salt-and-pepper", &salt_and_pepper, &x);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = corruptions
}
criterion_main!(benches);
