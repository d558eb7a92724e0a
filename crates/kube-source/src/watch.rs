//! One kube-runtime watcher per stream, converting each object into the model's plain types the
//! moment it arrives (so no k8s-openapi object, `managedFields` or last-applied annotation is
//! ever kept) and sending the events to the fold.
//!
//! Every watcher runs with kube-runtime's default backoff (client-go's: 800 ms doubling to
//! 30 s, reset after 2 minutes of health); an error is logged and reported to the fold, never
//! fatal. kube-runtime relists by itself after a `410 Gone`.

use std::fmt::Debug;

use futures::StreamExt;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as net;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use sluice_ingress_model::{
    ConfigMap, EndpointSlice, Ingress, IngressClass, Kind, ObjectKey, Secret, Service,
    TLS_SECRET_TYPE,
};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, warn};

use crate::config::SourceConfig;
use crate::fold::{IngressMeta, Object, StreamId};
use crate::source::Input;

/// The annotation `kubectl apply` writes: a full copy of the object, never read by sluice.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Starts the watcher of `stream` on the current runtime.
pub(crate) fn spawn(
    client: &Client,
    config: &SourceConfig,
    stream: StreamId,
    tx: UnboundedSender<Input>,
) -> tokio::task::JoinHandle<()> {
    let scoped = config.watch_namespace.as_deref();
    let client = client.clone();
    let all = watcher::Config::default();
    match stream.clone() {
        StreamId::Ingresses => tokio::spawn(run(
            api::<net::Ingress>(client, scoped),
            all,
            stream,
            tx,
            ingress,
        )),
        StreamId::IngressClasses => tokio::spawn(run(
            Api::<net::IngressClass>::all(client),
            all,
            stream,
            tx,
            ingress_class,
        )),
        StreamId::Services => tokio::spawn(run(
            api::<core::Service>(client, scoped),
            all,
            stream,
            tx,
            service,
        )),
        StreamId::EndpointSlices => tokio::spawn(run(
            api::<discovery::EndpointSlice>(client, scoped),
            all,
            stream,
            tx,
            endpoint_slice,
        )),
        StreamId::TlsSecrets => tokio::spawn(run(
            api::<core::Secret>(client, scoped),
            all.fields(&format!("type={TLS_SECRET_TYPE}")),
            stream,
            tx,
            secret,
        )),
        StreamId::ControllerConfig => {
            let key = config.options.controller_config.clone().unwrap_or_default();
            tokio::spawn(run(
                Api::<core::ConfigMap>::namespaced(client, &key.namespace),
                by_name(&key),
                stream,
                tx,
                config_map,
            ))
        }
        StreamId::Reference(target) => {
            let key = target.key.clone();
            match target.kind {
                Kind::Secret => tokio::spawn(run(
                    Api::<core::Secret>::namespaced(client, &key.namespace),
                    by_name(&key),
                    stream,
                    tx,
                    secret,
                )),
                _ => tokio::spawn(run(
                    Api::<core::ConfigMap>::namespaced(client, &key.namespace),
                    by_name(&key),
                    stream,
                    tx,
                    config_map,
                )),
            }
        }
    }
}

fn api<K>(client: Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <K as Resource>::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    }
}

fn by_name(key: &ObjectKey) -> watcher::Config {
    watcher::Config::default().fields(&format!("metadata.name={}", key.name))
}

async fn run<K>(
    api: Api<K>,
    config: watcher::Config,
    stream: StreamId,
    tx: UnboundedSender<Input>,
    convert: fn(K) -> Object,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    while let Some(item) = events.next().await {
        let input = match item {
            Ok(event) => Input::Event(stream.clone(), map_event(event, convert)),
            Err(error) => {
                warn!(stream = ?stream, %error, "watch failed; retrying with backoff, the last table keeps serving");
                Input::Failed(stream.clone())
            }
        };
        if tx.send(input).is_err() {
            debug!(stream = ?stream, "source gone; watcher stops");
            return;
        }
    }
}

fn map_event<K>(event: Event<K>, convert: fn(K) -> Object) -> Event<Object> {
    match event {
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
        Event::InitApply(k) => Event::InitApply(convert(k)),
        Event::Apply(k) => Event::Apply(convert(k)),
        Event::Delete(k) => Event::Delete(convert(k)),
    }
}

fn invalid(error: &sluice_ingress_model::k8s::ConversionError) -> Object {
    Object::Invalid(error.object.clone(), Box::new(error.diagnostic()))
}

/// An Ingress without its last-applied copy; uid and status kept aside.
pub fn ingress(mut object: net::Ingress) -> Object {
    object.metadata.managed_fields = None;
    if let Some(annotations) = object.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
    match Ingress::try_from(&object) {
        Ok(model) => {
            let addresses = object
                .status
                .and_then(|s| s.load_balancer)
                .and_then(|lb| lb.ingress)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|entry| entry.ip.or(entry.hostname))
                .collect();
            let meta = IngressMeta {
                uid: object.metadata.uid,
                addresses,
            };
            Object::Ingress(Box::new(model), meta)
        }
        Err(error) => invalid(&error),
    }
}

fn ingress_class(object: net::IngressClass) -> Object {
    IngressClass::try_from(&object).map_or_else(|e| invalid(&e), Object::IngressClass)
}

fn service(object: core::Service) -> Object {
    Service::try_from(&object).map_or_else(|e| invalid(&e), Object::Service)
}

fn endpoint_slice(object: discovery::EndpointSlice) -> Object {
    EndpointSlice::try_from(&object).map_or_else(|e| invalid(&e), Object::EndpointSlice)
}

fn secret(object: core::Secret) -> Object {
    Secret::try_from(&object).map_or_else(|e| invalid(&e), Object::Secret)
}

fn config_map(object: core::ConfigMap) -> Object {
    ConfigMap::try_from(&object).map_or_else(|e| invalid(&e), Object::ConfigMap)
}
