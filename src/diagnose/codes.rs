//! Finding codes, severities and the portal's usage error codes (stable names: add, never rename).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($( $(#[$m:meta])* $name:ident => $stage:literal ),* $(,)?) => {
        /// A finding code: what was found, as a stable name (codes are added, never renamed:
        /// scripts and monitoring match on them). Each belongs to one stage (dns, tcp, proxy,
        /// tls, http, clock, platform); `azs-netprobe explain CODE` prints its remediation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum Code { $( $(#[$m])* $name ),* }

        impl Code {
            /// Every code, in the order of the list below.
            pub const ALL: &'static [Code] = &[ $( Code::$name ),* ];

            /// The stable label: the code's name, as serialised in the report.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$name => stringify!($name) ),* }
            }

            /// The stage the code belongs to: dns, tcp, proxy, tls, http, clock or platform (the node's
            /// own settings).
            pub fn stage(self) -> &'static str {
                match self { $( Code::$name => $stage ),* }
            }

            /// The code named `s`, ignoring ASCII case; None for anything else.
            pub fn parse(s: &str) -> Option<Code> {
                Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(s))
            }
        }
    };
}

codes! {
    /// The DNS servers the node uses say the name does not exist (NXDOMAIN).
    DnsNameNotFound => "dns",
    /// The DNS server failed or refused to resolve the name (SERVFAIL, REFUSED, or a resolver
    /// configuration that cannot be used).
    DnsServerFailure => "dns",
    /// No DNS server answered in time.
    DnsTimeout => "dns",
    /// The name exists but has no A or AAAA record.
    DnsNoAddresses => "dns",
    /// A public endpoint resolves to a private, loopback or link-local address (RFC 1918,
    /// RFC 4193, ...): split-horizon DNS, a stale hosts entry or a Private Link zone.
    DnsPrivateAddress => "dns",
    /// An answer in an RFC 6890 special-purpose range (198.18.0.0/15 of fake-IP DNS, 0.0.0.0 sinkholes, ...).
    DnsSpecialAddress => "dns",
    /// The connect was refused (TCP RST): nothing listens there, or a firewall rejects.
    TcpConnectionRefused => "tcp",
    /// The connect got no answer: packets to the address are dropped.
    TcpConnectTimeout => "tcp",
    /// No route to the address from this node (host or network unreachable).
    TcpUnreachable => "tcp",
    /// The connection was reset while being set up or during the TLS handshake (after the
    /// ClientHello: often a filter that reads the SNI).
    TcpConnectionReset => "tcp",
    /// The configured proxy's name did not resolve, or no connection to it could be made.
    ProxyUnreachable => "proxy",
    /// The proxy asks for credentials (HTTP 407 to CONNECT).
    ProxyAuthenticationRequired => "proxy",
    /// The proxy refused to open a tunnel to the endpoint (HTTP 403 or another refusal).
    ProxyDenied => "proxy",
    /// The proxy could not reach the endpoint itself (HTTP 502, 503 or 504 to CONNECT).
    ProxyUpstreamFailed => "proxy",
    /// Info: NO_PROXY (or a WinHTTP bypass list with the same entries) means different things to
    /// curl, Go, .NET and WinHTTP for this endpoint; the readings are in the endpoint's proxy object.
    ProxyBypassAmbiguous => "proxy",
    /// Something in the path re-signs TLS: the chain comes from a CA that is not the service's
    /// (a CA only the OS store trusts, a known inspection product, a proxy in the path).
    TlsInterception => "tls",
    /// The chain does not lead to a root either store trusts, and nothing points to interception.
    TlsUntrustedRoot => "tls",
    /// A certificate of the chain has expired. When the node's clock is the cause (the chain is
    /// valid at the reference time), only info, with the clock code as `evidence.root_cause`.
    TlsCertificateExpired => "tls",
    /// A certificate of the chain is not valid yet. When the node's clock is the cause (the chain
    /// is valid at the reference time), only info, with the clock code as `evidence.root_cause`.
    TlsCertificateNotYetValid => "tls",
    /// The leaf certificate is not valid for the endpoint's host name.
    TlsNameMismatch => "tls",
    /// The server did not send the intermediate certificate needed to build a trusted chain.
    TlsIncompleteChain => "tls",
    /// A certificate of the chain is signed with a weak algorithm (SHA-1 or MD5).
    TlsWeakSignature => "tls",
    /// The server speaks only TLS versions older than 1.2.
    TlsProtocolVersion => "tls",
    /// The TLS handshake failed for another reason (an alert, no common cipher, not TLS).
    TlsHandshakeFailed => "tls",
    /// The TLS handshake did not complete in time.
    TlsHandshakeTimeout => "tls",
    /// A publicly trusted chain, but from an issuer the endpoint is not known to use (the probe
    /// set's `expected_issuers`).
    TlsUnexpectedIssuer => "tls",
    /// The chain is longer than verifiers accept.
    TlsChainTooLong => "tls",
    /// A presented certificate is not valid DER.
    TlsMalformedCertificate => "tls",
    /// The handshake stalls on full-size segments and completes with a small MSS: a path-MTU
    /// black hole (ICMP "fragmentation needed" / "packet too big" filtered). Never interception.
    TlsPathMtuBlackHole => "tls",
    /// A CRL or OCSP answer says a presented certificate is revoked.
    TlsCertificateRevoked => "tls",
    /// No answer from a revocation URL (CRL, OCSP) of a presented certificate.
    RevocationUnreachable => "tls",
    /// A revocation URL answered with something that is not a valid, current answer.
    RevocationResponseInvalid => "tls",
    /// Connected and TLS done, but no response head came back in time.
    HttpTimeout => "http",
    /// An HTTP status the real service does not send for this request (not in the probe set's
    /// reachable statuses for the endpoint).
    HttpUnexpectedStatus => "http",
    /// The server answered with something that is not an HTTP response, or closed the connection first.
    HttpProtocolError => "http",
    /// A Microsoft service's edge (Azure Front Door) refused the request itself: 403 "The request is
    /// blocked" with an `x-azure-ref` reference ID.
    HttpBlockedAtServiceEdge => "http",
    /// The node's clock is off by more than 300 s: beyond token validation's tolerance.
    ClockSkew => "clock",
    /// The node's clock is off by more than 60 s, at most 300 s: within tolerance, but drifting.
    ClockDrift => "clock",
    /// No time source answered, or their answers were too far apart or too slow to decide.
    ClockUnverified => "clock",
    /// The node's proxy settings (WinHTTP, WinINet, environment) disagree.
    ProxyConfigMismatch => "platform",
    /// A PAC script URL or WPAD auto-detection is configured (the script is not evaluated).
    ProxyAutoConfig => "platform",
    /// The node's time service syncs from nothing, lacks the client-mode flag, or follows a
    /// source other than the one configured.
    TimeSourceUnreliable => "platform",
    /// The OS TLS client (Schannel, .NET) has TLS 1.2 switched off.
    TlsClientProtocolDisabled => "platform",
}

