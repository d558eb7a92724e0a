//! core/v1 `Service`, `Secret` and `ConfigMap` into the model.

use k8s_openapi::api::core::v1 as api;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{ConversionError, Ctx, FieldPath, namespaced_key};
use crate::key::Kind;
use crate::objects::{ConfigMap, PortRef, Secret, Service, ServicePort};

/// The Secret type Kubernetes assumes when `type` is absent.
const DEFAULT_SECRET_TYPE: &str = "Opaque";

impl TryFrom<&api::Service> for Service {
    type Error = ConversionError;

    fn try_from(object: &api::Service) -> Result<Self, ConversionError> {
        let key = namespaced_key(&object.metadata, Kind::Service)?;
        let cx = Ctx::new(Kind::Service, key.clone());
        let root = FieldPath::Root;
        let spec_field = root.key("spec");
        let ports_field = spec_field.key("ports");
        let mut service = Service {
            key,
            ..Service::default()
        };
        if let Some(spec) = &object.spec {
            service.service_type = spec.type_.clone();
            service.cluster_ip = spec.cluster_ip.clone();
            service.external_name = spec.external_name.clone();
            for (i, port) in spec.ports.iter().flatten().enumerate() {
                let port_field = ports_field.index(i);
                let number = cx.port(&port_field.key("port"), port.port)?;
                let target_port = match &port.target_port {
                    None => None,
                    Some(IntOrString::Int(target)) => Some(PortRef::Number(
                        cx.port(&port_field.key("targetPort"), *target)?,
                    )),
                    Some(IntOrString::String(name)) if name.is_empty() => None,
                    Some(IntOrString::String(name)) => Some(PortRef::Name(name.clone())),
                };
                service.ports.push(ServicePort {
                    name: port.name.clone().filter(|n| !n.is_empty()),
                    port: number,
                    target_port,
                    protocol: port.protocol.clone(),
                    app_protocol: port.app_protocol.clone(),
                });
            }
        }
        let balancers = object
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref());
        for entry in balancers
            .and_then(|lb| lb.ingress.as_ref())
            .into_iter()
            .flatten()
        {
            if let Some(address) = entry.ip.as_ref().or(entry.hostname.as_ref()) {
                service.load_balancer.push(address.clone());
            }
        }
        Ok(service)
    }
}

impl TryFrom<&api::Secret> for Secret {
    type Error = ConversionError;

    /// `data` (already base64-decoded by `k8s-openapi`) merged with `stringData`, whose values
    /// win as they do when the API server writes the Secret.
    fn try_from(object: &api::Secret) -> Result<Self, ConversionError> {
        let key = namespaced_key(&object.metadata, Kind::Secret)?;
        let mut data: std::collections::BTreeMap<String, Vec<u8>> = object
            .data
            .iter()
            .flatten()
            .map(|(name, bytes)| (name.clone(), bytes.0.clone()))
            .collect();
        for (name, text) in object.string_data.iter().flatten() {
            data.insert(name.clone(), text.as_bytes().to_vec());
        }
        let secret_type = object
            .type_
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| DEFAULT_SECRET_TYPE.to_owned());
        Ok(Secret {
            key,
            secret_type,
            data,
        })
    }
}

impl TryFrom<&api::ConfigMap> for ConfigMap {
    type Error = ConversionError;

