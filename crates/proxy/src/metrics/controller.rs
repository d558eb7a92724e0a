//! Controller metrics: reloads (`config_hash`, `config_last_reload_successful[_timestamp_seconds]`,
//! `success`, `errors`), certificate expiry, orphan Ingresses, leader election and build info,
//! plus sluice's own table metrics (rebuilds versus endpoint-only updates, build and swap
//! times, routes, hosts and upstreams, diagnostics). Updated when a table is built or applied,
//! never on the request path; what needs a walk over the whole table (orphans, certificate
//! expiry, counts) is worked out at the first scrape after a change, not on every change.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use sluice_ingress_model::{
    Action, Built, DiagnosticKind, Kind, ObjectKey, RouteTable, Severity, VirtualHost,
};

use super::histogram::{APPLY_BUCKETS, AtomicHistogram, NANOSECOND};
use super::labels::encode_pair;

/// A histogram over the table build and swap buckets.
type ApplyHistogram = AtomicHistogram<{ APPLY_BUCKETS.len() }>;

/// Reload and table state.
#[derive(Debug)]
pub struct ControllerMetrics {
    reloads: AtomicU64,
    reload_errors: AtomicU64,
    endpoint_updates: AtomicU64,
    unchanged: AtomicU64,
    build_seconds: ApplyHistogram,
    swap_seconds: ApplyHistogram,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    hash: ConfigHash,
    last_ok: Option<bool>,
    last_ok_timestamp: f64,
    /// The live table, and what the scrapes since it was applied worked out about it.
    live: Option<(Arc<RouteTable>, Option<Arc<Description>>)>,
    /// Ingresses whose Service is missing (from the last build's diagnostics).
    no_service: BTreeSet<(String, String)>,
    diagnostics: BTreeMap<&'static str, u64>,
    leader: BTreeMap<String, bool>,
}

/// Hosts, routes, upstreams, certificate expiry and orphans of one live table.
#[derive(Debug, Default)]
struct Description {
    hosts: u64,
    routes: u64,
    upstreams: u64,
    upstreams_without_endpoints: u64,
    certificates: Vec<CertificateExpiry>,
    /// Ingresses whose forwarding routes all lack endpoints.
    no_endpoint: BTreeSet<ObjectKey>,
}

/// `config_hash`: hashing a table means serialising all of it (tens of milliseconds at 10k
/// Ingresses), so a reload keeps the table and the first scrape after it computes the value.
#[derive(Debug)]
enum ConfigHash {
    /// Computed (0 after a failed reload, as ingress-nginx reports).
    Known(f64),
    /// The applied table, not hashed yet.
    Pending(Arc<RouteTable>),
}

impl Default for ConfigHash {
    fn default() -> Self {
        Self::Known(0.0)
    }
}

/// One served host's certificate.
#[derive(Clone, Debug, PartialEq)]
struct CertificateExpiry {
    host: String,
    secret: ObjectKey,
    not_after: i64,
}

/// The constant identity of this controller, written as labels of some families.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// `controller_namespace`.
    pub namespace: String,
    /// `controller_class`.
    pub class: String,
    /// Release (version).
    pub release: String,
    /// Build (commit), if known.
    pub build: String,
    /// Repository.
    pub repository: String,
}

