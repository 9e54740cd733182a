//! Self-tests of the in-process lab (tests/lab/): every server is exercised
//! directly, without the azs-netprobe binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
use rustls::pki_types::{CertificateDer, ServerName};

// ---------------------------------------------------------------- DNS helpers

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
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
        r.lookup(name, rtype)
            .await
            .map(|l| l.answers().iter().map(|rec| rec.data.clone()).collect())
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
        (
            "a.lab.test",
            DnsAnswer::A(vec![
                Ipv4Addr::new(127, 0, 0, 2),
                Ipv4Addr::new(127, 0, 0, 3),
            ]),
        ),
        ("v6.lab.test.", DnsAnswer::Aaaa(vec![Ipv6Addr::LOCALHOST])),
        (
            "Both.Lab.Test",
            DnsAnswer::Ips(vec![
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]),
        ),
        ("alias.lab.test", DnsAnswer::Cname("mid.lab.test".into())),
        ("mid.lab.test", DnsAnswer::Cname("A.LAB.TEST.".into())),
        (
            "dangling.lab.test",
            DnsAnswer::Cname("gone.lab.test".into()),
        ),
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
    assert_eq!(
        a,
        vec![
            RData::A(Ipv4Addr::new(127, 0, 0, 2).into()),
            RData::A(Ipv4Addr::new(127, 0, 0, 3).into())
        ]
    );
    let v6 = lookup(&dns, "V6.lab.test.", RecordType::AAAA).unwrap();
    assert_eq!(v6, vec![RData::AAAA(Ipv6Addr::LOCALHOST.into())]);

    let both4 = lookup(&dns, "both.lab.test.", RecordType::A).unwrap();
    assert_eq!(both4, vec![RData::A(Ipv4Addr::new(127, 0, 0, 4).into())]);
    let both6 = lookup(&dns, "both.lab.test.", RecordType::AAAA).unwrap();
    assert_eq!(both6, vec![RData::AAAA(Ipv6Addr::LOCALHOST.into())]);

    // lookup_ip (A + AAAA) through the resolver
    let ips: Vec<IpAddr> = rt().block_on(async {
        let r = resolver(dns.addr, Duration::from_secs(2));
        r.lookup_ip("both.lab.test.")
            .await
            .unwrap()
            .iter()
            .collect()
    });
    assert!(
        ips.contains(&IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4))),
        "{ips:?}"
    );

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
    assert_eq!(
        types,
        vec![
            RecordType::CNAME,
            RecordType::CNAME,
            RecordType::A,
            RecordType::A
        ]
    );
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
        r.lookup_ip("alias.lab.test.")
            .await
            .unwrap()
            .iter()
            .collect()
    });
    assert_eq!(
        ips,
        vec![
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))
        ]
    );
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
    assert!(
        matches!(err, NetError::Timeout) || err.to_string().contains("timed out"),
        "{err:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(dns.queries() >= 1);
}

// ---------------------------------------------------------------- TLS helpers

fn client_config(roots_der: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for der in roots_der {
        roots.add(CertificateDer::from(der.to_vec())).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
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
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let mut conn = rustls::ClientConnection::new(config, server_name).unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
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
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ),
        "{err:?}"
    );
    let err = handshake(srv.addr, "wrong.lab.test", client_config(&[&root.cert_der])).unwrap_err();
    assert!(
        matches!(err, rustls::Error::InvalidCertificate(_)),
        "{err:?}"
    );
    // SNI recorded even for failed handshakes
    wait_for(|| (srv.snis().len() == 2).then_some(()));
    assert!(srv.requests().is_empty());

    let now = time::OffsetDateTime::now_utc();
    let expired = root.leaf_with(
        &["old.lab.test"],
        now - time::Duration::days(100),
        now - time::Duration::days(10),
    );
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
    assert!(
        matches!(err, rustls::Error::InvalidCertificate(_)),
        "{err:?}"
    );
    // ... but trusting the self-signed certificate itself is not enough either
    // (it is not a CA); the lab does not paper over that.
}

#[test]
fn tls_same_port_on_two_ips_and_custom_response() {
    let root = TestCa::new("Lab Root CA");
    let leaf = root.leaf(&["svc.lab.test"]);
    let a = TlsServer::start(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        &leaf,
        ok_response(),
    );
    let b = TlsServer::start_on(
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)), a.addr.port()),
        &leaf,
        HttpBehavior::Respond {
            status: 404,
            headers: vec![("X-Test".into(), "b".into())],
            body: "nope".into(),
        },
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
    t.sock
        .set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    t.write_all(b"GET / HTTP/1.1\r\nHost: svc.lab.test\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let err = t.read(&mut buf).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );
    let reqs = wait_for(|| Some(srv.requests()).filter(|r| !r.is_empty()));
    assert!(reqs[0].starts_with("GET / HTTP/1.1"));

    let srv = TlsServer::start(LAB_IP, &leaf, HttpBehavior::EndlessHead);
    let mut t = handshake(srv.addr, "svc.lab.test", cfg).unwrap();
    t.write_all(b"GET / HTTP/1.1\r\nHost: svc.lab.test\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let until = Instant::now() + Duration::from_millis(450);
    t.sock
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
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
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 16];
    let err = s.read(&mut buf).unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err:?}"
    );
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
    assert!(
        matches!(
            err.kind(),
            ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof
        ),
        "{err:?}"
    );
}
