//! The report's names of TLS protocol values: the negotiated version and cipher suite and the
//! alert a server sent. This tool's own tables, keyed on the wire values, never a dependency's
//! Debug text: a rustls upgrade cannot change a report. The spellings are the ones reports have
//! carried since the first version (`TLS 1.3`, `TLS13_AES_256_GCM_SHA384`, `ProtocolVersion`);
//! a value missing from a table is written `unknown(0x…)` with its wire value in hex.

/// The version's name: `SSL 2.0`, `SSL 3.0`, `TLS 1.0` … `TLS 1.3`, `DTLS 1.0`, `DTLS 1.2`,
/// `DTLS 1.3`, else `unknown(0x7f1c)`.
pub fn version(v: rustls::ProtocolVersion) -> String {
    let wire = u16::from(v);
    version_name(wire).map_or_else(|| format!("unknown(0x{wire:04x})"), str::to_string)
}

/// The name of the version with this wire value (`0x0303` → `TLS 1.2`), if it is one we name.
pub fn version_name(wire: u16) -> Option<&'static str> {
    Some(match wire {
        0x0002 => "SSL 2.0",
        0x0300 => "SSL 3.0",
        0x0301 => "TLS 1.0",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        0xfeff => "DTLS 1.0",
        0xfefd => "DTLS 1.2",
        0xfefc => "DTLS 1.3",
        _ => return None,
    })
}

/// The cipher suite's name (the IANA registry's, with `TLS13_` for the TLS 1.3 suites as rustls
/// spelled them when reports began), else `unknown(0xc0ff)`. Every suite this tool can
/// negotiate is named.
pub fn cipher_suite(s: rustls::CipherSuite) -> String {
    let wire = u16::from(s);
    let name = match wire {
        0x0000 => "TLS_NULL_WITH_NULL_NULL",
        0x00a8 => "TLS_PSK_WITH_AES_128_GCM_SHA256",
        0x00a9 => "TLS_PSK_WITH_AES_256_GCM_SHA384",
        0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        0x1301 => "TLS13_AES_128_GCM_SHA256",
        0x1302 => "TLS13_AES_256_GCM_SHA384",
        0x1303 => "TLS13_CHACHA20_POLY1305_SHA256",
        0x1304 => "TLS13_AES_128_CCM_SHA256",
        0x1305 => "TLS13_AES_128_CCM_8_SHA256",
        0xc009 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xc00a => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xc013 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xc014 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xc023 => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xc024 => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xc027 => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xc028 => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xc02b => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xc02c => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xc02f => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xc030 => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xcca8 => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xcca9 => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        _ => return format!("unknown(0x{wire:04x})"),
    };
    name.to_string()
}

