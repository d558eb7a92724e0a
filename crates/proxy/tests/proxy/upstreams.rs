//! Upstream behaviour (§1.3, §1.4, §2.2): `backend-protocol` HTTPS, GRPC (h2c, `:authority` is
//! the client's host) and GRPCS with trailers, `proxy-ssl-*`, `upstream-vhost`,
//! `proxy-next-upstream` retries counted at the backend, `proxy-body-size` (413 for declared
//! and chunked bodies), `proxy-buffer-size`, header limits (431/414), underscores in headers,
//! `default-backend`, `custom-http-errors`, keep-alive settings.

use std::convert::Infallible;

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::support::*;

async fn h2c(
    addr: std::net::SocketAddr,
) -> hyper::client::conn::http2::SendRequest<http_body_util::Full<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender
}

fn grpc_request(host: &str) -> Request<http_body_util::Full<Bytes>> {
    Request::builder()
        .method("POST")
        .uri(format!("http://{host}/echo.Echo/Say"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(http_body_util::Full::new(Bytes::from_static(
            b"\0\0\0\0\x05hello",
        )))
        .unwrap()
}

#[tokio::test]
async fn grpc_sends_the_client_host_as_authority() {
    let grpc = backend("grpc").await;
    let mut world = World::new();
    world
        .service("grpc", &[grpc.addr])
        .ingress("ing", Some("grpc.example.com"), &[("/", "grpc")])
        .annotate("ing", "backend-protocol", "GRPC");
    let proxy = start(world.table()).await;
    let mut sender = h2c(proxy.http).await;
    let reply = read(
        sender
            .send_request(grpc_request("grpc.example.com"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["authority"], "grpc.example.com");
    assert_eq!(reply.json()["version"], "HTTP/2.0");
    assert_eq!(reply.trailers.unwrap()["grpc-status"], "0");
    proxy.shutdown().await;
}

#[tokio::test]
async fn grpcs_reaches_a_tls_h2_backend_with_trailers() {
    let ca = Ca::new("Upstream CA");
    let server = ca.server(&["grpc.internal"]);
    let grpc = tls_backend("grpcs", &server, None).await;
    let mut world = World::new();
    world
        .service("grpc", &[grpc.addr])
        .ingress("ing", Some("grpc.example.com"), &[("/", "grpc")])
        .annotate("ing", "backend-protocol", "GRPCS");
    let proxy = start(world.table()).await;
    let mut sender = h2c(proxy.http).await;
    let reply = read(
        sender
            .send_request(grpc_request("grpc.example.com"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["authority"], "grpc.example.com");
    assert_eq!(reply.json()["version"], "HTTP/2.0");
    let trailers = reply.trailers.clone().expect("trailers");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["grpc-message"], "ok");
    // Without proxy-ssl-server-name no SNI is sent.
    assert!(reply.seen("x-test-sni").is_empty());
    proxy.shutdown().await;
}

#[tokio::test]
async fn https_backend_without_verification_by_default() {
    let ca = Ca::new("Upstream CA");
    let https = tls_backend("https", &ca.server(&["svc.internal"]), None).await;
    let mut world = World::new();
    world
        .service("secure", &[https.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "secure")])
        .annotate("ing", "backend-protocol", "HTTPS");
    let proxy = start(world.table()).await;
    let reply = get(proxy.http, "a.example.com", "/x").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.backend(), "https");
    assert_eq!(reply.json()["version"], "HTTP/1.1");
    assert_eq!(reply.seen_one("host"), "a.example.com");
    proxy.shutdown().await;
}

#[tokio::test]
async fn proxy_ssl_verifies_names_sends_sni_and_a_client_certificate() {
    let ca = Ca::new("Upstream CA");
    let client_ca = Ca::new("Proxy Client CA");
    let proxy_cert = client_ca.client("sluice-proxy");
    let https = tls_backend(
        "https",
        &ca.server(&["svc.internal"]),
        Some(&client_ca.pem()),
    )
    .await;
    let mut world = World::new();
    world
        .service("secure", &[https.addr])
        .secret_data(
            "upstream-tls",
            "Opaque",
            &[
                ("ca.crt", ca.pem().as_bytes()),
                ("tls.crt", proxy_cert.cert_pem.as_bytes()),
                ("tls.key", proxy_cert.key_pem.as_bytes()),
            ],
        )
        .ingress("good", Some("good.example.com"), &[("/", "secure")])
        .annotate("good", "backend-protocol", "HTTPS")
        .annotate("good", "proxy-ssl-secret", "default/upstream-tls")
        .annotate("good", "proxy-ssl-verify", "on")
        .annotate("good", "proxy-ssl-name", "svc.internal")
        .annotate("good", "proxy-ssl-server-name", "on")
        .ingress("bad", Some("bad.example.com"), &[("/", "secure")])
        .annotate("bad", "backend-protocol", "HTTPS")
        .annotate("bad", "proxy-ssl-secret", "default/upstream-tls")
        .annotate("bad", "proxy-ssl-verify", "on")
        .annotate("bad", "proxy-ssl-name", "other.internal");
    let proxy = start(world.table()).await;
    let good = get(proxy.http, "good.example.com", "/").await;
    assert_eq!(good.status, 200, "{}", good.text());
    assert_eq!(good.seen_one("x-test-client-cn"), "sluice-proxy");
    assert_eq!(good.seen_one("x-test-sni"), "svc.internal");
    let bad = get(proxy.http, "bad.example.com", "/").await;
    assert_eq!(bad.status, 502);
    proxy.shutdown().await;
}

#[tokio::test]
async fn upstream_vhost_sets_the_host_with_variables() {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")])
        .annotate("ing", "upstream-vhost", "$service_name.$namespace.svc");
    let proxy = start(world.table()).await;
    let reply = get(proxy.http, "a.example.com", "/").await;
    assert_eq!(reply.seen_one("host"), "echo.default.svc");
    assert_eq!(reply.seen_one("x-forwarded-host"), "a.example.com");
    proxy.shutdown().await;
}

#[tokio::test]
async fn listed_statuses_are_retried_and_counted_at_the_backend() {
    let echo = backend("flaky").await;
    let mut world = World::new();
    world
        .service("flaky", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "flaky")])
        .annotate("ing", "proxy-next-upstream", "error timeout http_502")
        .annotate("ing", "proxy-next-upstream-tries", "3")
        .ingress("off", Some("off.example.com"), &[("/", "flaky")])
        .annotate("off", "proxy-next-upstream", "off");
    let proxy = start(world.table()).await;
    let client = h1_client();
    let reply = request(
        &client,
        proxy.http,
        "GET",
        "a.example.com",
        "/?status=502",
        empty(),
    )
    .await;
    assert_eq!(reply.status, 502);
    assert_eq!(echo.hits(), 3);
    // POST is not idempotent: it reached the upstream, so it is not sent again.
    let post = request(
        &client,
        proxy.http,
        "POST",
        "a.example.com",
        "/?status=502",
        full("x"),
    )
    .await;
    assert_eq!(post.status, 502);
    assert_eq!(echo.hits(), 4);
    // Unlisted statuses pass through at once.
    let other = request(
        &client,
        proxy.http,
        "GET",
        "a.example.com",
        "/?status=500",
        empty(),
    )
    .await;
    assert_eq!(other.status, 500);
    assert_eq!(echo.hits(), 5);
    let off = request(
        &client,
        proxy.http,
        "GET",
        "off.example.com",
        "/?status=502",
        empty(),
    )
    .await;
    assert_eq!(off.status, 502);
    assert_eq!(echo.hits(), 6);
    proxy.shutdown().await;
}

#[tokio::test]
async fn retry_non_idempotent_allows_posts_again() {
    let echo = backend("flaky").await;
    let mut world = World::new();
    world
        .service("flaky", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "flaky")])
        .annotate("ing", "proxy-next-upstream", "http_503 non_idempotent")
        .annotate("ing", "proxy-next-upstream-tries", "2");
    let proxy = start(world.table()).await;
    let post = request(
        &h1_client(),
        proxy.http,
        "POST",
        "a.example.com",
        "/?status=503",
        full("x"),
    )
    .await;
    assert_eq!(post.status, 503);
    assert_eq!(echo.hits(), 2);
    proxy.shutdown().await;
}

