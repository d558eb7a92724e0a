//! [`World`]: an arbitrary snapshot and build options. Objects name each other through short
//! lists, Secrets hold real certificate/key pairs (matching or not), htpasswd text or garbage,
//! and annotations and ConfigMap keys come from the model's own registries.

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use sluice_ingress_model::{
    BuildOptions, ConfigMap, DEFAULT_ANNOTATION_PREFIX, DEFAULT_CONTROLLER_CLASS, Endpoint,
    EndpointPort, EndpointSlice, HttpPath, Ingress, IngressBackend, IngressClass, IngressRule,
    IngressTls, ObjectKey, PathType, PortRef, Secret, Service, ServicePort, ServiceRef, Snapshot,
    SnippetPolicy, TLS_SECRET_TYPE, annotations, config,
};

use crate::text::{HOSTS, Name, Namespace, PATHS, Text, VALUES, pick};

/// PEM certificates and keys of `testdata/tls` (RSA PKCS#1, EC SEC1, PKCS#8).
const PEMS: &[(&str, &str)] = &[
    (
        include_str!("../../testdata/tls/rsa-pkcs1.crt"),
        include_str!("../../testdata/tls/rsa-pkcs1.key"),
    ),
    (
        include_str!("../../testdata/tls/ec-sec1.crt"),
        include_str!("../../testdata/tls/ec-sec1.key"),
    ),
    (
        include_str!("../../testdata/tls/pkcs8.crt"),
        include_str!("../../testdata/tls/pkcs8.key"),
    ),
];

/// Everything a build sees.
#[derive(Arbitrary, Debug)]
pub struct World {
    /// Ingresses.
    pub ingresses: Vec<IngressM>,
    /// Whether our IngressClass `sluice` exists, and whether it is the default.
    pub class: Option<bool>,
    /// Services.
    pub services: Vec<ServiceM>,
    /// EndpointSlices.
    pub slices: Vec<SliceM>,
    /// Secrets.
    pub secrets: Vec<SecretM>,
    /// The controller ConfigMap (`default/sluice`), when present.
    pub config: Option<Vec<(Key, Text)>>,
    /// Options.
    pub options: OptionsM,
}

/// An Ingress.
#[derive(Arbitrary, Debug)]
pub struct IngressM {
    ns: Namespace,
    name: Name,
    created: Option<u8>,
    class: u8,
    annotations: Vec<(Key, Text)>,
    default_backend: Option<BackendM>,
    tls: Vec<(Vec<Text>, Option<Name>)>,
    rules: Vec<(Option<Text>, Vec<PathM>)>,
    auth: Option<AuthM>,
}

/// Basic or digest authentication from a Secret (so htpasswd parsing is reached often).
#[derive(Arbitrary, Debug)]
pub struct AuthM {
    secret: Name,
    digest: bool,
    map: bool,
    realm: Option<Text>,
}

/// An annotation or ConfigMap key: a registry entry by index, or raw.
#[derive(Arbitrary, Debug)]
pub enum Key {
    /// The n-th known name.
    Known(u16),
    /// Any name.
    Raw(String),
}

/// One path of a rule.
#[derive(Arbitrary, Debug)]
pub struct PathM {
    path: Option<Text>,
    path_type: u8,
    backend: BackendM,
}

/// A backend.
#[derive(Arbitrary, Debug)]
pub enum BackendM {
    /// A Service port by number or name.
    Service(Name, PortM),
    /// A resource backend.
    Resource,
}

/// A Service port reference.
#[derive(Arbitrary, Debug)]
pub enum PortM {
    /// 80.
    Http,
    /// Any number.
    Number(u16),
    /// `http`, `https` or `grpc`.
    Name(u8),
}

/// A Service.
#[derive(Arbitrary, Debug)]
pub struct ServiceM {
    ns: Namespace,
    name: Name,
    kind: u8,
    ports: Vec<(Option<u8>, PortM, Option<PortM>, Option<u8>)>,
}

/// An EndpointSlice of a Service.
#[derive(Arbitrary, Debug)]
pub struct SliceM {
    ns: Namespace,
    service: Name,
    suffix: u8,
    ports: Vec<(Option<u8>, Option<u16>)>,
    endpoints: Vec<(u8, Option<bool>)>,
}

/// A Secret.
#[derive(Arbitrary, Debug)]
pub struct SecretM {
    ns: Namespace,
    name: Name,
    tls_type: bool,
    content: SecretContent,
}

/// What a Secret holds.
#[derive(Arbitrary, Debug)]
pub enum SecretContent {
    /// `tls.crt` of one fixture and `tls.key` of another (the same one when equal).
    Pair(u8, u8),
    /// `ca.crt` from a fixture.
    Ca(u8),
    /// `auth` htpasswd text.
    Htpasswd(String),
    /// Any keys and bytes.
    Raw(Vec<(Text, Vec<u8>)>),
}

