//! `--redact`: reports that leave the site carry stable tokens instead of this node's name and
//! internal addresses. Public endpoint names stay. Tokens are a keyed hash: the same value gives
//! the same token within a report, and across a fleet's reports when AZS_NETPROBE_REDACT_KEY is
//! set to the same secret on every node (otherwise the key is random, per run).
//!
//! Redaction works on the typed [`Report`]: enum labels (`proxy`, `ok`, ...) and numbers are never
//! touched, so a secret that happens to equal a label cannot break the report. Every string
//! field is rewritten, whole or in part:
//! - names: the node's name (and its first label), internal endpoint hosts (custom endpoints,
//!   single-label names), the proxy's host, internal NTP servers, private CNAME targets;
//! - paths: the probe file and the PEM bundles given on the command line;
//! - addresses: every internal IP literal ([`is_private`]) wherever it appears.
//!
//! A typed address that cannot hold a token (the proxy hop's `address`) is set to null when it is
//! internal. Afterwards every string is checked again; anything left is an error and the report
//! must not be written ([`RedactError`]).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::OnceLock;

use regex::Regex;
use sha2::{Digest, Sha256};

use super::Report;
use crate::catalog::Role;
use crate::clock::SourceKind;
use crate::diagnose::is_private;

mod walk;
use walk::Strings;
pub use walk::for_each_string;

/// Why a report could not be redacted. The report must then not be written (exit 3): a report
/// that was asked to be redacted is complete or absent, never silently unredacted.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// The pattern of the names to replace could not be built (e.g. far too many names).
    #[error("--redact: cannot build the pattern of internal names: {0}; the report was not written")]
    Pattern(String),
    /// After redaction a field still held an internal name or address.
    #[error("--redact: {what} still holds an internal {kind} after redaction; the report was not written")]
    Leftover {
        /// Where in the report it was, as a field path (`run.id`, `endpoints.url`, ...; `evidence`).
        what: String,
        /// What survived: `name or path`, or `address` (an internal IP address).
        kind: &'static str,
    },
}

/// The key: AZS_NETPROBE_REDACT_KEY, or 32 random bytes.
pub fn key_from_env() -> Vec<u8> {
    match std::env::var("AZS_NETPROBE_REDACT_KEY") {
        Ok(k) if !k.is_empty() => k.into_bytes(),
        _ => uuid::Uuid::new_v4().as_bytes().iter().chain(uuid::Uuid::new_v4().as_bytes()).copied().collect(),
    }
}

fn token(key: &[u8], kind: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(key);
    h.update([0]);
    h.update(value.to_ascii_lowercase().as_bytes());
    format!("{kind}-{}", &hex::encode(h.finalize())[..10])
}

/// IPv4 dotted quads and IPv6 literals (at least two colons); candidates are parsed to check.
/// None only if the constant pattern failed to compile (a unit test shows it does not).
fn ip_pattern() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?:\b\d{1,3}(?:\.\d{1,3}){3}\b)|(?:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*:[0-9A-Fa-f.]{0,15})").ok()
    })
    .as_ref()
}

/// The tokens [`token`] writes. None only if the constant pattern failed to compile.
fn token_pattern() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?-u:\b)(?:host|ip|path)-[0-9a-f]{10}(?-u:\b)").ok()).as_ref()
}

/// The internal IP in a candidate match (brackets, a trailing port separator or dot trimmed).
fn private_ip(candidate: &str) -> Option<IpAddr> {
    ip_core(candidate).map(|(ip, _)| ip).filter(is_private)
}

/// The address in a candidate match and the text it was read from: brackets, a trailing port
/// separator or dot trimmed, and leading colons only when the address does not start with them
/// (`::1`, `::ffff:10.1.2.3` keep theirs).
fn ip_core(candidate: &str) -> Option<(IpAddr, &str)> {
    let text = candidate.trim_matches(['[', ']']);
    let tail = text.trim_end_matches(['.', ':']);
    [text, tail, tail.trim_start_matches(':'), text.trim_start_matches(':')]
        .into_iter()
        .find_map(|t| t.parse::<IpAddr>().ok().map(|ip| (ip, t)))
}

/// Top-level domains that are never public: names under them are internal.
const INTERNAL_TLDS: [&str; 10] =
    ["local", "lan", "internal", "intranet", "corp", "home", "private", "localdomain", "localhost", "arpa"];

