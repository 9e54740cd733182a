//! The OS store's verdict on Windows: the Windows chain engine, as Schannel uses it.
//!
//! rustls-platform-verifier builds the chain with CertGetCertificateChain (the default engine
//! of the current user: the ROOT, CA and disallowed system stores, AIA caIssuers fetching of
//! missing intermediates, root auto-update, revocation of the leaf with a 10 s accumulated
//! network budget) and checks it with CertVerifyCertificateChainPolicy(CERT_CHAIN_POLICY_SSL)
//! for the server name; the crate does the FFI, this module stays safe.
//!
//! [`classify`] maps the engine's errors to the report's reasons. It is plain Rust (compiled on
//! every platform, so its table is unit-tested on Linux); only `os_store` needs Windows.

use rustls_pki_types::UnixTime;

use super::TrustVerdict;

/// An HRESULT of the Windows chain engine and the reason it means.
const HRESULTS: &[(u32, TrustVerdict)] = &[
    (0x800B_0101, TrustVerdict::Expired),        // CERT_E_EXPIRED (also: not yet valid)
    (0x800B_0106, TrustVerdict::InvalidPurpose), // CERT_E_PURPOSE
    (0x800B_0108, TrustVerdict::BadEncoding),    // CERT_E_MALFORMED
    (0x800B_0109, TrustVerdict::UnknownIssuer),  // CERT_E_UNTRUSTEDROOT
    (0x800B_010A, TrustVerdict::UnknownIssuer),  // CERT_E_CHAINING (no path to any root)
    (0x800B_010C, TrustVerdict::Revoked),        // CERT_E_REVOKED
    (0x800B_010D, TrustVerdict::UnknownIssuer),  // CERT_E_UNTRUSTEDTESTROOT
    (0x800B_010F, TrustVerdict::NameMismatch),   // CERT_E_CN_NO_MATCH
    (0x800B_0110, TrustVerdict::InvalidPurpose), // CERT_E_WRONG_USAGE
    (0x800B_0112, TrustVerdict::UnknownIssuer),  // CERT_E_UNTRUSTEDCA
    (0x800B_0114, TrustVerdict::NameMismatch),   // CERT_E_INVALID_NAME
    (0x8009_2010, TrustVerdict::Revoked),        // CRYPT_E_REVOKED
    (0x8009_6004, TrustVerdict::BadSignature),   // TRUST_E_CERT_SIGNATURE
    (0x8009_6010, TrustVerdict::BadSignature),   // TRUST_E_BAD_DIGEST
    (0x8009_0008, TrustVerdict::UnsupportedSignature), // NTE_BAD_ALGID
];

/// The HRESULT in an error text of rustls-platform-verifier: its unmapped errors are
/// `std::io::Error::from_raw_os_error(hresult)`, displayed as `... (os error -2146762486)`.
pub fn hresult_in(text: &str) -> Option<u32> {
    let at = text.rfind("(os error ")? + "(os error ".len();
    let digits: String = text[at..].chars().take_while(|c| *c == '-' || c.is_ascii_digit()).collect();
    // The i32 of the OS error, as the u32 HRESULT winerror.h writes.
    digits.parse::<i32>().ok().map(|n| u32::from_ne_bytes(n.to_ne_bytes()))
}

/// The reason of the Windows chain engine's error `e` on `chain` (DER, leaf first) at `now`.
///
/// The errors rustls-platform-verifier maps itself (untrusted root, expired, name, revoked,
/// usage) come as rustls errors; the others carry the HRESULT in their text (see
/// [`hresult_in`]); ASN.1 decoding errors (`CRYPT_E_ASN1_*`) are `bad_encoding`. Windows has one
/// error for expired and not yet valid: when no certificate of the chain is past its notAfter
/// and one is before its notBefore, the reason is `not_yet_valid`.
pub fn classify(e: &rustls::Error, chain: &[&[u8]], now: UnixTime) -> TrustVerdict {
    let mut verdict = TrustVerdict::from_error(e);
    if verdict == TrustVerdict::Other {
        let text = match e {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(o)) => o.to_string(),
            rustls::Error::General(g) => g.clone(),
            other => other.to_string(),
        };
        if let Some(code) = hresult_in(&text) {
            verdict = HRESULTS.iter().find(|(c, _)| *c == code).map_or(
                if code & 0xFFFF_F000 == 0x8009_3000 { TrustVerdict::BadEncoding } else { TrustVerdict::Other },
                |(_, v)| *v,
            );
        }
    }
    if verdict == TrustVerdict::Expired && not_yet_valid(chain, now) {
        verdict = TrustVerdict::NotYetValid;
    }
    verdict
}

