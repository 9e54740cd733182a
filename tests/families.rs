#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Address families and path-MTU black holes, on real kernels: network namespaces built with
//! `ip netns` (needs root), documentation addresses only (192.0.2.0/24, 198.51.100.0/24,
//! 2001:db8::/32). The probe runs inside the probe namespace (`ip netns exec`), so no traffic
//! leaves it. Servers run in a namespace of their own: this test binary, re-run as a helper
//! (`netns_helper`) inside it. Without root or `ip`, each test says so and passes, except under
//! CI (CI=true), where it fails.

mod common;
mod lab;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("run {args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{args:?} failed: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn ns(name: &str, args: &[&str]) {
    let mut v = vec!["ip", "netns", "exec", name];
    v.extend_from_slice(args);
    sh(&v).unwrap();
}

/// Namespaces (and the veth pairs in them) deleted on drop.
struct Lab {
    names: Vec<String>,
    helpers: Vec<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for h in &mut self.helpers {
            let _ = h.kill();
            let _ = h.wait();
        }
        for n in &self.names {
            let _ = sh(&["ip", "netns", "del", n]);
        }
    }
}

/// Whether namespaces can be made here. When not, the test fails naming what it needs, or is
/// skipped and counted with AZS_TEST_ALLOW_MISSING=1.
fn netns_available() -> bool {
    let probe = format!("azsH{}x{}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst));
    match sh(&["ip", "netns", "add", &probe]) {
        Ok(()) => {
            let _ = sh(&["ip", "netns", "del", &probe]);
            true
        }
        // A missing capability fails the test like a missing program (tests/common `require`),
        // unless AZS_TEST_ALLOW_MISSING=1 says to skip it; then it is counted as skipped.
        Err(e) => common::require(
            &format!("root and `ip netns` ({e})"),
            false,
            "run the tests as root; apt-get install -y iproute2",
        ),
    }
}

impl Lab {
    fn new(roles: &[&str]) -> Lab {
        let n = SEQ.fetch_add(1, Ordering::SeqCst);
        let names: Vec<String> = roles.iter().map(|r| format!("azsH{}n{n}{r}", std::process::id())).collect();
        let lab = Lab { names, helpers: Vec::new() };
        for name in &lab.names {
            sh(&["ip", "netns", "add", name]).unwrap();
            ns(name, &["ip", "link", "set", "lo", "up"]);
        }
        lab
    }

    fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// A veth pair between namespaces `a` and `b`, named `ia` in `a` and `ib` in `b`.
    fn link(&self, a: usize, ia: &str, b: usize, ib: &str) {
        let tmp_a = format!("h{}a{}", std::process::id() % 100000, SEQ.fetch_add(1, Ordering::SeqCst));
        let tmp_b = format!("h{}b{}", std::process::id() % 100000, SEQ.fetch_add(1, Ordering::SeqCst));
        sh(&["ip", "link", "add", &tmp_a, "type", "veth", "peer", "name", &tmp_b]).unwrap();
        sh(&["ip", "link", "set", &tmp_a, "netns", self.name(a)]).unwrap();
        sh(&["ip", "link", "set", &tmp_b, "netns", self.name(b)]).unwrap();
        ns(self.name(a), &["ip", "link", "set", &tmp_a, "name", ia]);
        ns(self.name(b), &["ip", "link", "set", &tmp_b, "name", ib]);
        ns(self.name(a), &["ip", "link", "set", ia, "up"]);
        ns(self.name(b), &["ip", "link", "set", ib, "up"]);
    }

    fn addr(&self, i: usize, dev: &str, cidr: &str) {
        if cidr.contains(':') {
            ns(self.name(i), &["ip", "-6", "addr", "add", cidr, "dev", dev, "nodad"]);
        } else {
            ns(self.name(i), &["ip", "addr", "add", cidr, "dev", dev]);
        }
    }

    /// Run this test binary's `netns_helper` in namespace `i` with `spec`; returns the line it
    /// prints once ready (after `READY`).
    fn helper(&mut self, i: usize, dir: &Path, spec: &str) -> String {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new("ip")
            .args(["netns", "exec", self.name(i)])
            .arg(exe)
            .args(["netns_helper", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env("AZS_NETNS_HELPER", spec)
            .env("AZS_NETNS_DIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        // Drop kills and reaps it, whatever happens next.
        self.helpers.push(child);
        let mut line = String::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 || Instant::now() > deadline {
                panic!("the netns helper ended before it was ready");
            }
            // The harness prints `test netns_helper ... ` before the helper's own line.
            if let Some(at) = line.find("READY") {
                let rest = line[at + "READY".len()..].trim().to_string();
                // Keep draining its output so it never blocks on a full pipe.
                std::thread::spawn(move || {
                    let mut sink = String::new();
                    let _ = out.read_to_string(&mut sink);
                });
                return rest;
            }
        }
    }

    /// Run the probe inside namespace `i`; `--endpoint URL` becomes a probe file with that one
    /// endpoint (`ep`, role usage), so the built-in set stays out.
    fn probe(&self, i: usize, dir: &Path, args: &[&str]) -> common::Run {
        let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if let Some(k) = args.iter().position(|a| a == "--endpoint") {
            let url = args[k + 1].clone();
            let file = common::probe_file(
                dir,
                &format!("[[endpoint]]\nname = \"ep\"\nrole = \"usage\"\nurl = \"{url}\"\npublic = false\n"),
            );
            args[k] = "--probes".into();
            args[k + 1] = file.display().to_string();
        }
        let report_path = dir.join("report.json");
        let _ = std::fs::remove_file(&report_path);
        let start = Instant::now();
        let out = Command::new("ip")
            .args(["netns", "exec", self.name(i), common::BIN])
            .args(args)
            .arg("--out")
            .arg(&report_path)
            .current_dir(dir)
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
            .unwrap();
        let elapsed = start.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let text = std::fs::read_to_string(&report_path)
            .unwrap_or_else(|e| panic!("no report ({e}); stdout:\n{stdout}\nstderr:\n{stderr}"));
        common::shape::check(&text);
        let report: Value = serde_json::from_str(&text).unwrap();
        common::Run { code: out.status.code().unwrap_or(-1), report, stdout, stderr, elapsed, report_path }
    }
}

/// Certificates for the helper: a CA (its PEM for --public-roots) and a leaf under two
/// intermediates (a certificate flight of several KB, as public chains are), written to `dir`.
fn pki(dir: &Path, names: &[&str]) -> String {
    let ca = lab::TestCa::new("Families Lab Root");
    let i1 = ca.intermediate("Families Lab Intermediate 1");
    let i2 = i1.intermediate("Families Lab Intermediate 2");
    let leaf = i2.leaf(names);
    for (k, der) in leaf.chain_der.iter().enumerate() {
        std::fs::write(dir.join(format!("chain{k}.der")), der).unwrap();
    }
    std::fs::write(dir.join("key.der"), &leaf.key_der).unwrap();
    ca.write_pem(dir, "ca.pem").display().to_string()
}

fn server_config(dir: &Path) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let mut chain = Vec::new();
    for k in 0.. {
        match std::fs::read(dir.join(format!("chain{k}.der"))) {
            Ok(der) => chain.push(CertificateDer::from(der)),
            Err(_) => break,
        }
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(std::fs::read(dir.join("key.der")).unwrap()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    Arc::new(config)
}

/// Serve one connection as `kind`: `ok` (TLS, then HTTP 200), `silent` (accept, never speak),
/// `reset` (read the ClientHello, then reset the connection).
fn serve(kind: &str, mut stream: std::net::TcpStream, config: Arc<rustls::ServerConfig>) {
    match kind {
        "ok" => {
            let conn = rustls::ServerConnection::new(config).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let date = httpdate::fmt_http_date(std::time::SystemTime::now());
            let response = format!(
                "HTTP/1.1 200 OK\r\nDate: {date}\r\nServer: netns-lab\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
            );
            let _ = tls.write_all(response.as_bytes());
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        "silent" => {
            let mut buf = [0u8; 4096];
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        }
        "reset" => {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
        other => panic!("unknown server kind {other}"),
    }
}

/// The servers of one namespace (run by the tests through `ip netns exec`): AZS_NETNS_HELPER
/// is `kind@addr,...` for TCP servers, or `dns` for a lab DNS server on this namespace's
/// loopback, zone `name=ip ip;name=ip`.
#[test]
#[ignore = "a helper: the netns tests run it inside a namespace"]
fn netns_helper() {
    let Ok(spec) = std::env::var("AZS_NETNS_HELPER") else { return };
    let dir = std::path::PathBuf::from(std::env::var("AZS_NETNS_DIR").unwrap());
    let mut _dns = None;
    if let Some(zone) = spec.strip_prefix("dns:") {
        let zone: Vec<(String, lab::DnsAnswer)> = zone
            .split(';')
            .map(|entry| {
                let (name, ips) = entry.split_once('=').unwrap();
                (name.to_string(), lab::DnsAnswer::Ips(ips.split(' ').map(|i| i.parse().unwrap()).collect()))
            })
            .collect();
        let server = lab::DnsServer::start(zone.iter().map(|(n, a)| (n.as_str(), a.clone())).collect());
        println!("READY {}", server.addr);
        _dns = Some(server);
    } else {
        let config = server_config(&dir);
        for item in spec.split(',') {
            let (kind, addr) = item.split_once('@').unwrap();
            let addr: SocketAddr = addr.parse().unwrap();
            let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
            let (kind, config) = (kind.to_string(), config.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (kind, config) = (kind.clone(), config.clone());
                    std::thread::spawn(move || serve(&kind, stream, config));
                }
            });
        }
        println!("READY");
    }
    std::io::stdout().flush().unwrap();
    // Until the test closes our stdin (or kills us).
    let mut sink = String::new();
    let _ = std::io::stdin().read_to_string(&mut sink);
}

/// Probe namespace 0 and server namespace 1 on one link: 192.0.2.1 / 2001:db8::1 (probe) and
/// 192.0.2.2 / 2001:db8::2 (servers), plus 2001:db8:99::/64 routed to the server namespace,
/// which drops it: a dead IPv6 destination whose SYNs get no answer. DNS in the probe
/// namespace answers `zone`.
fn dual_stack(dir: &Path, servers: &str, zone: &str) -> (Lab, String) {
    let mut lab = Lab::new(&["p", "s"]);
    lab.link(0, "p0", 1, "s0");
    lab.addr(0, "p0", "192.0.2.1/24");
    lab.addr(0, "p0", "2001:db8::1/64");
    lab.addr(1, "s0", "192.0.2.2/24");
    lab.addr(1, "s0", "2001:db8::2/64");
    ns(lab.name(0), &["ip", "-6", "route", "add", "2001:db8:99::/64", "via", "2001:db8::2"]);
    // The server namespace drops those packets silently (a blackhole route sends no ICMP).
    ns(lab.name(1), &["ip", "-6", "route", "add", "blackhole", "2001:db8:99::/64"]);
    lab.helper(1, dir, servers);
    let dns = lab.helper(0, dir, &format!("dns:{zone}"));
    (lab, dns)
}

/// Probe `https://NAME/` once in a [`dual_stack`] lab (`servers`, `zone` as it takes them),
/// trusting the lab's CA for both stores, with `--timeout TIMEOUT` and `extra` arguments.
fn probe_dual_stack(dir: &Path, name: &str, servers: &str, zone: &str, timeout: &str, extra: &[&str]) -> common::Run {
    let ca = pki(dir, &[name]);
    let (lab, dns) = dual_stack(dir, servers, zone);
    let url = format!("https://{name}/");
    let mut args = vec!["run", "--endpoint", &url, "--dns-server", &dns, "--public-roots", &ca, "--system-roots", &ca];
    args.extend(["--timeout", timeout]);
    args.extend_from_slice(extra);
    lab.probe(0, dir, &args)
}

fn family<'a>(e: &'a Value, fam: &str) -> &'a Value {
    e["families"].as_array().unwrap().iter().find(|f| f["family"] == fam).unwrap_or_else(|| panic!("no {fam} in {e}"))
}

/// IPv6 (the family this node tries first: a global IPv6 source, RFC 6724 rule 6) accepts and
/// never speaks; IPv4 is healthy. The old probe reported a clean endpoint over IPv4.
#[test]
fn ipv6_first_and_silent_is_an_error_naming_the_family() {
    if !netns_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (html_path, prom_path) = (dir.path().join("r.html"), dir.path().join("r.prom"));
    let run = probe_dual_stack(
        dir.path(),
        "dual.test",
        "ok@192.0.2.2:443,silent@[2001:db8::2]:443",
        "dual.test=192.0.2.2 2001:db8::2",
        "3s",
        &["--html", html_path.to_str().unwrap(), "--prometheus", prom_path.to_str().unwrap()],
    );
    let e = &run.report["endpoints"][0];
    // The top-level TLS is the first address in the node's order: IPv6.
    assert_eq!(e["tls"]["address"], "[2001:db8::2]:443", "{e}");
    assert_eq!(e["tls"]["status"], "timeout");
    let v6 = family(e, "ipv6");
    let v4 = family(e, "ipv4");
    assert_eq!((v6["first"].as_bool(), v4["first"].as_bool()), (Some(true), Some(false)));
    assert_eq!(v4["tls"]["status"], "ok");
    assert_eq!(v4["http"]["status_code"], 200);
    assert_eq!(v6["tls"]["status"], "timeout");
    let f = run.finding(e["name"].as_str().unwrap(), "TlsHandshakeTimeout");
    assert_eq!(f["severity"], "error", "{f}");
    assert_eq!(f["usage_error"], "RequestTimedOut");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("IPv6") && msg.contains("2001:db8::2") && msg.contains("tries first"), "{msg}");
    // The small-MSS retry stalled too: said so, and not a black hole.
    assert!(msg.contains("stalled too"), "{msg}");
    assert_eq!(e["tls"]["mss_retry"]["status"], "timeout");
    assert_eq!(run.code, 2);
    // The stages stay within their bounds: TLS 3 s (the retry inside it) and HTTP over IPv4 alongside.
    assert!(run.elapsed < Duration::from_secs(3 + 3 + 2), "{:?}", run.elapsed);
    // The families reach the text summary.
    assert!(run.stdout.contains("IPv6") && run.stdout.contains("IPv4"), "{}", run.stdout);
    // ... the HTML page and the Prometheus metrics.
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("Address families (2)") && html.contains("family-ipv6"), "no families in the HTML");
    let prom = std::fs::read_to_string(dir.path().join("r.prom")).unwrap();
    assert!(
        prom.contains("azs_netprobe_family_tls_success{endpoint=\"ep\",family=\"ipv6\",first=\"true\"} 0"),
        "{prom}"
    );
    assert!(
        prom.contains("azs_netprobe_family_tls_success{endpoint=\"ep\",family=\"ipv4\",first=\"false\"} 1"),
        "{prom}"
    );
}

