//! Revocation rules: what the CRL, OCSP and caIssuers answers of a presented chain mean.
//! Each check is judged against the reference time (the node's clock corrected by the clock
//! estimate); per certificate, a revoked answer is TlsCertificateRevoked, sources that did not
//! answer are RevocationUnreachable and answers that are not valid are RevocationResponseInvalid,
//! errors when no source of the certificate works and warnings when another one does. An
//! incomplete chain says whether its missing issuer could be fetched, and whether the chain then
//! verifies. Answers stale only by the node's own skewed clock are the clock's fault.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Code, Ctx, Severity, obj};
use crate::clock::ClockVerdict;
use crate::probe::revocation::{CheckObservation, FetchFailure, Fetched, RevocationObservation, Via};
use crate::trust::revocation::{Answer, SourceKind};

/// How long a revocation answer may claim to come from the future before it is suspect.
const FUTURE_TOLERANCE_SECONDS: i64 = 300;

/// The sum of an endpoint's revocation checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStatus {
    /// Every checked certificate has a source that answered good.
    Good,
    /// A CRL or OCSP answer says a certificate is revoked.
    Revoked,
    /// No verdict: the chain names no source, or the answers could not be checked.
    Unknown,
    /// A certificate has no source that answered.
    Unreachable,
    /// A certificate has no valid answer (a block page, a stale or wrongly signed answer...).
    Invalid,
    /// `--no-revocation`.
    NotChecked,
}

impl RevocationStatus {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationStatus::Good => "good",
            RevocationStatus::Revoked => "revoked",
            RevocationStatus::Unknown => "unknown",
            RevocationStatus::Unreachable => "unreachable",
            RevocationStatus::Invalid => "invalid",
            RevocationStatus::NotChecked => "not_checked",
        }
    }
}

/// What one URL gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// A valid, current answer: not revoked (CRL, OCSP good) or the issuer (caIssuers).
    Ok,
    /// The CRL lists the certificate's serial, or the OCSP answer is `revoked` (RFC 5280
    /// section 5, RFC 6960 section 2.2).
    Revoked,
    /// OCSP `unknown`, or an answer that cannot be checked (the issuer is not known).
    Unknown,
    /// DNS, TCP or the proxy failed.
    Unreachable,
    /// Something came back that is not a valid answer.
    Invalid,
    /// A valid answer past its next update (at the reference time).
    Stale,
    /// No complete answer within the timeout.
    Timeout,
}

impl CheckStatus {
    /// The stable label.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Revoked => "revoked",
            CheckStatus::Unknown => "unknown",
            CheckStatus::Unreachable => "unreachable",
            CheckStatus::Invalid => "invalid",
            CheckStatus::Stale => "stale",
            CheckStatus::Timeout => "timeout",
        }
    }
}

/// One check of the report's `tls.revocation.checks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevocationCheck {
    /// Index in the presented chain (0 = leaf).
    pub certificate: usize,
    /// Which of the certificate's URLs: a CRL distribution point (RFC 5280 section 4.2.1.13),
    /// the OCSP responder or the caIssuers URL (Authority Information Access, section 4.2.2.1).
    pub kind: SourceKind,
    /// The URL as the certificate names it (for OCSP, the request is appended to it).
    pub url: String,
    /// The path of the fetch; null when no request could be made.
    pub via: Option<Via>,
    /// What the answer is worth, judged at the reference time (the node's clock corrected by
    /// the clock offset).
    pub status: CheckStatus,
    /// The final HTTP status, after redirects.
    pub http_status: Option<u16>,
    /// The answer's Content-Type header (e.g. `application/pkix-crl`,
    /// `application/ocsp-response`; `text/html` is a block page, never an answer).
    pub content_type: Option<String>,
    /// How long the fetch took, in milliseconds (one fetch per URL, shared by every endpoint
    /// naming it).
    pub duration_ms: u64,
    /// Which step failed (dns, tcp, proxy, timeout), when nothing came back.
    pub failure: Option<FetchFailure>,
    /// What the answer says, or what is wrong with it (with the first words of a page).
    pub detail: String,
    /// The answer's next update, RFC 3339 (CRL and OCSP).
    pub next_update: Option<String>,
}

