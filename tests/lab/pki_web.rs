//! The web side of a PKI on loopback: certificates naming CRL, OCSP and caIssuers URLs (rcgen),
//! CRLs and OCSP answers signed by a lab CA, a plain-HTTP server whose every answer a test
//! scripts ([`WebServer`], [`Reply`]: files, block pages, silence, endless or huge bodies,
//! redirects), and a forward proxy that speaks CONNECT and absolute-form GET ([`ForwardProxy`]).
//! Everything listens on 127.0.0.1 only; the proxy connects to 127.0.0.0/8 only.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use der::{Decode, Encode};
use rcgen::{CertificateParams, CrlDistributionPoint, CustomExtension, KeyPair, SigningKey};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Background;
use super::certs::TestCa;

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The Authority Information Access extension with these OCSP and caIssuers URLs.
pub fn aia(ocsp: &[String], ca_issuers: &[String]) -> CustomExtension {
    const OCSP: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    const CA_ISSUERS: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut descs = Vec::new();
    for (oid, urls) in [(OCSP, ocsp), (CA_ISSUERS, ca_issuers)] {
        for u in urls {
            let mut d = tlv(0x06, &oid);
            d.extend(tlv(0x86, u.as_bytes()));
            descs.extend(tlv(0x30, &d));
        }
    }
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], tlv(0x30, &descs))
}

/// Name these revocation and issuer URLs in `params`.
pub fn name_urls(params: &mut CertificateParams, crl: &[String], ocsp: &[String], ca_issuers: &[String]) {
    if !crl.is_empty() {
        params.crl_distribution_points = vec![CrlDistributionPoint { uris: crl.to_vec() }];
    }
    if !ocsp.is_empty() || !ca_issuers.is_empty() {
        params.custom_extensions.push(aia(ocsp, ca_issuers));
    }
}

/// The raw serial (DER INTEGER contents) of a DER certificate.
pub fn serial_of(der: &[u8]) -> Vec<u8> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("parse certificate");
    cert.raw_serial().to_vec()
}

/// A DER CRL of `ca` listing `revoked` serials, current from `this_update` to `next_update`.
pub fn crl(ca: &TestCa, revoked: &[Vec<u8>], this_update: OffsetDateTime, next_update: OffsetDateTime) -> Vec<u8> {
    let params = rcgen::CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: rcgen::SerialNumber::from_slice(&[1]),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|s| rcgen::RevokedCertParams {
                serial_number: rcgen::SerialNumber::from_slice(s),
                revocation_time: OffsetDateTime::now_utc() - time::Duration::hours(1),
                reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    let (issuer, _) = ca.signer();
    params.signed_by(&issuer).expect("sign CRL").der().to_vec()
}

fn gtime(t: OffsetDateTime) -> x509_ocsp::OcspGeneralizedTime {
    let secs = Duration::from_secs(u64::try_from(t.unix_timestamp()).expect("after 1970"));
    x509_ocsp::OcspGeneralizedTime(der::asn1::GeneralizedTime::from_unix_duration(secs).expect("time"))
}

/// An OCSP answer to `request` (DER), signed with `key`, saying `revoked` for those serials and
/// good for the others (`unknown` for all of them when `unknown`), current from `this_update` to
/// `next_update`.
pub fn ocsp_answer(
    request: &[u8],
    key: &KeyPair,
    revoked: &[Vec<u8>],
    unknown: bool,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
) -> Vec<u8> {
    use x509_ocsp::*;
    let req = OcspRequest::from_der(request).expect("OCSP request");
    let responses = req
        .tbs_request
        .request_list
        .iter()
        .map(|r| {
            let serial = r.req_cert.serial_number.as_bytes();
            let is_revoked = revoked.iter().any(|s| {
                let s = &s[s.iter().position(|b| *b != 0).unwrap_or(0)..];
                s == serial
            });
            SingleResponse {
                cert_id: r.req_cert.clone(),
                cert_status: if unknown {
                    CertStatus::unknown()
                } else if is_revoked {
                    CertStatus::Revoked(RevokedInfo {
                        revocation_time: gtime(OffsetDateTime::now_utc() - time::Duration::hours(1)),
                        revocation_reason: None,
                    })
                } else {
                    CertStatus::good()
                },
                this_update: gtime(this_update),
                next_update: Some(gtime(next_update)),
                single_extensions: None,
            }
        })
        .collect();
    let key_hash = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, key.public_key_raw());
    let tbs = ResponseData {
        version: Version::V1,
        responder_id: ResponderId::ByKey(der::asn1::OctetString::new(key_hash.as_ref()).unwrap()),
        produced_at: gtime(OffsetDateTime::now_utc()),
        responses,
        response_extensions: None,
    };
    let signature = key.sign(&tbs.to_der().unwrap()).expect("sign OCSP");
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
            oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        },
        signature: der::asn1::BitString::from_bytes(&signature).unwrap(),
        certs: None,
    };
    OcspResponse::successful(basic).unwrap().to_der().unwrap()
}

/// What the web server answers to one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A status, a Content-Type and a body (Content-Length framed).
    Body { status: u16, content_type: String, body: Vec<u8> },
    /// 302 to this location.
    Redirect(String),
    /// Reads the request, never answers.
    Silent,
    /// 200 without a length, then bytes forever (one chunk every 10 ms).
    Endless,
    /// 200 with `Content-Length` of that many bytes, then streams zeros.
    Huge(usize),
    /// A body sent one byte every 200 ms.
    Slow(Vec<u8>),
}

