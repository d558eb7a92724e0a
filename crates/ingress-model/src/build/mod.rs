//! `build`: a snapshot and the controller options in, a route table and diagnostics out.
//! Pure and total: it never fails as a whole and never panics on object contents.

mod annotated;
mod backend;
mod canary;
mod certs;
mod class;
mod host_routes;
mod hosts;
mod incremental;
mod keymatch;
mod resolve;
mod secrets;
mod settings;
mod tls;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;

pub use class::{CLASS_ANNOTATION, is_ours};
pub use incremental::{Incremental, Reuse};
pub use tls::{parse_pem_pair, parse_tls_secret};

use crate::config::Config;
use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::host::HostPattern;
use crate::key::{Kind, ObjectKey};
use crate::objects::{HttpPath, Ingress, IngressBackend, PathType, PortRef};
use crate::path::PathMatch;
use crate::policy::{HostPolicy, Policy, UpstreamPolicy};
use crate::snapshot::{BuildOptions, Snapshot};
use crate::table::{
    Action, Certificate, Endpoints, Forward, HostTls, Route, RouteOrigin, RouteTable, Routes,
    Upstream, UpstreamId, VirtualHost,
};
use host_routes::HostRoutes;

/// The result of [`build`]: the table and what could not be served as written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Built {
    /// The route table.
    pub table: RouteTable,
    /// Diagnostics, sorted.
    pub diagnostics: Vec<Diagnostic>,
}

/// Builds the route table for `snapshot` under `opts`.
///
/// Ingresses are processed oldest first (`creationTimestamp`, then `namespace/name`); on a
/// conflicting host+path the first keeps it and the others get a `Conflict` diagnostic.
///
/// Annotations are parsed first ([`crate::annotations::parse_ingress`]); an Ingress with an
/// invalid one contributes nothing. A host where any accepted Ingress has `use-regex` or
/// `rewrite-target` is in regex mode: every path of it, in every Ingress, becomes a
/// [`PathMatch::Regex`]. Canary Ingresses attach to the main route of the same host and path
/// ([`crate::table::Canary`]) after all main Ingresses are in.
pub fn build(snapshot: &Snapshot, opts: &BuildOptions) -> Built {
    build_some(snapshot, opts, snapshot.ingresses.values().map(|i| &**i)).0
}

/// What [`incremental`] needs to know about a build besides its result.
#[derive(Clone, Debug, Default)]
pub(crate) struct Facts {
    /// Ingresses whose effect reaches past their own hosts: explicit upstream settings (the
    /// oldest claim of an upstream wins across hosts) or a canary.
    pub reaching: BTreeSet<ObjectKey>,
    /// Whether any host has `server-alias` or `from-to-www-redirect` (virtual hosts made from
    /// other hosts).
    pub aliases: bool,
    /// `notAfter` of every certificate the build parsed (expiry diagnostics depend on `now`).
    pub not_after: Vec<i64>,
}

/// [`build`] over `ingresses` only (the rest of `snapshot` as it is): the whole table when they
/// are all of the snapshot's, and the virtual hosts of exactly their hosts when they are every
/// Ingress of those hosts.
pub(crate) fn build_some<'s>(
    snapshot: &'s Snapshot,
    opts: &BuildOptions,
    ingresses: impl IntoIterator<Item = &'s Ingress>,
) -> (Built, Facts) {
    let mut builder = Builder::new(snapshot, opts);
    let mut ingresses: Vec<&Ingress> = ingresses.into_iter().collect();
    ingresses.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
    let mut accepted = Vec::with_capacity(ingresses.len());
    for ingress in ingresses {
        match class::ownership(ingress, snapshot, opts) {
            Ok(()) => {
                if let Some(resolved) = builder.prepare(ingress) {
                    if !resolved.upstream_set.is_empty()
                        || resolved.canary.enabled
                        || resolved.upstream != builder.config.base.upstream
                    {
                        builder.reaching.insert(ingress.key.clone());
                    }
                    accepted.push((ingress, resolved));
                }
            }
            Err(class) => builder.diagnose(
                Severity::Info,
                &ingress.key,
                "spec.ingressClassName",
                DiagnosticKind::NotOurClass(class),
            ),
        }
    }
    builder.mark_regex_hosts(&accepted);
    for (ingress, resolved) in accepted.iter().filter(|(_, r)| !r.canary.enabled) {
        builder.add_ingress(ingress, resolved);
    }
    for (ingress, resolved) in accepted.iter().filter(|(_, r)| r.canary.enabled) {
        builder.add_canary(ingress, resolved);
    }
    builder.finish()
}

