//! The scenarios of the public ingress-controller-conformance suite
//! (kubernetes-sigs/ingress-controller-conformance, `features/*.feature`), reproduced through
//! the binary on plain manifests: default backend, host rules (with TLS and wildcards), path
//! rules, ingress class and load balancing over 10 endpoints.
//!
//! The suite's setup becomes YAML: its "new random namespace" is a namespace per test, its
//! echo Deployments are in-process echo backends named after their Service (port 8080, named
//! `http`), and the cluster's default IngressClass is an IngressClass of our controller marked
//! `ingressclass.kubernetes.io/is-default-class`, since the suite's Ingresses name no class. Its
//! requests are made the way its Go client makes them: a new connection per request, the Host
//! header set to the scenario's host, `User-Agent: Go-http-client/1.1`.

mod default_backend;
mod host_rules;
mod ingress_class;
mod load_balancing;
mod path_rules;

use http::Request;

use super::support::*;

/// Our controller, as the default IngressClass would name it.
pub const CONTROLLER: &str = "sluice.dev/ingress-controller";

/// The suite's echo Services: one backend each, in `namespace`, on port 8080 named `http`.
pub async fn echo_services(namespace: &str, names: &[&str]) -> (Vec<Backend>, String) {
    let backends = backends(names).await;
    let docs: Vec<String> = backends
        .iter()
        .map(|b| service_in(namespace, &b.name, 8080, Some("http"), &[b.addr]))
        .collect();
    let parts: Vec<&str> = docs.iter().map(String::as_str).collect();
    (backends, documents(&parts))
}

/// Adds `namespace` to the metadata of a scenario's Ingress.
pub fn in_namespace(ingress: &str, namespace: &str) -> String {
    ingress.replacen(
        "metadata:\n",
        &format!("metadata:\n  namespace: {namespace}\n"),
        1,
    )
}

/// A gateway on the scenario's manifests with our IngressClass as the cluster default.
pub async fn deploy(files: &[(&str, &str)]) -> Gateway {
    let mut builder = gateway().file(
        "00-ingressclass.yaml",
        ingress_class("sluice", CONTROLLER, true),
    );
    for (name, yaml) in files {
        builder = builder.file(name, *yaml);
    }
    builder.start().await
}

/// One request as the suite's Go client sends it: a new connection, `Host: host` (the address
/// itself when `host` is empty), its user agent.
pub async fn capture(gw: &Gateway, method: &str, host: &str, path: &str) -> Reply {
    let host = if host.is_empty() {
        gw.http.to_string()
    } else {
        host.to_owned()
    };
    let req = Request::builder()
        .method(method)
        .uri(format!(
            "http://{}/{}",
            gw.http,
            path.trim_start_matches('/')
        ))
        .header("host", &host)
        .header("user-agent", "Go-http-client/1.1")
        .body(empty())
        .unwrap();
    read(h1_client().request(req).await.unwrap()).await
}
