//! Strings the fuzzer picks from a list by index, or writes itself.

use arbitrary::Arbitrary;

/// Namespaces.
pub const NAMESPACES: &[&str] = &["default", "other", "kube-system"];
/// Object names (Ingresses, Services, Secrets, ConfigMaps).
pub const NAMES: &[&str] = &["web", "api", "svc", "auth", "tls", "a", "b"];
/// Rule and request hosts, good and bad.
pub const HOSTS: &[&str] = &[
    "a.example.com",
    "b.example.com",
    "*.example.com",
    "c.a.example.com",
    "A.Example.COM.",
    "a.example.com:8080",
    "*.a.example.com",
    "www.a.example.com",
    "example.com",
    "",
    "x",
    "10.0.0.1",
    "[::1]:443",
    "-bad-.com",
    "a..com",
    "*",
    "user@a.example.com",
];
/// Ingress and request paths, regexes among them.
pub const PATHS: &[&str] = &[
    "/",
    "/a",
    "/a/",
    "/a/b",
    "/ab",
    "/api",
    "/api/v1",
    "/api/v1/users",
    "//a",
    "/a/./b",
    "/a/../b",
    "/%2e%2e/x",
    "/a%2Fb",
    "/a%2fb",
    "/.well-known/acme-challenge",
    "/{x}",
    "/{*r}",
    "/a{",
    "/(a|b)/.*",
    "/api/(.*)",
    "/a[",
    "/(?<=a)b",
    "/caf\u{e9}",
    "",
    "a",
];
/// Annotation and ConfigMap values that parse (or nearly parse) for many keys.
pub const VALUES: &[&str] = &[
    "true",
    "false",
    "0",
    "1",
    "5",
    "60",
    "-1",
    "100",
    "99999999999999999999",
    "10s",
    "1m",
    "8k",
    "100m",
    "1g",
    "on",
    "off",
    "/",
    "/$1",
    "/$2/x",
    "$host",
    "${request_uri}",
    "$http_x_user",
    "$nginx_version",
    "https://auth.example.com/verify",
    "https://$host/login?rd=$escaped_request_uri",
    "http://",
    "10.0.0.0/8",
    "10.0.0.1,192.168.0.0/16",
    "::1/128",
    "GET, POST",
    "*",
    "https://a.example.com, https://b.example.com",
    "X-Custom, Authorization",
    "always",
    "never",
    "cookie",
    "balanced",
    "persistent",
    "round_robin",
    "ewma",
    "$request_uri",
    "HTTP",
    "HTTPS",
    "GRPC",
    "GRPCS",
    "basic",
    "digest",
    "auth-file",
    "auth-map",
    "web",
    "default/web",
    "other/auth",
    "error timeout http_502",
    "502 503",
    "a.example.com,b.example.com",
    "TLSv1.2 TLSv1.3",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "more_set_headers \"X: y\";",
    "",
    " ",
    ";",
];

/// A string from `LIST` by index, or raw.
#[derive(Arbitrary, Clone, Debug)]
pub enum Text {
    /// `list[index % list.len()]`.
    Pick(u8),
    /// Written by the fuzzer.
    Raw(String),
}

impl Text {
    /// The string, picking from `list` (which must not be empty).
    pub fn get(&self, list: &[&str]) -> String {
        match self {
            Text::Pick(i) => pick(list, usize::from(*i)).to_owned(),
            Text::Raw(s) => s.clone(),
        }
    }
}

/// `list[index % list.len()]`; `""` for an empty list.
pub fn pick<'a>(list: &[&'a str], index: usize) -> &'a str {
    match list.len() {
        0 => "",
        n => list[index % n],
    }
}

/// An index into [`NAMES`].
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct Name(pub u8);

impl Name {
    /// The name.
    pub fn get(self) -> String {
        pick(NAMES, usize::from(self.0)).to_owned()
    }
}

/// An index into [`NAMESPACES`].
#[derive(Arbitrary, Clone, Copy, Debug)]
pub struct Namespace(pub u8);

impl Namespace {
    /// The namespace.
    pub fn get(self) -> String {
        pick(NAMESPACES, usize::from(self.0)).to_owned()
    }
}
