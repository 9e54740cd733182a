//! A real third-party intercepting proxy: Debian's Squid with ssl-bump (package `squid-openssl`),
//! run as a child process on 127.0.0.1:<free port> with a generated configuration and a CA of
//! the test's choosing, so that its minted certificates carry that CA's name as issuer.
//!
//! Install: `apt-get install -y squid-openssl`. [`Squid::binary`] is `None` when it is missing.
//!
//! Configuration (written into a temporary directory, which is made world-writable because
//! Squid drops to `nobody` as root):
//! - `http_port 127.0.0.1:<port> ssl-bump generate-host-certificates=on tls-cert=ca.pem tls-key=ca.key`:
//!   CONNECT tunnels are bumped (peek at step 1, then bump) and each site gets a certificate
//!   minted by the CA, cached in a fresh `security_file_certgen` database;
//! - `http_access deny !lab` with `acl lab dst 127.0.0.0/8`: Squid only ever connects to the
//!   loopback; `dns_nameservers 127.0.0.1` so no DNS query leaves the machine either;
//! - `tls_outgoing_options cafile=<upstream CA>`: Squid verifies the real server against the
//!   lab's own CA (it never disables verification);
//! - no cache, logs and PID file in the directory; `squid -N` (foreground), killed on drop.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
#[cfg(unix)]
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::TestCa;
use super::child::{ChildServer, free_port, logged_and_accepting, stop, wait_ready};

/// How long [`Squid::start`] waits for the port to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// Squid's certificate generator helper.
const CERTGEN: &str = "/usr/lib/squid/security_file_certgen";

/// A running Squid; killed and reaped on drop.
pub struct Squid {
    pub addr: SocketAddr,
    child: Child,
    log_path: PathBuf,
    stderr_path: PathBuf,
    _dir: tempfile::TempDir,
}

fn chmod_all(path: &Path) {
    #[cfg(not(unix))]
    let _ = path;
    #[cfg(unix)]
    {
        let mode = if path.is_dir() { 0o777 } else { 0o666 };
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
        if path.is_dir()
            && let Ok(entries) = std::fs::read_dir(path)
        {
            for e in entries.flatten() {
                chmod_all(&e.path());
            }
        }
    }
}

impl Squid {
    /// The squid binary (with its certificate generator), or `None` when not installed.
    pub fn binary() -> Option<PathBuf> {
        let certgen = Path::new(CERTGEN).is_file();
        ["/usr/sbin/squid", "/usr/bin/squid"].iter().map(PathBuf::from).find(|p| p.is_file() && certgen)
    }

    /// Start Squid bumping with `ca` (certificate and key), verifying upstream servers against
    /// `upstream_ca_pem`. Panics when it does not come up (with its log).
    pub fn start(ca: &TestCa, upstream_ca_pem: &str) -> Squid {
        let binary = Squid::binary().expect("squid-openssl is installed");
        let dir = tempfile::Builder::new().prefix("lab-squid-").tempdir().expect("tempdir");
        let d = dir.path();
        let ca_pem = ca.write_pem(d, "ca.pem");
        let ca_key = d.join("ca.key");
        std::fs::write(&ca_key, ca.key_pem()).expect("write the CA key");
        let upstream = d.join("upstream.pem");
        std::fs::write(&upstream, upstream_ca_pem).expect("write the upstream CA");
        let db = d.join("ssl_db");
        let init = Command::new(CERTGEN)
            .args(["-c", "-s"])
            .arg(&db)
            .args(["-M", "4MB"])
            .output()
            .expect("run security_file_certgen");
        assert!(init.status.success(), "security_file_certgen -c: {}", String::from_utf8_lossy(&init.stderr));
        let log_path = d.join("cache.log");
        let stderr_path = d.join("stderr.log");
        let port = free_port(Ipv4Addr::LOCALHOST.into());
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let conf = format!(
            "http_port 127.0.0.1:{port} ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=4MB tls-cert={ca} tls-key={key}\n\
             sslcrtd_program {CERTGEN} -s {db} -M 4MB\n\
             sslcrtd_children 2 startup=1 idle=1\n\
             acl lab dst 127.0.0.0/8\n\
             acl localhost src 127.0.0.1\n\
             http_access deny !lab\n\
             http_access allow localhost\n\
             http_access deny all\n\
             acl step1 at_step SslBump1\n\
             ssl_bump peek step1\n\
             ssl_bump bump all\n\
             tls_outgoing_options cafile={upstream}\n\
             cache deny all\n\
             dns_nameservers 127.0.0.1\n\
             pid_filename {dir}/squid.pid\n\
             cache_log {log}\n\
             access_log {dir}/access.log\n\
             coredump_dir {dir}\n\
             cache_effective_user nobody\n\
             shutdown_lifetime 0 seconds\n",
            ca = ca_pem.display(),
            key = ca_key.display(),
            db = db.display(),
            upstream = upstream.display(),
            dir = d.display(),
            log = log_path.display(),
        );
        let conf_path = d.join("squid.conf");
        std::fs::write(&conf_path, conf).expect("write squid.conf");
        File::create(&log_path).expect("create the log");
        chmod_all(d);
        let child = Command::new(&binary)
            .args(["-N", "-d", "1", "-f"])
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&stderr_path).expect("create stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut squid = Squid { addr, child, log_path, stderr_path, _dir: dir };
        let what = format!("squid on port {port}");
        if let Err(e) = wait_ready(&mut squid, &what, STARTUP_TIMEOUT, Duration::from_millis(50), |s, log| {
            logged_and_accepting(log, "Accepting SSL bumped HTTP Socket connections", s.addr)
        }) {
            panic!("{e}");
        }
        squid
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Squid's cache.log and stderr, for assertion messages.
    pub fn log(&self) -> String {
        let read = |p: &Path| std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        format!("{}\n--- stderr ---\n{}", read(&self.log_path), read(&self.stderr_path))
    }
}

impl ChildServer for Squid {
    fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    fn log(&self) -> String {
        Squid::log(self)
    }
}

impl Drop for Squid {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
