//! Observations → findings → portal codes. No I/O here: everything decided from what the
//! stages recorded, so every finding can be reproduced from the report's evidence.

pub mod codes;
pub mod explain;
mod families;
pub mod outcome;
pub mod platform;
pub mod problems;
pub mod remediation;
pub mod revocation;
pub mod special;

use std::collections::BTreeMap;
use std::net::IpAddr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use codes::{Code, Severity, UsageError, usage_error};
pub use remediation::Remediation;

use crate::catalog::Role;
use crate::clock::{ClockEstimate, ClockVerdict};
use crate::config::Lang;
use crate::probe::proxy::{BypassClient, ProxyHop, ProxyStatus};
use crate::probe::{DnsStatus, EndpointObservation, HttpObservation, HttpStatus, Stage, TcpStatus, TlsStatus};
use crate::trust::TrustVerdict;
use crate::trust::intercept::{self, Interception, PathFacts};
use chrono::{DateTime, Utc};

/// What one observation means, for whom, and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// What was found (a stable name).
    pub code: Code,
    /// How bad it is: a failure on a required endpoint is an error, on an optional one a warning.
    pub severity: Severity,
    /// The endpoint's name, or null for node-wide findings (clock, platform).
    pub endpoint: Option<String>,
    /// The portal code this would surface as (null for findings the portal never shows, e.g.
    /// ClockDrift); on a login endpoint always LoginError.
    pub usage_error: Option<UsageError>,
    /// What was seen, in one English sentence with the facts (host, addresses, status, times).
    pub message: String,
    /// The observations the finding rests on, by name (e.g. `addresses`, `status_code`,
    /// `issuer`, `root_cause`): enough to check the finding from the report alone.
    pub evidence: Map<String, Value>,
    /// What to do about it, in the report's language (`config.lang`).
    pub remediation: Remediation,
}

struct Ctx<'a> {
    obs: &'a EndpointObservation,
    lang: Lang,
    now: DateTime<Utc>,
    clock: &'a ClockEstimate,
    out: Vec<Finding>,
    interception: Option<Interception>,
}

impl Ctx<'_> {
    /// The time by the reference clocks: the node's time less its measured offset.
    fn reference_now(&self) -> DateTime<Utc> {
        let offset = self.clock.offset_seconds.unwrap_or(0.0);
        self.now - chrono::Duration::milliseconds((offset * 1000.0).round() as i64)
    }

    /// The connection goes through a proxy (configured and not bypassed by NO_PROXY).
    fn proxied(&self) -> bool {
        self.obs.proxy.as_ref().is_some_and(|h| h.status != ProxyStatus::Bypassed)
    }

    fn failure_severity(&self) -> Severity {
        if self.obs.spec.required { Severity::Error } else { Severity::Warning }
    }

    fn push(&mut self, code: Code, severity: Severity, message: String, evidence: Map<String, Value>) {
        let spec = &self.obs.spec;
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        vars.insert("host".into(), spec.target.host().bare());
        vars.insert("port".into(), spec.target.port().to_string());
        vars.insert("endpoint".into(), spec.name.clone());
        if let Some(s) = &self.obs.dns.server {
            vars.insert("servers".into(), s.clone());
        }
        if !self.obs.dns.addresses.is_empty() {
            let a: Vec<String> = self.obs.dns.addresses.iter().map(|a| a.to_string()).collect();
            vars.insert("addresses".into(), listed(&a));
        }
        for (k, v) in &evidence {
            if let Value::String(s) = v {
                vars.entry(k.clone()).or_insert_with(|| s.clone());
            } else if let Value::Number(n) = v {
                vars.entry(k.clone()).or_insert_with(|| n.to_string());
            }
        }
        self.out.push(Finding {
            code,
            severity,
            endpoint: Some(spec.name.clone()),
            usage_error: usage_error(code, spec.role == Role::Login),
            message,
            evidence,
            remediation: remediation::remediation(code, self.lang, &vars),
        });
    }
}

/// Most items a finding's message (or a remediation step) lists; the evidence keeps them all.
pub const ITEMS_SHOWN: usize = 5;

/// `a, b, c, d, e and 495 more (all in the evidence)`: a list for a message line, short
/// however long the list is.
pub fn listed<S: AsRef<str>>(items: &[S]) -> String {
    let shown = items.iter().take(ITEMS_SHOWN).map(AsRef::as_ref).collect::<Vec<_>>().join(", ");
    match items.len().saturating_sub(ITEMS_SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more (all in the evidence)"),
    }
}

fn obj(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// What makes findings of one code the same problem across endpoints: the product or issuer
/// that re-signs, the proxy, the DNS servers, the legacy TLS version, the HTTP status; as the
/// evidence key and its value.
pub fn cause_of(evidence: &Map<String, Value>) -> Option<(&'static str, String)> {
    const KEYS: [&str; 6] = ["product", "issuer", "proxy", "servers", "legacy_version", "status_code"];
    KEYS.iter().find_map(|k| match evidence.get(*k) {
        Some(Value::String(s)) => Some((*k, s.clone())),
        Some(Value::Null) | None => None,
        Some(v) => Some((*k, v.to_string())),
    })
}

/// The cause's value alone (see [`cause_of`]).
pub fn cause(evidence: &Map<String, Value>) -> Option<String> {
    cause_of(evidence).map(|(_, v)| v)
}

/// Every certificate of the chain is inside its validity period at `t`.
fn chain_valid_at(chain: &[crate::trust::chain::CertFacts], t: DateTime<Utc>) -> bool {
    let parse = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc));
    !chain.is_empty()
        && chain.iter().all(|c| match (parse(&c.not_before), parse(&c.not_after)) {
            (Some(nb), Some(na)) => nb <= t && t <= na,
            _ => false,
        })
}

/// Loopback, private (RFC 1918, ULA), link-local, CGNAT or unspecified.
pub fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_private(&IpAddr::V4(v4)))
        }
    }
}

