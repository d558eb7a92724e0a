//! TLS settings (§1.2, §2.4): client-certificate authentication per host in every
//! `auth-tls-verify-client` mode, the `ssl-client-*` headers, `auth-tls-error-page`,
//! `auth-tls-match-cn`; `ssl-protocols`, `ssl-reject-handshake`, `use-http2`, per-host
//! `ssl-ciphers` and HSTS.

use super::support::*;

/// Host `mtls.example.com` requiring client certificates from `ca`, and `plain.example.com`
/// without; both on the `pkcs8` fixture certificate.
async fn mtls_world(ca: &Ca, annotations: &[(&str, &str)]) -> (Backend, Running) {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .secret("tls", "pkcs8")
        .secret_data("client-ca", "Opaque", &[("ca.crt", ca.pem().as_bytes())])
        .ingress("mtls", Some("mtls.example.com"), &[("/", "echo")])
        .tls("mtls", &["mtls.example.com"], "tls")
        .annotate("mtls", "auth-tls-secret", "default/client-ca")
        .ingress("plain", Some("plain.example.com"), &[("/", "echo")])
        .tls("plain", &["plain.example.com"], "tls");
    for (key, value) in annotations {
        world.annotate("mtls", key, value);
    }
    let proxy = start(world.table()).await;
    (echo, proxy)
}

#[tokio::test]
async fn verify_on_requires_a_valid_certificate() {
    let ca = Ca::new("Test Client CA");
    let good = ca.client("alice");
    let stranger = Ca::new("Other CA").client("mallory");
    let (echo, proxy) = mtls_world(&ca, &[("auth-tls-pass-certificate-to-upstream", "true")]).await;

    let missing = https_get(proxy.https, "mtls.example.com", "/", None)
        .await
        .unwrap();
    assert_eq!(missing.status, 400);
    assert!(
        missing
            .text()
            .contains("No required SSL certificate was sent")
    );
    let wrong = https_get(proxy.https, "mtls.example.com", "/", Some(&stranger))
        .await
        .unwrap();
    assert_eq!(wrong.status, 400);
    assert!(wrong.text().contains("The SSL certificate error"));
    assert_eq!(echo.hits(), 0);

    let ok = https_get(proxy.https, "mtls.example.com", "/", Some(&good))
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.seen_one("ssl-client-verify"), "SUCCESS");
    assert_eq!(ok.seen_one("ssl-client-subject-dn"), "CN=alice,O=Clients");
    assert_eq!(
        ok.seen_one("ssl-client-issuer-dn"),
        "CN=Test Client CA,O=Sluice Tests"
    );
    let escaped = ok.seen_one("ssl-client-cert");
    assert!(
        escaped.starts_with("-----BEGIN%20CERTIFICATE-----%0A"),
        "{escaped}"
    );
    let decoded = percent_decode(&escaped);
    assert_eq!(
        decoded.trim_end(),
        good.cert_pem.trim_end().replace("\r\n", "\n")
    );

    // A host without client certificates is unaffected and gets no ssl-client-* headers.
    let plain = https_get(proxy.https, "plain.example.com", "/", None)
        .await
        .unwrap();
    assert_eq!(plain.status, 200);
    assert!(plain.seen("ssl-client-verify").is_empty());
    proxy.shutdown().await;
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn optional_allows_no_certificate_but_refuses_an_invalid_one() {
    let ca = Ca::new("Test Client CA");
    let stranger = Ca::new("Other CA").client("mallory");
    let (_echo, proxy) = mtls_world(&ca, &[("auth-tls-verify-client", "optional")]).await;
    let none = https_get(proxy.https, "mtls.example.com", "/", None)
        .await
        .unwrap();
    assert_eq!(none.status, 200);
    assert_eq!(none.seen_one("ssl-client-verify"), "NONE");
    assert!(none.seen("ssl-client-cert").is_empty());
    let wrong = https_get(proxy.https, "mtls.example.com", "/", Some(&stranger))
        .await
        .unwrap();
    assert_eq!(wrong.status, 400);
    proxy.shutdown().await;
}

