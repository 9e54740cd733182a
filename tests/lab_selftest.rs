//! Self-tests of the in-process lab (tests/lab/): every server is exercised
//! directly, without the azs-netprobe binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod lab;

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use lab::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

// ---------------------------------------------------------------- DNS helpers

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn resolver(addr: SocketAddr, timeout: Duration) -> TokioResolver {
    let mut ns = NameServerConfig::udp(addr.ip());
    for conn in &mut ns.connections {
        conn.port = addr.port();
    }
    let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    let opts = builder.options_mut();
    opts.timeout = timeout;
    opts.attempts = 1;
    opts.cache_size = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.preserve_intermediates = true;
    opts.try_tcp_on_error = false;
    builder.build().unwrap()
}

fn lookup(server: &DnsServer, name: &str, rtype: RecordType) -> Result<Vec<RData>, NetError> {
    rt().block_on(async {
        let r = resolver(server.addr, Duration::from_secs(2));
        r.lookup(name, rtype).await.map(|l| l.answers().iter().map(|rec| rec.data.clone()).collect())
    })
}

fn rcode_of(err: &NetError) -> Option<ResponseCode> {
    match err {
        NetError::Dns(DnsError::ResponseCode(code)) => Some(*code),
        NetError::Dns(DnsError::NoRecordsFound(nr)) => Some(nr.response_code),
        _ => None,
    }
}

/// One raw query over UDP (or TCP), returning the decoded response.
fn raw_query(server: &DnsServer, name: &str, rtype: RecordType, tcp: bool) -> Message {
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    let bytes = msg.to_vec().unwrap();
    let reply = if tcp {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        s.write_all(&framed).unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut buf).unwrap();
        buf
    } else {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.send_to(&bytes, server.addr).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.recv(&mut buf).unwrap();
        buf.truncate(n);
        buf
    };
    let response = Message::from_vec(&reply).unwrap();
    assert_eq!(response.metadata.id, msg.metadata.id);
    response
}

fn zone() -> Vec<(&'static str, DnsAnswer)> {
    vec![
        ("a.lab.test", DnsAnswer::A(vec![Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)])),
        ("v6.lab.test.", DnsAnswer::Aaaa(vec![Ipv6Addr::LOCALHOST])),
        (
            "Both.Lab.Test",
            DnsAnswer::Ips(vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)), IpAddr::V6(Ipv6Addr::LOCALHOST)]),
        ),
        ("alias.lab.test", DnsAnswer::Cname("mid.lab.test".into())),
        ("mid.lab.test", DnsAnswer::Cname("A.LAB.TEST.".into())),
        ("dangling.lab.test", DnsAnswer::Cname("gone.lab.test".into())),
        ("nx.lab.test", DnsAnswer::NxDomain),
        ("fail.lab.test", DnsAnswer::ServFail),
        ("refused.lab.test", DnsAnswer::Refused),
        ("silent.lab.test", DnsAnswer::Silence),
        ("empty.lab.test", DnsAnswer::NoData),
    ]
}

// ---------------------------------------------------------------- DNS tests

#[test]
fn dns_a_and_aaaa() {
    let dns = DnsServer::start(zone());
    assert!(dns.addr.ip().is_loopback());

    let a = lookup(&dns, "a.lab.test.", RecordType::A).unwrap();
    assert_eq!(a, vec![RData::A(Ipv4Addr::new(127, 0, 0, 2).into()), RData::A(Ipv4Addr::new(127, 0, 0, 3).into())]);
    let v6 = lookup(&dns, "V6.lab.test.", RecordType::AAAA).unwrap();
    assert_eq!(v6, vec![RData::AAAA(Ipv6Addr::LOCALHOST.into())]);

    let both4 = lookup(&dns, "both.lab.test.", RecordType::A).unwrap();
    assert_eq!(both4, vec![RData::A(Ipv4Addr::new(127, 0, 0, 4).into())]);
    let both6 = lookup(&dns, "both.lab.test.", RecordType::AAAA).unwrap();
    assert_eq!(both6, vec![RData::AAAA(Ipv6Addr::LOCALHOST.into())]);

    // lookup_ip (A + AAAA) through the resolver
    let ips: Vec<IpAddr> = rt().block_on(async {
        let r = resolver(dns.addr, Duration::from_secs(2));
        r.lookup_ip("both.lab.test.").await.unwrap().iter().collect()
    });
    assert!(ips.contains(&IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4))), "{ips:?}");

    // NODATA both ways
    let e = lookup(&dns, "a.lab.test.", RecordType::AAAA).unwrap_err();
    assert_eq!(rcode_of(&e), Some(ResponseCode::NoError), "{e:?}");
    let e = lookup(&dns, "v6.lab.test.", RecordType::A).unwrap_err();
    assert_eq!(rcode_of(&e), Some(ResponseCode::NoError), "{e:?}");
    let e = lookup(&dns, "empty.lab.test.", RecordType::A).unwrap_err();
    assert_eq!(rcode_of(&e), Some(ResponseCode::NoError), "{e:?}");

    // raw wire: flags, TTL, echoed question
    let m = raw_query(&dns, "a.lab.test.", RecordType::A, false);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative && m.metadata.recursion_available);
    assert!(m.metadata.recursion_desired);
    assert_eq!(m.queries.len(), 1);
    assert_eq!(m.answers.len(), 2);
    assert!(m.answers.iter().all(|r| r.ttl == 60));
    let m = raw_query(&dns, "a.lab.test.", RecordType::AAAA, false);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());

    assert!(dns.queries() >= 11, "queries = {}", dns.queries());
    assert!(dns.query_log().contains(&"a.lab.test AAAA".to_string()));
}

#[test]
fn dns_cname_chain() {
    let dns = DnsServer::start(zone());
    let m = raw_query(&dns, "alias.lab.test.", RecordType::A, false);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let types: Vec<RecordType> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, vec![RecordType::CNAME, RecordType::CNAME, RecordType::A, RecordType::A]);
    assert_eq!(m.answers[0].name.to_ascii(), "alias.lab.test.");
    assert_eq!(m.answers[1].name.to_ascii(), "mid.lab.test.");
    assert_eq!(m.answers[2].name.to_ascii().to_lowercase(), "a.lab.test.");

    // query type CNAME returns just the alias record
    let m = raw_query(&dns, "alias.lab.test.", RecordType::CNAME, false);
    assert_eq!(m.answers.len(), 1);

    // AAAA through the chain: CNAMEs only, NOERROR
    let m = raw_query(&dns, "alias.lab.test.", RecordType::AAAA, false);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 2);

    // dangling CNAME: NXDOMAIN with the CNAME in the answer
    let m = raw_query(&dns, "dangling.lab.test.", RecordType::A, false);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.answers.len(), 1);

    // Same over TCP, same port
    let m = raw_query(&dns, "alias.lab.test.", RecordType::A, true);
    assert_eq!(m.answers.len(), 4);

    // Through hickory-resolver
    let ips: Vec<IpAddr> = rt().block_on(async {
        let r = resolver(dns.addr, Duration::from_secs(2));
        r.lookup_ip("alias.lab.test.").await.unwrap().iter().collect()
    });
    assert_eq!(ips, vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))]);
}

