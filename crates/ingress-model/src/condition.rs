//! Extra route conditions beyond the path: headers, cookies, query parameters, method.
//! Canary-by-header/cookie routes use them; so will Gateway API `HTTPRoute` matches.

use serde::Serialize;

/// One condition a request must meet.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Condition {
    /// A request header (name lowercase; the first value counts).
    Header {
        /// Lowercase header name.
        name: String,
        /// How the value must match.
        value: ValueMatch,
    },
    /// A cookie from the `Cookie` header.
    Cookie {
        /// Cookie name.
        name: String,
        /// How the value must match.
        value: ValueMatch,
    },
    /// A query parameter (first occurrence).
    Query {
        /// Parameter name.
        name: String,
        /// How the value must match.
        value: ValueMatch,
    },
    /// The request method, e.g. `GET`.
    Method(String),
}

/// How a value must match.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum ValueMatch {
    /// Equal to this string.
    Exact(String),
    /// Matches this regex somewhere (a regex that does not compile matches nothing).
    Regex(String),
    /// Present with any value.
    Present,
}

/// What conditions may ask of a request. The proxy implements it over its request type.
pub trait RequestAttributes {
    /// The method, e.g. `GET`.
    fn method(&self) -> &str;
    /// The first value of a header (lowercase name).
    fn header(&self, name: &str) -> Option<&str>;
    /// The value of a cookie.
    fn cookie(&self, name: &str) -> Option<&str>;
    /// The first value of a query parameter.
    fn query(&self, name: &str) -> Option<&str>;
}

/// A request with no headers, cookies or query: only unconditional routes match it.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAttributes;

impl RequestAttributes for NoAttributes {
    fn method(&self) -> &str {
        "GET"
    }
    fn header(&self, _: &str) -> Option<&str> {
        None
    }
    fn cookie(&self, _: &str) -> Option<&str> {
        None
    }
    fn query(&self, _: &str) -> Option<&str> {
        None
    }
}

impl ValueMatch {
    /// Whether a (possibly absent) value matches.
    pub fn matches(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (_, None) => false,
            (Self::Present, Some(_)) => true,
            (Self::Exact(want), Some(v)) => want == v,
            (Self::Regex(re), Some(v)) => regex::Regex::new(re).is_ok_and(|re| re.is_match(v)),
        }
    }
}

impl Condition {
    /// Whether the request meets this condition.
    pub fn holds(&self, request: &dyn RequestAttributes) -> bool {
        match self {
            Self::Header { name, value } => value.matches(request.header(name)),
            Self::Cookie { name, value } => value.matches(request.cookie(name)),
            Self::Query { name, value } => value.matches(request.query(name)),
            Self::Method(method) => request.method().eq_ignore_ascii_case(method),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Req;
    impl RequestAttributes for Req {
        fn method(&self) -> &str {
            "POST"
        }
        fn header(&self, name: &str) -> Option<&str> {
            (name == "x-canary").then_some("always")
        }
        fn cookie(&self, name: &str) -> Option<&str> {
            (name == "c").then_some("v1")
        }
        fn query(&self, _: &str) -> Option<&str> {
            None
        }
    }

    #[test]
    fn conditions_evaluate_against_the_request() {
        let header = |v| Condition::Header {
            name: "x-canary".into(),
            value: v,
        };
        assert!(header(ValueMatch::Exact("always".into())).holds(&Req));
        assert!(!header(ValueMatch::Exact("never".into())).holds(&Req));
        assert!(header(ValueMatch::Regex("^al".into())).holds(&Req));
        assert!(!header(ValueMatch::Regex("(".into())).holds(&Req));
        assert!(header(ValueMatch::Present).holds(&Req));
        assert!(
            Condition::Cookie {
                name: "c".into(),
                value: ValueMatch::Present
            }
            .holds(&Req)
        );
        assert!(
            !Condition::Query {
                name: "q".into(),
                value: ValueMatch::Present
            }
            .holds(&Req)
        );
        assert!(Condition::Method("post".into()).holds(&Req));
        assert!(!header(ValueMatch::Present).holds(&NoAttributes));
    }
}
