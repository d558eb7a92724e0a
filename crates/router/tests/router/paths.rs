//! Path selection within a host: regex-mode ordering, conditions falling back to shorter
//! prefixes, and paths given as is (not normalised) — always as the reference decides.

use sluice_ingress_model::{Condition, HostPattern, PathMatch, Route, Routes, ValueMatch};
use sluice_router::Router;

use crate::common::{Request, assert_agree, name, route, virtual_host};

fn table(routes: Vec<Route>) -> Routes {
    Routes {
        virtual_hosts: vec![virtual_host(HostPattern::Any, routes)],
        default_route: Some(route("default", PathMatch::Prefix("/".into()))),
        ..Routes::default()
    }
}

fn expect(routes: &Routes, path: &str, request: &Request, want: &str) {
    let router = Router::new(routes).unwrap();
    assert_eq!(
        name(router.lookup_request("h", path, request)),
        want,
        "{path} {request:?}"
    );
    assert_agree(routes, &router, "h", path, request);
}

fn when(mut route: Route, condition: Condition) -> Route {
    route.conditions.push(condition);
    route
}

fn canary_header(value: &str) -> Condition {
    Condition::Header {
        name: "x-canary".into(),
        value: ValueMatch::Exact(value.into()),
    }
}

#[test]
fn regex_mode_orders_by_length_then_kind_then_reverse_lexical() {
    let routes = table(vec![
        route("re-short", PathMatch::Regex("/api".into())),
        route("re-versioned", PathMatch::Regex("/api/v[0-9]+".into())),
        route("prefix-long", PathMatch::Prefix("/api/v1/users".into())),
        route("re-a", PathMatch::Regex("/a..".into())),
        route("re-b", PathMatch::Regex("/.b.".into())),
        route("re-broken", PathMatch::Regex("/(unclosed".into())),
        route("exact-same-length", PathMatch::Exact("/abc".into())),
    ]);
    let get = Request::get();
    expect(&routes, "/API/V2/x", &get, "re-versioned");
    expect(&routes, "/api/v1/users/7", &get, "prefix-long");
    expect(&routes, "/apix", &get, "re-short");
    // Equal length: "/a.." sorts after "/.b." and wins; the Exact of equal length beats both.
    expect(&routes, "/abd", &get, "re-a");
    expect(&routes, "/abc", &get, "exact-same-length");
    expect(&routes, "/(unclosed", &get, "default");
    expect(&routes, "/x/api", &get, "default");
}

#[test]
fn conditions_fall_back_to_shorter_prefixes() {
    let routes = table(vec![
        route("root", PathMatch::Prefix("/".into())),
        when(
            route("api-canary", PathMatch::Prefix("/api".into())),
            canary_header("always"),
        ),
        route("api", PathMatch::Prefix("/api".into())),
        when(
            route("v1-cookie", PathMatch::Prefix("/api/v1".into())),
            Condition::Cookie {
                name: "canary".into(),
                value: ValueMatch::Regex("^al".into()),
            },
        ),
        when(
            route("v1-post", PathMatch::Exact("/api/v1".into())),
            Condition::Method("POST".into()),
        ),
        when(
            route("deep", PathMatch::Prefix("/api/v1/users".into())),
            canary_header("never"),
        ),
    ]);
    let get = Request::get();
    let canary = Request::get().header("x-canary", "always");
    expect(&routes, "/api/v1/users/7", &get, "api");
    expect(&routes, "/api/v1/users/7", &canary, "api-canary");
    expect(
        &routes,
        "/api/v1/users/7",
        &get.clone().cookie("canary", "always"),
        "v1-cookie",
    );
    expect(&routes, "/api/v1", &get.clone().method("post"), "v1-post");
    expect(&routes, "/api/v1", &get, "api");
    expect(
        &routes,
        "/api/v1/",
        &canary.clone().method("POST"),
        "api-canary",
    );
    expect(&routes, "/other", &canary, "root");
    // Without a request (plain lookup) only unconditional routes and `GET` match.
    let router = Router::new(&routes).unwrap();
    assert_eq!(name(router.lookup("h", "/api/v1/users")), "api");
}

#[test]
fn conditions_that_never_hold_fall_back_to_the_default_route() {
    let routes = table(vec![when(
        route("canary", PathMatch::Prefix("/".into())),
        Condition::Header {
            name: "x-canary".into(),
            value: ValueMatch::Regex("(".into()),
        },
    )]);
    expect(
        &routes,
        "/x",
        &Request::get().header("x-canary", "("),
        "default",
    );
}

#[test]
fn paths_are_matched_as_given() {
    let routes = table(vec![
        route("root", PathMatch::Prefix("/".into())),
        route("b", PathMatch::Prefix("/b".into())),
        route("a", PathMatch::Prefix("/a".into())),
        route("braces", PathMatch::Exact("/{id}".into())),
        route("unicode", PathMatch::Prefix("/caf%C3%A9".into())),
        route("empty-exact", PathMatch::Exact(String::new())),
        route("relative", PathMatch::Prefix("a".into())),
    ]);
    let get = Request::get();
    expect(&routes, "/a//b", &get, "a");
    expect(&routes, "/a/../b", &get, "a");
    expect(&routes, "/%2e%2e/b", &get, "root");
    expect(&routes, "/{id}", &get, "braces");
    expect(&routes, "/{other}", &get, "root");
    expect(&routes, "/caf%C3%A9/x", &get, "unicode");
    expect(&routes, "/café", &get, "root");
    expect(&routes, "", &get, "empty-exact");
    expect(&routes, "a/b", &get, "relative");
    expect(&routes, "b", &get, "default");
    expect(&routes, "ab", &get, "default");
}
