//! What the revocation and issuer fetches cost a run: N loopback endpoints (distinct leaves of one
//! issuing CA) whose certificates share one CRL URL, one OCSP responder and one caIssuers URL,
//! everything behind an added round-trip time; the release binary with and without
//! `--no-revocation`. Prints a markdown table (the figures in BENCHMARKS.md come from it).
//!
//! ```sh
//! cargo build --release && cargo run --release --example bench_revocation -- --n 50 --rtt 100 --runs 5
//! ```
//!
//! Everything binds and connects to 127.0.0.1 only. The delaying relay is the one of
//! examples/bench.rs (each chunk forwarded RTT/2 after it was read, the client's bytes not before
//! accept + RTT), put in front of every TLS endpoint and of the CA's web server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/lab/mod.rs"]
mod lab;
#[path = "common/relay.rs"]
mod relay;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lab::{Reply, TestCa, TlsServer, WebServer, name_urls, ok_response};
use time::OffsetDateTime;
use tokio::net::TcpListener;

struct Relays {
    addrs: Vec<SocketAddr>,
    _rt: tokio::runtime::Runtime,
}

fn relays(upstreams: &[SocketAddr], rtt: Duration) -> Relays {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let rtt_us = Arc::new(AtomicU64::new(u64::try_from(rtt.as_micros()).unwrap()));
    let mut addrs = Vec::new();
    for up in upstreams {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind relay");
        listener.set_nonblocking(true).expect("nonblocking");
        addrs.push(listener.local_addr().expect("addr"));
        let _guard = rt.enter();
        let listener = TcpListener::from_std(listener).expect("listener");
        rt.spawn(relay::accept_loop(listener, *up, rtt_us.clone()));
    }
    Relays { addrs, _rt: rt }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map_or(default, |v| v.parse().expect(name))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let n = arg("--n", 50) as usize;
    let rtt = Duration::from_millis(arg("--rtt", 100));
    let runs = arg("--runs", 5) as usize;
    let bin = std::env::var_os("AZS_NETPROBE_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/azs-netprobe"), PathBuf::from);
    assert!(bin.is_file(), "build the release binary first: {}", bin.display());

    // The CA's web server (CRLs, OCSP, certificates), behind its own relay.
    let cas: Arc<Mutex<Option<(TestCa, TestCa)>>> = Arc::default();
    let handler = {
        let cas = cas.clone();
        Arc::new(move |path: &str| -> Reply {
            let guard = cas.lock().unwrap();
            let (root, issuing) = guard.as_ref().unwrap();
            let now = OffsetDateTime::now_utc();
            let (this, next) = (now - time::Duration::hours(1), now + time::Duration::days(7));
            let ocsp = |ca: &TestCa, rest: &str| {
                use base64::Engine;
                let b64 = percent_encoding::percent_decode_str(rest).decode_utf8_lossy().into_owned();
                let req = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
                Reply::ok("application/ocsp-response", lab::ocsp_answer(&req, ca.signer().1, &[], false, this, next))
            };
            match path {
                "/root.crl" => Reply::ok("application/pkix-crl", lab::crl(root, &[], this, next)),
                "/issuing.crl" => Reply::ok("application/pkix-crl", lab::crl(issuing, &[], this, next)),
                "/root.cer" => Reply::ok("application/pkix-cert", root.cert_der.clone()),
                "/issuing.cer" => Reply::ok("application/pkix-cert", issuing.cert_der.clone()),
                p if p.starts_with("/ocsp-root/") => ocsp(root, &p["/ocsp-root/".len()..]),
                p if p.starts_with("/ocsp/") => ocsp(issuing, &p["/ocsp/".len()..]),
                _ => Reply::Body { status: 404, content_type: "text/plain".into(), body: Vec::new() },
            }
        })
    };
    let web = WebServer::start(handler);
    let web_relay = relays(&[web.addr], rtt);
    let base = format!("http://{}", web_relay.addrs[0]);
    let root = TestCa::new_with("Bench Root", "Bench PKI");
    let issuing = root.intermediate_edited("Bench Issuing CA", |p| {
        name_urls(p, &[format!("{base}/root.crl")], &[format!("{base}/ocsp-root")], &[format!("{base}/root.cer")])
    });
    *cas.lock().unwrap() = Some((root.clone(), issuing.clone()));
    let servers: Vec<TlsServer> = (0..n)
        .map(|_| {
            let leaf = issuing.leaf_edited(&["127.0.0.1"], |p| {
                name_urls(
                    p,
                    &[format!("{base}/issuing.crl")],
                    &[format!("{base}/ocsp")],
                    &[format!("{base}/issuing.cer")],
                )
            });
            TlsServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), &leaf, ok_response())
        })
        .collect();
    let endpoint_relays = relays(&servers.iter().map(|s| s.addr).collect::<Vec<_>>(), rtt);
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for (i, a) in endpoint_relays.addrs.iter().enumerate() {
        text.push_str(&format!(
            "[[endpoint]]\nname = \"ep{i}\"\nrole = \"usage\"\nurl = \"https://{a}/\"\npublic = false\n\n"
        ));
    }
    let probes = dir.path().join("probes.toml");
    std::fs::write(&probes, text).unwrap();
    let roots = root.write_pem(dir.path(), "root.pem");
    let out = dir.path().join("report.json");

    println!("| mode | N | added RTT | runs | median wall | min | max | fetches per run (CRL / OCSP / caIssuers) |");
    println!("|---|---|---|---|---|---|---|---|");
    for no_revocation in [false, true] {
        let mut walls = Vec::new();
        let mut fetches = String::new();
        for run in 0..=runs {
            let before = web.requests().len();
            let mut cmd = std::process::Command::new(&bin);
            cmd.args(["run", "--probes"]).arg(&probes);
            cmd.args(["--public-roots"]).arg(&roots).args(["--system-roots"]).arg(&roots);
            cmd.args(["--no-proxy", "--timeout", "10s", "--out"]).arg(&out);
            if no_revocation {
                cmd.arg("--no-revocation");
            }
            let start = Instant::now();
            let status = cmd.output().expect("run the probe");
            let wall = start.elapsed().as_secs_f64();
            let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
            let want = if no_revocation { "not_checked" } else { "good" };
            for e in report["endpoints"].as_array().unwrap() {
                assert_eq!(e["tls"]["revocation"]["status"], want, "{}", e["name"]);
            }
            assert_eq!(status.status.code(), Some(0), "{}", String::from_utf8_lossy(&status.stdout));
            let requests = web.requests()[before..].to_vec();
            let count = |p: &str| {
                requests.iter().filter(|r| r.split_whitespace().nth(1).is_some_and(|x| x.starts_with(p))).count()
            };
            fetches = format!(
                "{} / {} / {}",
                count("/root.crl") + count("/issuing.crl"),
                count("/ocsp"),
                count("/root.cer") + count("/issuing.cer")
            );
            if run > 0 {
                walls.push(wall);
            }
        }
        let (min, max) = walls.iter().fold((f64::MAX, 0.0f64), |(a, b), w| (a.min(*w), b.max(*w)));
        println!(
            "| {} | {n} | {} ms | {runs} | {:.3} s | {min:.3} s | {max:.3} s | {fetches} |",
            if no_revocation { "--no-revocation" } else { "revocation checks" },
            rtt.as_millis(),
            median(walls)
        );
    }
}
