//! End-to-end benchmark of the release binary against N loopback endpoints behind an added round-trip
//! time, compared with the 3-RTT floor, `curl` run sequentially and `curl --parallel`. Prints markdown
//! tables (the figures in BENCHMARKS.md come from this program).
//!
//! ```sh
//! cargo build --release && cargo run --release --example bench
//! cargo run --release --example bench -- --n 10,50,200 --rtt 100,20 --runs 5 --seq-runs 3
//! cargo run --release --example bench -- --n 50 --rtt 100 --runs 3 --seq-runs 0      # quick
//! ```
//!
//! Options: `--n LIST` endpoint counts (default 10,50,200); `--rtt LIST` added round-trip times in ms
//! (default 100,20); `--runs R` measured runs of the probe, the reference client and `curl --parallel`
//! per configuration (default 5, after one unrecorded warm-up); `--seq-runs S` runs of sequential curl
//! (default 3; 0 skips it: it costs N x 3 RTT per run); `--startup-runs K` runs of the start-up
//! measurement (default 10); `--servers K` lab TLS servers behind the relays (default 4); `--bin PATH`
//! the probe (default target/release/azs-netprobe, or $AZS_NETPROBE_BIN); `--no-curl`; `--keep DIR` keeps
//! every report of the probe there (`rtt<ms>-n<N>[-c<concurrency>]-<run>.json`).
//! The default set takes about 6 minutes on 2 cores.
//!
//! Everything binds and connects to 127.0.0.1 only:
//!
//! * the lab (tests/lab): one CA, `--servers` TLS servers answering `200 ok` with a `Date` header (one
//!   HTTP/1.1 request per connection), and the lab DNS server giving each endpoint its own name,
//!   `ep<i>.bench.test` → 127.0.0.1 (A only; the probe's AAAA query gets NOERROR with no data);
//! * a delaying TCP relay per endpoint (its own port, forwarding to a lab TLS server): every chunk read
//!   in either direction is written to the other side RTT/2 later, in order, while reading goes on, so
//!   the relay adds latency and never throttles. A user-space relay cannot delay the kernel's TCP
//!   handshake (the client's `connect` returns at once on loopback), so the relay adds the connect's
//!   round trip where it would otherwise be felt: bytes from the client are not delivered before
//!   accept + RTT (+ RTT/2). A client that sends its ClientHello right after `connect` (both the probe
//!   and curl do) then sees exactly what it would on a real path: the ClientHello reaches the server at
//!   1.5 RTT, the server's flight is back at 2 RTT, the HTTP request (sent with the client's Finished)
//!   arrives at 2.5 RTT and the response head at 3 RTT. Stage timings shift accordingly: connect ≈ 0,
//!   TLS ≈ 2 RTT, HTTP ≈ 1 RTT;
//! * the floor is 3 × RTT (TCP connect + TLS 1.3 handshake + one HTTP request, DNS being local);
//! * the reference client is this program's own tokio + rustls client (TLS 1.3, HTTP/1.1) doing
//!   connect → handshake → GET on all N endpoints at once, in process: no process start, no DNS, no
//!   report. It is the best this lab + relay can do, i.e. the practical floor on this machine;
//! * the probe: `azs-netprobe run --probes FILE --dns-server LAB --public-roots CA --system-roots CA
//!   --no-proxy --timeout 10s --out FILE` (exit 0 and every endpoint `ok` are checked). When N is
//!   above the default concurrency limit (64) it is also run with `--concurrency N`;
//! * curl: one process over the N URLs, `-K` config with `--http1.1 --tlsv1.3 --cacert CA --noproxy *
//!   --resolve ep<i>.bench.test:PORT:127.0.0.1` per endpoint, `-o /dev/null -s -w` per-transfer timings,
//!   and `--parallel --parallel-immediate --parallel-max N` for the parallel runs (every transfer must
//!   answer 200);
//! * wall time is measured here around the child process; peak RSS comes from
//!   `/usr/bin/time -f '%e %M %U %S'` (Debian package `time`), CPU time (user + sys) from the difference
//!   of `getrusage(RUSAGE_CHILDREN)` around the child (microseconds; GNU time prints 10 ms steps);
//! * start-up: the probe with an empty probe file (no endpoint, no NTP server: no traffic at all), with
//!   `--out /dev/null` and `--out FILE`, with the bench's PEM trust stores and with the built-in ones
//!   (webpki-roots + the OS store), next to `/usr/bin/time true` and `azs-netprobe --version`;
//! * where the time goes: the stage durations of the probe's own reports, the UDP datagrams the system
//!   dropped for a full receive buffer during the runs (`RcvbufErrors`, /proc/net/snmp), and an
//!   in-process burst of N × (A + AAAA) lookups with hickory-resolver set up as the probe sets it up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/lab/mod.rs"]
mod lab;
#[path = "common/relay.rs"]
mod relay;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TIME: &str = "/usr/bin/time";
/// The probe's default bound on endpoints probed at once (src/config.rs).
const DEFAULT_CONCURRENCY: usize = 64;

