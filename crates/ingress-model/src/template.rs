//! Value templates with nginx-style variables (`$host`, `${request_uri}`, `$http_x_user`, `$1`).
//!
//! ingress-nginx pastes annotation values into `nginx.conf`, so any nginx variable works there.
//! sluice accepts only a whitelisted subset, parsed once into [`Template`] parts that the proxy
//! expands per request; anything else is an invalid annotation value.

use std::fmt;

use serde::{Serialize, Serializer};

/// A parsed value: literal text interleaved with variables and regex captures.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Template {
    /// The value as written.
    pub text: String,
    /// The parts, in order; concatenating their expansions gives the value.
    pub parts: Vec<Part>,
}

/// One part of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Part {
    /// Text copied as is.
    Literal(String),
    /// A variable, expanded per request.
    Var(Variable),
    /// `$1`..`$9`: a capture group of the route's path regex (rewrite-target only).
    Capture(u8),
}

/// The whitelisted nginx variables (the Traefik compatibility subset plus the per-location ones).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "name", content = "arg", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Variable {
    /// `$scheme`: `http` or `https`.
    Scheme,
    /// `$host`: the request host without port, lowercase.
    Host,
    /// `$hostname`: the proxy's host name.
    Hostname,
    /// `$server_name`: the virtual host's name.
    ServerName,
    /// `$server_port`: the port the request arrived on.
    ServerPort,
    /// `$best_http_host`: the `Host` header (with port) or the server name.
    BestHttpHost,
    /// `$http_<name>`: a request header (name lowercase, `_` for `-`).
    Header(String),
    /// `$cookie_<name>`: a request cookie.
    Cookie(String),
    /// `$arg_<name>`: a query parameter.
    Arg(String),
    /// `$request_uri`: the original path and query.
    RequestUri,
    /// `$escaped_request_uri`: `$request_uri` percent-escaped for use in a query value.
    EscapedRequestUri,
    /// `$uri`: the normalised path, after rewrites.
    Uri,
    /// `$document_uri`: same as `$uri`.
    DocumentUri,
    /// `$args`: the query string without `?`.
    Args,
    /// `$query_string`: same as `$args`.
    QueryString,
    /// `$is_args`: `?` when there is a query string, else empty.
    IsArgs,
    /// `$request_method`.
    RequestMethod,
    /// `$remote_addr`: the client address after real-IP processing.
    RemoteAddr,
    /// `$content_type`: the request `Content-Type`.
    ContentType,
    /// `$content_length`: the request `Content-Length`.
    ContentLength,
    /// `$proxy_add_x_forwarded_for`: the incoming `X-Forwarded-For` plus the client address.
    ProxyAddXForwardedFor,
    /// `$request_id` / `$req_id`: the request id (`X-Request-ID`).
    RequestId,
    /// `$namespace`: the Ingress namespace.
    Namespace,
    /// `$ingress_name`: the Ingress name.
    IngressName,
    /// `$service_name`: the backend Service name.
    ServiceName,
    /// `$service_port`: the backend Service port.
    ServicePort,
    /// `$location_path`: the Ingress path as written.
    LocationPath,
}

/// Which extra parts a value may contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allow {
    /// `$1`..`$9` capture references.
    pub captures: bool,
    /// `$namespace`, `$ingress_name`, `$service_name`, `$service_port`, `$location_path`.
    pub location_vars: bool,
}

impl Allow {
    /// Only the request variables.
    pub const VARS: Allow = Allow {
        captures: false,
        location_vars: false,
    };
    /// Request variables and regex captures (rewrite-target).
    pub const CAPTURES: Allow = Allow {
        captures: true,
        location_vars: false,
    };
    /// Request and per-location variables (upstream-vhost).
    pub const LOCATION: Allow = Allow {
        captures: false,
        location_vars: true,
    };
}

impl Template {
    /// Parses `text`; the error says which variable or character is not allowed.
    pub fn parse(text: &str, allow: Allow) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find('$') {
            literal.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
                let end = inner
                    .find('}')
                    .ok_or_else(|| format!("unterminated ${{ in {text:?}"))?;
                (&inner[..end], end + 2)
            } else if after.starts_with(|c: char| c.is_ascii_digit()) {
                (&after[..1], 1)
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            };
            if name.is_empty() {
                return Err("a '$' must start a variable name".into());
            }
            let part = variable(name, allow)?;
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            parts.push(part);
            rest = &after[consumed..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self {
            text: text.to_owned(),
            parts,
        })
    }

    /// A template of literal text only.
    pub fn literal(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            parts: if text.is_empty() {
                Vec::new()
            } else {
                vec![Part::Literal(text.to_owned())]
            },
        }
    }

    /// Whether the template contains no variable or capture.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Literal(_)))
    }

    /// The literal text before the first variable.
    pub fn literal_prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Literal(text)) => text,
            _ => "",
        }
    }

    /// The highest capture group referenced, 0 for none.
    pub fn max_capture(&self) -> u8 {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Capture(n) => Some(*n),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
}

