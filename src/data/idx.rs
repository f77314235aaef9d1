//! The IDX format: a magic number, big-endian dimensions, then big-endian elements.

use super::Table;
pub(crate) use crate::files::maybe_gunzip;
use crate::files::read_regular;
use crate::{Error, Result, Scalar};
use nalgebra::DMatrix;
use std::path::Path;

/// The elements of an IDX file, in file order (row-major over the dimensions).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum IdxData {
    /// Type code `0x08`.
    U8(Vec<u8>),
    /// Type code `0x09`.
    I8(Vec<i8>),
    /// Type code `0x0B`.
    I16(Vec<i16>),
    /// Type code `0x0C`.
    I32(Vec<i32>),
    /// Type code `0x0D`.
    F32(Vec<f32>),
    /// Type code `0x0E`.
    F64(Vec<f64>),
}

impl IdxData {
    fn len(&self) -> usize {
        match self {
            IdxData::U8(v) => v.len(),
            IdxData::I8(v) => v.len(),
            IdxData::I16(v) => v.len(),
            IdxData::I32(v) => v.len(),
            IdxData::F32(v) => v.len(),
            IdxData::F64(v) => v.len(),
        }
    }

    /// Bytes per element in the file.
    fn element_size(&self) -> usize {
        match self {
            IdxData::U8(_) | IdxData::I8(_) => 1,
            IdxData::I16(_) => 2,
            IdxData::I32(_) | IdxData::F32(_) => 4,
            IdxData::F64(_) => 8,
        }
    }

    fn get(&self, i: usize) -> f64 {
        match self {
            IdxData::U8(v) => f64::from(v[i]),
            IdxData::I8(v) => f64::from(v[i]),
            IdxData::I16(v) => f64::from(v[i]),
            IdxData::I32(v) => f64::from(v[i]),
            IdxData::F32(v) => f64::from(v[i]),
            IdxData::F64(v) => v[i],
        }
    }
}

/// An n-dimensional array read from an IDX file.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// The dimensions, outermost first (e.g. `[8000, 28, 28]` for images).
    pub dims: Vec<usize>,
    /// The elements.
    pub data: IdxData,
}

impl IdxArray {
    /// The array as a matrix with one row per entry of the first dimension and the remaining
    /// dimensions flattened (row-major) into columns; values converted, not scaled.
    ///
    /// An `f64` value larger than `f32` can hold becomes infinite in an `f32` matrix, and NaN
    /// elements stay NaN; [`read_idx_table`] refuses both.
    ///
    /// # Shapes
    /// Returns `dims[0] × (dims[1]·dims[2]·…)`; a one-dimensional array gives one column.
    pub fn to_matrix<T: Scalar>(&self) -> DMatrix<T> {
        let rows = self.dims.first().copied().unwrap_or(0);
        let Some(cols) = self.data.len().checked_div(rows) else {
            // No samples: the columns still follow from the other dimensions. `from_fn` would
            // visit every one of them (up to 2^64 for dimensions read from a file).
            let cols = self
                .dims
                .iter()
                .skip(1)
                .fold(1usize, |a, &d| a.saturating_mul(d));
            return DMatrix::zeros(0, cols);
        };
        DMatrix::from_fn(rows, cols, |r, c| T::cast(self.data.get(r * cols + c)))
    }

    /// The array as class labels: every element must be an integer ≥ 0.
    ///
    /// # Errors
    /// [`Error::MalformedFile`] naming `file` and the byte offset (in an uncompressed IDX file
    /// with these dimensions) of the first element that is not a label.
    pub fn to_labels(&self, file: &str) -> Result<Vec<usize>> {
        (0..self.data.len())
            .map(|i| {
                let v = self.data.get(i);
                if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 {
                    Ok(v as usize)
                } else {
                    Err(Error::MalformedFile {
                        file: file.to_owned(),
                        offset: self.element_offset(i),
                        problem: "element is not a non-negative integer label",
                    })
                }
            })
            .collect()
    }

    /// Byte offset of element `i` in an uncompressed IDX file holding this array.
    fn element_offset(&self, i: usize) -> u64 {
        let header = 4 + 4 * self.dims.len() as u64;
        header.saturating_add((i as u64).saturating_mul(self.data.element_size() as u64))
    }

    /// Checks that every element is finite once converted to `T`.
    fn check_finite<T: Scalar>(&self, file: &str) -> Result<()> {
        match (0..self.data.len()).find(|&i| !T::cast(self.data.get(i)).is_finite()) {
            None => Ok(()),
            Some(i) => Err(Error::MalformedFile {
                file: file.to_owned(),
                offset: self.element_offset(i),
                problem: "element is NaN, infinite or beyond the range of the matrix's type",
            }),
        }
    }
}

