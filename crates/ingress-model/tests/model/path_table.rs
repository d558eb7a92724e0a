//! The Kubernetes documentation's path-matching examples, row by row, through `build` and the
//! reference lookup (the router crate checks the same table against its matcher).

use sluice_ingress_model::PathType::{Exact, Prefix};
use sluice_ingress_model::*;

use super::fixtures::*;

/// (paths as (path, kind, service)), request, expected service (None = default backend / 404).
type Row = (
    &'static [(&'static str, PathType, &'static str)],
    &'static str,
    Option<&'static str>,
);

const ROWS: &[Row] = &[
    (&[("/", Prefix, "svc-a")], "/", Some("svc-a")),
    (&[("/", Prefix, "svc-a")], "/any/thing", Some("svc-a")),
    (&[("/foo", Exact, "svc-a")], "/foo", Some("svc-a")),
    (&[("/foo", Exact, "svc-a")], "/bar", None),
    (&[("/foo", Exact, "svc-a")], "/foo/", None),
    (&[("/foo/", Exact, "svc-a")], "/foo", None),
    (&[("/foo", Prefix, "svc-a")], "/foo", Some("svc-a")),
    (&[("/foo", Prefix, "svc-a")], "/foo/", Some("svc-a")),
    (&[("/foo/", Prefix, "svc-a")], "/foo", Some("svc-a")),
    (&[("/foo/", Prefix, "svc-a")], "/foo/", Some("svc-a")),
    (&[("/aaa/bb", Prefix, "svc-a")], "/aaa/bbb", None),
    (&[("/aaa/bbb", Prefix, "svc-a")], "/aaa/bbb", Some("svc-a")),
    (&[("/aaa/bbb/", Prefix, "svc-a")], "/aaa/bbb", Some("svc-a")),
    (&[("/aaa/bbb", Prefix, "svc-a")], "/aaa/bbb/", Some("svc-a")),
    (
        &[("/aaa/bbb", Prefix, "svc-a")],
        "/aaa/bbb/ccc",
        Some("svc-a"),
    ),
    (&[("/aaa/bbb", Prefix, "svc-a")], "/aaa/bbbxyz", None),
    (
        &[("/", Prefix, "svc-a"), ("/aaa", Prefix, "svc-b")],
        "/aaa/ccc",
        Some("svc-b"),
    ),
    (
        &[
            ("/", Prefix, "svc-a"),
            ("/aaa", Prefix, "svc-b"),
            ("/aaa/bbb", Prefix, "svc-c"),
        ],
        "/aaa/bbb",
        Some("svc-c"),
    ),
    (
        &[
            ("/", Prefix, "svc-a"),
            ("/aaa", Prefix, "svc-b"),
            ("/aaa/bbb", Prefix, "svc-c"),
        ],
        "/ccc",
        Some("svc-a"),
    ),
    (&[("/aaa", Prefix, "svc-a")], "/ccc", None),
    (
        &[("/foo", Prefix, "svc-a"), ("/foo", Exact, "svc-b")],
        "/foo",
        Some("svc-b"),
    ),
];

#[test]
fn kubernetes_path_table_through_build_and_reference_lookup() {
    for (paths, request, want) in ROWS {
        let mut snapshot = services();
        let http = paths
            .iter()
            .map(|(p, kind, svc)| path(p, *kind, svc, 80))
            .collect();
        snapshot.insert_ingress(ingress("default", "table", Some("example.com"), http));
        let built = build_default(&snapshot);
        assert!(
            built
                .diagnostics
                .iter()
                .all(|d| d.severity == Severity::Info),
            "{paths:?}: {:?}",
            built.diagnostics
        );
        let got = service_of(built.table.lookup("example.com", &normalize_path(request)));
        assert_eq!(got.as_deref(), *want, "paths {paths:?}, request {request}");
    }
}
