//! A TLS Secret whose private key does not belong to its certificate is unusable: the model
//! reports it (`tls_secret_invalid`, naming the Secret field) and the host falls back to the
//! default certificate, for every key encoding and algorithm.

use sluice_ingress_model::build::parse_pem_pair;
use sluice_ingress_model::*;

use super::fixtures::*;

fn fixture(name: &str) -> String {
    let path = format!("{}/../../testdata/tls/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A self-signed certificate and its PKCS#8 key, from rcgen (ring).
fn generated(alg: &'static rcgen::SignatureAlgorithm, name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate_for(alg).unwrap();
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

fn mismatch_reason(cert: &str, key: &str) -> String {
    parse_pem_pair(cert.as_bytes(), key.as_bytes()).unwrap_err()
}

#[test]
fn fixture_keys_match_only_their_own_certificate() {
    let stems = ["rsa-pkcs1", "ec-sec1", "pkcs8"];
    for cert in stems {
        for key in stems {
            let crt = fixture(&format!("{cert}.crt"));
            let pem = fixture(&format!("{key}.key"));
            let result = parse_pem_pair(crt.as_bytes(), pem.as_bytes());
            if cert == key {
                assert!(result.is_ok(), "{cert}: {result:?}");
            } else {
                let reason = result.unwrap_err();
                assert!(
                    reason.contains("does not belong to the certificate"),
                    "{cert} with {key}: {reason}"
                );
            }
        }
    }
}

#[test]
fn generated_keys_of_every_algorithm_are_checked() {
    for alg in [
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_ED25519,
    ] {
        let (cert, key) = generated(alg, "a.example.com");
        let (_, other) = generated(alg, "a.example.com");
        assert!(parse_pem_pair(cert.as_bytes(), key.as_bytes()).is_ok());
        let reason = mismatch_reason(&cert, &other);
        assert!(reason.contains("public keys differ"), "{reason}");
    }
    let (p256, _) = generated(&rcgen::PKCS_ECDSA_P256_SHA256, "a.example.com");
    let (_, ed) = generated(&rcgen::PKCS_ED25519, "a.example.com");
    assert!(mismatch_reason(&p256, &ed).contains("algorithms differ"));
    let (_, p384) = generated(&rcgen::PKCS_ECDSA_P384_SHA384, "a.example.com");
    assert!(mismatch_reason(&p256, &p384).contains("curves differ"));
    let rsa_key = fixture("rsa-pkcs1.key");
    assert!(mismatch_reason(&p256, &rsa_key).contains("the key is RSA"));
}

#[test]
fn key_blocks_that_are_not_keys_are_invalid() {
    let cert = fixture("pkcs8.crt");
    for label in ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"] {
        let key = format!("-----BEGIN {label}-----\nAAECAwQFBgcICQ==\n-----END {label}-----\n");
        let reason = mismatch_reason(&cert, &key);
        assert!(reason.contains("does not parse"), "{label}: {reason}");
    }
}

#[test]
fn mismatched_secret_is_a_diagnostic_and_the_host_keeps_serving() {
    let mut s = services();
    let (cert, key) = (fixture("rsa-pkcs1.crt"), fixture("ec-sec1.key"));
    s.insert_secret(tls_secret("default", "mixed", &cert, &key));
    let mut web = ingress(
        "default",
        "web",
        Some("rsa.example.com"),
        vec![path("/", PathType::Prefix, "svc-a", 80)],
    );
    web.tls.push(IngressTls {
        hosts: vec!["rsa.example.com".into()],
        secret_name: Some("mixed".into()),
    });
    s.insert_ingress(web);
    let built = build_default(&s);
    let found = built
        .diagnostics
        .iter()
        .find(|d| d.kind.code() == "tls_secret_invalid")
        .unwrap_or_else(|| panic!("no tls_secret_invalid in {:#?}", built.diagnostics));
    let web = ObjectRef::new(Kind::Ingress, ObjectKey::new("default", "web"));
    assert_eq!(found.object, web);
    assert_eq!(found.field, "spec.tls[0].secretName");
    assert!(
        found.kind.to_string().contains("does not belong"),
        "{found}"
    );
    let vhost = built.table.virtual_host("rsa.example.com").unwrap();
    assert_eq!(vhost.tls.as_ref().unwrap().certificate, None);
    assert_eq!(
        service_of(built.table.lookup("rsa.example.com", "/x")).as_deref(),
        Some("svc-a")
    );
}
