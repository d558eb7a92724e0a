//! Graceful shutdown: `/readyz` fails at once, requests are still served during the drain,
//! then new connections are refused while in-flight requests finish, idle keep-alive
//! connections are closed, and serving returns by the shutdown timeout at the latest.

use std::time::Duration;

use tokio::net::TcpStream;

use super::support::*;

async fn held_world() -> (Backend, World) {
    let slow = backend("slow").await;
    let mut world = World::new();
    world
        .service("slow", &[slow.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "slow")]);
    (slow, world)
}

async fn readyz(proxy: &Running) -> u16 {
    get(proxy.admin, "admin", "/readyz").await.status.as_u16()
}

#[tokio::test]
async fn in_flight_requests_finish_and_new_connections_are_refused() {
    let (slow, world) = held_world().await;
    let mut proxy = start_with(builder().drain(Duration::from_millis(200)), world.table()).await;
    // An idle keep-alive connection: graceful shutdown must close it, or serving would only
    // end at the shutdown timeout and report `graceful: false`.
    let idle = h1_client();
    let warm = request(&idle, proxy.http, "GET", "a.example.com", "/", empty()).await;
    assert_eq!(warm.status, 200);

    let addr = proxy.http;
    let in_flight = tokio::spawn(async move { get(addr, "a.example.com", "/hold").await });
    slow.hold.arrived().await;

    assert_eq!(readyz(&proxy).await, 200);
    proxy.trigger_shutdown();
    eventually(async || readyz(&proxy).await == 503).await;
    eventually(async || TcpStream::connect(addr).await.is_err()).await;

    slow.hold.release();
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.backend(), "slow");
    let report = proxy.finished().await;
    assert!(report.graceful);
    assert!(TcpStream::connect(proxy.admin).await.is_err());
}

#[tokio::test]
async fn requests_are_still_served_during_the_drain() {
    let (_slow, world) = held_world().await;
    let mut proxy = start_with(builder().drain(Duration::from_secs(3600)), world.table()).await;
    proxy.trigger_shutdown();
    eventually(async || readyz(&proxy).await == 503).await;
    assert!(!proxy.handle.is_ready());
    assert!(proxy.handle.is_draining());
    let reply = get(proxy.http, "a.example.com", "/").await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn serving_returns_at_the_shutdown_timeout_when_a_request_lingers() {
    let (slow, world) = held_world().await;
    let builder = builder().shutdown_timeout(Duration::from_millis(300));
    let mut proxy = start_with(builder, world.table()).await;
    let addr = proxy.http;
    let lingering = tokio::spawn(async move { get(addr, "a.example.com", "/hold").await });
    slow.hold.arrived().await;
    proxy.trigger_shutdown();
    let report = proxy.finished().await;
    assert!(!report.graceful);
    lingering.abort();
}