#[tokio::test]
async fn optional_no_ca_passes_the_result_upstream() {
    let ca = Ca::new("Test Client CA");
    let stranger = Ca::new("Other CA").client("mallory");
    let (_echo, proxy) = mtls_world(&ca, &[("auth-tls-verify-client", "optional_no_ca")]).await;
    let reply = https_get(proxy.https, "mtls.example.com", "/", Some(&stranger))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    let verify = reply.seen_one("ssl-client-verify");
    assert!(verify.starts_with("FAILED:"), "{verify}");
    assert_eq!(
        reply.seen_one("ssl-client-subject-dn"),
        "CN=mallory,O=Clients"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn error_page_redirects_and_match_cn_forbids() {
    let ca = Ca::new("Test Client CA");
    let (_echo, proxy) = mtls_world(
        &ca,
        &[
            ("auth-tls-error-page", "https://errors.example.com/cert"),
            ("auth-tls-match-cn", "CN=(alice|bob)"),
        ],
    )
    .await;
    let missing = https_get(proxy.https, "mtls.example.com", "/", None)
        .await
        .unwrap();
    assert_eq!(missing.status, 302);
    assert_eq!(
        missing.headers["location"],
        "https://errors.example.com/cert"
    );
    let alice = https_get(
        proxy.https,
        "mtls.example.com",
        "/",
        Some(&ca.client("alice")),
    )
    .await
    .unwrap();
    assert_eq!(alice.status, 200);
    let carol = https_get(
        proxy.https,
        "mtls.example.com",
        "/",
        Some(&ca.client("carol")),
    )
    .await
    .unwrap();
    assert_eq!(carol.status, 403);
    assert_eq!(carol.text(), "client certificate unauthorized");
    proxy.shutdown().await;
}

#[tokio::test]
async fn verify_depth_counts_the_intermediates() {
    let root = Ca::new("Root CA");
    let direct = root.client("alice");
    let via_intermediate = root.intermediate("Issuing CA").client("bob");
    let (_echo, proxy) = mtls_world(&root, &[]).await;
    // The default depth 1 allows a certificate issued by the CA itself only.
    let ok = https_get(proxy.https, "mtls.example.com", "/", Some(&direct))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    let deep = https_get(
        proxy.https,
        "mtls.example.com",
        "/",
        Some(&via_intermediate),
    )
    .await
    .unwrap();
    assert_eq!(deep.status, 400);
    proxy.shutdown().await;
    let (_echo, proxy) = mtls_world(&root, &[("auth-tls-verify-depth", "2")]).await;
    let deep = https_get(
        proxy.https,
        "mtls.example.com",
        "/",
        Some(&via_intermediate),
    )
    .await
    .unwrap();
    assert_eq!(deep.status, 200, "{}", deep.text());
    assert_eq!(deep.seen_one("ssl-client-issuer-dn"), "CN=Issuing CA");
    proxy.shutdown().await;
}

async fn tls_world(config: &[(&str, &str)]) -> (Backend, Running) {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .secret("tls", "rsa-pkcs1")
        .ingress("a", Some("a.example.com"), &[("/", "echo")])
        .tls("a", &["a.example.com"], "tls")
        .ingress("b", Some("rsa.example.com"), &[("/", "echo")])
        .tls("b", &["rsa.example.com"], "tls")
        .annotate("b", "ssl-ciphers", "ECDHE-RSA-AES256-GCM-SHA384");
    for (key, value) in config {
        world.configmap(key, value);
    }
    (echo, start(world.table()).await)
}

#[tokio::test]
async fn ssl_protocols_limit_the_versions() {
    let (_echo, proxy) = tls_world(&[("ssl-protocols", "TLSv1.3")]).await;
    let tls12 = client_config(&[b"http/1.1"], None, Some(&[&rustls::version::TLS12]));
    assert!(
        tls_connect(proxy.https, "a.example.com", tls12)
            .await
            .is_err()
    );
    let tls13 = client_config(&[b"http/1.1"], None, Some(&[&rustls::version::TLS13]));
    assert!(
        tls_connect(proxy.https, "a.example.com", tls13)
            .await
            .is_ok()
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn per_host_ciphers_apply_to_that_host_only() {
    let (_echo, proxy) = tls_world(&[]).await;
    let tls12 = client_config(&[b"http/1.1"], None, Some(&[&rustls::version::TLS12]));
    let a = tls_connect(proxy.https, "a.example.com", tls12.clone())
        .await
        .unwrap();
    let b = tls_connect(proxy.https, "rsa.example.com", tls12)
        .await
        .unwrap();
    let suite = |s: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>| {
        s.get_ref()
            .1
            .negotiated_cipher_suite()
            .unwrap()
            .suite()
            .as_str()
            .unwrap()
            .to_owned()
    };
    // The certificate has an RSA key; host b allows a single RSA suite.
    let b_suite = suite(&b);
    assert_eq!(b_suite, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
    assert_ne!(suite(&a), "");
    proxy.shutdown().await;
}

#[tokio::test]
async fn reject_handshake_refuses_unknown_names() {
    let (_echo, proxy) = tls_world(&[("ssl-reject-handshake", "true")]).await;
    let config = client_config(&[b"http/1.1"], None, None);
    assert!(
        tls_connect(proxy.https, "unknown.example.org", config.clone())
            .await
            .is_err()
    );
    assert!(
        tls_connect(proxy.https, "a.example.com", config)
            .await
            .is_ok()
    );
    proxy.shutdown().await;
    let (_echo, proxy) = tls_world(&[]).await;
    let config = client_config(&[b"http/1.1"], None, None);
    assert!(
        tls_connect(proxy.https, "unknown.example.org", config)
            .await
            .is_ok()
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn use_http2_false_offers_only_http1() {
    let (_echo, proxy) = tls_world(&[("use-http2", "false")]).await;
    let config = client_config(&[b"h2", b"http/1.1"], None, None);
    let tls = tls_connect(proxy.https, "a.example.com", config.clone())
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    proxy.shutdown().await;
    let (_echo, proxy) = tls_world(&[]).await;
    let tls = tls_connect(proxy.https, "a.example.com", config)
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    proxy.shutdown().await;
}

#[tokio::test]
async fn hsts_is_sent_on_https_only_with_the_configured_value() {
    let (_echo, proxy) = tls_world(&[("hsts-max-age", "600"), ("hsts-preload", "true")]).await;
    let secure = https_get(proxy.https, "a.example.com", "/", None)
        .await
        .unwrap();
    assert_eq!(
        secure.headers["strict-transport-security"],
        "max-age=600; includeSubDomains; preload"
    );
    let plain = get(
        proxy.http,
        "rsa.example.com",
        "/.well-known/acme-challenge/x",
    )
    .await;
    assert!(!plain.headers.contains_key("strict-transport-security"));
    proxy.shutdown().await;
    let (_echo, proxy) = tls_world(&[("hsts", "false")]).await;
    let off = https_get(proxy.https, "a.example.com", "/", None)
        .await
        .unwrap();
    assert!(!off.headers.contains_key("strict-transport-security"));
    proxy.shutdown().await;
}
