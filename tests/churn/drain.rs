//! SIGTERM with long-lived work in flight, beyond the plain requests of the gateway suite's
//! shutdown tests: a WebSocket session and a gRPC-style h2c stream (a long streaming response
//! with trailers) both keep working through the drain period and after the listeners close,
//! new connections are refused once the drain period is over, and the process exits cleanly
//! (graceful) as soon as that work is done.

use futures::{SinkExt, StreamExt};
use http_body_util::BodyExt;
use tokio::net::TcpStream;

use super::support::*;
use sluice_testkit::websocket::{self, Message};

/// Frames of the stream, and the pause between them: long enough to span the shutdown.
const FRAMES: usize = 40;
const EVERY_MS: u64 = 50;

/// `long.example.com/` → Service `long`, and `grpc.example.com/` → Service `grpc` (the same
/// backend) spoken to over h2c (`backend-protocol: GRPC`), as a gRPC service would be.
fn routes() -> String {
    let grpc = ingress("grpc", Some("grpc.example.com"), &[("/", "grpc")]).replacen(
        "metadata:\n",
        "metadata:\n  annotations:\n    nginx.ingress.kubernetes.io/backend-protocol: GRPC\n",
        1,
    );
    documents(&[
        &ingress("long", Some("long.example.com"), &[("/", "long")]),
        &grpc,
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_and_h2c_stream_survive_the_drain_and_new_connections_are_refused() {
    let long = Killable::start("long").await;
    let gw = gateway()
        .file(
            "services.yaml",
            documents(&[
                &service("long", 80, None, &[long.addr]),
                &service("grpc", 80, None, &[long.addr]),
            ]),
        )
        .file("routes.yaml", routes())
        .grace(1)
        .shutdown_timeout(20)
        .start()
        .await;
    gw.wait_applied(1).await;

    let mut socket = websocket::connect(gw.http, "long.example.com", "/ws").await;
    let reply = websocket::round_trip(&mut socket, Message::text("before")).await;
    assert_eq!(reply, Message::text("before"));

    let mut sender = h2c(gw.http).await;
    let request = http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://grpc.example.com/stream?frames={FRAMES}&every_ms={EVERY_MS}"
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(empty())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut received = String::new();
    let first = body.frame().await.unwrap().unwrap();
    received.push_str(&String::from_utf8_lossy(first.data_ref().unwrap()));

    gw.terminate();
    gw.wait_for("the shutdown signal", 0, |l| {
        message(l) == "shutdown signal received"
    })
    .await;
    // During the drain period the WebSocket still carries messages.
    let reply = websocket::round_trip(&mut socket, Message::text("draining")).await;
    assert_eq!(reply, Message::text("draining"));
    // After it, new connections are refused...
    eventually(async || TcpStream::connect(gw.http).await.is_err()).await;
    // ...while the WebSocket session and the stream go on.
    let reply = websocket::round_trip(&mut socket, Message::text("after")).await;
    assert_eq!(reply, Message::text("after"));
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.expect("the stream broke during the shutdown");
        match frame.into_data() {
            Ok(data) => received.push_str(&String::from_utf8_lossy(&data)),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    assert_eq!(received.lines().count(), FRAMES, "{received}");
    assert_eq!(
        received.lines().last(),
        Some(format!("frame {}", FRAMES - 1).as_str())
    );
    let trailers = trailers.expect("the stream's trailers");
    assert_eq!(trailers["grpc-status"], "0");
    // The WebSocket still answers after the stream ended and its connection went away: the
    // process waits for the session. (The pause gives a process that forgot the session time
    // to exit; it is not a measurement.)
    drop(sender);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let reply = websocket::round_trip(&mut socket, Message::text("last")).await;
    assert_eq!(reply, Message::text("last"));
    assert!(
        gw.log().iter().all(|l| message(l) != "stopped"),
        "the gateway stopped with a WebSocket session open"
    );
    socket.send(Message::Close(None)).await.unwrap();
    while let Some(Ok(message)) = socket.next().await {
        if message.is_close() {
            break;
        }
    }
    drop(socket);
    let status = gw.wait_exit().await;
    assert!(status.success(), "{status}");
    let stopped = gw
        .wait_for("the stopped line", 0, |l| message(l) == "stopped")
        .await;
    assert_eq!(stopped["graceful"], true);
}
