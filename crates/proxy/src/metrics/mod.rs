//! Prometheus metrics with ingress-nginx's names, labels and default buckets, plus sluice's own
//! under `sluice_`. Served on the admin listener's `/metrics` in the Prometheus text format.
//!
//! Families (every one carries the constant labels `controller_namespace`, `controller_class`,
//! `controller_pod`, except the standard `process_*`):
//! - requests: `nginx_ingress_controller_{requests, request_duration_seconds,
//!   response_duration_seconds, header_duration_seconds, connect_duration_seconds,
//!   request_size, response_size, bytes_sent, ingress_upstream_latency_seconds}` ([`requests`]);
//! - controller: `..._{config_hash, config_last_reload_successful,
//!   config_last_reload_successful_timestamp_seconds, success, errors,
//!   ssl_expire_time_seconds, orphan_ingress, leader_election_status, build_info}` and
//!   `sluice_{config_applies_total, config_apply_errors_total, table_build_duration_seconds,
//!   table_swap_duration_seconds, hosts, routes, upstreams, upstreams_without_endpoints,
//!   config_diagnostics}` ([`controller`]);
//! - process: `process_*` and `..._nginx_process_*` ([`process`]);
//! - upstreams: `sluice_upstream_{connections_active, connections_opened_total,
//!   requests_total, connection_reuse_ratio, retries_total}`;
//! - filters: `sluice_requests_rejected_total{namespace, ingress, reason}` (from
//!   [`RequestContext::mark`](crate::RequestContext::mark)) and `sluice_access_log_*`.
//!
//! `nginx_ingress_controller_requests`, `_success` and `_errors` keep ingress-nginx's names,
//! which lack `_total`; they are exposed as `untyped` so that `promtool check metrics` accepts
//! them (ingress-nginx types them `counter`; PromQL treats both the same).
//!
//! The request path costs three hash lookups (host, route labels, then status and method), takes
//! no lock and adds to a few atomics; see `benches/README.md`.

pub mod controller;
mod exposition;
pub mod histogram;
mod host_labels;
mod interner;
pub mod labels;
mod process;
pub mod requests;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use arc_swap::ArcSwap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use sluice_ingress_model::{Action, Route, RouteOrigin, RouteTable, UpstreamId};

pub use controller::Identity;
pub use exposition::CONTENT_TYPE;
pub use requests::{Observation, UpstreamTimes};

use crate::access_log::AccessLog;
use crate::handle::Shared;
use labels::{Interner, LabelIndex, RouteLabels};

/// How request metrics are labelled.
#[derive(Clone, Debug)]
pub struct MetricsOptions {
    /// `--enable-metrics` (default true): record the per-request series (requests, durations,
    /// sizes, upstream latency, refusals, retries). Off, the page keeps the process,
    /// connection, upstream-pool and configuration series, and a request records nothing.
    pub requests: bool,
    /// `--metrics-per-host` (default true): add the `host` label.
    pub per_host: bool,
    /// `--report-status-classes` (default false): `2xx` instead of `200`.
    pub status_classes: bool,
    /// `controller_namespace` (`POD_NAMESPACE`).
    pub namespace: String,
    /// `controller_class` (`--controller-class`).
    pub class: String,
    /// `controller_pod` (`POD_NAME`).
    pub pod: String,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        Self {
            requests: true,
            per_host: true,
            status_classes: false,
            namespace: String::new(),
            class: String::new(),
            pod: String::new(),
        }
    }
}

/// The metrics of one proxy. Cheap to share: all state is behind an `Arc`.
pub struct Metrics {
    state: Arc<State>,
    registry: Registry,
}

