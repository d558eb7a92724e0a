//! W3C trace context: an incoming `traceparent` passes unchanged; with `enable-opentelemetry`
//! a request without one gets a new trace, sent upstream and logged.

use super::observe::*;
use super::support::*;

const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

async fn get_with(addr: std::net::SocketAddr, host: &str, traceparent: Option<&str>) -> Reply {
    let mut req = http::Request::builder()
        .uri(format!("http://{addr}/"))
        .header("host", host);
    if let Some(value) = traceparent {
        req = req.header("traceparent", value);
    }
    read(
        h1_client()
            .request(req.body(empty()).unwrap())
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn traceparent_is_kept_or_started() {
    init();
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("traced", Some("t.example.com"), &[("/", "echo")])
        .annotate("traced", "enable-opentelemetry", "true")
        .ingress("untrusting", Some("u.example.com"), &[("/", "echo")])
        .annotate("untrusting", "enable-opentelemetry", "true")
        .annotate("untrusting", "opentelemetry-trust-incoming-span", "false")
        .ingress("plain", Some("p.example.com"), &[("/", "echo")]);
    let buffer = LogBuffer::default();
    let telemetry = telemetry(buffer.clone(), 64);
    let proxy = start_with(builder().telemetry(telemetry.clone()), world.table()).await;

    let kept = get_with(proxy.http, "t.example.com", Some(INCOMING)).await;
    assert_eq!(kept.seen_one("traceparent"), INCOMING);
    let plain = get_with(proxy.http, "p.example.com", Some(INCOMING)).await;
    assert_eq!(plain.seen_one("traceparent"), INCOMING);
    let none = get_with(proxy.http, "p.example.com", None).await;
    assert!(none.seen("traceparent").is_empty());

    let started = get_with(proxy.http, "t.example.com", None).await;
    let header = started.seen_one("traceparent");
    let parts: Vec<&str> = header.split('-').collect();
    assert_eq!(parts.len(), 4, "{header}");
    assert_eq!((parts[0], parts[3]), ("00", "01"));
    assert_eq!((parts[1].len(), parts[2].len()), (32, 16));
    assert_ne!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736");

    let replaced = get_with(proxy.http, "u.example.com", Some(INCOMING)).await;
    assert_ne!(replaced.seen_one("traceparent"), INCOMING);

    logged(&telemetry, 5).await;
    let lines = buffer.json();
    let trace_ids: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["trace_id"].as_str())
        .collect();
    assert_eq!(trace_ids.len(), 4, "{lines:#?}");
    assert!(trace_ids.contains(&parts[1]));
    assert_eq!(
        trace_ids
            .iter()
            .filter(|t| **t == "4bf92f3577b34da6a3ce929d0e0e4736")
            .count(),
        2
    );
    proxy.shutdown().await;
}
