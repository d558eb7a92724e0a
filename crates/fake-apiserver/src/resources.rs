//! The resource types the fake serves and how request paths name them.

/// One API resource type.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// API group; empty for core.
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Plural name in paths.
    pub plural: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether it has a `status` subresource (then PUT/PATCH of the object keep the status,
    /// and the status subresource changes only the status).
    pub status: bool,
    /// Field selector labels supported besides `metadata.name` and `metadata.namespace`.
    pub fields: &'static [&'static str],
}

impl ResourceType {
    /// `group/version`, or `version` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group`, or `plural` for core, as Status messages name resources.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

const fn rt(
    group: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    status: bool,
    fields: &'static [&'static str],
) -> ResourceType {
    ResourceType {
        group,
        version: "v1",
        plural,
        kind,
        namespaced,
        status,
        fields,
    }
}

/// Every resource type served.
pub static RESOURCES: &[ResourceType] = &[
    rt(
        "",
        "namespaces",
        "Namespace",
        false,
        true,
        &["status.phase"],
    ),
    rt("", "services", "Service", true, true, &[]),
    rt("", "secrets", "Secret", true, false, &["type"]),
    rt("", "configmaps", "ConfigMap", true, false, &[]),
    rt("", "endpoints", "Endpoints", true, false, &[]),
    rt(
        "",
        "events",
        "Event",
        true,
        false,
        &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
    ),
    rt("networking.k8s.io", "ingresses", "Ingress", true, true, &[]),
    rt(
        "networking.k8s.io",
        "ingressclasses",
        "IngressClass",
        false,
        false,
        &[],
    ),
    rt(
        "discovery.k8s.io",
        "endpointslices",
        "EndpointSlice",
        true,
        false,
        &[],
    ),
    rt("coordination.k8s.io", "leases", "Lease", true, false, &[]),
];

/// The resource type of an object's `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind && r.api_version() == api_version)
}

/// A request path, parsed.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    /// The resource type.
    pub resource: &'static ResourceType,
    /// The namespace named in the path, if any.
    pub namespace: Option<String>,
    /// The object name, for item requests.
    pub name: Option<String>,
    /// The subresource (`status`), if any.
    pub subresource: Option<String>,
}

/// Parses `/api/v1/...` and `/apis/GROUP/VERSION/...`.
pub fn parse_path(path: &str) -> Option<Target> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, more @ ..] => (Some((*ns).to_owned()), {
            let mut v = vec![*plural];
            v.extend_from_slice(more);
            v
        }),
        other => (None, other.to_vec()),
    };
    let (plural, name, subresource) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some((*name).to_owned()), None),
        [plural, name, sub] => (*plural, Some((*name).to_owned()), Some((*sub).to_owned())),
        _ => return None,
    };
    let resource = RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)?;
    if namespace.is_some() && !resource.namespaced {
        return None;
    }
    Some(Target {
        resource,
        namespace,
        name,
        subresource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_core_group_namespaced_and_cluster_paths() {
        let t = parse_path("/api/v1/namespaces/a/secrets").unwrap();
        assert_eq!(t.resource.kind, "Secret");
        assert_eq!(t.namespace.as_deref(), Some("a"));
        assert_eq!(t.name, None);
        let t = parse_path("/apis/networking.k8s.io/v1/namespaces/a/ingresses/web/status").unwrap();
        assert_eq!(t.resource.kind, "Ingress");
        assert_eq!(t.name.as_deref(), Some("web"));
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = parse_path("/apis/networking.k8s.io/v1/ingressclasses/x").unwrap();
        assert_eq!(t.resource.kind, "IngressClass");
        let t = parse_path("/api/v1/namespaces/kube-system").unwrap();
        assert_eq!(t.resource.kind, "Namespace");
        assert_eq!(t.name.as_deref(), Some("kube-system"));
        assert!(parse_path("/apis/networking.k8s.io/v1/namespaces/a/ingressclasses").is_none());
        assert!(parse_path("/apis/example.com/v1/widgets").is_none());
        assert_eq!(
            by_kind("discovery.k8s.io/v1", "EndpointSlice").map(|r| r.plural),
            Some("endpointslices")
        );
    }
}
