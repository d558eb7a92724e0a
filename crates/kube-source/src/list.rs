//! A one-shot list (no watch) of everything `build` reads, for `sluice check --kubeconfig`:
//! Ingresses, IngressClasses, Services, EndpointSlices, TLS Secrets (by field selector, plus
//! the Secrets annotations name: `auth-secret`, `auth-tls-secret`, `proxy-ssl-secret`) and
//! ConfigMaps. Objects go through the model's `k8s` conversions, so they read exactly as the
//! watchers and the file source read them; an object that does not convert is reported as a
//! diagnostic and left out. Lists are paginated (500 per page).

use std::collections::BTreeSet;
use std::fmt::Debug;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as net;
use kube::api::ListParams;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use sluice_ingress_model::k8s::ConversionError;
use sluice_ingress_model::{
    ConfigMap, Diagnostic, EndpointSlice, Ingress, IngressClass, ObjectKey, Secret, Service,
    Snapshot, TLS_SECRET_TYPE,
};

use crate::error::Error;

/// Objects per list page.
const PAGE: u32 = 500;

/// Annotations (without prefix) whose value names a Secret (`name` or `namespace/name`).
pub const SECRET_ANNOTATIONS: &[&str] = &["auth-secret", "auth-tls-secret", "proxy-ssl-secret"];

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Only this namespace; `None` lists every namespace.
    pub namespace: Option<String>,
    /// The annotation prefix (to find Secret references).
    pub annotation_prefix: String,
}

/// What was listed.
#[derive(Clone, Debug, Default)]
pub struct Listed {
    /// The objects.
    pub snapshot: Snapshot,
    /// Objects that could not be converted.
    pub diagnostics: Vec<Diagnostic>,
}

/// Lists every kind once and converts the objects.
pub async fn list(client: &Client, options: &ListOptions) -> Result<Listed, Error> {
    let mut listed = Listed::default();
    let scope = options.namespace.as_deref();
    for object in all::<net::Ingress>(client, scope, ListParams::default()).await? {
        if let Some(ingress) = convert(Ingress::try_from(&object), &mut listed) {
            listed.snapshot.insert_ingress(ingress);
        }
    }
    let classes: Api<net::IngressClass> = Api::all(client.clone());
    for object in pages(&classes, ListParams::default(), None).await? {
        if let Some(class) = convert(IngressClass::try_from(&object), &mut listed) {
            listed.snapshot.insert_ingress_class(class);
        }
    }
    for object in all::<core::Service>(client, scope, ListParams::default()).await? {
        if let Some(service) = convert(Service::try_from(&object), &mut listed) {
            listed.snapshot.insert_service(service);
        }
    }
    for object in all::<discovery::EndpointSlice>(client, scope, ListParams::default()).await? {
        if let Some(slice) = convert(EndpointSlice::try_from(&object), &mut listed) {
            listed.snapshot.insert_endpoint_slice(slice);
        }
    }
    let tls = ListParams::default().fields(&format!("type={TLS_SECRET_TYPE}"));
    for object in all::<core::Secret>(client, scope, tls).await? {
        if let Some(secret) = convert(Secret::try_from(&object), &mut listed) {
            listed.snapshot.insert_secret(secret);
        }
    }
    for key in referenced_secrets(&listed.snapshot, &options.annotation_prefix) {
        if listed.snapshot.secrets.contains_key(&key) {
            continue;
        }
        let api: Api<core::Secret> = Api::namespaced(client.clone(), &key.namespace);
        // A missing or forbidden Secret is what `build` reports; nothing to add here.
        if let Ok(Some(object)) = api.get_opt(&key.name).await
            && let Some(secret) = convert(Secret::try_from(&object), &mut listed)
        {
            listed.snapshot.insert_secret(secret);
        }
    }
    for object in all::<core::ConfigMap>(client, scope, ListParams::default()).await? {
        if let Some(config_map) = convert(ConfigMap::try_from(&object), &mut listed) {
            listed.snapshot.insert_config_map(config_map);
        }
    }
    Ok(listed)
}

/// Every object of a kind, page by page.
async fn all<K>(
    client: &Client,
    namespace: Option<&str>,
    params: ListParams,
) -> Result<Vec<K>, Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    let api: Api<K> = match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    pages(&api, params, namespace).await
}

async fn pages<K>(
    api: &Api<K>,
    params: ListParams,
    namespace: Option<&str>,
) -> Result<Vec<K>, Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    let mut params = params.limit(PAGE);
    let mut items = Vec::new();
    loop {
        let page = api.list(&params).await.map_err(|source| Error::Api {
            action: format!(
                "list {} in {}",
                K::plural(&K::DynamicType::default()),
                namespace.map_or_else(|| "all namespaces".to_owned(), |n| format!("namespace {n}"))
            ),
            source: Box::new(source),
        })?;
        items.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(items),
        }
    }
}

fn convert<T>(result: Result<T, ConversionError>, listed: &mut Listed) -> Option<T> {
    result
        .map_err(|error| listed.diagnostics.push(error.diagnostic()))
        .ok()
}

/// Secrets named by annotations of the listed Ingresses.
fn referenced_secrets(snapshot: &Snapshot, prefix: &str) -> BTreeSet<ObjectKey> {
    let prefix = prefix.trim_end_matches('/');
    snapshot
        .ingresses
        .values()
        .flat_map(|ingress| {
            SECRET_ANNOTATIONS.iter().filter_map(move |name| {
                let value = ingress.annotations.get(&format!("{prefix}/{name}"))?;
                ObjectKey::parse(value.trim(), &ingress.key.namespace)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_secrets_named_by_annotations() {
        let mut snapshot = Snapshot::default();
        let mut ingress = Ingress {
            key: ObjectKey::new("apps", "web"),
            ..Ingress::default()
        };
        for (name, value) in [
            ("auth-secret", "basic"),
            ("auth-tls-secret", "certs/ca"),
            ("rewrite-target", "/x"),
        ] {
            ingress
                .annotations
                .insert(format!("nginx.ingress.kubernetes.io/{name}"), value.into());
        }
        snapshot.insert_ingress(ingress);
        let found = referenced_secrets(&snapshot, "nginx.ingress.kubernetes.io");
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            [
                ObjectKey::new("apps", "basic"),
                ObjectKey::new("certs", "ca")
            ]
        );
    }
}
