//! Host selection: exact beats wildcard beats host-less, a wildcard covers exactly one label,
//! one virtual host is picked before paths are looked at, and the default route catches the rest.

use std::sync::Arc;

use sluice_ingress_model::{HostPattern, PathMatch, Routes, VirtualHost};
use sluice_router::Router;

use crate::common::{Request, assert_agree, name, route, virtual_host};

fn vhost(host: HostPattern, routes: &[(&str, &str)]) -> Arc<VirtualHost> {
    let routes = routes
        .iter()
        .map(|(n, p)| route(n, PathMatch::Prefix((*p).into())))
        .collect();
    virtual_host(host, routes)
}

fn table(default: bool) -> Routes {
    Routes {
        virtual_hosts: vec![
            vhost(
                HostPattern::Exact("foo.example.com".into()),
                &[("exact", "/")],
            ),
            vhost(
                HostPattern::Exact("api.example.com".into()),
                &[("api", "/api")],
            ),
            vhost(
                HostPattern::Wildcard("example.com".into()),
                &[("wildcard", "/"), ("wildcard-api", "/api")],
            ),
            vhost(HostPattern::Any, &[("any", "/")]),
        ],
        default_route: default.then(|| route("default", PathMatch::Prefix("/".into()))),
        ..Routes::default()
    }
}

/// Checks the router's answer and that the reference gives the same one.
fn expect(routes: &Routes, host: &str, path: &str, want: &str) {
    let router = Router::new(routes).unwrap();
    assert_eq!(name(router.lookup(host, path)), want, "{host} {path}");
    assert_agree(routes, &router, host, path, &Request::get());
}

#[test]
fn exact_beats_wildcard_beats_any() {
    let routes = table(true);
    expect(&routes, "foo.example.com", "/x", "exact");
    expect(&routes, "bar.example.com", "/x", "wildcard");
    expect(&routes, "bar.example.com", "/api/v1", "wildcard-api");
    expect(&routes, "other.org", "/x", "any");
}

#[test]
fn hosts_are_normalised() {
    let routes = table(true);
    for host in [
        "FOO.Example.COM",
        "foo.example.com.",
        "foo.example.com:8443",
        "Foo.Example.Com.:80",
        " foo.example.com ",
    ] {
        expect(&routes, host, "/", "exact");
    }
    expect(&routes, "Bar.EXAMPLE.com:80", "/", "wildcard");
}

#[test]
fn wildcard_covers_exactly_one_label() {
    let routes = table(true);
    expect(&routes, "a.example.com", "/", "wildcard");
    expect(&routes, "a.b.example.com", "/", "any");
    expect(&routes, "example.com", "/", "any");
    expect(&routes, ".example.com", "/", "any");
}

#[test]
fn the_chosen_host_does_not_fall_through_to_a_wider_one() {
    // api.example.com has only /api: another path goes to the default route, never to the
    // wildcard or the host-less virtual host.
    let routes = table(true);
    expect(&routes, "api.example.com", "/api/x", "api");
    expect(&routes, "api.example.com", "/other", "default");
    let routes = table(false);
    expect(&routes, "api.example.com", "/other", "-");
}

#[test]
fn default_route_serves_unknown_hosts_without_a_hostless_virtual_host() {
    let mut routes = table(true);
    routes.virtual_hosts.pop();
    expect(&routes, "other.org", "/x", "default");
    expect(&routes, "", "/x", "default");
    routes.default_route = None;
    expect(&routes, "other.org", "/x", "-");
}

#[test]
fn the_first_of_two_equal_patterns_wins() {
    let mut routes = table(true);
    routes.virtual_hosts.insert(
        1,
        vhost(
            HostPattern::Exact("foo.example.com".into()),
            &[("second", "/")],
        ),
    );
    routes
        .virtual_hosts
        .push(vhost(HostPattern::Any, &[("second-any", "/")]));
    expect(&routes, "foo.example.com", "/", "exact");
    expect(&routes, "other.org", "/", "any");
}
