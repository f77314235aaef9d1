//! A check of the tensor offsets in a safetensors header, made before the safetensors crate
//! parses the file.
//!
//! safetensors 0.8 checks that the tensors' offsets chain without gaps and match their shapes,
//! then adds the last tensor's end offset to the header length without an overflow check. A
//! header whose offsets chain up to nearly 2^64 (eight tensors of 2^61 bytes do) makes that
//! addition overflow: a panic in debug builds. Refusing such offsets first keeps loading a
//! hostile file an error, never a panic.

use super::ModelFileProblem;
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

/// The safetensors crate's cap on the header size.
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Refuses a file whose header has a tensor offset larger than any file can hold. Everything
/// else wrong with the header is left for safetensors to report, as before.
pub(crate) fn check_offsets_fit(bytes: &[u8]) -> Result<(), ModelFileProblem> {
    let Some(length) = bytes.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
        return Ok(());
    };
    let length = u64::from_le_bytes(length);
    if length > MAX_HEADER_BYTES {
        return Ok(());
    }
    // Below the cap, so these sums cannot overflow.
    let Some(header) = bytes.get(8..8 + length as usize) else {
        return Ok(());
    };
    let Ok(LargestOffset(largest)) = serde_json::from_slice(header) else {
        return Ok(());
    };
    if largest > (usize::MAX as u64).saturating_sub(8 + length) {
        return Err(ModelFileProblem::DataLengthMismatch);
    }
    Ok(())
}

/// The largest data offset of any tensor in a header, read without keeping anything else.
struct LargestOffset(u64);

/// A tensor entry of the header: only its offsets are read, the rest is skipped.
#[derive(Deserialize)]
struct Offsets {
    data_offsets: (u64, u64),
}

impl<'de> Deserialize<'de> for LargestOffset {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = LargestOffset;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a safetensors header")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut largest = 0;
                while let Some(name) = map.next_key::<String>()? {
                    if name == "__metadata__" {
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        let Offsets {
                            data_offsets: (start, end),
                        } = map.next_value()?;
                        largest = largest.max(start).max(end);
                    }
                }
                Ok(LargestOffset(largest))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes
    }

    #[test]
    fn refuses_only_offsets_that_no_file_can_hold() {
        let near_max = format!(
            r#"{{"__metadata__":{{"data_offsets":"x"}},"t":{{"dtype":"U8","shape":[1],"data_offsets":[0,{}]}}}}"#,
            u64::MAX - 8
        );
        assert_eq!(
            check_offsets_fit(&file(&near_max)),
            Err(ModelFileProblem::DataLengthMismatch)
        );
        // Offsets past the end of this file but not of every file: safetensors says which.
        let past_end = r#"{"t":{"dtype":"U8","shape":[9],"data_offsets":[0,9]}}"#;
        assert_eq!(check_offsets_fit(&file(past_end)), Ok(()));
        // Not a header this check understands: left to safetensors.
        for header in ["", "[]", "{\"t\":{}}", "{"] {
            assert_eq!(check_offsets_fit(&file(header)), Ok(()), "{header}");
        }
        assert_eq!(check_offsets_fit(&[1, 2]), Ok(()));
    }
}
