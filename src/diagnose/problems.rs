//! The one grouping of findings into problems: findings of the same code and the same root
//! cause are one problem, however many endpoints they were seen on. The text summary, the HTML
//! page and the fleet merge all read this grouping (the fleet merge keys its per-endpoint,
//! per-node entries by [`ProblemKey`]); none of them groups findings its own way. (The
//! Prometheus metrics do not group: one series per finding code, endpoint and severity.)

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{Map, Value};

use super::{Code, Finding, Severity, UsageError};

/// What distinguishes problems of one code: the evidence key that names the root cause
/// (`product`, `issuer`, `proxy`, `servers`, `legacy_version`, `status_code`; see
/// [`super::cause_of`]) and its value as text.
///
/// Ordered by value, then key (the fleet report lists problems of one code and endpoint in
/// this order).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cause {
    /// The value: a string evidence value as is, any other value as JSON text.
    pub value: String,
    /// The evidence key the value comes from.
    pub key: &'static str,
}

impl Cause {
    /// The cause a finding's evidence names, if any.
    pub fn of(evidence: &Map<String, Value>) -> Option<Cause> {
        super::cause_of(evidence).map(|(key, value)| Cause { value, key })
    }
}

impl fmt::Display for Cause {
    /// `key: value`, e.g. `issuer: Zscaler Root CA`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.value)
    }
}

/// What makes findings one problem: the same finding code and the same [`Cause`] (or none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProblemKey {
    /// The finding code's label ([`Code::as_str`]; as written in a report for the fleet merge).
    pub code: String,
    /// The root cause the evidence names, if any.
    pub cause: Option<Cause>,
}

impl ProblemKey {
    /// The key of a finding given by its code label and evidence (the fleet merge reads these
    /// from reports as JSON).
    pub fn new(code: &str, evidence: &Map<String, Value>) -> ProblemKey {
        ProblemKey { code: code.to_string(), cause: Cause::of(evidence) }
    }

    /// The key of a finding.
    pub fn of(f: &Finding) -> ProblemKey {
        ProblemKey::new(f.code.as_str(), &f.evidence)
    }
}

/// Findings of one [`ProblemKey`]: one entry of "What to do".
#[derive(Debug, Clone, PartialEq)]
pub struct Problem<'a> {
    /// The findings' code.
    pub code: Code,
    /// Their root cause, if the evidence names one.
    pub cause: Option<Cause>,
    /// The worst severity among the findings.
    pub severity: Severity,
    /// The findings, never empty: worst severity first, report order within a severity.
    pub findings: Vec<&'a Finding>,
    /// The endpoints the findings are about, each once, in `findings` order (empty: node-wide).
    pub endpoints: Vec<&'a str>,
    /// The portal codes the findings of the problem's own severity surface as, each once, in
    /// `findings` order: a warning's code (an optional endpoint) is not listed under an error,
    /// as the run's "the portal would show" lists only errors' codes.
    pub usage_errors: Vec<UsageError>,
}

impl<'a> Problem<'a> {
    /// The problem's first (worst, earliest) finding: its message and remediation speak for
    /// the problem.
    pub fn first(&self) -> &'a Finding {
        self.findings[0]
    }
}

