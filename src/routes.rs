//! `sluice routes`: print the compiled route table for manifests, the answer to "what does the
//! proxy think it is doing": hosts (with TLS), routes in precedence order with their match kind,
//! conditions, where they go (upstreams with weights and endpoints, canaries, redirects), the
//! Ingress and path they came from, and every policy field that differs from the default.

use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

use crate::cli::{OutputFormat, RoutesArgs};
use crate::file_source;
use crate::model::{
    Action, HostPolicy, PathMatch, Policy, Route, RouteTable, UpstreamPolicy, build,
};

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

/// The table as indented text.
pub fn render(table: &RouteTable) -> String {
    let mut out = String::new();
    for vhost in &table.routes.virtual_hosts {
        let tls = match &vhost.tls {
            Some(tls) => match &tls.certificate {
                Some(cert) => format!(" (tls: {cert})"),
                None => " (tls: default certificate)".to_owned(),
            },
            None => String::new(),
        };
        let _ = writeln!(out, "host {}{tls}", vhost.host);
        let host_policy = changed(&*vhost.policy, &HostPolicy::default());
        if !host_policy.is_empty() {
            let _ = writeln!(out, "  host policy: {}", host_policy.join(" "));
        }
        for route in &vhost.routes {
            route_lines(&mut out, table, route);
        }
    }
    match &table.routes.default_route {
        Some(route) => {
            let _ = writeln!(out, "default");
            route_lines(&mut out, table, route);
        }
        None => {
            let _ = writeln!(out, "default -> 404");
        }
    }
    for (id, upstream) in &table.routes.upstreams {
        let policy = changed(&upstream.policy, &UpstreamPolicy::default());
        if !policy.is_empty() {
            let _ = writeln!(out, "upstream {id}: {}", policy.join(" "));
        }
    }
    out
}

fn route_lines(out: &mut String, table: &RouteTable, route: &Route) {
    let (kind, path) = match &route.path {
        PathMatch::Exact(p) => ("Exact", p),
        PathMatch::Prefix(p) => ("Prefix", p),
        PathMatch::Regex(p) => ("Regex", p),
    };
    let origin = route.origin.as_ref().map_or_else(String::new, |o| {
        format!("  # Ingress {} path {}", o.ingress, o.path)
    });
    let _ = writeln!(
        out,
        "  {kind:<6} {path} -> {}{origin}",
        target(table, &route.action)
    );
    for condition in &route.conditions {
        let _ = writeln!(
            out,
            "      if {}",
            compact(&serde_json::to_value(condition))
        );
    }
    let policy = changed(route.policy.as_ref(), &Policy::default());
    if !policy.is_empty() {
        let _ = writeln!(out, "      policy: {}", policy.join(" "));
    }
}

fn target(table: &RouteTable, action: &Action) -> String {
    let endpoints = |id| {
        table.endpoints.get(id).map_or_else(
            || "no endpoints".to_owned(),
            |set| {
                set.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        )
    };
    match action {
        Action::Forward(f) => {
            let mut text = f
                .backends
                .iter()
                .map(|b| {
                    format!(
                        "{} (weight {}) [{}]",
                        b.upstream,
                        b.weight,
                        endpoints(&b.upstream)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            if let Some(canary) = &f.canary {
                let mut rules = Vec::new();
                if let Some(header) = &canary.header {
                    rules.push(format!("header {}", header.name));
                }
                if let Some(cookie) = &canary.cookie {
                    rules.push(format!("cookie {cookie}"));
                }
                rules.push(format!("weight {}/{}", canary.weight, canary.weight_total));
                let _ = write!(
                    text,
                    "; canary {} [{}] by {} (Ingress {})",
                    canary.upstream,
                    endpoints(&canary.upstream),
                    rules.join(", "),
                    canary.origin
                );
            }
            text
        }
        Action::Redirect(r) => format!("redirect {} {}", r.status, r.location),
        Action::Respond(r) => format!("respond {}", r.status),
        _ => "other".to_owned(),
    }
}

/// `a.b=value` for every leaf of `value` that differs from `default` (both serialised).
fn changed<T: Serialize>(value: &T, default: &T) -> Vec<String> {
    let (Ok(value), Ok(default)) = (serde_json::to_value(value), serde_json::to_value(default))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    diff(&mut out, String::new(), &value, &default);
    out
}

fn diff(out: &mut Vec<String>, at: String, value: &Value, default: &Value) {
    match (value, default) {
        (Value::Object(fields), Value::Object(_) | Value::Null) => {
            for (key, field) in fields {
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                diff(out, path, field, default.get(key).unwrap_or(&Value::Null));
            }
        }
        // A field that is new compared with the default: only its meaningful leaves.
        (value, Value::Null) if is_empty(value) => {}
        (value, default) if value != default => {
            out.push(format!("{at}={}", compact(&Ok(value.clone()))));
        }
        _ => {}
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
        Value::Number(_) | Value::Bool(true) => false,
    }
}

fn compact(value: &Result<Value, serde_json::Error>) -> String {
    match value {
        Ok(Value::String(text)) => text.clone(),
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}
