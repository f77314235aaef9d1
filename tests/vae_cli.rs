//! The `vae` example as other tools run it: its flags, its exit codes, the `test:` line, and
//! the saved file that `--init` reads back.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn vae_binary() -> PathBuf {
    common::example_binary("vae")
}

fn vae(args: &[&str]) -> Output {
    Command::new(vae_binary()).args(args).output().unwrap()
}

/// A fresh folder for one test's files.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "autoencoders-vae-cli-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The numbers of the `test:` line, by name.
fn test_line(stdout: &str) -> Vec<(String, f64)> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("test: "))
        .unwrap_or_else(|| panic!("no test line in {stdout}"));
    line["test: ".len()..]
        .split(' ')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect()
}

#[test]
fn help_documents_every_flag() {
    let output = vae(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--train-images",
        "--test-images",
        "--latent",
        "--hidden",
        "--activation",
        "--epochs",
        "--batch-size",
        "--learning-rate",
        "--seed",
        "--objective",
        "--k",
        "--beta",
        "--warm-up",
        "--ll-samples",
        "--dtype",
        "--init",
        "--save",
        "--pictures",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
}

#[test]
fn bad_flags_exit_with_code_2_and_say_why() {
    for args in [
        vec!["--no-such-flag"],
        vec!["--latent", "0"],
        vec!["--hidden", "0"],
        vec!["--hidden", "400,x"],
        vec!["--activation", "linear"],
        vec!["--objective", "kl"],
        vec!["--k", "0"],
        vec!["--k", "70000", "--objective", "iwae"],
        vec!["--beta", "-1"],
        vec!["--learning-rate", "0"],
        vec!["--batch-size", "0"],
        vec!["--ll-samples", "0"],
        vec!["--dtype", "f16"],
        vec!["--hidden", "30000000"],
        vec!["--hidden", "18446744073709551615"],
    ] {
        let output = vae(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
    }
    // A missing file is a failed run, not a bad flag.
    let output = vae(&["--train-images", "/no/such/file.idx", "--epochs", "1"]);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_short_run_prints_ordered_bounds_repeats_and_saves_what_init_reads() {
    let dir = folder("run");
    let saved = dir.join("a.safetensors");
    let again = dir.join("b.safetensors");
    let common = [
        "--hidden",
        "64",
        "--latent",
        "5",
        "--k",
        "5",
        "--ll-samples",
        "200",
        "--seed",
        "3",
    ];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = common.to_vec();
        args.extend_from_slice(extra);
        let output = vae(&args);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run(&["--epochs", "2", "--save", saved.to_str().unwrap()]);
    let numbers = test_line(&first);
    let names: Vec<&str> = numbers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["samples", "elbo", "iwae", "log_likelihood"]);
    let value = |name: &str| numbers.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(value("samples"), 2000.0);
    let (elbo, iwae, ll) = (value("elbo"), value("iwae"), value("log_likelihood"));
    assert!(elbo < iwae && iwae < ll && ll < 0.0, "{elbo} {iwae} {ll}");
    // The same seed gives the same lines, bit for bit in what is printed.
    let second = run(&["--epochs", "2"]);
    assert_eq!(test_line(&first), test_line(&second));
    // No training from the saved file, saved again: the same file.
    run(&[
        "--epochs",
        "0",
        "--init",
        saved.to_str().unwrap(),
        "--save",
        again.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(&saved).unwrap(),
        std::fs::read(&again).unwrap()
    );
    // Saving over an input is refused.
    let output = vae(&[
        "--epochs",
        "0",
        "--init",
        saved.to_str().unwrap(),
        "--save",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    std::fs::remove_dir_all(dir).ok();
}
