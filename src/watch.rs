//! `run --every DURATION [--count N] [--history FILE.jsonl]`: the whole run repeated, start to
//! start, with the watch so far carried in the report (`watch`), one JSON line per round appended
//! to the history, and counters of failed rounds in the Prometheus metrics.
//!
//! Rounds start every `--every` after the first one's start; a round that outlasts the interval
//! is followed at once by the next. Between rounds the process sleeps on a timer (no polling)
//! and listens for stop requests: Ctrl-C between or during rounds ends the watch after the last
//! state is written. The exit code is the worst round's (an error, then a round that could not
//! finish, then warnings).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnose::Severity;
use crate::report::{Report, Verdict};

/// Rounds kept in the report's `watch.rounds` (the newest); counters cover every round.
pub const ROUNDS_KEPT: usize = 100;

/// The report's `watch`: present only for `run --every`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WatchReport {
    /// The interval between round starts, in milliseconds.
    pub every_ms: u64,
    /// `--count`, or null when the watch runs until stopped.
    pub count: Option<u64>,
    /// Rounds run so far (this report is the last of them).
    pub rounds_total: u64,
    /// Rounds with an error verdict so far.
    pub error_rounds_total: u64,
    /// The newest rounds (at most 100), oldest first.
    pub rounds: Vec<WatchRound>,
    /// Every warning or error finding (endpoint and code) seen since the watch started, with
    /// the number of rounds it was seen in (`seen`) of the rounds run (`of`).
    pub findings: Vec<WatchFinding>,
    /// The findings that came and went: seen in some rounds but not in all.
    pub intermittent: Vec<WatchFinding>,
}

/// One round of a watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WatchRound {
    /// 1 for the first round.
    pub round: u64,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// The round's length, in milliseconds.
    pub duration_ms: u64,
    /// `ok`, `warning` or `error`.
    pub verdict: String,
    /// The round's exit code (0 ok, 1 warnings, 2 errors, 3 incomplete).
    pub exit_code: u8,
    /// The round was stopped before it finished.
    pub interrupted: bool,
    /// The portal codes the round's errors would surface as.
    pub usage_errors: Vec<String>,
}

/// A finding across the rounds of a watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WatchFinding {
    /// The endpoint, or null for node-wide findings (clock).
    pub endpoint: Option<String>,
    /// The finding code.
    pub code: String,
    /// The worst severity it was seen with.
    pub severity: String,
    /// Rounds it was seen in.
    pub seen: u64,
    /// Rounds run.
    pub of: u64,
    /// Seen in the latest round.
    pub in_last_round: bool,
}

/// One line of `--history`.
#[derive(Debug, Clone, Serialize)]
struct HistoryLine<'a> {
    round: u64,
    run_id: &'a str,
    started_at: &'a str,
    duration_ms: u64,
    verdict: &'static str,
    exit_code: u8,
    interrupted: bool,
    usage_errors: Vec<&'static str>,
    findings: Vec<HistoryFinding<'a>>,
}

#[derive(Debug, Clone, Serialize)]
struct HistoryFinding<'a> {
    endpoint: Option<&'a str>,
    code: &'static str,
    severity: &'static str,
}

/// The state of a watch between rounds (carried through the report thread and back).
#[derive(Debug, Clone)]
pub struct WatchState {
    report: WatchReport,
    /// (endpoint, code) -> (rounds seen, worst severity).
    seen: BTreeMap<(Option<String>, String), (u64, Severity)>,
    last: std::collections::BTreeSet<(Option<String>, String)>,
    /// The worst round's exit code so far (by [`rank`]); interrupted rounds without errors
    /// count only when no round finished.
    worst: Option<u8>,
    worst_interrupted: Option<u8>,
}

/// Severity order of exit codes: 2 (errors) is worst, then 3 (could not check), 1, 0.
fn rank(code: u8) -> u8 {
    match code {
        2 => 3,
        3 => 2,
        1 => 1,
        _ => 0,
    }
}

fn worse(a: Option<u8>, b: u8) -> Option<u8> {
    Some(match a {
        Some(a) if rank(a) >= rank(b) => a,
        _ => b,
    })
}

impl WatchState {
    /// A watch with this interval and count, before its first round.
    pub fn new(every: Duration, count: Option<u64>) -> WatchState {
        WatchState {
            report: WatchReport {
                every_ms: u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
                count,
                rounds_total: 0,
                error_rounds_total: 0,
                rounds: Vec::new(),
                findings: Vec::new(),
                intermittent: Vec::new(),
            },
            seen: BTreeMap::new(),
            last: Default::default(),
            worst: None,
            worst_interrupted: None,
        }
    }

