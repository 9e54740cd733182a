//! One run, end to end: load trust, probe every endpoint, diagnose, build the report, write it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use crate::clock;
use crate::config::{DnsConfig, OutputTarget, RunConfig};
use crate::diagnose;
use crate::probe::{Prober, Slots, resolve::Resolver};
use crate::report::{self, BuildInput, ConfigInfo, Node, ProbeSetInfo, ProxyInfo, Report, TrustInfo};
use crate::trust::{TrustError, TrustStores};

/// Why a run could not produce a report (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    Write(#[from] report::WriteError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot print the report: {0}")]
    Stdout(std::io::Error),
}

fn os_description() -> String {
    let base = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    #[cfg(target_os = "linux")]
    {
        if let Ok(text) = std::fs::read_to_string("/etc/os-release")
            && let Some(name) = text.lines().find_map(|l| l.strip_prefix("PRETTY_NAME="))
        {
            return format!("{base} ({})", name.trim_matches('"'));
        }
    }
    base
}

/// The node's identity and local time.
pub fn node_info() -> Node {
    let now = chrono::Local::now();
    Node {
        hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        os: os_description(),
        local_time: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        timezone: iana_time_zone::get_timezone().unwrap_or_else(|_| now.format("UTC%:z").to_string()),
    }
}

/// Probe, diagnose and build the report (no output written). When `stop` resolves first, the
/// run ends at once with what it has: `run.interrupted` is set and unfinished endpoints are skipped.
pub async fn probe(cfg: &RunConfig, stop: impl Future<Output = &'static str>) -> Result<Report, RunError> {
    let started_at = Utc::now();
    let epoch = std::time::Instant::now();
    let node = node_info();
    let stores = TrustStores::load(&cfg.public_roots, &cfg.system_roots)?;
    let resolver = Resolver::new(&cfg.dns, cfg.stage_timeout);
    let config = ConfigInfo {
        cloud: cfg.cloud.clone(),
        probe_set: ProbeSetInfo {
            name: cfg.probe_set.name.clone(),
            version: cfg.probe_set.version.clone(),
            sha256: cfg.probe_set.sha256.clone(),
            source: cfg.probe_set.source.clone(),
            uncovered: cfg.probe_set.uncovered.clone(),
        },
        dns_servers: resolver.servers.clone(),
        dns_source: match cfg.dns {
            DnsConfig::System => "system".into(),
            DnsConfig::Servers(_) => "flag".into(),
        },
        proxy: cfg.proxy.as_ref().map(|p| ProxyInfo {
            url: p.redacted_url(),
            source: p.source,
            no_proxy: p.no_proxy.entries().to_vec(),
        }),
        trust: TrustInfo { public: stores.public.summary.clone(), system: stores.system.summary.clone() },
        timeout_ms: u64::try_from(cfg.stage_timeout.as_millis()).unwrap_or(u64::MAX),
        ntp_servers: cfg.ntp_servers.clone(),
        lang: cfg.lang.code().into(),
        redacted: false,
    };
    let revocation = (!cfg.no_revocation).then(Arc::default);
    let prober =
        Arc::new(Prober { resolver, proxy: cfg.proxy.clone(), stores, timeout: cfg.stage_timeout, epoch, revocation });
    // The clock sources are asked while the endpoints are probed.
    let slots = Slots::new(cfg.probe_set.endpoints.len());
    let ntp = std::sync::Mutex::new(Vec::new());
    let work = async {
        tokio::join!(
            prober.probe_all_into(&cfg.probe_set.endpoints, cfg.concurrency, &slots),
            clock::ntp_sources_into(&prober.resolver, &cfg.ntp_servers, cfg.stage_timeout, &ntp)
        )
    };
    let interrupted = tokio::select! {
        _ = work => None,
        signal = stop => Some(signal),
    };
    if let Some(signal) = interrupted {
        tracing::warn!("{signal}: stopping; the report keeps what was observed so far");
    }
    let observations = slots.take(&cfg.probe_set.endpoints);
    let mut sources = ntp.into_inner().unwrap_or_default();
    // Answers arrive in any order; the report lists them as configured.
    sources.sort_by_key(|s| cfg.ntp_servers.iter().position(|n| *n == s.server));
    sources.extend(observations.iter().filter_map(clock::http_date_source));
    let clock = clock::estimate(sources);
    let diagnoses: Vec<_> = observations.iter().map(|o| diagnose::endpoint(o, cfg.lang, started_at, &clock)).collect();
    let mut findings: Vec<_> = diagnoses.iter().flat_map(|d| d.findings.iter().cloned()).collect();
    findings.extend(diagnose::clock_findings(&clock, cfg.lang));
    Ok(report::build(BuildInput {
        run_id: uuid::Uuid::new_v4().to_string(),
        started_at,
        finished_at: Utc::now(),
        interrupted: interrupted.is_some(),
        node,
        config,
        clock,
        observations: &observations,
        interceptions: diagnoses.iter().map(|d| d.interception.clone()).collect(),
        revocations: diagnoses.into_iter().map(|d| d.revocation).collect(),
        findings,
    }))
}

