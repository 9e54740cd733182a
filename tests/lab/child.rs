//! Third-party servers run as child processes (tinyproxy, mitmdump, openssl s_server): waiting
//! until one is ready, with its log in every error.

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

/// A server running as a child process.
pub trait ChildServer {
    fn child(&mut self) -> &mut Child;
    /// Everything the server printed so far, for readiness checks and error messages.
    fn log(&self) -> String;
}

/// Poll every `poll` until `ready(server, log)` holds; an error (with the log) when the child
/// exits first or `timeout` passes. `what` names the server in the errors.
pub fn wait_ready<S: ChildServer>(
    server: &mut S,
    what: &str,
    timeout: Duration,
    poll: Duration,
    ready: impl Fn(&S, &str) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = server.child().try_wait() {
            return Err(format!("{what} exited with {status}:\n{}", server.log()));
        }
        let log = server.log();
        if ready(server, &log) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("{what} not ready after {timeout:?}:\n{log}"));
        }
        std::thread::sleep(poll);
    }
}

/// The readiness test of a server that logs `line` once it listens: the line is in the log and
/// `addr` accepts a connection (the line alone could be an earlier run's; a connection alone
/// could reach another process that grabbed the port in between).
pub fn logged_and_accepting(log: &str, line: &str, addr: SocketAddr) -> bool {
    log.contains(line) && TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
}

/// A port on `ip` that was free a moment ago (for a child that must be told its port).
pub fn free_port(ip: IpAddr) -> u16 {
    let listener = TcpListener::bind((ip, 0)).expect("bind");
    listener.local_addr().expect("local addr").port()
}

/// Stop a child server and reap it (its `Drop`).
pub fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
