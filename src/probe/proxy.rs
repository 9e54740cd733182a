//! The proxy stage: the HTTP CONNECT exchange that opens a tunnel to the endpoint through the
//! proxy the configuration names ([`crate::config::proxy`]: which proxy applies, NO_PROXY,
//! credentials). Whatever the proxy sent is scrubbed of the credentials before it is kept.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::resolve::Resolver;
use super::{DnsStatus, Peer, TcpAttempt, connect, ms};
use crate::catalog::Host;
/// A proxy hop's `bypass_readings` (NO_PROXY is configuration: [`crate::config::proxy`]).
pub use crate::config::proxy::{BypassClient, BypassReading};
use crate::config::proxy::{ProxyConfig, Scrubber};

/// Scrubbing of the stages' observations (the settings side of [`Scrubber`] is in
/// [`crate::config::proxy`]).
impl Scrubber {
    /// Scrub every string of a proxy hop that holds bytes the proxy sent.
    pub fn hop(&self, hop: &mut ProxyHop) {
        let singles = hop.server.iter_mut().chain(hop.via.iter_mut()).chain(hop.reason.iter_mut());
        for s in singles.chain(hop.error.iter_mut()) {
            self.scrub_in_place(s);
        }
        hop.authenticate.iter_mut().for_each(|s| self.scrub_in_place(s));
        if let Some(b) = &mut hop.body_excerpt {
            *b = self.scrub_excerpt(b);
        }
    }

    /// Scrub every string of the HTTP stage (through a proxy, the answer may be the proxy's).
    pub fn http(&self, http: &mut super::HttpObservation) {
        let singles = http.date.iter_mut().chain(http.server.iter_mut()).chain(http.via.iter_mut());
        for s in
            singles.chain(http.error.iter_mut()).chain(http.proxy_headers.iter_mut()).chain(http.edge_ref.iter_mut())
        {
            self.scrub_in_place(s);
        }
        if let Some(b) = &mut http.body_excerpt {
            *b = self.scrub_excerpt(b);
        }
    }

    /// Scrub every string of the TLS stage that the peer chose (an intercepting proxy mints the
    /// certificates).
    pub fn tls(&self, tls: &mut super::TlsObservation) {
        for c in &mut tls.chain {
            for s in [&mut c.subject, &mut c.issuer, &mut c.serial] {
                self.scrub_in_place(s);
            }
            for s in c.subject_cn.iter_mut().chain(c.issuer_cn.iter_mut()).chain(c.issuer_o.iter_mut()) {
                self.scrub_in_place(s);
            }
            c.sans.iter_mut().chain(c.aia.iter_mut()).for_each(|s| self.scrub_in_place(s));
        }
        for s in tls.alert.iter_mut().chain(tls.error.iter_mut()) {
            self.scrub_in_place(s);
        }
        if let Some(t) = &mut tls.trust {
            t.public_detail.iter_mut().chain(t.system_detail.iter_mut()).for_each(|s| self.scrub_in_place(s));
        }
    }
}

/// How the CONNECT went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProxyStatus {
    /// The tunnel is open (200 to CONNECT).
    Ok,
    /// NO_PROXY exempts the endpoint: connected directly.
    Bypassed,
    /// The proxy's name did not resolve or no connection to it could be made.
    Unreachable,
    /// 407.
    AuthRequired,
    /// 403 or another refusal.
    Denied,
    /// 502/503/504: the proxy could not reach the endpoint.
    UpstreamFailed,
    /// The proxy accepted the connection but did not answer the CONNECT in time.
    Timeout,
    /// The proxy answered with something that is not HTTP, or closed the connection.
    Error,
}

impl ProxyStatus {
    /// The stable label, as in the report (`ok`, `bypassed`, `auth_required`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyStatus::Ok => "ok",
            ProxyStatus::Bypassed => "bypassed",
            ProxyStatus::Unreachable => "unreachable",
            ProxyStatus::AuthRequired => "auth_required",
            ProxyStatus::Denied => "denied",
            ProxyStatus::UpstreamFailed => "upstream_failed",
            ProxyStatus::Timeout => "timeout",
            ProxyStatus::Error => "error",
        }
    }
}

