//! Label sets of the request metrics, resolved once per host at its first request, so the
//! request path finds its labels with two hash lookups (the host, then the route and upstream)
//! and formats no strings.
//!
//! ingress-nginx's request labels are `status`, `method`, `path`, `namespace`, `ingress`,
//! `service`, `canary` and (with `--metrics-per-host`) `host`. Cardinality stays bounded:
//! - `path` is the Ingress path as written (`RouteOrigin::path`), never the request path;
//! - `host` is the virtual host the request was routed by: an exact host, a wildcard pattern as
//!   written (`*.example.com`), or `-` for hosts no Ingress names (and rules without a host);
//! - `method` is one of the registered methods, other tokens become `OTHER`;
//! - `status` is the exact code.
//!
//! Every distinct label set exists once ([`Interner`]), so series maps key on the `Arc`'s
//! address. Label sets of Ingresses that are gone are dropped at the next change (ingress-nginx
//! removes their series too), including sets a request made while a change was half applied.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;

use http::Method;
use prometheus_client::encoding::{EncodeLabel, EncodeLabelSet, EncodeLabelValue, LabelSetEncoder};
use sluice_ingress_model::{
    Action, HostPattern, ObjectKey, Route, RouteOrigin, Routes, UpstreamId, VirtualHost,
    host_changes,
};

pub use super::host_labels::HostLabels;
pub use super::interner::Interner;
use super::requests::{Observation, RequestSeries};

/// The `host` label of requests whose host no Ingress names.
pub const UNKNOWN_HOST: &str = "-";

/// The route part of a request label set: everything but `status` and `method`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RouteLabelValues {
    /// `host`.
    pub host: Arc<str>,
    /// `path`: the Ingress path as written; empty when no Ingress route matched.
    pub path: String,
    /// `namespace` of the Ingress.
    pub namespace: String,
    /// `ingress` name.
    pub ingress: String,
    /// `service` name.
    pub service: String,
    /// `canary`: the canary upstream's name when it served the request.
    pub canary: String,
}

/// An interned route label set with the series recorded under it.
#[derive(Debug)]
pub struct RouteLabels {
    /// The values.
    pub values: RouteLabelValues,
    /// `ingress_upstream_latency_seconds`' label set (namespace, ingress, service, canary).
    pub latency: Arc<LatencyLabels>,
    /// Series by status and method, read without a lock (a request reads it once; a new
    /// status or method copies the small map).
    pub series: ArcSwap<SeriesMap>,
}

/// Series by status and method (hashbrown's default hasher, foldhash, rather than SipHash: the
/// keys are ours).
pub type SeriesMap = hashbrown::HashMap<(u16, &'static str), Arc<RequestSeries>>;

/// The label set of the deprecated upstream latency metric, with its histogram.
#[derive(Debug)]
pub struct LatencyLabels {
    /// `namespace`.
    pub namespace: String,
    /// `ingress`.
    pub ingress: String,
    /// `service`.
    pub service: String,
    /// `canary`.
    pub canary: String,
    /// The observations.
    pub histogram: super::histogram::TimeHistogram,
}

/// Where a request was routed, as a host's sets look it up.
#[derive(Clone, Copy, Debug)]
struct RouteQuery<'a> {
    /// The route's origin.
    origin: Option<&'a RouteOrigin>,
    /// The upstream that served it.
    upstream: Option<&'a UpstreamId>,
}

