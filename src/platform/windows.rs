//! Windows: proxies (WinHTTP, WinINet machine and user, PAC/auto-detect, environment), W32Time
//! and Schannel/.NET TLS client settings, read from the registry (windows-registry crate).

use windows_registry::{CURRENT_USER, Key, LOCAL_MACHINE};

use super::winhttp;
use super::{
    Platform, ProxySetting, ProxySettingSource, TimeService, TimeServiceKind, TlsClient, TlsClientSource, env_proxies,
    mask_credentials, ntp_server_list, printable,
};

const INTERNET_SETTINGS: &str = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings";
const CONNECTIONS: &str = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Internet Settings\Connections";
const W32TIME: &str = r"SYSTEM\CurrentControlSet\Services\W32Time\Parameters";
const TLS12_CLIENT: &str = r"SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols\TLS 1.2\Client";
const DOTNET: [&str; 2] =
    [r"SOFTWARE\Microsoft\.NETFramework\v4.0.30319", r"SOFTWARE\Wow6432Node\Microsoft\.NETFramework\v4.0.30319"];

pub(super) fn read() -> Platform {
    let mut proxies = Vec::new();
    proxies.extend(winhttp_proxy());
    proxies.extend(wininet(LOCAL_MACHINE, "machine"));
    proxies.extend(wininet(CURRENT_USER, "user"));
    proxies.extend(env_proxies(|n| std::env::var(n).ok()));
    Platform { proxies, time_service: w32time(), tls_client: tls_client() }
}

/// The effective WinHTTP proxy list and bypass entries, when one is set.
pub(super) fn winhttp_effective() -> Option<(String, Vec<String>)> {
    let key = LOCAL_MACHINE.open(CONNECTIONS).ok()?;
    let value = key.get_value("WinHttpSettings").ok()?;
    let s = winhttp::decode(&value).ok()?;
    let proxy = s.effective_proxy()?.to_string();
    Some((proxy, s.bypass))
}

/// The WinHTTP setting (no value stored: direct access, as `netsh winhttp show proxy` says).
fn winhttp_proxy() -> Vec<ProxySetting> {
    let direct = || ProxySetting {
        source: ProxySettingSource::Winhttp,
        scope: Some("machine".into()),
        proxy: None,
        bypass: Vec::new(),
        pac_url: None,
        auto_detect: false,
        error: None,
    };
    let Ok(key) = LOCAL_MACHINE.open(CONNECTIONS) else { return vec![direct()] };
    let Ok(value) = key.get_value("WinHttpSettings") else { return vec![direct()] };
    let mut out = Vec::new();
    match winhttp::decode(&value) {
        Ok(s) => {
            out.push(ProxySetting {
                proxy: s.effective_proxy().map(mask_credentials),
                bypass: s.bypass.clone(),
                ..direct()
            });
            if s.pac_url.is_some() || s.auto_detect() {
                out.push(pac("machine", s.pac_url.clone(), s.auto_detect()));
            }
        }
        Err(e) => out.push(ProxySetting {
            source: ProxySettingSource::Winhttp,
            scope: Some("machine".into()),
            proxy: None,
            bypass: Vec::new(),
            pac_url: None,
            auto_detect: false,
            error: Some(format!(r"HKLM\{CONNECTIONS}\WinHttpSettings: {e}")),
        }),
    }
    out
}

fn pac(scope: &str, pac_url: Option<String>, auto_detect: bool) -> ProxySetting {
    ProxySetting {
        source: ProxySettingSource::Pac,
        scope: Some(scope.into()),
        proxy: None,
        bypass: Vec::new(),
        pac_url,
        auto_detect,
        error: None,
    }
}

/// WinINet settings of one hive: ProxyEnable/ProxyServer/ProxyOverride and AutoConfigURL.
fn wininet(hive: &Key, scope: &str) -> Vec<ProxySetting> {
    let mut out = Vec::new();
    let Ok(key) = hive.open(INTERNET_SETTINGS) else { return out };
    if key.get_u32("ProxyEnable").unwrap_or(0) == 1
        && let Ok(server) = key.get_string("ProxyServer")
    {
        let bypass = key
            .get_string("ProxyOverride")
            .map(|v| v.split(';').filter(|s| !s.trim().is_empty()).take(256).map(printable).collect())
            .unwrap_or_default();
        out.push(ProxySetting {
            source: ProxySettingSource::Wininet,
            scope: Some(scope.into()),
            proxy: Some(mask_credentials(&server)),
            bypass,
            pac_url: None,
            auto_detect: false,
            error: None,
        });
    }
    if let Ok(url) = key.get_string("AutoConfigURL")
        && !url.trim().is_empty()
    {
        out.push(pac(scope, Some(printable(&url)), false));
    }
    out
}

