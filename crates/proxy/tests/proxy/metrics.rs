//! `/metrics`: ingress-nginx's series and labels after a request mix, Prometheus' own checker,
//! and flat cardinality under many distinct request paths.

use std::sync::Arc;

use http::{Response, StatusCode};
use sluice_proxy::metrics::MetricsOptions;
use sluice_proxy::{Body, Filter, Flow, Mark, RequestContext, Telemetry};

use super::observe::*;
use super::support::*;

const CONST: &str = r#"controller_namespace="ingress",controller_class="k8s.io/ingress-nginx",controller_pod="sluice-0""#;

/// Answers 429 for `/limited` and marks the request rate limited, as a rate-limit filter would.
struct Limiter;

impl Filter for Limiter {
    fn request(&self, ctx: &mut RequestContext, _req: &mut http::request::Parts) -> Flow {
        if ctx.path == "/api/limited" {
            ctx.mark(Mark::RateLimited);
            let mut response = Response::new(Body::full("slow down"));
            *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            return Flow::Respond(response);
        }
        Flow::Continue
    }
}

fn world(echo: &Backend) -> World {
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .service("down", &[])
        .ingress("web", Some("a.example.com"), &[("/api", "echo")])
        .ingress("broken", Some("a.example.com"), &[("/down", "down")])
        .ingress("wild", Some("*.example.org"), &[("/", "echo")]);
    world
}

/// A proxy over [`world`] with `telemetry` and the [`Limiter`] filter.
async fn start_limited(telemetry: &Telemetry, echo: &Backend) -> Running {
    start_with(
        builder()
            .telemetry(telemetry.clone())
            .filter(Arc::new(Limiter)),
        world(echo).table(),
    )
    .await
}

