//! The human summary printed after a run: what the portal would show, then the findings, then
//! one line per endpoint.

use std::fmt::Write;

use super::{EndpointVerdict, Report, Verdict};
use crate::diagnose::Severity;

fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Render the summary text.
pub fn render(report: &Report, report_location: &str) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let verdict = match s.verdict {
        Verdict::Ok => "OK",
        Verdict::Warning => "WARNING",
        Verdict::Error => "ERROR",
    };
    let _ = writeln!(
        out,
        "azs-netprobe {} on {}: {} endpoints, {} ({} errors, {} warnings), exit {}",
        report.tool.version,
        report.node.hostname,
        report.endpoints.len(),
        verdict,
        s.counts.error,
        s.counts.warning,
        s.exit_code
    );
    if !s.usage_errors.is_empty() {
        let codes: Vec<&str> = s.usage_errors.iter().map(|u| u.as_str()).collect();
        let _ = writeln!(out, "The portal would show: {}", codes.join(", "));
    }
    if !report.findings.is_empty() {
        out.push_str("\nFindings:\n");
        let mut rows = Vec::new();
        let mut sorted: Vec<_> = report.findings.iter().collect();
        sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
        for f in sorted {
            let sev = match f.severity {
                Severity::Error => "ERROR",
                Severity::Warning => "WARN",
                Severity::Info => "INFO",
            };
            rows.push(vec![
                format!("  {sev}"),
                f.code.as_str().to_string(),
                f.usage_error.map_or("-".into(), |u| u.as_str().to_string()),
                f.message.clone(),
            ]);
            if let Some(step) = f.remediation.steps.first() {
                rows.push(vec![String::new(), String::new(), String::new(), format!("-> {step}")]);
            }
        }
        out.push_str(&table(&rows));
    }
    out.push_str("\nEndpoints:\n");
    let mut rows = vec![vec![
        "  ENDPOINT".into(),
        "ROLE".into(),
        "STAGE".into(),
        "VERDICT".into(),
        "PORTAL CODE".into(),
        "HOST".into(),
    ]];
    for e in &report.endpoints {
        let verdict = match e.verdict {
            EndpointVerdict::Ok => "ok",
            EndpointVerdict::Warning => "warning",
            EndpointVerdict::Error => "error",
            EndpointVerdict::Skipped => "skipped",
        };
        let mut codes: Vec<&str> = report
            .findings
            .iter()
            .filter(|f| f.endpoint.as_deref() == Some(e.name.as_str()))
            .filter_map(|f| f.usage_error.map(|u| u.as_str()))
            .collect();
        codes.dedup();
        let host = match &e.represents {
            Some(w) => format!("{}:{} (stands for {w})", e.host, e.port),
            None => format!("{}:{}", e.host, e.port),
        };
        rows.push(vec![
            format!("  {}", e.name),
            e.role.as_str().into(),
            e.stage.clone(),
            verdict.into(),
            if codes.is_empty() { "-".into() } else { codes.join(",") },
            host,
        ]);
    }
    out.push_str(&table(&rows));
    let clock = &report.clock;
    match clock.offset_seconds {
        Some(o) => {
            let _ = writeln!(
                out,
                "\nClock: {o:+.1} s ± {:.1} s from {} source(s)",
                clock.uncertainty_seconds.unwrap_or(0.0),
                clock.sources.iter().filter(|s| s.offset_seconds.is_some()).count()
            );
        }
        None => out.push_str("\nClock: not verified (no time source answered)\n"),
    }
    let _ = writeln!(out, "Report: {report_location}");
    out
}
