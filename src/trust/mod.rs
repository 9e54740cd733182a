//! Trust: the two root stores (public anchors and the OS store), the recording verifier that
//! keeps every presented chain with both verdicts, and chain facts read with x509-parser.

pub mod chain;
pub mod intercept;
pub mod revocation;
mod verifier;
pub mod windows;

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::TrustSource;

pub use verifier::{Recorded, RecordingVerifier};

/// The verdict of one store on one presented chain: `trusted`, or the reason it is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrustVerdict {
    /// A path to one of the store's anchors validates (RFC 5280 path validation, by webpki).
    Trusted,
    /// No path to an anchor of this store: an issuer the store does not hold, or a missing
    /// intermediate.
    UnknownIssuer,
    /// A certificate's validity ended before the node's current time.
    Expired,
    /// A certificate's validity starts after the node's current time.
    NotYetValid,
    /// The leaf is not valid for the endpoint's host name (subject alternative names).
    NameMismatch,
    /// A signature in the chain does not verify.
    BadSignature,
    /// A signature algorithm the verifier does not accept (e.g. SHA-1, MD5).
    UnsupportedSignature,
    /// A certificate is revoked (a CRL the verifier was given).
    Revoked,
    /// The leaf's extended key usage does not allow TLS server authentication.
    InvalidPurpose,
    /// A certificate is not valid DER.
    BadEncoding,
    /// The chain is longer or more complex than a verifier accepts (webpki stops at 6 intermediates).
    ChainTooLong,
    /// The store holds no anchors (an empty or unreadable OS store).
    NoTrustAnchors,
    /// The server presented no certificate.
    NoCertificate,
    /// Any other verification error (the store's `*_detail` says which).
    Other,
}

impl TrustVerdict {
    /// Whether a path to one of the store's anchors validated ([`TrustVerdict::Trusted`]).
    pub fn is_trusted(self) -> bool {
        self == TrustVerdict::Trusted
    }

    /// The stable label, as in the report (`trusted`, `unknown_issuer`, `expired`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TrustVerdict::Trusted => "trusted",
            TrustVerdict::UnknownIssuer => "unknown_issuer",
            TrustVerdict::Expired => "expired",
            TrustVerdict::NotYetValid => "not_yet_valid",
            TrustVerdict::NameMismatch => "name_mismatch",
            TrustVerdict::BadSignature => "bad_signature",
            TrustVerdict::UnsupportedSignature => "unsupported_signature",
            TrustVerdict::Revoked => "revoked",
            TrustVerdict::InvalidPurpose => "invalid_purpose",
            TrustVerdict::BadEncoding => "bad_encoding",
            TrustVerdict::ChainTooLong => "chain_too_long",
            TrustVerdict::NoTrustAnchors => "no_trust_anchors",
            TrustVerdict::NoCertificate => "no_certificate",
            TrustVerdict::Other => "other",
        }
    }

    /// Classify a verification error from rustls/webpki.
    pub fn from_error(e: &rustls::Error) -> TrustVerdict {
        use rustls::CertificateError as C;
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                C::UnknownIssuer => TrustVerdict::UnknownIssuer,
                C::Expired | C::ExpiredContext { .. } => TrustVerdict::Expired,
                C::NotValidYet | C::NotValidYetContext { .. } => TrustVerdict::NotYetValid,
                C::NotValidForName | C::NotValidForNameContext { .. } => TrustVerdict::NameMismatch,
                C::BadSignature => TrustVerdict::BadSignature,
                C::UnsupportedSignatureAlgorithmContext { .. }
                | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => TrustVerdict::UnsupportedSignature,
                C::Revoked => TrustVerdict::Revoked,
                C::InvalidPurpose | C::InvalidPurposeContext { .. } => TrustVerdict::InvalidPurpose,
                C::BadEncoding => TrustVerdict::BadEncoding,
                #[allow(deprecated)]
                C::UnsupportedSignatureAlgorithm => TrustVerdict::UnsupportedSignature,
                // webpki's path-building limits surface as opaque errors: known by their names.
                C::Other(other) => {
                    let text = format!("{other:?}");
                    if ["MaximumPathDepthExceeded", "MaximumPathBuildCallsExceeded", "MaximumSignatureChecksExceeded"]
                        .iter()
                        .any(|n| text.contains(n))
                    {
                        TrustVerdict::ChainTooLong
                    } else {
                        TrustVerdict::Other
                    }
                }
                _ => TrustVerdict::Other,
            },
            _ => TrustVerdict::Other,
        }
    }
}

/// The engine that judged a chain against a store: which code gave a verdict.
///
/// The public store is always judged by webpki. The OS store is judged by the Windows chain
/// engine on Windows (CertGetCertificateChain and the SSL chain policy, through
/// rustls-platform-verifier: what Schannel uses, so it fetches missing intermediates from the
/// certificates' AIA caIssuers URLs, checks the leaf's revocation and, on a real node, fetches
/// roots through root auto-update), and by webpki over the loaded anchors everywhere else and
/// whenever `--system-roots` names a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrustEngine {
    /// rustls' webpki verifier over the store's anchors (reports from before this field: webpki).
    #[default]
    Webpki,
    /// The Windows chain engine (crypt32), as Schannel uses it.
    WindowsChainEngine,
}

