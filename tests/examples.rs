#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Example reports from the lab (reports/examples/). The lab runs here every time and its
//! reports must match the pinned shape; `AZS_UPDATE_EXAMPLES=1 cargo test --test examples`
//! rewrites the committed files, and the committed files must still match the shape.

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use lab::{DnsAnswer, DnsServer, HttpBehavior, TestCa, TlsServer, ok_response};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples")
}

fn keep(run: &common::Run, name: &str) {
    if std::env::var_os("AZS_UPDATE_EXAMPLES").is_some() {
        std::fs::copy(&run.report_path, examples_dir().join(name)).unwrap();
    }
}

/// A small stamp: login healthy, registration behind a firewall dropping packets, the usage
/// gateway name unknown to the datacenter's DNS, graph answering with a block page.
#[test]
fn lab_example_reports() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let leaf = ca.leaf(&["login.lab.test", "graph.lab.test"]);
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let login = TlsServer::start(lo, &leaf, ok_response());
    let graph = TlsServer::start(
        lo,
        &leaf,
        HttpBehavior::Respond {
            status: 403,
            headers: vec![("Server".into(), "corp-filter".into())],
            body: "Access denied by policy".into(),
        },
    );
    let hole = lab::blackhole();
    let dns = DnsServer::start(vec![
        ("login.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
        ("graph.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
        ("management.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
        ("gateway.lab.test", DnsAnswer::NxDomain),
    ]);
    let probes = format!(
        r#"name = "lab-stamp"
version = "1"
[[endpoint]]
name = "entra-login"
role = "login"
url = "https://login.lab.test:{login}/common/v2.0/.well-known/openid-configuration"
reachable = [200]
public = false

[[endpoint]]
name = "arm-metadata"
role = "registration"
url = "https://management.lab.test:{hole}/metadata/endpoints?api-version=2015-01-01"
public = false

[[endpoint]]
name = "usage-gateway"
role = "usage"
url = "https://gateway.lab.test/"
represents = "*.trafficmanager.net"
public = false

[[endpoint]]
name = "microsoft-graph"
role = "graph"
url = "https://graph.lab.test:{graph}/v1.0/$metadata"
reachable = [200]
public = false
"#,
        login = login.addr.port(),
        hole = hole.addr.port(),
        graph = graph.addr.port(),
    );
    let file = common::probe_file(dir.path(), &probes);
    let pem = ca.write_pem(dir.path(), "lab-ca.pem");
    let base = [
        "run",
        "--probes",
        file.to_str().unwrap(),
        "--dns-server",
        &dns.addr.to_string(),
        "--public-roots",
        pem.to_str().unwrap(),
        "--system-roots",
        pem.to_str().unwrap(),
        "--timeout",
        "2s",
    ];
    let r = common::run(dir.path(), &base);
    assert_eq!(r.code, 2);
    assert_eq!(r.codes("entra-login"), Vec::<String>::new());
    assert_eq!(r.codes("arm-metadata"), vec!["TcpConnectTimeout"]);
    assert_eq!(r.codes("usage-gateway"), vec!["DnsNameNotFound"]);
    assert_eq!(r.codes("microsoft-graph"), vec!["HttpUnexpectedStatus"]);
    keep(&r, "lab-mixed-failures.json");

    // The same stamp when the node does not trust the chain it is shown.
    let other = TestCa::new("Unrelated Root CA").write_pem(dir.path(), "other.pem");
    let mut untrusted = base.to_vec();
    untrusted[6] = other.to_str().unwrap();
    untrusted[8] = other.to_str().unwrap();
    let r = common::run(dir.path(), &untrusted);
    assert_eq!(r.codes("entra-login"), vec!["TlsUntrustedRoot"]);
    assert_eq!(r.finding("entra-login", "TlsUntrustedRoot")["usage_error"], "LoginError");
    keep(&r, "lab-untrusted-chain.json");
}

#[test]
fn committed_examples_match_the_pinned_shape() {
    let mut n = 0;
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            common::shape::check(&std::fs::read_to_string(&path).unwrap());
            n += 1;
        }
    }
    assert!(n >= 2, "reports/examples holds the lab's example reports");
}
