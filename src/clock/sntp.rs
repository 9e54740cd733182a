//! SNTP client (RFC 4330 / RFC 5905 client mode): one request per server over UDP.
//! offset = ((T2 − T1) + (T3 − T4)) / 2 is the server's clock minus ours; delay = (T4 − T1) − (T3 − T2).

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;

/// Seconds from the NTP epoch (1900-01-01, era 0) to the Unix epoch.
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
const ERA: f64 = 4_294_967_296.0;

/// A 64-bit NTP timestamp for a Unix time.
pub fn to_ntp(t: SystemTime) -> u64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = (d.as_secs() + NTP_UNIX_OFFSET) & 0xffff_ffff;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// Seconds since the Unix epoch of an NTP timestamp, in the era closest to `near` (so the
/// 2036 rollover of the 32-bit seconds field is handled).
pub fn from_ntp(ts: u64, near: f64) -> f64 {
    let secs = (ts >> 32) as f64 + (ts & 0xffff_ffff) as f64 / ERA;
    let unix_era0 = secs - NTP_UNIX_OFFSET as f64;
    let eras = ((near - unix_era0) / ERA).round();
    unix_era0 + eras * ERA
}

fn unix_secs(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// A client request: LI 0, version 4, mode 3 (client), transmit timestamp = T1.
pub fn request(t1: u64) -> [u8; 48] {
    let mut p = [0u8; 48];
    p[0] = 0b00_100_011;
    p[40..48].copy_from_slice(&t1.to_be_bytes());
    p
}

/// What one server said, or why its answer was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Our clock minus the server's, seconds (positive: this node is ahead).
    pub offset: f64,
    /// Round-trip delay, seconds.
    pub delay: f64,
    /// The server's stratum (RFC 5905 section 7.3): 1 for a primary reference, up to 15.
    pub stratum: u8,
}

/// Why an SNTP reply (RFC 4330 / RFC 5905 packet format) was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SntpError {
    /// Shorter than the 48-byte NTP header (the length received).
    #[error("reply of {0} bytes is too short for NTP (48 at least)")]
    Short(usize),
    /// Not a server reply: mode other than 4 (the mode).
    #[error("reply is not from a server (mode {0})")]
    Mode(u8),
    /// An NTP version outside 1-4 (the version).
    #[error("reply has NTP version {0}")]
    Version(u8),
    /// Stratum 0, a kiss-o'-death packet (RFC 5905 section 7.4): the kiss code from the reference
    /// ID field, as printable ASCII (`RATE`, `DENY`, ...).
    #[error("kiss-o'-death {0}: the server refuses to serve this client")]
    KissOfDeath(String),
    /// Leap indicator 3 (clock not synchronised) or stratum 16 and above (the stratum).
    #[error("the server is not synchronised (leap indicator 3 or stratum {0})")]
    Unsynchronised(u8),
    /// The originate timestamp is not our request's transmit timestamp: a stale or spoofed reply.
    #[error("the reply does not answer our request (originate timestamp mismatch)")]
    Mismatch,
    /// The transmit timestamp is zero.
    #[error("the reply carries no transmit timestamp")]
    NoTime,
    /// The receive timestamp is zero.
    #[error("the reply carries no receive timestamp")]
    NoReceiveTime,
    /// The server's transmit time precedes its receive time (by this many seconds).
    #[error("the reply says it was sent {0:.3} s before the request was received (transmit before receive)")]
    TransmitBeforeReceive(f64),
    /// The server's hold time (transmit minus receive) exceeds the round trip measured locally: the
    /// timestamps cannot be right.
    #[error(
        "the server says it held the request {held:.3} s, longer than the whole round trip we measured ({rtt:.3} s)"
    )]
    HeldLongerThanRoundTrip {
        /// The server's transmit minus receive time, seconds.
        held: f64,
        /// The round trip measured on this node, seconds.
        rtt: f64,
    },
}

