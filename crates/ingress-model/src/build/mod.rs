//! `build`: a snapshot and the controller options in, a route table and diagnostics out.
//! Pure and total: it never fails as a whole and never panics on object contents.

mod backend;
mod class;
mod settings;
mod tls;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;

pub use class::CLASS_ANNOTATION;
pub use tls::{parse_pem_pair, parse_tls_secret};

use crate::condition::Condition;
use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::host::HostPattern;
use crate::key::{Kind, ObjectKey};
use crate::objects::{HttpPath, Ingress, IngressBackend, PathType, PortRef};
use crate::path::PathMatch;
use crate::policy::{Policy, Settings};
use crate::snapshot::{BuildOptions, Snapshot};
use crate::table::{
    Action, Certificate, Endpoints, Forward, HostTls, Route, RouteOrigin, RouteTable, Routes,
    Upstream, UpstreamId, VirtualHost,
};

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
pub fn build(snapshot: &Snapshot, opts: &BuildOptions) -> Built {
    let mut builder = Builder::new(snapshot, opts);
    let mut ingresses: Vec<&Ingress> = snapshot.ingresses.values().collect();
    ingresses.sort_by(|a, b| (a.created, &a.key).cmp(&(b.created, &b.key)));
    for ingress in ingresses {
        match class::ownership(ingress, snapshot, opts) {
            Ok(()) => builder.add_ingress(ingress),
            Err(class) => builder.diagnose(
                Severity::Info,
                &ingress.key,
                "spec.ingressClassName",
                DiagnosticKind::NotOurClass(class),
            ),
        }
    }
    builder.finish()
}

#[derive(Default)]
struct HostRoutes {
    routes: Vec<Route>,
    owners: HashMap<(PathMatch, Vec<Condition>), ObjectKey>,
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
}