struct Args {
    n: Vec<usize>,
    rtt_ms: Vec<u64>,
    runs: usize,
    seq_runs: usize,
    startup_runs: usize,
    servers: usize,
    bin: PathBuf,
    curl: bool,
    keep: Option<PathBuf>,
}

fn parse_list<T: std::str::FromStr>(s: &str, what: &str) -> Vec<T> {
    s.split(',').map(|x| x.trim().parse().unwrap_or_else(|_| panic!("{what}: `{x}` is not a number"))).collect()
}

fn parse_args() -> Args {
    let mut a = Args {
        n: vec![10, 50, 200],
        rtt_ms: vec![100, 20],
        runs: 5,
        seq_runs: 3,
        startup_runs: 10,
        servers: 4,
        bin: std::env::var_os("AZS_NETPROBE_BIN").map_or_else(|| "target/release/azs-netprobe".into(), PathBuf::from),
        curl: true,
        keep: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--n" => a.n = parse_list(&value(), "--n"),
            "--rtt" => a.rtt_ms = parse_list(&value(), "--rtt"),
            "--runs" => a.runs = parse_list(&value(), "--runs")[0],
            "--seq-runs" => a.seq_runs = parse_list(&value(), "--seq-runs")[0],
            "--startup-runs" => a.startup_runs = parse_list(&value(), "--startup-runs")[0],
            "--servers" => a.servers = parse_list(&value(), "--servers")[0],
            "--bin" => a.bin = PathBuf::from(value()),
            "--no-curl" => a.curl = false,
            "--keep" => a.keep = Some(PathBuf::from(value())),
            "-h" | "--help" => {
                println!(
                    "usage: bench [--n 10,50,200] [--rtt 100,20] [--runs 5] [--seq-runs 3] [--startup-runs 10] \
                     [--servers 4] [--bin PATH] [--no-curl] [--keep DIR]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown option {other} (see --help)"),
        }
    }
    assert!(a.runs > 0 && a.servers > 0 && !a.n.is_empty() && !a.rtt_ms.is_empty(), "bad arguments");
    a
}

// ---------------------------------------------------------------------------------------------
// The delaying relay.

