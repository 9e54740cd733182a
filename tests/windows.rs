#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Windows build (`x86_64-pc-windows-gnu`, release) run under wine64 against the lab on
//! loopback: the Windows code paths for the OS DNS configuration (GetAdaptersAddresses), the OS
//! trust store (the ROOT system store), stop handling (console control events) and output
//! errors, each report checked against the pinned shape.
//!
//! `tests/wine/setup.sh` builds the exe and a WINEPREFIX with the ProcessPrng shim (CI runs it
//! first; the tests run it themselves when needed). The tests skip only when
//! `AZS_NETPROBE_SKIP_WINE=1`, or when wine64 is missing and `AZS_TEST_ALLOW_MISSING=1` (logged
//! as skipped, as scripts/test.sh does for every missing program); otherwise a missing wine is a
//! failure.
//!
//! Each exe runs in its own mount namespace whose /etc/resolv.conf names the lab DNS server on
//! 127.83.0.1:53, so the OS DNS configuration the Windows build reads is the lab's and no
//! query leaves loopback. The runs share one prefix and one port 53: they take a lock.
#![cfg(target_os = "linux")]

mod common;
mod lab;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use lab::{DnsAnswer, DnsServer, SntpMode, SntpServer, TestCa, TlsServer, ok_response};
use serde_json::{Value, json};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The lab DNS server the namespace's resolv.conf names (a resolv.conf cannot name a port).
const OS_DNS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 83, 0, 1)), 53);
const WINE64: &str = "/usr/lib/wine/wine64";

struct Wine {
    root: PathBuf,
    exe: PathBuf,
    prefix: PathBuf,
}

static SETUP: OnceLock<Result<Wine, String>> = OnceLock::new();
static LOCK: Mutex<()> = Mutex::new(());

/// The prepared exe and prefix plus the lock, or `None` when explicitly opted out.
fn wine() -> Option<(&'static Wine, MutexGuard<'static, ()>)> {
    if std::env::var("AZS_NETPROBE_SKIP_WINE").is_ok_and(|v| v == "1") {
        eprintln!("skipped: AZS_NETPROBE_SKIP_WINE=1");
        return None;
    }
    if !common::require("wine64", Path::new(WINE64).exists(), "apt-get install wine64 (or tests/wine/setup.sh)") {
        return None;
    }
    let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let w = SETUP.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let out = Command::new(root.join("tests/wine/setup.sh"))
            .output()
            .map_err(|e| format!("run tests/wine/setup.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "tests/wine/setup.sh failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let prefix = root.join("target/wine/prefix");
        // One wineserver for all the runs, kept 30 s after the last one ends (then it exits by
        // itself): a run then starts in about 0.2 s instead of 4 s.
        // (It exits with 2 when a server for the prefix is already running: that one serves.)
        Command::new("/usr/lib/wine/wineserver")
            .arg("-p30")
            .env("WINEPREFIX", &prefix)
            .status()
            .map_err(|e| format!("start wineserver: {e}"))?;
        let exe = root.join("target/x86_64-pc-windows-gnu/release/azs-netprobe.exe");
        // Warm-up: the first process of a new prefix can be held (and in one CI-like run was
        // ended by a signal after finishing) while wine completes the prefix's first start.
        // One `--version` run, waited for, takes that before any test's run; its status is not
        // judged, the tests' own runs are.
        let _ = Command::new(WINE64)
            .arg(&exe)
            .arg("--version")
            .env("WINEPREFIX", &prefix)
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        Ok(Wine { exe, prefix, root })
    });
    match w {
        Ok(w) => Some((w, guard)),
        Err(e) => panic!("the Windows build cannot run under wine (set AZS_NETPROBE_SKIP_WINE=1 to skip): {e}"),
    }
}

impl Wine {
    /// `wine64 azs-netprobe.exe <args>` in `dir`, in a mount namespace whose /etc/resolv.conf
    /// names [`OS_DNS`], with no proxy variables unless the test sets them.
    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let resolv = dir.join("resolv.conf");
        std::fs::write(&resolv, format!("nameserver {}\n", OS_DNS.ip())).unwrap();
        let mut cmd = Command::new("unshare");
        cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(r#"mount --bind "$0" /etc/resolv.conf && exec "$@""#)
            .arg(&resolv)
            .arg(WINE64)
            .arg(&self.exe)
            .args(args)
            .current_dir(dir)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=");
        for v in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY"] {
            cmd.env_remove(v);
        }
        cmd.env_remove("no_proxy").env_remove("RUST_LOG");
        cmd
    }

    /// `wine64 reg.exe <args>` (the same prefix), asserting success.
    fn reg(&self, args: &[&str]) {
        let mut cmd = Command::new(WINE64);
        cmd.arg("reg").args(args).env("WINEPREFIX", &self.prefix).env("WINEDEBUG", "-all");
        let out = output(&mut cmd, &self.root.join("target/wine"));
        assert!(out.status.success(), "reg {args:?}: {}{}", stdout(&out), stderr(&out));
    }
}