#[test]
fn dns_error_codes() {
    let dns = DnsServer::start(zone());
    let e = lookup(&dns, "nx.lab.test.", RecordType::A).unwrap_err();
    assert_eq!(rcode_of(&e), Some(ResponseCode::NXDomain), "{e:?}");
    let e = lookup(&dns, "not-in-zone.lab.test.", RecordType::A).unwrap_err();
    assert_eq!(rcode_of(&e), Some(ResponseCode::NXDomain), "{e:?}");
    let e = lookup(&dns, "fail.lab.test.", RecordType::A).unwrap_err();
    assert_eq!(rcode_of(&e), Some(ResponseCode::ServFail), "{e:?}");
    let e = lookup(&dns, "refused.lab.test.", RecordType::A).unwrap_err();
    assert_eq!(rcode_of(&e), Some(ResponseCode::Refused), "{e:?}");

    let m = raw_query(&dns, "fail.lab.test.", RecordType::A, false);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let m = raw_query(&dns, "refused.lab.test.", RecordType::A, false);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(!m.metadata.authoritative);
    let m = raw_query(&dns, "nx.lab.test.", RecordType::A, true);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn dns_silence_times_out() {
    let dns = DnsServer::start(zone());
    let start = Instant::now();
    let result = rt().block_on(async {
        let r = resolver(dns.addr, Duration::from_millis(300));
        r.lookup("silent.lab.test.", RecordType::A).await
    });
    let elapsed = start.elapsed();
    let err = result.unwrap_err();
    assert!(matches!(err, NetError::Timeout) || err.to_string().contains("timed out"), "{err:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(dns.queries() >= 1);
}

// ---------------------------------------------------------------- TLS helpers

fn client_config(roots_der: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for der in roots_der {
        roots.add(CertificateDer::from(der.to_vec())).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn handshake(
    addr: SocketAddr,
    name: &str,
    config: Arc<rustls::ClientConfig>,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, rustls::Error> {
    let sock = TcpStream::connect(addr).unwrap();
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(config, server_name).unwrap();
    handshake_over(sock, conn)
}

/// Completes the handshake of `conn` over an already connected socket (e.g.
/// a tunnel through a proxy).
fn handshake_over(
    mut sock: TcpStream,
    mut conn: rustls::ClientConnection,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, rustls::Error> {
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            return Err(e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .cloned()
                .unwrap_or_else(|| panic!("I/O error during handshake: {e}")));
        }
    }
    Ok(rustls::StreamOwned::new(conn, sock))
}

fn get(tls: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>, host: &str) -> String {
    let req = format!("GET /probe HTTP/1.1\r\nHost: {host}\r\nUser-Agent: selftest\r\n\r\n");
    tls.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    match tls.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
        Err(e) => panic!("read: {e}"),
    }
    String::from_utf8(out).unwrap()
}

fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not met in 3 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

const LAB_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

// ---------------------------------------------------------------- TLS tests

#[test]
fn tls_get_through_intermediate() {
    let root = TestCa::new("Lab Root CA");
    let issuing = root.intermediate("Lab Issuing CA");
    let leaf = issuing.leaf(&["svc.lab.test", "127.0.0.2"]);
    assert_eq!(leaf.chain_der.len(), 2);
    assert_eq!(leaf.chain_der[0], leaf.cert_der);
    assert_eq!(leaf.chain_der[1], issuing.cert_der);

    let srv = TlsServer::start(LAB_IP, &leaf, ok_response());
    assert_eq!(srv.addr.ip(), LAB_IP);

    let mut tls = handshake(srv.addr, "svc.lab.test", client_config(&[&root.cert_der])).unwrap();
    assert_eq!(tls.conn.peer_certificates().unwrap().len(), 2);
    let resp = get(&mut tls, "svc.lab.test");
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.contains("\r\nServer: lab\r\n"), "{resp}");
    assert!(resp.contains("\r\nDate: "), "{resp}");
    assert!(resp.contains("\r\nConnection: close\r\n"), "{resp}");
    assert!(resp.ends_with("\r\n\r\nok\n"), "{resp}");

    let reqs = srv.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].starts_with("GET /probe HTTP/1.1\r\n"));
    assert!(reqs[0].contains("\r\nHost: svc.lab.test\r\n"));
    assert!(reqs[0].ends_with("\r\n\r\n"));
    assert_eq!(srv.snis(), vec![Some("svc.lab.test".to_string())]);

    // By IP: the IP SAN matches and no SNI is sent.
    let mut tls = handshake(srv.addr, "127.0.0.2", client_config(&[&root.cert_der])).unwrap();
    assert!(get(&mut tls, "127.0.0.2").starts_with("HTTP/1.1 200 OK"));
    assert_eq!(srv.snis()[1], None);
}

#[test]
fn tls_certificate_failures() {
    let root = TestCa::new_with("Lab Root CA", "Lab Org");
    let other = TestCa::new("Some Other Root");
    let leaf = root.leaf(&["svc.lab.test"]);
    assert_eq!(leaf.chain_der, vec![leaf.cert_der.clone()]);
    let srv = TlsServer::start(LAB_IP, &leaf, ok_response());

    let err = handshake(srv.addr, "svc.lab.test", client_config(&[&other.cert_der])).unwrap_err();
    assert!(matches!(err, rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)), "{err:?}");
    let err = handshake(srv.addr, "wrong.lab.test", client_config(&[&root.cert_der])).unwrap_err();
    assert!(matches!(err, rustls::Error::InvalidCertificate(_)), "{err:?}");
    // SNI recorded even for failed handshakes
    wait_for(|| (srv.snis().len() == 2).then_some(()));
    assert!(srv.requests().is_empty());

    let now = time::OffsetDateTime::now_utc();
    let expired = root.leaf_with(&["old.lab.test"], now - time::Duration::days(100), now - time::Duration::days(10));
    let srv = TlsServer::start(LAB_IP, &expired, ok_response());
    let err = handshake(srv.addr, "old.lab.test", client_config(&[&root.cert_der])).unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired | rustls::CertificateError::ExpiredContext { .. }
            )
        ),
        "{err:?}"
    );

    let selfsigned = self_signed_leaf(&["self.lab.test"]);
    assert_eq!(selfsigned.chain_der.len(), 1);
    let srv = TlsServer::start(LAB_IP, &selfsigned, ok_response());
    let err = handshake(srv.addr, "self.lab.test", client_config(&[&root.cert_der])).unwrap_err();
    assert!(matches!(err, rustls::Error::InvalidCertificate(_)), "{err:?}");
    // ... but trusting the self-signed certificate itself is not enough either
    // (it is not a CA); the lab does not paper over that.
}

