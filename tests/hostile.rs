#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The real binary against hostile servers: garbage instead of a ServerHello, a dribbling
//! middlebox, oversized and malformed certificates, an HTTP head that never ends, broken DNS
//! answers. Every run must end within its stage timeout + 1 s with a complete report (exit 1
//! or 2, never a panic), a sensible stage status and finding, and bounded memory.

mod common;
mod lab;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Run};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use lab::{
    AfterHandshake, AfterReply, DnsAnswer, DnsServer, HTTP_400_PAGE, HostileTls, TcpFault, TestCa, TlsServer,
    ok_response,
};
use serde_json::{Value, json};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The stage timeout of every run, and the bound on a run's wall time.
const TIMEOUT: &str = "2s";
const BOUND: Duration = Duration::from_millis(2000 + 1000);
/// Peak resident memory a run may reach.
const MAX_RSS_KIB: u64 = 64 * 1024;
/// A run still going after this long has hung: it is killed and the test fails.
const HUNG: Duration = Duration::from_secs(20);

fn endpoint(name: &str, url: &str) -> String {
    format!("[[endpoint]]\nname = \"{name}\"\nrole = \"usage\"\nurl = \"{url}\"\npublic = false\n\n")
}

/// A finished run and its peak RSS (KiB) when it could be measured.
struct Measured {
    run: Run,
    peak_rss_kib: Option<u64>,
}

