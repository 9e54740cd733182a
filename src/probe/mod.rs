//! The probe stages (resolve → connect → TLS → HTTP) and the per-endpoint pipeline.
//! Stages record what they observed, with timings; they never decide verdicts.

pub mod budget;
pub mod connect;
pub mod families;
pub mod head;
pub mod http;
pub mod legacy;
pub mod order;
pub mod pmtu;
pub mod proxy;
pub mod resolve;
pub mod revocation;
pub mod tls;
pub mod tls_label;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::catalog::{EndpointSpec, Host, Target};
use crate::trust::chain::CertFacts;
use crate::trust::{TrustStores, TrustVerdict};

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// How the DNS stage ended (response codes of RFC 1035 section 4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DnsStatus {
    /// At least one A or AAAA address.
    Ok,
    /// NXDOMAIN (RCODE 3): the name does not exist.
    Nxdomain,
    /// SERVFAIL (RCODE 2) or another failure code: the server could not answer.
    Servfail,
    /// REFUSED (RCODE 5): the server will not answer this client or name.
    Refused,
    /// No answer within the stage's timeout.
    Timeout,
    /// The name exists but has no A or AAAA record (NODATA).
    NoAddresses,
    /// Anything else: no usable resolver configuration, a name that is not a DNS name, the
    /// probe's own limits (no socket could be opened).
    Error,
    /// The host is an IP literal: nothing to resolve.
    NotNeeded,
    /// The run was stopped first.
    NotAttempted,
}

impl DnsStatus {
    /// The stable label, as in the report (`nxdomain`, `servfail`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DnsStatus::Ok => "ok",
            DnsStatus::Nxdomain => "nxdomain",
            DnsStatus::Servfail => "servfail",
            DnsStatus::Refused => "refused",
            DnsStatus::Timeout => "timeout",
            DnsStatus::NoAddresses => "no_addresses",
            DnsStatus::Error => "error",
            DnsStatus::NotNeeded => "not_needed",
            DnsStatus::NotAttempted => "not_attempted",
        }
    }
}

/// What the DNS stage saw for one host name: A and AAAA queried at once, from the node's
/// resolvers or the `--dns-server` addresses (see [`resolve::Resolver`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsObservation {
    /// How the lookup ended.
    pub status: DnsStatus,
    /// The resolvers asked, as `address:port`, comma-separated (`10.0.0.2:53,10.0.0.3:53`); None
    /// when none is configured or the host is an IP literal.
    pub server: Option<String>,
    /// Time from the queries going out to the answer (or the timeout), in milliseconds; 0 when no
    /// query went out.
    pub duration_ms: u64,
    /// The A and AAAA addresses of the answer, in the resolver's order, without duplicates.
    pub addresses: Vec<IpAddr>,
    /// The CNAME chain followed to the addresses, without the trailing dot.
    pub cnames: Vec<String>,
    /// Why the lookup failed (the resolver's error text); None on success.
    pub error: Option<String>,
    /// The lookup failed for the probe's own limits (no socket could be opened: EMFILE,
    /// ENFILE, ENOBUFS), not for anything a DNS server did.
    pub local: bool,
}

impl DnsObservation {
    /// A lookup that ended without addresses: `status`, the resolvers asked, the time spent in
    /// milliseconds and the error text.
    pub fn failed(status: DnsStatus, server: Option<String>, duration_ms: u64, error: String) -> Self {
        DnsObservation {
            status,
            server,
            duration_ms,
            addresses: Vec::new(),
            cnames: Vec::new(),
            error: Some(error),
            local: false,
        }
    }
}

/// How a TCP connect ended (from the OS's connect error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TcpStatus {
    /// Connected.
    Ok,
    /// Refused (a TCP RST to the SYN, ECONNREFUSED): nothing listens, or a firewall rejects.
    Refused,
    /// No answer to the SYN within the stage's timeout: a firewall dropping, or a dead address.
    Timeout,
    /// No route: host or network unreachable (ICMP, EHOSTUNREACH/ENETUNREACH), or the address
    /// is not available from this node.
    Unreachable,
    /// The connection was reset or aborted while being set up.
    Reset,
    /// Any other error, including the probe's own limits (open files).
    Error,
}

