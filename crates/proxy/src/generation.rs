//! One generation: everything a request needs, published with one atomic store. Built from a
//! route table, reusing the live upstream objects (and their balancer state and pools) of the
//! previous generation for every upstream id that still exists with the same policy.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderValue, StatusCode};
use rustls::sign::CertifiedKey;
use sluice_ingress_model::{
    Action, Route, RouteTable, Routes, Settings, Upstream as UpstreamSpec, UpstreamId,
};
use sluice_router::Router;

use crate::error::ProxyError;
use crate::tls::CertStore;
use crate::upstream::Upstream;

/// Router, upstreams and certificates of one applied table.
pub(crate) struct Generation {
    /// The table this generation serves (the diff base and `/debug/routes`).
    pub table: Arc<RouteTable>,
    /// The compiled matcher.
    pub router: Arc<Router>,
    /// Live upstream objects by id.
    pub upstreams: Arc<HashMap<UpstreamId, Arc<Upstream>>>,
    /// Certificates for the SNI resolver.
    pub certificates: Arc<CertStore>,
    /// The table's global settings, shared with every request's context.
    pub settings: Arc<Settings>,
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
        Ok(Self {
            router: Arc::new(Router::new(&table.routes)?),
            table: Arc::new(table),
            upstreams: Arc::default(),
            certificates: Arc::new(CertStore::empty(default_certificate)),
            settings: Arc::default(),
        })
    }

    /// Compiles a new generation for `table`. Fails (changing nothing) when the router rejects
    /// the table. Upstream objects of `previous` are reused, and their endpoint sets updated,
    /// for every id whose upstream policy is unchanged.
    pub fn rebuild(
        table: RouteTable,
        previous: &Generation,
        default_certificate: &Arc<CertifiedKey>,
    ) -> Result<Self, ProxyError> {
        validate(&table.routes)?;
        let router = Router::new(&table.routes)?;
        let certificates = CertStore::build(
            &table.routes,
            Some((&previous.table.routes, &previous.certificates)),
            default_certificate,
        );
        let default_spec = UpstreamSpec::default();
        let mut upstreams = HashMap::new();
        let ids = table
            .routes
            .upstreams
            .keys()
            .chain(table.routes.referenced_upstreams());
        for id in ids {
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
            settings: Arc::new(table.routes.settings.clone()),
            table: Arc::new(table),
            router: Arc::new(router),
            upstreams: Arc::new(upstreams),
            certificates: Arc::new(certificates),
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
            settings: Arc::clone(&self.settings),
        }
    }
}

/// Checks what the router does not: every fixed status is a valid HTTP status, every redirect
/// a 3xx with a `Location` that fits in a header. Failing here keeps the old generation.
fn validate(routes: &Routes) -> Result<(), ProxyError> {
    let hosts = routes
        .virtual_hosts
        .iter()
        .flat_map(|v| v.routes.iter().map(move |r| (v.host.to_string(), r)));
    let default = routes
        .default_route
        .iter()
        .map(|r| ("(default)".to_owned(), r));
    for (host, route) in hosts.chain(default) {
        check_route(route).map_err(|problem| ProxyError::InvalidTable {
            reason: format!("host {host} path {}: {problem}", route.path),
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
