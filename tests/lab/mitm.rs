//! An in-process TLS-intercepting ("MITM") proxy on a loopback address, the
//! way Zscaler, Squid ssl-bump or mitmproxy break TLS open: it terminates the
//! client's TLS with a leaf it mints on the fly for whatever name the client
//! asked for, signed by its own CA (a [`TestCa`], so a test can mimic a product:
//! `TestCa::new_with("Zscaler Intermediate Root CA", "Zscaler Inc.")`).
//!
//! Minted leaves (see [`TestCa::minted_leaf`]): valid from 1 minute ago to 30
//! days from now, no SCTs, SAN and CN = the requested name, chain = the leaf
//! plus the CA's intermediates (never the root). The name is the client's SNI
//! (lower-cased, without a trailing dot); without SNI it is the CONNECT
//! target's host (explicit mode) or the local IP the client connected to
//! (transparent mode), an IP literal becoming an IP SAN. Leaves are cached per
//! name: every connection for the same name gets the same certificate.
//!
//! Two modes:
//! - [`MitmProxy::explicit`]: an HTTP CONNECT proxy on 127.0.0.1:<ephemeral>.
//!   A CONNECT gets `HTTP/1.1 200 Connection established` (bytes pipelined
//!   behind the CONNECT head are kept for the TLS handshake); any other
//!   method gets 405, a head that does not parse or a target that is not
//!   `host:port` gets 400. The CONNECT target is only used for naming: the
//!   proxy never connects to it.
//! - [`MitmProxy::transparent`]: a plain TLS listener (the test's DNS points
//!   the endpoint's name at it).
//!
//! After the handshake the proxy reads one request and hands it to its
//! [`Upstream`]; the response ends the connection (`Connection: close`, then
//! close_notify). Nothing but 127.0.0.0/8 is ever connected to.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::{LazyConfigAcceptor, TlsConnector};

use super::Background;
use super::certs::TestCa;
use super::tls::{NOW, render_response, server_config};

/// Largest request head the proxy buffers.
const MAX_HEAD: usize = 64 * 1024;
/// How long [`Upstream::Forward`] waits for the upstream to accept and finish
/// its TLS handshake.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// What the proxy does with a decrypted request.
#[derive(Clone, Debug)]
pub enum Upstream {
    /// Answers the request itself: `200 OK` with `Date: <now>` (the time of
    /// each response), `Server: upstream-via-mitm`, then `headers` in order
    /// (e.g. `("Via", "1.1 inspect")`), `Content-Length`,
    /// `Connection: close` and the body `ok\n` (none for HEAD).
    Answer { headers: Vec<(String, String)> },
    /// Forwards the request to a TLS server at this 127.0.0.0/8 address
    /// (panics otherwise) and relays its response verbatim. The upstream's
    /// certificate is not verified (it is a lab); the upstream handshake
    /// sends the minted name as SNI (none for an IP). The request head is
    /// forwarded with `Connection: close` in place of any `Connection`,
    /// `Proxy-Connection` or `Keep-Alive` header; anything after it (a body)
    /// is relayed as is. When the upstream cannot be reached or its
    /// handshake fails: `502` with `Server: lab-mitm`.
    Forward(SocketAddr),
}

/// A TLS-intercepting proxy; stops on drop. See the module docs.
pub struct MitmProxy {
    pub addr: SocketAddr,
    ca_pem: String,
    minted: Arc<Mutex<Vec<String>>>,
    requests: Arc<Mutex<Vec<String>>>,
    connects: Arc<Mutex<Vec<String>>>,
    _bg: Background,
}

struct Shared {
    ca: TestCa,
    upstream: Upstream,
    /// Minted name -> server configuration carrying its leaf.
    configs: Mutex<HashMap<String, Arc<rustls::ServerConfig>>>,
    minted: Arc<Mutex<Vec<String>>>,
    requests: Arc<Mutex<Vec<String>>>,
    connects: Arc<Mutex<Vec<String>>>,
    upstream_tls: Arc<rustls::ClientConfig>,
}

#[derive(Clone, Copy)]
enum Mode {
    Explicit,
    Transparent,
}