/// How bad a finding is. A failure on a required endpoint is an error, on an optional one a
/// warning; some findings are warnings or info by nature. The worst decides the verdicts and the
/// exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; changes no verdict.
    Info,
    /// Something will or may fail (exit code 1 when there is no error).
    Warning,
    /// Something the usage bridge, registration or login needs is broken (exit code 2).
    Error,
}

impl Severity {
    /// The stable label, as in the report (`info`, `warning`, `error`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The error code the Azure Stack Hub portal shows when usage data cannot be sent. Any failure on
/// a login endpoint is LoginError; elsewhere DNS, TCP and proxy failures are NetworkError, TLS and
/// HTTP timeouts RequestTimedOut, certificate problems CertificateValidationError, clock skew
/// Unauthorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum UsageError {
    /// The usage bridge could not send its request (DNS, TCP, proxy failures).
    NetworkError,
    /// The request went out, no answer came back in time (TLS or HTTP timeouts).
    RequestTimedOut,
    /// The bridge could not sign in to Entra ID (any failure on a login endpoint).
    LoginError,
    /// The bridge could not authenticate the service (interception, an untrusted, expired or
    /// misnamed chain).
    CertificateValidationError,
    /// The service rejected the bridge (clock skew beyond token tolerance, as far as a probe can see).
    Unauthorized,
}

