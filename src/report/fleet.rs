//! Fleet reports: many nodes' reports merged into one, showing what all nodes share and where
//! they differ (one intercepted XRP VM, one bad clock). Input reports are read leniently, so
//! reports of older schema versions merge too; anything that is not an azs-netprobe report is
//! refused with a message naming the file.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{SCHEMA_VERSION, Tool};
use crate::diagnose::problems::{Cause, ProblemKey};

/// The `schema_version` of a fleet report's JSON.
pub const FLEET_SCHEMA_VERSION: &str = "fleet-1";

/// Many nodes' reports merged into one (`azs-netprobe merge REPORT... --out FILE`): what every
/// node shares and where they differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FleetReport {
    /// The fleet format's version: `fleet-1`.
    pub schema_version: String,
    /// The program that merged the reports.
    pub tool: Tool,
    /// RFC 3339, UTC.
    pub generated_at: String,
    /// One entry per merged report, in the order given.
    pub nodes: Vec<FleetNode>,
    /// Every endpoint any node probed, with each node's result.
    pub endpoints: Vec<FleetEndpoint>,
    /// Findings grouped across nodes: one entry per code, endpoint and cause.
    pub problems: Vec<FleetProblem>,
    /// The fleet's verdict, exit code and differences.
    pub summary: FleetSummary,
}

/// One merged node report, in a line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FleetNode {
    /// The node's `node.hostname` (the file's name when the report has none; with the file
    /// added when two reports come from one host).
    pub hostname: String,
    /// The report file it came from.
    pub source: String,
    /// The report's `schema_version`.
    pub schema_version: String,
    /// The report's `run.id`, when it has one.
    pub run_id: Option<String>,
    /// The report's `run.started_at`, when it has one.
    pub started_at: Option<String>,
    /// The run was stopped before every endpoint finished.
    pub interrupted: bool,
    /// The report's `summary.verdict` (`unknown` when it has none).
    pub verdict: String,
    /// The report's `summary.exit_code` (3 when it has none).
    pub exit_code: u8,
    /// The report's `summary.usage_errors`.
    pub usage_errors: Vec<String>,
    /// Error findings of the node.
    pub errors: usize,
    /// Warning findings of the node.
    pub warnings: usize,
    /// The node's `clock.offset_seconds` (node minus reference, seconds; positive: ahead).
    pub clock_offset_seconds: Option<f64>,
    /// The node's `clock.verdict`.
    pub clock_verdict: Option<String>,
    /// The proxy the node used (`config.proxy.url`, credentials redacted), if any.
    pub proxy: Option<String>,
}

/// One endpoint across the nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetEndpoint {
    /// The endpoint's name in the probe set.
    pub name: String,
    /// Its role, as the first node that probed it reports it.
    pub role: Option<String>,
    /// Its host, as the first node that probed it reports it.
    pub host: Option<String>,
    /// Each node's result for it, in node order (nodes that did not probe it are absent).
    pub results: Vec<FleetCell>,
}

/// One node's result for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetCell {
    /// The node's `hostname` in this fleet report.
    pub node: String,
    /// The endpoint's `verdict` on that node (`unknown` when the report has none).
    pub verdict: String,
    /// The endpoint's `stage` on that node (e.g. `dns: nxdomain`, `http: 200`).
    pub stage: Option<String>,
    /// The node's `tls.revocation.status` for the endpoint (null: no chain, or an older report).
    #[serde(default)]
    pub revocation: Option<String>,
}

/// One problem across the nodes: the findings of one code, endpoint and cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetProblem {
    /// The finding code.
    pub code: String,
    /// The worst severity any node reports it with (`error`, `warning`, `info`), whatever the
    /// order the reports were given in.
    pub severity: String,
    /// The endpoint, or null for node-wide findings (clock, platform).
    pub endpoint: Option<String>,
    /// The portal code, as the first node with that worst severity reports it.
    pub usage_error: Option<String>,
    /// What distinguishes this problem: the issuer that re-signs, the proxy, the DNS servers...
    pub cause: Option<String>,
    /// A message from one node with that worst severity, as an example.
    pub message: String,
    /// The nodes that have it, in node order.
    pub nodes: Vec<String>,
    /// Every merged node has it (false: the nodes differ).
    pub all_nodes: bool,
}

