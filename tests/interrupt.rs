#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A run stopped by SIGINT or SIGTERM ends within a second and still writes a valid report
//! with what it observed.
#![cfg(unix)]

mod common;
mod lab;

use std::time::{Duration, Instant};

use common::{command, probe_file};
use serde_json::Value;

fn interrupted_by(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let holes: Vec<_> = (0..3).map(|_| lab::blackhole()).collect();
    let closed = lab::closed_port();
    let mut probes = format!(
        "[[endpoint]]\nname = \"closed\"\nrole = \"usage\"\nurl = \"tcp://127.0.0.1:{}\"\npublic = false\n",
        closed.port()
    );
    for (i, h) in holes.iter().enumerate() {
        probes.push_str(&format!(
            "[[endpoint]]\nname = \"hole{i}\"\nrole = \"usage\"\nurl = \"https://127.0.0.1:{}/\"\npublic = false\n",
            h.addr.port()
        ));
    }
    let file = probe_file(dir.path(), &probes);
    let out = dir.path().join("report.json");
    let mut child = command(dir.path())
        .args(["--probes", file.to_str().unwrap(), "--timeout", "30s", "--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    assert!(child.try_wait().unwrap().is_none(), "still probing the black holes");
    let sent = Instant::now();
    let status =
        std::process::Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(sent.elapsed() < Duration::from_secs(5), "did not stop after {signal}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let stopped_in = sent.elapsed();
    assert!(stopped_in < Duration::from_secs(1), "{signal}: stopped in {stopped_in:?}");
    assert_eq!(code, Some(3), "an interrupted run is UNKNOWN");
    let text = std::fs::read_to_string(&out).unwrap();
    common::shape::check(&text);
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["run"]["interrupted"], true);
    assert_eq!(r["summary"]["exit_code"], 3);
    let eps = r["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 4, "every endpoint is in the report");
    assert_eq!(eps[0]["tcp"][0]["status"], "refused", "what was observed is kept");
    assert!(r["findings"].as_array().unwrap().iter().any(|f| f["code"] == "TcpConnectionRefused"));
    for e in &eps[1..] {
        assert_eq!(e["verdict"], "skipped", "{e}");
        assert_eq!(e["stage"], "skipped: interrupted");
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains(&format!("SIG{signal}")), "{stderr}");
}

#[test]
fn sigint_stops_within_a_second_and_keeps_the_report() {
    interrupted_by("INT");
}

#[test]
fn sigterm_stops_within_a_second_and_keeps_the_report() {
    interrupted_by("TERM");
}
