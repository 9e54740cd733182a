//! Address families and path-MTU black holes: what the node's address order (RFC 6724) and the
//! small-MSS retry mean for an endpoint's findings.
//!
//! - A family that fails where the other works gets the failure's own finding, naming the
//!   family and the address: an error when the node tries that family first (every client
//!   that follows the OS order meets it), a warning otherwise.
//! - TCP: every address of the family the node tries first timing out, while the other family
//!   connects, is an error (clients wait out their connect timeout first: ~21 s per address on
//!   Windows).
//! - A handshake that timed out after the ClientHello and completed on a fresh connection with
//!   a small MSS is TlsPathMtuBlackHole; when the retry stalls too the finding stays
//!   TlsHandshakeTimeout and says so.

use serde_json::{Map, Value, json};

use super::{Code, Ctx, Severity, http, listed, tls};
use crate::probe::TcpStatus;
use crate::probe::TlsStatus;
use crate::probe::families::{Family, FamilyObservation};
use crate::probe::pmtu::RetryStatus;

/// How long Windows waits for a SYN that gets no answer before it gives up on an address: the
/// SYN and two retransmissions (TcpMaxConnectRetransmissions 2, initial RTO 3 s: 3 + 6 + 12 s).
pub const WINDOWS_CONNECT_WAIT_S: u32 = 21;

/// Amend an endpoint's findings (see the module documentation). Run after the stage findings.
pub(super) fn amend(c: &mut Ctx<'_>) {
    if c.obs.skipped || c.obs.local_limit.is_some() || c.proxied() {
        return;
    }
    path_mtu(c);
    dead_first_family(c);
    other_family(c);
}

fn position(c: &Ctx<'_>, code: Code) -> Option<usize> {
    let name = &c.obs.spec.name;
    c.out.iter().position(|f| f.code == code && f.endpoint.as_deref() == Some(name))
}

/// Replace the finding at `i` with a new one of `code`, in place.
fn replace(c: &mut Ctx<'_>, i: usize, code: Code, severity: Severity, message: String, evidence: Map<String, Value>) {
    c.out.remove(i);
    c.push(code, severity, message, evidence);
    if let Some(f) = c.out.pop() {
        c.out.insert(i.min(c.out.len()), f);
    }
}

fn path_mtu(c: &mut Ctx<'_>) {
    let Some(tls) = c.obs.tls.clone() else { return };
    if tls.status != TlsStatus::Timeout {
        return;
    }
    let Some(i) = position(c, Code::TlsHandshakeTimeout) else { return };
    let host = c.obs.spec.target.host().bare();
    let at = tls.address.map_or_else(|| host.clone(), |a| a.to_string());
    let got = tls.bytes_received.unwrap_or(0);
    let f = c.out[i].clone();
    let mut evidence = f.evidence.clone();
    evidence.insert("bytes_received".into(), json!(got));
    let Some(retry) = tls.mss_retry else {
        c.out[i].evidence = evidence;
        return;
    };
    evidence.insert("mss".into(), json!(retry.mss));
    evidence.insert("mss_retry".into(), json!(retry));
    let (code, message) = match retry.status {
        RetryStatus::Ok => (
            Code::TlsPathMtuBlackHole,
            format!(
                "the TLS handshake with {host} ({at}) stalled after the ClientHello ({got} bytes received) and completed in {} ms \
                 on a fresh connection advertising an MSS of {} bytes: a path-MTU black hole (a narrower link drops the server's \
                 full-size packets and the ICMP \"fragmentation needed\" / \"packet too big\" is filtered), not interception",
                retry.duration_ms, retry.mss
            ),
        ),
        RetryStatus::Timeout => (
            Code::TlsHandshakeTimeout,
            format!(
                "{} ({got} bytes received); a retry on a fresh connection advertising an MSS of {} bytes stalled too \
                 ({} bytes received), so packet size is not the cause",
                f.message, retry.mss, retry.bytes_received
            ),
        ),
        RetryStatus::Failed => (
            Code::TlsHandshakeTimeout,
            format!(
                "{} ({got} bytes received); a retry on a fresh connection advertising an MSS of {} bytes failed too: {}",
                f.message,
                retry.mss,
                retry.error.as_deref().unwrap_or("unknown error")
            ),
        ),
        RetryStatus::NotSupported => (
            Code::TlsHandshakeTimeout,
            format!(
                "{} ({got} bytes received); a path-MTU black hole was not tested: {}",
                f.message,
                retry.error.as_deref().unwrap_or("the MSS cannot be lowered on this OS")
            ),
        ),
    };
    replace(c, i, code, f.severity, message, evidence);
}

fn order_evidence(c: &Ctx<'_>, evidence: &mut Map<String, Value>) {
    if let Some(o) = &c.obs.address_order {
        evidence.insert("address_order".into(), json!(o.listed()));
        evidence.insert("address_policy".into(), json!(o.policy.as_str()));
    }
}

