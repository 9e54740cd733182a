#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The real binary against the in-process lab: every stage's failure classes, the report,
//! findings, portal codes and exit codes.

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{probe_file, run};
use lab::{DnsAnswer, DnsServer, HttpBehavior, TestCa, TlsServer, ok_response};
use serde_json::json;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn endpoint(name: &str, role: &str, url: &str, extra: &str) -> String {
    format!("[[endpoint]]\nname = \"{name}\"\nrole = \"{role}\"\nurl = \"{url}\"\npublic = false\n{extra}\n")
}

/// A lab CA written to `dir/ca.pem`, used as both the public and the system store.
fn trust_args(dir: &std::path::Path, ca: &TestCa) -> Vec<String> {
    let pem = ca.write_pem(dir, "ca.pem").display().to_string();
    vec!["--public-roots".into(), pem.clone(), "--system-roots".into(), pem]
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn dns_failure_classes_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let dns = DnsServer::start(vec![
        ("nx.lab.test", DnsAnswer::NxDomain),
        ("servfail.lab.test", DnsAnswer::ServFail),
        ("refused.lab.test", DnsAnswer::Refused),
        ("silent.lab.test", DnsAnswer::Silence),
        ("nodata.lab.test", DnsAnswer::NoData),
    ]);
    let mut probes = String::new();
    for (name, role) in
        [("nx", "usage"), ("servfail", "usage"), ("refused", "registration"), ("silent", "usage"), ("nodata", "usage")]
    {
        probes.push_str(&endpoint(name, role, &format!("https://{name}.lab.test/"), ""));
    }
    probes.push_str(&endpoint("login-nx", "login", "https://nx.lab.test/login", ""));
    let file = probe_file(dir.path(), &probes);
    let server = dns.addr.to_string();
    let r =
        run(dir.path(), &["run", "--probes", file.to_str().unwrap(), "--dns-server", &server, "--timeout", "1500ms"]);

    assert_eq!(r.code, 2, "{}", r.stdout);
    let expect = [
        ("nx", "nxdomain", "DnsNameNotFound", "NetworkError"),
        ("servfail", "servfail", "DnsServerFailure", "NetworkError"),
        ("refused", "refused", "DnsServerFailure", "NetworkError"),
        ("silent", "timeout", "DnsTimeout", "NetworkError"),
        ("nodata", "no_addresses", "DnsNoAddresses", "NetworkError"),
        ("login-nx", "nxdomain", "DnsNameNotFound", "LoginError"),
    ];
    for (name, status, code, usage) in expect {
        let e = r.endpoint(name);
        assert_eq!(e["dns"]["status"], status, "{name}: {e}");
        assert_eq!(e["dns"]["server"], server.as_str(), "{name}");
        assert_eq!(e["verdict"], "error", "{name}");
        assert_eq!(e["tcp"], json!([]), "{name}: nothing to connect to");
        assert_eq!(e["tls"]["status"], "not_attempted", "{name}");
        assert_eq!(r.codes(name), vec![code], "{name}");
        let f = r.finding(name, code);
        assert_eq!(f["usage_error"], usage, "{name}");
        assert_eq!(f["severity"], "error", "{name}");
        assert!(f["message"].as_str().unwrap().contains(&format!("{}.lab.test", name.trim_start_matches("login-"))));
        assert!(!f["remediation"]["steps"].as_array().unwrap().is_empty());
    }
    assert_eq!(r.report["summary"]["usage_errors"], json!(["NetworkError", "LoginError"]));
    assert_eq!(r.report["summary"]["exit_code"], 2);
    assert_eq!(r.report["config"]["dns_servers"], json!([server]));
    // The silent server bounds the run: one stage timeout, not one per endpoint.
    assert!(r.elapsed < Duration::from_millis(1500 + 1500), "took {:?}", r.elapsed);
    assert!(r.stdout.contains("The portal would show: NetworkError, LoginError"), "{}", r.stdout);
}

