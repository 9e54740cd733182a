//! The validated configuration of one run: what `cli` produces and the engine consumes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub mod proxy;

use crate::catalog::ProbeSet;
use proxy::ProxyConfig;

/// Language of remediation text and of the human summary (the report's `config.lang`).
/// The command line parses it with [`Lang::from_str`](std::str::FromStr) (`cli`): the engine
/// does not depend on the argument parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English (`en`), the default and the fallback of missing texts.
    #[default]
    En,
    /// French (`fr`).
    Fr,
    /// Simplified Chinese (`zh`).
    Zh,
}

impl Lang {
    /// Every language, in the order `--help` lists them.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Fr, Lang::Zh];

    /// The stable label: the ISO 639-1 code (`en`, `fr`, `zh`), as in the report's `config.lang`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Zh => "zh",
        }
    }
}

/// A language code that is not `en`, `fr` or `zh`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a language of this tool (en, fr, zh)")]
pub struct UnknownLang(pub String);

impl std::str::FromStr for Lang {
    type Err = UnknownLang;

    /// `en`, `fr` or `zh`, in either case.
    fn from_str(s: &str) -> Result<Lang, UnknownLang> {
        Lang::ALL.into_iter().find(|l| l.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| UnknownLang(s.to_string()))
    }
}

/// Where the DNS stage sends its queries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsConfig {
    /// The operating system's resolver configuration (/etc/resolv.conf, the Windows registry).
    System,
    /// Explicit servers from `--dns-server`, in order.
    Servers(Vec<SocketAddr>),
}

/// Where a trust store comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustSource {
    /// The built-in anchors (webpki-roots for public, the OS store for system).
    Builtin,
    /// A PEM file that replaces the built-in anchors.
    File(PathBuf),
}

/// Where the report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    /// `azs-netprobe-<hostname>-<UTC timestamp>.json` in the working directory.
    Default,
    /// `--out -`.
    Stdout,
    /// `--out FILE`.
    File(PathBuf),
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The cloud named with `--cloud` (AzureCloud by default).
    pub cloud: String,
    /// The probe set to run (built-in or `--probes FILE`), with `--endpoint` targets added.
    pub probe_set: ProbeSet,
    /// The `--probes FILE` it was read from (an input no output may overwrite).
    pub probes_file: Option<PathBuf>,
    /// Where DNS queries go: the OS resolver, or `--dns-server` addresses.
    pub dns: DnsConfig,
    /// The proxy HTTPS endpoints go through (None: direct).
    pub proxy: Option<ProxyConfig>,
    /// NTP servers (`host` or `host:port`) the clock is measured against: `--ntp-server`, else the
    /// probe set's.
    pub ntp_servers: Vec<String>,
    /// The public trust anchors: the bundled webpki-roots, or `--public-roots FILE`.
    pub public_roots: TrustSource,
    /// The node's trust anchors: the OS store, or `--system-roots FILE`.
    pub system_roots: TrustSource,
    /// Bound of each stage (DNS, each TCP connect, TLS handshake, HTTP response head).
    pub stage_timeout: Duration,
    /// Where the JSON report goes (`--out`).
    pub out: OutputTarget,
    /// The language of the remediation text (`--lang`, English by default).
    pub lang: Lang,
    /// Most endpoints probed at once.
    pub concurrency: usize,
    /// Also write the report as HTML here.
    pub html: Option<PathBuf>,
    /// Also write node_exporter textfile metrics here.
    pub prometheus: Option<PathBuf>,
    /// Replace internal addresses and the node's name with tokens.
    pub redact: bool,
    /// `--every`, `--count`, `--history`.
    pub watch: WatchConfig,
    /// Skip the CRL, OCSP and caIssuers fetches (`--no-revocation`, air-gapped stamps).
    pub no_revocation: bool,
}

/// Watch mode: `run --every` repeats the run (`watch`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchConfig {
    /// Repeat the run at this interval, start to start (None: run once).
    pub every: Option<Duration>,
    /// With `every`: stop after this many rounds (None: until stopped).
    pub count: Option<u64>,
    /// Append one JSON line per round to this file.
    pub history: Option<PathBuf>,
}

/// The default per-stage timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default bound on endpoints probed at once: high enough that a large probe set runs in one
/// wave (BENCHMARKS.md: 64 made 200 endpoints take four round trips of waves), low enough to stay
/// well inside a default limit of 1024 open files.
pub const DEFAULT_CONCURRENCY: usize = 256;
