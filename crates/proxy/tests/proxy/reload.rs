//! `Handle::apply` under a concurrent client loop: endpoint-only changes swap endpoint sets
//! without a rebuild, structural changes rebuild, equal tables do nothing, a table the proxy
//! rejects keeps the old one serving, and no request fails along the way.

use sluice_ingress_model::template::Template;
use sluice_ingress_model::{Action, Redirect};
use sluice_proxy::{Change, ProxyError};

use super::support::*;

const WORKERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_updates_under_load_drop_no_request() {
    let (b1, b2, b3) = (
        backend("b1").await,
        backend("b2").await,
        backend("b3").await,
    );
    let mut world = World::new();
    world
        .service("app", &[b1.addr])
        .service("other", &[b3.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "app")]);
    let proxy = start(world.table()).await;
    let handle = proxy.handle.clone();
    let (rebuilds, updates) = (handle.rebuilds(), handle.endpoint_updates());
    let load = Load::start(proxy.http, WORKERS, &[("a.example.com", "/")], |reply| {
        reply.status == 200
    });
    load.settle(3).await;

    // Endpoints only: a second endpoint joins. No rebuild.
    world.service("app", &[b1.addr, b2.addr]);
    let outcome = handle.apply(world.table()).unwrap();
    assert_eq!(outcome.change, Change::Endpoints { upstreams: 1 });
    assert_eq!(handle.rebuilds(), rebuilds);
    assert_eq!(handle.endpoint_updates(), updates + 1);
    load.settle(3).await;
    assert!(b2.hits() > 0);

    // Endpoints only: the first endpoint leaves; it gets nothing new once in-flight requests
    // are done.
    world.service("app", &[b2.addr]);
    let outcome = handle.apply(world.table()).unwrap();
    assert_eq!(outcome.change, Change::Endpoints { upstreams: 1 });
    load.settle(1).await;
    let b1_hits = b1.hits();
    let b2_hits = b2.hits();
    load.settle(3).await;
    assert_eq!(b1.hits(), b1_hits);
    assert!(b2.hits() > b2_hits);
    assert_eq!(handle.rebuilds(), rebuilds);
    assert_eq!(handle.endpoint_updates(), updates + 2);

    // Structural: a new path. One rebuild; the live endpoint sets carry over.
    world.ingress(
        "ing",
        Some("a.example.com"),
        &[("/", "app"), ("/other", "other")],
    );
    let good = world.table();
    let outcome = handle.apply(good.clone()).unwrap();
    assert_eq!(outcome.change, Change::Rebuild);
    assert_eq!(handle.rebuilds(), rebuilds + 1);
    assert_eq!(handle.endpoint_updates(), updates + 2);
    assert_eq!(
        get(proxy.http, "a.example.com", "/other").await.backend(),
        "b3"
    );
    load.settle(2).await;

    // The same table again: nothing to do.
    let outcome = handle.apply(good.clone()).unwrap();
    assert_eq!(outcome.change, Change::Unchanged);
    assert_eq!(handle.rebuilds(), rebuilds + 1);

    // A table the proxy cannot serve: rejected, the previous one keeps serving.
    let mut bad = good.clone();
    routes_of(&mut bad, "a.example.com")[0].action = Action::Redirect(Redirect {
        location: "https://x.example.com/".into(),
        template: Template::literal("https://x.example.com/"),
        status: 1000,
    });
    let error = handle.apply(bad).unwrap_err();
    assert!(matches!(error, ProxyError::InvalidTable { .. }), "{error}");
    assert_eq!(*handle.table(), good);
    assert_eq!(handle.rebuilds(), rebuilds + 1);
    assert_eq!(
        get(proxy.http, "a.example.com", "/other").await.backend(),
        "b3"
    );
    load.settle(2).await;

    let failures = load.finish().await.failures;
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert_eq!(get(proxy.http, "a.example.com", "/").await.backend(), "b2");
    proxy.shutdown().await;
}

#[tokio::test]
async fn first_apply_makes_the_proxy_ready() {
    init();
    let proxy = sluice_proxy::Proxy::builder().build().unwrap();
    let handle = proxy.handle();
    assert!(!handle.is_ready());
    let outcome = handle.apply(Default::default()).unwrap();
    assert_eq!(outcome.change, Change::Unchanged);
    assert!(handle.is_ready());
}
