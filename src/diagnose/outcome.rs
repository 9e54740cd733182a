//! What a reported endpoint's stages came to: whether each stage failed, which stage failed
//! first, which stage the endpoint's findings blame, why a stage observed nothing, whether a
//! presented certificate was valid at the run's start. Pure
//! functions over the report's endpoint, so that the renderers (the HTML page's sections and
//! waterfall, the Prometheus metrics) read these decisions instead of making them.

use chrono::{DateTime, Utc};

use super::verdict::EndpointVerdict;
use super::{Finding, Severity};
use crate::probe::proxy::ProxyStatus;
use crate::probe::{DnsStatus, EndpointObservation, HttpStatus, Stage, TcpStatus, TlsStatus};
use crate::report::{EndpointReport, HttpReport, TcpReport, TlsReport};
use crate::trust::chain::CertFacts;

/// DNS gave addresses, or there was nothing to resolve (an IP literal).
pub fn dns_ok(status: DnsStatus) -> bool {
    matches!(status, DnsStatus::Ok | DnsStatus::NotNeeded)
}

/// The proxy hop opened a tunnel, or NO_PROXY exempted the endpoint (connected directly).
pub fn proxy_ok(status: ProxyStatus) -> bool {
    matches!(status, ProxyStatus::Ok | ProxyStatus::Bypassed)
}

/// Connecting failed: attempts were made and none connected (false when none was made).
pub fn tcp_failed(attempts: &[TcpReport]) -> bool {
    !attempts.is_empty() && attempts.iter().all(|a| a.status != TcpStatus::Ok)
}

/// What a TLS stage came to, worst first: a handshake that completed is still a failure when
/// the chain was intercepted or a trust store rejects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsOutcome {
    /// No handshake was attempted (an earlier stage failed, or the run was stopped).
    NotAttempted,
    /// The handshake did not complete (its `status` says how).
    HandshakeFailed,
    /// The handshake completed, and the chain is re-signed by an intercepting device.
    Intercepted,
    /// The handshake completed, and the public roots or the OS trust store reject the chain.
    Untrusted,
    /// The handshake completed with a chain both stores trust, not intercepted.
    Ok,
}

impl TlsOutcome {
    /// The stage failed: the handshake did not complete, or its chain is intercepted or untrusted.
    pub fn failed(self) -> bool {
        matches!(self, TlsOutcome::HandshakeFailed | TlsOutcome::Intercepted | TlsOutcome::Untrusted)
    }
}

/// What the TLS stage came to ([`TlsOutcome`]).
pub fn tls_outcome(t: &TlsReport) -> TlsOutcome {
    if t.status == TlsStatus::NotAttempted {
        TlsOutcome::NotAttempted
    } else if t.status != TlsStatus::Ok {
        TlsOutcome::HandshakeFailed
    } else if t.interception.as_ref().is_some_and(|i| i.detected) {
        TlsOutcome::Intercepted
    } else if t.trust.as_ref().is_some_and(|tr| !tr.public.is_trusted() || !tr.system.is_trusted()) {
        TlsOutcome::Untrusted
    } else {
        TlsOutcome::Ok
    }
}

/// The HTTP request was attempted and did not get an answer (timeout, error).
pub fn http_failed(h: &HttpReport) -> bool {
    !matches!(h.status, HttpStatus::Ok | HttpStatus::NotAttempted)
}

/// A warning or error among `findings` (one endpoint's) blames the HTTP answer, e.g. an
/// unexpected status code from a server that did answer.
pub fn http_blamed(findings: &[&Finding]) -> bool {
    findings.iter().any(|f| f.code.stage() == "http" && f.severity != Severity::Info)
}

