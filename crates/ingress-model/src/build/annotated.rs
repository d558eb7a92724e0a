//! What annotations add to the builder: parsing and resolving them per Ingress, regex-mode
//! hosts, host-level settings (oldest Ingress wins), per-upstream policies, and the global
//! header ConfigMaps.

use std::sync::Arc;

use super::{Builder, resolve};
use crate::annotations::{self, Finding};
use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::host::HostPattern;
use crate::key::{Kind, ObjectKey};
use crate::objects::{HttpPath, Ingress, IngressBackend};
use crate::policy::{Policy, Settings};
use crate::table::UpstreamId;

impl Builder<'_> {
    pub(super) fn findings(&mut self, key: &ObjectKey, findings: Vec<Finding>) {
        for f in findings {
            self.diagnose(f.severity, key, &f.field, f.kind);
        }
    }

    /// Parses and resolves the annotations of an Ingress; `None` when they reject it.
    pub(super) fn prepare(&mut self, ingress: &Ingress) -> Option<resolve::Resolved> {
        // Without annotations, what an Ingress resolves to depends on its namespace alone
        // (references in the ConfigMap defaults are namespace-relative): resolved once per
        // namespace, unless that reported something or named the Ingress (mTLS origin).
        let plain = !annotations::reads_any(ingress, &self.opts.annotation_prefix);
        if plain && let Some(resolved) = self.plain.get(&ingress.key.namespace) {
            return Some(resolved.clone());
        }
        let ctx = annotations::Context {
            prefix: &self.opts.annotation_prefix,
            snippets: self.opts.snippet_policy,
            admission: &self.config.settings.admission,
            base: &self.config.base,
        };
        let parsed = annotations::parse_ingress(ingress, &ctx);
        let parse_quiet = parsed.findings.is_empty();
        self.findings(&ingress.key, parsed.findings);
        if parsed.rejected {
            return None;
        }
        let mut findings = Vec::new();
        let mut resolved = resolve::resolve(
            ingress,
            parsed.draft,
            self.snapshot,
            &self.config.settings,
            &mut findings,
        );
        let quiet = findings.is_empty() && parse_quiet;
        self.findings(&ingress.key, findings);
        resolved.policy = self.share_policy(resolved.policy);
        if plain && quiet && resolved.host.client_auth.is_none() {
            self.plain
                .insert(ingress.key.namespace.clone(), resolved.clone());
        }
        Some(resolved)
    }

    /// An equal policy resolved before, if one of the first few distinct ones is: Ingresses
    /// with the same annotations resolve equal policies (about 1.4 KB each), and a table keeps
    /// them for as long as it lives.
    fn share_policy(&mut self, policy: Arc<Policy>) -> Arc<Policy> {
        const SHARED: usize = 16;
        if let Some(same) = self.policies.iter().find(|p| **p == policy) {
            return same.clone();
        }
        if self.policies.len() < SHARED {
            self.policies.push(policy.clone());
        }
        policy
    }

    /// Records the hosts in regex mode and the (oldest) Ingress that switched each.
    pub(super) fn mark_regex_hosts(&mut self, accepted: &[(&Ingress, resolve::Resolved)]) {
        for (ingress, resolved) in accepted {
            if !resolved.regex || resolved.canary.enabled {
                continue;
            }
            for rule in &ingress.rules {
                if let Ok(host) = HostPattern::parse(rule.host.as_deref()) {
                    self.regex_hosts
                        .entry(host)
                        .or_insert_with(|| ingress.key.clone());
                }
            }
        }
    }

    /// The policy of an Ingress's routes on one host: its own, or with the host's
    /// `proxy-ssl-*` when it sets none itself (unless `proxy-ssl-location-only`).
    pub(super) fn host_route_policy(
        &self,
        host: &HostPattern,
        resolved: &resolve::Resolved,
    ) -> Arc<Policy> {
        if resolved.own_upstream_tls || self.config.settings.upstream.proxy_ssl_location_only {
            return resolved.policy.clone();
        }
        match self
            .host_states
            .get(host)
            .and_then(|s| s.upstream_tls.as_ref())
        {
            Some((tls, _)) => {
                let mut policy = (*resolved.policy).clone();
                policy.upstream_tls = Some(tls.clone());
                Arc::new(policy)
            }
            None => resolved.policy.clone(),
        }
    }

    /// Applies an Ingress's upstream policy to an upstream it uses: the oldest Ingress that
    /// sets upstream annotations keeps it; a different later one is reported.
    pub(super) fn claim_upstream(
        &mut self,
        id: &UpstreamId,
        ingress: &ObjectKey,
        resolved: &resolve::Resolved,
    ) {
        let explicit = !resolved.upstream_set.is_empty();
        match self.upstream_policies.get_mut(id) {
            None => {
                let owner = explicit.then(|| ingress.clone());
                self.upstream_policies
                    .insert(id.clone(), (resolved.upstream.clone(), owner));
            }
            Some((policy, owner)) => {
                if !explicit {
                    return;
                }
                match owner {
                    None => {
                        *policy = resolved.upstream.clone();
                        *owner = Some(ingress.clone());
                    }
                    Some(winner) if winner != ingress && *policy != resolved.upstream => {
                        let kind = DiagnosticKind::UpstreamConflict {
                            upstream: id.to_string(),
                            settings: resolved.upstream_set.join(", "),
                            winner: winner.clone(),
                        };
                        self.diagnose(Severity::Warning, ingress, "metadata.annotations", kind);
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// Merges an Ingress's host-level settings into its host (oldest wins).
    pub(super) fn merge_host(
        &mut self,
        host: &HostPattern,
        ingress: &Ingress,
        resolved: &resolve::Resolved,
        first_path: Option<&HttpPath>,
    ) {
        // A host nobody sets anything on keeps no state: at 10k hosts the states alone were
        // more memory than the table being built.
        if *host == HostPattern::Any || resolved.host.sets_nothing() {
            return;
        }
        let target = first_path.and_then(|p| match &p.backend {
            IngressBackend::Service { name, port } => {
                Some(UpstreamId::new(&ingress.key.namespace, name, port.clone()))
            }
            IngressBackend::Resource { .. } => None,
        });
        let state = self.host_states.entry(host.clone()).or_default();
        let conflicts = state.merge(
            &ingress.key,
            &resolved.host,
            target.as_ref(),
            resolved.policy.redirects.code,
        );
        for (setting, winner) in conflicts {
            let kind = DiagnosticKind::HostConflict {
                host: host.to_string(),
                setting,
                winner,
            };
            self.diagnose(
                Severity::Warning,
                &ingress.key,
                "metadata.annotations",
                kind,
            );
        }
    }

    /// The global settings with the `proxy-set-headers` / `add-headers` ConfigMaps read.
    pub(super) fn settings(&mut self) -> Settings {
        let mut settings = self.config.settings.clone();
        let refs = [
            (
                "proxy-set-headers",
                self.config.proxy_set_headers.clone(),
                true,
            ),
            ("add-headers", self.config.add_headers.clone(), false),
        ];
        for (setting, key, request) in refs {
            let Some(key) = key else { continue };
            match self.snapshot.config_maps.get(&key) {
                Some(map) if request => settings.forwarded.request_headers = map.data.clone(),
                Some(map) => settings.forwarded.response_headers = map.data.clone(),
                None => {
                    let config = self.opts.controller_config.clone().unwrap_or_default();
                    self.diagnostics.push(Diagnostic::new(
                        Severity::Warning,
                        Kind::ConfigMap,
                        &config,
                        format!("data.{setting}"),
                        DiagnosticKind::Reference {
                            reference: format!("ConfigMap ({setting})"),
                            key,
                            reason: "not found; no headers are added".into(),
                        },
                    ));
                }
            }
        }
        settings
    }
}
