//! `train`: a command-line trainer over the whole crate, for trying autoencoder variants without
//! writing Rust.
//!
//! With no flags it trains a 784→64 sigmoid autoencoder on the bundled digits for 10 epochs by
//! plain SGD (η = 0.1) and prints the train and test reconstruction loss (about 22 per digit in
//! squared error), the penalty, the mean code activation, the wall time and the throughput.
//! (Adam with sigmoid codes tends to saturate them on this data and stall near the 52 of
//! predicting the mean digit; with `--encoder-activation relu` it does well.) For example:
//!
//! ```text
//! cargo run --release --example train -- --hidden 100 --contractive 0.1 --epochs 5
//! cargo run --release --example train -- --loss cross-entropy --masking 0.3 --save dae.safetensors
//! cargo run --release --example train -- --train-images my.csv --label-column last --scale standard \
//!     --decoder-activation linear
//! cargo run --release --features pictures --example train -- --pictures out/
//! ```
//!
//! `--help` documents every flag. Bad flags exit with code 2, other failures with code 1.

use autoencoders::data::{CsvOptions, LabelColumn, Stream, StreamOrder, bundled_digits};
use autoencoders::parallel::Communicator;
use autoencoders::source::{BatchSource, InMemory};
use autoencoders::{DynamicAutoencoder, EpochReport, Scalar};
use autoencoders_tools::model_flags::{Dtype, ModelFlags};
use autoencoders_tools::{
    Failure, check_outputs, exit_code, first_rows, parse_label_column, read_samples,
};
use clap::Parser;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "train",
    about = "Train an autoencoder on IDX or CSV data (default: the bundled MNIST digits)."
)]
struct Args {
    /// Training samples: an IDX file (gzipped or not) or a CSV of numbers. Default: the 8,000
    /// bundled MNIST training digits.
    #[arg(long, value_name = "PATH")]
    train_images: Option<PathBuf>,
    /// Test samples, same formats. Default: the 2,000 bundled test digits when training on the
    /// bundled digits, otherwise none.
    #[arg(long, value_name = "PATH")]
    test_images: Option<PathBuf>,
    #[command(flatten)]
    model: ModelFlags,
    /// Save the trained model (safetensors, PyTorch names) to this file.
    #[arg(long, value_name = "PATH")]
    save: Option<PathBuf>,
    /// Write pictures (filters, reconstructions, loss curves) into this folder (needs
    /// `--features pictures`).
    #[arg(long, value_name = "DIR")]
    pictures: Option<PathBuf>,
    /// CSV only: the column holding class labels, an index from 0 or `last` (default: none).
    #[arg(long, value_name = "INDEX|last", value_parser = parse_label_column)]
    label_column: Option<LabelColumn>,
    /// Image shape for pictures, written HxW (default: the IDX dimensions, or a square).
    #[arg(long, value_name = "HxW", value_parser = parse_shape)]
    image_shape: Option<(usize, usize)>,
    /// Stream the --train-images file from disk every epoch instead of reading it into memory:
    /// memory stays bounded whatever the file's size. The scaler's statistics are computed in
    /// a streaming pass; the test data are read into memory.
    #[arg(long)]
    stream: bool,
    /// With --stream: the order of a shuffled epoch. `in-memory` is the order of training in
    /// memory, exactly (same results, bit for bit; uncompressed IDX only); `blocks` reads
    /// blocks of --stream-block samples in a random order through the shuffle buffer
    /// (uncompressed IDX only); `buffer` reads the file in order through the shuffle buffer.
    /// Default: `blocks` for an uncompressed IDX file, `buffer` for gzip and CSV.
    #[arg(long, value_enum, value_name = "ORDER", requires = "stream")]
    stream_order: Option<OrderFlag>,
    /// With --stream: samples in the shuffle buffer.
    #[arg(long, value_name = "N", default_value_t = 8192, requires = "stream")]
    shuffle_buffer: usize,
    /// With --stream and the `blocks` order: consecutive samples per block.
    #[arg(long, value_name = "N", default_value_t = 1024, requires = "stream")]
    stream_block: usize,
    /// Data-parallel training: every batch cut into shards of N samples, each corrupted from
    /// its own generator, their gradients summed in shard order, so that any number of MPI
    /// processes (--mpi) trains the model one process trains with the same --shard, bit for
    /// bit. Default with --mpi: 16.
    #[arg(long, value_name = "N")]
    shard: Option<usize>,
    /// Train data-parallel over MPI, under `mpirun -n N` (needs `--features mpi`): every rank
    /// reads the data and trains; rank 0 prints and saves.
    #[arg(long)]
    mpi: bool,
    /// With --mpi: seconds an exchange of gradients may wait for the other ranks before every
    /// rank is aborted (a rank that died or hangs).
    #[arg(long, value_name = "S", default_value_t = 120.0, requires = "mpi")]
    mpi_timeout: f64,
}

