//! Taking a safetensors model file apart and putting it back together, so that tests can build
//! files with exactly one defect.
//!
//! A file is an 8-byte little-endian header length, the header (JSON: one entry per tensor with
//! `dtype`, `shape` and `data_offsets`, and `__metadata__` whose one key `autoencoders` holds
//! the envelope: a JSON object with `format` 2 and one section per record — `model`, the model
//! record with its `crc32`; `crc32`, the whole-file checksum; `checkpoint`, …), then the
//! tensor data.
//!
//! Here the header's `__metadata__` shows the records by their record keys instead, as files
//! written before the envelope held them (`autoencoders` for `model`, `autoencoders.crc32`,
//! `autoencoders.checkpoint`, …), so that a test edits a record where it is; the envelope is
//! taken apart on [`ModelFile::parse`] and put back together on writing.

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The record key of the whole-file checksum.
pub const WHOLE_FILE_KEY: &str = "autoencoders.crc32";

/// A model file as its header JSON (with the records by record key) and its data section.
#[derive(Clone, Debug)]
pub struct ModelFile {
    pub header: Map<String, Value>,
    pub data: Vec<u8>,
    /// Whether the records are written in the envelope (else each under its record key, as
    /// files written before the envelope).
    pub enveloped: bool,
}

/// The record key of an envelope section.
fn key_of(section: &str) -> String {
    if section == "model" {
        "autoencoders".to_owned()
    } else {
        format!("autoencoders.{section}")
    }
}

/// The envelope section of a record key.
fn section_of(key: &str) -> &str {
    if key == "autoencoders" {
        "model"
    } else {
        key.strip_prefix("autoencoders.").unwrap()
    }
}

impl ModelFile {
    /// Splits the bytes of a valid file.
    pub fn parse(bytes: &[u8]) -> Self {
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut header: Map<String, Value> =
            serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
        let mut enveloped = false;
        if let Some(metadata) = header
            .get_mut("__metadata__")
            .and_then(Value::as_object_mut)
            && let Some(text) = metadata.get("autoencoders").and_then(Value::as_str)
            && let Ok(fields) = serde_json::from_str::<BTreeMap<String, Box<RawValue>>>(text)
            && fields.contains_key("format")
        {
            assert_eq!(fields["format"].get(), "2");
            metadata.remove("autoencoders");
            for (section, value) in fields.iter().filter(|(s, _)| *s != "format") {
                let raw = value.get();
                let text = match serde_json::from_str::<String>(raw) {
                    Ok(string) => string,
                    Err(_) => raw.to_owned(),
                };
                metadata.insert(key_of(section), Value::String(text));
            }
            enveloped = true;
        }
        Self {
            header,
            data: bytes[8 + header_len..].to_vec(),
            enveloped,
        }
    }

    /// The same file, written with each record under a metadata key of its own, as files
    /// were before the envelope.
    pub fn legacy(mut self) -> Self {
        self.enveloped = false;
        self
    }

    /// The header as written: with the records (all metadata keys starting with
    /// `autoencoders`) in the envelope when the file is enveloped — sections sorted, a record
    /// that is a JSON object embedded as it is, another as a JSON string — and without the
    /// whole-file checksum when `with_checksum` is false.
    fn written_header(&self, with_checksum: bool) -> Map<String, Value> {
        let mut header = self.header.clone();
        let Some(metadata) = header
            .get_mut("__metadata__")
            .and_then(Value::as_object_mut)
        else {
            return header;
        };
        if !with_checksum {
            metadata.remove(WHOLE_FILE_KEY);
        }
        if !self.enveloped {
            return header;
        }
        let keys: Vec<String> = metadata
            .keys()
            .filter(|k| k.starts_with("autoencoders"))
            .cloned()
            .collect();
        if keys.is_empty() {
            return header;
        }
        let mut sections = BTreeMap::from([("format".to_owned(), "2".to_owned())]);
        for key in keys {
            let value = metadata.remove(&key).unwrap();
            let text = value.as_str().unwrap().to_owned();
            let embedded =
                if text.starts_with('{') && serde_json::from_str::<&RawValue>(&text).is_ok() {
                    text
                } else {
                    Value::String(text).to_string()
                };
            sections.insert(section_of(&key).to_owned(), embedded);
        }
        let fields: Vec<String> = sections
            .iter()
            .map(|(section, value)| format!("{}:{value}", Value::String(section.clone())))
            .collect();
        metadata.insert(
            "autoencoders".to_owned(),
            Value::String(format!("{{{}}}", fields.join(","))),
        );
        header
    }

