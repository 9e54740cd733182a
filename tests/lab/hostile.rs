//! Hostile servers on 127.0.0.1: garbage instead of a ServerHello, a relay that dribbles the
//! server's bytes, TLS servers presenting oversized or malformed certificates, and an HTTP
//! response head that floods the client as fast as it reads.
//!
//! Like every lab server, each handle owns a [`Background`] runtime: constructors return once
//! the listener is bound, dropping the handle closes every socket.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};

use super::Background;
use super::certs::{Leaf, TestCa};
use super::tls::{read_head, render_response, server_config};

/// The largest TLS handshake message rustls (the probe's TLS library) accepts: 0xffff bytes.
pub const RUSTLS_MAX_HANDSHAKE: usize = 0xffff;

/// What a plain web server sends to a TLS ClientHello on its HTTP port.
pub const HTTP_400_PAGE: &[u8] = b"HTTP/1.0 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: 58\r\n\
Connection: close\r\n\r\n<html><body><h1>400 Bad Request</h1></body></html>\r\n\r\n";

/// `len` bytes of deterministic noise (xorshift64 from `seed`), never starting with a byte
/// that is a TLS record type (20..=24), so that no TLS client mistakes it for a record.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_be_bytes());
    }
    out.truncate(len);
    if let Some(first) = out.first_mut()
        && (20..=24).contains(first)
    {
        *first = 0xa5;
    }
    out
}

/// A TLS record header announcing a handshake record of 16 KiB, whose first message is a
/// ServerHello claiming 16 MiB - 1 bytes, followed by 16 KiB - 4 bytes of noise: what a client
/// that trusts length fields would buffer without bound.
pub fn huge_server_hello() -> Vec<u8> {
    let mut out = vec![0x16, 0x03, 0x03, 0x40, 0x00, 0x02, 0xff, 0xff, 0xff];
    out.extend_from_slice(&noise(0x4000 - 4, 7));
    out
}

/// What a [`garbage_server`] does once it has written its reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterReply {
    /// Closes the connection (FIN).
    Close,
    /// Keeps the connection open, reading and discarding, until the client closes it.
    Hold,
}

/// A raw TCP server with a connection counter.
pub struct RawServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    _bg: Background,
}

impl RawServer {
    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Accepts, reads the client's first TLS record (the ClientHello; at most 1 s), writes
/// `reply` instead of a ServerHello, then closes or holds the connection. Every connection
/// (including the probe's legacy-version retry) gets the same treatment.
pub fn garbage_server(reply: Vec<u8>, after: AfterReply) -> RawServer {
    garbage_server_after(Duration::ZERO, reply, after)
}

/// [`garbage_server`] that waits `delay` after reading the ClientHello before it replies: a
/// slow middlebox that ends up answering garbage.
pub fn garbage_server_after(delay: Duration, reply: Vec<u8>, after: AfterReply) -> RawServer {
    let (listener, addr) = loopback_listener();
    let accepted = Arc::new(AtomicUsize::new(0));
    let bg = Background::new("garbage");
    {
        let _guard = bg.runtime().enter();
        let listener = TcpListener::from_std(listener).expect("tokio listener");
        let accepted = accepted.clone();
        let reply: Arc<[u8]> = reply.into();
        bg.runtime().spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let reply = reply.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(1), read_tls_record(&mut stream)).await;
                    tokio::time::sleep(delay).await;
                    if stream.write_all(&reply).await.is_err() || stream.flush().await.is_err() {
                        return;
                    }
                    match after {
                        AfterReply::Close => {
                            let _ = stream.shutdown().await;
                            // Let the client read to EOF before the socket goes away.
                            drain(&mut stream).await;
                        }
                        AfterReply::Hold => {
                            drain(&mut stream).await;
                        }
                    }
                });
            }
        });
    }
    RawServer { addr, accepted, _bg: bg }
}

/// Reads one TLS record (header and body, body at most 18 KiB), or whatever comes first if
/// the first byte is not a TLS handshake record.
async fn read_tls_record<R: AsyncRead + Unpin>(reader: &mut R) -> Vec<u8> {
    let mut head = [0u8; 5];
    if reader.read_exact(&mut head).await.is_err() {
        return Vec::new();
    }
    let mut out = head.to_vec();
    if head[0] != 0x16 {
        return out;
    }
    let len = usize::from(u16::from_be_bytes([head[3], head[4]])).min(18 * 1024);
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).await.is_ok() {
        out.extend_from_slice(&body);
    }
    out
}

/// A TCP relay to `upstream` that forwards the client's bytes at once and the server's bytes
/// one at a time, one every `interval`: a middlebox that dribbles the handshake.
pub struct DribbleRelay {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    dribbled: Arc<AtomicU64>,
    _bg: Background,
}