impl ControllerMetrics {
    /// Nothing applied yet.
    pub fn new() -> Self {
        Self {
            reloads: AtomicU64::new(0),
            reload_errors: AtomicU64::new(0),
            endpoint_updates: AtomicU64::new(0),
            unchanged: AtomicU64::new(0),
            build_seconds: AtomicHistogram::new(APPLY_BUCKETS, NANOSECOND),
            swap_seconds: AtomicHistogram::new(APPLY_BUCKETS, NANOSECOND),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A table was built: build time, diagnostics by severity and Ingresses without a Service.
    pub fn built(&self, built: &Built, elapsed: Duration) {
        self.build_seconds.observe(elapsed.as_secs_f64());
        let mut diagnostics = BTreeMap::from([("error", 0), ("warning", 0), ("info", 0)]);
        let mut no_service = BTreeSet::new();
        for d in &built.diagnostics {
            let severity = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "info",
            };
            *diagnostics.entry(severity).or_insert(0) += 1;
            if d.object.kind == Kind::Ingress
                && matches!(
                    d.kind,
                    DiagnosticKind::ServiceNotFound(_) | DiagnosticKind::ExternalNameService(_)
                )
            {
                let key = &d.object.key;
                no_service.insert((key.namespace.clone(), key.name.clone()));
            }
        }
        let mut state = self.state();
        state.diagnostics = diagnostics;
        state.no_service = no_service;
    }

    /// A table was applied by rebuilding the router (an ingress-nginx reload).
    pub fn reloaded(&self, table: &Arc<RouteTable>, swap: Duration, now_unix: f64) {
        self.reloads.fetch_add(1, Ordering::Relaxed);
        self.swap_seconds.observe(swap.as_secs_f64());
        let mut state = self.state();
        let previous = std::mem::replace(&mut state.hash, ConfigHash::Pending(table.clone()));
        state.last_ok = Some(true);
        state.last_ok_timestamp = now_unix;
        let replaced = state.live.replace((table.clone(), None));
        drop(state);
        crate::retire::retire(replaced);
        // It may hold the last reference to an earlier table.
        crate::retire::retire(previous);
    }

    /// The `config_hash` value, computing it (outside the lock) if a reload left it pending.
    fn config_hash(&self) -> f64 {
        let pending = match &self.state().hash {
            ConfigHash::Known(value) => return *value,
            ConfigHash::Pending(table) => table.clone(),
        };
        let value = config_hash(&pending);
        let mut state = self.state();
        // Another reload may have replaced the table meanwhile; then its hash stays pending.
        if matches!(&state.hash, ConfigHash::Pending(t) if Arc::ptr_eq(t, &pending)) {
            state.hash = ConfigHash::Known(value);
        }
        value
    }

    /// A table was applied by swapping endpoint sets only.
    pub fn endpoints_updated(&self, table: &Arc<RouteTable>, swap: Duration) {
        self.endpoint_updates.fetch_add(1, Ordering::Relaxed);
        self.swap_seconds.observe(swap.as_secs_f64());
        let replaced = self.state().live.replace((table.clone(), None));
        crate::retire::retire(replaced);
    }

    /// The description of the live table, worked out (outside the lock) at the first call
    /// after a change.
    fn description(&self) -> Arc<Description> {
        let table = match &self.state().live {
            None => return Arc::default(),
            Some((_, Some(known))) => return known.clone(),
            Some((table, None)) => table.clone(),
        };
        let described = Arc::new(describe(&table));
        let mut state = self.state();
        // Another apply may have replaced the table meanwhile; then it stays to be described.
        if let Some((live, known)) = &mut state.live
            && Arc::ptr_eq(live, &table)
        {
            *known = Some(described.clone());
        }
        described
    }

    /// A table equal to the live one was applied.
    pub fn unchanged(&self) {
        self.unchanged.fetch_add(1, Ordering::Relaxed);
    }

    /// Applying a table failed; the previous one keeps serving.
    pub fn reload_failed(&self) {
        self.reload_errors.fetch_add(1, Ordering::Relaxed);
        let mut state = self.state();
        state.last_ok = Some(false);
        state.hash = ConfigHash::Known(0.0);
    }

    /// Leader election state of a lease.
    pub fn set_leader(&self, lease: &str, leading: bool) {
        self.state().leader.insert(lease.to_owned(), leading);
    }

    /// Encodes the ingress-nginx controller families (prefix `nginx_ingress_controller`).
    pub fn encode_ingress_nginx(
        &self,
        encoder: &mut DescriptorEncoder,
        identity: &Identity,
    ) -> Result<(), std::fmt::Error> {
        let hash = self.config_hash();
        let described = self.description();
        let state = self.state();
        gauge(
            encoder,
            "config_hash",
            "Running configuration hash actually running",
            hash,
        )?;
        if let Some(ok) = state.last_ok {
            gauge(
                encoder,
                "config_last_reload_successful",
                "Whether the last configuration reload attempt was successful",
                u64::from(ok),
            )?;
        }
        gauge(
            encoder,
            "config_last_reload_successful_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            state.last_ok_timestamp,
        )?;
        untyped(
            encoder,
            "success",
            "Cumulative number of Ingress controller reload operations",
            self.reloads.load(Ordering::Relaxed),
        )?;
        untyped(
            encoder,
            "errors",
            "Cumulative number of Ingress controller errors during reload operations",
            self.reload_errors.load(Ordering::Relaxed),
        )?;
        let mut metric = encoder.encode_descriptor(
            "ssl_expire_time_seconds",
            "Number of seconds since 1970 to the SSL Certificate expire",
            None,
            MetricType::Gauge,
        )?;
        for cert in &described.certificates {
            let labels = SslLabels { identity, cert };
            metric
                .encode_family(&labels)?
                .encode_gauge(&cert.not_after)?;
        }
        let mut metric = encoder.encode_descriptor(
            "orphan_ingress",
            "Gauge reporting status of orphaned ingresses (no-service or no-endpoint)",
            None,
            MetricType::Gauge,
        )?;
        for (namespace, ingress, kind) in orphans(&state.no_service, &described) {
            let labels = [
                ("namespace", namespace),
                ("ingress", ingress),
                ("type", kind),
            ];
            metric.encode_family(&labels)?.encode_gauge(&1u64)?;
        }
        let mut metric = encoder.encode_descriptor(
            "leader_election_status",
            "Gauge reporting status of the leader election, 0 indicates follower, 1 indicates leader",
            None,
            MetricType::Gauge,
        )?;
        for (lease, leading) in &state.leader {
            metric
                .encode_family(&[("name", lease.as_str())])?
                .encode_gauge(&u64::from(*leading))?;
        }
        let mut metric = encoder.encode_descriptor(
            "build_info",
            "A metric with a constant '1' labeled with information about the build",
            None,
            MetricType::Gauge,
        )?;
        let labels = [
            ("release", identity.release.as_str()),
            ("build", identity.build.as_str()),
            ("repository", identity.repository.as_str()),
        ];
        metric.encode_family(&labels)?.encode_gauge(&1u64)
    }

    /// Encodes sluice's own table families (prefix `sluice`).
    pub fn encode_sluice(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            "config_applies",
            "Tables applied, by what applying did: rebuild (new router), endpoints (endpoint sets swapped in place), unchanged",
            None,
            MetricType::Counter,
        )?;
        for (change, count) in [
            ("rebuild", &self.reloads),
            ("endpoints", &self.endpoint_updates),
            ("unchanged", &self.unchanged),
        ] {
            metric
                .encode_family(&[("change", change)])?
                .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(
                    &count.load(Ordering::Relaxed),
                    None,
                )?;
        }
        counter(
            encoder,
            "config_apply_errors",
            "Tables the proxy refused to apply (the previous table kept serving)",
            self.reload_errors.load(Ordering::Relaxed),
        )?;
        let metric = encoder.encode_descriptor(
            "table_build_duration_seconds",
            "Time to build a route table from the objects",
            None,
            MetricType::Histogram,
        )?;
        self.build_seconds.encode(metric)?;
        let metric = encoder.encode_descriptor(
            "table_swap_duration_seconds",
            "Time to apply a changed table (router compile and swap, or endpoint swap)",
            None,
            MetricType::Histogram,
        )?;
        self.swap_seconds.encode(metric)?;
        let described = self.description();
        let state = self.state();
        gauge(
            encoder,
            "hosts",
            "Virtual hosts in the live table",
            described.hosts,
        )?;
        gauge(
            encoder,
            "routes",
            "Routes in the live table",
            described.routes,
        )?;
        gauge(
            encoder,
            "upstreams",
            "Upstreams (Service ports) in the live table",
            described.upstreams,
        )?;
        gauge(
            encoder,
            "upstreams_without_endpoints",
            "Upstreams in the live table without any ready endpoint (their routes answer 503)",
            described.upstreams_without_endpoints,
        )?;
        let mut metric = encoder.encode_descriptor(
            "config_diagnostics",
            "Diagnostics of the last built table, by severity",
            None,
            MetricType::Gauge,
        )?;
        for (severity, count) in &state.diagnostics {
            metric
                .encode_family(&[("severity", *severity)])?
                .encode_gauge(count)?;
        }
        Ok(())
    }
}

