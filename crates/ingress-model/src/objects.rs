//! The input world: plain, Kubernetes-version-independent copies of the objects the model reads.
//!
//! Sources fill these (directly, or through the `k8s` feature's conversions); `build` reads them.
//! Only the fields that influence routing are kept, which also keeps memory small at scale.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::key::ObjectKey;

/// An Ingress (networking.k8s.io/v1 shape; legacy shapes convert into it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ingress {
    /// Namespace and name.
    pub key: ObjectKey,
    /// `metadata.creationTimestamp` as Unix seconds; `None` sorts before every timestamp.
    pub created: Option<i64>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `spec.ingressClassName`.
    pub class_name: Option<String>,
    /// `spec.defaultBackend`.
    pub default_backend: Option<IngressBackend>,
    /// `spec.tls`.
    pub tls: Vec<IngressTls>,
    /// `spec.rules`.
    pub rules: Vec<IngressRule>,
}

/// One `spec.tls` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngressTls {
    /// Hosts covered by this entry; empty means every rule host of the Ingress.
    pub hosts: Vec<String>,
    /// Secret in the Ingress namespace; `None` means the default certificate.
    pub secret_name: Option<String>,
}

/// One `spec.rules` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngressRule {
    /// The host as written; `None` (or empty) means every host.
    pub host: Option<String>,
    /// `http.paths`.
    pub paths: Vec<HttpPath>,
}

/// One `http.paths` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HttpPath {
    /// The path as written; `None` means `/`.
    pub path: Option<String>,
    /// `pathType`; `None` is treated like `ImplementationSpecific`.
    pub path_type: Option<PathType>,
    /// Where matching requests go.
    pub backend: IngressBackend,
}

/// Ingress `pathType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum PathType {
    /// Matches the path exactly, case-sensitively.
    Exact,
    /// Matches by path elements split on `/`.
    Prefix,
    /// Left to the controller: Prefix, or a regex when the host is in regex mode.
    ImplementationSpecific,
}

impl PathType {
    /// Parses the Kubernetes spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Exact" => Some(Self::Exact),
            "Prefix" => Some(Self::Prefix),
            "ImplementationSpecific" => Some(Self::ImplementationSpecific),
            _ => None,
        }
    }
}

/// An Ingress backend: a Service port, or a typed resource reference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum IngressBackend {
    /// `service: {name, port}`.
    Service {
        /// Service name in the Ingress namespace.
        name: String,
        /// Port by number or name.
        port: PortRef,
    },
    /// `resource: {apiGroup, kind, name}`; not served by sluice.
    Resource {
        /// API group, if any.
        api_group: Option<String>,
        /// Kind.
        kind: String,
        /// Name.
        name: String,
    },
}

/// A Service port reference: by number or by name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum PortRef {
    /// `port.number`.
    Number(u16),
    /// `port.name`.
    Name(String),
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(name) => f.write_str(name),
        }
    }
}

/// An IngressClass.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngressClass {
    /// The class name (cluster-scoped).
    pub name: String,
    /// `spec.controller`.
    pub controller: String,
    /// Annotation `ingressclass.kubernetes.io/is-default-class: "true"`.
    pub is_default: bool,
}

/// A Service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Namespace and name.
    pub key: ObjectKey,
    /// `spec.type`, e.g. `ClusterIP`, `ExternalName`.
    pub service_type: Option<String>,
    /// `spec.clusterIP`.
    pub cluster_ip: Option<String>,
    /// `spec.externalName`.
    pub external_name: Option<String>,
    /// `spec.ports`.
    pub ports: Vec<ServicePort>,
    /// `status.loadBalancer.ingress` entries (IPs or hostnames), used for Ingress status.
    pub load_balancer: Vec<String>,
}

/// One `spec.ports` entry of a Service.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServicePort {
    /// Port name; required when a Service has several ports.
    pub name: Option<String>,
    /// The Service port number.
    pub port: u16,
    /// `targetPort` when numeric (used for ExternalName and when no EndpointSlice names the port).
    pub target_port: Option<PortRef>,
    /// Protocol, `TCP` when absent.
    pub protocol: Option<String>,
    /// `appProtocol`, e.g. `kubernetes.io/h2c`.
    pub app_protocol: Option<String>,
}

/// An EndpointSlice (core v1 Endpoints convert into one slice per subset).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EndpointSlice {
    /// Namespace and name.
    pub key: ObjectKey,
    /// Label `kubernetes.io/service-name`.
    pub service_name: Option<String>,
    /// `addressType`: `IPv4`, `IPv6` or `FQDN`.
    pub address_type: String,
    /// `ports`.
    pub ports: Vec<EndpointPort>,
    /// `endpoints`.
    pub endpoints: Vec<Endpoint>,
}

/// One port of an EndpointSlice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EndpointPort {
    /// Matches the Service port name (empty/`None` for an unnamed port).
    pub name: Option<String>,
    /// The port on the endpoints.
    pub port: Option<u16>,
    /// Protocol, `TCP` when absent.
    pub protocol: Option<String>,
}

/// One endpoint of an EndpointSlice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Addresses (all of one family).
    pub addresses: Vec<String>,
    /// `conditions.ready`; `None` means ready.
    pub ready: Option<bool>,
}

/// A Secret (any type; TLS and auth Secrets are interpreted where they are used).
#[derive(Clone, PartialEq, Eq, Default, Serialize)]
pub struct Secret {
    /// Namespace and name.
    pub key: ObjectKey,
    /// `type`, e.g. `kubernetes.io/tls` or `Opaque`.
    pub secret_type: String,
    /// `data` (decoded) merged with `stringData`.
    #[serde(skip)]
    pub data: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secret material.
        f.debug_struct("Secret")
            .field("key", &self.key)
            .field("secret_type", &self.secret_type)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The Secret type of TLS Secrets.
pub const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";

/// A ConfigMap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConfigMap {
    /// Namespace and name.
    pub key: ObjectKey,
    /// `data`.
    pub data: BTreeMap<String, String>,
}
