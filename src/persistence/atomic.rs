//! Crash-safe file writes: a reader sees the old file or the new one, never a half-written one.
//!
//! The temporary file of a write to `NAME` is `.NAME.tmp-<pid>-<n>` in the same folder, `<n>`
//! counting the writes of the process (so two threads never share one). A process killed in
//! the middle of a write leaves its temporary behind; the next successful write to the same
//! target removes the ones whose process is gone. A process counts as gone only where the
//! system says so (`/proc/<pid>` missing, on Linux); elsewhere, and for any process that may
//! still be alive, including this one, nothing is removed.

use crate::{Error, Result};
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes started by this process, for unique temporary names.
static WRITES: AtomicU64 = AtomicU64::new(0);

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
    let temporary = folder.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
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
    remove_stale_temporaries(&folder, &file_name);
    Ok(())
}

/// The process id in the name of a temporary file of a write to `file_name`:
/// `.NAME.tmp-<pid>` (as written before the counter) or `.NAME.tmp-<pid>-<n>`.
fn temporary_owner(candidate: &str, file_name: &str) -> Option<u32> {
    let rest = candidate
        .strip_prefix('.')?
        .strip_prefix(file_name)?
        .strip_prefix(".tmp-")?;
    let (pid, counter) = match rest.split_once('-') {
        Some((pid, counter)) => (pid, Some(counter)),
        None => (rest, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || counter.is_some_and(|c| !digits(c)) {
        return None;
    }
    pid.parse().ok()
}

/// Whether the process `pid` is known to have ended: only where the system can say (Linux's
/// `/proc`), and never for this process.
fn process_is_gone(pid: u32) -> bool {
    if pid == std::process::id() || !cfg!(target_os = "linux") {
        return false;
    }
    let proc_root = Path::new("/proc");
    // A /proc without this process's own entry is not one to trust.
    proc_root.join(std::process::id().to_string()).exists()
        && !proc_root.join(pid.to_string()).exists()
}

/// Removes the temporary files of writes to `file_name` in `folder` left by processes that
/// are gone. Best effort: a folder that cannot be listed, or a file that cannot be removed, is
/// left as it is.
fn remove_stale_temporaries(folder: &Path, file_name: &str) {
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let candidate = entry.file_name();
        let Some(pid) = candidate
            .to_str()
            .and_then(|c| temporary_owner(c, file_name))
        else {
            continue;
        };
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && process_is_gone(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_parsed_strictly() {
        assert_eq!(temporary_owner(".m.st.tmp-42-7", "m.st"), Some(42));
        assert_eq!(temporary_owner(".m.st.tmp-42", "m.st"), Some(42));
        for other in [
            "m.st.tmp-42",
            ".m.st.tmp-",
            ".m.st.tmp-42-",
            ".m.st.tmp-4x2",
            ".m.st.tmp-42-7x",
            ".other.tmp-42",
            ".m.st.tmp-99999999999",
            ".m.st",
        ] {
            assert_eq!(temporary_owner(other, "m.st"), None, "{other}");
        }
        // The prefix of another target's name is not this target's.
        assert_eq!(temporary_owner(".m.st.bak.tmp-42", "m.st"), None);
    }

    #[test]
    fn this_process_is_never_gone() {
        assert!(!process_is_gone(std::process::id()));
    }
}
