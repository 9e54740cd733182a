//! The verdicts and the exit code: the one place they are decided (report::build only copies
//! them into the report).
//!
//! - An endpoint's verdict is the worst severity of its findings (info counts as ok); an
//!   endpoint the run did not finish probing (interrupted, or stopped by the probe's own
//!   resource limits) is `skipped`.
//! - The run's verdict is the worst severity of all findings; the exit code follows the
//!   monitoring-plugin convention: 0 ok, 1 warnings only, 2 at least one error, 3 unknown (an
//!   incomplete run: interrupted, or an endpoint the probe's own limits kept from being probed).
//! - The portal codes of a run are those of its error findings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Finding, Severity, UsageError};

/// Exit code: no warning, no error.
pub const EXIT_OK: u8 = 0;
/// Exit code: warnings only.
pub const EXIT_WARNING: u8 = 1;
/// Exit code: at least one error finding.
pub const EXIT_ERROR: u8 = 2;
/// Exit code: the run is incomplete, or could not run (UNKNOWN).
pub const EXIT_UNKNOWN: u8 = 3;

/// The worst severity among `findings`; None when there are none.
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}

/// An endpoint's verdict from the worst severity of its findings; `skipped` when the run did not
/// finish probing it.
pub fn endpoint(worst: Option<Severity>, skipped: bool) -> EndpointVerdict {
    match worst {
        _ if skipped => EndpointVerdict::Skipped,
        Some(Severity::Error) => EndpointVerdict::Error,
        Some(Severity::Warning) => EndpointVerdict::Warning,
        Some(Severity::Info) | None => EndpointVerdict::Ok,
    }
}

/// Whether a run is incomplete (exit 3, UNKNOWN in the monitoring-plugin convention): it was
/// interrupted, or the probe's own resource limits (open files) kept an endpoint from being
/// probed.
pub fn incomplete(interrupted: bool, observations: &[crate::probe::EndpointObservation]) -> bool {
    interrupted || observations.iter().any(|o| o.local_limit.is_some())
}

/// The run's verdict and exit code from its findings; `incomplete` (interrupted, or an endpoint
/// not probed for the probe's own limits) makes the exit code [`EXIT_UNKNOWN`] whatever the
/// verdict.
pub fn run(findings: &[Finding], incomplete: bool) -> (Verdict, u8) {
    let (verdict, exit_code) = match worst(findings) {
        Some(Severity::Error) => (Verdict::Error, EXIT_ERROR),
        Some(Severity::Warning) => (Verdict::Warning, EXIT_WARNING),
        _ => (Verdict::Ok, EXIT_OK),
    };
    (verdict, if incomplete { EXIT_UNKNOWN } else { exit_code })
}

/// The portal codes the run's error findings would surface as, sorted, each once.
pub fn usage_errors(findings: &[Finding]) -> Vec<UsageError> {
    let mut usage_errors: Vec<UsageError> =
        findings.iter().filter(|f| f.severity == Severity::Error).filter_map(|f| f.usage_error).collect();
    usage_errors.sort();
    usage_errors.dedup();
    usage_errors
}

/// An endpoint's verdict: the worst severity of its findings (`ok` when it has none or only
/// info findings); `skipped` when the run was stopped before it finished, or the probe's own
/// resource limits (open files) kept it from being probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointVerdict {
    /// No warning or error finding.
    Ok,
    /// At least one warning finding, no error.
    Warning,
    /// At least one error finding.
    Error,
    /// Not probed to the end (interrupted run, or the probe's own resource limits).
    Skipped,
}

impl EndpointVerdict {
    /// The stable label, as in the report (`ok`, `warning`, `error`, `skipped`).
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointVerdict::Ok => "ok",
            EndpointVerdict::Warning => "warning",
            EndpointVerdict::Error => "error",
            EndpointVerdict::Skipped => "skipped",
        }
    }
}

/// The run's verdict: the worst severity among all findings (`ok` when none is a warning or
/// an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No warning or error finding.
    Ok,
    /// At least one warning finding, no error.
    Warning,
    /// At least one error finding.
    Error,
}

impl Verdict {
    /// The stable label, as in the report (`ok`, `warning`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Error => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::diagnose::{Code, Remediation};

    fn finding(severity: Severity, usage_error: Option<UsageError>) -> Finding {
        Finding {
            code: Code::DnsTimeout,
            severity,
            endpoint: Some("e".into()),
            usage_error,
            message: String::new(),
            evidence: Map::new(),
            remediation: Remediation { summary: String::new(), steps: vec![], references: vec![] },
        }
    }

    #[test]
    fn verdicts_and_exit_codes_follow_the_worst_severity() {
        use Severity::*;
        let rows: [(&[Severity], bool, Verdict, u8, EndpointVerdict); 7] = [
            (&[], false, Verdict::Ok, 0, EndpointVerdict::Ok),
            (&[Info], false, Verdict::Ok, 0, EndpointVerdict::Ok),
            (&[Info, Warning], false, Verdict::Warning, 1, EndpointVerdict::Warning),
            (&[Warning, Error, Info], false, Verdict::Error, 2, EndpointVerdict::Error),
            (&[], true, Verdict::Ok, 3, EndpointVerdict::Skipped),
            (&[Warning], true, Verdict::Warning, 3, EndpointVerdict::Skipped),
            (&[Error], true, Verdict::Error, 3, EndpointVerdict::Skipped),
        ];
        for (severities, incomplete, v, code, ep) in rows {
            let f: Vec<Finding> = severities.iter().map(|s| finding(*s, None)).collect();
            assert_eq!(run(&f, incomplete), (v, code), "{severities:?} incomplete={incomplete}");
            assert_eq!(endpoint(worst(&f), incomplete), ep, "{severities:?} skipped={incomplete}");
        }
    }

    #[test]
    fn portal_codes_are_those_of_errors_once_each() {
        let f = vec![
            finding(Severity::Error, Some(UsageError::NetworkError)),
            finding(Severity::Warning, Some(UsageError::LoginError)),
            finding(Severity::Error, Some(UsageError::CertificateValidationError)),
            finding(Severity::Error, Some(UsageError::NetworkError)),
            finding(Severity::Error, None),
        ];
        assert_eq!(usage_errors(&f), vec![UsageError::NetworkError, UsageError::CertificateValidationError]);
    }
}