fn dead_first_family(c: &mut Ctx<'_>) {
    let Some(first) = c.obs.address_order.as_ref().and_then(|o| o.first_family()) else { return };
    let of = |a: &crate::probe::TcpAttempt| Family::of(&a.address.ip());
    let mine: Vec<_> = c.obs.tcp.iter().filter(|a| of(a) == first && !a.local).collect();
    let timed_out = mine.iter().any(|a| a.status == TcpStatus::Timeout);
    if mine.is_empty() || mine.iter().any(|a| a.status == TcpStatus::Ok) || !timed_out {
        return;
    }
    let Some(ok) = c.obs.tcp.iter().find(|a| of(a) != first && a.status == TcpStatus::Ok) else { return };
    let codes = [Code::TcpConnectTimeout, Code::TcpConnectionRefused, Code::TcpUnreachable, Code::TcpConnectionReset];
    let Some(i) = codes.iter().find_map(|code| position(c, *code)) else { return };
    let host = c.obs.spec.target.host().bare();
    let port = c.obs.spec.target.port();
    let dead: Vec<String> = mine.iter().map(|a| a.address.ip().to_string()).collect();
    let other = Family::of(&ok.address.ip());
    let policy = c.obs.address_order.as_ref().map_or("", |o| o.policy.as_str());
    let f = c.out[i].clone();
    let mut evidence = f.evidence.clone();
    order_evidence(c, &mut evidence);
    evidence.insert("first_family".into(), json!(first.as_str()));
    evidence.insert("windows_connect_wait_s".into(), json!(WINDOWS_CONNECT_WAIT_S));
    let message = format!(
        "every {f} address of {host} ({}) times out on TCP {port}, and this node tries {f} first (RFC 6724 address order, \
         policy table {policy}): clients that follow the OS order wait out their connect timeout on each {f} address \
         (Windows: about {WINDOWS_CONNECT_WAIT_S} s per address) before they try {o} ({}), which connects",
        listed(&dead),
        ok.address,
        f = first.name(),
        o = other.name(),
    );
    let sev = c.failure_severity();
    replace(c, i, Code::TcpConnectTimeout, sev, message, evidence);
}

fn other_family(c: &mut Ctx<'_>) {
    let top = c.obs.tls.as_ref().and_then(|t| t.address);
    let fams: Vec<FamilyObservation> = c.obs.families.clone();
    let Some(primary) = fams.iter().find(|f| Some(f.address) == top) else { return };
    for fam in fams.iter().filter(|f| Some(f.address) != top) {
        // Findings of that family's TLS and HTTP, judged as the top-level ones are.
        let mut sub_obs = c.obs.clone();
        sub_obs.tls = Some(fam.tls.clone());
        sub_obs.http = Some(fam.http.clone());
        sub_obs.families = Vec::new();
        let mut sub = Ctx { obs: &sub_obs, now: c.now, clock: c.clock, out: Vec::new(), interception: None };
        if tls::findings(&mut sub) {
            http::findings(&mut sub);
        }
        path_mtu(&mut sub);
        let mine: Vec<Code> = c.out.iter().map(|f| f.code).collect();
        let works = primary.tls.status == TlsStatus::Ok;
        let other_state = if works { "completes" } else { "fails too" };
        for mut f in sub.out.into_iter().filter(|f| !mine.contains(&f.code)) {
            if f.severity != Severity::Info {
                f.severity = if fam.first { c.failure_severity() } else { Severity::Warning };
            }
            let order =
                if fam.first { "the family this node tries first" } else { "not the family this node tries first" };
            f.message = format!(
                "over {} ({}, {order}): {}; over {} ({}) the handshake {other_state}",
                fam.family.name(),
                fam.address,
                f.message,
                primary.family.name(),
                primary.address,
            );
            f.evidence.insert("family".into(), json!(fam.family.as_str()));
            f.evidence.insert("address".into(), json!(fam.address.to_string()));
            f.evidence.insert("first_in_node_order".into(), json!(fam.first));
            order_evidence(c, &mut f.evidence);
            c.out.push(f);
        }
    }
    // The top-level family failing where another family completes: say which family, and
    // whether the node tries it first.
    if primary.tls.status != TlsStatus::Ok
        && let Some(ok) = fams.iter().find(|f| f.address != primary.address && f.tls.status == TlsStatus::Ok)
    {
        let name = &c.obs.spec.name;
        let first = primary.first;
        let sev = c.failure_severity();
        let note = format!(
            " (over {}, {}, {}; over {} ({}) the handshake completes)",
            primary.family.name(),
            primary.address,
            if first { "the family this node tries first" } else { "not the family this node tries first" },
            ok.family.name(),
            ok.address
        );
        let tls_codes: Vec<usize> = c
            .out
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                f.endpoint.as_deref() == Some(name)
                    && f.evidence.contains_key("tls_status")
                    && !f.evidence.contains_key("family")
            })
            .map(|(i, _)| i)
            .collect();
        for i in tls_codes {
            let f = &mut c.out[i];
            f.message.push_str(&note);
            f.evidence.insert("family".into(), json!(primary.family.as_str()));
            f.evidence.insert("first_in_node_order".into(), json!(first));
            if !first && f.severity == Severity::Error {
                f.severity = Severity::Warning;
            } else if first && f.severity == Severity::Warning {
                f.severity = sev;
            }
        }
    }
}