struct State {
    options: MetricsOptions,
    identity: Identity,
    interner: Interner,
    index: ArcSwap<LabelIndex>,
    /// The table `index` was built from (or a later one with equal routes).
    indexed: Mutex<Option<Arc<RouteTable>>>,
    controller: controller::ControllerMetrics,
    rejections: Mutex<BTreeMap<(String, String, &'static str), u64>>,
    retries: Mutex<BTreeMap<String, u64>>,
    access_log: Arc<AccessLog>,
    shared: OnceLock<Weak<Shared>>,
}

#[derive(Clone, Copy, Debug)]
enum Group {
    Process,
    IngressNginx,
    Sluice,
}

#[derive(Clone)]
struct GroupCollector {
    state: Arc<State>,
    group: Group,
}

/// One finished request, as the metrics need it.
#[derive(Clone, Copy, Debug)]
pub struct RequestRecord<'a> {
    /// The normalised request host.
    pub host: &'a str,
    /// The matched route, if any.
    pub route: Option<&'a Route>,
    /// The upstream that served it.
    pub upstream: Option<&'a UpstreamId>,
    /// The status sent.
    pub status: u16,
    /// The `method` label.
    pub method: &'static str,
    /// Times and sizes.
    pub observation: Observation,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("options", &self.state.options)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for GroupCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCollector")
            .field("group", &self.group)
            .finish()
    }
}

impl Metrics {
    /// Metrics labelled per `options`, describing the build `identity`; the access log's
    /// counters are exported too.
    pub fn new(options: MetricsOptions, identity: Identity, access_log: Arc<AccessLog>) -> Self {
        let state = Arc::new(State {
            identity: Identity {
                namespace: options.namespace.clone(),
                class: options.class.clone(),
                ..identity
            },
            options,
            interner: Interner::default(),
            index: ArcSwap::from_pointee(LabelIndex::default()),
            indexed: Mutex::new(None),
            controller: controller::ControllerMetrics::new(),
            rejections: Mutex::new(BTreeMap::new()),
            retries: Mutex::new(BTreeMap::new()),
            access_log,
            shared: OnceLock::new(),
        });
        let constant = [
            ("controller_namespace", state.options.namespace.clone()),
            ("controller_class", state.options.class.clone()),
            ("controller_pod", state.options.pod.clone()),
        ]
        .map(|(k, v)| (Cow::Borrowed(k), Cow::Owned(v)));
        let collector = |group| {
            Box::new(GroupCollector {
                state: state.clone(),
                group,
            })
        };
        let mut registry = Registry::default();
        registry.register_collector(collector(Group::Process));
        registry
            .sub_registry_with_prefix("nginx_ingress_controller")
            .sub_registry_with_labels(constant.clone().into_iter())
            .register_collector(collector(Group::IngressNginx));
        registry
            .sub_registry_with_prefix("sluice")
            .sub_registry_with_labels(constant.into_iter())
            .register_collector(collector(Group::Sluice));
        Self { state, registry }
    }

