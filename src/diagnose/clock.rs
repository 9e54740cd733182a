//! Clock: the node-wide findings of the clock estimate (ClockSkew, ClockDrift, ClockUnverified).

use std::collections::BTreeMap;

use serde_json::json;

use super::{Code, Finding, Severity, obj, remediation, usage_error};
use crate::clock::{ClockEstimate, ClockVerdict};
use crate::config::Lang;

/// Node-wide clock findings.
pub fn findings(clock: &ClockEstimate, lang: Lang) -> Vec<Finding> {
    let mut vars = BTreeMap::new();
    if let Some(o) = clock.offset_seconds {
        vars.insert("offset".to_string(), format!("{o:+.1}"));
    }
    let evidence = obj(&[
        ("offset_seconds", json!(clock.offset_seconds)),
        ("uncertainty_seconds", json!(clock.uncertainty_seconds)),
        ("sources", json!(clock.sources.len())),
    ]);
    let offset = clock.offset_seconds.unwrap_or(0.0);
    let unc = clock.uncertainty_seconds.unwrap_or(0.0);
    let zone = zone_like_offset(offset, unc);
    let mut evidence = evidence;
    let mut variant = None;
    let (code, severity, message) = match clock.verdict {
        ClockVerdict::Ok => return Vec::new(),
        ClockVerdict::Error => {
            let mut message = format!(
                "the node's clock is {offset:+.1} s (± {unc:.1} s) off the reference time: beyond the 300 s token tolerance"
            );
            if let Some(z) = &zone {
                message.push_str(&format!(
                    "; that is {} within {:.0} s, the step of a time-zone offset: almost always a time-zone or daylight-saving problem (the hardware clock kept in local time, or a wrong time-zone rule), not drift",
                    z.label, z.residual_seconds
                ));
                vars.insert("zone_offset".to_string(), z.label.clone());
                evidence.insert("time_zone_pattern".into(), json!(z.label));
                variant = Some("time_zone");
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
                    let (lo, hi) = crate::clock::undecided_range(offset, unc);
                    let crossed: Vec<String> = [crate::clock::DRIFT_SECONDS, crate::clock::SKEW_SECONDS]
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
        remediation: match variant {
            Some(v) => remediation::remediation_variant(code, v, lang, &vars),
            None => remediation::remediation(code, lang, &vars),
        },
    }]
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