/// Reads a data set stored as two IDX files, the samples and their labels (MNIST's layout),
/// each gzip-compressed or not. Values are converted, not scaled.
///
/// ```no_run
/// use autoencoders::data::read_idx_table;
///
/// let train = read_idx_table::<f32>("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")?;
/// assert_eq!(train.features.ncols(), 784); // 28 × 28 pixels, flattened row by row
/// # Ok::<(), autoencoders::Error>(())
/// ```
///
/// # Shapes
/// `features` dimensions `[n, d1, d2, …]` give an `n × (d1·d2·…)` matrix; `labels` must hold
/// `n` elements.
///
/// # Errors
/// As [`read_idx`] for either file; [`Error::MalformedFile`] for a NaN or infinite sample
/// value (or an `f64` beyond the range of `f32` when `T` is `f32`) or a label that is not a
/// non-negative integer; [`Error::SampleCountMismatch`] unless there is one label per sample.
pub fn read_idx_table<T: Scalar>(
    features: impl AsRef<Path>,
    labels: impl AsRef<Path>,
) -> Result<Table<T>> {
    let (features, labels) = (features.as_ref(), labels.as_ref());
    let (features_file, labels_file) =
        (features.display().to_string(), labels.display().to_string());
    let samples = read_idx(features)?;
    samples.check_finite::<T>(&features_file)?;
    let label_values = read_idx(labels)?.to_labels(&labels_file)?;
    let count = samples.dims.first().copied().unwrap_or(0);
    if label_values.len() != count {
        return Err(Error::SampleCountMismatch {
            features_file,
            labels_file,
            samples: count,
            labels: label_values.len(),
        });
    }
    Ok(Table {
        features: samples.to_matrix(),
        labels: Some(label_values),
        feature_names: None,
    })
}

/// Reads an IDX file, gzip-compressed or not (detected from its first bytes, not its name).
///
/// The file is a magic number `0x00 0x00 type ndims`, `ndims` big-endian `u32` dimension sizes,
/// then the elements, big-endian, row-major. The type byte is `0x08` (u8), `0x09` (i8), `0x0B`
/// (i16), `0x0C` (i32), `0x0D` (f32) or `0x0E` (f64); any number of dimensions from 1 to 255.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::MalformedFile`] (naming the file, with
/// the byte offset) for a wrong magic number, an unknown type code, a truncated file, a length
/// that does not match the dimensions, or a truncated or corrupt gzip stream.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let (bytes, file) = read_regular(path)?;
    let bytes = maybe_gunzip(bytes, &file)?;
    parse_idx(&bytes, &file)
}

