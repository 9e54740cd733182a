//! Node-platform findings: what the node is set to use (`node.platform`) against what the probe
//! did and saw. ProxyConfigMismatch (warning), ProxyAutoConfig (info), TimeSourceUnreliable
//! (warning), TlsClientProtocolDisabled (error); and ClockSkew's remediation naming the
//! configured time source. No I/O.

use serde_json::{Map, Value, json};

use super::codes::{Code, Severity, usage_error};
use super::{Finding, Remediation};
use crate::clock::{ClockEstimate, SourceKind};
use crate::platform::{Platform, ProxySettingSource, TimeServiceKind, TlsClient, ntp_entry};
use crate::report::ProxyInfo;

/// W32Time NtpServer flag: client mode, which Azure Stack Hub's time source needs.
pub const NTP_FLAG_CLIENT: u32 = 0x8;

fn finding(code: Code, severity: Severity, message: String, evidence: Value) -> Finding {
    Finding {
        code,
        severity,
        endpoint: None,
        usage_error: usage_error(code, false),
        message,
        evidence: match evidence {
            Value::Object(m) => m,
            _ => Map::new(),
        },
        remediation: Remediation::default(),
    }
}

/// A proxy setting reduced for comparison: no scheme, no credentials, no trailing slash, lower case.
fn normalized(proxy: &str) -> String {
    let p = proxy.trim().to_ascii_lowercase();
    let p = p.split_once("://").map_or(p.as_str(), |(_, rest)| rest);
    let p = p.rsplit_once('@').map_or(p, |(_, host)| host);
    p.trim_end_matches('/').to_string()
}

/// The proxy the node's settings name per source (`winhttp`, `wininet (machine)`, `env`, ...).
fn named_proxies(platform: &Platform) -> Vec<(String, String)> {
    platform
        .proxies
        .iter()
        .filter(|p| {
            matches!(p.source, ProxySettingSource::Winhttp | ProxySettingSource::Wininet | ProxySettingSource::Env)
        })
        .filter_map(|p| {
            let proxy = match (p.source, p.proxy.as_deref()) {
                (_, Some(proxy)) => proxy,
                (ProxySettingSource::Winhttp, None) if p.error.is_none() => "direct",
                _ => return None,
            };
            let label = match &p.scope {
                Some(scope) if p.source == ProxySettingSource::Wininet => format!("wininet ({scope})"),
                _ => p.source.as_str().to_string(),
            };
            Some((label, proxy.to_string()))
        })
        .collect()
}

/// Node-wide findings from `node.platform`. `probed` is the proxy the run used (`config.proxy`).
pub fn findings(platform: &Platform, probed: Option<&ProxyInfo>, clock: &ClockEstimate) -> Vec<Finding> {
    let mut out = Vec::new();
    let probed_label =
        probed.map_or_else(|| "a direct connection".to_string(), |p| format!("{} ({})", p.url, p.source.as_str()));

    // Proxies: the sources disagree. A WinHTTP setting without a proxy is "direct" (services
    // connect directly); WinINet without ProxyEnable and an empty environment name nothing.
    let named = named_proxies(platform);
    let mut distinct: Vec<String> = named.iter().map(|(_, p)| normalized(p)).collect();
    distinct.sort();
    distinct.dedup();
    if distinct.len() > 1 {
        let sources = named.iter().map(|(l, p)| format!("{l}: {p}")).collect::<Vec<_>>().join("; ");
        out.push(finding(
            Code::ProxyConfigMismatch,
            Severity::Warning,
            format!("the node's proxy settings disagree ({sources}); this run probed through {probed_label}"),
            json!({"settings": named.iter().map(|(l, p)| json!({"source": l, "proxy": p})).collect::<Vec<_>>(), "probed": probed_label}),
        ));
    }
    for p in platform.proxies.iter().filter(|p| p.source == ProxySettingSource::Pac) {
        let what = pac_what(p.pac_url.as_deref(), p.auto_detect);
        let scope = p.scope.clone().unwrap_or_default();
        out.push(finding(
            Code::ProxyAutoConfig,
            Severity::Info,
            format!("the node's {scope} settings name {what}: the PAC script was not evaluated; this run probed through {probed_label}"),
            json!({"scope": scope, "pac_url": p.pac_url, "auto_detect": p.auto_detect, "probed": probed_label}),
        ));
    }

    out.extend(time_findings(platform, clock));

    let tls = &platform.tls_client;
    if let Some(why) = tls_client_why(tls) {
        out.push(finding(
            Code::TlsClientProtocolDisabled,
            Severity::Error,
            format!("this node cannot speak TLS 1.2 as a client, whatever the network does: {why}"),
            json!({"source": tls.source.as_str(), "disabled_protocols": tls.disabled_protocols, "detail": tls.detail}),
        ));
    }
    out
}

