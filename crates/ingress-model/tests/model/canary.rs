//! Canary Ingresses attach to the main route of the same host and path; only their canary,
//! balancing and affinity annotations count.

use sluice_ingress_model::PathType::Prefix;
use sluice_ingress_model::policy::*;
use sluice_ingress_model::*;

use super::fixtures::*;

fn main_and_canary(canary: &[(&str, &str)]) -> Snapshot {
    let mut s = with_good();
    let mut main = annotated("main", "app.com", &[]);
    main.created = Some(1);
    main.rules[0].paths = vec![
        path("/", Prefix, "svc-a", 80),
        path("/api", Prefix, "svc-a", 80),
    ];
    let mut c = annotated("canary", "app.com", canary);
    c.created = Some(2);
    c.rules[0].paths = vec![path("/api", Prefix, "svc-c", 80)];
    s.insert_ingress(main);
    s.insert_ingress(c);
    s
}

fn forward<'a>(built: &'a Built, path: &str) -> &'a Forward {
    match &route_of(built, "app.com", path).action {
        Action::Forward(f) => f,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_canary_attaches_to_the_main_route_of_its_host_and_path() {
    let built = build_default(&main_and_canary(&[
        ("canary", "true"),
        ("canary-by-header", "X-Canary"),
        ("canary-by-header-value", "yes"),
        ("canary-by-cookie", "canary_cookie"),
        ("canary-weight", "20"),
        ("canary-weight-total", "200"),
    ]));
    let api = forward(&built, "/api");
    assert_eq!(api.backends.len(), 1);
    assert_eq!(api.backends[0].upstream.service, "svc-a");
    let canary = api.canary.as_ref().unwrap();
    assert_eq!(
        canary.upstream,
        UpstreamId::new("default", "svc-c", PortRef::Number(80))
    );
    assert_eq!(
        canary.header,
        Some(CanaryHeader {
            name: "x-canary".into(),
            rule: CanaryHeaderRule::Value("yes".into())
        })
    );
    assert_eq!(canary.cookie.as_deref(), Some("canary_cookie"));
    assert_eq!((canary.weight, canary.weight_total), (20, 200));
    assert_eq!(canary.origin, ObjectKey::new("default", "canary"));
    // The route lookup is unchanged, other paths carry no canary, and the canary upstream is
    // part of the table with its endpoints.
    assert!(forward(&built, "/").canary.is_none());
    assert!(built.table.routes.upstreams.contains_key(&canary.upstream));
    assert!(built.table.endpoints.get(&canary.upstream).is_some());
    let routes = &built.table.virtual_host("app.com").unwrap().routes;
    assert_eq!(routes.len(), 2, "a canary adds no route");
}

#[test]
fn header_pattern_and_always_never() {
    let built = build_default(&main_and_canary(&[
        ("canary", "true"),
        ("canary-by-header", "X-Canary"),
        ("canary-by-header-pattern", "^(v2|beta)$"),
    ]));
    assert_eq!(
        forward(&built, "/api")
            .canary
            .as_ref()
            .unwrap()
            .header
            .as_ref()
            .unwrap()
            .rule,
        CanaryHeaderRule::Pattern("^(v2|beta)$".into())
    );
    let built = build_default(&main_and_canary(&[
        ("canary", "true"),
        ("canary-by-header", "X-Canary"),
    ]));
    assert_eq!(
        forward(&built, "/api")
            .canary
            .as_ref()
            .unwrap()
            .header
            .as_ref()
            .unwrap()
            .rule,
        CanaryHeaderRule::AlwaysNever
    );
}

#[test]
fn only_balancing_and_affinity_annotations_count_on_a_canary() {
    let built = build_default(&main_and_canary(&[
        ("canary", "true"),
        ("canary-weight", "50"),
        ("proxy-body-size", "100m"),
        ("load-balance", "ewma"),
        ("affinity", "cookie"),
    ]));
    let route = route_of(&built, "app.com", "/api");
    assert_eq!(
        route.policy.request_body.max_bytes,
        Some(1 << 20),
        "main's policy"
    );
    let ignored = codes_for(&built, "canary", "no_effect");
    assert_eq!(ignored.len(), 1);
    assert!(ignored[0].to_string().contains("proxy-body-size"));
    let canary_upstream = UpstreamId::new("default", "svc-c", PortRef::Number(80));
    let policy = &built.table.routes.upstreams[&canary_upstream].policy;
    assert_eq!(policy.balance, Balance::Ewma);
    assert!(policy.affinity.is_some());
}

#[test]
fn a_canary_without_main_or_a_second_canary_is_reported() {
    let mut s = main_and_canary(&[("canary", "true"), ("canary-weight", "10")]);
    let mut orphan = annotated("orphan", "app.com", &[("canary", "true")]);
    orphan.rules[0].paths = vec![path("/nowhere", Prefix, "svc-d", 80)];
    let mut second = annotated("second", "app.com", &[("canary", "true")]);
    second.created = Some(3);
    second.rules[0].paths = vec![path("/api", Prefix, "svc-d", 80)];
    s.insert_ingress(orphan);
    s.insert_ingress(second);
    let built = build_default(&s);
    assert_eq!(codes_for(&built, "orphan", "canary_without_main").len(), 1);
    assert_eq!(codes_for(&built, "second", "canary_conflict").len(), 1);
    assert_eq!(
        forward(&built, "/api").canary.as_ref().unwrap().origin.name,
        "canary"
    );
    assert!(
        built
            .table
            .lookup("app.com", "/nowhere")
            .unwrap()
            .origin
            .as_ref()
            .unwrap()
            .path
            == "/"
    );
    assert!(good_served(&built));
}