/// The first stage of the endpoint that failed, in pipeline order: DNS, the proxy hop, TCP,
/// TLS ([`TlsOutcome::failed`]), HTTP. None when every stage that ran succeeded.
pub fn failed_stage(e: &EndpointReport) -> Option<Stage> {
    if !dns_ok(e.dns.status) {
        return Some(Stage::Dns);
    }
    if e.proxy.as_ref().is_some_and(|p| !proxy_ok(p.status)) {
        return Some(Stage::Proxy);
    }
    if tcp_failed(&e.tcp) {
        return Some(Stage::Tcp);
    }
    if e.tls.as_ref().is_some_and(|t| tls_outcome(t).failed()) {
        return Some(Stage::Tls);
    }
    if e.http.as_ref().is_some_and(http_failed) {
        return Some(Stage::Http);
    }
    None
}

/// The stage to look at first (`dns`, `proxy`, `tcp`, `tls`, `http`, as [`super::Code::stage`]
/// names them): the stage of the endpoint's worst warning or error finding (of equally bad
/// ones, the last in report order), else the first stage that failed ([`failed_stage`]).
/// `findings`: the endpoint's own findings, in report order.
pub fn blamed_stage(e: &EndpointReport, findings: &[&Finding]) -> Option<&'static str> {
    findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .max_by_key(|f| f.severity)
        .map(|f| f.code.stage())
        .or_else(|| failed_stage(e).map(Stage::as_str))
}

/// Why a stage of an endpoint observed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReached {
    /// The stage was running when the run was stopped, for `after_ms` milliseconds.
    InFlight {
        /// How long the stage had run, in milliseconds.
        after_ms: u64,
    },
    /// The run was stopped during an earlier stage of the endpoint.
    StoppedEarlier,
    /// The run was stopped before the endpoint started.
    NotStarted,
    /// An earlier stage failed.
    EarlierStageFailed,
}

/// Why `stage` of the endpoint observed nothing, for a stage that did not run (an HTTP or TLS
/// stage `not_attempted`, a TCP or proxy stage without attempts); None when it ran. DNS always
/// runs unless the run was stopped.
pub fn not_reached(e: &EndpointReport, stage: Stage) -> Option<NotReached> {
    match e.interrupted {
        Some(i) if i.stage == stage => Some(NotReached::InFlight { after_ms: i.after_ms }),
        Some(i) if i.stage.order() < stage.order() => Some(NotReached::StoppedEarlier),
        Some(_) => None,
        None if e.verdict == EndpointVerdict::Skipped => Some(NotReached::NotStarted),
        None if stage == Stage::Dns => None,
        None => Some(NotReached::EarlierStageFailed),
    }
}

/// From how many days before its expiry a presented certificate counts as expiring soon.
pub const EXPIRES_SOON_DAYS: i64 = 30;

/// A presented certificate's validity at one time (the run's start, as the page shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertValidity {
    /// `not_after` has passed.
    Expired,
    /// `not_before` is still to come.
    NotYetValid,
    /// Valid, and expiring in fewer than [`EXPIRES_SOON_DAYS`] whole days.
    ExpiresSoon {
        /// Whole days left until `not_after`.
        days: i64,
    },
    /// Valid for [`EXPIRES_SOON_DAYS`] days or more.
    Valid,
}

impl CertValidity {
    /// Outside the validity period: expired or not yet valid.
    pub fn outside(self) -> bool {
        matches!(self, CertValidity::Expired | CertValidity::NotYetValid)
    }
}

/// The certificate's validity at `at`; None when its `not_after` (or, for a time before
/// `not_after`, its `not_before`) is not an RFC 3339 time and nothing can be said.
pub fn cert_validity(c: &CertFacts, at: DateTime<Utc>) -> Option<CertValidity> {
    let parse = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc));
    match (parse(&c.not_before), parse(&c.not_after)) {
        (_, Some(na)) if at > na => Some(CertValidity::Expired),
        (Some(nb), _) if at < nb => Some(CertValidity::NotYetValid),
        (_, Some(na)) => {
            let days = (na - at).num_days();
            Some(if days < EXPIRES_SOON_DAYS { CertValidity::ExpiresSoon { days } } else { CertValidity::Valid })
        }
        (_, None) => None,
    }
}

