//! The delaying relay of the benchmarks: a loopback TCP relay per upstream that adds a round
//! trip time (half each way), shared by examples/bench.rs and examples/bench_revocation.rs.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub async fn accept_loop(listener: TcpListener, upstream: SocketAddr, rtt_us: Arc<AtomicU64>) {
    loop {
        if let Ok((down, _)) = listener.accept().await {
            let accepted = tokio::time::Instant::now();
            let rtt = Duration::from_micros(rtt_us.load(Ordering::SeqCst));
            tokio::spawn(relay(down, upstream, rtt, accepted));
        }
    }
}

async fn relay(down: TcpStream, upstream: SocketAddr, rtt: Duration, accepted: tokio::time::Instant) {
    let Ok(up) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = down.set_nodelay(true);
    let _ = up.set_nodelay(true);
    let (down_r, down_w) = down.into_split();
    let (up_r, up_w) = up.into_split();
    // The client's bytes cannot leave before its (virtual) TCP handshake is over: accept + RTT.
    tokio::join!(pipe(down_r, up_w, rtt / 2, Some(accepted + rtt)), pipe(up_r, down_w, rtt / 2, None));
}

/// Copies `r` to `w`, each chunk `delay` after it was read (not before `not_before + delay`), in order;
/// EOF is forwarded the same way (half-close).
async fn pipe(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    not_before: Option<tokio::time::Instant>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Option<Vec<u8>>)>();
    let due = move || {
        let now = tokio::time::Instant::now();
        not_before.map_or(now, |nb| nb.max(now)) + delay
    };
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = tx.send((due(), None));
                    return;
                }
                Ok(n) => {
                    if tx.send((due(), Some(buf[..n].to_vec()))).is_err() {
                        return;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            match chunk {
                Some(bytes) => {
                    if w.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = w.shutdown().await;
                    return;
                }
            }
        }
    };
    tokio::join!(reader, writer);
}
