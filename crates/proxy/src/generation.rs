//! One generation: everything a request needs, published with one atomic store. Built from a
//! route table, reusing the live upstream objects (and their balancer state and pools) of the
//! previous generation for every upstream id that still exists with the same policy.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use http::{HeaderValue, StatusCode};
use regex::Regex;
use rustls::ServerConfig;
use rustls::sign::CertifiedKey;
use sluice_ingress_model::{
    Action, HostDiff, PathMatch, Route, RouteTable, Routes, Settings, Upstream as UpstreamSpec,
    UpstreamId, VirtualHost,
};
use sluice_router::Router;

use crate::client::UpstreamClients;
use crate::client_cert::ClientAuthRuntime;
use crate::error::ProxyError;
use crate::filters::access::BlockRules;
use crate::hosts::{HostRuntime, server_name};
use crate::tls::CertStore;
use crate::tls_config::{self, HostTls};
use crate::upstream::Upstream;

/// Router, upstreams and certificates of one applied table.
pub(crate) struct Generation {
    /// The table this generation serves (the diff base and `/debug/routes`).
    pub table: Arc<RouteTable>,
    /// The compiled matcher, with each virtual host's runtime facts (TLS section, app-root,
    /// client certificates, TLS configuration) as its payload.
    pub router: Arc<Router<Arc<HostRuntime>>>,
    /// Live upstream objects by id.
    pub upstreams: Arc<hashbrown::HashMap<UpstreamId, Arc<Upstream>>>,
    /// Certificates for the SNI resolver.
    pub certificates: Arc<CertStore>,
    /// The TLS configuration of handshakes whose host has none of its own; `None` when even
    /// rustls's defaults could not be built (handshakes are refused).
    pub default_tls: Option<Arc<ServerConfig>>,
    /// `block-cidrs`, `block-user-agents`, `block-referers`, compiled.
    pub blocking: Arc<BlockRules>,
    /// Compiled path regexes of routes with `rewrite-target`, by pattern.
    pub rewrites: Arc<HashMap<String, Regex>>,
    /// Upstream connection pools for the table's upstream keep-alive settings.
    pub clients: Arc<UpstreamClients>,
    /// Whether a route refers to an upstream the table has no spec for.
    pub unspecified: bool,
}

impl std::fmt::Debug for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generation")
            .field("upstreams", &self.upstreams.len())
            .finish_non_exhaustive()
    }
}

impl Generation {
    /// The generation serving an empty table: every request gets the built-in 404.
    pub fn empty(default_certificate: Arc<CertifiedKey>) -> Result<Self, ProxyError> {
        let table = RouteTable::default();
        let certificates = Arc::new(CertStore::empty(default_certificate));
        let settings = &table.routes.settings;
        Ok(Self {
            // An empty table has no virtual hosts to make a runtime for.
            router: Arc::new(Router::with_payloads(&table.routes, |vhost| {
                Arc::new(HostRuntime::plain(vhost))
            })?),
            upstreams: Arc::default(),
            default_tls: tls_config::server_config(
                &settings.tls,
                &settings.client,
                &certificates,
                &HostTls::default(),
            ),
            blocking: Arc::new(BlockRules::compile(&settings.blocking)),
            rewrites: Arc::default(),
            clients: Arc::new(UpstreamClients::new(&settings.upstream, Arc::default())),
            certificates,
            table: Arc::new(table),
            unspecified: false,
        })
    }

    /// The table's global settings.
    pub fn settings(&self) -> &Settings {
        &self.table.routes.settings
    }

