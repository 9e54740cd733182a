//! Writing outputs (reports, HTML pages, metrics) without ever being the cause of damage.
//!
//! Every output of a command is checked by [`plan`] before any work starts:
//! - the path must name a file: not empty, no trailing separator, not a folder, in a folder
//!   that exists and takes a new file (tried by creating and dropping an exclusive temporary
//!   file there);
//! - no output may be the same file as an input or as another output (files are compared,
//!   not spellings: device and inode on Unix, the canonical path elsewhere or for files that
//!   do not exist yet).
//!
//! [`Output::write`] then writes:
//! - a regular file (or a name that does not exist yet) atomically: an exclusive temporary
//!   file with an unpredictable name (the tempfile crate: `O_EXCL`, no symlink following) in the
//!   folder of the real target, flushed, then renamed over it. A symlink is resolved first, so the
//!   real target is replaced and the link stays a link;
//! - the caller's standard output (`-`, `/dev/stdout`, `/proc/self/fd/1`, or any path that is the
//!   same file as standard output) through standard output itself, keeping the caller's
//!   redirect (append mode, offset); a closed pipe ends the writing quietly;
//! - any other special file (device, FIFO, a `/proc` file-descriptor link) in place: it is
//!   never replaced. A regular file reached through a `/proc` link is appended to.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// Why an output cannot be written. Display names the option and the caller's spelling of the
/// path (never a temporary file) and carries the cause once (no error source chain).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// An empty path.
    #[error("{what}: the path is empty; name a file")]
    Empty {
        /// The option and the caller's spelling of the path (`--out r.json`).
        what: String,
    },
    /// A path ending with a separator (`out/`).
    #[error("{what}: the path ends with a separator; name a file, not a folder")]
    TrailingSeparator {
        /// The option and the caller's spelling of the path (`--out r.json`).
        what: String,
    },
    /// The path is an existing folder.
    #[error("{what}: is a folder; name a file")]
    Folder {
        /// The option and the caller's spelling of the path (`--out r.json`).
        what: String,
    },
    /// The path has no file name (`..`, a root).
    #[error("{what}: does not name a file")]
    NoFileName {
        /// The option and the caller's spelling of the path (`--out r.json`).
        what: String,
    },
    /// The folder the file would go in does not exist.
    #[error("{what}: the folder {dir} does not exist")]
    NoFolder {
        /// The option and the caller's spelling of the path (`--out r.json`).
        what: String,
        /// The missing folder, as derived from the path.
        dir: String,
    },
    /// Resolving the path's symbolic links loops (ELOOP).
    #[error("{what}: too many levels of symbolic links")]
    LinkLoop {
        /// The option and the caller's spelling of the path (`--out r.json`).
        what: String,
    },
    /// The output is the same file as an input or another output (compared as files, not spellings).
    #[error("{what} is the same file as {other}; refusing to overwrite it")]
    SameFile {
        /// The option and the caller's spelling of the path (`--out r.json`).
        what: String,
        /// The other option and its path.
        other: String,
    },
    /// An OS operation on the path or its folder failed.
    #[error("cannot write {what}: {op}: {cause}")]
    Io {
        /// The option and the caller's spelling of the path (`--out r.json`).
        what: String,
        /// The operation and the path it was applied to (`cannot inspect /a/b`).
        op: String,
        /// The OS error.
        cause: std::io::Error,
    },
    /// Writing the bytes failed (temporary file, rename, or a special file).
    #[error("cannot write {what}: {cause}")]
    Write {
        /// The option and the caller's spelling of the path (`--out r.json`).
        what: String,
        /// The OS error.
        cause: std::io::Error,
    },
    /// The content could not be serialised (e.g. JSON); nothing is written.
    #[error("cannot serialise {what}: {cause}")]
    Serialise {
        /// The option and the caller's spelling of the path (`--out r.json`).
        what: String,
        /// The serialiser's error text.
        cause: String,
    },
}

/// `azs-netprobe-<hostname>-<UTC timestamp>.json`.
pub fn default_file_name(hostname: &str, at: DateTime<Utc>) -> PathBuf {
    let safe: String =
        hostname.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    PathBuf::from(format!("{}-{}-{}.json", crate::TOOL_NAME, safe, at.format("%Y%m%dT%H%M%SZ")))
}

