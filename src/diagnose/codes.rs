//! Finding codes, severities and the portal's usage error codes (stable names: add, never rename).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($( $(#[$m:meta])* $name:ident => $stage:literal ),* $(,)?) => {
        /// A finding code. The names are a contract (shared/DESIGN.md).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        pub enum Code { $( $(#[$m])* $name ),* }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$name ),* ];

            pub fn as_str(self) -> &'static str {
                match self { $( Code::$name => stringify!($name) ),* }
            }

            /// The stage the code belongs to: dns, tcp, proxy, tls, http or clock.
            pub fn stage(self) -> &'static str {
                match self { $( Code::$name => $stage ),* }
            }

            pub fn parse(s: &str) -> Option<Code> {
                Code::ALL.iter().copied().find(|c| c.as_str().eq_ignore_ascii_case(s))
            }
        }
    };
}

codes! {
    DnsNameNotFound => "dns",
    DnsServerFailure => "dns",
    DnsTimeout => "dns",
    DnsNoAddresses => "dns",
    DnsPrivateAddress => "dns",
    /// An answer in an RFC 6890 special-purpose range (198.18.0.0/15 of fake-IP DNS, 0.0.0.0 sinkholes, ...).
    DnsSpecialAddress => "dns",
    TcpConnectionRefused => "tcp",
    TcpConnectTimeout => "tcp",
    TcpUnreachable => "tcp",
    TcpConnectionReset => "tcp",
    ProxyUnreachable => "proxy",
    ProxyAuthenticationRequired => "proxy",
    ProxyDenied => "proxy",
    ProxyUpstreamFailed => "proxy",
    /// Info: NO_PROXY (or a WinHTTP bypass list with the same entries) means different things to
    /// curl, Go, .NET and WinHTTP for this endpoint; the readings are in the endpoint's proxy object.
    ProxyBypassAmbiguous => "proxy",
    TlsInterception => "tls",
    TlsUntrustedRoot => "tls",
    TlsCertificateExpired => "tls",
    TlsCertificateNotYetValid => "tls",
    TlsNameMismatch => "tls",
    TlsIncompleteChain => "tls",
    TlsWeakSignature => "tls",
    TlsProtocolVersion => "tls",
    TlsHandshakeFailed => "tls",
    TlsHandshakeTimeout => "tls",
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
    HttpTimeout => "http",
    HttpUnexpectedStatus => "http",
    /// The server answered with something that is not an HTTP response, or closed the connection first.
    HttpProtocolError => "http",
    /// A Microsoft service's edge (Azure Front Door) refused the request itself: 403 "The request is
    /// blocked" with an `x-azure-ref` reference ID.
    HttpBlockedAtServiceEdge => "http",
    ClockSkew => "clock",
    ClockDrift => "clock",
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
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

/// The error code the Azure Stack Hub portal shows when usage data cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum UsageError {
    NetworkError,
    RequestTimedOut,
    LoginError,
    CertificateValidationError,
    Unauthorized,
}

impl UsageError {
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
