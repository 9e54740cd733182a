//! The proxy path: which proxy applies (flag, environment, NO_PROXY as curl reads it), and the
//! HTTP CONNECT exchange that opens a tunnel to the endpoint. Credentials never leave this
//! module except as the Proxy-Authorization header sent to the proxy itself.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::resolve::Resolver;
use super::{DnsStatus, Peer, TcpAttempt, connect, ms};
use crate::catalog::Host;

/// Where the proxy setting came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProxySource {
    /// `--proxy`.
    Flag,
    /// `HTTPS_PROXY` / `https_proxy`.
    Env,
    /// The WinHTTP proxy (Windows, without `--proxy`/`--no-proxy`: the path services take).
    Winhttp,
}

impl ProxySource {
    /// The stable label (`flag`, `env`, `winhttp`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProxySource::Flag => "flag",
            ProxySource::Env => "env",
            ProxySource::Winhttp => "winhttp",
        }
    }
}

/// Proxy credentials; Debug and Display never show them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    user: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(***)")
    }
}

impl Credentials {
    /// The `Proxy-Authorization` value (Basic) for these credentials.
    pub(crate) fn basic_header(&self) -> String {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.user, self.password));
        format!("Basic {token}")
    }
}

/// Removes, from text a proxy or server sent, every form of the credentials the probe sent:
/// the Basic token (standard and URL-safe base64, with and without padding), `user:password`,
/// the user and the password alone, percent-encoded (either case of hex digits) and
/// HTML-escaped; names and passwords case-insensitively. Each is replaced by `***`. Forms shorter
/// than [`Scrubber::MIN_LEN`] characters are left (replacing every `a` would erase the text
/// without hiding anything).
#[derive(Clone)]
pub struct Scrubber {
    /// Longest first; each with whether it matches case-insensitively.
    forms: Vec<(String, bool)>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scrubber(***)")
    }
}

impl Scrubber {
    /// Shortest form removed.
    pub const MIN_LEN: usize = 3;

    /// The scrubber of these credentials.
    pub fn new(credentials: &Credentials) -> Scrubber {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        let pair = format!("{}:{}", credentials.user, credentials.password);
        let mut forms: Vec<(String, bool)> = Vec::new();
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            // The Basic token, and the password alone encoded (some filters log it that way).
            forms.push((engine.encode(&pair), false));
            forms.push((engine.encode(&credentials.password), false));
        }
        for plain in [pair.as_str(), credentials.user.as_str(), credentials.password.as_str()] {
            forms.push((plain.to_string(), true));
            // As a block page excerpt keeps it: control characters blanked, spaces collapsed.
            let blanked: String = plain.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
            forms.push((blanked.split_whitespace().collect::<Vec<_>>().join(" "), true));
            for set in [percent_encoding::NON_ALPHANUMERIC, USERINFO] {
                forms.push((percent_encoding::utf8_percent_encode(plain, set).to_string(), true));
            }
            forms.push((html_escape(plain), true));
            // HTML numeric character references for everything but letters and digits
            // (`S3cret&#33;pw`), decimal and hexadecimal.
            let numeric = |hex: bool| -> String {
                plain
                    .chars()
                    .map(|c| match (c.is_ascii_alphanumeric(), hex) {
                        (true, _) => c.to_string(),
                        (false, false) => format!("&#{};", u32::from(c)),
                        (false, true) => format!("&#x{:x};", u32::from(c)),
                    })
                    .collect()
            };
            forms.push((numeric(false), true));
            forms.push((numeric(true), true));
        }
        forms.retain(|(f, _)| f.chars().count() >= Self::MIN_LEN);
        forms.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        forms.dedup();
        Scrubber { forms }
    }

    /// `text` with every form of the credentials replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (form, fold) in &self.forms {
            if *fold {
                out = replace_ignore_ascii_case(&out, form);
            } else if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), "***");
            }
        }
        out
    }

    /// Like [`Scrubber::scrub`], for text cut at a length: a form cut short at its end goes too.
    pub fn scrub_excerpt(&self, text: &str) -> String {
        let mut out = self.scrub(text);
        for (form, fold) in &self.forms {
            for n in (Self::MIN_LEN..form.len()).rev() {
                let (Some(prefix), Some(at)) = (form.get(..n), out.len().checked_sub(n)) else { continue };
                let Some(tail) = out.get(at..) else { continue };
                if tail == prefix || (*fold && tail.eq_ignore_ascii_case(prefix)) {
                    out.truncate(at);
                    out.push_str("***");
                    break;
                }
            }
        }
        out
    }

    /// Scrub `text` where it lies (the report's strings, one by one).
    pub fn scrub_in_place(&self, text: &mut String) {
        let clean = self.scrub(text);
        if clean != *text {
            *text = clean;
        }
    }

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

