//! A real third-party forward proxy: Debian's tinyproxy (1.11), run as a child
//! process on 127.0.0.1:<free port> with a generated configuration.
//!
//! Install: `apt-get install -y tinyproxy-bin` (the binary alone; the
//! `tinyproxy` package adds a system service). [`Tinyproxy::start`] returns
//! `None` when the binary is missing; callers decide whether that is fatal.
//!
//! Configuration (written into a temporary directory):
//! - `Listen 127.0.0.1`, `Allow 127.0.0.1`, `Port <free port>`, `Timeout 30`,
//!   `MaxClients 20`, `LogLevel Info`, `LogFile`/`PidFile` in the directory;
//! - no `ConnectPort` line: tinyproxy then allows CONNECT to every port;
//! - a whitelist filter (`FilterDefaultDeny Yes`, `FilterType ere`) that only
//!   lets through the IPv4 literals `127.x.y.z`. Tinyproxy filters on the
//!   request's host name before resolving or connecting, so a CONNECT to any
//!   other host or address (`localhost` included) is answered 403 "Filtered"
//!   and tinyproxy never sends a DNS query or a packet off the loopback;
//! - `User 65534`/`Group 65534` (nobody/nogroup): as root, tinyproxy drops to
//!   them right after binding (and after writing the PID file); as another
//!   user these lines are ignored. The log file is therefore pre-created
//!   world-writable, in a directory made world-readable;
//! - `BasicAuth user password` when asked: then every request, CONNECT
//!   included, needs `Proxy-Authorization: Basic` with these credentials.
//!   Without the header: `HTTP/1.0 407` with
//!   `Proxy-Authenticate: Basic realm="Tinyproxy"`; with wrong credentials:
//!   `HTTP/1.0 401 Unauthorized` with `WWW-Authenticate: Basic
//!   realm="Tinyproxy"` (sic, not 407). Both close the connection, and, like
//!   all of tinyproxy's error pages, carry an HTML body without
//!   Content-Length (delimited by the close).

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::child::{ChildServer, free_port, logged_and_accepting, stop, wait_ready};
use super::proxy::userinfo_encode;

/// How long [`Tinyproxy::start`] waits for the port to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts with a fresh port when tinyproxy dies at startup (e.g. the free
/// port was taken in between).
const ATTEMPTS: usize = 3;

/// A running tinyproxy; killed (SIGKILL) and reaped on drop.
pub struct Tinyproxy {
    pub addr: SocketAddr,
    child: Child,
    log_path: PathBuf,
    stderr_path: PathBuf,
    /// Removed after the child is gone (field order: dropped after `Drop::drop`).
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// Path of the tinyproxy binary: the first `tinyproxy` on PATH, else
    /// /usr/bin/tinyproxy or /usr/sbin/tinyproxy; `None` when not installed.
    pub fn binary() -> Option<PathBuf> {
        let from_path = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).map(|dir| dir.join("tinyproxy")).collect::<Vec<_>>())
            .unwrap_or_default();
        from_path
            .into_iter()
            .chain([PathBuf::from("/usr/bin/tinyproxy"), PathBuf::from("/usr/sbin/tinyproxy")])
            .find(|p| p.is_file())
    }

    /// Starts tinyproxy and waits until it accepts connections (at most 5 s;
    /// panics if it does not come up). `None` when the binary is not
    /// installed. BasicAuth credentials must match `[A-Za-z0-9._-]+`, which is
    /// all tinyproxy's configuration syntax accepts.
    pub fn start(basic_auth: Option<(&str, &str)>) -> Option<Tinyproxy> {
        let binary = Tinyproxy::binary()?;
        if let Some((user, password)) = basic_auth {
            for s in [user, password] {
                assert!(
                    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')),
                    "tinyproxy BasicAuth credentials must match [A-Za-z0-9._-]+, got {s:?}"
                );
            }
        }
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            match Tinyproxy::try_start(&binary, basic_auth) {
                Ok(proxy) => return Some(proxy),
                Err(failure) => failures.push(failure),
            }
        }
        panic!("tinyproxy did not start after {ATTEMPTS} attempts:\n{}", failures.join("\n----\n"));
    }

    fn try_start(binary: &Path, basic_auth: Option<(&str, &str)>) -> Result<Tinyproxy, String> {
        let dir = tempfile::Builder::new().prefix("lab-tinyproxy-").tempdir().expect("tempdir");
        // tinyproxy opens its log after dropping to nobody (when run as root).
        #[cfg(unix)]
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod tempdir");
        let log_path = dir.path().join("tinyproxy.log");
        File::create(&log_path).expect("create log file");
        #[cfg(unix)]
        std::fs::set_permissions(&log_path, std::fs::Permissions::from_mode(0o666)).expect("chmod log");
        let filter_path = dir.path().join("filter");
        std::fs::write(&filter_path, "^127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}$\n").expect("write filter");
        let stderr_path = dir.path().join("stderr.log");

        let port = free_port(Ipv4Addr::LOCALHOST.into());
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut conf = format!(
            "User 65534\n\
             Group 65534\n\
             Port {port}\n\
             Listen 127.0.0.1\n\
             Allow 127.0.0.1\n\
             Timeout 30\n\
             MaxClients 20\n\
             LogLevel Info\n\
             LogFile \"{log}\"\n\
             PidFile \"{pid}\"\n\
             ViaProxyName \"lab-tinyproxy\"\n\
             Filter \"{filter}\"\n\
             FilterType ere\n\
             FilterDefaultDeny Yes\n",
            log = log_path.display(),
            pid = dir.path().join("tinyproxy.pid").display(),
            filter = filter_path.display(),
        );
        if let Some((user, password)) = basic_auth {
            conf.push_str(&format!("BasicAuth {user} {password}\n"));
        }
        let conf_path = dir.path().join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).expect("write tinyproxy.conf");

        let child = Command::new(binary)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr_path).expect("create stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut proxy = Tinyproxy { addr, child, log_path, stderr_path, _dir: dir };

        let what = format!("tinyproxy on port {port}");
        wait_ready(&mut proxy, &what, STARTUP_TIMEOUT, Duration::from_millis(20), |p, log| {
            logged_and_accepting(log, "Accepting connections", p.addr)
        })?;
        Ok(proxy)
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://user:password@127.0.0.1:<port>` (percent-encoded).
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{}:{}@{}", userinfo_encode(user), userinfo_encode(password), self.addr)
    }

    /// The contents of tinyproxy's log file (plus its stderr, when it wrote
    /// any), for assertion messages.
    pub fn log(&self) -> String {
        let mut out =
            std::fs::read(&self.log_path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        if let Ok(stderr) = std::fs::read(&self.stderr_path)
            && !stderr.is_empty()
        {
            out.push_str("--- stderr ---\n");
            out.push_str(&String::from_utf8_lossy(&stderr));
        }
        out
    }
}

impl ChildServer for Tinyproxy {
    fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    fn log(&self) -> String {
        Tinyproxy::log(self)
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
