//! Rate and connection limits end to end: the status codes (503, or the ConfigMap's), the
//! exemption list, per-client zones, concurrent slow requests, and sluice's aggregate limits.

use std::net::IpAddr;
use std::time::Instant;

use super::support::*;
use super::traffic_support::*;

const HOST: &str = "l.example.com";

async fn limited(annotations: &[(&str, &str)], config: &[(&str, &str)]) -> (Running, Backend) {
    let echo = backend("echo").await;
    let mut world = World::new();
    world.service("echo", &[echo.addr]).ingress(
        "app",
        Some(HOST),
        &[("/", "echo"), ("/other", "echo")],
    );
    annotate(&mut world, "app", annotations);
    if !config.is_empty() {
        configure(&mut world, config);
    }
    (start(world.table()).await, echo)
}

async fn statuses(proxy: &Running, from: IpAddr, path: &str, n: usize) -> Vec<u16> {
    let client = client_from(from);
    let mut out = Vec::new();
    for _ in 0..n {
        let reply = send(&client, proxy.http, "GET", HOST, path, &[], empty()).await;
        out.push(reply.status.as_u16());
    }
    out
}

const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 3));

#[tokio::test]
async fn requests_beyond_rate_plus_burst_get_503_per_client_and_zone() {
    // One per minute, burst 1 × 2: three pass at once, then nothing for 20 s.
    let (proxy, echo) = limited(&[("limit-rpm", "1"), ("limit-burst-multiplier", "2")], &[]).await;
    assert_eq!(statuses(&proxy, A, "/", 5).await, [200, 200, 200, 503, 503]);
    // The zone is the Ingress's: its other path shares it.
    assert_eq!(statuses(&proxy, A, "/other", 1).await, [503]);
    // Another client has its own bucket.
    assert_eq!(statuses(&proxy, B, "/", 4).await, [200, 200, 200, 503]);
    assert_eq!(echo.hits(), 6);
    // A rebuild that keeps the Ingress's settings keeps the zone.
    let mut table = proxy.handle.table().as_ref().clone();
    table.routes.settings.access_log.skip_urls.push("/x".into());
    proxy.handle.apply(table).unwrap();
    assert_eq!(statuses(&proxy, A, "/", 1).await, [503]);
    proxy.shutdown().await;
}

#[tokio::test]
async fn the_configmap_status_and_the_allowlist() {
    let (proxy, _echo) = limited(
        &[("limit-rpm", "1"), ("limit-burst-multiplier", "1")],
        &[("limit-req-status-code", "429")],
    )
    .await;
    assert_eq!(statuses(&proxy, A, "/", 3).await, [200, 200, 429]);
    proxy.shutdown().await;

    let (proxy, _echo) = limited(
        &[
            ("limit-rpm", "1"),
            ("limit-burst-multiplier", "1"),
            ("limit-whitelist", "127.0.0.2/32"),
        ],
        &[],
    )
    .await;
    assert_eq!(statuses(&proxy, A, "/", 5).await, [200; 5]);
    assert_eq!(statuses(&proxy, B, "/", 3).await, [200, 200, 503]);
    proxy.shutdown().await;
}

/// Starts a request to `/hold` from `from` and waits until the backend holds it.
async fn hold(proxy: &Running, echo: &Backend, from: IpAddr) -> tokio::task::JoinHandle<u16> {
    let client = client_from(from);
    let addr = proxy.http;
    let task = tokio::spawn(async move {
        send(&client, addr, "GET", HOST, "/hold", &[], empty())
            .await
            .status
            .as_u16()
    });
    echo.hold.arrived().await;
    task
}

#[tokio::test]
async fn concurrent_requests_beyond_limit_connections_are_refused() {
    let (proxy, echo) = limited(
        &[("limit-connections", "1")],
        &[("limit-conn-status-code", "429")],
    )
    .await;
    let held = hold(&proxy, &echo, A).await;
    assert_eq!(statuses(&proxy, A, "/", 2).await, [429, 429]);
    assert_eq!(
        statuses(&proxy, B, "/", 1).await,
        [200],
        "other clients are not limited"
    );
    echo.hold.release();
    assert_eq!(held.await.unwrap(), 200);
    // The slot is free once the held response has finished.
    eventually(async || statuses(&proxy, A, "/", 1).await == [200]).await;
    proxy.shutdown().await;
}

#[tokio::test]
async fn aggregate_limits_count_every_client_together() {
    // limit-rps-total 1 with burst 1 × 1: two requests pass at once across all clients, then
    // one per second.
    let (proxy, _echo) = limited(
        &[
            ("sluice.dev/limit-rps-total", "1"),
            ("limit-burst-multiplier", "1"),
        ],
        &[],
    )
    .await;
    let started = Instant::now();
    let mut passed = 0;
    for from in [A, B, A, B, A, B, A, B] {
        if statuses(&proxy, from, "/", 1).await == [200] {
            passed += 1;
        }
    }
    // Whatever time the requests took leaks at most one more per second.
    let leak = started.elapsed().as_secs() as usize;
    assert!(
        (2..=2 + leak).contains(&passed),
        "{passed} passed, {leak} s elapsed"
    );
    proxy.shutdown().await;

    let (proxy, echo) = limited(&[("sluice.dev/limit-connections-total", "1")], &[]).await;
    let held = hold(&proxy, &echo, A).await;
    assert_eq!(statuses(&proxy, B, "/", 1).await, [503]);
    echo.hold.release();
    assert_eq!(held.await.unwrap(), 200);
    eventually(async || statuses(&proxy, B, "/", 1).await == [200]).await;
    proxy.shutdown().await;
}

#[tokio::test]
async fn limit_rate_delivers_the_whole_body() {
    // 1 MiB/s after the first 64 KiB: a 256 KiB download is slowed, never cut.
    let (proxy, _echo) = limited(&[("limit-rate", "1024"), ("limit-rate-after", "64")], &[]).await;
    let reply = get(proxy.http, HOST, "/download?bytes=262144").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), 262_144);
    proxy.shutdown().await;
}

#[tokio::test]
async fn limits_and_auth_use_the_client_address_after_real_ip_processing() {
    // With use-forwarded-headers the client is X-Forwarded-For's address, not the TCP peer:
    // two clients behind one load balancer connection have a bucket each.
    let auth = recorder().await;
    let (proxy, _echo) = limited(
        &[
            ("limit-rpm", "1"),
            ("limit-burst-multiplier", "1"),
            ("auth-url", &format!("http://{}/ok", auth.addr)),
        ],
        &[("use-forwarded-headers", "true")],
    )
    .await;
    let client = client_from(A);
    for forwarded in ["203.0.113.1", "203.0.113.2"] {
        let mut out = Vec::new();
        for _ in 0..3 {
            let headers = [("x-forwarded-for", forwarded)];
            let reply = send(&client, proxy.http, "GET", HOST, "/", &headers, empty()).await;
            out.push(reply.status.as_u16());
        }
        assert_eq!(out, [200, 200, 503], "{forwarded}");
        let seen = auth.last();
        assert_eq!(seen.header("x-real-ip"), forwarded);
        assert_eq!(seen.header("x-forwarded-for"), forwarded);
    }
    proxy.shutdown().await;
}