#[tokio::test]
async fn request_mix_gives_ingress_nginx_series() {
    init();
    let echo = backend("echo").await;
    let telemetry = telemetry(LogBuffer::default(), 64);
    let proxy = start_limited(&telemetry, &echo).await;
    let client = h1_client();
    for path in ["/api/x?q=1", "/api/y", "/api"] {
        let reply = request(&client, proxy.http, "GET", "a.example.com", path, empty()).await;
        assert_eq!(reply.status, 200);
    }
    let post = request(
        &client,
        proxy.http,
        "POST",
        "a.example.com",
        "/api",
        full("12345"),
    )
    .await;
    assert_eq!(post.status, 200);
    let down = get(proxy.http, "a.example.com", "/down").await;
    assert_eq!(down.status, 503);
    let limited = get(proxy.http, "a.example.com", "/api/limited").await;
    assert_eq!(limited.status, 429);
    assert_eq!(get(proxy.http, "unknown.test", "/x").await.status, 404);
    assert_eq!(
        get(proxy.http, "a.example.com", "/elsewhere").await.status,
        404
    );
    assert_eq!(get(proxy.http, "b.example.org", "/z").await.status, 200);
    logged(&telemetry, 0).await;

    let page = get(proxy.admin, "admin", "/metrics").await;
    assert_eq!(
        page.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let page = page.text();
    let route = |status: u16,
                 method: &str,
                 path: &str,
                 ingress: &str,
                 service: &str,
                 host: &str| {
        format!(
            r#"{{{CONST},status="{status}",method="{method}",path="{path}",namespace="{}",ingress="{ingress}",service="{service}",canary="",host="{host}"}}"#,
            if ingress.is_empty() { "" } else { "default" }
        )
    };
    let mut requests = samples(&page, "nginx_ingress_controller_requests");
    requests.sort_unstable();
    let mut expected = vec![
        format!(
            "nginx_ingress_controller_requests{} 3",
            route(200, "GET", "/api", "web", "echo", "a.example.com")
        ),
        format!(
            "nginx_ingress_controller_requests{} 1",
            route(200, "POST", "/api", "web", "echo", "a.example.com")
        ),
        format!(
            "nginx_ingress_controller_requests{} 1",
            route(503, "GET", "/down", "broken", "down", "a.example.com")
        ),
        format!(
            "nginx_ingress_controller_requests{} 1",
            route(429, "GET", "/api", "web", "", "a.example.com")
        ),
        format!(
            "nginx_ingress_controller_requests{} 1",
            route(404, "GET", "", "", "", "-")
        ),
        format!(
            "nginx_ingress_controller_requests{} 1",
            route(404, "GET", "", "", "", "a.example.com")
        ),
        format!(
            "nginx_ingress_controller_requests{} 1",
            route(200, "GET", "/", "wild", "echo", "*.example.org")
        ),
    ];
    expected.sort_unstable();
    assert_eq!(requests, expected, "{page}");
    assert!(page.contains("# TYPE nginx_ingress_controller_requests untyped\n"));

    // Histograms: ingress-nginx's buckets, upstream phases only for proxied requests.
    let get_api = route(200, "GET", "/api", "web", "echo", "a.example.com");
    let labels = get_api.trim_start_matches('{').trim_end_matches('}');
    let family_labels = labels.trim_start_matches(CONST);
    for (family, last_bound) in [
        ("request_duration_seconds", "10.0"),
        ("response_duration_seconds", "10.0"),
        ("header_duration_seconds", "10.0"),
        ("connect_duration_seconds", "10.0"),
        ("request_size", "100.0"),
        ("response_size", "100.0"),
        ("bytes_sent", "10000000.0"),
    ] {
        let name = format!("nginx_ingress_controller_{family}");
        assert!(
            page.contains(&format!("{name}_count{{{labels}}} 3\n")),
            "{family}: {page}"
        );
        assert!(
            page.contains(&format!(
                "{name}_bucket{{{CONST},le=\"{last_bound}\"{family_labels}}} "
            )),
            "{family} buckets: {page}"
        );
        assert!(page.contains(&format!(
            "{name}_bucket{{{CONST},le=\"+Inf\"{family_labels}}} 3\n"
        )));
    }
    let limited = route(429, "GET", "/api", "web", "", "a.example.com");
    let limited = limited.trim_start_matches('{').trim_end_matches('}');
    assert!(page.contains(&format!(
        "nginx_ingress_controller_request_duration_seconds_count{{{limited}}} 1\n"
    )));
    assert!(
        !page.contains(&format!(
            "nginx_ingress_controller_connect_duration_seconds_count{{{limited}}}"
        )),
        "no upstream phases for a request answered by a filter"
    );
    assert!(page.contains(&format!(
        "nginx_ingress_controller_ingress_upstream_latency_seconds_count{{{CONST},ingress=\"web\",namespace=\"default\",service=\"echo\",canary=\"\"}} 4\n"
    )));

    // Controller, filter and upstream metrics.
    for line in [
        format!("nginx_ingress_controller_config_last_reload_successful{{{CONST}}} 1"),
        format!("nginx_ingress_controller_success{{{CONST}}} 1"),
        format!("nginx_ingress_controller_errors{{{CONST}}} 0"),
        format!(
            "nginx_ingress_controller_build_info{{{CONST},release=\"1.2.3\",build=\"abc123\",repository=\"https://example.com/sluice\"}} 1"
        ),
        format!(
            "sluice_requests_rejected_total{{{CONST},namespace=\"default\",ingress=\"web\",reason=\"rate_limit\"}} 1"
        ),
        format!("sluice_config_applies_total{{{CONST},change=\"rebuild\"}} 1"),
        format!("sluice_hosts{{{CONST}}} 2"),
        format!("sluice_upstreams_without_endpoints{{{CONST}}} 1"),
        format!("sluice_upstream_requests_total{{{CONST},upstream=\"default-echo-80\"}} 5"),
        format!("nginx_ingress_controller_nginx_process_requests_total{{{CONST}}} 9"),
        format!(
            "nginx_ingress_controller_nginx_process_connections{{{CONST},state=\"reading\"}} 0"
        ),
    ] {
        assert!(
            page.contains(&format!("{line}\n")),
            "missing {line}\n{page}"
        );
    }
    let opened: u64 = samples(&page, "sluice_upstream_connections_opened_total")
        .iter()
        .find(|l| l.contains("default-echo-80"))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=5).contains(&opened),
        "pooled connections are reused: {opened}"
    );
    let hash = samples(&page, "nginx_ingress_controller_config_hash");
    assert_eq!(hash.len(), 1);
    assert!(!hash[0].ends_with(" 0"), "{hash:?}");
    assert!(page.contains("\nprocess_resident_memory_bytes "));
    assert!(
        page.contains("# TYPE nginx_ingress_controller_nginx_process_cpu_seconds_total counter\n")
    );
    assert!(!page.contains("# EOF"));
    proxy.shutdown().await;
}

