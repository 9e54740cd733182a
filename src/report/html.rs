//! Self-contained HTML pages of a report and of a fleet report, for support tickets.
//!
//! One file, no external assets: inline CSS, inline SVG, no JavaScript (expandable parts are
//! `<details>`). Every string that comes from a report is treated as hostile (block pages,
//! headers and certificate subjects are server-controlled) and escaped, attributes included.
//! Elements are always closed explicitly, so the output is also well-formed as a tag tree.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::fleet::{FleetCell, FleetReport};
use super::{EndpointReport, EndpointVerdict, Report, Verdict};
use crate::clock::ClockVerdict;
use crate::diagnose::{Code, Finding, Severity};
use crate::probe::proxy::ProxyStatus;
use crate::probe::{DnsStatus, HttpStatus, Peer, Stage, TcpStatus, TlsStatus};
use crate::trust::chain::CertFacts;

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Escape text for HTML content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls, bidi overrides and invisible format characters shown as `\u{..}`.
            c if super::text::is_hidden(c) && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// The serde (snake_case) name of an enum value, as it appears in the JSON report.
fn name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

/// The same name for display: `not_attempted` as `not attempted`.
fn label<T: Serialize>(v: &T) -> String {
    name(v).replace('_', " ")
}

/// A value suitable for an `id` attribute (letters, digits, `-`, `_` only).
fn slug(prefix: &str, i: usize, s: &str) -> String {
    let cleaned: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).take(48).collect();
    format!("{prefix}{i}-{cleaned}")
}

fn fmt_ms(ms: u64) -> String {
    if ms < 1000 { format!("{ms} ms") } else { format!("{:.2} s", ms as f64 / 1000.0) }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

/// An RFC 3339 time as `2026-11-21 23:56:01 UTC` (the original text when it does not parse).
fn fmt_time(s: &str) -> String {
    parse_time(s).map_or_else(|| s.to_string(), |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// A JSON value as plain text: strings bare, arrays joined, objects as `k=v` pairs.
fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(value_text).collect();
            // Sentences read better apart; names and addresses as a list.
            let sep = if items.iter().any(|i| i.contains(' ')) { "; " } else { ", " };
            items.join(sep)
        }
        Value::Object(o) => o
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}={}", value_text(v)))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// Text of an arrays-of-objects value, one object per line.
fn value_html(v: &Value) -> String {
    match v {
        Value::Array(a) if a.iter().any(Value::is_object) => {
            a.iter().map(|x| esc(&value_text(x))).collect::<Vec<_>>().join("<br>")
        }
        v => esc(&value_text(v)),
    }
}

/// CSS class for a severity-like word (never the raw word: class names are whitelisted).
fn tone(word: &str) -> &'static str {
    match word {
        "ok" | "trusted" => "ok",
        "warning" => "warning",
        "error" => "error",
        "info" => "info",
        _ => "muted",
    }
}

fn badge(class: &str, text: &str) -> String {
    format!("<span class=\"badge {}\">{}</span>", tone(class), esc(text))
}

fn code_list(codes: &[String]) -> String {
    if codes.is_empty() {
        return "<span class=\"muted-text\">none</span>".into();
    }
    codes.iter().map(|c| format!("<code class=\"portal\">{}</code>", esc(c))).collect::<Vec<_>>().join(" ")
}

/// An `<a>` for http(s) URLs; anything else is shown as text.
fn link(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        format!("<a href=\"{0}\" rel=\"noreferrer noopener\">{0}</a>", esc(url))
    } else {
        esc(url)
    }
}

/// `<div><dt>label</dt><dd>html</dd></div>` rows of a definition list; `html` is already escaped.
fn dl(o: &mut String, class: &str, rows: &[(&str, String)]) {
    let _ = write!(o, "<dl class=\"{class}\">");
    for (k, v) in rows {
        let _ = write!(o, "<div><dt>{}</dt><dd>{v}</dd></div>", esc(k));
    }
    o.push_str("</dl>");
}

fn opt(v: Option<&str>) -> String {
    v.map_or_else(|| "<span class=\"muted-text\">—</span>".into(), esc)
}

fn mono(s: &str) -> String {
    format!("<code>{}</code>", esc(s))
}

fn sev_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

