//! Where the time of one route change goes with 10k Ingresses loaded, stage by stage, as the
//! gateway runs it: a new one-Ingress file next to a 10k-Ingress file, then the file source's
//! re-read (`reload_changed`), `build`, and `Handle::apply` on a live proxy with telemetry;
//! then the same for an endpoint change (the EndpointSlice of the Service every route uses).
//! The e2e bench (`benches/e2e`) measures the same change from outside, through the binary.
//!
//! The cold build and apply of the whole 10k table is repeated (`COLD_RUNS` times, each into a
//! fresh proxy) and printed as a median and range. The bench runs with the binary's allocator
//! (jemalloc with its compiled-in options), so its figures are the gateway's.
//!
//! Run: `cargo bench --bench propagate [-- SAMPLES]` (default 40). Numbers go in notes, never in
//! tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sluice::file_source::FileSource;
use sluice::model::{BuildOptions, Incremental, Snapshot};
use sluice_testkit::manifests::{documents, ingress, service};

const LOADED: usize = 10_000;

/// Cold builds and applies of the whole table.
const COLD_RUNS: usize = 7;

/// The gateway binary's allocator (`src/allocator.rs`).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let samples: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(40);
    let dir = tempfile::tempdir().unwrap();
    let origin = "127.0.0.1:9".parse().unwrap();
    std::fs::write(
        dir.path().join("common.yaml"),
        service("origin", 80, None, &[origin]),
    )
    .unwrap();
    let hosts: Vec<String> = (0..LOADED)
        .map(|i| {
            let host = format!("host-{i}.example.com");
            ingress(&format!("ing-{i}"), Some(&host), &[("/", "origin")])
        })
        .collect();
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    std::fs::write(dir.path().join("routes.yaml"), documents(&refs)).unwrap();

    let opts = BuildOptions {
        class_name_without_object: true,
        ..BuildOptions::default()
    };
    let mut source = FileSource::new([dir.path()]);
    let started = Instant::now();
    let loaded = source.load();
    println!(
        "cold: read {:.1} ms ({} Ingresses)",
        ms(started.elapsed()),
        loaded.snapshot.ingresses.len()
    );
    let mut cold = Stages::default();
    for _ in 0..COLD_RUNS {
        let proxy = live_proxy();
        let handle = proxy.handle();
        let mut fresh = Incremental::new();
        cold.build_and_apply(Duration::ZERO, &mut fresh, &loaded.snapshot, &opts, &handle);
        drop((handle, proxy));
        std::thread::sleep(Duration::from_millis(100));
    }
    cold.print_range(&format!(
        "cold build and apply of all {LOADED} Ingresses into a new proxy, {COLD_RUNS} runs"
    ));

    let proxy = live_proxy();
    let handle = proxy.handle();
    let mut incremental = Incremental::new();
    let built = incremental.build(&loaded.snapshot, &opts);
    handle.apply(built.table).unwrap();

    let mut stages = Stages::default();
    for i in 0..samples {
        let host = format!("new-{i}.example.com");
        std::fs::write(
            dir.path().join(format!("new-{i}.yaml")),
            ingress(&format!("new-{i}"), Some(&host), &[("/", "origin")]),
        )
        .unwrap();
        stages.sample(&mut source, &mut incremental, &opts, &handle);
    }
    stages.print(&format!(
        "one new Ingress file next to {LOADED} Ingresses, {samples} samples"
    ));

    let mut stages = Stages::default();
    for i in 0..samples {
        // The origin Service's endpoints move (the Service itself stays as it is).
        let port = 10_000 + u16::try_from(i).unwrap();
        let moved = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        std::fs::write(
            dir.path().join("common.yaml"),
            service("origin", 80, None, &[moved]),
        )
        .unwrap();
        stages.sample(&mut source, &mut incremental, &opts, &handle);
    }
    stages.print(&format!(
        "the endpoints of the one Service all {LOADED} Ingresses use, {samples} samples"
    ));
}

/// A proxy with telemetry (no listeners), as the gateway runs one.
fn live_proxy() -> sluice::proxy::Proxy {
    let telemetry = sluice::proxy::Telemetry::builder()
        .access_log_sink(None)
        .build();
    sluice::proxy::Proxy::builder()
        .telemetry(telemetry)
        .build()
        .unwrap()
}

/// Times of each stage, one entry per sample.
#[derive(Default)]
struct Stages {
    reads: Vec<Duration>,
    builds: Vec<Duration>,
    applies: Vec<Duration>,
    totals: Vec<Duration>,
}

impl Stages {
    /// Re-reads the changed files, builds and applies, timing each stage.
    fn sample(
        &mut self,
        source: &mut FileSource,
        incremental: &mut Incremental,
        opts: &BuildOptions,
        handle: &sluice::proxy::Handle,
    ) {
        let t0 = Instant::now();
        let loaded = source.reload_changed();
        let read = t0.elapsed();
        self.build_and_apply(read, incremental, &loaded.snapshot, opts, handle);
        // Changes arrive apart in practice; let the retired generation be freed.
        std::thread::sleep(Duration::from_millis(30));
    }

    /// Builds `snapshot` and applies its table, timing both; `read` is what reading it took.
    fn build_and_apply(
        &mut self,
        read: Duration,
        incremental: &mut Incremental,
        snapshot: &Snapshot,
        opts: &BuildOptions,
        handle: &sluice::proxy::Handle,
    ) {
        let t0 = Instant::now();
        let built = incremental.build(snapshot, opts);
        let t1 = Instant::now();
        handle.apply(built.table).unwrap();
        let t2 = Instant::now();
        self.reads.push(read);
        self.builds.push(t1 - t0);
        self.applies.push(t2 - t1);
        self.totals.push(read + (t2 - t0));
    }

    /// p50 and p90 of every stage.
    fn print(self, title: &str) {
        self.print_with(title, "p50 / p90", true, |sorted, _| {
            format!(
                "{:7.2} / {:7.2}",
                ms(sorted[sorted.len() / 2]),
                ms(sorted[sorted.len() * 9 / 10])
            )
        });
    }

    /// Median, range and order of the build, apply and total times.
    fn print_range(self, title: &str) {
        self.print_with(title, "median [range]", false, |sorted, in_order| {
            let in_order: Vec<String> = in_order.iter().map(|v| format!("{:.1}", ms(*v))).collect();
            format!(
                "{:7.2} [{:.2}-{:.2}]  (in order: {})",
                ms(sorted[sorted.len() / 2]),
                ms(sorted[0]),
                ms(sorted[sorted.len() - 1]),
                in_order.join(", ")
            )
        });
    }

    /// One line per stage (the re-read only with `reads`): `summary` of its times, sorted and
    /// in the order taken.
    fn print_with(
        self,
        title: &str,
        what: &str,
        reads: bool,
        summary: impl Fn(&[Duration], &[Duration]) -> String,
    ) {
        println!("{title}, {what} ms:");
        let stages = [
            ("re-read", self.reads),
            ("build", self.builds),
            ("apply", self.applies),
            ("total", self.totals),
        ];
        for (name, values) in stages
            .into_iter()
            .filter(|(name, _)| reads || *name != "re-read")
        {
            let mut sorted = values.clone();
            sorted.sort();
            println!("  {name:8} {}", summary(&sorted, &values));
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
