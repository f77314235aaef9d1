//! A generated corpus of hostile inputs, each run in a child process of its own under a memory
//! cap (`ulimit -v`) and a time-out: every kind of file the crate reads (model, deep, pretrained,
//! stack and classifier files, the four kinds of checkpoint, VAE parameters, IDX, gzip, CSV) with
//! one defect each (truncations, seeded bit flips, header lengths, header JSON, duplicate keys,
//! dtypes, shapes, offsets, record edits, non-finite weights, decompression bombs, long lines,
//! blank-line floods, FIFOs and devices), and the `train`, `vae` and `anomalies` tools with
//! hostile flags.
//!
//! What must hold, case by case: no panic (exit 101), no abort or other signal (a failed
//! allocation under the cap aborts), no hang (the time-out), peak resident memory within
//! `memory_bound` of the input's size, and every corrupt input refused with a typed error (the
//! probe's exit code 3; the tools' exit code 2 for a bad flag). Edits that make another valid file
//! (a record edited with its checksums recomputed, say) may load, but must not crash either.
//!
//! Linux only: the cap and the peak memory come from the shell's `ulimit` and `/proc`.
#![cfg(target_os = "linux")]

mod common;

use autoencoders::{
    Activation, Adam, Checkpointing, Classifier, DenseBuilder, DenseVae, Init, LayerSpec,
    LayerwisePretrainer, Likelihood, StackedEncoder, TrainingConfig, TrainingRun,
};
use common::model_file::{ModelFile, frame};
use nalgebra::DMatrix;
use rand::{Rng, RngExt, SeedableRng};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The virtual-memory cap of every child (`ulimit -v`), in KiB: 4 GiB, far below what an
/// unchecked size from a header would ask for, far above what a well-behaved reader needs.
const CAP_KIB: u64 = 4 << 20;
/// The gzip limit the probe runs with (`PROBE_MAX_DECOMPRESSED`): 64 MiB.
const GZIP_LIMIT: u64 = 64 << 20;
/// A child that runs longer than this hangs, for the test's purposes.
const FILE_TIMEOUT: Duration = Duration::from_secs(30);
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// The peak resident memory a child may reach: for the probe a base for the binary and the
/// runtime (64 MiB), plus eight times the input file, plus for a gzip-compressed input twice the
/// decompression limit (what inflating to the limit and parsing it may hold); for the tools,
/// which hold the bundled digits, 256 MiB.
fn memory_bound(case: &Case) -> u64 {
    if case.kind.starts_with("tool:") {
        // The tools hold the bundled digits, in f32 and as read.
        return 256 << 20;
    }
    let base = 64 << 20;
    let gzip = if case.gzip { 2 * GZIP_LIMIT } else { 0 };
    base + 8 * case.input_len + gzip
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// A typed error: the probe's exit code 3, or a tool's exit code 2 (bad flag).
    Refused,
    /// A tool's run that fails cleanly: exit code 1 or 2.
    Fails,
    /// Loads or is refused; only crashes, hangs and memory count.
    Either,
    /// Loads (the controls).
    Accepted,
}

struct Case {
    class: &'static str,
    what: String,
    /// The probe's kind, or `tool:train` / `tool:vae` for a tool's flags.
    kind: &'static str,
    /// The input file, or the tool's arguments.
    input: Input,
    input_len: u64,
    gzip: bool,
    expect: Expect,
}

enum Input {
    Bytes(Vec<u8>),
    Path(PathBuf),
    Args(Vec<String>),
}

struct Outcome {
    code: Option<i32>,
    timed_out: bool,
    peak: u64,
    stdout: String,
    stderr: String,
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "autoencoders-hostile-corpus-{}",
        std::process::id()
    ));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `program args` under the cap and the time-out; the peak memory of a probe is what it
/// printed, of a tool what `/proc/PID/status` showed last before it ended (sampled every 2 ms,
/// and only once the process is the program: between `fork` and `exec` it is a copy of this
/// test, whose memory is not the program's).
fn run_capped(program: &Path, args: &[String], timeout: Duration) -> Outcome {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v \"$1\" && shift && exec \"$@\"")
        .arg("sh")
        .arg(CAP_KIB.to_string())
        .arg(program)
        .args(args)
        .env("PROBE_MAX_DECOMPRESSED", GZIP_LIMIT.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let name: String = program
        .file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .take(15)
        .collect();
    let mut stdout_pipe = child.stdout.take().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout_pipe.read_to_string(&mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr_pipe.read_to_string(&mut s).ok();
        s
    });
    let start = Instant::now();
    let mut sampled_peak = 0;
    let mut timed_out = false;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && status.lines().next() == Some(&format!("Name:\t{name}"))
            && let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|r| r.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            sampled_peak = sampled_peak.max(kib << 10);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > timeout {
            timed_out = true;
            child.kill().ok();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    let printed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak_kib="))
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kib| kib << 10);
    Outcome {
        code: status.code(),
        timed_out,
        peak: printed.max(sampled_peak),
        stdout,
        stderr,
    }
}

// ---------------------------------------------------------------------------------------------
// The valid files the corpus starts from.

fn data() -> DMatrix<f32> {
    let mut rng = common::rng(11);
    DMatrix::from_fn(24, 6, |_, _| rng.random::<f32>())
}

