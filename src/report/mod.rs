//! The report: serde types (schema_version "1"; field names are a contract: add, never rename),
//! built from observations and findings; written atomically; summarised.
//!
//! The doc comments of these types and fields are the descriptions of the published JSON
//! Schema (`azs-netprobe schema`, reports/schema/report.v1.schema.json): write them for a reader
//! of the report, who has neither the source nor the design notes.

mod build;
pub mod diff;
pub mod families;
pub mod fleet;
pub mod html;
pub mod prometheus;
pub mod redact;
pub mod summary;
pub mod text;
mod write;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use build::{BuildInput, attach_remediation, build};
pub use text::{printable, printable_lines};
pub use write::{Output, WriteError, check_writable, default_file_name, plan, to_json, write_atomic};

use crate::catalog::Role;
use crate::clock::ClockEstimate;
use crate::config::proxy::ProxySource;
pub use crate::diagnose::revocation::{CheckStatus, RevocationCheck, RevocationReport, RevocationStatus};
pub use crate::diagnose::verdict::{EndpointVerdict, Verdict};
use crate::diagnose::{Finding, UsageError};
pub use crate::probe::proxy::ProxyHop;
use crate::probe::{DnsStatus, HttpStatus, Peer, TcpStatus, TlsStatus};
use crate::trust::chain::CertFacts;
pub use crate::trust::intercept::Interception;
use crate::trust::{StoreSummary, TrustVerdict};

/// The report's `schema_version`: "1" (fields are added within a version, never renamed).
pub const SCHEMA_VERSION: &str = "1";

/// One run of `azs-netprobe run` on one node: what was probed, what was seen at each stage of
/// each endpoint (DNS, TCP, proxy, TLS, HTTP), the node's clock offset, and the findings that
/// map what was seen to the Azure Stack Hub portal's error codes, with remediation. The report
/// stands alone: it is meant to be attached to a support ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// The report format's version: "1". Fields may be added within a version, never renamed.
    pub schema_version: String,
    /// The program that wrote the report.
    pub tool: Tool,
    /// When the run started and ended, and whether it was stopped early.
    pub run: RunInfo,
    /// The node the run probed from: its name, OS, local time and settings.
    pub node: Node,
    /// What the run was asked to do: cloud, probe set, DNS servers, proxy, trust stores, timeout.
    pub config: ConfigInfo,
    /// The node's clock offset against the reference clocks (NTP servers, HTTP Date headers).
    pub clock: ClockEstimate,
    /// Every endpoint probed, in the probe set's order, with what each stage observed.
    pub endpoints: Vec<EndpointReport>,
    /// What the observations mean: each finding has a code, a severity, the endpoint it is about
    /// (null for node-wide ones: clock, platform), the portal code and the remediation.
    pub findings: Vec<Finding>,
    /// The run's verdict, exit code, portal codes and finding counts.
    pub summary: Summary,
    /// `run --every`: the rounds so far and the findings that came and went (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<crate::watch::WatchReport>,
}

/// The program that wrote a report (or a diff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    /// Always `azs-netprobe`.
    pub name: String,
    /// The program's version (Cargo package version, semver), e.g. `0.1.0`.
    pub version: String,
}

/// The run itself: its identity and when it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunInfo {
    /// A random UUID identifying this run.
    pub id: String,
    /// When the run started: RFC 3339, UTC, milliseconds (e.g. `2026-11-30T11:32:10.123Z`). The
    /// stages' `started_ms` count from here.
    pub started_at: String,
    /// When the run finished: RFC 3339, UTC, milliseconds.
    pub finished_at: String,
    /// `finished_at` minus `started_at`, in milliseconds.
    pub duration_ms: u64,
    /// The run was stopped (Ctrl-C, SIGTERM) before every endpoint finished.
    pub interrupted: bool,
}

/// The node the run probed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Node {
    /// The node's host name as the OS reports it (with `--redact`, a token: `host-` and 10 hex
    /// digits).
    pub hostname: String,
    /// Operating system and architecture, e.g. `linux x86_64 (Debian GNU/Linux 12)`.
    pub os: String,
    /// The node's local time when the run started, RFC 3339 with its UTC offset.
    pub local_time: String,
    /// IANA time zone name when known, else the UTC offset.
    pub timezone: String,
    /// What the node is set to use: proxies, time service, TLS client policy (`platform::read`).
    #[serde(default)]
    pub platform: crate::platform::Platform,
}