/// Private Link's usual failure: the public name is an alias into a private zone this node's
/// DNS does not hold. The resolver drops the alias with the NXDOMAIN; the probe asks for it,
/// so the report names the name that is missing.
#[test]
fn dangling_cname_names_the_missing_target() {
    let dir = tempfile::tempdir().unwrap();
    let dns = DnsServer::start(vec![
        ("login.lab.test", DnsAnswer::Cname("login.privatelink.lab.test".into())),
        ("login.privatelink.lab.test", DnsAnswer::Cname("gone.privatelink.lab.test".into())),
        ("empty.lab.test", DnsAnswer::Cname("nodata.lab.test".into())),
        ("nodata.lab.test", DnsAnswer::NoData),
    ]);
    let probes = endpoint("entra", "login", "https://login.lab.test/", "")
        + &endpoint("empty", "usage", "https://empty.lab.test/", "");
    let file = probe_file(dir.path(), &probes);
    let server = dns.addr.to_string();
    let r = run(dir.path(), &["run", "--probes", file.to_str().unwrap(), "--dns-server", &server, "--timeout", "2s"]);

    assert_eq!(r.code, 2, "{}", r.stdout);
    let e = r.endpoint("entra");
    assert_eq!(e["dns"]["status"], "nxdomain", "{e}");
    assert_eq!(e["dns"]["cnames"], json!(["login.privatelink.lab.test", "gone.privatelink.lab.test"]));
    let error = e["dns"]["error"].as_str().unwrap();
    assert!(
        error.contains(
            "CNAME chain: login.lab.test → login.privatelink.lab.test → gone.privatelink.lab.test, \
             and gone.privatelink.lab.test has no address"
        ),
        "{error}"
    );
    let f = r.finding("entra", "DnsNameNotFound");
    assert_eq!(f["usage_error"], "LoginError");
    let message = f["message"].as_str().unwrap();
    assert!(
        message.starts_with("login.lab.test is an alias of gone.privatelink.lab.test, which does not exist"),
        "{message}"
    );
    assert_eq!(f["evidence"]["cnames"], e["dns"]["cnames"]);
    // The alias of a name with no address at all.
    let e = r.endpoint("empty");
    assert_eq!(e["dns"]["status"], "no_addresses", "{e}");
    assert_eq!(e["dns"]["cnames"], json!(["nodata.lab.test"]));
    let message = r.finding("empty", "DnsNoAddresses")["message"].as_str().unwrap().to_string();
    assert!(
        message.starts_with("empty.lab.test is an alias of nodata.lab.test, which has no A or AAAA record"),
        "{message}"
    );
}