/// The report's `tls.revocation`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RevocationReport {
    /// The sum of the checks: the worst certificate decides.
    pub status: RevocationStatus,
    /// Why the status is what it is, in words.
    pub detail: Option<String>,
    /// One check per URL of each presented certificate (CRL, OCSP, caIssuers), leaf first.
    pub checks: Vec<RevocationCheck>,
}

/// A check judged.
struct Judged {
    status: CheckStatus,
    detail: String,
    next_update: Option<String>,
    /// Current at the reference time but stale (or not yet valid) by the node's clock.
    stale_by_node_clock: bool,
}

/// What came back, in words: status, Content-Type, redirects and the first words of a page.
fn came_back(f: &Fetched) -> String {
    let mut parts = Vec::new();
    if let Some(s) = f.http_status {
        parts.push(format!("HTTP {s}"));
    }
    parts.push(format!("Content-Type {}", f.content_type.as_deref().unwrap_or("none")));
    if !f.redirects.is_empty() {
        parts.push(format!("after redirects to {}", f.redirects.join(" -> ")));
    }
    if let Some(e) = &f.excerpt {
        parts.push(format!("\"{e}\""));
    } else if f.received == 0 && f.failure.is_none() {
        parts.push("empty body".into());
    } else if f.received > 0 {
        parts.push(format!("{} bytes", f.received));
    }
    parts.join(", ")
}

fn judge(check: &CheckObservation, reference: DateTime<Utc>, node: DateTime<Utc>) -> Judged {
    let plain = |status, detail: String| Judged { status, detail, next_update: None, stale_by_node_clock: false };
    let Some(f) = &check.fetch else {
        let why = match &check.answer {
            Some(Answer::Unverifiable(w)) => w.clone(),
            _ => "not fetched".into(),
        };
        return plain(CheckStatus::Unknown, why);
    };
    if let Some(failure) = f.failure {
        let detail = f.detail.clone().unwrap_or_default();
        let status = if failure == FetchFailure::Timeout { CheckStatus::Timeout } else { CheckStatus::Unreachable };
        return plain(status, detail);
    }
    if f.unusable {
        return plain(CheckStatus::Invalid, format!("{}: {}", f.detail.as_deref().unwrap_or("unusable"), came_back(f)));
    }
    match &check.answer {
        None => plain(CheckStatus::Unknown, "not checked".into()),
        Some(Answer::Invalid(why)) => plain(CheckStatus::Invalid, format!("{why}; what came back: {}", came_back(f))),
        Some(Answer::Unverifiable(why)) => plain(CheckStatus::Unknown, why.clone()),
        Some(Answer::Issuer { subject, .. }) => plain(CheckStatus::Ok, format!("the issuer's certificate ({subject})")),
        Some(Answer::Status { revoked, unknown, this_update, next_update, signer }) => {
            let next = next_update.map(|t| t.to_rfc3339());
            let with = |status, detail: String, by_node| Judged {
                status,
                detail,
                next_update: next.clone(),
                stale_by_node_clock: by_node,
            };
            if let Some(r) = revoked {
                let reason = r.reason.as_deref().map(|x| format!(" ({x})")).unwrap_or_default();
                return with(
                    CheckStatus::Revoked,
                    format!("revoked at {}{reason}; signed by the {signer}", r.at),
                    false,
                );
            }
            let tolerance = chrono::Duration::seconds(FUTURE_TOLERANCE_SECONDS);
            let current_at = |t: DateTime<Utc>| *this_update <= t + tolerance && next_update.is_none_or(|n| t <= n);
            if !current_at(reference) {
                let why = match next_update {
                    Some(n) if *n < reference => format!("stale: its next update was due {}", n.to_rfc3339()),
                    _ => format!("issued in the future ({})", this_update.to_rfc3339()),
                };
                return with(CheckStatus::Stale, format!("{why}; signed by the {signer}"), false);
            }
            let by_node = !current_at(node);
            if *unknown {
                return with(
                    CheckStatus::Unknown,
                    format!("the responder does not know this certificate; signed by the {signer}"),
                    by_node,
                );
            }
            let until = next.as_deref().map(|n| format!(" until {n}")).unwrap_or_default();
            with(CheckStatus::Ok, format!("not revoked (current{until}); signed by the {signer}"), by_node)
        }
    }
}

