//! An in-process HTTP CONNECT proxy on 127.0.0.1 with scripted behaviours.
//!
//! Safety: the proxy only ever opens tunnels to 127.0.0.0/8. A CONNECT to any
//! other IP, to a host name that is not in the proxy's own host map (see
//! [`ConnectProxy::start_with_hosts`]) or to an IPv6 address is refused with a
//! 403 before any connection attempt, so a test can never leak traffic through
//! it. Such refusals carry `X-Lab-Proxy-Refused: <reason>` to tell them apart
//! from [`ProxyMode::Deny`].
//!
//! Connection handling, per client connection:
//! - request heads are read up to 64 KiB and parsed with httparse; every head
//!   is recorded verbatim (see [`ConnectProxy::requests`]);
//! - bytes the client sent after the CONNECT head (e.g. a pipelined TLS
//!   ClientHello) are kept and forwarded to the target once the tunnel is up;
//! - a 407 keeps the connection open (HTTP/1.1 keep-alive, `Content-Length`
//!   framed) so a client may retry with credentials on the same connection,
//!   unless the request was HTTP/1.0 or asked for `Connection: close` (bytes
//!   pipelined behind a CONNECT that got a 407 are then read as the next
//!   request head, which fails to parse: 400 and close);
//! - every other error status (400, 403, 405, 431, 502, 504) is sent with
//!   `Connection: close` and the connection is closed (lingering: the proxy
//!   half-closes, then drains the client for up to 1 s so that unread client
//!   bytes cannot turn the close into a reset that destroys the response).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Background;

/// Largest request head the proxy buffers.
const MAX_HEAD: usize = 64 * 1024;
/// Most header lines parsed in one request head.
const MAX_HEADERS: usize = 128;
/// How long the proxy waits for a tunnel target to accept.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing connection is drained after the response.
const LINGER: Duration = Duration::from_secs(1);

/// The body of the [`ProxyMode::Deny`] response.
pub const DENY_BODY: &str =
    "<html><body><h1>Access Denied</h1><p>Blocked by lab policy: category Cloud Services</p></body></html>";
/// The body of the [`ProxyMode::BadGateway`] response.
pub const BAD_GATEWAY_BODY: &str = "lab-proxy: upstream connection failed\n";

/// What the proxy does with a CONNECT request.
#[derive(Clone, Debug)]
pub enum ProxyMode {
    /// `HTTP/1.1 200 Connection established\r\n\r\n`, then splices bytes both
    /// ways to the CONNECT target (127.0.0.0/8 only, see the module docs).
    /// When the target refuses the connection: 502; when it does not accept
    /// within 5 s: 504.
    PassThrough,
    /// Like `PassThrough` when a `Proxy-Authorization: Basic` header carries
    /// exactly `user:password`; otherwise 407 with
    /// `Proxy-Authenticate: Basic realm="lab"` (connection kept open).
    RequireBasic { user: String, password: String },
    /// Always 407 with `Proxy-Authenticate: NTLM` and
    /// `Proxy-Authenticate: Negotiate` (two header lines) and
    /// `Server: lab-proxy` (connection kept open).
    NtlmOnly,
    /// 403 with `Server: lab-proxy`, `Via: 1.1 lab-proxy`,
    /// `Content-Type: text/html` and [`DENY_BODY`], then close.
    Deny,
    /// 502 with `Server: lab-proxy` and [`BAD_GATEWAY_BODY`], then close.
    BadGateway,
    /// 403 that echoes the request the way some filters do: the whole request
    /// head (Proxy-Authorization included) as the HTML body, and each
    /// Proxy-Authorization value in `Via` and `X-Echo-Authorization` headers,
    /// then close.
    EchoDeny,
    /// Answers CONNECT with this status line, `Content-Type: text/html` and
    /// body, then closes: the error pages of other proxies, replayed.
    Status { code: u16, reason: String, body: String },
    /// Reads (and records) the CONNECT request, then never answers; the
    /// connection is held until the client closes it or the proxy is dropped.
    NeverAnswer,
    /// `HTTP/1.1 100 Continue\r\n\r\n` (an interim answer), then as `PassThrough`.
    ContinueFirst,
    /// `HTTP/1.1 100 Continue\r\n\r\n` over and over, never a final answer (hostile).
    EndlessContinue,
}

