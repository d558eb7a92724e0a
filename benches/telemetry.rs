//! The per-request cost of telemetry: the telemetry filter's `request`, `response` and
//! `logging` hooks for one proxied request (route labels, status/method series, histograms,
//! upstream latency, and the access-log line queued for the writer thread), in a table of 1,000
//! Ingresses. Variants: metrics only, metrics + the default JSON log, metrics + ingress-nginx's
//! default text format.
//!
//! Run: `cargo bench --bench telemetry`. Numbers go in `benches/README.md`, never in tests.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{Method, Request, Response, StatusCode, Version};
use sluice::model::{
    BuildOptions, ConfigMap, Endpoint, EndpointPort, EndpointSlice, HttpPath, Ingress,
    IngressBackend, IngressClass, IngressRule, ObjectKey, PathType, PortRef, RouteTable, Service,
    ServicePort, Snapshot, build, config::DEFAULT_LOG_FORMAT,
};
use sluice::proxy::{Connection, Filter, Proxy, RequestContext, Scheme, Telemetry};

const INGRESSES: usize = 1000;

fn table(log_format: Option<&str>) -> RouteTable {
    let mut s = Snapshot::default();
    s.insert_ingress_class(IngressClass {
        name: "sluice".into(),
        controller: sluice::model::DEFAULT_CONTROLLER_CLASS.into(),
        is_default: false,
    });
    for i in 0..INGRESSES {
        let ns = format!("team-{}", i % 50);
        let svc = format!("svc-{i}");
        s.insert_ingress(Ingress {
            key: ObjectKey::new(&ns, format!("ing-{i}")),
            class_name: Some("sluice".into()),
            rules: vec![IngressRule {
                host: Some(format!("host-{i}.example.com")),
                paths: vec![HttpPath {
                    path: Some("/api".into()),
                    path_type: Some(PathType::Prefix),
                    backend: IngressBackend::Service {
                        name: svc.clone(),
                        port: PortRef::Number(80),
                    },
                }],
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
        s.insert_endpoint_slice(EndpointSlice {
            key: ObjectKey::new(&ns, format!("{svc}-1")),
            service_name: Some(svc),
            address_type: "IPv4".into(),
            ports: vec![EndpointPort {
                name: None,
                port: Some(8080),
                protocol: None,
            }],
            endpoints: vec![Endpoint {
                addresses: vec![format!("10.0.{}.{}", i / 250, i % 250)],
                ready: Some(true),
            }],
        });
    }
    let mut options = BuildOptions::default();
    if let Some(format) = log_format {
        let key = ObjectKey::new("ingress", "sluice");
        let mut data = std::collections::BTreeMap::new();
        data.insert("log-format-upstream".to_owned(), format.to_owned());
        s.insert_config_map(ConfigMap {
            key: key.clone(),
            data,
        });
        options.controller_config = Some(key);
    }
    build(&s, &options).table
}

/// A proxy-less telemetry filter whose label index knows `table`.
fn filter(table: RouteTable, log: bool) -> Arc<dyn Filter> {
    let sink: Option<Box<dyn std::io::Write + Send>> = if log {
        Some(Box::new(std::io::sink()))
    } else {
        None
    };
    let telemetry = Telemetry::builder()
        .access_log_sink(sink)
        .access_log_capacity(1 << 16)
        .build();
    let proxy = Proxy::builder()
        .telemetry(telemetry.clone())
        .build()
        .unwrap_or_else(|e| panic!("proxy: {e}"));
    proxy
        .handle()
        .apply(table)
        .unwrap_or_else(|e| panic!("apply: {e}"));
    telemetry.filter()
}

/// A request to host 417 with the headers browsers and clients send, its route, and the
/// response the upstream gave.
fn exchange(table: &RouteTable) -> (RequestContext, http::request::Parts, http::response::Parts) {
    let host = "host-417.example.com";
    let vhost = table
        .virtual_host(host)
        .unwrap_or_else(|| panic!("no vhost"));
    let route = vhost.routes.first().cloned();
    let (parts, ()) = Request::builder()
        .method(Method::GET)
        .uri("/api/v1/items?page=2&sort=name")
        .header("host", host)
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
        )
        .header("accept", "application/json")
        .header("accept-encoding", "gzip, br")
        .header("referer", "https://host-417.example.com/app")
        .header("cookie", "session=abc123; theme=dark")
        .header("x-request-id", "0123456789abcdef0123456789abcdef")
        .body(())
        .unwrap_or_else(|e| panic!("{e}"))
        .into_parts();
    let (response, ()) = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("content-length", "1234")
        .header("cache-control", "no-store")
        .header("server", "sluice")
        .body(())
        .unwrap_or_else(|e| panic!("{e}"))
        .into_parts();
    let connection = Connection {
        client: SocketAddr::from(([10, 9, 8, 7], 51234)),
        scheme: Scheme::Https,
        port: 443,
    };
    let mut ctx = RequestContext::new(connection, Method::GET, Version::HTTP_11);
    ctx.host = host.to_owned();
    ctx.path = "/api/v1/items".to_owned();
    ctx.upstream = route.as_ref().and_then(|r| match &r.action {
        sluice::model::Action::Forward(f) => f.backends.first().map(|b| b.upstream.clone()),
        _ => None,
    });
    ctx.route = route.map(sluice::router::SharedRoute::new);
    ctx.request_id = "0123456789abcdef0123456789abcdef".to_owned();
    ctx.endpoint = Some(SocketAddr::from(([10, 0, 1, 167], 8080)));
    ctx.attempts = 1;
    ctx.status = Some(StatusCode::OK);
    ctx.upstream_status = Some(StatusCode::OK);
    ctx.completed = true;
    let start = Instant::now();
    ctx.upstream_timing.start = Some(start);
    ctx.upstream_timing.connected = Some(start + Duration::from_micros(150));
    ctx.upstream_timing.header = Some(start + Duration::from_micros(900));
    (ctx, parts, response)
}

fn per_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("telemetry_per_request");
    let cases: [(&str, Option<&str>, bool); 3] = [
        ("metrics_only", None, false),
        ("metrics_and_json_log", None, true),
        ("metrics_and_nginx_log", Some(DEFAULT_LOG_FORMAT), true),
    ];
    for (name, format, log) in cases {
        // A format equal to the default selects JSON; append a variable to force the template.
        let format = format.map(|f| format!("{f} $host"));
        let table = table(format.as_deref());
        let filter = filter(table.clone(), log);
        // One exchange, its hooks run again and again: each run overwrites what the previous
        // one captured, so the loop measures the hooks and not building contexts.
        let (mut ctx, mut parts, mut response) = exchange(&table);
        group.bench_function(name, |b| {
            b.iter(|| {
                let _ = filter.request(&mut ctx, &mut parts);
                filter.response(&mut ctx, &mut response);
                filter.logging(black_box(&ctx));
            });
        });
    }
    group.finish();
}

criterion_group!(benches, per_request);
criterion_main!(benches);
