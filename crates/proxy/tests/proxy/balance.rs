//! Endpoint selection end to end: cookie affinity (pinning across requests and endpoint-only
//! updates, balanced vs persistent on scale-up), consistent hashing (stable keys, minimal
//! remapping when an endpoint leaves), and peak-EWMA steering away from a slow endpoint.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use sluice_proxy::Change;
use tokio::net::TcpListener;

use super::support::*;
use super::traffic_support::*;

const HOST: &str = "b.example.com";

async fn backends(n: usize) -> Vec<Backend> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(backend(&format!("b{i}")).await);
    }
    out
}

fn addrs(backends: &[Backend]) -> Vec<SocketAddr> {
    backends.iter().map(|b| b.addr).collect()
}

fn world(endpoints: &[SocketAddr], annotations: &[(&str, &str)]) -> World {
    let mut world = World::new();
    world
        .service("app", endpoints)
        .ingress("app", Some(HOST), &[("/", "app")]);
    annotate(&mut world, "app", annotations);
    world
}

/// The `name=value` part of a `Set-Cookie`.
fn cookie_pair(reply: &Reply) -> String {
    let header = reply.headers["set-cookie"].to_str().unwrap();
    header.split(';').next().unwrap().to_owned()
}

/// Gets a fresh cookie (first request) and the backend it pinned.
async fn pin(addr: SocketAddr) -> (String, String) {
    let reply = get(addr, HOST, "/").await;
    assert_eq!(reply.status, 200);
    (cookie_pair(&reply), reply.backend())
}

async fn with_cookie(addr: SocketAddr, cookie: &str) -> Reply {
    get_with(addr, HOST, "/", &[("cookie", cookie)]).await
}

#[tokio::test]
async fn the_affinity_cookie_pins_a_client_across_requests_and_endpoint_updates() {
    let bs = backends(4).await;
    let all = addrs(&bs);
    let mut w = world(
        &all[..3],
        &[
            ("affinity", "cookie"),
            ("affinity-mode", "persistent"),
            ("session-cookie-name", "route"),
            ("session-cookie-max-age", "3600"),
        ],
    );
    let proxy = start(w.table()).await;
    let first = get(proxy.http, HOST, "/").await;
    let set_cookie = first.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("route="), "{set_cookie}");
    assert!(
        set_cookie.contains("; Max-Age=3600; Path=/; HttpOnly"),
        "{set_cookie}"
    );
    let value = cookie_pair(&first);
    let (_, pinned_value) = value.split_once('=').unwrap();
    let (_, backend_key) = pinned_value.split_once('|').unwrap();
    assert_eq!(backend_key.len(), 32, "md5 of the upstream name");
    let pinned = first.backend();
    for _ in 0..10 {
        let reply = with_cookie(proxy.http, &value).await;
        assert_eq!(reply.backend(), pinned);
        assert!(
            !reply.headers.contains_key("set-cookie"),
            "a pinned client keeps its cookie"
        );
    }
    // Endpoint-only updates: another endpoint leaves, a new one joins (persistent mode; in
    // balanced mode a joining endpoint may take the session, see the scale-up test).
    let other = all[..3]
        .iter()
        .find(|a| bs.iter().find(|b| b.addr == **a).unwrap().name != pinned);
    let mut next: Vec<SocketAddr> = all[..3]
        .iter()
        .filter(|a| Some(*a) != other)
        .copied()
        .collect();
    next.push(all[3]);
    w.service("app", &next);
    assert_eq!(
        proxy.handle.apply(w.table()).unwrap().change,
        Change::Endpoints { upstreams: 1 }
    );
    for _ in 0..5 {
        assert_eq!(with_cookie(proxy.http, &value).await.backend(), pinned);
    }
    // The pinned endpoint itself leaves: a new one is picked and a new cookie issued.
    let pinned_addr = bs.iter().find(|b| b.name == pinned).unwrap().addr;
    let rest: Vec<SocketAddr> = next.into_iter().filter(|a| *a != pinned_addr).collect();
    w.service("app", &rest);
    proxy.handle.apply(w.table()).unwrap();
    let moved = with_cookie(proxy.http, &value).await;
    assert_ne!(moved.backend(), pinned);
    proxy.shutdown().await;
}

