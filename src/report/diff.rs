//! `diff BEFORE AFTER`: what got fixed, what broke, what stayed between two reports of the
//! same node (or two fleet reports, node by node).
//!
//! Pure: two parsed reports (JSON values, read leniently as [`super::fleet`] reads them, so
//! reports of any earlier schema version compare) in, a [`Diff`] out. Findings are matched by
//! endpoint and code; a finding present on both sides with another severity is `changed`.
//! The exit code follows the monitoring-plugin convention: 0 nothing got worse, 1 new warnings
//! only, 2 a new error (or a finding that became an error); 3 (unreadable input) is the caller's.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Tool;
use super::fleet::{self, MergeError};

/// The `schema_version` of a diff's JSON.
pub const DIFF_SCHEMA_VERSION: &str = "diff-1";

/// The comparison of two reports (the JSON `diff --out` writes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Diff {
    /// The diff format's version: `diff-1`.
    pub schema_version: String,
    /// The program that wrote the diff.
    pub tool: Tool,
    /// The earlier report (BEFORE, the first argument).
    pub before: Side,
    /// The later report (AFTER, the second argument).
    pub after: Side,
    /// Why the two reports may not be comparable: different nodes, clouds or probe sets.
    pub notes: Vec<String>,
    /// Findings only AFTER has.
    pub new: Vec<DiffItem>,
    /// Findings only BEFORE has.
    pub fixed: Vec<DiffItem>,
    /// Findings both have, with the same severity.
    pub unchanged: Vec<DiffItem>,
    /// Findings both have, with another severity (`before_severity` says which).
    pub changed: Vec<DiffItem>,
    /// Portal codes AFTER's errors surface as and BEFORE's did not.
    pub usage_errors_gained: Vec<String>,
    /// Portal codes BEFORE's errors surfaced as and AFTER's do not.
    pub usage_errors_lost: Vec<String>,
    /// Endpoints only AFTER probed (`node: endpoint` for fleet reports).
    pub endpoints_added: Vec<String>,
    /// Endpoints only BEFORE probed.
    pub endpoints_removed: Vec<String>,
    /// The verdict of the comparison and its counts.
    pub summary: DiffSummary,
}

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Side {
    /// The file as the caller named it.
    pub source: String,
    /// `node` or `fleet`.
    pub kind: String,
    /// The report's `schema_version` (`1`, older node reports, or `fleet-1`).
    pub schema_version: String,
    /// The node (or the fleet's nodes, comma-separated).
    pub node: String,
    /// The report's `config.cloud`, when it says.
    pub cloud: Option<String>,
    /// `name version (sha256 prefix)` of the probe set, when the report says.
    pub probe_set: Option<String>,
    /// `run.started_at`, or a fleet's `generated_at`.
    pub at: Option<String>,
    /// The report's `summary.exit_code`, when it says.
    pub exit_code: Option<u8>,
}

/// One finding in the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DiffItem {
    /// The node, for fleet reports; null for node reports.
    pub node: Option<String>,
    /// The endpoint, or null for node-wide findings (clock).
    pub endpoint: Option<String>,
    /// The finding code.
    pub code: String,
    /// `error`, `warning` or `info` (AFTER's, except for fixed findings).
    pub severity: String,
    /// BEFORE's severity, for changed findings.
    pub before_severity: Option<String>,
    /// The portal code the finding surfaces as (AFTER's, except for fixed findings).
    pub usage_error: Option<String>,
    /// The finding's message (AFTER's, except for fixed findings).
    pub message: String,
}

/// The verdict of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DiffSummary {
    /// `better`, `same` or `worse`.
    pub verdict: String,
    /// 0 nothing got worse, 1 new warnings only, 2 a new error.
    pub exit_code: u8,
    /// New error findings, plus findings whose severity rose to error.
    pub new_errors: usize,
    /// New warning findings, plus findings whose severity rose to warning.
    pub new_warnings: usize,
    /// Findings only BEFORE has.
    pub fixed: usize,
    /// Findings both have with the same severity.
    pub unchanged: usize,
    /// Findings both have with another severity.
    pub changed: usize,
}

