//! Streaming against in-memory training: the throughput of `fit_source` over a [`Stream`] of
//! the bundled digits written to disk, in each order, against `fit_with` on the same digits in
//! memory, measured interleaved (one epoch of each configuration in turn, `--rounds` times) and
//! reported as medians and as the ratio of each median to the in-memory source's (the same
//! loop on the same batches, the data held in memory).
//!
//! Two workloads: `w1` (BENCHMARKS.md's W1: 784 → 256 → 784 sigmoid, SGD, batch 128) and
//! `small` (the `train` example's default: 784 → 64 → 784 sigmoid, SGD, batch 32), where the
//! step is cheap and the source's own cost shows most. Every epoch shuffles. The files are in
//! a temporary folder, so after the first round they are read from the page cache: this
//! measures what the source costs, not the disk.
//!
//! Run: `cargo run --release --example streaming -- --rounds 7`

use autoencoders::data::{FittedScaler, Stream, StreamOrder, read_idx};
use autoencoders::source::{BatchSource, InMemory};
use autoencoders::{DenseAutoencoder, DenseBuilder, Sgd, TrainingConfig};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::error::Error;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn main() -> Result<(), Box<dyn Error>> {
    let mut rounds = 7;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--rounds" => rounds = args.next().ok_or("--rounds needs N")?.parse()?,
            _ => return Err("usage: streaming [--rounds N]".into()),
        }
    }
    let folder =
        std::env::temp_dir().join(format!("autoencoders-streaming-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let result = measure(&folder, rounds);
    let _ = std::fs::remove_dir_all(&folder);
    result
}

fn measure(folder: &Path, rounds: usize) -> Result<(), Box<dyn Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let gz = root.join("train-images-idx3-ubyte.gz");
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz)?).read_to_end(&mut bytes)?;
    let plain: PathBuf = folder.join("train-images-idx3-ubyte");
    std::fs::File::create(&plain)?.write_all(&bytes)?;
    let scaler = FittedScaler::bytes(784);
    let x: DMatrix<f32> = scaler.transform(&read_idx(&plain)?.to_matrix())?;
    let n = x.nrows();

    // The first is the baseline: the in-memory source built once (`fit_with` builds it at
    // every call, a copy of the data that one-epoch calls would count).
    let configurations: [(&str, Option<(&Path, StreamOrder)>); 7] = [
        ("in-memory source", None),
        ("in-memory fit_with", None),
        (
            "stream, InMemory order",
            Some((&plain, StreamOrder::InMemory)),
        ),
        (
            "stream, Blocks 1024/8192",
            Some((&plain, StreamOrder::default())),
        ),
        (
            "stream, Buffer 8192",
            Some((&plain, StreamOrder::Buffer { buffer: 8192 })),
        ),
        (
            "stream of the .gz, Buffer 8192",
            Some((&gz, StreamOrder::Buffer { buffer: 8192 })),
        ),
        (
            "stream, Blocks 256/1024",
            Some((
                &plain,
                StreamOrder::Blocks {
                    block: 256,
                    buffer: 1024,
                },
            )),
        ),
    ];
    println!("cpu={}", cpu_name());
    for (workload, hidden, batch) in [("w1", 256, 128), ("small", 64, 32)] {
        let config = TrainingConfig::default()
            .with_epochs(1)
            .with_batch_size(batch);
        let model: DenseAutoencoder<f32> =
            DenseBuilder::new(784, hidden).build(&mut ChaCha8Rng::seed_from_u64(1))?;
        let mut streams = Vec::new();
        for (_, c) in &configurations {
            streams.push(match c {
                None => None,
                Some((path, order)) => {
                    Some(Stream::<f32>::idx(path, *order)?.with_scaler(scaler.clone())?)
                }
            });
        }
        let mut memory = InMemory::new(&x);
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); configurations.len()];
        // One warm-up round, then the measured ones, each starting at another configuration.
        let count = configurations.len();
        for round in 0..=rounds {
            for step in 0..count {
                let c = (round + step) % count;
                let stream = &mut streams[c];
                let mut m = model.clone();
                let mut sgd = Sgd::new(0.01)?;
                let mut rng = ChaCha8Rng::seed_from_u64(round as u64);
                let source: &mut dyn BatchSource<f32> = match stream {
                    Some(s) => s,
                    None => &mut memory,
                };
                let start = Instant::now();
                if c == 1 {
                    m.fit_with(&x, None, &config, &mut sgd, &mut rng, &mut ())?;
                } else {
                    m.fit_source(source, None, &config, &mut sgd, &mut rng, &mut ())?;
                }
                if round > 0 {
                    times[c].push(start.elapsed().as_secs_f64());
                }
            }
        }
        let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
        for ((name, _), seconds) in configurations.iter().zip(&medians) {
            println!(
                "workload={workload} batch_size={batch} source=\"{name}\" median_samples_per_sec={:.0} ratio_to_in_memory={:.3}",
                n as f64 / seconds,
                medians[0] / seconds
            );
        }
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}
