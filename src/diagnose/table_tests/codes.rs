//! A row for every finding code: the observation that produces it, its severity and its
//! portal code per role; a code without a row fails `every_code_has_a_table_row`.

use super::builder::*;
use crate::catalog::{Role, Target};
use crate::clock::ClockEstimate;
use crate::config::Lang;
use crate::diagnose::remediation::{self, EndpointFacts, Facts};
use crate::diagnose::{Code, Finding, Severity, UsageError, clock_findings, platform};
use crate::platform::{
    Platform, ProxySetting, ProxySettingSource, TimeService, TimeServiceKind, TlsClient, TlsClientSource,
};
use crate::probe::pmtu::{MssRetry, RetryStatus};
use crate::probe::proxy::{BypassClient, BypassReading, ProxyStatus};
use crate::probe::revocation::FetchFailure;
use crate::probe::{DnsStatus, HttpStatus, TcpStatus, TlsStatus};
use crate::trust::TrustVerdict;
use crate::trust::revocation::Answer;

/// One row: the code, what breaks, the observation, its severity on a required endpoint, and
/// its portal code on a usage or registration endpoint (a login endpoint's is LoginError, when
/// the code has one).
struct Row {
    code: Code,
    what: &'static str,
    obs: Obs,
    severity: Severity,
    portal: Option<UsageError>,
}

fn row(code: Code, what: &'static str, obs: Obs, severity: Severity, portal: Option<UsageError>) -> Row {
    Row { code, what, obs, severity, portal }
}

