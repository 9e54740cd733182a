//! A tiny recursive-resolver look-alike serving a fixed zone over UDP and TCP
//! on the same 127.0.0.1 port. Messages are built with hickory-proto.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Background;

/// TTL of every record served.
const TTL: u32 = 60;
/// Longest CNAME chain followed before answering SERVFAIL.
const MAX_CHAIN: usize = 16;

/// What the server answers for one name.
#[derive(Clone, Debug)]
pub enum DnsAnswer {
    A(Vec<Ipv4Addr>),
    Aaaa(Vec<Ipv6Addr>),
    /// A and AAAA records, by family.
    Ips(Vec<IpAddr>),
    /// An alias to the target name, chased inside the zone.
    Cname(String),
    NxDomain,
    ServFail,
    Refused,
    /// Never reply.
    Silence,
    /// NOERROR with an empty answer section.
    NoData,
}

/// A DNS server on 127.0.0.1:<port> (UDP and TCP).
pub struct DnsServer {
    pub addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<String>>>,
    _bg: Background,
}

type Zone = HashMap<String, DnsAnswer>;

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn fqdn(name: &str) -> Name {
    let mut n =
        Name::from_ascii(name.trim_end_matches('.')).unwrap_or_else(|e| panic!("invalid DNS name {name:?}: {e}"));
    n.set_fqdn(true);
    n
}

impl DnsServer {
    /// Starts the server. Names are case-insensitive, with or without a
    /// trailing dot. Returns once both sockets are bound.
    pub fn start(zone: Vec<(&str, DnsAnswer)>) -> DnsServer {
        let zone: Zone = zone
            .into_iter()
            .map(|(name, answer)| {
                // Validate early so that a bad test zone fails loudly.
                let _ = fqdn(name);
                if let DnsAnswer::Cname(target) = &answer {
                    let _ = fqdn(target);
                }
                (normalize(name), answer)
            })
            .collect();
        let zone = Arc::new(zone);

        let (udp, tcp) = bind_same_port();
        let addr = udp.local_addr().expect("udp local addr");
        let bg = Background::new("dns");
        let queries = Arc::new(AtomicUsize::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        {
            let _guard = bg.runtime().enter();
            let udp = tokio::net::UdpSocket::from_std(udp).expect("tokio udp");
            let tcp = tokio::net::TcpListener::from_std(tcp).expect("tokio tcp");
            let state = Arc::new(State { zone, queries: queries.clone(), log: log.clone() });
            bg.runtime().spawn(serve_udp(udp, state.clone()));
            bg.runtime().spawn(serve_tcp(tcp, state));
        }
        DnsServer { addr, queries, log, _bg: bg }
    }

    /// Number of queries received (UDP and TCP, including unanswered ones).
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::SeqCst)
    }

    /// The queries received, as "name TYPE" (name lower-cased, no trailing dot).
    pub fn query_log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn bind_same_port() -> (std::net::UdpSocket, std::net::TcpListener) {
    for _ in 0..50 {
        let udp = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind udp");
        let port = udp.local_addr().expect("udp addr").port();
        if let Ok(tcp) = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            udp.set_nonblocking(true).expect("nonblocking udp");
            tcp.set_nonblocking(true).expect("nonblocking tcp");
            return (udp, tcp);
        }
    }
    panic!("could not bind UDP and TCP on the same loopback port");
}

struct State {
    zone: Arc<Zone>,
    queries: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<String>>>,
}

async fn serve_udp(sock: tokio::net::UdpSocket, state: Arc<State>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        if let Some(reply) = handle(&state, &buf[..n], true) {
            let _ = sock.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(listener: tokio::net::TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(serve_tcp_conn(stream, state.clone()));
    }
}

async fn serve_tcp_conn(mut stream: tokio::net::TcpStream, state: Arc<State>) {
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut msg).await.is_err() {
            return;
        }
        if let Some(reply) = handle(&state, &msg, false) {
            let Ok(len) = u16::try_from(reply.len()) else {
                return;
            };
            let mut framed = Vec::with_capacity(reply.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&reply);
            if stream.write_all(&framed).await.is_err() {
                return;
            }
        }
    }
}

