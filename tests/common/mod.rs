#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Helpers shared by the integration tests: run the real binary, read its report.
#![allow(dead_code)]

pub mod shape;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_azs-netprobe");

/// One finished run of the binary.
pub struct Run {
    pub code: i32,
    pub report: Value,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub report_path: PathBuf,
}

impl Run {
    pub fn endpoint(&self, name: &str) -> &Value {
        self.report["endpoints"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["name"] == name))
            .unwrap_or_else(|| panic!("no endpoint {name} in {}", self.report))
    }

    /// Findings of one endpoint (codes in order).
    pub fn codes(&self, name: &str) -> Vec<String> {
        self.findings(name).iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
    }

    pub fn findings(&self, name: &str) -> Vec<&Value> {
        self.report["findings"].as_array().unwrap().iter().filter(|f| f["endpoint"] == name).collect()
    }

    pub fn finding(&self, name: &str, code: &str) -> &Value {
        self.findings(name).into_iter().find(|f| f["code"] == code).unwrap_or_else(|| {
            panic!("no {code} finding for {name}: {}", serde_json::to_string_pretty(&self.report["findings"]).unwrap())
        })
    }
}

pub fn command(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env_remove("RUST_LOG");
    cmd
}

/// Run the binary with `args` plus `--out <dir>/report.json`; parse the report.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    let report_path = dir.join("report.json");
    let _ = std::fs::remove_file(&report_path);
    let start = Instant::now();
    let out: Output = command(dir).args(args).arg("--out").arg(&report_path).output().expect("run the binary");
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let text = std::fs::read_to_string(&report_path).unwrap_or_else(|e| {
        panic!("no report at {} ({e}); stdout:\n{stdout}\nstderr:\n{stderr}", report_path.display())
    });
    let report: Value = serde_json::from_str(&text).expect("the report is JSON");
    // Every report the tests see must match the pinned shape exactly.
    shape::check(&text);
    Run { code: out.status.code().unwrap_or(-1), report, stdout, stderr, elapsed, report_path }
}

/// Write a probe file into `dir`.
pub fn probe_file(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("probes.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The lines that install what the tests meet (scripts/test.sh runs them).
pub const INSTALL_TINYPROXY: &str = "apt-get install -y tinyproxy-bin";
pub const INSTALL_SQUID: &str = "apt-get install -y squid-openssl";
pub const INSTALL_OPENSSL: &str = "apt-get install -y openssl";
pub const INSTALL_NGINX: &str = "apt-get install -y nginx-light";
pub const INSTALL_FAKETIME: &str = "apt-get install -y faketime";
pub const INSTALL_CHROMIUM: &str = "apt-get install -y chromium fonts-dejavu-core";
pub const INSTALL_MITMPROXY: &str = "python3 -m pip install mitmproxy==11.0.2";

/// Set to `1` to let a test run on a machine without the third-party programs the tests meet
/// (tinyproxy, squid, mitmproxy, openssl, libfaketime, Chromium): their tests are then skipped,
/// each noted in [`skip_log`], and scripts/test.sh prints how many at the end. Unset, a missing
/// program fails its test with the line that installs it.
pub const ALLOW_MISSING: &str = "AZS_TEST_ALLOW_MISSING";

/// Where skipped tests are listed, one `test<TAB>program<TAB>install line` per line
/// (`AZS_TEST_SKIP_LOG`, else target/tmp/skipped-tests.log).
pub fn skip_log() -> PathBuf {
    std::env::var_os("AZS_TEST_SKIP_LOG")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-tests.log"))
}

/// The one gate of every test that needs a third-party program: true when `present`. When it is
/// missing: a panic naming `install` (the line that installs it), unless [`ALLOW_MISSING`] is `1`;
/// then the skip is written to stderr and to [`skip_log`], and false is returned.
pub fn require(program: &str, present: bool, install: &str) -> bool {
    if present {
        return true;
    }
    let test = std::thread::current().name().unwrap_or("?").to_string();
    if std::env::var(ALLOW_MISSING).as_deref() != Ok("1") {
        panic!(
            "{program} is not installed: install it with `{install}` (or run scripts/test.sh, which does), \
             or set {ALLOW_MISSING}=1 to skip the tests that need it"
        );
    }
    eprintln!("SKIPPED {test}: {program} is not installed ({install})");
    use std::io::Write as _;
    let log = skip_log();
    if let Some(dir) = log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&log) {
        let _ = writeln!(f, "{test}\t{program}\t{install}");
    }
    false
}
