//! The access log: JSON lines for proxied, redirected, refused and failed requests, the
//! ConfigMap's nginx format and switches, and a blocked output that never stalls requests.

use serde_json::Value;

use super::observe::*;
use super::support::*;

fn line_for<'a>(lines: &'a [Value], path: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["path"] == path)
        .unwrap_or_else(|| panic!("no line for {path}: {lines:#?}"))
}

#[tokio::test]
async fn json_lines_for_proxied_redirected_refused_and_failed_requests() {
    init();
    let echo = backend("echo").await;
    let refused = refused_addr().await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .service("gone", &[refused])
        .ingress("web", Some("a.example.com"), &[("/api", "echo")])
        .ingress("broken", Some("a.example.com"), &[("/gone", "gone")])
        .ingress("moved", Some("old.example.com"), &[("/", "echo")])
        .annotate("moved", "permanent-redirect", "https://new.example.com/")
        .configmap("enable-access-log-for-default-backend", "true");
    let buffer = LogBuffer::default();
    let telemetry = telemetry(buffer.clone(), 64);
    let proxy = start_with(builder().telemetry(telemetry.clone()), world.table()).await;

    let client = h1_client();
    let req = http::Request::builder()
        .uri(format!("http://{}/api/items?page=2", proxy.http))
        .header("host", "a.example.com")
        .header("x-request-id", "req-123")
        .header("referer", "https://ref.example/")
        .header("user-agent", "tester/1.0 \"quoted\"")
        .header("authorization", "Basic YWxpY2U6c2VjcmV0")
        .body(full("hello"))
        .unwrap();
    let reply = read(client.request(req).await.unwrap()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(get(proxy.http, "old.example.com", "/x").await.status, 301);
    assert_eq!(get(proxy.http, "a.example.com", "/gone").await.status, 502);
    assert_eq!(get(proxy.http, "nobody.test", "/missing").await.status, 404);
    logged(&telemetry, 4).await;

    let lines = buffer.json();
    assert_eq!(lines.len(), 4, "{lines:#?}");
    let proxied = line_for(&lines, "/api/items");
    let expect = [
        ("remote_addr", Value::from("127.0.0.1")),
        ("remote_user", "alice".into()),
        ("request", "GET /api/items?page=2 HTTP/1.1".into()),
        ("status", 200.into()),
        ("body_bytes_sent", (reply.body.len() as u64).into()),
        ("http_referer", "https://ref.example/".into()),
        ("http_user_agent", "tester/1.0 \"quoted\"".into()),
        ("proxy_upstream_name", "default-echo-80".into()),
        ("proxy_alternative_upstream_name", "".into()),
        ("upstream_addr", echo.addr.to_string().into()),
        (
            "upstream_response_length",
            reply.body.len().to_string().into(),
        ),
        ("upstream_status", "200".into()),
        ("req_id", "req-123".into()),
        ("namespace", "default".into()),
        ("ingress", "web".into()),
        ("service", "echo".into()),
        ("service_port", "80".into()),
        ("location_path", "/api".into()),
        ("host", "a.example.com".into()),
        ("method", "GET".into()),
        ("path", "/api/items".into()),
    ];
    for (key, value) in expect {
        assert_eq!(proxied[key], value, "{key}: {proxied}");
    }
    assert!(proxied["request_length"].as_u64().unwrap() > 5);
    assert!(proxied["request_time"].as_f64().unwrap() >= 0.0);
    let upstream_time: f64 = proxied["upstream_response_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(upstream_time <= proxied["request_time"].as_f64().unwrap() + 0.001);
    assert!(proxied["time"].as_str().unwrap().ends_with("+00:00"));

    let redirect = line_for(&lines, "/x");
    assert_eq!(redirect["status"], 301);
    assert_eq!(redirect["ingress"], "moved");
    assert_eq!(redirect["upstream_addr"], "");
    assert_eq!(redirect["upstream_status"], "");
    assert_eq!(redirect["proxy_upstream_name"], "");

    let failed = line_for(&lines, "/gone");
    assert_eq!(failed["status"], 502);
    assert_eq!(failed["upstream_addr"], refused.to_string());
    assert_eq!(failed["upstream_status"], "502");
    assert_eq!(failed["upstream_response_length"], "");

    let unmatched = line_for(&lines, "/missing");
    assert_eq!(unmatched["status"], 404);
    assert_eq!(unmatched["proxy_upstream_name"], "upstream-default-backend");
    assert_eq!(unmatched["ingress"], "");
    proxy.shutdown().await;
}

#[tokio::test]
async fn configmap_format_escape_and_switches() {
    init();
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("web", Some("a.example.com"), &[("/", "echo")])
        .ingress("quiet", Some("q.example.com"), &[("/", "echo")])
        .annotate("quiet", "enable-access-log", "false")
        .configmap(
            "log-format-upstream",
            r#"{"ip":"$remote_addr","req":"$request","st":$status,"ua":"$http_user_agent","x":"$http_x_custom","c":"$cookie_session","q":"$arg_page","up":"$proxy_upstream_name","ing":"$namespace/$ingress_name","loc":"$location_path","nope":"$no_such_var"}"#,
        )
        .configmap("log-format-escape-json", "true")
        .configmap("skip-access-log-urls", "/healthz,/skip?me=1");
    let buffer = LogBuffer::default();
    let telemetry = telemetry(buffer.clone(), 64);
    let proxy = start_with(builder().telemetry(telemetry.clone()), world.table()).await;
    let client = h1_client();
    let req = http::Request::builder()
        .uri(format!("http://{}/p?page=7", proxy.http))
        .header("host", "a.example.com")
        .header("user-agent", "ua \"with\" quotes\\")
        .header("x-custom", "v1")
        .header("cookie", "a=1; session=s3")
        .body(empty())
        .unwrap();
    assert_eq!(read(client.request(req).await.unwrap()).await.status, 200);
    for (host, path) in [
        ("a.example.com", "/healthz"),
        ("a.example.com", "/skip?me=1"),
        ("q.example.com", "/quiet"),
        ("a.example.com", "/skip?me=2"),
    ] {
        assert_eq!(get(proxy.http, host, path).await.status, 200);
    }
    logged(&telemetry, 2).await;
    let lines = buffer.lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let first: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(
        first,
        serde_json::json!({
            "ip": "127.0.0.1", "req": "GET /p?page=7 HTTP/1.1", "st": 200,
            "ua": "ua \"with\" quotes\\", "x": "v1", "c": "s3", "q": "7",
            "up": "default-echo-80", "ing": "default/web", "loc": "/", "nope": ""
        })
    );
    let second: Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(second["req"], "GET /skip?me=2 HTTP/1.1");

    // The default escaping and ingress-nginx's default text format.
    world
        .configmap("log-format-escape-json", "false")
        .configmap(
            "log-format-upstream",
            &sluice_ingress_model::config::DEFAULT_LOG_FORMAT.replace("$req_id", "$req_id $nope"),
        );
    proxy.handle.apply(world.table()).unwrap();
    let req = http::Request::builder()
        .uri(format!("http://{}/t", proxy.http))
        .header("host", "a.example.com")
        .header("user-agent", "a\"b")
        .header("x-request-id", "rid")
        .body(empty())
        .unwrap();
    assert_eq!(read(client.request(req).await.unwrap()).await.status, 200);
    logged(&telemetry, 3).await;
    let text = buffer.lines().pop().unwrap();
    let expected_start = "127.0.0.1 - - [";
    assert!(text.starts_with(expected_start), "{text}");
    assert!(text.contains(r#"] "GET /t HTTP/1.1" 200 "#), "{text}");
    assert!(text.contains(r#" "-" "a\x22b" "#), "{text}");
    assert!(
        text.contains(&format!(" [default-echo-80] [] {} ", echo.addr)),
        "{text}"
    );
    assert!(text.ends_with(" 200 rid -"), "{text}");

    // disable-access-log turns every line off.
    world.configmap("disable-access-log", "true");
    proxy.handle.apply(world.table()).unwrap();
    assert_eq!(get(proxy.http, "a.example.com", "/off").await.status, 200);
    let page = get(proxy.admin, "admin", "/metrics").await.text();
    assert!(
        samples(&page, "sluice_access_log_lines_total")[0].ends_with(" 3"),
        "{page}"
    );
    assert_eq!(buffer.lines().len(), 3);
    proxy.shutdown().await;
}

/// An output that blocks forever: requests still complete, lines beyond the channel are
/// dropped and counted.
#[tokio::test]
async fn blocked_output_never_stalls_requests() {
    init();
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("web", Some("a.example.com"), &[("/", "echo")]);
    let gate = Gate::default();
    const CAPACITY: u64 = 4;
    const REQUESTS: u64 = 40;
    let telemetry = telemetry(gate.clone(), CAPACITY as usize);
    let proxy = start_with(builder().telemetry(telemetry.clone()), world.table()).await;
    let client = h1_client();
    for i in 0..REQUESTS {
        let path = format!("/r{i}");
        let reply = request(&client, proxy.http, "GET", "a.example.com", &path, empty()).await;
        assert_eq!(reply.status, 200);
    }
    // The writer holds one line in its blocked write; the channel holds CAPACITY more.
    let log = telemetry.access_log();
    assert_eq!(log.written(), 0);
    assert!(
        log.dropped() >= REQUESTS - CAPACITY - 1,
        "dropped {}",
        log.dropped()
    );
    let page = get(proxy.admin, "admin", "/metrics").await.text();
    let dropped = samples(&page, "sluice_access_log_dropped_total");
    assert!(
        dropped[0].ends_with(&format!(" {}", log.dropped())),
        "{dropped:?}"
    );
    gate.open();
    logged(&telemetry, REQUESTS - log.dropped()).await;
    assert_eq!(log.written() + log.dropped(), REQUESTS);
    proxy.shutdown().await;
}