/// `--enable-metrics=false`: requests record no series (not even the refused one), while the
/// process, connection, upstream-pool and configuration series stay.
#[tokio::test]
async fn with_request_metrics_off_requests_record_nothing() {
    init();
    let echo = backend("echo").await;
    let telemetry = Telemetry::builder()
        .metrics_options(MetricsOptions {
            requests: false,
            ..MetricsOptions::default()
        })
        .access_log_sink(Some(Box::new(LogBuffer::default())))
        .build();
    let proxy = start_limited(&telemetry, &echo).await;
    for (host, path, status) in [
        ("a.example.com", "/api/x", 200),
        ("a.example.com", "/down", 503),
        ("a.example.com", "/api/limited", 429),
        ("unknown.test", "/", 404),
    ] {
        assert_eq!(get(proxy.http, host, path).await.status, status, "{path}");
    }
    // As in the test above: a request is counted before its client sees the end of the response.
    let page = get(proxy.admin, "admin", "/metrics").await.text();
    for name in [
        "nginx_ingress_controller_requests",
        "nginx_ingress_controller_request_duration_seconds_count",
        "nginx_ingress_controller_response_size_count",
        "nginx_ingress_controller_ingress_upstream_latency_seconds_count",
        "sluice_requests_rejected_total",
    ] {
        assert_eq!(samples(&page, name), Vec::<&str>::new(), "{name}\n{page}");
    }
    let served = samples(
        &page,
        "nginx_ingress_controller_nginx_process_requests_total",
    );
    assert!(served.len() == 1 && served[0].ends_with(" 4"), "{served:?}");
    assert_eq!(
        samples(&page, "nginx_ingress_controller_config_hash").len(),
        1
    );
    assert!(
        !samples(&page, "sluice_upstream_connections_opened_total").is_empty(),
        "{page}"
    );
    proxy.shutdown().await;
}

/// The page passes `promtool check metrics` (Prometheus' linter) when promtool is installed;
/// CI installs it and sets `SLUICE_REQUIRE_PROMTOOL`, so there it cannot be skipped.
#[tokio::test]
async fn promtool_accepts_the_page() {
    init();
    let Ok(promtool) = which_promtool() else {
        assert!(
            std::env::var_os("SLUICE_REQUIRE_PROMTOOL").is_none(),
            "SLUICE_REQUIRE_PROMTOOL is set but promtool is not on PATH"
        );
        eprintln!("SKIPPED: promtool is not installed (apt-get install prometheus); CI runs this");
        return;
    };
    let echo = backend("echo").await;
    let telemetry = telemetry(LogBuffer::default(), 64);
    let mut world = world(&echo);
    world
        .configmap("enable-access-log-for-default-backend", "true")
        .secret("ec", "ec-sec1")
        .ingress("secure", Some("ec.example.com"), &[("/", "echo")])
        .tls("secure", &["ec.example.com"], "ec");
    let built = sluice_ingress_model::build(&world.snapshot, &world.options);
    telemetry
        .metrics()
        .controller()
        .built(&built, std::time::Duration::from_millis(3));
    telemetry.metrics().set_leader("sluice-leader", true);
    let proxy = start_with(
        builder()
            .telemetry(telemetry.clone())
            .filter(Arc::new(Limiter)),
        built.table,
    )
    .await;
    for (host, path) in [
        ("a.example.com", "/api/x"),
        ("a.example.com", "/api/limited"),
        ("a.example.com", "/down"),
        ("unknown.test", "/"),
        ("b.example.org", "/"),
    ] {
        get(proxy.http, host, path).await;
    }
    let page = get(proxy.admin, "admin", "/metrics").await.text();
    for family in [
        "nginx_ingress_controller_ssl_expire_time_seconds{",
        "nginx_ingress_controller_orphan_ingress{",
        "nginx_ingress_controller_leader_election_status{",
        "sluice_requests_rejected_total{",
        "sluice_config_diagnostics{",
    ] {
        assert!(page.contains(family), "{family} is empty: {page}");
    }
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && report.trim().is_empty(),
        "promtool: {report}\n{page}"
    );
    proxy.shutdown().await;
}

fn which_promtool() -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("promtool"))
        .find(|candidate| candidate.is_file())
        .ok_or(())
}

