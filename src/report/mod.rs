//! The report: serde types (schema_version "1"; field names are the contract of
//! shared/DESIGN.md), built from observations and findings; written atomically; summarised.

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
pub use crate::diagnose::revocation::{CheckStatus, RevocationCheck, RevocationReport, RevocationStatus};
use crate::diagnose::{Finding, UsageError};
pub use crate::probe::proxy::ProxyHop;
use crate::probe::proxy::ProxySource;
use crate::probe::{DnsStatus, HttpStatus, Peer, TcpStatus, TlsStatus};
use crate::trust::chain::CertFacts;
pub use crate::trust::intercept::Interception;
use crate::trust::{StoreSummary, TrustVerdict};

pub const SCHEMA_VERSION: &str = "1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    pub schema_version: String,
    pub tool: Tool,
    pub run: RunInfo,
    pub node: Node,
    pub config: ConfigInfo,
    pub clock: ClockEstimate,
    pub endpoints: Vec<EndpointReport>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
    /// `run --every`: the rounds so far and the findings that came and went (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<crate::watch::WatchReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RunInfo {
    /// A random UUID identifying this run.
    pub id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    /// The run was stopped (Ctrl-C, SIGTERM) before every endpoint finished.
    pub interrupted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Node {
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConfigInfo {
    pub cloud: String,
    pub probe_set: ProbeSetInfo,
    /// The DNS servers queries went to (`host:port`).
    pub dns_servers: Vec<String>,
    /// `system` (the OS configuration) or `flag` (--dns-server).
    pub dns_source: String,
    /// The proxy used (credentials redacted), or null for direct connections.
    pub proxy: Option<ProxyInfo>,
    pub trust: TrustInfo,
    /// The bound of each stage, in milliseconds.
    pub timeout_ms: u64,
    pub ntp_servers: Vec<String>,
    pub lang: String,
    /// Internal addresses and the node's name were replaced by tokens (`--redact`).
    #[serde(default)]
    pub redacted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeSetInfo {
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// `builtin:<cloud>` or the path of the --probes file.
    pub source: String,
    /// Published destinations the set cannot probe (only a wildcard is published).
    pub uncovered: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProxyInfo {
    /// The proxy URL with any credentials replaced by `***`.
    pub url: String,
    /// `flag` (--proxy) or `env` (HTTPS_PROXY / https_proxy).
    pub source: ProxySource,
    /// NO_PROXY / no_proxy entries: endpoints they match are reached directly.
    pub no_proxy: Vec<String>,
    /// NO_PROXY / no_proxy entries that could not be read (a bad CIDR, an invalid name): they
    /// exempt nothing. Left out when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub no_proxy_malformed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrustInfo {
    pub public: StoreSummary,
    pub system: StoreSummary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointVerdict {
    Ok,
    Warning,
    Error,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct EndpointReport {
    pub name: String,
    pub role: Role,
    pub url: String,
    pub host: String,
    pub port: u16,
    pub required: bool,
    /// The published wildcard this concrete host stands for, if any.
    pub represents: Option<String>,
    pub note: Option<String>,
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
    pub dns: DnsReport,
    pub tcp: Vec<TcpReport>,
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
    pub address: String,
    /// This family comes first in the node's address order (RFC 6724; the OS tries it first).
    pub first: bool,
    pub tls: TlsReport,
    pub http: HttpReport,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DnsReport {
    pub status: DnsStatus,
    pub server: Option<String>,
    pub duration_ms: u64,
    pub addresses: Vec<String>,
    pub cnames: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TcpReport {
    pub address: String,
    pub status: TcpStatus,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// `endpoint`, or `proxy` when the connection went to the proxy.
    pub peer: Peer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TlsReport {
    pub status: TlsStatus,
    pub duration_ms: u64,
    /// The address the handshake ran over.
    pub address: Option<String>,
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
    pub alpn: Option<String>,
    pub sni: Option<String>,
    /// The presented chain, leaf first.
    pub chain: Vec<CertFacts>,
    /// Each store's verdict on the chain; null when no certificate was seen.
    pub trust: Option<TrustReport>,
    pub interception: Option<Interception>,
    pub alert: Option<String>,
    /// After a failed handshake: the version the server picked when offered only TLS 1.0/1.1.
    pub legacy_version: Option<String>,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TrustReport {
    pub public: TrustVerdict,
    pub system: TrustVerdict,
    pub public_detail: Option<String>,
    pub system_detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HttpReport {
    pub status: HttpStatus,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub date: Option<String>,
    pub server: Option<String>,
    pub via: Option<String>,
    /// Headers proxies add (Via, X-Cache, ...): a proxy in the path even when none is configured.
    pub proxy_headers: Vec<String>,
    /// The service edge's reference ID (`X-Azure-Ref`, else `X-MSEdge-Ref`) for Microsoft support.
    pub edge_ref: Option<String>,
    /// For a status of 400 and above: the first words of the response page, markup removed.
    pub body_excerpt: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Summary {
    pub verdict: Verdict,
    /// The process exit code: 0 ok, 1 warnings only, 2 at least one error.
    pub exit_code: u8,
    /// The portal codes this node's errors would surface as.
    pub usage_errors: Vec<UsageError>,
    pub counts: Counts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counts {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

/// The report's JSON Schema, pretty-printed (what `azs-netprobe schema` prints).
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Report);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}
