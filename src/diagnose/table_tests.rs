//! Table-driven tests of diagnose: for every finding code, the observation that produces it (a
//! healthy endpoint broken in one stage with the builder [`Obs`]), its severity, and its portal
//! code per role; then each root-cause rule. A code without a row fails
//! `every_code_has_a_table_row`. Milliseconds: `cargo test --lib diagnose`.

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::*;
use crate::catalog::{EndpointSpec, Reachable, Role, Target};
use crate::clock::{ClockEstimate, ClockSource, SourceKind as ClockSourceKind};
use crate::platform::{
    Platform, ProxySetting, ProxySettingSource, TimeService, TimeServiceKind, TlsClient, TlsClientSource,
};
use crate::probe::pmtu::{MssRetry, RetryStatus};
use crate::probe::proxy::{BypassClient, BypassReading, ProxyHop, ProxyStatus};
use crate::probe::revocation::{CheckObservation, FetchFailure, Fetched, RevocationObservation, Via};
use crate::probe::{
    DnsObservation, DnsStatus, HttpObservation, HttpStatus, Peer, TcpAttempt, TcpStatus, TlsObservation, TlsStatus,
    TrustObservation,
};
use crate::trust::TrustVerdict;
use crate::trust::chain::CertFacts;
use crate::trust::revocation::{Answer, Revoked, SourceKind};

/// The node's time at the start of the test run.
fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z").unwrap().with_timezone(&Utc)
}