#[test]
fn tls_same_port_on_two_ips_and_custom_response() {
    let root = TestCa::new("Lab Root CA");
    let leaf = root.leaf(&["svc.lab.test"]);
    let a = TlsServer::start(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), &leaf, ok_response());
    let b = TlsServer::start_on(
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)), a.addr.port()),
        &leaf,
        HttpBehavior::Respond { status: 404, headers: vec![("X-Test".into(), "b".into())], body: "nope".into() },
    );
    assert_eq!(a.addr.port(), b.addr.port());
    let cfg = client_config(&[&root.cert_der]);
    let mut t = handshake(b.addr, "svc.lab.test", cfg.clone()).unwrap();
    let resp = get(&mut t, "svc.lab.test");
    assert!(resp.starts_with("HTTP/1.1 404 Not Found\r\n"), "{resp}");
    assert!(resp.contains("\r\nX-Test: b\r\n"));
    assert!(resp.contains("\r\nContent-Length: 4\r\n"));
    let mut t = handshake(a.addr, "svc.lab.test", cfg).unwrap();
    assert!(get(&mut t, "svc.lab.test").starts_with("HTTP/1.1 200 OK"));
    assert_eq!(a.requests().len(), 1);
    assert_eq!(b.requests().len(), 1);
}

#[test]
fn tls_never_respond_and_endless_head() {
    let root = TestCa::new("Lab Root CA");
    let leaf = root.leaf(&["svc.lab.test"]);
    let cfg = client_config(&[&root.cert_der]);

    let srv = TlsServer::start(LAB_IP, &leaf, HttpBehavior::NeverRespond);
    let mut t = handshake(srv.addr, "svc.lab.test", cfg.clone()).unwrap();
    t.sock.set_read_timeout(Some(Duration::from_millis(400))).unwrap();
    t.write_all(b"GET / HTTP/1.1\r\nHost: svc.lab.test\r\n\r\n").unwrap();
    let mut buf = [0u8; 64];
    let err = t.read(&mut buf).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err:?}");
    let reqs = wait_for(|| Some(srv.requests()).filter(|r| !r.is_empty()));
    assert!(reqs[0].starts_with("GET / HTTP/1.1"));

    let srv = TlsServer::start(LAB_IP, &leaf, HttpBehavior::EndlessHead);
    let mut t = handshake(srv.addr, "svc.lab.test", cfg).unwrap();
    t.write_all(b"GET / HTTP/1.1\r\nHost: svc.lab.test\r\n\r\n").unwrap();
    let mut got = Vec::new();
    let until = Instant::now() + Duration::from_millis(450);
    t.sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    while Instant::now() < until {
        match t.read(&mut buf) {
            Ok(0) => panic!("EndlessHead closed the connection"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let text = String::from_utf8(got).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.matches("\r\n").count() >= 3, "{text}");
    assert!(!text.contains("\r\n\r\n"), "{text}");
    wait_for(|| (srv.requests().len() == 1).then_some(()));
}

#[test]
fn write_pem_and_dropped_server_stops() {
    let dir = tempfile::tempdir().unwrap();
    let root = TestCa::new("Lab Root CA");
    let path = root.write_pem(dir.path(), "root.pem");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, root.cert_pem);
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----"));

    let srv = TlsServer::start(LAB_IP, &root.leaf(&["svc.lab.test"]), ok_response());
    let addr = srv.addr;
    drop(srv);
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);

    let dns = DnsServer::start(zone());
    let addr = dns.addr;
    drop(dns);
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

// ---------------------------------------------------------------- TCP tests

#[test]
fn tcp_closed_port_is_refused() {
    let addr = closed_port();
    assert!(addr.ip().is_loopback());
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn tcp_silent_server_never_writes() {
    let srv = silent_server();
    let mut s = TcpStream::connect_timeout(&srv.addr, Duration::from_secs(1)).unwrap();
    s.write_all(b"hello").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 16];
    let err = s.read(&mut buf).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err:?}");
    wait_for(|| (srv.connections() == 1).then_some(()));
}

#[test]
fn tcp_reset_server_resets() {
    let srv = reset_server();
    let mut s = TcpStream::connect_timeout(&srv.addr, Duration::from_secs(1)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 16];
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("reset server sent {n} bytes"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e:?}"),
    }
    wait_for(|| (srv.connections() == 1).then_some(()));
}

#[test]
fn tcp_blackhole_connect_times_out() {
    let bh = blackhole();
    assert!(bh.addr.ip().is_loopback());
    let start = Instant::now();
    let err = TcpStream::connect_timeout(&bh.addr, Duration::from_secs(2)).unwrap_err();
    let elapsed = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
}

#[test]
fn tcp_reset_server_resets_tls_handshake() {
    let srv = reset_server();
    let root = TestCa::new("Lab Root CA");
    let cfg = client_config(&[&root.cert_der]);
    let server_name = ServerName::try_from("svc.lab.test".to_string()).unwrap();
    let mut conn = rustls::ClientConnection::new(cfg, server_name).unwrap();
    let mut sock = TcpStream::connect_timeout(&srv.addr, Duration::from_secs(1)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut result = Ok((0, 0));
    while conn.is_handshaking() {
        result = conn.complete_io(&mut sock);
        if result.is_err() {
            break;
        }
    }
    let err = result.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof), "{err:?}");
}

// ---------------------------------------------------------------- proxy helpers

/// One proxy response: status, headers in order, body (framed by
/// Content-Length; empty without it).
#[derive(Debug)]
struct ProxyResponse {
    version: u8,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl ProxyResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }
}

