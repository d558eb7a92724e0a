//! [`Incremental`]: one build after another, each equal to [`super::build`] of its snapshot,
//! re-building only the hosts a change touches.
//!
//! A change of Ingresses (`spec.tls` included) re-builds the Ingresses of the touched hosts —
//! the hosts of the changed Ingresses, old and new versions, closed over every Ingress sharing
//! one of them — with the same builder, and splices their virtual hosts, upstreams,
//! certificates and diagnostics into the previous result. A changed Secret counts as a change of
//! the Ingresses that may read it (its name in their `spec.tls` or in an annotation value).
//! Every other virtual host keeps its allocation, so the proxy sees it unchanged by pointer. A
//! change of EndpointSlices only recomputes the endpoint sets of the Services concerned.
//!
//! Anything whose effect crosses hosts falls back to a full build: a Service, ConfigMap or
//! IngressClass changed, or the options; the default certificate's Secret, or a Secret the
//! controller ConfigMap names, changed; a touched Ingress (old or new version) has a
//! `spec.defaultBackend`, a canary or upstream-level settings (the oldest claim of an upstream
//! wins across hosts); any host has aliases; or a certificate's expiry changed side between the
//! two builds' clocks. Property tests compare the result with `build` after every step.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::backend::{self, SliceIndex};
use super::{Built, Facts, build_some};
use crate::diagnostic::Diagnostic;
use crate::host::HostPattern;
use crate::key::{Kind, ObjectKey};
use crate::objects::{ConfigMap, EndpointSlice, Ingress, IngressClass, Secret, Service};
use crate::snapshot::{BuildOptions, Snapshot};
use crate::table::{Route, UpstreamId, VirtualHost};

/// Builds one snapshot after another, reusing the previous result where a change cannot reach
/// (see the module documentation). Each result equals [`super::build`] of the same snapshot.
#[derive(Debug, Default)]
pub struct Incremental {
    last: Option<Last>,
    reuse: Reuse,
}

/// How the last [`Incremental::build`] was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reuse {
    /// Everything was built.
    #[default]
    Full,
    /// Only these many Ingresses were built again (and endpoint sets recomputed).
    Partial {
        /// Ingresses built again.
        ingresses: usize,
    },
}

/// The previous build and what it was built from.
#[derive(Debug)]
struct Last {
    opts: BuildOptions,
    ingresses: BTreeMap<ObjectKey, Arc<Ingress>>,
    ingress_classes: BTreeMap<String, IngressClass>,
    services: BTreeMap<ObjectKey, Service>,
    secrets: BTreeMap<ObjectKey, Secret>,
    config_maps: BTreeMap<ObjectKey, ConfigMap>,
    endpoint_slices: BTreeMap<ObjectKey, EndpointSlice>,
    built: Built,
    facts: Facts,
    /// Ingresses by the hosts they name (rules and `spec.tls`), sorted; usually one each, so a
    /// vector rather than a set (a set's first node alone is half a kilobyte).
    by_host: BTreeMap<HostPattern, Vec<ObjectKey>>,
    /// How many references (routes, canaries, passthrough) each upstream has.
    upstream_refs: BTreeMap<UpstreamId, usize>,
    /// How many virtual hosts present each certificate.
    certificate_refs: BTreeMap<ObjectKey, usize>,
}

impl Incremental {
    /// A builder with nothing built yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds `snapshot` under `opts`: the same result as [`super::build`].
    pub fn build(&mut self, snapshot: &Snapshot, opts: &BuildOptions) -> Built {
        if let Some(last) = self.last.as_mut()
            && let Some(ingresses) = last.update(snapshot, opts)
        {
            self.reuse = Reuse::Partial { ingresses };
            return last.built.clone();
        }
        self.reuse = Reuse::Full;
        let last = Last::full(snapshot, opts);
        let built = last.built.clone();
        self.last = Some(last);
        built
    }

