//! A tiny recursive-resolver look-alike serving a fixed zone over UDP and TCP
//! on the same 127.0.0.1 port. Messages are built with hickory-proto.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Over UDP: NOERROR with the TC (truncated) bit set and no records, which tells the
    /// client to retry over TCP; over TCP: the [`TcpFault`].
    Truncated(TcpFault),
    /// Not a DNS message: the query's id, the flags of a NOERROR response (QR, RD, RA), then
    /// pseudo-random bytes that claim 65280+ questions (so no decoder can read them); over UDP
    /// and TCP.
    Garbage,
    /// A NOERROR answer with one A record (127.0.0.1) whose RDLENGTH claims 65535 bytes of
    /// RDATA where the message holds 4 (no EDNS record follows it); over UDP and TCP.
    LyingRdLength,
    /// A CNAME loop in one answer: `name CNAME target` and `target CNAME name`, NOERROR, no
    /// address (the target need not be in the zone).
    CnameLoop(String),
    /// The inner answer, `delay` after the query arrived (UDP: other queries are answered
    /// meanwhile; TCP: later queries on the same connection wait their turn).
    Delayed(Duration, Box<DnsAnswer>),
}

/// What a [`DnsAnswer::Truncated`] name gets over TCP, after the truncated UDP answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpFault {
    /// Reads the query and closes the connection without a reply.
    Close,
    /// Writes the 2-byte length of a complete answer (A 127.0.0.1) but only the first half
    /// of the message, then closes the connection.
    Cut,
    /// The same truncated answer again (TC bit set, no records) over TCP.
    TruncatedAgain,
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
        let (udp, tcp) = bind_same_port();
        DnsServer::start_bound(zone, udp, tcp)
    }

    /// Starts the server on a fixed loopback address and port (UDP and TCP), e.g.
    /// `127.83.0.1:53` for a resolv.conf that cannot name a port. Panics when either bind fails.
    pub fn start_on(addr: SocketAddr, zone: Vec<(&str, DnsAnswer)>) -> DnsServer {
        assert!(addr.ip().is_loopback(), "lab servers listen on loopback only: {addr}");
        let udp = std::net::UdpSocket::bind(addr).unwrap_or_else(|e| panic!("bind udp {addr}: {e}"));
        let tcp = std::net::TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind tcp {addr}: {e}"));
        udp.set_nonblocking(true).expect("nonblocking udp");
        tcp.set_nonblocking(true).expect("nonblocking tcp");
        DnsServer::start_bound(zone, udp, tcp)
    }

    fn start_bound(zone: Vec<(&str, DnsAnswer)>, udp: std::net::UdpSocket, tcp: std::net::TcpListener) -> DnsServer {
        let zone: Zone = zone
            .into_iter()
            .map(|(name, answer)| {
                // Validate early so that a bad test zone fails loudly.
                let _ = fqdn(name);
                let mut inner = &answer;
                while let DnsAnswer::Delayed(_, next) = inner {
                    inner = next;
                }
                if let DnsAnswer::Cname(target) | DnsAnswer::CnameLoop(target) = inner {
                    let _ = fqdn(target);
                }
                (normalize(name), answer)
            })
            .collect();
        let zone = Arc::new(zone);

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
    let sock = Arc::new(sock);
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let delay = delay_of(&state, &buf[..n]);
        // Over UDP a connection fault means no reply.
        if let Reply::Message(reply) = handle(&state, &buf[..n], true) {
            if delay.is_zero() {
                let _ = sock.send_to(&reply, peer).await;
            } else {
                let sock = sock.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = sock.send_to(&reply, peer).await;
                });
            }
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
        let delay = delay_of(&state, &msg);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match handle(&state, &msg, false) {
            Reply::Message(reply) => {
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
            Reply::Silence => {}
            Reply::Close => return,
            Reply::Cut(reply) => {
                let Ok(len) = u16::try_from(reply.len()) else {
                    return;
                };
                let mut framed = Vec::with_capacity(reply.len() + 2);
                framed.extend_from_slice(&len.to_be_bytes());
                framed.extend_from_slice(&reply[..reply.len() / 2]);
                let _ = stream.write_all(&framed).await;
                let _ = stream.flush().await;
                return;
            }
        }
    }
}

/// What the server does with one query.
enum Reply {
    /// Do not reply (the connection, if any, stays open).
    Silence,
    /// Send this message.
    Message(Vec<u8>),
    /// TCP only: close the connection without a reply (no reply over UDP).
    Close,
    /// TCP only: the length of this message, half of it, then close (no reply over UDP).
    Cut(Vec<u8>),
}

/// How long to wait before answering this query: the [`DnsAnswer::Delayed`] delays of the
/// queried name (not of CNAME targets).
fn delay_of(state: &State, bytes: &[u8]) -> Duration {
    let Ok(request) = Message::from_vec(bytes) else {
        return Duration::ZERO;
    };
    let Some(query) = request.queries.first() else {
        return Duration::ZERO;
    };
    let mut delay = Duration::ZERO;
    let mut entry = state.zone.get(&normalize(&query.name().to_ascii()));
    while let Some(DnsAnswer::Delayed(d, inner)) = entry {
        delay += *d;
        entry = Some(inner);
    }
    delay
}

/// Decodes one query and encodes the reply.
fn handle(state: &State, bytes: &[u8], udp: bool) -> Reply {
    handle_query(state, bytes, udp).unwrap_or(Reply::Silence)
}