fn proxy_connect(proxy: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&proxy, Duration::from_secs(1)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// `CONNECT target HTTP/1.1` with a Host header and the given extra header lines.
fn connect_head(target: &str, extra: &[&str]) -> String {
    let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Proxy-Authorization: Basic {token}")
}

/// Reads one response head byte by byte (so no tunnel byte is consumed),
/// then its Content-Length body.
fn read_response(s: &mut TcpStream) -> ProxyResponse {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match s.read(&mut byte) {
            Ok(0) => panic!("EOF before the end of the response head: {:?}", String::from_utf8_lossy(&buf)),
            Ok(_) => buf.push(byte[0]),
            Err(e) => panic!("reading response head after {:?}: {e}", String::from_utf8_lossy(&buf)),
        }
        if buf.ends_with(b"\r\n\r\n") {
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    assert!(resp.parse(&buf).unwrap().is_complete(), "{:?}", String::from_utf8_lossy(&buf));
    let headers: Vec<(String, String)> =
        resp.headers.iter().map(|h| (h.name.to_string(), String::from_utf8(h.value.to_vec()).unwrap())).collect();
    let mut out =
        ProxyResponse { version: resp.version.unwrap(), status: resp.code.unwrap(), headers, body: String::new() };
    if let Some(len) = out.header("Content-Length") {
        let mut body = vec![0u8; len.parse().unwrap()];
        s.read_exact(&mut body).unwrap();
        out.body = String::from_utf8(body).unwrap();
    }
    out
}

fn exchange(s: &mut TcpStream, head: &str) -> ProxyResponse {
    s.write_all(head.as_bytes()).unwrap();
    read_response(s)
}

/// The server closes the connection: EOF (or a reset) within 3 s.
fn assert_closed(s: &mut TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("unexpected {n} bytes: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e:?}"),
    }
}

/// HTTPS GET through an established tunnel; returns the response text.
fn tls_get_over(sock: TcpStream, name: &str, root: &TestCa) -> String {
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let conn = rustls::ClientConnection::new(client_config(&[&root.cert_der]), server_name).unwrap();
    let mut tls = handshake_over(sock, conn).unwrap();
    get(&mut tls, name)
}

/// A tinyproxy; when it is not installed, a failure naming the install line, or None (a
/// counted skip) with AZS_TEST_ALLOW_MISSING=1.
fn tinyproxy(basic_auth: Option<(&str, &str)>) -> Option<Tinyproxy> {
    if !common::require("tinyproxy", Tinyproxy::binary().is_some(), common::INSTALL_TINYPROXY) {
        return None;
    }
    let started = Instant::now();
    let proxy = Tinyproxy::start(basic_auth);
    if let Some(p) = &proxy {
        eprintln!("tinyproxy {} up in {:?}", p.url(), started.elapsed());
    }
    proxy
}

// ---------------------------------------------------------------- proxy tests

#[test]
fn proxy_pass_through_tunnels_tls() {
    let root = TestCa::new("Lab Root CA");
    let leaf = root.leaf(&["svc.lab.test", "127.0.0.2"]);
    let srv = TlsServer::start(LAB_IP, &leaf, ok_response());
    let proxy = ConnectProxy::start(ProxyMode::PassThrough);
    assert_eq!(proxy.addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(proxy.url(), format!("http://127.0.0.1:{}", proxy.addr.port()));

    // By IP: the exact 200 line, then TLS + GET over the tunnel.
    let target = srv.addr.to_string();
    let head = connect_head(&target, &["User-Agent: selftest"]);
    let mut s = proxy_connect(proxy.addr);
    s.write_all(head.as_bytes()).unwrap();
    let mut established = [0u8; 39];
    s.read_exact(&mut established).unwrap();
    assert_eq!(&established, b"HTTP/1.1 200 Connection established\r\n\r\n");
    let resp = tls_get_over(s, "127.0.0.2", &root);
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.ends_with("\r\n\r\nok\n"), "{resp}");
    assert_eq!(proxy.requests(), vec![head]);
    assert_eq!(proxy.upstream_connects(), vec![srv.addr]);
    assert_eq!(srv.requests().len(), 1);

    // By name through the proxy's host map, with the ClientHello pipelined
    // right behind the CONNECT head (one write).
    let proxy = ConnectProxy::start_with_hosts(ProxyMode::PassThrough, &[("SVC.lab.test", LAB_IP)]);
    let target = format!("svc.lab.test:{}", srv.addr.port());
    let server_name = ServerName::try_from("svc.lab.test").unwrap();
    let mut conn = rustls::ClientConnection::new(client_config(&[&root.cert_der]), server_name).unwrap();
    let mut bytes = connect_head(&target, &[]).into_bytes();
    let head_len = bytes.len();
    conn.write_tls(&mut bytes).unwrap();
    assert!(bytes.len() > head_len);
    let mut s = proxy_connect(proxy.addr);
    s.write_all(&bytes).unwrap();
    let r = read_response(&mut s);
    assert_eq!((r.version, r.status), (1, 200), "{r:?}");
    assert!(r.headers.is_empty(), "{r:?}");
    let mut tls = handshake_over(s, conn).unwrap();
    assert!(get(&mut tls, "svc.lab.test").starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(proxy.requests(), vec![connect_head(&target, &[])]);
    assert_eq!(proxy.upstream_connects(), vec![srv.addr]);
    assert_eq!(srv.snis().last().cloned(), Some(Some("svc.lab.test".to_string())));
}

#[test]
fn proxy_require_basic() {
    let root = TestCa::new("Lab Root CA");
    let srv = TlsServer::start(LAB_IP, &root.leaf(&["127.0.0.2"]), ok_response());
    let (user, password) = ("lab user", "p@ss:w/rd");
    let proxy = ConnectProxy::start(ProxyMode::RequireBasic { user: user.to_string(), password: password.to_string() });

    // The URL with credentials parses back to the proxy's address.
    let url = url::Url::parse(&proxy.url_with(user, password)).unwrap();
    assert_eq!(url.username(), "lab%20user");
    assert_eq!(url.password(), Some("p%40ss%3Aw%2Frd"));
    assert_eq!(url.host_str(), Some("127.0.0.1"));
    assert_eq!(url.port(), Some(proxy.addr.port()));
    assert_eq!(proxy.url_with(user, password), format!("http://lab%20user:p%40ss%3Aw%2Frd@{}", proxy.addr));

    let target = srv.addr.to_string();
    // No credentials, then wrong ones, then the right ones: one connection
    // (407 keeps it open).
    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &connect_head(&target, &[]));
    assert_eq!(r.status, 407, "{r:?}");
    assert_eq!(r.all("Proxy-Authenticate"), vec!["Basic realm=\"lab\""]);
    assert_eq!(r.header("Server"), Some("lab-proxy"));
    assert_eq!(r.header("Connection"), None);
    let wrong = basic(user, "nope");
    let r = exchange(&mut s, &connect_head(&target, &[&wrong]));
    assert_eq!(r.status, 407, "{r:?}");
    let right = basic(user, password);
    let r = exchange(&mut s, &connect_head(&target, &[&right]));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(tls_get_over(s, "127.0.0.2", &root).starts_with("HTTP/1.1 200 OK\r\n"));

    let reqs = proxy.requests();
    assert_eq!(reqs.len(), 3);
    assert!(!reqs[0].contains("Proxy-Authorization"));
    assert!(reqs[2].contains(&format!("\r\n{right}\r\n")), "{}", reqs[2]);
    assert_eq!(proxy.upstream_connects(), vec![srv.addr]);

    // HTTP/1.0 (or Connection: close) gets a closing 407.
    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &format!("CONNECT {target} HTTP/1.0\r\n\r\n"));
    assert_eq!((r.status, r.header("Connection")), (407, Some("close")), "{r:?}");
    assert_closed(&mut s);
}

