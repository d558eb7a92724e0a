//! Request-rate zones: nginx `limit_req ... burst=N nodelay` on top of governor's GCRA.
//!
//! # How nginx's leaky bucket maps onto GCRA
//!
//! nginx keeps, per key, an excess `E` (requests) and leaks it at the rate `R`. A request at
//! time `t` computes `E' = max(0, E - R·Δt + 1)` (a new key starts at `E' = 0`) and is rejected
//! when `E' > burst`; with `nodelay` an accepted request is served at once and `E'` is stored,
//! a rejected one changes nothing. So `burst + 1` requests pass at once, then one every `1/R`.
//!
//! governor's GCRA keeps a theoretical arrival time `TAT` per key, with emission interval
//! `T = 1/R` and tolerance `τ = T·(max_burst − 1)`: a request at `t` passes when
//! `t ≥ TAT − τ` and then sets `TAT = max(TAT, t) + T`; a rejected one changes nothing.
//!
//! With `max_burst = burst + 1` the two are the same machine: `E = (TAT − t)/T − 1` whenever
//! `TAT ≥ t` (and both read "empty" otherwise), and nginx's `E' ≤ burst` is exactly
//! `max(TAT, t) − t ≤ burst·T = τ`. The only differences are nginx's millisecond clock (governor
//! counts nanoseconds) and that nginx checks several `limit_req` zones all-or-nothing while the
//! rps and rpm limits here are checked in turn (an rps cell spent on a request the rpm limit
//! then rejects is not given back).
//!
//! # Memory
//!
//! A key's state is only needed while `TAT > now`, at most `(burst + 1)·T` after its last
//! request; [`RequestZone::sweep`] drops every key past that (`retain_recent`) and gives the
//! memory back (`shrink_to_fit`). The zone sweeps itself every [`SWEEP_EVERY`] checks once
//! [`SWEEP_INTERVAL`] has passed, on a blocking thread, so under a flood of distinct client
//! IPs memory stays proportional to the clients seen in the last interval plus one burst
//! window.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

/// How many checks pass between two looks at the sweep clock.
pub const SWEEP_EVERY: u64 = 4096;
/// The least time between two sweeps of a zone.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

/// A per-client limiter (governor's keyed GCRA on a DashMap); named because clippy finds the
/// spelled-out type too complex for a field.
type Keyed<C> =
    RateLimiter<IpAddr, DefaultKeyedStateStore<IpAddr>, C, NoOpMiddleware<<C as Clock>::Instant>>;
/// An all-clients limiter (governor's direct GCRA).
type Direct<C> = RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// One request limit: `rate` requests per `per`, burst `rate × multiplier`, nodelay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateSpec {
    /// Requests per period.
    pub rate: u32,
    /// The period (a second for `limit-rps`, a minute for `limit-rpm`).
    pub per: Duration,
    /// `limit-burst-multiplier`.
    pub multiplier: u32,
}

impl RateSpec {
    /// The governor quota that behaves like nginx's `rate=… burst=rate×multiplier nodelay`;
    /// `None` when the rate is 0 (off).
    pub fn quota(self) -> Option<Quota> {
        if self.rate == 0 {
            return None;
        }
        let emission = self.per / self.rate;
        let burst = self.rate.saturating_mul(self.multiplier.max(1));
        let cells = NonZeroU32::new(burst.saturating_add(1))?;
        Quota::with_period(emission).map(|q| q.allow_burst(cells))
    }
}

/// The request limits of one zone (one Ingress and its settings).
pub struct RequestZone<C: Clock = DefaultClock> {
    per_client: Vec<Keyed<C>>,
    total: Option<Direct<C>>,
    clock: C,
    checks: AtomicU64,
    last_sweep: AtomicU64,
    sweeping: AtomicBool,
}

impl<C: Clock> std::fmt::Debug for RequestZone<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestZone")
            .field("per_client", &self.per_client.len())
            .field("keys", &self.keys())
            .field("total", &self.total.is_some())
            .finish()
    }
}