/// Runs the binary like `common::run` (same environment, `--out <dir>/report.json`, the report
/// checked against the pinned shape), under `/usr/bin/time -f %M` when it exists, otherwise
/// sampling VmHWM from /proc while it runs (Linux; None elsewhere).
fn run_measured(dir: &Path, args: &[&str]) -> Measured {
    let report_path = dir.join("report.json");
    let rss_path = dir.join("rss.txt");
    let (out_path, err_path) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let _ = std::fs::remove_file(&report_path);
    let _ = std::fs::remove_file(&rss_path);
    let gnu_time = Path::new("/usr/bin/time");
    let base = common::command(dir);
    let mut cmd = if gnu_time.exists() {
        let mut c = Command::new(gnu_time);
        c.arg("-f").arg("%M").arg("-o").arg(&rss_path).arg(BIN);
        c
    } else {
        Command::new(BIN)
    };
    for (k, v) in base.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.current_dir(dir).args(args).arg("--out").arg(&report_path);
    // Files, not pipes: a summary larger than a pipe buffer must not block the child.
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("run the binary");
    let status_file = format!("/proc/{}/status", child.id());
    let mut sampled: Option<u64> = None;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the binary") {
            break status;
        }
        if start.elapsed() > HUNG {
            // Kill the binary (GNU time's child, when it runs under time), then our child.
            let children = format!("/proc/{0}/task/{0}/children", child.id());
            for pid in std::fs::read_to_string(children).unwrap_or_default().split_whitespace() {
                let _ = Command::new("kill").arg("-KILL").arg(pid).status();
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("the binary hung: killed after {:?} ({args:?})", start.elapsed());
        }
        if !gnu_time.exists()
            && let Some(hwm) = std::fs::read_to_string(&status_file).ok().as_deref().and_then(vm_hwm_kib)
        {
            sampled = Some(sampled.unwrap_or(0).max(hwm));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let peak_rss_kib = if gnu_time.exists() {
        // GNU time writes "Command exited with non-zero status N" first when N != 0.
        std::fs::read_to_string(&rss_path)
            .ok()
            .and_then(|t| t.lines().rfind(|l| !l.trim().is_empty()).and_then(|l| l.trim().parse().ok()))
    } else {
        sampled
    };
    assert!(!stderr.contains("panicked"), "the binary panicked:\n{stderr}");
    let text = std::fs::read_to_string(&report_path).unwrap_or_else(|e| {
        panic!("no report at {} ({e}); status {status:?}; stdout:\n{stdout}\nstderr:\n{stderr}", report_path.display())
    });
    let report: Value = serde_json::from_str(&text).expect("the report is JSON");
    common::shape::check(&text);
    let code = status.code().unwrap_or(-1);
    assert_eq!(report["summary"]["exit_code"], code, "summary.exit_code is the exit code");
    let run = Run { code, report, stdout, stderr, elapsed, report_path };
    Measured { run, peak_rss_kib }
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The common assertions: bounded wall time and memory, a complete run with warnings or errors.
fn assert_bounded(m: &Measured, case: &str) {
    let r = &m.run;
    eprintln!(
        "{case}: exit {}, {:?}, peak RSS {} KiB; endpoints: {}",
        r.code,
        r.elapsed,
        m.peak_rss_kib.map_or("?".into(), |k| k.to_string()),
        summary(&r.report)
    );
    assert!(r.elapsed < BOUND, "{case}: the run took {:?} (stage timeout {TIMEOUT})", r.elapsed);
    assert!(matches!(r.code, 1 | 2), "{case}: exit {}\n{}\n{}", r.code, r.stdout, r.stderr);
    assert_eq!(r.report["run"]["interrupted"], false, "{case}");
    if let Some(kib) = m.peak_rss_kib {
        assert!(kib < MAX_RSS_KIB, "{case}: peak RSS {kib} KiB");
    }
}

fn summary(report: &Value) -> String {
    let eps = report["endpoints"].as_array().unwrap();
    let mut out = Vec::new();
    for e in eps {
        let name = e["name"].as_str().unwrap();
        let codes: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["endpoint"] == name)
            .map(|f| f["code"].as_str().unwrap())
            .collect();
        out.push(format!(
            "{name} [{}] dns={} tls={}({}ms) http={}({}ms) {codes:?} err={}",
            e["stage"].as_str().unwrap_or("?"),
            e["dns"]["status"],
            e["tls"]["status"],
            e["tls"]["duration_ms"],
            e["http"]["status"],
            e["http"]["duration_ms"],
            [&e["dns"]["error"], &e["tls"]["error"], &e["http"]["error"]]
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    out.join("\n  ")
}

fn trust_args(dir: &Path, ca: &TestCa) -> Vec<String> {
    let pem = ca.write_pem(dir, "ca.pem").display().to_string();
    vec!["--public-roots".into(), pem.clone(), "--system-roots".into(), pem]
}

fn probe_args(dir: &Path, probes: &str, extra: &[String]) -> Vec<String> {
    let file = common::probe_file(dir, probes);
    let mut a =
        vec!["run".to_string(), "--probes".into(), file.display().to_string(), "--timeout".into(), TIMEOUT.into()];
    a.extend(extra.iter().cloned());
    a
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn url(name: &str, port: u16) -> String {
    format!("https://{name}:{port}/")
}

/// Asserts that `name` failed at the TLS stage with `status` and exactly one finding, `code`
/// (severity error, the given portal code); returns the endpoint.
fn assert_tls_failure<'a>(r: &'a Run, name: &str, status: &str, code: &str, usage: &str) -> &'a Value {
    let e = r.endpoint(name);
    assert_eq!(e["tcp"][0]["status"], "ok", "{name}: {e}");
    assert_eq!(e["tls"]["status"], status, "{name}: {e}");
    assert_eq!(e["stage"], format!("tls: {status}"), "{name}");
    assert_eq!(e["verdict"], "error", "{name}");
    assert_eq!(e["http"]["status"], "not_attempted", "{name}");
    assert_eq!(r.codes(name), vec![code], "{name}");
    let f = r.finding(name, code);
    assert_eq!(f["severity"], "error", "{name}");
    assert_eq!(f["usage_error"], usage, "{name}");
    e
}

// 1. Garbage instead of a ServerHello.

#[test]
fn garbage_instead_of_a_server_hello_is_a_failed_handshake() {
    let dir = tempfile::tempdir().unwrap();
    // A web server answering the ClientHello with an HTTP error page, then closing.
    let http400 = lab::garbage_server(HTTP_400_PAGE.to_vec(), AfterReply::Close);
    // 1 KiB of noise, connection held open.
    let noise = lab::garbage_server(lab::noise(1024, 42), AfterReply::Hold);
    // A handshake record whose ServerHello claims 16 MiB.
    let huge = lab::garbage_server(lab::huge_server_hello(), AfterReply::Hold);
    // 5 bytes (less than the 11 the legacy-version probe reads), connection held open.
    let short = lab::garbage_server(b"HTTP/".to_vec(), AfterReply::Hold);
    let probes = endpoint("http400", &url("127.0.0.1", http400.addr.port()))
        + &endpoint("noise", &url("127.0.0.1", noise.addr.port()))
        + &endpoint("huge", &url("127.0.0.1", huge.addr.port()))
        + &endpoint("short", &url("127.0.0.1", short.addr.port()));
    let m = run_measured(dir.path(), &strs(&probe_args(dir.path(), &probes, &[])));
    assert_bounded(&m, "garbage");
    let r = &m.run;
    assert_eq!(r.code, 2);
    for (name, server) in [("http400", &http400), ("noise", &noise), ("huge", &huge), ("short", &short)] {
        let e = assert_tls_failure(r, name, "handshake_failed", "TlsHandshakeFailed", "NetworkError");
        let tls = &e["tls"];
        assert!(tls["duration_ms"].as_u64().unwrap() < 1000, "{name}: rejected at once, not timed out: {tls}");
        assert_eq!(tls["chain"], json!([]), "{name}");
        assert_eq!(tls["legacy_version"], json!(null), "{name}: garbage is no old TLS version either");
        assert!(tls["error"].as_str().unwrap().contains("received corrupt message"), "{name}: {tls}");
        // Garbage is no refusal of TLS 1.2/1.3: no legacy-version probe follows the handshake.
        assert_eq!(server.connections(), 1, "{name}");
    }
    let huge = r.endpoint("huge")["tls"]["error"].as_str().unwrap().to_string();
    assert!(huge.contains("HandshakePayloadTooLarge") && huge.contains("no TLS client accepts"), "{huge}");
    // An HTTP page where a ServerHello belongs is said in words, in the finding too.
    let http400 = r.finding("http400", "TlsHandshakeFailed")["message"].as_str().unwrap().to_string();
    assert!(http400.contains("what came back is not TLS: a plain-HTTP service"), "{http400}");
}

#[test]
fn slow_garbage_keeps_the_run_within_the_stage_timeout() {
    let dir = tempfile::tempdir().unwrap();
    // Garbage 1.5 s after the ClientHello, then silence: the handshake fails at ~1.5 s, the
    // legacy-version probe (a second connection) then waits its own full timeout for 11 bytes.
    let slow = lab::garbage_server_after(Duration::from_millis(1500), b"HTTP/".to_vec(), AfterReply::Hold);
    let probes = endpoint("slow", &url("127.0.0.1", slow.addr.port()));
    let m = run_measured(dir.path(), &strs(&probe_args(dir.path(), &probes, &[])));
    let e = assert_tls_failure(&m.run, "slow", "handshake_failed", "TlsHandshakeFailed", "NetworkError");
    let d = e["tls"]["duration_ms"].as_u64().unwrap();
    assert!((1400..2000).contains(&d), "the failed handshake itself: {d} ms");
    assert_bounded(&m, "slow garbage");
}

// 2. A middlebox that dribbles the handshake, 1 byte per second.

#[test]
fn dribbled_handshake_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let tls = TlsServer::start(LO, &ca.leaf(&["127.0.0.1"]), ok_response());
    let relay = lab::dribble_relay(tls.addr, Duration::from_secs(1));
    let probes = endpoint("dribble", &url("127.0.0.1", relay.addr.port()));
    let m = run_measured(dir.path(), &strs(&probe_args(dir.path(), &probes, &trust_args(dir.path(), &ca))));
    assert_bounded(&m, "dribble");
    let r = &m.run;
    assert_eq!(r.code, 2);
    let e = assert_tls_failure(r, "dribble", "timeout", "TlsHandshakeTimeout", "RequestTimedOut");
    let d = e["tls"]["duration_ms"].as_u64().unwrap();
    assert!((2000..2500).contains(&d), "bounded by the stage timeout: {d} ms");
    assert!(relay.bytes_dribbled() <= 3, "{} bytes got through", relay.bytes_dribbled());
    // Two connections: the handshake, and the small-MSS retry of the path-MTU test (issue 14),
    // which stalls on the relay too; no third one: a timeout is not followed by the
    // legacy-version probe.
    assert_eq!(e["tls"]["mss_retry"]["status"], "timeout", "{e}");
    assert!(e["tls"]["legacy_version"].is_null());
    assert_eq!(relay.connections(), 2, "a timeout is not followed by the legacy-version probe");
    assert_eq!(tls.requests(), Vec::<String>::new());
}

// 3. Oversized chains and certificates.

#[test]
fn oversized_chains_and_certificates_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    // Leaf + 199 intermediates (~93 KB): rustls serves it, the probe's rustls refuses any
    // handshake message over 64 KiB.
    let chain200 = lab::long_chain_leaf(&ca, 199, &["chain.lab.test"]);
    assert_eq!(chain200.chain_der.len(), 200);
    assert!(chain200.chain_der.iter().map(Vec::len).sum::<usize>() > lab::RUSTLS_MAX_HANDSHAKE);
    // One ~64 KiB leaf (about 2,800 SANs) that still fits in one handshake message.
    let big = lab::big_san_leaf(&ca, "big.lab.test", true, lab::RUSTLS_MAX_HANDSHAKE - 1024);
    // The same without the endpoint's name among the SANs.
    let big_mismatch = lab::big_san_leaf(&ca, "big.lab.test", false, lab::RUSTLS_MAX_HANDSHAKE - 1024);
    // A 68 KiB leaf: more than one handshake message can hold. rustls will not load it (webpki
    // reads no DER over 64 KiB: BadEncoding), so it is presented unchecked.
    let over = lab::big_san_leaf(&ca, "big.lab.test", true, lab::RUSTLS_MAX_HANDSHAKE + 4096);
    let s200 = TlsServer::start(LO, &chain200, ok_response());
    let s_big = TlsServer::start(LO, &big, ok_response());
    let s_mismatch = TlsServer::start(LO, &big_mismatch, ok_response());
    let s_over = HostileTls::start(lab::unchecked_config(over.chain_der.clone(), &over), AfterHandshake::Ok);
    let dns = DnsServer::start(vec![
        ("chain.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
        ("big.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
    ]);
    let probes = endpoint("chain200", &url("chain.lab.test", s200.addr.port()))
        + &endpoint("big", &url("big.lab.test", s_big.addr.port()))
        + &endpoint("big-mismatch", &url("big.lab.test", s_mismatch.addr.port()))
        + &endpoint("over", &url("big.lab.test", s_over.addr.port()));
    let mut extra = trust_args(dir.path(), &ca);
    extra.extend(["--dns-server".to_string(), dns.addr.to_string()]);
    let m = run_measured(dir.path(), &strs(&probe_args(dir.path(), &probes, &extra)));
    assert_bounded(&m, "oversized");
    let r = &m.run;
    assert_eq!(r.code, 2);

    for name in ["chain200", "over"] {
        let e = assert_tls_failure(r, name, "handshake_failed", "TlsHandshakeFailed", "NetworkError");
        let error = e["tls"]["error"].as_str().unwrap();
        assert!(error.contains("HandshakePayloadTooLarge") && error.contains("over 64 KiB"), "{name}: {e}");
        assert_eq!(e["tls"]["chain"], json!([]), "{name}: refused before the verifier saw it");
    }
    assert_eq!(s_over.handshakes(), 0);

    let e = r.endpoint("big");
    assert_eq!(e["tls"]["status"], "ok", "{e}");
    assert_eq!(e["tls"]["trust"]["public"], "trusted");
    assert_eq!(e["http"]["status_code"], 200);
    let sans = e["tls"]["chain"][0]["sans"].as_array().unwrap();
    assert!(sans.len() > 2500, "{} SANs", sans.len());
    assert_eq!(sans[0], "big.lab.test");
    assert!(r.codes("big").is_empty(), "{:?}", r.codes("big"));

    let e = r.endpoint("big-mismatch");
    assert_eq!(e["tls"]["trust"]["public"], "name_mismatch");
    assert_eq!(e["http"]["status_code"], 200, "the recording verifier lets the handshake finish");
    assert_eq!(r.codes("big-mismatch"), vec!["TlsNameMismatch"]);
    let f = r.finding("big-mismatch", "TlsNameMismatch");
    assert_eq!(f["usage_error"], "CertificateValidationError");
    // Ten names in the message, every name in the evidence.
    let message = f["message"].as_str().unwrap();
    let mismatch_sans = e["tls"]["chain"][0]["sans"].as_array().unwrap();
    let more = mismatch_sans.len() - 10;
    assert!(message.ends_with(&format!(" and {more} more (all in the evidence)")), "{}", &message[..200]);
    assert!(message.len() < 1024, "a message of {} bytes", message.len());
    assert_eq!(&f["evidence"]["leaf_sans"], &e["tls"]["chain"][0]["sans"]);

    let report_len = std::fs::metadata(&r.report_path).unwrap().len();
    eprintln!("oversized: report {report_len} bytes, summary {} bytes", r.stdout.len());
    assert!(report_len < 4 * 1024 * 1024, "report of {report_len} bytes");
}

#[test]
fn too_deep_chain_is_not_called_an_unknown_root() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let deep = lab::long_chain_leaf(&ca, 7, &["chain.lab.test"]);
    let server = TlsServer::start(LO, &deep, ok_response());
    let dns = DnsServer::start(vec![("chain.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let probes = endpoint("deep", &url("chain.lab.test", server.addr.port()));
    let mut extra = trust_args(dir.path(), &ca);
    extra.extend(["--dns-server".to_string(), dns.addr.to_string()]);
    let m = run_measured(dir.path(), &strs(&probe_args(dir.path(), &probes, &extra)));
    assert_bounded(&m, "deep chain");
    let r = &m.run;
    let e = r.endpoint("deep");
    assert_eq!(e["tls"]["status"], "ok");
    assert_eq!(e["tls"]["chain"].as_array().unwrap().len(), 8);
    assert!(e["tls"]["trust"]["public_detail"].as_str().unwrap().contains("MaximumPathDepthExceeded"), "{e}");
    assert_eq!(r.findings("deep").len(), 1, "{:?}", r.codes("deep"));
    let f = &r.findings("deep")[0];
    assert_eq!(f["usage_error"], "CertificateValidationError");
    let message = f["message"].as_str().unwrap();
    assert!(!message.contains("do not know"), "the root is known to both stores: {message}");
}

// 4. Malformed DER inside an otherwise valid handshake.

#[test]
fn malformed_der_certificate_fails_the_handshake_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let leaf = ca.leaf(&["127.0.0.1"]);
    // The handshake is signed with the leaf's key, but the Certificate message carries noise,
    // or the leaf's DER with its last 16 bytes cut (the outer length still claims them).
    let noise_der = lab::noise(600, 9);
    let cut_der = lab::truncated_der(&leaf.cert_der);
    let noise = HostileTls::start(lab::unchecked_config(vec![noise_der.clone()], &leaf), AfterHandshake::Ok);
    let cut = HostileTls::start(lab::unchecked_config(vec![cut_der.clone()], &leaf), AfterHandshake::Ok);
    let probes =
        endpoint("noise", &url("127.0.0.1", noise.addr.port())) + &endpoint("cut", &url("127.0.0.1", cut.addr.port()));
    let m = run_measured(dir.path(), &strs(&probe_args(dir.path(), &probes, &trust_args(dir.path(), &ca))));
    assert_bounded(&m, "malformed DER");
    let r = &m.run;
    assert_eq!(r.code, 2);
    for (name, der, server) in [("noise", &noise_der, &noise), ("cut", &cut_der, &cut)] {
        let e =
            assert_tls_failure(r, name, "handshake_failed", "TlsMalformedCertificate", "CertificateValidationError");
        let tls = &e["tls"];
        // The recording verifier kept the presented bytes and both verdicts; the handshake
        // signature check then failed on the unparsable certificate.
        assert!(tls["error"].as_str().unwrap().contains("BadEncoding"), "{name}: {tls}");
        let chain = tls["chain"].as_array().unwrap();
        assert_eq!(chain.len(), 1, "{name}");
        assert!(chain[0]["parse_error"].is_string(), "{name}: {}", chain[0]);
        assert_eq!(chain[0]["sha256"], hex_sha256(der), "{name}");
        assert_eq!(tls["trust"]["public"], "bad_encoding", "{name}");
        assert_eq!(tls["trust"]["system"], "bad_encoding", "{name}");
        assert_eq!(tls["legacy_version"], json!(null), "{name}");
        assert_eq!(server.handshakes(), 0, "{name}: the client aborted the handshake");
    }
}

#[test]
fn malformed_der_certificate_is_a_certificate_problem() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let leaf = ca.leaf(&["127.0.0.1"]);
    let server =
        HostileTls::start(lab::unchecked_config(vec![lab::truncated_der(&leaf.cert_der)], &leaf), AfterHandshake::Ok);
    let probes = endpoint("cut", &url("127.0.0.1", server.addr.port()));
    let m = run_measured(dir.path(), &strs(&probe_args(dir.path(), &probes, &trust_args(dir.path(), &ca))));
    assert_bounded(&m, "malformed DER");
    let usage: Vec<&Value> = m.run.findings("cut").iter().map(|f| &f["usage_error"]).collect();
    assert!(usage.contains(&&json!("CertificateValidationError")), "{usage:?}");
}

fn hex_sha256(der: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(der))
}

// 5. A response head that never ends, streamed as fast as the probe reads.

#[test]
fn flooded_response_head_hits_the_cap_not_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Lab Root CA");
    let leaf = ca.leaf(&["127.0.0.1"]);
    // 1 KiB header lines: the 64 KiB cap comes before the header-count limit.
    let long = HostileTls::start(lab::leaf_config(&leaf), AfterHandshake::FloodHead { line_len: 1024 });
    // One header line that never ends.
    let endless = HostileTls::start(lab::leaf_config(&leaf), AfterHandshake::FloodHead { line_len: usize::MAX });
    // Short lines: the header-count limit comes first.
    let many = HostileTls::start(lab::leaf_config(&leaf), AfterHandshake::FloodHead { line_len: 16 });
    let probes = endpoint("long", &url("127.0.0.1", long.addr.port()))
        + &endpoint("endless", &url("127.0.0.1", endless.addr.port()))
        + &endpoint("many", &url("127.0.0.1", many.addr.port()));
    let m = run_measured(dir.path(), &strs(&probe_args(dir.path(), &probes, &trust_args(dir.path(), &ca))));
    assert_bounded(&m, "head flood");
    let r = &m.run;
    assert_eq!(r.code, 2);
    // What each server must have sent for the probe to stop where it did: the 64 KiB the probe
    // read, or the 100 header lines (`X-Flood-N: ` + 16 bytes + CRLF) past the header-count limit.
    // Anything the server wrote beyond that sat in socket buffers when the probe hung up, and how
    // much that is depends on scheduling, so it is no lower bound.
    let hundred_short_lines = 100 * ("X-Flood-0: ".len() + 16 + 2);
    for (name, server, error, floor) in [
        ("long", &long, "bytes without ending the response head", 64 * 1024),
        ("endless", &endless, "bytes without ending the response head", 64 * 1024),
        ("many", &many, "too many headers", hundred_short_lines),
    ] {
        let e = r.endpoint(name);
        assert_eq!(e["tls"]["status"], "ok", "{name}");
        assert_eq!(e["http"]["status"], "error", "{name}: {e}");
        assert_eq!(e["stage"], "http: error", "{name}");
        let message = e["http"]["error"].as_str().unwrap();
        assert!(message.contains(error), "{name}: {message}");
        if let Some(read) =
            message.split(" sent ").nth(1).and_then(|t| t.strip_suffix(" bytes without ending the response head"))
        {
            // The cap is checked after each read of at most 4 KiB.
            let read: usize = read.parse().unwrap();
            assert!((64 * 1024..68 * 1024).contains(&read), "{name}: read {read} bytes");
        }
        assert!(e["http"]["duration_ms"].as_u64().unwrap() < 1000, "{name}: the cap, not the timeout");
        assert_eq!(r.codes(name), vec!["HttpProtocolError"], "{name}");
        assert_eq!(r.finding(name, "HttpProtocolError")["usage_error"], "NetworkError", "{name}");
        assert!(server.bytes_sent() >= floor as u64, "{name}: the server flooded only {} bytes", server.bytes_sent());
    }
}

// 6. Broken DNS answers.

/// One run per case: each gets its own resolver, so one case's failure cannot colour another's
/// error text (see `a_broken_answer_does_not_fail_a_concurrent_healthy_lookup`).
#[test]
fn broken_dns_answers_are_server_failures() {
    let cases: [(&str, DnsAnswer, &str, &str, &str); 6] = [
        // TC over UDP, then over TCP: the connection closed, the answer cut short, TC again.
        ("tc-close", DnsAnswer::Truncated(TcpFault::Close), "error", "DnsServerFailure", "truncated"),
        ("tc-cut", DnsAnswer::Truncated(TcpFault::Cut), "error", "DnsServerFailure", "truncated"),
        ("tc-again", DnsAnswer::Truncated(TcpFault::TruncatedAgain), "error", "DnsServerFailure", "truncated"),
        // The query's id, then bytes that are no DNS message.
        ("garbage", DnsAnswer::Garbage, "error", "DnsServerFailure", "decoding error"),
        // An A record whose RDLENGTH claims 65535 bytes.
        ("rdlen", DnsAnswer::LyingRdLength, "error", "DnsServerFailure", "rdata length"),
        // loop-a CNAME loop-b, loop-b CNAME loop-a in one answer: no address.
        ("loop-a", DnsAnswer::CnameLoop("loop-b.lab.test".into()), "no_addresses", "DnsNoAddresses", "no records"),
    ];
    for (name, answer, status, code, error) in cases {
        let dir = tempfile::tempdir().unwrap();
        let host = format!("{name}.lab.test");
        let dns = DnsServer::start(vec![(host.as_str(), answer)]);
        let probes = endpoint(name, &format!("https://{host}/"));
        let extra = vec!["--dns-server".to_string(), dns.addr.to_string()];
        let m = run_measured(dir.path(), &strs(&probe_args(dir.path(), &probes, &extra)));
        assert_bounded(&m, name);
        let r = &m.run;
        assert_eq!(r.code, 2, "{name}");
        let e = r.endpoint(name);
        assert_eq!(e["dns"]["status"], status, "{name}: {}", e["dns"]);
        assert_eq!(e["stage"], format!("dns: {status}"), "{name}");
        assert!(e["dns"]["error"].as_str().unwrap().contains(error), "{name}: {}", e["dns"]);
        assert!(e["dns"]["duration_ms"].as_u64().unwrap() < 1000, "{name}: an answer, not a timeout");
        assert_eq!(e["tcp"], json!([]), "{name}");
        assert_eq!(r.codes(name), vec![code], "{name}");
        assert_eq!(r.finding(name, code)["usage_error"], "NetworkError", "{name}");
        assert!(dns.queries() >= 2, "{name}: A and AAAA at least");
        if name == "loop-a" {
            // The loop is shown, not an empty chain.
            assert_eq!(e["dns"]["cnames"], json!(["loop-b.lab.test", "loop-a.lab.test"]));
            let message = r.finding(name, code)["message"].as_str().unwrap().to_string();
            assert!(
                message.contains("is a CNAME loop (loop-a.lab.test → loop-b.lab.test → loop-a.lab.test)"),
                "{message}"
            );
        }
    }
}

#[test]
fn a_broken_answer_does_not_fail_a_concurrent_healthy_lookup() {
    let dir = tempfile::tempdir().unwrap();
    let late_ok = || DnsAnswer::Delayed(Duration::from_millis(300), Box::new(DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])));
    let dns = DnsServer::start(vec![
        ("tc-close.lab.test", DnsAnswer::Truncated(TcpFault::Close)),
        ("tc-cut.lab.test", DnsAnswer::Truncated(TcpFault::Cut)),
        ("garbage.lab.test", DnsAnswer::Garbage),
        ("rdlen.lab.test", DnsAnswer::LyingRdLength),
        ("ok.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
        // Answered while the broken answers arrive.
        ("late-ok.lab.test", late_ok()),
    ]);
    let names = ["ok", "tc-close", "tc-cut", "late-ok", "garbage", "rdlen"];
    let mut probes = String::new();
    for name in names {
        probes.push_str(&endpoint(name, &format!("tcp://{name}.lab.test:1")));
    }
    let extra = vec!["--dns-server".to_string(), dns.addr.to_string()];
    let m = run_measured(dir.path(), &strs(&probe_args(dir.path(), &probes, &extra)));
    assert_bounded(&m, "concurrent DNS");
    let r = &m.run;
    for name in ["ok", "late-ok"] {
        let e = r.endpoint(name);
        assert_eq!(e["dns"]["status"], "ok", "{name}: {}", e["dns"]);
        assert_eq!(e["dns"]["addresses"], json!(["127.0.0.1"]), "{name}");
    }
    for name in ["tc-close", "tc-cut", "garbage", "rdlen"] {
        assert_eq!(r.endpoint(name)["dns"]["status"], "error", "{name}");
        assert_eq!(r.codes(name), vec!["DnsServerFailure"], "{name}");
    }
}

