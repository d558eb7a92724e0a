//! Kubernetes YAML for tests: Services with EndpointSlices pointing at in-process backends,
//! TLS Secrets, IngressClasses and simple Ingresses. Everything lands in namespace `default`
//! unless a function takes a namespace.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::certs::Issued;

/// A Service `name` with one port (`port`, named `port_name` when given) and EndpointSlices for
/// `endpoints`, one slice per distinct target port.
pub fn service(name: &str, port: u16, port_name: Option<&str>, endpoints: &[SocketAddr]) -> String {
    service_in("default", name, port, port_name, endpoints)
}

/// [`service`] in `namespace`.
pub fn service_in(
    namespace: &str,
    name: &str,
    port: u16,
    port_name: Option<&str>,
    endpoints: &[SocketAddr],
) -> String {
    let mut out = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\n\
         spec:\n  ports:\n  - port: {port}\n    protocol: TCP\n"
    );
    if let Some(port_name) = port_name {
        let _ = writeln!(out, "    name: {port_name}");
    }
    out.push_str(&endpoint_slices(namespace, name, port_name, endpoints));
    out
}

/// EndpointSlices of Service `service` for `endpoints` (one slice per target port, named
/// `{service}-{port}`), each document preceded by `---`.
pub fn endpoint_slices(
    namespace: &str,
    service: &str,
    port_name: Option<&str>,
    endpoints: &[SocketAddr],
) -> String {
    let mut by_port: BTreeMap<u16, Vec<String>> = BTreeMap::new();
    for addr in endpoints {
        by_port
            .entry(addr.port())
            .or_default()
            .push(addr.ip().to_string());
    }
    let mut out = String::new();
    for (port, addresses) in by_port {
        let _ = write!(
            out,
            "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  \
             name: {service}-{port}\n  namespace: {namespace}\n  labels:\n    \
             kubernetes.io/service-name: {service}\naddressType: IPv4\nports:\n- port: {port}\n  \
             protocol: TCP\n"
        );
        if let Some(port_name) = port_name {
            let _ = writeln!(out, "  name: {port_name}");
        }
        out.push_str("endpoints:\n");
        for address in addresses {
            let _ = writeln!(
                out,
                "- addresses: [\"{address}\"]\n  conditions:\n    ready: true"
            );
        }
    }
    out
}

/// A `kubernetes.io/tls` Secret in `default` holding `cert` (base64 `data`, as kubectl writes).
pub fn tls_secret(name: &str, cert: &Issued) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: default\n\
         type: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n",
        STANDARD.encode(&cert.cert_pem),
        STANDARD.encode(&cert.key_pem)
    )
}

/// An IngressClass `name` for `controller`, optionally the cluster default.
pub fn ingress_class(name: &str, controller: &str, default: bool) -> String {
    let annotations = if default {
        "  annotations:\n    ingressclass.kubernetes.io/is-default-class: \"true\"\n"
    } else {
        ""
    };
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: {name}\n\
         {annotations}spec:\n  controller: {controller}\n"
    )
}

/// An Ingress `name` of class `sluice` with one rule: `host` (any when `None`) and Prefix
/// `paths` → Services (port 80).
pub fn ingress(name: &str, host: Option<&str>, paths: &[(&str, &str)]) -> String {
    let mut out = format!(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  \
         namespace: default\nspec:\n  ingressClassName: sluice\n  rules:\n"
    );
    match host {
        Some(host) => {
            let _ = writeln!(out, "  - host: \"{host}\"\n    http:");
        }
        None => out.push_str("  - http:\n"),
    }
    out.push_str("      paths:\n");
    for (path, service) in paths {
        let _ = write!(
            out,
            "      - path: {path}\n        pathType: Prefix\n        backend:\n          \
             service:\n            name: {service}\n            port:\n              number: 80\n"
        );
    }
    out
}

/// Joins documents into one multi-document stream.
pub fn documents(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim_start_matches("---\n").trim_end())
        .collect::<Vec<_>>()
        .join("\n---\n")
        + "\n"
}