/// A CONNECT proxy listening on 127.0.0.1:<ephemeral>; stops on drop.
pub struct ConnectProxy {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    upstreams: Arc<Mutex<Vec<SocketAddr>>>,
    _bg: Background,
}

struct Shared {
    mode: ProxyMode,
    /// Lower-case host name (no trailing dot) -> loopback IPv4.
    hosts: Vec<(String, Ipv4Addr)>,
    requests: Arc<Mutex<Vec<String>>>,
    upstreams: Arc<Mutex<Vec<SocketAddr>>>,
}

impl ConnectProxy {
    /// A proxy whose tunnels accept IPv4 literals in 127.0.0.0/8 only (plus
    /// `localhost`, meaning 127.0.0.1).
    pub fn start(mode: ProxyMode) -> ConnectProxy {
        ConnectProxy::start_with_hosts(mode, &[])
    }

    /// Like [`ConnectProxy::start`], and the proxy resolves the given host
    /// names (case-insensitive, exact match) itself, the way a real proxy
    /// resolves the names clients CONNECT to. Every address must be IPv4
    /// loopback (panics otherwise).
    pub fn start_with_hosts(mode: ProxyMode, hosts: &[(&str, IpAddr)]) -> ConnectProxy {
        let hosts = hosts
            .iter()
            .map(|(name, ip)| match ip {
                IpAddr::V4(v4) if v4.is_loopback() => (normalize_host(name), *v4),
                _ => panic!("lab proxy host map: {name} -> {ip} is not in 127.0.0.0/8"),
            })
            .collect();
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");

        let requests = Arc::new(Mutex::new(Vec::new()));
        let upstreams = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared { mode, hosts, requests: requests.clone(), upstreams: upstreams.clone() });

        let bg = Background::new("proxy");
        {
            let _guard = bg.runtime().enter();
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            bg.runtime().spawn(accept_loop(listener, shared));
        }
        ConnectProxy { addr, requests, upstreams, _bg: bg }
    }

    /// Every request head received (request line and headers, up to and
    /// including the blank line), verbatim, in arrival order. A head cut short
    /// by EOF or by the 64 KiB cap is recorded as far as it was read.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Every tunnel target the proxy tried to connect to, in order (empty when
    /// it never opened an upstream connection).
    pub fn upstream_connects(&self) -> Vec<SocketAddr> {
        self.upstreams.lock().unwrap().clone()
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://user:password@127.0.0.1:<port>`, user and password
    /// percent-encoded (see [`userinfo_encode`]).
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{}:{}@{}", userinfo_encode(user), userinfo_encode(password), self.addr)
    }
}