fn chunked(parts: usize, size: usize) -> TestBody {
    let frames = (0..parts)
        .map(move |_| Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(vec![b'x'; size]))));
    http_body_util::StreamBody::new(futures::stream::iter(frames)).boxed()
}

#[tokio::test]
async fn body_size_limits_declared_and_chunked_bodies() {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("buffered", Some("a.example.com"), &[("/", "echo")])
        .annotate("buffered", "proxy-body-size", "1k")
        .ingress("streamed", Some("b.example.com"), &[("/", "echo")])
        .annotate("streamed", "proxy-body-size", "1k")
        .annotate("streamed", "proxy-request-buffering", "off");
    let proxy = start(world.table()).await;
    let client = h1_client();
    let declared = request(
        &client,
        proxy.http,
        "POST",
        "a.example.com",
        "/",
        full(vec![b'x'; 2048]),
    )
    .await;
    assert_eq!(declared.status, 413);
    let fits = request(
        &client,
        proxy.http,
        "POST",
        "a.example.com",
        "/",
        full(vec![b'x'; 1024]),
    )
    .await;
    assert_eq!(fits.status, 200);
    assert_eq!(echo.hits(), 1);
    let chunked_big = request(
        &client,
        proxy.http,
        "POST",
        "a.example.com",
        "/",
        chunked(8, 256),
    )
    .await;
    assert_eq!(chunked_big.status, 413);
    assert_eq!(
        echo.hits(),
        1,
        "a buffered body over the limit never reaches the backend"
    );
    let streamed = request(
        &client,
        proxy.http,
        "POST",
        "b.example.com",
        "/",
        chunked(8, 256),
    )
    .await;
    assert_eq!(streamed.status, 413);
    let streamed_ok = request(
        &client,
        proxy.http,
        "POST",
        "b.example.com",
        "/",
        chunked(4, 256),
    )
    .await;
    assert_eq!(streamed_ok.status, 200);
    assert_eq!(streamed_ok.json()["body_len"], 1024);
    proxy.shutdown().await;
}