fn model64_file() -> Vec<u8> {
    DenseBuilder::new(5, 2)
        .build::<f64, _>(&mut common::rng(8))
        .unwrap()
        .to_safetensors()
        .unwrap()
}

fn stack() -> StackedEncoder<f32> {
    StackedEncoder::random(
        &[6, 4, 3],
        Activation::Sigmoid,
        Init::GlorotUniform,
        &mut common::rng(2),
    )
    .unwrap()
}

fn classifier() -> Classifier<StackedEncoder<f32>> {
    Classifier::new(stack(), 3, Init::GlorotUniform, &mut common::rng(3)).unwrap()
}

fn quick() -> TrainingConfig {
    TrainingConfig::default().with_epochs(1).with_batch_size(8)
}

/// The bytes of the checkpoint that `train` writes into `dir/name`.
fn checkpoint_of(dir: &Path, name: &str, train: impl FnOnce(&Path)) -> Vec<u8> {
    let path = dir.join(name);
    train(&path);
    std::fs::read(&path).unwrap()
}

fn vae() -> DenseVae<f32> {
    DenseVae::<f32>::dense(
        6,
        &[4],
        2,
        Activation::Relu,
        Likelihood::Bernoulli,
        &mut common::rng(4),
    )
    .unwrap()
}

/// Every valid safetensors file, by the probe's kind.
fn safetensors_files(dir: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let x = data();
    let labels: Vec<usize> = (0..x.nrows()).map(|i| i % 3).collect();
    let checkpoint = checkpoint_of(dir, "checkpoint.safetensors", |path| {
        let mut run = TrainingRun::new(quick(), Adam::new(1e-2).unwrap(), common::rng(5))
            .with_checkpoints(Checkpointing::new(path));
        common::models::deep()
            .fit_resumable(&x, None, &mut run, &mut ())
            .unwrap();
    });
    let classifier_checkpoint = checkpoint_of(dir, "classifier-checkpoint.safetensors", |path| {
        let mut run = TrainingRun::new(quick(), Adam::new(1e-2).unwrap(), common::rng(6))
            .with_checkpoints(Checkpointing::new(path));
        classifier()
            .fit_resumable(&x, &labels, None, &mut run, &mut ())
            .unwrap();
    });
    let vae_checkpoint = checkpoint_of(dir, "vae-checkpoint.safetensors", |path| {
        let mut run = TrainingRun::new(quick(), Adam::new(1e-2).unwrap(), common::rng(7))
            .with_checkpoints(Checkpointing::new(path));
        vae().fit_resumable(&x, None, &mut run, &mut ()).unwrap();
    });
    let pretraining = checkpoint_of(dir, "pretraining.safetensors", |path| {
        LayerwisePretrainer::new()
            .with_layer(LayerSpec::new(4).with_training(quick()))
            .with_layer(LayerSpec::new(3).with_training(quick()))
            .pretrain_resumable(
                &x,
                common::rng(8),
                Some(&Checkpointing::new(path)),
                None,
                &mut |_: usize, _: &autoencoders::EpochReport| std::ops::ControlFlow::Continue(()),
            )
            .unwrap();
    });
    let pretrained = LayerwisePretrainer::new()
        .with_layer(LayerSpec::new(4).with_training(quick()))
        .with_layer(LayerSpec::new(3).with_training(quick()))
        .pretrain(&x, &mut common::rng(9))
        .unwrap();
    vec![
        ("model", common::models::one_layer_file()),
        ("model64", model64_file()),
        ("deep", common::models::deep().to_safetensors().unwrap()),
        ("pretrained", pretrained.to_safetensors().unwrap()),
        ("stack", stack().to_safetensors().unwrap()),
        ("classifier", classifier().to_safetensors().unwrap()),
        ("checkpoint", checkpoint),
        ("classifier-checkpoint", classifier_checkpoint),
        ("vae-checkpoint", vae_checkpoint),
        ("pretraining", pretraining),
        ("vae", vae().parameters_to_safetensors().unwrap()),
    ]
}

