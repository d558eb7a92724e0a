//! The ingress-nginx annotations: one registry ([`registry`]) of every name sluice knows, with
//! its group, tier, risk, sluice's status and its parser, and the processing rules of
//! ingress-nginx (§0 of the surface inventory) in [`parse_ingress`].
//!
//! The registry is the single source for parsing, unknown-key detection, `docs/compatibility.md`
//! ([`crate::compat`]) and the migration report ([`classify`]).

mod draft;
mod groups;

use std::collections::BTreeMap;

use serde::Serialize;

pub use draft::{CanaryDraft, ClientTlsDraft, Draft};
pub(crate) use groups::{
    cache_durations as auth_cache_durations, hash_balance, method as auth_method, proxy_redirect,
};

use crate::diagnostic::{DiagnosticKind, Severity};
use crate::objects::Ingress;
use crate::policy::{Admission, RiskLevel};
use crate::snapshot::{DEFAULT_ANNOTATION_PREFIX, SnippetPolicy};

/// Which part of the surface an annotation or ConfigMap key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Group {
    /// Rewrites, redirects and routing (§1.1).
    Routing,
    /// Frontend TLS and mTLS (§1.2).
    Tls,
    /// Backend protocol, upstream TLS and load balancing (§1.3).
    Backend,
    /// Timeouts, retries, buffering and body size (§1.4).
    Proxy,
    /// Canary (§1.5).
    Canary,
    /// Rate limiting (§1.6).
    RateLimit,
    /// IP allow and deny lists (§1.7).
    Access,
    /// CORS (§1.8).
    Cors,
    /// Authentication (§1.9).
    Auth,
    /// Session affinity (§1.10).
    Affinity,
    /// Headers (§1.11).
    Headers,
    /// Mirroring (§1.12).
    Mirror,
    /// Logging, tracing, WAF and misc (§1.13).
    Misc,
    /// Raw nginx configuration (§1.14).
    Snippet,
    /// Annotations removed from ingress-nginx, still seen in old manifests.
    Removed,
}

/// How commonly a setting is used (the inventory's judgement).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Tier {
    /// Set by most deployments.
    T1,
    /// Common.
    T2,
    /// Rare, legacy or nginx-internal.
    T3,
    /// Raw configuration injection, never honoured.
    Refuse,
}

/// ingress-nginx's scope of an annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Scope {
    /// Applies to the paths of the Ingress.
    Location,
    /// Applies to the Ingress (or its host) as a whole.
    Ingress,
}

/// What sluice does with a setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "note")]
pub enum Status {
    /// Parsed into a typed policy the proxy implements with ingress-nginx's behaviour.
    Exact,
    /// Parsed and implemented, with the stated difference.
    Partial(&'static str),
    /// Accepted (and validated), but it does nothing in sluice, for the stated reason.
    NoEffect(&'static str),
    /// Never honoured (raw nginx configuration).
    Refused(&'static str),
}

/// A value parser: writes the value into the draft or says why it is invalid.
pub type ParseFn = fn(&str, &mut Draft) -> Result<(), String>;

/// One annotation sluice knows.
#[derive(Clone, Copy, Debug)]
pub struct AnnotationSpec {
    /// Name without the prefix, e.g. `rewrite-target`.
    pub name: &'static str,
    /// Group.
    pub group: Group,
    /// Tier.
    pub tier: Tier,
    /// ingress-nginx's risk class.
    pub risk: RiskLevel,
    /// ingress-nginx's scope.
    pub scope: Scope,
    /// sluice's status.
    pub status: Status,
    /// For an alias, the canonical name.
    pub alias_of: Option<&'static str>,
    /// Honoured on a canary Ingress (§0.7: balancing and affinity, and the canary ones).
    pub canary: bool,
    /// The parser: writes the value into the draft or says why it is invalid; `None` for
    /// snippets and removed annotations (their values are not read).
    pub parse: Option<ParseFn>,
    /// For a partial entry whose difference concerns some values only: the values served
    /// exactly (e.g. `backend-protocol: HTTP`, when only FCGI differs).
    pub exact_for: Option<fn(&str) -> bool>,
}

impl AnnotationSpec {
    /// The status of this annotation with `value`: [`Status::Exact`] for a value
    /// [`AnnotationSpec::exact_for`] accepts, else [`AnnotationSpec::status`].
    pub fn status_for(&self, value: &str) -> Status {
        match self.exact_for {
            Some(exact) if exact(value) => Status::Exact,
            _ => self.status,
        }
    }

    /// Whether this is one of the `*-snippet` annotations.
    pub fn is_snippet(&self) -> bool {
        self.group == Group::Snippet
    }
}

/// The prefix of sluice's own annotations (not configurable).
pub const SLUICE_PREFIX: &str = "sluice.dev";

/// sluice's own annotations (`sluice.dev/<name>`), which ingress-nginx does not have.
pub fn sluice_registry() -> impl Iterator<Item = &'static AnnotationSpec> {
    groups::SLUICE.iter()
}

/// What one of sluice's own annotations does (empty for an unknown name).
pub fn sluice_description(name: &str) -> &'static str {
    groups::SLUICE_DESCRIPTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, d)| d)
}

