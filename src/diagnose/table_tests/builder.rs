//! The observation builder: a healthy endpoint, broken in one stage at a time, and the
//! helpers the tables share (certificates, clocks, revocation checks).

use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::super::{Code, Finding, endpoint};
use crate::catalog::{EndpointSpec, Reachable, Role, Target};
use crate::clock::{ClockEstimate, ClockSource, SourceKind as ClockSourceKind};
use crate::probe::families::AddressOrder;
use crate::probe::order::{Candidate, PolicySource};
use crate::probe::proxy::{ProxyHop, ProxyStatus};
use crate::probe::revocation::{CheckObservation, FetchFailure, Fetched, RevocationObservation, Via};
use crate::probe::{
    DnsObservation, DnsStatus, HttpObservation, HttpStatus, Peer, TcpAttempt, TcpStatus, TlsObservation, TlsStatus,
    TrustObservation,
};
use crate::probe::{EndpointObservation, Stage};
use crate::trust::TrustVerdict;
use crate::trust::chain::CertFacts;
use crate::trust::revocation::{Answer, Revoked, SourceKind};

/// The node's time at the start of the test run.
pub(super) fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z").unwrap().with_timezone(&Utc)
}

pub(super) fn at(offset_seconds: i64) -> String {
    (now() + chrono::Duration::seconds(offset_seconds)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(super) const DAY: i64 = 86_400;

/// A certificate valid from 30 days ago to 300 days ahead, signed with SHA-256, with two SCTs.
pub(super) fn cert(subject_cn: &str, issuer_cn: &str, issuer_o: &str) -> CertFacts {
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

pub(super) fn clock_at(offset: Option<f64>) -> ClockEstimate {
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
    crate::diagnose::clock::estimate(sources)
}

/// A clock in step: no clock finding, dates judged as they are.
pub(super) fn clock_ok() -> ClockEstimate {
    clock_at(Some(0.2))
}

/// An endpoint observation, healthy unless broken: `https://svc.example.com/` (usage, required,
/// public, certificates from "Good CA"), resolved to 20.1.1.1, connected, TLS 1.3 with a chain
/// both stores trust, HTTP 200.
#[derive(Clone)]
pub(super) struct Obs(pub(super) EndpointObservation);

impl Obs {
    pub(super) fn healthy() -> Obs {
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
                    system_engine: crate::trust::TrustEngine::Webpki,
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

    pub(super) fn spec(mut self, f: impl FnOnce(&mut EndpointSpec)) -> Obs {
        f(Arc::make_mut(&mut self.0.spec));
        self
    }

    pub(super) fn role(self, role: Role) -> Obs {
        self.spec(|s| s.role = role)
    }

    pub(super) fn optional(self) -> Obs {
        self.spec(|s| s.required = false)
    }

    /// The name does not resolve: nothing after DNS.
    pub(super) fn dns(mut self, status: DnsStatus) -> Obs {
        self.0.dns.status = status;
        self.0.dns.addresses.clear();
        self.0.dns.error = Some(format!("{status:?}"));
        self.0.tcp.clear();
        self.after_failure_at(Stage::Dns)
    }

    /// The name resolves to these addresses, each attempted with its status.
    pub(super) fn addresses(mut self, attempts: &[(&str, TcpStatus)]) -> Obs {
        self.0.tcp = attempts.iter().map(|(a, s)| attempt(a, *s)).collect();
        self.0.dns.addresses = self.0.tcp.iter().map(|a| a.address.ip()).collect();
        if !self.0.tcp.iter().any(|a| a.status == TcpStatus::Ok) {
            return self.after_failure_at(Stage::Tcp);
        }
        self
    }

    /// The node tries the destinations in this order (RFC 6724 default policy), each with the
    /// source address it would use: `(destination, source)`.
    pub(super) fn tries(mut self, order: &[(&str, &str)]) -> Obs {
        self.0.address_order = Some(AddressOrder {
            policy: PolicySource::Rfc6724Default,
            addresses: order
                .iter()
                .map(|(d, s)| Candidate { destination: d.parse().unwrap(), source: Some(s.parse().unwrap()) })
                .collect(),
        });
        self
    }

    /// Every TCP attempt ends with `status`.
    pub(super) fn tcp(self, status: TcpStatus) -> Obs {
        self.addresses(&[("20.1.1.1:443", status)])
    }

    /// The connection goes through a proxy whose CONNECT ends with `status`.
    pub(super) fn proxy(mut self, status: ProxyStatus, http_status: Option<u16>) -> Obs {
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

    pub(super) fn tls_with(mut self, f: impl FnOnce(&mut TlsObservation)) -> Obs {
        if let Some(t) = self.0.tls.as_mut() {
            f(t);
            if t.status != TlsStatus::Ok {
                self.0.http = None;
            }
        }
        self
    }

    /// The handshake ends with `status`.
    pub(super) fn tls(self, status: TlsStatus) -> Obs {
        self.tls_with(|t| {
            t.status = status;
            if status != TlsStatus::Ok {
                t.trust = None;
                t.version = None;
            }
        })
    }

    /// The chain's verdicts by the public anchors and by the OS store.
    pub(super) fn trust(self, public: TrustVerdict, system: TrustVerdict) -> Obs {
        self.tls_with(|t| {
            if let Some(tr) = t.trust.as_mut() {
                tr.public = public;
                tr.system = system;
            }
        })
    }

    pub(super) fn leaf(self, f: impl FnOnce(&mut CertFacts)) -> Obs {
        self.tls_with(|t| f(&mut t.chain[0]))
    }

    pub(super) fn revocation(self, checks: Vec<CheckObservation>) -> Obs {
        self.tls_with(|t| t.revocation = Some(RevocationObservation { checks, ..Default::default() }))
    }

    pub(super) fn http_with(mut self, f: impl FnOnce(&mut HttpObservation)) -> Obs {
        if let Some(h) = self.0.http.as_mut() {
            f(h);
        }
        self
    }

    pub(super) fn http(self, status: HttpStatus) -> Obs {
        self.http_with(|h| {
            h.status = status;
            h.status_code = None;
            h.error = (status == HttpStatus::Error).then(|| "the server closed the connection".into());
        })
    }

    pub(super) fn after_failure_at(mut self, stage: Stage) -> Obs {
        if stage.order() <= Stage::Tls.order() {
            self.0.tls = None;
        }
        self.0.http = None;
        self
    }
}

pub(super) fn attempt(address: &str, status: TcpStatus) -> TcpAttempt {
    TcpAttempt {
        address: address.parse().unwrap(),
        status,
        duration_ms: 7,
        error: None,
        peer: Peer::Endpoint,
        local: false,
    }
}

pub(super) fn crl_check(fetched: Fetched, answer: Option<Answer>) -> CheckObservation {
    CheckObservation {
        certificate: 0,
        kind: SourceKind::Crl,
        url: "http://crl.example.com/good.crl".into(),
        fetch: Some(Arc::new(fetched)),
        answer,
    }
}

pub(super) fn fetched(failure: Option<FetchFailure>) -> Fetched {
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

pub(super) fn crl_answer(revoked: bool, next_update_in: i64) -> Answer {
    Answer::Status {
        revoked: revoked.then(|| Revoked { at: at(-DAY), reason: Some("KeyCompromise".into()) }),
        unknown: false,
        this_update: now() - chrono::Duration::seconds(DAY),
        next_update: Some(now() + chrono::Duration::seconds(next_update_in)),
        signer: "issuer".into(),
    }
}

pub(super) fn diagnose(o: &Obs, clock: &ClockEstimate) -> Vec<Finding> {
    endpoint(&o.0, now(), clock).findings
}

pub(super) fn find(findings: &[Finding], code: Code) -> &Finding {
    findings.iter().find(|f| f.code == code).unwrap_or_else(|| {
        panic!("no {}; got {:?}", code.as_str(), findings.iter().map(|f| (f.code, f.severity)).collect::<Vec<_>>())
    })
}