impl TcpStatus {
    /// The stable label, as in the report (`ok`, `refused`, `timeout`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TcpStatus::Ok => "ok",
            TcpStatus::Refused => "refused",
            TcpStatus::Timeout => "timeout",
            TcpStatus::Unreachable => "unreachable",
            TcpStatus::Reset => "reset",
            TcpStatus::Error => "error",
        }
    }
}

/// Who a TCP connection went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    /// The endpoint itself.
    Endpoint,
    /// The proxy the endpoint is reached through.
    Proxy,
}

impl Peer {
    /// The stable label, as in the report (`endpoint`, `proxy`).
    pub fn as_str(self) -> &'static str {
        match self {
            Peer::Endpoint => "endpoint",
            Peer::Proxy => "proxy",
        }
    }
}

/// One TCP connect to one address (of the endpoint, or of the proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpAttempt {
    /// The address and port connected to.
    pub address: SocketAddr,
    /// How the connect ended.
    pub status: TcpStatus,
    /// Time from the SYN to the connect's end (or its timeout), in milliseconds.
    pub duration_ms: u64,
    /// The OS error of a failed connect; None on success.
    pub error: Option<String>,
    /// Whether this address is the endpoint's or the proxy's.
    pub peer: Peer,
    /// The attempt failed for the probe's own limits (EMFILE, ENFILE, ENOBUFS): status
    /// `error`, and nothing to say about the network.
    pub local: bool,
}

/// How the TLS handshake ended. A chain neither store trusts does not fail the handshake: the
/// verdicts are in `trust`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TlsStatus {
    /// The handshake completed.
    Ok,
    /// The handshake failed: an alert from the server, no common version or cipher, something
    /// that is not TLS, a malformed message (see `alert` and `error`).
    HandshakeFailed,
    /// Not complete within the stage's timeout.
    Timeout,
    /// The connection was reset or aborted during the handshake.
    Reset,
    /// No handshake: an earlier stage failed or the run was stopped first.
    NotAttempted,
}

impl TlsStatus {
    /// The stable label, as in the report (`ok`, `handshake_failed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TlsStatus::Ok => "ok",
            TlsStatus::HandshakeFailed => "handshake_failed",
            TlsStatus::Timeout => "timeout",
            TlsStatus::Reset => "reset",
            TlsStatus::NotAttempted => "not_attempted",
        }
    }
}

/// Both stores' verdicts on the presented chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustObservation {
    /// The verdict of the public store (the bundled Mozilla roots, or `--public-roots`).
    pub public: TrustVerdict,
    /// The verdict of the node's store (the OS store, or `--system-roots`).
    pub system: TrustVerdict,
    /// Why the public store rejected the chain (the verifier's error text); None when trusted.
    pub public_detail: Option<String>,
    /// Why the node's store rejected the chain; None when trusted.
    pub system_detail: Option<String>,
    /// The engine that gave `system`.
    pub system_engine: crate::trust::TrustEngine,
    /// The OS-store anchor named by the issuer of the chain's top certificate (the root that
    /// completed the path), when the OS store holds it.
    pub system_anchor: Option<crate::trust::AnchorName>,
}

