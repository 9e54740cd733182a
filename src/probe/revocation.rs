//! Revocation and issuer fetches: for each presented certificate (the trust anchor excepted),
//! its CRL distribution points, its AIA OCSP responder and its AIA caIssuers URL, fetched over
//! the path the node's TLS stack would use (through the configured proxy with an absolute-form
//! GET and its credentials unless NO_PROXY exempts the URL's host, otherwise directly), each URL
//! once per run however many endpoints share it. Plain HTTP/1.1 parsed with httparse; bodies
//! are capped per kind, redirects are limited, and every fetch ends within the stage timeout.
//! What came back is validated by [`crate::trust::revocation`]; diagnose judges it.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;

use super::{Prober, connect, ms};
use crate::catalog::Host;
use crate::config::proxy::ProxyConfig;
use crate::trust::TrustVerdict;
use crate::trust::revocation::{self as rv, Answer, IssuerKey, IssuerOrigin, SourceKind};

/// Most bytes of a CRL read (Microsoft's largest public CRLs are a few MiB).
pub const MAX_CRL_BYTES: usize = 10 * 1024 * 1024;
/// Most bytes of an OCSP response read.
pub const MAX_OCSP_BYTES: usize = 64 * 1024;
/// Most bytes of a caIssuers answer read.
pub const MAX_ISSUER_BYTES: usize = 1024 * 1024;
/// Most bytes of a response head read.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most bytes of a non-2xx body kept (for its first words).
const MAX_ERROR_BODY: usize = 16 * 1024;
/// Most redirects followed.
pub const MAX_REDIRECTS: usize = 5;
/// Most characters of a page quoted.
const EXCERPT_CHARS: usize = 160;

/// The cap of one kind of answer.
pub fn cap(kind: SourceKind) -> usize {
    match kind {
        SourceKind::Crl => MAX_CRL_BYTES,
        SourceKind::Ocsp => MAX_OCSP_BYTES,
        SourceKind::CaIssuers => MAX_ISSUER_BYTES,
    }
}

/// The path a fetch took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// Straight to the URL's host.
    Direct,
    /// An absolute-form GET to the configured proxy.
    Proxy,
}

impl Via {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Direct => "direct",
            Via::Proxy => "proxy",
        }
    }
}

/// Why nothing usable came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FetchFailure {
    /// The URL's host name did not resolve.
    Dns,
    /// No TCP connection to the URL's host.
    Tcp,
    /// The proxy could not be reached, refused, or could not reach the host itself.
    Proxy,
    /// No complete answer within the timeout.
    Timeout,
}

impl FetchFailure {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchFailure::Dns => "dns",
            FetchFailure::Tcp => "tcp",
            FetchFailure::Proxy => "proxy",
            FetchFailure::Timeout => "timeout",
        }
    }
}

/// What one fetch of a URL got (shared by every endpoint naming the URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// How the request went: directly, or through the run's proxy.
    pub via: Via,
    /// Set when no answer came back.
    pub failure: Option<FetchFailure>,
    /// The final HTTP status (after redirects).
    pub http_status: Option<u16>,
    /// The response's `Content-Type` (e.g. `application/pkix-crl`, `application/ocsp-response`).
    pub content_type: Option<String>,
    /// The body of a 2xx answer, within the cap of its kind.
    pub body: Vec<u8>,
    /// Time the fetch took, redirects included, in milliseconds.
    pub duration_ms: u64,
    /// The failure, or what was wrong with the answer (too big, redirect loop), in words.
    pub detail: Option<String>,
    /// The answer is unusable whatever its body (non-2xx, too big, a redirect loop, a redirect to https).
    pub unusable: bool,
    /// The first words of a body that is text (a block page), control characters removed.
    pub excerpt: Option<String>,
    /// Redirects followed, in order.
    pub redirects: Vec<String>,
    /// Body bytes received (within the cap), whether kept or not.
    pub received: usize,
}

impl Fetched {
    fn new(via: Via) -> Fetched {
        Fetched {
            via,
            failure: None,
            http_status: None,
            content_type: None,
            body: Vec::new(),
            duration_ms: 0,
            detail: None,
            unusable: false,
            excerpt: None,
            redirects: Vec::new(),
            received: 0,
        }
    }

