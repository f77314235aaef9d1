//! Random mutations of valid files — model files, IDX files and CSV text, plain and
//! gzip-compressed — fed to the readers. Whatever the bytes, a reader returns `Ok` or `Err`,
//! never panics, and allocates no more than a small multiple of the input's size; an `Ok` is
//! consistent with the bytes it was read from.
//!
//! The mutations are drawn from a seeded generator, so every run tries the same inputs. An
//! input that fails a check (a panic included) is saved under the cargo target folder, in
//! `tmp/mutations/`, and its path printed, for reproduction.

mod common;

use autoencoders::data::{
    CsvOptions, HeaderMode, IdxArray, IdxData, LabelColumn, Table, parse_csv, parse_idx, read_csv,
    read_idx,
};
use autoencoders::persistence::ModelFileProblem;
use autoencoders::{
    Activation, Contractive, DenseAutoencoder, DenseBuilder, DynamicAutoencoder, Error,
    GaussianNoise, KlSparsity, L1Sparsity, Masking, ReconstructionLoss, Scalar, WeightDecay,
};
use common::allocation::{Counting, peak_during};
use common::model_file::ModelFile;
use rand::rngs::ChaCha8Rng;
use rand::seq::IndexedRandom;
use rand::{Rng, RngExt};
use serde_json::{Value, json};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Mutated inputs tried per valid file.
const MUTATIONS_PER_FILE: usize = 3000;
/// Of which written to disk, gzip-compressed, and read through the file readers.
const GZIP_MUTATIONS_PER_FILE: usize = 200;

/// What a reader may allocate for an input of `len` bytes.
fn allocation_bound(len: usize) -> usize {
    4 * len + (256 << 10)
}

/// Where failing inputs are saved.
fn failures_folder() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mutations")
}

/// Runs `check` on one mutated input; a panic inside it (from the reader or from a failed
/// assertion) saves the input and fails the test with its path.
fn guarded<R>(name: &str, case: usize, input: &[u8], check: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(check)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            let folder = failures_folder();
            std::fs::create_dir_all(&folder).unwrap();
            let path = folder.join(format!("{name}-{case}.bin"));
            std::fs::write(&path, input).unwrap();
            panic!(
                "{name}, mutation {case}: {message}\ninput saved to {}",
                path.display()
            );
        }
    }
}

/// How an input was changed, as far as the checks need to know.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Change {
    /// Cut to this length.
    Truncated(usize),
    /// Bytes changed only within `start..end`, a burst of at most 32 bits.
    Burst { start: usize, end: usize },
    /// Values of the data rewritten, and the checksum recomputed to match.
    Values,
    /// Anything else.
    Other,
}

/// One random byte-level mutation of `bytes`.
fn mutate(bytes: &[u8], rng: &mut ChaCha8Rng) -> (Vec<u8>, Change) {
    let mut out = bytes.to_vec();
    let len = bytes.len();
    let change = match rng.random_range(0..8) {
        // One bit flipped.
        0 | 1 => {
            let at = rng.random_range(0..len);
            out[at] ^= 1 << rng.random_range(0..8);
            Change::Burst {
                start: at,
                end: at + 1,
            }
        }
        // Up to four adjacent bytes overwritten.
        2 => {
            let count = rng.random_range(1..=4.min(len));
            let at = rng.random_range(0..=len - count);
            rng.fill_bytes(&mut out[at..at + count]);
            Change::Burst {
                start: at,
                end: at + count,
            }
        }
        // A few bits flipped anywhere.
        3 => {
            for _ in 0..rng.random_range(2..=8) {
                let at = rng.random_range(0..len);
                out[at] ^= 1 << rng.random_range(0..8);
            }
            Change::Other
        }
        // Truncated.
        4 => {
            let cut = rng.random_range(0..len);
            out.truncate(cut);
            Change::Truncated(cut)
        }
        // Random bytes inserted or appended.
        5 => {
            let at = if rng.random_bool(0.5) {
                len
            } else {
                rng.random_range(0..=len)
            };
            let mut extra = vec![0u8; rng.random_range(1..=16)];
            rng.fill_bytes(&mut extra);
            out.splice(at..at, extra);
            Change::Other
        }
        // A range deleted.
        6 => {
            let start = rng.random_range(0..len);
            let end = rng.random_range(start + 1..=len.min(start + 16));
            out.drain(start..end);
            Change::Other
        }
        // A range duplicated elsewhere.
        _ => {
            let start = rng.random_range(0..len);
            let end = rng.random_range(start + 1..=len.min(start + 32));
            let at = rng.random_range(0..=len);
            let chunk = bytes[start..end].to_vec();
            out.splice(at..at, chunk);
            Change::Other
        }
    };
    (out, change)
}

