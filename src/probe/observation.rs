//! What the stages observed, per endpoint: the data the probe records and diagnose and the
//! report read (no I/O here). Re-exported from [`crate::probe`], where every path names them
//! (`probe::DnsObservation`, ...).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{families, pmtu, proxy, revocation};
use crate::catalog::EndpointSpec;
use crate::trust::TrustVerdict;
use crate::trust::chain::CertFacts;

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
    pub(super) fn unstarted(spec: Arc<EndpointSpec>) -> Self {
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