/// What the TLS stage saw: the handshake (rustls, TLS 1.2 and 1.3 offered), the presented chain
/// and both stores' verdicts on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsObservation {
    /// How the handshake ended.
    pub status: TlsStatus,
    /// Time the handshake took, from its start to its end (or its timeout), in milliseconds.
    pub duration_ms: u64,
    /// The peer address of the TCP connection the handshake ran over; None when none was made.
    pub address: Option<SocketAddr>,
    /// The negotiated protocol version, a stable label (`TLS 1.2`, `TLS 1.3`, see [`tls_label`]).
    pub version: Option<String>,
    /// The negotiated cipher suite, its IANA name (`TLS13_AES_256_GCM_SHA384`, see [`tls_label`]).
    pub cipher_suite: Option<String>,
    /// The ALPN protocol the server chose (only `http/1.1` is offered), as lossy UTF-8.
    pub alpn: Option<String>,
    /// The server name sent in the SNI extension (RFC 6066); None for an IP-literal host.
    pub sni: Option<String>,
    /// The presented chain, leaf first (recorded even when the handshake failed later).
    pub chain: Vec<CertFacts>,
    /// Both stores' verdicts on the presented chain; None when no chain was presented.
    pub trust: Option<TrustObservation>,
    /// A TLS alert the server sent, e.g. `ProtocolVersion`.
    pub alert: Option<String>,
    /// After a failed handshake: the version the server picked when offered TLS 1.0/1.1 only.
    pub legacy_version: Option<String>,
    /// The handshake failed because the server turned down TLS 1.2 and 1.3 (an alert such as
    /// protocol_version, or a ServerHello of an older version).
    pub version_refused: bool,
    /// Why the handshake failed (rustls's or the OS's error text); None on success.
    pub error: Option<String>,
    /// Bytes received from and sent to the server during the handshake (None: no handshake).
    pub bytes_received: Option<u64>,
    /// Bytes sent to the server during the handshake (None: no handshake).
    pub bytes_sent: Option<u64>,
    /// After a handshake that timed out once the ClientHello went out: the retry on a
    /// connection advertising a small MSS (path-MTU black holes, see [`pmtu`]).
    pub mss_retry: Option<pmtu::MssRetry>,
    /// The presented chain as DER (what the revocation checks read; not reported).
    pub presented: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// The revocation and issuer checks of the presented chain (None: no chain).
    pub revocation: Option<revocation::RevocationObservation>,
}

impl TlsObservation {
    /// The observation of a handshake that never started: status `not_attempted`, nothing seen.
    pub fn not_attempted() -> Self {
        TlsObservation {
            status: TlsStatus::NotAttempted,
            duration_ms: 0,
            address: None,
            version: None,
            cipher_suite: None,
            alpn: None,
            sni: None,
            chain: Vec::new(),
            trust: None,
            alert: None,
            legacy_version: None,
            version_refused: false,
            error: None,
            bytes_received: None,
            bytes_sent: None,
            mss_retry: None,
            presented: Vec::new(),
            revocation: None,
        }
    }
}

/// How the HTTP request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HttpStatus {
    /// A complete response head came back (any status code).
    Ok,
    /// No complete response head within the stage's timeout.
    Timeout,
    /// The connection closed first, the answer is not HTTP, or the head is malformed or over
    /// the probe's caps.
    Error,
    /// No request: an earlier stage failed or the run was stopped first.
    NotAttempted,
}

impl HttpStatus {
    /// The stable label, as in the report (`ok`, `timeout`, `error`, `not_attempted`).
    pub fn as_str(self) -> &'static str {
        match self {
            HttpStatus::Ok => "ok",
            HttpStatus::Timeout => "timeout",
            HttpStatus::Error => "error",
            HttpStatus::NotAttempted => "not_attempted",
        }
    }
}

/// What the HTTP stage saw: one request over the TLS connection and the response head (no body
/// beyond [`HttpObservation::body_excerpt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpObservation {
    /// How the request ended.
    pub status: HttpStatus,
    /// The response's status code (RFC 9110 section 15); None without a complete head.
    pub status_code: Option<u16>,
    /// Time from sending the request to the end of the response head (or the timeout), in
    /// milliseconds.
    pub duration_ms: u64,
    /// The `Date` header as sent (RFC 9110 section 6.6.1, IMF-fixdate), as lossy UTF-8: one
    /// of the clock's reference times.
    pub date: Option<String>,
    /// The `Server` header, as lossy UTF-8.
    pub server: Option<String>,
    /// The `Via` header (RFC 9110 section 7.6.3), as lossy UTF-8: a proxy on the path names itself
    /// here.
    pub via: Option<String>,
    /// Response headers that proxies add (Via, X-Cache, ...), as `Name: value`: signs of a proxy in the path.
    pub proxy_headers: Vec<String>,
    /// The service edge's reference ID of this request (`X-Azure-Ref`, else `X-MSEdge-Ref`), printable,
    /// at most 256 characters: what Microsoft support asks for when its edge refuses a request.
    pub edge_ref: Option<String>,
    /// For a status of 400 and above: the first words of the response page (markup removed, at most
    /// 512 bytes read past the head within the stage's bound, capped at 500 ms).
    pub body_excerpt: Option<String>,
    /// Why the request failed (the OS's error, or what was malformed); None on success.
    pub error: Option<String>,
    /// When the request was sent and the response head received (node clock), for HTTP Date.
    pub sent_at: Option<SystemTime>,
    /// When the response head was received (node clock).
    pub received_at: Option<SystemTime>,
}

