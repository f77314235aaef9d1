//! The safetensors header as this crate writes it, byte for byte the same for the same
//! content, and the checks that make the whole file count: no key twice anywhere in the
//! header, and a checksum over the header as well as the data.
//!
//! The layout is safetensors': an 8-byte little-endian length, then the header JSON padded with
//! spaces to a multiple of 8 bytes, then the data. The header lists `__metadata__` first, its
//! keys sorted, then the tensors sorted by name, each `{"dtype", "shape", "data_offsets"}`;
//! the data holds the tensors in that order. The metadata key [`WHOLE_FILE_KEY`] holds the
//! CRC-32 of the canonical header text without that key, followed by the data: any edit of the
//! metadata, a tensor's dtype, shape or offsets, or the data is detected.

use super::ModelFileProblem;
use safetensors::tensor::{Dtype, TensorInfo};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// The metadata key holding the CRC-32 of the whole file (8 hex digits); see the module docs.
pub const WHOLE_FILE_KEY: &str = "autoencoders.crc32";

/// One tensor of a file: name, dtype, shape and row-major little-endian bytes.
pub(crate) type Tensor = (String, Dtype, Vec<usize>, Vec<u8>);

/// How the header lists a tensor: name, dtype, shape and its byte range in the data section.
pub(crate) type Entry<'a> = (&'a str, Dtype, &'a [usize], (usize, usize));

/// Writes the header text for `metadata` (keys in order) and tensors given as (name, dtype,
/// shape, offsets) in the canonical form, tensors sorted by name, to `out`.
fn write_header<'k>(
    out: &mut impl std::io::Write,
    metadata: impl Iterator<Item = (&'k str, &'k str)>,
    tensors: &[Entry<'_>],
) {
    let mut sorted: Vec<_> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    // Strings and plain structs serialise without fail, into a `Vec` or a checksum.
    let mut put = |bytes: &[u8]| {
        let _ = out.write_all(bytes);
    };
    put(b"{\"__metadata__\":{");
    for (i, (key, value)) in metadata.enumerate() {
        if i > 0 {
            put(b",");
        }
        put(serde_json::to_string(key).unwrap_or_default().as_bytes());
        put(b":");
        put(serde_json::to_string(value).unwrap_or_default().as_bytes());
    }
    put(b"}");
    for (name, dtype, shape, offsets) in sorted {
        let info = TensorInfo {
            dtype: *dtype,
            shape: shape.to_vec(),
            data_offsets: *offsets,
        };
        put(b",");
        put(serde_json::to_string(name).unwrap_or_default().as_bytes());
        put(b":");
        put(serde_json::to_string(&info).unwrap_or_default().as_bytes());
    }
    put(b"}");
}

/// A checksum that header text is written into, rather than into a copy of it.
struct CrcWriter(crc32fast::Hasher);

impl std::io::Write for CrcWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The CRC-32 of the canonical header without [`WHOLE_FILE_KEY`], followed by the data.
fn whole_file_crc<'k>(
    metadata: impl Iterator<Item = (&'k str, &'k str)>,
    tensors: &[Entry<'_>],
    data: &[u8],
) -> u32 {
    let mut crc = CrcWriter(crc32fast::Hasher::new());
    write_header(
        &mut crc,
        metadata.filter(|(key, _)| *key != WHOLE_FILE_KEY),
        tensors,
    );
    crc.0.update(data);
    crc.0.finalize()
}

/// A map's entries as string pairs, in its order.
fn entries<K: AsRef<str>, V: AsRef<str>>(
    map: &BTreeMap<K, V>,
) -> impl Iterator<Item = (&str, &str)> {
    map.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
}

