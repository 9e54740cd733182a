//! node_exporter textfile metrics of a report (`--prometheus FILE`): per-endpoint stage success
//! and latency, the clock offset, finding counts.

use std::fmt::Write;

use super::Report;
use crate::probe::{HttpStatus, TcpStatus, TlsStatus};

/// A label value in the text exposition format: backslash, double quote and line feed escaped
/// as the format defines (it defines no other escape); a tab becomes a space and any other
/// control character (a carriage return) is dropped, since parsers would break the line there.
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", label(v))).collect();
        if l.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{}}} {value}", l.join(","));
        }
    }
}

fn b(x: bool) -> f64 {
    if x { 1.0 } else { 0.0 }
}

/// The metrics text.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    let cloud = r.config.cloud.as_str();
    f.head("azs_netprobe_run_timestamp_seconds", "gauge", "When the run finished (Unix time).");
    let finished = chrono::DateTime::parse_from_rfc3339(&r.run.finished_at).map_or(0.0, |d| d.timestamp() as f64);
    f.sample("azs_netprobe_run_timestamp_seconds", &[("cloud", cloud)], finished);
    f.head("azs_netprobe_run_duration_seconds", "gauge", "Wall time of the run.");
    f.sample("azs_netprobe_run_duration_seconds", &[("cloud", cloud)], r.run.duration_ms as f64 / 1000.0);
    f.head("azs_netprobe_exit_code", "gauge", "0 ok, 1 warnings, 2 errors.");
    f.sample("azs_netprobe_exit_code", &[("cloud", cloud)], f64::from(r.summary.exit_code));

    f.head("azs_netprobe_endpoint_ok", "gauge", "1 when the endpoint has no warning or error finding.");
    for e in &r.endpoints {
        let ok = matches!(e.verdict, super::EndpointVerdict::Ok);
        f.sample(
            "azs_netprobe_endpoint_ok",
            &[("endpoint", &e.name), ("role", e.role.as_str()), ("host", &e.host)],
            b(ok),
        );
    }
    let mut stage_rows: Vec<(String, &str, bool, u64)> = Vec::new();
    for e in &r.endpoints {
        let mut stages: Vec<(&str, bool, u64)> =
            vec![("dns", crate::diagnose::outcome::dns_ok(e.dns.status), e.dns.duration_ms)];
        if let Some(t) = e.tcp.iter().find(|t| t.status == TcpStatus::Ok).or(e.tcp.first()) {
            stages.push(("tcp", t.status == TcpStatus::Ok, t.duration_ms));
        }
        if let Some(p) = &e.proxy {
            use crate::probe::proxy::ProxyStatus;
            if p.status != ProxyStatus::Bypassed {
                stages.push(("proxy", p.status == ProxyStatus::Ok, p.duration_ms));
            }
        }
        if let Some(t) = e.tls.as_ref().filter(|t| t.status != TlsStatus::NotAttempted) {
            stages.push(("tls", t.status == TlsStatus::Ok, t.duration_ms));
        }
        if let Some(h) = e.http.as_ref().filter(|h| h.status != HttpStatus::NotAttempted) {
            stages.push(("http", h.status == HttpStatus::Ok, h.duration_ms));
        }
        stage_rows.extend(stages.into_iter().map(|(stage, ok, ms)| (e.name.clone(), stage, ok, ms)));
    }
    // A family's samples stand together after its TYPE line.
    f.head("azs_netprobe_stage_success", "gauge", "1 when the stage succeeded for the endpoint.");
    for (endpoint, stage, ok, _) in &stage_rows {
        f.sample("azs_netprobe_stage_success", &[("endpoint", endpoint), ("stage", stage)], b(*ok));
    }
    f.head("azs_netprobe_stage_duration_seconds", "gauge", "Time the stage took for the endpoint.");
    for (endpoint, stage, _, ms) in &stage_rows {
        f.sample(
            "azs_netprobe_stage_duration_seconds",
            &[("endpoint", endpoint), ("stage", stage)],
            *ms as f64 / 1000.0,
        );
    }
    if let (Some(o), Some(u)) = (r.clock.offset_seconds, r.clock.uncertainty_seconds) {
        f.head(
            "azs_netprobe_clock_offset_seconds",
            "gauge",
            "This node's clock minus the reference time (positive: ahead).",
        );
        f.sample("azs_netprobe_clock_offset_seconds", &[], o);
        f.head("azs_netprobe_clock_uncertainty_seconds", "gauge", "Uncertainty of the clock offset.");
        f.sample("azs_netprobe_clock_uncertainty_seconds", &[], u);
    }
    f.head("azs_netprobe_clock_verified", "gauge", "1 when at least one time source answered.");
    f.sample("azs_netprobe_clock_verified", &[], b(r.clock.offset_seconds.is_some()));
    f.head("azs_netprobe_findings", "gauge", "Findings of the run by severity.");
    for (sev, n) in
        [("error", r.summary.counts.error), ("warning", r.summary.counts.warning), ("info", r.summary.counts.info)]
    {
        f.sample("azs_netprobe_findings", &[("severity", sev)], n as f64);
    }
    families(&mut f, r);
    f.head("azs_netprobe_finding", "gauge", "1 per finding code, endpoint and severity present in the run.");
    let mut seen = std::collections::BTreeSet::new();
    for x in &r.findings {
        let sev = x.severity.as_str().to_string();
        let key = (x.code.as_str(), x.endpoint.clone().unwrap_or_default(), sev);
        if seen.insert(key.clone()) {
            let usage = x.usage_error.map_or("", |u| u.as_str());
            f.sample(
                "azs_netprobe_finding",
                &[("code", key.0), ("endpoint", &key.1), ("severity", &key.2), ("usage_error", usage)],
                1.0,
            );
        }
    }
    revocation_samples(&mut f, r);
    out
}

