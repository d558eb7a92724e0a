//! Renders `docs/compatibility.md` from the annotation and ConfigMap registries, so the
//! document can never disagree with what the code does (a test keeps the file current).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::annotations::{self, Group, Status, Tier};
use crate::config::{self, KeyGroup};

/// Counts of registry entries per status: `(exact, partial, no_effect, refused)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Exact.
    pub exact: usize,
    /// Partial.
    pub partial: usize,
    /// No effect.
    pub no_effect: usize,
    /// Refused.
    pub refused: usize,
}

impl Counts {
    fn add(&mut self, status: Status) {
        match status {
            Status::Exact => self.exact += 1,
            Status::Partial(_) => self.partial += 1,
            Status::NoEffect(_) => self.no_effect += 1,
            Status::Refused(_) => self.refused += 1,
        }
    }

    /// All entries.
    pub fn total(&self) -> usize {
        self.exact + self.partial + self.no_effect + self.refused
    }
}

/// Status counts of the annotations (aliases included) and of the ConfigMap keys.
pub fn counts() -> (Counts, Counts) {
    let mut annotations = Counts::default();
    for spec in annotations::registry() {
        annotations.add(spec.status);
    }
    let mut keys = Counts::default();
    for spec in config::keys() {
        keys.add(spec.status);
    }
    (annotations, keys)
}

/// The whole compatibility document.
pub fn render_markdown() -> String {
    let (ann, keys) = counts();
    let mut out = String::new();
    out.push_str("# ingress-nginx compatibility\n\n");
    out.push_str(
        "Generated from the registries in `crates/ingress-model` (`annotations` and `config`); \
         do not edit by hand. Regenerate with `SLUICE_BLESS=1 cargo test -p sluice-ingress-model \
         compatibility_doc_is_current`.\n\n",
    );
    out.push_str(
        "Status: **exact** = parsed into a typed policy the proxy implements with \
         ingress-nginx's behaviour; **partial** = implemented with the stated difference; \
         **no effect** = accepted and validated, but does nothing in sluice (reported: Info for an annotation, Warning for a ConfigMap key); \
         **refused** = raw nginx configuration, never applied.\n\n",
    );
    out.push_str("Processing rules: an invalid annotation value rejects the whole Ingress (Error); unknown \
                  names under the prefix are reported (Info) and ignored; aliases are accepted and the canonical \
                  name wins when both are set; `annotation-value-word-blocklist` and `annotations-risk-level` \
                  reject; auth misconfiguration makes the Ingress's routes answer 503 instead; an invalid \
                  ConfigMap value keeps the default (Warning).\n\n");
    let _ = writeln!(
        out,
        "| | exact | partial | no effect | refused | total |\n|---|---|---|---|---|---|\n\
         | annotations (aliases and removed names included) | {} | {} | {} | {} | {} |\n\
         | ConfigMap keys | {} | {} | {} | {} | {} |\n",
        ann.exact,
        ann.partial,
        ann.no_effect,
        ann.refused,
        ann.total(),
        keys.exact,
        keys.partial,
        keys.no_effect,
        keys.refused,
        keys.total()
    );
    out.push_str("## Annotations (`nginx.ingress.kubernetes.io/…`)\n\n");
    let mut by_group: BTreeMap<Group, Vec<&annotations::AnnotationSpec>> = BTreeMap::new();
    for spec in annotations::registry() {
        by_group.entry(spec.group).or_default().push(spec);
    }
    for (group, specs) in by_group {
        let _ = writeln!(out, "### {}\n", group_title(group));
        out.push_str(
            "| Annotation | Tier | Risk | Scope | Status | Notes |\n|---|---|---|---|---|---|\n",
        );
        for spec in specs {
            let mut note = status_note(spec.status).to_owned();
            if let Some(canonical) = spec.alias_of {
                note = format!("alias of `{canonical}`; {note}");
            }
            if spec.canary && spec.group != Group::Canary {
                note = format!("{note}{}honoured on canary Ingresses", sep(&note));
            }
            let _ = writeln!(
                out,
                "| `{}` | {} | {:?} | {:?} | {} | {} |",
                spec.name,
                tier(spec.tier),
                spec.risk,
                spec.scope,
                status_name(spec.status),
                note
            );
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "## sluice annotations (`{}/…`)\n\nSettings ingress-nginx has no annotation for; same processing rules.\n\n| Annotation | Status | What it does |\n|---|---|---|",
        annotations::SLUICE_PREFIX
    );
    for spec in annotations::sluice_registry() {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            spec.name,
            status_name(spec.status),
            annotations::sluice_description(spec.name)
        );
    }
    out.push('\n');
    out.push_str("## ConfigMap keys\n\n");
    let mut by_key_group: BTreeMap<KeyGroup, Vec<&config::KeySpec>> = BTreeMap::new();
    for spec in config::keys() {
        by_key_group.entry(spec.group).or_default().push(spec);
    }
    for (group, specs) in by_key_group {
        let _ = writeln!(out, "### {}\n", key_group_title(group));
        out.push_str("| Key | Tier | Status | Notes |\n|---|---|---|---|\n");
        for spec in specs {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                spec.name,
                tier(spec.tier),
                status_name(spec.status),
                status_note(spec.status)
            );
        }
        out.push('\n');
    }
    out
}

fn sep(note: &str) -> &'static str {
    if note.is_empty() { "" } else { "; " }
}

fn tier(tier: Tier) -> &'static str {
    match tier {
        Tier::T1 => "T1",
        Tier::T2 => "T2",
        Tier::T3 => "T3",
        Tier::Refuse => "refuse",
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Exact => "exact",
        Status::Partial(_) => "partial",
        Status::NoEffect(_) => "no effect",
        Status::Refused(_) => "refused",
    }
}

fn status_note(status: Status) -> &'static str {
    match status {
        Status::Exact => "",
        Status::Partial(s) | Status::NoEffect(s) | Status::Refused(s) => s,
    }
}

fn group_title(group: Group) -> &'static str {
    match group {
        Group::Routing => "Rewrite, redirect and routing",
        Group::Tls => "TLS and client certificates",
        Group::Backend => "Backend protocol, upstream TLS and load balancing",
        Group::Proxy => "Timeouts, retries, buffering and body size",
        Group::Canary => "Canary",
        Group::RateLimit => "Rate limiting",
        Group::Access => "IP allow and deny lists",
        Group::Cors => "CORS",
        Group::Auth => "Authentication",
        Group::Affinity => "Session affinity",
        Group::Headers => "Headers",
        Group::Mirror => "Mirroring",
        Group::Misc => "Logging, tracing, WAF and misc",
        Group::Snippet => "Snippets (raw nginx configuration)",
        Group::Removed => "Removed from ingress-nginx",
    }
}

fn key_group_title(group: KeyGroup) -> &'static str {
    match group {
        KeyGroup::Client => "Client connections and listeners",
        KeyGroup::Upstream => "Upstream connections, timeouts, retries and buffering",
        KeyGroup::Forwarded => "Client IP and forwarded headers",
        KeyGroup::Tls => "TLS, redirects and HSTS",
        KeyGroup::Access => "Errors, access control, rate limits and global auth",
        KeyGroup::Logging => "Logging and observability",
        KeyGroup::Compression => "Compression",
        KeyGroup::Admission => "Admission and policy",
        KeyGroup::Stream => "TCP/UDP stream proxy",
        KeyGroup::Internal => "nginx-internal",
        KeyGroup::Snippet => "Snippets (raw nginx configuration)",
    }
}