/// Public time services: NTP servers other than these are taken as internal.
const PUBLIC_NTP: [&str; 9] = [
    "time.windows.com",
    "pool.ntp.org",
    "time.google.com",
    "time.cloudflare.com",
    "time.apple.com",
    "time.nist.gov",
    "ntp.ubuntu.com",
    "time.aws.com",
    "time.facebook.com",
];

fn is_under(name: &str, domain: &str) -> bool {
    name == domain || name.ends_with(&format!(".{domain}"))
}

/// The host of `host[:port]`, `[v6]:port` or a URL; None for IP literals.
fn host_name(s: &str) -> Option<String> {
    let s = s.trim();
    let host = if s.contains("://") {
        url::Url::parse(s).ok().and_then(|u| u.host_str().map(str::to_string))?
    } else if let Some(rest) = s.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default().to_string()
    } else if s.matches(':').count() == 1 {
        s.split(':').next().unwrap_or_default().to_string()
    } else {
        s.to_string()
    };
    let host = host.trim_matches(['[', ']']).trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty() && host.parse::<IpAddr>().is_err()).then_some(host)
}

/// The proxy's host as written in its URL, a name or an IP literal (public or not: the README
/// promises the proxy's host is replaced, whatever it is).
fn proxy_host(url: &str) -> Option<String> {
    host_name(url).or_else(|| {
        let u = url::Url::parse(url).ok()?;
        match u.host()? {
            url::Host::Ipv4(ip) => Some(ip.to_string()),
            url::Host::Ipv6(ip) => Some(ip.to_string()),
            url::Host::Domain(_) => None,
        }
    })
}

/// One name or path to replace.
struct Secret {
    /// Lower-case.
    text: String,
    token: String,
    /// Replaced only as a whole name: not inside a longer name (`proxy` is replaced in
    /// `http://proxy:3128`, not in `--proxy`, `proxy_headers` or `svc-proxy`).
    whole: bool,
}

/// A character that continues a host name or a word.
fn name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_'
}

/// What one report's redaction replaces, and with what.
struct Redactor {
    /// Every name and path, longest first.
    secrets: Vec<Secret>,
    /// Where one of them may start: all of them as one case-insensitive pattern.
    finder: Option<Regex>,
    key: Vec<u8>,
}