/// Whether this process prints: rank 0 of an MPI run, or the only process.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `println!` on rank 0 only.
macro_rules! say {
    ($($arg:tt)*) => {
        if !QUIET.load(std::sync::atomic::Ordering::Relaxed) {
            println!($($arg)*);
        }
    };
}

/// The shard size of a data-parallel run (`--shard`, `--mpi`), and the MPI communicator.
type Parallel = (Option<usize>, Option<Box<dyn Communicator>>);

fn parallel(args: &Args) -> Result<Parallel, Failure> {
    let shard = match (args.shard, args.mpi) {
        (Some(0), _) => return Err(Failure::Usage("--shard must be at least 1".into())),
        (shard, false) => return Ok((shard, None)),
        (Some(shard), true) => shard,
        (None, true) => 16,
    };
    if !(args.mpi_timeout.is_finite() && args.mpi_timeout > 0.0 && args.mpi_timeout < 1e9) {
        return Err(Failure::Usage(format!(
            "--mpi-timeout {} must be a positive number of seconds",
            args.mpi_timeout
        )));
    }
    Ok((Some(shard), Some(mpi_communicator(args.mpi_timeout)?)))
}

#[cfg(feature = "mpi")]
fn mpi_communicator(timeout: f64) -> Result<Box<dyn Communicator>, Failure> {
    let mpi = autoencoders::mpi::Mpi::initialize(std::time::Duration::from_secs_f64(timeout))?;
    QUIET.store(!mpi.is_root(), std::sync::atomic::Ordering::Relaxed);
    // mpirun usually starts several ranks on one machine: each computes on one thread unless
    // AUTOENCODERS_THREADS says otherwise (the results are the same at any thread count).
    if std::env::var_os(autoencoders::threads::VARIABLE).is_none() {
        autoencoders::threads::set_threads(1)?;
    }
    Ok(Box::new(mpi))
}

#[cfg(not(feature = "mpi"))]
fn mpi_communicator(_: f64) -> Result<Box<dyn Communicator>, Failure> {
    Err(Failure::Usage(
        "--mpi needs the mpi feature: cargo build --release --features mpi --example train, then mpirun -n 2 target/release/examples/train --mpi".into(),
    ))
}

/// The values of --stream-order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum OrderFlag {
    InMemory,
    Blocks,
    Buffer,
}

fn parse_shape(s: &str) -> Result<(usize, usize), String> {
    let (h, w) = s.split_once(['x', 'X']).ok_or("expected HxW, e.g. 28x28")?;
    let dim = |v: &str| v.parse::<usize>().map_err(|e| format!("`{v}`: {e}"));
    Ok((dim(h)?, dim(w)?))
}

fn main() -> ExitCode {
    let args = Args::parse();
    exit_code(match args.model.dtype {
        Dtype::F32 => run::<f32>(&args),
        Dtype::F64 => run::<f64>(&args),
    })
}

