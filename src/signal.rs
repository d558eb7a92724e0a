//! Process signals: the shutdown trigger of every serving mode.

use std::future::Future;

use tracing::info;

/// A future that completes on SIGTERM or SIGINT. The handlers are installed by this call, not
/// when the future is first polled, so call it before the listeners are announced: a signal
/// that arrives in between is then a graceful shutdown, not the default action (exit at once).
/// Must be called inside a tokio runtime.
pub fn shutdown() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            let wait = |stream: std::io::Result<tokio::signal::unix::Signal>| async move {
                match stream {
                    Ok(mut stream) => {
                        stream.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term) => {},
                () = wait(interrupt) => {},
            }
            info!("shutdown signal received");
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            info!("shutdown signal received");
        }
    }
}
