//! One Kubernetes object (a JSON value parsed from YAML) into model objects: dispatch on
//! `apiVersion` + `kind`, typed decoding with field paths, and the model's conversions.
//! `v1 List` documents are unpacked here too.

use std::sync::Arc;

use k8s_openapi::api::core::v1 as core_v1;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as networking;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sluice_ingress_model::k8s::{ConversionError, LegacyIngress, endpoint_slices_from_endpoints};
use sluice_ingress_model::{
    ConfigMap, EndpointSlice, Ingress, IngressClass, Kind, ObjectKey, ObjectRef, Secret, Service,
    Severity, Snapshot,
};

use crate::diagnostic::ObjectId;
use crate::error::Error;

/// A model object read from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Object {
    /// An Ingress (any apiVersion).
    Ingress(Arc<Ingress>),
    /// An IngressClass.
    IngressClass(IngressClass),
    /// A Service.
    Service(Service),
    /// An EndpointSlice, or one subset of an Endpoints.
    EndpointSlice(EndpointSlice),
    /// A Secret.
    Secret(Secret),
    /// A ConfigMap.
    ConfigMap(ConfigMap),
}

/// A finding about one object, before the file and document are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    /// How serious.
    pub severity: Severity,
    /// The object, when known.
    pub object: Option<ObjectId>,
    /// The field path, when known.
    pub field: Option<String>,
    /// What.
    pub problem: Error,
}

/// What one document decoded into.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// The objects, in document order; each with its `List` item index.
    pub objects: Vec<(Option<usize>, Object)>,
    /// Errors, warnings and notes.
    pub findings: Vec<Finding>,
    /// Whether any finding is an error.
    pub failed: bool,
}

/// What an `apiVersion` + `kind` is read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Ingress,
    LegacyIngress,
    IngressClass,
    LegacyIngressClass,
    Service,
    Endpoints,
    EndpointSlice,
    Secret,
    ConfigMap,
    List,
}

/// The kinds sluice reads and the apiVersions it accepts for each.
const SUPPORTED: &[(&str, &[(&str, Target)])] = &[
    (
        "Ingress",
        &[
            ("networking.k8s.io/v1", Target::Ingress),
            ("networking.k8s.io/v1beta1", Target::LegacyIngress),
            ("extensions/v1beta1", Target::LegacyIngress),
        ],
    ),
    (
        "IngressClass",
        &[
            ("networking.k8s.io/v1", Target::IngressClass),
            ("networking.k8s.io/v1beta1", Target::LegacyIngressClass),
        ],
    ),
    ("Service", &[("v1", Target::Service)]),
    ("Endpoints", &[("v1", Target::Endpoints)]),
    (
        "EndpointSlice",
        &[("discovery.k8s.io/v1", Target::EndpointSlice)],
    ),
    ("Secret", &[("v1", Target::Secret)]),
    ("ConfigMap", &[("v1", Target::ConfigMap)]),
    ("List", &[("v1", Target::List)]),
];

impl Object {
    /// The model kind and key, for duplicate detection.
    pub(crate) fn object_ref(&self) -> ObjectRef {
        match self {
            Object::Ingress(o) => ObjectRef::new(Kind::Ingress, o.key.clone()),
            Object::IngressClass(o) => {
                ObjectRef::new(Kind::IngressClass, ObjectKey::new("", &o.name))
            }
            Object::Service(o) => ObjectRef::new(Kind::Service, o.key.clone()),
            Object::EndpointSlice(o) => ObjectRef::new(Kind::EndpointSlice, o.key.clone()),
            Object::Secret(o) => ObjectRef::new(Kind::Secret, o.key.clone()),
            Object::ConfigMap(o) => ObjectRef::new(Kind::ConfigMap, o.key.clone()),
        }
    }

