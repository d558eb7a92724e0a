//! The Ingress examples of the Kubernetes documentation through the binary: simple fanout,
//! name-based virtual hosting (with the host-less catch-all rule) and the path-matching
//! examples table, row by row.

use super::support::*;

#[tokio::test]
async fn kubernetes_docs_simple_fanout_and_name_based_virtual_hosting() {
    let b = backends(&["service1", "service2", "service3"]).await;
    // The documentation's "simple fanout" and "name based virtual hosting" Ingresses (the
    // fanout's service ports are 4200 and 8080 there; one port per Service here).
    let fanout = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: simple-fanout-example
spec:
  ingressClassName: sluice
  rules:
  - host: foo.bar.com
    http:
      paths:
      - path: /foo
        pathType: Prefix
        backend:
          service:
            name: service1
            port:
              number: 80
      - path: /bar
        pathType: Prefix
        backend:
          service:
            name: service2
            port:
              number: 80
";
    let virtual_hosts = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: name-virtual-host-ingress-no-third-host
spec:
  ingressClassName: sluice
  rules:
  - host: first.bar.com
    http:
      paths:
      - pathType: Prefix
        path: /
        backend:
          service:
            name: service1
            port:
              number: 80
  - host: second.bar.com
    http:
      paths:
      - pathType: Prefix
        path: /
        backend:
          service:
            name: service2
            port:
              number: 80
  - http:
      paths:
      - pathType: Prefix
        path: /
        backend:
          service:
            name: service3
            port:
              number: 80
";
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file("fanout.yaml", fanout)
        .file("hosts.yaml", virtual_hosts)
        .start()
        .await;
    let cases = [
        ("foo.bar.com", "/foo", "service1"),
        ("foo.bar.com", "/foo/x", "service1"),
        ("foo.bar.com", "/bar", "service2"),
        ("first.bar.com", "/", "service1"),
        ("second.bar.com", "/anything", "service2"),
        // No host rule matches: the rule without a host takes it.
        ("third.bar.com", "/", "service3"),
        ("203.0.113.9", "/x", "service3"),
    ];
    for (host, path, service) in cases {
        let reply = get(gw.http, host, path).await;
        assert_eq!(served_by(&reply), service, "{host}{path}: {}", reply.text());
    }
    // foo.bar.com has rules, and none for this path: its host matched, so no fallback to the
    // host-less rule.
    assert_eq!(get(gw.http, "foo.bar.com", "/baz").await.status, 404);
}

/// One row of the documentation's path-matching examples: the rules of one host, and requests
/// with the Service expected to answer (`None`: no match, 404).
struct Row {
    rules: &'static [(&'static str, &'static str, &'static str)],
    requests: &'static [(&'static str, Option<&'static str>)],
}

/// The "Examples" table of the Kubernetes Ingress documentation, row by row.
const DOCS_PATH_TABLE: &[Row] = &[
    Row {
        rules: &[("Prefix", "/", "root")],
        requests: &[("/", Some("root")), ("/any/path", Some("root"))],
    },
    Row {
        rules: &[("Exact", "/foo", "foo-exact")],
        requests: &[("/foo", Some("foo-exact")), ("/bar", None), ("/foo/", None)],
    },
    Row {
        rules: &[("Exact", "/foo/", "foo-slash-exact")],
        requests: &[("/foo", None), ("/foo/", Some("foo-slash-exact"))],
    },
    Row {
        rules: &[("Prefix", "/foo", "foo")],
        requests: &[("/foo", Some("foo")), ("/foo/", Some("foo"))],
    },
    Row {
        rules: &[("Prefix", "/foo/", "foo-slash")],
        requests: &[("/foo", Some("foo-slash")), ("/foo/", Some("foo-slash"))],
    },
    Row {
        rules: &[("Prefix", "/aaa/bb", "aaa-bb")],
        requests: &[("/aaa/bbb", None)],
    },
    Row {
        rules: &[("Prefix", "/aaa/bbb", "aaa-bbb")],
        requests: &[
            ("/aaa/bbb", Some("aaa-bbb")),
            ("/aaa/bbb/", Some("aaa-bbb")),
            ("/aaa/bbb/ccc", Some("aaa-bbb")),
            ("/aaa/bbbxyz", None),
        ],
    },
    Row {
        rules: &[("Prefix", "/aaa/bbb/", "aaa-bbb-slash")],
        requests: &[("/aaa/bbb", Some("aaa-bbb-slash"))],
    },
    Row {
        rules: &[("Prefix", "/", "root"), ("Prefix", "/aaa", "aaa")],
        requests: &[("/aaa/ccc", Some("aaa"))],
    },
    Row {
        rules: &[
            ("Prefix", "/", "root"),
            ("Prefix", "/aaa", "aaa"),
            ("Prefix", "/aaa/bbb", "aaa-bbb"),
        ],
        requests: &[("/aaa/bbb", Some("aaa-bbb")), ("/ccc", Some("root"))],
    },
    Row {
        rules: &[("Prefix", "/aaa", "aaa")],
        requests: &[("/ccc", None)],
    },
    Row {
        rules: &[("Prefix", "/foo", "foo"), ("Exact", "/foo", "foo-exact")],
        requests: &[("/foo", Some("foo-exact")), ("/foo/x", Some("foo"))],
    },
];

