//! discovery/v1 `EndpointSlice`, and core/v1 `Endpoints` (one slice per subset), into the model.

use k8s_openapi::api::core::v1 as api;
use k8s_openapi::api::discovery::v1 as discovery;

use super::{ConversionError, ConversionProblem, Ctx, FieldPath, namespaced_key};
use crate::key::{Kind, ObjectKey};
use crate::objects::{Endpoint, EndpointPort, EndpointSlice};

/// The label that names an EndpointSlice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

impl TryFrom<&discovery::EndpointSlice> for EndpointSlice {
    type Error = ConversionError;

    fn try_from(object: &discovery::EndpointSlice) -> Result<Self, ConversionError> {
        let key = namespaced_key(&object.metadata, Kind::EndpointSlice)?;
        let cx = Ctx::new(Kind::EndpointSlice, key.clone());
        let root = FieldPath::Root;
        let address_type = cx
            .required(&root.key("addressType"), Some(&object.address_type))?
            .to_owned();
        let service_name = object
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(SERVICE_NAME_LABEL))
            .filter(|name| !name.is_empty())
            .cloned();
        let ports_field = root.key("ports");
        let mut ports = Vec::new();
        for (i, port) in object.ports.iter().flatten().enumerate() {
            let port_field = ports_field.index(i);
            let number = match port.port {
                Some(number) => Some(cx.port(&port_field.key("port"), number)?),
                None => None,
            };
            ports.push(EndpointPort {
                name: port.name.clone(),
                port: number,
                protocol: port.protocol.clone(),
            });
        }
        let endpoints_field = root.key("endpoints");
        let mut endpoints = Vec::new();
        for (i, endpoint) in object.endpoints.iter().enumerate() {
            if endpoint.addresses.is_empty() {
                let field = endpoints_field.index(i);
                return Err(cx.error(&field.key("addresses"), ConversionProblem::Missing));
            }
            endpoints.push(Endpoint {
                addresses: endpoint.addresses.clone(),
                ready: endpoint.conditions.as_ref().and_then(|c| c.ready),
            });
        }
        Ok(EndpointSlice {
            key,
            service_name,
            address_type,
            ports,
            endpoints,
        })
    }
}