/// What the PAC settings name: the script, WPAD auto-detection, or both.
fn pac_what(pac_url: Option<&str>, auto_detect: bool) -> String {
    match (pac_url, auto_detect) {
        (Some(url), true) => format!("the PAC script {url} and WPAD auto-detection"),
        (Some(url), false) => format!("the PAC script {url}"),
        (None, _) => "WPAD auto-detection".to_string(),
    }
}

/// Why the OS TLS client cannot speak TLS 1.2 (Schannel protocols switched off, the .NET
/// Framework not set to the system's versions); None when it can.
fn tls_client_why(tls: &TlsClient) -> Option<String> {
    if tls.disabled_protocols.is_empty() && !tls.detail.iter().any(|d| d.contains(".NETFramework")) {
        return None;
    }
    let mut why = Vec::new();
    if !tls.disabled_protocols.is_empty() {
        why.push(format!("Schannel's client has {} switched off", tls.disabled_protocols.join(", ")));
    }
    let dotnet: Vec<&String> = tls.detail.iter().filter(|d| d.contains(".NETFramework")).collect();
    if !dotnet.is_empty() {
        why.push(format!(
            "the .NET Framework is not set to use the system's TLS versions ({})",
            super::listed(&dotnet)
        ));
    }
    Some(why.join("; "))
}

/// Why the node's clock may drift, from its time service settings and the sources this probe asked;
/// empty when nothing is wrong.
fn time_reasons(platform: &Platform, clock: &ClockEstimate) -> Vec<String> {
    let t = &platform.time_service;
    let mut reasons = Vec::new();
    let mode = t.mode.as_deref().unwrap_or_default();
    if t.service == TimeServiceKind::None || mode.eq_ignore_ascii_case("NoSync") {
        reasons.push(format!(
            "the time service syncs from nothing (Type={})",
            if mode.is_empty() { "none" } else { mode }
        ));
    }
    if let Some(src) = &t.source {
        let l = src.to_ascii_lowercase();
        if l.contains("local cmos clock") || l.contains("free-running system clock") {
            reasons.push(format!("the time source is the {src}"));
        }
    }
    if t.synchronized == Some(false) {
        reasons.push(format!("{} reports the clock not synchronised", t.service.as_str()));
    }
    if t.service == TimeServiceKind::W32time && mode.eq_ignore_ascii_case("NTP") {
        let lacking: Vec<&str> = t
            .configured
            .iter()
            .filter(|e| ntp_entry(e).1.is_none_or(|f| f & NTP_FLAG_CLIENT == 0))
            .map(String::as_str)
            .collect();
        if !lacking.is_empty() {
            reasons.push(format!(
                "NtpServer {} lacks the client-mode flag 0x8 that Azure Stack Hub needs",
                lacking.join(" ")
            ));
        }
    }
    // A configured server the probe also asked that did not answer.
    for e in &t.configured {
        let host = ntp_entry(e).0.to_ascii_lowercase();
        let asked: Vec<_> = clock
            .sources
            .iter()
            .filter(|s| {
                s.kind == SourceKind::Ntp
                    && crate::platform::ntp_entry(&s.server).0.split(':').next() == Some(host.as_str())
            })
            .collect();
        if !asked.is_empty() && asked.iter().all(|s| s.error.is_some()) {
            reasons.push(format!("the configured source {host} did not answer this probe"));
        }
    }
    reasons
}

