//! Host and path routing through the binary: hosts and paths, query strings and host
//! normalisation, the default backends (`spec.defaultBackend`, `--default-backend-service`),
//! and legacy `Endpoints` objects. The Kubernetes documentation's examples are in
//! `kubernetes_docs`.

use super::support::*;

#[tokio::test]
async fn hosts_and_paths_route_to_their_services() {
    let b = backends(&["svc-a", "svc-b", "svc-c"]).await;
    let ingress = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  ingressClassName: sluice
  rules:
  - host: a.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: svc-a, port: {number: 80}}}
      - path: /api
        pathType: Prefix
        backend: {service: {name: svc-b, port: {name: http}}}
  - host: b.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: svc-c, port: {number: 80}}}
";
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file("ingress.yaml", ingress)
        .start()
        .await;
    let cases = [
        ("a.example.com", "/", "svc-a"),
        ("a.example.com", "/index.html", "svc-a"),
        ("a.example.com", "/api", "svc-b"),
        ("a.example.com", "/api/users/7", "svc-b"),
        ("a.example.com", "/apix", "svc-a"),
        ("A.Example.COM", "/api", "svc-b"),
        ("a.example.com:8080", "/api", "svc-b"),
        ("a.example.com.", "/api", "svc-b"),
        ("b.example.com", "/api", "svc-c"),
    ];
    for (host, path, service) in cases {
        let reply = get(gw.http, host, path).await;
        assert_eq!(reply.status, 200, "{host}{path}: {}", reply.text());
        assert_eq!(served_by(&reply), service, "{host}{path}");
        assert_eq!(reply.json()["path"], path, "{host}{path}");
        assert_eq!(reply.json()["host"], host, "{host}{path}");
    }
    let reply = get(gw.http, "a.example.com", "/api/search?q=sluice&page=2").await;
    assert_eq!(reply.json()["path"], "/api/search?q=sluice&page=2");
    assert_eq!(reply.json()["query"], "q=sluice&page=2");
    assert_eq!(reply.seen_one("x-forwarded-host"), "a.example.com");
    assert_eq!(reply.seen_one("x-forwarded-proto"), "http");

    let unknown = get(gw.http, "c.example.com", "/").await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn ingress_default_backend_takes_unmatched_requests() {
    let b = backends(&["fallback", "app"]).await;
    let ingress = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: with-default
spec:
  ingressClassName: sluice
  defaultBackend:
    service:
      name: fallback
      port:
        number: 80
  rules:
  - host: app.example.com
    http:
      paths:
      - path: /app
        pathType: Prefix
        backend:
          service:
            name: app
            port:
              number: 80
";
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file("ingress.yaml", ingress)
        .start()
        .await;
    assert_eq!(
        served_by(&get(gw.http, "app.example.com", "/app/1").await),
        "app"
    );
    for path in ["/", "/other", "/application"] {
        let reply = get(gw.http, "app.example.com", path).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(served_by(&reply), "fallback", "{path}");
        assert_eq!(reply.json()["path"], path);
    }
    // As in ingress-nginx (the model's rule 4), the defaultBackend of an Ingress with rules
    // serves that Ingress's hosts; other hosts get the controller's default backend.
    assert_eq!(get(gw.http, "unknown.example.com", "/").await.status, 404);

    // An Ingress without rules: its defaultBackend takes every unmatched host.
    gw.write(
        "catch-all.yaml",
        "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: catch-all
spec:
  ingressClassName: sluice
  defaultBackend:
    service:
      name: fallback
      port:
        number: 80
",
    );
    gw.wait_applied(2).await;
    let reply = get(gw.http, "unknown.example.com", "/x").await;
    assert_eq!(served_by(&reply), "fallback");
    assert_eq!(
        served_by(&get(gw.http, "app.example.com", "/app").await),
        "app"
    );
}

#[tokio::test]
async fn default_backend_service_flag_serves_unknown_hosts() {
    let b = backends(&["default-http-backend", "app"]).await;
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file(
            "ingress.yaml",
            ingress("app", Some("app.example.com"), &[("/", "app")]),
        )
        .arg("--default-backend-service=default/default-http-backend")
        .start()
        .await;
    assert_eq!(
        served_by(&get(gw.http, "app.example.com", "/").await),
        "app"
    );
    let reply = get(gw.http, "nobody.example.com", "/healthz?x=1").await;
    assert_eq!(reply.status, 200);
    assert_eq!(served_by(&reply), "default-http-backend");
    assert_eq!(reply.json()["path"], "/healthz?x=1");
}

#[tokio::test]
async fn legacy_endpoints_objects_and_target_ports_work_like_endpoint_slices() {
    let b = backends(&["legacy"]).await;
    let manifests = format!(
        "
apiVersion: v1
kind: Service
metadata:
  name: legacy
spec:
  ports:
  - name: web
    port: 80
    targetPort: {port}
---
apiVersion: v1
kind: Endpoints
metadata:
  name: legacy
subsets:
- addresses:
  - ip: 127.0.0.1
  ports:
  - name: web
    port: {port}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: legacy
spec:
  ingressClassName: sluice
  rules:
  - host: legacy.example.com
    http:
      paths:
      - path: /
        pathType: ImplementationSpecific
        backend:
          service:
            name: legacy
            port:
              name: web
",
        port = b[0].port()
    );
    let gw = gateway().file("all.yaml", manifests).start().await;
    let reply = get(gw.http, "legacy.example.com", "/deep/path").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(served_by(&reply), "legacy");
}
