//! Telemetry of the serving modes: metrics labelled like ingress-nginx's controller (the
//! controller class and the pod's name and namespace), the access log on standard output, and
//! the ConfigMap report `/debug/config` shows. [`crate::run::Reporter`] records each build in
//! the metrics and prepares the report; [`crate::run::publish_config`] hands it to the proxy.

use crate::model::{BuildOptions, Snapshot, config};
use crate::proxy::Telemetry;
use crate::proxy::metrics::MetricsOptions;

/// How the binary's telemetry is set up (from its flags and the Downward API).
#[derive(Clone, Debug)]
pub struct TelemetrySettings {
    /// `--enable-metrics`: record per-request series.
    pub requests: bool,
    /// `--metrics-per-host`.
    pub per_host: bool,
    /// `--report-status-classes`.
    pub status_classes: bool,
    /// Write the access log to standard output.
    pub access_log: bool,
    /// Access-log lines buffered before new ones are dropped.
    pub access_log_buffer: usize,
    /// `controller_class` (`--controller-class`).
    pub controller_class: String,
    /// `controller_pod` (`POD_NAME`).
    pub pod_name: String,
    /// `controller_namespace` (`POD_NAMESPACE`).
    pub pod_namespace: String,
}

impl TelemetrySettings {
    /// Builds the telemetry (and starts its access-log writer).
    pub fn build(&self) -> Telemetry {
        let sink: Option<Box<dyn std::io::Write + Send>> = if self.access_log {
            Some(Box::new(std::io::stdout()))
        } else {
            None
        };
        Telemetry::builder()
            .metrics_options(MetricsOptions {
                requests: self.requests,
                per_host: self.per_host,
                status_classes: self.status_classes,
                namespace: self.pod_namespace.clone(),
                class: self.controller_class.clone(),
                pod: self.pod_name.clone(),
            })
            .access_log_sink(sink)
            .access_log_capacity(self.access_log_buffer)
            .build()
    }
}

/// The controller ConfigMap's per-key report (raw value, default or not, valid or not, status),
/// as `/debug/config` shows it next to the effective settings.
pub fn config_report(snapshot: &Snapshot, opts: &BuildOptions) -> serde_json::Value {
    let data = opts
        .controller_config
        .as_ref()
        .and_then(|key| snapshot.config_maps.get(key))
        .map(|map| map.data.clone())
        .unwrap_or_default();
    let configmap = opts.controller_config.as_ref().map(ToString::to_string);
    match serde_json::to_value(config::report(&data)) {
        Ok(keys) => serde_json::json!({ "configmap": configmap, "keys": keys }),
        Err(error) => {
            tracing::warn!(%error, "cannot serialise the ConfigMap report");
            serde_json::Value::Null
        }
    }
}
