//! Path-MTU black holes: a TLS handshake that stalls after the ClientHello went out is retried,
//! within the same stage budget, on a fresh connection that advertises a small MSS.
//!
//! TCP connects and the small ClientHello gets through, but the server's large flight (the
//! certificate chain, in full-size segments) is dropped on a narrower link whose ICMP
//! "fragmentation needed" / "packet too big" is filtered. A connection whose SYN advertises a
//! small MSS makes the server send segments that fit, and completes.
//!
//! The retry starts once half of the stage's budget has passed without the handshake completing
//! (the first handshake keeps running to its full budget: a slow server is never cut short),
//! and ends by the same deadline, so the stage still ends within its timeout.
//!
//! Lowering the MSS before connect: `TCP_MAXSEG` on Unix (socket2 `set_tcp_mss`; on Linux it
//! lowers the MSS the SYN advertises). On Windows socket2 offers no setter and this crate
//! forbids `unsafe` (a raw `setsockopt`); whether Windows' TCP_MAXSEG lowers the SYN's MSS is
//! unverified, so there the retry is recorded as `not_supported`, with the reason.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::{TlsObservation, TlsStatus, ms};
use crate::trust::TrustStores;

/// The MSS the retry advertises (bytes): its segments fit links down to 1040 bytes (IPv4) or
/// 1060 bytes (IPv6).
pub const RETRY_MSS: u32 = 1000;

/// Bytes read from and written to a stream.
#[derive(Debug, Default)]
pub struct Counts {
    /// Bytes read from the stream so far.
    pub received: AtomicU64,
    /// Bytes written to the stream so far.
    pub sent: AtomicU64,
}

/// A stream that counts the bytes that pass.
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    counts: Arc<Counts>,
}

impl<S> Counted<S> {
    /// `inner`, counting into `counts`.
    pub fn new(inner: S, counts: Arc<Counts>) -> Counted<S> {
        Counted { inner, counts }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            let n = buf.filled().len().saturating_sub(before);
            self.counts.received.fetch_add(n as u64, Ordering::Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.counts.sent.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How the small-MSS retry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryStatus {
    /// The handshake completed.
    Ok,
    /// The handshake stalled too (or the connect did not complete) before the deadline.
    Timeout,
    /// The connect or the handshake failed otherwise.
    Failed,
    /// This OS cannot lower the MSS before connect: no retry was made.
    NotSupported,
}

impl RetryStatus {
    /// The stable label, as in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryStatus::Ok => "ok",
            RetryStatus::Timeout => "timeout",
            RetryStatus::Failed => "failed",
            RetryStatus::NotSupported => "not_supported",
        }
    }
}

/// The retry of a stalled handshake on a connection advertising a small MSS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MssRetry {
    /// The MSS the retry's SYN advertised, in bytes.
    pub mss: u32,
    /// How the retry ended.
    pub status: RetryStatus,
    /// Connect and handshake, in milliseconds.
    pub duration_ms: u64,
    /// Bytes the retry received from the server.
    pub bytes_received: u64,
    /// What went wrong with the retry; null when it completed.
    pub error: Option<String>,
}

/// A TCP connection to `addr` whose SYN advertises `mss`.
#[cfg(unix)]
async fn connect_small_mss(addr: SocketAddr, mss: u32) -> io::Result<TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| io::Error::new(e.kind(), format!("create a socket for {addr}: {e}")))?;
    socket
        .set_tcp_mss(mss)
        .map_err(|e| io::Error::new(e.kind(), format!("set TCP_MAXSEG {mss} on the socket for {addr}: {e}")))?;
    socket.set_tcp_nodelay(true)?;
    socket.set_nonblocking(true)?;
    let socket = tokio::net::TcpSocket::from_std_stream(std::net::TcpStream::from(socket));
    socket.connect(addr).await.map_err(|e| io::Error::new(e.kind(), format!("connect to {addr}: {e}")))
}

/// Why the retry cannot be made on this OS (None: it can).
pub fn unsupported_reason() -> Option<&'static str> {
    if cfg!(unix) {
        None
    } else {
        Some(
            "this build cannot lower the MSS before connect on Windows (no safe TCP_MAXSEG setter; whether \
             Windows honours TCP_MAXSEG in the SYN is unverified), so no retry with a smaller MSS was made",
        )
    }
}

/// Connect with [`RETRY_MSS`] and handshake, all before `deadline`.
async fn retry(stores: &TrustStores, addr: SocketAddr, host: &str, deadline: Instant) -> MssRetry {
    let start = Instant::now();
    let mut r =
        MssRetry { mss: RETRY_MSS, status: RetryStatus::Failed, duration_ms: 0, bytes_received: 0, error: None };
    if let Some(why) = unsupported_reason() {
        r.status = RetryStatus::NotSupported;
        r.error = Some(why.to_string());
        return r;
    }
    #[cfg(unix)]
    let connected =
        tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), connect_small_mss(addr, RETRY_MSS))
            .await;
    #[cfg(not(unix))]
    let connected: Result<io::Result<TcpStream>, tokio::time::error::Elapsed> =
        Ok(Err(io::Error::other("unsupported")));
    match connected {
        Err(_) => {
            r.status = RetryStatus::Timeout;
            r.error = Some(format!("connect to {addr} with MSS {RETRY_MSS}: no answer in time"));
        }
        Ok(Err(e)) => r.error = Some(e.to_string()),
        Ok(Ok(stream)) => {
            let left = deadline.saturating_duration_since(Instant::now());
            let (obs, _) = super::tls::handshake(stores, stream, host, left).await;
            r.bytes_received = obs.bytes_received.unwrap_or(0);
            r.status = match obs.status {
                TlsStatus::Ok => RetryStatus::Ok,
                TlsStatus::Timeout => RetryStatus::Timeout,
                _ => RetryStatus::Failed,
            };
            r.error = obs.error;
        }
    }
    r.duration_ms = ms(start.elapsed());
    r
}

/// [`super::tls::handshake`], with the small-MSS retry when the handshake stalls after the
/// ClientHello went out (`direct`: only on direct connections, not through a proxy tunnel).
/// The retry's outcome is in `mss_retry` when the first handshake timed out.
pub async fn handshake(
    stores: &TrustStores,
    stream: TcpStream,
    host: &str,
    timeout: Duration,
    direct: bool,
) -> (TlsObservation, Option<TlsStream<Counted<TcpStream>>>) {
    let start = Instant::now();
    let deadline = start + timeout;
    let peer = stream.peer_addr().ok();
    let counts = Arc::new(Counts::default());
    let first = super::tls::handshake_counting(stores, stream, host, timeout, counts.clone());
    tokio::pin!(first);
    let (Some(addr), true) = (peer, direct) else { return first.await };
    tokio::select! {
        r = &mut first => return r,
        _ = tokio::time::sleep(timeout / 2) => {}
    }
    // Still in the handshake at half the budget: retry only if the ClientHello went out.
    if counts.sent.load(Ordering::Relaxed) == 0 {
        return first.await;
    }
    let second = retry(stores, addr, host, deadline);
    tokio::pin!(second);
    let mut retried = None;
    let (mut obs, stream) = loop {
        tokio::select! {
            r = &mut first => break r,
            r = &mut second, if retried.is_none() => retried = Some(r),
        }
    };
    if obs.status == TlsStatus::Timeout {
        let r = match retried {
            Some(r) => r,
            None => second.await,
        };
        obs.mss_retry = Some(r);
    }
    (obs, stream)
}