impl<'a> Builder<'a> {
    fn new(snapshot: &'a Snapshot, opts: &'a BuildOptions) -> Self {
        Self {
            snapshot,
            opts,
            slices: backend::SliceIndex::new(snapshot),
            diagnostics: Vec::new(),
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

    fn add_ingress(&mut self, ingress: &Ingress) {
        let policy = Arc::new(Policy::default());
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
            for (j, path) in rule.paths.iter().enumerate() {
                let field = format!("spec.rules[{i}].http.paths[{j}]");
                if let Some(route) = self.route(ingress, path, &field, &policy) {
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

    fn route(
        &mut self,
        ingress: &Ingress,
        path: &HttpPath,
        field: &str,
        policy: &Arc<Policy>,
    ) -> Option<Route> {
        let written = path
            .path
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        let parsed = match path.path_type.unwrap_or(PathType::ImplementationSpecific) {
            PathType::Exact => PathMatch::exact(written),
            PathType::Prefix => PathMatch::prefix(written, true),
            PathType::ImplementationSpecific => PathMatch::prefix(written, false),
        };
        let path_match = match parsed {
            Ok(m) => m,
            Err(e) => {
                let field = format!("{field}.path");
                self.diagnose(
                    Severity::Error,
                    &ingress.key,
                    &field,
                    DiagnosticKind::invalid_path(written, &e),
                );
                return None;
            }
        };
        let action = self.action(ingress, &path.backend, &format!("{field}.backend"))?;
        Some(Route {
            path: path_match,
            conditions: Vec::new(),
            action,
            policy: policy.clone(),
            origin: Some(RouteOrigin {
                ingress: ingress.key.clone(),
                path: written.to_owned(),
            }),
        })
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
        let slot = (route.path.clone(), route.conditions.clone());
        if let Some(winner) = routes.owners.get(&slot) {
            let kind = DiagnosticKind::Conflict {
                host: host.to_string(),
                path: route.path.to_string(),
                winner: winner.clone(),
            };
            self.diagnose(Severity::Warning, owner, field, kind);
            return;
        }
        routes.owners.insert(slot, owner.clone());
        routes.routes.push(route);
    }

    fn add_tls(&mut self, ingress: &Ingress, rule_hosts: &[HostPattern]) {
        let mut listed = BTreeSet::new();
        let mut entry_certs = Vec::new();
        for (k, entry) in ingress.tls.iter().enumerate() {
            let certificate = entry
                .secret_name
                .as_deref()
                .filter(|s| !s.is_empty())
                .and_then(|name| {
                    self.certificate(ingress, name, &format!("spec.tls[{k}].secretName"))
                });
            entry_certs.push(certificate.clone());
            for (m, written) in entry.hosts.iter().enumerate() {
                let host = match HostPattern::parse(Some(written)) {
                    Ok(HostPattern::Any) => continue,
                    Ok(host) => host,
                    Err(e) => {
                        let field = format!("spec.tls[{k}].hosts[{m}]");
                        self.diagnose(
                            Severity::Error,
                            &ingress.key,
                            &field,
                            DiagnosticKind::invalid_host(written, &e),
                        );
                        continue;
                    }
                };
                listed.insert(host.clone());
                self.bind_tls(
                    ingress,
                    host,
                    certificate.clone(),
                    &format!("spec.tls[{k}]"),
                );
            }
        }
        // ingress-nginx: a rule host no entry lists still gets TLS from a certificate of this
        // Ingress that covers it.
        for host in rule_hosts
            .iter()
            .filter(|h| **h != HostPattern::Any && !listed.contains(*h))
        {
            let covering = entry_certs.iter().enumerate().find_map(|(k, cert)| {
                let key = cert.as_ref()?;
                let covers = self
                    .certificates
                    .get(key)?
                    .as_ref()
                    .ok()?
                    .names
                    .iter()
                    .any(|n| host.covered_by_certificate_name(n));
                covers.then(|| (k, key.clone()))
            });
            if let Some((k, key)) = covering {
                self.bind_tls(ingress, host.clone(), Some(key), &format!("spec.tls[{k}]"));
            }
        }
    }

    fn bind_tls(
        &mut self,
        ingress: &Ingress,
        host: HostPattern,
        certificate: Option<ObjectKey>,
        field: &str,
    ) {
        if let Some(existing) = self.tls.get(&host) {
            if existing.origin != ingress.key && existing.certificate != certificate {
                let kind = DiagnosticKind::TlsConflict {
                    host: host.to_string(),
                    winner: existing.origin.clone(),
                };
                self.diagnose(Severity::Warning, &ingress.key, field, kind);
            }
            return;
        }
        let certificate = certificate.filter(|key| {
            let covers = self
                .certificates
                .get(key)
                .and_then(|c| c.as_ref().ok())
                .is_some_and(|c| c.names.iter().any(|n| host.covered_by_certificate_name(n)));
            if !covers {
                let kind = DiagnosticKind::CertificateHostMismatch {
                    secret: key.clone(),
                    host: host.to_string(),
                };
                self.diagnose(Severity::Warning, &ingress.key, field, kind);
            }
            covers
        });
        self.tls.insert(
            host,
            HostTls {
                certificate,
                origin: ingress.key.clone(),
            },
        );
    }

    /// The usable certificate of a Secret in the Ingress namespace, reporting why not.
    fn certificate(&mut self, ingress: &Ingress, name: &str, field: &str) -> Option<ObjectKey> {
        let key = ObjectKey::new(&ingress.key.namespace, name);
        match self.load_certificate(&key) {
            Ok(not_after) => {
                if self.opts.now.is_some_and(|now| now > not_after) {
                    self.diagnose(
                        Severity::Warning,
                        &ingress.key,
                        field,
                        DiagnosticKind::CertificateExpired {
                            secret: key.clone(),
                            not_after,
                        },
                    );
                }
                Some(key)
            }
            Err(kind) => {
                self.diagnose(Severity::Warning, &ingress.key, field, kind);
                None
            }
        }
    }

    /// Parses a TLS Secret once per build; returns its `notAfter`.
    fn load_certificate(&mut self, key: &ObjectKey) -> Result<i64, DiagnosticKind> {
        let Some(secret) = self.snapshot.secrets.get(key) else {
            return Err(DiagnosticKind::TlsSecretNotFound(key.clone()));
        };
        let parsed = self
            .certificates
            .entry(key.clone())
            .or_insert_with(|| tls::parse_tls_secret(secret));
        parsed.as_ref().map(|c| c.not_after).map_err(Clone::clone)
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
            policy: Arc::new(Policy::default()),
            origin: None,
        })
    }

    fn default_certificate(&mut self) -> Option<ObjectKey> {
        let key = self.opts.default_certificate.clone()?;
        match self.load_certificate(&key) {
            Ok(_) => Some(key),
            Err(kind) => {
                self.diagnostics.push(Diagnostic::new(
                    Severity::Warning,
                    Kind::Secret,
                    &key,
                    "--default-ssl-certificate",
                    kind,
                ));
                None
            }
        }
    }

    fn settings(&mut self) -> Settings {
        settings::config(self.snapshot, self.opts, &mut self.diagnostics).settings
    }

    fn finish(mut self) -> Built {
        let default_route = self.default_route();
        let default_certificate = self.default_certificate();
        let settings = self.settings();
        let mut virtual_hosts = Vec::with_capacity(self.hosts.len());
        for (host, host_routes) in std::mem::take(&mut self.hosts) {
            let mut routes = host_routes.routes;
            if let Some(fallback) = self.fallbacks.remove(&host) {
                let has_root = routes
                    .iter()
                    .any(|r| r.path == fallback.path && r.conditions.is_empty());
                if !has_root {
                    routes.push(fallback);
                }
            }
            routes.sort_by(|a, b| b.path.precedence().cmp(&a.path.precedence()));
            let tls = self.tls.get(&host).cloned();
            virtual_hosts.push(VirtualHost { host, tls, routes });
        }
        let mut routes = Routes {
            virtual_hosts,
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
                routes.certificates.insert(key, cert);
            }
        }
        let ids: Vec<UpstreamId> = routes.referenced_upstreams().into_iter().cloned().collect();
        let mut endpoints = Endpoints::default();
        for id in ids {
            let set = backend::endpoints(self.snapshot, &self.slices, &id);
            if !set.is_empty() {
                endpoints.0.insert(id.clone(), set);
            }
            routes.upstreams.insert(id, Upstream::default());
        }
        let mut diagnostics = self.diagnostics;
        diagnostics.sort();
        diagnostics.dedup();
        Built {
            table: RouteTable { routes, endpoints },
            diagnostics,
        }
    }
}
