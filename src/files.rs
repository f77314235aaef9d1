//! Reading the files a caller names: regular files only, and gzip decompressed under a limit.
//! Every reader of the crate (models, checkpoints, IDX, CSV) and the command-line tools go
//! through here.

use crate::{Error, Result};
use flate2::bufread::MultiGzDecoder;
use std::io::{ErrorKind, Read};
use std::path::Path;

/// The bytes of the file at `path`, and its name for errors.
///
/// A FIFO, a device or a folder is refused before it is opened (opening a FIFO with no writer
/// would block forever; a device may never end).
///
/// # Errors
/// [`Error::NotARegularFile`] for anything but a regular file (after following links);
/// [`Error::Io`] when it cannot be read.
pub(crate) fn read_regular(path: &Path) -> Result<(Vec<u8>, String)> {
    let file = path.display().to_string();
    let metadata = std::fs::metadata(path).map_err(|e| Error::io(&file, e))?;
    if !metadata.is_file() {
        return Err(Error::NotARegularFile { file });
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(&file, e))?;
    Ok((bytes, file))
}

/// Decompresses `bytes` when they start with the gzip magic number; every member of a
/// multi-member stream (as `cat a.gz b.gz` makes) is read. At most
/// [`limits::max_decompressed_bytes`](crate::limits::max_decompressed_bytes) are produced, and
/// memory is reserved step by step, never beyond that limit.
///
/// # Errors
/// [`Error::DecompressionLimit`] past the limit; [`Error::MalformedFile`] for a truncated or
/// corrupt stream, with the offset.
pub(crate) fn maybe_gunzip(bytes: Vec<u8>, file: &str) -> Result<Vec<u8>> {
    gunzip_within(bytes, file, crate::limits::max_decompressed_bytes())
}

/// [`maybe_gunzip`] under the limit `limit`.
fn gunzip_within(bytes: Vec<u8>, file: &str, limit: u64) -> Result<Vec<u8>> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out: Vec<u8> = Vec::new();
    let mut decoder = MultiGzDecoder::new(&bytes[..]);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let read = match decoder.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) => {
                // The decoder reads straight from the slice: what it left unread marks the
                // position.
                let unread = decoder.get_ref().len();
                let (offset, problem) = if error.kind() == ErrorKind::UnexpectedEof {
                    (
                        bytes.len(),
                        "gzip stream ends early: the compressed file is truncated",
                    )
                } else {
                    (bytes.len() - unread, "gzip stream is corrupt")
                };
                return Err(Error::MalformedFile {
                    file: file.to_owned(),
                    offset: offset as u64,
                    problem,
                });
            }
        };
        let total = out.len().saturating_add(read);
        if total as u64 > limit {
            return Err(Error::DecompressionLimit {
                file: file.to_owned(),
                limit,
            });
        }
        if total > out.capacity() {
            // Double, but never reserve past the limit.
            let wanted = total.max(out.capacity().saturating_mul(2));
            let capped = wanted
                .min(usize::try_from(limit).unwrap_or(usize::MAX))
                .max(total);
            out.try_reserve_exact(capped - out.len())
                .map_err(|_| Error::DecompressionLimit {
                    file: file.to_owned(),
                    limit: out.len() as u64,
                })?;
        }
        out.extend_from_slice(&chunk[..read]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn the_limit_is_named_as_the_limit_not_as_corruption() {
        let data = vec![7u8; 3 << 20];
        let packed = gzip(&data);
        assert_eq!(
            gunzip_within(packed.clone(), "ok.gz", 3 << 20).unwrap(),
            data
        );
        let limited = gunzip_within(packed, "bomb.gz", 1 << 20);
        assert!(
            matches!(limited, Err(Error::DecompressionLimit { limit, .. }) if limit == 1 << 20),
            "{limited:?}"
        );
        let plain = b"not compressed".to_vec();
        assert_eq!(gunzip_within(plain.clone(), "t", 1).unwrap(), plain);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = std::env::temp_dir().join(format!("autoencoders-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if status.map(|s| s.success()).unwrap_or(false) {
            assert!(matches!(
                read_regular(&fifo),
                Err(Error::NotARegularFile { .. })
            ));
        }
        assert!(matches!(
            read_regular(&dir),
            Err(Error::NotARegularFile { .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
