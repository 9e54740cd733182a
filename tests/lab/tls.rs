//! A TLS (rustls, ring provider) + minimal HTTP/1.1 server on a loopback address.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_rustls::LazyConfigAcceptor;

use super::Background;
use super::certs::Leaf;

/// Largest request head the server buffers.
const MAX_HEAD: usize = 64 * 1024;

/// A header value that is replaced by the current date (RFC 7231 IMF-fixdate,
/// e.g. `Sun, 06 Nov 1994 08:49:37 GMT`) each time a response is written, so
/// that a long-lived server keeps sending a current `Date`:
/// `("Date".into(), NOW.into())`.
pub const NOW: &str = "{now}";

/// What the server does after the TLS handshake.
#[derive(Clone, Debug)]
pub enum HttpBehavior {
    /// Reads the request head, then writes the response with Content-Length
    /// and `Connection: close` and closes the connection (close_notify). For
    /// a HEAD request the body is omitted. A header whose value is exactly
    /// [`NOW`] is sent with the date of that response.
    Respond { status: u16, headers: Vec<(String, String)>, body: String },
    /// Reads the request and never answers; the connection stays open until
    /// the client closes it or the server is dropped.
    NeverRespond,
    /// Writes `HTTP/1.1 200 OK\r\n` then one header line every 100 ms forever.
    EndlessHead,
    /// Reads the request head, writes one interim head per code in `interim` (e.g. `103 Early
    /// Hints` with a `Link` header, `100 Continue`), then `then` as [`HttpBehavior::Respond`]
    /// does. With `then: None` the interim heads repeat forever (a hostile server).
    Interim { interim: Vec<u16>, then: Option<(u16, String)> },
    /// Writes a complete response head with this status (no Content-Length, no body), then holds
    /// the connection open without sending anything until the client closes it.
    HeadThenHold { status: u16 },
}

/// 200 with `Date: <now>` (the time of each response, see [`NOW`]),
/// `Server: lab` and the body `ok\n`.
pub fn ok_response() -> HttpBehavior {
    HttpBehavior::Respond {
        status: 200,
        headers: vec![("Date".to_string(), NOW.to_string()), ("Server".to_string(), "lab".to_string())],
        body: "ok\n".to_string(),
    }
}

/// A TLS server; see [`HttpBehavior`].
pub struct TlsServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    snis: Arc<Mutex<Vec<Option<String>>>>,
    _bg: Background,
}

struct Shared {
    config: Arc<rustls::ServerConfig>,
    behavior: HttpBehavior,
    requests: Arc<Mutex<Vec<String>>>,
    snis: Arc<Mutex<Vec<Option<String>>>>,
}

impl TlsServer {
    /// Listens on `ip`:<ephemeral port>.
    pub fn start(ip: IpAddr, leaf: &Leaf, behavior: HttpBehavior) -> TlsServer {
        TlsServer::start_on(SocketAddr::new(ip, 0), leaf, behavior)
    }

    /// Listens on a fixed address (port 0 = ephemeral). Panics if the address
    /// is not loopback or cannot be bound.
    pub fn start_on(addr: SocketAddr, leaf: &Leaf, behavior: HttpBehavior) -> TlsServer {
        assert!(addr.ip().is_loopback(), "lab servers bind loopback only, got {addr}");
        let listener = std::net::TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind TLS server on {addr}: {e}"));
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");

        let requests = Arc::new(Mutex::new(Vec::new()));
        let snis = Arc::new(Mutex::new(Vec::new()));
        let shared =
            Arc::new(Shared { config: server_config(leaf), behavior, requests: requests.clone(), snis: snis.clone() });

        let bg = Background::new("tls");
        {
            let _guard = bg.runtime().enter();
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            bg.runtime().spawn(accept_loop(listener, shared));
        }
        TlsServer { addr, requests, snis, _bg: bg }
    }

    /// Request heads received (request line and headers, up to and including
    /// the blank line), in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// The SNI of every ClientHello received (`None` when the client sent no
    /// SNI, e.g. when connecting by IP), including failed handshakes.
    pub fn snis(&self) -> Vec<Option<String>> {
        self.snis.lock().unwrap().clone()
    }
}

