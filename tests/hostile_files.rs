//! Hostile model files: a corpus of malformed safetensors files, each built from a valid one
//! with exactly one defect, each refused with its own `ModelFileProblem`, none panicking, none
//! allocating more than a small multiple of its own size.
//!
//! Where the point of a case is the schema rather than the checksum, the file's `crc32` is
//! recomputed after the edit, so that the check under test is the one reached.

mod common;

use autoencoders::persistence::ModelFileProblem;
use autoencoders::{DynamicAutoencoder, Error, Scalar};
use common::allocation::{Counting, peak_during};
use common::model_file::{ModelFile, frame};
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Loading may allocate the file's size a few times over (parsed tensors, matrices, the
/// model), plus a constant; never in proportion to a size the file merely declares.
fn allocation_bound(file_len: usize) -> usize {
    4 * file_len + (256 << 10)
}

/// A valid f32 file: 6 inputs, 3 codes, untied, every part of the record filled in.
fn valid_file() -> Vec<u8> {
    common::models::one_layer_file()
}

fn valid() -> ModelFile {
    ModelFile::parse(&valid_file())
}

/// Loads `bytes` as an f32 model, checking that loading stays within the allocation bound.
fn load_as<T: Scalar>(bytes: &[u8]) -> Result<DynamicAutoencoder<T>, Error> {
    let (result, peak) =
        peak_during(|| DynamicAutoencoder::<T>::from_safetensors(bytes, "hostile"));
    assert!(
        peak <= allocation_bound(bytes.len()),
        "loading {} bytes allocated {peak} bytes",
        bytes.len()
    );
    result
}

fn load(bytes: &[u8]) -> Result<DynamicAutoencoder<f32>, Error> {
    load_as::<f32>(bytes)
}

/// The problem a load reports; fails the test for anything else.
fn problem<T: Scalar>(result: Result<DynamicAutoencoder<T>, Error>) -> ModelFileProblem {
    match result {
        Err(Error::ModelFile { file, problem }) => {
            assert_eq!(file, "hostile");
            problem
        }
        Err(other) => panic!("expected Error::ModelFile, got {other:?}"),
        Ok(_) => panic!("expected Error::ModelFile, got a model"),
    }
}

/// Replaces the 8-byte header length of `bytes`.
fn with_header_length(bytes: &[u8], length: u64) -> Vec<u8> {
    let mut out = length.to_le_bytes().to_vec();
    out.extend_from_slice(&bytes[8..]);
    out
}

#[test]
fn the_unedited_reassembled_file_loads() {
    // The control: taking the file apart and putting it back together changes nothing that
    // matters, so each defect below is the only one in its file.
    let original = valid_file();
    let rebuilt = valid().to_bytes();
    let a = load(&original).unwrap();
    let b = load(&rebuilt).unwrap();
    assert_eq!(a.parameters(), b.parameters());
    assert_eq!(a.architecture(), b.architecture());
    let mut relaid = valid();
    let tensors = relaid.tensors();
    let borrowed: Vec<_> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), d.as_str(), s.clone(), b.clone()))
        .collect();
    relaid.set_tensors(&borrowed);
    assert_eq!(
        load(&relaid.to_bytes()).unwrap().parameters(),
        a.parameters()
    );
}

#[test]
fn a_truncated_file_is_refused_where_it_ends() {
    let bytes = valid_file();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for cut in [0, 1, 7] {
        assert_eq!(
            problem(load(&bytes[..cut])),
            ModelFileProblem::HeaderTooSmall,
            "cut at {cut}"
        );
    }
    for cut in [8, 9, header_end / 2, header_end - 1] {
        assert_eq!(
            problem(load(&bytes[..cut])),
            ModelFileProblem::HeaderPastEnd,
            "cut at {cut}"
        );
    }
    for cut in [header_end, header_end + 1, bytes.len() - 4, bytes.len() - 1] {
        assert_eq!(
            problem(load(&bytes[..cut])),
            ModelFileProblem::DataLengthMismatch,
            "cut at {cut}"
        );
    }
}

#[test]
fn a_header_length_past_the_end_of_the_file_is_refused() {
    let bytes = valid_file();
    for length in [bytes.len() as u64 - 7, bytes.len() as u64, 100_000_000] {
        assert_eq!(
            problem(load(&with_header_length(&bytes, length))),
            ModelFileProblem::HeaderPastEnd,
            "declared {length}"
        );
    }
}