/// A report read for comparison: its identity and its findings and endpoints per node.
struct Loaded {
    side: Side,
    /// node name -> (findings, endpoint names). A node report has one node, named "".
    nodes: BTreeMap<String, (Vec<Value>, Vec<String>)>,
    fleet: bool,
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn rank(sev: &str) -> u8 {
    match sev {
        "error" => 2,
        "warning" => 1,
        _ => 0,
    }
}

/// Read one input of `diff`: a node report of any schema version up to ours, or a fleet
/// report. Errors name the file (exit 3).
pub fn load(path: &Path) -> Result<Value, MergeError> {
    let (text, shown) = fleet::read_text(path)?;
    parse(&text, &shown)
}

/// Check that `text` is a node or fleet report.
pub fn parse(text: &str, shown: &str) -> Result<Value, MergeError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| MergeError::NotJson { path: shown.into(), reason: e.to_string() })?;
    if v["schema_version"].as_str().is_some_and(|x| x.starts_with("fleet-")) {
        if v["tool"]["name"] != crate::TOOL_NAME {
            return Err(MergeError::NotReport { path: shown.into(), reason: "tool.name is not azs-netprobe".into() });
        }
        if v["schema_version"] != fleet::FLEET_SCHEMA_VERSION {
            return Err(MergeError::TooNew {
                path: shown.into(),
                version: s(&v["schema_version"]).unwrap_or_default(),
            });
        }
        if !v["nodes"].is_array() || !v["problems"].is_array() {
            return Err(MergeError::NotReport { path: shown.into(), reason: "nodes or problems is missing".into() });
        }
        return Ok(v);
    }
    fleet::parse(text, shown)
}

fn read(source: &str, v: &Value) -> Loaded {
    if v["schema_version"].as_str().is_some_and(|x| x.starts_with("fleet-")) {
        let mut nodes: BTreeMap<String, (Vec<Value>, Vec<String>)> = BTreeMap::new();
        for n in v["nodes"].as_array().into_iter().flatten() {
            nodes.entry(s(&n["hostname"]).unwrap_or_default()).or_default();
        }
        for p in v["problems"].as_array().into_iter().flatten() {
            for n in p["nodes"].as_array().into_iter().flatten().filter_map(s) {
                nodes.entry(n).or_default().0.push(p.clone());
            }
        }
        for e in v["endpoints"].as_array().into_iter().flatten() {
            for cell in e["results"].as_array().into_iter().flatten() {
                if let (Some(node), Some(name)) = (s(&cell["node"]), s(&e["name"])) {
                    nodes.entry(node).or_default().1.push(name);
                }
            }
        }
        let names: Vec<&str> = nodes.keys().map(String::as_str).collect();
        return Loaded {
            side: Side {
                source: source.into(),
                kind: "fleet".into(),
                schema_version: s(&v["schema_version"]).unwrap_or_default(),
                node: names.join(", "),
                cloud: None,
                probe_set: None,
                at: s(&v["generated_at"]),
                exit_code: v["summary"]["exit_code"].as_u64().and_then(|c| u8::try_from(c).ok()),
            },
            nodes,
            fleet: true,
        };
    }
    let ps = &v["config"]["probe_set"];
    let probe_set = s(&ps["name"]).map(|name| {
        let version = s(&ps["version"]).unwrap_or_default();
        let sha: String = s(&ps["sha256"]).unwrap_or_default().chars().take(16).collect();
        format!("{name} {version} ({sha})")
    });
    let findings = v["findings"].as_array().cloned().unwrap_or_default();
    let endpoints = v["endpoints"].as_array().into_iter().flatten().filter_map(|e| s(&e["name"])).collect();
    Loaded {
        side: Side {
            source: source.into(),
            kind: "node".into(),
            schema_version: s(&v["schema_version"]).unwrap_or_default(),
            node: s(&v["node"]["hostname"]).unwrap_or_else(|| source.into()),
            cloud: s(&v["config"]["cloud"]),
            probe_set,
            at: s(&v["run"]["started_at"]),
            exit_code: v["summary"]["exit_code"].as_u64().and_then(|c| u8::try_from(c).ok()),
        },
        nodes: BTreeMap::from([(String::new(), (findings, endpoints))]),
        fleet: false,
    }
}

