//! The human summary printed after a run: what the portal would show, then the findings, then
//! one line per endpoint.

use std::collections::HashMap;
use std::fmt::Write;

use super::{EndpointVerdict, Report, Verdict, printable};
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

/// The summary of a fleet merge.
pub fn render_fleet(fleet: &super::fleet::FleetReport, location: &str) -> String {
    let mut out = String::new();
    let s = &fleet.summary;
    let _ = writeln!(
        out,
        "azs-netprobe fleet: {} nodes, {} with errors, {} (exit {})",
        s.nodes,
        s.nodes_with_errors,
        printable(&s.verdict.to_uppercase()),
        s.exit_code
    );
    if !s.usage_errors.is_empty() {
        let _ = writeln!(out, "The portal would show: {}", printable(&s.usage_errors.join(", ")));
    }
    for d in &s.duplicates {
        let _ = writeln!(out, "Duplicate: {d}");
    }
    if s.differences.is_empty() {
        out.push_str("\nEvery node sees the same problems.\n");
    } else {
        out.push_str("\nWhere nodes differ:\n");
        for d in &s.differences {
            let _ = writeln!(out, "  - {}", printable(d));
        }
    }
    out.push_str("\nNodes:\n");
    let mut rows = vec![vec![
        "  NODE".into(),
        "VERDICT".into(),
        "ERRORS".into(),
        "WARNINGS".into(),
        "CLOCK".into(),
        "PORTAL CODES".into(),
    ]];
    for n in &fleet.nodes {
        rows.push(vec![
            format!("  {}", printable(&n.hostname)),
            printable(&n.verdict).into_owned(),
            n.errors.to_string(),
            n.warnings.to_string(),
            n.clock_offset_seconds.map_or("-".into(), |o| format!("{o:+.1} s")),
            if n.usage_errors.is_empty() { "-".into() } else { printable(&n.usage_errors.join(",")).into_owned() },
        ]);
    }
    out.push_str(&table(&rows));
    let _ = writeln!(out, "Fleet report: {}", printable(location));
    out
}

