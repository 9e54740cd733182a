//! Observations → findings → portal codes. No I/O here: everything decided from what the
//! stages recorded, so every finding can be reproduced from the report's evidence.
//!
//! One file per stage, each with the rules of its codes: `dns`, `tcp`, `proxy`, `tls`
//! (protocol, interception, chain), `http`, [`clock`]; then the amendments that look across
//! stages (`families`: address families and path-MTU black holes; [`revocation`]) and the
//! node-wide [`platform`] findings. This file holds the finding type, the per-endpoint context
//! and the driver [`endpoint`] that runs the stages in order.
//!
//! Where each decision lives: a code's stage is in [`codes`] (`Code::stage`), its rule and
//! severity in that stage's file, its portal code in [`codes::usage_error`]; the clock's
//! thresholds and verdict in [`clock`]; the endpoint and run verdicts and the exit code in
//! [`verdict`]; the grouping of findings into problems in [`problems`]; which stage failed or was
//! not reached, over a report's endpoint, in [`outcome`]; the remediation text, attached once per report in the report's language, in
//! [`remediation`]. `table_tests` has a row for every code and every root-cause rule.

pub mod clock;
pub mod codes;
mod dns;
pub mod explain;
mod families;
mod http;
pub mod outcome;
pub mod platform;
pub mod problems;
mod proxy;
pub mod remediation;
pub mod revocation;
pub mod special;
#[cfg(test)]
mod table_tests;
mod tcp;
mod tls;
pub mod verdict;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use clock::findings as clock_findings;
pub use codes::{Code, Severity, UsageError, usage_error};
pub use dns::is_private;
pub use remediation::Remediation;

use crate::catalog::Role;
use crate::clock::ClockEstimate;
use crate::probe::proxy::ProxyStatus;
use crate::probe::{EndpointObservation, Stage};
use crate::trust::intercept::Interception;
use chrono::{DateTime, Utc};

/// What one observation means, for whom, and what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// What was found (a stable name).
    pub code: Code,
    /// How bad it is: a failure on a required endpoint is an error, on an optional one a warning.
    pub severity: Severity,
    /// The endpoint's name, or null for node-wide findings (clock, platform).
    pub endpoint: Option<String>,
    /// The portal code this would surface as (null for findings the portal never shows, e.g.
    /// ClockDrift); on a login endpoint always LoginError.
    pub usage_error: Option<UsageError>,
    /// What was seen, in one English sentence with the facts (host, addresses, status, times).
    pub message: String,
    /// The observations the finding rests on, by name (e.g. `addresses`, `status_code`,
    /// `issuer`, `root_cause`): enough to check the finding from the report alone.
    pub evidence: Map<String, Value>,
    /// What to do about it, in the report's language (`config.lang`).
    pub remediation: Remediation,
}

struct Ctx<'a> {
    obs: &'a EndpointObservation,
    now: DateTime<Utc>,
    clock: &'a ClockEstimate,
    out: Vec<Finding>,
    interception: Option<Interception>,
}

impl Ctx<'_> {
    /// The time by the reference clocks: the node's time less its measured offset.
    fn reference_now(&self) -> DateTime<Utc> {
        let offset = self.clock.offset_seconds.unwrap_or(0.0);
        self.now - chrono::Duration::milliseconds((offset * 1000.0).round() as i64)
    }

    /// The connection goes through a proxy (configured and not bypassed by NO_PROXY).
    fn proxied(&self) -> bool {
        self.obs.proxy.as_ref().is_some_and(|h| h.status != ProxyStatus::Bypassed)
    }

    /// The severity of a failure of this endpoint: an error on a required endpoint, a warning on
    /// an optional one (`required = false` in the probe set). Every stage's failure findings
    /// take it (e.g. TlsInterception, pushed in `tls/chain.rs` with the severity `tls/mod.rs`
    /// chose); info findings and the downgrades of root-cause rules set their own.
    fn failure_severity(&self) -> Severity {
        if self.obs.spec.required { Severity::Error } else { Severity::Warning }
    }

    /// A finding of this endpoint, its portal code by the endpoint's role; the remediation is
    /// attached when the report is built ([`remediation::attach`]).
    fn push(&mut self, code: Code, severity: Severity, message: String, evidence: Map<String, Value>) {
        let spec = &self.obs.spec;
        self.out.push(Finding {
            code,
            severity,
            endpoint: Some(spec.name.clone()),
            usage_error: usage_error(code, spec.role == Role::Login),
            message,
            evidence,
            remediation: Remediation::default(),
        });
    }
}

