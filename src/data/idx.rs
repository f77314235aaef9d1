//! The IDX format: a magic number, big-endian dimensions, then big-endian elements.

use crate::{Error, Result, Scalar};
use flate2::read::GzDecoder;
use nalgebra::DMatrix;
use std::io::Read;
use std::path::Path;

/// Decompressed files larger than this are refused rather than read into memory.
const MAX_DECOMPRESSED_BYTES: u64 = 1 << 33;

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
    /// # Shapes
    /// Returns `dims[0] × (dims[1]·dims[2]·…)`; a one-dimensional array gives one column.
    pub fn to_matrix<T: Scalar>(&self) -> DMatrix<T> {
        let rows = self.dims.first().copied().unwrap_or(0);
        let cols = self.data.len().checked_div(rows).unwrap_or(0);
        DMatrix::from_fn(rows, cols, |r, c| T::cast(self.data.get(r * cols + c)))
    }

    /// The array as class labels: every element must be an integer ≥ 0.
    ///
    /// # Errors
    /// [`Error::MalformedFile`] naming the first element that is not a label.
    pub fn to_labels(&self, file: &str) -> Result<Vec<usize>> {
        (0..self.data.len())
            .map(|i| {
                let v = self.data.get(i);
                if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 {
                    Ok(v as usize)
                } else {
                    Err(Error::MalformedFile {
                        file: file.to_owned(),
                        offset: i as u64,
                        problem: "element is not a non-negative integer label",
                    })
                }
            })
            .collect()
    }
}

/// Reads an IDX file, gzip-compressed or not (detected from its first bytes, not its name).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::MalformedFile`] (with the byte offset)
/// for a wrong magic number, an unknown type code, a truncated file, or a length that does not
/// match the dimensions.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::io(&file, e))?;
    let bytes = maybe_gunzip(bytes, &file)?;
    parse_idx(&bytes, &file)
}

/// Decompresses `bytes` when they start with the gzip magic number.
pub(crate) fn maybe_gunzip(bytes: Vec<u8>, file: &str) -> Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    GzDecoder::new(&bytes[..])
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::io(file, e))?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(Error::MalformedFile {
            file: file.to_owned(),
            offset: MAX_DECOMPRESSED_BYTES,
            problem: "decompressed data exceed the 8 GiB limit",
        });
    }
    Ok(out)
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
    }
}