/// The fleet in one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetSummary {
    /// `ok`, `warning`, `error`, or `unknown` (a node could not be checked), from the exit code.
    pub verdict: String,
    /// The worst node's exit code.
    pub exit_code: u8,
    /// Nodes merged.
    pub nodes: usize,
    /// Nodes with at least one error finding.
    pub nodes_with_errors: usize,
    /// Every node's portal codes, sorted, without duplicates.
    pub usage_errors: Vec<String>,
    /// One sentence per problem some nodes have and others do not.
    pub differences: Vec<String>,
    /// Reports given more than once (the same `run.id`): each is merged once, and named here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<String>,
}

/// Why reports could not be merged (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The file could not be read, or is larger than the cap for a report.
    #[error(transparent)]
    Read(#[from] crate::files::ReadError),
    /// The file does not parse as JSON.
    #[error("{path} is not JSON: {reason}")]
    NotJson {
        /// The report's path.
        path: String,
        /// The JSON parser's error (line and column).
        reason: String,
    },
    /// The JSON is not an azs-netprobe report (not an object, another tool, no or a bad
    /// `schema_version`, no `endpoints` or `findings`).
    #[error("{path} is not an azs-netprobe report: {reason}")]
    NotReport {
        /// The report's path.
        path: String,
        /// What is missing or wrong.
        reason: String,
    },
    /// The report's `schema_version` is newer than this tool's [`SCHEMA_VERSION`].
    #[error(
        "{path} has schema version {version}, newer than this tool understands ({SCHEMA_VERSION}); use a newer azs-netprobe"
    )]
    TooNew {
        /// The report's path.
        path: String,
        /// The report's `schema_version`.
        version: String,
    },
    /// No report was given.
    #[error("no reports to merge")]
    Empty,
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// Read and check one node report.
pub fn load(path: &Path) -> Result<Value, MergeError> {
    let (text, shown) = read_text(path)?;
    parse(&text, &shown)
}

/// The text of a report file (capped, UTF-8) and the path as errors name it.
pub(crate) fn read_text(path: &Path) -> Result<(String, String), MergeError> {
    let shown = path.display().to_string();
    let bytes = crate::files::read_capped(path, crate::files::InputKind::Report)?;
    let text = String::from_utf8(bytes).map_err(|e| MergeError::NotJson {
        path: shown.clone(),
        reason: format!("invalid UTF-8 at byte {}", e.utf8_error().valid_up_to()),
    })?;
    Ok((text, shown))
}

/// Check that `text` is a node report this tool can merge.
pub fn parse(text: &str, shown: &str) -> Result<Value, MergeError> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| MergeError::NotJson { path: shown.into(), reason: e.to_string() })?;
    let not = |reason: &str| MergeError::NotReport { path: shown.into(), reason: reason.into() };
    if !v.is_object() {
        return Err(not("the top level is not an object"));
    }
    if v["tool"]["name"] != crate::TOOL_NAME {
        return Err(not("tool.name is not azs-netprobe"));
    }
    let version = s(&v["schema_version"]).ok_or_else(|| not("schema_version is missing"))?;
    let major: u32 = version.parse().map_err(|_| not("schema_version is not a number"))?;
    let ours: u32 = SCHEMA_VERSION.parse().unwrap_or(1);
    if major > ours {
        return Err(MergeError::TooNew { path: shown.into(), version });
    }
    if !v["endpoints"].is_array() || !v["findings"].is_array() {
        return Err(not("endpoints or findings is missing"));
    }
    Ok(v)
}

/// A finding's problem key (the one grouping, [`crate::diagnose::problems`]), from a report's JSON.
fn problem_key(f: &Value) -> ProblemKey {
    let code = f["code"].as_str().unwrap_or_default();
    match f["evidence"].as_object() {
        Some(evidence) => ProblemKey::new(code, evidence),
        None => ProblemKey { code: code.to_string(), cause: None },
    }
}