    /// Compiles a new generation for `table`. Fails (changing nothing) when the router rejects
    /// the table. Upstream objects of `previous` are reused, and their endpoint sets updated,
    /// for every id whose upstream policy is unchanged.
    pub fn rebuild(
        table: RouteTable,
        previous: &Generation,
        default_certificate: &Arc<CertifiedKey>,
    ) -> Result<Self, ProxyError> {
        // The virtual hosts that differ from the previous table's; `None` means "assume all".
        let diff = HostDiff::new(&previous.table.routes, &table.routes);
        let changes = diff.changes();
        let touched = |what: fn(&VirtualHost) -> bool| {
            changes.is_none_or(|changes| {
                changes
                    .iter()
                    .flat_map(|c| c.old.into_iter().chain(c.new))
                    .any(|v| what(v))
            })
        };
        match changes {
            Some(changes) => validate(
                changes.iter().filter_map(|c| c.new),
                table.routes.default_route.as_ref(),
            )?,
            None => validate(
                table.routes.virtual_hosts.iter(),
                table.routes.default_route.as_ref(),
            )?,
        }
        let certificates = if !touched(|v| v.tls.is_some())
            && table.routes.certificates == previous.table.routes.certificates
            && table.routes.default_certificate == previous.table.routes.default_certificate
        {
            Arc::clone(&previous.certificates)
        } else {
            Arc::new(CertStore::build(
                &table.routes,
                Some((&previous.table.routes, &previous.certificates)),
                default_certificate,
            ))
        };
        let settings = &table.routes.settings;
        let provider = crate::tls::provider();
        // A host's runtime depends on its virtual host, the TLS and client settings and the
        // certificates; with those unchanged, unchanged hosts keep theirs.
        let same_tls = settings.tls == previous.settings().tls
            && settings.client == previous.settings().client
            && Arc::ptr_eq(&certificates, &previous.certificates);
        let router = previous
            .router
            .update_payloads(&table.routes, &diff, !same_tls, |vhost| {
                let client_auth = vhost
                    .policy
                    .client_auth
                    .as_ref()
                    .map(|auth| Arc::new(ClientAuthRuntime::new(auth, provider.clone())));
                let overrides = HostTls {
                    ciphers: vhost.policy.ssl_ciphers.as_deref(),
                    prefer_server_ciphers: vhost.policy.prefer_server_ciphers,
                    client_auth: client_auth.as_ref(),
                };
                let server_config = (!overrides.is_default())
                    .then(|| {
                        tls_config::server_config(
                            &settings.tls,
                            &settings.client,
                            &certificates,
                            &overrides,
                        )
                    })
                    .flatten();
                let app_root = vhost
                    .routes
                    .iter()
                    .find_map(|r| r.policy.redirects.app_root.clone());
                Arc::new(HostRuntime {
                    name: server_name(&vhost.host),
                    has_tls: vhost.tls.is_some(),
                    app_root,
                    client_auth,
                    server_config,
                })
            })?;
        let default_tls = if settings.tls == previous.settings().tls
            && settings.client.http2 == previous.settings().client.http2
            && Arc::ptr_eq(&certificates, &previous.certificates)
        {
            previous.default_tls.clone()
        } else {
            tls_config::server_config(
                &settings.tls,
                &settings.client,
                &certificates,
                &HostTls::default(),
            )
        };
        let blocking = if settings.blocking == previous.settings().blocking {
            previous.blocking.clone()
        } else {
            Arc::new(BlockRules::compile(&settings.blocking))
        };
        let clients = if settings.upstream == previous.settings().upstream {
            previous.clients.clone()
        } else {
            // Connection counts outlive the clients: they are per endpoint address.
            Arc::new(UpstreamClients::new(
                &settings.upstream,
                previous.clients.connections().clone(),
            ))
        };
        let rewrites = if touched(|v| v.routes.iter().any(|r| r.policy.rewrite.is_some()))
            || table.routes.default_route != previous.table.routes.default_route
        {
            Arc::new(rewrite_regexes(&table.routes))
        } else {
            Arc::clone(&previous.rewrites)
        };
        let default_spec = UpstreamSpec::default();
        let mut upstreams = hashbrown::HashMap::new();
        // Upstreams referenced without a spec (only hand-made tables have them) get the
        // default one. Walking every route for them is skipped when the unchanged hosts'
        // references are known to have specs: none lacked one before, and no spec went.
        let specs = &table.routes.upstreams;
        let kept_specs = || {
            previous
                .table
                .routes
                .upstreams
                .keys()
                .all(|id| specs.contains_key(id))
        };
        let referenced: BTreeSet<&UpstreamId> = match changes {
            Some(changes) if !previous.unspecified && kept_specs() => changes
                .iter()
                .filter_map(|c| c.new)
                .flat_map(|v| v.upstream_refs())
                .chain(
                    table
                        .routes
                        .default_route
                        .iter()
                        .flat_map(Route::upstream_refs),
                )
                .collect(),
            _ => table.routes.referenced_upstreams(),
        };
        let unspecified = referenced.iter().any(|id| !specs.contains_key(*id));
        for id in specs.keys().chain(referenced) {
            if upstreams.contains_key(id) {
                continue;
            }
            let spec = table.routes.upstreams.get(id).unwrap_or(&default_spec);
            let endpoints = table.endpoints.get(id);
            let upstream = match previous.upstreams.get(id) {
                Some(live) if live.policy == spec.policy => {
                    live.set_endpoints(endpoints);
                    Arc::clone(live)
                }
                _ => Arc::new(Upstream::new(id.clone(), spec.policy.clone(), endpoints)),
            };
            upstreams.insert(id.clone(), upstream);
        }
        Ok(Self {
            table: Arc::new(table),
            router: Arc::new(router),
            upstreams: Arc::new(upstreams),
            certificates,
            default_tls,
            blocking,
            rewrites,
            clients,
            unspecified,
        })
    }

