#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 12 item 5: DNS answers in RFC 6890 special-purpose ranges (DnsSpecialAddress).
//!
//! The probe connects to what DNS answered, and these addresses must never be sent traffic from
//! this machine. So the binary runs in a network namespace this test creates, with its loopback
//! only: no other interface, no default route. The lab DNS server is bound inside that namespace
//! (a thread joins it with setns before binding). There:
//! - 198.18.0.0/15 is routed onto the namespace's loopback, where it is no local address: the
//!   kernel drops the SYN and the connect times out, as operators see it (TcpConnectTimeout);
//! - every other address has no route: the connect fails at once (TcpUnreachable);
//! - 0.0.0.0 means "this host" to Linux: refused by the namespace's own empty loopback.
#![cfg(target_os = "linux")]

mod common;
mod lab;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Command;

use common::{BIN, probe_file, require};
use lab::{DnsAnswer, DnsServer};
use serde_json::Value;

/// A network namespace with loopback only (up), 198.18.0.0/15 routed into it; deleted on drop.
struct Netns {
    name: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip (iproute2)");
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

impl Netns {
    fn create(tag: &str) -> Netns {
        let name = format!("azsnp-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        let n = ns.name.as_str();
        ip(&["-n", n, "link", "set", "lo", "up"]);
        // 198.18.0.0/15 onto the namespace's own loopback: not a local address there, so the
        // kernel drops the SYN and the connect times out; nothing can leave the namespace.
        ip(&["-n", n, "route", "add", "198.18.0.0/15", "dev", "lo"]);
        ns
    }

    /// Run `f` on a thread that has joined the namespace (sockets it creates live there).
    fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = std::fs::File::open(format!("/var/run/netns/{}", self.name)).expect("open the netns");
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
                f()
            })
            .join()
            .unwrap()
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

fn endpoint(name: &str, role: &str, host: &str) -> String {
    format!("[[endpoint]]\nname = \"{name}\"\nrole = \"{role}\"\nurl = \"https://{host}/\"\npublic = true\n")
}

/// Run the binary inside the namespace; parse and shape-check its report.
fn run_in(ns: &Netns, dir: &Path, args: &[&str]) -> Value {
    let report = dir.join("report.json");
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, BIN])
        .args(args)
        .arg("--out")
        .arg(&report)
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .current_dir(dir)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| {
        panic!("no report ({e}): {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    common::shape::check(&text);
    serde_json::from_str(&text).unwrap()
}

fn findings<'a>(r: &'a Value, endpoint: &str) -> Vec<&'a Value> {
    r["findings"].as_array().unwrap().iter().filter(|f| f["endpoint"] == endpoint).collect()
}

fn codes(r: &Value, endpoint: &str) -> Vec<String> {
    findings(r, endpoint).iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
}

fn finding<'a>(r: &'a Value, endpoint: &str, code: &str) -> &'a Value {
    findings(r, endpoint)
        .into_iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("{code} for {endpoint}: {}", r["findings"]))
}

