//! In-process test lab: loopback-only DNS, TLS/HTTP and raw TCP servers plus a
//! small certificate authority, for driving the real `azs-netprobe` binary from
//! plain `#[test]` functions.
//!
//! Every server binds to 127.0.0.0/8 only and runs in the background on its own
//! tokio runtime (its own worker threads); constructors return once the sockets
//! are bound and listening, so a test can start the probe immediately. Dropping
//! a handle stops its server: the runtime is shut down, every task is cancelled
//! and every socket it held is closed.
#![allow(dead_code)]
#![allow(unused_imports)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod certs;
mod child;
mod dns;
mod hostile;
mod legacy;
mod mitm;
mod mitmproxy;
mod openssl_pki;
mod pki_web;
mod proxy;
mod sntp;
mod squid;
mod tcp;
mod tinyproxy;
mod tls;

pub use certs::{Leaf, TestCa, self_signed_leaf};
pub use dns::TcpFault;
pub use dns::{DnsAnswer, DnsServer};
pub use hostile::{
    AfterHandshake, AfterReply, DribbleRelay, HTTP_400_PAGE, HostileTls, RUSTLS_MAX_HANDSHAKE, RawServer, big_san_leaf,
    dribble_relay, garbage_server, garbage_server_after, huge_server_hello, leaf_config, long_chain_leaf, noise,
    truncated_der, unchecked_config,
};
pub use legacy::{LegacyServer, Sha1Pki, openssl_binary, sha1_pki, tls10_only_server, tls10_only_server_with};
pub use mitm::{MitmProxy, Upstream, insecure_client_config};
pub use mitmproxy::Mitmproxy;
pub use openssl_pki::{Nginx, OpensslCa};
pub use pki_web::{ForwardProxy, Handler, Reply, WebServer, aia, crl, name_urls, ocsp_answer, serial_of};
pub use proxy::{BAD_GATEWAY_BODY, ConnectProxy, DENY_BODY, ProxyMode, userinfo_encode};
pub use sntp::{SntpMode, SntpServer};
pub use squid::Squid;
pub use tcp::{Blackhole, ResetServer, SilentServer, blackhole, closed_port, reset_server, silent_server};
pub use tinyproxy::Tinyproxy;
pub use tls::{HttpBehavior, NOW, TlsServer, ok_response};

use std::time::Duration;

/// A tokio runtime owned by one server handle. Dropping it cancels every task
/// spawned on it (closing their sockets).
pub(crate) struct Background {
    rt: Option<tokio::runtime::Runtime>,
}

impl Background {
    pub(crate) fn new(name: &str) -> Background {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("lab-{name}"))
            .enable_all()
            .build()
            .expect("build lab runtime");
        Background { rt: Some(rt) }
    }

    pub(crate) fn runtime(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("runtime present until drop")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                // Blocking is not allowed inside an async context.
                rt.shutdown_background();
            } else {
                // Wait (briefly) so that sockets are closed when drop returns.
                rt.shutdown_timeout(Duration::from_secs(2));
            }
        }
    }
}
