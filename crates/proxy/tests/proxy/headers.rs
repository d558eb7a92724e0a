//! What the backend receives (forwarded headers, request id, Host, no hop-by-hop or `Proxy`
//! headers) and the `Server` header the client gets.

use super::support::*;

async fn one_backend() -> (Backend, Running) {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")]);
    let proxy = start(world.table()).await;
    (echo, proxy)
}

#[tokio::test]
async fn backend_receives_forwarded_headers_and_no_hop_by_hop_headers() {
    let (_echo, proxy) = one_backend().await;
    let request = "GET /path?q=1 HTTP/1.1\r\n\
         Host: a.example.com:8080\r\n\
         X-Forwarded-For: 203.0.113.7\r\n\
         X-Forwarded-Proto: https\r\n\
         X-Real-IP: 203.0.113.8\r\n\
         Proxy: http://evil.example.com\r\n\
         Connection: close, X-Hop\r\n\
         X-Hop: secret\r\n\
         Keep-Alive: timeout=5\r\n\
         Proxy-Connection: keep-alive\r\n\
         TE: gzip\r\n\
         Upgrade: something\r\n\
         X-Kept: yes\r\n\
         \r\n";
    let (status, headers, body) = parse_raw(&raw(proxy.http, request).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["server"], "sluice");
    let reply = Reply {
        status: http::StatusCode::OK,
        version: http::Version::HTTP_11,
        headers: http::HeaderMap::new(),
        body: body.into(),
        trailers: None,
    };
    assert_eq!(reply.json()["path"], "/path?q=1");
    assert_eq!(reply.seen_one("host"), "a.example.com:8080");
    assert_eq!(reply.seen_one("x-forwarded-for"), "127.0.0.1");
    assert_eq!(reply.seen_one("x-original-forwarded-for"), "203.0.113.7");
    assert_eq!(reply.seen_one("x-real-ip"), "127.0.0.1");
    assert_eq!(reply.seen_one("x-forwarded-host"), "a.example.com:8080");
    assert_eq!(
        reply.seen_one("x-forwarded-port"),
        proxy.http.port().to_string()
    );
    assert_eq!(reply.seen_one("x-forwarded-proto"), "http");
    assert_eq!(reply.seen_one("x-scheme"), "http");
    assert_eq!(reply.seen_one("x-kept"), "yes");
    let id = reply.seen_one("x-request-id");
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    for gone in [
        "proxy",
        "x-hop",
        "keep-alive",
        "proxy-connection",
        "te",
        "upgrade",
    ] {
        assert!(reply.seen(gone).is_empty(), "{gone} reached the backend");
    }
    assert!(
        reply
            .seen("connection")
            .iter()
            .all(|v| !v.contains("X-Hop")),
        "{:?}",
        reply.seen("connection")
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn request_ids_are_kept_or_generated_fresh() {
    let (_echo, proxy) = one_backend().await;
    let client = h1_client();
    let with_id = http::Request::builder()
        .uri(format!("http://{}/", proxy.http))
        .header("host", "a.example.com")
        .header("x-request-id", "abc-123")
        .body(empty())
        .unwrap();
    let reply = read(client.request(with_id).await.unwrap()).await;
    assert_eq!(reply.seen_one("x-request-id"), "abc-123");
    let first = get(proxy.http, "a.example.com", "/")
        .await
        .seen_one("x-request-id");
    let second = get(proxy.http, "a.example.com", "/")
        .await
        .seen_one("x-request-id");
    assert_ne!(first, second);
    proxy.shutdown().await;
}

#[tokio::test]
async fn server_header_follows_server_tokens_and_allow_backend_server_header() {
    let (_echo, proxy) = one_backend().await;
    let client = h1_client();
    let with_backend_server = || {
        http::Request::builder()
            .uri(format!("http://{}/", proxy.http))
            .header("host", "a.example.com")
            .header("x-respond-server", "1")
            .body(empty())
            .unwrap()
    };
    // The upstream's `Server` is hidden (as by nginx) and sluice names itself, without a
    // version.
    assert_eq!(
        get(proxy.http, "a.example.com", "/").await.headers["server"],
        "sluice"
    );
    let reply = read(client.request(with_backend_server()).await.unwrap()).await;
    assert_eq!(reply.headers["server"], "sluice");
    proxy.shutdown().await;

    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")])
        .configmap("allow-backend-server-header", "true")
        .configmap("server-tokens", "true");
    let proxy = start(world.table()).await;
    let reply = read(
        client
            .request(
                http::Request::builder()
                    .uri(format!("http://{}/", proxy.http))
                    .header("host", "a.example.com")
                    .header("x-respond-server", "1")
                    .body(empty())
                    .unwrap(),
            )
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.headers["server"], "echo-backend");
    assert_eq!(reply.headers.get_all("server").iter().count(), 1);
    let own = get(proxy.http, "a.example.com", "/").await;
    assert!(
        own.headers["server"]
            .to_str()
            .unwrap()
            .starts_with("sluice/")
    );
    proxy.shutdown().await;
}