/// The characters a URL's userinfo percent-encodes (as browsers and curl write proxy URLs).
const USERINFO: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// `text` with every occurrence of `needle` replaced by `***`, ASCII letters in either case.
fn replace_ignore_ascii_case(text: &str, needle: &str) -> String {
    if needle.is_empty() || needle.len() > text.len() {
        return text.to_string();
    }
    // ASCII lower-casing keeps every byte offset, so positions found in the copy hold in `text`.
    let (hay, pin) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    if !hay.contains(&pin) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in hay.match_indices(&pin) {
        out.push_str(&text[last..at]);
        out.push_str("***");
        last = at + pin.len();
    }
    out.push_str(&text[last..]);
    out
}

/// The proxy a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    pub host: Host,
    pub port: u16,
    pub credentials: Option<Credentials>,
    pub source: ProxySource,
    pub no_proxy: NoProxy,
}

impl ProxyConfig {
    /// What removes this proxy's credentials from text a peer sent (None without credentials).
    pub fn scrubber(&self) -> Option<Scrubber> {
        self.credentials.as_ref().map(Scrubber::new)
    }

    /// The URL for reports and messages: credentials replaced by `***`.
    pub fn redacted_url(&self) -> String {
        let auth = if self.credentials.is_some() { "***:***@" } else { "" };
        format!("http://{auth}{}:{}", self.host, self.port)
    }
}

/// Why a proxy URL was refused. Never contains the credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyUrlError {
    #[error("the proxy URL from {origin} is not a URL ({reason}); expected http://[user:pass@]host:port")]
    Parse { origin: String, reason: String },
    #[error("the proxy URL from {origin} uses scheme `{scheme}`; only http:// proxies are supported")]
    Scheme { origin: String, scheme: String },
    #[error("the proxy URL from {origin} has no host")]
    NoHost { origin: String },
    #[error("the proxy URL from {origin} has a path, query or fragment; expected http://[user:pass@]host:port")]
    Extra { origin: String },
    #[error("the proxy URL from {origin} has port 0; expected http://[user:pass@]host:port with a port 1-65535")]
    PortZero { origin: String },
    #[error("the proxy URL from {origin} has an invalid host name: {reason}")]
    HostName { origin: String, reason: String },
    #[error("{name} holds bytes that are not UTF-8: it cannot be read, so the proxy it configures cannot be probed")]
    NotUtf8 { name: String },
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Parse `http://[user:pass@]host[:port]` (no scheme means http://, as curl does; default port 1080 as curl does).
pub fn parse_proxy_url(
    raw: &str,
    origin: &str,
    source: ProxySource,
    no_proxy: NoProxy,
) -> Result<ProxyConfig, ProxyUrlError> {
    let raw = raw.trim();
    let with_scheme = if raw.contains("://") { raw.to_string() } else { format!("http://{raw}") };
    // url's own error text never includes the input, so it is safe to show.
    let url = url::Url::parse(&with_scheme)
        .map_err(|e| ProxyUrlError::Parse { origin: origin.into(), reason: e.to_string() })?;
    if url.scheme() != "http" {
        return Err(ProxyUrlError::Scheme { origin: origin.into(), scheme: url.scheme().into() });
    }
    if (url.path() != "" && url.path() != "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(ProxyUrlError::Extra { origin: origin.into() });
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => {
            let name = d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase();
            crate::catalog::validate_host_name(&name)
                .map_err(|e| ProxyUrlError::HostName { origin: origin.into(), reason: e.to_string() })?;
            Host::Name(name)
        }
        Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Host::Ip(IpAddr::V6(ip)),
        _ => return Err(ProxyUrlError::NoHost { origin: origin.into() }),
    };
    let credentials = (!url.username().is_empty() || url.password().is_some())
        .then(|| Credentials { user: decode(url.username()), password: decode(url.password().unwrap_or("")) });
    if url.port() == Some(0) {
        return Err(ProxyUrlError::PortZero { origin: origin.into() });
    }
    Ok(ProxyConfig { host, port: url.port().unwrap_or(1080), credentials, source, no_proxy })
}

/// How a NO_PROXY domain entry was written: clients read the forms differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DomainForm {
    /// `contoso.com`
    Plain,
    /// `.contoso.com`
    LeadingDot,
    /// `*.contoso.com`
    Wildcard,
}

