//! TCP stage: connection attempts to the resolved addresses (TcpConnectionRefused,
//! TcpConnectTimeout, TcpUnreachable, TcpConnectionReset). Root cause: failures to addresses in a
//! special-purpose range follow from the DNS answer (DnsSpecialAddress), not from a firewall.

use serde_json::{Value, json};

use super::{Code, Ctx, Severity, listed, obj, special};
use crate::probe::TcpStatus;

/// Findings of the TCP attempts; true when an address connected.
pub(super) fn findings(c: &mut Ctx<'_>) -> bool {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::Utc;

    use super::*;
    use crate::catalog::{EndpointSpec, Reachable, Role, Target};
    use crate::diagnose::{UsageError, endpoint};
    use crate::probe::{DnsObservation, DnsStatus, EndpointObservation, Stage, TcpAttempt};

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
        let f = endpoint(&o, Utc::now(), &crate::diagnose::clock::estimate(vec![])).findings;
        assert_eq!((f[0].code, f[0].severity), (Code::TcpUnreachable, Severity::Info));

        let o = obs(vec![("20.1.1.1:443", TcpStatus::Ok), ("20.1.1.2:443", TcpStatus::Timeout)]);
        let f = endpoint(&o, Utc::now(), &crate::diagnose::clock::estimate(vec![])).findings;
        assert_eq!((f[0].code, f[0].severity), (Code::TcpConnectTimeout, Severity::Warning));

        let o = obs(vec![("20.1.1.1:443", TcpStatus::Timeout), ("[2603::1]:443", TcpStatus::Unreachable)]);
        let f = endpoint(&o, Utc::now(), &crate::diagnose::clock::estimate(vec![])).findings;
        assert_eq!((f[0].code, f[0].severity), (Code::TcpConnectTimeout, Severity::Error));
        assert_eq!(f[0].usage_error, Some(UsageError::NetworkError));
    }

    /// EMFILE and its kind are the probe's own limits: never a TCP finding about the network.
    #[test]
    fn the_probes_own_socket_limit_is_not_a_network_finding() {
        let clock = crate::diagnose::clock::estimate(vec![]);
        // One address connected, one could not get a socket: nothing to say.
        let mut o = obs(vec![("20.1.1.1:443", TcpStatus::Ok), ("20.1.1.2:443", TcpStatus::Error)]);
        o.tcp[1].local = true;
        assert!(endpoint(&o, Utc::now(), &clock).findings.is_empty());
        // No socket at all: the TCP stage did not run (the probe marks it), nothing is judged.
        let mut o = obs(vec![("20.1.1.1:443", TcpStatus::Error), ("20.1.1.2:443", TcpStatus::Refused)]);
        o.tcp[0].local = true;
        o.local_limit = Some(crate::probe::LocalLimit { stage: Stage::Tcp, error: "Too many open files".into() });
        assert!(endpoint(&o, Utc::now(), &clock).findings.is_empty());
        // The same without the mark would blame the network.
        o.local_limit = None;
        o.tcp[0].local = false;
        let f = endpoint(&o, Utc::now(), &clock).findings;
        assert_eq!(f[0].code, Code::TcpUnreachable);
    }
}