impl RequestZone<DefaultClock> {
    /// A zone on the real clock.
    pub fn new(per_client: &[RateSpec], total: Option<RateSpec>) -> Self {
        Self::with_clock(per_client, total, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RequestZone<C> {
    /// A zone on `clock` (tests use governor's `FakeRelativeClock`).
    pub fn with_clock(per_client: &[RateSpec], total: Option<RateSpec>, clock: C) -> Self {
        Self {
            per_client: per_client
                .iter()
                .filter_map(|spec| spec.quota())
                .map(|quota| RateLimiter::dashmap_with_clock(quota, clock.clone()))
                .collect(),
            total: total
                .and_then(RateSpec::quota)
                .map(|quota| RateLimiter::direct_with_clock(quota, clock.clone())),
            clock,
            checks: AtomicU64::new(0),
            last_sweep: AtomicU64::new(0),
            sweeping: AtomicBool::new(false),
        }
    }
}

impl<C: Clock> RequestZone<C> {
    /// Whether a request of `client` may pass now; a passing request is counted.
    pub fn check(&self, client: IpAddr) -> bool {
        for limiter in &self.per_client {
            if limiter.check_key(&client).is_err() {
                return false;
            }
        }
        self.total
            .as_ref()
            .is_none_or(|total| total.check().is_ok())
    }

    /// Client keys held (the sum over the per-client limits).
    pub fn keys(&self) -> usize {
        self.per_client.iter().map(RateLimiter::len).sum()
    }

    /// Drops the state of every client that is back to a full bucket and frees the memory.
    pub fn sweep(&self) {
        for limiter in &self.per_client {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

impl<C: Clock + Send + Sync + 'static> RequestZone<C> {
    /// Counts a check and, every [`SWEEP_EVERY`] checks when [`SWEEP_INTERVAL`] has passed,
    /// sweeps the zone on a blocking thread (or right here outside a runtime).
    pub fn maybe_sweep(self: &Arc<Self>, now_secs: u64) {
        let n = self.checks.fetch_add(1, Ordering::Relaxed);
        if !n.is_multiple_of(SWEEP_EVERY) || self.per_client.is_empty() {
            return;
        }
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now_secs < last + SWEEP_INTERVAL.as_secs() {
            return;
        }
        if self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        self.last_sweep.store(now_secs, Ordering::Relaxed);
        let zone = Arc::clone(self);
        let run = move || {
            zone.sweep();
            zone.sweeping.store(false, Ordering::Release);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(run)),
            Err(_) => run(),
        }
    }

    /// The zone's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    fn rps(rate: u32, multiplier: u32) -> RateSpec {
        RateSpec {
            rate,
            per: Duration::from_secs(1),
            multiplier,
        }
    }

    fn passes(zone: &RequestZone<FakeRelativeClock>, client: IpAddr, n: usize) -> usize {
        (0..n).filter(|_| zone.check(client)).count()
    }

    #[test]
    fn a_burst_passes_rate_times_multiplier_plus_one_then_one_per_interval() {
        // limit-rps 2, multiplier 5: burst 10, so 11 pass at once (nginx: E' = 0..=10).
        let zone = RequestZone::with_clock(&[rps(2, 5)], None, FakeRelativeClock::default());
        assert_eq!(passes(&zone, CLIENT, 20), 11);
        // Another client has its own bucket.
        assert_eq!(passes(&zone, OTHER, 3), 3);
        // Half a second leaks one request (rate 2/s), exactly.
        zone.clock().advance(Duration::from_millis(499));
        assert_eq!(passes(&zone, CLIENT, 5), 0);
        zone.clock().advance(Duration::from_millis(1));
        assert_eq!(passes(&zone, CLIENT, 5), 1);
        // Two idle seconds leak four.
        zone.clock().advance(Duration::from_secs(2));
        assert_eq!(passes(&zone, CLIENT, 10), 4);
        // Long idle: a full burst again, never more.
        zone.clock().advance(Duration::from_secs(60));
        assert_eq!(passes(&zone, CLIENT, 50), 11);
    }

    #[test]
    fn per_minute_and_multiplier_one() {
        // limit-rpm 60 with multiplier 1: burst 60, 61 at once, then one per second.
        let spec = RateSpec {
            rate: 60,
            per: Duration::from_secs(60),
            multiplier: 1,
        };
        let zone = RequestZone::with_clock(&[spec], None, FakeRelativeClock::default());
        assert_eq!(passes(&zone, CLIENT, 100), 61);
        zone.clock().advance(Duration::from_secs(3));
        assert_eq!(passes(&zone, CLIENT, 100), 3);
    }

    #[test]
    fn rps_and_rpm_both_apply() {
        let rpm = RateSpec {
            rate: 6,
            per: Duration::from_secs(60),
            multiplier: 1,
        };
        let zone = RequestZone::with_clock(&[rps(10, 1), rpm], None, FakeRelativeClock::default());
        // rpm allows 7 at once, rps 11: the smaller wins.
        assert_eq!(passes(&zone, CLIENT, 20), 7);
    }

    #[test]
    fn the_total_limit_counts_every_client_together() {
        let zone = RequestZone::with_clock(&[], Some(rps(1, 2)), FakeRelativeClock::default());
        let clients: Vec<IpAddr> = (1..=10u8)
            .map(|i| IpAddr::V4(std::net::Ipv4Addr::new(10, 1, 0, i)))
            .collect();
        let passed = clients.iter().filter(|c| zone.check(**c)).count();
        assert_eq!(passed, 3);
        zone.clock().advance(Duration::from_secs(1));
        assert_eq!(clients.iter().filter(|c| zone.check(**c)).count(), 1);
        assert_eq!(zone.keys(), 0);
    }

    #[test]
    fn sweeping_forgets_clients_whose_bucket_is_full_again() {
        let zone = RequestZone::with_clock(&[rps(10, 1)], None, FakeRelativeClock::default());
        for i in 0..1000u32 {
            assert!(zone.check(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i))));
        }
        assert_eq!(zone.keys(), 1000);
        zone.sweep();
        assert_eq!(
            zone.keys(),
            1000,
            "state is still needed within the burst window"
        );
        // (burst + 1) · T = 11 × 100 ms after the last request, nothing is left to remember.
        zone.clock().advance(Duration::from_millis(1100));
        zone.sweep();
        assert_eq!(zone.keys(), 0);
    }

    #[test]
    fn zero_rates_are_off() {
        assert!(rps(0, 5).quota().is_none());
        let zone = RequestZone::with_clock(&[rps(0, 5)], None, FakeRelativeClock::default());
        assert_eq!(passes(&zone, CLIENT, 100), 100);
    }
}