#[tokio::test]
async fn response_heads_larger_than_proxy_buffer_size_answer_502() {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("small", Some("a.example.com"), &[("/", "echo")])
        .ingress("large", Some("b.example.com"), &[("/", "echo")])
        .annotate("large", "proxy-buffer-size", "16k");
    let proxy = start(world.table()).await;
    let too_big = get(proxy.http, "a.example.com", "/?header_bytes=6000").await;
    assert_eq!(too_big.status, 502);
    let fits = get(proxy.http, "b.example.com", "/?header_bytes=6000").await;
    assert_eq!(fits.status, 200);
    proxy.shutdown().await;
}

#[tokio::test]
async fn header_limits_answer_431_and_414_and_underscores_are_dropped() {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")])
        .configmap("large-client-header-buffers", "4 2k");
    let proxy = start(world.table()).await;
    let long_line = format!(
        "GET /{} HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n",
        "a".repeat(3000)
    );
    let (status, _, _) = parse_raw(&raw(proxy.http, &long_line).await);
    assert_eq!(status, 414);
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: a.example.com\r\nCookie: {}\r\nConnection: close\r\n\r\n",
        "c".repeat(3000)
    );
    let (status, _, _) = parse_raw(&raw(proxy.http, &big_header).await);
    assert_eq!(status, 431);
    let underscores = "GET / HTTP/1.1\r\nHost: a.example.com\r\nX_Custom: 1\r\nX-Dash: 2\r\nConnection: close\r\n\r\n";
    let (status, _, body) = parse_raw(&raw(proxy.http, underscores).await);
    assert_eq!(status, 200);
    assert!(!body.contains("x_custom"), "{body}");
    assert!(body.contains("x-dash"), "{body}");
    assert_eq!(echo.hits(), 1);
    proxy.shutdown().await;

    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")])
        .configmap("enable-underscores-in-headers", "true");
    let proxy = start(world.table()).await;
    let (_, _, body) = parse_raw(&raw(proxy.http, underscores).await);
    assert!(body.contains("x_custom"), "{body}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn default_backend_serves_when_the_service_has_no_endpoints() {
    let errors = backend("errors").await;
    let mut world = World::new();
    world
        .service_without_endpoints("empty")
        .service("errors", &[errors.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "empty")])
        .annotate("ing", "default-backend", "errors")
        .ingress("bare", Some("b.example.com"), &[("/", "empty")]);
    let proxy = start(world.table()).await;
    let reply = get(proxy.http, "a.example.com", "/missing?q=1").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.backend(), "errors");
    assert_eq!(reply.json()["path"], "/missing?q=1");
    assert_eq!(reply.seen_one("x-code"), "503");
    assert_eq!(reply.seen_one("x-namespace"), "default");
    assert_eq!(reply.seen_one("x-ingress-name"), "ing");
    assert_eq!(reply.seen_one("x-service-name"), "empty");
    assert_eq!(reply.seen_one("x-service-port"), "80");
    assert_eq!(reply.seen_one("x-request-id").len(), 32);
    let bare = get(proxy.http, "b.example.com", "/").await;
    assert_eq!(bare.status, 503);
    proxy.shutdown().await;
}

