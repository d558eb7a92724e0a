//! Command-line flags. Names follow ingress-nginx's where they mean the same thing, so existing
//! deployment manifests and Helm `extraArgs` carry over.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use sluice::gateway::GatewayConfig;
use sluice::observe::TelemetrySettings;

use crate::model::{
    BuildOptions, DEFAULT_ANNOTATION_PREFIX, DEFAULT_CONTROLLER_CLASS, ObjectKey, ServiceRef,
    SnippetPolicy,
};

/// sluice: a Kubernetes ingress controller and standalone HTTP gateway.
#[derive(Parser, Debug)]
#[command(name = "sluice", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
    /// Log format: `json` (one object per line) or `text`.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Json, env = "SLUICE_LOG_FORMAT")]
    pub log_format: LogFormat,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve traffic from Kubernetes YAML files (Ingress, Service, EndpointSlice, Secret, …),
    /// reloading them when they change.
    Gateway(GatewayArgs),
    /// Run in a Kubernetes cluster: watch Ingresses and what they reference, serve them, write
    /// their status and Events, and answer admission reviews.
    Controller(Box<ControllerArgs>),
    /// Validate manifests and print every diagnostic; exits non-zero when an Ingress would be
    /// rejected.
    Check(CheckArgs),
    /// Print the compiled route table for manifests.
    Routes(RoutesArgs),
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Text,
}

/// Output format of `check` and `routes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    Text,
    /// JSON.
    Json,
}

/// Flags deciding which Ingresses are ours and the global defaults, shared by every mode.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Ingress class name: accepted in `spec.ingressClassName` (gateway mode, even without an
    /// IngressClass object), in the legacy `kubernetes.io/ingress.class` annotation, and by name
    /// with --ingress-class-by-name.
    #[arg(long, default_value = "sluice")]
    pub ingress_class: String,
    /// IngressClasses whose `spec.controller` equals this are ours. Set `k8s.io/ingress-nginx` to
    /// take over ingress-nginx's classes.
    #[arg(long, default_value = DEFAULT_CONTROLLER_CLASS)]
    pub controller_class: String,
    /// Also serve Ingresses that name no class at all.
    #[arg(long, action = ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub watch_ingress_without_class: bool,
    /// Also accept an IngressClass named --ingress-class whatever its controller.
    #[arg(long, action = ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub ingress_class_by_name: bool,
    /// Prefix of the ingress-nginx-compatible annotations.
    #[arg(long, default_value = DEFAULT_ANNOTATION_PREFIX)]
    pub annotations_prefix: String,
    /// NAMESPACE/NAME of the controller ConfigMap (ingress-nginx keys).
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_key)]
    pub configmap: Option<ObjectKey>,
    /// NAMESPACE/NAME of the Service whose first port serves unknown hosts and paths (the
    /// built-in default backend answers 404 otherwise).
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_key)]
    pub default_backend_service: Option<ObjectKey>,
    /// NAMESPACE/NAME of the TLS Secret served for unknown SNI and for hosts whose own
    /// certificate is missing or invalid (a self-signed one is generated otherwise).
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_key)]
    pub default_ssl_certificate: Option<ObjectKey>,
    /// What to do with an Ingress carrying `*-snippet` annotations (raw nginx configuration,
    /// never applied): `reject` it (as ingress-nginx >= 1.12) or `ignore` the snippet.
    #[arg(long, value_enum, default_value_t = SnippetMode::Reject)]
    pub snippet_annotations: SnippetMode,
}

/// `--snippet-annotations`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SnippetMode {
    /// Reject the whole Ingress.
    Reject,
    /// Serve it without the snippet, with a warning.
    Ignore,
}

