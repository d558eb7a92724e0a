//! `sluice gateway`: the file source feeding the proxy. Each change in the manifests is built
//! into a table and applied; one log line says what changed and how long it took.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use crate::cli::GatewayArgs;
use crate::file_source::{FileSource, Loaded};
use crate::model::{BuildOptions, Built, Severity, build};
use crate::proxy::{Change, Handle, Proxy};
use crate::signal;

/// Runs the gateway until SIGTERM or SIGINT, then drains.
pub fn run(args: GatewayArgs) -> anyhow::Result<()> {
    let opts = args.model.build_options(true);
    let mut source = FileSource::new(args.manifests.clone());
    let loaded = source.load();
    let mut reporter = Reporter::default();
    let built = reporter.build(&loaded, &opts);
    let workers = crate::proxy::worker_threads(built.table.routes.settings.worker_processes);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    info!(workers, "starting");
    runtime.block_on(serve(args, source, built, opts, reporter))
}

async fn serve(
    args: GatewayArgs,
    source: FileSource,
    built: Built,
    opts: BuildOptions,
    mut reporter: Reporter,
) -> anyhow::Result<()> {
    let proxy = Proxy::builder()
        .http(SocketAddr::new(args.bind_address, args.http_port))
        .https(SocketAddr::new(args.bind_address, args.https_port))
        .admin(SocketAddr::new(args.admin_address, args.admin_port))
        .drain(Duration::from_secs(args.shutdown_grace_period))
        .shutdown_timeout(Duration::from_secs(args.shutdown_timeout))
        .build()
        .context("configuring the proxy")?;
    let handle = proxy.handle();
    apply(&handle, built);
    let bound = proxy.bind().await.context("binding the listeners")?;
    info!(
        http = %addr_text(bound.http_addr()),
        https = %addr_text(bound.https_addr()),
        admin = %addr_text(bound.admin_addr()),
        "listening"
    );

    // The watcher runs on its own thread and hands snapshots to a config thread, which builds
    // and applies them (CPU work kept off the request workers). When changes queue up, the
    // latest snapshot wins.
    let (tx, rx) = mpsc::unbounded_channel::<Loaded>();
    let _watch = source
        .watch(move |loaded| {
            let _ = tx.send(loaded);
        })
        .context("watching the manifests")?;
    let reload_handle = handle.clone();
    std::thread::Builder::new()
        .name("sluice-config".into())
        .spawn(move || reload_loop(rx, &reload_handle, &opts, &mut reporter))
        .context("starting the config thread")?;

    let report = bound.serve(signal::shutdown()).await;
    info!(graceful = report.graceful, "stopped");
    Ok(())
}

fn reload_loop(
    mut rx: mpsc::UnboundedReceiver<Loaded>,
    handle: &Handle,
    opts: &BuildOptions,
    reporter: &mut Reporter,
) {
    while let Some(mut loaded) = rx.blocking_recv() {
        while let Ok(newer) = rx.try_recv() {
            loaded = newer;
        }
        let built = reporter.build(&loaded, opts);
        apply(handle, built);
    }
}

fn addr_text(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "-".to_owned(), |a| a.to_string())
}

/// Applies a built table and logs one line about it.
fn apply(handle: &Handle, built: Built) {
    let started = Instant::now();
    let routes = built
        .table
        .routes
        .virtual_hosts
        .iter()
        .map(|v| v.routes.len())
        .sum::<usize>();
    let hosts = built.table.routes.virtual_hosts.len();
    match handle.apply(built.table) {
        Ok(outcome) => {
            let micros = started.elapsed().as_micros();
            match outcome.change {
                Change::Unchanged => info!(
                    change = "unchanged",
                    hosts,
                    routes,
                    apply_us = micros,
                    "config applied"
                ),
                Change::Endpoints { upstreams } => {
                    info!(
                        change = "endpoints",
                        upstreams,
                        hosts,
                        routes,
                        apply_us = micros,
                        "config applied"
                    )
                }
                Change::Rebuild => info!(
                    change = "rebuild",
                    hosts,
                    routes,
                    apply_us = micros,
                    "config applied"
                ),
                _ => info!(change = ?outcome.change, apply_us = micros, "config applied"),
            }
        }
        Err(e) => error!(error = %e, "config rejected; the previous table keeps serving"),
    }
}

/// Builds tables and logs each diagnostic once, when it first appears.
#[derive(Default)]
struct Reporter {
    seen: BTreeSet<String>,
}

impl Reporter {
    fn build(&mut self, loaded: &Loaded, opts: &BuildOptions) -> Built {
        let opts = BuildOptions {
            now: Some(crate::unix_now()),
            ..opts.clone()
        };
        let built = build(&loaded.snapshot, &opts);
        let mut current = BTreeSet::new();
        let file = loaded
            .diagnostics
            .iter()
            .map(|d| (d.severity, d.to_string()));
        let model = built
            .diagnostics
            .iter()
            .map(|d| (d.severity, d.to_string()));
        for (severity, line) in file.chain(model) {
            if !self.seen.contains(&line) {
                match severity {
                    Severity::Error => error!("{line}"),
                    Severity::Warning => warn!("{line}"),
                    Severity::Info => info!("{line}"),
                }
            }
            current.insert(line);
        }
        self.seen = current;
        built
    }
}
