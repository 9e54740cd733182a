#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The proxy path, end to end: explicit and environment proxies, NO_PROXY, Basic credentials,
//! each way a proxy fails, a real third-party proxy, and credentials never in any output.

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use common::{Run, command, probe_file, run};
use lab::{ConnectProxy, DnsAnswer, DnsServer, ProxyMode, TestCa, TlsServer, ok_response};
use serde_json::{Value, json};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const SECRET: &str = "S3cr3t-p@ss:w/rd";

/// A healthy lab service at svc.lab.test (node DNS) and the CA that signs it.
struct Service {
    ca: TestCa,
    tls: TlsServer,
    dns: DnsServer,
}

fn service() -> Service {
    let ca = TestCa::new("Lab Root CA");
    let tls = TlsServer::start(LO, &ca.leaf(&["svc.lab.test", "127.0.0.1"]), ok_response());
    let dns = DnsServer::start(vec![("svc.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    Service { ca, tls, dns }
}

fn probes(dir: &Path, svc: &Service, role: &str) -> String {
    let text = format!(
        "[[endpoint]]\nname = \"svc\"\nrole = \"{role}\"\nurl = \"https://svc.lab.test:{}/path\"\npublic = false\n",
        svc.tls.addr.port()
    );
    probe_file(dir, &text).display().to_string()
}

fn base_args(dir: &Path, svc: &Service, role: &str) -> Vec<String> {
    let pem = svc.ca.write_pem(dir, "ca.pem").display().to_string();
    vec![
        "run".into(),
        "--probes".into(),
        probes(dir, svc, role),
        "--dns-server".into(),
        svc.dns.addr.to_string(),
        "--public-roots".into(),
        pem.clone(),
        "--system-roots".into(),
        pem,
        "--timeout".into(),
        "2s".into(),
    ]
}

fn with(mut args: Vec<String>, more: &[&str]) -> Vec<String> {
    args.extend(more.iter().map(|s| s.to_string()));
    args
}

fn go(dir: &Path, args: &[String]) -> Run {
    run(dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The parts of an endpoint's result that must not depend on the path taken.
fn outcome(e: &Value) -> Value {
    json!({
        "verdict": e["verdict"], "stage": e["stage"], "tls_status": e["tls"]["status"], "trust": e["tls"]["trust"],
        "leaf": e["tls"]["chain"][0]["sha256"], "sni": e["tls"]["sni"], "http": e["http"]["status_code"],
    })
}

#[test]
fn a_healthy_proxy_gives_the_same_endpoint_results_as_a_direct_run() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service();
    let proxy = ConnectProxy::start_with_hosts(ProxyMode::PassThrough, &[("svc.lab.test", LO)]);
    let direct = go(dir.path(), &base_args(dir.path(), &svc, "usage"));
    let proxied = go(dir.path(), &with(base_args(dir.path(), &svc, "usage"), &["--proxy", &proxy.url()]));
    assert_eq!(direct.code, 0, "{}", direct.stdout);
    assert_eq!(proxied.code, 0, "{}", proxied.stdout);
    assert_eq!(outcome(direct.endpoint("svc")), outcome(proxied.endpoint("svc")));
    assert_eq!(direct.endpoint("svc")["proxy"], json!(null));

    let e = proxied.endpoint("svc");
    assert_eq!(e["proxy"]["status"], "ok");
    assert_eq!(e["proxy"]["http_status"], 200);
    assert_eq!(e["proxy"]["url"], proxy.url());
    assert_eq!(e["tcp"][0]["peer"], "proxy");
    assert_eq!(e["tcp"][0]["address"], proxy.addr.to_string());
    assert_eq!(e["dns"]["status"], "ok", "the endpoint is still resolved on the node and reported");
    assert_eq!(proxied.report["config"]["proxy"], json!({"url": proxy.url(), "source": "flag", "no_proxy": []}));
    let head = &proxy.requests()[0];
    let authority = format!("svc.lab.test:{}", svc.tls.addr.port());
    assert!(head.starts_with(&format!("CONNECT {authority} HTTP/1.1\r\n")), "{head}");
    assert!(head.contains(&format!("Host: {authority}\r\n")), "{head}");
    assert!(!head.contains("Proxy-Authorization"), "no credentials, none sent");
    // SNI is the endpoint's name, through the tunnel.
    assert_eq!(svc.tls.snis().last().unwrap().as_deref(), Some("svc.lab.test"));
}

#[test]
fn node_side_nxdomain_is_not_a_failure_when_the_proxy_resolves() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service();
    let empty_dns = DnsServer::start(vec![]);
    let proxy = ConnectProxy::start_with_hosts(ProxyMode::PassThrough, &[("svc.lab.test", LO)]);
    let mut args = with(base_args(dir.path(), &svc, "login"), &["--proxy", &proxy.url()]);
    args[4] = empty_dns.addr.to_string();
    let r = go(dir.path(), &args);
    let e = r.endpoint("svc");
    assert_eq!(e["dns"]["status"], "nxdomain");
    assert_eq!(e["http"]["status_code"], 200);
    let f = r.finding("svc", "DnsNameNotFound");
    assert_eq!(f["severity"], "info");
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn each_proxy_failure_is_its_own_finding() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service();
    let hosts = [("svc.lab.test", LO)];
    let cases: Vec<(&str, Option<ProxyMode>)> = vec![
        ("basic", Some(ProxyMode::RequireBasic { user: "probe".into(), password: SECRET.into() })),
        ("ntlm", Some(ProxyMode::NtlmOnly)),
        ("deny", Some(ProxyMode::Deny)),
        ("badgw", Some(ProxyMode::BadGateway)),
        ("silent", Some(ProxyMode::NeverAnswer)),
        ("closed", None),
    ];
    for (case, mode) in cases {
        let proxy = mode.map(|m| ConnectProxy::start_with_hosts(m, &hosts));
        let url = proxy.as_ref().map_or_else(|| format!("http://{}", lab::closed_port()), ConnectProxy::url);
        for role in ["usage", "login"] {
            let mut args = with(base_args(dir.path(), &svc, role), &["--proxy", &url]);
            args[10] = "1s".into();
            let r = go(dir.path(), &args);
            let e = r.endpoint("svc");
            let (code, status) = match case {
                "basic" | "ntlm" => ("ProxyAuthenticationRequired", "auth_required"),
                "deny" => ("ProxyDenied", "denied"),
                "badgw" => ("ProxyUpstreamFailed", "upstream_failed"),
                "silent" => ("ProxyUpstreamFailed", "timeout"),
                _ => ("ProxyUnreachable", "unreachable"),
            };
            assert_eq!(e["proxy"]["status"], status, "{case}: {e}");
            assert_eq!(r.codes("svc"), vec![code], "{case}");
            let f = r.finding("svc", code);
            let usage = if role == "login" { "LoginError" } else { "NetworkError" };
            assert_eq!(f["usage_error"], usage, "{case}");
            assert_eq!(f["severity"], "error");
            assert_eq!(e["tls"]["status"], "not_attempted", "{case}");
            assert_eq!(e["stage"], format!("proxy: {status}"));
            assert_eq!(r.code, 2);
            let msg = f["message"].as_str().unwrap();
            match case {
                "basic" => {
                    assert_eq!(e["proxy"]["authenticate"], json!(["Basic"]));
                    assert!(msg.contains("requires authentication") && msg.contains("Basic"), "{msg}");
                }
                "ntlm" => {
                    assert_eq!(e["proxy"]["authenticate"], json!(["NTLM", "Negotiate"]));
                    assert!(msg.contains("integrated Windows authentication"), "{msg}");
                }
                "deny" => {
                    assert_eq!(e["proxy"]["http_status"], 403);
                    assert_eq!(e["proxy"]["server"], "lab-proxy");
                    assert_eq!(e["proxy"]["via"], "1.1 lab-proxy");
                    let body = e["proxy"]["body_excerpt"].as_str().unwrap();
                    assert!(body.contains("Access Denied") && body.contains("Cloud Services"), "{body}");
                    assert_eq!(f["evidence"]["body_excerpt"], e["proxy"]["body_excerpt"]);
                    assert!(msg.contains("403") && msg.contains("Server: lab-proxy"), "{msg}");
                }
                "badgw" => assert_eq!(e["proxy"]["http_status"], 502),
                "silent" => assert!(msg.contains("did not answer CONNECT"), "{msg}"),
                _ => assert!(e["proxy"]["error"].as_str().unwrap().contains("refused"), "{e}"),
            }
        }
    }
}

#[test]
fn basic_credentials_work_and_never_appear_in_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service();
    let proxy = ConnectProxy::start_with_hosts(
        ProxyMode::RequireBasic { user: "probe".into(), password: SECRET.into() },
        &[("svc.lab.test", LO)],
    );
    let good = proxy.url_with("probe", SECRET);
    let bad = proxy.url_with("probe", "wrong-Passw0rd");
    let encoded = lab::userinfo_encode(SECRET);
    let forbidden = [SECRET.to_string(), encoded.clone(), "wrong-Passw0rd".to_string()];
    let check = |what: &str, text: &str| {
        for f in &forbidden {
            assert!(!text.contains(f.as_str()), "{what} contains a password: {text}");
        }
        assert!(!text.contains("cHJvYmU6"), "{what} contains the Basic token");
    };

    // From the flag, with every log level on.
    let r = go(dir.path(), &with(base_args(dir.path(), &svc, "usage"), &["--proxy", &good, "-vvv"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.endpoint("svc")["proxy"]["status"], "ok");
    assert_eq!(r.endpoint("svc")["proxy"]["credentials_sent"], true);
    assert_eq!(r.report["config"]["proxy"]["url"], format!("http://***:***@{}", proxy.addr));
    check("stdout", &r.stdout);
    check("stderr", &r.stderr);
    check("report", &std::fs::read_to_string(&r.report_path).unwrap());
    assert!(proxy.requests()[0].contains("Proxy-Authorization: Basic "), "credentials were sent to the proxy");

    // From the environment, rejected.
    let mut cmd = command(dir.path());
    let out = cmd
        .args(base_args(dir.path(), &svc, "usage"))
        .args(["--out", "-", "-vvv"])
        .env("HTTPS_PROXY", &bad)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    check("stdout (report)", &String::from_utf8_lossy(&out.stdout));
    check("stderr", &stderr);
    assert_eq!(report["config"]["proxy"]["source"], "env");
    let f = report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "ProxyAuthenticationRequired").unwrap();
    assert!(f["message"].as_str().unwrap().contains("rejected the credentials"), "{f}");

    // An invalid proxy URL is refused (exit 3) without echoing it.
    let out = command(dir.path())
        .args(base_args(dir.path(), &svc, "usage"))
        .args(["--proxy", &format!("socks5://probe:{encoded}@127.0.0.1:1")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    check("stderr of a refused URL", &String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only http:// proxies"));
}

#[test]
fn environment_precedence_and_no_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service();
    let proxy = ConnectProxy::start_with_hosts(ProxyMode::PassThrough, &[("svc.lab.test", LO)]);
    let dead = format!("http://{}", lab::closed_port());
    let args = base_args(dir.path(), &svc, "usage");
    let run_env = |extra: &[&str], env: &[(&str, &str)]| {
        let path = dir.path().join("report.json");
        let mut cmd = command(dir.path());
        cmd.args(&args).args(extra).arg("--out").arg(&path);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        common::shape::check(&std::fs::read_to_string(&path).unwrap());
        (out.status.code(), report)
    };
    // The flag beats the environment.
    let (code, r) = run_env(&["--proxy", &proxy.url()], &[("HTTPS_PROXY", &dead)]);
    assert_eq!(code, Some(0));
    assert_eq!(r["config"]["proxy"]["source"], "flag");
    // https_proxy (lower case, as curl prefers) beats HTTPS_PROXY.
    let (code, r) = run_env(&[], &[("https_proxy", &proxy.url()), ("HTTPS_PROXY", &dead)]);
    assert_eq!(code, Some(0));
    assert_eq!(r["config"]["proxy"]["url"], proxy.url());
    assert_eq!(r["endpoints"][0]["proxy"]["status"], "ok");
    // NO_PROXY exempts the endpoint: direct, even though the proxy is dead.
    let (code, r) = run_env(&[], &[("HTTPS_PROXY", &dead), ("NO_PROXY", "localhost,.lab.test")]);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["endpoints"][0]["proxy"]["status"], "bypassed");
    assert_eq!(r["endpoints"][0]["proxy"]["bypass_rule"], ".lab.test");
    assert_eq!(r["endpoints"][0]["tcp"][0]["peer"], "endpoint");
    assert_eq!(r["config"]["proxy"]["no_proxy"], json!(["localhost", ".lab.test"]));
    // --no-proxy ignores the environment.
    let (code, r) = run_env(&["--no-proxy"], &[("HTTPS_PROXY", &dead)]);
    assert_eq!(code, Some(0));
    assert_eq!(r["config"]["proxy"], json!(null));
    // Without any of it, the dead environment proxy is what the node would use: it fails.
    let (code, r) = run_env(&[], &[("HTTPS_PROXY", &dead)]);
    assert_eq!(code, Some(2));
    assert_eq!(r["endpoints"][0]["proxy"]["status"], "unreachable");
}

#[test]
fn transparent_proxy_headers_are_captured() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let tls = TlsServer::start(
        LO,
        &ca.leaf(&["svc.lab.test"]),
        lab::HttpBehavior::Respond {
            status: 200,
            headers: vec![("Via".into(), "1.1 squid (squid/5.7)".into()), ("X-Cache".into(), "MISS from edge".into())],
            body: "ok".into(),
        },
    );
    let dns = DnsServer::start(vec![("svc.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let pem = ca.write_pem(dir.path(), "ca.pem");
    let file = probe_file(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"svc\"\nrole = \"usage\"\nurl = \"https://svc.lab.test:{}/\"\npublic = false\n",
            tls.addr.port()
        ),
    );
    let r = run(
        dir.path(),
        &[
            "--probes",
            file.to_str().unwrap(),
            "--dns-server",
            &dns.addr.to_string(),
            "--public-roots",
            pem.to_str().unwrap(),
            "--system-roots",
            pem.to_str().unwrap(),
        ],
    );
    let e = r.endpoint("svc");
    assert_eq!(e["http"]["via"], "1.1 squid (squid/5.7)");
    assert_eq!(e["http"]["proxy_headers"], json!(["Via: 1.1 squid (squid/5.7)", "X-Cache: MISS from edge"]));
    assert_eq!(r.report["config"]["proxy"], json!(null));
}

/// Debian's tinyproxy, as a user would meet it (installed by .ci/run).
#[test]
fn through_a_real_tinyproxy() {
    if !common::require("tinyproxy", lab::Tinyproxy::binary().is_some(), common::INSTALL_TINYPROXY) {
        return;
    }
    let plain = lab::Tinyproxy::start(None).expect("tinyproxy is installed");
    let authed = lab::Tinyproxy::start(Some(("probe", "Tiny-Pass.42"))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let tls = TlsServer::start(LO, &ca.leaf(&["127.0.0.1"]), ok_response());
    let pem = ca.write_pem(dir.path(), "ca.pem");
    // tinyproxy resolves names itself; its filter only lets 127.x literals through.
    let file = probe_file(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"svc\"\nrole = \"usage\"\nurl = \"https://127.0.0.1:{}/\"\npublic = false\n",
            tls.addr.port()
        ),
    );
    let base = [
        "--probes",
        file.to_str().unwrap(),
        "--public-roots",
        pem.to_str().unwrap(),
        "--system-roots",
        pem.to_str().unwrap(),
        "--timeout",
        "3s",
    ];
    let r = run(dir.path(), &[&base[..], &["--proxy", &plain.url()]].concat());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, plain.log());
    assert_eq!(r.endpoint("svc")["proxy"]["status"], "ok");
    assert_eq!(r.endpoint("svc")["http"]["status_code"], 200);

    let r = run(dir.path(), &[&base[..], &["--proxy", &authed.url()]].concat());
    assert_eq!(r.codes("svc"), vec!["ProxyAuthenticationRequired"], "{}", authed.log());
    assert_eq!(r.endpoint("svc")["proxy"]["authenticate"], json!(["Basic"]));

    let r = run(dir.path(), &[&base[..], &["--proxy", &authed.url_with("probe", "Tiny-Pass.42")]].concat());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, authed.log());
    assert!(!std::fs::read_to_string(&r.report_path).unwrap().contains("Tiny-Pass.42"));

    let r = run(dir.path(), &[&base[..], &["--proxy", &authed.url_with("probe", "nope")]].concat());
    assert_eq!(r.codes("svc"), vec!["ProxyAuthenticationRequired"]);
    assert_eq!(r.endpoint("svc")["proxy"]["http_status"], 401, "tinyproxy answers wrong credentials with 401");
}

/// Issue 12 item 1: a proxy's refusal is classified by what it means, from the status and the
/// proxy's own words; the message quotes the status line, Server and the page's first words.
#[test]
fn proxy_refusals_are_classified_by_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service();
    let hosts = [("svc.lab.test", LO)];
    let squid_page = "<html><head><title>ERROR: The requested URL could not be retrieved</title>\
        <style type=\"text/css\">body { font-family: verdana }</style></head><body><h1>ERROR</h1>\
        <p>The system returned: <i>(111) Connection refused</i></p><p>ERR_CONNECT_FAIL</p></body></html>";
    let cases: &[(u16, &str, &str, &str)] = &[
        // tinyproxy 1.11's page for an upstream it cannot reach.
        (
            500,
            "Unable to connect",
            "<html><body><h1>Unable to connect</h1><p>Could not connect to the remote host.</p></body></html>",
            "upstream_failed",
        ),
        (502, "Bad Gateway", "", "upstream_failed"),
        (503, "Service Unavailable", squid_page, "upstream_failed"),
        (504, "Gateway Timeout", "<p>The gateway timed out</p>", "upstream_failed"),
        (
            503,
            "Service Unavailable",
            "<p>Unable to determine IP address from host name svc.lab.test</p>",
            "upstream_failed",
        ),
        (404, "Not Found", "<p>Unable to resolve the host name svc.lab.test</p>", "upstream_failed"),
        (403, "Forbidden", "<h1>Access Denied</h1><p>Blocked by policy: category Cloud Services</p>", "denied"),
        (403, "Filtered", "<p>The request you made has been filtered</p>", "denied"),
        (500, "Internal Server Error", "<p>Blocked by policy: this site is not allowed</p>", "denied"),
        (400, "Bad Request", "", "denied"),
        (405, "Method Not Allowed", "", "denied"),
        (429, "Too Many Requests", "", "denied"),
        (501, "Not Implemented", "<p>CONNECT is not supported</p>", "denied"),
    ];
    for (code, reason, body, status) in cases {
        let mode = ProxyMode::Status { code: *code, reason: (*reason).into(), body: (*body).into() };
        let proxy = ConnectProxy::start_with_hosts(mode, &hosts);
        let args = with(base_args(dir.path(), &svc, "usage"), &["--proxy", &proxy.url()]);
        let r = go(dir.path(), &args);
        let e = r.endpoint("svc");
        let case = format!("{code} {reason}");
        assert_eq!(e["proxy"]["status"], *status, "{case}: {e}");
        assert_eq!(e["proxy"]["http_status"], *code, "{case}");
        assert_eq!(e["proxy"]["reason"], *reason, "{case}");
        let finding = if *status == "denied" { "ProxyDenied" } else { "ProxyUpstreamFailed" };
        assert_eq!(r.codes("svc"), vec![finding], "{case}");
        let f = r.finding("svc", finding);
        assert_eq!(f["usage_error"], "NetworkError");
        let msg = f["message"].as_str().unwrap();
        assert!(msg.contains(&format!("\"HTTP {code} {reason}\"")), "{case}: status line quoted: {msg}");
        assert!(msg.contains("Server: lab-proxy"), "{case}: {msg}");
        assert_eq!(f["evidence"]["reason"], *reason);
        if *status == "upstream_failed" {
            assert!(msg.contains("could not reach svc.lab.test"), "{msg}");
        } else {
            assert!(msg.contains("refused CONNECT") && msg.contains("policy"), "{msg}");
        }
        if !body.is_empty() {
            let excerpt = e["proxy"]["body_excerpt"].as_str().unwrap();
            assert!(!excerpt.contains('<') && !excerpt.contains("font-family"), "markup and styles removed: {excerpt}");
            let first = excerpt.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
            assert!(msg.contains(&first), "{case}: the page's first words quoted: {msg}");
        }
    }
}

/// Issue 12 item 1, with the real tinyproxy: CONNECT to a loopback port where nothing listens is
/// answered `500 Unable to connect`, which is the proxy's upstream failing, not its policy.
#[test]
fn tinyproxy_unable_to_connect_is_upstream_failed() {
    if !common::require("tinyproxy", lab::Tinyproxy::binary().is_some(), common::INSTALL_TINYPROXY) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let proxy = lab::Tinyproxy::start(None).expect("tinyproxy starts");
    let port = lab::closed_port().port();
    let file = probe_file(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"svc\"\nrole = \"login\"\nurl = \"https://127.0.0.1:{port}/\"\npublic = false\n"
        ),
    );
    let r = run(dir.path(), &["run", "--probes", file.to_str().unwrap(), "--proxy", &proxy.url(), "--timeout", "3s"]);
    let e = r.endpoint("svc");
    assert_eq!(e["proxy"]["http_status"], 500, "{e}");
    assert_eq!(e["proxy"]["status"], "upstream_failed", "{e}");
    assert_eq!(e["proxy"]["reason"], "Unable to connect", "{e}");
    assert!(e["proxy"]["server"].as_str().unwrap_or("").starts_with("tinyproxy/"), "{e}");
    assert_eq!(r.codes("svc"), vec!["ProxyUpstreamFailed"]);
    let f = r.finding("svc", "ProxyUpstreamFailed");
    assert_eq!(f["usage_error"], "LoginError");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("\"HTTP 500 Unable to connect\"") && msg.contains("tinyproxy/"), "{msg}");
}

