//! Proxy settings: which proxy applies (`--proxy`, `--no-proxy`, the environment), NO_PROXY as
//! curl and other clients read it, and the proxy's credentials. Configuration only: the CONNECT
//! exchange that uses these settings is the proxy stage (`probe::proxy`). Credentials never leave
//! this module except as the Proxy-Authorization value (`Credentials::basic_header`) and the
//! [`Scrubber`] that removes them from what peers sent.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    /// Shortest encoded form also removed when whitespace breaks it (shorter ones would match
    /// ordinary text).
    pub const MIN_WRAPPED_LEN: usize = 8;

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
            } else {
                if out.contains(form.as_str()) {
                    out = out.replace(form.as_str(), "***");
                }
                // An encoded form (base64) as a page or a log wraps it: broken by whitespace.
                if form.len() >= Self::MIN_WRAPPED_LEN {
                    out = replace_wrapped(&out, form);
                }
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
/// `text` with every occurrence of `needle` whose characters are separated only by ASCII
/// whitespace (a base64 token wrapped over lines, or split by a space) replaced by `***`. An
/// occurrence starts and ends on a character of `needle`. At most `needle.len()` steps from
/// each position where its first character occurs.
fn replace_wrapped(text: &str, needle: &str) -> String {
    let (hay, pin) = (text.as_bytes(), needle.as_bytes());
    let Some(&first) = pin.first() else { return text.to_string() };
    let mut out = String::with_capacity(text.len());
    let (mut last, mut at) = (0, 0);
    while at < hay.len() {
        if hay[at] == first {
            // Match `pin` from `at`, skipping whitespace between its characters.
            let (mut i, mut j) = (at, 0);
            while j < pin.len() && i < hay.len() {
                if hay[i] == pin[j] {
                    j += 1;
                    i += 1;
                } else if j > 0 && hay[i].is_ascii_whitespace() {
                    i += 1;
                } else {
                    break;
                }
            }
            if j == pin.len() {
                // `at` and `i` are on ASCII bytes of the needle (base64 is ASCII): char boundaries.
                out.push_str(&text[last..at]);
                out.push_str("***");
                last = i;
                at = i;
                continue;
            }
        }
        at += 1;
    }
    if last == 0 {
        return text.to_string();
    }
    out.push_str(&text[last..]);
    out
}

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
    /// The proxy's host name or IP literal.
    pub host: Host,
    /// The proxy's port (1080 when the URL names none, as curl does).
    pub port: u16,
    /// The user and password of the URL, sent as `Proxy-Authorization: Basic` (RFC 7617) with
    /// CONNECT; never shown.
    pub credentials: Option<Credentials>,
    /// Where the proxy setting came from.
    pub source: ProxySource,
    /// The endpoints exempt from the proxy (NO_PROXY, or the WinHTTP bypass list).
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
    /// Not a URL (the URL parser's reason; the URL itself is not repeated, it may hold a password).
    #[error("the proxy URL from {origin} is not a URL ({reason}); expected http://[user:pass@]host:port")]
    Parse {
        /// Where the URL came from: `--proxy`, or the environment variable that held it.
        origin: String,
        /// The URL parser's reason.
        reason: String,
    },
    /// A scheme other than `http` (`https://` and SOCKS proxies are not supported).
    #[error("the proxy URL from {origin} uses scheme `{scheme}`; only http:// proxies are supported")]
    Scheme {
        /// Where the URL came from: `--proxy`, or the environment variable that held it.
        origin: String,
        /// The scheme given.
        scheme: String,
    },
    /// The URL has no host.
    #[error("the proxy URL from {origin} has no host")]
    NoHost {
        /// Where the URL came from: `--proxy`, or the environment variable that held it.
        origin: String,
    },
    /// The URL has a path, query or fragment.
    #[error("the proxy URL from {origin} has a path, query or fragment; expected http://[user:pass@]host:port")]
    Extra {
        /// Where the URL came from: `--proxy`, or the environment variable that held it.
        origin: String,
    },
    /// Port 0.
    #[error("the proxy URL from {origin} has port 0; expected http://[user:pass@]host:port with a port 1-65535")]
    PortZero {
        /// Where the URL came from: `--proxy`, or the environment variable that held it.
        origin: String,
    },
    /// The host name breaks a DNS or TLS rule (see [`crate::catalog::validate_host_name`]).
    #[error("the proxy URL from {origin} has an invalid host name: {reason}")]
    HostName {
        /// Where the URL came from: `--proxy`, or the environment variable that held it.
        origin: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A proxy environment variable holds bytes that are not UTF-8.
    #[error("{name} holds bytes that are not UTF-8: it cannot be read, so the proxy it configures cannot be probed")]
    NotUtf8 {
        /// The variable's name (`HTTPS_PROXY`).
        name: String,
    },
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
    /// Parse a NO_PROXY value (or a WinHTTP bypass list): entries separated by commas, spaces, tabs or
    /// `;`, read as described on [`NoProxy`]. Never fails: malformed entries are kept and reported.
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
                // One `*.` or one leading dot: `*.*.test` or `..test` is malformed, not `.test`.
                let name = name
                    .strip_prefix("*.")
                    .or_else(|| name.strip_prefix('.'))
                    .unwrap_or(name)
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
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
        // A page that wraps the token (a line break, a space, a tab) still loses it.
        for wrapped in [
            format!("Basic {}\n{}", &token[..10], &token[10..]),
            format!("Basic {} {}\t{}", &token[..4], &token[4..17], &token[17..]),
        ] {
            let clean = s.scrub(&wrapped);
            assert_eq!(clean, "Basic ***", "{wrapped:?} → {clean:?}");
        }
        assert_eq!(s.scrub("a b c d e f g h"), "a b c d e f g h", "ordinary text is left alone");
        let multibyte = format!("é{}\u{a0}{}ü {}", &token[..6], &token[6..], &token[..9]);
        assert_eq!(s.scrub(&multibyte), multibyte, "only ASCII whitespace joins a wrapped token");
        let around = format!("é«{} {}»ü", &token[..6], &token[6..]);
        assert_eq!(s.scrub(&around), "é«***»ü");
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
        // One leading `*.` or one leading dot: more is malformed (it used to be read as `.test`).
        assert_eq!(NoProxy::parse("*.*.test,..test,*.ok.test").malformed(), ["*.*.test", "..test"]);
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
}
