//! The MPI test's probe (tests/mpi.rs): trains a small model data-parallel over MPI, and can
//! make one rank die or hang after its first epoch, to show that the others stop rather than
//! wait for ever. Not a user tool.
//!
//! `mpirun -n 2 mpi-probe [--die-rank R] [--hang-rank R] [--timeout SECONDS]`

use autoencoders::mpi::Mpi;
use autoencoders::parallel::Communicator;
use autoencoders::source::InMemory;
use autoencoders::{DenseBuilder, EpochReport, Sgd, TrainingConfig};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut die, mut hang, mut timeout) = (None, None, 30.0);
    while let Some(flag) = args.next() {
        let value = args.next().and_then(|v| v.parse::<f64>().ok());
        match (flag.as_str(), value) {
            ("--die-rank", Some(r)) => die = Some(r as usize),
            ("--hang-rank", Some(r)) => hang = Some(r as usize),
            ("--timeout", Some(t)) => timeout = t,
            _ => {
                eprintln!("usage: mpi-probe [--die-rank R] [--hang-rank R] [--timeout S]");
                return ExitCode::from(2);
            }
        }
    }
    let mpi = match Mpi::initialize(Duration::from_secs_f64(timeout)) {
        Ok(mpi) => mpi,
        Err(e) => {
            eprintln!("mpi-probe: {e}");
            return ExitCode::from(1);
        }
    };
    let rank = mpi.rank();
    let x = DMatrix::from_fn(512, 20, |i, j| ((i * 7 + j * 3) % 10) as f32 / 10.0);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let Ok(mut model) = DenseBuilder::new(20, 8).build::<f32, _>(&mut rng) else {
        return ExitCode::from(1);
    };
    let config = TrainingConfig::default()
        .with_epochs(50)
        .with_batch_size(64)
        .with_shards(8);
    let mut observer = |report: &EpochReport| {
        if report.epoch == 0 && die == Some(rank) {
            eprintln!("mpi-probe: rank {rank} dies");
            std::process::exit(7);
        }
        if report.epoch == 0 && hang == Some(rank) {
            eprintln!("mpi-probe: rank {rank} hangs");
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        ControlFlow::Continue(())
    };
    let Ok(mut sgd) = Sgd::new(0.1) else {
        return ExitCode::from(1);
    };
    match model.fit_parallel(
        &mut InMemory::new(&x),
        None,
        &config,
        &mpi,
        &mut sgd,
        &mut rng,
        &mut observer,
    ) {
        Ok(history) => {
            if mpi.is_root() {
                println!("trained: epochs={}", history.epochs.len());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mpi-probe: rank {rank}: {e}");
            ExitCode::from(1)
        }
    }
}
