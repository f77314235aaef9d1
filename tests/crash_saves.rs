//! Saves killed with SIGKILL at random moments, over and over: the saved file is always a whole
//! model (the old one or the new one), and temporary files do not pile up — each successful
//! save removes those of processes that are gone.

use autoencoders::{DenseAutoencoder, DenseBuilder, DynamicAutoencoder};
use rand::{RngExt, SeedableRng, rngs::ChaCha8Rng};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const TARGET_VARIABLE: &str = "AUTOENCODERS_SAVE_LOOP_TARGET";

fn model(seed: u64) -> DenseAutoencoder<f64> {
    DenseBuilder::new(784, 256)
        .build::<f64, _>(&mut ChaCha8Rng::seed_from_u64(seed))
        .unwrap()
}

fn temporaries(folder: &Path) -> Vec<String> {
    std::fs::read_dir(folder)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

/// The child: saves to the target named by the environment until it is killed. Ignored, so
/// that only the parent below runs it.
#[test]
#[ignore = "run by killed_saves_leave_no_temporary_files_behind in a child process"]
fn save_until_killed() {
    let Ok(target) = std::env::var(TARGET_VARIABLE) else {
        return;
    };
    let models = [model(1), model(2)];
    for i in 0.. {
        models[i % 2].save(&target).unwrap();
        if i == 0 {
            // Tell the parent that a save has completed: from here on it may kill.
            println!("saved");
            std::io::stdout().flush().unwrap();
        }
    }
}

#[test]
fn killed_saves_leave_no_temporary_files_behind() {
    if !cfg!(target_os = "linux") {
        // Whether a process is gone is known from /proc only; elsewhere nothing is removed.
        return;
    }
    let folder: PathBuf =
        std::env::temp_dir().join(format!("ae-crash-saves-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    let target = folder.join("model.safetensors");
    model(1).save(&target).unwrap();
    let expected = [model(1), model(2)];

    let me = std::env::current_exe().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut most = 0;
    for _ in 0..30 {
        let mut child = Command::new(&me)
            .args(["--exact", "save_until_killed", "--ignored", "--nocapture"])
            .env(TARGET_VARIABLE, &target)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the child's first completed save (the test harness prints its own lines
        // first), then kill it at a random moment of the saves that follow.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert!(
            lines.any(|l| l.is_ok_and(|l| l.trim() == "saved")),
            "the child ended without saving"
        );
        std::thread::sleep(Duration::from_millis(rng.random_range(0..40)));
        child.kill().unwrap();
        child.wait().unwrap();
        // What is on disk is always one of the two models, whole.
        let loaded = DynamicAutoencoder::<f64>::load(&target).unwrap();
        assert!(
            expected
                .iter()
                .any(|m| m.parameters() == loaded.parameters()),
            "the saved file is neither model"
        );
        most = most.max(temporaries(&folder).len());
    }
    // Each child's first save removed the temporaries of the children killed before it, so at
    // most the last child's own is left.
    assert!(most <= 1, "{most} temporary files at once");
    model(2).save(&target).unwrap();
    assert_eq!(temporaries(&folder), Vec::<String>::new());
    std::fs::remove_dir_all(&folder).unwrap();
}