impl HttpObservation {
    /// The observation of a request that was never sent: status `not_attempted`, nothing seen.
    pub fn not_attempted() -> Self {
        HttpObservation {
            status: HttpStatus::NotAttempted,
            status_code: None,
            duration_ms: 0,
            date: None,
            server: None,
            via: None,
            proxy_headers: Vec::new(),
            edge_ref: None,
            body_excerpt: None,
            error: None,
            sent_at: None,
            received_at: None,
        }
    }
}

/// A stage of the per-endpoint pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Resolving the host name.
    Dns,
    /// Connecting to the proxy and the CONNECT exchange.
    Proxy,
    /// The TCP connects to the endpoint's addresses.
    Tcp,
    /// The TLS handshake.
    Tls,
    /// The HTTP request and its response head.
    Http,
}

impl Stage {
    /// Position in the pipeline; the proxy hop stands where the TCP connect would.
    pub fn order(self) -> u8 {
        match self {
            Stage::Dns => 0,
            Stage::Proxy | Stage::Tcp => 1,
            Stage::Tls => 2,
            Stage::Http => 3,
        }
    }

    /// The stable label, as in the report (`dns`, `proxy`, `tcp`, `tls`, `http`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Dns => "dns",
            Stage::Proxy => "proxy",
            Stage::Tcp => "tcp",
            Stage::Tls => "tls",
            Stage::Http => "http",
        }
    }
}

/// The stage an endpoint was in when the run was stopped, and for how long it had been.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Interrupted {
    /// The stage in flight when the run was stopped.
    pub stage: Stage,
    /// How long the stage had been running, in milliseconds (for DNS, waiting for a resolver
    /// slot included).
    pub after_ms: u64,
}

/// When each stage of an endpoint began, in ms after the run began (`run.started_at`); null
/// for a stage that did not run. DNS begins when the query goes out (after waiting for a
/// resolver slot); `connect` is the TCP connects, or the proxy hop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StageStarts {
    /// When the DNS queries went out, ms after `run.started_at`.
    pub dns: Option<u64>,
    /// When the first TCP connect (or the proxy hop) began, ms after `run.started_at`.
    pub connect: Option<u64>,
    /// When the TLS handshake began, ms after `run.started_at`.
    pub tls: Option<u64>,
    /// When the HTTP request was sent, ms after `run.started_at`.
    pub http: Option<u64>,
}

/// Everything seen for one endpoint.
#[derive(Debug, Clone)]
pub struct EndpointObservation {
    /// The endpoint probed, as the catalog gave it.
    pub spec: Arc<EndpointSpec>,
    /// The run was stopped before this endpoint was probed to the end.
    pub skipped: bool,
    /// For a skipped endpoint whose probe had started: the stage in flight. The stages before
    /// it are kept as observed.
    pub interrupted: Option<Interrupted>,
    /// When each stage began, ms after the run began.
    pub starts: StageStarts,
    /// The DNS stage (status `not_needed` for an IP literal, `not_attempted` if never reached).
    pub dns: DnsObservation,
    /// The TCP connects: to the endpoint's addresses (in the order of the DNS answer), or through a
    /// proxy to the proxy's (`peer` says which).
    pub tcp: Vec<TcpAttempt>,
    /// The proxy hop, when a proxy is configured (bypassed when NO_PROXY exempts the endpoint).
    pub proxy: Option<proxy::ProxyHop>,
    /// None for tcp:// targets.
    pub tls: Option<TlsObservation>,
    /// None for tcp:// targets.
    pub http: Option<HttpObservation>,
    /// The probe ran out of its own resources (sockets) in this stage: the stage and those
    /// after it observed nothing about the network. The endpoint is skipped and the run
    /// incomplete (exit 3).
    pub local_limit: Option<LocalLimit>,
    /// Direct connections: the node's order of the resolved addresses (RFC 6724).
    pub address_order: Option<families::AddressOrder>,
    /// Direct HTTPS: TLS and HTTP over one connected address of each family.
    pub families: Vec<families::FamilyObservation>,
}

/// A stage the probe could not run for its own resource limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalLimit {
    /// The stage that ran out of sockets.
    pub stage: Stage,
    /// The OS error, as the stage recorded it.
    pub error: String,
}