/// The OS error of an error of the tempfile crate, which appends ` at path "<temporary file>"`
/// (the caller named another path: the message names theirs, not ours). The crate keeps the
/// OS error private, so its text is taken without the suffix.
fn plain(e: std::io::Error) -> std::io::Error {
    if e.get_ref().is_none() {
        return e;
    }
    let text = e.to_string();
    let text = text.rsplit_once(" at path ").map_or(text.as_str(), |(os, _)| os);
    std::io::Error::new(e.kind(), text.to_string())
}

/// How an output is written.
#[derive(Debug, Clone, PartialEq, Eq)]
enum How {
    /// Through the process's standard output.
    Stdout,
    /// A special file, opened and written where it is (append: a regular file behind a /proc link).
    InPlace { path: PathBuf, append: bool },
    /// A temporary file in `dir`, renamed over `target` (the real file, symlinks resolved).
    Replace { dir: PathBuf, name: std::ffi::OsString },
}

/// One checked output: where it goes and how it is written. Made by [`Output::check`] or [`plan`].
#[derive(Debug, Clone)]
pub struct Output {
    /// Option and path as the caller gave them ("--html page.html").
    what: String,
    how: How,
}

/// Identity of a file, to refuse outputs that are inputs or each other.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FileId {
    #[cfg(unix)]
    Inode(u64, u64),
    Path(PathBuf),
    Stdout,
}

struct Identified {
    id: FileId,
    /// Writing twice to it is harmless (a character device: /dev/null, a terminal).
    shareable: bool,
}

fn describe(label: &str, path: &Path) -> String {
    if label.is_empty() { path.display().to_string() } else { format!("{label} {}", path.display()) }
}

fn io_err(what: &str, op: impl Into<String>) -> impl FnOnce(std::io::Error) -> WriteError {
    let what = what.to_string();
    let op = op.into();
    move |cause| WriteError::Io { what, op, cause }
}

#[cfg(unix)]
fn is_char_device(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    m.file_type().is_char_device()
}

#[cfg(not(unix))]
fn is_char_device(_: &std::fs::Metadata) -> bool {
    false
}

/// Device and inode of standard output, when it is open.
#[cfg(unix)]
fn stdout_inode() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let fd = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
    let m = std::fs::File::from(fd).metadata().ok()?;
    Some((m.dev(), m.ino()))
}

/// True when the (existing) file is the same file as standard output.
#[cfg(unix)]
fn is_stdout(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    stdout_inode() == Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn is_stdout(_: &std::fs::Metadata) -> bool {
    false
}

/// A link under /proc (Linux's /proc/self/fd/N, /dev/stdout's target) is not a path to follow:
/// its "target" may be `pipe:[123]`, or a file the caller opened on our behalf.
fn is_magic_link(p: &Path) -> bool {
    cfg!(target_os = "linux") && p.starts_with("/proc")
}

/// Where a chain of symlinks ends: `Ok(Some(path))` for a path that is not a symlink (it may not
/// exist), `Ok(None)` for a link that must not be followed by hand (under /proc).
fn resolve_links(path: &Path, what: &str) -> Result<Option<PathBuf>, WriteError> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(p)),
            Err(e) => return Err(io_err(what, format!("cannot inspect {}", p.display()))(e)),
            Ok(m) if !m.file_type().is_symlink() => return Ok(Some(p)),
            Ok(_) if is_magic_link(&p) => return Ok(None),
            Ok(_) => {
                let target =
                    std::fs::read_link(&p).map_err(io_err(what, format!("cannot read the link {}", p.display())))?;
                p = match p.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
        }
    }
    Err(WriteError::LinkLoop { what: what.into() })
}

fn ends_with_separator(path: &Path) -> bool {
    let s = path.as_os_str().as_encoded_bytes();
    s.last().is_some_and(|&b| std::path::is_separator(b as char))
}

