//! The `ufldl` example as a user runs it: an L-BFGS run interrupted with `--checkpoint` and
//! continued with `--resume` prints the iterations an unbroken run prints and ends at the same
//! objective; bad flag combinations exit with code 2.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn ufldl(args: &[&str]) -> Output {
    Command::new(common::example_binary("ufldl"))
        .args(["--limit", "300", "--hidden", "9"])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// The `iteration:` lines, and the `final:` line without its wall time.
fn iterates(text: &str) -> (Vec<String>, String) {
    let lines = text
        .lines()
        .filter(|l| l.starts_with("iteration: "))
        .map(str::to_owned)
        .collect();
    let last = text.lines().find(|l| l.starts_with("final: ")).unwrap();
    (lines, last.split(" seconds=").next().unwrap().to_owned())
}

#[test]
fn an_interrupted_run_resumes_to_the_unbroken_iterates() {
    let dir = std::env::temp_dir().join(format!("autoencoders-ufldl-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join("run.safetensors");
    let file = path.to_str().unwrap();
    let (all, unbroken) = iterates(&stdout(&ufldl(&["--iterations", "14"])));
    assert_eq!(all.len(), 14);
    let first = stdout(&ufldl(&[
        "--iterations",
        "8",
        "--checkpoint",
        file,
        "--checkpoint-interval",
        "3",
    ]));
    assert_eq!(iterates(&first).0, all[..8]);
    let second = stdout(&ufldl(&[
        "--iterations",
        "14",
        "--checkpoint",
        file,
        "--resume",
    ]));
    assert!(second.contains("resumed: iterations=8 "), "{second}");
    let (rest, resumed) = iterates(&second);
    assert_eq!(rest, all[8..]);
    assert_eq!(resumed, unbroken);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_combinations_exit_with_code_2() {
    for args in [
        &["--resume"][..],
        &["--optimizer", "adam", "--checkpoint", "x.safetensors"],
        &[
            "--checkpoint",
            "x.safetensors",
            "--checkpoint-interval",
            "0",
        ],
        &["--optimizer", "sgd", "--epochs", "0"],
    ] {
        let output = ufldl(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}
