//! Atomic report writing: a temporary file beside the target, flushed to disk, then renamed,
//! so a reader never sees a half-written report.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot create {path}: {source}")]
    Create { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot rename {from} to {to}: {source}")]
    Rename { from: String, to: String, source: std::io::Error },
}

/// `azs-netprobe-<hostname>-<UTC timestamp>.json`.
pub fn default_file_name(hostname: &str, at: DateTime<Utc>) -> PathBuf {
    let safe: String =
        hostname.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    PathBuf::from(format!("{}-{}-{}.json", crate::TOOL_NAME, safe, at.format("%Y%m%dT%H%M%SZ")))
}

/// Check, before a run starts, that a report can be written to `path`: its folder exists and
/// takes a new file (tried with the same temporary name the write will use, then removed).
pub fn check_writable(path: &Path) -> Result<(), WriteError> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map(drop)
            .map_err(|source| WriteError::Create { path: path.display().to_string(), source });
    }
    let tmp = temp_path(path);
    std::fs::File::create(&tmp).map_err(|source| WriteError::Create { path: tmp.display().to_string(), source })?;
    let _ = std::fs::remove_file(&tmp);
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    dir.join(format!(".{name}.{}.tmp", std::process::id()))
}

/// Write `bytes` to `path` atomically. A path that exists and is not a regular file (a device
/// such as /dev/null, a FIFO) is written in place: renaming over it would replace it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        let shown = path.display().to_string();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|source| WriteError::Create { path: shown.clone(), source })?;
        return f.write_all(bytes).map_err(|source| WriteError::Write { path: shown, source });
    }
    let tmp = temp_path(path);
    let shown = |p: &Path| p.display().to_string();
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|source| WriteError::Create { path: shown(&tmp), source })?;
        f.write_all(bytes).map_err(|source| WriteError::Write { path: shown(&tmp), source })?;
        f.sync_all().map_err(|source| WriteError::Write { path: shown(&tmp), source })?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|source| WriteError::Rename { from: shown(&tmp), to: shown(path), source })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_written_in_place_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        write_atomic(&fifo, b"report").unwrap();
        assert_eq!(reader.join().unwrap(), b"report");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn names_the_failing_path() {
        let err = write_atomic(Path::new("/nonexistent-dir/r.json"), b"x").unwrap_err().to_string();
        assert!(err.contains("/nonexistent-dir/.r.json"), "{err}");
    }

    #[test]
    fn default_name_is_safe() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(default_file_name("node 1/x", at), PathBuf::from("azs-netprobe-node_1_x-19700101T000000Z.json"));
    }
}