fn dns_findings(c: &mut Ctx<'_>) {
    let dns = &c.obs.dns;
    let host = c.obs.spec.target.host().bare();
    let code = match dns.status {
        DnsStatus::Ok | DnsStatus::NotNeeded | DnsStatus::NotAttempted => None,
        DnsStatus::Nxdomain => Some(Code::DnsNameNotFound),
        DnsStatus::Servfail | DnsStatus::Refused | DnsStatus::Error => Some(Code::DnsServerFailure),
        DnsStatus::Timeout => Some(Code::DnsTimeout),
        DnsStatus::NoAddresses => Some(Code::DnsNoAddresses),
    };
    let mut evidence = obj(&[
        ("host", json!(host)),
        ("dns_status", json!(dns.status)),
        ("servers", json!(dns.server)),
        ("error", json!(dns.error)),
        ("duration_ms", json!(dns.duration_ms)),
    ]);
    if let Some(code) = code {
        // Where an alias chain ends nowhere, the name that fails is the last one.
        let route = || crate::probe::resolve::cname_route(&host, &dns.cnames);
        let last = dns.cnames.last().filter(|_| matches!(dns.status, DnsStatus::Nxdomain | DnsStatus::NoAddresses));
        if last.is_some() {
            evidence.insert("cnames".into(), json!(dns.cnames));
        }
        let what = match (dns.status, last) {
            (_, Some(_)) if crate::probe::resolve::cname_loop(&host, &dns.cnames) => {
                format!("is a CNAME loop ({}) and has no address", route())
            }
            (DnsStatus::Nxdomain, Some(last)) => {
                format!("is an alias of {last}, which does not exist (NXDOMAIN; CNAME chain {})", route())
            }
            (DnsStatus::NoAddresses, Some(last)) => {
                format!("is an alias of {last}, which has no A or AAAA record (CNAME chain {})", route())
            }
            (DnsStatus::Nxdomain, _) => "does not exist (NXDOMAIN)".to_string(),
            (DnsStatus::Servfail, _) => "could not be resolved: the server answered SERVFAIL".into(),
            (DnsStatus::Refused, _) => "could not be resolved: the server REFUSED the query".into(),
            (DnsStatus::Timeout, _) => format!("got no DNS answer within {} ms", dns.duration_ms),
            (DnsStatus::NoAddresses, _) => "has no A or AAAA record".into(),
            _ => format!("could not be resolved: {}", dns.error.as_deref().unwrap_or("unknown error")),
        };
        let servers = dns.server.as_deref().unwrap_or("no DNS server configured");
        // Through a proxy the proxy resolves the name: the node's own answer does not decide.
        if c.proxied() {
            c.push(
                code,
                Severity::Info,
                format!(
                    "{host} {what} on this node's DNS (servers: {servers}); the proxy resolves it for the connection"
                ),
                evidence,
            );
            return;
        }
        let sev = c.failure_severity();
        c.push(code, sev, format!("{host} {what} (DNS servers: {servers})"), evidence);
        return;
    }
    if dns.status == DnsStatus::Ok {
        special_address_finding(c, evidence.clone());
    }
    let dns = &c.obs.dns;
    if c.obs.spec.public && dns.status == DnsStatus::Ok {
        let private: Vec<String> = dns
            .addresses
            .iter()
            .filter(|a| is_private(a) && special::special_range(a).is_none())
            .map(|a| a.to_string())
            .collect();
        if !private.is_empty() {
            let mut ev = evidence;
            ev.insert("private_addresses".into(), json!(private));
            ev.insert("cnames".into(), json!(dns.cnames));
            let sev = if c.proxied() { Severity::Info } else { Severity::Warning };
            c.push(
                Code::DnsPrivateAddress,
                sev,
                format!("{host} is a public endpoint but resolves to {}", listed(&private)),
                ev,
            );
        }
    }
}

/// DnsSpecialAddress: answers in an RFC 6890 special-purpose range. Its severity is that of the
/// failure it causes: the endpoint's failure severity when no address connected, a warning when
/// the special addresses failed but another address connected or when a special address did
/// connect (something on the path answers for it), info when a proxy makes the connection.
fn special_address_finding(c: &mut Ctx<'_>, mut evidence: Map<String, Value>) {
    let host = c.obs.spec.target.host().bare();
    let special: Vec<(IpAddr, special::SpecialRange)> =
        c.obs.dns.addresses.iter().filter_map(|a| special::special_range(a).map(|r| (*a, r))).collect();
    let Some((first_ip, first)) = special.first().copied() else {
        return;
    };
    let addrs: Vec<String> = special.iter().map(|(a, _)| a.to_string()).collect();
    let mut ranges: Vec<String> = special.iter().map(|(_, r)| format!("{} ({})", r.cidr, r.name)).collect();
    ranges.dedup();
    evidence.insert("special_addresses".into(), json!(addrs));
    evidence.insert("range".into(), json!(first.cidr));
    evidence.insert("range_name".into(), json!(first.name));
    evidence.insert("usual_cause".into(), json!(first.usual_cause));
    evidence.insert("ranges".into(), json!(ranges));
    evidence.insert("cnames".into(), json!(c.obs.dns.cnames));
    let is_special = |ip: &IpAddr| special.iter().any(|(a, _)| a == ip);
    let tcp = &c.obs.tcp;
    let special_failed = tcp.iter().any(|a| is_special(&a.address.ip()) && a.status != TcpStatus::Ok);
    let any_connected = tcp.iter().any(|a| a.status == TcpStatus::Ok);
    let (severity, outcome) = if c.proxied() {
        (Severity::Info, "the proxy resolves the name for the connection".to_string())
    } else if special_failed && !any_connected {
        (
            c.failure_severity(),
            "no connection could be made: the connection failures below follow from this answer".into(),
        )
    } else if special_failed {
        (Severity::Warning, "connections to it fail while another address connects".into())
    } else if tcp.iter().any(|a| is_special(&a.address.ip()) && a.status == TcpStatus::Ok) {
        (
            Severity::Warning,
            format!("{first_ip} did connect: something on this node or its path answers for that range"),
        )
    } else {
        (c.failure_severity(), "it cannot be the real service".into())
    };
    let servers = c.obs.dns.server.clone().unwrap_or_else(|| "the OS resolver".into());
    c.push(
        Code::DnsSpecialAddress,
        severity,
        format!(
            "{host} resolves to {} (DNS servers: {servers}), in the special-purpose range {}; usual cause: {}; {outcome}",
            addrs.join(", "),
            ranges.join(", "),
            first.usual_cause
        ),
        evidence,
    );
}

