//! The probe's own resources: the open-files limit, how many sockets a run may have open at
//! once, and telling the probe's own resource errors (EMFILE, ENFILE, ENOBUFS) apart from the
//! network's.

use std::io;
use std::sync::OnceLock;

use tokio::sync::{Semaphore, SemaphorePermit};

/// File descriptors kept aside for what is not a probe socket: standard streams, the async
/// runtime, the signal pipe, NTP sockets, the output files.
const RESERVED: u64 = 32;

/// The open-files limit at start and after raising it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft RLIMIT_NOFILE at start.
    pub before: u64,
    /// The soft limit after raising it toward the hard limit (equal to `before` if it could not be
    /// raised).
    pub after: u64,
}

/// Raise the soft open-files limit (RLIMIT_NOFILE) to the hard limit (Unix). None where
/// there is no such limit (Windows) or it cannot be read; an error raising it leaves it as
/// it was (and is logged).
pub fn raise_open_files_limit() -> Option<OpenFiles> {
    #[cfg(unix)]
    {
        let (before, _hard) = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!("cannot read the open-files limit (RLIMIT_NOFILE): {e}");
                return None;
            }
        };
        let after = match rlimit::increase_nofile_limit(u64::MAX) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("cannot raise the open-files limit (RLIMIT_NOFILE) from {before}: {e}");
                before
            }
        };
        if after != before {
            tracing::info!("open-files limit raised from {before} to {after}");
        }
        Some(OpenFiles { before, after })
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// How a run shares its open-files limit between its kinds of sockets, so that it never runs
/// out: a quarter of what is left after `RESERVED` (32 descriptors) each for connects in flight, endpoints
/// probed at once (their open streams, two at most with the old-TLS check) and the resolver
/// (each name in flight is up to four sockets: A and AAAA, UDP then TCP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketBudget {
    /// TCP connects in flight, across all endpoints and proxies.
    pub connects: usize,
    /// Endpoints probed at once.
    pub endpoints: usize,
    /// Names resolved at once.
    pub names: usize,
}

impl SocketBudget {
    /// The budget for an open-files limit (None: no limit known).
    pub fn for_limit(limit: Option<u64>) -> SocketBudget {
        let Some(limit) = limit else {
            return SocketBudget { connects: Semaphore::MAX_PERMITS, endpoints: usize::MAX, names: usize::MAX };
        };
        let quarter = usize::try_from(limit.saturating_sub(RESERVED) / 4).unwrap_or(usize::MAX).max(1);
        SocketBudget { connects: quarter, endpoints: (quarter / 2).max(1), names: (quarter / 4).max(1) }
    }
}

static BUDGET: OnceLock<(SocketBudget, Semaphore)> = OnceLock::new();

/// Make `budget` this process's (the first call wins; without one, nothing is bounded here).
pub fn apply(budget: SocketBudget) {
    let _ = BUDGET.set((budget, Semaphore::new(budget.connects.clamp(1, Semaphore::MAX_PERMITS))));
}

/// The process's budget, when one was applied.
pub fn current() -> Option<SocketBudget> {
    BUDGET.get().map(|(b, _)| *b)
}

/// A slot for one connect, held until the connect is over (None: not bounded).
pub async fn connect_slot() -> Option<SemaphorePermit<'static>> {
    BUDGET.get()?.1.acquire().await.ok()
}

/// The error is the probe's own resource limit (too many open files in the process or the
/// system, no buffer space), not something the network did.
pub fn is_local_resource(e: &io::Error) -> bool {
    let Some(code) = e.raw_os_error() else { return false };
    #[cfg(target_os = "linux")]
    const CODES: &[i32] = &[24, 23, 105]; // EMFILE, ENFILE, ENOBUFS
    #[cfg(all(unix, not(target_os = "linux")))]
    const CODES: &[i32] = &[24, 23, 55]; // EMFILE, ENFILE, ENOBUFS (BSD, macOS)
    #[cfg(windows)]
    const CODES: &[i32] = &[10024, 10055]; // WSAEMFILE, WSAENOBUFS
    #[cfg(not(any(unix, windows)))]
    const CODES: &[i32] = &[];
    CODES.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_shares_the_limit() {
        let b = SocketBudget::for_limit(Some(64));
        assert_eq!(b, SocketBudget { connects: 8, endpoints: 4, names: 2 });
        // What it can open at once stays under the limit: connects, two streams per endpoint,
        // four sockets per name, and the reserve.
        for limit in [1u64, 16, 64, 1024, 4096, 1 << 20] {
            let b = SocketBudget::for_limit(Some(limit));
            let peak = b.connects + 2 * b.endpoints + 4 * b.names + RESERVED as usize;
            assert!(limit < 64 || peak as u64 <= limit, "{limit}: {b:?}");
            assert!(b.connects >= 1 && b.endpoints >= 1 && b.names >= 1);
        }
    }

    #[cfg(unix)]
    #[test]
    fn local_resource_errors_are_told_apart() {
        assert!(is_local_resource(&io::Error::from_raw_os_error(24)));
        assert!(is_local_resource(&io::Error::from_raw_os_error(23)));
        assert!(!is_local_resource(&io::Error::from_raw_os_error(111)), "ECONNREFUSED is the network's");
        assert!(!is_local_resource(&io::Error::other("x")));
    }
}