/// Issue 12 item 3: the NO_PROXY forms operators write (`*.domain`, `.domain`, `domain`,
/// WinHTTP's `<local>`) are accepted; where curl, Go, .NET and WinHTTP read an entry differently
/// for an endpoint, the endpoint's proxy object lists each reading and an info finding says so.
#[test]
fn no_proxy_forms_that_clients_read_differently_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service();
    let dead = format!("http://{}", lab::closed_port());
    let args = base_args(dir.path(), &svc, "usage");
    let run_env = |no_proxy: &str| {
        let path = dir.path().join("report.json");
        let out = command(dir.path())
            .args(&args)
            .arg("--out")
            .arg(&path)
            .env("HTTPS_PROXY", &dead)
            .env("NO_PROXY", no_proxy)
            .output()
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        common::shape::check(&text);
        let report: Value = serde_json::from_str(&text).unwrap();
        (out.status.code(), report)
    };
    let reading = |r: &Value, client: &str| {
        r["endpoints"][0]["proxy"]["bypass_readings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["client"] == client)
            .map(|x| x["bypassed"].as_bool().unwrap())
    };
    let ambiguous =
        |r: &Value| r["findings"].as_array().unwrap().iter().find(|f| f["code"] == "ProxyBypassAmbiguous").cloned();
    // (NO_PROXY, status, [probe, curl, go, dotnet, winhttp])
    let cases: &[(&str, &str, [bool; 5])] = &[
        ("*.lab.test", "bypassed", [true, false, true, false, true]),
        (".lab.test", "bypassed", [true, true, true, true, false]),
        ("lab.test", "bypassed", [true, true, true, false, false]),
    ];
    for (rule, status, expect) in cases {
        let (code, r) = run_env(rule);
        let e = &r["endpoints"][0];
        assert_eq!(e["proxy"]["status"], *status, "{rule}: {e}");
        assert_eq!(code, Some(0), "{rule}: an info finding only");
        for (client, want) in ["probe", "curl", "go", "dotnet", "winhttp"].iter().zip(expect) {
            assert_eq!(reading(&r, client), Some(*want), "{rule}: {client}");
        }
        let f = ambiguous(&r).unwrap_or_else(|| panic!("{rule}: {}", r["findings"]));
        assert_eq!(f["severity"], "info");
        assert_eq!(f["usage_error"], Value::Null);
        assert_eq!(f["evidence"]["readings"], e["proxy"]["bypass_readings"]);
        let msg = f["message"].as_str().unwrap();
        assert!(msg.contains("svc.lab.test") && msg.contains(&format!("`{rule}`")), "{msg}");
        assert!(msg.contains("this probe connected directly"), "{msg}");
        assert!(f["remediation"]["summary"].as_str().unwrap().contains(rule));
    }
    // The exact name: every client agrees, nothing to report.
    let (code, r) = run_env("svc.lab.test");
    assert_eq!(code, Some(0));
    assert_eq!(r["endpoints"][0]["proxy"]["status"], "bypassed");
    assert_eq!(r["endpoints"][0]["proxy"]["bypass_readings"], json!([]));
    assert!(ambiguous(&r).is_none());
    // `<local>` does not cover a dotted name: the (dead) proxy is used, and every client agrees.
    let (code, r) = run_env("<local>");
    assert_eq!(code, Some(2));
    assert_eq!(r["endpoints"][0]["proxy"]["status"], "unreachable");
    assert!(ambiguous(&r).is_none());
    assert_eq!(r["config"]["proxy"]["no_proxy"], json!(["<local>"]));
}