fn tcp_findings(c: &mut Ctx<'_>) -> bool {
    let tcp = &c.obs.tcp;
    // An attempt the probe's own limits stopped says nothing about the network.
    let failed: Vec<_> = tcp.iter().filter(|a| a.status != TcpStatus::Ok && !a.local).collect();
    let connected = tcp.iter().any(|a| a.status == TcpStatus::Ok);
    let Some(first) = failed.first() else {
        return connected;
    };
    let code = match first.status {
        TcpStatus::Refused => Code::TcpConnectionRefused,
        TcpStatus::Timeout => Code::TcpConnectTimeout,
        TcpStatus::Unreachable | TcpStatus::Error => Code::TcpUnreachable,
        TcpStatus::Reset => Code::TcpConnectionReset,
        TcpStatus::Ok => return true,
    };
    let attempts: Vec<Value> = tcp
        .iter()
        .map(|a| json!({"address": a.address.to_string(), "status": a.status, "duration_ms": a.duration_ms, "error": a.error}))
        .collect();
    let host = c.obs.spec.target.host().bare();
    let port = c.obs.spec.target.port();
    let what = match first.status {
        TcpStatus::Refused => "refused".to_string(),
        TcpStatus::Timeout => format!(
            "timed out after {} ms (no answer to the SYN: a firewall drops the packets, or the host is down)",
            first.duration_ms
        ),
        TcpStatus::Reset => "reset".to_string(),
        _ => "unreachable".to_string(),
    };
    // A whole address family with no route (an IPv4-only node given AAAA records) is not a
    // failure the OS would meet: it prefers the family that works.
    let family_unrouted = connected
        && failed.iter().all(|a| a.status == TcpStatus::Unreachable)
        && tcp
            .iter()
            .filter(|a| a.status == TcpStatus::Ok)
            .all(|ok| failed.iter().all(|f| f.address.is_ipv4() != ok.address.is_ipv4()));
    let (severity, message) = if family_unrouted {
        let family = if first.address.is_ipv6() { "IPv6" } else { "IPv4" };
        (
            Severity::Info,
            format!(
                "{host} has {} {family} address(es) this node has no route to; the other family connects",
                failed.len()
            ),
        )
    } else if connected {
        (
            Severity::Warning,
            format!(
                "{} of {} addresses of {host} failed on TCP {port} ({} first: {}); the node may pick a failing one",
                failed.len(),
                tcp.len(),
                what.split(" after ").next().unwrap_or(&what),
                first.address
            ),
        )
    } else {
        let addrs: Vec<String> = failed.iter().map(|a| a.address.to_string()).collect();
        (c.failure_severity(), format!("TCP connection to {host} port {port} {what} ({})", listed(&addrs)))
    };
    let mut evidence = obj(&[("host", json!(host)), ("port", json!(port)), ("attempts", json!(attempts))]);
    // Root cause: failures to addresses that DNS should never have given (special-purpose
    // ranges) follow from that answer, not from a firewall or the host.
    let ranges: Vec<special::SpecialRange> =
        failed.iter().filter_map(|a| special::special_range(&a.address.ip())).collect();
    let (severity, message) = if !ranges.is_empty() && ranges.len() == failed.len() {
        evidence.insert("root_cause".into(), json!(Code::DnsSpecialAddress.as_str()));
        // The stage's own guess at a cause (a firewall dropping packets) does not apply here.
        let outcome = what.split(" (").next().unwrap_or(&what);
        let addrs: Vec<String> = failed.iter().map(|a| a.address.to_string()).collect();
        (
            Severity::Info,
            format!(
                "TCP connection to {host} port {port} {outcome} ({}): this follows from {} ({} is in {}, {}), not from a firewall",
                addrs.join(", "),
                Code::DnsSpecialAddress.as_str(),
                first.address.ip(),
                ranges[0].cidr,
                ranges[0].name
            ),
        )
    } else {
        (severity, message)
    };
    c.push(code, severity, message, evidence);
    connected
}

