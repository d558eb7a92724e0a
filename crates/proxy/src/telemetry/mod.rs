//! Telemetry: Prometheus metrics ([`Metrics`]), the access log ([`AccessLog`]) and W3C trace
//! context, installed on a proxy with [`ProxyBuilder::telemetry`](crate::ProxyBuilder::telemetry).
//!
//! It plugs in as an ordinary [`Filter`](crate::Filter), placed before every other filter so
//! its `request` hook always runs: it captures what the log and metrics need from the request
//! head (the original URI, head size, `Referer`, `User-Agent`, `Authorization` for
//! `$remote_user`, headers a custom log format reads), starts or keeps the trace context, and
//! in the `logging` hook records the metrics and queues the log line. Applying a table updates
//! the reload metrics, the route label sets and the access-log format.
//!
//! Filters report what they did through [`RequestContext::mark`](crate::RequestContext::mark)
//! (counted as `sluice_requests_rejected_total{reason}`); retries are read from
//! `RequestContext::attempts`. An embedder or the binary reports build results, leader
//! election and other controller events through [`Telemetry::metrics`].

mod filter;
pub(crate) mod trace;

use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use sluice_ingress_model::{Built, RouteTable};

use crate::access_log::LogConfig;
use crate::access_log::{AccessLog, DEFAULT_CAPACITY};
use crate::handle::{Change, Shared};
use crate::metrics::{Identity, Metrics, MetricsOptions};
use crate::stats::{ConnectionStats, InFlight};

pub use trace::TraceContext;

/// Metrics, access log and trace context of a proxy. Clones share everything.
#[derive(Clone, Debug)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    metrics: Metrics,
    access_log: Arc<AccessLog>,
    connections: OnceLock<Arc<ConnectionStats>>,
}

/// Builds a [`Telemetry`].
#[must_use]
pub struct TelemetryBuilder {
    options: MetricsOptions,
    identity: Identity,
    sink: Option<Box<dyn Write + Send>>,
    capacity: usize,
}

/// What the telemetry filter captured from a request head (kept in the request context).
#[derive(Debug, Default)]
pub(crate) struct Observed {
    /// Request line and headers, in bytes.
    pub head_bytes: u64,
    /// Status line and headers of the response, in bytes.
    pub response_head_bytes: u64,
    /// `Referer`.
    pub referer: Option<HeaderValue>,
    /// `User-Agent`.
    pub user_agent: Option<HeaderValue>,
    /// `Authorization`, when it is Basic (for `$remote_user`).
    pub authorization: Option<HeaderValue>,
    /// The headers a custom log format reads, by its capture index.
    pub headers: Vec<Option<HeaderValue>>,
    /// The trace context, when the request carried one or tracing started one.
    pub trace: Option<TraceContext>,
    /// Keeps the request counted as in flight.
    pub in_flight: Option<InFlight>,
    /// The access-log settings when the request arrived (capture indices refer to them).
    pub log: Option<Arc<LogConfig>>,
}

impl std::fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("options", &self.options)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for TelemetryBuilder {
    fn default() -> Self {
        Self {
            options: MetricsOptions::default(),
            identity: Identity {
                release: env!("CARGO_PKG_VERSION").to_owned(),
                repository: env!("CARGO_PKG_REPOSITORY").to_owned(),
                ..Identity::default()
            },
            sink: Some(Box::new(std::io::stdout())),
            capacity: DEFAULT_CAPACITY,
        }
    }
}

impl TelemetryBuilder {
    /// How request metrics are labelled, and the constant controller labels.
    pub fn metrics_options(mut self, options: MetricsOptions) -> Self {
        self.options = options;
        self
    }

    /// The `build_info` labels: release, build (commit) and repository.
    pub fn build_info(mut self, release: &str, build: &str, repository: &str) -> Self {
        self.identity.release = release.to_owned();
        self.identity.build = build.to_owned();
        self.identity.repository = repository.to_owned();
        self
    }

    /// Where access-log lines go (standard output by default); `None` turns the log off.
    pub fn access_log_sink(mut self, sink: Option<Box<dyn Write + Send>>) -> Self {
        self.sink = sink;
        self
    }

    /// How many lines may wait for the writer before new ones are dropped.
    pub fn access_log_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Starts the access-log writer and builds the telemetry.
    pub fn build(self) -> Telemetry {
        let access_log = Arc::new(AccessLog::new(self.sink, self.capacity));
        let metrics = Metrics::new(self.options, self.identity, access_log.clone());
        Telemetry {
            inner: Arc::new(Inner {
                metrics,
                access_log,
                connections: OnceLock::new(),
            }),
        }
    }
}

impl Telemetry {
    /// A builder: per-host metrics, standard output for the access log.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder::default()
    }

    /// The metrics, for controller-level hooks (build results, leader election).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The access log (its counters).
    pub fn access_log(&self) -> &AccessLog {
        &self.inner.access_log
    }

    /// Records a table build: its duration, diagnostics and orphan Ingresses.
    pub fn built(&self, built: &Built, elapsed: Duration) {
        self.inner.metrics.controller().built(built, elapsed);
    }

    /// The filter that records requests. [`ProxyBuilder::telemetry`](crate::ProxyBuilder::telemetry)
    /// installs it before every other filter, which it needs to be to see every request head.
    pub fn filter(&self) -> Arc<dyn crate::Filter> {
        Arc::new(filter::TelemetryFilter {
            telemetry: self.clone(),
        })
    }

    /// Connects the metrics to the proxy's state (generation, counters).
    pub(crate) fn attach(&self, shared: &Arc<Shared>) {
        self.inner.metrics.attach(shared);
        let _ = self.inner.connections.set(shared.stats.connections.clone());
    }

    /// A table was applied.
    pub(crate) fn applied(&self, table: &Arc<RouteTable>, change: Change, elapsed: Duration) {
        let controller = self.inner.metrics.controller();
        match change {
            Change::Unchanged => controller.unchanged(),
            Change::Endpoints { .. } => {
                self.inner.metrics.routes_kept(table);
                self.inner.metrics.prune_connections(table);
                controller.endpoints_updated(table, elapsed);
            }
            _ => {
                self.inner.metrics.index_routes(table);
                self.inner.metrics.prune_connections(table);
                self.inner.access_log.configure(&table.routes.settings);
                let now = SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs() as f64);
                controller.reloaded(table, elapsed, now);
            }
        }
    }

    /// Applying a table failed.
    pub(crate) fn apply_failed(&self) {
        self.inner.metrics.controller().reload_failed();
    }
}

impl crate::MetricsExporter for Telemetry {
    fn render(&self) -> String {
        self.inner.metrics.render()
    }

    fn content_type(&self) -> &'static str {
        crate::metrics::CONTENT_TYPE
    }
}
