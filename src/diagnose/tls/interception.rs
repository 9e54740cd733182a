//! Who re-signs the chain: the interception verdict (crate::trust::intercept decides from the
//! two trust verdicts, the path and the issuer) and its finding, TlsInterception.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::super::{Code, Ctx, Severity};
use crate::probe::proxy::ProxyStatus;
use crate::probe::{TlsObservation, TrustObservation};
use crate::trust::intercept::{self, Interception, PathFacts};

/// The interception verdict of a completed handshake's chain, at the reference time: the
/// proxy the tunnel went through, its headers, and the OS store's anchor are the path's facts.
pub(super) fn analyse(
    c: &Ctx<'_>,
    tls: &TlsObservation,
    trust: &TrustObservation,
    reference_now: DateTime<Utc>,
) -> Interception {
    let expected = &c.obs.spec.expected_issuers;
    let proxy = c.obs.proxy.as_ref().filter(|h| h.status == ProxyStatus::Ok).map(|h| h.url.clone());
    let headers = c.obs.http.as_ref().map(|h| h.proxy_headers.clone()).unwrap_or_default();
    let path =
        PathFacts { proxy: proxy.as_deref(), proxy_headers: &headers, system_anchor: trust.system_anchor.as_ref() };
    intercept::analyse(&tls.chain, trust.public, trust.system, expected, &path, reference_now)
}

/// TlsInterception (with the product, the OS store's trust and the evidence list added to the
/// evidence) when the verdict detected interception; None otherwise.
pub(super) fn finding(
    verdict: &Interception,
    host: &str,
    severity: Severity,
    evidence: &mut Map<String, Value>,
) -> Option<(Code, Severity, String)> {
    if !verdict.detected {
        return None;
    }
    evidence.insert("product".into(), json!(verdict.product));
    evidence.insert("trusted_by_system".into(), json!(verdict.trusted_by_system));
    evidence.insert("interception_evidence".into(), json!(verdict.evidence));
    let issuer_text = verdict.issuer.clone().unwrap_or_else(|| "unknown".into());
    let product = verdict.product.as_deref().map(|p| format!(" ({p})")).unwrap_or_default();
    let trusted = if verdict.trusted_by_system {
        "; this node's OS store trusts that CA, so the interception is deliberate, but Azure Stack Hub does not support it"
    } else {
        ""
    };
    Some((
        Code::TlsInterception,
        severity,
        format!(
            "the connection to {host} is intercepted: the certificate is re-signed by {issuer_text}{product}, not by the service's CA{trusted}"
        ),
    ))
}
