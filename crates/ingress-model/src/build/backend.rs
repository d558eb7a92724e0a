//! Service backends: from an Ingress backend to an [`UpstreamId`], and from an upstream to its
//! ready endpoint addresses through the Service and its EndpointSlices.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::diagnostic::DiagnosticKind;
use crate::key::ObjectKey;
use crate::objects::{EndpointSlice, PortRef, Service, ServicePort};
use crate::snapshot::Snapshot;
use crate::table::{EndpointSet, UpstreamId};

/// EndpointSlices grouped by the Service they belong to, built once per `build`.
pub struct SliceIndex<'a> {
    by_service: HashMap<&'a str, HashMap<&'a str, Vec<&'a EndpointSlice>>>,
}

impl<'a> SliceIndex<'a> {
    /// Indexes the snapshot's slices by `(namespace, kubernetes.io/service-name)`.
    pub fn new(snapshot: &'a Snapshot) -> Self {
        let mut by_service: HashMap<&str, HashMap<&str, Vec<_>>> = HashMap::new();
        for slice in snapshot.endpoint_slices.values() {
            if let Some(service) = slice.service_name.as_deref() {
                let namespace = by_service.entry(slice.key.namespace.as_str()).or_default();
                namespace.entry(service).or_default().push(slice);
            }
        }
        Self { by_service }
    }

    fn slices(&self, namespace: &str, service: &str) -> &[&'a EndpointSlice] {
        self.by_service
            .get(namespace)
            .and_then(|n| n.get(service))
            .map_or(&[], Vec::as_slice)
    }
}

/// Checks that an upstream's Service and port exist; the error says why requests will get 503.
pub fn check_upstream(snapshot: &Snapshot, id: &UpstreamId) -> Result<(), DiagnosticKind> {
    let key = ObjectKey::new(&id.namespace, &id.service);
    let Some(service) = snapshot.services.get(&key) else {
        return Err(DiagnosticKind::ServiceNotFound(key));
    };
    if service.service_type.as_deref() == Some("ExternalName") {
        return Err(DiagnosticKind::ExternalNameService(key));
    }
    match service_port(service, &id.port) {
        Some(_) => Ok(()),
        None => Err(DiagnosticKind::ServicePortNotFound {
            service: key,
            port: id.port.clone(),
        }),
    }
}

/// The Service port an Ingress port reference names.
pub fn service_port<'s>(service: &'s Service, port: &PortRef) -> Option<&'s ServicePort> {
    service.ports.iter().find(|p| match port {
        PortRef::Number(n) => p.port == *n,
        PortRef::Name(name) => p.name.as_deref() == Some(name.as_str()),
    })
}

/// Ready endpoint addresses of an upstream: the EndpointSlices of its Service, the slice port
/// whose name equals the Service port's name, endpoints whose `ready` is true or unset.
pub fn endpoints(snapshot: &Snapshot, index: &SliceIndex<'_>, id: &UpstreamId) -> EndpointSet {
    let key = ObjectKey::new(&id.namespace, &id.service);
    let Some(service) = snapshot.services.get(&key) else {
        return EndpointSet::default();
    };
    let Some(port) = service_port(service, &id.port) else {
        return EndpointSet::default();
    };
    let port_name = port.name.as_deref().unwrap_or("");
    let mut set = EndpointSet::default();
    for slice in index.slices(&id.namespace, &id.service) {
        if slice.address_type != "IPv4" && slice.address_type != "IPv6" {
            continue;
        }
        let Some(target) = slice
            .ports
            .iter()
            .find(|p| p.name.as_deref().unwrap_or("") == port_name)
            .and_then(|p| p.port)
        else {
            continue;
        };
        for endpoint in slice.endpoints.iter().filter(|e| e.ready != Some(false)) {
            for address in &endpoint.addresses {
                if let Ok(ip) = address.parse::<IpAddr>() {
                    set.0.insert(SocketAddr::new(ip, target));
                }
            }
        }
    }
    set
}

/// The Service's ClusterIP and port as the only endpoint (`service-upstream`); empty for a
/// headless or missing Service.
pub fn cluster_ip(snapshot: &Snapshot, id: &UpstreamId) -> EndpointSet {
    let key = ObjectKey::new(&id.namespace, &id.service);
    let Some(service) = snapshot.services.get(&key) else {
        return EndpointSet::default();
    };
    let ip = service
        .cluster_ip
        .as_deref()
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    match (ip, service_port(service, &id.port)) {
        (Some(ip), Some(port)) => std::iter::once(SocketAddr::new(ip, port.port)).collect(),
        _ => EndpointSet::default(),
    }
}
