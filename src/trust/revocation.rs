//! Revocation and issuer answers, validated without I/O: which URLs a certificate names (CRL
//! distribution points, AIA OCSP and caIssuers), the OCSP request for it, and what a CRL, an
//! OCSP response or a caIssuers answer says about it. Everything parsed here came from the
//! network: it is hostile, and nothing here panics on it (the fuzz targets feed it garbage).
//!
//! Whether an answer is current is not decided here: [`Answer::Status`] carries its dates and
//! diagnose judges them against the reference time (the node's clock corrected by the clock
//! estimate), as it judges certificate dates.

use chrono::{DateTime, Utc};
use der::{Decode, Encode};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS, OID_PKIX_ACCESS_DESCRIPTOR_OCSP};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::x509::{AlgorithmIdentifier, SubjectPublicKeyInfo};

/// Most certificates a caIssuers answer (certs-only PKCS#7) may hold: a real bundle holds one or
/// a few; more is hostile.
pub const MAX_BUNDLE_CERTS: usize = 100;

/// What a URL of a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A CRL distribution point.
    Crl,
    /// The AIA OCSP responder.
    Ocsp,
    /// The AIA caIssuers URL (the issuer's certificate).
    CaIssuers,
}

impl SourceKind {
    /// The stable label (`crl`, `ocsp`, `ca_issuers`).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Crl => "crl",
            SourceKind::Ocsp => "ocsp",
            SourceKind::CaIssuers => "ca_issuers",
        }
    }
}

/// The URLs one certificate names, in the certificate's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// CRL distribution point URIs (RFC 5280 section 4.2.1.13, full names only).
    pub crl: Vec<String>,
    /// OCSP responder URIs (Authority Information Access, id-ad-ocsp, RFC 5280 section 4.2.2.1).
    pub ocsp: Vec<String>,
    /// caIssuers URIs (Authority Information Access, id-ad-caIssuers): where the issuer's certificate
    /// can be fetched.
    pub ca_issuers: Vec<String>,
}

fn uri(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::URI(u) => Some(u.to_string()),
        _ => None,
    }
}

/// The CRL, OCSP and caIssuers URLs of a DER certificate (empty when it does not parse).
pub fn sources(der: &[u8]) -> Sources {
    let mut out = Sources::default();
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        return out;
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => {
                for p in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &p.distribution_point {
                        out.crl.extend(names.iter().filter_map(uri));
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for d in &aia.accessdescs {
                    if d.access_method == OID_PKIX_ACCESS_DESCRIPTOR_OCSP {
                        out.ocsp.extend(uri(&d.access_location));
                    } else if d.access_method == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS {
                        out.ca_issuers.extend(uri(&d.access_location));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Where an issuer's name and key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerOrigin {
    /// The next certificate of the presented chain.
    Presented,
    /// A trust anchor of one of the stores.
    Anchor,
    /// Fetched from the certificate's caIssuers URL.
    Fetched,
}

/// The issuer of a certificate: its full DER subject Name and SubjectPublicKeyInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKey {
    /// The issuer's subject Name as DER, SEQUENCE header included (see [`wrap_sequence`]).
    pub name_der: Vec<u8>,
    /// The issuer's SubjectPublicKeyInfo as DER, SEQUENCE header included.
    pub spki_der: Vec<u8>,
    /// Where this issuer came from.
    pub origin: IssuerOrigin,
}

/// Wrap DER contents in a SEQUENCE header (trust anchors keep the subject and key unwrapped).
pub fn wrap_sequence(contents: &[u8]) -> Vec<u8> {
    let len = contents.len();
    let mut out = vec![0x30];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(contents);
    out
}

/// A parsed certificate's issuer name (full DER), serial (raw) and whether it is self-signed.
pub struct CertIds {
    /// The issuer Name, DER with its SEQUENCE header.
    pub issuer_der: Vec<u8>,
    /// The subject Name, DER with its SEQUENCE header.
    pub subject_der: Vec<u8>,
    /// The serial number's content bytes, as encoded (big-endian, sign byte kept).
    pub serial: Vec<u8>,
    /// Issuer and subject are the same Name (byte for byte): a root, or a self-issued certificate.
    pub self_issued: bool,
}

/// The issuer name, subject and serial of a DER certificate.
pub fn ids(der: &[u8]) -> Option<CertIds> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(CertIds {
        issuer_der: cert.issuer().as_raw().to_vec(),
        subject_der: cert.subject().as_raw().to_vec(),
        serial: cert.raw_serial().to_vec(),
        self_issued: cert.issuer().as_raw() == cert.subject().as_raw(),
    })
}

/// `cert` is signed by the key `spki_der` (a full SubjectPublicKeyInfo).
pub fn signed_by(cert_der: &[u8], spki_der: &[u8]) -> bool {
    let (Ok((_, cert)), Ok((_, spki))) =
        (X509Certificate::from_der(cert_der), SubjectPublicKeyInfo::from_der(spki_der))
    else {
        return false;
    };
    cert.verify_signature(Some(&spki)).is_ok()
}

/// The issuer key of a DER certificate (`der` is the issuer's own certificate).
pub fn issuer_key_of(der: &[u8], origin: IssuerOrigin) -> Option<IssuerKey> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(IssuerKey { name_der: cert.subject().as_raw().to_vec(), spki_der: cert.public_key().raw.to_vec(), origin })
}

fn sha1(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref().to_vec()
}

/// The key bits of a SubjectPublicKeyInfo (what OCSP's issuerKeyHash hashes).
fn key_bits(spki_der: &[u8]) -> Option<Vec<u8>> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).ok()?;
    Some(spki.subject_public_key.data.to_vec())
}

