//! Raw TCP behaviours on 127.0.0.1: refused, silent, reset, blackholed.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::Background;

/// A 127.0.0.1 port with nothing listening (bound ephemerally, then released),
/// so connect() is refused.
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    addr
}

/// Accepts connections and never writes; holds them open until dropped.
pub struct SilentServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    _bg: Background,
}

impl SilentServer {
    /// Number of connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

pub fn silent_server() -> SilentServer {
    let (listener, addr) = loopback_listener();
    let accepted = Arc::new(AtomicUsize::new(0));
    let bg = Background::new("silent");
    {
        let _guard = bg.runtime().enter();
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let accepted = accepted.clone();
        bg.runtime().spawn(async move {
            loop {
                if let Ok((stream, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    // Read and discard in the background so the peer never
                    // blocks on a full window; never write anything.
                    tokio::spawn(async move {
                        let mut stream = stream;
                        let mut buf = [0u8; 4096];
                        while let Ok(n) = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await {
                            if n == 0 {
                                // Peer closed; keep our side open until drop
                                // anyway (a silent server never closes first).
                                std::future::pending::<()>().await;
                            }
                        }
                    });
                }
            }
        });
    }
    SilentServer { addr, accepted, _bg: bg }
}

/// How long the reset server waits for the client's first bytes before
/// resetting anyway.
const RESET_DELAY: Duration = Duration::from_millis(100);

/// Accepts, then resets the connection (SO_LINGER 0, close) as soon as the
/// client has sent its first bytes, or after 100 ms if it sends nothing. The
/// client's connect() always succeeds; its next read (e.g. waiting for the
/// ServerHello) fails with ECONNRESET (rarely EOF).
///
/// Resetting right after accept() would race with the client: a client using
/// a non-blocking connect can then see ECONNRESET from connect() itself
/// (observed with `TcpStream::connect_timeout`), making tests flaky.
pub struct ResetServer {
    pub addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    _bg: Background,
}

impl ResetServer {
    /// Number of connections accepted (and reset) so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

pub fn reset_server() -> ResetServer {
    let (listener, addr) = loopback_listener();
    let accepted = Arc::new(AtomicUsize::new(0));
    let bg = Background::new("reset");
    {
        let _guard = bg.runtime().enter();
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let accepted = accepted.clone();
        bg.runtime().spawn(async move {
            loop {
                if let Ok((stream, _)) = listener.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(async move {
                        // Wait for the client's first bytes (e.g. a TLS
                        // ClientHello), at most RESET_DELAY, so that the
                        // client's connect() has certainly completed and the
                        // reset is seen by its first read, not by connect().
                        // (`readable()` may wake spuriously; `peek` waits for
                        // real data or EOF.)
                        let mut first = [0u8; 1];
                        let _ = tokio::time::timeout(RESET_DELAY, stream.peek(&mut first)).await;
                        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                        drop(stream); // close with linger 0 => RST
                    });
                }
            }
        });
    }
    ResetServer { addr, accepted, _bg: bg }
}

/// A TCP address where connect() hangs: the SYN is silently dropped.
///
/// Technique: a socket2 listener on 127.0.0.1 with `listen(0)` that is never
/// accepted from. Its accept queue (capacity 1 with backlog 0 on Linux) is
/// pre-filled by connecting to it until a connect attempt times out; those
/// filler connections are kept alive inside the `Blackhole`. While the accept
/// queue is full Linux drops incoming SYNs outright (tcp_conn_request: "listen
/// overflow", no SYN-ACK, no RST, and SYN cookies do not apply), so a new
/// connect() stays in SYN_SENT until the client's own timeout — measured at
/// more than 35 s on this machine. Nothing leaves the loopback interface.
pub struct Blackhole {
    pub addr: SocketAddr,
    _listener: Socket,
    _fillers: Vec<TcpStream>,
}

pub fn blackhole() -> Blackhole {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("blackhole socket");
    listener.bind(&SockAddr::from(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))).expect("bind blackhole");
    listener.listen(0).expect("listen(0)");
    let addr = listener.local_addr().expect("blackhole addr").as_socket().expect("inet addr");

    let mut fillers = Vec::new();
    for _ in 0..64 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => fillers.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Blackhole { addr, _listener: listener, _fillers: fillers };
            }
            Err(e) => panic!("filling blackhole accept queue at {addr}: {e}"),
        }
    }
    panic!("blackhole at {addr}: accept queue never filled (kernel completes handshakes)");
}

fn loopback_listener() -> (std::net::TcpListener, SocketAddr) {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}
