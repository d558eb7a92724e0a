//! ingress-nginx's regex mode: `use-regex` or `rewrite-target` on any Ingress of a host turns
//! every path of that host, in every Ingress, into a case-insensitive start-anchored regex.

use sluice_ingress_model::PathType::{Exact, ImplementationSpecific, Prefix};
use sluice_ingress_model::*;

use super::fixtures::*;

fn shared_host() -> Snapshot {
    let mut s = with_good();
    let mut regex = annotated("regex", "shared.com", &[("use-regex", "true")]);
    regex.created = Some(2);
    regex.rules[0].paths = vec![path("/api/v[0-9]+", ImplementationSpecific, "svc-a", 80)];
    let mut plain = annotated("plain", "shared.com", &[]);
    plain.created = Some(1);
    plain.rules[0].paths = vec![
        path("/exact", Exact, "svc-b", 80),
        path("/app", Prefix, "svc-c", 80),
    ];
    s.insert_ingress(regex);
    s.insert_ingress(plain);
    s
}

fn service_at(built: &Built, host: &str, path: &str) -> Option<String> {
    service_of(built.table.lookup(host, &normalize_path(path)))
}

#[test]
fn one_ingress_switches_every_path_of_the_host() {
    let built = build_default(&shared_host());
    let vhost = built.table.virtual_host("shared.com").unwrap();
    assert!(
        vhost
            .routes
            .iter()
            .all(|r| matches!(r.path, PathMatch::Regex(_)))
    );
    // Exact semantics are lost and matching is case-insensitive and start-anchored.
    assert_eq!(
        service_at(&built, "shared.com", "/exact/more").as_deref(),
        Some("svc-b")
    );
    assert_eq!(
        service_at(&built, "shared.com", "/APPLE").as_deref(),
        Some("svc-c")
    );
    assert_eq!(
        service_at(&built, "shared.com", "/API/V2/x").as_deref(),
        Some("svc-a")
    );
    assert_eq!(service_at(&built, "shared.com", "/x/app"), None);
    // The other Ingress is told, per path; typed paths get a warning.
    let notes = codes_for(&built, "plain", "regex_mode");
    assert_eq!(notes.len(), 2);
    assert!(notes.iter().all(|d| d.severity == Severity::Warning));
    assert!(codes_for(&built, "regex", "regex_mode").is_empty());
    // Other hosts are untouched.
    let good = built.table.virtual_host("good.com").unwrap();
    assert_eq!(good.routes[0].path, PathMatch::Prefix("/".into()));
}

#[test]
fn longer_patterns_are_tried_first() {
    let mut s = services();
    let ing = {
        let mut i = annotated("ing", "r.com", &[("use-regex", "true")]);
        i.rules[0].paths = vec![
            path("/", ImplementationSpecific, "svc-a", 80),
            path("/a.*", ImplementationSpecific, "svc-b", 80),
            path("/abc/[0-9]+", ImplementationSpecific, "svc-c", 80),
        ];
        i
    };
    s.insert_ingress(ing);
    let built = build_default(&s);
    assert_eq!(
        service_at(&built, "r.com", "/abc/12").as_deref(),
        Some("svc-c")
    );
    assert_eq!(
        service_at(&built, "r.com", "/abc/x").as_deref(),
        Some("svc-b")
    );
    assert_eq!(
        service_at(&built, "r.com", "/zzz").as_deref(),
        Some("svc-a")
    );
    let order: Vec<&str> = built
        .table
        .virtual_host("r.com")
        .unwrap()
        .routes
        .iter()
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(order, ["/abc/[0-9]+", "/a.*", "/"]);
}

#[test]
fn rewrite_target_also_switches_the_host() {
    let mut s = services();
    let mut rw = annotated("rw", "r.com", &[("rewrite-target", "/$1")]);
    rw.rules[0].paths = vec![path("/svc/(.*)", ImplementationSpecific, "svc-a", 80)];
    let mut other = annotated("other", "r.com", &[]);
    other.rules[0].paths = vec![path("/static", Prefix, "svc-b", 80)];
    s.insert_ingress(rw);
    s.insert_ingress(other);
    let built = build_default(&s);
    assert_eq!(
        route_of(&built, "r.com", "/static").path,
        PathMatch::Regex("/static".into())
    );
    assert_eq!(codes_for(&built, "other", "regex_mode").len(), 1);
}

#[test]
fn an_invalid_regex_is_an_error_for_that_path_only() {
    let mut s = services();
    let mut ing = annotated("ing", "r.com", &[("use-regex", "true")]);
    ing.rules[0].paths = vec![
        path("/(unclosed", ImplementationSpecific, "svc-a", 80),
        path("/(?<=x)y", ImplementationSpecific, "svc-a", 80),
        path("/ok", ImplementationSpecific, "svc-b", 80),
    ];
    s.insert_ingress(ing);
    let built = build_default(&s);
    let errors = codes_for(&built, "ing", "invalid_path");
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().all(|d| d.severity == Severity::Error));
    assert_eq!(service_at(&built, "r.com", "/ok").as_deref(), Some("svc-b"));
}

#[test]
fn a_rejected_ingress_does_not_switch_the_host() {
    let mut s = services();
    let mut bad = annotated(
        "bad",
        "r.com",
        &[("use-regex", "true"), ("proxy-body-size", "huge")],
    );
    bad.rules[0].paths = vec![path("/x", ImplementationSpecific, "svc-a", 80)];
    let mut plain = annotated("plain", "r.com", &[]);
    plain.rules[0].paths = vec![path("/app", Prefix, "svc-b", 80)];
    s.insert_ingress(bad);
    s.insert_ingress(plain);
    let built = build_default(&s);
    assert_eq!(
        route_of(&built, "r.com", "/app").path,
        PathMatch::Prefix("/app".into())
    );
}

#[test]
fn the_ingress_default_backend_of_a_regex_host_is_a_regex_too() {
    let mut s = services();
    let mut ing = annotated("ing", "r.com", &[("use-regex", "true")]);
    ing.rules[0].paths = vec![path("/api/.*", ImplementationSpecific, "svc-a", 80)];
    ing.default_backend = Some(IngressBackend::Service {
        name: "svc-d".into(),
        port: PortRef::Number(80),
    });
    s.insert_ingress(ing);
    let built = build_default(&s);
    assert_eq!(
        service_at(&built, "r.com", "/other").as_deref(),
        Some("svc-d")
    );
    assert_eq!(
        service_at(&built, "r.com", "/api/x").as_deref(),
        Some("svc-a")
    );
}
