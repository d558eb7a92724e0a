//! Conversions from `k8s-openapi` objects into the model's plain input types (feature `k8s`).
//!
//! Both sources (the API server and YAML files) go through these `TryFrom` impls, so there is one
//! definition of how a Kubernetes object reads:
//!
//! | from | into |
//! |---|---|
//! | networking/v1 `Ingress` | [`Ingress`](crate::Ingress) |
//! | `extensions/v1beta1` and `networking.k8s.io/v1beta1` Ingress ([`LegacyIngress`]) | [`Ingress`](crate::Ingress) |
//! | networking/v1 `IngressClass` | [`IngressClass`](crate::IngressClass) |
//! | core/v1 `Service`, `Secret`, `ConfigMap` | [`Service`](crate::Service), [`Secret`](crate::Secret), [`ConfigMap`](crate::ConfigMap) |
//! | discovery/v1 `EndpointSlice` | [`EndpointSlice`](crate::EndpointSlice) |
//! | core/v1 `Endpoints` | one [`EndpointSlice`](crate::EndpointSlice) per subset ([`endpoint_slices_from_endpoints`]) |
//!
//! Rules shared by every conversion:
//! - A namespaced object without `metadata.namespace` (or with an empty one) is in `default`.
//! - `metadata.name` is required.
//! - `metadata.creationTimestamp` becomes Unix seconds.
//! - A field Kubernetes requires but `k8s-openapi` fills with a default when absent (an empty
//!   `pathType`, a backend without service or resource, port 0) is an error naming the field.
//!
//! Conversions never panic; the first problem found is returned as a [`ConversionError`] with the
//! field path in the Kubernetes spelling, e.g. `spec.rules[0].http.paths[1].pathType`.
//!
//! This crate never enables a `k8s-openapi` version feature; the final binary picks one.

mod core_v1;
mod endpoints;
mod ingress;
mod legacy;

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::key::{Kind, ObjectKey, ObjectRef};

pub use endpoints::{SERVICE_NAME_LABEL, endpoint_slices_from_endpoints};
pub use ingress::IS_DEFAULT_CLASS_ANNOTATION;
pub use legacy::{
    LEGACY_INGRESS_API_VERSIONS, LegacyHttpPath, LegacyHttpRule, LegacyIngress,
    LegacyIngressBackend, LegacyIngressRule, LegacyIngressSpec, LegacyIngressTls,
};

/// The namespace of a namespaced object that names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Why an object could not be converted: which object, which field, and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversionError {
    /// The object (its name is empty when `metadata.name` is what is missing).
    pub object: ObjectRef,
    /// The field path, e.g. `spec.rules[0].http.paths[1].pathType`.
    pub field: String,
    /// What is wrong with it.
    pub problem: ConversionProblem,
}

/// What is wrong with a field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConversionProblem {
    /// A field Kubernetes requires is absent or empty.
    #[error("missing required field")]
    Missing,
    /// A `pathType` that is not `Exact`, `Prefix` or `ImplementationSpecific`.
    #[error("unknown pathType {0:?} (expected Exact, Prefix or ImplementationSpecific)")]
    UnknownPathType(String),
    /// A port number outside 1–65535.
    #[error("port number {0} is out of range (1-65535)")]
    PortOutOfRange(i64),
    /// An Ingress backend with neither `service` nor `resource`.
    #[error("backend has neither a service nor a resource")]
    EmptyBackend,
    /// An Ingress backend with both `service` and `resource`.
    #[error("backend has both a service and a resource; exactly one is allowed")]
    AmbiguousBackend,
    /// A Service backend port with both `name` and `number`.
    #[error("port has both a name and a number; exactly one is allowed")]
    AmbiguousPort,
}

/// A field path built on the stack while walking an object; rendered only for an error.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FieldPath<'a> {
    /// The object itself.
    Root,
    /// `parent.key`.
    Key(&'a FieldPath<'a>, &'static str),
    /// `parent[index]`.
    Index(&'a FieldPath<'a>, usize),
}

/// The object being converted, for building errors.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    object: ObjectRef,
}

impl ConversionError {
    /// The same finding as a model [`Diagnostic`] (severity error), for sources that report
    /// conversion failures next to `build`'s diagnostics.
    pub fn diagnostic(&self) -> Diagnostic {
        let what = match &self.problem {
            ConversionProblem::UnknownPathType(found) => {
                DiagnosticKind::UnknownPathType(found.clone())
            }
            other => DiagnosticKind::Malformed(other.to_string()),
        };
        Diagnostic::new(
            Severity::Error,
            self.object.kind,
            &self.object.key,
            &self.field,
            what,
        )
    }
}