    /// The `/metrics` page in the Prometheus text format ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        if prometheus_client::encoding::text::encode_registry(&mut text, &self.registry).is_err() {
            tracing::warn!("metrics encoding failed");
        }
        exposition::to_prometheus_text(&text)
    }

    /// Controller-level hooks (leader election, build results).
    pub fn controller(&self) -> &controller::ControllerMetrics {
        &self.state.controller
    }

    /// Reports a lease's leader election state (`leader_election_status{name}`).
    pub fn set_leader(&self, lease: &str, leading: bool) {
        self.state.controller.set_leader(lease, leading);
    }

    pub(crate) fn attach(&self, shared: &Arc<Shared>) {
        let _ = self.state.shared.set(Arc::downgrade(shared));
    }

    /// Resolves the label sets of a new table's routes (after a rebuild) and drops those of
    /// routes that are gone.
    /// Label sets of virtual hosts equal to their previous version are shared, not resolved.
    pub(crate) fn index_routes(&self, table: &Arc<RouteTable>) {
        let mut indexed = self
            .state
            .indexed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let live = self.state.index.load_full();
        let interner = &self.state.interner;
        let updated = indexed
            .as_ref()
            .and_then(|old| LabelIndex::update(&table.routes, interner, &old.routes, &live));
        let index = match updated {
            Some((index, dropped)) => {
                interner.forget(&dropped);
                index
            }
            None => {
                let previous = indexed.as_ref().map(|old| (&old.routes, &*live));
                let index = LabelIndex::build(&table.routes, interner, previous);
                index.retire_unshared(&live);
                let unknown = self.unknown_labels(&index);
                interner.retain(&index, &unknown);
                index
            }
        };
        interner.sweep_strays(&index);
        self.state.index.store(Arc::new(index));
        let old_table = indexed.replace(table.clone());
        drop(indexed);
        crate::retire::retire((live, old_table));
    }

    /// A table with the same routes as the indexed one was applied (endpoints only): the
    /// index keeps comparing against the live table rather than holding an old one.
    pub(crate) fn routes_kept(&self, table: &Arc<RouteTable>) {
        let mut indexed = self
            .state
            .indexed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if indexed.is_some() {
            let old_table = indexed.replace(table.clone());
            drop(indexed);
            crate::retire::retire(old_table);
        }
    }

    /// Forgets connection counts of endpoint addresses no upstream of `table` uses.
    pub(crate) fn prune_connections(&self, table: &sluice_ingress_model::RouteTable) {
        let Some(shared) = self.state.shared.get().and_then(Weak::upgrade) else {
            return;
        };
        let live: std::collections::HashSet<std::net::SocketAddr> = table
            .endpoints
            .0
            .values()
            .flat_map(|set| set.iter().copied())
            .collect();
        let generation = shared.generation.load();
        generation
            .clients
            .connections()
            .prune(|addr| live.contains(addr));
    }

    fn unknown_labels(&self, index: &LabelIndex) -> Arc<RouteLabels> {
        let host = index.hosts().label(labels::UNKNOWN_HOST).clone();
        self.state
            .interner
            .intern(labels::values(&host, None, None, None))
    }

    /// Whether requests are recorded (`--enable-metrics`).
    pub fn records_requests(&self) -> bool {
        self.state.options.requests
    }

    /// Records one finished request.
    pub fn record(&self, record: &RequestRecord<'_>) {
        let state = &self.state;
        let index = state.index.load();
        let origin: Option<&RouteOrigin> = record.route.and_then(|r| r.origin.as_ref());
        let (host, labels) = index.get(record.host, origin, record.upstream, &state.interner);
        let labels = match labels {
            Some(labels) => labels.clone(),
            None => {
                let canary = record.route.and_then(|r| match &r.action {
                    Action::Forward(f) => f.canary.as_ref().map(|c| &c.upstream),
                    _ => None,
                });
                let values = labels::values(host, origin, record.upstream, canary);
                state.interner.intern_stray(values)
            }
        };
        let status = if state.options.status_classes {
            record.status / 100 * 100
        } else {
            record.status
        };
        labels.record(status, record.method, &record.observation);
        if let Some(upstream) = &record.observation.upstream {
            labels.latency.histogram.observe(upstream.connect);
        }
    }

    /// Counts a request a filter refused (`sluice_requests_rejected_total`).
    pub fn rejected(&self, origin: Option<&RouteOrigin>, reason: &'static str) {
        let (namespace, ingress) = origin.map_or((String::new(), String::new()), |o| {
            (o.ingress.namespace.clone(), o.ingress.name.clone())
        });
        *self
            .state
            .rejections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((namespace, ingress, reason))
            .or_insert(0) += 1;
    }

    /// Counts extra attempts of a request (`sluice_upstream_retries_total`).
    pub fn retried(&self, upstream: &UpstreamId, retries: u32) {
        *self
            .state
            .retries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(upstream.to_string())
            .or_insert(0) += u64::from(retries);
    }

    /// The number of request label sets in use (for cardinality checks).
    pub fn label_sets(&self) -> usize {
        self.state.interner.all().len()
    }
}

impl Collector for GroupCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let state = &self.state;
        let shared = state.shared.get().and_then(Weak::upgrade);
        match self.group {
            Group::Process => match process::ProcessSample::read() {
                Some(sample) => process::encode_standard(&mut encoder, &sample),
                None => Ok(()),
            },
            Group::IngressNginx => {
                let sets = state.interner.all();
                let latency = state.interner.all_latency();
                let options = requests::LabelOptions {
                    per_host: state.options.per_host,
                    status_classes: state.options.status_classes,
                };
                requests::encode(&mut encoder, &sets, &latency, options)?;
                state
                    .controller
                    .encode_ingress_nginx(&mut encoder, &state.identity)?;
                let connections = shared
                    .as_ref()
                    .map(|s| s.stats.connections.counts())
                    .unwrap_or_default();
                let sample = process::ProcessSample::read();
                process::encode_nginx(&mut encoder, sample.as_ref(), connections)
            }
            Group::Sluice => {
                state.controller.encode_sluice(&mut encoder)?;
                self.encode_filters(&mut encoder)?;
                if let Some(shared) = shared {
                    encode_upstreams(&mut encoder, &shared, &state.retries)?;
                }
                Ok(())
            }
        }
    }
}

