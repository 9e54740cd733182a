#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The command line as a contract: exit codes, errors that name file/line/column, schema,
//! probe listing, where the report goes.

mod common;

use common::{BIN, command};

#[test]
fn invalid_arguments_exit_3_with_clap_message() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--timeout", "soon"],
        vec!["--cloud", "Mars"],
        vec!["--dns-server", "not-an-ip"],
        vec!["--endpoint", "ftp://x.example"],
        vec!["--endpoint", "tcp://x.example"],
        vec!["--proxy", "http://p:1", "--no-proxy"],
        vec!["frobnicate"],
    ] {
        let out = command(dir.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("error:"), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    let help = command(dir.path()).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    for name in [
        "--cloud",
        "--probes",
        "--endpoint",
        "--dns-server",
        "--proxy",
        "--no-proxy",
        "--ntp-server",
        "--public-roots",
        "--system-roots",
        "--timeout",
        "--out",
        "--lang",
    ] {
        assert!(String::from_utf8_lossy(&help.stdout).contains(name), "{name} in --help");
    }
}

#[test]
fn invalid_probe_file_exits_3_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[[endpoint]]\nname = \"a\"\nrole = \"login\"\nurl = \"https://a.example/\"\nreachable = [200, 9999]\n",
    )
    .unwrap();
    let out = command(dir.path()).args(["run", "--probes", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:5:13: `9999` is not an HTTP status", file.display())), "{err}");
    assert!(std::fs::read_dir(dir.path()).unwrap().count() == 1, "no report written");

    let missing = command(dir.path()).args(["--probes", "/nonexistent/p.toml"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read probe file /nonexistent/p.toml"));

    let bad_roots = command(dir.path())
        .args(["--probes", file.to_str().unwrap(), "--public-roots", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad_roots.status.code(), Some(3));
}

#[test]
fn schema_subcommand_matches_the_committed_schema() {
    let out = std::process::Command::new(BIN).arg("schema").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/reports/schema/report.v1.schema.json"))
            .unwrap_or_default();
    assert!(
        committed == String::from_utf8_lossy(&out.stdout),
        "reports/schema/report.v1.schema.json is stale: run `cargo run -- schema > reports/schema/report.v1.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in ["schema_version", "tool", "run", "node", "config", "clock", "endpoints", "findings", "summary"] {
        assert!(schema["required"].as_array().unwrap().iter().any(|f| f == field), "{field}");
    }
}

#[test]
fn probes_lists_every_builtin_set() {
    let out = std::process::Command::new(BIN).arg("probes").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "AzureCloud",
        "AzureUSGovernment",
        "AzureChinaCloud",
        "login.microsoftonline.com",
        "management.azure.com/metadata/endpoints?api-version=2015-01-01",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "stands for *.trafficmanager.net",
    ] {
        assert!(text.contains(needle), "{needle} in:\n{text}");
    }
}

#[test]
fn report_goes_to_the_default_name_or_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let out = command(dir.path()).args(["--probes", empty.to_str().unwrap()]).output().unwrap();
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with("azs-netprobe-") && files[0].ends_with("Z.json"), "{}", files[0]);
    let text = std::fs::read_to_string(dir.path().join(&files[0])).unwrap();
    let report = common::shape::check(&text);
    assert_eq!(Some(i32::from(report.summary.exit_code)), out.status.code());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&files[0]), "the summary says where the report is");

    let out = command(dir.path()).args(["run", "--probes", empty.to_str().unwrap(), "--out", "-"]).output().unwrap();
    let report = common::shape::check(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(Some(i32::from(report.summary.exit_code)), out.status.code());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Report: standard output"));
}

/// Issue 12 item 2: a repeated single-value option takes its last value (scripts append overrides
/// to defaults); list options keep every value.
#[test]
fn repeated_single_value_options_take_the_last_value_and_lists_append() {
    let dir = tempfile::tempdir().unwrap();
    // Two loopback ports with nothing listening: refused at once, never off the machine.
    let closed = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (a, b) = (closed(), closed());
    let probes = common::probe_file(dir.path(), "");
    let first = dir.path().join("first.json");
    let last = dir.path().join("last.json");
    let out = command(dir.path())
        .args(["run", "--probes", probes.to_str().unwrap()])
        .args(["--endpoint", &format!("tcp://127.0.0.1:{a}"), "--endpoint", &format!("tcp://127.0.0.1:{b}")])
        .args(["--timeout", "3s", "--timeout", "2s", "--lang", "fr", "--lang", "en", "--concurrency", "1"])
        .args(["--concurrency", "2", "--ntp-server", "127.0.0.1:1", "--ntp-server", "127.0.0.1:2"])
        .args(["--out", first.to_str().unwrap(), "--out", last.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(3), "a repeated option is not a usage error: {err}");
    assert!(!first.exists(), "the first --out was overridden by the last");
    let text = std::fs::read_to_string(&last).unwrap();
    common::shape::check(&text);
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let endpoints = report["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 2, "both --endpoint values kept: {endpoints:?}");
    let servers: Vec<&str> =
        report["clock"]["sources"].as_array().unwrap().iter().filter_map(|s| s["server"].as_str()).collect();
    assert!(
        servers.iter().any(|s| s.contains("127.0.0.1:1")) && servers.iter().any(|s| s.contains("127.0.0.1:2")),
        "{servers:?}"
    );
    // The last --lang (en) wrote the remediation text.
    let refused = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "TcpConnectionRefused")
        .unwrap_or_else(|| panic!("{}", report["findings"]));
    let summary = refused["remediation"]["summary"].as_str().unwrap();
    let explain = |lang: &str| {
        let out = command(dir.path()).args(["explain", "TcpConnectionRefused", "--lang", lang]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let template = text.lines().find(|l| l.contains("<host>")).unwrap().to_string();
        template.split("<host>").next().unwrap().to_string()
    };
    let (en, fr) = (explain("en"), explain("fr"));
    assert_ne!(en, fr);
    assert!(summary.starts_with(&en), "English remediation from the last --lang: {summary} / {en}");
}
