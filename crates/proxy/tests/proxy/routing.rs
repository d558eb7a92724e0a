//! Host and path routing, the built-in 404, 502/503/504, retries, round robin, redirects,
//! fixed responses and route conditions.

use sluice_ingress_model::template::Template;
use sluice_ingress_model::{
    Action, Condition, FixedResponse, Forward, Redirect, Timeouts, ValueMatch,
};

use super::support::*;

#[tokio::test]
async fn routes_by_host_and_path_and_answers_404_otherwise() {
    let (a, b, c) = (backend("a").await, backend("b").await, backend("c").await);
    let mut world = World::new();
    world
        .service("svc-a", &[a.addr])
        .service("svc-b", &[b.addr])
        .service("svc-c", &[c.addr])
        .ingress(
            "one",
            Some("a.example.com"),
            &[("/", "svc-a"), ("/api", "svc-b")],
        )
        .ingress("two", Some("b.example.com"), &[("/", "svc-c")]);
    let proxy = start(world.table()).await;
    let client = h1_client();
    let go = |host: &'static str, path: &'static str| {
        let client = client.clone();
        let addr = proxy.http;
        async move { request(&client, addr, "GET", host, path, empty()).await }
    };

    assert_eq!(go("a.example.com", "/").await.backend(), "a");
    assert_eq!(go("a.example.com", "/api/users?x=1").await.backend(), "b");
    assert_eq!(
        go("a.example.com", "/api/users?x=1").await.json()["path"],
        "/api/users?x=1"
    );
    assert_eq!(go("a.example.com", "/apix").await.backend(), "a");
    assert_eq!(go("a.example.com", "/a/../api").await.backend(), "b");
    assert_eq!(go("B.Example.COM:80", "/anything").await.backend(), "c");

    let missing = go("unknown.example.com", "/").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text(), "404 Not Found: default backend\n");
    assert_eq!(missing.headers["server"], "sluice");
    proxy.shutdown().await;
}

#[tokio::test]
async fn upstream_without_endpoints_answers_503() {
    let mut world = World::new();
    world
        .service("empty", &[])
        .ingress("ing", Some("a.example.com"), &[("/", "empty")]);
    let proxy = start(world.table()).await;
    let reply = get(proxy.http, "a.example.com", "/").await;
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.text(),
        "503 Service Unavailable: no endpoints for default-empty-80\n"
    );
    proxy.shutdown().await;
}

#[tokio::test]
async fn refused_connection_answers_502() {
    let dead = refused_addr().await;
    let mut world = World::new();
    world
        .service("dead", &[dead])
        .ingress("ing", Some("a.example.com"), &[("/", "dead")]);
    let proxy = start(world.table()).await;
    let reply = get(proxy.http, "a.example.com", "/").await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.text(), "502 Bad Gateway: upstream connect failed\n");
    assert!(!reply.text().contains(&dead.to_string()));
    proxy.shutdown().await;
}

#[tokio::test]
async fn connect_failures_are_retried_unless_the_body_streamed() {
    let good = backend("good").await;
    let dead = refused_addr().await;
    let mut world = World::new();
    world
        .service("mixed", &[dead, good.addr])
        .service("mixed-streamed", &[dead, good.addr])
        .ingress("buffered", Some("a.example.com"), &[("/", "mixed")])
        .ingress(
            "streamed",
            Some("b.example.com"),
            &[("/", "mixed-streamed")],
        )
        .annotate("streamed", "proxy-request-buffering", "off");
    let proxy = start(world.table()).await;
    let client = h1_client();
    for _ in 0..6 {
        let reply = request(&client, proxy.http, "GET", "a.example.com", "/", empty()).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    // A buffered body (ingress-nginx's default) is sent again after a refused connection:
    // nothing reached the dead endpoint.
    for _ in 0..2 {
        let reply = request(
            &client,
            proxy.http,
            "POST",
            "a.example.com",
            "/",
            full("data"),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.json()["body_len"], 4);
    }
    // Sequential requests alternate between the two endpoints: of two streamed uploads, one
    // goes to the dead endpoint and cannot be retried. (Another upstream, so the dead endpoint
    // is not already passed over after the refusals above.)
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let body = http_body_util::BodyExt::boxed(http_body_util::StreamBody::new(
            futures::stream::iter([Ok::<_, std::convert::Infallible>(http_body::Frame::data(
                bytes::Bytes::from_static(b"data"),
            ))]),
        ));
        let reply = request(&client, proxy.http, "POST", "b.example.com", "/", body).await;
        statuses.push(reply.status.as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 502]);
    proxy.shutdown().await;
}

#[tokio::test]
async fn slow_upstream_answers_504_after_the_route_read_timeout() {
    let slow = backend("slow").await;
    let mut world = World::new();
    world
        .service("slow", &[slow.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "slow")]);
    let mut table = world.table();
    set_timeouts(
        &mut table,
        Timeouts {
            connect_ms: 1_000,
            read_ms: 200,
            send_ms: 1_000,
        },
    );
    let proxy = start(table).await;
    let reply = get(proxy.http, "a.example.com", "/?sleep_ms=3000").await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.text(), "504 Gateway Timeout: upstream timed out\n");
    proxy.shutdown().await;
}