impl EndpointObservation {
    /// An endpoint the run stopped before its probe started.
    pub fn skipped(spec: Arc<EndpointSpec>) -> Self {
        let mut obs = EndpointObservation::unstarted(spec);
        obs.skipped = true;
        obs.dns.error = Some("the run was interrupted before this endpoint was probed".into());
        obs
    }

    /// Nothing observed yet: every stage `not_attempted`.
    fn unstarted(spec: Arc<EndpointSpec>) -> Self {
        let https = spec.target.is_https();
        EndpointObservation {
            spec,
            skipped: false,
            interrupted: None,
            starts: StageStarts::default(),
            dns: DnsObservation {
                status: DnsStatus::NotAttempted,
                server: None,
                duration_ms: 0,
                addresses: Vec::new(),
                cnames: Vec::new(),
                error: None,
                local: false,
            },
            tcp: Vec::new(),
            proxy: None,
            tls: https.then(TlsObservation::not_attempted),
            http: https.then(HttpObservation::not_attempted),
            local_limit: None,
            address_order: None,
            families: Vec::new(),
        }
    }
}

/// Where a probe reports the stage it enters, with what it observed so far.
pub trait Progress: Send + Sync {
    /// Called when the probe of `obs`'s endpoint enters `stage`; `obs` holds the stages before it.
    /// Must return quickly (it runs on the probe's task).
    fn enter(&self, obs: &EndpointObservation, stage: Stage);
}

/// Shared state of one run's probes.
pub struct Prober {
    /// The DNS resolver of the run (shared: caps the names in flight).
    pub resolver: resolve::Resolver,
    /// The proxy, from `--proxy` or the environment; None for direct connections.
    pub proxy: Option<crate::config::proxy::ProxyConfig>,
    /// The public and node trust stores the TLS stage verifies each chain against.
    pub stores: TrustStores,
    /// The timeout of each stage (DNS, each connect, TLS, HTTP), from `--timeout`.
    pub timeout: Duration,
    /// When the run began: stage starts are measured from here.
    pub epoch: Instant,
    /// The run's revocation and issuer fetches, one per URL; None with `--no-revocation`.
    pub revocation: Option<Arc<revocation::Cache>>,
}

impl Prober {
    /// Milliseconds since the run began.
    fn now_ms(&self) -> u64 {
        ms(self.epoch.elapsed())
    }