/// Values that tend to break parsers of sizes and offsets.
fn interesting_number(rng: &mut ChaCha8Rng) -> Value {
    let choices = [
        json!(0),
        json!(1),
        json!(2),
        json!(3),
        json!(6),
        json!(-1),
        json!(0.5),
        json!(1e308),
        json!(1u64 << 31),
        json!(1u64 << 32),
        json!(1u64 << 53),
        json!(1u64 << 61),
        json!(1u64 << 63),
        json!(u64::MAX),
    ];
    choices.choose(rng).unwrap().clone()
}

fn interesting_value(rng: &mut ChaCha8Rng) -> Value {
    match rng.random_range(0..4) {
        0 | 1 => interesting_number(rng),
        2 => {
            let n = rng.random_range(0..4);
            Value::Array((0..n).map(|_| interesting_number(rng)).collect())
        }
        _ => {
            let choices = [
                json!(""),
                json!("F32"),
                json!("F64"),
                json!("I32"),
                json!("U8"),
                json!("F4"),
                json!("f64"),
                json!("tanh"),
                json!(null),
                json!(true),
                json!({}),
            ];
            choices.choose(rng).unwrap().clone()
        }
    }
}

/// One random edit of a model file's header, record or values, keeping the file well framed;
/// the checksum is recomputed half of the time (always after a change of values), so that the
/// schema checks behind it are reached.
fn mutate_model_structure(file: &ModelFile, rng: &mut ChaCha8Rng) -> (Vec<u8>, Change) {
    let mut file = file.clone();
    let names = file.tensor_names();
    // Edits 4 and 5 change the record, which a plain state dict does not have.
    let edit = if file.has_record() {
        rng.random_range(0..7)
    } else {
        *[0, 1, 2, 3, 6].choose(rng).unwrap()
    };
    match edit {
        // One value rewritten: random bits, or a value at the edge of the type.
        6 => {
            let name = names.choose(rng).unwrap().clone();
            let range = file.range(&name);
            let width = if file.header[&name]["dtype"] == "F64" {
                8
            } else {
                4
            };
            let at = range.start + width * rng.random_range(0..range.len() / width);
            let value: f64 = *[f64::NAN, f64::INFINITY, -0.0, 1e-310, 1e30, f64::MAX]
                .choose(rng)
                .unwrap();
            let bytes = &mut file.data[at..at + width];
            match (width, rng.random_bool(0.5)) {
                (_, true) => rng.fill_bytes(bytes),
                (8, false) => bytes.copy_from_slice(&value.to_le_bytes()),
                _ => bytes.copy_from_slice(&(value as f32).to_le_bytes()),
            }
            if file.has_record() {
                file.fix_checksum();
            }
            return (file.to_bytes(), Change::Values);
        }
        // A tensor's dtype, shape or offsets.
        0..=2 => {
            let name = names.choose(rng).unwrap().clone();
            let entry = file.header[&name].as_object_mut().unwrap();
            let key = *["dtype", "shape", "data_offsets"].choose(rng).unwrap();
            if rng.random_bool(0.1) {
                entry.remove(key);
            } else if key != "dtype" && rng.random_bool(0.6) {
                let list = entry[key].as_array_mut().unwrap();
                if !list.is_empty() {
                    let i = rng.random_range(0..list.len());
                    list[i] = interesting_number(rng);
                }
            } else {
                entry.insert(key.to_owned(), interesting_value(rng));
            }
        }
        // A tensor renamed, removed or duplicated.
        3 => {
            let name = names.choose(rng).unwrap().clone();
            let entry = file.header.remove(&name).unwrap();
            match rng.random_range(0..3) {
                0 => {}
                1 => {
                    file.header.insert(format!("{name}x"), entry);
                }
                _ => {
                    file.header.insert(name, entry.clone());
                    file.header.insert("extra".into(), entry);
                }
            }
        }
        // A field of the record.
        _ => {
            let mut record = file.record();
            let fields: Vec<String> = record.as_object().unwrap().keys().cloned().collect();
            let field = fields.choose(rng).unwrap().clone();
            if rng.random_bool(0.1) {
                record.as_object_mut().unwrap().remove(&field);
            } else {
                record[&field] = interesting_value(rng);
            }
            file.set_record(&record);
        }
    }
    if file.has_record() && rng.random_bool(0.5) {
        file.fix_checksum();
    }
    (file.to_bytes(), Change::Other)
}

