//! Command-line arguments (names are a contract: shared/DESIGN.md) → validated [`RunConfig`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::catalog::{CatalogError, ProbeSet, Target};
use crate::config::proxy::{self, ProxyRequest, ProxyUrlError};
use crate::config::{DEFAULT_CONCURRENCY, DnsConfig, Lang, OutputTarget, RunConfig, TrustSource, WatchConfig};

/// The command line: a subcommand, or `run`'s options without one (`run` is the default).
#[derive(Debug, Parser)]
#[command(
    name = "azs-netprobe",
    version,
    about = "Probe and diagnose Azure Stack Hub's connections to Entra ID, registration and usage endpoints",
    subcommand_negates_reqs = true,
    // Scripts build argument lists from defaults plus overrides: a repeated single-value option
    // takes its last value (as in curl and ripgrep); list options (Vec) keep appending.
    args_override_self = true
)]
pub struct Cli {
    /// The subcommand; None runs `run` with the options in [`Cli::run`].
    #[command(subcommand)]
    pub command: Option<Command>,
    /// `run` is the default subcommand: its options may be given without it.
    #[command(flatten)]
    pub run: RunArgs,
    /// More logs on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

impl Cli {
    /// Parse the process's arguments. `run`'s options may stand before the subcommands only when
    /// no subcommand is named (`azs-netprobe --timeout 3s` is `run --timeout 3s`); given before a
    /// subcommand they are refused, as they would be ambiguous. The global `-v` goes anywhere.
    ///
    /// # Errors
    /// clap's error for bad arguments, `--help` and `--version` (print it; exit 3 or 0).
    pub fn parse_args() -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Cli::command();
        let matches = command.try_get_matches_from_mut(std::env::args_os())?;
        if let Some((name, _)) = matches.subcommand() {
            let before = matches.ids().map(clap::Id::as_str).find(|id| {
                *id != "verbose" && matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
            });
            if let Some(id) = before {
                return Err(command.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "`--{}` is an option of `run`: give it after the subcommand `{name}`, or drop the subcommand",
                        id.replace('_', "-")
                    ),
                ));
            }
        }
        Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Probe every endpoint and write the report (the default).
    #[command(args_override_self = true)]
    Run(Box<RunArgs>),
    /// List the built-in probe sets and their endpoints.
    Probes,
    /// Print the report's JSON Schema.
    Schema,
    /// Explain a finding code or a portal code (usage or CSP registration): what it means, what to do.
    Explain {
        /// e.g. TlsInterception, LoginError, RegistrationNotFound.
        code: String,
        /// Language of the explanation (default: English).
        #[arg(long, value_parser = lang_parser(), ignore_case = true)]
        lang: Option<Lang>,
    },
    /// Write a report as one self-contained HTML page (for tickets).
    Render {
        /// The JSON report.
        report: PathBuf,
        /// Where to write the HTML page.
        #[arg(long, value_name = "FILE", required = true)]
        html: PathBuf,
        /// Language of the remediation text (default: the report's own); the report's findings
        /// are rendered again in it, without probing.
        #[arg(long, value_parser = lang_parser(), ignore_case = true)]
        lang: Option<Lang>,
    },
    /// Merge many nodes' reports into one fleet report that shows where nodes differ.
    Merge {
        /// The node reports to merge.
        #[arg(required = true, value_name = "REPORT")]
        reports: Vec<PathBuf>,
        /// Where to write the fleet report (JSON).
        #[arg(long, value_name = "FILE", required = true)]
        out: PathBuf,
        /// Also write the fleet report as an HTML page.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Compare two reports (node or fleet): what got fixed, what broke, what stayed.
    /// Exit 0 nothing new, 1 new warnings only, 2 a new error, 3 unreadable input.
    Diff {
        /// The earlier report.
        before: PathBuf,
        /// The later report.
        after: PathBuf,
        /// Write the comparison as JSON (`-` for standard output).
        #[arg(long, value_name = "FILE|-")]
        out: Option<PathBuf>,
        /// Write the comparison as an HTML page.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
}

/// The options of `run`, also accepted before or without the subcommand.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// The cloud the stamp is registered to.
    #[arg(long, value_parser = ["AzureCloud", "AzureUSGovernment", "AzureChinaCloud"], ignore_case = true)]
    pub cloud: Option<String>,
    /// A probe file (TOML) that replaces the built-in set.
    #[arg(long, value_name = "FILE")]
    pub probes: Option<PathBuf>,
    /// Add a target: https://host[:port][/path] or tcp://host:port (repeatable).
    #[arg(long = "endpoint", value_name = "URL", value_parser = TargetParser)]
    pub endpoints: Vec<Target>,
    /// Query these DNS servers instead of the OS configuration (repeatable).
    #[arg(long = "dns-server", value_name = "IP[:PORT]", value_parser = parse_dns_server)]
    pub dns_servers: Vec<SocketAddr>,
    /// Send HTTPS through this proxy: http://[user:pass@]host:port.
    /// (`--proxy` and `--no-proxy` override each other: the last one given wins.)
    #[arg(long, value_name = "URL", overrides_with = "no_proxy")]
    pub proxy: Option<String>,
    /// Connect directly, ignoring HTTPS_PROXY.
    #[arg(long, overrides_with = "proxy")]
    pub no_proxy: bool,
    /// NTP servers to measure the clock against (repeatable); replaces the probe set's (time.windows.com).
    #[arg(long = "ntp-server", value_name = "HOST[:PORT]", value_parser = parse_ntp_server)]
    pub ntp_servers: Vec<String>,
    /// PEM file replacing the built-in public trust anchors (webpki-roots).
    #[arg(long, value_name = "PEM")]
    pub public_roots: Option<PathBuf>,
    /// PEM file replacing the OS trust store.
    #[arg(long, value_name = "PEM")]
    pub system_roots: Option<PathBuf>,
    /// Bound of each stage (DNS, connect, TLS, HTTP), e.g. 3s, 500ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Where to write the report (`-` for standard output).
    #[arg(long, value_name = "FILE|-")]
    pub out: Option<String>,
    /// Language of remediation text.
    #[arg(long, value_parser = lang_parser(), ignore_case = true)]
    pub lang: Option<Lang>,
    /// Most endpoints probed at once.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: Option<u16>,
    /// Also write the report as a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write node_exporter textfile metrics (.prom).
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<PathBuf>,
    /// Replace internal IP addresses and this node's name with stable tokens (for reports that leave the site).
    #[arg(long)]
    pub redact: bool,
    /// `--watch` and its options.
    #[command(flatten)]
    pub watch: WatchArgs,
    /// Skip the CRL, OCSP and caIssuers fetches of the presented chains (air-gapped stamps).
    #[arg(long)]
    pub no_revocation: bool,
}

