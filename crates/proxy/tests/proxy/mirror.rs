//! Mirroring end to end: the mirror receives copies (with the body and its own Host), and a
//! dead or stalled mirror never fails or holds up the original requests.

use sluice_proxy::Handle;

use super::support::*;
use super::traffic_support::*;

const HOST: &str = "m.example.com";

async fn mirrored(target: &str, annotations: &[(&str, &str)]) -> (Running, Backend) {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("app", Some(HOST), &[("/", "echo")]);
    let mut all = vec![("mirror-target", target)];
    all.extend_from_slice(annotations);
    annotate(&mut world, "app", &all);
    (start(world.table()).await, echo)
}

async fn post_many(proxy: &Running, n: usize, body_len: usize) {
    let client = h1_client();
    for i in 0..n {
        let reply = send(
            &client,
            proxy.http,
            "POST",
            HOST,
            &format!("/orders/{i}?x=1"),
            &[],
            full(vec![b'x'; body_len]),
        )
        .await;
        assert_eq!(reply.status, 200, "original request {i}");
        assert_eq!(reply.json()["body_len"], body_len);
    }
}

async fn settled(handle: &Handle, n: u64) -> sluice_proxy::MirrorStats {
    eventually(async || {
        let s = handle.mirror_stats();
        s.completed + s.failed + s.dropped >= n
    })
    .await;
    handle.mirror_stats()
}

#[tokio::test]
async fn the_mirror_receives_a_copy_of_each_request() {
    let mirror = recorder().await;
    let target = format!("http://{}/copy$request_uri", mirror.addr);
    let (proxy, echo) = mirrored(&target, &[("mirror-host", "shadow.internal")]).await;
    post_many(&proxy, 5, 1000).await;
    let stats = settled(&proxy.handle, 5).await;
    assert_eq!((stats.started, stats.completed, stats.failed), (5, 5, 0));
    assert_eq!(echo.hits(), 5);
    let seen = mirror.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    for (i, copy) in seen.iter().enumerate() {
        assert_eq!(copy.method, "POST");
        assert_eq!(copy.path, format!("/copy/orders/{i}?x=1"));
        assert_eq!(copy.header("host"), "shadow.internal");
        assert_eq!(copy.body_len, 1000);
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn mirrors_over_https() {
    let mirror = tls_recorder().await;
    let target = format!("https://localhost:{}$request_uri", mirror.addr.port());
    let (proxy, _echo) = mirrored(&target, &[]).await;
    post_many(&proxy, 3, 2000).await;
    let stats = settled(&proxy.handle, 3).await;
    assert_eq!((stats.completed, stats.failed), (3, 0));
    assert_eq!(mirror.last().body_len, 2000);
    proxy.shutdown().await;
}

#[tokio::test]
async fn without_the_body_the_copy_is_bodiless() {
    let mirror = recorder().await;
    let target = format!("http://{}$request_uri", mirror.addr);
    let (proxy, _echo) = mirrored(&target, &[("mirror-request-body", "off")]).await;
    post_many(&proxy, 2, 500).await;
    settled(&proxy.handle, 2).await;
    let copy = mirror.last();
    assert_eq!(copy.body_len, 0);
    assert!(!copy.headers.contains_key("content-length"));
    assert_eq!(copy.header("host"), mirror.addr.to_string());
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_dead_mirror_never_fails_the_original() {
    let dead = refused_addr().await;
    let (proxy, echo) = mirrored(&format!("http://{dead}$request_uri"), &[]).await;
    post_many(&proxy, 5, 100).await;
    let stats = settled(&proxy.handle, 5).await;
    assert_eq!((stats.completed, stats.failed), (0, 5));
    assert_eq!(echo.hits(), 5);
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_stalled_mirror_never_holds_up_the_original() {
    // The mirror accepts the copies but never reads them nor answers; the originals carry 3 MiB
    // bodies, more than a copy may queue, so their copies are cut off while they complete.
    // (`proxy-body-size` lifts nginx's 1m default so the originals are accepted.)
    let mirror = recorder().await;
    let target = format!("http://{}/hang", mirror.addr);
    let (proxy, echo) = mirrored(&target, &[("proxy-body-size", "8m")]).await;
    post_many(&proxy, 4, 3 << 20).await;
    assert_eq!(echo.hits(), 4);
    eventually(async || mirror.count() == 4).await;
    let stats = proxy.handle.mirror_stats();
    assert_eq!(stats.started, 4);
    assert_eq!(stats.completed, 0);
    // Requests without a body are not held up by copies stuck in flight either.
    for _ in 0..3 {
        assert_eq!(get(proxy.http, HOST, "/").await.status, 200);
    }
    proxy.shutdown().await;
}
