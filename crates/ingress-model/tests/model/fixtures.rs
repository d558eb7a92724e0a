//! Small constructors for snapshot objects.

use std::collections::BTreeMap;

use sluice_ingress_model::*;

/// A Prefix/Exact/ImplementationSpecific path to a Service port.
pub fn path(path: &str, kind: PathType, service: &str, port: u16) -> HttpPath {
    HttpPath {
        path: Some(path.into()),
        path_type: Some(kind),
        backend: IngressBackend::Service {
            name: service.into(),
            port: PortRef::Number(port),
        },
    }
}

/// An Ingress of class `sluice` in `ns` with one rule.
pub fn ingress(ns: &str, name: &str, host: Option<&str>, paths: Vec<HttpPath>) -> Ingress {
    Ingress {
        key: ObjectKey::new(ns, name),
        class_name: Some("sluice".into()),
        rules: vec![IngressRule {
            host: host.map(Into::into),
            paths,
        }],
        ..Ingress::default()
    }
}

/// A Service with one unnamed port.
pub fn service(ns: &str, name: &str, port: u16) -> Service {
    Service {
        key: ObjectKey::new(ns, name),
        ports: vec![ServicePort {
            name: None,
            port,
            ..ServicePort::default()
        }],
        ..Service::default()
    }
}

/// An EndpointSlice for `service` with ready addresses on `target`.
pub fn slice(ns: &str, service: &str, target: u16, addresses: &[&str]) -> EndpointSlice {
    EndpointSlice {
        key: ObjectKey::new(ns, format!("{service}-abc")),
        service_name: Some(service.into()),
        address_type: "IPv4".into(),
        ports: vec![EndpointPort {
            name: None,
            port: Some(target),
            protocol: None,
        }],
        endpoints: addresses
            .iter()
            .map(|a| Endpoint {
                addresses: vec![(*a).into()],
                ready: Some(true),
            })
            .collect(),
    }
}

/// A TLS Secret from PEM text.
pub fn tls_secret(ns: &str, name: &str, cert: &str, key: &str) -> Secret {
    let mut data = BTreeMap::new();
    data.insert("tls.crt".to_owned(), cert.as_bytes().to_vec());
    data.insert("tls.key".to_owned(), key.as_bytes().to_vec());
    Secret {
        key: ObjectKey::new(ns, name),
        secret_type: TLS_SECRET_TYPE.into(),
        data,
    }
}

/// A snapshot with our IngressClass `sluice` and Services `svc-a`..`svc-d` (port 80 → 8080) in
/// `default`, each with one endpoint.
pub fn services() -> Snapshot {
    let mut s = Snapshot::default();
    s.insert_ingress_class(IngressClass {
        name: "sluice".into(),
        controller: DEFAULT_CONTROLLER_CLASS.into(),
        is_default: false,
    });
    for (i, name) in ["svc-a", "svc-b", "svc-c", "svc-d"].iter().enumerate() {
        s.insert_service(service("default", name, 80));
        s.insert_endpoint_slice(slice(
            "default",
            name,
            8080,
            &[&format!("10.0.0.{}", i + 1)],
        ));
    }
    s
}

/// The upstream a route forwards to, as `service` name.
pub fn service_of(route: Option<&Route>) -> Option<String> {
    match &route?.action {
        Action::Forward(f) => f.backends.first().map(|b| b.upstream.service.clone()),
        _ => None,
    }
}

/// Builds with default options.
pub fn build_default(snapshot: &Snapshot) -> Built {
    build(snapshot, &BuildOptions::default())
}

/// The full key of an ingress-nginx annotation.
pub fn ann(name: &str) -> String {
    format!("{DEFAULT_ANNOTATION_PREFIX}/{name}")
}

/// An Ingress `default/<name>` for `host` with `/` (Prefix) → `svc-a:80` and annotations given
/// without prefix.
pub fn annotated(name: &str, host: &str, annotations: &[(&str, &str)]) -> Ingress {
    let mut ing = ingress(
        "default",
        name,
        Some(host),
        vec![path("/", PathType::Prefix, "svc-a", 80)],
    );
    for (k, v) in annotations {
        ing.annotations.insert(ann(k), (*v).to_owned());
    }
    ing
}

/// `services()` plus an Ingress `good` on `good.com` that must keep serving.
pub fn with_good() -> Snapshot {
    let mut s = services();
    s.insert_ingress(ingress(
        "default",
        "good",
        Some("good.com"),
        vec![path("/", PathType::Prefix, "svc-b", 80)],
    ));
    s
}

/// Whether the `good` Ingress of [`with_good`] is served.
pub fn good_served(built: &Built) -> bool {
    service_of(built.table.lookup("good.com", "/")).as_deref() == Some("svc-b")
}

/// Options reading the controller ConfigMap `ingress/sluice` from the snapshot, into which
/// `data` is inserted.
pub fn with_config(s: &mut Snapshot, data: &[(&str, &str)]) -> BuildOptions {
    let key = ObjectKey::new("ingress", "sluice");
    s.insert_config_map(ConfigMap {
        key: key.clone(),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    });
    BuildOptions {
        controller_config: Some(key),
        ..BuildOptions::default()
    }
}

/// The route serving `host` `/`.
pub fn route_of<'a>(built: &'a Built, host: &str, path: &str) -> &'a Route {
    built
        .table
        .lookup(host, path)
        .unwrap_or_else(|| panic!("no route for {host}{path}: {:#?}", built.diagnostics))
}

/// Diagnostics with this code about the Ingress `default/<name>`.
pub fn codes_for<'a>(built: &'a Built, name: &str, code: &str) -> Vec<&'a Diagnostic> {
    built
        .diagnostics
        .iter()
        .filter(|d| d.object.key.name == name && d.kind.code() == code)
        .collect()
}

/// An Opaque Secret with string data.
pub fn opaque(ns: &str, name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        key: ObjectKey::new(ns, name),
        secret_type: "Opaque".into(),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect(),
    }
}

/// A ConfigMap with string data.
pub fn config_map(ns: &str, name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        key: ObjectKey::new(ns, name),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}