/// One NO_PROXY entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NoProxyEntry {
    All,
    /// A domain: `contoso.com` and `.contoso.com` match the name and its subdomains (as curl
    /// reads them); `*.contoso.com` matches its subdomains only (as Go and WinHTTP read it).
    Domain {
        name: String,
        port: Option<u16>,
        form: DomainForm,
    },
    /// WinHTTP's `<local>`: every host name without a dot.
    Local,
    Ip {
        ip: IpAddr,
        port: Option<u16>,
    },
    Cidr {
        net: IpAddr,
        bits: u8,
    },
}

/// NO_PROXY as curl reads it: comma (or space, or WinHTTP's `;`) separated; `*` alone exempts everything; a
/// domain exempts itself and its subdomains; IP literals and CIDR ranges match addresses given as
/// literals; `host:port` (this tool's addition, as Go reads it) exempts one port only. Also the
/// forms operators copy from other clients: `*.domain` (its subdomains, as Go and WinHTTP read
/// it) and WinHTTP's `<local>` (names without a dot). Where clients read an entry differently,
/// [`NoProxy::readings`] says how.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoProxy {
    entries: Vec<NoProxyEntry>,
    raw: Vec<String>,
    /// Entries that are none of the forms above (reported, never silently dropped).
    malformed: Vec<String>,
}

impl NoProxy {
    pub fn parse(s: &str) -> NoProxy {
        let mut out = NoProxy::default();
        // `;` too: WinHTTP's and WinINet's bypass lists (`<local>;*.contoso.com`) are pasted as they are.
        for item in s.split([',', ' ', '\t', ';']).map(str::trim).filter(|i| !i.is_empty()) {
            let entry = if item == "*" {
                Some(NoProxyEntry::All)
            } else if item.eq_ignore_ascii_case("<local>") {
                Some(NoProxyEntry::Local)
            } else if let Some((net, bits)) = item.split_once('/') {
                match (net.trim_matches(['[', ']']).parse::<IpAddr>(), bits.parse::<u8>()) {
                    (Ok(net), Ok(bits)) if bits <= if net.is_ipv4() { 32 } else { 128 } => {
                        Some(NoProxyEntry::Cidr { net, bits })
                    }
                    _ => None,
                }
            } else if let Ok(ip) = item.trim_matches(['[', ']']).parse::<IpAddr>() {
                Some(NoProxyEntry::Ip { ip, port: None })
            } else if let Ok(sa) = item.parse::<SocketAddr>() {
                Some(NoProxyEntry::Ip { ip: sa.ip(), port: Some(sa.port()) })
            } else {
                let (name, port) = match item.rsplit_once(':') {
                    Some((n, p)) if p.parse::<u16>().is_ok() => (n, p.parse::<u16>().ok()),
                    _ => (item, None),
                };
                let form = if name.starts_with("*.") {
                    DomainForm::Wildcard
                } else if name.starts_with('.') {
                    DomainForm::LeadingDot
                } else {
                    DomainForm::Plain
                };
                let name =
                    name.trim_start_matches("*.").trim_start_matches('.').trim_end_matches('.').to_ascii_lowercase();
                // A name the resolver would refuse can match no endpoint: malformed.
                match crate::catalog::parse_host(&name) {
                    Ok(Host::Name(name)) => Some(NoProxyEntry::Domain { name, port, form }),
                    _ => None,
                }
            };
            if let Some(e) = entry {
                out.entries.push(e);
                out.raw.push(item.to_string());
            } else {
                out.malformed.push(item.to_string());
            }
        }
        out
    }