#[test]
fn proxy_ntlm_deny_bad_gateway_never_answer() {
    let target = "127.0.0.2:443";

    let proxy = ConnectProxy::start(ProxyMode::NtlmOnly);
    let mut s = proxy_connect(proxy.addr);
    for _ in 0..2 {
        let r = exchange(&mut s, &connect_head(target, &[]));
        assert_eq!(r.status, 407, "{r:?}");
        assert_eq!(r.all("Proxy-Authenticate"), vec!["NTLM", "Negotiate"]);
        assert_eq!(r.header("Server"), Some("lab-proxy"));
    }
    assert_eq!(proxy.requests().len(), 2);

    let proxy = ConnectProxy::start(ProxyMode::Deny);
    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &connect_head(target, &[]));
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.header("Server"), Some("lab-proxy"));
    assert_eq!(r.header("Via"), Some("1.1 lab-proxy"));
    assert_eq!(r.header("Content-Type"), Some("text/html"));
    assert_eq!(r.header("Content-Length"), Some(DENY_BODY.len().to_string().as_str()));
    assert_eq!(r.body, DENY_BODY);
    assert!(r.body.contains("Blocked by lab policy: category Cloud Services"));
    assert_closed(&mut s);

    let proxy = ConnectProxy::start(ProxyMode::BadGateway);
    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &connect_head(target, &[]));
    assert_eq!(r.status, 502, "{r:?}");
    assert_eq!(r.header("Server"), Some("lab-proxy"));
    assert_eq!(r.body, BAD_GATEWAY_BODY);
    assert_closed(&mut s);
    assert!(proxy.upstream_connects().is_empty());

    let proxy = ConnectProxy::start(ProxyMode::NeverAnswer);
    let mut s = proxy_connect(proxy.addr);
    s.write_all(connect_head(target, &[]).as_bytes()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 16];
    let err = s.read(&mut buf).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut), "{err:?}");
    assert_eq!(proxy.requests(), vec![connect_head(target, &[])]);
    assert!(proxy.upstream_connects().is_empty());
}

#[test]
fn proxy_refuses_other_targets_and_methods() {
    let proxy = ConnectProxy::start_with_hosts(ProxyMode::PassThrough, &[("svc.lab.test", LAB_IP)]);
    // Nothing outside 127.0.0.0/8 is ever connected to: TEST-NET-1, IPv6
    // loopback, a name outside the host map.
    for target in
        ["192.0.2.1:443", "[::1]:443", "[2001:db8::1]:443", "login.example.com:443", "127.0.0.1", "127.0.0.1:0"]
    {
        let mut s = proxy_connect(proxy.addr);
        let r = exchange(&mut s, &connect_head(target, &[]));
        assert_eq!(r.status, 403, "{target}: {r:?}");
        assert!(r.header("X-Lab-Proxy-Refused").is_some(), "{target}: {r:?}");
        assert_eq!(r.header("Connection"), Some("close"));
        assert_closed(&mut s);
    }
    assert!(proxy.upstream_connects().is_empty());

    // A loopback target that refuses: 502 from the proxy itself.
    let closed = closed_port();
    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &connect_head(&closed.to_string(), &[]));
    assert_eq!(r.status, 502, "{r:?}");
    assert!(r.body.contains("failed"), "{r:?}");
    assert_eq!(proxy.upstream_connects(), vec![closed]);

    // Not CONNECT: 405.
    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, "GET http://127.0.0.2/ HTTP/1.1\r\nHost: 127.0.0.2\r\n\r\n");
    assert_eq!(r.status, 405, "{r:?}");
    assert_eq!(r.header("Allow"), Some("CONNECT"));
    assert_closed(&mut s);

    // Not HTTP: 400; a head over 64 KiB: 431.
    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, "\u{16}\u{3}\u{1} garbage\r\n\r\n");
    assert_eq!(r.status, 400, "{r:?}");
    let mut s = proxy_connect(proxy.addr);
    let big = format!("X-Pad: {}", "a".repeat(70 * 1024));
    let r = exchange(&mut s, &connect_head("127.0.0.2:443", &[&big]));
    assert_eq!(r.status, 431, "{r:?}");
    assert_eq!(proxy.upstream_connects(), vec![closed]);
}

#[test]
fn tinyproxy_connects_to_lab_tls() {
    let Some(proxy) = tinyproxy(None) else {
        return;
    };
    assert!(proxy.url().starts_with("http://127.0.0.1:"));
    let root = TestCa::new("Lab Root CA");
    let srv = TlsServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), &root.leaf(&["127.0.0.1"]), ok_response());

    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &connect_head(&srv.addr.to_string(), &[]));
    assert_eq!((r.version, r.status), (0, 200), "{r:?}\n{}", proxy.log());
    assert!(r.header("Proxy-agent").is_some_and(|v| v.starts_with("tinyproxy/")), "{r:?}");
    let resp = tls_get_over(s, "127.0.0.1", &root);
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}\n{}", proxy.log());
    assert_eq!(srv.requests().len(), 1);

    // The whitelist filter answers anything but a 127.x literal itself
    // (tested with a name that would resolve to loopback anyway).
    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &connect_head(&format!("localhost:{}", srv.addr.port()), &[]));
    assert_eq!(r.status, 403, "{r:?}\n{}", proxy.log());
    assert_eq!(srv.snis().len(), 1, "{}", proxy.log());
    let log = proxy.log();
    assert!(log.contains("Proxying refused on filtered domain \"localhost\""), "{log}");
    assert_eq!(log.matches("Established connection to host").count(), 1, "{log}");
}

#[test]
fn tinyproxy_basic_auth() {
    let Some(proxy) = tinyproxy(Some(("labuser", "lab-pass.1"))) else {
        return;
    };
    let root = TestCa::new("Lab Root CA");
    let srv = TlsServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), &root.leaf(&["127.0.0.1"]), ok_response());
    let target = srv.addr.to_string();

    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &connect_head(&target, &[]));
    assert_eq!((r.version, r.status), (0, 407), "{r:?}\n{}", proxy.log());
    assert_eq!(r.header("Proxy-Authenticate"), Some("Basic realm=\"Tinyproxy\""), "{r:?}");
    assert_eq!(r.header("Connection"), Some("close"), "{r:?}");

    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &connect_head(&target, &[&basic("labuser", "wrong")]));
    // tinyproxy 1.11 answers wrong credentials with 401 + WWW-Authenticate
    // (not 407): a quirk real clients meet.
    assert_eq!(r.status, 401, "{r:?}\n{}", proxy.log());
    assert!(r.header("WWW-Authenticate").is_some_and(|v| v.starts_with("Basic ")), "{r:?}");
    assert_eq!(srv.snis().len(), 0);

    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &connect_head(&target, &[&basic("labuser", "lab-pass.1")]));
    assert_eq!(r.status, 200, "{r:?}\n{}", proxy.log());
    assert!(tls_get_over(s, "127.0.0.1", &root).starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(proxy.url_with("labuser", "lab-pass.1"), format!("http://labuser:lab-pass.1@{}", proxy.addr));
}

