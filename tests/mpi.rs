//! Data-parallel training over MPI (feature `mpi`; CI runs it, with Open MPI from Debian's
//! packages): `mpirun -n 1`, `-n 2` and `-n 4` (oversubscribed, on one machine) train the
//! `train` example's model to the bytes of the single-process run with the same `--shard`; a
//! checkpoint written by rank 0 of two ranks resumes on four to the bytes of a run without a
//! break; and a rank that dies or hangs stops the run with an error within a bounded time.
//!
//! `cargo build --release -p autoencoders-tools --features mpi --example train`, then
//! `cargo test --release -p autoencoders-tools --features mpi --test mpi` (a test target alone
//! does not rebuild the example with the feature).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn mpirun(n: usize, program: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("mpirun");
    command
        .args([
            "--oversubscribe",
            "--mca",
            "btl_tcp_if_include",
            "lo",
            "-n",
            &n.to_string(),
        ])
        .arg(program)
        .args(args)
        // CI runs as root, which Open MPI refuses unless told.
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    command
}

/// Runs `command`, killing it after `limit`; its output and how long it took.
fn run_within(mut command: Command, limit: Duration) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun runs (apt-get install openmpi-bin libopenmpi-dev)");
    loop {
        if child.try_wait().unwrap().is_some() {
            return (child.wait_with_output().unwrap(), start.elapsed());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("autoencoders-mpi-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn one_two_and_four_ranks_save_the_bytes_of_one_process() {
    let train = common::example_binary("train");
    let dir = folder("ranks");
    let common = [
        "--epochs",
        "2",
        "--masking",
        "0.2",
        "--hidden",
        "32",
        "--shard",
        "16",
    ];
    let reference = dir.join("one-process.safetensors");
    let output = Command::new(&train)
        .args(common)
        .args(["--save", reference.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for n in [1, 2, 4] {
        let saved = dir.join(format!("ranks-{n}.safetensors"));
        let mut command = mpirun(n, &train, &common);
        command.args(["--mpi", "--save", saved.to_str().unwrap()]);
        let (output, _) = run_within(command, Duration::from_secs(300));
        assert!(
            output.status.success(),
            "{n} ranks: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // Rank 0 alone prints.
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(stdout.matches("time: ").count(), 1, "{stdout}");
        assert_eq!(
            std::fs::read(&saved).unwrap(),
            std::fs::read(&reference).unwrap(),
            "{n} ranks"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_rank_that_dies_or_hangs_stops_the_others_within_the_time_out() {
    let probe = PathBuf::from(env!("CARGO_BIN_EXE_mpi-probe"));
    let (output, _) = run_within(mpirun(2, &probe, &[]), Duration::from_secs(120));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let (output, took) = run_within(
        mpirun(2, &probe, &["--die-rank", "1"]),
        Duration::from_secs(120),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rank 1 dies"), "{stderr}");
    eprintln!("a rank died: the run ended after {took:?}");

    let (output, took) = run_within(
        mpirun(2, &probe, &["--hang-rank", "1", "--timeout", "3"]),
        Duration::from_secs(120),
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("aborting every rank"), "{stderr}");
    assert!(took >= Duration::from_secs(3), "{took:?}");
    eprintln!("a rank hung: the run ended after {took:?}");
}

#[test]
fn a_checkpoint_of_two_ranks_resumes_on_four_with_the_bytes_of_one_unbroken_run() {
    let probe = PathBuf::from(env!("CARGO_BIN_EXE_mpi-probe"));
    let dir = folder("resume");
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let ok = |command: Command| {
        let (output, _) = run_within(command, Duration::from_secs(120));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    ok(mpirun(
        1,
        &probe,
        &["--save", &path("unbroken.safetensors")],
    ));
    ok(mpirun(
        2,
        &probe,
        &[
            "--checkpoint",
            &path("checkpoint.safetensors"),
            "--stop-after",
            "3",
        ],
    ));
    ok(mpirun(
        4,
        &probe,
        &[
            "--resume",
            &path("checkpoint.safetensors"),
            "--save",
            &path("resumed.safetensors"),
        ],
    ));
    assert_eq!(
        std::fs::read(path("resumed.safetensors")).unwrap(),
        std::fs::read(path("unbroken.safetensors")).unwrap()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
