//! The laws of the model, checked with proptest on arbitrary snapshots:
//! determinism under input order, `diff(t, t) == Unchanged`, endpoint-only changes never
//! rebuild, and the reference lookup is total.

use proptest::prelude::*;
use sluice_ingress_model::*;
use sluice_ingress_model::{annotations, config};

use super::fixtures::*;

const HOSTS: &[&str] = &[
    "a.com",
    "b.com",
    "*.a.com",
    "x.a.com",
    "",
    "bad..host",
    "A.COM.",
];
const PATHS: &[&str] = &[
    "/",
    "/a",
    "/a/",
    "/a/b",
    "/ab",
    "/a/b/c",
    "/{x}",
    "/./%2e/",
    "",
    "/caf\u{e9}",
];
pub const SERVICES: &[&str] = &["svc-a", "svc-b", "svc-c", "ghost"];
/// Annotations that change how an Ingress is built (regex mode, canaries, rejection, fail
/// closed, extra hosts, upstream policies).
const ANNOTATIONS: &[(&str, &str)] = &[
    ("use-regex", "true"),
    ("rewrite-target", "/$1"),
    ("canary", "true"),
    ("canary-weight", "10"),
    ("whitelist-source-range", "10.0.0.0/8"),
    ("allowlist-source-range", "192.168.0.0/16"),
    ("proxy-body-size", "huge"),
    ("configuration-snippet", "return 403;"),
    ("auth-type", "basic"),
    ("server-alias", "alias.com"),
    ("from-to-www-redirect", "true"),
    ("affinity", "cookie"),
    ("backend-protocol", "GRPC"),
    ("permanent-redirect", "https://x.com$request_uri"),
];

fn path_type() -> impl Strategy<Value = Option<PathType>> {
    prop_oneof![
        Just(Some(PathType::Exact)),
        Just(Some(PathType::Prefix)),
        Just(Some(PathType::ImplementationSpecific)),
        Just(None)
    ]
}

fn http_path() -> impl Strategy<Value = HttpPath> {
    (
        prop::sample::select(PATHS),
        path_type(),
        prop::sample::select(SERVICES),
        prop_oneof![Just(80u16), Just(81)],
    )
        .prop_map(|(p, kind, svc, port)| HttpPath {
            path: Some(p.to_owned()),
            path_type: kind,
            backend: IngressBackend::Service {
                name: svc.to_owned(),
                port: PortRef::Number(port),
            },
        })
}

pub fn ingress_strategy(index: usize) -> impl Strategy<Value = Ingress> {
    (
        prop::collection::vec((prop::sample::select(HOSTS), prop::collection::vec(http_path(), 0..4)), 0..3),
        prop_oneof![Just(None), (0i64..3).prop_map(Some)],
        prop_oneof![3 => Just(Some("sluice".to_owned())), 1 => Just(None), 1 => Just(Some("other".to_owned()))],
        proptest::option::of(prop::sample::select(SERVICES)),
        proptest::option::of((prop::sample::select(HOSTS), prop_oneof![Just("cert"), Just("missing")])),
        prop::collection::vec(prop::sample::select(ANNOTATIONS), 0..3),
    )
        .prop_map(move |(rules, created, class, default_backend, tls, annotations)| Ingress {
            key: ObjectKey::new(if index.is_multiple_of(2) { "default" } else { "other" }, format!("ing-{index}")),
            created,
            class_name: class,
            default_backend: default_backend
                .map(|svc| IngressBackend::Service { name: svc.to_owned(), port: PortRef::Number(80) }),
            tls: tls
                .map(|(host, secret)| IngressTls { hosts: vec![host.to_owned()], secret_name: Some(secret.to_owned()) })
                .into_iter()
                .collect(),
            rules: rules
                .into_iter()
                .map(|(host, paths)| IngressRule { host: Some(host.to_owned()), paths })
                .collect(),
            annotations: annotations
                .into_iter()
                .map(|(k, v)| (ann(k), v.to_owned()))
                .collect(),
        })
}

fn ingresses() -> impl Strategy<Value = Vec<Ingress>> {
    (0usize..8).prop_flat_map(|n| (0..n).map(ingress_strategy).collect::<Vec<_>>())
}

pub fn addresses() -> impl Strategy<Value = Vec<(u8, bool)>> {
    prop::collection::vec((1u8..6, any::<bool>()), 0..4)
}

pub fn slice_with(ns: &str, service: &str, addrs: &[(u8, bool)]) -> EndpointSlice {
    let mut s = slice(ns, service, 8080, &[]);
    s.endpoints = addrs
        .iter()
        .map(|(last, ready)| Endpoint {
            addresses: vec![format!("10.0.0.{last}")],
            ready: Some(*ready),
        })
        .collect();
    s
}