/// Decodes one query and encodes the reply; `None` means "do not reply".
fn handle(state: &State, bytes: &[u8], udp: bool) -> Option<Vec<u8>> {
    let request = Message::from_vec(bytes).ok()?;
    if request.metadata.message_type != MessageType::Query {
        return None;
    }
    state.queries.fetch_add(1, Ordering::SeqCst);

    let mut response = Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
    response.metadata = Metadata::response_from_request(&request.metadata);
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.iter().cloned());
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        response.set_edns(edns);
    }

    let query = match (request.metadata.op_code, request.queries.first()) {
        (OpCode::Query, Some(q)) if request.queries.len() == 1 => q.clone(),
        (OpCode::Query, _) => {
            response.metadata.response_code = ResponseCode::FormErr;
            return response.to_vec().ok();
        }
        _ => {
            response.metadata.response_code = ResponseCode::NotImp;
            return response.to_vec().ok();
        }
    };
    state.log.lock().unwrap().push(format!("{} {}", normalize(&query.name().to_ascii()), query.query_type()));

    let (rcode, answers) = resolve(&state.zone, query.name(), query.query_type())?;
    response.metadata.response_code = rcode;
    response.metadata.authoritative = matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain);
    response.add_answers(answers);

    let mut bytes = response.to_vec().ok()?;
    if udp {
        let limit = request.edns.as_ref().map_or(512, |e| usize::from(e.max_payload()).max(512));
        if bytes.len() > limit {
            response.answers.clear();
            response.authorities.clear();
            response.additionals.clear();
            response.metadata.truncation = true;
            bytes = response.to_vec().ok()?;
        }
    }
    Some(bytes)
}

/// Answers `qname`/`qtype` from the zone, chasing CNAMEs; `None` = silence.
fn resolve(zone: &Zone, qname: &Name, qtype: RecordType) -> Option<(ResponseCode, Vec<Record>)> {
    let mut answers = Vec::new();
    let mut name = qname.clone();
    for _ in 0..MAX_CHAIN {
        let Some(entry) = zone.get(&normalize(&name.to_ascii())) else {
            return Some((ResponseCode::NXDomain, answers));
        };
        let wants_a = matches!(qtype, RecordType::A | RecordType::ANY);
        let wants_aaaa = matches!(qtype, RecordType::AAAA | RecordType::ANY);
        match entry {
            DnsAnswer::A(ips) => {
                if wants_a {
                    answers.extend(ips.iter().map(|ip| record(&name, RData::A(A(*ip)))));
                }
                return Some((ResponseCode::NoError, answers));
            }
            DnsAnswer::Aaaa(ips) => {
                if wants_aaaa {
                    answers.extend(ips.iter().map(|ip| record(&name, RData::AAAA(AAAA(*ip)))));
                }
                return Some((ResponseCode::NoError, answers));
            }
            DnsAnswer::Ips(ips) => {
                for ip in ips {
                    match ip {
                        IpAddr::V4(v4) if wants_a => {
                            answers.push(record(&name, RData::A(A(*v4))));
                        }
                        IpAddr::V6(v6) if wants_aaaa => {
                            answers.push(record(&name, RData::AAAA(AAAA(*v6))));
                        }
                        _ => {}
                    }
                }
                return Some((ResponseCode::NoError, answers));
            }
            DnsAnswer::Cname(target) => {
                let target = fqdn(target);
                answers.push(record(&name, RData::CNAME(CNAME(target.clone()))));
                if qtype == RecordType::CNAME {
                    return Some((ResponseCode::NoError, answers));
                }
                name = target;
            }
            DnsAnswer::NxDomain => return Some((ResponseCode::NXDomain, answers)),
            DnsAnswer::ServFail => return Some((ResponseCode::ServFail, Vec::new())),
            DnsAnswer::Refused => return Some((ResponseCode::Refused, Vec::new())),
            DnsAnswer::Silence => return None,
            DnsAnswer::NoData => return Some((ResponseCode::NoError, answers)),
        }
    }
    Some((ResponseCode::ServFail, Vec::new()))
}

fn record(name: &Name, data: RData) -> Record {
    Record::from_rdata(name.clone(), TTL, data)
}