/// Percent-encodes every byte except RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`), so that any user name or password (e.g.
/// `p@ss:w/rd` -> `p%40ss%3Aw%2Frd`) survives a URL parser unchanged.
pub fn userinfo_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn normalize_host(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
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

/// What became of one request head.
enum Head {
    /// A complete, parsed head; the buffer holds the bytes after it.
    Complete(Request),
    /// Not HTTP (httparse error).
    Malformed,
    /// 64 KiB without the end of the head, or too many header lines.
    TooLarge,
    /// EOF or a read error before the end of the head.
    Closed,
}

struct Request {
    method: String,
    target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    version: u8,
    headers: Vec<(String, Vec<u8>)>,
}

impl Request {
    fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    fn wants_close(&self) -> bool {
        self.version == 0
            || self
                .header_values("Connection")
                .chain(self.header_values("Proxy-Connection"))
                .any(|v| String::from_utf8_lossy(v).split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }
}

/// Reads one request head from `client` into `buf` (which may already hold
/// bytes); on success `buf` keeps only the bytes that followed the head.
async fn read_head(client: &mut TcpStream, buf: &mut Vec<u8>, shared: &Shared) -> Head {
    let mut chunk = [0u8; 4096];
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let request = Request {
                        method: req.method.unwrap_or_default().to_string(),
                        target: req.path.unwrap_or_default().to_string(),
                        version: req.version.unwrap_or(1),
                        headers: req.headers.iter().map(|h| (h.name.to_string(), h.value.to_vec())).collect(),
                    };
                    record(shared, &buf[..len]);
                    buf.drain(..len);
                    return Head::Complete(request);
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => {
                    record(shared, buf);
                    return Head::TooLarge;
                }
                Err(_) => {
                    record(shared, buf);
                    return Head::Malformed;
                }
            }
        }
        if buf.len() >= MAX_HEAD {
            record(shared, buf);
            return Head::TooLarge;
        }
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                record(shared, buf);
                return Head::Closed;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn record(shared: &Shared, head: &[u8]) {
    if !head.is_empty() {
        shared.requests.lock().unwrap().push(String::from_utf8_lossy(head).into_owned());
    }
}

async fn serve(mut client: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    loop {
        let request = match read_head(&mut client, &mut buf, &shared).await {
            Head::Complete(request) => request,
            Head::Malformed => {
                return close_with(client, 400, &[], "malformed request\n").await;
            }
            Head::TooLarge => {
                return close_with(client, 431, &[], "request head too large\n").await;
            }
            Head::Closed => return,
        };
        if !request.method.eq_ignore_ascii_case("CONNECT") {
            return close_with(client, 405, &[("Allow", "CONNECT")], "lab-proxy only supports CONNECT\n").await;
        }
        match &shared.mode {
            ProxyMode::PassThrough => {}
            ProxyMode::RequireBasic { user, password } => {
                if !has_basic_credentials(&request, user, password) {
                    let challenge = [("Proxy-Authenticate", "Basic realm=\"lab\"")];
                    if respond_407(&mut client, &request, &challenge).await {
                        continue;
                    }
                    return linger_close(client).await;
                }
            }
            ProxyMode::NtlmOnly => {
                let challenge = [("Proxy-Authenticate", "NTLM"), ("Proxy-Authenticate", "Negotiate")];
                if respond_407(&mut client, &request, &challenge).await {
                    continue;
                }
                return linger_close(client).await;
            }
            ProxyMode::Deny => {
                let headers = [("Via", "1.1 lab-proxy"), ("Content-Type", "text/html")];
                return close_with(client, 403, &headers, DENY_BODY).await;
            }
            ProxyMode::EchoDeny => {
                let auth: Vec<String> = request
                    .header_values("Proxy-Authorization")
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect();
                let auth = auth.join(", ");
                let via = format!("1.1 lab-proxy (for {auth})");
                let head = shared.requests.lock().unwrap().last().cloned().unwrap_or_default();
                let body = format!("<html><body><h1>Denied</h1><pre>{head}</pre></body></html>");
                let headers =
                    [("Via", via.as_str()), ("X-Echo-Authorization", auth.as_str()), ("Content-Type", "text/html")];
                return close_with(client, 403, &headers, &body).await;
            }
            ProxyMode::BadGateway => {
                return close_with(client, 502, &[("Content-Type", "text/plain")], BAD_GATEWAY_BODY).await;
            }
            ProxyMode::Status { code, reason, body } => {
                let bytes = response_with_reason(*code, reason, &[("Content-Type", "text/html")], body, true);
                if client.write_all(&bytes).await.is_ok() {
                    let _ = client.flush().await;
                }
                return linger_close(client).await;
            }
            ProxyMode::NeverAnswer => {
                drain(&mut client).await;
                return;
            }
            ProxyMode::ContinueFirst => {
                if client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
                    return;
                }
            }
            ProxyMode::EndlessContinue => loop {
                if client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            },
        }
        return tunnel(client, &request, buf, &shared).await;
    }
}

/// Sends a 407 with the given challenge headers; true when the connection
/// stays open for another request.
async fn respond_407(client: &mut TcpStream, request: &Request, challenge: &[(&str, &str)]) -> bool {
    let close = request.wants_close();
    let body = "<html><body><h1>Proxy Authentication Required</h1></body></html>";
    let mut headers = challenge.to_vec();
    headers.push(("Content-Type", "text/html"));
    let bytes = response(407, &headers, body, close);
    let sent = client.write_all(&bytes).await.is_ok() && client.flush().await.is_ok();
    sent && !close
}

