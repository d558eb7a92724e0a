//! From an Ingress's parsed annotations ([`Draft`]) to the policies it contributes, resolving
//! the Secrets, ConfigMaps and Services they name. Auth and TLS misconfiguration never rejects
//! the Ingress: its routes fail closed with 503 (ingress-nginx's "location denied").

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::annotations::{CanaryDraft, Draft, Finding, hash_balance, proxy_redirect};
use crate::diagnostic::{DiagnosticKind, Severity};
use crate::key::ObjectKey;
use crate::objects::{Ingress, PortRef};
use crate::policy::{
    Admission, BasicAuth, ClientAuth, Deny, ExternalAuth, Mirror, Policy, Rewrite, Settings,
    UpstreamPolicy, UpstreamTls,
};
use crate::snapshot::Snapshot;
use crate::table::{Redirect, UpstreamId};

/// What one accepted Ingress contributes besides its routes.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The route policy its routes share (before host-level `proxy-ssl-*` inheritance).
    pub policy: Arc<Policy>,
    /// Whether it set `proxy-ssl-*` itself.
    pub own_upstream_tls: bool,
    /// The upstream policy of its backends.
    pub upstream: UpstreamPolicy,
    /// Upstream annotations it set explicitly.
    pub upstream_set: Vec<&'static str>,
    /// `permanent-redirect` / `temporal-redirect`: its routes answer with this instead.
    pub redirect: Option<Redirect>,
    /// `use-regex` or `rewrite-target`: switches its hosts to regex mode.
    pub regex: bool,
    /// Host-level settings it asks for.
    pub host: HostDraft,
    /// `canary*`.
    pub canary: CanaryDraft,
}

/// Host-level settings one Ingress asks for.
#[derive(Clone, Debug, Default)]
pub struct HostDraft {
    /// `auth-tls-*`.
    pub client_auth: Option<ClientAuth>,
    /// `ssl-ciphers`.
    pub ssl_ciphers: Option<Vec<String>>,
    /// `ssl-prefer-server-ciphers`.
    pub prefer_server_ciphers: Option<bool>,
    /// `ssl-passthrough`.
    pub passthrough: bool,
    /// `server-alias`.
    pub aliases: Vec<String>,
    /// `from-to-www-redirect`.
    pub from_to_www: bool,
    /// `proxy-ssl-*` (host-level unless `proxy-ssl-location-only`).
    pub upstream_tls: Option<Arc<UpstreamTls>>,
}

impl HostDraft {
    /// Whether the Ingress sets no host-level setting (merging it would change nothing).
    pub fn sets_nothing(&self) -> bool {
        self.client_auth.is_none()
            && self.ssl_ciphers.is_none()
            && self.prefer_server_ciphers.is_none()
            && !self.passthrough
            && self.aliases.is_empty()
            && !self.from_to_www
            && self.upstream_tls.is_none()
    }
}

