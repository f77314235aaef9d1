//! What a data-parallel step's exchange costs over MPI: the all-gather of the shards'
//! gradients that `fit_parallel` does once per batch, for the gradient of W1 (784 → 256 → 784,
//! 402,448 values) in `f32`, timed alone, as a median of 50 exchanges per shard count, printed
//! by rank 0.
//!
//! Run: `cargo build --release --features mpi --example mpi_exchange` then
//! `mpirun -n 2 target/release/examples/mpi_exchange`

use autoencoders::mpi::Mpi;
use autoencoders::parallel::Communicator;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mpi = Mpi::initialize(Duration::from_secs(60))?;
    let gradient = 2 * 784 * 256 + 256 + 784;
    if mpi.is_root() {
        println!("ranks={} gradient_values={gradient} dtype=f32", mpi.size());
    }
    for shards in [1usize, 2, 4, 8] {
        let per_rank = shards.div_ceil(mpi.size());
        let local = vec![mpi.rank() as f32; per_rank * gradient];
        let mut all = vec![0.0f32; per_rank * gradient * mpi.size()];
        let mut times = Vec::new();
        for round in 0..55 {
            mpi.barrier();
            let start = Instant::now();
            mpi.all_gather_f32(&local, &mut all)?;
            if round >= 5 {
                times.push(start.elapsed().as_secs_f64());
            }
        }
        times.sort_by(f64::total_cmp);
        if mpi.is_root() {
            let median = times[times.len() / 2];
            let megabytes = (all.len() * 4) as f64 / 1e6;
            println!(
                "shards={shards} received_mb_per_rank={megabytes:.1} median_ms={:.3} gb_per_s={:.2}",
                median * 1e3,
                megabytes / 1e3 / median
            );
        }
    }
    Ok(())
}