/// One listener per endpoint, all served by one runtime; the added RTT can be changed between
/// configurations.
struct Relays {
    addrs: Vec<SocketAddr>,
    rtt_us: Arc<AtomicU64>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Relays {
    fn start(upstreams: &[SocketAddr]) -> Relays {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-relay")
            .enable_all()
            .build()
            .expect("relay runtime");
        let rtt_us = Arc::new(AtomicU64::new(0));
        let mut addrs = Vec::new();
        for up in upstreams {
            let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind relay");
            listener.set_nonblocking(true).expect("nonblocking");
            addrs.push(listener.local_addr().expect("relay addr"));
            let _guard = rt.enter();
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            rt.spawn(relay::accept_loop(listener, *up, rtt_us.clone()));
        }
        Relays { addrs, rtt_us, rt: Some(rt) }
    }

    fn set_rtt(&self, rtt: Duration) {
        self.rtt_us.store(u64::try_from(rtt.as_micros()).expect("rtt"), Ordering::SeqCst);
    }
}

impl Drop for Relays {
    fn drop(&mut self) {
        // Nothing to wait for: the bench is ending.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring child processes.

struct Sample {
    wall_ms: f64,
    rss_kib: f64,
    cpu_ms: f64,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `program args` under `/usr/bin/time`; wall time is measured here.
fn measure(program: &Path, args: &[String], scratch: &Path) -> Sample {
    let tf = scratch.join("time.txt");
    let _ = std::fs::remove_file(&tf);
    let cpu_before = children_cpu_ms();
    let start = Instant::now();
    let out = Command::new(TIME)
        .args(["-f", "%e %M %U %S", "-o"])
        .arg(&tf)
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {TIME} {}: {e} (apt-get install -y time)", program.display()));
    let wall_ms = start.elapsed().as_secs_f64() * 1000.0;
    let cpu_after = children_cpu_ms();
    let text = std::fs::read_to_string(&tf).unwrap_or_default();
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    let f: Vec<f64> = last.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    assert_eq!(f.len(), 4, "unexpected {TIME} output: {text:?}");
    Sample {
        wall_ms,
        rss_kib: f[1],
        // getrusage is exact to the microsecond; /usr/bin/time prints 10 ms steps.
        cpu_ms: match (cpu_before, cpu_after) {
            (Some(b), Some(a)) => a - b,
            _ => (f[2] + f[3]) * 1000.0,
        },
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// CPU time (user + sys, ms) of every child this process has waited for, and of their waited-for
/// descendants: the difference around one child's run is that child's CPU time (plus about a
/// millisecond for `/usr/bin/time` itself).
#[cfg(unix)]
fn children_cpu_ms() -> Option<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    let ms = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1000.0 + t.tv_usec() as f64 / 1000.0;
    Some(ms(usage.user_time()) + ms(usage.system_time()))
}

#[cfg(not(unix))]
fn children_cpu_ms() -> Option<f64> {
    None
}

/// The system-wide count of UDP datagrams dropped because a socket's receive buffer was full
/// (`RcvbufErrors` in /proc/net/snmp; None where there is no such file).
fn udp_rcvbuf_errors() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let (names, values) = (udp.next()?, udp.next()?);
    let i = names.split_whitespace().position(|n| n == "RcvbufErrors")?;
    values.split_whitespace().nth(i)?.parse().ok()
}

#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(v: &[f64]) -> Stats {
    assert!(!v.is_empty());
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
    Stats { median, min: s[0], max: s[n - 1] }
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() { f64::NAN } else { stats(v).median }
}

fn fmt_ms(s: Stats) -> String {
    format!("{:.0} ({:.0}–{:.0})", s.median, s.min, s.max)
}

fn fmt_ms1(s: Stats) -> String {
    format!("{:.1} ({:.1}–{:.1})", s.median, s.min, s.max)
}

// ---------------------------------------------------------------------------------------------
// The probe's report: per-stage timings.

#[derive(Default)]
struct Stages {
    dns: Vec<f64>,
    tcp: Vec<f64>,
    tls: Vec<f64>,
    http: Vec<f64>,
    /// Slowest endpoint's dns + tcp + tls + http, per run.
    slowest: Vec<f64>,
    /// run.duration_ms, per run.
    engine: Vec<f64>,
    /// UDP datagrams dropped (full receive buffer, system-wide) during the runs.
    udp_drops: u64,
}

impl Stages {
    /// Adds one report; panics unless every endpoint is `ok`.
    fn add(&mut self, report: &serde_json::Value, n: usize) {
        let num = |v: &serde_json::Value| v.as_f64().unwrap_or(f64::NAN);
        let endpoints = report["endpoints"].as_array().expect("report.endpoints");
        assert_eq!(endpoints.len(), n, "endpoints in the report");
        let mut slowest: f64 = 0.0;
        for e in endpoints {
            assert_eq!(e["verdict"], "ok", "endpoint not ok: {e}");
            let (d, t, s, h) = (
                num(&e["dns"]["duration_ms"]),
                num(&e["tcp"][0]["duration_ms"]),
                num(&e["tls"]["duration_ms"]),
                num(&e["http"]["duration_ms"]),
            );
            self.dns.push(d);
            self.tcp.push(t);
            self.tls.push(s);
            self.http.push(h);
            slowest = slowest.max(d + t + s + h);
        }
        self.slowest.push(slowest);
        self.engine.push(num(&report["run"]["duration_ms"]));
    }
}

// ---------------------------------------------------------------------------------------------
// The in-process reference client.

struct Reference {
    rt: tokio::runtime::Runtime,
    connector: tokio_rustls::TlsConnector,
}

impl Reference {
    fn new(ca_der: &[u8]) -> Reference {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(rustls::pki_types::CertificateDer::from(ca_der.to_vec())).expect("lab CA");
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[&rustls::version::TLS13])
                .expect("TLS 1.3")
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-client")
            .enable_all()
            .build()
            .expect("client runtime");
        Reference { rt, connector: tokio_rustls::TlsConnector::from(Arc::new(config)) }
    }

    /// Connect, handshake and GET on every endpoint at once; wall time in ms.
    fn run(&self, targets: &[(String, SocketAddr)]) -> f64 {
        let start = Instant::now();
        self.rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for (name, addr) in targets {
                let (name, addr, connector) = (name.clone(), *addr, self.connector.clone());
                set.spawn(async move {
                    let tcp = TcpStream::connect(addr).await.expect("connect relay");
                    tcp.set_nodelay(true).expect("nodelay");
                    let server_name = rustls::pki_types::ServerName::try_from(name.clone()).expect("name");
                    let mut tls = connector.connect(server_name, tcp).await.expect("TLS handshake");
                    let req = format!(
                        "GET / HTTP/1.1\r\nHost: {name}:{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
                        addr.port()
                    );
                    tls.write_all(req.as_bytes()).await.expect("send request");
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        let n = tls.read(&mut chunk).await.expect("read response");
                        assert!(n > 0, "EOF before the response head");
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    assert!(buf.starts_with(b"HTTP/1.1 200"), "unexpected response");
                });
            }
            while let Some(r) = set.join_next().await {
                r.expect("reference client task");
            }
        });
        start.elapsed().as_secs_f64() * 1000.0
    }
}