    /// Probe one endpoint through every stage it needs, telling `progress` each stage it enters
    /// and what it has observed so far (a run stopped half-way keeps that).
    pub async fn probe_with(&self, spec: Arc<EndpointSpec>, progress: &dyn Progress) -> EndpointObservation {
        let host = spec.target.host().clone();
        let port = spec.target.port();
        let mut obs = EndpointObservation::unstarted(spec.clone());
        progress.enter(&obs, Stage::Dns);
        obs.dns = match &host {
            Host::Ip(ip) => DnsObservation {
                status: DnsStatus::NotNeeded,
                server: None,
                duration_ms: 0,
                addresses: vec![*ip],
                cnames: Vec::new(),
                error: None,
                local: false,
            },
            Host::Name(name) => self.resolver.resolve(name).await,
        };
        if obs.dns.local {
            let error = obs.dns.error.clone().unwrap_or_default();
            obs.local_limit = Some(LocalLimit { stage: Stage::Dns, error });
        }
        obs.starts.dns = Some(self.now_ms().saturating_sub(obs.dns.duration_ms));
        tracing::debug!(endpoint = %spec.name, status = ?obs.dns.status, addresses = ?obs.dns.addresses, ms = obs.dns.duration_ms, "dns");
        let https = spec.target.is_https();
        // HTTPS goes through the proxy unless NO_PROXY exempts it; tcp:// targets are always direct.
        let via = match (&self.proxy, https) {
            (Some(p), true) => match p.no_proxy.matches(&host, port) {
                Some(rule) => {
                    let mut hop = proxy::ProxyHop::bypassed(p, rule);
                    hop.bypass_readings = p.no_proxy.readings(&host, port);
                    obs.proxy = Some(hop);
                    None
                }
                None => Some(p),
            },
            _ => None,
        };
        let mut other = None;
        let (attempts, chosen) = match via {
            Some(p) => {
                obs.starts.connect = Some(self.now_ms());
                progress.enter(&obs, Stage::Proxy);
                let (mut hop, attempts, tunnel) =
                    proxy::open_tunnel(&self.resolver, p, &host, port, self.timeout).await;
                hop.bypass_readings = p.no_proxy.readings(&host, port);
                tracing::debug!(endpoint = %spec.name, proxy = %hop.url, status = ?hop.status, code = ?hop.http_status, "proxy");
                let chosen = tunnel.and_then(|t| hop.address.map(|a| (a, t)));
                obs.proxy = Some(hop);
                (attempts, chosen)
            }
            None => {
                let addrs: Vec<SocketAddr> = obs.dns.addresses.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
                if addrs.is_empty() {
                    return obs;
                }
                obs.starts.connect = Some(self.now_ms());
                progress.enter(&obs, Stage::Tcp);
                let c = families::connect(&addrs, self.timeout).await;
                (obs.address_order, other) = (Some(c.order), c.other);
                (c.attempts, c.chosen)
            }
        };
        for a in &attempts {
            tracing::debug!(endpoint = %spec.name, address = %a.address, status = ?a.status, ms = a.duration_ms, "tcp");
        }
        // No connection, and the probe's own limits stood in the way: the network was not tested.
        if chosen.is_none()
            && let Some(a) = attempts.iter().find(|a| a.local)
        {
            let stage = if via.is_some() { Stage::Proxy } else { Stage::Tcp };
            obs.local_limit = Some(LocalLimit { stage, error: a.error.clone().unwrap_or_default() });
        }
        obs.tcp = attempts;
        let (Some((addr, stream)), Target::Https { path, .. }) = (chosen, &spec.target) else {
            return obs;
        };
        let other = other.map(|(a, s)| families::spawn(self.stores.clone(), a, s, &host, port, path, self.timeout));
        obs.starts.tls = Some(self.now_ms());
        progress.enter(&obs, Stage::Tls);
        let (mut tls_obs, tls_stream) =
            pmtu::handshake(&self.stores, stream, &host.bare(), self.timeout, via.is_none()).await;
        tls_obs.address = Some(addr);
        // A server that turned down TLS 1.2/1.3 may still speak an old version: ask once, on a
        // new connection (through a new tunnel when a proxy is in the path), within what is
        // left of the TLS stage's budget, and count the time in the stage.
        if tls_obs.status == TlsStatus::HandshakeFailed && tls_obs.version_refused {
            let spent = Duration::from_millis(tls_obs.duration_ms);
            let budget = self.timeout.saturating_sub(spent).max(Duration::from_millis(100));
            let start = std::time::Instant::now();
            let sni = tls_obs.sni.clone();
            let tunnel = via.filter(|_| obs.proxy.as_ref().is_some_and(|h| h.status == proxy::ProxyStatus::Ok));
            let asked = async {
                match tunnel {
                    Some(p) => {
                        let (_, _, stream) = proxy::open_tunnel(&self.resolver, p, &host, port, budget).await;
                        legacy::ask(stream?, sni.as_deref()).await
                    }
                    None => legacy::probe(addr, sni.as_deref(), budget).await,
                }
            };
            tls_obs.legacy_version = tokio::time::timeout(budget, asked).await.ok().flatten().map(str::to_string);
            tls_obs.duration_ms += ms(start.elapsed());
        }
        // Through a proxy with credentials, whatever came back may echo them.
        let scrubber = self.proxy.as_ref().and_then(crate::config::proxy::ProxyConfig::scrubber);
        if let Some(s) = &scrubber {
            s.tls(&mut tls_obs);
        }
        tracing::debug!(endpoint = %spec.name, status = ?tls_obs.status, version = ?tls_obs.version, trust = ?tls_obs.trust, ms = tls_obs.duration_ms, "tls");
        // The revocation and issuer fetches of the chain run alongside the HTTP stage.
        let revocation = revocation::check(self, tls_obs.presented.clone(), host.bare());
        obs.tls = Some(tls_obs);
        let revocation = if let Some(mut tls_stream) = tls_stream {
            obs.starts.http = Some(self.now_ms());
            progress.enter(&obs, Stage::Http);
            let authority = if port == 443 { host.to_string() } else { format!("{host}:{port}") };
            let (mut http, revocation) =
                tokio::join!(http::get(&mut tls_stream, &authority, path, self.timeout), revocation);
            if let Some(s) = &scrubber {
                s.http(&mut http);
            }
            tracing::debug!(endpoint = %spec.name, status = ?http.status, code = ?http.status_code, ms = http.duration_ms, "http");
            obs.http = Some(http);
            revocation
        } else {
            revocation.await
        };
        if let Some(t) = obs.tls.as_mut() {
            t.revocation = revocation;
        }
        families::record(&mut obs, other).await;
        obs
    }

