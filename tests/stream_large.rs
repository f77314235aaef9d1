//! Streaming a generated IDX file of more than a gigabyte: training stays under 200 MB of
//! resident memory, and in the in-memory order it gives the bits of training on the file read
//! into memory. Slow (a minute) and heavy on the disk, so it is ignored by the README's test
//! command; CI runs it: `cargo test --release --test stream_large -- --ignored`.
//!
//! It is the only test of its binary, so the process's peak resident set (`VmHWM`) is its own.

use autoencoders::data::{FittedScaler, Scaler, Stream, StreamOrder, read_idx};
use autoencoders::{DenseBuilder, Sgd, TrainingConfig, limits};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::io::Write;

/// Samples of 784 bytes: 1,066,240,016 bytes with the header.
const SAMPLES: usize = 1_360_000;
const FEATURES: usize = 784;

/// The process's peak resident set so far, in bytes (Linux).
fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[test]
#[ignore = "writes a 1 GB file and trains on it twice: CI runs it with --ignored"]
fn a_gigabyte_streams_in_bounded_memory_and_in_memory_order_gives_the_bits_of_memory() {
    let folder =
        std::env::temp_dir().join(format!("autoencoders-stream-large-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join("large-idx3-ubyte");
    {
        // Written 10,000 samples at a time: a pattern of strokes that moves with the sample.
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut header = vec![0u8, 0, 0x08, 3];
        for d in [SAMPLES as u32, 28, 28] {
            header.extend_from_slice(&d.to_be_bytes());
        }
        file.write_all(&header).unwrap();
        let mut chunk = vec![0u8; 10_000 * FEATURES];
        for start in (0..SAMPLES).step_by(10_000) {
            for (i, b) in chunk.iter_mut().enumerate() {
                let (s, p) = (start + i / FEATURES, i % FEATURES);
                let (r, c) = (p / 28, p % 28);
                *b = if (r + c + s % 7) % 9 < 2 || (c * 3 + s % 11) % 13 == 0 {
                    255
                } else {
                    (s * 31 + p) as u8 % 32
                };
            }
            file.write_all(&chunk).unwrap();
        }
        file.flush().unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size >= 1_000_000_000, "{size} bytes");

    let model = DenseBuilder::new(FEATURES, 8)
        .build::<f32, _>(&mut ChaCha8Rng::seed_from_u64(1))
        .unwrap();
    let config = TrainingConfig::default()
        .with_epochs(1)
        .with_batch_size(256);

    // Streamed: the scaler fitted in a streaming pass, one epoch in the default order.
    let start = std::time::Instant::now();
    let mut stream = Stream::<f32>::idx(&path, StreamOrder::default()).unwrap();
    let scaler = Scaler::MinMax.fit_source(&mut stream).unwrap();
    assert_eq!(scaler.maximum().unwrap()[0], 255.0);
    let mut stream = stream.with_scaler(scaler).unwrap();
    let mut streamed = model.clone();
    let history = streamed
        .fit_source(
            &mut stream,
            None,
            &config,
            &mut Sgd::new(0.05).unwrap(),
            &mut ChaCha8Rng::seed_from_u64(2),
            &mut (),
        )
        .unwrap();
    let epoch = history.epochs[0];
    assert!(epoch.objective.is_finite());
    let peak = peak_resident_bytes();
    eprintln!(
        "streamed {size} bytes ({SAMPLES} samples) in {:.1} s: objective {:.3}, peak resident set {:?} bytes",
        start.elapsed().as_secs_f64(),
        epoch.objective,
        peak
    );
    if let Some(peak) = peak {
        assert!(peak < 200_000_000, "peak resident set {peak} bytes");
    }

    // The in-memory order against the file read into memory (8.5 GB: the f32 matrix and the
    // in-memory source's copy), with the limits raised for it.
    let bytes = FittedScaler::bytes(FEATURES);
    let mut stream = Stream::<f32>::idx(&path, StreamOrder::InMemory)
        .unwrap()
        .with_scaler(bytes.clone())
        .unwrap();
    let mut from_stream = model.clone();
    from_stream
        .fit_source(
            &mut stream,
            None,
            &config,
            &mut Sgd::new(0.05).unwrap(),
            &mut ChaCha8Rng::seed_from_u64(3),
            &mut (),
        )
        .unwrap();
    limits::set_max_elements(SAMPLES * FEATURES);
    let x = bytes
        .transform(&read_idx(&path).unwrap().to_matrix::<f32>())
        .unwrap();
    let _ = std::fs::remove_dir_all(&folder);
    let mut from_memory = model;
    from_memory
        .fit_with(
            &x,
            None,
            &config,
            &mut Sgd::new(0.05).unwrap(),
            &mut ChaCha8Rng::seed_from_u64(3),
            &mut (),
        )
        .unwrap();
    let bits = |m: &autoencoders::DenseAutoencoder<f32>| -> Vec<u32> {
        m.parameters()
            .iter()
            .flat_map(|p| p.iter().map(|v| v.to_bits()))
            .collect()
    };
    assert_eq!(bits(&from_stream), bits(&from_memory));
}