fn tls_findings(c: &mut Ctx<'_>) -> bool {
    let Some(tls) = c.obs.tls.clone() else {
        return false;
    };
    let host = c.obs.spec.target.host().bare();
    let leaf = tls.chain.first();
    let issuer = leaf.and_then(|l| l.issuer_cn.clone().or(Some(l.issuer.clone())));
    let mut evidence = obj(&[
        ("host", json!(host)),
        ("address", json!(tls.address.map(|a| a.to_string()))),
        ("sni", json!(tls.sni)),
        ("tls_status", json!(tls.status)),
        ("error", json!(tls.error)),
        ("alert", json!(tls.alert)),
        ("duration_ms", json!(tls.duration_ms)),
    ]);
    if let Some(i) = &issuer {
        evidence.insert("issuer".into(), json!(i));
    }
    let sev = c.failure_severity();
    match tls.status {
        TlsStatus::Ok => {}
        TlsStatus::NotAttempted => return false,
        TlsStatus::Timeout => {
            c.push(
                Code::TlsHandshakeTimeout,
                sev,
                format!("TLS handshake with {host} did not complete within {} ms", tls.duration_ms),
                evidence,
            );
            return false;
        }
        TlsStatus::Reset => {
            c.push(
                Code::TcpConnectionReset,
                sev,
                format!(
                    "the connection to {host} was reset during the TLS handshake (after the ClientHello with SNI {})",
                    tls.sni.as_deref().unwrap_or("none")
                ),
                evidence,
            );
            return false;
        }
        TlsStatus::HandshakeFailed if tls.legacy_version.as_deref().is_some_and(|v| v != "TLS 1.2") => {
            let v = tls.legacy_version.clone().unwrap_or_default();
            evidence.insert("legacy_version".into(), json!(v));
            c.push(
                Code::TlsProtocolVersion,
                sev,
                format!("{host} does not speak TLS 1.2 or 1.3; offered an old version, it answered with {v}"),
                evidence,
            );
            return false;
        }
        // The certificate itself could not be decoded: the handshake failed on it, a certificate problem.
        TlsStatus::HandshakeFailed
            if tls.trust.as_ref().is_some_and(|t| t.public == TrustVerdict::BadEncoding)
                || tls.chain.iter().any(|c| c.parse_error.is_some()) =>
        {
            let bad: Vec<String> = tls
                .chain
                .iter()
                .enumerate()
                .filter(|(_, c)| c.parse_error.is_some())
                .map(|(i, c)| format!("certificate {i} (SHA-256 {})", c.sha256))
                .collect();
            evidence.insert("malformed".into(), json!(bad));
            c.push(
                Code::TlsMalformedCertificate,
                sev,
                format!("{host} presented a certificate that cannot be decoded: {}", listed(&bad)),
                evidence,
            );
            return false;
        }
        TlsStatus::HandshakeFailed => {
            let detail = tls.error.clone().unwrap_or_default();
            c.push(Code::TlsHandshakeFailed, sev, format!("TLS handshake with {host} failed: {detail}"), evidence);
            return false;
        }
    }
    if let Some(trust) = &tls.trust {
        evidence.insert("trust_public".into(), json!(trust.public));
        evidence.insert("trust_system".into(), json!(trust.system));
        evidence.insert("public_detail".into(), json!(trust.public_detail));
        evidence.insert("system_detail".into(), json!(trust.system_detail));
        if let Some(l) = leaf {
            evidence.insert("leaf_sha256".into(), json!(l.sha256));
            evidence.insert("leaf_sans".into(), json!(l.sans));
            evidence.insert("leaf_not_before".into(), json!(l.not_before));
            evidence.insert("leaf_not_after".into(), json!(l.not_after));
        }
        let expected = &c.obs.spec.expected_issuers;
        let proxy = c.obs.proxy.as_ref().filter(|h| h.status == ProxyStatus::Ok).map(|h| h.url.clone());
        let headers = c.obs.http.as_ref().map(|h| h.proxy_headers.clone()).unwrap_or_default();
        let path =
            PathFacts { proxy: proxy.as_deref(), proxy_headers: &headers, system_anchor: trust.system_anchor.as_ref() };
        let reference_now = c.reference_now();
        let verdict = intercept::analyse(&tls.chain, trust.public, trust.system, expected, &path, reference_now);
        let weak = intercept::weak_signatures(&tls.chain);
        let issuer_text = verdict.issuer.clone().unwrap_or_else(|| "unknown".into());
        // The message lists the first names; the evidence (`leaf_sans`) keeps them all.
        const NAMES_SHOWN: usize = 10;
        let names = leaf.map_or_else(String::new, |l| {
            let shown = l.sans.iter().take(NAMES_SHOWN).cloned().collect::<Vec<_>>().join(", ");
            match l.sans.len().saturating_sub(NAMES_SHOWN) {
                0 => shown,
                more => format!("{shown} and {more} more (all in the evidence)"),
            }
        });
        let main: Option<(Code, Severity, String)> = if verdict.detected {
            evidence.insert("product".into(), json!(verdict.product));
            evidence.insert("trusted_by_system".into(), json!(verdict.trusted_by_system));
            evidence.insert("interception_evidence".into(), json!(verdict.evidence));
            let product = verdict.product.as_deref().map(|p| format!(" ({p})")).unwrap_or_default();
            let trusted = if verdict.trusted_by_system {
                "; this node's OS store trusts that CA, so the interception is deliberate, but Azure Stack Hub does not support it"
            } else {
                ""
            };
            Some((
                Code::TlsInterception,
                sev,
                format!(
                    "the connection to {host} is intercepted: the certificate is re-signed by {issuer_text}{product}, not by the service's CA{trusted}"
                ),
            ))
        } else if !trust.public.is_trusted() {
            let v = trust.public.as_str();
            Some(match trust.public {
                TrustVerdict::Expired => (
                    Code::TlsCertificateExpired,
                    sev,
                    format!(
                        "the certificate presented by {host} has expired (valid until {})",
                        leaf.map_or("?", |l| l.not_after.as_str())
                    ),
                ),
                TrustVerdict::NotYetValid => (
                    Code::TlsCertificateNotYetValid,
                    sev,
                    format!(
                        "the certificate presented by {host} is not valid before {}",
                        leaf.map_or("?", |l| l.not_before.as_str())
                    ),
                ),
                TrustVerdict::NameMismatch => (
                    Code::TlsNameMismatch,
                    sev,
                    format!("the certificate presented by {host} is not valid for that name; it is valid for: {names}"),
                ),
                TrustVerdict::UnsupportedSignature | TrustVerdict::BadSignature if !weak.is_empty() => (
                    Code::TlsWeakSignature,
                    sev,
                    format!("the chain presented by {host} is signed with {} ({v})", weak[0].1),
                ),
                TrustVerdict::ChainTooLong => (
                    Code::TlsChainTooLong,
                    sev,
                    format!(
                        "the chain presented by {host} has {} certificates, more than certificate verifiers accept ({v})",
                        tls.chain.len()
                    ),
                ),
                TrustVerdict::UnknownIssuer if intercept::incomplete_chain(&tls.chain, expected) => (
                    Code::TlsIncompleteChain,
                    sev,
                    format!(
                        "{host} did not send the intermediate certificate of its issuer {issuer_text}: the chain cannot be built to a trusted root"
                    ),
                ),
                _ => {
                    let why = if leaf.is_some_and(|l| l.subject == l.issuer) {
                        "a self-signed certificate"
                    } else {
                        "a chain to a root the public anchors do not know"
                    };
                    (
                        Code::TlsUntrustedRoot,
                        sev,
                        format!(
                            "{host} presented {why} ({v}; issuer: {issuer_text}); the OS store says {}",
                            trust.system.as_str()
                        ),
                    )
                }
            })
        } else if !trust.system.is_trusted() {
            Some((
                Code::TlsUntrustedRoot,
                sev,
                format!(
                    "{host} presented a publicly trusted chain (issuer: {issuer_text}), but this node's OS trust store rejects it: {}; its root is missing from the node's store",
                    trust.system.as_str()
                ),
            ))
        } else if leaf.is_some_and(|l| !intercept::issuer_expected(expected, l)) {
            Some((
                Code::TlsUnexpectedIssuer,
                Severity::Warning,
                format!(
                    "{host} presented a publicly trusted chain from {issuer_text}, which is not among the issuers this endpoint uses ({})",
                    expected.join(", ")
                ),
            ))
        } else {
            None
        };
        if let Some(p) = &verdict.product {
            evidence.insert("product".into(), json!(p));
        }
        let main_code = main.as_ref().map(|m| m.0);
        if let Some((code, severity, message)) = main {
            // Root cause: a date error on a node whose clock is off, for a chain that is valid at
            // the reference time, follows from the clock.
            let clock_code = match c.clock.verdict {
                ClockVerdict::Error => Some(Code::ClockSkew),
                ClockVerdict::Warning => Some(Code::ClockDrift),
                _ => None,
            };
            let date_error = matches!(code, Code::TlsCertificateExpired | Code::TlsCertificateNotYetValid);
            match clock_code {
                Some(root) if date_error && chain_valid_at(&tls.chain, reference_now) => {
                    evidence.insert("root_cause".into(), json!(root.as_str()));
                    evidence.insert("reference_time".into(), json!(reference_now.to_rfc3339()));
                    let off = c.clock.offset_seconds.unwrap_or_default();
                    c.push(
                        code,
                        Severity::Info,
                        format!(
                            "{message}: this follows from {} (the node's clock is {off:+.0} s off); at the reference time {} the chain is valid",
                            root.as_str(),
                            reference_now.format("%Y-%m-%dT%H:%M:%SZ")
                        ),
                        evidence.clone(),
                    );
                }
                _ => c.push(code, severity, message, evidence.clone()),
            }
        }
        if !weak.is_empty() && main_code != Some(Code::TlsWeakSignature) {
            let which: Vec<String> = weak.iter().map(|(i, a)| format!("certificate {i}: {a}")).collect();
            c.push(
                Code::TlsWeakSignature,
                sev,
                format!("the chain presented by {host} uses weak signatures ({})", which.join(", ")),
                evidence,
            );
        }
        c.interception = Some(verdict);
    }
    true
}