/// `azs_netprobe_revocation_good{endpoint, status}`: 1 when the endpoint's chain checked good
/// by CRL or OCSP, 0 otherwise; `status` names the outcome (revoked, unreachable, not_checked...).
fn revocation_samples(f: &mut Family<'_>, r: &Report) {
    let rows: Vec<(&str, super::RevocationStatus)> = r
        .endpoints
        .iter()
        .filter_map(|e| e.tls.as_ref()?.revocation.as_ref().map(|x| (e.name.as_str(), x.status)))
        .collect();
    if rows.is_empty() {
        return;
    }
    f.head(
        "azs_netprobe_revocation_good",
        "gauge",
        "1 when the endpoint's certificates checked good by CRL or OCSP; the status label says what else.",
    );
    for (endpoint, status) in rows {
        f.sample(
            "azs_netprobe_revocation_good",
            &[("endpoint", endpoint), ("status", status.as_str())],
            b(status == super::RevocationStatus::Good),
        );
    }
}

/// TLS and HTTP success over each address family of each endpoint (`families[]`).
fn families(f: &mut Family<'_>, r: &Report) {
    let rows: Vec<_> = r.endpoints.iter().flat_map(|e| e.families.iter().map(move |x| (e, x))).collect();
    if rows.is_empty() {
        return;
    }
    f.head(
        "azs_netprobe_family_tls_success",
        "gauge",
        "1 when the TLS handshake succeeded over the endpoint's address of that family (first: the family the node tries first).",
    );
    for (e, x) in &rows {
        let first = if x.first { "true" } else { "false" };
        let labels = [("endpoint", e.name.as_str()), ("family", x.family.as_str()), ("first", first)];
        f.sample("azs_netprobe_family_tls_success", &labels, b(x.tls.status == TlsStatus::Ok));
    }
    f.head(
        "azs_netprobe_family_http_success",
        "gauge",
        "1 when the HTTP request succeeded over the endpoint's address of that family.",
    );
    for (e, x) in &rows {
        let first = if x.first { "true" } else { "false" };
        let labels = [("endpoint", e.name.as_str()), ("family", x.family.as_str()), ("first", first)];
        f.sample("azs_netprobe_family_http_success", &labels, b(x.http.status == HttpStatus::Ok));
    }
}