/// Objects of a snapshot as a list, so the insertion order can be shuffled.
#[derive(Clone, Debug)]
enum Object {
    Ingress(Ingress),
    Service(Service),
    Slice(EndpointSlice),
}

fn objects(ingresses: Vec<Ingress>, addrs: &[Vec<(u8, bool)>]) -> Vec<Object> {
    let mut out: Vec<Object> = ingresses.into_iter().map(Object::Ingress).collect();
    for ns in ["default", "other"] {
        for (i, svc) in SERVICES.iter().take(3).enumerate() {
            out.push(Object::Service(service(ns, svc, 80)));
            out.push(Object::Slice(slice_with(
                ns,
                svc,
                addrs.get(i).map_or(&[], Vec::as_slice),
            )));
        }
    }
    out
}

fn snapshot(objects: &[Object]) -> Snapshot {
    let mut s = Snapshot::default();
    for object in objects {
        match object.clone() {
            Object::Ingress(i) => s.insert_ingress(i),
            Object::Service(v) => s.insert_service(v),
            Object::Slice(e) => s.insert_endpoint_slice(e),
        }
    }
    s
}

fn cases() -> impl Strategy<Value = (Vec<Object>, Vec<Object>)> {
    (ingresses(), prop::collection::vec(addresses(), 3)).prop_flat_map(|(ings, addrs)| {
        let objs = objects(ings, &addrs);
        (Just(objs.clone()), Just(objs).prop_shuffle())
    })
}

proptest! {
    #[test]
    fn annotation_and_configmap_parsers_never_panic(value in "(\\PC|[0-9smhkg$ ,/.:;-]){0,40}") {
        for parse in annotations::registry().filter_map(|s| s.parse) {
            let _ = parse(&value, &mut annotations::Draft::default());
        }
        let data = config::keys()
            .map(|k| (k.name.to_owned(), value.clone()))
            .collect();
        let mut diagnostics = Vec::new();
        let _ = config::parse_config(&ObjectKey::new("ns", "cm"), &data, &mut diagnostics);
    }

    #[test]
    fn same_objects_in_any_order_build_identical_tables((ordered, shuffled) in cases()) {
        let opts = BuildOptions { class_name_without_object: true, ..BuildOptions::default() };
        let a = build(&snapshot(&ordered), &opts);
        let b = build(&snapshot(&shuffled), &opts);
        prop_assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        prop_assert_eq!(a, b);
    }

    #[test]
    fn diff_of_a_table_with_itself_is_unchanged((ordered, _) in cases()) {
        let built = build_default(&snapshot(&ordered));
        prop_assert_eq!(diff(&built.table, &built.table.clone()), Plan::Unchanged);
    }

    #[test]
    fn endpoint_only_changes_never_rebuild(
        (ordered, _) in cases(),
        new_addrs in prop::collection::vec(addresses(), 3),
    ) {
        let old = build_default(&snapshot(&ordered)).table;
        let changed: Vec<Object> = ordered
            .iter()
            .map(|o| match o {
                Object::Slice(s) => {
                    let service = s.service_name.clone().unwrap_or_default();
                    let i = SERVICES.iter().position(|x| *x == service).unwrap_or(0);
                    Object::Slice(slice_with(&s.key.namespace, &service, &new_addrs[i]))
                }
                other => other.clone(),
            })
            .collect();
        let new = build_default(&snapshot(&changed)).table;
        match diff(&old, &new) {
            Plan::Rebuild => prop_assert!(false, "endpoint-only change rebuilt"),
            Plan::Unchanged => prop_assert_eq!(&old.endpoints, &new.endpoints),
            Plan::Endpoints(updates) => {
                // Applying the updates to the old endpoints gives the new ones.
                let mut applied = old.endpoints.clone();
                for update in updates {
                    if update.endpoints.is_empty() {
                        applied.0.remove(&update.upstream);
                    } else {
                        applied.0.insert(update.upstream, update.endpoints);
                    }
                }
                prop_assert_eq!(applied, new.endpoints);
            }
        }
    }

    #[test]
    fn reference_lookup_is_total_and_only_returns_matching_routes(
        (ordered, _) in cases(),
        host in prop::sample::select(HOSTS),
        path in "(/|[a-z]|\\.|%2e|\\{|\u{e9}){0,12}",
    ) {
        let built = build_default(&snapshot(&ordered));
        let normalized = normalize_path(&path);
        if let Some(route) = built.table.lookup(host, &normalized) {
            let from_default = built.table.routes.default_route.as_ref() == Some(route);
            prop_assert!(from_default || route.path.matches(&normalized));
        }
    }
}