fn bits<T: Scalar>(parameters: Vec<&[T]>) -> Vec<Vec<u64>> {
    parameters
        .iter()
        .map(|p| p.iter().map(|v| v.as_f64().to_bits()).collect())
        .collect()
}

/// The checks on one mutated model file; whether it loaded.
fn check_model_file<T: Scalar>(original: &[u8], mutated: &[u8], change: Change) -> bool {
    let (result, peak) =
        peak_during(|| DynamicAutoencoder::<T>::from_safetensors(mutated, "mutant"));
    assert!(
        peak <= allocation_bound(mutated.len()),
        "loading {} bytes allocated {peak} bytes",
        mutated.len()
    );
    let header_end = 8 + u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let problem = match &result {
        Err(Error::ModelFile { problem, .. }) => Some(problem.clone()),
        Err(other) => panic!("a model file error must be Error::ModelFile, got {other:?}"),
        Ok(_) => None,
    };
    match change {
        Change::Truncated(cut) => {
            let expected = if cut < 8 {
                ModelFileProblem::HeaderTooSmall
            } else if cut < header_end {
                ModelFileProblem::HeaderPastEnd
            } else {
                ModelFileProblem::DataLengthMismatch
            };
            assert_eq!(problem, Some(expected), "cut at {cut}");
        }
        // CRC-32 detects every error burst of up to 32 bits in the data it covers.
        Change::Burst { start, end } if start >= header_end && mutated != original => {
            assert!(
                matches!(problem, Some(ModelFileProblem::ChecksumMismatch { .. })),
                "bytes {start}..{end} of the data changed, got {result:?}"
            );
        }
        _ => {}
    }
    if let Ok(model) = result {
        // The model holds exactly the values it was read from: saved again, its data section
        // is the input's, byte for byte.
        let data = |bytes: &[u8]| {
            let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
            bytes[8 + header_len..].to_vec()
        };
        let saved = model.to_safetensors().unwrap();
        assert_eq!(
            data(&saved),
            data(mutated),
            "the loaded values differ from the file's"
        );
        // Unless the values were rewritten (and the checksum with them), the checksum held, so
        // the data, and the parameters, are the original's.
        let reference = DynamicAutoencoder::<T>::from_safetensors(original, "original").unwrap();
        if change != Change::Values {
            assert_eq!(data(mutated), data(original), "loaded from other data");
            assert_eq!(bits(model.parameters()), bits(reference.parameters()));
        }
        assert_eq!(model.parameter_names(), reference.parameter_names());
        // What loads saves again, and the saved file loads to the same model.
        let reloaded = DynamicAutoencoder::<T>::from_safetensors(&saved, "saved").unwrap();
        assert_eq!(bits(reloaded.parameters()), bits(model.parameters()));
        assert_eq!(reloaded.to_safetensors().unwrap(), saved);
        return true;
    }
    false
}

