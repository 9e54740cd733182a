//! Clock: the thresholds and the verdict of the node's offset (the one place they are
//! decided; `crate::clock` only measures), and the node-wide findings of the estimate
//! (ClockSkew, ClockDrift, ClockUnverified).

use std::collections::BTreeMap;

use serde_json::json;

use super::{Code, Finding, Remediation, Severity, obj, usage_error};
use crate::clock::{ClockEstimate, ClockSource, ClockVerdict, Measurement};

/// |offset| at or below this (seconds) is ok.
pub const DRIFT_SECONDS: f64 = 60.0;
/// |offset| above this (seconds) breaks token validation (Entra ID, .NET, Kerberos: 5 minutes):
/// ClockSkew, an error. Between [`DRIFT_SECONDS`] and this: ClockDrift, a warning.
pub const SKEW_SECONDS: f64 = 300.0;

/// Widest uncertainty (seconds) for which an interval that crosses a bound still gets the
/// verdict of its lower end (the benefit of the doubt, for offsets close to a bound). Wider and
/// the verdict is `unknown`: the interval could be on either side.
pub const DECIDABLE_UNCERTAINTY_SECONDS: f64 = 5.0;

fn band(abs_offset: f64) -> ClockVerdict {
    if abs_offset > SKEW_SECONDS {
        ClockVerdict::Error
    } else if abs_offset > DRIFT_SECONDS {
        ClockVerdict::Warning
    } else {
        ClockVerdict::Ok
    }
}

/// The verdict of `offset ± uncertainty` (seconds): the band (ok ≤ 60 s < warning ≤ 300 s <
/// error) the whole interval lies in; `unknown` when the interval crosses a bound by more than
/// [`DECIDABLE_UNCERTAINTY_SECONDS`] of uncertainty, or is not finite.
pub fn verdict(offset: f64, uncertainty: f64) -> ClockVerdict {
    if !offset.is_finite() || !uncertainty.is_finite() || uncertainty < 0.0 {
        return ClockVerdict::Unknown;
    }
    let (lower, upper) = undecided_range(offset, uncertainty);
    let (low, high) = (band(lower), band(upper));
    if low == high || uncertainty <= DECIDABLE_UNCERTAINTY_SECONDS { low } else { ClockVerdict::Unknown }
}

/// The smallest and largest |offset| that `offset ± uncertainty` allows, seconds.
pub fn undecided_range(offset: f64, uncertainty: f64) -> (f64, f64) {
    ((offset.abs() - uncertainty).max(0.0), offset.abs() + uncertainty)
}

/// The clock estimate of the report: the measurement of `sources` with its verdict.
pub fn estimate(sources: Vec<ClockSource>) -> ClockEstimate {
    judge(crate::clock::measure(sources))
}

/// The verdict of a measurement (decided on its exact offset and uncertainty), as the report's
/// clock estimate. No offset: `unknown`.
pub fn judge(m: Measurement) -> ClockEstimate {
    let verdict = m.exact.map_or(ClockVerdict::Unknown, |(o, u)| verdict(o, u));
    ClockEstimate {
        offset_seconds: m.offset_seconds,
        uncertainty_seconds: m.uncertainty_seconds,
        verdict,
        sources: m.sources,
    }
}

/// Node-wide clock findings.
pub fn findings(clock: &ClockEstimate) -> Vec<Finding> {
    let evidence = obj(&[
        ("offset_seconds", json!(clock.offset_seconds)),
        ("uncertainty_seconds", json!(clock.uncertainty_seconds)),
        ("sources", json!(clock.sources.len())),
    ]);
    let offset = clock.offset_seconds.unwrap_or(0.0);
    let unc = clock.uncertainty_seconds.unwrap_or(0.0);
    let zone = zone_like_offset(offset, unc);
    let mut evidence = evidence;
    let (code, severity, message) = match clock.verdict {
        ClockVerdict::Ok => return Vec::new(),
        ClockVerdict::Error => {
            let mut message = format!(
                "the node's clock is {offset:+.1} s (± {unc:.1} s) off the reference time: beyond the {SKEW_SECONDS:.0} s token tolerance"
            );
            if let Some(z) = &zone {
                message.push_str(&format!(
                    "; that is {} within {:.0} s, the step of a time-zone offset: almost always a time-zone or daylight-saving problem (the hardware clock kept in local time, or a wrong time-zone rule), not drift",
                    z.label, z.residual_seconds
                ));
                evidence.insert("time_zone_pattern".into(), json!(z.label));
            }
            (Code::ClockSkew, Severity::Error, message)
        }
        ClockVerdict::Warning => (
            Code::ClockDrift,
            Severity::Warning,
            format!("the node's clock is {offset:+.1} s (± {unc:.1} s) off the reference time"),
        ),
        ClockVerdict::Unknown => (
            Code::ClockUnverified,
            Severity::Warning,
            match (clock.offset_seconds, clock.uncertainty_seconds) {
                (Some(_), Some(_)) => {
                    let (lo, hi) = undecided_range(offset, unc);
                    let crossed: Vec<String> = [DRIFT_SECONDS, SKEW_SECONDS]
                        .iter()
                        .filter(|b| lo <= **b && hi > **b)
                        .map(|b| format!("{b:.0} s"))
                        .collect();
                    format!(
                        "the node's clock is {offset:+.1} s ± {unc:.1} s off the reference time: anywhere from {lo:.0} to {hi:.0} s off, across the {} bound{}, too uncertain to decide (the time sources disagree or answered too slowly)",
                        crossed.join(" and "),
                        if crossed.len() > 1 { "s" } else { "" }
                    )
                }
                _ => "no time source answered: the node's clock could not be checked".to_string(),
            },
        ),
    };
    vec![Finding {
        code,
        severity,
        endpoint: None,
        usage_error: usage_error(code, false),
        message,
        evidence,
        remediation: Remediation::default(),
    }]
}