    /// Adds (or replaces) this object in `snapshot`.
    pub(crate) fn insert_into(self, snapshot: &mut Snapshot) {
        match self {
            Object::Ingress(o) => snapshot.insert_ingress(o),
            Object::IngressClass(o) => snapshot.insert_ingress_class(o),
            Object::Service(o) => snapshot.insert_service(o),
            Object::EndpointSlice(o) => snapshot.insert_endpoint_slice(o),
            Object::Secret(o) => snapshot.insert_secret(o),
            Object::ConfigMap(o) => snapshot.insert_config_map(o),
        }
    }

    /// The object as a diagnostic names it.
    pub(crate) fn id(&self) -> ObjectId {
        let object = self.object_ref();
        ObjectId {
            kind: object.kind.to_string(),
            namespace: Some(object.key.namespace).filter(|ns| !ns.is_empty()),
            name: Some(object.key.name),
        }
    }
}

/// Decodes one document's value: a single object, or a `v1 List` of them.
pub(crate) fn decode_document(value: Value) -> Decoded {
    let mut decoded = Decoded::default();
    let is_list = matches!(
        (value.get("apiVersion"), value.get("kind")),
        (Some(Value::String(v)), Some(Value::String(k))) if v == "v1" && k == "List"
    );
    if !is_list {
        decode_object(value, None, &mut decoded);
        return decoded;
    }
    let items = match value {
        Value::Object(mut map) => map.remove("items"),
        _ => None,
    };
    match items {
        Some(Value::Array(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                decode_object(item, Some(i), &mut decoded);
            }
        }
        Some(Value::Null) | None => {}
        Some(other) => decoded.error(
            None,
            Some("items".to_owned()),
            Error::Invalid(format!(
                "invalid type: {}, expected a sequence",
                type_name(&other)
            )),
        ),
    }
    decoded
}

impl Decoded {
    fn push(
        &mut self,
        severity: Severity,
        object: Option<ObjectId>,
        field: Option<String>,
        problem: Error,
    ) {
        self.failed |= severity == Severity::Error;
        self.findings.push(Finding {
            severity,
            object,
            field,
            problem,
        });
    }

    fn error(&mut self, object: Option<ObjectId>, field: Option<String>, problem: Error) {
        self.push(Severity::Error, object, field, problem);
    }
}