#[test]
fn a_header_over_the_100_mb_cap_is_refused_without_allocating_it() {
    let bytes = valid_file();
    // Declared sizes only: the cap is checked before the header is looked at, so loading
    // allocates nothing near the declared size (the allocation bound in `load` checks this).
    for length in [100_000_001, 1 << 32, 1 << 63, u64::MAX] {
        assert_eq!(
            problem(load(&with_header_length(&bytes, length))),
            ModelFileProblem::HeaderTooLarge,
            "declared {length}"
        );
    }
    // A real header one byte over the cap: valid JSON padded with spaces.
    let file = valid();
    let mut header = serde_json::to_vec(&file.header).unwrap();
    header.resize(100_000_001, b' ');
    let huge = frame(&header, &file.data);
    let (result, peak) = peak_during(|| DynamicAutoencoder::<f32>::from_safetensors(&huge, "big"));
    assert!(matches!(
        result,
        Err(Error::ModelFile {
            problem: ModelFileProblem::HeaderTooLarge,
            ..
        })
    ));
    assert!(peak < 1 << 20, "refusing the header allocated {peak} bytes");
}

#[test]
fn a_header_that_is_not_utf8_is_refused() {
    let file = valid();
    let mut header = serde_json::to_vec(&file.header).unwrap();
    let at = header.windows(7).position(|w| w == b"encoder").unwrap();
    header[at] = 0xff;
    assert_eq!(
        problem(load(&frame(&header, &file.data))),
        ModelFileProblem::HeaderNotUtf8
    );
}

#[test]
fn a_header_that_is_not_the_expected_json_is_refused() {
    let file = valid();
    let text = serde_json::to_string(&file.header).unwrap();
    let broken = [
        text[..text.len() - 1].to_owned(),               // unbalanced
        text.replacen("\"dtype\"", "dtype", 1),          // not JSON
        "[]".to_owned(),                                 // JSON, not an object
        text.replacen("\"F32\"", "\"F33\"", 1),          // an unknown dtype
        text.replacen("\"shape\":[", "\"shape\":[-", 1), // a negative size
        "{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}".to_owned(), // no offsets
    ];
    for header in broken {
        assert!(
            matches!(
                problem(load(&frame(header.as_bytes(), &file.data))),
                ModelFileProblem::HeaderNotJson { .. }
            ),
            "{header}"
        );
    }
}

#[test]
fn overlapping_or_gapped_offsets_are_refused() {
    // In data order: decoder.bias [0, 24), decoder.weight [24, 96), encoder.bias [96, 108),
    // encoder.weight [108, 180).
    let mut overlapping = valid();
    overlapping.header["encoder.bias"]["data_offsets"] = json!([92, 104]);
    assert_eq!(
        problem(load(&overlapping.to_bytes())),
        ModelFileProblem::BadOffsets {
            tensor: "encoder.bias".into()
        }
    );
    let mut gapped = valid();
    gapped.header["encoder.bias"]["data_offsets"] = json!([100, 112]);
    gapped.header["encoder.weight"]["data_offsets"] = json!([112, 184]);
    gapped.data.extend_from_slice(&[0; 4]);
    gapped.fix_checksum();
    assert_eq!(
        problem(load(&gapped.to_bytes())),
        ModelFileProblem::BadOffsets {
            tensor: "encoder.bias".into()
        }
    );
    let mut reversed = valid();
    reversed.header["encoder.bias"]["data_offsets"] = json!([108, 96]);
    assert_eq!(
        problem(load(&reversed.to_bytes())),
        ModelFileProblem::BadOffsets {
            tensor: "encoder.bias".into()
        }
    );
}

#[test]
fn trailing_bytes_are_refused() {
    for extra in [1, 8, 4096] {
        let mut bytes = valid_file();
        bytes.extend(std::iter::repeat_n(0u8, extra));
        assert_eq!(
            problem(load(&bytes)),
            ModelFileProblem::DataLengthMismatch,
            "{extra} trailing bytes"
        );
    }
}

#[test]
fn shapes_whose_product_overflows_are_refused() {
    for shape in [
        json!([1u64 << 40, 1u64 << 40]),
        json!([u64::MAX, 2]),
        json!([3, u64::MAX / 2]),
        // Elements fit, bits (×32) do not.
        json!([1u64 << 60]),
    ] {
        let mut file = valid();
        file.header["encoder.bias"]["shape"] = shape.clone();
        assert_eq!(
            problem(load(&file.to_bytes())),
            ModelFileProblem::ShapeOverflow,
            "{shape}"
        );
    }
}

