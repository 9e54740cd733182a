//! TLS stage: rustls handshake with SNI and the recording verifier.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use std::sync::atomic::Ordering;

use super::pmtu::{Counted, Counts};
use super::{TlsObservation, TlsStatus, TrustObservation, ms};
use crate::trust::{TrustStores, chain};

/// Handshake over `stream` for `host` (SNI is sent for names, not for IP literals). The bytes
/// received and sent during the handshake are in the observation.
pub async fn handshake(
    stores: &TrustStores,
    stream: TcpStream,
    host: &str,
    timeout: Duration,
) -> (TlsObservation, Option<TlsStream<Counted<TcpStream>>>) {
    handshake_counting(stores, stream, host, timeout, Arc::new(Counts::default())).await
}

/// [`handshake`], counting the bytes into `counts` as they pass (readable while it runs).
pub async fn handshake_counting(
    stores: &TrustStores,
    stream: TcpStream,
    host: &str,
    timeout: Duration,
    counts: Arc<Counts>,
) -> (TlsObservation, Option<TlsStream<Counted<TcpStream>>>) {
    let start = Instant::now();
    let mut obs = TlsObservation::not_attempted();
    let server_name = match ServerName::try_from(host.to_string()) {
        Ok(n) => n,
        Err(e) => {
            obs.status = TlsStatus::HandshakeFailed;
            obs.error = Some(format!("`{host}` is not a valid TLS server name: {e}"));
            return (obs, None);
        }
    };
    if matches!(server_name, ServerName::DnsName(_)) {
        obs.sni = Some(host.to_string());
    }
    let recorder = stores.recorder();
    let config =
        match ClientConfig::builder_with_provider(stores.provider.clone()).with_safe_default_protocol_versions() {
            Ok(b) => {
                let mut c = b.dangerous().with_custom_certificate_verifier(recorder.clone()).with_no_client_auth();
                c.alpn_protocols = vec![b"http/1.1".to_vec()];
                c
            }
            Err(e) => {
                obs.status = TlsStatus::HandshakeFailed;
                obs.error = Some(format!("TLS configuration: {e}"));
                return (obs, None);
            }
        };
    let peer = stream.peer_addr().ok();
    let connector = TlsConnector::from(Arc::new(config));
    let stream = Counted::new(stream, counts.clone());
    let result = tokio::time::timeout(timeout, connector.connect(server_name, stream)).await;
    obs.duration_ms = ms(start.elapsed());
    obs.bytes_received = Some(counts.received.load(Ordering::Relaxed));
    obs.bytes_sent = Some(counts.sent.load(Ordering::Relaxed));
    if let Some(rec) = recorder.take() {
        obs.chain = rec.chain.iter().map(|c| chain::facts(c)).collect();
        obs.presented = rec.chain.clone();
        obs.trust = Some(TrustObservation {
            public: rec.public,
            system: rec.system,
            public_detail: rec.public_detail,
            system_detail: rec.system_detail,
            system_engine: rec.system_engine,
            system_anchor: obs.chain.last().and_then(|top| stores.system.anchor_named(&top.issuer)),
        });
    }
    let at = peer.map_or_else(|| host.to_string(), |p| p.to_string());
    match result {
        Err(_) => {
            obs.status = TlsStatus::Timeout;
            let got = obs.bytes_received.unwrap_or(0);
            obs.error = Some(format!(
                "TLS handshake with {at}: not complete within {} ms ({got} bytes received after the ClientHello)",
                timeout.as_millis()
            ));
            (obs, None)
        }
        Ok(Err(e)) => {
            obs.status = classify(&e);
            let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            if let Some(rustls::Error::AlertReceived(alert)) = inner {
                obs.alert = Some(super::tls_label::alert(*alert));
            }
            obs.version_refused = inner.is_some_and(refuses_our_versions);
            obs.error = Some(format!("TLS handshake with {at}: {e}{}", inner.map_or("", in_words)));
            (obs, None)
        }
        Ok(Ok(tls)) => {
            let conn = tls.get_ref().1;
            obs.status = TlsStatus::Ok;
            obs.version = conn.protocol_version().map(super::tls_label::version);
            obs.cipher_suite = conn.negotiated_cipher_suite().map(|s| super::tls_label::cipher_suite(s.suite()));
            obs.alpn = conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned());
            (obs, Some(tls))
        }
    }
}

/// What a rustls error means for the person reading the report, where its own text is terse.
fn in_words(e: &rustls::Error) -> &'static str {
    use rustls::InvalidMessage as M;
    match e {
        rustls::Error::InvalidMessage(M::HandshakePayloadTooLarge | M::CertificatePayloadTooLarge) => {
            " (the server's certificate message is over 64 KiB: hundreds of certificates or oversized ones, \
             which no TLS client accepts)"
        }
        rustls::Error::InvalidMessage(M::InvalidContentType | M::UnknownProtocolVersion) => {
            " (what came back is not TLS: a plain-HTTP service, a block page or another protocol on this port)"
        }
        rustls::Error::InvalidMessage(_) => " (the server's TLS messages are malformed)",
        _ => "",
    }
}

/// The server turned down TLS 1.2 and 1.3 themselves (not our certificate or cipher choice):
/// worth asking whether it speaks an older version.
fn refuses_our_versions(e: &rustls::Error) -> bool {
    use rustls::AlertDescription as A;
    use rustls::PeerIncompatible as P;
    matches!(
        e,
        rustls::Error::AlertReceived(A::ProtocolVersion | A::HandshakeFailure | A::InsufficientSecurity)
            | rustls::Error::PeerIncompatible(
                P::ServerDoesNotSupportTls12Or13 | P::ServerTlsVersionIsDisabledByOurConfig | P::Tls12NotOffered
            )
    )
}

fn classify(e: &io::Error) -> TlsStatus {
    match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => TlsStatus::Reset,
        io::ErrorKind::TimedOut => TlsStatus::Timeout,
        _ => TlsStatus::HandshakeFailed,
    }
}
