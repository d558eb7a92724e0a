//! The wire behaviour the controller relies on, checked with raw HTTP requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use sluice_fake_apiserver::FakeApiServer;

async fn call(
    api: &FakeApiServer,
    method: &str,
    path: &str,
    content_type: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let body = body
        .map(|b| serde_json::to_vec(&b).unwrap())
        .unwrap_or_default();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", api.url()))
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let res = client.request(req).await.unwrap();
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn watch_lines(api: &FakeApiServer, path: &str) -> Vec<Value> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let res = client
        .get(format!("{}{path}", api.url()).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn config_map(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "a"}, "data": {"k": name}})
}

#[tokio::test]
async fn lists_paginate_and_strip_item_types() {
    let api = FakeApiServer::start().await.unwrap();
    for name in ["x", "y", "z"] {
        api.apply(config_map(name)).unwrap();
    }
    let (status, page) = call(
        &api,
        "GET",
        "/api/v1/configmaps?limit=2&resourceVersion=0&resourceVersionMatch=NotOlderThan",
        "",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(page["kind"], "ConfigMapList");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page["items"][0].get("kind").is_none());
    assert_eq!(page["metadata"]["remainingItemCount"], 1);
    let token = page["metadata"]["continue"].as_str().unwrap().to_owned();
    let (_, rest) = call(
        &api,
        "GET",
        &format!("/api/v1/configmaps?limit=2&continue={token}"),
        "",
        None,
    )
    .await;
    assert_eq!(rest["items"][0]["metadata"]["name"], "z");
    assert!(rest["metadata"].get("continue").is_none());
    assert_eq!(
        rest["metadata"]["resourceVersion"],
        page["metadata"]["resourceVersion"]
    );
    let (status, gone) = call(
        &api,
        "GET",
        &format!("/api/v1/configmaps?continue={token}"),
        "",
        None,
    )
    .await;
    assert_eq!((status, gone["reason"].as_str()), (410, Some("Expired")));
    let (status, bad) = call(
        &api,
        "GET",
        "/api/v1/configmaps?fieldSelector=data.k%3Dx",
        "",
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("field label not supported")
    );
}

#[tokio::test]
async fn watches_replay_history_and_send_410_as_an_event() {
    let api = FakeApiServer::start().await.unwrap();
    let first = api.apply(config_map("x")).unwrap();
    let rv = first["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    api.apply(config_map("y")).unwrap();
    api.delete("v1", "ConfigMap", "a", "x").unwrap();
    let events = watch_lines(&api, &format!("/api/v1/namespaces/a/configmaps?watch=true&timeoutSeconds=1&allowWatchBookmarks=true&resourceVersion={rv}")).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ADDED", "DELETED", "BOOKMARK"], "{events:?}");
    assert_eq!(events[0]["object"]["kind"], "ConfigMap");
    api.compact();
    let events = watch_lines(
        &api,
        &format!("/api/v1/namespaces/a/configmaps?watch=true&resourceVersion={rv}"),
    )
    .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
    let events = watch_lines(&api, "/api/v1/namespaces/a/configmaps?watch=true&timeoutSeconds=1&fieldSelector=metadata.name%3Dy").await;
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events.len(), 1);
}

