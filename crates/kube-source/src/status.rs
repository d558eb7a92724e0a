//! The Ingress status writer: copies the published addresses into `status.loadBalancer.ingress`
//! of every Ingress we serve, on the leader only.
//!
//! The addresses are `--publish-status-address` when given, else the `--publish-service`
//! Service's load-balancer IPs/hostnames (and `spec.externalIPs`), followed by its own watch.
//! An Ingress is patched (JSON merge patch on the `status` subresource) only when its current
//! status differs; a failed patch is logged and retried at the next change or resync, and
//! never touches traffic.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Patch, PatchParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::json;
use sluice_ingress_model::ObjectKey;
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// Where the published addresses come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressSource {
    /// `--publish-status-address`: fixed IPs or hostnames.
    Fixed(Vec<String>),
    /// `--publish-service`: this Service's load-balancer addresses.
    Service(ObjectKey),
}

/// The Ingresses we serve, with the addresses their status holds now.
pub type Served = BTreeMap<ObjectKey, Vec<String>>;

/// Runs the writer until the task is dropped. `served` is updated by the consumer after each
/// build; `leading` by the leader election.
pub async fn run(
    client: Client,
    source: AddressSource,
    resync: Duration,
    mut served: watch::Receiver<Served>,
    mut leading: watch::Receiver<bool>,
) {
    let (addresses_tx, mut addresses) = watch::channel(None::<Vec<String>>);
    let _service_watch = match source {
        AddressSource::Fixed(fixed) => {
            addresses_tx.send_replace(Some(fixed));
            None
        }
        AddressSource::Service(key) => Some(tokio::spawn(watch_service(
            client.clone(),
            key,
            addresses_tx,
        ))),
    };
    let mut written: BTreeMap<ObjectKey, Vec<String>> = BTreeMap::new();
    let mut tick = tokio::time::interval(resync);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let resynced = tokio::select! {
            r = served.changed() => { if r.is_err() { return; } false }
            r = leading.changed() => { if r.is_err() { return; } false }
            r = addresses.changed() => { if r.is_err() { return; } false }
            _ = tick.tick() => true,
        };
        if resynced {
            // Status someone else overwrote is written again.
            written.clear();
        }
        if !*leading.borrow() {
            written.clear();
            continue;
        }
        let Some(desired) = addresses.borrow().clone() else {
            continue;
        };
        let current = served.borrow().clone();
        written.retain(|key, _| current.contains_key(key));
        for (key, now) in &current {
            if *now == desired {
                written.remove(key);
                continue;
            }
            if written.get(key) == Some(&desired) {
                continue;
            }
            match patch(&client, key, &desired).await {
                Ok(()) => {
                    written.insert(key.clone(), desired.clone());
                }
                Err(e) => warn!(ingress = %key, error = %e, "status update failed; retrying later"),
            }
        }
    }
}

async fn patch(client: &Client, key: &ObjectKey, addresses: &[String]) -> Result<(), kube::Error> {
    let entries: Vec<_> = addresses
        .iter()
        .map(|a| {
            if a.parse::<std::net::IpAddr>().is_ok() {
                json!({ "ip": a })
            } else {
                json!({ "hostname": a })
            }
        })
        .collect();
    let body = json!({ "status": { "loadBalancer": { "ingress": entries } } });
    let api: Api<Ingress> = Api::namespaced(client.clone(), &key.namespace);
    api.patch_status(&key.name, &PatchParams::default(), &Patch::Merge(&body))
        .await?;
    debug!(ingress = %key, ?addresses, "status updated");
    Ok(())
}

async fn watch_service(client: Client, key: ObjectKey, tx: watch::Sender<Option<Vec<String>>>) {
    let api: Api<Service> = Api::namespaced(client, &key.namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={}", key.name));
    let mut objects = watcher::watcher(api, config)
        .default_backoff()
        .applied_objects()
        .boxed();
    while let Some(item) = objects.next().await {
        match item {
            Ok(service) => {
                let addresses = service_addresses(&service);
                if tx.borrow().as_ref() != Some(&addresses) {
                    info!(service = %key, ?addresses, "published addresses");
                    tx.send_replace(Some(addresses));
                }
            }
            Err(e) => {
                warn!(service = %key, error = %e, "watching the publish service failed; retrying")
            }
        }
    }
}

/// A Service's load-balancer IPs and hostnames, then its external IPs.
pub fn service_addresses(service: &Service) -> Vec<String> {
    let mut addresses: Vec<String> = service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ip.clone().or_else(|| entry.hostname.clone()))
        .collect();
    for ip in service
        .spec
        .as_ref()
        .and_then(|s| s.external_ips.as_ref())
        .into_iter()
        .flatten()
    {
        if !addresses.contains(ip) {
            addresses.push(ip.clone());
        }
    }
    addresses
}

/// The Ingresses `build` treated as ours (every Ingress without a `NotOurClass` diagnostic),
/// with the addresses their status holds now: what [`run`] keeps up to date.
pub fn served(
    snapshot: &sluice_ingress_model::Snapshot,
    diagnostics: &[sluice_ingress_model::Diagnostic],
    ingresses: &BTreeMap<ObjectKey, crate::fold::IngressMeta>,
) -> Served {
    let theirs: std::collections::BTreeSet<&ObjectKey> = diagnostics
        .iter()
        .filter(|d| matches!(d.kind, sluice_ingress_model::DiagnosticKind::NotOurClass(_)))
        .map(|d| &d.object.key)
        .collect();
    snapshot
        .ingresses
        .keys()
        .filter(|key| !theirs.contains(key))
        .map(|key| {
            let current = ingresses
                .get(key)
                .map(|m| m.addresses.clone())
                .unwrap_or_default();
            (key.clone(), current)
        })
        .collect()
}