struct Builder<'a> {
    snapshot: &'a Snapshot,
    opts: &'a BuildOptions,
    slices: backend::SliceIndex<'a>,
    diagnostics: Vec<Diagnostic>,
    hosts: BTreeMap<HostPattern, HostRoutes>,
    tls: BTreeMap<HostPattern, HostTls>,
    fallbacks: BTreeMap<HostPattern, Route>,
    catch_all: Option<Route>,
    certificates: BTreeMap<ObjectKey, Result<Certificate, DiagnosticKind>>,
    config: Config,
    base_policy: Arc<Policy>,
    /// Distinct policies resolved so far (the first few), shared by equal ones.
    policies: Vec<Arc<Policy>>,
    /// What an Ingress without annotations resolves to, by namespace.
    plain: HashMap<String, resolve::Resolved>,
    regex_hosts: BTreeMap<HostPattern, ObjectKey>,
    host_states: BTreeMap<HostPattern, hosts::HostState>,
    upstream_policies: BTreeMap<UpstreamId, (UpstreamPolicy, Option<ObjectKey>)>,
    reaching: BTreeSet<ObjectKey>,
}

impl<'a> Builder<'a> {
    fn new(snapshot: &'a Snapshot, opts: &'a BuildOptions) -> Self {
        let mut diagnostics = Vec::new();
        let config = settings::config(snapshot, opts, &mut diagnostics);
        let base_policy = Arc::new(config.base.policy.clone());
        Self {
            config,
            policies: vec![base_policy.clone()],
            plain: HashMap::new(),
            base_policy,
            regex_hosts: BTreeMap::new(),
            host_states: BTreeMap::new(),
            upstream_policies: BTreeMap::new(),
            reaching: BTreeSet::new(),
            snapshot,
            opts,
            slices: backend::SliceIndex::new(snapshot),
            diagnostics,
            hosts: BTreeMap::new(),
            tls: BTreeMap::new(),
            fallbacks: BTreeMap::new(),
            catch_all: None,
            certificates: BTreeMap::new(),
        }
    }

    fn diagnose(&mut self, severity: Severity, key: &ObjectKey, field: &str, kind: DiagnosticKind) {
        self.diagnostics
            .push(Diagnostic::new(severity, Kind::Ingress, key, field, kind));
    }

