//! The safetensors header as this crate writes it, byte for byte the same for the same
//! content, and the checks that make the whole file count: no key twice anywhere in the
//! header, and a checksum over the header as well as the data.
//!
//! The layout is safetensors': an 8-byte little-endian length, then the header JSON padded with
//! spaces to a multiple of 8 bytes, then the data. The header lists `__metadata__` first, its
//! keys sorted, then the tensors sorted by name, each `{"dtype", "shape", "data_offsets"}`;
//! the data holds the tensors in that order.
//!
//! The crate's metadata is **one key**, [`METADATA_KEY`] (`autoencoders`), whose value is a
//! JSON object, the *envelope*: `{"checkpoint":{…},"crc32":"…","format":2,"model":{…},…}`,
//! its fields sorted, without spaces between them. `format` is the envelope's version;
//! every other field is a *section*, one record of the file: `model` (the model record),
//! `checkpoint`, `checkpoint.crc32`, `detector`, `lbfgs`, `pretrained`, `pretraining`,
//! `robust`, and `crc32`, the CRC-32 of the whole file: the canonical header with the
//! envelope written without `crc32`, followed by the data. Any edit of the metadata, a
//! tensor's dtype, shape or offsets, or the data is detected. A section holding a record is a
//! JSON object, one holding a checksum a string.
//!
//! Inside the crate a section goes by its *record key*: `autoencoders` for `model`,
//! `autoencoders.` and the section's name for the others ([`WHOLE_FILE_KEY`],
//! `autoencoders.checkpoint`, …). Files written before the envelope existed held each record
//! under its record key as a metadata key of its own, and read the same way.

use super::{METADATA_KEY, ModelFileProblem};
use safetensors::tensor::{Dtype, TensorInfo};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// The record key of the CRC-32 of the whole file (8 hex digits): the envelope's section
/// `crc32`; see the [module docs](crate::persistence).
pub const WHOLE_FILE_KEY: &str = "autoencoders.crc32";

/// The version of the envelope this crate writes and reads.
const ENVELOPE_FORMAT: &str = "2";

/// The envelope field holding its version.
const FORMAT_FIELD: &str = "format";

/// The envelope section a record key is stored under: `model` for [`METADATA_KEY`], the rest
/// of the key after `autoencoders.` for the others.
fn section_of(key: &str) -> &str {
    if key == METADATA_KEY {
        "model"
    } else {
        key.strip_prefix(METADATA_KEY)
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or(key)
    }
}

/// The record key of an envelope section.
fn key_of(section: &str) -> String {
    if section == "model" {
        METADATA_KEY.to_owned()
    } else {
        format!("{METADATA_KEY}.{section}")
    }
}

/// The envelope text holding `records` (record key, text): sorted by section, a text that is
/// a JSON object embedded as it is, any other as a JSON string.
fn pack<'k>(records: impl Iterator<Item = (&'k str, &'k str)>) -> String {
    let mut fields: BTreeMap<&str, Cow<'k, str>> = BTreeMap::new();
    fields.insert(FORMAT_FIELD, Cow::Borrowed(ENVELOPE_FORMAT));
    for (key, text) in records {
        let object = text.starts_with('{') && serde_json::from_str::<&RawValue>(text).is_ok();
        let value = if object {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(serde_json::to_string(text).unwrap_or_default())
        };
        fields.insert(section_of(key), value);
    }
    let mut envelope = String::from("{");
    for (i, (section, value)) in fields.into_iter().enumerate() {
        if i > 0 {
            envelope.push(',');
        }
        envelope += &serde_json::to_string(section).unwrap_or_default();
        envelope.push(':');
        envelope += &value;
    }
    envelope.push('}');
    envelope
}

/// Where a record's text is in a parsed file's metadata: a range of the value under a
/// metadata key (a record embedded in the envelope, or one under a key of its own), or, for a
/// section that is a JSON string (a checksum), its unescaped text.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Place {
    /// Bytes `range` of the value under metadata key `key`.
    Within {
        /// The metadata key.
        key: String,
        /// The record's bytes in its value.
        range: std::ops::Range<usize>,
    },
    /// The record's own text.
    Text(String),
}

impl Place {
    /// The record's text, `metadata` the file's metadata the place was found in.
    pub(crate) fn text<'m>(&'m self, metadata: &BTreeMap<&str, &'m str>) -> &'m str {
        match self {
            Self::Within { key, range } => metadata
                .get(key.as_str())
                .and_then(|value| value.get(range.clone()))
                .unwrap_or_default(),
            Self::Text(text) => text,
        }
    }
}