/// The DER OCSP request (RFC 6960, one certificate, SHA-1 CertID as RFC 5019 asks, no nonce).
pub fn ocsp_request(serial: &[u8], issuer: &IssuerKey) -> Option<Vec<u8>> {
    use x509_ocsp::{CertId, OcspRequest, Request, TbsRequest, Version};
    let cert_id = CertId {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
            oid: SHA1,
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: der::asn1::OctetString::new(sha1(&issuer.name_der)).ok()?,
        issuer_key_hash: der::asn1::OctetString::new(sha1(&key_bits(&issuer.spki_der)?)).ok()?,
        serial_number: x509_cert::serial_number::SerialNumber::new(magnitude(serial)).ok()?,
    };
    let request = OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request { req_cert: cert_id, single_request_extensions: None }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    request.to_der().ok()
}

/// id-sha1, the CertID hash RFC 5019 asks for.
const SHA1: der::asn1::ObjectIdentifier = der::asn1::ObjectIdentifier::new_unwrap("1.3.14.3.2.26");

/// An integer's magnitude: its big-endian bytes without leading zeros (DER INTEGER contents keep
/// one before a high bit; der's unsigned integers drop it).
fn magnitude(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len().saturating_sub(1));
    &bytes[start..]
}

/// A revoked entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// RFC 3339.
    pub at: String,
    /// The CRL reason, when given (e.g. `KeyCompromise`).
    pub reason: Option<String>,
}

/// What an answer says, before its dates are judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A CRL or OCSP answer that parsed and is signed by the issuer (or its delegated responder).
    Status {
        /// Listed (CRL) or revoked (OCSP).
        revoked: Option<Revoked>,
        /// OCSP `unknown`: the responder does not know the certificate.
        unknown: bool,
        /// The thisUpdate time of the CRL or OCSP single response.
        this_update: DateTime<Utc>,
        /// None: the answer names no next update (always current, RFC 5280 says a CRL must have one).
        next_update: Option<DateTime<Utc>>,
        /// Who signed it: `issuer` or `delegated responder <subject>`.
        signer: String,
    },
    /// A caIssuers answer holding the issuer: its DER and subject.
    Issuer {
        /// The issuer certificate as DER.
        der: Vec<u8>,
        /// Its subject, RFC 4514 text.
        subject: String,
    },
    /// Not a valid answer: what is wrong with it.
    Invalid(String),
    /// A well-formed answer that cannot be checked: the issuer is not known.
    Unverifiable(String),
}