#[tokio::test]
async fn custom_http_errors_are_served_by_the_default_backend() {
    let app = backend("app").await;
    let errors = backend("errors").await;
    let mut world = World::new();
    world
        .service("app", &[app.addr])
        .service("errors", &[errors.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "app")])
        .annotate("ing", "custom-http-errors", "404,503")
        .annotate("ing", "default-backend", "errors")
        .ingress("passthrough", Some("b.example.com"), &[("/", "app")])
        .annotate("passthrough", "custom-http-errors", "404")
        .annotate("passthrough", "default-backend", "errors")
        .annotate("passthrough", "disable-proxy-intercept-errors", "true");
    let proxy = start(world.table()).await;
    let req = Request::builder()
        .uri(format!("http://{}/page?status=404", proxy.http))
        .header("host", "a.example.com")
        .header("accept", "application/json")
        .body(empty())
        .unwrap();
    let reply = read(h1_client().request(req).await.unwrap()).await;
    assert_eq!(reply.backend(), "errors");
    assert_eq!(reply.json()["path"], "/?status=404");
    assert_eq!(reply.seen_one("x-code"), "404");
    assert_eq!(reply.seen_one("x-format"), "application/json");
    assert_eq!(reply.seen_one("x-original-uri"), "/page?status=404");
    assert_eq!(reply.seen_one("x-namespace"), "default");
    assert_eq!(reply.seen_one("x-ingress-name"), "ing");
    assert_eq!(reply.seen_one("x-service-name"), "app");
    assert_eq!(reply.seen_one("x-service-port"), "80");
    assert_eq!(reply.seen_one("host"), "a.example.com");
    let unlisted = get(proxy.http, "a.example.com", "/?status=500").await;
    assert_eq!(unlisted.status, 500);
    assert_eq!(unlisted.backend(), "app");
    let passthrough = get(proxy.http, "b.example.com", "/?status=404").await;
    assert_eq!(passthrough.status, 404);
    assert_eq!(passthrough.backend(), "app");
    proxy.shutdown().await;
}

#[tokio::test]
async fn keep_alive_requests_closes_the_connection_after_the_limit() {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")])
        .configmap("keep-alive-requests", "2");
    let proxy = start(world.table()).await;
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    let one = b"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n";
    stream.write_all(one).await.unwrap();
    stream.write_all(one).await.unwrap();
    let mut out = Vec::new();
    // The second response closes the connection, so this read ends.
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn upstream_keepalive_zero_closes_upstream_connections() {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")])
        .configmap("upstream-keepalive-connections", "0");
    let proxy = start(world.table()).await;
    let reply = get(proxy.http, "a.example.com", "/").await;
    assert_eq!(reply.seen_one("connection"), "close");
    proxy.shutdown().await;
}

#[tokio::test]
async fn keep_alive_zero_closes_after_each_response() {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")])
        .configmap("keep-alive", "0");
    let proxy = start(world.table()).await;
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    proxy.shutdown().await;
}

#[tokio::test]
async fn a_stalled_request_body_answers_408_after_client_body_timeout() {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "echo")])
        .configmap("client-body-timeout", "200ms");
    let proxy = start(world.table()).await;
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    stream
        .write_all(b"POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let mut head = vec![0u8; 64];
    let n = stream.read(&mut head).await.unwrap();
    let text = String::from_utf8_lossy(&head[..n]).into_owned();
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert_eq!(echo.hits(), 0);
    proxy.shutdown().await;
}

#[tokio::test]
async fn grpc_requests_move_to_the_next_endpoint_when_a_connect_fails() {
    let grpc = backend("grpc").await;
    let dead = refused_addr().await;
    let mut world = World::new();
    world
        .service("grpc", &[dead, grpc.addr])
        .ingress("ing", Some("grpc.example.com"), &[("/", "grpc")])
        .annotate("ing", "backend-protocol", "GRPC");
    let proxy = start(world.table()).await;
    let mut sender = h2c(proxy.http).await;
    for _ in 0..4 {
        let reply = read(
            sender
                .send_request(grpc_request("grpc.example.com"))
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["body_len"], 10);
    }
    assert_eq!(grpc.hits(), 4);
    proxy.shutdown().await;
}