/// What the run was asked to do, after defaults were applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigInfo {
    /// The Azure cloud the stamp is registered to (`--cloud`): `AzureCloud` (the default),
    /// `AzureUSGovernment` or `AzureChinaCloud`; it chooses the built-in probe set.
    pub cloud: String,
    /// The probe set: the endpoints probed and where they came from.
    pub probe_set: ProbeSetInfo,
    /// The DNS servers queries went to (`host:port`).
    pub dns_servers: Vec<String>,
    /// `system` (the OS configuration) or `flag` (--dns-server).
    pub dns_source: String,
    /// The proxy used (credentials redacted), or null for direct connections.
    pub proxy: Option<ProxyInfo>,
    /// The two trust stores every presented chain is verified against.
    pub trust: TrustInfo,
    /// The bound of each stage (`--timeout`, default 10 s), in milliseconds.
    pub timeout_ms: u64,
    /// The NTP servers asked for the time (`HOST[:PORT]`, port 123 by default): `--ntp-server`,
    /// else the probe set's.
    pub ntp_servers: Vec<String>,
    /// The language of the findings' remediation (`--lang`): `en`, `fr` or `zh`.
    pub lang: String,
    /// Internal addresses and the node's name were replaced by tokens (`--redact`).
    #[serde(default)]
    pub redacted: bool,
}

/// The probe set the run used: the built-in one of the cloud, or a `--probes` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeSetInfo {
    /// The set's `name` (the cloud's name for built-in sets).
    pub name: String,
    /// The set's `version`, or `unversioned` when the file gives none.
    pub version: String,
    /// SHA-256 of the probe set's TOML text, 64 lowercase hex digits: two reports with the same
    /// hash probed the same endpoints.
    pub sha256: String,
    /// `builtin:<cloud>` or the path of the --probes file.
    pub source: String,
    /// Published destinations the set cannot probe (only a wildcard is published).
    pub uncovered: Vec<String>,
}

/// The proxy the run used for https:// endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProxyInfo {
    /// The proxy URL with any credentials replaced by `***`.
    pub url: String,
    /// `flag` (--proxy), `env` (HTTPS_PROXY / https_proxy / ALL_PROXY) or `winhttp` (Windows,
    /// the WinHTTP proxy).
    pub source: ProxySource,
    /// NO_PROXY / no_proxy entries: endpoints they match are reached directly.
    pub no_proxy: Vec<String>,
    /// NO_PROXY / no_proxy entries that could not be read (a bad CIDR, an invalid name): they
    /// exempt nothing. Left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_proxy_malformed: Vec<String>,
}

/// The trust stores loaded for the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrustInfo {
    /// The public anchors (webpki-roots, Mozilla's CA list; or `--public-roots`): what a client
    /// that trusts only public CAs accepts.
    pub public: StoreSummary,
    /// The node's own OS trust store (or `--system-roots`): what the node's clients accept,
    /// including any CA an administrator installed.
    pub system: StoreSummary,
}

/// One endpoint of the probe set and what each stage observed: DNS, then TCP (or the proxy
/// hop), TLS and one HTTP request. A stage that did not run is null (`tls`, `http`, `proxy`) or
/// has status `not_attempted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EndpointReport {
    /// The endpoint's name in the probe set (e.g. `entra-login`), unique within the report.
    pub name: String,
    /// What the endpoint is for; a failure on a `login` endpoint maps to the portal's
    /// `LoginError`.
    pub role: Role,
    /// The URL probed: `https://host[:port][/path]`, or `tcp://host:port` for connect-only checks.
    pub url: String,
    /// The URL's host: a DNS name, or an IP address (IPv6 without brackets).
    pub host: String,
    /// The URL's TCP port (443 by default for https://).
    pub port: u16,
    /// A failure here is an error (true) or only a warning (false, an optional endpoint).
    pub required: bool,
    /// The published wildcard this concrete host stands for, if any.
    pub represents: Option<String>,
    /// The probe set's note on the endpoint (why it is probed, what a failure means), if any.
    pub note: Option<String>,
    /// The worst severity of the endpoint's findings, or `skipped`.
    pub verdict: EndpointVerdict,
    /// The last stage reached and its outcome, e.g. `dns: nxdomain`, `http: 200`; for an
    /// interrupted run `tcp: interrupted` (the stage in flight) or `skipped: interrupted` (not started).
    pub stage: String,
    /// When the run was stopped while this endpoint was being probed: the stage in flight and
    /// for how long. The stages before it are reported as observed. Null otherwise.
    #[serde(default)]
    pub interrupted: Option<crate::probe::Interrupted>,
    /// When each stage began, in ms after `run.started_at` (null: the stage did not run). With
    /// the stages' `duration_ms`, the endpoint's timeline (all null in older reports).
    #[serde(default)]
    pub started_ms: crate::probe::StageStarts,
    /// The name's resolution (status `not_needed` for an IP literal).
    pub dns: DnsReport,
    /// One TCP connect per address tried, in the order tried: every resolved address for a
    /// direct connection (each is tried, not just the first), or the proxy's address.
    pub tcp: Vec<TcpReport>,
    /// The proxy hop (connect and CONNECT), when a proxy is configured, with status `bypassed`
    /// when NO_PROXY exempts the endpoint; null for direct connections.
    pub proxy: Option<ProxyHop>,
    /// Null for tcp:// endpoints.
    pub tls: Option<TlsReport>,
    /// Null for tcp:// endpoints.
    pub http: Option<HttpReport>,
    /// Direct HTTPS: TLS and HTTP over one connected address of each address family (the
    /// top-level `tls` and `http` are those of the first in the node's address order). Empty
    /// through a proxy, for tcp:// endpoints and in older reports.
    #[serde(default)]
    pub families: Vec<FamilyReport>,
}