    /// Probe every endpoint concurrently (at most `concurrency` at once), each result stored in
    /// its slot as soon as it is known, so that a run stopped half-way still has what was
    /// observed ([`Slots::take`]: in endpoint order). Dropping the future aborts the probes
    /// still running.
    pub async fn probe_all_into(self: &Arc<Self>, endpoints: &[Arc<EndpointSpec>], concurrency: usize, slots: &Slots) {
        let limit = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut set = tokio::task::JoinSet::new();
        for (i, spec) in endpoints.iter().enumerate() {
            // Endpoints start in the order of the probe set: the permit is taken before the
            // task exists (tasks on a multi-threaded runtime start in any order).
            let Ok(permit) = limit.clone().acquire_owned().await else { break };
            let (me, spec, slots) = (self.clone(), spec.clone(), slots.clone());
            set.spawn(async move {
                let _permit = permit;
                let obs = me.probe_with(spec, &SlotProgress { slots: &slots, index: i }).await;
                slots.put(i, Slot::Done(Box::new(obs)));
            });
        }
        while let Some(joined) = set.join_next().await {
            if let Err(e) = joined {
                tracing::error!("a probe task failed: {e}");
            }
        }
    }
}

/// What a slot holds: nothing yet, a probe in progress, or its result.
#[derive(Clone, Default)]
enum Slot {
    #[default]
    Empty,
    /// The observations so far, the stage being run and when it began.
    Running(Box<EndpointObservation>, Stage, Instant),
    Done(Box<EndpointObservation>),
}

/// Where concurrent probes leave their observations.
#[derive(Clone, Default)]
pub struct Slots(Arc<std::sync::Mutex<Vec<Slot>>>);

/// Progress of the probe of one slot's endpoint.
struct SlotProgress<'a> {
    slots: &'a Slots,
    index: usize,
}

impl Progress for SlotProgress<'_> {
    fn enter(&self, obs: &EndpointObservation, stage: Stage) {
        self.slots.put(self.index, Slot::Running(Box::new(obs.clone()), stage, Instant::now()));
    }
}

impl Slots {
    /// Room for `n` endpoints' observations, all empty.
    pub fn new(n: usize) -> Slots {
        Slots(Arc::new(std::sync::Mutex::new(vec![Slot::Empty; n])))
    }

    fn put(&self, i: usize, entry: Slot) {
        if let Ok(mut v) = self.0.lock()
            && let Some(slot) = v.get_mut(i)
            && !matches!(slot, Slot::Done(_))
        {
            *slot = entry;
        }
    }

    /// The observations in endpoint order. An endpoint whose probe had not finished (the run
    /// was stopped) is skipped, with what its finished stages observed and the stage in flight.
    pub fn take(&self, endpoints: &[Arc<EndpointSpec>]) -> Vec<EndpointObservation> {
        let mut v = self.0.lock().map(|mut g| std::mem::take(&mut *g)).unwrap_or_default();
        v.resize(endpoints.len(), Slot::Empty);
        v.into_iter()
            .zip(endpoints)
            .map(|(slot, spec)| match slot {
                Slot::Done(obs) => *obs,
                Slot::Running(obs, stage, since) => {
                    let mut obs = *obs;
                    obs.skipped = true;
                    obs.interrupted = Some(Interrupted { stage, after_ms: ms(since.elapsed()) });
                    obs
                }
                Slot::Empty => EndpointObservation::skipped(spec.clone()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_status_labels_are_the_serde_names() {
        use DnsStatus::*;
        for s in [Ok, Nxdomain, Servfail, Refused, Timeout, NoAddresses, Error, NotNeeded, NotAttempted] {
            assert_eq!(serde_json::json!(s), s.as_str());
        }
    }
}