    /// How the last build was made.
    pub fn reuse(&self) -> Reuse {
        self.reuse
    }
}

impl Last {
    fn full(snapshot: &Snapshot, opts: &BuildOptions) -> Self {
        let (built, facts) = build_some(snapshot, opts, snapshot.ingresses.values().map(|i| &**i));
        let mut by_host: BTreeMap<HostPattern, Vec<ObjectKey>> = BTreeMap::new();
        for ingress in snapshot.ingresses.values() {
            for host in hosts_of(ingress) {
                add_member(by_host.entry(host).or_default(), &ingress.key);
            }
        }
        let mut upstream_refs = BTreeMap::new();
        let mut certificate_refs = BTreeMap::new();
        for vhost in &built.table.routes.virtual_hosts {
            count_refs(vhost, &mut upstream_refs, true);
            count_certificate(vhost, &mut certificate_refs, true);
        }
        if let Some(route) = &built.table.routes.default_route {
            count_route(route, &mut upstream_refs, true);
        }
        Self {
            opts: opts.clone(),
            ingresses: snapshot.ingresses.clone(),
            ingress_classes: snapshot.ingress_classes.clone(),
            services: snapshot.services.clone(),
            secrets: snapshot.secrets.clone(),
            config_maps: snapshot.config_maps.clone(),
            endpoint_slices: snapshot.endpoint_slices.clone(),
            built,
            facts,
            by_host,
            upstream_refs,
            certificate_refs,
        }
    }

    /// Brings the last build up to `snapshot`; `None` (changing nothing) when only a full build
    /// can, else how many Ingresses were built again.
    fn update(&mut self, snapshot: &Snapshot, opts: &BuildOptions) -> Option<usize> {
        if !self.same_options(opts)
            || snapshot.ingress_classes != self.ingress_classes
            || snapshot.services != self.services
            || snapshot.config_maps != self.config_maps
        {
            return None;
        }
        let mut changed = changed_keys(&self.ingresses, &snapshot.ingresses);
        let secrets = changed_keys(&self.secrets, &snapshot.secrets);
        if !secrets.is_empty() {
            changed.extend(secret_users(snapshot, opts, &secrets)?);
            changed.sort();
            changed.dedup();
        }
        let slices = changed_keys(&self.endpoint_slices, &snapshot.endpoint_slices);
        let rebuilt = match changed.is_empty() {
            true => 0,
            false => self.rebuild_hosts(snapshot, opts, &changed, &secrets)?,
        };
        for key in secrets {
            match snapshot.secrets.get(&key) {
                Some(new) => self.secrets.insert(key, new.clone()),
                None => self.secrets.remove(&key),
            };
        }
        if !slices.is_empty() {
            self.refresh_endpoints(snapshot, &slices);
        }
        self.opts.now = opts.now;
        Some(rebuilt)
    }

    /// Whether `opts` equals the last options, the clock aside when no certificate expired
    /// between the two.
    fn same_options(&self, opts: &BuildOptions) -> bool {
        let clockless = BuildOptions {
            now: self.opts.now,
            ..opts.clone()
        };
        if clockless != self.opts {
            return false;
        }
        match (self.opts.now, opts.now) {
            (Some(then), Some(now)) => self
                .facts
                .not_after
                .iter()
                .all(|&t| (then > t) == (now > t)),
            (then, now) => then == now,
        }
    }