/// Decodes one object (`item` is its index in a List) into `out`.
fn decode_object(value: Value, item: Option<usize>, out: &mut Decoded) {
    let field = |name: &str| match item {
        Some(i) if name.is_empty() => Some(format!("items[{i}]")),
        Some(i) => Some(format!("items[{i}].{name}")),
        None if name.is_empty() => None,
        None => Some(name.to_owned()),
    };
    if !value.is_object() {
        out.error(None, field(""), Error::NotAnObject(type_name(&value)));
        return;
    }
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let (Some(api_version), Some(kind)) = (text("apiVersion"), text("kind")) else {
        let missing = if text("apiVersion").is_none() {
            "apiVersion"
        } else {
            "kind"
        };
        let id = text("kind").map(|kind| object_id(&value, kind, false));
        out.error(id, field(missing), Error::MissingField);
        return;
    };
    let (api_version, kind) = (api_version.to_owned(), kind.to_owned());
    let Some((_, versions)) = SUPPORTED.iter().find(|(k, _)| *k == kind) else {
        let id = object_id(&value, &kind, false);
        out.push(
            Severity::Info,
            Some(id),
            field(""),
            Error::UnusedKind { api_version, kind },
        );
        return;
    };
    let namespaced = kind != "IngressClass";
    let id = object_id(&value, &kind, namespaced);
    let Some((_, target)) = versions.iter().find(|(v, _)| *v == api_version) else {
        let supported = versions
            .iter()
            .map(|(v, _)| *v)
            .collect::<Vec<_>>()
            .join(", ");
        let problem = Error::UnsupportedApiVersion {
            api_version,
            kind,
            supported,
        };
        out.error(Some(id), field("apiVersion"), problem);
        return;
    };
    let result = match target {
        // A top-level List was unpacked by `decode_document`: this one is an item.
        Target::List => Err((None, Error::NestedList)),
        Target::Ingress => convert::<networking::Ingress, _>(value, |o| Ingress::try_from(o))
            .map(|o| vec![Object::Ingress(Arc::new(o))]),
        Target::LegacyIngress => {
            let legacy = typed::<LegacyIngress>(value);
            if let Ok(legacy) = &legacy {
                let model = legacy.diagnostic();
                out.push(
                    model.severity,
                    Some(id.clone()),
                    field("apiVersion"),
                    Error::Model(Box::new(model.kind)),
                );
            }
            legacy
                .and_then(|o| Ingress::try_from(&o).map_err(conversion))
                .map(|o| vec![Object::Ingress(Arc::new(o))])
        }
        Target::IngressClass | Target::LegacyIngressClass => {
            let mut value = value;
            if *target == Target::LegacyIngressClass {
                let kind = sluice_ingress_model::DiagnosticKind::LegacyApiVersion(api_version);
                out.push(
                    Severity::Warning,
                    Some(id.clone()),
                    field("apiVersion"),
                    Error::Model(Box::new(kind)),
                );
                if let Some(map) = value.as_object_mut() {
                    map.insert(
                        "apiVersion".into(),
                        Value::String("networking.k8s.io/v1".into()),
                    );
                }
            }
            convert::<networking::IngressClass, _>(value, |o| IngressClass::try_from(o))
                .map(|o| vec![Object::IngressClass(o)])
        }
        Target::Service => convert::<core_v1::Service, _>(value, |o| Service::try_from(o))
            .map(|o| vec![Object::Service(o)]),
        Target::Endpoints => typed::<core_v1::Endpoints>(value)
            .and_then(|o| endpoint_slices_from_endpoints(&o).map_err(conversion))
            .map(|slices| slices.into_iter().map(Object::EndpointSlice).collect()),
        Target::EndpointSlice => {
            convert::<discovery::EndpointSlice, _>(value, |o| EndpointSlice::try_from(o))
                .map(|o| vec![Object::EndpointSlice(o)])
        }
        Target::Secret => convert::<core_v1::Secret, _>(value, |o| Secret::try_from(o))
            .map(|o| vec![Object::Secret(o)]),
        Target::ConfigMap => convert::<core_v1::ConfigMap, _>(value, |o| ConfigMap::try_from(o))
            .map(|o| vec![Object::ConfigMap(o)]),
    };
    match result {
        Ok(objects) => out.objects.extend(objects.into_iter().map(|o| (item, o))),
        Err((path, problem)) => out.error(Some(id), field(path.as_deref().unwrap_or("")), problem),
    }
}

/// A field path (if any) and what is wrong there.
type Failure = (Option<String>, Error);

/// Decodes `value` as `T` and converts it with `into`.
fn convert<T: DeserializeOwned, M>(
    value: Value,
    into: impl FnOnce(&T) -> Result<M, ConversionError>,
) -> Result<M, Failure> {
    typed::<T>(value).and_then(|object| into(&object).map_err(conversion))
}

/// Decodes `value` as `T`, naming the field that does not fit.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, Failure> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let path = (path != ".").then_some(path);
        (path, Error::Invalid(error.into_inner().to_string()))
    })
}

/// A model conversion error as a failure at its field.
fn conversion(error: ConversionError) -> Failure {
    (
        Some(error.field).filter(|f| !f.is_empty()),
        Error::Conversion(error.problem),
    )
}