fn run<T: Scalar>(args: &Args) -> Result<(), Failure> {
    let flags = &args.model;
    flags.check()?;
    if args.label_column.is_some() && args.train_images.is_none() && args.test_images.is_none() {
        return Err(Failure::Usage(
            "--label-column applies to CSV files given with --train-images or --test-images; the bundled digits have no label column".into(),
        ));
    }
    check_outputs(
        "train",
        args.save.as_deref(),
        &[
            args.train_images.as_deref(),
            args.test_images.as_deref(),
            flags.init.as_deref(),
        ],
        args.pictures.is_some(),
        cfg!(feature = "pictures"),
    )?;

    if args.stream {
        return run_streaming::<T>(args);
    }

    // Data.
    let (train, test, file_shape, bytes) = match &args.train_images {
        None => {
            let digits = bundled_digits::<T>()?;
            let test = match &args.test_images {
                Some(path) => Some(read_samples::<T>(path, args.label_column)?.x),
                None => Some(digits.test_images),
            };
            // Already divided by 255: the default scaling must not divide again.
            (digits.train_images, test, Some((28, 28)), false)
        }
        Some(path) => {
            let samples = read_samples::<T>(path, args.label_column)?;
            let test = match &args.test_images {
                Some(path) => Some(read_samples::<T>(path, args.label_column)?.x),
                None => None,
            };
            (samples.x, test, samples.image_shape, samples.bytes)
        }
    };
    let train = first_rows(train, flags.limit);
    let test = test.map(|t| first_rows(t, flags.limit));
    let scaler = flags.scaler(args.train_images.is_none(), bytes, file_shape.is_some());
    let fitted = scaler.fit(&train)?;
    let train = fitted.transform(&train)?;
    let test = test.map(|t| fitted.transform(&t)).transpose()?;
    let input_dim = train.ncols();
    let image_shape = args.image_shape.or(file_shape).or_else(|| {
        let side = (input_dim as f64).sqrt().round() as usize;
        (side * side == input_dim).then_some((side, side))
    });

    // Model.
    let mut rng = ChaCha8Rng::seed_from_u64(flags.seed);
    let mut model: DynamicAutoencoder<T> = flags.model(input_dim, &mut rng)?;
    let mut optimizer = flags.optimizer::<T>()?;
    let config = flags.config();
    // Problems of data and model together (cross-entropy on data outside [0, 1], KL sparsity
    // on codes outside (0, 1)) are the flags' fault too: report them before training.
    model
        .check(&train, "training data")
        .map_err(|e| Failure::Usage(e.to_string()))?;

    // Training.
    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(flags.epochs as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} epoch {pos}/{len} {msg} [{elapsed}<{eta}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut observer = |r: &EpochReport| {
        if let Some(bar) = &progress {
            bar.set_message(format!("loss {:.4}", r.objective));
            bar.inc(1);
        }
        ControlFlow::Continue(())
    };
    let (shard, communicator) = parallel(args)?;
    let config = match shard {
        Some(shard) => config.with_shards(shard),
        None => config,
    };
    let start = Instant::now();
    let history = match &communicator {
        None => model.fit_with(
            &train,
            test.as_ref(),
            &config,
            &mut optimizer,
            &mut rng,
            &mut observer,
        )?,
        Some(communicator) => model.fit_parallel(
            &mut InMemory::new(&train),
            test.as_ref(),
            &config,
            communicator.as_ref(),
            &mut optimizer,
            &mut rng,
            &mut observer,
        )?,
    };
    let seconds = start.elapsed().as_secs_f64();
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }

    // Results.
    let report = |name: &str, x: &DMatrix<T>| -> Result<(), Failure> {
        let objective = model.objective(x)?;
        let codes = model.encode(x)?;
        say!(
            "{name}: samples={} reconstruction_loss={:.6} penalty={:.6} mean_code={:.4}",
            x.nrows(),
            objective.reconstruction.as_f64(),
            objective.penalty.as_f64(),
            mean_f64(&codes)
        );
        Ok(())
    };
    report("train", &train)?;
    match &test {
        Some(t) => report("test", t)?,
        None => say!("test: none (give --test-images)"),
    }
    finish(
        args,
        &model,
        &history,
        train.nrows(),
        seconds,
        &train,
        test.as_ref(),
        image_shape,
    )
}

/// The time line, the saved model and the pictures.
#[allow(clippy::too_many_arguments)]
fn finish<T: Scalar>(
    args: &Args,
    model: &DynamicAutoencoder<T>,
    history: &autoencoders::History,
    samples: usize,
    seconds: f64,
    shown: &DMatrix<T>,
    test: Option<&DMatrix<T>>,
    image_shape: Option<(usize, usize)>,
) -> Result<(), Failure> {
    let processed = (samples * history.epochs.len()) as f64;
    say!(
        "time: epochs={} wall_seconds={seconds:.3} samples_per_sec={:.0}",
        history.epochs.len(),
        processed / seconds.max(1e-9)
    );
    if QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(());
    }
    if let Some(path) = &args.save {
        model.save(path)?;
        say!("saved: {}", path.display());
    }
    if let Some(dir) = &args.pictures {
        write_pictures(model, shown, test, history, image_shape, dir)?;
    }
    Ok(())
}