type Key = (Option<String>, String);

/// Findings by endpoint and code; of several with one key (one per address), the worst.
fn index(findings: &[Value]) -> BTreeMap<Key, &Value> {
    let mut out: BTreeMap<Key, &Value> = BTreeMap::new();
    for f in findings {
        let key = (s(&f["endpoint"]), s(&f["code"]).unwrap_or_default());
        let sev = |x: &Value| rank(x["severity"].as_str().unwrap_or(""));
        match out.get(&key) {
            Some(old) if sev(old) >= sev(f) => {}
            _ => {
                out.insert(key, f);
            }
        }
    }
    out
}

fn item(node: Option<&str>, f: &Value, before: Option<&Value>) -> DiffItem {
    DiffItem {
        node: node.map(str::to_string),
        endpoint: s(&f["endpoint"]),
        code: s(&f["code"]).unwrap_or_default(),
        severity: s(&f["severity"]).unwrap_or_default(),
        before_severity: before.and_then(|b| s(&b["severity"])),
        usage_error: s(&f["usage_error"]),
        message: s(&f["message"]).unwrap_or_default(),
    }
}

fn usage_errors(nodes: &BTreeMap<String, (Vec<Value>, Vec<String>)>) -> Vec<String> {
    let mut out: Vec<String> = nodes
        .values()
        .flat_map(|(f, _)| f.iter())
        .filter(|f| f["severity"] == "error")
        .filter_map(|f| s(&f["usage_error"]))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Compare BEFORE with AFTER (`(source, report)` each, as [`load`] returns them).
pub fn diff(before: (&str, &Value), after: (&str, &Value)) -> Diff {
    let b = read(before.0, before.1);
    let a = read(after.0, after.1);
    let mut notes = Vec::new();
    if b.fleet != a.fleet {
        notes.push(format!(
            "BEFORE is a {} report and AFTER a {} report: compared as one node each",
            b.side.kind, a.side.kind
        ));
    }
    if b.side.node != a.side.node {
        notes.push(format!("the reports come from different nodes: {} and {}", b.side.node, a.side.node));
    }
    if b.side.cloud != a.side.cloud {
        let c = |x: &Option<String>| x.clone().unwrap_or_else(|| "unknown".into());
        notes.push(format!("the reports probe different clouds: {} and {}", c(&b.side.cloud), c(&a.side.cloud)));
    }
    if b.side.probe_set != a.side.probe_set {
        let c = |x: &Option<String>| x.clone().unwrap_or_else(|| "unknown".into());
        notes.push(format!(
            "the reports use different probe sets: {} and {}",
            c(&b.side.probe_set),
            c(&a.side.probe_set)
        ));
    }
    // Node by node: fleet reports pair nodes by name; node reports (or a mix) are one node each.
    let pairs: Vec<NodePair> = if a.fleet && b.fleet {
        let mut names: Vec<&String> = b.nodes.keys().chain(a.nodes.keys()).collect();
        names.sort();
        names.dedup();
        names.into_iter().map(|n| (Some(n.clone()), b.nodes.get(n).cloned(), a.nodes.get(n).cloned())).collect()
    } else {
        let merged = |l: &Loaded| {
            let mut f = Vec::new();
            let mut e = Vec::new();
            for (x, y) in l.nodes.values() {
                f.extend(x.iter().cloned());
                e.extend(y.iter().cloned());
            }
            (f, e)
        };
        vec![(None, Some(merged(&b)), Some(merged(&a)))]
    };
    finish(b.side, a.side, notes, pairs)
}

type NodePair = (Option<String>, Option<(Vec<Value>, Vec<String>)>, Option<(Vec<Value>, Vec<String>)>);

fn finish(before: Side, after: Side, mut notes: Vec<String>, pairs: Vec<NodePair>) -> Diff {
    let empty = (Vec::new(), Vec::new());
    let mut d = Diff {
        schema_version: DIFF_SCHEMA_VERSION.into(),
        tool: Tool { name: crate::TOOL_NAME.into(), version: crate::TOOL_VERSION.into() },
        before,
        after,
        notes: Vec::new(),
        new: Vec::new(),
        fixed: Vec::new(),
        unchanged: Vec::new(),
        changed: Vec::new(),
        usage_errors_gained: Vec::new(),
        usage_errors_lost: Vec::new(),
        endpoints_added: Vec::new(),
        endpoints_removed: Vec::new(),
        summary: DiffSummary {
            verdict: String::new(),
            exit_code: 0,
            new_errors: 0,
            new_warnings: 0,
            fixed: 0,
            unchanged: 0,
            changed: 0,
        },
    };
    let mut b_all = BTreeMap::new();
    let mut a_all = BTreeMap::new();
    for (node, b, a) in &pairs {
        let n = node.as_deref();
        match (b, a) {
            (None, Some(_)) => notes.push(format!("node {} is only in AFTER", n.unwrap_or(""))),
            (Some(_), None) => notes.push(format!("node {} is only in BEFORE", n.unwrap_or(""))),
            _ => {}
        }
        let b = b.as_ref().unwrap_or(&empty);
        let a = a.as_ref().unwrap_or(&empty);
        b_all.insert(node.clone().unwrap_or_default(), b.clone());
        a_all.insert(node.clone().unwrap_or_default(), a.clone());
        let (bi, ai) = (index(&b.0), index(&a.0));
        for (k, f) in &ai {
            match bi.get(k) {
                None => d.new.push(item(n, f, None)),
                Some(old) if old["severity"] == f["severity"] => d.unchanged.push(item(n, f, None)),
                Some(old) => d.changed.push(item(n, f, Some(old))),
            }
        }
        for (k, f) in &bi {
            if !ai.contains_key(k) {
                d.fixed.push(item(n, f, None));
            }
        }
        let shown = |e: &String| match n {
            Some(node) => format!("{node}: {e}"),
            None => e.clone(),
        };
        let mut seen = std::collections::BTreeSet::new();
        d.endpoints_added.extend(a.1.iter().filter(|e| !b.1.contains(e) && seen.insert(*e)).map(shown));
        d.endpoints_removed.extend(b.1.iter().filter(|e| !a.1.contains(e) && seen.insert(*e)).map(shown));
    }
    let (gb, ga) = (usage_errors(&b_all), usage_errors(&a_all));
    d.usage_errors_gained = ga.iter().filter(|u| !gb.contains(u)).cloned().collect();
    d.usage_errors_lost = gb.iter().filter(|u| !ga.contains(u)).cloned().collect();
    // Worse: new findings, and changed ones whose severity rose.
    let worse: Vec<&DiffItem> = d
        .new
        .iter()
        .chain(d.changed.iter().filter(|c| rank(&c.severity) > rank(c.before_severity.as_deref().unwrap_or(""))))
        .collect();
    let new_errors = worse.iter().filter(|i| i.severity == "error").count();
    let new_warnings = worse.iter().filter(|i| i.severity == "warning").count();
    let better = d.fixed.iter().any(|f| rank(&f.severity) > 0)
        || d.changed.iter().any(|c| rank(&c.severity) < rank(c.before_severity.as_deref().unwrap_or("")));
    let exit_code = if new_errors > 0 {
        2
    } else if new_warnings > 0 {
        1
    } else {
        0
    };
    let verdict = match (exit_code, better) {
        (0, true) => "better",
        (0, false) => "same",
        _ => "worse",
    };
    d.summary = DiffSummary {
        verdict: verdict.into(),
        exit_code,
        new_errors,
        new_warnings,
        fixed: d.fixed.len(),
        unchanged: d.unchanged.len(),
        changed: d.changed.len(),
    };
    d.notes = notes;
    d
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn line(i: &DiffItem) -> String {
    let node = i.node.as_deref().map(|n| format!("{n}: ")).unwrap_or_default();
    let on = i.endpoint.as_deref().map(|e| format!(" on {e}")).unwrap_or_default();
    let portal = i.usage_error.as_deref().map(|u| format!(" -> portal: {u}")).unwrap_or_default();
    let was = i.before_severity.as_deref().map(|b| format!(" (was {b})")).unwrap_or_default();
    format!("{node}{} {}{on}{was}{portal}: {}", i.severity.to_uppercase(), i.code, i.message)
}

/// The human summary: one line first ("2 fixed, 1 new error: TlsInterception on usage"), then
/// the notes and each new, changed and fixed finding. Printable: report text is hostile.
pub fn render_text(d: &Diff, location: Option<&str>) -> String {
    let mut out = String::new();
    let sm = &d.summary;
    let mut parts = vec![plural(sm.fixed, "fixed", "fixed")];
    parts.push(plural(sm.new_errors, "new error", "new errors"));
    parts.push(plural(sm.new_warnings, "new warning", "new warnings"));
    if sm.changed > 0 {
        parts.push(plural(sm.changed, "changed", "changed"));
    }
    parts.push(plural(sm.unchanged, "unchanged", "unchanged"));
    let worst: Vec<String> = d
        .new
        .iter()
        .chain(&d.changed)
        .filter(|i| i.severity == if sm.new_errors > 0 { "error" } else { "warning" })
        .take(3)
        .map(|i| match &i.endpoint {
            Some(e) => format!("{} on {e}", i.code),
            None => i.code.clone(),
        })
        .collect();
    let tail = if worst.is_empty() { String::new() } else { format!(": {}", worst.join(", ")) };
    let _ = writeln!(out, "{}{tail} (exit {})", parts.join(", "), sm.exit_code);
    let _ = writeln!(
        out,
        "BEFORE {} ({}, {}) -> AFTER {} ({}, {})",
        d.before.source,
        d.before.node,
        d.before.at.as_deref().unwrap_or("?"),
        d.after.source,
        d.after.node,
        d.after.at.as_deref().unwrap_or("?")
    );
    for n in &d.notes {
        let _ = writeln!(out, "note: {n}");
    }
    if !d.usage_errors_gained.is_empty() {
        let _ = writeln!(out, "portal codes gained: {}", d.usage_errors_gained.join(", "));
    }
    if !d.usage_errors_lost.is_empty() {
        let _ = writeln!(out, "portal codes lost: {}", d.usage_errors_lost.join(", "));
    }
    for (what, list) in [("endpoints added", &d.endpoints_added), ("endpoints removed", &d.endpoints_removed)] {
        if !list.is_empty() {
            let _ = writeln!(out, "{what}: {}", list.join(", "));
        }
    }
    for (head, items) in [("new", &d.new), ("changed", &d.changed), ("fixed", &d.fixed)] {
        if !items.is_empty() {
            let _ = writeln!(out, "\n{head}:");
            for i in items.iter() {
                let _ = writeln!(out, "  {}", line(i));
            }
        }
    }
    if let Some(l) = location {
        let _ = writeln!(out, "\ndiff: {l}");
    }
    super::printable_lines(&out).into_owned()
}

/// A self-contained HTML page of the comparison.
pub fn render_html(d: &Diff) -> String {
    use super::html::esc;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>azs-netprobe diff: {} -&gt; {}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse;width:100%}}\
         td,th{{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}}\
         .error{{color:#a00;font-weight:bold}}.warning{{color:#a60}}.info{{color:#555}}\
         </style></head><body>\n",
        esc(&d.before.node),
        esc(&d.after.node)
    );
    let first = render_text(d, None);
    let _ = writeln!(
        out,
        "<h1>What changed</h1>\n<p id=\"verdict\" class=\"{}\">{}</p>",
        if d.summary.exit_code == 2 {
            "error"
        } else if d.summary.exit_code == 1 {
            "warning"
        } else {
            "info"
        },
        esc(first.lines().next().unwrap_or(""))
    );
    let _ = writeln!(
        out,
        "<table id=\"sides\"><tr><th></th><th>file</th><th>node</th><th>started</th><th>cloud</th><th>probe set</th></tr>"
    );
    for (name, side) in [("BEFORE", &d.before), ("AFTER", &d.after)] {
        let _ = writeln!(
            out,
            "<tr><th>{name}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&side.source),
            esc(&side.node),
            esc(side.at.as_deref().unwrap_or("")),
            esc(side.cloud.as_deref().unwrap_or("")),
            esc(side.probe_set.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table>\n");
    if !d.notes.is_empty() {
        out.push_str("<ul id=\"notes\">");
        for n in &d.notes {
            let _ = write!(out, "<li>{}</li>", esc(n));
        }
        out.push_str("</ul>\n");
    }
    for (id, title, list) in [
        ("gained", "Portal codes gained", &d.usage_errors_gained),
        ("lost", "Portal codes lost", &d.usage_errors_lost),
        ("added", "Endpoints added", &d.endpoints_added),
        ("removed", "Endpoints removed", &d.endpoints_removed),
    ] {
        if !list.is_empty() {
            let items: Vec<String> = list.iter().map(|x| esc(x)).collect();
            let _ = writeln!(out, "<p id=\"{id}\"><b>{title}:</b> {}</p>", items.join(", "));
        }
    }
    for (id, title, items) in [
        ("new", "New", &d.new),
        ("changed", "Changed", &d.changed),
        ("fixed", "Fixed", &d.fixed),
        ("unchanged", "Unchanged", &d.unchanged),
    ] {
        let _ = writeln!(out, "<h2>{title} ({})</h2>", items.len());
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<table id=\"{id}\"><tr><th>node</th><th>endpoint</th><th>code</th><th>severity</th><th>portal</th><th>message</th></tr>"
        );
        for i in items.iter() {
            let sev = match &i.before_severity {
                Some(b) => format!("{} (was {})", esc(&i.severity), esc(b)),
                None => esc(&i.severity),
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{sev}</td><td>{}</td><td>{}</td></tr>",
                esc(i.node.as_deref().unwrap_or("")),
                esc(i.endpoint.as_deref().unwrap_or("(node)")),
                esc(&i.code),
                esc(&i.severity),
                esc(i.usage_error.as_deref().unwrap_or("")),
                esc(&i.message)
            );
        }
        out.push_str("</table>\n");
    }
    let _ = writeln!(
        out,
        "<footer>azs-netprobe {} · {}</footer>\n</body></html>",
        esc(&d.tool.version),
        esc(&d.schema_version)
    );
    out
}

/// The diff's JSON Schema, pretty-printed.
/// Errors: [`WriteError::Serialise`] if the schema cannot be serialised (never printed empty).
pub fn schema_json() -> Result<String, super::WriteError> {
    let schema = schemars::schema_for!(Diff);
    let mut s = serde_json::to_string_pretty(&schema)
        .map_err(|e| super::WriteError::Serialise { what: "the diff's JSON Schema".into(), cause: e.to_string() })?;
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn report(host: &str, findings: Value, endpoints: &[&str]) -> Value {
        json!({"schema_version": "1", "tool": {"name": "azs-netprobe", "version": "0.1.0"},
            "node": {"hostname": host}, "run": {"id": "r", "started_at": "2026-01-01T00:00:00Z"},
            "config": {"cloud": "AzureCloud", "probe_set": {"name": "lab", "version": "1", "sha256": "ab"}},
            "endpoints": endpoints.iter().map(|e| json!({"name": e})).collect::<Vec<_>>(),
            "findings": findings, "summary": {"exit_code": 0}})
    }

    fn f(endpoint: &str, code: &str, sev: &str, usage: &str) -> Value {
        json!({"code": code, "severity": sev, "endpoint": endpoint, "usage_error": usage, "message": format!("{code} m")})
    }

    #[test]
    fn new_fixed_unchanged_changed_and_exit_codes() {
        let b = report(
            "n",
            json!([
                f("a", "DnsNameNotFound", "error", "NetworkError"),
                f("b", "DnsPrivateAddress", "warning", "LoginError"),
                f("c", "TlsUnexpectedIssuer", "warning", "CertificateValidationError")
            ]),
            &["a", "b", "c"],
        );
        let a = report(
            "n",
            json!([
                f("b", "DnsPrivateAddress", "warning", "LoginError"),
                f("c", "TlsUnexpectedIssuer", "error", "CertificateValidationError"),
                f("d", "TlsInterception", "error", "CertificateValidationError")
            ]),
            &["b", "c", "d"],
        );
        let d = diff(("b.json", &b), ("a.json", &a));
        assert_eq!(d.new.iter().map(|i| i.code.as_str()).collect::<Vec<_>>(), ["TlsInterception"]);
        assert_eq!(d.fixed.iter().map(|i| i.code.as_str()).collect::<Vec<_>>(), ["DnsNameNotFound"]);
        assert_eq!(d.unchanged.len(), 1);
        assert_eq!(d.changed[0].before_severity.as_deref(), Some("warning"));
        assert_eq!((d.summary.exit_code, d.summary.new_errors), (2, 2));
        assert_eq!(d.usage_errors_gained, ["CertificateValidationError"]);
        assert_eq!(d.usage_errors_lost, ["NetworkError"]);
        assert_eq!(
            (d.endpoints_added.as_slice(), d.endpoints_removed.as_slice()),
            (&["d".to_string()][..], &["a".to_string()][..])
        );
        assert!(d.notes.is_empty());
        let text = render_text(&d, None);
        assert!(
            text.starts_with("1 fixed, 2 new errors, 0 new warnings, 1 changed, 1 unchanged: TlsInterception on d"),
            "{text}"
        );
        // Reversed: only improvements and a new warning-free side... the error went away.
        let r = diff(("a.json", &a), ("b.json", &b));
        assert_eq!(r.summary.exit_code, 2, "DnsNameNotFound is new the other way round");
        let same = diff(("a.json", &a), ("a.json", &a));
        assert_eq!((same.summary.exit_code, same.summary.verdict.as_str()), (0, "same"));
        // Only a new warning: 1.
        let w = report("n", json!([f("b", "DnsPrivateAddress", "warning", "LoginError")]), &["b"]);
        let none = report("n", json!([]), &["b"]);
        assert_eq!(diff(("x", &none), ("y", &w)).summary.exit_code, 1);
        assert_eq!(diff(("x", &w), ("y", &none)).summary.verdict, "better");
    }

    #[test]
    fn notes_say_when_reports_differ_in_node_cloud_or_probe_set() {
        let b = report("n1", json!([]), &[]);
        let mut a = report("n2", json!([]), &[]);
        a["config"]["cloud"] = json!("AzureChinaCloud");
        a["config"]["probe_set"]["sha256"] = json!("cd");
        let d = diff(("b", &b), ("a", &a));
        assert_eq!(d.notes.len(), 3, "{:?}", d.notes);
        assert!(d.notes[0].contains("different nodes: n1 and n2"));
    }

    #[test]
    fn fleet_reports_node_by_node() {
        let fleet = |problems: Value| {
            json!({"schema_version": "fleet-1", "tool": {"name": "azs-netprobe"}, "generated_at": "t",
                "nodes": [{"hostname": "x1"}, {"hostname": "x2"}],
                "endpoints": [{"name": "usage", "results": [{"node": "x1"}, {"node": "x2"}]}],
                "problems": problems, "summary": {"exit_code": 0}})
        };
        let p = |nodes: Value| json!({"code": "TlsInterception", "severity": "error", "endpoint": "usage", "message": "m", "nodes": nodes});
        let b = fleet(json!([p(json!(["x1"]))]));
        let a = fleet(json!([p(json!(["x2"]))]));
        let d = diff(("b", &parse(&b.to_string(), "b").unwrap()), ("a", &parse(&a.to_string(), "a").unwrap()));
        assert_eq!(d.new.len(), 1);
        assert_eq!(d.new[0].node.as_deref(), Some("x2"));
        assert_eq!(d.fixed[0].node.as_deref(), Some("x1"));
        assert_eq!(d.summary.exit_code, 2);
    }

    #[test]
    fn refuses_what_is_not_a_report() {
        assert!(matches!(parse("[]", "x"), Err(MergeError::NotReport { .. })));
        assert!(matches!(parse("{", "x"), Err(MergeError::NotJson { .. })));
        let html = render_html(&diff(("<b>", &report("<i>", json!([]), &[])), ("a", &report("n", json!([]), &[]))));
        assert!(!html.contains("<i>") && html.contains("&lt;i&gt;"));
    }
}