/// The remediation placeholders of a clock finding (`offset`, and `zone_offset` for a
/// time-zone step) and its catalogue variant (`time_zone`), from the report's clock and the
/// finding's evidence.
pub(super) fn placeholders(f: &Finding, clock: &ClockEstimate) -> (BTreeMap<String, String>, Option<&'static str>) {
    let mut vars = BTreeMap::new();
    if let Some(o) = clock.offset_seconds {
        vars.insert("offset".to_string(), format!("{o:+.1}"));
    }
    let zone = f.evidence.get("time_zone_pattern").and_then(|v| v.as_str());
    let variant = match zone {
        Some(z) if f.code == Code::ClockSkew => {
            vars.insert("zone_offset".to_string(), z.to_string());
            Some("time_zone")
        }
        _ => None,
    };
    (vars, variant)
}

/// An offset that is a time-zone step: a whole number of hours, or 30 or 45 minutes past one,
/// up to 26 h (the widest gap between two zones' offsets).
struct ZoneOffset {
    /// e.g. `+1 h`, `-5 h 30 min`.
    label: String,
    /// Seconds between the offset and the step.
    residual_seconds: f64,
}

/// Seconds an offset may miss a time-zone step by (plus the estimate's uncertainty).
const ZONE_STEP_TOLERANCE_SECONDS: f64 = 60.0;

fn zone_like_offset(offset: f64, uncertainty: f64) -> Option<ZoneOffset> {
    let quarters = (offset.abs() / 900.0).round();
    let residual = (offset.abs() - quarters * 900.0).abs();
    // 15-minute steps exist only as :30 and :45 (e.g. India +5:30, Nepal +5:45), besides whole hours.
    let minutes = (quarters as u64 % 4) * 15;
    if !(2.0..=26.0 * 4.0).contains(&quarters) || minutes == 15 || residual > ZONE_STEP_TOLERANCE_SECONDS + uncertainty
    {
        return None;
    }
    let hours = quarters as u64 / 4;
    let sign = if offset < 0.0 { '-' } else { '+' };
    let label = match (hours, minutes) {
        (0, m) => format!("{sign}{m} min"),
        (h, 0) => format!("{sign}{h} h"),
        (h, m) => format!("{sign}{h} h {m} min"),
    };
    Some(ZoneOffset { label, residual_seconds: residual })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SourceKind;

    fn src(offset: f64) -> ClockSource {
        ClockSource {
            kind: SourceKind::HttpDate,
            server: "x".into(),
            offset_seconds: Some(offset),
            uncertainty_seconds: Some(0.6),
            rtt_ms: Some(200),
            stratum: None,
            outlier: false,
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
    fn one_liar_is_flagged_and_left_out() {
        let e = estimate(vec![src(1.0), src(600.0), src(2.0)]);
        assert_eq!(e.offset_seconds, Some(1.5));
        assert_eq!(e.uncertainty_seconds, Some(0.6));
        assert_eq!(e.verdict, ClockVerdict::Ok);
        assert!(e.sources[1].outlier);
        assert!(e.sources[1].error.as_deref().unwrap().contains("disagrees"));
        assert!(!e.sources[0].outlier && !e.sources[2].outlier);
    }

    #[test]
    fn two_disagreeing_sources_widen_the_uncertainty_instead() {
        let e = estimate(vec![src(0.0), src(400.0)]);
        assert_eq!(e.offset_seconds, Some(200.0));
        assert_eq!(e.uncertainty_seconds, Some(200.0));
        assert_eq!(e.verdict, ClockVerdict::Unknown, "200 ± 200 s: anything from ok to skew, so undecided");
        assert!(e.sources.iter().all(|s| !s.outlier));
    }

    #[test]
    fn too_uncertain_to_decide_is_unknown_never_ok() {
        // One good source and one 600 s off: 300 ± 300 s.
        let mut good = src(0.0);
        good.uncertainty_seconds = Some(0.01);
        let e = estimate(vec![good, src(600.0)]);
        assert_eq!((e.offset_seconds, e.uncertainty_seconds), (Some(300.0), Some(300.0)));
        assert_eq!(e.verdict, ClockVerdict::Unknown);
        assert_eq!(verdict(-500_000_000.0, 500_000_000.0), ClockVerdict::Unknown);
        assert_eq!(verdict(400.0, 200.0), ClockVerdict::Unknown, "warning or error");
        assert_eq!(verdict(1000.0, 200.0), ClockVerdict::Error, "wholly beyond 300 s");
        assert_eq!(verdict(180.0, 100.0), ClockVerdict::Warning, "wholly between 60 and 300 s");
        assert_eq!(verdict(10.0, 40.0), ClockVerdict::Ok, "wholly within 60 s");
        assert_eq!(verdict(299.0, 3.0), ClockVerdict::Warning, "close to a bound: benefit of the doubt");
        assert_eq!(verdict(f64::NAN, 1.0), ClockVerdict::Unknown);
        assert_eq!(verdict(1.0, f64::INFINITY), ClockVerdict::Unknown);
    }
}