    fn failed(via: Via, failure: FetchFailure, detail: String) -> Fetched {
        let mut f = Fetched::new(via);
        f.failure = Some(failure);
        f.detail = Some(detail);
        f
    }

    fn unusable(mut self, detail: String) -> Fetched {
        self.unusable = true;
        self.detail = Some(detail);
        self
    }
}

/// One URL of one certificate and what it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckObservation {
    /// Index in the presented chain (0 = leaf).
    pub certificate: usize,
    /// CRL, OCSP or caIssuers.
    pub kind: SourceKind,
    /// The URL as the certificate names it.
    pub url: String,
    /// None when no request could be made (an OCSP request needs the issuer).
    pub fetch: Option<Arc<Fetched>>,
    /// None when the fetch failed or was unusable.
    pub answer: Option<Answer>,
}

/// A certificate whose issuer was not presented, and what fetching it from caIssuers did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRepair {
    /// Index of the certificate whose issuer is missing.
    pub certificate: usize,
    /// The caIssuers URLs it names.
    pub urls: Vec<String>,
    /// The URL that gave the issuer, and its subject.
    pub fetched_from: Option<String>,
    /// The fetched issuer's subject (RFC 4514 text); None when no URL gave it.
    pub issuer: Option<String>,
    /// Each store's verdict on the chain with the fetched issuer added.
    pub public: Option<TrustVerdict>,
    /// The node store's verdict on the repaired chain (None: no issuer fetched).
    pub system: Option<TrustVerdict>,
}

/// The revocation and issuer checks of one presented chain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevocationObservation {
    /// `--no-revocation`: nothing was fetched.
    pub skipped: bool,
    /// One entry per http:// URL a presented certificate names (CRL, OCSP, caIssuers).
    pub checks: Vec<CheckObservation>,
    /// URLs named but not fetched (not http://), with their certificate index.
    pub ignored: Vec<(usize, String)>,
    /// The repair of a chain whose issuer was not presented (None: every issuer was presented).
    pub repair: Option<ChainRepair>,
}

/// The run's fetches, one per URL (shared by all endpoints).
#[derive(Debug, Default)]
pub struct Cache {
    cells: Mutex<HashMap<String, Arc<OnceCell<Arc<Fetched>>>>>,
}

impl Cache {
    /// URLs fetched (or being fetched) so far.
    pub fn len(&self) -> usize {
        self.cells.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// No URL fetched yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    async fn get(&self, prober: &Prober, url: &str, kind: SourceKind, deadline: Instant) -> Arc<Fetched> {
        let cell = match self.cells.lock() {
            Ok(mut m) => m.entry(url.to_string()).or_default().clone(),
            Err(_) => Arc::new(OnceCell::new()),
        };
        cell.get_or_init(|| async { Arc::new(fetch(prober, url, cap(kind), deadline).await) }).await.clone()
    }
}

/// The proxy a fetch of `url`'s host goes through: the run's proxy unless NO_PROXY exempts it.
fn route<'a>(proxy: Option<&'a ProxyConfig>, host: &Host, port: u16) -> Option<&'a ProxyConfig> {
    proxy.filter(|p| p.no_proxy.matches(host, port).is_none())
}

fn host_of(url: &url::Url) -> Option<Host> {
    match url.host()? {
        url::Host::Domain(d) => Some(Host::Name(d.trim_end_matches('.').to_ascii_lowercase())),
        url::Host::Ipv4(ip) => Some(Host::Ip(IpAddr::V4(ip))),
        url::Host::Ipv6(ip) => Some(Host::Ip(IpAddr::V6(ip))),
    }
}

