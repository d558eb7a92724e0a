//! HTTPS through the binary: SNI picks each host's certificate (verified by a real client
//! against the test CA), a wildcard host, the generated and the configured default
//! certificates, a missing Secret falling back to the default, and rotation by editing YAML.

use super::support::*;

const ALPN_BOTH: &[&[u8]] = &[b"h2", b"http/1.1"];
const ALPN_H1: &[&[u8]] = &[b"http/1.1"];

/// An Ingress `name` for `host` → Service `service` port 80, with a TLS entry naming `secret`.
fn tls_ingress(name: &str, host: &str, service: &str, secret: &str) -> String {
    format!(
        "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
spec:
  ingressClassName: sluice
  tls:
  - hosts:
    - \"{host}\"
    secretName: {secret}
  rules:
  - host: \"{host}\"
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: {service}
            port:
              number: 80
"
    )
}

#[tokio::test]
async fn sni_serves_each_hosts_certificate_and_the_default_for_unknown_names() {
    let b = backends(&["one", "two", "wild"]).await;
    let ca = Ca::new();
    let one = ca.issue(&["one.example.com"]);
    let two = ca.issue(&["two.example.com"]);
    let wild = ca.issue(&["*.apps.example.com"]);
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file(
            "secrets.yaml",
            documents(&[
                &tls_secret("one-tls", &one),
                &tls_secret("two-tls", &two),
                &tls_secret("wild-tls", &wild),
            ]),
        )
        .file(
            "ingress.yaml",
            documents(&[
                &tls_ingress("one", "one.example.com", "one", "one-tls"),
                &tls_ingress("two", "two.example.com", "two", "two-tls"),
                &tls_ingress("wild", "*.apps.example.com", "wild", "wild-tls"),
            ]),
        )
        .start()
        .await;
    let trust = Trust::Root(ca.der());
    for (sni, cert, service) in [
        ("one.example.com", &one, "one"),
        ("two.example.com", &two, "two"),
        ("shop.apps.example.com", &wild, "wild"),
    ] {
        for alpn in [ALPN_H1, ALPN_BOTH] {
            let got = tls_request(gw.https, sni, &trust, alpn, "GET", "/x", empty())
                .await
                .unwrap_or_else(|e| panic!("{sni}: {e}"));
            assert!(got.certificate == cert.der, "{sni} got another certificate");
            assert_eq!(got.reply.status, 200, "{sni}");
            assert_eq!(served_by(&got.reply), service, "{sni}");
            assert_eq!(got.reply.json()["path"], "/x");
            assert_eq!(got.reply.seen_one("x-forwarded-proto"), "https");
        }
    }
    // A name no Ingress has: the generated default certificate, which the CA did not sign.
    let unknown = tls_get(gw.https, "unknown.example.org", ALPN_H1, "/").await;
    assert!(contains(
        &unknown.certificate,
        b"sluice default certificate"
    ));
    assert_eq!(unknown.reply.status, 404);
    let refused = tls_request(
        gw.https,
        "unknown.example.org",
        &trust,
        ALPN_H1,
        "GET",
        "/",
        empty(),
    )
    .await;
    assert!(refused.is_err(), "a verifying client must reject it");
    // One label below the wildcard's label is not covered.
    let deep = tls_get(gw.https, "a.shop.apps.example.com", ALPN_H1, "/").await;
    assert!(contains(&deep.certificate, b"sluice default certificate"));
    // Plain HTTP to a host with TLS is redirected to HTTPS (ingress-nginx's default
    // `ssl-redirect: "true"`, annotations.md#server-side-https-enforcement-through-redirect).
    let plain = get(gw.http, "one.example.com", "/x").await;
    assert_eq!(plain.status, 308);
    assert_eq!(plain.headers["location"], "https://one.example.com/x");
}

#[tokio::test]
async fn default_ssl_certificate_flag_covers_unknown_names_and_missing_secrets() {
    let b = backends(&["app", "lost"]).await;
    let ca = Ca::new();
    let fallback = ca.issue(&["fallback.example.com"]);
    let app = ca.issue(&["app.example.com"]);
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file(
            "secrets.yaml",
            documents(&[
                &tls_secret("fallback-tls", &fallback),
                &tls_secret("app-tls", &app),
            ]),
        )
        .file(
            "ingress.yaml",
            documents(&[
                &tls_ingress("app", "app.example.com", "app", "app-tls"),
                &tls_ingress("lost", "lost.example.com", "lost", "no-such-secret"),
            ]),
        )
        .arg("--default-ssl-certificate=default/fallback-tls")
        .start()
        .await;
    let app_tls = tls_get(gw.https, "app.example.com", ALPN_BOTH, "/").await;
    assert!(app_tls.certificate == app.der);
    let unknown = tls_get(gw.https, "unknown.example.org", ALPN_BOTH, "/").await;
    assert!(unknown.certificate == fallback.der);
    // A missing Secret: the default certificate, and the host is still served.
    let lost = tls_get(gw.https, "lost.example.com", ALPN_BOTH, "/").await;
    assert!(lost.certificate == fallback.der);
    assert_eq!(lost.reply.status, 200);
    assert_eq!(served_by(&lost.reply), "lost");
    let log = format!("{:?}", gw.log());
    assert!(
        log.contains("no-such-secret"),
        "the missing Secret is reported: {log}"
    );
}

#[tokio::test]
async fn editing_the_secret_rotates_the_certificate() {
    let b = backends(&["app"]).await;
    let ca = Ca::new();
    let (old, new) = (
        ca.issue(&["app.example.com"]),
        ca.issue(&["app.example.com"]),
    );
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file("secret.yaml", tls_secret("app-tls", &old))
        .file(
            "ingress.yaml",
            tls_ingress("app", "app.example.com", "app", "app-tls"),
        )
        .start()
        .await;
    let before = tls_get(gw.https, "app.example.com", ALPN_BOTH, "/").await;
    assert!(before.certificate == old.der);
    gw.replace("secret.yaml", &tls_secret("app-tls", &new));
    gw.wait_applied(2).await;
    let after = tls_get(gw.https, "app.example.com", ALPN_BOTH, "/").await;
    assert!(after.certificate == new.der);
    assert_eq!(after.reply.status, 200);
}