/// Check and compute one reply. `t1` is the transmit timestamp we sent; `t1_at`/`t4_at` our
/// clock when sending and receiving.
pub fn parse_reply(reply: &[u8], t1: u64, t1_at: SystemTime, t4_at: SystemTime) -> Result<Sample, SntpError> {
    if reply.len() < 48 {
        return Err(SntpError::Short(reply.len()));
    }
    let li = reply[0] >> 6;
    let version = (reply[0] >> 3) & 0b111;
    let mode = reply[0] & 0b111;
    let stratum = reply[1];
    if mode != 4 {
        return Err(SntpError::Mode(mode));
    }
    if !(1..=4).contains(&version) {
        return Err(SntpError::Version(version));
    }
    if stratum == 0 {
        let code: String = reply[12..16].iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '?' }).collect();
        return Err(SntpError::KissOfDeath(code));
    }
    if li == 3 || stratum >= 16 {
        return Err(SntpError::Unsynchronised(stratum));
    }
    let ts = |i: usize| u64::from_be_bytes(reply[i..i + 8].try_into().unwrap_or([0; 8]));
    let (originate, receive, transmit) = (ts(24), ts(32), ts(40));
    if originate != t1 {
        return Err(SntpError::Mismatch);
    }
    if transmit == 0 {
        return Err(SntpError::NoTime);
    }
    if receive == 0 {
        return Err(SntpError::NoReceiveTime);
    }
    let (t1s, t4s) = (unix_secs(t1_at), unix_secs(t4_at));
    let t2 = from_ntp(receive, t1s);
    let t3 = from_ntp(transmit, t1s);
    // Impossible replies: the server cannot send before it received, nor hold the request
    // longer than the round trip it was part of.
    let held = t3 - t2;
    if held < 0.0 {
        return Err(SntpError::TransmitBeforeReceive(-held));
    }
    let rtt = (t4s - t1s).max(0.0);
    if held > rtt {
        return Err(SntpError::HeldLongerThanRoundTrip { held, rtt });
    }
    let server_minus_us = ((t2 - t1s) + (t3 - t4s)) / 2.0;
    let delay = rtt - held;
    Ok(Sample { offset: -server_minus_us, delay, stratum })
}