    /// The entries as given (for the report).
    pub fn entries(&self) -> &[String] {
        &self.raw
    }

    /// The entries that could not be read (a bad CIDR, an invalid name), as given; they exempt nothing.
    pub fn malformed(&self) -> &[String] {
        &self.malformed
    }

    /// The entry that exempts `host:port`, if any, as this probe reads the list (see [`NoProxy`]
    /// and [`BypassClient::Probe`]).
    pub fn matches(&self, host: &Host, port: u16) -> Option<&str> {
        self.matches_as(BypassClient::Probe, host, port)
    }

    /// The entry that exempts `host:port` as `client` reads the list.
    pub fn matches_as(&self, client: BypassClient, host: &Host, port: u16) -> Option<&str> {
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        self.entries.iter().zip(&self.raw).find_map(|(e, raw)| {
            let hit = match (e, host) {
                (NoProxyEntry::All, _) => true,
                (NoProxyEntry::Domain { name, port: p, form }, Host::Name(h)) => {
                    let same = h == name;
                    let sub = h.strip_suffix(name.as_str()).is_some_and(|pre| pre.ends_with('.'));
                    use BypassClient as C;
                    use DomainForm as F;
                    port_ok(p)
                        && match (client, form) {
                            (C::Probe | C::Curl | C::Go, F::Plain)
                            | (C::Probe | C::Curl | C::Dotnet, F::LeadingDot) => same || sub,
                            (C::Probe | C::Go | C::Winhttp, F::Wildcard) | (C::Go, F::LeadingDot) => sub,
                            (C::Dotnet | C::Winhttp, F::Plain) => same,
                            (C::Curl | C::Dotnet, F::Wildcard) | (C::Winhttp, F::LeadingDot) => false,
                        }
                }
                (NoProxyEntry::Local, Host::Name(h)) => {
                    matches!(client, BypassClient::Probe | BypassClient::Winhttp) && !h.contains('.')
                }
                (NoProxyEntry::Ip { ip, port: p }, Host::Ip(h)) => port_ok(p) && ip == h,
                (NoProxyEntry::Cidr { net, bits }, Host::Ip(h)) => {
                    matches!(client, BypassClient::Probe | BypassClient::Curl | BypassClient::Go)
                        && in_cidr(*h, *net, *bits)
                }
                _ => false,
            };
            hit.then_some(raw.as_str())
        })
    }

    /// How each client reads the list for `host:port`, when they do not all agree with this
    /// probe's reading; empty when they do (or the list is empty).
    pub fn readings(&self, host: &Host, port: u16) -> Vec<BypassReading> {
        if self.entries.is_empty() {
            return Vec::new();
        }
        let all: Vec<BypassReading> = BypassClient::ALL
            .iter()
            .map(|c| {
                let rule = self.matches_as(*c, host, port).map(str::to_string);
                BypassReading { client: *c, bypassed: rule.is_some(), rule }
            })
            .collect();
        if all.iter().all(|r| r.bypassed == all[0].bypassed) { Vec::new() } else { all }
    }
}

/// A client whose reading of NO_PROXY (or of a WinHTTP bypass list holding the same entries) the
/// report compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BypassClient {
    /// This probe: curl's reading, plus `*.domain` as its subdomains and WinHTTP's `<local>`.
    Probe,
    /// curl and libcurl: a name matches itself and its subdomains, a leading dot is ignored; `*`
    /// alone is the only wildcard (`*.domain` matches nothing); CIDR ranges.
    Curl,
    /// Go's net/http (golang.org/x/net/http/httpproxy): `domain` matches itself and subdomains,
    /// `.domain` and `*.domain` only subdomains; CIDR ranges.
    Go,
    /// .NET's HttpEnvironmentProxy (Linux, macOS): `.domain` matches itself and subdomains,
    /// `domain` only itself; no wildcards, no CIDR.
    Dotnet,
    /// WinHTTP's bypass list (`netsh winhttp set proxy ... bypass-list=`): whole-name patterns
    /// with `*` wildcards (`*.domain`: subdomains only; `domain`: itself only; `.domain`:
    /// nothing), `<local>`: names without a dot; no CIDR.
    Winhttp,
}

