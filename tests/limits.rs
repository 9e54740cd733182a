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
