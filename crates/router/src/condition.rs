//! Route conditions compiled once: header, cookie and query regexes are built when the router
//! is, so a request only runs them. Evaluation equals `Condition::holds` of the model.

use regex::Regex;
use sluice_ingress_model::{Condition, RequestAttributes, ValueMatch};

/// The conditions of one route; all must hold. Empty for most routes.
#[derive(Debug)]
pub(crate) struct Conditions(Box<[Compiled]>);

/// One compiled condition.
#[derive(Debug)]
enum Compiled {
    /// A request header (lowercase name).
    Header(String, Value),
    /// A cookie.
    Cookie(String, Value),
    /// A query parameter.
    Query(String, Value),
    /// The request method, compared case-insensitively.
    Method(String),
    /// A condition kind this crate does not know yet: evaluated by the model itself.
    Other(Condition),
}

/// A compiled [`ValueMatch`].
#[derive(Debug)]
enum Value {
    /// Equal to this string.
    Exact(String),
    /// Matches this regex somewhere; `None` when it does not compile (matches nothing).
    Regex(Option<Regex>),
    /// Present with any value.
    Present,
}

impl Conditions {
    /// Compiles a route's conditions.
    pub(crate) fn compile(conditions: &[Condition]) -> Self {
        Self(conditions.iter().map(Compiled::new).collect())
    }

    /// Whether every condition holds for `request` (true when there is none).
    pub(crate) fn hold(&self, request: &dyn RequestAttributes) -> bool {
        self.0.iter().all(|c| c.holds(request))
    }
}

impl Compiled {
    fn new(condition: &Condition) -> Self {
        match condition {
            Condition::Header { name, value } => Self::Header(name.clone(), Value::new(value)),
            Condition::Cookie { name, value } => Self::Cookie(name.clone(), Value::new(value)),
            Condition::Query { name, value } => Self::Query(name.clone(), Value::new(value)),
            Condition::Method(method) => Self::Method(method.clone()),
            other => Self::Other(other.clone()),
        }
    }

    fn holds(&self, request: &dyn RequestAttributes) -> bool {
        match self {
            Self::Header(name, value) => value.matches(request.header(name)),
            Self::Cookie(name, value) => value.matches(request.cookie(name)),
            Self::Query(name, value) => value.matches(request.query(name)),
            Self::Method(method) => request.method().eq_ignore_ascii_case(method),
            Self::Other(condition) => condition.holds(request),
        }
    }
}

impl Value {
    fn new(value: &ValueMatch) -> Self {
        match value {
            ValueMatch::Exact(want) => Self::Exact(want.clone()),
            // Same constructor as `ValueMatch::matches`, so the same patterns compile.
            ValueMatch::Regex(pattern) => Self::Regex(Regex::new(pattern).ok()),
            ValueMatch::Present => Self::Present,
        }
    }

    fn matches(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (_, None) => false,
            (Self::Present, Some(_)) => true,
            (Self::Exact(want), Some(v)) => want == v,
            (Self::Regex(re), Some(v)) => re.as_ref().is_some_and(|re| re.is_match(v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_ingress_model::NoAttributes;

    struct Req(&'static str, Option<&'static str>);

    impl RequestAttributes for Req {
        fn method(&self) -> &str {
            self.0
        }
        fn header(&self, name: &str) -> Option<&str> {
            self.1.filter(|_| name == "x")
        }
        fn cookie(&self, name: &str) -> Option<&str> {
            self.1.filter(|_| name == "c")
        }
        fn query(&self, name: &str) -> Option<&str> {
            self.1.filter(|_| name == "q")
        }
    }

    #[test]
    fn compiled_conditions_agree_with_the_model() {
        let values = [
            ValueMatch::Exact("v1".into()),
            ValueMatch::Regex("^v".into()),
            ValueMatch::Regex("(".into()),
            ValueMatch::Present,
        ];
        let mut conditions = vec![
            Condition::Method("get".into()),
            Condition::Method("POST".into()),
        ];
        for value in values {
            for name in ["x", "c", "q", "other"] {
                let name = name.to_owned();
                conditions.push(Condition::Header {
                    name: name.clone(),
                    value: value.clone(),
                });
                conditions.push(Condition::Cookie {
                    name: name.clone(),
                    value: value.clone(),
                });
                conditions.push(Condition::Query {
                    name,
                    value: value.clone(),
                });
            }
        }
        let requests: [&dyn RequestAttributes; 5] = [
            &NoAttributes,
            &Req("GET", Some("v1")),
            &Req("post", Some("w")),
            &Req("PUT", Some("")),
            &Req("GET", None),
        ];
        for condition in &conditions {
            let compiled = Conditions::compile(std::slice::from_ref(condition));
            for request in requests {
                assert_eq!(
                    compiled.hold(request),
                    condition.holds(request),
                    "{condition:?}"
                );
            }
        }
        assert!(Conditions::compile(&[]).hold(&NoAttributes));
    }
}