/// The spec of one of sluice's own annotations (name without `sluice.dev/`).
pub fn sluice_spec(name: &str) -> Option<&'static AnnotationSpec> {
    sluice_registry().find(|s| s.name == name)
}

/// Every ingress-nginx annotation sluice knows, grouped, in a stable order.
pub fn registry() -> impl Iterator<Item = &'static AnnotationSpec> {
    groups::ALL.iter().flat_map(|g| g.iter())
}

/// The spec of an annotation name (without prefix).
pub fn spec(name: &str) -> Option<&'static AnnotationSpec> {
    static INDEX: std::sync::OnceLock<BTreeMap<&'static str, &'static AnnotationSpec>> =
        std::sync::OnceLock::new();
    INDEX
        .get_or_init(|| registry().map(|s| (s.name, s)).collect())
        .get(name)
        .copied()
}

/// How one annotation of an Ingress is treated (the migration report of `sluice check`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AnnotationReport {
    /// The full key.
    pub key: String,
    /// The name without prefix, when it has our prefix.
    pub name: Option<String>,
    /// sluice's status with the Ingress's value; `None` for an unknown name under the prefix.
    pub status: Option<Status>,
    /// Tier, when known.
    pub tier: Option<Tier>,
    /// For an alias, the canonical name.
    pub alias_of: Option<&'static str>,
}

/// Classifies every annotation of an Ingress that carries `prefix` (keys outside it are left
/// out).
pub fn classify(ingress: &Ingress, prefix: &str) -> Vec<AnnotationReport> {
    let lead = format!("{}/", prefix.trim_end_matches('/'));
    ingress
        .annotations
        .iter()
        .filter_map(|(key, value)| {
            let name = key.strip_prefix(&lead)?;
            let spec = spec(name);
            Some(AnnotationReport {
                key: key.clone(),
                name: Some(name.to_owned()),
                status: spec.map(|s| s.status_for(value)),
                tier: spec.map(|s| s.tier),
                alias_of: spec.and_then(|s| s.alias_of),
            })
        })
        .collect()
}

/// What [`parse_ingress`] needs besides the Ingress.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// `--annotations-prefix`.
    pub prefix: &'a str,
    /// What snippets do.
    pub snippets: SnippetPolicy,
    /// ConfigMap admission keys.
    pub admission: &'a Admission,
    /// The ConfigMap defaults every draft starts from.
    pub base: &'a Draft,
}

/// One finding of [`parse_ingress`]: severity, field (`metadata.annotations.<key>`) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// The field.
    pub field: String,
    /// What.
    pub kind: DiagnosticKind,
}

/// The annotations of an Ingress, parsed.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The draft (meaningless when `rejected`).
    pub draft: Draft,
    /// Whether the whole Ingress is rejected.
    pub rejected: bool,
    /// What was found.
    pub findings: Vec<Finding>,
}

