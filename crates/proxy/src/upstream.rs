//! Live upstream objects: the endpoint set of one upstream behind an `ArcSwap`, and round-robin
//! balancing over it. Per-endpoint state is keyed by address and survives endpoint updates, and
//! the upstream object itself survives rebuilds whose table still names it (STYLE 6).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use sluice_ingress_model::{EndpointSet, UpstreamId, UpstreamPolicy};

/// One endpoint address with the state the balancer keeps for it.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// The address.
    pub addr: SocketAddr,
    /// Requests sent to it.
    pub requests: AtomicU64,
    /// Connect failures seen.
    pub failures: AtomicU64,
    /// Until when (milliseconds on [`clock_ms`]) it is passed over after a connect failure;
    /// 0 when it is not.
    ejected_until: AtomicU64,
    /// Balancer state (EWMA statistics, ring points).
    pub state: crate::balance::EndpointState,
}

/// How long an endpoint that refused a connection is passed over: nginx's default
/// `max_fails=1 fail_timeout=10s` for upstream servers.
pub(crate) const EJECT_FOR: Duration = Duration::from_secs(10);

impl Endpoint {
    pub(crate) fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            ejected_until: AtomicU64::new(0),
            state: crate::balance::EndpointState::default(),
        }
    }

    /// Records a connect failure: counted, and passed over for [`EJECT_FOR`].
    pub(crate) fn connect_failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        let until = clock_ms().saturating_add(EJECT_FOR.as_millis() as u64);
        self.ejected_until.store(until, Ordering::Relaxed);
    }

    /// Whether it is passed over now (a connect failed less than [`EJECT_FOR`] ago).
    pub(crate) fn is_ejected(&self, now_ms: u64) -> bool {
        now_ms < self.ejected_until.load(Ordering::Relaxed)
    }
}

/// Milliseconds since the first call: a monotonic clock in a form an atomic can hold.
pub(crate) fn clock_ms() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let elapsed = START.get_or_init(Instant::now).elapsed().as_millis();
    // Saturates after 584 million years.
    u64::try_from(elapsed).unwrap_or(u64::MAX).max(1)
}

/// An upstream: how to talk to it and its current endpoints.
#[derive(Debug)]
pub(crate) struct Upstream {
    /// Its id.
    pub id: UpstreamId,
    /// Protocol and connection settings.
    pub policy: UpstreamPolicy,
    /// Endpoint selection by the policy's balance and affinity.
    pub balancer: crate::balance::Balancer,
    endpoints: ArcSwap<Vec<Arc<Endpoint>>>,
    cursor: AtomicUsize,
}

impl Upstream {
    /// A new upstream with these endpoints.
    pub fn new(id: UpstreamId, policy: UpstreamPolicy, set: Option<&EndpointSet>) -> Self {
        let endpoints = set
            .map(|s| s.iter().map(|a| Arc::new(Endpoint::new(*a))).collect())
            .unwrap_or_default();
        Self {
            balancer: crate::balance::Balancer::new(&id, &policy),
            id,
            policy,
            endpoints: ArcSwap::from_pointee(endpoints),
            cursor: AtomicUsize::new(0),
        }
    }

    /// The current endpoints (one atomic load).
    pub fn endpoints(&self) -> Arc<Vec<Arc<Endpoint>>> {
        self.endpoints.load_full()
    }

    /// Replaces the endpoint set, keeping the state of addresses that stay. Writers are
    /// serialised by the handle, so the read-modify-store here does not race.
    pub fn set_endpoints(&self, set: Option<&EndpointSet>) {
        let current = self.endpoints.load();
        let mut by_addr: HashMap<SocketAddr, &Arc<Endpoint>> =
            current.iter().map(|e| (e.addr, e)).collect();
        let next: Vec<Arc<Endpoint>> = set
            .into_iter()
            .flat_map(EndpointSet::iter)
            .map(|addr| match by_addr.remove(addr) {
                Some(existing) => Arc::clone(existing),
                None => Arc::new(Endpoint::new(*addr)),
            })
            .collect();
        self.endpoints.store(Arc::new(next));
    }

    /// The next endpoint in round-robin order, skipping those already tried for this request.
    pub fn pick(&self, list: &[Arc<Endpoint>], tried: &[SocketAddr]) -> Option<Arc<Endpoint>> {
        if list.is_empty() {
            return None;
        }
        for _ in 0..list.len() {
            let i = self.cursor.fetch_add(1, Ordering::Relaxed) % list.len();
            let candidate = list.get(i)?;
            if !tried.contains(&candidate.addr) {
                return Some(Arc::clone(candidate));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_ingress_model::PortRef;

    fn set(ports: &[u16]) -> EndpointSet {
        ports
            .iter()
            .map(|p| SocketAddr::from(([127, 0, 0, 1], *p)))
            .collect()
    }

    fn upstream(ports: &[u16]) -> Upstream {
        let id = UpstreamId::new("ns", "svc", PortRef::Number(80));
        Upstream::new(id, UpstreamPolicy::default(), Some(&set(ports)))
    }

    #[test]
    fn round_robin_visits_every_endpoint_in_turn() {
        let up = upstream(&[1, 2, 3]);
        let list = up.endpoints();
        let picked: Vec<u16> = (0..6)
            .map(|_| up.pick(&list, &[]).unwrap().addr.port())
            .collect();
        assert_eq!(picked, [1, 2, 3, 1, 2, 3]);
    }

    #[test]
    fn pick_skips_tried_endpoints_and_gives_up_when_all_were_tried() {
        let up = upstream(&[1, 2]);
        let list = up.endpoints();
        let first = up.pick(&list, &[]).unwrap().addr;
        let second = up.pick(&list, &[first]).unwrap().addr;
        assert_ne!(first, second);
        assert!(up.pick(&list, &[first, second]).is_none());
        assert!(up.pick(&[], &[]).is_none());
    }

    #[test]
    fn updates_keep_state_of_remaining_endpoints() {
        let up = upstream(&[1, 2]);
        let before = up.endpoints();
        before[0].requests.store(7, Ordering::Relaxed);
        up.set_endpoints(Some(&set(&[1, 3])));
        let after = up.endpoints();
        assert_eq!(after.len(), 2);
        assert!(Arc::ptr_eq(&before[0], &after[0]));
        assert_eq!(after[0].requests.load(Ordering::Relaxed), 7);
        assert_eq!(after[1].addr.port(), 3);
        up.set_endpoints(None);
        assert!(up.endpoints().is_empty());
    }
}
