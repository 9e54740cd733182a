//! One run, end to end: load trust, probe every endpoint, diagnose, build the report, write it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;

use crate::clock;
use crate::config::{DnsConfig, OutputTarget, RunConfig, TrustSource};
use crate::diagnose;
use crate::probe::{Prober, Slots, resolve::Resolver};
use crate::report::{self, BuildInput, ConfigInfo, Node, ProbeSetInfo, ProxyInfo, Report, TrustInfo};
use crate::trust::{TrustError, TrustStores};

/// Why a run could not produce a report (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A trust store could not be loaded (`--public-roots`, `--system-roots`, the OS store).
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// An output (report, HTML, metrics) could not be checked or written.
    #[error(transparent)]
    Write(#[from] report::WriteError),
    /// The tokio runtime could not be built (the OS error).
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// `--redact` could not do its job (its pattern could not be built, or an internal name or
    /// address survived it): nothing is written.
    #[error(transparent)]
    Redact(#[from] report::redact::RedactError),
    /// The thread that builds the report could not be spawned (the OS error).
    #[error("cannot start the thread that builds the report: {0}")]
    Thread(std::io::Error),
    /// The `--history` file of `--watch` cannot be used.
    #[error(transparent)]
    Watch(#[from] crate::watch::WatchError),
    /// A stop request arrived while the report was being built: nothing is written (exit 3).
    #[error("{0}: stopped while the report was being built; no report written")]
    Interrupted(&'static str),
    /// A stop request arrived while the outputs were being written (one of them blocked): each
    /// output is complete or absent (exit 3).
    #[error("{0}: stopped while the outputs were being written; an output not yet in place was not written")]
    InterruptedWriting(&'static str),
}

fn os_description() -> String {
    let base = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    #[cfg(target_os = "linux")]
    {
        if let Ok(bytes) =
            crate::files::read_capped(std::path::Path::new("/etc/os-release"), crate::files::InputKind::SystemFile)
            && let Ok(text) = String::from_utf8(bytes)
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
        platform: crate::platform::read(),
    }
}

/// Probe, diagnose and build the report (no output written). When `stop` resolves first, the
/// run ends at once with what it has: `run.interrupted` is set and unfinished endpoints are skipped.
pub async fn probe(cfg: &RunConfig, stop: impl Future<Output = &'static str>) -> Result<Report, RunError> {
    let observed = observe(cfg, stop).await?;
    Ok(assemble(cfg, observed))
}

/// What the probe stages observed, before diagnosis.
pub struct Observed {
    started_at: chrono::DateTime<Utc>,
    node: Node,
    config: ConfigInfo,
    observations: Vec<crate::probe::EndpointObservation>,
    /// The NTP servers' answers, in `cfg.ntp_servers` order.
    ntp: Vec<clock::ClockSource>,
    /// The stop request that ended probing early.
    interrupted: Option<&'static str>,
}

/// The probe stages of [`probe`]: every endpoint and NTP server, until done or `stop`.
pub async fn observe(cfg: &RunConfig, stop: impl Future<Output = &'static str>) -> Result<Observed, RunError> {
    let started_at = Utc::now();
    let epoch = std::time::Instant::now();
    let node = node_info();
    let stores = TrustStores::load(&cfg.public_roots, &cfg.system_roots)?;
    let resolver = Resolver::new(&cfg.dns, cfg.stage_timeout);
    if let Some(budget) = crate::probe::budget::current() {
        resolver.limit_names_in_flight(budget.names);
    }
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
            no_proxy_malformed: p.no_proxy.malformed().to_vec(),
        }),
        trust: TrustInfo { public: stores.public.summary.clone(), system: stores.system.summary.clone() },
        timeout_ms: u64::try_from(cfg.stage_timeout.as_millis()).unwrap_or(u64::MAX),
        ntp_servers: cfg.ntp_servers.clone(),
        lang: cfg.lang.as_str().into(),
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
    let mut ntp = ntp.into_inner().unwrap_or_default();
    // Answers arrive in any order; the report lists them as configured.
    let mut order: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, n) in cfg.ntp_servers.iter().enumerate() {
        order.entry(n.as_str()).or_insert(i);
    }
    ntp.sort_by_key(|s| order.get(s.server.as_str()).copied());
    Ok(Observed { started_at, node, config, observations, ntp, interrupted })
}

/// Diagnose what was observed and build the report (CPU only, linear in the endpoints).
pub fn assemble(cfg: &RunConfig, observed: Observed) -> Report {
    let Observed { started_at, node, config, observations, ntp: mut sources, interrupted } = observed;
    sources.extend(observations.iter().filter_map(clock::http_date_source));
    let clock = diagnose::clock::estimate(sources);
    let diagnoses: Vec<_> = observations.iter().map(|o| diagnose::endpoint(o, started_at, &clock)).collect();
    let mut findings: Vec<_> = diagnoses.iter().flat_map(|d| d.findings.iter().cloned()).collect();
    findings.extend(diagnose::clock_findings(&clock));
    diagnose::platform::apply(&mut findings, &node.platform, config.proxy.as_ref(), &clock);
    report::build(BuildInput {
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
        lang: cfg.lang,
    })
}

/// Everything a run writes, rendered (the report as JSON, the summary, the HTML page and the
/// metrics when asked).
struct Rendered {
    exit_code: u8,
    json: Vec<u8>,
    summary: String,
    html: Option<String>,
    prometheus: Option<String>,
    /// Endpoints the probe's own resource limits kept from being probed.
    local_limits: usize,
    /// The watch with this round recorded (`run --every`).
    watch: Option<crate::watch::WatchState>,
    /// The `--history` line of this round.
    history: Option<Vec<u8>>,
}

/// Diagnose, build, redact and render on a thread of its own, while this thread keeps
/// listening to `stops`: a stop request there ends the run at once with
/// [`RunError::Interrupted`], nothing written. A report of many thousand endpoints takes
/// seconds to render; the user's Ctrl-C must not wait for it.
fn post_process(
    runtime: &tokio::runtime::Runtime,
    stops: &mut tokio::sync::mpsc::UnboundedReceiver<&'static str>,
    cfg: RunConfig,
    observed: Observed,
    location: String,
    watch: Option<crate::watch::WatchState>,
) -> Result<Rendered, RunError> {
    tracing::info!("probing done; building the report");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let work = move || {
        let rendered = (|| {
            let local_limits = observed.observations.iter().filter(|o| o.local_limit.is_some()).count();
            let mut report = assemble(&cfg, observed);
            // Whatever a peer echoed of the proxy credentials goes, in every field of the report
            // (the stages already scrub what they keep; this covers every field, present and future).
            if let Some(s) = cfg.proxy.as_ref().and_then(crate::config::proxy::ProxyConfig::scrubber) {
                report::redact::for_each_string(&mut report, &mut |t| s.scrub_in_place(t));
            }
            let watch = watch.map(|w| w.record(&mut report));
            if cfg.redact {
                report::redact::redact(&mut report, &report::redact::key_from_env())?;
            }
            let json = report::to_json(&report, "the report")?;
            Ok(Rendered {
                exit_code: report.summary.exit_code,
                json,
                summary: report::summary::render(&report, &location) + &crate::watch::summary(&report),
                html: cfg.html.as_ref().map(|_| report::html::render(&report)),
                prometheus: cfg
                    .prometheus
                    .as_ref()
                    .map(|_| report::prometheus::render(&report) + &crate::watch::metrics(&report)),
                local_limits,
                watch,
                history: match cfg.watch.history {
                    Some(_) => Some(crate::watch::history_line(&report)?),
                    None => None,
                },
            })
        })();
        let _ = tx.send(rendered);
    };
    std::thread::Builder::new().name("report".into()).spawn(work).map_err(RunError::Thread)?;
    runtime.block_on(async {
        tokio::select! {
            rendered = rx => rendered.map_err(|_| RunError::Thread(std::io::Error::other("the report thread ended without a report")))?,
            Some(signal) = stops.recv() => Err(RunError::Interrupted(signal)),
        }
    })
}

/// Run, write the report (and its HTML page and metrics when asked) and the summary; returns
/// the exit code. Every output path is checked before probing starts, so a run never ends with
/// nowhere to put its report.
pub fn run(cfg: RunConfig) -> Result<u8, RunError> {
    let started = Utc::now();
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    let default_path = report::default_file_name(&hostname, started);
    let mut inputs: Vec<(&str, &Path)> = Vec::new();
    if let Some(p) = &cfg.probes_file {
        inputs.push(("--probes", p));
    }
    if let TrustSource::File(p) = &cfg.public_roots {
        inputs.push(("--public-roots", p));
    }
    let ssl_cert_file = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()).map(PathBuf::from);
    match (&cfg.system_roots, &ssl_cert_file) {
        (TrustSource::File(p), _) => inputs.push(("--system-roots", p)),
        (TrustSource::Builtin, Some(p)) => inputs.push(("SSL_CERT_FILE", p)),
        (TrustSource::Builtin, None) => {}
    }
    let mut outputs: Vec<(&str, &Path)> = vec![match &cfg.out {
        OutputTarget::Stdout => ("--out", Path::new("-")),
        OutputTarget::File(p) => ("--out", p),
        OutputTarget::Default => ("the report", &default_path),
    }];
    if let Some(p) = &cfg.html {
        outputs.push(("--html", p));
    }
    if let Some(p) = &cfg.prometheus {
        outputs.push(("--prometheus", p));
    }
    if let Some(p) = &cfg.watch.history {
        outputs.push(("--history", p));
    }
    let mut planned = report::plan(&inputs, &outputs)?;
    // The history is appended to, not replaced: checked with the outputs, opened once here.
    let mut history = match &cfg.watch.history {
        Some(p) => {
            planned.pop();
            Some(crate::watch::History::open(p)?)
        }
        None => None,
    };
    let location = match &cfg.out {
        OutputTarget::Stdout => "standard output".to_string(),
        OutputTarget::File(p) => p.display().to_string(),
        OutputTarget::Default => default_path.display().to_string(),
    };
    // The probe's sockets fit in its open-files limit, raised as far as allowed first.
    let limit = crate::probe::budget::raise_open_files_limit().map(|l| l.after);
    let budget = crate::probe::budget::SocketBudget::for_limit(limit);
    crate::probe::budget::apply(budget);
    let mut cfg = cfg;
    if cfg.concurrency > budget.endpoints {
        tracing::info!(
            "probing {} endpoints at once, not {}: the open-files limit is {}",
            budget.endpoints,
            cfg.concurrency,
            limit.unwrap_or_default()
        );
        cfg.concurrency = budget.endpoints;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(RunError::Runtime)?;
    // Every stop request of the run, in one queue: the first ends probing, one during
    // post-processing ends the run.
    let (stop_tx, mut stops) = tokio::sync::mpsc::unbounded_channel();
    runtime.spawn(async move {
        loop {
            let signal = crate::signals::stop_requested().await;
            if stop_tx.send(signal).is_err() {
                break;
            }
        }
    });
    let mut watch = cfg.watch.every.map(|every| crate::watch::WatchState::new(every, cfg.watch.count));
    // One round, or with --every one round after another until --count or a stop request.
    let result = (|| -> Result<u8, RunError> {
        loop {
            let round_started = std::time::Instant::now();
            let stop = async {
                match stops.recv().await {
                    Some(signal) => signal,
                    None => std::future::pending().await,
                }
            };
            let observed = runtime.block_on(observe(&cfg, stop))?;
            let interrupted = observed.interrupted.is_some();
            let mut rendered =
                post_process(&runtime, &mut stops, cfg.clone(), observed, location.clone(), watch.take())?;
            watch = rendered.watch.take();
            let line = rendered.history.take();
            let exit_code = write_outputs(&runtime, &mut stops, planned.clone(), rendered)?;
            if let (Some(h), Some(line)) = (history.as_mut(), line) {
                h.append(&line)?;
            }
            let Some(w) = &watch else { return Ok(exit_code) };
            let done = interrupted || cfg.watch.count.is_some_and(|c| w.rounds() >= c);
            if done
                || matches!(
                    crate::watch::wait_next(&runtime, &mut stops, cfg.watch.every.unwrap_or_default(), round_started),
                    crate::watch::Next::Stop
                )
            {
                return Ok(w.exit_code());
            }
        }
    })();
    // Let lingering connections and resolver tasks go without waiting for them.
    runtime.shutdown_background();
    result
}

/// Write the report, then the secondary outputs, then the summary, on a thread of its own while
/// this thread keeps listening to `stops`: an output that blocks (a FIFO nobody reads, a stalled
/// network file system) must not make the process deaf to Ctrl-C or SIGTERM. A stop there ends
/// the run with [`RunError::InterruptedWriting`]; what was renamed into place is complete, what
/// was not is absent (files are written to a temporary name first).
fn write_outputs(
    runtime: &tokio::runtime::Runtime,
    stops: &mut tokio::sync::mpsc::UnboundedReceiver<&'static str>,
    planned: Vec<report::Output>,
    rendered: Rendered,
) -> Result<u8, RunError> {
    let Rendered { exit_code, json, summary, html, prometheus, local_limits, .. } = rendered;
    if local_limits > 0 {
        crate::files::print_err(
            format!(
                "azs-netprobe: {local_limits} endpoint(s) could not be probed for the probe's own limits (open files \
                 or socket buffers: see their `stage` and errors), not the network's; raise `ulimit -n` or lower \
                 --concurrency and run again (exit 3)\n"
            )
            .as_bytes(),
        );
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let work = move || {
        let result = (|| {
            let mut outs = planned.iter();
            if let Some(out) = outs.next() {
                out.write(&json)?;
            }
            let rest = html.into_iter().chain(prometheus).map(String::into_bytes);
            let failed = write_secondary(outs.zip(rest));
            print_summary(&summary, &planned);
            match failed {
                Some(e) => Err(RunError::from(e)),
                None => Ok(exit_code),
            }
        })();
        let _ = tx.send(result);
    };
    std::thread::Builder::new().name("write".into()).spawn(work).map_err(RunError::Thread)?;
    runtime.block_on(async {
        tokio::select! {
            written = rx => written.map_err(|_| RunError::Thread(std::io::Error::other("the writing thread ended without a result")))?,
            Some(signal) = stops.recv() => Err(RunError::InterruptedWriting(signal)),
        }
    })
}

/// Write the secondary outputs (HTML, metrics) after the report; every failure is printed but
/// the last, which is returned.
fn write_secondary<'a>(outputs: impl Iterator<Item = (&'a report::Output, Vec<u8>)>) -> Option<report::WriteError> {
    let mut last = None;
    for (out, bytes) in outputs {
        if let Err(e) = out.write(&bytes)
            && let Some(earlier) = last.replace(e)
        {
            crate::files::print_err(format!("{}: {earlier}\n", crate::TOOL_NAME).as_bytes());
        }
    }
    last
}