impl BypassClient {
    /// Every client, this probe first.
    pub const ALL: [BypassClient; 5] =
        [BypassClient::Probe, BypassClient::Curl, BypassClient::Go, BypassClient::Dotnet, BypassClient::Winhttp];

    /// The stable label (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            BypassClient::Probe => "probe",
            BypassClient::Curl => "curl",
            BypassClient::Go => "go",
            BypassClient::Dotnet => "dotnet",
            BypassClient::Winhttp => "winhttp",
        }
    }
}

/// One client's reading of the bypass list for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BypassReading {
    /// The client whose reading this is.
    pub client: BypassClient,
    /// Whether this client would connect directly.
    pub bypassed: bool,
    /// The entry that exempts the endpoint for this client.
    pub rule: Option<String>,
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - u32::from(bits)) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - u32::from(bits)) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProxyRequest {
    /// No flag: honour HTTPS_PROXY / https_proxy and NO_PROXY / no_proxy.
    #[default]
    FromEnvironment,
    /// `--proxy URL`.
    Explicit(String),
    /// `--no-proxy`.
    Disabled,
}

/// The proxy that applies, from the request and the environment (`env` looks a variable up).
/// curl's order: the lower-case variable first, then the upper-case one; the flag beats both.
pub fn resolve(
    request: &ProxyRequest,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<ProxyConfig>, ProxyUrlError> {
    resolve_os(request, |n| env(n).map(std::ffi::OsString::from))
}

/// The variables naming the proxy for https:// URLs, in curl's order.
pub const PROXY_VARIABLES: [&str; 4] = ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"];

/// [`resolve`] from the raw environment (`std::env::var_os`): a variable the run would use
/// that holds bytes that are not UTF-8 is an error ([`ProxyUrlError::NotUtf8`]), never taken as
/// unset. As curl does for https:// URLs: `https_proxy`, `HTTPS_PROXY`, then `all_proxy`,
/// `ALL_PROXY`; `no_proxy`, then `NO_PROXY`. Empty (blank) variables count as unset.
pub fn resolve_os(
    request: &ProxyRequest,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<Option<ProxyConfig>, ProxyUrlError> {
    let first = |names: &[&'static str]| -> Result<Option<(&'static str, String)>, ProxyUrlError> {
        for n in names {
            let Some(v) = env(n) else { continue };
            let v = v.into_string().map_err(|_| ProxyUrlError::NotUtf8 { name: (*n).into() })?;
            if !v.trim().is_empty() {
                return Ok(Some((*n, v)));
            }
        }
        Ok(None)
    };
    let no_proxy = || -> Result<NoProxy, ProxyUrlError> {
        Ok(first(&["no_proxy", "NO_PROXY"])?.map(|(_, v)| NoProxy::parse(&v)).unwrap_or_default())
    };
    match request {
        ProxyRequest::Disabled => Ok(None),
        ProxyRequest::Explicit(url) => parse_proxy_url(url, "--proxy", ProxySource::Flag, no_proxy()?).map(Some),
        ProxyRequest::FromEnvironment => match first(&PROXY_VARIABLES)? {
            None => Ok(None),
            Some((name, url)) => parse_proxy_url(&url, name, ProxySource::Env, no_proxy()?).map(Some),
        },
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

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())
    }

    #[test]
    fn flag_beats_env_and_lowercase_beats_uppercase() {
        let e = env(&[("HTTPS_PROXY", "http://upper:3128"), ("https_proxy", "lower:8080")]);
        let p = resolve(&ProxyRequest::FromEnvironment, &e).unwrap().unwrap();
        assert_eq!((p.host.bare(), p.port, p.source), ("lower".into(), 8080, ProxySource::Env));
        let p = resolve(&ProxyRequest::Explicit("http://flag:1".into()), &e).unwrap().unwrap();
        assert_eq!((p.host.bare(), p.source), ("flag".into(), ProxySource::Flag));
        assert_eq!(resolve(&ProxyRequest::Disabled, &e).unwrap(), None);
        assert_eq!(resolve(&ProxyRequest::FromEnvironment, env(&[])).unwrap(), None);
        let p = resolve(&ProxyRequest::FromEnvironment, env(&[("HTTPS_PROXY", "proxy.corp")])).unwrap().unwrap();
        assert_eq!(p.port, 1080, "curl's default proxy port");
    }

    #[test]
    fn credentials_are_decoded_and_never_shown() {
        let p = parse_proxy_url(
            "http://dom%5Cuser:p%40ss%3Aw%2Frd@10.0.0.1:3128",
            "--proxy",
            ProxySource::Flag,
            NoProxy::default(),
        )
        .unwrap();
        let c = p.credentials.clone().unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("dom\\user", "p@ss:w/rd"));
        assert_eq!(p.redacted_url(), "http://***:***@10.0.0.1:3128");
        let debug = format!("{p:?}");
        assert!(!debug.contains("p@ss") && !debug.contains("dom\\\\user"), "{debug}");
        let err =
            parse_proxy_url("socks5://u:secret@h:1", "--proxy", ProxySource::Flag, NoProxy::default()).unwrap_err();
        assert!(!err.to_string().contains("secret"));
        let err =
            parse_proxy_url("http://u:secret@h:99999", "--proxy", ProxySource::Flag, NoProxy::default()).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn no_proxy_rules_as_curl_reads_them() {
        let np = NoProxy::parse("localhost, .corp.example,example.org:8443 10.0.0.0/8,[::1],192.168.1.5");
        let name = |s: &str| Host::Name(s.into());
        let ip = |s: &str| Host::Ip(s.parse().unwrap());
        assert_eq!(np.matches(&name("localhost"), 443), Some("localhost"));
        assert_eq!(np.matches(&name("a.corp.example"), 443), Some(".corp.example"));
        assert_eq!(np.matches(&name("corp.example"), 443), Some(".corp.example"));
        assert_eq!(np.matches(&name("notcorp.example"), 443), None);
        assert_eq!(np.matches(&name("example.org"), 8443), Some("example.org:8443"));
        assert_eq!(np.matches(&name("example.org"), 443), None);
        assert_eq!(np.matches(&ip("10.1.2.3"), 443), Some("10.0.0.0/8"));
        assert_eq!(np.matches(&ip("11.1.2.3"), 443), None);
        assert_eq!(np.matches(&ip("::1"), 443), Some("[::1]"));
        assert_eq!(np.matches(&ip("192.168.1.5"), 443), Some("192.168.1.5"));
        assert_eq!(NoProxy::parse("*").matches(&name("login.microsoftonline.com"), 443), Some("*"));
        assert_eq!(NoProxy::parse("").matches(&name("x"), 1), None);
    }

    #[test]
    fn every_form_of_the_credentials_is_scrubbed() {
        let p =
            parse_proxy_url("http://Dom%5CUser7:p%40ss%20w0rd@h:1", "--proxy", ProxySource::Flag, NoProxy::default())
                .unwrap();
        let c = p.credentials.clone().unwrap();
        let s = p.scrubber().unwrap();
        let token = base64::engine::general_purpose::STANDARD.encode("Dom\\User7:p@ss w0rd");
        let echoed = format!(
            "Proxy-Authorization: Basic {token} user=dom\\user7 DOM\\USER7 pass=p@ss w0rd P@SS W0RD \
             enc=Dom%5CUser7:p%40ss%20w0rd lower=p%40ss%20w0rd html=p@ss w0rd"
        );
        let clean = s.scrub(&echoed);
        for leak in [token.as_str(), "user7", "USER7", "p@ss", "P@SS", "p%40ss", "w0rd"] {
            assert!(!clean.contains(leak), "{leak} in {clean}");
        }
        assert!(clean.starts_with("Proxy-Authorization: Basic ***"), "{clean}");
        assert_eq!(c.user, "Dom\\User7");
        let cut = &format!("... Basic {token}")[..20];
        assert!(s.scrub_excerpt(cut).ends_with("Basic ***"), "{}", s.scrub_excerpt(cut));
        assert_eq!(s.scrub("nothing to see: lab-proxy"), "nothing to see: lab-proxy");
    }

    #[test]
    fn all_proxy_after_https_proxy_and_unreadable_variables() {
        let p = resolve(&ProxyRequest::FromEnvironment, env(&[("ALL_PROXY", "all:1"), ("all_proxy", "low:2")]))
            .unwrap()
            .unwrap();
        assert_eq!((p.host.bare(), p.port), ("low".into(), 2));
        let p = resolve(&ProxyRequest::FromEnvironment, env(&[("ALL_PROXY", "all:1"), ("HTTPS_PROXY", "h:3")]))
            .unwrap()
            .unwrap();
        assert_eq!((p.host.bare(), p.port), ("h".into(), 3));
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let bad = |n: &str| (n == "HTTPS_PROXY").then(|| std::ffi::OsString::from_vec(b"http://p\xff:1".to_vec()));
            let err = resolve_os(&ProxyRequest::FromEnvironment, bad).unwrap_err();
            assert_eq!(err, ProxyUrlError::NotUtf8 { name: "HTTPS_PROXY".into() });
            assert_eq!(resolve_os(&ProxyRequest::Disabled, bad).unwrap(), None, "--no-proxy reads nothing");
        }
        let np = NoProxy::parse("ok.example, 10.0.0.0/33, a..b, x:99999, .corp");
        assert_eq!(np.entries(), ["ok.example", ".corp"]);
        assert_eq!(np.malformed(), ["10.0.0.0/33", "a..b", "x:99999"]);
    }

    #[test]
    fn no_proxy_forms_each_client_reads() {
        let name = |s: &str| Host::Name(s.into());
        let np = NoProxy::parse("*.contoso.com;<local>");
        assert_eq!(np.entries(), ["*.contoso.com", "<local>"], "WinHTTP's `;` separates entries too");
        assert_eq!(np.matches(&name("login.contoso.com"), 443), Some("*.contoso.com"));
        assert_eq!(np.matches(&name("contoso.com"), 443), None, "*.domain: subdomains only");
        assert_eq!(np.matches(&name("intranet"), 443), Some("<local>"));
        assert_eq!(np.matches(&name("intranet.corp"), 443), None);
        let readings = |list: &str, host: &str| -> Vec<(&'static str, bool)> {
            NoProxy::parse(list).readings(&name(host), 443).iter().map(|r| (r.client.as_str(), r.bypassed)).collect()
        };
        let all = |v: [bool; 5]| -> Vec<(&'static str, bool)> {
            BypassClient::ALL.iter().map(|c| c.as_str()).zip(v).collect()
        };
        assert_eq!(readings("*.contoso.com", "a.contoso.com"), all([true, false, true, false, true]));
        assert_eq!(readings(".contoso.com", "contoso.com"), all([true, true, false, true, false]));
        assert_eq!(readings("contoso.com", "a.contoso.com"), all([true, true, true, false, false]));
        assert_eq!(readings("<local>", "intranet"), all([true, false, false, false, true]));
        assert_eq!(readings("10.0.0.0/8", "x"), Vec::new(), "names: no CIDR reading");
        let ip = NoProxy::parse("10.0.0.0/8").readings(&Host::Ip("10.1.2.3".parse().unwrap()), 443);
        assert_eq!(ip.iter().map(|r| r.bypassed).collect::<Vec<_>>(), vec![true, true, true, false, false]);
        // Agreement: nothing to report.
        assert!(readings("contoso.com", "contoso.com").is_empty());
        assert!(readings("*", "anything.example").is_empty());
        assert!(readings("", "x").is_empty());
    }

    #[test]
    fn auth_schemes_from_challenges() {
        let v = ["NTLM", "Negotiate, Basic realm=\"corp, inc\"", "Digest realm=\"x\", qop=\"auth\""];
        assert_eq!(auth_schemes(v.into_iter()), vec!["NTLM", "Negotiate", "Basic", "Digest"]);
    }
}
