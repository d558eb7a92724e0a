//! The admin listener: health, readiness, the live table as JSON, and the metrics hook.

use std::sync::Arc;

use super::support::*;

#[tokio::test]
async fn health_readiness_routes_and_metrics() {
    init();
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")]);
    let metrics = || "sluice_test_metric 1\n".to_owned();
    let proxy = builder().metrics(Arc::new(metrics)).build().unwrap();
    let handle = proxy.handle();
    let bound = proxy.bind().await.unwrap();
    let admin = bound.admin_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(bound.serve(async {
        let _ = stopped.await;
    }));

    let healthz = get(admin, "admin", "/healthz").await;
    assert_eq!(
        (healthz.status.as_u16(), healthz.text()),
        (200, "ok\n".into())
    );
    assert_eq!(get(admin, "admin", "/readyz").await.status, 503);

    handle.apply(world.table()).unwrap();
    assert_eq!(get(admin, "admin", "/readyz").await.status, 200);

    let routes = get(admin, "admin", "/debug/routes").await;
    assert_eq!(routes.headers["content-type"], "application/json");
    let json = routes.json();
    assert_eq!(json["routes"]["virtual_hosts"][0]["host"], "a.example.com");
    assert_eq!(
        json["endpoints"]["default-echo-80"][0],
        echo.addr.to_string()
    );

    let page = get(admin, "admin", "/metrics").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.text(), "sluice_test_metric 1\n");
    assert_eq!(get(admin, "admin", "/nothing").await.status, 404);

    stop.send(()).unwrap();
    assert!(serving.await.unwrap().graceful);
}
