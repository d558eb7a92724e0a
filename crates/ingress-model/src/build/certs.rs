//! TLS certificates of hosts: binding `spec.tls` entries to hosts (oldest Ingress wins),
//! loading each Secret once per build, and the default certificate.

use std::collections::BTreeSet;

use super::{Builder, tls};
use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::host::HostPattern;
use crate::key::{Kind, ObjectKey};
use crate::objects::Ingress;
use crate::table::HostTls;

impl Builder<'_> {
    pub(super) fn add_tls(&mut self, ingress: &Ingress, rule_hosts: &[HostPattern]) {
        let mut listed = BTreeSet::new();
        let mut entry_certs = Vec::new();
        for (k, entry) in ingress.tls.iter().enumerate() {
            let certificate = entry
                .secret_name
                .as_deref()
                .filter(|s| !s.is_empty())
                .and_then(|name| {
                    self.certificate(ingress, name, &format!("spec.tls[{k}].secretName"))
                });
            entry_certs.push(certificate.clone());
            for (m, written) in entry.hosts.iter().enumerate() {
                let host = match HostPattern::parse(Some(written)) {
                    Ok(HostPattern::Any) => continue,
                    Ok(host) => host,
                    Err(e) => {
                        let field = format!("spec.tls[{k}].hosts[{m}]");
                        self.diagnose(
                            Severity::Error,
                            &ingress.key,
                            &field,
                            DiagnosticKind::invalid_host(written, &e),
                        );
                        continue;
                    }
                };
                listed.insert(host.clone());
                self.bind_tls(
                    ingress,
                    host,
                    certificate.clone(),
                    &format!("spec.tls[{k}]"),
                );
            }
        }
        // ingress-nginx: a rule host no entry lists still gets TLS from a certificate of this
        // Ingress that covers it.
        for host in rule_hosts
            .iter()
            .filter(|h| **h != HostPattern::Any && !listed.contains(*h))
        {
            let covering = entry_certs.iter().enumerate().find_map(|(k, cert)| {
                let key = cert.as_ref()?;
                let covers = self
                    .certificates
                    .get(key)?
                    .as_ref()
                    .ok()?
                    .names
                    .iter()
                    .any(|n| host.covered_by_certificate_name(n));
                covers.then(|| (k, key.clone()))
            });
            if let Some((k, key)) = covering {
                self.bind_tls(ingress, host.clone(), Some(key), &format!("spec.tls[{k}]"));
            }
        }
    }

    pub(super) fn bind_tls(
        &mut self,
        ingress: &Ingress,
        host: HostPattern,
        certificate: Option<ObjectKey>,
        field: &str,
    ) {
        if let Some(existing) = self.tls.get(&host) {
            if existing.origin != ingress.key && existing.certificate != certificate {
                let kind = DiagnosticKind::TlsConflict {
                    host: host.to_string(),
                    winner: existing.origin.clone(),
                };
                self.diagnose(Severity::Warning, &ingress.key, field, kind);
            }
            return;
        }
        let certificate = certificate.filter(|key| {
            let covers = self
                .certificates
                .get(key)
                .and_then(|c| c.as_ref().ok())
                .is_some_and(|c| c.names.iter().any(|n| host.covered_by_certificate_name(n)));
            if !covers {
                let kind = DiagnosticKind::CertificateHostMismatch {
                    secret: key.clone(),
                    host: host.to_string(),
                };
                self.diagnose(Severity::Warning, &ingress.key, field, kind);
            }
            covers
        });
        self.tls.insert(
            host,
            HostTls {
                certificate,
                origin: ingress.key.clone(),
            },
        );
    }

    /// The usable certificate of a Secret in the Ingress namespace, reporting why not.
    pub(super) fn certificate(
        &mut self,
        ingress: &Ingress,
        name: &str,
        field: &str,
    ) -> Option<ObjectKey> {
        let key = ObjectKey::new(&ingress.key.namespace, name);
        match self.load_certificate(&key) {
            Ok(not_after) => {
                if self.opts.now.is_some_and(|now| now > not_after) {
                    self.diagnose(
                        Severity::Warning,
                        &ingress.key,
                        field,
                        DiagnosticKind::CertificateExpired {
                            secret: key.clone(),
                            not_after,
                        },
                    );
                }
                Some(key)
            }
            Err(kind) => {
                self.diagnose(Severity::Warning, &ingress.key, field, kind);
                None
            }
        }
    }

    /// Parses a TLS Secret once per build; returns its `notAfter`.
    pub(super) fn load_certificate(&mut self, key: &ObjectKey) -> Result<i64, DiagnosticKind> {
        let Some(secret) = self.snapshot.secrets.get(key) else {
            return Err(DiagnosticKind::TlsSecretNotFound(key.clone()));
        };
        let parsed = self
            .certificates
            .entry(key.clone())
            .or_insert_with(|| tls::parse_tls_secret(secret));
        parsed.as_ref().map(|c| c.not_after).map_err(Clone::clone)
    }

    pub(super) fn default_certificate(&mut self) -> Option<ObjectKey> {
        let key = self.opts.default_certificate.clone()?;
        match self.load_certificate(&key) {
            Ok(_) => Some(key),
            Err(kind) => {
                self.diagnostics.push(Diagnostic::new(
                    Severity::Warning,
                    Kind::Secret,
                    &key,
                    "--default-ssl-certificate",
                    kind,
                ));
                None
            }
        }
    }
}
