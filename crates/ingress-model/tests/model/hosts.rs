//! Host-level annotations: server-alias, from-to-www-redirect, ssl-passthrough, ssl-ciphers.

use sluice_ingress_model::*;

use super::fixtures::*;

#[test]
fn server_alias_serves_the_same_routes_unless_the_alias_is_a_host() {
    let mut s = with_good();
    let mut ing = annotated("ing", "a.com", &[("server-alias", "alias.com, good.com")]);
    ing.created = Some(1);
    s.insert_ingress(ing);
    let built = build_default(&s);
    let alias = built.table.virtual_host("alias.com").unwrap();
    assert_eq!(alias.host, HostPattern::Exact("alias.com".into()));
    assert_eq!(
        alias.policy.alias_of,
        Some(HostPattern::Exact("a.com".into()))
    );
    assert_eq!(
        service_of(built.table.lookup("alias.com", "/x")).as_deref(),
        Some("svc-a")
    );
    assert!(good_served(&built), "an existing host keeps its own routes");
    assert_eq!(codes_for(&built, "ing", "no_effect").len(), 1);
}

#[test]
fn from_to_www_redirect_adds_the_twin_host() {
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "www.a.com",
        &[("from-to-www-redirect", "true")],
    ));
    s.insert_ingress(annotated(
        "other",
        "b.com",
        &[("from-to-www-redirect", "true")],
    ));
    let mut opts = with_config(&mut s, &[("http-redirect-code", "301")]);
    opts.controller_config = Some(ObjectKey::new("ingress", "sluice"));
    let built = build(&s, &opts);
    let Action::Redirect(r) = &route_of(&built, "a.com", "/some/path").action else {
        panic!("redirect")
    };
    assert_eq!(
        (r.location.as_str(), r.status),
        ("$scheme://www.a.com$request_uri", 301)
    );
    let Action::Redirect(r) = &route_of(&built, "www.b.com", "/").action else {
        panic!("redirect")
    };
    assert_eq!(r.location, "$scheme://b.com$request_uri");
    assert_eq!(
        service_of(built.table.lookup("b.com", "/")).as_deref(),
        Some("svc-a")
    );
}

#[test]
fn ssl_passthrough_and_ciphers_are_host_settings() {
    let mut s = with_good();
    s.insert_ingress(annotated(
        "ing",
        "a.com",
        &[
            ("ssl-passthrough", "true"),
            (
                "ssl-ciphers",
                "ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES256-GCM-SHA384",
            ),
            ("ssl-prefer-server-ciphers", "false"),
        ],
    ));
    let built = build_default(&s);
    let vhost = built.table.virtual_host("a.com").unwrap();
    assert_eq!(
        vhost.policy.passthrough,
        Some(UpstreamId::new("default", "svc-a", PortRef::Number(80)))
    );
    assert_eq!(
        vhost.policy.ssl_ciphers.as_deref(),
        Some(&["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".to_owned()][..])
    );
    assert_eq!(vhost.policy.prefer_server_ciphers, Some(false));
    let dropped = codes_for(&built, "ing", "unsupported");
    assert_eq!(dropped.len(), 1, "the DHE suite is reported");
    assert_eq!(
        *built.table.virtual_host("good.com").unwrap().policy,
        HostPolicy::default()
    );
}