impl<'a> FieldPath<'a> {
    /// `self.key`.
    pub(crate) fn key(&'a self, key: &'static str) -> FieldPath<'a> {
        FieldPath::Key(self, key)
    }

    /// `self[index]`.
    pub(crate) fn index(&'a self, index: usize) -> FieldPath<'a> {
        FieldPath::Index(self, index)
    }

    fn render(&self, out: &mut String) {
        match self {
            FieldPath::Root => {}
            FieldPath::Key(parent, key) => {
                parent.render(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            FieldPath::Index(parent, index) => {
                parent.render(out);
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
        }
    }
}

impl Ctx {
    /// A context for an object of `kind` with `key`.
    pub(crate) fn new(kind: Kind, key: ObjectKey) -> Self {
        Self {
            object: ObjectRef::new(kind, key),
        }
    }

    /// An error at `field`.
    pub(crate) fn error(
        &self,
        field: &FieldPath<'_>,
        problem: ConversionProblem,
    ) -> ConversionError {
        let mut rendered = String::new();
        field.render(&mut rendered);
        ConversionError {
            object: self.object.clone(),
            field: rendered,
            problem,
        }
    }

    /// A port number checked into 1–65535.
    pub(crate) fn port(&self, field: &FieldPath<'_>, number: i32) -> Result<u16, ConversionError> {
        match u16::try_from(number) {
            Ok(port) if port != 0 => Ok(port),
            _ => Err(self.error(field, ConversionProblem::PortOutOfRange(i64::from(number)))),
        }
    }

    /// A string Kubernetes requires to be non-empty.
    pub(crate) fn required<'s>(
        &self,
        field: &FieldPath<'_>,
        value: Option<&'s str>,
    ) -> Result<&'s str, ConversionError> {
        match value {
            Some(text) if !text.is_empty() => Ok(text),
            _ => Err(self.error(field, ConversionProblem::Missing)),
        }
    }
}

impl std::error::Error for ConversionError {}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.object.kind)?;
        if self.object.key.name.is_empty() {
            f.write_str(" (unnamed)")?;
        } else {
            write!(f, " {}", self.object.key)?;
        }
        write!(f, ": {}: {}", self.field, self.problem)
    }
}

/// The key of a namespaced object: its namespace (`default` when absent) and required name.
pub(crate) fn namespaced_key(meta: &ObjectMeta, kind: Kind) -> Result<ObjectKey, ConversionError> {
    let namespace = match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => ns,
        _ => DEFAULT_NAMESPACE,
    };
    let name = meta.name.as_deref().unwrap_or_default();
    let key = ObjectKey::new(namespace, name);
    if name.is_empty() {
        let cx = Ctx::new(kind, key);
        let root = FieldPath::Root;
        return Err(cx.error(
            &root.key("metadata").key("name"),
            ConversionProblem::Missing,
        ));
    }
    Ok(key)
}

/// The required name of a cluster-scoped object.
pub(crate) fn cluster_name(meta: &ObjectMeta, kind: Kind) -> Result<String, ConversionError> {
    match meta.name.as_deref() {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => {
            let cx = Ctx::new(kind, ObjectKey::default());
            let root = FieldPath::Root;
            Err(cx.error(
                &root.key("metadata").key("name"),
                ConversionProblem::Missing,
            ))
        }
    }
}

/// `metadata.creationTimestamp` as Unix seconds.
pub(crate) fn created(meta: &ObjectMeta) -> Option<i64> {
    meta.creation_timestamp
        .as_ref()
        .map(|time| time.0.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_field_paths_in_kubernetes_spelling() {
        let root = FieldPath::Root;
        let spec = root.key("spec");
        let rules = spec.key("rules");
        let rule = rules.index(0);
        let paths = rule.key("http");
        let paths = paths.key("paths");
        let path = paths.index(1);
        let field = path.key("pathType");
        let cx = Ctx::new(Kind::Ingress, ObjectKey::new("default", "web"));
        let error = cx.error(&field, ConversionProblem::UnknownPathType("Foo".into()));
        assert_eq!(error.field, "spec.rules[0].http.paths[1].pathType");
        assert_eq!(
            error.to_string(),
            "Ingress default/web: spec.rules[0].http.paths[1].pathType: unknown pathType \"Foo\" \
             (expected Exact, Prefix or ImplementationSpecific)"
        );
        let diagnostic = error.diagnostic();
        assert_eq!(
            diagnostic.kind,
            DiagnosticKind::UnknownPathType("Foo".into())
        );
        assert_eq!(diagnostic.field, "spec.rules[0].http.paths[1].pathType");
        assert_eq!(diagnostic.severity, Severity::Error);
    }

    #[test]
    fn checks_port_range() {
        let cx = Ctx::new(Kind::Service, ObjectKey::new("default", "s"));
        let root = FieldPath::Root;
        assert_eq!(cx.port(&root.key("port"), 80), Ok(80));
        assert_eq!(cx.port(&root.key("port"), 65535), Ok(65535));
        for bad in [0, -1, 65536, i32::MAX, i32::MIN] {
            let error = cx.port(&root.key("port"), bad).unwrap_err();
            assert_eq!(
                error.problem,
                ConversionProblem::PortOutOfRange(i64::from(bad))
            );
            assert_eq!(error.field, "port");
        }
    }

    #[test]
    fn namespace_defaults_and_name_is_required() {
        let meta = ObjectMeta {
            name: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(
            namespaced_key(&meta, Kind::Service),
            Ok(ObjectKey::new("default", "a"))
        );
        let meta = ObjectMeta {
            name: Some("a".into()),
            namespace: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(
            namespaced_key(&meta, Kind::Service),
            Ok(ObjectKey::new("default", "a"))
        );
        let meta = ObjectMeta {
            namespace: Some("ns".into()),
            ..Default::default()
        };
        let error = namespaced_key(&meta, Kind::Service).unwrap_err();
        assert_eq!(error.field, "metadata.name");
        assert_eq!(error.problem, ConversionProblem::Missing);
        assert_eq!(
            error.to_string(),
            "Service (unnamed): metadata.name: missing required field"
        );
        assert!(cluster_name(&ObjectMeta::default(), Kind::IngressClass).is_err());
    }
}