fn http_findings(c: &mut Ctx<'_>) {
    let Some(http) = c.obs.http.clone() else {
        return;
    };
    let host = c.obs.spec.target.host().bare();
    let evidence = obj(&[
        ("host", json!(host)),
        ("http_status", json!(http.status)),
        ("status_code", json!(http.status_code)),
        ("server", json!(http.server)),
        ("via", json!(http.via)),
        ("error", json!(http.error)),
        ("duration_ms", json!(http.duration_ms)),
    ]);
    let sev = c.failure_severity();
    match http.status {
        HttpStatus::NotAttempted => {}
        HttpStatus::Timeout => c.push(
            Code::HttpTimeout,
            sev,
            format!("{host} sent no response head within {} ms", http.duration_ms),
            evidence,
        ),
        HttpStatus::Error => c.push(
            Code::HttpProtocolError,
            sev,
            http.error.clone().unwrap_or_else(|| format!("{host} sent no valid HTTP response")),
            evidence,
        ),
        HttpStatus::Ok => {
            let code = http.status_code.unwrap_or(0);
            if let Some(reference) = service_edge_refusal(&http, &host) {
                let mut evidence = evidence;
                evidence.insert("reference".into(), json!(reference));
                evidence.insert("body_excerpt".into(), json!(http.body_excerpt));
                let page =
                    http.body_excerpt.as_deref().map(|b| format!(" \"{}\"", clip_words(b, 12))).unwrap_or_default();
                c.push(
                    Code::HttpBlockedAtServiceEdge,
                    sev,
                    format!(
                        "{host}'s service edge (Azure Front Door) refused the request: HTTP {code}{page}, reference {reference}; Microsoft's edge is blocking this node's public address or request, so the path is not proven and the customer's network is not the cause: give the reference to Microsoft support"
                    ),
                    evidence,
                );
                return;
            }
            if !c.obs.spec.reachable.accepts(code) {
                let server = http.server.as_deref().map(|s| format!(" (Server: {s})")).unwrap_or_default();
                c.push(
                    Code::HttpUnexpectedStatus,
                    sev,
                    format!("{host} answered HTTP {code}{server}, not a status that proves the service path"),
                    evidence,
                );
            }
        }
    }
}

/// Host names of Microsoft's services (public, US Government and China clouds): only their edge's
/// refusals are recognised as the service edge's own.
const MICROSOFT_DOMAINS: &[&str] = &[
    "microsoftonline.com",
    "microsoftonline.us",
    "microsoftonline.de",
    "microsoft.com",
    "microsoft.us",
    "windows.net",
    "azure.com",
    "azure.net",
    "azure.us",
    "azure.cn",
    "usgovcloudapi.net",
    "chinacloudapi.cn",
    "trafficmanager.net",
    "azurefd.net",
    "azureedge.net",
    "msauth.net",
    "msftauth.net",
    "live.com",
];

fn is_microsoft_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    MICROSOFT_DOMAINS.iter().any(|d| host == *d || host.strip_suffix(d).is_some_and(|p| p.ends_with('.')))
}

/// Azure Front Door's own refusal: a 403 on a Microsoft host that carries the edge's reference
/// header and the edge's block page ("The request is blocked.", or its generic "Our services
/// aren't available right now" page). Returns the reference ID. Other 403s are not the edge's.
fn service_edge_refusal<'a>(http: &'a HttpObservation, host: &str) -> Option<&'a str> {
    let reference = http.edge_ref.as_deref()?;
    let page = http.body_excerpt.as_deref().unwrap_or("").to_lowercase().replace('\u{2019}', "'");
    let edge_page = page.contains("the request is blocked") || page.contains("our services aren't available right now");
    (http.status_code == Some(403) && is_microsoft_host(host) && edge_page).then_some(reference)
}

/// The first `n` words of a text, with an ellipsis when cut.
fn clip_words(text: &str, n: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let more = if words.len() > n { " …" } else { "" };
    format!("{}{more}", words[..words.len().min(n)].join(" "))
}

