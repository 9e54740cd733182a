//! Chain analysis on arbitrary DER lists: certificate facts, interception verdict, chain faults.
#![no_main]

use azs_netprobe::trust::TrustVerdict;
use azs_netprobe::trust::chain::facts;
use azs_netprobe::trust::intercept::{self, PathFacts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A list of DER blobs, each prefixed by a 2-byte big-endian length.
    let mut ders = Vec::new();
    let mut rest = data;
    while rest.len() >= 2 && ders.len() < 16 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        ders.push(&rest[2..2 + n]);
        rest = &rest[2 + n..];
    }
    let chain: Vec<_> = ders.iter().map(|d| facts(d)).collect();
    let expected = vec!["Microsoft Azure * TLS Issuing CA *".to_string()];
    let headers = vec!["Via: 1.1 fuzz".to_string()];
    let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
    for (public, system) in [
        (TrustVerdict::UnknownIssuer, TrustVerdict::Trusted),
        (TrustVerdict::UnknownIssuer, TrustVerdict::UnknownIssuer),
        (TrustVerdict::Expired, TrustVerdict::Expired),
    ] {
        let path = PathFacts { proxy: Some("http://proxy:3128"), proxy_headers: &headers, system_anchor: None };
        let _ = intercept::analyse(&chain, public, system, &expected, &path, now);
    }
    let _ = intercept::weak_signatures(&chain);
    let _ = intercept::product_in_chain(&chain, None);
    let _ = intercept::root_issuer(&chain, None);
    let _ = intercept::incomplete_chain(&chain, &expected);
    for c in &chain {
        let _ = intercept::product_for(intercept::IssuerName { cn: c.issuer_cn.as_deref(), orgs: &c.issuer_orgs });
        let _ = intercept::issuer_expected(&expected, c);
    }
});