/// Pins `clients` clients on 2 endpoints, scales to 4, and counts the clients that moved.
async fn moved_on_scale_up(mode: &str, clients: usize) -> usize {
    let bs = backends(4).await;
    let all = addrs(&bs);
    let mut w = world(
        &all[..2],
        &[("affinity", "cookie"), ("affinity-mode", mode)],
    );
    let proxy = start(w.table()).await;
    let mut pins = Vec::new();
    for _ in 0..clients {
        pins.push(pin(proxy.http).await);
    }
    w.service("app", &all);
    proxy.handle.apply(w.table()).unwrap();
    let mut moved = 0;
    for (cookie, backend) in &pins {
        if with_cookie(proxy.http, cookie).await.backend() != *backend {
            moved += 1;
        }
    }
    proxy.shutdown().await;
    moved
}

#[tokio::test]
async fn balanced_sessions_rebalance_on_scale_up_persistent_ones_never_move() {
    let clients = 40;
    assert_eq!(moved_on_scale_up("persistent", clients).await, 0);
    // Balanced: each session moves with probability about 1/2 (two of four endpoints are
    // new); none or all moving has probability 2^-40.
    let moved = moved_on_scale_up("balanced", clients).await;
    assert!(moved > 0 && moved < clients, "{moved} of {clients} moved");
}

#[tokio::test]
async fn consistent_hashing_keeps_keys_and_moves_few_when_an_endpoint_leaves() {
    let bs = backends(5).await;
    let all = addrs(&bs);
    let mut w = world(&all, &[("upstream-hash-by", "$request_uri")]);
    let proxy = start(w.table()).await;
    let client = h1_client();
    let mut owner = BTreeMap::new();
    for k in 0..100 {
        let path = format!("/item/{k}");
        let first = send(&client, proxy.http, "GET", HOST, &path, &[], empty())
            .await
            .backend();
        let again = send(&client, proxy.http, "GET", HOST, &path, &[], empty())
            .await
            .backend();
        assert_eq!(first, again, "{path}");
        owner.insert(path, first);
    }
    let used: std::collections::BTreeSet<&String> = owner.values().collect();
    assert!(used.len() >= 4, "keys spread over the endpoints: {used:?}");
    // b2 leaves (endpoint-only update): only its keys move.
    w.service("app", &[all[0], all[1], all[3], all[4]]);
    proxy.handle.apply(w.table()).unwrap();
    for (path, before) in &owner {
        let after = send(&client, proxy.http, "GET", HOST, path, &[], empty())
            .await
            .backend();
        if before != "b2" {
            assert_eq!(&after, before, "{path} moved although its endpoint stayed");
        } else {
            assert_ne!(after, "b2");
        }
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn hashing_on_a_header_with_subsets() {
    let bs = backends(6).await;
    let w = world(
        &addrs(&bs),
        &[
            ("upstream-hash-by", "$http_x_user"),
            ("upstream-hash-by-subset", "true"),
            ("upstream-hash-by-subset-size", "3"),
        ],
    );
    let proxy = start(w.table()).await;
    // One user lands in one subset of three endpoints.
    let counts = tally(proxy.http, HOST, "/", &[("x-user", "alice")], 60).await;
    assert!(counts.len() <= 3 && counts.len() >= 2, "{counts:?}");
    proxy.shutdown().await;
}

/// A backend answering like the echo backend's JSON (name only) after `delay`.
async fn delayed_backend(name: &'static str, delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| async move {
                    tokio::time::sleep(delay).await;
                    let body = format!("{{\"backend\":\"{name}\"}}");
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body)).boxed()))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn ewma_sends_less_traffic_to_a_slow_endpoint() {
    let fast = delayed_backend("fast", Duration::ZERO).await;
    let slow = delayed_backend("slow", Duration::from_millis(200)).await;
    let w = world(&[fast, slow], &[("load-balance", "ewma")]);
    let proxy = start(w.table()).await;
    let counts = tally(proxy.http, HOST, "/", &[], 40).await;
    let slow_hits = counts.get("slow").copied().unwrap_or(0);
    // With two endpoints both are compared every time: after one sample each, the slow one
    // (200 ms against well under that) is only chosen again once its average has decayed,
    // which takes seconds. Round robin would send it 20; a loaded machine slows the fast one
    // now and then, so a few visits are allowed.
    assert!(slow_hits <= 8, "{counts:?}");
    proxy.shutdown().await;
}
