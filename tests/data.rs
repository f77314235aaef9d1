//! The `data` module through its public API: IDX and CSV files on disk (plain and gzip), their
//! errors, the scalers, and the bundled digits.

mod common;

use approx::assert_relative_eq;
use autoencoders::Error;
#[cfg(feature = "bundled-digits")]
use autoencoders::data::bundled_digits;
use autoencoders::data::{
    CsvOptions, FittedScaler, HeaderMode, IdxData, LabelColumn, Scaler, clip_to_unit, parse_csv,
    read_csv, read_idx, read_idx_table,
};
use flate2::Compression;
use flate2::write::GzEncoder;
use nalgebra::DMatrix;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

#[global_allocator]
static ALLOCATOR: common::allocation::Counting = common::allocation::Counting;

/// A fresh folder under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "autoencoders-data-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// Writes `bytes` to `name` in the folder and returns its path.
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// An IDX file: magic number, big-endian dimensions, then `body` (already big-endian).
fn idx(type_code: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, type_code, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(body);
    bytes
}

/// The file and byte offset of a `MalformedFile` error, failing on anything else.
fn malformed<T: std::fmt::Debug>(result: Result<T, Error>) -> (String, u64, &'static str) {
    match result {
        Err(Error::MalformedFile {
            file,
            offset,
            problem,
        }) => (file, offset, problem),
        other => panic!("expected a malformed-file error, got {other:?}"),
    }
}

fn name(path: &Path) -> String {
    path.display().to_string()
}

// ---------------------------------------------------------------- IDX

#[test]
fn idx_reads_plain_and_gzip_files_alike() {
    let dir = TempDir::new();
    let pixels: Vec<u8> = (0..2 * 3 * 4).map(|i| (i * 10) as u8).collect();
    let bytes = idx(0x08, &[2, 3, 4], &pixels);
    let plain = read_idx(dir.write("images-idx3-ubyte", &bytes)).unwrap();
    let packed = read_idx(dir.write("images-idx3-ubyte.gz", &gzip(&bytes))).unwrap();
    // Detected from the contents, not the name.
    let misnamed = read_idx(dir.write("images.bin", &gzip(&bytes))).unwrap();
    assert_eq!(plain, packed);
    assert_eq!(plain, misnamed);
    assert_eq!(plain.dims, vec![2, 3, 4]);
    let matrix = plain.to_matrix::<f32>();
    assert_eq!(matrix.shape(), (2, 12));
    assert_relative_eq!(matrix[(1, 0)], 120.0);
    assert_relative_eq!(matrix[(1, 11)], 230.0);
}

#[test]
fn idx_reads_a_multi_member_gzip_stream_whole() {
    let dir = TempDir::new();
    let bytes = idx(0x08, &[4], &[1, 2, 3, 4]);
    let mut stream = gzip(&bytes[..6]);
    stream.extend_from_slice(&gzip(&bytes[6..]));
    let array = read_idx(dir.write("split.gz", &stream)).unwrap();
    assert_eq!(array.data, IdxData::U8(vec![1, 2, 3, 4]));
}