fn at(offset_seconds: i64) -> String {
    (now() + chrono::Duration::seconds(offset_seconds)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

const DAY: i64 = 86_400;

/// A certificate valid from 30 days ago to 300 days ahead, signed with SHA-256, with two SCTs.
fn cert(subject_cn: &str, issuer_cn: &str, issuer_o: &str) -> CertFacts {
    CertFacts {
        subject: format!("CN={subject_cn}"),
        issuer: format!("CN={issuer_cn}, O={issuer_o}"),
        subject_cn: Some(subject_cn.into()),
        issuer_cn: Some(issuer_cn.into()),
        issuer_o: Some(issuer_o.into()),
        issuer_orgs: vec![issuer_o.into()],
        serial: "01".into(),
        not_before: at(-30 * DAY),
        not_after: at(300 * DAY),
        sha256: "aa".repeat(32),
        spki_sha256: "bb".repeat(32),
        sans: vec![subject_cn.into()],
        is_ca: false,
        path_len: None,
        key: "EC 256".into(),
        signature_algorithm: "sha256WithRSAEncryption".into(),
        sct_count: 2,
        aia: vec![],
        parse_error: None,
    }
}

fn clock_at(offset: Option<f64>) -> ClockEstimate {
    let sources = offset
        .map(|o| ClockSource {
            kind: ClockSourceKind::Ntp,
            server: "ntp.example".into(),
            offset_seconds: Some(o),
            uncertainty_seconds: Some(0.05),
            rtt_ms: Some(10),
            stratum: Some(2),
            outlier: false,
            error: None,
        })
        .into_iter()
        .collect();
    super::clock::estimate(sources)
}

/// A clock in step: no clock finding, dates judged as they are.
fn clock_ok() -> ClockEstimate {
    clock_at(Some(0.2))
}

/// An endpoint observation, healthy unless broken: `https://svc.example.com/` (usage, required,
/// public, certificates from "Good CA"), resolved to 20.1.1.1, connected, TLS 1.3 with a chain
/// both stores trust, HTTP 200.
#[derive(Clone)]
struct Obs(EndpointObservation);

impl Obs {
    fn healthy() -> Obs {
        let spec = EndpointSpec {
            name: "svc".into(),
            role: Role::Usage,
            target: Target::parse("https://svc.example.com/").unwrap(),
            reachable: Reachable::AnyBelow500,
            expected_issuers: vec!["Good CA".into()],
            required: true,
            public: true,
            represents: None,
            note: None,
        };
        let address: IpAddr = "20.1.1.1".parse().unwrap();
        Obs(EndpointObservation {
            spec: Arc::new(spec),
            skipped: false,
            interrupted: None,
            starts: Default::default(),
            dns: DnsObservation {
                status: DnsStatus::Ok,
                server: Some("10.0.0.53:53".into()),
                duration_ms: 3,
                addresses: vec![address],
                cnames: vec![],
                error: None,
                local: false,
            },
            tcp: vec![attempt("20.1.1.1:443", TcpStatus::Ok)],
            proxy: None,
            tls: Some(TlsObservation {
                status: TlsStatus::Ok,
                duration_ms: 20,
                address: Some("20.1.1.1:443".parse().unwrap()),
                version: Some("TLS 1.3".into()),
                cipher_suite: Some("TLS13_AES_256_GCM_SHA384".into()),
                alpn: None,
                sni: Some("svc.example.com".into()),
                chain: vec![cert("svc.example.com", "Good CA", "Good Org")],
                trust: Some(TrustObservation {
                    public: TrustVerdict::Trusted,
                    system: TrustVerdict::Trusted,
                    public_detail: None,
                    system_detail: None,
                    system_anchor: None,
                }),
                alert: None,
                legacy_version: None,
                version_refused: false,
                error: None,
                bytes_received: Some(4000),
                bytes_sent: Some(300),
                mss_retry: None,
                presented: vec![],
                revocation: None,
            }),
            http: Some(HttpObservation {
                status: HttpStatus::Ok,
                status_code: Some(200),
                duration_ms: 10,
                date: None,
                server: Some("svc".into()),
                via: None,
                proxy_headers: vec![],
                edge_ref: None,
                body_excerpt: None,
                error: None,
                sent_at: None,
                received_at: None,
            }),
            local_limit: None,
            address_order: None,
            families: vec![],
        })
    }

    fn spec(mut self, f: impl FnOnce(&mut EndpointSpec)) -> Obs {
        f(Arc::make_mut(&mut self.0.spec));
        self
    }

    fn role(self, role: Role) -> Obs {
        self.spec(|s| s.role = role)
    }

    fn optional(self) -> Obs {
        self.spec(|s| s.required = false)
    }

    /// The name does not resolve: nothing after DNS.
    fn dns(mut self, status: DnsStatus) -> Obs {
        self.0.dns.status = status;
        self.0.dns.addresses.clear();
        self.0.dns.error = Some(format!("{status:?}"));
        self.0.tcp.clear();
        self.after_failure_at(Stage::Dns)
    }

    /// The name resolves to these addresses, each attempted with its status.
    fn addresses(mut self, attempts: &[(&str, TcpStatus)]) -> Obs {
        self.0.tcp = attempts.iter().map(|(a, s)| attempt(a, *s)).collect();
        self.0.dns.addresses = self.0.tcp.iter().map(|a| a.address.ip()).collect();
        if !self.0.tcp.iter().any(|a| a.status == TcpStatus::Ok) {
            return self.after_failure_at(Stage::Tcp);
        }
        self
    }

    /// Every TCP attempt ends with `status`.
    fn tcp(self, status: TcpStatus) -> Obs {
        self.addresses(&[("20.1.1.1:443", status)])
    }

    /// The connection goes through a proxy whose CONNECT ends with `status`.
    fn proxy(mut self, status: ProxyStatus, http_status: Option<u16>) -> Obs {
        self.0.proxy = Some(ProxyHop {
            url: "http://proxy.corp:3128".into(),
            status,
            http_status,
            duration_ms: 5,
            address: Some("10.0.0.8:3128".parse().unwrap()),
            authenticate: if http_status == Some(407) { vec!["Negotiate".into()] } else { vec![] },
            credentials_sent: false,
            reason: http_status.map(|_| "Refused".into()),
            server: None,
            via: None,
            body_excerpt: None,
            bypass_rule: None,
            bypass_readings: vec![],
            error: None,
        });
        self.0.tcp = vec![TcpAttempt { peer: Peer::Proxy, ..attempt("10.0.0.8:3128", TcpStatus::Ok) }];
        if matches!(status, ProxyStatus::Ok | ProxyStatus::Bypassed) {
            self
        } else {
            self.after_failure_at(Stage::Proxy)
        }
    }

    fn tls_with(mut self, f: impl FnOnce(&mut TlsObservation)) -> Obs {
        if let Some(t) = self.0.tls.as_mut() {
            f(t);
            if t.status != TlsStatus::Ok {
                self.0.http = None;
            }
        }
        self
    }

    /// The handshake ends with `status`.
    fn tls(self, status: TlsStatus) -> Obs {
        self.tls_with(|t| {
            t.status = status;
            if status != TlsStatus::Ok {
                t.trust = None;
                t.version = None;
            }
        })
    }

    /// The chain's verdicts by the public anchors and by the OS store.
    fn trust(self, public: TrustVerdict, system: TrustVerdict) -> Obs {
        self.tls_with(|t| {
            if let Some(tr) = t.trust.as_mut() {
                tr.public = public;
                tr.system = system;
            }
        })
    }

    fn leaf(self, f: impl FnOnce(&mut CertFacts)) -> Obs {
        self.tls_with(|t| f(&mut t.chain[0]))
    }

    fn revocation(self, checks: Vec<CheckObservation>) -> Obs {
        self.tls_with(|t| t.revocation = Some(RevocationObservation { checks, ..Default::default() }))
    }

    fn http_with(mut self, f: impl FnOnce(&mut HttpObservation)) -> Obs {
        if let Some(h) = self.0.http.as_mut() {
            f(h);
        }
        self
    }

    fn http(self, status: HttpStatus) -> Obs {
        self.http_with(|h| {
            h.status = status;
            h.status_code = None;
            h.error = (status == HttpStatus::Error).then(|| "the server closed the connection".into());
        })
    }

    fn after_failure_at(mut self, stage: Stage) -> Obs {
        if stage.order() <= Stage::Tls.order() {
            self.0.tls = None;
        }
        self.0.http = None;
        self
    }
}

fn attempt(address: &str, status: TcpStatus) -> TcpAttempt {
    TcpAttempt {
        address: address.parse().unwrap(),
        status,
        duration_ms: 7,
        error: None,
        peer: Peer::Endpoint,
        local: false,
    }
}

fn crl_check(fetched: Fetched, answer: Option<Answer>) -> CheckObservation {
    CheckObservation {
        certificate: 0,
        kind: SourceKind::Crl,
        url: "http://crl.example.com/good.crl".into(),
        fetch: Some(Arc::new(fetched)),
        answer,
    }
}

fn fetched(failure: Option<FetchFailure>) -> Fetched {
    Fetched {
        via: Via::Direct,
        failure,
        http_status: failure.is_none().then_some(200),
        content_type: Some("application/pkix-crl".into()),
        body: vec![],
        duration_ms: 4,
        detail: failure.map(|_| "connection refused".into()),
        unusable: false,
        excerpt: None,
        redirects: vec![],
        received: 100,
    }
}

fn crl_answer(revoked: bool, next_update_in: i64) -> Answer {
    Answer::Status {
        revoked: revoked.then(|| Revoked { at: at(-DAY), reason: Some("KeyCompromise".into()) }),
        unknown: false,
        this_update: now() - chrono::Duration::seconds(DAY),
        next_update: Some(now() + chrono::Duration::seconds(next_update_in)),
        signer: "issuer".into(),
    }
}

fn diagnose(o: &Obs, clock: &ClockEstimate) -> Vec<Finding> {
    endpoint(&o.0, now(), clock).findings
}

fn find(findings: &[Finding], code: Code) -> &Finding {
    findings.iter().find(|f| f.code == code).unwrap_or_else(|| {
        panic!("no {}; got {:?}", code.as_str(), findings.iter().map(|f| (f.code, f.severity)).collect::<Vec<_>>())
    })
}

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

/// A node-wide row: the code, what is wrong, the findings, the severity and the portal code.
type NodeRow = (Code, &'static str, Vec<Finding>, Severity, Option<UsageError>);

/// Node-wide rows: the clock estimate and the node's platform settings.
fn node_rows() -> Vec<NodeRow> {
    use Severity::{Error, Info, Warning};
    let platform = |f: &dyn Fn(&mut Platform)| {
        let mut p = Platform::default();
        f(&mut p);
        platform::findings(&p, None, &clock_ok())
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
            clock_findings(&clock_at(Some(600.0))),
            Error,
            Some(UsageError::Unauthorized),
        ),
        (
            Code::ClockSkew,
            "10 minutes behind",
            clock_findings(&clock_at(Some(-600.0))),
            Error,
            Some(UsageError::Unauthorized),
        ),
        (Code::ClockDrift, "2 minutes ahead", clock_findings(&clock_at(Some(120.0))), Warning, None),
        (Code::ClockUnverified, "no time source answered", clock_findings(&clock_at(None)), Warning, None),
        (
            Code::ProxyConfigMismatch,
            "WinHTTP and the environment name different proxies",
            platform(&|p| {
                p.proxies = vec![
                    proxy(ProxySettingSource::Winhttp, "proxy-a:3128"),
                    proxy(ProxySettingSource::Env, "http://proxy-b:8080"),
                ]
            }),
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

#[test]
fn every_node_code_severity_and_portal_code() {
    for (code, what, findings, severity, portal) in node_rows() {
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