fn time(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

/// Judge a CRL for the certificate with `serial`, issued by `issuer` (None: not known).
pub fn check_crl(body: &[u8], serial: &[u8], cert_issuer_der: &[u8], issuer: Option<&IssuerKey>) -> Answer {
    let crl = match x509_parser::parse_x509_crl(body) {
        Ok((_, crl)) => crl,
        Err(e) => return Answer::Invalid(format!("not a DER CRL ({e})")),
    };
    if crl.issuer().as_raw() != cert_issuer_der {
        return Answer::Invalid(format!("a CRL of another CA ({}), not of the certificate's issuer", crl.issuer()));
    }
    let Some(issuer) = issuer else {
        return Answer::Unverifiable(
            "the issuer's certificate is not known: the CRL's signature cannot be checked".into(),
        );
    };
    let Ok((_, spki)) = SubjectPublicKeyInfo::from_der(&issuer.spki_der) else {
        return Answer::Unverifiable("the issuer's key cannot be read".into());
    };
    if let Err(e) = crl.verify_signature(&spki) {
        return Answer::Invalid(format!("the CRL's signature does not verify with the issuer's key ({e})"));
    }
    let revoked =
        crl.iter_revoked_certificates().find(|r| magnitude(r.raw_serial()) == magnitude(serial)).map(|r| Revoked {
            at: time(r.revocation_date.timestamp()).to_rfc3339(),
            reason: r.reason_code().map(|(_, code)| reason_name(code.0)),
        });
    Answer::Status {
        revoked,
        unknown: false,
        this_update: time(crl.last_update().timestamp()),
        next_update: crl.next_update().map(|t| time(t.timestamp())),
        signer: "issuer".into(),
    }
}

/// Verify `signature` over `message` with the key `spki_der`, by the DER AlgorithmIdentifier
/// `alg_der` (x509-parser's verifier, ring).
fn verify_raw(spki_der: &[u8], alg_der: &[u8], signature: &[u8], message: &[u8]) -> bool {
    let (Ok((_, spki)), Ok((_, alg))) =
        (SubjectPublicKeyInfo::from_der(spki_der), AlgorithmIdentifier::from_der(alg_der))
    else {
        return false;
    };
    let bits = x509_parser::asn1_rs::BitString::new(0, signature);
    x509_parser::verify::verify_signature(&spki, &alg, &bits, message).is_ok()
}

fn ocsp_time(t: &x509_ocsp::OcspGeneralizedTime) -> DateTime<Utc> {
    time(i64::try_from(t.0.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
}

/// Judge an OCSP response for the certificate with `serial`, issued by `issuer`.
pub fn check_ocsp(body: &[u8], serial: &[u8], issuer: &IssuerKey) -> Answer {
    use x509_ocsp::{BasicOcspResponse, CertStatus, OcspResponse, OcspResponseStatus};
    let response = match OcspResponse::from_der(body) {
        Ok(r) => r,
        Err(e) => return Answer::Invalid(format!("not a DER OCSP response ({e})")),
    };
    if response.response_status != OcspResponseStatus::Successful {
        let status = ocsp_status_name(response.response_status);
        return Answer::Invalid(format!("the responder answered `{status}`, not a status"));
    }
    let Some(bytes) = response.response_bytes else {
        return Answer::Invalid("a successful OCSP response without a body".into());
    };
    let basic = match BasicOcspResponse::from_der(bytes.response.as_bytes()) {
        Ok(b) => b,
        Err(e) => return Answer::Invalid(format!("not a basic OCSP response ({e})")),
    };
    let (Ok(tbs), Ok(alg)) = (basic.tbs_response_data.to_der(), basic.signature_algorithm.to_der()) else {
        return Answer::Invalid("the OCSP response cannot be re-encoded".into());
    };
    let Some(signature) = basic.signature.as_bytes() else {
        return Answer::Invalid("the OCSP signature is not a whole number of bytes".into());
    };
    // Signed by the issuer itself, or by a responder certificate the issuer signed for OCSP.
    let signer = if verify_raw(&issuer.spki_der, &alg, signature, &tbs) {
        Some("issuer".to_string())
    } else {
        basic.certs.iter().flatten().find_map(|c| {
            let der = c.to_der().ok()?;
            let (_, cert) = X509Certificate::from_der(&der).ok()?;
            let delegated = cert.issuer().as_raw() == issuer.name_der.as_slice()
                && signed_by(&der, &issuer.spki_der)
                && cert.extended_key_usage().ok().flatten().is_some_and(|e| e.value.ocsp_signing);
            (delegated && verify_raw(cert.public_key().raw, &alg, signature, &tbs))
                .then(|| format!("delegated responder {}", cert.subject()))
        })
    };
    let Some(signer) = signer else {
        return Answer::Invalid(
            "the OCSP response is signed by a key that is neither the issuer's nor a delegated responder's".into(),
        );
    };
    let key_hash = key_bits(&issuer.spki_der).map(|k| sha1(&k));
    let single = basic.tbs_response_data.responses.iter().find(|r| {
        magnitude(r.cert_id.serial_number.as_bytes()) == magnitude(serial)
            && (r.cert_id.hash_algorithm.oid != SHA1
                || key_hash.as_deref() == Some(r.cert_id.issuer_key_hash.as_bytes()))
    });
    let Some(single) = single else {
        return Answer::Invalid("the OCSP response is about other certificates, not this one".into());
    };
    let (revoked, unknown) = match &single.cert_status {
        CertStatus::Good(_) => (None, false),
        CertStatus::Revoked(info) => (
            Some(Revoked {
                at: ocsp_time(&info.revocation_time).to_rfc3339(),
                reason: info.revocation_reason.map(|r| reason_name(u8::try_from(r as u32).unwrap_or(u8::MAX))),
            }),
            false,
        ),
        CertStatus::Unknown(_) => (None, true),
    };
    Answer::Status {
        revoked,
        unknown,
        this_update: ocsp_time(&single.this_update),
        next_update: single.next_update.as_ref().map(ocsp_time),
        signer,
    }
}

/// The certificates of a caIssuers answer: one DER certificate, or a certs-only PKCS#7.
fn bundle(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if X509Certificate::from_der(body).is_ok() {
        return Ok(vec![body.to_vec()]);
    }
    let info = cms::content_info::ContentInfo::from_der(body)
        .map_err(|e| format!("neither a DER certificate nor a PKCS#7 bundle ({e})"))?;
    // Count first, in one linear pass: decoding a SET OF sorts it by insertion (quadratic), which
    // a hostile bundle of thousands of certificates would turn into seconds of CPU.
    let count = count_bundle(&info).map_err(|e| format!("a malformed PKCS#7 bundle ({e})"))?;
    if count > MAX_BUNDLE_CERTS {
        return Err(format!(
            "a PKCS#7 bundle of {count} certificates, more than the {MAX_BUNDLE_CERTS} an issuer bundle may hold"
        ));
    }
    let signed: cms::signed_data::SignedData =
        info.content.decode_as().map_err(|e| format!("a PKCS#7 structure that is not SignedData ({e})"))?;
    let certs = signed.certificates.map(|s| s.0.into_vec()).unwrap_or_default();
    Ok(certs
        .into_iter()
        .filter_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c) => c.to_der().ok(),
            _ => None,
        })
        .collect())
}

