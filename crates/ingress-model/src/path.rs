//! Path matches (Exact, element-wise Prefix, Regex) and the one path normalisation both the
//! reference matcher and the router rely on.
//!
//! # Normalisation policy
//! [`normalize_path`] is applied to request paths before matching and to Ingress paths when
//! they are parsed, so both sides compare like with like:
//! 1. Percent-escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded; every other
//!    escape is kept, with its hex digits uppercased. **`%2F` stays encoded**: it is never a
//!    path separator, so `/a%2Fb` is one segment. A `%` not followed by two hex digits becomes
//!    `%25`.
//! 2. Bytes that may not appear in a path (controls, space, `"`, `<`, `>`, `\`, `^`, `` ` ``, `{`,
//!    `|`, `}`, `?`, `#`, non-ASCII) are percent-encoded.
//! 3. Empty segments (`//`) are removed and dot segments are resolved as in RFC 3986 §5.2.4,
//!    after step 1, so `%2e%2e` counts as `..`. Nothing climbs above `/`.
//!
//! Case is kept: paths match case-sensitively except in regex mode. The upstream receives the
//! request's original path unless a rewrite applies.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// How a route matches the request path. Paths are stored normalised.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", content = "path")]
pub enum PathMatch {
    /// The whole path equals this one.
    Exact(String),
    /// The path's elements start with this path's elements (`/foo` matches `/foo`, `/foo/` and
    /// `/foo/bar`, not `/foobar`). Stored without a trailing slash, except `/` itself.
    Prefix(String),
    /// ingress-nginx regex mode: the pattern, case-insensitive, anchored at the start only.
    Regex(String),
}

/// Why a path in an Ingress rule is not accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// Does not start with `/`.
    #[error("must start with '/'")]
    NotAbsolute,
    /// Contains `//`, `/./`, `/../`, `%2F`, or ends in `/.` or `/..` (Kubernetes forbids these
    /// in Exact and Prefix paths).
    #[error(
        "must not contain '//', '/./', '/../' or '%2F', nor end in '/.' or '/..' (pathType {0})"
    )]
    InvalidSequence(&'static str),
    /// Not a valid regular expression (or uses PCRE-only syntax).
    #[error("invalid regular expression: {0}")]
    InvalidRegex(String),
}

impl PathMatch {
    /// Builds an Exact match from an Ingress path.
    pub fn exact(path: &str) -> Result<Self, PathError> {
        check_strict(path, "Exact")?;
        Ok(Self::Exact(normalize_path(path).into_owned()))
    }

    /// Builds a Prefix match from an Ingress path; `/foo/` and `/foo` are the same prefix.
    /// `strict` applies the Kubernetes Exact/Prefix character rules (off for
    /// `ImplementationSpecific`, which is normalised instead).
    pub fn prefix(path: &str, strict: bool) -> Result<Self, PathError> {
        if strict {
            check_strict(path, "Prefix")?;
        } else if !path.starts_with('/') {
            return Err(PathError::NotAbsolute);
        }
        let normalized = normalize_path(path);
        let trimmed = normalized.trim_end_matches('/');
        Ok(Self::Prefix(if trimmed.is_empty() {
            "/".to_owned()
        } else {
            trimmed.to_owned()
        }))
    }

    /// Builds a regex match (ingress-nginx `use-regex`): validated, kept as written.
    pub fn regex(pattern: &str) -> Result<Self, PathError> {
        if !pattern.starts_with('/') {
            return Err(PathError::NotAbsolute);
        }
        compile_regex(pattern).map_err(|e| PathError::InvalidRegex(e.to_string()))?;
        Ok(Self::Regex(pattern.to_owned()))
    }

    /// The path or pattern text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Exact(p) | Self::Prefix(p) | Self::Regex(p) => p,
        }
    }

    /// Whether a normalised request path matches. A regex that fails to compile matches nothing.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(p) => p == path,
            Self::Prefix(p) => prefix_matches(p, path),
            Self::Regex(pattern) => compile_regex(pattern).is_ok_and(|re| re.is_match(path)),
        }
    }

    /// The precedence of this match; of all matching routes, the greatest wins. Longer paths
    /// win; at equal length Exact beats Prefix beats Regex; regexes of equal length are ordered
    /// by reverse lexical order (ingress-nginx's location order).
    pub fn precedence(&self) -> Precedence<'_> {
        let (rank, text) = match self {
            Self::Regex(p) => (0, p),
            Self::Prefix(p) => (1, p),
            Self::Exact(p) => (2, p),
        };
        Precedence {
            length: text.len(),
            rank,
            text,
        }
    }
}

impl fmt::Display for PathMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(p) => write!(f, "={p}"),
            Self::Prefix(p) => write!(f, "{p}*"),
            Self::Regex(p) => write!(f, "~*^{p}"),
        }
    }
}

/// The sort key of a path match; see [`PathMatch::precedence`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Precedence<'a> {
    length: usize,
    rank: u8,
    text: &'a str,
}

/// Compiles an ingress-nginx regex path: case-insensitive, anchored at the start.
pub fn compile_regex(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})"))
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
}

/// Element-wise prefix match of normalised paths.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return path.starts_with('/');
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

fn check_strict(path: &str, kind: &'static str) -> Result<(), PathError> {
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let bad = ["//", "/./", "/../", "%2f", "%2F"]
        .iter()
        .any(|s| path.contains(s))
        || path.ends_with("/..")
        || path.ends_with("/.");
    if bad {
        Err(PathError::InvalidSequence(kind))
    } else {
        Ok(())
    }
}