#[test]
fn special_purpose_answers_are_the_root_cause_of_the_connect_failures() {
    use std::os::unix::fs::MetadataExt as _;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    let has_ip = Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success());
    if !require(
        "root and iproute2 (network namespaces)",
        root && has_ip,
        "apt-get install -y iproute2 (and run as root)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::create("dns");
    let dns = ns.enter(|| {
        DnsServer::start(vec![
            ("login.microsoftonline.com", DnsAnswer::A(vec![Ipv4Addr::new(198, 18, 0, 5)])),
            ("doc.lab.test", DnsAnswer::A(vec![Ipv4Addr::new(192, 0, 2, 10)])),
            ("sinkhole.lab.test", DnsAnswer::A(vec![Ipv4Addr::UNSPECIFIED])),
            ("discard.lab.test", DnsAnswer::Aaaa(vec!["100::1".parse::<Ipv6Addr>().unwrap()])),
            ("nat64.lab.test", DnsAnswer::Aaaa(vec!["64:ff9b::14be:8001".parse::<Ipv6Addr>().unwrap()])),
        ])
    });
    let mut probes = String::new();
    probes.push_str(&endpoint("login", "login", "login.microsoftonline.com"));
    probes.push_str(&endpoint("doc", "usage", "doc.lab.test"));
    probes.push_str(&endpoint("sinkhole", "usage", "sinkhole.lab.test"));
    probes.push_str(&endpoint("discard", "usage", "discard.lab.test"));
    probes.push_str(&endpoint("nat64", "usage", "nat64.lab.test"));
    let file = probe_file(dir.path(), &probes);
    let server = dns.addr.to_string();
    let started = std::time::Instant::now();
    let r = run_in(
        &ns,
        dir.path(),
        &[
            "run",
            "--probes",
            file.to_str().unwrap(),
            "--dns-server",
            &server,
            "--ntp-server",
            "127.0.0.1:9",
            "--timeout",
            "1s",
        ],
    );
    assert!(started.elapsed().as_secs() < 20, "bounded: {:?}", started.elapsed());

    // The field case: the login name answered with a fake IP ends in a connect timeout, which
    // follows from the DNS answer, not from a firewall.
    assert_eq!(codes(&r, "login"), vec!["DnsSpecialAddress", "TcpConnectTimeout"], "{}", r["findings"]);
    let f = finding(&r, "login", "DnsSpecialAddress");
    assert_eq!(f["severity"], "error", "the severity of the failure it causes");
    assert_eq!(f["usage_error"], "LoginError");
    assert_eq!(f["evidence"]["range"], "198.18.0.0/15");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("198.18.0.5") && msg.contains("benchmarking") && msg.contains("fake-IP"), "{msg}");
    let tcp = finding(&r, "login", "TcpConnectTimeout");
    assert_eq!(tcp["severity"], "info");
    assert_eq!(tcp["evidence"]["root_cause"], "DnsSpecialAddress");
    let tcp_msg = tcp["message"].as_str().unwrap();
    assert!(tcp_msg.contains("not from a firewall") && !tcp_msg.contains("a firewall drops"), "{tcp}");
    let e = r["endpoints"].as_array().unwrap().iter().find(|e| e["name"] == "login").unwrap();
    assert_eq!(e["verdict"], "error");
    assert_eq!(e["tcp"][0]["status"], "timeout", "the SYN was dropped: {e}");

    for (name, range, cause) in [
        ("doc", "192.0.2.0/24", "placeholder"),
        ("sinkhole", "0.0.0.0/8", "sinkholing"),
        ("discard", "100::/64", "sinkholing"),
    ] {
        let c = codes(&r, name);
        assert_eq!(c[0], "DnsSpecialAddress", "{name}: {c:?}");
        let f = finding(&r, name, "DnsSpecialAddress");
        assert_eq!(f["evidence"]["range"], range, "{name}");
        assert_eq!(f["severity"], "error", "{name}");
        assert_eq!(f["usage_error"], "NetworkError", "{name}");
        assert!(f["evidence"]["usual_cause"].as_str().unwrap().contains(cause), "{name}: {f}");
        assert!(!f["remediation"]["steps"].as_array().unwrap().is_empty());
        // The connect failure to that address is not a second error.
        for tcp in findings(&r, name).iter().filter(|f| f["code"].as_str().unwrap().starts_with("Tcp")) {
            assert_eq!(tcp["evidence"]["root_cause"], "DnsSpecialAddress", "{name}: {tcp}");
            assert_eq!(tcp["severity"], "info", "{name}");
        }
    }
    // NAT64 is legitimate: only the (namespace's) missing IPv6 route is reported.
    assert_eq!(codes(&r, "nat64"), vec!["TcpUnreachable"], "{}", r["findings"]);
}