/// N concurrent A + AAAA lookups through hickory-resolver, configured as the probe configures it
/// (src/probe/resolve.rs), against the lab DNS server, in process; wall time in ms. A new resolver per
/// call, as the probe has one per run (no cache carried over).
fn dns_burst(rt: &tokio::runtime::Runtime, server: SocketAddr, names: &[String]) -> f64 {
    use hickory_resolver::TokioResolver;
    use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    use hickory_resolver::proto::rr::{Name, RecordType};

    let mut ns = NameServerConfig::udp_and_tcp(server.ip());
    for c in &mut ns.connections {
        c.port = server.port();
    }
    let mut opts = ResolverOpts::default();
    opts.use_hosts_file = ResolveHosts::Never;
    opts.attempts = 2;
    opts.timeout = Duration::from_secs(5);
    opts.preserve_intermediates = true;
    rt.block_on(async {
        let mut builder = TokioResolver::builder_with_config(
            ResolverConfig::from_parts(None, Vec::new(), vec![ns]),
            TokioRuntimeProvider::default(),
        );
        *builder.options_mut() = opts;
        let resolver = Arc::new(builder.build().expect("resolver"));
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for name in names {
            let (resolver, name) = (resolver.clone(), Name::from_utf8(format!("{name}.")).expect("name"));
            set.spawn(async move {
                let (a, _aaaa) =
                    tokio::join!(resolver.lookup(name.clone(), RecordType::A), resolver.lookup(name, RecordType::AAAA));
                assert!(a.is_ok(), "A lookup failed");
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("DNS task");
        }
        start.elapsed().as_secs_f64() * 1000.0
    })
}

// ---------------------------------------------------------------------------------------------

struct Endpoint {
    name: String,
    relay: SocketAddr,
}

fn url(e: &Endpoint) -> String {
    format!("https://{}:{}/", e.name, e.relay.port())
}

fn probe_file(endpoints: &[Endpoint]) -> String {
    let mut s = String::from("name = \"bench\"\nversion = \"1\"\n\n");
    for (i, e) in endpoints.iter().enumerate() {
        let _ = write!(s, "[[endpoint]]\nname = \"ep{i}\"\nrole = \"usage\"\nurl = \"{}\"\npublic = false\n\n", url(e));
    }
    s
}

fn curl_config(endpoints: &[Endpoint], ca: &Path) -> String {
    let mut s = format!(
        "--http1.1\n--tlsv1.3\n--cacert \"{}\"\n--noproxy \"*\"\n--silent\n--show-error\n\
         --write-out \"%{{http_code}} %{{time_connect}} %{{time_appconnect}} %{{time_total}}\\n\"\n",
        ca.display()
    );
    for e in endpoints {
        let _ = writeln!(s, "--resolve \"{}:{}:127.0.0.1\"", e.name, e.relay.port());
    }
    for e in endpoints {
        let _ = writeln!(s, "url = \"{}\"\noutput = \"/dev/null\"", url(e));
    }
    s
}

/// curl's `-w` lines: (connect, appconnect, total) in ms per transfer; panics unless all are 200.
fn curl_transfers(s: &Sample, n: usize) -> Vec<(f64, f64, f64)> {
    assert_eq!(s.code, Some(0), "curl failed: {}", s.stderr);
    let rows: Vec<(f64, f64, f64)> = s
        .stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.first(), Some(&"200"), "curl transfer not 200: {l}");
            let p = |i: usize| f[i].parse::<f64>().expect("curl timing") * 1000.0;
            (p(1), p(2), p(3))
        })
        .collect();
    assert_eq!(rows.len(), n, "curl transfers");
    rows
}