impl Reply {
    pub fn ok(content_type: &str, body: Vec<u8>) -> Reply {
        Reply::Body { status: 200, content_type: content_type.into(), body }
    }
}

/// The web server's answers, from the request path (query included).
pub type Handler = Arc<dyn Fn(&str) -> Reply + Send + Sync>;

/// A plain-HTTP server on 127.0.0.1:<ephemeral>; every request head is recorded.
pub struct WebServer {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    _bg: Background,
}

impl WebServer {
    pub fn start(handler: Handler) -> WebServer {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind web server");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let bg = Background::new("web");
        {
            let _guard = bg.runtime().enter();
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let requests = requests.clone();
            bg.runtime().spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (handler, requests) = (handler.clone(), requests.clone());
                    tokio::spawn(async move { serve(stream, handler, requests).await });
                }
            });
        }
        WebServer { addr, requests, _bg: bg }
    }

    /// `http://127.0.0.1:<port>`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Request heads received, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests whose path starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.requests().iter().filter(|r| r.split_whitespace().nth(1).is_some_and(|p| p.starts_with(prefix))).count()
    }
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

async fn serve(mut stream: TcpStream, handler: Handler, requests: Arc<Mutex<Vec<String>>>) {
    let Some(head) = read_head(&mut stream).await else { return };
    requests.lock().unwrap().push(head.clone());
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    match handler(&path) {
        Reply::Body { status, content_type, body } => {
            let h = format!(
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(h.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
        Reply::Redirect(to) => {
            let h = format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(h.as_bytes()).await;
        }
        Reply::Silent => {
            tokio::time::sleep(Duration::from_secs(120)).await;
        }
        Reply::Endless => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\n\r\n").await;
            let chunk = vec![0x30u8; 64 * 1024];
            for _ in 0..100_000 {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        Reply::Huge(n) => {
            let h = format!("HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {n}\r\n\r\n");
            let _ = stream.write_all(h.as_bytes()).await;
            let chunk = vec![0u8; 64 * 1024];
            let mut sent = 0;
            while sent < n {
                if stream.write_all(&chunk).await.is_err() {
                    return;
                }
                sent += chunk.len();
            }
        }
        Reply::Slow(body) => {
            let h = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(h.as_bytes()).await;
            for b in body {
                if stream.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let _ = stream.shutdown().await;
}

/// A forward proxy on 127.0.0.1: CONNECT tunnels and absolute-form GETs, to 127.0.0.0/8 only
/// (host names are looked up in its own map). With credentials, requests without the matching
/// `Proxy-Authorization: Basic` get 407.
pub struct ForwardProxy {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    _bg: Background,
}

impl ForwardProxy {
    pub fn start(hosts: &[(&str, Ipv4Addr)], basic: Option<(&str, &str)>) -> ForwardProxy {
        let hosts: HashMap<String, Ipv4Addr> = hosts
            .iter()
            .map(|(h, ip)| {
                assert!(ip.is_loopback(), "the lab proxy only reaches loopback");
                (h.to_ascii_lowercase(), *ip)
            })
            .collect();
        let token = basic.map(|(u, p)| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        });
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind proxy");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let bg = Background::new("fwd-proxy");
        {
            let _guard = bg.runtime().enter();
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            let requests = requests.clone();
            let shared = Arc::new((hosts, token));
            bg.runtime().spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (shared, requests) = (shared.clone(), requests.clone());
                    tokio::spawn(async move { forward(stream, shared, requests).await });
                }
            });
        }
        ForwardProxy { addr, requests, _bg: bg }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Request heads received, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn target(hosts: &HashMap<String, Ipv4Addr>, host: &str, port: u16) -> Option<SocketAddr> {
    let ip = match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) if v4.is_loopback() => v4,
        Ok(_) => return None,
        Err(_) => *hosts.get(&host.to_ascii_lowercase())?,
    };
    Some(SocketAddr::new(IpAddr::V4(ip), port))
}

async fn forward(
    mut client: TcpStream,
    shared: Arc<(HashMap<String, Ipv4Addr>, Option<String>)>,
    requests: Arc<Mutex<Vec<String>>>,
) {
    let Some(head) = read_head(&mut client).await else { return };
    requests.lock().unwrap().push(head.clone());
    let (hosts, token) = &*shared;
    if let Some(t) = token
        && !head.lines().any(|l| l.to_ascii_lowercase().starts_with("proxy-authorization:") && l.ends_with(t.as_str()))
    {
        let _ = client
            .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"lab\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return;
    }
    let mut words = head.split_whitespace();
    let (method, uri) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method == "CONNECT" {
        let (host, port) = uri.rsplit_once(':').unwrap_or((uri, "443"));
        let Some(to) = target(hosts, host, port.parse().unwrap_or(443)) else {
            let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").await;
            return;
        };
        let Ok(mut upstream) = TcpStream::connect(to).await else {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").await;
            return;
        };
        let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }
    let Ok(url) = url::Url::parse(uri) else {
        let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
        return;
    };
    let to = url.host_str().and_then(|h| target(hosts, h, url.port_or_known_default().unwrap_or(80)));
    let Some(to) = to else {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").await;
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(to).await else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
        return;
    };
    let path = &url[url::Position::BeforePath..];
    let rest: String = head
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.to_ascii_lowercase().starts_with("proxy-authorization:"))
        .collect::<Vec<_>>()
        .join("\r\n");
    let _ = upstream.write_all(format!("{method} {path} HTTP/1.1\r\n{rest}").as_bytes()).await;
    let _ = tokio::io::copy(&mut upstream, &mut client).await;
    let _ = client.shutdown().await;
}