#[tokio::test]
async fn kubernetes_docs_path_matching_table() {
    let mut names: Vec<&str> = DOCS_PATH_TABLE
        .iter()
        .flat_map(|row| row.rules.iter().map(|(_, _, service)| *service))
        .collect();
    names.sort_unstable();
    names.dedup();
    let b = backends(&names).await;
    let mut ingress = String::from(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: path-table\n\
         spec:\n  ingressClassName: sluice\n  rules:\n",
    );
    for (i, row) in DOCS_PATH_TABLE.iter().enumerate() {
        ingress.push_str(&format!(
            "  - host: row{i}.docs.example\n    http:\n      paths:\n"
        ));
        for (kind, path, service) in row.rules {
            ingress.push_str(&format!(
                "      - path: {path}\n        pathType: {kind}\n        backend:\n          \
                 service: {{name: {service}, port: {{number: 80}}}}\n"
            ));
        }
    }
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file("ingress.yaml", ingress)
        .start()
        .await;
    let client = h1_client();
    for (i, row) in DOCS_PATH_TABLE.iter().enumerate() {
        let host = format!("row{i}.docs.example");
        for (path, expected) in row.requests {
            let reply = request(&client, gw.http, "GET", &host, path, empty()).await;
            match expected {
                Some(service) => {
                    assert_eq!(
                        reply.status,
                        200,
                        "{:?} {path}: {}",
                        row.rules,
                        reply.text()
                    );
                    assert_eq!(served_by(&reply), *service, "{:?} {path}", row.rules);
                    assert_eq!(
                        reply.json()["path"],
                        *path,
                        "the path reaches the backend as sent"
                    );
                }
                None => assert_eq!(
                    reply.status,
                    404,
                    "{:?} {path}: {}",
                    row.rules,
                    reply.text()
                ),
            }
        }
    }
}

#[tokio::test]
async fn kubernetes_docs_minimal_ingress_with_its_own_ingress_class() {
    let b = backends(&["test"]).await;
    // The documentation's first example, with an IngressClass of ours named as it names one.
    let minimal = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: minimal-ingress
  annotations:
    nginx.ingress.kubernetes.io/rewrite-target: /
spec:
  ingressClassName: nginx-example
  rules:
  - http:
      paths:
      - path: /testpath
        pathType: Prefix
        backend:
          service:
            name: test
            port:
              number: 80
";
    let gw = gateway()
        .file(
            "class.yaml",
            ingress_class("nginx-example", "sluice.dev/ingress-controller", false),
        )
        .file("services.yaml", services(&b, 80))
        .file("ingress.yaml", minimal)
        .start()
        .await;
    // `rewrite-target` puts the host in regex mode: `/testpath` is a case-insensitive prefix
    // regex. (Rewriting the upstream path to the target is the proxy's rewrite filter's job.)
    for path in ["/testpath", "/testpath/x?y=1", "/TestPath"] {
        let reply = get(gw.http, "anything.example.com", path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        assert_eq!(served_by(&reply), "test");
    }
    assert_eq!(
        get(gw.http, "anything.example.com", "/other").await.status,
        404
    );
}

#[tokio::test]
async fn kubernetes_docs_resource_backends_are_reported_not_served() {
    let b = backends(&["web"]).await;
    let resource = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ingress-resource-backend
spec:
  ingressClassName: sluice
  defaultBackend:
    resource:
      apiGroup: k8s.example.com
      kind: StorageBucket
      name: static-assets
  rules:
    - http:
        paths:
          - path: /icons
            pathType: ImplementationSpecific
            backend:
              resource:
                apiGroup: k8s.example.com
                kind: StorageBucket
                name: icon-assets
";
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file("resource.yaml", resource)
        .file(
            "web.yaml",
            ingress("web", Some("web.example.com"), &[("/", "web")]),
        )
        .start()
        .await;
    let error = gw
        .wait_for("the resource backend error", 0, |l| {
            l["level"] == "ERROR" && message(l).contains("icon-assets")
        })
        .await;
    assert!(
        message(&error).contains("ingress-resource-backend"),
        "{error}"
    );
    assert_eq!(get(gw.http, "any.example.com", "/icons").await.status, 404);
    assert_eq!(
        served_by(&get(gw.http, "web.example.com", "/").await),
        "web"
    );
}
