//! Loading: every kind, legacy Ingress, Secrets, sorted order, Lists, unknown kinds, duplicates.

use sluice_file_source::{Error, FileSource, load};
use sluice_ingress_model::{
    DiagnosticKind, IngressBackend, ObjectKey, PathType, PortRef, Severity,
};
use tempfile::tempdir;

use super::support::{config_map, config_values, ingress, lines, write};

const EVERY_KIND: &str = r#"# A stream with every kind sluice reads.
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: shop
  creationTimestamp: "2024-01-01T00:00:00Z"
spec:
  ingressClassName: sluice
  tls:
  - hosts: [shop.example]
    secretName: shop-tls
  rules:
  - host: shop.example
    http:
      paths:
      - path: /api
        pathType: Exact
        backend:
          service:
            name: api
            port:
              name: http
---
---
# an empty document above, a comment-only one here
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata:
  name: old
spec:
  backend:
    serviceName: fallback
    servicePort: 8080
  rules:
  - http:
      paths:
      - path: /legacy
        backend:
          serviceName: legacy
          servicePort: web
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: sluice
  annotations:
    ingressclass.kubernetes.io/is-default-class: "true"
spec:
  controller: sluice.dev/ingress-controller
---
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: shop
spec:
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: v1
kind: Endpoints
metadata:
  name: api
  namespace: shop
subsets:
- addresses:
  - ip: 10.0.0.1
  notReadyAddresses:
  - ip: 10.0.0.2
  ports:
  - name: http
    port: 8080
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: other-abc
  namespace: shop
  labels:
    kubernetes.io/service-name: other
addressType: IPv4
ports:
- name: http
  port: 9090
endpoints:
- addresses: [10.0.1.1]
  conditions:
    ready: true
---
apiVersion: v1
kind: Secret
metadata:
  name: shop-tls
  namespace: shop
type: kubernetes.io/tls
data:
  tls.crt: Y2VydGlmaWNhdGU=
  tls.key: b2xkLWtleQ==
stringData:
  tls.key: new-key
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: sluice
  namespace: ingress
data:
  proxy-body-size: 8m
  enable-cors: "true"
"#;

#[test]
fn loads_every_kind_from_one_multi_document_file() {
    let dir = tempdir().unwrap();
    let file = write(dir.path(), "all.yaml", EVERY_KIND);
    let loaded = load(&[file]);
    let snapshot = &loaded.snapshot;

    let web = &snapshot.ingresses[&ObjectKey::new("shop", "web")];
    assert_eq!(web.created, Some(1_704_067_200));
    assert_eq!(web.tls[0].secret_name.as_deref(), Some("shop-tls"));
    assert_eq!(web.rules[0].paths[0].path_type, Some(PathType::Exact));

    let old = &snapshot.ingresses[&ObjectKey::new("default", "old")];
    assert_eq!(
        old.default_backend,
        Some(IngressBackend::Service {
            name: "fallback".into(),
            port: PortRef::Number(8080)
        })
    );
    assert_eq!(old.rules[0].paths[0].path_type, None);
    assert_eq!(
        old.rules[0].paths[0].backend,
        IngressBackend::Service {
            name: "legacy".into(),
            port: PortRef::Name("web".into())
        }
    );

    assert!(snapshot.ingress_classes["sluice"].is_default);
    assert_eq!(
        snapshot.services[&ObjectKey::new("shop", "api")].ports[0].port,
        80
    );

    let subset = &snapshot.endpoint_slices[&ObjectKey::new("shop", "api-subset-0")];
    assert_eq!(subset.service_name.as_deref(), Some("api"));
    let ready: Vec<_> = subset.endpoints.iter().map(|e| e.ready).collect();
    assert_eq!(ready, vec![Some(true), Some(false)]);
    let slice = &snapshot.endpoint_slices[&ObjectKey::new("shop", "other-abc")];
    assert_eq!(slice.service_name.as_deref(), Some("other"));

    let secret = &snapshot.secrets[&ObjectKey::new("shop", "shop-tls")];
    assert_eq!(secret.secret_type, "kubernetes.io/tls");
    assert_eq!(secret.data["tls.crt"], b"certificate");
    assert_eq!(
        secret.data["tls.key"], b"new-key",
        "stringData wins over data"
    );

    let config = &snapshot.config_maps[&ObjectKey::new("ingress", "sluice")];
    assert_eq!(config.data["proxy-body-size"], "8m");

    // The only finding: the legacy Ingress, document 3 (after two empty ones), as a warning.
    assert_eq!(
        loaded.diagnostics.len(),
        1,
        "{:#?}",
        lines(&loaded.diagnostics)
    );
    let legacy = &loaded.diagnostics[0];
    assert_eq!(legacy.severity, Severity::Warning);
    assert_eq!(legacy.document, Some(3));
    assert_eq!(legacy.field.as_deref(), Some("apiVersion"));
    assert_eq!(
        legacy.problem,
        Error::Model(Box::new(DiagnosticKind::LegacyApiVersion(
            "extensions/v1beta1".into()
        )))
    );
    let model = legacy.to_model().unwrap();
    assert_eq!(model.object.key, ObjectKey::new("default", "old"));
    assert!(!loaded.has_errors());
}

