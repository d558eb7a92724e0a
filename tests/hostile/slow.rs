//! Slow clients: a connection that sends nothing, and a head dribbled one header line at a
//! time, are cut off by `client-header-timeout` (a total for the head, so dribbling does not
//! extend it; the connection is closed without an answer, as nginx does), and a body that stops
//! arriving gets 408 after `client-body-timeout` (an idle time between reads). None reaches the
//! backend.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::support::*;

const CONFIG: &[(&str, &str)] = &[
    ("client-header-timeout", "500ms"),
    ("client-body-timeout", "500ms"),
];

#[tokio::test]
async fn dribbled_headers_are_cut_off_by_client_header_timeout() {
    let (recorder, gw) = catch_all(CONFIG).await;
    let mut stream = TcpStream::connect(gw.http).await.unwrap();
    stream
        .write_all(format!("GET /slow-head HTTP/1.1\r\nHost: {HOST}\r\n").as_bytes())
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // One header line every 100 ms, for as long as the gateway listens (at most PATIENCE).
    let drip = tokio::spawn(async move {
        for i in 0..(PATIENCE.as_millis() / 100) {
            if writer
                .write_all(format!("X-Drip-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, async {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    assert!(
        closed,
        "the dribbled connection stayed open for {PATIENCE:?}"
    );
    drip.abort();
    // Closed without an answer, as nginx closes a connection whose head timed out.
    assert!(
        answer.is_empty(),
        "answered {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(recorder.seen().is_empty(), "{:?}", recorder.targets());
    still_serving(&gw, &recorder).await;
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_client_header_timeout() {
    let (recorder, gw) = catch_all(CONFIG).await;
    let mut stream = TcpStream::connect(gw.http).await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(PATIENCE, async {
        use tokio::io::AsyncReadExt;
        stream.read(&mut buf).await
    })
    .await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "the silent connection was not closed within {PATIENCE:?}: {read:?}"
    );
    still_serving(&gw, &recorder).await;
}

#[tokio::test]
async fn a_stalled_body_gets_408_after_client_body_timeout() {
    let (recorder, gw) = catch_all(CONFIG).await;
    let mut stream = TcpStream::connect(gw.http).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /slow-body HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 100\r\n\r\n0123456789"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // The rest of the body never comes; the socket stays open on this side.
    let raw = read_to_close(&mut stream).await;
    assert_eq!(statuses(&raw), [408], "{}", String::from_utf8_lossy(&raw));
    assert!(recorder.seen().is_empty(), "{:?}", recorder.targets());
    still_serving(&gw, &recorder).await;
}

#[tokio::test]
async fn a_stalled_streamed_body_is_cut_off_after_client_body_timeout() {
    // With request buffering off the request is already upstream when the body stalls: the
    // upstream sees the body end in an error, never a complete request.
    let recorder = recorder().await;
    let ingress = ingress("streamed", None, &[("/", "recorder")]).replace(
        "namespace: default\n",
        "namespace: default\n  annotations:\n    \
         nginx.ingress.kubernetes.io/proxy-request-buffering: \"off\"\n",
    );
    let gw = start(
        CONFIG,
        &[
            (
                "services.yaml",
                service("recorder", 80, None, &[recorder.addr]),
            ),
            ("ingress.yaml", ingress),
        ],
    )
    .await;
    let mut stream = TcpStream::connect(gw.http).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /slow-stream HTTP/1.1\r\nHost: {HOST}\r\nContent-Length: 100\r\n\r\n0123456789"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let raw = read_to_close(&mut stream).await;
    assert_eq!(statuses(&raw), [408], "{}", String::from_utf8_lossy(&raw));
    eventually(async || !recorder.seen().is_empty()).await;
    let seen = recorder.take();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].target, "/slow-stream");
    assert!(
        seen[0].body.is_err(),
        "the upstream got a whole body: {:?}",
        seen[0].body
    );
    still_serving(&gw, &recorder).await;
}