/// A safetensors file of `tensors` (sorted by name into the data section) and `metadata`, with
/// [`WHOLE_FILE_KEY`] added.
pub(crate) fn write(tensors: &[Tensor], mut metadata: BTreeMap<String, String>) -> Vec<u8> {
    let mut sorted: Vec<&Tensor> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut layout = Vec::with_capacity(sorted.len());
    let mut offset = 0;
    for (name, dtype, shape, data) in &sorted {
        layout.push((
            name.as_str(),
            *dtype,
            shape.as_slice(),
            (offset, offset + data.len()),
        ));
        offset += data.len();
    }
    let data: Vec<u8> = sorted
        .iter()
        .flat_map(|(_, _, _, d)| d.iter().copied())
        .collect();
    let crc = whole_file_crc(entries(&metadata), &layout, &data);
    metadata.insert(WHOLE_FILE_KEY.to_owned(), format!("{crc:08x}"));
    let mut header = Vec::new();
    write_header(&mut header, entries(&metadata), &layout);
    header.resize(header.len().div_ceil(8) * 8, b' ');
    let mut bytes = Vec::with_capacity(8 + header.len() + data.len());
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&data);
    bytes
}

/// Checks the whole-file checksum of a parsed file, when it has one: `metadata` and `tensors`
/// as the header lists them, `data` the data section.
///
/// # Errors
/// [`ModelFileProblem::ChecksumMismatch`], or [`ModelFileProblem::InvalidMetadata`] for a
/// checksum that is not 8 hex digits.
pub(crate) fn verify(
    metadata: &BTreeMap<&str, &str>,
    tensors: &[Entry<'_>],
    data: &[u8],
) -> Result<bool, ModelFileProblem> {
    let Some(hex) = metadata.get(WHOLE_FILE_KEY) else {
        return Ok(false);
    };
    let stored = (hex.len() == 8)
        .then(|| u32::from_str_radix(hex, 16).ok())
        .flatten()
        .ok_or_else(|| ModelFileProblem::InvalidMetadata {
            detail: format!("{WHOLE_FILE_KEY} `{hex}` is not 8 hex digits"),
        })?;
    let computed = whole_file_crc(entries(metadata), tensors, data);
    if stored == computed {
        Ok(true)
    } else {
        Err(ModelFileProblem::ChecksumMismatch { stored, computed })
    }
}

/// Refuses a header in which an object lists a key twice, at any depth, and the same within
/// the JSON texts that metadata values hold. The safetensors format forbids duplicate keys;
/// JSON readers disagree on them (most keep the last).
pub(crate) fn check_unique_keys(header: &[u8]) -> Result<(), ModelFileProblem> {
    let duplicate = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(header);
    // A header that is not JSON at all is left for safetensors to report, as before: only a
    // duplicate the walk recorded counts.
    let _ = UniqueKeys {
        depth: 0,
        duplicate: &duplicate,
    }
    .deserialize(&mut deserializer);
    match duplicate.into_inner() {
        Some(key) => Err(ModelFileProblem::DuplicateKey { key }),
        None => Ok(()),
    }
}

/// A JSON object's key, borrowed from the text when it holds no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_owned()))
    }

    fn visit_string<E>(self, key: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key))
    }
}

/// Nesting deeper than this is not checked further (serde_json stops at 128 anyway).
const MAX_DEPTH: usize = 64;

/// A JSON value walked for duplicate keys; strings that hold JSON objects are walked too. The
/// first duplicate found is recorded in `duplicate`, and the walk stops with an error.
#[derive(Clone, Copy)]
struct UniqueKeys<'a> {
    depth: usize,
    duplicate: &'a RefCell<Option<String>>,
}

impl UniqueKeys<'_> {
    fn deeper(self) -> Self {
        Self {
            depth: self.depth + 1,
            ..self
        }
    }
}

