//! Legacy TLS peers that rustls/ring cannot produce, made with Debian's
//! `openssl` command (OpenSSL 3.0, package `openssl`):
//! - [`tls10_only_server`]: an `openssl s_server` that speaks TLS 1.0 only;
//! - [`sha1_pki`]: an RSA CA and a leaf signed with sha1WithRSAEncryption.
//!
//! Every function returns `None` when `openssl` is not installed; callers
//! decide whether that is fatal.
//!
//! TLS 1.0 on OpenSSL 3: the protocol is compiled in but below the default
//! security level 1 (its handshake signatures use SHA-1/MD5-SHA1), so both
//! sides need `-cipher DEFAULT@SECLEVEL=0`: the server runs with
//! `-tls1 -cipher DEFAULT@SECLEVEL=0`, and a client must use
//! `openssl s_client -tls1 -cipher DEFAULT@SECLEVEL=0` (plain `-tls1` fails
//! with "legacy sigalg disallowed or unsupported"; `-tls1_2` fails with
//! "unsupported protocol").

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use super::certs::{Leaf, TestCa};
use super::child::{ChildServer, free_port, stop, wait_ready};

/// How long a server start waits for `ACCEPT`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts with a fresh port when s_server dies at startup (e.g. the free
/// port was taken in between).
const ATTEMPTS: usize = 3;

/// Path of `openssl`: the first on PATH, else /usr/bin/openssl; `None` when
/// not installed.
pub fn openssl_binary() -> Option<PathBuf> {
    let from_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join("openssl")).collect::<Vec<_>>())
        .unwrap_or_default();
    from_path.into_iter().chain([PathBuf::from("/usr/bin/openssl")]).find(|p| p.is_file())
}

/// A running `openssl s_server`; killed (SIGKILL) and reaped on drop.
pub struct LegacyServer {
    pub addr: SocketAddr,
    /// The CA that issued the served leaf, PEM, when the server made its own
    /// ([`tls10_only_server`]); `None` for [`tls10_only_server_with`].
    pub ca_pem: Option<String>,
    child: Child,
    out_path: PathBuf,
    /// Removed after the child is gone (field order: dropped after `Drop::drop`).
    _dir: tempfile::TempDir,
}

/// `openssl s_server -tls1 -cipher DEFAULT@SECLEVEL=0 -www` on
/// 127.0.0.1:<free port>, serving a leaf for `legacy.lab.test` and
/// `127.0.0.1` (ECDSA P-256) issued by its own rcgen CA "Lab Legacy CA"
/// (see [`LegacyServer::ca_pem`]). It accepts TLS 1.0 only:
/// - a client offering TLS 1.3 and 1.2 in `supported_versions` (rustls, any
///   modern client) gets a fatal `protocol_version` alert instead of a
///   ServerHello: rustls reports
///   `Error::AlertReceived(AlertDescription::ProtocolVersion)`, and the log
///   shows `tls_early_post_process_client_hello:unsupported protocol`;
/// - a TLS 1.2 ClientHello without `supported_versions` (`openssl s_client
///   -tls1_2`) gets a TLS 1.0 ServerHello, which that client refuses
///   (`ssl_choose_client_version:unsupported protocol`).
///
/// `-www` answers a `GET /` with `HTTP/1.0 200 ok` and an HTML status page.
/// Connections are served one at a time.
pub fn tls10_only_server() -> Option<LegacyServer> {
    let ca = TestCa::new("Lab Legacy CA");
    let leaf = ca.leaf(&["legacy.lab.test", "127.0.0.1"]);
    let mut server = tls10_only_server_with(IpAddr::V4(Ipv4Addr::LOCALHOST), &leaf)?;
    server.ca_pem = Some(ca.cert_pem.clone());
    Some(server)
}

/// Like [`tls10_only_server`], on `ip`:<free port> (127.0.0.0/8 only),
/// serving `leaf` (its chain: leaf then intermediates).
pub fn tls10_only_server_with(ip: IpAddr, leaf: &Leaf) -> Option<LegacyServer> {
    assert!(ip.is_loopback(), "lab servers bind loopback only, got {ip}");
    let binary = openssl_binary()?;
    let mut failures = Vec::new();
    for _ in 0..ATTEMPTS {
        match try_start(&binary, ip, leaf) {
            Ok(server) => return Some(server),
            Err(failure) => failures.push(failure),
        }
    }
    panic!("openssl s_server did not start after {ATTEMPTS} attempts:\n{}", failures.join("\n----\n"));
}

