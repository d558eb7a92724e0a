//! `sluice check`: load manifests, build, print every diagnostic; the exit code says whether
//! any Ingress (or file) would be rejected.

use std::process::ExitCode;

use serde_json::json;

use crate::cli::{CheckArgs, OutputFormat};
use crate::file_source;
use crate::model::{BuildOptions, Kind, Severity, build};

/// Runs the check; non-zero exit when something would not be served as written.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = file_source::load(&args.manifests);
    let opts = BuildOptions {
        now: Some(sluice::unix_now()),
        ..args.model.build_options(true)
    };
    let built = build(&loaded.snapshot, &opts);
    let file_errors = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
    let rejected: Vec<String> = built
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error && d.object.kind == Kind::Ingress)
        .map(|d| d.object.key.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let total = loaded.snapshot.ingresses.len();
    match args.output {
        OutputFormat::Json => {
            let report = json!({
                "ingresses": total,
                "rejected": rejected,
                "file_diagnostics": loaded.diagnostics,
                "diagnostics": built.diagnostics,
            });
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        OutputFormat::Text => {
            for d in &loaded.diagnostics {
                println!("{d}");
            }
            for d in &built.diagnostics {
                println!("{d}");
            }
            println!(
                "{total} Ingresses, {} with errors, {file_errors} file errors",
                rejected.len()
            );
        }
    }
    Ok(if rejected.is_empty() && file_errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