/// Training with --stream: the training file read from disk every epoch.
fn run_streaming<T: Scalar>(args: &Args) -> Result<(), Failure> {
    let flags = &args.model;
    let Some(path) = &args.train_images else {
        return Err(Failure::Usage(
            "--stream reads the file given with --train-images; the bundled digits are in memory already".into(),
        ));
    };
    if flags.limit.is_some() {
        return Err(Failure::Usage(
            "--limit selects rows of data in memory; with --stream, train on a file of those rows"
                .into(),
        ));
    }
    let csv = CsvOptions::default().with_label_column(args.label_column.unwrap_or_default());
    let order = |flag: OrderFlag| match flag {
        OrderFlag::InMemory => StreamOrder::InMemory,
        OrderFlag::Blocks => StreamOrder::Blocks {
            block: args.stream_block,
            buffer: args.shuffle_buffer,
        },
        OrderFlag::Buffer => StreamOrder::Buffer {
            buffer: args.shuffle_buffer,
        },
    };
    let usage = |e: autoencoders::Error| match e {
        e @ (autoencoders::Error::UnseekableStream { .. }
        | autoencoders::Error::InvalidHyperParameter { .. }) => Failure::Usage(e.to_string()),
        e => e.into(),
    };
    let stream = match args.stream_order {
        Some(flag) => Stream::<T>::open(path, &csv, order(flag)).map_err(usage)?,
        None => match Stream::<T>::open(path, &csv, order(OrderFlag::Blocks)) {
            Err(autoencoders::Error::UnseekableStream { .. }) => {
                Stream::<T>::open(path, &csv, order(OrderFlag::Buffer)).map_err(usage)?
            }
            other => other.map_err(usage)?,
        },
    };
    if args.label_column.is_some() && !stream.is_csv() {
        return Err(Failure::Usage(
            "--label-column applies to CSV files only".into(),
        ));
    }
    let file_shape = match stream.dims() {
        [_, h, w] if !stream.is_csv() => Some((*h, *w)),
        _ => None,
    };
    let mut stream = stream;
    let scaler = flags.scaler(false, stream.holds_bytes(), file_shape.is_some());
    let fitted = scaler.fit_source(&mut stream)?;
    let test = match &args.test_images {
        Some(path) => Some(fitted.transform(&read_samples::<T>(path, args.label_column)?.x)?),
        None => None,
    };
    let mut stream = stream.with_scaler(fitted)?;
    let input_dim = stream.features();
    let image_shape = args.image_shape.or(file_shape).or_else(|| {
        let side = (input_dim as f64).sqrt().round() as usize;
        (side * side == input_dim).then_some((side, side))
    });

    let mut rng = ChaCha8Rng::seed_from_u64(flags.seed);
    let mut model: DynamicAutoencoder<T> = flags.model(input_dim, &mut rng)?;
    let mut optimizer = flags.optimizer::<T>()?;
    let config = flags.config();
    // The first samples, for the checks of data and model together and for the pictures.
    let first = first_batch(&mut stream, 20)?;
    model
        .check(&first, "training data")
        .map_err(|e| Failure::Usage(e.to_string()))?;

    let (shard, communicator) = parallel(args)?;
    let config = match shard {
        Some(shard) => config.with_shards(shard),
        None => config,
    };
    let start = Instant::now();
    let history = match &communicator {
        None => model.fit_source(
            &mut stream,
            test.as_ref(),
            &config,
            &mut optimizer,
            &mut rng,
            &mut (),
        )?,
        Some(communicator) => model.fit_parallel(
            &mut stream,
            test.as_ref(),
            &config,
            communicator.as_ref(),
            &mut optimizer,
            &mut rng,
            &mut (),
        )?,
    };
    let seconds = start.elapsed().as_secs_f64();

    // The training loss, streamed: the mean over batches of 1,024 (exact for the loss and the
    // codes; a batch-level penalty is averaged over those batches).
    let (mut batch, mut labels) = (DMatrix::<T>::zeros(0, 0), Vec::new());
    stream.start_epoch(false, &mut rng)?;
    let (mut n, mut loss, mut penalty, mut code) = (0usize, 0.0, 0.0, 0.0);
    loop {
        let k = stream.next_batch(1024, &mut batch, &mut labels)?;
        if k == 0 {
            break;
        }
        let objective = model.objective(&batch)?;
        loss += objective.reconstruction.as_f64() * k as f64;
        penalty += objective.penalty.as_f64() * k as f64;
        code += mean_f64(&model.encode(&batch)?) * k as f64;
        n += k;
    }
    let n_f = n.max(1) as f64;
    say!(
        "train: samples={n} reconstruction_loss={:.6} penalty={:.6} mean_code={:.4}",
        loss / n_f,
        penalty / n_f,
        code / n_f
    );
    match &test {
        Some(t) => {
            let objective = model.objective(t)?;
            say!(
                "test: samples={} reconstruction_loss={:.6} penalty={:.6} mean_code={:.4}",
                t.nrows(),
                objective.reconstruction.as_f64(),
                objective.penalty.as_f64(),
                mean_f64(&model.encode(t)?)
            );
        }
        None => say!("test: none (give --test-images)"),
    }
    say!(
        "stream: file={} order={:?} samples={n}",
        stream.file(),
        stream.order()
    );
    finish(
        args,
        &model,
        &history,
        n,
        seconds,
        &first,
        test.as_ref(),
        image_shape,
    )
}

