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

/// One node of a three-node fleet: the usage endpoint is intercepted on `xrp-vm2` only.
fn fleet_node(dir: &Path, hostname: &str, intercepted: bool) -> PathBuf {
    let ca = TestCa::new("Lab Root CA");
    let zscaler = TestCa::new_with("Zscaler Intermediate Root CA (zscaler.net)", "Zscaler Inc.");
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let login = TlsServer::start(lo, &ca.leaf(&["login.lab.test"]), ok_response());
    let usage_leaf = if intercepted { zscaler.minted_leaf(&["usage.lab.test"]) } else { ca.leaf(&["usage.lab.test"]) };
    let usage = TlsServer::start(lo, &usage_leaf, ok_response());
    let dns = DnsServer::start(vec![
        ("login.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
        ("usage.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
    ]);
    let file = common::probe_file(
        dir,
        &format!(
            "name = \"lab-stamp\"\nversion = \"1\"\n\
             [[endpoint]]\nname = \"entra-login\"\nrole = \"login\"\nurl = \"https://login.lab.test:{}/\"\npublic = false\n\
             [[endpoint]]\nname = \"usage-gateway\"\nrole = \"usage\"\nurl = \"https://usage.lab.test:{}/\"\n\
             represents = \"*.trafficmanager.net\"\npublic = false\n",
            login.addr.port(),
            usage.addr.port()
        ),
    );
    let pem = ca.write_pem(dir, "ca.pem");
    let r = common::run(
        dir,
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
    // Three nodes run on one machine here: each gets its own name, as on a stamp.
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&r.report_path).unwrap()).unwrap();
    v["node"]["hostname"] = serde_json::json!(hostname);
    let path = dir.join(format!("{hostname}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
    path
}

/// A fleet merged from three lab nodes, and the HTML pages of a node and of the fleet.
#[test]
fn lab_fleet_and_html_examples() {
    let dir = tempfile::tempdir().unwrap();
    let nodes: Vec<PathBuf> = [("xrp-vm1", false), ("xrp-vm2", true), ("xrp-vm3", false)]
        .iter()
        .map(|(h, i)| fleet_node(dir.path(), h, *i))
        .collect();
    let fleet = dir.path().join("fleet.json");
    let fleet_html = dir.path().join("fleet.html");
    let mut args = vec!["merge".to_string()];
    args.extend(nodes.iter().map(|p| p.display().to_string()));
    args.extend(["--out".into(), fleet.display().to_string(), "--html".into(), fleet_html.display().to_string()]);
    let out = common::command(dir.path()).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let f: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&fleet).unwrap()).unwrap();
    assert_eq!(
        f["summary"]["differences"],
        serde_json::json!(["TlsInterception on usage-gateway (Zscaler): only 1 of 3 nodes: xrp-vm2"])
    );
    let node_html = dir.path().join("xrp-vm2.html");
    let out = common::command(dir.path())
        .args(["render", nodes[1].to_str().unwrap(), "--html", node_html.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    if std::env::var_os("AZS_UPDATE_EXAMPLES").is_some() {
        let to = examples_dir().join("fleet");
        std::fs::create_dir_all(&to).unwrap();
        for p in &nodes {
            std::fs::copy(p, to.join(p.file_name().unwrap())).unwrap();
        }
        std::fs::copy(&fleet, to.join("fleet.json")).unwrap();
        std::fs::copy(&fleet_html, to.join("fleet.html")).unwrap();
        std::fs::copy(&node_html, examples_dir().join("lab-intercepted-node.html")).unwrap();
    }
}

/// The built-in AzureCloud set on a node whose DNS knows no public name (an isolated network:
/// every name NXDOMAIN), as this repository's own machines see it; the lab's DNS server stands in
/// for the node's resolver, so no query leaves the machine.
#[test]
fn lab_no_internet_default_set() {
    let dir = tempfile::tempdir().unwrap();
    let set = azs_netprobe::catalog::ProbeSet::builtin("AzureCloud").unwrap();
    let hosts: Vec<String> = set.endpoints.iter().map(|e| e.target.host().bare()).collect();
    let dns = DnsServer::start(hosts.iter().map(|h| (h.as_str(), DnsAnswer::NxDomain)).collect());
    let ntp = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run = common::run(
        dir.path(),
        &["run", "--dns-server", &dns.addr.to_string(), "--ntp-server", &format!("127.0.0.1:{ntp}"), "--timeout", "2s"],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.codes("entra-login").contains(&"DnsNameNotFound".to_string()), "{}", run.report["findings"]);
    keep(&run, "lab-no-internet-default-set.json");
}

#[test]
fn committed_examples_match_the_pinned_shape() {
    let mut n = 0;
    for dir in [examples_dir(), examples_dir().join("fleet")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") && path.file_name().is_some_and(|f| f != "fleet.json") {
                common::shape::check(&std::fs::read_to_string(&path).unwrap());
                n += 1;
            }
        }
    }
    assert!(n >= 6, "reports/examples holds the lab's example reports");
}

/// The committed HTML pages are what the current code renders from the committed JSON.
#[test]
fn committed_html_examples_are_current() {
    use azs_netprobe::report::{Report, fleet, html};
    let node: Report =
        serde_json::from_str(&std::fs::read_to_string(examples_dir().join("fleet/xrp-vm2.json")).unwrap()).unwrap();
    let committed = std::fs::read_to_string(examples_dir().join("lab-intercepted-node.html")).unwrap();
    assert!(
        committed == html::render(&node),
        "reports/examples/lab-intercepted-node.html is stale: AZS_UPDATE_EXAMPLES=1 cargo test --test examples"
    );
    let f: fleet::FleetReport =
        serde_json::from_str(&std::fs::read_to_string(examples_dir().join("fleet/fleet.json")).unwrap()).unwrap();
    let committed = std::fs::read_to_string(examples_dir().join("fleet/fleet.html")).unwrap();
    assert!(
        committed == html::render_fleet(&f),
        "reports/examples/fleet/fleet.html is stale: AZS_UPDATE_EXAMPLES=1 cargo test --test examples"
    );
}