impl<'de> DeserializeSeed<'de> for UniqueKeys<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // The keys seen, as 64-bit hashes: an object of many keys costs 8 bytes a key, not a
        // copy of each. Two different keys of one object that hash alike would be refused as a
        // duplicate — a refusal, never an acceptance, and for keys that are not made to
        // collide a chance of about n²/2⁶⁵.
        let mut seen: HashSet<u64> = HashSet::new();
        while let Some(key) = map.next_key_seed(Key)? {
            let hash = {
                let mut hasher = std::hash::DefaultHasher::new();
                std::hash::Hash::hash(key.as_ref(), &mut hasher);
                std::hash::Hasher::finish(&hasher)
            };
            if !seen.insert(hash) {
                *self.duplicate.borrow_mut() = Some(format!("`{key}`"));
                return Err(serde::de::Error::custom("duplicate key"));
            }
            if self.depth < MAX_DEPTH {
                map.next_value_seed(self.deeper())?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self.deeper())?.is_some() {}
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<(), E> {
        // Metadata values hold JSON texts of their own (the model record, the checkpoint).
        if text.starts_with('{') && self.depth < MAX_DEPTH {
            let mut inner = serde_json::Deserializer::from_str(text);
            let _ = self.deeper().deserialize(&mut inner);
            if self.duplicate.borrow().is_some() {
                return Err(E::custom("duplicate key"));
            }
        }
        Ok(())
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<(), E> {
        self.visit_str(&text)
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<(), E> {
        self.visit_str(text)
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_found_at_every_depth_and_inside_metadata_texts() {
        let ok = br#"{"__metadata__":{"a":"{\"x\":1,\"y\":[{\"z\":2}]}"},"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
        assert_eq!(check_unique_keys(ok), Ok(()));
        for (bad, key) in [
            (&br#"{"t":{"dtype":"I32"},"t":{"dtype":"F32"}}"#[..], "t"),
            (br#"{"__metadata__":{"a":"1","a":"2"}}"#, "a"),
            (br#"{"t":{"dtype":"F32","dtype":"F64"}}"#, "dtype"),
            (br#"{"__metadata__":{"a":"{\"w\":1,\"w\":2}"}}"#, "w"),
        ] {
            match check_unique_keys(bad) {
                Err(ModelFileProblem::DuplicateKey { key: found }) => {
                    assert!(found.contains(key), "{found} vs {key}")
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(bad)),
            }
        }
        // Not JSON: left for safetensors to report.
        assert_eq!(check_unique_keys(b"{not json"), Ok(()));
    }

    #[test]
    fn the_whole_file_checksum_covers_metadata_layout_and_data() {
        let tensors = vec![
            ("b".to_owned(), Dtype::F32, vec![1], vec![0, 0, 128, 63]),
            ("a".to_owned(), Dtype::F32, vec![2], vec![0; 8]),
        ];
        let metadata = BTreeMap::from([("autoencoders".to_owned(), "{\"k\":1}".to_owned())]);
        let bytes = write(&tensors, metadata.clone());
        assert_eq!(bytes, write(&tensors, metadata.clone()), "deterministic");
        assert_eq!((bytes.len() - 8 - 12) % 8, 0, "header padded to 8 bytes");
        let layout = [
            ("a", Dtype::F32, &[2][..], (0, 8)),
            ("b", Dtype::F32, &[1][..], (8, 12)),
        ];
        let data = &bytes[bytes.len() - 12..];
        let header_len = bytes.len() - 12 - 8;
        let text = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
        let stored: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        let owned: BTreeMap<String, String> =
            serde_json::from_value(stored["__metadata__"].clone()).unwrap();
        let mut read: BTreeMap<&str, &str> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(verify(&read, &layout, data), Ok(true));
        // A metadata edit, a layout edit and a data edit are each caught.
        let mut edited = read.clone();
        edited.insert("autoencoders", "{\"k\":2}");
        assert!(verify(&edited, &layout, data).is_err());
        let mut swapped = layout;
        swapped[0].1 = Dtype::I32;
        assert!(verify(&read, &swapped, data).is_err());
        let mut flipped = data.to_vec();
        flipped[3] ^= 1;
        assert!(verify(&read, &layout, &flipped).is_err());
        read.remove(WHOLE_FILE_KEY);
        assert_eq!(verify(&read, &layout, data), Ok(false));
    }
}
