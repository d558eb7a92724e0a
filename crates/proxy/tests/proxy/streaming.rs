//! Bodies stream through without being held whole: a 64 MiB upload and a 32 MiB download,
//! produced and counted on the fly.

use http_body::Body as _;
use http_body_util::BodyExt;

use super::support::*;

const UPLOAD: usize = 64 * 1024 * 1024;
const DOWNLOAD: usize = 32 * 1024 * 1024;

async fn proxy_to_echo() -> (Backend, Running) {
    let echo = backend("bulk").await;
    let mut world = World::new();
    world
        .service("bulk", &[echo.addr])
        .ingress("ing", Some("bulk.example.com"), &[("/", "bulk")])
        .annotate("ing", "proxy-body-size", "0")
        .annotate("ing", "proxy-request-buffering", "off");
    (echo, start(world.table()).await)
}

#[tokio::test]
async fn large_upload_reaches_the_backend_complete() {
    let (_echo, proxy) = proxy_to_echo().await;
    let body = Generated::new(UPLOAD).boxed();
    let reply = request(
        &h1_client(),
        proxy.http,
        "POST",
        "bulk.example.com",
        "/upload",
        body,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["body_len"], UPLOAD as u64);
    proxy.shutdown().await;
}

#[tokio::test]
async fn large_download_reaches_the_client_complete() {
    let (_echo, proxy) = proxy_to_echo().await;
    let req = http::Request::builder()
        .uri(format!("http://{}/download?bytes={DOWNLOAD}", proxy.http))
        .header("host", "bulk.example.com")
        .body(empty())
        .unwrap();
    let response = h1_client().request(req).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut received = 0usize;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            received += data.len();
        }
    }
    assert!(body.is_end_stream());
    assert_eq!(received, DOWNLOAD);
    proxy.shutdown().await;
}
