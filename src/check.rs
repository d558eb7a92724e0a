//! `sluice check`: load the objects (from manifests, or listed once from the API server with
//! `--kubeconfig`), build, and print the report ([`crate::report`]); the exit code is non-zero
//! when any Ingress would be rejected (wholly or in part) or a source could not be read.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{CheckArgs, OutputFormat};
use crate::file_source;
use crate::model::{BuildOptions, Snapshot, build};
use crate::report::{Report, SourceDiagnostic};

/// Runs the check.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let from_files = args.kubeconfig.is_none();
    let opts = BuildOptions {
        now: Some(sluice::unix_now()),
        // Manifests often omit the IngressClass object; a cluster has it.
        ..args.model.build_options(from_files)
    };
    let (source, snapshot, diagnostics) = match &args.kubeconfig {
        Some(path) => from_cluster(&args, path, &opts)?,
        None => from_manifests(&args),
    };
    let built = build(&snapshot, &opts);
    let report = Report::new(source, &snapshot, &built, &opts, diagnostics);
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => print!("{}", report.text()),
    }
    Ok(if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn from_manifests(args: &CheckArgs) -> (String, Snapshot, Vec<SourceDiagnostic>) {
    let loaded = file_source::load(&args.manifests);
    let diagnostics = loaded
        .diagnostics
        .iter()
        .map(|d| SourceDiagnostic {
            severity: d.severity,
            message: d.to_string(),
        })
        .collect();
    let names: Vec<String> = args
        .manifests
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    (
        format!("manifests {}", names.join(" ")),
        std::sync::Arc::unwrap_or_clone(loaded.snapshot),
        diagnostics,
    )
}

fn from_cluster(
    args: &CheckArgs,
    kubeconfig: &std::path::Path,
    opts: &BuildOptions,
) -> anyhow::Result<(String, Snapshot, Vec<SourceDiagnostic>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let file = kube::config::Kubeconfig::read_from(kubeconfig)
            .with_context(|| format!("reading {}", kubeconfig.display()))?;
        let options = kube::config::KubeConfigOptions {
            context: args.context.clone(),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(file, &options)
            .await
            .with_context(|| format!("using {}", kubeconfig.display()))?;
        let namespace = match (&args.namespace, args.all_namespaces) {
            (_, true) => None,
            (Some(namespace), false) => Some(namespace.clone()),
            (None, false) => Some(config.default_namespace.clone()),
        };
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).context("creating the Kubernetes client")?;
        let list_options = crate::kube_source::ListOptions {
            namespace: namespace.clone(),
            annotation_prefix: opts.annotation_prefix.clone(),
        };
        let mut listed = crate::kube_source::list(&client, &list_options).await?;
        // The controller ConfigMap may live outside the listed namespace.
        if let Some(key) = &opts.controller_config
            && !listed.snapshot.config_maps.contains_key(key)
        {
            let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
                kube::Api::namespaced(client.clone(), &key.namespace);
            if let Ok(Some(object)) = api.get_opt(&key.name).await
                && let Ok(map) = crate::model::ConfigMap::try_from(&object)
            {
                listed.snapshot.insert_config_map(map);
            }
        }
        let diagnostics = listed
            .diagnostics
            .iter()
            .map(|d| SourceDiagnostic {
                severity: d.severity,
                message: d.to_string(),
            })
            .collect();
        let scope =
            namespace.map_or_else(|| "all namespaces".to_owned(), |n| format!("namespace {n}"));
        Ok((
            format!("cluster {server}, {scope}"),
            listed.snapshot,
            diagnostics,
        ))
    })
}