/// TLS and HTTP over one connected address of one family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FamilyReport {
    /// `ipv4` or `ipv6`.
    pub family: crate::probe::families::Family,
    /// The connected address, `ip:port` (IPv6 as `[ip]:port`).
    pub address: String,
    /// This family comes first in the node's address order (RFC 6724; the OS tries it first).
    pub first: bool,
    /// The TLS handshake over this address (its `interception` and `revocation` are null: those
    /// are judged once, on the endpoint's top-level `tls`).
    pub tls: TlsReport,
    /// The HTTP request over this address.
    pub http: HttpReport,
}

/// The DNS stage: A and AAAA queries for the endpoint's host, sent at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DnsReport {
    /// How the lookup ended; when both queries fail, the most telling answer wins (NXDOMAIN,
    /// then REFUSED, SERVFAIL, silence, other errors).
    pub status: DnsStatus,
    /// The DNS servers the queries went to, `ip:port`, comma-separated (`--dns-server`, else the
    /// OS configuration); null when none is known.
    pub server: Option<String>,
    /// From the queries going out (after waiting for a resolver slot) to the answer, in
    /// milliseconds.
    pub duration_ms: u64,
    /// The A and AAAA addresses of the answer, in the order received, without duplicates.
    pub addresses: Vec<String>,
    /// The CNAME chain followed, names without the trailing dot; for a name that resolves to
    /// nothing, the chain chased by hand (where it breaks, or that it loops).
    pub cnames: Vec<String>,
    /// What went wrong, per query type (`A: ...; AAAA: ...`); null on success.
    pub error: Option<String>,
}

/// One TCP connect attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TcpReport {
    /// The address connected to, `ip:port` (IPv6 as `[ip]:port`).
    pub address: String,
    /// How the connect ended.
    pub status: TcpStatus,
    /// From the SYN to the outcome, in milliseconds.
    pub duration_ms: u64,
    /// The OS error, naming the address; null on success.
    pub error: Option<String>,
    /// `endpoint`, or `proxy` when the connection went to the proxy.
    pub peer: Peer,
}

/// The TLS stage: one handshake (TLS 1.2 or 1.3, ALPN `http/1.1`) over the first connected
/// address, or through the proxy's tunnel. The chain is verified twice, against the public
/// anchors and the OS store, and the handshake is let finish either way so that what follows
/// can still be observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TlsReport {
    /// How the handshake ended.
    pub status: TlsStatus,
    /// From the ClientHello to the handshake's end, in milliseconds.
    pub duration_ms: u64,
    /// The address the handshake ran over.
    pub address: Option<String>,
    /// The negotiated protocol version, `TLS 1.2` or `TLS 1.3`; null when the handshake did not
    /// complete.
    pub version: Option<String>,
    /// The negotiated cipher suite as rustls names it, e.g. `TLS13_AES_256_GCM_SHA384` or
    /// `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256` (the IANA TLS Cipher Suites registry's names,
    /// TLS 1.3 ones prefixed `TLS13_`); null when the handshake did not complete.
    pub cipher_suite: Option<String>,
    /// The application protocol the server chose (ALPN, RFC 7301), e.g. `http/1.1`; null when
    /// it chose none.
    pub alpn: Option<String>,
    /// The server name sent (SNI, RFC 6066): the host; null for an IP address (SNI carries
    /// names only).
    pub sni: Option<String>,
    /// The presented chain, leaf first.
    pub chain: Vec<CertFacts>,
    /// Each store's verdict on the chain; null when no certificate was seen.
    pub trust: Option<TrustReport>,
    /// Whether the connection is intercepted, decided from evidence (the stores' verdicts, the
    /// issuer, known inspection products, a proxy in the path); null when no chain was seen.
    pub interception: Option<Interception>,
    /// The TLS alert the server sent (RFC 8446 section 6), named as rustls names it, e.g.
    /// `HandshakeFailure`, `ProtocolVersion`; null when none.
    pub alert: Option<String>,
    /// After a failed handshake: the version the server picked when offered only TLS 1.0/1.1.
    pub legacy_version: Option<String>,
    /// What went wrong, naming the address; null on success.
    pub error: Option<String>,
    /// Bytes received from the server during the handshake (null: no handshake, older reports).
    #[serde(default)]
    pub bytes_received: Option<u64>,
    /// After a handshake that timed out once the ClientHello went out: the retry on a fresh
    /// connection advertising a small MSS (path-MTU black hole test); null otherwise.
    #[serde(default)]
    pub mss_retry: Option<crate::probe::pmtu::MssRetry>,
    /// The CRL, OCSP and caIssuers checks of the presented chain; null when no chain was seen.
    #[serde(default)]
    pub revocation: Option<RevocationReport>,
}