#[derive(Default)]
struct Series {
    wall: Vec<f64>,
    rss: Vec<f64>,
    cpu: Vec<f64>,
}

impl Series {
    fn push(&mut self, s: &Sample) {
        self.wall.push(s.wall_ms);
        self.rss.push(s.rss_kib);
        self.cpu.push(s.cpu_ms);
    }
}

struct ConfigResult {
    rtt_ms: u64,
    n: usize,
    reference: Vec<f64>,
    dns_burst: Vec<f64>,
    dns_burst_drops: u64,
    probe: Series,
    stages: Stages,
    probe_wide: Option<(Series, Stages)>,
    curl_par: Series,
    curl_seq: Series,
    curl_par_transfers: Vec<(f64, f64, f64)>,
}

/// One start-up measurement: what is run, the exit code it must end with, the report it writes.
struct Variant {
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
    code: i32,
    report: Option<PathBuf>,
}

struct Lab<'a> {
    args: &'a Args,
    rtt_ms: std::cell::Cell<u64>,
    dir: PathBuf,
    pem: PathBuf,
    dns: SocketAddr,
    curl: PathBuf,
}

impl Lab<'_> {
    fn tag(&self, n: usize, suffix: &str) -> String {
        format!("rtt{}-n{n}{suffix}", self.rtt_ms.get())
    }

    fn probe_args(&self, probes: &Path, out: &Path, extra: &[String]) -> Vec<String> {
        let mut v: Vec<String> = [
            "run",
            "--probes",
            &probes.display().to_string(),
            "--dns-server",
            &self.dns.to_string(),
            "--public-roots",
            &self.pem.display().to_string(),
            "--system-roots",
            &self.pem.display().to_string(),
            "--no-proxy",
            "--timeout",
            "10s",
            "--out",
            &out.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().cloned());
        v
    }

    fn run_probe(&self, probes: &Path, n: usize, extra: &[String], series: &mut Series, stages: &mut Stages) {
        let out = self.dir.join("report.json");
        let drops = udp_rcvbuf_errors();
        let s = measure(&self.args.bin, &self.probe_args(probes, &out, extra), &self.dir);
        if let (Some(before), Some(after)) = (drops, udp_rcvbuf_errors()) {
            stages.udp_drops += after.saturating_sub(before);
        }
        assert_eq!(s.code, Some(0), "azs-netprobe exit code\n{}\n{}", s.stdout, s.stderr);
        let bytes = std::fs::read(&out).expect("read report");
        if let Some(keep) = &self.args.keep {
            std::fs::create_dir_all(keep).expect("create --keep folder");
            let c = extra.get(1).map_or_else(String::new, |c| format!("-c{c}"));
            let name = format!("{}-{}.json", self.tag(n, &c), series.wall.len());
            std::fs::write(keep.join(name), &bytes).expect("keep report");
        }
        let report: serde_json::Value = serde_json::from_slice(&bytes).expect("parse report");
        stages.add(&report, n);
        series.push(&s);
    }
}