impl MitmProxy {
    /// Explicit mode: an HTTP CONNECT proxy on 127.0.0.1:<ephemeral>.
    pub fn explicit(ca: &TestCa, upstream: Upstream) -> MitmProxy {
        MitmProxy::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), Mode::Explicit, ca, upstream)
    }

    /// Transparent mode: a TLS listener on `ip`:<ephemeral>.
    pub fn transparent(ip: IpAddr, ca: &TestCa, upstream: Upstream) -> MitmProxy {
        MitmProxy::transparent_on(SocketAddr::new(ip, 0), ca, upstream)
    }

    /// Transparent mode on a fixed address (port 0 = ephemeral), e.g. the
    /// port the endpoint's URL names. Panics if the address is not loopback
    /// or cannot be bound.
    pub fn transparent_on(addr: SocketAddr, ca: &TestCa, upstream: Upstream) -> MitmProxy {
        MitmProxy::start(addr, Mode::Transparent, ca, upstream)
    }

    fn start(addr: SocketAddr, mode: Mode, ca: &TestCa, upstream: Upstream) -> MitmProxy {
        assert!(addr.ip().is_loopback(), "lab servers bind loopback only, got {addr}");
        if let Upstream::Forward(target) = &upstream {
            assert!(
                matches!(target.ip(), IpAddr::V4(v4) if v4.is_loopback()),
                "lab MITM forwards to 127.0.0.0/8 only, got {target}"
            );
        }
        let listener = std::net::TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind MITM proxy on {addr}: {e}"));
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");

        let minted = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connects = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            ca: ca.clone(),
            upstream,
            configs: Mutex::new(HashMap::new()),
            minted: minted.clone(),
            requests: requests.clone(),
            connects: connects.clone(),
            upstream_tls: insecure_client_config(),
        });

        let bg = Background::new("mitm");
        {
            let _guard = bg.runtime().enter();
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            bg.runtime().spawn(accept_loop(listener, mode, shared));
        }
        MitmProxy { addr, ca_pem: ca.cert_pem.clone(), minted, requests, connects, _bg: bg }
    }

    /// The MITM CA certificate, PEM (what a corporate CA installed on the
    /// node looks like: put it in a `--system-roots` PEM).
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// Every name a leaf was minted for, in minting order (each once: leaves
    /// are cached). A handshake the client then rejects still minted.
    pub fn minted(&self) -> Vec<String> {
        self.minted.lock().unwrap().clone()
    }

    /// Decrypted request heads (request line and headers, up to and
    /// including the blank line), as received from the client, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// CONNECT request heads (explicit mode), verbatim, in order.
    pub fn connect_requests(&self) -> Vec<String> {
        self.connects.lock().unwrap().clone()
    }

    /// `http://127.0.0.1:<port>` (the proxy URL, explicit mode).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, mode: Mode, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => match mode {
                Mode::Explicit => {
                    tokio::spawn(serve_explicit(stream, shared.clone()));
                }
                Mode::Transparent => {
                    let fallback = stream.local_addr().map(|a| a.ip().to_string()).unwrap_or_default();
                    tokio::spawn(intercept(Prefixed::new(Vec::new(), stream), fallback, shared.clone()));
                }
            },
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Reads the CONNECT head, answers 200, then intercepts the tunnel.
async fn serve_explicit(mut client: TcpStream, shared: Arc<Shared>) {
    let Some((head, rest)) = read_head(&mut client, Vec::new()).await else {
        return;
    };
    shared.connects.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut req = httparse::Request::new(&mut headers);
    let (method, target) = match req.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {
            (req.method.unwrap_or_default().to_string(), req.path.unwrap_or_default().to_string())
        }
        _ => return refuse(client, 400, "malformed request\n").await,
    };
    if !method.eq_ignore_ascii_case("CONNECT") {
        return refuse(client, 405, "lab-mitm only supports CONNECT\n").await;
    }
    let Some(host) = connect_host(&target) else {
        return refuse(client, 400, "CONNECT target must be host:port\n").await;
    };
    if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
        return;
    }
    intercept(Prefixed::new(rest, client), host, shared).await;
}

