//! Client IP and forwarded headers (§2.3): `use-forwarded-headers`, `enable-real-ip`,
//! `forwarded-for-header`, `compute-full-forwarded-for`, `proxy-real-ip-cidr`, and the PROXY
//! protocol (v1 and v2, HTTP and HTTPS listeners); the client IP they yield is the one allow
//! lists use.

use std::net::SocketAddr;

use http::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::support::*;

async fn world_with(config: &[(&str, &str)]) -> (Backend, World) {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")]);
    for (key, value) in config {
        world.configmap(key, value);
    }
    (echo, world)
}

async fn get_with(addr: SocketAddr, headers: &[(&str, &str)]) -> Reply {
    let mut req = Request::builder()
        .uri(format!("http://{addr}/"))
        .header("host", "a.example.com");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    read(
        h1_client()
            .request(req.body(empty()).unwrap())
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn default_replaces_forwarded_for_with_the_peer_and_keeps_the_original() {
    let (_echo, world) = world_with(&[]).await;
    let proxy = start(world.table()).await;
    let reply = get_with(
        proxy.http,
        &[
            ("x-forwarded-for", "203.0.113.1, 198.51.100.2"),
            ("x-forwarded-host", "public.example.com"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(reply.seen_one("x-forwarded-for"), "127.0.0.1");
    assert_eq!(reply.seen_one("x-real-ip"), "127.0.0.1");
    assert_eq!(
        reply.seen_one("x-original-forwarded-for"),
        "203.0.113.1, 198.51.100.2"
    );
    assert_eq!(
        reply.seen_one("x-original-forwarded-host"),
        "public.example.com"
    );
    // Not trusted: the proxy's own view wins.
    assert_eq!(reply.seen_one("x-forwarded-proto"), "http");
    assert_eq!(reply.seen_one("x-forwarded-scheme"), "http");
    assert_eq!(reply.seen_one("x-forwarded-host"), "a.example.com");
    // Absent incoming headers are not invented.
    let plain = get_with(proxy.http, &[]).await;
    assert!(plain.seen("x-original-forwarded-for").is_empty());
    assert!(plain.seen("x-original-forwarded-host").is_empty());
    proxy.shutdown().await;
}

#[tokio::test]
async fn use_forwarded_headers_walks_trusted_hops_and_trusts_proto_host_port() {
    let (_echo, world) = world_with(&[
        ("use-forwarded-headers", "true"),
        ("proxy-real-ip-cidr", "127.0.0.0/8, 10.0.0.0/8"),
    ])
    .await;
    let proxy = start(world.table()).await;
    let reply = get_with(
        proxy.http,
        &[
            ("x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.1.2.3"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-port", "8443"),
            ("x-forwarded-host", "public.example.com"),
        ],
    )
    .await;
    assert_eq!(reply.seen_one("x-real-ip"), "198.51.100.7");
    assert_eq!(reply.seen_one("x-forwarded-for"), "198.51.100.7");
    assert_eq!(reply.seen_one("x-forwarded-proto"), "https");
    assert_eq!(reply.seen_one("x-forwarded-port"), "8443");
    assert_eq!(reply.seen_one("x-forwarded-host"), "public.example.com");
    // `$best_http_host` is also the upstream `Host`.
    assert_eq!(reply.seen_one("host"), "public.example.com");
    proxy.shutdown().await;
}

#[tokio::test]
async fn compute_full_forwarded_for_appends_the_peer() {
    let (_echo, world) = world_with(&[
        ("use-forwarded-headers", "true"),
        ("compute-full-forwarded-for", "true"),
    ])
    .await;
    let proxy = start(world.table()).await;
    let reply = get_with(proxy.http, &[("x-forwarded-for", "203.0.113.9")]).await;
    assert_eq!(reply.seen_one("x-forwarded-for"), "203.0.113.9, 127.0.0.1");
    assert_eq!(reply.seen_one("x-real-ip"), "203.0.113.9");
    let none = get_with(proxy.http, &[]).await;
    assert_eq!(none.seen_one("x-forwarded-for"), "127.0.0.1");
    proxy.shutdown().await;
}

#[tokio::test]
async fn enable_real_ip_with_a_custom_header_feeds_allow_lists() {
    let (echo, mut world) = world_with(&[
        ("enable-real-ip", "true"),
        ("forwarded-for-header", "CF-Connecting-IP"),
    ])
    .await;
    world.annotate("ing", "whitelist-source-range", "203.0.113.0/24");
    let proxy = start(world.table()).await;
    let allowed = get_with(proxy.http, &[("cf-connecting-ip", "203.0.113.50")]).await;
    assert_eq!(allowed.status, 200, "{}", allowed.text());
    assert_eq!(allowed.seen_one("x-real-ip"), "203.0.113.50");
    assert_eq!(allowed.seen_one("x-original-forwarded-for"), "203.0.113.50");
    // `enable-real-ip` does not trust X-Forwarded-Proto.
    let proto = get_with(
        proxy.http,
        &[
            ("cf-connecting-ip", "203.0.113.50"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(proto.seen_one("x-forwarded-proto"), "http");
    let refused = get_with(proxy.http, &[("cf-connecting-ip", "198.51.100.1")]).await;
    assert_eq!(refused.status, 403);
    let hits = echo.hits();
    let no_header = get_with(proxy.http, &[]).await;
    assert_eq!(no_header.status, 403);
    assert_eq!(echo.hits(), hits);
    proxy.shutdown().await;
}

/// Sends `preamble` then a GET over plain TCP and returns the raw response.
async fn raw_with_preamble(addr: SocketAddr, preamble: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut bytes = preamble.to_vec();
    bytes.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n");
    stream.write_all(&bytes).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn proxy_v2(source: [u8; 4], source_port: u16, dest_port: u16) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend_from_slice(&[0x21, 0x11, 0, 12]);
    header.extend_from_slice(&source);
    header.extend_from_slice(&[10, 0, 0, 1]);
    header.extend_from_slice(&source_port.to_be_bytes());
    header.extend_from_slice(&dest_port.to_be_bytes());
    header
}

#[tokio::test]
async fn proxy_protocol_v1_and_v2_set_the_client_ip_on_http() {
    let (_echo, world) = world_with(&[("use-proxy-protocol", "true")]).await;
    let proxy = start(world.table()).await;
    let v1 = raw_with_preamble(proxy.http, b"PROXY TCP4 203.0.113.7 10.0.0.1 56324 80\r\n").await;
    let (status, _, body) = parse_raw(&v1);
    assert_eq!(status, 200, "{v1}");
    let reply = Reply {
        status: http::StatusCode::OK,
        version: http::Version::HTTP_11,
        headers: http::HeaderMap::new(),
        body: body.into(),
        trailers: None,
    };
    assert_eq!(reply.seen_one("x-real-ip"), "203.0.113.7");
    assert_eq!(reply.seen_one("x-forwarded-for"), "203.0.113.7");
    assert_eq!(reply.seen_one("x-forwarded-port"), "80");
    assert_eq!(reply.seen_one("x-forwarded-proto"), "http");

    // Destination port 443 means the client spoke HTTPS to the load balancer.
    let v2 = raw_with_preamble(proxy.http, &proxy_v2([198, 51, 100, 4], 4000, 443)).await;
    let (status, _, body) = parse_raw(&v2);
    assert_eq!(status, 200, "{v2}");
    let reply = Reply {
        status: http::StatusCode::OK,
        version: http::Version::HTTP_11,
        headers: http::HeaderMap::new(),
        body: body.into(),
        trailers: None,
    };
    assert_eq!(reply.seen_one("x-real-ip"), "198.51.100.4");
    assert_eq!(reply.seen_one("x-forwarded-proto"), "https");
    assert_eq!(reply.seen_one("x-forwarded-port"), "443");

    // Without a PROXY header the connection is refused.
    let bare = raw_with_preamble(proxy.http, b"").await;
    assert!(bare.is_empty(), "{bare}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn proxy_protocol_precedes_the_tls_handshake_on_https() {
    let (_echo, mut world) = world_with(&[("use-proxy-protocol", "true")]).await;
    world
        .secret("tls", "pkcs8")
        .tls("ing", &["a.example.com"], "tls");
    let proxy = start(world.table()).await;
    let mut tcp = TcpStream::connect(proxy.https).await.unwrap();
    tcp.write_all(&proxy_v2([192, 0, 2, 55], 1234, 443))
        .await
        .unwrap();
    let config = client_config(&[b"http/1.1"], None, None);
    let name = rustls::pki_types::ServerName::try_from("a.example.com").unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .uri("/")
        .header("host", "a.example.com")
        .body(empty())
        .unwrap();
    let reply = read(sender.send_request(req).await.unwrap()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.seen_one("x-real-ip"), "192.0.2.55");
    assert_eq!(reply.seen_one("x-forwarded-proto"), "https");
    proxy.shutdown().await;
}

#[tokio::test]
async fn untrusted_proxy_protocol_peers_keep_their_address() {
    let (_echo, world) = world_with(&[
        ("use-proxy-protocol", "true"),
        ("proxy-real-ip-cidr", "10.0.0.0/8"),
    ])
    .await;
    let proxy = start(world.table()).await;
    let v1 = raw_with_preamble(proxy.http, b"PROXY TCP4 203.0.113.7 10.0.0.1 56324 80\r\n").await;
    let (status, _, body) = parse_raw(&v1);
    assert_eq!(status, 200, "{v1}");
    let reply = Reply {
        status: http::StatusCode::OK,
        version: http::Version::HTTP_11,
        headers: http::HeaderMap::new(),
        body: body.into(),
        trailers: None,
    };
    assert_eq!(reply.seen_one("x-real-ip"), "127.0.0.1");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_missing_proxy_header_times_out() {
    let (echo, world) = world_with(&[
        ("use-proxy-protocol", "true"),
        ("proxy-protocol-header-timeout", "100ms"),
    ])
    .await;
    let proxy = start(world.table()).await;
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    stream.write_all(b"PROXY TCP4 1.2.3.4").await.unwrap();
    let mut out = Vec::new();
    // The proxy gives up on the header and closes the connection.
    stream.read_to_end(&mut out).await.unwrap();
    assert!(out.is_empty());
    assert_eq!(echo.hits(), 0);
    proxy.shutdown().await;
}
