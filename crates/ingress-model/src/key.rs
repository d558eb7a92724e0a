//! Names of Kubernetes objects: `namespace/name` keys and the kinds a diagnostic can point at.

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// A namespaced object name. Sorts by namespace, then name; serialises as `namespace/name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The namespace; empty for cluster-scoped objects such as IngressClass.
    pub namespace: String,
    /// The object's name.
    pub name: String,
}

impl ObjectKey {
    /// A key from a namespace and a name.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Parses `namespace/name`; a bare `name` takes `default_namespace`.
    pub fn parse(text: &str, default_namespace: &str) -> Option<Self> {
        let text = text.trim();
        let (namespace, name) = match text.split_once('/') {
            Some((ns, name)) => (ns, name),
            None => (default_namespace, text),
        };
        if namespace.is_empty() || name.is_empty() || name.contains('/') {
            return None;
        }
        Some(Self::new(namespace, name))
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}/{}", self.namespace, self.name)
        }
    }
}

/// The kinds of object the model reads, as named in diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[non_exhaustive]
pub enum Kind {
    /// networking.k8s.io Ingress.
    Ingress,
    /// networking.k8s.io IngressClass.
    IngressClass,
    /// core Service.
    Service,
    /// discovery.k8s.io EndpointSlice (or core Endpoints, converted).
    EndpointSlice,
    /// core Secret.
    Secret,
    /// core ConfigMap.
    ConfigMap,
    /// The controller's own settings (flags), not a Kubernetes object.
    Controller,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Ingress => "Ingress",
            Kind::IngressClass => "IngressClass",
            Kind::Service => "Service",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::Secret => "Secret",
            Kind::ConfigMap => "ConfigMap",
            Kind::Controller => "Controller",
        })
    }
}

/// A reference to one object: its kind and key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// What kind of object.
    pub kind: Kind,
    /// Which one.
    pub key: ObjectKey,
}

impl ObjectRef {
    /// A reference from a kind and a key.
    pub fn new(kind: Kind, key: ObjectKey) -> Self {
        Self { kind, key }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.key)
    }
}

impl Serialize for ObjectKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for ObjectRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("ObjectRef", 3)?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("namespace", &self.key.namespace)?;
        s.serialize_field("name", &self.key.name)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_namespaced_and_bare_names() {
        assert_eq!(ObjectKey::parse("a/b", "d"), Some(ObjectKey::new("a", "b")));
        assert_eq!(ObjectKey::parse("b", "d"), Some(ObjectKey::new("d", "b")));
        assert_eq!(ObjectKey::parse("/b", "d"), None);
        assert_eq!(ObjectKey::parse("a/", "d"), None);
        assert_eq!(ObjectKey::parse("a/b/c", "d"), None);
        assert_eq!(ObjectKey::parse("b", ""), None);
    }

    #[test]
    fn displays_cluster_scoped_without_slash() {
        assert_eq!(ObjectKey::new("", "nginx").to_string(), "nginx");
        assert_eq!(ObjectKey::new("ns", "x").to_string(), "ns/x");
    }
}