/// The number of entries in the `certificates [0]` field of a PKCS#7 SignedData, without
/// decoding them.
fn count_bundle(info: &cms::content_info::ContentInfo) -> der::Result<usize> {
    use der::{Reader, SliceReader, Tag, TagNumber};
    let mut fields = SliceReader::new(info.content.value())?;
    while !fields.is_finished() {
        let field: der::Any = fields.decode()?;
        if der::Tagged::tag(&field) == (Tag::ContextSpecific { constructed: true, number: TagNumber::N0 }) {
            let mut certs = SliceReader::new(field.value())?;
            let mut n = 0;
            while !certs.is_finished() {
                let _: der::Any = certs.decode()?;
                n += 1;
            }
            return Ok(n);
        }
    }
    Ok(0)
}

/// The name of an OCSP response status (RFC 6960 §4.2.1, capitalised as `MalformedRequest`).
fn ocsp_status_name(status: x509_ocsp::OcspResponseStatus) -> &'static str {
    use x509_ocsp::OcspResponseStatus as S;
    match status {
        S::Successful => "Successful",
        S::MalformedRequest => "MalformedRequest",
        S::InternalError => "InternalError",
        S::TryLater => "TryLater",
        S::SigRequired => "SigRequired",
        S::Unauthorized => "Unauthorized",
    }
}

