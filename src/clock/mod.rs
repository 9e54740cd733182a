//! Clock skew: sources (HTTP Date of every endpoint that answered) and the estimate of the
//! node's offset. Offsets are node minus reference: positive means the node is ahead.
//! This module measures only: the thresholds and the verdict are decided in
//! [`crate::diagnose::clock`].

pub mod sntp;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::Host;
use crate::probe::EndpointObservation;
use crate::probe::resolve::Resolver;

/// What kind of time reference a clock source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// An NTP server asked over UDP (SNTP, RFC 4330; RFC 5905 client mode).
    Ntp,
    /// The `Date` header of an endpoint's HTTP response (RFC 9110; 1 s resolution, and an
    /// intercepting proxy may rewrite it).
    HttpDate,
}

impl SourceKind {
    /// The stable label, as in the report (`ntp`, `http_date`).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Ntp => "ntp",
            SourceKind::HttpDate => "http_date",
        }
    }
}

/// The clock's verdict on `offset_seconds ± uncertainty_seconds` against two bounds on |offset|:
/// 60 s (drift) and 300 s (skew: the 5 minutes Kerberos and Entra ID token validation
/// tolerate). The band the whole interval lies in; an interval that spans two bands gets the
/// lower one when the uncertainty is at most 5 s (the benefit of the doubt), else `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockVerdict {
    /// |offset| at most 60 s.
    Ok,
    /// |offset| over 60 s, at most 300 s (ClockDrift).
    Warning,
    /// |offset| over 300 s: tokens are refused (ClockSkew).
    Error,
    /// No source gave a time, or the interval spans two bands with more than 5 s of uncertainty
    /// (ClockUnverified).
    Unknown,
}

impl ClockVerdict {
    /// The stable label, as in the report (`ok`, `warning`, `error`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClockVerdict::Ok => "ok",
            ClockVerdict::Warning => "warning",
            ClockVerdict::Error => "error",
            ClockVerdict::Unknown => "unknown",
        }
    }
}

/// One time reference and what it said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClockSource {
    /// `ntp` or `http_date`.
    pub kind: SourceKind,
    /// The server (host[:port]) or endpoint name.
    pub server: String,
    /// The node's clock minus this source's time, in seconds, to the millisecond (positive: the
    /// node is ahead). For NTP this is minus RFC 5905's offset θ = ((T2−T1)+(T3−T4))/2 (θ is the
    /// server's time minus the client's); for an HTTP Date, the node's time at the middle of the
    /// round trip minus (the Date + 0.5 s, the middle of its second). Null when the source gave
    /// no usable time (`error`).
    pub offset_seconds: Option<f64>,
    /// Uncertainty of this source's offset, in seconds (half the round trip, plus the Date
    /// header's 1 s resolution).
    pub uncertainty_seconds: Option<f64>,
    /// The round trip, in milliseconds: for NTP RFC 5905's delay δ = (T4−T1)−(T3−T2) (the
    /// server's holding time left out); for an HTTP Date, from the request to the response head.
    pub rtt_ms: Option<u64>,
    /// NTP stratum of the server (1 = attached to a reference clock).
    pub stratum: Option<u8>,
    /// The source disagrees with the majority of the others and was left out of the estimate.
    pub outlier: bool,
    /// Why the source gave no offset (no answer, kiss-o'-death, an unsynchronised server, an
    /// unparseable Date), or why it was left out (an outlier); null otherwise.
    pub error: Option<String>,
}

/// The node's clock offset, estimated from every source, robust to a minority of wrong ones.
/// Sign: node minus reference (positive: the node is ahead), the opposite of RFC 5905's θ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClockEstimate {
    /// The node's clock minus the reference time, in seconds, to the millisecond: positive when
    /// the node is ahead, negative when it is behind. This is minus RFC 5905's offset θ (θ is
    /// the server's time minus the client's). The median of the sources that agree with the
    /// median of all when they are a strict majority (the others are flagged `outlier`), else
    /// the median of all; null when no source gave a time.
    pub offset_seconds: Option<f64>,
    /// Half-width of the interval the offset lies in, in seconds: the best agreeing source's
    /// uncertainty, or, when the sources do not agree, wide enough to cover their spread.
    pub uncertainty_seconds: Option<f64>,
    /// The offset's band: ok (≤ 60 s), warning (≤ 300 s), error, or unknown.
    pub verdict: ClockVerdict,
    /// Every source asked: the NTP servers (in the order configured), then the HTTP Date of each
    /// endpoint that answered with one.
    pub sources: Vec<ClockSource>,
}

fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    match a.duration_since(b) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// The HTTP Date of one answered request as a clock source.
pub fn http_date_source(obs: &EndpointObservation) -> Option<ClockSource> {
    let http = obs.http.as_ref()?;
    let date = http.date.as_ref()?;
    let server = obs.spec.name.clone();
    let (Some(sent), Some(received)) = (http.sent_at, http.received_at) else {
        return None;
    };
    let rtt = secs_between(received, sent).max(0.0);
    let rtt_ms = Some((rtt * 1000.0).round() as u64);
    match httpdate::parse_http_date(date) {
        Err(e) => Some(ClockSource {
            kind: SourceKind::HttpDate,
            server,
            offset_seconds: None,
            uncertainty_seconds: None,
            rtt_ms,
            stratum: None,
            outlier: false,
            error: Some(format!("unparseable Date header `{date}`: {e}")),
        }),
        Ok(server_time) => {
            // The Date header truncates to the second: the server's clock read date + [0, 1) s,
            // at some instant between sending and receiving.
            let node_mid = secs_between(sent, SystemTime::UNIX_EPOCH) + rtt / 2.0;
            let server_mid = secs_between(server_time, SystemTime::UNIX_EPOCH) + 0.5;
            Some(ClockSource {
                kind: SourceKind::HttpDate,
                server,
                offset_seconds: Some(round3(node_mid - server_mid)),
                uncertainty_seconds: Some(round3(0.5 + rtt / 2.0)),
                rtt_ms,
                stratum: None,
                outlier: false,
                error: None,
            })
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// How far (seconds) a source may be from the median and still agree with it: its own
/// uncertainty three times over, and never less than 2 s.
fn agrees(source: &ClockSource, median: f64) -> bool {
    match (source.offset_seconds, source.uncertainty_seconds) {
        (Some(o), Some(u)) => (o - median).abs() <= (3.0 * u).max(2.0),
        _ => false,
    }
}

/// What the sources say about the node's clock, before any verdict: the offset and its
/// uncertainty (seconds, rounded to the millisecond as reported; None when no source gave an
/// offset), the exact values the verdict is decided on, and the sources (outliers flagged).
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Node minus reference, seconds, rounded to the millisecond.
    pub offset_seconds: Option<f64>,
    /// Seconds, rounded to the millisecond.
    pub uncertainty_seconds: Option<f64>,
    /// `(offset, uncertainty)` before rounding: what the verdict is decided on.
    pub exact: Option<(f64, f64)>,
    /// Every source asked, outliers flagged (with why in their `error`).
    pub sources: Vec<ClockSource>,
}

/// Combine sources, robust to a minority of lying ones: the sources that agree with the median
/// (a strict majority of them) make the estimate; the others are flagged as outliers. Without a
/// majority nothing is flagged and the uncertainty covers the spread.
pub fn measure(mut sources: Vec<ClockSource>) -> Measurement {
    let offsets: Vec<f64> = sources.iter().filter_map(|s| s.offset_seconds).collect();
    let Some(m) = median(offsets.clone()) else {
        return Measurement { offset_seconds: None, uncertainty_seconds: None, exact: None, sources };
    };
    let agreeing = sources.iter().filter(|s| agrees(s, m)).count();
    let (offset, uncertainty) = if agreeing * 2 > offsets.len() {
        for s in sources.iter_mut().filter(|s| s.offset_seconds.is_some()) {
            if !agrees(s, m) {
                s.outlier = true;
                let off = s.offset_seconds.unwrap_or_default();
                s.error = Some(format!("disagrees with the other sources by {:.1} s: left out", off - m));
            }
        }
        let good: Vec<&ClockSource> = sources.iter().filter(|s| s.offset_seconds.is_some() && !s.outlier).collect();
        let o = median(good.iter().filter_map(|s| s.offset_seconds).collect()).unwrap_or(m);
        // The best single source bounds what is known; the agreeing spread is inside the threshold.
        let u = good.iter().filter_map(|s| s.uncertainty_seconds).fold(f64::INFINITY, f64::min);
        (o, u)
    } else {
        let (lo, hi) = offsets.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &o| (a.min(o), b.max(o)));
        let u = median(sources.iter().filter_map(|s| s.uncertainty_seconds).collect()).unwrap_or(0.0);
        (m, u.max((hi - lo) / 2.0))
    };
    Measurement {
        offset_seconds: Some(round3(offset)),
        uncertainty_seconds: Some(round3(uncertainty)),
        exact: Some((offset, uncertainty)),
        sources,
    }
}

/// Split `HOST[:PORT]` (IPv6 as `[addr]:port`); port 123 by default.
pub fn split_host_port(s: &str) -> Option<(Host, u16)> {
    parse_ntp_server(s).ok()
}

/// Parse an NTP server `HOST[:PORT]` (IPv6 as `[addr]:port`, port 123 by default), the host
/// checked as the resolver will (see [`crate::catalog::validate_host_name`]). The error says
/// which rule `s` breaks.
pub fn parse_ntp_server(s: &str) -> Result<(Host, u16), String> {
    let s = s.trim();
    let port_ok =
        |port: u16| if port == 0 { Err("port 0 is not a port a server listens on".to_string()) } else { Ok(port) };
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Ok((Host::Ip(sa.ip()), port_ok(sa.port())?));
    }
    if let Ok(ip) = s.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok((Host::Ip(ip), 123));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| format!("`{p}` is not a port (1-65535)"))?),
        None => (s, 123),
    };
    if host.is_empty() {
        return Err("the host is empty".into());
    }
    let host = crate::catalog::parse_host(host).map_err(|e| format!("`{host}` is not a valid host name: {e}"))?;
    Ok((host, port_ok(port)?))
}

