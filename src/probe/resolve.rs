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
        Resolver { inner, in_flight: tokio::sync::Semaphore::new(MAX_NAMES_IN_FLIGHT), servers, timeout }
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
                return DnsObservation::failed(DnsStatus::Timeout, server, ms(start.elapsed()), msg);
            }
        };
        let duration_ms = ms(start.elapsed());
        let mut addresses: Vec<IpAddr> = Vec::new();
        let mut cnames: Vec<String> = Vec::new();
        let mut failures: Vec<(DnsStatus, String)> = Vec::new();
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
                Err(e) => failures.push((classify(&e), format!("{rtype}: {e}"))),
            }
        }
        if !addresses.is_empty() {
            return DnsObservation { status: DnsStatus::Ok, server, duration_ms, addresses, cnames, error: None };
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
        let error = failures.iter().map(|(_, m)| m.as_str()).collect::<Vec<_>>().join("; ");
        DnsObservation { status, server, duration_ms, addresses, cnames, error: Some(error) }
    }
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, item: T) {
    if !v.contains(&item) {
        v.push(item);
    }
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