/// The proxy hop of one endpoint (reported as an endpoint's `proxy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProxyHop {
    /// The proxy URL, credentials redacted.
    pub url: String,
    /// How the CONNECT went.
    pub status: ProxyStatus,
    /// The proxy's HTTP status for CONNECT.
    pub http_status: Option<u16>,
    /// Resolving and connecting to the proxy and the CONNECT exchange, in milliseconds.
    pub duration_ms: u64,
    /// The proxy address the CONNECT went to (null in a `--redact` report when it is internal:
    /// its token is in the endpoint's `tcp[].address`).
    pub address: Option<SocketAddr>,
    /// Authentication schemes the proxy offered (Proxy-Authenticate), e.g. `NTLM`, `Negotiate`, `Basic`.
    pub authenticate: Vec<String>,
    /// Whether Proxy-Authorization was sent.
    pub credentials_sent: bool,
    /// The reason phrase of the proxy's status line (`Unable to connect` in `HTTP/1.0 500 Unable to connect`),
    /// control characters removed, at most 128 characters.
    pub reason: Option<String>,
    /// The `Server` header of the proxy's answer (names the product, e.g. `squid/6.1`).
    pub server: Option<String>,
    /// The `Via` header of the proxy's answer.
    pub via: Option<String>,
    /// The first words of the proxy's answer page (markup, styles and scripts removed) (a block page), control characters removed.
    pub body_excerpt: Option<String>,
    /// The NO_PROXY entry that exempted the endpoint (status `bypassed`).
    pub bypass_rule: Option<String>,
    /// How curl, Go, .NET and WinHTTP read the bypass list for this endpoint, when they do not all
    /// agree with this probe's reading (then a ProxyBypassAmbiguous finding says so); else empty.
    #[serde(default)]
    pub bypass_readings: Vec<BypassReading>,
    /// What went wrong, naming the proxy; null when the tunnel opened or was bypassed.
    pub error: Option<String>,
}

impl ProxyHop {
    /// The hop of an endpoint NO_PROXY exempts: status `bypassed`, the matching `rule`, no connect.
    pub fn bypassed(proxy: &ProxyConfig, rule: &str) -> ProxyHop {
        let mut hop = ProxyHop::new(proxy);
        hop.status = ProxyStatus::Bypassed;
        hop.bypass_rule = Some(rule.to_string());
        hop
    }

    fn new(proxy: &ProxyConfig) -> ProxyHop {
        ProxyHop {
            url: proxy.redacted_url(),
            status: ProxyStatus::Error,
            http_status: None,
            duration_ms: 0,
            address: None,
            authenticate: Vec::new(),
            credentials_sent: proxy.credentials.is_some(),
            reason: None,
            server: None,
            via: None,
            body_excerpt: None,
            bypass_rule: None,
            bypass_readings: Vec::new(),
            error: None,
        }
    }
}

/// Most bytes read while waiting for the end of the CONNECT response head.
const MAX_HEAD: usize = 64 * 1024;
/// Most bytes of a refusal body kept.
const MAX_EXCERPT: usize = 512;
/// Most bytes of a refusal page read to tell what it says (error pages put their words after the styles).
const MAX_PAGE: usize = 16 * 1024;

/// Authentication schemes named in Proxy-Authenticate header values.
pub fn auth_schemes<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        for part in split_unquoted(v) {
            let word = part.split_whitespace().next().unwrap_or("");
            if !word.is_empty() && !word.contains('=') && !out.iter().any(|s| s.eq_ignore_ascii_case(word)) {
                out.push(word.to_string());
            }
        }
    }
    out
}

