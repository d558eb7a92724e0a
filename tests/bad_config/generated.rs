//! Cases generated at test time rather than checked in: one Ingress with 10 000 paths, and a
//! YAML file of many megabytes with one broken document in the middle. Both must load, build
//! and route without a crash, report exactly the broken document, and serve everything else.
//!
//! The large file is `SLUICE_LARGE_YAML_BYTES` bytes (default 3 MB, which keeps a debug build
//! quick); run it at 10 MB with
//! `SLUICE_LARGE_YAML_BYTES=10000000 cargo test --release --test bad_config generated`.
//! Each test prints how long loading and building took (never asserted).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use sluice::model::Severity;

use super::support::load;

const PATHS: usize = 10_000;
const DEFAULT_LARGE_YAML_BYTES: usize = 3_000_000;

fn ingress(name: &str, host: &str, paths: &[String]) -> String {
    let mut text = format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: default\n  annotations:\n    nginx.ingress.kubernetes.io/proxy-body-size: 8m\n    nginx.ingress.kubernetes.io/proxy-read-timeout: \"30\"\nspec:\n  ingressClassName: sluice\n  rules:\n  - host: {host}\n    http:\n      paths:\n"
    );
    for path in paths {
        write!(
            text,
            "      - path: {path}\n        pathType: Prefix\n        backend:\n          service:\n            name: good\n            port:\n              number: 80\n"
        )
        .unwrap();
    }
    text
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn ten_thousand_paths_in_one_ingress() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<String> = (0..PATHS).map(|i| format!("/p{i}")).collect();
    let file = write(
        dir.path(),
        "many.yaml",
        &ingress("many", "many.example.com", &paths),
    );
    let start = Instant::now();
    let outcome = load(&[file]);
    eprintln!(
        "{PATHS} paths: loaded, built and compiled in {:?}",
        start.elapsed()
    );
    assert_eq!(outcome.problems(), Vec::<String>::new());
    let vhost = outcome
        .built
        .table
        .virtual_host("many.example.com")
        .unwrap();
    assert_eq!(vhost.routes.len(), PATHS);
    for (path, want) in [
        ("/p0", Some("default/many")),
        ("/p4999/deeper", Some("default/many")),
        ("/p9999", Some("default/many")),
        ("/p10000", None),
        ("/p1x", None),
    ] {
        assert_eq!(
            outcome.served_by("many.example.com", path).as_deref(),
            want,
            "{path}"
        );
    }
    outcome.assert_good_served();
}

#[test]
fn multi_megabyte_yaml_with_one_broken_document() {
    let target: usize = std::env::var("SLUICE_LARGE_YAML_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_LARGE_YAML_BYTES);
    let paths: Vec<String> = (0..4).map(|i| format!("/section-{i}")).collect();
    let mut text = String::with_capacity(target + 4096);
    let mut count = 0;
    let mut broken = None;
    while text.len() < target {
        if count > 0 {
            text.push_str("---\n");
        }
        if broken.is_none() && text.len() >= target / 2 {
            // Half way: a document that is not YAML (an unclosed flow sequence).
            text.push_str("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [broken\n---\n");
            broken = Some(count);
            count += 1;
        }
        let name = format!("big-{count}");
        text.push_str(&ingress(
            &name,
            &format!("h{count}.big.example.com"),
            &paths,
        ));
        count += 1;
    }
    let broken = broken.expect("the file has a middle");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "big.yaml", &text);
    let start = Instant::now();
    let outcome = load(&[file]);
    eprintln!(
        "{} bytes, {count} documents: loaded, built and compiled in {:?}",
        text.len(),
        start.elapsed()
    );
    let problems: Vec<_> = outcome
        .loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Info)
        .collect();
    assert_eq!(problems.len(), 1, "{}", outcome.problems().join("\n"));
    assert_eq!(problems[0].problem.code(), "invalid_yaml");
    assert_eq!(problems[0].document, Some(broken));
    assert_eq!(
        outcome
            .built
            .diagnostics
            .iter()
            .filter(|d| d.severity != Severity::Info)
            .count(),
        0
    );
    assert_eq!(outcome.loaded.snapshot.ingresses.len(), count);
    for i in [0, broken - 1, broken + 1, count - 1] {
        let host = format!("h{i}.big.example.com");
        assert_eq!(
            outcome.served_by(&host, "/section-3/x").as_deref(),
            Some(format!("default/big-{i}").as_str()),
            "{host}"
        );
    }
    outcome.assert_good_served();
}
