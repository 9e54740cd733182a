//! Root causes win: each rule as a row (the observation and the clock, the finding with its
//! severity, the root cause its evidence names, the codes it keeps away).

use serde_json::Value;

use super::builder::*;
use crate::clock::ClockEstimate;
use crate::diagnose::{Code, Severity};
use crate::probe::pmtu::{MssRetry, RetryStatus};
use crate::probe::proxy::ProxyStatus;
use crate::probe::revocation::{CheckObservation, FetchFailure};
use crate::probe::{DnsStatus, Interrupted, LocalLimit, Stage, TcpStatus, TlsStatus};
use crate::trust::TrustVerdict;
use crate::trust::revocation::SourceKind;

/// One root-cause rule: the observation and the clock, the finding it gives with its severity,
/// the root cause its evidence names, and the codes the rule keeps away.
struct Rule {
    what: &'static str,
    obs: Obs,
    clock: ClockEstimate,
    code: Code,
    severity: Severity,
    root_cause: Option<&'static str>,
    absent: &'static [Code],
}

#[test]
fn root_cause_rules() {
    use Severity::{Error, Info, Warning};
    let h = Obs::healthy;
    let not_yet_valid =
        |from: i64| h().trust(TrustVerdict::NotYetValid, TrustVerdict::NotYetValid).leaf(|l| l.not_before = at(from));
    let expired =
        |until: i64| h().trust(TrustVerdict::Expired, TrustVerdict::Expired).leaf(|l| l.not_after = at(until));
    let stale_crl = h().revocation(vec![crl_check(fetched(None), Some(crl_answer(false, -100)))]);
    let rules = [
        Rule {
            what: "a certificate not yet valid on a node whose clock is 10 min behind: ClockSkew, not interception",
            obs: not_yet_valid(300)
                .leaf(|l| *l = cert("svc.example.com", "Corp Inspection CA", "Corp"))
                .leaf(|l| l.not_before = at(300)),
            clock: clock_at(Some(-600.0)),
            code: Code::TlsCertificateNotYetValid,
            severity: Info,
            root_cause: Some("ClockSkew"),
            absent: &[Code::TlsInterception, Code::TlsUntrustedRoot],
        },
        Rule {
            what: "a certificate expired by the clock of a node 10 min ahead: ClockSkew",
            obs: expired(-300),
            clock: clock_at(Some(600.0)),
            code: Code::TlsCertificateExpired,
            severity: Info,
            root_cause: Some("ClockSkew"),
            absent: &[],
        },
        Rule {
            what: "a certificate expired by the clock of a node 2 min ahead: ClockDrift",
            obs: expired(-60),
            clock: clock_at(Some(120.0)),
            code: Code::TlsCertificateExpired,
            severity: Info,
            root_cause: Some("ClockDrift"),
            absent: &[],
        },
        Rule {
            what: "a date error the clock does not explain (invalid at the reference time too) stays an error",
            obs: not_yet_valid(3 * DAY),
            clock: clock_at(Some(-600.0)),
            code: Code::TlsCertificateNotYetValid,
            severity: Error,
            root_cause: None,
            absent: &[],
        },
        Rule {
            what: "a date error with the clock in step stays an error",
            obs: not_yet_valid(DAY),
            clock: clock_ok(),
            code: Code::TlsCertificateNotYetValid,
            severity: Error,
            root_cause: None,
            absent: &[],
        },
        Rule {
            what: "TCP failures to a special-purpose address follow from the DNS answer, not a firewall",
            obs: h().addresses(&[("198.18.0.7:443", TcpStatus::Timeout)]),
            clock: clock_ok(),
            code: Code::TcpConnectTimeout,
            severity: Info,
            root_cause: Some("DnsSpecialAddress"),
            absent: &[],
        },
        Rule {
            what: "a special-purpose address failing while another address connects is a warning",
            obs: h().addresses(&[("198.18.0.7:443", TcpStatus::Timeout), ("20.1.1.1:443", TcpStatus::Ok)]),
            clock: clock_ok(),
            code: Code::DnsSpecialAddress,
            severity: Warning,
            root_cause: None,
            absent: &[],
        },
        Rule {
            what: "through a proxy the node's own DNS failure is info: the proxy resolves the name",
            obs: h().proxy(ProxyStatus::Ok, Some(200)).dns(DnsStatus::Nxdomain),
            clock: clock_ok(),
            code: Code::DnsNameNotFound,
            severity: Info,
            root_cause: None,
            absent: &[],
        },
        Rule {
            what: "an address family this node has no route to, the other connecting, is info",
            obs: h().addresses(&[("20.1.1.1:443", TcpStatus::Ok), ("[2603:1030::1]:443", TcpStatus::Unreachable)]),
            clock: clock_ok(),
            code: Code::TcpUnreachable,
            severity: Info,
            root_cause: None,
            absent: &[],
        },
        Rule {
            what: "a dead address beside a working one is a warning",
            obs: h().addresses(&[("20.1.1.1:443", TcpStatus::Ok), ("20.1.1.2:443", TcpStatus::Timeout)]),
            clock: clock_ok(),
            code: Code::TcpConnectTimeout,
            severity: Warning,
            root_cause: None,
            absent: &[],
        },
        Rule {
            what: "revocation answers stale only by the clock of a node 10 min ahead follow from the clock",
            obs: stale_crl,
            clock: clock_at(Some(600.0)),
            code: Code::RevocationResponseInvalid,
            severity: Info,
            root_cause: Some("ClockSkew"),
            absent: &[Code::TlsCertificateRevoked],
        },
        Rule {
            what: "a revocation source down while another answers is a warning",
            obs: h().revocation(vec![
                crl_check(fetched(Some(FetchFailure::Dns)), None),
                CheckObservation {
                    kind: SourceKind::Ocsp,
                    url: "http://ocsp.example.com".into(),
                    ..crl_check(fetched(None), Some(crl_answer(false, DAY)))
                },
            ]),
            clock: clock_ok(),
            code: Code::RevocationUnreachable,
            severity: Warning,
            root_cause: None,
            absent: &[Code::RevocationResponseInvalid],
        },
        Rule {
            what: "a handshake that completes with a small MSS is a path-MTU black hole, not a timeout",
            obs: h().tls_with(|t| {
                t.status = TlsStatus::Timeout;
                t.trust = None;
                t.mss_retry = Some(MssRetry {
                    mss: 536,
                    status: RetryStatus::Ok,
                    duration_ms: 30,
                    bytes_received: 4000,
                    error: None,
                });
            }),
            clock: clock_ok(),
            code: Code::TlsPathMtuBlackHole,
            severity: Error,
            root_cause: None,
            absent: &[Code::TlsHandshakeTimeout, Code::TlsInterception],
        },
        Rule {
            what: "through a proxy a special-purpose answer of the node's own DNS is info",
            obs: {
                let mut o = h().proxy(ProxyStatus::Ok, Some(200));
                o.0.dns.addresses = vec!["198.18.0.7".parse().unwrap()];
                o
            },
            clock: clock_ok(),
            code: Code::DnsSpecialAddress,
            severity: Info,
            root_cause: None,
            absent: &[],
        },
        Rule {
            what: "a public name resolving to a private address is only info through a proxy",
            obs: {
                let mut o = h().proxy(ProxyStatus::Ok, Some(200));
                o.0.dns.addresses = vec!["10.1.2.3".parse().unwrap()];
                o
            },
            clock: clock_ok(),
            code: Code::DnsPrivateAddress,
            severity: Info,
            root_cause: None,
            absent: &[],
        },
        Rule {
            what: "every address of the family the node tries first timing out, the other connecting, is an error",
            obs: h()
                .addresses(&[("[2603:1030::1]:443", TcpStatus::Timeout), ("20.1.1.1:443", TcpStatus::Ok)])
                .tries(&[("2603:1030::1", "2001:db8::5"), ("20.1.1.1", "192.0.2.5")]),
            clock: clock_ok(),
            code: Code::TcpConnectTimeout,
            severity: Error,
            root_cause: None,
            absent: &[],
        },
        Rule {
            what: "the same timeouts on the family the node does not try first stay a warning",
            obs: h()
                .addresses(&[("[2603:1030::1]:443", TcpStatus::Timeout), ("20.1.1.1:443", TcpStatus::Ok)])
                .tries(&[("20.1.1.1", "192.0.2.5"), ("2603:1030::1", "2001:db8::5")]),
            clock: clock_ok(),
            code: Code::TcpConnectTimeout,
            severity: Warning,
            root_cause: None,
            absent: &[],
        },
        Rule {
            what: "a DNS failure ends the endpoint's diagnosis: no TCP, TLS or HTTP finding follows",
            obs: h().dns(DnsStatus::Timeout),
            clock: clock_ok(),
            code: Code::DnsTimeout,
            severity: Error,
            root_cause: None,
            absent: &[Code::TcpConnectTimeout, Code::TlsHandshakeTimeout, Code::HttpTimeout],
        },
    ];
    for r in rules {
        let f = diagnose(&r.obs, &r.clock);
        let hit = find(&f, r.code);
        assert_eq!(hit.severity, r.severity, "{}", r.what);
        assert_eq!(hit.evidence.get("root_cause").and_then(Value::as_str), r.root_cause, "{}", r.what);
        for code in r.absent {
            assert!(f.iter().all(|x| x.code != *code), "{}: {} present", r.what, code.as_str());
        }
    }
}