#[test]
fn a_directory_loads_its_yaml_files_in_name_order_without_recursing() {
    let dir = tempdir().unwrap();
    write(dir.path(), "b.yaml", &config_map("shared", "from-b"));
    write(
        dir.path(),
        "a.yaml",
        &format!(
            "{}---\n{}",
            config_map("shared", "from-a"),
            config_map("only-a", "a")
        ),
    );
    write(dir.path(), "c.yml", &config_map("only-c", "c"));
    write(dir.path(), ".hidden.yaml", &config_map("hidden", "h"));
    write(dir.path(), "notes.txt", &config_map("text", "t"));
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(
        &dir.path().join("sub"),
        "d.yaml",
        &config_map("nested", "n"),
    );

    let loaded = load(&[dir.path().to_owned()]);
    assert_eq!(
        config_values(&loaded),
        vec![
            ("only-a".to_owned(), "a".to_owned()),
            ("only-c".to_owned(), "c".to_owned()),
            ("shared".to_owned(), "from-b".to_owned()),
        ]
    );
    let [duplicate] = loaded.diagnostics.as_slice() else {
        panic!("{:#?}", lines(&loaded.diagnostics));
    };
    assert_eq!(duplicate.severity, Severity::Warning);
    assert_eq!(duplicate.file, dir.path().join("b.yaml"));
    assert_eq!(
        duplicate.problem,
        Error::Duplicate {
            file: dir.path().join("a.yaml").display().to_string(),
            document: 0
        }
    );
    assert!(
        duplicate.to_string().contains("ConfigMap default/shared"),
        "{duplicate}"
    );
}

#[test]
fn named_files_load_in_argument_order() {
    let dir = tempdir().unwrap();
    let first = write(dir.path(), "z.yaml", &config_map("shared", "z"));
    let second = write(dir.path(), "a.yaml", &config_map("shared", "a"));
    let loaded = load(&[first.clone(), second.clone()]);
    assert_eq!(
        config_values(&loaded),
        vec![("shared".to_owned(), "a".to_owned())]
    );
    let loaded = load(&[second, first]);
    assert_eq!(
        config_values(&loaded),
        vec![("shared".to_owned(), "z".to_owned())]
    );
}

#[test]
fn a_list_contributes_its_items() {
    let dir = tempdir().unwrap();
    let file = write(
        dir.path(),
        "list.yaml",
        "apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: api}
  spec:
    ports: [{port: 80}]
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: cfg, namespace: x}
  data: {a: b}
",
    );
    let loaded = load(&[file]);
    assert!(
        loaded.diagnostics.is_empty(),
        "{:#?}",
        lines(&loaded.diagnostics)
    );
    assert!(
        loaded
            .snapshot
            .services
            .contains_key(&ObjectKey::new("default", "api"))
    );
    assert!(
        loaded
            .snapshot
            .config_maps
            .contains_key(&ObjectKey::new("x", "cfg"))
    );
}

#[test]
fn unknown_kinds_are_reported_and_skipped() {
    let dir = tempdir().unwrap();
    let file = write(
        dir.path(),
        "app.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n---\n{}",
            ingress("web", "a.example", "web")
        ),
    );
    let loaded = load(&[file]);
    assert_eq!(loaded.snapshot.ingresses.len(), 1);
    let [unused] = loaded.diagnostics.as_slice() else {
        panic!("{:#?}", lines(&loaded.diagnostics));
    };
    assert_eq!(unused.severity, Severity::Info);
    assert_eq!(unused.document, Some(0));
    assert_eq!(
        unused.to_string(),
        format!(
            "info: {}:1: document 0 (0-based), Deployment shop/web: kind Deployment (apps/v1) is \
             not used by sluice; skipped",
            dir.path().join("app.yaml").display()
        )
    );
    assert!(!loaded.has_errors());
}

#[test]
fn missing_paths_and_empty_directories_are_reported() {
    let dir = tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let mut source = FileSource::new([missing.clone(), empty.clone()]);
    let loaded = source.load();
    assert_eq!(loaded.snapshot, Default::default());
    assert_eq!(
        loaded.diagnostics.len(),
        2,
        "{:#?}",
        lines(&loaded.diagnostics)
    );
    assert_eq!(loaded.diagnostics[0].file, missing);
    assert!(matches!(
        loaded.diagnostics[0].problem,
        Error::Read {
            kind: std::io::ErrorKind::NotFound,
            ..
        }
    ));
    assert_eq!(loaded.diagnostics[1].file, empty);
    assert_eq!(loaded.diagnostics[1].problem, Error::EmptyDirectory);
    assert!(loaded.has_errors());
}