/// Runs `cmd` with its standard output and error in files under `dir` and waits for the
/// process itself: the wine helper processes a run may start (services, winedevice) inherit
/// its standard handles and keep pipes open for as long as the wineserver lives.
fn output(cmd: &mut Command, dir: &Path) -> Output {
    let child = spawn(cmd, dir);
    finish(child, dir)
}

fn spawn(cmd: &mut Command, dir: &Path) -> std::process::Child {
    let out = std::fs::File::create(dir.join("stdout.txt")).unwrap();
    let err = std::fs::File::create(dir.join("stderr.txt")).unwrap();
    cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn().unwrap()
}

fn finish(mut child: std::process::Child, dir: &Path) -> Output {
    let status = child.wait().unwrap();
    let stdout = std::fs::read(dir.join("stdout.txt")).unwrap();
    let stderr = std::fs::read(dir.join("stderr.txt")).unwrap();
    Output { status, stdout, stderr }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct WineRun {
    code: Option<i32>,
    report: Value,
    out: Output,
    elapsed: Duration,
}

impl WineRun {
    fn endpoint(&self, name: &str) -> &Value {
        self.report["endpoints"].as_array().unwrap().iter().find(|e| e["name"] == name).unwrap()
    }

    fn codes_all(&self) -> Vec<String> {
        self.report["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
    }

    fn codes(&self, name: &str) -> Vec<String> {
        self.report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["endpoint"] == name)
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    }
}

/// Runs the exe with `args` plus `--out report.json` (relative: the exe sees Windows paths).
fn run(w: &Wine, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> WineRun {
    let report = dir.join("report.json");
    let _ = std::fs::remove_file(&report);
    let mut all = args.to_vec();
    all.extend(["--out", "report.json"]);
    let mut cmd = w.command(dir, &all);
    cmd.envs(env.iter().copied());
    let start = Instant::now();
    let out = output(&mut cmd, dir);
    let elapsed = start.elapsed();
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|e| panic!("no report ({e}); stdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out)));
    common::shape::check(&text);
    WineRun { code: out.status.code(), report: serde_json::from_str(&text).unwrap(), out, elapsed }
}

fn endpoint(name: &str, role: &str, url: &str) -> String {
    format!("[[endpoint]]\nname = \"{name}\"\nrole = \"{role}\"\nurl = \"{url}\"\npublic = false\n")
}

/// A healthy lab: login.lab.test and usage.lab.test on one TLS server signed by `ca`.
struct Lab {
    ca: TestCa,
    dns: DnsServer,
    tls: TlsServer,
    sntp: SntpServer,
}

fn lab(extra_zone: Vec<(&str, DnsAnswer)>) -> Lab {
    let ca = TestCa::new("Wine Lab Root");
    let tls = TlsServer::start(LO, &ca.leaf(&["login.lab.test", "usage.lab.test"]), ok_response());
    let mut zone = vec![
        ("login.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
        ("usage.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST])),
    ];
    zone.extend(extra_zone);
    let dns = DnsServer::start_on(OS_DNS, zone);
    Lab { ca, dns, tls, sntp: SntpServer::start(SntpMode::Offset(0.0)) }
}

impl Lab {
    fn probes(&self, dir: &Path, extra: &str) -> PathBuf {
        let port = self.tls.addr.port();
        let text = endpoint("login", "login", &format!("https://login.lab.test:{port}/"))
            + &endpoint("usage", "usage", &format!("https://usage.lab.test:{port}/"))
            + extra;
        common::probe_file(dir, &text)
    }
}

/// A CONNECT proxy that tunnels to the lab's names (it refuses any other target).
fn lab_proxy() -> lab::ConnectProxy {
    lab::ConnectProxy::start_with_hosts(lab::ProxyMode::PassThrough, &[("login.lab.test", LO), ("usage.lab.test", LO)])
}

#[test]
fn healthy_run_uses_the_windows_dns_configuration() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(vec![]);
    let ca = lab.ca.write_pem(dir.path(), "ca.pem");
    lab.probes(dir.path(), "");
    let ntp = lab.sntp.arg();
    let args = ["run", "--probes", "probes.toml", "--public-roots", "ca.pem", "--system-roots", "ca.pem"];
    let r = run(w, dir.path(), &[&args[..], &["--ntp-server", &ntp, "--timeout", "5s"]].concat(), &[]);
    let _ = ca;
    assert_eq!(r.code, Some(0), "{}\n{}", stdout(&r.out), stderr(&r.out));
    assert!(r.report["node"]["os"].as_str().unwrap().to_lowercase().contains("windows"), "{}", r.report["node"]);
    // No --dns-server: the servers come from the OS (wine's GetAdaptersAddresses reads the namespace's resolv.conf).
    assert_eq!(r.report["config"]["dns_servers"], json!([OS_DNS.to_string()]));
    for name in ["login", "usage"] {
        let e = r.endpoint(name);
        assert_eq!(e["verdict"], "ok", "{e}");
        assert_eq!(e["dns"]["server"], OS_DNS.to_string());
        assert_eq!(e["dns"]["addresses"], json!(["127.0.0.1"]));
        assert_eq!(
            (e["tls"]["trust"]["public"].as_str(), e["tls"]["trust"]["system"].as_str()),
            (Some("trusted"), Some("trusted"))
        );
        // --system-roots names a file: its anchors, judged by webpki, not the Windows engine.
        assert_eq!(e["tls"]["trust"]["system_engine"], "webpki");
        assert_eq!(e["http"]["status_code"], 200);
    }
    assert_eq!(r.report["config"]["trust"]["system"]["engine"], "webpki");
    assert!(lab.dns.queries() >= 2, "the lab DNS server answered");
    assert_eq!(r.report["clock"]["verdict"], "ok");
    assert!(lab.sntp.requests() >= 1);
    assert!(r.elapsed < Duration::from_secs(20), "took {:?}", r.elapsed);
}

#[test]
fn dns_failure_under_windows() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(vec![("gone.lab.test", DnsAnswer::NxDomain)]);
    lab.ca.write_pem(dir.path(), "ca.pem");
    lab.probes(dir.path(), &endpoint("gone", "registration", "https://gone.lab.test/"));
    let args = ["run", "--probes", "probes.toml", "--public-roots", "ca.pem", "--system-roots", "ca.pem"];
    let r = run(w, dir.path(), &[&args[..], &["--ntp-server", &lab.sntp.arg(), "--timeout", "3s"]].concat(), &[]);
    assert_eq!(r.code, Some(2), "{}", stdout(&r.out));
    let e = r.endpoint("gone");
    assert_eq!(e["dns"]["status"], "nxdomain", "{e}");
    assert_eq!(e["dns"]["server"], OS_DNS.to_string());
    assert_eq!(r.codes("gone"), vec!["DnsNameNotFound"]);
    assert_eq!(r.endpoint("login")["verdict"], "ok");
}

/// No --system-roots: the OS store is the Windows ROOT system store (wine fills it from the
/// Linux CA bundle), which does not hold the lab CA; an explicit intercepting proxy minting
/// leaves from a CA nobody trusts is interception (the proxy is in the path).
#[test]
fn intercepted_chain_and_the_windows_root_store() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(vec![]);
    lab.ca.write_pem(dir.path(), "ca.pem");
    let ntp = lab.sntp.arg();

    // The Windows store alone (its chain engine): the lab root is not in it. This server sends
    // its root too, so the engine builds the path and finds the root untrusted (from a leaf
    // alone, wine 8's SSL policy reports the leaf's unknown revocation first, which Windows
    // ignores under the policy flags the verifier sets: see tests below).
    let mut leaf = lab.ca.leaf(&["usage.lab.test"]);
    leaf.chain_der.push(lab.ca.cert_der.clone());
    let rooted = TlsServer::start(LO, &leaf, ok_response());
    common::probe_file(
        dir.path(),
        &endpoint("usage", "usage", &format!("https://usage.lab.test:{}/", rooted.addr.port())),
    );
    let r =
        run(w, dir.path(), &["run", "--probes", "probes.toml", "--public-roots", "ca.pem", "--ntp-server", &ntp], &[]);
    lab.probes(dir.path(), "");
    let trust = &r.endpoint("usage")["tls"]["trust"];
    assert_eq!(trust["public"], "trusted", "{trust}");
    assert_eq!(trust["system"], "unknown_issuer", "the Windows ROOT store was read, without the lab CA: {trust}");
    assert_eq!(trust["system_engine"], "windows_chain_engine", "{trust}");
    assert_eq!(r.report["config"]["trust"]["system"]["engine"], "windows_chain_engine");

    let corp = TestCa::new_with("Contoso Egress Inspection CA", "Contoso Ltd");
    let mitm = lab::MitmProxy::explicit(&corp, lab::Upstream::Forward(lab.tls.addr));
    let r = run(
        w,
        dir.path(),
        &["run", "--probes", "probes.toml", "--public-roots", "ca.pem", "--ntp-server", &ntp, "--proxy", &mitm.url()],
        &[],
    );
    assert_eq!(r.code, Some(2), "{}", stdout(&r.out));
    let i = &r.endpoint("usage")["tls"]["interception"];
    assert_eq!(i["detected"], true, "{i}");
    assert_eq!(i["trusted_by_system"], false);
    assert!(r.codes("usage").contains(&"TlsInterception".to_string()), "{:?}", r.codes("usage"));
    assert!(!mitm.minted().is_empty());
}

/// HTTPS_PROXY from the environment (the probe's default on Windows when WinHTTP names none):
/// every endpoint goes through the CONNECT proxy.
#[test]
fn run_through_a_proxy_from_the_environment() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(vec![]);
    lab.ca.write_pem(dir.path(), "ca.pem");
    lab.probes(dir.path(), "");
    let proxy = lab_proxy();
    let args = ["run", "--probes", "probes.toml", "--public-roots", "ca.pem", "--system-roots", "ca.pem"];
    let r =
        run(w, dir.path(), &[&args[..], &["--ntp-server", &lab.sntp.arg()]].concat(), &[("HTTPS_PROXY", &proxy.url())]);
    // WinHTTP (what services use) says direct: the settings disagree, a warning.
    assert_eq!(r.code, Some(1), "{}", stdout(&r.out));
    assert_eq!(r.codes_all(), vec!["ProxyConfigMismatch"]);
    assert_eq!(r.report["config"]["proxy"]["source"], "env", "{}", r.report["config"]);
    for name in ["login", "usage"] {
        let e = r.endpoint(name);
        assert_eq!(e["proxy"]["status"], "ok", "{e}");
        assert_eq!(e["http"]["status_code"], 200);
    }
    assert_eq!(proxy.requests().len(), 2, "{:?}", proxy.requests());
}

/// Ctrl-C: wine turns SIGINT into CTRL_C_EVENT for the process's console control handlers
/// (ntdll's SIGINT handler starts kernelbase's CtrlRoutine), which is what tokio's
/// `ctrl_c()` listens to on Windows (SetConsoleCtrlHandler).
#[test]
fn ctrl_c_stops_the_run_and_writes_the_report() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(vec![]);
    lab.ca.write_pem(dir.path(), "ca.pem");
    let hole = lab::blackhole();
    lab.probes(dir.path(), &endpoint("hang", "usage", &format!("https://127.0.0.1:{}/", hole.addr.port())));
    let mut cmd = w.command(
        dir.path(),
        &["run", "--probes", "probes.toml", "--public-roots", "ca.pem", "--system-roots", "ca.pem"],
    );
    cmd.args(["--ntp-server", &lab.sntp.arg(), "--timeout", "60s", "--out", "report.json"]);
    let mut child = spawn(&mut cmd, dir.path());
    // Wait for the quick endpoints (the exe is up and probing), then stop it.
    let started = Instant::now();
    while lab.tls.requests().len() < 2 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none(), "still waiting on the black hole");
    // `unshare` execs sh, which execs wine64: the child's pid is the Windows process.
    let sent = Instant::now();
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = finish(child, dir.path());
    let stopped_in = sent.elapsed();
    assert!(stopped_in < Duration::from_secs(3), "stopped in {stopped_in:?}: {}", stderr(&out));
    assert_eq!(out.status.code(), Some(3), "{}{}", stdout(&out), stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    common::shape::check(&text);
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["run"]["interrupted"], true);
    let hang = r["endpoints"].as_array().unwrap().iter().find(|e| e["name"] == "hang").unwrap();
    assert_eq!(hang["stage"], "tcp: interrupted", "{hang}");
    let login = r["endpoints"].as_array().unwrap().iter().find(|e| e["name"] == "login").unwrap();
    assert_eq!(login["verdict"], "ok", "finished before the stop: {login}");
}

