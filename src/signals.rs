//! Stop requests: Ctrl-C and SIGTERM on Unix; Ctrl-C, Ctrl-Break and closing the console on
//! Windows. A run that receives one stops within a second and still writes its report.

/// Resolves with the name of the first stop request received; never resolves if none can be
/// listened for.
pub async fn stop_requested() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_ok() { "SIGINT" } else { std::future::pending().await },
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => match tokio::signal::ctrl_c().await {
                Ok(()) => "SIGINT",
                Err(_) => std::future::pending().await,
            },
        }
    }
    #[cfg(windows)]
    {
        use tokio::signal::windows::{ctrl_break, ctrl_close};
        match (ctrl_break(), ctrl_close()) {
            (Ok(mut brk), Ok(mut close)) => tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_ok() { "Ctrl-C" } else { std::future::pending().await },
                _ = brk.recv() => "Ctrl-Break",
                _ = close.recv() => "console closed",
            },
            _ => match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(_) => std::future::pending().await,
            },
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    }
}
