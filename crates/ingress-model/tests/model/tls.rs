//! TLS Secrets: every key encoding, certificate selection per host, and every way a Secret can
//! be unusable — each falls back to the default certificate without touching the routes.

use sluice_ingress_model::PathType::Prefix;
use sluice_ingress_model::*;

use super::fixtures::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/../../testdata/tls/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn tls_ingress(host: &str, secret: Option<&str>) -> Ingress {
    let mut ing = ingress(
        "default",
        "web",
        Some(host),
        vec![path("/", Prefix, "svc-a", 80)],
    );
    ing.tls.push(IngressTls {
        hosts: vec![host.into()],
        secret_name: secret.map(Into::into),
    });
    ing
}

fn host_certificate(built: &Built, host: &str) -> Option<ObjectKey> {
    let vhost = built.table.virtual_host(host).expect("virtual host");
    vhost.tls.as_ref().expect("tls").certificate.clone()
}

#[test]
fn pkcs1_sec1_and_pkcs8_keys_parse() {
    for (stem, host, format) in [
        ("rsa-pkcs1", "rsa.example.com", KeyFormat::Pkcs1),
        ("ec-sec1", "ec.example.com", KeyFormat::Sec1),
        ("pkcs8", "pkcs8.example.com", KeyFormat::Pkcs8),
    ] {
        let mut s = services();
        s.insert_secret(tls_secret(
            "default",
            "cert",
            &fixture(&format!("{stem}.crt")),
            &fixture(&format!("{stem}.key")),
        ));
        s.insert_ingress(tls_ingress(host, Some("cert")));
        let built = build_default(&s);
        assert!(
            built
                .diagnostics
                .iter()
                .all(|d| d.severity == Severity::Info),
            "{stem}: {:?}",
            built.diagnostics
        );
        assert_eq!(
            host_certificate(&built, host),
            Some(ObjectKey::new("default", "cert"))
        );
        let cert = &built.table.routes.certificates[&ObjectKey::new("default", "cert")];
        assert_eq!(cert.key.format, format, "{stem}");
        assert!(cert.names.contains(&host.to_owned()));
        assert!(cert.not_after > 4_000_000_000);
    }
}

#[test]
fn an_opaque_secret_with_a_certificate_pair_serves_like_a_tls_one() {
    // ingress-nginx reads tls.crt and tls.key whatever the Secret's type.
    let mut s = services();
    let mut secret = tls_secret(
        "default",
        "cert",
        &fixture("ec-sec1.crt"),
        &fixture("ec-sec1.key"),
    );
    secret.secret_type = "Opaque".into();
    s.insert_secret(secret);
    s.insert_ingress(tls_ingress("a.ec.example.com", Some("cert")));
    let built = build_default(&s);
    assert_eq!(
        host_certificate(&built, "a.ec.example.com"),
        Some(ObjectKey::new("default", "cert"))
    );
    assert!(
        built
            .diagnostics
            .iter()
            .all(|d| !d.kind.code().starts_with("tls_")),
        "{:?}",
        built.diagnostics
    );
}

#[test]
fn wildcard_certificate_covers_one_label() {
    let mut s = services();
    s.insert_secret(tls_secret(
        "default",
        "cert",
        &fixture("ec-sec1.crt"),
        &fixture("ec-sec1.key"),
    ));
    s.insert_ingress(tls_ingress("a.ec.example.com", Some("cert")));
    let built = build_default(&s);
    assert_eq!(
        host_certificate(&built, "a.ec.example.com"),
        Some(ObjectKey::new("default", "cert"))
    );
}

#[test]
fn unlisted_rule_host_gets_a_covering_certificate_of_its_ingress() {
    let mut s = services();
    s.insert_secret(tls_secret(
        "default",
        "cert",
        &fixture("ec-sec1.crt"),
        &fixture("ec-sec1.key"),
    ));
    let mut ing = ingress(
        "default",
        "web",
        Some("ec.example.com"),
        vec![path("/", Prefix, "svc-a", 80)],
    );
    ing.tls.push(IngressTls {
        hosts: vec![],
        secret_name: Some("cert".into()),
    });
    s.insert_ingress(ing);
    let built = build_default(&s);
    assert_eq!(
        host_certificate(&built, "ec.example.com"),
        Some(ObjectKey::new("default", "cert"))
    );
}

