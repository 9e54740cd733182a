//! A throw-away PKI built with rcgen: roots, intermediates and server leaves.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// A certificate authority (root or intermediate) that can issue certificates.
pub struct TestCa {
    /// The CA certificate, PEM.
    pub cert_pem: String,
    /// The CA certificate, DER.
    pub cert_der: Vec<u8>,
    organization: String,
    params: CertificateParams,
    key: KeyPair,
    /// DER of the intermediates from this CA up to (excluding) the root; empty
    /// for a root.
    intermediates: Vec<Vec<u8>>,
}

/// A server certificate with its key and the chain a server should send.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub cert_der: Vec<u8>,
    /// PKCS#8 private key.
    pub key_der: Vec<u8>,
    /// Leaf first, then the intermediates (never the root).
    pub chain_der: Vec<Vec<u8>>,
}

fn ca_params(common_name: &str, organization: &str) -> CertificateParams {
    let now = OffsetDateTime::now_utc();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, organization);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(3650);
    params
}

fn leaf_params(names: &[&str], not_before: OffsetDateTime, not_after: OffsetDateTime) -> CertificateParams {
    let sans: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = CertificateParams::new(sans).expect("valid SAN names");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names.first().copied().unwrap_or("lab leaf"));
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = not_before;
    params.not_after = not_after;
    params
}

fn default_leaf_validity() -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (now - Duration::days(1), now + Duration::days(90))
}

impl TestCa {
    /// A self-signed root (CA:true) with CN = O = `common_name`.
    pub fn new(common_name: &str) -> TestCa {
        TestCa::new_with(common_name, common_name)
    }

    /// A self-signed root (CA:true) with the given CN and O.
    pub fn new_with(common_name: &str, organization: &str) -> TestCa {
        let params = ca_params(common_name, organization);
        let key = KeyPair::generate().expect("generate CA key");
        let cert = params.self_signed(&key).expect("self-sign CA");
        TestCa {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            organization: organization.to_string(),
            params,
            key,
            intermediates: Vec::new(),
        }
    }

    /// An intermediate CA (CA:true) signed by `self`; CN = `common_name`, O is
    /// inherited from `self`.
    pub fn intermediate(&self, common_name: &str) -> TestCa {
        self.intermediate_edited(common_name, |_| {})
    }

    /// An intermediate CA (CA:true) signed by `self` with its own CN and O.
    pub fn intermediate_with(&self, common_name: &str, organization: &str) -> TestCa {
        self.sign_intermediate(ca_params(common_name, organization), organization)
    }

    /// An intermediate CA like [`TestCa::intermediate`], its parameters changed by `edit` first
    /// (e.g. to add CRL distribution points or AIA URLs).
    pub fn intermediate_edited(&self, common_name: &str, edit: impl FnOnce(&mut CertificateParams)) -> TestCa {
        let mut params = ca_params(common_name, &self.organization);
        edit(&mut params);
        self.sign_intermediate(params, &self.organization)
    }

    fn sign_intermediate(&self, mut params: CertificateParams, organization: &str) -> TestCa {
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("generate intermediate key");
        let cert = params.signed_by(&key, &self.issuer()).expect("sign intermediate");
        let cert_der = cert.der().to_vec();
        let mut intermediates = vec![cert_der.clone()];
        intermediates.extend(self.intermediates.iter().cloned());
        TestCa { cert_pem: cert.pem(), cert_der, organization: organization.to_string(), params, key, intermediates }
    }

    /// A server certificate like [`TestCa::leaf`], its parameters changed by `edit` first.
    pub fn leaf_edited(&self, names: &[&str], edit: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let (not_before, not_after) = default_leaf_validity();
        let mut params = leaf_params(names, not_before, not_after);
        params.use_authority_key_identifier_extension = true;
        edit(&mut params);
        let key = KeyPair::generate().expect("generate leaf key");
        let cert = params.signed_by(&key, &self.issuer()).expect("sign leaf");
        let cert_der = cert.der().to_vec();
        let mut chain_der = vec![cert_der.clone()];
        chain_der.extend(self.intermediates.iter().cloned());
        Leaf { cert_der, key_der: key.serialize_der(), chain_der }
    }

    /// The CA's parameters and key, to sign CRLs and OCSP answers with.
    pub fn signer(&self) -> (Issuer<'_, &KeyPair>, &KeyPair) {
        (self.issuer(), &self.key)
    }

    /// A server certificate valid from now-1day to now+90days.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        let (not_before, not_after) = default_leaf_validity();
        self.leaf_with(names, not_before, not_after)
    }

    /// A server certificate with explicit validity.
    pub fn leaf_with(&self, names: &[&str], not_before: OffsetDateTime, not_after: OffsetDateTime) -> Leaf {
        let mut params = leaf_params(names, not_before, not_after);
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("generate leaf key");
        let cert = params.signed_by(&key, &self.issuer()).expect("sign leaf");
        let cert_der = cert.der().to_vec();
        let mut chain_der = vec![cert_der.clone()];
        chain_der.extend(self.intermediates.iter().cloned());
        Leaf { cert_der, key_der: key.serialize_der(), chain_der }
    }

    /// A leaf the way an intercepting proxy mints one on the fly: valid from 1
    /// minute ago to 30 days from now, SANs = `names` (DNS names or IP
    /// literals), CN = the first name, no SCTs, issued by `self`.
    pub fn minted_leaf(&self, names: &[&str]) -> Leaf {
        let now = OffsetDateTime::now_utc();
        self.leaf_with(names, now - Duration::minutes(1), now + Duration::days(30))
    }

    /// The CA's private key, PKCS#8 PEM (e.g. to hand the CA to mitmproxy).
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// Writes `cert_pem` to `dir/file` and returns the path.
    pub fn write_pem(&self, dir: &Path, file: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::write(&path, &self.cert_pem).expect("write CA PEM");
        path
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
}

impl Clone for TestCa {
    /// The same CA (same certificate and key), e.g. for a server that signs
    /// in the background.
    fn clone(&self) -> TestCa {
        TestCa {
            cert_pem: self.cert_pem.clone(),
            cert_der: self.cert_der.clone(),
            organization: self.organization.clone(),
            params: self.params.clone(),
            key: KeyPair::try_from(self.key.serialized_der()).expect("reload CA key"),
            intermediates: self.intermediates.clone(),
        }
    }
}

/// A self-signed (not CA) server certificate, valid now-1day..now+90days.
pub fn self_signed_leaf(names: &[&str]) -> Leaf {
    let (not_before, not_after) = default_leaf_validity();
    let params = leaf_params(names, not_before, not_after);
    let key = KeyPair::generate().expect("generate leaf key");
    let cert = params.self_signed(&key).expect("self-sign leaf");
    let cert_der = cert.der().to_vec();
    Leaf { cert_der: cert_der.clone(), key_der: key.serialize_der(), chain_der: vec![cert_der] }
}
