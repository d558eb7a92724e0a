//! Build, compile and diff of large tables: `build` for 1k and 10k Ingresses, `build` + router
//! compile, `diff` of an endpoints-only change versus a structural one, and `Handle::apply` of
//! a structural change against a live proxy holding 10k Ingresses (back to back, and apart).
//!
//! Runs with the gateway binary's allocator (jemalloc with its compiled-in options), so the
//! figures are the binary's.
//!
//! Run: `cargo bench --bench build`. Numbers go in notes, never in tests.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sluice::model::{
    BuildOptions, Endpoint, EndpointPort, EndpointSlice, HttpPath, Ingress, IngressBackend,
    IngressClass, IngressRule, ObjectKey, PathType, Plan, PortRef, Service, ServicePort, Snapshot,
    build, diff,
};
use sluice::router::Router;

/// The gateway binary's allocator (`src/allocator.rs`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// `n` Ingresses, each with its own host, two paths and its own Service with three endpoints.
fn snapshot(n: usize) -> Snapshot {
    let mut s = Snapshot::default();
    s.insert_ingress_class(IngressClass {
        name: "sluice".into(),
        controller: sluice::model::DEFAULT_CONTROLLER_CLASS.into(),
        is_default: false,
    });
    for i in 0..n {
        let ns = format!("team-{}", i % 50);
        let svc = format!("svc-{i}");
        let backend = IngressBackend::Service {
            name: svc.clone(),
            port: PortRef::Number(80),
        };
        s.insert_ingress(Ingress {
            key: ObjectKey::new(&ns, format!("ing-{i}")),
            created: Some(1_700_000_000 + i as i64),
            class_name: Some("sluice".into()),
            rules: vec![IngressRule {
                host: Some(format!("host-{i}.example.com")),
                paths: vec![
                    HttpPath {
                        path: Some("/".into()),
                        path_type: Some(PathType::Prefix),
                        backend: backend.clone(),
                    },
                    HttpPath {
                        path: Some("/api/v1".into()),
                        path_type: Some(PathType::Prefix),
                        backend,
                    },
                ],
            }],
            ..Ingress::default()
        });
        s.insert_service(Service {
            key: ObjectKey::new(&ns, &svc),
            ports: vec![ServicePort {
                port: 80,
                ..ServicePort::default()
            }],
            ..Service::default()
        });
        s.insert_endpoint_slice(slice(&ns, &svc, i, 0));
    }
    s
}

fn slice(ns: &str, svc: &str, i: usize, generation: usize) -> EndpointSlice {
    let addr = |k: usize| {
        format!(
            "10.{}.{}.{}",
            (i >> 8) & 255,
            i & 255,
            (k + generation) % 250 + 1
        )
    };
    EndpointSlice {
        key: ObjectKey::new(ns, format!("{svc}-abcde")),
        service_name: Some(svc.into()),
        address_type: "IPv4".into(),
        ports: vec![EndpointPort {
            name: None,
            port: Some(8080),
            protocol: None,
        }],
        endpoints: (0..3)
            .map(|k| Endpoint {
                addresses: vec![addr(k)],
                ready: Some(true),
            })
            .collect(),
    }
}

fn bench_build(c: &mut Criterion) {
    let opts = BuildOptions::default();
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    for n in [1_000, 10_000] {
        let s = snapshot(n);
        group.bench_with_input(BenchmarkId::new("build", n), &s, |b, s| {
            b.iter(|| build(black_box(s), &opts))
        });
        group.bench_with_input(BenchmarkId::new("build_and_compile", n), &s, |b, s| {
            b.iter(|| {
                let built = build(black_box(s), &opts);
                Router::new(&built.table.routes)
                    .map(|r| black_box(r).lookup("host-1.example.com", "/").is_some())
            })
        });
        let built = build(&s, &opts);
        group.bench_with_input(
            BenchmarkId::new("compile", n),
            &built.table.routes,
            |b, routes| b.iter(|| Router::new(black_box(routes))),
        );
    }
    group.finish();
}

fn bench_diff(c: &mut Criterion) {
    let opts = BuildOptions::default();
    let n = 10_000;
    let base = snapshot(n);
    let old = build(&base, &opts).table;

    let mut moved = base.clone();
    let svc = "svc-7".to_owned();
    moved.insert_endpoint_slice(slice("team-7", &svc, 7, 1));
    let endpoints_only = build(&moved, &opts).table;
    assert!(matches!(diff(&old, &endpoints_only), Plan::Endpoints(_)));

    let mut added = base.clone();
    added.insert_ingress(extra_ingress(&base));
    let structural = build(&added, &opts).table;
    assert!(matches!(diff(&old, &structural), Plan::Rebuild));

    let mut group = c.benchmark_group("diff_10k");
    group.bench_function("unchanged", |b| {
        b.iter(|| diff(black_box(&old), black_box(&old)))
    });
    group.bench_function("endpoints_only", |b| {
        b.iter(|| diff(black_box(&old), black_box(&endpoints_only)))
    });
    group.bench_function("structural", |b| {
        b.iter(|| diff(black_box(&old), black_box(&structural)))
    });
    group.finish();
}

/// A copy of the first Ingress of `base` under another name and host: one structural change.
fn extra_ingress(base: &Snapshot) -> Ingress {
    let mut extra = base
        .ingresses
        .values()
        .next()
        .map(|i| (**i).clone())
        .unwrap_or_default();
    extra.key.name = "extra".into();
    extra.rules[0].host = Some("extra.example.com".into());
    extra
}

/// `Handle::apply` of a structural change against a live proxy (no listeners) holding 10k
/// Ingresses, with telemetry installed as the binary does: diff, generation rebuild, router
/// compile, swap, dropping the old generation and the metrics' route index.
fn bench_apply(c: &mut Criterion) {
    let opts = BuildOptions::default();
    let base = snapshot(10_000);
    let old = build(&base, &opts).table;
    let mut added = base.clone();
    added.insert_ingress(extra_ingress(&base));
    let structural = build(&added, &opts).table;

    let telemetry = sluice::proxy::Telemetry::builder()
        .access_log_sink(None)
        .build();
    let Ok(proxy) = sluice::proxy::Proxy::builder().telemetry(telemetry).build() else {
        return;
    };
    let handle = proxy.handle();
    let _ = handle.apply(old.clone());
    let mut group = c.benchmark_group("apply_10k");
    group.sample_size(20);
    let mut flip = false;
    group.bench_function("structural", |b| {
        b.iter_batched(
            || {
                flip = !flip;
                if flip {
                    structural.clone()
                } else {
                    old.clone()
                }
            },
            |table| handle.apply(black_box(table)),
            criterion::BatchSize::LargeInput,
        )
    });
    // As changes arrive in practice: apart, so freeing the replaced generation (which may
    // happen off the caller's thread) does not overlap the next apply.
    group.bench_function("structural_spaced", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                flip = !flip;
                let table = if flip {
                    structural.clone()
                } else {
                    old.clone()
                };
                std::thread::sleep(std::time::Duration::from_millis(150));
                let started = std::time::Instant::now();
                let _ = black_box(handle.apply(black_box(table)));
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench_build, bench_diff, bench_apply);
criterion_main!(benches);