fn endpoint_rows() -> Vec<Row> {
    use Severity::{Error, Info, Warning};
    use UsageError::{CertificateValidationError as Cert, NetworkError as Net, RequestTimedOut as Timeout};
    let h = Obs::healthy;
    let zscaler = |o: Obs| {
        o.trust(TrustVerdict::UnknownIssuer, TrustVerdict::UnknownIssuer).leaf(|l| {
            *l = cert("svc.example.com", "Zscaler Intermediate Root CA", "Zscaler Inc.");
            l.sct_count = 0;
        })
    };
    vec![
        row(Code::DnsNameNotFound, "NXDOMAIN", h().dns(DnsStatus::Nxdomain), Error, Some(Net)),
        row(Code::DnsServerFailure, "SERVFAIL", h().dns(DnsStatus::Servfail), Error, Some(Net)),
        row(Code::DnsServerFailure, "REFUSED", h().dns(DnsStatus::Refused), Error, Some(Net)),
        row(Code::DnsTimeout, "no DNS answer", h().dns(DnsStatus::Timeout), Error, Some(Net)),
        row(Code::DnsNoAddresses, "no A/AAAA record", h().dns(DnsStatus::NoAddresses), Error, Some(Net)),
        row(
            Code::DnsPrivateAddress,
            "a public name resolves to 10.x (it connects)",
            h().addresses(&[("10.1.2.3:443", TcpStatus::Ok)]),
            Warning,
            Some(Net),
        ),
        row(
            Code::DnsSpecialAddress,
            "a fake-IP answer (198.18/15) that does not connect",
            h().addresses(&[("198.18.0.7:443", TcpStatus::Timeout)]),
            Error,
            Some(Net),
        ),
        row(Code::TcpConnectionRefused, "RST to the SYN", h().tcp(TcpStatus::Refused), Error, Some(Net)),
        row(Code::TcpConnectTimeout, "SYN dropped", h().tcp(TcpStatus::Timeout), Error, Some(Net)),
        row(Code::TcpUnreachable, "no route", h().tcp(TcpStatus::Unreachable), Error, Some(Net)),
        row(Code::TcpConnectionReset, "reset on connect", h().tcp(TcpStatus::Reset), Error, Some(Net)),
        row(Code::TcpConnectionReset, "reset after the ClientHello", h().tls(TlsStatus::Reset), Error, Some(Net)),
        row(Code::ProxyUnreachable, "proxy down", h().proxy(ProxyStatus::Unreachable, None), Error, Some(Net)),
        row(
            Code::ProxyAuthenticationRequired,
            "407",
            h().proxy(ProxyStatus::AuthRequired, Some(407)),
            Error,
            Some(Net),
        ),
        row(Code::ProxyDenied, "403 to CONNECT", h().proxy(ProxyStatus::Denied, Some(403)), Error, Some(Net)),
        row(
            Code::ProxyUpstreamFailed,
            "502 to CONNECT",
            h().proxy(ProxyStatus::UpstreamFailed, Some(502)),
            Error,
            Some(Net),
        ),
        row(
            Code::ProxyUpstreamFailed,
            "CONNECT never answered",
            h().proxy(ProxyStatus::Timeout, None),
            Error,
            Some(Net),
        ),
        row(
            Code::HttpProtocolError,
            "the proxy does not speak HTTP",
            h().proxy(ProxyStatus::Error, None),
            Error,
            Some(Net),
        ),
        row(
            Code::ProxyBypassAmbiguous,
            "NO_PROXY read differently by curl and Go",
            {
                let mut o = h().proxy(ProxyStatus::Bypassed, None);
                if let Some(p) = o.0.proxy.as_mut() {
                    p.bypass_readings = vec![
                        BypassReading {
                            client: BypassClient::Probe,
                            bypassed: true,
                            rule: Some(".example.com".into()),
                        },
                        BypassReading { client: BypassClient::Curl, bypassed: true, rule: Some(".example.com".into()) },
                        BypassReading { client: BypassClient::Go, bypassed: false, rule: None },
                    ];
                }
                o.0.tcp = vec![attempt("20.1.1.1:443", TcpStatus::Ok)];
                o
            },
            Info,
            None,
        ),
        row(Code::TlsHandshakeTimeout, "handshake stalls", h().tls(TlsStatus::Timeout), Error, Some(Timeout)),
        row(
            Code::TlsPathMtuBlackHole,
            "handshake stalls, completes with a small MSS",
            h().tls_with(|t| {
                t.status = TlsStatus::Timeout;
                t.trust = None;
                t.bytes_received = Some(0);
                t.mss_retry = Some(MssRetry {
                    mss: 536,
                    status: RetryStatus::Ok,
                    duration_ms: 30,
                    bytes_received: 4000,
                    error: None,
                });
            }),
            Error,
            Some(Timeout),
        ),
        row(
            Code::TlsProtocolVersion,
            "only TLS 1.0",
            h().tls_with(|t| {
                t.status = TlsStatus::HandshakeFailed;
                t.trust = None;
                t.legacy_version = Some("TLS 1.0".into());
            }),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsMalformedCertificate,
            "undecodable certificate",
            h().tls_with(|t| {
                t.status = TlsStatus::HandshakeFailed;
                t.chain[0].parse_error = Some("bad DER".into());
            }),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsHandshakeFailed,
            "handshake_failure alert",
            h().tls_with(|t| {
                t.status = TlsStatus::HandshakeFailed;
                t.trust = None;
                t.error = Some("received fatal alert: HandshakeFailure".into());
            }),
            Error,
            Some(Net),
        ),
        row(Code::TlsInterception, "re-signed by Zscaler (product named)", zscaler(h()), Error, Some(Cert)),
        row(
            Code::TlsInterception,
            "re-signed by a CA only the OS store trusts",
            h().trust(TrustVerdict::UnknownIssuer, TrustVerdict::Trusted)
                .leaf(|l| *l = cert("svc.example.com", "Corp Inspection CA", "Corp")),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsUntrustedRoot,
            "self-signed",
            h().trust(TrustVerdict::UnknownIssuer, TrustVerdict::UnknownIssuer)
                .leaf(|l| *l = cert("svc.example.com", "svc.example.com", "Self"))
                .leaf(|l| l.issuer = l.subject.clone()),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsUntrustedRoot,
            "publicly trusted, the OS store lacks the root",
            h().trust(TrustVerdict::Trusted, TrustVerdict::UnknownIssuer),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsCertificateExpired,
            "expired yesterday",
            h().trust(TrustVerdict::Expired, TrustVerdict::Expired).leaf(|l| l.not_after = at(-DAY)),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsCertificateNotYetValid,
            "valid from tomorrow",
            h().trust(TrustVerdict::NotYetValid, TrustVerdict::NotYetValid).leaf(|l| l.not_before = at(DAY)),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsNameMismatch,
            "certificate for another name",
            h().trust(TrustVerdict::NameMismatch, TrustVerdict::NameMismatch),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsIncompleteChain,
            "the expected issuer's intermediate not sent",
            h().trust(TrustVerdict::UnknownIssuer, TrustVerdict::UnknownIssuer),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsWeakSignature,
            "a trusted chain signed with SHA-1",
            h().leaf(|l| l.signature_algorithm = "sha1WithRSAEncryption".into()),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsWeakSignature,
            "rejected for its SHA-1 signature",
            h().trust(TrustVerdict::UnsupportedSignature, TrustVerdict::UnsupportedSignature)
                .leaf(|l| l.signature_algorithm = "sha1WithRSAEncryption".into()),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsUnexpectedIssuer,
            "publicly trusted, from another CA",
            h().leaf(|l| *l = cert("svc.example.com", "Other Public CA", "Other")),
            Warning,
            Some(Cert),
        ),
        row(
            Code::TlsChainTooLong,
            "too many certificates",
            h().trust(TrustVerdict::ChainTooLong, TrustVerdict::ChainTooLong),
            Error,
            Some(Cert),
        ),
        row(
            Code::TlsCertificateRevoked,
            "the CRL lists the leaf",
            h().revocation(vec![crl_check(fetched(None), Some(crl_answer(true, DAY)))]),
            Error,
            Some(Cert),
        ),
        row(
            Code::RevocationUnreachable,
            "the only CRL URL does not connect",
            h().revocation(vec![crl_check(fetched(Some(FetchFailure::Tcp)), None)]),
            Error,
            Some(Cert),
        ),
        row(
            Code::RevocationResponseInvalid,
            "the CRL URL answers with a web page",
            h().revocation(vec![crl_check(fetched(None), Some(Answer::Invalid("not a CRL".into())))]),
            Error,
            Some(Cert),
        ),
        row(Code::HttpTimeout, "no response head", h().http(HttpStatus::Timeout), Error, Some(Timeout)),
        row(Code::HttpProtocolError, "not HTTP", h().http(HttpStatus::Error), Error, Some(Net)),
        row(Code::HttpUnexpectedStatus, "HTTP 502", h().http_with(|x| x.status_code = Some(502)), Error, Some(Net)),
        row(
            Code::HttpBlockedAtServiceEdge,
            "Azure Front Door's own 403",
            h().spec(|s| s.target = Target::parse("https://login.microsoftonline.com/").unwrap()).http_with(|x| {
                x.status_code = Some(403);
                x.edge_ref = Some("Ref A: 0123ABCD".into());
                x.body_excerpt = Some("The request is blocked.".into());
            }),
            Error,
            Some(Net),
        ),
    ]
}

