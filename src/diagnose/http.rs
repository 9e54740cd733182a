//! HTTP stage: the one request (HttpTimeout, HttpProtocolError, HttpUnexpectedStatus,
//! HttpBlockedAtServiceEdge).

use serde_json::json;

use super::{Code, Ctx, obj};
use crate::probe::{HttpObservation, HttpStatus};

/// Findings of the HTTP request.
pub(super) fn findings(c: &mut Ctx<'_>) {
    let Some(http) = c.obs.http.clone() else {
        return;
    };
    let host = c.obs.spec.target.host().bare();
    let evidence = obj(&[
        ("host", json!(host)),
        ("http_status", json!(http.status)),
        ("status_code", json!(http.status_code)),
        ("server", json!(http.server)),
        ("via", json!(http.via)),
        ("error", json!(http.error)),
        ("duration_ms", json!(http.duration_ms)),
    ]);
    let sev = c.failure_severity();
    match http.status {
        HttpStatus::NotAttempted => {}
        HttpStatus::Timeout => c.push(
            Code::HttpTimeout,
            sev,
            format!("{host} sent no response head within {} ms", http.duration_ms),
            evidence,
        ),
        HttpStatus::Error => c.push(
            Code::HttpProtocolError,
            sev,
            http.error.clone().unwrap_or_else(|| format!("{host} sent no valid HTTP response")),
            evidence,
        ),
        HttpStatus::Ok => {
            let code = http.status_code.unwrap_or(0);
            if let Some(reference) = service_edge_refusal(&http, &host) {
                let mut evidence = evidence;
                evidence.insert("reference".into(), json!(reference));
                evidence.insert("body_excerpt".into(), json!(http.body_excerpt));
                let page =
                    http.body_excerpt.as_deref().map(|b| format!(" \"{}\"", clip_words(b, 12))).unwrap_or_default();
                c.push(
                    Code::HttpBlockedAtServiceEdge,
                    sev,
                    format!(
                        "{host}'s service edge (Azure Front Door) refused the request: HTTP {code}{page}, reference {reference}; Microsoft's edge is blocking this node's public address or request, so the path is not proven and the customer's network is not the cause: give the reference to Microsoft support"
                    ),
                    evidence,
                );
                return;
            }
            if !c.obs.spec.reachable.accepts(code) {
                let server = http.server.as_deref().map(|s| format!(" (Server: {s})")).unwrap_or_default();
                c.push(
                    Code::HttpUnexpectedStatus,
                    sev,
                    format!("{host} answered HTTP {code}{server}, not a status that proves the service path"),
                    evidence,
                );
            }
        }
    }
}

/// Host names of Microsoft's services (public, US Government and China clouds): only their edge's
/// refusals are recognised as the service edge's own.
const MICROSOFT_DOMAINS: &[&str] = &[
    "microsoftonline.com",
    "microsoftonline.us",
    "microsoftonline.de",
    "microsoft.com",
    "microsoft.us",
    "windows.net",
    "azure.com",
    "azure.net",
    "azure.us",
    "azure.cn",
    "usgovcloudapi.net",
    "chinacloudapi.cn",
    "trafficmanager.net",
    "azurefd.net",
    "azureedge.net",
    "msauth.net",
    "msftauth.net",
    "live.com",
];

fn is_microsoft_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    MICROSOFT_DOMAINS.iter().any(|d| host == *d || host.strip_suffix(d).is_some_and(|p| p.ends_with('.')))
}

/// Azure Front Door's own refusal: a 403 on a Microsoft host that carries the edge's reference
/// header and the edge's block page ("The request is blocked.", or its generic "Our services
/// aren't available right now" page). Returns the reference ID. Other 403s are not the edge's.
fn service_edge_refusal<'a>(http: &'a HttpObservation, host: &str) -> Option<&'a str> {
    let reference = http.edge_ref.as_deref()?;
    let page = http.body_excerpt.as_deref().unwrap_or("").to_lowercase().replace('\u{2019}', "'");
    let edge_page = page.contains("the request is blocked") || page.contains("our services aren't available right now");
    (http.status_code == Some(403) && is_microsoft_host(host) && edge_page).then_some(reference)
}

/// The first `n` words of a text, with an ellipsis when cut.
fn clip_words(text: &str, n: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let more = if words.len() > n { " …" } else { "" };
    format!("{}{more}", words[..words.len().min(n)].join(" "))
}
