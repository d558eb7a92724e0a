//! The legacy Ingress shapes, `extensions/v1beta1` and `networking.k8s.io/v1beta1` (removed in
//! Kubernetes 1.22), as own serde types, and their conversion into the model [`Ingress`].
//!
//! Differences from v1: a backend is `serviceName` + `servicePort` (a number or a port name)
//! instead of `service: {name, port}`, the catch-all backend is `spec.backend` instead of
//! `spec.defaultBackend`, and `pathType` is optional (absent means `ImplementationSpecific`).
//! A source that reads one should also report [`LegacyIngress::diagnostic`].

use k8s_openapi::api::core::v1::TypedLocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;

use super::ingress::{non_empty, parse_path_type, resource, tls_entry};
use super::{ConversionError, ConversionProblem, Ctx, FieldPath, created, namespaced_key};
use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::key::{Kind, ObjectKey};
use crate::objects::{HttpPath, Ingress, IngressBackend, IngressRule, PortRef};

/// The apiVersions that carry the legacy Ingress shape.
pub const LEGACY_INGRESS_API_VERSIONS: [&str; 2] =
    ["extensions/v1beta1", "networking.k8s.io/v1beta1"];

/// A legacy (`v1beta1`) Ingress as written in YAML or JSON.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyIngress {
    /// `apiVersion`, e.g. `extensions/v1beta1`.
    pub api_version: String,
    /// `kind` (`Ingress`).
    pub kind: String,
    /// `metadata`.
    pub metadata: ObjectMeta,
    /// `spec`.
    pub spec: Option<LegacyIngressSpec>,
}

/// A legacy Ingress `spec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyIngressSpec {
    /// `backend`: the catch-all backend (v1 `defaultBackend`).
    pub backend: Option<LegacyIngressBackend>,
    /// `ingressClassName` (networking.k8s.io/v1beta1 only).
    pub ingress_class_name: Option<String>,
    /// `rules`.
    pub rules: Option<Vec<LegacyIngressRule>>,
    /// `tls`.
    pub tls: Option<Vec<LegacyIngressTls>>,
}

/// A legacy backend: `serviceName` + `servicePort`, or a `resource`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyIngressBackend {
    /// `serviceName`.
    pub service_name: Option<String>,
    /// `servicePort`: a number, or a port name.
    pub service_port: Option<IntOrString>,
    /// `resource`.
    pub resource: Option<TypedLocalObjectReference>,
}

/// A legacy `spec.rules` entry.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyIngressRule {
    /// `host`.
    pub host: Option<String>,
    /// `http`.
    pub http: Option<LegacyHttpRule>,
}

/// A legacy `http` rule value.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyHttpRule {
    /// `paths`.
    pub paths: Vec<LegacyHttpPath>,
}

/// A legacy `http.paths` entry.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyHttpPath {
    /// `path`.
    pub path: Option<String>,
    /// `pathType`; optional in v1beta1.
    pub path_type: Option<String>,
    /// `backend`.
    pub backend: LegacyIngressBackend,
}

/// A legacy `spec.tls` entry (same shape as v1).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LegacyIngressTls {
    /// `hosts`.
    pub hosts: Option<Vec<String>>,
    /// `secretName`.
    pub secret_name: Option<String>,
}

impl LegacyIngress {
    /// The warning a source reports for this object: it was read through a deprecated
    /// apiVersion and converted. Its key follows the conversion's rules (namespace `default`
    /// when absent).
    pub fn diagnostic(&self) -> Diagnostic {
        let namespace = match self.metadata.namespace.as_deref() {
            Some(ns) if !ns.is_empty() => ns,
            _ => super::DEFAULT_NAMESPACE,
        };
        let key = ObjectKey::new(namespace, self.metadata.name.as_deref().unwrap_or_default());
        Diagnostic::new(
            Severity::Warning,
            Kind::Ingress,
            &key,
            "apiVersion",
            DiagnosticKind::LegacyApiVersion(self.api_version.clone()),
        )
    }
}

impl TryFrom<&LegacyIngress> for Ingress {
    type Error = ConversionError;

    fn try_from(object: &LegacyIngress) -> Result<Self, ConversionError> {
        let key = namespaced_key(&object.metadata, Kind::Ingress)?;
        let cx = Ctx::new(Kind::Ingress, key.clone());
        let mut ingress = Ingress {
            key,
            created: created(&object.metadata),
            annotations: object.metadata.annotations.clone().unwrap_or_default(),
            ..Ingress::default()
        };
        let Some(spec) = &object.spec else {
            return Ok(ingress);
        };
        let root = FieldPath::Root;
        let spec_field = root.key("spec");
        ingress.class_name = non_empty(spec.ingress_class_name.as_deref());
        if let Some(default_backend) = &spec.backend {
            ingress.default_backend =
                Some(backend(&cx, &spec_field.key("backend"), default_backend)?);
        }
        ingress.tls = spec
            .tls
            .iter()
            .flatten()
            .map(|tls| tls_entry(&tls.hosts, &tls.secret_name))
            .collect();
        let rules_field = spec_field.key("rules");
        for (i, rule) in spec.rules.iter().flatten().enumerate() {
            let rule_field = rules_field.index(i);
            let http_field = rule_field.key("http");
            let paths_field = http_field.key("paths");
            let mut paths = Vec::new();
            for (j, path) in rule.http.iter().flat_map(|http| &http.paths).enumerate() {
                let path_field = paths_field.index(j);
                let path_type = match non_empty(path.path_type.as_deref()) {
                    Some(text) => Some(parse_path_type(&cx, &path_field.key("pathType"), &text)?),
                    None => None,
                };
                let backend = backend(&cx, &path_field.key("backend"), &path.backend)?;
                paths.push(HttpPath {
                    path: path.path.clone(),
                    path_type,
                    backend,
                });
            }
            ingress.rules.push(IngressRule {
                host: rule.host.clone(),
                paths,
            });
        }
        Ok(ingress)
    }
}

