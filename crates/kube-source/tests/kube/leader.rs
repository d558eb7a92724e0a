//! Leader election, status and Events: only the leader writes, and a second replica takes
//! over when the first stops.

use std::time::Duration;

use serde_json::{Value, json};
use sluice_kube_source::status::{self, AddressSource};
use sluice_kube_source::{EventSink, LeaderConfig, RateLimit, leader};
use tokio::sync::watch;

use super::support::*;

struct Replica {
    leading: watch::Receiver<bool>,
    shutdown: watch::Sender<bool>,
    election: tokio::task::JoinHandle<()>,
    _status: tokio::task::JoinHandle<()>,
    _ctl: Controller,
}

fn lease_config(identity: &str) -> LeaderConfig {
    LeaderConfig {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry: Duration::from_millis(100),
        ..LeaderConfig::new("ingress", "sluice-leader", identity)
    }
}

async fn replica(world: &World, identity: &str, address: &str) -> Replica {
    let client = world.client();
    let (leading_tx, leading) = watch::channel(false);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let election = tokio::spawn(leader::run(
        client.clone(),
        lease_config(identity),
        leading_tx,
        shutdown_rx,
    ));
    let (events, _) = EventSink::spawn(
        client.clone(),
        identity.to_owned(),
        RateLimit::default(),
        leading.clone(),
    );
    let ctl = controller(
        client.clone(),
        source_config("sluice", CONTROLLER),
        Some(events),
    )
    .await;
    let status = tokio::spawn(status::run(
        client,
        AddressSource::Fixed(vec![address.to_owned()]),
        Duration::from_secs(60),
        ctl.served.clone(),
        leading.clone(),
    ));
    Replica {
        leading,
        shutdown,
        election,
        _status: status,
        _ctl: ctl,
    }
}

fn status_of(world: &World, name: &str) -> Value {
    world
        .api
        .get("networking.k8s.io/v1", "Ingress", "apps", name)
        .and_then(|i| i.pointer("/status/loadBalancer/ingress").cloned())
        .unwrap_or(Value::Null)
}

fn holder(world: &World) -> Option<String> {
    world
        .api
        .get(
            "coordination.k8s.io/v1",
            "Lease",
            "ingress",
            "sluice-leader",
        )
        .and_then(|l| {
            l.pointer("/spec/holderIdentity")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_status_and_a_peer_takes_over() {
    let world = World::new().await;
    let a = backend("a").await;
    world.put(ingress_class("sluice", CONTROLLER));
    world.put(ingress_class("other", "example.com/other"));
    service_for(&world, "apps", "web", a.port);
    world.put(ingress("apps", "web", "sluice", "a.test", "web"));
    world.put(ingress("apps", "theirs", "other", "b.test", "web"));

    let first = replica(&world, "one", "192.0.2.1").await;
    eventually("one leads", || async { *first.leading.borrow() }).await;
    let second = replica(&world, "two", "192.0.2.2").await;
    eventually("status from the leader", || async {
        status_of(&world, "web") == json!([{"ip": "192.0.2.1"}])
    })
    .await;
    assert_eq!(holder(&world).as_deref(), Some("one"));
    assert!(!*second.leading.borrow(), "one leader at a time");
    assert_eq!(
        status_of(&world, "theirs"),
        Value::Null,
        "another class's Ingress is left alone"
    );

    // A clean stop hands the Lease over.
    first.shutdown.send_replace(true);
    first.election.await.unwrap();
    eventually("two takes over", || async { *second.leading.borrow() }).await;
    assert_eq!(holder(&world).as_deref(), Some("two"));
    eventually("status from the new leader", || async {
        status_of(&world, "web") == json!([{"ip": "192.0.2.2"}])
    })
    .await;
    let transitions = world
        .api
        .get(
            "coordination.k8s.io/v1",
            "Lease",
            "ingress",
            "sluice-leader",
        )
        .and_then(|l| l.pointer("/spec/leaseTransitions").and_then(Value::as_i64));
    assert_eq!(transitions, Some(1));

    // The new leader also keeps status current for new Ingresses.
    world.put(ingress("apps", "later", "sluice", "c.test", "web"));
    eventually("status on a new Ingress", || async {
        status_of(&world, "later") == json!([{"ip": "192.0.2.2"}])
    })
    .await;
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_leader_is_replaced_after_its_lease_expires() {
    let world = World::new().await;
    world.put(ingress_class("sluice", CONTROLLER));
    let first = replica(&world, "one", "192.0.2.1").await;
    eventually("one leads", || async { *first.leading.borrow() }).await;
    // No release: the task dies with the Lease held.
    first.election.abort();
    let second = replica(&world, "two", "192.0.2.2").await;
    eventually("two takes over after expiry", || async {
        *second.leading.borrow()
    })
    .await;
    assert_eq!(holder(&world).as_deref(), Some("two"));
    let conflicts_or_replaces = world
        .api
        .requests()
        .iter()
        .filter(|r| r.resource == "leases" && r.verb == "update")
        .count();
    assert!(conflicts_or_replaces >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnostics_become_deduplicated_warning_events() {
    let world = World::new().await;
    let a = backend("a").await;
    world.put(ingress_class("sluice", CONTROLLER));
    service_for(&world, "apps", "web", a.port);
    let one = replica(&world, "one", "192.0.2.1").await;
    eventually("leads", || async { *one.leading.borrow() }).await;
    world.put(ingress("apps", "a-owner", "sluice", "a.test", "web"));
    world.put(ingress("apps", "b-late", "sluice", "a.test", "web"));
    world.put(ingress("apps", "missing", "sluice", "m.test", "nope"));
    let events_about = |name: &str| -> Vec<Value> {
        world
            .api
            .list("v1", "Event")
            .into_iter()
            .filter(|e| e.pointer("/involvedObject/name").and_then(Value::as_str) == Some(name))
            .collect()
    };
    eventually("a conflict event", || async {
        !events_about("b-late").is_empty()
    })
    .await;
    eventually("a missing-service event", || async {
        !events_about("missing").is_empty()
    })
    .await;
    let conflict = &events_about("b-late")[0];
    assert_eq!(conflict["type"], "Warning");
    assert_eq!(conflict["reason"], "Conflict");
    assert_eq!(conflict["involvedObject"]["kind"], "Ingress");
    let uid = world
        .api
        .get("networking.k8s.io/v1", "Ingress", "apps", "b-late")
        .and_then(|i| i.pointer("/metadata/uid").cloned())
        .unwrap();
    assert_eq!(
        conflict["involvedObject"]["uid"], uid,
        "kubectl describe finds events by uid"
    );
    assert!(
        conflict["message"]
            .as_str()
            .unwrap()
            .contains("apps/a-owner")
    );

    // More rebuilds do not repeat the same finding.
    for i in 0..5 {
        world.put(ingress(
            "apps",
            &format!("other-{i}"),
            "sluice",
            &format!("o{i}.test"),
            "web",
        ));
    }
    eventually("status on the last Ingress", || async {
        status_of(&world, "other-4") == json!([{"ip": "192.0.2.1"}])
    })
    .await;
    assert_eq!(events_about("b-late").len(), 1, "deduplicated");
    assert_eq!(events_about("a-owner").len(), 0);
}