/// Resolve `host` and connect to `port` (the first address that answers).
async fn open(prober: &Prober, host: &Host, port: u16, timeout: Duration) -> Result<TcpStream, (FetchFailure, String)> {
    let addrs = match host {
        Host::Ip(ip) => vec![*ip],
        Host::Name(name) => {
            let d = prober.resolver.resolve(name).await;
            if d.addresses.is_empty() {
                return Err((
                    FetchFailure::Dns,
                    format!(
                        "DNS: {name} did not resolve ({}){}",
                        d.status.as_str(),
                        d.error.map(|e| format!(": {e}")).unwrap_or_default()
                    ),
                ));
            }
            d.addresses
        }
    };
    let addrs: Vec<SocketAddr> = addrs.into_iter().map(|ip| SocketAddr::new(ip, port)).collect();
    let (attempts, chosen) = connect::connect_all(&addrs, timeout).await;
    match chosen {
        Some((_, stream)) => Ok(stream),
        None => {
            let why = attempts.iter().find_map(|a| a.error.clone()).unwrap_or_else(|| "no address".into());
            let timed_out = attempts.iter().all(|a| a.status == super::TcpStatus::Timeout);
            Err((if timed_out { FetchFailure::Timeout } else { FetchFailure::Tcp }, format!("TCP: {why}")))
        }
    }
}

