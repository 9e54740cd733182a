//! TCP stage: socket2 sockets handed to tokio, one connect per resolved address.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream};

use super::{Peer, TcpAttempt, TcpStatus, ms};

fn socket_for(addr: SocketAddr) -> io::Result<TcpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_tcp_nodelay(true)?;
    socket.set_nonblocking(true)?;
    Ok(TcpSocket::from_std_stream(std::net::TcpStream::from(socket)))
}

/// Map a connect error to a TCP status.
pub fn classify(e: &io::Error) -> TcpStatus {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => TcpStatus::Refused,
        io::ErrorKind::TimedOut => TcpStatus::Timeout,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable | io::ErrorKind::AddrNotAvailable => {
            TcpStatus::Unreachable
        }
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => TcpStatus::Reset,
        _ => TcpStatus::Error,
    }
}

/// Connect to one address within `timeout` (which starts once a connect slot is free: see
/// [`super::budget`]). A socket the probe could not open for its own limits (EMFILE, ENFILE,
/// ENOBUFS) is status `error` marked `local`, never a network status.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> (TcpAttempt, Option<TcpStream>) {
    let _slot = super::budget::connect_slot().await;
    let start = Instant::now();
    // The error, and whether it is the probe's own resource limit (told from the OS error,
    // which the added context would hide).
    let wrap = |e: io::Error, what: String| {
        let local = super::budget::is_local_resource(&e);
        (io::Error::new(e.kind(), format!("{what}: {e}")), local)
    };
    let result = match socket_for(addr) {
        Err(e) => Err(wrap(e, format!("create a socket for {addr}"))),
        Ok(socket) => match tokio::time::timeout(timeout, socket.connect(addr)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(wrap(e, format!("connect to {addr}"))),
            Err(_) => Err((
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connect to {addr}: no answer within {} ms", timeout.as_millis()),
                ),
                false,
            )),
        },
    };
    let duration_ms = ms(start.elapsed());
    match result {
        Ok(stream) => (
            TcpAttempt {
                address: addr,
                status: TcpStatus::Ok,
                duration_ms,
                error: None,
                peer: Peer::Endpoint,
                local: false,
            },
            Some(stream),
        ),
        Err((e, true)) => (
            TcpAttempt {
                address: addr,
                status: TcpStatus::Error,
                duration_ms,
                error: Some(format!("the probe's own limit, not the network: {e}")),
                peer: Peer::Endpoint,
                local: true,
            },
            None,
        ),
        Err((e, false)) => (
            TcpAttempt {
                address: addr,
                status: classify(&e),
                duration_ms,
                error: Some(e.to_string()),
                peer: Peer::Endpoint,
                local: false,
            },
            None,
        ),
    }
}

/// Connect to every address at once; keep the first (in address order) that succeeded.
pub async fn connect_all(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> (Vec<TcpAttempt>, Option<(SocketAddr, TcpStream)>) {
    let results = futures::future::join_all(addrs.iter().map(|a| connect(*a, timeout))).await;
    let mut attempts = Vec::with_capacity(results.len());
    let mut chosen = None;
    for (attempt, stream) in results {
        if chosen.is_none()
            && let Some(s) = stream
        {
            chosen = Some((attempt.address, s));
        }
        attempts.push(attempt);
    }
    (attempts, chosen)
}
