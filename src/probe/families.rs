//! Each address family: TLS and HTTP over one connected address of each family, concurrently,
//! and the node's address order (RFC 6724, see [`super::order`]) that says which family the
//! OS tries first.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

use super::order::{self, Candidate, PolicySource, PolicyTable};
use super::{EndpointObservation, HttpObservation, TcpAttempt, TlsObservation, connect, http, pmtu};
use crate::catalog::Host;
use crate::trust::TrustStores;

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// IPv4 (A records).
    Ipv4,
    /// IPv6 (AAAA records).
    Ipv6,
}

impl Family {
    /// The family of an address (an IPv4-mapped IPv6 address counts as IPv6).
    pub fn of(ip: &IpAddr) -> Family {
        if ip.is_ipv4() { Family::Ipv4 } else { Family::Ipv6 }
    }

    /// The stable label, as in the report (`ipv4`, `ipv6`).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }

    /// For people: `IPv4`, `IPv6`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
}

/// The node's order of an endpoint's addresses, as the OS would sort them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressOrder {
    /// The policy table the order was computed with.
    pub policy: PolicySource,
    /// The addresses in the node's order, each with the source the kernel would use (None: no route).
    pub addresses: Vec<Candidate>,
}

impl AddressOrder {
    /// The family of the address the OS tries first (None when no address is usable).
    pub fn first_family(&self) -> Option<Family> {
        self.addresses.iter().find(|c| c.source.is_some()).map(|c| Family::of(&c.destination))
    }

    /// The addresses in order, as text.
    pub fn listed(&self) -> Vec<String> {
        self.addresses.iter().map(|c| c.destination.to_string()).collect()
    }
}

/// TLS and HTTP over one connected address of one family.
#[derive(Debug, Clone)]
pub struct FamilyObservation {
    /// The address family.
    pub family: Family,
    /// The connected address of this family TLS and HTTP ran over.
    pub address: SocketAddr,
    /// This family comes first in the node's address order.
    pub first: bool,
    /// The TLS handshake over that address.
    pub tls: TlsObservation,
    /// The HTTP request over that address.
    pub http: HttpObservation,
}

/// The outcome of the connects of a direct endpoint.
pub struct Connected {
    /// Every attempt, in the order of the DNS answer.
    pub attempts: Vec<TcpAttempt>,
    /// The first connected address in the node's order: the top-level TLS and HTTP run over it.
    pub chosen: Option<(SocketAddr, TcpStream)>,
    /// The first connected address of the other family, in the node's order.
    pub other: Option<(SocketAddr, TcpStream)>,
    /// The node's order of the resolved addresses (RFC 6724), as the connects used it.
    pub order: AddressOrder,
}

/// Connect to every address at once; keep the first connected address in the node's order and
/// the first of the other family.
pub async fn connect(addrs: &[SocketAddr], timeout: Duration) -> Connected {
    let table = PolicyTable::of_node_cached();
    let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
    let order = AddressOrder { policy: table.source, addresses: order::node_order(table, &ips) };
    let results = futures::future::join_all(addrs.iter().map(|a| connect::connect(*a, timeout))).await;
    let mut attempts = Vec::with_capacity(results.len());
    let mut streams: Vec<(SocketAddr, TcpStream)> = Vec::new();
    for (attempt, stream) in results {
        if let Some(s) = stream {
            streams.push((attempt.address, s));
        }
        attempts.push(attempt);
    }
    let rank = |a: &SocketAddr| order.addresses.iter().position(|c| c.destination == a.ip()).unwrap_or(usize::MAX);
    streams.sort_by_key(|(a, _)| rank(a));
    let mut streams = streams.into_iter();
    let chosen = streams.next();
    let other = chosen.as_ref().and_then(|(first, _)| streams.find(|(a, _)| a.is_ipv4() != first.is_ipv4()));
    Connected { attempts, chosen, other, order }
}

/// TLS and HTTP of the other family, running on its own task (aborted when dropped).
pub struct Other(tokio::task::JoinHandle<FamilyObservation>);

impl Drop for Other {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Start TLS and HTTP over `stream` (the other family's address), bounded as the top-level
/// stages are (each within `timeout`).
pub fn spawn(
    stores: TrustStores,
    address: SocketAddr,
    stream: TcpStream,
    host: &Host,
    port: u16,
    path: &str,
    timeout: Duration,
) -> Other {
    let sni = host.bare();
    let authority = if port == 443 { host.to_string() } else { format!("{host}:{port}") };
    let path = path.to_string();
    Other(tokio::spawn(async move {
        let (mut tls, stream) = pmtu::handshake(&stores, stream, &sni, timeout, true).await;
        tls.address = Some(address);
        let http = match stream {
            Some(mut s) => http::get(&mut s, &authority, &path, timeout).await,
            None => HttpObservation::not_attempted(),
        };
        FamilyObservation { family: Family::of(&address.ip()), address, first: false, tls, http }
    }))
}

/// Record `families`: the top-level TLS and HTTP (the first connected address in the node's
/// order) and the other family's, when one connected. Direct connections only.
pub async fn record(obs: &mut EndpointObservation, other: Option<Other>) {
    let first = obs.address_order.as_ref().and_then(AddressOrder::first_family);
    if let Some(tls) = &obs.tls
        && let Some(address) = tls.address
        && obs.address_order.is_some()
    {
        let family = Family::of(&address.ip());
        obs.families.push(FamilyObservation {
            family,
            address,
            first: first == Some(family),
            tls: tls.clone(),
            http: obs.http.clone().unwrap_or_else(HttpObservation::not_attempted),
        });
    }
    if let Some(mut o) = other {
        match (&mut o.0).await {
            Ok(mut f) => {
                f.first = first == Some(f.family);
                obs.families.push(f);
            }
            Err(e) => tracing::error!("the probe of the other address family failed: {e}"),
        }
    }
}