/// Build options.
#[derive(Arbitrary, Debug)]
pub struct OptionsM {
    without_class: bool,
    by_name: bool,
    custom_prefix: bool,
    ignore_snippets: bool,
    default_backend: Option<(Name, Option<PortM>)>,
    default_certificate: Option<Name>,
    now: Option<u32>,
}

const PORT_NAMES: &[&str] = &["http", "https", "grpc"];
const SECRET_KEYS: &[&str] = &["tls.crt", "tls.key", "ca.crt", "ca.crl", "auth", "alice"];
const ADDRESSES: &[&str] = &["10.0.0.1", "10.0.0.2", "fd00::1", "not-an-ip", ""];
const ADDRESS_TYPES: &[&str] = &["IPv4", "IPv6", "FQDN"];
const SERVICE_TYPES: &[&str] = &["ClusterIP", "NodePort", "ExternalName", "LoadBalancer"];
const CUSTOM_PREFIX: &str = "custom.example.com";

impl World {
    /// The snapshot and options this world describes.
    pub fn snapshot(&self) -> (Snapshot, BuildOptions) {
        let mut s = Snapshot::default();
        let prefix = if self.options.custom_prefix {
            CUSTOM_PREFIX
        } else {
            DEFAULT_ANNOTATION_PREFIX
        };
        for ingress in &self.ingresses {
            s.insert_ingress(ingress.to_model(prefix));
        }
        if let Some(is_default) = self.class {
            s.insert_ingress_class(IngressClass {
                name: "sluice".into(),
                controller: DEFAULT_CONTROLLER_CLASS.into(),
                is_default,
            });
        }
        for service in &self.services {
            s.insert_service(service.to_model());
        }
        for slice in &self.slices {
            s.insert_endpoint_slice(slice.to_model());
        }
        for secret in &self.secrets {
            s.insert_secret(secret.to_model());
        }
        let config = ObjectKey::new("default", "sluice");
        if let Some(data) = &self.config {
            let data = data
                .iter()
                .map(|(k, v)| (config_key(k), v.get(VALUES)))
                .collect();
            s.insert_config_map(ConfigMap {
                key: config.clone(),
                data,
            });
        }
        let o = &self.options;
        let opts = BuildOptions {
            watch_ingress_without_class: o.without_class,
            ingress_class_by_name: o.by_name,
            annotation_prefix: prefix.to_owned(),
            snippet_policy: if o.ignore_snippets {
                SnippetPolicy::Ignore
            } else {
                SnippetPolicy::Reject
            },
            default_backend: o.default_backend.as_ref().map(|(name, port)| ServiceRef {
                service: ObjectKey::new("default", name.get()),
                port: port.as_ref().map(PortM::to_model),
            }),
            default_certificate: o
                .default_certificate
                .map(|name| ObjectKey::new("default", name.get())),
            controller_config: self.config.as_ref().map(|_| config),
            now: o.now.map(i64::from),
            ..BuildOptions::default()
        };
        (s, opts)
    }
}

/// The annotation name (without prefix) of a key.
pub fn annotation_name(key: &Key) -> String {
    match key {
        Key::Known(i) => {
            let count = annotations::registry().count().max(1);
            annotations::registry()
                .nth(usize::from(*i) % count)
                .map_or_else(String::new, |spec| spec.name.to_owned())
        }
        Key::Raw(name) => name.clone(),
    }
}

/// The ConfigMap key of a key.
pub fn config_key(key: &Key) -> String {
    match key {
        Key::Known(i) => {
            let count = config::keys().count().max(1);
            config::keys()
                .nth(usize::from(*i) % count)
                .map_or_else(String::new, |spec| spec.name.to_owned())
        }
        Key::Raw(name) => name.clone(),
    }
}

impl IngressM {
    fn to_model(&self, prefix: &str) -> Ingress {
        let mut annotations: BTreeMap<String, String> = self
            .annotations
            .iter()
            .map(|(k, v)| {
                let name = annotation_name(k);
                (format!("{prefix}/{name}"), v.get(VALUES))
            })
            .collect();
        if let Some(auth) = &self.auth {
            let mut set = |name: &str, value: String| {
                annotations.insert(format!("{prefix}/{name}"), value);
            };
            set("auth-type", if auth.digest { "digest" } else { "basic" }.to_owned());
            set("auth-secret", auth.secret.get());
            if auth.map {
                set("auth-secret-type", "auth-map".to_owned());
            }
            if let Some(realm) = &auth.realm {
                set("auth-realm", realm.get(VALUES));
            }
        }
        let class_name = match self.class % 4 {
            0 => Some("sluice".to_owned()),
            1 => Some("nginx".to_owned()),
            2 => {
                annotations.insert("kubernetes.io/ingress.class".into(), "sluice".into());
                None
            }
            _ => None,
        };
        Ingress {
            key: ObjectKey::new(self.ns.get(), self.name.get()),
            created: self.created.map(i64::from),
            annotations,
            class_name,
            default_backend: self.default_backend.as_ref().map(BackendM::to_model),
            tls: self
                .tls
                .iter()
                .map(|(hosts, secret)| IngressTls {
                    hosts: hosts.iter().map(|h| h.get(HOSTS)).collect(),
                    secret_name: secret.map(Name::get),
                })
                .collect(),
            rules: self
                .rules
                .iter()
                .map(|(host, paths)| IngressRule {
                    host: host.as_ref().map(|h| h.get(HOSTS)),
                    paths: paths.iter().map(PathM::to_model).collect(),
                })
                .collect(),
        }
    }
}

