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

pub const FLEET_SCHEMA_VERSION: &str = "fleet-1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FleetReport {
    pub schema_version: String,
    pub tool: Tool,
    /// RFC 3339, UTC.
    pub generated_at: String,
    pub nodes: Vec<FleetNode>,
    /// Every endpoint any node probed, with each node's result.
    pub endpoints: Vec<FleetEndpoint>,
    /// Findings grouped across nodes: one entry per code, endpoint and cause.
    pub problems: Vec<FleetProblem>,
    pub summary: FleetSummary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FleetNode {
    pub hostname: String,
    /// The report file it came from.
    pub source: String,
    pub schema_version: String,
    pub run_id: Option<String>,
    pub started_at: Option<String>,
    pub interrupted: bool,
    pub verdict: String,
    pub exit_code: u8,
    pub usage_errors: Vec<String>,
    pub errors: usize,
    pub warnings: usize,
    pub clock_offset_seconds: Option<f64>,
    pub clock_verdict: Option<String>,
    pub proxy: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetEndpoint {
    pub name: String,
    pub role: Option<String>,
    pub host: Option<String>,
    pub results: Vec<FleetCell>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetCell {
    pub node: String,
    pub verdict: String,
    pub stage: Option<String>,
    /// The node's `tls.revocation.status` for the endpoint (null: no chain, or an older report).
    #[serde(default)]
    pub revocation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetProblem {
    pub code: String,
    pub severity: String,
    pub endpoint: Option<String>,
    pub usage_error: Option<String>,
    /// What distinguishes this problem: the issuer that re-signs, the proxy, the DNS servers...
    pub cause: Option<String>,
    /// A message from one node, as an example.
    pub message: String,
    pub nodes: Vec<String>,
    /// Every merged node has it (false: the nodes differ).
    pub all_nodes: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FleetSummary {
    pub verdict: String,
    /// The worst node's exit code.
    pub exit_code: u8,
    pub nodes: usize,
    pub nodes_with_errors: usize,
    pub usage_errors: Vec<String>,
    /// One sentence per problem some nodes have and others do not.
    pub differences: Vec<String>,
}

/// Why reports could not be merged (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not JSON: {reason}")]
    NotJson { path: String, reason: String },
    #[error("{path} is not an azs-netprobe report: {reason}")]
    NotReport { path: String, reason: String },
    #[error(
        "{path} has schema version {version}, newer than this tool understands ({SCHEMA_VERSION}); use a newer azs-netprobe"
    )]
    TooNew { path: String, version: String },
    #[error("no reports to merge")]
    Empty,
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// Read and check one node report.
pub fn load(path: &Path) -> Result<Value, MergeError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| MergeError::Read { path: shown.clone(), source })?;
    parse(&text, &shown)
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

fn cause(f: &Value) -> Option<String> {
    f["evidence"].as_object().and_then(crate::diagnose::cause)
}

/// Merge node reports (`(source, report)`), in the order given.
pub fn merge(reports: &[(String, Value)], generated_at: String) -> Result<FleetReport, MergeError> {
    if reports.is_empty() {
        return Err(MergeError::Empty);
    }
    let mut nodes = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for (source, r) in reports {
        let mut hostname = s(&r["node"]["hostname"]).unwrap_or_else(|| source.clone());
        // Two reports from one host (two runs) stay apart.
        if names.contains(&hostname) {
            hostname = format!("{hostname} ({source})");
        }
        names.push(hostname.clone());
        let summary = &r["summary"];
        let count = |k: &str| summary["counts"][k].as_u64().unwrap_or(0) as usize;
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
    for ((_, r), node) in reports.iter().zip(&names) {
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
    // Problems: findings grouped by code, endpoint and cause.
    let mut groups: BTreeMap<(String, Option<String>, Option<String>), FleetProblem> = BTreeMap::new();
    for ((_, r), node) in reports.iter().zip(&names) {
        for f in r["findings"].as_array().into_iter().flatten() {
            let code = s(&f["code"]).unwrap_or_default();
            let endpoint = s(&f["endpoint"]);
            let cause = cause(f);
            let p = groups.entry((code.clone(), endpoint.clone(), cause.clone())).or_insert_with(|| FleetProblem {
                code,
                severity: s(&f["severity"]).unwrap_or_default(),
                endpoint,
                usage_error: s(&f["usage_error"]),
                cause,
                message: s(&f["message"]).unwrap_or_default(),
                nodes: Vec::new(),
                all_nodes: false,
            });
            if !p.nodes.contains(node) {
                p.nodes.push(node.clone());
            }
        }
    }
    let rank = |sev: &str| match sev {
        "error" => 0,
        "warning" => 1,
        _ => 2,
    };
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
    // A node whose report carries no exit code (an older schema) counts as a warning, never as
    // "could not run" (3), which is the merge's own failure.
    let exit_code = nodes.iter().map(|n| if n.exit_code > 2 { 1 } else { n.exit_code }).max().unwrap_or(0);
    let mut usage_errors: Vec<String> = nodes.iter().flat_map(|n| n.usage_errors.clone()).collect();
    usage_errors.sort();
    usage_errors.dedup();
    let verdict = match exit_code {
        0 => "ok",
        1 => "warning",
        _ => "error",
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
        },
        nodes,
        endpoints,
        problems,
    })
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
            "node": {"hostname": host}, "run": {"id": "x", "interrupted": false},
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
