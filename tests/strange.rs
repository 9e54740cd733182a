#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Right answers to strange input (issue 10, items 13-17 and 19): interim HTTP responses,
//! invalid host names, unreadable proxy environment, undecidable clocks, impossible SNTP
//! replies, fleet merges of duplicates and interrupted nodes, and the small ones.

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use common::{Run, command, probe_file, run};
use lab::{ConnectProxy, DnsAnswer, DnsServer, HttpBehavior, ProxyMode, TestCa, TlsServer, ok_response};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Probe one https endpoint `svc` at `url`, trusting `ca`, with extra arguments.
fn probe_one(dir: &Path, ca: &TestCa, url: &str, extra: &[&str]) -> Run {
    let file =
        probe_file(dir, &format!("[[endpoint]]\nname = \"svc\"\nrole = \"usage\"\nurl = \"{url}\"\npublic = false\n"));
    let pem = ca.write_pem(dir, "ca.pem").display().to_string();
    let mut args: Vec<String> = ["--probes", file.to_str().unwrap(), "--public-roots", &pem, "--system-roots", &pem]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if !extra.contains(&"--timeout") {
        args.extend(["--timeout".into(), "2s".into()]);
    }
    args.extend(["--ntp-server".into(), "127.0.0.1:1".into()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    run(dir, &strs(&args))
}

// 13. Interim (1xx) responses.

#[test]
fn early_hints_before_a_503_report_the_503() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let leaf = ca.leaf(&["127.0.0.1"]);
    let server = TlsServer::start(
        LO,
        &leaf,
        HttpBehavior::Interim { interim: vec![103], then: Some((503, "down for maintenance".into())) },
    );
    let r = probe_one(dir.path(), &ca, &format!("https://127.0.0.1:{}/", server.addr.port()), &[]);
    let e = r.endpoint("svc");
    assert_eq!(e["http"]["status_code"], 503, "{e}");
    assert_ne!(e["verdict"], "ok", "{e}");
    assert_eq!(r.code, 2, "a 503 on a required endpoint is an error");
}

#[test]
fn several_interim_heads_then_200_is_ok() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let leaf = ca.leaf(&["127.0.0.1"]);
    let server = TlsServer::start(
        LO,
        &leaf,
        HttpBehavior::Interim { interim: vec![100, 102, 103, 103], then: Some((200, "ok".into())) },
    );
    let r = probe_one(dir.path(), &ca, &format!("https://127.0.0.1:{}/", server.addr.port()), &[]);
    let e = r.endpoint("svc");
    assert_eq!(e["http"]["status_code"], 200, "{e}");
    assert_eq!(e["http"]["server"], "lab", "the final head's headers are read: {e}");
    assert_eq!(e["verdict"], "ok", "{e}");
}

#[test]
fn endless_interim_heads_hit_the_cap_not_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let leaf = ca.leaf(&["127.0.0.1"]);
    let server = TlsServer::start(LO, &leaf, HttpBehavior::Interim { interim: vec![102], then: None });
    let r = probe_one(dir.path(), &ca, &format!("https://127.0.0.1:{}/", server.addr.port()), &["--timeout", "5s"]);
    let e = r.endpoint("svc");
    assert_eq!(e["http"]["status"], "error", "{e}");
    let err = e["http"]["error"].as_str().unwrap();
    assert!(err.contains("interim (1xx) responses without a final one"), "{err}");
    assert!(e["http"]["duration_ms"].as_u64().unwrap() < 4000, "the cap, not the 5 s timeout: {e}");
    assert_eq!(r.code, 2);
}

