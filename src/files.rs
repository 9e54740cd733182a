//! Input files read with a cap, and the console written without panicking on a closed pipe.
//!
//! Every file the tool reads comes from the caller and is treated as hostile: it is read through
//! [`read_capped`], which stops one byte past a cap chosen for the file's purpose, so `/dev/zero`,
//! an endless FIFO or a huge file is refused with a message naming the file and the cap instead
//! of exhausting memory.
//!
//! Standard output and standard error are written through [`print_out`] / [`print_err`]: Rust
//! ignores SIGPIPE, so a write to a closed pipe (`azs-netprobe schema | head -c1`) returns EPIPE,
//! which `print!` turns into a panic. These helpers stop writing quietly instead, and the exit
//! code stays the one the run decided.

use std::io::{Read, Write};
use std::path::Path;

/// What an input file is for; each purpose has its own cap (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// `--probes FILE` (TOML): 16 MiB. The built-in sets are ~4 KiB, but generated probe files for
    /// scale runs are large: 20,000 endpoints take ~1.8 MiB, so 16 MiB leaves room for ~150,000.
    ProbeFile,
    /// `--public-roots`, `--system-roots`, `SSL_CERT_FILE` (PEM): 8 MiB; a full public bundle is
    /// ~250 KiB, corporate bundles with every intermediate rarely pass 2 MiB.
    PemBundle,
    /// A report given to `merge` or `render` (JSON): 64 MiB; a 20,000-endpoint report is ~40 MiB.
    Report,
    /// A small file of the operating system read for the report (/etc/os-release): 64 KiB.
    SystemFile,
}

impl InputKind {
    /// The most bytes a file of this kind may hold.
    pub fn cap(self) -> u64 {
        const MIB: u64 = 1024 * 1024;
        match self {
            InputKind::ProbeFile => 16 * MIB,
            InputKind::PemBundle => 8 * MIB,
            InputKind::Report => 64 * MIB,
            InputKind::SystemFile => MIB / 16,
        }
    }

    /// How the file is named in errors ("probe file").
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::ProbeFile => "probe file",
            InputKind::PemBundle => "PEM bundle",
            InputKind::Report => "report",
            InputKind::SystemFile => "system file",
        }
    }
}

/// Why an input file could not be read. Display names the file and carries the cause once.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading failed (missing, permission, a folder...).
    #[error("cannot read {} {path}: {cause}", kind.as_str())]
    Io {
        /// The file's path, as given.
        path: String,
        /// What the file is (names it in the message).
        kind: InputKind,
        /// The OS error.
        cause: std::io::Error,
    },
    /// The file holds more than the cap of its kind.
    #[error("{path} is larger than the {} cap for a {}", size(*cap_kib), kind.as_str())]
    TooLarge {
        /// The file's path, as given.
        path: String,
        /// The cap of its kind, in KiB.
        cap_kib: u64,
        /// What the file is (decides the cap).
        kind: InputKind,
    },
}

/// "1 MiB", "64 KiB".
fn size(kib: u64) -> String {
    if kib >= 1024 && kib.is_multiple_of(1024) { format!("{} MiB", kib / 1024) } else { format!("{kib} KiB") }
}

/// Read at most `kind.cap()` bytes of `path`; a longer (or endless) file is refused without
/// reading more than one byte past the cap.
pub fn read_capped(path: &Path, kind: InputKind) -> Result<Vec<u8>, ReadError> {
    let shown = path.display().to_string();
    let io = |cause| ReadError::Io { path: shown.clone(), kind, cause };
    let file = std::fs::File::open(path).map_err(io)?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(io(std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a folder, not a file")));
    }
    let cap = kind.cap();
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::TooLarge { path: shown, cap_kib: cap / 1024, kind });
    }
    Ok(bytes)
}

/// Write to standard output; a closed pipe ends the writing quietly (Ok). Other errors are
/// returned (a full disk behind a redirect is worth an error).
pub fn print_out(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    quiet_on_broken_pipe(out.write_all(bytes).and_then(|()| out.flush()))
}

/// Write to standard error; a closed pipe or any other failure is ignored (there is nowhere
/// left to report it).
pub fn print_err(bytes: &[u8]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(bytes).and_then(|()| err.flush());
}

fn quiet_on_broken_pipe(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_file_over_the_cap_is_refused_naming_file_and_cap() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.toml");
        std::fs::write(&p, vec![b'#'; 16 * 1024 * 1024 + 1]).unwrap();
        let err = read_capped(&p, InputKind::ProbeFile).unwrap_err().to_string();
        assert_eq!(err, format!("{} is larger than the 16 MiB cap for a probe file", p.display()));
        std::fs::write(&p, vec![b'#'; 16 * 1024 * 1024]).unwrap();
        assert_eq!(read_capped(&p, InputKind::ProbeFile).unwrap().len(), 16 * 1024 * 1024);
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_device_is_refused() {
        let err = read_capped(Path::new("/dev/zero"), InputKind::PemBundle).unwrap_err().to_string();
        assert_eq!(err, "/dev/zero is larger than the 8 MiB cap for a PEM bundle");
    }

    #[test]
    fn a_folder_is_refused_once() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_capped(dir.path(), InputKind::Report).unwrap_err().to_string();
        assert!(err.starts_with(&format!("cannot read report {}: ", dir.path().display())), "{err}");
        assert_eq!(err.matches("folder").count(), 1, "{err}");
    }
}