    /// Re-builds the hosts of the `changed` Ingresses; `None` (changing nothing) when the
    /// change reaches further.
    fn rebuild_hosts(
        &mut self,
        snapshot: &Snapshot,
        opts: &BuildOptions,
        changed: &[ObjectKey],
        secrets: &[ObjectKey],
    ) -> Option<usize> {
        if self.facts.aliases {
            return None;
        }
        let mut hosts = BTreeSet::new();
        let mut members = BTreeSet::new();
        let mut pending: Vec<&ObjectKey> = Vec::new();
        for key in changed {
            if self.facts.reaching.contains(key) {
                return None;
            }
            if let Some(old) = self.ingresses.get(key) {
                if crosses_hosts(old) {
                    return None;
                }
                hosts.extend(hosts_of(old));
            }
            pending.push(key);
        }
        // Close over the Ingresses sharing a host with a member, and their hosts.
        let mut frontier: Vec<HostPattern> = hosts.iter().cloned().collect();
        loop {
            for key in pending.drain(..) {
                if !members.insert(key.clone()) {
                    continue;
                }
                if let Some(new) = snapshot.ingresses.get(key) {
                    if crosses_hosts(new) {
                        return None;
                    }
                    for host in hosts_of(new) {
                        if hosts.insert(host.clone()) {
                            frontier.push(host);
                        }
                    }
                }
            }
            let Some(host) = frontier.pop() else { break };
            if let Some(keys) = self.by_host.get(&host) {
                pending.extend(keys.iter().filter(|k| !members.contains(*k)));
            }
            // Unchanged Ingresses name the same hosts as before; changed ones are members.
        }
        let ingresses: Vec<&Ingress> = members
            .iter()
            .filter_map(|k| snapshot.ingresses.get(k).map(|i| &**i))
            .collect();
        let rebuilt = ingresses.len();
        let (part, facts) = build_some(snapshot, opts, ingresses);
        if !facts.reaching.is_empty() || facts.aliases {
            return None;
        }
        let mut fresh: BTreeMap<HostPattern, Arc<VirtualHost>> = BTreeMap::new();
        for vhost in &part.table.routes.virtual_hosts {
            if !hosts.contains(&vhost.host) || fresh.contains_key(&vhost.host) {
                return None;
            }
            fresh.insert(vhost.host.clone(), Arc::clone(vhost));
        }

        // From here on the result is committed.
        let routes = &mut self.built.table.routes;
        let mut upstreams_touched = BTreeSet::new();
        // The list is sorted by pattern, one virtual host each (as `build` makes it): the
        // touched hosts are found, taken out and put in by binary search.
        let mut certificates_touched = BTreeSet::new();
        let virtual_hosts = &mut routes.virtual_hosts;
        for host in &hosts {
            if let Ok(i) = virtual_hosts.binary_search_by(|v| v.host.cmp(host)) {
                let vhost = virtual_hosts.remove(i);
                count_refs(&vhost, &mut self.upstream_refs, false);
                collect_refs(&vhost, &mut upstreams_touched);
                count_certificate(&vhost, &mut self.certificate_refs, false);
                certificates_touched.extend(certificate_of(&vhost).cloned());
            }
        }
        for vhost in fresh.into_values() {
            count_refs(&vhost, &mut self.upstream_refs, true);
            collect_refs(&vhost, &mut upstreams_touched);
            count_certificate(&vhost, &mut self.certificate_refs, true);
            certificates_touched.extend(certificate_of(&vhost).cloned());
            match virtual_hosts.binary_search_by(|v| v.host.cmp(&vhost.host)) {
                Ok(i) => virtual_hosts[i] = vhost,
                Err(i) => virtual_hosts.insert(i, vhost),
            }
        }
        let endpoints = &mut self.built.table.endpoints;
        for id in upstreams_touched {
            let referenced = self.upstream_refs.get(&id).is_some_and(|&n| n > 0);
            if !referenced {
                self.upstream_refs.remove(&id);
                routes.upstreams.remove(&id);
                endpoints.0.remove(&id);
            } else if !routes.upstreams.contains_key(&id) {
                if let Some(upstream) = part.table.routes.upstreams.get(&id) {
                    routes.upstreams.insert(id.clone(), upstream.clone());
                }
                if let Some(set) = part.table.endpoints.0.get(&id) {
                    endpoints.0.insert(id, set.clone());
                }
            }
        }

        // Certificates as `build` keeps them: those a virtual host presents, and the default.
        for key in certificates_touched {
            let presented = self.certificate_refs.get(&key).is_some_and(|&n| n > 0);
            if !presented {
                self.certificate_refs.remove(&key);
                if routes.default_certificate.as_ref() != Some(&key) {
                    routes.certificates.remove(&key);
                }
            } else if (!routes.certificates.contains_key(&key) || secrets.contains(&key))
                && let Some(certificate) = part.table.routes.certificates.get(&key)
            {
                routes.certificates.insert(key, certificate.clone());
            }
        }
        // Every certificate either build parsed can expire between two clocks.
        self.facts.not_after.extend(facts.not_after);
        self.facts.not_after.sort_unstable();
        self.facts.not_after.dedup();

        let is_member =
            |d: &Diagnostic| d.object.kind == Kind::Ingress && members.contains(&d.object.key);
        let diagnostics = &mut self.built.diagnostics;
        diagnostics.retain(|d| !is_member(d));
        diagnostics.extend(part.diagnostics.into_iter().filter(|d| is_member(d)));
        diagnostics.sort();
        diagnostics.dedup();

        for key in &members {
            if let Some(old) = self.ingresses.get(key) {
                for host in hosts_of(old) {
                    if let Some(set) = self.by_host.get_mut(&host) {
                        if let Ok(i) = set.binary_search(key) {
                            set.remove(i);
                        }
                        if set.is_empty() {
                            self.by_host.remove(&host);
                        }
                    }
                }
            }
        }
        for key in &members {
            if let Some(new) = snapshot.ingresses.get(key) {
                for host in hosts_of(new) {
                    add_member(self.by_host.entry(host).or_default(), key);
                }
            }
        }
        for key in changed {
            match snapshot.ingresses.get(key) {
                Some(new) => self.ingresses.insert(key.clone(), new.clone()),
                None => self.ingresses.remove(key),
            };
        }
        Some(rebuilt)
    }