impl PathM {
    fn to_model(&self) -> HttpPath {
        HttpPath {
            path: self.path.as_ref().map(|p| p.get(PATHS)),
            path_type: match self.path_type % 4 {
                0 => Some(PathType::Prefix),
                1 => Some(PathType::Exact),
                2 => Some(PathType::ImplementationSpecific),
                _ => None,
            },
            backend: self.backend.to_model(),
        }
    }
}

impl BackendM {
    fn to_model(&self) -> IngressBackend {
        match self {
            BackendM::Service(name, port) => IngressBackend::Service {
                name: name.get(),
                port: port.to_model(),
            },
            BackendM::Resource => IngressBackend::Resource {
                api_group: Some("k8s.example.com".into()),
                kind: "Bucket".into(),
                name: "static".into(),
            },
        }
    }
}

impl PortM {
    fn to_model(&self) -> PortRef {
        match self {
            PortM::Http => PortRef::Number(80),
            PortM::Number(n) => PortRef::Number(*n),
            PortM::Name(i) => PortRef::Name(pick(PORT_NAMES, usize::from(*i)).to_owned()),
        }
    }
}

impl ServiceM {
    fn to_model(&self) -> Service {
        let service_type = pick(SERVICE_TYPES, usize::from(self.kind)).to_owned();
        let external = service_type == "ExternalName";
        Service {
            key: ObjectKey::new(self.ns.get(), self.name.get()),
            cluster_ip: (!external).then(|| "10.96.0.10".to_owned()),
            external_name: external.then(|| "db.example.com".to_owned()),
            service_type: Some(service_type),
            ports: self
                .ports
                .iter()
                .map(|(name, port, target, protocol)| ServicePort {
                    name: name.map(|n| pick(PORT_NAMES, usize::from(n)).to_owned()),
                    port: match port.to_model() {
                        PortRef::Number(n) => n,
                        PortRef::Name(_) => 443,
                    },
                    target_port: target.as_ref().map(PortM::to_model),
                    protocol: protocol.map(|p| ["TCP", "UDP"][usize::from(p % 2)].to_owned()),
                    app_protocol: None,
                })
                .collect(),
            load_balancer: Vec::new(),
        }
    }
}

impl SliceM {
    fn to_model(&self) -> EndpointSlice {
        let service = self.service.get();
        EndpointSlice {
            key: ObjectKey::new(self.ns.get(), format!("{service}-{}", self.suffix % 3)),
            service_name: Some(service),
            address_type: pick(ADDRESS_TYPES, usize::from(self.suffix / 3)).to_owned(),
            ports: self
                .ports
                .iter()
                .map(|(name, port)| EndpointPort {
                    name: name.map(|n| pick(PORT_NAMES, usize::from(n)).to_owned()),
                    port: *port,
                    protocol: None,
                })
                .collect(),
            endpoints: self
                .endpoints
                .iter()
                .map(|(address, ready)| Endpoint {
                    addresses: vec![pick(ADDRESSES, usize::from(*address)).to_owned()],
                    ready: *ready,
                })
                .collect(),
        }
    }
}

impl SecretM {
    fn to_model(&self) -> Secret {
        let pem = |i: u8| PEMS[usize::from(i) % PEMS.len()];
        let data: BTreeMap<String, Vec<u8>> = match &self.content {
            SecretContent::Pair(cert, key) => BTreeMap::from([
                ("tls.crt".to_owned(), pem(*cert).0.as_bytes().to_vec()),
                ("tls.key".to_owned(), pem(*key).1.as_bytes().to_vec()),
            ]),
            SecretContent::Ca(i) => {
                BTreeMap::from([("ca.crt".to_owned(), pem(*i).0.as_bytes().to_vec())])
            }
            SecretContent::Htpasswd(text) => {
                BTreeMap::from([("auth".to_owned(), text.as_bytes().to_vec())])
            }
            SecretContent::Raw(pairs) => pairs
                .iter()
                .map(|(k, v)| (k.get(SECRET_KEYS), v.clone()))
                .collect(),
        };
        Secret {
            key: ObjectKey::new(self.ns.get(), self.name.get()),
            secret_type: if self.tls_type {
                TLS_SECRET_TYPE.to_owned()
            } else {
                "Opaque".to_owned()
            },
            data,
        }
    }
}
