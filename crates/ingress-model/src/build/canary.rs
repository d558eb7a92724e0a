//! Canary Ingresses (`canary: "true"`): not routes of their own. Each of their paths attaches,
//! as [`Canary`], to the main route with the same host and path; the proxy picks between main
//! and canary per request. At most one canary per route (the oldest wins).

use super::Builder;
use super::resolve::Resolved;
use crate::diagnostic::{DiagnosticKind, Severity};
use crate::host::HostPattern;
use crate::objects::{Ingress, IngressBackend};
use crate::table::{Action, Canary, CanaryHeader, CanaryHeaderRule, UpstreamId};

impl Builder<'_> {
    /// Attaches the paths of a canary Ingress to their main routes.
    pub(super) fn add_canary(&mut self, ingress: &Ingress, resolved: &Resolved) {
        let draft = &resolved.canary;
        let header = draft.header.as_ref().map(|name| CanaryHeader {
            name: name.to_ascii_lowercase(),
            rule: match (&draft.header_value, &draft.header_pattern) {
                (Some(value), _) => CanaryHeaderRule::Value(value.clone()),
                (None, Some(pattern)) => CanaryHeaderRule::Pattern(pattern.clone()),
                (None, None) => CanaryHeaderRule::AlwaysNever,
            },
        });
        for (i, rule) in ingress.rules.iter().enumerate() {
            let Ok(host) = HostPattern::parse(rule.host.as_deref()) else {
                let written = rule.host.as_deref().unwrap_or_default();
                if let Err(e) = HostPattern::parse(Some(written)) {
                    let kind = DiagnosticKind::invalid_host(written, &e);
                    let field = format!("spec.rules[{i}].host");
                    self.diagnose(Severity::Error, &ingress.key, &field, kind);
                }
                continue;
            };
            let regex = self.regex_hosts.contains_key(&host);
            for (j, path) in rule.paths.iter().enumerate() {
                let field = format!("spec.rules[{i}].http.paths[{j}]");
                let Some(path_match) = self.path_match(ingress, path, &field, regex) else {
                    continue;
                };
                let IngressBackend::Service { name, port } = &path.backend else {
                    let kind = DiagnosticKind::ResourceBackend("canary".into());
                    self.diagnose(
                        Severity::Error,
                        &ingress.key,
                        &format!("{field}.backend"),
                        kind,
                    );
                    continue;
                };
                let upstream = UpstreamId::new(&ingress.key.namespace, name, port.clone());
                if let Err(kind) = super::backend::check_upstream(self.snapshot, &upstream) {
                    let field = format!("{field}.backend.service");
                    self.diagnose(Severity::Warning, &ingress.key, &field, kind);
                }
                let main = self.hosts.get_mut(&host).and_then(|h| {
                    h.routes.iter_mut().find(|r| {
                        r.path == path_match
                            && r.conditions.is_empty()
                            && matches!(r.action, Action::Forward(_))
                    })
                });
                let Some(main) = main else {
                    let kind = DiagnosticKind::CanaryWithoutMain {
                        host: host.to_string(),
                        path: path_match.to_string(),
                    };
                    self.diagnose(Severity::Warning, &ingress.key, &field, kind);
                    continue;
                };
                let Action::Forward(forward) = &mut main.action else {
                    continue;
                };
                if let Some(existing) = &forward.canary {
                    let kind = DiagnosticKind::CanaryConflict {
                        host: host.to_string(),
                        path: path_match.to_string(),
                        winner: existing.origin.clone(),
                    };
                    self.diagnose(Severity::Warning, &ingress.key, &field, kind);
                    continue;
                }
                forward.canary = Some(Canary {
                    upstream: upstream.clone(),
                    header: header.clone(),
                    cookie: draft.cookie.clone(),
                    weight: draft.weight,
                    weight_total: draft.weight_total,
                    origin: ingress.key.clone(),
                });
                self.claim_upstream(&upstream, &ingress.key, resolved);
            }
        }
    }
}