/// A valid IDX file of unsigned bytes: `dims`, then the values `0, 1, 2, …`.
fn idx_bytes(dims: &[u32]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    let count: u32 = dims.iter().product();
    bytes.extend((0..count).map(|v| v as u8));
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A gzip stream of `prefix` followed by `zeros` zero bytes, compressed at the fastest level.
fn gzip_flood(prefix: &[u8], filler: u8, bytes: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(prefix).unwrap();
    let block = vec![filler; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len());
        encoder.write_all(&block[..n]).unwrap();
        left -= n;
    }
    encoder.finish().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The corpus.

fn file_case(
    class: &'static str,
    what: String,
    kind: &'static str,
    bytes: Vec<u8>,
    expect: Expect,
) -> Case {
    let gzip = bytes.starts_with(&[0x1f, 0x8b]);
    Case {
        class,
        what,
        kind,
        input_len: bytes.len() as u64,
        input: Input::Bytes(bytes),
        gzip,
        expect,
    }
}

/// Replaces the header of a safetensors file with `header`, the length field recomputed.
fn with_header(header: &[u8], data: &[u8]) -> Vec<u8> {
    frame(header, data)
}

fn header_text(file: &ModelFile) -> String {
    serde_json::to_string(&file.header).unwrap()
}

/// Every scalar leaf of a JSON value, by its path of keys and indices.
fn leaves(value: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                path.push(json!(k));
                leaves(v, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(json!(i));
                leaves(v, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

fn leaf_mut<'a>(value: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(value, |v, key| match key {
        Value::String(k) => &mut v[k.as_str()],
        Value::Number(i) => &mut v[i.as_u64().unwrap() as usize],
        _ => unreachable!(),
    })
}

fn safetensors_cases(kind: &'static str, bytes: &[u8], rng: &mut impl Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    let file = ModelFile::parse(bytes);
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let case = |class, what: String, bytes, expect| file_case(class, what, kind, bytes, expect);

    cases.push(case(
        "control",
        "the valid file".into(),
        bytes.to_vec(),
        Expect::Accepted,
    ));
    cases.push(case(
        "control",
        "the file reassembled".into(),
        file.to_bytes(),
        Expect::Accepted,
    ));

    // Truncations: inside the length field, the header, the data.
    let mut cuts: Vec<usize> = (0..=8).collect();
    cuts.extend([
        header_len / 2,
        header_len + 7,
        header_len + 8,
        header_len + 9,
    ]);
    cuts.extend((1..12).map(|i| 8 + header_len + (bytes.len() - 8 - header_len) * i / 12));
    cuts.push(bytes.len() - 1);
    for cut in cuts {
        cases.push(case(
            "truncated",
            format!("cut at {cut}"),
            bytes[..cut].to_vec(),
            Expect::Refused,
        ));
    }
    cases.push(case(
        "empty",
        "no bytes".into(),
        Vec::new(),
        Expect::Refused,
    ));
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(&[0; 16]);
    cases.push(case(
        "trailing",
        "16 bytes after the data".into(),
        longer,
        Expect::Refused,
    ));

    // Seeded single-bit flips anywhere: the whole-file checksum covers every byte.
    for _ in 0..30 {
        let at = rng.random_range(0..bytes.len());
        let bit = rng.random_range(0..8);
        let mut flipped = bytes.to_vec();
        flipped[at] ^= 1 << bit;
        cases.push(case(
            "bit flip",
            format!("byte {at} bit {bit}"),
            flipped,
            Expect::Refused,
        ));
    }

    // The header length field.
    for length in [
        0,
        1,
        2,
        header_len as u64 - 1,
        header_len as u64 + 1,
        bytes.len() as u64,
        1 << 32,
        1 << 62,
        u64::MAX,
    ] {
        let mut edited = bytes.to_vec();
        edited[..8].copy_from_slice(&length.to_le_bytes());
        cases.push(case(
            "header length",
            format!("{length}"),
            edited,
            Expect::Refused,
        ));
    }

    // Header JSON that is not a safetensors header.
    let garbage: Vec<(&str, Vec<u8>)> = vec![
        ("open brace", b"{".to_vec()),
        ("array", b"[]".to_vec()),
        ("null", b"null".to_vec()),
        ("string", b"\"x\"".to_vec()),
        ("empty object", b"{}".to_vec()),
        ("deep nesting", [vec![b'['; 100_000], vec![b']'; 100_000]].concat()),
        ("deep objects", "{\"a\":".repeat(50_000).into_bytes()),
        ("not utf-8", vec![b'{', 0xff, 0xfe, b'}']),
        ("nul bytes", vec![0; 64]),
        ("a megabyte of spaces", [vec![b' '; 1 << 20], b"{}".to_vec()].concat()),
        ("a long key", format!("{{\"{}\":1}}", "k".repeat(1 << 20)).into_bytes()),
        ("many keys", format!("{{{}}}", (0..100_000).map(|i| format!("\"t{i}\":{{}}")).collect::<Vec<_>>().join(",")).into_bytes()),
        ("huge number", b"{\"__metadata__\":{},\"w\":{\"dtype\":\"F32\",\"shape\":[1e400],\"data_offsets\":[0,4]}}".to_vec()),
    ];
    for (what, header) in garbage {
        cases.push(case(
            "header json",
            what.into(),
            with_header(&header, &file.data),
            Expect::Refused,
        ));
    }

    // Duplicate keys, written into the JSON text (a map cannot hold them).
    let text = header_text(&file);
    let names = file.tensor_names();
    let first = &names[0];
    let entry = serde_json::to_string(&file.header[first.as_str()]).unwrap();
    let duplicated_tensor = text.replacen('{', &format!("{{\"{first}\":{entry},"), 1);
    cases.push(case(
        "duplicate key",
        format!("tensor {first} twice"),
        with_header(duplicated_tensor.as_bytes(), &file.data),
        Expect::Refused,
    ));
    let metadata = serde_json::to_string(&file.header["__metadata__"]).unwrap();
    let duplicated_metadata = text.replacen('{', &format!("{{\"__metadata__\":{metadata},"), 1);
    cases.push(case(
        "duplicate key",
        "__metadata__ twice".into(),
        with_header(duplicated_metadata.as_bytes(), &file.data),
        Expect::Refused,
    ));
    if let Some(map) = file.header["__metadata__"].as_object() {
        for (key, value) in map {
            let pair = format!(
                "{}:{}",
                serde_json::to_string(key).unwrap(),
                serde_json::to_string(value).unwrap()
            );
            let inside = text.replacen(
                "\"__metadata__\":{",
                &format!("\"__metadata__\":{{{pair},"),
                1,
            );
            cases.push(case(
                "duplicate key",
                format!("metadata {key} twice"),
                with_header(inside.as_bytes(), &file.data),
                Expect::Refused,
            ));
        }
    }

    // Dtypes, shapes and offsets of each tensor, every checksum recomputed: the schema must refuse.
    for name in &names {
        for dtype in [
            "F64", "F16", "BF16", "I32", "U8", "BOOL", "F8_E4M3", "X", "",
        ] {
            let mut edited = file.clone();
            if edited.header[name.as_str()]["dtype"] == json!(dtype) {
                continue;
            }
            edited.header[name.as_str()]["dtype"] = json!(dtype);
            cases.push(case(
                "dtype",
                format!("{name} as {dtype:?}"),
                edited.to_bytes(),
                Expect::Refused,
            ));
        }
        let shapes = [
            json!([]),
            json!([0]),
            json!([1u64 << 32, 1u64 << 32]),
            json!([u64::MAX, 2]),
            json!([-1]),
            json!(["a"]),
            json!(vec![1; 1000]),
        ];
        for shape in shapes {
            let mut edited = file.clone();
            edited.header[name.as_str()]["shape"] = shape.clone();
            cases.push(case(
                "shape",
                format!("{name} shaped {shape}"),
                edited.to_bytes(),
                Expect::Refused,
            ));
        }
        let range = file.range(name);
        let offsets = [
            json!([range.start, range.end + 4]),
            json!([range.end, range.start]),
            json!([0, u64::MAX]),
            json!([u64::MAX - 1, u64::MAX]),
            json!([range.start]),
            json!([range.start, range.end, 0]),
        ];
        for offsets in offsets {
            let mut edited = file.clone();
            edited.header[name.as_str()]["data_offsets"] = offsets.clone();
            cases.push(case(
                "offsets",
                format!("{name} at {offsets}"),
                edited.to_bytes(),
                Expect::Refused,
            ));
        }
    }
    // Two tensors' offsets swapped: without the checksum recomputed the file is corrupt; with
    // it, a file of another model, which may load.
    if names.len() >= 2 {
        let (a, b) = (&names[0], &names[names.len() - 1]);
        let mut swapped = file.clone();
        let (ra, rb) = (
            swapped.header[a.as_str()]["data_offsets"].clone(),
            swapped.header[b.as_str()]["data_offsets"].clone(),
        );
        swapped.header[a.as_str()]["data_offsets"] = rb;
        swapped.header[b.as_str()]["data_offsets"] = ra;
        cases.push(case(
            "offsets",
            format!("{a} and {b} swapped, checksum stale"),
            swapped.to_bytes_as_is(),
            Expect::Refused,
        ));
        cases.push(case(
            "offsets",
            format!("{a} and {b} swapped, checksum recomputed"),
            swapped.to_bytes(),
            Expect::Either,
        ));
    }

    // Non-finite weights, checksums recomputed.
    for (what, value) in [("NaN", f32::NAN), ("infinity", f32::INFINITY)] {
        let name = &names[0];
        if file.header[name.as_str()]["dtype"] != json!("F32") {
            continue;
        }
        let mut edited = file.clone();
        let at = file.range(name).start;
        edited.data[at..at + 4].copy_from_slice(&value.to_le_bytes());
        cases.push(case(
            "non-finite",
            format!("{name}[0] = {what}"),
            edited.to_bytes(),
            Expect::Refused,
        ));
    }

    // Every scalar of the model record edited: with the checksums stale the file is corrupt;
    // with them recomputed it may describe another valid model, or be refused by the schema.
    if file.has_record() {
        let record = file.record();
        let mut paths = Vec::new();
        leaves(&record, &mut Vec::new(), &mut paths);
        for path in paths {
            let original = leaf_mut(&mut record.clone(), &path).clone();
            let replacements = match &original {
                Value::Number(n) => vec![
                    json!(n.as_f64().unwrap() * 2.0 + 1.0),
                    json!(-1),
                    json!(1e308),
                    json!(u64::MAX),
                    json!("x"),
                ],
                Value::String(_) => vec![json!("x"), json!(""), json!(7)],
                Value::Bool(b) => vec![json!(!b)],
                Value::Null => vec![json!(0)],
                _ => vec![],
            };
            for replacement in replacements {
                let label = format!(
                    "{} = {replacement}",
                    path.iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(".")
                );
                let mut stale = file.clone();
                stale.edit_record(|r| *leaf_mut(r, &path) = replacement.clone());
                cases.push(case(
                    "record edit",
                    format!("{label}, checksums stale"),
                    stale.to_bytes_as_is(),
                    Expect::Refused,
                ));
                let mut fixed = stale.clone();
                fixed.fix_checksum();
                cases.push(case(
                    "record edit",
                    format!("{label}, checksums recomputed"),
                    fixed.to_bytes(),
                    Expect::Either,
                ));
            }
        }
        // A record that lists its first entry a hundred thousand times.
        for list in ["parameters", "tensors", "state"] {
            if let Some(items) = record.get(list).and_then(Value::as_array)
                && let Some(first) = items.first()
            {
                let mut edited = file.clone();
                let first = first.clone();
                edited.edit_record(|r| {
                    let items = r[list].as_array_mut().unwrap();
                    items.extend(std::iter::repeat_n(first, 100_000));
                });
                edited.fix_checksum();
                cases.push(case(
                    "record edit",
                    format!("{list}[0] listed 100,000 more times"),
                    edited.to_bytes(),
                    Expect::Refused,
                ));
            }
        }
    }
    cases
}

fn idx_cases(rng: &mut impl Rng) -> Vec<Case> {
    let mut cases = Vec::new();
    let valid = idx_bytes(&[4, 3, 2]);
    for (packing, wrap) in [("plain", false), ("gzip", true)] {
        let pack = |bytes: Vec<u8>| if wrap { gzip(&bytes) } else { bytes };
        let case = |class, what: String, bytes, expect| {
            file_case(class, format!("{packing}: {what}"), "idx", bytes, expect)
        };
        cases.push(case(
            "control",
            "the valid file".into(),
            pack(valid.clone()),
            Expect::Accepted,
        ));
        for cut in 0..valid.len() {
            cases.push(case(
                "truncated",
                format!("cut at {cut}"),
                pack(valid[..cut].to_vec()),
                Expect::Refused,
            ));
        }
        cases.push(case(
            "trailing",
            "one byte more".into(),
            pack([valid.clone(), vec![0]].concat()),
            Expect::Refused,
        ));
        for (what, header) in [
            ("magic not zero", vec![1, 0, 8, 3]),
            ("type 0x00", vec![0, 0, 0, 3]),
            ("type 0xff", vec![0, 0, 0xff, 3]),
            ("no dimensions", vec![0, 0, 8, 0]),
            ("255 dimensions", vec![0, 0, 8, 255]),
        ] {
            let mut edited = valid.clone();
            edited[..4].copy_from_slice(&header);
            cases.push(case(
                "idx header",
                what.into(),
                pack(edited),
                Expect::Refused,
            ));
        }
        for dim in 0..3 {
            for size in [0u32, 5, 1 << 16, 1 << 31, u32::MAX] {
                let mut edited = valid.clone();
                edited[4 + 4 * dim..8 + 4 * dim].copy_from_slice(&size.to_be_bytes());
                cases.push(case(
                    "idx dims",
                    format!("dimension {dim} = {size}"),
                    pack(edited),
                    Expect::Refused,
                ));
            }
        }
        // The audit's 12-byte file: dims [0, 2^32 − 1, 2^24 − 1], no data. Zero samples.
        let twelve = [
            vec![0, 0, 8, 3],
            0u32.to_be_bytes().to_vec(),
            u32::MAX.to_be_bytes().to_vec(),
            ((1u32 << 24) - 1).to_be_bytes().to_vec(),
        ]
        .concat();
        cases.push(case(
            "idx dims",
            "[0, 2^32 - 1, 2^24 - 1] in 16 bytes".into(),
            pack(twelve),
            Expect::Either,
        ));
        for _ in 0..10 {
            let at = rng.random_range(0..valid.len());
            let mut flipped = valid.clone();
            flipped[at] ^= 1 << rng.random_range(0..8);
            // A flip in the pixels is another valid file.
            let expect = if at >= 16 {
                Expect::Accepted
            } else {
                Expect::Either
            };
            cases.push(case(
                "bit flip",
                format!("byte {at}"),
                pack(flipped),
                expect,
            ));
        }
    }
    // The gzip layer itself.
    let packed = gzip(&valid);
    let case =
        |class, what: &str, bytes, expect| file_case(class, what.into(), "idx", bytes, expect);
    for cut in [
        2,
        10,
        11,
        packed.len() / 2,
        packed.len() - 8,
        packed.len() - 4,
        packed.len() - 1,
    ] {
        cases.push(case(
            "gzip",
            "truncated stream",
            packed[..cut].to_vec(),
            Expect::Refused,
        ));
    }
    let mut bad_crc = packed.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 1;
    cases.push(case("gzip", "wrong CRC-32", bad_crc, Expect::Refused));
    let mut bad_size = packed.clone();
    bad_size[n - 4] ^= 1;
    cases.push(case("gzip", "wrong ISIZE", bad_size, Expect::Refused));
    cases.push(case(
        "gzip",
        "garbage after the stream",
        [packed.clone(), vec![1, 2, 3]].concat(),
        Expect::Refused,
    ));
    let mut reserved = packed.clone();
    reserved[3] |= 0xe0;
    cases.push(case(
        "gzip",
        "reserved flags set",
        reserved,
        Expect::Refused,
    ));
    let mut method = packed.clone();
    method[2] = 7;
    cases.push(case(
        "gzip",
        "compression method 7",
        method,
        Expect::Refused,
    ));
    // Bombs: 8 MB of gzip that inflate past the limit, behind a valid header.
    let header = [vec![0, 0, 8, 1], ((1u32 << 31) - 1).to_be_bytes().to_vec()].concat();
    cases.push(case(
        "bomb",
        "IDX inflating to 256 MiB (limit 64 MiB)",
        gzip_flood(&header, 0, 256 << 20),
        Expect::Refused,
    ));
    cases.push(case(
        "bomb",
        "IDX inflating to 2 GiB (limit 64 MiB)",
        gzip_flood(&header, 0, 2 << 30),
        Expect::Refused,
    ));
    cases
}

fn csv_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let case = |class, what: &str, kind, bytes: Vec<u8>, expect| {
        file_case(class, what.into(), kind, bytes, expect)
    };
    let valid = b"a,b,c\n0.1,0.2,0.3\n0.4,0.5,0.6\n".to_vec();
    cases.push(case(
        "control",
        "the valid file",
        "csv",
        valid.clone(),
        Expect::Accepted,
    ));
    cases.push(case(
        "control",
        "gzip",
        "csv",
        gzip(&valid),
        Expect::Accepted,
    ));
    cases.push(case(
        "control",
        "labelled",
        "csv-labelled",
        b"1,2,0\n3,4,1\n".to_vec(),
        Expect::Accepted,
    ));
    for (what, text) in [
        ("empty", ""),
        ("header only", "a,b,c\n"),
        ("ragged row", "1,2,3\n4,5\n"),
        ("NaN", "1,2\nnan,4\n"),
        ("infinity", "1,2\ninf,4\n"),
        ("overflow", "1,2\n1e999,4\n"),
        ("a quote", "1,\"2\n3,4\n"),
        ("nul byte", "1,2\n3,\u{0}\n"),
    ] {
        cases.push(case(
            "csv",
            what,
            "csv",
            text.as_bytes().to_vec(),
            Expect::Refused,
        ));
    }
    cases.push(case(
        "csv",
        "not utf-8",
        "csv",
        vec![b'1', b',', 0xff, b'\n'],
        Expect::Refused,
    ));
    // Read exactly from its digits, not rounded to 2^53 on the way (tests/data.rs checks the value).
    cases.push(case(
        "csv labels",
        "label 2^53 + 1",
        "csv-labelled",
        b"1,2,9007199254740993.0\n".to_vec(),
        Expect::Accepted,
    ));
    for (what, text) in [
        ("label -1", "1,2,-1\n"),
        ("label 0.5", "1,2,0.5\n"),
        ("label 1e300", "1,2,1e300\n"),
    ] {
        cases.push(case(
            "csv labels",
            what,
            "csv-labelled",
            text.as_bytes().to_vec(),
            Expect::Refused,
        ));
    }
    // Long lines and floods: memory bounded by the input's size, or the gzip limit.
    cases.push(case(
        "long line",
        "a 64 MB header of one-letter names",
        "csv",
        "a,".repeat(32 << 20).into_bytes(),
        Expect::Refused,
    ));
    cases.push(case(
        "long line",
        "a 64 MB row of one column of digits",
        "csv",
        [b"x\n".to_vec(), vec![b'7'; 64 << 20]].concat(),
        Expect::Refused,
    ));
    cases.push(case(
        "flood",
        "one row then 64 MB of blank lines",
        "csv",
        [b"1,2\n".to_vec(), vec![b'\n'; 64 << 20]].concat(),
        Expect::Either,
    ));
    cases.push(case(
        "bomb",
        "gzip: one row then 2 GiB of blank lines (limit 64 MiB)",
        "csv",
        gzip_flood(b"1,2\n", b'\n', 2 << 30),
        Expect::Refused,
    ));
    cases.push(case(
        "bomb",
        "gzip: a 2 GiB line (limit 64 MiB)",
        "csv",
        gzip_flood(b"", b'a', 2 << 30),
        Expect::Refused,
    ));
    cases
}

