//! Diagnostics: what `build` could not serve as written, naming the object, the field and why.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::host::HostError;
use crate::key::{Kind, ObjectKey, ObjectRef};
use crate::objects::PortRef;
use crate::path::PathError;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The object, or the part named by the field, is not served.
    Error,
    /// Served, but not as written (a fallback applies).
    Warning,
    /// Served as written; worth knowing.
    Info,
}

/// One finding about one object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// How serious.
    pub severity: Severity,
    /// The object concerned.
    pub object: ObjectRef,
    /// The field path within the object, e.g. `spec.rules[0].host`.
    pub field: String,
    /// What is wrong.
    pub kind: DiagnosticKind,
}

/// What a diagnostic says.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// A rule host that is not a valid host name or wildcard.
    #[error("invalid host {host:?}: {reason}")]
    InvalidHost {
        /// The host as written.
        host: String,
        /// Why.
        reason: String,
    },
    /// A path that is not valid for its pathType.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as written.
        path: String,
        /// Why.
        reason: String,
    },
    /// A pathType value sluice does not know.
    #[error("unknown pathType {0:?}")]
    UnknownPathType(String),
    /// A `resource` backend, which sluice cannot serve.
    #[error("resource backends ({0}) are not supported; only Service backends are served")]
    ResourceBackend(String),
    /// The backend Service does not exist; its route answers 503.
    #[error("Service {0} not found; requests to this path get 503")]
    ServiceNotFound(ObjectKey),
    /// The backend Service has no such port; its route answers 503.
    #[error("Service {service} has no port {port}; requests to this path get 503")]
    ServicePortNotFound {
        /// The Service.
        service: ObjectKey,
        /// The port as written.
        port: PortRef,
    },
    /// An ExternalName Service, which is not resolved; its route answers 503.
    #[error("Service {0} is of type ExternalName, which is not supported; requests get 503")]
    ExternalNameService(ObjectKey),
    /// The TLS Secret does not exist: the default certificate is served.
    #[error("TLS Secret {0} not found; serving the default certificate")]
    TlsSecretNotFound(ObjectKey),
    /// The Secret is not of type `kubernetes.io/tls`: the default certificate is served.
    #[error(
        "Secret {secret} has type {found:?} and no tls.crt or tls.key; serving the default certificate"
    )]
    TlsSecretWrongType {
        /// The Secret.
        secret: ObjectKey,
        /// Its type.
        found: String,
    },
    /// The TLS Secret's data cannot be used: the default certificate is served.
    #[error("TLS Secret {secret} is unusable: {reason}; serving the default certificate")]
    TlsSecretInvalid {
        /// The Secret.
        secret: ObjectKey,
        /// Why.
        reason: String,
    },
    /// The certificate does not cover the host: the default certificate is served for it.
    #[error(
        "certificate in Secret {secret} does not cover host {host}; serving the default certificate"
    )]
    CertificateHostMismatch {
        /// The Secret.
        secret: ObjectKey,
        /// The host.
        host: String,
    },
    /// The certificate has expired (it is still served, as by ingress-nginx).
    #[error("certificate in Secret {secret} expired at Unix time {not_after}")]
    CertificateExpired {
        /// The Secret.
        secret: ObjectKey,
        /// Its `notAfter`.
        not_after: i64,
    },
    /// Another Ingress already serves this host and path; the older one wins.
    #[error(
        "host {host:?} path {path} is already served by Ingress {winner}; this rule is ignored"
    )]
    Conflict {
        /// The host.
        host: String,
        /// The path match.
        path: String,
        /// The Ingress that keeps it.
        winner: ObjectKey,
    },
    /// The TLS settings of a host come from an older Ingress; these are ignored.
    #[error(
        "TLS for host {host:?} is already configured by Ingress {winner}; this entry is ignored"
    )]
    TlsConflict {
        /// The host.
        host: String,
        /// The Ingress that keeps it.
        winner: ObjectKey,
    },
    /// A catch-all default backend is already set by an older Ingress or the controller.
    #[error("the catch-all default backend is already set by {winner}; this one is ignored")]
    DefaultBackendConflict {
        /// Who keeps it.
        winner: String,
    },
    /// The object was written in a deprecated API version and converted.
    #[error(
        "apiVersion {0} is deprecated (removed in Kubernetes 1.22); converted to networking.k8s.io/v1"
    )]
    LegacyApiVersion(String),
    /// An annotation value is invalid: the whole Ingress is rejected, as by ingress-nginx.
    #[error(
        "annotation {annotation} has invalid value {value:?}: {reason}; the Ingress is not served"
    )]
    InvalidAnnotation {
        /// Full annotation key.
        annotation: String,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
    /// An annotation under the prefix that sluice does not know.
    #[error("unknown annotation {0}; ignored")]
    UnknownAnnotation(String),
    /// A known annotation or key that has no effect in sluice.
    #[error("{0} has no effect in sluice")]
    NoEffect(String),
    /// A snippet annotation: raw nginx configuration is never honoured.
    #[error("annotation {annotation} carries raw nginx configuration, which sluice never applies{}", if *.rejected { "; the Ingress is not served (set --snippet-annotations=ignore to serve it without the snippet)" } else { "; ignored" })]
    Snippet {
        /// Full annotation key.
        annotation: String,
        /// Whether the Ingress was rejected for it.
        rejected: bool,
    },
    /// A controller setting (flag or ConfigMap key) is invalid.
    #[error("{setting} has invalid value {value:?}: {reason}")]
    InvalidSetting {
        /// The flag or key.
        setting: String,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
    /// The Ingress's class is not ours; it is left to another controller.
    #[error("class {0:?} is not handled by this controller; ignored")]
    NotOurClass(String),
    /// An alias annotation is ignored because its canonical name is set too.
    #[error("annotation {alias} is ignored: {canonical} is set too and wins")]
    AliasShadowed {
        /// The alias key.
        alias: String,
        /// The canonical key.
        canonical: String,
    },
    /// A ConfigMap key sluice does not know.
    #[error("unknown ConfigMap key {0}; ignored")]
    UnknownSetting(String),
    /// A value is accepted but cannot be honoured completely.
    #[error("{0}")]
    Unsupported(String),
    /// The routes of this Ingress fail closed: every request gets 503.
    #[error("{reason}; requests to this Ingress's paths get 503")]
    FailClosed {
        /// Why.
        reason: String,
    },
    /// A referenced Secret or ConfigMap is missing or unusable (not an auth one).
    #[error("{reference} {key}: {reason}")]
    Reference {
        /// `Secret` or `ConfigMap` and the annotation or key naming it.
        reference: String,
        /// The object.
        key: ObjectKey,
        /// What is wrong and what happens instead.
        reason: String,
    },
    /// The host is in regex mode because of another Ingress: paths are case-insensitive,
    /// start-anchored regexes.
    #[error(
        "host {host:?} is in regex mode (use-regex or rewrite-target on Ingress {cause}): path {path:?} is matched as the case-insensitive regex ^{path}"
    )]
    RegexMode {
        /// The host.
        host: String,
        /// The path as written.
        path: String,
        /// The Ingress that switched the host.
        cause: ObjectKey,
    },
    /// A canary Ingress whose host and path no main Ingress serves.
    #[error(
        "canary for host {host:?} path {path:?} has no main Ingress serving that host and path; ignored"
    )]
    CanaryWithoutMain {
        /// The host.
        host: String,
        /// The path.
        path: String,
    },
    /// Another canary already attaches to this host and path (at most one per route).
    #[error("host {host:?} path {path:?} already has the canary of Ingress {winner}; ignored")]
    CanaryConflict {
        /// The host.
        host: String,
        /// The path.
        path: String,
        /// The Ingress whose canary is kept.
        winner: ObjectKey,
    },
    /// An upstream is already configured differently by an older Ingress.
    #[error(
        "upstream {upstream} is already configured ({settings}) by Ingress {winner}; this Ingress's settings for it are ignored"
    )]
    UpstreamConflict {
        /// The upstream name.
        upstream: String,
        /// The annotations concerned.
        settings: String,
        /// The Ingress that keeps it.
        winner: ObjectKey,
    },
    /// A host-level setting is already taken by an older Ingress.
    #[error("{setting} for host {host:?} is already set by Ingress {winner}; ignored")]
    HostConflict {
        /// The host.
        host: String,
        /// The setting.
        setting: String,
        /// The Ingress that keeps it.
        winner: ObjectKey,
    },
    /// An object could not be read at all (e.g. a malformed field in a source conversion).
    #[error("{0}")]
    Malformed(String),
}