/// Every broken-Secret case: the host still routes, TLS falls back to the default certificate,
/// and a diagnostic names the Ingress and the field.
#[test]
fn unusable_secrets_fall_back_to_the_default_certificate() {
    let good_crt = fixture("pkcs8.crt");
    let good_key = fixture("pkcs8.key");
    let mut wrong_type = tls_secret("default", "cert", &good_crt, &good_key);
    wrong_type.secret_type = "kubernetes.io/dockerconfigjson".into();
    wrong_type.data = [(".dockerconfigjson".to_owned(), b"{}".to_vec())].into();
    let cases: Vec<(&str, Option<Secret>, &str)> = vec![
        ("missing", None, "tls_secret_not_found"),
        ("wrong type", Some(wrong_type), "tls_secret_wrong_type"),
        (
            "garbage pem",
            Some(tls_secret(
                "default",
                "cert",
                "not a certificate",
                "nor a key",
            )),
            "tls_secret_invalid",
        ),
        (
            "key only",
            Some(tls_secret("default", "cert", "", &good_key)),
            "tls_secret_invalid",
        ),
        (
            "cert only",
            Some(tls_secret("default", "cert", &good_crt, "")),
            "tls_secret_invalid",
        ),
        (
            "cert as key",
            Some(tls_secret("default", "cert", &good_crt, &good_crt)),
            "tls_secret_invalid",
        ),
        (
            "corrupt base64 body",
            Some(tls_secret(
                "default",
                "cert",
                "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n",
                &good_key,
            )),
            "tls_secret_invalid",
        ),
        (
            "der garbage",
            Some(tls_secret(
                "default",
                "cert",
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                &good_key,
            )),
            "tls_secret_invalid",
        ),
        (
            "other host",
            Some(tls_secret(
                "default",
                "cert",
                &fixture("rsa-pkcs1.crt"),
                &fixture("rsa-pkcs1.key"),
            )),
            "certificate_host_mismatch",
        ),
    ];
    for (name, secret, code) in cases {
        let mut s = services();
        if let Some(secret) = secret {
            s.insert_secret(secret);
        }
        s.insert_ingress(tls_ingress("pkcs8.example.com", Some("cert")));
        s.insert_ingress(ingress(
            "default",
            "other",
            Some("other.com"),
            vec![path("/", Prefix, "svc-b", 80)],
        ));
        let built = build_default(&s);
        let diag = built
            .diagnostics
            .iter()
            .find(|d| d.kind.code() == code)
            .unwrap_or_else(|| panic!("{name}: {:?}", built.diagnostics));
        assert_eq!(diag.severity, Severity::Warning, "{name}");
        assert_eq!(
            diag.object,
            ObjectRef::new(Kind::Ingress, ObjectKey::new("default", "web")),
            "{name}"
        );
        assert!(
            diag.field.starts_with("spec.tls[0]"),
            "{name}: {}",
            diag.field
        );
        assert_eq!(
            host_certificate(&built, "pkcs8.example.com"),
            None,
            "{name}"
        );
        assert!(built.table.routes.certificates.is_empty(), "{name}");
        assert_eq!(
            service_of(built.table.lookup("pkcs8.example.com", "/")).as_deref(),
            Some("svc-a"),
            "{name}"
        );
        assert_eq!(
            service_of(built.table.lookup("other.com", "/")).as_deref(),
            Some("svc-b"),
            "{name}"
        );
    }
}