/// The RFC 5280 name of a CRL reason code (CRL entries and OCSP answers alike).
fn reason_name(code: u8) -> String {
    const NAMES: [&str; 11] = [
        "Unspecified",
        "KeyCompromise",
        "CaCompromise",
        "AffiliationChanged",
        "Superseded",
        "CessationOfOperation",
        "CertificateHold",
        "",
        "RemoveFromCRL",
        "PrivilegeWithdrawn",
        "AaCompromise",
    ];
    NAMES.get(usize::from(code)).filter(|n| !n.is_empty()).map_or_else(|| format!("reason {code}"), |n| n.to_string())
}

/// Judge a caIssuers answer for `cert_der`: it must hold a certificate whose subject is the
/// certificate's issuer and whose key verifies the certificate's signature.
pub fn check_ca_issuers(body: &[u8], cert_der: &[u8]) -> Answer {
    let Ok((_, cert)) = X509Certificate::from_der(cert_der) else {
        return Answer::Unverifiable("the certificate itself does not parse".into());
    };
    let certs = match bundle(body) {
        Ok(c) => c,
        Err(e) => return Answer::Invalid(e),
    };
    if certs.is_empty() {
        return Answer::Invalid("a PKCS#7 bundle holding no certificate".into());
    }
    let mut named = 0;
    for der in &certs {
        let Ok((_, candidate)) = X509Certificate::from_der(der) else { continue };
        if candidate.subject().as_raw() != cert.issuer().as_raw() {
            continue;
        }
        named += 1;
        if cert.verify_signature(Some(candidate.public_key())).is_ok() {
            return Answer::Issuer { der: der.clone(), subject: candidate.subject().to_string() };
        }
    }
    Answer::Invalid(if named > 0 {
        format!("a certificate named {} whose key did not sign this certificate", cert.issuer())
    } else {
        format!("{} certificate(s), none of them the issuer {}", certs.len(), cert.issuer())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_invalid_never_a_panic() {
        let issuer = IssuerKey { name_der: vec![0x30, 0], spki_der: vec![0x30, 0], origin: IssuerOrigin::Anchor };
        for body in [&b""[..], b"<html>blocked</html>", &[0x30, 0x82, 0xff, 0xff], &[0x30, 0x03, 0x02, 0x01, 0x00]] {
            assert!(matches!(check_crl(body, &[1], &[0x30, 0], Some(&issuer)), Answer::Invalid(_)));
            assert!(matches!(check_ocsp(body, &[1], &issuer), Answer::Invalid(_)));
            assert!(matches!(check_ca_issuers(body, body), Answer::Unverifiable(_) | Answer::Invalid(_)));
        }
    }

    #[test]
    fn sequence_headers() {
        assert_eq!(wrap_sequence(&[1, 2]), vec![0x30, 2, 1, 2]);
        let long = vec![0u8; 300];
        assert_eq!(&wrap_sequence(&long)[..4], &[0x30, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn ocsp_names_are_ours_not_debug_text() {
        use x509_cert::ext::pkix::crl::CrlReason;
        use x509_ocsp::OcspResponseStatus as S;
        let statuses = [
            (S::Successful, "Successful"),
            (S::MalformedRequest, "MalformedRequest"),
            (S::InternalError, "InternalError"),
            (S::TryLater, "TryLater"),
            (S::SigRequired, "SigRequired"),
            (S::Unauthorized, "Unauthorized"),
        ];
        for (s, name) in statuses {
            assert_eq!(ocsp_status_name(s), name);
        }
        // The OCSP path reads the reason as an enum, the CRL path as a number: same names.
        let reasons = [
            (CrlReason::Unspecified, "Unspecified"),
            (CrlReason::KeyCompromise, "KeyCompromise"),
            (CrlReason::CaCompromise, "CaCompromise"),
            (CrlReason::AffiliationChanged, "AffiliationChanged"),
            (CrlReason::Superseded, "Superseded"),
            (CrlReason::CessationOfOperation, "CessationOfOperation"),
            (CrlReason::CertificateHold, "CertificateHold"),
            (CrlReason::RemoveFromCRL, "RemoveFromCRL"),
            (CrlReason::PrivilegeWithdrawn, "PrivilegeWithdrawn"),
            (CrlReason::AaCompromise, "AaCompromise"),
        ];
        for (r, name) in reasons {
            assert_eq!(reason_name(u8::try_from(r as u32).unwrap()), name);
        }
        assert_eq!(reason_name(7), "reason 7");
    }
}
