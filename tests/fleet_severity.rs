#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A fleet problem's severity does not depend on the order the reports are given to `merge`.

mod common;

use std::path::{Path, PathBuf};

use common::command;
use serde_json::{Value, json};

/// The example node report as node `host` (its own run id), its first finding at `severity`.
fn node(dir: &Path, host: &str, severity: &str) -> PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples/lab-mixed-failures.json");
    let mut r: Value = serde_json::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
    r["node"]["hostname"] = json!(host);
    r["run"]["id"] = json!(format!("run-of-{host}"));
    r["findings"][0]["severity"] = json!(severity);
    r["findings"][0]["message"] = json!(format!("as {host} saw it"));
    let path = dir.join(format!("{host}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
    path
}

/// The fleet problem of the first finding's code and endpoint after merging `reports` in order.
fn problem(dir: &Path, reports: &[&Path]) -> Value {
    let fleet = dir.join("fleet.json");
    let out = command(dir).arg("merge").args(reports).arg("--out").arg(&fleet).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let f: Value = serde_json::from_str(&std::fs::read_to_string(&fleet).unwrap()).unwrap();
    let matching: Vec<&Value> = f["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "TcpConnectTimeout" && p["endpoint"] == "arm-metadata")
        .collect();
    assert_eq!(matching.len(), 1, "one problem for one code, endpoint and cause: {matching:?}");
    matching[0].clone()
}

/// The same code on the same endpoint is info on one node (e.g. below a root cause) and an
/// error on another: the fleet problem is an error whichever report comes first.
#[test]
fn a_fleet_problem_takes_the_worst_severity_whatever_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let info = node(dir.path(), "node-info", "info");
    let error = node(dir.path(), "node-error", "error");
    for order in [[&info, &error], [&error, &info]] {
        let p = problem(dir.path(), &[order[0].as_path(), order[1].as_path()]);
        assert_eq!(p["severity"], "error", "{p}");
        assert_eq!(p["message"], "as node-error saw it", "the example comes from the worst node: {p}");
        assert_eq!(p["nodes"].as_array().unwrap().len(), 2, "{p}");
    }
}
