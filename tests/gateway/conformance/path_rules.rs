//! `path_rules.feature`: Exact, Prefix, mixed and trailing-slash path rules, case-sensitive,
//! the longest match winning and the request path reaching the backend unchanged.

use super::*;

const INGRESS: &str = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: path-rules
spec:
  rules:
    - host: \"exact-path-rules\"
      http:
        paths:
          - path: /foo
            pathType: Exact
            backend:
              service:
                name: foo-exact
                port:
                  number: 8080

    - host: \"prefix-path-rules\"
      http:
        paths:
          - path: /foo
            pathType: Prefix
            backend:
              service:
                name: foo-prefix
                port:
                  number: 8080

          - path: /aaa/bbb
            pathType: Prefix
            backend:
              service:
                name: aaa-slash-bbb-prefix
                port:
                  number: 8080

          - path: /aaa
            pathType: Prefix
            backend:
              service:
                name: aaa-prefix
                port:
                  number: 8080

    - host: \"mixed-path-rules\"
      http:
        paths:
          - path: /foo
            pathType: Prefix
            backend:
              service:
                name: foo-prefix
                port:
                  number: 8080

          - path: /foo
            pathType: Exact
            backend:
              service:
                name: foo-exact
                port:
                  number: 8080

    - host: \"trailing-slash-path-rules\"
      http:
        paths:
          - path: /aaa/bbb/
            pathType: Prefix
            backend:
              service:
                name: aaa-slash-bbb-slash-prefix
                port:
                  number: 8080

          - path: /foo/
            pathType: Exact
            backend:
              service:
                name: foo-slash-exact
                port:
                  number: 8080
";

/// Every scenario: host, request path, the Service that must answer (`None`: 404).
const SCENARIOS: &[(&str, &str, Option<&str>)] = &[
    ("exact-path-rules", "/foo", Some("foo-exact")),
    ("exact-path-rules", "/foo/", None),
    ("exact-path-rules", "/FOO", None),
    ("exact-path-rules", "/bar", None),
    ("prefix-path-rules", "/foo", Some("foo-prefix")),
    ("prefix-path-rules", "/foo/", Some("foo-prefix")),
    ("prefix-path-rules", "/FOO", None),
    (
        "prefix-path-rules",
        "/aaa/bbb",
        Some("aaa-slash-bbb-prefix"),
    ),
    (
        "prefix-path-rules",
        "/aaa/bbb/ccc",
        Some("aaa-slash-bbb-prefix"),
    ),
    ("prefix-path-rules", "/aaa/ccc", Some("aaa-prefix")),
    ("prefix-path-rules", "/aaaccc", None),
    ("mixed-path-rules", "/foo", Some("foo-exact")),
    (
        "trailing-slash-path-rules",
        "/aaa/bbb",
        Some("aaa-slash-bbb-slash-prefix"),
    ),
    (
        "trailing-slash-path-rules",
        "/aaa/bbb/",
        Some("aaa-slash-bbb-slash-prefix"),
    ),
    ("trailing-slash-path-rules", "/foo", None),
];

#[tokio::test]
async fn path_rules_match_as_the_ingress_specification_says() {
    let namespace = "conformance-path-rules";
    let names = [
        "foo-exact",
        "foo-prefix",
        "aaa-slash-bbb-prefix",
        "aaa-prefix",
        "aaa-slash-bbb-slash-prefix",
        "foo-slash-exact",
    ];
    let (_echo, services) = echo_services(namespace, &names).await;
    let gw = deploy(&[
        ("services.yaml", &services),
        ("ingress.yaml", &in_namespace(INGRESS, namespace)),
    ])
    .await;
    for (host, path, service) in SCENARIOS {
        let reply = capture(&gw, "GET", host, path).await;
        match service {
            Some(service) => {
                assert_eq!(reply.status, 200, "{host}{path}: {}", reply.text());
                assert_eq!(served_by(&reply), *service, "{host}{path}");
                assert_eq!(reply.json()["path"], *path, "{host}{path}");
            }
            None => assert_eq!(reply.status, 404, "{host}{path}: {}", reply.text()),
        }
    }
}