/// The last stage an endpoint's probe reached and how it ended, as the report's `stage`
/// (`dns: nxdomain`, `tcp: refused`, `tls: handshake_failed`, `http: 200`, `proxy: denied`...):
/// decided once from the observations when the report is built.
pub fn last_stage(o: &EndpointObservation) -> String {
    if let Some(l) = &o.local_limit {
        return format!("{}: probe resource limit", l.stage.as_str());
    }
    if o.skipped {
        return match o.interrupted {
            Some(i) => format!("{}: interrupted", i.stage.as_str()),
            None => "skipped: interrupted".into(),
        };
    }
    let proxied = o.proxy.as_ref().filter(|h| h.status != ProxyStatus::Bypassed);
    match proxied {
        Some(hop) if hop.status != ProxyStatus::Ok => {
            return format!("proxy: {}", hop.status.as_str());
        }
        Some(_) => {}
        None => {
            if !matches!(o.dns.status, DnsStatus::Ok | DnsStatus::NotNeeded) {
                return format!("dns: {}", o.dns.status.as_str());
            }
            if !o.tcp.iter().any(|a| a.status == TcpStatus::Ok) {
                let first = o.tcp.first().map_or("not attempted", |a| a.status.as_str());
                return format!("tcp: {first}");
            }
        }
    }
    match (&o.tls, &o.http) {
        (None, _) => "tcp: ok".into(),
        (Some(t), _) if t.status != TlsStatus::Ok => format!("tls: {}", t.status.as_str()),
        (Some(_), Some(h)) if h.status == HttpStatus::Ok => format!("http: {}", h.status_code.unwrap_or(0)),
        (Some(_), Some(h)) => format!("http: {}", h.status.as_str()),
        (Some(_), None) => "tls: ok".into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::{Value, json};

    /// A healthy direct HTTPS endpoint as a report holds it.
    fn healthy() -> Value {
        json!({"name": "e", "role": "usage", "url": "https://e.test/", "host": "e.test", "port": 443,
            "required": true, "represents": null, "note": null, "verdict": "ok", "stage": "http: 200",
            "interrupted": null,
            "dns": {"status": "ok", "server": null, "duration_ms": 1, "addresses": ["192.0.2.1"], "cnames": [], "error": null},
            "tcp": [{"address": "192.0.2.1:443", "status": "ok", "duration_ms": 1, "error": null, "peer": "endpoint"}],
            "proxy": null,
            "tls": {"status": "ok", "duration_ms": 1, "address": null, "version": null, "cipher_suite": null, "alpn": null,
                "sni": null, "chain": [], "trust": {"public": "trusted", "system": "trusted", "public_detail": null,
                "system_detail": null}, "interception": null, "alert": null, "legacy_version": null, "error": null},
            "http": {"status": "ok", "status_code": 200, "duration_ms": 1, "date": null, "server": null, "via": null,
                "proxy_headers": [], "edge_ref": null, "body_excerpt": null, "error": null}})
    }

    fn endpoint(edit: impl FnOnce(&mut Value)) -> EndpointReport {
        let mut v = healthy();
        edit(&mut v);
        serde_json::from_value(v).unwrap()
    }

    fn finding(code: &str, severity: &str) -> Finding {
        serde_json::from_value(json!({"code": code, "severity": severity, "endpoint": "e", "usage_error": null,
            "message": "m", "evidence": {}, "remediation": {"summary": "s", "steps": []}}))
        .unwrap()
    }

    /// A change to a healthy endpoint's JSON.
    type Edit = Box<dyn FnOnce(&mut Value)>;

    #[test]
    fn the_first_failed_stage_in_pipeline_order() {
        let cases: Vec<(&str, Edit, Option<Stage>)> = vec![
            ("healthy", Box::new(|_| {}), None),
            ("an IP literal needs no DNS", Box::new(|v| v["dns"]["status"] = json!("not_needed")), None),
            ("nxdomain", Box::new(|v| v["dns"]["status"] = json!("nxdomain")), Some(Stage::Dns)),
            (
                "DNS before TCP",
                Box::new(|v| {
                    v["dns"]["status"] = json!("timeout");
                    v["tcp"][0]["status"] = json!("refused");
                }),
                Some(Stage::Dns),
            ),
            ("every attempt refused", Box::new(|v| v["tcp"][0]["status"] = json!("refused")), Some(Stage::Tcp)),
            (
                "one of two attempts connected",
                Box::new(|v| {
                    v["tcp"] = json!([
                        {"address": "192.0.2.1:443", "status": "timeout", "duration_ms": 1, "error": null, "peer": "endpoint"},
                        {"address": "192.0.2.2:443", "status": "ok", "duration_ms": 1, "error": null, "peer": "endpoint"}]);
                }),
                None,
            ),
            ("no attempt (through a proxy)", Box::new(|v| v["tcp"] = json!([])), None),
            ("handshake failed", Box::new(|v| v["tls"]["status"] = json!("handshake_failed")), Some(Stage::Tls)),
            (
                "completed but untrusted by the OS store",
                Box::new(|v| v["tls"]["trust"]["system"] = json!("unknown_issuer")),
                Some(Stage::Tls),
            ),
            (
                "completed but intercepted",
                Box::new(|v| {
                    v["tls"]["interception"] = json!({"detected": true, "product": "Zscaler", "issuer": "Z",
                        "trusted_by_system": true, "evidence": []});
                }),
                Some(Stage::Tls),
            ),
            ("TLS not attempted is not a TLS failure", Box::new(|v| v["tls"]["status"] = json!("not_attempted")), None),
            ("HTTP timeout", Box::new(|v| v["http"]["status"] = json!("timeout")), Some(Stage::Http)),
            ("a 403 is an answer", Box::new(|v| v["http"]["status_code"] = json!(403)), None),
            (
                "tcp:// endpoint",
                Box::new(|v| {
                    v["tls"] = Value::Null;
                    v["http"] = Value::Null;
                }),
                None,
            ),
        ];
        for (what, edit, want) in cases {
            assert_eq!(failed_stage(&endpoint(edit)), want, "{what}");
        }
    }

    #[test]
    fn a_failed_proxy_hop_comes_before_tcp_and_a_bypass_is_no_failure() {
        let hop = |status: &str| {
            json!({"url": "http://proxy.test:3128", "status": status, "http_status": null, "duration_ms": 1,
                "address": null, "authenticate": [], "credentials_sent": false, "reason": null, "server": null,
                "via": null, "body_excerpt": null, "bypass_rule": null, "error": null})
        };
        let denied = endpoint(|v| {
            v["proxy"] = hop("denied");
            v["tcp"][0]["status"] = json!("refused");
        });
        assert_eq!(failed_stage(&denied), Some(Stage::Proxy));
        assert_eq!(failed_stage(&endpoint(|v| v["proxy"] = hop("bypassed"))), None);
        assert!(proxy_ok(ProxyStatus::Ok) && proxy_ok(ProxyStatus::Bypassed) && !proxy_ok(ProxyStatus::AuthRequired));
    }

    #[test]
    fn tls_outcomes_worst_first() {
        let intercepted_and_untrusted = endpoint(|v| {
            v["tls"]["trust"]["public"] = json!("unknown_issuer");
            v["tls"]["interception"] = json!({"detected": true, "product": null, "issuer": "Z",
                "trusted_by_system": false, "evidence": []});
        });
        let t = |e: &EndpointReport| tls_outcome(e.tls.as_ref().unwrap());
        assert_eq!(t(&intercepted_and_untrusted), TlsOutcome::Intercepted);
        assert_eq!(t(&endpoint(|v| v["tls"]["trust"]["public"] = json!("expired"))), TlsOutcome::Untrusted);
        assert_eq!(t(&endpoint(|v| v["tls"]["status"] = json!("timeout"))), TlsOutcome::HandshakeFailed);
        assert_eq!(t(&endpoint(|v| v["tls"]["trust"] = Value::Null)), TlsOutcome::Ok);
        assert!(!TlsOutcome::NotAttempted.failed() && !TlsOutcome::Ok.failed());
    }

    #[test]
    fn the_worst_finding_blames_a_stage_before_the_first_failed_stage() {
        let e = endpoint(|v| v["dns"]["status"] = json!("nxdomain"));
        assert_eq!(blamed_stage(&e, &[]), Some("dns"));
        let (info, warn, err1, err2) = (
            finding("TlsInterception", "info"),
            finding("HttpUnexpectedStatus", "warning"),
            finding("TcpConnectTimeout", "error"),
            finding("TlsUntrustedRoot", "error"),
        );
        // Info never blames; of equally bad findings the last one does.
        assert_eq!(blamed_stage(&e, &[&info]), Some("dns"));
        assert_eq!(blamed_stage(&e, &[&info, &warn]), Some("http"));
        assert_eq!(blamed_stage(&e, &[&err1, &warn, &err2]), Some("tls"));
        assert_eq!(blamed_stage(&endpoint(|_| {}), &[]), None);
        assert!(http_blamed(&[&info, &warn]) && !http_blamed(&[&info, &err1]));
    }

    #[test]
    fn why_a_stage_observed_nothing() {
        let interrupted_in_tls = endpoint(|v| v["interrupted"] = json!({"stage": "tls", "after_ms": 1500}));
        assert_eq!(not_reached(&interrupted_in_tls, Stage::Tls), Some(NotReached::InFlight { after_ms: 1500 }));
        assert_eq!(not_reached(&interrupted_in_tls, Stage::Http), Some(NotReached::StoppedEarlier));
        assert_eq!(not_reached(&interrupted_in_tls, Stage::Dns), None);
        let skipped = endpoint(|v| v["verdict"] = json!("skipped"));
        assert_eq!(not_reached(&skipped, Stage::Dns), Some(NotReached::NotStarted));
        let failed = endpoint(|v| v["verdict"] = json!("error"));
        assert_eq!(not_reached(&failed, Stage::Dns), None);
        assert_eq!(not_reached(&failed, Stage::Http), Some(NotReached::EarlierStageFailed));
    }

    #[test]
    fn certificate_validity_at_the_run() {
        let cert = |nb: &str, na: &str| -> CertFacts {
            serde_json::from_value(json!({"subject": "CN=a", "issuer": "CN=b", "subject_cn": "a", "issuer_cn": "b",
                "issuer_o": null, "serial": "01", "not_before": nb, "not_after": na, "sha256": "", "spki_sha256": "",
                "sans": [], "is_ca": false, "path_len": null, "key": "EC 256", "signature_algorithm": "x",
                "sct_count": 0, "aia": [], "parse_error": null}))
            .unwrap()
        };
        let at = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let v = |nb: &str, na: &str| cert_validity(&cert(nb, na), at);
        assert_eq!(v("2026-01-01T00:00:00Z", "2026-05-31T23:59:59Z"), Some(CertValidity::Expired));
        assert_eq!(v("2026-06-01T00:00:01Z", "2027-01-01T00:00:00Z"), Some(CertValidity::NotYetValid));
        assert_eq!(v("2026-01-01T00:00:00Z", "2026-06-30T23:00:00Z"), Some(CertValidity::ExpiresSoon { days: 29 }));
        assert_eq!(v("2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"), Some(CertValidity::Valid));
        // Unreadable dates: expiry decides alone when it parses; nothing is said without it.
        assert_eq!(v("garbage", "2027-01-01T00:00:00Z"), Some(CertValidity::Valid));
        assert_eq!(v("2027-01-01T00:00:00Z", "garbage"), Some(CertValidity::NotYetValid));
        assert_eq!(v("2026-01-01T00:00:00Z", "garbage"), None);
        assert!(CertValidity::Expired.outside() && !CertValidity::ExpiresSoon { days: 1 }.outside());
    }
}
