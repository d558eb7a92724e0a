//! Canary Ingresses end to end: the header/cookie precedence table, weighted shares within
//! binomial bounds, and a canary without endpoints never serving.

use super::support::*;
use super::traffic_support::*;

const HOST: &str = "c.example.com";

async fn world_with_canary(canary: &[(&str, &str)]) -> (World, Backend, Backend) {
    let (main, can) = (backend("main").await, backend("canary").await);
    let mut world = World::new();
    world
        .service("main", &[main.addr])
        .service("canary", &[can.addr])
        .ingress("app", Some(HOST), &[("/", "main")])
        .ingress("app-canary", Some(HOST), &[("/", "canary")]);
    let mut annotations = vec![("canary", "true")];
    annotations.extend_from_slice(canary);
    annotate(&mut world, "app-canary", &annotations);
    (world, main, can)
}

#[tokio::test]
async fn header_beats_cookie_beats_weight() {
    let (world, _main, _canary) = world_with_canary(&[
        ("canary-by-header", "X-Canary"),
        ("canary-by-cookie", "canary"),
        ("canary-weight", "0"),
    ])
    .await;
    let proxy = start(world.table()).await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "main"),
        (&[("x-canary", "always")], "canary"),
        (&[("x-canary", "never")], "main"),
        (
            &[("x-canary", "never"), ("cookie", "canary=always")],
            "main",
        ),
        (
            &[("x-canary", "always"), ("cookie", "canary=never")],
            "canary",
        ),
        // Any other header value falls through to the cookie.
        (
            &[("x-canary", "yes"), ("cookie", "canary=always")],
            "canary",
        ),
        (&[("cookie", "a=b; canary=always")], "canary"),
        (&[("cookie", "canary=never")], "main"),
        (&[("cookie", "canary=other")], "main"),
    ];
    for (headers, expected) in cases {
        let reply = get_with(proxy.http, HOST, "/x", headers).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.backend(), *expected, "{headers:?}");
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn header_value_and_pattern() {
    let (world, _main, _canary) = world_with_canary(&[
        ("canary-by-header", "X-Version"),
        ("canary-by-header-value", "v2"),
        ("canary-weight", "100"),
    ])
    .await;
    let proxy = start(world.table()).await;
    // Weight 100: the canary unless the header decides otherwise — and with -value only the
    // exact value selects, anything else falls through (to the weight).
    for (value, expected) in [("v2", "canary"), ("never", "canary"), ("v1", "canary")] {
        let reply = get_with(proxy.http, HOST, "/", &[("x-version", value)]).await;
        assert_eq!(reply.backend(), expected, "{value}");
    }
    proxy.shutdown().await;

    let (world, _main, _canary) = world_with_canary(&[
        ("canary-by-header", "X-Version"),
        ("canary-by-header-pattern", "^v[2-9]$"),
    ])
    .await;
    let proxy = start(world.table()).await;
    for (value, expected) in [
        ("v2", "canary"),
        ("v9", "canary"),
        ("v1", "main"),
        ("v22", "main"),
    ] {
        let reply = get_with(proxy.http, HOST, "/", &[("x-version", value)]).await;
        assert_eq!(reply.backend(), expected, "{value}");
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn weights_split_traffic_within_binomial_bounds() {
    let (world, _main, _canary) =
        world_with_canary(&[("canary-weight", "30"), ("canary-weight-total", "200")]).await;
    let proxy = start(world.table()).await;
    let n = 600;
    let counts = tally(proxy.http, HOST, "/", &[], n).await;
    let canary = *counts.get("canary").unwrap_or(&0) as f64;
    // p = 30/200; five standard deviations of Binomial(n, p).
    let (n, p) = (n as f64, 30.0 / 200.0);
    let sigma = (n * p * (1.0 - p)).sqrt();
    assert!(
        (canary - n * p).abs() <= 5.0 * sigma,
        "canary got {canary} of {n}, expected {} ± {}",
        n * p,
        5.0 * sigma
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_canary_without_endpoints_never_serves() {
    let (mut world, _main, _canary) =
        world_with_canary(&[("canary-by-header", "X-Canary"), ("canary-weight", "100")]).await;
    world.service("canary", &[]);
    let proxy = start(world.table()).await;
    let counts = tally(proxy.http, HOST, "/", &[("x-canary", "always")], 5).await;
    assert_eq!(counts.get("main"), Some(&5));
    proxy.shutdown().await;
}