#[test]
fn offsets_summing_past_the_address_space_are_refused() {
    // Eight u8 tensors of 2^61 − 1 bytes each: each is valid on its own and they chain without
    // a gap, but the last ends at 2^64 − 8, so "end + 8 + header length" overflows. The
    // safetensors crate adds them unchecked (a panic in debug builds); the loader refuses such
    // offsets before handing the file to it.
    let mut file = valid();
    file.header.retain(|name, _| name == "__metadata__");
    let size = (1u64 << 61) - 1;
    for i in 0..8u64 {
        file.header.insert(
            format!("t{i}"),
            json!({"dtype": "U8", "shape": [size], "data_offsets": [i * size, (i + 1) * size]}),
        );
    }
    assert_eq!(
        problem(load(&file.to_bytes())),
        ModelFileProblem::DataLengthMismatch
    );
}

#[test]
fn a_byte_size_that_does_not_match_the_shape_is_refused() {
    let mut file = valid();
    file.header["encoder.bias"]["shape"] = json!([4]);
    assert_eq!(
        problem(load(&file.to_bytes())),
        ModelFileProblem::SizeMismatch
    );
}

#[test]
fn a_wrong_dtype_is_refused() {
    // A tensor of another dtype of the same width: the bytes fit, the type does not.
    let mut file = valid();
    file.header["encoder.weight"]["dtype"] = json!("I32");
    assert_eq!(
        problem(load(&file.to_bytes())),
        ModelFileProblem::WrongDtype {
            tensor: "encoder.weight".into(),
            expected: "F32",
            found: "I32".into()
        }
    );
    // An f32 model loaded as f64.
    assert_eq!(
        problem(load_as::<f64>(&valid_file())),
        ModelFileProblem::WrongDtype {
            tensor: "(model)".into(),
            expected: "f64",
            found: "f32".into()
        }
    );
    // A record that says f64 over f32 tensors: the first tensor read is refused.
    let mut file = valid();
    file.edit_record(|record| record["dtype"] = json!("f64"));
    assert_eq!(
        problem(load_as::<f64>(&file.to_bytes())),
        ModelFileProblem::WrongDtype {
            tensor: "encoder.weight".into(),
            expected: "F64",
            found: "F32".into()
        }
    );
    // A dtype this crate has never written.
    let mut file = valid();
    file.edit_record(|record| record["dtype"] = json!("f16"));
    assert!(matches!(
        problem(load(&file.to_bytes())),
        ModelFileProblem::InvalidMetadata { .. }
    ));
}

#[test]
fn a_missing_tensor_is_refused() {
    let mut file = valid();
    let kept: Vec<_> = file
        .tensors()
        .into_iter()
        .filter(|(name, ..)| name != "decoder.weight")
        .collect();
    let borrowed: Vec<_> = kept
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), d.as_str(), s.clone(), b.clone()))
        .collect();
    file.set_tensors(&borrowed);
    file.fix_checksum();
    assert_eq!(
        problem(load(&file.to_bytes())),
        ModelFileProblem::MissingTensor {
            tensor: "decoder.weight".into()
        }
    );
}

#[test]
fn an_unexpected_tensor_is_refused() {
    let mut file = valid();
    let mut tensors = file.tensors();
    tensors.push(("encoder.extra".into(), "F32".into(), vec![1], vec![0; 4]));
    let borrowed: Vec<_> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), d.as_str(), s.clone(), b.clone()))
        .collect();
    file.set_tensors(&borrowed);
    file.fix_checksum();
    assert_eq!(
        problem(load(&file.to_bytes())),
        ModelFileProblem::UnexpectedTensor {
            tensor: "encoder.extra".into()
        }
    );
}

#[test]
fn encoder_and_decoder_sizes_that_disagree_are_refused() {
    // The decoder's weights transposed: same bytes, shape [code_dim, input_dim].
    let mut file = valid();
    file.header["decoder.weight"]["shape"] = json!([3, 6]);
    assert_eq!(
        problem(load(&file.to_bytes())),
        ModelFileProblem::WrongShape {
            tensor: "decoder.weight".into(),
            expected: vec![6, 3],
            found: vec![3, 6]
        }
    );
    // A decoder bias for 5 outputs where the encoder takes 6 inputs.
    let mut file = valid();
    let mut tensors = file.tensors();
    for (name, _, shape, bytes) in &mut tensors {
        if name == "decoder.bias" {
            *shape = vec![5];
            bytes.truncate(20);
        }
    }
    let borrowed: Vec<_> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), d.as_str(), s.clone(), b.clone()))
        .collect();
    file.set_tensors(&borrowed);
    file.fix_checksum();
    assert_eq!(
        problem(load(&file.to_bytes())),
        ModelFileProblem::WrongShape {
            tensor: "decoder.bias".into(),
            expected: vec![6],
            found: vec![5]
        }
    );
    // A record whose sizes disagree with every tensor.
    let mut file = valid();
    file.edit_record(|record| record["code_dim"] = json!(4));
    assert_eq!(
        problem(load(&file.to_bytes())),
        ModelFileProblem::WrongShape {
            tensor: "encoder.weight".into(),
            expected: vec![4, 6],
            found: vec![3, 6]
        }
    );
    // A tied record over untied tensors.
    let mut file = valid();
    file.edit_record(|record| record["tied"] = json!(true));
    assert_eq!(
        problem(load(&file.to_bytes())),
        ModelFileProblem::UnexpectedTensor {
            tensor: "decoder.weight".into()
        }
    );
}

