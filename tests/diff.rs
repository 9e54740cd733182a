#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `diff BEFORE AFTER`: two real lab runs, healthy then broken; fleet reports; unreadable input.
//! `AZS_UPDATE_EXAMPLES=1 cargo test --test diff` rewrites reports/examples/diff/.

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use lab::{DnsAnswer, DnsServer, TestCa, TlsServer, ok_response};
use serde_json::Value;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples/diff")
}

/// One run of a small stamp (login and usage): healthy, or with the usage gateway's name gone
/// from the datacenter's DNS. The report is written to `dir/<name>`.
fn lab_run(dir: &Path, name: &str, healthy: bool) -> PathBuf {
    let ca = TestCa::new("Lab Root CA");
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let leaf = ca.leaf(&["login.lab.test", "usage.lab.test"]);
    let login = TlsServer::start(lo, &leaf, ok_response());
    let usage = TlsServer::start(lo, &leaf, ok_response());
    let dns = DnsServer::start(vec![
        ("login.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
        ("usage.lab.test", if healthy { DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]) } else { DnsAnswer::NxDomain }),
    ]);
    let file = common::probe_file(
        dir,
        &format!(
            "name = \"lab-stamp\"\nversion = \"1\"\n\
             [[endpoint]]\nname = \"entra-login\"\nrole = \"login\"\nurl = \"https://login.lab.test:{}/\"\npublic = false\n\
             [[endpoint]]\nname = \"usage-gateway\"\nrole = \"usage\"\nurl = \"https://usage.lab.test:{}/\"\npublic = false\n",
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
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&r.report_path).unwrap()).unwrap();
    // The ports differ between the runs (fresh lab servers): the same stamp has the same probe set.
    v["config"]["probe_set"]["sha256"] = Value::from("lab-stamp");
    v["node"]["hostname"] = Value::from("xrp-vm1");
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
    path
}

fn diff(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = common::command(dir).arg("diff").args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_healthy_lab_turned_unhealthy_is_a_new_error() {
    let dir = tempfile::tempdir().unwrap();
    let before = lab_run(dir.path(), "before.json", true);
    let after = lab_run(dir.path(), "after.json", false);
    let (out, html) = (dir.path().join("diff.json"), dir.path().join("diff.html"));
    // Named as the operator would, from the folder holding them (the diff records the names).
    let (b, a) = ("before.json", "after.json");
    let (code, stdout, stderr) = diff(dir.path(), &[b, a, "--out", "diff.json", "--html", "diff.html"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    // The summary comes first and says what broke.
    let first = stdout.lines().next().unwrap();
    assert!(first.starts_with("0 fixed, 1 new error, 0 new warnings"), "{stdout}");
    assert!(first.contains("DnsNameNotFound on usage-gateway"), "{first}");
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(d["schema_version"], "diff-1");
    let new = d["new"].as_array().unwrap();
    assert_eq!(new.len(), 1, "{d}");
    assert_eq!(
        (&new[0]["endpoint"], &new[0]["code"], &new[0]["severity"], &new[0]["usage_error"]),
        (
            &Value::from("usage-gateway"),
            &Value::from("DnsNameNotFound"),
            &Value::from("error"),
            &Value::from("NetworkError")
        )
    );
    assert!(new[0]["message"].as_str().unwrap().contains("usage.lab.test"));
    assert_eq!(d["usage_errors_gained"], serde_json::json!(["NetworkError"]));
    assert_eq!(d["notes"], serde_json::json!([]), "same node, cloud and probe set");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<table id=\"new\">") && page.contains("DnsNameNotFound"));
    // The other way round: fixed, nothing new (0).
    let (code, stdout, _) = diff(dir.path(), &[a, b]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("1 fixed, 0 new errors"), "{stdout}");
    // The same report twice: nothing new.
    assert_eq!(diff(dir.path(), &[b, b]).0, 0);
    if std::env::var_os("AZS_UPDATE_EXAMPLES").is_some() {
        std::fs::create_dir_all(examples_dir()).unwrap();
        for p in [&before, &after, &out, &html] {
            std::fs::copy(p, examples_dir().join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn unreadable_input_is_3_and_outputs_may_not_be_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let good = examples_dir().join("before.json");
    std::fs::write(dir.path().join("bad.json"), "{not json").unwrap();
    let (code, _, stderr) = diff(dir.path(), &[good.to_str().unwrap(), "bad.json"]);
    assert_eq!(code, 3);
    assert!(stderr.contains("bad.json is not JSON"), "{stderr}");
    let (code, _, stderr) = diff(dir.path(), &[good.to_str().unwrap(), "missing.json"]);
    assert_eq!(code, 3, "{stderr}");
    let copy = dir.path().join("b.json");
    std::fs::copy(&good, &copy).unwrap();
    let (code, _, stderr) = diff(dir.path(), &[good.to_str().unwrap(), "b.json", "--out", "b.json"]);
    assert_eq!(code, 3);
    assert!(stderr.contains("same file"), "{stderr}");
}

#[test]
fn fleet_reports_are_compared_node_by_node() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples/fleet");
    // Before: the fleet as merged from xrp-vm1 and xrp-vm3 (healthy); after: all three, xrp-vm2 intercepted.
    let out = dir.path().join("before-fleet.json");
    let o = common::command(dir.path())
        .args(["merge"])
        .arg(fleet.join("xrp-vm1.json"))
        .arg(fleet.join("xrp-vm3.json"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.code().is_some());
    let (code, stdout, _) = diff(dir.path(), &[out.to_str().unwrap(), fleet.join("fleet.json").to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains("note: node xrp-vm2 is only in AFTER"), "{stdout}");
    assert!(stdout.contains("xrp-vm2: ERROR TlsInterception on usage-gateway"), "{stdout}");
}

/// The committed diff page is what the current code renders from the committed diff JSON.
#[test]
fn committed_diff_example_is_current() {
    use azs_netprobe::report::diff;
    let d: diff::Diff =
        serde_json::from_str(&std::fs::read_to_string(examples_dir().join("diff.json")).unwrap()).unwrap();
    let committed = std::fs::read_to_string(examples_dir().join("diff.html")).unwrap();
    assert!(
        committed == diff::render_html(&d),
        "reports/examples/diff/diff.html is stale: AZS_UPDATE_EXAMPLES=1 cargo test --test diff"
    );
    // The committed inputs are node reports of the pinned shape, and the diff says what they say.
    let b = common::shape::check(&std::fs::read_to_string(examples_dir().join("before.json")).unwrap());
    let a = common::shape::check(&std::fs::read_to_string(examples_dir().join("after.json")).unwrap());
    assert_eq!((b.summary.exit_code, a.summary.exit_code), (d.before.exit_code.unwrap(), d.after.exit_code.unwrap()));
    assert_eq!(d.summary.exit_code, 2);
}

#[test]
fn committed_diff_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/schema/diff.v1.schema.json");
    if std::env::var_os("AZS_UPDATE_EXAMPLES").is_some() {
        std::fs::write(&path, azs_netprobe::report::diff::schema_json().unwrap()).unwrap();
    }
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/schema/diff.v1.schema.json"))
            .unwrap();
    assert!(
        committed == azs_netprobe::report::diff::schema_json().unwrap(),
        "reports/schema/diff.v1.schema.json is stale: AZS_UPDATE_EXAMPLES=1 cargo test --test diff"
    );
}
