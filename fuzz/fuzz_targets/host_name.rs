//! Target parsing and host-name validation: never panics; every accepted name obeys the rules
//! the resolver and TLS apply (checked here independently, and by rustls' DnsName and
//! hickory's Name), and tcp:// and https:// agree on the host.
#![no_main]

use azs_netprobe::catalog::{Host, Target, parse_host, validate_host_name};
use libfuzzer_sys::fuzz_target;

fn obeys_the_rules(name: &str) {
    assert!(!name.is_empty() && name.len() <= 253, "{name:?}");
    let labels: Vec<&str> = name.split('.').collect();
    for l in &labels {
        assert!((1..=63).contains(&l.len()), "{name:?}");
        assert!(l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{name:?}");
        assert!(!l.starts_with('-') && !l.ends_with('-'), "{name:?}");
    }
    assert!(!labels.last().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit())), "{name:?}");
    assert!(rustls_pki_types::ServerName::try_from(name.to_string()).is_ok(), "TLS refuses {name:?}");
    assert!(hickory_proto::rr::Name::from_ascii(format!("{name}.")).is_ok(), "the resolver refuses {name:?}");
}

fn check(host: &Host) {
    if let Host::Name(n) = host {
        obeys_the_rules(n);
        // Parsed names are lower-case (validate_host_name itself takes either case).
        assert_eq!(n, &n.to_ascii_lowercase(), "{n:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(t) = Target::parse(s) {
        check(t.host());
        // What the report prints parses back to the same host.
        let again = Target::parse(&t.to_string()).expect("a printed target parses");
        assert_eq!(again.host(), t.host());
    }
    if validate_host_name(s).is_ok() {
        obeys_the_rules(s);
    }
    if let Ok(h) = parse_host(s) {
        check(&h);
    }
    // The same host through both schemes: accepted by both, or by neither, and the same.
    if !s.contains(['/', '?', '#', '@', ':', '\\']) {
        let https = Target::parse(&format!("https://{s}:443/"));
        let tcp = Target::parse(&format!("tcp://{s}:443"));
        if let (Ok(a), Ok(b)) = (&https, &tcp) {
            check(a.host());
            assert_eq!(a.host(), b.host(), "{s:?}");
        }
    }
    let _ = azs_netprobe::clock::parse_ntp_server(s);
    let _ = azs_netprobe::config::proxy::NoProxy::parse(s);
});
