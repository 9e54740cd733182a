//! TLS stage, in three parts: [`protocol`] (how the handshake ended: timeout, reset, an old
//! version, an undecodable certificate, a failure), [`interception`] (who re-signs the chain)
//! and [`chain`] (the trust verdicts of a completed handshake: dates, names, signatures, roots,
//! issuers, with the clock as the root cause of date errors).

mod chain;
mod interception;
mod protocol;

use serde_json::json;

use super::{Ctx, obj};

/// Findings of the TLS handshake and its chain; true when the handshake completed (the HTTP
/// stage is judged next).
pub(super) fn findings(c: &mut Ctx<'_>) -> bool {
    let Some(tls) = c.obs.tls.clone() else {
        return false;
    };
    let host = c.obs.spec.target.host().bare();
    let leaf = tls.chain.first();
    let issuer = leaf.and_then(|l| l.issuer_cn.clone().or(Some(l.issuer.clone())));
    let mut evidence = obj(&[
        ("host", json!(host)),
        ("address", json!(tls.address.map(|a| a.to_string()))),
        ("sni", json!(tls.sni)),
        ("tls_status", json!(tls.status)),
        ("error", json!(tls.error)),
        ("alert", json!(tls.alert)),
        ("duration_ms", json!(tls.duration_ms)),
    ]);
    if let Some(i) = &issuer {
        evidence.insert("issuer".into(), json!(i));
    }
    let Some(mut evidence) = protocol::findings(c, &tls, &host, evidence) else {
        return false;
    };
    if let Some(trust) = &tls.trust {
        chain::add_evidence(&mut evidence, trust, leaf);
        let reference_now = c.reference_now();
        let verdict = interception::analyse(c, &tls, trust, reference_now);
        let sev = c.failure_severity();
        let main = match interception::finding(&verdict, &host, sev, &mut evidence) {
            Some(m) => Some(m),
            None => chain::trust_finding(c, &tls, trust, &verdict, &host),
        };
        if let Some(p) = &verdict.product {
            evidence.insert("product".into(), json!(p));
        }
        chain::push(c, &tls, main, reference_now, evidence);
        c.interception = Some(verdict);
    }
    true
}
