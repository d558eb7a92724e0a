//! Route lookup: the router at 10k hosts (exact hit, wildcard hit, miss to the default route)
//! and at 1k/10k/100k routes in one host, and the linear reference lookup at 10k hosts for
//! comparison. Tables are built from Ingress objects through `build`.
//!
//! Run: `cargo bench --bench lookup`. Numbers go in notes, never in tests.

// A bench table that does not compile is a broken bench: failing loudly is right.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sluice::model::{
    BuildOptions, HttpPath, Ingress, IngressBackend, IngressRule, ObjectKey, PathType, PortRef,
    RouteTable, ServiceRef, Snapshot, build,
};
use sluice::router::Router;

fn path(path: &str, path_type: PathType, service: &str) -> HttpPath {
    let backend = IngressBackend::Service {
        name: service.into(),
        port: PortRef::Number(80),
    };
    HttpPath {
        path: Some(path.into()),
        path_type: Some(path_type),
        backend,
    }
}

fn ingress(name: String, host: String, paths: Vec<HttpPath>) -> Ingress {
    Ingress {
        key: ObjectKey::new("bench", name),
        rules: vec![IngressRule {
            host: Some(host),
            paths,
        }],
        ..Ingress::default()
    }
}

fn table(snapshot: &Snapshot) -> RouteTable {
    let options = BuildOptions {
        watch_ingress_without_class: true,
        default_backend: Some(ServiceRef {
            service: ObjectKey::new("bench", "default-backend"),
            port: Some(PortRef::Number(80)),
        }),
        ..BuildOptions::default()
    };
    build(snapshot, &options).table
}

/// `hosts` exact hosts with `/`, `/api/v1` and `= /api/v1/health`, plus `hosts / 10` one-label
/// wildcard hosts with `/` and `/api`.
fn many_hosts(hosts: usize) -> RouteTable {
    let mut snapshot = Snapshot::default();
    for i in 0..hosts {
        let service = format!("svc-{i}");
        let paths = vec![
            path("/", PathType::Prefix, &service),
            path("/api/v1", PathType::Prefix, &service),
            path("/api/v1/health", PathType::Exact, &service),
        ];
        snapshot.insert_ingress(ingress(
            format!("host-{i}"),
            format!("host-{i}.example.com"),
            paths,
        ));
    }
    for i in 0..hosts / 10 {
        let service = format!("wild-{i}");
        let paths = vec![
            path("/", PathType::Prefix, &service),
            path("/api", PathType::Prefix, &service),
        ];
        snapshot.insert_ingress(ingress(
            format!("wild-{i}"),
            format!("*.w{i}.example.org"),
            paths,
        ));
    }
    table(&snapshot)
}

/// One host with `routes` routes: Prefix `/team-{i/100}/svc-{i}`, and every tenth route an
/// Exact `/team-{i/100}/svc-{i}/health` instead.
fn many_routes(routes: usize) -> RouteTable {
    let paths = (0..routes)
        .map(|i| {
            let base = format!("/team-{}/svc-{i}", i / 100);
            match i % 10 {
                9 => path(&format!("{base}/health"), PathType::Exact, "svc"),
                _ => path(&base, PathType::Prefix, "svc"),
            }
        })
        .collect();
    let mut snapshot = Snapshot::default();
    snapshot.insert_ingress(ingress("big".into(), "big.example.com".into(), paths));
    table(&snapshot)
}

fn hosts(c: &mut Criterion) {
    let table = many_hosts(10_000);
    let router = Router::new(&table.routes).expect("bench table compiles");
    assert!(
        router
            .lookup("host-5000.example.com", "/api/v1/users/42")
            .and_then(|r| r.origin.as_ref())
            .is_some()
    );
    assert!(
        router
            .lookup("x.w500.example.org", "/api/items")
            .and_then(|r| r.origin.as_ref())
            .is_some()
    );
    assert!(
        router
            .lookup("unknown.example.net", "/")
            .is_some_and(|r| r.origin.is_none())
    );

    let mut group = c.benchmark_group("lookup_10k_hosts");
    let cases = [
        ("exact_hit", "host-5000.example.com", "/api/v1/users/42"),
        ("wildcard_hit", "x.w500.example.org", "/api/items"),
        ("miss_default", "unknown.example.net", "/"),
    ];
    for (name, host, path) in cases {
        group.bench_function(BenchmarkId::new("router", name), |b| {
            b.iter(|| router.lookup(black_box(host), black_box(path)))
        });
    }
    for (name, host, path) in cases {
        group.bench_function(BenchmarkId::new("reference", name), |b| {
            b.iter(|| table.lookup(black_box(host), black_box(path)))
        });
    }
    group.finish();
}

fn routes(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup_routes_in_one_host");
    for n in [1_000, 10_000, 100_000] {
        let table = many_routes(n);
        let router = Router::new(&table.routes).expect("bench table compiles");
        let team = n / 2 / 100;
        let prefix_hit = format!("/team-{team}/svc-{}/items/42", n / 2);
        let exact_hit = format!("/team-{team}/svc-{}/health", n / 2 + 9);
        assert!(
            router
                .lookup("big.example.com", &prefix_hit)
                .and_then(|r| r.origin.as_ref())
                .is_some()
        );
        assert!(
            router
                .lookup("big.example.com", &exact_hit)
                .and_then(|r| r.origin.as_ref())
                .is_some()
        );
        group.bench_with_input(BenchmarkId::new("prefix_hit", n), &prefix_hit, |b, path| {
            b.iter(|| router.lookup(black_box("big.example.com"), black_box(path)))
        });
        group.bench_with_input(BenchmarkId::new("exact_hit", n), &exact_hit, |b, path| {
            b.iter(|| router.lookup(black_box("big.example.com"), black_box(path)))
        });
        group.bench_with_input(
            BenchmarkId::new("miss_default", n),
            "/nothing/here",
            |b, path| b.iter(|| router.lookup(black_box("big.example.com"), black_box(path))),
        );
    }
    group.finish();
}

criterion_group!(benches, hosts, routes);
criterion_main!(benches);
