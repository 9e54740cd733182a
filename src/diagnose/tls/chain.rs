//! The chain of a completed handshake: the public and OS-store trust verdicts as findings
//! (TlsCertificateExpired, TlsCertificateNotYetValid, TlsNameMismatch, TlsWeakSignature,
//! TlsChainTooLong, TlsIncompleteChain, TlsUntrustedRoot, TlsUnexpectedIssuer). Root cause: a
//! date error on a node whose clock is off, for a chain valid at the reference time, follows
//! from the clock (ClockSkew, ClockDrift) and is info.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::super::{Code, Ctx, Severity};
use crate::clock::ClockVerdict;
use crate::probe::{TlsObservation, TrustObservation};
use crate::trust::TrustVerdict;
use crate::trust::chain::CertFacts;
use crate::trust::intercept::{self, Interception};

/// Every certificate of the chain is inside its validity period at `t`.
fn chain_valid_at(chain: &[CertFacts], t: DateTime<Utc>) -> bool {
    let parse = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc));
    !chain.is_empty()
        && chain.iter().all(|c| match (parse(&c.not_before), parse(&c.not_after)) {
            (Some(nb), Some(na)) => nb <= t && t <= na,
            _ => false,
        })
}

/// The trust verdicts and the leaf's identity, as evidence.
pub(super) fn add_evidence(evidence: &mut Map<String, Value>, trust: &TrustObservation, leaf: Option<&CertFacts>) {
    evidence.insert("trust_public".into(), json!(trust.public));
    evidence.insert("trust_system".into(), json!(trust.system));
    evidence.insert("public_detail".into(), json!(trust.public_detail));
    evidence.insert("system_detail".into(), json!(trust.system_detail));
    if let Some(l) = leaf {
        evidence.insert("leaf_sha256".into(), json!(l.sha256));
        evidence.insert("leaf_sans".into(), json!(l.sans));
        evidence.insert("leaf_not_before".into(), json!(l.not_before));
        evidence.insert("leaf_not_after".into(), json!(l.not_after));
    }
}

/// The chain's main finding when no interception was detected: the public verdict's reason, else
/// the OS store's rejection, else an issuer the endpoint does not use; None for a sound chain.
pub(super) fn trust_finding(
    c: &Ctx<'_>,
    tls: &TlsObservation,
    trust: &TrustObservation,
    verdict: &Interception,
    host: &str,
) -> Option<(Code, Severity, String)> {
    let sev = c.failure_severity();
    let leaf = tls.chain.first();
    let expected = &c.obs.spec.expected_issuers;
    let weak = intercept::weak_signatures(&tls.chain);
    let issuer_text = verdict.issuer.clone().unwrap_or_else(|| "unknown".into());
    // The message lists the first names; the evidence (`leaf_sans`) keeps them all.
    const NAMES_SHOWN: usize = 10;
    let names = leaf.map_or_else(String::new, |l| {
        let shown = l.sans.iter().take(NAMES_SHOWN).cloned().collect::<Vec<_>>().join(", ");
        match l.sans.len().saturating_sub(NAMES_SHOWN) {
            0 => shown,
            more => format!("{shown} and {more} more (all in the evidence)"),
        }
    });
    if !trust.public.is_trusted() {
        let v = trust.public.as_str();
        Some(match trust.public {
            TrustVerdict::Expired => (
                Code::TlsCertificateExpired,
                sev,
                format!(
                    "the certificate presented by {host} has expired (valid until {})",
                    leaf.map_or("?", |l| l.not_after.as_str())
                ),
            ),
            TrustVerdict::NotYetValid => (
                Code::TlsCertificateNotYetValid,
                sev,
                format!(
                    "the certificate presented by {host} is not valid before {}",
                    leaf.map_or("?", |l| l.not_before.as_str())
                ),
            ),
            TrustVerdict::NameMismatch => (
                Code::TlsNameMismatch,
                sev,
                format!("the certificate presented by {host} is not valid for that name; it is valid for: {names}"),
            ),
            TrustVerdict::UnsupportedSignature | TrustVerdict::BadSignature if !weak.is_empty() => (
                Code::TlsWeakSignature,
                sev,
                format!("the chain presented by {host} is signed with {} ({v})", weak[0].1),
            ),
            TrustVerdict::ChainTooLong => (
                Code::TlsChainTooLong,
                sev,
                format!(
                    "the chain presented by {host} has {} certificates, more than certificate verifiers accept ({v})",
                    tls.chain.len()
                ),
            ),
            TrustVerdict::UnknownIssuer if intercept::incomplete_chain(&tls.chain, expected) => (
                Code::TlsIncompleteChain,
                sev,
                format!(
                    "{host} did not send the intermediate certificate of its issuer {issuer_text}: the chain cannot be built to a trusted root"
                ),
            ),
            _ => {
                let why = if leaf.is_some_and(|l| l.subject == l.issuer) {
                    "a self-signed certificate"
                } else {
                    "a chain to a root the public anchors do not know"
                };
                (
                    Code::TlsUntrustedRoot,
                    sev,
                    format!(
                        "{host} presented {why} ({v}; issuer: {issuer_text}); the OS store says {}",
                        trust.system.as_str()
                    ),
                )
            }
        })
    } else if !trust.system.is_trusted() {
        Some((
            Code::TlsUntrustedRoot,
            sev,
            format!(
                "{host} presented a publicly trusted chain (issuer: {issuer_text}), but this node's OS trust store rejects it: {}; its root is missing from the node's store",
                trust.system.as_str()
            ),
        ))
    } else if leaf.is_some_and(|l| !intercept::issuer_expected(expected, l)) {
        Some((
            Code::TlsUnexpectedIssuer,
            Severity::Warning,
            format!(
                "{host} presented a publicly trusted chain from {issuer_text}, which is not among the issuers this endpoint uses ({})",
                expected.join(", ")
            ),
        ))
    } else {
        None
    }
}