/// The alert's name: the RFC 8446 §6 / IANA description in CamelCase (`protocol_version` →
/// `ProtocolVersion`, `unknown_ca` → `UnknownCA`), else `unknown(0x7f)`.
pub fn alert(a: rustls::AlertDescription) -> String {
    let wire = u8::from(a);
    let name = match wire {
        0 => "CloseNotify",
        10 => "UnexpectedMessage",
        20 => "BadRecordMac",
        21 => "DecryptionFailed",
        22 => "RecordOverflow",
        30 => "DecompressionFailure",
        40 => "HandshakeFailure",
        41 => "NoCertificate",
        42 => "BadCertificate",
        43 => "UnsupportedCertificate",
        44 => "CertificateRevoked",
        45 => "CertificateExpired",
        46 => "CertificateUnknown",
        47 => "IllegalParameter",
        48 => "UnknownCA",
        49 => "AccessDenied",
        50 => "DecodeError",
        51 => "DecryptError",
        60 => "ExportRestriction",
        70 => "ProtocolVersion",
        71 => "InsufficientSecurity",
        80 => "InternalError",
        86 => "InappropriateFallback",
        90 => "UserCanceled",
        100 => "NoRenegotiation",
        109 => "MissingExtension",
        110 => "UnsupportedExtension",
        111 => "CertificateUnobtainable",
        112 => "UnrecognisedName",
        113 => "BadCertificateStatusResponse",
        114 => "BadCertificateHashValue",
        115 => "UnknownPSKIdentity",
        116 => "CertificateRequired",
        120 => "NoApplicationProtocol",
        121 => "EncryptedClientHelloRequired",
        _ => return format!("unknown(0x{wire:02x})"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::{AlertDescription as A, CipherSuite as C, ProtocolVersion as V};

    #[test]
    fn version_names_are_pinned() {
        let table = [
            (V::SSLv2, "SSL 2.0"),
            (V::SSLv3, "SSL 3.0"),
            (V::TLSv1_0, "TLS 1.0"),
            (V::TLSv1_1, "TLS 1.1"),
            (V::TLSv1_2, "TLS 1.2"),
            (V::TLSv1_3, "TLS 1.3"),
            (V::DTLSv1_0, "DTLS 1.0"),
            (V::DTLSv1_2, "DTLS 1.2"),
            (V::DTLSv1_3, "DTLS 1.3"),
            (V::from(0x7f1c), "unknown(0x7f1c)"),
        ];
        for (v, name) in table {
            assert_eq!(version(v), name);
        }
        assert_eq!(version_name(0x0301), Some("TLS 1.0"));
        assert_eq!(version_name(0x0305), None);
    }

    #[test]
    fn cipher_suite_names_are_pinned() {
        let table = [
            (C::TLS_NULL_WITH_NULL_NULL, "TLS_NULL_WITH_NULL_NULL"),
            (C::TLS_PSK_WITH_AES_128_GCM_SHA256, "TLS_PSK_WITH_AES_128_GCM_SHA256"),
            (C::TLS_PSK_WITH_AES_256_GCM_SHA384, "TLS_PSK_WITH_AES_256_GCM_SHA384"),
            (C::TLS_EMPTY_RENEGOTIATION_INFO_SCSV, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
            (C::TLS13_AES_128_GCM_SHA256, "TLS13_AES_128_GCM_SHA256"),
            (C::TLS13_AES_256_GCM_SHA384, "TLS13_AES_256_GCM_SHA384"),
            (C::TLS13_CHACHA20_POLY1305_SHA256, "TLS13_CHACHA20_POLY1305_SHA256"),
            (C::TLS13_AES_128_CCM_SHA256, "TLS13_AES_128_CCM_SHA256"),
            (C::TLS13_AES_128_CCM_8_SHA256, "TLS13_AES_128_CCM_8_SHA256"),
            (C::TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
            (C::TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
            (C::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
            (C::TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
            (C::TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
            (C::TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
            (C::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
            (C::TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
            (C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
            (C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
            (C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            (C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
            (C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
            (C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
            // A suite rustls does not name in its Debug text, and one of no registry.
            (C::TLS_RSA_WITH_RC4_128_SHA, "unknown(0x0005)"),
            (C::from(0xc0ff), "unknown(0xc0ff)"),
        ];
        for (s, name) in table {
            assert_eq!(cipher_suite(s), name);
        }
    }

    #[test]
    fn every_suite_the_probe_can_negotiate_has_a_name() {
        for s in rustls::crypto::ring::ALL_CIPHER_SUITES {
            let name = cipher_suite(s.suite());
            assert!(!name.starts_with("unknown"), "{name}");
        }
    }

    #[test]
    fn alert_names_are_pinned() {
        let table = [
            (A::CloseNotify, "CloseNotify"),
            (A::UnexpectedMessage, "UnexpectedMessage"),
            (A::BadRecordMac, "BadRecordMac"),
            (A::DecryptionFailed, "DecryptionFailed"),
            (A::RecordOverflow, "RecordOverflow"),
            (A::DecompressionFailure, "DecompressionFailure"),
            (A::HandshakeFailure, "HandshakeFailure"),
            (A::NoCertificate, "NoCertificate"),
            (A::BadCertificate, "BadCertificate"),
            (A::UnsupportedCertificate, "UnsupportedCertificate"),
            (A::CertificateRevoked, "CertificateRevoked"),
            (A::CertificateExpired, "CertificateExpired"),
            (A::CertificateUnknown, "CertificateUnknown"),
            (A::IllegalParameter, "IllegalParameter"),
            (A::UnknownCA, "UnknownCA"),
            (A::AccessDenied, "AccessDenied"),
            (A::DecodeError, "DecodeError"),
            (A::DecryptError, "DecryptError"),
            (A::ExportRestriction, "ExportRestriction"),
            (A::ProtocolVersion, "ProtocolVersion"),
            (A::InsufficientSecurity, "InsufficientSecurity"),
            (A::InternalError, "InternalError"),
            (A::InappropriateFallback, "InappropriateFallback"),
            (A::UserCanceled, "UserCanceled"),
            (A::NoRenegotiation, "NoRenegotiation"),
            (A::MissingExtension, "MissingExtension"),
            (A::UnsupportedExtension, "UnsupportedExtension"),
            (A::CertificateUnobtainable, "CertificateUnobtainable"),
            (A::UnrecognisedName, "UnrecognisedName"),
            (A::BadCertificateStatusResponse, "BadCertificateStatusResponse"),
            (A::BadCertificateHashValue, "BadCertificateHashValue"),
            (A::UnknownPSKIdentity, "UnknownPSKIdentity"),
            (A::CertificateRequired, "CertificateRequired"),
            (A::NoApplicationProtocol, "NoApplicationProtocol"),
            (A::EncryptedClientHelloRequired, "EncryptedClientHelloRequired"),
            (A::from(0x7f), "unknown(0x7f)"),
        ];
        for (a, name) in table {
            assert_eq!(alert(a), name);
        }
    }
}
