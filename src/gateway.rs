//! The standalone gateway: the file source feeding the proxy. `sluice gateway` is [`run`];
//! embedders and examples use [`Gateway`] to start the same thing inside their own runtime.
//!
//! Each change in the manifests is built into a table and applied on a dedicated thread (CPU
//! work kept off the request workers); one `config applied` log line says what changed
//! (`rebuild`, `endpoints` or `unchanged`) and how long applying took (`apply_us`). Diagnostics
//! are logged once, when they first appear. A file that fails to parse keeps its last good
//! objects (the file source's rule), so the old routing keeps serving.
//!
//! ```no_run
//! # async fn run() -> Result<(), sluice::gateway::GatewayError> {
//! use sluice::gateway::{Gateway, GatewayConfig};
//!
//! let config = GatewayConfig::new(["manifests/"]);
//! let signal = sluice::signal::shutdown();
//! let running = Gateway::load(config).start().await?;
//! println!("serving on {:?}", running.http_addr());
//! running.serve(signal).await;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::info;

use crate::file_source::{self, FileSource, Loaded, WatchHandle};
use crate::model::{BuildOptions, Built};
use crate::proxy::{Bound, Handle, Proxy, ProxyError, ShutdownReport, Telemetry};
use crate::run::{Reporter, addr_text, apply, publish_config};

/// What a gateway reads and where it listens.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Files or directories of Kubernetes YAML.
    pub manifests: Vec<PathBuf>,
    /// Plain HTTP (HTTP/1.1 and h2c) listener; `None` for none. Port 0 picks a free port.
    pub http: Option<SocketAddr>,
    /// HTTPS listener.
    pub https: Option<SocketAddr>,
    /// Admin listener (`/healthz`, `/readyz`, `/metrics`, `/debug/routes`, `/debug/config`).
    pub admin: Option<SocketAddr>,
    /// How long to keep serving, with `/readyz` failing, after the shutdown signal.
    pub drain: Duration,
    /// How long in-flight requests get after the listeners close.
    pub shutdown_timeout: Duration,
    /// Which Ingresses are ours, and the global defaults.
    pub build: BuildOptions,
    /// Metrics (`/metrics`), access log and trace context; `None` for none.
    pub telemetry: Option<Telemetry>,
}