impl DribbleRelay {
    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Server-to-client bytes forwarded so far (over all connections).
    pub fn bytes_dribbled(&self) -> u64 {
        self.dribbled.load(Ordering::SeqCst)
    }
}

pub fn dribble_relay(upstream: SocketAddr, interval: Duration) -> DribbleRelay {
    assert!(upstream.ip().is_loopback(), "the lab relays to loopback only, got {upstream}");
    let (listener, addr) = loopback_listener();
    let accepted = Arc::new(AtomicUsize::new(0));
    let dribbled = Arc::new(AtomicU64::new(0));
    let bg = Background::new("dribble");
    {
        let _guard = bg.runtime().enter();
        let listener = TcpListener::from_std(listener).expect("tokio listener");
        let (accepted, dribbled) = (accepted.clone(), dribbled.clone());
        bg.runtime().spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let dribbled = dribbled.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let (mut client_r, mut client_w) = client.into_split();
                    let (mut server_r, mut server_w) = server.into_split();
                    let up = async {
                        let _ = tokio::io::copy(&mut client_r, &mut server_w).await;
                        let _ = server_w.shutdown().await;
                    };
                    let down = async {
                        let mut buf = [0u8; 4096];
                        loop {
                            let n = match server_r.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            for byte in &buf[..n] {
                                tokio::time::sleep(interval).await;
                                if client_w.write_all(std::slice::from_ref(byte)).await.is_err() {
                                    return;
                                }
                                dribbled.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        let _ = client_w.shutdown().await;
                    };
                    // The relay ends when the client has gone (nothing left to dribble to).
                    tokio::select! {
                        _ = async { tokio::join!(up, std::future::pending::<()>()) } => {}
                        _ = down => {}
                    }
                });
            }
        });
    }
    DribbleRelay { addr, accepted, dribbled, _bg: bg }
}

/// What a [`HostileTls`] server does after a completed handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterHandshake {
    /// Reads the request head and answers `200 OK` (`Server: lab`, body `ok\n`).
    Ok,
    /// Writes `HTTP/1.1 200 OK\r\n`, then header lines `X-Flood-<i>: <line_len x 'a'>\r\n`
    /// back to back, as fast as the client reads, forever (the head never ends). With a huge
    /// `line_len` (e.g. `usize::MAX`) it is one header line that never ends.
    FloodHead { line_len: usize },
}

/// A TLS server with any rustls configuration (e.g. one presenting a certificate rustls would
/// refuse to load: see [`unchecked_config`]).
pub struct HostileTls {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    handshakes: Arc<AtomicUsize>,
    sent: Arc<AtomicU64>,
    _bg: Background,
}

impl HostileTls {
    pub fn start(config: Arc<rustls::ServerConfig>, after: AfterHandshake) -> HostileTls {
        let (listener, addr) = loopback_listener();
        let accepted = Arc::new(AtomicUsize::new(0));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let bg = Background::new("hostile-tls");
        {
            let _guard = bg.runtime().enter();
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            let (accepted, handshakes, sent) = (accepted.clone(), handshakes.clone(), sent.clone());
            bg.runtime().spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let (acceptor, handshakes, sent) = (acceptor.clone(), handshakes.clone(), sent.clone());
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(stream).await else {
                            return;
                        };
                        handshakes.fetch_add(1, Ordering::SeqCst);
                        serve_after_handshake(tls, after, &sent).await;
                    });
                }
            });
        }
        HostileTls { addr, accepted, handshakes, sent, _bg: bg }
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Handshakes the server completed (its side: the client may still have rejected it).
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    /// Response bytes written (over all connections; for `FloodHead`: how far the client read).
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

async fn serve_after_handshake<S: AsyncRead + AsyncWrite + Unpin>(tls: S, after: AfterHandshake, sent: &AtomicU64) {
    let (mut reader, writer) = tokio::io::split(tls);
    match after {
        AfterHandshake::Ok => {
            let mut writer = writer;
            let head = read_head(&mut reader).await;
            let headers = vec![("Server".to_string(), "lab".to_string())];
            let out = render_response(200, &headers, "ok\n", head.starts_with("HEAD "));
            if writer.write_all(out.as_bytes()).await.is_ok() {
                sent.fetch_add(out.len() as u64, Ordering::SeqCst);
                let _ = writer.flush().await;
                let _ = writer.shutdown().await;
            }
        }
        AfterHandshake::FloodHead { line_len } => {
            let read = async {
                let _ = read_head(&mut reader).await;
                drain(&mut reader).await;
            };
            let write = async {
                let mut w = BufWriter::with_capacity(16 * 1024, writer);
                let _ = flood_head(&mut w, line_len, sent).await;
            };
            // Stop as soon as either side is done (the client closed, or a write failed).
            tokio::select! {
                _ = read => {}
                _ = write => {}
            }
        }
    }
}