/// `sluice gateway`.
#[derive(Args, Debug)]
pub struct GatewayArgs {
    /// Files or directories of Kubernetes YAML (directories: every *.yaml / *.yml inside).
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    pub manifests: Vec<PathBuf>,
    /// Address the traffic listeners bind to.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// Plain HTTP port (HTTP/1.1 and h2c); 0 picks a free port.
    #[arg(long, default_value_t = 8080)]
    pub http_port: u16,
    /// HTTPS port; 0 picks a free port.
    #[arg(long, default_value_t = 8443)]
    pub https_port: u16,
    /// Admin port: /healthz, /readyz, /metrics, /debug/routes.
    #[arg(long, default_value_t = 10254)]
    pub admin_port: u16,
    /// Address the admin listener binds to.
    #[arg(long, default_value = "127.0.0.1")]
    pub admin_address: IpAddr,
    /// Seconds to keep serving after SIGTERM/SIGINT (with /readyz failing) before draining.
    #[arg(long, default_value_t = 5)]
    pub shutdown_grace_period: u64,
    /// Seconds after the grace period to let in-flight requests finish before exiting.
    #[arg(long, default_value_t = 30)]
    pub shutdown_timeout: u64,
    /// Which Ingresses are ours, and the global defaults.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Metrics and access log.
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
    /// The `controller_pod` metric label (the Downward API's pod name).
    #[arg(long, env = "POD_NAME", default_value = "")]
    pub pod_name: String,
    /// The `controller_namespace` metric label (the Downward API's namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "")]
    pub pod_namespace: String,
}

/// Metrics and access-log flags (ingress-nginx's names where they exist).
#[derive(Args, Debug, Clone)]
pub struct TelemetryArgs {
    /// Record per-request metrics (`--enable-metrics`; on by default here, where ingress-nginx's
    /// default is off and its Helm chart sets it from `controller.metrics.enabled`). `false`
    /// skips that work on every request; `/metrics` keeps the process, connection,
    /// upstream-pool and configuration series.
    #[arg(long, action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub enable_metrics: bool,
    /// Label request metrics with the host (`--metrics-per-host`); unknown hosts are `-`.
    #[arg(long, action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub metrics_per_host: bool,
    /// Report status classes (`2xx`) instead of exact codes (`--report-status-classes`).
    #[arg(long, action = ArgAction::Set, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub report_status_classes: bool,
    /// Write the access log to standard output (the ConfigMap's `disable-access-log` still
    /// applies); `false` turns it off entirely.
    #[arg(long, action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub access_log: bool,
    /// Access-log lines buffered for the writer; beyond this, lines are dropped and counted
    /// (`sluice_access_log_dropped_total`) rather than slowing requests down.
    #[arg(long, default_value_t = 8192)]
    pub access_log_buffer: usize,
}

impl TelemetryArgs {
    /// The telemetry settings, with the identity labels of this replica.
    pub fn settings(&self, class: &str, pod_name: &str, pod_namespace: &str) -> TelemetrySettings {
        TelemetrySettings {
            requests: self.enable_metrics,
            per_host: self.metrics_per_host,
            status_classes: self.report_status_classes,
            access_log: self.access_log,
            access_log_buffer: self.access_log_buffer,
            controller_class: class.to_owned(),
            pod_name: pod_name.to_owned(),
            pod_namespace: pod_namespace.to_owned(),
        }
    }
}

