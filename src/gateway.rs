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

    // The watcher runs on its own thread; the latest snapshot wins when changes queue up.
    let (tx, mut rx) = mpsc::unbounded_channel::<Loaded>();
    let _watch = source
        .watch(move |loaded| {
            let _ = tx.send(loaded);
        })
        .context("watching the manifests")?;
    let reload_handle = handle.clone();
    tokio::spawn(async move {
        while let Some(mut loaded) = rx.recv().await {
            while let Ok(newer) = rx.try_recv() {
                loaded = newer;
            }
            let built = reporter.build(&loaded, &opts);
            apply(&reload_handle, built);
        }
    });

    let report = bound.serve(signal::shutdown()).await;
    info!(graceful = report.graceful, "stopped");
    Ok(())
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