// ---------------------------------------------------------------- MITM helpers

/// The certificate the server presented first (the leaf).
fn peer_leaf(tls: &rustls::StreamOwned<rustls::ClientConnection, TcpStream>) -> Vec<u8> {
    tls.conn.peer_certificates().unwrap()[0].to_vec()
}

/// (issuer CN, issuer O, SANs as strings, not_before, not_after, has an SCT
/// list extension) of a DER certificate.
struct CertFacts {
    issuer_cn: String,
    issuer_o: String,
    sans: Vec<String>,
    not_before: i64,
    not_after: i64,
    has_scts: bool,
    signature_oid: String,
}

fn cert_facts(der: &[u8]) -> CertFacts {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue>| {
        it.next().map(|a| a.as_str().unwrap().to_string()).unwrap_or_default()
    };
    let sans = cert
        .subject_alternative_name()
        .unwrap()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .map(|n| match n {
                    GeneralName::DNSName(d) => d.to_string(),
                    GeneralName::IPAddress(b) if b.len() == 4 => Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string(),
                    other => format!("{other:?}"),
                })
                .collect()
        })
        .unwrap_or_default();
    CertFacts {
        issuer_cn: first(&mut cert.issuer().iter_common_name()),
        issuer_o: first(&mut cert.issuer().iter_organization()),
        sans,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        has_scts: cert.extensions().iter().any(|e| e.oid.to_id_string() == "1.3.6.1.4.1.11129.2.4.2"),
        signature_oid: cert.signature_algorithm.algorithm.to_id_string(),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The value of header `name` in a raw HTTP response.
fn header_of<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    let head = resp.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

fn zscaler_ca() -> TestCa {
    TestCa::new_with("Zscaler Intermediate Root CA", "Zscaler Inc.")
}

// ---------------------------------------------------------------- MITM tests

#[test]
fn mitm_explicit_mints_leaves_and_answers() {
    let mitm_ca = zscaler_ca();
    let upstream_ca = TestCa::new("Lab Upstream Root");
    let headers = vec![("Via".to_string(), "1.1 inspect".to_string())];
    let proxy = MitmProxy::explicit(&mitm_ca, Upstream::Answer { headers });
    assert_eq!(proxy.addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(proxy.url(), format!("http://127.0.0.1:{}", proxy.addr.port()));
    assert_eq!(proxy.ca_pem(), mitm_ca.cert_pem);

    // CONNECT by name: the leaf is minted for the SNI.
    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &connect_head("login.lab.test:443", &[]));
    assert_eq!((r.version, r.status), (1, 200), "{r:?}");
    let server_name = ServerName::try_from("login.lab.test").unwrap();
    let conn = rustls::ClientConnection::new(client_config(&[&mitm_ca.cert_der]), server_name).unwrap();
    let mut tls = handshake_over(s, conn).unwrap();
    let leaf = peer_leaf(&tls);
    let resp = get(&mut tls, "login.lab.test");
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert_eq!(header_of(&resp, "Server"), Some("upstream-via-mitm"), "{resp}");
    assert_eq!(header_of(&resp, "Via"), Some("1.1 inspect"), "{resp}");
    let date = httpdate::parse_http_date(header_of(&resp, "Date").unwrap()).unwrap();
    let age = std::time::SystemTime::now().duration_since(date).unwrap_or_default();
    assert!(age < Duration::from_secs(5), "{resp}");
    assert!(resp.ends_with("\r\n\r\nok\n"), "{resp}");

    let facts = cert_facts(&leaf);
    assert_eq!(facts.issuer_cn, "Zscaler Intermediate Root CA");
    assert_eq!(facts.issuer_o, "Zscaler Inc.");
    assert_eq!(facts.sans, vec!["login.lab.test".to_string()]);
    assert!(!facts.has_scts);
    let now = unix_now();
    assert!((now - 120..=now - 55).contains(&facts.not_before), "minted ~1 minute ago: {}", now - facts.not_before);
    assert!((facts.not_after - now - 30 * 86400).abs() < 120, "valid 30 days");
    assert_eq!(proxy.minted(), vec!["login.lab.test".to_string()]);
    assert_eq!(proxy.connect_requests(), vec![connect_head("login.lab.test:443", &[])]);
    assert!(proxy.requests()[0].starts_with("GET /probe HTTP/1.1\r\n"));

    // Same name again, with the ClientHello pipelined behind the CONNECT
    // head: the cached leaf. A client trusting only the real upstream's CA
    // sees an unknown issuer.
    let server_name = ServerName::try_from("LOGIN.lab.test").unwrap();
    let mut conn = rustls::ClientConnection::new(client_config(&[&upstream_ca.cert_der]), server_name).unwrap();
    let mut bytes = connect_head("login.lab.test:443", &[]).into_bytes();
    conn.write_tls(&mut bytes).unwrap();
    let mut s = proxy_connect(proxy.addr);
    s.write_all(&bytes).unwrap();
    assert_eq!(read_response(&mut s).status, 200);
    let err = handshake_over(s, conn).unwrap_err();
    assert!(matches!(err, rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)), "{err:?}");
    assert_eq!(proxy.minted(), vec!["login.lab.test".to_string()]);

    // By IP: no SNI, the leaf carries the CONNECT target as an IP SAN.
    let mut s = proxy_connect(proxy.addr);
    assert_eq!(exchange(&mut s, &connect_head("127.0.0.9:8443", &[])).status, 200);
    let server_name = ServerName::try_from("127.0.0.9").unwrap();
    let conn = rustls::ClientConnection::new(client_config(&[&mitm_ca.cert_der]), server_name).unwrap();
    let mut tls = handshake_over(s, conn).unwrap();
    assert_eq!(cert_facts(&peer_leaf(&tls)).sans, vec!["127.0.0.9".to_string()]);
    assert!(get(&mut tls, "127.0.0.9").starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(proxy.minted(), vec!["login.lab.test".to_string(), "127.0.0.9".to_string()]);

    // Not CONNECT: 405; a target without a port: 400.
    let mut s = proxy_connect(proxy.addr);
    assert_eq!(exchange(&mut s, "GET http://127.0.0.2/ HTTP/1.1\r\nHost: 127.0.0.2\r\n\r\n").status, 405);
    let mut s = proxy_connect(proxy.addr);
    assert_eq!(exchange(&mut s, "CONNECT login.lab.test HTTP/1.1\r\n\r\n").status, 400);
}

#[test]
fn mitm_forwards_to_the_real_upstream() {
    let mitm_ca = zscaler_ca();
    let upstream_ca = TestCa::new("Lab Upstream Root");
    let upstream = TlsServer::start(
        LAB_IP,
        &upstream_ca.leaf(&["svc.lab.test", "127.0.0.2"]),
        HttpBehavior::Respond {
            status: 200,
            headers: vec![("Server".into(), "real-upstream".into()), ("Date".into(), NOW.into())],
            body: "from upstream\n".into(),
        },
    );

    // Transparent: the endpoint's name points at the MITM.
    let mitm =
        MitmProxy::transparent(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)), &mitm_ca, Upstream::Forward(upstream.addr));
    assert_eq!(mitm.addr.ip(), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
    let mut tls = handshake(mitm.addr, "svc.lab.test", client_config(&[&mitm_ca.cert_der])).unwrap();
    let facts = cert_facts(&peer_leaf(&tls));
    assert_eq!(
        (facts.issuer_cn.as_str(), facts.sans.clone()),
        ("Zscaler Intermediate Root CA", vec!["svc.lab.test".into()])
    );
    let resp = get(&mut tls, "svc.lab.test");
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert_eq!(header_of(&resp, "Server"), Some("real-upstream"), "{resp}");
    assert!(resp.ends_with("\r\n\r\nfrom upstream\n"), "{resp}");
    let reqs = upstream.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].starts_with("GET /probe HTTP/1.1\r\nHost: svc.lab.test\r\n"), "{}", reqs[0]);
    assert!(reqs[0].ends_with("\r\nConnection: close\r\n\r\n"), "{}", reqs[0]);
    assert_eq!(upstream.snis(), vec![Some("svc.lab.test".to_string())]);

    // Trusting only the real upstream's CA: unknown issuer. Without SNI the
    // leaf is minted for the listener's IP.
    let err = handshake(mitm.addr, "svc.lab.test", client_config(&[&upstream_ca.cert_der])).unwrap_err();
    assert!(matches!(err, rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)), "{err:?}");
    let mut tls = handshake(mitm.addr, "127.0.0.3", client_config(&[&mitm_ca.cert_der])).unwrap();
    assert!(get(&mut tls, "127.0.0.3").contains("from upstream"));
    assert_eq!(mitm.minted(), vec!["svc.lab.test".to_string(), "127.0.0.3".to_string()]);
    assert_eq!(upstream.snis().last().cloned(), Some(None));

    // Explicit + Forward.
    let proxy = MitmProxy::explicit(&mitm_ca, Upstream::Forward(upstream.addr));
    let mut s = proxy_connect(proxy.addr);
    assert_eq!(exchange(&mut s, &connect_head("svc.lab.test:443", &[])).status, 200);
    let resp = tls_get_over(s, "svc.lab.test", &mitm_ca);
    assert!(resp.contains("\r\nServer: real-upstream\r\n"), "{resp}");
    assert_eq!(proxy.minted(), vec!["svc.lab.test".to_string()]);

    // An upstream that is down: 502 from the MITM, over the client's TLS.
    let proxy = MitmProxy::transparent(LAB_IP, &mitm_ca, Upstream::Forward(closed_port()));
    let mut tls = handshake(proxy.addr, "svc.lab.test", client_config(&[&mitm_ca.cert_der])).unwrap();
    let resp = get(&mut tls, "svc.lab.test");
    assert!(resp.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{resp}");
    assert_eq!(header_of(&resp, "Server"), Some("lab-mitm"), "{resp}");
}

