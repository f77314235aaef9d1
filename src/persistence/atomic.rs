//! Crash-safe file writes: a reader sees the old file or the new one, never a half-written one.

use crate::{Error, Result};
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file in the same folder: write, fsync, rename
/// over `path`, then fsync the folder so that the rename itself survives a crash.
///
/// If anything fails, the temporary file is removed and whatever was at `path` before is left
/// untouched.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically_with(path, bytes, |file, bytes| file.write_all(bytes))
}

/// [`write_atomically`] with the write step injected, so that tests can make it fail half-way.
pub(crate) fn write_atomically_with(
    path: &Path,
    bytes: &[u8],
    write: impl FnOnce(&mut File, &[u8]) -> std::io::Result<()>,
) -> Result<()> {
    let name = path.display().to_string();
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = File::create(&temporary)?;
        write(&mut file, bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, path)?;
        // Persist the directory entry; not every platform can open a folder for syncing.
        if let Ok(dir) = File::open(&folder) {
            dir.sync_all()
                .or_else(|e| if cfg!(windows) { Ok(()) } else { Err(e) })?;
        }
        Ok(())
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&temporary);
        return Err(Error::io(&name, source));
    }
    Ok(())
}
