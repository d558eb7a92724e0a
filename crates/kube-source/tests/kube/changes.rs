//! Add, update and delete of every kind reach the proxy.

use serde_json::json;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_service_and_class_changes() {
    let world = World::new().await;
    let a = backend("a").await;
    world.put(ingress_class("sluice", CONTROLLER));
    let ctl = controller(world.client(), source_config("sluice", CONTROLLER), None).await;
    eventually("ready", || async { ctl.handle.is_ready() }).await;

    // Ingress and Service added.
    world.put(ingress("apps", "web", "sluice", "a.test", "web"));
    routes_to(ctl.http, "a.test", "/", 503, "").await;
    service_for(&world, "apps", "web", a.port);
    routes_to(ctl.http, "a.test", "/", 200, "a").await;

    // Ingress updated: the host moves.
    world.put(ingress("apps", "web", "sluice", "b.test", "web"));
    routes_to(ctl.http, "b.test", "/", 200, "a").await;
    routes_to(ctl.http, "a.test", "/", 404, "").await;

    // Service deleted: 503; back: 200.
    world.remove("v1", "Service", "apps", "web");
    routes_to(ctl.http, "b.test", "/", 503, "").await;
    world.put(service("apps", "web"));
    routes_to(ctl.http, "b.test", "/", 200, "a").await;

    // IngressClass deleted: the Ingress is no longer ours.
    world.remove("networking.k8s.io/v1", "IngressClass", "", "sluice");
    routes_to(ctl.http, "b.test", "/", 404, "").await;
    world.put(ingress_class("sluice", CONTROLLER));
    routes_to(ctl.http, "b.test", "/", 200, "a").await;

    // Ingress deleted.
    world.remove("networking.k8s.io/v1", "Ingress", "apps", "web");
    routes_to(ctl.http, "b.test", "/", 404, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_changes_swap_endpoints_without_rebuilding() {
    let world = World::new().await;
    let (a, b) = (backend("a").await, backend("b").await);
    world.put(ingress_class("sluice", CONTROLLER));
    world.put(ingress("apps", "web", "sluice", "a.test", "web"));
    service_for(&world, "apps", "web", a.port);
    let ctl = controller(world.client(), source_config("sluice", CONTROLLER), None).await;
    routes_to(ctl.http, "a.test", "/", 200, "a").await;
    let rebuilds = ctl.handle.rebuilds();
    let updates = ctl.handle.endpoint_updates();

    world.put(slice("apps", "web-1", "web", &[b.port]));
    routes_to(ctl.http, "a.test", "/", 200, "b").await;
    world.remove("discovery.k8s.io/v1", "EndpointSlice", "apps", "web-1");
    routes_to(ctl.http, "a.test", "/", 503, "").await;
    world.put(slice("apps", "web-2", "web", &[a.port]));
    routes_to(ctl.http, "a.test", "/", 200, "a").await;

    assert_eq!(
        ctl.handle.rebuilds(),
        rebuilds,
        "endpoint changes never rebuild the router"
    );
    assert!(ctl.handle.endpoint_updates() >= updates + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_config_maps_reach_the_table() {
    let world = World::new().await;
    let a = backend("a").await;
    world.put(ingress_class("sluice", CONTROLLER));
    service_for(&world, "apps", "web", a.port);
    world.put(config_map("ingress", "sluice", &[]));
    let mut config = source_config("sluice", CONTROLLER);
    config.options.controller_config =
        Some(sluice_ingress_model::ObjectKey::new("ingress", "sluice"));
    let ctl = controller(world.client(), config, None).await;
    eventually("ready", || async { ctl.handle.is_ready() }).await;

    // The controller ConfigMap: a changed key changes the routes' policy.
    world.put(ingress("apps", "web", "sluice", "a.test", "web"));
    routes_to(ctl.http, "a.test", "/", 200, "a").await;
    let before = ctl.handle.table();
    world.put(config_map(
        "ingress",
        "sluice",
        &[("proxy-body-size", "8m")],
    ));
    eventually("ConfigMap change", || async {
        *ctl.handle.table() != *before
    })
    .await;

    // An Opaque Secret an annotation names: fetched by its own watch.
    world.put(ingress_annotated(
        "apps",
        "private",
        "sluice",
        "p.test",
        "web",
        json!({
            "nginx.ingress.kubernetes.io/auth-type": "basic",
            "nginx.ingress.kubernetes.io/auth-secret": "basic-auth",
        }),
    ));
    // The proxy serves the route's policy; the table says what it is.
    let policy = |c: &Controller| {
        let table = c.handle.table();
        table.lookup("p.test", "/").map(|r| {
            (
                r.policy.deny.as_ref().map(|d| d.status),
                r.policy.auth.basic.is_some(),
            )
        })
    };
    eventually("auth fails closed without its Secret", || async {
        policy(&ctl) == Some((Some(503), false))
    })
    .await;
    world.put(secret(
        "apps",
        "basic-auth",
        "Opaque",
        &[("auth", b"a:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n")],
    ));
    eventually("basic auth from the Secret", || async {
        policy(&ctl) == Some((None, true))
    })
    .await;
    let by_name = world.api.requests().into_iter().any(|r| {
        r.resource == "secrets"
            && r.namespace.as_deref() == Some("apps")
            && r.query.get("fieldSelector").map(String::as_str) == Some("metadata.name=basic-auth")
    });
    assert!(by_name, "the referenced Secret is watched by name");
    world.remove("v1", "Secret", "apps", "basic-auth");
    eventually("fails closed again", || async {
        policy(&ctl) == Some((Some(503), false))
    })
    .await;

    // A TLS Secret: its certificate appears in the table.
    let cert = rcgen::generate_simple_self_signed(vec!["t.test".to_owned()]).unwrap();
    let mut tls = ingress("apps", "tls", "sluice", "t.test", "web");
    tls["spec"]["tls"] = json!([{"hosts": ["t.test"], "secretName": "t-cert"}]);
    world.put(tls);
    world.put(secret(
        "apps",
        "t-cert",
        "kubernetes.io/tls",
        &[
            ("tls.crt", cert.cert.pem().as_bytes()),
            ("tls.key", cert.signing_key.serialize_pem().as_bytes()),
        ],
    ));
    let key = sluice_ingress_model::ObjectKey::new("apps", "t-cert");
    eventually("certificate in table", || async {
        ctl.handle.table().routes.certificates.contains_key(&key)
    })
    .await;
    world.remove("v1", "Secret", "apps", "t-cert");
    eventually("certificate gone", || async {
        !ctl.handle.table().routes.certificates.contains_key(&key)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opaque_tls_secret_is_watched_by_name_and_served() {
    let world = World::new().await;
    let a = backend("a").await;
    world.put(ingress_class("sluice", CONTROLLER));
    service_for(&world, "apps", "web", a.port);
    // A kubernetes.io/tls Secret present from the start: the type watch lists it.
    let other = rcgen::generate_simple_self_signed(vec!["k.test".to_owned()]).unwrap();
    world.put(secret(
        "apps",
        "k-cert",
        "kubernetes.io/tls",
        &[
            ("tls.crt", other.cert.pem().as_bytes()),
            ("tls.key", other.signing_key.serialize_pem().as_bytes()),
        ],
    ));
    let ctl = controller(world.client(), source_config("sluice", CONTROLLER), None).await;
    eventually("ready", || async { ctl.handle.is_ready() }).await;

    // Written by older tooling: type Opaque, with tls.crt and tls.key. The kubernetes.io/tls
    // watch does not see it; ingress-nginx serves it, and so does sluice.
    let cert = rcgen::generate_simple_self_signed(vec!["o.test".to_owned()]).unwrap();
    let mut tls = ingress("apps", "opaque", "sluice", "o.test", "web");
    tls["spec"]["tls"] = json!([{"hosts": ["o.test"], "secretName": "o-cert"}]);
    world.put(tls);
    eventually("route of the TLS Ingress", || async {
        ctl.handle.table().lookup("o.test", "/").is_some()
    })
    .await;
    world.put(secret(
        "apps",
        "o-cert",
        "Opaque",
        &[
            ("tls.crt", cert.cert.pem().as_bytes()),
            ("tls.key", cert.signing_key.serialize_pem().as_bytes()),
        ],
    ));
    let key = sluice_ingress_model::ObjectKey::new("apps", "o-cert");
    eventually("certificate of the Opaque Secret in table", || async {
        ctl.handle.table().routes.certificates.contains_key(&key)
    })
    .await;
    let by_name = world.api.requests().into_iter().any(|r| {
        r.resource == "secrets"
            && r.namespace.as_deref() == Some("apps")
            && r.query.get("fieldSelector").map(String::as_str) == Some("metadata.name=o-cert")
    });
    assert!(by_name, "the Opaque TLS Secret is watched by name");

    // A kubernetes.io/tls Secret needs no watch of its own.
    let mut typed = ingress("apps", "typed", "sluice", "k.test", "web");
    typed["spec"]["tls"] = json!([{"hosts": ["k.test"], "secretName": "k-cert"}]);
    world.put(typed);
    let typed_key = sluice_ingress_model::ObjectKey::new("apps", "k-cert");
    eventually("certificate of the TLS Secret in table", || async {
        ctl.handle
            .table()
            .routes
            .certificates
            .contains_key(&typed_key)
    })
    .await;
    let by_name = world.api.requests().into_iter().any(|r| {
        r.resource == "secrets"
            && r.query.get("fieldSelector").map(String::as_str) == Some("metadata.name=k-cert")
    });
    assert!(
        !by_name,
        "a kubernetes.io/tls Secret comes from the type watch"
    );

    // Removing the Opaque Secret takes its certificate away again.
    world.remove("v1", "Secret", "apps", "o-cert");
    eventually("certificate gone", || async {
        !ctl.handle.table().routes.certificates.contains_key(&key)
    })
    .await;
}