fn has_basic_credentials(request: &Request, user: &str, password: &str) -> bool {
    let expected = format!("{user}:{password}");
    request.header_values("Proxy-Authorization").any(|value| {
        let value = String::from_utf8_lossy(value);
        let Some((scheme, token)) = value.trim().split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("Basic")
            && base64::engine::general_purpose::STANDARD
                .decode(token.trim())
                .is_ok_and(|decoded| decoded == expected.as_bytes())
    })
}

/// The loopback address a CONNECT target stands for, or why it is refused.
fn resolve_target(target: &str, hosts: &[(String, Ipv4Addr)]) -> Result<SocketAddr, String> {
    let (host, port) = target.rsplit_once(':').ok_or_else(|| format!("target {target:?} has no port"))?;
    let port: u16 = port.parse().map_err(|_| format!("target {target:?} has an invalid port"))?;
    if port == 0 {
        return Err(format!("target {target:?} has port 0"));
    }
    let bracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let ip = match bracketed.unwrap_or(host).parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) if v4.is_loopback() => v4,
        Ok(ip) => return Err(format!("target {ip} is not in 127.0.0.0/8")),
        Err(_) if bracketed.is_some() => return Err(format!("target {target:?} is not an IPv4 address")),
        Err(_) => {
            let name = normalize_host(host);
            if name == "localhost" {
                Ipv4Addr::LOCALHOST
            } else if let Some((_, ip)) = hosts.iter().find(|(n, _)| *n == name) {
                *ip
            } else {
                return Err(format!("host {host:?} is not in the lab proxy's host map"));
            }
        }
    };
    Ok(SocketAddr::new(IpAddr::V4(ip), port))
}

async fn tunnel(mut client: TcpStream, request: &Request, pending: Vec<u8>, shared: &Shared) {
    let target = match resolve_target(&request.target, &shared.hosts) {
        Ok(target) => target,
        Err(reason) => {
            let headers = [("X-Lab-Proxy-Refused", reason.as_str()), ("Content-Type", "text/plain")];
            let body = format!("lab-proxy refuses this target: {reason}\n");
            return close_with(client, 403, &headers, &body).await;
        }
    };
    // Defence in depth: nothing but 127.0.0.0/8 is ever connected to.
    assert!(matches!(target.ip(), IpAddr::V4(v4) if v4.is_loopback()), "lab proxy: refusing {target}");
    shared.upstreams.lock().unwrap().push(target);
    let mut upstream = match tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Ok(Ok(upstream)) => upstream,
        Ok(Err(e)) => {
            let body = format!("lab-proxy: connect to {target} failed: {e}\n");
            return close_with(client, 502, &[("Content-Type", "text/plain")], &body).await;
        }
        Err(_) => {
            let body = format!("lab-proxy: connect to {target} timed out\n");
            return close_with(client, 504, &[("Content-Type", "text/plain")], &body).await;
        }
    };
    if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
        return;
    }
    if !pending.is_empty() && upstream.write_all(&pending).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

fn response(status: u16, headers: &[(&str, &str)], body: &str, close: bool) -> Vec<u8> {
    response_with_reason(status, reason(status), headers, body, close)
}

fn response_with_reason(status: u16, reason: &str, headers: &[(&str, &str)], body: &str, close: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {reason}\r\nServer: lab-proxy\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

/// Writes a `Connection: close` response and closes (lingering).
async fn close_with(mut client: TcpStream, status: u16, headers: &[(&str, &str)], body: &str) {
    let bytes = response(status, headers, body, true);
    if client.write_all(&bytes).await.is_ok() {
        let _ = client.flush().await;
    }
    linger_close(client).await;
}

/// Half-closes, then reads and discards what the client still sends (at most
/// `LINGER`), so unread bytes do not turn the close into a reset.
async fn linger_close(mut client: TcpStream) {
    let _ = client.shutdown().await;
    let _ = tokio::time::timeout(LINGER, drain(&mut client)).await;
}

/// Reads and discards until EOF or error.
async fn drain(client: &mut TcpStream) {
    let mut chunk = [0u8; 4096];
    while let Ok(n) = client.read(&mut chunk).await {
        if n == 0 {
            break;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "Connection established",
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