fn variable(name: &str, allow: Allow) -> Result<Part, String> {
    if let Ok(n) = name.parse::<u8>() {
        return if allow.captures && (1..=9).contains(&n) {
            Ok(Part::Capture(n))
        } else if allow.captures {
            Err(format!("capture ${n} is out of range (1-9)"))
        } else {
            Err(format!("capture reference ${n} is not allowed here"))
        };
    }
    let named = |prefix: &str| {
        name.strip_prefix(prefix)
            .filter(|rest| !rest.is_empty())
            .map(|rest| rest.to_ascii_lowercase())
    };
    let var = match name {
        "scheme" => Variable::Scheme,
        "host" => Variable::Host,
        "hostname" => Variable::Hostname,
        "server_name" => Variable::ServerName,
        "server_port" => Variable::ServerPort,
        "best_http_host" => Variable::BestHttpHost,
        "request_uri" => Variable::RequestUri,
        "escaped_request_uri" => Variable::EscapedRequestUri,
        "uri" => Variable::Uri,
        "document_uri" => Variable::DocumentUri,
        "args" => Variable::Args,
        "query_string" => Variable::QueryString,
        "is_args" => Variable::IsArgs,
        "request_method" => Variable::RequestMethod,
        "remote_addr" => Variable::RemoteAddr,
        "content_type" => Variable::ContentType,
        "content_length" => Variable::ContentLength,
        "proxy_add_x_forwarded_for" => Variable::ProxyAddXForwardedFor,
        "request_id" | "req_id" => Variable::RequestId,
        "namespace" if allow.location_vars => Variable::Namespace,
        "ingress_name" if allow.location_vars => Variable::IngressName,
        "service_name" if allow.location_vars => Variable::ServiceName,
        "service_port" if allow.location_vars => Variable::ServicePort,
        "location_path" if allow.location_vars => Variable::LocationPath,
        _ => {
            if let Some(h) = named("http_") {
                Variable::Header(h)
            } else if let Some(c) = named("cookie_") {
                Variable::Cookie(c)
            } else if let Some(a) = named("arg_") {
                Variable::Arg(a)
            } else {
                return Err(format!(
                    "variable ${name} is not supported (allowed: $scheme $host $hostname $server_name $server_port $best_http_host $http_* $cookie_* $arg_* $request_uri $escaped_request_uri $uri $document_uri $args $query_string $is_args $request_method $remote_addr $content_type $content_length $proxy_add_x_forwarded_for $request_id{})",
                    if allow.location_vars {
                        " $namespace $ingress_name $service_name $service_port $location_path"
                    } else {
                        ""
                    }
                ));
            }
        }
    };
    Ok(Part::Var(var))
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_variables_captures_and_literals() {
        let t = Template::parse("https://$host${request_uri}/x$1", Allow::CAPTURES).unwrap();
        assert_eq!(
            t.parts,
            vec![
                Part::Literal("https://".into()),
                Part::Var(Variable::Host),
                Part::Var(Variable::RequestUri),
                Part::Literal("/x".into()),
                Part::Capture(1),
            ]
        );
        assert_eq!(t.max_capture(), 1);
        assert_eq!(t.literal_prefix(), "https://");
        let h = Template::parse("$http_X_User", Allow::VARS).unwrap();
        assert_eq!(h.parts, vec![Part::Var(Variable::Header("x_user".into()))]);
    }

    #[test]
    fn rejects_what_is_not_whitelisted() {
        assert!(Template::parse("$1", Allow::VARS).is_err());
        assert!(Template::parse("$document_root", Allow::VARS).is_err());
        assert!(Template::parse("${host", Allow::VARS).is_err());
        assert!(Template::parse("a$", Allow::VARS).is_err());
        assert!(Template::parse("$namespace", Allow::VARS).is_err());
        assert!(Template::parse("$namespace", Allow::LOCATION).is_ok());
        assert!(Template::parse("$http_", Allow::VARS).is_err());
    }
}