/// Decodes one query and encodes the reply; `None` means "do not reply".
fn handle_query(state: &State, bytes: &[u8], udp: bool) -> Option<Reply> {
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
            return response.to_vec().ok().map(Reply::Message);
        }
        _ => {
            response.metadata.response_code = ResponseCode::NotImp;
            return response.to_vec().ok().map(Reply::Message);
        }
    };
    state.log.lock().unwrap().push(format!("{} {}", normalize(&query.name().to_ascii()), query.query_type()));

    let (rcode, answers) = match resolve(&state.zone, query.name(), query.query_type())? {
        Resolution::Answer(rcode, answers) => (rcode, answers),
        Resolution::Fault(fault) => return fault_reply(fault, &request, response, udp),
    };
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
    Some(Reply::Message(bytes))
}

/// A deliberately broken reply; `response` is the NOERROR response to `request` (with its
/// question, and EDNS when the request had it), without records yet.
fn fault_reply(fault: Fault, request: &Message, mut response: Message, udp: bool) -> Option<Reply> {
    let query = request.queries.first()?;
    let answer_a = || record(query.name(), RData::A(A(Ipv4Addr::LOCALHOST)));
    match fault {
        Fault::Truncated(tcp) if udp || tcp == TcpFault::TruncatedAgain => {
            response.metadata.truncation = true;
            response.to_vec().ok().map(Reply::Message)
        }
        Fault::Truncated(TcpFault::Close) => Some(Reply::Close),
        Fault::Truncated(_) => {
            if query.query_type() == RecordType::A {
                response.add_answer(answer_a());
            }
            response.to_vec().ok().map(Reply::Cut)
        }
        Fault::Garbage => {
            let mut bytes = request.metadata.id.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[0x81, 0x80]);
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for _ in 0..60 {
                // xorshift64: deterministic noise.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                bytes.push(x.to_be_bytes()[0]);
            }
            // QDCOUNT >= 0xff00: far more questions than the bytes can hold.
            bytes[4] = 0xff;
            Some(Reply::Message(bytes))
        }
        Fault::LyingRdLength => {
            // No EDNS: the A record is the last one, so its RDLENGTH is the message's
            // 6th- and 5th-last bytes.
            response.edns = None;
            response.add_answer(answer_a());
            let mut bytes = response.to_vec().ok()?;
            let n = bytes.len();
            bytes[n - 6] = 0xff;
            bytes[n - 5] = 0xff;
            Some(Reply::Message(bytes))
        }
    }
}

/// A deliberately broken reply (see the [`DnsAnswer`] variants of the same names).
#[derive(Clone, Copy)]
enum Fault {
    Truncated(TcpFault),
    Garbage,
    LyingRdLength,
}

/// What the zone says for one query.
enum Resolution {
    Answer(ResponseCode, Vec<Record>),
    Fault(Fault),
}

/// Answers `qname`/`qtype` from the zone, chasing CNAMEs; `None` = silence.
fn resolve(zone: &Zone, qname: &Name, qtype: RecordType) -> Option<Resolution> {
    let mut answers = Vec::new();
    let mut name = qname.clone();
    for _ in 0..MAX_CHAIN {
        let Some(mut entry) = zone.get(&normalize(&name.to_ascii())) else {
            return Some(Resolution::Answer(ResponseCode::NXDomain, answers));
        };
        while let DnsAnswer::Delayed(_, inner) = entry {
            entry = inner;
        }
        let wants_a = matches!(qtype, RecordType::A | RecordType::ANY);
        let wants_aaaa = matches!(qtype, RecordType::AAAA | RecordType::ANY);
        match entry {
            DnsAnswer::A(ips) => {
                if wants_a {
                    answers.extend(ips.iter().map(|ip| record(&name, RData::A(A(*ip)))));
                }
                return Some(Resolution::Answer(ResponseCode::NoError, answers));
            }
            DnsAnswer::Aaaa(ips) => {
                if wants_aaaa {
                    answers.extend(ips.iter().map(|ip| record(&name, RData::AAAA(AAAA(*ip)))));
                }
                return Some(Resolution::Answer(ResponseCode::NoError, answers));
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
                return Some(Resolution::Answer(ResponseCode::NoError, answers));
            }
            DnsAnswer::Cname(target) => {
                let target = fqdn(target);
                answers.push(record(&name, RData::CNAME(CNAME(target.clone()))));
                if qtype == RecordType::CNAME {
                    return Some(Resolution::Answer(ResponseCode::NoError, answers));
                }
                name = target;
            }
            DnsAnswer::NxDomain => return Some(Resolution::Answer(ResponseCode::NXDomain, answers)),
            DnsAnswer::ServFail => return Some(Resolution::Answer(ResponseCode::ServFail, Vec::new())),
            DnsAnswer::Refused => return Some(Resolution::Answer(ResponseCode::Refused, Vec::new())),
            DnsAnswer::Silence => return None,
            DnsAnswer::NoData => return Some(Resolution::Answer(ResponseCode::NoError, answers)),
            DnsAnswer::CnameLoop(target) => {
                let target = fqdn(target);
                answers.push(record(&name, RData::CNAME(CNAME(target.clone()))));
                answers.push(record(&target, RData::CNAME(CNAME(name.clone()))));
                return Some(Resolution::Answer(ResponseCode::NoError, answers));
            }
            DnsAnswer::Truncated(tcp) => return Some(Resolution::Fault(Fault::Truncated(*tcp))),
            DnsAnswer::Garbage => return Some(Resolution::Fault(Fault::Garbage)),
            DnsAnswer::LyingRdLength => return Some(Resolution::Fault(Fault::LyingRdLength)),
            DnsAnswer::Delayed(..) => unreachable!("delays are unwrapped above"),
        }
    }
    Some(Resolution::Answer(ResponseCode::ServFail, Vec::new()))
}

fn record(name: &Name, data: RData) -> Record {
    Record::from_rdata(name.clone(), TTL, data)
}