/// Split on commas that are not inside double quotes.
fn split_unquoted(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn excerpt(body: &[u8]) -> Option<String> {
    let text: String = String::from_utf8_lossy(&body[..body.len().min(MAX_EXCERPT)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!text.is_empty()).then_some(text)
}

/// Words of proxy error pages saying the proxy could not reach or resolve the endpoint itself
/// (tinyproxy, Squid, Sophos, Zscaler, Blue Coat, nginx and generic gateways), lower case.
const UPSTREAM_WORDS: &[&str] = &[
    "unable to connect",
    "could not connect",
    "cannot connect",
    "can't connect",
    "failed to connect",
    "connection refused",
    "connection timed out",
    "connection failed",
    "connect failed",
    "err_connect_fail",
    "err_dns_fail",
    "unable to resolve",
    "could not resolve",
    "cannot resolve",
    "unable to determine ip address",
    "name resolution",
    "dns lookup failed",
    "host not found",
    "unknown host",
    "no route to host",
    "network is unreachable",
    "remote server not responding",
    "upstream",
    "gateway timeout",
    "bad gateway",
];

/// Words of proxy policy pages (an administrator's rule refused the request), lower case.
const POLICY_WORDS: &[&str] = &[
    "access denied",
    "access control",
    "err_access_denied",
    "blocked",
    "policy",
    "filtered",
    "not allowed",
    "forbidden",
    "prohibited",
    "restricted",
    "category",
];

/// What a proxy's refusal of CONNECT means, from its status and its own words (reason phrase and
/// page text): the page's words win over the status class, because proxies differ in the status
/// they pick (tinyproxy answers `500 Unable to connect` for an upstream it cannot reach).
/// Upstream words -> [`ProxyStatus::UpstreamFailed`]; policy words -> [`ProxyStatus::Denied`];
/// otherwise 500, 502, 503 and 504 are upstream failures and every other status a refusal.
pub fn refusal_meaning(code: u16, reason: &str, page: &str) -> ProxyStatus {
    let said = format!("{reason} {page}").to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| said.contains(w));
    // A policy page may mention the upstream it protects ("upstream policy"): policy words win
    // only on a status that is itself a refusal.
    let refusal_status = matches!(code, 400..=499);
    if has(UPSTREAM_WORDS) && !(refusal_status && has(POLICY_WORDS)) {
        ProxyStatus::UpstreamFailed
    } else if has(POLICY_WORDS) {
        ProxyStatus::Denied
    } else if matches!(code, 500 | 502..=504) {
        ProxyStatus::UpstreamFailed
    } else {
        ProxyStatus::Denied
    }
}

/// The readable text of a proxy's answer page: markup, `<style>`/`<script>`/`<head>`-only content
/// except the title, and the common character entities decoded; whitespace collapsed.
pub fn page_text(body: &[u8]) -> String {
    let raw = String::from_utf8_lossy(body);
    let mut out = String::with_capacity(raw.len().min(MAX_PAGE));
    let lower = raw.to_ascii_lowercase();
    let mut i = 0;
    while i < raw.len() {
        let Some(rel) = raw[i..].find('<') else {
            out.push_str(&raw[i..]);
            break;
        };
        out.push_str(&raw[i..i + rel]);
        let tag_start = i + rel;
        // Skip the contents of elements that are not text.
        let skipped = ["style", "script"].iter().find_map(|name| {
            let open = format!("<{name}");
            lower[tag_start..].starts_with(&open).then(|| {
                let close = format!("</{name}");
                lower[tag_start..].find(&close).map_or(raw.len(), |end| tag_start + end + close.len())
            })
        });
        let from = skipped.unwrap_or(tag_start);
        i = match raw[from..].find('>') {
            Some(end) => from + end + 1,
            None => raw.len(),
        };
        out.push(' ');
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Resolve the proxy, connect to it (every address, the first that answers is used) and ask for a
/// tunnel to `target_host:target_port`. Returns the hop, the TCP attempts (peer = proxy) and the
/// open tunnel. Whatever the proxy sent is kept only after the credentials were scrubbed from it
/// ([`Scrubber`]): some proxies echo the request, Proxy-Authorization included.
pub async fn open_tunnel(
    resolver: &Resolver,
    proxy: &ProxyConfig,
    target_host: &Host,
    target_port: u16,
    timeout: Duration,
) -> (ProxyHop, Vec<TcpAttempt>, Option<TcpStream>) {
    let (mut hop, attempts, stream) = open_tunnel_unscrubbed(resolver, proxy, target_host, target_port, timeout).await;
    if let Some(s) = proxy.scrubber() {
        s.hop(&mut hop);
    }
    (hop, attempts, stream)
}

async fn open_tunnel_unscrubbed(
    resolver: &Resolver,
    proxy: &ProxyConfig,
    target_host: &Host,
    target_port: u16,
    timeout: Duration,
) -> (ProxyHop, Vec<TcpAttempt>, Option<TcpStream>) {
    let start = Instant::now();
    let mut hop = ProxyHop::new(proxy);
    let (addrs, dns) = match &proxy.host {
        Host::Ip(ip) => (vec![*ip], None),
        Host::Name(name) => {
            let d = resolver.resolve(name).await;
            (d.addresses.clone(), Some(d))
        }
    };
    if addrs.is_empty() {
        hop.status = ProxyStatus::Unreachable;
        let why = dns.as_ref().map_or(DnsStatus::Error, |d| d.status);
        let detail = dns.as_ref().and_then(|d| d.error.clone()).unwrap_or_default();
        hop.error = Some(format!("cannot resolve the proxy {} ({}): {detail}", proxy.host, why.as_str()));
        hop.duration_ms = ms(start.elapsed());
        return (hop, Vec::new(), None);
    }
    let addrs: Vec<SocketAddr> = addrs.into_iter().map(|ip| SocketAddr::new(ip, proxy.port)).collect();
    let (mut attempts, chosen) = connect::connect_all(&addrs, timeout).await;
    for a in &mut attempts {
        a.peer = Peer::Proxy;
    }
    let Some((addr, mut stream)) = chosen else {
        hop.status = ProxyStatus::Unreachable;
        hop.error = attempts.iter().find_map(|a| a.error.clone()).map(|e| format!("proxy: {e}"));
        hop.duration_ms = ms(start.elapsed());
        return (hop, attempts, None);
    };
    hop.address = Some(addr);
    let authority = match target_host {
        Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{target_port}"),
        h => format!("{}:{target_port}", h.bare()),
    };
    let mut request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {}/{}\r\nProxy-Connection: Keep-Alive\r\n",
        crate::TOOL_NAME,
        crate::TOOL_VERSION
    );
    if let Some(c) = &proxy.credentials {
        request.push_str("Proxy-Authorization: ");
        request.push_str(&c.basic_header());
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let exchange = exchange(&mut stream, request.as_bytes(), &addr);
    let result = tokio::time::timeout(timeout, exchange).await;
    hop.duration_ms = ms(start.elapsed());
    match result {
        Err(_) => {
            hop.status = ProxyStatus::Timeout;
            hop.error =
                Some(format!("the proxy {addr} did not answer CONNECT {authority} within {} ms", timeout.as_millis()));
            (hop, attempts, None)
        }
        Ok(Err(e)) => {
            hop.status = ProxyStatus::Error;
            hop.error = Some(e);
            (hop, attempts, None)
        }
        Ok(Ok(answer)) => {
            hop.http_status = Some(answer.code);
            hop.reason = answer.reason;
            hop.server = answer.server;
            hop.via = answer.via;
            hop.authenticate = answer.authenticate;
            hop.status = match answer.code {
                200..=299 => ProxyStatus::Ok,
                // tinyproxy answers wrong Basic credentials with 401 and WWW-Authenticate.
                401 | 407 => ProxyStatus::AuthRequired,
                // Refined below from what the page says.
                _ => ProxyStatus::Denied,
            };
            if hop.status == ProxyStatus::Ok {
                return (hop, attempts, Some(stream));
            }
            // Keep the first bytes of the refusal page, without waiting long for them.
            let wait = timeout.min(Duration::from_millis(500));
            let mut body = Vec::new();
            let want = answer.content_length.unwrap_or(MAX_PAGE).min(MAX_PAGE);
            let _ = tokio::time::timeout(wait, async {
                let mut chunk = [0u8; 512];
                while body.len() < want {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => body.extend_from_slice(&chunk[..n]),
                    }
                }
            })
            .await;
            let body = &body[..body.len().min(want)];
            let text = page_text(body);
            if hop.status == ProxyStatus::Denied {
                hop.status = refusal_meaning(answer.code, hop.reason.as_deref().unwrap_or(""), &text);
            }
            hop.body_excerpt = excerpt(text.as_bytes());
            (hop, attempts, None)
        }
    }
}

struct ConnectAnswer {
    code: u16,
    reason: Option<String>,
    server: Option<String>,
    via: Option<String>,
    authenticate: Vec<String>,
    content_length: Option<usize>,
}

/// Where the final answer head to CONNECT starts in `buf` (interim 1xx heads skipped), once it
/// is complete; `None` while only interim heads have arrived.
fn connect_head_start(buf: &[u8], addr: &SocketAddr) -> Result<Option<usize>, String> {
    use super::head::{HeadError, final_head};
    match final_head(buf, MAX_HEAD, 64) {
        Ok(h) => Ok(h.map(|h| h.start)),
        Err(HeadError::Malformed(e)) => Err(format!("the proxy {addr} did not answer with HTTP: {e}")),
        Err(e) => Err(format!("the proxy {addr} sent {e}")),
    }
}

async fn exchange(stream: &mut TcpStream, request: &[u8], addr: &SocketAddr) -> Result<ConnectAnswer, String> {
    stream.write_all(request).await.map_err(|e| format!("send CONNECT to the proxy {addr}: {e}"))?;
    // Read the head one byte at a time: after a 200 every following byte belongs to the tunnel.
    let mut buf: Vec<u8> = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    loop {
        let n = stream.read(&mut byte).await.map_err(|e| format!("read the proxy {addr}'s answer: {e}"))?;
        if n == 0 {
            return Err(format!(
                "the proxy {addr} closed the connection after {} bytes, before answering CONNECT",
                buf.len()
            ));
        }
        buf.push(byte[0]);
        // At the end of a head: an interim answer (100 Continue) is skipped, the final one read.
        if (buf.ends_with(b"\r\n\r\n") || buf.ends_with(b"\n\n"))
            && let Some(start) = connect_head_start(&buf, addr)?
        {
            buf.drain(..start);
            break;
        }
        if buf.len() >= MAX_HEAD {
            return Err(format!("the proxy {addr} sent {} bytes without ending its answer head", buf.len()));
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(&buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(format!("the proxy {addr} sent an incomplete answer head")),
        Err(e) => return Err(format!("the proxy {addr} did not answer with HTTP: {e}")),
    }
    let header = |name: &str| super::http::header(resp.headers, name);
    let authenticate = auth_schemes(
        resp.headers
            .iter()
            .filter(|h| {
                h.name.eq_ignore_ascii_case("proxy-authenticate") || h.name.eq_ignore_ascii_case("www-authenticate")
            })
            .filter_map(|h| std::str::from_utf8(h.value).ok()),
    );
    Ok(ConnectAnswer {
        code: resp.code.unwrap_or(0),
        reason: resp
            .reason
            .map(|r| r.chars().filter(|c| !c.is_control()).take(128).collect::<String>().trim().to_string())
            .filter(|r| !r.is_empty()),
        server: header("server"),
        via: header("via"),
        authenticate,
        content_length: header("content-length").and_then(|v| v.trim().parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_schemes_from_challenges() {
        let v = ["NTLM", "Negotiate, Basic realm=\"corp, inc\"", "Digest realm=\"x\", qop=\"auth\""];
        assert_eq!(auth_schemes(v.into_iter()), vec!["NTLM", "Negotiate", "Basic", "Digest"]);
    }
}