/// Normalises a request path for matching (see the module documentation for the policy).
/// Returns the input unchanged, without allocating, when it is already normal.
pub fn normalize_path(path: &str) -> Cow<'_, str> {
    if is_normal(path) {
        return Cow::Borrowed(path);
    }
    let decoded = decode_and_encode(path);
    Cow::Owned(remove_dot_segments(&decoded))
}

fn is_normal(path: &str) -> bool {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return false;
    }
    if !bytes.iter().all(|&b| is_path_char(b) || b == b'/') {
        return false;
    }
    // No empty segments (except a trailing slash) and no dot segments.
    let mut segments = path[1..].split('/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        if seg == "." || seg == ".." || (seg.is_empty() && !last) {
            return false;
        }
    }
    true
}

/// `pchar` of RFC 3986 without `%`: unreserved, sub-delims, `:` and `@`.
fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn push_escaped(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 15)]));
}

fn decode_and_encode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(bytes.len() + 1);
    if bytes.first() != Some(&b'/') {
        out.push('/');
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                let decoded = hi << 4 | lo;
                if is_unreserved(decoded) {
                    out.push(char::from(decoded));
                } else {
                    push_escaped(&mut out, decoded);
                }
                i += 3;
                continue;
            }
            push_escaped(&mut out, b'%');
        } else if b == b'/' || is_path_char(b) {
            out.push(char::from(b));
        } else {
            push_escaped(&mut out, b);
        }
        i += 1;
    }
    out
}

/// RFC 3986 remove_dot_segments on an absolute path, also dropping empty segments.
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for seg in path.split('/').skip(1) {
        trailing_slash = false;
        match seg {
            "" => trailing_slash = true,
            "." => trailing_slash = true,
            ".." => {
                segments.pop();
                trailing_slash = true;
            }
            seg => segments.push(seg),
        }
    }
    let mut out = String::with_capacity(path.len());
    for seg in &segments {
        out.push('/');
        out.push_str(seg);
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_policy() {
        let cases = [
            ("/", "/"),
            ("", "/"),
            ("/a/b", "/a/b"),
            ("/a//b", "/a/b"),
            ("//a", "/a"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/../../b", "/b"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
            ("/a/", "/a/"),
            ("/a//", "/a/"),
            ("/%2e%2e/secret", "/secret"),
            ("/admin/%2E%2E/secret", "/secret"),
            ("/%61%62c", "/abc"),
            ("/a%2fb", "/a%2Fb"),
            ("/a%2Fb", "/a%2Fb"),
            ("/a%2F..%2Fb", "/a%2F..%2Fb"),
            ("/%C0%AE%C0%AE/x", "/%C0%AE%C0%AE/x"),
            ("/caf\u{e9}", "/caf%C3%A9"),
            ("/a b", "/a%20b"),
            ("/a{b}", "/a%7Bb%7D"),
            ("/100%", "/100%25"),
            ("/%zz", "/%25zz"),
            ("a", "/a"),
            ("/Case", "/Case"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_path(input), want, "input {input:?}");
            assert_eq!(normalize_path(want), want, "idempotent on {want:?}");
        }
    }

    #[test]
    fn normal_paths_are_borrowed() {
        assert!(matches!(normalize_path("/api/v1/users"), Cow::Borrowed(_)));
        assert!(matches!(normalize_path("/api/"), Cow::Borrowed(_)));
        assert!(matches!(normalize_path("/a//b"), Cow::Owned(_)));
    }

    #[test]
    fn prefix_is_element_wise() {
        let p = PathMatch::prefix("/foo", true).unwrap();
        assert!(p.matches("/foo"));
        assert!(p.matches("/foo/"));
        assert!(p.matches("/foo/bar"));
        assert!(!p.matches("/foobar"));
        assert_eq!(PathMatch::prefix("/foo/", true).unwrap(), p);
        let root = PathMatch::prefix("/", true).unwrap();
        assert!(root.matches("/"));
        assert!(root.matches("/anything"));
    }

    #[test]
    fn strict_paths_reject_kubernetes_forbidden_sequences() {
        for bad in ["//a", "/a/./b", "/a/../b", "/a%2fb", "/a/..", "/a/."] {
            assert!(PathMatch::exact(bad).is_err(), "{bad}");
            assert!(PathMatch::prefix(bad, true).is_err(), "{bad}");
        }
        assert_eq!(PathMatch::exact("a"), Err(PathError::NotAbsolute));
        assert_eq!(
            PathMatch::prefix("/a//b", false),
            Ok(PathMatch::Prefix("/a/b".into()))
        );
    }

    #[test]
    fn regex_is_case_insensitive_and_start_anchored() {
        let r = PathMatch::regex("/api/v[0-9]+").unwrap();
        assert!(r.matches("/API/V1/users"));
        assert!(!r.matches("/x/api/v1"));
        assert!(PathMatch::regex("/(?<=a)b").is_err());
        assert!(PathMatch::regex("/(unclosed").is_err());
    }

    #[test]
    fn precedence_orders_longest_then_exact() {
        let exact = PathMatch::Exact("/foo".into());
        let prefix = PathMatch::Prefix("/foo".into());
        let longer = PathMatch::Prefix("/foo/bar".into());
        assert!(exact.precedence() > prefix.precedence());
        assert!(longer.precedence() > exact.precedence());
    }
}