// The hostile servers themselves, checked on the wire (so that the cases above test what they
// claim to).

fn dns_query(name: &str, rtype: RecordType) -> (u16, Vec<u8>) {
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    (msg.metadata.id, msg.to_vec().unwrap())
}

fn udp_exchange(server: &DnsServer, query: &[u8]) -> (Vec<u8>, Duration) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let start = Instant::now();
    s.send_to(query, server.addr).unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.recv(&mut buf).unwrap();
    buf.truncate(n);
    (buf, start.elapsed())
}

/// Sends one framed query over TCP; returns the length prefix of the reply (None if the server
/// closed the connection first) and the bytes that followed it, up to that length or EOF.
fn tcp_exchange(server: &DnsServer, query: &[u8]) -> (Option<usize>, Vec<u8>) {
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut framed = u16::try_from(query.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    if s.read_exact(&mut len).is_err() {
        return (None, Vec::new());
    }
    let len = usize::from(u16::from_be_bytes(len));
    let mut body = Vec::new();
    s.take(len as u64).read_to_end(&mut body).unwrap();
    (Some(len), body)
}

#[test]
fn lab_hostile_dns_answers_on_the_wire() {
    let late = Duration::from_millis(200);
    let dns = DnsServer::start(vec![
        ("tc-close.lab.test", DnsAnswer::Truncated(TcpFault::Close)),
        ("tc-cut.lab.test", DnsAnswer::Truncated(TcpFault::Cut)),
        ("tc-again.lab.test", DnsAnswer::Truncated(TcpFault::TruncatedAgain)),
        ("garbage.lab.test", DnsAnswer::Garbage),
        ("rdlen.lab.test", DnsAnswer::LyingRdLength),
        ("loop-a.lab.test", DnsAnswer::CnameLoop("loop-b.lab.test".into())),
        ("late.lab.test", DnsAnswer::Delayed(late, Box::new(DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])))),
    ]);
    // Truncated: TC over UDP, then the TCP fault.
    for name in ["tc-close.lab.test.", "tc-cut.lab.test.", "tc-again.lab.test."] {
        let (id, q) = dns_query(name, RecordType::A);
        let m = Message::from_vec(&udp_exchange(&dns, &q).0).unwrap();
        assert_eq!(m.metadata.id, id);
        assert!(m.metadata.truncation, "{name}");
        assert!(m.answers.is_empty(), "{name}");
    }
    let (_, q) = dns_query("tc-close.lab.test.", RecordType::A);
    assert_eq!(tcp_exchange(&dns, &q), (None, Vec::new()), "closed without a reply");
    let (_, q) = dns_query("tc-cut.lab.test.", RecordType::A);
    let (len, body) = tcp_exchange(&dns, &q);
    assert_eq!(body.len(), len.unwrap() / 2, "half the message, then EOF");
    let (_, q) = dns_query("tc-again.lab.test.", RecordType::A);
    let (len, body) = tcp_exchange(&dns, &q);
    assert_eq!(len, Some(body.len()));
    assert!(Message::from_vec(&body).unwrap().metadata.truncation);
    // Garbage and a lying RDLENGTH: the right id, but no decoder reads them.
    for name in ["garbage.lab.test.", "rdlen.lab.test."] {
        let (id, q) = dns_query(name, RecordType::A);
        let (reply, _) = udp_exchange(&dns, &q);
        assert_eq!(u16::from_be_bytes([reply[0], reply[1]]), id, "{name}");
        assert!(reply[2] & 0x80 != 0, "{name}: a response");
        assert!(Message::from_vec(&reply).is_err(), "{name}");
        let (len, body) = tcp_exchange(&dns, &q);
        assert_eq!(len, Some(body.len()), "{name}: a complete frame over TCP");
        assert!(Message::from_vec(&body).is_err(), "{name}");
    }
    // The CNAME loop, both records in one answer.
    let (_, q) = dns_query("loop-a.lab.test.", RecordType::A);
    let m = Message::from_vec(&udp_exchange(&dns, &q).0).unwrap();
    let records: Vec<(String, String)> = m.answers.iter().map(|r| (r.name.to_ascii(), r.data.to_string())).collect();
    assert_eq!(
        records,
        vec![
            ("loop-a.lab.test.".to_string(), "loop-b.lab.test.".to_string()),
            ("loop-b.lab.test.".to_string(), "loop-a.lab.test.".to_string())
        ]
    );
    // Delayed: the answer, late.
    let (_, q) = dns_query("late.lab.test.", RecordType::A);
    let (reply, took) = udp_exchange(&dns, &q);
    assert!(took >= late, "{took:?}");
    assert_eq!(Message::from_vec(&reply).unwrap().answers.len(), 1);
}

