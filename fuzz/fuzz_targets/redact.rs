//! `--redact` of arbitrary reports: never fails, never panics, and leaves no listed secret.
//!
//! Two inputs per case: the fuzz bytes read leniently as a report (as `merge` reads one) and, when
//! that gives a `Report`, redacted as is; and a known-good report with the node's name and a private
//! IPv4 address (both derived from the input) planted, between spaces, into free-text fields next
//! to the input's text, a proxy host and an NTP server. After redaction the serialised report holds
//! neither, except inside a longer name or number (which is another name or address).
#![no_main]

use azs_netprobe::report::{Report, fleet, redact};
use libfuzzer_sys::fuzz_target;

const BASE: &str = include_str!("../../reports/examples/lab-mixed-failures.json");

fn name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_'
}

/// Whether `secret` occurs in `text` on its own (not inside a longer run of `part` characters).
fn occurs_alone(text: &str, secret: &str, part: fn(char) -> bool) -> Option<usize> {
    let hay = text.to_ascii_lowercase();
    let pin = secret.to_ascii_lowercase();
    hay.match_indices(&pin).map(|(i, _)| i).find(|&i| {
        let before = text[..i].chars().next_back().is_none_or(|c| !part(c));
        let after = text[i + pin.len()..].chars().next().is_none_or(|c| !part(c));
        before && after
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(v) = fleet::parse(&text, "fuzz.json")
        && let Ok(mut r) = serde_json::from_value::<Report>(v)
    {
        redact::redact(&mut r, b"fuzz").expect("redaction of a parsed report never fails");
        assert!(r.config.redacted);
        let _ = serde_json::to_string(&r);
    }

    let Ok(mut r) = serde_json::from_str::<Report>(BASE) else { return };
    let b = |i: usize| data.get(i).copied().unwrap_or(0);
    let host = format!("xrp{:02x}{:02x}{:02x}n", b(0), b(1), b(2));
    let ip = format!("10.{}.{}.{}", b(3), b(4), b(5));
    let free = |s: &str| format!("{text} {host} {} {ip} {s}", host.to_uppercase());
    r.node.hostname = format!("{host}.corp.example.com");
    r.config.ntp_servers = vec![
        format!("ntp.{}.lan:123", text.chars().filter(|c| c.is_ascii_alphanumeric()).take(20).collect::<String>()),
        ip.clone(),
    ];
    for f in &mut r.findings {
        f.message = free(&f.message);
        f.evidence.insert("fuzz".into(), serde_json::Value::String(free("")));
        f.remediation.steps.push(free("step"));
    }
    for e in &mut r.endpoints {
        e.dns.addresses.push(ip.clone());
        e.dns.error = Some(free("dns"));
        if let Some(h) = &mut e.http {
            h.server = Some(free("server"));
            h.proxy_headers.push(format!("Via: {}", free("")));
        }
    }
    redact::redact(&mut r, data).expect("redaction never fails");
    assert!(r.config.redacted);
    let out = serde_json::to_string(&r).expect("serialise");
    assert_eq!(occurs_alone(&out, &host, name_char), None, "the node's name {host} is left");
    assert_eq!(occurs_alone(&out, &ip, |c| c.is_ascii_digit() || c == '.'), None, "{ip} is left");
});