impl RouteQuery<'_> {
    /// The Ingress path of the route (empty without an origin).
    fn path(&self) -> &str {
        self.origin.map_or("", |o| o.path.as_str())
    }

    /// Whether `key` is this route and upstream (the upstream first: the sets of one path
    /// mostly differ there).
    fn matches(&self, key: &IndexKey) -> bool {
        key.upstream.as_ref() == self.upstream
            && key.ingress.as_ref() == self.origin.map(|o| &o.ingress)
            && key.path == self.path()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct IndexKey {
    ingress: Option<ObjectKey>,
    path: String,
    upstream: Option<UpstreamId>,
}

/// A host's label sets by Ingress path. The few sets of one path (one per Ingress and
/// upstream) are told apart by comparison, so a request hashes one short string rather than
/// every part of its key.
#[derive(Debug, Default)]
struct Sets {
    by_path: hashbrown::HashMap<String, Vec<(IndexKey, Arc<RouteLabels>)>>,
}

impl Sets {
    /// The set of a routed request.
    fn get(&self, query: &RouteQuery<'_>) -> Option<&Arc<RouteLabels>> {
        self.by_path
            .get(query.path())?
            .iter()
            .find(|(key, _)| query.matches(key))
            .map(|(_, labels)| labels)
    }

    fn contains(&self, key: &IndexKey) -> bool {
        self.by_path
            .get(key.path.as_str())
            .is_some_and(|sets| sets.iter().any(|(k, _)| k == key))
    }

    fn insert(&mut self, key: IndexKey, labels: Arc<RouteLabels>) {
        self.by_path
            .entry(key.path.clone())
            .or_default()
            .push((key, labels));
    }

    /// Every set.
    fn values(&self) -> impl Iterator<Item = &Arc<RouteLabels>> {
        self.by_path.values().flatten().map(|(_, labels)| labels)
    }
}

/// Route label sets of one applied table, by host label. A host's sets are resolved at its
/// first request, or when the table is applied if the previous index had resolved them (so
/// their series carry on); hosts nobody asks for cost one small entry. A rebuild shares the
/// entry of every virtual host that did not change (with the same default route). At 10k
/// hosts, resolving every label set up front cost about 3.7 KiB a host and more time than
/// compiling the router.
#[derive(Clone, Debug, Default)]
pub struct LabelIndex {
    hosts: HostLabels,
    by_host: hashbrown::HashMap<Arc<str>, Arc<HostSets>>,
    default_route: Option<Arc<Route>>,
}

/// The label sets of the requests one host label can see, resolved on first use.
#[derive(Debug)]
struct HostSets {
    /// The host label.
    host: Arc<str>,
    /// The virtual host with this label, if any (`-` may have none).
    vhost: Option<Arc<VirtualHost>>,
    /// The table's default route, which every host label can reach.
    default_route: Option<Arc<Route>>,
    routes: OnceLock<Sets>,
    /// Set when a change removed this entry from the live index: sets resolved after that
    /// (by a request counted with the old index) are handed to the interner as strays.
    retired: AtomicBool,
}

/// A full request label set: route labels plus status and method.
pub struct RequestLabelSet<'a> {
    /// The route part.
    pub route: &'a RouteLabelValues,
    /// `status`.
    pub status: u16,
    /// `method`.
    pub method: &'static str,
    /// Whether to add `host`.
    pub per_host: bool,
    /// Report `2xx`-style classes instead of exact codes.
    pub status_classes: bool,
}

impl LabelIndex {
    /// The index of `routes`, with nothing resolved yet but what the previous index had
    /// resolved. With `previous` (the routes the previous index was built from, and that
    /// index), every virtual host equal to its previous version keeps its entry.
    pub fn build(
        routes: &Routes,
        interner: &Interner,
        previous: Option<(&Routes, &LabelIndex)>,
    ) -> Self {
        let mut hosts = HostLabels::default();
        for vhost in &routes.virtual_hosts {
            hosts.learn(&vhost.host);
        }
        let unknown = hosts.unknown().clone();
        let default_route = routes.default_route.clone().map(Arc::new);
        let mut index = Self {
            hosts,
            by_host: hashbrown::HashMap::with_capacity(routes.virtual_hosts.len() + 1),
            default_route,
        };
        // Previous virtual hosts by pattern, when their entries can be shared at all.
        let reusable: HashMap<&HostPattern, &Arc<VirtualHost>> = match previous {
            Some((old, _)) if old.default_route == routes.default_route => {
                old.virtual_hosts.iter().map(|v| (&v.host, v)).collect()
            }
            _ => HashMap::new(),
        };
        let old_index = previous.map(|(_, old_index)| old_index);
        let mut any = None;
        for vhost in &routes.virtual_hosts {
            if vhost.host == HostPattern::Any {
                any = Some(vhost.clone());
                continue;
            }
            let host = index.hosts.of_pattern(&vhost.host);
            let shared = reusable
                .get(&vhost.host)
                .filter(|old| Arc::ptr_eq(old, vhost) || **old == vhost)
                .and(old_index)
                .and_then(|old_index| old_index.by_host.get(&host));
            let sets = match shared {
                Some(sets) => sets.clone(),
                None => index.entry(host.clone(), Some(vhost.clone())),
            };
            index.by_host.insert(host, sets);
        }
        let sets = index.entry(unknown.clone(), any);
        index.by_host.insert(unknown, sets);
        if let Some(old_index) = old_index {
            for (host, sets) in &index.by_host {
                let carried = old_index
                    .by_host
                    .get(host)
                    .is_some_and(|old| !Arc::ptr_eq(old, sets) && old.routes.get().is_some());
                if carried {
                    sets.resolved(interner);
                }
            }
        }
        index
    }

