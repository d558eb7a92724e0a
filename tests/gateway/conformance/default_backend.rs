//! `default_backend.feature`: an Ingress with no rules sends every request to its
//! `defaultBackend`, whatever the method, host and path.

use super::*;

const INGRESS: &str = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: default-backend
spec:
  defaultBackend:
    service:
      name: echo-service
      port:
        number: 8080
";

/// The scenario outline's examples: method, host, path.
const EXAMPLES: &[(&str, &str, &str)] = &[
    ("GET", "my-host", ""),
    ("GET", "my-host", "sub-path"),
    ("POST", "some-host", ""),
    ("PUT", "", "resource"),
    ("DELETE", "some-host", "resource"),
    ("PATCH", "my-host", "resource"),
];

async fn check_examples(gw: &Gateway) {
    for (method, host, path) in EXAMPLES {
        let reply = capture(gw, method, host, path).await;
        let case = format!("{method} http://{host}/{path}");
        assert_eq!(reply.status, 200, "{case}: {}", reply.text());
        assert_eq!(served_by(&reply), "echo-service", "{case}");
        assert_eq!(reply.version, http::Version::HTTP_11, "{case}");
        for header in ["content-length", "content-type", "date", "server"] {
            assert!(reply.headers.contains_key(header), "{case}: no {header}");
        }
        let json = reply.json();
        assert_eq!(json["method"], *method, "{case}");
        assert_eq!(json["path"], format!("/{path}"), "{case}");
        assert_eq!(json["version"], "HTTP/1.1", "{case}");
        assert_eq!(reply.seen_one("user-agent"), "Go-http-client/1.1", "{case}");
    }
}

#[tokio::test]
async fn an_ingress_with_no_rules_sends_all_requests_to_the_default_backend() {
    let namespace = "conformance-default-backend";
    let (_echo, services) = echo_services(namespace, &["echo-service"]).await;
    let gw = deploy(&[
        ("services.yaml", &services),
        ("ingress.yaml", &in_namespace(INGRESS, namespace)),
    ])
    .await;
    check_examples(&gw).await;
}

#[tokio::test]
async fn the_same_with_watch_ingress_without_class_instead_of_a_default_class() {
    let namespace = "conformance-default-backend-flag";
    let (_echo, services) = echo_services(namespace, &["echo-service"]).await;
    let gw = gateway()
        .file("services.yaml", services)
        .file("ingress.yaml", in_namespace(INGRESS, namespace))
        .arg("--watch-ingress-without-class")
        .start()
        .await;
    check_examples(&gw).await;
}
