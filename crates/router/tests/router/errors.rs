//! Error paths: tables that stress the path tree compile without panicking, and errors carry
//! their context.

use sluice_ingress_model::{HostPattern, PathMatch, Routes};
use sluice_router::{Router, RouterError};

use crate::common::{route, virtual_host};

#[test]
fn awkward_paths_compile_without_panicking() {
    let texts = [
        "",
        "/",
        "//",
        "///",
        "{",
        "}",
        "/{",
        "/}",
        "/{}",
        "/{{",
        "/}}",
        "/{*rest}",
        "/{x}",
        "/a/{*b}/c",
        "/{x}/{y}",
        "/*",
        "/a*",
        "/:id",
        "/é",
        "/é/",
        "a",
        "é",
        "/a/",
        "/a//",
        "/.",
        "/..",
        "%",
        "/%2F",
    ];
    let mut routes = Vec::new();
    for text in texts {
        routes.push(route(text, PathMatch::Exact(text.into())));
        routes.push(route(text, PathMatch::Prefix(text.into())));
        routes.push(route(text, PathMatch::Regex(text.into())));
    }
    let table = Routes {
        virtual_hosts: vec![virtual_host(HostPattern::Any, routes)],
        ..Routes::default()
    };
    let router = Router::new(&table).expect("escaped keys never conflict");
    for text in texts {
        assert_eq!(
            router.lookup("h", text),
            table.lookup("h", text, &sluice_ingress_model::NoAttributes)
        );
    }
}

#[test]
fn errors_name_host_and_pattern() {
    let error = RouterError::Index {
        host: "*.example.com".into(),
        pattern: "/a*".into(),
        reason: "conflict".into(),
    };
    let text = error.to_string();
    assert!(
        text.contains("*.example.com") && text.contains("/a*") && text.contains("conflict"),
        "{text}"
    );
    let error = RouterError::TooManyRoutes {
        host: "example.com".into(),
        pattern: "=/x".into(),
    };
    assert!(error.to_string().contains("example.com"));
}
