//! The controller ConfigMap: one registry ([`keys`]) of every ingress-nginx key sluice knows,
//! and [`parse_config`], which turns the ConfigMap's data into global [`Settings`] and the
//! per-route defaults every Ingress starts from. Keys that annotations override use the
//! annotation's parser, so both accept exactly the same values.
//!
//! An invalid value keeps the default and is reported (Warning); a key without effect in sluice
//! is reported (Warning, "no effect"); an unknown key is reported (Info); nothing here rejects
//! anything.

mod keys;
mod report;
mod tls;

use std::collections::BTreeMap;

use serde::Serialize;

pub use report::{KeyReport, report};
pub use tls::{default_ciphers, map_ciphers, map_curves, map_protocols};

use crate::annotations::{Draft, Status, Tier};
use crate::diagnostic::{Diagnostic, DiagnosticKind, Severity};
use crate::key::{Kind, ObjectKey};
use crate::policy::{ExternalAuth, Settings};
use crate::template::Template;

/// ingress-nginx's default `log-format-upstream`.
pub const DEFAULT_LOG_FORMAT: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id"#;

/// ingress-nginx's default `gzip-types`.
pub const DEFAULT_GZIP_TYPES: &str = "application/atom+xml application/javascript application/x-javascript application/json application/rss+xml application/vnd.ms-fontobject application/x-font-ttf application/x-web-app-manifest+json application/xhtml+xml application/xml font/opentype image/svg+xml image/x-icon text/css text/javascript text/plain text/x-component";

/// ingress-nginx's default `brotli-types`.
pub const DEFAULT_BROTLI_TYPES: &str = "application/xml+rss application/atom+xml application/javascript application/x-javascript application/json application/rss+xml application/vnd.ms-fontobject application/x-font-ttf application/x-web-app-manifest+json application/xhtml+xml application/xml font/opentype image/svg+xml image/x-icon text/css text/javascript text/plain text/x-component";

/// Which section of the ConfigMap inventory a key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum KeyGroup {
    /// Client connections and listeners (§2.1).
    Client,
    /// Upstream connections, timeouts, retries, buffering (§2.2).
    Upstream,
    /// Client IP and forwarded headers (§2.3).
    Forwarded,
    /// TLS, redirects, HSTS (§2.4).
    Tls,
    /// Errors, access control, rate limits, auth (§2.5).
    Access,
    /// Logging and observability (§2.6).
    Logging,
    /// Compression (§2.7).
    Compression,
    /// Admission and policy (§2.8).
    Admission,
    /// TCP/UDP stream proxy (§2.9).
    Stream,
    /// nginx-internal (§2.10).
    Internal,
    /// Raw nginx configuration (§2.11).
    Snippet,
}

/// How a key's value is read.
#[derive(Clone, Copy, Debug)]
pub enum KeyParse {
    /// With the parser of the annotation of this name, into the per-route defaults.
    Annotation(&'static str),
    /// Into the global settings.
    Global(fn(&str, &mut ConfigDraft) -> Result<(), String>),
    /// Not read.
    Ignored,
}

/// One ConfigMap key sluice knows.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// The key.
    pub name: &'static str,
    /// Section.
    pub group: KeyGroup,
    /// Tier.
    pub tier: Tier,
    /// sluice's status.
    pub status: Status,
    /// The parser.
    pub parse: KeyParse,
}

/// Every ConfigMap key sluice knows, in documentation order.
pub fn keys() -> impl Iterator<Item = &'static KeySpec> {
    keys::ALL.iter().flat_map(|g| g.iter())
}

/// The spec of a ConfigMap key.
pub fn key_spec(name: &str) -> Option<&'static KeySpec> {
    static INDEX: std::sync::OnceLock<BTreeMap<&'static str, &'static KeySpec>> =
        std::sync::OnceLock::new();
    INDEX
        .get_or_init(|| keys().map(|k| (k.name, k)).collect())
        .get(name)
        .copied()
}

