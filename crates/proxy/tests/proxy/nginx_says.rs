//! "ingress-nginx says": one row per documented behaviour. Each row builds its Ingresses (and
//! controller ConfigMap) through the real model, serves them with the real proxy, sends one
//! request and checks the response ingress-nginx documents for it. The comment of each row
//! cites the section of ingress-nginx's documentation (`docs/user-guide/...`).
//!
//! Every row gets the same backends: Services `app` and `other` (echo backends named like
//! them), `errors` (an echo backend used as a default backend) and `empty` (no endpoints);
//! the Secret `tls` holds a certificate.

use std::net::SocketAddr;

use http::Request;
use sluice_ingress_model::{ConfigMap, ObjectKey, PathType, ServiceRef, SnippetPolicy};

use super::support::*;

const ANN: &str = "docs/user-guide/nginx-configuration/annotations.md";
const CM: &str = "docs/user-guide/nginx-configuration/configmap.md";

/// How the request is sent.
#[derive(Clone, Copy)]
enum Via {
    Http,
    Https,
}

/// The request body.
#[derive(Clone, Copy)]
enum Payload {
    None,
    Bytes(usize),
}

struct Req {
    via: Via,
    method: &'static str,
    host: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: Payload,
}

const fn get(host: &'static str, path: &'static str) -> Req {
    Req {
        via: Via::Http,
        method: "GET",
        host,
        path,
        headers: &[],
        body: Payload::None,
    }
}

impl Req {
    const fn https(mut self) -> Self {
        self.via = Via::Https;
        self
    }

    const fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    const fn headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Self {
        self.headers = headers;
        self
    }

    const fn body(mut self, bytes: usize) -> Self {
        self.body = Payload::Bytes(bytes);
        self
    }
}

