//! How the source is configured: which namespace it watches and the model options, which
//! also name the controller ConfigMap, the default certificate and the annotation prefix.

use sluice_ingress_model::BuildOptions;

/// What to watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceConfig {
    /// `--watch-namespace`: watch Ingresses, Services, EndpointSlices and Secrets only here
    /// (`None`: every namespace). IngressClasses are cluster-scoped and always watched.
    pub watch_namespace: Option<String>,
    /// The model options: classes, annotation prefix, `--configmap`, `--default-ssl-certificate`.
    pub options: BuildOptions,
}

impl SourceConfig {
    /// Whether objects in `namespace` are seen by the namespace-wide watches.
    pub fn watches_namespace(&self, namespace: &str) -> bool {
        self.watch_namespace
            .as_deref()
            .is_none_or(|watched| watched == namespace)
    }
}
