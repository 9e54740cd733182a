//! Real third-party PKI tools: a CA run by `openssl ca` (certificates naming CRL, OCSP and
//! caIssuers URLs, revocation, `openssl ca -gencrl`), OCSP answers made by `openssl ocsp` from
//! the CA's index, and nginx serving the CRL and the CA certificate on 127.0.0.1.
//!
//! `openssl ocsp`'s own server mode binds every interface (its `-port` takes a number only), so
//! the OCSP answers are made by `openssl ocsp -reqin/-respout` (the same responder code, fed
//! from the index) behind the loopback [`super::WebServer`]; see [`OpensslCa::ocsp_handler`].
//!
//! Install: `apt-get install -y nginx-light` (the binary alone; the service stays stopped).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use super::Leaf;
use super::child::{ChildServer, free_port, stop, wait_ready};
use super::legacy::openssl_binary;
use super::pki_web::{Handler, Reply};

/// A running nginx serving a directory on 127.0.0.1:<free port>; killed on drop.
pub struct Nginx {
    pub addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// The nginx binary (PATH, /usr/sbin/nginx), when installed.
    pub fn binary() -> Option<PathBuf> {
        let from_path = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).map(|dir| dir.join("nginx")).collect::<Vec<_>>())
            .unwrap_or_default();
        from_path.into_iter().chain([PathBuf::from("/usr/sbin/nginx")]).find(|p| p.is_file())
    }

    /// Serve `root` (`.crl` as application/pkix-crl, `.cer` as application/pkix-cert); None when
    /// nginx is not installed.
    pub fn start(root: &Path) -> Option<Nginx> {
        let binary = Nginx::binary()?;
        let dir = tempfile::Builder::new().prefix("lab-nginx-").tempdir().expect("tempdir");
        let port = free_port(Ipv4Addr::LOCALHOST.into());
        let d = dir.path().display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             types {{ application/pkix-crl crl; application/pkix-cert cer; }}\n  default_type application/octet-stream;\n  \
             server {{ listen 127.0.0.1:{port}; root {root}; }}\n}}\n",
            root = root.display()
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).expect("write nginx.conf");
        let child = Command::new(&binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut nginx = Nginx { addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)), child, dir };
        let addr = nginx.addr;
        wait_ready(&mut nginx, "nginx", Duration::from_secs(5), Duration::from_millis(20), |_, _| {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
        })
        .expect("nginx starts");
        Some(nginx)
    }

    /// nginx's access log (one line per request).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl ChildServer for Nginx {
    fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A CA run by `openssl ca` in a temporary directory: `www/` holds what nginx serves.
pub struct OpensslCa {
    pub dir: tempfile::TempDir,
    pub openssl: PathBuf,
    /// The CA certificate, PEM.
    pub cert_pem: String,
}