/// The summary's own words, per language (the findings' remediation comes from the catalogue).
struct Words {
    endpoints: &'static str,
    errors: &'static str,
    warnings: &'static str,
    /// The singular forms, for a count of one.
    error: &'static str,
    warning: &'static str,
    portal: &'static str,
    what_to_do: &'static str,
    on: &'static str,
    fix: &'static str,
    endpoints_heading: &'static str,
    headers: [&'static str; 6],
    stands_for: &'static str,
    clock: &'static str,
    sources: &'static str,
    clock_unknown: &'static str,
    report: &'static str,
    interrupted: &'static str,
}

fn words(lang: &str) -> Words {
    match lang {
        "fr" => Words {
            endpoints: "points de terminaison",
            errors: "erreurs",
            warnings: "avertissements",
            error: "erreur",
            warning: "avertissement",
            portal: "Le portail afficherait",
            what_to_do: "Que faire ({n} problème(s), du plus grave au moins grave)",
            on: "sur {n} points de terminaison",
            fix: "correctif",
            endpoints_heading: "Points de terminaison",
            headers: ["POINT DE TERMINAISON", "RÔLE", "ÉTAPE", "VERDICT", "CODE DU PORTAIL", "HÔTE"],
            stands_for: "représente",
            clock: "Horloge",
            sources: "source(s)",
            clock_unknown: "Horloge : non vérifiée (aucune source de temps n'a répondu)",
            report: "Rapport",
            interrupted: "INTERROMPU : l'exécution a été arrêtée avant la fin ; {n} point(s) de terminaison incomplet(s) (voir ÉTAPE)",
        },
        "zh" => Words {
            endpoints: "个终结点",
            errors: "个错误",
            warnings: "个警告",
            error: "个错误",
            warning: "个警告",
            portal: "门户将显示",
            what_to_do: "处理建议（{n} 个问题，按严重程度排序）",
            on: "涉及 {n} 个终结点",
            fix: "处理",
            endpoints_heading: "终结点",
            headers: ["终结点", "角色", "阶段", "结论", "门户代码", "主机"],
            stands_for: "代表",
            clock: "时钟",
            sources: "个时间源",
            clock_unknown: "时钟：未验证（没有时间源应答）",
            report: "报告",
            interrupted: "已中断：运行在全部完成之前被停止；{n} 个终结点未完成（见“阶段”列）",
        },
        _ => Words {
            endpoints: "endpoints",
            errors: "errors",
            warnings: "warnings",
            error: "error",
            warning: "warning",
            portal: "The portal would show",
            what_to_do: "What to do ({n} problem(s), most severe first)",
            on: "on {n} endpoints",
            fix: "fix",
            endpoints_heading: "Endpoints",
            headers: ["ENDPOINT", "ROLE", "STAGE", "VERDICT", "PORTAL CODE", "HOST"],
            stands_for: "stands for",
            clock: "Clock",
            sources: "source(s)",
            clock_unknown: "Clock: not verified (no time source answered)",
            report: "Report",
            interrupted: "INTERRUPTED: the run was stopped before it finished; {n} endpoint(s) incomplete (see STAGE)",
        },
    }
}

/// Render the summary text.
pub fn render(report: &Report, report_location: &str) -> String {
    let mut out = String::new();
    let w = words(&report.config.lang);
    let s = &report.summary;
    let verdict = match s.verdict {
        Verdict::Ok => "OK",
        Verdict::Warning => "WARNING",
        Verdict::Error => "ERROR",
    };
    let _ = writeln!(
        out,
        "azs-netprobe {} @ {}: {} {}, {} ({} {}, {} {}), exit {}",
        printable(&report.tool.version),
        printable(&report.node.hostname),
        report.endpoints.len(),
        w.endpoints,
        verdict,
        s.counts.error,
        if s.counts.error == 1 { w.error } else { w.errors },
        s.counts.warning,
        if s.counts.warning == 1 { w.warning } else { w.warnings },
        s.exit_code
    );
    if report.run.interrupted {
        let incomplete = report.endpoints.iter().filter(|e| e.verdict == EndpointVerdict::Skipped).count();
        let _ = writeln!(out, "{}", w.interrupted.replace("{n}", &incomplete.to_string()));
    }
    if !s.usage_errors.is_empty() {
        let codes: Vec<&str> = s.usage_errors.iter().map(|u| u.as_str()).collect();
        let _ = writeln!(out, "{}: {}", w.portal, codes.join(", "));
    }
    let groups = crate::diagnose::problems::group(&report.findings);
    if !groups.is_empty() {
        let _ = writeln!(out, "\n{}:", w.what_to_do.replace("{n}", &groups.len().to_string()));
        for (i, g) in groups.iter().enumerate() {
            let f = g.first();
            let sev = match g.severity {
                Severity::Error => "ERROR",
                Severity::Warning => "WARN",
                Severity::Info => "INFO",
            };
            let codes: Vec<&str> = g.usage_errors.iter().map(|u| u.as_str()).collect();
            let portal = if codes.is_empty() { String::new() } else { format!(" -> portal: {}", codes.join(", ")) };
            let cause = g.cause.as_ref().map(|c| format!(" ({})", printable(&c.value))).unwrap_or_default();
            let _ = writeln!(out, "{:>3}. {sev} {}{cause}{portal}", i + 1, g.code.as_str());
            if g.endpoints.len() > 1 {
                let _ = writeln!(
                    out,
                    "     {}: {}",
                    w.on.replace("{n}", &g.endpoints.len().to_string()),
                    printable(&g.endpoints.join(", "))
                );
            }
            let _ = writeln!(out, "     {}", printable(&f.message));
            if let Some(step) = f.remediation.steps.first() {
                let _ = writeln!(out, "     {}: {}", w.fix, printable(step));
            }
        }
    }
    let _ = writeln!(out, "\n{}:", w.endpoints_heading);
    let mut rows = vec![
        std::iter::once(format!("  {}", w.headers[0]))
            .chain(w.headers[1..].iter().map(|h| h.to_string()))
            .collect::<Vec<String>>(),
    ];
    // The portal codes of each endpoint's findings, in finding order, gathered once.
    let mut codes_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for f in &report.findings {
        if let (Some(e), Some(u)) = (f.endpoint.as_deref(), f.usage_error) {
            codes_of.entry(e).or_default().push(u.as_str());
        }
    }
    for e in &report.endpoints {
        let verdict = match e.verdict {
            EndpointVerdict::Ok => "ok",
            EndpointVerdict::Warning => "warning",
            EndpointVerdict::Error => "error",
            EndpointVerdict::Skipped => "skipped",
        };
        let mut codes: Vec<&str> = codes_of.get(e.name.as_str()).cloned().unwrap_or_default();
        codes.dedup();
        let host = match &e.represents {
            Some(wild) => format!("{}:{} ({} {})", printable(&e.host), e.port, w.stands_for, printable(wild)),
            None => format!("{}:{}", printable(&e.host), e.port),
        };
        rows.push(vec![
            format!("  {}", printable(&e.name)),
            e.role.as_str().into(),
            printable(&e.stage).into_owned(),
            verdict.into(),
            if codes.is_empty() { "-".into() } else { codes.join(",") },
            host,
        ]);
    }
    out.push_str(&table(&rows));
    out.push_str(&super::families::text(report));
    out.push_str(&revocation_line(report));
    let clock = &report.clock;
    match clock.offset_seconds {
        Some(o) => {
            let _ = writeln!(
                out,
                "\n{}: {o:+.1} s ± {:.1} s ({} {})",
                w.clock,
                clock.uncertainty_seconds.unwrap_or(0.0),
                clock.sources.iter().filter(|s| s.offset_seconds.is_some() && !s.outlier).count(),
                w.sources
            );
        }
        None => {
            let _ = writeln!(out, "\n{}", w.clock_unknown);
        }
    }
    let _ = writeln!(out, "{}: {}", w.report, printable(report_location));
    out
}

/// One line summing up the endpoints' revocation checks (empty when no chain was checked): the
/// count of each status, with the endpoints whose status is not `good`.
fn revocation_line(report: &Report) -> String {
    use super::RevocationStatus as S;
    let heading = match report.config.lang.as_str() {
        "fr" => "Révocation (CRL/OCSP)",
        "zh" => "吊销检查（CRL/OCSP）",
        _ => "Revocation (CRL/OCSP)",
    };
    let statuses: Vec<(&str, S)> = report
        .endpoints
        .iter()
        .filter_map(|e| e.tls.as_ref()?.revocation.as_ref().map(|r| (e.name.as_str(), r.status)))
        .collect();
    if statuses.is_empty() {
        return String::new();
    }
    let order = [S::Revoked, S::Invalid, S::Unreachable, S::Unknown, S::NotChecked, S::Good];
    let parts: Vec<String> = order
        .iter()
        .filter_map(|st| {
            let names: Vec<&str> = statuses.iter().filter(|(_, s)| s == st).map(|(n, _)| *n).collect();
            if names.is_empty() {
                None
            } else if *st == S::Good {
                Some(format!("{} {}", names.len(), st.as_str()))
            } else {
                Some(format!("{} {} ({})", names.len(), st.as_str(), printable(&names.join(", "))))
            }
        })
        .collect();
    format!("{heading}: {}\n", parts.join(", "))
}