/// No certificate of `chain` has expired at `now`, and one is not valid yet.
fn not_yet_valid(chain: &[&[u8]], now: UnixTime) -> bool {
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let mut early = false;
    for der in chain {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else { continue };
        let validity = cert.validity();
        if validity.not_after.timestamp() < now {
            return false;
        }
        early |= validity.not_before.timestamp() > now;
    }
    early
}

/// The OS store on Windows: the loaded ROOT store's summary and anchors (to name roots and key
/// revocation answers), judged by the Windows chain engine, even when no anchor could be
/// loaded (the engine fetches roots itself).
#[cfg(windows)]
pub(super) fn os_store(
    mut store: super::Store,
    provider: &std::sync::Arc<rustls::crypto::CryptoProvider>,
) -> Result<super::Store, super::TrustError> {
    let engine = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| super::TrustError::Unusable { path: "the Windows chain engine".into(), reason: e.to_string() })?;
    store.verifier = Some(std::sync::Arc::new(engine));
    store.summary.engine = super::TrustEngine::WindowsChainEngine;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::{CertificateError, OtherError};

    use super::*;

    fn os_error(hresult: u32) -> rustls::Error {
        let code = i32::from_ne_bytes(hresult.to_ne_bytes());
        let text = std::io::Error::from_raw_os_error(code).to_string();
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::from(Box::<
            dyn std::error::Error + Send + Sync,
        >::from(text)))))
    }

    #[test]
    fn hresults_in_error_texts() {
        assert_eq!(hresult_in("A certificate chain could not be built (os error -2146762486)"), Some(0x800B_010A));
        assert_eq!(hresult_in("no code here"), None);
        assert_eq!(hresult_in("(os error )"), None);
        assert_eq!(hresult_in("(os error 99999999999999)"), None, "out of range: no panic");
    }

    #[test]
    fn windows_errors_map_to_the_reports_reasons() {
        let now = UnixTime::now();
        for (code, want) in [
            (0x800B_010A, TrustVerdict::UnknownIssuer),
            (0x800B_0112, TrustVerdict::UnknownIssuer),
            (0x8009_6004, TrustVerdict::BadSignature),
            (0x800B_010C, TrustVerdict::Revoked),
            (0x8009_3102, TrustVerdict::BadEncoding),
            (0x800B_0111, TrustVerdict::Other),
            (0x8009_2013, TrustVerdict::Other),
            // Wine 8 only (the crate asks to ignore unknown revocation): not a reason of ours.
            (0x800B_010E, TrustVerdict::Other),
        ] {
            assert_eq!(classify(&os_error(code), &[], now), want, "{code:#x}");
        }
        // The errors the crate maps itself.
        for (e, want) in [
            (CertificateError::UnknownIssuer, TrustVerdict::UnknownIssuer),
            (CertificateError::NotValidForName, TrustVerdict::NameMismatch),
            (CertificateError::Revoked, TrustVerdict::Revoked),
            (CertificateError::InvalidPurpose, TrustVerdict::InvalidPurpose),
        ] {
            assert_eq!(classify(&rustls::Error::InvalidCertificate(e), &[], now), want);
        }
        assert_eq!(classify(&rustls::Error::General("unavailable".into()), &[], now), TrustVerdict::Other);
    }

    #[test]
    fn expired_or_not_yet_valid_by_the_chains_dates() {
        let make = |before: i64, after: i64| {
            let mut p = rcgen::CertificateParams::new(vec!["a.test".into()]).unwrap();
            let base = time::OffsetDateTime::now_utc();
            p.not_before = base + time::Duration::days(before);
            p.not_after = base + time::Duration::days(after);
            let key = rcgen::KeyPair::generate().unwrap();
            p.self_signed(&key).unwrap().der().to_vec()
        };
        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        let now = UnixTime::now();
        let future = make(10, 20);
        let past = make(-20, -10);
        let current = make(-1, 1);
        assert_eq!(classify(&expired, &[&future, &current], now), TrustVerdict::NotYetValid);
        assert_eq!(classify(&expired, &[&current, &past], now), TrustVerdict::Expired);
        assert_eq!(classify(&expired, &[&future, &past], now), TrustVerdict::Expired, "one expired: expired");
        assert_eq!(classify(&expired, &[&current], now), TrustVerdict::Expired);
    }
}
