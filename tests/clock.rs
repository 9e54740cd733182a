#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The clock: SNTP and HTTP Date sources, a robust estimate, the verdict, and the clock named
//! as the root cause of certificate date errors.

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{Run, probe_file, run};
use lab::{DnsAnswer, DnsServer, HttpBehavior, Leaf, SntpMode, SntpServer, TestCa, TlsServer};
use serde_json::json;

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A server whose Date header reads the true time plus `offset` seconds.
fn dated(leaf: &Leaf, offset: i64) -> TlsServer {
    let t = if offset >= 0 {
        SystemTime::now() + Duration::from_secs(offset as u64)
    } else {
        SystemTime::now() - Duration::from_secs((-offset) as u64)
    };
    let date = if offset == 0 { lab::NOW.to_string() } else { httpdate::fmt_http_date(t) };
    TlsServer::start(
        LO,
        leaf,
        HttpBehavior::Respond { status: 200, headers: vec![("Date".into(), date)], body: "ok".into() },
    )
}

/// `n` HTTPS endpoints whose servers' clocks are `reference_offset` seconds off the true time,
/// plus the given NTP servers.
fn lab_run(dir: &Path, n: usize, reference_offset: i64, leaf: Option<Leaf>, ntp: &[String], extra: &[&str]) -> Run {
    let ca = TestCa::new("Lab Root CA");
    let leaf = leaf.unwrap_or_else(|| ca.leaf(&["svc.lab.test"]));
    let servers: Vec<TlsServer> = (0..n).map(|_| dated(&leaf, reference_offset)).collect();
    let dns = DnsServer::start(vec![("svc.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let mut probes = String::new();
    for (i, s) in servers.iter().enumerate() {
        probes.push_str(&format!(
            "[[endpoint]]\nname = \"ep{i}\"\nrole = \"usage\"\nurl = \"https://svc.lab.test:{}/\"\npublic = false\n",
            s.addr.port()
        ));
    }
    let file = probe_file(dir, &probes);
    let pem = ca.write_pem(dir, "ca.pem");
    let mut args: Vec<String> =
        ["--probes", file.to_str().unwrap(), "--dns-server", &dns.addr.to_string(), "--timeout", "2s"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    args.extend([
        "--public-roots".into(),
        pem.display().to_string(),
        "--system-roots".into(),
        pem.display().to_string(),
    ]);
    for s in ntp {
        args.extend(["--ntp-server".to_string(), s.clone()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    run(dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn offset(r: &Run) -> f64 {
    r.report["clock"]["offset_seconds"].as_f64().unwrap()
}

fn clock_findings(r: &Run) -> Vec<String> {
    r.report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["endpoint"].is_null())
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn node_ten_minutes_ahead_is_clock_skew() {
    let dir = tempfile::tempdir().unwrap();
    let ntp = SntpServer::start(SntpMode::Offset(-600.0));
    let r = lab_run(dir.path(), 2, -600, None, &[ntp.arg()], &[]);
    assert!((offset(&r) - 600.0).abs() < 2.0, "{}", r.report["clock"]);
    assert_eq!(r.report["clock"]["verdict"], "error");
    assert_eq!(clock_findings(&r), vec!["ClockSkew"]);
    let f = r.report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "ClockSkew").unwrap();
    assert_eq!(f["severity"], "error");
    assert_eq!(f["usage_error"], "Unauthorized");
    assert!(f["remediation"]["steps"].as_array().unwrap().iter().any(|s| s.as_str().unwrap().contains("w32tm")));
    let ntp_src = &r.report["clock"]["sources"][0];
    assert_eq!(ntp_src["kind"], "ntp");
    assert_eq!(ntp_src["stratum"], 2);
    assert!(ntp_src["uncertainty_seconds"].as_f64().unwrap() < 0.1, "{ntp_src}");
    assert_eq!(r.report["summary"]["usage_errors"], json!(["Unauthorized"]));
    assert_eq!(r.code, 2);
    assert_eq!(ntp.requests(), 1);
}

#[test]
fn node_two_minutes_ahead_is_drift_only() {
    let dir = tempfile::tempdir().unwrap();
    let ntp = SntpServer::start(SntpMode::Offset(-120.0));
    let r = lab_run(dir.path(), 1, -120, None, &[ntp.arg()], &[]);
    assert!((offset(&r) - 120.0).abs() < 2.0, "{}", r.report["clock"]);
    assert_eq!(r.report["clock"]["verdict"], "warning");
    assert_eq!(clock_findings(&r), vec!["ClockDrift"]);
    assert_eq!(r.code, 1);
}

#[test]
fn one_lying_ntp_server_among_agreeing_sources_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let liar = SntpServer::start(SntpMode::Offset(-3600.0));
    let good = SntpServer::start(SntpMode::Offset(0.0));
    let r = lab_run(dir.path(), 3, 0, None, &[liar.arg(), good.arg()], &[]);
    assert!(offset(&r).abs() < 2.0, "{}", r.report["clock"]);
    assert_eq!(r.report["clock"]["verdict"], "ok");
    let sources = r.report["clock"]["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 5, "2 NTP + 3 HTTP Date");
    let liar_src = sources.iter().find(|s| s["server"] == liar.arg()).unwrap();
    assert_eq!(liar_src["outlier"], true);
    assert!(liar_src["error"].as_str().unwrap().contains("disagrees"), "{liar_src}");
    assert_eq!(sources.iter().filter(|s| s["outlier"] == true).count(), 1);
    assert!(clock_findings(&r).is_empty());
    assert_eq!(r.code, 0);
}

#[test]
fn misbehaving_servers_are_recorded_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let kod = SntpServer::start(SntpMode::KissOfDeath);
    let unsync = SntpServer::start(SntpMode::Unsynchronised);
    let junk = SntpServer::start(SntpMode::Garbage);
    let silent = SntpServer::start(SntpMode::Silent);
    let good = SntpServer::start(SntpMode::Offset(0.0));
    let ntp = [kod.arg(), unsync.arg(), junk.arg(), silent.arg(), good.arg(), "no-such-ntp.lab.test".to_string()];
    let r = lab_run(dir.path(), 1, 0, None, &ntp, &[]);
    let src =
        |s: &str| r.report["clock"]["sources"].as_array().unwrap().iter().find(|x| x["server"] == s).unwrap().clone();
    assert!(src(&kod.arg())["error"].as_str().unwrap().contains("kiss-o'-death RATE"));
    assert!(src(&unsync.arg())["error"].as_str().unwrap().contains("not synchronised"));
    assert!(src(&junk.arg())["error"].as_str().unwrap().contains("not from a server"), "{}", src(&junk.arg()));
    assert!(src(&silent.arg())["error"].as_str().unwrap().contains("no answer"));
    assert!(src("no-such-ntp.lab.test")["error"].as_str().unwrap().contains("cannot resolve"));
    assert!(src(&good.arg())["offset_seconds"].as_f64().unwrap().abs() < 1.0);
    assert_eq!(r.report["clock"]["verdict"], "ok");
    assert_eq!(r.code, 0);
}

#[test]
fn no_source_at_all_is_clock_unverified() {
    let dir = tempfile::tempdir().unwrap();
    let silent = SntpServer::start(SntpMode::Silent);
    let target = lab::silent_server();
    let file = probe_file(dir.path(), "");
    let r = run(
        dir.path(),
        &[
            "--probes",
            file.to_str().unwrap(),
            "--endpoint",
            &format!("tcp://127.0.0.1:{}", target.addr.port()),
            "--ntp-server",
            &silent.arg(),
            "--timeout",
            "1s",
        ],
    );
    assert_eq!(r.report["clock"]["verdict"], "unknown");
    assert_eq!(r.report["clock"]["offset_seconds"], json!(null));
    assert_eq!(clock_findings(&r), vec!["ClockUnverified"]);
    assert_eq!(r.code, 1);
}

#[test]
fn a_clock_years_behind_is_clock_skew_not_interception() {
    let dir = tempfile::tempdir().unwrap();
    let two_years = 2 * 365 * 86_400;
    // The world is two years ahead of this node: the service's certificate, issued by a CA no
    // endpoint expects, is valid at the true time but "not yet valid" on the node's clock.
    let ca = TestCa::new("Lab Root CA");
    let now = time::OffsetDateTime::now_utc();
    let leaf = ca.leaf_with(
        &["svc.lab.test"],
        now + time::Duration::seconds(two_years - 86_400),
        now + time::Duration::seconds(two_years + 90 * 86_400),
    );
    let ntp = SntpServer::start(SntpMode::Offset(two_years as f64));
    let r = lab_run(dir.path(), 1, two_years, Some(leaf), &[ntp.arg()], &[]);
    assert!((offset(&r) + two_years as f64).abs() < 2.0, "{}", r.report["clock"]);
    assert_eq!(clock_findings(&r), vec!["ClockSkew"]);
    let e = r.endpoint("ep0");
    assert_eq!(e["tls"]["trust"]["public"], "not_yet_valid");
    assert_eq!(e["tls"]["interception"]["detected"], false);
    assert_eq!(r.codes("ep0"), vec!["TlsCertificateNotYetValid"]);
    let f = r.finding("ep0", "TlsCertificateNotYetValid");
    assert_eq!(f["severity"], "info");
    assert_eq!(f["evidence"]["root_cause"], "ClockSkew");
    assert!(f["message"].as_str().unwrap().contains("follows from ClockSkew"), "{f}");
    assert_eq!(r.report["summary"]["usage_errors"], json!(["Unauthorized"]));
}

/// The probe's own clock shifted for real with libfaketime (Debian's faketime), not simulated.
#[test]
fn libfaketime_shifts_the_probe_clock_for_real() {
    let lib = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    if !common::require("libfaketime", lib.is_some(), common::INSTALL_FAKETIME) {
        return;
    }
    let lib = lib.expect("libfaketime is installed");
    let dir = tempfile::tempdir().unwrap();
    let ntp = SntpServer::start(SntpMode::Offset(0.0));
    let ca = TestCa::new("Lab Root CA");
    let tls = dated(&ca.leaf(&["svc.lab.test"]), 0);
    let dns = DnsServer::start(vec![("svc.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let file = probe_file(
        dir.path(),
        &format!(
            "[[endpoint]]\nname = \"ep\"\nrole = \"usage\"\nurl = \"https://svc.lab.test:{}/\"\npublic = false\n",
            tls.addr.port()
        ),
    );
    let pem = ca.write_pem(dir.path(), "ca.pem");
    let out_path = dir.path().join("faked.json");
    let out = common::command(dir.path())
        .env("LD_PRELOAD", lib)
        .env("FAKETIME", "+15m")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("FAKETIME_DONT_RESET", "1")
        .args(["--probes", file.to_str().unwrap(), "--dns-server", &dns.addr.to_string(), "--ntp-server", &ntp.arg()])
        .args(["--public-roots", pem.to_str().unwrap(), "--system-roots", pem.to_str().unwrap(), "--out"])
        .arg(&out_path)
        .output()
        .unwrap();
    let text =
        std::fs::read_to_string(&out_path).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let off = report["clock"]["offset_seconds"].as_f64().unwrap();
    assert!((off - 900.0).abs() < 5.0, "{}", report["clock"]);
    assert!(report["findings"].as_array().unwrap().iter().any(|f| f["code"] == "ClockSkew"));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn impossible_sntp_replies_are_rejected_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let backwards = SntpServer::start(SntpMode::TransmitBeforeReceive);
    let zero = SntpServer::start(SntpMode::ZeroReceive);
    let held = SntpServer::start(SntpMode::HeldTooLong);
    let good = SntpServer::start(SntpMode::Offset(0.0));
    let ntp = [backwards.arg(), zero.arg(), held.arg(), good.arg()];
    let r = lab_run(dir.path(), 1, 0, None, &ntp, &[]);
    let src =
        |s: &str| r.report["clock"]["sources"].as_array().unwrap().iter().find(|x| x["server"] == s).unwrap().clone();
    for (server, reason) in [
        (&backwards, "transmit before receive"),
        (&zero, "no receive timestamp"),
        (&held, "longer than the whole round trip"),
    ] {
        let s = src(&server.arg());
        assert!(s["error"].as_str().unwrap().contains(reason), "{s}");
        assert_eq!(s["offset_seconds"], json!(null), "{s}");
        assert_eq!(server.requests(), 1);
    }
    assert!(src(&good.arg())["offset_seconds"].as_f64().unwrap().abs() < 1.0);
    assert_eq!(r.report["clock"]["verdict"], "ok");
}

#[test]
fn one_good_source_and_one_600_s_off_is_undecided_not_ok() {
    let dir = tempfile::tempdir().unwrap();
    let good = SntpServer::start(SntpMode::Offset(0.0));
    let off = SntpServer::start(SntpMode::Offset(-600.0));
    let r = lab_run(dir.path(), 0, 0, None, &[good.arg(), off.arg()], &[]);
    let clock = &r.report["clock"];
    assert!((offset(&r) - 300.0).abs() < 1.0, "{clock}");
    assert!((clock["uncertainty_seconds"].as_f64().unwrap() - 300.0).abs() < 1.0, "{clock}");
    assert_eq!(clock["verdict"], "unknown", "300 ± 300 s could be fine or skew: {clock}");
    assert_eq!(clock_findings(&r), vec!["ClockUnverified"]);
    let f = r.report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "ClockUnverified").unwrap();
    let message = f["message"].as_str().unwrap();
    assert!(message.contains("anywhere from 0 to 600 s off, across the 60 s and 300 s bounds"), "{message}");
    assert!(message.contains("too uncertain to decide"), "{message}");
    assert_eq!(r.code, 1);
}

/// Issue 12 item 4: an offset of a whole number of hours (or 30/45 minutes past one) is a
/// time-zone or daylight-saving problem, and the message and remediation say so in every language.
#[test]
fn whole_hour_offsets_blame_the_time_zone_not_drift() {
    let dir = tempfile::tempdir().unwrap();
    for (node_ahead, label, lang, words) in [
        (3603i64, "+1 h", "en", "time-zone or daylight-saving"),
        (-19800, "-5 h 30 min", "fr", "fuseau horaire"),
        (2700, "+45 min", "zh", "时区"),
    ] {
        let ntp = SntpServer::start(SntpMode::Offset(-(node_ahead as f64)));
        let r = lab_run(dir.path(), 1, -node_ahead, None, &[ntp.arg()], &["--lang", lang]);
        assert_eq!(clock_findings(&r), vec!["ClockSkew"], "{node_ahead}");
        let f = r.report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "ClockSkew").unwrap();
        let msg = f["message"].as_str().unwrap();
        assert!(msg.contains(label) && msg.contains("time-zone or daylight-saving"), "{msg}");
        assert!(msg.contains("hardware clock kept in local time"), "{msg}");
        assert_eq!(f["evidence"]["time_zone_pattern"], label);
        let summary = f["remediation"]["summary"].as_str().unwrap();
        assert!(summary.contains(words) && summary.contains(label), "{lang}: {summary}");
        let steps = f["remediation"]["steps"].as_array().unwrap();
        assert!(steps.iter().any(|s| s.as_str().unwrap().contains("RTC")), "{lang}: {steps:?}");
    }
    // Ten minutes is not a zone step: the generic remediation, no time-zone claim.
    let ntp = SntpServer::start(SntpMode::Offset(-600.0));
    let r = lab_run(dir.path(), 1, -600, None, &[ntp.arg()], &[]);
    let f = r.report["findings"].as_array().unwrap().iter().find(|f| f["code"] == "ClockSkew").unwrap();
    assert!(!f["message"].as_str().unwrap().contains("time-zone"), "{f}");
    assert!(f["evidence"].get("time_zone_pattern").is_none(), "{f}");
}