#[tokio::test]
async fn writes_follow_the_api_server_rules() {
    let api = FakeApiServer::start().await.unwrap();
    let path = "/apis/coordination.k8s.io/v1/namespaces/a/leases";
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}, "spec": {"holderIdentity": "one"}});
    let (status, created) = call(&api, "POST", path, "application/json", Some(lease.clone())).await;
    assert_eq!(status, 201);
    assert!(created["metadata"]["uid"].is_string());
    let (status, exists) = call(&api, "POST", path, "application/json", Some(lease)).await;
    assert_eq!(
        (status, exists["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    let mut stale = created.clone();
    stale["spec"]["holderIdentity"] = json!("two");
    let (status, _) = call(
        &api,
        "PUT",
        &format!("{path}/l"),
        "application/json",
        Some(stale.clone()),
    )
    .await;
    assert_eq!(status, 200);
    let (status, conflict) = call(
        &api,
        "PUT",
        &format!("{path}/l"),
        "application/json",
        Some(stale),
    )
    .await;
    assert_eq!(
        (status, conflict["reason"].as_str()),
        (409, Some("Conflict"))
    );

    // The status subresource changes only the status; the main resource keeps it.
    let ingress = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"},
                         "spec": {"ingressClassName": "x"}, "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}});
    let ipath = "/apis/networking.k8s.io/v1/namespaces/a/ingresses";
    let (_, created) = call(&api, "POST", ipath, "application/json", Some(ingress)).await;
    assert!(
        created.get("status").is_none(),
        "status is not settable on create"
    );
    let patch = json!({"spec": {"ingressClassName": "y"}, "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.2"}]}}});
    let (status, patched) = call(
        &api,
        "PATCH",
        &format!("{ipath}/i/status"),
        "application/merge-patch+json",
        Some(patch.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(patched["spec"]["ingressClassName"], "x");
    assert_eq!(
        patched["status"]["loadBalancer"]["ingress"][0]["ip"],
        "192.0.2.2"
    );
    let rv = patched["metadata"]["resourceVersion"].clone();
    let (_, again) = call(
        &api,
        "PATCH",
        &format!("{ipath}/i/status"),
        "application/merge-patch+json",
        Some(patch),
    )
    .await;
    assert_eq!(
        again["metadata"]["resourceVersion"], rv,
        "a no-op write keeps the resourceVersion"
    );
    let (status, _) = call(
        &api,
        "PATCH",
        &format!("{ipath}/i"),
        "application/json-patch+json",
        Some(json!([])),
    )
    .await;
    assert_eq!(status, 415);
    let (status, missing) = call(&api, "GET", &format!("{ipath}/nope"), "", None).await;
    assert_eq!((status, missing["kind"].as_str()), (404, Some("Status")));
}

/// Opens a watch and returns its response once the server counts it as open.
async fn open_watch(api: &FakeApiServer, path: &str) -> http::Response<hyper::body::Incoming> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let open = api.watch_count();
    let res = client
        .get(format!("{}{path}", api.url()).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for _ in 0..500 {
        if api.watch_count() > open {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    assert!(api.watch_count() > open, "the watch never opened");
    res
}

#[tokio::test]
async fn expired_watches_end_with_410_and_cannot_resume() {
    let api = FakeApiServer::start().await.unwrap();
    api.apply(config_map("x")).unwrap();
    let rv = api.resource_version();
    // A change after `rv`, replayed from the history when the watch opens.
    api.apply(config_map("y")).unwrap();
    let res = open_watch(
        &api,
        &format!("/api/v1/namespaces/a/configmaps?watch=true&resourceVersion={rv}"),
    )
    .await;
    api.expire_watches();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let events: Vec<Value> = String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[1]["type"], "ERROR");
    assert_eq!(events[1]["object"]["code"], 410);
    assert_eq!(events[1]["object"]["reason"], "Expired");
    // Resuming from before the compaction is no longer possible.
    let again = watch_lines(
        &api,
        &format!("/api/v1/namespaces/a/configmaps?watch=true&resourceVersion={rv}"),
    )
    .await;
    assert_eq!(again[0]["object"]["code"], 410);
}

#[tokio::test]
async fn cut_watches_break_mid_event_and_the_server_stays_up() {
    let api = FakeApiServer::start().await.unwrap();
    api.apply(config_map("x")).unwrap();
    let rv = api.resource_version();
    let res = open_watch(
        &api,
        &format!("/api/v1/namespaces/a/configmaps?watch=true&resourceVersion={rv}"),
    )
    .await;
    api.cut_watches().await;
    // The response does not end properly: reading it whole fails.
    let body = res.into_body().collect().await;
    assert!(body.is_err(), "a cut watch ended cleanly");
    // New requests are answered.
    let (status, list) = call(&api, "GET", "/api/v1/namespaces/a/configmaps", "", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn delayed_answers_are_still_correct() {
    let api = FakeApiServer::start().await.unwrap();
    api.apply(config_map("x")).unwrap();
    api.set_delay(std::time::Duration::from_millis(100));
    let (status, object) = call(&api, "GET", "/api/v1/namespaces/a/configmaps/x", "", None).await;
    assert_eq!(status, 200);
    assert_eq!(object["data"]["k"], "x");
    api.set_delay(std::time::Duration::ZERO);
    let (status, _) = call(&api, "GET", "/api/v1/namespaces/a/configmaps/y", "", None).await;
    assert_eq!(status, 404);
}