/// Group findings into problems by [`ProblemKey`]. Problems come worst severity first, and in
/// the order their first finding appears in `findings` within a severity. Linear in the
/// number of findings (one hash lookup each).
pub fn group(findings: &[Finding]) -> Vec<Problem<'_>> {
    let mut out: Vec<Problem<'_>> = Vec::new();
    let mut index: HashMap<(Code, Option<Cause>), usize> = HashMap::new();
    for f in findings {
        let cause = Cause::of(&f.evidence);
        match index.get(&(f.code, cause.clone())) {
            Some(&i) => {
                let p = &mut out[i];
                p.severity = p.severity.max(f.severity);
                p.findings.push(f);
            }
            None => {
                index.insert((f.code, cause.clone()), out.len());
                out.push(Problem {
                    code: f.code,
                    cause,
                    severity: f.severity,
                    findings: vec![f],
                    endpoints: Vec::new(),
                    usage_errors: Vec::new(),
                });
            }
        }
    }
    // Errors first, then warnings, then info; first-seen order within a severity (stable sorts).
    out.sort_by_key(|p| std::cmp::Reverse(p.severity));
    for p in &mut out {
        p.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        let mut seen: HashSet<&str> = HashSet::new();
        for f in &p.findings {
            if let Some(e) = f.endpoint.as_deref()
                && seen.insert(e)
            {
                p.endpoints.push(e);
            }
            if let Some(u) = f.usage_error
                && f.severity == p.severity
                && !p.usage_errors.contains(&u)
            {
                p.usage_errors.push(u);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    /// A finding as a report holds it (built from JSON, so the test does not depend on how
    /// diagnose fills the remediation).
    fn finding(code: &str, severity: &str, endpoint: Option<&str>, usage: Option<&str>, evidence: Value) -> Finding {
        serde_json::from_value(json!({
            "code": code, "severity": severity, "endpoint": endpoint, "usage_error": usage,
            "message": format!("{code} on {}", endpoint.unwrap_or("node")), "evidence": evidence,
            "remediation": {"summary": "s", "steps": []},
        }))
        .unwrap()
    }

    fn shape(problems: &[Problem<'_>]) -> Vec<(String, Option<String>, Severity, Vec<String>)> {
        problems
            .iter()
            .map(|p| {
                let eps = p.endpoints.iter().map(|e| e.to_string()).collect();
                (p.code.as_str().to_string(), p.cause.as_ref().map(Cause::to_string), p.severity, eps)
            })
            .collect()
    }

    #[test]
    fn one_code_and_cause_is_one_problem_whatever_the_severities() {
        let dns = json!({"servers": "10.0.0.53:53", "host": "x"});
        let findings = vec![
            finding("DnsNameNotFound", "warning", Some("graph"), Some("NetworkError"), dns.clone()),
            finding("DnsNameNotFound", "error", Some("login"), Some("LoginError"), dns.clone()),
            finding("DnsNameNotFound", "warning", Some("graph"), Some("NetworkError"), dns),
            // The same code with another cause is another problem.
            finding("DnsNameNotFound", "error", Some("usage"), Some("NetworkError"), json!({"servers": "8.8.8.8:53"})),
        ];
        let p = group(&findings);
        assert_eq!(
            shape(&p),
            vec![
                (
                    "DnsNameNotFound".into(),
                    Some("servers: 10.0.0.53:53".into()),
                    Severity::Error,
                    vec!["login".into(), "graph".into()]
                ),
                ("DnsNameNotFound".into(), Some("servers: 8.8.8.8:53".into()), Severity::Error, vec!["usage".into()]),
            ]
        );
        // The worst finding speaks for the problem; the others follow in report order.
        assert_eq!(p[0].first().endpoint.as_deref(), Some("login"));
        assert_eq!(p[0].findings.len(), 3);
        // Its portal codes are those of its errors: the warnings' NetworkError (optional
        // endpoints) is not what the portal would show for this problem.
        assert_eq!(p[0].usage_errors, vec![UsageError::LoginError]);
    }

    #[test]
    fn worst_first_then_first_seen_and_node_wide_findings_have_no_endpoint() {
        let findings = vec![
            finding("ClockUnverified", "warning", None, None, json!({})),
            finding("TlsInterception", "info", Some("a"), None, json!({"product": "Zscaler", "issuer": "Z"})),
            finding("TcpConnectTimeout", "error", Some("b"), Some("NetworkError"), json!({})),
            finding(
                "TlsInterception",
                "error",
                Some("c"),
                Some("CertificateValidationError"),
                json!({"product": "Zscaler"}),
            ),
            finding("HttpUnexpectedStatus", "error", Some("d"), Some("NetworkError"), json!({"status_code": 403})),
        ];
        let p = group(&findings);
        let order: Vec<(&str, Severity)> = p.iter().map(|p| (p.code.as_str(), p.severity)).collect();
        assert_eq!(
            order,
            [
                // Interception was first seen (as info) before the timeout: it leads the errors.
                ("TlsInterception", Severity::Error),
                ("TcpConnectTimeout", Severity::Error),
                ("HttpUnexpectedStatus", Severity::Error),
                ("ClockUnverified", Severity::Warning),
            ]
        );
        assert_eq!(p[0].cause, Some(Cause { value: "Zscaler".into(), key: "product" }));
        assert_eq!(p[0].endpoints, ["c", "a"]);
        assert_eq!(p[1].cause, None);
        // A non-string cause is its JSON text.
        assert_eq!(p[2].cause.as_ref().map(|c| c.value.as_str()), Some("403"));
        assert!(p[3].endpoints.is_empty() && p[3].usage_errors.is_empty());
    }

    #[test]
    fn the_key_reads_the_same_from_a_finding_and_from_report_json() {
        let f = finding("TlsUntrustedRoot", "error", Some("a"), None, json!({"issuer": "Corp CA", "proxy": "p:3128"}));
        let v = serde_json::to_value(&f).unwrap();
        let from_json = ProblemKey::new(v["code"].as_str().unwrap(), v["evidence"].as_object().unwrap());
        assert_eq!(ProblemKey::of(&f), from_json);
        assert_eq!(
            from_json,
            ProblemKey {
                code: "TlsUntrustedRoot".into(),
                cause: Some(Cause { value: "Corp CA".into(), key: "issuer" })
            }
        );
        assert!(group(&[]).is_empty());
    }
}