/// The path as written ends with a `.` or `..` component (`r.json/.`, `out/..`): it names a
/// folder, even where `Path::components` would read `r.json/.` as `r.json`.
fn ends_with_dot_component(path: &Path) -> bool {
    let s = path.as_os_str().as_encoded_bytes();
    let last = s.rsplit(|&b| std::path::is_separator(b as char)).next().unwrap_or(s);
    last == b"." || last == b".."
}

impl Output {
    /// Standard output (`--out -`).
    pub fn stdout(label: &str) -> Output {
        Output { what: format!("{label} -"), how: How::Stdout }
    }

    /// Check that `path` can be written, without changing anything it names: see the module
    /// documentation for the rules. `label` names the option in messages (`--out`).
    pub fn check(label: &str, path: &Path) -> Result<Output, WriteError> {
        let what = describe(label, path);
        if path.as_os_str().is_empty() {
            return Err(WriteError::Empty { what: if label.is_empty() { "output".into() } else { label.into() } });
        }
        if ends_with_separator(path) {
            return Err(WriteError::TrailingSeparator { what });
        }
        // The caller's standard output (a terminal or /dev/null is simply opened in place).
        if let Ok(m) = std::fs::metadata(path)
            && !m.is_dir()
            && !is_char_device(&m)
            && is_stdout(&m)
        {
            return Ok(Output { what, how: How::Stdout });
        }
        let Some(real) = resolve_links(path, &what)? else {
            // A /proc link: the caller's open file (a pipe, a redirect). Written where it is.
            let m = std::fs::metadata(path).map_err(io_err(&what, "cannot open"))?;
            if m.is_dir() {
                return Err(WriteError::Folder { what });
            }
            let out = Output { what, how: How::InPlace { path: path.to_path_buf(), append: m.is_file() } };
            out.check_in_place(&m)?;
            return Ok(out);
        };
        match std::fs::metadata(&real) {
            Ok(m) if m.is_dir() => return Err(WriteError::Folder { what }),
            Ok(m) if !m.is_file() => {
                let out = Output { what, how: How::InPlace { path: real, append: false } };
                out.check_in_place(&m)?;
                return Ok(out);
            }
            _ => {}
        }
        // Not an existing folder, yet written as one (`r.json/.`): no file is named.
        if ends_with_dot_component(path) {
            return Err(WriteError::NoFileName { what });
        }
        let Some(name) = real.file_name().map(|n| n.to_os_string()) else {
            return Err(WriteError::NoFileName { what });
        };
        let dir = real.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();
        match std::fs::metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(WriteError::NoFolder { what, dir: dir.display().to_string() });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(WriteError::NoFolder { what, dir: dir.display().to_string() });
            }
            Err(e) => return Err(io_err(&what, format!("cannot inspect the folder {}", dir.display()))(e)),
        }
        let out = Output { what, how: How::Replace { dir, name } };
        // The folder takes a new file: the same exclusive temporary file the write will use.
        drop(out.temp_file()?);
        Ok(out)
    }

    /// Open a special file for writing (not a FIFO: opening one blocks until a reader comes).
    fn check_in_place(&self, m: &std::fs::Metadata) -> Result<(), WriteError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if m.file_type().is_fifo() {
                return Ok(());
            }
        }
        let _ = m;
        if let How::InPlace { path, append } = &self.how {
            std::fs::OpenOptions::new()
                .write(true)
                .append(*append)
                .open(path)
                .map(drop)
                .map_err(io_err(&self.what, "cannot open"))?;
        }
        Ok(())
    }

    fn temp_file(&self) -> Result<tempfile::NamedTempFile, WriteError> {
        let How::Replace { dir, name } = &self.how else {
            return Err(io_err(&self.what, "internal")(std::io::Error::other("not a replaced file")));
        };
        let prefix = format!(".{}.", name.to_string_lossy());
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // A replaced file keeps its mode; a new one gets 0644 (less the umask) as a plain
            // create would, so that a metrics collector running as another user can read it.
            let mode = std::fs::metadata(dir.join(name)).map_or(0o644, |m| m.permissions().mode() & 0o7777);
            builder.permissions(std::fs::Permissions::from_mode(mode));
        }
        builder
            .tempfile_in(dir)
            .map_err(|e| io_err(&self.what, format!("cannot create a file in the folder {}", dir.display()))(plain(e)))
    }

    fn write_err(&self, cause: std::io::Error) -> WriteError {
        WriteError::Write { what: self.what.clone(), cause }
    }

    /// The option and path as the caller spelled them (`--out r.json`).
    pub fn what(&self) -> &str {
        &self.what
    }

    /// The output is the process's standard output (the summary should go to standard error).
    pub fn is_stdout(&self) -> bool {
        self.how == How::Stdout
    }

    /// Write `bytes` (see the module documentation for how each kind of file is written).
    pub fn write(&self, bytes: &[u8]) -> Result<(), WriteError> {
        match &self.how {
            How::Stdout => crate::files::print_out(bytes).map_err(|cause| self.write_err(cause)),
            How::InPlace { path, append } => {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .append(*append)
                    .open(path)
                    .map_err(io_err(&self.what, "cannot open"))?;
                // Checked as a special file; a regular file now means it was swapped since: it
                // would be overwritten from its start, so refuse.
                if !append && f.metadata().is_ok_and(|m| m.is_file()) {
                    let changed = std::io::Error::other("it became a regular file after it was checked");
                    return Err(self.write_err(changed));
                }
                f.write_all(bytes).and_then(|()| f.flush()).map_err(|cause| self.write_err(cause))
            }
            How::Replace { dir, name } => {
                let mut tmp = self.temp_file()?;
                tmp.write_all(bytes).map_err(|cause| self.write_err(cause))?;
                tmp.as_file().sync_all().map_err(io_err(&self.what, "cannot flush to disk"))?;
                tmp.persist(dir.join(name))
                    .map(drop)
                    .map_err(|e| io_err(&self.what, "cannot rename into place")(plain(e.error)))
            }
        }
    }

    /// The identity of the file this output writes.
    fn identity(&self) -> Option<Identified> {
        match &self.how {
            How::Stdout => Some(stdout_identity()),
            How::InPlace { path, .. } => identify_existing(path),
            How::Replace { dir, name } => identify_existing(&dir.join(name)).or_else(|| {
                let dir = std::fs::canonicalize(dir).ok()?;
                Some(Identified { id: FileId::Path(dir.join(name)), shareable: false })
            }),
        }
    }
}