#[test]
fn ok_response_dates_each_response() {
    let root = TestCa::new("Lab Root CA");
    let srv = TlsServer::start(LAB_IP, &root.leaf(&["svc.lab.test"]), ok_response());
    // The first response is older than the second by at least a second.
    let date = |srv: &TlsServer| {
        let mut tls = handshake(srv.addr, "svc.lab.test", client_config(&[&root.cert_der])).unwrap();
        let resp = get(&mut tls, "svc.lab.test");
        httpdate::parse_http_date(header_of(&resp, "Date").unwrap()).unwrap()
    };
    let first = date(&srv);
    std::thread::sleep(Duration::from_millis(1100));
    let second = date(&srv);
    assert!(second > first, "{first:?} then {second:?}");
}

// ---------------------------------------------------------------- mitmproxy

/// A mitmdump; when it is not installed, a failure naming the install line, or None (a
/// counted skip) with AZS_TEST_ALLOW_MISSING=1.
fn mitmproxy(ca: Option<&TestCa>) -> Option<Mitmproxy> {
    if !common::require("mitmdump", Mitmproxy::binary().is_some(), common::INSTALL_MITMPROXY) {
        return None;
    }
    let started = Instant::now();
    let proxy = match ca {
        Some(ca) => Mitmproxy::start_with_ca(ca),
        None => Mitmproxy::start(),
    };
    match &proxy {
        Some(p) => eprintln!("mitmdump {} up in {:?}", p.url(), started.elapsed()),
        None => {
            panic!("mitmdump is installed but did not start");
        }
    }
    proxy
}