impl TrustEngine {
    /// The stable label of the report (`webpki`, `windows_chain_engine`).
    pub fn as_str(self) -> &'static str {
        match self {
            TrustEngine::Webpki => "webpki",
            TrustEngine::WindowsChainEngine => "windows_chain_engine",
        }
    }

    /// Classify a verification error of this engine.
    ///
    /// `chain` is the presented chain (leaf first) and `now` the verification time: the Windows
    /// engine reports a certificate not yet valid as expired (one error for both), which the
    /// validity dates of the chain tell apart.
    pub fn classify(self, e: &rustls::Error, chain: &[&[u8]], now: UnixTime) -> TrustVerdict {
        match self {
            TrustEngine::Webpki => TrustVerdict::from_error(e),
            TrustEngine::WindowsChainEngine => windows::classify(e, chain, now),
        }
    }
}

/// What a loaded store is, for the report's `config.trust`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoreSummary {
    /// `webpki-roots`, `os`, or `file`.
    pub source: String,
    /// The PEM file, when `--public-roots` / `--system-roots` replaced the built-in anchors.
    pub path: Option<String>,
    /// Trust anchors loaded.
    pub anchors: usize,
    /// Certificates of the store that could not be loaded, and why.
    pub errors: Vec<String>,
    /// The engine that judges chains against this store: `webpki`, or `windows_chain_engine`
    /// for the OS store on Windows (its verdict does not depend on `anchors` alone: it fetches
    /// missing intermediates and roots as Schannel does).
    #[serde(default)]
    pub engine: TrustEngine,
}

/// One loaded store: its summary and a verifier (none when it has no anchors and no engine of
/// the OS judges it).
#[derive(Debug, Clone)]
pub struct Store {
    /// What the store holds and where it came from, as the report shows it.
    pub summary: StoreSummary,
    /// webpki over the anchors, or the Windows chain engine (`summary.engine` says which).
    pub verifier: Option<Arc<dyn ServerCertVerifier>>,
    /// The anchors' subjects (to name the root that completed a path).
    pub anchors: Arc<Vec<AnchorName>>,
}

/// A trust anchor's subject name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorName {
    /// RFC 4514 distinguished name, as [`chain::CertFacts::issuer`] writes it.
    pub subject: String,
    /// The subject's first CN (common name) value, if any.
    pub cn: Option<String>,
    /// Every O value.
    pub orgs: Vec<String>,
}

fn anchor_names(roots: &RootCertStore) -> Vec<AnchorName> {
    roots
        .roots
        .iter()
        .filter_map(|a| chain::name_facts(a.subject.as_ref()))
        .map(|(subject, cn, orgs)| AnchorName { subject, cn, orgs })
        .collect()
}

impl Store {
    /// The anchor whose subject is `issuer_dn` (RFC 4514 text of a presented certificate's issuer).
    pub fn anchor_named(&self, issuer_dn: &str) -> Option<AnchorName> {
        self.anchors.iter().find(|a| a.subject == issuer_dn).cloned()
    }