/// Merge node reports (`(source, report)`), in the order given.
pub fn merge(reports: &[(String, Value)], generated_at: String) -> Result<FleetReport, MergeError> {
    if reports.is_empty() {
        return Err(MergeError::Empty);
    }
    // The same report given twice (the same run) is one node, named as a duplicate.
    let mut duplicates = Vec::new();
    let mut runs: BTreeMap<String, &str> = BTreeMap::new();
    let reports: Vec<&(String, Value)> = reports
        .iter()
        .filter(|(source, r)| match s(&r["run"]["id"]) {
            Some(id) => match runs.get(&id) {
                Some(first) => {
                    duplicates.push(format!("{source} is the same run as {first} (run {id}): merged once"));
                    false
                }
                None => {
                    runs.insert(id, source.as_str());
                    true
                }
            },
            None => true,
        })
        .collect();
    let mut nodes = Vec::new();
    let mut codes = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (source, r) in reports.iter().copied() {
        let mut hostname = s(&r["node"]["hostname"]).unwrap_or_else(|| source.clone());
        // Two reports from one host (two runs) stay apart.
        if names.contains(&hostname) {
            hostname = format!("{hostname} ({source})");
        }
        names.push(hostname.clone());
        let summary = &r["summary"];
        let count = |k: &str| summary["counts"][k].as_u64().unwrap_or(0) as usize;
        codes.push(fleet_code(r));
        nodes.push(FleetNode {
            hostname,
            source: source.clone(),
            schema_version: s(&r["schema_version"]).unwrap_or_default(),
            run_id: s(&r["run"]["id"]),
            started_at: s(&r["run"]["started_at"]),
            interrupted: r["run"]["interrupted"].as_bool().unwrap_or(false),
            verdict: s(&summary["verdict"]).unwrap_or_else(|| "unknown".into()),
            exit_code: summary["exit_code"].as_u64().and_then(|c| u8::try_from(c).ok()).unwrap_or(3),
            usage_errors: summary["usage_errors"]
                .as_array()
                .map_or_else(Vec::new, |a| a.iter().filter_map(s).collect()),
            errors: count("error"),
            warnings: count("warning"),
            clock_offset_seconds: r["clock"]["offset_seconds"].as_f64(),
            clock_verdict: s(&r["clock"]["verdict"]),
            proxy: s(&r["config"]["proxy"]["url"]),
        });
    }
    // Endpoints: in first-seen order, each node's verdict.
    let mut endpoints: Vec<FleetEndpoint> = Vec::new();
    for ((_, r), node) in reports.iter().copied().zip(&names) {
        for e in r["endpoints"].as_array().into_iter().flatten() {
            let name = s(&e["name"]).unwrap_or_default();
            let idx = match endpoints.iter().position(|x| x.name == name) {
                Some(i) => i,
                None => {
                    endpoints.push(FleetEndpoint {
                        name: name.clone(),
                        role: s(&e["role"]),
                        host: s(&e["host"]),
                        results: Vec::new(),
                    });
                    endpoints.len() - 1
                }
            };
            endpoints[idx].results.push(FleetCell {
                node: node.clone(),
                verdict: s(&e["verdict"]).unwrap_or_else(|| "unknown".into()),
                stage: s(&e["stage"]),
                revocation: s(&e["tls"]["revocation"]["status"]),
            });
        }
    }
    let rank = |sev: &str| match sev {
        "error" => 0,
        "warning" => 1,
        _ => 2,
    };
    // Problems: findings grouped by their problem key (code and cause), per endpoint.
    let mut groups: BTreeMap<(String, Option<String>, Option<Cause>), FleetProblem> = BTreeMap::new();
    for ((_, r), node) in reports.iter().copied().zip(&names) {
        for f in r["findings"].as_array().into_iter().flatten() {
            let ProblemKey { code, cause } = problem_key(f);
            let endpoint = s(&f["endpoint"]);
            let p = groups.entry((code.clone(), endpoint.clone(), cause.clone())).or_insert_with(|| FleetProblem {
                code,
                severity: s(&f["severity"]).unwrap_or_default(),
                endpoint,
                usage_error: s(&f["usage_error"]),
                cause: cause.map(|c| c.value),
                message: s(&f["message"]).unwrap_or_default(),
                nodes: Vec::new(),
                all_nodes: false,
            });
            // The worst severity wins (the same code on one endpoint can be an error on one
            // node and info on another, e.g. below a root cause): not the order of the files.
            let severity = s(&f["severity"]).unwrap_or_default();
            if rank(&severity) < rank(&p.severity) {
                p.severity = severity;
                p.usage_error = s(&f["usage_error"]);
                p.message = s(&f["message"]).unwrap_or_default();
            }
            if !p.nodes.contains(node) {
                p.nodes.push(node.clone());
            }
        }
    }
    let mut problems: Vec<FleetProblem> = groups.into_values().collect();
    for p in &mut problems {
        p.all_nodes = p.nodes.len() == names.len();
    }
    problems.sort_by(|a, b| rank(&a.severity).cmp(&rank(&b.severity)).then(b.nodes.len().cmp(&a.nodes.len())));
    let differences: Vec<String> = problems
        .iter()
        .filter(|p| !p.all_nodes && p.severity != "info")
        .map(|p| {
            let on = p.endpoint.as_deref().map(|e| format!(" on {e}")).unwrap_or_default();
            let why = p.cause.as_deref().map(|c| format!(" ({c})")).unwrap_or_default();
            format!("{}{on}{why}: only {} of {} nodes: {}", p.code, p.nodes.len(), names.len(), p.nodes.join(", "))
        })
        .collect();
    // The worst node decides: errors (2), then a node that could not finish (3), then warnings.
    let exit_code = codes.iter().copied().max_by_key(|c| code_rank(*c)).unwrap_or(0);
    let mut usage_errors: Vec<String> = nodes.iter().flat_map(|n| n.usage_errors.clone()).collect();
    usage_errors.sort();
    usage_errors.dedup();
    let verdict = match exit_code {
        0 => "ok",
        1 => "warning",
        2 => "error",
        _ => "unknown",
    };
    Ok(FleetReport {
        schema_version: FLEET_SCHEMA_VERSION.into(),
        tool: Tool { name: crate::TOOL_NAME.into(), version: crate::TOOL_VERSION.into() },
        generated_at,
        summary: FleetSummary {
            verdict: verdict.into(),
            exit_code,
            nodes: nodes.len(),
            nodes_with_errors: nodes.iter().filter(|n| n.errors > 0).count(),
            usage_errors,
            differences,
            duplicates,
        },
        nodes,
        endpoints,
        problems,
    })
}

