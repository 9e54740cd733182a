//! DNS stage: A and AAAA through hickory-resolver, with the CNAME chain, each status told apart.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::Name;
use hickory_resolver::proto::rr::{RData, RecordType};

use super::{DnsObservation, DnsStatus, ms};
use crate::config::DnsConfig;

/// Most names resolved at once (each is an A and an AAAA query).
pub const MAX_NAMES_IN_FLIGHT: usize = 64;

/// The run's resolver, built once.
pub struct Resolver {
    inner: Result<TokioResolver, String>,
    /// Names resolved at once: a burst of hundreds of queries overflows a DNS server's receive
    /// buffer, and a lost datagram costs the resolver's retry (hundreds of ms).
    in_flight: tokio::sync::Semaphore,
    /// The servers queries go to, as shown in the report.
    pub servers: Vec<String>,
    timeout: Duration,
    /// Servers found not listening (ICMP port unreachable), checked once, on the first timeout.
    not_listening: tokio::sync::OnceCell<Vec<String>>,
}

fn server_list(config: &ResolverConfig) -> Vec<String> {
    let mut out = Vec::new();
    for ns in config.name_servers() {
        let port = ns.connections.first().map_or(53, |c| c.port);
        let s = SocketAddr::new(ns.ip, port).to_string();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

impl Resolver {
    /// Build the resolver; a system configuration that cannot be read is recorded, not fatal:
    /// every endpoint then reports DNS `error` with the reason.
    pub fn new(dns: &DnsConfig, timeout: Duration) -> Resolver {
        let (config, mut opts) = match dns {
            DnsConfig::System => match hickory_resolver::system_conf::read_system_conf() {
                Ok(pair) => pair,
                Err(e) => {
                    return Resolver {
                        inner: Err(format!("cannot read the OS resolver configuration: {e}")),
                        in_flight: tokio::sync::Semaphore::new(MAX_NAMES_IN_FLIGHT),
                        servers: Vec::new(),
                        timeout,
                        not_listening: tokio::sync::OnceCell::new(),
                    };
                }
            },
            DnsConfig::Servers(addrs) => {
                let servers = addrs
                    .iter()
                    .map(|a| {
                        let mut ns = NameServerConfig::udp_and_tcp(a.ip());
                        for c in &mut ns.connections {
                            c.port = a.port();
                        }
                        ns
                    })
                    .collect();
                let mut opts = ResolverOpts::default();
                opts.use_hosts_file = ResolveHosts::Never;
                (ResolverConfig::from_parts(None, Vec::new(), servers), opts)
            }
        };
        let servers = server_list(&config);
        // Two attempts inside the stage bound, so one lost UDP datagram is not a timeout.
        opts.attempts = 2;
        opts.timeout = (timeout / 2).max(Duration::from_millis(50));
        opts.preserve_intermediates = true;
        let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        *builder.options_mut() = opts;
        let inner = builder.build().map_err(|e| format!("cannot build the resolver: {e}"));
        Resolver {
            inner,
            in_flight: tokio::sync::Semaphore::new(MAX_NAMES_IN_FLIGHT),
            servers,
            timeout,
            not_listening: tokio::sync::OnceCell::new(),
        }
    }

    /// Resolve at most `n` names at once from now on (fewer than [`MAX_NAMES_IN_FLIGHT`]: a
    /// low open-files limit, see [`super::budget::SocketBudget`]). Call before resolving.
    pub fn limit_names_in_flight(&self, n: usize) {
        let n = n.max(1);
        if n < MAX_NAMES_IN_FLIGHT {
            self.in_flight.forget_permits(MAX_NAMES_IN_FLIGHT - n);
        }
    }

    /// Resolve one host name (A and AAAA at once).
    pub async fn resolve(&self, host: &str) -> DnsObservation {
        // The stage's time and timeout start once the lookup may go out.
        let _permit = self.in_flight.acquire().await.ok();
        let start = Instant::now();
        let server = (!self.servers.is_empty()).then(|| self.servers.join(","));
        let resolver = match &self.inner {
            Ok(r) => r,
            Err(e) => return DnsObservation::failed(DnsStatus::Error, server, 0, e.clone()),
        };
        // Fully qualified: the probe tests this exact name, never a search-list variant.
        let name = match Name::from_utf8(format!("{}.", host.trim_end_matches('.'))) {
            Ok(n) => n,
            Err(e) => {
                return DnsObservation::failed(DnsStatus::Error, server, 0, format!("`{host}` is not a DNS name: {e}"));
            }
        };
        let both = async {
            tokio::join!(resolver.lookup(name.clone(), RecordType::A), resolver.lookup(name.clone(), RecordType::AAAA))
        };
        let (a, aaaa) = match tokio::time::timeout(self.timeout, both).await {
            Ok(pair) => pair,
            Err(_) => {
                let msg = format!("no answer for {host} within {} ms", self.timeout.as_millis());
                let obs = DnsObservation::failed(DnsStatus::Timeout, server, ms(start.elapsed()), msg);
                return self.explain_timeout(obs).await;
            }
        };
        let duration_ms = ms(start.elapsed());
        let mut addresses: Vec<IpAddr> = Vec::new();
        let mut cnames: Vec<String> = Vec::new();
        let mut failures: Vec<(DnsStatus, String)> = Vec::new();
        let mut local = false;
        for (rtype, result) in [("A", a), ("AAAA", aaaa)] {
            match result {
                Ok(lookup) => {
                    for record in lookup.answers() {
                        match &record.data {
                            RData::A(a) => push_unique(&mut addresses, IpAddr::V4(a.0)),
                            RData::AAAA(a) => push_unique(&mut addresses, IpAddr::V6(a.0)),
                            RData::CNAME(c) => {
                                push_unique(&mut cnames, c.0.to_utf8().trim_end_matches('.').to_string())
                            }
                            _ => {}
                        }
                    }
                }
                Err(e) if is_local_resource(&e) => {
                    local = true;
                    failures
                        .push((DnsStatus::Error, format!("{rtype}: the probe's own limit, not DNS: {}", describe(&e))));
                }
                Err(e) => failures.push((classify(&e), format!("{rtype}: {}", describe(&e)))),
            }
        }
        if !addresses.is_empty() {
            return DnsObservation {
                status: DnsStatus::Ok,
                server,
                duration_ms,
                addresses,
                cnames,
                error: None,
                local: false,
            };
        }
        // Both queries failed or were empty: the most telling status wins (an authoritative
        // NXDOMAIN over a server failure over silence over an empty answer).
        let rank = |s: DnsStatus| match s {
            DnsStatus::Nxdomain => 0,
            DnsStatus::Refused => 1,
            DnsStatus::Servfail => 2,
            DnsStatus::Timeout => 3,
            DnsStatus::Error => 4,
            _ => 5,
        };
        let status = failures.iter().map(|(s, _)| *s).min_by_key(|s| rank(*s)).unwrap_or(DnsStatus::NoAddresses);
        let mut error = failures.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ");
        // The resolver drops the aliases of a name that ends nowhere: ask for them, so the
        // report shows where the chain breaks (a dangling Private Link alias) or that it loops.
        if matches!(status, DnsStatus::Nxdomain | DnsStatus::NoAddresses) && cnames.is_empty() {
            // Saturating: a deadline past `Instant`'s range is no deadline (the stage's own
            // timeout still bounds each query).
            let deadline = start.checked_add(self.timeout);
            let chain = chase_cnames(resolver, &name, deadline).await;
            if let Some(last) = chain.last() {
                let looped = cname_loop(host, &chain);
                let route = cname_route(host, &chain);
                error = if looped {
                    format!("{error}; CNAME loop: {route}")
                } else {
                    format!("{error}; CNAME chain: {route}, and {last} has no address")
                };
            }
            cnames = chain;
        }
        let obs = DnsObservation {
            status,
            server,
            duration_ms: ms(start.elapsed()),
            addresses,
            cnames,
            error: Some(error),
            local,
        };
        if obs.status == DnsStatus::Timeout { self.explain_timeout(obs).await } else { obs }
    }

    /// A timeout where every server is known not to listen (the node's stack got ICMP port
    /// unreachable: the resolver library's unconnected sockets never see it) is no firewall
    /// silence but a server that is not there: status `error`, saying so.
    async fn explain_timeout(&self, mut obs: DnsObservation) -> DnsObservation {
        let servers: Vec<SocketAddr> = self.servers.iter().filter_map(|s| s.parse().ok()).collect();
        if servers.is_empty() {
            return obs;
        }
        let wait = (self.timeout / 4).clamp(Duration::from_millis(20), Duration::from_millis(500));
        let dead = self
            .not_listening
            .get_or_init(|| async {
                let checks =
                    servers.iter().map(|a| async move { not_listening(*a, wait).await.then(|| a.to_string()) });
                futures::future::join_all(checks).await.into_iter().flatten().collect()
            })
            .await;
        if !dead.is_empty() && dead.len() == servers.len() {
            obs.status = DnsStatus::Error;
            obs.error = Some(format!(
                "nothing listens on {} (ICMP port unreachable: no DNS server runs at that address and port); {}",
                dead.join(", "),
                obs.error.as_deref().unwrap_or("no answer")
            ));
        }
        obs
    }
}

/// Whether `addr` answers a UDP datagram with ICMP port unreachable (seen as a refused or reset
/// connection on a connected socket) within `wait`. Sends one query for the root's NS records.
async fn not_listening(addr: SocketAddr, wait: Duration) -> bool {
    let bind: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let Ok(socket) = tokio::net::UdpSocket::bind(bind).await else { return false };
    if socket.connect(addr).await.is_err() {
        return false;
    }
    // One question for the root's NS records (any reply, or none, means something listens).
    let mut message = hickory_proto::op::Message::query();
    message.metadata.recursion_desired = true;
    message
        .add_query(hickory_proto::op::Query::query(hickory_proto::rr::Name::root(), hickory_proto::rr::RecordType::NS));
    let Ok(query) = message.to_vec() else { return false };
    if let Err(e) = socket.send(&query).await {
        return refused(&e);
    }
    let mut buf = [0u8; 512];
    match tokio::time::timeout(wait, socket.recv(&mut buf)).await {
        Ok(Err(e)) => refused(&e),
        _ => false,
    }
}

fn refused(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset)
}

/// `host → alias → ... → last`.
pub fn cname_route(host: &str, chain: &[String]) -> String {
    std::iter::once(host.trim_end_matches('.')).chain(chain.iter().map(String::as_str)).collect::<Vec<_>>().join(" → ")
}

/// Whether a CNAME chain from `host` (as `chase_cnames` lists it) comes back to a name
/// already on it.
pub fn cname_loop(host: &str, chain: &[String]) -> bool {
    let Some((last, before)) = chain.split_last() else { return false };
    last.eq_ignore_ascii_case(host.trim_end_matches('.')) || before.iter().any(|c| c.eq_ignore_ascii_case(last))
}

/// Most aliases followed when chasing a chain by hand (hickory's own limit is 8).
const MAX_CNAME_HOPS: usize = 8;

/// The CNAME chain from `name`, by CNAME queries (every alias an answer carries is used, so a
/// chain a recursive server returns whole costs one query), until a name has no alias, a
/// name comes back (a loop: the repeated name ends the list), [`MAX_CNAME_HOPS`], or the
/// stage's deadline (None: no deadline of its own). Lower-case names without the final dot.
async fn chase_cnames(resolver: &TokioResolver, name: &Name, deadline: Option<Instant>) -> Vec<String> {
    let text = |n: &Name| n.to_utf8().trim_end_matches('.').to_ascii_lowercase();
    let mut known: Vec<(String, String)> = Vec::new();
    let mut chain: Vec<String> = Vec::new();
    let mut current = text(name);
    let mut query = name.clone();
    while chain.len() < MAX_CNAME_HOPS {
        let next = match known.iter().find(|(owner, _)| *owner == current) {
            Some((_, target)) => Some(target.clone()),
            None => {
                let left = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(Instant::now()));
                if left.is_zero() {
                    break;
                }
                match tokio::time::timeout(left, resolver.lookup(query.clone(), RecordType::CNAME)).await {
                    Ok(Ok(lookup)) => {
                        for record in lookup.answers() {
                            if let RData::CNAME(c) = &record.data {
                                push_unique(&mut known, (text(&record.name), text(&c.0)));
                            }
                        }
                        known.iter().find(|(owner, _)| *owner == current).map(|(_, t)| t.clone())
                    }
                    _ => None,
                }
            }
        };
        let Some(next) = next else { break };
        let looped = next == text(name) || chain.contains(&next);
        chain.push(next.clone());
        if looped {
            break;
        }
        match Name::from_utf8(format!("{next}.")) {
            Ok(n) => query = n,
            Err(_) => break,
        }
        current = next;
    }
    chain
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if !v.contains(&item) {
        v.push(item);
    }
}