const CSS: &str = r#"
:root{color-scheme:light dark;--bg:#ffffff;--fg:#1d2330;--muted:#5f6b7a;--line:#d8dde4;--panel:#f5f7f9;--code:#eef1f4;
--ok:#1f7a3d;--ok-bg:#e3f3e8;--warning:#8a5a00;--warning-bg:#fdf1d6;--error:#b42318;--error-bg:#fde7e5;--info:#2458a6;--info-bg:#e4edfa;
--muted-bg:#eceff2;--bar:#6b87b5;--bar-proxy:#8a73b8;--link:#1f5fbf}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--fg:#e3e7ec;--muted:#9aa5b1;--line:#323943;--panel:#1b2027;--code:#252b33;
--ok:#6fcf8e;--ok-bg:#17301f;--warning:#f0b94a;--warning-bg:#3a2c0d;--error:#ff8a80;--error-bg:#3d1a17;--info:#8ab4f8;--info-bg:#17263d;
--muted-bg:#262c34;--bar:#7f9bd0;--bar-proxy:#a996d6;--link:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 28px 40px}
a{color:var(--link)}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:18px;margin:34px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:0}
.problem h3 code{font-size:14.5px;padding:2px 6px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
code{background:var(--code);padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
pre{background:var(--code);padding:8px 10px;border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere;margin:6px 0;font-size:12px}
.muted-text{color:var(--muted)}.bad-text{color:var(--error)}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.03em;white-space:nowrap;border:1px solid transparent}
.badge.ok{color:var(--ok);background:var(--ok-bg);border-color:var(--ok)}
.badge.warning{color:var(--warning);background:var(--warning-bg);border-color:var(--warning)}
.badge.error{color:var(--error);background:var(--error-bg);border-color:var(--error)}
.badge.info{color:var(--info);background:var(--info-bg);border-color:var(--info)}
.badge.muted{color:var(--muted);background:var(--muted-bg);border-color:var(--line)}
code.portal{background:var(--error-bg);color:var(--error);font-weight:600;white-space:nowrap;overflow-wrap:normal}
.nw{white-space:nowrap}table.kvt th{width:190px;text-transform:none;letter-spacing:0;white-space:nowrap;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-weight:600;font-size:12px}
table.kvt td{font-size:12.5px}
table.kvt.per th{width:auto}
.top{border:1px solid var(--line);border-left-width:8px;border-radius:6px;padding:16px 20px;background:var(--panel)}
.top.ok{border-left-color:var(--ok)}.top.warning{border-left-color:var(--warning)}.top.error{border-left-color:var(--error)}.top.muted{border-left-color:var(--muted)}
.verdict{display:flex;align-items:center;gap:14px;flex-wrap:wrap;margin-bottom:8px}
.verdict .big{font-size:24px;font-weight:700;letter-spacing:.02em}
.verdict .big.ok{color:var(--ok)}.verdict .big.warning{color:var(--warning)}.verdict .big.error{color:var(--error)}.verdict .big.muted{color:var(--muted)}
.lede{margin:6px 0 12px;font-size:15px}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(440px,1fr));gap:0 28px;margin:0}
.kv.cols{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:0 28px}
.facts>div,.kv>div{display:grid;grid-template-columns:120px 1fr;gap:8px;padding:3px 0;border-bottom:1px dotted var(--line)}
.facts dt,.kv dt{color:var(--muted);font-weight:600}
.facts dd,.kv dd{margin:0;overflow-wrap:anywhere}
.kv{margin:4px 0 8px}
.kv.wide>div{grid-template-columns:170px 1fr}
.note{border-left:4px solid var(--info);background:var(--info-bg);padding:8px 12px;border-radius:4px;margin:10px 0}
.note.warning{border-left-color:var(--warning);background:var(--warning-bg)}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
th{white-space:nowrap;background:var(--panel);font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right;white-space:nowrap}
.problem{border:1px solid var(--line);border-left-width:6px;border-radius:6px;padding:12px 16px;margin:12px 0;background:var(--bg)}
.problem.error{border-left-color:var(--error)}.problem.warning{border-left-color:var(--warning)}.problem.info{border-left-color:var(--info)}
.problem-head{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.problem .where{color:var(--muted);margin:6px 0}
.problem .msg{font-size:14.5px;margin:6px 0 8px}
.fix{background:var(--panel);border-radius:5px;padding:8px 14px;margin:8px 0}
.fix ol{margin:6px 0;padding-left:22px}.fix li{margin:3px 0}
.fix .refs{margin:4px 0 2px;font-size:13px}
details{margin:6px 0}
summary{cursor:pointer;font-weight:600;padding:3px 0}
summary .muted-text{font-weight:400}
details.group>summary{font-size:15px}
.ep{border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:14px 0}
.ep-head{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.ep .url{color:var(--muted);margin:4px 0 8px;overflow-wrap:anywhere}
.ep details{border-top:1px solid var(--line);padding-top:4px}
.wf{width:100%;max-width:900px;height:auto;display:block;margin:6px 0 4px}
.wf text{fill:var(--fg);font-size:11px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.wf .lbl{fill:var(--fg)}.wf .dim{fill:var(--muted)}
.wf .axis{stroke:var(--line);stroke-width:1}
.wf .grid{stroke:var(--line);stroke-width:1;stroke-dasharray:2 3}
.wf .b-ok{fill:var(--bar)}.wf .b-proxy{fill:var(--bar-proxy)}.wf .b-fail{fill:var(--error)}.wf .b-open{fill:var(--muted-bg);stroke:var(--muted);stroke-dasharray:4 3}
.wf text.t-fail{fill:var(--error);font-weight:700}.wf text.t-skip{fill:var(--muted);font-style:italic}
.chain{display:grid;gap:10px;margin:6px 0}
.cert{border:1px solid var(--line);border-radius:6px;padding:8px 12px;background:var(--panel);break-inside:avoid}
.cert.bad{border-color:var(--error)}
.cert-head{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-bottom:4px}
.cert .kv>div{grid-template-columns:150px 1fr}
.fp{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:11.5px;overflow-wrap:anywhere}
ul.plain{margin:4px 0;padding-left:20px}
.clock-big{font-size:22px;font-weight:700}
.diffs{border:2px solid var(--warning);background:var(--warning-bg);border-radius:6px;padding:10px 16px;margin:12px 0}
.diffs.none{border-color:var(--ok);background:var(--ok-bg)}
.diffs h2{border:0;margin:4px 0 6px;padding:0}
.diffs li{margin:4px 0;font-size:14.5px}
th.w-cause{width:17%}th.w-nodes{width:16%}
th.node{text-align:center;text-transform:none;font-size:12.5px;color:var(--fg)}
td.cell{text-align:center;font-weight:600;font-size:12px;text-transform:uppercase;white-space:nowrap}
td.cell.ok{color:var(--ok);background:var(--ok-bg)}td.cell.warning{color:var(--warning);background:var(--warning-bg)}
td.cell.error{color:var(--error);background:var(--error-bg)}td.cell.muted{color:var(--muted);background:var(--muted-bg)}
td.cell .stage{display:block;font-weight:400;text-transform:none;font-size:11px}
footer{margin-top:36px;padding-top:10px;border-top:1px solid var(--line);color:var(--muted);font-size:12.5px}
@media print{body{font-size:11.5px;background:#fff;color:#000}main{max-width:none;padding:0}
details::details-content{content-visibility:visible;display:block}
details>summary{list-style:none}.cert,.wf,tr{break-inside:avoid}.ep,.problem{break-inside:auto}a{color:inherit}
table{font-size:10.5px}code,.mono{font-size:10px}.badge{font-size:9.5px;padding:0 5px}code.portal{white-space:normal;overflow-wrap:anywhere}
h2{break-after:avoid}}
"#;

fn head(o: &mut String, title: &str) {
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <meta name=\"generator\" content=\"{} {}\">\
         <title>{}</title><style>{CSS}</style></head><body><main>",
        esc(crate::TOOL_NAME),
        esc(crate::TOOL_VERSION),
        esc(title)
    );
}

fn tail(o: &mut String) {
    o.push_str("</main></body></html>\n");
}

// ---------------------------------------------------------------------------------------------
// Node report

/// What the page looks up per endpoint and per finding, indexed once so that a page of many
/// thousand endpoints is built in linear time.
struct Index<'a> {
    /// Endpoint name → its position in the report and the endpoint.
    endpoints: HashMap<&'a str, (usize, &'a EndpointReport)>,
    /// Endpoint name → its findings, in report order.
    findings: HashMap<&'a str, Vec<&'a Finding>>,
}

impl<'a> Index<'a> {
    fn new(r: &'a Report) -> Self {
        let mut endpoints = HashMap::with_capacity(r.endpoints.len());
        for (i, e) in r.endpoints.iter().enumerate() {
            // The first of a name wins, as a search from the start would.
            endpoints.entry(e.name.as_str()).or_insert((i, e));
        }
        let mut findings: HashMap<&str, Vec<&Finding>> = HashMap::new();
        for f in &r.findings {
            if let Some(e) = f.endpoint.as_deref() {
                findings.entry(e).or_default().push(f);
            }
        }
        Index { endpoints, findings }
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.endpoints.get(name).map(|(i, _)| *i)
    }

    fn endpoint(&self, name: &str) -> Option<&'a EndpointReport> {
        self.endpoints.get(name).map(|(_, e)| *e)
    }

    /// The findings of one endpoint.
    fn findings_of(&self, name: &str) -> &[&'a Finding] {
        self.findings.get(name).map_or(&[], Vec::as_slice)
    }
}

/// The report as one self-contained HTML page.
pub fn render(report: &Report) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let ix = Index::new(report);
    let verdict = verdict_word(report.summary.verdict);
    head(&mut o, &format!("azs-netprobe: {} on {}", verdict.to_uppercase(), report.node.hostname));
    header(&mut o, report);
    what_to_do(&mut o, report, &ix);
    endpoints(&mut o, report, &ix);
    clock(&mut o, report);
    let _ = write!(
        o,
        "<footer>Report schema version {} · run id <code>{}</code> · generated by {} {}</footer>",
        esc(&report.schema_version),
        esc(&report.run.id),
        esc(&report.tool.name),
        esc(&report.tool.version)
    );
    tail(&mut o);
    o
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Warning => "warning",
        Verdict::Error => "error",
    }
}

fn endpoint_verdict_word(v: EndpointVerdict) -> &'static str {
    match v {
        EndpointVerdict::Ok => "ok",
        EndpointVerdict::Warning => "warning",
        EndpointVerdict::Error => "error",
        EndpointVerdict::Skipped => "skipped",
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn header(o: &mut String, r: &Report) {
    let s = &r.summary;
    let v = verdict_word(s.verdict);
    let _ = write!(
        o,
        "<header class=\"top {}\"><div class=\"verdict\"><span class=\"big {}\">{}</span>{}<h1>{}</h1></div>",
        tone(v),
        tone(v),
        v.to_uppercase(),
        badge(v, &format!("exit code {}", s.exit_code)),
        esc(&r.node.hostname)
    );
    let usage: Vec<String> = s.usage_errors.iter().map(|u| u.as_str().to_string()).collect();
    let _ = write!(
        o,
        "<p class=\"lede\">{} {}, {}, {} across {}. ",
        if s.counts.error + s.counts.warning == 0 { "No problems found:" } else { "Found" },
        plural(s.counts.error, "error", "errors"),
        plural(s.counts.warning, "warning", "warnings"),
        plural(s.counts.info, "note", "notes"),
        plural(r.endpoints.len(), "endpoint", "endpoints"),
    );
    if usage.is_empty() {
        o.push_str("The portal would show no error code from what this node sees.</p>");
    } else {
        let _ = write!(o, "The portal would show: {}</p>", code_list(&usage));
    }
    if r.run.interrupted {
        o.push_str(
            "<p class=\"note warning\"><strong>Interrupted:</strong> the run was stopped before every endpoint finished; \
             the results below are partial.</p>",
        );
    }
    let c = &r.config;
    let ps = &c.probe_set;
    let sha: String = ps.sha256.chars().take(12).collect();
    let proxy = match &c.proxy {
        None => "none (direct connections)".to_string(),
        Some(p) => {
            let mut t = format!("{} <span class=\"muted-text\">(from {})</span>", mono(&p.url), esc(&name(&p.source)));
            if !p.no_proxy.is_empty() {
                let _ = write!(t, "<br>NO_PROXY: {}", esc(&p.no_proxy.join(", ")));
            }
            t
        }
    };
    let dns_source = if c.dns_source == "flag" { "--dns-server" } else { c.dns_source.as_str() };
    let dns = if c.dns_servers.is_empty() {
        "<span class=\"muted-text\">none configured</span>".to_string()
    } else {
        format!(
            "{} <span class=\"muted-text\">(from {})</span>",
            c.dns_servers.iter().map(|d| mono(d)).collect::<Vec<_>>().join(" "),
            esc(dns_source)
        )
    };
    let store = |label: &str, st: &crate::trust::StoreSummary| {
        let mut t = format!("{label}: {} ({})", esc(&st.source), plural(st.anchors, "anchor", "anchors"));
        if let Some(p) = &st.path {
            let _ = write!(t, " {}", mono(p));
        }
        if !st.errors.is_empty() {
            let _ = write!(
                t,
                " <span class=\"badge warning\">{}</span>",
                esc(&plural(st.errors.len(), "unloadable certificate", "unloadable certificates"))
            );
        }
        t
    };
    let rows = vec![
        ("Node", esc(&r.node.hostname)),
        ("OS", esc(&r.node.os)),
        (
            "Run",
            format!(
                "{} · took {}<br><span class=\"muted-text\">node local time {} ({})</span>",
                esc(&fmt_time(&r.run.started_at)),
                esc(&fmt_ms(r.run.duration_ms)),
                esc(&r.node.local_time),
                esc(&r.node.timezone)
            ),
        ),
        ("Tool", format!("{} {}", esc(&r.tool.name), esc(&r.tool.version))),
        ("Cloud", esc(&c.cloud)),
        (
            "Probe set",
            format!(
                "{} version {} · sha256 {}<br><span class=\"muted-text\">{}</span>",
                esc(&ps.name),
                esc(&ps.version),
                mono(&sha),
                esc(&ps.source)
            ),
        ),
        ("Proxy", proxy),
        ("DNS servers", dns),
        ("Trust stores", format!("{}<br>{}", store("public", &c.trust.public), store("system", &c.trust.system))),
        ("Stage timeout", esc(&fmt_ms(c.timeout_ms))),
        (
            "NTP servers",
            if c.ntp_servers.is_empty() {
                "<span class=\"muted-text\">none</span>".into()
            } else {
                c.ntp_servers.iter().map(|n| mono(n)).collect::<Vec<_>>().join(" ")
            },
        ),
    ];
    dl(o, "facts", &rows);
    if !ps.uncovered.is_empty() {
        o.push_str("<p class=\"note\"><strong>Not probed</strong> (only a wildcard is published, no concrete host): ");
        o.push_str(&ps.uncovered.iter().map(|u| esc(u)).collect::<Vec<_>>().join("; "));
        o.push_str("</p>");
    }
    o.push_str("</header>");
}

// ---------------------------------------------------------------------------------------------
// What to do: findings grouped by root cause

/// What makes findings of one code the same problem (as the text summary and the fleet merge decide).
fn cause(f: &Finding) -> Option<String> {
    crate::diagnose::cause_of(&f.evidence).map(|(k, v)| format!("{k}: {v}"))
}

struct Problem<'a> {
    code: Code,
    cause: Option<String>,
    severity: Severity,
    findings: Vec<&'a Finding>,
}