    /// The bytes of the file, with the header length recomputed, and the whole-file checksum
    /// (`autoencoders.crc32`) too when the file has one, so that a defect elsewhere is the one
    /// reached.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut fixed = self.clone();
        if let Some(metadata) = fixed.header.get("__metadata__").and_then(Value::as_object)
            && metadata.contains_key(WHOLE_FILE_KEY)
        {
            let crc = self.whole_file_crc();
            fixed.header["__metadata__"][WHOLE_FILE_KEY] = Value::String(crc);
        }
        fixed.to_bytes_as_is()
    }

    /// The bytes of the file with only the header length recomputed: an edit of the header or
    /// the data then spoils the whole-file checksum.
    pub fn to_bytes_as_is(&self) -> Vec<u8> {
        frame(
            serde_json::to_string(&self.written_header(true))
                .unwrap()
                .as_bytes(),
            &self.data,
        )
    }

    /// The whole-file checksum as the crate's format defines it: the CRC-32 of the header in
    /// its canonical form (`__metadata__` first, its keys sorted, the envelope without its
    /// `crc32` — or, for a file of the old layout, without the key `autoencoders.crc32`; then
    /// the tensors sorted by name, each `{"dtype","shape","data_offsets"}`), followed by the
    /// data section. Written here from the format's definition, not from the crate's code.
    pub fn whole_file_crc(&self) -> String {
        let header = self.written_header(false);
        let metadata = header["__metadata__"].as_object().unwrap().clone();
        let mut text = format!("{{\"__metadata__\":{}", Value::Object(metadata));
        let mut names: Vec<&String> = self
            .header
            .keys()
            .filter(|k| *k != "__metadata__")
            .collect();
        names.sort();
        for name in names {
            let entry = &self.header[name];
            text += &format!(
                ",{}:{{\"dtype\":{},\"shape\":{},\"data_offsets\":{}}}",
                Value::String(name.clone()),
                entry["dtype"],
                entry["shape"],
                entry["data_offsets"]
            );
        }
        text.push('}');
        let mut crc = crc32fast::Hasher::new();
        crc.update(text.as_bytes());
        crc.update(&self.data);
        format!("{:08x}", crc.finalize())
    }

    /// Whether the file has our metadata (a plain state dict has none).
    pub fn has_record(&self) -> bool {
        self.header.contains_key("__metadata__")
    }

    /// The model record from the metadata.
    pub fn record(&self) -> Value {
        let text = self.header["__metadata__"]["autoencoders"]
            .as_str()
            .unwrap();
        serde_json::from_str(text).unwrap()
    }

    /// Replaces the model record.
    pub fn set_record(&mut self, record: &Value) {
        self.header["__metadata__"]["autoencoders"] = Value::String(record.to_string());
    }

    /// Edits the model record in place.
    pub fn edit_record(&mut self, edit: impl FnOnce(&mut Value)) {
        let mut record = self.record();
        edit(&mut record);
        self.set_record(&record);
    }

    /// Stores the CRC-32 of the current data section in the record, so that a defect elsewhere
    /// is the one reached.
    pub fn fix_checksum(&mut self) {
        let crc = format!("{:08x}", crc32fast::hash(&self.data));
        self.edit_record(|record| record["crc32"] = Value::String(crc));
    }

    /// The names of the tensors, in the order of their data.
    pub fn tensor_names(&self) -> Vec<String> {
        let mut names: Vec<(u64, String)> = self
            .header
            .iter()
            .filter(|(name, _)| *name != "__metadata__")
            .map(|(name, entry)| (entry["data_offsets"][0].as_u64().unwrap(), name.clone()))
            .collect();
        names.sort();
        names.into_iter().map(|(_, name)| name).collect()
    }

    /// A tensor's byte range in the data section.
    pub fn range(&self, name: &str) -> std::ops::Range<usize> {
        let offsets = &self.header[name]["data_offsets"];
        offsets[0].as_u64().unwrap() as usize..offsets[1].as_u64().unwrap() as usize
    }

    /// A tensor's bytes.
    pub fn tensor_bytes(&self, name: &str) -> Vec<u8> {
        self.data[self.range(name)].to_vec()
    }

    /// Rebuilds the data section from `tensors` (name, dtype, shape, bytes), in that order,
    /// with consistent offsets; the metadata is kept.
    pub fn set_tensors(&mut self, tensors: &[(&str, &str, Vec<u64>, Vec<u8>)]) {
        self.header.retain(|name, _| name == "__metadata__");
        self.data.clear();
        for (name, dtype, shape, bytes) in tensors {
            let start = self.data.len();
            self.data.extend_from_slice(bytes);
            self.header.insert(
                (*name).to_owned(),
                json!({"dtype": dtype, "shape": shape, "data_offsets": [start, self.data.len()]}),
            );
        }
    }

    /// The tensors as [`set_tensors`](Self::set_tensors) takes them.
    pub fn tensors(&self) -> Vec<(String, String, Vec<u64>, Vec<u8>)> {
        self.tensor_names()
            .into_iter()
            .map(|name| {
                let entry = &self.header[&name];
                let dtype = entry["dtype"].as_str().unwrap().to_owned();
                let shape = entry["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_u64().unwrap())
                    .collect();
                let bytes = self.tensor_bytes(&name);
                (name, dtype, shape, bytes)
            })
            .collect()
    }
}

/// An 8-byte little-endian length, `header`, then `data`.
pub fn frame(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(data);
    bytes
}