/// A node-wide row: the code, what is wrong, the node's platform and clock, the severity and
/// the portal code.
type NodeRow = (Code, &'static str, Platform, ClockEstimate, Severity, Option<UsageError>);

/// Node-wide rows: the clock estimate and the node's platform settings.
fn node_rows() -> Vec<NodeRow> {
    use Severity::{Error, Info, Warning};
    let platform = |f: &dyn Fn(&mut Platform)| {
        let mut p = Platform::default();
        f(&mut p);
        p
    };
    let proxy = |source, p: &str| ProxySetting {
        source,
        scope: Some("machine".into()),
        proxy: Some(p.into()),
        bypass: vec![],
        pac_url: None,
        auto_detect: false,
        error: None,
    };
    vec![
        (
            Code::ClockSkew,
            "10 minutes ahead",
            Platform::default(),
            clock_at(Some(600.0)),
            Error,
            Some(UsageError::Unauthorized),
        ),
        (
            Code::ClockSkew,
            "10 minutes behind",
            Platform::default(),
            clock_at(Some(-600.0)),
            Error,
            Some(UsageError::Unauthorized),
        ),
        (
            Code::ClockSkew,
            "one hour ahead: a time-zone step",
            Platform {
                time_service: TimeService {
                    service: TimeServiceKind::W32time,
                    source: Some("dc01.corp".into()),
                    ..TimeService::default()
                },
                ..Platform::default()
            },
            clock_at(Some(3600.0)),
            Error,
            Some(UsageError::Unauthorized),
        ),
        (Code::ClockDrift, "2 minutes ahead", Platform::default(), clock_at(Some(120.0)), Warning, None),
        (Code::ClockUnverified, "no time source answered", Platform::default(), clock_at(None), Warning, None),
        (
            Code::ProxyConfigMismatch,
            "WinHTTP and the environment name different proxies",
            platform(&|p| {
                p.proxies = vec![
                    proxy(ProxySettingSource::Winhttp, "proxy-a:3128"),
                    proxy(ProxySettingSource::Env, "http://proxy-b:8080"),
                ]
            }),
            clock_ok(),
            Warning,
            None,
        ),
        (
            Code::ProxyAutoConfig,
            "a PAC script",
            platform(&|p| {
                let mut s = proxy(ProxySettingSource::Pac, "");
                s.proxy = None;
                s.pac_url = Some("http://wpad.corp/proxy.pac".into());
                p.proxies = vec![s];
            }),
            clock_ok(),
            Info,
            None,
        ),
        (
            Code::TimeSourceUnreliable,
            "W32Time set to NoSync",
            platform(&|p| {
                p.time_service = TimeService {
                    service: TimeServiceKind::W32time,
                    mode: Some("NoSync".into()),
                    ..TimeService::default()
                }
            }),
            clock_ok(),
            Warning,
            None,
        ),
        (
            Code::TlsClientProtocolDisabled,
            "Schannel's TLS 1.2 client switched off",
            platform(&|p| {
                p.tls_client = TlsClient {
                    source: TlsClientSource::Schannel,
                    disabled_protocols: vec!["TLS 1.2".into()],
                    detail: vec![],
                }
            }),
            clock_ok(),
            Error,
            Some(UsageError::NetworkError),
        ),
    ]
}

#[test]
fn every_endpoint_code_severity_and_portal_code_per_role() {
    let clock = clock_ok();
    for r in endpoint_rows() {
        let label = format!("{} ({})", r.code.as_str(), r.what);
        for role in [Role::Usage, Role::Registration, Role::Login] {
            let f = diagnose(&r.obs.clone().role(role), &clock);
            let hit = find(&f, r.code);
            assert_eq!(hit.severity, r.severity, "{label}: severity as {role:?}");
            // Any failure on a login endpoint is LoginError; a code without a portal code has none.
            let portal = if role == Role::Login { r.portal.map(|_| UsageError::LoginError) } else { r.portal };
            assert_eq!(hit.usage_error, portal, "{label}: portal code as {role:?}");
            assert_eq!(hit.endpoint.as_deref(), Some("svc"), "{label}");
            assert!(!hit.message.is_empty(), "{label}");
        }
        // An optional endpoint's errors are warnings.
        if r.severity == Severity::Error {
            let f = diagnose(&r.obs.clone().optional(), &clock);
            assert_eq!(find(&f, r.code).severity, Severity::Warning, "{label}: optional endpoint");
        }
    }
}

/// The node-wide findings of a platform and a clock, as a run gives them.
fn node_findings(platform: &Platform, clock: &ClockEstimate) -> Vec<Finding> {
    let mut f = clock_findings(clock);
    platform::apply(&mut f, platform, None, clock);
    f
}

#[test]
fn every_node_code_severity_and_portal_code() {
    for (code, what, platform, clock, severity, portal) in node_rows() {
        let findings = node_findings(&platform, &clock);
        let hit = find(&findings, code);
        assert_eq!((hit.severity, hit.usage_error), (severity, portal), "{} ({what})", code.as_str());
        assert_eq!(hit.endpoint, None, "{} is node-wide", code.as_str());
    }
}

#[test]
fn a_healthy_endpoint_and_clock_have_no_finding() {
    assert_eq!(diagnose(&Obs::healthy(), &clock_ok()), vec![]);
    assert!(clock_findings(&clock_ok()).is_empty());
    assert!(platform::findings(&Platform::default(), None, &clock_ok()).is_empty());
}

#[test]
fn every_code_has_a_table_row() {
    let mut covered: Vec<Code> = endpoint_rows().iter().map(|r| r.code).collect();
    covered.extend(node_rows().iter().map(|r| r.0));
    let missing: Vec<&str> = Code::ALL.iter().filter(|c| !covered.contains(c)).map(|c| c.as_str()).collect();
    assert!(missing.is_empty(), "codes without a table row in diagnose/table_tests.rs: {missing:?}");
}

/// The `{name}` placeholders of a catalogue entry (summary and steps).
fn template_names(key: &str, lang: Lang) -> Vec<String> {
    let Some((entry, _)) = remediation::entry(key, lang) else {
        panic!("no catalogue entry {key}");
    };
    let names = std::cell::RefCell::new(Vec::new());
    for text in std::iter::once(&entry.summary).chain(&entry.steps) {
        remediation::fill_with(text, |k| {
            names.borrow_mut().push(k.to_string());
            String::new()
        });
    }
    names.into_inner()
}

/// Every row's finding gets its remediation in every language with each placeholder of its
/// catalogue entry given a value from the report's facts (a missing one would be printed as its
/// bare name).
#[test]
fn every_code_gets_its_remediation_with_every_placeholder_filled() {
    let check = |label: &str, findings: &mut Vec<Finding>, facts: &Facts<'_>, code: Code| {
        let f = find(findings, code).clone();
        let (vars, variant) = remediation::placeholders(&f, facts);
        let key = variant.map_or_else(|| code.as_str().to_string(), |v| format!("{}.{v}", code.as_str()));
        for lang in [Lang::En, Lang::Fr, Lang::Zh] {
            let missing: Vec<String> =
                template_names(&key, lang).into_iter().filter(|n| !vars.contains_key(n)).collect();
            assert!(missing.is_empty(), "{label}: {key} ({}) has no value for {missing:?}", lang.as_str());
            remediation::attach(findings, facts, lang);
            let r = &find(findings, code).remediation;
            assert!(!r.summary.is_empty() && !r.steps.is_empty(), "{label}: {key} ({})", lang.as_str());
        }
    };
    let clock = clock_ok();
    for r in endpoint_rows() {
        let o = &r.obs.0;
        let addresses: Vec<String> = o.dns.addresses.iter().map(|a| a.to_string()).collect();
        let host = o.spec.target.host().bare();
        let endpoints = [EndpointFacts {
            name: &o.spec.name,
            host: &host,
            port: o.spec.target.port(),
            dns_server: o.dns.server.as_deref(),
            addresses: &addresses,
        }];
        let facts = Facts { endpoints: &endpoints, platform: &Platform::default(), clock: &clock };
        let mut findings = diagnose(&r.obs, &clock);
        check(&format!("{} ({})", r.code.as_str(), r.what), &mut findings, &facts, r.code);
    }
    for (code, what, platform, clock, ..) in node_rows() {
        let facts = Facts { endpoints: &[], platform: &platform, clock: &clock };
        let mut findings = node_findings(&platform, &clock);
        check(&format!("{} ({what})", code.as_str()), &mut findings, &facts, code);
    }
}