/// The object's identity as written; `namespaced` kinds get `default` when no namespace is set.
fn object_id(value: &Value, kind: &str, namespaced: bool) -> ObjectId {
    let meta = |key: &str| {
        value
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let namespace = meta("namespace").or(namespaced.then_some("default"));
    ObjectId {
        kind: kind.to_owned(),
        namespace: namespace.map(str::to_owned),
        name: meta("name").map(str::to_owned),
    }
}

/// The YAML-ish name of a value's type, for messages.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn dispatches_each_supported_kind() {
        let documents = [
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "a"}}),
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "t"}}),
            json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"name": "e"}, "addressType": "IPv4", "endpoints": []}),
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                   "metadata": {"name": "k"}, "spec": {"controller": "x"}}),
        ];
        for document in documents {
            let decoded = decode_document(document.clone());
            assert!(!decoded.failed, "{document}: {:?}", decoded.findings);
            assert_eq!(decoded.objects.len(), 1, "{document}");
        }
    }

    #[test]
    fn legacy_ingress_class_is_converted_with_a_warning() {
        let decoded = decode_document(json!({
            "apiVersion": "networking.k8s.io/v1beta1", "kind": "IngressClass",
            "metadata": {"name": "old"}, "spec": {"controller": "x"}
        }));
        assert!(!decoded.failed);
        assert!(matches!(decoded.objects[0].1, Object::IngressClass(_)));
        assert_eq!(decoded.findings.len(), 1);
        assert_eq!(decoded.findings[0].severity, Severity::Warning);
        assert_eq!(decoded.findings[0].problem.code(), "legacy_api_version");
    }

    #[test]
    fn wrong_api_version_of_a_known_kind_is_an_error() {
        let decoded = decode_document(
            json!({"apiVersion": "v2", "kind": "Service", "metadata": {"name": "s"}}),
        );
        assert!(decoded.failed);
        let finding = &decoded.findings[0];
        assert_eq!(finding.field.as_deref(), Some("apiVersion"));
        assert_eq!(
            finding.object.as_ref().unwrap().to_string(),
            "Service default/s"
        );
        assert_eq!(
            finding.problem.to_string(),
            "apiVersion \"v2\" is not supported for kind Service; use v1"
        );
    }

    #[test]
    fn missing_type_fields_and_non_objects_are_errors() {
        let decoded = decode_document(json!({"kind": "Service"}));
        assert!(decoded.failed);
        assert_eq!(decoded.findings[0].field.as_deref(), Some("apiVersion"));
        let decoded = decode_document(json!({"apiVersion": "v1"}));
        assert_eq!(decoded.findings[0].field.as_deref(), Some("kind"));
        let decoded = decode_document(json!(["a"]));
        assert_eq!(
            decoded.findings[0].problem,
            Error::NotAnObject("a sequence")
        );
    }

    #[test]
    fn typed_errors_name_the_field() {
        let decoded = decode_document(json!({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80}, {"port": "eighty"}]}
        }));
        assert!(decoded.failed);
        let finding = &decoded.findings[0];
        assert_eq!(finding.field.as_deref(), Some("spec.ports[1].port"));
        assert!(
            finding.problem.to_string().contains("invalid type"),
            "{}",
            finding.problem
        );
    }

    #[test]
    fn lists_are_unpacked_and_item_fields_are_prefixed() {
        let decoded = decode_document(json!({
            "apiVersion": "v1", "kind": "List",
            "items": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
                {"apiVersion": "v1", "kind": "List", "items": []},
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                 "spec": {"ports": [{"port": 0}]}}
            ]
        }));
        assert_eq!(decoded.objects.len(), 1);
        assert_eq!(decoded.objects[0].0, Some(0));
        let fields: Vec<_> = decoded
            .findings
            .iter()
            .map(|f| (f.severity, f.field.clone()))
            .collect();
        assert_eq!(
            fields,
            vec![
                (Severity::Info, Some("items[1]".to_owned())),
                (Severity::Error, Some("items[2]".to_owned())),
                (
                    Severity::Error,
                    Some("items[3].spec.ports[0].port".to_owned())
                ),
            ]
        );
        assert!(decoded.failed);
    }
}
