//! The report's shape, pinned independently of the crate's own types: every field the binary
//! writes must be listed here (`deny_unknown_fields`), so a renamed or added field fails a test
//! until this file (and DESIGN.md's contract) says so.
#![allow(dead_code)]

use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema_version: String,
    pub tool: Tool,
    pub run: RunInfo,
    pub node: Node,
    pub config: Config,
    pub clock: Clock,
    pub endpoints: Vec<Endpoint>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
    /// `run --every` only.
    #[serde(default)]
    pub watch: Option<Watch>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watch {
    pub every_ms: u64,
    pub count: Option<u64>,
    pub rounds_total: u64,
    pub error_rounds_total: u64,
    pub rounds: Vec<WatchRound>,
    pub findings: Vec<WatchFinding>,
    pub intermittent: Vec<WatchFinding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchRound {
    pub round: u64,
    pub started_at: String,
    pub duration_ms: u64,
    pub verdict: Verdict,
    pub exit_code: u8,
    pub interrupted: bool,
    pub usage_errors: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchFinding {
    pub endpoint: Option<String>,
    pub code: String,
    pub severity: Severity,
    pub seen: u64,
    pub of: u64,
    pub in_last_round: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    pub id: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub interrupted: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub hostname: String,
    pub os: String,
    pub local_time: String,
    pub timezone: String,
    pub platform: Platform,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    pub proxies: Vec<PlatformProxy>,
    pub time_service: TimeService,
    pub tls_client: TlsClient,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformProxy {
    pub source: String,
    pub scope: Option<String>,
    pub proxy: Option<String>,
    pub bypass: Vec<String>,
    pub pac_url: Option<String>,
    pub auto_detect: bool,
    pub error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeService {
    pub service: String,
    pub mode: Option<String>,
    pub configured: Vec<String>,
    pub source: Option<String>,
    pub synchronized: Option<bool>,
    pub detail: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsClient {
    pub source: String,
    pub disabled_protocols: Vec<String>,
    pub detail: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub cloud: String,
    pub probe_set: ProbeSet,
    pub dns_servers: Vec<String>,
    pub dns_source: String,
    pub proxy: Option<Proxy>,
    pub trust: Trust,
    pub timeout_ms: u64,
    pub ntp_servers: Vec<String>,
    pub lang: String,
    pub redacted: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSet {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub source: String,
    pub uncovered: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proxy {
    pub url: String,
    pub source: ProxySource,
    pub no_proxy: Vec<String>,
    #[serde(default)]
    pub no_proxy_malformed: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxySource {
    Flag,
    Env,
    Winhttp,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    pub public: Store,
    pub system: Store,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    pub source: String,
    pub path: Option<String>,
    pub anchors: usize,
    pub errors: Vec<String>,
    pub engine: TrustEngine,
}

/// The engine that judges a store's chains.
#[derive(Deserialize, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum TrustEngine {
    Webpki,
    WindowsChainEngine,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    pub offset_seconds: Option<f64>,
    pub uncertainty_seconds: Option<f64>,
    pub verdict: ClockVerdict,
    pub sources: Vec<ClockSource>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockVerdict {
    Ok,
    Warning,
    Error,
    Unknown,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSource {
    pub kind: SourceKind,
    pub server: String,
    pub offset_seconds: Option<f64>,
    pub uncertainty_seconds: Option<f64>,
    pub rtt_ms: Option<u64>,
    pub stratum: Option<u8>,
    pub outlier: bool,
    pub error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Ntp,
    HttpDate,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub name: String,
    pub role: Role,
    pub url: String,
    pub host: String,
    pub port: u16,
    pub required: bool,
    pub represents: Option<String>,
    pub note: Option<String>,
    pub verdict: EndpointVerdict,
    pub stage: String,
    pub interrupted: Option<Interrupted>,
    pub started_ms: StageStarts,
    pub dns: Dns,
    pub tcp: Vec<Tcp>,
    pub proxy: Option<ProxyHop>,
    pub tls: Option<Tls>,
    pub http: Option<Http>,
    pub families: Vec<FamilyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyEntry {
    pub family: AddressFamily,
    pub address: String,
    pub first: bool,
    pub tls: Tls,
    pub http: Http,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressFamily {
    Ipv4,
    Ipv6,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageStarts {
    pub dns: Option<u64>,
    pub connect: Option<u64>,
    pub tls: Option<u64>,
    pub http: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interrupted {
    pub stage: Stage,
    pub after_ms: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Dns,
    Proxy,
    Tcp,
    Tls,
    Http,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Login,
    Registration,
    Usage,
    Graph,
    Marketplace,
    Diagnostics,
    Custom,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointVerdict {
    Ok,
    Warning,
    Error,
    Skipped,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    pub status: DnsStatus,
    pub server: Option<String>,
    pub duration_ms: u64,
    pub addresses: Vec<String>,
    pub cnames: Vec<String>,
    pub error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsStatus {
    Ok,
    Nxdomain,
    Servfail,
    Refused,
    Timeout,
    NoAddresses,
    Error,
    NotNeeded,
    NotAttempted,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tcp {
    pub address: String,
    pub status: TcpStatus,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub peer: Peer,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    Endpoint,
    Proxy,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpStatus {
    Ok,
    Refused,
    Timeout,
    Unreachable,
    Reset,
    Error,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyHop {
    pub url: String,
    pub status: ProxyStatus,
    pub http_status: Option<u16>,
    pub duration_ms: u64,
    pub address: Option<String>,
    pub authenticate: Vec<String>,
    pub credentials_sent: bool,
    pub reason: Option<String>,
    pub server: Option<String>,
    pub via: Option<String>,
    pub body_excerpt: Option<String>,
    pub bypass_rule: Option<String>,
    pub bypass_readings: Vec<BypassReading>,
    pub error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BypassReading {
    pub client: BypassClient,
    pub bypassed: bool,
    pub rule: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BypassClient {
    Probe,
    Curl,
    Go,
    Dotnet,
    Winhttp,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyStatus {
    Ok,
    Bypassed,
    Unreachable,
    AuthRequired,
    Denied,
    UpstreamFailed,
    Timeout,
    Error,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub status: TlsStatus,
    pub duration_ms: u64,
    pub address: Option<String>,
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
    pub alpn: Option<String>,
    pub sni: Option<String>,
    pub chain: Vec<Cert>,
    pub trust: Option<TrustVerdicts>,
    pub interception: Option<Interception>,
    pub alert: Option<String>,
    pub legacy_version: Option<String>,
    pub error: Option<String>,
    pub revocation: Option<Revocation>,
    pub bytes_received: Option<u64>,
    pub mss_retry: Option<MssRetry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MssRetry {
    pub mss: u32,
    pub status: RetryStatus,
    pub duration_ms: u64,
    pub bytes_received: u64,
    pub error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryStatus {
    Ok,
    Timeout,
    Failed,
    NotSupported,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    pub status: RevocationStatus,
    pub detail: Option<String>,
    pub checks: Vec<RevocationCheck>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationStatus {
    Good,
    Revoked,
    Unknown,
    Unreachable,
    Invalid,
    NotChecked,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationCheck {
    pub certificate: usize,
    pub kind: RevocationKind,
    pub url: String,
    pub via: Option<RevocationVia>,
    pub status: RevocationCheckStatus,
    pub http_status: Option<u16>,
    pub content_type: Option<String>,
    pub duration_ms: u64,
    pub failure: Option<RevocationFailure>,
    pub detail: String,
    pub next_update: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationKind {
    Crl,
    Ocsp,
    CaIssuers,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationVia {
    Direct,
    Proxy,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationCheckStatus {
    Ok,
    Revoked,
    Unknown,
    Unreachable,
    Invalid,
    Stale,
    Timeout,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationFailure {
    Dns,
    Tcp,
    Proxy,
    Timeout,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsStatus {
    Ok,
    HandshakeFailed,
    Timeout,
    Reset,
    NotAttempted,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cert {
    pub subject: String,
    pub issuer: String,
    pub subject_cn: Option<String>,
    pub issuer_cn: Option<String>,
    pub issuer_o: Option<String>,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    pub sha256: String,
    pub spki_sha256: String,
    pub sans: Vec<String>,
    pub is_ca: bool,
    pub path_len: Option<u32>,
    pub key: String,
    pub signature_algorithm: String,
    pub sct_count: usize,
    pub aia: Vec<String>,
    pub parse_error: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustVerdicts {
    pub public: String,
    pub system: String,
    pub public_detail: Option<String>,
    pub system_detail: Option<String>,
    pub system_engine: TrustEngine,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interception {
    pub detected: bool,
    pub product: Option<String>,
    pub issuer: Option<String>,
    pub trusted_by_system: bool,
    pub evidence: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub status: HttpStatus,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub date: Option<String>,
    pub server: Option<String>,
    pub via: Option<String>,
    pub proxy_headers: Vec<String>,
    pub edge_ref: Option<String>,
    pub body_excerpt: Option<String>,
    pub error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpStatus {
    Ok,
    Timeout,
    Error,
    NotAttempted,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub code: String,
    pub severity: Severity,
    pub endpoint: Option<String>,
    pub usage_error: Option<UsageError>,
    pub message: String,
    pub evidence: Map<String, Value>,
    pub remediation: Remediation,
}

#[derive(Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Deserialize)]
pub enum UsageError {
    NetworkError,
    RequestTimedOut,
    LoginError,
    CertificateValidationError,
    Unauthorized,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    pub summary: String,
    pub steps: Vec<String>,
    pub references: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub verdict: Verdict,
    pub exit_code: u8,
    pub usage_errors: Vec<UsageError>,
    pub counts: Counts,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Warning,
    Error,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

/// Parse a report with the pinned shape; panics with serde's message (field and line) on any drift.
pub fn check(text: &str) -> Report {
    let r: Report =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("report does not match the pinned shape: {e}"));
    assert_eq!(r.schema_version, "1");
    let worst = r.findings.iter().map(|f| &f.severity).max();
    let expected_exit = match worst {
        Some(Severity::Error) => 2,
        Some(Severity::Warning) => 1,
        _ => 0,
    };
    assert!(r.summary.exit_code == expected_exit || r.run.interrupted, "exit_code follows the worst finding");
    r
}