fn model_file_mutations<T: Scalar>(name: &str, valid: &[u8], seed: u64) {
    let mut rng = common::rng(seed);
    let parts = ModelFile::parse(valid);
    let (mut errors, mut loaded) = (0, 0);
    for case in 0..MUTATIONS_PER_FILE {
        let (mutated, change) = if case % 3 == 2 {
            mutate_model_structure(&parts, &mut rng)
        } else {
            mutate(valid, &mut rng)
        };
        if guarded(name, case, &mutated, || {
            check_model_file::<T>(valid, &mutated, change)
        }) {
            loaded += 1;
        } else {
            errors += 1;
        }
    }
    // Most mutations must be caught; a few (hyper-parameters, JSON spacing) load.
    assert!(
        errors > MUTATIONS_PER_FILE * 9 / 10,
        "{errors} errors, {loaded} loaded"
    );
}

#[test]
fn mutated_model_files_never_panic_and_load_only_what_the_checksum_vouches_for() {
    let untied = DenseBuilder::new(6, 3)
        .build::<f32, _>(&mut common::rng(1))
        .unwrap()
        .with_regularizer((
            Contractive::new(0.25).unwrap(),
            KlSparsity::new(0.05, 3.0).unwrap(),
            L1Sparsity::new(1e-3).unwrap(),
        ))
        .with_corruption(Masking::new(0.3).unwrap())
        .with_loss(ReconstructionLoss::CrossEntropy)
        .to_safetensors()
        .unwrap();
    model_file_mutations::<f32>("model-f32", &untied, 10);
    let tied = DenseBuilder::new(5, 2)
        .with_tied(true)
        .with_encoder_activation(Activation::Tanh)
        .with_decoder_activation(Activation::Linear)
        .build::<f64, _>(&mut common::rng(2))
        .unwrap()
        .with_regularizer(WeightDecay::new(1e-4).unwrap())
        .with_corruption(GaussianNoise::new(0.1).unwrap())
        .to_safetensors()
        .unwrap();
    model_file_mutations::<f64>("model-f64", &tied, 11);
}