/// The first words of a text body, printable.
fn excerpt(body: &[u8]) -> Option<String> {
    if body.first() == Some(&0x30) {
        return None;
    }
    let text: String = String::from_utf8_lossy(&body[..body.len().min(4096)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = words.chars().take(EXCERPT_CHARS).collect();
    (!cut.is_empty()).then_some(cut)
}

/// Fetch `url` (following redirects) within what is left until `deadline` (at least 100 ms).
pub async fn fetch(prober: &Prober, url: &str, cap: usize, deadline: Instant) -> Fetched {
    let start = Instant::now();
    let budget = deadline.saturating_duration_since(start).max(Duration::from_millis(100));
    let phase = Mutex::new(String::from("connecting"));
    let via = url::Url::parse(url)
        .ok()
        .and_then(|u| Some((host_of(&u)?, u.port_or_known_default()?)))
        .and_then(|(h, p)| route(prober.proxy.as_ref(), &h, p))
        .map_or(Via::Direct, |_| Via::Proxy);
    let mut out = match tokio::time::timeout(budget, get(prober, url, cap, budget, &phase)).await {
        Ok(f) => f,
        Err(_) => {
            let at = phase.lock().map(|p| p.clone()).unwrap_or_default();
            Fetched::failed(
                via,
                FetchFailure::Timeout,
                format!("no complete answer within {} ms ({at})", budget.as_millis()),
            )
        }
    };
    out.duration_ms = ms(start.elapsed());
    out
}

struct Head {
    status: u16,
    content_type: Option<String>,
    location: Option<String>,
    length: Option<usize>,
    chunked: bool,
    rest: Vec<u8>,
}

async fn get(prober: &Prober, first: &str, cap: usize, timeout: Duration, phase: &Mutex<String>) -> Fetched {
    let set = |s: String| {
        if let Ok(mut p) = phase.lock() {
            *p = s;
        }
    };
    let mut current = first.to_string();
    let mut redirects: Vec<String> = Vec::new();
    loop {
        let url = match url::Url::parse(&current) {
            Ok(u) => u,
            Err(e) => return Fetched::new(Via::Direct).unusable(format!("`{current}` is not a URL ({e})")),
        };
        let (Some(host), Some(port)) = (host_of(&url), url.port_or_known_default()) else {
            return Fetched::new(Via::Direct).unusable(format!("`{current}` names no host"));
        };
        let proxy = route(prober.proxy.as_ref(), &host, port);
        let via = if proxy.is_some() { Via::Proxy } else { Via::Direct };
        if url.scheme() != "http" {
            let mut f = Fetched::new(via);
            f.redirects = redirects.clone();
            let what = if redirects.is_empty() { "the URL" } else { "a redirect" };
            return f.unusable(format!("{what} leads to {current}: only plain http:// is fetched, as Windows does"));
        }
        let authority = match (&host, url.port()) {
            (Host::Ip(IpAddr::V6(ip)), Some(p)) => format!("[{ip}]:{p}"),
            (Host::Ip(IpAddr::V6(ip)), None) => format!("[{ip}]"),
            (h, Some(p)) => format!("{}:{p}", h.bare()),
            (h, None) => h.bare(),
        };
        let mut target = url.clone();
        target.set_fragment(None);
        let mut request = match proxy {
            Some(_) => format!("GET {} HTTP/1.1\r\n", target.as_str()),
            None => format!("GET {} HTTP/1.1\r\n", &target[url::Position::BeforePath..]),
        };
        request.push_str(&format!(
            "Host: {authority}\r\nUser-Agent: {}/{}\r\nAccept: */*\r\nConnection: close\r\n",
            crate::TOOL_NAME,
            crate::TOOL_VERSION
        ));
        if let Some(c) = proxy.and_then(|p| p.credentials.as_ref()) {
            request.push_str(&format!("Proxy-Authorization: {}\r\n", c.basic_header()));
        }
        request.push_str("\r\n");
        let opened = match proxy {
            Some(p) => {
                set(format!("connecting to the proxy {}", p.redacted_url()));
                open(prober, &p.host, p.port, timeout)
                    .await
                    .map_err(|(_, e)| (FetchFailure::Proxy, format!("proxy {}: {e}", p.redacted_url())))
            }
            None => {
                set(format!("connecting to {authority}"));
                open(prober, &host, port, timeout).await
            }
        };
        let mut stream = match opened {
            Ok(s) => s,
            Err((failure, detail)) => {
                let mut f = Fetched::failed(via, failure, detail);
                f.redirects = redirects;
                return f;
            }
        };
        set(format!("waiting for the answer from {authority}"));
        let head = match read_head(&mut stream, request.as_bytes()).await {
            Ok(h) => h,
            Err(e) => {
                let mut f = Fetched::new(via).unusable(format!("{authority}: {e}"));
                f.redirects = redirects;
                return f;
            }
        };
        let mut f = Fetched::new(via);
        f.http_status = Some(head.status);
        f.content_type = head.content_type.clone();
        if let Some(p) = proxy
            && matches!(head.status, 407 | 502 | 503 | 504)
        {
            let what = if head.status == 407 {
                "requires authentication".to_string()
            } else {
                format!("could not reach {authority} itself")
            };
            let mut f = Fetched::failed(
                via,
                FetchFailure::Proxy,
                format!("the proxy {} {what} (HTTP {})", p.redacted_url(), head.status),
            );
            f.http_status = Some(head.status);
            f.content_type = head.content_type;
            f.redirects = redirects;
            return f;
        }
        if (300..400).contains(&head.status)
            && let Some(location) = &head.location
        {
            let next = url.join(location).map(|u| u.to_string()).unwrap_or_else(|_| location.clone());
            redirects.push(next.clone());
            if redirects.len() > MAX_REDIRECTS {
                f.redirects = redirects;
                return f.unusable(format!("more than {MAX_REDIRECTS} redirects (a redirect loop through {next})"));
            }
            current = next;
            continue;
        }
        f.redirects = redirects;
        let ok = (200..300).contains(&head.status);
        let limit = if ok { cap } else { MAX_ERROR_BODY };
        if ok && head.length.is_some_and(|n| n > limit) {
            let n = head.length.unwrap_or_default();
            return f.unusable(format!("the answer declares {n} bytes, more than the {limit} bytes allowed"));
        }
        set(format!("reading the body from {authority}"));
        let body = read_body(&mut stream, head.rest, head.length, head.chunked, limit).await;
        match body {
            Ok((body, truncated)) => {
                f.excerpt = excerpt(&body);
                f.received = body.len();
                if !ok {
                    return f.unusable("an error status instead of an answer".into());
                }
                if truncated {
                    return f.unusable(format!("the answer goes on past the {limit} bytes allowed"));
                }
                f.body = body;
                return f;
            }
            Err(e) => return f.unusable(format!("{authority}: {e}")),
        }
    }
}

async fn read_head(stream: &mut TcpStream, request: &[u8]) -> Result<Head, String> {
    stream.write_all(request).await.map_err(|e| format!("send the request: {e}"))?;
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|e| format!("read the answer: {e}"))?;
        if n == 0 {
            return Err(format!("the connection closed after {} bytes, before a complete answer head", buf.len()));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let header = |name: &str| super::http::header(resp.headers, name);
                return Ok(Head {
                    status: resp.code.unwrap_or(0),
                    content_type: header("content-type"),
                    location: header("location"),
                    length: header("content-length").and_then(|v| v.trim().parse().ok()),
                    chunked: header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")),
                    rest: buf[len..].to_vec(),
                });
            }
            Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => {
                return Err(format!("{} bytes without the end of an answer head", buf.len()));
            }
            Ok(httparse::Status::Partial) => {}
            Err(e) => return Err(format!("not an HTTP answer ({e})")),
        }
    }
}

