//! Two controllers with different classes ignore each other's Ingresses.

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controllers_two_classes() {
    let world = World::new().await;
    let (a, b) = (backend("a").await, backend("b").await);
    world.put(ingress_class("alpha", "example.com/alpha"));
    world.put(ingress_class("beta", "example.com/beta"));
    service_for(&world, "apps", "svc-a", a.port);
    service_for(&world, "apps", "svc-b", b.port);
    world.put(ingress("apps", "one", "alpha", "one.test", "svc-a"));
    world.put(ingress("apps", "two", "beta", "two.test", "svc-b"));
    let alpha = controller(
        world.client(),
        source_config("alpha", "example.com/alpha"),
        None,
    )
    .await;
    let beta = controller(
        world.client(),
        source_config("beta", "example.com/beta"),
        None,
    )
    .await;

    routes_to(alpha.http, "one.test", "/", 200, "a").await;
    routes_to(beta.http, "two.test", "/", 200, "b").await;
    assert_eq!(get(alpha.http, "two.test", "/").await.0, 404);
    assert_eq!(get(beta.http, "one.test", "/").await.0, 404);

    // Moving an Ingress to the other class moves it between controllers.
    world.put(ingress("apps", "two", "alpha", "two.test", "svc-b"));
    routes_to(alpha.http, "two.test", "/", 200, "b").await;
    routes_to(beta.http, "two.test", "/", 404, "").await;

    // Each served set names only its own Ingresses.
    let served = alpha.served.borrow().clone();
    assert!(served.keys().all(|k| k.name == "one" || k.name == "two"));
    let beta_served = beta.served.borrow().clone();
    assert!(beta_served.is_empty(), "{beta_served:?}");
}
