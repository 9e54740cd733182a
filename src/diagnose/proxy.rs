//! Proxy stage: the CONNECT through the configured proxy (ProxyUnreachable,
//! ProxyAuthenticationRequired, ProxyDenied, ProxyUpstreamFailed, HttpProtocolError for a proxy
//! that does not speak HTTP) and the bypass list's readings (ProxyBypassAmbiguous).

use serde_json::json;

use super::{Code, Ctx, Severity, obj};
use crate::probe::proxy::{BypassClient, ProxyHop, ProxyStatus};

/// The proxy's status line as quoted in messages: `"HTTP 500 Unable to connect"`.
fn proxy_status_line(hop: &ProxyHop) -> String {
    let code = hop.http_status.map_or_else(|| "-".to_string(), |s| s.to_string());
    match &hop.reason {
        Some(r) => format!("\"HTTP {code} {r}\""),
        None => format!("\"HTTP {code}\""),
    }
}

/// The first words of the proxy's page as quoted in messages (at most 20 words), or nothing.
fn proxy_page_words(hop: &ProxyHop) -> String {
    let Some(text) = hop.body_excerpt.as_deref() else {
        return String::new();
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let more = if words.len() > 20 { " …" } else { "" };
    format!(": \"{}{more}\"", words[..words.len().min(20)].join(" "))
}

/// ProxyBypassAmbiguous (info): the bypass list's entries mean different things to the clients
/// that read it, for this endpoint; the report applies this probe's reading and says so.
pub(super) fn bypass_findings(c: &mut Ctx<'_>) {
    let Some(hop) = c.obs.proxy.as_ref() else {
        return;
    };
    if hop.bypass_readings.is_empty() {
        return;
    }
    let readings = hop.bypass_readings.clone();
    let host = c.obs.spec.target.host().bare();
    let describe = |bypassed: bool| {
        let v: Vec<String> = readings
            .iter()
            .filter(|r| r.bypassed == bypassed && r.client != BypassClient::Probe)
            .map(|r| match &r.rule {
                Some(rule) => format!("{} (`{rule}`)", r.client.as_str()),
                None => r.client.as_str().to_string(),
            })
            .collect();
        if v.is_empty() { "none".to_string() } else { v.join(", ") }
    };
    let applied = readings.iter().find(|r| r.client == BypassClient::Probe);
    let applied_text = match applied {
        Some(r) if r.bypassed => {
            format!(
                "this probe connected directly (its reading: curl's, plus `*.domain` and `<local>`; rule `{}`)",
                r.rule.as_deref().unwrap_or("?")
            )
        }
        _ => "this probe used the proxy (its reading: curl's, plus `*.domain` and `<local>`)".to_string(),
    };
    let rules: Vec<String> =
        readings.iter().filter_map(|r| r.rule.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let evidence = obj(&[
        ("host", json!(host)),
        ("rules", json!(rules)),
        ("rule", json!(rules.join(", "))),
        ("readings", json!(readings)),
        ("applied", json!(applied.map(|r| r.bypassed))),
    ]);
    c.push(
        Code::ProxyBypassAmbiguous,
        Severity::Info,
        format!(
            "the proxy bypass list is read differently for {host}: bypassed by {}; proxied by {}; {applied_text}",
            describe(true),
            describe(false)
        ),
        evidence,
    );
}

/// Findings of the proxy hop; true when the tunnel is open.
pub(super) fn findings(c: &mut Ctx<'_>) -> bool {
    let Some(hop) = c.obs.proxy.clone() else {
        return false;
    };
    let host = c.obs.spec.target.host().bare();
    let port = c.obs.spec.target.port();
    let code_text = hop.http_status.map_or_else(|| "-".to_string(), |s| s.to_string());
    let mut evidence = obj(&[
        ("proxy", json!(hop.url)),
        ("proxy_address", json!(hop.address.map(|a| a.to_string()))),
        ("proxy_status", json!(hop.status)),
        ("status_code", json!(code_text)),
        ("host", json!(host)),
        ("port", json!(port)),
        ("server", json!(hop.server)),
        ("via", json!(hop.via)),
        ("error", json!(hop.error)),
    ]);
    let headers = {
        let mut h = Vec::new();
        if let Some(s) = &hop.server {
            h.push(format!("Server: {s}"));
        }
        if let Some(v) = &hop.via {
            h.push(format!("Via: {v}"));
        }
        if h.is_empty() { String::new() } else { format!(" ({})", h.join(", ")) }
    };
    let sev = c.failure_severity();
    let url = &hop.url;
    let (code, message) = match hop.status {
        ProxyStatus::Ok | ProxyStatus::Bypassed => return true,
        ProxyStatus::Unreachable => (
            Code::ProxyUnreachable,
            format!("cannot reach the proxy {url}: {}", hop.error.as_deref().unwrap_or("no address answered")),
        ),
        ProxyStatus::AuthRequired => {
            let schemes = if hop.authenticate.is_empty() { "none".to_string() } else { hop.authenticate.join(", ") };
            evidence.insert("authenticate".into(), json!(hop.authenticate));
            evidence.insert("schemes".into(), json!(schemes));
            evidence.insert("credentials_sent".into(), json!(hop.credentials_sent));
            let basic = hop.authenticate.iter().any(|s| s.eq_ignore_ascii_case("basic"));
            let what = if hop.credentials_sent { "rejected the credentials given" } else { "requires authentication" };
            let windows = if basic {
                String::new()
            } else {
                "; only integrated Windows authentication is offered, which neither this probe nor the usage bridge can answer".into()
            };
            (
                Code::ProxyAuthenticationRequired,
                format!("the proxy {url} {what} (HTTP 407); it offers: {schemes}{windows}"),
            )
        }
        // No HTTP answer at all (not HTTP, a head without end, endless interim answers): no
        // refusal by policy, but a proxy (or something posing as one) that does not speak HTTP.
        ProxyStatus::Error if hop.http_status.is_none() => (
            Code::HttpProtocolError,
            format!(
                "the proxy {url} did not answer CONNECT {host}:{port} with valid HTTP: {}",
                hop.error.as_deref().unwrap_or("no HTTP answer")
            ),
        ),
        ProxyStatus::Denied | ProxyStatus::Error => {
            evidence.insert("body_excerpt".into(), json!(hop.body_excerpt));
            evidence.insert("reason".into(), json!(hop.reason));
            let why = match hop.http_status {
                Some(_) => format!(
                    "answered {}{headers}{}; that is its own refusal (policy), not a failure to reach the endpoint",
                    proxy_status_line(&hop),
                    proxy_page_words(&hop)
                ),
                None => hop.error.clone().unwrap_or_else(|| "refused".into()),
            };
            (Code::ProxyDenied, format!("the proxy {url} refused CONNECT {host}:{port}: {why}"))
        }
        ProxyStatus::UpstreamFailed => {
            evidence.insert("body_excerpt".into(), json!(hop.body_excerpt));
            evidence.insert("reason".into(), json!(hop.reason));
            (
                Code::ProxyUpstreamFailed,
                format!(
                    "the proxy {url} could not reach {host}:{port} itself: it answered {}{headers}{}",
                    proxy_status_line(&hop),
                    proxy_page_words(&hop)
                ),
            )
        }
        ProxyStatus::Timeout => (
            Code::ProxyUpstreamFailed,
            format!(
                "the proxy {url} accepted the connection but did not answer CONNECT {host}:{port} within {} ms: it is likely still trying to reach the endpoint",
                hop.duration_ms
            ),
        ),
    };
    c.push(code, sev, message, evidence);
    false
}