impl Redactor {
    fn new(report: &Report, key: &[u8]) -> Result<Redactor, RedactError> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        let mut paths: BTreeSet<String> = BTreeSet::new();
        let host = report.node.hostname.trim().trim_end_matches('.').to_ascii_lowercase();
        let domain = host.split_once('.').map(|(_, d)| d.to_string()).filter(|d| d.contains('.'));
        if !host.is_empty() {
            names.insert(host.clone());
            if let Some(short) = host.split('.').next().filter(|s| s.len() >= 3 && *s != host) {
                names.insert(short.to_string());
            }
        }
        let internal = |name: &str| {
            !name.contains('.')
                || INTERNAL_TLDS.iter().any(|t| is_under(name, t))
                || domain.as_deref().is_some_and(|d| is_under(name, d))
        };
        for e in &report.endpoints {
            if let Some(h) = host_name(&e.host)
                && (e.role == Role::Custom || internal(&h))
            {
                names.insert(h);
            }
            let all_private = !e.dns.addresses.is_empty()
                && e.dns.addresses.iter().all(|a| a.parse::<IpAddr>().is_ok_and(|ip| is_private(&ip)));
            for (i, c) in e.dns.cnames.iter().enumerate() {
                let c = c.trim_end_matches('.').to_ascii_lowercase();
                if internal(&c) || (all_private && i + 1 == e.dns.cnames.len()) {
                    names.insert(c);
                }
            }
            if let Some(h) = e.proxy.as_ref().and_then(|p| host_name(&p.url)) {
                names.insert(h);
            }
        }
        let mut literals: BTreeSet<String> = BTreeSet::new();
        if let Some(h) = report.config.proxy.as_ref().and_then(|p| proxy_host(&p.url)) {
            match h.parse::<IpAddr>() {
                // An address literal is replaced as any internal address is (same token).
                Ok(ip) => {
                    literals.insert(ip.to_string());
                }
                Err(_) => {
                    names.insert(h);
                }
            }
        }
        for p in report.node.platform.proxies.iter().filter_map(|p| p.proxy.as_deref()) {
            names.extend(host_name(p));
        }
        let time = &report.node.platform.time_service;
        for server in time.configured.iter().map(|e| crate::platform::ntp_entry(e).0).chain(time.source.as_deref()) {
            names.extend(host_name(server));
        }
        let ntp = report
            .config
            .ntp_servers
            .iter()
            .chain(report.clock.sources.iter().filter(|s| s.kind == SourceKind::Ntp).map(|s| &s.server));
        for server in ntp {
            if let Some(h) = host_name(server)
                && !PUBLIC_NTP.iter().any(|p| is_under(&h, p))
            {
                names.insert(h);
            }
        }
        let source = &report.config.probe_set.source;
        if !source.is_empty() && !source.starts_with("builtin:") {
            paths.insert(source.clone());
        }
        for store in [&report.config.trust.public, &report.config.trust.system] {
            if let Some(p) = store.path.as_ref().filter(|p| !p.is_empty()) {
                paths.insert(p.clone());
            }
        }
        let mut secrets: Vec<Secret> = names
            .iter()
            .filter(|n| !n.is_empty())
            .map(|n| Secret { text: n.to_lowercase(), token: token(key, "host", n), whole: true })
            .chain(paths.iter().map(|p| Secret { text: p.to_lowercase(), token: token(key, "path", p), whole: false }))
            .chain(literals.iter().map(|a| Secret { text: a.to_lowercase(), token: token(key, "ip", a), whole: true }))
            .collect();
        // Longest first, so that a name is replaced before any of its parts.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.text.len()));
        let finder = if secrets.is_empty() {
            None
        } else {
            let pattern = secrets.iter().map(|s| regex::escape(&s.text)).collect::<Vec<_>>().join("|");
            let re = regex::RegexBuilder::new(&format!("(?i:{pattern})"))
                .size_limit(64 << 20)
                .build()
                .map_err(|e| RedactError::Pattern(e.to_string()))?;
            Some(re)
        };
        Ok(Redactor { secrets, finder, key: key.to_vec() })
    }

    /// The first listed name or path in `s` at or after `from`: its byte range and token.
    fn find(&self, s: &str, from: usize) -> Option<(usize, usize, &str)> {
        let re = self.finder.as_ref()?;
        let mut pos = from;
        while let Some(m) = re.find_at(s, pos) {
            let start = m.start();
            let before_ok = s[..start].chars().next_back().is_none_or(|c| !name_char(c));
            for secret in &self.secrets {
                let end = start + secret.text.len();
                let Some(candidate) = s.get(start..end) else { continue };
                if !(candidate.eq_ignore_ascii_case(&secret.text) || candidate.to_lowercase() == secret.text) {
                    continue;
                }
                let after_ok = s[end..].chars().next().is_none_or(|c| !name_char(c));
                if !secret.whole || (before_ok && after_ok) {
                    return Some((start, end, &secret.token));
                }
            }
            pos = start + s[start..].chars().next().map_or(1, char::len_utf8);
        }
        None
    }

    /// `s` with every listed name and path and every internal IP literal replaced by its token.
    fn text(&self, s: &str) -> String {
        let mut named = String::with_capacity(s.len());
        let mut last = 0;
        while let Some((start, end, token)) = self.find(s, last) {
            named.push_str(&s[last..start]);
            named.push_str(token);
            last = end;
        }
        named.push_str(&s[last..]);
        // Every IP literal has a `.` or a `:`; most strings have neither.
        let Some(ip_re) = ip_pattern().filter(|_| named.contains(['.', ':'])) else {
            return named;
        };
        ip_re
            .replace_all(&named, |c: &regex::Captures<'_>| {
                let m = c.get(0).map_or("", |m| m.as_str());
                match ip_core(m).filter(|(ip, _)| is_private(ip)) {
                    // Keep the brackets and separators around the address itself.
                    Some((ip, core)) => m.replacen(core, &token(&self.key, "ip", &ip.to_string()), 1),
                    None => m.to_string(),
                }
            })
            .into_owned()
    }

    /// What is left of a name or an internal address in `s`, if anything.
    fn leftover(&self, s: &str) -> Option<&'static str> {
        // A token may itself contain a listed word (a node named `host`): a match inside a token
        // is not a leftover.
        let tokens: Vec<(usize, usize)> = token_pattern()
            .filter(|_| s.contains('-'))
            .map(|re| re.find_iter(s).map(|m| (m.start(), m.end())).collect())
            .unwrap_or_default();
        let in_token = |start: usize, end: usize| tokens.iter().any(|&(a, b)| start < b && a < end);
        let mut pos = 0;
        while let Some((start, end, _)) = self.find(s, pos) {
            if !in_token(start, end) {
                return Some("name or path");
            }
            pos = start + s[start..].chars().next().map_or(1, char::len_utf8);
        }
        ip_pattern()
            .filter(|_| s.contains(['.', ':']))
            .and_then(|re| re.find_iter(s).find(|m| !in_token(m.start(), m.end()) && private_ip(m.as_str()).is_some()))
            .map(|_| "address")
    }
}