/// Most items a finding's message (or a remediation step) lists; the evidence keeps them all.
pub const ITEMS_SHOWN: usize = 5;

/// `a, b, c, d, e and 495 more (all in the evidence)`: a list for a message line, short
/// however long the list is.
pub fn listed<S: AsRef<str>>(items: &[S]) -> String {
    let shown = items.iter().take(ITEMS_SHOWN).map(AsRef::as_ref).collect::<Vec<_>>().join(", ");
    match items.len().saturating_sub(ITEMS_SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more (all in the evidence)"),
    }
}

fn obj(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// What makes findings of one code the same problem across endpoints: the product or issuer
/// that re-signs, the proxy, the DNS servers, the legacy TLS version, the HTTP status; as the
/// evidence key and its value.
pub fn cause_of(evidence: &Map<String, Value>) -> Option<(&'static str, String)> {
    const KEYS: [&str; 6] = ["product", "issuer", "proxy", "servers", "legacy_version", "status_code"];
    KEYS.iter().find_map(|k| match evidence.get(*k) {
        Some(Value::String(s)) => Some((*k, s.clone())),
        Some(Value::Null) | None => None,
        Some(v) => Some((*k, v.to_string())),
    })
}

/// The cause's value alone (see [`cause_of`]).
pub fn cause(evidence: &Map<String, Value>) -> Option<String> {
    cause_of(evidence).map(|(_, v)| v)
}

/// What one endpoint's observations mean.
#[derive(Debug, Clone, Default)]
pub struct Diagnosis {
    /// In stage order.
    pub findings: Vec<Finding>,
    /// The interception verdict, when a chain was seen.
    pub interception: Option<Interception>,
    /// The revocation checks judged (the report's `tls.revocation`), when a chain was seen.
    pub revocation: Option<revocation::RevocationReport>,
}

/// Diagnose one endpoint. `now` is the node's time at the start of the run and `clock` the
/// estimate of how far off it is: certificate dates are judged against the reference time.
pub fn endpoint(obs: &EndpointObservation, now: DateTime<Utc>, clock: &ClockEstimate) -> Diagnosis {
    // A stopped run: the stages that finished are diagnosed, the one in flight and those after
    // it are not (they observed nothing).
    let finished = |stage: Stage| {
        // A stage the probe could not run for its own limits observed nothing either.
        let run = obs.local_limit.as_ref().is_none_or(|l| stage.order() < l.stage.order());
        run && match (obs.skipped, obs.interrupted) {
            (false, _) => true,
            (true, None) => false,
            (true, Some(i)) => stage.order() < i.stage.order(),
        }
    };
    let mut c = Ctx { obs, now, clock, out: Vec::new(), interception: None };
    if !finished(Stage::Dns) {
        return Diagnosis::default();
    }
    dns::findings(&mut c);
    proxy::bypass_findings(&mut c);
    let connected = if c.proxied() {
        finished(Stage::Proxy) && proxy::findings(&mut c)
    } else {
        finished(Stage::Tcp) && tcp::findings(&mut c)
    };
    if connected && finished(Stage::Tls) && tls::findings(&mut c) && finished(Stage::Http) {
        http::findings(&mut c);
    }
    families::amend(&mut c);
    let revocation = revocation::findings(&mut c);
    Diagnosis { findings: c.out, interception: c.interception, revocation }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_summarised() {
        let many: Vec<String> = (0..500).map(|i| format!("10.0.{}.{}", i / 256, i % 256)).collect();
        let line = listed(&many);
        assert_eq!(line, "10.0.0.0, 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4 and 495 more (all in the evidence)");
        assert_eq!(listed(&["a", "b"]), "a, b");
        assert_eq!(listed::<&str>(&[]), "");
    }
}