/// The IANA mnemonic of a DNS response code (`NXDOMAIN`, `SERVFAIL`, ...), from our own table
/// (hickory's Debug text is no label); `UNKNOWN(24)` for a code not in it.
pub fn rcode_name(code: ResponseCode) -> String {
    let n = u16::from(code);
    let name = match n {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADSIG",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return format!("UNKNOWN({n})"),
    };
    name.to_string()
}

/// A resolver error in words: an empty answer is said with its response code (hickory's own
/// text for it prints the query as a Rust structure).
fn describe(e: &NetError) -> String {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) => {
            let rcode = rcode_name(nr.response_code);
            let soa = nr.soa.as_ref().map(|s| format!(", SOA {}", s.name.to_utf8().trim_end_matches('.')));
            format!("no records ({rcode}{})", soa.unwrap_or_default())
        }
        other => other.to_string(),
    }
}

/// The resolver could not open a socket for the probe's own limits (EMFILE, ENFILE, ENOBUFS).
fn is_local_resource(e: &NetError) -> bool {
    matches!(e, NetError::Io(io) if super::budget::is_local_resource(io))
}

/// Map a resolver error to a DNS status.
pub fn classify(e: &NetError) -> DnsStatus {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(nr)) if nr.response_code == ResponseCode::NXDomain => {
            DnsStatus::Nxdomain
        }
        NetError::Dns(DnsError::NoRecordsFound(_)) => DnsStatus::NoAddresses,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => DnsStatus::Refused,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => DnsStatus::Nxdomain,
        NetError::Dns(DnsError::ResponseCode(_)) => DnsStatus::Servfail,
        NetError::Timeout => DnsStatus::Timeout,
        _ => DnsStatus::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_codes_have_their_iana_mnemonics() {
        let table = [
            (ResponseCode::NoError, "NOERROR"),
            (ResponseCode::FormErr, "FORMERR"),
            (ResponseCode::ServFail, "SERVFAIL"),
            (ResponseCode::NXDomain, "NXDOMAIN"),
            (ResponseCode::NotImp, "NOTIMP"),
            (ResponseCode::Refused, "REFUSED"),
            (ResponseCode::YXDomain, "YXDOMAIN"),
            (ResponseCode::YXRRSet, "YXRRSET"),
            (ResponseCode::NXRRSet, "NXRRSET"),
            (ResponseCode::NotAuth, "NOTAUTH"),
            (ResponseCode::NotZone, "NOTZONE"),
            (ResponseCode::BADSIG, "BADSIG"),
            (ResponseCode::BADCOOKIE, "BADCOOKIE"),
            (ResponseCode::Unknown(12), "UNKNOWN(12)"),
        ];
        for (code, name) in table {
            assert_eq!(rcode_name(code), name);
        }
    }
}