/// The issuer name of certificate `i` of the endpoint's chain, for messages and grouping.
fn issuer_name(c: &Ctx<'_>, i: usize) -> String {
    c.obs
        .tls
        .as_ref()
        .and_then(|t| t.chain.get(i))
        .map(|f| f.issuer_cn.clone().unwrap_or_else(|| f.issuer.clone()))
        .unwrap_or_default()
}

fn subject_name(c: &Ctx<'_>, i: usize) -> String {
    c.obs
        .tls
        .as_ref()
        .and_then(|t| t.chain.get(i))
        .map(|f| f.subject_cn.clone().unwrap_or_else(|| f.subject.clone()))
        .unwrap_or_default()
}

/// `host:port` of each URL, for the firewall or proxy rule.
fn hosts(urls: &[&str]) -> String {
    let mut out: Vec<String> = urls
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .filter_map(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .collect();
    out.dedup();
    out.join(", ")
}

/// Judge the endpoint's revocation checks, push their findings, enrich TlsIncompleteChain, and
/// return the report's `tls.revocation` (None when no chain was presented).
pub(super) fn findings(c: &mut Ctx<'_>) -> Option<RevocationReport> {
    let obs: RevocationObservation = c.obs.tls.as_ref()?.revocation.clone()?;
    if obs.skipped {
        return Some(RevocationReport {
            status: RevocationStatus::NotChecked,
            detail: Some("--no-revocation: the CRL, OCSP and caIssuers URLs were not fetched".into()),
            checks: Vec::new(),
        });
    }
    let reference = c.reference_now();
    let node = c.now;
    let judged: Vec<Judged> = obs.checks.iter().map(|k| judge(k, reference, node)).collect();
    let checks: Vec<RevocationCheck> = obs
        .checks
        .iter()
        .zip(&judged)
        .map(|(k, j)| RevocationCheck {
            certificate: k.certificate,
            kind: k.kind,
            url: k.url.clone(),
            via: k.fetch.as_ref().map(|f| f.via),
            status: j.status,
            http_status: k.fetch.as_ref().and_then(|f| f.http_status),
            content_type: k.fetch.as_ref().and_then(|f| f.content_type.clone()),
            duration_ms: k.fetch.as_ref().map_or(0, |f| f.duration_ms),
            failure: k.fetch.as_ref().and_then(|f| f.failure),
            detail: j.detail.clone(),
            next_update: j.next_update.clone(),
        })
        .collect();
    enrich_incomplete_chain(c, &obs, &checks);
    let mut certs: Vec<usize> =
        checks.iter().filter(|k| k.kind != SourceKind::CaIssuers).map(|k| k.certificate).collect();
    certs.dedup();
    let mut worst: Option<RevocationStatus> = None;
    let rank = |s: RevocationStatus| match s {
        RevocationStatus::Revoked => 4,
        RevocationStatus::Invalid => 3,
        RevocationStatus::Unreachable => 2,
        RevocationStatus::Unknown => 1,
        _ => 0,
    };
    for i in certs {
        let of = |pred: &dyn Fn(CheckStatus) -> bool| -> Vec<&RevocationCheck> {
            checks.iter().filter(|k| k.certificate == i && k.kind != SourceKind::CaIssuers && pred(k.status)).collect()
        };
        let revoked = of(&|s| s == CheckStatus::Revoked);
        let ok = of(&|s| s == CheckStatus::Ok);
        let unreachable = of(&|s| matches!(s, CheckStatus::Unreachable | CheckStatus::Timeout));
        // An OCSP responder that does not know the certificate gives no usable answer either.
        let mut invalid = of(&|s| matches!(s, CheckStatus::Invalid | CheckStatus::Stale));
        invalid.extend(
            of(&|s| s == CheckStatus::Unknown).into_iter().filter(|k| k.kind == SourceKind::Ocsp && k.via.is_some()),
        );
        let status = if !revoked.is_empty() {
            RevocationStatus::Revoked
        } else if !ok.is_empty() {
            RevocationStatus::Good
        } else if !invalid.is_empty() {
            RevocationStatus::Invalid
        } else if !unreachable.is_empty() {
            RevocationStatus::Unreachable
        } else {
            RevocationStatus::Unknown
        };
        if worst.is_none_or(|w| rank(status) > rank(w)) {
            worst = Some(status);
        }
        let subject = subject_name(c, i);
        let issuer = issuer_name(c, i);
        let rows = |v: &[&RevocationCheck]| -> Value {
            json!(v.iter().map(|k| json!({"kind": k.kind, "url": k.url, "via": k.via, "status": k.status, "failure": k.failure, "http_status": k.http_status, "content_type": k.content_type, "detail": k.detail})).collect::<Vec<_>>())
        };
        let base = |v: &[&RevocationCheck]| {
            let urls: Vec<&str> = v.iter().map(|k| k.url.as_str()).collect();
            obj(&[
                ("certificate", json!(i)),
                ("subject", json!(subject)),
                ("issuer", json!(issuer)),
                ("urls", json!(urls.join(", "))),
                ("hosts", json!(hosts(&urls))),
                ("checks", rows(v)),
            ])
        };
        let what = if i == 0 { "the certificate".to_string() } else { format!("certificate {i} of the chain") };
        let sev = c.failure_severity();
        if let Some(first) = revoked.first() {
            let ev = base(&revoked);
            c.push(
                Code::TlsCertificateRevoked,
                sev,
                format!(
                    "{what} presented for {} ({subject}) is revoked: its {} at {} says so ({})",
                    c.obs.spec.target.host().bare(),
                    first.kind.as_str().to_uppercase(),
                    first.url,
                    first.detail
                ),
                ev,
            );
            continue;
        }
        let others_work = !ok.is_empty();
        if !unreachable.is_empty() {
            let each: Vec<String> = unreachable
                .iter()
                .map(|k| {
                    let step = k.failure.map_or("timeout", |f| f.as_str());
                    format!("{} {} ({step}: {})", k.kind.as_str().to_uppercase(), k.url, k.detail)
                })
                .collect();
            let (severity, tail) = if others_work {
                (Severity::Warning, "; another source answered, so the check still completes")
            } else {
                (sev, "; no revocation source of it answered, so Windows cannot check it")
            };
            let ev = base(&unreachable);
            c.push(
                Code::RevocationUnreachable,
                severity,
                format!("the revocation URLs of {what} ({subject}) did not answer: {}{tail}", each.join("; ")),
                ev,
            );
        }
        if !invalid.is_empty() {
            let each: Vec<String> =
                invalid.iter().map(|k| format!("{} {}: {}", k.kind.as_str().to_uppercase(), k.url, k.detail)).collect();
            let (severity, tail) = if others_work {
                (Severity::Warning, "; another source gave a valid answer")
            } else {
                (sev, "; no valid revocation answer remains")
            };
            let ev = base(&invalid);
            c.push(
                Code::RevocationResponseInvalid,
                severity,
                format!("the revocation answers for {what} ({subject}) are not valid: {}{tail}", each.join("; ")),
                ev,
            );
        }
        // Current by the reference clocks, stale by the node's: the clock is the cause.
        let by_clock: Vec<&RevocationCheck> = checks
            .iter()
            .zip(&judged)
            .filter(|(k, j)| k.certificate == i && j.stale_by_node_clock)
            .map(|(k, _)| k)
            .collect();
        let clock_code = match c.clock.verdict {
            ClockVerdict::Error => Some(Code::ClockSkew),
            ClockVerdict::Warning => Some(Code::ClockDrift),
            _ => None,
        };
        if let (Some(root), false) = (clock_code, by_clock.is_empty()) {
            let mut ev = base(&by_clock);
            ev.insert("root_cause".into(), json!(root.as_str()));
            ev.insert("reference_time".into(), json!(reference.to_rfc3339()));
            let off = c.clock.offset_seconds.unwrap_or_default();
            let urls: Vec<&str> = by_clock.iter().map(|k| k.url.as_str()).collect();
            c.push(
                Code::RevocationResponseInvalid,
                Severity::Info,
                format!(
                    "the revocation answers for {what} ({subject}) at {} look stale by this node's clock, which is {off:+.0} s off: this follows from {}; at the reference time {} they are current",
                    urls.join(", "),
                    root.as_str(),
                    reference.format("%Y-%m-%dT%H:%M:%SZ")
                ),
                ev,
            );
        }
    }
    let ignored: Vec<&str> = obs.ignored.iter().map(|(_, u)| u.as_str()).collect();
    let (status, detail) = match worst {
        None if ignored.is_empty() => {
            (RevocationStatus::Unknown, Some("the presented chain names no CRL or OCSP URL".to_string()))
        }
        None => (
            RevocationStatus::Unknown,
            Some(format!("the chain names only URLs this probe does not fetch: {}", ignored.join(", "))),
        ),
        Some(s) => (s, (!ignored.is_empty()).then(|| format!("not fetched (not http://): {}", ignored.join(", ")))),
    };
    Some(RevocationReport { status, detail, checks })
}

/// Say on TlsIncompleteChain whether the missing issuer came from its caIssuers URL and whether
/// the chain then verifies.
fn enrich_incomplete_chain(c: &mut Ctx<'_>, obs: &RevocationObservation, checks: &[RevocationCheck]) {
    let Some(repair) = &obs.repair else { return };
    let name = c.obs.spec.name.clone();
    let Some(f) =
        c.out.iter_mut().find(|f| f.code == Code::TlsIncompleteChain && f.endpoint.as_deref() == Some(name.as_str()))
    else {
        return;
    };
    let tried: Vec<&RevocationCheck> =
        checks.iter().filter(|k| k.certificate == repair.certificate && k.kind == SourceKind::CaIssuers).collect();
    let verdict = |v: Option<crate::trust::TrustVerdict>| v.map(|v| v.as_str()).unwrap_or("not checked");
    let sentence = match (&repair.fetched_from, &repair.issuer) {
        (Some(url), Some(issuer)) => {
            let verifies =
                repair.public.is_some_and(|v| v.is_trusted()) || repair.system.is_some_and(|v| v.is_trusted());
            if verifies {
                format!(
                    ". The missing issuer ({issuer}) was fetched from its caIssuers URL {url} and the chain then verifies (public: {}, OS store: {}): Windows repairs the chain this way, clients that do not fetch issuers fail",
                    verdict(repair.public),
                    verdict(repair.system)
                )
            } else {
                format!(
                    ". The missing issuer ({issuer}) was fetched from {url}, but the chain still does not verify (public: {}, OS store: {})",
                    verdict(repair.public),
                    verdict(repair.system)
                )
            }
        }
        _ if repair.urls.is_empty() => {
            ". The certificate names no caIssuers URL: no client can fetch the missing issuer".to_string()
        }
        _ => {
            let why: Vec<String> =
                tried.iter().map(|k| format!("{} ({}: {})", k.url, k.status.as_str(), k.detail)).collect();
            format!(
                ". Its caIssuers URL did not give the missing issuer, so Windows cannot repair the chain either: {}",
                if why.is_empty() { repair.urls.join(", ") } else { why.join("; ") }
            )
        }
    };
    f.message.push_str(&sentence);
    f.evidence.insert(
        "ca_issuers".into(),
        json!({
            "urls": repair.urls,
            "fetched_from": repair.fetched_from,
            "issuer": repair.issuer,
            "trust_public_with_issuer": repair.public,
            "trust_system_with_issuer": repair.system,
            "checks": tried.iter().map(|k| json!({"url": k.url, "status": k.status, "via": k.via, "detail": k.detail})).collect::<Vec<_>>(),
        }),
    );
}
