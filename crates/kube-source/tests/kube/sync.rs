//! Initial sync, then traffic.

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_table_is_complete_and_serves_traffic() {
    let world = World::new().await;
    let a = backend("a").await;
    world.put(ingress_class("sluice", CONTROLLER));
    service_for(&world, "apps", "web", a.port);
    // Enough Ingresses to need several list pages (the watcher asks for 500 at a time).
    for i in 0..520 {
        world.put(ingress(
            "apps",
            &format!("web-{i}"),
            "sluice",
            &format!("h{i}.test"),
            "web",
        ));
    }
    let ctl = controller(world.client(), source_config("sluice", CONTROLLER), None).await;
    routes_to(ctl.http, "h0.test", "/", 200, "a").await;
    routes_to(ctl.http, "h519.test", "/x", 200, "a").await;
    assert_eq!(
        *ctl.first_routes.lock().unwrap(),
        Some(520),
        "nothing is published before every kind is listed"
    );
    assert!(ctl.handle.is_ready());
    let lists: Vec<_> = world
        .api
        .requests()
        .into_iter()
        .filter(|r| r.verb == "list" && r.resource == "ingresses")
        .collect();
    assert!(lists.len() >= 2, "paginated: {lists:?}");
    assert!(lists.iter().any(|r| r.query.contains_key("continue")));
    let (status, _) = get(ctl.http, "unknown.test", "/").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_watched_by_type_and_references_by_name() {
    let world = World::new().await;
    world.put(ingress_class("sluice", CONTROLLER));
    let ctl = controller(world.client(), source_config("sluice", CONTROLLER), None).await;
    eventually("first publish", || async { ctl.handle.is_ready() }).await;
    let secret_watches: Vec<_> = world
        .api
        .requests()
        .into_iter()
        .filter(|r| r.resource == "secrets")
        .collect();
    assert!(!secret_watches.is_empty());
    for r in &secret_watches {
        assert_eq!(
            r.query.get("fieldSelector").map(String::as_str),
            Some("type=kubernetes.io/tls"),
            "{r:?}"
        );
    }
}