/// Parses the bytes of an (uncompressed) IDX file; `file` names it in errors.
///
/// # Errors
/// As [`read_idx`].
pub fn parse_idx(bytes: &[u8], file: &str) -> Result<IdxArray> {
    let malformed = |offset: usize, problem: &'static str| Error::MalformedFile {
        file: file.to_owned(),
        offset: offset as u64,
        problem,
    };
    if bytes.len() < 4 {
        return Err(malformed(
            bytes.len(),
            "file ends inside the 4-byte magic number",
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(malformed(
            0,
            "wrong magic number: the first two bytes must be zero",
        ));
    }
    let element_size = match bytes[2] {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        0x0E => 8,
        _ => {
            return Err(malformed(
                2,
                "unknown element type code in the magic number",
            ));
        }
    };
    let ndims = usize::from(bytes[3]);
    if ndims == 0 {
        return Err(malformed(3, "the magic number declares zero dimensions"));
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(malformed(
            bytes.len(),
            "file ends inside the dimension sizes",
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| malformed(4, "the product of the dimensions overflows"))?;
    // A sample's size must fit as well, even when there are no samples (and so no elements):
    // `to_matrix` makes it the number of columns.
    dims.iter()
        .skip(1)
        .try_fold(element_size, |acc: usize, &d| acc.checked_mul(d))
        .ok_or_else(|| malformed(4, "the product of the dimensions overflows"))?;
    let expected = count
        .checked_mul(element_size)
        .and_then(|b| b.checked_add(header))
        .ok_or_else(|| malformed(4, "the product of the dimensions overflows"))?;
    if bytes.len() < expected {
        return Err(malformed(
            bytes.len(),
            "file ends before the element count its dimensions declare",
        ));
    }
    if bytes.len() > expected {
        return Err(malformed(
            expected,
            "trailing bytes after the elements its dimensions declare",
        ));
    }
    let body = &bytes[header..];
    fn decode<const N: usize, V>(body: &[u8], f: fn([u8; N]) -> V) -> Vec<V> {
        body.chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect()
    }
    let data = match bytes[2] {
        0x08 => IdxData::U8(body.to_vec()),
        0x09 => IdxData::I8(decode(body, i8::from_be_bytes)),
        0x0B => IdxData::I16(decode(body, i16::from_be_bytes)),
        0x0C => IdxData::I32(decode(body, i32::from_be_bytes)),
        0x0D => IdxData::F32(decode(body, f32::from_be_bytes)),
        _ => IdxData::F64(decode(body, f64::from_be_bytes)),
    };
    Ok(IdxArray { dims, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(type_code: u8, dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, type_code, dims.len() as u8];
        for d in dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn reads_every_element_type() {
        let a = parse_idx(&file(0x08, &[2, 2], &[1, 2, 3, 255]), "t").unwrap();
        assert_eq!(a.dims, vec![2, 2]);
        assert_eq!(
            a.to_matrix::<f64>(),
            DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 255.0])
        );
        let a = parse_idx(&file(0x09, &[2], &[0xff, 0x02]), "t").unwrap();
        assert_eq!(a.data, IdxData::I8(vec![-1, 2]));
        let a = parse_idx(&file(0x0B, &[1], &(-300i16).to_be_bytes()), "t").unwrap();
        assert_eq!(a.data, IdxData::I16(vec![-300]));
        let a = parse_idx(&file(0x0C, &[1], &70000i32.to_be_bytes()), "t").unwrap();
        assert_eq!(a.data, IdxData::I32(vec![70000]));
        let a = parse_idx(&file(0x0D, &[1, 1, 1], &1.5f32.to_be_bytes()), "t").unwrap();
        assert_eq!((a.dims.len(), a.data), (3, IdxData::F32(vec![1.5])));
        let a = parse_idx(&file(0x0E, &[1], &(-2.25f64).to_be_bytes()), "t").unwrap();
        assert_eq!(a.data, IdxData::F64(vec![-2.25]));
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gunzips_every_member_and_locates_broken_streams() {
        let plain = file(0x08, &[3], &[1, 2, 3]);
        assert_eq!(maybe_gunzip(plain.clone(), "t").unwrap(), plain);
        let mut two = gzip(&plain[..5]);
        two.extend_from_slice(&gzip(&plain[5..]));
        assert_eq!(maybe_gunzip(two, "t").unwrap(), plain);

        let packed = gzip(&plain);
        let cut = packed.len() - 3;
        match maybe_gunzip(packed[..cut].to_vec(), "t.gz") {
            Err(Error::MalformedFile {
                offset, problem, ..
            }) => assert_eq!((offset, problem.contains("truncated")), (cut as u64, true)),
            other => panic!("{other:?}"),
        }
        let mut corrupt = packed.clone();
        corrupt[3] = 0xff; // reserved header flag bits
        assert!(matches!(
            maybe_gunzip(corrupt, "t.gz"),
            Err(Error::MalformedFile { problem, .. }) if problem.contains("corrupt")
        ));
    }

    #[test]
    fn reports_bad_labels_at_their_byte() {
        let a = parse_idx(&file(0x0C, &[2, 2], &[0; 16]), "t").unwrap();
        assert_eq!(a.to_labels("t").unwrap(), vec![0; 4]);
        let mut body = [0u8; 16];
        body[8..12].copy_from_slice(&(-1i32).to_be_bytes());
        let a = parse_idx(&file(0x0C, &[2, 2], &body), "t").unwrap();
        match a.to_labels("t") {
            // Header 4 + 2·4 bytes, then element 2 of 4 bytes each.
            Err(Error::MalformedFile { offset, .. }) => assert_eq!(offset, 12 + 8),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keeps_the_columns_of_an_array_without_samples() {
        let a = parse_idx(&file(0x08, &[0, 28, 28], &[]), "t").unwrap();
        assert_eq!(a.to_matrix::<f32>().shape(), (0, 784));
        // Without visiting 2^64 empty columns one by one (a hang in debug builds).
        let huge = parse_idx(&file(0x08, &[0, u32::MAX, u32::MAX], &[]), "t").unwrap();
        let columns = u32::MAX as usize * u32::MAX as usize;
        assert_eq!(huge.to_matrix::<f64>().shape(), (0, columns));
    }

    #[test]
    fn names_the_problem_and_the_position() {
        let problem = |bytes: &[u8]| match parse_idx(bytes, "x.idx") {
            Err(Error::MalformedFile {
                offset, problem, ..
            }) => (offset, problem),
            other => panic!("expected an error, got {other:?}"),
        };
        assert_eq!(problem(&[0, 0]).0, 2);
        assert!(problem(&[1, 0, 8, 1]).1.contains("magic"));
        assert!(problem(&[0, 0, 7, 1]).1.contains("type code"));
        assert!(
            problem(&file(0x08, &[3], &[1, 2]))
                .1
                .contains("ends before")
        );
        assert_eq!(problem(&file(0x08, &[1], &[1, 2])).0, 9);
        assert!(
            problem(&file(0x08, &[u32::MAX, u32::MAX, u32::MAX], &[]))
                .1
                .contains("overflow")
        );
        // No samples, but a sample size beyond usize (found by the `idx` fuzz target).
        assert!(
            problem(&file(0x08, &[0, u32::MAX, u32::MAX, u32::MAX], &[]))
                .1
                .contains("overflow")
        );
        assert!(
            problem(&file(0x0E, &[0, u32::MAX, u32::MAX], &[]))
                .1
                .contains("overflow")
        );
    }
}