fn run(openssl: &Path, dir: &Path, args: &[&str]) {
    let out = Command::new(openssl).current_dir(dir).args(args).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl OpensslCa {
    /// A self-signed EC CA; None when openssl is not installed.
    pub fn new() -> Option<OpensslCa> {
        let openssl = openssl_binary()?;
        let dir = tempfile::Builder::new().prefix("lab-openssl-ca-").tempdir().expect("tempdir");
        let p = dir.path();
        for d in ["newcerts", "www"] {
            std::fs::create_dir(p.join(d)).expect("mkdir");
        }
        std::fs::write(p.join("index.txt"), "").expect("index");
        std::fs::write(p.join("serial"), "1000\n").expect("serial");
        std::fs::write(p.join("crlnumber"), "01\n").expect("crlnumber");
        let conf = format!(
            "[ca]\ndefault_ca = lab\n[lab]\ndir = {d}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/newcerts\n\
             serial = $dir/serial\ncrlnumber = $dir/crlnumber\ncertificate = $dir/ca.pem\nprivate_key = $dir/ca.key\n\
             default_md = sha256\ndefault_days = 30\ndefault_crl_days = 7\npolicy = anything\nunique_subject = no\n\
             [anything]\ncommonName = supplied\n",
            d = p.display()
        );
        std::fs::write(p.join("ca.cnf"), conf).expect("ca.cnf");
        run(
            &openssl,
            p,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/CN=Lab OpenSSL CA/O=Lab OpenSSL",
                "-days",
                "30",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            ],
        );
        run(&openssl, p, &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "www/ca.cer"]);
        let cert_pem = std::fs::read_to_string(p.join("ca.pem")).expect("ca.pem");
        Some(OpensslCa { dir, openssl, cert_pem })
    }

    /// Issue a leaf for 127.0.0.1 named `name` (files `<name>.pem`, `<name>.key`) naming these
    /// CRL, OCSP and caIssuers URLs.
    pub fn issue(&self, name: &str, crl_url: &str, ocsp_url: &str, ca_issuers_url: &str) -> Leaf {
        let p = self.dir.path();
        let ext = format!("{name}.ext");
        std::fs::write(
            p.join(&ext),
            format!(
                "[leaf_ext]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n\
                 subjectAltName = IP:127.0.0.1\ncrlDistributionPoints = URI:{crl_url}\n\
                 authorityInfoAccess = OCSP;URI:{ocsp_url},caIssuers;URI:{ca_issuers_url}\n"
            ),
        )
        .expect("write extensions");
        let (key, csr, pem) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
        run(
            &self.openssl,
            p,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        run(
            &self.openssl,
            p,
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-extfile",
                &ext,
                "-extensions",
                "leaf_ext",
                "-notext",
                "-in",
                &csr,
                "-out",
                &pem,
            ],
        );
        let der = format!("{name}.der");
        let key_der = format!("{name}.key.der");
        run(&self.openssl, p, &["x509", "-in", &pem, "-outform", "DER", "-out", &der]);
        run(&self.openssl, p, &["pkcs8", "-topk8", "-nocrypt", "-in", &key, "-outform", "DER", "-out", &key_der]);
        let cert_der = std::fs::read(p.join(&der)).expect("leaf DER");
        Leaf {
            cert_der: cert_der.clone(),
            key_der: std::fs::read(p.join(&key_der)).expect("key DER"),
            chain_der: vec![cert_der],
        }
    }

    /// `openssl ca -revoke` the leaf `name`.
    pub fn revoke(&self, name: &str) {
        run(
            &self.openssl,
            self.dir.path(),
            &["ca", "-config", "ca.cnf", "-revoke", &format!("{name}.pem"), "-crl_reason", "keyCompromise"],
        );
    }

    /// `openssl ca -gencrl`, written as DER to `www/lab.crl`.
    pub fn publish_crl(&self) {
        let p = self.dir.path();
        run(&self.openssl, p, &["ca", "-config", "ca.cnf", "-gencrl", "-out", "lab.crl.pem"]);
        run(&self.openssl, p, &["crl", "-in", "lab.crl.pem", "-outform", "DER", "-out", "www/lab.crl"]);
    }

    /// The directory nginx serves.
    pub fn www(&self) -> PathBuf {
        self.dir.path().join("www")
    }

    /// A [`super::WebServer`] handler answering `GET /ocsp/<base64 request>` with what
    /// `openssl ocsp -index` answers (signed by the CA, next update in 7 days).
    pub fn ocsp_handler(&self) -> Handler {
        let (openssl, dir) = (self.openssl.clone(), self.dir.path().to_path_buf());
        let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        Arc::new(move |path: &str| {
            use base64::Engine;
            let Some(rest) = path.strip_prefix("/ocsp/") else {
                return Reply::Body { status: 404, content_type: "text/plain".into(), body: b"not found".to_vec() };
            };
            let b64 = percent_encoding::percent_decode_str(rest).decode_utf8_lossy().into_owned();
            let Ok(req) = base64::engine::general_purpose::STANDARD.decode(b64) else {
                return Reply::Body { status: 400, content_type: "text/plain".into(), body: b"bad request".to_vec() };
            };
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (reqf, respf) = (format!("ocsp-req-{n}.der"), format!("ocsp-resp-{n}.der"));
            std::fs::write(dir.join(&reqf), req).expect("write OCSP request");
            run(
                &openssl,
                &dir,
                &[
                    "ocsp",
                    "-index",
                    "index.txt",
                    "-CA",
                    "ca.pem",
                    "-rsigner",
                    "ca.pem",
                    "-rkey",
                    "ca.key",
                    "-ndays",
                    "7",
                    "-reqin",
                    &reqf,
                    "-respout",
                    &respf,
                ],
            );
            Reply::ok("application/ocsp-response", std::fs::read(dir.join(&respf)).expect("OCSP response"))
        })
    }
}