    /// This store's verdict on a chain, with the engine's error text when it is not trusted.
    pub fn judge(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> (TrustVerdict, Option<String>) {
        verifier::judge(&self.judge_with(), end_entity, intermediates, server_name, ocsp, now)
    }

    fn judge_with(&self) -> verifier::Judge {
        verifier::Judge { verifier: self.verifier.clone(), engine: self.summary.engine }
    }
}

/// Both stores and the crypto provider every TLS connection uses.
#[derive(Debug, Clone)]
pub struct TrustStores {
    /// The public store: the bundled Mozilla roots (webpki-roots), or `--public-roots`.
    pub public: Store,
    /// The node's store: the OS store (the Windows chain engine on Windows), or `--system-roots`.
    pub system: Store,
    /// The rustls crypto provider (ring) every TLS connection of the run uses.
    pub provider: Arc<CryptoProvider>,
    /// The anchors of both stores as issuer names and keys: what revocation answers about the
    /// last presented certificate are checked against.
    pub anchors: Arc<Vec<revocation::IssuerKey>>,
}

/// The names and keys of DER certificates used as trust anchors.
fn anchor_keys(certs: &[CertificateDer<'_>]) -> Vec<revocation::IssuerKey> {
    certs.iter().filter_map(|c| revocation::issuer_key_of(c, revocation::IssuerOrigin::Anchor)).collect()
}

/// Why a store could not be loaded (exit 3: the run cannot be trusted to mean anything).
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// The PEM bundle could not be parsed.
    #[error("cannot read trust anchors from {path}: {reason}")]
    Pem {
        /// The bundle's path.
        path: String,
        /// The PEM parser's error.
        reason: String,
    },
    /// The file could not be read, or is larger than the cap for a PEM bundle.
    #[error(transparent)]
    Read(#[from] crate::files::ReadError),
    /// The bundle holds no certificate.
    #[error("{path} holds no certificate (expected PEM `-----BEGIN CERTIFICATE-----` blocks)")]
    Empty {
        /// The bundle's path.
        path: String,
    },
    /// The bundle holds certificates, but none could be used as a trust anchor (or the verifier
    /// could not be built over them).
    #[error("no certificate in {path} could be used as a trust anchor: {reason}")]
    Unusable {
        /// The bundle's path.
        path: String,
        /// The errors met, `; `-separated.
        reason: String,
    },
}

/// The one crypto provider of this tool (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let shown = path.display().to_string();
    let bytes = crate::files::read_capped(path, crate::files::InputKind::PemBundle)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .map(|c| c.map(|c| c.into_owned()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TrustError::Pem { path: shown.clone(), reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(TrustError::Empty { path: shown });
    }
    Ok(certs)
}

fn build_store(
    certs: Vec<CertificateDer<'static>>,
    mut summary: StoreSummary,
    provider: &Arc<CryptoProvider>,
) -> Result<Store, TrustError> {
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if ignored > 0 {
        summary.errors.push(format!("{ignored} certificate(s) could not be parsed as trust anchors"));
    }
    summary.anchors = added;
    if added == 0 {
        if let Some(path) = &summary.path {
            return Err(TrustError::Unusable { path: path.clone(), reason: summary.errors.join("; ") });
        }
        return Ok(Store { summary, verifier: None, anchors: Arc::default() });
    }
    let anchors = Arc::new(anchor_names(&roots));
    let verifier =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build().map_err(|e| {
            TrustError::Unusable {
                path: summary.path.clone().unwrap_or_else(|| summary.source.clone()),
                reason: e.to_string(),
            }
        })?;
    Ok(Store { summary, verifier: Some(verifier as Arc<dyn ServerCertVerifier>), anchors })
}

impl TrustStores {
    /// Load the public anchors (webpki-roots or a PEM file) and the OS store (or a PEM file).
    pub fn load(public: &TrustSource, system: &TrustSource) -> Result<TrustStores, TrustError> {
        let provider = provider();
        let mut anchors = Vec::new();
        let public = match public {
            TrustSource::Builtin => {
                let mut roots = RootCertStore::empty();
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                anchors.extend(roots.roots.iter().map(|a| revocation::IssuerKey {
                    name_der: revocation::wrap_sequence(&a.subject),
                    spki_der: revocation::wrap_sequence(&a.subject_public_key_info),
                    origin: revocation::IssuerOrigin::Anchor,
                }));
                let summary = StoreSummary {
                    source: "webpki-roots".into(),
                    path: None,
                    anchors: roots.len(),
                    errors: Vec::new(),
                    engine: TrustEngine::Webpki,
                };
                let verifier =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| TrustError::Unusable { path: "webpki-roots".into(), reason: e.to_string() })?;
                Store { summary, verifier: Some(verifier), anchors: Arc::default() }
            }
            TrustSource::File(path) => {
                let certs = load_pem(path)?;
                anchors.extend(anchor_keys(&certs));
                build_store(certs, file_summary(path), &provider)?
            }
        };
        let system = match system {
            TrustSource::Builtin => {
                // rustls-native-certs reads SSL_CERT_FILE whole: refuse an oversized one first
                // (an unreadable one is left to it: it becomes an error of the store's summary).
                if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty())
                    && let Err(e @ crate::files::ReadError::TooLarge { .. }) =
                        crate::files::read_capped(Path::new(&file), crate::files::InputKind::PemBundle)
                {
                    return Err(e.into());
                }
                let loaded = rustls_native_certs::load_native_certs();
                let summary = StoreSummary {
                    source: "os".into(),
                    path: None,
                    anchors: 0,
                    errors: loaded.errors.iter().map(|e| e.to_string()).collect(),
                    engine: TrustEngine::Webpki,
                };
                anchors.extend(anchor_keys(&loaded.certs));
                // The anchors name roots and key revocation answers; on Windows the verdict
                // comes from the Windows chain engine (which needs no loaded anchor).
                let store = build_store(loaded.certs, summary, &provider)?;
                #[cfg(windows)]
                let store = windows::os_store(store, &provider)?;
                store
            }
            TrustSource::File(path) => {
                let certs = load_pem(path)?;
                anchors.extend(anchor_keys(&certs));
                build_store(certs, file_summary(path), &provider)?
            }
        };
        Ok(TrustStores { public, system, provider, anchors: Arc::new(anchors) })
    }

    /// A fresh recording verifier for one handshake.
    pub fn recorder(&self) -> Arc<RecordingVerifier> {
        Arc::new(RecordingVerifier::new(self.public.judge_with(), self.system.judge_with(), self.provider.clone()))
    }
}

fn file_summary(path: &Path) -> StoreSummary {
    StoreSummary {
        source: "file".into(),
        path: Some(path.display().to_string()),
        anchors: 0,
        errors: Vec::new(),
        engine: TrustEngine::Webpki,
    }
}
