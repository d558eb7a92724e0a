//! ingress-nginx's annotation processing rules (§0): prefix, unknown names, aliases, snippets,
//! the word blocklist, the risk level, canary subsets.

use sluice_ingress_model::annotations::{self, Status};
use sluice_ingress_model::*;

use super::fixtures::*;

#[test]
fn unknown_annotations_under_the_prefix_are_info_and_ignored() {
    let mut s = with_good();
    let mut ing = annotated("ing", "a.com", &[("no-such-thing", "1")]);
    ing.annotations
        .insert("example.com/other".into(), "x".into());
    s.insert_ingress(ing);
    let built = build_default(&s);
    let unknown = codes_for(&built, "ing", "unknown_annotation");
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].severity, Severity::Info);
    assert!(built.table.lookup("a.com", "/").is_some());
}

#[test]
fn a_custom_prefix_is_read_and_the_default_prefix_then_rejects() {
    let mut s = with_good();
    let mut ing = annotated("ing", "a.com", &[]);
    ing.annotations
        .insert("custom.io/proxy-body-size".into(), "5m".into());
    s.insert_ingress(ing);
    let opts = BuildOptions {
        annotation_prefix: "custom.io".into(),
        ..BuildOptions::default()
    };
    let built = build(&s, &opts);
    assert_eq!(
        route_of(&built, "a.com", "/").policy.request_body.max_bytes,
        Some(5 << 20)
    );
    let mut legacy = annotated("ing", "a.com", &[("proxy-body-size", "5m")]);
    legacy
        .annotations
        .insert("custom.io/ssl-redirect".into(), "false".into());
    s.insert_ingress(legacy);
    let built = build(&s, &opts);
    assert_eq!(codes_for(&built, "ing", "invalid_annotation").len(), 1);
    assert!(built.table.lookup("a.com", "/").is_none());
    assert!(good_served(&built));
}

#[test]
fn aliases_work_and_the_canonical_name_wins() {
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[
            ("whitelist-source-range", "10.0.0.0/8"),
            ("allowlist-source-range", "192.168.0.0/16"),
            ("limit-whitelist", "172.16.0.0/12"),
        ],
    ));
    let built = build_default(&s);
    let policy = &route_of(&built, "a.com", "/").policy;
    assert_eq!(policy.access.allow, ["192.168.0.0/16".parse().unwrap()]);
    assert_eq!(
        policy.rate_limit.allowlist,
        ["172.16.0.0/12".parse().unwrap()]
    );
    let shadowed = codes_for(&built, "ing", "alias_shadowed");
    assert_eq!(shadowed.len(), 1);
    assert_eq!(shadowed[0].severity, Severity::Warning);
}

#[test]
fn snippets_reject_or_are_ignored_per_policy() {
    for name in [
        "configuration-snippet",
        "server-snippet",
        "auth-snippet",
        "stream-snippet",
        "modsecurity-snippet",
    ] {
        let mut s = with_good();
        s.insert_ingress(annotated(
            "ing",
            "a.com",
            &[(name, "more_set_headers \"X: y\";")],
        ));
        let built = build_default(&s);
        let d = codes_for(&built, "ing", "snippet");
        assert_eq!(d.len(), 1, "{name}");
        assert_eq!(d[0].severity, Severity::Error);
        assert_eq!(
            d[0].kind,
            DiagnosticKind::Snippet {
                annotation: ann(name),
                rejected: true
            }
        );
        assert!(built.table.lookup("a.com", "/").is_none(), "{name}");
        assert!(good_served(&built));
        let opts = BuildOptions {
            snippet_policy: SnippetPolicy::Ignore,
            ..BuildOptions::default()
        };
        let built = build(&s, &opts);
        let d = codes_for(&built, "ing", "snippet");
        assert_eq!(d[0].severity, Severity::Warning);
        assert!(built.table.lookup("a.com", "/").is_some(), "{name}");
    }
}

#[test]
fn the_word_blocklist_rejects() {
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[("auth-realm", "load_module evil")],
    ));
    let opts = with_config(
        &mut s,
        &[("annotation-value-word-blocklist", "load_module,lua_package")],
    );
    let built = build(&s, &opts);
    let d = codes_for(&built, "ing", "invalid_annotation");
    assert_eq!(d.len(), 1);
    assert!(d[0].to_string().contains("annotation-value-word-blocklist"));
    assert!(built.table.lookup("a.com", "/").is_none());
    assert!(good_served(&built));
    assert!(build_default(&s).table.lookup("a.com", "/").is_some());
}

#[test]
fn the_risk_level_rejects_riskier_annotations() {
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[("auth-url", "https://auth.example.com/")],
    ));
    let opts = with_config(&mut s, &[("annotations-risk-level", "Medium")]);
    let built = build(&s, &opts);
    assert_eq!(codes_for(&built, "ing", "invalid_annotation").len(), 1);
    assert!(built.table.lookup("a.com", "/").is_none());
    assert!(build_default(&s).table.lookup("a.com", "/").is_some());
}

#[test]
fn every_invalid_annotation_is_reported_not_just_the_first() {
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[("proxy-body-size", "big"), ("ssl-redirect", "maybe")],
    ));
    let built = build_default(&s);
    assert_eq!(codes_for(&built, "ing", "invalid_annotation").len(), 2);
}

#[test]
fn classify_reports_every_annotation_with_its_status() {
    let ing = annotated(
        "ing",
        "a.com",
        &[
            ("rewrite-target", "/"),
            ("whitelist-source-range", "10.0.0.0/8"),
            ("configuration-snippet", "x"),
            ("enable-modsecurity", "true"),
            ("mystery", "1"),
        ],
    );
    let report = annotations::classify(&ing, DEFAULT_ANNOTATION_PREFIX);
    let by_name = |n: &str| {
        report
            .iter()
            .find(|r| r.name.as_deref() == Some(n))
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("rewrite-target").status, Some(Status::Exact));
    assert_eq!(
        by_name("whitelist-source-range").alias_of,
        Some("allowlist-source-range")
    );
    assert!(matches!(
        by_name("configuration-snippet").status,
        Some(Status::Refused(_))
    ));
    assert!(matches!(
        by_name("enable-modsecurity").status,
        Some(Status::NoEffect(_))
    ));
    assert_eq!(by_name("mystery").status, None);
    assert_eq!(report.len(), 5);
}

#[test]
fn classify_is_exact_for_the_values_a_partial_entry_serves_exactly() {
    let status = |name: &str, value: &str| {
        let ing = annotated("ing", "a.com", &[(name, value)]);
        annotations::classify(&ing, DEFAULT_ANNOTATION_PREFIX)
            .pop()
            .unwrap()
            .status
            .unwrap()
    };
    assert_eq!(status("backend-protocol", "HTTP"), Status::Exact);
    assert_eq!(status("backend-protocol", "grpc"), Status::Exact);
    assert!(matches!(
        status("backend-protocol", "FCGI"),
        Status::Partial(_)
    ));
    assert_eq!(status("auth-type", "basic"), Status::Exact);
    assert!(matches!(status("auth-type", "digest"), Status::Partial(_)));
    assert_eq!(status("proxy-buffering", "off"), Status::Exact);
    assert!(matches!(
        status("proxy-buffering", "on"),
        Status::Partial(_)
    ));
}