fn w32time() -> TimeService {
    let Ok(key) = LOCAL_MACHINE.open(W32TIME) else {
        return TimeService {
            service: TimeServiceKind::Unknown,
            detail: Some(format!(r"HKLM\{W32TIME} cannot be opened")),
            ..TimeService::default()
        };
    };
    let mode = key.get_string("Type").ok().map(|t| printable(&t));
    let configured = key.get_string("NtpServer").map(|v| ntp_server_list(&v)).unwrap_or_default();
    let service = if mode.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("NoSync")) {
        TimeServiceKind::None
    } else {
        TimeServiceKind::W32time
    };
    let (source, queried) = match w32tm_source() {
        Ok(source) => (Some(source), "w32tm /query /source".to_string()),
        Err(e) => (None, e),
    };
    TimeService {
        service,
        mode,
        configured,
        source,
        synchronized: None,
        detail: Some(format!(r"HKLM\{W32TIME}; {queried}")),
    }
}

/// How long `w32tm /query /source` may take.
const W32TM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// Most bytes read from its output.
const W32TM_CAP: u64 = 4096;

/// The source W32Time follows now, as `w32tm /query /source` prints it (`time.contoso.com,0x8`,
/// or `Local CMOS Clock` / `Free-running System Clock` when nothing syncs the clock); `Err`
/// says what failed (e.g. the service is not running), once. Runs
/// `%SystemRoot%\System32\w32tm.exe`, bounded in time and output.
fn w32tm_source() -> Result<String, String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
    let program = std::path::Path::new(&root).join("System32").join("w32tm.exe");
    let what = format!("{} /query /source", program.display());
    let mut child = Command::new(&program)
        .args(["/query", "/source"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let start = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < W32TM_TIMEOUT => std::thread::sleep(std::time::Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} did not answer within {} s", W32TM_TIMEOUT.as_secs()));
            }
            Err(e) => return Err(format!("cannot wait for {what}: {e}")),
        }
    };
    let mut out = Vec::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = stdout.take(W32TM_CAP).read_to_end(&mut out);
    }
    w32tm_answer(&String::from_utf8_lossy(&out), status.success()).map_err(|e| format!("{what}: {e}"))
}

/// The source in `w32tm /query /source`'s output (its first non-empty line), or its error.
pub fn w32tm_answer(out: &str, success: bool) -> Result<String, String> {
    let line = out.lines().map(printable).find(|l| !l.is_empty());
    match (success, line) {
        (true, Some(source)) => Ok(source),
        (true, None) => Err("printed no source".into()),
        (false, Some(error)) => Err(format!("failed: {error}")),
        (false, None) => Err("failed".into()),
    }
}

fn tls_client() -> TlsClient {
    let mut disabled = Vec::new();
    let mut detail = Vec::new();
    if let Ok(key) = LOCAL_MACHINE.open(TLS12_CLIENT) {
        let enabled = key.get_u32("Enabled").ok();
        let disabled_by_default = key.get_u32("DisabledByDefault").ok();
        if enabled == Some(0) || disabled_by_default == Some(1) {
            disabled.push("TLS 1.2".to_string());
        }
        if let Some(v) = enabled {
            detail.push(format!(r"SCHANNEL\Protocols\TLS 1.2\Client Enabled={v}"));
        }
        if let Some(v) = disabled_by_default {
            detail.push(format!(r"SCHANNEL\Protocols\TLS 1.2\Client DisabledByDefault={v}"));
        }
    }
    for path in DOTNET {
        let Ok(key) = LOCAL_MACHINE.open(path) else { continue };
        for name in ["SchUseStrongCrypto", "SystemDefaultTlsVersions"] {
            match key.get_u32(name) {
                Ok(1) => {}
                Ok(v) => detail.push(format!(r"HKLM\{path} {name}={v} (not 1)")),
                Err(_) => detail.push(format!(r"HKLM\{path} {name} is not set")),
            }
        }
    }
    TlsClient { source: TlsClientSource::Schannel, disabled_protocols: disabled, detail }
}
