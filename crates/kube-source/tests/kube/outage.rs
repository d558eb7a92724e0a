//! The API server going away, and `410 Gone`.

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_keeps_flowing_while_the_api_server_is_down_and_changes_resume() {
    let world = World::new().await;
    let a = backend("a").await;
    world.put(ingress_class("sluice", CONTROLLER));
    world.put(ingress("apps", "web", "sluice", "a.test", "web"));
    service_for(&world, "apps", "web", a.port);
    let ctl = controller(world.client(), source_config("sluice", CONTROLLER), None).await;
    routes_to(ctl.http, "a.test", "/", 200, "a").await;

    world.api.go_down().await;
    // Written while the controller cannot see it.
    world.put(ingress("apps", "late", "sluice", "late.test", "web"));
    for _ in 0..20 {
        assert_eq!(get(ctl.http, "a.test", "/").await, (200, "a".into()));
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(get(ctl.http, "late.test", "/").await.0, 404);

    world.api.come_back().await.unwrap();
    // The watchers back off, reconnect from their last resourceVersion and catch up.
    routes_to(ctl.http, "late.test", "/", 200, "a").await;
    routes_to(ctl.http, "a.test", "/", 200, "a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_relists_and_catches_up() {
    let world = World::new().await;
    let a = backend("a").await;
    world.put(ingress_class("sluice", CONTROLLER));
    world.put(ingress("apps", "web", "sluice", "a.test", "web"));
    world.put(ingress("apps", "old", "sluice", "old.test", "web"));
    service_for(&world, "apps", "web", a.port);
    let ctl = controller(world.client(), source_config("sluice", CONTROLLER), None).await;
    routes_to(ctl.http, "old.test", "/", 200, "a").await;
    let lists_before = count_lists(&world);

    world.api.go_down().await;
    world.put(ingress("apps", "new", "sluice", "new.test", "web"));
    world.remove("networking.k8s.io/v1", "Ingress", "apps", "old");
    // Compaction: resuming from the controller's resourceVersion is now impossible.
    world.api.compact();
    world.api.come_back().await.unwrap();

    routes_to(ctl.http, "new.test", "/", 200, "a").await;
    routes_to(ctl.http, "old.test", "/", 404, "").await;
    routes_to(ctl.http, "a.test", "/", 200, "a").await;
    assert!(
        count_lists(&world) > lists_before,
        "410 made the watchers relist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_watches_resume_without_relisting() {
    let world = World::new().await;
    let a = backend("a").await;
    world.put(ingress_class("sluice", CONTROLLER));
    service_for(&world, "apps", "web", a.port);
    let ctl = controller(world.client(), source_config("sluice", CONTROLLER), None).await;
    eventually("ready", || async { ctl.handle.is_ready() }).await;
    eventually("watches open", || async { world.api.watch_count() >= 5 }).await;
    let lists_before = count_lists(&world);
    world.api.drop_watches();
    world.put(ingress("apps", "web", "sluice", "a.test", "web"));
    routes_to(ctl.http, "a.test", "/", 200, "a").await;
    assert_eq!(
        count_lists(&world),
        lists_before,
        "a clean watch end resumes from its resourceVersion"
    );
}

fn count_lists(world: &World) -> usize {
    world
        .api
        .requests()
        .iter()
        .filter(|r| r.verb == "list")
        .count()
}