/// A whole-hour skew takes the catalogue's time-zone variant, and ClockSkew's remediation
/// names the node's configured time source first.
#[test]
fn clock_skew_of_a_time_zone_step_gets_the_variant_and_the_time_source() {
    let platform = Platform {
        time_service: TimeService {
            service: TimeServiceKind::W32time,
            source: Some("dc01.corp".into()),
            ..TimeService::default()
        },
        ..Platform::default()
    };
    let clock = clock_at(Some(3600.0));
    let mut f = node_findings(&platform, &clock);
    let facts = Facts { endpoints: &[], platform: &platform, clock: &clock };
    remediation::attach(&mut f, &facts, Lang::En);
    let skew = find(&f, Code::ClockSkew);
    assert_eq!(skew.evidence.get("time_zone_pattern").and_then(|v| v.as_str()), Some("+1 h"));
    let (vars, variant) = remediation::placeholders(skew, &facts);
    assert_eq!((variant, vars.get("zone_offset").map(String::as_str)), (Some("time_zone"), Some("+1 h")));
    assert_eq!(vars.get("offset").map(String::as_str), Some("+3600.0"));
    assert!(
        skew.remediation.steps[0].contains("w32time") && skew.remediation.steps[0].contains("dc01.corp"),
        "{:?}",
        skew.remediation.steps
    );
}
