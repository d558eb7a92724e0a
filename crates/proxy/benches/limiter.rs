//! The per-client request limiter under a flood of distinct client IPs: resident memory after
//! one million clients, after the sweep that forgets them, and the cost of one check.
//!
//! `cargo bench -p sluice-proxy --bench limiter` (a plain binary: numbers go to stdout; see
//! `benches/README.md` at the workspace root). Linux only for the memory figures (they read
//! `/proc/self/statm`).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use governor::clock::FakeRelativeClock;
use sluice_proxy::limits::{RateSpec, RequestZone};

const CLIENTS: u32 = 1_000_000;

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

fn v4(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
}

fn v6(i: u32) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(
        0x2001,
        0xdb8,
        0,
        0,
        0,
        0,
        (i >> 16) as u16,
        i as u16,
    ))
}

fn flood(name: &str, address: fn(u32) -> IpAddr) {
    // limit-rps 10 with the default multiplier 5: every client's state lives 5.1 s.
    let spec = RateSpec {
        rate: 10,
        per: Duration::from_secs(1),
        multiplier: 5,
    };
    let zone = RequestZone::with_clock(&[spec], None, FakeRelativeClock::default());
    let before = rss_bytes().unwrap_or(0);
    let started = Instant::now();
    for i in 0..CLIENTS {
        black_box(zone.check(address(i)));
    }
    let insert = started.elapsed();
    let filled = rss_bytes().unwrap_or(0);
    let keys = zone.keys();
    // Same clients again: the steady-state cost of a check on a known key.
    let started = Instant::now();
    for i in 0..CLIENTS {
        black_box(zone.check(address(i)));
    }
    let known = started.elapsed();
    zone.clock().advance(Duration::from_secs(10));
    let started = Instant::now();
    zone.sweep();
    let sweep = started.elapsed();
    let swept = rss_bytes().unwrap_or(0);
    println!("{name}: {CLIENTS} distinct clients");
    println!(
        "  keys held {keys}; resident memory +{:.1} MiB ({:.0} bytes per client)",
        mib(filled.saturating_sub(before)),
        filled.saturating_sub(before) as f64 / f64::from(CLIENTS)
    );
    println!(
        "  check: {:.0} ns for a new client, {:.0} ns for a known one",
        insert.as_nanos() as f64 / f64::from(CLIENTS),
        known.as_nanos() as f64 / f64::from(CLIENTS)
    );
    println!(
        "  sweep after the burst window: {:.0} ms, keys left {}, resident memory +{:.1} MiB over the start",
        sweep.as_secs_f64() * 1000.0,
        zone.keys(),
        mib(swept.saturating_sub(before))
    );
}

/// One client over and over on the real clock: the cost of a check whose state is in cache.
fn hot() {
    let spec = RateSpec {
        rate: u32::MAX / 8,
        per: Duration::from_secs(1),
        multiplier: 1,
    };
    let zone = RequestZone::new(&[spec], None);
    let client = v4(7);
    let n = 5_000_000u32;
    let started = Instant::now();
    for _ in 0..n {
        black_box(zone.check(black_box(client)));
    }
    println!(
        "hot client, real clock: {:.0} ns per check",
        started.elapsed().as_nanos() as f64 / f64::from(n)
    );
}

fn main() {
    flood("IPv4", v4);
    flood("IPv6", v6);
    hot();
}