#[test]
fn unwritable_out_is_refused_with_the_windows_error() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(vec![]);
    lab.probes(dir.path(), "");
    for (out, needle) in [
        ("missing/r.json", "--out missing/r.json: the folder missing does not exist"),
        ("/sys/r.json", "cannot write --out /sys/r.json"),
    ] {
        let o = output(&mut w.command(dir.path(), &["run", "--probes", "probes.toml", "--out", out]), dir.path());
        assert_eq!(o.status.code(), Some(3), "{out}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "`{needle}` in: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    assert!(lab.tls.requests().is_empty(), "refused before probing");
    assert!(w.root.exists());
}

/// Registry values set for one test with `wine reg add`, deleted again on drop (the prefix is
/// shared by the tests, which run one at a time).
struct RegValues<'a> {
    wine: &'a Wine,
    keys: Vec<&'static str>,
    values: Vec<(&'static str, &'static str)>,
}

impl<'a> RegValues<'a> {
    fn new(wine: &'a Wine) -> RegValues<'a> {
        RegValues { wine, keys: Vec::new(), values: Vec::new() }
    }

    /// `reg add <key> /v <name> /t <ty> /d <data> /f`; `own_key`: the key is removed afterwards.
    fn add(&mut self, key: &'static str, name: &'static str, ty: &str, data: &str, own_key: bool) {
        self.wine.reg(&["add", key, "/v", name, "/t", ty, "/d", data, "/f"]);
        if own_key {
            if !self.keys.contains(&key) {
                self.keys.push(key);
            }
        } else if !self.values.contains(&(key, name)) {
            self.values.push((key, name));
        }
    }
}

impl Drop for RegValues<'_> {
    fn drop(&mut self) {
        for (key, name) in &self.values {
            self.wine.reg(&["delete", key, "/v", name, "/f"]);
        }
        for key in &self.keys {
            self.wine.reg(&["delete", key, "/f"]);
        }
    }
}