#[test]
fn mutated_state_dicts_never_panic_and_load_only_finite_weights_of_the_right_shapes() {
    // Without our metadata there is no checksum: `load_weights` and `load_parameters` take
    // whatever values fit the architecture, and must refuse everything else.
    let builder = DenseBuilder::new(6, 3);
    let mut file = ModelFile::parse(
        &builder
            .build::<f32, _>(&mut common::rng(3))
            .unwrap()
            .to_safetensors()
            .unwrap(),
    );
    file.header.remove("__metadata__");
    let valid = file.to_bytes();
    let dir = scratch("state-dict");
    let path = dir.join("mutant.safetensors");
    let mut rng = common::rng(12);
    let mut target = builder.build::<f32, _>(&mut common::rng(4)).unwrap();
    for case in 0..GZIP_MUTATIONS_PER_FILE * 5 {
        let (mutated, _) = if case % 3 == 2 {
            mutate_model_structure(&file, &mut rng)
        } else {
            mutate(&valid, &mut rng)
        };
        guarded("state-dict", case, &mutated, || {
            std::fs::write(&path, &mutated).unwrap();
            let before = bits(target.parameters());
            match DenseAutoencoder::<f32>::load_weights(&path, &builder) {
                Ok(model) => {
                    assert_eq!(model.architecture(), target.architecture());
                    assert!(
                        model
                            .parameters()
                            .iter()
                            .flat_map(|p| p.iter())
                            .all(|v| v.is_finite())
                    );
                }
                Err(Error::ModelFile { .. }) => {}
                Err(other) => panic!("load_weights failed with {other:?}"),
            }
            match target.load_parameters(&path) {
                Ok(()) => {}
                Err(Error::ModelFile { .. }) => assert_eq!(bits(target.parameters()), before),
                Err(other) => panic!("load_parameters failed with {other:?}"),
            }
        });
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// An IDX file holding `array`, written the way the format says.
fn idx_bytes(array: &IdxArray) -> Vec<u8> {
    let (code, body): (u8, Vec<u8>) = match &array.data {
        IdxData::U8(v) => (0x08, v.clone()),
        IdxData::I8(v) => (0x09, v.iter().flat_map(|x| x.to_be_bytes()).collect()),
        IdxData::I16(v) => (0x0B, v.iter().flat_map(|x| x.to_be_bytes()).collect()),
        IdxData::I32(v) => (0x0C, v.iter().flat_map(|x| x.to_be_bytes()).collect()),
        IdxData::F32(v) => (0x0D, v.iter().flat_map(|x| x.to_be_bytes()).collect()),
        IdxData::F64(v) => (0x0E, v.iter().flat_map(|x| x.to_be_bytes()).collect()),
        other => panic!("an element type this test does not know: {other:?}"),
    };
    let mut bytes = vec![0, 0, code, array.dims.len() as u8];
    for &d in &array.dims {
        bytes.extend_from_slice(&u32::try_from(d).unwrap().to_be_bytes());
    }
    bytes.extend_from_slice(&body);
    bytes
}

fn element_count(data: &IdxData) -> usize {
    match data {
        IdxData::U8(v) => v.len(),
        IdxData::I8(v) => v.len(),
        IdxData::I16(v) => v.len(),
        IdxData::I32(v) => v.len(),
        IdxData::F32(v) => v.len(),
        IdxData::F64(v) => v.len(),
        other => panic!("an element type this test does not know: {other:?}"),
    }
}

/// The checks on an IDX array read from `bytes` (uncompressed).
fn check_idx_array(array: &IdxArray, bytes: &[u8]) {
    // Exactly the bytes it came from: nothing skipped, nothing invented.
    assert_eq!(
        idx_bytes(array),
        bytes,
        "the array does not write back to its file"
    );
    let count = array
        .dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .expect("parse_idx refuses element counts that overflow");
    assert_eq!(count, element_count(&array.data));
    let matrix = array.to_matrix::<f64>();
    let rest = array.dims[1..]
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .expect("parse_idx refuses sample sizes that overflow");
    assert_eq!(matrix.shape(), (array.dims[0], rest));
    // Labels: every element a non-negative integer, or an error naming an offset in the file.
    match array.to_labels("mutant") {
        Ok(labels) => assert_eq!(labels.len(), count),
        Err(Error::MalformedFile { offset, .. }) => assert!((offset as usize) < bytes.len()),
        Err(other) => panic!("{other:?}"),
    }
}

fn check_idx(bytes: &[u8]) {
    let (result, peak) = peak_during(|| parse_idx(bytes, "mutant"));
    assert!(
        peak <= allocation_bound(bytes.len()),
        "allocated {peak} bytes"
    );
    match result {
        Ok(array) => check_idx_array(&array, bytes),
        Err(Error::MalformedFile { offset, .. }) => assert!(offset as usize <= bytes.len()),
        Err(other) => panic!("parse_idx must fail with MalformedFile, got {other:?}"),
    }
}

/// One random edit of an IDX header: the type code, the number of dimensions or a size.
fn mutate_idx_structure(bytes: &[u8], rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut out = bytes.to_vec();
    match rng.random_range(0..3) {
        0 => {
            out[2] = *[0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x0A, 0xFF]
                .choose(rng)
                .unwrap()
        }
        1 => out[3] = *[0, 1, 2, 3, 4, 200, 255].choose(rng).unwrap(),
        _ => {
            let dims = usize::from(bytes[3]);
            let at = 4 + 4 * rng.random_range(0..dims);
            let size: u32 = *[0, 1, 2, 3, 7, 1 << 16, 1 << 31, u32::MAX]
                .choose(rng)
                .unwrap();
            out[at..at + 4].copy_from_slice(&size.to_be_bytes());
        }
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A scratch folder for the gzip-compressed mutants, which the readers take by path.
fn scratch(name: &str) -> PathBuf {
    let dir = failures_folder().join(format!("scratch-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn mutated_idx_files_never_panic_and_read_back_exactly() {
    let valid = [
        IdxArray {
            dims: vec![4, 3, 2],
            data: IdxData::U8((0..24).collect()),
        },
        IdxArray {
            dims: vec![2, 3],
            data: IdxData::I8(vec![-128, -1, 0, 1, 2, 127]),
        },
        IdxArray {
            dims: vec![3, 2],
            data: IdxData::I16(vec![-300, 0, 1, 2, 3, i16::MAX]),
        },
        IdxArray {
            dims: vec![5],
            data: IdxData::I32(vec![0, 1, 9, -1, i32::MAX]),
        },
        IdxArray {
            dims: vec![2, 1, 2],
            data: IdxData::F32(vec![0.5, -1.0, f32::MAX, 1e-30]),
        },
        IdxArray {
            dims: vec![3, 1],
            data: IdxData::F64(vec![0.25, -2.0, 1e300]),
        },
    ];
    let dir = scratch("idx");
    let path = dir.join("mutant.idx.gz");
    for (index, array) in valid.iter().enumerate() {
        let bytes = idx_bytes(array);
        assert_eq!(&parse_idx(&bytes, "valid").unwrap(), array);
        let mut rng = common::rng(100 + index as u64);
        let name = format!("idx-{index}");
        for case in 0..MUTATIONS_PER_FILE {
            let mutated = if case % 3 == 2 {
                mutate_idx_structure(&bytes, &mut rng)
            } else {
                mutate(&bytes, &mut rng).0
            };
            guarded(&name, case, &mutated, || check_idx(&mutated));
        }
        // Compressed: mutate the gzip stream, or compress a mutated file.
        let packed = gzip(&bytes);
        for case in 0..GZIP_MUTATIONS_PER_FILE {
            let mutated = if case % 2 == 0 {
                mutate(&packed, &mut rng).0
            } else {
                gzip(&mutate(&bytes, &mut rng).0)
            };
            guarded(&format!("{name}-gz"), case, &mutated, || {
                std::fs::write(&path, &mutated).unwrap();
                match read_idx(&path) {
                    Ok(array) => check_idx_array(&array, &idx_bytes(&array)),
                    Err(Error::MalformedFile { .. }) => {}
                    Err(other) => panic!("read_idx must fail with MalformedFile, got {other:?}"),
                }
            });
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes a table back as CSV: no header, labels in column `label` (if any).
fn csv_text<T: Scalar>(table: &Table<T>, label: Option<usize>, delimiter: u8) -> String {
    let delimiter = char::from(delimiter).to_string();
    let mut text = String::new();
    for r in 0..table.features.nrows() {
        let mut fields: Vec<String> = table
            .features
            .row(r)
            .iter()
            .map(|v| format!("{v:?}"))
            .collect();
        if let (Some(at), Some(labels)) = (label, &table.labels) {
            fields.insert(at, labels[r].to_string());
        }
        text.push_str(&fields.join(&delimiter));
        text.push('\n');
    }
    text
}

/// The checks on a CSV table parsed from `text`.
fn check_csv<T: Scalar>(text: &str, options: &CsvOptions) {
    let (result, peak) = peak_during(|| parse_csv::<T>(text, "mutant", options));
    assert!(
        peak <= allocation_bound(text.len()),
        "allocated {peak} bytes"
    );
    let table = match result {
        Ok(table) => table,
        Err(
            Error::InvalidField { .. }
            | Error::RaggedRow { .. }
            | Error::NoDataRows { .. }
            | Error::LabelColumnOutOfRange { .. },
        ) => return,
        Err(other) => panic!("parse_csv failed with an error it does not document: {other:?}"),
    };
    let (n, d) = table.features.shape();
    assert!(n >= 1 && d >= 1, "an empty table {n} × {d}");
    assert!(n <= text.lines().filter(|l| !l.trim().is_empty()).count());
    assert!(table.features.iter().all(|v| v.is_finite()));
    if let Some(names) = &table.feature_names {
        assert_eq!(names.len(), d);
    }
    let label = match options.label_column() {
        LabelColumn::None => None,
        LabelColumn::Index(i) => Some(i),
        _ => Some(d),
    };
    assert_eq!(table.labels.as_ref().map(Vec::len), label.map(|_| n));
    // What was read writes back and reads again to the same numbers.
    let again = parse_csv::<T>(
        &csv_text(&table, label, options.delimiter()),
        "again",
        &options.with_header(HeaderMode::Absent),
    )
    .unwrap();
    assert_eq!(again.features, table.features);
    assert_eq!(again.labels, table.labels);
}

/// Text that tends to break number and row parsing.
const CSV_TOKENS: [&str; 20] = [
    ",",
    ";",
    "\n",
    "\r\n",
    "\"",
    " ",
    "\t",
    "NaN",
    "inf",
    "-",
    ".",
    "e",
    "1e999",
    "1e-400",
    "\u{feff}",
    "é",
    "18446744073709551616",
    "9007199254740993",
    "3.4e39",
    "",
];

/// One random text-level edit: a token inserted or substituted, a line duplicated or dropped.
fn mutate_csv_text(text: &str, rng: &mut ChaCha8Rng) -> String {
    let boundaries: Vec<usize> = (0..=text.len())
        .filter(|&i| text.is_char_boundary(i))
        .collect();
    let token = *CSV_TOKENS.choose(rng).unwrap();
    match rng.random_range(0..3) {
        0 => {
            let at = *boundaries.choose(rng).unwrap();
            format!("{}{token}{}", &text[..at], &text[at..])
        }
        1 => {
            let a = *boundaries.choose(rng).unwrap();
            let b = *boundaries.choose(rng).unwrap();
            let (start, end) = (a.min(b), a.max(b).min(a.min(b) + 8));
            let end = *boundaries.iter().rfind(|&&i| i <= end).unwrap();
            format!("{}{token}{}", &text[..start], &text[end..])
        }
        _ => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let i = rng.random_range(0..lines.len());
            if rng.random_bool(0.5) {
                lines.insert(i, lines[i]);
            } else {
                lines.remove(i);
            }
            lines.join("\n")
        }
    }
}

#[test]
fn mutated_csv_text_never_panics_and_reads_back_exactly() {
    let comma = CsvOptions::default();
    let valid = [
        (
            "x,y,label\n0.5,1,3\n-2e-3,+7,0\n\n1.5,\"2\",1\r\n",
            comma.with_label_column(LabelColumn::Last),
        ),
        ("0.1,0.2,0.3\n4,5,6\n", comma),
        (
            "7;0.5;1\n2;1e-3;.25\n",
            comma
                .with_delimiter(b';')
                .with_label_column(LabelColumn::Index(0)),
        ),
        (
            "a\tb\n1\t2\n3\t4\n",
            comma.with_delimiter(b'\t').with_header(HeaderMode::Present),
        ),
        (
            "  1 2   3\n4 5 6\n",
            comma
                .with_delimiter(b' ')
                .with_label_column(LabelColumn::Index(1))
                .with_header(HeaderMode::Absent),
        ),
    ];
    let dir = scratch("csv");
    let path = dir.join("mutant.csv.gz");
    for (index, (text, options)) in valid.iter().enumerate() {
        assert!(parse_csv::<f64>(text, "valid", options).is_ok(), "{text:?}");
        let mut rng = common::rng(200 + index as u64);
        let name = format!("csv-{index}");
        for case in 0..MUTATIONS_PER_FILE {
            let mutated = if case % 2 == 0 {
                mutate_csv_text(text, &mut rng)
            } else {
                // Bytes, then back to text as a reader of files would refuse or take it.
                let bytes = mutate(text.as_bytes(), &mut rng).0;
                String::from_utf8_lossy(&bytes).into_owned()
            };
            guarded(&name, case, mutated.as_bytes(), || {
                check_csv::<f64>(&mutated, options);
                check_csv::<f32>(&mutated, options);
            });
        }
        let packed = gzip(text.as_bytes());
        for case in 0..GZIP_MUTATIONS_PER_FILE {
            let mutated = if case % 2 == 0 {
                mutate(&packed, &mut rng).0
            } else {
                gzip(&mutate(text.as_bytes(), &mut rng).0)
            };
            guarded(&format!("{name}-gz"), case, &mutated, || {
                std::fs::write(&path, &mutated).unwrap();
                match read_csv::<f64>(&path, options) {
                    Ok(table) => assert!(table.features.iter().all(|v| v.is_finite())),
                    Err(
                        Error::MalformedFile { .. }
                        | Error::InvalidField { .. }
                        | Error::RaggedRow { .. }
                        | Error::NoDataRows { .. }
                        | Error::LabelColumnOutOfRange { .. },
                    ) => {}
                    Err(other) => panic!("read_csv failed with {other:?}"),
                }
            });
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}
