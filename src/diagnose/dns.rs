//! DNS stage: what the name's resolution means (DnsNameNotFound, DnsServerFailure, DnsTimeout,
//! DnsNoAddresses, DnsPrivateAddress, DnsSpecialAddress). Through a proxy the node's own answer
//! does not decide (info).

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::{Code, Ctx, Severity, listed, obj, special};
use crate::probe::{DnsStatus, TcpStatus};

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

/// Findings of the name's resolution.
pub(super) fn findings(c: &mut Ctx<'_>) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