fn group(findings: &[Finding]) -> Vec<Problem<'_>> {
    let mut out: Vec<Problem<'_>> = Vec::new();
    // (code, cause) → the problem's index: one lookup per finding.
    let mut index: HashMap<(Code, Option<String>), usize> = HashMap::new();
    for f in findings {
        let c = cause(f);
        match index.get(&(f.code, c.clone())) {
            Some(&i) => {
                let p = &mut out[i];
                p.severity = p.severity.max(f.severity);
                p.findings.push(f);
            }
            None => {
                index.insert((f.code, c.clone()), out.len());
                out.push(Problem { code: f.code, cause: c, severity: f.severity, findings: vec![f] });
            }
        }
    }
    // Errors first, then warnings, then info; first-seen order within a severity.
    out.sort_by_key(|p| std::cmp::Reverse(p.severity));
    for p in &mut out {
        p.findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    }
    out
}

fn what_to_do(o: &mut String, r: &Report, ix: &Index<'_>) {
    o.push_str("<section id=\"what-to-do\"><h2>What to do</h2>");
    if r.findings.is_empty() {
        o.push_str("<p>No findings: every endpoint answered as expected and the clock is fine.</p></section>");
        return;
    }
    let problems = group(&r.findings);
    let n_main = problems.iter().filter(|p| p.severity != Severity::Info).count();
    if n_main > 0 {
        let _ = write!(
            o,
            "<p class=\"muted-text\">{} grouped into {}: one entry per root cause, listing every endpoint it affects. \
             Errors first.</p>",
            plural(r.findings.len(), "finding", "findings"),
            plural(problems.len(), "problem", "problems")
        );
    }
    let mut idx = 0;
    for p in problems.iter().filter(|p| p.severity != Severity::Info) {
        idx += 1;
        problem(o, p, idx, ix);
    }
    let infos: Vec<&Problem<'_>> = problems.iter().filter(|p| p.severity == Severity::Info).collect();
    if !infos.is_empty() {
        let _ = write!(
            o,
            "<details class=\"group\"><summary>{} <span class=\"muted-text\">(not problems by themselves; context for the above)</span></summary>",
            plural(infos.len(), "informational note", "informational notes")
        );
        for p in infos {
            idx += 1;
            problem(o, p, idx, ix);
        }
        o.push_str("</details>");
    }
    o.push_str("</section>");
}

fn endpoint_link(name: &str, index: Option<usize>) -> String {
    match index {
        Some(i) => format!("<a href=\"#{}\">{}</a>", slug("ep", i, name), esc(name)),
        None => esc(name),
    }
}