    /// `data` only; `binaryData` is not read by sluice.
    fn try_from(object: &api::ConfigMap) -> Result<Self, ConversionError> {
        let key = namespaced_key(&object.metadata, Kind::ConfigMap)?;
        Ok(ConfigMap {
            key,
            data: object.data.clone().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::k8s::ConversionProblem;
    use crate::key::ObjectKey;

    fn service(value: serde_json::Value) -> Result<Service, ConversionError> {
        let object: api::Service = serde_json::from_value(value).unwrap();
        Service::try_from(&object)
    }

    #[test]
    fn converts_a_service() {
        let converted = service(json!({
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {
                "type": "LoadBalancer",
                "clusterIP": "10.0.0.1",
                "ports": [
                    {"name": "http", "port": 80, "targetPort": 8080, "appProtocol": "http"},
                    {"name": "grpc", "port": 9000, "targetPort": "grpc", "protocol": "TCP"},
                    {"port": 81}
                ]
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb.example"}, {}]}}
        }))
        .unwrap();
        assert_eq!(converted.key, ObjectKey::new("shop", "api"));
        assert_eq!(converted.service_type.as_deref(), Some("LoadBalancer"));
        assert_eq!(converted.cluster_ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(
            converted.ports,
            vec![
                ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    target_port: Some(PortRef::Number(8080)),
                    protocol: None,
                    app_protocol: Some("http".into()),
                },
                ServicePort {
                    name: Some("grpc".into()),
                    port: 9000,
                    target_port: Some(PortRef::Name("grpc".into())),
                    protocol: Some("TCP".into()),
                    app_protocol: None,
                },
                ServicePort {
                    name: None,
                    port: 81,
                    ..ServicePort::default()
                },
            ]
        );
        assert_eq!(
            converted.load_balancer,
            vec!["1.2.3.4".to_owned(), "lb.example".to_owned()]
        );
    }

    #[test]
    fn external_name_service_without_ports() {
        let converted = service(json!({
            "metadata": {"name": "ext"},
            "spec": {"type": "ExternalName", "externalName": "db.example"}
        }))
        .unwrap();
        assert_eq!(converted.key, ObjectKey::new("default", "ext"));
        assert_eq!(converted.external_name.as_deref(), Some("db.example"));
        assert!(converted.ports.is_empty());
    }

    #[test]
    fn service_port_errors_name_the_field() {
        let error = service(json!({
            "metadata": {"name": "api"},
            "spec": {"ports": [{"port": 80}, {"port": 100000}]}
        }))
        .unwrap_err();
        assert_eq!(error.field, "spec.ports[1].port");
        assert_eq!(error.problem, ConversionProblem::PortOutOfRange(100_000));
        let error =
            service(json!({"metadata": {"name": "api"}, "spec": {"ports": [{"name": "x"}]}}))
                .unwrap_err();
        assert_eq!(error.field, "spec.ports[0].port");
        let error = service(json!({
            "metadata": {"name": "api"},
            "spec": {"ports": [{"port": 80, "targetPort": 0}]}
        }))
        .unwrap_err();
        assert_eq!(error.field, "spec.ports[0].targetPort");
    }

    #[test]
    fn merges_secret_data_and_string_data() {
        let object: api::Secret = serde_json::from_value(json!({
            "metadata": {"name": "tls", "namespace": "shop"},
            "type": "kubernetes.io/tls",
            "data": {"tls.crt": "Y2VydA==", "tls.key": "b2xk"},
            "stringData": {"tls.key": "new", "extra": "x"}
        }))
        .unwrap();
        let secret = Secret::try_from(&object).unwrap();
        assert_eq!(secret.key, ObjectKey::new("shop", "tls"));
        assert_eq!(secret.secret_type, "kubernetes.io/tls");
        assert_eq!(secret.data["tls.crt"], b"cert");
        assert_eq!(secret.data["tls.key"], b"new");
        assert_eq!(secret.data["extra"], b"x");
        assert!(
            !format!("{secret:?}").contains("cert\""),
            "Debug must not print secret bytes"
        );

        let object: api::Secret =
            serde_json::from_value(json!({"metadata": {"name": "o"}})).unwrap();
        let secret = Secret::try_from(&object).unwrap();
        assert_eq!(secret.secret_type, "Opaque");
        assert!(secret.data.is_empty());
        let object: api::Secret = serde_json::from_value(json!({"type": "Opaque"})).unwrap();
        assert_eq!(
            Secret::try_from(&object).unwrap_err().field,
            "metadata.name"
        );
    }

    #[test]
    fn converts_config_maps() {
        let object: api::ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "cfg", "namespace": "ingress"},
            "data": {"proxy-body-size": "8m"},
            "binaryData": {"blob": "AAE="}
        }))
        .unwrap();
        let config = ConfigMap::try_from(&object).unwrap();
        assert_eq!(config.key, ObjectKey::new("ingress", "cfg"));
        assert_eq!(config.data.len(), 1);
        assert_eq!(config.data["proxy-body-size"], "8m");
        let object: api::ConfigMap = serde_json::from_value(json!({"data": {}})).unwrap();
        assert_eq!(
            ConfigMap::try_from(&object).unwrap_err().field,
            "metadata.name"
        );
    }
}