const TLS12_CLIENT: &str = r"HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2\Client";
const DOTNET: &str = r"HKLM\SOFTWARE\Microsoft\.NETFramework\v4.0.30319";
const W32TIME: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\W32Time\Parameters";
const CONNECTIONS: &str = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections";
const USER_INTERNET: &str = r"HKCU\SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings";

fn finding<'a>(r: &'a WineRun, code: &str) -> &'a Value {
    r.report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code}: {}", serde_json::to_string_pretty(&r.report["findings"]).unwrap()))
}

fn healthy_args(lab: &Lab) -> Vec<String> {
    ["run", "--probes", "probes.toml", "--public-roots", "ca.pem", "--system-roots", "ca.pem", "--ntp-server"]
        .iter()
        .map(|s| s.to_string())
        .chain([lab.sntp.arg()])
        .collect()
}

/// The healthy lab of the registry tests, its CA and probe file in `dir`, and the run's arguments.
fn registry_lab(dir: &Path) -> (Lab, Vec<String>) {
    let lab = lab(vec![]);
    lab.ca.write_pem(dir, "ca.pem");
    lab.probes(dir, "");
    let args = healthy_args(&lab);
    (lab, args)
}

/// Schannel's TLS 1.2 client switched off (Enabled=0, then DisabledByDefault=1), and .NET
/// without SchUseStrongCrypto: TlsClientProtocolDisabled, an error although every endpoint passed.
#[test]
fn registry_tls12_client_switched_off() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_lab, args) = registry_lab(dir.path()); // the servers live to the end of the test
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let r = run(w, dir.path(), &args, &[]);
    assert_eq!(r.code, Some(0), "a clean prefix: {}", r.report["findings"]);
    assert_eq!(
        r.report["node"]["platform"]["tls_client"],
        json!({"source": "schannel", "disabled_protocols": [], "detail": []})
    );

    for (name, data) in [("Enabled", "0"), ("DisabledByDefault", "1")] {
        let mut reg = RegValues::new(w);
        reg.add(TLS12_CLIENT, name, "REG_DWORD", data, true);
        let r = run(w, dir.path(), &args, &[]);
        assert_eq!(r.code, Some(2), "{name}={data}: {}", stdout(&r.out));
        assert_eq!(r.report["node"]["platform"]["tls_client"]["disabled_protocols"], json!(["TLS 1.2"]));
        let f = finding(&r, "TlsClientProtocolDisabled");
        assert_eq!(f["severity"], "error");
        assert_eq!(f["endpoint"], Value::Null);
        assert!(f["message"].as_str().unwrap().contains("Schannel's client has TLS 1.2 switched off"), "{f}");
        assert_eq!(r.endpoint("usage")["verdict"], "ok", "the network is fine");
    }

    let mut reg = RegValues::new(w);
    reg.add(DOTNET, "SchUseStrongCrypto", "REG_DWORD", "0", true);
    let r = run(w, dir.path(), &args, &[]);
    let f = finding(&r, "TlsClientProtocolDisabled");
    let m = f["message"].as_str().unwrap();
    assert!(m.contains(r"SchUseStrongCrypto=0 (not 1)") && m.contains("SystemDefaultTlsVersions is not set"), "{m}");
    drop(reg);
    let r = run(w, dir.path(), &args, &[]);
    assert_eq!(r.code, Some(0), "restored: {}", r.report["findings"]);
}

