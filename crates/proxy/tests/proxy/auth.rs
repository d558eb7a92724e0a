//! Authentication end to end: htpasswd hashes of every supported scheme (vectors made by
//! `openssl passwd` and glibc `crypt`), auth-map Secrets, fail-closed cases, external auth
//! against a real recording service (the exact headers it receives, 200/401/403/500, slow and
//! unreachable services, sign-in redirects, caching), global auth with its opt-outs, and
//! `satisfy`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::support::*;
use super::traffic_support::*;

const HOST: &str = "auth.example.com";

/// `user:hash` lines for the password `secret`, one user per scheme.
const HTPASSWD: &[(&str, &str)] = &[
    ("apr1", "$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/"),
    ("md5", "$1$abcdefgh$cHJi5PXp/ki/ktXzqlk6I1"),
    (
        "sha256",
        "$5$abcdefgh$gruCpC7VkOTspMQTTSAR8mtlO9Upms.fwqE5y16JVM.",
    ),
    (
        "sha512",
        "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.",
    ),
    ("des", "abNANd1rDfiNc"),
    (
        "bcrypt",
        "$2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a",
    ),
    ("sha1", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="),
];

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

async fn app(annotations: &[(&str, &str)]) -> (World, Backend) {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("app", Some(HOST), &[("/", "echo")]);
    annotate(&mut world, "app", annotations);
    (world, echo)
}

#[tokio::test]
async fn basic_auth_verifies_every_hash_scheme() {
    let (mut world, echo) = app(&[
        ("auth-type", "basic"),
        ("auth-secret", "htpasswd"),
        ("auth-realm", "Authentication Required - ok"),
    ])
    .await;
    let file: String = HTPASSWD.iter().map(|(u, h)| format!("{u}:{h}\n")).collect();
    opaque(&mut world, "htpasswd", &[("auth", &file)]);
    let proxy = start(world.table()).await;
    for (user, _) in HTPASSWD {
        let ok = get_with(
            proxy.http,
            HOST,
            "/",
            &[("authorization", &basic(user, "secret"))],
        )
        .await;
        assert_eq!(ok.status, 200, "{user}");
        let wrong = get_with(
            proxy.http,
            HOST,
            "/",
            &[("authorization", &basic(user, "Secret"))],
        )
        .await;
        assert_eq!(wrong.status, 401, "{user}");
    }
    let none = get(proxy.http, HOST, "/").await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.headers["www-authenticate"],
        "Basic realm=\"Authentication Required - ok\""
    );
    let unknown = get_with(
        proxy.http,
        HOST,
        "/",
        &[("authorization", &basic("eve", "secret"))],
    )
    .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(echo.hits(), HTPASSWD.len());
    proxy.shutdown().await;
}

#[tokio::test]
async fn auth_map_secrets_and_fail_closed_cases() {
    let (mut world, _echo) = app(&[
        ("auth-type", "basic"),
        ("auth-secret", "users"),
        ("auth-secret-type", "auth-map"),
    ])
    .await;
    opaque(
        &mut world,
        "users",
        &[("alice", HTPASSWD[0].1), ("bob", HTPASSWD[5].1)],
    );
    let proxy = start(world.table()).await;
    for user in ["alice", "bob"] {
        let reply = get_with(
            proxy.http,
            HOST,
            "/",
            &[("authorization", &basic(user, "secret"))],
        )
        .await;
        assert_eq!(reply.status, 200, "{user}");
    }
    proxy.shutdown().await;

    // A missing Secret, and a Secret with a plain-text password: every request gets 503.
    for secret in [None, Some("alice:secret\n")] {
        let (mut world, echo) = app(&[("auth-type", "basic"), ("auth-secret", "htpasswd")]).await;
        if let Some(file) = secret {
            opaque(&mut world, "htpasswd", &[("auth", file)]);
        }
        let proxy = start(world.table()).await;
        let reply = get_with(
            proxy.http,
            HOST,
            "/",
            &[("authorization", &basic("alice", "secret"))],
        )
        .await;
        assert_eq!(reply.status, 503, "{secret:?}");
        assert_eq!(echo.hits(), 0);
        proxy.shutdown().await;
    }
}