#[tokio::test]
async fn round_robin_spreads_requests_evenly() {
    let backends = [
        backend("r1").await,
        backend("r2").await,
        backend("r3").await,
    ];
    let addrs: Vec<_> = backends.iter().map(|b| b.addr).collect();
    let mut world = World::new();
    world
        .service("rr", &addrs)
        .ingress("ing", Some("a.example.com"), &[("/", "rr")]);
    let proxy = start(world.table()).await;
    let client = h1_client();
    for _ in 0..9 {
        let reply = request(&client, proxy.http, "GET", "a.example.com", "/", empty()).await;
        assert_eq!(reply.status, 200);
    }
    for b in &backends {
        assert_eq!(b.hits(), 3, "backend {}", b.name);
    }
    proxy.shutdown().await;
}

#[tokio::test]
async fn weighted_backends_share_traffic_by_weight() {
    let (heavy, light) = (backend("heavy").await, backend("light").await);
    let mut world = World::new();
    world
        .service("heavy", &[heavy.addr])
        .service("light", &[light.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "heavy")]);
    let mut table = world.table();
    let light_id = upstream("light");
    table.routes.upstreams.entry(light_id.clone()).or_default();
    table
        .endpoints
        .0
        .insert(light_id.clone(), [light.addr].into_iter().collect());
    let route = &mut routes_of(&mut table, "a.example.com")[0];
    let mut forward = Forward::to(upstream("heavy"));
    forward.backends[0].weight = 3;
    forward
        .backends
        .push(sluice_ingress_model::WeightedUpstream {
            upstream: light_id,
            weight: 1,
        });
    route.action = Action::Forward(forward);
    let proxy = start(table).await;
    let client = h1_client();
    for _ in 0..8 {
        request(&client, proxy.http, "GET", "a.example.com", "/", empty()).await;
    }
    assert_eq!((heavy.hits(), light.hits()), (6, 2));
    proxy.shutdown().await;
}

#[tokio::test]
async fn redirect_and_fixed_response_actions() {
    let mut world = World::new();
    world.service("none", &[]).ingress(
        "ing",
        Some("a.example.com"),
        &[("/old", "none"), ("/tea", "none")],
    );
    let mut table = world.table();
    for route in routes_of(&mut table, "a.example.com") {
        route.action = if route.path.as_str() == "/old" {
            Action::Redirect(Redirect {
                location: "https://new.example.com/".into(),
                template: Template::literal("https://new.example.com/"),
                status: 308,
            })
        } else {
            Action::Respond(FixedResponse {
                status: 418,
                body: "short and stout".into(),
            })
        };
    }
    let proxy = start(table).await;
    let redirect = get(proxy.http, "a.example.com", "/old/page").await;
    assert_eq!(redirect.status, 308);
    assert_eq!(redirect.headers["location"], "https://new.example.com/");
    let tea = get(proxy.http, "a.example.com", "/tea").await;
    assert_eq!(tea.status, 418);
    assert_eq!(tea.text(), "short and stout");
    proxy.shutdown().await;
}

#[tokio::test]
async fn route_conditions_see_headers_cookies_and_query() {
    let (stable, canary) = (backend("stable").await, backend("canary").await);
    let mut world = World::new();
    world
        .service("stable", &[stable.addr])
        .service("canary", &[canary.addr])
        .ingress("ing", Some("a.example.com"), &[("/", "stable")]);
    let mut table = world.table();
    table
        .routes
        .upstreams
        .entry(upstream("canary"))
        .or_default();
    table
        .endpoints
        .0
        .insert(upstream("canary"), [canary.addr].into_iter().collect());
    let routes = routes_of(&mut table, "a.example.com");
    let conditional = |condition: Condition| {
        let mut route = routes[0].clone();
        route.conditions = vec![condition];
        route.action = Action::Forward(Forward::to(upstream("canary")));
        route
    };
    let by_header = conditional(Condition::Header {
        name: "x-canary".into(),
        value: ValueMatch::Exact("always".into()),
    });
    let by_cookie = conditional(Condition::Cookie {
        name: "canary".into(),
        value: ValueMatch::Present,
    });
    let by_query = conditional(Condition::Query {
        name: "v".into(),
        value: ValueMatch::Exact("2".into()),
    });
    routes.insert(0, by_header);
    routes.insert(0, by_cookie);
    routes.insert(0, by_query);
    let proxy = start(table).await;
    let client = h1_client();
    let send = |headers: Vec<(&'static str, &'static str)>, path: &'static str| {
        let client = client.clone();
        let addr = proxy.http;
        async move {
            let mut req = http::Request::builder()
                .uri(format!("http://{addr}{path}"))
                .header("host", "a.example.com");
            for (k, v) in headers {
                req = req.header(k, v);
            }
            read(client.request(req.body(empty()).unwrap()).await.unwrap()).await
        }
    };
    assert_eq!(send(vec![], "/").await.backend(), "stable");
    assert_eq!(
        send(vec![("x-canary", "always")], "/").await.backend(),
        "canary"
    );
    assert_eq!(
        send(vec![("x-canary", "never")], "/").await.backend(),
        "stable"
    );
    assert_eq!(
        send(vec![("cookie", "a=1; canary=yes")], "/")
            .await
            .backend(),
        "canary"
    );
    assert_eq!(send(vec![], "/?u=1&v=2").await.backend(), "canary");
    assert_eq!(send(vec![], "/?v=3").await.backend(), "stable");
    proxy.shutdown().await;
}