/// Why a gateway could not start.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub enum GatewayError {
    /// The proxy could not be configured or bound.
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// The manifests cannot be watched.
    #[error("watching the manifests: {0}")]
    Watch(#[from] file_source::Error),
    /// The runtime or the config thread could not be started.
    #[error("starting the {what}: {source}")]
    Start {
        /// What was being started.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

/// A gateway whose manifests are loaded and first table built, not yet listening.
pub struct Gateway {
    config: GatewayConfig,
    source: FileSource,
    built: Built,
    reporter: Reporter,
}

/// A listening gateway that reloads on change; [`Running::serve`] serves until shutdown.
pub struct Running {
    bound: Bound,
    _watch: WatchHandle,
}

impl GatewayConfig {
    /// Reads `manifests`; HTTP on 0.0.0.0:8080, HTTPS on 0.0.0.0:8443, admin on
    /// 127.0.0.1:10254; the proxy's default drain and shutdown timeout; class `sluice`.
    pub fn new<P: Into<PathBuf>>(manifests: impl IntoIterator<Item = P>) -> Self {
        Self {
            manifests: manifests.into_iter().map(Into::into).collect(),
            http: Some(SocketAddr::from(([0, 0, 0, 0], 8080))),
            https: Some(SocketAddr::from(([0, 0, 0, 0], 8443))),
            admin: Some(SocketAddr::from(([127, 0, 0, 1], 10254))),
            drain: crate::proxy::DEFAULT_DRAIN,
            shutdown_timeout: crate::proxy::DEFAULT_SHUTDOWN_TIMEOUT,
            build: BuildOptions {
                class_name_without_object: true,
                ..BuildOptions::default()
            },
            telemetry: None,
        }
    }
}

impl Gateway {
    /// Reads the manifests and builds the first table, logging its diagnostics.
    pub fn load(config: GatewayConfig) -> Self {
        let mut source = FileSource::new(config.manifests.clone());
        let loaded = source.load();
        let mut reporter = Reporter::with_telemetry(config.telemetry.clone());
        let built = build_loaded(&mut reporter, &loaded, &config.build);
        Self {
            config,
            source,
            built,
            reporter,
        }
    }

    /// The runtime worker threads the first table asks for (`SLUICE_WORKER_THREADS`, else the
    /// ConfigMap's `worker-processes`, else the CPUs available).
    pub fn worker_threads(&self) -> usize {
        crate::proxy::worker_threads(self.built.table.routes.settings.worker_processes)
    }

    /// Applies the first table, binds the listeners (logging `listening` with their
    /// addresses) and starts watching the manifests. Must run inside a tokio runtime.
    pub async fn start(self) -> Result<Running, GatewayError> {
        let Self {
            config,
            source,
            built,
            mut reporter,
        } = self;
        let mut builder = Proxy::builder()
            .drain(config.drain)
            .shutdown_timeout(config.shutdown_timeout);
        if let Some(addr) = config.http {
            builder = builder.http(addr);
        }
        if let Some(addr) = config.https {
            builder = builder.https(addr);
        }
        if let Some(addr) = config.admin {
            builder = builder.admin(addr);
        }
        if let Some(telemetry) = &config.telemetry {
            builder = builder.telemetry(telemetry.clone());
        }
        let proxy = builder.build()?;
        let handle = proxy.handle();
        apply(&handle, built.table);
        publish_config(&handle, &mut reporter);
        let bound = proxy.bind().await?;
        info!(
            http = %addr_text(bound.http_addr()),
            https = %addr_text(bound.https_addr()),
            admin = %addr_text(bound.admin_addr()),
            "listening"
        );

        // The watcher runs on its own thread and hands snapshots to the config thread, which
        // builds and applies them. When changes queue up, the latest snapshot wins.
        let (tx, rx) = mpsc::unbounded_channel::<Loaded>();
        let watch = source.watch(move |loaded| {
            let _ = tx.send(loaded);
        })?;
        let options = config.build;
        std::thread::Builder::new()
            .name("sluice-config".into())
            .spawn(move || reload_loop(rx, &handle, &options, &mut reporter))
            .map_err(|source| GatewayError::Start {
                what: "config thread",
                source,
            })?;
        Ok(Running {
            bound,
            _watch: watch,
        })
    }
}

impl Running {
    /// The HTTP listener's address.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.bound.http_addr()
    }

    /// The HTTPS listener's address.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.bound.https_addr()
    }

    /// The admin listener's address.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.bound.admin_addr()
    }

    /// The proxy's handle (counters, readiness, the live table).
    pub fn handle(&self) -> Handle {
        self.bound.handle()
    }

    /// Serves until `shutdown` completes, then drains; watching stops when this returns.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> ShutdownReport {
        let report = self.bound.serve(shutdown).await;
        info!(graceful = report.graceful, "stopped");
        report
    }
}

/// `sluice gateway`: loads, starts a runtime sized by [`Gateway::worker_threads`], serves until
/// SIGTERM or SIGINT ([`crate::signal::shutdown`], installed before the listeners are
/// announced), then drains.
pub fn run(config: GatewayConfig) -> Result<ShutdownReport, GatewayError> {
    let gateway = Gateway::load(config);
    let workers = gateway.worker_threads();
    // One worker: a current-thread runtime, driven by this thread. Same tasks, no work-stealing
    // machinery (no cross-thread queues or wake-ups) on every request.
    let mut builder = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(workers);
        builder
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|source| GatewayError::Start {
            what: "runtime",
            source,
        })?;
    info!(workers, "starting");
    runtime.block_on(async {
        let signal = crate::signal::shutdown();
        let running = gateway.start().await?;
        Ok(running.serve(signal).await)
    })
}

fn reload_loop(
    mut rx: mpsc::UnboundedReceiver<Loaded>,
    handle: &Handle,
    opts: &BuildOptions,
    reporter: &mut Reporter,
) {
    while let Some(mut loaded) = rx.blocking_recv() {
        while let Ok(newer) = rx.try_recv() {
            loaded = newer;
        }
        let built = build_loaded(reporter, &loaded, opts);
        apply(handle, built.table);
        publish_config(handle, reporter);
    }
}

/// Builds a loaded snapshot, logging the file findings and the model's diagnostics once each.
fn build_loaded(reporter: &mut Reporter, loaded: &Loaded, opts: &BuildOptions) -> Built {
    let file = loaded
        .diagnostics
        .iter()
        .map(|d| (d.severity, d.to_string()));
    reporter.build(&loaded.snapshot, file, opts)
}
