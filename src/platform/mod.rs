//! What the node itself is set to use (`node.platform` in the report): proxies, time service
//! and TLS client settings, read from the registry on Windows and from the OS equivalents on
//! Linux. Readers observe (registry values, config files, `chronyc`/`timedatectl` output);
//! `diagnose::platform` decides what they mean.

#[cfg(unix)]
mod linux;
#[cfg(windows)]
mod windows;
pub mod winhttp;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::proxy::{NoProxy, ProxyConfig, ProxyRequest, ProxySource, ProxyUrlError, parse_proxy_url};

/// Where a proxy setting was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProxySettingSource {
    /// `--proxy` on the command line.
    Flag,
    /// `HTTPS_PROXY`/`https_proxy`/`ALL_PROXY` in the environment.
    Env,
    /// The WinHTTP proxy (`netsh winhttp`), used by services and Schannel's CRL/OCSP fetches.
    Winhttp,
    /// WinINet (Internet Options), machine or user.
    Wininet,
    /// A PAC script URL or WPAD auto-detection (WinINet or WinHTTP).
    Pac,
}

impl ProxySettingSource {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            ProxySettingSource::Flag => "flag",
            ProxySettingSource::Env => "env",
            ProxySettingSource::Winhttp => "winhttp",
            ProxySettingSource::Wininet => "wininet",
            ProxySettingSource::Pac => "pac",
        }
    }
}

/// One proxy setting of the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProxySetting {
    /// Where the setting was read.
    pub source: ProxySettingSource,
    /// `machine` or `user` for WinINet and PAC settings; null otherwise.
    #[serde(default)]
    pub scope: Option<String>,
    /// The proxy as configured (credentials replaced by `***`), or null for none.
    pub proxy: Option<String>,
    /// Bypass entries (NO_PROXY, WinHTTP bypass list, ProxyOverride).
    #[serde(default)]
    pub bypass: Vec<String>,
    /// The PAC script URL (never fetched nor evaluated).
    #[serde(default)]
    pub pac_url: Option<String>,
    /// WPAD auto-detection is on.
    #[serde(default)]
    pub auto_detect: bool,
    /// Why the setting could not be read (e.g. a malformed WinHttpSettings blob).
    #[serde(default)]
    pub error: Option<String>,
}

/// The time service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TimeServiceKind {
    /// Windows Time (W32Time), read from the registry.
    W32time,
    /// chrony (`chronyc tracking`, chrony.conf).
    Chrony,
    /// systemd-timesyncd (`timedatectl`, timesyncd.conf).
    SystemdTimesyncd,
    /// The reference NTP daemon (ntp.conf).
    Ntpd,
    /// No time service is running.
    None,
    /// Could not tell (see `detail`).
    #[default]
    Unknown,
}

impl TimeServiceKind {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeServiceKind::W32time => "w32time",
            TimeServiceKind::Chrony => "chrony",
            TimeServiceKind::SystemdTimesyncd => "systemd-timesyncd",
            TimeServiceKind::Ntpd => "ntpd",
            TimeServiceKind::None => "none",
            TimeServiceKind::Unknown => "unknown",
        }
    }
}

/// What the node's clock is set to follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub struct TimeService {
    /// The service that keeps the node's clock.
    pub service: TimeServiceKind,
    /// W32Time's `Type` (NT5DS, NTP, NoSync, AllSync); null elsewhere.
    #[serde(default)]
    pub mode: Option<String>,
    /// Configured servers as written (W32Time: `host,0x8`; chrony/ntpd: host names).
    #[serde(default)]
    pub configured: Vec<String>,
    /// The source the service follows now, when it says (chrony's reference, timesyncd's server).
    #[serde(default)]
    pub source: Option<String>,
    /// Whether the service reports the clock synchronised; null when unknown.
    #[serde(default)]
    pub synchronized: Option<bool>,
    /// What could not be read, or how the facts were obtained.
    #[serde(default)]
    pub detail: Option<String>,
}

/// Where TLS client settings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TlsClientSource {
    /// Schannel and .NET Framework registry settings (Windows).
    Schannel,
    /// No OS-wide TLS client policy is read (Linux: each library decides).
    #[default]
    None,
}

impl TlsClientSource {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsClientSource::Schannel => "schannel",
            TlsClientSource::None => "none",
        }
    }
}

/// The OS TLS client policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub struct TlsClient {
    /// Where the policy was read.
    pub source: TlsClientSource,
    /// Protocols the OS client will not offer, e.g. `TLS 1.2` (Schannel Enabled=0 or DisabledByDefault=1).
    #[serde(default)]
    pub disabled_protocols: Vec<String>,
    /// Registry facts behind the verdict (e.g. `.NET v4.0.30319 SchUseStrongCrypto is not 1`).
    #[serde(default)]
    pub detail: Vec<String>,
}