    /// Record the round `report` is the outcome of, and put the watch so far into it.
    pub fn record(mut self, report: &mut Report) -> WatchState {
        let w = &mut self.report;
        w.rounds_total += 1;
        let n = w.rounds_total;
        if report.summary.verdict == Verdict::Error {
            w.error_rounds_total += 1;
        }
        w.rounds.push(WatchRound {
            round: n,
            started_at: report.run.started_at.clone(),
            duration_ms: report.run.duration_ms,
            verdict: report.summary.verdict.as_str().into(),
            exit_code: report.summary.exit_code,
            interrupted: report.run.interrupted,
            usage_errors: report.summary.usage_errors.iter().map(|u| u.as_str().to_string()).collect(),
        });
        if w.rounds.len() > ROUNDS_KEPT {
            let extra = w.rounds.len() - ROUNDS_KEPT;
            w.rounds.drain(..extra);
        }
        let mut this = std::collections::BTreeMap::new();
        for f in report.findings.iter().filter(|f| f.severity >= Severity::Warning) {
            let key = (f.endpoint.clone(), f.code.as_str().to_string());
            let sev = this.entry(key).or_insert(f.severity);
            *sev = (*sev).max(f.severity);
        }
        for (key, sev) in &this {
            let e = self.seen.entry(key.clone()).or_insert((0, *sev));
            e.0 += 1;
            e.1 = e.1.max(*sev);
        }
        self.last = this.into_keys().collect();
        w.findings = self
            .seen
            .iter()
            .map(|((endpoint, code), (seen, sev))| WatchFinding {
                endpoint: endpoint.clone(),
                code: code.clone(),
                severity: sev.as_str().into(),
                seen: *seen,
                of: n,
                in_last_round: self.last.contains(&(endpoint.clone(), code.clone())),
            })
            .collect();
        w.intermittent = w.findings.iter().filter(|f| f.seen < f.of).cloned().collect();
        let code = report.summary.exit_code;
        if report.run.interrupted && report.summary.verdict != Verdict::Error {
            self.worst_interrupted = worse(self.worst_interrupted, code);
        } else {
            // An interrupted round with errors counts as errors.
            self.worst = worse(self.worst, if report.run.interrupted { 2 } else { code });
        }
        report.watch = Some(self.report.clone());
        self
    }

    /// The exit code of the watch: the worst round's.
    pub fn exit_code(&self) -> u8 {
        self.worst.or(self.worst_interrupted).unwrap_or(3)
    }

    /// Rounds run so far.
    pub fn rounds(&self) -> u64 {
        self.report.rounds_total
    }
}