/// W32Time: NoSync, then NTP with a server lacking the 0x8 client-mode flag.
#[test]
fn registry_w32time_source_unreliable() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_lab, args) = registry_lab(dir.path()); // the servers live to the end of the test
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let mut reg = RegValues::new(w);
    reg.add(W32TIME, "Type", "REG_SZ", "NoSync", false);
    let r = run(w, dir.path(), &args, &[]);
    assert_eq!(r.code, Some(1), "a warning: {}", r.report["findings"]);
    let t = &r.report["node"]["platform"]["time_service"];
    assert_eq!((t["service"].as_str(), t["mode"].as_str()), (Some("none"), Some("NoSync")), "{t}");
    let f = finding(&r, "TimeSourceUnreliable");
    assert_eq!(f["severity"], "warning");
    assert!(f["message"].as_str().unwrap().contains("syncs from nothing (Type=NoSync)"), "{f}");

    reg.add(W32TIME, "Type", "REG_SZ", "NTP", false);
    reg.add(W32TIME, "NtpServer", "REG_SZ", "10.0.0.1,0x8 time.lab.test,0x1", false);
    let r = run(w, dir.path(), &args, &[]);
    let t = &r.report["node"]["platform"]["time_service"];
    assert_eq!(t["configured"], json!(["10.0.0.1,0x8", "time.lab.test,0x1"]), "{t}");
    let f = finding(&r, "TimeSourceUnreliable");
    assert!(
        f["message"].as_str().unwrap().contains("NtpServer time.lab.test,0x1 lacks the client-mode flag 0x8"),
        "{f}"
    );
    assert!(f["remediation"]["steps"][0].as_str().unwrap().contains("10.0.0.1,0x8 time.lab.test,0x1"), "{f}");

    reg.add(W32TIME, "NtpServer", "REG_SZ", "10.0.0.1,0x8", false);
    let r = run(w, dir.path(), &args, &[]);
    assert_eq!(r.code, Some(0), "flag 0x8 set: {}", r.report["findings"]);
}

