//! A real third-party intercepting proxy: mitmproxy's `mitmdump` (PyPI
//! `mitmproxy`, 11.0.2 on Python 3.11), run as a child process in regular
//! (explicit proxy) mode on 127.0.0.1:<free port>.
//!
//! Install: `pip install mitmproxy` (pip picks the newest release that
//! supports the running Python: 11.0.2 for 3.11; 12.x needs Python 3.12).
//! [`Mitmproxy::start`] returns `None` when `mitmdump` is missing; callers
//! decide whether that is fatal.
//!
//! Options (`mitmdump --set ...`):
//! - `listen_host=127.0.0.1`, `listen_port=<free port>`, `mode=regular`;
//! - `confdir=<tempdir>`: mitmproxy creates its CA there on first start
//!   (`CN=mitmproxy, O=mitmproxy`, RSA 2048, sha256WithRSAEncryption, valid
//!   10 years from 2 days ago); [`Mitmproxy::start_with_ca`] puts a lab CA
//!   there instead, so its leaves are issued by e.g. a "Zscaler" CA;
//! - `ssl_insecure=true`: upstream certificates are not verified (the lab
//!   upstream is signed by a lab CA);
//! - `http3=false`, `termlog_verbosity=info`, `flow_detail=1`.
//!
//! Loopback only: mitmproxy's own `allow_hosts` does NOT refuse other hosts
//! (it passes them through untouched), so a small addon script (written next
//! to the confdir, loaded with `-s`) refuses everything but IPv4 literals in
//! 127.0.0.0/8: a CONNECT to any other host gets `403` with
//! `X-Lab-Refused: <host>` before any lookup, and every other upstream
//! connection (plain proxied HTTP included) is killed in the `server_connect`
//! hook, before any DNS lookup or connect (mitmproxy answers `502` "Connection
//! killed: ..."). mitmproxy has no update check or telemetry; under strace it
//! connects nowhere but the lab addresses it is asked for.
//!
//! Behaviour worth knowing: with the default `connection_strategy=eager` and
//! `upstream_cert=true`, mitmproxy connects to the CONNECT target before it
//! answers the client's ClientHello and copies the upstream certificate's
//! names into the leaf it mints (plus the SNI or, without SNI, the target IP
//! as an IP SAN): a CONNECT to 127.0.0.1:<port> of a server whose leaf names
//! `svc.lab.test` and `127.0.0.1` gives a leaf with exactly those SANs. Its
//! leaves are valid from 2 days ago to 1 year from now (not "minted minutes
//! ago"), carry no SCTs, and are signed with SHA-256 by the CA's key.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::certs::TestCa;
use super::child::{ChildServer, free_port, logged_and_accepting, stop, wait_ready};

/// How long [`Mitmproxy::start`] waits for the port to accept connections
/// (mitmdump typically needs ~0.6-1 s, the first start of a Python process
/// with a cold cache up to a few seconds).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts with a fresh port when mitmdump dies at startup (e.g. the free
/// port was taken in between).
const ATTEMPTS: usize = 3;

/// The loopback guard addon (see the module docs).
const GUARD_ADDON: &str = r#"import ipaddress
import logging

from mitmproxy import http


def _loopback_v4(host):
    try:
        ip = ipaddress.ip_address(host)
    except (TypeError, ValueError):
        return False
    return ip.version == 4 and ip.is_loopback


class LabLoopbackOnly:
    def http_connect(self, flow):
        if not _loopback_v4(flow.request.host):
            flow.response = http.Response.make(
                403,
                b"lab mitmproxy: only IPv4 literals in 127.0.0.0/8\n",
                {"X-Lab-Refused": flow.request.host},
            )

    def server_connect(self, data):
        address = data.server.address
        if not address or not _loopback_v4(address[0]):
            logging.warning("lab guard: refusing server connection to %r", address)
            data.server.error = "lab guard: destination outside 127.0.0.0/8"


addons = [LabLoopbackOnly()]
"#;

/// A running mitmdump; killed (SIGKILL) and reaped on drop.
pub struct Mitmproxy {
    pub addr: SocketAddr,
    child: Child,
    confdir: PathBuf,
    log_path: PathBuf,
    /// Removed after the child is gone (field order: dropped after `Drop::drop`).
    _dir: tempfile::TempDir,
}