/// Replace the node's name, internal names, the input paths and every internal address in every
/// string of the report; mark the report redacted. On error the report is left partly
/// redacted and must not be written.
pub fn redact(report: &mut Report, key: &[u8]) -> Result<(), RedactError> {
    // Read before the strings are rewritten: the URL then holds a token.
    let proxy_ips: Vec<IpAddr> = report
        .config
        .proxy
        .iter()
        .filter_map(|p| proxy_host(&p.url))
        .filter_map(|h| h.parse::<IpAddr>().ok())
        .collect();
    let r = Redactor::new(report, key)?;
    report.strings(&mut |_, s| {
        let t = r.text(s);
        if t != *s {
            *s = t;
        }
    });
    // Typed addresses cannot hold a token: an internal one is dropped (its token is in `tcp`).
    for e in &mut report.endpoints {
        if let Some(hop) = &mut e.proxy
            && hop.address.is_some_and(|a| is_private(&a.ip()) || proxy_ips.contains(&a.ip()))
        {
            hop.address = None;
        }
    }
    let mut left: Option<RedactError> = None;
    report.strings(&mut |what, s| {
        if left.is_none()
            && let Some(kind) = r.leftover(s)
        {
            left = Some(RedactError::Leftover { what: what.to_string(), kind });
        }
    });
    if let Some(e) = left {
        return Err(e);
    }
    report.config.redacted = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_per_key() {
        assert_eq!(token(b"k", "ip", "10.0.0.5"), token(b"k", "ip", "10.0.0.5"));
        assert_ne!(token(b"k", "ip", "10.0.0.5"), token(b"other", "ip", "10.0.0.5"));
        assert!(token(b"k", "host", "XRP01").starts_with("host-"));
    }

    #[test]
    fn finds_private_ip_candidates() {
        let found: Vec<&str> = ip_pattern()
            .unwrap()
            .find_iter("connect to 10.0.0.55:443 and [fd00::1]:53, not 20.190.1.1")
            .map(|m| m.as_str())
            .collect();
        assert!(found.iter().any(|m| m.contains("10.0.0.55")), "{found:?}");
        assert!(found.iter().any(|m| m.contains("fd00::1")), "{found:?}");
    }

    /// An example report with a proxy named `proxy`, an internal NTP server and CNAME target,
    /// and the node's name and internal addresses in free text.
    pub(super) fn planted() -> Report {
        let mut v: serde_json::Value =
            serde_json::from_str(include_str!("../../../reports/examples/lab-mixed-failures.json")).unwrap();
        v["node"]["hostname"] = "xrp-node07.corp.contoso.com".into();
        v["config"]["proxy"] =
            serde_json::json!({"url": "http://***:***@proxy:3128", "source": "flag", "no_proxy": ["10.0.0.0/8"]});
        v["config"]["ntp_servers"] = serde_json::json!(["dc01.corp.contoso.com:123", "time.windows.com"]);
        v["config"]["trust"]["public"]["path"] = "/srv/secret-site/roots.pem".into();
        let e = &mut v["endpoints"][0];
        e["dns"]["cnames"] = serde_json::json!(["lb7.corp.contoso.com", "login.mso.msidentity.com"]);
        e["dns"]["addresses"] = serde_json::json!(["20.190.151.68"]);
        e["proxy"] = serde_json::json!({
            "url": "http://***:***@proxy:3128", "status": "denied", "http_status": 403, "duration_ms": 3,
            "address": "10.9.8.7:3128", "authenticate": [], "credentials_sent": true, "server": "proxy",
            "via": "1.1 proxy (xrp-node07)", "body_excerpt": "Denied for XRP-NODE07 at 10.9.8.7 via [fd00::7]:3128",
            "bypass_rule": null, "error": null,
        });
        e["tcp"][0]["peer"] = "proxy".into();
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_report_with_a_proxy_named_proxy_is_fully_redacted() {
        let mut r = planted();
        redact(&mut r, b"k").unwrap();
        assert!(r.config.redacted);
        let text = serde_json::to_string(&r).unwrap();
        for secret in [
            "xrp-node07",
            "XRP-NODE07",
            "10.9.8.7",
            "fd00::7",
            "127.0.0.1",
            "dc01",
            "lb7.corp",
            "/tmp/.tmp",
            "secret-site",
            "@proxy",
        ] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert!(text.contains("(--proxy or HTTPS_PROXY)"), "a flag that contains a listed name stays: {text}");
        let e = &r.endpoints[0];
        let hop = e.proxy.as_ref().unwrap();
        assert_eq!(hop.status, crate::probe::proxy::ProxyStatus::Denied, "labels stay");
        assert_eq!(hop.address, None, "an internal typed address is dropped");
        assert_eq!(e.tcp[0].peer, crate::probe::Peer::Proxy);
        assert!(r.config.ntp_servers.contains(&"time.windows.com".to_string()), "public names stay");
        assert!(e.dns.cnames.contains(&"login.mso.msidentity.com".to_string()));
        let proxy_token = token(b"k", "host", "proxy");
        assert_eq!(r.config.proxy.as_ref().unwrap().url, format!("http://***:***@{proxy_token}:3128"));
        assert_eq!(hop.server.as_deref(), Some(proxy_token.as_str()));
        assert!(r.node.hostname.starts_with("host-"));
        // The same report redacted again with the same key gives the same tokens.
        let mut again = planted();
        redact(&mut again, b"k").unwrap();
        assert_eq!(serde_json::to_string(&again).unwrap(), text);
    }

    #[test]
    fn ipv6_and_mapped_addresses_keep_their_leading_colons_and_are_replaced() {
        assert_eq!(private_ip("::1"), Some("::1".parse().unwrap()));
        assert_eq!(private_ip("fd00::7:"), Some("fd00::7".parse().unwrap()));
        assert_eq!(private_ip("::ffff:10.1.2.3"), Some("::ffff:10.1.2.3".parse().unwrap()));
        assert_eq!(private_ip("10.0.0.5."), Some("10.0.0.5".parse().unwrap()));
        assert_eq!(private_ip("8.8.8.8"), None);
        let mut r = planted();
        r.endpoints[0].tcp[0].address = "[::ffff:10.1.2.3]:22".into();
        r.endpoints[0].dns.addresses = vec!["::1".into()];
        redact(&mut r, b"k").unwrap();
        let text = serde_json::to_string(&r).unwrap();
        for left in ["10.1.2.3", "ffff:", "\"::1\""] {
            assert!(!text.contains(left), "{left} left in {text}");
        }
        assert!(r.endpoints[0].tcp[0].address.starts_with("[ip-"), "{}", r.endpoints[0].tcp[0].address);
    }

    #[test]
    fn a_proxy_given_as_a_public_address_is_replaced_too() {
        let mut r = planted();
        let url = "http://***:***@198.51.100.7:3128";
        r.config.proxy.as_mut().unwrap().url = url.into();
        let hop = r.endpoints[0].proxy.as_mut().unwrap();
        hop.url = url.into();
        hop.address = Some("198.51.100.7:3128".parse().unwrap());
        r.endpoints[0].tcp[0].address = "198.51.100.7:3128".into();
        r.findings[0].message = "the proxy 198.51.100.7:3128 refused CONNECT (not 198.51.100.70)".into();
        redact(&mut r, b"k").unwrap();
        let text = serde_json::to_string(&r).unwrap();
        assert!(!text.contains("198.51.100.7:"), "{text}");
        assert!(!text.contains("198.51.100.7\""), "{text}");
        assert!(text.contains("198.51.100.70"), "another address is not the proxy's: {text}");
        let t = token(b"k", "ip", "198.51.100.7");
        assert_eq!(r.endpoints[0].tcp[0].address, format!("{t}:3128"));
        assert_eq!(r.endpoints[0].proxy.as_ref().unwrap().address, None);
    }

    #[test]
    fn a_node_named_like_a_token_prefix_is_still_redacted() {
        let mut r = planted();
        r.node.hostname = "host".into();
        redact(&mut r, b"k").unwrap();
        assert_eq!(r.node.hostname, token(b"k", "host", "host"));
    }

    #[test]
    fn host_names_of_urls_and_servers() {
        assert_eq!(host_name("http://***:***@proxy:3128").as_deref(), Some("proxy"));
        assert_eq!(host_name("http://10.0.0.1:3128"), None);
        assert_eq!(host_name("ntp.corp.local:123").as_deref(), Some("ntp.corp.local"));
        assert_eq!(host_name("[fd00::1]:123"), None);
        assert_eq!(host_name("DC01."), Some("dc01".into()));
    }
}
