//! Rate and connection limits (ingress-nginx `limit-rps`, `limit-rpm`, `limit-connections`,
//! `limit-burst-multiplier`, `limit-allowlist`, and sluice's `limit-rps-total` and
//! `limit-connections-total`), and response bandwidth (`limit-rate`, `limit-rate-after`).
//!
//! One zone per Ingress, shared by all of its paths, per replica, as in ingress-nginx. Zones
//! live in [`Zones`], outside the generation, keyed by the Ingress and its limit settings: a
//! rebuild that keeps an Ingress's settings keeps its counters, a change of settings starts a
//! fresh zone (nginx's reload does the same). Zones unused for [`IDLE_ZONE`] are dropped.

mod bandwidth;
mod connections;
mod requests;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sluice_ingress_model::ObjectKey;
use sluice_ingress_model::policy::RateLimit;

pub use bandwidth::Throttled;
pub use connections::{ConnectionGuard, ConnectionZone};
pub use requests::{RateSpec, RequestZone, SWEEP_EVERY, SWEEP_INTERVAL};

/// A zone nobody used for this long is forgotten.
pub const IDLE_ZONE: Duration = Duration::from_secs(600);

/// What a limit check decided.
#[derive(Debug)]
pub enum Verdict {
    /// No limit applies (none configured, or the client is exempt).
    Unlimited,
    /// Admitted; hold the guard (if any) until the response is finished.
    Admitted(Option<ConnectionGuard>),
    /// Too many requests (`limit-req-status-code`).
    RateExceeded,
    /// Too many concurrent requests (`limit-conn-status-code`).
    ConnectionsExceeded,
}

/// The settings that define a request zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct RequestParams {
    rps: u32,
    rpm: u32,
    rps_total: u32,
    multiplier: u32,
}

/// The settings that define a connection zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ConnectionParams {
    per_client: u32,
    total: u32,
}

struct Entry<P, Z> {
    params: P,
    zone: Arc<Z>,
    last_used: std::sync::atomic::AtomicU64,
}

type Table<P, Z> = RwLock<HashMap<ObjectKey, Vec<Entry<P, Z>>>>;

/// Every zone of a proxy, by Ingress.
pub struct Zones {
    requests: Table<RequestParams, RequestZone>,
    connections: Table<ConnectionParams, ConnectionZone>,
    epoch: Instant,
}

impl std::fmt::Debug for Zones {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zones").finish_non_exhaustive()
    }
}

impl Default for Zones {
    fn default() -> Self {
        Self {
            requests: RwLock::default(),
            connections: RwLock::default(),
            epoch: Instant::now(),
        }
    }
}

impl Zones {
    /// Applies the limits of `ingress` to a request of `client`.
    pub fn check(&self, ingress: &ObjectKey, limits: &RateLimit, client: IpAddr) -> Verdict {
        let requests = RequestParams {
            rps: limits.rps,
            rpm: limits.rpm,
            rps_total: limits.rps_total,
            multiplier: limits.burst_multiplier,
        };
        let connections = ConnectionParams {
            per_client: limits.connections,
            total: limits.connections_total,
        };
        let limit_requests = requests.rps > 0 || requests.rpm > 0 || requests.rps_total > 0;
        let limit_connections = connections.per_client > 0 || connections.total > 0;
        if !(limit_requests || limit_connections)
            || limits.allowlist.iter().any(|net| net.contains(&client))
        {
            return Verdict::Unlimited;
        }
        let now = self.epoch.elapsed().as_secs();
        if limit_requests {
            let zone = self.zone(&self.requests, ingress, requests, now, || {
                let spec = |rate, per| RateSpec {
                    rate,
                    per,
                    multiplier: requests.multiplier,
                };
                let second = Duration::from_secs(1);
                RequestZone::new(
                    &[spec(requests.rps, second), spec(requests.rpm, 60 * second)],
                    (requests.rps_total > 0).then(|| spec(requests.rps_total, second)),
                )
            });
            zone.maybe_sweep(now);
            if !zone.check(client) {
                return Verdict::RateExceeded;
            }
        }
        if !limit_connections {
            return Verdict::Admitted(None);
        }
        let zone = self.zone(&self.connections, ingress, connections, now, || {
            ConnectionZone::new(connections.per_client, connections.total)
        });
        match zone.acquire(client) {
            Some(guard) => Verdict::Admitted(Some(guard)),
            None => Verdict::ConnectionsExceeded,
        }
    }

    /// The zone for `ingress` with `params`, created when missing.
    fn zone<P: Copy + PartialEq, Z>(
        &self,
        table: &Table<P, Z>,
        ingress: &ObjectKey,
        params: P,
        now: u64,
        create: impl FnOnce() -> Z,
    ) -> Arc<Z> {
        use std::sync::atomic::Ordering::Relaxed;
        {
            // A poisoned lock only means a panic elsewhere; the map itself is consistent.
            let read = table.read().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = read
                .get(ingress)
                .and_then(|list| list.iter().find(|e| e.params == params))
            {
                entry.last_used.store(now, Relaxed);
                return Arc::clone(&entry.zone);
            }
        }
        let mut write = table.write().unwrap_or_else(|p| p.into_inner());
        let idle = IDLE_ZONE.as_secs();
        write.retain(|_, list| {
            list.retain(|e| e.last_used.load(Relaxed) + idle >= now);
            !list.is_empty()
        });
        let list = write.entry(ingress.clone()).or_default();
        if let Some(entry) = list.iter().find(|e| e.params == params) {
            entry.last_used.store(now, Relaxed);
            return Arc::clone(&entry.zone);
        }
        let zone = Arc::new(create());
        list.push(Entry {
            params,
            zone: Arc::clone(&zone),
            last_used: std::sync::atomic::AtomicU64::new(now),
        });
        zone
    }

    /// Request zones held (for tests and metrics).
    pub fn request_zones(&self) -> usize {
        let read = self.requests.read().unwrap_or_else(|p| p.into_inner());
        read.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rps: u32) -> RateLimit {
        RateLimit {
            rps,
            burst_multiplier: 1,
            ..RateLimit::default()
        }
    }

    #[test]
    fn zones_are_per_ingress_and_settings_and_honour_the_allowlist() {
        let zones = Zones::default();
        let a = ObjectKey::new("ns", "a");
        let b = ObjectKey::new("ns", "b");
        let client: IpAddr = [10, 0, 0, 1].into();
        let mut passed = 0;
        for _ in 0..5 {
            if matches!(zones.check(&a, &limits(1), client), Verdict::Admitted(_)) {
                passed += 1;
            }
        }
        assert_eq!(passed, 2, "rps 1, burst 1: two pass at once");
        // Another Ingress has its own zone.
        assert!(matches!(
            zones.check(&b, &limits(1), client),
            Verdict::Admitted(_)
        ));
        // New settings: a new zone.
        assert!(matches!(
            zones.check(&a, &limits(2), client),
            Verdict::Admitted(_)
        ));
        assert_eq!(zones.request_zones(), 3);
        let mut exempt = limits(1);
        exempt.allowlist = vec!["10.0.0.0/8".parse().unwrap()];
        assert!(matches!(
            zones.check(&a, &exempt, client),
            Verdict::Unlimited
        ));
        assert!(matches!(
            zones.check(&a, &RateLimit::default(), client),
            Verdict::Unlimited
        ));
        assert!(matches!(
            zones.check(&a, &limits(1), client),
            Verdict::RateExceeded
        ));
    }
}