impl DiagnosticKind {
    /// A short stable code for machines (`invalid_host`, `conflict`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidHost { .. } => "invalid_host",
            Self::InvalidPath { .. } => "invalid_path",
            Self::UnknownPathType(_) => "unknown_path_type",
            Self::ResourceBackend(_) => "resource_backend",
            Self::ServiceNotFound(_) => "service_not_found",
            Self::ServicePortNotFound { .. } => "service_port_not_found",
            Self::ExternalNameService(_) => "external_name_service",
            Self::TlsSecretNotFound(_) => "tls_secret_not_found",
            Self::TlsSecretWrongType { .. } => "tls_secret_wrong_type",
            Self::TlsSecretInvalid { .. } => "tls_secret_invalid",
            Self::CertificateHostMismatch { .. } => "certificate_host_mismatch",
            Self::CertificateExpired { .. } => "certificate_expired",
            Self::Conflict { .. } => "conflict",
            Self::TlsConflict { .. } => "tls_conflict",
            Self::DefaultBackendConflict { .. } => "default_backend_conflict",
            Self::LegacyApiVersion(_) => "legacy_api_version",
            Self::InvalidAnnotation { .. } => "invalid_annotation",
            Self::UnknownAnnotation(_) => "unknown_annotation",
            Self::NoEffect(_) => "no_effect",
            Self::Snippet { .. } => "snippet",
            Self::InvalidSetting { .. } => "invalid_setting",
            Self::NotOurClass(_) => "not_our_class",
            Self::AliasShadowed { .. } => "alias_shadowed",
            Self::UnknownSetting(_) => "unknown_setting",
            Self::Unsupported(_) => "unsupported",
            Self::FailClosed { .. } => "fail_closed",
            Self::Reference { .. } => "reference",
            Self::RegexMode { .. } => "regex_mode",
            Self::CanaryWithoutMain { .. } => "canary_without_main",
            Self::CanaryConflict { .. } => "canary_conflict",
            Self::UpstreamConflict { .. } => "upstream_conflict",
            Self::HostConflict { .. } => "host_conflict",
            Self::Malformed(_) => "malformed",
        }
    }

    /// A host error as a diagnostic.
    pub fn invalid_host(host: &str, reason: &HostError) -> Self {
        Self::InvalidHost {
            host: host.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// A path error as a diagnostic.
    pub fn invalid_path(path: &str, reason: &PathError) -> Self {
        Self::InvalidPath {
            path: path.to_owned(),
            reason: reason.to_string(),
        }
    }
}

impl Diagnostic {
    /// A diagnostic about an object.
    pub fn new(
        severity: Severity,
        kind: Kind,
        key: &ObjectKey,
        field: impl Into<String>,
        what: DiagnosticKind,
    ) -> Self {
        Self {
            severity,
            object: ObjectRef::new(kind, key.clone()),
            field: field.into(),
            kind: what,
        }
    }

    /// Whether this concerns the given Ingress.
    pub fn concerns_ingress(&self, key: &ObjectKey) -> bool {
        self.object.kind == Kind::Ingress && self.object.key == *key
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        })
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.object)?;
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl Serialize for Diagnostic {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Diagnostic", 7)?;
        s.serialize_field("severity", &self.severity)?;
        s.serialize_field("kind", &self.object.kind)?;
        s.serialize_field("namespace", &self.object.key.namespace)?;
        s.serialize_field("name", &self.object.key.name)?;
        s.serialize_field("field", &self.field)?;
        s.serialize_field("code", self.kind.code())?;
        s.serialize_field("message", &self.kind.to_string())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_on_one_line_with_object_and_field() {
        let d = Diagnostic::new(
            Severity::Error,
            Kind::Ingress,
            &ObjectKey::new("default", "web"),
            "spec.rules[0].host",
            DiagnosticKind::invalid_host("a..b", &HostError::InvalidLabel(String::new())),
        );
        let text = d.to_string();
        assert!(
            text.starts_with(
                "error: Ingress default/web: spec.rules[0].host: invalid host \"a..b\""
            ),
            "{text}"
        );
        assert!(!text.contains('\n'));
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["code"], "invalid_host");
        assert_eq!(json["kind"], "Ingress");
        assert_eq!(json["field"], "spec.rules[0].host");
    }
}
