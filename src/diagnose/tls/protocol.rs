//! How the handshake ended: TlsHandshakeTimeout, TcpConnectionReset (during the handshake),
//! TlsProtocolVersion (the server speaks only an old version), TlsMalformedCertificate (a
//! presented certificate cannot be decoded) and TlsHandshakeFailed.

use serde_json::{Map, Value, json};

use super::super::{Code, Ctx, listed};
use crate::probe::{TlsObservation, TlsStatus};
use crate::trust::TrustVerdict;

/// Push the finding of a handshake that did not complete. Returns the evidence back when the
/// handshake completed (the chain is judged next), None when the stage ends here.
pub(super) fn findings(
    c: &mut Ctx<'_>,
    tls: &TlsObservation,
    host: &str,
    mut evidence: Map<String, Value>,
) -> Option<Map<String, Value>> {
    let sev = c.failure_severity();
    match tls.status {
        TlsStatus::Ok => return Some(evidence),
        TlsStatus::NotAttempted => {}
        TlsStatus::Timeout => {
            c.push(
                Code::TlsHandshakeTimeout,
                sev,
                format!("TLS handshake with {host} did not complete within {} ms", tls.duration_ms),
                evidence,
            );
        }
        TlsStatus::Reset => {
            c.push(
                Code::TcpConnectionReset,
                sev,
                format!(
                    "the connection to {host} was reset during the TLS handshake (after the ClientHello with SNI {})",
                    tls.sni.as_deref().unwrap_or("none")
                ),
                evidence,
            );
        }
        TlsStatus::HandshakeFailed if tls.legacy_version.as_deref().is_some_and(|v| v != "TLS 1.2") => {
            let v = tls.legacy_version.clone().unwrap_or_default();
            evidence.insert("legacy_version".into(), json!(v));
            c.push(
                Code::TlsProtocolVersion,
                sev,
                format!("{host} does not speak TLS 1.2 or 1.3; offered an old version, it answered with {v}"),
                evidence,
            );
        }
        // The certificate itself could not be decoded: the handshake failed on it, a certificate problem.
        TlsStatus::HandshakeFailed
            if tls.trust.as_ref().is_some_and(|t| t.public == TrustVerdict::BadEncoding)
                || tls.chain.iter().any(|c| c.parse_error.is_some()) =>
        {
            let bad: Vec<String> = tls
                .chain
                .iter()
                .enumerate()
                .filter(|(_, c)| c.parse_error.is_some())
                .map(|(i, c)| format!("certificate {i} (SHA-256 {})", c.sha256))
                .collect();
            evidence.insert("malformed".into(), json!(bad));
            c.push(
                Code::TlsMalformedCertificate,
                sev,
                format!("{host} presented a certificate that cannot be decoded: {}", listed(&bad)),
                evidence,
            );
        }
        TlsStatus::HandshakeFailed => {
            let detail = tls.error.clone().unwrap_or_default();
            c.push(Code::TlsHandshakeFailed, sev, format!("TLS handshake with {host} failed: {detail}"), evidence);
        }
    }
    None
}