/// Files that are not regular files: every reader must refuse them up front, without blocking.
fn special_cases(dir: &Path) -> Vec<Case> {
    let fifo = dir.join("fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success());
    let mut paths = vec![
        ("folder", dir.to_path_buf()),
        ("/dev/zero", PathBuf::from("/dev/zero")),
        ("/dev/null", PathBuf::from("/dev/null")),
        ("missing", dir.join("does-not-exist")),
    ];
    if made {
        paths.push(("FIFO without a writer", fifo));
    }
    let mut cases = Vec::new();
    for kind in ["model", "checkpoint", "vae", "idx", "csv"] {
        for (what, path) in &paths {
            cases.push(Case {
                class: "special file",
                what: (*what).into(),
                kind,
                input: Input::Path(path.clone()),
                input_len: 0,
                gzip: false,
                expect: Expect::Refused,
            });
        }
    }
    cases
}

fn tool_cases(dir: &Path) -> Vec<Case> {
    let csv = dir.join("train.csv");
    std::fs::write(&csv, "a,b\n0.1,0.2\n0.3,0.4\n").unwrap();
    let csv = csv.display().to_string();
    let fifo = dir.join("fifo").display().to_string();
    let huge = u64::MAX.to_string();
    let args = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let mut cases = Vec::new();
    let mut push = |kind, what: String, list: Vec<String>, expect| {
        cases.push(Case {
            class: "flags",
            what,
            kind,
            input: Input::Args(list),
            input_len: 0,
            gzip: false,
            expect,
        });
    };
    let train_refused: Vec<Vec<String>> = vec![
        args(&["--hidden", &huge]),
        args(&["--hidden", "0"]),
        args(&["--hidden", "-1"]),
        args(&["--epochs", "-1"]),
        args(&["--batch-size", "0"]),
        args(&["--lr", "nan"]),
        args(&["--lr", "inf"]),
        args(&["--lr", "-1"]),
        args(&["--dtype", "f16"]),
        args(&["--label-column", "0"]),
        args(&["--masking", "1.5"]),
        args(&["--gaussian-noise", "nan"]),
        args(&["--salt-and-pepper", "-0.1"]),
        args(&["--contractive", "-1"]),
        args(&["--weight-decay", "inf"]),
        args(&["--sparsity-kl", "2"]),
        args(&["--momentum", "2"]),
        args(&["--limit", "0"]),
        args(&["--scale", "bogus"]),
        args(&["--no-such-flag"]),
        args(&["--train-images", &csv, "--save", &csv]),
    ];
    for list in train_refused {
        push("tool:train", list.join(" "), list, Expect::Refused);
    }
    // Not regular files: a failed run (exit code 1), refused before reading.
    for list in [
        args(&["--train-images", &fifo]),
        args(&["--init", &fifo]),
        args(&["--init", "/dev/zero"]),
        args(&["--train-images", "/dev/zero"]),
        args(&["--hidden", "30000000", "--epochs", "1"]),
        args(&["--hidden", "4294967296", "--epochs", "1"]),
        args(&["--hidden", "1000000000000", "--epochs", "1"]),
    ] {
        push("tool:train", list.join(" "), list, Expect::Fails);
    }
    let vae_refused: Vec<Vec<String>> = vec![
        args(&["--latent", "0"]),
        args(&["--hidden", "0"]),
        args(&["--hidden", "4,0"]),
        args(&["--k", "0"]),
        args(&["--batch-size", "0"]),
        args(&["--beta", "nan"]),
        args(&["--beta", "-1"]),
        args(&["--learning-rate", "inf"]),
        args(&["--ll-samples", "0"]),
        args(&["--dtype", "x"]),
        args(&["--activation", "softmax"]),
        args(&["--objective", "ml"]),
        args(&["--train-images", &csv, "--save", &csv]),
    ];
    for list in vae_refused {
        push("tool:vae", list.join(" "), list, Expect::Refused);
    }
    for list in [
        args(&["--init", &fifo]),
        args(&["--test-images", "/dev/zero"]),
        args(&["--latent", &huge, "--epochs", "1"]),
        args(&["--latent", "30000000", "--epochs", "1"]),
        args(&["--hidden", "30000000", "--epochs", "1"]),
        args(&["--k", &huge, "--objective", "iwae", "--epochs", "1"]),
        args(&["--k", "100000000", "--objective", "iwae", "--epochs", "1"]),
    ] {
        push("tool:vae", list.join(" "), list, Expect::Fails);
    }
    let images = common_data("train-images-idx3-ubyte.gz");
    let labels = common_data("train-labels-idx1-ubyte.gz");
    let base = [
        "--train-images",
        &images,
        "--limit",
        "100",
        "--epochs",
        "1",
        "--hidden",
        "4",
    ];
    let with = |extra: &[&str]| {
        let mut list = args(&base);
        list.extend(args(extra));
        list
    };
    for list in [
        with(&["--contamination", "nan"]),
        with(&["--contamination", "2"]),
        with(&["--contamination", "-1"]),
        with(&["--normal-class", "3"]),
        with(&["--normal-class", &huge, "--train-labels", &labels]),
        with(&["--scores", &fifo]),
        with(&["--scores", "/dev/zero"]),
        with(&["--scores", &images]),
        with(&["--test-labels", &labels]),
    ] {
        push("tool:anomalies", list.join(" "), list, Expect::Refused);
    }
    for list in [
        with(&["--train-labels", &fifo]),
        with(&["--test-images", "/dev/zero"]),
        with(&["--hidden", "30000000"]),
    ] {
        push("tool:anomalies", list.join(" "), list, Expect::Fails);
    }
    cases
}

/// A file of the bundled digits.
fn common_data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data/mnist")
        .join(name)
        .display()
        .to_string()
}

