//! `load_balancing.feature`: a default backend scaled to 10 replicas; 100 requests on new
//! connections all succeed and reach all 10 pods.

use std::collections::BTreeSet;

use super::*;

const INGRESS: &str = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: load-balancing
spec:
  defaultBackend:
    service:
      name: echo-service
      port:
        number: 8080
";

#[tokio::test]
async fn requests_reach_every_one_of_ten_endpoints() {
    let namespace = "conformance-load-balancing";
    // Ten pods: ten loopback addresses on one port, in one EndpointSlice.
    let pods = super::super::support::replicas("echo-service-pod", 10).await;
    let addrs: Vec<_> = pods.iter().map(|p| p.addr).collect();
    let services = service_in(namespace, "echo-service", 8080, Some("http"), &addrs);
    assert_eq!(services.matches("kind: EndpointSlice").count(), 1);
    let gw = deploy(&[
        ("services.yaml", &services),
        ("ingress.yaml", &in_namespace(INGRESS, namespace)),
    ])
    .await;
    let mut seen = BTreeSet::new();
    for _ in 0..100 {
        let reply = capture(&gw, "GET", "load-balancing", "").await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        seen.insert(served_by(&reply));
    }
    assert_eq!(seen.len(), 10, "{seen:?}");
    assert!(pods.iter().all(|p| p.hits() > 0));
}