impl Mitmproxy {
    /// Path of `mitmdump`: the first on PATH, else in `$PYENV_ROOT/shims`,
    /// `~/.pyenv/shims`, `~/.local/bin`, /usr/local/bin or /usr/bin; `None`
    /// when not installed. (A pyenv shim execs the real script in place, so
    /// the child's PID stays the Python process's.)
    pub fn binary() -> Option<PathBuf> {
        let mut dirs: Vec<PathBuf> =
            std::env::var_os("PATH").map(|path| std::env::split_paths(&path).collect()).unwrap_or_default();
        if let Some(root) = std::env::var_os("PYENV_ROOT") {
            dirs.push(PathBuf::from(root).join("shims"));
        }
        if let Some(home) = std::env::var_os("HOME") {
            dirs.push(PathBuf::from(&home).join(".pyenv/shims"));
            dirs.push(PathBuf::from(&home).join(".local/bin"));
        }
        dirs.extend([PathBuf::from("/usr/local/bin"), PathBuf::from("/usr/bin")]);
        dirs.into_iter().map(|dir| dir.join("mitmdump")).find(|p| p.is_file())
    }

    /// Starts mitmdump with its own freshly generated CA and waits until it
    /// accepts connections (panics if it does not come up). `None` when
    /// mitmdump is not installed.
    pub fn start() -> Option<Mitmproxy> {
        Mitmproxy::start_inner(None)
    }

    /// Like [`Mitmproxy::start`], with `ca` as mitmproxy's CA (its leaves are
    /// then issued by `ca`, e.g. a `TestCa::new_with("Zscaler Intermediate
    /// Root CA", "Zscaler Inc.")`).
    pub fn start_with_ca(ca: &TestCa) -> Option<Mitmproxy> {
        Mitmproxy::start_inner(Some(ca))
    }

    fn start_inner(ca: Option<&TestCa>) -> Option<Mitmproxy> {
        let binary = Mitmproxy::binary()?;
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            match Mitmproxy::try_start(&binary, ca) {
                Ok(proxy) => return Some(proxy),
                Err(failure) => failures.push(failure),
            }
        }
        panic!("mitmdump did not start after {ATTEMPTS} attempts:\n{}", failures.join("\n----\n"));
    }

    fn try_start(binary: &Path, ca: Option<&TestCa>) -> Result<Mitmproxy, String> {
        let dir = tempfile::Builder::new().prefix("lab-mitmproxy-").tempdir().expect("tempdir");
        let confdir = dir.path().join("conf");
        std::fs::create_dir(&confdir).expect("create confdir");
        if let Some(ca) = ca {
            // mitmproxy reads key + certificate from mitmproxy-ca.pem and
            // generates only what is missing; the -cert.pem is for clients.
            std::fs::write(confdir.join("mitmproxy-ca.pem"), format!("{}{}", ca.key_pem(), ca.cert_pem))
                .expect("write mitmproxy-ca.pem");
            std::fs::write(confdir.join("mitmproxy-ca-cert.pem"), &ca.cert_pem).expect("write mitmproxy-ca-cert.pem");
        }
        let addon = dir.path().join("lab_guard.py");
        std::fs::write(&addon, GUARD_ADDON).expect("write guard addon");
        let log_path = dir.path().join("mitmdump.log");

        let port = free_port(Ipv4Addr::LOCALHOST.into());
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let log = File::create(&log_path).expect("create log file");
        let child = Command::new(binary)
            .arg("--mode")
            .arg("regular")
            .arg("--listen-host")
            .arg("127.0.0.1")
            .arg("--listen-port")
            .arg(port.to_string())
            .arg("--set")
            .arg(format!("confdir={}", confdir.display()))
            .args(["--set", "ssl_insecure=true"])
            .args(["--set", "http3=false"])
            .args(["--set", "termlog_verbosity=info"])
            .args(["--set", "flow_detail=1"])
            .arg("-s")
            .arg(&addon)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut proxy = Mitmproxy { addr, child, confdir, log_path, _dir: dir };

        let ready_line = format!("proxy listening at 127.0.0.1:{port}");
        let what = format!("mitmdump on port {port}");
        wait_ready(&mut proxy, &what, STARTUP_TIMEOUT, Duration::from_millis(20), |p, log| {
            logged_and_accepting(log, &ready_line, p.addr)
        })?;
        Ok(proxy)
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `<confdir>/mitmproxy-ca-cert.pem`: the CA certificate a client must
    /// trust (exists once [`Mitmproxy::start`] returned).
    pub fn ca_pem_path(&self) -> PathBuf {
        self.confdir.join("mitmproxy-ca-cert.pem")
    }

    /// The contents of [`Mitmproxy::ca_pem_path`].
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.ca_pem_path()).expect("read mitmproxy CA certificate")
    }

    /// mitmdump's output (stdout and stderr), for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }
}

impl ChildServer for Mitmproxy {
    fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    fn log(&self) -> String {
        Mitmproxy::log(self)
    }
}

impl Drop for Mitmproxy {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
