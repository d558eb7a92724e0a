//! `sluice check --kubeconfig`: the objects are listed once from the API server (TLS Secrets by
//! field selector, annotation-referenced Secrets and the controller ConfigMap fetched by name,
//! nothing watched) and reported like manifests. Runs against the shared fake API server.

use serde_json::{Value, json};
use sluice_fake_apiserver::FakeApiServer;

use super::support::*;

fn ingress(name: &str, host: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations,
                     "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"ingressClassName": "nginx", "rules": [{"host": host, "http": {"paths": [
            {"path": "/", "pathType": "Prefix",
             "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}
    })
}

fn objects() -> Vec<Value> {
    vec![
        ingress(
            "ok",
            "ok.example.com",
            json!({"nginx.ingress.kubernetes.io/auth-type": "basic",
                   "nginx.ingress.kubernetes.io/auth-secret": "basic-auth"}),
        ),
        ingress(
            "snippet",
            "snippet.example.com",
            json!({"nginx.ingress.kubernetes.io/server-snippet": "return 200;"}),
        ),
        // Another namespace: not listed without --all-namespaces.
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "elsewhere", "namespace": "other"},
               "spec": {"ingressClassName": "nginx", "rules": [{"host": "other.example.com"}]}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
               "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
               "metadata": {"name": "web-1", "namespace": "shop",
                            "labels": {"kubernetes.io/service-name": "web"}},
               "addressType": "IPv4", "ports": [{"port": 8080}],
               "endpoints": [{"addresses": ["10.0.0.1"]}]}),
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "basic-auth", "namespace": "shop"}, "type": "Opaque",
               "data": {"auth": "YWRtaW46JGFwcjEkSDY1dnBkeUQka0F2d3h3UDV5NXZVT3NYLzhnM3lLMQ=="}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "ingress-nginx-controller", "namespace": "ingress-nginx"},
               "data": {"proxy-body-size": "16m"}}),
    ]
}

async fn check(api: &FakeApiServer, extra: &[&str]) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        api.kubeconfig()
            .replace("namespace: default", "namespace: shop"),
    )
    .unwrap();
    let mut args = vec![
        "check".to_owned(),
        "--kubeconfig".to_owned(),
        kubeconfig.display().to_string(),
        "-o".to_owned(),
        "json".to_owned(),
    ];
    args.extend(TAKE_OVER.iter().chain(extra).map(|s| (*s).to_owned()));
    let (code, stdout) = tokio::task::spawn_blocking(move || sluice(&args))
        .await
        .unwrap();
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (code, report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_the_cluster_and_reports_it() {
    let api = FakeApiServer::start().await.unwrap();
    for object in objects() {
        api.apply(object).unwrap();
    }
    let (code, report) = check(&api, &[]).await;
    assert_eq!(code, 1, "the snippet Ingress is rejected");
    assert_eq!(
        report["source"],
        format!("cluster {}/, namespace shop", api.url())
    );
    let statuses: Vec<(&str, &str)> = report["ingresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["name"].as_str().unwrap(), i["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [("ok", "served"), ("snippet", "rejected")]);
    let ok = &report["ingresses"][0];
    assert_eq!(
        ok["diagnostics"],
        json!([]),
        "the auth Secret was fetched by name"
    );
    assert_eq!(report["configmap"]["keys"][0]["key"], "proxy-body-size");

    let requests = api.requests();
    let verbs: Vec<(&str, &str, Option<&str>)> = requests
        .iter()
        .map(|r| (r.verb, r.resource, r.namespace.as_deref()))
        .collect();
    for expected in [
        ("list", "ingresses", Some("shop")),
        ("list", "ingressclasses", None),
        ("list", "services", Some("shop")),
        ("list", "endpointslices", Some("shop")),
        ("list", "secrets", Some("shop")),
        ("list", "configmaps", Some("shop")),
        ("get", "configmaps", Some("ingress-nginx")),
    ] {
        assert!(verbs.contains(&expected), "{expected:?} not in {verbs:?}");
    }
    assert!(
        requests.iter().all(|r| r.verb != "watch"),
        "check never watches"
    );

    // Every namespace: the other Ingress appears (and has no rule served: an empty host rule).
    let (_, all) = check(&api, &["--all-namespaces"]).await;
    assert_eq!(all["summary"]["ingresses"], 3);
    assert!(all["source"].as_str().unwrap().ends_with("all namespaces"));
}