fn main() {
    let args = parse_args();
    assert!(Path::new(TIME).exists(), "{TIME} is missing: apt-get install -y time");
    assert!(args.bin.exists(), "{} is missing: cargo build --release first", args.bin.display());
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let max_n = *args.n.iter().max().expect("--n");

    // The lab: one CA, a few TLS servers, one DNS name per endpoint, one relay port per endpoint.
    let ca = lab::TestCa::new("Bench Root CA");
    let leaf = ca.leaf(&["*.bench.test"]);
    let pem = ca.write_pem(&dir, "ca.pem");
    let servers: Vec<lab::TlsServer> = (0..args.servers)
        .map(|_| lab::TlsServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), &leaf, lab::ok_response()))
        .collect();
    let upstreams: Vec<SocketAddr> = (0..max_n).map(|i| servers[i % servers.len()].addr).collect();
    let relays = Relays::start(&upstreams);
    let endpoints: Vec<Endpoint> = relays
        .addrs
        .iter()
        .enumerate()
        .map(|(i, relay)| Endpoint { name: format!("ep{i}.bench.test"), relay: *relay })
        .collect();
    let zone: Vec<(&str, lab::DnsAnswer)> =
        endpoints.iter().map(|e| (e.name.as_str(), lab::DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))).collect();
    let dns = lab::DnsServer::start(zone);
    let reference = Reference::new(&ca.cert_der);
    let curl = which("curl").unwrap_or_else(|| PathBuf::from("curl"));
    let lab =
        Lab { args: &args, rtt_ms: std::cell::Cell::new(0), dir: dir.clone(), pem: pem.clone(), dns: dns.addr, curl };
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    // Start-up: an empty probe file (no endpoint, no NTP server: nothing is sent), and what it is made of.
    let empty = dir.join("empty.toml");
    std::fs::write(&empty, "").expect("write empty probe file");
    let out = dir.join("startup.json");
    let dev_null = PathBuf::from("/dev/null");
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let builtin_args = strings(&[
        "run",
        "--probes",
        &empty.display().to_string(),
        "--dns-server",
        &dns.addr.to_string(),
        "--no-proxy",
        "--timeout",
        "10s",
        "--out",
        &out.display().to_string(),
    ]);
    let true_bin = which("true").unwrap_or_else(|| PathBuf::from("/bin/true"));
    // Exit 1 for the empty runs: the only finding is ClockUnverified (no time source).
    let v = |label: &'static str, program: &Path, args: Vec<String>, code: i32, report: bool| Variant {
        label,
        program: program.to_path_buf(),
        args,
        code,
        report: report.then(|| out.clone()),
    };
    let variants = [
        v("`/usr/bin/time true`: the measurement's own cost", &true_bin, Vec::new(), 0, false),
        v("`azs-netprobe --version`: process start, argument parsing", &args.bin, strings(&["--version"]), 0, false),
        v(
            "empty run, lab CA PEM stores, `--out /dev/null` (no fsync)",
            &args.bin,
            lab.probe_args(&empty, &dev_null, &[]),
            1,
            false,
        ),
        v(
            "empty run, lab CA PEM stores, `--out FILE` (as in the runs above: write, fsync, rename)",
            &args.bin,
            lab.probe_args(&empty, &out, &[]),
            1,
            true,
        ),
        v("empty run, built-in stores (webpki-roots + OS store), `--out FILE`", &args.bin, builtin_args, 1, true),
    ];
    let mut startup: Vec<(String, Series, Vec<f64>)> =
        variants.iter().map(|v| (v.label.to_string(), Series::default(), Vec::new())).collect();
    for i in 0..=args.startup_runs {
        for (j, v) in variants.iter().enumerate() {
            let s = measure(&v.program, &v.args, &dir);
            assert_eq!(s.code, Some(v.code), "{}\n{}\n{}", v.label, s.stdout, s.stderr);
            if i == 0 {
                continue; // warm-up
            }
            startup[j].1.push(&s);
            if let Some(report) = &v.report {
                let r: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(report).expect("report")).expect("json");
                startup[j].2.push(r["run"]["duration_ms"].as_f64().unwrap_or(f64::NAN));
            }
        }
    }

    let mut results = Vec::new();
    for &rtt_ms in &args.rtt_ms {
        relays.set_rtt(Duration::from_millis(rtt_ms));
        lab.rtt_ms.set(rtt_ms);
        for &n in &args.n {
            eprintln!("[{:>4.0} s] RTT {rtt_ms} ms, N = {n}", started.elapsed().as_secs_f64());
            let eps = &endpoints[..n];
            let probes = dir.join(format!("probes-{n}.toml"));
            std::fs::write(&probes, probe_file(eps)).expect("write probe file");
            let curl_cfg = dir.join(format!("curl-{n}.cfg"));
            std::fs::write(&curl_cfg, curl_config(eps, &pem)).expect("write curl config");
            let targets: Vec<(String, SocketAddr)> = eps.iter().map(|e| (e.name.clone(), e.relay)).collect();
            let wide = (n > DEFAULT_CONCURRENCY).then(|| vec!["--concurrency".to_string(), n.to_string()]);
            let par_args: Vec<String> = [
                "--parallel",
                "--parallel-immediate",
                "--parallel-max",
                &n.min(300).to_string(),
                "-K",
                &curl_cfg.display().to_string(),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let seq_args = vec!["-K".to_string(), curl_cfg.display().to_string()];

            let mut r = ConfigResult {
                rtt_ms,
                n,
                reference: Vec::new(),
                dns_burst: Vec::new(),
                dns_burst_drops: 0,
                probe: Series::default(),
                stages: Stages::default(),
                probe_wide: wide.as_ref().map(|_| (Series::default(), Stages::default())),
                curl_par: Series::default(),
                curl_seq: Series::default(),
                curl_par_transfers: Vec::new(),
            };
            // Warm-up (not recorded).
            reference.run(&targets);
            lab.run_probe(&probes, n, &[], &mut Series::default(), &mut Stages::default());
            if args.curl {
                curl_transfers(&measure(&lab.curl, &par_args, &dir), n);
            }
            for i in 0..args.runs {
                r.reference.push(reference.run(&targets));
                let names: Vec<String> = eps.iter().map(|e| e.name.clone()).collect();
                let drops = udp_rcvbuf_errors();
                r.dns_burst.push(dns_burst(&reference.rt, dns.addr, &names));
                if let (Some(before), Some(after)) = (drops, udp_rcvbuf_errors()) {
                    r.dns_burst_drops += after.saturating_sub(before);
                }
                lab.run_probe(&probes, n, &[], &mut r.probe, &mut r.stages);
                if let (Some(extra), Some((series, stages))) = (&wide, r.probe_wide.as_mut()) {
                    lab.run_probe(&probes, n, extra, series, stages);
                }
                if args.curl {
                    let s = measure(&lab.curl, &par_args, &dir);
                    r.curl_par_transfers.extend(curl_transfers(&s, n));
                    r.curl_par.push(&s);
                    if i < args.seq_runs {
                        let s = measure(&lab.curl, &seq_args, &dir);
                        curl_transfers(&s, n);
                        r.curl_seq.push(&s);
                    }
                }
            }
            results.push(r);
        }
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    print_report(&args, &results, &startup);
    println!(
        "\nMachine: {} CPUs; load average before {}, after {}; total bench time {:.0} s.",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_before.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        load_after.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        started.elapsed().as_secs_f64()
    );
    let first_line = |program: &Path, arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(str::to_string))
            .unwrap_or_default()
    };
    println!(
        "Probe: {} ({}); {}.",
        first_line(&args.bin, "--version"),
        args.bin.display(),
        first_line(&lab.curl, "--version")
    );
    drop(servers);
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(program)).find(|p| p.is_file())
}

