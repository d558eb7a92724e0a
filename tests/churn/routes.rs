//! A thousand route changes under steady load, with the endpoints of the loaded Service
//! flipping between two live backends all along: no request fails. Each change rewrites the
//! routes file (hosts `h0…h{n}` come and go, a second path appears and disappears) and is
//! waited for in the `config applied` log (its host and route counts identify it); a task
//! rewrites the Service's EndpointSlice, alternating the two backends, until the changes are
//! done. `SLUICE_CHURN_CHANGES` overrides the number of route changes (default 1,000).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::support::*;

const WORKERS: usize = 3;
const CHURN_HOSTS: usize = 5;

fn changes() -> usize {
    std::env::var("SLUICE_CHURN_CHANGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}

/// Step `i`: how many churned hosts and whether they carry the second path.
fn shape(i: usize) -> (usize, bool) {
    (1 + i % CHURN_HOSTS, i % 2 == 1)
}

/// The routes file of step `i`: the fixed `load.example.com` Ingress and the churned one.
fn routes(i: usize) -> String {
    let load = ingress(
        "load",
        Some("load.example.com"),
        &[("/", "flip"), ("/stable", "stable")],
    );
    let (hosts, second) = shape(i);
    let mut churned = String::from(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: churn\n  \
         namespace: default\nspec:\n  ingressClassName: sluice\n  rules:\n",
    );
    let mut paths = vec!["/"];
    if second {
        paths.push("/second");
    }
    for h in 0..hosts {
        churned.push_str(&format!(
            "  - host: h{h}.example.com\n    http:\n      paths:\n"
        ));
        for path in &paths {
            churned.push_str(&format!(
                "      - path: {path}\n        pathType: Prefix\n        backend:\n          \
                 service:\n            name: stable\n            port:\n              number: 80\n"
            ));
        }
    }
    documents(&[&load, &churned])
}

fn count(line: &serde_json::Value, key: &str) -> u64 {
    line[key].as_u64().unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_route_changes_with_endpoint_churn_fail_no_request() {
    let total = changes();
    let (e1, e2, stable) = (
        backend("e1").await,
        backend("e2").await,
        backend("stable").await,
    );
    let gw = gateway()
        .file("stable.yaml", service("stable", 80, None, &[stable.addr]))
        .file("flip.yaml", service("flip", 80, None, &[e1.addr]))
        .file("routes.yaml", routes(0))
        .start()
        .await;
    let first = gw.wait_applied(1).await;
    let (hosts0, second0) = shape(0);
    let base_hosts = count(&first, "hosts") - hosts0 as u64;
    let base_routes = count(&first, "routes") - (hosts0 * (1 + usize::from(second0))) as u64;

    let targets = [
        ("load.example.com", "/"),
        ("load.example.com", "/stable"),
        ("h0.example.com", "/"),
    ];
    let load = Load::start(gw.http, WORKERS, &targets, |reply| reply.status == 200);
    load.settle(2).await;

    // Endpoint churn: the flip Service's endpoints alternate between two live backends.
    let stop = Arc::new(AtomicBool::new(false));
    let flips = Arc::new(AtomicUsize::new(0));
    let churn = {
        let (dir, stop, flips) = (gw.dir().to_path_buf(), stop.clone(), flips.clone());
        let docs = [
            service("flip", 80, None, &[e2.addr]),
            service("flip", 80, None, &[e1.addr]),
        ];
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let n = flips.load(Ordering::SeqCst);
                let temp = dir.join(".flip.yaml.tmp");
                std::fs::write(&temp, &docs[n % 2]).unwrap();
                std::fs::rename(&temp, dir.join("flip.yaml")).unwrap();
                flips.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        })
    };

    let started = Instant::now();
    for i in 1..=total {
        let (hosts, second) = shape(i);
        let want_hosts = base_hosts + hosts as u64;
        let want_routes = base_routes + (hosts * (1 + usize::from(second))) as u64;
        let mark = gw.mark();
        gw.replace("routes.yaml", &routes(i));
        // Consecutive steps differ in host count, so the line names this step.
        gw.wait_for(&format!("route change {i}"), mark, |line| {
            message(line) == CONFIG_APPLIED
                && count(line, "hosts") == want_hosts
                && count(line, "routes") == want_routes
        })
        .await;
    }
    let changing = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    churn.await.unwrap();
    load.settle(2).await;
    let report = load.finish().await;

    // The final routes are served: the last step's hosts answer, the others are gone.
    let (hosts, _) = shape(total);
    for h in 0..CHURN_HOSTS {
        let reply = get(gw.http, &format!("h{h}.example.com"), "/").await;
        let expected = if h < hosts { 200 } else { 404 };
        assert_eq!(reply.status, expected, "h{h} after {total} changes");
    }
    let applied = gw.applied();
    let rebuilds = applied.iter().filter(|l| l["change"] == "rebuild").count();
    let endpoint_only = applied
        .iter()
        .filter(|l| l["change"] == "endpoints")
        .count();
    let sent: usize = report
        .workers
        .iter()
        .flat_map(|w| w.values())
        .flatten()
        .map(|(_, n)| n)
        .sum();
    println!(
        "churn: {total} route changes and {} endpoint flips in {changing:?}; applies: {} \
         ({rebuilds} rebuilds, {endpoint_only} endpoint-only); requests sent {sent}, failed {}",
        flips.load(Ordering::SeqCst),
        applied.len(),
        report.failures.len()
    );
    assert!(
        report.failures.is_empty(),
        "{} of {sent} requests failed: {:?}",
        report.failures.len(),
        report.failures
    );
    assert!(rebuilds > total, "every route change rebuilt the router");
    // Both backends of the flipping Service served the load.
    let flip_labels = report.labels("load.example.com", "/");
    assert!(
        flip_labels.contains("e1") && flip_labels.contains("e2"),
        "{flip_labels:?}"
    );
    assert!(e1.hits() > 0 && e2.hits() > 0);
}
