//! A server-certificate verifier that records the presented chain and the verdicts of both
//! stores, and lets the handshake finish whatever they say: the probe must see the chain an
//! interceptor presents, and complete the HTTP request, to prove what is in the path.
//! The handshake signature itself is still verified (the server must hold the leaf's key).

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::{TrustEngine, TrustVerdict};

/// What one handshake presented and what each store made of it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Leaf first, as the server sent it.
    pub chain: Vec<CertificateDer<'static>>,
    /// The public store's verdict.
    pub public: TrustVerdict,
    /// Why the public store rejected the chain (the engine's error text); None when trusted.
    pub public_detail: Option<String>,
    /// The node store's verdict.
    pub system: TrustVerdict,
    /// Why the node store rejected the chain; None when trusted.
    pub system_detail: Option<String>,
    /// The engine that gave `system`.
    pub system_engine: TrustEngine,
}

/// A store's verifier and the engine it is (to classify its errors).
#[derive(Debug, Clone)]
pub(super) struct Judge {
    pub verifier: Option<Arc<dyn ServerCertVerifier>>,
    pub engine: TrustEngine,
}

/// Records the chain and both stores' verdicts of one handshake, and accepts the chain.
#[derive(Debug)]
pub struct RecordingVerifier {
    public: Judge,
    system: Judge,
    provider: Arc<CryptoProvider>,
    record: Mutex<Option<Recorded>>,
}

impl RecordingVerifier {
    pub(super) fn new(public: Judge, system: Judge, provider: Arc<CryptoProvider>) -> Self {
        RecordingVerifier { public, system, provider, record: Mutex::new(None) }
    }

    /// The chain and verdicts of the handshake, once the server's certificate was seen.
    pub fn take(&self) -> Option<Recorded> {
        self.record.lock().ok().and_then(|mut r| r.take())
    }
}

/// One store's verdict on a chain. The Windows chain engine may fetch over the network
/// (missing intermediates, the leaf's revocation): on a multi-threaded runtime it runs as a
/// blocking section, so the other endpoints' probes keep their worker threads.
pub(super) fn judge(
    judge: &Judge,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    ocsp: &[u8],
    now: UnixTime,
) -> (TrustVerdict, Option<String>) {
    let Some(v) = &judge.verifier else {
        return (TrustVerdict::NoTrustAnchors, Some("the store holds no trust anchors".into()));
    };
    let verify = || v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now);
    let result = if judge.engine == TrustEngine::WindowsChainEngine
        && tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
    {
        tokio::task::block_in_place(verify)
    } else {
        verify()
    };
    match result {
        Ok(_) => (TrustVerdict::Trusted, None),
        Err(e) => {
            let chain: Vec<&[u8]> =
                std::iter::once(end_entity.as_ref()).chain(intermediates.iter().map(|c| c.as_ref())).collect();
            (judge.engine.classify(&e, &chain, now), Some(e.to_string()))
        }
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let (public, public_detail) = judge(&self.public, end_entity, intermediates, server_name, ocsp_response, now);
        let (system, system_detail) = judge(&self.system, end_entity, intermediates, server_name, ocsp_response, now);
        let chain = std::iter::once(end_entity).chain(intermediates.iter()).map(|c| c.clone().into_owned()).collect();
        if let Ok(mut slot) = self.record.lock() {
            *slot = Some(Recorded {
                chain,
                public,
                public_detail,
                system,
                system_detail,
                system_engine: self.system.engine,
            });
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