#[test]
fn mitmproxy_resigns_lab_tls() {
    let Some(proxy) = mitmproxy(None) else {
        return;
    };
    assert!(proxy.url().starts_with("http://127.0.0.1:"));
    let mitm_ca = CertificateDer::from_pem_file(proxy.ca_pem_path()).unwrap().to_vec();
    assert_eq!(proxy.ca_pem(), std::fs::read_to_string(proxy.ca_pem_path()).unwrap());
    let root = TestCa::new("Lab Root CA");
    let srv = TlsServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), &root.leaf(&["127.0.0.1"]), ok_response());
    let target = srv.addr.to_string();

    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, &connect_head(&target, &[]));
    assert_eq!(r.status, 200, "{r:?}\n{}", proxy.log());
    let server_name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(client_config(&[&mitm_ca]), server_name).unwrap();
    let mut tls = handshake_over(s, conn).unwrap_or_else(|e| panic!("{e:?}\n{}", proxy.log()));
    let facts = cert_facts(&peer_leaf(&tls));
    assert_eq!((facts.issuer_cn.as_str(), facts.issuer_o.as_str()), ("mitmproxy", "mitmproxy"));
    assert!(facts.sans.contains(&"127.0.0.1".to_string()), "{:?}", facts.sans);
    assert!(!facts.has_scts);
    let resp = get(&mut tls, "127.0.0.1");
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}\n{}", proxy.log());
    assert_eq!(header_of(&resp, "Server"), Some("lab"), "{resp}");
    assert_eq!(srv.requests().len(), 1, "{}", proxy.log());

    // Trusting only the lab root: mitmproxy's leaf is an unknown issuer.
    let mut s = proxy_connect(proxy.addr);
    assert_eq!(exchange(&mut s, &connect_head(&target, &[])).status, 200);
    let conn = rustls::ClientConnection::new(client_config(&[&root.cert_der]), server_name_of("127.0.0.1")).unwrap();
    let err = handshake_over(s, conn).unwrap_err();
    assert!(matches!(err, rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)), "{err:?}");

    // The loopback guard: anything but a 127.x literal is refused up front.
    for target in ["example.com:443", "192.0.2.1:443", "localhost:443"] {
        let mut s = proxy_connect(proxy.addr);
        let r = exchange(&mut s, &connect_head(target, &[]));
        assert_eq!(r.status, 403, "{target}: {r:?}\n{}", proxy.log());
        assert!(r.header("X-Lab-Refused").is_some(), "{r:?}");
    }
    let mut s = proxy_connect(proxy.addr);
    let r = exchange(&mut s, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(r.status, 502, "{r:?}");
    assert!(r.body.contains("lab guard"), "{r:?}");
    assert!(proxy.log().contains("lab guard: refusing server connection to ('example.com', 80)"), "{}", proxy.log());
}

#[test]
fn mitmproxy_with_a_product_ca() {
    let ca = zscaler_ca();
    let Some(proxy) = mitmproxy(Some(&ca)) else {
        return;
    };
    assert_eq!(proxy.ca_pem(), ca.cert_pem);
    let root = TestCa::new("Lab Root CA");
    let srv =
        TlsServer::start(IpAddr::V4(Ipv4Addr::LOCALHOST), &root.leaf(&["svc.lab.test", "127.0.0.1"]), ok_response());
    let mut s = proxy_connect(proxy.addr);
    assert_eq!(exchange(&mut s, &connect_head(&srv.addr.to_string(), &[])).status, 200, "{}", proxy.log());
    let conn = rustls::ClientConnection::new(client_config(&[&ca.cert_der]), server_name_of("svc.lab.test")).unwrap();
    let mut tls = handshake_over(s, conn).unwrap_or_else(|e| panic!("{e:?}\n{}", proxy.log()));
    let facts = cert_facts(&peer_leaf(&tls));
    assert_eq!((facts.issuer_cn.as_str(), facts.issuer_o.as_str()), ("Zscaler Intermediate Root CA", "Zscaler Inc."));
    assert!(facts.sans.contains(&"svc.lab.test".to_string()), "{:?}", facts.sans);
    assert!(get(&mut tls, "svc.lab.test").starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(srv.snis(), vec![Some("svc.lab.test".to_string())], "{}", proxy.log());
}

fn server_name_of(name: &str) -> ServerName<'static> {
    ServerName::try_from(name.to_string()).unwrap()
}

// ---------------------------------------------------------------- legacy (openssl CLI)

/// `openssl` present; when it is not, a failure naming the install line, or false (a counted
/// skip) with AZS_TEST_ALLOW_MISSING=1.
fn have_openssl() -> bool {
    common::require("openssl", openssl_binary().is_some(), common::INSTALL_OPENSSL)
}

/// `openssl s_client` to `addr` with extra arguments and no input; (exit
/// success, stdout + stderr).
fn s_client(addr: SocketAddr, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(openssl_binary().unwrap())
        .arg("s_client")
        .arg("-connect")
        .arg(addr.to_string())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn legacy_tls10_only_server() {
    if !have_openssl() {
        return;
    }
    let started = Instant::now();
    let srv = tls10_only_server().unwrap();
    eprintln!("s_server {} up in {:?}", srv.addr, started.elapsed());
    assert_eq!(srv.addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    let ca = srv.ca_pem.clone().unwrap();
    let ca_der = CertificateDer::from_pem_slice(ca.as_bytes()).unwrap().to_vec();

    // rustls offers TLS 1.2 and 1.3 only (supported_versions): s_server
    // finds no common version and answers with a protocol_version alert.
    let err = handshake(srv.addr, "legacy.lab.test", client_config(&[&ca_der])).unwrap_err();
    assert_eq!(err, rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion), "{err:?}");
    wait_for(|| srv.log().contains("unsupported protocol").then_some(()));

    // openssl's own client gets through with TLS 1.0 (at SECLEVEL=0) ...
    let (ok, out) = s_client(srv.addr, &["-tls1", "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "legacy.lab.test"]);
    assert!(ok, "{out}\n{}", srv.log());
    assert!(out.contains("Protocol  : TLSv1\n"), "{out}");
    assert!(out.contains("CN = legacy.lab.test"), "{out}");
    // ... but not with TLS 1.2.
    let (ok, out) = s_client(srv.addr, &["-tls1_2"]);
    assert!(!ok, "{out}");
    assert!(out.contains("unsupported protocol") || out.contains("wrong version number"), "{out}");

    let addr = srv.addr;
    drop(srv);
    let err = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn legacy_sha1_leaf() {
    if !have_openssl() {
        return;
    }
    let started = Instant::now();
    let pki = sha1_pki(&["sha1.lab.test", "127.0.0.2"]).unwrap();
    eprintln!("SHA-1 PKI made in {:?}", started.elapsed());
    let leaf = cert_facts(&pki.leaf.cert_der);
    assert_eq!(leaf.signature_oid, "1.2.840.113549.1.1.5", "sha1WithRSAEncryption");
    assert_eq!(leaf.issuer_cn, "Lab SHA-1 Root CA");
    assert_eq!(leaf.sans, vec!["sha1.lab.test".to_string(), "127.0.0.2".to_string()]);
    assert_eq!(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap().to_vec(), pki.ca_der);
    assert_eq!(pki.leaf.chain_der, vec![pki.leaf.cert_der.clone()]);

    // The rustls server serves it (the handshake signature is SHA-256) ...
    let srv = TlsServer::start(LAB_IP, &pki.leaf, ok_response());
    let mut tls = handshake(srv.addr, "sha1.lab.test", insecure_client_config()).unwrap();
    assert_eq!(peer_leaf(&tls), pki.leaf.cert_der);
    assert!(get(&mut tls, "sha1.lab.test").starts_with("HTTP/1.1 200 OK\r\n"));
    // ... and webpki refuses to verify a SHA-1 signature even from a trusted CA.
    let err = handshake(srv.addr, "sha1.lab.test", client_config(&[&pki.ca_der])).unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnsupportedSignatureAlgorithmContext { .. })
        ),
        "{err:?}"
    );
}
