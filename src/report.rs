//! The `sluice check` report: per Ingress whether it is served, every diagnostic, and a
//! migration table of its ingress-nginx annotations (exact, partial with the difference, no
//! effect, refused, unknown); the controller ConfigMap's keys the same way; a summary whose
//! `rejected` count decides the exit code. Rendered as text or JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;

use crate::model::annotations::{self, Status};
use crate::model::config::{self, KeyReport};
use crate::model::{
    Action, BuildOptions, Built, Diagnostic, DiagnosticKind, Kind, ObjectKey, Severity, Snapshot,
};

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Where the objects came from.
    pub source: String,
    /// Counts.
    pub summary: Summary,
    /// Every Ingress, sorted by namespace and name.
    pub ingresses: Vec<IngressReport>,
    /// The controller ConfigMap's keys, when one is configured and found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configmap: Option<ConfigMapReport>,
    /// Diagnostics about other objects (Services, Secrets, ConfigMaps, the controller).
    pub other_diagnostics: Vec<Diagnostic>,
    /// Problems reading the source (files, documents, conversions).
    pub source_diagnostics: Vec<SourceDiagnostic>,
}

/// Counts of the report.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Ingresses seen.
    pub ingresses: usize,
    /// Served as written (warnings allowed).
    pub served: usize,
    /// Served in part: some rules or paths are not.
    pub partial: usize,
    /// Not served at all because of an error.
    pub rejected: usize,
    /// Without error but contributing nothing (every path or host claimed by an older Ingress).
    pub shadowed: usize,
    /// Another controller's class.
    pub ignored: usize,
    /// Error diagnostics, all objects.
    pub errors: usize,
    /// Warning diagnostics, all objects.
    pub warnings: usize,
    /// Source problems that are errors.
    pub source_errors: usize,
}

/// One Ingress.
#[derive(Debug, Serialize)]
pub struct IngressReport {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// What happens to it.
    pub status: IngressStatus,
    /// Its diagnostics.
    pub diagnostics: Vec<Diagnostic>,
    /// Its annotations under the ingress-nginx prefix.
    pub annotations: Vec<AnnotationLine>,
}

/// What happens to an Ingress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IngressStatus {
    /// Served as written.
    Served,
    /// Served in part.
    Partial,
    /// Not served.
    Rejected,
    /// Valid, but older Ingresses claim everything it declares.
    Shadowed,
    /// Not our class.
    Ignored,
}

/// One annotation's migration status.
#[derive(Debug, Serialize)]
pub struct AnnotationLine {
    /// The name without prefix.
    pub annotation: String,
    /// The value as written.
    pub value: String,
    /// `exact`, `partial`, `no_effect`, `refused` or `unknown`.
    pub status: &'static str,
    /// The difference or reason, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// For an alias, the canonical name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_of: Option<&'static str>,
}

/// The controller ConfigMap's keys that are set.
#[derive(Debug, Serialize)]
pub struct ConfigMapReport {
    /// Which ConfigMap.
    pub configmap: String,
    /// Its keys, in documentation order.
    pub keys: Vec<KeyLine>,
}

/// One ConfigMap key's migration status.
#[derive(Debug, Serialize)]
pub struct KeyLine {
    /// The key.
    pub key: String,
    /// The value as written.
    pub value: String,
    /// `exact`, `partial`, `no_effect`, `refused` or `unknown`.
    pub status: &'static str,
    /// The difference or reason, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// Whether it leaves the configuration as ingress-nginx's default (the default value, an
    /// invalid value, or no effect).
    pub default: bool,
    /// Whether the value was accepted.
    pub valid: bool,
}

impl From<KeyReport> for KeyLine {
    fn from(report: KeyReport) -> Self {
        let (status, note) = status_parts(report.status.as_ref());
        Self {
            key: report.key,
            value: report.value.unwrap_or_default(),
            status,
            note,
            default: report.default,
            valid: report.valid,
        }
    }
}