fn mib(kib: f64) -> String {
    format!("{:.1}", kib / 1024.0)
}

fn print_report(args: &Args, results: &[ConfigResult], startup: &[(String, Series, Vec<f64>)]) {
    // The empty run the N-endpoint runs compare with: same flags, same --out.
    let empty_rss = median(&startup[3].1.rss);
    let empty_cpu = median(&startup[3].1.cpu);
    let na = || "–".to_string();

    println!("### Wall time (ms): median (min–max) of {} runs; sequential curl: {} runs\n", args.runs, args.seq_runs);
    println!(
        "| RTT | N | floor 3×RTT | reference client | azs-netprobe | probe ÷ floor | curl --parallel | \
         probe ÷ curl --parallel | curl sequential |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in results {
        let floor = 3.0 * r.rtt_ms as f64;
        let p = stats(&r.probe.wall);
        let par = (!r.curl_par.wall.is_empty()).then(|| stats(&r.curl_par.wall));
        let seq = (!r.curl_seq.wall.is_empty()).then(|| stats(&r.curl_seq.wall));
        println!(
            "| {} ms | {} | {floor:.0} | {} | {} | {:.2} | {} | {} | {} |",
            r.rtt_ms,
            r.n,
            fmt_ms(stats(&r.reference)),
            fmt_ms(p),
            p.median / floor,
            par.map_or_else(na, fmt_ms),
            par.map_or_else(na, |c| format!("{:.2}", p.median / c.median)),
            seq.map_or_else(na, fmt_ms),
        );
        if let Some((wide, _)) = &r.probe_wide {
            let w = stats(&wide.wall);
            println!(
                "| {} ms | {} | {floor:.0} | | {} `--concurrency {}` | {:.2} | | {} | |",
                r.rtt_ms,
                r.n,
                fmt_ms(w),
                r.n,
                w.median / floor,
                par.map_or_else(na, |c| format!("{:.2}", w.median / c.median)),
            );
        }
    }

    println!("\n### Resources: peak RSS (MiB) and CPU time user+sys (ms), medians\n");
    println!(
        "| RTT | N | probe RSS | probe CPU | probe CPU per endpoint | (CPU − empty run) per endpoint | \
         (RSS − empty run) per endpoint (KiB) | curl --parallel RSS | curl --parallel CPU | curl sequential CPU |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let row = |label: String, r: &ConfigResult, s: &Series| {
        let n = r.n as f64;
        let (rss, cpu) = (median(&s.rss), median(&s.cpu));
        println!(
            "| {} ms | {label} | {} | {cpu:.0} | {:.2} | {:.2} | {:.0} | {} | {} | {} |",
            r.rtt_ms,
            mib(rss),
            cpu / n,
            (cpu - empty_cpu) / n,
            (rss - empty_rss) / n,
            if r.curl_par.rss.is_empty() { na() } else { mib(median(&r.curl_par.rss)) },
            if r.curl_par.cpu.is_empty() { na() } else { format!("{:.0}", median(&r.curl_par.cpu)) },
            if r.curl_seq.cpu.is_empty() { na() } else { format!("{:.0}", median(&r.curl_seq.cpu)) },
        );
    };
    for r in results {
        row(r.n.to_string(), r, &r.probe);
        if let Some((wide, _)) = &r.probe_wide {
            row(format!("{} `--concurrency {}`", r.n, r.n), r, wide);
        }
    }

    println!("\n### Start-up: empty probe file, median (min–max) of {} runs\n", startup[0].1.wall.len());
    println!("| what | wall (ms) | engine `run.duration_ms` | peak RSS (MiB) | CPU user+sys (ms) |");
    println!("|---|---:|---:|---:|---:|");
    for (label, s, engine) in startup {
        println!(
            "| {label} | {} | {} | {} | {} |",
            fmt_ms1(stats(&s.wall)),
            if engine.is_empty() { na() } else { fmt_ms(stats(engine)) },
            mib(median(&s.rss)),
            fmt_ms1(stats(&s.cpu)),
        );
    }

    println!(
        "\n### Where the probe's time goes (ms): per-endpoint stage medians over all runs' endpoints; \
         slowest endpoint, engine time and wall: medians over runs\n"
    );
    println!(
        "| RTT | N | dns (max) | tcp | tls | http | slowest endpoint (sum of stages) | engine `run.duration_ms` | \
         process wall | UDP drops, all runs | in-process DNS burst: N × (A + AAAA) (UDP drops) | \
         curl --parallel per transfer: connect / TLS done / total |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let stage_row = |label: String, r: &ConfigResult, st: &Stages, s: &Series, dns: String, curl: String| {
        println!(
            "| {} ms | {label} | {:.0} ({:.0}) | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {dns} | {curl} |",
            r.rtt_ms,
            median(&st.dns),
            st.dns.iter().copied().fold(0.0, f64::max),
            median(&st.tcp),
            median(&st.tls),
            median(&st.http),
            median(&st.slowest),
            median(&st.engine),
            median(&s.wall),
            st.udp_drops,
        );
    };
    for r in results {
        let curl = if r.curl_par_transfers.is_empty() {
            na()
        } else {
            let c: Vec<f64> = r.curl_par_transfers.iter().map(|t| t.0).collect();
            let a: Vec<f64> = r.curl_par_transfers.iter().map(|t| t.1).collect();
            let t: Vec<f64> = r.curl_par_transfers.iter().map(|t| t.2).collect();
            format!("{:.0} / {:.0} / {:.0}", median(&c), median(&a), median(&t))
        };
        let dns = format!("{} ({})", fmt_ms(stats(&r.dns_burst)), r.dns_burst_drops);
        stage_row(r.n.to_string(), r, &r.stages, &r.probe, dns, curl);
        if let Some((wide, st)) = &r.probe_wide {
            stage_row(format!("{} `--concurrency {}`", r.n, r.n), r, st, wide, String::new(), String::new());
        }
    }
}