/// What one node report counts for in the fleet's exit code: its own exit code when it is 0-2;
/// an incomplete (interrupted, exit 3) report with errors is 2, without errors 3 (the node could
/// not be checked); a report without an exit code (an older schema) by its verdict, a warning
/// when it has none either.
fn fleet_code(r: &Value) -> u8 {
    let summary = &r["summary"];
    let errors = summary["counts"]["error"].as_u64().unwrap_or(0);
    match summary["exit_code"].as_u64() {
        Some(c @ 0..=2) => c as u8,
        Some(_) if errors > 0 => 2,
        Some(_) => 3,
        None => match summary["verdict"].as_str() {
            Some("error") => 2,
            Some("ok") => 0,
            _ => 1,
        },
    }
}

/// Severity order of exit codes: 2 (errors) is worst, then 3 (could not check), 1, 0.
fn code_rank(code: u8) -> u8 {
    match code {
        2 => 3,
        3 => 2,
        1 => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(host: &str, intercepted: bool) -> Value {
        let mut findings = vec![];
        if intercepted {
            findings.push(json!({"code": "TlsInterception", "severity": "error", "endpoint": "usage", "usage_error": "CertificateValidationError",
                "message": "intercepted", "evidence": {"issuer": "Zscaler Root", "product": "Zscaler"}}));
        }
        findings.push(
            json!({"code": "DnsPrivateAddress", "severity": "warning", "endpoint": "login", "usage_error": "LoginError",
            "message": "private", "evidence": {"servers": "10.0.0.53:53"}}),
        );
        json!({"schema_version": "1", "tool": {"name": "azs-netprobe", "version": "0.1.0"},
            "node": {"hostname": host}, "run": {"id": format!("run-{host}"), "interrupted": false},
            "summary": {"verdict": if intercepted {"error"} else {"warning"}, "exit_code": if intercepted {2} else {1},
                "usage_errors": if intercepted {json!(["CertificateValidationError"])} else {json!([])},
                "counts": {"error": if intercepted {1} else {0}, "warning": 1, "info": 0}},
            "clock": {"offset_seconds": 0.5, "verdict": "ok"},
            "endpoints": [{"name": "usage", "role": "usage", "host": "u.example", "verdict": if intercepted {"error"} else {"ok"}, "stage": "http: 200"},
                          {"name": "login", "role": "login", "host": "l.example", "verdict": "warning", "stage": "http: 200"}],
            "findings": findings})
    }

    #[test]
    fn shows_which_node_differs() {
        let reports = vec![
            ("a.json".into(), node("xrp1", false)),
            ("b.json".into(), node("xrp2", true)),
            ("c.json".into(), node("xrp3", false)),
        ];
        let f = merge(&reports, "t".into()).unwrap();
        assert_eq!(f.summary.exit_code, 2);
        assert_eq!(f.summary.nodes_with_errors, 1);
        assert_eq!(f.summary.differences, vec!["TlsInterception on usage (Zscaler): only 1 of 3 nodes: xrp2"]);
        let dns = f.problems.iter().find(|p| p.code == "DnsPrivateAddress").unwrap();
        assert!(dns.all_nodes);
        assert_eq!(f.endpoints[0].results.len(), 3);
    }

    #[test]
    fn the_same_report_twice_is_one_node_named_as_a_duplicate() {
        let a = node("xrp1", false);
        let b = node("xrp2", true);
        let reports = vec![
            ("a.json".into(), a.clone()),
            ("b.json".into(), b),
            ("a2.json".into(), a.clone()),
            ("a3.json".into(), a),
        ];
        let f = merge(&reports, "t".into()).unwrap();
        assert_eq!(f.summary.nodes, 2);
        assert_eq!(f.nodes.iter().map(|n| n.hostname.as_str()).collect::<Vec<_>>(), ["xrp1", "xrp2"]);
        assert_eq!(
            f.summary.duplicates,
            [
                "a2.json is the same run as a.json (run run-xrp1): merged once",
                "a3.json is the same run as a.json (run run-xrp1): merged once"
            ]
        );
        assert_eq!(f.summary.differences, vec!["TlsInterception on usage (Zscaler): only 1 of 2 nodes: xrp2"]);
        // Only copies: one node, no differences invented.
        let same = vec![("a.json".into(), node("xrp1", true)), ("b.json".into(), node("xrp1", true))];
        let f = merge(&same, "t".into()).unwrap();
        assert_eq!((f.summary.nodes, f.summary.differences.len(), f.summary.duplicates.len()), (1, 0, 1));
    }

    #[test]
    fn the_worst_node_decides_and_an_interrupted_node_with_errors_is_an_error() {
        let mut interrupted = node("xrp2", true);
        interrupted["run"]["interrupted"] = json!(true);
        interrupted["summary"]["exit_code"] = json!(3);
        let f = merge(&[("a.json".into(), node("xrp1", false)), ("b.json".into(), interrupted.clone())], "t".into())
            .unwrap();
        assert_eq!((f.summary.exit_code, f.summary.verdict.as_str()), (2, "error"));
        // Interrupted with nothing found: the node could not be checked (3), worse than a warning.
        interrupted["summary"]["counts"]["error"] = json!(0);
        let f = merge(&[("a.json".into(), node("xrp1", false)), ("b.json".into(), interrupted.clone())], "t".into())
            .unwrap();
        assert_eq!((f.summary.exit_code, f.summary.verdict.as_str()), (3, "unknown"));
        // ... and errors elsewhere still decide.
        let f = merge(&[("a.json".into(), node("xrp1", true)), ("b.json".into(), interrupted)], "t".into()).unwrap();
        assert_eq!(f.summary.exit_code, 2);
    }

    #[test]
    fn refuses_what_is_not_a_report_and_accepts_older_versions() {
        assert!(matches!(parse("nope", "x.json"), Err(MergeError::NotJson { .. })));
        assert!(matches!(parse("{}", "x.json"), Err(MergeError::NotReport { .. })));
        let mut v = node("a", false);
        v["schema_version"] = json!("9");
        assert!(matches!(parse(&v.to_string(), "x.json"), Err(MergeError::TooNew { .. })));
        // An older report without the fields added since (stage, clock, counts) still merges.
        let old = json!({"schema_version": "0", "tool": {"name": "azs-netprobe"}, "node": {"hostname": "old"},
            "endpoints": [{"name": "usage", "verdict": "ok"}], "findings": []});
        let v = parse(&old.to_string(), "old.json").unwrap();
        let f = merge(&[("old.json".into(), v)], "t".into()).unwrap();
        assert_eq!(f.nodes[0].hostname, "old");
        assert_eq!(f.nodes[0].exit_code, 3, "unknown exit code of a report without a summary");
        assert!(matches!(merge(&[], "t".into()), Err(MergeError::Empty)));
    }
}
