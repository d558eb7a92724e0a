//! The sluice data plane: listeners (HTTP with h2c, HTTPS with SNI), the per-request pipeline
//! and its filters, pooled upstream clients with ingress-nginx's balancing (round robin, peak
//! EWMA, consistent hashing, cookie affinity, canaries) and timeouts, rate and connection
//! limits, basic/digest and external authentication, request mirroring, admin endpoints and
//! graceful shutdown.
//!
//! It serves whatever [`RouteTable`](sluice_ingress_model::RouteTable) it is handed through
//! [`Handle::apply`] and never knows where that table came from: sources and binaries wire a
//! table producer to a proxy, nothing here reads Kubernetes or files.
//!
//! ```no_run
//! # async fn run(table: sluice_ingress_model::RouteTable) -> Result<(), sluice_proxy::ProxyError> {
//! let proxy = sluice_proxy::Proxy::builder()
//!     .http("0.0.0.0:80".parse().unwrap())
//!     .admin("0.0.0.0:10254".parse().unwrap())
//!     .build()?;
//! proxy.handle().apply(table)?;
//! let bound = proxy.bind().await?;
//! bound.serve(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```

pub mod access_log;
mod admin;
mod attempt;
mod auth;
mod balance;
mod body;
mod client;
mod client_cert;
mod client_ip;
mod config;
mod connection;
mod connector;
mod custom_errors;
mod error;
mod filter;
pub mod filters;
mod forward;
mod generation;
mod h1_pool;
mod h2_pool;
mod handle;
mod hop;
mod hosts;
mod intake;
pub mod limits;
mod listener;
pub mod metrics;
mod mirror;
mod outbound;
mod proxy;
pub mod proxy_protocol;
mod random;
mod request_body;
mod retire;
mod service;
mod shutdown;
mod state;
mod stats;
pub mod telemetry;
mod text;
mod tls;
mod tls_config;
mod upstream;
mod upstream_tls;
mod variables;

pub use admin::MetricsExporter;
pub use body::Body;
pub use config::{
    DEFAULT_DRAIN, DEFAULT_SHUTDOWN_TIMEOUT, ProxyBuilder, WORKER_THREADS_ENV, worker_threads,
};
pub use error::{ErrorSource, ProxyError};
pub use filter::{Connection, Failure, Filter, Flow, Mark, RequestContext, Scheme, UpstreamTiming};
pub use handle::{ApplyOutcome, Change, Handle};
pub use mirror::MirrorStats;
pub use proxy::Proxy;
pub use retire::on_retired;
pub use shutdown::{Bound, ShutdownReport};
pub use telemetry::{Telemetry, TelemetryBuilder};
pub use tls::SELF_SIGNED_COMMON_NAME;
