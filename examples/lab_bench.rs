//! Wall time of the real binary against N loopback endpoints from the test lab.
//!
//!     cargo build --release && cargo run --release --example lab_bench -- [N] [healthy|blackhole] [RUNS]
//!
//! healthy: N names in the lab DNS, all served by lab TLS servers (HTTP 200);
//! blackhole: N endpoints whose TCP connect is never answered (--timeout 2s).
//! Prints the min / median / max wall time of RUNS runs (default 5).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/lab/mod.rs"]
mod lab;

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(50, |s| s.parse().expect("N"));
    let mode = args.get(1).map_or("healthy", String::as_str);
    let runs: usize = args.get(2).map_or(5, |s| s.parse().expect("RUNS"));
    let bin = std::env::var("AZS_NETPROBE_BIN").unwrap_or_else(|_| "target/release/azs-netprobe".into());
    let dir = tempfile::tempdir().unwrap();

    let ca = lab::TestCa::new("Bench Root CA");
    let leaf = ca.leaf(&["*.bench.test"]);
    let pem = ca.write_pem(dir.path(), "ca.pem");
    let mut keep_tls = Vec::new();
    let mut keep_holes = Vec::new();
    let mut zone = Vec::new();
    let mut probes = String::new();
    let names: Vec<String> = (0..n).map(|i| format!("ep{i}.bench.test")).collect();
    for (i, name) in names.iter().enumerate() {
        let port = match mode {
            "blackhole" => {
                let h = lab::blackhole();
                let p = h.addr.port();
                keep_holes.push(h);
                p
            }
            _ => {
                // One server per 10 endpoints, like several names behind one front door.
                if i % 10 == 0 {
                    keep_tls.push(lab::TlsServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), &leaf, lab::ok_response()));
                }
                keep_tls.last().unwrap().addr.port()
            }
        };
        zone.push((name.as_str(), lab::DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])));
        probes.push_str(&format!(
            "[[endpoint]]\nname = \"ep{i}\"\nrole = \"usage\"\nurl = \"https://{name}:{port}/\"\npublic = false\n\n"
        ));
    }
    let dns = lab::DnsServer::start(zone);
    let file = dir.path().join("probes.toml");
    std::fs::write(&file, probes).unwrap();
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new(&bin)
            .args(["run", "--probes", file.to_str().unwrap(), "--dns-server", &dns.addr.to_string()])
            .args(["--public-roots", pem.to_str().unwrap(), "--system-roots", pem.to_str().unwrap()])
            .args(["--timeout", "2s", "--out", dir.path().join("r.json").to_str().unwrap()])
            .output()
            .expect("run azs-netprobe (cargo build --release first)");
        times.push(start.elapsed());
        let code = out.status.code();
        let expected = if mode == "blackhole" { Some(2) } else { Some(0) };
        assert_eq!(code, expected, "{}", String::from_utf8_lossy(&out.stdout));
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{mode} N={n}: runs={runs} min={:.0} ms median={:.0} ms max={:.0} ms",
        ms(times[0]),
        ms(times[runs / 2]),
        ms(times[runs - 1])
    );
}