#[cfg(unix)]
fn stdout_identity() -> Identified {
    use std::os::fd::AsFd;
    let meta =
        std::io::stdout().as_fd().try_clone_to_owned().ok().and_then(|fd| std::fs::File::from(fd).metadata().ok());
    match meta {
        Some(m) => identify_meta(&m, Path::new("-")),
        None => Identified { id: FileId::Stdout, shareable: false },
    }
}

#[cfg(not(unix))]
fn stdout_identity() -> Identified {
    Identified { id: FileId::Stdout, shareable: false }
}

fn identify_meta(m: &std::fs::Metadata, path: &Path) -> Identified {
    let shareable = is_char_device(m);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = path;
        Identified { id: FileId::Inode(m.dev(), m.ino()), shareable }
    }
    #[cfg(not(unix))]
    {
        let id = std::fs::canonicalize(path).map_or_else(|_| FileId::Path(path.to_path_buf()), FileId::Path);
        Identified { id, shareable }
    }
}

fn identify_existing(path: &Path) -> Option<Identified> {
    let m = std::fs::metadata(path).ok()?;
    Some(identify_meta(&m, path))
}

/// Check every output of a command before it does any work: each path as [`Output::check`]
/// does, and no output the same file as an input or another output. `inputs` and `outputs` are
/// `(option, path)` pairs (`("--probes", p)`); an output path `-` is standard output. Returns
/// the checked outputs in the order given.
pub fn plan(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<Vec<Output>, WriteError> {
    let mut checked = Vec::with_capacity(outputs.len());
    for (label, path) in outputs {
        checked.push(if path.as_os_str() == "-" { Output::stdout(label) } else { Output::check(label, path)? });
    }
    let inputs: Vec<(String, Identified)> =
        inputs.iter().filter_map(|(label, path)| Some((describe(label, path), identify_existing(path)?))).collect();
    let mut seen: Vec<(&str, Identified)> = Vec::new();
    for out in &checked {
        let Some(me) = out.identity() else { continue };
        if me.shareable {
            continue;
        }
        if let Some((other, _)) = inputs.iter().find(|(_, i)| i.id == me.id) {
            return Err(WriteError::SameFile { what: out.what.clone(), other: other.clone() });
        }
        if let Some((other, _)) = seen.iter().find(|(_, i)| i.id == me.id) {
            return Err(WriteError::SameFile { what: out.what.clone(), other: (*other).to_string() });
        }
        seen.push((&out.what, me));
    }
    Ok(checked)
}

/// Check, before a run starts, that `path` can be written (see [`Output::check`]).
pub fn check_writable(path: &Path) -> Result<(), WriteError> {
    Output::check("", path).map(drop)
}

/// Write `bytes` to `path`: checked as [`Output::check`] does, then written as
/// [`Output::write`] does (atomically for regular files, in place for special files).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    Output::check("", path)?.write(bytes)
}