/// Query one server within `timeout`.
pub async fn query(addr: SocketAddr, timeout: Duration) -> Result<Sample, String> {
    let bind: SocketAddr = if addr.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = UdpSocket::bind(bind).await.map_err(|e| format!("open a UDP socket for {addr}: {e}"))?;
    socket.connect(addr).await.map_err(|e| format!("address {addr}: {e}"))?;
    let t1_at = SystemTime::now();
    let t1 = to_ntp(t1_at);
    socket.send(&request(t1)).await.map_err(|e| format!("send to {addr}: {e}"))?;
    let mut buf = [0u8; 512];
    let exchange = async {
        loop {
            let n = socket.recv(&mut buf).await.map_err(|e| format!("receive from {addr}: {e}"))?;
            let t4_at = SystemTime::now();
            match parse_reply(&buf[..n], t1, t1_at, t4_at) {
                // A stray or spoofed datagram: keep listening for the real answer.
                Err(SntpError::Mismatch) => continue,
                other => return other.map_err(|e| format!("{addr}: {e}")),
            }
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer from {addr} within {} ms", timeout.as_millis()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(stratum: u8, li: u8, originate: u64, receive: u64, transmit: u64) -> [u8; 48] {
        let mut p = [0u8; 48];
        p[0] = (li << 6) | (4 << 3) | 4;
        p[1] = stratum;
        p[12..16].copy_from_slice(b"RATE");
        p[24..32].copy_from_slice(&originate.to_be_bytes());
        p[32..40].copy_from_slice(&receive.to_be_bytes());
        p[40..48].copy_from_slice(&transmit.to_be_bytes());
        p
    }

    #[test]
    fn ntp_timestamps_round_trip_and_cross_2036() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_250);
        let back = from_ntp(to_ntp(t), unix_secs(t));
        assert!((back - 1_795_000_000.25).abs() < 1e-6, "{back}");
        // 2036-02-07 06:28:16 UTC is where era 0 ends; a time just after wraps to small seconds.
        let after = UNIX_EPOCH + Duration::from_secs(2_085_978_496 + 10);
        let ts = to_ntp(after);
        assert_eq!(ts >> 32, 10);
        assert!((from_ntp(ts, unix_secs(after)) - 2_085_978_506.0).abs() < 1e-6);
    }

    #[test]
    fn offset_and_delay_by_hand() {
        // We send at 1000.0 and receive at 1000.2 (our clock); the server is 600 s behind us
        // and takes 0.05 s between receiving (T2) and sending (T3): one-way 0.075 s each way.
        let t1_at = UNIX_EPOCH + Duration::from_millis(1_000_000);
        let t4_at = UNIX_EPOCH + Duration::from_millis(1_000_200);
        let t1 = to_ntp(t1_at);
        let t2 = to_ntp(UNIX_EPOCH + Duration::from_millis(1_000_000 + 75 - 600_000));
        let t3 = to_ntp(UNIX_EPOCH + Duration::from_millis(1_000_000 + 125 - 600_000));
        let s = parse_reply(&reply(2, 0, t1, t2, t3), t1, t1_at, t4_at).unwrap();
        assert!((s.offset - 600.0).abs() < 1e-3, "{}", s.offset);
        assert!((s.delay - 0.150).abs() < 1e-3, "{}", s.delay);
        assert_eq!(s.stratum, 2);
    }

    #[test]
    fn refuses_bad_replies_with_a_reason() {
        let now = SystemTime::now();
        let t1 = to_ntp(now);
        let ok = to_ntp(now);
        assert_eq!(parse_reply(&reply(0, 0, t1, ok, ok), t1, now, now), Err(SntpError::KissOfDeath("RATE".into())));
        assert_eq!(parse_reply(&reply(16, 0, t1, ok, ok), t1, now, now), Err(SntpError::Unsynchronised(16)));
        assert_eq!(parse_reply(&reply(2, 3, t1, ok, ok), t1, now, now), Err(SntpError::Unsynchronised(2)));
        assert_eq!(parse_reply(&reply(2, 0, t1 + 1, ok, ok), t1, now, now), Err(SntpError::Mismatch));
        assert_eq!(parse_reply(&reply(2, 0, t1, ok, 0), t1, now, now), Err(SntpError::NoTime));
        assert_eq!(parse_reply(b"garbage", t1, now, now), Err(SntpError::Short(7)));
        assert_eq!(parse_reply(&reply(2, 0, t1, 0, ok), t1, now, now), Err(SntpError::NoReceiveTime));
        let later = now + Duration::from_millis(10);
        let before = to_ntp(now - Duration::from_secs(5));
        assert!(matches!(
            parse_reply(&reply(2, 0, t1, ok, before), t1, now, later),
            Err(SntpError::TransmitBeforeReceive(d)) if (d - 5.0).abs() < 1e-3
        ));
        let held = to_ntp(now + Duration::from_secs(2));
        assert!(matches!(
            parse_reply(&reply(2, 0, t1, ok, held), t1, now, later),
            Err(SntpError::HeldLongerThanRoundTrip { held, rtt }) if (held - 2.0).abs() < 1e-3 && rtt < 0.02
        ));
        let mut client = reply(2, 0, t1, ok, ok);
        client[0] = 0b00_100_011;
        assert_eq!(parse_reply(&client, t1, now, now), Err(SntpError::Mode(3)));
        let req = request(t1);
        assert_eq!(req[0], 0x23);
        assert_eq!(&req[40..48], &t1.to_be_bytes());
    }
}