/// A problem reading the source.
#[derive(Debug, Serialize)]
pub struct SourceDiagnostic {
    /// How serious.
    pub severity: Severity,
    /// The whole finding on one line.
    pub message: String,
}

impl Report {
    /// Builds the report of `built` (from `snapshot` with `opts`).
    pub fn new(
        source: String,
        snapshot: &Snapshot,
        built: &Built,
        opts: &BuildOptions,
        source_diagnostics: Vec<SourceDiagnostic>,
    ) -> Self {
        let mut by_ingress: BTreeMap<&ObjectKey, Vec<Diagnostic>> = BTreeMap::new();
        let mut other_diagnostics = Vec::new();
        for d in &built.diagnostics {
            if d.object.kind == Kind::Ingress && snapshot.ingresses.contains_key(&d.object.key) {
                by_ingress.entry(&d.object.key).or_default().push(d.clone());
            } else {
                other_diagnostics.push(d.clone());
            }
        }
        let contributing = contributing(built);
        let mut summary = Summary {
            ingresses: snapshot.ingresses.len(),
            source_errors: source_diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count(),
            ..Summary::default()
        };
        for d in &built.diagnostics {
            match d.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Info => {}
            }
        }
        let ingresses = snapshot
            .ingresses
            .values()
            .map(|ingress| {
                let diagnostics = by_ingress.remove(&ingress.key).unwrap_or_default();
                let status = status(&diagnostics, contributing.contains(&ingress.key));
                match status {
                    IngressStatus::Served => summary.served += 1,
                    IngressStatus::Partial => summary.partial += 1,
                    IngressStatus::Rejected => summary.rejected += 1,
                    IngressStatus::Shadowed => summary.shadowed += 1,
                    IngressStatus::Ignored => summary.ignored += 1,
                }
                IngressReport {
                    namespace: ingress.key.namespace.clone(),
                    name: ingress.key.name.clone(),
                    status,
                    diagnostics,
                    annotations: annotation_lines(ingress, &opts.annotation_prefix),
                }
            })
            .collect();
        let configmap = opts.controller_config.as_ref().and_then(|key| {
            let map = snapshot.config_maps.get(key)?;
            let keys = config::report(&map.data)
                .into_iter()
                .filter(|k| k.value.is_some())
                .map(KeyLine::from)
                .collect();
            Some(ConfigMapReport {
                configmap: key.to_string(),
                keys,
            })
        });
        Self {
            source,
            summary,
            ingresses,
            configmap,
            other_diagnostics,
            source_diagnostics,
        }
    }

    /// Whether anything would not be served as written: a rejected or partly served Ingress,
    /// or a source error.
    pub fn failed(&self) -> bool {
        self.summary.rejected + self.summary.partial + self.summary.source_errors > 0
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "source: {}", self.source);
        for d in &self.source_diagnostics {
            let _ = writeln!(out, "{}", d.message);
        }
        for ingress in &self.ingresses {
            let _ = writeln!(
                out,
                "\nIngress {}/{}: {}",
                ingress.namespace,
                ingress.name,
                status_text(ingress.status)
            );
            if !ingress.annotations.is_empty() {
                let _ = writeln!(out, "  annotations:");
                for a in &ingress.annotations {
                    let _ = write!(
                        out,
                        "    {:<10} {}: {}",
                        a.status.replace('_', " "),
                        a.annotation,
                        shorten(&a.value)
                    );
                    if let Some(alias) = a.alias_of {
                        let _ = write!(out, " (alias of {alias})");
                    }
                    if let Some(note) = a.note {
                        let _ = write!(out, " — {note}");
                    }
                    out.push('\n');
                }
            }
            if !ingress.diagnostics.is_empty() {
                let _ = writeln!(out, "  diagnostics:");
                for d in &ingress.diagnostics {
                    let severity = d.severity.to_string();
                    let _ = writeln!(out, "    {severity:<8} {}: {}", d.field, d.kind);
                }
            }
        }
        if let Some(map) = &self.configmap {
            let _ = writeln!(out, "\nConfigMap {}:", map.configmap);
            for key in &map.keys {
                let (status, note) = (key.status, key.note);
                let mut flags = Vec::new();
                if !key.valid {
                    flags.push("invalid, default kept");
                } else if key.default {
                    flags.push("same as the default");
                }
                let _ = write!(
                    out,
                    "    {:<10} {}: {}",
                    status.replace('_', " "),
                    key.key,
                    shorten(&key.value)
                );
                if !flags.is_empty() {
                    let _ = write!(out, " ({})", flags.join(", "));
                }
                if let Some(note) = note {
                    let _ = write!(out, " — {note}");
                }
                out.push('\n');
            }
        }
        if !self.other_diagnostics.is_empty() {
            let _ = writeln!(out, "\nOther objects:");
            for d in &self.other_diagnostics {
                let _ = writeln!(out, "    {d}");
            }
        }
        let s = &self.summary;
        let _ = writeln!(
            out,
            "\n{} Ingresses: {} served, {} partially served, {} rejected, {} shadowed, {} ignored (other class); {} errors, {} warnings, {} source errors",
            s.ingresses,
            s.served,
            s.partial,
            s.rejected,
            s.shadowed,
            s.ignored,
            s.errors,
            s.warnings,
            s.source_errors
        );
        out
    }
}