#[test]
fn healthy_https_endpoint_through_cname_reports_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let leaf = ca.leaf(&["login.lab.test"]);
    let tls = TlsServer::start(LO, &leaf, ok_response());
    let dns = DnsServer::start(vec![
        ("login.lab.test", DnsAnswer::Cname("edge.lab.test".into())),
        ("edge.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
    ]);
    let url = format!("https://login.lab.test:{}/common/discovery?x=1", tls.addr.port());
    let file = probe_file(dir.path(), &endpoint("entra", "login", &url, "reachable = [200]"));
    let mut a = vec![
        "run".to_string(),
        "--probes".into(),
        file.display().to_string(),
        "--dns-server".into(),
        dns.addr.to_string(),
    ];
    a.extend(trust_args(dir.path(), &ca));
    let r = run(dir.path(), &args(&a));

    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let e = r.endpoint("entra");
    assert_eq!(e["verdict"], "ok");
    assert_eq!(e["stage"], "http: 200");
    assert_eq!(e["dns"]["status"], "ok");
    assert_eq!(e["dns"]["addresses"], json!(["127.0.0.1"]));
    assert_eq!(e["dns"]["cnames"], json!(["edge.lab.test"]));
    assert_eq!(e["tcp"][0]["status"], "ok");
    assert_eq!(e["tcp"][0]["address"], tls.addr.to_string());
    let t = &e["tls"];
    assert_eq!(t["status"], "ok");
    assert_eq!(t["sni"], "login.lab.test");
    assert_eq!(t["alpn"], json!(null), "the lab server negotiates no ALPN");
    assert!(t["version"].as_str().unwrap().starts_with("TLS 1."), "{t}");
    assert!(t["cipher_suite"].as_str().unwrap().starts_with("TLS"), "{t}");
    assert_eq!(t["trust"]["public"], "trusted");
    assert_eq!(t["trust"]["system"], "trusted");
    assert_eq!(t["chain"][0]["subject_cn"], "login.lab.test");
    assert_eq!(t["chain"][0]["issuer_cn"], "Lab Root CA");
    assert_eq!(t["chain"][0]["sans"], json!(["login.lab.test"]));
    assert_eq!(t["chain"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(e["http"]["status_code"], 200);
    assert_eq!(e["http"]["server"], "lab");
    // The timeline: each stage begins once the one before it has ended.
    let at = |k: &str| e["started_ms"][k].as_u64().unwrap_or_else(|| panic!("started_ms.{k}: {e}"));
    let took = |v: &serde_json::Value| v["duration_ms"].as_u64().unwrap();
    assert!(at("connect") >= at("dns") + took(&e["dns"]), "{}", e["started_ms"]);
    assert!(at("tls") >= at("connect") + took(&e["tcp"][0]), "{}", e["started_ms"]);
    assert!(at("http") >= at("tls") + took(&e["tls"]), "{}", e["started_ms"]);
    assert!(at("http") <= r.report["run"]["duration_ms"].as_u64().unwrap());
    assert!(e["http"]["date"].is_string());
    assert_eq!(r.findings("entra").len(), 0);
    // The server saw the SNI and the request the endpoint describes.
    assert_eq!(tls.snis(), vec![Some("login.lab.test".to_string())]);
    let req = &tls.requests()[0];
    assert!(req.starts_with("GET /common/discovery?x=1 HTTP/1.1\r\n"), "{req}");
    assert!(req.contains(&format!("Host: login.lab.test:{}\r\n", tls.addr.port())), "{req}");
    // The Date header is a clock source.
    assert_eq!(r.report["clock"]["sources"][0]["kind"], "http_date");
    assert_eq!(r.report["clock"]["verdict"], "ok");
    assert!(r.report["clock"]["offset_seconds"].as_f64().unwrap().abs() < 3.0);
}

#[test]
fn every_resolved_address_is_connected_and_partial_failure_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let leaf = ca.leaf(&["multi.lab.test"]);
    let tls = TlsServer::start(LO, &leaf, ok_response());
    // 127.0.0.2 has nothing on the port: refused.
    let dns = DnsServer::start(vec![(
        "multi.lab.test",
        DnsAnswer::A(vec![Ipv4Addr::LOCALHOST, Ipv4Addr::new(127, 0, 0, 2)]),
    )]);
    let url = format!("https://multi.lab.test:{}/", tls.addr.port());
    let file = probe_file(dir.path(), &endpoint("multi", "usage", &url, ""));
    let mut a = vec!["--probes".to_string(), file.display().to_string(), "--dns-server".into(), dns.addr.to_string()];
    a.extend(trust_args(dir.path(), &ca));
    let r = run(dir.path(), &args(&a));

    let e = r.endpoint("multi");
    let statuses: Vec<_> =
        e["tcp"].as_array().unwrap().iter().map(|t| (t["address"].clone(), t["status"].clone())).collect();
    assert_eq!(
        statuses,
        vec![
            (json!(format!("127.0.0.1:{}", tls.addr.port())), json!("ok")),
            (json!(format!("127.0.0.2:{}", tls.addr.port())), json!("refused"))
        ]
    );
    assert_eq!(e["http"]["status_code"], 200, "the working address carries on");
    let f = r.finding("multi", "TcpConnectionRefused");
    assert_eq!(f["severity"], "warning");
    assert_eq!(r.code, 1);
    assert_eq!(e["verdict"], "warning");
}

#[test]
fn tcp_and_tls_failure_classes() {
    let dir = tempfile::tempdir().unwrap();
    let closed = lab::closed_port();
    let silent = lab::silent_server();
    let reset = lab::reset_server();
    let hole = lab::blackhole();
    let mut probes = String::new();
    probes.push_str(&endpoint("closed", "usage", &format!("https://127.0.0.1:{}/", closed.port()), ""));
    probes.push_str(&endpoint("silent", "usage", &format!("https://127.0.0.1:{}/", silent.addr.port()), ""));
    probes.push_str(&endpoint("reset", "usage", &format!("https://127.0.0.1:{}/", reset.addr.port()), ""));
    probes.push_str(&endpoint("hole", "registration", &format!("tcp://127.0.0.1:{}", hole.addr.port()), ""));
    probes.push_str(&endpoint("login-silent", "login", &format!("https://127.0.0.1:{}/", silent.addr.port()), ""));
    let file = probe_file(dir.path(), &probes);
    let r = run(dir.path(), &["--probes", file.to_str().unwrap(), "--timeout", "1s"]);

    assert_eq!(r.code, 2);
    let closed_e = r.endpoint("closed");
    assert_eq!(closed_e["dns"]["status"], "not_needed");
    assert_eq!(closed_e["tcp"][0]["status"], "refused");
    assert!(closed_e["tcp"][0]["error"].as_str().unwrap().contains(&format!("connect to 127.0.0.1:{}", closed.port())));
    assert_eq!(r.codes("closed"), vec!["TcpConnectionRefused"]);
    assert_eq!(r.finding("closed", "TcpConnectionRefused")["usage_error"], "NetworkError");

    let silent_e = r.endpoint("silent");
    assert_eq!(silent_e["tcp"][0]["status"], "ok");
    assert_eq!(silent_e["tls"]["status"], "timeout");
    assert_eq!(silent_e["tls"]["sni"], json!(null), "no SNI for an IP literal");
    assert_eq!(r.codes("silent"), vec!["TlsHandshakeTimeout"]);
    assert_eq!(r.finding("silent", "TlsHandshakeTimeout")["usage_error"], "RequestTimedOut");
    assert_eq!(r.finding("login-silent", "TlsHandshakeTimeout")["usage_error"], "LoginError");

    let reset_e = r.endpoint("reset");
    assert_eq!(reset_e["tls"]["status"], "reset", "{reset_e}");
    assert_eq!(r.codes("reset"), vec!["TcpConnectionReset"]);

    let hole_e = r.endpoint("hole");
    assert_eq!(hole_e["tcp"][0]["status"], "timeout");
    assert_eq!(hole_e["tls"], json!(null), "tcp:// is connect-only");
    assert_eq!(hole_e["stage"], "tcp: timeout");
    assert_eq!(r.codes("hole"), vec!["TcpConnectTimeout"]);
    assert_eq!(r.finding("hole", "TcpConnectTimeout")["usage_error"], "NetworkError");
    let message = r.finding("hole", "TcpConnectTimeout")["message"].as_str().unwrap().to_string();
    assert!(message.contains(" timed out after 1") && message.contains("no answer to the SYN"), "{message}");
    // A black-holed connect ends within the stage timeout + 1 s.
    let d = hole_e["tcp"][0]["duration_ms"].as_u64().unwrap();
    assert!((1000..2000).contains(&d), "{d}");
    assert!(r.elapsed < Duration::from_secs(2), "whole run took {:?}", r.elapsed);
}

#[test]
fn fully_blackholed_set_ends_within_timeout_plus_one_second() {
    let dir = tempfile::tempdir().unwrap();
    let holes: Vec<_> = (0..6).map(|_| lab::blackhole()).collect();
    let mut probes = String::new();
    for (i, h) in holes.iter().enumerate() {
        probes.push_str(&endpoint(&format!("h{i}"), "usage", &format!("https://127.0.0.1:{}/", h.addr.port()), ""));
    }
    let file = probe_file(dir.path(), &probes);
    let r = run(dir.path(), &["--probes", file.to_str().unwrap(), "--timeout", "2s"]);
    assert_eq!(r.code, 2);
    for i in 0..6 {
        assert_eq!(r.codes(&format!("h{i}")), vec!["TcpConnectTimeout"]);
    }
    assert!(r.elapsed < Duration::from_secs(3), "took {:?}", r.elapsed);
}

#[test]
fn untrusted_chain_and_http_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let other = TestCa::new("Someone Else Root");
    let leaf = ca.leaf(&["svc.lab.test"]);
    let good = TlsServer::start(LO, &leaf, ok_response());
    let hang = TlsServer::start(LO, &leaf, HttpBehavior::NeverRespond);
    let blocked = TlsServer::start(
        LO,
        &leaf,
        HttpBehavior::Respond {
            status: 403,
            headers: vec![("Server".into(), "blocker".into())],
            body: "blocked".into(),
        },
    );
    let endless = TlsServer::start(LO, &leaf, HttpBehavior::EndlessHead);
    let dns = DnsServer::start(vec![("svc.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let mut probes = String::new();
    probes.push_str(&endpoint("hang", "usage", &format!("https://svc.lab.test:{}/", hang.addr.port()), ""));
    probes.push_str(&endpoint(
        "blocked",
        "registration",
        &format!("https://svc.lab.test:{}/m", blocked.addr.port()),
        "reachable = [200]",
    ));
    probes.push_str(&endpoint("endless", "usage", &format!("https://svc.lab.test:{}/", endless.addr.port()), ""));
    probes.push_str(&endpoint("ok", "usage", &format!("https://svc.lab.test:{}/", good.addr.port()), ""));
    let file = probe_file(dir.path(), &probes);
    let mut a = vec![
        "--probes".to_string(),
        file.display().to_string(),
        "--dns-server".into(),
        dns.addr.to_string(),
        "--timeout".into(),
        "1s".into(),
    ];
    a.extend(trust_args(dir.path(), &ca));
    let r = run(dir.path(), &args(&a));
    assert_eq!(r.code, 2);
    assert_eq!(r.codes("hang"), vec!["HttpTimeout"]);
    assert_eq!(r.finding("hang", "HttpTimeout")["usage_error"], "RequestTimedOut");
    assert_eq!(r.codes("blocked"), vec!["HttpUnexpectedStatus"]);
    assert_eq!(r.endpoint("blocked")["http"]["server"], "blocker");
    assert_eq!(r.endpoint("blocked")["stage"], "http: 403");
    assert_eq!(r.codes("endless"), vec!["HttpTimeout"], "a head that never ends is bounded by the timeout");
    assert!(r.codes("ok").is_empty());

    // The same server judged against a store that does not hold its CA.
    let other_pem = other.write_pem(dir.path(), "other.pem").display().to_string();
    let ok_only = probe_file(
        dir.path(),
        &(endpoint("ok", "usage", &format!("https://svc.lab.test:{}/", good.addr.port()), "")
            + &endpoint("login", "login", &format!("https://svc.lab.test:{}/", good.addr.port()), "")),
    );
    let r = run(
        dir.path(),
        &[
            "--probes",
            ok_only.to_str().unwrap(),
            "--dns-server",
            &dns.addr.to_string(),
            "--public-roots",
            &other_pem,
            "--system-roots",
            &other_pem,
        ],
    );
    assert_eq!(r.code, 2);
    let t = &r.endpoint("ok")["tls"];
    assert_eq!(t["status"], "ok", "the recording verifier lets the handshake finish");
    assert_eq!(t["trust"]["public"], "unknown_issuer");
    assert_eq!(t["trust"]["system"], "unknown_issuer");
    assert_eq!(t["chain"][0]["issuer_cn"], "Lab Root CA");
    assert_eq!(r.endpoint("ok")["http"]["status_code"], 200, "the request still proves the path");
    let f = r.finding("ok", "TlsUntrustedRoot");
    assert_eq!(f["usage_error"], "CertificateValidationError");
    assert_eq!(f["evidence"]["issuer"], "Lab Root CA");
    assert_eq!(r.finding("login", "TlsUntrustedRoot")["usage_error"], "LoginError");
}

#[test]
fn name_mismatch_and_expired_are_their_own_findings() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let wrong = ca.leaf(&["other.lab.test"]);
    let now = time::OffsetDateTime::now_utc();
    let old = ca.leaf_with(&["svc.lab.test"], now - time::Duration::days(400), now - time::Duration::days(30));
    let s_wrong = TlsServer::start(LO, &wrong, ok_response());
    let s_old = TlsServer::start(LO, &old, ok_response());
    let dns = DnsServer::start(vec![("svc.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let probes = endpoint("wrong", "usage", &format!("https://svc.lab.test:{}/", s_wrong.addr.port()), "")
        + &endpoint("old", "usage", &format!("https://svc.lab.test:{}/", s_old.addr.port()), "");
    let file = probe_file(dir.path(), &probes);
    let mut a = vec!["--probes".to_string(), file.display().to_string(), "--dns-server".into(), dns.addr.to_string()];
    a.extend(trust_args(dir.path(), &ca));
    let r = run(dir.path(), &args(&a));
    assert_eq!(r.endpoint("wrong")["tls"]["trust"]["public"], "name_mismatch");
    assert_eq!(r.codes("wrong"), vec!["TlsNameMismatch"]);
    assert_eq!(r.finding("wrong", "TlsNameMismatch")["evidence"]["leaf_sans"], json!(["other.lab.test"]));
    assert_eq!(r.endpoint("old")["tls"]["trust"]["public"], "expired");
    assert_eq!(r.codes("old"), vec!["TlsCertificateExpired"]);
    assert_eq!(r.finding("old", "TlsCertificateExpired")["usage_error"], "CertificateValidationError");
}

#[test]
fn public_endpoint_resolving_to_a_private_address_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let leaf = ca.leaf(&["login.lab.test"]);
    let tls = TlsServer::start(LO, &leaf, ok_response());
    let dns = DnsServer::start(vec![("login.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let probes = format!(
        "[[endpoint]]\nname = \"entra\"\nrole = \"login\"\nurl = \"https://login.lab.test:{}/\"\n",
        tls.addr.port()
    );
    let file = probe_file(dir.path(), &probes);
    let mut a = vec!["--probes".to_string(), file.display().to_string(), "--dns-server".into(), dns.addr.to_string()];
    a.extend(trust_args(dir.path(), &ca));
    let r = run(dir.path(), &args(&a));
    assert_eq!(r.codes("entra"), vec!["DnsPrivateAddress"]);
    let f = r.finding("entra", "DnsPrivateAddress");
    assert_eq!(f["severity"], "warning");
    assert_eq!(f["usage_error"], "LoginError");
    assert_eq!(f["evidence"]["private_addresses"], json!(["127.0.0.1"]));
    assert_eq!(r.endpoint("entra")["http"]["status_code"], 200, "the probe still carries on");
    assert_eq!(r.code, 1);
    assert_eq!(r.report["summary"]["verdict"], "warning");
}

#[test]
fn adhoc_endpoints_run_with_an_empty_probe_file() {
    let dir = tempfile::tempdir().unwrap();
    let closed = lab::closed_port();
    let silent = lab::silent_server();
    let file = probe_file(dir.path(), "");
    let r = run(
        dir.path(),
        &[
            "--probes",
            file.to_str().unwrap(),
            "--endpoint",
            &format!("tcp://127.0.0.1:{}", silent.addr.port()),
            "--endpoint",
            &format!("https://127.0.0.1:{}/x", closed.port()),
        ],
    );
    let eps = r.report["endpoints"].as_array().unwrap();
    assert_eq!(eps.len(), 2);
    let tcp_name = format!("tcp://127.0.0.1:{}", silent.addr.port());
    assert_eq!(r.endpoint(&tcp_name)["role"], "custom");
    assert_eq!(r.endpoint(&tcp_name)["verdict"], "ok");
    assert_eq!(r.endpoint(&tcp_name)["stage"], "tcp: ok");
    assert_eq!(r.codes(&format!("https://127.0.0.1:{}/x", closed.port())), vec!["TcpConnectionRefused"]);
    assert_eq!(r.report["config"]["probe_set"]["name"], "probes");
    assert_eq!(r.code, 2);
}

/// Issue 12 item 8: Azure Front Door's own 403 ("The request is blocked", `x-azure-ref`) on a
/// Microsoft endpoint is the service edge refusing the node, with the reference for support; the
/// same page on another host, and other 403s on Microsoft hosts, keep their meaning.
#[test]
fn azure_front_door_refusal_is_blocked_at_service_edge() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let reference = "Ref A: 3F2C9A1B8D7E4F6A Ref B: AMS231000108019 Ref C: 2026-11-30T09:00:00Z";
    let afd = |names: &[&str]| {
        TlsServer::start(
            LO,
            &ca.leaf(names),
            HttpBehavior::Respond {
                status: 403,
                headers: vec![
                    ("x-azure-ref".into(), "20261130T090000Z-16b5c8d7f9xk2lmnhC1AMS9fbg0000000abc".into()),
                    ("X-Cache".into(), "CONFIG_NOCACHE".into()),
                    ("Content-Type".into(), "text/html".into()),
                ],
                body: format!("<html><body><h2>The request is blocked.</h2><p>{reference}</p></body></html>"),
            },
        )
    };
    let login = afd(&["login.microsoftonline.com"]);
    let graph = afd(&["graph.microsoft.com"]);
    let other = afd(&["svc.lab.test"]);
    let plain = TlsServer::start(
        LO,
        &ca.leaf(&["management.azure.com"]),
        HttpBehavior::Respond { status: 403, headers: vec![], body: "Forbidden".into() },
    );
    let lo = DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]);
    let dns = DnsServer::start(vec![
        ("login.microsoftonline.com", lo.clone()),
        ("graph.microsoft.com", lo.clone()),
        ("management.azure.com", lo.clone()),
        ("svc.lab.test", lo),
    ]);
    let mut probes = String::new();
    let url = |host: &str, port: u16| format!("https://{host}:{port}/");
    probes.push_str(&endpoint("login", "login", &url("login.microsoftonline.com", login.addr.port()), ""));
    probes.push_str(&endpoint("graph", "usage", &url("graph.microsoft.com", graph.addr.port()), ""));
    probes.push_str(&endpoint("other", "usage", &url("svc.lab.test", other.addr.port()), "reachable = [200]"));
    probes.push_str(&endpoint("plain", "usage", &url("management.azure.com", plain.addr.port()), "reachable = [200]"));
    let file = probe_file(dir.path(), &probes);
    let mut a = vec!["--probes".to_string(), file.display().to_string(), "--dns-server".into(), dns.addr.to_string()];
    a.extend(trust_args(dir.path(), &ca));
    let r = run(dir.path(), &args(&a));
    for (name, usage) in [("login", "LoginError"), ("graph", "NetworkError")] {
        let e = r.endpoint(name);
        assert_eq!(r.codes(name), vec!["HttpBlockedAtServiceEdge"], "{name}: {e}");
        assert_eq!(e["verdict"], "error", "{name}: not reachable");
        assert_eq!(e["http"]["edge_ref"], "20261130T090000Z-16b5c8d7f9xk2lmnhC1AMS9fbg0000000abc");
        let f = r.finding(name, "HttpBlockedAtServiceEdge");
        assert_eq!(f["usage_error"], usage);
        assert_eq!(f["severity"], "error");
        assert_eq!(f["evidence"]["reference"], e["http"]["edge_ref"]);
        let msg = f["message"].as_str().unwrap();
        assert!(msg.contains("20261130T090000Z-16b5c8d7f9xk2lmnhC1AMS9fbg0000000abc"), "{msg}");
        assert!(msg.contains("The request is blocked") && msg.contains("Azure Front Door"), "{msg}");
        let summary = f["remediation"]["summary"].as_str().unwrap();
        assert!(summary.contains("20261130T090000Z-16b5c8d7f9xk2lmnhC1AMS9fbg0000000abc"), "{summary}");
    }
    // Not a Microsoft host: the same page is an ordinary unexpected status.
    assert_eq!(r.codes("other"), vec!["HttpUnexpectedStatus"]);
    // A Microsoft host's 403 without the edge's reference and page keeps today's meaning.
    assert_eq!(r.codes("plain"), vec!["HttpUnexpectedStatus"]);
    assert_eq!(r.endpoint("plain")["http"]["edge_ref"], serde_json::Value::Null);
    assert_eq!(r.report["summary"]["usage_errors"], json!(["NetworkError", "LoginError"]));
}

/// Reading an error page (issue 12 item 8) never shifts what the HTTP stage measures: its
/// duration is the response head's arrival, and so is the time the Date header is judged at.
#[test]
fn reading_an_error_page_does_not_shift_the_head_timing() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let hold = TlsServer::start(LO, &ca.leaf(&["svc.lab.test"]), HttpBehavior::HeadThenHold { status: 403 });
    let dns = DnsServer::start(vec![("svc.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let file = probe_file(
        dir.path(),
        &endpoint("held", "usage", &format!("https://svc.lab.test:{}/", hold.addr.port()), "reachable = [200]"),
    );
    let mut a = vec!["--probes".to_string(), file.display().to_string(), "--dns-server".into(), dns.addr.to_string()];
    a.extend(trust_args(dir.path(), &ca));
    a.extend(["--timeout".to_string(), "3s".to_string()]);
    let r = run(dir.path(), &args(&a));
    let e = r.endpoint("held");
    assert_eq!(e["http"]["status_code"], 403);
    assert_eq!(r.codes("held"), vec!["HttpUnexpectedStatus"]);
    // The page read waits up to 500 ms for a body that never comes; the head came at once.
    assert!(e["http"]["duration_ms"].as_u64().unwrap() < 300, "{}", e["http"]);
    assert!(r.report["clock"]["uncertainty_seconds"].as_f64().unwrap() < 1.3, "{}", r.report["clock"]);
}