/// What one endpoint's observations mean.
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    /// In stage order.
    pub findings: Vec<Finding>,
    /// The interception verdict, when a chain was seen.
    pub interception: Option<Interception>,
    /// The revocation checks judged (the report's `tls.revocation`), when a chain was seen.
    pub revocation: Option<revocation::RevocationReport>,
}

/// Diagnose one endpoint. `now` is the node's time at the start of the run and `clock` the
/// estimate of how far off it is: certificate dates are judged against the reference time.
pub fn endpoint(obs: &EndpointObservation, lang: Lang, now: DateTime<Utc>, clock: &ClockEstimate) -> Diagnosis {
    // A stopped run: the stages that finished are diagnosed, the one in flight and those after
    // it are not (they observed nothing).
    let finished = |stage: Stage| {
        // A stage the probe could not run for its own limits observed nothing either.
        let run = obs.local_limit.as_ref().is_none_or(|l| stage.order() < l.stage.order());
        run && match (obs.skipped, obs.interrupted) {
            (false, _) => true,
            (true, None) => false,
            (true, Some(i)) => stage.order() < i.stage.order(),
        }
    };
    let mut c = Ctx { obs, lang, now, clock, out: Vec::new(), interception: None };
    if !finished(Stage::Dns) {
        return Diagnosis::default();
    }
    dns_findings(&mut c);
    bypass_findings(&mut c);
    let connected = if c.proxied() {
        finished(Stage::Proxy) && proxy_findings(&mut c)
    } else {
        finished(Stage::Tcp) && tcp_findings(&mut c)
    };
    if connected && finished(Stage::Tls) && tls_findings(&mut c) && finished(Stage::Http) {
        http_findings(&mut c);
    }
    families::amend(&mut c);
    let revocation = revocation::findings(&mut c);
    Diagnosis { findings: c.out, interception: c.interception, revocation }
}

/// The proxy's status line as quoted in messages: `"HTTP 500 Unable to connect"`.
fn proxy_status_line(hop: &ProxyHop) -> String {
    let code = hop.http_status.map_or_else(|| "-".to_string(), |s| s.to_string());
    match &hop.reason {
        Some(r) => format!("\"HTTP {code} {r}\""),
        None => format!("\"HTTP {code}\""),
    }
}