#[test]
fn idx_round_trips_every_element_type_and_rank() {
    fn be<const N: usize, V: Copy>(values: &[V], f: fn(V) -> [u8; N]) -> Vec<u8> {
        values.iter().flat_map(|&v| f(v)).collect()
    }
    let dir = TempDir::new();
    let i16s = [i16::MIN, -1, 0, 1, 300, i16::MAX];
    let i32s = [i32::MIN, -70_000, 0, 1, 70_000, i32::MAX];
    let f32s = [f32::MIN, -1.5, 0.0, 1e-30, 3.25, f32::MAX];
    let f64s = [f64::MIN, -2.25, 0.0, 1e-300, 1e300, f64::MAX];
    let cases = [
        (
            0x08,
            IdxData::U8(vec![0, 1, 127, 128, 254, 255]),
            vec![0u8, 1, 127, 128, 254, 255],
        ),
        (
            0x09,
            IdxData::I8(vec![-128, -1, 0, 1, 2, 127]),
            vec![0x80, 0xff, 0, 1, 2, 0x7f],
        ),
        (
            0x0B,
            IdxData::I16(i16s.to_vec()),
            be(&i16s, i16::to_be_bytes),
        ),
        (
            0x0C,
            IdxData::I32(i32s.to_vec()),
            be(&i32s, i32::to_be_bytes),
        ),
        (
            0x0D,
            IdxData::F32(f32s.to_vec()),
            be(&f32s, f32::to_be_bytes),
        ),
        (
            0x0E,
            IdxData::F64(f64s.to_vec()),
            be(&f64s, f64::to_be_bytes),
        ),
    ];
    let shapes: [&[u32]; 4] = [&[6], &[3, 2], &[1, 2, 3], &[1, 1, 2, 3]];
    for (type_code, expected, body) in cases {
        for (k, dims) in shapes.iter().enumerate() {
            let bytes = idx(type_code, dims, &body);
            // Exact equality: the values are copied, never computed, so they must survive bit
            // for bit.
            for (file, contents) in [("a", bytes.clone()), ("a.gz", gzip(&bytes))] {
                let path = dir.write(&format!("{type_code}-{k}-{file}"), &contents);
                let array = read_idx(&path).unwrap();
                assert_eq!(array.data, expected, "type {type_code:#04x}, dims {dims:?}");
                let dims_read: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
                assert_eq!(array.dims, dims_read);
                assert_eq!(
                    array.to_matrix::<f64>().shape(),
                    (dims_read[0], 6 / dims_read[0])
                );
            }
        }
    }
}

#[test]
fn idx_errors_name_the_file_and_the_byte() {
    let dir = TempDir::new();
    let good = idx(0x08, &[2, 3], &[1, 2, 3, 4, 5, 6]);

    // Truncated in the elements: the offset is where the data end.
    let path = dir.write("truncated", &good[..good.len() - 2]);
    let (file, offset, problem) = malformed(read_idx(&path));
    assert_eq!((file, offset), (name(&path), 16));
    assert!(problem.contains("ends before"), "{problem}");
    let message = read_idx(&path).unwrap_err().to_string();
    assert!(
        message.starts_with(&name(&path)) && message.contains("byte 16"),
        "{message}"
    );

    // The same inside a gzip file: the offset counts decompressed bytes.
    let path = dir.write("truncated.gz", &gzip(&good[..good.len() - 2]));
    assert_eq!(malformed(read_idx(&path)).1, 16);

    // Truncated in the header.
    let path = dir.write("short-header", &good[..6]);
    let (_, offset, problem) = malformed(read_idx(&path));
    assert_eq!(offset, 6);
    assert!(problem.contains("dimension sizes"), "{problem}");
    assert_eq!(malformed(read_idx(dir.write("tiny", &[0, 0]))).1, 2);

    // A wrong magic number: a text file, a little-endian header, an unknown type.
    for (bytes, at) in [
        (b"label,x\n1,2\n".to_vec(), 0),
        (vec![3, 8, 0, 0, 2, 0, 0, 0], 0),
        (vec![0, 0, 0x0A, 1, 0, 0, 0, 0], 2),
    ] {
        let path = dir.write("magic", &bytes);
        let (file, offset, problem) = malformed(read_idx(&path));
        assert_eq!((file, offset), (name(&path), at));
        assert!(
            problem.contains("magic") || problem.contains("type code"),
            "{problem}"
        );
    }

    // Counts that do not match the data: too many bytes for the declared dimensions.
    let mut long = good.clone();
    long.extend_from_slice(&[7, 7]);
    let path = dir.write("long", &long);
    let (_, offset, problem) = malformed(read_idx(&path));
    assert_eq!(offset, good.len() as u64);
    assert!(problem.contains("trailing"), "{problem}");
}

#[test]
fn idx_errors_locate_a_broken_gzip_stream() {
    let dir = TempDir::new();
    let body: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let packed = gzip(&idx(0x08, &[5000], &body));

    let path = dir.write("cut.gz", &packed[..packed.len() / 2]);
    let (file, offset, problem) = malformed(read_idx(&path));
    assert_eq!((file, offset), (name(&path), (packed.len() / 2) as u64));
    assert!(problem.contains("truncated"), "{problem}");

    let mut corrupt = packed.clone();
    corrupt[20] ^= 0xff;
    corrupt[21] ^= 0xff;
    let (_, offset, problem) = malformed(read_idx(dir.write("corrupt.gz", &corrupt)));
    assert!(problem.contains("corrupt"), "{problem}");
    assert!(offset <= packed.len() as u64);
}

