#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Right answers to strange input (issue 10, items 13-17 and 19): interim HTTP responses,
//! invalid host names, unreadable proxy environment, undecidable clocks, impossible SNTP
//! replies, fleet merges of duplicates and interrupted nodes, and the small ones.

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use common::{Run, probe_file, run};
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
}
