//! Concurrent-request zones: nginx `limit_conn` (`limit-connections`, per client IP) and
//! sluice's `limit-connections-total` (all clients of an Ingress together). A passing request
//! holds a [`ConnectionGuard`] until its response is finished; counters of clients without a
//! request in flight are removed, so memory follows the concurrency, not the client count.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

const SHARDS: usize = 16;

/// The concurrency limits of one zone.
#[derive(Debug)]
pub struct ConnectionZone {
    per_client: u32,
    total: u32,
    in_flight: AtomicU32,
    shards: [Mutex<HashMap<IpAddr, u32>>; SHARDS],
    hasher: RandomState,
}

/// One admitted request; dropping it frees its slots.
#[derive(Debug)]
pub struct ConnectionGuard {
    zone: Arc<ConnectionZone>,
    client: Option<IpAddr>,
}

impl ConnectionZone {
    /// A zone allowing `per_client` concurrent requests per IP and `total` overall (0 = off).
    pub fn new(per_client: u32, total: u32) -> Self {
        Self {
            per_client,
            total,
            in_flight: AtomicU32::new(0),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            hasher: RandomState::new(),
        }
    }

    /// Admits a request of `client`, or `None` when a limit is reached.
    pub fn acquire(self: &Arc<Self>, client: IpAddr) -> Option<ConnectionGuard> {
        if self.total > 0 {
            let admitted = self
                .in_flight
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < self.total).then_some(n + 1)
                })
                .is_ok();
            if !admitted {
                return None;
            }
        }
        let mut guard = ConnectionGuard {
            zone: Arc::clone(self),
            client: None,
        };
        if self.per_client > 0 {
            let mut shard = self.shard(client);
            let count = shard.entry(client).or_insert(0);
            if *count >= self.per_client {
                return None; // `guard` drops and gives the total slot back.
            }
            *count += 1;
            guard.client = Some(client);
        }
        Some(guard)
    }

    /// Clients with a request in flight.
    pub fn clients(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map_or(0, |m| m.len()))
            .sum()
    }

    fn shard(&self, client: IpAddr) -> MutexGuard<'_, HashMap<IpAddr, u32>> {
        let index = usize::try_from(self.hasher.hash_one(client) % SHARDS as u64).unwrap_or(0);
        // A poisoned shard only means a panic elsewhere while it was held; the counts in it are
        // still consistent (every update is a single step).
        let shard = self.shards.get(index).unwrap_or(&self.shards[0]);
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(client) = self.client {
            let mut shard = self.zone.shard(client);
            if let Some(count) = shard.get_mut(&client) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    shard.remove(&client);
                }
            }
        }
        if self.zone.total > 0 {
            self.zone.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, last))
    }

    #[test]
    fn per_client_slots_are_held_until_dropped() {
        let zone = Arc::new(ConnectionZone::new(2, 0));
        let a = zone.acquire(ip(1)).unwrap();
        let b = zone.acquire(ip(1)).unwrap();
        assert!(zone.acquire(ip(1)).is_none());
        let other = zone.acquire(ip(2)).unwrap();
        drop(a);
        let c = zone.acquire(ip(1)).unwrap();
        assert_eq!(zone.clients(), 2);
        drop((b, c, other));
        assert_eq!(zone.clients(), 0, "idle clients are forgotten");
    }

    #[test]
    fn the_total_counts_all_clients() {
        let zone = Arc::new(ConnectionZone::new(5, 3));
        let held: Vec<_> = (1..=3).map(|i| zone.acquire(ip(i)).unwrap()).collect();
        assert!(zone.acquire(ip(9)).is_none());
        drop(held);
        let again: Vec<_> = (1..=3).filter_map(|i| zone.acquire(ip(i))).collect();
        assert_eq!(again.len(), 3);
    }

    #[test]
    fn a_client_rejected_by_its_own_limit_gives_the_total_slot_back() {
        let zone = Arc::new(ConnectionZone::new(1, 2));
        let _a = zone.acquire(ip(1)).unwrap();
        assert!(zone.acquire(ip(1)).is_none());
        let _b = zone.acquire(ip(2)).unwrap();
        assert!(zone.acquire(ip(3)).is_none());
    }
}
