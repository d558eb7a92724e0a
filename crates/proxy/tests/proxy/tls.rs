//! HTTPS: SNI picks each host's certificate (PKCS#1, PKCS#8 and SEC1 keys), wildcard hosts, the
//! default certificate for unknown names, and h2 or HTTP/1.1 by ALPN.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::support::*;

/// The leaf certificate of a fixture, DER.
fn fixture_leaf(name: &str) -> Vec<u8> {
    let pem = fixture_bytes(&format!("{name}.crt"));
    CertificateDer::pem_slice_iter(&pem)
        .next()
        .unwrap()
        .unwrap()
        .to_vec()
}

/// Three HTTPS hosts, one per key encoding, plus a wildcard host, all on one echo backend.
async fn world() -> (Backend, World) {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .secret("rsa", "rsa-pkcs1")
        .secret("ec", "ec-sec1")
        .secret("pkcs8", "pkcs8")
        .ingress("rsa", Some("rsa.example.com"), &[("/", "echo")])
        .tls("rsa", &["rsa.example.com"], "rsa")
        .ingress("ec", Some("ec.example.com"), &[("/", "echo")])
        .tls("ec", &["ec.example.com"], "ec")
        .ingress("wild", Some("*.ec.example.com"), &[("/", "echo")])
        .tls("wild", &["*.ec.example.com"], "ec")
        .ingress("pkcs8", Some("pkcs8.example.com"), &[("/", "echo")])
        .tls("pkcs8", &["pkcs8.example.com"], "pkcs8");
    (echo, world)
}

#[tokio::test]
async fn sni_selects_the_certificate_of_each_host_and_key_encoding() {
    let (_echo, world) = world().await;
    let proxy = start(world.table()).await;
    let cases = [
        ("rsa.example.com", "rsa-pkcs1"),
        ("ec.example.com", "ec-sec1"),
        ("api.ec.example.com", "ec-sec1"),
        ("pkcs8.example.com", "pkcs8"),
    ];
    for (host, fixture) in cases {
        let got = tls_get(proxy.https, host, &[b"http/1.1"], "/").await;
        assert!(
            got.certificate == fixture_leaf(fixture),
            "{host} got the wrong certificate"
        );
        assert_eq!(got.reply.status, 200, "{host}");
        assert_eq!(got.reply.seen_one("host"), host);
        assert_eq!(got.reply.seen_one("x-forwarded-proto"), "https");
        assert_eq!(got.reply.seen_one("x-scheme"), "https");
        // The HTTPS listener's port is reported as 443, as ingress-nginx's `$pass_port` does.
        assert_eq!(got.reply.seen_one("x-forwarded-port"), "443");
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn unknown_names_get_the_generated_default_certificate() {
    let (_echo, world) = world().await;
    let proxy = start(world.table()).await;
    let got = tls_get(proxy.https, "unknown.example.org", &[b"http/1.1"], "/").await;
    assert!(contains(&got.certificate, b"sluice default certificate"));
    assert_eq!(got.reply.status, 404);
    // Two levels below a wildcard is not covered by it.
    let deep = tls_get(proxy.https, "a.b.ec.example.com", &[b"http/1.1"], "/").await;
    assert!(contains(&deep.certificate, b"sluice default certificate"));
    proxy.shutdown().await;
}

#[tokio::test]
async fn the_table_default_certificate_replaces_the_generated_one() {
    let (_echo, mut world) = world().await;
    world.options.default_certificate = Some(sluice_ingress_model::ObjectKey::new(NS, "pkcs8"));
    let proxy = start(world.table()).await;
    let got = tls_get(proxy.https, "unknown.example.org", &[b"http/1.1"], "/").await;
    assert!(got.certificate == fixture_leaf("pkcs8"));
    proxy.shutdown().await;
}

#[tokio::test]
async fn alpn_negotiates_h2_or_http1() {
    let (_echo, world) = world().await;
    let proxy = start(world.table()).await;
    let h2 = tls_get(proxy.https, "rsa.example.com", &[b"h2", b"http/1.1"], "/x").await;
    assert_eq!(h2.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(h2.reply.status, 200);
    assert_eq!(h2.reply.json()["path"], "/x");
    assert_eq!(h2.reply.seen_one("host"), "rsa.example.com");
    let h1 = tls_get(proxy.https, "rsa.example.com", &[b"http/1.1"], "/y").await;
    assert_eq!(h1.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(h1.reply.json()["path"], "/y");
    proxy.shutdown().await;
}

#[tokio::test]
async fn rotated_certificates_are_served_to_new_handshakes() {
    let (_echo, mut world) = world().await;
    let proxy = start(world.table()).await;
    let before = tls_get(proxy.https, "rsa.example.com", &[b"http/1.1"], "/").await;
    assert!(before.certificate == fixture_leaf("rsa-pkcs1"));

    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["rsa.example.com".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let secret = world
        .snapshot
        .secrets
        .get_mut(&sluice_ingress_model::ObjectKey::new(NS, "rsa"))
        .unwrap();
    secret
        .data
        .insert("tls.crt".into(), cert.pem().into_bytes());
    secret
        .data
        .insert("tls.key".into(), key.serialize_pem().into_bytes());
    proxy.handle.apply(world.table()).unwrap();

    let after = tls_get(proxy.https, "rsa.example.com", &[b"http/1.1"], "/").await;
    assert!(after.certificate == cert.der().to_vec());
    proxy.shutdown().await;
}
