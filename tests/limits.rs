#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The probe's own limits: absurd durations, its open-files limit, and many endpoints. None of
//! them may crash the run, be blamed on the network, or change the exit code.

mod common;
mod lab;

use common::{command, probe_file, run};

fn endpoint(name: &str, url: &str) -> String {
    format!("[[endpoint]]\nname = \"{name}\"\nrole = \"usage\"\nurl = \"{url}\"\npublic = false\n")
}

/// A timeout beyond any use is refused while parsing, naming the maximum: nothing is probed.
#[test]
fn absurd_timeout_is_refused_naming_the_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let file = probe_file(dir.path(), "ntp_servers = []\n");
    for t in ["300000000000y", "61m", "2h"] {
        let out = command(dir.path())
            .args(["run", "--probes", file.to_str().unwrap(), "--timeout", t, "--out"])
            .arg(dir.path().join("r.json"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{t}: {stderr}");
        assert!(stderr.contains("--timeout") && stderr.contains("maximum timeout of 1h"), "{t}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!dir.path().join("r.json").exists(), "{t}: nothing is probed");
    }
}

/// The longest timeout accepted, with an NXDOMAIN endpoint and an NTP server whose name does
/// not resolve: a normal report (the endpoint's NXDOMAIN, exit 2), no panic, nothing skipped.
#[test]
fn longest_timeout_with_nxdomain_and_unresolvable_ntp_server_reports_normally() {
    let dir = tempfile::tempdir().unwrap();
    let dns = lab::DnsServer::start(vec![
        ("nx.lab.test", lab::DnsAnswer::NxDomain),
        ("ntp.nx.lab.test", lab::DnsAnswer::NxDomain),
    ]);
    let file = probe_file(dir.path(), &endpoint("nx", "https://nx.lab.test/"));
    let server = dns.addr.to_string();
    let r = run(
        dir.path(),
        &[
            "run",
            "--probes",
            file.to_str().unwrap(),
            "--dns-server",
            &server,
            "--ntp-server",
            "ntp.nx.lab.test",
            "--no-proxy",
            "--timeout",
            "1h",
        ],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let e = r.endpoint("nx");
    assert_eq!(e["verdict"], "error", "{e}");
    assert_eq!(e["dns"]["status"], "nxdomain", "{e}");
    assert_eq!(e["stage"], "dns: nxdomain", "{e}");
    assert_eq!(r.codes("nx"), vec!["DnsNameNotFound"]);
    assert_eq!(r.report["config"]["timeout_ms"], 3_600_000);
    assert_eq!(r.report["run"]["interrupted"], false);
    let src = &r.report["clock"]["sources"][0];
    assert_eq!(src["server"], "ntp.nx.lab.test", "{src}");
    assert!(src["error"].as_str().unwrap().contains("cannot resolve ntp.nx.lab.test (nxdomain)"), "{src}");
}

/// A probe file of `n` tcp:// endpoints on one closed loopback port (each refused at once).
fn many_closed(dir: &std::path::Path, n: usize) -> std::path::PathBuf {
    let closed = lab::closed_port();
    let mut text = String::from("ntp_servers = []\n");
    for i in 0..n {
        text.push_str(&endpoint(&format!("ep{i}"), &format!("tcp://{closed}")));
    }
    probe_file(dir, &text)
}

/// 4,000 copies of one `--endpoint` are all probed, each under its own name (naming them was
/// cubic: 22 s before probing started).
#[test]
fn four_thousand_copies_of_one_endpoint_are_all_probed() {
    let dir = tempfile::tempdir().unwrap();
    let file = probe_file(dir.path(), "ntp_servers = []\n");
    let url = format!("tcp://{}", lab::closed_port());
    let mut args = vec!["run".to_string(), "--probes".into(), file.to_str().unwrap().into(), "--no-proxy".into()];
    for _ in 0..4000 {
        args.extend(["--endpoint".to_string(), url.clone()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(dir.path(), &args);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let eps = r.report["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 4000);
    assert_eq!(eps[0]["name"], url.as_str());
    assert_eq!(eps[1]["name"], format!("{url}#2"));
    assert_eq!(eps[3999]["name"], format!("{url}#4000"));
    let names: std::collections::HashSet<&str> = eps.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 4000, "every name is unique");
    assert!(eps.iter().all(|e| e["tcp"][0]["status"] == "refused"), "every copy was probed");
}

/// 20,000 endpoints: the report, its HTML page and the summary are all written (building
/// them was quadratic: 8 s for the JSON, 28 s with the HTML, on a release build).
#[test]
fn twenty_thousand_endpoints_complete_with_html() {
    let dir = tempfile::tempdir().unwrap();
    let file = many_closed(dir.path(), 20_000);
    let html = dir.path().join("r.html");
    let r = run(
        dir.path(),
        &[
            "run",
            "--probes",
            file.to_str().unwrap(),
            "--no-proxy",
            "--concurrency",
            "1024",
            "--html",
            html.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let eps = r.report["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 20_000);
    assert!(eps.iter().all(|e| e["verdict"] == "error" && e["stage"] == "tcp: refused"));
    assert_eq!(r.report["summary"]["counts"]["error"], 20_000);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("20000 endpoints") && page.contains("ep19999"), "the page lists every endpoint");
    assert!(r.stdout.contains("  ep19999 "), "the summary lists every endpoint");
}

/// SIGTERM while the report is being built (20,000 endpoints and an HTML page take seconds)
/// ends the run at once: exit 3, the reason on stderr, and no file written, not even in part.
#[cfg(unix)]
#[test]
fn sigterm_while_the_report_is_built_stops_at_once_and_writes_nothing() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let file = many_closed(dir.path(), 20_000);
    let (out, html) = (dir.path().join("r.json"), dir.path().join("r.html"));
    let mut child = command(dir.path())
        .args(["run", "-v", "--probes", file.to_str().unwrap(), "--no-proxy", "--concurrency", "1024"])
        .arg("--out")
        .arg(&out)
        .arg("--html")
        .arg(&html)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.contains("building the report") {
            break;
        }
        line.clear();
    }
    assert!(line.contains("building the report"), "{seen}");
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let sent = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(sent.elapsed() < Duration::from_secs(10), "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(5));
    };
    let stopped_in = sent.elapsed();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(3), "{rest}");
    assert!(rest.contains("SIGTERM: stopped while the report was being built; no report written"), "{rest}");
    assert!(stopped_in < Duration::from_secs(1), "stopped in {stopped_in:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!out.exists() && !html.exists(), "{left:?}");
    assert_eq!(left.len(), 1, "only the probe file: {left:?}");
}

/// Run the binary under `prlimit --nofile=SOFT:HARD` against 80 endpoints on a black-holed
/// loopback port (each connect hangs until the stage timeout) and 20 on a listening one: 100
/// sockets at once, more than 64 open files allow.
#[cfg(target_os = "linux")]
fn under_open_files_limit(limit: &str) -> (common::Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let hole = lab::blackhole();
    let healthy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut text = String::from("ntp_servers = []\n");
    for i in 0..80 {
        text.push_str(&endpoint(&format!("hole{i}"), &format!("tcp://{}", hole.addr)));
    }
    for i in 0..20 {
        text.push_str(&endpoint(&format!("ok{i}"), &format!("tcp://{}", healthy.local_addr().unwrap())));
    }
    let file = probe_file(dir.path(), &text);
    let report_path = dir.path().join("report.json");
    let out = std::process::Command::new("prlimit")
        .arg(format!("--nofile={limit}"))
        .arg(common::BIN)
        .args(["run", "-v", "--probes", file.to_str().unwrap(), "--no-proxy", "--timeout", "200ms", "--out"])
        .arg(&report_path)
        .env_remove("RUST_LOG")
        .output()
        .expect("run prlimit (util-linux)");
    let text = std::fs::read_to_string(&report_path).unwrap_or_else(|e| {
        panic!("no report ({e}): {}", String::from_utf8_lossy(&out.stderr));
    });
    common::shape::check(&text);
    let run = common::Run {
        code: out.status.code().unwrap_or(-1),
        report: serde_json::from_str(&text).unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: std::time::Duration::ZERO,
        report_path,
    };
    drop(hole);
    (run, dir)
}

/// What a run that fits its open-files limit reports: every black hole a connect timeout,
/// every healthy endpoint ok, and not one "Too many open files" blamed on the network.
#[cfg(target_os = "linux")]
fn assert_no_open_files_fault(r: &common::Run) {
    let text = serde_json::to_string(&r.report).unwrap();
    assert!(!text.contains("Too many open files"), "{}", r.stderr);
    assert_eq!(r.code, 2, "{}", r.stderr);
    for i in 0..80 {
        let e = r.endpoint(&format!("hole{i}"));
        assert_eq!(e["stage"], "tcp: timeout", "{e}");
        assert_eq!(r.codes(&format!("hole{i}")), vec!["TcpConnectTimeout"]);
    }
    for i in 0..20 {
        let e = r.endpoint(&format!("ok{i}"));
        assert_eq!((&e["stage"], &e["verdict"]), (&"tcp: ok".into(), &"ok".into()), "{e}");
    }
    let codes: Vec<&str> =
        r.report["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert!(!codes.iter().any(|c| *c == "TcpUnreachable" || *c == "DnsServerFailure"), "{codes:?}");
}

/// A hard limit of 64 open files: the probe shares it between its sockets (fewer endpoints and
/// connects at once) instead of failing 45 of 100 endpoints as TcpUnreachable.
#[cfg(target_os = "linux")]
#[test]
fn a_low_open_files_limit_is_shared_never_blamed_on_the_network() {
    let (r, _dir) = under_open_files_limit("64:64");
    assert_no_open_files_fault(&r);
}

/// A soft limit of 64 under a hard one of 4096 is raised at start (the log says so), and the
/// 100 sockets are opened at once.
#[cfg(target_os = "linux")]
#[test]
fn the_soft_open_files_limit_is_raised_to_the_hard_one() {
    let (r, _dir) = under_open_files_limit("64:4096");
    assert!(r.stderr.contains("open-files limit raised from 64 to 4096"), "{}", r.stderr);
    assert_no_open_files_fault(&r);
}
