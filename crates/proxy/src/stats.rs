//! Cheap counters the data plane keeps whether or not metrics are exported: client connections
//! (accepted, open, requests in flight) and upstream connections per endpoint address (opened,
//! open, counted by the connector). They are read at scrape time only.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// The client-side counters of one proxy (upstream connections are counted by the upstream
/// clients, see `UpstreamClients::connections`).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// Client connections and requests.
    pub connections: Arc<ConnectionStats>,
}

/// Client-side connection and request counters of one proxy.
#[derive(Debug, Default)]
pub(crate) struct ConnectionStats {
    accepted: AtomicU64,
    active: AtomicI64,
    requests: AtomicU64,
    in_flight: AtomicI64,
}

/// Decrements a gauge when dropped.
#[derive(Debug)]
pub(crate) struct Open<'a>(&'a AtomicI64);

/// Marks a request in flight until dropped (kept in the request context).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<ConnectionStats>);

/// Snapshot of [`ConnectionStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ConnectionCounts {
    /// Connections accepted since start.
    pub accepted: u64,
    /// Connections open now.
    pub active: u64,
    /// Requests received since start.
    pub requests: u64,
    /// Requests being processed now.
    pub in_flight: u64,
}

impl ConnectionStats {
    /// Counts an accepted connection; it stays open until the guard drops.
    pub fn accepted(&self) -> Open<'_> {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.active.fetch_add(1, Ordering::Relaxed);
        Open(&self.active)
    }

    /// Counts a request; it is in flight until the guard drops.
    pub fn request(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// The current values.
    pub fn counts(&self) -> ConnectionCounts {
        let gauge = |g: &AtomicI64| u64::try_from(g.load(Ordering::Relaxed)).unwrap_or(0);
        ConnectionCounts {
            accepted: self.accepted.load(Ordering::Relaxed),
            active: gauge(&self.active),
            requests: self.requests.load(Ordering::Relaxed),
            in_flight: gauge(&self.in_flight),
        }
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Upstream connections per endpoint address, counted by the connector.
#[derive(Debug, Default)]
pub(crate) struct UpstreamConnections {
    by_addr: RwLock<HashMap<SocketAddr, Arc<AddrConnections>>>,
}

/// Connections to one address.
#[derive(Debug, Default)]
pub(crate) struct AddrConnections {
    /// Opened since start.
    pub opened: AtomicU64,
    /// Open now.
    pub active: AtomicI64,
}

/// An open upstream connection; decrements its address's gauge when dropped.
#[derive(Debug)]
pub(crate) struct UpstreamOpen(Arc<AddrConnections>);

impl UpstreamConnections {
    /// Counts a new connection to `addr`.
    pub fn opened(&self, addr: SocketAddr) -> UpstreamOpen {
        let existing = self
            .by_addr
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&addr)
            .cloned();
        let stats = match existing {
            Some(stats) => stats,
            None => self
                .by_addr
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(addr)
                .or_default()
                .clone(),
        };
        stats.opened.fetch_add(1, Ordering::Relaxed);
        stats.active.fetch_add(1, Ordering::Relaxed);
        UpstreamOpen(stats)
    }

    /// Opened and open connections to `addr`.
    pub fn of(&self, addr: &SocketAddr) -> (u64, u64) {
        self.by_addr
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(addr)
            .map_or((0, 0), |s| {
                (
                    s.opened.load(Ordering::Relaxed),
                    u64::try_from(s.active.load(Ordering::Relaxed)).unwrap_or(0),
                )
            })
    }

    /// Forgets addresses with no open connection that `keep` does not name.
    pub fn prune(&self, keep: impl Fn(&SocketAddr) -> bool) {
        self.by_addr
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|addr, s| keep(addr) || s.active.load(Ordering::Relaxed) > 0);
    }
}

impl Drop for UpstreamOpen {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_count_up_and_down() {
        let stats = Arc::new(ConnectionStats::default());
        let open = stats.accepted();
        let request = stats.request();
        assert_eq!(
            stats.counts(),
            ConnectionCounts {
                accepted: 1,
                active: 1,
                requests: 1,
                in_flight: 1
            }
        );
        drop((open, request));
        assert_eq!(stats.counts().active, 0);
        assert_eq!(stats.counts().in_flight, 0);

        let upstream = UpstreamConnections::default();
        let addr: SocketAddr = ([127, 0, 0, 1], 80).into();
        let a = upstream.opened(addr);
        let _b = upstream.opened(addr);
        assert_eq!(upstream.of(&addr), (2, 2));
        drop(a);
        assert_eq!(upstream.of(&addr), (2, 1));
        upstream.prune(|_| false);
        assert_eq!(
            upstream.of(&addr),
            (2, 1),
            "open connections keep their entry"
        );
    }
}
