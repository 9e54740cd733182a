#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A run stopped by SIGINT or SIGTERM ends within a second and still writes a valid report
//! with what it observed.
#![cfg(unix)]

mod common;
mod lab;

use std::time::{Duration, Instant};

use common::{command, probe_file};
use serde_json::Value;

fn endpoint(name: &str, url: &str) -> String {
    format!("[[endpoint]]\nname = \"{name}\"\nrole = \"usage\"\nurl = \"{url}\"\npublic = false\n")
}

/// One endpoint per way of being stopped: finished (a closed port), stopped in DNS (a silent
/// server), in TCP (black holes), in TLS (a server that never answers the ClientHello), in HTTP
/// (an untrusted chain, then no response), and not started (waiting for a concurrency slot).
fn interrupted_by(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let closed = lab::closed_port();
    let dns = lab::DnsServer::start(vec![("hang.lab.test", lab::DnsAnswer::Silence)]);
    let holes: Vec<_> = (0..2).map(|_| lab::blackhole()).collect();
    let silent = lab::silent_server();
    let ca = lab::TestCa::new("Untrusted Lab Root");
    let leaf = ca.leaf(&["127.0.0.1"]);
    let mute = lab::TlsServer::start(std::net::Ipv4Addr::LOCALHOST.into(), &leaf, lab::HttpBehavior::NeverRespond);
    let probes = [
        endpoint("closed", &format!("tcp://127.0.0.1:{}", closed.port())),
        endpoint("dns-hang", "https://hang.lab.test/"),
        endpoint("tcp-hang", &format!("https://127.0.0.1:{}/", holes[0].addr.port())),
        endpoint("tls-hang", &format!("https://127.0.0.1:{}/", silent.addr.port())),
        endpoint("http-hang", &format!("https://127.0.0.1:{}/", mute.addr.port())),
        endpoint("tcp-hang-2", &format!("https://127.0.0.1:{}/", holes[1].addr.port())),
        endpoint("queued", "https://127.0.0.1:9/"),
    ]
    .concat();
    let file = probe_file(dir.path(), &probes);
    let out = dir.path().join("report.json");
    let mut child = command(dir.path())
        .args(["--probes", file.to_str().unwrap(), "--timeout", "30s", "--out", out.to_str().unwrap()])
        .args(["--dns-server", &dns.addr.to_string()])
        // Five at once: `closed` ends at once and `tcp-hang-2` takes its place; `queued` waits.
        .args(["--concurrency", "5"])
        .stdout(std::process::Stdio::piped())
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
    assert_eq!(eps.len(), 7, "every endpoint is in the report");
    let ep = |name: &str| eps.iter().find(|e| e["name"] == name).unwrap();
    let codes = |name: &str| -> Vec<String> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["endpoint"] == name)
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };

    // Finished before the signal: as in any run.
    let e = ep("closed");
    assert_eq!(e["tcp"][0]["status"], "refused", "what was observed is kept: {e}");
    assert_eq!(e["interrupted"], Value::Null);
    assert_eq!(codes("closed"), vec!["TcpConnectionRefused"]);

    // Stopped in flight: the stage in flight and for how long (the probes ran about a second),
    // the stages before it as observed, and no finding about what was never seen.
    for (name, stage) in
        [("dns-hang", "dns"), ("tcp-hang", "tcp"), ("tls-hang", "tls"), ("http-hang", "http"), ("tcp-hang-2", "tcp")]
    {
        let e = ep(name);
        assert_eq!(e["verdict"], "skipped", "{e}");
        assert_eq!(e["stage"], format!("{stage}: interrupted"), "{name}");
        assert_eq!(e["interrupted"]["stage"], stage, "{name}");
        let after = e["interrupted"]["after_ms"].as_u64().unwrap();
        assert!((500..30_000).contains(&after), "{name}: in flight for {after} ms");
        // The stage in flight has its start (DNS: the query's start is known when it returns).
        let key = if matches!(stage, "tcp" | "proxy") { "connect" } else { stage };
        if stage != "dns" {
            let started = e["started_ms"][key].as_u64().unwrap_or_else(|| panic!("{name}: {}", e["started_ms"]));
            assert!(started < 500, "{name}: {stage} began {started} ms into the run");
        }
    }
    assert_eq!(ep("dns-hang")["dns"]["status"], "not_attempted");
    assert_eq!(codes("dns-hang"), Vec::<String>::new());
    let e = ep("tcp-hang");
    assert_eq!(e["dns"]["status"], "not_needed");
    assert_eq!(e["dns"]["addresses"], serde_json::json!(["127.0.0.1"]));
    assert_eq!(e["tcp"], serde_json::json!([]));
    assert_eq!(codes("tcp-hang"), Vec::<String>::new());
    let e = ep("tls-hang");
    assert_eq!(e["tcp"][0]["status"], "ok", "{e}");
    assert_eq!(e["tls"]["status"], "not_attempted");
    assert_eq!(codes("tls-hang"), Vec::<String>::new());
    // The handshake finished: its chain, the stores' verdicts and the finding they make stay.
    let e = ep("http-hang");
    assert_eq!(e["tls"]["status"], "ok", "{e}");
    assert_eq!(e["tls"]["chain"][0]["issuer_cn"], "Untrusted Lab Root");
    assert_eq!(e["tls"]["trust"]["public"], "unknown_issuer");
    assert_eq!(e["http"]["status"], "not_attempted");
    assert_eq!(codes("http-hang"), vec!["TlsUntrustedRoot"]);
    assert_eq!(mute.requests().len(), 1, "the request went out");

    // Never started.
    let e = ep("queued");
    assert_eq!(e["verdict"], "skipped");
    assert_eq!(e["stage"], "skipped: interrupted");
    assert_eq!(e["interrupted"], Value::Null);
    assert_eq!(e["tcp"], serde_json::json!([]));

    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.contains(&format!("SIG{signal}")), "{stderr}");
    // The summary says so before anything else.
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let second = stdout.lines().nth(1).unwrap_or_default();
    assert_eq!(second, "INTERRUPTED: the run was stopped before it finished; 6 endpoint(s) incomplete (see STAGE)");

    // The example of an interrupted run (reports/examples/; see tests/examples.rs).
    if signal == "INT" && std::env::var_os("AZS_UPDATE_EXAMPLES").is_some() {
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples");
        std::fs::copy(&out, examples.join("lab-interrupted-run.json")).unwrap();
    }
}

#[test]
fn sigint_stops_within_a_second_and_keeps_the_report() {
    interrupted_by("INT");
}

#[test]
fn sigterm_stops_within_a_second_and_keeps_the_report() {
    interrupted_by("TERM");
}
