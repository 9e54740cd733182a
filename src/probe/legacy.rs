//! Legacy TLS version probe. rustls speaks only TLS 1.2 and 1.3, so when a handshake fails the
//! probe asks once more with a TLS 1.0 record carrying a TLS 1.1 ClientHello (what an old client
//! sends) and reads the version of the ServerHello. No TLS library can do this without linking
//! OpenSSL, so the ClientHello is assembled here; only the first 11 bytes of the answer are read.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connect;

/// Cipher suites an old server speaks: ECDHE-RSA/ECDSA with AES-CBC, RSA with AES-CBC and 3DES.
const SUITES: [u16; 10] = [0xc013, 0xc014, 0xc009, 0xc00a, 0x002f, 0x0035, 0x000a, 0x0033, 0x0039, 0x0005];

fn u16be(v: usize) -> [u8; 2] {
    [(v >> 8) as u8, v as u8]
}

/// A ClientHello offering at most TLS 1.1, with SNI when `sni` is a name.
pub fn client_hello(sni: Option<&str>) -> Vec<u8> {
    let mut ext = Vec::new();
    if let Some(name) = sni {
        let n = name.as_bytes();
        ext.extend_from_slice(&[0x00, 0x00]);
        ext.extend_from_slice(&u16be(n.len() + 5));
        ext.extend_from_slice(&u16be(n.len() + 3));
        ext.push(0x00);
        ext.extend_from_slice(&u16be(n.len()));
        ext.extend_from_slice(n);
    }
    // supported_groups: secp256r1, secp384r1; ec_point_formats: uncompressed; renegotiation_info.
    ext.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x17, 0x00, 0x18]);
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    ext.extend_from_slice(&[0xff, 0x01, 0x00, 0x01, 0x00]);

    let mut body = vec![0x03, 0x02];
    body.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    body.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    body.push(0x00); // no session id
    body.extend_from_slice(&u16be(SUITES.len() * 2));
    for s in SUITES {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    body.extend_from_slice(&u16be(ext.len()));
    body.extend_from_slice(&ext);

    let mut hs = vec![0x01, 0x00];
    hs.extend_from_slice(&u16be(body.len()));
    hs.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&u16be(hs.len()));
    record.extend_from_slice(&hs);
    record
}

/// The version a ServerHello record announces, from its first 11 bytes.
pub fn server_hello_version(head: &[u8]) -> Option<&'static str> {
    // record type 22, record version, length (2), handshake type 2, length (3), server_version.
    if head.len() < 11 || head[0] != 0x16 || head[5] != 0x02 {
        return None;
    }
    match (head[9], head[10]) {
        (3, minor @ 0..=3) => super::tls_label::version_name(u16::from_be_bytes([3, minor])),
        _ => None,
    }
}

/// Connect to `addr` and ask for an old TLS version, all within `budget`; the version the
/// server picked, if it answered.
pub async fn probe(addr: SocketAddr, sni: Option<&str>, budget: Duration) -> Option<&'static str> {
    let exchange = async {
        let (_, stream) = connect::connect(addr, budget).await;
        ask(stream?, sni).await
    };
    tokio::time::timeout(budget, exchange).await.ok().flatten()
}

/// Ask for an old TLS version over `stream` (a connection to the server, or a tunnel to it
/// through a proxy); the version the server picked, if it answered.
pub async fn ask(mut stream: tokio::net::TcpStream, sni: Option<&str>) -> Option<&'static str> {
    stream.write_all(&client_hello(sni)).await.ok()?;
    let mut head = [0u8; 11];
    stream.read_exact(&mut head).await.ok()?;
    server_hello_version(&head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_a_well_formed_record() {
        let h = client_hello(Some("login.example"));
        assert_eq!(&h[..3], &[0x16, 0x03, 0x01]);
        assert_eq!(usize::from(h[3]) << 8 | usize::from(h[4]), h.len() - 5);
        assert_eq!(h[5], 0x01);
        let hs_len = usize::from(h[6]) << 16 | usize::from(h[7]) << 8 | usize::from(h[8]);
        assert_eq!(hs_len, h.len() - 9);
        assert_eq!(&h[9..11], &[0x03, 0x02]);
        assert!(h.windows(13).any(|w| w == b"login.example"));
    }

    #[test]
    fn reads_the_server_version() {
        assert_eq!(server_hello_version(&[0x16, 3, 1, 0, 0x51, 0x02, 0, 0, 0x4d, 3, 1]), Some("TLS 1.0"));
        assert_eq!(server_hello_version(&[0x16, 3, 2, 0, 0x51, 0x02, 0, 0, 0x4d, 3, 2]), Some("TLS 1.1"));
        assert_eq!(server_hello_version(&[0x15, 3, 1, 0, 2, 2, 70, 0, 0, 0, 0]), None, "an alert");
        assert_eq!(server_hello_version(b"HTTP/1.1 40"), None);
    }
}