/// Resolves a draft; problems are appended to `findings`.
pub fn resolve(
    ingress: &Ingress,
    draft: Draft,
    snapshot: &Snapshot,
    settings: &Settings,
    findings: &mut Vec<Finding>,
) -> Resolved {
    let mut r = Resolver {
        ingress,
        snapshot,
        admission: &settings.admission,
        findings,
        deny: None,
    };
    let mut policy = draft.policy.clone();
    if let Some(target) = draft.rewrite_target.clone() {
        policy.rewrite = Some(Rewrite { target });
        policy.upstream_request.forwarded_prefix = draft.forwarded_prefix.clone();
    }
    policy.response_rewrite.redirect = proxy_redirect(
        draft.proxy_redirect_from.as_deref(),
        draft.proxy_redirect_to.as_deref(),
    );
    policy.cors = draft.cors_enabled.then(|| draft.cors.clone());
    policy.mirror = draft.mirror_target.clone().map(|target| Mirror {
        target,
        host: draft.mirror_host.clone(),
        request_body: draft.mirror_body,
    });
    policy.default_backend = draft
        .default_backend
        .as_deref()
        .and_then(|name| r.default_backend(name));
    if let Some(name) = draft.custom_headers.as_deref() {
        policy.response_headers = r.custom_headers(name, settings);
    }
    policy.auth.basic = r.basic_auth(&draft);
    policy.auth.external = r.external_auth(&draft);
    let client_auth = r.client_auth(&draft);
    let upstream_tls = r.upstream_tls(&draft).map(Arc::new);
    if draft.fastcgi {
        r.fail(
            "backend-protocol",
            "FCGI backends are not supported by sluice".into(),
        );
    }
    let own_upstream_tls = upstream_tls.is_some();
    policy.upstream_tls = upstream_tls.clone();
    policy.deny = r.deny.take();
    let mut upstream = draft.upstream.clone();
    if let Some(balance) = hash_balance(&draft) {
        upstream.balance = balance;
    }
    upstream.affinity = draft.affinity_cookie.then(|| draft.affinity.clone());
    let redirect = match (&draft.temporal_redirect, &draft.permanent_redirect) {
        (Some(url), _) => Some(Redirect::new(url.clone(), draft.temporal_code)),
        (None, Some(url)) => Some(Redirect::new(url.clone(), draft.permanent_code)),
        (None, None) => None,
    };
    Resolved {
        policy: Arc::new(policy),
        own_upstream_tls,
        upstream,
        upstream_set: draft.upstream_set.clone(),
        redirect,
        regex: draft.use_regex || draft.rewrite_target.is_some(),
        host: HostDraft {
            client_auth,
            ssl_ciphers: draft.ssl_ciphers.clone(),
            prefer_server_ciphers: draft.prefer_server_ciphers,
            passthrough: draft.ssl_passthrough,
            aliases: draft.server_aliases.clone(),
            from_to_www: draft.from_to_www,
            upstream_tls,
        },
        canary: draft.canary,
    }
}

struct Resolver<'a> {
    ingress: &'a Ingress,
    snapshot: &'a Snapshot,
    admission: &'a Admission,
    findings: &'a mut Vec<Finding>,
    deny: Option<Deny>,
}

impl<'a> Resolver<'a> {
    fn field(&self, annotation: &str) -> String {
        format!("metadata.annotations.{annotation}")
    }

    /// Makes every route of the Ingress answer 503, reporting why.
    fn fail(&mut self, annotation: &str, reason: String) {
        let field = self.field(annotation);
        self.findings.push(Finding {
            severity: Severity::Warning,
            field,
            kind: DiagnosticKind::FailClosed {
                reason: format!("{annotation}: {reason}"),
            },
        });
        self.deny.get_or_insert(Deny {
            status: 503,
            reason: format!("{annotation}: {reason}"),
        });
    }

    /// Resolves `[namespace/]name` in the Ingress namespace, enforcing
    /// `allow-cross-namespace-resources`.
    fn reference(&mut self, annotation: &str, text: &str) -> Option<ObjectKey> {
        let namespace = &self.ingress.key.namespace;
        let Some(key) = ObjectKey::parse(text, namespace) else {
            self.fail(
                annotation,
                format!("{text:?} is not a [namespace/]name reference"),
            );
            return None;
        };
        if key.namespace != *namespace && !self.admission.allow_cross_namespace {
            self.fail(
                annotation,
                format!("{key} is in another namespace and allow-cross-namespace-resources is off"),
            );
            return None;
        }
        Some(key)
    }

