//! Upstreams that break HTTP, as raw-TCP fake backends that read the request head and then
//! misbehave. The client gets 502 when no usable response head arrives, and a truncated body
//! on a closed connection when the upstream resets after the head; either way a new
//! connection is served normally.
//!
//! | upstream                                      | client                                   |
//! |-----------------------------------------------|------------------------------------------|
//! | garbage instead of a status line              | 502                                      |
//! | a 64 KiB response header                      | 502 (`upstream sent too big header`)      |
//! | closes before any response byte              | 502                                      |
//! | resets after the head and 1 000 of 100 000 body bytes | 200 head, body cut short, closed |

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::support::*;

#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    Garbage,
    HugeHead,
    CloseBeforeHead,
    ResetMidBody,
}

/// Reads one request head (up to the blank line, or until the peer stops sending).
async fn read_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// A raw-TCP backend that answers every connection with `how`.
async fn fake_backend(how: Misbehaviour) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                read_head(&mut stream).await;
                match how {
                    Misbehaviour::Garbage => {
                        let _ = stream
                            .write_all(b"SSH-2.0-OpenSSH_9.6 garbage\r\n\r\n")
                            .await;
                    }
                    Misbehaviour::HugeHead => {
                        let big = "b".repeat(64 * 1024);
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nX-Big: {big}\r\nContent-Length: 2\r\n\r\nok"
                        );
                        let _ = stream.write_all(head.as_bytes()).await;
                    }
                    Misbehaviour::CloseBeforeHead => {}
                    Misbehaviour::ResetMidBody => {
                        let mut out = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n".to_vec();
                        out.extend(std::iter::repeat_n(b'x', 1000));
                        let _ = stream.write_all(&out).await;
                        let _ = stream.flush().await;
                        // Give the gateway the head and the first bytes before the reset.
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        let _ = stream.set_zero_linger();
                    }
                }
                // Dropping the stream closes it (with a reset after `set_zero_linger`).
            });
        }
    });
    addr
}

/// The body of a raw response (after the head).
fn body_of(raw: &[u8]) -> &[u8] {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(&[][..], |i| &raw[i + 4..])
}

#[tokio::test]
async fn broken_upstreams_get_502_or_a_cut_body_and_the_client_is_served_again() {
    let healthy = recorder().await;
    let kinds = [
        ("garbage", Misbehaviour::Garbage),
        ("huge-head", Misbehaviour::HugeHead),
        ("close-before-head", Misbehaviour::CloseBeforeHead),
        ("reset-mid-body", Misbehaviour::ResetMidBody),
    ];
    let mut services = vec![service("recorder", 80, None, &[healthy.addr])];
    let mut ingresses = vec![ingress("healthy", Some(HOST), &[("/", "recorder")])];
    for (name, how) in kinds {
        let addr = fake_backend(how).await;
        services.push(service(name, 80, None, &[addr]));
        ingresses.push(ingress(name, Some(&format!("{name}.test")), &[("/", name)]));
    }
    let services: Vec<&str> = services.iter().map(String::as_str).collect();
    let ingresses: Vec<&str> = ingresses.iter().map(String::as_str).collect();
    let gw = start(
        &[],
        &[
            ("services.yaml", documents(&services)),
            ("ingress.yaml", documents(&ingresses)),
        ],
    )
    .await;
    let mut failures = Vec::new();
    for (name, how) in kinds {
        // Keep-alive is asked for: the gateway decides when to close.
        let request = format!("GET /broken HTTP/1.1\r\nHost: {name}.test\r\n\r\n");
        let mut stream = TcpStream::connect(gw.http).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        match how {
            Misbehaviour::ResetMidBody => {
                let raw = read_to_close(&mut stream).await;
                let body = body_of(&raw);
                if statuses(&raw) != [200] || body.len() >= 100_000 {
                    failures.push(format!(
                        "{name}: statuses {:?}, {} body bytes",
                        statuses(&raw),
                        body.len()
                    ));
                }
            }
            _ => {
                let reply = read_one(&mut stream).await;
                if statuses(&reply) != [502] {
                    failures.push(format!("{name}: {:?}", String::from_utf8_lossy(&reply)));
                }
            }
        }
        // A new connection is served normally.
        let reply = get(gw.http, HOST, "/after").await;
        if reply.status != 200 {
            failures.push(format!("{name}: then {}", reply.status));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(healthy.targets().len(), kinds.len());
}

/// Reads one response with a `Content-Length` body (the gateway's error pages have one).
async fn read_one(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if out.len() >= end + 4 + len {
                    return;
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .unwrap_or_else(|_| panic!("no whole response in {PATIENCE:?}"));
    out
}