/// WinHTTP proxy set: probed without --proxy (config.proxy.source winhttp) through it; an
/// HTTPS_PROXY naming another proxy is ProxyConfigMismatch; a user PAC URL is info.
#[test]
fn registry_winhttp_proxy_is_probed_and_compared() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_lab, args) = registry_lab(dir.path()); // the servers live to the end of the test
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let winhttp = lab_proxy();
    let other = lab_proxy();
    let hostport = winhttp.url().trim_start_matches("http://").trim_end_matches('/').to_string();
    let blob =
        azs_netprobe::platform::winhttp::encode(azs_netprobe::platform::winhttp::FLAG_PROXY, &hostport, "<local>");
    let mut reg = RegValues::new(w);
    reg.add(CONNECTIONS, "WinHttpSettings", "REG_BINARY", &hex::encode(&blob), false);

    let r = run(w, dir.path(), &args, &[]);
    assert_eq!(r.code, Some(0), "{}", r.report["findings"]);
    assert_eq!(r.report["config"]["proxy"]["source"], "winhttp", "{}", r.report["config"]);
    assert_eq!(r.endpoint("usage")["proxy"]["status"], "ok");
    assert_eq!(winhttp.requests().len(), 2, "both endpoints through the WinHTTP proxy");
    let p = &r.report["node"]["platform"]["proxies"][0];
    assert_eq!((p["source"].as_str(), p["proxy"].as_str()), (Some("winhttp"), Some(hostport.as_str())), "{p}");

    let r = run(w, dir.path(), &args, &[("HTTPS_PROXY", &other.url())]);
    assert_eq!(r.code, Some(1), "{}", r.report["findings"]);
    let f = finding(&r, "ProxyConfigMismatch");
    let m = f["message"].as_str().unwrap();
    assert!(m.contains(&format!("winhttp: {hostport}")) && m.contains(&format!("env: {}", other.url())), "{m}");
    assert!(m.contains("(winhttp)"), "names the probed source: {m}");
    assert!(other.requests().is_empty(), "the WinHTTP proxy wins");

    reg.add(USER_INTERNET, "AutoConfigURL", "REG_SZ", "http://wpad.lab.test/proxy.pac", false);
    let r = run(w, dir.path(), &args, &[]);
    let f = finding(&r, "ProxyAutoConfig");
    assert_eq!(f["severity"], "info");
    assert!(f["message"].as_str().unwrap().contains("http://wpad.lab.test/proxy.pac"), "{f}");
    assert!(f["message"].as_str().unwrap().contains("the PAC script was not evaluated"), "{f}");
}

const ROOT_CERTS: &str = r"HKLM\Software\Microsoft\SystemCertificates\Root\Certificates";

/// A root added to the prefix's machine ROOT store the way Windows keeps one in the registry
/// (what `certutil -addstore root` writes): the key
/// `HKLM\Software\Microsoft\SystemCertificates\Root\Certificates\<SHA-1, upper-case hex>` with
/// a REG_BINARY `Blob` holding a serialized store element (property id 32, the certificate:
/// `u32 id, u32 1, u32 length`, then the DER). Removed again when `reg` drops.
fn add_root(reg: &mut RegValues<'_>, der: &[u8]) {
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let key: &'static str = Box::leak(format!(r"{ROOT_CERTS}\{}", hex::encode_upper(sha1.as_ref())).into_boxed_str());
    let mut blob = Vec::new();
    for n in [32u32, 1, u32::try_from(der.len()).unwrap()] {
        blob.extend(n.to_le_bytes());
    }
    blob.extend_from_slice(der);
    reg.add(key, "Blob", "REG_BINARY", &hex::encode(&blob), true);
}

