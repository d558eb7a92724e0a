//! Label and field selectors, as the API server parses them.
//!
//! Labels: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma-separated.
//! Fields: `f=v`, `f==v`, `f!=v`, comma-separated, for `metadata.name`, `metadata.namespace`
//! and the resource's own field labels; any other field is refused like the real server does
//! (`400 BadRequest`, "field label not supported").

use serde_json::Value;

use crate::resources::ResourceType;

/// One parsed requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A label and field selector pair.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    labels: Vec<Requirement>,
    fields: Vec<Requirement>,
}

impl Selector {
    /// Parses both selectors for `resource`; the error is the Status message.
    pub fn parse(
        resource: &ResourceType,
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> Result<Self, String> {
        let labels = match labels {
            Some(text) => parse_labels(text)?,
            None => Vec::new(),
        };
        let fields = match fields {
            Some(text) => parse_fields(resource, text)?,
            None => Vec::new(),
        };
        Ok(Self { labels, fields })
    }

    /// Whether `object` matches.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        let labels_ok = self.labels.iter().all(|r| match r {
            Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::NotExists(k) => label(k).is_none(),
            Requirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => label(k).is_none_or(|l| vs.iter().all(|v| v != l)),
        });
        let field = |path: &str| -> String {
            let pointer = format!("/{}", path.replace('.', "/"));
            object
                .pointer(&pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let fields_ok = self.fields.iter().all(|r| match r {
            Requirement::Equals(k, v) => field(k) == *v,
            Requirement::NotEquals(k, v) => field(k) != *v,
            _ => false,
        });
        labels_ok && fields_ok
    }
}

fn split_top(text: &str) -> Vec<String> {
    // Commas inside `in (a,b)` do not separate requirements.
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

fn parse_labels(text: &str) -> Result<Vec<Requirement>, String> {
    split_top(text)
        .into_iter()
        .map(|part| {
            let set = |rest: &str| -> Result<Vec<String>, String> {
                let inner = rest
                    .trim()
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| format!("unable to parse requirement: {part}"))?;
                Ok(inner.split(',').map(|v| v.trim().to_owned()).collect())
            };
            if let Some((k, v)) = part.split_once("!=") {
                Ok(Requirement::NotEquals(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = part.split_once("==") {
                Ok(Requirement::Equals(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = part.split_once('=') {
                Ok(Requirement::Equals(k.trim().into(), v.trim().into()))
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                Ok(Requirement::NotIn(k.trim().into(), set(rest)?))
            } else if let Some((k, rest)) = part.split_once(" in ") {
                Ok(Requirement::In(k.trim().into(), set(rest)?))
            } else if let Some(k) = part.strip_prefix('!') {
                Ok(Requirement::NotExists(k.trim().into()))
            } else {
                Ok(Requirement::Exists(part.clone()))
            }
        })
        .collect()
}

fn parse_fields(resource: &ResourceType, text: &str) -> Result<Vec<Requirement>, String> {
    split_top(text)
        .into_iter()
        .map(|part| {
            let (key, value, negate) = if let Some((k, v)) = part.split_once("!=") {
                (k, v, true)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, v, false)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, v, false)
            } else {
                return Err(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                ));
            };
            let key = key.trim();
            let supported = matches!(key, "metadata.name" | "metadata.namespace")
                || resource.fields.contains(&key);
            if !supported {
                return Err(format!("field label not supported: {key}"));
            }
            let value = value.trim().to_owned();
            Ok(if negate {
                Requirement::NotEquals(key.to_owned(), value)
            } else {
                Requirement::Equals(key.to_owned(), value)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resources::by_kind;

    #[test]
    fn labels_and_fields() {
        let secrets = by_kind("v1", "Secret").unwrap();
        let tls =
            json!({"type": "kubernetes.io/tls", "metadata": {"name": "a", "labels": {"app": "x"}}});
        let opaque = json!({"type": "Opaque", "metadata": {"name": "b"}});
        let s = Selector::parse(secrets, None, Some("type=kubernetes.io/tls")).unwrap();
        assert!(s.matches(&tls) && !s.matches(&opaque));
        let s = Selector::parse(
            secrets,
            Some("app in (x, y),!gone"),
            Some("metadata.name!=b"),
        )
        .unwrap();
        assert!(s.matches(&tls) && !s.matches(&opaque));
        let s = Selector::parse(secrets, Some("app!=x"), None).unwrap();
        assert!(!s.matches(&tls) && s.matches(&opaque));
        assert!(Selector::parse(secrets, None, Some("spec.foo=1")).is_err());
        let ingresses = by_kind("networking.k8s.io/v1", "Ingress").unwrap();
        assert!(Selector::parse(ingresses, None, Some("type=x")).is_err());
    }
}