/// The watch options of `run` (the engine reads them as [`WatchConfig`]).
#[derive(Debug, clap::Args, Clone, Default)]
pub struct WatchArgs {
    /// Repeat the run every DURATION, start to start (e.g. 5m, 30s); until Ctrl-C or --count.
    #[arg(long, value_name = "DURATION", value_parser = parse_every)]
    pub every: Option<Duration>,
    /// With --every: stop after N rounds; the exit code is the worst round's.
    #[arg(long, value_name = "N", requires = "every", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Append one JSON line per round to this file (created if missing; never through a symlink).
    #[arg(long, value_name = "FILE.jsonl")]
    pub history: Option<PathBuf>,
}

fn parse_every(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (examples: 30s, 5m, 1h)"))?;
    if d < Duration::from_millis(100) {
        return Err(format!("`{s}`: the interval must be at least 100ms"));
    }
    if d > Duration::from_secs(7 * 24 * 3600) {
        return Err(format!("`{s}`: the interval must be at most a week"));
    }
    Ok(d)
}

/// The parser of `--lang`: `en`, `fr` or `zh` in any case (with `ignore_case = true`); `--help`
/// and errors list the values. [`Lang`] itself knows nothing of clap.
pub fn lang_parser() -> impl clap::builder::TypedValueParser<Value = Lang> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Lang::ALL.map(Lang::as_str)).try_map(|s| s.parse::<Lang>())
}

/// The parser of `--endpoint`. Its error names the target less any `user:password@`
/// ([`Target::parse`]): a plain value parser would have clap print the value as given, password
/// included ("invalid value '…' for '--endpoint <URL>'").
#[derive(Clone)]
struct TargetParser;

impl clap::builder::TypedValueParser for TargetParser {
    type Value = Target;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Target, clap::Error> {
        let name = arg.map_or_else(|| "--endpoint <URL>".to_string(), |a| a.to_string());
        let fail = |why: String| {
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, format!("invalid value for '{name}': {why}\n"))
                .with_cmd(cmd)
        };
        let text = value.to_str().ok_or_else(|| fail("the URL is not valid UTF-8".into()))?;
        Target::parse(text).map_err(|e| fail(e.to_string()))
    }
}

fn parse_dns_server(s: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    let sa = s.parse::<SocketAddr>().map_err(|_| format!("`{s}` is not IP or IP:PORT (IPv6 with a port: [::1]:53)"))?;
    if sa.port() == 0 {
        return Err(format!("`{s}`: port 0 is not a port a DNS server listens on (1-65535)"));
    }
    Ok(sa)
}

/// `--ntp-server HOST[:PORT]`, checked as the probe will read it (the text is kept as given).
fn parse_ntp_server(s: &str) -> Result<String, String> {
    crate::clock::parse_ntp_server(s).map_err(|e| format!("`{s}` is not HOST[:PORT]: {e}"))?;
    Ok(s.to_string())
}