impl Default for ControllerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Hosts, routes, upstreams, certificate expiry and Ingresses without endpoints of a table.
fn describe(table: &RouteTable) -> Description {
    let routes = &table.routes;
    Description {
        hosts: routes.virtual_hosts.len() as u64,
        routes: routes
            .virtual_hosts
            .iter()
            .map(|v| v.routes.len() as u64)
            .sum::<u64>()
            + u64::from(routes.default_route.is_some()),
        upstreams: routes.upstreams.len() as u64,
        upstreams_without_endpoints: routes
            .upstreams
            .keys()
            .filter(|id| table.endpoints.get(id).is_none_or(|s| s.is_empty()))
            .count() as u64,
        certificates: routes
            .virtual_hosts
            .iter()
            .filter_map(|v| certificate_of(table, v))
            .collect(),
        no_endpoint: ingresses_without_endpoints(table),
    }
}

/// `orphan_ingress` series, sorted: Ingresses without their Service (`no-service`), else
/// without endpoints (`no-endpoint`).
fn orphans<'a>(
    no_service: &'a BTreeSet<(String, String)>,
    described: &'a Description,
) -> BTreeSet<(&'a str, &'a str, &'static str)> {
    let missing = no_service
        .iter()
        .map(|(ns, name)| (ns.as_str(), name.as_str(), "no-service"));
    let empty = described
        .no_endpoint
        .iter()
        .filter(|k| !no_service.contains(&(k.namespace.clone(), k.name.clone())))
        .map(|k| (k.namespace.as_str(), k.name.as_str(), "no-endpoint"));
    missing.chain(empty).collect()
}