impl GroupCollector {
    fn encode_filters(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let state = &self.state;
        let mut metric = encoder.encode_descriptor(
            "requests_rejected",
            "Requests refused by a filter, by reason (rate_limit, connection_limit, access_list, auth)",
            None,
            MetricType::Counter,
        )?;
        let rejections = state
            .rejections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for ((namespace, ingress, reason), count) in &rejections {
            let labels = [
                ("namespace", namespace.as_str()),
                ("ingress", ingress.as_str()),
                ("reason", reason),
            ];
            metric
                .encode_family(&labels)?
                .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(count, None)?;
        }
        let log = &state.access_log;
        controller::counter(
            encoder,
            "access_log_lines",
            "Access-log lines written",
            log.written(),
        )?;
        controller::counter(
            encoder,
            "access_log_dropped",
            "Access-log lines dropped because the writer was behind (stdout blocked or slow)",
            log.dropped(),
        )?;
        controller::counter(
            encoder,
            "access_log_write_errors",
            "Access-log lines the output refused",
            log.failed(),
        )
    }
}

/// Per-upstream connection and request counts of the live generation.
fn encode_upstreams(
    encoder: &mut DescriptorEncoder,
    shared: &Shared,
    retries: &Mutex<BTreeMap<String, u64>>,
) -> Result<(), std::fmt::Error> {
    let generation = shared.generation.load_full();
    let connections = generation.clients.connections();
    let mut rows: Vec<(String, u64, u64, u64)> = generation
        .upstreams
        .values()
        .map(|upstream| {
            let (mut opened, mut active, mut requests) = (0, 0, 0);
            for endpoint in upstream.endpoints().iter() {
                let (o, a) = connections.of(&endpoint.addr);
                opened += o;
                active += a;
                requests += endpoint.requests.load(std::sync::atomic::Ordering::Relaxed);
            }
            (upstream.id.to_string(), opened, active, requests)
        })
        .collect();
    rows.sort();
    let mut metric = encoder.encode_descriptor(
        "upstream_connections_active",
        "Open connections to the upstream's current endpoints",
        None,
        MetricType::Gauge,
    )?;
    for (name, _, active, _) in &rows {
        metric
            .encode_family(&[("upstream", name.as_str())])?
            .encode_gauge(active)?;
    }
    let mut metric = encoder.encode_descriptor(
        "upstream_connections_opened",
        "Connections opened to the upstream's current endpoints",
        None,
        MetricType::Counter,
    )?;
    for (name, opened, _, _) in &rows {
        metric
            .encode_family(&[("upstream", name.as_str())])?
            .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(opened, None)?;
    }
    let mut metric = encoder.encode_descriptor(
        "upstream_requests",
        "Attempts sent to the upstream's current endpoints",
        None,
        MetricType::Counter,
    )?;
    for (name, _, _, requests) in &rows {
        metric
            .encode_family(&[("upstream", name.as_str())])?
            .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(requests, None)?;
    }
    let mut metric = encoder.encode_descriptor(
        "upstream_connection_reuse_ratio",
        "Share of attempts that used a pooled connection: 1 - opened / requests",
        None,
        MetricType::Gauge,
    )?;
    for (name, opened, _, requests) in &rows {
        if *requests > 0 {
            let ratio = 1.0 - (*opened as f64 / *requests as f64).min(1.0);
            metric
                .encode_family(&[("upstream", name.as_str())])?
                .encode_gauge(&ratio)?;
        }
    }
    let mut metric = encoder.encode_descriptor(
        "upstream_retries",
        "Extra attempts after a failed one (proxy-next-upstream)",
        None,
        MetricType::Counter,
    )?;
    let retries = retries
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for (name, count) in &retries {
        metric
            .encode_family(&[("upstream", name.as_str())])?
            .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(count, None)?;
    }
    Ok(())
}