/// The human summary goes to standard output, or to standard error when an output took
/// standard output. A closed pipe is not an error; another failure is said on standard error.
fn print_summary(summary: &str, outputs: &[report::Output]) {
    if outputs.iter().any(report::Output::is_stdout) {
        crate::files::print_err(summary.as_bytes());
    } else if let Err(e) = crate::files::print_out(summary.as_bytes()) {
        crate::files::print_err(format!("{}: cannot print the summary: {e}\n", crate::TOOL_NAME).as_bytes());
    }
}

/// Why `render` or `merge` could not do their job (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A report could not be read or merged (`merge`, `diff`).
    #[error(transparent)]
    Merge(#[from] report::fleet::MergeError),
    /// An output could not be checked or written.
    #[error(transparent)]
    Write(#[from] report::WriteError),
    /// The file does not read as a report of this version.
    #[error("{path} is not a report this version can render: {reason}")]
    Render {
        /// The report's path.
        path: String,
        /// Where and why the reading failed: the JSON path of the offending value, then the error.
        reason: String,
    },
}

/// `render REPORT --html FILE`.
pub fn render(report_path: &Path, html: &Path, lang: Option<crate::config::Lang>) -> Result<(), FileError> {
    let planned = report::plan(&[("REPORT", report_path)], &[("--html", html)])?;
    let shown = report_path.display().to_string();
    let value = report::fleet::load(report_path)?;
    // The reason names the JSON field that does not fit (`endpoints[3].tcp[0].status: ...`).
    let mut report: Report = serde_path_to_error::deserialize(value)
        .map_err(|e| FileError::Render { path: shown, reason: format!("at `{}`: {}", e.path(), e.inner()) })?;
    // `--lang`: the same findings, their remediation in that language (nothing probed again).
    if let Some(lang) = lang {
        report::attach_remediation(&mut report, lang);
    }
    for out in &planned {
        out.write(report::html::render(&report).as_bytes())?;
    }
    Ok(())
}

/// `merge REPORT... --out FILE [--html FILE]`; returns the fleet's exit code. The fleet report
/// is written first; a failing HTML page is an error (exit 3) that leaves it written.
pub fn merge(paths: &[PathBuf], out: &Path, html: Option<&Path>) -> Result<u8, FileError> {
    let inputs: Vec<(&str, &Path)> = paths.iter().map(|p| ("REPORT", p.as_path())).collect();
    let mut outputs = vec![("--out", out)];
    if let Some(h) = html {
        outputs.push(("--html", h));
    }
    let planned = report::plan(&inputs, &outputs)?;
    let reports = paths
        .iter()
        .map(|p| Ok((p.display().to_string(), report::fleet::load(p)?)))
        .collect::<Result<Vec<_>, report::fleet::MergeError>>()?;
    let fleet = report::fleet::merge(&reports, Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))?;
    let json = report::to_json(&fleet, "the fleet report")?;
    let mut outs = planned.iter();
    if let Some(o) = outs.next() {
        o.write(&json)?;
    }
    let failed = write_secondary(outs.map(|o| (o, report::html::render_fleet(&fleet).into_bytes())));
    let location = if out.as_os_str() == "-" { "standard output".to_string() } else { out.display().to_string() };
    print_summary(&report::summary::render_fleet(&fleet, &location), &planned);
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(fleet.summary.exit_code),
    }
}

