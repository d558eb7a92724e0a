//! The admission handler as a pure function.

use sluice_ingress_model::{
    HttpPath, IngressBackend, IngressClass, IngressRule, ObjectKey, PathType, PortRef,
};

use super::*;

fn ingress(name: &str, host: &str, created: i64) -> Ingress {
    Ingress {
        key: ObjectKey::new("apps", name),
        created: Some(created),
        class_name: Some("sluice".into()),
        rules: vec![IngressRule {
            host: Some(host.into()),
            paths: vec![HttpPath {
                path: Some("/".into()),
                path_type: Some(PathType::Prefix),
                backend: IngressBackend::Service {
                    name: "web".into(),
                    port: PortRef::Number(80),
                },
            }],
        }],
        ..Ingress::default()
    }
}

fn snapshot() -> Snapshot {
    let mut s = Snapshot::default();
    s.insert_ingress_class(IngressClass {
        name: "sluice".into(),
        controller: sluice_ingress_model::DEFAULT_CONTROLLER_CLASS.into(),
        is_default: false,
    });
    s.insert_ingress(ingress("owner", "a.test", 100));
    s
}

fn request(object: &Value, operation: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "1234",
            "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
            "resource": {"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"},
            "operation": operation,
            "namespace": "apps",
            "object": object,
        }
    }))
    .unwrap()
}

fn object(name: &str, host: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "ingressClassName": "sluice",
            "rules": [{"host": host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}
            }]}}]
        }
    })
}

fn answer(body: &[u8]) -> Value {
    let mut s = snapshot();
    let before = s.clone();
    let out = review(&mut s, &BuildOptions::default(), body, 1_000);
    assert_eq!(s, before, "the snapshot is restored");
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn a_valid_ingress_is_allowed_with_warnings() {
    let out = answer(&request(&object("new", "b.test", json!({})), "CREATE"));
    assert_eq!(out["kind"], "AdmissionReview");
    assert_eq!(out["response"]["uid"], "1234");
    assert_eq!(out["response"]["allowed"], true);
    let warnings = out["response"]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("Service apps/web not found")),
        "{warnings:?}"
    );
}

#[test]
fn a_taken_host_and_path_is_denied() {
    let out = answer(&request(&object("new", "a.test", json!({})), "CREATE"));
    assert_eq!(out["response"]["allowed"], false);
    let message = out["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("already served by Ingress apps/owner"),
        "{message}"
    );
    // The owner itself may still be updated.
    let out = answer(&request(&object("owner", "a.test", json!({})), "UPDATE"));
    assert_eq!(out["response"]["allowed"], true, "{out}");
}

#[test]
fn invalid_annotations_snippets_and_paths_are_denied() {
    for annotations in [
        json!({"nginx.ingress.kubernetes.io/proxy-body-size": "lots"}),
        json!({"nginx.ingress.kubernetes.io/configuration-snippet": "return 200;"}),
    ] {
        let out = answer(&request(
            &object("new", "c.test", annotations.clone()),
            "CREATE",
        ));
        assert_eq!(out["response"]["allowed"], false, "{annotations}: {out}");
    }
    let mut bad = object("new", "c.test", json!({}));
    bad["spec"]["rules"][0]["host"] = json!("bad..host");
    let out = answer(&request(&bad, "CREATE"));
    assert_eq!(out["response"]["allowed"], false, "{out}");
    let mut bad = object("new", "c.test", json!({}));
    bad["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = json!("Sometimes");
    let out = answer(&request(&bad, "CREATE"));
    assert_eq!(out["response"]["allowed"], false, "{out}");
}

#[test]
fn other_classes_kinds_operations_and_garbage() {
    let mut theirs = object("new", "a.test", json!({}));
    theirs["spec"]["ingressClassName"] = json!("nginx");
    let out = answer(&request(&theirs, "CREATE"));
    assert_eq!(out["response"]["allowed"], true);
    let out = answer(&request(&object("new", "a.test", json!({})), "DELETE"));
    assert_eq!(out["response"]["allowed"], true);
    let out = answer(b"{not json");
    assert_eq!(out["response"]["allowed"], false);
    assert_eq!(out["kind"], "AdmissionReview");
}