/// The ConfigMap while it is being read.
#[derive(Clone, Debug)]
pub struct ConfigDraft {
    /// Global settings.
    pub settings: Settings,
    /// Per-route and per-upstream defaults.
    pub base: Draft,
    /// `global-auth-url`.
    pub global_auth_url: Option<Template>,
    /// The other `global-auth-*` keys.
    pub global_auth: ExternalAuth,
    /// `no-auth-locations`.
    pub no_auth_locations: Vec<String>,
    /// `proxy-set-headers` ConfigMap reference.
    pub proxy_set_headers: Option<String>,
    /// `add-headers` ConfigMap reference.
    pub add_headers: Option<String>,
    /// What the last parser accepted but cannot fully honour.
    pub warnings: Vec<String>,
}

/// The controller ConfigMap, read.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Global settings (header ConfigMaps not yet resolved).
    pub settings: Settings,
    /// What every Ingress starts from.
    pub base: Draft,
    /// `proxy-set-headers`: the ConfigMap to read request headers from.
    pub proxy_set_headers: Option<ObjectKey>,
    /// `add-headers`: the ConfigMap to read response headers from.
    pub add_headers: Option<ObjectKey>,
}

/// Reads a controller ConfigMap. Diagnostics name `key` and `data.<name>`.
pub fn parse_config(
    key: &ObjectKey,
    data: &BTreeMap<String, String>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Config {
    let mut draft = ConfigDraft {
        settings: Settings::default(),
        base: Draft::default(),
        global_auth_url: None,
        global_auth: ExternalAuth::new(Template::literal("")),
        no_auth_locations: vec!["/.well-known/acme-challenge".into()],
        proxy_set_headers: None,
        add_headers: None,
        warnings: Vec::new(),
    };
    let mut report = |severity, name: &str, what| {
        diagnostics.push(Diagnostic::new(
            severity,
            Kind::ConfigMap,
            key,
            format!("data.{name}"),
            what,
        ));
    };
    for (name, value) in data {
        let Some(spec) = key_spec(name) else {
            report(
                Severity::Info,
                name,
                DiagnosticKind::UnknownSetting(name.clone()),
            );
            continue;
        };
        let result = match spec.parse {
            KeyParse::Annotation(annotation) => {
                match crate::annotations::spec(annotation).and_then(|s| s.parse) {
                    Some(parse) => {
                        let result = parse(value, &mut draft.base);
                        draft.warnings.append(&mut draft.base.warnings);
                        result
                    }
                    None => Ok(()),
                }
            }
            KeyParse::Global(parse) => parse(value, &mut draft),
            KeyParse::Ignored => Ok(()),
        };
        if let Err(reason) = result {
            draft.warnings.clear();
            report(
                Severity::Warning,
                name,
                DiagnosticKind::InvalidSetting {
                    setting: name.clone(),
                    value: value.clone(),
                    reason: format!("{reason}; the default is kept"),
                },
            );
            continue;
        }
        for warning in std::mem::take(&mut draft.warnings) {
            report(
                Severity::Warning,
                name,
                DiagnosticKind::Unsupported(format!("ConfigMap key {name}: {warning}")),
            );
        }
        match spec.status {
            Status::NoEffect(why) => report(
                Severity::Warning,
                name,
                DiagnosticKind::NoEffect(format!("ConfigMap key {name} ({why})")),
            ),
            Status::Refused(why) => report(
                Severity::Warning,
                name,
                DiagnosticKind::NoEffect(format!("ConfigMap key {name} ({why})")),
            ),
            _ => {}
        }
    }
    finish(key, draft)
}

/// Moves the global-auth and header settings into place.
fn finish(key: &ObjectKey, mut draft: ConfigDraft) -> Config {
    if let Some(url) = draft.global_auth_url.take() {
        let mut auth = draft.global_auth;
        auth.url = url;
        draft.settings.global_auth = Some(crate::policy::GlobalAuth {
            auth,
            no_auth_locations: draft.no_auth_locations,
        });
    }
    let reference = |text: Option<String>| text.and_then(|t| ObjectKey::parse(&t, &key.namespace));
    Config {
        settings: draft.settings,
        base: draft.base,
        proxy_set_headers: reference(draft.proxy_set_headers),
        add_headers: reference(draft.add_headers),
    }
}