/// `sluice controller`.
#[derive(Args, Debug)]
pub struct ControllerArgs {
    /// Path to a kubeconfig file. Without it, the KUBECONFIG environment variable, then the
    /// in-cluster service account, are used.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Watch Ingresses, Services, EndpointSlices, Secrets and ConfigMaps in this namespace only
    /// (default: every namespace). IngressClasses are cluster-scoped and always watched.
    #[arg(long, value_name = "NAMESPACE")]
    pub watch_namespace: Option<String>,
    /// NAMESPACE/NAME of the Service whose load-balancer IPs or hostnames (and externalIPs) are
    /// written into `status.loadBalancer.ingress` of every Ingress served.
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_key)]
    pub publish_service: Option<ObjectKey>,
    /// Fixed addresses (IPs or hostnames, comma-separated) to write into Ingress status instead
    /// of --publish-service's.
    #[arg(long, value_name = "ADDRESSES", value_delimiter = ',')]
    pub publish_status_address: Vec<String>,
    /// Write Ingress status at all (by the elected leader only).
    #[arg(long, action = ArgAction::Set, default_value_t = true, num_args = 0..=1, default_missing_value = "true")]
    pub update_status: bool,
    /// Seconds between full status resyncs (status someone else overwrote is rewritten).
    #[arg(long, default_value_t = 60)]
    pub status_update_interval: u64,
    /// Name of the coordination.k8s.io Lease used for leader election, in the controller's
    /// namespace. Only the leader writes status and Events; every replica serves traffic.
    #[arg(long, default_value = "sluice-leader")]
    pub election_id: String,
    /// Seconds a Lease is valid without renewal; a crashed leader is replaced after this.
    #[arg(long, default_value_t = 15)]
    pub election_ttl: u64,
    /// The controller's namespace (for the Lease); set from the Downward API.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub pod_namespace: String,
    /// This replica's name (its leader-election identity); set from the Downward API. Defaults
    /// to the host name.
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
    /// Address the traffic listeners bind to.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// Plain HTTP port (HTTP/1.1 and h2c); 0 picks a free port.
    #[arg(long, default_value_t = 80)]
    pub http_port: u16,
    /// HTTPS port; 0 picks a free port.
    #[arg(long, default_value_t = 443)]
    pub https_port: u16,
    /// Admin port: /healthz (liveness), /readyz (ready once the first complete snapshot is
    /// served), /metrics, /debug/routes, /debug/config.
    #[arg(long, default_value_t = 10254)]
    pub admin_port: u16,
    /// Address the admin listener binds to (all addresses, so kubelet probes reach it).
    #[arg(long, default_value = "0.0.0.0")]
    pub admin_address: IpAddr,
    /// Seconds to keep serving after SIGTERM (with /readyz failing) before draining; cover the
    /// time load balancers take to stop sending traffic.
    #[arg(long, default_value_t = 5)]
    pub shutdown_grace_period: u64,
    /// Seconds after the grace period to let in-flight requests finish before exiting.
    #[arg(long, default_value_t = 30)]
    pub shutdown_timeout: u64,
    /// Serve the validating admission webhook (HTTPS) on this address, e.g. `:8443`. It only
    /// runs sluice's model against the candidate Ingress: no subprocess, no file, no network.
    #[arg(long, value_name = "[HOST]:PORT", value_parser = parse_listen)]
    pub validating_webhook: Option<SocketAddr>,
    /// PEM certificate (chain) of the webhook.
    #[arg(long, value_name = "PATH", requires = "validating_webhook")]
    pub validating_webhook_certificate: Option<PathBuf>,
    /// PEM private key of the webhook.
    #[arg(long, value_name = "PATH", requires = "validating_webhook")]
    pub validating_webhook_key: Option<PathBuf>,
    /// Which Ingresses are ours, and the global defaults.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Metrics and access log.
    #[command(flatten)]
    pub telemetry: TelemetryArgs,
}

/// `sluice check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Files or directories of Kubernetes YAML.
    #[arg(long, num_args = 1.., value_name = "PATH", required_unless_present = "kubeconfig", conflicts_with = "kubeconfig")]
    pub manifests: Vec<PathBuf>,
    /// Read the objects from the API server of this kubeconfig instead (listed once, not
    /// watched): Ingresses, IngressClasses, Services, EndpointSlices, TLS Secrets, ConfigMaps.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current context).
    #[arg(long, requires = "kubeconfig")]
    pub context: Option<String>,
    /// The namespace to check (default: the context's namespace).
    #[arg(
        long,
        short = 'n',
        requires = "kubeconfig",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Option<String>,
    /// Check every namespace.
    #[arg(long, short = 'A', requires = "kubeconfig")]
    pub all_namespaces: bool,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Which Ingresses are ours, and the global defaults.
    #[command(flatten)]
    pub model: ModelArgs,
}

/// `sluice routes`.
#[derive(Args, Debug)]
pub struct RoutesArgs {
    /// Files or directories of Kubernetes YAML.
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    pub manifests: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Which Ingresses are ours, and the global defaults.
    #[command(flatten)]
    pub model: ModelArgs,
}