    fn secret(&mut self, annotation: &str, text: &str) -> Option<&'a crate::objects::Secret> {
        let key = self.reference(annotation, text)?;
        let snapshot = self.snapshot;
        match snapshot.secrets.get(&key) {
            Some(secret) => Some(secret),
            None => {
                self.fail(annotation, format!("Secret {key} not found"));
                None
            }
        }
    }

    fn config_map(&mut self, annotation: &str, text: &str) -> Option<BTreeMap<String, String>> {
        let key = self.reference(annotation, text)?;
        match self.snapshot.config_maps.get(&key) {
            Some(map) => Some(map.data.clone()),
            None => {
                self.fail(annotation, format!("ConfigMap {key} not found"));
                None
            }
        }
    }

    fn default_backend(&mut self, name: &str) -> Option<UpstreamId> {
        let key = ObjectKey::new(&self.ingress.key.namespace, name);
        let port = self
            .snapshot
            .services
            .get(&key)
            .and_then(|s| s.ports.first())
            .map(|p| PortRef::Number(p.port));
        match port {
            Some(port) => Some(UpstreamId::new(&key.namespace, &key.name, port)),
            None => {
                let field = self.field("default-backend");
                self.findings.push(Finding {
                    severity: Severity::Warning,
                    field,
                    kind: DiagnosticKind::Reference {
                        reference: "Service (default-backend)".into(),
                        key,
                        reason:
                            "not found or without ports; the controller default backend is used"
                                .into(),
                    },
                });
                None
            }
        }
    }

    fn custom_headers(&mut self, name: &str, settings: &Settings) -> BTreeMap<String, String> {
        let Some(data) = self.config_map("custom-headers", name) else {
            return BTreeMap::new();
        };
        let allowed = &settings.forwarded.allowed_response_headers;
        let refused: Vec<&String> = data
            .keys()
            .filter(|h| !allowed.iter().any(|a| a.eq_ignore_ascii_case(h)))
            .collect();
        if !refused.is_empty() {
            let list = refused
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            self.fail(
                "custom-headers",
                format!("header(s) {list} are not listed in global-allowed-response-headers"),
            );
            return BTreeMap::new();
        }
        data
    }

    fn basic_auth(&mut self, draft: &Draft) -> Option<BasicAuth> {
        let kind = match draft.auth_type.clone()? {
            Ok(kind) => kind,
            Err(reason) => {
                self.fail("auth-type", reason);
                return None;
            }
        };
        let Some(name) = draft.auth_secret.as_deref() else {
            self.fail(
                "auth-secret",
                "auth-type is set but auth-secret is missing".into(),
            );
            return None;
        };
        let realm = draft.auth_realm.clone();
        let secret = self.secret("auth-secret", name)?;
        match super::secrets::credentials(secret, draft.auth_secret_map, kind, &realm) {
            Ok(credentials) => Some(BasicAuth {
                kind,
                realm,
                credentials,
            }),
            Err(reason) => {
                let key = secret.key.clone();
                self.fail("auth-secret", format!("Secret {key}: {reason}"));
                None
            }
        }
    }

    fn external_auth(&mut self, draft: &Draft) -> Option<ExternalAuth> {
        let url = draft.external_url.clone()?;
        let mut auth = draft.external.clone();
        auth.url = url;
        if let Some(name) = draft.auth_proxy_set_headers.as_deref() {
            auth.proxy_set_headers = self.config_map("auth-proxy-set-headers", name)?;
        }
        Some(auth)
    }

    fn client_auth(&mut self, draft: &Draft) -> Option<ClientAuth> {
        let tls = &draft.client_tls;
        let name = tls.secret.as_deref()?;
        let secret = self.secret("auth-tls-secret", name)?;
        let key = secret.key.clone();
        match super::secrets::ca_bundle(secret, true) {
            Ok(bundle) => Some(ClientAuth {
                secret: key,
                ca: bundle.certificates,
                crls: bundle.crls,
                verify: tls.verify,
                depth: tls.depth.unwrap_or(1),
                error_page: tls.error_page.clone(),
                pass_certificate: tls.pass_certificate,
                match_cn: tls.match_cn.clone(),
                origin: self.ingress.key.clone(),
            }),
            Err(reason) => {
                self.fail("auth-tls-secret", format!("Secret {key}: {reason}"));
                None
            }
        }
    }

    fn upstream_tls(&mut self, draft: &Draft) -> Option<UpstreamTls> {
        if !draft.proxy_ssl_set {
            return None;
        }
        let mut tls = draft.proxy_ssl.clone();
        if let Some(name) = draft.proxy_ssl_secret.as_deref() {
            let secret = self.secret("proxy-ssl-secret", name)?;
            let key = secret.key.clone();
            let parsed = super::secrets::ca_bundle(secret, tls.verify).and_then(|bundle| {
                super::secrets::client_certificate(secret).map(|cert| (bundle.certificates, cert))
            });
            match parsed {
                Ok((ca, cert)) => {
                    tls.ca = ca;
                    tls.client_certificate = cert;
                    tls.secret = Some(key);
                }
                Err(reason) => {
                    self.fail("proxy-ssl-secret", format!("Secret {key}: {reason}"));
                    return None;
                }
            }
        } else if tls.verify {
            self.fail(
                "proxy-ssl-verify",
                "verification needs proxy-ssl-secret with a ca.crt".into(),
            );
            return None;
        }
        Some(tls)
    }
}