#[tokio::test]
async fn external_auth_sends_ingress_nginx_headers_and_copies_response_headers() {
    let auth = recorder().await;
    let url = format!("http://{}/ok/check?from=sluice", auth.addr);
    let (world, _echo) = app(&[
        ("auth-url", &url),
        ("auth-response-headers", "X-User, X-Missing"),
    ])
    .await;
    let proxy = start(world.table()).await;
    let reply = send(
        &h1_client(),
        proxy.http,
        "POST",
        HOST,
        "/api/items?q=1",
        &[
            ("x-user", "mallory"),
            ("x-missing", "forged"),
            ("cookie", "session=abc"),
            ("x-request-id", "req-1"),
            ("x-forwarded-proto", "https"),
        ],
        full("a request body"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // The upstream sees the auth service's X-User, not the client's, and no forged X-Missing.
    assert_eq!(reply.seen_one("x-user"), "alice");
    assert!(reply.seen("x-missing").is_empty());
    assert_eq!(reply.seen_one("x-request-id"), "req-1");
    // The auth cookie reaches the client.
    assert_eq!(reply.headers["set-cookie"], "auth=1; Path=/");

    let seen = auth.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/ok/check?from=sluice");
    assert_eq!(seen.body_len, 0, "no body goes to the auth service");
    assert_eq!(seen.header("host"), auth.addr.to_string());
    assert_eq!(
        seen.header("x-original-url"),
        format!("http://{HOST}/api/items?q=1")
    );
    assert_eq!(seen.header("x-original-method"), "POST");
    assert_eq!(seen.header("x-sent-from"), "nginx-ingress-controller");
    assert_eq!(seen.header("x-real-ip"), "127.0.0.1");
    assert_eq!(seen.header("x-forwarded-for"), "127.0.0.1");
    assert_eq!(seen.header("x-auth-request-redirect"), "/api/items?q=1");
    assert_eq!(seen.header("x-request-id"), "req-1");
    assert_eq!(seen.header("cookie"), "session=abc");
    assert_eq!(
        seen.header("x-user"),
        "mallory",
        "original headers are passed"
    );
    assert!(!seen.headers.contains_key("content-length"));
    assert!(!seen.headers.contains_key("x-forwarded-proto"));
    assert!(!seen.headers.contains_key("x-original-uri"));
    proxy.shutdown().await;
}

#[tokio::test]
async fn external_auth_over_https() {
    let auth = tls_recorder().await;
    let url = format!("https://localhost:{}/ok", auth.addr.port());
    let (world, _echo) = app(&[("auth-url", &url), ("auth-response-headers", "X-User")]).await;
    let proxy = start(world.table()).await;
    let reply = get(proxy.http, HOST, "/secure").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.seen_one("x-user"), "alice");
    assert_eq!(
        auth.last().header("host"),
        format!("localhost:{}", auth.addr.port())
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn external_auth_method_redirect_and_extra_headers() {
    let auth = recorder().await;
    let url = format!("http://{}/ok", auth.addr);
    let (mut world, _echo) = app(&[
        ("auth-url", &url),
        ("auth-method", "GET"),
        ("auth-request-redirect", "https://$host/landing"),
        ("auth-proxy-set-headers", "auth-headers"),
    ])
    .await;
    world
        .snapshot
        .insert_config_map(sluice_ingress_model::ConfigMap {
            key: sluice_ingress_model::ObjectKey::new(NS, "auth-headers"),
            data: [("X-Tenant".to_owned(), "blue".to_owned())].into(),
        });
    let proxy = start(world.table()).await;
    let reply = send(&h1_client(), proxy.http, "PUT", HOST, "/p", &[], full("x")).await;
    assert_eq!(reply.status, 200);
    let seen = auth.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.header("x-original-method"), "PUT");
    assert_eq!(seen.header("x-original-uri"), "/p");
    assert_eq!(seen.header("x-scheme"), "http");
    assert_eq!(
        seen.header("x-auth-request-redirect"),
        format!("https://{HOST}/landing")
    );
    assert_eq!(seen.header("x-tenant"), "blue");
    proxy.shutdown().await;
}

#[tokio::test]
async fn external_auth_denials_errors_and_timeouts() {
    let auth = recorder().await;
    let refused = refused_addr().await;
    let cases = [
        (format!("http://{}/deny401", auth.addr), 401),
        (format!("http://{}/deny403", auth.addr), 403),
        (format!("http://{}/error", auth.addr), 500),
        (format!("http://{refused}/ok"), 500),
        (format!("http://{}/slow", auth.addr), 500),
    ];
    for (url, status) in cases {
        let (world, echo) = app(&[
            ("auth-url", &url),
            ("proxy-connect-timeout", "1"),
            ("proxy-read-timeout", "1"),
        ])
        .await;
        let proxy = start(world.table()).await;
        let reply = get(proxy.http, HOST, "/").await;
        assert_eq!(reply.status, status, "{url}");
        if status == 401 {
            assert_eq!(reply.headers["www-authenticate"], "Bearer realm=\"auth\"");
            assert!(!reply.headers.contains_key("set-cookie"));
        }
        assert_eq!(echo.hits(), 0, "{url}");
        proxy.shutdown().await;
    }
}

#[tokio::test]
async fn a_401_redirects_to_signin_with_the_original_url() {
    let auth = recorder().await;
    let url = format!("http://{}/deny401", auth.addr);
    let (world, _echo) = app(&[
        ("auth-url", &url),
        ("auth-signin", "https://login.example.com/oauth2/start"),
        ("auth-always-set-cookie", "true"),
    ])
    .await;
    let proxy = start(world.table()).await;
    let reply = get(proxy.http, HOST, "/a/b?x=1&y=2").await;
    assert_eq!(reply.status, 302);
    assert_eq!(
        reply.headers["location"],
        format!("https://login.example.com/oauth2/start?rd=http://{HOST}%2Fa%2Fb%3Fx%3D1%26y%3D2")
    );
    assert_eq!(reply.headers["set-cookie"], "denied=1");
    proxy.shutdown().await;

    // A sign-in URL that already carries the parameter is kept as is; another name is used
    // when configured.
    let (world, _echo) = app(&[
        ("auth-url", &url),
        ("auth-signin", "https://login.example.com/start?next=/home"),
        ("auth-signin-redirect-param", "next"),
    ])
    .await;
    let proxy = start(world.table()).await;
    let reply = get(proxy.http, HOST, "/a").await;
    assert_eq!(
        reply.headers["location"],
        "https://login.example.com/start?next=/home"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn auth_answers_are_cached_per_key() {
    let auth = recorder().await;
    let url = format!("http://{}/ok", auth.addr);
    let (world, _echo) = app(&[
        ("auth-url", &url),
        ("auth-response-headers", "X-User"),
        ("auth-cache-key", "$http_authorization"),
        ("auth-cache-duration", "200 1m"),
    ])
    .await;
    let proxy = start(world.table()).await;
    for token in ["Bearer a", "Bearer a", "Bearer b", "Bearer a"] {
        let reply = get_with(proxy.http, HOST, "/", &[("authorization", token)]).await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.seen_one("x-user"),
            "alice",
            "cached answers still copy headers"
        );
    }
    assert_eq!(auth.count(), 2);
    proxy.shutdown().await;
}

#[tokio::test]
async fn global_auth_applies_unless_opted_out_or_exempt() {
    let auth = recorder().await;
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("app", Some(HOST), &[("/", "echo")])
        .ingress("open", Some("open.example.com"), &[("/", "echo")]);
    annotate(&mut world, "open", &[("enable-global-auth", "false")]);
    configure(
        &mut world,
        &[
            ("global-auth-url", &format!("http://{}/deny401", auth.addr)),
            ("no-auth-locations", "/.well-known/acme-challenge, /public"),
        ],
    );
    let proxy = start(world.table()).await;
    assert_eq!(get(proxy.http, HOST, "/private").await.status, 401);
    assert_eq!(get(proxy.http, HOST, "/public/x").await.status, 200);
    assert_eq!(
        get(proxy.http, HOST, "/.well-known/acme-challenge/t")
            .await
            .status,
        200
    );
    assert_eq!(
        get(proxy.http, "open.example.com", "/private").await.status,
        200
    );
    assert_eq!(auth.count(), 1);
    proxy.shutdown().await;
}

#[tokio::test]
async fn satisfy_any_lets_one_passing_check_admit() {
    let file: String = format!("alice:{}\n", HTPASSWD[0].1);
    for (allow, satisfy, with_credentials, expected) in [
        ("127.0.0.1/32", "any", false, 200),
        ("10.0.0.0/8", "any", false, 401),
        ("10.0.0.0/8", "any", true, 200),
        ("10.0.0.0/8", "all", true, 403),
        ("127.0.0.1/32", "all", false, 401),
        ("127.0.0.1/32", "all", true, 200),
    ] {
        let (mut world, _echo) = app(&[
            ("auth-type", "basic"),
            ("auth-secret", "htpasswd"),
            ("whitelist-source-range", allow),
            ("satisfy", satisfy),
        ])
        .await;
        opaque(&mut world, "htpasswd", &[("auth", &file)]);
        let proxy = start(world.table()).await;
        let credentials = basic("alice", "secret");
        let headers: &[(&str, &str)] = if with_credentials {
            &[("authorization", &credentials)]
        } else {
            &[]
        };
        let reply = get_with(proxy.http, HOST, "/", headers).await;
        assert_eq!(
            reply.status, expected,
            "{allow} {satisfy} {with_credentials}"
        );
        proxy.shutdown().await;
    }
}

#[tokio::test]
async fn satisfy_any_with_global_auth_keeps_the_lists_where_auth_is_exempt() {
    let auth = recorder().await;
    for (allow, path, expected) in [
        ("10.0.0.0/8", "/public/x", 403),
        ("10.0.0.0/8", "/private", 401),
        ("127.0.0.1/32", "/private", 200),
        ("127.0.0.1/32", "/public/x", 200),
    ] {
        let (mut world, _echo) =
            app(&[("whitelist-source-range", allow), ("satisfy", "any")]).await;
        configure(
            &mut world,
            &[
                ("global-auth-url", &format!("http://{}/deny401", auth.addr)),
                ("no-auth-locations", "/public"),
            ],
        );
        let proxy = start(world.table()).await;
        let reply = get(proxy.http, HOST, path).await;
        assert_eq!(reply.status, expected, "{allow} {path}");
        proxy.shutdown().await;
    }
    // Only the listed-out request to an authenticated path asked the auth service.
    assert_eq!(auth.count(), 1);
}

#[tokio::test]
async fn digest_auth_challenges_and_accepts() {
    let (proxy, _echo, ha1) = digest_app(&[]).await;
    let challenge = get(proxy.http, HOST, "/d?x=1").await;
    assert_eq!(challenge.status, 401);
    let authorization = digest_authorization(&challenge, &ha1, "/d?x=1");
    let ok = get_with(
        proxy.http,
        HOST,
        "/d?x=1",
        &[("authorization", &authorization)],
    )
    .await;
    assert_eq!(ok.status, 200);
    let elsewhere = get_with(
        proxy.http,
        HOST,
        "/other",
        &[("authorization", &authorization)],
    )
    .await;
    assert_eq!(elsewhere.status, 401);
    proxy.shutdown().await;
}

#[tokio::test]
async fn digest_auth_checks_the_uri_the_client_sent_on_rewritten_routes() {
    let (proxy, echo, ha1) = digest_app(&[("rewrite-target", "/inner")]).await;
    let challenge = get(proxy.http, HOST, "/d").await;
    assert_eq!(challenge.status, 401);
    let authorization = digest_authorization(&challenge, &ha1, "/d");
    let ok = get_with(proxy.http, HOST, "/d", &[("authorization", &authorization)]).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["path"], "/inner");
    assert_eq!(echo.hits(), 1);
    proxy.shutdown().await;
}

/// A proxy for an app with digest auth for `alice` (password `secret`, realm `wonderland`)
/// and these further annotations; returns alice's HA1 too.
async fn digest_app(annotations: &[(&str, &str)]) -> (Running, Backend, String) {
    let ha1 = sluice_digest_ha1("alice", "wonderland", "secret");
    let mut all = vec![
        ("auth-type", "digest"),
        ("auth-secret", "htdigest"),
        ("auth-realm", "wonderland"),
    ];
    all.extend_from_slice(annotations);
    let (mut world, echo) = app(&all).await;
    opaque(
        &mut world,
        "htdigest",
        &[("auth", &format!("alice:wonderland:{ha1}\n"))],
    );
    (start(world.table()).await, echo, ha1)
}

/// A digest `Authorization` for GET `uri` answering `challenge`'s nonce (qop=auth).
fn digest_authorization(challenge: &Reply, ha1: &str, uri: &str) -> String {
    let header = challenge.headers["www-authenticate"].to_str().unwrap();
    let nonce = header
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let ha2 = md5_hex(&format!("GET:{uri}"));
    let response = md5_hex(&format!("{ha1}:{nonce}:00000001:abc:auth:{ha2}"));
    format!(
        "Digest username=\"alice\", realm=\"wonderland\", nonce=\"{nonce}\", uri=\"{uri}\", qop=auth, nc=00000001, cnonce=\"abc\", response=\"{response}\""
    )
}

fn md5_hex(text: &str) -> String {
    use md5::Digest;
    md5::Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sluice_digest_ha1(user: &str, realm: &str, password: &str) -> String {
    md5_hex(&format!("{user}:{realm}:{password}"))
}