#[test]
fn lab_hostile_tcp_servers_on_the_wire() {
    // The garbage server reads a whole ClientHello record, answers with its reply, closes.
    let server = lab::garbage_server(HTTP_400_PAGE.to_vec(), AfterReply::Close);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0x04];
    hello.extend_from_slice(&[0x01, 0x00, 0x00, 0x00]);
    s.write_all(&hello).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, HTTP_400_PAGE);
    assert_eq!(server.connections(), 1);
    assert!(!(20..=24).contains(&lab::noise(16, 1)[0]), "noise is never a TLS record");
    assert_eq!(&lab::huge_server_hello()[..9], &[0x16, 3, 3, 0x40, 0, 2, 0xff, 0xff, 0xff]);

    // The dribble relay forwards the server's bytes one per interval.
    let upstream = lab::garbage_server(b"abcdef".to_vec(), AfterReply::Close);
    let relay = lab::dribble_relay(upstream.addr, Duration::from_millis(50));
    let mut s = TcpStream::connect(relay.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(&hello).unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while got.len() < 6 {
        let n = s.read(&mut byte).unwrap();
        assert_eq!(n, 1, "one byte at a time");
        got.push(byte[0]);
    }
    assert_eq!(got, b"abcdef");
    assert!(start.elapsed() >= Duration::from_millis(250), "{:?}", start.elapsed());
    let deadline = Instant::now() + Duration::from_secs(2);
    while relay.bytes_dribbled() < 6 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(relay.bytes_dribbled(), 6);
}

#[test]
fn lab_big_certificates_have_the_sizes_they_claim() {
    let ca = TestCa::new("Lab Root CA");
    let leaf = lab::big_san_leaf(&ca, "big.lab.test", true, 60_000);
    assert!((60_000 - 32..=60_000).contains(&leaf.cert_der.len()), "{}", leaf.cert_der.len());
    let chain = lab::long_chain_leaf(&ca, 3, &["chain.lab.test"]);
    assert_eq!(chain.chain_der.len(), 4, "leaf + 3 intermediates, no root");
    assert!(!chain.chain_der.contains(&ca.cert_der));
    let cut = lab::truncated_der(&leaf.cert_der);
    assert_eq!(cut.len(), leaf.cert_der.len() - 16);
    assert_eq!(cut[..4], leaf.cert_der[..4], "the outer length still claims the cut bytes");
}
