//! SIGTERM through the binary (sent to the child's own pid): `/readyz` fails at once and
//! requests are still served during the drain period; then new connections are refused while
//! slow in-flight requests (HTTP/1.1 and h2c) complete, and the process exits cleanly.

use tokio::net::TcpStream;

use super::support::*;

async fn readyz(gw: &Gateway) -> u16 {
    match try_request(&h1_client(), gw.admin, "GET", "admin", "/readyz", empty()).await {
        Ok(reply) => reply.status.as_u16(),
        Err(_) => 0,
    }
}

async fn slow_gateway(grace: u64) -> (Backend, Gateway) {
    let slow = backend("slow").await;
    let gw = gateway()
        .file("services.yaml", service("slow", 80, None, &[slow.addr]))
        .file(
            "routes.yaml",
            ingress("slow", Some("slow.example.com"), &[("/", "slow")]),
        )
        .grace(grace)
        .start()
        .await;
    (slow, gw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_complete_and_new_connections_are_refused_after_the_drain() {
    let (slow, gw) = slow_gateway(1).await;
    assert_eq!(readyz(&gw).await, 200);
    let addr = gw.http;
    // Three slow requests held inside the backend: two over HTTP/1.1, one over h2c.
    let mut in_flight = Vec::new();
    for _ in 0..2 {
        in_flight.push(tokio::spawn(async move {
            get(addr, "slow.example.com", "/hold").await
        }));
    }
    in_flight.push(tokio::spawn(async move {
        let mut sender = h2c(addr).await;
        h2_request(&mut sender, "GET", "slow.example.com", "/hold", empty()).await
    }));
    for _ in 0..3 {
        slow.hold.arrived().await;
    }
    // And a request that sleeps in the backend across the whole shutdown.
    let sleeper =
        tokio::spawn(async move { get(addr, "slow.example.com", "/?sleep_ms=2500").await });
    eventually(async || slow.hits() == 4).await;

    gw.terminate();
    gw.wait_for("the shutdown signal", 0, |l| {
        message(l) == "shutdown signal received"
    })
    .await;
    // After the drain period the listener is closed.
    eventually(async || TcpStream::connect(addr).await.is_err()).await;
    assert!(!in_flight.iter().any(tokio::task::JoinHandle::is_finished));

    for _ in 0..3 {
        slow.hold.release();
    }
    for task in in_flight {
        let reply = task.await.unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(served_by(&reply), "slow");
    }
    let slept = sleeper.await.unwrap();
    assert_eq!(slept.status, 200);
    let status = gw.wait_exit().await;
    assert!(status.success(), "{status}");
    let stopped = gw
        .wait_for("the stopped line", 0, |l| message(l) == "stopped")
        .await;
    assert_eq!(stopped["graceful"], true);
}

#[tokio::test]
async fn during_the_drain_readyz_fails_and_requests_are_still_served() {
    let (_slow, gw) = slow_gateway(600).await;
    assert_eq!(readyz(&gw).await, 200);
    gw.terminate();
    eventually(async || readyz(&gw).await == 503).await;
    // Still serving, on new and on kept-alive connections alike.
    let client = h1_client();
    for _ in 0..3 {
        let reply = request(&client, gw.http, "GET", "slow.example.com", "/", empty()).await;
        assert_eq!(reply.status, 200);
    }
    assert_eq!(get(gw.http, "slow.example.com", "/").await.status, 200);
    // The drain lasts ten minutes here: dropping the gateway kills the process.
}

#[tokio::test]
async fn an_idle_gateway_exits_promptly_on_sigterm() {
    let (_slow, gw) = slow_gateway(0).await;
    // An idle keep-alive connection must not hold the shutdown back.
    let client = h1_client();
    let reply = request(&client, gw.http, "GET", "slow.example.com", "/", empty()).await;
    assert_eq!(reply.status, 200);
    gw.terminate();
    let status = gw.wait_exit().await;
    assert!(status.success(), "{status}");
    let stopped = gw
        .wait_for("the stopped line", 0, |l| message(l) == "stopped")
        .await;
    assert_eq!(stopped["graceful"], true);
}