/// The records of an envelope `text` (the value of [`METADATA_KEY`]), by record key; `None`
/// for a text that is not an envelope (a file written before it existed holds a model record
/// there, which has no `format`). A record that is a JSON object is not copied: its place is
/// its range in `text`.
///
/// # Errors
/// [`ModelFileProblem::InvalidMetadata`] for an envelope of another version or with a section
/// the crate does not write (`known` lists the record keys it does).
fn unpack(text: &str, known: &[&str]) -> Result<Option<BTreeMap<String, Place>>, ModelFileProblem> {
    let Ok(fields) = serde_json::from_str::<BTreeMap<String, &RawValue>>(text) else {
        return Ok(None);
    };
    let Some(format) = fields.get(FORMAT_FIELD) else {
        return Ok(None);
    };
    if format.get() != ENVELOPE_FORMAT {
        return Err(ModelFileProblem::InvalidMetadata {
            detail: format!(
                "metadata format {} (this version reads format {ENVELOPE_FORMAT})",
                format.get()
            ),
        });
    }
    let mut records = BTreeMap::new();
    for (section, value) in fields {
        if section == FORMAT_FIELD {
            continue;
        }
        let key = key_of(&section);
        if !known.contains(&key.as_str()) {
            return Err(ModelFileProblem::InvalidMetadata {
                detail: format!("unknown metadata section `{section}`"),
            });
        }
        let raw = value.get();
        let place = if raw.starts_with('"') {
            Place::Text(serde_json::from_str::<String>(raw).map_err(|e| {
                ModelFileProblem::InvalidMetadata {
                    detail: format!("section `{section}`: {e}"),
                }
            })?)
        } else {
            // `raw` is a slice of `text`.
            let start = raw.as_ptr() as usize - text.as_ptr() as usize;
            Place::Within {
                key: METADATA_KEY.to_owned(),
                range: start..start + raw.len(),
            }
        };
        records.insert(key, place);
    }
    Ok(Some(records))
}

/// The file's metadata as written: the one key holding the envelope of `records`.
fn enveloped<'k>(records: impl Iterator<Item = (&'k str, &'k str)>) -> BTreeMap<String, String> {
    BTreeMap::from([(METADATA_KEY.to_owned(), pack(records))])
}

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
    // Strings and plain structs serialise without fail, into a `Vec` or a checksum; they are
    // streamed, so a long value (a record) is not copied to be escaped.
    let _ = out.write_all(b"{\"__metadata__\":{");
    for (i, (key, value)) in metadata.enumerate() {
        if i > 0 {
            let _ = out.write_all(b",");
        }
        let _ = serde_json::to_writer(&mut *out, key);
        let _ = out.write_all(b":");
        let _ = serde_json::to_writer(&mut *out, value);
    }
    let _ = out.write_all(b"}");
    for (name, dtype, shape, offsets) in sorted {
        let info = TensorInfo {
            dtype: *dtype,
            shape: shape.to_vec(),
            data_offsets: *offsets,
        };
        let _ = out.write_all(b",");
        let _ = serde_json::to_writer(&mut *out, name);
        let _ = out.write_all(b":");
        let _ = serde_json::to_writer(&mut *out, &info);
    }
    let _ = out.write_all(b"}");
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

