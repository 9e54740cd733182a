#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Reports that travel: explain, HTML, metrics, fleet merges, redaction, languages.

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use common::{BIN, command, probe_file, run};
use lab::{DnsAnswer, DnsServer, TestCa, TlsServer, ok_response};
use serde_json::{Value, json};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples")
}

#[test]
fn explain_covers_every_code_in_every_language() {
    let codes = [
        "DnsNameNotFound",
        "TlsInterception",
        "ClockSkew",
        "ProxyAuthenticationRequired",
        "LoginError",
        "Unauthorized",
        "RegistrationNotFound",
        "MetadataResolverBadGatewayError",
    ];
    for code in codes {
        for lang in ["en", "fr", "zh"] {
            let out = std::process::Command::new(BIN).args(["explain", code, "--lang", lang]).output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{code} {lang}");
            let text = String::from_utf8(out.stdout).unwrap();
            assert!(text.starts_with(code), "{text}");
            assert!(text.contains("  1. "), "{code} {lang}: steps\n{text}");
            assert!(
                !text.contains("(no fr text") && !text.contains("(no zh text"),
                "{code} {lang} falls back:\n{text}"
            );
        }
    }
    let out = std::process::Command::new(BIN).args(["explain", "LoginErr"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean LoginError"));
}

/// A node report from the lab: one healthy endpoint and one that is intercepted or not.
fn node_report(dir: &Path, host_label: &str, intercepted: bool, extra: &[&str]) -> (PathBuf, Value) {
    let ca = TestCa::new("Lab Root CA");
    let zscaler = TestCa::new_with("Zscaler Intermediate Root CA", "Zscaler Inc.");
    let good = TlsServer::start(LO, &ca.leaf(&["login.lab.test", "usage.lab.test"]), ok_response());
    let usage_leaf = if intercepted { zscaler.leaf(&["usage.lab.test"]) } else { ca.leaf(&["usage.lab.test"]) };
    let usage = TlsServer::start(LO, &usage_leaf, ok_response());
    let dns = DnsServer::start(vec![
        ("login.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
        ("usage.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
    ]);
    let file = probe_file(
        dir,
        &format!(
            "[[endpoint]]\nname = \"entra-login\"\nrole = \"login\"\nurl = \"https://login.lab.test:{}/\"\npublic = false\n\
             [[endpoint]]\nname = \"usage\"\nrole = \"usage\"\nurl = \"https://usage.lab.test:{}/\"\npublic = false\n",
            good.addr.port(),
            usage.addr.port()
        ),
    );
    let pem = ca.write_pem(dir, "ca.pem");
    let out = dir.join(format!("{host_label}.json"));
    let mut args = vec![
        "--probes".to_string(),
        file.display().to_string(),
        "--dns-server".into(),
        dns.addr.to_string(),
        "--public-roots".into(),
        pem.display().to_string(),
        "--system-roots".into(),
        pem.display().to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let status = command(dir).args(&args).output().unwrap();
    assert!(status.status.code().is_some_and(|c| c <= 2), "{}", String::from_utf8_lossy(&status.stderr));
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    // Several nodes of one fleet, run here on one machine: give each its own name.
    v["node"]["hostname"] = json!(host_label);
    std::fs::write(&out, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    (out, v)
}

#[test]
fn merge_shows_which_node_differs_and_refuses_what_is_not_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = node_report(dir.path(), "xrp-vm1", false, &[]);
    let (b, _) = node_report(dir.path(), "xrp-vm2", true, &[]);
    let (c, _) = node_report(dir.path(), "xrp-vm3", false, &[]);
    let fleet = dir.path().join("fleet.json");
    let html = dir.path().join("fleet.html");
    let out = command(dir.path())
        .args([
            "merge",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            c.to_str().unwrap(),
            "--out",
            fleet.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let f: Value = serde_json::from_str(&std::fs::read_to_string(&fleet).unwrap()).unwrap();
    assert_eq!(f["schema_version"], "fleet-1");
    assert_eq!(f["summary"]["nodes"], 3);
    assert_eq!(f["summary"]["nodes_with_errors"], 1);
    let diffs: Vec<&str> =
        f["summary"]["differences"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert_eq!(diffs, vec!["TlsInterception on usage (Zscaler): only 1 of 3 nodes: xrp-vm2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Where nodes differ") && stdout.contains("xrp-vm2"), "{stdout}");
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("xrp-vm2") && html.contains("TlsInterception"));

    // An older report (schema 0, fewer fields) still merges; garbage is refused by name.
    let old = dir.path().join("old.json");
    std::fs::write(&old, r#"{"schema_version":"0","tool":{"name":"azs-netprobe"},"node":{"hostname":"legacy-node"},"endpoints":[],"findings":[]}"#).unwrap();
    let out = command(dir.path())
        .args(["merge", a.to_str().unwrap(), old.to_str().unwrap(), "--out", fleet.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a report without an exit code counts as a warning");
    let f: Value = serde_json::from_str(&std::fs::read_to_string(&fleet).unwrap()).unwrap();
    assert_eq!(f["nodes"][1]["hostname"], "legacy-node");
    for (name, content, why) in [
        ("garbage.json", "not json at all", "is not JSON"),
        ("other.json", r#"{"hello": "world"}"#, "is not an azs-netprobe report"),
        (
            "future.json",
            r#"{"schema_version":"7","tool":{"name":"azs-netprobe"},"endpoints":[],"findings":[]}"#,
            "newer than this tool",
        ),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        let out = command(dir.path())
            .args(["merge", a.to_str().unwrap(), p.to_str().unwrap(), "--out", fleet.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(p.to_str().unwrap()) && err.contains(why), "{name}: {err}");
    }
}

#[test]
fn run_writes_html_and_prometheus_and_render_makes_the_same_page() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("node.html");
    let prom = dir.path().join("node.prom");
    let (report, v) = node_report(
        dir.path(),
        "xrp-vm1",
        true,
        &["--html", html.to_str().unwrap(), "--prometheus", prom.to_str().unwrap()],
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("TlsInterception") && page.contains("Zscaler"));
    let rendered = dir.path().join("rendered.html");
    let out = command(dir.path())
        .args(["render", report.to_str().unwrap(), "--html", rendered.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_to_string(&rendered).unwrap().contains("Zscaler"));

    let text = std::fs::read_to_string(&prom).unwrap();
    // Every sample belongs to the family declared just before it (families stand together).
    let mut family = String::new();
    let mut seen = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            family = rest.split(' ').next().unwrap().to_string();
            assert!(seen.insert(family.clone()), "family {family} declared twice");
        } else if !line.starts_with('#') {
            assert!(
                line.starts_with(&format!("{family}{{")) || line.starts_with(&format!("{family} ")),
                "{line} outside {family}"
            );
        }
    }
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str, label: Option<(&str, &str)>| {
        scrape.samples.iter().find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v))).map(
            |s| match s.value {
                prometheus_parse::Value::Gauge(g) => g,
                _ => f64::NAN,
            },
        )
    };
    assert_eq!(value("azs_netprobe_exit_code", None), Some(2.0));
    assert_eq!(value("azs_netprobe_endpoint_ok", Some(("endpoint", "usage"))), Some(0.0));
    assert_eq!(value("azs_netprobe_endpoint_ok", Some(("endpoint", "entra-login"))), Some(1.0));
    assert_eq!(value("azs_netprobe_stage_success", Some(("stage", "tls"))), Some(1.0));
    assert_eq!(value("azs_netprobe_finding", Some(("code", "TlsInterception"))), Some(1.0));
    assert_eq!(value("azs_netprobe_clock_verified", None), Some(1.0));
    assert!(value("azs_netprobe_clock_offset_seconds", None).unwrap().abs() < 3.0);
    assert_eq!(v["summary"]["exit_code"], 2);
}

#[test]
fn redact_replaces_the_node_name_and_internal_addresses_with_stable_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    let key = [("AZS_NETPROBE_REDACT_KEY", "fleet-secret")];
    let mut reports = Vec::new();
    for i in 0..2 {
        let ca = TestCa::new("Lab Root CA");
        let tls = TlsServer::start(LO, &ca.leaf(&["login.lab.test"]), ok_response());
        let dns = DnsServer::start(vec![("login.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
        let file = probe_file(
            dir.path(),
            &format!(
                "[[endpoint]]\nname = \"entra-login\"\nrole = \"login\"\nurl = \"https://login.lab.test:{}/\"\n",
                tls.addr.port()
            ),
        );
        let pem = ca.write_pem(dir.path(), "ca.pem");
        let out = dir.path().join(format!("r{i}.json"));
        let mut cmd = command(dir.path());
        cmd.args(["--probes", file.to_str().unwrap(), "--dns-server", &dns.addr.to_string(), "--redact"]).args([
            "--public-roots",
            pem.to_str().unwrap(),
            "--system-roots",
            pem.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        for (k, v) in key {
            cmd.env(k, v);
        }
        let o = cmd.output().unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        common::shape::check(&text);
        assert!(!text.contains("127.0.0.1"), "internal addresses are replaced");
        assert!(!text.contains(&format!("\"{hostname}\"")), "the node's name is replaced");
        assert!(!String::from_utf8_lossy(&o.stdout).contains("127.0.0.1"), "the summary too");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["config"]["redacted"], true);
        assert_eq!(v["endpoints"][0]["host"], "login.lab.test", "public endpoint names stay");
        assert!(v["node"]["hostname"].as_str().unwrap().starts_with("host-"));
        assert!(v["endpoints"][0]["dns"]["addresses"][0].as_str().unwrap().starts_with("ip-"));
        reports.push(v);
    }
    assert_eq!(reports[0]["node"]["hostname"], reports[1]["node"]["hostname"], "stable with the same key");
    assert_eq!(reports[0]["endpoints"][0]["dns"]["addresses"], reports[1]["endpoints"][0]["dns"]["addresses"]);
}

#[test]
fn lang_picks_the_remediation_language() {
    let dir = tempfile::tempdir().unwrap();
    let closed = lab::closed_port();
    let file = probe_file(dir.path(), "");
    for (lang, needle) in [("fr", "pare-feu"), ("zh", "防火墙")] {
        let r = run(
            dir.path(),
            &[
                "--probes",
                file.to_str().unwrap(),
                "--endpoint",
                &format!("tcp://127.0.0.1:{}", closed.port()),
                "--lang",
                lang,
            ],
        );
        let f = &r.report["findings"][0];
        assert_eq!(f["code"], "TcpConnectionRefused");
        let text = serde_json::to_string(&f["remediation"]).unwrap();
        assert!(text.contains(needle), "{lang}: {text}");
        assert_eq!(r.report["config"]["lang"], lang);
        assert!(r.stdout.contains(f["remediation"]["steps"][0].as_str().unwrap()), "the summary uses it too");
    }
}

#[test]
fn an_unwritable_output_is_refused_before_probing() {
    let dir = tempfile::tempdir().unwrap();
    let hole = lab::blackhole();
    for flag in ["--out", "--html", "--prometheus"] {
        let start = std::time::Instant::now();
        let out = command(dir.path())
            .args(["--probes", probe_file(dir.path(), "").to_str().unwrap()])
            .args(["--endpoint", &format!("tcp://127.0.0.1:{}", hole.addr.port()), "--timeout", "5s"])
            .args([flag, "/nonexistent-dir/report"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{flag}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-dir/"), "{flag}");
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "{flag}: refused before the 5 s probe");
    }
    let _ = examples();
}
