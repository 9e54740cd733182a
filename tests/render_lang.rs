#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Language is rendering: a report's findings carry no language of their own; their
//! remediation is attached once from the report's facts, so `render --lang` shows a report
//! from disk in another language without probing, and attaching again in the report's own
//! language reproduces exactly what the run wrote.

mod common;

use std::path::{Path, PathBuf};

use azs_netprobe::config::Lang;
use azs_netprobe::report::{Report, attach_remediation};
use common::command;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/examples").join(name)
}

fn render(report: &Path, lang: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("page.html");
    let mut cmd = command(dir.path());
    cmd.arg("render").arg(report).arg("--html").arg(&html);
    if let Some(l) = lang {
        cmd.args(["--lang", l]);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(&html).unwrap()
}

#[test]
fn render_lang_fr_shows_the_remediation_in_french_without_probing() {
    let report = example("lab-mixed-failures.json");
    let fr = render(&report, Some("fr"));
    // The French catalogue's text, its placeholders filled from the report's own facts (the
    // host, and the port and address of the endpoint the firewall drops).
    assert!(
        fr.contains(
            "Les serveurs DNS utilisés par ce nœud indiquent que gateway.lab.test n&#39;existe pas (NXDOMAIN)."
        ),
        "no French DnsNameNotFound remediation"
    );
    // The port is the lab's, written into the committed example when it was made.
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let port = v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["host"] == "management.lab.test")
        .and_then(|e| e["port"].as_u64())
        .expect("the example has the management endpoint");
    let step = format!(
        "Un pare-feu abandonne silencieusement le trafic TCP {port} sortant vers management.lab.test (127.0.0.1)"
    );
    assert!(fr.contains(&step), "no French TcpConnectTimeout step with its placeholders filled: {step}");
    assert!(!fr.contains("The DNS servers this node uses say gateway.lab.test does not exist"), "English left over");
    // Chinese too; and without --lang the report's own (English) remediation is shown.
    let zh = render(&report, Some("zh"));
    assert!(!zh.contains("The DNS servers this node uses say gateway.lab.test does not exist"), "English left over");
    assert_ne!(zh, fr);
    let en = render(&report, None);
    assert!(en.contains("The DNS servers this node uses say gateway.lab.test does not exist (NXDOMAIN)."));
}

#[test]
fn render_lang_rejects_an_unknown_language() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .args(["render"])
        .arg(example("lab-mixed-failures.json"))
        .args(["--html", "x.html", "--lang", "de"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(!dir.path().join("x.html").exists());
}

/// The committed examples were written by runs; attaching the remediation again from what the
/// report holds gives every finding exactly the remediation the run gave it.
#[test]
fn attaching_again_in_the_reports_language_reproduces_every_remediation() {
    let mut seen = 0;
    for name in [
        "lab-mixed-failures.json",
        "lab-no-internet-default-set.json",
        "lab-untrusted-chain.json",
        "lab-interrupted-run.json",
        "fleet/xrp-vm2.json",
        "diff/after.json",
    ] {
        let text = std::fs::read_to_string(example(name)).unwrap();
        let committed: Report = serde_json::from_str(&text).unwrap();
        let lang = match committed.config.lang.as_str() {
            "fr" => Lang::Fr,
            "zh" => Lang::Zh,
            _ => Lang::En,
        };
        let mut again = committed.clone();
        for f in &mut again.findings {
            f.remediation = Default::default();
        }
        attach_remediation(&mut again, lang);
        for (a, c) in again.findings.iter().zip(&committed.findings) {
            assert_eq!(a.remediation, c.remediation, "{name}: {} on {:?}", c.code.as_str(), c.endpoint);
            seen += 1;
        }
        assert_eq!(again, committed, "{name}");
    }
    assert!(seen >= 20, "only {seen} findings compared");
}

/// A report from disk whose findings name an endpoint it does not hold (cut down, or from a
/// tool that wrote it differently): the placeholders without a fact are written `<name>`, a
/// visible gap, never the bare name read as a value ("sur le port port").
#[test]
fn render_lang_marks_a_fact_the_report_lacks() {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example("lab-mixed-failures.json")).unwrap()).unwrap();
    v["endpoints"] = serde_json::json!([]);
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.json");
    std::fs::write(&cut, serde_json::to_vec(&v).unwrap()).unwrap();
    let fr = render(&cut, Some("fr"));
    // The host and port are in the finding's evidence; the resolved addresses were only in
    // the endpoint.
    assert!(fr.contains("sortant vers management.lab.test (&lt;addresses&gt;)"), "the gap is marked");
    assert!(!fr.contains("management.lab.test (addresses)"), "a placeholder's name read as its value");
}
