//! `sluice controller`: the Kubernetes source feeding the proxy, plus the leader-only status
//! and Event writers and the admission webhook. Traffic never waits on, or stops for, any of
//! the background tasks: when the API server is unreachable the last table keeps serving.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tracing::info;

use sluice::kube_source::status::{self, AddressSource, Served};
use sluice::kube_source::{
    EventSink, KubeSource, LeaderConfig, RateLimit, SourceConfig, Webhook, leader, webhook,
};
use sluice::model::{BuildOptions, Built, Diagnostic};
use sluice::proxy::{Handle, Proxy, Telemetry};
use sluice::run::{Reporter, addr_text, apply, publish_config};
use sluice::signal;

use crate::cli::ControllerArgs;

/// Runs the controller until SIGTERM or SIGINT, then hands over the Lease and drains.
pub fn run(args: ControllerArgs) -> anyhow::Result<()> {
    let workers = sluice::proxy::worker_threads(None);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    info!(workers, "starting");
    runtime.block_on(serve(args))
}

async fn serve(args: ControllerArgs) -> anyhow::Result<()> {
    let client = client(&args).await?;
    let opts = args.model.build_options(false);
    let identity = args.pod_name.clone().unwrap_or_else(hostname);
    let telemetry = args
        .telemetry
        .settings(&args.model.controller_class, &identity, &args.pod_namespace)
        .build();
    let proxy = Proxy::builder()
        .telemetry(telemetry.clone())
        .http(SocketAddr::new(args.bind_address, args.http_port))
        .https(SocketAddr::new(args.bind_address, args.https_port))
        .admin(SocketAddr::new(args.admin_address, args.admin_port))
        .drain(Duration::from_secs(args.shutdown_grace_period))
        .shutdown_timeout(Duration::from_secs(args.shutdown_timeout))
        .build()
        .context("configuring the proxy")?;
    let handle = proxy.handle();
    // Handlers first: a SIGTERM from here on is a graceful shutdown.
    let shutdown = signal::shutdown();
    // Listeners come up at once (so /healthz answers); /readyz waits for the first table.
    let bound = proxy.bind().await.context("binding the listeners")?;
    info!(
        http = %addr_text(bound.http_addr()),
        https = %addr_text(bound.https_addr()),
        admin = %addr_text(bound.admin_addr()),
        "listening"
    );

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (leading_tx, leading) = watch::channel(false);
    let lease = LeaderConfig {
        lease_duration: Duration::from_secs(args.election_ttl.max(2)),
        renew_deadline: Duration::from_secs(args.election_ttl.max(2)) * 2 / 3,
        ..LeaderConfig::new(&args.pod_namespace, &args.election_id, &identity)
    };
    let election = tokio::spawn(leader::run(client.clone(), lease, leading_tx, shutdown_rx));
    tokio::spawn(report_leadership(
        leading.clone(),
        telemetry.clone(),
        args.election_id.clone(),
    ));
    let (events, _) = EventSink::spawn(
        client.clone(),
        identity,
        RateLimit::default(),
        leading.clone(),
    );
    let (served_tx, served) = watch::channel(Served::new());
    match (args.update_status, address_source(&args)) {
        (true, Some(source)) => {
            let interval = Duration::from_secs(args.status_update_interval.max(1));
            tokio::spawn(status::run(
                client.clone(),
                source,
                interval,
                served,
                leading.clone(),
            ));
        }
        (true, None) => info!(
            "neither --publish-service nor --publish-status-address is set: Ingress status is not written"
        ),
        (false, _) => info!("--update-status=false: Ingress status is not written"),
    }

    let config = SourceConfig {
        watch_namespace: args.watch_namespace.clone(),
        options: opts.clone(),
    };
    let source = KubeSource::start(client, config);
    let source_handle = source.handle();
    if let Some(addr) = args.validating_webhook {
        let (Some(cert), Some(key)) = (
            &args.validating_webhook_certificate,
            &args.validating_webhook_key,
        ) else {
            anyhow::bail!(
                "--validating-webhook needs --validating-webhook-certificate and --validating-webhook-key"
            );
        };
        let tls = webhook::tls_config(cert, key)?;
        let hook = Webhook::bind(addr, tls).await?;
        tokio::spawn(hook.serve(source_handle.clone()));
    }
    let reload = handle.clone();
    std::thread::Builder::new()
        .name("sluice-config".into())
        .spawn(move || config_loop(source, &reload, &opts, &served_tx, &events, telemetry))
        .context("starting the config thread")?;

    let report = bound
        .serve(async move {
            shutdown.await;
            // Hand the Lease over while this replica drains.
            shutdown_tx.send_replace(true);
        })
        .await;
    let _ = tokio::time::timeout(Duration::from_secs(5), election).await;
    source_handle.stop();
    info!(graceful = report.graceful, "stopped");
    Ok(())
}

/// `nginx_ingress_controller_leader_election_status{name}` follows the election.
async fn report_leadership(
    mut leading: watch::Receiver<bool>,
    telemetry: Telemetry,
    lease: String,
) {
    loop {
        let now = *leading.borrow_and_update();
        telemetry.metrics().set_leader(&lease, now);
        if leading.changed().await.is_err() {
            return;
        }
    }
}

/// Source → build → proxy, and the results to the status and Event writers.
fn config_loop(
    mut source: KubeSource,
    handle: &Handle,
    opts: &BuildOptions,
    served: &watch::Sender<Served>,
    events: &EventSink,
    telemetry: Telemetry,
) {
    let mut reporter = Reporter::with_telemetry(Some(telemetry));
    let mut last: Vec<Diagnostic> = Vec::new();
    while let Some(update) = source.next_blocking() {
        if update.changed {
            let invalid = update.invalid.iter().map(|d| (d.severity, d.to_string()));
            let Built { table, diagnostics } = reporter.build(update.snapshot, invalid, opts);
            apply(handle, table);
            publish_config(handle, &mut reporter);
            last = diagnostics;
            last.extend(update.invalid.iter().cloned());
        }
        served.send_replace(status::served(update.snapshot, &last, update.ingresses));
        events.report(&last, update.ingresses);
    }
}

async fn client(args: &ControllerArgs) -> anyhow::Result<kube::Client> {
    let config = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(
                kubeconfig,
                &kube::config::KubeConfigOptions::default(),
            )
            .await
            .with_context(|| format!("using {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no --kubeconfig, KUBECONFIG or in-cluster service account")?,
    };
    kube::Client::try_from(config).context("building the Kubernetes client")
}

fn address_source(args: &ControllerArgs) -> Option<AddressSource> {
    if !args.publish_status_address.is_empty() {
        return Some(AddressSource::Fixed(args.publish_status_address.clone()));
    }
    args.publish_service.clone().map(AddressSource::Service)
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sluice".to_owned())
}