/// The mean of every value of `m`, summed in `f64` (an `f32` sum of the 512,000 codes of the
/// bundled digits is off in the fourth digit).
fn mean_f64<T: Scalar>(m: &DMatrix<T>) -> f64 {
    m.iter().map(|v| v.as_f64()).sum::<f64>() / m.len().max(1) as f64
}

/// The first `count` samples of a stream, in file order.
fn first_batch<T: Scalar>(stream: &mut Stream<T>, count: usize) -> Result<DMatrix<T>, Failure> {
    let (mut batch, mut labels) = (DMatrix::zeros(0, 0), Vec::new());
    stream.start_epoch(false, &mut ChaCha8Rng::seed_from_u64(0))?;
    stream.next_batch(count, &mut batch, &mut labels)?;
    Ok(batch)
}

#[cfg(feature = "pictures")]
fn write_pictures<T: Scalar>(
    model: &DynamicAutoencoder<T>,
    train: &DMatrix<T>,
    test: Option<&DMatrix<T>>,
    history: &autoencoders::History,
    image_shape: Option<(usize, usize)>,
    dir: &Path,
) -> Result<(), Failure> {
    use autoencoders::pictures::{TileGrid, filter_grid, loss_curves, reconstruction_grid};
    let (height, width) = image_shape.ok_or_else(|| {
        Failure::Usage("--pictures needs an image shape: give --image-shape HxW".into())
    })?;
    if height * width != train.ncols() {
        return Err(Failure::Usage(format!(
            "--image-shape {height}x{width} does not have the data's {} features",
            train.ncols()
        )));
    }
    std::fs::create_dir_all(dir)?;
    let scale = if height * width <= 1024 { 2 } else { 1 };
    let grid = TileGrid::new(height, width).with_scale(scale);
    let written = [
        (
            "filters.png",
            filter_grid(model.encoder().weights(), &grid)?,
        ),
        ("loss.png", loss_curves(history)?),
    ];
    for (name, picture) in written {
        picture.save_png(dir.join(name))?;
        say!("picture: {}", dir.join(name).display());
    }
    let shown = test.unwrap_or(train);
    let shown = shown.rows(0, shown.nrows().min(20)).into_owned();
    let reconstructions = model.reconstruct(&shown)?;
    let path = dir.join("reconstructions.png");
    reconstruction_grid(&shown, &reconstructions, &grid)?.save_png(&path)?;
    say!("picture: {}", path.display());
    Ok(())
}

#[cfg(not(feature = "pictures"))]
fn write_pictures<T: Scalar>(
    _: &DynamicAutoencoder<T>,
    _: &DMatrix<T>,
    _: Option<&DMatrix<T>>,
    _: &autoencoders::History,
    _: Option<(usize, usize)>,
    _: &Path,
) -> Result<(), Failure> {
    Ok(())
}