    fn add_ingress(&mut self, ingress: &Ingress, resolved: &resolve::Resolved) {
        let policy = resolved.policy.clone();
        let mut rule_hosts = Vec::new();
        for (i, rule) in ingress.rules.iter().enumerate() {
            let host = match HostPattern::parse(rule.host.as_deref()) {
                Ok(host) => host,
                Err(e) => {
                    let written = rule.host.as_deref().unwrap_or_default();
                    let field = format!("spec.rules[{i}].host");
                    self.diagnose(
                        Severity::Error,
                        &ingress.key,
                        &field,
                        DiagnosticKind::invalid_host(written, &e),
                    );
                    continue;
                }
            };
            self.hosts.entry(host.clone()).or_default();
            self.merge_host(&host, ingress, resolved, rule.paths.first());
            let host_policy = self.host_route_policy(&host, resolved);
            let regex = self.regex_hosts.get(&host).cloned();
            for (j, path) in rule.paths.iter().enumerate() {
                let field = format!("spec.rules[{i}].http.paths[{j}]");
                if let Some(cause) = regex.as_ref().filter(|_| !resolved.regex) {
                    let written = path
                        .path
                        .as_deref()
                        .filter(|p| !p.is_empty())
                        .unwrap_or("/");
                    let typed = path
                        .path_type
                        .is_some_and(|t| t != PathType::ImplementationSpecific);
                    let kind = DiagnosticKind::RegexMode {
                        host: host.to_string(),
                        path: written.to_owned(),
                        cause: cause.clone(),
                    };
                    let severity = if typed {
                        Severity::Warning
                    } else {
                        Severity::Info
                    };
                    self.diagnose(severity, &ingress.key, &format!("{field}.path"), kind);
                }
                if let Some(route) = self.route(
                    ingress,
                    path,
                    &field,
                    &host_policy,
                    resolved,
                    regex.is_some(),
                ) {
                    self.insert_route(&host, route, &ingress.key, &field);
                }
            }
            if !rule_hosts.contains(&host) {
                rule_hosts.push(host);
            }
        }
        if let Some(backend) = &ingress.default_backend
            && let Some(action) = self.action(ingress, backend, "spec.defaultBackend")
        {
            let route = Route {
                path: PathMatch::Prefix("/".into()),
                conditions: Vec::new(),
                action,
                policy: policy.clone(),
                origin: Some(RouteOrigin {
                    ingress: ingress.key.clone(),
                    path: "/".into(),
                }),
            };
            self.add_default_backend(ingress, route, &rule_hosts);
        }
        self.add_tls(ingress, &rule_hosts);
    }