#[test]
fn zero_sizes_are_refused_as_invalid_metadata() {
    let mut file = valid();
    let tensors = [
        ("decoder.bias", "F32", vec![0], vec![]),
        ("decoder.weight", "F32", vec![0, 0], vec![]),
        ("encoder.bias", "F32", vec![0], vec![]),
        ("encoder.weight", "F32", vec![0, 0], vec![]),
    ];
    file.set_tensors(&tensors);
    file.edit_record(|record| {
        record["input_dim"] = json!(0);
        record["code_dim"] = json!(0);
    });
    file.fix_checksum();
    assert!(matches!(
        problem(load(&file.to_bytes())),
        ModelFileProblem::InvalidMetadata { .. }
    ));
}

#[test]
fn nan_or_infinite_weights_are_refused() {
    for (tensor, value) in [
        ("encoder.weight", f32::NAN),
        ("decoder.bias", f32::INFINITY),
        ("decoder.weight", f32::NEG_INFINITY),
    ] {
        let mut file = valid();
        let at = file.range(tensor).start + 4;
        file.data[at..at + 4].copy_from_slice(&value.to_le_bytes());
        file.fix_checksum();
        assert_eq!(
            problem(load(&file.to_bytes())),
            ModelFileProblem::NonFinite {
                tensor: tensor.into()
            },
            "{value} in {tensor}"
        );
    }
}

#[test]
fn a_wrong_checksum_is_refused() {
    let original = valid();
    let stored = u32::from_str_radix(original.record()["crc32"].as_str().unwrap(), 16).unwrap();
    assert_eq!(stored, crc32fast::hash(&original.data));

    let mut flipped = original.clone();
    flipped.data[17] ^= 0x04;
    assert_eq!(
        problem(load(&flipped.to_bytes())),
        ModelFileProblem::ChecksumMismatch {
            stored,
            computed: crc32fast::hash(&flipped.data)
        }
    );
    let mut wrong = original.clone();
    wrong.edit_record(|record| record["crc32"] = json!(format!("{:08x}", stored ^ 1)));
    assert_eq!(
        problem(load(&wrong.to_bytes())),
        ModelFileProblem::ChecksumMismatch {
            stored: stored ^ 1,
            computed: stored
        }
    );
    let mut missing = original.clone();
    missing.edit_record(|record| {
        record.as_object_mut().unwrap().remove("crc32");
    });
    assert_eq!(
        problem(load(&missing.to_bytes())),
        ModelFileProblem::MissingChecksum
    );
    for bad in [json!("not hex!"), json!("123456789"), json!(12345678)] {
        let mut file = original.clone();
        file.edit_record(|record| record["crc32"] = bad.clone());
        let found = problem(load(&file.to_bytes()));
        assert!(
            matches!(
                found,
                ModelFileProblem::InvalidMetadata { .. } | ModelFileProblem::MissingChecksum
            ),
            "{bad}: {found:?}"
        );
    }
}

