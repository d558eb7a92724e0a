//! `sluice routes`: print the compiled route table for manifests, the answer to "what does the
//! proxy think it is doing".

use std::fmt::Write;

use crate::cli::{OutputFormat, RoutesArgs};
use crate::file_source;
use crate::model::{Action, RouteTable, build};

/// Prints the table as text or JSON.
pub fn run(args: RoutesArgs) -> anyhow::Result<()> {
    let loaded = file_source::load(&args.manifests);
    let built = build(&loaded.snapshot, &args.model.build_options(true));
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&built.table)?),
        OutputFormat::Text => print!("{}", render(&built.table)),
    }
    Ok(())
}

/// The table as indented text: hosts, routes, where they go and the endpoints there.
pub fn render(table: &RouteTable) -> String {
    let mut out = String::new();
    let target = |action: &Action| match action {
        Action::Forward(f) => f
            .backends
            .iter()
            .map(|b| {
                let endpoints = table.endpoints.get(&b.upstream).map_or_else(
                    || "no endpoints".to_owned(),
                    |set| {
                        set.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                );
                format!("{} (weight {}) [{endpoints}]", b.upstream, b.weight)
            })
            .collect::<Vec<_>>()
            .join("; "),
        Action::Redirect(r) => format!("redirect {} {}", r.status, r.location),
        Action::Respond(r) => format!("respond {}", r.status),
        _ => "other".to_owned(),
    };
    for vhost in &table.routes.virtual_hosts {
        let tls = match &vhost.tls {
            Some(tls) => match &tls.certificate {
                Some(cert) => format!(" (tls: {cert})"),
                None => " (tls: default certificate)".to_owned(),
            },
            None => String::new(),
        };
        let _ = writeln!(out, "host {}{tls}", vhost.host);
        for route in &vhost.routes {
            let origin = route
                .origin
                .as_ref()
                .map_or_else(String::new, |o| format!("  # Ingress {}", o.ingress));
            let _ = writeln!(out, "  {} -> {}{origin}", route.path, target(&route.action));
        }
    }
    match &table.routes.default_route {
        Some(route) => {
            let _ = writeln!(out, "default -> {}", target(&route.action));
        }
        None => {
            let _ = writeln!(out, "default -> 404");
        }
    }
    out
}