    /// The index of `routes` made from `old_index` (built for `old`) by replacing only the
    /// virtual hosts that differ, with the label sets no longer used; `None` when the change
    /// is not one host at a time (a host-less virtual host, or another default route), which
    /// [`LabelIndex::build`] handles.
    pub fn update(
        routes: &Routes,
        interner: &Interner,
        old: &Routes,
        old_index: &LabelIndex,
    ) -> Option<(Self, Vec<Arc<RouteLabels>>)> {
        // Sorted tables (the only ones `host_changes` accepts) have the host-less one last.
        let any = |r: &Routes| {
            r.virtual_hosts
                .last()
                .is_some_and(|v| v.host == HostPattern::Any)
        };
        if old.default_route != routes.default_route || any(old) || any(routes) {
            return None;
        }
        let changes = host_changes(&old.virtual_hosts, &routes.virtual_hosts)?;
        let mut index = old_index.clone();
        let mut dropped = Vec::new();
        for change in changes {
            let mut had_sets = false;
            if let Some(vhost) = change.old {
                let host = index.hosts.of_pattern(&vhost.host);
                if let Some(sets) = index.by_host.remove(&host)
                    && let Some(resolved) = sets.retire()
                {
                    had_sets = true;
                    dropped.extend(resolved.values().cloned());
                }
                index.hosts.forget(&vhost.host);
            }
            if let Some(vhost) = change.new {
                let host = index.hosts.learn(&vhost.host);
                let sets = index.entry(host.clone(), Some(vhost.clone()));
                if had_sets {
                    sets.resolved(interner);
                }
                index.by_host.insert(host, sets);
            }
        }
        // A set that came back (same values) is the same interned `Arc`; keep those.
        dropped.retain(|set| {
            let host = &set.values.host;
            !index
                .by_host
                .get(host)
                .is_some_and(|sets| sets.label_sets().any(|s| Arc::ptr_eq(s, set)))
        });
        Some((index, dropped))
    }

    fn entry(&self, host: Arc<str>, vhost: Option<Arc<VirtualHost>>) -> Arc<HostSets> {
        Arc::new(HostSets {
            host,
            vhost,
            default_route: self.default_route.clone(),
            routes: OnceLock::new(),
            retired: AtomicBool::new(false),
        })
    }

    /// The host labels of this table.
    pub fn hosts(&self) -> &HostLabels {
        &self.hosts
    }

    /// The host label of a normalised request host and the label set of the request, if the
    /// table had it; the first request of a host label resolves that host's sets. A host the
    /// table names exactly is its own label, so most requests find both with one lookup.
    pub fn get(
        &self,
        host: &str,
        origin: Option<&RouteOrigin>,
        upstream: Option<&UpstreamId>,
        interner: &Interner,
    ) -> (&Arc<str>, Option<&Arc<RouteLabels>>) {
        let (label, sets) = match self.by_host.get_key_value(host) {
            Some((label, sets)) => (label, Some(sets)),
            None => {
                // Every exact host is a key of `by_host`: only wildcards and `-` are left.
                let label = self.hosts.label_of_unnamed(host);
                (label, self.by_host.get(label))
            }
        };
        let query = RouteQuery { origin, upstream };
        let labels = sets.and_then(|sets| sets.resolved(interner).get(&query));
        (label, labels)
    }