#[test]
fn missing_or_invalid_metadata_is_refused() {
    let mut none = valid();
    none.header.remove("__metadata__");
    assert_eq!(
        problem(load(&none.to_bytes())),
        ModelFileProblem::MissingMetadata
    );
    let mut other_key = valid();
    other_key.header["__metadata__"] = json!({"format": "pt"});
    assert_eq!(
        problem(load(&other_key.to_bytes())),
        ModelFileProblem::MissingMetadata
    );
    let mut not_json = valid();
    not_json.header["__metadata__"]["autoencoders"] = json!("{crc32");
    assert!(matches!(
        problem(load(&not_json.to_bytes())),
        ModelFileProblem::InvalidMetadata { .. }
    ));
    let edits: [(&str, Value); 7] = [
        ("format_version", json!(2)),
        ("encoder_activation", json!("softmax")),
        ("loss", json!("hinge")),
        ("input_dim", json!(-6)),
        (
            "regularizers",
            json!([{"type": "contractive", "weight": -1.0}]),
        ),
        ("corruption", json!({"type": "masking", "probability": 1.5})),
        ("unknown_field", json!(1)),
    ];
    for (field, value) in edits {
        let mut file = valid();
        file.edit_record(|record| record[field] = value.clone());
        assert!(
            matches!(
                problem(load(&file.to_bytes())),
                ModelFileProblem::InvalidMetadata { .. }
            ),
            "{field} = {value}"
        );
    }
    let mut custom = valid();
    custom.edit_record(|record| record["corruption"] = json!({"type": "custom", "name": "mine"}));
    assert_eq!(
        problem(load(&custom.to_bytes())),
        ModelFileProblem::CustomComponent {
            component: "corruption",
            name: "mine".into()
        }
    );
}

#[test]
fn a_damaged_whole_file_checksum_key_is_refused_not_taken_for_an_old_file() {
    // One flipped bit (`n` 0x6e → `l` 0x6c) turns the checksum's key of a file of the old
    // layout into a foreign one; the file would then read as one written before the
    // whole-file checksum existed.
    let bytes = valid().legacy().to_bytes();
    let at = bytes
        .windows(common::model_file::WHOLE_FILE_KEY.len())
        .position(|w| w == common::model_file::WHOLE_FILE_KEY.as_bytes())
        .unwrap();
    let mut flipped = bytes.clone();
    flipped[at + 5] ^= 0b10;
    assert!(String::from_utf8_lossy(&flipped).contains("autoelcoders.crc32"));
    let ModelFileProblem::InvalidMetadata { detail } = problem(load(&flipped)) else {
        panic!("not refused as invalid metadata");
    };
    assert!(detail.contains("autoelcoders.crc32"), "{detail}");
    // A file written before the whole-file checksum, with the crate's keys only, still loads.
    let mut old = valid().legacy();
    old.header["__metadata__"]
        .as_object_mut()
        .unwrap()
        .remove(common::model_file::WHOLE_FILE_KEY);
    assert!(load(&old.to_bytes()).is_ok());
    // In the envelope, a flipped bit in the checksum's section name makes it a section the
    // crate does not write, named in the refusal; one in `format` or `model` is refused too.
    let bytes = valid_file();
    for (name, damaged) in [("crc32", "crc12"), ("format", "formav"), ("model", "mode,")] {
        let quoted = format!("\\\"{name}\\\":");
        let at = bytes
            .windows(quoted.len())
            .position(|w| w == quoted.as_bytes())
            .unwrap_or_else(|| panic!("{quoted} not in the file"));
        let mut flipped = bytes.clone();
        let (from, to) = name
            .bytes()
            .zip(damaged.bytes())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| (at + 2 + i, a ^ b))
            .unwrap();
        assert_eq!(to.count_ones(), 1, "one bit");
        flipped[from] ^= to;
        let found = problem(load(&flipped));
        if name == "crc32" {
            let ModelFileProblem::InvalidMetadata { detail } = &found else {
                panic!("{name}: {found:?}");
            };
            assert!(detail.contains(damaged), "{detail}");
        }
    }
}

#[test]
fn a_file_read_from_disk_is_read_whole_and_refused_the_same_way() {
    // `DynamicAutoencoder::load` reads the whole file (`std::fs::read`), which is bounded by the
    // file's real size, then parses the bytes like `from_safetensors`.
    let dir = std::env::temp_dir().join(format!("autoencoders-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge-header-length.safetensors");
    std::fs::write(&path, with_header_length(&valid_file(), 1 << 63)).unwrap();
    let (result, peak) = peak_during(|| DynamicAutoencoder::<f32>::load(&path));
    assert!(matches!(
        result,
        Err(Error::ModelFile {
            problem: ModelFileProblem::HeaderTooLarge,
            ..
        })
    ));
    assert!(peak < 64 << 10, "allocated {peak} bytes");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_allocation_counter_sees_allocations() {
    // The bound checked by `load` means something only if the counter counts.
    let (buffer, peak) = peak_during(|| std::hint::black_box(vec![1u8; 1 << 20]));
    assert!(peak >= 1 << 20, "counted {peak} bytes");
    drop(buffer);
    let ((), peak) = peak_during(|| drop(std::hint::black_box(vec![1u8; 64])));
    assert!((64..1024).contains(&peak), "counted {peak} bytes");
}