fn proxied(dir: &Path, mode: ProxyMode) -> Run {
    let ca = TestCa::new("Lab Root CA");
    let tls = TlsServer::start(LO, &ca.leaf(&["svc.lab.test"]), ok_response());
    let dns = DnsServer::start(vec![("svc.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let proxy = ConnectProxy::start_with_hosts(mode, &[("svc.lab.test", LO)]);
    let url = format!("https://svc.lab.test:{}/", tls.addr.port());
    probe_one(dir, &ca, &url, &["--dns-server", &dns.addr.to_string(), "--proxy", &proxy.url()])
}

#[test]
fn a_proxy_answering_100_continue_then_200_opens_the_tunnel() {
    let dir = tempfile::tempdir().unwrap();
    let r = proxied(dir.path(), ProxyMode::ContinueFirst);
    let e = r.endpoint("svc");
    assert_eq!(e["proxy"]["status"], "ok", "{e}");
    assert_eq!(e["proxy"]["http_status"], 200, "{e}");
    assert_eq!(e["http"]["status_code"], 200, "{e}");
    assert_eq!(r.code, 0, "{}", r.report["findings"]);
}

#[test]
fn a_proxy_answering_only_100_continue_is_capped() {
    let dir = tempfile::tempdir().unwrap();
    let r = proxied(dir.path(), ProxyMode::EndlessContinue);
    let e = r.endpoint("svc");
    assert_eq!(e["proxy"]["status"], "error", "{e}");
    let err = e["proxy"]["error"].as_str().unwrap();
    assert!(err.contains("interim (1xx) responses without a final one"), "{err}");
    assert_ne!(e["proxy"]["status"], "denied", "{e}");
    // No answer in HTTP is no refusal by policy: the finding says the proxy did not speak HTTP.
    assert_eq!(r.codes("svc"), vec!["HttpProtocolError"], "{}", r.report["findings"]);
    let message = r.finding("svc", "HttpProtocolError")["message"].as_str().unwrap().to_string();
    assert!(message.contains("did not answer CONNECT") && message.contains("with valid HTTP"), "{message}");
}

/// Run the binary expecting a refusal before any work: exit 3, no report; returns stderr.
fn refused(dir: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> String {
    let report = dir.join("refused.json");
    let mut cmd = command(dir);
    cmd.args(args).arg("--out").arg(&report);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
    assert!(!report.exists(), "{args:?}: refused before probing, no report");
    stderr
}

fn empty_probes(dir: &Path) -> String {
    probe_file(dir, "").display().to_string()
}

// 14. Host names.

#[test]
fn invalid_host_names_are_the_callers_error_naming_the_url_and_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let p = empty_probes(dir.path());
    let err = refused(dir.path(), &["--probes", &p, "--endpoint", "https://a..b.test/"], &[]);
    assert!(err.contains("https://a..b.test/") && err.contains("label 2 is empty"), "{err}");
    assert!(!err.contains("Err(") && !err.contains("DnsServerFailure"), "{err}");
    let long = format!("tcp://{}.test:443", "a".repeat(64));
    let err = refused(dir.path(), &["--probes", &p, "--endpoint", &long], &[]);
    assert!(err.contains("label 1 is 64 characters long (at most 63)"), "{err}");
    let err = refused(dir.path(), &["--probes", &p, "--endpoint", "tcp://-bad.test:443"], &[]);
    assert!(err.contains("starts or ends with a hyphen"), "{err}");
    // In a probe file: file, line and column.
    let file = probe_file(dir.path(), "[[endpoint]]\nname = \"x\"\nrole = \"usage\"\nurl = \"tcp://a..b.test:1\"\n");
    let err = refused(dir.path(), &["--probes", file.to_str().unwrap()], &[]);
    assert!(err.contains("probes.toml:4:7: ") && err.contains("label 2 is empty"), "{err}");
}

#[test]
fn idn_names_take_the_same_path_for_tcp_and_https() {
    let dir = tempfile::tempdir().unwrap();
    let p = empty_probes(dir.path());
    let dns = DnsServer::start(vec![("xn--bcher-kva.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let r = run(
        dir.path(),
        &[
            "--probes",
            &p,
            "--dns-server",
            &dns.addr.to_string(),
            "--endpoint",
            "tcp://Bücher.test:1",
            "--ntp-server",
            "127.0.0.1:1",
            "--timeout",
            "1s",
        ],
    );
    let e = r.endpoint("tcp://xn--bcher-kva.test:1");
    assert_eq!(e["dns"]["status"], "ok", "resolved under its IDNA name: {e}");
}

// 15. The proxy environment.

#[cfg(unix)]
#[test]
fn proxy_variables_that_are_not_utf8_are_refused() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let p = empty_probes(dir.path());
    let bad = std::ffi::OsStr::from_bytes(b"http://proxy\xff.corp:3128");
    let err = refused(dir.path(), &["--probes", &p], &[("HTTPS_PROXY", bad)]);
    assert!(err.contains("HTTPS_PROXY") && err.contains("not UTF-8"), "{err}");
    let err = refused(dir.path(), &["--probes", &p], &[("ALL_PROXY", bad)]);
    assert!(err.contains("ALL_PROXY") && err.contains("not UTF-8"), "{err}");
    let np = std::ffi::OsStr::from_bytes(b".corp\xfe.example");
    let ok = std::ffi::OsStr::new("http://127.0.0.1:3128");
    let err = refused(dir.path(), &["--probes", &p], &[("HTTPS_PROXY", ok), ("NO_PROXY", np)]);
    assert!(err.contains("NO_PROXY") && err.contains("not UTF-8"), "{err}");
}

#[test]
fn all_proxy_is_honoured_after_https_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let tls = TlsServer::start(LO, &ca.leaf(&["svc.lab.test"]), ok_response());
    let dns = DnsServer::start(vec![("svc.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let proxy = ConnectProxy::start_with_hosts(ProxyMode::PassThrough, &[("svc.lab.test", LO)]);
    let file = probe_file(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"svc\"\nrole = \"usage\"\nurl = \"https://svc.lab.test:{}/\"\npublic = false\n",
            tls.addr.port()
        ),
    );
    let pem = ca.write_pem(dir.path(), "ca.pem").display().to_string();
    let report = dir.path().join("r.json");
    let out = command(dir.path())
        .args(["--probes", file.to_str().unwrap(), "--public-roots", &pem, "--system-roots", &pem])
        .args(["--dns-server", &dns.addr.to_string(), "--timeout", "2s", "--ntp-server", "127.0.0.1:1"])
        .arg("--out")
        .arg(&report)
        .env("ALL_PROXY", proxy.url())
        .env("NO_PROXY", "10.0.0.0/33, a..b.example, ok.example")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    common::shape::check(&std::fs::read_to_string(&report).unwrap());
    let e = r["endpoints"].as_array().unwrap().iter().find(|e| e["name"] == "svc").unwrap();
    assert_eq!(e["proxy"]["status"], "ok", "{e}");
    assert_eq!(r["config"]["proxy"]["source"], "env");
    assert_eq!(r["config"]["proxy"]["no_proxy"], serde_json::json!(["ok.example"]));
    assert_eq!(r["config"]["proxy"]["no_proxy_malformed"], serde_json::json!(["10.0.0.0/33", "a..b.example"]));
    assert!(stderr.contains("NO_PROXY entry `10.0.0.0/33` is malformed"), "{stderr}");
    assert!(stderr.contains("NO_PROXY entry `a..b.example` is malformed"), "{stderr}");
    assert!(!proxy.requests().is_empty(), "the CONNECT went through ALL_PROXY");
}

// 19. The small ones: arguments refused up front.

#[test]
fn port_zero_is_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let p = empty_probes(dir.path());
    for args in [
        vec!["--probes", &p, "--endpoint", "tcp://127.0.0.1:0"],
        vec!["--probes", &p, "--endpoint", "https://svc.example:0/"],
        vec!["--probes", &p, "--dns-server", "127.0.0.1:0"],
        vec!["--probes", &p, "--proxy", "http://127.0.0.1:0"],
        vec!["--probes", &p, "--ntp-server", "127.0.0.1:0"],
    ] {
        let err = refused(dir.path(), &args, &[]);
        assert!(err.contains("port 0"), "{args:?}: {err}");
    }
    let err = refused(dir.path(), &["--probes", &p], &[("https_proxy", std::ffi::OsStr::new("http://10.9.9.9:0"))]);
    assert!(err.contains("https_proxy") && err.contains("port 0"), "{err}");
}

#[test]
fn empty_reachable_and_bad_ntp_servers_are_refused_before_probing() {
    let dir = tempfile::tempdir().unwrap();
    let file = probe_file(
        dir.path(),
        "[[endpoint]]\nname = \"x\"\nrole = \"usage\"\nurl = \"https://x.example/\"\nreachable = []\n",
    );
    let err = refused(dir.path(), &["--probes", file.to_str().unwrap()], &[]);
    assert!(err.contains("probes.toml:5:13: `reachable` is empty"), "{err}");
    let p = empty_probes(dir.path());
    for (server, why) in
        [("a..b.example", "label 2 is empty"), ("ntp.corp:x", "is not a port"), ("bad host", "not allowed")]
    {
        let err = refused(dir.path(), &["--probes", &p, "--ntp-server", server], &[]);
        assert!(err.contains(server) && err.contains(why), "{server}: {err}");
    }
}

#[test]
fn a_sub_millisecond_timeout_is_recorded_as_used() {
    let dir = tempfile::tempdir().unwrap();
    let p = empty_probes(dir.path());
    let r = run(dir.path(), &["--probes", &p, "--timeout", "500us", "--ntp-server", "127.0.0.1:1"]);
    assert_eq!(r.report["config"]["timeout_ms"], 1, "rounded up to the millisecond the stages use");
}

#[test]
fn lang_ignores_case_as_cloud_does() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path()).args(["explain", "ClockSkew", "--lang", "FR"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let fr = command(dir.path()).args(["explain", "ClockSkew", "--lang", "fr"]).output().unwrap();
    assert_eq!(out.stdout, fr.stdout);
    let p = empty_probes(dir.path());
    let r = run(dir.path(), &["--probes", &p, "--lang", "ZH", "--cloud", "azurecloud", "--ntp-server", "127.0.0.1:1"]);
    assert_eq!(r.report["config"]["lang"], "zh");
}

// 17. Fleet merges.

/// A real node report (`--out`) with the hostname set to `host`.
fn node_report(dir: &Path, host: &str, fail: bool) -> (std::path::PathBuf, serde_json::Value) {
    let p = empty_probes(dir);
    let closed = format!("tcp://{}", lab::closed_port());
    let mut args = vec!["--probes", &p, "--ntp-server", "127.0.0.1:1", "--timeout", "1s"];
    if fail {
        args.extend(["--endpoint", &closed]);
    }
    let r = run(dir, &args);
    let mut v = r.report;
    v["node"]["hostname"] = serde_json::json!(host);
    let path = dir.join(format!("{host}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    (path, v)
}

fn merge(dir: &Path, reports: &[&Path]) -> (i32, serde_json::Value, String) {
    let fleet = dir.join("fleet.json");
    let out = command(dir).arg("merge").args(reports).arg("--out").arg(&fleet).output().unwrap();
    let f = serde_json::from_str(&std::fs::read_to_string(&fleet).unwrap()).unwrap();
    (out.status.code().unwrap(), f, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_same_report_merged_three_times_is_one_node_named_as_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = node_report(dir.path(), "node-a", true);
    let (b, _) = node_report(dir.path(), "node-b", false);
    let a2 = dir.path().join("copy-of-a.json");
    std::fs::copy(&a, &a2).unwrap();
    let (code, f, stdout) = merge(dir.path(), &[&a, &b, &a2, &a]);
    assert_eq!(f["summary"]["nodes"], 2, "{}", f["summary"]);
    let hosts: Vec<&str> = f["nodes"].as_array().unwrap().iter().map(|n| n["hostname"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["node-a", "node-b"], "no colliding names");
    let dups = f["summary"]["duplicates"].as_array().unwrap();
    assert_eq!(dups.len(), 2, "{dups:?}");
    assert!(dups[0].as_str().unwrap().contains("copy-of-a.json is the same run as"), "{dups:?}");
    let diffs = f["summary"]["differences"].as_array().unwrap();
    assert!(diffs.iter().all(|d| d.as_str().unwrap().contains("of 2 nodes")), "no invented differences: {diffs:?}");
    assert!(stdout.contains("Duplicate: "), "{stdout}");
    assert_eq!(code, 2);
}

#[test]
fn an_interrupted_node_with_errors_makes_the_fleet_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = node_report(dir.path(), "node-b", false);
    let (c, mut v) = node_report(dir.path(), "node-c", true);
    assert!(v["summary"]["counts"]["error"].as_u64().unwrap() > 0);
    // What an interrupted run writes: run.interrupted and exit code 3.
    v["run"]["interrupted"] = serde_json::json!(true);
    v["summary"]["exit_code"] = serde_json::json!(3);
    std::fs::write(&c, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let (code, f, _) = merge(dir.path(), &[&b, &c]);
    assert_eq!((code, f["summary"]["exit_code"].as_u64()), (2, Some(2)), "{}", f["summary"]);
    assert_eq!(f["summary"]["verdict"], "error");
    // Interrupted before anything failed: that node could not be checked.
    v["summary"]["counts"]["error"] = serde_json::json!(0);
    std::fs::write(&c, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let (code, f, _) = merge(dir.path(), &[&b, &c]);
    assert_eq!((code, f["summary"]["verdict"].as_str()), (3, Some("unknown")), "{}", f["summary"]);
}

// 19. The small ones.

#[test]
fn a_finding_about_many_addresses_is_one_short_line_with_all_in_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let addrs: Vec<Ipv4Addr> = (1..=60).map(|i| Ipv4Addr::new(127, 0, 2, i)).collect();
    let dns = DnsServer::start(vec![("many.lab.test", DnsAnswer::A(addrs))]);
    let closed = lab::closed_port().port();
    let p = empty_probes(dir.path());
    let target = format!("tcp://many.lab.test:{closed}");
    let args = ["--probes", &p, "--dns-server", &dns.addr.to_string(), "--endpoint", &target];
    let r = run(dir.path(), &[&args[..], &["--ntp-server", "127.0.0.1:1", "--timeout", "2s"]].concat());
    let f = r.finding(&target, "TcpConnectionRefused");
    let message = f["message"].as_str().unwrap();
    assert!(message.len() < 200, "{} bytes: {message}", message.len());
    assert!(message.contains("and 55 more (all in the evidence)"), "{message}");
    assert_eq!(f["evidence"]["attempts"].as_array().unwrap().len(), 60);
    for step in f["remediation"]["steps"].as_array().unwrap() {
        assert!(step.as_str().unwrap().len() < 400, "{step}");
    }
}

#[test]
fn prometheus_label_values_carry_no_raw_carriage_return() {
    let dir = tempfile::tempdir().unwrap();
    let closed = lab::closed_port();
    let file = probe_file(
        dir.path(),
        &format!("[[endpoint]]\nname = \"evil\\r\\nname\\t1\"\nrole = \"custom\"\nurl = \"tcp://{closed}\"\n"),
    );
    let prom = dir.path().join("m.prom");
    let r = run(
        dir.path(),
        &[
            "--probes",
            file.to_str().unwrap(),
            "--prometheus",
            prom.to_str().unwrap(),
            "--ntp-server",
            "127.0.0.1:1",
            "--timeout",
            "1s",
        ],
    );
    assert_eq!(r.code, 2);
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(!text.contains('\r'), "raw CR in the metrics");
    assert!(text.contains("endpoint=\"evil\\nname 1\""), "{text}");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    // prometheus-parse keeps escapes as written.
    let ok = scrape.samples.iter().filter(|s| s.metric == "azs_netprobe_endpoint_ok").collect::<Vec<_>>();
    assert_eq!(ok.len(), 1, "one sample per endpoint, the line unbroken: {text}");
    assert_eq!(ok[0].labels.get("endpoint"), Some("evil\\nname 1"));
}

#[test]
fn a_dns_server_with_nothing_listening_is_said_so_not_a_firewall_timeout() {
    let dir = tempfile::tempdir().unwrap();
    // A UDP port with nothing bound: the node's stack answers with ICMP port unreachable.
    let port = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port();
    let p = empty_probes(dir.path());
    let server = format!("127.0.0.1:{port}");
    let r = run(
        dir.path(),
        &[
            "--probes",
            &p,
            "--dns-server",
            &server,
            "--endpoint",
            "https://svc.lab.test/",
            "--ntp-server",
            "127.0.0.1:1",
            "--timeout",
            "1s",
        ],
    );
    let e = r.endpoint("https://svc.lab.test/");
    assert_ne!(e["dns"]["status"], "timeout", "{e}");
    let err = e["dns"]["error"].as_str().unwrap();
    assert!(err.contains(&format!("nothing listens on {server}")) && err.contains("ICMP port unreachable"), "{err}");
    assert!(
        r.codes("https://svc.lab.test/").iter().all(|c| c != "DnsTimeout"),
        "{:?}",
        r.codes("https://svc.lab.test/")
    );
}

#[test]
fn a_proxy_name_that_does_not_resolve_is_said_with_the_stable_label() {
    let dir = tempfile::tempdir().unwrap();
    let dns = DnsServer::start(vec![("proxy.lab.test", DnsAnswer::NxDomain)]);
    let ca = TestCa::new("Lab Root CA");
    let r = probe_one(
        dir.path(),
        &ca,
        "https://svc.lab.test/",
        &["--dns-server", &dns.addr.to_string(), "--proxy", "http://proxy.lab.test:3128"],
    );
    let err = r.endpoint("svc")["proxy"]["error"].as_str().unwrap().to_string();
    assert!(err.contains("cannot resolve the proxy proxy.lab.test (nxdomain)"), "{err}");
    assert!(!err.contains("Nxdomain"), "{err}");
}

/// A UDP "DNS server" that answers every query with the wrong message id (hickory logs a warning).
fn wrong_id_server() -> std::net::SocketAddr {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    socket.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            if n < 12 {
                continue;
            }
            let mut reply = buf[..n].to_vec();
            reply[0] ^= 0x5a;
            reply[2] |= 0x80;
            let _ = socket.send_to(&reply, peer);
        }
    });
    addr
}

#[test]
fn logs_have_no_colours_off_a_terminal_and_no_resolver_chatter_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let p = empty_probes(dir.path());
    let dns = wrong_id_server().to_string();
    let args = [
        "--probes",
        &p,
        "--dns-server",
        &dns,
        "--endpoint",
        "tcp://svc.lab.test:443",
        "--ntp-server",
        "127.0.0.1:1",
        "--timeout",
        "1s",
    ];
    let quiet = command(dir.path())
        .args(args)
        .args(["--out", dir.path().join("a.json").to_str().unwrap()])
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "10.0.0.0/99")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(stderr.contains("NO_PROXY entry `10.0.0.0/99` is malformed"), "a warning is logged: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "ANSI escapes in logs written to a pipe: {stderr:?}");
    assert!(!stderr.contains("wrong message id"), "{stderr}");
    // The same run at -v shows the resolver's warning: the server does provoke it.
    let verbose = command(dir.path())
        .args(args)
        .args(["-v", "--out", dir.path().join("b.json").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(stderr.contains("wrong message id"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn render_errors_name_the_json_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = empty_probes(dir.path());
    let closed = format!("tcp://{}", lab::closed_port());
    let r = run(dir.path(), &["--probes", &p, "--endpoint", &closed, "--ntp-server", "127.0.0.1:1", "--timeout", "1s"]);
    let mut v = r.report;
    v["endpoints"][0]["dns"]["status"] = serde_json::json!("bogus");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    let html = dir.path().join("r.html");
    let out =
        command(dir.path()).args(["render", bad.to_str().unwrap(), "--html", html.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at `endpoints[0].dns.status`: unknown variant `bogus`"), "{err}");
    assert!(!html.exists());
}
