//! A proxy serving on 127.0.0.1 ports, and its shutdown.

use std::net::SocketAddr;
use std::time::Duration;

use sluice_ingress_model::RouteTable;
use sluice_proxy::{Handle, Proxy, ProxyBuilder, ShutdownReport};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use sluice_testkit::init;

/// A proxy serving on 127.0.0.1 ports.
pub struct Running {
    /// Plain HTTP.
    pub http: SocketAddr,
    /// HTTPS.
    pub https: SocketAddr,
    /// Admin.
    pub admin: SocketAddr,
    /// The handle.
    pub handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<ShutdownReport>>,
}

impl Running {
    /// Triggers shutdown without waiting.
    pub fn trigger_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for serving to end.
    pub async fn finished(&mut self) -> ShutdownReport {
        self.task.take().unwrap().await.unwrap()
    }

    /// Triggers shutdown and waits for serving to end.
    pub async fn shutdown(mut self) -> ShutdownReport {
        self.trigger_shutdown();
        self.finished().await
    }
}

/// A builder listening on 127.0.0.1:0 for HTTP, HTTPS and admin, without a drain period.
pub fn builder() -> ProxyBuilder {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Proxy::builder()
        .http(any)
        .https(any)
        .admin(any)
        .drain(Duration::ZERO)
        .shutdown_timeout(Duration::from_secs(10))
}

/// Starts a proxy serving `table`.
pub async fn start(table: RouteTable) -> Running {
    start_with(builder(), table).await
}

/// Starts a proxy from `builder` serving `table`.
pub async fn start_with(builder: ProxyBuilder, table: RouteTable) -> Running {
    init();
    let proxy = builder.build().unwrap();
    let handle = proxy.handle();
    handle.apply(table).unwrap();
    let bound = proxy.bind().await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = Running {
        http: bound.http_addr().unwrap(),
        https: bound.https_addr().unwrap(),
        admin: bound.admin_addr().unwrap(),
        handle,
        stop: Some(stop),
        task: None,
    };
    let task = tokio::spawn(bound.serve(async {
        let _ = stopped.await;
    }));
    Running {
        task: Some(task),
        ..running
    }
}