fn certificate_of(table: &RouteTable, vhost: &VirtualHost) -> Option<CertificateExpiry> {
    let tls = vhost.tls.as_ref()?;
    let secret = tls
        .certificate
        .as_ref()
        .or(table.routes.default_certificate.as_ref())?;
    let cert = table.routes.certificates.get(secret)?;
    Some(CertificateExpiry {
        host: vhost.host.to_string(),
        secret: secret.clone(),
        not_after: cert.not_after,
    })
}

/// Ingresses with a forwarding route whose upstreams all lack endpoints.
fn ingresses_without_endpoints(table: &RouteTable) -> BTreeSet<ObjectKey> {
    let mut out = BTreeSet::new();
    let routes = table
        .routes
        .virtual_hosts
        .iter()
        .flat_map(|v| &v.routes)
        .chain(&table.routes.default_route);
    for route in routes {
        let (Some(origin), Action::Forward(forward)) = (&route.origin, &route.action) else {
            continue;
        };
        let empty = forward.backends.iter().all(|b| {
            table
                .endpoints
                .get(&b.upstream)
                .is_none_or(|s| s.is_empty())
        });
        if empty {
            out.insert(origin.ingress.clone());
        }
    }
    out
}

/// A stable hash of the structural part of a table (ingress-nginx hashes its nginx.conf, which
/// does not contain endpoints either).
fn config_hash(table: &RouteTable) -> f64 {
    let mut writer = HashWriter(std::collections::hash_map::DefaultHasher::new());
    if serde_json::to_writer(&mut writer, &table.routes).is_err() {
        format!("{:?}", table.routes).hash(&mut writer.0);
    }
    let hasher = writer.0;
    // 2^53: every value below is exact in an f64.
    (hasher.finish() >> 11) as f64
}

/// Feeds serialised bytes straight into a hasher (no buffer of the whole table).
struct HashWriter(std::collections::hash_map::DefaultHasher);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct SslLabels<'a> {
    identity: &'a Identity,
    cert: &'a CertificateExpiry,
}

impl prometheus_client::encoding::EncodeLabelSet for SslLabels<'_> {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder,
    ) -> Result<(), std::fmt::Error> {
        encode_pair(encoder, "namespace", self.identity.namespace.as_str())?;
        encode_pair(encoder, "class", self.identity.class.as_str())?;
        encode_pair(encoder, "host", self.cert.host.as_str())?;
        encode_pair(encoder, "secret_name", self.cert.secret.name.as_str())?;
        encode_pair(encoder, "identifier", self.cert.secret.to_string())
    }
}

/// One unlabelled gauge.
pub fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: V,
) -> Result<(), std::fmt::Error> {
    encoder
        .encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&value)
}

/// One unlabelled counter (`_total` is appended).
pub fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    encoder
        .encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&value, None)
}

/// One unlabelled untyped sample, for ingress-nginx counters whose names lack `_total`.
fn untyped(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    encoder
        .encode_descriptor(name, help, None, MetricType::Unknown)?
        .encode_gauge(&value)
}