/// Converts core/v1 `Endpoints` into one slice per subset, named `<name>-subset-<i>`, whose
/// service is the Endpoints' name. `addresses` become ready endpoints and `notReadyAddresses`
/// not-ready ones; the address type is `IPv6` when an address is IPv6, else `IPv4`.
pub fn endpoint_slices_from_endpoints(
    object: &api::Endpoints,
) -> Result<Vec<EndpointSlice>, ConversionError> {
    let key = namespaced_key(&object.metadata, Kind::EndpointSlice)?;
    let cx = Ctx::new(Kind::EndpointSlice, key.clone());
    let root = FieldPath::Root;
    let subsets_field = root.key("subsets");
    let mut slices = Vec::new();
    for (i, subset) in object.subsets.iter().flatten().enumerate() {
        let subset_field = subsets_field.index(i);
        let mut endpoints = Vec::new();
        for (field_name, list, ready) in [
            ("addresses", &subset.addresses, true),
            ("notReadyAddresses", &subset.not_ready_addresses, false),
        ] {
            let list_field = subset_field.key(field_name);
            for (j, address) in list.iter().flatten().enumerate() {
                let entry = list_field.index(j);
                let ip = cx.required(&entry.key("ip"), Some(&address.ip))?;
                endpoints.push(Endpoint {
                    addresses: vec![ip.to_owned()],
                    ready: Some(ready),
                });
            }
        }
        let ports_field = subset_field.key("ports");
        let mut ports = Vec::new();
        for (j, port) in subset.ports.iter().flatten().enumerate() {
            let number = cx.port(&ports_field.index(j).key("port"), port.port)?;
            ports.push(EndpointPort {
                name: port.name.clone(),
                port: Some(number),
                protocol: port.protocol.clone(),
            });
        }
        let ipv6 = endpoints
            .iter()
            .flat_map(|e| &e.addresses)
            .any(|a| a.contains(':'));
        slices.push(EndpointSlice {
            key: ObjectKey::new(key.namespace.clone(), format!("{}-subset-{i}", key.name)),
            service_name: Some(key.name.clone()),
            address_type: if ipv6 { "IPv6" } else { "IPv4" }.to_owned(),
            ports,
            endpoints,
        });
    }
    Ok(slices)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn converts_an_endpoint_slice() {
        let object: discovery::EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": "api-abc", "namespace": "shop",
                         "labels": {SERVICE_NAME_LABEL: "api"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "none"}],
            "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": true}},
                {"addresses": ["10.0.0.2"], "conditions": {"ready": false}},
                {"addresses": ["10.0.0.3"]}
            ]
        }))
        .unwrap();
        let slice = EndpointSlice::try_from(&object).unwrap();
        assert_eq!(slice.key, ObjectKey::new("shop", "api-abc"));
        assert_eq!(slice.service_name.as_deref(), Some("api"));
        assert_eq!(slice.address_type, "IPv4");
        assert_eq!(
            slice.ports,
            vec![
                EndpointPort {
                    name: Some("http".into()),
                    port: Some(8080),
                    protocol: Some("TCP".into())
                },
                EndpointPort {
                    name: Some("none".into()),
                    port: None,
                    protocol: None
                },
            ]
        );
        let ready: Vec<_> = slice.endpoints.iter().map(|e| e.ready).collect();
        assert_eq!(ready, vec![Some(true), Some(false), None]);
    }

    #[test]
    fn endpoint_slice_errors_name_the_field() {
        let slice = |value| {
            let object: discovery::EndpointSlice = serde_json::from_value(value).unwrap();
            EndpointSlice::try_from(&object)
        };
        let error = slice(json!({"metadata": {"name": "s"}, "endpoints": []})).unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.problem),
            ("addressType", ConversionProblem::Missing)
        );
        let error = slice(json!({
            "metadata": {"name": "s"}, "addressType": "IPv4", "endpoints": [],
            "ports": [{"port": 1}, {"port": 99999}]
        }))
        .unwrap_err();
        assert_eq!(error.field, "ports[1].port");
        let error = slice(json!({
            "metadata": {"name": "s"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": []}]
        }))
        .unwrap_err();
        assert_eq!(error.field, "endpoints[1].addresses");
        let unlabelled =
            slice(json!({"metadata": {"name": "s"}, "addressType": "FQDN", "endpoints": []}))
                .unwrap();
        assert_eq!(unlabelled.service_name, None);
        assert_eq!(unlabelled.key.namespace, "default");
    }

    #[test]
    fn converts_endpoints_subsets_into_slices() {
        let object: api::Endpoints = serde_json::from_value(json!({
            "metadata": {"name": "api", "namespace": "shop"},
            "subsets": [
                {
                    "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                    "notReadyAddresses": [{"ip": "10.0.0.3"}],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
                },
                {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 9090}]}
            ]
        }))
        .unwrap();
        let slices = endpoint_slices_from_endpoints(&object).unwrap();
        assert_eq!(slices.len(), 2);
        assert_eq!(slices[0].key, ObjectKey::new("shop", "api-subset-0"));
        assert_eq!(slices[1].key, ObjectKey::new("shop", "api-subset-1"));
        assert!(
            slices
                .iter()
                .all(|s| s.service_name.as_deref() == Some("api"))
        );
        assert_eq!(slices[0].address_type, "IPv4");
        assert_eq!(slices[1].address_type, "IPv6");
        let endpoints: Vec<_> = slices[0]
            .endpoints
            .iter()
            .map(|e| (e.addresses[0].as_str(), e.ready))
            .collect();
        assert_eq!(
            endpoints,
            vec![
                ("10.0.0.1", Some(true)),
                ("10.0.0.2", Some(true)),
                ("10.0.0.3", Some(false))
            ]
        );
        assert_eq!(slices[0].ports[0].port, Some(8080));
        assert_eq!(slices[1].ports[0].name, None);

        let empty: api::Endpoints =
            serde_json::from_value(json!({"metadata": {"name": "none"}})).unwrap();
        assert_eq!(endpoint_slices_from_endpoints(&empty).unwrap(), vec![]);
    }

    #[test]
    fn endpoints_errors_name_the_field() {
        let convert = |value| {
            let object: api::Endpoints = serde_json::from_value(value).unwrap();
            endpoint_slices_from_endpoints(&object)
        };
        let error = convert(json!({
            "metadata": {"name": "api"},
            "subsets": [{"notReadyAddresses": [{"ip": "10.0.0.1"}, {}], "ports": []}]
        }))
        .unwrap_err();
        assert_eq!(error.field, "subsets[0].notReadyAddresses[1].ip");
        let error = convert(json!({
            "metadata": {"name": "api"},
            "subsets": [{}, {"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 0}]}]
        }))
        .unwrap_err();
        assert_eq!(error.field, "subsets[1].ports[0].port");
        assert_eq!(error.problem, ConversionProblem::PortOutOfRange(0));
        assert_eq!(
            convert(json!({"subsets": []})).unwrap_err().field,
            "metadata.name"
        );
    }
}
