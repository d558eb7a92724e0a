//! [`Diagnostic`]: one finding about a file, a document or an object, saying where (file, line,
//! document index, object, field) and what ([`Error`]).

use std::fmt;
use std::path::PathBuf;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use sluice_ingress_model::{DiagnosticKind, Kind, ObjectKey, Severity};

use crate::error::Error;

/// One finding of the file source. Displays on one line, e.g.
/// `error: web.yaml:14: document 2 (0-based), Ingress default/web: spec.rules[0].http.paths[0].pathType: unknown pathType "Foo" …`.
///
/// It serialises with the same keys as the model's diagnostics (`severity`, `kind`,
/// `namespace`, `name`, `field`, `code`, `message`) plus `file`, `document` and `line`, so a
/// binary can print both kinds in one list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// How serious: errors mean something in the files is not served as written.
    pub severity: Severity,
    /// The file (or directory) as named by the caller, joined with the entry name.
    pub file: PathBuf,
    /// The document's index in the file's YAML stream, **0-based**; `None` for the whole file.
    pub document: Option<usize>,
    /// 1-based line: of a YAML error when the parser knows it, else where the document starts.
    pub line: Option<usize>,
    /// The object, when known.
    pub object: Option<ObjectId>,
    /// The field path within the object (or document), e.g. `spec.rules[0].host`.
    pub field: Option<String>,
    /// What is wrong or worth knowing.
    pub problem: Error,
}

/// An object as written in a file: any kind, so unknown kinds can be named too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectId {
    /// `kind`, e.g. `Ingress` or `Deployment`.
    pub kind: String,
    /// The namespace (`default` filled in for the kinds sluice reads), if any.
    pub namespace: Option<String>,
    /// `metadata.name`, if present.
    pub name: Option<String>,
}

impl Diagnostic {
    /// A diagnostic about a whole file or directory.
    pub(crate) fn file(severity: Severity, file: PathBuf, problem: Error) -> Self {
        Self {
            severity,
            file,
            document: None,
            line: None,
            object: None,
            field: None,
            problem,
        }
    }

    /// Whether this is an error (something is not served as written).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The model's form of this finding, when it concerns an object of a kind the model knows.
    /// The file location, which the model form has no field for, is kept in the message.
    pub fn to_model(&self) -> Option<sluice_ingress_model::Diagnostic> {
        let object = self.object.as_ref()?;
        let kind = match object.kind.as_str() {
            "Ingress" => Kind::Ingress,
            "IngressClass" => Kind::IngressClass,
            "Service" => Kind::Service,
            "EndpointSlice" | "Endpoints" => Kind::EndpointSlice,
            "Secret" => Kind::Secret,
            "ConfigMap" => Kind::ConfigMap,
            _ => return None,
        };
        let key = ObjectKey::new(
            object.namespace.clone().unwrap_or_default(),
            object.name.clone().unwrap_or_default(),
        );
        let what = match &self.problem {
            Error::Model(kind) => (**kind).clone(),
            other => DiagnosticKind::Malformed(format!("{}: {other}", self.location())),
        };
        let field = self.field.clone().unwrap_or_default();
        Some(sluice_ingress_model::Diagnostic::new(
            self.severity,
            kind,
            &key,
            field,
            what,
        ))
    }

    /// `file:line: document N (0-based)`, the part of the display before the object.
    fn location(&self) -> String {
        let mut text = self.file.display().to_string();
        if let Some(line) = self.line {
            text.push_str(&format!(":{line}"));
        }
        if let Some(document) = self.document {
            text.push_str(&format!(": document {document} (0-based)"));
        }
        text
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.location())?;
        if let Some(object) = &self.object {
            write!(f, ", {object}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": {field}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kind)?;
        match (&self.namespace, &self.name) {
            (Some(namespace), Some(name)) => write!(f, " {namespace}/{name}"),
            (None, Some(name)) => write!(f, " {name}"),
            (_, None) => f.write_str(" (unnamed)"),
        }
    }
}

impl Serialize for Diagnostic {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Diagnostic", 10)?;
        s.serialize_field("severity", &self.severity)?;
        s.serialize_field("file", &self.file.display().to_string())?;
        s.serialize_field("document", &self.document)?;
        s.serialize_field("line", &self.line)?;
        let object = self.object.as_ref();
        s.serialize_field("kind", &object.map(|o| o.kind.as_str()))?;
        s.serialize_field("namespace", &object.and_then(|o| o.namespace.as_deref()))?;
        s.serialize_field("name", &object.and_then(|o| o.name.as_deref()))?;
        s.serialize_field("field", &self.field)?;
        s.serialize_field("code", self.problem.code())?;
        s.serialize_field("message", &self.problem.to_string())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use sluice_ingress_model::k8s::ConversionProblem;

    use super::*;

    fn example() -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: PathBuf::from("ingress.yaml"),
            document: Some(2),
            line: Some(14),
            object: Some(ObjectId {
                kind: "Ingress".into(),
                namespace: Some("default".into()),
                name: Some("web".into()),
            }),
            field: Some("spec.rules[0].http.paths[0].pathType".into()),
            problem: Error::Conversion(ConversionProblem::UnknownPathType("Foo".into())),
        }
    }

    #[test]
    fn displays_on_one_line_with_every_part() {
        assert_eq!(
            example().to_string(),
            "error: ingress.yaml:14: document 2 (0-based), Ingress default/web: \
             spec.rules[0].http.paths[0].pathType: unknown pathType \"Foo\" \
             (expected Exact, Prefix or ImplementationSpecific)"
        );
        let whole_file = Diagnostic::file(Severity::Error, "a.yaml".into(), Error::NotUtf8(3));
        assert_eq!(
            whole_file.to_string(),
            "error: a.yaml: not valid UTF-8 (at byte 3)"
        );
    }

    #[test]
    fn serialises_with_the_model_keys() {
        let json = serde_json::to_value(example()).unwrap();
        assert_eq!(json["severity"], "error");
        assert_eq!(json["file"], "ingress.yaml");
        assert_eq!(json["document"], 2);
        assert_eq!(json["kind"], "Ingress");
        assert_eq!(json["namespace"], "default");
        assert_eq!(json["name"], "web");
        assert_eq!(json["code"], "malformed");
    }

    #[test]
    fn converts_to_the_model_form() {
        let model = example().to_model().unwrap();
        assert_eq!(model.object.kind, Kind::Ingress);
        assert_eq!(model.object.key, ObjectKey::new("default", "web"));
        assert_eq!(model.field, "spec.rules[0].http.paths[0].pathType");
        let text = model.to_string();
        assert!(text.contains("ingress.yaml:14: document 2"), "{text}");
        let mut legacy = example();
        legacy.problem = Error::Model(Box::new(DiagnosticKind::LegacyApiVersion(
            "extensions/v1beta1".into(),
        )));
        assert_eq!(
            legacy.to_model().unwrap().kind,
            DiagnosticKind::LegacyApiVersion("extensions/v1beta1".into())
        );
        let mut unknown = example();
        unknown.object = Some(ObjectId {
            kind: "Deployment".into(),
            namespace: None,
            name: None,
        });
        assert_eq!(unknown.to_model(), None);
    }
}