/// What the response must show.
enum Expect {
    /// The status code.
    Status(u16),
    /// The `Location` header; `{https}` stands for the HTTPS listener's port.
    Location(&'static str),
    /// A response header and its value.
    Header(&'static str, &'static str),
    /// A response header that must be absent.
    NoHeader(&'static str),
    /// Which backend answered.
    Backend(&'static str),
    /// A header the backend received, with its value.
    Upstream(&'static str, &'static str),
    /// A header the backend must not have received.
    NoUpstream(&'static str),
    /// The path and query the backend received.
    UpstreamPath(&'static str),
}

use Expect::*;

struct Row {
    /// Where ingress-nginx documents the behaviour.
    doc: String,
    setup: fn(&mut World),
    request: Req,
    expect: &'static [Expect],
}

fn row(
    doc: &str,
    section: &str,
    setup: fn(&mut World),
    request: Req,
    expect: &'static [Expect],
) -> Row {
    Row {
        doc: format!("{doc}#{section}"),
        setup,
        request,
        expect,
    }
}

/// The plain Ingress most rows start from: `a.example.com` `/` → `app`.
fn app(w: &mut World) -> &mut World {
    w.ingress("ing", Some("a.example.com"), &[("/", "app")])
}

/// `app` with a TLS section for `a.example.com`.
fn app_tls(w: &mut World) -> &mut World {
    app(w).tls("ing", &["a.example.com"], "tls")
}

fn regex_path(w: &mut World, name: &str, host: &str, path: &str, service: &str) {
    w.ingress_paths(
        name,
        Some(host),
        &[(path, PathType::ImplementationSpecific, service)],
    );
}

fn config_map(w: &mut World, name: &str, data: &[(&str, &str)]) {
    w.snapshot.insert_config_map(ConfigMap {
        key: ObjectKey::new(NS, name),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    });
}

fn default_backend_service(w: &mut World) {
    w.options.default_backend = Some(ServiceRef {
        service: ObjectKey::new(NS, "errors"),
        port: None,
    });
}

fn processing_rows() -> Vec<Row> {
    vec![
        // §0: an invalid annotation value rejects the whole Ingress (the admission webhook would
        // deny it); its paths are not served.
        row(
            ANN,
            "annotations",
            |w| {
                app(w).annotate("ing", "proxy-body-size", "ten");
            },
            get("a.example.com", "/"),
            &[Status(404)],
        ),
        // Snippets are refused by default (allow-snippet-annotations false, risk level High).
        row(
            "docs/user-guide/nginx-configuration/annotations-risk.md",
            "annotations-risk",
            |w| {
                app(w).annotate("ing", "configuration-snippet", "more_set_headers \"X: y\";");
            },
            get("a.example.com", "/"),
            &[Status(404)],
        ),
        // With snippets ignored instead of rejected, the Ingress is served without them.
        row(
            CM,
            "allow-snippet-annotations",
            |w| {
                w.options.snippet_policy = SnippetPolicy::Ignore;
                app(w).annotate("ing", "configuration-snippet", "more_set_headers \"X: y\";");
            },
            get("a.example.com", "/"),
            &[Status(200), NoHeader("x")],
        ),
        // Unknown annotations under the prefix are ignored.
        row(
            ANN,
            "annotations",
            |w| {
                app(w).annotate("ing", "not-an-annotation", "x");
            },
            get("a.example.com", "/"),
            &[Status(200), Backend("app")],
        ),
        // A ModSecurity switch is accepted and does nothing here (nginx-internal, T3).
        row(
            ANN,
            "enable-modsecurity",
            |w| {
                app(w).annotate("ing", "enable-modsecurity", "true");
            },
            get("a.example.com", "/"),
            &[Status(200)],
        ),
        // nginx-internal ConfigMap keys are accepted with no effect and never fail.
        row(
            CM,
            "worker-cpu-affinity",
            |w| {
                app(w);
                w.configmap("worker-cpu-affinity", "auto")
                    .configmap("map-hash-bucket-size", "128")
                    .configmap("use-geoip2", "true");
            },
            get("a.example.com", "/"),
            &[Status(200), Backend("app")],
        ),
        // An invalid ConfigMap value keeps the default instead of failing.
        row(
            CM,
            "proxy-body-size",
            |w| {
                app(w);
                w.configmap("proxy-body-size", "lots");
            },
            get("a.example.com", "/").method("POST").body(2048),
            &[Status(200)],
        ),
        // `annotation-value-word-blocklist`: a blocked word in any value rejects the Ingress.
        row(
            CM,
            "annotation-value-word-blocklist",
            |w| {
                app(w).annotate("ing", "x-forwarded-prefix", "/load_module");
                w.configmap("annotation-value-word-blocklist", "load_module");
            },
            get("a.example.com", "/"),
            &[Status(404)],
        ),
        // `annotations-risk-level`: an annotation riskier than the level rejects the Ingress.
        row(
            CM,
            "annotations-risk-level",
            |w| {
                app(w).annotate("ing", "server-alias", "b.example.com");
                w.configmap("annotations-risk-level", "Medium");
            },
            get("a.example.com", "/"),
            &[Status(404)],
        ),
        // Unknown hosts go to the default backend: the built-in one answers 404.
        row(
            "docs/user-guide/default-backend.md",
            "default-backend",
            |w| {
                app(w);
            },
            get("unknown.example.com", "/"),
            &[Status(404)],
        ),
        // `--default-backend-service` serves unmatched requests.
        row(
            "docs/user-guide/cli-arguments.md",
            "default-backend-service",
            |w| {
                app(w);
                default_backend_service(w);
            },
            get("unknown.example.com", "/x"),
            &[Status(200), Backend("errors")],
        ),
        // An Ingress with only spec.defaultBackend becomes the catch-all.
        row(
            "docs/user-guide/default-backend.md",
            "default-backend",
            |w| {
                app(w);
                w.catch_all("fallback", "other");
            },
            get("unknown.example.com", "/x"),
            &[Status(200), Backend("other")],
        ),
        // Two Ingresses with the same host and path: the oldest one wins.
        row(
            "docs/how-it-works.md",
            "building-the-nginx-model",
            |w| {
                app(w).created("ing", 200);
                w.ingress("older", Some("a.example.com"), &[("/", "other")])
                    .created("older", 100);
            },
            get("a.example.com", "/"),
            &[Status(200), Backend("other")],
        ),
        // A Service without endpoints answers 503.
        row(
            ANN,
            "default-backend",
            |w| {
                w.ingress("ing", Some("a.example.com"), &[("/", "empty")]);
            },
            get("a.example.com", "/"),
            &[Status(503)],
        ),
    ]
}

fn routing_rows() -> Vec<Row> {
    vec![
        // rewrite-target: `/something(/|$)(.*)` with `/$2`.
        row(
            ANN,
            "rewrite",
            |w| {
                regex_path(w, "ing", "a.example.com", "/something(/|$)(.*)", "app");
                w.annotate("ing", "rewrite-target", "/$2");
            },
            get("a.example.com", "/something/new?x=1"),
            &[Status(200), UpstreamPath("/new?x=1")],
        ),
        row(
            ANN,
            "rewrite",
            |w| {
                regex_path(w, "ing", "a.example.com", "/something(/|$)(.*)", "app");
                w.annotate("ing", "rewrite-target", "/$2");
            },
            get("a.example.com", "/something"),
            &[Status(200), UpstreamPath("/")],
        ),
        // Regex paths are case-insensitive.
        row(
            ANN,
            "rewrite",
            |w| {
                regex_path(w, "ing", "a.example.com", "/something(/|$)(.*)", "app");
                w.annotate("ing", "rewrite-target", "/$2");
            },
            get("a.example.com", "/SOMETHING/x"),
            &[Status(200), UpstreamPath("/x")],
        ),
        // A target with its own query keeps the request's after `&`.
        row(
            ANN,
            "rewrite",
            |w| {
                regex_path(w, "ing", "a.example.com", "/api/(.*)", "app");
                w.annotate("ing", "rewrite-target", "/v2/$1?src=edge");
            },
            get("a.example.com", "/api/users?page=2"),
            &[UpstreamPath("/v2/users?src=edge&page=2")],
        ),
        // x-forwarded-prefix goes upstream together with the rewrite.
        row(
            ANN,
            "x-forwarded-prefix-header",
            |w| {
                regex_path(w, "ing", "a.example.com", "/something(/|$)(.*)", "app");
                w.annotate("ing", "rewrite-target", "/$2").annotate(
                    "ing",
                    "x-forwarded-prefix",
                    "/something",
                );
            },
            get("a.example.com", "/something/a"),
            &[
                UpstreamPath("/a"),
                Upstream("x-forwarded-prefix", "/something"),
            ],
        ),
        // use-regex: paths are regexes anchored at the start.
        row(
            ANN,
            "use-regex",
            |w| {
                regex_path(w, "ing", "a.example.com", "/foo/[0-9]+", "app");
                w.annotate("ing", "use-regex", "true");
            },
            get("a.example.com", "/foo/123/bar"),
            &[Status(200), Backend("app"), UpstreamPath("/foo/123/bar")],
        ),
        row(
            ANN,
            "use-regex",
            |w| {
                regex_path(w, "ing", "a.example.com", "/foo/[0-9]+", "app");
                w.annotate("ing", "use-regex", "true");
            },
            get("a.example.com", "/foo/abc"),
            &[Status(404)],
        ),
        // use-regex on one Ingress switches every path of the host to case-insensitive regex.
        row(
            "docs/user-guide/ingress-path-matching.md",
            "warning",
            |w| {
                regex_path(w, "ing", "a.example.com", "/foo/[0-9]+", "app");
                w.annotate("ing", "use-regex", "true");
                w.ingress("other", Some("a.example.com"), &[("/bar", "other")]);
            },
            get("a.example.com", "/BAR"),
            &[Status(200), Backend("other")],
        ),
        // app-root: `/` gets 302 to `$scheme://$http_host<app-root>`.
        row(
            ANN,
            "app-root",
            |w| {
                app(w).annotate("ing", "app-root", "/app1");
            },
            get("a.example.com", "/"),
            &[Status(302), Location("http://a.example.com/app1")],
        ),
        row(
            ANN,
            "app-root",
            |w| {
                app(w).annotate("ing", "app-root", "/app1");
            },
            get("a.example.com", "/other"),
            &[Status(200), Backend("app")],
        ),
        // permanent-redirect: 301 by default.
        row(
            ANN,
            "permanent-redirect",
            |w| {
                app(w).annotate("ing", "permanent-redirect", "https://www.google.com");
            },
            get("a.example.com", "/x"),
            &[Status(301), Location("https://www.google.com")],
        ),
        // permanent-redirect-code.
        row(
            ANN,
            "permanent-redirect-code",
            |w| {
                app(w)
                    .annotate("ing", "permanent-redirect", "https://www.google.com")
                    .annotate("ing", "permanent-redirect-code", "308");
            },
            get("a.example.com", "/x"),
            &[Status(308), Location("https://www.google.com")],
        ),
        // temporal-redirect: 302.
        row(
            ANN,
            "temporal-redirect",
            |w| {
                app(w).annotate("ing", "temporal-redirect", "https://www.google.com");
            },
            get("a.example.com", "/x"),
            &[Status(302), Location("https://www.google.com")],
        ),
        // temporal-redirect is evaluated before permanent-redirect.
        row(
            ANN,
            "temporal-redirect",
            |w| {
                app(w)
                    .annotate("ing", "temporal-redirect", "https://t.example.com")
                    .annotate("ing", "permanent-redirect", "https://p.example.com");
            },
            get("a.example.com", "/x"),
            &[Status(302), Location("https://t.example.com")],
        ),
        // nginx variables in the redirect URL.
        row(
            ANN,
            "permanent-redirect",
            |w| {
                app(w).annotate(
                    "ing",
                    "permanent-redirect",
                    "https://new.example.com$request_uri",
                );
            },
            get("a.example.com", "/p?q=1"),
            &[Status(301), Location("https://new.example.com/p?q=1")],
        ),
        // A redirect is answered before the HTTPS redirect and the IP lists.
        row(
            ANN,
            "permanent-redirect",
            |w| {
                app_tls(w)
                    .annotate("ing", "permanent-redirect", "https://new.example.com")
                    .annotate("ing", "whitelist-source-range", "10.0.0.0/8");
            },
            get("a.example.com", "/"),
            &[Status(301), Location("https://new.example.com")],
        ),
        // from-to-www-redirect: the www twin redirects to the rule host (http-redirect-code,
        // the HTTPS port when it is not 443, no trailing slash).
        row(
            ANN,
            "redirect-fromto-www",
            |w| {
                app(w).annotate("ing", "from-to-www-redirect", "true");
            },
            get("www.a.example.com", "/x/"),
            &[Status(308), Location("http://a.example.com:{https}/x")],
        ),
        // server-alias serves the same configuration under more names.
        row(
            ANN,
            "server-alias",
            |w| {
                app(w).annotate("ing", "server-alias", "b.example.com");
            },
            get("b.example.com", "/"),
            &[Status(200), Backend("app")],
        ),
        // default-backend: serves (with X-Code 503) when the Service has no endpoints.
        row(
            ANN,
            "default-backend",
            |w| {
                w.ingress("ing", Some("a.example.com"), &[("/", "empty")])
                    .annotate("ing", "default-backend", "errors");
            },
            get("a.example.com", "/page"),
            &[
                Status(200),
                Backend("errors"),
                Upstream("x-code", "503"),
                Upstream("x-service-name", "empty"),
                UpstreamPath("/page"),
            ],
        ),
        // custom-http-errors: listed upstream statuses are served by the default backend.
        row(
            ANN,
            "custom-http-errors",
            |w| {
                app(w)
                    .annotate("ing", "custom-http-errors", "404,503")
                    .annotate("ing", "default-backend", "errors");
            },
            get("a.example.com", "/x?status=503"),
            &[
                Backend("errors"),
                Upstream("x-code", "503"),
                Upstream("x-original-uri", "/x?status=503"),
                Upstream("x-ingress-name", "ing"),
                UpstreamPath("/?status=503"),
            ],
        ),
        // The ConfigMap's custom-http-errors with the controller's default backend.
        row(
            CM,
            "custom-http-errors",
            |w| {
                app(w);
                default_backend_service(w);
                w.configmap("custom-http-errors", "404");
            },
            get("a.example.com", "/?status=404"),
            &[Backend("errors"), Upstream("x-code", "404")],
        ),
        // Without any default backend the built-in one answers (404).
        row(
            ANN,
            "custom-http-errors",
            |w| {
                app(w).annotate("ing", "custom-http-errors", "500");
            },
            get("a.example.com", "/?status=500"),
            &[Status(404)],
        ),
        // disable-proxy-intercept-errors: upstream errors pass through.
        row(
            ANN,
            "disable-proxy-intercept-errors",
            |w| {
                app(w)
                    .annotate("ing", "custom-http-errors", "500")
                    .annotate("ing", "default-backend", "errors")
                    .annotate("ing", "disable-proxy-intercept-errors", "true");
            },
            get("a.example.com", "/?status=500"),
            &[Status(500), Backend("app")],
        ),
    ]
}

fn tls_rows() -> Vec<Row> {
    vec![
        // ssl-redirect (default true) for a host with TLS: 308 to https, trailing slash dropped.
        row(
            ANN,
            "server-side-https-enforcement-through-redirect",
            |w| {
                app_tls(w);
            },
            get("a.example.com", "/path/?q=1"),
            &[Status(308), Location("https://a.example.com/path/?q=1")],
        ),
        row(
            ANN,
            "server-side-https-enforcement-through-redirect",
            |w| {
                app_tls(w);
            },
            get("a.example.com", "/dir/"),
            &[Status(308), Location("https://a.example.com/dir")],
        ),
        // preserve-trailing-slash keeps it.
        row(
            ANN,
            "server-side-https-enforcement-through-redirect",
            |w| {
                app_tls(w).annotate("ing", "preserve-trailing-slash", "true");
            },
            get("a.example.com", "/dir/"),
            &[Status(308), Location("https://a.example.com/dir/")],
        ),
        // The port of the Host header is dropped from the redirect.
        row(
            ANN,
            "server-side-https-enforcement-through-redirect",
            |w| {
                app_tls(w);
            },
            get("a.example.com:8080", "/"),
            &[Status(308), Location("https://a.example.com")],
        ),
        // ssl-redirect: "false" turns it off.
        row(
            ANN,
            "server-side-https-enforcement-through-redirect",
            |w| {
                app_tls(w).annotate("ing", "ssl-redirect", "false");
            },
            get("a.example.com", "/"),
            &[Status(200)],
        ),
        // Hosts without TLS are not redirected.
        row(
            ANN,
            "server-side-https-enforcement-through-redirect",
            |w| {
                app(w);
            },
            get("a.example.com", "/"),
            &[Status(200)],
        ),
        // force-ssl-redirect redirects without a TLS section.
        row(
            ANN,
            "server-side-https-enforcement-through-redirect",
            |w| {
                app(w).annotate("ing", "force-ssl-redirect", "true");
            },
            get("a.example.com", "/x"),
            &[Status(308), Location("https://a.example.com/x")],
        ),
        // …but not when a trusted X-Forwarded-Proto says the client used HTTPS.
        row(
            CM,
            "use-forwarded-headers",
            |w| {
                app(w).annotate("ing", "force-ssl-redirect", "true");
                w.configmap("use-forwarded-headers", "true");
            },
            get("a.example.com", "/x").headers(&[("x-forwarded-proto", "https")]),
            &[Status(200)],
        ),
        // The redirect host comes from X-Forwarded-Host when forwarded headers are trusted.
        row(
            CM,
            "use-forwarded-headers",
            |w| {
                app(w).annotate("ing", "force-ssl-redirect", "true");
                w.configmap("use-forwarded-headers", "true");
            },
            get("a.example.com", "/x").headers(&[("x-forwarded-host", "public.example.com:80")]),
            &[Status(308), Location("https://public.example.com/x")],
        ),
        // No redirect over HTTPS.
        row(
            ANN,
            "server-side-https-enforcement-through-redirect",
            |w| {
                app_tls(w);
            },
            get("a.example.com", "/").https(),
            &[Status(200)],
        ),
        // no-tls-redirect-locations: the ACME challenge path is never redirected.
        // (cert-manager's solver Ingress uses pathType ImplementationSpecific.)
        row(
            CM,
            "no-tls-redirect-locations",
            |w| {
                app_tls(w);
                w.ingress_paths(
                    "acme",
                    Some("a.example.com"),
                    &[(
                        "/.well-known/acme-challenge/token",
                        PathType::ImplementationSpecific,
                        "other",
                    )],
                );
            },
            get("a.example.com", "/.well-known/acme-challenge/token"),
            &[Status(200), Backend("other")],
        ),
        // http-redirect-code.
        row(
            CM,
            "http-redirect-code",
            |w| {
                app_tls(w);
                w.configmap("http-redirect-code", "301");
            },
            get("a.example.com", "/"),
            &[Status(301)],
        ),
        // use-port-in-redirects names the HTTPS port.
        row(
            ANN,
            "use-port-in-redirects",
            |w| {
                app_tls(w).annotate("ing", "use-port-in-redirects", "true");
            },
            get("a.example.com", "/x"),
            &[Status(308), Location("https://a.example.com:{https}/x")],
        ),
        // HSTS on HTTPS responses.
        row(
            CM,
            "hsts",
            |w| {
                app_tls(w);
            },
            get("a.example.com", "/").https(),
            &[
                Status(200),
                Header(
                    "strict-transport-security",
                    "max-age=31536000; includeSubDomains",
                ),
            ],
        ),
        row(
            CM,
            "hsts-include-subdomains",
            |w| {
                app_tls(w);
                w.configmap("hsts-include-subdomains", "false")
                    .configmap("hsts-max-age", "100");
            },
            get("a.example.com", "/").https(),
            &[Header("strict-transport-security", "max-age=100")],
        ),
        row(
            CM,
            "hsts",
            |w| {
                app_tls(w);
                w.configmap("hsts", "false");
            },
            get("a.example.com", "/").https(),
            &[NoHeader("strict-transport-security")],
        ),
        // Never over plain HTTP.
        row(
            CM,
            "hsts",
            |w| {
                app(w);
            },
            get("a.example.com", "/"),
            &[NoHeader("strict-transport-security")],
        ),
        // auth-tls-secret with the default verify mode: no certificate → 400.
        row(
            ANN,
            "client-certificate-authentication",
            |w| {
                let ca = Ca::new("CA");
                w.secret_data("ca", "Opaque", &[("ca.crt", ca.pem().as_bytes())]);
                app_tls(w).annotate("ing", "auth-tls-secret", "default/ca");
            },
            get("a.example.com", "/").https(),
            &[Status(400)],
        ),
        // optional: no certificate passes, `ssl-client-verify: NONE` goes upstream.
        row(
            ANN,
            "client-certificate-authentication",
            |w| {
                let ca = Ca::new("CA");
                w.secret_data("ca", "Opaque", &[("ca.crt", ca.pem().as_bytes())]);
                app_tls(w)
                    .annotate("ing", "auth-tls-secret", "default/ca")
                    .annotate("ing", "auth-tls-verify-client", "optional");
            },
            get("a.example.com", "/").https(),
            &[Status(200), Upstream("ssl-client-verify", "NONE")],
        ),
        // A missing CA Secret fails closed.
        row(
            ANN,
            "client-certificate-authentication",
            |w| {
                app_tls(w).annotate("ing", "auth-tls-secret", "default/missing");
            },
            get("a.example.com", "/").https(),
            &[Status(503)],
        ),
    ]
}

fn upstream_rows() -> Vec<Row> {
    vec![
        // FCGI backends are not served (fail closed).
        row(
            ANN,
            "backend-protocol",
            |w| {
                app(w).annotate("ing", "backend-protocol", "FCGI");
            },
            get("a.example.com", "/"),
            &[Status(503)],
        ),
        // AUTO_HTTP over plain HTTP speaks HTTP upstream.
        row(
            ANN,
            "backend-protocol",
            |w| {
                app(w).annotate("ing", "backend-protocol", "AUTO_HTTP");
            },
            get("a.example.com", "/"),
            &[Status(200), Backend("app")],
        ),
        // upstream-vhost.
        row(
            ANN,
            "custom-nginx-upstream-vhost",
            |w| {
                app(w).annotate("ing", "upstream-vhost", "internal.example.com");
            },
            get("a.example.com", "/"),
            &[
                Upstream("host", "internal.example.com"),
                Upstream("x-forwarded-host", "a.example.com"),
            ],
        ),
        // proxy-body-size.
        row(
            ANN,
            "custom-max-body-size",
            |w| {
                app(w).annotate("ing", "proxy-body-size", "1k");
            },
            get("a.example.com", "/").method("POST").body(2048),
            &[Status(413)],
        ),
        row(
            ANN,
            "custom-max-body-size",
            |w| {
                app(w).annotate("ing", "proxy-body-size", "8k");
            },
            get("a.example.com", "/").method("POST").body(2048),
            &[Status(200)],
        ),
        // The ConfigMap default is 1m.
        row(
            CM,
            "proxy-body-size",
            |w| {
                app(w);
            },
            get("a.example.com", "/").method("POST").body(1_100_000),
            &[Status(413)],
        ),
        // 0 disables the limit.
        row(
            ANN,
            "custom-max-body-size",
            |w| {
                app(w).annotate("ing", "proxy-body-size", "0");
            },
            get("a.example.com", "/").method("POST").body(1_100_000),
            &[Status(200)],
        ),
        // proxy-buffer-size: a response head larger than the buffer is "upstream sent too big
        // header" (502).
        row(
            ANN,
            "proxy-buffer-size",
            |w| {
                app(w);
            },
            get("a.example.com", "/?header_bytes=6000"),
            &[Status(502)],
        ),
        row(
            ANN,
            "proxy-buffer-size",
            |w| {
                app(w).annotate("ing", "proxy-buffer-size", "8k");
            },
            get("a.example.com", "/?header_bytes=6000"),
            &[Status(200)],
        ),
        // large-client-header-buffers: a header longer than one buffer → 431; a request line →
        // 414.
        row(
            CM,
            "large-client-header-buffers",
            |w| {
                app(w);
                w.configmap("large-client-header-buffers", "4 1k");
            },
            get("a.example.com", "/").headers(&[("x-long", LONG)]),
            &[Status(431)],
        ),
        row(
            CM,
            "large-client-header-buffers",
            |w| {
                app(w);
                w.configmap("large-client-header-buffers", "4 1k");
            },
            get("a.example.com", LONG_PATH),
            &[Status(414)],
        ),
        // Headers with underscores are dropped unless enabled.
        row(
            CM,
            "enable-underscores-in-headers",
            |w| {
                app(w);
            },
            get("a.example.com", "/").headers(&[("my_header", "1")]),
            &[Status(200), NoUpstream("my_header")],
        ),
        row(
            CM,
            "enable-underscores-in-headers",
            |w| {
                app(w);
                w.configmap("enable-underscores-in-headers", "true");
            },
            get("a.example.com", "/").headers(&[("my_header", "1")]),
            &[Upstream("my_header", "1")],
        ),
        // proxy-cookie-domain and proxy-cookie-path rewrite upstream cookies.
        row(
            ANN,
            "proxy-cookie-domain",
            |w| {
                app(w)
                    .annotate("ing", "proxy-cookie-domain", "internal.local example.com")
                    .annotate("ing", "proxy-cookie-path", "/two/ /");
            },
            get("a.example.com", "/").headers(&[(
                "x-respond-set-cookie",
                "s=1; Domain=internal.local; Path=/two/x",
            )]),
            &[Header("set-cookie", "s=1; Domain=example.com; Path=/x")],
        ),
        // proxy-redirect-from/-to rewrite upstream redirects.
        row(
            ANN,
            "proxy-redirect",
            |w| {
                app(w)
                    .annotate("ing", "proxy-redirect-from", "http://backend/")
                    .annotate("ing", "proxy-redirect-to", "https://a.example.com/");
            },
            get("a.example.com", "/").headers(&[("x-respond-location", "http://backend/login")]),
            &[Header("location", "https://a.example.com/login")],
        ),
        // proxy-http-version 1.0.
        row(
            ANN,
            "proxy-http-version",
            |w| {
                app(w).annotate("ing", "proxy-http-version", "1.0");
            },
            get("a.example.com", "/"),
            &[Status(200)],
        ),
    ]
}

const LONG: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
const LONG_PATH: &str = "/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

fn forwarded_rows() -> Vec<Row> {
    vec![
        // Default: X-Forwarded-For is replaced by the client address; the incoming one moves to
        // X-Original-Forwarded-For.
        row(
            CM,
            "use-forwarded-headers",
            |w| {
                app(w);
            },
            get("a.example.com", "/").headers(&[("x-forwarded-for", "1.2.3.4")]),
            &[
                Upstream("x-forwarded-for", "127.0.0.1"),
                Upstream("x-real-ip", "127.0.0.1"),
                Upstream("x-original-forwarded-for", "1.2.3.4"),
            ],
        ),
        // use-forwarded-headers: the client address comes from X-Forwarded-For.
        row(
            CM,
            "use-forwarded-headers",
            |w| {
                app(w);
                w.configmap("use-forwarded-headers", "true");
            },
            get("a.example.com", "/").headers(&[("x-forwarded-for", "1.2.3.4")]),
            &[
                Upstream("x-real-ip", "1.2.3.4"),
                Upstream("x-forwarded-for", "1.2.3.4"),
            ],
        ),
        // compute-full-forwarded-for appends instead of replacing.
        row(
            CM,
            "compute-full-forwarded-for",
            |w| {
                app(w);
                w.configmap("use-forwarded-headers", "true")
                    .configmap("compute-full-forwarded-for", "true");
            },
            get("a.example.com", "/").headers(&[("x-forwarded-for", "1.2.3.4")]),
            &[Upstream("x-forwarded-for", "1.2.3.4, 127.0.0.1")],
        ),
        // forwarded-for-header names the header carrying the client address.
        row(
            CM,
            "forwarded-for-header",
            |w| {
                app(w);
                w.configmap("use-forwarded-headers", "true")
                    .configmap("forwarded-for-header", "CF-Connecting-IP");
            },
            get("a.example.com", "/").headers(&[("cf-connecting-ip", "5.6.7.8")]),
            &[
                Upstream("x-real-ip", "5.6.7.8"),
                Upstream("x-original-forwarded-for", "5.6.7.8"),
            ],
        ),
        // proxy-real-ip-cidr: an untrusted peer's X-Forwarded-For is ignored.
        row(
            CM,
            "proxy-real-ip-cidr",
            |w| {
                app(w);
                w.configmap("use-forwarded-headers", "true")
                    .configmap("proxy-real-ip-cidr", "10.0.0.0/8");
            },
            get("a.example.com", "/").headers(&[("x-forwarded-for", "1.2.3.4")]),
            &[Upstream("x-real-ip", "127.0.0.1")],
        ),
        // X-Forwarded-* describe the proxy's listener.
        row(
            CM,
            "use-forwarded-headers",
            |w| {
                app(w);
            },
            get("a.example.com", "/"),
            &[
                Upstream("x-forwarded-proto", "http"),
                Upstream("x-forwarded-scheme", "http"),
                Upstream("x-scheme", "http"),
                Upstream("x-forwarded-host", "a.example.com"),
            ],
        ),
        row(
            CM,
            "use-forwarded-headers",
            |w| {
                app_tls(w);
            },
            get("a.example.com", "/").https(),
            &[
                Upstream("x-forwarded-proto", "https"),
                Upstream("x-forwarded-port", "443"),
            ],
        ),
        // Request ids are generated when absent and kept when present.
        row(
            CM,
            "generate-request-id",
            |w| {
                app(w);
            },
            get("a.example.com", "/").headers(&[("x-request-id", "abc")]),
            &[Upstream("x-request-id", "abc")],
        ),
        row(
            CM,
            "generate-request-id",
            |w| {
                app(w);
                w.configmap("generate-request-id", "false");
            },
            get("a.example.com", "/"),
            &[NoUpstream("x-request-id")],
        ),
        // The httpoxy `Proxy` header never reaches the upstream.
        row(
            CM,
            "use-forwarded-headers",
            |w| {
                app(w);
            },
            get("a.example.com", "/").headers(&[("proxy", "http://evil")]),
            &[NoUpstream("proxy")],
        ),
        // proxy-add-original-uri-header.
        row(
            CM,
            "proxy-add-original-uri-header",
            |w| {
                app(w);
                w.configmap("proxy-add-original-uri-header", "true");
            },
            get("a.example.com", "/a?b=c"),
            &[Upstream("x-original-uri", "/a?b=c")],
        ),
        // proxy-set-headers: a ConfigMap of extra upstream headers.
        row(
            CM,
            "proxy-set-headers",
            |w| {
                app(w);
                config_map(w, "custom-headers", &[("X-Using-Nginx-Controller", "true")]);
                w.configmap("proxy-set-headers", "default/custom-headers");
            },
            get("a.example.com", "/"),
            &[Upstream("x-using-nginx-controller", "true")],
        ),
        // add-headers: a ConfigMap of extra response headers.
        row(
            CM,
            "add-headers",
            |w| {
                app(w);
                config_map(w, "response-headers", &[("X-Frame-Options", "DENY")]);
                w.configmap("add-headers", "default/response-headers");
            },
            get("a.example.com", "/"),
            &[Header("x-frame-options", "DENY")],
        ),
        // hide-headers removes upstream response headers.
        row(
            CM,
            "hide-headers",
            |w| {
                app(w);
                w.configmap("hide-headers", "x-big");
            },
            get("a.example.com", "/?header_bytes=10"),
            &[Status(200), NoHeader("x-big")],
        ),
        // custom-headers with their names allowed globally.
        row(
            ANN,
            "custom-headers",
            |w| {
                app(w).annotate("ing", "custom-headers", "default/my-headers");
                config_map(w, "my-headers", &[("X-Custom", "yes")]);
                w.configmap("global-allowed-response-headers", "X-Custom");
            },
            get("a.example.com", "/"),
            &[Status(200), Header("x-custom", "yes")],
        ),
        // custom-headers not allowed: the location fails closed.
        row(
            ANN,
            "custom-headers",
            |w| {
                app(w).annotate("ing", "custom-headers", "default/my-headers");
                config_map(w, "my-headers", &[("X-Custom", "yes")]);
            },
            get("a.example.com", "/"),
            &[Status(503)],
        ),
        // Deliberate difference: ingress-nginx clears `Server` (more_clear_headers); sluice
        // names itself without a version (the conformance suite requires the header).
        row(
            CM,
            "server-tokens",
            |w| {
                app(w);
            },
            get("a.example.com", "/"),
            &[Header("server", "sluice")],
        ),
        row(
            CM,
            "allow-backend-server-header",
            |w| {
                app(w);
                w.configmap("allow-backend-server-header", "true");
            },
            get("a.example.com", "/").headers(&[("x-respond-server", "1")]),
            &[Header("server", "echo-backend")],
        ),
    ]
}

fn cors_rows() -> Vec<Row> {
    vec![
        // Preflight answered by the proxy with the defaults.
        row(
            ANN,
            "enable-cors",
            |w| {
                app(w).annotate("ing", "enable-cors", "true");
            },
            get("a.example.com", "/")
                .method("OPTIONS")
                .headers(&[("origin", "https://x.example.org")]),
            &[
                Status(204),
                Header("access-control-allow-origin", "*"),
                Header(
                    "access-control-allow-methods",
                    "GET, PUT, POST, DELETE, PATCH, OPTIONS",
                ),
                Header(
                    "access-control-allow-headers",
                    "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization",
                ),
                Header("access-control-allow-credentials", "true"),
                Header("access-control-max-age", "1728000"),
                NoHeader("access-control-expose-headers"),
            ],
        ),
        // Other requests get the headers on the upstream's response.
        row(
            ANN,
            "enable-cors",
            |w| {
                app(w).annotate("ing", "enable-cors", "true");
            },
            get("a.example.com", "/").headers(&[("origin", "https://x.example.org")]),
            &[
                Status(200),
                Backend("app"),
                Header("access-control-allow-origin", "*"),
            ],
        ),
        // A listed origin is echoed.
        row(
            ANN,
            "enable-cors",
            |w| {
                app(w).annotate("ing", "enable-cors", "true").annotate(
                    "ing",
                    "cors-allow-origin",
                    "https://origin-site.com:4443, http://origin-site.com",
                );
            },
            get("a.example.com", "/").headers(&[("origin", "http://origin-site.com")]),
            &[Header(
                "access-control-allow-origin",
                "http://origin-site.com",
            )],
        ),
        // An unlisted origin gets no CORS headers, and its preflight goes upstream.
        row(
            ANN,
            "enable-cors",
            |w| {
                app(w).annotate("ing", "enable-cors", "true").annotate(
                    "ing",
                    "cors-allow-origin",
                    "https://allowed.example.com",
                );
            },
            get("a.example.com", "/")
                .method("OPTIONS")
                .headers(&[("origin", "https://other.example.com")]),
            &[
                Status(200),
                Backend("app"),
                NoHeader("access-control-allow-origin"),
            ],
        ),
        // A single-level wildcard.
        row(
            ANN,
            "enable-cors",
            |w| {
                app(w).annotate("ing", "enable-cors", "true").annotate(
                    "ing",
                    "cors-allow-origin",
                    "https://*.example.com",
                );
            },
            get("a.example.com", "/")
                .method("OPTIONS")
                .headers(&[("origin", "https://app.example.com")]),
            &[
                Status(204),
                Header("access-control-allow-origin", "https://app.example.com"),
            ],
        ),
        row(
            ANN,
            "enable-cors",
            |w| {
                app(w).annotate("ing", "enable-cors", "true").annotate(
                    "ing",
                    "cors-allow-origin",
                    "https://*.example.com",
                );
            },
            get("a.example.com", "/").headers(&[("origin", "https://a.b.example.com")]),
            &[NoHeader("access-control-allow-origin")],
        ),
        // Credentials off, expose headers, max age.
        row(
            ANN,
            "enable-cors",
            |w| {
                app(w)
                    .annotate("ing", "enable-cors", "true")
                    .annotate("ing", "cors-allow-credentials", "false")
                    .annotate("ing", "cors-expose-headers", "X-CustomResponseHeader")
                    .annotate("ing", "cors-max-age", "600");
            },
            get("a.example.com", "/").method("OPTIONS"),
            &[
                Status(204),
                NoHeader("access-control-allow-credentials"),
                Header("access-control-expose-headers", "X-CustomResponseHeader"),
                Header("access-control-max-age", "600"),
            ],
        ),
        row(
            ANN,
            "enable-cors",
            |w| {
                app(w)
                    .annotate("ing", "enable-cors", "true")
                    .annotate("ing", "cors-allow-methods", "PUT, GET")
                    .annotate("ing", "cors-allow-headers", "X-Forwarded-For");
            },
            get("a.example.com", "/").method("OPTIONS"),
            &[
                Header("access-control-allow-methods", "PUT, GET"),
                Header("access-control-allow-headers", "X-Forwarded-For"),
            ],
        ),
    ]
}

fn access_rows() -> Vec<Row> {
    vec![
        // whitelist-source-range: other clients get 403.
        row(
            ANN,
            "whitelist-source-range",
            |w| {
                app(w).annotate("ing", "whitelist-source-range", "10.0.0.0/24,172.10.0.1");
            },
            get("a.example.com", "/"),
            &[Status(403)],
        ),
        row(
            ANN,
            "whitelist-source-range",
            |w| {
                app(w).annotate("ing", "whitelist-source-range", "127.0.0.1/32");
            },
            get("a.example.com", "/"),
            &[Status(200)],
        ),
        row(
            ANN,
            "whitelist-source-range",
            |w| {
                app(w).annotate("ing", "allowlist-source-range", "10.0.0.0/8");
            },
            get("a.example.com", "/"),
            &[Status(403)],
        ),
        // denylist-source-range.
        row(
            ANN,
            "denylist-source-range",
            |w| {
                app(w).annotate("ing", "denylist-source-range", "127.0.0.1");
            },
            get("a.example.com", "/"),
            &[Status(403)],
        ),
        // The ConfigMap's lists apply to every location; an annotation replaces them.
        row(
            CM,
            "whitelist-source-range",
            |w| {
                app(w);
                w.configmap("whitelist-source-range", "10.0.0.0/8");
            },
            get("a.example.com", "/"),
            &[Status(403)],
        ),
        row(
            CM,
            "whitelist-source-range",
            |w| {
                app(w).annotate("ing", "whitelist-source-range", "127.0.0.0/8");
                w.configmap("whitelist-source-range", "10.0.0.0/8");
            },
            get("a.example.com", "/"),
            &[Status(200)],
        ),
        row(
            CM,
            "denylist-source-range",
            |w| {
                app(w);
                w.configmap("denylist-source-range", "127.0.0.0/8");
            },
            get("a.example.com", "/"),
            &[Status(403)],
        ),
        // block-cidrs, block-user-agents, block-referers.
        row(
            CM,
            "block-cidrs",
            |w| {
                app(w);
                w.configmap("block-cidrs", "127.0.0.1");
            },
            get("a.example.com", "/"),
            &[Status(403)],
        ),
        row(
            CM,
            "block-user-agents",
            |w| {
                app(w);
                w.configmap("block-user-agents", "~*curl");
            },
            get("a.example.com", "/").headers(&[("user-agent", "curl/8.0")]),
            &[Status(403)],
        ),
        row(
            CM,
            "block-user-agents",
            |w| {
                app(w);
                w.configmap("block-user-agents", "~*curl");
            },
            get("a.example.com", "/").headers(&[("user-agent", "Mozilla/5.0")]),
            &[Status(200)],
        ),
        row(
            CM,
            "block-referers",
            |w| {
                app(w);
                w.configmap("block-referers", "http://spam.example.com/");
            },
            get("a.example.com", "/").headers(&[("referer", "http://SPAM.example.com/")]),
            &[Status(403)],
        ),
        // The client address after real-IP processing is what the lists see.
        row(
            CM,
            "use-forwarded-headers",
            |w| {
                app(w).annotate("ing", "whitelist-source-range", "1.2.3.0/24");
                w.configmap("use-forwarded-headers", "true");
            },
            get("a.example.com", "/").headers(&[("x-forwarded-for", "1.2.3.4")]),
            &[Status(200)],
        ),
    ]
}

struct Backends {
    app: super::support::Backend,
    other: super::support::Backend,
    errors: super::support::Backend,
}

async fn backends() -> Backends {
    Backends {
        app: backend("app").await,
        other: backend("other").await,
        errors: backend("errors").await,
    }
}

fn base_world(b: &Backends) -> World {
    let mut world = World::new();
    world
        .service("app", &[b.app.addr])
        .service("other", &[b.other.addr])
        .service("errors", &[b.errors.addr])
        .service_without_endpoints("empty")
        .secret("tls", "pkcs8");
    world
}

async fn send(proxy: &Running, req: &Req) -> Result<Reply, String> {
    let body = match req.body {
        Payload::None => empty(),
        Payload::Bytes(n) => full(vec![b'x'; n]),
    };
    let addr: SocketAddr = match req.via {
        Via::Http => proxy.http,
        Via::Https => proxy.https,
    };
    let mut builder = Request::builder().method(req.method);
    builder = match req.via {
        Via::Http => builder.uri(format!("http://{addr}{}", req.path)),
        Via::Https => builder.uri(req.path),
    };
    builder = builder.header("host", req.host);
    for (name, value) in req.headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(body).map_err(|e| e.to_string())?;
    match req.via {
        Via::Http => {
            let response = h1_client()
                .request(request)
                .await
                .map_err(|e| e.to_string())?;
            Ok(read(response).await)
        }
        Via::Https => {
            let sni = req.host.split(':').next().unwrap_or(req.host);
            https(
                addr,
                sni,
                request,
                client_config(&[b"http/1.1"], None, None),
            )
            .await
        }
    }
}

fn check(reply: &Reply, expect: &Expect, proxy: &Running) -> Result<(), String> {
    let header = |name: &str| {
        reply
            .headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let json = || serde_json::from_slice::<serde_json::Value>(&reply.body).ok();
    let seen = |name: &str| -> Vec<String> {
        json()
            .and_then(|j| j["headers"][name].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    match expect {
        Status(code) => (reply.status.as_u16() == *code)
            .then_some(())
            .ok_or_else(|| format!("status {} (want {code})", reply.status)),
        Location(want) => {
            let want = want.replace("{https}", &proxy.https.port().to_string());
            (header("location").as_deref() == Some(want.as_str()))
                .then_some(())
                .ok_or_else(|| format!("location {:?} (want {want:?})", header("location")))
        }
        Header(name, want) => (header(name).as_deref() == Some(*want))
            .then_some(())
            .ok_or_else(|| format!("header {name}: {:?} (want {want:?})", header(name))),
        NoHeader(name) => {
            header(name).map_or(Ok(()), |v| Err(format!("header {name}: {v:?} (want none)")))
        }
        Backend(name) => {
            let got = json().and_then(|j| j["backend"].as_str().map(str::to_owned));
            (got.as_deref() == Some(*name))
                .then_some(())
                .ok_or_else(|| format!("backend {got:?} (want {name})"))
        }
        Upstream(name, want) => {
            let got = seen(name);
            (got == [*want])
                .then_some(())
                .ok_or_else(|| format!("upstream {name}: {got:?} (want {want:?})"))
        }
        NoUpstream(name) => {
            let got = seen(name);
            got.is_empty()
                .then_some(())
                .ok_or_else(|| format!("upstream {name}: {got:?} (want none)"))
        }
        UpstreamPath(want) => {
            let got = json().and_then(|j| j["path"].as_str().map(str::to_owned));
            (got.as_deref() == Some(*want))
                .then_some(())
                .ok_or_else(|| format!("upstream path {got:?} (want {want:?})"))
        }
    }
}

async fn run(rows: Vec<Row>) -> usize {
    let backends = backends().await;
    let mut failures = Vec::new();
    let count = rows.len();
    for (i, row) in rows.iter().enumerate() {
        let mut world = base_world(&backends);
        (row.setup)(&mut world);
        let proxy = start(world.table()).await;
        let label = format!(
            "row {i} ({}) {} {}{}",
            row.doc, row.request.method, row.request.host, row.request.path
        );
        match send(&proxy, &row.request).await {
            Ok(reply) => {
                for expect in row.expect {
                    if let Err(problem) = check(&reply, expect, &proxy) {
                        failures.push(format!("{label}: {problem}; body {:?}", reply.text()));
                    }
                }
            }
            Err(error) => failures.push(format!("{label}: request failed: {error}")),
        }
        proxy.shutdown().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    count
}

#[tokio::test]
async fn processing_rules() {
    assert!(run(processing_rows()).await >= 10);
}

#[tokio::test]
async fn rewrite_redirect_and_routing() {
    assert!(run(routing_rows()).await >= 20);
}

#[tokio::test]
async fn tls_and_https_redirects() {
    assert!(run(tls_rows()).await >= 15);
}

#[tokio::test]
async fn upstream_and_limits() {
    assert!(run(upstream_rows()).await >= 10);
}

#[tokio::test]
async fn client_ip_and_headers() {
    assert!(run(forwarded_rows()).await >= 15);
}

#[tokio::test]
async fn cors() {
    assert!(run(cors_rows()).await >= 8);
}

#[tokio::test]
async fn allow_and_deny_lists() {
    assert!(run(access_rows()).await >= 10);
}
