//! Route tables built from snapshots, the way sources feed the proxy.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use sluice_ingress_model::*;

use super::NS;

/// A snapshot under construction: IngressClass `sluice`, Services with port 80 in `default`.
pub struct World {
    /// The objects.
    pub snapshot: Snapshot,
    /// Build options.
    pub options: BuildOptions,
}

impl World {
    /// A snapshot with our IngressClass.
    pub fn new() -> Self {
        let mut snapshot = Snapshot::default();
        snapshot.insert_ingress_class(IngressClass {
            name: "sluice".into(),
            controller: DEFAULT_CONTROLLER_CLASS.into(),
            is_default: false,
        });
        Self {
            snapshot,
            options: BuildOptions::default(),
        }
    }

    /// A Service `name` (port 80) whose endpoints are these addresses, one EndpointSlice each
    /// (so every backend keeps its own port).
    pub fn service(&mut self, name: &str, endpoints: &[SocketAddr]) -> &mut Self {
        self.snapshot.insert_service(Service {
            key: ObjectKey::new(NS, name),
            ports: vec![ServicePort {
                port: 80,
                ..ServicePort::default()
            }],
            ..Service::default()
        });
        let stale: Vec<ObjectKey> = self
            .snapshot
            .endpoint_slices
            .values()
            .filter(|s| s.service_name.as_deref() == Some(name))
            .map(|s| s.key.clone())
            .collect();
        for key in stale {
            self.snapshot.endpoint_slices.remove(&key);
        }
        for (i, addr) in endpoints.iter().enumerate() {
            self.snapshot.insert_endpoint_slice(EndpointSlice {
                key: ObjectKey::new(NS, format!("{name}-{i}")),
                service_name: Some(name.into()),
                address_type: "IPv4".into(),
                ports: vec![EndpointPort {
                    name: None,
                    port: Some(addr.port()),
                    protocol: None,
                }],
                endpoints: vec![Endpoint {
                    addresses: vec![addr.ip().to_string()],
                    ready: Some(true),
                }],
            });
        }
        self
    }

    /// An Ingress `name` with one rule: `host` and Prefix `paths` → Services (port 80).
    pub fn ingress(&mut self, name: &str, host: Option<&str>, paths: &[(&str, &str)]) -> &mut Self {
        self.snapshot.insert_ingress(Ingress {
            key: ObjectKey::new(NS, name),
            class_name: Some("sluice".into()),
            rules: vec![IngressRule {
                host: host.map(Into::into),
                paths: paths
                    .iter()
                    .map(|(path, service)| HttpPath {
                        path: Some((*path).into()),
                        path_type: Some(PathType::Prefix),
                        backend: IngressBackend::Service {
                            name: (*service).into(),
                            port: PortRef::Number(80),
                        },
                    })
                    .collect(),
            }],
            ..Ingress::default()
        });
        self
    }

    /// Adds a TLS entry (`hosts` → Secret `secret`) to an Ingress added before.
    pub fn tls(&mut self, ingress: &str, hosts: &[&str], secret: &str) -> &mut Self {
        let key = ObjectKey::new(NS, ingress);
        let ingress = self.snapshot.ingresses.get_mut(&key).unwrap();
        Arc::make_mut(ingress).tls.push(IngressTls {
            hosts: hosts.iter().map(|h| (*h).into()).collect(),
            secret_name: Some(secret.into()),
        });
        self
    }

    /// A `kubernetes.io/tls` Secret from a fixture pair in `testdata/tls` (`name.crt`/`.key`).
    pub fn secret(&mut self, name: &str, fixture: &str) -> &mut Self {
        let mut data = BTreeMap::new();
        data.insert(
            "tls.crt".to_owned(),
            fixture_bytes(&format!("{fixture}.crt")),
        );
        data.insert(
            "tls.key".to_owned(),
            fixture_bytes(&format!("{fixture}.key")),
        );
        self.snapshot.insert_secret(Secret {
            key: ObjectKey::new(NS, name),
            secret_type: TLS_SECRET_TYPE.into(),
            data,
        });
        self
    }

    /// Builds the table.
    pub fn table(&self) -> RouteTable {
        build(&self.snapshot, &self.options).table
    }
}

/// A file of the workspace's `testdata/tls`.
pub fn fixture_bytes(file: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/tls")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The id of Service `name` port 80.
pub fn upstream(name: &str) -> UpstreamId {
    UpstreamId::new(NS, name, PortRef::Number(80))
}

/// Every route of `host` (exact pattern), mutably.
pub fn routes_of<'a>(table: &'a mut RouteTable, host: &str) -> &'a mut Vec<Route> {
    let vhost = table
        .routes
        .virtual_hosts
        .iter_mut()
        .find(|v| v.host.to_string() == host)
        .unwrap();
    &mut Arc::make_mut(vhost).routes
}

/// Sets the timeouts of every route.
pub fn set_timeouts(table: &mut RouteTable, timeouts: Timeouts) {
    for vhost in &mut table.routes.virtual_hosts {
        for route in &mut Arc::make_mut(vhost).routes {
            Arc::make_mut(&mut route.policy).timeouts = timeouts;
        }
    }
}