fn time_findings(platform: &Platform, clock: &ClockEstimate) -> Vec<Finding> {
    let t = &platform.time_service;
    let reasons = time_reasons(platform, clock);
    if reasons.is_empty() {
        return Vec::new();
    }
    let why = reasons.join("; ");
    vec![finding(
        Code::TimeSourceUnreliable,
        Severity::Warning,
        format!("this node's clock may drift: {why}"),
        json!({"service": t.service.as_str(), "mode": t.mode, "configured": t.configured, "source": t.source, "synchronized": t.synchronized}),
    )]
}

/// The hook `app::assemble` calls: adds the platform findings (ClockSkew's remediation names
/// the configured time source when the remediation is attached, see [`name_time_source`]).
pub fn apply(out: &mut Vec<Finding>, platform: &Platform, probed: Option<&ProxyInfo>, clock: &ClockEstimate) {
    out.extend(findings(platform, probed, clock));
}

/// The remediation placeholders of a platform finding: what its message is made of, from the
/// report's `node.platform`, its clock and the finding's evidence.
pub(super) fn placeholders(f: &Finding, platform: &Platform, clock: &ClockEstimate) -> Vec<(&'static str, String)> {
    let text = |k: &str| f.evidence.get(k).and_then(Value::as_str).map(str::to_string);
    match f.code {
        Code::ProxyConfigMismatch => {
            let named = named_proxies(platform);
            let sources = named.iter().map(|(l, p)| format!("{l}: {p}")).collect::<Vec<_>>().join("; ");
            let mut v = vec![("sources", sources)];
            v.extend(text("probed").map(|p| ("probed", p)));
            v
        }
        Code::ProxyAutoConfig => {
            let auto_detect = f.evidence.get("auto_detect").and_then(Value::as_bool).unwrap_or(false);
            vec![("pac", pac_what(text("pac_url").as_deref(), auto_detect))]
        }
        Code::TimeSourceUnreliable => {
            let t = &platform.time_service;
            let configured = if t.configured.is_empty() { "none".to_string() } else { t.configured.join(" ") };
            vec![("configured", configured), ("why", time_reasons(platform, clock).join("; "))]
        }
        Code::TlsClientProtocolDisabled => {
            tls_client_why(&platform.tls_client).map(|w| ("why", w)).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// ClockSkew's remediation names the configured time source (a step added in front).
pub fn name_time_source(findings: &mut [Finding], platform: &Platform) {
    let t = &platform.time_service;
    let configured = if t.configured.is_empty() { None } else { Some(t.configured.join(" ")) };
    let Some(what) = t.source.clone().or(configured) else { return };
    for f in findings.iter_mut().filter(|f| f.code == Code::ClockSkew) {
        f.remediation.steps.insert(
            0,
            format!("This node's time service ({}) is set to follow {what}: check that this source answers and is itself correct.", t.service.as_str()),
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clock::ClockVerdict;
    use crate::platform::{ProxySetting, TimeService, TlsClient, TlsClientSource};

    fn clock() -> ClockEstimate {
        ClockEstimate {
            offset_seconds: None,
            uncertainty_seconds: None,
            verdict: ClockVerdict::Unknown,
            sources: vec![],
        }
    }

    fn proxy(source: ProxySettingSource, scope: Option<&str>, p: &str) -> ProxySetting {
        ProxySetting {
            source,
            scope: scope.map(str::to_string),
            proxy: Some(p.into()),
            bypass: vec![],
            pac_url: None,
            auto_detect: false,
            error: None,
        }
    }

    #[test]
    fn disagreeing_proxies_are_a_warning_naming_both() {
        let platform = Platform {
            proxies: vec![
                proxy(ProxySettingSource::Winhttp, Some("machine"), "proxy-a:3128"),
                proxy(ProxySettingSource::Env, None, "http://proxy-b:8080/"),
            ],
            ..Platform::default()
        };
        let f = findings(&platform, None, &clock());
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, Code::ProxyConfigMismatch);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].message.contains("winhttp: proxy-a:3128; env: http://proxy-b:8080/"), "{}", f[0].message);
        assert!(f[0].message.contains("probed through a direct connection"), "{}", f[0].message);
        // The same proxy written differently agrees.
        let same = Platform {
            proxies: vec![
                proxy(ProxySettingSource::Winhttp, Some("machine"), "Proxy-A:3128"),
                proxy(ProxySettingSource::Env, None, "http://proxy-a:3128/"),
            ],
            ..Platform::default()
        };
        assert!(findings(&same, None, &clock()).is_empty());
    }

    #[test]
    fn pac_is_info() {
        let mut p = proxy(ProxySettingSource::Pac, Some("user"), "");
        p.proxy = None;
        p.pac_url = Some("http://wpad.corp/proxy.pac".into());
        let f = findings(&Platform { proxies: vec![p], ..Platform::default() }, None, &clock());
        assert_eq!(f[0].code, Code::ProxyAutoConfig);
        assert_eq!(f[0].severity, Severity::Info);
        assert!(f[0].message.contains("the PAC script was not evaluated"));
    }

    #[test]
    fn time_source_rules() {
        let w32 = |mode: &str, servers: &[&str]| Platform {
            time_service: TimeService {
                service: TimeServiceKind::W32time,
                mode: Some(mode.into()),
                configured: servers.iter().map(|s| s.to_string()).collect(),
                ..TimeService::default()
            },
            ..Platform::default()
        };
        assert!(findings(&w32("NTP", &["10.0.0.1,0x8"]), None, &clock()).is_empty());
        let f = findings(&w32("NTP", &["10.0.0.1,0x1", "ntp2"]), None, &clock());
        assert_eq!(f[0].code, Code::TimeSourceUnreliable);
        assert!(
            f[0].message.contains("NtpServer 10.0.0.1,0x1 ntp2 lacks the client-mode flag 0x8"),
            "{}",
            f[0].message
        );
        let f = findings(&w32("NoSync", &[]), None, &clock());
        assert!(f[0].message.contains("syncs from nothing (Type=NoSync)"), "{}", f[0].message);
        let mut p = w32("NT5DS", &[]);
        p.time_service.source = Some("Local CMOS Clock".into());
        let f = findings(&p, None, &clock());
        assert!(f[0].message.contains("the time source is the Local CMOS Clock"), "{}", f[0].message);
    }

    #[test]
    fn tls12_switched_off_is_an_error() {
        let p = Platform {
            tls_client: TlsClient {
                source: TlsClientSource::Schannel,
                disabled_protocols: vec!["TLS 1.2".into()],
                detail: vec![],
            },
            ..Platform::default()
        };
        let mut f = findings(&p, None, &clock());
        assert_eq!(f[0].code, Code::TlsClientProtocolDisabled);
        assert_eq!(f[0].severity, Severity::Error);
        let clock = clock();
        let facts = crate::diagnose::remediation::Facts { endpoints: &[], platform: &p, clock: &clock };
        crate::diagnose::remediation::attach(&mut f, &facts, crate::config::Lang::Fr);
        assert!(!f[0].remediation.steps.is_empty());
        // The placeholder `why` is filled from the platform, in the French text.
        let fr = format!("{} {}", f[0].remediation.summary, f[0].remediation.steps.join(" "));
        assert!(fr.contains("Schannel's client has TLS 1.2 switched off"), "{fr}");
    }
}
