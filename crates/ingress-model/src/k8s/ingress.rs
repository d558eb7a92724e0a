//! networking/v1 `Ingress` and `IngressClass` into the model, and the backend and pathType
//! readers the legacy shapes share.

use k8s_openapi::api::core::v1::TypedLocalObjectReference;
use k8s_openapi::api::networking::v1 as net;

use super::{
    ConversionError, ConversionProblem, Ctx, FieldPath, cluster_name, created, namespaced_key,
};
use crate::key::{Kind, ObjectKey};
use crate::objects::{
    HttpPath, Ingress, IngressBackend, IngressClass, IngressRule, IngressTls, PathType, PortRef,
};

/// The annotation that marks an IngressClass as the cluster default (value `"true"`).
pub const IS_DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

impl TryFrom<&net::Ingress> for Ingress {
    type Error = ConversionError;

    fn try_from(object: &net::Ingress) -> Result<Self, ConversionError> {
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
        if let Some(default_backend) = &spec.default_backend {
            let field = spec_field.key("defaultBackend");
            ingress.default_backend = Some(backend(&cx, &field, default_backend)?);
        }
        ingress.tls = spec
            .tls
            .iter()
            .flatten()
            .map(|tls| tls_entry(&tls.hosts, &tls.secret_name))
            .collect();
        let rules_field = spec_field.key("rules");
        // Sized exactly: a snapshot holds every Ingress for as long as it lives.
        ingress.rules = Vec::with_capacity(spec.rules.as_ref().map_or(0, Vec::len));
        for (i, rule) in spec.rules.iter().flatten().enumerate() {
            let rule_field = rules_field.index(i);
            let http_field = rule_field.key("http");
            let paths_field = http_field.key("paths");
            let mut paths = Vec::with_capacity(rule.http.as_ref().map_or(0, |h| h.paths.len()));
            for (j, path) in rule.http.iter().flat_map(|http| &http.paths).enumerate() {
                let path_field = paths_field.index(j);
                let path_type = path_type(&cx, &path_field.key("pathType"), &path.path_type)?;
                let backend = backend(&cx, &path_field.key("backend"), &path.backend)?;
                paths.push(HttpPath {
                    path: path.path.clone(),
                    path_type: Some(path_type),
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

impl TryFrom<&net::IngressClass> for IngressClass {
    type Error = ConversionError;

    fn try_from(object: &net::IngressClass) -> Result<Self, ConversionError> {
        let name = cluster_name(&object.metadata, Kind::IngressClass)?;
        let cx = Ctx::new(Kind::IngressClass, ObjectKey::new("", name.clone()));
        let root = FieldPath::Root;
        let spec = root.key("spec");
        let controller = object
            .spec
            .as_ref()
            .and_then(|spec| spec.controller.as_deref());
        let controller = cx.required(&spec.key("controller"), controller)?.to_owned();
        let is_default = object
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(IS_DEFAULT_CLASS_ANNOTATION))
            .is_some_and(|value| value == "true");
        Ok(IngressClass {
            name,
            controller,
            is_default,
        })
    }
}

/// `Some(text)` unless absent or empty.
pub(super) fn non_empty(text: Option<&str>) -> Option<String> {
    text.filter(|t| !t.is_empty()).map(str::to_owned)
}

/// One `spec.tls` entry; an empty `secretName` means the default certificate.
pub(super) fn tls_entry(hosts: &Option<Vec<String>>, secret_name: &Option<String>) -> IngressTls {
    IngressTls {
        hosts: hosts.clone().unwrap_or_default(),
        secret_name: non_empty(secret_name.as_deref()),
    }
}

/// A required v1 `pathType`.
fn path_type(cx: &Ctx, field: &FieldPath<'_>, text: &str) -> Result<PathType, ConversionError> {
    if text.is_empty() {
        return Err(cx.error(field, ConversionProblem::Missing));
    }
    parse_path_type(cx, field, text)
}

/// A `pathType` spelling.
pub(super) fn parse_path_type(
    cx: &Ctx,
    field: &FieldPath<'_>,
    text: &str,
) -> Result<PathType, ConversionError> {
    PathType::parse(text)
        .ok_or_else(|| cx.error(field, ConversionProblem::UnknownPathType(text.to_owned())))
}

/// A v1 backend: exactly one of `service` (with a name and exactly one of port name or number)
/// and `resource`.
fn backend(
    cx: &Ctx,
    field: &FieldPath<'_>,
    backend: &net::IngressBackend,
) -> Result<IngressBackend, ConversionError> {
    match (&backend.service, &backend.resource) {
        (Some(_), Some(_)) => Err(cx.error(field, ConversionProblem::AmbiguousBackend)),
        (None, None) => Err(cx.error(field, ConversionProblem::EmptyBackend)),
        (None, Some(reference)) => resource(cx, &field.key("resource"), reference),
        (Some(service), None) => {
            let service_field = field.key("service");
            let name = cx
                .required(&service_field.key("name"), Some(&service.name))?
                .to_owned();
            let port_field = service_field.key("port");
            let Some(port) = &service.port else {
                return Err(cx.error(&port_field, ConversionProblem::Missing));
            };
            let port = match (non_empty(port.name.as_deref()), port.number) {
                (Some(_), Some(_)) => {
                    return Err(cx.error(&port_field, ConversionProblem::AmbiguousPort));
                }
                (Some(port_name), None) => PortRef::Name(port_name),
                (None, Some(number)) => {
                    PortRef::Number(cx.port(&port_field.key("number"), number)?)
                }
                (None, None) => return Err(cx.error(&port_field, ConversionProblem::Missing)),
            };
            Ok(IngressBackend::Service { name, port })
        }
    }
}

/// A `resource` backend: `kind` and `name` are required.
pub(super) fn resource(
    cx: &Ctx,
    field: &FieldPath<'_>,
    reference: &TypedLocalObjectReference,
) -> Result<IngressBackend, ConversionError> {
    let kind = cx
        .required(&field.key("kind"), Some(&reference.kind))?
        .to_owned();
    let name = cx
        .required(&field.key("name"), Some(&reference.name))?
        .to_owned();
    Ok(IngressBackend::Resource {
        api_group: non_empty(reference.api_group.as_deref()),
        kind,
        name,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::k8s::ConversionProblem;

    fn ingress(value: serde_json::Value) -> Result<Ingress, ConversionError> {
        let object: net::Ingress = serde_json::from_value(value).unwrap();
        Ingress::try_from(&object)
    }

    fn with_path(path: serde_json::Value) -> Result<Ingress, ConversionError> {
        ingress(json!({
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"rules": [
                {"host": "a.example", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "ok", "port": {"number": 80}}}},
                    path,
                ]}}
            ]}
        }))
    }

    #[test]
    fn converts_a_full_ingress() {
        let converted = ingress(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": "web",
                "creationTimestamp": "2024-01-02T03:04:05Z",
                "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"}
            },
            "spec": {
                "ingressClassName": "sluice",
                "defaultBackend": {"service": {"name": "fallback", "port": {"name": "http"}}},
                "tls": [{"hosts": ["a.example"], "secretName": "a-tls"}, {"secretName": ""}],
                "rules": [
                    {"host": "a.example", "http": {"paths": [
                        {"path": "/api", "pathType": "Exact",
                         "backend": {"service": {"name": "api", "port": {"number": 8080}}}},
                        {"pathType": "ImplementationSpecific",
                         "backend": {"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "b"}}}
                    ]}},
                    {"host": "b.example"}
                ]
            }
        }))
        .unwrap();
        assert_eq!(converted.key, ObjectKey::new("default", "web"));
        assert_eq!(converted.created, Some(1_704_164_645));
        assert_eq!(converted.annotations.len(), 1);
        assert_eq!(converted.class_name.as_deref(), Some("sluice"));
        assert_eq!(
            converted.default_backend,
            Some(IngressBackend::Service {
                name: "fallback".into(),
                port: PortRef::Name("http".into())
            })
        );
        assert_eq!(
            converted.tls,
            vec![
                IngressTls {
                    hosts: vec!["a.example".into()],
                    secret_name: Some("a-tls".into())
                },
                IngressTls {
                    hosts: vec![],
                    secret_name: None
                },
            ]
        );
        assert_eq!(converted.rules.len(), 2);
        let paths = &converted.rules[0].paths;
        assert_eq!(paths[0].path.as_deref(), Some("/api"));
        assert_eq!(paths[0].path_type, Some(PathType::Exact));
        assert_eq!(
            paths[0].backend,
            IngressBackend::Service {
                name: "api".into(),
                port: PortRef::Number(8080)
            }
        );
        assert_eq!(paths[1].path, None);
        assert_eq!(paths[1].path_type, Some(PathType::ImplementationSpecific));
        assert_eq!(
            paths[1].backend,
            IngressBackend::Resource {
                api_group: Some("k8s.example.com".into()),
                kind: "Bucket".into(),
                name: "b".into()
            }
        );
        assert_eq!(
            converted.rules[1],
            IngressRule {
                host: Some("b.example".into()),
                paths: vec![]
            }
        );
    }

    #[test]
    fn an_ingress_without_spec_is_empty() {
        let converted = ingress(json!({"metadata": {"name": "x", "namespace": "n"}})).unwrap();
        assert_eq!(converted.key, ObjectKey::new("n", "x"));
        assert!(converted.rules.is_empty() && converted.default_backend.is_none());
    }

    fn error_of(path: serde_json::Value) -> (String, ConversionProblem) {
        let error = with_path(path).unwrap_err();
        assert_eq!(error.object.key, ObjectKey::new("shop", "web"));
        (error.field, error.problem)
    }

    #[test]
    fn names_the_field_of_each_error() {
        let service = json!({"service": {"name": "s", "port": {"number": 80}}});
        assert_eq!(
            error_of(json!({"pathType": "Foo", "backend": service})),
            (
                "spec.rules[0].http.paths[1].pathType".into(),
                ConversionProblem::UnknownPathType("Foo".into())
            )
        );
        assert_eq!(
            error_of(json!({"path": "/x", "backend": service})),
            (
                "spec.rules[0].http.paths[1].pathType".into(),
                ConversionProblem::Missing
            )
        );
        assert_eq!(
            error_of(json!({"pathType": "Prefix", "backend": {}})),
            (
                "spec.rules[0].http.paths[1].backend".into(),
                ConversionProblem::EmptyBackend
            )
        );
        assert_eq!(
            error_of(json!({"pathType": "Prefix"})),
            (
                "spec.rules[0].http.paths[1].backend".into(),
                ConversionProblem::EmptyBackend
            )
        );
        assert_eq!(
            error_of(json!({"pathType": "Prefix", "backend": {
                "service": {"name": "s", "port": {"number": 80}},
                "resource": {"kind": "K", "name": "n"}}})),
            (
                "spec.rules[0].http.paths[1].backend".into(),
                ConversionProblem::AmbiguousBackend
            )
        );
        assert_eq!(
            error_of(
                json!({"pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 70000}}}})
            ),
            (
                "spec.rules[0].http.paths[1].backend.service.port.number".into(),
                ConversionProblem::PortOutOfRange(70000)
            )
        );
        assert_eq!(
            error_of(
                json!({"pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 0}}}})
            ),
            (
                "spec.rules[0].http.paths[1].backend.service.port.number".into(),
                ConversionProblem::PortOutOfRange(0)
            )
        );
        assert_eq!(
            error_of(
                json!({"pathType": "Prefix", "backend": {"service": {"name": "s", "port": {"number": 1, "name": "h"}}}})
            ),
            (
                "spec.rules[0].http.paths[1].backend.service.port".into(),
                ConversionProblem::AmbiguousPort
            )
        );
        assert_eq!(
            error_of(
                json!({"pathType": "Prefix", "backend": {"service": {"name": "s", "port": {}}}})
            ),
            (
                "spec.rules[0].http.paths[1].backend.service.port".into(),
                ConversionProblem::Missing
            )
        );
        assert_eq!(
            error_of(json!({"pathType": "Prefix", "backend": {"service": {"name": "s"}}})),
            (
                "spec.rules[0].http.paths[1].backend.service.port".into(),
                ConversionProblem::Missing
            )
        );
        assert_eq!(
            error_of(
                json!({"pathType": "Prefix", "backend": {"service": {"port": {"number": 80}}}})
            ),
            (
                "spec.rules[0].http.paths[1].backend.service.name".into(),
                ConversionProblem::Missing
            )
        );
        assert_eq!(
            error_of(json!({"pathType": "Prefix", "backend": {"resource": {"kind": "K"}}})),
            (
                "spec.rules[0].http.paths[1].backend.resource.name".into(),
                ConversionProblem::Missing
            )
        );
    }

    #[test]
    fn default_backend_errors_name_the_field() {
        let error = ingress(json!({
            "metadata": {"name": "web"},
            "spec": {"defaultBackend": {"service": {"name": "s", "port": {"number": -3}}}}
        }))
        .unwrap_err();
        assert_eq!(error.field, "spec.defaultBackend.service.port.number");
        assert_eq!(error.problem, ConversionProblem::PortOutOfRange(-3));
    }

    #[test]
    fn ingress_name_is_required() {
        let error = ingress(json!({"spec": {}})).unwrap_err();
        assert_eq!(error.field, "metadata.name");
        assert_eq!(error.object.kind, Kind::Ingress);
    }

    #[test]
    fn converts_ingress_classes() {
        let class = |value| {
            let object: net::IngressClass = serde_json::from_value(value).unwrap();
            IngressClass::try_from(&object)
        };
        let converted = class(json!({
            "metadata": {"name": "sluice", "namespace": "ignored",
                         "annotations": {IS_DEFAULT_CLASS_ANNOTATION: "true"}},
            "spec": {"controller": "sluice.dev/ingress-controller"}
        }))
        .unwrap();
        assert_eq!(
            converted,
            IngressClass {
                name: "sluice".into(),
                controller: "sluice.dev/ingress-controller".into(),
                is_default: true
            }
        );
        let not_default = class(json!({
            "metadata": {"name": "other", "annotations": {IS_DEFAULT_CLASS_ANNOTATION: "True"}},
            "spec": {"controller": "x"}
        }))
        .unwrap();
        assert!(!not_default.is_default);
        let error = class(json!({"metadata": {"name": "c"}})).unwrap_err();
        assert_eq!(
            (error.field.as_str(), &error.problem),
            ("spec.controller", &ConversionProblem::Missing)
        );
        assert_eq!(
            error.to_string(),
            "IngressClass c: spec.controller: missing required field"
        );
        assert_eq!(
            class(json!({"spec": {"controller": "x"}}))
                .unwrap_err()
                .field,
            "metadata.name"
        );
    }
}