    fn add_default_backend(&mut self, ingress: &Ingress, route: Route, rule_hosts: &[HostPattern]) {
        if !ingress.rules.is_empty() {
            for host in rule_hosts {
                self.fallbacks
                    .entry(host.clone())
                    .or_insert_with(|| route.clone());
            }
            return;
        }
        match self.catch_all.as_ref().and_then(|r| r.origin.as_ref()) {
            Some(winner) => {
                let winner = format!("Ingress {}", winner.ingress);
                self.diagnose(
                    Severity::Warning,
                    &ingress.key,
                    "spec.defaultBackend",
                    DiagnosticKind::DefaultBackendConflict { winner },
                );
            }
            None => self.catch_all = Some(route),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn route(
        &mut self,
        ingress: &Ingress,
        path: &HttpPath,
        field: &str,
        policy: &Arc<Policy>,
        resolved: &resolve::Resolved,
        regex: bool,
    ) -> Option<Route> {
        let written = path
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        let parsed = self.path_match(ingress, path, field, regex)?;
        let action = match &resolved.redirect {
            Some(redirect) => Action::Redirect(redirect.clone()),
            None => {
                let action = self.action(ingress, &path.backend, &format!("{field}.backend"))?;
                if let Action::Forward(forward) = &action {
                    for backend in &forward.backends {
                        self.claim_upstream(&backend.upstream, &ingress.key, resolved);
                    }
                }
                action
            }
        };
        Some(Route {
            path: parsed,
            conditions: Vec::new(),
            action,
            policy: policy.clone(),
            origin: Some(RouteOrigin {
                ingress: ingress.key.clone(),
                path: written.to_owned(),
            }),
        })
    }

    /// The path match of an Ingress path (a regex in regex mode); invalid ones are reported.
    fn path_match(
        &mut self,
        ingress: &Ingress,
        path: &HttpPath,
        field: &str,
        regex: bool,
    ) -> Option<PathMatch> {
        let written = path
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        let kind = path.path_type.unwrap_or(PathType::ImplementationSpecific);
        let strict = self.config.settings.admission.strict_path_type;
        let parsed = match kind {
            _ if regex => PathMatch::regex(written),
            PathType::Exact | PathType::Prefix if strict && !strict_path_ok(written) => {
                let field = format!("{field}.path");
                self.diagnose(
                    Severity::Error,
                    &ingress.key,
                    &field,
                    DiagnosticKind::InvalidPath {
                        path: written.to_owned(),
                        reason: "strict-validate-path-type: Exact and Prefix paths may only contain A-Z a-z 0-9 / _ -; use ImplementationSpecific for regex paths".into(),
                    },
                );
                return None;
            }
            PathType::Exact => PathMatch::exact(written),
            PathType::Prefix => PathMatch::prefix(written, true),
            PathType::ImplementationSpecific => PathMatch::prefix(written, false),
        };
        match parsed {
            Ok(m) => Some(m),
            Err(e) => {
                let field = format!("{field}.path");
                self.diagnose(
                    Severity::Error,
                    &ingress.key,
                    &field,
                    DiagnosticKind::invalid_path(written, &e),
                );
                None
            }
        }
    }

    /// The forward action for a backend; a missing Service or port is reported and the route
    /// kept (it answers 503 until they appear).
    fn action(
        &mut self,
        ingress: &Ingress,
        backend: &IngressBackend,
        field: &str,
    ) -> Option<Action> {
        match backend {
            IngressBackend::Service { name, port } => {
                let id = UpstreamId::new(&ingress.key.namespace, name, port.clone());
                if let Err(kind) = backend::check_upstream(self.snapshot, &id) {
                    self.diagnose(
                        Severity::Warning,
                        &ingress.key,
                        &format!("{field}.service"),
                        kind,
                    );
                }
                Some(Action::Forward(Forward::to(id)))
            }
            IngressBackend::Resource { kind, name, .. } => {
                let what = format!("{kind}/{name}");
                self.diagnose(
                    Severity::Error,
                    &ingress.key,
                    &format!("{field}.resource"),
                    DiagnosticKind::ResourceBackend(what),
                );
                None
            }
        }
    }

    fn insert_route(&mut self, host: &HostPattern, route: Route, owner: &ObjectKey, field: &str) {
        let routes = self.hosts.entry(host.clone()).or_default();
        if let Some(winner) = routes.owner(&route) {
            let kind = DiagnosticKind::Conflict {
                host: host.to_string(),
                path: route.path.to_string(),
                winner: winner.clone(),
            };
            self.diagnose(Severity::Warning, owner, field, kind);
            return;
        }
        routes.push(route);
    }

    fn default_route(&mut self) -> Option<Route> {
        if let Some(route) = self.catch_all.take() {
            return Some(route);
        }
        let service_ref = self.opts.default_backend.as_ref()?;
        let key = &service_ref.service;
        let service = self.snapshot.services.get(key);
        let port = match (&service_ref.port, service) {
            (Some(port), _) => port.clone(),
            (None, Some(service)) if !service.ports.is_empty() => {
                PortRef::Number(service.ports[0].port)
            }
            _ => {
                let kind = DiagnosticKind::ServiceNotFound(key.clone());
                self.diagnostics.push(Diagnostic::new(
                    Severity::Warning,
                    Kind::Controller,
                    key,
                    "--default-backend-service",
                    kind,
                ));
                return None;
            }
        };
        let id = UpstreamId::new(&key.namespace, &key.name, port);
        if let Err(kind) = backend::check_upstream(self.snapshot, &id) {
            self.diagnostics.push(Diagnostic::new(
                Severity::Warning,
                Kind::Controller,
                key,
                "--default-backend-service",
                kind,
            ));
        }
        Some(Route {
            path: PathMatch::Prefix("/".into()),
            conditions: Vec::new(),
            action: Action::Forward(Forward::to(id)),
            policy: self.base_policy.clone(),
            origin: None,
        })
    }

    fn finish(mut self) -> (Built, Facts) {
        let facts = Facts {
            reaching: std::mem::take(&mut self.reaching),
            aliases: self
                .host_states
                .values()
                .any(|s| !s.aliases().is_empty() || s.www_redirect.is_some()),
            not_after: Vec::new(),
        };
        let default_route = self.default_route();
        let default_certificate = self.default_certificate();
        let settings = self.settings();
        let default_host_policy = Arc::new(HostPolicy::default());
        let mut virtual_hosts = Vec::with_capacity(self.hosts.len());
        for (host, host_routes) in std::mem::take(&mut self.hosts) {
            let mut routes = host_routes.routes;
            if let Some(mut fallback) = self.fallbacks.remove(&host) {
                if self.regex_hosts.contains_key(&host) {
                    fallback.path = PathMatch::Regex("/".into());
                }
                let has_root = routes
                    .iter()
                    .any(|r| r.path == fallback.path && r.conditions.is_empty());
                if !has_root {
                    routes.push(fallback);
                }
            }
            routes.sort_by(|a, b| b.path.precedence().cmp(&a.path.precedence()));
            // A table lives until the next change; growth slack would be most of its memory.
            routes.shrink_to_fit();
            let tls = self.tls.get(&host).cloned();
            let policy = match self.host_states.get(&host) {
                Some(state) if state.policy != *default_host_policy => {
                    Arc::new(state.policy.clone())
                }
                _ => default_host_policy.clone(),
            };
            virtual_hosts.push(VirtualHost {
                host,
                tls,
                routes,
                policy,
            });
        }
        let notes = hosts::add_aliases(&mut virtual_hosts, &self.host_states, &self.base_policy);
        for (key, kind) in notes {
            self.diagnose(Severity::Info, &key, "metadata.annotations", kind);
        }
        // Not collected in place: that would keep the `VirtualHost`-sized buffer for pointers.
        let mut shared = Vec::with_capacity(virtual_hosts.len());
        shared.extend(virtual_hosts.into_iter().map(Arc::new));
        let mut routes = Routes {
            virtual_hosts: shared,
            default_route,
            upstreams: BTreeMap::new(),
            certificates: BTreeMap::new(),
            default_certificate,
            settings,
        };
        let used_certificates: BTreeSet<ObjectKey> = routes
            .virtual_hosts
            .iter()
            .filter_map(|v| v.tls.as_ref()?.certificate.clone())
            .chain(routes.default_certificate.clone())
            .collect();
        for key in used_certificates {
            if let Some(Ok(cert)) = self.certificates.remove(&key) {
                routes.certificates.insert(key, Arc::new(cert));
            }
        }
        let ids: Vec<UpstreamId> = routes.referenced_upstreams().into_iter().cloned().collect();
        let mut endpoints = Endpoints::default();
        for id in ids {
            let policy = self
                .upstream_policies
                .get(&id)
                .map_or_else(|| self.config.base.upstream.clone(), |(p, _)| p.clone());
            // service-upstream: the one endpoint is the Service's ClusterIP and port.
            let set = if policy.service_upstream {
                backend::cluster_ip(self.snapshot, &id)
            } else {
                backend::endpoints(self.snapshot, &self.slices, &id)
            };
            if !set.is_empty() {
                endpoints.0.insert(id.clone(), set);
            }
            routes.upstreams.insert(id, Upstream { policy });
        }
        let mut not_after: Vec<i64> = self
            .certificates
            .values()
            .filter_map(|c| c.as_ref().ok().map(|c| c.not_after))
            .collect();
        not_after.extend(routes.certificates.values().map(|c| c.not_after));
        let mut diagnostics = self.diagnostics;
        diagnostics.sort();
        diagnostics.dedup();
        let built = Built {
            table: RouteTable { routes, endpoints },
            diagnostics,
        };
        (built, Facts { not_after, ..facts })
    }
}

/// ingress-nginx's `strict-validate-path-type` character rule for Exact and Prefix paths.
fn strict_path_ok(path: &str) -> bool {
    path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'_' || b == b'-')
}
