//! `Snapshot`, everything a source has seen, and `BuildOptions`, how the controller is configured.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::key::ObjectKey;
use crate::objects::{ConfigMap, EndpointSlice, Ingress, IngressClass, PortRef, Secret, Service};

/// Every object a source has seen, keyed by `(namespace, name)`. Plain data: equal snapshots
/// build equal tables whatever order the objects arrived in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// Ingresses. Shared: sources, the snapshot and [`crate::Incremental`] hold one copy, and
    /// an unchanged Ingress compares equal by pointer.
    pub ingresses: BTreeMap<ObjectKey, Arc<Ingress>>,
    /// IngressClasses by name.
    pub ingress_classes: BTreeMap<String, IngressClass>,
    /// Services.
    pub services: BTreeMap<ObjectKey, Service>,
    /// EndpointSlices.
    pub endpoint_slices: BTreeMap<ObjectKey, EndpointSlice>,
    /// Secrets (TLS, and those Ingresses reference for auth).
    pub secrets: BTreeMap<ObjectKey, Secret>,
    /// ConfigMaps (the controller's, and those annotations reference).
    pub config_maps: BTreeMap<ObjectKey, ConfigMap>,
}

impl Snapshot {
    /// Adds or replaces an Ingress.
    pub fn insert_ingress(&mut self, ingress: impl Into<Arc<Ingress>>) {
        let ingress = ingress.into();
        self.ingresses.insert(ingress.key.clone(), ingress);
    }

    /// Adds or replaces an IngressClass.
    pub fn insert_ingress_class(&mut self, class: IngressClass) {
        self.ingress_classes.insert(class.name.clone(), class);
    }

    /// Adds or replaces a Service.
    pub fn insert_service(&mut self, service: Service) {
        self.services.insert(service.key.clone(), service);
    }

    /// Adds or replaces an EndpointSlice.
    pub fn insert_endpoint_slice(&mut self, slice: EndpointSlice) {
        self.endpoint_slices.insert(slice.key.clone(), slice);
    }

    /// Adds or replaces a Secret.
    pub fn insert_secret(&mut self, secret: Secret) {
        self.secrets.insert(secret.key.clone(), secret);
    }

    /// Adds or replaces a ConfigMap.
    pub fn insert_config_map(&mut self, config_map: ConfigMap) {
        self.config_maps.insert(config_map.key.clone(), config_map);
    }

    /// Folds another snapshot in; its objects replace same-keyed ones here.
    pub fn merge(&mut self, other: Snapshot) {
        self.ingresses.extend(other.ingresses);
        self.ingress_classes.extend(other.ingress_classes);
        self.services.extend(other.services);
        self.endpoint_slices.extend(other.endpoint_slices);
        self.secrets.extend(other.secrets);
        self.config_maps.extend(other.config_maps);
    }
}

/// A Service port to send traffic to, named outside any Ingress (e.g. `--default-backend-service`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceRef {
    /// The Service.
    pub service: ObjectKey,
    /// The port; `None` means the Service's first port.
    pub port: Option<PortRef>,
}

/// What the snippet annotations (`*-snippet`) do to an Ingress that carries them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum SnippetPolicy {
    /// Reject the whole Ingress (ingress-nginx >= 1.12 behaviour).
    #[default]
    Reject,
    /// Serve the Ingress without the snippet, with a warning.
    Ignore,
}

/// How the controller is configured: which Ingresses are ours and what the defaults are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BuildOptions {
    /// `--ingress-class`: the class name accepted in the legacy annotation (and by name).
    pub ingress_class: String,
    /// `--controller-class`: IngressClasses whose `spec.controller` equals this are ours.
    pub controller_class: String,
    /// `--watch-ingress-without-class`.
    pub watch_ingress_without_class: bool,
    /// `--ingress-class-by-name`: an IngressClass named `ingress_class` is ours whatever its
    /// controller.
    pub ingress_class_by_name: bool,
    /// Accept `spec.ingressClassName == ingress_class` even when no such IngressClass object
    /// exists (gateway mode, where manifests often omit the IngressClass).
    pub class_name_without_object: bool,
    /// `--annotations-prefix`.
    pub annotation_prefix: String,
    /// `--default-backend-service`.
    pub default_backend: Option<ServiceRef>,
    /// `--default-ssl-certificate`.
    pub default_certificate: Option<ObjectKey>,
    /// `--configmap`: the controller ConfigMap, read from the snapshot.
    pub controller_config: Option<ObjectKey>,
    /// What to do with `*-snippet` annotations.
    pub snippet_policy: SnippetPolicy,
    /// Unix seconds used for certificate expiry diagnostics; `None` skips them. The model never
    /// reads a clock itself.
    pub now: Option<i64>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            ingress_class: "sluice".to_owned(),
            controller_class: DEFAULT_CONTROLLER_CLASS.to_owned(),
            watch_ingress_without_class: false,
            ingress_class_by_name: false,
            class_name_without_object: false,
            annotation_prefix: DEFAULT_ANNOTATION_PREFIX.to_owned(),
            default_backend: None,
            default_certificate: None,
            controller_config: None,
            snippet_policy: SnippetPolicy::Reject,
            now: None,
        }
    }
}

/// The default `--controller-class`.
pub const DEFAULT_CONTROLLER_CLASS: &str = "sluice.dev/ingress-controller";

/// The default `--annotations-prefix`.
pub const DEFAULT_ANNOTATION_PREFIX: &str = "nginx.ingress.kubernetes.io";
