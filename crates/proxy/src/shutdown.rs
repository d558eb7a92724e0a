//! Serving and graceful shutdown. When the shutdown future completes: `/readyz` fails at once,
//! requests are served normally for the drain period (so load balancers notice), then the
//! listeners close, in-flight requests finish while idle keep-alive connections are closed
//! (`Connection: close` for HTTP/1.1, GOAWAY for HTTP/2), upgraded connections (WebSocket) are
//! waited for like requests, and serving returns by the shutdown timeout even if some
//! connections linger.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{self, MetricsExporter};
use crate::handle::Handle;
use crate::listener::{Drain, Listener, accept_loop};
use crate::service::Pipeline;

/// A proxy whose listeners are bound; [`Bound::serve`] runs it.
pub struct Bound {
    pub(crate) http: Option<Listener>,
    pub(crate) https: Option<Listener>,
    pub(crate) admin: Option<TcpListener>,
    pub(crate) pipeline: Arc<Pipeline>,
    pub(crate) handle: Handle,
    pub(crate) drain: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) metrics: Option<Arc<dyn MetricsExporter>>,
}

/// How serving ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Whether every connection closed before the shutdown timeout.
    pub graceful: bool,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("http", &self.http_addr())
            .field("https", &self.https_addr())
            .field("admin", &self.admin_addr())
            .finish_non_exhaustive()
    }
}

impl Bound {
    /// The HTTP listener's address (with the real port when bound to port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.tcp.local_addr().ok())
    }

    /// The HTTPS listener's address.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https.as_ref().and_then(|l| l.tcp.local_addr().ok())
    }

    /// The admin listener's address.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The proxy's handle.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Serves until `shutdown` completes, then drains and shuts down (see the module doc).
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> ShutdownReport {
        let (stop_listeners, listeners_stopped) = watch::channel(false);
        let (stop_admin, admin_stopped) = watch::channel(false);
        let admin_task = self.admin.map(|listener| {
            tokio::spawn(admin::serve(
                listener,
                self.handle.clone(),
                self.metrics.clone(),
                admin_stopped,
            ))
        });
        let drain = Drain::new();
        let accept = |listener: Option<Listener>| {
            run_listener(
                listener,
                self.pipeline.clone(),
                &drain,
                listeners_stopped.clone(),
            )
        };
        let handle = &self.handle;
        let drain_period = self.drain;
        let trigger = async move {
            shutdown.await;
            handle.shared().start_draining();
            tracing::info!(drain = ?drain_period, "shutting down: draining");
            tokio::time::sleep(drain_period).await;
            let _ = stop_listeners.send(true);
        };
        tokio::join!(accept(self.http), accept(self.https), trigger);

        tracing::info!(timeout = ?self.shutdown_timeout, "listeners closed, finishing in-flight requests");
        let graceful = tokio::time::timeout(self.shutdown_timeout, drain.shutdown())
            .await
            .is_ok();
        if !graceful {
            tracing::warn!("shutdown timeout reached with connections still open");
        }
        let _ = stop_admin.send(true);
        if let Some(task) = admin_task {
            let _ = task.await;
        }
        ShutdownReport { graceful }
    }
}

async fn run_listener(
    listener: Option<Listener>,
    pipeline: Arc<Pipeline>,
    drain: &Drain,
    stop: watch::Receiver<bool>,
) {
    if let Some(listener) = listener {
        accept_loop(listener, pipeline, drain, stop).await;
    }
}