/// Ask every NTP server at once (each bounded by `timeout`), each answer added to `sink` as soon as it is known (so that a
/// run stopped half-way keeps the answers it had).
pub async fn ntp_sources_into(
    resolver: &Resolver,
    servers: &[String],
    timeout: Duration,
    sink: &std::sync::Mutex<Vec<ClockSource>>,
) {
    let each = servers.iter().cloned().map(|s| async move {
        let src = ntp_source(resolver, s, timeout).await;
        if let Ok(mut v) = sink.lock() {
            v.push(src);
        }
    });
    futures::future::join_all(each).await;
}

/// Ask one NTP server (`HOST[:PORT]`).
pub async fn ntp_source(resolver: &Resolver, server: String, timeout: Duration) -> ClockSource {
    let one = |server: String| async move {
        let mut src = ClockSource {
            kind: SourceKind::Ntp,
            server: server.clone(),
            offset_seconds: None,
            uncertainty_seconds: None,
            rtt_ms: None,
            stratum: None,
            outlier: false,
            error: None,
        };
        let (host, port) = match parse_ntp_server(&server) {
            Ok(hp) => hp,
            Err(e) => {
                src.error = Some(format!("`{}` is not HOST[:PORT]: {e}", src.server));
                return src;
            }
        };
        let ip = match host {
            Host::Ip(ip) => ip,
            Host::Name(name) => {
                let d = resolver.resolve(&name).await;
                match d.addresses.iter().find(|a| a.is_ipv4()).or(d.addresses.first()) {
                    Some(ip) => *ip,
                    None => {
                        src.error = Some(format!(
                            "cannot resolve {name} ({}): {}",
                            serde_json::json!(d.status).as_str().unwrap_or("error"),
                            d.error.unwrap_or_default()
                        ));
                        return src;
                    }
                }
            }
        };
        match sntp::query(SocketAddr::new(ip, port), timeout).await {
            Ok(sample) => {
                src.offset_seconds = Some(round3(sample.offset));
                src.uncertainty_seconds = Some(round3(sample.delay / 2.0));
                src.rtt_ms = Some((sample.delay * 1000.0).round() as u64);
                src.stratum = Some(sample.stratum);
            }
            Err(e) => src.error = Some(e),
        }
        src
    };
    one(server).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("time.windows.com"), Some((Host::Name("time.windows.com".into()), 123)));
        assert_eq!(split_host_port("127.0.0.1:5123"), Some((Host::Ip("127.0.0.1".parse().unwrap()), 5123)));
        assert_eq!(split_host_port("[::1]:5123"), Some((Host::Ip("::1".parse().unwrap()), 5123)));
        assert_eq!(split_host_port("::1"), Some((Host::Ip("::1".parse().unwrap()), 123)));
        assert_eq!(split_host_port("ntp.corp:x"), None);
        assert_eq!(split_host_port("bad host"), None);
        assert_eq!(split_host_port("a..b.test"), None);
        assert_eq!(split_host_port("127.0.0.1:0"), None);
        assert_eq!(split_host_port("ntp.corp:0"), None);
        assert!(parse_ntp_server("a..b.test").unwrap_err().contains("label 2 is empty"));
    }
}
