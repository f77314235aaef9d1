//! The MPI test's probe (tests/mpi.rs): trains a small model data-parallel over MPI, with
//! checkpoints, and can make one rank die or hang after its first epoch, to show that the
//! others stop rather than wait for ever. Not a user tool.
//!
//! `mpirun -n 2 mpi-probe [--die-rank R] [--hang-rank R] [--timeout SECONDS]
//!     [--checkpoint PATH [--stop-after EPOCHS]] [--resume PATH] [--save PATH]`

use autoencoders::mpi::Mpi;
use autoencoders::parallel::Communicator;
use autoencoders::{
    Checkpoint, Checkpointing, DenseBuilder, EpochReport, Masking, Sgd, TrainingConfig, TrainingRun,
};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Default)]
struct Options {
    die: Option<usize>,
    hang: Option<usize>,
    timeout: Option<f64>,
    checkpoint: Option<String>,
    stop_after: Option<usize>,
    resume: Option<String>,
    save: Option<String>,
}

fn options() -> Option<Options> {
    let mut o = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next()?;
        match flag.as_str() {
            "--die-rank" => o.die = Some(value.parse().ok()?),
            "--hang-rank" => o.hang = Some(value.parse().ok()?),
            "--timeout" => o.timeout = Some(value.parse().ok()?),
            "--checkpoint" => o.checkpoint = Some(value),
            "--stop-after" => o.stop_after = Some(value.parse().ok()?),
            "--resume" => o.resume = Some(value),
            "--save" => o.save = Some(value),
            _ => return None,
        }
    }
    Some(o)
}

fn main() -> ExitCode {
    let Some(o) = options() else {
        eprintln!(
            "usage: mpi-probe [--die-rank R] [--hang-rank R] [--timeout S] [--checkpoint P [--stop-after E]] [--resume P] [--save P]"
        );
        return ExitCode::from(2);
    };
    match run(&o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpi-probe: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(o: &Options) -> autoencoders::Result<()> {
    let mpi = Mpi::initialize(Duration::from_secs_f64(o.timeout.unwrap_or(30.0)))?;
    let rank = mpi.rank();
    let x = DMatrix::from_fn(512, 20, |i, j| ((i * 7 + j * 3) % 10) as f32 / 10.0);
    let mut model = DenseBuilder::new(20, 8)
        .build::<f32, _>(&mut ChaCha8Rng::seed_from_u64(1))?
        .with_corruption(Masking::new(0.2)?);
    let config = TrainingConfig::default()
        .with_epochs(6)
        .with_batch_size(64)
        .with_shards(8);
    let sgd = Sgd::new(0.1)?.with_momentum(0.5)?;
    let mut run = match &o.resume {
        Some(path) => Checkpoint::<f32>::load(path)?.resume(&mut model, sgd)?,
        None => TrainingRun::new(config, sgd, ChaCha8Rng::seed_from_u64(2)),
    };
    if let Some(path) = &o.checkpoint {
        run = run.with_checkpoints(Checkpointing::new(path));
    }
    let mut observer = |report: &EpochReport| {
        if report.epoch == 0 && o.die == Some(rank) {
            eprintln!("mpi-probe: rank {rank} dies");
            std::process::exit(7);
        }
        if report.epoch == 0 && o.hang == Some(rank) {
            eprintln!("mpi-probe: rank {rank} hangs");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        if o.stop_after == Some(report.epoch + 1) {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    };
    let history = model.fit_resumable_parallel(&x, None, &mut run, &mpi, &mut observer)?;
    if mpi.is_root() {
        println!("trained: epochs={}", history.epochs.len());
        if let Some(path) = &o.save {
            model.save(path)?;
        }
    }
    Ok(())
}
