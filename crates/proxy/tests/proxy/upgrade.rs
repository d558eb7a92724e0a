//! HTTP/1.1 upgrades (WebSocket-style): 101 passes through and bytes flow both ways.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::support::*;

#[tokio::test]
async fn upgrade_tunnels_bytes_both_ways() {
    let echo = backend("ws").await;
    let mut world = World::new();
    world
        .service("ws", &[echo.addr])
        .ingress("ing", Some("ws.example.com"), &[("/", "ws")]);
    let proxy = start(world.table()).await;

    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    stream
        .write_all(
            b"GET /chat HTTP/1.1\r\n\
              Host: ws.example.com\r\n\
              Connection: Upgrade\r\n\
              Upgrade: websocket\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    assert!(head.contains("connection: upgrade"), "{head}");

    for message in [
        &b"ping 1"[..],
        b"a second, longer message",
        &[0u8, 255, 10, 13],
    ] {
        stream.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        stream.read_exact(&mut echoed).await.unwrap();
        assert_eq!(echoed, message);
    }
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
    proxy.shutdown().await;
}