pub(super) fn server_config(leaf: &Leaf) -> Arc<rustls::ServerConfig> {
    let chain: Vec<CertificateDer<'static>> =
        leaf.chain_der.iter().map(|der| CertificateDer::from(der.clone())).collect();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key_der.clone()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate and key");
    Arc::new(config)
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, shared.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn serve(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
    let Ok(start) = acceptor.await else {
        return;
    };
    shared.snis.lock().unwrap().push(start.client_hello().server_name().map(str::to_owned));
    let Ok(tls) = start.into_stream(shared.config.clone()).await else {
        return;
    };

    match &shared.behavior {
        HttpBehavior::Respond { status, headers, body } => {
            let mut tls = tls;
            let head = read_head(&mut tls).await;
            let is_head = head.starts_with("HEAD ");
            record(&shared, head);
            let out = render_response(*status, headers, body, is_head);
            if tls.write_all(out.as_bytes()).await.is_ok() {
                let _ = tls.flush().await;
                let _ = tls.shutdown().await;
            }
        }
        HttpBehavior::Interim { interim, then } => {
            let mut tls = tls;
            let head = read_head(&mut tls).await;
            record(&shared, head);
            let one = |code: u16| match code {
                103 => "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n".to_string(),
                100 => "HTTP/1.1 100 Continue\r\n\r\n".to_string(),
                102 => "HTTP/1.1 102 Processing\r\n\r\n".to_string(),
                c => format!("HTTP/1.1 {c} Interim\r\n\r\n"),
            };
            let mut out: String = interim.iter().map(|c| one(*c)).collect();
            match then {
                Some((status, body)) => {
                    out.push_str(&render_response(*status, &[("Server".into(), "lab".into())], body, false));
                    if tls.write_all(out.as_bytes()).await.is_ok() {
                        let _ = tls.flush().await;
                        let _ = tls.shutdown().await;
                    }
                }
                None => loop {
                    if tls.write_all(out.as_bytes()).await.is_err() || tls.flush().await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                },
            }
        }
        HttpBehavior::HeadThenHold { status } => {
            let mut tls = tls;
            let head = read_head(&mut tls).await;
            record(&shared, head);
            let out = format!(
                "HTTP/1.1 {status} Status\r\nServer: lab\r\nDate: {}\r\n\r\n",
                httpdate::fmt_http_date(std::time::SystemTime::now())
            );
            if tls.write_all(out.as_bytes()).await.is_ok() {
                let _ = tls.flush().await;
                drain(&mut tls).await;
            }
        }
        HttpBehavior::NeverRespond => {
            let mut tls = tls;
            let head = read_head(&mut tls).await;
            record(&shared, head);
            drain(&mut tls).await;
        }
        HttpBehavior::EndlessHead => {
            let (mut reader, mut writer) = tokio::io::split(tls);
            let read = async {
                let head = read_head(&mut reader).await;
                record(&shared, head);
                drain(&mut reader).await;
            };
            let write = async {
                if writer.write_all(b"HTTP/1.1 200 OK\r\n").await.is_err() {
                    return;
                }
                let _ = writer.flush().await;
                let mut i: u64 = 0;
                loop {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let line = format!("X-Lab-Pad-{i}: {i}\r\n");
                    if writer.write_all(line.as_bytes()).await.is_err() || writer.flush().await.is_err() {
                        return;
                    }
                    i += 1;
                }
            };
            tokio::join!(read, write);
        }
    }
}

/// An HTTP/1.1 response with `Content-Length` and `Connection: close`
/// (headers in the given order, [`NOW`] values replaced by the current date;
/// no body when `is_head`).
pub(super) fn render_response(status: u16, headers: &[(String, String)], body: &str, is_head: bool) -> String {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        if value == NOW {
            out.push_str(&format!("{name}: {}\r\n", httpdate::fmt_http_date(SystemTime::now())));
        } else {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    if !is_head {
        out.push_str(body);
    }
    out
}

fn record(shared: &Shared, head: String) {
    if !head.is_empty() {
        shared.requests.lock().unwrap().push(head);
    }
}

/// Reads until the end of the request head (`\r\n\r\n`), EOF, an error or
/// `MAX_HEAD` bytes; returns what was read up to the end of the head.
pub(super) async fn read_head<R: AsyncRead + Unpin>(reader: &mut R) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find_head_end(&buf) {
            buf.truncate(end);
            break;
        }
        if buf.len() >= MAX_HEAD {
            break;
        }
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// Reads and discards until EOF or error (keeps the connection open).
async fn drain<R: AsyncRead + Unpin>(reader: &mut R) {
    let mut chunk = [0u8; 4096];
    while let Ok(n) = reader.read(&mut chunk).await {
        if n == 0 {
            break;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
