//! The admission webhook over TLS with real AdmissionReview requests.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use sluice_kube_source::Webhook;
use sluice_kube_source::webhook::{reloading_tls_config, tls_config};

use super::support::*;

/// A TLS connector trusting only `ca`.
fn connector(ca: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn post(addr: std::net::SocketAddr, ca: &CertificateDer<'static>, body: &Value) -> Value {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = connector(ca)
        .connect(
            ServerName::try_from("sluice-admission.ingress.svc").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = http::Request::post("/networking/v1/ingresses?timeout=10s")
        .header("host", "sluice-admission.ingress.svc")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).unwrap())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

fn review(uid: &str, operation: &str, object: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
            "resource": {"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"},
            "requestKind": {"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"},
            "requestResource": {"group": "networking.k8s.io", "version": "v1", "resource": "ingresses"},
            "name": object["metadata"]["name"],
            "namespace": "apps",
            "operation": operation,
            "userInfo": {"username": "admin"},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepts_and_denies_real_admission_reviews_over_tls() {
    let world = World::new().await;
    let a = backend("a").await;
    world.put(ingress_class("sluice", CONTROLLER));
    service_for(&world, "apps", "web", a.port);
    world.put(ingress("apps", "owner", "sluice", "a.test", "web"));
    let ctl = controller(world.client(), source_config("sluice", CONTROLLER), None).await;
    routes_to(ctl.http, "a.test", "/", 200, "a").await;

    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["sluice-admission.ingress.svc".to_owned()])
        .unwrap();
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let webhook = Webhook::bind(
        "127.0.0.1:0".parse().unwrap(),
        tls_config(&cert_path, &key_path).unwrap(),
    )
    .await
    .unwrap();
    let addr = webhook.local_addr().unwrap();
    tokio::spawn(webhook.serve(ctl.source.clone()));
    let ca = cert.cert.der().clone();

    let fine = ingress("apps", "new", "sluice", "b.test", "web");
    let out = post(addr, &ca, &review("u1", "CREATE", fine)).await;
    assert_eq!(out["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(out["kind"], "AdmissionReview");
    assert_eq!(out["response"]["uid"], "u1");
    assert_eq!(out["response"]["allowed"], true, "{out}");

    let taken = ingress("apps", "new", "sluice", "a.test", "web");
    let out = post(addr, &ca, &review("u2", "CREATE", taken)).await;
    assert_eq!(out["response"]["allowed"], false, "{out}");
    assert!(
        out["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("apps/owner")
    );

    let bad = ingress_annotated(
        "apps",
        "new",
        "sluice",
        "c.test",
        "nope",
        json!({"nginx.ingress.kubernetes.io/server-snippet": "lua_code_cache off;"}),
    );
    let out = post(addr, &ca, &review("u3", "UPDATE", bad)).await;
    assert_eq!(out["response"]["allowed"], false, "{out}");
    assert!(
        out["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("server-snippet")
    );

    let missing_service = ingress("apps", "new", "sluice", "d.test", "nope");
    let out = post(addr, &ca, &review("u4", "CREATE", missing_service)).await;
    assert_eq!(out["response"]["allowed"], true);
    assert!(
        out["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("apps/nope"),
        "{out}"
    );

    // Judging never changes what is served.
    assert_eq!(get(ctl.http, "a.test", "/").await, (200, "a".into()));
    assert_eq!(get(ctl.http, "b.test", "/").await.0, 404);
}

/// Whether a TLS handshake with the webhook succeeds for a client trusting only `ca`.
async fn handshake(addr: std::net::SocketAddr, ca: &CertificateDer<'static>) -> bool {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("sluice-admission.ingress.svc").unwrap();
    connector(ca).connect(name, tcp).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_is_served_and_a_broken_one_is_not() {
    let world = World::new().await;
    let ctl = controller(world.client(), source_config("sluice", CONTROLLER), None).await;
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let generate = || {
        rcgen::generate_simple_self_signed(vec!["sluice-admission.ingress.svc".to_owned()]).unwrap()
    };
    let first = generate();
    std::fs::write(&cert_path, first.cert.pem()).unwrap();
    std::fs::write(&key_path, first.signing_key.serialize_pem()).unwrap();
    let tls = reloading_tls_config(&cert_path, &key_path, std::time::Duration::ZERO).unwrap();
    let webhook = Webhook::bind("127.0.0.1:0".parse().unwrap(), tls)
        .await
        .unwrap();
    let addr = webhook.local_addr().unwrap();
    tokio::spawn(webhook.serve(ctl.source.clone()));
    let (first_ca, second) = (first.cert.der().clone(), generate());
    let second_ca = second.cert.der().clone();
    assert!(handshake(addr, &first_ca).await);
    assert!(!handshake(addr, &second_ca).await);

    // Rotation: the files now hold the second pair.
    std::fs::write(&cert_path, second.cert.pem()).unwrap();
    std::fs::write(&key_path, second.signing_key.serialize_pem()).unwrap();
    assert!(handshake(addr, &second_ca).await);
    assert!(!handshake(addr, &first_ca).await);

    // A key of another certificate, then garbage: the second pair keeps serving.
    std::fs::write(&key_path, generate().signing_key.serialize_pem()).unwrap();
    assert!(handshake(addr, &second_ca).await);
    std::fs::write(&cert_path, "not a certificate").unwrap();
    assert!(handshake(addr, &second_ca).await);
}
