//! `--redact`: reports that leave the site carry stable tokens instead of this node's name and
//! internal addresses. Public endpoint names stay. Tokens are a keyed hash: the same value gives
//! the same token within a report, and across a fleet's reports when AZS_NETPROBE_REDACT_KEY is
//! set to the same secret on every node (otherwise the key is random, per run).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Report;
use crate::diagnose::is_private;

/// The key: AZS_NETPROBE_REDACT_KEY, or 32 random bytes.
pub fn key_from_env() -> Vec<u8> {
    match std::env::var("AZS_NETPROBE_REDACT_KEY") {
        Ok(k) if !k.is_empty() => k.into_bytes(),
        _ => uuid::Uuid::new_v4().as_bytes().iter().chain(uuid::Uuid::new_v4().as_bytes()).copied().collect(),
    }
}

fn token(key: &[u8], kind: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(key);
    h.update([0]);
    h.update(value.to_ascii_lowercase().as_bytes());
    format!("{kind}-{}", &hex::encode(h.finalize())[..10])
}

/// IPv4 dotted quads and IPv6 literals (at least two colons); candidates are parsed to check.
/// None only if the constant pattern failed to compile (a unit test shows it does not).
fn ip_pattern() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?:\b\d{1,3}(?:\.\d{1,3}){3}\b)|(?:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]*:[0-9A-Fa-f.]{0,15})").ok()
    })
    .as_ref()
}

fn walk(v: &mut Value, f: &dyn Fn(&str) -> String) {
    match v {
        Value::String(s) => *s = f(s),
        Value::Array(a) => a.iter_mut().for_each(|x| walk(x, f)),
        Value::Object(o) => o.values_mut().for_each(|x| walk(x, f)),
        _ => {}
    }
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
        Value::Object(o) => o.values().for_each(|x| collect(x, out)),
        _ => {}
    }
}

/// Replace the node's name and every internal address (and internal names: custom endpoints'
/// hosts, the proxy's host) in every string of the report; mark the report redacted.
pub fn redact(report: &mut Report, key: &[u8]) {
    let mut names: BTreeSet<String> = BTreeSet::new();
    let host = report.node.hostname.clone();
    if !host.is_empty() {
        names.insert(host.clone());
        if let Some(short) = host.split('.').next().filter(|s| s.len() >= 3 && *s != host) {
            names.insert(short.to_string());
        }
    }
    for e in &report.endpoints {
        let internal_name = e.host.parse::<IpAddr>().is_err() && !e.host.contains('.');
        if (e.role == crate::catalog::Role::Custom && e.host.parse::<IpAddr>().is_err()) || internal_name {
            names.insert(e.host.clone());
        }
    }
    if let Some(p) = &report.config.proxy
        && let Some(h) =
            p.url.rsplit('@').next().and_then(|a| a.trim_start_matches("http://").rsplit_once(':')).map(|x| x.0)
        && h.trim_matches(['[', ']']).parse::<IpAddr>().is_err()
    {
        names.insert(h.to_string());
    }
    let mut value = match serde_json::to_value(&*report) {
        Ok(v) => v,
        Err(_) => return,
    };
    let mut strings = Vec::new();
    collect(&value, &mut strings);
    let mut ips: BTreeSet<String> = BTreeSet::new();
    for s in &strings {
        for m in ip_pattern().into_iter().flat_map(|re| re.find_iter(s)) {
            let text = m.as_str().trim_matches(['[', ']', ':', '.']);
            if let Ok(ip) = text.parse::<IpAddr>()
                && is_private(&ip)
            {
                ips.insert(text.to_string());
            }
        }
    }
    // Longest first, so a name is replaced before any of its parts.
    let mut replacements: Vec<(String, String)> = names
        .iter()
        .filter(|n| !n.is_empty())
        .map(|n| (n.clone(), token(key, "host", n)))
        .chain(ips.iter().map(|ip| (ip.clone(), token(key, "ip", ip))))
        .collect();
    replacements.sort_by_key(|r| std::cmp::Reverse(r.0.len()));
    let replace = |s: &str| {
        let mut out = s.to_string();
        for (from, to) in &replacements {
            if out.contains(from.as_str()) {
                out = out.replace(from.as_str(), to);
            }
        }
        out
    };
    walk(&mut value, &replace);
    if let Ok(mut redacted) = serde_json::from_value::<Report>(value) {
        redacted.config.redacted = true;
        *report = redacted;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_per_key() {
        assert_eq!(token(b"k", "ip", "10.0.0.5"), token(b"k", "ip", "10.0.0.5"));
        assert_ne!(token(b"k", "ip", "10.0.0.5"), token(b"other", "ip", "10.0.0.5"));
        assert!(token(b"k", "host", "XRP01").starts_with("host-"));
    }

    #[test]
    fn finds_private_ip_candidates() {
        let found: Vec<&str> = ip_pattern()
            .unwrap()
            .find_iter("connect to 10.0.0.55:443 and [fd00::1]:53, not 20.190.1.1")
            .map(|m| m.as_str())
            .collect();
        assert!(found.iter().any(|m| m.contains("10.0.0.55")), "{found:?}");
        assert!(found.iter().any(|m| m.contains("fd00::1")), "{found:?}");
    }
}
