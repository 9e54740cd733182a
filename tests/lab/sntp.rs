//! An SNTP server on loopback: answers client requests from the system clock shifted by a chosen
//! offset, or misbehaves in the ways real servers do (kiss-o'-death, unsynchronised, garbage,
//! silence).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Background;

#[derive(Clone, Copy, Debug)]
pub enum SntpMode {
    /// A stratum-2 server whose clock reads the system time plus `offset_secs` (so the node
    /// looks `-offset_secs` off).
    Offset(f64),
    /// Stratum 0 with reference id `RATE`: kiss-o'-death.
    KissOfDeath,
    /// Leap indicator 3, stratum 16: not synchronised.
    Unsynchronised,
    /// 48 bytes of text: the first byte reads as mode 0.
    Garbage,
    /// Never answers.
    Silent,
    /// Impossible: the transmit timestamp is 10 s before the receive timestamp.
    TransmitBeforeReceive,
    /// Impossible: the receive timestamp is zero.
    ZeroReceive,
    /// Impossible: the server says it held the request 10 s (T3 − T2), longer than any round trip.
    HeldTooLong,
}

pub struct SntpServer {
    pub addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    _bg: Background,
}

impl SntpServer {
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// `HOST:PORT` for --ntp-server.
    pub fn arg(&self) -> String {
        self.addr.to_string()
    }
}

fn ntp_timestamp(t: SystemTime, offset: f64) -> u64 {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64() + offset + 2_208_988_800.0;
    let whole = secs.floor();
    ((whole as u64 & 0xffff_ffff) << 32) | (((secs - whole) * 4_294_967_296.0) as u64)
}

fn answer(mode: SntpMode, request: &[u8], received: SystemTime) -> Option<Vec<u8>> {
    if request.len() < 48 {
        return None;
    }
    let mut p = vec![0u8; 48];
    let (li, stratum, offset) = match mode {
        SntpMode::Silent => return None,
        SntpMode::Garbage => return Some(b"xxxx this is not an NTP packet, but 48 bytes! xx".to_vec()),
        SntpMode::Offset(o) => (0u8, 2u8, o),
        SntpMode::KissOfDeath => (0, 0, 0.0),
        SntpMode::Unsynchronised => (3, 16, 0.0),
        SntpMode::TransmitBeforeReceive | SntpMode::ZeroReceive | SntpMode::HeldTooLong => (0, 2, 0.0),
    };
    p[0] = (li << 6) | (4 << 3) | 4;
    p[1] = stratum;
    p[2] = 6;
    p[3] = 0xec; // precision about 2^-20 s
    p[12..16].copy_from_slice(if stratum == 0 { b"RATE" } else { b"LAB\0" });
    // Originate = the client's transmit timestamp.
    p[24..32].copy_from_slice(&request[40..48]);
    p[16..24].copy_from_slice(&ntp_timestamp(received, offset - 16.0).to_be_bytes());
    p[32..40].copy_from_slice(&ntp_timestamp(received, offset).to_be_bytes());
    p[40..48].copy_from_slice(&ntp_timestamp(SystemTime::now(), offset).to_be_bytes());
    match mode {
        SntpMode::TransmitBeforeReceive => {
            p[40..48].copy_from_slice(&ntp_timestamp(received, offset - 10.0).to_be_bytes());
        }
        SntpMode::ZeroReceive => p[32..40].fill(0),
        SntpMode::HeldTooLong => {
            // T2 10 s before the request arrived: the server claims a 10 s hold; the mean of T2
            // and T3 stays honest, so only the hold gives it away.
            p[32..40].copy_from_slice(&ntp_timestamp(received, offset - 10.0).to_be_bytes());
        }
        _ => {}
    }
    Some(p)
}

impl SntpServer {
    pub fn start(mode: SntpMode) -> SntpServer {
        let bg = Background::new("sntp");
        let requests = Arc::new(AtomicUsize::new(0));
        let socket = bg
            .runtime()
            .block_on(tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))
            .expect("bind the lab SNTP server");
        let addr = socket.local_addr().expect("SNTP address");
        let counter = requests.clone();
        bg.runtime().spawn(async move {
            let mut buf = [0u8; 512];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else { continue };
                let received = SystemTime::now();
                counter.fetch_add(1, Ordering::SeqCst);
                if let Some(reply) = answer(mode, &buf[..n], received) {
                    // A little server-side processing time between T2 and T3.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
        });
        SntpServer { addr, requests, _bg: bg }
    }
}