/// The host of a `host:port` CONNECT target, normalized, when it is a valid
/// DNS name or IP literal and the port is valid.
fn connect_host(target: &str) -> Option<String> {
    let (host, port) = target.rsplit_once(':')?;
    port.parse::<u16>().ok().filter(|p| *p != 0)?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let host = normalize(host);
    ServerName::try_from(host.clone()).ok()?;
    Some(host)
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

async fn refuse(mut client: TcpStream, status: u16, body: &str) {
    let headers = [("Server".to_string(), "lab-mitm".to_string())];
    let out = render_response(status, &headers, body, false);
    if client.write_all(out.as_bytes()).await.is_ok() {
        let _ = client.flush().await;
    }
    let _ = client.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(n) = client.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}

/// Terminates the client's TLS with a leaf minted for its SNI (or
/// `fallback`), then serves one request.
async fn intercept(stream: Prefixed<TcpStream>, fallback: String, shared: Arc<Shared>) {
    let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
    let Ok(start) = acceptor.await else {
        return;
    };
    let name = start.client_hello().server_name().map(normalize).unwrap_or(fallback);
    let config = shared.config_for(&name);
    let Ok(mut tls) = start.into_stream(config).await else {
        return;
    };
    let Some((head, rest)) = read_head(&mut tls, Vec::new()).await else {
        return;
    };
    shared.requests.lock().unwrap().push(String::from_utf8_lossy(&head).into_owned());
    match &shared.upstream {
        Upstream::Answer { headers } => {
            let is_head = head.starts_with(b"HEAD ");
            let mut all =
                vec![("Date".to_string(), NOW.to_string()), ("Server".to_string(), "upstream-via-mitm".into())];
            all.extend(headers.iter().cloned());
            let out = render_response(200, &all, "ok\n", is_head);
            if tls.write_all(out.as_bytes()).await.is_ok() {
                let _ = tls.flush().await;
                let _ = tls.shutdown().await;
            }
        }
        Upstream::Forward(target) => forward(tls, &name, &head, rest, *target, &shared).await,
    }
}

impl Shared {
    /// The server configuration for `name`, minting (and recording) its leaf
    /// on first use.
    fn config_for(&self, name: &str) -> Arc<rustls::ServerConfig> {
        let mut configs = self.configs.lock().unwrap();
        if let Some(config) = configs.get(name) {
            return config.clone();
        }
        let config = server_config(&self.ca.minted_leaf(&[name]));
        configs.insert(name.to_string(), config.clone());
        self.minted.lock().unwrap().push(name.to_string());
        config
    }
}

async fn forward<C>(mut client: C, name: &str, head: &[u8], rest: Vec<u8>, target: SocketAddr, shared: &Shared)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    // Defence in depth: nothing but 127.0.0.0/8 is ever connected to.
    assert!(matches!(target.ip(), IpAddr::V4(v4) if v4.is_loopback()), "lab MITM: refusing {target}");
    let server_name = ServerName::try_from(name.to_string()).unwrap_or_else(|_| ServerName::from(target.ip()));
    let connector = TlsConnector::from(shared.upstream_tls.clone());
    let connected = tokio::time::timeout(UPSTREAM_TIMEOUT, async {
        let tcp = TcpStream::connect(target).await.map_err(|e| format!("connect to {target}: {e}"))?;
        connector.connect(server_name, tcp).await.map_err(|e| format!("TLS to {target}: {e}"))
    })
    .await
    .unwrap_or_else(|_| Err(format!("{target} timed out")));
    let mut upstream = match connected {
        Ok(upstream) => upstream,
        Err(reason) => {
            let headers = [("Server".to_string(), "lab-mitm".to_string())];
            let out = render_response(502, &headers, &format!("lab-mitm: upstream {reason}\n"), false);
            if client.write_all(out.as_bytes()).await.is_ok() {
                let _ = client.flush().await;
                let _ = client.shutdown().await;
            }
            return;
        }
    };
    let mut out = close_head(head);
    out.extend_from_slice(&rest);
    if upstream.write_all(&out).await.is_err() || upstream.flush().await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// `head` with its `Connection`, `Proxy-Connection` and `Keep-Alive` lines
/// replaced by `Connection: close`.
fn close_head(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let name = line.split_once(':').map(|(n, _)| n.trim()).unwrap_or("");
        if ["connection", "proxy-connection", "keep-alive"].iter().any(|h| name.eq_ignore_ascii_case(h)) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

/// Reads until the end of a request head (`\r\n\r\n`); returns the head and
/// the bytes read after it. `None` on EOF, error or `MAX_HEAD` bytes without
/// the end of the head.
async fn read_head<R: AsyncRead + Unpin>(reader: &mut R, mut buf: Vec<u8>) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) {
            let rest = buf.split_off(end);
            return Some((buf, rest));
        }
        if buf.len() >= MAX_HEAD {
            return None;
        }
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A stream that first yields `prefix` (bytes already read from `inner`),
/// then reads from `inner`; writes go to `inner`.
struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    fn new(prefix: Vec<u8>, inner: S) -> Prefixed<S> {
        Prefixed { prefix, pos: 0, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.prefix.len() {
            let n = (this.prefix.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.prefix[this.pos..this.pos + n]);
            this.pos += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A rustls client configuration (ring, TLS 1.2 and 1.3) that accepts any
/// server certificate, valid or not (handshake signatures are still
/// checked): for looking at what a server presents. The MITM uses it for
/// [`Upstream::Forward`].
pub fn insecure_client_config() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AcceptAnyCert(provider.clone()));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Arc::new(config)
}

#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
