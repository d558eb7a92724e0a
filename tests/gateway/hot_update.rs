//! Hot updates through the binary while a client loop runs: adding a host, removing a path and
//! changing endpoints fail no request, every worker sees the new routing from one point on and
//! never the old one again, and an endpoints-only edit swaps endpoints without rebuilding the
//! router (the `config applied` line says `endpoints` and the rebuild counter stays put).

use super::support::*;

const WORKERS: usize = 4;

fn change(line: &serde_json::Value) -> &str {
    line["change"].as_str().unwrap_or_default()
}

fn rebuilds(line: &serde_json::Value) -> u64 {
    line["rebuilds"].as_u64().unwrap()
}

/// Routes of `a.example.com` (`/` → app, and `/old` → old when `with_old`) and, when
/// `with_b`, of `b.example.com` → b.
fn routes(with_old: bool, with_b: bool) -> String {
    let mut a = vec![("/", "app")];
    if with_old {
        a.push(("/old", "old"));
    }
    let mut docs = vec![ingress("a", Some("a.example.com"), &a)];
    if with_b {
        docs.push(ingress("b", Some("b.example.com"), &[("/", "b")]));
    }
    let parts: Vec<&str> = docs.iter().map(String::as_str).collect();
    documents(&parts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_under_load_fail_no_request_and_switch_routing() {
    let app1 = backend("app-1").await;
    let app2 = backend("app-2").await;
    let old = backend("old").await;
    let b = backend("b").await;
    let static_services = documents(&[
        &service("old", 80, None, &[old.addr]),
        &service("b", 80, None, &[b.addr]),
    ]);
    let gw = gateway()
        .file("services.yaml", static_services)
        .file("app.yaml", service("app", 80, None, &[app1.addr]))
        .file("routes.yaml", routes(true, false))
        .start()
        .await;
    let first = gw.wait_applied(1).await;
    assert_eq!(change(&first), "rebuild");

    let targets = [
        ("a.example.com", "/"),
        ("a.example.com", "/old/page"),
        ("b.example.com", "/"),
    ];
    // Before b.example.com exists it is a 404; anything else, or a transport error, fails.
    let load = Load::start(gw.http, WORKERS, &targets, |reply| {
        reply.status == 200 || reply.status == 404
    });
    load.settle(3).await;

    // 1. Add a host.
    gw.write("routes.yaml", &routes(true, true));
    let added = gw.wait_applied(2).await;
    assert_eq!(change(&added), "rebuild");
    load.settle(3).await;

    // 2. Remove a path: /old/page falls to a.example.com's `/`.
    gw.replace("routes.yaml", &routes(false, true));
    let removed = gw.wait_applied(3).await;
    assert_eq!(change(&removed), "rebuild");
    load.settle(3).await;

    // 3. Move app to another endpoint: endpoints only, no rebuild.
    gw.write("app.yaml", &service("app", 80, None, &[app2.addr]));
    let moved = gw.wait_applied(4).await;
    assert_eq!(change(&moved), "endpoints", "{moved}");
    assert_eq!(moved["upstreams"], 1);
    assert_eq!(rebuilds(&moved), rebuilds(&removed));
    load.settle(1).await;
    let app1_hits = app1.hits();
    load.settle(3).await;
    assert_eq!(
        app1.hits(),
        app1_hits,
        "the old endpoint gets no new request"
    );

    let report = load.finish().await;
    assert!(
        report.failures.is_empty(),
        "failed requests: {:?}",
        report.failures
    );
    report
        .switched("b.example.com", "/", &["404"], &["b"])
        .unwrap();
    report
        .switched("a.example.com", "/old/page", &["old"], &["app-1", "app-2"])
        .unwrap();
    report
        .switched("a.example.com", "/", &["app-1"], &["app-2"])
        .unwrap();
    assert!(app2.hits() > 0);
    assert_eq!(
        served_by(&get(gw.http, "a.example.com", "/old").await),
        "app-2"
    );
}

#[tokio::test]
async fn endpoint_only_edits_never_rebuild_and_edits_without_effect_change_nothing() {
    let (one, two, three) = (
        backend("one").await,
        backend("two").await,
        backend("three").await,
    );
    let gw = gateway()
        .file("app.yaml", service("app", 80, None, &[one.addr]))
        .file(
            "routes.yaml",
            ingress("a", Some("a.example.com"), &[("/", "app")]),
        )
        .start()
        .await;
    let start = gw.wait_applied(1).await;
    let client = h1_client();
    let mut expected_rebuilds = rebuilds(&start);
    let steps: [(&[&Backend], &[&str]); 3] = [
        (&[&one, &two], &["one", "two"]),
        (&[&three], &["three"]),
        (&[&one, &two, &three], &["one", "two", "three"]),
    ];
    for (n, (endpoints, names)) in steps.iter().enumerate() {
        let addrs: Vec<_> = endpoints.iter().map(|b| b.addr).collect();
        gw.write("app.yaml", &service("app", 80, None, &addrs));
        let line = gw.wait_applied(n + 2).await;
        assert_eq!(change(&line), "endpoints", "{line}");
        assert_eq!(rebuilds(&line), expected_rebuilds);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..(names.len() * 4) {
            let reply = request(&client, gw.http, "GET", "a.example.com", "/", empty()).await;
            seen.insert(served_by(&reply));
        }
        let expected: std::collections::BTreeSet<String> =
            names.iter().map(|n| (*n).to_owned()).collect();
        assert_eq!(seen, expected, "round robin over the new endpoint set");
    }
    // An object that changes no route (an Ingress of another class) is applied as unchanged.
    gw.write(
        "foreign.yaml",
        &ingress("a", Some("a.example.com"), &[("/", "app")])
            .replace("name: a", "name: foreign")
            .replace("ingressClassName: sluice", "ingressClassName: other"),
    );
    let line = gw.wait_applied(5).await;
    assert_eq!(change(&line), "unchanged", "{line}");
    // A comment changes no object: nothing is applied at all, so the next line is the rebuild
    // of a route change.
    let addrs = [one.addr, two.addr, three.addr];
    gw.write(
        "app.yaml",
        &format!("# a comment\n{}", service("app", 80, None, &addrs)),
    );
    gw.write(
        "routes.yaml",
        &ingress("a", Some("a.example.com"), &[("/", "app"), ("/v2", "app")]),
    );
    let line = gw.wait_applied(6).await;
    assert_eq!(change(&line), "rebuild", "{line}");
    expected_rebuilds += 1;
    assert_eq!(rebuilds(&line), expected_rebuilds);
    assert_eq!(gw.applied().len(), 6);
}

#[tokio::test]
async fn new_and_deleted_files_add_and_remove_their_routes() {
    let b = backends(&["first", "second"]).await;
    let gw = gateway()
        .file("services.yaml", services(&b, 80))
        .file(
            "first.yaml",
            ingress("first", Some("first.example.com"), &[("/", "first")]),
        )
        .start()
        .await;
    assert_eq!(get(gw.http, "second.example.com", "/").await.status, 404);
    gw.write(
        "second.yaml",
        &ingress("second", Some("second.example.com"), &[("/", "second")]),
    );
    gw.wait_applied(2).await;
    assert_eq!(
        served_by(&get(gw.http, "second.example.com", "/").await),
        "second"
    );
    gw.remove("first.yaml");
    gw.wait_applied(3).await;
    assert_eq!(get(gw.http, "first.example.com", "/").await.status, 404);
    assert_eq!(
        served_by(&get(gw.http, "second.example.com", "/").await),
        "second"
    );
}