    /// Recomputes the endpoint sets of the upstreams whose Service's slices changed.
    fn refresh_endpoints(&mut self, snapshot: &Snapshot, changed: &[ObjectKey]) {
        let mut services: BTreeSet<(String, String)> = BTreeSet::new();
        for key in changed {
            let old = self.endpoint_slices.get(key);
            let new = snapshot.endpoint_slices.get(key);
            for slice in old.into_iter().chain(new) {
                if let Some(service) = &slice.service_name {
                    services.insert((slice.key.namespace.clone(), service.clone()));
                }
            }
            match new {
                Some(new) => self.endpoint_slices.insert(key.clone(), new.clone()),
                None => self.endpoint_slices.remove(key),
            };
        }
        let index = SliceIndex::new(snapshot);
        let routes = &self.built.table.routes;
        let endpoints = &mut self.built.table.endpoints;
        for (id, upstream) in &routes.upstreams {
            if !services.contains(&(id.namespace.clone(), id.service.clone())) {
                continue;
            }
            let set = match upstream.policy.service_upstream {
                true => backend::cluster_ip(snapshot, id),
                false => backend::endpoints(snapshot, &index, id),
            };
            match set.is_empty() {
                true => endpoints.0.remove(id),
                false => endpoints.0.insert(id.clone(), set),
            };
        }
    }
}

/// The Ingresses that may read one of the changed `secrets`: those naming it in `spec.tls`, and
/// (generously) those with an annotation value containing its name; `None` when the Secret can
/// reach every host (the default certificate, or named in the controller ConfigMap).
fn secret_users(
    snapshot: &Snapshot,
    opts: &BuildOptions,
    secrets: &[ObjectKey],
) -> Option<Vec<ObjectKey>> {
    let config = opts
        .controller_config
        .as_ref()
        .and_then(|key| snapshot.config_maps.get(key));
    let mut users = Vec::new();
    for secret in secrets {
        let name = secret.name.as_str();
        let in_config = config.is_some_and(|c| c.data.values().any(|v| v.contains(name)));
        if opts.default_certificate.as_ref() == Some(secret) || in_config {
            return None;
        }
        for ingress in snapshot.ingresses.values() {
            let tls = ingress.key.namespace == secret.namespace
                && ingress
                    .tls
                    .iter()
                    .any(|t| t.secret_name.as_deref() == Some(name));
            if tls || ingress.annotations.values().any(|v| v.contains(name)) {
                users.push(ingress.key.clone());
            }
        }
    }
    Some(users)
}