fn problem(o: &mut String, p: &Problem<'_>, idx: usize, ix: &Index<'_>) {
    let endpoint_index = |n: &str| ix.position(n);
    let sev = sev_word(p.severity);
    let first = p.findings[0];
    let mut portal: Vec<String> = Vec::new();
    for f in &p.findings {
        if let Some(u) = f.usage_error {
            let s = u.as_str().to_string();
            if !portal.contains(&s) {
                portal.push(s);
            }
        }
    }
    let mut eps: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for f in &p.findings {
        if let Some(e) = f.endpoint.as_deref()
            && seen.insert(e)
        {
            eps.push(e);
        }
    }
    let _ = write!(
        o,
        "<article class=\"problem {}\" id=\"problem-{idx}\"><div class=\"problem-head\">{}<h3><code>{}</code></h3>",
        tone(sev),
        badge(sev, sev),
        esc(p.code.as_str())
    );
    if !portal.is_empty() {
        let _ = write!(o, "<span>portal: {}</span>", code_list(&portal));
    }
    o.push_str("</div><p class=\"where\">");
    if eps.is_empty() {
        o.push_str("Node-wide");
    } else {
        let _ = write!(
            o,
            "{}: {}",
            if eps.len() == 1 { "Endpoint".to_string() } else { format!("{} endpoints", eps.len()) },
            eps.iter().map(|e| endpoint_link(e, endpoint_index(e))).collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(c) = &p.cause {
        let _ = write!(o, " · cause {}", esc(c));
    }
    let _ = write!(o, "</p><p class=\"msg\">{}</p>", esc(&first.message));
    if p.findings.len() > 1 {
        let host_of = |f: &Finding| {
            f.endpoint
                .as_deref()
                .and_then(|e| ix.endpoint(e))
                .map(|x| x.host.clone())
                .or_else(|| f.evidence.get("host").and_then(Value::as_str).map(str::to_string))
        };
        // Messages that differ only by the host name say nothing new: show the host instead.
        let generic = |f: &Finding| match host_of(f) {
            Some(h) if !h.is_empty() => f.message.replace(&h, "\u{0}"),
            _ => f.message.clone(),
        };
        let first_generic = generic(first);
        let same_message = p.findings.iter().all(|f| generic(f) == first_generic);
        let _ = write!(
            o,
            "<table class=\"affected\"><thead><tr><th>Endpoint</th><th>Host</th><th>Severity</th><th>Portal code</th>{}</tr></thead><tbody>",
            if same_message { "" } else { "<th>What was seen</th>" }
        );
        for f in &p.findings {
            let ep = f.endpoint.as_deref().map_or_else(|| "node".to_string(), |e| endpoint_link(e, endpoint_index(e)));
            let _ = write!(
                o,
                "<tr><td class=\"nw\">{ep}</td><td>{}</td><td>{}</td><td>{}</td>",
                host_of(f).as_deref().map_or_else(|| "—".into(), mono),
                badge(sev_word(f.severity), sev_word(f.severity)),
                f.usage_error.map_or_else(|| "—".into(), |u| format!("<code class=\"portal\">{}</code>", u.as_str())),
            );
            if !same_message {
                let _ = write!(o, "<td>{}</td>", esc(&f.message));
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table>");
    }
    let rem = &first.remediation;
    o.push_str("<div class=\"fix\">");
    let _ = write!(o, "<p><strong>What to do:</strong> {}</p>", esc(&rem.summary));
    if !rem.steps.is_empty() {
        o.push_str("<ol>");
        for s in &rem.steps {
            let _ = write!(o, "<li>{}</li>", esc(s));
        }
        o.push_str("</ol>");
    }
    let differs = p.findings.iter().any(|f| f.remediation != *rem);
    if differs && let Some(e) = first.endpoint.as_deref() {
        let host = ix.endpoint(e).map(|x| x.host.as_str()).unwrap_or(e);
        let _ = write!(
            o,
            "<p class=\"muted-text\">Steps as written for {} ({}); apply them to each endpoint listed above with its own host name.</p>",
            esc(e),
            esc(host)
        );
    }
    if !rem.references.is_empty() {
        let _ = write!(
            o,
            "<p class=\"refs\">References: {}</p>",
            rem.references.iter().map(|u| link(u)).collect::<Vec<_>>().join(" · ")
        );
    }
    o.push_str("</div>");
    evidence(o, p);
    o.push_str("</article>");
}

/// The evidence as a key/value table of what the endpoints share, and a table per endpoint of
/// what differs between them (host, timings, error texts), collapsed.
fn evidence(o: &mut String, p: &Problem<'_>) {
    let mut keys: Vec<&str> = Vec::new();
    for f in &p.findings {
        for (k, v) in &f.evidence {
            if !v.is_null() && !keys.contains(&k.as_str()) {
                keys.push(k);
            }
        }
    }
    if keys.is_empty() {
        return;
    }
    let get = |f: &Finding, k: &str| f.evidence.get(k).cloned().unwrap_or(Value::Null);
    let (shared, varying): (Vec<&str>, Vec<&str>) =
        keys.iter().partition(|k| p.findings.windows(2).all(|w| get(w[0], k) == get(w[1], k)));
    let open = if p.severity == Severity::Info { "" } else { " open" };
    let _ = write!(
        o,
        "<details class=\"evidence\"{open}><summary>Evidence <span class=\"muted-text\">({})</span></summary>",
        plural(keys.len(), "fact", "facts")
    );
    if !shared.is_empty() {
        o.push_str("<table class=\"kvt\"><tbody>");
        for k in &shared {
            let _ =
                write!(o, "<tr><th>{}</th><td class=\"mono\">{}</td></tr>", esc(k), value_html(&get(p.findings[0], k)));
        }
        o.push_str("</tbody></table>");
    }
    if !varying.is_empty() {
        let _ = write!(
            o,
            "<details class=\"varying\"><summary>Per endpoint <span class=\"muted-text\">({} that differ: {})</span></summary>\
             <table class=\"kvt per\"><thead><tr><th>endpoint</th>",
            plural(varying.len(), "fact", "facts"),
            esc(&varying.join(", "))
        );
        for k in &varying {
            let _ = write!(o, "<th>{}</th>", esc(k));
        }
        o.push_str("</tr></thead><tbody>");
        for f in &p.findings {
            let _ = write!(o, "<tr><td>{}</td>", esc(f.endpoint.as_deref().unwrap_or("node")));
            for k in &varying {
                let _ = write!(o, "<td class=\"mono\">{}</td>", value_html(&get(f, k)));
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table></details>");
    }
    o.push_str("</details>");
}

// ---------------------------------------------------------------------------------------------
// Endpoints

fn endpoint_codes(ix: &Index<'_>, e: &EndpointReport) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for f in ix.findings_of(&e.name) {
        if let Some(u) = f.usage_error {
            let s = u.as_str().to_string();
            if !codes.contains(&s) {
                codes.push(s);
            }
        }
    }
    codes
}

fn endpoints(o: &mut String, r: &Report, ix: &Index<'_>) {
    o.push_str("<section id=\"endpoints\"><h2>Endpoints</h2>");
    if r.endpoints.is_empty() {
        o.push_str("<p>No endpoint was probed.</p></section>");
        return;
    }
    o.push_str(
        "<table class=\"endpoints\"><thead><tr><th>Endpoint</th><th>Role</th><th>Host</th><th>Stands for</th>\
         <th>Stage reached</th><th>Verdict</th><th>Portal codes</th></tr></thead><tbody>",
    );
    for (i, e) in r.endpoints.iter().enumerate() {
        let v = endpoint_verdict_word(e.verdict);
        let codes = endpoint_codes(ix, e);
        let _ = write!(
            o,
            "<tr><td class=\"nw\">{}{}</td><td class=\"nw\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            endpoint_link(&e.name, Some(i)),
            if e.required { "" } else { "<br><span class=\"muted-text\">optional</span>" },
            esc(e.role.as_str()),
            mono(&format!("{}:{}", e.host, e.port)),
            e.represents.as_deref().map_or_else(|| "—".into(), mono),
            esc(&e.stage),
            badge(v, v),
            if codes.is_empty() { "—".into() } else { code_list(&codes) }
        );
    }
    o.push_str(
        "</tbody></table><p class=\"muted-text\">Per endpoint below: each stage as a bar from where it began to where it \
         ended, on one millisecond axis counted from the endpoint's DNS query (DNS, then the TCP attempts, which run in \
         parallel, or the proxy hop, then TLS and HTTP; a failed stage in red, labelled with its status), then each \
         stage's details.</p>",
    );
    let run_time = parse_time(&r.run.started_at);
    for (i, e) in r.endpoints.iter().enumerate() {
        endpoint(o, ix, e, i, run_time);
    }
    o.push_str("</section>");
}

/// Which stage failed (the one to open by default).
fn failed_stage(e: &EndpointReport) -> Option<&'static str> {
    if !matches!(e.dns.status, DnsStatus::Ok | DnsStatus::NotNeeded) {
        return Some("dns");
    }
    if let Some(p) = &e.proxy
        && !matches!(p.status, ProxyStatus::Ok | ProxyStatus::Bypassed)
    {
        return Some("proxy");
    }
    if !e.tcp.is_empty() && e.tcp.iter().all(|a| a.status != TcpStatus::Ok) {
        return Some("tcp");
    }
    if let Some(t) = &e.tls {
        let untrusted = t.trust.as_ref().is_some_and(|tr| !tr.public.is_trusted() || !tr.system.is_trusted());
        let intercepted = t.interception.as_ref().is_some_and(|i| i.detected);
        if !matches!(t.status, TlsStatus::Ok | TlsStatus::NotAttempted) || untrusted || intercepted {
            return Some("tls");
        }
    }
    if let Some(h) = &e.http
        && !matches!(h.status, HttpStatus::Ok | HttpStatus::NotAttempted)
    {
        return Some("http");
    }
    None
}

fn endpoint(o: &mut String, ix: &Index<'_>, e: &EndpointReport, i: usize, run_time: Option<DateTime<Utc>>) {
    let v = endpoint_verdict_word(e.verdict);
    let _ = write!(
        o,
        "<article class=\"ep\" id=\"{}\"><div class=\"ep-head\"><h3>{}</h3>{}<span class=\"muted-text\">{} · {}</span>",
        slug("ep", i, &e.name),
        esc(&e.name),
        badge(v, v),
        esc(e.role.as_str()),
        esc(&e.stage)
    );
    let codes = endpoint_codes(ix, e);
    if !codes.is_empty() {
        let _ = write!(o, "<span>{}</span>", code_list(&codes));
    }
    let _ = write!(o, "</div><div class=\"url mono\">{}</div>", esc(&e.url));
    if let Some(w) = &e.represents {
        let _ = write!(
            o,
            "<p class=\"note\">{} stands for the published wildcard {}: only a wildcard is published, so a concrete host of that domain is probed.</p>",
            mono(&e.host),
            mono(w)
        );
    }
    if let Some(n) = &e.note {
        let _ = write!(o, "<p class=\"muted-text\">{}</p>", esc(n));
    }
    let own = ix.findings_of(&e.name);
    let http_finding = own.iter().any(|f| f.code.stage() == "http" && f.severity != Severity::Info);
    waterfall(o, e, http_finding);
    // Open the details of the stage the worst finding blames (else of the first failed stage).
    let blamed = own.iter().filter(|f| f.severity != Severity::Info).max_by_key(|f| f.severity).map(|f| f.code.stage());
    let failed = blamed.or_else(|| failed_stage(e));
    let open = |stage: &str| if failed == Some(stage) { " open" } else { "" };

    // DNS
    let d = &e.dns;
    if not_reached_section(o, e, Stage::Dns, "dns", "DNS") {
        o.push_str("</article>");
        return;
    }
    let _ = write!(
        o,
        "<details class=\"dns\"{}><summary>DNS <span class=\"muted-text\">{} · {} · {}</span></summary>",
        open("dns"),
        esc(&label(&d.status)),
        esc(&fmt_ms(d.duration_ms)),
        esc(&plural(d.addresses.len(), "address", "addresses"))
    );
    let mut rows = vec![
        ("Status", badge(dns_tone(d.status), &label(&d.status))),
        ("Server", opt(d.server.as_deref())),
        ("Duration", esc(&fmt_ms(d.duration_ms))),
        (
            "Addresses",
            if d.addresses.is_empty() {
                "—".into()
            } else {
                d.addresses.iter().map(|a| mono(a)).collect::<Vec<_>>().join(" ")
            },
        ),
        (
            "CNAMEs",
            if d.cnames.is_empty() {
                "—".into()
            } else {
                d.cnames.iter().map(|a| mono(a)).collect::<Vec<_>>().join(" → ")
            },
        ),
    ];
    if let Some(err) = &d.error {
        rows.push(("Error", format!("<span class=\"mono\">{}</span>", esc(err))));
    }
    dl(o, "kv", &rows);
    o.push_str("</details>");

    // TCP (or the proxy hop) in flight
    for (stage, class, name) in [(Stage::Tcp, "tcp", "TCP"), (Stage::Proxy, "proxy", "Proxy hop")] {
        if e.interrupted.is_some_and(|i| i.stage == stage) {
            not_reached_section(o, e, stage, class, name);
        }
    }

    // TCP
    if !e.tcp.is_empty() {
        let ok = e.tcp.iter().filter(|a| a.status == TcpStatus::Ok).count();
        let _ = write!(
            o,
            "<details class=\"tcp\"{}><summary>TCP <span class=\"muted-text\">{} of {} connected</span></summary>\
             <table><thead><tr><th>Address</th><th>To</th><th>Status</th><th class=\"num\">Duration</th><th>Error</th></tr></thead><tbody>",
            open("tcp"),
            ok,
            plural(e.tcp.len(), "attempt", "attempts")
        );
        for a in &e.tcp {
            let st = label(&a.status);
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                mono(&a.address),
                if a.peer == Peer::Proxy { "proxy" } else { "endpoint" },
                badge(if a.status == TcpStatus::Ok { "ok" } else { "error" }, &st),
                esc(&fmt_ms(a.duration_ms)),
                opt(a.error.as_deref())
            );
        }
        o.push_str("</tbody></table></details>");
    }

    // Proxy
    if let Some(p) = &e.proxy {
        let st = label(&p.status);
        let good = matches!(p.status, ProxyStatus::Ok | ProxyStatus::Bypassed);
        let _ = write!(
            o,
            "<details class=\"proxy\"{}><summary>Proxy hop <span class=\"muted-text\">{}{} · {}</span></summary>",
            open("proxy"),
            esc(&st),
            p.http_status.map(|c| format!(" (HTTP {c})")).unwrap_or_default(),
            esc(&fmt_ms(p.duration_ms))
        );
        let mut rows = vec![
            ("Proxy", mono(&p.url)),
            ("Status", badge(if good { "ok" } else { "error" }, &st)),
            ("CONNECT answer", p.http_status.map_or_else(|| "—".into(), |c| format!("HTTP {c}"))),
            ("Address", opt(p.address.map(|a| a.to_string()).as_deref())),
            ("Duration", esc(&fmt_ms(p.duration_ms))),
            (
                "Authenticate",
                if p.authenticate.is_empty() {
                    "—".into()
                } else {
                    p.authenticate.iter().map(|a| mono(a)).collect::<Vec<_>>().join(" ")
                },
            ),
            ("Credentials sent", if p.credentials_sent { "yes".into() } else { "no".into() }),
            ("Server", opt(p.server.as_deref())),
            ("Via", opt(p.via.as_deref())),
        ];
        if let Some(b) = &p.bypass_rule {
            rows.push(("NO_PROXY rule", mono(b)));
        }
        if let Some(err) = &p.error {
            rows.push(("Error", esc(err)));
        }
        if let Some(b) = &p.body_excerpt {
            rows.push(("Refusal page", format!("<pre>{}</pre>", esc(b))));
        }
        dl(o, "kv", &rows);
        o.push_str("</details>");
    }

    // TLS
    if let Some(t) = &e.tls
        && (t.status != TlsStatus::NotAttempted || !not_reached_section(o, e, Stage::Tls, "tls", "TLS"))
    {
        tls(o, t, open("tls"), run_time);
    }

    // HTTP
    if let Some(h) = &e.http {
        http(o, ix, e, h, open("http"));
    }
    o.push_str("</article>");
}

/// For a stage that observed nothing: its summary and a sentence saying why (an earlier stage
/// failed, the run was stopped while it ran, or before it started). None when the stage ran.
fn not_reached(e: &EndpointReport, stage: Stage) -> Option<(String, String)> {
    match e.interrupted {
        Some(i) if i.stage == stage => Some((
            esc(&format!("interrupted after {}", fmt_ms(i.after_ms))),
            esc(&format!(
                "In flight when the run was stopped, after {}: nothing was observed yet.",
                fmt_ms(i.after_ms)
            )),
        )),
        Some(i) if i.stage.order() < stage.order() => {
            Some(("not attempted".into(), "Not attempted: the run was stopped during an earlier stage.".into()))
        }
        Some(_) => None,
        None if e.verdict == EndpointVerdict::Skipped => {
            Some(("not attempted".into(), "Not attempted: the run was stopped before this endpoint started.".into()))
        }
        None if stage == Stage::Dns => None,
        None => Some(("not attempted".into(), "Not attempted: an earlier stage failed.".into())),
    }
}

/// The section of a stage that observed nothing, saying why ([`not_reached`]), open when it is
/// the stage in flight; false (nothing written) when the stage ran.
fn not_reached_section(o: &mut String, e: &EndpointReport, stage: Stage, class: &str, name: &str) -> bool {
    let Some((summary, text)) = not_reached(e, stage) else { return false };
    let open = if e.interrupted.is_some_and(|i| i.stage == stage) { " open" } else { "" };
    let _ = write!(
        o,
        "<details class=\"{class}\"{open}><summary>{name} <span class=\"muted-text\">{summary}</span></summary>\
         <p class=\"muted-text\">{text}</p></details>"
    );
    true
}

fn http(o: &mut String, ix: &Index<'_>, e: &EndpointReport, h: &super::HttpReport, open: &str) {
    let st = label(&h.status);
    if h.status == HttpStatus::NotAttempted && not_reached_section(o, e, Stage::Http, "http", "HTTP") {
        return;
    }
    let _ = write!(
        o,
        "<details class=\"http\"{}><summary>HTTP <span class=\"muted-text\">{}{} · {}</span></summary>",
        open,
        esc(&st),
        h.status_code.map(|c| format!(" {c}")).unwrap_or_default(),
        esc(&fmt_ms(h.duration_ms))
    );
    let code_tone = match (e.verdict, h.status_code) {
        (_, None) => "muted",
        (EndpointVerdict::Ok, _) => "ok",
        _ if ix.findings_of(&e.name).iter().any(|f| f.code == Code::HttpUnexpectedStatus) => "error",
        _ => "ok",
    };
    let mut rows = vec![
        ("Status", badge(if h.status == HttpStatus::Ok { "ok" } else { "error" }, &st)),
        ("Status code", h.status_code.map_or_else(|| "—".into(), |c| badge(code_tone, &c.to_string()))),
        ("Duration", esc(&fmt_ms(h.duration_ms))),
        ("Server", opt(h.server.as_deref())),
        ("Via", opt(h.via.as_deref())),
        (
            "Proxy headers",
            if h.proxy_headers.is_empty() {
                "none".into()
            } else {
                h.proxy_headers.iter().map(|x| mono(x)).collect::<Vec<_>>().join("<br>")
            },
        ),
        ("Date", opt(h.date.as_deref())),
    ];
    if let Some(err) = &h.error {
        rows.push(("Error", esc(err)));
    }
    dl(o, "kv", &rows);
    o.push_str("</details>");
}

fn dns_tone(s: DnsStatus) -> &'static str {
    match s {
        DnsStatus::Ok | DnsStatus::NotNeeded => "ok",
        _ => "error",
    }
}

/// The TLS section of a handshake that was attempted (see [`not_reached_section`] otherwise).
fn tls(o: &mut String, t: &super::TlsReport, open: &str, run_time: Option<DateTime<Utc>>) {
    let st = label(&t.status);
    let _ = write!(
        o,
        "<details class=\"tls\"{open}><summary>TLS <span class=\"muted-text\">{}{} · {}</span></summary>",
        esc(&st),
        t.version.as_deref().map(|v| format!(" · {v}")).map(|v| esc(&v)).unwrap_or_default(),
        esc(&fmt_ms(t.duration_ms))
    );
    let mut rows = vec![
        ("Status", badge(if t.status == TlsStatus::Ok { "ok" } else { "error" }, &st)),
        ("Version", opt(t.version.as_deref())),
        ("Cipher suite", opt(t.cipher_suite.as_deref())),
        ("SNI", opt(t.sni.as_deref())),
        ("ALPN", opt(t.alpn.as_deref())),
        ("Address", opt(t.address.as_deref())),
        ("Duration", esc(&fmt_ms(t.duration_ms))),
    ];
    if let Some(a) = &t.alert {
        rows.push(("Alert", esc(a)));
    }
    if let Some(l) = &t.legacy_version {
        rows.push((
            "Legacy version",
            format!("{} <span class=\"muted-text\">(answered when offered only TLS 1.0/1.1)</span>", esc(l)),
        ));
    }
    if let Some(err) = &t.error {
        rows.push(("Error", esc(err)));
    }
    let basic = rows.len();
    if let Some(tr) = &t.trust {
        let verdict = |v: crate::trust::TrustVerdict, detail: &Option<String>| {
            let mut s = badge(if v.is_trusted() { "ok" } else { "error" }, v.as_str());
            if let Some(d) = detail {
                let _ = write!(s, " <span class=\"muted-text\">{}</span>", esc(d));
            }
            s
        };
        rows.push(("Public roots", verdict(tr.public, &tr.public_detail)));
        rows.push(("OS trust store", verdict(tr.system, &tr.system_detail)));
    }
    if let Some(i) = &t.interception {
        let mut s =
            if i.detected { badge("error", "interception detected") } else { badge("ok", "no interception detected") };
        if let Some(p) = &i.product {
            let _ = write!(s, " product: <strong>{}</strong>", esc(p));
        }
        if let Some(iss) = &i.issuer {
            let _ = write!(s, " · issuer: {}", esc(iss));
        }
        if i.detected {
            let _ = write!(
                s,
                " · {}",
                if i.trusted_by_system {
                    "the node's OS store trusts this CA"
                } else {
                    "not trusted by the node's OS store"
                }
            );
        }
        if !i.evidence.is_empty() {
            s.push_str("<ul class=\"plain\">");
            for ev in &i.evidence {
                let _ = write!(s, "<li>{}</li>", esc(ev));
            }
            s.push_str("</ul>");
        }
        rows.push(("Interception", s));
    }
    let verdicts = rows.split_off(basic);
    dl(o, "kv cols", &rows);
    dl(o, "kv wide", &verdicts);
    revocation_table(o, t);
    if !t.chain.is_empty() {
        let dated = t
            .chain
            .iter()
            .filter(|c| {
                let (nb, na) = (parse_time(&c.not_before), parse_time(&c.not_after));
                run_time.is_some_and(|t| na.is_some_and(|na| t > na) || nb.is_some_and(|nb| t < nb))
            })
            .count();
        let leaf_issuer = t.chain[0].issuer_cn.as_deref().unwrap_or(&t.chain[0].issuer);
        let _ = write!(
            o,
            "<details class=\"chain-view\"><summary>Certificate chain <span class=\"muted-text\">({} presented, leaf first; leaf issued by {}{})</span></summary><div class=\"chain\">",
            t.chain.len(),
            esc(leaf_issuer),
            if dated > 0 {
                format!("; <strong class=\"bad-text\">{} outside its validity at run time</strong>", dated)
            } else {
                String::new()
            }
        );
        for (n, c) in t.chain.iter().enumerate() {
            cert(o, n, t.chain.len(), c, run_time);
        }
        o.push_str("</div></details>");
    }
    o.push_str("</details>");
}

fn cert(o: &mut String, n: usize, len: usize, c: &CertFacts, run_time: Option<DateTime<Utc>>) {
    let position = if n == 0 {
        "leaf"
    } else if c.is_ca && c.subject == c.issuer {
        "root"
    } else if n + 1 == len && c.is_ca {
        "top of chain"
    } else {
        "intermediate"
    };
    let nb = parse_time(&c.not_before);
    let na = parse_time(&c.not_after);
    let (marker, bad) = match (run_time, nb, na) {
        (Some(t), _, Some(na)) if t > na => (badge("error", "expired at run time"), true),
        (Some(t), Some(nb), _) if t < nb => (badge("error", "not yet valid at run time"), true),
        (Some(t), _, Some(na)) => {
            let days = (na - t).num_days();
            if days < 30 {
                (badge("warning", &format!("expires in {days} days")), false)
            } else {
                (badge("ok", "valid at run time"), false)
            }
        }
        _ => (String::new(), false),
    };
    let title = c.subject_cn.as_deref().unwrap_or(&c.subject);
    let _ = write!(
        o,
        "<div class=\"cert{}\"><div class=\"cert-head\">{}<strong>{}</strong>{}{}</div>",
        if bad { " bad" } else { "" },
        badge("muted", &format!("#{n} {position}")),
        esc(title),
        if c.is_ca { badge("info", "CA") } else { String::new() },
        marker
    );
    let mut rows = vec![
        ("Subject", esc(&c.subject)),
        ("Issuer", esc(&c.issuer)),
        ("Validity", format!("{} → {}", esc(&fmt_time(&c.not_before)), esc(&fmt_time(&c.not_after)))),
    ];
    if !c.sans.is_empty() {
        rows.push(("SANs", c.sans.iter().map(|s| mono(s)).collect::<Vec<_>>().join(" ")));
    }
    rows.push(("Key", esc(&c.key)));
    rows.push(("Signature", esc(&c.signature_algorithm)));
    rows.push((
        "SCTs",
        if c.sct_count == 0 && n == 0 {
            "0 <span class=\"muted-text\">(publicly trusted CAs log their leaves)</span>".into()
        } else {
            c.sct_count.to_string()
        },
    ));
    if let Some(pl) = c.path_len {
        rows.push(("Path length", pl.to_string()));
    }
    rows.push(("Serial", format!("<span class=\"fp\">{}</span>", esc(&c.serial))));
    rows.push(("SHA-256", format!("<span class=\"fp\">{}</span>", esc(&c.sha256))));
    rows.push(("SPKI SHA-256", format!("<span class=\"fp\">{}</span>", esc(&c.spki_sha256))));
    if !c.aia.is_empty() {
        rows.push(("AIA", c.aia.iter().map(|a| mono(a)).collect::<Vec<_>>().join("<br>")));
    }
    if let Some(pe) = &c.parse_error {
        rows.push(("Parse error", esc(pe)));
    }
    dl(o, "kv", &rows);
    o.push_str("</div>");
}

// ---------------------------------------------------------------------------------------------
// The waterfall: stage timings on a shared millisecond axis

struct Bar {
    label: String,
    start: u64,
    len: u64,
    /// `ok`, `proxy`, `fail`, or `skip` (not attempted: no bar).
    kind: &'static str,
    status: String,
}

/// The bars of an endpoint's stages; `http_finding`: a finding blames the HTTP answer.
fn bars(e: &EndpointReport, http_finding: bool) -> Vec<Bar> {
    let mut out = Vec::new();
    // The stage in flight when the run was stopped: an open bar as long as it had run.
    let open = |stage: Stage, label: &str, start: u64| {
        e.interrupted.filter(|i| i.stage == stage).map(|i| Bar {
            label: label.into(),
            start,
            len: i.after_ms,
            kind: "open",
            status: "interrupted".into(),
        })
    };
    let dns_ok = matches!(e.dns.status, DnsStatus::Ok | DnsStatus::NotNeeded);
    if let Some(bar) = open(Stage::Dns, "DNS", 0) {
        out.push(bar);
        return out;
    }
    out.push(Bar {
        label: "DNS".into(),
        start: 0,
        len: e.dns.duration_ms,
        kind: if dns_ok { "ok" } else { "fail" },
        status: label(&e.dns.status),
    });
    // Where each stage began: from the report's stage starts (relative to the DNS query),
    // else (older reports) placed one after another.
    let base = e.started_ms.dns;
    let at = |start: Option<u64>, fallback: u64| match (start, base) {
        (Some(s), Some(b)) => s.saturating_sub(b),
        _ => fallback,
    };
    let mut t = at(e.started_ms.connect, e.dns.duration_ms);
    // TCP attempts run concurrently (one per address); through a proxy they go to the proxy,
    // within the proxy hop's time (which also covers resolving the proxy and the CONNECT).
    let mut end = t;
    let proxied = e.proxy.as_ref().filter(|p| p.status != ProxyStatus::Bypassed);
    for a in &e.tcp {
        let ok = a.status == TcpStatus::Ok;
        let who = if a.peer == Peer::Proxy { "TCP proxy " } else { "TCP " };
        out.push(Bar {
            label: format!("{who}{}", a.address),
            start: t,
            len: a.duration_ms,
            kind: if ok { "ok" } else { "fail" },
            status: label(&a.status),
        });
        end = end.max(t + a.duration_ms);
    }
    if let Some(p) = proxied {
        let ok = p.status == ProxyStatus::Ok;
        let status = match p.http_status {
            Some(c) => format!("{} {c}", label(&p.status)),
            None => label(&p.status),
        };
        out.push(Bar {
            label: "Proxy CONNECT".into(),
            start: t,
            len: p.duration_ms,
            kind: if ok { "proxy" } else { "fail" },
            status,
        });
        end = end.max(t + p.duration_ms);
    } else if let Some(bar) = open(Stage::Tcp, "TCP", t).or_else(|| open(Stage::Proxy, "Proxy CONNECT", t)) {
        out.push(bar);
        return out;
    } else if e.tcp.is_empty() {
        out.push(Bar { label: "TCP".into(), start: t, len: 0, kind: "skip", status: "not attempted".into() });
    }
    t = at(e.started_ms.tls, end);
    if let Some(tls) = &e.tls {
        if let Some(bar) = open(Stage::Tls, "TLS", t) {
            out.push(bar);
            return out;
        } else if tls.status == TlsStatus::NotAttempted {
            out.push(Bar { label: "TLS".into(), start: t, len: 0, kind: "skip", status: "not attempted".into() });
        } else {
            let trust_bad = tls.trust.as_ref().is_some_and(|tr| !tr.public.is_trusted() || !tr.system.is_trusted());
            let intercepted = tls.interception.as_ref().is_some_and(|i| i.detected);
            let status = if tls.status != TlsStatus::Ok {
                label(&tls.status)
            } else if intercepted {
                "ok · intercepted".into()
            } else if trust_bad {
                "ok · untrusted".into()
            } else {
                "ok".into()
            };
            out.push(Bar {
                label: "TLS".into(),
                start: t,
                len: tls.duration_ms,
                kind: if tls.status == TlsStatus::Ok && !trust_bad && !intercepted { "ok" } else { "fail" },
                status,
            });
            t = at(e.started_ms.http, t + tls.duration_ms);
        }
    }
    if let Some(h) = &e.http {
        if let Some(bar) = open(Stage::Http, "HTTP", t) {
            out.push(bar);
        } else if h.status == HttpStatus::NotAttempted {
            out.push(Bar { label: "HTTP".into(), start: t, len: 0, kind: "skip", status: "not attempted".into() });
        } else {
            let status = match h.status_code {
                Some(c) if h.status == HttpStatus::Ok => c.to_string(),
                _ => label(&h.status),
            };
            let bad = h.status != HttpStatus::Ok || http_finding;
            out.push(Bar {
                label: "HTTP".into(),
                start: t,
                len: h.duration_ms,
                kind: if bad { "fail" } else { "ok" },
                status,
            });
        }
    }
    out
}

/// A "nice" axis maximum and tick step for `total` milliseconds.
fn axis(total: u64) -> (u64, u64) {
    let total = total.max(1);
    let mut step = 1u64;
    loop {
        for m in [1u64, 2, 5] {
            let s = step * m;
            if total.div_ceil(s) <= 5 {
                return (total.div_ceil(s) * s, s);
            }
        }
        step *= 10;
    }
}

fn waterfall(o: &mut String, e: &EndpointReport, http_finding: bool) {
    let bars = bars(e, http_finding);
    let total = bars.iter().map(|b| b.start + b.len).max().unwrap_or(0);
    let (max, step) = axis(total);
    const W: u64 = 900;
    const LEFT: u64 = 230;
    const RIGHT: u64 = 170;
    const ROW: u64 = 22;
    const TOP: u64 = 8;
    let plot = W - LEFT - RIGHT;
    let h = TOP + ROW * bars.len() as u64 + 24;
    let x = |ms: u64| LEFT + ms.min(max) * plot / max;
    let _ = write!(
        o,
        "<svg class=\"wf\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">\
         <title>{}</title>",
        esc(&format!("Stage timings of {}", e.name)),
        esc(&match e.started_ms.dns {
            Some(dns) => format!(
                "Stage timings of {} from its DNS query, {} into the run (TCP attempts run in parallel)",
                e.name,
                fmt_ms(dns)
            ),
            None =>
                format!("Stage timings of {} (stages placed one after another; TCP attempts run in parallel)", e.name),
        })
    );
    // Grid and axis.
    let axis_y = TOP + ROW * bars.len() as u64 + 2;
    let mut tick = 0;
    while tick <= max {
        let tx = x(tick);
        let _ = write!(
            o,
            "<line class=\"grid\" x1=\"{tx}\" y1=\"{TOP}\" x2=\"{tx}\" y2=\"{axis_y}\"></line>\
             <text class=\"dim\" x=\"{tx}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            axis_y + 14,
            esc(&fmt_ms(tick))
        );
        tick += step;
    }
    let _ =
        write!(o, "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{axis_y}\" x2=\"{}\" y2=\"{axis_y}\"></line>", LEFT + plot);
    for (i, b) in bars.iter().enumerate() {
        let y = TOP + ROW * i as u64;
        let label: String = if b.label.chars().count() > 32 {
            format!("{}…", b.label.chars().take(31).collect::<String>())
        } else {
            b.label.clone()
        };
        let _ = write!(
            o,
            "<text class=\"lbl\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LEFT - 8,
            y + 15,
            esc(&label)
        );
        let x0 = x(b.start);
        let tail_x = if b.kind == "skip" {
            x0 + 4
        } else {
            let w = (x(b.start + b.len) - x0).max(3);
            let class = match b.kind {
                "fail" => "b-fail",
                "proxy" => "b-proxy",
                "open" => "b-open",
                _ => "b-ok",
            };
            let _ = write!(
                o,
                "<rect class=\"{class}\" x=\"{x0}\" y=\"{}\" width=\"{w}\" height=\"14\" rx=\"2\"><title>{}</title></rect>",
                y + 4,
                esc(&format!("{}: {} ({})", b.label, b.status, fmt_ms(b.len)))
            );
            x0 + w + 6
        };
        let (class, text) = match b.kind {
            "skip" => ("t-skip", b.status.clone()),
            "fail" => ("t-fail", format!("{} · {}", b.status, fmt_ms(b.len))),
            _ => ("dim", format!("{} · {}", b.status, fmt_ms(b.len))),
        };
        let _ = write!(o, "<text class=\"{class}\" x=\"{tail_x}\" y=\"{}\">{}</text>", y + 15, esc(&text));
    }
    o.push_str("</svg>");
}

// ---------------------------------------------------------------------------------------------
// Clock

fn clock(o: &mut String, r: &Report) {
    let c = &r.clock;
    let v = match c.verdict {
        ClockVerdict::Ok => "ok",
        ClockVerdict::Warning => "warning",
        ClockVerdict::Error => "error",
        ClockVerdict::Unknown => "unknown",
    };
    o.push_str("<section id=\"clock\"><h2>Clock</h2><p>");
    let explain = match c.offset_seconds {
        Some(off) => {
            let _ = write!(
                o,
                "<span class=\"clock-big\">{off:+.3} s</span> ± {:.3} s ",
                c.uncertainty_seconds.unwrap_or(0.0)
            );
            format!(
                "The node's clock is {:.1} s {} the time sources. Sign-in tokens tolerate 300 s of skew; more than 60 s is a warning.",
                off.abs(),
                if off >= 0.0 { "ahead of" } else { "behind" }
            )
        }
        None => {
            o.push_str("<span class=\"clock-big\">not verified</span> ");
            "No time source answered, so the node's clock could not be checked.".to_string()
        }
    };
    let _ = write!(o, "{} <span class=\"muted-text\">{}</span></p>", badge(v, v), esc(&explain));
    if c.sources.is_empty() {
        o.push_str("<p class=\"muted-text\">No time source was consulted.</p></section>");
        return;
    }
    o.push_str(
        "<table><thead><tr><th>Kind</th><th>Server</th><th class=\"num\">Offset</th><th class=\"num\">Uncertainty</th>\
         <th class=\"num\">RTT</th><th class=\"num\">Stratum</th><th>Outlier</th><th>Error</th></tr></thead><tbody>",
    );
    for s in &c.sources {
        let kind = name(&s.kind);
        let _ = write!(
            o,
            "<tr><td class=\"nw\">{}</td><td class=\"nw\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(if kind == "http_date" {
                "HTTP Date"
            } else if kind == "ntp" {
                "NTP"
            } else {
                &kind
            }),
            mono(&s.server),
            s.offset_seconds.map_or_else(|| "—".into(), |x| format!("{x:+.3} s")),
            s.uncertainty_seconds.map_or_else(|| "—".into(), |x| format!("± {x:.3} s")),
            s.rtt_ms.map_or_else(|| "—".into(), fmt_ms),
            s.stratum.map_or_else(|| "—".into(), |x| x.to_string()),
            if s.outlier { badge("warning", "outlier") } else { "no".into() },
            opt(s.error.as_deref())
        );
    }
    o.push_str("</tbody></table></section>");
}

