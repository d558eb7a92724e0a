//! Error answers through the binary: 404 without a route, 503 for a Service without endpoints
//! (missing, empty, not ready, or an unknown port), 502 when the endpoint refuses, 504 when it
//! is slower than `proxy-read-timeout`. A failing route never affects the others.

use super::support::*;

/// An Ingress with one host per failure case, each on its own Service.
fn failure_ingress() -> String {
    let mut out = String::from(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: failures\n\
         spec:\n  ingressClassName: sluice\n  rules:\n",
    );
    for (host, service, port) in [
        ("ok.example.com", "ok", "number: 80"),
        ("missing.example.com", "no-such-service", "number: 80"),
        ("empty.example.com", "empty", "number: 80"),
        ("unready.example.com", "unready", "number: 80"),
        ("wrong-port.example.com", "ok", "number: 81"),
        ("wrong-name.example.com", "ok", "name: grpc"),
        ("refused.example.com", "refused", "number: 80"),
    ] {
        out.push_str(&format!(
            "  - host: {host}\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        \
             backend:\n          service:\n            name: {service}\n            port:\n              {port}\n"
        ));
    }
    out
}

#[tokio::test]
async fn unroutable_and_failing_upstreams_get_404_502_503() {
    let ok = backend("ok").await;
    let refused = refused_addr().await;
    let unready = "
apiVersion: v1
kind: Service
metadata:
  name: unready
spec:
  ports:
  - port: 80
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: unready-1
  labels:
    kubernetes.io/service-name: unready
addressType: IPv4
ports:
- port: 9
endpoints:
- addresses: [\"127.0.0.1\"]
  conditions:
    ready: false
";
    let services = documents(&[
        &service("ok", 80, Some("http"), &[ok.addr]),
        &service("empty", 80, None, &[]),
        &service("refused", 80, None, &[refused]),
        unready,
    ]);
    let gw = gateway()
        .file("services.yaml", services)
        .file("ingress.yaml", failure_ingress())
        .start()
        .await;
    let cases = [
        ("ok.example.com", 200),
        ("nothing.example.com", 404),
        ("missing.example.com", 503),
        ("empty.example.com", 503),
        ("unready.example.com", 503),
        ("wrong-port.example.com", 503),
        ("wrong-name.example.com", 503),
        ("refused.example.com", 502),
    ];
    for (host, status) in cases {
        let reply = get(gw.http, host, "/").await;
        assert_eq!(reply.status, status, "{host}: {}", reply.text());
        // sluice always names itself, without a version unless `server-tokens: "true"`.
        assert_eq!(reply.headers["server"], "sluice", "{host}");
        if status != 200 {
            assert!(
                reply.text().starts_with(&status.to_string()),
                "{host}: {}",
                reply.text()
            );
        }
    }
    let not_found = get(gw.http, "nothing.example.com", "/").await;
    assert_eq!(not_found.text(), "404 Not Found: default backend\n");
    // The failures are reported in the log, naming the Ingress.
    let log = format!("{:?}", gw.log());
    assert!(log.contains("no-such-service"), "{log}");
}

#[tokio::test]
async fn slow_upstream_gets_504_after_proxy_read_timeout() {
    let slow = backend("slow").await;
    let ingress = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: slow
  annotations:
    nginx.ingress.kubernetes.io/proxy-read-timeout: \"1\"
spec:
  ingressClassName: sluice
  rules:
  - host: slow.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: slow
            port:
              number: 80
";
    let gw = gateway()
        .file("services.yaml", service("slow", 80, None, &[slow.addr]))
        .file("ingress.yaml", ingress)
        .start()
        .await;
    let fast = get(gw.http, "slow.example.com", "/").await;
    assert_eq!(fast.status, 200);
    let reply = get(gw.http, "slow.example.com", "/?sleep_ms=5000").await;
    assert_eq!(reply.status, 504, "{}", reply.text());
    assert!(reply.text().starts_with("504"), "{}", reply.text());
}