/// A safetensors file of `tensors` (sorted by name into the data section) and the records
/// `records` (by record key) in the one metadata key's envelope, with [`WHOLE_FILE_KEY`]
/// added.
pub(crate) fn write(tensors: &[Tensor], mut records: BTreeMap<String, String>) -> Vec<u8> {
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
    records.remove(WHOLE_FILE_KEY);
    let crc = whole_file_crc(entries(&enveloped(entries(&records))), &layout, &data);
    records.insert(WHOLE_FILE_KEY.to_owned(), format!("{crc:08x}"));
    let metadata = enveloped(entries(&records));
    let mut header = Vec::new();
    write_header(&mut header, entries(&metadata), &layout);
    header.resize(header.len().div_ceil(8) * 8, b' ');
    let mut bytes = Vec::with_capacity(8 + header.len() + data.len());
    bytes.extend_from_slice(&(header.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&data);
    bytes
}

/// Where the records of a parsed file's metadata are (by record key), and whether its
/// whole-file checksum was checked: `metadata` and `tensors` as the header lists them, `data`
/// the data section, `known` the record keys the crate writes. A file of the envelope must
/// hold its whole-file checksum; one written before the envelope is checked by it when it has
/// one.
///
/// # Errors
/// [`ModelFileProblem::ChecksumMismatch`]; [`ModelFileProblem::MissingChecksum`] for an
/// envelope without one; [`ModelFileProblem::InvalidMetadata`] for a checksum that is not 8
/// hex digits, an envelope [`unpack`] refuses, or a key of the crate's beside the envelope.
pub(crate) fn verify(
    metadata: &BTreeMap<&str, &str>,
    tensors: &[Entry<'_>],
    data: &[u8],
    known: &[&str],
) -> Result<(BTreeMap<String, Place>, bool), ModelFileProblem> {
    let envelope = match metadata.get(METADATA_KEY) {
        Some(text) => unpack(text, known)?,
        None => None,
    };
    let Some(mut records) = envelope else {
        // The envelope under another key is the crate's own key damaged (one flipped bit turns
        // `autoencoders` into a foreign key), not a file without records.
        if !metadata.keys().any(|k| known.contains(k))
            && let Some((key, _)) = metadata.iter().find(|(_, text)| holds_envelope(text))
        {
            return Err(ModelFileProblem::InvalidMetadata {
                detail: format!(
                    "metadata key `{key}` holds the envelope of `{METADATA_KEY}` (a damaged key?)"
                ),
            });
        }
        // Each record a metadata key of its own, as written before the envelope existed.
        let records = metadata
            .iter()
            .map(|(key, value)| {
                let place = Place::Within {
                    key: (*key).to_owned(),
                    range: 0..value.len(),
                };
                ((*key).to_owned(), place)
            })
            .collect();
        let Some(hex) = metadata.get(WHOLE_FILE_KEY) else {
            return Ok((records, false));
        };
        let stored = parse_crc(hex)?;
        check(stored, whole_file_crc(entries(metadata), tensors, data))?;
        return Ok((records, true));
    };
    if let Some(beside) = metadata
        .keys()
        .find(|k| k.starts_with(METADATA_KEY) && **k != METADATA_KEY)
    {
        return Err(ModelFileProblem::InvalidMetadata {
            detail: format!("metadata key `{beside}` beside the envelope under `{METADATA_KEY}`"),
        });
    }
    let checksum = records
        .remove(WHOLE_FILE_KEY)
        .ok_or(ModelFileProblem::MissingChecksum)?;
    let stored = parse_crc(checksum.text(metadata))?;
    let packed = pack(
        records
            .iter()
            .map(|(key, place)| (key.as_str(), place.text(metadata))),
    );
    let mut written = metadata.clone();
    written.insert(METADATA_KEY, &packed);
    check(stored, whole_file_crc(entries(&written), tensors, data))?;
    records.insert(WHOLE_FILE_KEY.to_owned(), checksum);
    Ok((records, true))
}

/// Whether `text` is a JSON object with the envelope's `format` and `crc32` fields.
fn holds_envelope(text: &str) -> bool {
    text.starts_with('{')
        && serde_json::from_str::<BTreeMap<String, IgnoredAny>>(text).is_ok_and(|fields| {
            fields.contains_key(FORMAT_FIELD) && fields.contains_key(section_of(WHOLE_FILE_KEY))
        })
}

/// A whole-file checksum's 8 hex digits as a number.
fn parse_crc(hex: &str) -> Result<u32, ModelFileProblem> {
    (hex.len() == 8)
        .then(|| u32::from_str_radix(hex, 16).ok())
        .flatten()
        .ok_or_else(|| ModelFileProblem::InvalidMetadata {
            detail: format!("{WHOLE_FILE_KEY} `{hex}` is not 8 hex digits"),
        })
}

fn check(stored: u32, computed: u32) -> Result<(), ModelFileProblem> {
    if stored == computed {
        Ok(())
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
        let known = [METADATA_KEY, WHOLE_FILE_KEY, "autoencoders.detector"];
        let records = BTreeMap::from([
            ("autoencoders".to_owned(), "{\"k\":1}".to_owned()),
            ("autoencoders.detector".to_owned(), "{\"t\":0.5}".to_owned()),
        ]);
        let bytes = write(&tensors, records.clone());
        assert_eq!(bytes, write(&tensors, records.clone()), "deterministic");
        let layout = [
            ("a", Dtype::F32, &[2][..], (0, 8)),
            ("b", Dtype::F32, &[1][..], (8, 12)),
        ];
        let data = &bytes[bytes.len() - 12..];
        let header_len = bytes.len() - 12 - 8;
        assert_eq!(header_len % 8, 0, "header padded to 8 bytes");
        let text = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
        let stored: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        let owned: BTreeMap<String, String> =
            serde_json::from_value(stored["__metadata__"].clone()).unwrap();
        // One metadata key, the envelope: its sections sorted, records embedded as objects.
        assert_eq!(owned.keys().collect::<Vec<_>>(), [METADATA_KEY]);
        let envelope = &owned[METADATA_KEY];
        assert!(
            envelope.starts_with("{\"crc32\":\"")
                && envelope
                    .ends_with("\",\"detector\":{\"t\":0.5},\"format\":2,\"model\":{\"k\":1}}"),
            "{envelope}"
        );
        let read: BTreeMap<&str, &str> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (unpacked, checked) = verify(&read, &layout, data, &known).unwrap();
        assert!(checked);
        let texts: BTreeMap<String, String> = unpacked
            .iter()
            .filter(|(key, _)| *key != WHOLE_FILE_KEY)
            .map(|(key, place)| (key.clone(), place.text(&read).to_owned()))
            .collect();
        assert_eq!(texts, records);
        // A metadata edit, a layout edit and a data edit are each caught.
        let edited_text = envelope.replace("0.5", "0.25");
        let mut edited = read.clone();
        edited.insert(METADATA_KEY, &edited_text);
        assert!(matches!(
            verify(&edited, &layout, data, &known),
            Err(ModelFileProblem::ChecksumMismatch { .. })
        ));
        let mut swapped = layout;
        swapped[0].1 = Dtype::I32;
        assert!(verify(&read, &swapped, data, &known).is_err());
        let mut flipped = data.to_vec();
        flipped[3] ^= 1;
        assert!(verify(&read, &layout, &flipped, &known).is_err());
        // The envelope under a damaged key is refused, not read as a file without records.
        let renamed = BTreeMap::from([("`utoencoders", read[METADATA_KEY])]);
        match verify(&renamed, &layout, data, &known) {
            Err(ModelFileProblem::InvalidMetadata { detail }) => {
                assert!(detail.contains("`utoencoders"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
        // A foreign key beside the envelope is covered too; one of ours is refused there.
        let mut foreign = read.clone();
        foreign.insert("user", "1");
        assert!(verify(&foreign, &layout, data, &known).is_err());
        let mut beside = read.clone();
        beside.insert(WHOLE_FILE_KEY, "00000000");
        assert!(matches!(
            verify(&beside, &layout, data, &known),
            Err(ModelFileProblem::InvalidMetadata { .. })
        ));
        // An envelope without its checksum, of another format, or with a section the crate
        // does not write is refused.
        for (text, expected) in [
            ("{\"format\":2,\"model\":{}}", "MissingChecksum"),
            ("{\"format\":3,\"model\":{}}", "format 3"),
            (
                "{\"crc32\":\"00000000\",\"format\":2,\"mine\":{}}",
                "`mine`",
            ),
        ] {
            let mut bad = read.clone();
            bad.insert(METADATA_KEY, text);
            let problem = verify(&bad, &layout, data, &known).unwrap_err();
            assert!(
                format!("{problem:?}").contains(expected),
                "{text}: {problem:?}"
            );
        }
        // Records under keys of their own, as before the envelope: read as they are, checked
        // by the whole-file checksum when it is there.
        let legacy = BTreeMap::from([(METADATA_KEY, "{\"k\":1}")]);
        let (records, checked) = verify(&legacy, &layout, data, &known).unwrap();
        assert!(!checked);
        assert_eq!(records[METADATA_KEY].text(&legacy), "{\"k\":1}");
        let mut legacy_checked = legacy.clone();
        let crc = format!("{:08x}", whole_file_crc(entries(&legacy), &layout, data));
        legacy_checked.insert(WHOLE_FILE_KEY, &crc);
        assert!(verify(&legacy_checked, &layout, data, &known).unwrap().1);
        legacy_checked.insert("autoencoders.detector", "{}");
        assert!(verify(&legacy_checked, &layout, data, &known).is_err());
    }
}
