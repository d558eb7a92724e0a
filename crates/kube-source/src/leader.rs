//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go's `leaderelection`:
//! every replica serves traffic; only the leader writes Ingress status and Events.
//!
//! Each round (every `retry`): read the Lease; create it when absent; renew it when we hold it;
//! take it over when it is free or has not changed for its `leaseDurationSeconds` (measured on
//! our own clock from when we last saw it change, so clock skew between nodes does not matter).
//! Writes carry the `resourceVersion` read, so of two replicas racing only one succeeds (the
//! other gets `409 Conflict`). A leader that cannot renew for `renew_deadline` steps down. On
//! shutdown the leader releases the Lease (empty holder, 1 s duration) so a peer takes over at
//! its next round instead of waiting for expiry.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// Leader election settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderConfig {
    /// Namespace of the Lease (the controller's own).
    pub namespace: String,
    /// Lease name (`--election-id`).
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a Lease is valid without renewal.
    pub lease_duration: Duration,
    /// How long a leader keeps trying to renew before stepping down.
    pub renew_deadline: Duration,
    /// Time between rounds.
    pub retry: Duration,
}

impl LeaderConfig {
    /// client-go's defaults (15 s lease, 10 s renew deadline, 2 s retry).
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry: Duration::from_secs(2),
        }
    }
}

/// Runs the election until `shutdown` turns true, publishing whether we lead on the returned
/// receiver's sender. Releases the Lease on shutdown when leading.
pub async fn run(
    client: Client,
    config: LeaderConfig,
    leading: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    let mut elector = Elector {
        api,
        config,
        observed: None,
        last_renew: None,
    };
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now_leading = elector.round().await;
        if *leading.borrow() != now_leading {
            info!(
                lease = %elector.config.name,
                identity = %elector.config.identity,
                leading = now_leading,
                "leadership changed"
            );
            leading.send_replace(now_leading);
        }
        tokio::select! {
            () = tokio::time::sleep(elector.config.retry) => {}
            _ = shutdown.changed() => {}
        }
    }
    if *leading.borrow() {
        leading.send_replace(false);
        elector.release().await;
    }
}

struct Elector {
    api: Api<Lease>,
    config: LeaderConfig,
    /// The Lease's resourceVersion when we last saw it change, and when.
    observed: Option<(String, Instant)>,
    /// When we last renewed successfully.
    last_renew: Option<Instant>,
}

impl Elector {
    /// One round; returns whether we lead afterwards.
    async fn round(&mut self) -> bool {
        match self.try_round().await {
            Ok(leading) => {
                if leading {
                    self.last_renew = Some(Instant::now());
                }
                leading
            }
            Err(e) => {
                debug!(error = %e, "lease round failed");
                // Keep leading through short API outages, up to the renew deadline.
                self.last_renew
                    .is_some_and(|at| at.elapsed() < self.config.renew_deadline)
            }
        }
    }

    async fn try_round(&mut self) -> Result<bool, kube::Error> {
        let name = self.config.name.clone();
        let Some(mut lease) = self.api.get_opt(&name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.spec(0)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if is_conflict(&e) => Ok(false),
                Err(e) => Err(e),
            };
        };
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let now = Instant::now();
        let changed = self.observed.as_ref().is_none_or(|(rv, _)| *rv != version);
        if changed {
            self.observed = Some((version, now));
        }
        let transitions = spec.lease_transitions.unwrap_or(0);
        let new_spec = if holder == self.config.identity {
            LeaseSpec {
                renew_time: Some(MicroTime(Timestamp::now())),
                lease_duration_seconds: Some(seconds(self.config.lease_duration)),
                ..spec
            }
        } else {
            let duration = spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map_or(self.config.lease_duration, Duration::from_secs);
            let expired = self
                .observed
                .as_ref()
                .is_some_and(|(_, seen)| now.duration_since(*seen) >= duration);
            if !holder.is_empty() && !expired {
                return Ok(false);
            }
            self.spec(transitions.saturating_add(1))
        };
        lease.spec = Some(new_spec);
        match self
            .api
            .replace(&name, &PostParams::default(), &lease)
            .await
        {
            Ok(updated) => {
                if let Some(rv) = updated.metadata.resource_version {
                    self.observed = Some((rv, Instant::now()));
                }
                Ok(true)
            }
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn spec(&self, transitions: i32) -> LeaseSpec {
        let now = MicroTime(Timestamp::now());
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(seconds(self.config.lease_duration)),
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// Hands the Lease over: empty holder, 1 s duration (client-go's `ReleaseOnCancel`).
    async fn release(&self) {
        let name = &self.config.name;
        let result = async {
            let Some(mut lease) = self.api.get_opt(name).await? else {
                return Ok(());
            };
            let mut spec = lease.spec.clone().unwrap_or_default();
            if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
                return Ok(());
            }
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(MicroTime(Timestamp::now()));
            lease.spec = Some(spec);
            self.api
                .replace(name, &PostParams::default(), &lease)
                .await
                .map(|_| ())
        }
        .await;
        match result {
            Ok(()) => info!(lease = %name, "lease released"),
            Err(e) => {
                warn!(lease = %name, error = %e, "releasing the lease failed; a peer takes over when it expires")
            }
        }
    }
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs().max(1)).unwrap_or(i32::MAX)
}