impl UsageError {
    /// The stable label: the portal code's name, as serialised in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            UsageError::NetworkError => "NetworkError",
            UsageError::RequestTimedOut => "RequestTimedOut",
            UsageError::LoginError => "LoginError",
            UsageError::CertificateValidationError => "CertificateValidationError",
            UsageError::Unauthorized => "Unauthorized",
        }
    }
}

/// DESIGN.md's mapping: any failure on a login endpoint is LoginError; DNS/TCP/proxy failures
/// elsewhere NetworkError; TLS/HTTP timeouts RequestTimedOut; certificate problems
/// CertificateValidationError; ClockSkew Unauthorized.
pub fn usage_error(code: Code, login_role: bool) -> Option<UsageError> {
    use Code::*;
    let base = match code {
        ClockSkew => return Some(UsageError::Unauthorized),
        ClockDrift | ClockUnverified | ProxyBypassAmbiguous => return None,
        ProxyConfigMismatch | ProxyAutoConfig | TimeSourceUnreliable => return None,
        TlsClientProtocolDisabled => UsageError::NetworkError,
        DnsNameNotFound
        | DnsServerFailure
        | DnsTimeout
        | DnsNoAddresses
        | DnsPrivateAddress
        | DnsSpecialAddress
        | TcpConnectionRefused
        | TcpConnectTimeout
        | TcpUnreachable
        | TcpConnectionReset
        | ProxyUnreachable
        | ProxyAuthenticationRequired
        | ProxyDenied
        | ProxyUpstreamFailed
        | TlsHandshakeFailed
        | HttpUnexpectedStatus
        | HttpProtocolError
        | HttpBlockedAtServiceEdge => UsageError::NetworkError,
        TlsHandshakeTimeout | TlsPathMtuBlackHole | HttpTimeout => UsageError::RequestTimedOut,
        TlsInterception
        | TlsUntrustedRoot
        | TlsCertificateExpired
        | TlsCertificateNotYetValid
        | TlsNameMismatch
        | TlsIncompleteChain
        | TlsWeakSignature
        | TlsProtocolVersion
        | TlsUnexpectedIssuer
        | TlsChainTooLong
        | TlsMalformedCertificate
        | TlsCertificateRevoked
        | RevocationUnreachable
        | RevocationResponseInvalid => UsageError::CertificateValidationError,
    };
    Some(if login_role { UsageError::LoginError } else { base })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_serialize_as_named() {
        for c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(*c));
            assert_eq!(serde_json::to_value(c).unwrap(), serde_json::json!(c.as_str()));
        }
        assert_eq!(Code::parse("dnsnamenotfound"), Some(Code::DnsNameNotFound));
    }

    #[test]
    fn mapping_follows_design() {
        assert_eq!(usage_error(Code::DnsNameNotFound, false), Some(UsageError::NetworkError));
        assert_eq!(usage_error(Code::DnsNameNotFound, true), Some(UsageError::LoginError));
        assert_eq!(usage_error(Code::TlsHandshakeTimeout, false), Some(UsageError::RequestTimedOut));
        assert_eq!(usage_error(Code::HttpTimeout, true), Some(UsageError::LoginError));
        assert_eq!(usage_error(Code::TlsUntrustedRoot, false), Some(UsageError::CertificateValidationError));
        assert_eq!(usage_error(Code::ClockSkew, true), Some(UsageError::Unauthorized));
        assert_eq!(usage_error(Code::ClockDrift, false), None);
        assert_eq!(usage_error(Code::HttpBlockedAtServiceEdge, false), Some(UsageError::NetworkError));
        assert_eq!(usage_error(Code::HttpBlockedAtServiceEdge, true), Some(UsageError::LoginError));
    }
}