async fn flood_head<W: AsyncWrite + Unpin>(w: &mut W, line_len: usize, sent: &AtomicU64) -> std::io::Result<()> {
    const FILL: [u8; 4096] = [b'a'; 4096];
    put(w, b"HTTP/1.1 200 OK\r\n", sent).await?;
    let mut i: u64 = 0;
    loop {
        put(w, format!("X-Flood-{i}: ").as_bytes(), sent).await?;
        let mut left = line_len;
        while left > 0 {
            let n = left.min(FILL.len());
            put(w, &FILL[..n], sent).await?;
            left -= n;
        }
        put(w, b"\r\n", sent).await?;
        i += 1;
    }
}

async fn put<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8], sent: &AtomicU64) -> std::io::Result<()> {
    w.write_all(bytes).await?;
    sent.fetch_add(bytes.len() as u64, Ordering::SeqCst);
    Ok(())
}

/// The rustls configuration [`super::TlsServer`] uses for `leaf` (TLS 1.2 and 1.3, ring).
pub fn leaf_config(leaf: &Leaf) -> Arc<rustls::ServerConfig> {
    server_config(leaf)
}

/// A server configuration that presents `chain` (DER blobs, sent as they are: they need not
/// parse) and signs the handshake with `key_from`'s private key. rustls checks neither that
/// the certificates parse nor that the key matches them.
pub fn unchecked_config(chain: Vec<Vec<u8>>, key_from: &Leaf) -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_from.key_der.clone()));
    let signing_key = provider.key_provider.load_private_key(key).expect("load the lab private key");
    let chain: Vec<CertificateDer<'static>> = chain.into_iter().map(CertificateDer::from).collect();
    let certified = Arc::new(CertifiedKey::new(chain, signing_key));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::ALL_VERSIONS)
        .expect("protocol versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Always(certified)));
    Arc::new(config)
}

#[derive(Debug)]
struct Always(Arc<CertifiedKey>);

impl ResolvesServerCert for Always {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// `der` with its last 16 bytes cut off while the outer SEQUENCE still claims the full length:
/// a certificate whose DER lies about its length (and whose signature is gone).
pub fn truncated_der(der: &[u8]) -> Vec<u8> {
    der[..der.len().saturating_sub(16)].to_vec()
}

/// A leaf for `names` issued through `intermediates` intermediate CAs below `ca`
/// (`chain_der` = leaf + the intermediates, deepest first; never the root).
pub fn long_chain_leaf(ca: &TestCa, intermediates: usize, names: &[&str]) -> Leaf {
    let mut issuer: Option<TestCa> = None;
    for i in 1..=intermediates {
        let next = issuer.as_ref().unwrap_or(ca).intermediate(&format!("Lab Intermediate {i}"));
        issuer = Some(next);
    }
    issuer.as_ref().unwrap_or(ca).leaf(names)
}

/// A leaf issued by `ca` whose DER is at most `max_len` bytes and within 32 bytes of it,
/// reached with a long SAN list: `host` first when `host_in_sans` (so that the leaf is valid
/// for it), then `sNNNNN.filler.lab.test` names.
pub fn big_san_leaf(ca: &TestCa, host: &str, host_in_sans: bool, max_len: usize) -> Leaf {
    const FILLER_LEN: usize = "s00000.filler.lab.test".len();
    let build = |n: usize| {
        let mut names: Vec<String> = Vec::with_capacity(n + 1);
        if host_in_sans {
            names.push(host.to_string());
        }
        names.extend((0..n).map(|i| format!("s{i:05}.filler.lab.test")));
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        ca.leaf(&refs)
    };
    // Each name adds its length plus 2 bytes of DER (tag and length).
    let per_name = FILLER_LEN + 2;
    let first = build(max_len / per_name / 2);
    let base = first.cert_der.len() - (max_len / per_name / 2) * per_name;
    let mut n = max_len.saturating_sub(base) / per_name;
    let mut leaf = build(n);
    while leaf.cert_der.len() > max_len && n > 0 {
        n -= 1;
        leaf = build(n);
    }
    assert!(
        leaf.cert_der.len() <= max_len && max_len - leaf.cert_der.len() <= 32,
        "big_san_leaf: {} bytes for a target of {max_len}",
        leaf.cert_der.len()
    );
    leaf
}

fn loopback_listener() -> (std::net::TcpListener, SocketAddr) {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// Reads and discards until EOF or error.
async fn drain<R: AsyncRead + Unpin>(reader: &mut R) {
    let mut chunk = [0u8; 4096];
    while let Ok(n) = reader.read(&mut chunk).await {
        if n == 0 {
            break;
        }
    }
}