/// `diff BEFORE AFTER [--out FILE] [--html FILE]`; returns 0 (nothing got worse), 1 (new
/// warnings only) or 2 (a new error). Unreadable input is an error (exit 3). The summary is
/// printed first (to standard error when the JSON goes to standard output).
pub fn diff(before: &Path, after: &Path, out: Option<&Path>, html: Option<&Path>) -> Result<u8, FileError> {
    let inputs = [("BEFORE", before), ("AFTER", after)];
    let outputs: Vec<(&str, &Path)> =
        out.map(|o| ("--out", o)).into_iter().chain(html.map(|h| ("--html", h))).collect();
    let planned = report::plan(&inputs, &outputs)?;
    let b = report::diff::load(before)?;
    let a = report::diff::load(after)?;
    let d = report::diff::diff((&before.display().to_string(), &b), (&after.display().to_string(), &a));
    let location =
        out.map(|o| if o.as_os_str() == "-" { "standard output".to_string() } else { o.display().to_string() });
    print_summary(&report::diff::render_text(&d, location.as_deref()), &planned);
    let mut bytes = Vec::new();
    if out.is_some() {
        bytes.push(report::to_json(&d, "the diff")?);
    }
    if html.is_some() {
        bytes.push(report::diff::render_html(&d).into_bytes());
    }
    match write_secondary(planned.iter().zip(bytes)) {
        Some(e) => Err(e.into()),
        None => Ok(d.summary.exit_code),
    }
}
