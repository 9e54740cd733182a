//! Clock skew: sources (HTTP Date of every endpoint that answered) and the estimate of the
//! node's offset. Offsets are node minus reference: positive means the node is ahead.

use std::time::SystemTime;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::probe::EndpointObservation;

/// |offset| at or below this is ok.
pub const DRIFT_SECONDS: f64 = 60.0;
/// |offset| above this breaks token validation (Entra ID, Kerberos: 5 minutes).
pub const SKEW_SECONDS: f64 = 300.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Ntp,
    HttpDate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockVerdict {
    Ok,
    Warning,
    Error,
    Unknown,
}

/// One time reference and what it said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClockSource {
    pub kind: SourceKind,
    /// The server (host[:port]) or endpoint name.
    pub server: String,
    pub offset_seconds: Option<f64>,
    /// Uncertainty of this source's offset (half the round trip, plus the Date header's 1 s resolution).
    pub uncertainty_seconds: Option<f64>,
    pub rtt_ms: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClockEstimate {
    pub offset_seconds: Option<f64>,
    pub uncertainty_seconds: Option<f64>,
    pub verdict: ClockVerdict,
    pub sources: Vec<ClockSource>,
}

fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The HTTP Date of one answered request as a clock source.
pub fn http_date_source(obs: &EndpointObservation) -> Option<ClockSource> {
    let http = obs.http.as_ref()?;
    let date = http.date.as_ref()?;
    let server = obs.spec.name.clone();
    let (Some(sent), Some(received)) = (http.sent_at, http.received_at) else {
        return None;
    };
    let rtt = secs_between(received, sent).max(0.0);
    let rtt_ms = Some((rtt * 1000.0).round() as u64);
    match httpdate::parse_http_date(date) {
        Err(e) => Some(ClockSource {
            kind: SourceKind::HttpDate,
            server,
            offset_seconds: None,
            uncertainty_seconds: None,
            rtt_ms,
            error: Some(format!("unparseable Date header `{date}`: {e}")),
        }),
        Ok(server_time) => {
            // The Date header truncates to the second: the server's clock read date + [0, 1) s,
            // at some instant between sending and receiving.
            let node_mid = secs_between(sent, SystemTime::UNIX_EPOCH) + rtt / 2.0;
            let server_mid = secs_between(server_time, SystemTime::UNIX_EPOCH) + 0.5;
            Some(ClockSource {
                kind: SourceKind::HttpDate,
                server,
                offset_seconds: Some(round3(node_mid - server_mid)),
                uncertainty_seconds: Some(round3(0.5 + rtt / 2.0)),
                rtt_ms,
                error: None,
            })
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Combine sources: the median offset (robust to a minority of lying sources) and the median
/// uncertainty; the verdict only leaves `ok` when the offset exceeds a bound by more than its uncertainty.
pub fn estimate(sources: Vec<ClockSource>) -> ClockEstimate {
    let good: Vec<&ClockSource> = sources.iter().filter(|s| s.offset_seconds.is_some()).collect();
    let offset = median(good.iter().filter_map(|s| s.offset_seconds).collect());
    let uncertainty = median(good.iter().filter_map(|s| s.uncertainty_seconds).collect());
    let verdict = match (offset, uncertainty) {
        (Some(o), Some(u)) => {
            let lower = o.abs() - u;
            if lower > SKEW_SECONDS {
                ClockVerdict::Error
            } else if lower > DRIFT_SECONDS {
                ClockVerdict::Warning
            } else {
                ClockVerdict::Ok
            }
        }
        _ => ClockVerdict::Unknown,
    };
    ClockEstimate { offset_seconds: offset.map(round3), uncertainty_seconds: uncertainty.map(round3), verdict, sources }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(offset: f64) -> ClockSource {
        ClockSource {
            kind: SourceKind::HttpDate,
            server: "x".into(),
            offset_seconds: Some(offset),
            uncertainty_seconds: Some(0.6),
            rtt_ms: Some(200),
            error: None,
        }
    }

    #[test]
    fn verdict_uses_bounds_and_uncertainty() {
        assert_eq!(estimate(vec![]).verdict, ClockVerdict::Unknown);
        assert_eq!(estimate(vec![src(2.0)]).verdict, ClockVerdict::Ok);
        assert_eq!(estimate(vec![src(60.5)]).verdict, ClockVerdict::Ok, "within uncertainty of the bound");
        assert_eq!(estimate(vec![src(-120.0)]).verdict, ClockVerdict::Warning);
        assert_eq!(estimate(vec![src(600.0)]).verdict, ClockVerdict::Error);
    }

    #[test]
    fn one_liar_does_not_move_the_median() {
        let e = estimate(vec![src(1.0), src(3600.0), src(2.0)]);
        assert_eq!(e.offset_seconds, Some(2.0));
        assert_eq!(e.verdict, ClockVerdict::Ok);
    }
}