/// Applies the ingress-nginx processing rules to the annotations of one Ingress:
/// 1. only keys under `prefix/` are read; with a custom prefix, a key under the default prefix
///    rejects the Ingress (as ingress-nginx's validation does);
/// 2. unknown names are reported (Info) and ignored;
/// 3. an alias and its canonical name both set: the canonical wins (Warning);
/// 4. a value (of any key under the prefix) containing a word of
///    `annotation-value-word-blocklist`, or an annotation riskier than `annotations-risk-level`,
///    rejects the Ingress;
/// 5. `*-snippet`: rejected or ignored per the snippet policy;
/// 6. on a canary Ingress only the canary, balancing and affinity annotations are read;
/// 7. every other value is parsed; an invalid one rejects the Ingress (Error naming
///    annotation, value and reason); annotations without effect are reported (Info);
/// 8. sluice's own annotations (`sluice.dev/<name>`, [`sluice_registry`]) follow rules 2, 4
///    (word blocklist), 6 and 7.
pub fn parse_ingress(ingress: &Ingress, ctx: &Context<'_>) -> Parsed {
    let mut out = Parsed {
        draft: ctx.base.clone(),
        rejected: false,
        findings: Vec::new(),
    };
    let prefix = ctx.prefix.trim_end_matches('/');
    let lead = format!("{prefix}/");
    let default_lead = format!("{DEFAULT_ANNOTATION_PREFIX}/");
    let mut present: BTreeMap<&'static str, (&'static AnnotationSpec, &str, &str)> =
        BTreeMap::new();
    let own_lead = format!("{SLUICE_PREFIX}/");
    let mut own: Vec<(&'static AnnotationSpec, &str, &str)> = Vec::new();
    for (key, value) in &ingress.annotations {
        let field = format!("metadata.annotations.{key}");
        if let Some(name) = key.strip_prefix(&own_lead) {
            if let Some(word) = ctx
                .admission
                .word_blocklist
                .iter()
                .find(|w| !w.is_empty() && value.contains(w.as_str()))
            {
                let reason =
                    format!("contains {word:?}, listed in annotation-value-word-blocklist");
                out.reject(field, key, value, reason);
                continue;
            }
            match sluice_spec(name) {
                Some(spec) => own.push((spec, key.as_str(), value.as_str())),
                None => out.findings.push(Finding {
                    severity: Severity::Info,
                    field,
                    kind: DiagnosticKind::UnknownAnnotation(key.clone()),
                }),
            }
            continue;
        }
        if key.starts_with(&lead)
            && let Some(word) = ctx
                .admission
                .word_blocklist
                .iter()
                .find(|w| !w.is_empty() && value.contains(w.as_str()))
        {
            let reason = format!("contains {word:?}, listed in annotation-value-word-blocklist");
            out.reject(field, key, value, reason);
            continue;
        }
        let Some(name) = key.strip_prefix(&lead) else {
            if prefix != DEFAULT_ANNOTATION_PREFIX && key.starts_with(&default_lead) {
                out.reject(
                    field,
                    key,
                    value,
                    format!("this controller uses the annotation prefix {prefix:?}"),
                );
            }
            continue;
        };
        match spec(name) {
            Some(spec) => {
                present.insert(spec.name, (spec, key.as_str(), value.as_str()));
            }
            None => out.findings.push(Finding {
                severity: Severity::Info,
                field,
                kind: DiagnosticKind::UnknownAnnotation(key.clone()),
            }),
        }
    }
    // Aliases: the canonical name wins.
    let aliases: Vec<(&'static str, &'static str)> = present
        .values()
        .filter_map(|(spec, _, _)| spec.alias_of.map(|canonical| (spec.name, canonical)))
        .collect();
    for (alias, canonical) in aliases {
        if let Some((_, canonical_key, _)) = present.get(canonical).copied()
            && let Some((_, alias_key, _)) = present.remove(alias)
        {
            out.findings.push(Finding {
                severity: Severity::Warning,
                field: format!("metadata.annotations.{alias_key}"),
                kind: DiagnosticKind::AliasShadowed {
                    alias: alias_key.to_owned(),
                    canonical: canonical_key.to_owned(),
                },
            });
        }
    }
    let canary = present
        .get("canary")
        .is_some_and(|(_, _, v)| crate::values::boolean(v) == Ok(true));
    let mut ignored_on_canary = Vec::new();
    for (spec, key, value) in present.values().copied().chain(own) {
        let field = format!("metadata.annotations.{key}");
        if spec.is_snippet() {
            let rejected = ctx.snippets == SnippetPolicy::Reject;
            out.rejected |= rejected;
            out.findings.push(Finding {
                severity: if rejected {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                field,
                kind: DiagnosticKind::Snippet {
                    annotation: key.to_owned(),
                    rejected,
                },
            });
            continue;
        }
        if spec.risk > ctx.admission.risk_level {
            out.reject(
                field,
                key,
                value,
                format!(
                    "its risk ({:?}) is above annotations-risk-level ({:?})",
                    spec.risk, ctx.admission.risk_level
                ),
            );
            continue;
        }
        if canary && !spec.canary {
            ignored_on_canary.push(key);
            continue;
        }
        if let Some(parse) = spec.parse
            && let Err(reason) = parse(value, &mut out.draft)
        {
            out.draft.warnings.clear();
            out.reject(field, key, value, reason);
            continue;
        }
        for warning in std::mem::take(&mut out.draft.warnings) {
            out.findings.push(Finding {
                severity: Severity::Warning,
                field: field.clone(),
                kind: DiagnosticKind::Unsupported(format!("annotation {key}: {warning}")),
            });
        }
        if let Status::NoEffect(why) = spec.status {
            out.findings.push(Finding {
                severity: Severity::Info,
                field,
                kind: DiagnosticKind::NoEffect(format!("annotation {key} ({why})")),
            });
        }
    }
    if !ignored_on_canary.is_empty() {
        out.findings.push(Finding {
            severity: Severity::Info,
            field: "metadata.annotations".into(),
            kind: DiagnosticKind::NoEffect(format!(
                "on a canary Ingress, annotation(s) {}",
                ignored_on_canary.join(", ")
            )),
        });
    }
    out
}

/// Whether [`parse_ingress`] would read any annotation of `ingress` (one under `prefix`,
/// sluice's own, or ingress-nginx's when the prefix is another): an Ingress without any parses
/// to the ConfigMap defaults alone.
pub fn reads_any(ingress: &Ingress, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    let under = |key: &str, lead: &str| key.strip_prefix(lead).is_some_and(|r| r.starts_with('/'));
    ingress.annotations.keys().any(|key| {
        under(key, prefix)
            || under(key, SLUICE_PREFIX)
            || (prefix != DEFAULT_ANNOTATION_PREFIX && under(key, DEFAULT_ANNOTATION_PREFIX))
    })
}

impl Parsed {
    fn reject(&mut self, field: String, key: &str, value: &str, reason: String) {
        self.rejected = true;
        self.findings.push(Finding {
            severity: Severity::Error,
            field,
            kind: DiagnosticKind::InvalidAnnotation {
                annotation: key.to_owned(),
                value: value.to_owned(),
                reason,
            },
        });
    }
}
