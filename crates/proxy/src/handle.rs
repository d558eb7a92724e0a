//! The control side of a running proxy: apply a new route table, read counters and readiness.
//! `apply` runs the model's `diff` against the last applied table and does the least work it
//! allows; request handling never waits for it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use rustls::sign::CertifiedKey;
use sluice_ingress_model::{Plan, RouteTable, diff};

use crate::error::ProxyError;
use crate::generation::Generation;
use crate::stats::Stats;
use crate::telemetry::Telemetry;

/// A cloneable handle to a proxy's live state.
#[derive(Clone, Debug)]
pub struct Handle {
    shared: Arc<Shared>,
}

/// What [`Handle::apply`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// Which kind of change it was.
    pub change: Change,
    /// How long applying took.
    pub elapsed: Duration,
}

/// The kind of change [`Handle::apply`] made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// The table equals the live one; nothing was done.
    Unchanged,
    /// Only endpoint sets differed; they were swapped inside the live upstreams.
    Endpoints {
        /// How many upstreams got a new endpoint set.
        upstreams: usize,
    },
    /// The routes differed; a new router was compiled and published.
    Rebuild,
}

/// State shared by the handle, the listeners and the request pipeline.
pub(crate) struct Shared {
    /// The live generation; requests load it once each.
    pub generation: ArcSwap<Generation>,
    /// The generated certificate served when the table names no usable default.
    pub fallback_certificate: Arc<CertifiedKey>,
    /// Counter for the weighted choice between a route's backends.
    pub backend_cursor: AtomicUsize,
    /// Connection and request counters.
    pub stats: Stats,
    /// Metrics and access log, when installed.
    pub telemetry: Option<Telemetry>,
    /// The ConfigMap report `/debug/config` shows, as the embedder published it.
    pub config_report: ArcSwapOption<serde_json::Value>,
    /// Request mirroring: its client, queue and counters.
    pub mirror: crate::mirror::Mirrors,
    writer: Mutex<()>,
    rebuilds: AtomicU64,
    endpoint_updates: AtomicU64,
    applied: AtomicBool,
    draining: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("rebuilds", &self.rebuilds)
            .field("endpoint_updates", &self.endpoint_updates)
            .field("applied", &self.applied)
            .field("draining", &self.draining)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// State serving an empty table, reporting to `telemetry`.
    pub fn new(
        fallback_certificate: Arc<CertifiedKey>,
        telemetry: Option<Telemetry>,
    ) -> Result<Self, ProxyError> {
        let generation = Generation::empty(fallback_certificate.clone())?;
        Ok(Self {
            generation: ArcSwap::from_pointee(generation),
            fallback_certificate,
            backend_cursor: AtomicUsize::new(0),
            stats: Stats::default(),
            telemetry,
            config_report: ArcSwapOption::empty(),
            mirror: crate::mirror::Mirrors::default(),
            writer: Mutex::new(()),
            rebuilds: AtomicU64::new(0),
            endpoint_updates: AtomicU64::new(0),
            applied: AtomicBool::new(false),
            draining: AtomicBool::new(false),
        })
    }

    /// Marks the proxy as draining: `/readyz` fails from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }
}

impl Handle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Makes `table` the live table. Only endpoint changes are swapped in place; a structural
    /// change compiles a new router and publishes it with one store. When the router rejects
    /// the table, the previous generation keeps serving and the error is returned.
    pub fn apply(&self, table: RouteTable) -> Result<ApplyOutcome, ProxyError> {
        let start = Instant::now();
        // Writers are serialised; a poisoned lock only means another apply panicked, and the
        // live generation is still consistent because it is replaced by a single store.
        let _writer = self
            .shared
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let current = self.shared.generation.load_full();
        let change = match diff(&current.table, &table) {
            Plan::Unchanged => Change::Unchanged,
            Plan::Endpoints(updates) => {
                for update in &updates {
                    if let Some(upstream) = current.upstreams.get(&update.upstream) {
                        upstream.set_endpoints(Some(&update.endpoints));
                    }
                }
                self.shared
                    .generation
                    .store(Arc::new(current.with_table(table)));
                self.shared.endpoint_updates.fetch_add(1, Ordering::Relaxed);
                Change::Endpoints {
                    upstreams: updates.len(),
                }
            }
            Plan::Rebuild => {
                let next = Generation::rebuild(table, &current, &self.shared.fallback_certificate)
                    .inspect_err(|_| {
                        if let Some(telemetry) = &self.shared.telemetry {
                            telemetry.apply_failed();
                        }
                    })?;
                self.shared.generation.store(Arc::new(next));
                self.shared.rebuilds.fetch_add(1, Ordering::Relaxed);
                Change::Rebuild
            }
        };
        self.shared.applied.store(true, Ordering::SeqCst);
        let elapsed = start.elapsed();
        if let Some(telemetry) = &self.shared.telemetry {
            telemetry.applied(&self.shared.generation.load().table, change, elapsed);
        }
        // Freeing a replaced generation of a large table takes tens of milliseconds; requests
        // that still hold it keep it alive either way.
        crate::retire::retire(current);
        Ok(ApplyOutcome { change, elapsed })
    }

    /// Publishes the ConfigMap report `/debug/config` shows next to the live settings (the
    /// proxy does not see the ConfigMap itself; the binary publishes
    /// `sluice_ingress_model::config::report`).
    pub fn publish_config_report(&self, report: serde_json::Value) {
        self.shared.config_report.store(Some(Arc::new(report)));
    }

    /// What `/debug/config` serves: the live table's settings and the published report.
    pub fn config_report(&self) -> serde_json::Value {
        let settings =
            serde_json::to_value(&self.table().routes.settings).unwrap_or(serde_json::Value::Null);
        let keys = self
            .shared
            .config_report
            .load_full()
            .map_or(serde_json::Value::Null, |r| (*r).clone());
        serde_json::json!({ "settings": settings, "keys": keys })
    }

    /// How many applies compiled a new router.
    pub fn rebuilds(&self) -> u64 {
        self.shared.rebuilds.load(Ordering::Relaxed)
    }

    /// How many applies only swapped endpoint sets.
    pub fn endpoint_updates(&self) -> u64 {
        self.shared.endpoint_updates.load(Ordering::Relaxed)
    }

    /// Whether a table has been applied and the proxy is not draining (what `/readyz` reports).
    pub fn is_ready(&self) -> bool {
        self.shared.applied.load(Ordering::SeqCst) && !self.is_draining()
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.shared.draining.load(Ordering::SeqCst)
    }

    /// The live route table.
    pub fn table(&self) -> Arc<RouteTable> {
        self.shared.generation.load().table.clone()
    }
}