/// Each trust store's verdict on the presented chain (RFC 5280 path validation by webpki, at the
/// node's clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrustReport {
    /// The public anchors' verdict (`config.trust.public`).
    pub public: TrustVerdict,
    /// The OS store's verdict (`config.trust.system`).
    pub system: TrustVerdict,
    /// The verifier's error for the public anchors, in words; null when trusted.
    pub public_detail: Option<String>,
    /// The verifier's error for the OS store, in words; null when trusted.
    pub system_detail: Option<String>,
    /// The engine that gave `system`: `windows_chain_engine` (the Windows chain engine, as
    /// Schannel uses it: it fetches missing intermediates and roots) or `webpki` (the loaded
    /// anchors; Linux, `--system-roots`, and reports from before this field).
    #[serde(default)]
    pub system_engine: crate::trust::TrustEngine,
}

/// The HTTP stage: one `GET` of the URL's path (HTTP/1.1, `Connection: close`) and the response
/// head; the body is not read, except the first words of an error page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HttpReport {
    /// How the request ended (`ok`: a response head came back, whatever its status code).
    pub status: HttpStatus,
    /// The response's status code (RFC 9110), after skipping interim 1xx heads; null when no
    /// head came back. Which codes prove reachability is the probe set's choice per endpoint.
    pub status_code: Option<u16>,
    /// From sending the request to the response head, in milliseconds.
    pub duration_ms: u64,
    /// The response's `Date` header as sent (RFC 9110 IMF-fixdate, 1 s resolution): a clock
    /// source.
    pub date: Option<String>,
    /// The response's `Server` header.
    pub server: Option<String>,
    /// The response's `Via` header (RFC 9110): a proxy in the path.
    pub via: Option<String>,
    /// Headers proxies add (Via, X-Cache, ...): a proxy in the path even when none is configured.
    pub proxy_headers: Vec<String>,
    /// The service edge's reference ID (`X-Azure-Ref`, else `X-MSEdge-Ref`) for Microsoft support.
    pub edge_ref: Option<String>,
    /// For a status of 400 and above: the first words of the response page, markup removed.
    pub body_excerpt: Option<String>,
    /// What went wrong (no answer in time, a connection closed early, a malformed head); null
    /// when a head came back.
    pub error: Option<String>,
}

/// The run in one line: verdict, exit code, portal codes, counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    /// The worst severity among the findings.
    pub verdict: Verdict,
    /// The process exit code (the monitoring-plugin convention): 0 ok, 1 warnings only, 2 at
    /// least one error, 3 the run is incomplete (interrupted, or the probe's own resource
    /// limits kept an endpoint from being probed).
    pub exit_code: u8,
    /// The portal codes this node's error findings would surface as, sorted, without duplicates.
    pub usage_errors: Vec<UsageError>,
    /// How many findings of each severity.
    pub counts: Counts,
}

/// Findings per severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    /// Findings of severity `error`.
    pub error: usize,
    /// Findings of severity `warning`.
    pub warning: usize,
    /// Findings of severity `info`.
    pub info: usize,
}

/// The report's JSON Schema, pretty-printed (what `azs-netprobe schema` prints).
/// Errors: [`WriteError::Serialise`] if the schema cannot be serialised (never printed empty).
pub fn schema_json() -> Result<String, WriteError> {
    let schema = schemars::schema_for!(Report);
    let mut s = serde_json::to_string_pretty(&schema)
        .map_err(|e| WriteError::Serialise { what: "the report's JSON Schema".into(), cause: e.to_string() })?;
    s.push('\n');
    Ok(s)
}
