//! Which single Secrets and ConfigMaps the snapshot must hold besides the kinds watched
//! wholesale: those named by annotations of our Ingresses, by keys of the controller ConfigMap,
//! and by `--default-ssl-certificate` when it lies outside the watched namespace.
//!
//! Watching every Secret of a cluster would cost memory (Helm releases, tokens) and needs
//! broad read access to credentials; watching only `kubernetes.io/tls` misses the Opaque
//! Secrets of `auth-secret`. So each referenced object gets its own watch, by
//! `fieldSelector=metadata.name=NAME` in its namespace, started when the first Ingress names it
//! and stopped when the last one stops: the number of watches is the number of distinct
//! referenced objects, and a change to one reaches the proxy like any other change.

use std::collections::BTreeSet;

use sluice_ingress_model::{Kind, ObjectKey, ObjectRef, Snapshot, TLS_SECRET_TYPE, is_ours};

use crate::config::SourceConfig;

/// Annotations (under the prefix) whose value names a Secret, `[namespace/]name`.
pub const SECRET_ANNOTATIONS: &[&str] = &["auth-secret", "auth-tls-secret", "proxy-ssl-secret"];

/// Annotations (under the prefix) whose value names a ConfigMap, `[namespace/]name`.
pub const CONFIG_MAP_ANNOTATIONS: &[&str] = &["custom-headers", "auth-proxy-set-headers"];

/// Controller ConfigMap keys whose value names a ConfigMap, `[namespace/]name`.
pub const CONFIG_MAP_KEYS: &[&str] = &["proxy-set-headers", "add-headers"];

/// The objects `snapshot` references that need a watch of their own.
pub fn references(snapshot: &Snapshot, config: &SourceConfig) -> BTreeSet<ObjectRef> {
    let opts = &config.options;
    let prefix = opts.annotation_prefix.trim_end_matches('/');
    let keys: Vec<(String, Kind)> = SECRET_ANNOTATIONS
        .iter()
        .map(|name| (format!("{prefix}/{name}"), Kind::Secret))
        .chain(
            CONFIG_MAP_ANNOTATIONS
                .iter()
                .map(|name| (format!("{prefix}/{name}"), Kind::ConfigMap)),
        )
        .collect();
    let mut refs = BTreeSet::new();
    for ingress in snapshot.ingresses.values() {
        // Most Ingresses reference nothing: skip them before the class check.
        if !keys
            .iter()
            .any(|(k, _)| ingress.annotations.contains_key(k))
            || !is_ours(ingress, snapshot, &config.options)
        {
            continue;
        }
        let namespace = &ingress.key.namespace;
        for (annotation, kind) in &keys {
            if let Some(value) = ingress.annotations.get(annotation)
                && let Some(key) = ObjectKey::parse(value, namespace)
            {
                refs.insert(ObjectRef::new(*kind, key));
            }
        }
    }
    if let Some(key) = &opts.controller_config
        && let Some(map) = snapshot.config_maps.get(key)
    {
        for name in CONFIG_MAP_KEYS {
            if let Some(value) = map.data.get(*name)
                && let Some(target) = ObjectKey::parse(value, &key.namespace)
            {
                refs.insert(ObjectRef::new(Kind::ConfigMap, target));
            }
        }
    }
    if let Some(key) = &opts.default_certificate
        && !config.watches_namespace(&key.namespace)
    {
        refs.insert(ObjectRef::new(Kind::Secret, key.clone()));
    }
    refs
}

/// TLS Secrets our Ingresses name that the `kubernetes.io/tls` watch does not hold: absent, or
/// of another type (an `Opaque` Secret holding `tls.crt` and `tls.key` serves, as with
/// ingress-nginx). Each gets a watch of its own. Meaningful only once that watch has listed,
/// or every TLS Secret would get one at start.
pub fn tls_references(snapshot: &Snapshot, config: &SourceConfig) -> BTreeSet<ObjectRef> {
    snapshot
        .ingresses
        .values()
        .filter(|ingress| !ingress.tls.is_empty() && is_ours(ingress, snapshot, &config.options))
        .flat_map(|ingress| {
            ingress
                .tls
                .iter()
                .filter_map(|tls| tls.secret_name.as_deref())
                .map(|name| ObjectKey::new(&ingress.key.namespace, name))
        })
        .filter(|key| {
            snapshot
                .secrets
                .get(key)
                .is_none_or(|secret| secret.secret_type != TLS_SECRET_TYPE)
        })
        .map(|key| ObjectRef::new(Kind::Secret, key))
        .collect()
}

#[cfg(test)]
mod tests {
    use sluice_ingress_model::{BuildOptions, ConfigMap, Ingress};

    use super::*;

    fn ingress(name: &str, class: Option<&str>, annotations: &[(&str, &str)]) -> Ingress {
        Ingress {
            key: ObjectKey::new("apps", name),
            class_name: class.map(Into::into),
            annotations: annotations
                .iter()
                .map(|(k, v)| (format!("nginx.ingress.kubernetes.io/{k}"), (*v).into()))
                .collect(),
            ..Ingress::default()
        }
    }

    #[test]
    fn annotations_configmap_keys_and_flags() {
        let mut snapshot = Snapshot::default();
        snapshot.insert_ingress_class(sluice_ingress_model::IngressClass {
            name: "sluice".into(),
            controller: sluice_ingress_model::DEFAULT_CONTROLLER_CLASS.into(),
            is_default: false,
        });
        snapshot.insert_ingress(ingress(
            "a",
            Some("sluice"),
            &[
                ("auth-secret", "basic"),
                ("auth-tls-secret", "certs/ca"),
                ("custom-headers", "hdrs"),
                ("auth-url", "http://x"),
            ],
        ));
        snapshot.insert_ingress(ingress("b", Some("nginx"), &[("auth-secret", "theirs")]));
        snapshot.insert_config_map(ConfigMap {
            key: ObjectKey::new("ingress", "sluice"),
            data: [("add-headers".to_owned(), "resp".to_owned())].into(),
        });
        let config = SourceConfig {
            watch_namespace: Some("apps".into()),
            options: BuildOptions {
                controller_config: Some(ObjectKey::new("ingress", "sluice")),
                default_certificate: Some(ObjectKey::new("ingress", "default-cert")),
                ..BuildOptions::default()
            },
        };
        let refs: Vec<String> = references(&snapshot, &config)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            refs,
            [
                "Secret apps/basic",
                "Secret certs/ca",
                "Secret ingress/default-cert",
                "ConfigMap apps/hdrs",
                "ConfigMap ingress/resp",
            ]
        );
        let everywhere = SourceConfig {
            watch_namespace: None,
            ..config
        };
        assert!(
            !references(&snapshot, &everywhere).contains(&ObjectRef::new(
                Kind::Secret,
                ObjectKey::new("ingress", "default-cert")
            )),
            "the TLS watch already covers it"
        );
    }
}