/// IPv6 resets the connection after the ClientHello; IPv4 is healthy.
#[test]
fn ipv6_first_resetting_after_client_hello_is_an_error() {
    if !netns_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = probe_dual_stack(
        dir.path(),
        "dual.test",
        "ok@192.0.2.2:443,reset@[2001:db8::2]:443",
        "dual.test=192.0.2.2 2001:db8::2",
        "3s",
        &[],
    );
    let e = &run.report["endpoints"][0];
    assert_eq!(family(e, "ipv6")["tls"]["status"], "reset", "{e}");
    assert_eq!(family(e, "ipv4")["tls"]["status"], "ok");
    let f = run.finding(e["name"].as_str().unwrap(), "TcpConnectionReset");
    assert_eq!(f["severity"], "error", "{f}");
    assert!(f["message"].as_str().unwrap().contains("IPv6"), "{f}");
    assert_eq!(run.code, 2);
}

/// The reverse: IPv6 healthy (first), IPv4 accepts and never speaks: a warning naming IPv4.
#[test]
fn ipv4_second_and_silent_is_a_warning_naming_the_family() {
    if !netns_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = probe_dual_stack(
        dir.path(),
        "dual.test",
        "silent@192.0.2.2:443,ok@[2001:db8::2]:443",
        "dual.test=192.0.2.2 2001:db8::2",
        "3s",
        &[],
    );
    let e = &run.report["endpoints"][0];
    assert_eq!(e["tls"]["status"], "ok", "{e}");
    assert_eq!(e["tls"]["address"], "[2001:db8::2]:443");
    assert_eq!(family(e, "ipv4")["tls"]["status"], "timeout");
    let f = run.finding(e["name"].as_str().unwrap(), "TlsHandshakeTimeout");
    assert_eq!(f["severity"], "warning", "{f}");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("IPv4") && msg.contains("192.0.2.2") && msg.contains("not the family"), "{msg}");
    assert_eq!(f["evidence"]["family"], "ipv4");
    assert_eq!(run.code, 1);
}