/// `node.platform`: what the node itself is set to use, read from the registry (Windows) or
/// the OS's files and tools (Linux). Observed, not probed: the findings of the `platform` stage
/// (ProxyConfigMismatch, ProxyAutoConfig, TimeSourceUnreliable, TlsClientProtocolDisabled) come
/// from here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
pub struct Platform {
    /// Every proxy setting found: the command line, the environment, WinHTTP, WinINet, PAC.
    #[serde(default)]
    pub proxies: Vec<ProxySetting>,
    /// The time service and what it follows.
    #[serde(default)]
    pub time_service: TimeService,
    /// The OS TLS client policy (Schannel on Windows).
    #[serde(default)]
    pub tls_client: TlsClient,
}

/// Reads the node's settings (registry on Windows, files and `chronyc`/`timedatectl` on Linux).
/// Never fails: what cannot be read is said in the `detail`/`error` fields.
pub fn read() -> Platform {
    #[cfg(windows)]
    {
        windows::read()
    }
    #[cfg(unix)]
    {
        linux::read()
    }
    #[cfg(not(any(unix, windows)))]
    {
        Platform { proxies: env_proxies(|n| std::env::var(n).ok()), ..Platform::default() }
    }
}

/// The proxy a run uses: on Windows without `--proxy`/`--no-proxy`, the WinHTTP proxy when one is
/// set (the path the bridge's platform takes), else `env_choice` (the environment's); elsewhere
/// `env_choice`.
///
/// # Errors
/// A WinHTTP proxy that is not a usable `host:port` ([`ProxyUrlError`], naming "the WinHTTP proxy").
pub fn default_proxy(
    request: &ProxyRequest,
    env_choice: Option<ProxyConfig>,
) -> Result<Option<ProxyConfig>, ProxyUrlError> {
    #[cfg(windows)]
    if *request == ProxyRequest::FromEnvironment
        && let Some((list, bypass)) = windows::winhttp_effective()
    {
        return winhttp_proxy_config(&list, &bypass).map(Some);
    }
    let _ = request;
    Ok(env_choice)
}

/// A WinHTTP proxy list (`host:port` or `http=h:p;https=h:p`) as the proxy for https:// URLs:
/// the `https=` entry, else the first entry without a scheme. Bypass entries: `<local>` is
/// dropped, `*.corp` becomes `.corp` (NO_PROXY's spelling).
///
/// # Errors
/// [`ProxyUrlError`] when no entry is a usable proxy.
pub fn winhttp_proxy_config(list: &str, bypass: &[String]) -> Result<ProxyConfig, ProxyUrlError> {
    let entries: Vec<&str> = list.split([';', ' ']).map(str::trim).filter(|e| !e.is_empty()).collect();
    let chosen = entries
        .iter()
        .find_map(|e| e.strip_prefix("https="))
        .or_else(|| entries.iter().copied().find(|e| !e.contains('=')))
        .unwrap_or(list);
    let url = if chosen.contains("://") { chosen.to_string() } else { format!("http://{chosen}") };
    let no_proxy: Vec<String> = bypass
        .iter()
        .filter(|b| !b.eq_ignore_ascii_case("<local>"))
        .map(|b| b.strip_prefix('*').unwrap_or(b).to_string())
        .collect();
    parse_proxy_url(&url, "the WinHTTP proxy", ProxySource::Winhttp, NoProxy::parse(&no_proxy.join(",")))
}

/// The proxy from the environment as a [`ProxySetting`] (curl's order), credentials masked.
pub fn env_proxies(env: impl Fn(&str) -> Option<String>) -> Vec<ProxySetting> {
    let first = |names: &[&str]| names.iter().find_map(|n| env(n).filter(|v| !v.trim().is_empty()));
    let Some(proxy) = first(&crate::config::proxy::PROXY_VARIABLES) else { return Vec::new() };
    let bypass = first(&["no_proxy", "NO_PROXY"])
        .map(|v| v.split([',', ' ']).filter(|s| !s.is_empty()).map(printable).collect())
        .unwrap_or_default();
    vec![ProxySetting {
        source: ProxySettingSource::Env,
        scope: None,
        proxy: Some(mask_credentials(&proxy)),
        bypass,
        pac_url: None,
        auto_detect: false,
        error: None,
    }]
}

/// `user:pass@` in a proxy setting replaced by `***@` ([`crate::catalog::mask_userinfo`], as
/// endpoint URLs in errors); the rest made printable.
pub fn mask_credentials(s: &str) -> String {
    crate::catalog::mask_userinfo(&printable(s))
}

