//! The child process of `tests/hostile_corpus.rs`: reads one file as one kind of input through
//! the public API and reports what happened, so that the test can run every input of its
//! corpus in a process of its own, under a memory cap and a time-out.
//!
//! `hostile-probe KIND PATH`. It prints `outcome=accepted` (exit 0) or `outcome=refused` and
//! `error=…` (exit 3, a typed error), then `peak_kib=N`, the process's peak resident memory
//! (`VmHWM` of `/proc/self/status`; 0 where that file does not exist). A panic exits with 101 and
//! an allocation that fails aborts: both are what the test looks for. `PROBE_MAX_DECOMPRESSED`
//! sets the gzip limit of `autoencoders::limits` (bytes).

use autoencoders::data::{CsvOptions, LabelColumn, Stream, StreamOrder, read_csv, read_idx};
use autoencoders::rand::SeedableRng;
use autoencoders::rand::rngs::ChaCha8Rng;
use autoencoders::{
    Activation, Checkpoint, Classifier, ClassifierCheckpoint, DeepAutoencoder, DenseVae,
    DynamicAutoencoder, Error, Likelihood, PretrainedStack, PretrainingCheckpoint, StackedEncoder,
    VaeCheckpoint, limits,
};
use std::process::ExitCode;

/// Every kind of input the probe reads, by the name the test passes.
const KINDS: &[&str] = &[
    "model",
    "model64",
    "deep",
    "pretrained",
    "stack",
    "classifier",
    "checkpoint",
    "classifier-checkpoint",
    "vae-checkpoint",
    "pretraining",
    "vae",
    "idx",
    "csv",
    "csv-labelled",
    "stream-idx",
    "stream-csv",
    "stream-csv-labelled",
];

/// Opens `path` as a [`Stream`] and reads an epoch in file order and a shuffled one.
fn stream(path: &str, csv: Option<CsvOptions>) -> Result<(), Error> {
    use autoencoders::source::BatchSource;
    let order = StreamOrder::Buffer { buffer: 64 };
    let mut stream = match csv {
        None => Stream::<f32>::idx(path, order)?,
        Some(options) => Stream::<f32>::csv(path, &options, order)?,
    };
    let mut generator = ChaCha8Rng::seed_from_u64(0);
    let (mut batch, mut labels) = (nalgebra::DMatrix::zeros(0, 0), Vec::new());
    for shuffle in [false, true] {
        stream.start_epoch(shuffle, &mut generator)?;
        while stream.next_batch(32, &mut batch, &mut labels)? > 0 {}
    }
    Ok(())
}

fn read(kind: &str, path: &str) -> Result<(), Error> {
    match kind {
        "model" => DynamicAutoencoder::<f32>::load(path).map(drop),
        "model64" => DynamicAutoencoder::<f64>::load(path).map(drop),
        "deep" => DeepAutoencoder::<f32>::load(path).map(drop),
        "pretrained" => PretrainedStack::<f32>::load(path).map(drop),
        "stack" => StackedEncoder::<f32>::load(path).map(drop),
        "classifier" => Classifier::<StackedEncoder<f32>>::load(path).map(drop),
        "checkpoint" => Checkpoint::<f32>::load(path).map(drop),
        "classifier-checkpoint" => ClassifierCheckpoint::<f32>::load(path).map(drop),
        "vae-checkpoint" => VaeCheckpoint::<f32>::load(path).map(drop),
        "pretraining" => PretrainingCheckpoint::<f32>::load(path).map(drop),
        "vae" => {
            // The shape the test's valid VAE file has: 6 inputs, one hidden layer of 4, 2 latents.
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let mut vae = DenseVae::<f32>::dense(
                6,
                &[4],
                2,
                Activation::Relu,
                Likelihood::Bernoulli,
                &mut rng,
            )?;
            vae.load_parameters(path)
        }
        "idx" => read_idx(path).map(drop),
        "csv" => read_csv::<f32>(path, &CsvOptions::default()).map(drop),
        "csv-labelled" => read_csv::<f32>(
            path,
            &CsvOptions::default().with_label_column(LabelColumn::Last),
        )
        .map(drop),
        "stream-idx" => stream(path, None),
        "stream-csv" => stream(path, Some(CsvOptions::default())),
        "stream-csv-labelled" => stream(
            path,
            Some(CsvOptions::default().with_label_column(LabelColumn::Last)),
        ),
        _ => unreachable!("checked in main"),
    }
}

/// Peak resident memory in KiB, from `/proc/self/status` (Linux); 0 elsewhere.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(path), 3) = (args.get(1), args.get(2), args.len()) else {
        eprintln!(
            "usage: hostile-probe KIND PATH (KIND one of {})",
            KINDS.join(", ")
        );
        return ExitCode::from(2);
    };
    if !KINDS.contains(&kind.as_str()) {
        eprintln!("unknown kind {kind:?} (one of {})", KINDS.join(", "));
        return ExitCode::from(2);
    }
    if let Ok(limit) = std::env::var("PROBE_MAX_DECOMPRESSED") {
        match limit.parse() {
            Ok(bytes) => limits::set_max_decompressed_bytes(bytes),
            Err(_) => {
                eprintln!("PROBE_MAX_DECOMPRESSED must be a number of bytes");
                return ExitCode::from(2);
            }
        }
    }
    let result = read(kind, path);
    let code = match &result {
        Ok(()) => {
            println!("outcome=accepted");
            0
        }
        Err(error) => {
            println!("outcome=refused");
            println!("error={}", error.to_string().replace('\n', " "));
            3
        }
    };
    println!("peak_kib={}", peak_kib());
    ExitCode::from(code)
}