impl GatewayArgs {
    /// The gateway configuration these flags describe.
    pub fn config(&self) -> GatewayConfig {
        let addr = |ip, port| Some(SocketAddr::new(ip, port));
        GatewayConfig {
            manifests: self.manifests.clone(),
            http: addr(self.bind_address, self.http_port),
            https: addr(self.bind_address, self.https_port),
            admin: addr(self.admin_address, self.admin_port),
            drain: Duration::from_secs(self.shutdown_grace_period),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
            build: self.model.build_options(true),
            telemetry: Some(
                self.telemetry
                    .settings(
                        &self.model.controller_class,
                        &self.pod_name,
                        &self.pod_namespace,
                    )
                    .build(),
            ),
        }
    }
}

fn parse_key(text: &str) -> Result<ObjectKey, String> {
    match text.split_once('/') {
        Some(_) => ObjectKey::parse(text, "")
            .ok_or_else(|| format!("expected NAMESPACE/NAME, got {text:?}")),
        None => Err(format!("expected NAMESPACE/NAME, got {text:?}")),
    }
}

/// `:8443` (every address) or `HOST:PORT`.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let full = if text.starts_with(':') {
        format!("0.0.0.0{text}")
    } else {
        text.to_owned()
    };
    full.parse()
        .map_err(|_| format!("expected [HOST]:PORT, got {text:?}"))
}

impl ModelArgs {
    /// The model options these flags describe. `gateway` accepts a class name without an
    /// IngressClass object (manifests often omit it).
    pub fn build_options(&self, gateway: bool) -> BuildOptions {
        BuildOptions {
            ingress_class: self.ingress_class.clone(),
            controller_class: self.controller_class.clone(),
            watch_ingress_without_class: self.watch_ingress_without_class,
            ingress_class_by_name: self.ingress_class_by_name,
            class_name_without_object: gateway,
            annotation_prefix: self.annotations_prefix.clone(),
            default_backend: self
                .default_backend_service
                .clone()
                .map(|service| ServiceRef {
                    service,
                    port: None,
                }),
            default_certificate: self.default_ssl_certificate.clone(),
            controller_config: self.configmap.clone(),
            snippet_policy: match self.snippet_annotations {
                SnippetMode::Reject => SnippetPolicy::Reject,
                SnippetMode::Ignore => SnippetPolicy::Ignore,
            },
            now: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_like_ingress_nginx() {
        let cli = Cli::try_parse_from([
            "sluice",
            "gateway",
            "--manifests",
            "a.yaml",
            "dir",
            "--watch-ingress-without-class=true",
            "--configmap",
            "ingress/sluice",
            "--http-port",
            "0",
        ])
        .unwrap();
        let Command::Gateway(args) = cli.command else {
            panic!("gateway")
        };
        assert_eq!(args.manifests.len(), 2);
        assert!(args.model.watch_ingress_without_class);
        assert_eq!(
            args.model.configmap,
            Some(ObjectKey::new("ingress", "sluice"))
        );
        let opts = args.model.build_options(true);
        assert!(opts.class_name_without_object);
        assert_eq!(opts.ingress_class, "sluice");
        let cli = Cli::try_parse_from([
            "sluice",
            "controller",
            "--controller-class",
            "k8s.io/ingress-nginx",
            "--ingress-class",
            "nginx",
            "--publish-service",
            "ingress/sluice",
            "--validating-webhook",
            ":8443",
            "--validating-webhook-certificate",
            "/tls/tls.crt",
            "--update-status=false",
        ])
        .unwrap();
        let Command::Controller(args) = cli.command else {
            panic!("controller")
        };
        assert_eq!(args.http_port, 80);
        assert_eq!(args.https_port, 443);
        assert_eq!(args.admin_port, 10254);
        assert_eq!(
            args.validating_webhook,
            Some("0.0.0.0:8443".parse().unwrap())
        );
        assert!(!args.update_status);
        assert_eq!(args.election_id, "sluice-leader");
        assert_eq!(args.model.controller_class, "k8s.io/ingress-nginx");
        assert!(!args.model.build_options(false).class_name_without_object);
        assert!(
            Cli::try_parse_from([
                "sluice",
                "gateway",
                "--manifests",
                "a",
                "--configmap",
                "bare"
            ])
            .is_err()
        );
    }
}