/// Read a body framed by Content-Length, chunked encoding or the close, keeping at most
/// `limit` bytes; the flag says the body went on past the limit.
async fn read_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
    length: Option<usize>,
    chunked: bool,
    limit: usize,
) -> Result<(Vec<u8>, bool), String> {
    let mut chunk = vec![0u8; 16 * 1024];
    if chunked {
        let mut out = Vec::new();
        loop {
            // Need a complete chunk-size line.
            match httparse::parse_chunk_size(&buf) {
                Ok(httparse::Status::Complete((used, size))) => {
                    if size == 0 {
                        return Ok((out, false));
                    }
                    let size = usize::try_from(size).unwrap_or(usize::MAX);
                    if out.len().saturating_add(size) > limit {
                        return Ok((out, true));
                    }
                    while buf.len() < used + size + 2 {
                        let n = stream.read(&mut chunk).await.map_err(|e| format!("read the body: {e}"))?;
                        if n == 0 {
                            return Err("the connection closed inside a chunk".into());
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    out.extend_from_slice(&buf[used..used + size]);
                    buf.drain(..used + size + 2);
                }
                Ok(httparse::Status::Partial) => {
                    if buf.len() > 1024 {
                        return Err("a chunk-size line longer than 1 KiB".into());
                    }
                    let n = stream.read(&mut chunk).await.map_err(|e| format!("read the body: {e}"))?;
                    if n == 0 {
                        return Err("the connection closed before the last chunk".into());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                Err(_) => return Err("a malformed chunked body".into()),
            }
        }
    }
    let want = length.unwrap_or(usize::MAX);
    while buf.len() < want {
        if buf.len() > limit {
            buf.truncate(limit);
            return Ok((buf, true));
        }
        let n = stream.read(&mut chunk).await.map_err(|e| format!("read the body: {e}"))?;
        if n == 0 {
            if length.is_some() {
                return Err(format!("the connection closed after {} of {want} bytes", buf.len()));
            }
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.truncate(want);
    let over = buf.len() > limit;
    buf.truncate(limit);
    Ok((buf, over))
}

/// Is `der` a self-signed certificate (a trust anchor sent along)?
fn self_signed(der: &[u8]) -> bool {
    rv::ids(der).is_some_and(|i| i.self_issued)
        && rv::issuer_key_of(der, IssuerOrigin::Presented).is_some_and(|k| rv::signed_by(der, &k.spki_der))
}

/// The issuer of certificate `i` among the presented certificates and the anchors.
fn known_issuer(chain: &[CertificateDer<'static>], anchors: &[IssuerKey], i: usize) -> Option<IssuerKey> {
    let der = chain.get(i)?;
    let ids = rv::ids(der)?;
    chain
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .filter_map(|(_, c)| rv::issuer_key_of(c, IssuerOrigin::Presented))
        .chain(anchors.iter().cloned())
        .find(|k| k.name_der == ids.issuer_der && rv::signed_by(der, &k.spki_der))
}

/// The OCSP GET URL for a DER request (RFC 6960 appendix A: base64, URL-escaped, after a `/`).
fn ocsp_get_url(base: &str, request: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(request);
    let escaped = percent_encoding::utf8_percent_encode(&b64, percent_encoding::NON_ALPHANUMERIC).to_string();
    let sep = if base.ends_with('/') { "" } else { "/" };
    format!("{base}{sep}{escaped}")
}

/// The checks of one certificate.
async fn check_certificate(
    prober: &Prober,
    cache: &Cache,
    chain: &[CertificateDer<'static>],
    i: usize,
    deadline: Instant,
) -> (Vec<CheckObservation>, Vec<(usize, String)>, Option<(IssuerKey, String, String)>) {
    let der = &chain[i];
    let sources = rv::sources(der);
    let mut ignored = Vec::new();
    let mut http = |urls: Vec<String>| -> Vec<String> {
        urls.into_iter()
            .filter(|u| {
                let ok = u.to_ascii_lowercase().starts_with("http://");
                if !ok {
                    ignored.push((i, u.clone()));
                }
                ok
            })
            .collect()
    };
    let (crl, ocsp, ca) = (http(sources.crl), http(sources.ocsp), http(sources.ca_issuers));
    let Some(ids) = rv::ids(der) else {
        return (Vec::new(), ignored, None);
    };
    let known = known_issuer(chain, &prober.stores.anchors, i);
    let ocsp_fetches = |issuer: Option<IssuerKey>| {
        let ocsp = ocsp.clone();
        let serial = ids.serial.clone();
        async move {
            let request = issuer.as_ref().and_then(|k| rv::ocsp_request(&serial, k));
            let mut out = Vec::new();
            for url in ocsp {
                match (&request, &issuer) {
                    (Some(req), Some(k)) => {
                        let fetch = cache.get(prober, &ocsp_get_url(&url, req), SourceKind::Ocsp, deadline).await;
                        let answer = usable(&fetch).then(|| rv::check_ocsp(&fetch.body, &serial, k));
                        out.push(CheckObservation {
                            certificate: i,
                            kind: SourceKind::Ocsp,
                            url,
                            fetch: Some(fetch),
                            answer,
                        });
                    }
                    _ => out.push(CheckObservation {
                        certificate: i,
                        kind: SourceKind::Ocsp,
                        url,
                        fetch: None,
                        answer: Some(Answer::Unverifiable(
                            "the issuer's certificate is not known: no OCSP request can be made".into(),
                        )),
                    }),
                }
            }
            out
        }
    };
    let crl_fetches = futures::future::join_all(crl.iter().map(|u| cache.get(prober, u, SourceKind::Crl, deadline)));
    let ca_fetches =
        futures::future::join_all(ca.iter().map(|u| cache.get(prober, u, SourceKind::CaIssuers, deadline)));
    let early_ocsp = async {
        match &known {
            Some(k) => Some(ocsp_fetches(Some(k.clone())).await),
            None => None,
        }
    };
    let (crl_got, ca_got, early) = tokio::join!(crl_fetches, ca_fetches, early_ocsp);
    let mut checks = Vec::new();
    let mut fetched_issuer = None;
    for (url, fetch) in ca.into_iter().zip(ca_got) {
        let answer = usable(&fetch).then(|| rv::check_ca_issuers(&fetch.body, der));
        if let Some(Answer::Issuer { der: issuer_der, subject }) = &answer
            && fetched_issuer.is_none()
            && let Some(k) = rv::issuer_key_of(issuer_der, IssuerOrigin::Fetched)
        {
            fetched_issuer = Some((k, url.clone(), subject.clone()));
        }
        checks.push(CheckObservation { certificate: i, kind: SourceKind::CaIssuers, url, fetch: Some(fetch), answer });
    }
    let issuer = known.clone().or_else(|| fetched_issuer.as_ref().map(|f| f.0.clone()));
    for (url, fetch) in crl.into_iter().zip(crl_got) {
        let answer = usable(&fetch).then(|| rv::check_crl(&fetch.body, &ids.serial, &ids.issuer_der, issuer.as_ref()));
        checks.push(CheckObservation { certificate: i, kind: SourceKind::Crl, url, fetch: Some(fetch), answer });
    }
    match early {
        Some(o) => checks.extend(o),
        None => checks.extend(ocsp_fetches(issuer).await),
    }
    // Rows in a stable order: CRL, OCSP, caIssuers.
    checks.sort_by_key(|c| match c.kind {
        SourceKind::Crl => 0,
        SourceKind::Ocsp => 1,
        SourceKind::CaIssuers => 2,
    });
    (checks, ignored, if known.is_none() { fetched_issuer } else { None })
}

fn usable(f: &Fetched) -> bool {
    f.failure.is_none() && !f.unusable
}

/// Check every presented certificate's revocation and issuer URLs (the trust anchor excepted).
/// None when nothing was presented; `skipped` with `--no-revocation`.
pub async fn check(
    prober: &Prober,
    chain: Vec<CertificateDer<'static>>,
    host: String,
) -> Option<RevocationObservation> {
    if chain.is_empty() {
        return None;
    }
    let Some(cache) = prober.revocation.as_deref() else {
        return Some(RevocationObservation { skipped: true, ..RevocationObservation::default() });
    };
    let deadline = Instant::now() + prober.timeout;
    let indices: Vec<usize> = (0..chain.len()).filter(|i| !self_signed(&chain[*i])).collect();
    let results =
        futures::future::join_all(indices.iter().map(|i| check_certificate(prober, cache, &chain, *i, deadline))).await;
    let mut obs = RevocationObservation::default();
    let mut extra: Vec<CertificateDer<'static>> = Vec::new();
    for (i, (checks, ignored, fetched)) in indices.iter().zip(results) {
        obs.checks.extend(checks);
        obs.ignored.extend(ignored);
        let missing = known_issuer(&chain, &prober.stores.anchors, *i).is_none();
        if missing && obs.repair.is_none() {
            let urls = rv::sources(&chain[*i]).ca_issuers;
            obs.repair = Some(ChainRepair {
                certificate: *i,
                urls,
                fetched_from: fetched.as_ref().map(|f| f.1.clone()),
                issuer: fetched.as_ref().map(|f| f.2.clone()),
                public: None,
                system: None,
            });
        }
        if let Some((_, url, _)) = fetched
            && let Some(Answer::Issuer { der, .. }) = obs
                .checks
                .iter()
                .find(|c| c.certificate == *i && c.kind == SourceKind::CaIssuers && c.url == url)
                .and_then(|c| c.answer.clone())
        {
            extra.push(CertificateDer::from(der));
        }
    }
    // Would the chain verify with the fetched issuers (as Windows would build it)?
    if let Some(repair) = obs.repair.as_mut()
        && repair.issuer.is_some()
        && let Ok(name) = ServerName::try_from(host)
    {
        let intermediates: Vec<CertificateDer<'static>> = chain[1..].iter().cloned().chain(extra).collect();
        let judge = |store: &crate::trust::Store| {
            store.verifier.as_ref().map(|_| store.judge(&chain[0], &intermediates, &name, &[], UnixTime::now()).0)
        };
        repair.public = judge(&prober.stores.public).or(Some(TrustVerdict::NoTrustAnchors));
        repair.system = judge(&prober.stores.system).or(Some(TrustVerdict::NoTrustAnchors));
    }
    Some(obs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_are_capped_whatever_their_framing() {
        let endless = vec![b'x'; 100_000];
        let (b, over) = read_body(&mut &endless[..], Vec::new(), None, false, 1000).await.unwrap();
        assert_eq!((b.len(), over), (1000, true));
        let (b, over) = read_body(&mut &b"hello"[..], Vec::new(), Some(5), false, 1000).await.unwrap();
        assert_eq!((b.as_slice(), over), (&b"hello"[..], false));
        let chunked = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        let (b, over) = read_body(&mut &chunked[..], Vec::new(), None, true, 1000).await.unwrap();
        assert_eq!((b.as_slice(), over), (&b"hello world"[..], false));
        let (_, over) = read_body(&mut &chunked[..], Vec::new(), None, true, 8).await.unwrap();
        assert!(over);
        assert!(read_body(&mut &b"zz\r\n"[..], Vec::new(), None, true, 8).await.is_err());
    }

    #[test]
    fn ocsp_get_urls_escape_base64() {
        assert_eq!(ocsp_get_url("http://o.example", &[0xfb, 0xff]), "http://o.example/%2B%2F8%3D");
        assert_eq!(ocsp_get_url("http://o.example/", &[1]), "http://o.example/AQ%3D%3D");
        assert_eq!(
            excerpt(b"<html>\n<b>Blocked</b>\tby policy</html>").as_deref(),
            Some("<html> <b>Blocked</b> by policy</html>")
        );
        assert_eq!(excerpt(&[0x30, 1]), None);
    }
}