/// 10k distinct request paths under one Ingress path add no series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cardinality_stays_flat_under_distinct_paths() {
    init();
    let echo = backend("echo").await;
    let telemetry = telemetry(LogBuffer::default(), 16);
    let proxy = start_with(builder().telemetry(telemetry.clone()), world(&echo).table()).await;
    let client = h1_client();
    let warm = request(
        &client,
        proxy.http,
        "GET",
        "a.example.com",
        "/api/0",
        empty(),
    )
    .await;
    assert_eq!(warm.status, 200);
    let page = get(proxy.admin, "admin", "/metrics").await.text();
    let series_before = page.lines().filter(|l| !l.starts_with('#')).count();
    let sets_before = telemetry.metrics().label_sets();

    let mut tasks = Vec::new();
    for worker in 0..8 {
        let client = client.clone();
        let addr = proxy.http;
        tasks.push(tokio::spawn(async move {
            for i in 0..1250 {
                let path = format!("/api/{worker}/{i}?n={i}");
                let reply = request(&client, addr, "GET", "a.example.com", &path, empty()).await;
                assert_eq!(reply.status, 200);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let page = get(proxy.admin, "admin", "/metrics").await.text();
    let series_after = page.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(telemetry.metrics().label_sets(), sets_before);
    // Only the admin request's own connection can add nothing here: request series are keyed
    // by Ingress path, and the upstream gauges are per upstream.
    assert_eq!(series_after, series_before, "{page}");
    let requests = samples(&page, "nginx_ingress_controller_requests");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].ends_with(" 10001"), "{requests:?}");
    proxy.shutdown().await;
}

/// `/debug/config`: the live ConfigMap settings and the report the embedder published.
#[tokio::test]
async fn debug_config_serves_settings_and_the_published_report() {
    init();
    let echo = backend("echo").await;
    let mut world = world(&echo);
    world.configmap("skip-access-log-urls", "/healthz");
    let proxy = start_with(builder(), world.table()).await;
    let page = get(proxy.admin, "admin", "/debug/config").await;
    assert_eq!(page.headers["content-type"], "application/json");
    let json = page.json();
    assert_eq!(json["settings"]["access_log"]["skip_urls"][0], "/healthz");
    assert_eq!(json["keys"], serde_json::Value::Null);
    proxy
        .handle
        .publish_config_report(serde_json::json!({"keys": [{"key": "skip-access-log-urls"}]}));
    let json = get(proxy.admin, "admin", "/debug/config").await.json();
    assert_eq!(json["keys"]["keys"][0]["key"], "skip-access-log-urls");
    proxy.shutdown().await;
}

/// A retried request counts in `sluice_upstream_retries_total`; attempts reach the upstream
/// request counter, and the reuse ratio follows pooled connections.
#[tokio::test]
async fn retries_and_connection_reuse_per_upstream() {
    init();
    let echo = backend("echo").await;
    let refused = refused_addr().await;
    let mut world = World::new();
    world.service("flaky", &[refused, echo.addr]).ingress(
        "flaky",
        Some("f.example.com"),
        &[("/", "flaky")],
    );
    let telemetry = telemetry(LogBuffer::default(), 64);
    let proxy = start_with(builder().telemetry(telemetry.clone()), world.table()).await;
    let client = h1_client();
    let mut retried = 0;
    for _ in 0..4 {
        let reply = request(&client, proxy.http, "GET", "f.example.com", "/", empty()).await;
        assert_eq!(reply.status, 200);
    }
    let page = get(proxy.admin, "admin", "/metrics").await.text();
    for line in samples(&page, "sluice_upstream_retries_total") {
        if line.contains("upstream=\"default-flaky-80\"") {
            retried = line.rsplit(' ').next().unwrap().parse::<u64>().unwrap();
        }
    }
    let requests = samples(&page, "sluice_upstream_requests_total");
    let attempts: u64 = requests[0].rsplit(' ').next().unwrap().parse().unwrap();
    assert!(
        retried >= 1,
        "the refused endpoint is tried at least once: {page}"
    );
    assert_eq!(
        attempts,
        4 + retried,
        "every attempt beyond the first is a retry"
    );
    let reuse = samples(&page, "sluice_upstream_connection_reuse_ratio");
    let ratio: f64 = reuse[0].rsplit(' ').next().unwrap().parse().unwrap();
    assert!(ratio > 0.0 && ratio < 1.0, "{reuse:?}");
    proxy.shutdown().await;
}

/// The built-in rate-limit and authentication steps count their refusals by reason.
#[tokio::test]
async fn rate_limit_and_auth_refusals_are_counted_by_reason() {
    init();
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("limited", Some("l.example.com"), &[("/", "echo")])
        .ingress("private", Some("p.example.com"), &[("/", "echo")]);
    super::traffic_support::annotate(
        &mut world,
        "limited",
        &[("limit-rpm", "1"), ("limit-burst-multiplier", "1")],
    );
    super::traffic_support::annotate(
        &mut world,
        "private",
        &[("auth-type", "basic"), ("auth-secret", "users")],
    );
    super::traffic_support::opaque(
        &mut world,
        "users",
        &[("auth", "alice:$apr1$x1$abcdefghijklmnopqrstuv\n")],
    );
    let telemetry = telemetry(LogBuffer::default(), 64);
    let proxy = start_with(builder().telemetry(telemetry.clone()), world.table()).await;
    // limit-rpm 1 with burst 1 × 1: two pass, the next two are refused.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get(proxy.http, "l.example.com", "/").await.status);
    }
    assert_eq!(statuses, [200, 200, 503, 503]);
    assert_eq!(get(proxy.http, "p.example.com", "/").await.status, 401);
    logged(&telemetry, 0).await;
    let page = get(proxy.admin, "admin", "/metrics").await.text();
    for line in [
        format!(
            "sluice_requests_rejected_total{{{CONST},namespace=\"default\",ingress=\"limited\",reason=\"rate_limit\"}} 2"
        ),
        format!(
            "sluice_requests_rejected_total{{{CONST},namespace=\"default\",ingress=\"private\",reason=\"auth\"}} 1"
        ),
    ] {
        assert!(
            page.contains(&format!("{line}\n")),
            "missing {line}\n{page}"
        );
    }
    proxy.shutdown().await;
}

/// An endpoint that refused a connection is passed over for a while (nginx's passive health
/// check, `max_fails=1 fail_timeout=10s`): one retry, not one for every other request.
#[tokio::test]
async fn an_endpoint_that_refuses_connections_is_passed_over() {
    init();
    let echo = backend("echo").await;
    let refused = refused_addr().await;
    let mut world = World::new();
    world.service("flaky", &[refused, echo.addr]).ingress(
        "flaky",
        Some("f.example.com"),
        &[("/", "flaky")],
    );
    let telemetry = telemetry(LogBuffer::default(), 64);
    let proxy = start_with(builder().telemetry(telemetry.clone()), world.table()).await;
    let client = h1_client();
    for _ in 0..20 {
        let reply = request(&client, proxy.http, "GET", "f.example.com", "/", empty()).await;
        assert_eq!(reply.status, 200);
    }
    let page = get(proxy.admin, "admin", "/metrics").await.text();
    let retries: Vec<&str> = samples(&page, "sluice_upstream_retries_total")
        .into_iter()
        .filter(|line| line.contains("upstream=\"default-flaky-80\""))
        .collect();
    assert_eq!(retries.len(), 1, "{page}");
    assert!(
        retries[0].ends_with(" 1"),
        "one retry, then the refusing endpoint is passed over: {retries:?}"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn orphan_ingresses_follow_the_live_table() {
    init();
    let echo = backend("echo").await;
    let telemetry = telemetry(LogBuffer::default(), 16);
    let mut world = world(&echo);
    world.ingress("lost", Some("c.example.com"), &[("/", "missing")]);
    let built = sluice_ingress_model::build(&world.snapshot, &world.options);
    telemetry
        .metrics()
        .controller()
        .built(&built, std::time::Duration::from_millis(1));
    let proxy = start_with(builder().telemetry(telemetry.clone()), built.table).await;
    let orphans = |page: &str| -> Vec<String> {
        page.lines()
            .filter(|l| l.starts_with("nginx_ingress_controller_orphan_ingress{"))
            .map(|l| {
                let labels = l.split_once(",namespace=").map_or(l, |(_, r)| r);
                labels.trim_end_matches("} 1").to_owned()
            })
            .collect()
    };
    let page = get(proxy.admin, "admin", "/metrics").await.text();
    assert_eq!(
        orphans(&page),
        [
            r#""default",ingress="broken",type="no-endpoint""#,
            r#""default",ingress="lost",type="no-service""#,
        ],
        "{page}"
    );
    // `down` gets an endpoint: an endpoints-only apply, and the next scrape sees it.
    world.service("down", &[echo.addr]);
    let outcome = proxy.handle.apply(world.table()).unwrap();
    assert!(matches!(
        outcome.change,
        sluice_proxy::Change::Endpoints { .. }
    ));
    let page = get(proxy.admin, "admin", "/metrics").await.text();
    assert_eq!(
        orphans(&page),
        [r#""default",ingress="lost",type="no-service""#],
        "{page}"
    );
    proxy.shutdown().await;
}