/// Whether an Ingress's effect can reach hosts other than those it names: `spec.defaultBackend`
/// (the catch-all, or each rule host's fallback). `spec.tls` stays within the hosts it lists
/// and the Ingress's rule hosts, which [`hosts_of`] covers.
fn crosses_hosts(ingress: &Ingress) -> bool {
    ingress.default_backend.is_some()
}

/// The hosts an Ingress names in its rules and `spec.tls`.
fn hosts_of(ingress: &Ingress) -> BTreeSet<HostPattern> {
    let rules = ingress.rules.iter().map(|r| r.host.as_deref());
    let tls = ingress
        .tls
        .iter()
        .flat_map(|t| t.hosts.iter().map(|h| Some(h.as_str())));
    rules
        .chain(tls)
        .filter_map(|h| HostPattern::parse(h).ok())
        .collect()
}

/// Keys whose values differ between two maps (added, changed or removed), in order.
fn changed_keys<V: PartialEq>(
    old: &BTreeMap<ObjectKey, V>,
    new: &BTreeMap<ObjectKey, V>,
) -> Vec<ObjectKey> {
    let mut keys = Vec::new();
    let (mut a, mut b) = (old.iter().peekable(), new.iter().peekable());
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some((k, _)), None) => {
                keys.push((*k).clone());
                a.next();
            }
            (None, Some((k, _))) => {
                keys.push((*k).clone());
                b.next();
            }
            (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    keys.push((*ka).clone());
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    keys.push((*kb).clone());
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if va != vb {
                        keys.push((*ka).clone());
                    }
                    a.next();
                    b.next();
                }
            },
        }
    }
    keys
}

/// Adds `key` to a sorted list of Ingresses, once.
fn add_member(members: &mut Vec<ObjectKey>, key: &ObjectKey) {
    if let Err(i) = members.binary_search(key) {
        if members.is_empty() {
            members.reserve_exact(1);
        }
        members.insert(i, key.clone());
    }
}

/// The certificate a virtual host presents, if it names one.
fn certificate_of(vhost: &VirtualHost) -> Option<&ObjectKey> {
    vhost.tls.as_ref()?.certificate.as_ref()
}

/// Adds (or takes away) a virtual host's reference to its certificate.
fn count_certificate(vhost: &VirtualHost, counts: &mut BTreeMap<ObjectKey, usize>, add: bool) {
    if let Some(key) = certificate_of(vhost) {
        count(key, counts, add);
    }
}

/// The upstreams a virtual host refers to.
fn collect_refs(vhost: &VirtualHost, into: &mut BTreeSet<UpstreamId>) {
    into.extend(vhost.upstream_refs().cloned());
}

/// Adds (or takes away) a virtual host's references to upstreams.
fn count_refs(vhost: &VirtualHost, counts: &mut BTreeMap<UpstreamId, usize>, add: bool) {
    for id in vhost.upstream_refs() {
        count(id, counts, add);
    }
}

fn count_route(route: &Route, counts: &mut BTreeMap<UpstreamId, usize>, add: bool) {
    for id in route.upstream_refs() {
        count(id, counts, add);
    }
}

fn count<K: Ord + Clone>(id: &K, counts: &mut BTreeMap<K, usize>, add: bool) {
    let n = counts.entry(id.clone()).or_default();
    *n = match add {
        true => *n + 1,
        false => n.saturating_sub(1),
    };
}