/// The first words of the proxy's page as quoted in messages (at most 20 words), or nothing.
fn proxy_page_words(hop: &ProxyHop) -> String {
    let Some(text) = hop.body_excerpt.as_deref() else {
        return String::new();
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let more = if words.len() > 20 { " …" } else { "" };
    format!(": \"{}{more}\"", words[..words.len().min(20)].join(" "))
}

/// ProxyBypassAmbiguous (info): the bypass list's entries mean different things to the clients
/// that read it, for this endpoint; the report applies this probe's reading and says so.
fn bypass_findings(c: &mut Ctx<'_>) {
    let Some(hop) = c.obs.proxy.as_ref() else {
        return;
    };
    if hop.bypass_readings.is_empty() {
        return;
    }
    let readings = hop.bypass_readings.clone();
    let host = c.obs.spec.target.host().bare();
    let describe = |bypassed: bool| {
        let v: Vec<String> = readings
            .iter()
            .filter(|r| r.bypassed == bypassed && r.client != BypassClient::Probe)
            .map(|r| match &r.rule {
                Some(rule) => format!("{} (`{rule}`)", r.client.as_str()),
                None => r.client.as_str().to_string(),
            })
            .collect();
        if v.is_empty() { "none".to_string() } else { v.join(", ") }
    };
    let applied = readings.iter().find(|r| r.client == BypassClient::Probe);
    let applied_text = match applied {
        Some(r) if r.bypassed => {
            format!(
                "this probe connected directly (its reading: curl's, plus `*.domain` and `<local>`; rule `{}`)",
                r.rule.as_deref().unwrap_or("?")
            )
        }
        _ => "this probe used the proxy (its reading: curl's, plus `*.domain` and `<local>`)".to_string(),
    };
    let rules: Vec<String> =
        readings.iter().filter_map(|r| r.rule.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let evidence = obj(&[
        ("host", json!(host)),
        ("rules", json!(rules)),
        ("rule", json!(rules.join(", "))),
        ("readings", json!(readings)),
        ("applied", json!(applied.map(|r| r.bypassed))),
    ]);
    c.push(
        Code::ProxyBypassAmbiguous,
        Severity::Info,
        format!(
            "the proxy bypass list is read differently for {host}: bypassed by {}; proxied by {}; {applied_text}",
            describe(true),
            describe(false)
        ),
        evidence,
    );
}

/// Findings of the proxy hop; true when the tunnel is open.
fn proxy_findings(c: &mut Ctx<'_>) -> bool {
    let Some(hop) = c.obs.proxy.clone() else {
        return false;
    };
    let host = c.obs.spec.target.host().bare();
    let port = c.obs.spec.target.port();
    let code_text = hop.http_status.map_or_else(|| "-".to_string(), |s| s.to_string());
    let mut evidence = obj(&[
        ("proxy", json!(hop.url)),
        ("proxy_address", json!(hop.address.map(|a| a.to_string()))),
        ("proxy_status", json!(hop.status)),
        ("status_code", json!(code_text)),
        ("host", json!(host)),
        ("port", json!(port)),
        ("server", json!(hop.server)),
        ("via", json!(hop.via)),
        ("error", json!(hop.error)),
    ]);
    let headers = {
        let mut h = Vec::new();
        if let Some(s) = &hop.server {
            h.push(format!("Server: {s}"));
        }
        if let Some(v) = &hop.via {
            h.push(format!("Via: {v}"));
        }
        if h.is_empty() { String::new() } else { format!(" ({})", h.join(", ")) }
    };
    let sev = c.failure_severity();
    let url = &hop.url;
    let (code, message) = match hop.status {
        ProxyStatus::Ok | ProxyStatus::Bypassed => return true,
        ProxyStatus::Unreachable => (
            Code::ProxyUnreachable,
            format!("cannot reach the proxy {url}: {}", hop.error.as_deref().unwrap_or("no address answered")),
        ),
        ProxyStatus::AuthRequired => {
            let schemes = if hop.authenticate.is_empty() { "none".to_string() } else { hop.authenticate.join(", ") };
            evidence.insert("authenticate".into(), json!(hop.authenticate));
            evidence.insert("schemes".into(), json!(schemes));
            evidence.insert("credentials_sent".into(), json!(hop.credentials_sent));
            let basic = hop.authenticate.iter().any(|s| s.eq_ignore_ascii_case("basic"));
            let what = if hop.credentials_sent { "rejected the credentials given" } else { "requires authentication" };
            let windows = if basic {
                String::new()
            } else {
                "; only integrated Windows authentication is offered, which neither this probe nor the usage bridge can answer".into()
            };
            (
                Code::ProxyAuthenticationRequired,
                format!("the proxy {url} {what} (HTTP 407); it offers: {schemes}{windows}"),
            )
        }
        // No HTTP answer at all (not HTTP, a head without end, endless interim answers): no
        // refusal by policy, but a proxy (or something posing as one) that does not speak HTTP.
        ProxyStatus::Error if hop.http_status.is_none() => (
            Code::HttpProtocolError,
            format!(
                "the proxy {url} did not answer CONNECT {host}:{port} with valid HTTP: {}",
                hop.error.as_deref().unwrap_or("no HTTP answer")
            ),
        ),
        ProxyStatus::Denied | ProxyStatus::Error => {
            evidence.insert("body_excerpt".into(), json!(hop.body_excerpt));
            evidence.insert("reason".into(), json!(hop.reason));
            let why = match hop.http_status {
                Some(_) => format!(
                    "answered {}{headers}{}; that is its own refusal (policy), not a failure to reach the endpoint",
                    proxy_status_line(&hop),
                    proxy_page_words(&hop)
                ),
                None => hop.error.clone().unwrap_or_else(|| "refused".into()),
            };
            (Code::ProxyDenied, format!("the proxy {url} refused CONNECT {host}:{port}: {why}"))
        }
        ProxyStatus::UpstreamFailed => {
            evidence.insert("body_excerpt".into(), json!(hop.body_excerpt));
            evidence.insert("reason".into(), json!(hop.reason));
            (
                Code::ProxyUpstreamFailed,
                format!(
                    "the proxy {url} could not reach {host}:{port} itself: it answered {}{headers}{}",
                    proxy_status_line(&hop),
                    proxy_page_words(&hop)
                ),
            )
        }
        ProxyStatus::Timeout => (
            Code::ProxyUpstreamFailed,
            format!(
                "the proxy {url} accepted the connection but did not answer CONNECT {host}:{port} within {} ms: it is likely still trying to reach the endpoint",
                hop.duration_ms
            ),
        ),
    };
    c.push(code, sev, message, evidence);
    false
}

/// Node-wide clock findings.
pub fn clock_findings(clock: &ClockEstimate, lang: Lang) -> Vec<Finding> {
    let mut vars = BTreeMap::new();
    if let Some(o) = clock.offset_seconds {
        vars.insert("offset".to_string(), format!("{o:+.1}"));
    }
    let evidence = obj(&[
        ("offset_seconds", json!(clock.offset_seconds)),
        ("uncertainty_seconds", json!(clock.uncertainty_seconds)),
        ("sources", json!(clock.sources.len())),
    ]);
    let offset = clock.offset_seconds.unwrap_or(0.0);
    let unc = clock.uncertainty_seconds.unwrap_or(0.0);
    let zone = zone_like_offset(offset, unc);
    let mut evidence = evidence;
    let mut variant = None;
    let (code, severity, message) = match clock.verdict {
        ClockVerdict::Ok => return Vec::new(),
        ClockVerdict::Error => {
            let mut message = format!(
                "the node's clock is {offset:+.1} s (± {unc:.1} s) off the reference time: beyond the 300 s token tolerance"
            );
            if let Some(z) = &zone {
                message.push_str(&format!(
                    "; that is {} within {:.0} s, the step of a time-zone offset: almost always a time-zone or daylight-saving problem (the hardware clock kept in local time, or a wrong time-zone rule), not drift",
                    z.label, z.residual_seconds
                ));
                vars.insert("zone_offset".to_string(), z.label.clone());
                evidence.insert("time_zone_pattern".into(), json!(z.label));
                variant = Some("time_zone");
            }
            (Code::ClockSkew, Severity::Error, message)
        }
        ClockVerdict::Warning => (
            Code::ClockDrift,
            Severity::Warning,
            format!("the node's clock is {offset:+.1} s (± {unc:.1} s) off the reference time"),
        ),
        ClockVerdict::Unknown => (
            Code::ClockUnverified,
            Severity::Warning,
            match (clock.offset_seconds, clock.uncertainty_seconds) {
                (Some(_), Some(_)) => {
                    let (lo, hi) = crate::clock::undecided_range(offset, unc);
                    let crossed: Vec<String> = [crate::clock::DRIFT_SECONDS, crate::clock::SKEW_SECONDS]
                        .iter()
                        .filter(|b| lo <= **b && hi > **b)
                        .map(|b| format!("{b:.0} s"))
                        .collect();
                    format!(
                        "the node's clock is {offset:+.1} s ± {unc:.1} s off the reference time: anywhere from {lo:.0} to {hi:.0} s off, across the {} bound{}, too uncertain to decide (the time sources disagree or answered too slowly)",
                        crossed.join(" and "),
                        if crossed.len() > 1 { "s" } else { "" }
                    )
                }
                _ => "no time source answered: the node's clock could not be checked".to_string(),
            },
        ),
    };
    vec![Finding {
        code,
        severity,
        endpoint: None,
        usage_error: usage_error(code, false),
        message,
        evidence,
        remediation: match variant {
            Some(v) => remediation::remediation_variant(code, v, lang, &vars),
            None => remediation::remediation(code, lang, &vars),
        },
    }]
}

/// An offset that is a time-zone step: a whole number of hours, or 30 or 45 minutes past one,
/// up to 26 h (the widest gap between two zones' offsets).
struct ZoneOffset {
    /// e.g. `+1 h`, `-5 h 30 min`.
    label: String,
    /// Seconds between the offset and the step.
    residual_seconds: f64,
}

/// Seconds an offset may miss a time-zone step by (plus the estimate's uncertainty).
const ZONE_STEP_TOLERANCE_SECONDS: f64 = 60.0;

fn zone_like_offset(offset: f64, uncertainty: f64) -> Option<ZoneOffset> {
    let quarters = (offset.abs() / 900.0).round();
    let residual = (offset.abs() - quarters * 900.0).abs();
    // 15-minute steps exist only as :30 and :45 (e.g. India +5:30, Nepal +5:45), besides whole hours.
    let minutes = (quarters as u64 % 4) * 15;
    if !(2.0..=26.0 * 4.0).contains(&quarters) || minutes == 15 || residual > ZONE_STEP_TOLERANCE_SECONDS + uncertainty
    {
        return None;
    }
    let hours = quarters as u64 / 4;
    let sign = if offset < 0.0 { '-' } else { '+' };
    let label = match (hours, minutes) {
        (0, m) => format!("{sign}{m} min"),
        (h, 0) => format!("{sign}{h} h"),
        (h, m) => format!("{sign}{h} h {m} min"),
    };
    Some(ZoneOffset { label, residual_seconds: residual })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_summarised() {
        let many: Vec<String> = (0..500).map(|i| format!("10.0.{}.{}", i / 256, i % 256)).collect();
        let line = listed(&many);
        assert_eq!(line, "10.0.0.0, 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4 and 495 more (all in the evidence)");
        assert_eq!(listed(&["a", "b"]), "a, b");
        assert_eq!(listed::<&str>(&[]), "");
    }

    #[test]
    fn private_ranges() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_private(&ip.parse().unwrap()), "{ip}");
        }
        for ip in ["20.190.128.1", "8.8.8.8", "2603:1030::1", "100.128.0.1"] {
            assert!(!is_private(&ip.parse().unwrap()), "{ip}");
        }
    }
}