    /// Every label set this table has resolved so far.
    pub fn label_sets(&self) -> impl Iterator<Item = &Arc<RouteLabels>> {
        self.by_host.values().flat_map(|sets| sets.label_sets())
    }

    /// Whether this index holds `set` (resolved in the entry of its host).
    pub fn holds(&self, set: &Arc<RouteLabels>) -> bool {
        self.by_host
            .get(&set.values.host)
            .is_some_and(|sets| sets.label_sets().any(|s| Arc::ptr_eq(s, set)))
    }

    /// Marks the entries of `old` this index does not share as removed (after a full build).
    pub fn retire_unshared(&self, old: &LabelIndex) {
        for (host, sets) in &old.by_host {
            if !self.by_host.get(host).is_some_and(|s| Arc::ptr_eq(s, sets)) {
                sets.retire();
            }
        }
    }
}

impl HostSets {
    /// Marks the entry as removed from the live index; its sets if they were resolved.
    fn retire(&self) -> Option<&Sets> {
        self.retired.store(true, Ordering::SeqCst);
        // Pairs with the fence in `resolved`: either this sees the sets resolved, or the
        // resolver sees the entry retired (or both).
        fence(Ordering::SeqCst);
        self.routes.get()
    }

    /// The sets, resolved now if nothing has needed them yet.
    fn resolved(&self, interner: &Interner) -> &Sets {
        if let Some(sets) = self.routes.get() {
            return sets;
        }
        let sets = self.resolve(interner);
        fence(Ordering::SeqCst);
        if self.retired.load(Ordering::SeqCst) {
            interner.orphaned(sets.values());
        }
        sets
    }

    fn resolve(&self, interner: &Interner) -> &Sets {
        self.routes.get_or_init(|| {
            let mut sets = Sets::default();
            let host = &self.host;
            for route in self.vhost.iter().flat_map(|v| &v.routes) {
                add_route(&mut sets, host, route, interner);
            }
            add(&mut sets, host, None, None, None, interner);
            if let Some(route) = &self.default_route {
                add_route(&mut sets, host, route, interner);
            }
            sets
        })
    }

    /// The sets resolved so far (none before the first request).
    fn label_sets(&self) -> impl Iterator<Item = &Arc<RouteLabels>> {
        self.routes.get().into_iter().flat_map(|sets| sets.values())
    }
}

fn add_route(sets: &mut Sets, host: &Arc<str>, route: &Route, interner: &Interner) {
    let origin = route.origin.as_ref();
    add(sets, host, origin, None, None, interner);
    if let Action::Forward(forward) = &route.action {
        let canary = forward.canary.as_ref().map(|c| &c.upstream);
        for backend in &forward.backends {
            add(
                sets,
                host,
                origin,
                Some(&backend.upstream),
                canary,
                interner,
            );
        }
        if let Some(canary) = canary {
            add(sets, host, origin, Some(canary), Some(canary), interner);
        }
    }
    if let Some(default) = &route.policy.default_backend {
        add(sets, host, origin, Some(default), None, interner);
    }
}

fn add(
    sets: &mut Sets,
    host: &Arc<str>,
    origin: Option<&RouteOrigin>,
    upstream: Option<&UpstreamId>,
    canary: Option<&UpstreamId>,
    interner: &Interner,
) {
    let key = IndexKey {
        ingress: origin.map(|o| o.ingress.clone()),
        path: origin.map(|o| o.path.clone()).unwrap_or_default(),
        upstream: upstream.cloned(),
    };
    if sets.contains(&key) {
        return;
    }
    let values = values(host, origin, upstream, canary);
    let labels = interner.intern(values);
    sets.insert(key, labels);
}

