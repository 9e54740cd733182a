//! `azs-netprobe explain CODE`: the catalogue entry of a finding code or a portal code.

use std::fmt::Write;

use super::codes::{Code, usage_error};
use super::remediation::{CSP_CODES, USAGE_CODES, all_codes, entry};
use crate::config::Lang;

/// The code is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown code `{code}`{}", suggestions(.close))]
pub struct UnknownCode {
    /// The code asked for, as given.
    pub code: String,
    /// Close matches, best first.
    pub close: Vec<String>,
}

fn suggestions(close: &[String]) -> String {
    if close.is_empty() {
        format!("; known codes: {}", all_codes().join(", "))
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

/// `{host}` → `<host>`: placeholders shown as what they stand for.
fn generic(text: &str) -> String {
    super::remediation::fill_with(text, |key| format!("<{key}>"))
}

fn close_matches(code: &str) -> Vec<String> {
    let lower = code.to_ascii_lowercase();
    let mut scored: Vec<(f64, &str)> = all_codes()
        .into_iter()
        .map(|c| {
            let cl = c.to_ascii_lowercase();
            let mut score = strsim::jaro_winkler(&lower, &cl);
            if lower.len() >= 3 && (cl.contains(&lower) || lower.contains(&cl)) {
                score = score.max(0.9);
            }
            (score, c)
        })
        .filter(|(s, _)| *s >= 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(5).map(|(_, c)| c.to_string()).collect()
}

/// The text `explain` prints.
pub fn explain(code: &str, lang: Lang) -> Result<String, UnknownCode> {
    let name = all_codes()
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(code.trim()))
        .ok_or_else(|| UnknownCode { code: code.to_string(), close: close_matches(code) })?;
    let (r, used) = entry(name, lang).ok_or_else(|| UnknownCode { code: code.into(), close: Vec::new() })?;
    let mut out = String::new();
    if let Some(c) = Code::parse(name) {
        let _ = writeln!(out, "{name}: finding code (stage {})", c.stage());
        match (usage_error(c, false), usage_error(c, true)) {
            (Some(a), Some(b)) if a != b => {
                let _ = writeln!(out, "Portal code: {} ({} on login endpoints)", a.as_str(), b.as_str());
            }
            (Some(a), _) => {
                let _ = writeln!(out, "Portal code: {}", a.as_str());
            }
            _ if c == Code::ProxyBypassAmbiguous => {
                let _ = writeln!(out, "Portal code: none (information: how clients read the proxy bypass list)");
            }
            _ => {
                let _ = writeln!(out, "Portal code: none (a warning about the node)");
            }
        }
    } else if USAGE_CODES.contains(&name) {
        let _ = writeln!(out, "{name}: portal code for usage data (azs-netprobe findings map to it)");
    } else if CSP_CODES.contains(&name) {
        let _ = writeln!(out, "{name}: CSP registration code (not observable from the network)");
    }
    if used != lang {
        let _ = writeln!(out, "(no {} text for this code yet: English)", lang.as_str());
    }
    let _ = writeln!(out, "\n{}\n", generic(&r.summary));
    for (i, step) in r.steps.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, generic(step));
    }
    if !r.references.is_empty() {
        out.push('\n');
        for link in &r.references {
            let _ = writeln!(out, "  - {link}");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_every_code_case_insensitively() {
        for code in all_codes() {
            for lang in [Lang::En, Lang::Fr, Lang::Zh] {
                let text = explain(&code.to_ascii_lowercase(), lang).unwrap();
                assert!(text.starts_with(code), "{text}");
                assert!(!text.contains('{'), "placeholders shown generically: {text}");
            }
        }
        let t = explain("TlsInterception", Lang::En).unwrap();
        assert!(t.contains("Portal code: CertificateValidationError (LoginError on login endpoints)"), "{t}");
        assert!(explain("ClockDrift", Lang::En).unwrap().contains("Portal code: none"));
        assert!(explain("RegistrationNotFound", Lang::En).unwrap().contains("CSP registration code"));
        assert!(explain("LoginError", Lang::En).unwrap().contains("https://"));
    }

    #[test]
    fn unknown_codes_get_close_matches() {
        let e = explain("TlsIntercept", Lang::En).unwrap_err();
        assert_eq!(e.close.first().map(String::as_str), Some("TlsInterception"));
        assert!(e.to_string().contains("did you mean TlsInterception"));
        let e = explain("CertValidationErr", Lang::En).unwrap_err();
        assert!(e.close.contains(&"CertificateValidationError".to_string()), "{:?}", e.close);
        let e = explain("zzzz", Lang::En).unwrap_err();
        assert!(e.close.is_empty() && e.to_string().contains("known codes: DnsNameNotFound"));
    }
}