// ---------------------------------------------------------------------------------------------
// Fleet

/// The fleet report as one self-contained HTML page.
pub fn render_fleet(fleet: &FleetReport) -> String {
    let mut o = String::with_capacity(32 * 1024);
    let s = &fleet.summary;
    let v = s.verdict.as_str();
    let word = match v {
        "ok" | "warning" | "error" => v.to_string(),
        _ => "unknown".to_string(),
    };
    head(&mut o, &format!("azs-netprobe fleet: {} across {} nodes", word.to_uppercase(), s.nodes));
    let _ = write!(
        o,
        "<header class=\"top {}\"><div class=\"verdict\"><span class=\"big {}\">{}</span>{}<h1>Fleet of {}</h1></div>",
        tone(&word),
        tone(&word),
        esc(&word.to_uppercase()),
        badge(&word, &format!("exit code {}", s.exit_code)),
        esc(&plural(s.nodes, "node", "nodes"))
    );
    let _ = write!(
        o,
        "<p class=\"lede\">{} of {} with errors. The portal would show: {}</p>",
        s.nodes_with_errors,
        plural(s.nodes, "node", "nodes"),
        code_list(&s.usage_errors)
    );
    let rows = vec![
        ("Nodes", s.nodes.to_string()),
        ("With errors", s.nodes_with_errors.to_string()),
        ("Merged", esc(&fmt_time(&fleet.generated_at))),
        ("Tool", format!("{} {}", esc(&fleet.tool.name), esc(&fleet.tool.version))),
    ];
    dl(&mut o, "facts", &rows);
    o.push_str("</header>");

    // Where nodes differ.
    if s.differences.is_empty() {
        o.push_str(
            "<section class=\"diffs none\" id=\"differences\"><h2>Where nodes differ</h2>\
             <p>Nowhere: every problem below is shared by all nodes (look for a common cause: DNS, proxy, firewall).</p></section>",
        );
    } else {
        o.push_str("<section class=\"diffs\" id=\"differences\"><h2>Where nodes differ</h2><ul>");
        for d in &s.differences {
            let _ = write!(o, "<li>{}</li>", esc(d));
        }
        o.push_str(
            "</ul><p class=\"muted-text\">Problems only some nodes have point at those nodes' own configuration \
             (proxy settings, trust store, clock, DNS).</p></section>",
        );
    }

    // Nodes.
    o.push_str(
        "<section id=\"nodes\"><h2>Nodes</h2><table><thead><tr><th>Hostname</th><th>Verdict</th><th class=\"num\">Exit</th>\
         <th>Portal codes</th><th class=\"num\">Errors</th><th class=\"num\">Warnings</th><th class=\"num\">Clock offset</th>\
         <th>Proxy</th><th>Source file</th></tr></thead><tbody>",
    );
    for n in &fleet.nodes {
        let clock = match (n.clock_offset_seconds, n.clock_verdict.as_deref()) {
            (Some(x), Some(cv)) if cv != "ok" => format!("{x:+.1} s {}", badge(cv, cv)),
            (Some(x), _) => format!("{x:+.1} s"),
            (None, Some(cv)) => badge(cv, cv),
            (None, None) => "—".into(),
        };
        let _ = write!(
            o,
            "<tr><td><strong>{}</strong>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            esc(&n.hostname),
            if n.interrupted { " <span class=\"badge warning\">interrupted</span>" } else { "" },
            badge(&n.verdict, &n.verdict),
            n.exit_code,
            if n.usage_errors.is_empty() { "—".into() } else { code_list(&n.usage_errors) },
            n.errors,
            n.warnings,
            clock,
            n.proxy.as_deref().map_or_else(|| "direct".into(), mono),
            esc(&n.source)
        );
    }
    o.push_str("</tbody></table></section>");

    // Endpoint x node matrix.
    o.push_str("<section id=\"matrix\"><h2>Endpoints by node</h2>");
    if fleet.endpoints.is_empty() {
        o.push_str("<p>No endpoint was probed.</p>");
    } else {
        o.push_str("<table class=\"matrix\"><thead><tr><th>Endpoint</th>");
        for n in &fleet.nodes {
            let _ = write!(o, "<th class=\"node\">{}</th>", esc(&n.hostname));
        }
        o.push_str("</tr></thead><tbody>");
        for e in &fleet.endpoints {
            let _ = write!(
                o,
                "<tr><td><strong>{}</strong><br><span class=\"muted-text\">{}{}</span></td>",
                esc(&e.name),
                esc(e.role.as_deref().unwrap_or("")),
                e.host.as_deref().map(|h| format!(" · {}", esc(h))).unwrap_or_default()
            );
            // One lookup per cell: a fleet of many nodes stays linear in its cells.
            let mut by_node: HashMap<&str, &FleetCell> = HashMap::with_capacity(e.results.len());
            for c in &e.results {
                by_node.entry(c.node.as_str()).or_insert(c);
            }
            for n in &fleet.nodes {
                match by_node.get(n.hostname.as_str()).copied() {
                    Some(c) => {
                        let stage = c.stage.as_deref().unwrap_or("");
                        let _ = write!(
                            o,
                            "<td class=\"cell {}\" title=\"{}\">{}<span class=\"stage\">{}</span></td>",
                            tone(&c.verdict),
                            esc(&format!("{} on {}: {} ({})", e.name, n.hostname, c.verdict, stage)),
                            esc(&c.verdict),
                            esc(stage)
                        );
                    }
                    None => o.push_str("<td class=\"cell muted\" title=\"not probed\">—</td>"),
                }
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");

    // Problems.
    o.push_str("<section id=\"problems\"><h2>Problems</h2>");
    if fleet.problems.is_empty() {
        o.push_str("<p>No findings on any node.</p>");
    } else {
        o.push_str(
            "<table><thead><tr><th>Code</th><th>Severity</th><th>Endpoint</th><th class=\"w-cause\">Cause</th><th class=\"w-nodes\">Nodes</th><th class=\"w-msg\">Message (one node's)</th></tr></thead><tbody>",
        );
        for p in &fleet.problems {
            let nodes = if p.all_nodes {
                format!("<strong>all {}</strong>", fleet.nodes.len())
            } else {
                format!(
                    "<strong>{} of {}</strong><br><span class=\"muted-text\">{}</span>",
                    p.nodes.len(),
                    fleet.nodes.len(),
                    esc(&p.nodes.join(", "))
                )
            };
            let _ = write!(
                o,
                "<tr><td>{}{}</td><td>{}</td><td class=\"nw\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                mono(&p.code),
                p.usage_error
                    .as_deref()
                    .map(|u| format!("<br><code class=\"portal\">{}</code>", esc(u)))
                    .unwrap_or_default(),
                badge(&p.severity, &p.severity),
                p.endpoint.as_deref().map_or_else(|| "node".into(), esc),
                opt(p.cause.as_deref()),
                nodes,
                esc(&p.message)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>");
    let _ = write!(
        o,
        "<footer>Fleet report schema version {} · generated by {} {} · {}</footer>",
        esc(&fleet.schema_version),
        esc(&fleet.tool.name),
        esc(&fleet.tool.version),
        esc(&fleet.generated_at)
    );
    tail(&mut o);
    o
}

/// The endpoint's revocation checks: the status, then one row per CRL, OCSP and caIssuers URL
/// of each presented certificate.
fn revocation_table(o: &mut String, t: &super::TlsReport) {
    use super::{CheckStatus, RevocationStatus};
    let Some(r) = &t.revocation else { return };
    let tone = match r.status {
        RevocationStatus::Good => "ok",
        RevocationStatus::Revoked | RevocationStatus::Invalid | RevocationStatus::Unreachable => "error",
        RevocationStatus::Unknown | RevocationStatus::NotChecked => "muted",
    };
    let _ = write!(
        o,
        "<details class=\"revocation\"{}><summary>Revocation {} <span class=\"muted-text\">{}</span></summary>",
        if tone == "error" { " open" } else { "" },
        badge(tone, r.status.as_str()),
        esc(&plural(r.checks.len(), "check", "checks"))
    );
    if let Some(d) = &r.detail {
        let _ = write!(o, "<p class=\"muted-text\">{}</p>", esc(d));
    }
    if !r.checks.is_empty() {
        o.push_str(
            "<table><thead><tr><th>Certificate</th><th>Kind</th><th>URL</th><th>Via</th><th>Status</th><th>HTTP</th>\
             <th>Content-Type</th><th class=\"num\">Duration</th><th>Detail</th></tr></thead><tbody>",
        );
        for c in &r.checks {
            let tone = match c.status {
                CheckStatus::Ok => "ok",
                CheckStatus::Unknown => "muted",
                CheckStatus::Stale => "warning",
                _ => "error",
            };
            let _ = write!(
                o,
                "<tr><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                c.certificate,
                esc(c.kind.as_str()),
                mono(&c.url),
                esc(c.via.map_or("-", |v| v.as_str())),
                badge(tone, c.status.as_str()),
                c.http_status.map_or_else(|| "-".to_string(), |s| s.to_string()),
                opt(c.content_type.as_deref()),
                esc(&fmt_ms(c.duration_ms)),
                esc(&c.detail)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</details>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_all_five() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn escapes_controls_and_bidi_visibly() {
        assert_eq!(esc("a\u{202e}b\u{1b}[2J\nc"), "a\\u{202e}b\\u{1b}[2J\nc");
    }

    #[test]
    fn axis_is_round() {
        assert_eq!(axis(0), (1, 1));
        assert_eq!(axis(2001), (2500, 500));
        assert_eq!(axis(7), (8, 2));
        assert_eq!(axis(120), (150, 50));
    }

    #[test]
    fn slugs_are_safe_ids() {
        assert_eq!(slug("ep", 3, "a b\"<c>"), "ep3-a-b--c-");
    }
}