/// No `--system-roots`: the OS-store verdict is the Windows chain engine's (crypt32 under
/// wine). A lab root not in the Windows ROOT store is `unknown_issuer`; added to it through
/// the registry, the same chain is trusted; expired, not yet valid and misnamed leaves under
/// that root get the reasons webpki gives them for the public store.
#[test]
fn windows_chain_engine_judges_against_the_windows_root_store() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let day = time::Duration::days(1);
    let ca = TestCa::new("Wine Engine Root");
    let (web, crl_url) = crl_server(&ca);
    let leaf = |name: &str, dates: Option<(time::OffsetDateTime, time::OffsetDateTime)>| {
        ca.leaf_edited(&[name], |p| {
            lab::name_urls(p, std::slice::from_ref(&crl_url), &[], &[]);
            if let Some((from, to)) = dates {
                (p.not_before, p.not_after) = (from, to);
            }
        })
    };
    let good = TlsServer::start(LO, &leaf("good.lab.test", None), ok_response());
    let old = TlsServer::start(LO, &leaf("old.lab.test", Some((now - 30 * day, now - day))), ok_response());
    let early = TlsServer::start(LO, &leaf("early.lab.test", Some((now + day, now + 30 * day))), ok_response());
    let misnamed = TlsServer::start(LO, &leaf("other.lab.test", None), ok_response());
    let mut with_root = leaf("rooted.lab.test", None);
    with_root.chain_der.push(ca.cert_der.clone());
    let rooted = TlsServer::start(LO, &with_root, ok_response());
    let names = ["good", "old", "early", "misnamed", "rooted"];
    let zone = names.iter().map(|n| (format!("{n}.lab.test"), DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))).collect();
    let _dns = DnsServer::start_on(OS_DNS, zone_of(zone));
    let sntp = SntpServer::start(SntpMode::Offset(0.0));
    ca.write_pem(dir.path(), "ca.pem");
    let mut text = String::new();
    for (name, server) in names.iter().zip([&good, &old, &early, &misnamed, &rooted]) {
        text += &endpoint(name, "usage", &format!("https://{name}.lab.test:{}/", server.addr.port()));
    }
    common::probe_file(dir.path(), &text);
    let ntp = sntp.arg();
    let args = ["run", "--probes", "probes.toml", "--public-roots", "ca.pem", "--ntp-server", &ntp, "--no-revocation"];

    let before = run(w, dir.path(), &args, &[]);
    // The server sends its root too: the engine builds the path, the root is not trusted.
    let trust = &before.endpoint("rooted")["tls"]["trust"];
    assert_eq!(
        (trust["public"].as_str(), trust["system"].as_str()),
        (Some("trusted"), Some("unknown_issuer")),
        "{trust}"
    );
    assert_eq!(trust["system_engine"], "windows_chain_engine");
    // The leaf alone: no path, so no issuer to check its CRL with either. Windows says
    // CERT_E_CHAINING (unknown_issuer); wine 8's SSL policy reports the unknown revocation
    // first (CERT_E_REVOCATION_FAILURE, `other`): either way not trusted.
    let trust = &before.endpoint("good")["tls"]["trust"];
    assert!(["unknown_issuer", "other"].contains(&trust["system"].as_str().unwrap()), "{trust}");
    assert_eq!(trust["system_engine"], "windows_chain_engine");

    let mut reg = RegValues::new(w);
    add_root(&mut reg, &ca.cert_der);
    let r = run(w, dir.path(), &args, &[]);
    let system = &r.report["config"]["trust"]["system"];
    assert_eq!(system["engine"], "windows_chain_engine", "{system}");
    for (name, want) in [
        ("good", "trusted"),
        ("rooted", "trusted"),
        ("old", "expired"),
        ("early", "not_yet_valid"),
        ("misnamed", "name_mismatch"),
    ] {
        let trust = &r.endpoint(name)["tls"]["trust"];
        assert_eq!(trust["system"], want, "{name}: {trust}");
        assert_eq!(trust["public"], want, "{name}: webpki agrees: {trust}");
        assert_eq!(trust["system_engine"], "windows_chain_engine", "{name}");
    }
    assert_eq!(r.endpoint("good")["verdict"], "ok", "{}", r.endpoint("good"));

    drop(reg);
    let r = run(w, dir.path(), &args, &[]);
    assert_eq!(r.endpoint("rooted")["tls"]["trust"]["system"], "unknown_issuer", "removed again");
    let crl_path = &crl_url[crl_url.rfind('/').unwrap()..];
    assert!(web.count(crl_path) >= 1, "crypt32 checked the leaves' revocation: {:?}", web.requests());
}

/// A path no earlier test served: wine's crypt32 keeps what it fetched in the prefix's URL
/// cache, keyed by URL, and a later test's server may get the same loopback port.
fn unique_path(name: &str) -> String {
    format!("/{}-{name}", uuid::Uuid::new_v4().simple())
}

/// A lab web server with an empty CRL of `ca` at a [`unique_path`], and that URL. Wine 8's SSL chain
/// policy reports CERT_E_REVOCATION_FAILURE for a leaf whose revocation is unknown, whatever
/// the policy's ignore-unknown-revocation flags (Windows, and wine from 10.1, honour them):
/// the lab leaves under wine name a CRL, as public leaves do.
fn crl_server(ca: &TestCa) -> (lab::WebServer, String) {
    let now = time::OffsetDateTime::now_utc();
    let crl = lab::crl(ca, &[], now - time::Duration::hours(1), now + time::Duration::days(7));
    let crl_path = unique_path("ca.crl");
    let url_path = crl_path.clone();
    let web = lab::WebServer::start(std::sync::Arc::new(move |path: &str| {
        if path == crl_path {
            lab::Reply::ok("application/pkix-crl", crl.clone())
        } else {
            lab::Reply::Body { status: 404, content_type: "text/plain".into(), body: b"no".to_vec() }
        }
    }));
    let url = format!("{}{url_path}", web.base());
    (web, url)
}

fn zone_of(zone: Vec<(String, DnsAnswer)>) -> Vec<(&'static str, DnsAnswer)> {
    zone.into_iter().map(|(n, a)| (&*Box::leak(n.into_boxed_str()), a)).collect()
}