/// Serialise a report (or fleet report) as pretty JSON with a final newline; `what` names it
/// in the error.
pub fn to_json<T: serde::Serialize>(value: &T, what: &str) -> Result<Vec<u8>, WriteError> {
    let mut json = serde_json::to_vec_pretty(value)
        .map_err(|e| WriteError::Serialise { what: what.into(), cause: e.to_string() })?;
    json.push(b'\n');
    Ok(json)
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
    fn names_the_callers_path_not_a_temporary_file() {
        let err = Output::check("--out", Path::new("/nonexistent-dir/r.json")).unwrap_err().to_string();
        assert_eq!(err, "--out /nonexistent-dir/r.json: the folder /nonexistent-dir does not exist");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        std::fs::write(&real, b"old").unwrap();
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write_atomic(&link, b"new").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        // A dangling link: the file is created at its target.
        let dangling = dir.path().join("dangling.json");
        std::os::unix::fs::symlink("made.json", &dangling).unwrap();
        write_atomic(&dangling, b"made").unwrap();
        assert_eq!(std::fs::read(dir.path().join("made.json")).unwrap(), b"made");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4, "no temporary file left");
    }

    #[test]
    fn bad_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let msg = |p: &Path| Output::check("--out", p).unwrap_err().to_string();
        assert_eq!(msg(Path::new("")), "--out: the path is empty; name a file");
        let slash = dir.path().join("r.json/");
        assert!(msg(&slash).ends_with("r.json/: the path ends with a separator; name a file, not a folder"));
        assert!(msg(dir.path()).ends_with(": is a folder; name a file"));
        assert!(msg(&dir.path().join("..")).ends_with(": is a folder; name a file"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the checks leave nothing behind");
    }

    #[test]
    fn outputs_that_are_inputs_or_each_other_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::fs::write(&a, b"{}").unwrap();
        let other_spelling = dir.path().join(".").join("a.json");
        let err = plan(&[("--probes", &a)], &[("--out", &other_spelling)]).unwrap_err().to_string();
        assert!(err.contains("is the same file as --probes"), "{err}");
        let new = dir.path().join("new.html");
        let new2 = dir.path().join("sub/../new.html");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let err = plan(&[], &[("--out", &new), ("--html", &new2)]).unwrap_err().to_string();
        assert!(err.starts_with("--html ") && err.contains("is the same file as --out"), "{err}");
        assert_eq!(plan(&[("--probes", &a)], &[("--out", &new)]).unwrap().len(), 1);
    }

    #[test]
    fn a_report_that_cannot_be_serialised_is_an_error_not_an_empty_file() {
        // serde_json refuses map keys that are not strings.
        let bad: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into_iter().collect();
        let err = to_json(&bad, "the report").unwrap_err().to_string();
        assert!(err.starts_with("cannot serialise the report: key must be a string"), "{err}");
    }

    #[test]
    fn default_name_is_safe() {
        let at = DateTime::from_timestamp(0, 0).unwrap();
        assert_eq!(default_file_name("node 1/x", at), PathBuf::from("azs-netprobe-node_1_x-19700101T000000Z.json"));
    }
}