// ---------------------------------------------------------------------------------------------

/// What is wrong with `outcome` for `case`, if anything.
fn verdict(case: &Case, outcome: &Outcome) -> Option<String> {
    if outcome.timed_out {
        return Some("timed out (a hang)".into());
    }
    let Some(code) = outcome.code else {
        return Some("killed by a signal (an abort?)".into());
    };
    if code == 101 {
        return Some("panicked".into());
    }
    let tool = case.kind.starts_with("tool:");
    let ok = match (case.expect, tool) {
        (Expect::Accepted, _) => code == 0,
        (Expect::Refused, false) => code == 3,
        (Expect::Refused, true) => code == 2,
        (Expect::Fails, _) => code == 1 || code == 2,
        (Expect::Either, false) => code == 0 || code == 3,
        (Expect::Either, true) => (0..=2).contains(&code),
    };
    if !ok {
        return Some(format!("exit code {code}, expected {:?}", case.expect));
    }
    let bound = memory_bound(case);
    if outcome.peak > bound {
        return Some(format!(
            "peak memory {} MiB over the bound {} MiB",
            outcome.peak >> 20,
            bound >> 20
        ));
    }
    None
}

#[test]
fn every_hostile_input_is_refused_in_bounded_memory_and_time() {
    let dir = scratch();
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(2026);
    let mut cases = Vec::new();
    for (kind, bytes) in safetensors_files(&dir) {
        // The valid files are the seeds of the fuzz target `records` (fuzz/seeds/records/).
        if let Some(seeds) = std::env::var_os("AUTOENCODERS_WRITE_FUZZ_SEEDS") {
            std::fs::create_dir_all(&seeds).unwrap();
            std::fs::write(
                Path::new(&seeds).join(format!("{kind}.safetensors")),
                &bytes,
            )
            .unwrap();
        }
        cases.extend(safetensors_cases(kind, &bytes, &mut rng));
    }
    cases.extend(idx_cases(&mut rng));
    cases.extend(csv_cases());
    // Every data file again, streamed (`data::Stream`, an epoch in file order and a shuffled
    // one): within the memory cap and the time-out, whatever the file holds; the valid ones
    // accepted.
    let streamed: Vec<Case> = cases
        .iter()
        .filter_map(|c| {
            let kind = match c.kind {
                "idx" => "stream-idx",
                "csv" => "stream-csv",
                "csv-labelled" => "stream-csv-labelled",
                _ => return None,
            };
            let Input::Bytes(bytes) = &c.input else {
                return None;
            };
            Some(Case {
                class: "streamed data files",
                what: format!("{} (streamed)", c.what),
                kind,
                input: Input::Bytes(bytes.clone()),
                input_len: c.input_len,
                gzip: c.gzip,
                expect: if c.expect == Expect::Accepted {
                    Expect::Accepted
                } else {
                    Expect::Either
                },
            })
        })
        .collect();
    cases.extend(streamed);
    cases.extend(special_cases(&dir));
    cases.extend(tool_cases(&dir));

    let probe = PathBuf::from(env!("CARGO_BIN_EXE_hostile-probe"));
    let (train, vae, anomalies) = (
        common::example_binary("train"),
        common::example_binary("vae"),
        common::example_binary("anomalies"),
    );
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome)>> = Mutex::new(Vec::new());
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let outcome = match &case.input {
                        Input::Bytes(bytes) => {
                            let path = dir.join(format!("case-{i}"));
                            std::fs::write(&path, bytes).unwrap();
                            let outcome = run_capped(
                                &probe,
                                &[case.kind.into(), path.display().to_string()],
                                FILE_TIMEOUT,
                            );
                            std::fs::remove_file(&path).ok();
                            outcome
                        }
                        Input::Path(path) => run_capped(
                            &probe,
                            &[case.kind.into(), path.display().to_string()],
                            FILE_TIMEOUT,
                        ),
                        Input::Args(args) => {
                            let binary = match case.kind {
                                "tool:train" => &train,
                                "tool:vae" => &vae,
                                _ => &anomalies,
                            };
                            run_capped(binary, args, TOOL_TIMEOUT)
                        }
                    };
                    results.lock().unwrap().push((i, outcome));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);

    // The summary, by class: how many, how each ended, the largest peak against its bound.
    let mut classes: Vec<&str> = cases.iter().map(|c| c.class).collect();
    classes.sort();
    classes.dedup();
    println!("| class | inputs | refused | accepted | largest peak / bound |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for class in &classes {
        let of: Vec<_> = results
            .iter()
            .filter(|(i, _)| cases[*i].class == *class)
            .collect();
        let accepted = of.iter().filter(|(_, o)| o.code == Some(0)).count();
        let ratio = of
            .iter()
            .map(|(i, o)| o.peak as f64 / memory_bound(&cases[*i]) as f64)
            .fold(0.0, f64::max);
        println!(
            "| {class} | {} | {} | {accepted} | {ratio:.2} |",
            of.len(),
            of.len() - accepted
        );
    }
    let peak = results.iter().map(|(_, o)| o.peak).max().unwrap_or(0);
    println!("{} inputs, largest peak {} MiB", results.len(), peak >> 20);

    // Failing inputs are kept for a rerun by hand: `hostile-probe KIND PATH`.
    let kept = std::env::temp_dir().join("autoencoders-hostile-corpus-failures");
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(i, outcome)| {
            let case = &cases[*i];
            verdict(case, outcome).map(|problem| {
                let mut saved = String::new();
                if let Input::Bytes(bytes) = &case.input {
                    std::fs::create_dir_all(&kept).unwrap();
                    let path = kept.join(format!("case-{i}"));
                    std::fs::write(&path, bytes).unwrap();
                    saved = format!(" (kept as {})", path.display());
                }
                format!(
                    "{} / {} / {}{saved}: {problem}\n  stdout: {}\n  stderr: {}",
                    case.class,
                    case.kind,
                    case.what,
                    outcome.stdout.trim(),
                    outcome
                        .stderr
                        .lines()
                        .take(3)
                        .collect::<Vec<_>>()
                        .join(" | ")
                )
            })
        })
        .collect();
    std::fs::remove_dir_all(&dir).ok();
    assert!(
        failures.is_empty(),
        "{} of {} inputs failed:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}
