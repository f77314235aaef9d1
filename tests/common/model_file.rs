//! Taking a safetensors model file apart and putting it back together, so that tests can build
//! files with exactly one defect.
//!
//! A file is an 8-byte little-endian header length, the header (JSON: one entry per tensor with
//! `dtype`, `shape` and `data_offsets`, and `__metadata__` whose key `autoencoders` holds the
//! model record as a JSON string with its `crc32`), then the tensor data.

use serde_json::{Map, Value, json};

/// The metadata key of the whole-file checksum.
pub const WHOLE_FILE_KEY: &str = "autoencoders.crc32";

/// A model file as its header JSON and its data section.
#[derive(Clone, Debug)]
pub struct ModelFile {
    pub header: Map<String, Value>,
    pub data: Vec<u8>,
}

impl ModelFile {
    /// Splits the bytes of a valid file.
    pub fn parse(bytes: &[u8]) -> Self {
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
        Self {
            header,
            data: bytes[8 + header_len..].to_vec(),
        }
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
            serde_json::to_string(&self.header).unwrap().as_bytes(),
            &self.data,
        )
    }

    /// The whole-file checksum as the crate's format defines it: the CRC-32 of the header in
    /// its canonical form (`__metadata__` first, its keys sorted, without `autoencoders.crc32`;
    /// then the tensors sorted by name, each `{"dtype","shape","data_offsets"}`), followed by
    /// the data section. Written here from the format's definition, not from the crate's code.
    pub fn whole_file_crc(&self) -> String {
        let mut metadata = self.header["__metadata__"].as_object().unwrap().clone();
        metadata.remove(WHOLE_FILE_KEY);
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