#[test]
fn expired_certificate_is_served_with_a_warning() {
    let mut params = rcgen::CertificateParams::new(vec!["old.example.com".to_owned()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let mut s = services();
    s.insert_secret(tls_secret(
        "default",
        "cert",
        &cert.pem(),
        &key.serialize_pem(),
    ));
    s.insert_ingress(tls_ingress("old.example.com", Some("cert")));
    let opts = BuildOptions {
        now: Some(1_800_000_000),
        ..BuildOptions::default()
    };
    let built = build(&s, &opts);
    let diag = built
        .diagnostics
        .iter()
        .find(|d| d.kind.code() == "certificate_expired")
        .expect("expiry diagnostic");
    assert_eq!(diag.severity, Severity::Warning);
    assert_eq!(
        host_certificate(&built, "old.example.com"),
        Some(ObjectKey::new("default", "cert"))
    );
    // Without a clock the model says nothing about expiry.
    assert!(
        build_default(&s)
            .diagnostics
            .iter()
            .all(|d| d.kind.code() != "certificate_expired")
    );
}

#[test]
fn tls_entry_without_secret_uses_the_default_certificate() {
    let mut s = services();
    s.insert_ingress(tls_ingress("x.example.com", None));
    let built = build_default(&s);
    assert!(
        built
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Info)
    );
    assert_eq!(host_certificate(&built, "x.example.com"), None);
}

#[test]
fn oldest_ingress_owns_a_hosts_tls() {
    let mut s = services();
    s.insert_secret(tls_secret(
        "default",
        "one",
        &fixture("pkcs8.crt"),
        &fixture("pkcs8.key"),
    ));
    s.insert_secret(tls_secret(
        "default",
        "two",
        &fixture("pkcs8.crt"),
        &fixture("pkcs8.key"),
    ));
    let mut first = tls_ingress("pkcs8.example.com", Some("one"));
    first.key.name = "first".into();
    first.created = Some(1);
    let mut second = tls_ingress("pkcs8.example.com", Some("two"));
    second.key.name = "second".into();
    second.created = Some(2);
    second.rules[0].paths[0].path = Some("/two".into());
    s.insert_ingress(second);
    s.insert_ingress(first);
    let built = build_default(&s);
    assert_eq!(
        host_certificate(&built, "pkcs8.example.com"),
        Some(ObjectKey::new("default", "one"))
    );
    let diag = built
        .diagnostics
        .iter()
        .find(|d| d.kind.code() == "tls_conflict")
        .unwrap();
    assert_eq!(diag.object.key.name, "second");
}

#[test]
fn default_certificate_is_validated() {
    let mut s = services();
    s.insert_secret(tls_secret(
        "kube-system",
        "default-cert",
        &fixture("pkcs8.crt"),
        &fixture("pkcs8.key"),
    ));
    let good = BuildOptions {
        default_certificate: Some(ObjectKey::new("kube-system", "default-cert")),
        ..BuildOptions::default()
    };
    let built = build(&s, &good);
    assert_eq!(
        built.table.routes.default_certificate,
        good.default_certificate
    );
    assert!(
        built
            .table
            .routes
            .certificates
            .contains_key(&ObjectKey::new("kube-system", "default-cert"))
    );
    let missing = BuildOptions {
        default_certificate: Some(ObjectKey::new("kube-system", "nope")),
        ..BuildOptions::default()
    };
    let built = build(&s, &missing);
    assert_eq!(built.table.routes.default_certificate, None);
    assert!(
        built
            .diagnostics
            .iter()
            .any(|d| d.kind.code() == "tls_secret_not_found"
                && d.field == "--default-ssl-certificate")
    );
}

#[test]
fn key_material_is_never_serialised_or_printed() {
    let mut s = services();
    let key = fixture("pkcs8.key");
    s.insert_secret(tls_secret("default", "cert", &fixture("pkcs8.crt"), &key));
    s.insert_ingress(tls_ingress("pkcs8.example.com", Some("cert")));
    let built = build_default(&s);
    let json = serde_json::to_string(&built).unwrap();
    let debug = format!("{built:?} {s:?}");
    let body_line = key.lines().nth(1).unwrap();
    assert!(!json.contains(body_line) && !debug.contains(body_line));
    let der = &built.table.routes.certificates[&ObjectKey::new("default", "cert")]
        .key
        .der;
    assert!(!json.contains(&format!("{:?}", &der[..8])));
}
