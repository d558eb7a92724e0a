//! A backend killed under load: its listener closes and its open connections drop. Only
//! requests in flight at that moment may fail (each worker has at most one in flight, so at
//! most one per worker), and none afterwards: a connection refused by the dead endpoint is
//! tried on the next one (`proxy-next-upstream: error timeout`, ingress-nginx's default). The
//! dead endpoint stays in the Service's EndpointSlice throughout, as it does in a cluster
//! until the endpoints controller notices.

use super::support::*;

const WORKERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_backend_fails_at_most_the_requests_in_flight_on_it() {
    let a = Killable::start("a").await;
    let b = Killable::start("b").await;
    let c = Killable::start("c").await;
    let gw = gateway()
        .file(
            "services.yaml",
            service("pool", 80, None, &[a.addr, b.addr, c.addr]),
        )
        .file(
            "routes.yaml",
            ingress("pool", Some("pool.example.com"), &[("/", "pool")]),
        )
        .start()
        .await;
    gw.wait_applied(1).await;

    // Quick requests, and slow ones so that some are in flight inside `c` when it dies.
    let targets = [
        ("pool.example.com", "/"),
        ("pool.example.com", "/slow?sleep_ms=150"),
    ];
    let load = Load::start(gw.http, WORKERS, &targets, |reply| reply.status == 200);
    load.settle(3).await;
    assert!(c.hits() > 0, "c took part before the kill");
    eventually(async || c.in_flight() > 0).await;
    c.kill();
    let c_hits = c.hits();

    // Let every request in flight at the kill finish, then run more rounds.
    load.settle(2).await;
    let after_kill = load.failures();
    load.settle(10).await;
    let report = load.finish().await;
    let sent: usize = report
        .workers
        .iter()
        .flat_map(|w| w.values())
        .flatten()
        .map(|(_, n)| n)
        .sum();
    println!(
        "backend kill: requests sent {sent}, failed {} (in flight at the kill), then failed {}",
        after_kill.len(),
        report.failures.len() - after_kill.len()
    );
    assert!(
        after_kill.len() <= WORKERS,
        "more failures than requests in flight: {after_kill:?}"
    );
    assert_eq!(
        report.failures, after_kill,
        "requests started after the kill failed"
    );
    assert_eq!(c.hits(), c_hits, "the dead backend got no request");
    // The survivors carried the load after the kill.
    let target = ("pool.example.com".to_owned(), "/".to_owned());
    for worker in &report.workers {
        let last = worker[&target].last().unwrap();
        assert!(
            ["a", "b"].contains(&last.0.as_str()),
            "{:?}",
            worker[&target]
        );
    }
    assert!(a.hits() > 0 && b.hits() > 0);
}
