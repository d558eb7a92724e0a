//! An embedder's filter: its hooks run in order, may answer early, and `logging` sees the
//! finished exchange once.

use std::sync::{Arc, Mutex};

use http::{HeaderValue, Response, StatusCode};
use sluice_proxy::{Body, Filter, Flow, RequestContext};

use super::support::*;

#[derive(Debug, Clone, PartialEq)]
struct Logged {
    status: Option<u16>,
    completed: bool,
    bytes_sent: u64,
    bytes_received: u64,
    upstream: Option<String>,
    attempts: u32,
    request_id_len: usize,
    origin_path: Option<String>,
    path: String,
}

#[derive(Default)]
struct Recorder {
    logged: Mutex<Vec<Logged>>,
}

impl Filter for Recorder {
    fn request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) -> Flow {
        if ctx.path == "/blocked" {
            let mut response = Response::new(Body::full("blocked by filter"));
            *response.status_mut() = StatusCode::FORBIDDEN;
            return Flow::Respond(response);
        }
        req.headers
            .insert("x-seen-by-request-hook", HeaderValue::from_static("1"));
        Flow::Continue
    }

    fn upstream_request(&self, ctx: &mut RequestContext, req: &mut http::request::Parts) {
        let upstream = ctx.upstream.as_ref().unwrap().to_string();
        req.headers
            .insert("x-upstream", HeaderValue::from_str(&upstream).unwrap());
    }

    fn response(&self, _ctx: &mut RequestContext, res: &mut http::response::Parts) {
        res.headers
            .insert("x-response-hook", HeaderValue::from_static("1"));
    }

    fn logging(&self, ctx: &RequestContext) {
        self.logged.lock().unwrap().push(Logged {
            status: ctx.status.map(|s| s.as_u16()),
            completed: ctx.completed,
            bytes_sent: ctx.bytes_sent(),
            bytes_received: ctx.bytes_received(),
            upstream: ctx.upstream.as_ref().map(ToString::to_string),
            attempts: ctx.attempts,
            request_id_len: ctx.request_id.len(),
            origin_path: ctx.origin().map(|o| o.path.clone()),
            path: ctx.path.clone(),
        });
    }
}

#[tokio::test]
async fn filter_hooks_run_and_logging_sees_the_finished_exchange() {
    let echo = backend("echo").await;
    let mut world = World::new();
    world
        .service("echo", &[echo.addr])
        .ingress("ing", Some("a.example.com"), &[("/api", "echo")]);
    let recorder = Arc::new(Recorder::default());
    let proxy = start_with(builder().filter(recorder.clone()), world.table()).await;
    let client = h1_client();

    let reply = request(
        &client,
        proxy.http,
        "POST",
        "a.example.com",
        "/api/x",
        full("12345"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["x-response-hook"], "1");
    assert_eq!(reply.seen_one("x-seen-by-request-hook"), "1");
    assert_eq!(reply.seen_one("x-upstream"), "default-echo-80");
    eventually(async || recorder.logged.lock().unwrap().len() == 1).await;
    let logged = recorder.logged.lock().unwrap()[0].clone();
    assert_eq!(
        logged,
        Logged {
            status: Some(200),
            completed: true,
            bytes_sent: reply.body.len() as u64,
            bytes_received: 5,
            upstream: Some("default-echo-80".into()),
            attempts: 1,
            request_id_len: 32,
            origin_path: Some("/api".into()),
            path: "/api/x".into(),
        }
    );

    let blocked = request(
        &client,
        proxy.http,
        "GET",
        "a.example.com",
        "/blocked",
        empty(),
    )
    .await;
    assert_eq!(blocked.status, 403);
    assert_eq!(blocked.text(), "blocked by filter");
    assert_eq!(blocked.headers["x-response-hook"], "1");
    assert_eq!(blocked.headers["server"], "sluice");
    assert_eq!(echo.hits(), 1);

    let missing = request(
        &client,
        proxy.http,
        "GET",
        "a.example.com",
        "/nope",
        empty(),
    )
    .await;
    assert_eq!(missing.status, 404);
    eventually(async || recorder.logged.lock().unwrap().len() == 3).await;
    let logged = recorder.logged.lock().unwrap().clone();
    assert_eq!(logged[1].status, Some(403));
    assert_eq!(logged[1].upstream, None);
    assert_eq!(logged[2].status, Some(404));
    assert!(logged[2].completed);
    proxy.shutdown().await;
}