/// Control characters replaced by `?`, capped at 1,024 characters.
pub fn printable(s: &str) -> String {
    s.trim().chars().take(1024).map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// A W32Time `NtpServer` entry (`host,0x8`) split into host and flags (`None` without a flag
/// or with one that is not hexadecimal).
pub fn ntp_entry(entry: &str) -> (&str, Option<u32>) {
    match entry.split_once(',') {
        Some((host, flags)) => {
            let f = flags.trim();
            let hex = f.strip_prefix("0x").or_else(|| f.strip_prefix("0X")).unwrap_or(f);
            (host.trim(), u32::from_str_radix(hex, 16).ok())
        }
        None => (entry.trim(), None),
    }
}

/// W32Time's `NtpServer` value split into entries.
pub fn ntp_server_list(value: &str) -> Vec<String> {
    value.split_whitespace().take(64).map(printable).collect()
}

/// `chronyc -c tracking` (CSV): the reference name and whether the leap status is synchronised.
pub fn parse_chronyc_tracking(out: &str) -> Option<(Option<String>, bool)> {
    let line = out.lines().next()?;
    let fields: Vec<&str> = line.split(',').collect();
    if fields.len() < 14 {
        return None;
    }
    let name = fields[1].trim();
    let leap = fields[13].trim();
    let source = (!name.is_empty() && name != "127.127.1.1").then(|| printable(name));
    Some((source, leap != "Not synchronised" && fields[0] != "00000000"))
}

/// `key=value` lines (as `timedatectl show` prints) looked up by key.
pub fn key_value<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('='))).map(str::trim)
}

/// `server`/`pool`/`peer` directives of a chrony or ntpd configuration file.
pub fn config_servers(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            match w.next() {
                Some("server" | "pool" | "peer") => w.next().map(printable),
                _ => None,
            }
        })
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ntp_entries_and_flags() {
        assert_eq!(ntp_entry("time.corp,0x8"), ("time.corp", Some(8)));
        assert_eq!(ntp_entry("10.0.0.1,0x9"), ("10.0.0.1", Some(9)));
        assert_eq!(ntp_entry("time.windows.com"), ("time.windows.com", None));
        assert_eq!(ntp_entry("a,zz"), ("a", None));
        assert_eq!(ntp_server_list(" a,0x8  b,0x1 "), vec!["a,0x8", "b,0x1"]);
    }

    #[test]
    fn chronyc_tracking_csv() {
        let ok = "C0A80001,ntp.corp,3,1700000000.1,0.000001,0.0,0.0,1.0,0.0,0.1,0.01,0.001,64.0,Normal\n";
        assert_eq!(parse_chronyc_tracking(ok), Some((Some("ntp.corp".into()), true)));
        let none = "00000000,,0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,1.0,0.0,Not synchronised\n";
        assert_eq!(parse_chronyc_tracking(none), Some((None, false)));
        assert_eq!(parse_chronyc_tracking("garbage"), None);
        assert_eq!(parse_chronyc_tracking(""), None);
    }

    #[test]
    fn timedatectl_and_config_files() {
        let out = "NTP=yes\nNTPSynchronized=no\nTimezone=UTC\n";
        assert_eq!(key_value(out, "NTPSynchronized"), Some("no"));
        assert_eq!(key_value(out, "NTP"), Some("yes"));
        assert_eq!(key_value(out, "Missing"), None);
        let conf = "# x\nserver ntp1.corp iburst\npool 2.debian.pool.ntp.org\nserverx y\n";
        assert_eq!(config_servers(conf), vec!["ntp1.corp", "2.debian.pool.ntp.org"]);
    }

    #[test]
    fn winhttp_proxy_lists() {
        let p = winhttp_proxy_config("proxy.corp:3128", &["<local>".into(), "*.azurestack.local".into()]).unwrap();
        assert_eq!((p.host.bare(), p.port, p.source), ("proxy.corp".into(), 3128, ProxySource::Winhttp));
        let p = winhttp_proxy_config("http=a:1;https=b:2", &[]).unwrap();
        assert_eq!((p.host.bare(), p.port), ("b".into(), 2));
        assert!(winhttp_proxy_config("http://h:99999", &[]).is_err());
    }

    #[test]
    fn environment_proxies_are_masked() {
        let env = |n: &str| match n {
            "HTTPS_PROXY" => Some("http://user:secret@proxy.corp:3128".to_string()),
            "NO_PROXY" => Some(".corp, 10.0.0.0/8".to_string()),
            _ => None,
        };
        let p = env_proxies(env);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].proxy.as_deref(), Some("http://***@proxy.corp:3128"));
        assert_eq!(p[0].bypass, vec![".corp", "10.0.0.0/8"]);
        assert!(env_proxies(|_| None).is_empty());
        assert_eq!(mask_credentials("u:p@h:1"), "***@h:1");
        assert_eq!(mask_credentials("h:1/@x"), "h:1/@x");
    }
}