/// TCP: every IPv6 address of a name whose IPv6 addresses come first is dead (SYNs dropped):
/// an error, saying how long Windows waits.
#[test]
fn dead_ipv6_first_at_tcp_is_an_error() {
    if !netns_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = probe_dual_stack(
        dir.path(),
        "dead6.test",
        "ok@192.0.2.2:443",
        "dead6.test=192.0.2.2 2001:db8:99::1",
        "2s",
        &[],
    );
    let e = &run.report["endpoints"][0];
    let f = run.finding(e["name"].as_str().unwrap(), "TcpConnectTimeout");
    assert_eq!(f["severity"], "error", "{f}");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("IPv6") && msg.contains("21 s") && msg.contains("2001:db8:99::1"), "{msg}");
    assert_eq!(f["evidence"]["address_order"][0], "2001:db8:99::1");
    assert_eq!(e["tls"]["status"], "ok");
    assert_eq!(run.code, 2);
}

/// A path-MTU black hole: probe — router — server, the router's link toward the probe has a
/// 1200-byte MTU and its ICMP errors ("fragmentation needed") are dropped (a policy-routing
/// rule sends every ICMP packet the router makes to a blackhole route). The server's
/// certificate flight never arrives; a connection advertising MSS 1000 completes.
#[test]
fn path_mtu_black_hole_is_found_and_never_called_interception() {
    if !netns_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = pki(dir.path(), &["mtu.test"]);
    let mut lab = Lab::new(&["p", "r", "s"]);
    lab.link(0, "p0", 1, "r0");
    lab.link(1, "r1", 2, "s0");
    lab.addr(0, "p0", "192.0.2.1/24");
    lab.addr(1, "r0", "192.0.2.254/24");
    lab.addr(1, "r1", "198.51.100.254/24");
    lab.addr(2, "s0", "198.51.100.2/24");
    ns(lab.name(0), &["ip", "route", "add", "default", "via", "192.0.2.254"]);
    ns(lab.name(2), &["ip", "route", "add", "default", "via", "198.51.100.254"]);
    ns(lab.name(1), &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    ns(lab.name(1), &["ip", "link", "set", "r0", "mtu", "1200"]);
    ns(lab.name(1), &["ip", "rule", "add", "ipproto", "icmp", "table", "100", "pref", "100"]);
    ns(lab.name(1), &["ip", "route", "add", "blackhole", "default", "table", "100"]);
    lab.helper(2, dir.path(), "ok@198.51.100.2:443");
    let dns = lab.helper(0, dir.path(), "dns:mtu.test=198.51.100.2");
    let args = [
        "run",
        "--endpoint",
        "https://mtu.test/",
        "--dns-server",
        &dns,
        "--public-roots",
        &ca,
        "--system-roots",
        &ca,
        "--timeout",
        "4s",
    ];
    let run = lab.probe(0, dir.path(), &args);
    let e = &run.report["endpoints"][0];
    assert_eq!(e["tls"]["status"], "timeout", "{e}");
    assert_eq!(e["tls"]["mss_retry"]["status"], "ok", "{e}");
    assert_eq!(e["tls"]["mss_retry"]["mss"], 1000);
    let got = e["tls"]["bytes_received"].as_u64().unwrap();
    let f = run.finding(e["name"].as_str().unwrap(), "TlsPathMtuBlackHole");
    assert_eq!(f["usage_error"], "RequestTimedOut");
    assert_eq!(f["evidence"]["mss"], 1000);
    assert_eq!(f["evidence"]["bytes_received"], got);
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("1000") && msg.contains(&format!("{got} bytes")) && msg.contains("not interception"), "{msg}");
    assert!(
        !run.codes(e["name"].as_str().unwrap()).iter().any(|c| c == "TlsInterception" || c == "TlsHandshakeTimeout")
    );
    // Within the TLS stage's budget (4 s) plus a second.
    assert!(run.elapsed < Duration::from_secs(4 + 1 + 1), "{:?}", run.elapsed);
    eprintln!(
        "path-MTU black hole: {got} bytes before the stall, retry {} ms, run {:?}",
        e["tls"]["mss_retry"]["duration_ms"], run.elapsed
    );

    // Control: with the router's ICMP allowed, the same path completes on the first try.
    ns(lab.name(1), &["ip", "rule", "del", "pref", "100"]);
    let run = lab.probe(0, dir.path(), &args);
    let e = &run.report["endpoints"][0];
    assert_eq!(e["tls"]["status"], "ok", "{e}");
    assert!(e["tls"]["mss_retry"].is_null());
    // Only the note that the lab's documentation addresses are special-purpose ones remains.
    assert_eq!(run.codes("ep"), ["DnsSpecialAddress"], "{}", run.report["findings"]);
}