#[cfg(test)]
mod tcp_tests {
    use std::sync::Arc;

    use super::*;
    use crate::catalog::{EndpointSpec, Reachable, Target};
    use crate::probe::{DnsObservation, EndpointObservation, TcpAttempt};

    fn obs(attempts: Vec<(&str, TcpStatus)>) -> EndpointObservation {
        let spec = Arc::new(EndpointSpec {
            name: "e".into(),
            role: Role::Usage,
            target: Target::parse("tcp://svc.example:443").unwrap(),
            reachable: Reachable::AnyBelow500,
            expected_issuers: vec![],
            required: true,
            public: false,
            represents: None,
            note: None,
        });
        let tcp: Vec<TcpAttempt> = attempts
            .into_iter()
            .map(|(a, status)| TcpAttempt {
                address: a.parse().unwrap(),
                status,
                duration_ms: 1,
                error: None,
                peer: crate::probe::Peer::Endpoint,
                local: false,
            })
            .collect();
        let addresses = tcp.iter().map(|t| t.address.ip()).collect();
        EndpointObservation {
            spec,
            skipped: false,
            interrupted: None,
            starts: Default::default(),
            dns: DnsObservation {
                status: DnsStatus::Ok,
                server: None,
                duration_ms: 1,
                addresses,
                cnames: vec![],
                error: None,
                local: false,
            },
            tcp,
            proxy: None,
            tls: None,
            http: None,
            local_limit: None,
            address_order: None,
            families: vec![],
        }
    }

    #[test]
    fn unrouted_family_is_info_but_a_dead_address_is_a_warning() {
        let o = obs(vec![("20.1.1.1:443", TcpStatus::Ok), ("[2603::1]:443", TcpStatus::Unreachable)]);
        let f = endpoint(&o, Lang::En, Utc::now(), &crate::clock::estimate(vec![])).findings;
        assert_eq!((f[0].code, f[0].severity), (Code::TcpUnreachable, Severity::Info));

        let o = obs(vec![("20.1.1.1:443", TcpStatus::Ok), ("20.1.1.2:443", TcpStatus::Timeout)]);
        let f = endpoint(&o, Lang::En, Utc::now(), &crate::clock::estimate(vec![])).findings;
        assert_eq!((f[0].code, f[0].severity), (Code::TcpConnectTimeout, Severity::Warning));

        let o = obs(vec![("20.1.1.1:443", TcpStatus::Timeout), ("[2603::1]:443", TcpStatus::Unreachable)]);
        let f = endpoint(&o, Lang::En, Utc::now(), &crate::clock::estimate(vec![])).findings;
        assert_eq!((f[0].code, f[0].severity), (Code::TcpConnectTimeout, Severity::Error));
        assert_eq!(f[0].usage_error, Some(UsageError::NetworkError));
    }

    /// EMFILE and its kind are the probe's own limits: never a TCP finding about the network.
    #[test]
    fn the_probes_own_socket_limit_is_not_a_network_finding() {
        let clock = crate::clock::estimate(vec![]);
        // One address connected, one could not get a socket: nothing to say.
        let mut o = obs(vec![("20.1.1.1:443", TcpStatus::Ok), ("20.1.1.2:443", TcpStatus::Error)]);
        o.tcp[1].local = true;
        assert!(endpoint(&o, Lang::En, Utc::now(), &clock).findings.is_empty());
        // No socket at all: the TCP stage did not run (the probe marks it), nothing is judged.
        let mut o = obs(vec![("20.1.1.1:443", TcpStatus::Error), ("20.1.1.2:443", TcpStatus::Refused)]);
        o.tcp[0].local = true;
        o.local_limit = Some(crate::probe::LocalLimit { stage: Stage::Tcp, error: "Too many open files".into() });
        assert!(endpoint(&o, Lang::En, Utc::now(), &clock).findings.is_empty());
        // The same without the mark would blame the network.
        o.local_limit = None;
        o.tcp[0].local = false;
        let f = endpoint(&o, Lang::En, Utc::now(), &clock).findings;
        assert_eq!(f[0].code, Code::TcpUnreachable);
    }
}