/// A legacy backend: exactly one of `serviceName` (with `servicePort`) and `resource`.
fn backend(
    cx: &Ctx,
    field: &FieldPath<'_>,
    backend: &LegacyIngressBackend,
) -> Result<IngressBackend, ConversionError> {
    let service_name = non_empty(backend.service_name.as_deref());
    match (service_name, &backend.resource) {
        (Some(_), Some(_)) => Err(cx.error(field, ConversionProblem::AmbiguousBackend)),
        (None, None) => Err(cx.error(field, ConversionProblem::EmptyBackend)),
        (None, Some(reference)) => resource(cx, &field.key("resource"), reference),
        (Some(name), None) => {
            let port_field = field.key("servicePort");
            let port = match &backend.service_port {
                Some(IntOrString::Int(number)) => PortRef::Number(cx.port(&port_field, *number)?),
                Some(IntOrString::String(port_name)) if !port_name.is_empty() => {
                    PortRef::Name(port_name.clone())
                }
                _ => return Err(cx.error(&port_field, ConversionProblem::Missing)),
            };
            Ok(IngressBackend::Service { name, port })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::objects::PathType;

    fn legacy(value: serde_json::Value) -> LegacyIngress {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn converts_service_name_and_service_port_by_number_and_name() {
        let object = legacy(json!({
            "apiVersion": "extensions/v1beta1",
            "kind": "Ingress",
            "metadata": {"name": "old", "creationTimestamp": "1970-01-01T00:01:40Z"},
            "spec": {
                "backend": {"serviceName": "fallback", "servicePort": "http"},
                "tls": [{"hosts": ["a.example"], "secretName": "tls"}],
                "rules": [{"host": "a.example", "http": {"paths": [
                    {"path": "/a", "backend": {"serviceName": "a", "servicePort": 80}},
                    {"path": "/b", "pathType": "Exact", "backend": {"serviceName": "b", "servicePort": "web"}}
                ]}}]
            }
        }));
        let ingress = Ingress::try_from(&object).unwrap();
        assert_eq!(ingress.key, ObjectKey::new("default", "old"));
        assert_eq!(ingress.created, Some(100));
        assert_eq!(
            ingress.default_backend,
            Some(IngressBackend::Service {
                name: "fallback".into(),
                port: PortRef::Name("http".into())
            })
        );
        assert_eq!(ingress.tls[0].secret_name.as_deref(), Some("tls"));
        let paths = &ingress.rules[0].paths;
        assert_eq!(paths[0].path_type, None);
        assert_eq!(
            paths[0].backend,
            IngressBackend::Service {
                name: "a".into(),
                port: PortRef::Number(80)
            }
        );
        assert_eq!(paths[1].path_type, Some(PathType::Exact));
        assert_eq!(
            paths[1].backend,
            IngressBackend::Service {
                name: "b".into(),
                port: PortRef::Name("web".into())
            }
        );

        let diagnostic = object.diagnostic();
        assert_eq!(
            diagnostic.kind,
            DiagnosticKind::LegacyApiVersion("extensions/v1beta1".into())
        );
        assert_eq!(diagnostic.severity, Severity::Warning);
        assert_eq!(diagnostic.object.key, ObjectKey::new("default", "old"));
    }

    #[test]
    fn names_the_field_of_each_legacy_error() {
        let error_of = |path: serde_json::Value| {
            let object = legacy(json!({
                "apiVersion": "networking.k8s.io/v1beta1",
                "metadata": {"name": "old", "namespace": "ns"},
                "spec": {"rules": [{"http": {"paths": [path]}}]}
            }));
            let error = Ingress::try_from(&object).unwrap_err();
            (error.field, error.problem)
        };
        assert_eq!(
            error_of(json!({"backend": {"serviceName": "a"}})),
            (
                "spec.rules[0].http.paths[0].backend.servicePort".into(),
                ConversionProblem::Missing
            )
        );
        assert_eq!(
            error_of(json!({"backend": {"serviceName": "a", "servicePort": 65536}})),
            (
                "spec.rules[0].http.paths[0].backend.servicePort".into(),
                ConversionProblem::PortOutOfRange(65536)
            )
        );
        assert_eq!(
            error_of(json!({"backend": {"servicePort": 80}})),
            (
                "spec.rules[0].http.paths[0].backend".into(),
                ConversionProblem::EmptyBackend
            )
        );
        assert_eq!(
            error_of(
                json!({"pathType": "Regex", "backend": {"serviceName": "a", "servicePort": 80}})
            ),
            (
                "spec.rules[0].http.paths[0].pathType".into(),
                ConversionProblem::UnknownPathType("Regex".into())
            )
        );
        let object = legacy(json!({"spec": {"backend": {"resource": {"kind": "K", "name": "n"}}}}));
        assert_eq!(
            Ingress::try_from(&object).unwrap_err().field,
            "metadata.name"
        );
    }

    #[test]
    fn legacy_resource_backend_converts() {
        let object = legacy(json!({
            "metadata": {"name": "r"},
            "spec": {"backend": {"resource": {"kind": "Bucket", "name": "b"}}}
        }));
        let ingress = Ingress::try_from(&object).unwrap();
        assert_eq!(
            ingress.default_backend,
            Some(IngressBackend::Resource {
                api_group: None,
                kind: "Bucket".into(),
                name: "b".into()
            })
        );
    }
}