/// Ingresses that contribute a route, a canary or TLS to the table.
fn contributing(built: &Built) -> BTreeSet<ObjectKey> {
    let routes = &built.table.routes;
    let mut keys = BTreeSet::new();
    for vhost in &routes.virtual_hosts {
        if let Some(tls) = &vhost.tls {
            keys.insert(tls.origin.clone());
        }
        for route in &vhost.routes {
            if let Some(origin) = &route.origin {
                keys.insert(origin.ingress.clone());
            }
            if let Action::Forward(forward) = &route.action
                && let Some(canary) = &forward.canary
            {
                keys.insert(canary.origin.clone());
            }
        }
    }
    if let Some(origin) = routes
        .default_route
        .as_ref()
        .and_then(|r| r.origin.as_ref())
    {
        keys.insert(origin.ingress.clone());
    }
    keys
}

fn status(diagnostics: &[Diagnostic], contributes: bool) -> IngressStatus {
    if diagnostics
        .iter()
        .any(|d| matches!(d.kind, DiagnosticKind::NotOurClass(_)))
    {
        return IngressStatus::Ignored;
    }
    let errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    match (errors, contributes) {
        (false, true) => IngressStatus::Served,
        (false, false) => IngressStatus::Shadowed,
        (true, true) => IngressStatus::Partial,
        (true, false) => IngressStatus::Rejected,
    }
}

fn status_text(status: IngressStatus) -> &'static str {
    match status {
        IngressStatus::Served => "served",
        IngressStatus::Partial => "PARTIALLY SERVED",
        IngressStatus::Rejected => "REJECTED",
        IngressStatus::Shadowed => "shadowed (older Ingresses claim its hosts and paths)",
        IngressStatus::Ignored => "ignored (another controller's class)",
    }
}

fn annotation_lines(ingress: &crate::model::Ingress, prefix: &str) -> Vec<AnnotationLine> {
    annotations::classify(ingress, prefix)
        .into_iter()
        .map(|report| {
            let (status, note) = status_parts(report.status.as_ref());
            AnnotationLine {
                annotation: report.name.unwrap_or_default(),
                value: ingress
                    .annotations
                    .get(&report.key)
                    .cloned()
                    .unwrap_or_default(),
                status,
                note,
                alias_of: report.alias_of,
            }
        })
        .collect()
}

fn status_parts(status: Option<&Status>) -> (&'static str, Option<&'static str>) {
    match status {
        Some(Status::Exact) => ("exact", None),
        Some(Status::Partial(note)) => ("partial", Some(note)),
        Some(Status::NoEffect(note)) => ("no_effect", Some(note)),
        Some(Status::Refused(note)) => ("refused", Some(note)),
        None => ("unknown", None),
    }
}

fn shorten(value: &str) -> String {
    let flat = value.replace('\n', "\\n");
    match flat.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}