/// A server that sends its leaf alone, the intermediate named by the leaf's AIA caIssuers URL
/// on a lab web server (127.0.0.1), the root in the Windows ROOT store: the Windows chain
/// engine fetches the intermediate (as Schannel does) and trusts the chain, where webpki
/// (no fetching) finds no issuer. `--no-revocation`: the probe itself fetches nothing, so
/// every request the web server sees is crypt32's.
#[test]
fn windows_chain_engine_fetches_a_missing_intermediate() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let root = TestCa::new("Wine AIA Root");
    let inter = root.intermediate("Wine AIA Issuing CA");
    let inter_der = inter.cert_der.clone();
    let now = time::OffsetDateTime::now_utc();
    let crl = lab::crl(&inter, &[], now - time::Duration::hours(1), now + time::Duration::days(7));
    let (cer_path, crl_path) = (unique_path("issuing.cer"), unique_path("ca.crl"));
    let (cer_at, crl_at) = (cer_path.clone(), crl_path.clone());
    let web = lab::WebServer::start(std::sync::Arc::new(move |path: &str| {
        if path == cer_at {
            lab::Reply::ok("application/pkix-cert", inter_der.clone())
        } else if path == crl_at {
            lab::Reply::ok("application/pkix-crl", crl.clone())
        } else {
            lab::Reply::Body { status: 404, content_type: "text/plain".into(), body: b"no".to_vec() }
        }
    }));
    let url = format!("{}{cer_path}", web.base());
    let crl_url = format!("{}{crl_path}", web.base());
    let mut leaf =
        inter.leaf_edited(&["aia.lab.test"], |p| lab::name_urls(p, &[crl_url], &[], std::slice::from_ref(&url)));
    leaf.chain_der.truncate(1);
    let tls = TlsServer::start(LO, &leaf, ok_response());
    let _dns = DnsServer::start_on(OS_DNS, vec![("aia.lab.test", DnsAnswer::A(vec![Ipv4Addr::LOCALHOST]))]);
    let sntp = SntpServer::start(SntpMode::Offset(0.0));
    root.write_pem(dir.path(), "root.pem");
    common::probe_file(dir.path(), &endpoint("aia", "usage", &format!("https://aia.lab.test:{}/", tls.addr.port())));
    let ntp = sntp.arg();
    let args =
        ["run", "--probes", "probes.toml", "--public-roots", "root.pem", "--ntp-server", &ntp, "--no-revocation"];

    let mut reg = RegValues::new(w);
    add_root(&mut reg, &root.cert_der);
    let r = run(w, dir.path(), &args, &[]);
    let e = r.endpoint("aia");
    assert_eq!(e["tls"]["chain"].as_array().unwrap().len(), 1, "the server sent the leaf alone: {e}");
    let trust = &e["tls"]["trust"];
    assert_eq!(trust["public"], "unknown_issuer", "webpki does not fetch: {trust}");
    assert_eq!(trust["system"], "trusted", "the Windows engine fetched the intermediate: {trust}");
    assert_eq!(trust["system_engine"], "windows_chain_engine");
    let fetched = web.requests();
    assert!(web.count(&cer_path) >= 1, "{fetched:?}");
    assert!(
        fetched.iter().all(|h| !h.to_lowercase().contains("user-agent: azs-netprobe")),
        "crypt32 fetched it, not the probe: {fetched:?}"
    );
}

/// `w32tm /query /source` (wine 8 has no w32tm: tests/wine/w32tm.c stands in for it and prints
/// AZS_TEST_W32TM_SOURCE): a node following its CMOS or free-running clock is
/// TimeSourceUnreliable; a real server is not; a w32tm that fails leaves the source unknown.
#[test]
fn w32tm_source_names_the_clock_the_node_follows() {
    let Some((w, _lock)) = wine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_lab, args) = registry_lab(dir.path()); // the servers live to the end of the test
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    for source in ["Local CMOS Clock", "Free-running System Clock"] {
        let r = run(w, dir.path(), &args, &[("AZS_TEST_W32TM_SOURCE", source)]);
        assert_eq!(r.code, Some(1), "{source}: a warning: {}", r.report["findings"]);
        let t = &r.report["node"]["platform"]["time_service"];
        assert_eq!(t["source"], source, "{t}");
        let f = finding(&r, "TimeSourceUnreliable");
        assert!(f["message"].as_str().unwrap().contains(&format!("the time source is the {source}")), "{f}");
    }

    let r = run(w, dir.path(), &args, &[("AZS_TEST_W32TM_SOURCE", "time.lab.test,0x8")]);
    assert_eq!(r.code, Some(0), "{}", r.report["findings"]);
    let t = &r.report["node"]["platform"]["time_service"];
    assert_eq!(t["source"], "time.lab.test,0x8", "{t}");
    assert!(t["detail"].as_str().unwrap().ends_with("w32tm /query /source"), "{t}");

    let r = run(w, dir.path(), &args, &[]);
    assert_eq!(r.code, Some(0), "{}", r.report["findings"]);
    let t = &r.report["node"]["platform"]["time_service"];
    assert_eq!(t["source"], Value::Null, "{t}");
    let detail = t["detail"].as_str().unwrap();
    assert!(detail.contains(r"w32tm.exe /query /source: failed: The following error occurred"), "{detail}");
}