/// A stopped run judges the stages that finished; the stage in flight and those after it
/// observed nothing. A stage the probe's own limits kept from running is not judged either.
#[test]
fn only_finished_stages_are_judged() {
    let stalled = Obs::healthy().tls(TlsStatus::Timeout);
    assert_eq!(find(&diagnose(&stalled, &clock_ok()), Code::TlsHandshakeTimeout).severity, Severity::Error);
    let mut stopped = stalled.clone();
    stopped.0.skipped = true;
    stopped.0.interrupted = Some(Interrupted { stage: Stage::Tls, after_ms: 5 });
    assert_eq!(diagnose(&stopped, &clock_ok()), vec![], "interrupted in TLS");
    let mut limited = Obs::healthy().tcp(TcpStatus::Error);
    limited.0.local_limit = Some(LocalLimit { stage: Stage::Tcp, error: "Too many open files".into() });
    assert_eq!(diagnose(&limited, &clock_ok()), vec![], "no socket for TCP");
    let mut dns_stopped = Obs::healthy().dns(DnsStatus::Timeout);
    dns_stopped.0.skipped = true;
    dns_stopped.0.interrupted = Some(Interrupted { stage: Stage::Dns, after_ms: 5 });
    assert_eq!(diagnose(&dns_stopped, &clock_ok()), vec![], "interrupted in DNS");
}