/// Run, write the report (and its HTML page and metrics when asked) and the summary; returns
/// the exit code. Every output path is checked before probing starts, so a run never ends with
/// nowhere to put its report.
pub fn run(cfg: RunConfig) -> Result<u8, RunError> {
    let started = Utc::now();
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    let report_path = match &cfg.out {
        OutputTarget::Stdout => None,
        OutputTarget::File(p) => Some(p.clone()),
        OutputTarget::Default => Some(report::default_file_name(&hostname, started)),
    };
    for p in report_path.iter().chain(&cfg.html).chain(&cfg.prometheus) {
        report::check_writable(p)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(RunError::Runtime)?;
    let mut report = runtime.block_on(probe(&cfg, crate::signals::stop_requested()))?;
    // Let lingering connections and resolver tasks go without waiting for them.
    runtime.shutdown_background();
    if cfg.redact {
        report::redact::redact(&mut report, &report::redact::key_from_env());
    }
    let mut json = serde_json::to_vec_pretty(&report).unwrap_or_default();
    json.push(b'\n');
    let location = report_path.as_ref().map_or_else(|| "standard output".to_string(), |p| p.display().to_string());
    let summary = report::summary::render(&report, &location);
    if let Some(path) = &cfg.html {
        report::write_atomic(path, report::html::render(&report).as_bytes())?;
    }
    if let Some(path) = &cfg.prometheus {
        report::write_atomic(path, report::prometheus::render(&report).as_bytes())?;
    }
    match &report_path {
        None => {
            std::io::stdout().write_all(&json).map_err(RunError::Stdout)?;
            eprint!("{summary}");
        }
        Some(path) => {
            report::write_atomic(path, &json)?;
            print!("{summary}");
        }
    }
    Ok(report.summary.exit_code)
}

/// Why `render` or `merge` could not do their job (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Merge(#[from] report::fleet::MergeError),
    #[error(transparent)]
    Write(#[from] report::WriteError),
    #[error("{path} is not a report this version can render: {reason}")]
    Render { path: String, reason: String },
}

/// `render REPORT --html FILE`.
pub fn render(report_path: &Path, html: &Path) -> Result<(), FileError> {
    let shown = report_path.display().to_string();
    let value = report::fleet::load(report_path)?;
    let report: Report =
        serde_json::from_value(value).map_err(|e| FileError::Render { path: shown, reason: e.to_string() })?;
    report::check_writable(html)?;
    report::write_atomic(html, report::html::render(&report).as_bytes())?;
    Ok(())
}

/// `merge REPORT... --out FILE [--html FILE]`; returns the fleet's exit code.
pub fn merge(paths: &[PathBuf], out: &Path, html: Option<&Path>) -> Result<u8, FileError> {
    report::check_writable(out)?;
    if let Some(h) = html {
        report::check_writable(h)?;
    }
    let reports = paths
        .iter()
        .map(|p| Ok((p.display().to_string(), report::fleet::load(p)?)))
        .collect::<Result<Vec<_>, report::fleet::MergeError>>()?;
    let fleet = report::fleet::merge(&reports, Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))?;
    let mut json = serde_json::to_vec_pretty(&fleet).unwrap_or_default();
    json.push(b'\n');
    report::write_atomic(out, &json)?;
    if let Some(h) = html {
        report::write_atomic(h, report::html::render_fleet(&fleet).as_bytes())?;
    }
    print!("{}", report::summary::render_fleet(&fleet, &out.display().to_string()));
    Ok(fleet.summary.exit_code)
}
