//! Facts of each certificate of a presented chain, read with x509-parser. Never fails: a
//! certificate that does not parse is reported as such, with its hash.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::objects::{oid_registry, oid2sn};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;

/// One certificate as presented by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CertFacts {
    /// RFC 4514 distinguished name.
    pub subject: String,
    /// The issuer's distinguished name, RFC 4514 text.
    pub issuer: String,
    /// The subject's first common name (CN), if any.
    pub subject_cn: Option<String>,
    /// The issuer's first common name (CN), if any: what interception products are named by.
    pub issuer_cn: Option<String>,
    /// The issuer's first organization (O), if any.
    pub issuer_o: Option<String>,
    /// Every O value of the issuer (interception products are matched on any of them; the
    /// report keeps the first as `issuer_o`).
    #[serde(skip)]
    pub issuer_orgs: Vec<String>,
    /// Serial number, hex with colons.
    pub serial: String,
    /// Start of the validity period (RFC 5280 section 4.1.2.5): RFC 3339, UTC, seconds.
    pub not_before: String,
    /// End of the validity period: RFC 3339, UTC, seconds.
    pub not_after: String,
    /// SHA-256 of the DER certificate, hex.
    pub sha256: String,
    /// SHA-256 of the SubjectPublicKeyInfo, hex (stable across re-issuance with the same key).
    pub spki_sha256: String,
    /// DNS and IP subject alternative names.
    pub sans: Vec<String>,
    /// Basic Constraints says this is a CA certificate (RFC 5280 section 4.2.1.9).
    pub is_ca: bool,
    /// Basic Constraints' pathLenConstraint: how many intermediates may follow below it; null
    /// when absent.
    pub path_len: Option<u32>,
    /// Key type and size, e.g. `RSA 2048`, `EC 256`.
    pub key: String,
    /// Signature algorithm short name, e.g. `sha256WithRSAEncryption`.
    pub signature_algorithm: String,
    /// Signed certificate timestamps embedded in the certificate.
    pub sct_count: usize,
    /// Authority Information Access URLs (CA issuers and OCSP).
    pub aia: Vec<String>,
    /// Set when the certificate could not be parsed.
    pub parse_error: Option<String>,
}

fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map_or_else(|| ts.to_string(), |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn first_attr<'a>(mut it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>) -> Option<String> {
    it.next().and_then(|a| a.as_str().ok()).map(str::to_string)
}

fn general_name(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(d) => Some(d.to_string()),
        GeneralName::IPAddress(b) => match b.len() {
            4 => <[u8; 4]>::try_from(*b).ok().map(|a| std::net::Ipv4Addr::from(a).to_string()),
            16 => <[u8; 16]>::try_from(*b).ok().map(|a| std::net::Ipv6Addr::from(a).to_string()),
            _ => None,
        },
        GeneralName::URI(u) => Some(u.to_string()),
        _ => None,
    }
}

/// Facts of one DER certificate.
pub fn facts(der: &[u8]) -> CertFacts {
    let sha256 = hex::encode(Sha256::digest(der));
    let cert = match X509Certificate::from_der(der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            return CertFacts {
                subject: String::new(),
                issuer: String::new(),
                subject_cn: None,
                issuer_cn: None,
                issuer_o: None,
                issuer_orgs: Vec::new(),
                serial: String::new(),
                not_before: String::new(),
                not_after: String::new(),
                sha256,
                spki_sha256: String::new(),
                sans: Vec::new(),
                is_ca: false,
                path_len: None,
                key: String::new(),
                signature_algorithm: String::new(),
                sct_count: 0,
                aia: Vec::new(),
                parse_error: Some(e.to_string()),
            };
        }
    };
    let spki = cert.public_key();
    let key = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(ec)) => format!("EC {}", ec.key_size()),
        Ok(other) => {
            let name = oid2sn(&spki.algorithm.algorithm, oid_registry()).unwrap_or("unknown");
            format!("{name} {}", other.key_size())
        }
        Err(_) => oid2sn(&spki.algorithm.algorithm, oid_registry()).unwrap_or("unknown").to_string(),
    };
    let signature_algorithm = oid2sn(&cert.signature_algorithm.algorithm, oid_registry())
        .map_or_else(|_| cert.signature_algorithm.algorithm.to_id_string(), str::to_string);
    let (mut is_ca, mut path_len, mut sans, mut sct_count, mut aia) = (false, None, Vec::new(), 0, Vec::new());
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => {
                is_ca = bc.ca;
                path_len = bc.path_len_constraint;
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                sans.extend(san.general_names.iter().filter_map(general_name));
            }
            ParsedExtension::SCT(list) => sct_count = list.len(),
            ParsedExtension::AuthorityInfoAccess(a) => {
                aia.extend(a.accessdescs.iter().filter_map(|d| general_name(&d.access_location)));
            }
            _ => {}
        }
    }
    CertFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        subject_cn: first_attr(cert.subject().iter_common_name()),
        issuer_cn: first_attr(cert.issuer().iter_common_name()),
        issuer_o: first_attr(cert.issuer().iter_organization()),
        issuer_orgs: cert.issuer().iter_organization().filter_map(|a| a.as_str().ok()).map(str::to_string).collect(),
        serial: cert.raw_serial_as_string(),
        not_before: rfc3339(cert.validity().not_before.timestamp()),
        not_after: rfc3339(cert.validity().not_after.timestamp()),
        sha256,
        spki_sha256: hex::encode(Sha256::digest(spki.raw)),
        sans,
        is_ca,
        path_len,
        key,
        signature_algorithm,
        sct_count,
        aia,
        parse_error: None,
    }
}

/// A distinguished name read from DER (a trust anchor's subject): RFC 4514 text, CN and every O.
/// `None` when the DER is not a Name.
pub fn name_facts(der: &[u8]) -> Option<(String, Option<String>, Vec<String>)> {
    let (_, name) = x509_parser::x509::X509Name::from_der(der).ok()?;
    let orgs = name.iter_organization().filter_map(|a| a.as_str().ok()).map(str::to_string).collect();
    Some((name.to_string(), first_attr(name.iter_common_name()), orgs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_reported_not_fatal() {
        let f = facts(b"not a certificate");
        assert!(f.parse_error.is_some());
        assert_eq!(f.sha256.len(), 64);
    }

    #[test]
    fn reads_an_rcgen_leaf() {
        let mut params = rcgen::CertificateParams::new(vec!["login.lab.test".into(), "127.0.0.1".into()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, "login.lab.test");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let f = facts(cert.der());
        assert_eq!(f.subject_cn.as_deref(), Some("login.lab.test"));
        assert_eq!(f.sans, vec!["login.lab.test".to_string(), "127.0.0.1".to_string()]);
        assert_eq!(f.key, "EC 256");
        assert_eq!(f.signature_algorithm, "ecdsa-with-SHA256");
        assert!(!f.is_ca);
        assert_eq!(f.sct_count, 0);
        assert!(f.parse_error.is_none());
    }
}
