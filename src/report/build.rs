//! Observations and findings → report DTOs. The verdicts and the exit code are decided in
//! [`crate::diagnose::verdict`]; this file copies them into the report.

use chrono::{DateTime, Utc};

use super::*;
use crate::config::Lang;
use crate::diagnose::remediation::{self, EndpointFacts, Facts};
use crate::diagnose::{Severity, verdict};
use crate::probe::{DnsObservation, EndpointObservation, HttpObservation, TlsObservation};

/// Everything a report is made of.
pub struct BuildInput<'a> {
    /// A random UUID for `run.id`.
    pub run_id: String,
    /// When the run began and ended (the node's clock).
    pub started_at: DateTime<Utc>,
    /// See `started_at`.
    pub finished_at: DateTime<Utc>,
    /// A stop request (Ctrl-C, SIGTERM) ended the run early.
    pub interrupted: bool,
    /// The node's facts (`node`).
    pub node: Node,
    /// The run's configuration as reported (`config`).
    pub config: ConfigInfo,
    /// The clock estimate with its verdict (`diagnose::clock::estimate`).
    pub clock: ClockEstimate,
    /// What each endpoint's stages observed, in probe-set order.
    pub observations: &'a [EndpointObservation],
    /// The interception verdict of each observation (same order), when a chain was seen.
    pub interceptions: Vec<Option<crate::trust::intercept::Interception>>,
    /// The judged revocation checks of each observation (same order), when a chain was seen.
    pub revocations: Vec<Option<RevocationReport>>,
    /// Every finding, endpoints' in stage order then node-wide ones, without remediation yet.
    pub findings: Vec<Finding>,
    /// The language of the findings' remediation.
    pub lang: Lang,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn dns(d: &DnsObservation) -> DnsReport {
    DnsReport {
        status: d.status,
        server: d.server.clone(),
        duration_ms: d.duration_ms,
        addresses: d.addresses.iter().map(|a| a.to_string()).collect(),
        cnames: d.cnames.clone(),
        error: d.error.clone(),
    }
}

fn tls(
    t: &TlsObservation,
    interception: Option<&crate::trust::intercept::Interception>,
    revocation: Option<&RevocationReport>,
) -> TlsReport {
    TlsReport {
        status: t.status,
        duration_ms: t.duration_ms,
        address: t.address.map(|a| a.to_string()),
        version: t.version.clone(),
        cipher_suite: t.cipher_suite.clone(),
        alpn: t.alpn.clone(),
        sni: t.sni.clone(),
        chain: t.chain.clone(),
        trust: t.trust.as_ref().map(|tr| TrustReport {
            public: tr.public,
            system: tr.system,
            public_detail: tr.public_detail.clone(),
            system_detail: tr.system_detail.clone(),
            system_engine: tr.system_engine,
        }),
        interception: interception.cloned(),
        alert: t.alert.clone(),
        legacy_version: t.legacy_version.clone(),
        error: t.error.clone(),
        bytes_received: t.bytes_received,
        mss_retry: t.mss_retry.clone(),
        revocation: revocation.cloned(),
    }
}

fn http(h: &HttpObservation) -> HttpReport {
    HttpReport {
        status: h.status,
        status_code: h.status_code,
        duration_ms: h.duration_ms,
        date: h.date.clone(),
        server: h.server.clone(),
        via: h.via.clone(),
        proxy_headers: h.proxy_headers.clone(),
        edge_ref: h.edge_ref.clone(),
        body_excerpt: h.body_excerpt.clone(),
        error: h.error.clone(),
    }
}

/// Assemble the report.
pub fn build(input: BuildInput<'_>) -> Report {
    let findings = input.findings;
    // The worst severity of each endpoint's findings, indexed once (a lookup per endpoint).
    let mut worst_of: std::collections::HashMap<&str, Severity> = std::collections::HashMap::new();
    for f in &findings {
        if let Some(e) = f.endpoint.as_deref() {
            let w = worst_of.entry(e).or_insert(f.severity);
            *w = (*w).max(f.severity);
        }
    }
    let endpoints = input
        .observations
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let spec = &o.spec;
            let interception = input.interceptions.get(i).and_then(Option::as_ref);
            let skipped = o.skipped || o.local_limit.is_some();
            let verdict = verdict::endpoint(worst_of.get(spec.name.as_str()).copied(), skipped);
            EndpointReport {
                name: spec.name.clone(),
                role: spec.role,
                url: spec.target.to_string(),
                host: spec.target.host().bare(),
                port: spec.target.port(),
                required: spec.required,
                represents: spec.represents.clone(),
                note: spec.note.clone(),
                verdict,
                stage: crate::diagnose::outcome::last_stage(o),
                interrupted: o.interrupted,
                started_ms: o.starts,
                dns: dns(&o.dns),
                tcp: o
                    .tcp
                    .iter()
                    .map(|a| TcpReport {
                        address: a.address.to_string(),
                        status: a.status,
                        duration_ms: a.duration_ms,
                        error: a.error.clone(),
                        peer: a.peer,
                    })
                    .collect(),
                proxy: o.proxy.clone(),
                tls: o.tls.as_ref().map(|t| tls(t, interception, input.revocations.get(i).and_then(Option::as_ref))),
                http: o.http.as_ref().map(http),
                families: o
                    .families
                    .iter()
                    .map(|f| FamilyReport {
                        family: f.family,
                        address: f.address.to_string(),
                        first: f.first,
                        tls: tls(&f.tls, None, None),
                        http: http(&f.http),
                    })
                    .collect(),
            }
        })
        .collect();
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let counts =
        Counts { error: count(Severity::Error), warning: count(Severity::Warning), info: count(Severity::Info) };
    let incomplete = verdict::incomplete(input.interrupted, input.observations);
    let (verdict, exit_code) = verdict::run(&findings, incomplete);
    let usage_errors = verdict::usage_errors(&findings);
    let duration_ms = u64::try_from((input.finished_at - input.started_at).num_milliseconds()).unwrap_or(0);
    let mut report = Report {
        schema_version: SCHEMA_VERSION.into(),
        tool: Tool { name: crate::TOOL_NAME.into(), version: crate::TOOL_VERSION.into() },
        run: RunInfo {
            id: input.run_id,
            started_at: rfc3339(input.started_at),
            finished_at: rfc3339(input.finished_at),
            duration_ms,
            interrupted: input.interrupted,
        },
        node: input.node,
        config: input.config,
        clock: input.clock,
        endpoints,
        findings,
        summary: Summary { verdict, exit_code, usage_errors, counts },
        watch: None,
    };
    attach_remediation(&mut report, input.lang);
    report
}

/// Give every finding its remediation in `lang`, placeholders filled from the report's own
/// facts, and record the language in `config.lang`: when the report is built, and again when a
/// report read from disk is rendered in another language (`render --lang`).
pub fn attach_remediation(report: &mut Report, lang: Lang) {
    let endpoints: Vec<EndpointFacts<'_>> = report
        .endpoints
        .iter()
        .map(|e| EndpointFacts {
            name: &e.name,
            host: &e.host,
            port: e.port,
            dns_server: e.dns.server.as_deref(),
            addresses: &e.dns.addresses,
        })
        .collect();
    let facts = Facts { endpoints: &endpoints, platform: &report.node.platform, clock: &report.clock };
    remediation::attach(&mut report.findings, &facts, lang);
    report.config.lang = lang.as_str().into();
}
