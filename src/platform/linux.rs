//! Linux (and other Unix) equivalents: proxies from the environment; chrony
//! (`chronyc -c tracking`), systemd-timesyncd (`timedatectl show`) or ntpd (its config file);
//! no OS-wide TLS client policy.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{
    Platform, TimeService, TimeServiceKind, TlsClient, config_servers, env_proxies, key_value, parse_chronyc_tracking,
    printable,
};

/// How long a helper command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Most bytes read from a helper command or a config file.
const CAP: u64 = 64 * 1024;

pub(super) fn read() -> Platform {
    Platform {
        proxies: env_proxies(|n| std::env::var(n).ok()),
        time_service: time_service(),
        tls_client: TlsClient::default(),
    }
}

/// Runs `program args`, bounded in time and output; `Err` says what failed, once.
fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let what = format!("{program} {}", args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                if let Some(stdout) = child.stdout.take() {
                    let _ = stdout.take(CAP).read_to_string(&mut out);
                }
                return if status.success() { Ok(out) } else { Err(format!("{what} failed ({status})")) };
            }
            Ok(None) if start.elapsed() < COMMAND_TIMEOUT => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not answer within {} s", COMMAND_TIMEOUT.as_secs()));
            }
            Err(e) => return Err(format!("cannot wait for {what}: {e}")),
        }
    }
}

fn read_capped(path: &str) -> Option<String> {
    let f = std::fs::File::open(path).ok()?;
    let mut s = String::new();
    f.take(CAP).read_to_string(&mut s).ok()?;
    Some(s)
}

fn time_service() -> TimeService {
    // chrony: the running daemon answers chronyc.
    if let Ok(out) = output("chronyc", &["-c", "tracking"]) {
        let configured = ["/etc/chrony/chrony.conf", "/etc/chrony.conf"]
            .iter()
            .find_map(|p| read_capped(p))
            .map(|t| config_servers(&t))
            .unwrap_or_default();
        let (source, synchronized) = match parse_chronyc_tracking(&out) {
            Some((source, synced)) => (source, Some(synced)),
            None => (None, None),
        };
        return TimeService {
            service: TimeServiceKind::Chrony,
            mode: None,
            configured,
            source,
            synchronized,
            detail: Some("chronyc -c tracking".into()),
        };
    }
    // systemd-timesyncd: timedatectl says whether NTP is on and synchronised.
    if let Ok(show) = output("timedatectl", &["show"])
        && key_value(&show, "NTP") == Some("yes")
    {
        let sync = output("timedatectl", &["show-timesync"]).unwrap_or_default();
        let configured = ["SystemNTPServers", "LinkNTPServers"]
            .iter()
            .filter_map(|k| key_value(&sync, k))
            .flat_map(|v| v.split_whitespace().map(printable).collect::<Vec<_>>())
            .collect();
        return TimeService {
            service: TimeServiceKind::SystemdTimesyncd,
            mode: None,
            configured,
            source: key_value(&sync, "ServerName").filter(|s| !s.is_empty()).map(printable),
            synchronized: key_value(&show, "NTPSynchronized").map(|v| v == "yes"),
            detail: Some("timedatectl show".into()),
        };
    }
    // ntpd: its configuration file (no query of the daemon).
    if let Some(text) = ["/etc/ntpsec/ntp.conf", "/etc/ntp.conf"].iter().find_map(|p| read_capped(p)) {
        return TimeService {
            service: TimeServiceKind::Ntpd,
            mode: None,
            configured: config_servers(&text),
            source: None,
            synchronized: None,
            detail: Some("ntp.conf (the daemon was not queried)".into()),
        };
    }
    TimeService {
        service: TimeServiceKind::Unknown,
        detail: Some("no chronyc, timedatectl or ntp.conf found".into()),
        ..TimeService::default()
    }
}