#[test]
fn idx_missing_file_is_an_io_error_naming_it() {
    let dir = TempDir::new();
    let path = dir.0.join("absent-idx1-ubyte");
    match read_idx(&path) {
        Err(Error::Io { file, .. }) => assert_eq!(file, name(&path)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn idx_table_pairs_samples_with_labels() {
    let dir = TempDir::new();
    let images = dir.write("img.gz", &gzip(&idx(0x08, &[3, 2, 2], &[0; 12])));
    let labels = dir.write("lab", &idx(0x08, &[3], &[4, 0, 9]));
    let table = read_idx_table::<f64>(&images, &labels).unwrap();
    assert_eq!(table.features.shape(), (3, 4));
    assert_eq!(table.labels, Some(vec![4, 0, 9]));

    // One label too few.
    let short = dir.write("short", &idx(0x08, &[2], &[4, 0]));
    match read_idx_table::<f64>(&images, &short) {
        Err(Error::SampleCountMismatch {
            features_file,
            labels_file,
            samples,
            labels,
        }) => {
            assert_eq!((features_file, labels_file), (name(&images), name(&short)));
            assert_eq!((samples, labels), (3, 2));
        }
        other => panic!("{other:?}"),
    }

    // A negative label, at element 1 of an i16 file: byte 4 + 4 + 2.
    let negative = dir.write("negative", &idx(0x0B, &[3], &[0, 1, 0xff, 0xff, 0, 2]));
    let (file, offset, problem) = malformed(read_idx_table::<f64>(&images, &negative));
    assert_eq!((file, offset), (name(&negative), 10));
    assert!(problem.contains("label"), "{problem}");

    // A NaN sample value, and an f64 too large for f32.
    let values = [1.0f64, f64::NAN, 1e300];
    let body: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    let floats = dir.write("floats", &idx(0x0E, &[3, 1], &body));
    assert_eq!(malformed(read_idx_table::<f64>(&floats, &labels)).1, 12 + 8);
    let body: Vec<u8> = [1.0f64, 2.0, 1e300]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    let floats = dir.write("big", &idx(0x0E, &[3, 1], &body));
    assert!(read_idx_table::<f64>(&floats, &labels).is_ok());
    assert_eq!(
        malformed(read_idx_table::<f32>(&floats, &labels)).1,
        12 + 16
    );
}

// ---------------------------------------------------------------- CSV

const IRIS_LIKE: &str = "sepal_length,sepal_width,species\n\
                         5.1,3.5,0\n\
                         4.9,3.0,0\n\
                         \n\
                         6.3,3.3,2\n";

#[test]
fn csv_with_a_header_and_the_label_last() {
    let dir = TempDir::new();
    let options = CsvOptions::default().with_label_column(LabelColumn::Last);
    for path in [
        dir.write("iris.csv", IRIS_LIKE.as_bytes()),
        dir.write("iris.csv.gz", &gzip(IRIS_LIKE.as_bytes())),
    ] {
        let table = read_csv::<f32>(&path, &options).unwrap();
        assert_eq!(table.features.shape(), (3, 2));
        assert_relative_eq!(
            table.features,
            DMatrix::from_row_slice(3, 2, &[5.1, 3.5, 4.9, 3.0, 6.3, 3.3])
        );
        assert_eq!(table.labels, Some(vec![0, 0, 2]));
        assert_eq!(
            table.feature_names,
            Some(vec!["sepal_length".to_owned(), "sepal_width".to_owned()])
        );
    }
}

#[test]
fn csv_without_a_header_and_the_label_first() {
    let dir = TempDir::new();
    let path = dir.write("digits.csv", b"7,0,0.5,1\n2,1,0.25,0\n");
    for header in [HeaderMode::Auto, HeaderMode::Absent] {
        let options = CsvOptions::default()
            .with_header(header)
            .with_label_column(LabelColumn::Index(0));
        let table = read_csv::<f64>(&path, &options).unwrap();
        assert_eq!(table.labels, Some(vec![7, 2]));
        assert_eq!(table.feature_names, None);
        assert_relative_eq!(
            table.features,
            DMatrix::from_row_slice(2, 3, &[0.0, 0.5, 1.0, 1.0, 0.25, 0.0])
        );
    }
    // Without a label column every field is a feature.
    let table = read_csv::<f64>(&path, &CsvOptions::default()).unwrap();
    assert_eq!((table.features.shape(), table.labels), ((2, 4), None));
}

#[test]
fn csv_ragged_row_names_its_line() {
    let dir = TempDir::new();
    let path = dir.write("ragged.csv", b"a,b,c\n1,2,3\n\n4,5\n");
    match read_csv::<f64>(&path, &CsvOptions::default()) {
        Err(Error::RaggedRow {
            file,
            line,
            expected,
            found,
        }) => assert_eq!((file, line, expected, found), (name(&path), 4, 3, 2)),
        other => panic!("{other:?}"),
    }
    let message = read_csv::<f64>(&path, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        format!(
            "{}: line 4: expected 3 fields like the first row, found 2",
            name(&path)
        )
    );
}

#[test]
fn csv_non_numeric_field_names_line_and_column() {
    let dir = TempDir::new();
    let path = dir.write("bad.csv.gz", &gzip(b"1,2,3\n4,5,6\n7,eight,9\n"));
    match read_csv::<f32>(&path, &CsvOptions::default()) {
        Err(Error::InvalidField {
            file,
            line,
            column,
            found,
            expected,
        }) => {
            assert_eq!((file, line, column), (name(&path), 3, 2));
            assert_eq!((found.as_str(), expected), ("eight", "a number"));
        }
        other => panic!("{other:?}"),
    }
    let message = read_csv::<f32>(&path, &CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(message.contains("line 3, column 2"), "{message}");

    let path = dir.write("nan.csv", b"1,2\n3,NaN\n");
    match read_csv::<f32>(&path, &CsvOptions::default()) {
        Err(Error::InvalidField {
            line,
            column,
            expected,
            ..
        }) => {
            assert_eq!((line, column), (2, 2));
            assert!(expected.contains("finite"), "{expected}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn csv_without_data_rows_or_in_another_encoding_is_refused() {
    let dir = TempDir::new();
    for (file, bytes) in [("empty.csv", &b""[..]), ("header.csv", b"x,y,z\n")] {
        let path = dir.write(file, bytes);
        match read_csv::<f64>(&path, &CsvOptions::default()) {
            Err(Error::NoDataRows { file }) => assert_eq!(file, name(&path)),
            other => panic!("{other:?}"),
        }
    }
    let path = dir.write("latin1.csv", b"caf\xe9,b\n1,2\n");
    let (file, offset, _) = malformed(read_csv::<f64>(&path, &CsvOptions::default()));
    assert_eq!((file, offset), (name(&path), 3));
}

#[test]
fn csv_options_are_checked_before_the_file_is_read() {
    let options = CsvOptions::default().with_delimiter(b'-');
    assert!(matches!(
        read_csv::<f64>("does-not-exist.csv", &options),
        Err(Error::InvalidHyperParameter {
            name: "delimiter",
            ..
        })
    ));
}

#[test]
fn csv_quoted_header_fields_may_hold_the_delimiter() {
    let dir = TempDir::new();
    let path = dir.write(
        "quoted.csv",
        b"\"width, cm\",\"height; cm\",class\n1.5,2,0\n3,4.25,1\n",
    );
    let options = CsvOptions::default().with_label_column(LabelColumn::Last);
    let table = read_csv::<f64>(&path, &options).unwrap();
    assert_eq!(
        table.feature_names,
        Some(vec!["width, cm".to_owned(), "height; cm".to_owned()])
    );
    assert_eq!(
        table.features,
        DMatrix::from_row_slice(2, 2, &[1.5, 2.0, 3.0, 4.25])
    );
    assert_eq!(table.labels, Some(vec![0, 1]));
    // With the semicolon as delimiter, the quoted comma is no more special than the semicolon.
    let path = dir.write("semicolon.csv", b"\"a;b\";c\n1;2\n");
    let semicolon = CsvOptions::default().with_delimiter(b';');
    let table = read_csv::<f64>(&path, &semicolon).unwrap();
    assert_eq!(
        table.feature_names,
        Some(vec!["a;b".to_owned(), "c".to_owned()])
    );
}

#[test]
fn csv_quoted_numbers_are_numbers() {
    let dir = TempDir::new();
    let path = dir.write(
        "numbers.csv",
        b"\"3.5\",\"-2e-3\",\"7\"\n\"+1\", 2 ,\"0.0\"\n",
    );
    let options = CsvOptions::default().with_label_column(LabelColumn::Last);
    let table = read_csv::<f64>(&path, &options).unwrap();
    // Quoted numbers make a data row, not a header.
    assert_eq!(table.feature_names, None);
    assert_eq!(
        table.features,
        DMatrix::from_row_slice(2, 2, &[3.5, -2e-3, 1.0, 2.0])
    );
    assert_eq!(table.labels, Some(vec![7, 0]));
    // A quoted field holding the delimiter is one field, and not a number.
    let path = dir.write("comma.csv", b"1,2\n\"1,5\",2\n");
    match read_csv::<f64>(&path, &CsvOptions::default()) {
        Err(Error::InvalidField {
            line,
            column,
            found,
            expected,
            ..
        }) => {
            assert_eq!((line, column, found.as_str()), (2, 1, "1,5"));
            assert_eq!(expected, "a number");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn csv_with_crlf_line_ends() {
    let dir = TempDir::new();
    let path = dir.write("crlf.csv", b"x,y\r\n1,2\r\n\r\n3,4\r\n");
    let table = read_csv::<f32>(&path, &CsvOptions::default()).unwrap();
    assert_eq!(
        table.feature_names,
        Some(vec!["x".to_owned(), "y".to_owned()])
    );
    assert_eq!(
        table.features,
        DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0])
    );
    // Lines are counted as in the file.
    let path = dir.write("crlf-bad.csv", b"x,y\r\n1,2\r\n\r\n3,y\r\n");
    match read_csv::<f32>(&path, &CsvOptions::default()) {
        Err(Error::InvalidField {
            line,
            column,
            found,
            ..
        }) => assert_eq!((line, column, found.as_str()), (4, 2, "y")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn csv_with_a_byte_order_mark() {
    let dir = TempDir::new();
    let path = dir.write("bom.csv", "\u{feff}a,b\n1,2\n".as_bytes());
    let table = read_csv::<f64>(&path, &CsvOptions::default()).unwrap();
    assert_eq!(
        table.feature_names,
        Some(vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(table.features, DMatrix::from_row_slice(1, 2, &[1.0, 2.0]));
    // Without a header, the first number is read as one.
    let path = dir.write("bom-data.csv", "\u{feff}1,2\n".as_bytes());
    let table = read_csv::<f64>(&path, &CsvOptions::default()).unwrap();
    assert_eq!(table.features, DMatrix::from_row_slice(1, 2, &[1.0, 2.0]));
}

#[test]
fn csv_with_a_byte_order_mark_crlf_and_quotes_together() {
    let dir = TempDir::new();
    let text = "\u{feff}\"id\",\"width, cm\",\"say \"\"hi\"\"\"\r\n\
                \"3\",\"1.5\",\"2\"\r\n\
                \r\n\
                4,\"2.5\",3\r\n";
    let options = CsvOptions::default().with_label_column(LabelColumn::Index(0));
    for path in [
        dir.write("all.csv", text.as_bytes()),
        dir.write("all.csv.gz", &gzip(text.as_bytes())),
    ] {
        let table = read_csv::<f64>(&path, &options).unwrap();
        assert_eq!(
            table.feature_names,
            Some(vec!["width, cm".to_owned(), "say \"hi\"".to_owned()])
        );
        assert_eq!(
            table.features,
            DMatrix::from_row_slice(2, 2, &[1.5, 2.0, 2.5, 3.0])
        );
        assert_eq!(table.labels, Some(vec![3, 4]));
    }
}

#[test]
fn csv_labels_beyond_two_to_the_53_are_read_exactly() {
    let dir = TempDir::new();
    // 2^53 + 1, which the nearest f64 would round to 2^53.
    let path = dir.write(
        "big-labels.csv",
        b"x,label\n0.5,9007199254740993.0\n0.25,9007199254740993\n1,9.007199254740995e15\n",
    );
    let options = CsvOptions::default().with_label_column(LabelColumn::Last);
    let table = read_csv::<f64>(&path, &options).unwrap();
    assert_eq!(
        table.labels,
        Some(vec![
            9_007_199_254_740_993,
            9_007_199_254_740_993,
            9_007_199_254_740_995
        ])
    );
    // A label that is not an integer is refused, however close to one an f64 would make it.
    let path = dir.write("fraction.csv", b"0.5,7.0000000000000001\n");
    match read_csv::<f64>(&path, &options) {
        Err(Error::InvalidField {
            line,
            column,
            expected,
            ..
        }) => {
            assert_eq!((line, column), (1, 2));
            assert!(expected.contains("non-negative integer"), "{expected}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn csv_gzip_compressed_with_quoted_fields() {
    let dir = TempDir::new();
    let text = "\"a, first\",\"b\"\n\"1\",\"2,5\"\n";
    let path = dir.write("quoted.csv.gz", &gzip(text.as_bytes()));
    // The quoted "2,5" is one field: the rows are as wide as the header, and the field is
    // refused as no number, where splitting at every comma would have made a ragged row.
    match read_csv::<f64>(&path, &CsvOptions::default()) {
        Err(Error::InvalidField {
            file,
            line,
            column,
            found,
            ..
        }) => {
            assert_eq!(file, name(&path));
            assert_eq!((line, column, found.as_str()), (2, 2, "2,5"));
        }
        other => panic!("{other:?}"),
    }
    let text = "\"a, first\",\"b\"\r\n\"1\",\"2.5\"\r\n";
    let path = dir.write("quoted-ok.csv.gz", &gzip(text.as_bytes()));
    let table = read_csv::<f64>(&path, &CsvOptions::default()).unwrap();
    assert_eq!(
        table.feature_names,
        Some(vec!["a, first".to_owned(), "b".to_owned()])
    );
    assert_eq!(table.features, DMatrix::from_row_slice(1, 2, &[1.0, 2.5]));
}

#[test]
fn csv_header_of_absurd_width_costs_memory_only_with_data_under_it() {
    use common::allocation::peak_during;
    const FIELDS: usize = 1 << 21;
    let header = "a,".repeat(FIELDS - 1) + "a\n";
    let options = CsvOptions::default();
    // Alone, or above a row of another width: refused before a name is made.
    for (text, ragged) in [(header.clone(), false), (header.clone() + "1,2\n", true)] {
        let (result, peak) = peak_during(|| parse_csv::<f32>(&text, "wide", &options));
        match result {
            Err(Error::NoDataRows { .. }) if !ragged => {}
            Err(Error::RaggedRow {
                line: 2,
                expected: FIELDS,
                found: 2,
                ..
            }) if ragged => {}
            other => panic!("{other:?}"),
        }
        assert!(
            peak <= 64 << 10,
            "{} bytes of text allocated {peak} bytes",
            text.len()
        );
    }
    // With a data row of that width: what the table holds (a name is a `String` of 24 bytes
    // and its one byte), and the values read before they are copied into the matrix.
    let text = header + &"1,".repeat(FIELDS - 1) + "1\n";
    let (result, peak) = peak_during(|| parse_csv::<f32>(&text, "wide", &options));
    let table = result.unwrap();
    assert_eq!(table.features.shape(), (1, FIELDS));
    let names = table.feature_names.as_ref().unwrap();
    assert_eq!((names.len(), names[FIELDS - 1].as_str()), (FIELDS, "a"));
    let held = FIELDS * (size_of::<String>() + 1 + size_of::<f32>());
    assert!(
        peak <= held + FIELDS * size_of::<f32>() + (64 << 10),
        "{} bytes of text allocated {peak} bytes",
        text.len()
    );
}

// ---------------------------------------------------------------- scaling

/// Training data with one constant column, and test data that leaves the training range.
fn train_and_test() -> (DMatrix<f64>, DMatrix<f64>) {
    let train = DMatrix::from_row_slice(
        4,
        3,
        &[
            1.0, -10.0, 3.0, //
            2.0, 0.0, 3.0, //
            4.0, 10.0, 3.0, //
            5.0, 20.0, 3.0,
        ],
    );
    let test = DMatrix::from_row_slice(2, 3, &[0.0, 40.0, 3.0, 3.0, 5.0, 8.0]);
    (train, test)
}

#[test]
fn min_max_maps_training_data_onto_the_unit_interval() {
    let (train, test) = train_and_test();
    let scaler = Scaler::MinMax.fit(&train).unwrap();
    assert_eq!(scaler.scaler(), Scaler::MinMax);
    assert_eq!(scaler.input_dim(), 3);
    assert_eq!(scaler.minimum(), Some(&[1.0, -10.0, 3.0][..]));
    assert_eq!(scaler.maximum(), Some(&[5.0, 20.0, 3.0][..]));
    assert_eq!(scaler.mean(), None);

    let scaled = scaler.transform(&train).unwrap();
    for j in 0..2 {
        assert_relative_eq!(scaled.column(j).min(), 0.0);
        assert_relative_eq!(scaled.column(j).max(), 1.0);
    }
    assert_eq!(scaled.column(2).iter().filter(|&&v| v != 0.0).count(), 0);

    // Test data with the training statistics, unchanged and unclipped.
    let expected = DMatrix::from_row_slice(2, 3, &[-0.25, 5.0 / 3.0, 0.0, 0.5, 0.5, 0.0]);
    let scaled = scaler.transform(&test).unwrap();
    assert_relative_eq!(scaled, expected, epsilon = 1e-12);
    let clipped = clip_to_unit(&scaled);
    assert_relative_eq!(
        clipped,
        DMatrix::from_row_slice(2, 3, &[0.0, 1.0, 0.0, 0.5, 0.5, 0.0])
    );
}

#[test]
fn standard_gives_training_data_mean_zero_and_unit_deviation() {
    let (train, test) = train_and_test();
    let (train32, test32) = (train.clone().cast::<f32>(), test.clone().cast::<f32>());
    let scaler = Scaler::Standard.fit(&train32).unwrap();
    let mean = scaler.mean().unwrap();
    let std_dev = scaler.std_dev().unwrap();
    assert_relative_eq!(mean[0], 3.0);
    assert_relative_eq!(mean[1], 5.0);
    assert_relative_eq!(std_dev[0], 2.5f64.sqrt());
    assert_relative_eq!(std_dev[1], 125.0f64.sqrt());
    assert_eq!((mean[2], std_dev[2]), (3.0, 0.0));

    let scaled = scaler.transform(&train32).unwrap();
    for j in 0..2 {
        let column = scaled.column(j).map(f64::from);
        let m = column.mean();
        let s = (column.map(|v| (v - m) * (v - m)).sum() / 4.0).sqrt();
        assert_relative_eq!(m, 0.0, epsilon = 1e-6);
        assert_relative_eq!(s, 1.0, epsilon = 1e-6);
    }
    assert_eq!(scaled.column(2).iter().filter(|&&v| v != 0.0).count(), 0);

    // Test data: (x − training mean) / training deviation, whatever the test data's own
    // statistics are.
    let scaled = scaler.transform(&test32).unwrap();
    let expected = DMatrix::from_fn(2, 3, |i, j| {
        if j == 2 {
            0.0
        } else {
            ((test[(i, j)] - mean[j]) / std_dev[j]) as f32
        }
    });
    assert_relative_eq!(scaled, expected, epsilon = 1e-6);
    let back = scaler.inverse_transform(&scaled).unwrap();
    let restored = DMatrix::from_row_slice(2, 3, &[0.0f32, 40.0, 3.0, 3.0, 5.0, 3.0]);
    assert_relative_eq!(back, restored, epsilon = 1e-5);
}

#[test]
fn bytes_and_identity_need_no_statistics() {
    let x = DMatrix::from_row_slice(1, 3, &[0.0f32, 51.0, 255.0]);
    let bytes = Scaler::Bytes.fit(&x).unwrap();
    assert_eq!((bytes.minimum(), bytes.mean()), (None, None));
    assert_relative_eq!(
        bytes.transform(&x).unwrap(),
        DMatrix::from_row_slice(1, 3, &[0.0, 0.2, 1.0])
    );
    assert_eq!(bytes, FittedScaler::bytes(3));
    let identity = Scaler::default().fit(&x).unwrap();
    assert_relative_eq!(identity.transform(&x).unwrap(), x);
}

#[test]
fn scalers_refuse_mismatched_empty_or_non_finite_data() {
    let (train, _) = train_and_test();
    for kind in [
        Scaler::Identity,
        Scaler::Bytes,
        Scaler::MinMax,
        Scaler::Standard,
    ] {
        let scaler = kind.fit(&train).unwrap();
        assert!(matches!(
            scaler.transform(&DMatrix::<f64>::zeros(2, 4)),
            Err(Error::DimensionMismatch {
                expected: 3,
                found: 4,
                ..
            })
        ));
        let mut bad = train.clone();
        bad[(2, 1)] = f64::NAN;
        assert!(matches!(
            scaler.transform(&bad),
            Err(Error::NonFiniteData {
                row: 2,
                column: 1,
                ..
            })
        ));
        assert!(matches!(kind.fit(&bad), Err(Error::NonFiniteData { .. })));
        assert!(matches!(
            kind.fit(&DMatrix::<f64>::zeros(0, 3)),
            Err(Error::EmptyData { .. })
        ));
        assert_eq!(
            scaler
                .transform(&DMatrix::<f64>::zeros(0, 3))
                .unwrap()
                .shape(),
            (0, 3)
        );
    }
}

#[test]
fn saved_statistics_restore_the_same_scaler() {
    let (train, test) = train_and_test();
    let fitted = Scaler::MinMax.fit(&train).unwrap();
    let restored = FittedScaler::min_max(
        fitted.minimum().unwrap().to_vec(),
        fitted.maximum().unwrap().to_vec(),
    )
    .unwrap();
    assert_eq!(restored, fitted);
    assert_relative_eq!(
        restored.transform(&test).unwrap(),
        fitted.transform(&test).unwrap()
    );

    let fitted = Scaler::Standard.fit(&train).unwrap();
    let restored = FittedScaler::standard(
        fitted.mean().unwrap().to_vec(),
        fitted.std_dev().unwrap().to_vec(),
    )
    .unwrap();
    assert_eq!(restored, fitted);
}

// ---------------------------------------------------------------- bundled digits

#[cfg(feature = "bundled-digits")]
#[test]
fn bundled_digits_are_eight_thousand_and_two_thousand_digits() {
    let digits = bundled_digits::<f32>().unwrap();
    assert_eq!(digits.train_images.shape(), (8000, 784));
    assert_eq!(digits.test_images.shape(), (2000, 784));
    assert_eq!(digits.train_labels.len(), 8000);
    assert_eq!(digits.test_labels.len(), 2000);
    for images in [&digits.train_images, &digits.test_images] {
        assert!(images.iter().all(|&v| (0.0..=1.0).contains(&v)));
        assert_relative_eq!(images.max(), 1.0);
    }
    for labels in [&digits.train_labels, &digits.test_labels] {
        let mut counts = [0usize; 10];
        for &label in labels {
            assert!(label < 10, "label {label}");
            counts[label] += 1;
        }
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    }
}

#[cfg(feature = "bundled-digits")]
#[test]
fn bundled_digits_match_reading_the_files_and_scaling_bytes() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let test = read_idx_table::<f32>(
        folder.join("test-images-idx3-ubyte.gz"),
        folder.join("test-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let scaled = Scaler::Bytes
        .fit(&test.features)
        .unwrap()
        .transform(&test.features)
        .unwrap();
    let digits = bundled_digits::<f32>().unwrap();
    assert_relative_eq!(scaled, digits.test_images);
    assert_eq!(test.labels, Some(digits.test_labels));
}

/// The decompressed bundled files are byte for byte those whose SHA-256 the data's README
/// (`shared/data/README.md`) records.
#[test]
fn bundled_files_match_their_published_hashes() {
    use flate2::read::GzDecoder;
    use std::io::Read;

    let expected = [
        (
            "train-images-idx3-ubyte",
            "d5b4d26a31249442720aa94df0cd7a295920cb4ec017545c79f56e4512e997f6",
        ),
        (
            "train-labels-idx1-ubyte",
            "459c38b4df3f03ad117610e908cb3922d5137f435828936fda5fd1557ae0c991",
        ),
        (
            "test-images-idx3-ubyte",
            "e0e427260d0dd58bbbef103e8a8d2af6f408ba91128f27d818dd584e680bca83",
        ),
        (
            "test-labels-idx1-ubyte",
            "27455931278d606acefdf762f6cb9a131e1eecf02d05a1cc15e79f0b9ac228ca",
        ),
    ];
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    for (file, hash) in expected {
        let packed = std::fs::read(folder.join(format!("{file}.gz"))).unwrap();
        let mut bytes = Vec::new();
        GzDecoder::new(&packed[..]).read_to_end(&mut bytes).unwrap();
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, hash, "{file}");
    }
}