    /// The same router, upstreams and certificates with a new table whose routes are equal to
    /// this one's (an endpoints-only change; the endpoint sets were swapped in place).
    pub fn with_table(&self, table: RouteTable) -> Self {
        Self {
            table: Arc::new(table),
            router: Arc::clone(&self.router),
            upstreams: Arc::clone(&self.upstreams),
            certificates: Arc::clone(&self.certificates),
            default_tls: self.default_tls.clone(),
            blocking: Arc::clone(&self.blocking),
            rewrites: Arc::clone(&self.rewrites),
            clients: Arc::clone(&self.clients),
            unspecified: self.unspecified,
        }
    }

    /// The TLS configuration for a handshake with this server name; `None` refuses it
    /// (`ssl-reject-handshake` and a name no host claims, or no usable configuration).
    pub fn tls_for(&self, server_name: Option<&str>) -> Option<Arc<ServerConfig>> {
        let host = server_name.and_then(|name| self.router.named_host(name));
        match host {
            Some(host) => host
                .server_config
                .clone()
                .or_else(|| self.default_tls.clone()),
            None if self.settings().tls.reject_unknown_sni => None,
            None => self.default_tls.clone(),
        }
    }
}

/// The compiled regexes of every regex route with a rewrite.
fn rewrite_regexes(routes: &Routes) -> HashMap<String, Regex> {
    let mut map = HashMap::new();
    let all = routes
        .virtual_hosts
        .iter()
        .flat_map(|v| &v.routes)
        .chain(&routes.default_route);
    for route in all {
        if route.policy.rewrite.is_none() {
            continue;
        }
        let pattern = match &route.path {
            PathMatch::Regex(p) => p,
            _ => continue,
        };
        if map.contains_key(pattern) {
            continue;
        }
        if let Ok(regex) = sluice_ingress_model::path::compile_regex(pattern) {
            map.insert(pattern.clone(), regex);
        }
    }
    map
}

/// Checks what the router does not: every fixed status is a valid HTTP status, every redirect
/// a 3xx with a `Location` that fits in a header. Failing here keeps the old generation.
fn validate<'a>(
    virtual_hosts: impl Iterator<Item = &'a Arc<VirtualHost>>,
    default_route: Option<&Route>,
) -> Result<(), ProxyError> {
    let hosts = virtual_hosts.flat_map(|v| v.routes.iter().map(move |r| (Some(&v.host), r)));
    for (host, route) in hosts.chain(default_route.map(|r| (None, r))) {
        check_route(route).map_err(|problem| ProxyError::InvalidTable {
            reason: format!(
                "host {} path {}: {problem}",
                host.map_or_else(|| "(default)".to_owned(), ToString::to_string),
                route.path
            ),
        })?;
    }
    Ok(())
}

fn check_route(route: &Route) -> Result<(), String> {
    match &route.action {
        Action::Redirect(redirect) => {
            let status = StatusCode::from_u16(redirect.status).ok();
            if !status.is_some_and(|s| s.is_redirection()) {
                return Err(format!("redirect status {} is not 3xx", redirect.status));
            }
            HeaderValue::from_str(&redirect.location)
                .map(|_| ())
                .map_err(|_| {
                    format!(
                        "redirect location {:?} is not a header value",
                        redirect.location
                    )
                })
        }
        Action::Respond(fixed) => StatusCode::from_u16(fixed.status)
            .map(|_| ())
            .map_err(|_| format!("response status {} is invalid", fixed.status)),
        _ => Ok(()),
    }
}