/// The label values of a request routed by `origin` to `upstream` (`canary` is the route's
/// canary upstream, if any).
pub fn values(
    host: &Arc<str>,
    origin: Option<&RouteOrigin>,
    upstream: Option<&UpstreamId>,
    canary: Option<&UpstreamId>,
) -> RouteLabelValues {
    let canary = match (upstream, canary) {
        (Some(upstream), Some(canary)) if upstream == canary => canary.to_string(),
        _ => String::new(),
    };
    RouteLabelValues {
        host: host.clone(),
        path: origin.map(|o| o.path.clone()).unwrap_or_default(),
        namespace: origin
            .map(|o| o.ingress.namespace.clone())
            .unwrap_or_default(),
        ingress: origin.map(|o| o.ingress.name.clone()).unwrap_or_default(),
        service: upstream.map(|u| u.service.clone()).unwrap_or_default(),
        canary,
    }
}

impl RouteLabels {
    /// Records a request under a status and method, creating their series on first use.
    pub fn record(&self, status: u16, method: &'static str, observation: &Observation) {
        let key = (status, method);
        if let Some(series) = self.series.load().get(&key) {
            series.record(observation);
            return;
        }
        self.series.rcu(|series| {
            let mut series = SeriesMap::clone(series);
            series
                .entry(key)
                .or_insert_with(|| Arc::new(RequestSeries::new()));
            series
        });
        if let Some(series) = self.series.load().get(&key) {
            series.record(observation);
        }
    }

    /// Every series, sorted by status and method.
    pub fn snapshot(&self) -> Vec<((u16, &'static str), Arc<RequestSeries>)> {
        let series = self.series.load();
        let mut all: Vec<_> = series.iter().map(|(k, v)| (*k, v.clone())).collect();
        all.sort_by_key(|(key, _)| *key);
        all
    }
}

/// The `method` label: a registered method as is, anything else `OTHER`.
pub fn method_label(method: &Method) -> &'static str {
    const KNOWN: &[&str] = &[
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "DELETE",
        "CONNECT",
        "OPTIONS",
        "TRACE",
        "PATCH",
        "PROPFIND",
        "PROPPATCH",
        "MKCOL",
        "COPY",
        "MOVE",
        "LOCK",
        "UNLOCK",
    ];
    KNOWN
        .iter()
        .find(|known| **known == method.as_str())
        .copied()
        .unwrap_or("OTHER")
}

impl EncodeLabelSet for RequestLabelSet<'_> {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        if self.status_classes {
            encode_pair(encoder, "status", format!("{}xx", self.status / 100))?;
        } else {
            encode_pair(encoder, "status", self.status)?;
        }
        let r = self.route;
        encode_pair(encoder, "method", self.method)?;
        encode_pair(encoder, "path", r.path.as_str())?;
        encode_pair(encoder, "namespace", r.namespace.as_str())?;
        encode_pair(encoder, "ingress", r.ingress.as_str())?;
        encode_pair(encoder, "service", r.service.as_str())?;
        encode_pair(encoder, "canary", r.canary.as_str())?;
        if self.per_host {
            encode_pair(encoder, "host", &*r.host)?;
        }
        Ok(())
    }
}

impl EncodeLabelSet for LatencyLabels {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        encode_pair(encoder, "ingress", self.ingress.as_str())?;
        encode_pair(encoder, "namespace", self.namespace.as_str())?;
        encode_pair(encoder, "service", self.service.as_str())?;
        encode_pair(encoder, "canary", self.canary.as_str())
    }
}

/// Writes one `name="value"` pair.
pub fn encode_pair<V: EncodeLabelValue>(
    encoder: &mut LabelSetEncoder,
    name: &'static str,
    value: V,
) -> Result<(), std::fmt::Error> {
    (name, value).encode(encoder.encode_label())
}

#[cfg(test)]
#[path = "labels_tests.rs"]
mod tests;