fn try_start(binary: &Path, ip: IpAddr, leaf: &Leaf) -> Result<LegacyServer, String> {
    let dir = tempfile::Builder::new().prefix("lab-legacy-").tempdir().expect("tempdir");
    let cert_path = dir.path().join("cert.pem");
    std::fs::write(&cert_path, pem("CERTIFICATE", &leaf.cert_der)).expect("write cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&key_path, pem("PRIVATE KEY", &leaf.key_der)).expect("write key.pem");
    let chain_path = dir.path().join("chain.pem");
    let chain: String = leaf.chain_der.iter().skip(1).map(|der| pem("CERTIFICATE", der)).collect();
    std::fs::write(&chain_path, chain).expect("write chain.pem");
    let out_path = dir.path().join("s_server.log");

    let addr = SocketAddr::new(ip, free_port(ip));
    let out = File::create(&out_path).expect("create log file");
    let mut cmd = Command::new(binary);
    cmd.arg("s_server")
        .arg("-accept")
        .arg(addr.to_string())
        .arg("-cert")
        .arg(&cert_path)
        .arg("-key")
        .arg(&key_path)
        .args(["-tls1", "-cipher", "DEFAULT@SECLEVEL=0", "-www"]);
    if leaf.chain_der.len() > 1 {
        cmd.arg("-cert_chain").arg(&chain_path);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone log handle"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
    let mut server = LegacyServer { addr, ca_pem: None, child, out_path, _dir: dir };

    // s_server prints ACCEPT once it listens (no test connection: s_server
    // serves one connection at a time and would log it as a failure).
    let what = format!("openssl s_server on {addr}");
    wait_ready(&mut server, &what, STARTUP_TIMEOUT, Duration::from_millis(10), |_, log| {
        log.lines().any(|l| l.trim() == "ACCEPT")
    })?;
    Ok(server)
}

impl LegacyServer {
    /// s_server's output (stdout and stderr): `ACCEPT`, then one line per
    /// failed handshake (e.g. `...:ssl3_get_record:wrong version number...`).
    pub fn log(&self) -> String {
        std::fs::read(&self.out_path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
    }
}

impl ChildServer for LegacyServer {
    fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    fn log(&self) -> String {
        LegacyServer::log(self)
    }
}

impl Drop for LegacyServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// An RSA PKI whose leaf is signed with sha1WithRSAEncryption.
#[derive(Clone, Debug)]
pub struct Sha1Pki {
    /// The root, PEM (self-signed, sha256WithRSAEncryption: a trust anchor's
    /// own signature is never checked), `CN=Lab SHA-1 Root CA, O=Lab Legacy
    /// PKI`, RSA 2048, CA:TRUE, valid 10 years from now.
    pub ca_pem: String,
    /// The root, DER.
    pub ca_der: Vec<u8>,
    /// RSA 2048 leaf, sha1WithRSAEncryption, SANs = the names (IP literals as
    /// IP SANs), CN = the first name, serverAuth, valid 90 days from now;
    /// chain = the leaf alone.
    pub leaf: Leaf,
}

/// Makes a [`Sha1Pki`] with `openssl req`/`openssl x509 -sha1` (rcgen and
/// ring cannot sign with SHA-1). Takes ~0.1-0.5 s (two RSA 2048 keys).
/// `None` when `openssl` is not installed.
///
/// A TLS server (e.g. the lab's rustls [`super::TlsServer`]) can serve the
/// leaf: only the certificate's signature is SHA-1, the handshake signature
/// is RSA-PSS/PKCS#1 with SHA-256. webpki (rustls' verifier) has no SHA-1
/// algorithms, so a rustls client trusting `ca_pem` fails with
/// `InvalidCertificate(UnsupportedSignatureAlgorithmContext { .. })`.
pub fn sha1_pki(names: &[&str]) -> Option<Sha1Pki> {
    let binary = openssl_binary()?;
    assert!(!names.is_empty(), "sha1_pki needs at least one name");
    let dir = tempfile::Builder::new().prefix("lab-sha1-").tempdir().expect("tempdir");
    let path = |file: &str| dir.path().join(file);
    let sans: Vec<String> = names
        .iter()
        .map(|n| if n.parse::<IpAddr>().is_ok() { format!("IP:{n}") } else { format!("DNS:{n}") })
        .collect();
    std::fs::write(
        path("leaf.ext"),
        format!(
            "basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\n\
             subjectKeyIdentifier=hash\n\
             authorityKeyIdentifier=keyid\n\
             subjectAltName={}\n",
            sans.join(",")
        ),
    )
    .expect("write leaf.ext");

    let run = |args: &[&str]| {
        let out = Command::new(&binary)
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        assert!(
            out.status.success(),
            "openssl {args:?} failed with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "3650",
        "-subj",
        "/CN=Lab SHA-1 Root CA/O=Lab Legacy PKI",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    let subject = format!("/CN={}", names[0]);
    run(&[
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", &subject,
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-sha1",
        "-days",
        "90",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    ]);

    let ca_pem = std::fs::read_to_string(path("ca.pem")).expect("read ca.pem");
    let ca_der = CertificateDer::from_pem_file(path("ca.pem")).expect("parse ca.pem").to_vec();
    let cert_der = CertificateDer::from_pem_file(path("leaf.pem")).expect("parse leaf.pem").to_vec();
    // `openssl req -newkey` writes PKCS#8 ("BEGIN PRIVATE KEY") on OpenSSL 3.
    let key_der = PrivatePkcs8KeyDer::from_pem_file(path("leaf.key")).expect("parse leaf.key (PKCS#8)");
    let leaf =
        Leaf { cert_der: cert_der.clone(), key_der: key_der.secret_pkcs8_der().to_vec(), chain_der: vec![cert_der] };
    Some(Sha1Pki { ca_pem, ca_der, leaf })
}

/// DER -> PEM with the given label, 64-column base64.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
