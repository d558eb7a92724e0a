//! The checked-in cases, one test each.

use std::fs;

use serde_json::Value;

use super::support::{check, corpus, load};

/// Every case directory: adding one without a test here fails `every_case_is_tested`.
const CASES: &[&str] = &[
    "conflicting-host-path",
    "duplicate-objects",
    "expired-certificate",
    "garbage-pem",
    "invalid-annotations",
    "invalid-regex",
    "key-cert-mismatch",
    "non-tls-secret",
    "unknown-named-port",
    "unknown-service",
    "wrong-api-version",
];

fn case(name: &str) {
    let dir = corpus().join(name);
    let text = fs::read_to_string(dir.join("expected.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    let outcome = load(&[dir]);
    check(name, &outcome, &expected);
}

#[test]
fn every_case_is_tested() {
    let mut dirs: Vec<String> = fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, CASES);
}

#[test]
fn the_good_manifest_alone_is_clean() {
    let outcome = load(&[]);
    assert_eq!(outcome.problems(), Vec::<String>::new());
    outcome.assert_good_served();
}

#[test]
fn conflicting_host_path() {
    case("conflicting-host-path");
}

#[test]
fn duplicate_objects() {
    case("duplicate-objects");
}

#[test]
fn expired_certificate() {
    case("expired-certificate");
}

#[test]
fn garbage_pem() {
    case("garbage-pem");
}

#[test]
fn invalid_annotations() {
    case("invalid-annotations");
}

#[test]
fn invalid_regex() {
    case("invalid-regex");
}

#[test]
fn key_cert_mismatch() {
    case("key-cert-mismatch");
}

#[test]
fn non_tls_secret() {
    case("non-tls-secret");
}

#[test]
fn unknown_named_port() {
    case("unknown-named-port");
}

#[test]
fn unknown_service() {
    case("unknown-service");
}

#[test]
fn wrong_api_version() {
    case("wrong-api-version");
}

#[test]
fn all_cases_at_once() {
    // Every case in one load: the findings of one never hide another's good routes.
    let dirs: Vec<_> = CASES.iter().map(|c| corpus().join(c)).collect();
    let outcome = load(&dirs);
    outcome.assert_good_served();
    assert_eq!(
        outcome.served_by("expired.example.com", "/").as_deref(),
        Some("default/old")
    );
}
