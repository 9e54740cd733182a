#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `run --every/--count/--history`: real rounds against a loopback server that fails every
//! other round.

mod common;
mod lab;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A TCP service on `addr` that is up while the history holds an even number of lines and
/// down (refusing) while it holds an odd number: rounds 1 and 3 find it, rounds 2 and 4 not.
fn flapping(addr: SocketAddr, history: &Path, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let history = history.to_path_buf();
    let mut listener = Some(TcpListener::bind(addr).unwrap());
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let up = lines(&history).len().is_multiple_of(2);
            match (up, listener.is_some()) {
                (true, false) => listener = Some(TcpListener::bind(addr).unwrap()),
                (false, true) => listener = None,
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    })
}

#[test]
fn a_server_failing_every_other_round_is_named_intermittent_and_the_worst_round_decides() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("rounds.jsonl");
    let prom = dir.path().join("probe.prom");
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stop = Arc::new(AtomicBool::new(false));
    let server = flapping(addr, &history, stop.clone());
    let file = common::probe_file(
        dir.path(),
        &format!(
            "name = \"lab\"\nversion = \"1\"\n[[endpoint]]\nname = \"winrm\"\nrole = \"custom\"\nurl = \"tcp://127.0.0.1:{port}\"\n"
        ),
    );
    let p = file.to_str().unwrap();
    let r = common::run(
        dir.path(),
        &[
            "run",
            "--probes",
            p,
            "--timeout",
            "1s",
            "--every",
            "200ms",
            "--count",
            "4",
            "--history",
            history.to_str().unwrap(),
            "--prometheus",
            prom.to_str().unwrap(),
        ],
    );
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
    let rounds = lines(&history);
    assert_eq!(rounds.len(), 4, "{}", r.stderr);
    let refused = |l: &Value| l["findings"].as_array().unwrap().iter().any(|f| f["code"] == "TcpConnectionRefused");
    assert_eq!(rounds.iter().map(refused).collect::<Vec<_>>(), [false, true, false, true]);
    for (i, l) in rounds.iter().enumerate() {
        assert_eq!(l["round"], i as u64 + 1);
        for k in ["started_at", "duration_ms", "verdict", "exit_code", "usage_errors"] {
            assert!(!l[k].is_null(), "{k} in {l}");
        }
    }
    let codes: Vec<u64> = rounds.iter().map(|l| l["exit_code"].as_u64().unwrap()).collect();
    assert_eq!(codes[1], 2, "a refused required endpoint is an error");
    // The worst round decides.
    assert_eq!(r.code, 2, "{}", r.stdout);
    // Start to start: 200 ms apart (the rounds are much shorter).
    let starts: Vec<chrono::DateTime<chrono::FixedOffset>> = rounds
        .iter()
        .map(|l| chrono::DateTime::parse_from_rfc3339(l["started_at"].as_str().unwrap()).unwrap())
        .collect();
    for w in starts.windows(2) {
        let gap = (w[1] - w[0]).num_milliseconds();
        assert!((180..600).contains(&gap), "rounds {gap} ms apart");
    }
    // The report is the last round's, carrying the watch.
    let w = &r.report["watch"];
    assert_eq!(
        (w["rounds_total"].as_u64(), w["count"].as_u64(), w["every_ms"].as_u64()),
        (Some(4), Some(4), Some(200))
    );
    assert_eq!(w["rounds"].as_array().unwrap().len(), 4);
    assert_eq!(w["error_rounds_total"], 2);
    let intermittent = w["intermittent"].as_array().unwrap();
    assert_eq!(intermittent.len(), 1, "{w}");
    assert_eq!(
        (&intermittent[0]["endpoint"], &intermittent[0]["code"], &intermittent[0]["seen"], &intermittent[0]["of"]),
        (&Value::from("winrm"), &Value::from("TcpConnectionRefused"), &Value::from(2), &Value::from(4))
    );
    assert!(
        r.stdout.contains("INTERMITTENT ERROR TcpConnectionRefused on winrm: seen in 2 of 4 rounds"),
        "{}",
        r.stdout
    );
    // Metrics: counters of failed rounds per endpoint and code since the start.
    let text = std::fs::read_to_string(&prom).unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str, code: Option<&str>| {
        scrape.samples.iter().find(|s| s.metric == name && code.is_none_or(|c| s.labels.get("code") == Some(c))).map(
            |s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            },
        )
    };
    assert_eq!(value("azs_netprobe_watch_failed_rounds_total", Some("TcpConnectionRefused")), Some(2.0), "{text}");
    assert_eq!(value("azs_netprobe_watch_rounds_total", None), Some(4.0));
    assert_eq!(value("azs_netprobe_watch_error_rounds_total", None), Some(2.0));
}

