//! How a proxy is configured: listener addresses, filters, the drain and shutdown periods, the
//! metrics exporter, and the worker thread count the binary builds its runtime with.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use crate::admin::MetricsExporter;
use crate::error::ProxyError;
use crate::filter::Filter;
use crate::proxy::Proxy;
use crate::telemetry::Telemetry;

/// The environment variable that overrides the worker thread count.
pub const WORKER_THREADS_ENV: &str = "SLUICE_WORKER_THREADS";

/// The default time `/readyz` fails before listeners close.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(5);
/// The default time in-flight requests get after listeners close.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A proxy's configuration, as the builder collected it.
pub(crate) struct Config {
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
    pub filters: Vec<Arc<dyn Filter>>,
    pub drain: Duration,
    pub shutdown_timeout: Duration,
    pub metrics: Option<Arc<dyn MetricsExporter>>,
    pub telemetry: Option<Telemetry>,
}

/// Builds a [`Proxy`]; see [`Proxy::builder`].
#[must_use]
pub struct ProxyBuilder {
    config: Config,
}

impl Default for ProxyBuilder {
    fn default() -> Self {
        Self {
            config: Config {
                http: None,
                https: None,
                admin: None,
                filters: crate::filters::builtin(),
                drain: DEFAULT_DRAIN,
                shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
                metrics: None,
                telemetry: None,
            },
        }
    }
}

impl std::fmt::Debug for ProxyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyBuilder")
            .field("http", &self.config.http)
            .field("https", &self.config.https)
            .field("admin", &self.config.admin)
            .field("filters", &self.config.filters.len())
            .field("drain", &self.config.drain)
            .field("shutdown_timeout", &self.config.shutdown_timeout)
            .finish_non_exhaustive()
    }
}

impl ProxyBuilder {
    /// Serve plain HTTP (HTTP/1.1 and h2c prior knowledge) on this address.
    pub fn http(mut self, addr: SocketAddr) -> Self {
        self.config.http = Some(addr);
        self
    }

    /// Serve HTTPS (HTTP/1.1 and h2 by ALPN) on this address.
    pub fn https(mut self, addr: SocketAddr) -> Self {
        self.config.https = Some(addr);
        self
    }

    /// Serve the admin endpoints on this address.
    pub fn admin(mut self, addr: SocketAddr) -> Self {
        self.config.admin = Some(addr);
        self
    }

    /// Adds a filter; it runs after the built-in ones and those added before it.
    pub fn filter(mut self, filter: Arc<dyn Filter>) -> Self {
        self.config.filters.push(filter);
        self
    }

    /// How long to keep serving (with `/readyz` failing) after shutdown is triggered.
    pub fn drain(mut self, drain: Duration) -> Self {
        self.config.drain = drain;
        self
    }

    /// How long in-flight requests get after the listeners close, before serving returns anyway.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.config.shutdown_timeout = timeout;
        self
    }

    /// Serves `/metrics` on the admin listener with this exporter.
    pub fn metrics(mut self, exporter: Arc<dyn MetricsExporter>) -> Self {
        self.config.metrics = Some(exporter);
        self
    }

    /// Installs metrics, access log and trace context: the telemetry filter runs before every
    /// other filter, `/metrics` serves its metrics, and applied tables update them.
    pub fn telemetry(mut self, telemetry: Telemetry) -> Self {
        self.config.filters.insert(0, telemetry.filter());
        self.config.metrics = Some(Arc::new(telemetry.clone()));
        self.config.telemetry = Some(telemetry);
        self
    }

    /// Builds the proxy (generating the self-signed default certificate).
    pub fn build(self) -> Result<Proxy, ProxyError> {
        Proxy::from_config(self.config)
    }
}

/// Worker threads for the runtime: `SLUICE_WORKER_THREADS` when set to a positive number, else
/// the ConfigMap's `worker-processes` (`setting`), else the CPUs available to this process
/// (cgroup-aware).
pub fn worker_threads(setting: Option<usize>) -> usize {
    let env = std::env::var(WORKER_THREADS_ENV).ok();
    choose_worker_threads(env.as_deref(), setting, || {
        std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
    })
}

fn choose_worker_threads(
    env: Option<&str>,
    setting: Option<usize>,
    available: impl FnOnce() -> usize,
) -> usize {
    if let Some(n) = env.and_then(|v| v.trim().parse::<usize>().ok())
        && n > 0
    {
        return n;
    }
    match setting {
        Some(n) if n > 0 => n,
        _ => available().max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_then_setting_then_cpus() {
        assert_eq!(choose_worker_threads(Some("3"), Some(5), || 8), 3);
        assert_eq!(choose_worker_threads(Some(" 2 "), None, || 8), 2);
        assert_eq!(choose_worker_threads(Some("0"), Some(5), || 8), 5);
        assert_eq!(choose_worker_threads(Some("many"), None, || 8), 8);
        assert_eq!(choose_worker_threads(None, Some(0), || 8), 8);
        assert_eq!(choose_worker_threads(None, None, || 0), 1);
        assert!(worker_threads(Some(4)) >= 1);
    }
}
