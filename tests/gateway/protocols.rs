//! Protocols through the binary: h2 over TLS by ALPN, h2c with prior knowledge on the plain
//! port (many streams on one connection, and gRPC with trailers), a WebSocket echo, and a
//! 100 MB upload and a large download streamed through (the bodies are made and counted on the
//! fly; the gateway's memory for them is measured by `benches/gateway.rs`, not here).

use futures::future::join_all;
use http::Version;
use http_body_util::BodyExt;
use sluice_testkit::websocket::{self, Message};

use super::support::*;

/// A gateway with one Service `echo` for `host`, and the Ingress annotated with `annotations`.
async fn echo_gateway(host: &str, annotations: &str) -> (Backend, Gateway) {
    let echo = backend("echo").await;
    let ingress = format!(
        "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: echo
  annotations: {{{annotations}}}
spec:
  ingressClassName: sluice
  rules:
  - host: {host}
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: echo
            port:
              number: 80
"
    );
    let gw = gateway()
        .file("services.yaml", service("echo", 80, None, &[echo.addr]))
        .file("ingress.yaml", ingress)
        .start()
        .await;
    (echo, gw)
}

#[tokio::test]
async fn h2_over_tls_is_negotiated_by_alpn() {
    let (_echo, gw) = echo_gateway("secure.example.com", "").await;
    let got = tls_get(
        gw.https,
        "secure.example.com",
        &[b"h2", b"http/1.1"],
        "/h2?x=1",
    )
    .await;
    assert_eq!(got.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(got.reply.version, Version::HTTP_2);
    assert_eq!(got.reply.status, 200);
    let json = got.reply.json();
    assert_eq!(json["path"], "/h2?x=1");
    assert_eq!(json["host"], "secure.example.com");
    // The upstream leg is HTTP/1.1.
    assert_eq!(json["version"], "HTTP/1.1");
    let h1 = tls_get(gw.https, "secure.example.com", &[b"http/1.1"], "/h1").await;
    assert_eq!(h1.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(h1.reply.version, Version::HTTP_11);
    assert_eq!(h1.reply.json()["path"], "/h1");
}

#[tokio::test]
async fn h2c_prior_knowledge_multiplexes_streams_on_one_connection() {
    let (echo, gw) = echo_gateway("h2c.example.com", "").await;
    let sender = h2c(gw.http).await;
    let requests = (0..32).map(|i| {
        let mut sender = sender.clone();
        async move {
            let path = format!("/stream/{i}");
            let reply = h2_request(
                &mut sender,
                "POST",
                "h2c.example.com",
                &path,
                full(vec![b'z'; i]),
            )
            .await;
            (path, i, reply)
        }
    });
    for (path, len, reply) in join_all(requests).await {
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.version, Version::HTTP_2);
        let json = reply.json();
        assert_eq!(json["path"], path);
        assert_eq!(json["body_len"], len);
        assert_eq!(json["host"], "h2c.example.com");
    }
    assert_eq!(echo.hits(), 32);
    // A host the gateway does not know is a 404 on the same connection.
    let mut sender = sender.clone();
    let missing = h2_request(&mut sender, "GET", "other.example.com", "/", empty()).await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn grpc_over_h2c_keeps_trailers() {
    let (_echo, gw) = echo_gateway(
        "grpc.example.com",
        "nginx.ingress.kubernetes.io/backend-protocol: GRPC",
    )
    .await;
    let mut sender = h2c(gw.http).await;
    let req = http::Request::builder()
        .method("POST")
        .uri("http://grpc.example.com/echo.Echo/Say")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(full(&b"\0\0\0\0\x05hello"[..]))
        .unwrap();
    let reply = read(sender.send_request(req).await.unwrap()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.headers["content-type"], "application/grpc");
    let trailers = reply.trailers.clone().expect("trailers");
    assert_eq!(trailers["grpc-status"], "0");
    let json = reply.json();
    assert_eq!(
        json["version"], "HTTP/2.0",
        "gRPC upstreams are spoken to in h2c"
    );
    assert_eq!(json["path"], "/echo.Echo/Say");
    assert_eq!(json["body_len"], 10);
}

#[tokio::test]
async fn websocket_messages_echo_through_the_gateway() {
    let (_echo, gw) = echo_gateway("ws.example.com", "").await;
    let mut socket = websocket::connect(gw.http, "ws.example.com", "/ws/chat").await;
    for text in ["hello", "a second, longer message", "ünïcødé"] {
        let reply = websocket::round_trip(&mut socket, Message::text(text)).await;
        assert_eq!(reply, Message::text(text));
    }
    let binary = vec![0u8, 1, 2, 255, 10, 13];
    let reply = websocket::round_trip(&mut socket, Message::binary(binary.clone())).await;
    assert_eq!(reply, Message::binary(binary));
    let big = "x".repeat(256 * 1024);
    let reply = websocket::round_trip(&mut socket, Message::text(big.clone())).await;
    assert_eq!(reply, Message::text(big));
    socket.close(None).await.unwrap();
}

const UPLOAD: usize = 100 * 1024 * 1024;
const DOWNLOAD: usize = 32 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabyte_upload_and_large_download_stream_through() {
    let (_echo, gw) = echo_gateway(
        "bulk.example.com",
        "nginx.ingress.kubernetes.io/proxy-body-size: \"0\"",
    )
    .await;
    let reply = request(
        &h1_client(),
        gw.http,
        "POST",
        "bulk.example.com",
        "/upload",
        Generated::new(UPLOAD).boxed(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["body_len"], UPLOAD as u64);

    let req = http::Request::builder()
        .uri(format!("http://{}/download?bytes={DOWNLOAD}", gw.http))
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
    assert_eq!(received, DOWNLOAD);
}
