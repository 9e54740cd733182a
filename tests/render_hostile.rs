#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `render` of hostile reports: a report is input from elsewhere (a ticket attachment), so its
//! size must not make the page cost more than linear time.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::command;

/// A finding whose evidence has 100,000 keys (a 6 MB report, far below the 64 MiB cap) renders
/// in linear time. With a linear search per key the page took 150 s here (debug build).
#[test]
fn a_finding_with_100000_evidence_keys_renders_in_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples/lab-mixed-failures.json");
    let mut report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
    let evidence = report["findings"][0]["evidence"].as_object_mut().unwrap();
    for i in 0..100_000 {
        evidence.insert(format!("k{i:06}"), serde_json::json!(format!("value-{i}")));
    }
    let input = dir.path().join("wide.json");
    std::fs::write(&input, serde_json::to_vec(&report).unwrap()).unwrap();
    let html = dir.path().join("wide.html");
    let started = Instant::now();
    let out = command(dir.path()).arg("render").arg(&input).arg("--html").arg(&html).output().unwrap();
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(took < Duration::from_secs(20), "render took {took:?}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("k099999") && page.contains("value-99999"), "every evidence key is on the page");
}