/// The `--history` line of a report (with a line feed).
///
/// Errors: [`crate::report::WriteError::Serialise`] if the line cannot be serialised (the round
/// then fails rather than append an empty line).
pub fn history_line(report: &Report) -> Result<Vec<u8>, crate::report::WriteError> {
    let line = HistoryLine {
        round: report.watch.as_ref().map_or(1, |w| w.rounds_total),
        run_id: &report.run.id,
        started_at: &report.run.started_at,
        duration_ms: report.run.duration_ms,
        verdict: report.summary.verdict.as_str(),
        exit_code: report.summary.exit_code,
        interrupted: report.run.interrupted,
        usage_errors: report.summary.usage_errors.iter().map(|u| u.as_str()).collect(),
        findings: report
            .findings
            .iter()
            .map(|f| HistoryFinding {
                endpoint: f.endpoint.as_deref(),
                code: f.code.as_str(),
                severity: f.severity.as_str(),
            })
            .collect(),
    };
    let mut bytes = serde_json::to_vec(&line).map_err(|e| crate::report::WriteError::Serialise {
        what: "the --history line".into(),
        cause: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Lines added to the human summary of a watch round: the round, and each intermittent finding.
pub fn summary(report: &Report) -> String {
    let Some(w) = &report.watch else { return String::new() };
    let mut out = String::new();
    let of = w.count.map(|c| format!(" of {c}")).unwrap_or_default();
    let _ = writeln!(out, "\nwatch: round {}{of}, every {}ms", w.rounds_total, w.every_ms);
    for f in &w.intermittent {
        let on = f.endpoint.as_deref().map(|e| format!(" on {e}")).unwrap_or_default();
        let now = if f.in_last_round { "present now" } else { "absent now" };
        let _ = writeln!(
            out,
            "  INTERMITTENT {} {}{on}: seen in {} of {} rounds ({now})",
            f.severity.to_uppercase(),
            f.code,
            f.seen,
            f.of
        );
    }
    crate::report::printable_lines(&out).into_owned()
}

/// Prometheus label value (the exposition format's escapes; other controls dropped).
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Metrics of the watch, appended to `--prometheus`: rounds run, rounds with an error, and per
/// endpoint and code the rounds it failed in since the watch started (counters: an alert on
/// "failing 3 of the last 5 rounds" is `increase(azs_netprobe_watch_failed_rounds_total[5 × interval]) >= 3`).
pub fn metrics(report: &Report) -> String {
    let Some(w) = &report.watch else { return String::new() };
    let mut out = String::new();
    let cloud = label(&report.config.cloud);
    let _ = writeln!(
        out,
        "# HELP azs_netprobe_watch_rounds_total Rounds run since the watch started.\n\
         # TYPE azs_netprobe_watch_rounds_total counter\nazs_netprobe_watch_rounds_total{{cloud=\"{cloud}\"}} {}",
        w.rounds_total
    );
    let _ = writeln!(
        out,
        "# HELP azs_netprobe_watch_error_rounds_total Rounds with an error verdict since the watch started.\n\
         # TYPE azs_netprobe_watch_error_rounds_total counter\nazs_netprobe_watch_error_rounds_total{{cloud=\"{cloud}\"}} {}",
        w.error_rounds_total
    );
    let _ = writeln!(
        out,
        "# HELP azs_netprobe_watch_failed_rounds_total Rounds since the watch started in which the endpoint had the finding (warning or error).\n\
         # TYPE azs_netprobe_watch_failed_rounds_total counter"
    );
    for f in &w.findings {
        let _ = writeln!(
            out,
            "azs_netprobe_watch_failed_rounds_total{{endpoint=\"{}\",code=\"{}\",severity=\"{}\"}} {}",
            label(f.endpoint.as_deref().unwrap_or("")),
            label(&f.code),
            label(&f.severity),
            f.seen
        );
    }
    let _ = writeln!(
        out,
        "# HELP azs_netprobe_watch_finding_last_round 1 when the finding was present in the latest round.\n\
         # TYPE azs_netprobe_watch_finding_last_round gauge"
    );
    for f in &w.findings {
        let _ = writeln!(
            out,
            "azs_netprobe_watch_finding_last_round{{endpoint=\"{}\",code=\"{}\"}} {}",
            label(f.endpoint.as_deref().unwrap_or("")),
            label(&f.code),
            u8::from(f.in_last_round)
        );
    }
    out
}

/// Why the history file cannot be used (exit 3).
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// An OS operation on the history file failed.
    #[error("--history {path}: {op}: {cause}")]
    Io {
        /// The `--history` path, as given.
        path: String,
        /// The operation (`cannot open for appending`, `cannot inspect`, ...).
        op: &'static str,
        /// The OS error.
        cause: std::io::Error,
    },
    /// The path exists and is not a regular file (a folder, a device).
    #[error("--history {path}: is not a regular file; name a file to append to")]
    NotAFile {
        /// The `--history` path, as given.
        path: String,
    },
}

/// The `--history` file, opened once for appending.
pub struct History {
    path: String,
    file: std::fs::File,
}

impl History {
    /// Open (or create) `path` for appending: `O_APPEND`, never through a symlink (`O_NOFOLLOW`
    /// on Unix, the reparse point itself on Windows, refused), never blocking on a FIFO, and
    /// only a regular file.
    pub fn open(path: &Path) -> Result<History, WatchError> {
        let shown = path.display().to_string();
        let mut o = std::fs::OpenOptions::new();
        o.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).mode(0o644);
        }
        #[cfg(windows)]
        {
            use std::os::windows::fs::OpenOptionsExt;
            // FILE_FLAG_OPEN_REPARSE_POINT: a symlink is opened itself (and refused below).
            o.custom_flags(0x0020_0000);
        }
        let file = o.open(path).map_err(|cause| {
            #[cfg(unix)]
            if cause.raw_os_error() == Some(libc::ELOOP) {
                return WatchError::NotAFile { path: shown.clone() };
            }
            WatchError::Io { path: shown.clone(), op: "cannot open for appending", cause }
        })?;
        let meta =
            file.metadata().map_err(|cause| WatchError::Io { path: shown.clone(), op: "cannot inspect", cause })?;
        if !meta.is_file() || std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(WatchError::NotAFile { path: shown });
        }
        Ok(History { path: shown, file })
    }

    /// Append one line in one write.
    pub fn append(&mut self, line: &[u8]) -> Result<(), WatchError> {
        self.file.write_all(line).map_err(|cause| WatchError::Io {
            path: self.path.clone(),
            op: "cannot append",
            cause,
        })
    }
}

/// What the watch does after a round.
pub enum Next {
    /// Start the next round now.
    Round,
    /// The watch is over (count reached, or a stop request).
    Stop,
}

/// When the next round starts: `every` after this round's start, or at once when the round
/// outlasted the interval. Sleeps on a timer while listening for stop requests.
pub fn wait_next(
    runtime: &tokio::runtime::Runtime,
    stops: &mut tokio::sync::mpsc::UnboundedReceiver<&'static str>,
    every: Duration,
    round_started: Instant,
) -> Next {
    let next = round_started + every;
    if Instant::now() >= next {
        tracing::info!("the round outlasted the interval of {every:?}: the next one starts at once");
        return Next::Round;
    }
    runtime.block_on(async {
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => Next::Round,
            Some(signal) = stops.recv() => {
                tracing::warn!("{signal}: the watch ends; the outputs hold the last round");
                Next::Stop
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ranks_exit_codes() {
        assert_eq!(worse(worse(worse(None, 0), 2), 1), Some(2));
        assert_eq!(worse(worse(None, 1), 3), Some(3));
    }

    #[cfg(unix)]
    #[test]
    fn history_refuses_symlinks_and_fifos_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep\n").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(History::open(&link), Err(WatchError::NotAFile { .. })));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
        let p = dir.path().join("h.jsonl");
        History::open(&p).unwrap().append(b"a\n").unwrap();
        History::open(&p).unwrap().append(b"b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\nb\n");
        assert!(History::open(dir.path()).is_err());
    }
}