/// A stage timeout rounded up to whole milliseconds: the report records milliseconds, and
/// what it records is what the stages use.
fn whole_millis(d: std::time::Duration) -> std::time::Duration {
    let ms = d.as_nanos().div_ceil(1_000_000);
    std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// Longest `--timeout` accepted: one stage waiting longer than this is no longer a probe, and
/// every deadline computed from it stays far from `Instant`'s range.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("`{s}`: {e} (examples: 3s, 500ms, 1m)"))?;
    if d.is_zero() {
        return Err("the timeout must be more than zero".into());
    }
    if d > MAX_TIMEOUT {
        return Err(format!("`{s}` is longer than the maximum timeout of 1h (3600s)"));
    }
    Ok(d)
}

impl RunArgs {
    /// Validate into a run configuration: loads the probe set (errors name file, line, column)
    /// and resolves the proxy from the flags and the environment.
    pub fn into_config(self) -> Result<RunConfig, ConfigError> {
        let cloud = self.cloud.unwrap_or_else(|| "AzureCloud".into());
        let mut probe_set = match &self.probes {
            Some(path) => ProbeSet::load(path)?,
            None => ProbeSet::builtin(&cloud)?,
        };
        // The canonical spelling of the cloud name.
        let cloud =
            crate::catalog::CLOUDS.iter().find(|c| c.eq_ignore_ascii_case(&cloud)).map_or(cloud, |c| c.to_string());
        probe_set.add_adhoc_all(self.endpoints);
        let proxy = match (self.proxy, self.no_proxy) {
            (Some(url), _) => ProxyRequest::Explicit(url),
            (None, true) => ProxyRequest::Disabled,
            (None, false) => ProxyRequest::FromEnvironment,
        };
        let proxy = crate::platform::default_proxy(&proxy, proxy::resolve_os(&proxy, |name| std::env::var_os(name))?)?;
        for entry in proxy.iter().flat_map(|p| p.no_proxy.malformed()) {
            tracing::warn!(
                "NO_PROXY entry `{entry}` is malformed and exempts nothing (see config.proxy in the report)"
            );
        }
        let out = match self.out.as_deref() {
            None => OutputTarget::Default,
            Some("-") => OutputTarget::Stdout,
            Some(p) => OutputTarget::File(PathBuf::from(p)),
        };
        let trust = |p: Option<PathBuf>| p.map_or(TrustSource::Builtin, TrustSource::File);
        let ntp_servers = if self.ntp_servers.is_empty() { probe_set.ntp_servers.clone() } else { self.ntp_servers };
        Ok(RunConfig {
            cloud,
            probe_set,
            probes_file: self.probes,
            dns: if self.dns_servers.is_empty() { DnsConfig::System } else { DnsConfig::Servers(self.dns_servers) },
            proxy,
            ntp_servers,
            public_roots: trust(self.public_roots),
            system_roots: trust(self.system_roots),
            stage_timeout: whole_millis(self.timeout.unwrap_or(crate::config::DEFAULT_TIMEOUT)),
            out,
            lang: self.lang.unwrap_or_default(),
            concurrency: self.concurrency.map_or(DEFAULT_CONCURRENCY, usize::from),
            html: self.html,
            prometheus: self.prometheus,
            redact: self.redact,
            watch: WatchConfig { every: self.watch.every, count: self.watch.count, history: self.watch.history },
            no_revocation: self.no_revocation,
        })
    }
}

/// Why the arguments do not make a run (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The probe set (`--probes`, `--cloud`) or an `--endpoint` target is invalid.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The proxy URL (`--proxy` or the environment) is invalid.
    #[error(transparent)]
    Proxy(#[from] ProxyUrlError),
}

/// The `probes` listing.
pub fn probes_listing() -> Result<String, CatalogError> {
    use std::fmt::Write;
    let mut out = String::new();
    for cloud in crate::catalog::CLOUDS {
        let set = ProbeSet::builtin(cloud)?;
        let _ = writeln!(out, "{} (version {}, sha256 {})", set.name, set.version, &set.sha256[..16]);
        if let Some(d) = &set.description {
            let _ = writeln!(out, "  {d}");
        }
        for e in &set.endpoints {
            let req = if e.required { "required" } else { "optional" };
            let rep = e.represents.as_deref().map(|w| format!(" [stands for {w}]")).unwrap_or_default();
            let _ = writeln!(out, "  {:<22} {:<13} {:<9} {}{rep}", e.name, e.role.as_str(), req, e.target);
        }
        for u in &set.uncovered {
            let _ = writeln!(out, "  not probed: {u}");
        }
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_is_bounded() {
        assert!(parse_every("10ms").is_err());
        assert_eq!(parse_every("200ms").unwrap(), Duration::from_millis(200));
        assert!(parse_every("8d").is_err());
    }
}
