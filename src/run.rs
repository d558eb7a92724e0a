//! What every serving mode shares: building a snapshot with each diagnostic logged once (and
//! recorded in the metrics), and applying the table to the proxy with one `config applied` log
//! line.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Instant;

use tracing::{error, info, warn};

use crate::model::{
    BuildOptions, Built, ConfigMap, Incremental, ObjectKey, RouteTable, Severity, Snapshot,
};
use crate::proxy::{Change, Handle, Telemetry};

/// Builds tables (incrementally: a change re-builds only the hosts it touches) and logs each
/// diagnostic once, when it first appears; with telemetry, records each build (duration,
/// diagnostics, orphan Ingresses) and prepares the ConfigMap report.
#[derive(Debug, Default)]
pub struct Reporter {
    incremental: Incremental,
    seen: BTreeSet<String>,
    telemetry: Option<Telemetry>,
    config_report: Option<serde_json::Value>,
    /// The controller ConfigMap (key and object) the last report was made from.
    reported: Option<Option<(ObjectKey, Option<ConfigMap>)>>,
}

/// Publishes the ConfigMap report of the last build on the admin listener (`/debug/config`).
pub fn publish_config(handle: &Handle, reporter: &mut Reporter) {
    if let Some(report) = reporter.config_report.take() {
        handle.publish_config_report(report);
    }
}

/// An address for logs, `-` when absent.
pub fn addr_text(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "-".to_owned(), |a| a.to_string())
}

/// Applies a table and logs one `config applied` line: `change` (`rebuild`, `endpoints` or
/// `unchanged`), `upstreams` (how many got new endpoints), `hosts`, `routes`, `apply_us`, and
/// the proxy's `rebuilds` and `endpoint_updates` counters. A table the proxy rejects is logged
/// as an error; the previous one keeps serving.
pub fn apply(handle: &Handle, table: RouteTable) {
    let started = Instant::now();
    let routes = table
        .routes
        .virtual_hosts
        .iter()
        .map(|v| v.routes.len())
        .sum::<usize>();
    let hosts = table.routes.virtual_hosts.len();
    match handle.apply(table) {
        Ok(outcome) => {
            // A u64 logs as a JSON number (u128 would be a string); 584k years of micros fit.
            let apply_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let (change, upstreams) = match outcome.change {
                Change::Unchanged => ("unchanged", 0),
                Change::Endpoints { upstreams } => ("endpoints", upstreams),
                Change::Rebuild => ("rebuild", 0),
                _ => ("other", 0),
            };
            info!(
                change,
                upstreams,
                hosts,
                routes,
                apply_us,
                rebuilds = handle.rebuilds(),
                endpoint_updates = handle.endpoint_updates(),
                "config applied"
            );
        }
        Err(e) => error!(error = %e, "config rejected; the previous table keeps serving"),
    }
}

impl Reporter {
    /// A reporter that also records builds in `telemetry`.
    pub fn with_telemetry(telemetry: Option<Telemetry>) -> Self {
        Self {
            telemetry,
            ..Self::default()
        }
    }

    /// Builds `snapshot`, logging the source's own findings (`source`) and the model's, each
    /// once while it lasts.
    pub fn build(
        &mut self,
        snapshot: &Snapshot,
        source: impl IntoIterator<Item = (Severity, String)>,
        opts: &BuildOptions,
    ) -> Built {
        let opts = BuildOptions {
            now: Some(crate::unix_now()),
            ..opts.clone()
        };
        let started = Instant::now();
        let built = self.incremental.build(snapshot, &opts);
        if let Some(telemetry) = &self.telemetry {
            telemetry.built(&built, started.elapsed());
            // The report only changes with the controller ConfigMap.
            // Compared by reference; copied only when it changed.
            let config = opts
                .controller_config
                .as_ref()
                .map(|key| (key, snapshot.config_maps.get(key)));
            let unchanged = self
                .reported
                .as_ref()
                .is_some_and(|reported| reported.as_ref().map(|(k, m)| (k, m.as_ref())) == config);
            if !unchanged {
                self.config_report = Some(crate::observe::config_report(snapshot, &opts));
                self.reported = Some(config.map(|(k, m)| (k.clone(), m.cloned())));
            }
        }
        let mut current = BTreeSet::new();
        let model = built
            .diagnostics
            .iter()
            .map(|d| (d.severity, d.to_string()));
        for (severity, line) in source.into_iter().chain(model) {
            if !self.seen.contains(&line) {
                match severity {
                    Severity::Error => error!("{line}"),
                    Severity::Warning => warn!("{line}"),
                    Severity::Info => info!("{line}"),
                }
            }
            current.insert(line);
        }
        self.seen = current;
        built
    }
}