#[test]
fn history_without_every_appends_one_line_per_run_and_never_follows_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let file = common::probe_file(
        dir.path(),
        &format!(
            "name = \"lab\"\nversion = \"1\"\n[[endpoint]]\nname = \"winrm\"\nrole = \"custom\"\nurl = \"tcp://127.0.0.1:{port}\"\n"
        ),
    );
    let history = dir.path().join("h.jsonl");
    let args = ["--probes", file.to_str().unwrap(), "--history", history.to_str().unwrap()];
    let first = common::run(dir.path(), &args);
    common::run(dir.path(), &args);
    let l = lines(&history);
    assert_eq!(l.len(), 2);
    assert_eq!(l[0]["run_id"], first.report["run"]["id"]);
    assert!(first.report.get("watch").is_none(), "no watch without --every");
    // A symlink as the history is refused (exit 3), its target untouched.
    #[cfg(unix)]
    {
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let out = common::command(dir.path())
            .args(["--probes", file.to_str().unwrap(), "--history", link.to_str().unwrap(), "--out", "r.json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert!(String::from_utf8_lossy(&out.stderr).contains("is not a regular file"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
    // The history may not be the report.
    let out = common::command(dir.path())
        .args(["--probes", file.to_str().unwrap(), "--history", "same.json", "--out", "same.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Ctrl-C (SIGINT) between rounds ends the watch with the last round's outputs in place.
#[cfg(unix)]
#[test]
fn a_stop_request_between_rounds_ends_the_watch_with_the_last_state_written() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let file = common::probe_file(
        dir.path(),
        &format!(
            "name = \"lab\"\nversion = \"1\"\n[[endpoint]]\nname = \"winrm\"\nrole = \"custom\"\nurl = \"tcp://127.0.0.1:{port}\"\n"
        ),
    );
    let history = dir.path().join("h.jsonl");
    let mut child = common::command(dir.path())
        .args([
            "--probes",
            file.to_str().unwrap(),
            "--every",
            "1h",
            "--history",
            history.to_str().unwrap(),
            "--out",
            "r.json",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while lines(&history).is_empty() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(status.code(), Some(2), "one round, a refused connection: its exit code");
    let report = common::shape::check(&std::fs::read_to_string(dir.path().join("r.json")).unwrap());
    assert_eq!(report.watch.unwrap().rounds_total, 1);
}

/// Ctrl-C during a round ends the watch after writing that round as an interrupted run (with
/// the watch so far and its history line). An interrupted round with an error counts as an
/// error round: exit 2.
#[cfg(unix)]
#[test]
fn a_stop_request_during_a_round_writes_it_as_interrupted_and_ends_the_watch() {
    let dir = tempfile::tempdir().unwrap();
    let refused = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let hole = lab::blackhole();
    let history = dir.path().join("h.jsonl");
    let file = common::probe_file(
        dir.path(),
        &format!(
            "name = \"lab\"\nversion = \"1\"\n[[endpoint]]\nname = \"winrm\"\nrole = \"custom\"\nurl = \"tcp://127.0.0.1:{refused}\"\n\
             [[endpoint]]\nname = \"silent\"\nrole = \"custom\"\nurl = \"tcp://127.0.0.1:{}\"\n",
            hole.addr.port()
        ),
    );
    let mut child = common::command(dir.path())
        .args(["--probes", file.to_str().unwrap(), "--timeout", "30s", "--every", "200ms", "--history"])
        .arg(&history)
        .args(["--out", "r.json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Every round waits on the black hole for 30 s: stop the first one half-way.
    std::thread::sleep(Duration::from_millis(1500));
    std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let start = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    let report = common::shape::check(&std::fs::read_to_string(dir.path().join("r.json")).unwrap());
    assert!(report.run.interrupted);
    let watch = report.watch.unwrap();
    assert_eq!((watch.rounds_total, watch.rounds[0].interrupted), (1, true));
    let l = lines(&history);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["interrupted"], true);
    // The interrupted round has an error (the refused port): it counts as errors.
    assert_eq!(status.code(), Some(2));
}

/// Between rounds the process is idle: its threads use (almost) no CPU while it waits for the
/// next round (BENCHMARKS.md measures a minute; this guards against a busy loop).
#[cfg(target_os = "linux")]
#[test]
fn between_rounds_the_process_is_idle() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let file = common::probe_file(
        dir.path(),
        &format!(
            "name = \"lab\"\nversion = \"1\"\n[[endpoint]]\nname = \"winrm\"\nrole = \"custom\"\nurl = \"tcp://127.0.0.1:{port}\"\n"
        ),
    );
    let history = dir.path().join("h.jsonl");
    let mut child = common::command(dir.path())
        .args(["--probes", file.to_str().unwrap(), "--every", "1h", "--history"])
        .arg(&history)
        .args(["--out", "r.json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while lines(&history).is_empty() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    // CPU time of every thread, in nanoseconds (the first field of schedstat).
    let cpu_ns = |pid: u32| -> u64 {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .map(|t| {
                let s = std::fs::read_to_string(t.unwrap().path().join("schedstat")).unwrap_or_default();
                s.split_whitespace().next().and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
            })
            .sum()
    };
    std::thread::sleep(Duration::from_millis(200));
    let before = cpu_ns(child.id());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ns(child.id()) - before;
    let _ = child.kill();
    let _ = child.wait();
    assert!(used < 20_000_000, "{used} ns of CPU in 2 s between rounds");
}
