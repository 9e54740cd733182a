//! Endpoint targets: `https://host[:port][/path]` and `tcp://host:port`.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What one endpoint is: an HTTPS URL (resolve, connect, TLS, one GET) or a TCP address
/// (resolve and connect only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Target {
    Https { host: Host, port: u16, path: String },
    Tcp { host: Host, port: u16 },
}

/// A target's host: a DNS name (lower-case, no trailing dot) or an IP literal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl Host {
    /// The host as a bare string (an IPv6 literal without brackets), as used for SNI and reports.
    pub fn bare(&self) -> String {
        match self {
            Host::Name(n) => n.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }
}

/// Why a target string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("`{0}` is not a URL: {1} (expected https://host[:port][/path] or tcp://host:port)")]
    Parse(String, String),
    #[error("`{0}`: scheme `{1}` is not supported (expected https:// or tcp://)")]
    Scheme(String, String),
    #[error("`{0}` has no host")]
    NoHost(String),
    #[error("`{0}`: a tcp:// target needs a port (tcp://host:port)")]
    NoPort(String),
    #[error("`{0}`: a tcp:// target takes no path, query or credentials")]
    TcpExtra(String),
    #[error("`{0}`: credentials in an endpoint URL are not accepted")]
    Credentials(String),
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        let url = url::Url::parse(s.trim()).map_err(|e| TargetError::Parse(s.into(), e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Credentials(s.into()));
        }
        let host = match url.host() {
            // Non-special schemes (tcp://) leave IPv4 literals as opaque domains.
            Some(url::Host::Domain(d)) => match d.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) => Host::Name(d.trim_end_matches('.').to_ascii_lowercase()),
            },
            Some(url::Host::Ipv4(ip)) => Host::Ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Host::Ip(IpAddr::V6(ip)),
            None => return Err(TargetError::NoHost(s.into())),
        };
        if matches!(&host, Host::Name(n) if n.is_empty()) {
            return Err(TargetError::NoHost(s.into()));
        }
        match url.scheme() {
            "https" => {
                let port = url.port().unwrap_or(443);
                let mut path = url.path().to_string();
                if path.is_empty() {
                    path.push('/');
                }
                if let Some(q) = url.query() {
                    path.push('?');
                    path.push_str(q);
                }
                Ok(Target::Https { host, port, path })
            }
            "tcp" => {
                let port = url.port().ok_or_else(|| TargetError::NoPort(s.into()))?;
                if (url.path() != "" && url.path() != "/") || url.query().is_some() || url.fragment().is_some() {
                    return Err(TargetError::TcpExtra(s.into()));
                }
                Ok(Target::Tcp { host, port })
            }
            other => Err(TargetError::Scheme(s.into(), other.into())),
        }
    }

    pub fn host(&self) -> &Host {
        match self {
            Target::Https { host, .. } | Target::Tcp { host, .. } => host,
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            Target::Https { port, .. } | Target::Tcp { port, .. } => *port,
        }
    }

    pub fn is_https(&self) -> bool {
        matches!(self, Target::Https { .. })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Https { host, port: 443, path } => write!(f, "https://{host}{path}"),
            Target::Https { host, port, path } => write!(f, "https://{host}:{port}{path}"),
            Target::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

impl TryFrom<String> for Target {
    type Error = TargetError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Target::parse(&s)
    }
}

impl From<Target> for String {
    fn from(t: Target) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_https_with_defaults() {
        let t = Target::parse("https://Login.MicrosoftOnline.com.").unwrap();
        assert_eq!(
            t,
            Target::Https { host: Host::Name("login.microsoftonline.com".into()), port: 443, path: "/".into() }
        );
        assert_eq!(t.to_string(), "https://login.microsoftonline.com/");
    }

    #[test]
    fn keeps_port_path_and_query() {
        let t = Target::parse("https://management.azure.com:8443/metadata/endpoints?api-version=2015-01-01").unwrap();
        assert_eq!(t.port(), 8443);
        assert_eq!(t.to_string(), "https://management.azure.com:8443/metadata/endpoints?api-version=2015-01-01");
    }

    #[test]
    fn parses_tcp_and_ip_literals() {
        assert_eq!(
            Target::parse("tcp://10.0.0.5:5985").unwrap(),
            Target::Tcp { host: Host::Ip("10.0.0.5".parse().unwrap()), port: 5985 }
        );
        let v6 = Target::parse("https://[::1]:4443/x").unwrap();
        assert_eq!(v6.host().bare(), "::1");
        assert_eq!(v6.to_string(), "https://[::1]:4443/x");
    }

    #[test]
    fn refuses_what_it_cannot_probe() {
        assert!(matches!(Target::parse("http://x.example"), Err(TargetError::Scheme(..))));
        assert!(matches!(Target::parse("tcp://x.example"), Err(TargetError::NoPort(..))));
        assert!(matches!(Target::parse("tcp://x.example:1/a"), Err(TargetError::TcpExtra(..))));
        assert!(matches!(Target::parse("https://u:p@x.example/"), Err(TargetError::Credentials(..))));
        assert!(matches!(Target::parse("login.microsoftonline.com"), Err(TargetError::Parse(..))));
    }
}
