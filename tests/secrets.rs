#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Secrets and what leaves the node: `--redact` through a proxy and with a proxy named like an
//! enum label, credentials a proxy echoes back, and hostile bytes kept away from the terminal
//! and the HTML page. Linux only: the probe runs in its own UTS namespace (`unshare`), so that
//! the node's name is known.

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use common::{BIN, probe_file};
use lab::{ConnectProxy, DnsAnswer, DnsServer, ProxyMode, TestCa, TlsServer, ok_response};
use serde_json::Value;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The node's name inside the UTS namespace the probe runs in.
const NODE: &str = "azs-node-secret7";

/// Everything one run left behind.
struct Outputs {
    code: i32,
    report: String,
    html: String,
    stdout: String,
    stderr: String,
}

impl Outputs {
    fn json(&self) -> Value {
        serde_json::from_str(&self.report).unwrap()
    }

    /// Each output, named, for assertions over all of them.
    fn all(&self) -> [(&'static str, &str); 4] {
        [("report", &self.report), ("html", &self.html), ("stdout", &self.stdout), ("stderr", &self.stderr)]
    }
}

/// Run the binary in its own UTS namespace named [`NODE`] (so that the node's name is known and
/// distinctive), with `--out` and `--html` in `dir`.
fn run_as_node(dir: &Path, args: &[String], env: &[(&str, &str)]) -> Outputs {
    let (out, html) = (dir.join("r.json"), dir.join("r.html"));
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&html);
    let mut cmd = Command::new("unshare");
    cmd.current_dir(dir)
        .args(["--uts", "sh", "-c", &format!("hostname {NODE} && exec \"$0\" \"$@\""), BIN])
        .args(args)
        .arg("--out")
        .arg(&out)
        .arg("--html")
        .arg(&html);
    for v in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY"] {
        cmd.env_remove(v);
    }
    cmd.env_remove("no_proxy").env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run the binary under unshare");
    Outputs {
        code: o.status.code().unwrap_or(-1),
        report: std::fs::read_to_string(&out).unwrap_or_default(),
        html: std::fs::read_to_string(&html).unwrap_or_default(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A healthy lab service at svc.lab.test, resolved by the lab DNS (which also knows `extra`).
struct Service {
    ca: TestCa,
    tls: TlsServer,
    dns: DnsServer,
}

fn service(extra: Vec<(&str, DnsAnswer)>) -> Service {
    let ca = TestCa::new("Lab Root CA");
    let tls = TlsServer::start(LO, &ca.leaf(&["svc.lab.test"]), ok_response());
    let mut zone = vec![("svc.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))];
    zone.extend(extra);
    let dns = DnsServer::start(zone);
    Service { ca, tls, dns }
}

fn args(dir: &Path, svc: &Service, more: &[&str]) -> Vec<String> {
    let probes = probe_file(
        dir,
        &format!(
            "[[endpoint]]\nname = \"svc\"\nrole = \"usage\"\nurl = \"https://svc.lab.test:{}/\"\npublic = false\n",
            svc.tls.addr.port()
        ),
    );
    let pem = svc.ca.write_pem(dir, "ca.pem").display().to_string();
    let mut v: Vec<String> = vec![
        "run".into(),
        "--probes".into(),
        probes.display().to_string(),
        "--dns-server".into(),
        svc.dns.addr.to_string(),
        "--public-roots".into(),
        pem.clone(),
        "--system-roots".into(),
        pem,
        "--timeout".into(),
        "2s".into(),
    ];
    v.extend(more.iter().map(|s| s.to_string()));
    v
}

/// Nothing internal in any output: the node's name (any case), loopback addresses, input paths.
fn assert_nothing_internal(o: &Outputs, dir: &Path) {
    let dir = dir.display().to_string();
    for (name, text) in [("report", o.report.as_str()), ("html", o.html.as_str())] {
        let lower = text.to_lowercase();
        assert!(!lower.contains(NODE), "{name} names the node:\n{text}");
        assert!(!text.contains("127.0.0.1"), "{name} holds an internal address:\n{text}");
        assert!(!text.contains(&dir), "{name} holds an input path:\n{text}");
    }
    for (name, text) in [("stdout", o.stdout.as_str()), ("stderr", o.stderr.as_str())] {
        assert!(!text.to_lowercase().contains(NODE), "{name} names the node:\n{text}");
        assert!(!text.contains("127.0.0.1"), "{name} holds an internal address:\n{text}");
    }
}

#[test]
fn redact_through_a_proxy_redacts_everything_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(vec![]);
    let proxy = ConnectProxy::start_with_hosts(ProxyMode::PassThrough, &[("svc.lab.test", LO)]);
    let o = run_as_node(dir.path(), &args(dir.path(), &svc, &["--proxy", &proxy.url(), "--redact"]), &[]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    common::shape::check(&o.report);
    let v = o.json();
    assert_eq!(v["config"]["redacted"], true, "{}", o.report);
    assert!(v["node"]["hostname"].as_str().unwrap().starts_with("host-"));
    let e = &v["endpoints"][0];
    assert_eq!(e["proxy"]["status"], "ok", "labels are untouched");
    assert_eq!(e["tcp"][0]["peer"], "proxy");
    assert!(e["tcp"][0]["address"].as_str().unwrap().starts_with("ip-"), "{e}");
    assert!(v["config"]["proxy"]["url"].as_str().unwrap().starts_with("http://ip-"), "{}", v["config"]["proxy"]);
    assert!(v["config"]["probe_set"]["source"].as_str().unwrap().starts_with("path-"));
    assert_eq!(e["host"], "svc.lab.test", "public endpoint names stay");
    assert_nothing_internal(&o, dir.path());
}

#[test]
fn a_proxy_named_proxy_is_redacted_without_breaking_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(vec![("proxy", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let proxy = ConnectProxy::start_with_hosts(ProxyMode::PassThrough, &[("svc.lab.test", LO)]);
    let url = format!("http://proxy:{}", proxy.addr.port());
    let key = [("AZS_NETPROBE_REDACT_KEY", "fleet-secret")];
    let o = run_as_node(dir.path(), &args(dir.path(), &svc, &["--proxy", &url, "--redact"]), &key);
    assert_eq!(o.code, 0, "{}\n{}\n{}", o.stdout, o.stderr, o.report);
    common::shape::check(&o.report);
    let v = o.json();
    assert_eq!(v["config"]["redacted"], true);
    let e = &v["endpoints"][0];
    assert_eq!(e["proxy"]["status"], "ok", "the hop went through `proxy`: {e}");
    assert_eq!(e["tcp"][0]["peer"], "proxy", "the enum label `proxy` stays");
    let url = v["config"]["proxy"]["url"].as_str().unwrap();
    assert!(url.starts_with("http://host-") && !url.contains("//proxy"), "{url}");
    assert_eq!(e["proxy"]["url"], url);
    assert_nothing_internal(&o, dir.path());
    // Stable with the same key: the same name gives the same token in a second run.
    let again = run_as_node(
        dir.path(),
        &args(dir.path(), &svc, &["--proxy", &format!("http://PROXY:{}", proxy.addr.port()), "--redact"]),
        &key,
    );
    assert_eq!(again.json()["config"]["proxy"]["url"], url);
}

#[test]
fn credentials_a_proxy_echoes_never_reach_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(vec![]);
    let proxy = ConnectProxy::start(ProxyMode::EchoDeny);
    let (user, password) = ("Corp\\Svc-Probe", "Pa55 w0rd:%/é");
    let url = proxy.url_with(user, password);
    let o = run_as_node(dir.path(), &args(dir.path(), &svc, &["--proxy", &url]), &[]);
    let head = &proxy.requests()[0];
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    assert!(head.contains(&token), "the probe sent the credentials to the proxy: {head}");
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    let v = o.json();
    let hop = &v["endpoints"][0]["proxy"];
    assert_eq!(hop["status"], "denied");
    let excerpt = hop["body_excerpt"].as_str().unwrap();
    assert!(excerpt.contains("Proxy-Authorization: Basic ***"), "the echo is kept, scrubbed: {excerpt}");
    assert!(hop["via"].as_str().unwrap().contains("Basic ***"), "{hop}");
    let encoded = lab::userinfo_encode(password);
    let forms = [
        token.as_str(),
        password,
        "Pa55",
        "pa55 w0rd",
        encoded.as_str(),
        &encoded.to_lowercase(),
        "Svc-Probe",
        "svc-probe",
        "Corp%5CSvc-Probe",
    ];
    for (name, text) in o.all() {
        for form in forms {
            assert!(!text.contains(form), "{name} holds the credentials ({form}):\n{text}");
        }
    }
}

/// The proxy's reason phrase and its page may carry the password in other forms: the password alone
/// base64-encoded, HTML numeric character references. None of it reaches any output.
#[test]
fn credentials_in_a_proxy_reason_phrase_and_encoded_in_its_page_never_reach_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(vec![]);
    let (user, password) = ("svc-azs", "S3cret!pw");
    let alone = base64::engine::general_purpose::STANDARD.encode(password);
    let proxy = ConnectProxy::start(ProxyMode::Status {
        code: 403,
        reason: format!("Forbidden {password}"),
        body: format!("<html><body>denied: {alone} S3cret&#33;pw S3cret&#x21;pw</body></html>"),
    });
    let url = proxy.url_with(user, password);
    let o = run_as_node(dir.path(), &args(dir.path(), &svc, &["--proxy", &url]), &[]);
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    let v = o.json();
    let hop = &v["endpoints"][0]["proxy"];
    assert_eq!(hop["status"], "denied", "{hop}");
    assert_eq!(hop["reason"], "Forbidden ***", "{hop}");
    for (name, text) in o.all() {
        for form in [password, alone.as_str(), "S3cret&#33;pw", "S3cret&#x21;pw", "S3cret"] {
            assert!(!text.contains(form), "{name} holds the credentials ({form}):\n{text}");
        }
    }
}

#[test]
fn hostile_certificate_names_are_printable_in_the_summary_and_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Evil\u{1b}[2J\u{1b}[1;1HALL OK\u{202e}kcatta CA");
    let tls = TlsServer::start(LO, &ca.leaf(&["svc.lab.test"]), ok_response());
    let dns = DnsServer::start(vec![("svc.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let other = TestCa::new("Lab Root CA").write_pem(dir.path(), "other.pem").display().to_string();
    let probes = probe_file(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"svc\\u001b[1;1H\\u202E\"\nrole = \"login\"\nurl = \"https://svc.lab.test:{}/\"\n",
            tls.addr.port()
        ),
    );
    let args: Vec<String> = [
        "run",
        "--probes",
        probes.to_str().unwrap(),
        "--dns-server",
        &dns.addr.to_string(),
        "--public-roots",
        &other,
        "--system-roots",
        &other,
        "--timeout",
        "2s",
        "-vv",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = run_as_node(dir.path(), &args, &[]);
    assert_eq!(o.code, 2, "{}\n{}", o.stdout, o.stderr);
    let v = o.json();
    let issuer = v["endpoints"][0]["tls"]["chain"][0]["issuer_cn"].as_str().unwrap();
    assert!(issuer.contains('\u{1b}') && issuer.contains('\u{202e}'), "the JSON report stays faithful: {issuer:?}");
    assert!(o.stdout.contains("Evil\\u{1b}[2J"), "the summary names the issuer, escaped:\n{}", o.stdout);
    for (name, text) in o.all().into_iter().filter(|(n, _)| *n != "report") {
        // The logs' own colours are not the peer's: only its sequences are looked for there.
        if name != "stderr" {
            assert!(!text.contains('\u{1b}'), "{name} holds a raw ESC:\n{text:?}");
        }
        assert!(!text.contains("\u{1b}[2J") && !text.contains("\u{1b}[1;1H"), "{name} holds the peer's ESC:\n{text:?}");
        assert!(!text.contains('\u{202e}'), "{name} holds a raw U+202E:\n{text:?}");
    }
    assert!(o.html.contains("\\u{202e}"), "the page shows the override as an escape");
    // The probe file is input too: its endpoint name reaches the summary and the debug log.
    assert!(o.stdout.contains("svc\\u{1b}[1;1H\\u{202e}"), "{}", o.stdout);
    assert!(o.stderr.contains("endpoint=svc\\u{1b}[1;1H\\u{202e}"), "{}", o.stderr);
}

/// A password typed into an `--endpoint` URL or a probe file's `url` is refused (exit 3) and
/// never printed back: not by the argument parser, not by the probe-file error.
#[test]
fn a_password_in_an_endpoint_url_is_refused_without_being_echoed() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "https://user:s3cret@x.example/",
        "https://user:s3cret@bad host/",
        "tcp://user:s3cret@x.example:1/p",
        "user:s3cret@x.example",
    ] {
        let out = Command::new(BIN).current_dir(dir.path()).args(["run", "--endpoint", url]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{url}: {stderr}");
        assert!(!stderr.contains("s3cret") && !stderr.contains("user:"), "{url}: {stderr}");
        assert!(stderr.contains("***@"), "{url}: the message still names the target: {stderr}");
    }
    probe_file(dir.path(), "[[endpoint]]\nname = \"a\"\nrole = \"custom\"\nurl = \"https://user:s3cret@x.example/\"\n");
    let out = Command::new(BIN).current_dir(dir.path()).args(["run", "--probes", "probes.toml"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".json"))
    );
}
