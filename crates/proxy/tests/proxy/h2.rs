//! h2c with prior knowledge on the plain port, and a gRPC-style exchange with trailers over it.

use bytes::Bytes;
use http::{Request, Version};

use super::support::*;

#[tokio::test]
async fn h2c_prior_knowledge_reaches_an_http1_backend() {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")]);
    let proxy = start(world.table()).await;
    let mut sender = h2c(proxy.http).await;
    for path in ["/one", "/two"] {
        let req = Request::builder()
            .uri(format!("http://a.example.com{path}"))
            .body(full(Bytes::from_static(b"hello")))
            .unwrap();
        let reply = read(sender.send_request(req).await.unwrap()).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.headers["server"], "sluice");
        let json = reply.json();
        assert_eq!(json["path"], path);
        assert_eq!(json["version"], "HTTP/1.1");
        assert_eq!(json["body_len"], 5);
        assert_eq!(reply.seen_one("host"), "a.example.com");
        assert_eq!(reply.seen_one("x-forwarded-proto"), "http");
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn grpc_over_h2c_passes_trailers_both_ways() {
    let grpc = backend("grpc").await;
    let mut world = World::new();
    world
        .service("grpc", &[grpc.addr])
        .ingress("ing", Some("grpc.example.com"), &[("/", "grpc")]);
    super::traffic_support::annotate(&mut world, "ing", &[("backend-protocol", "GRPC")]);
    let proxy = start(world.table()).await;
    let mut sender = h2c(proxy.http).await;
    let req = Request::builder()
        .method("POST")
        .uri("http://grpc.example.com/echo.Echo/Say")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(full(Bytes::from_static(b"\0\0\0\0\x05hello")))
        .unwrap();
    let reply = read(sender.send_request(req).await.unwrap()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/grpc");
    let trailers = reply.trailers.clone().expect("trailers");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["grpc-message"], "ok");
    let json = reply.json();
    assert_eq!(json["version"], format!("{:?}", Version::HTTP_2));
    assert_eq!(json["method"], "POST");
    assert_eq!(json["path"], "/echo.Echo/Say");
    assert_eq!(json["body_len"], 10);
    assert_eq!(reply.seen_one("te"), "trailers");
    assert_eq!(reply.seen_one("content-type"), "application/grpc");
    proxy.shutdown().await;
}