/// Push the chain's main finding (info, naming the clock, when the clock is its root cause) and
/// TlsWeakSignature for weak signatures the main finding does not already name.
pub(super) fn push(
    c: &mut Ctx<'_>,
    tls: &TlsObservation,
    main: Option<(Code, Severity, String)>,
    reference_now: DateTime<Utc>,
    mut evidence: Map<String, Value>,
) {
    let host = c.obs.spec.target.host().bare();
    let sev = c.failure_severity();
    let weak = intercept::weak_signatures(&tls.chain);
    let main_code = main.as_ref().map(|m| m.0);
    if let Some((code, severity, message)) = main {
        // Root cause: a date error on a node whose clock is off, for a chain that is valid at
        // the reference time, follows from the clock.
        let clock_code = match c.clock.verdict {
            ClockVerdict::Error => Some(Code::ClockSkew),
            ClockVerdict::Warning => Some(Code::ClockDrift),
            _ => None,
        };
        let date_error = matches!(code, Code::TlsCertificateExpired | Code::TlsCertificateNotYetValid);
        match clock_code {
            Some(root) if date_error && chain_valid_at(&tls.chain, reference_now) => {
                evidence.insert("root_cause".into(), json!(root.as_str()));
                evidence.insert("reference_time".into(), json!(reference_now.to_rfc3339()));
                let off = c.clock.offset_seconds.unwrap_or_default();
                c.push(
                    code,
                    Severity::Info,
                    format!(
                        "{message}: this follows from {} (the node's clock is {off:+.0} s off); at the reference time {} the chain is valid",
                        root.as_str(),
                        reference_now.format("%Y-%m-%dT%H:%M:%SZ")
                    ),
                    evidence.clone(),
                );
            }
            _ => c.push(code, severity, message, evidence.clone()),
        }
    }
    if !weak.is_empty() && main_code != Some(Code::TlsWeakSignature) {
        let which: Vec<String> = weak.iter().map(|(i, a)| format!("certificate {i}: {a}")).collect();
        c.push(
            Code::TlsWeakSignature,
            sev,
            format!("the chain presented by {host} uses weak signatures ({})", which.join(", ")),
            evidence,
        );
    }
}
